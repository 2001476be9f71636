"""Review regressions: conv/pooling behaviours a PyTorch port relies on, each against torch.

Argument forms torch accepts (1-tuples, NumPy ints), RuntimeError-compatible value errors,
zero-size batches through backward, non-finite values and float16 in adaptive average pooling,
non-contiguous weights, and retain_graph / in-place checks with the Conv2d primitive's cached
im2col matrix.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import tinygrad_lite as tl
import tinygrad_lite.nn as nn
from tinygrad_lite.nn import functional as F
from tinygrad_lite.testing import assert_close

RNG = np.random.default_rng(0)
X = RNG.standard_normal((2, 4, 7, 8))
W = RNG.standard_normal((6, 2, 3, 3))
B = RNG.standard_normal(6)


def pair(*arrays, grad=True):
    return ([tl.tensor(a, requires_grad=grad) for a in arrays],
            [torch.tensor(a, requires_grad=grad) for a in arrays])


@pytest.mark.parametrize("kw", [
    dict(stride=(2,), padding=(1,), dilation=(2,)),
    dict(stride=np.int64(2), padding=np.int32(1), dilation=(np.int64(1), 2), groups=np.int64(2)),
])
def test_conv2d_accepts_torchs_argument_forms(kw):
    (x, w, b), (xt, wt, bt) = pair(X, W, B)
    kw = {"groups": 2, **kw}
    y, yt = F.conv2d(x, w, b, **kw), TF.conv2d(xt, wt, bt, **kw)
    assert_close(y, yt.detach())
    g = RNG.standard_normal(yt.shape)
    y.backward(tl.tensor(g))
    yt.backward(torch.tensor(g))
    for ours, theirs in ((x, xt), (w, wt), (b, bt)):
        assert_close(ours.grad, theirs.grad)


def test_conv1d_accepts_numpy_ints():
    x, w = RNG.standard_normal((2, 3, 9)), RNG.standard_normal((4, 3, 3))
    kw = dict(stride=np.int64(2), padding=(np.int64(1),))
    assert_close(F.conv1d(tl.tensor(x), tl.tensor(w), **kw),
                 TF.conv1d(torch.tensor(x), torch.tensor(w), **kw))


@pytest.mark.parametrize("kw", [dict(stride=0), dict(dilation=(1, 0)), dict(padding=-1),
                                dict(padding="full"), dict(padding="same", stride=2),
                                dict(groups=0), dict(groups=4), dict(stride=(1, 1, 1))])
def test_conv2d_bad_values_raise_runtime_error_as_torch(kw):
    x, w = tl.tensor(X), tl.tensor(W)
    with pytest.raises(RuntimeError):
        TF.conv2d(torch.tensor(X), torch.tensor(W), **{"groups": 2, **kw})
    with pytest.raises(RuntimeError, match="conv2d"):
        F.conv2d(x, w, **{"groups": 2, **kw})


def test_conv2d_zero_out_channels_raises_as_torch():
    with pytest.raises(RuntimeError):
        TF.conv2d(torch.ones(1, 3, 5, 5), torch.ones(0, 3, 3, 3))
    with pytest.raises(RuntimeError, match="conv2d"):
        F.conv2d(tl.ones(1, 3, 5, 5), tl.ones(0, 3, 3, 3))


@pytest.mark.parametrize("wshape,kw", [((6, 2, 3, 3), dict(groups=2, padding=1)),
                                       ((6, 4, 1, 1), {}), ((6, 4, 1, 1), dict(stride=2))])
def test_conv2d_zero_batch_backward_matches_torch(wshape, kw):
    w_data = RNG.standard_normal(wshape)
    (x, w, b), (xt, wt, bt) = pair(np.zeros((0, 4, 5, 5)), w_data, B)
    y, yt = F.conv2d(x, w, b, **kw), TF.conv2d(xt, wt, bt, **kw)
    assert tuple(y.shape) == tuple(yt.shape)
    y.sum().backward()
    yt.sum().backward()
    for ours, theirs in ((x, xt), (w, wt), (b, bt)):
        assert_close(ours.grad, theirs.grad)


def test_conv1d_zero_batch_backward_matches_torch():
    (x, w), (xt, wt) = pair(np.zeros((0, 3, 9)), RNG.standard_normal((4, 3, 3)))
    F.conv1d(x, w, padding="same").sum().backward()
    TF.conv1d(xt, wt, padding="same").sum().backward()
    assert_close(x.grad, xt.grad)
    assert_close(w.grad, wt.grad)


def test_conv2d_noncontiguous_weight_and_input():
    (x, w), (xt, wt) = pair(X.transpose(0, 1, 3, 2), W.transpose(1, 0, 2, 3))
    ours = F.conv2d(x.transpose(2, 3)[:, :, ::2], w.transpose(0, 1), padding=(1, 2), groups=2)
    theirs = TF.conv2d(xt.transpose(2, 3)[:, :, ::2], wt.transpose(0, 1), padding=(1, 2),
                       groups=2)
    assert_close(ours, theirs.detach())
    (ours * ours).sum().backward()
    (theirs * theirs).sum().backward()
    assert_close(x.grad, xt.grad)
    assert_close(w.grad, wt.grad)


def test_conv2d_retain_graph_and_inplace_after_forward():
    """The primitive keeps its im2col matrix: a retained second backward must still be right,
    and modifying the input in place afterwards must raise (the cached matrix would be stale)."""
    (x, w, b), (xt, wt, bt) = pair(X, W, B)
    y = F.conv2d(x, w, b, groups=2, padding=1).pow(2).sum()
    yt = TF.conv2d(xt, wt, bt, groups=2, padding=1).pow(2).sum()
    y.backward(retain_graph=True)
    y.backward()
    yt.backward(retain_graph=True)
    yt.backward()
    for ours, theirs in ((x, xt), (w, wt), (b, bt)):
        assert_close(ours.grad, theirs.grad)
    x2 = tl.tensor(X)  # not requiring grad: only the weight gradient reads the cached cols
    y2 = F.conv2d(x2, w, b, groups=2).sum()
    x2.add_(1.0)
    with pytest.raises(RuntimeError, match="in-place"):
        y2.backward()


@pytest.mark.parametrize("fn,args", [
    ("max_pool2d", (np.int64(2),)), ("avg_pool2d", ((np.int64(3), 2),)),
    ("max_pool1d", (np.int64(3), np.int64(2))), ("avg_pool1d", (np.int64(2),)),
])
def test_pooling_accepts_numpy_ints(fn, args):
    x = RNG.standard_normal((2, 3, 6, 6) if "2d" in fn else (2, 3, 9))
    assert_close(getattr(F, fn)(tl.tensor(x), *args), getattr(TF, fn)(torch.tensor(x), *args))


def test_pooling_modules_accept_numpy_ints():
    x = RNG.standard_normal((2, 3, 6, 6))
    ours = nn.MaxPool2d(np.int64(2), stride=np.int64(1))(tl.tensor(x))
    assert_close(ours, torch.nn.MaxPool2d(np.int64(2), stride=np.int64(1))(torch.tensor(x)))


@pytest.mark.parametrize("fn", [lambda f, x: f.max_pool2d(x, 2), lambda f, x: f.avg_pool2d(x, 2),
                                lambda f, x: f.adaptive_avg_pool2d(x, 3),
                                lambda f, x: f.max_pool1d(x.flatten(2), 3)])
def test_pooling_zero_batch_backward(fn):
    x, xt = tl.zeros(0, 3, 4, 4, requires_grad=True), torch.zeros(0, 3, 4, 4, requires_grad=True)
    y, yt = fn(F, x), fn(TF, xt)
    assert tuple(y.shape) == tuple(yt.shape)
    y.sum().backward()
    yt.sum().backward()
    assert_close(x.grad, xt.grad)


@pytest.mark.filterwarnings("ignore:invalid value encountered in reduce")  # inf + -inf, as numpy
@pytest.mark.parametrize("size", [3, (None, 3), (10, 12), (2, 4), (7, 1)])
def test_adaptive_avg_pool2d_nonfinite_stay_in_their_windows(size):
    x = RNG.standard_normal((2, 3, 7, 8))
    x[0, 0, 1, 1], x[0, 1, 5, 6], x[1, 2, 0, 0], x[1, 2, 0, 1] = np.nan, np.inf, np.inf, -np.inf
    xl, xt = tl.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, yt = F.adaptive_avg_pool2d(xl, size), TF.adaptive_avg_pool2d(xt, size)
    assert_close(y, yt.detach(), equal_nan=True)
    g = RNG.standard_normal(yt.shape)
    y.backward(tl.tensor(g))
    yt.backward(torch.tensor(g))
    assert_close(xl.grad, xt.grad)


def test_adaptive_avg_pool1d_nonfinite():
    x = RNG.standard_normal((2, 3, 11))
    x[0, 0, 2], x[1, 1, 7] = np.nan, -np.inf
    assert_close(F.adaptive_avg_pool1d(tl.tensor(x), 4),
                 TF.adaptive_avg_pool1d(torch.tensor(x), 4), equal_nan=True)


@pytest.mark.parametrize("shape,size", [((2, 3, 7, 8), 3), ((2, 3, 7, 8), (10, 12)),
                                        ((2, 3, 40, 40), (3, 7)), ((2, 3, 11), 4)])
def test_adaptive_avg_pool_float16_rounds_once_as_torch(shape, size):
    """torch accumulates float16 in float32 and rounds once: the values must match exactly
    (to torch's float16 tolerance), and the gradient too."""
    x = RNG.standard_normal(shape)
    xl = tl.tensor(x, dtype=tl.float16, requires_grad=True)
    xt = torch.tensor(x, dtype=torch.float16, requires_grad=True)
    name = "adaptive_avg_pool1d" if len(shape) == 3 else "adaptive_avg_pool2d"
    y, yt = getattr(F, name)(xl, size), getattr(TF, name)(xt, size)
    assert y.dtype == tl.float16
    assert_close(y, yt.detach())
    g = RNG.standard_normal(yt.shape)
    (gl,) = tl.autograd.grad(y, xl, tl.tensor(g, dtype=tl.float16))
    (gt,) = torch.autograd.grad(yt, xt, torch.tensor(g, dtype=torch.float16))
    assert gl.dtype == tl.float16
    assert_close(gl, gt, rtol=2e-3, atol=1e-3)  # torch's own float16 backward rounds per add


def test_conv_module_private_padding_attribute_is_a_list_as_torch():
    ours = nn.Conv2d(4, 6, (2, 4), padding="same", padding_mode="reflect")
    theirs = torch.nn.Conv2d(4, 6, (2, 4), padding="same", padding_mode="reflect")
    assert ours._reversed_padding_repeated_twice == theirs._reversed_padding_repeated_twice
    assert type(ours._reversed_padding_repeated_twice) is list


def test_conv_module_accepts_numpy_ints():
    kw = dict(kernel_size=np.int64(3), stride=(np.int64(2), 1), padding=np.int32(1),
              groups=np.int64(2))
    ours, theirs = nn.Conv2d(4, 6, **kw), torch.nn.Conv2d(4, 6, **kw).double()
    for name in ("kernel_size", "stride", "padding", "groups"):  # torch keeps the NumPy ints
        assert getattr(ours, name) == getattr(theirs, name)
    ours = ours.to(tl.float64)
    ours.load_state_dict({k: tl.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    assert_close(ours(tl.tensor(X)), theirs(torch.tensor(X)))
