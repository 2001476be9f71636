"""The Module API against torch.nn.Module: the same architecture is built in both frameworks
(one factory, two namespaces) and every listing, state_dict, repr, mode switch, conversion,
hook and container operation is compared with torch's (containers: test_containers.py,
tl.nn.utils: test_utils.py)."""

import numpy as np
import pytest
import torch

import tinygrad_lite as tl
import tinygrad_lite.nn as nn
from tinygrad_lite.testing import assert_close


def build(lib):
    """A nested model using every container, a shared submodule, a tied parameter and both
    kinds of buffers, written once for ``lib`` = tinygrad_lite or torch."""

    class Block(lib.nn.Module):
        def __init__(self, width):
            super().__init__()
            self.fc = lib.nn.Linear(width, width)
            self.bn = lib.nn.BatchNorm1d(width)
            self.act = lib.nn.ReLU()

        def forward(self, x):
            return self.act(self.bn(self.fc(x))) + x

    class Net(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = lib.nn.Sequential(lib.nn.Flatten(), lib.nn.Linear(6, 4), lib.nn.Tanh())
            self.blocks = lib.nn.ModuleList([Block(4), Block(4)])
            self.heads = lib.nn.ModuleDict({"main": lib.nn.Linear(4, 3),
                                            "aux": lib.nn.Linear(4, 3, bias=False)})
            self.alias = self.stem[1]  # the same module under two names
            self.heads["aux"].weight = self.heads["main"].weight  # tied parameter
            self.norm = lib.nn.LayerNorm(3)
            self.register_buffer("scale", lib.ones(3) * 2)
            self.register_buffer("cache", lib.zeros(2), persistent=False)
            self.register_parameter("temperature", lib.nn.Parameter(lib.ones(1)))

        def forward(self, x):
            h = self.stem(x)
            for block in self.blocks:
                h = block(h)
            return self.norm(self.heads["main"](h) + self.heads["aux"](h)) * self.scale \
                / self.temperature

    return Net()


def names(pairs):
    return [n for n, _ in pairs]


@pytest.fixture
def models():
    ours, ref = build(tl), build(torch)
    ours.load_state_dict({k: v.numpy() for k, v in ref.state_dict().items()})
    return ours, ref


def test_listings_match_torch(models):
    ours, ref = models
    assert names(ours.named_parameters()) == names(ref.named_parameters())
    assert names(ours.named_buffers()) == names(ref.named_buffers())
    assert names(ours.named_modules()) == names(ref.named_modules())
    assert names(ours.named_children()) == names(ref.named_children())
    assert len(list(ours.parameters())) == len(list(ref.parameters()))
    assert [type(m).__name__ for m in ours.modules()] == [type(m).__name__ for m in ref.modules()]
    assert [type(m).__name__ for m in ours.children()] == \
        [type(m).__name__ for m in ref.children()]
    assert names(ours.named_parameters(recurse=False)) == \
        names(ref.named_parameters(recurse=False))
    assert names(ours.blocks.named_parameters(prefix="b")) == \
        names(ref.blocks.named_parameters(prefix="b"))
    assert names(ours.named_parameters(remove_duplicate=False)) == \
        names(ref.named_parameters(remove_duplicate=False))
    # the tied weight is one object, listed once
    assert ours.heads["aux"].weight is ours.heads["main"].weight
    assert ours.get_parameter("heads.aux.weight") is ours.heads["main"].weight
    assert ours.get_submodule("blocks.1.bn") is ours.blocks[1].bn


def test_state_dict_keys_values_and_round_trip(models):
    ours, ref = models
    sd, sd_t = ours.state_dict(), ref.state_dict()
    assert list(sd) == list(sd_t)  # incl. duplicates, BatchNorm buffers, no "cache"
    assert "cache" not in sd and "blocks.0.bn.num_batches_tracked" in sd
    for k in sd:
        assert_close(sd[k], sd_t[k], msg=lambda m, k=k: f"{k}: {m}")
        assert not sd[k].requires_grad
    assert sd["blocks.0.bn.num_batches_tracked"].dtype is tl.int64
    # values share memory with the parameters, as torch
    ours.stem[1].weight._data[0, 0] = 123.0
    assert ours.state_dict()["stem.1.weight"]._data[0, 0] == 123.0
    # keep_vars gives the Parameters themselves
    assert ours.state_dict(keep_vars=True)["stem.1.weight"] is ours.stem[1].weight
    fresh = build(tl)
    fresh.load_state_dict(ours.state_dict())
    for k, v in fresh.state_dict().items():
        assert_close(v, sd[k])


@pytest.mark.parametrize("convert", ["numpy", "tl"])
def test_load_torch_state_dict_reproduces_torch(convert):
    ours, ref = build(tl), build(torch)
    x = np.random.default_rng(0).standard_normal((5, 2, 3))
    with torch.no_grad():  # train a few steps so the buffers are non-trivial
        for _ in range(3):
            ref(torch.tensor(x, dtype=torch.float32) + 1)
    sd = {k: (v.numpy() if convert == "numpy" else tl.tensor(v.numpy()))
          for k, v in ref.state_dict().items()}
    result = ours.load_state_dict(sd)
    assert result.missing_keys == [] and result.unexpected_keys == []
    for k, v in ref.state_dict().items():
        assert_close(ours.state_dict()[k], v)  # loaded exactly, dtypes kept
    # float64 from here: float32 gradients through two norms are mostly cancellation noise
    ours.double(), ref.double()
    for mode in ("train", "eval"):
        getattr(ours, mode)(), getattr(ref, mode)()
        xt = torch.tensor(x, requires_grad=True)
        xo = tl.tensor(x, requires_grad=True)
        out, out_t = ours(xo), ref(xt)
        assert_close(out, out_t.detach())
        out.sum().backward(), out_t.sum().backward()
        assert_close(xo.grad, xt.grad)
        theirs = dict(ref.named_parameters())
        for name, p in ours.named_parameters():
            assert_close(p.grad, theirs[name].grad, msg=lambda m, n=name: f"{n}: {m}")
        ours.zero_grad(), ref.zero_grad()
    for k, v in ref.state_dict().items():  # running stats advanced identically in train mode
        assert_close(ours.state_dict()[k], v)


def test_load_state_dict_accepts_torch_tensors():
    ours, ref = build(tl), build(torch)
    ours.load_state_dict(ref.state_dict())
    for k, v in ref.state_dict().items():
        assert_close(ours.state_dict()[k], v)


def test_load_state_dict_strict_errors_and_non_strict_result():
    ours, ref = build(tl), build(torch)
    sd = {k: v.numpy() for k, v in ref.state_dict().items()}
    del sd["norm.bias"], sd["stem.1.weight"]
    sd["extra.weight"] = np.zeros(2, np.float32)
    with pytest.raises(RuntimeError) as ours_err:
        ours.load_state_dict(sd)
    with pytest.raises(RuntimeError) as ref_err:
        ref.load_state_dict({k: torch.tensor(v) for k, v in sd.items()})
    for line in ("Missing key(s) in state_dict", '"norm.bias"', '"stem.1.weight"',
                 "Unexpected key(s) in state_dict", '"extra.weight"', "Net"):
        assert line in str(ref_err.value) and line in str(ours_err.value)
    result = ours.load_state_dict(sd, strict=False)
    result_t = ref.load_state_dict({k: torch.tensor(v) for k, v in sd.items()}, strict=False)
    assert sorted(result.missing_keys) == sorted(result_t.missing_keys)
    assert result.unexpected_keys == result_t.unexpected_keys
    assert_close(ours.heads["main"].weight, ref.heads["main"].weight)
    bad = {k: v.numpy() for k, v in ref.state_dict().items()}
    bad["stem.1.weight"] = np.zeros((3, 6), np.float32)
    for strict in (True, False):
        with pytest.raises(RuntimeError, match=r"size mismatch for stem\.1\.weight.*"
                                               r"\(3, 6\).*\(4, 6\)"):
            ours.load_state_dict(bad, strict=strict)
    with pytest.raises(TypeError, match="load_state_dict.*list"):
        ours.load_state_dict([1, 2])


def test_train_eval_propagation(models):
    ours, ref = models
    for mode in (False, True):
        ours.train(mode), ref.train(mode)
        assert [m.training for m in ours.modules()] == [m.training for m in ref.modules()]
    assert ours.eval() is ours and not ours.blocks[0].bn.training
    assert ours.train() is ours and ours.heads["aux"].training
    ours.blocks.eval()
    assert not ours.blocks[1].fc.training and ours.training
    with pytest.raises(ValueError, match="boolean"):
        ours.train("no")

    def frozen(lib):  # a child overriding train() is called by its parent's train()
        class FrozenNorm(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.bn = lib.nn.BatchNorm1d(2)

            def train(self, mode=True):
                super().train(mode)
                self.bn.eval()
                return self
        return lib.nn.Sequential(lib.nn.Linear(2, 2), FrozenNorm())
    for model in (frozen(tl), frozen(torch)):
        model.eval().train()
        assert model[0].training and model[1].training and not model[1].bn.training


@pytest.mark.parametrize("set_to_none", [True, False])
def test_zero_grad(models, set_to_none):
    ours, ref = models
    x = np.random.default_rng(0).standard_normal((4, 6))
    ours(tl.tensor(x, dtype=tl.float32)).sum().backward()
    ref(torch.tensor(x, dtype=torch.float32)).sum().backward()
    held = ours.stem[1].weight.grad
    ours.zero_grad(set_to_none=set_to_none), ref.zero_grad(set_to_none=set_to_none)
    theirs = dict(ref.named_parameters())
    for name, p in ours.named_parameters():
        if set_to_none:
            assert p.grad is None and theirs[name].grad is None
        else:
            assert_close(p.grad, theirs[name].grad)
            assert not p.grad.requires_grad
    if not set_to_none:  # in place, as torch: a reference to the old gradient sees the zeros
        assert float(np.abs(held.numpy()).sum()) == 0.0


def test_to_dtype_keeps_parameter_identity_and_int_buffers(models):
    ours, _ = models
    params = list(ours.parameters())
    weight = ours.stem[1].weight
    ours(tl.randn(4, 6)).sum().backward()
    assert ours.double() is ours
    assert all(p.dtype is tl.float64 for p in params)  # what an optimiser holds was converted
    assert ours.stem[1].weight is weight and weight.grad.dtype is tl.float64
    assert ours.blocks[0].bn.running_mean.dtype is tl.float64
    assert ours.cache.dtype is tl.float64
    assert ours.blocks[0].bn.num_batches_tracked.dtype is tl.int64
    assert ours(tl.randn(4, 6, dtype=tl.float64)).dtype is tl.float64
    ours.float()
    assert all(p.dtype is tl.float32 for p in params) and params[0] is ours.temperature
    ours.to(tl.float64)
    assert weight.dtype is tl.float64
    ours.to(dtype=tl.float32)
    assert weight.dtype is tl.float32
    ours.to("cpu")
    assert weight.device == tl.zeros(1).device
    with pytest.raises(TypeError, match="floating point.*int64"):
        ours.to(tl.int64)
    # torch agrees on every one of those dtypes
    ref = build(torch).double()
    assert ref.blocks[0].bn.num_batches_tracked.dtype is torch.int64
    assert ref.cache.dtype is torch.float64


def test_apply_visits_children_first(models):
    ours, ref = models
    seen, seen_t = [], []
    assert ours.apply(lambda m: seen.append(type(m).__name__)) is ours
    ref.apply(lambda m: seen_t.append(type(m).__name__))
    assert seen == seen_t

    def init_linear(m):
        if isinstance(m, nn.Linear):
            nn.init.constant_(m.weight, 0.5)
    ours.apply(init_linear)
    assert np.all(ours.blocks[1].fc.weight.detach().numpy() == 0.5)


def test_register_buffer_and_parameter_rules():
    m = nn.Module()
    m.register_buffer("keep", tl.zeros(2))
    m.register_buffer("drop", tl.ones(2), persistent=False)
    m.register_buffer("empty", None)
    assert list(m.state_dict()) == ["keep"]
    assert names(m.named_buffers()) == ["keep", "drop"]
    assert m.empty is None
    with pytest.raises(TypeError, match="buffer 'x'.*Tensor or None expected"):
        m.register_buffer("x", [1, 2])
    with pytest.raises(KeyError, match=r"contain '\.'"):
        m.register_buffer("a.b", tl.zeros(1))
    for lib, mod in ((torch, torch.nn.Module()), (tl, m)):  # name clashes, as torch
        mod.plain = 1
        mod.register_buffer("keep", lib.zeros(2))  # same registry: replaces
        for name in ("plain", "forward"):
            with pytest.raises(KeyError, match=f"attribute '{name}' already exists"):
                mod.register_buffer(name, lib.zeros(1))
        with pytest.raises(KeyError, match="attribute 'keep' already exists"):
            mod.register_parameter("keep", lib.nn.Parameter(lib.zeros(1)))
        with pytest.raises(KeyError, match="attribute 'keep' already exists"):
            mod.add_module("keep", lib.nn.ReLU())
    m.weight = nn.Parameter(tl.ones(2))
    with pytest.raises(TypeError, match="cannot assign 'Tensor' as parameter 'weight'"):
        m.weight = tl.zeros(2)
    with pytest.raises(TypeError, match="cannot assign 'int' as parameter 'weight'"):
        torch_m = torch.nn.Module()
        torch_m.weight = torch.nn.Parameter(torch.ones(2))
        torch_m.weight = 3  # torch raises the same kind of error
    with pytest.raises(TypeError, match="cannot assign 'int' as parameter 'weight'"):
        m.weight = 3
    m.weight = None
    assert list(m.state_dict()) == ["keep"] and m.weight is None
    m.child = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="cannot assign 'int' as child module 'child'"):
        m.child = 3
    m.keep = tl.full((2,), 7.0)  # re-assigning a buffer keeps it a buffer
    assert_close(m.state_dict()["keep"], torch.full((2,), 7.0))
    del m.child
    assert names(m.named_children()) == []

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(tl.ones(1))
    with pytest.raises(AttributeError, match="before Module.__init__"):
        Early()


def test_attribute_error_message_matches_torch(models):
    ours, ref = models
    with pytest.raises(AttributeError) as err:
        ours.nonexistent
    with pytest.raises(AttributeError) as err_t:
        ref.nonexistent
    assert str(err.value) == str(err_t.value)
    with pytest.raises(AttributeError, match="get_submodule.*'nope'"):
        ours.get_submodule("blocks.nope")
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(tl.zeros(1))


def test_forward_hooks_like_torch(models):
    ours, ref = models
    calls = []
    results = []
    for model, lib in ((ours, tl), (ref, torch)):
        h1 = model.stem.register_forward_pre_hook(lambda m, args: (args[0] * 2,))
        h2 = model.norm.register_forward_hook(lambda m, args, out: out + 1)
        h3 = model.blocks[0].register_forward_hook(
            lambda m, args, out: calls.append(type(m).__name__))
        x = lib.tensor(np.ones((2, 6), np.float32))
        results.append(model.eval()(x))
        for h in (h1, h2, h3):
            h.remove()
        results.append(model(x))
    assert calls == ["Block", "Block"]
    assert_close(results[0], results[2].detach())
    assert_close(results[1], results[3].detach())


def test_repr_matches_torch(models):
    ours, ref = models
    assert repr(ours) == repr(ref)
    seq = nn.Sequential(nn.Flatten(), nn.Linear(4, 3), nn.ReLU(), nn.Dropout(0.2),
                        nn.BatchNorm1d(3), nn.Linear(3, 2))
    seq_t = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3), torch.nn.ReLU(),
                                torch.nn.Dropout(0.2), torch.nn.BatchNorm1d(3),
                                torch.nn.Linear(3, 2))
    assert repr(seq) == repr(seq_t)
    for ctor in [lambda n: n.BatchNorm2d(3, momentum=None, affine=False),
                 lambda n: n.BatchNorm1d(2, eps=1e-3, track_running_stats=False, bias=False),
                 lambda n: n.LayerNorm([2, 3], elementwise_affine=False),
                 lambda n: n.ModuleList([n.ReLU(inplace=True), n.ELU(inplace=True)]),
                 lambda n: n.ModuleDict({"a": n.SiLU(), "b": n.Identity()}),
                 lambda n: n.Sequential(), lambda n: n.Module()]:
        assert repr(ctor(nn)) == repr(ctor(torch.nn))

    def with_extra(lib):  # a multi-line extra_repr next to children
        class Custom(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.inner = lib.nn.Sequential(lib.nn.Linear(2, 2))

            def extra_repr(self):
                return "alpha=1\nbeta=2"
        return lib.nn.ModuleList([Custom(), Custom(), lib.nn.ReLU(), Custom()])
    assert repr(with_extra(tl)) == repr(with_extra(torch))


def test_parameter_basics():
    p = nn.Parameter(tl.ones(2, 3))
    assert isinstance(p, tl.Tensor) and p.requires_grad and p.is_leaf and p.shape == (2, 3)
    assert not nn.Parameter(tl.ones(1), requires_grad=False).requires_grad
    assert repr(p).startswith("Parameter containing:\ntensor(")
    data = tl.zeros(3)
    q = nn.Parameter(data)
    data._data[0] = 5.0  # shares memory with the tensor it wraps, as torch
    assert q._data[0] == 5.0
    assert nn.Parameter().shape == (0,)
    with pytest.raises(TypeError, match="floating point.*int64"):
        nn.Parameter(tl.tensor([1, 2]))


@pytest.mark.parametrize("with_metadata", [False, True])
def test_load_state_dict_without_num_batches_tracked_like_torch(with_metadata):
    """Old checkpoints lack BatchNorm's counter: torch keeps the module's own value unless the
    state_dict's metadata says the layout already had it (version 2), then it is missing."""
    ours = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    ref = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.BatchNorm1d(3))
    ours[1].num_batches_tracked.fill_(5)
    ref[1].num_batches_tracked.fill_(5)
    state = ref.state_dict()
    del state["1.num_batches_tracked"]
    if not with_metadata:
        state = dict(state)
    if with_metadata:
        with pytest.raises(RuntimeError, match='Missing.*"1.num_batches_tracked"') as ours_err:
            ours.load_state_dict(state)
        with pytest.raises(RuntimeError, match='Missing.*"1.num_batches_tracked"') as ref_err:
            ref.load_state_dict(state)
        assert str(ours_err.value).replace("tl.", "") == str(ref_err.value).rstrip(" ")
        return
    result, result_t = ours.load_state_dict(state), ref.load_state_dict(state)
    assert result == result_t and repr(result) == repr(result_t)
    assert_close(ours[1].num_batches_tracked, ref[1].num_batches_tracked)
    assert_close(ours[1].running_var, ref[1].running_var)
    loose, loose_t = ours.load_state_dict(state, strict=False), ref.load_state_dict(state, False)
    assert loose.missing_keys == loose_t.missing_keys == []


def test_load_state_dict_1d_checkpoint_value_into_0d_like_torch():
    ours, ref = nn.BatchNorm1d(2), torch.nn.BatchNorm1d(2)
    state = {**ref.state_dict(), "num_batches_tracked": torch.tensor([7])}
    assert repr(ours.load_state_dict(state)) == repr(ref.load_state_dict(state))
    assert_close(ours.num_batches_tracked, ref.num_batches_tracked)
    partial = {"weight": torch.zeros(1, 1), "extra": torch.zeros(1)}
    assert repr(nn.Linear(1, 1).load_state_dict(partial, strict=False)) == \
        repr(torch.nn.Linear(1, 1).load_state_dict(partial, strict=False))
    bad = {**ref.state_dict(), "running_mean": torch.zeros(3)}
    with pytest.raises(RuntimeError, match="size mismatch for running_mean"):
        ours.load_state_dict(bad)


def test_to_accepts_a_tensor_and_non_blocking_like_torch(models):
    ours, ref = models
    assert ours.to("cpu", non_blocking=True) is ours
    assert ref.to("cpu", non_blocking=True) is ref
    ours.to(tl.zeros(1, dtype=tl.float64))
    ref.to(torch.zeros(1, dtype=torch.float64))
    theirs = dict(ref.state_dict())
    for name, value in ours.state_dict().items():
        assert_close(value, theirs[name])  # dtype included: int64 counters stay int64
    with pytest.raises(TypeError, match="floating"):
        ours.to(tl.zeros(1, dtype=tl.int64))
