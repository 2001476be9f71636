"""conv1d/conv2d, their three primitives and the Conv1d/Conv2d modules against torch.

Every value and gradient is compared with torch's (float64 tight, float32 with torch's defaults)
on three array paths: the CPU default (NumPy im2col, Numba col2im), the plain-xp reference of the
Device base class (what CuPy runs) and the Numba im2col; and on both cols layouts (one GEMM per
image, one GEMM over the batch).
"""

import contextlib
import importlib
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_lite as tl
import tinygrad_lite.nn as nn
from tinygrad_lite.errors import DTypeError, ShapeError
from tinygrad_lite.kernels.cpu import conv as kernels
from tinygrad_lite.nn import functional as F
from tinygrad_lite.ops import conv_reference as conv_ops
from tinygrad_lite.testing import assert_close

from .helpers import DTYPE_IDS, DTYPES

device_mod = importlib.import_module("tinygrad_lite.device")
ENTRY_POINTS = ("conv2d_forward", "conv2d_backward_data", "conv2d_backward_weight")
PATHS = ("default", "reference", "numba_im2col")
# torch warns that its own "same" with an even kernel copies the input; not our concern here
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")


@contextlib.contextmanager
def array_path(path: str, flat: bool):
    """Route the CPU device's conv entry points through ``path`` and force a cols layout."""
    cpu = device_mod.CPUDevice
    saved = {name: cpu.__dict__.get(name) for name in ENTRY_POINTS}
    old_flat = conv_ops.FLAT_BELOW
    conv_ops.FLAT_BELOW = 10**9 if flat else 0
    if path == "reference":
        for name in ENTRY_POINTS:
            setattr(cpu, name, getattr(device_mod.Device, name))
    elif path == "numba_im2col":
        im2col, col2im = kernels.im2col_into, kernels.col2im_into
        cpu.conv2d_forward = lambda self, x, w, *a: conv_ops.conv2d_forward_reference(
            np, x, w, *a, im2col=im2col)
        cpu.conv2d_backward_weight = lambda self, x, g, *a: \
            conv_ops.conv2d_backward_weight_reference(np, x, g, *a, im2col=im2col)
        cpu.conv2d_backward_data = lambda self, g, w, *a: \
            conv_ops.conv2d_backward_data_reference(np, g, w, *a, col2im=col2im)
    try:
        yield
    finally:
        conv_ops.FLAT_BELOW = old_flat
        for name, fn in saved.items():
            if fn is None:
                if name in cpu.__dict__:
                    delattr(cpu, name)
            else:
                setattr(cpu, name, fn)


@st.composite
def conv_configs(draw, max_side=7):
    """conv2d hyper-parameters and shapes whose output is non-empty; output sizes where the
    stride does not divide (H + 2p - d(k-1) - 1), 1x1 kernels, kernels as large as the padded
    input, depthwise groups and non-square everything come up."""
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    c_in = groups * draw(st.integers(1, 2))
    c_out = groups * draw(st.integers(1, 2))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    spatial = tuple(draw(st.integers(max(1, d * (k - 1) + 1 - 2 * p), max_side))
                    for k, d, p in zip(kernel, dilation, padding))
    return {"x": (draw(st.integers(1, 3)), c_in) + spatial, "w": (c_out, c_in // groups) + kernel,
            "bias": draw(st.booleans()),
            "kw": {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}}


def both(shape, dtypes, rng, requires_grad=True):
    data = rng.standard_normal(shape)
    return (tl.tensor(data, dtype=dtypes[0], requires_grad=requires_grad),
            torch.tensor(data, dtype=dtypes[1], requires_grad=requires_grad))


def check_conv(fn, fn_t, cfg, dtypes, seed, **tol):
    """Forward and the gradients of x, w, b under a random upstream gradient, vs torch."""
    rng = np.random.default_rng(seed)
    x, xt = both(cfg["x"], dtypes, rng)
    w, wt = both(cfg["w"], dtypes, rng)
    b, bt = both((cfg["w"][0],), dtypes, rng) if cfg["bias"] else (None, None)
    y, yt = fn(x, w, b, **cfg["kw"]), fn_t(xt, wt, bt, **cfg["kw"])
    assert_close(y, yt.detach(), **tol)
    g = rng.standard_normal(tuple(yt.shape))
    y.backward(tl.tensor(g, dtype=dtypes[0]))
    yt.backward(torch.tensor(g, dtype=dtypes[1]))
    for name, ours, theirs in (("x", x, xt), ("w", w, wt), ("b", b, bt)):
        if ours is not None:
            assert_close(ours.grad, theirs.grad, msg=lambda m, n=name: f"grad of {n}: {m}",
                         **tol)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("dtypes", DTYPES, ids=DTYPE_IDS)
@given(cfg=conv_configs(), flat=st.booleans(), seed=st.integers(0, 2**16))
def test_conv2d_matches_torch(path, dtypes, cfg, flat, seed):
    with array_path(path, flat):
        check_conv(F.conv2d, torch.nn.functional.conv2d, cfg, dtypes, seed)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("flat", [False, True], ids=["batched", "flat"])
def test_conv2d_mnist_shapes_float32(path, flat):
    """The MNIST CNN's layers at batch 8 (real sizes, both layouts, each array path). The weight
    grads sum up to 8*26*26 products of N(0, 1) values and reach ~300, so float32 summation order
    alone moves them by ~1e-4: the tolerance is scaled to that (torch's defaults assume O(1)
    values); an indexing mistake would be off by O(1)."""
    for xs, ws in (((8, 1, 28, 28), (32, 1, 3, 3)), ((8, 32, 13, 13), (64, 32, 3, 3)),
                   ((8, 64, 5, 5), (64, 64, 3, 3))):
        cfg = {"x": xs, "w": ws, "bias": True, "kw": {}}
        with array_path(path, flat):
            check_conv(F.conv2d, torch.nn.functional.conv2d, cfg, DTYPES[1], 0, atol=1e-3,
                       rtol=1e-5)


@pytest.mark.parametrize("kw", [{"padding": 0}, {"stride": 2, "padding": 0},
                                {"groups": 2}, {"padding": 1}],
                         ids=["plain", "strided", "grouped", "padded"])
def test_conv2d_pointwise(kw):
    """1x1 kernels (the no-im2col path when stride 1 and unpadded)."""
    cfg = {"x": (2, 4, 5, 3), "w": (6, 4 // kw.get("groups", 1), 1, 1), "bias": True, "kw": kw}
    for dtypes in DTYPES:
        check_conv(F.conv2d, torch.nn.functional.conv2d, cfg, dtypes, 1)


@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("kernel,dilation", [((2, 4), (1, 1)), ((3, 2), (2, 1)), ((1, 3), 1)])
def test_conv2d_string_padding(padding, kernel, dilation):
    """"same" with even kernels pads asymmetrically (the extra row/column at the end)."""
    cfg = {"x": (2, 2, 6, 7), "w": (3, 2) + kernel, "bias": False,
           "kw": {"padding": padding, "dilation": dilation}}
    check_conv(F.conv2d, torch.nn.functional.conv2d, cfg, DTYPES[0], 2)


def test_conv2d_unbatched_and_empty_batch():
    cfg = {"x": (3, 6, 5), "w": (4, 3, 2, 2), "bias": True, "kw": {"stride": (2, 1)}}
    check_conv(F.conv2d, torch.nn.functional.conv2d, cfg, DTYPES[0], 3)
    x, w = tl.zeros(0, 3, 6, 5), tl.ones(4, 3, 2, 2)
    assert tuple(F.conv2d(x, w).shape) == (0, 4, 5, 4)


@st.composite
def conv1d_configs(draw):
    groups = draw(st.sampled_from([1, 2]))
    k, d = draw(st.integers(1, 4)), draw(st.integers(1, 2))
    stride = draw(st.integers(1, 3))
    padding = draw(st.sampled_from(["same", "valid", 0, 1, 2])) if stride == 1 else \
        draw(st.integers(0, 2))
    pad = 0 if isinstance(padding, str) else padding
    length = draw(st.integers(max(1, d * (k - 1) + 1 - 2 * pad), 9))
    batch = draw(st.sampled_from([(), (1,), (3,)]))
    return {"x": batch + (2 * groups, length), "w": (groups * draw(st.integers(1, 2)), 2, k),
            "bias": draw(st.booleans()),
            "kw": {"stride": stride, "padding": padding, "dilation": d, "groups": groups}}


@pytest.mark.parametrize("dtypes", DTYPES, ids=DTYPE_IDS)
@given(cfg=conv1d_configs(), seed=st.integers(0, 2**16))
def test_conv1d_matches_torch(dtypes, cfg, seed):
    check_conv(F.conv1d, torch.nn.functional.conv1d, cfg, dtypes, seed)


# ---- double backward ---------------------------------------------------------------------------
def check_double_backward(fn, fn_t, cfg, seed):
    """Differentiate (gx * r).sum() + (gw * s).sum() of the create_graph gradients wrt x, w and
    the upstream gradient (so every primitive's backward in both arguments is exercised)."""
    rng = np.random.default_rng(seed)
    dt = DTYPES[0]
    x, xt = both(cfg["x"], dt, rng)
    w, wt = both(cfg["w"], dt, rng)
    b, bt = both((cfg["w"][0],), dt, rng) if cfg["bias"] else (None, None)
    y, yt = fn(x, w, b, **cfg["kw"]), fn_t(xt, wt, bt, **cfg["kw"])
    g, gt = both(tuple(yt.shape), dt, rng)
    gx, gw = tl.autograd.grad(y, (x, w), g, create_graph=True)
    gxt, gwt = torch.autograd.grad(yt, (xt, wt), gt, create_graph=True)
    assert_close(gx, gxt.detach())
    assert_close(gw, gwt.detach())
    r, s = rng.standard_normal(cfg["x"]), rng.standard_normal(cfg["w"])
    out = (gx * tl.tensor(r)).sum() + (gw * tl.tensor(s) * gw).sum()
    out_t = (gxt * torch.tensor(r)).sum() + (gwt * torch.tensor(s) * gwt).sum()
    ours = tl.autograd.grad(out, (x, w, g))
    theirs = torch.autograd.grad(out_t, (xt, wt, gt))
    for name, a, e in zip(("x", "w", "upstream"), ours, theirs):
        assert_close(a, e, msg=lambda m, n=name: f"second-order grad of {n}: {m}")


@settings(max_examples=15)
@given(cfg=conv_configs(max_side=6), flat=st.booleans(), seed=st.integers(0, 2**16))
def test_conv2d_double_backward(cfg, flat, seed):
    with array_path("default", flat):
        check_double_backward(F.conv2d, torch.nn.functional.conv2d, cfg, seed)


def test_conv1d_double_backward_same_padding():
    cfg = {"x": (2, 2, 7), "w": (3, 2, 4), "bias": True, "kw": {"padding": "same"}}
    check_double_backward(F.conv1d, torch.nn.functional.conv1d, cfg, 4)


def test_third_order_gradient_of_weight():
    """d3/dw3 of sum(conv(x, w)^3)-style functions stays inside the three primitives."""
    rng = np.random.default_rng(5)
    x, xt = both((2, 2, 5, 5), DTYPES[0], rng)
    w, wt = both((2, 2, 3, 3), DTYPES[0], rng)
    (g1,) = tl.autograd.grad((F.conv2d(x, w) ** 3).sum(), (w,), create_graph=True)
    (g1t,) = torch.autograd.grad((torch.nn.functional.conv2d(xt, wt) ** 3).sum(), (wt,),
                                 create_graph=True)
    (g2,) = tl.autograd.grad(g1.sum(), (w,), create_graph=True)
    (g2t,) = torch.autograd.grad(g1t.sum(), (wt,), create_graph=True)
    (g3,) = tl.autograd.grad((g2 * g2).sum(), (x,))
    (g3t,) = torch.autograd.grad((g2t * g2t).sum(), (xt,))
    assert_close(g3, g3t)


def test_integer_conv_matches_torch():
    """Integer dtypes convolve exactly (the reference path), as torch's CPU conv does."""
    rng = np.random.default_rng(8)
    xs, ws = rng.integers(-5, 5, (2, 4, 6, 5)), rng.integers(-5, 5, (4, 2, 3, 2))
    for dt, dtt in ((tl.int64, torch.int64), (tl.int32, torch.int32)):
        y = F.conv2d(tl.tensor(xs, dtype=dt), tl.tensor(ws, dtype=dt), stride=(2, 1), padding=1,
                     groups=2)
        yt = torch.nn.functional.conv2d(torch.tensor(xs, dtype=dtt), torch.tensor(ws, dtype=dtt),
                                        stride=(2, 1), padding=1, groups=2)
        assert y.dtype is dt
        np.testing.assert_array_equal(y.numpy(), yt.numpy())


def test_float16_uses_reference():
    """float16 has no Numba kernel: the reference path computes it; compare with float64."""
    rng = np.random.default_rng(6)
    xs, ws = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3))
    x, w = tl.tensor(xs, dtype=tl.float16, requires_grad=True), tl.tensor(ws, dtype=tl.float16)
    y = F.conv2d(x, w, padding=1)
    assert y.dtype is tl.float16
    y.sum().backward()
    xe = torch.tensor(xs.astype(np.float16).astype(np.float64), requires_grad=True)
    ye = torch.nn.functional.conv2d(xe, torch.tensor(ws.astype(np.float16).astype(np.float64)),
                                    padding=1)
    ye.sum().backward()
    assert_close(y.float(), ye.detach().float(), atol=2e-2, rtol=1e-2)
    assert_close(x.grad.float(), xe.grad.float(), atol=2e-2, rtol=1e-2)


# ---- errors ------------------------------------------------------------------------------------
def _t(*shape, dtype=None):
    return tl.ones(*shape, dtype=dtype or tl.float32), torch.ones(*shape, dtype={
        None: torch.float32, tl.float64: torch.float64, tl.bool: torch.bool}[dtype])


X4 = _t(1, 3, 5, 5)  # (ours, torch) pairs
W4 = _t(2, 3, 3, 3)
ERRORS = [  # (op, args, kwargs, error type, message regex)
    ("conv2d", (_t(3, 5), W4), {}, ShapeError,
     r"conv2d: expected 3-D \(unbatched\) or 4-D \(batched\) input, got input of shape \(3, 5\)"),
    ("conv2d", (X4, _t(2, 3, 3)), {}, ShapeError, r"conv2d: weight must be 4-D .* \(2, 3, 3\)"),
    ("conv2d", (_t(1, 4, 5, 5), W4), {}, ShapeError,
     r"conv2d: given groups=1 and weight of shape \(2, 3, 3, 3\), expected input of shape "
     r"\(1, 4, 5, 5\) to have 3 channels, got 4"),
    ("conv2d", (X4, _t(4, 1, 3, 3)), {"groups": 2}, ShapeError,
     r"groups=2 .* expected input .* to have 2 channels, got 3"),
    ("conv2d", (_t(1, 4, 5, 5), _t(3, 2, 3, 3)), {"groups": 2}, ShapeError,
     r"conv2d: expected the weight's out_channels to be a positive multiple of groups=2, got "
     r"weight of shape \(3, 2, 3, 3\)"),
    ("conv2d", (_t(1, 3, 2, 5), W4), {}, ShapeError,
     r"conv2d: kernel size \(3, 3\) \(dilated \(3, 3\)\) can't be greater than the padded "
     r"input size \(2, 5\)"),
    ("conv2d", (X4, W4), {"dilation": 3}, ShapeError, r"dilated \(7, 7\)\) .* \(5, 5\)"),
    ("conv2d", (X4, _t(2, 3, 3, 3, dtype=tl.float64)), {}, DTypeError,
     r"conv2d: expected input, weight and bias of the same dtype, got input float32, "
     r"weight float64"),
    ("conv2d", (X4, W4, _t(2, dtype=tl.float64)), {}, DTypeError, r"bias float64"),
    ("conv2d", (_t(1, 3, 5, 5, dtype=tl.bool), _t(2, 3, 3, 3, dtype=tl.bool)), {}, DTypeError,
     r"conv2d: not implemented for bool tensors"),
    ("conv2d", (X4, W4, _t(3)), {}, ShapeError, r"conv2d: bias must have shape \(2,\)"),
    ("conv2d", (X4, W4), {"stride": 0}, ShapeError, r"conv2d: stride must be positive"),
    ("conv2d", (X4, W4), {"stride": (1, -1)}, ShapeError, r"stride must be positive.*\(1, -1\)"),
    ("conv2d", (X4, W4), {"dilation": (0, 1)}, ShapeError, r"conv2d: dilation must be positive"),
    ("conv2d", (X4, W4), {"padding": -1}, ShapeError, r"conv2d: padding must be non-negative"),
    ("conv2d", (X4, W4), {"padding": "same", "stride": 2}, ShapeError,
     r"conv2d: padding='same' is not supported for strided convolutions"),
    ("conv2d", (X4, W4), {"padding": "full"}, ShapeError, r"conv2d: invalid padding string"),
    ("conv2d", (X4, W4), {"groups": 0}, ShapeError, r"conv2d: groups must be a positive"),
    ("conv2d", (X4, W4), {"stride": (1, 1, 1)}, ShapeError,
     r"conv2d: expected stride to be a single int or a tuple of 2 ints, got \(1, 1, 1\)"),
    ("conv2d", (X4, W4), {"stride": (1, 1.5)}, TypeError,
     r"conv2d: stride must be an int or a tuple of 2 ints"),
    ("conv1d", (_t(1, 3, 5, 5), _t(2, 3, 3)), {}, ShapeError,
     r"conv1d: expected 2-D \(unbatched\) or 3-D \(batched\) input"),
    ("conv1d", (_t(1, 3, 2), _t(2, 3, 3)), {}, ShapeError,
     r"conv1d: kernel size \(3,\) .* padded input size \(2,\)"),
    ("conv1d", (_t(1, 3, 5), _t(2, 3, 3)), {"padding": "same", "stride": 2}, ShapeError,
     r"conv1d: padding='same'"),
]


@pytest.mark.parametrize("op,args,kwargs,exc,match", ERRORS,
                         ids=[f"{e[0]}-{e[4][:30]}" for e in ERRORS])
def test_errors(op, args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        getattr(F, op)(*[a[0] for a in args], **kwargs)
    with pytest.raises((RuntimeError, ValueError, TypeError)):  # torch rejects it too
        getattr(torch.nn.functional, op)(*[a[1] for a in args], **kwargs)


@pytest.mark.parametrize("cls,args,kwargs,match", [
    ("Conv2d", (3, 4, 3), {"groups": 2}, "in_channels must be divisible by groups"),
    ("Conv2d", (4, 3, 3), {"groups": 2}, "out_channels must be divisible by groups"),
    ("Conv2d", (4, 4, 3), {"groups": 0}, "groups must be a positive integer"),
    ("Conv2d", (4, 4, 3), {"padding_mode": "mirror"}, "padding_mode must be one of"),
    ("Conv2d", (4, 4, 3), {"padding": "full"}, "invalid padding string"),
    ("Conv1d", (4, 4, 3), {"padding": "same", "stride": 2}, "padding='same' is not supported"),
])
def test_module_errors(cls, args, kwargs, match):
    with pytest.raises(ValueError, match=f"{cls}: {match}"):
        getattr(nn, cls)(*args, **kwargs)
    with pytest.raises(ValueError):
        getattr(torch.nn, cls)(*args, **kwargs)


# ---- modules -----------------------------------------------------------------------------------
MODULE_CONFIGS = [
    ("Conv2d", (1, 32, 3), {}),
    ("Conv2d", (4, 6, (3, 2)), {"stride": (2, 1), "padding": (1, 2), "dilation": (1, 2),
                                "groups": 2, "bias": False}),
    ("Conv2d", (3, 4, 4), {"padding": "same", "dilation": 2}),
    ("Conv2d", (3, 4, 3), {"padding": "valid"}),
    ("Conv2d", (2, 4, 3), {"padding": 2, "padding_mode": "reflect"}),
    ("Conv2d", (2, 4, (2, 3)), {"padding": "same", "padding_mode": "replicate"}),
    ("Conv2d", (2, 4, 3), {"padding": (1, 2), "stride": 2, "padding_mode": "circular"}),
    ("Conv2d", (4, 4, 3), {"groups": 4, "padding": 1}),
    ("Conv1d", (2, 4, 3), {}),
    ("Conv1d", (4, 6, 4), {"padding": "same", "groups": 2}),
    ("Conv1d", (2, 3, 3), {"padding": 2, "stride": 2, "padding_mode": "reflect"}),
    ("Conv1d", (2, 3, 5), {"padding": 1, "dilation": 2, "padding_mode": "circular",
                           "bias": False}),
]


@pytest.mark.parametrize("dtypes", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("cls,args,kwargs", MODULE_CONFIGS)
def test_module_matches_torch(cls, args, kwargs, dtypes):
    """repr, state_dict names/shapes, and with torch's state_dict loaded: output and every
    gradient, batched and unbatched."""
    ours = getattr(nn, cls)(*args, **kwargs, dtype=dtypes[0])
    ref = getattr(torch.nn, cls)(*args, **kwargs, dtype=dtypes[1])
    assert repr(ours) == repr(ref)
    theirs = ref.state_dict()
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in theirs.items()}
    ours.load_state_dict(theirs)
    rng = np.random.default_rng(7)
    spatial = (7, 6) if cls == "Conv2d" else (9,)
    for lead in ((2,), ()):
        x, xt = both(lead + (args[0],) + spatial, dtypes, rng)
        y, yt = ours(x), ref(xt)
        assert_close(y, yt.detach())
        g = rng.standard_normal(tuple(yt.shape))
        ours.zero_grad()
        ref.zero_grad()
        y.backward(tl.tensor(g, dtype=dtypes[0]))
        yt.backward(torch.tensor(g, dtype=dtypes[1]))
        assert_close(x.grad, xt.grad)
        params = dict(ref.named_parameters())
        for name, p in ours.named_parameters():
            assert_close(p.grad, params[name].grad, msg=lambda m, n=name: f"grad of {n}: {m}")


@pytest.mark.parametrize("cls,args,kwargs", [("Conv2d", (16, 32, 3), {}),
                                             ("Conv2d", (8, 64, (3, 2)), {"groups": 4}),
                                             ("Conv1d", (12, 256, 5), {})])
def test_module_init_distribution(cls, args, kwargs):
    """torch's init: weight and bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in/groups *
    kernel; torch's own module stays within the same bound (pins the formula)."""
    tl.manual_seed(0)
    ours = getattr(nn, cls)(*args, **kwargs)
    ref = getattr(torch.nn, cls)(*args, **kwargs)
    fan_in = args[0] // kwargs.get("groups", 1) * math.prod(ours.kernel_size)
    bound = 1 / math.sqrt(fan_in)
    for p, pt in ((ours.weight, ref.weight), (ours.bias, ref.bias)):
        vals = p.detach().numpy()
        assert np.abs(vals).max() <= bound
        assert float(pt.detach().abs().max()) <= bound
        assert np.abs(vals).max() > 0.8 * bound
        if vals.size > 1000:  # a uniform's std and mean
            assert abs(vals.std() - bound / math.sqrt(3)) < 0.05 * bound
            assert abs(vals.mean()) < 0.05 * bound
    assert ours.weight.shape == ref.weight.shape and ours.bias.shape == ref.bias.shape


def test_module_attributes_and_no_bias():
    ours, ref = nn.Conv2d(4, 8, 3, stride=2, groups=2, bias=False), \
        torch.nn.Conv2d(4, 8, 3, stride=2, groups=2, bias=False)
    for name in ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation",
                 "groups", "padding_mode"):
        assert getattr(ours, name) == getattr(ref, name), name
    assert ours.bias is None and list(ours.state_dict()) == ["weight"]
    assert [n for n, _ in ours.named_parameters()] == ["weight"]


@pytest.mark.parametrize("keep", [True, False], ids=["cols-kept", "cols-recomputed"])
def test_weight_grad_with_and_without_the_forwards_im2col(keep, monkeypatch):
    """The forward's im2col matrix is handed to the weight gradient when it is small enough
    (KEEP_COLS_BYTES) and recomputed otherwise; both give torch's gradients."""
    from tinygrad_lite.device import CPUDevice
    from tinygrad_lite.ops import conv as conv_primitives

    if not keep:
        monkeypatch.setattr(conv_primitives, "KEEP_COLS_BYTES", 0)
    seen = []
    original = CPUDevice.conv2d_backward_weight

    def spy(self, x, g, w_shape, stride, padding, dilation, groups, cols=None):
        seen.append(cols is not None)
        return original(self, x, g, w_shape, stride, padding, dilation, groups, cols)

    monkeypatch.setattr(CPUDevice, "conv2d_backward_weight", spy)
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 3, 9, 8)), rng.standard_normal((4, 3, 3, 3))
    xt, wt = tl.tensor(x, requires_grad=True), tl.tensor(w, requires_grad=True)
    F.conv2d(xt, wt, stride=2, padding=1).square().sum().backward()
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    torch.nn.functional.conv2d(tx, tw, stride=2, padding=1).square().sum().backward()
    assert seen == [keep]
    assert_close(xt.grad, tx.grad)
    assert_close(wt.grad, tw.grad)
