"""tl.nn layers against their torch twins with copied weights: outputs, input gradients and
every parameter gradient (float64 tight, float32 with torch's ``assert_close`` defaults), running
statistics of batch norm after several steps, dropout's statistics and error messages."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_lite as tl
import tinygrad_lite.nn as nn
from tinygrad_lite.testing import assert_close

from .helpers import DTYPE_IDS, DTYPES, well_conditioned


def copy_params(ours: nn.Module, ref: torch.nn.Module) -> None:
    """Copy torch's parameters and buffers into ours by name (not through load_state_dict, which
    test_module.py tests on its own)."""
    theirs = dict(ref.named_parameters()) | dict(ref.named_buffers())
    mine = dict(ours.named_parameters()) | dict(ours.named_buffers())
    assert sorted(mine) == sorted(theirs)
    for name, t in mine.items():
        t._data[...] = theirs[name].detach().numpy()
        t._vc[0] += 1


def run_both(ours, ref, x_np, dtypes, seed=0):
    """Forward both modules on the same input, backward a random upstream gradient and compare
    output, input gradient and every parameter gradient."""
    tl_dt, th_dt = dtypes
    x = tl.tensor(x_np, dtype=tl_dt, requires_grad=True)
    xt = torch.tensor(x_np, dtype=th_dt, requires_grad=True)
    out, out_t = ours(x), ref(xt)
    assert_close(out, out_t.detach())
    g_np = np.random.default_rng(seed).standard_normal(tuple(out_t.shape))
    out.backward(tl.tensor(g_np, dtype=tl_dt))
    out_t.backward(torch.tensor(g_np, dtype=th_dt))
    assert_close(x.grad, xt.grad)
    theirs = dict(ref.named_parameters())
    for name, p in ours.named_parameters():
        assert_close(p.grad, theirs[name].grad, msg=lambda m, n=name: f"grad of {n}: {m}")
    return out, out_t


def pair(tl_cls, th_cls, dtypes, *args, **kwargs):
    ours = tl_cls(*args, **kwargs, dtype=dtypes[0])
    ref = th_cls(*args, **kwargs, dtype=dtypes[1])
    copy_params(ours, ref)
    return ours, ref


# ---- Linear ------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtypes", DTYPES, ids=DTYPE_IDS)
@given(lead=st.lists(st.integers(1, 4), min_size=0, max_size=2), fin=st.integers(1, 6),
       fout=st.integers(1, 6), bias=st.booleans(), seed=st.integers(0, 2**16))
def test_linear_matches_torch(dtypes, lead, fin, fout, bias, seed):
    ours, ref = pair(nn.Linear, torch.nn.Linear, dtypes, fin, fout, bias=bias)
    x = np.random.default_rng(seed).standard_normal((*lead, fin))
    out, _ = run_both(ours, ref, x, dtypes, seed)
    assert out.shape == (*lead, fout) and out.dtype is dtypes[0]


def test_linear_no_bias_has_none_and_wrong_input_message():
    lin = nn.Linear(3, 2, bias=False)
    assert lin.bias is None and [n for n, _ in lin.named_parameters()] == ["weight"]
    with pytest.raises(ValueError, match=r"linear.*\(4, 5\).*\(2, 3\).*3"):
        lin(tl.randn(4, 5))
    with pytest.raises(TypeError, match="linear.*float64.*float32"):
        lin(tl.randn(4, 3, dtype=tl.float64))


# ---- Batch norm --------------------------------------------------------------------------------
BN_CONFIGS = [
    dict(),
    dict(affine=False),
    dict(track_running_stats=False),
    dict(momentum=None),
    dict(momentum=0.3, eps=1e-3),
    dict(bias=False),
]


@pytest.mark.parametrize("dtypes", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("config", BN_CONFIGS, ids=lambda c: ",".join(map(str, c.items())))
@pytest.mark.parametrize("kind,shape", [("1d", (5, 3)), ("1d", (4, 3, 6)), ("2d", (3, 3, 4, 5))])
def test_batchnorm_train_steps_then_eval_match_torch(dtypes, config, kind, shape):
    tl_cls, th_cls = {"1d": (nn.BatchNorm1d, torch.nn.BatchNorm1d),
                      "2d": (nn.BatchNorm2d, torch.nn.BatchNorm2d)}[kind]
    ours, ref = pair(tl_cls, th_cls, dtypes, 3, **config)
    rng = np.random.default_rng(1)
    if ours.weight is not None:  # non-trivial affine parameters
        w = rng.uniform(0.5, 1.5, 3)
        ours.weight._data[...] = w
        ref.weight.data[...] = torch.tensor(w)
    for step in range(4):
        x = rng.standard_normal(shape) * 2 + step
        run_both(ours, ref, x, dtypes, seed=step)
        for name, buf in ref.named_buffers():
            assert_close(getattr(ours, name), buf, msg=lambda m, n=name: f"{n}: {m}")
        for p in list(ours.parameters()) + list(ref.parameters()):
            p.grad = None
    ours.eval(), ref.eval()
    run_both(ours, ref, rng.standard_normal(shape), dtypes, seed=9)
    if ref.track_running_stats:
        assert int(ours.num_batches_tracked.item()) == 4
        assert ours.num_batches_tracked.dtype is tl.int64


def test_batchnorm_errors():
    bn = nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match=r"BatchNorm1d.*3.*\(4, 5\)"):
        bn(tl.randn(4, 5))
    with pytest.raises(ValueError, match=r"BatchNorm1d.*2.*3.*\(2, 3, 4, 5\)"):
        bn(tl.randn(2, 3, 4, 5))
    with pytest.raises(ValueError, match=r"more than 1 value per channel.*\(1, 3\)"):
        bn(tl.randn(1, 3))
    bn.eval()
    assert bn(tl.randn(1, 3)).shape == (1, 3)  # eval uses running stats: one sample is fine
    with pytest.raises(ValueError, match=r"BatchNorm2d.*4.*\(2, 3\)"):
        nn.BatchNorm2d(3)(tl.randn(2, 3))


# ---- LayerNorm ---------------------------------------------------------------------------------
@pytest.mark.parametrize("dtypes", DTYPES, ids=DTYPE_IDS)
# a single normalised element makes x - mean exactly 0 for us but rounding noise amplified by
# 1/sqrt(eps) for torch, so such shapes are left out
@given(norm=st.lists(st.integers(1, 4), min_size=1, max_size=3).filter(lambda s: np.prod(s) > 1),
       lead=st.lists(st.integers(1, 3), min_size=0, max_size=2),
       affine=st.booleans(), bias=st.booleans(), seed=st.integers(0, 2**16))
def test_layernorm_matches_torch(dtypes, norm, lead, affine, bias, seed):
    ours, ref = pair(nn.LayerNorm, torch.nn.LayerNorm, dtypes, norm, elementwise_affine=affine,
                     bias=bias)
    rng = np.random.default_rng(seed)
    for p in ref.parameters():  # non-trivial affine parameters
        p.data[...] = torch.tensor(rng.standard_normal(tuple(p.shape)))
    copy_params(ours, ref)
    run_both(ours, ref, well_conditioned(rng, lead, norm), dtypes, seed)
    assert repr(ours) == repr(ref)


def test_layernorm_shape_mismatch_message():
    with pytest.raises(ValueError, match=r"layer_norm.*\(2, 3\).*\(4,\)"):
        nn.LayerNorm(4)(tl.randn(2, 3))


# ---- Flatten / Unflatten / Identity -----------------------------------------------------------
@pytest.mark.parametrize("args", [(), (0,), (1, 2), (-3, -2), (2, -1)])
def test_flatten_matches_torch(args):
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5))
    ours, ref = nn.Flatten(*args), torch.nn.Flatten(*args)
    run_both(ours, ref, x, DTYPES[0])
    assert repr(ours) == repr(ref)


@pytest.mark.parametrize("dim,sizes", [(1, (2, 6)), (-1, (5, 1)), (0, (1, 2)), (1, (3, -1))])
def test_unflatten_matches_torch(dim, sizes):
    x = np.random.default_rng(0).standard_normal((2, 12, 5))
    if dim == -1 or sizes == (5, 1):
        x = x.reshape(2, 12, 5)
    ours, ref = nn.Unflatten(dim, sizes), torch.nn.Unflatten(dim, sizes)
    run_both(ours, ref, x, DTYPES[0])
    assert repr(ours) == repr(ref)


def test_identity_ignores_arguments():
    x = tl.randn(3, requires_grad=True)
    assert nn.Identity(54, unused="x")(x) is x


# ---- Activations ------------------------------------------------------------------------------
ACTIVATIONS = [
    ("ReLU", (), {}),
    ("LeakyReLU", (), {}),
    ("LeakyReLU", (0.2,), {}),
    ("GELU", (), {}),
    ("GELU", (), {"approximate": "tanh"}),
    ("SiLU", (), {}),
    ("ELU", (), {}),
    ("ELU", (0.5,), {}),
    ("Softplus", (), {}),
    ("Softplus", (2.0, 1.5), {}),  # threshold reached inside the drawn range
    ("Tanh", (), {}),
    ("Sigmoid", (), {}),
    ("Softmax", (), {"dim": 1}),
    ("Softmax", (), {"dim": -1}),
    ("Softmax", (), {"dim": 0}),
    ("LogSoftmax", (), {"dim": 1}),
    ("LogSoftmax", (), {"dim": -1}),
]


@pytest.mark.parametrize("dtypes", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("name,args,kwargs", ACTIVATIONS,
                         ids=[f"{a[0]}{a[1]}{a[2]}" for a in ACTIVATIONS])
@given(shape=st.lists(st.integers(1, 4), min_size=2, max_size=4), seed=st.integers(0, 2**16))
def test_activation_module_matches_torch(dtypes, name, args, kwargs, shape, seed):
    ours, ref = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    x = np.random.default_rng(seed).standard_normal(shape) * 3
    run_both(ours, ref, x, dtypes, seed)
    assert repr(ours) == repr(ref)


def test_activation_kinks_follow_torch():
    x_np = np.array([-1.0, 0.0, 1.0, 20.0, 20.5, -1e-300])
    for name, args in [("ReLU", ()), ("LeakyReLU", (0.3,)), ("ELU", (2.0,)),
                       ("Softplus", (1.0, 20.0)), ("Softplus", (0.5, 10.0))]:
        run_both(getattr(nn, name)(*args), getattr(torch.nn, name)(*args), x_np, DTYPES[0])


@pytest.mark.parametrize("cls", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("ndim", [0, 1, 2, 3, 4])
def test_softmax_modules_dim_none_legacy_rule(cls, ndim):
    x = np.random.default_rng(ndim).standard_normal((2, 3, 4, 5)[:ndim])
    with pytest.warns(UserWarning):  # torch warns about the implicit dim; we follow its choice
        run_both(getattr(nn, cls)(), getattr(torch.nn, cls)(), x, DTYPES[0])


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(ValueError, match="approximate.*'fast'"):
        nn.GELU("fast")


# ---- Dropout ----------------------------------------------------------------------------------
def test_dropout_eval_and_p0_are_identity_p1_zeros():
    x = tl.randn(4, 5, requires_grad=True)
    drop = nn.Dropout(0.5).eval()
    assert drop(x) is x
    assert nn.Dropout(0.0)(x) is x
    out = nn.Dropout(1.0)(x)
    ref = torch.nn.Dropout(1.0)(torch.tensor(x.detach().numpy(), requires_grad=True))
    assert_close(out, ref)
    out.sum().backward()
    assert_close(x.grad, torch.zeros(4, 5))
    assert repr(nn.Dropout(0.25)) == repr(torch.nn.Dropout(0.25))


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
@pytest.mark.parametrize("dtype", [tl.float32, tl.float64])
def test_dropout_training_statistics_and_gradient(p, dtype):
    tl.manual_seed(0)
    n = 200_000
    x = tl.full((n,), 2.0, dtype=dtype, requires_grad=True)
    out = nn.Dropout(p)(x)
    assert out.dtype is dtype
    y = out.detach().numpy()
    kept = y != 0
    # kept values are x / (1 - p) exactly as torch computes it in this dtype
    expected_kept = (torch.full((1,), 2.0, dtype=getattr(torch, dtype.name)) / (1 - p)).item()
    np.testing.assert_allclose(y[kept], expected_kept, rtol=1e-6)
    drop_rate = 1 - kept.mean()
    assert abs(drop_rate - p) < 5 * math.sqrt(p * (1 - p) / n)
    g = np.random.default_rng(0).standard_normal(n)
    out.backward(tl.tensor(g, dtype=dtype))
    np.testing.assert_allclose(x.grad.numpy(), g * kept / (1 - p), rtol=1e-6)


def test_dropout_masks_differ_between_calls_and_follow_seed():
    x = tl.ones(1000)
    tl.manual_seed(3)
    a, b = nn.Dropout(0.5)(x).numpy(), nn.Dropout(0.5)(x).numpy()
    tl.manual_seed(3)
    c = nn.Dropout(0.5)(x).numpy()
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_dropout_probability_out_of_range(p):
    with pytest.raises(ValueError, match=f"probability.*{p}"):
        nn.Dropout(p)
    with pytest.raises(ValueError, match=f"dropout.*{p}"):
        nn.functional.dropout(tl.ones(3), p)
    with pytest.raises(ValueError):  # torch agrees that this is a value error
        torch.nn.Dropout(p)


@pytest.mark.parametrize("name,args", [("ReLU", ()), ("LeakyReLU", (0.2,)), ("ELU", (0.7,)),
                                       ("SiLU", ())])
def test_inplace_activations_overwrite_and_return_the_input_like_torch(name, args):
    x = np.random.default_rng(3).standard_normal((3, 4))
    weights = np.arange(12.0).reshape(3, 4)
    a, a_t = tl.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    h, h_t = a * 2, a_t * 2
    y, y_t = getattr(nn, name)(*args, inplace=True)(h), getattr(torch.nn, name)(*args, True)(h_t)
    assert y is h and y_t is h_t
    assert_close(h.detach(), h_t.detach())
    (y * tl.tensor(weights)).sum().backward()
    (y_t * torch.tensor(weights)).sum().backward()
    assert_close(a.grad, a_t.grad)
    plain, plain_t = tl.tensor(x), torch.tensor(x)  # outside autograd: just overwritten
    getattr(nn, name)(*args, inplace=True)(plain)
    getattr(torch.nn, name)(*args, inplace=True)(plain_t)
    assert_close(plain, plain_t)
    with pytest.raises(RuntimeError, match="leaf"):  # as torch
        getattr(nn, name)(*args, inplace=True)(tl.ones(2, requires_grad=True))
    s, s_t = a.sigmoid(), a_t.sigmoid()  # sigmoid saved its output, which is then overwritten
    getattr(nn, name)(*args, inplace=True)(s)
    getattr(torch.nn, name)(*args, inplace=True)(s_t)
    with pytest.raises(RuntimeError, match="modified by an inplace"):
        s_t.sum().backward()
    with pytest.raises(RuntimeError, match="modified by an in-place"):
        s.sum().backward()


@pytest.mark.parametrize("p", [0.0, 0.4, 1.0])
def test_dropout_inplace_overwrites_the_input(p):
    tl.manual_seed(0)
    a = tl.ones(200, 5, dtype=tl.float64, requires_grad=True)
    h = a * 3
    y = nn.Dropout(p, inplace=True)(h)
    assert y is h
    kept = h.detach().numpy() != 0
    scale = 1 / (1 - p) if p < 1 else 0.0
    np.testing.assert_array_equal(h.detach().numpy(), np.where(kept, 3 * scale, 0))
    y.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), np.where(kept, 3 * scale, 0))
    if 0 < p < 1:
        assert 0.5 < kept.mean() / (1 - p) < 1.5
    eval_input = tl.tensor([1, 2])  # eval: the input itself, any dtype (torch)
    out_t = torch.nn.Dropout(p, inplace=True).eval()(torch.tensor([1, 2]))
    assert nn.Dropout(p, inplace=True).eval()(eval_input) is eval_input
    assert_close(eval_input, out_t)
