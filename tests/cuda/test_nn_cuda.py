"""Layers, losses, optimisers, checkpoints and device semantics on ``cuda``.

Layers and losses: the same weights and inputs run on the CPU in float64 (the reference) and on
cuda in float32; outputs, input gradients, parameter gradients and updated buffers must agree within
float32 tolerances. Optimisers: ten steps on cuda equal ten steps on the CPU (both float32).
"""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_lite as tl
from tinygrad_lite import nn
from tinygrad_lite.nn import functional as F

RTOL, ATOL = 1e-4, 1e-4  # float32 against float64 through a few accumulating ops


def close(what: str, got, ref, rtol: float = RTOL, atol: float = ATOL) -> None:
    """``got`` (a cuda tensor) equals ``ref`` (CPU), with the max error in the message."""
    if isinstance(got, tl.Tensor):
        assert got.device.type == "cuda", f"{what}: on {got.device}, expected cuda"
        got = got.detach().cpu().numpy()
    if isinstance(ref, tl.Tensor):
        ref = ref.detach().numpy()
    got, ref = np.asarray(got), np.asarray(ref)
    assert got.shape == ref.shape, f"{what}: shape {got.shape} != CPU's {ref.shape}"
    g, r = got.astype(np.float64), ref.astype(np.float64)
    if not np.allclose(g, r, rtol=rtol, atol=atol):
        err = np.abs(g - r)
        raise AssertionError(f"{what} on cuda ({got.dtype}) differs from the CPU float64 result: "
                             f"max abs err {err.max():.3g}, max rel err "
                             f"{(err / np.maximum(np.abs(r), 1e-30)).max():.3g} "
                             f"(rtol={rtol:g}, atol={atol:g})")


def _inputs(arrays, device, dtype):
    out = []
    for a in arrays:
        if np.issubdtype(a.dtype, np.floating):
            out.append(tl.tensor(a.astype(dtype), device=device, requires_grad=True))
        else:
            out.append(tl.tensor(a, device=device))
    return out


def check_fn(name: str, fn, *arrays, gpu_fn=None, seed: int = 0, rtol=RTOL, atol=ATOL) -> None:
    """fn(*tensors) -> tensor: forward and input gradients, cuda float32 (``gpu_fn`` if given)
    vs CPU float64."""
    ref_in = _inputs(arrays, "cpu", np.float64)
    gpu_in = _inputs(arrays, "cuda", np.float32)
    ref, got = fn(*ref_in), (gpu_fn or fn)(*gpu_in)
    close(f"{name} output", got, ref, rtol, atol)
    g = np.random.default_rng(seed).standard_normal(tuple(ref.shape)).astype(np.float32)
    ref.backward(tl.tensor(g.astype(np.float64)))
    got.backward(tl.tensor(g, device="cuda"))
    for i, (a, b) in enumerate(zip(gpu_in, ref_in)):
        if b.requires_grad:
            close_grad(f"{name} gradient wrt input {i}", a.grad, b.grad, rtol, atol)


def close_grad(what: str, got, ref, rtol: float = RTOL, atol: float = ATOL) -> None:
    """Like :func:`close`; None (no gradient flowed) must be None on both devices."""
    assert (got is None) == (ref is None), f"{what}: cuda gives {got!r}, the CPU {ref!r}"
    if ref is not None:
        close(what, got, ref, rtol, atol)


def check_module(name: str, make, *arrays, call=None, seed: int = 0, train: bool = True) -> None:
    """The module (same weights) on CPU float64 and cuda float32: outputs, grads, buffers."""
    tl.manual_seed(seed)
    ref = make()
    gpu = make()
    gpu.load_state_dict(ref.state_dict())
    ref.double().train(train)
    gpu.to("cuda").train(train)
    for pname, p in gpu.named_parameters():
        assert p.device.type == "cuda", f"{name}: parameter {pname} stayed on {p.device}"
    call = call or (lambda m, *xs: m(*xs))
    check_fn(name, lambda *xs: _first(call(ref, *xs)), *arrays,
             gpu_fn=lambda *xs: _first(call(gpu, *xs)), seed=seed)
    grads = dict(ref.named_parameters())
    for pname, p in gpu.named_parameters():
        close_grad(f"{name} gradient of {pname}", p.grad, grads[pname].grad)
    ref_buffers = dict(ref.named_buffers())
    for bname, b in gpu.named_buffers():
        if np.issubdtype(b.detach().cpu().numpy().dtype, np.floating):
            close(f"{name} buffer {bname}", b, ref_buffers[bname])


def _first(out):
    return out[0] if isinstance(out, tuple) else out


RNG = np.random.default_rng(0)


def randn(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


# ---- layers --------------------------------------------------------------------------------------
LAYERS = [
    ("Linear", lambda: nn.Linear(20, 7), [randn(5, 20)], {}),
    ("Linear 3-D input", lambda: nn.Linear(20, 7), [randn(2, 3, 20)], {}),
    ("Conv2d stride 2 pad 1", lambda: nn.Conv2d(3, 4, 3, stride=2, padding=1),
     [randn(2, 3, 9, 9)], {}),
    ("Conv2d groups dilation", lambda: nn.Conv2d(4, 6, 3, padding=2, dilation=2, groups=2),
     [randn(2, 4, 8, 7)], {}),
    ("Conv1d", lambda: nn.Conv1d(3, 5, 4, stride=1, padding=1), [randn(2, 3, 11)], {}),
    ("MaxPool2d", lambda: nn.MaxPool2d(2), [randn(2, 3, 8, 8)], {}),
    ("MaxPool2d 3/2/1", lambda: nn.MaxPool2d(3, stride=2, padding=1), [randn(2, 3, 9, 9)], {}),
    ("AvgPool2d", lambda: nn.AvgPool2d(3, stride=2, padding=1), [randn(2, 3, 9, 9)], {}),
    ("AdaptiveAvgPool2d", lambda: nn.AdaptiveAvgPool2d((2, 3)), [randn(2, 3, 7, 8)], {}),
    ("BatchNorm1d train", lambda: nn.BatchNorm1d(6), [randn(8, 6)], {}),
    ("BatchNorm2d train", lambda: nn.BatchNorm2d(3), [randn(4, 3, 5, 5)], {}),
    ("BatchNorm2d eval", lambda: nn.BatchNorm2d(3), [randn(4, 3, 5, 5)], {"train": False}),
    ("LayerNorm", lambda: nn.LayerNorm(8), [randn(4, 5, 8)], {}),
    ("Embedding", lambda: nn.Embedding(10, 4, padding_idx=0),
     [RNG.integers(0, 10, (3, 7)).astype(np.int64)], {}),
    ("MultiheadAttention", lambda: nn.MultiheadAttention(8, 2, batch_first=True),
     [randn(2, 5, 8), randn(2, 6, 8), randn(2, 6, 8)], {}),
    ("TransformerEncoderLayer", lambda: nn.TransformerEncoderLayer(
        16, 2, 32, dropout=0.0, batch_first=True), [randn(2, 6, 16)], {}),
    ("TransformerEncoderLayer norm_first gelu", lambda: nn.TransformerEncoderLayer(
        16, 4, 32, dropout=0.0, activation="gelu", batch_first=True, norm_first=True),
     [randn(3, 5, 16)], {}),
]


@pytest.mark.parametrize("name,make,arrays,kw", LAYERS, ids=[row[0] for row in LAYERS])
def test_layer_on_cuda_matches_cpu(name, make, arrays, kw):
    check_module(name, make, *arrays, **kw)


def test_causal_self_attention_on_cuda_matches_cpu():
    x = randn(2, 7, 8)
    check_module("MultiheadAttention causal", lambda: nn.MultiheadAttention(8, 2, batch_first=True),
                 x, call=lambda m, q: m(q, q, q, attn_mask=_causal(q.device, 7)))


def _causal(device, n):
    return tl.tensor(np.triu(np.ones((n, n), dtype=bool), 1), device=device)


def test_dropout_on_cuda_zeroes_and_scales():
    tl.manual_seed(0)
    x = tl.ones(100_000, device="cuda")
    y = F.dropout(x, 0.3, training=True).cpu().numpy()
    kept = y != 0
    assert 0.68 < kept.mean() < 0.72, kept.mean()
    np.testing.assert_allclose(y[kept], 1 / 0.7, rtol=1e-6)


# ---- functional and losses -----------------------------------------------------------------------
def _labels(n, c, seed=1):
    return np.random.default_rng(seed).integers(0, c, n).astype(np.int64)


FUNCTIONS = [
    ("softmax", lambda x: F.softmax(x, dim=-1), [randn(4, 9)]),
    ("log_softmax", lambda x: F.log_softmax(x * 10, dim=1), [randn(4, 9, 3)]),
    ("gelu", lambda x: F.gelu(x), [randn(5, 6)]),
    ("gelu tanh", lambda x: F.gelu(x, approximate="tanh"), [randn(5, 6)]),
    ("silu/elu/softplus/leaky_relu",
     lambda x: F.silu(x) + F.elu(x) + F.softplus(x) + F.leaky_relu(x, 0.1), [randn(5, 6)]),
    ("scaled_dot_product_attention causal",
     lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
     [randn(2, 3, 5, 4), randn(2, 3, 5, 4), randn(2, 3, 5, 4)]),
    ("pad reflect", lambda x: F.pad(x, (1, 2, 2, 1), mode="reflect"), [randn(2, 3, 5, 5)]),
    ("cross_entropy", lambda x, t: F.cross_entropy(x, t), [randn(16, 10), _labels(16, 10)]),
    ("cross_entropy weight ignore smoothing",
     lambda x, w, t: F.cross_entropy(x, t, weight=w.detach().abs(), ignore_index=2,
                                     label_smoothing=0.1),
     [randn(16, 5), randn(5), _labels(16, 5)]),
    ("cross_entropy (N, C, d)", lambda x, t: F.cross_entropy(x, t),
     [randn(4, 6, 3), _labels(12, 6).reshape(4, 3)]),
    ("cross_entropy probabilities", lambda x, p: F.cross_entropy(x, F.softmax(p.detach(), 1)),
     [randn(8, 5), randn(8, 5)]),
    ("nll_loss sum", lambda x, t: F.nll_loss(F.log_softmax(x, 1), t, reduction="sum"),
     [randn(8, 5), _labels(8, 5)]),
    ("mse_loss/l1_loss", lambda x, y: F.mse_loss(x, y) + F.l1_loss(x, y.detach()),
     [randn(6, 4), randn(6, 4)]),
    ("binary_cross_entropy", lambda x, y: F.binary_cross_entropy(x.sigmoid(), y.detach().sigmoid()),
     [randn(6, 4), randn(6, 4)]),
    ("binary_cross_entropy_with_logits",
     lambda x, y: F.binary_cross_entropy_with_logits(x, y.detach().sigmoid()),
     [randn(6, 4), randn(6, 4)]),
]


@pytest.mark.parametrize("name,fn,arrays", FUNCTIONS, ids=[row[0] for row in FUNCTIONS])
def test_functional_on_cuda_matches_cpu(name, fn, arrays):
    check_fn(name, fn, *arrays)


# ---- optimisers ----------------------------------------------------------------------------------
OPTIMIZERS = [
    ("SGD momentum nesterov decay",
     lambda ps: tl.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-2)),
    ("SGD plain", lambda ps: tl.optim.SGD(ps, lr=0.05)),
    ("Adam", lambda ps: tl.optim.Adam(ps, lr=1e-2)),
    ("Adam amsgrad decay", lambda ps: tl.optim.Adam(ps, lr=1e-2, amsgrad=True, weight_decay=0.1)),
    ("AdamW", lambda ps: tl.optim.AdamW(ps, lr=1e-2, weight_decay=0.1)),
    ("RMSprop momentum", lambda ps: tl.optim.RMSprop(ps, lr=1e-2, momentum=0.5, centered=True)),
]


@pytest.mark.parametrize("name,make", OPTIMIZERS, ids=[row[0] for row in OPTIMIZERS])
def test_optimizer_steps_on_cuda_equal_cpu(name, make):
    rng = np.random.default_rng(0)
    init = [rng.standard_normal(s).astype(np.float32) for s in ((7, 5), (5,))]
    grads = [[rng.standard_normal(a.shape).astype(np.float32) for a in init] for _ in range(10)]
    params = {dev: [nn.Parameter(tl.tensor(a, device=dev)) for a in init]
              for dev in ("cpu", "cuda")}
    opts = {dev: make(ps) for dev, ps in params.items()}
    for step in range(10):
        for dev, ps in params.items():
            for p, g in zip(ps, grads[step]):
                p.grad = tl.tensor(g, device=dev)
            opts[dev].step()
    for i, (p_gpu, p_cpu) in enumerate(zip(params["cuda"], params["cpu"])):
        close(f"{name}: parameter {i} after 10 steps", p_gpu, p_cpu, rtol=1e-5, atol=1e-6)
    cpu_state = opts["cpu"].state_dict()["state"]
    for index, state in opts["cuda"].state_dict()["state"].items():
        for key, value in state.items():
            if isinstance(value, tl.Tensor) and value.ndim > 0:
                close(f"{name}: state {key!r} of parameter {index}", value, cpu_state[index][key],
                      rtol=1e-5, atol=1e-6)


# ---- Module.to, checkpoints ----------------------------------------------------------------------
def _mlp():
    return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.BatchNorm1d(8), nn.Linear(8, 3))


def test_module_to_cuda_keeps_parameters_and_optimizer():
    tl.manual_seed(0)
    model = _mlp()
    params = list(model.parameters())
    opt = tl.optim.Adam(model.parameters(), lr=1e-2)
    assert model.to("cuda") is model
    assert [id(p) for p in model.parameters()] == [id(p) for p in params]  # rebound in place
    for name, t in [*model.named_parameters(), *model.named_buffers()]:
        assert t.device.type == "cuda", f"{name} is on {t.device} after Module.to('cuda')"
    x = tl.tensor(randn(4, 6), device="cuda")
    loss = F.cross_entropy(model(x), tl.tensor(_labels(4, 3), device="cuda"))
    loss.backward()
    before = params[0].detach().cpu().numpy().copy()
    opt.step()
    assert params[0].device.type == "cuda"
    assert not np.array_equal(params[0].detach().cpu().numpy(), before), "step did nothing"
    model.cpu()
    assert all(p.device.type == "cpu" for p in model.parameters())


def test_checkpoint_from_gpu_loads_on_cpu_and_back(tmp_path):
    tl.manual_seed(0)
    model = _mlp().to("cuda")
    opt = tl.optim.Adam(model.parameters(), lr=1e-2)
    F.mse_loss(model(tl.tensor(randn(4, 6), device="cuda")), tl.zeros(4, 3, device="cuda")) \
        .backward()
    opt.step()
    path = tmp_path / "gpu.safetensors"
    tl.save({"model": model.state_dict(), "optimizer": opt.state_dict()}, path)

    on_cpu = tl.load(path)
    cpu_model = _mlp()
    cpu_model.load_state_dict(on_cpu["model"])
    for (name, a), (_, b) in zip(model.state_dict().items(), cpu_model.state_dict().items()):
        assert b.device.type == "cpu"
        np.testing.assert_array_equal(b.numpy(), a.cpu().numpy(), err_msg=name)

    on_gpu = tl.load(path, device="cuda")
    assert all(t.device.type == "cuda" for t in on_gpu["model"].values())
    model2 = _mlp().to("cuda")
    model2.load_state_dict(on_cpu["model"])  # CPU tensors into cuda parameters: copied across
    opt2 = tl.optim.Adam(model2.parameters(), lr=1e-2)
    opt2.load_state_dict(on_cpu["optimizer"])
    x = tl.tensor(randn(4, 6), device="cuda")
    for m, o in ((model, opt), (model2, opt2)):
        o.zero_grad()
        F.mse_loss(m(x), tl.zeros(4, 3, device="cuda")).backward()
        o.step()
    for (name, a), (_, b) in zip(model.state_dict().items(), model2.state_dict().items()):
        assert b.device.type == "cuda", f"{name} left cuda after load_state_dict"
        np.testing.assert_array_equal(b.cpu().numpy(), a.cpu().numpy(), err_msg=name)
