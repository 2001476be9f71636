"""Pooling against torch: max/avg/adaptive-avg pooling (2-D and 1-D), values, indices, gradients,
double backward, ties and NaN rules, modules and errors. Max/avg pooling run twice: through the
CPU device's Numba kernels and through the base-class (plain xp) references."""

import contextlib

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_lite as tl
from tinygrad_lite.device import CPUDevice, Device
from tinygrad_lite.nn import functional as F

from .helpers import DTYPE_IDS, DTYPES

KERNELS = ("max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward",
           "avg_pool2d_backward")
PATHS = ["numba", "reference"]


@contextlib.contextmanager
def kernel_path(path: str):
    """Run the CPU device's pooling on its Numba kernels or on the Device base references."""
    saved = {name: CPUDevice.__dict__[name] for name in KERNELS}
    if path == "reference":
        for name in KERNELS:
            setattr(CPUDevice, name, getattr(Device, name))
    try:
        yield
    finally:
        for name, fn in saved.items():
            setattr(CPUDevice, name, fn)


def run_both(ours, theirs, x, tl_dtype, torch_dtype, seed=0, with_grad=True, grad_tol=None):
    """Forward (and backward with a random upstream gradient) of ours and torch's on ``x``;
    compares outputs (tuples too: values and indices) and input gradients (``grad_tol``:
    (rtol, atol) instead of torch's defaults)."""
    a = tl.tensor(x, dtype=tl_dtype, requires_grad=with_grad)
    b = torch.tensor(x, dtype=torch_dtype, requires_grad=with_grad)
    ya, yb = ours(a), theirs(b)
    tl.testing.assert_close(ya, yb, equal_nan=True)
    if not with_grad:
        return
    va, vb = (ya[0], yb[0]) if isinstance(yb, tuple) else (ya, yb)
    g = np.random.default_rng(seed).standard_normal(tuple(vb.shape))
    (ga,) = tl.autograd.grad(va, a, tl.tensor(g, dtype=tl_dtype))
    (gb,) = torch.autograd.grad(vb, b, torch.tensor(g, dtype=torch_dtype))
    rtol, atol = grad_tol or (None, None)
    tl.testing.assert_close(ga, gb, equal_nan=True, rtol=rtol, atol=atol)


def torch_raises(fn, *args):
    try:
        fn(*args)
    except RuntimeError:
        return True
    return False


@st.composite
def pool_cases(draw, dilation=True):
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    h, w = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    # stride up to the kernel (+1): overlapping windows are common, gaps possible
    stride = (draw(st.integers(1, kernel[0] + 1)), draw(st.integers(1, kernel[1] + 1)))
    stride = None if draw(st.integers(0, 3)) == 0 else stride
    padding = (draw(st.integers(0, kernel[0] // 2)), draw(st.integers(0, kernel[1] // 2)))
    dil = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if dilation else (1, 1)
    ceil_mode = draw(st.booleans())
    ties = draw(st.booleans())  # repeated small integers: many ties inside windows
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 3, (n, c, h, w)).astype(float) if ties else \
        rng.standard_normal((n, c, h, w))
    return x, kernel, stride, padding, dil, ceil_mode, seed


@pytest.mark.parametrize("path", PATHS)
@given(case=pool_cases())
def test_max_pool2d_matches_torch(path, case):
    x, kernel, stride, padding, dilation, ceil_mode, seed = case

    def call(mod, t):
        return mod.max_pool2d(t, kernel, stride, padding, dilation, ceil_mode,
                              return_indices=True)
    if torch_raises(call, TF, torch.tensor(x)):
        with pytest.raises(RuntimeError, match="max_pool2d"):
            call(F, tl.tensor(x))
        return
    if call(TF, torch.tensor(x))[1].max() >= x.shape[2] * x.shape[3]:
        return check_windows_missing_the_input(call, x, path)
    with kernel_path(path):
        for tl_dt, torch_dt in DTYPES:
            run_both(lambda t: call(F, t), lambda t: call(TF, t), x, tl_dt, torch_dt, seed)


def check_windows_missing_the_input(call, x, path):
    """A dilated window can miss every input row or column (H = 1, padding 1, dilation 2):
    torch gives -inf and an index past the plane, and its backward then writes outside the
    gradient (undefined behaviour, it crashes the process), so the expected gradient is the
    scatter-add of g at torch's in-plane indices only, built with torch ops."""
    values, idx = call(TF, torch.tensor(x))
    g = torch.tensor(np.random.default_rng(0).standard_normal(tuple(values.shape)))
    inside = idx < x.shape[2] * x.shape[3]
    expected = torch.zeros(x.shape[0], x.shape[1], x.shape[2] * x.shape[3], dtype=g.dtype)
    expected.scatter_add_(2, torch.where(inside, idx, 0).flatten(2),
                          torch.where(inside, g, 0).flatten(2))
    with kernel_path(path):
        a = tl.tensor(x, requires_grad=True)
        ours = call(F, a)
        tl.testing.assert_close(ours, (values, idx))
        (grad,) = tl.autograd.grad(ours[0], a, tl.tensor(g.numpy()), create_graph=True)
        tl.testing.assert_close(grad, expected.reshape(x.shape))
        # double backward: the gather at in-plane indices, zero for windows missing the input
        gg = tl.tensor(g.numpy(), requires_grad=True)
        (grad,) = tl.autograd.grad(call(F, a)[0], a, gg, create_graph=True)
        v = np.random.default_rng(1).standard_normal(x.shape)
        (second,) = tl.autograd.grad((grad * tl.tensor(v)).sum(), gg)
        gathered = torch.tensor(v).flatten(2).gather(2, torch.where(inside, idx, 0).flatten(2))
        tl.testing.assert_close(second, torch.where(inside, gathered.reshape(idx.shape), 0))


@pytest.mark.parametrize("path", PATHS)
@given(case=pool_cases(dilation=False), count_include_pad=st.booleans(),
       divisor=st.one_of(st.none(), st.integers(1, 5)))
def test_avg_pool2d_matches_torch(path, case, count_include_pad, divisor):
    x, kernel, stride, padding, _, ceil_mode, seed = case

    def call(mod, t):
        return mod.avg_pool2d(t, kernel, stride, padding, ceil_mode, count_include_pad, divisor)
    if torch_raises(call, TF, torch.tensor(x)):
        with pytest.raises(RuntimeError, match="avg_pool2d"):
            call(F, tl.tensor(x))
        return
    with kernel_path(path):
        for tl_dt, torch_dt in DTYPES:
            run_both(lambda t: call(F, t), lambda t: call(TF, t), x, tl_dt, torch_dt, seed)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("dtypes", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("shape, args", [
    ((2, 3, 8, 9), dict(kernel_size=3, stride=1)),                  # overlapping windows
    ((1, 2, 7, 7), dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 1))),
    ((2, 1, 5, 6), dict(kernel_size=(5, 6))),                       # kernel == input size
    ((1, 1, 6, 6), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ((2, 3, 11, 11), dict(kernel_size=2)),                          # odd: last row/col dropped
])
def test_fixed_shapes_values_indices_grads(path, dtypes, shape, args):
    x = np.random.default_rng(1).standard_normal(shape)
    with kernel_path(path):
        run_both(lambda t: F.max_pool2d(t, **args, return_indices=True),
                 lambda t: TF.max_pool2d(t, **args, return_indices=True), x, *dtypes)
        run_both(lambda t: F.avg_pool2d(t, **args), lambda t: TF.avg_pool2d(t, **args), x,
                 *dtypes)


@pytest.mark.parametrize("path", PATHS)
def test_max_pool_ties_pick_torchs_index(path):
    x = np.zeros((1, 2, 5, 5))
    x[0, 1] = [[1, 2, 2, 1, 0], [2, 2, 1, 2, 2], [0, 2, 2, 0, 2], [1, 1, 1, 1, 1], [2, 0, 2, 2, 0]]
    with kernel_path(path):
        for kw in (dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1),
                   dict(kernel_size=2, stride=1, dilation=2), dict(kernel_size=3, ceil_mode=True)):
            run_both(lambda t: F.max_pool2d(t, **kw, return_indices=True),
                     lambda t: TF.max_pool2d(t, **kw, return_indices=True),
                     x, tl.float64, torch.float64)
        # all zeros: every window's first position (row-major), as torch
        _, idx = F.max_pool2d(tl.zeros(1, 1, 4, 4), 2, return_indices=True)
        assert idx.tolist() == [[[[0, 2], [8, 10]]]]


@pytest.mark.parametrize("path", PATHS)
def test_dilated_window_missing_the_input(path):
    x = np.random.default_rng(9).standard_normal((2, 2, 1, 3))
    check_windows_missing_the_input(
        lambda mod, t: mod.max_pool2d(t, (2, 1), 1, (1, 0), (2, 1), return_indices=True), x, path)


@pytest.mark.parametrize("path", PATHS)
def test_max_pool_nan_and_inf_follow_torch(path):
    nan, inf = float("nan"), float("inf")
    x = np.array([[[[1, 3, 3, 1], [3, nan, 2, nan], [0, 0, -inf, -inf], [0, 0, -inf, -inf]]]])
    with kernel_path(path):
        for kw in (dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1),
                   dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)):
            run_both(lambda t: F.max_pool2d(t, **kw, return_indices=True),
                     lambda t: TF.max_pool2d(t, **kw, return_indices=True),
                     x, tl.float32, torch.float32)
        # a window holding two NaNs reports the last one; an all -inf window its first position
        _, idx = F.max_pool2d(tl.tensor(x), 3, stride=1, padding=1, return_indices=True)
        assert idx.tolist()[0][0][0][2] == 7 and idx.tolist()[0][0][3][3] == 10
        _, idx = F.max_pool2d(tl.full((1, 1, 3, 3), -inf), 3, 2, 1, return_indices=True)
        assert idx.tolist() == [[[[0, 1], [3, 4]]]]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("shape", [(2, 3, 6, 40), (1, 2, 7, 37)])  # 37: last column dropped
def test_max_pool_2x2_fast_path_ties_nan_inf(path, shape):
    # kernel 2, stride 2, no padding: the CPU's vectorised kernel (rows of >= 16 windows use
    # the SIMD body, the rest its scalar tail); ties, NaNs and -inf at random spots
    rng = np.random.default_rng(4)
    x = rng.integers(-1, 2, shape).astype(float)
    x[rng.random(shape) < 0.1] = float("nan")
    x[rng.random(shape) < 0.1] = -float("inf")
    x[0, 0, :2, :4] = -float("inf")  # an all -inf window: its first position
    x[0, 0, 2:4, :2] = [[float("nan"), 1], [0, float("nan")]]  # two NaNs: the last one
    with kernel_path(path):
        for dtypes in DTYPES:
            run_both(lambda t: F.max_pool2d(t, 2, return_indices=True),
                     lambda t: TF.max_pool2d(t, 2, return_indices=True), x, *dtypes)


def _double_backward(ours, theirs, x, seed=0):
    """grad_x f(x) for upstream g, then d/dg <grad_x, v>, against torch (create_graph=True)."""
    rng = np.random.default_rng(seed)
    a, b = tl.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out_shape = tuple(theirs(b).shape)
    g, v = rng.standard_normal(out_shape), rng.standard_normal(x.shape)
    ga, gb = tl.tensor(g, requires_grad=True), torch.tensor(g, requires_grad=True)
    (da,) = tl.autograd.grad(ours(a), a, ga, create_graph=True)
    (db,) = torch.autograd.grad(theirs(b), b, gb, create_graph=True)
    tl.testing.assert_close(da, db)
    second_a = tl.autograd.grad((da * tl.tensor(v)).sum(), ga, create_graph=True)
    second_b = torch.autograd.grad((db * torch.tensor(v)).sum(), gb, create_graph=True)
    tl.testing.assert_close(second_a, second_b)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("fn, kw", [
    ("max_pool2d", dict(kernel_size=3, stride=1, padding=1)),
    ("max_pool2d", dict(kernel_size=2, dilation=2, ceil_mode=True)),
    ("avg_pool2d", dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)),
    ("avg_pool2d", dict(kernel_size=2, stride=1, divisor_override=3)),
    ("adaptive_avg_pool2d", dict(output_size=(3, 4))),
])
def test_double_backward_matches_torch(path, fn, kw):
    x = np.random.default_rng(2).standard_normal((2, 2, 6, 7))
    with kernel_path(path):
        _double_backward(lambda t: getattr(F, fn)(t, **kw), lambda t: getattr(TF, fn)(t, **kw), x)


@pytest.mark.parametrize("dtypes", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("shape, size", [
    ((2, 3, 7, 5), (3, 2)), ((2, 3, 7, 5), (7, 5)), ((1, 2, 5, 5), 7), ((2, 2, 6, 9), (None, 4)),
    ((2, 2, 6, 9), (4, None)), ((2, 4, 7, 7), 1), ((2, 2, 8, 6), (4, 3)), ((3, 10, 7), (3, 4)),
    ((3, 8, 6), (4, 3)), ((3, 5, 4), 1),
])
def test_adaptive_avg_pool2d_matches_torch(dtypes, shape, size):
    x = np.random.default_rng(3).standard_normal(shape)
    run_both(lambda t: F.adaptive_avg_pool2d(t, size), lambda t: TF.adaptive_avg_pool2d(t, size),
             x, *dtypes)


def test_adaptive_output_size_zero_is_empty_as_torch():
    x = np.ones((2, 3, 4, 4))
    run_both(lambda t: F.adaptive_avg_pool2d(t, (0, 2)),
             lambda t: TF.adaptive_avg_pool2d(t, (0, 2)), x, tl.float32, torch.float32,
             with_grad=False)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("dtypes", DTYPES, ids=DTYPE_IDS)
def test_pool1d_matches_torch(path, dtypes):
    x = np.random.default_rng(4).standard_normal((2, 3, 9))
    with kernel_path(path):
        for xs in (x, x[0]):
            run_both(lambda t: F.max_pool1d(t, 3, 2, 1, 2, True, True),
                     lambda t: TF.max_pool1d(t, 3, 2, 1, 2, True, True), xs, *dtypes)
            run_both(lambda t: F.avg_pool1d(t, 4, 2, 2, True, False),
                     lambda t: TF.avg_pool1d(t, 4, 2, 2, True, False), xs, *dtypes)
            for size in (4, 3, 1, 12):  # uneven, even, 1, larger than the input
                run_both(lambda t: F.adaptive_avg_pool1d(t, size),
                         lambda t: TF.adaptive_avg_pool1d(t, size), xs, *dtypes)


@pytest.mark.parametrize("path", PATHS)
def test_unbatched_noncontiguous_and_empty_batch(path):
    x = np.random.default_rng(5).standard_normal((3, 6, 8))
    with kernel_path(path):
        run_both(lambda t: F.max_pool2d(t, 2, return_indices=True),
                 lambda t: TF.max_pool2d(t, 2, return_indices=True), x, tl.float64, torch.float64)
        run_both(lambda t: F.avg_pool2d(t.transpose(1, 2), 3, 2, 1),
                 lambda t: TF.avg_pool2d(t.transpose(1, 2), 3, 2, 1), x, tl.float32,
                 torch.float32)
        empty = np.zeros((0, 2, 4, 4))
        run_both(lambda t: F.max_pool2d(t, 2, return_indices=True),
                 lambda t: TF.max_pool2d(t, 2, return_indices=True), empty, tl.float32,
                 torch.float32, with_grad=False)


@pytest.mark.parametrize("tl_dt, torch_dt", [(tl.float16, torch.float16),
                                             (tl.int64, torch.int64)])
def test_other_dtypes_use_the_reference(tl_dt, torch_dt):
    x = np.random.default_rng(6).integers(-9, 9, (2, 2, 5, 6)).astype(float)
    grad = tl_dt is tl.float16
    # overlapping windows add several float16 gradients: torch rounds after every add, ours
    # (max: one float64 bincount; avg: per window offset) in another order, so allow 2 ulps
    tol = (1e-3, 2e-3)
    run_both(lambda t: F.max_pool2d(t, 3, 2, 1, return_indices=True),
             lambda t: TF.max_pool2d(t, 3, 2, 1, return_indices=True), x, tl_dt, torch_dt,
             with_grad=grad, grad_tol=tol)
    run_both(lambda t: F.avg_pool2d(t, 2, 1, 1, divisor_override=3),
             lambda t: TF.avg_pool2d(t, 2, 1, 1, divisor_override=3), x, tl_dt, torch_dt,
             with_grad=grad, grad_tol=tol)


@pytest.mark.parametrize("args", [
    (2,), ((2, 3), 1, 1, 2, True, True), (3, None, 1, 1, False, False)])
def test_modules_match_torch(args):
    x = np.random.default_rng(7).standard_normal((2, 3, 7, 8))
    pairs = [(tl.nn.MaxPool2d(*args), torch.nn.MaxPool2d(*args))]
    avg_args = args[:3] + args[4:5]  # kernel, stride, padding, ceil_mode
    pairs.append((tl.nn.AvgPool2d(*avg_args, count_include_pad=False, divisor_override=None),
                  torch.nn.AvgPool2d(*avg_args, count_include_pad=False)))
    pairs.append((tl.nn.AdaptiveAvgPool2d((None, 3)), torch.nn.AdaptiveAvgPool2d((None, 3))))
    for ours, theirs in pairs:
        assert str(ours) == str(theirs)
        for attr in vars(theirs):
            if not attr.startswith("_") and attr != "training":
                assert getattr(ours, attr) == getattr(theirs, attr), attr
        run_both(ours, theirs, x, tl.float32, torch.float32)


def test_1d_modules_match_torch():
    x = np.random.default_rng(8).standard_normal((2, 3, 10))
    for ours, theirs in [(tl.nn.MaxPool1d(3, 2, 1), torch.nn.MaxPool1d(3, 2, 1)),
                         (tl.nn.AvgPool1d(3, 2, 1), torch.nn.AvgPool1d(3, 2, 1)),
                         (tl.nn.AdaptiveAvgPool1d(4), torch.nn.AdaptiveAvgPool1d(4))]:
        assert str(ours) == str(theirs)
        run_both(ours, theirs, x, tl.float64, torch.float64)


@pytest.mark.parametrize("call, match", [
    (lambda: F.max_pool2d(tl.zeros(3, 3), 2),
     r"max_pool2d: expected a \(C, H, W\) or .*got shape \(3, 3\)"),
    (lambda: F.avg_pool2d(tl.zeros(1, 1, 1, 3, 3), 2), r"avg_pool2d: .*\(1, 1, 1, 3, 3\)"),
    (lambda: F.max_pool2d(tl.zeros(1, 1, 4, 4), 2, padding=2),
     r"max_pool2d: pad should be at most half of kernel size.*\(2, 2\)"),
    (lambda: F.avg_pool2d(tl.zeros(1, 1, 3, 3), 5),
     r"avg_pool2d: input of shape \(1, 1, 3, 3\) is too small for kernel_size=\(5, 5\)"),
    (lambda: F.max_pool2d(tl.zeros(1, 1, 3, 3), 2, dilation=3),
     r"max_pool2d: input of shape \(1, 1, 3, 3\) is too small"),
    (lambda: F.max_pool2d(tl.zeros(1, 1, 3, 3), 0), "max_pool2d: kernel_size must be greater"),
    (lambda: F.max_pool2d(tl.zeros(1, 1, 3, 3), 2, stride=0), "max_pool2d: stride must be"),
    (lambda: F.max_pool2d(tl.zeros(1, 1, 3, 3), (2, 2, 2)), "max_pool2d: kernel_size must"),
    (lambda: F.max_pool2d(tl.zeros(1, 0, 3, 3), 2), r"max_pool2d: .*non-zero.*\(1, 0, 3, 3\)"),
    (lambda: F.avg_pool2d(tl.zeros(1, 1, 3, 3), 2, divisor_override=0),
     "avg_pool2d: divisor_override must be non-zero"),
    (lambda: F.adaptive_avg_pool2d(tl.zeros(2, 3, 4, 4), -1),
     r"adaptive_avg_pool2d: elements of output_size must be >= 0.*\(2, 3, 4, 4\)"),
    (lambda: F.adaptive_avg_pool2d(tl.zeros(4, 4), 2), r"adaptive_avg_pool2d: .*\(4, 4\)"),
    (lambda: F.adaptive_avg_pool2d(tl.zeros(1, 4, 4), (2,)),
     r"adaptive_avg_pool2d: output_size must be an int or a pair"),
    (lambda: F.max_pool1d(tl.zeros(1, 1, 3), 5), r"max_pool1d: input of shape"),
])
def test_errors_name_the_op_and_shapes(call, match):
    with pytest.raises(ValueError, match=match) as info:
        call()
    assert isinstance(info.value, RuntimeError)  # torch raises RuntimeError for these


def test_dtype_errors():
    with pytest.raises(TypeError, match="adaptive_avg_pool2d: expected a floating input"):
        F.adaptive_avg_pool2d(tl.zeros(1, 2, 3, 3, dtype=tl.int64), 2)
    with pytest.raises(TypeError, match="max_pool2d: not implemented for bool"):
        F.max_pool2d(tl.zeros(1, 2, 3, 3, dtype=tl.bool), 2)
