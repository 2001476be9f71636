"""ReLU's gradient kernel (``Device.relu_backward``: the CPU's Numba ufunc and the plain-xp
reference) against torch: values at 0, -0, +-inf and NaN in the output and in the upstream
gradient, first and second order gradients, strided / broadcast operands and float16."""

import warnings

import numpy as np
import pytest
import torch

import tinygrad_lite as tl
from tinygrad_lite.device import CPUDevice, Device
from tinygrad_lite.kernels.cpu import elementwise

PATHS = ["numba", "reference"]
DTYPES = [(np.float64, torch.float64), (np.float32, torch.float32)]
SPECIALS = [0.0, -0.0, np.inf, -np.inf, np.nan]


@pytest.fixture(params=PATHS)
def path(request, monkeypatch):
    """Run CPUDevice.relu_backward as it is (Numba) or as the Device base reference."""
    if request.param == "reference":
        monkeypatch.setattr(CPUDevice, "relu_backward", Device.relu_backward)
    return request.param


def with_specials(rng, shape, dtype):
    """Standard normal values with about a third replaced by 0, -0, +-inf and NaN."""
    x = rng.standard_normal(shape)
    spots = rng.random(shape) < 0.35
    x[spots] = rng.choice(SPECIALS, int(spots.sum()))
    return x.astype(dtype)


@pytest.mark.filterwarnings("ignore:invalid value encountered in reduce")  # inf - inf in sum
@pytest.mark.parametrize("dtype, torch_dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("transpose", [False, True], ids=["contiguous", "strided"])
def test_relu_first_and_second_order_match_torch(path, dtype, torch_dtype, transpose):
    rng = np.random.default_rng(0)
    x = with_specials(rng, (3, 4, 5, 6), dtype)
    g = with_specials(rng, (3, 4, 5, 6), dtype)  # NaN/inf upstream where y <= 0 must give 0
    v = rng.standard_normal((3, 4, 5, 6)).astype(dtype)
    if transpose:  # non-contiguous operands (and a non-contiguous upstream gradient)
        x, g, v = (a.transpose(3, 1, 0, 2) for a in (x, g, v))
    a, b = tl.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ga, gb = tl.tensor(g, requires_grad=True), torch.tensor(g, requires_grad=True)
    ya, yb = a.relu(), b.relu()
    tl.testing.assert_close(ya, yb, equal_nan=True)
    (da,) = tl.autograd.grad(ya, a, ga, create_graph=True)
    (db,) = torch.autograd.grad(yb, b, gb, create_graph=True)
    tl.testing.assert_close(da, db, equal_nan=True)
    # double backward: linear in the upstream gradient
    (sa,) = tl.autograd.grad((da * tl.tensor(v)).sum(), ga)
    (sb,) = torch.autograd.grad((db * torch.tensor(v)).sum(), gb)
    tl.testing.assert_close(sa, sb, equal_nan=True)


def test_kernel_equals_torch_threshold_backward_and_reference():
    # the kernel alone on a large array (the SIMD body and its tail), against torch's op and
    # against the reference bit for bit; a NaN output raises no RuntimeWarning
    rng = np.random.default_rng(1)
    for dtype in (np.float32, np.float64):
        y = np.maximum(with_specials(rng, (7, 1001), dtype), 0)
        y[0, :5] = SPECIALS  # NaN output, both zeros, +inf (maximum(-inf, 0) = 0)
        g = with_specials(rng, y.shape, dtype)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            ours = CPUDevice.relu_backward(tl.tensor(y).device, g, y)
        assert ours.dtype == dtype and ours.shape == y.shape
        expected = torch.ops.aten.threshold_backward(torch.tensor(g), torch.tensor(y), 0)
        np.testing.assert_array_equal(ours, expected.numpy())
        np.testing.assert_array_equal(Device.relu_backward(tl.tensor(y).device, g, y), ours)


def test_cpu_float_path_runs_the_kernel(monkeypatch):
    calls = []
    kernel = elementwise.relu_backward
    monkeypatch.setattr(elementwise, "relu_backward", lambda g, y: calls.append(1) or kernel(g, y))
    for dtype in (tl.float32, tl.float64, tl.float16):
        x = tl.tensor([[-1.0, 0.0, 2.0]], dtype=dtype, requires_grad=True)
        x.relu().sum().backward()
        assert x.grad.tolist() == [[0.0, 0.0, 1.0]]
    assert len(calls) == 2  # float16: the reference


def test_broadcast_upstream_gradient_and_float16(path):
    # relu(x).sum().backward(): the upstream gradient is a broadcast (stride 0) view
    x = with_specials(np.random.default_rng(2), (4, 9), np.float32)
    for dtype, torch_dtype in [(np.float32, torch.float32), (np.float16, torch.float16)]:
        a = tl.tensor(x.astype(dtype), requires_grad=True)
        b = torch.tensor(x.astype(dtype), requires_grad=True)
        (a.relu() * 3).sum().backward()
        (b.relu() * 3).sum().backward()
        assert a.grad.dtype == a.dtype
        tl.testing.assert_close(a.grad, b.grad, equal_nan=True)
