"""tl.optim against torch.optim: trajectories, state, state_dict, zero_grad and errors.

Every trajectory test starts both frameworks from the same parameters and feeds them the same
gradients (fixed random ones, or those of the same loss computed by each framework), then
compares the parameters after 10 steps: float64 to rounding (rtol 1e-10), float32 with torch's
assert_close tolerances.
"""

import numpy as np
import pytest
import torch

import tinygrad_lite as tl
from tinygrad_lite import optim
from tinygrad_lite.device import CPUDevice, Device
from tinygrad_lite.testing import assert_close

SHAPES = [(6, 5), (5,), (3, 6), ()]

CONFIGS = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.4}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True}),
    ("SGD", {"lr": 0.1, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.05, "nesterov": True,
             "maximize": True}),
    ("SGD", {"lr": 0.1, "maximize": True}),
    ("Adam", {}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.02, "weight_decay": 0.1, "amsgrad": True, "maximize": True}),
    ("Adam", {"lr": 0.01, "betas": (0.3, 0.6), "eps": 1e-3}),  # lerp's large-weight branch
    ("AdamW", {}),
    ("AdamW", {"lr": 0.01, "amsgrad": True}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1, "maximize": True}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0}),
    ("RMSprop", {}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9}),
    ("RMSprop", {"lr": 0.01, "centered": True}),
    ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.3, "centered": True, "maximize": True}),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'default'}"
       for name, kw in CONFIGS]


def make_params(dtype, seed=0, shapes=SHAPES):
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s).astype(dtype) for s in shapes]
    ours = [tl.Tensor(a.copy(), requires_grad=True) for a in init]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    return ours, theirs


def random_grads(rng, shapes, dtype, step):
    """Fixed random gradients; parameter 1 gets none on every third step (skipped)."""
    grads = [rng.standard_normal(s).astype(dtype) for s in shapes]
    if step % 3 == 2:
        grads[1] = None
    return grads


def set_grads(ours, theirs, grads):
    for p, t, g in zip(ours, theirs, grads):
        p.grad = None if g is None else tl.Tensor(g.copy())
        t.grad = None if g is None else torch.tensor(g.copy())


def run_both(opt, opt_t, ours, theirs, steps, dtype, seed=1):
    rng = np.random.default_rng(seed)
    for step in range(steps):
        set_grads(ours, theirs, random_grads(rng, [tuple(p.shape) for p in ours], dtype, step))
        opt.step()
        opt_t.step()


def assert_params_close(ours, theirs, dtype):
    for p, t in zip(ours, theirs):
        assert p.dtype.name == np.dtype(dtype).name
        if dtype == np.float64:
            np.testing.assert_allclose(p.detach().numpy(), t.detach().numpy(), rtol=1e-10,
                                       atol=1e-14)
        else:
            assert_close(p, t)


@pytest.fixture(params=["kernel", "reference"])
def update_path(request, monkeypatch):
    """'kernel': CPUDevice's fused Numba updates; 'reference': the array-generic base-class
    versions (what CuPy runs), swapped in on the CPU device."""
    if request.param == "reference":
        for name in ("adam_step", "sgd_step", "rmsprop_step"):
            monkeypatch.setattr(CPUDevice, name, getattr(Device, name))
    return request.param


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=IDS)
def test_trajectory_matches_torch(name, kwargs, dtype, update_path):
    ours, theirs = make_params(dtype)
    opt = getattr(optim, name)(ours, **kwargs)
    opt_t = getattr(torch.optim, name)(theirs, **kwargs)
    run_both(opt, opt_t, ours, theirs, 10, dtype)
    assert_params_close(ours, theirs, dtype)
    for p, t in zip(ours, theirs):  # the state (moments, buffers, step) matches too
        for key, value in opt_t.state[t].items():
            ours_value = opt.state[p][key]
            assert ours_value.dtype.name == ("float32" if key == "step" else p.dtype.name)
            if dtype == np.float64:
                np.testing.assert_allclose(ours_value.numpy(), value.numpy(), rtol=1e-10,
                                           atol=1e-14)
            else:
                assert_close(ours_value, value)


@pytest.mark.parametrize("name,kwargs,group_kwargs", [
    ("SGD", {"lr": 0.1, "momentum": 0.9}, [{"lr": 0.01}, {"momentum": 0.5, "nesterov": True}]),
    ("Adam", {"lr": 0.01}, [{"lr": 0.1, "amsgrad": True}, {"betas": (0.5, 0.9)}]),
    ("AdamW", {"lr": 0.01}, [{"weight_decay": 0.5}, {"lr": 0.001}]),
    ("RMSprop", {"lr": 0.01}, [{"centered": True}, {"lr": 0.003, "momentum": 0.3}]),
])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_param_groups_with_different_options(name, kwargs, group_kwargs, dtype):
    ours, theirs = make_params(dtype)
    split = [[0, 3], [1, 2]]
    groups = [{"params": [ours[i] for i in idx], **kw} for idx, kw in zip(split, group_kwargs)]
    groups_t = [{"params": [theirs[i] for i in idx], **kw}
                for idx, kw in zip(split, group_kwargs)]
    opt = getattr(optim, name)(groups, **kwargs)
    opt_t = getattr(torch.optim, name)(groups_t, **kwargs)
    run_both(opt, opt_t, ours, theirs, 10, dtype)
    assert_params_close(ours, theirs, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name,kwargs", [("Adam", {"lr": 0.05}), ("SGD", {"lr": 0.01,
                                          "momentum": 0.9, "nesterov": True}),
                                         ("AdamW", {"lr": 0.05, "amsgrad": True}),
                                         ("RMSprop", {"lr": 0.01, "centered": True})])
def test_mlp_training_matches_torch(name, kwargs, dtype):
    """Gradients from the same loss in each framework: the trajectories feed back."""
    ours, theirs = make_params(dtype, seed=2, shapes=[(8, 4), (8,), (1, 8), (1,)])
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((16, 4)).astype(dtype), rng.standard_normal((16, 1)).astype(dtype)
    opt = getattr(optim, name)(ours, **kwargs)
    opt_t = getattr(torch.optim, name)(theirs, **kwargs)

    def loss_of(lib, params, xs, ys):
        w1, b1, w2, b2 = params
        hidden = (xs @ w1.T + b1).relu()
        return ((hidden @ w2.T + b2 - ys) ** 2).mean()

    xs, ys, xs_t, ys_t = tl.Tensor(x), tl.Tensor(y), torch.tensor(x), torch.tensor(y)
    for _ in range(10):
        opt.zero_grad()
        opt_t.zero_grad()
        loss_of(tl, ours, xs, ys).backward()
        loss_of(torch, theirs, xs_t, ys_t).backward()
        opt.step()
        opt_t.step()
    assert all(np.isfinite(p.detach().numpy()).all() for p in ours)
    assert_params_close(ours, theirs, dtype)


def test_non_contiguous_tensors_use_the_reference_path():
    """A Fortran-ordered parameter and gradient don't fit the flat kernel; results still
    match torch (fallback), and the parameter keeps its storage."""
    rng = np.random.default_rng(0)
    a = np.asfortranarray(rng.standard_normal((4, 3)))
    p = tl.Tensor._make(a.copy(order="F"), tl.Tensor(0.0).device).requires_grad_()
    t = torch.tensor(a, requires_grad=True)
    storage = p._data
    opt, opt_t = optim.Adam([p], lr=0.1, amsgrad=True), torch.optim.Adam([t], lr=0.1,
                                                                        amsgrad=True)
    for _ in range(3):
        g = np.asfortranarray(rng.standard_normal((4, 3)))
        p.grad = tl.Tensor._make(g, p.device)
        t.grad = torch.tensor(g)
        opt.step()
        opt_t.step()
    assert p._data is storage
    np.testing.assert_allclose(p.detach().numpy(), t.detach().numpy(), rtol=1e-10)


def test_step_is_in_place_outside_the_graph():
    ours, _ = make_params(np.float32)
    storage = [p._data for p in ours]
    versions = [p._vc[0] for p in ours]
    for p in ours:
        p.grad = tl.ones_like(p)
    optim.Adam(ours, lr=0.1).step()
    for p, data, v in zip(ours, storage, versions):
        assert p._data is data and p.is_leaf and p.requires_grad and p.grad_fn is None
        assert p._vc[0] == v + 1
        assert p.dtype == tl.float32
    # a tensor saved for backward before the step can't silently give a stale gradient
    w = tl.Tensor([1.0, 2.0], requires_grad=True)
    loss = (w * w).sum()
    w.grad = tl.ones_like(w)
    optim.SGD([w], lr=0.1).step()
    with pytest.raises(RuntimeError):
        loss.backward()


def test_step_with_closure_returns_loss_and_enables_grad():
    w, wt = tl.Tensor([1.0, -2.0], requires_grad=True), torch.tensor([1.0, -2.0],
                                                                     requires_grad=True)
    opt, opt_t = optim.SGD([w], lr=0.1), torch.optim.SGD([wt], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with tl.no_grad():
        loss = opt.step(closure)
    wt.grad = 2 * wt.detach()
    opt_t.step()
    assert loss.item() == 5.0
    assert_close(w, wt)
    assert opt.step() is None


def test_zero_grad_semantics():
    w = tl.Tensor([1.0, 2.0], requires_grad=True)
    v = tl.Tensor([3.0], requires_grad=True)  # never gets a gradient
    opt = optim.SGD([w, v], lr=0.1)
    (w * w).sum().backward()
    grad = w.grad
    opt.zero_grad(set_to_none=False)
    assert w.grad is grad and v.grad is None  # zeroed in place, same tensor
    np.testing.assert_array_equal(w.grad.numpy(), [0.0, 0.0])
    (w * 3).sum().backward()  # accumulates into the zeroed buffer
    np.testing.assert_array_equal(w.grad.numpy(), [3.0, 3.0])
    opt.zero_grad()
    assert w.grad is None
    opt.step()  # parameters without gradients are skipped
    np.testing.assert_array_equal(w.detach().numpy(), [1.0, 2.0])


def test_zero_grad_detaches_a_grad_with_history():
    w = tl.Tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward(create_graph=True)
    assert w.grad.requires_grad
    optim.SGD([w]).zero_grad(set_to_none=False)
    assert not w.grad.requires_grad and w.grad.grad_fn is None
    np.testing.assert_array_equal(w.grad.numpy(), [0.0, 0.0])


@pytest.mark.parametrize("name,kwargs", [
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}), ("SGD", {"lr": 0.1}),
    ("Adam", {"lr": 0.01, "amsgrad": True}), ("AdamW", {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5})])
def test_state_dict_round_trip(name, kwargs):
    """Save after 5 steps, load into a fresh optimiser, 5 more steps == 10 steps."""
    dtype = np.float32
    full, _ = make_params(dtype)
    half, _ = make_params(dtype)
    opt_full = getattr(optim, name)(full, **kwargs)
    opt_half = getattr(optim, name)(half, **kwargs)
    rng = np.random.default_rng(5)
    grads = [random_grads(rng, SHAPES, dtype, step) for step in range(10)]

    def run(params, opt, steps):
        for g in steps:
            for p, gi in zip(params, g):
                p.grad = None if gi is None else tl.Tensor(gi.copy())
            opt.step()

    run(full, opt_full, grads)
    run(half, opt_half, grads[:5])
    saved = opt_half.state_dict()
    fresh = [tl.Tensor(p.detach().numpy().copy(), requires_grad=True) for p in half]
    opt_fresh = getattr(optim, name)(fresh, lr=123.0)
    opt_fresh.load_state_dict(saved)
    assert opt_fresh.param_groups[0]["lr"] == kwargs["lr"]
    run(fresh, opt_fresh, grads[5:])
    for a, b in zip(fresh, full):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    # loading copies: stepping the new optimiser left the saved state alone
    for key, state in saved["state"].items():
        for k, v in state.items():
            if isinstance(v, tl.Tensor):
                assert v is not opt_fresh.state[fresh[key]][k]


@pytest.mark.parametrize("name,kwargs", [
    ("SGD", {"momentum": 0.9}), ("SGD", {}), ("Adam", {"amsgrad": True}), ("Adam", {}),
    ("AdamW", {}), ("RMSprop", {"centered": True, "momentum": 0.5}), ("RMSprop", {})])
def test_state_dict_structure_like_torch(name, kwargs):
    ours, theirs = make_params(np.float32)
    groups = [{"params": ours[:2]}, {"params": ours[2:], "lr": 0.5}]
    groups_t = [{"params": theirs[:2]}, {"params": theirs[2:], "lr": 0.5}]
    opt = getattr(optim, name)(groups, **kwargs)
    opt_t = getattr(torch.optim, name)(groups_t, **kwargs)
    run_both(opt, opt_t, ours, theirs, 2, np.float32)
    sd, sd_t = opt.state_dict(), opt_t.state_dict()
    assert list(sd) == list(sd_t) == ["state", "param_groups"]
    assert sd["param_groups"] == sd_t["param_groups"]  # same keys, order, values, indices
    assert sorted(sd["state"]) == sorted(sd_t["state"])
    for i, state_t in sd_t["state"].items():
        assert list(sd["state"][i]) == list(state_t)
        for k, v in state_t.items():
            assert isinstance(sd["state"][i][k], tl.Tensor)
            assert tuple(sd["state"][i][k].shape) == tuple(v.shape)
    assert repr(opt) == repr(opt_t)


@pytest.mark.parametrize("name,kwargs", [("Adam", {"lr": 0.01, "amsgrad": True}),
                                         ("SGD", {"lr": 0.1, "momentum": 0.9})])
def test_load_torch_state_dict(name, kwargs):
    """A state dict saved by torch.optim loads (tensors converted) and continues the run."""
    ours, theirs = make_params(np.float64)
    opt_t = getattr(torch.optim, name)(theirs, **kwargs)
    dummy = getattr(optim, name)(ours, **kwargs)
    run_both(dummy, opt_t, ours, theirs, 5, np.float64)
    opt = getattr(optim, name)(ours, **kwargs)
    opt.load_state_dict(opt_t.state_dict())
    run_both(opt, opt_t, ours, theirs, 5, np.float64, seed=7)
    assert_params_close(ours, theirs, np.float64)


def test_add_param_group_matches_torch():
    ours, theirs = make_params(np.float64)
    opt, opt_t = optim.Adam(ours[:2], lr=0.01), torch.optim.Adam(theirs[:2], lr=0.01)
    run_both(opt, opt_t, ours, theirs, 3, np.float64)
    opt.add_param_group({"params": ours[2:], "lr": 0.1})
    opt_t.add_param_group({"params": theirs[2:], "lr": 0.1})
    assert opt.param_groups[1]["betas"] == (0.9, 0.999)
    run_both(opt, opt_t, ours, theirs, 4, np.float64)
    assert_params_close(ours, theirs, np.float64)


def test_named_parameters():
    w, b = tl.Tensor([1.0], requires_grad=True), tl.Tensor([2.0], requires_grad=True)
    opt = optim.SGD([("w", w), ("b", b)], lr=0.1)
    params = opt.param_groups[0]["params"]
    assert len(params) == 2 and params[0] is w and params[1] is b
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["w", "b"]


@pytest.mark.parametrize("make,match", [
    (lambda p: optim.SGD(p, lr=-0.1), "SGD: Invalid learning rate: -0.1"),
    (lambda p: optim.Adam(p, lr=-1), "Adam: Invalid learning rate"),
    (lambda p: optim.AdamW(p, eps=-1e-8), "AdamW: Invalid epsilon value"),
    (lambda p: optim.RMSprop(p, alpha=-0.5), "RMSprop: Invalid alpha value"),
    (lambda p: optim.RMSprop(p, momentum=-0.5), "RMSprop: Invalid momentum value"),
    (lambda p: optim.Adam(p, betas=(1.0, 0.999)), "Adam: Invalid beta parameter at index 0"),
    (lambda p: optim.Adam(p, betas=(0.9, -0.1)), "Adam: Invalid beta parameter at index 1"),
    (lambda p: optim.Adam(p, betas=(0.9,)), "Adam: betas must be a pair"),
    (lambda p: optim.Adam(p, weight_decay=-1), "Adam: Invalid weight_decay value"),
    (lambda p: optim.SGD(p, momentum=-0.9), "SGD: Invalid momentum value"),
    (lambda p: optim.SGD(p, nesterov=True), "SGD: Nesterov momentum requires a momentum"),
    (lambda p: optim.SGD(p, momentum=0.9, dampening=0.1, nesterov=True), "zero dampening"),
    (lambda p: optim.SGD([p[0], p[0]]), "more than once"),
    (lambda p: optim.SGD([{"params": p}, {"params": p[:1]}]), "more than one parameter group"),
    (lambda p: optim.Adam([{"params": p, "lr": -2.0}]), "Adam: Invalid learning rate: -2.0"),
    (lambda p: optim.SGD([]), "SGD: got an empty parameter list"),
    (lambda p: optim.SGD([p[0] * 2]), "SGD: can't optimize a non-leaf Tensor"),
    (lambda p: optim.Adam(p, capturable=True), "capturable=True is not supported"),
    (lambda p: optim.SGD([{"lr": 0.1}]), "SGD: param_group has no 'params'"),
])
def test_value_errors(make, match):
    params = [tl.Tensor([1.0, 2.0], requires_grad=True), tl.Tensor([3.0], requires_grad=True)]
    with pytest.raises(ValueError, match=match):
        make(params)


@pytest.mark.parametrize("make,match", [
    (lambda p: optim.SGD(p[0]), "SGD: params should be an iterable of Tensors or dicts"),
    (lambda p: optim.Adam(set(p)), "Adam: parameters need to be given in an ordered"),
    (lambda p: optim.SGD([1.0]), "SGD: can only optimize Tensors, but parameter 0 is a float"),
    (lambda p: optim.SGD([tl.Tensor([1, 2])]), "SGD: can only optimize floating-point Tensors"),
    (lambda p: optim.Adam(p, lr="0.1"), "Adam: learning rate must be a real number"),
    (lambda p: optim.SGD(p).add_param_group(p[0]), "SGD: param_group must be a dict"),
])
def test_type_errors(make, match):
    params = [tl.Tensor([1.0, 2.0], requires_grad=True), tl.Tensor([3.0], requires_grad=True)]
    with pytest.raises(TypeError, match=match):
        make(params)


def test_load_state_dict_errors():
    params = [tl.Tensor([1.0, 2.0], requires_grad=True), tl.Tensor([3.0], requires_grad=True)]
    opt = optim.Adam(params)
    other = optim.Adam([{"params": params[:1]}, {"params": params[1:]}])
    with pytest.raises(ValueError, match="2 parameter groups, the optimizer has 1"):
        opt.load_state_dict(other.state_dict())
    with pytest.raises(ValueError, match="group 0 has 1 parameters in the loaded state dict"):
        opt.load_state_dict(optim.Adam(params[:1]).state_dict())
    with pytest.raises(ValueError, match="expected a dict with 'state' and 'param_groups'"):
        opt.load_state_dict({"state": {}})


def test_adamw_keeps_decoupled_decay_after_loading_an_adam_state():
    params = [tl.Tensor([1.0, 2.0], requires_grad=True)]
    opt = optim.AdamW(params)
    opt.load_state_dict(optim.Adam(params).state_dict())
    assert opt.param_groups[0]["decoupled_weight_decay"] is True


def test_exports():
    assert set(optim.__all__) >= {"Optimizer", "SGD", "Adam", "AdamW", "RMSprop",
                                  "lr_scheduler"}
    assert issubclass(optim.AdamW, optim.Adam) and issubclass(optim.SGD, optim.Optimizer)
    assert optim.lr_scheduler.StepLR is not None


def test_module_parameters_train_like_torch():
    """nn.Parameter (a Tensor subclass) from Module.parameters(), a generator, as in a
    training script; the main example's layer shapes, float32."""
    model = tl.nn.Sequential(tl.nn.Linear(20, 16), tl.nn.ReLU(), tl.nn.Linear(16, 4))
    model_t = torch.nn.Sequential(torch.nn.Linear(20, 16), torch.nn.ReLU(),
                                  torch.nn.Linear(16, 4))
    with torch.no_grad():
        for p, t in zip(model.parameters(), model_t.parameters()):
            t.copy_(torch.from_numpy(p.detach().numpy().copy()))
    opt = optim.Adam(model.parameters(), lr=1e-2)
    opt_t = torch.optim.Adam(model_t.parameters(), lr=1e-2)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 20)).astype(np.float32)
    y = rng.integers(0, 4, 32)
    for _ in range(10):
        opt.zero_grad()
        opt_t.zero_grad()
        tl.nn.functional.cross_entropy(model(tl.Tensor(x)), tl.Tensor(y)).backward()
        torch.nn.functional.cross_entropy(model_t(torch.from_numpy(x)),
                                          torch.from_numpy(y)).backward()
        opt.step()
        opt_t.step()
    for p, t in zip(model.parameters(), model_t.parameters()):
        assert isinstance(p, tl.nn.Parameter)
        assert_close(p, t)


def test_betas_given_as_a_list_are_kept_as_a_tuple_like_torch():
    ours = optim.Adam([tl.ones(2, requires_grad=True)], betas=[0.5, 0.6])
    theirs = torch.optim.Adam([torch.ones(2, requires_grad=True)], betas=[0.5, 0.6])
    assert ours.defaults["betas"] == theirs.defaults["betas"] == (0.5, 0.6)
    assert type(ours.param_groups[0]["betas"]) is type(theirs.param_groups[0]["betas"]) is tuple
