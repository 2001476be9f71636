"""Losses against torch: values and gradients (float64 tight, float32 with torch's tolerances).

Hypothesis draws the shapes ((C,), (N, C), (N, C, d1), (N, C, d1, d2)), values (in drawn memory
layouts, with extreme ±1e4 logits mixed in), targets with some or all ignored, class weights,
label smoothing and the reduction; each loss's output and the gradients of a random upstream
gradient must equal torch's. Fixed cases pin extreme logits, all-ignored batches, double
backward, gradcheck of the fused kernel, the reference xp kernel (the one CUDA runs), error
messages and the loss modules.
"""

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_lite as tl
from tinygrad_lite.device import CPU, Device
from tinygrad_lite.errors import DTypeError, ShapeError
from tinygrad_lite.nn import loss as LM
from tinygrad_lite.nn import losses as F
from tinygrad_lite.testing import assert_close, gradcheck, gradgradcheck
from tinygrad_lite.testing import strategies as tst

DTYPES = ["float64", "float32"]
REDUCTIONS = ["mean", "sum", "none"]
FEW = settings(max_examples=max(1, settings.default.max_examples // 2))


def _logit_values(width: int = 64):
    return st.one_of(st.floats(-20, 20, width=width, allow_subnormal=False),
                     st.sampled_from([-1e4, 1e4]))


def _leaf(array, grad: bool):
    """The same values as a tl leaf (keeping the drawn memory layout) and a torch leaf."""
    if array is None:
        return None, None
    ours = tl.from_numpy(array)
    return (ours.requires_grad_() if grad else ours,
            torch.tensor(np.array(array, order="C"), requires_grad=grad))


def _check(ours_fn, torch_fn, inputs, grads, seed=0, tol=None):
    """Call both on (array or None) inputs; compare outputs (``tol``: wider rtol/atol for
    them) and the gradients of the inputs flagged in ``grads`` for a random
    upstream gradient."""
    pairs = [_leaf(a, g and a is not None) for a, g in zip(inputs, grads)]
    out = ours_fn(*[p[0] for p in pairs])
    ref = torch_fn(*[p[1] for p in pairs])
    assert_close(out, ref, equal_nan=True, **(tol or {}))
    if not ref.requires_grad:
        return
    g = np.random.default_rng(seed).standard_normal(ref.shape).astype(str(ref.dtype)[6:])
    out.backward(tl.tensor(g))
    ref.backward(torch.tensor(g))
    for (ours, theirs), flag in zip(pairs, grads):
        if flag and ours is not None:
            assert_close(ours.grad, theirs.grad, equal_nan=True)


@st.composite
def class_cases(draw, dtype, smoothing=True):
    """Logits (C,)/(N, C)/(N, C, d...) with class-index targets, weight, ignore_index, ..."""
    ndim = draw(st.sampled_from([1, 2, 2, 3, 4]))
    n_cls = draw(st.integers(1, 6))
    batch = draw(st.integers(0, 5))
    spatial = tuple(draw(st.integers(1, 3)) for _ in range(max(0, ndim - 2)))
    shape = (n_cls,) if ndim == 1 else (batch, n_cls) + spatial
    tshape = () if ndim == 1 else (batch,) + spatial
    width = 32 if dtype == "float32" else 64
    logits = draw(tst.arrays(shape, dtype=dtype, elements=_logit_values(width)))
    target = draw(hnp.arrays(np.int64, tshape, elements=st.integers(0, n_cls - 1)))
    ignore_index = draw(st.sampled_from([-100, 0, n_cls - 1]))
    ignored = draw(st.sampled_from(["none", "some", "all"]))
    if ignored == "all":
        target = np.full(tshape, ignore_index, np.int64)
    elif ignored == "some":
        mask = draw(hnp.arrays(np.bool_, tshape))
        target = np.where(mask, ignore_index, target)
    weight = draw(st.none() | hnp.arrays(dtype, (n_cls,), elements=st.floats(
        0.125, 3, width=width)))
    ls = draw(st.sampled_from([0.0, 1.0]) | st.floats(0, 1)) if smoothing else 0.0
    reduction = draw(st.sampled_from(REDUCTIONS))
    return logits, target, weight, ignore_index, ls, reduction


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_cross_entropy_class_indices_matches_torch(dtype, data):
    x, t, w, ii, ls, red = data.draw(class_cases(dtype))
    kw = dict(ignore_index=ii, reduction=red, label_smoothing=ls)
    _check(lambda a, b, c: F.cross_entropy(a, b, weight=c, **kw),
           lambda a, b, c: TF.cross_entropy(a, b, weight=c, **kw),
           [x, t, w], [True, False, False])


@st.composite
def probability_cases(draw, dtype):
    ndim = draw(st.sampled_from([1, 2, 3, 4]))
    n_cls = draw(st.integers(1, 5))
    shape = (n_cls,) if ndim == 1 else (draw(st.integers(0, 4)), n_cls) + tuple(
        draw(st.integers(1, 3)) for _ in range(ndim - 2))
    width = 32 if dtype == "float32" else 64
    logits = draw(tst.arrays(shape, dtype=dtype, elements=_logit_values(width)))
    probs = draw(tst.arrays(shape, dtype=dtype, elements=st.floats(0, 1, width=width)))
    weight = draw(st.none() | hnp.arrays(dtype, (n_cls,), elements=st.floats(0.125, 3,
                                                                             width=width)))
    ls = draw(st.sampled_from([0.0, 1.0]) | st.floats(0, 1))
    return logits, probs, weight, ls, draw(st.sampled_from(REDUCTIONS))


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_cross_entropy_probabilities_matches_torch(dtype, data):
    x, p, w, ls, red = data.draw(probability_cases(dtype))
    kw = dict(reduction=red, label_smoothing=ls)
    _check(lambda a, b, c: F.cross_entropy(a, b, weight=c, **kw),
           lambda a, b, c: TF.cross_entropy(a, b, weight=c, **kw),
           [x, p, w], [True, True, True])


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_nll_loss_matches_torch(dtype, data):
    x, t, w, ii, _, red = data.draw(class_cases(dtype, smoothing=False))
    kw = dict(ignore_index=ii, reduction=red)
    _check(lambda a, b, c: F.nll_loss(a, b, weight=c, **kw),
           lambda a, b, c: TF.nll_loss(a, b, weight=c, **kw), [x, t, w], [True, False, False],
           tol=_nll_sum_tol(x, t, w, ii, red))


def _nll_sum_tol(x, t, w, ignore_index, reduction):
    """Unlike cross-entropy's, nll terms have both signs: -1e4 and 1e4 cancel, and the rounding
    of the running sum (torch's cascade order differs from NumPy's pairwise one) is then
    relative to the terms' magnitudes, not the result's."""
    if reduction == "none" or x.size == 0:
        return None
    rows = np.moveaxis(x, 0 if x.ndim == 1 else 1, -1).reshape(-1, x.shape[0 if x.ndim == 1
                                                                          else 1])
    tt = t.reshape(-1)
    kept = tt != ignore_index
    safe = np.where(kept, tt, 0)
    w_t = np.where(kept, 1.0 if w is None else w[safe], 0.0)
    terms = np.abs(rows[np.arange(len(tt)), safe] * w_t).astype(np.float64)
    bound = 4 * np.finfo(x.dtype).eps * terms.sum()
    if reduction == "mean":
        bound /= max(w_t.sum(), 1e-30)
    single = x.dtype == np.float32  # torch's default tolerances, atol widened to the bound
    return {"rtol": 1.3e-6 if single else 1e-7, "atol": max(bound, 1e-5 if single else 1e-7)}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("ls", [0.0, 0.1])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_extreme_logits_finite_like_torch(dtype, ls, reduction):
    inf = np.inf
    x = np.array([[1e4, -1e4, 0.0], [-1e4, 0.0, 1e4], [-1e4, -1e4, -1e4], [1e4, 1e4, -1e4],
                  [-inf, 0.0, 1.0], [3.0, -inf, -inf]], dtype=dtype)
    t = np.array([1, 2, 0, 1, 2, 0])
    kw = dict(reduction=reduction, label_smoothing=ls)
    _check(lambda a, b: F.cross_entropy(a, b, **kw), lambda a, b: TF.cross_entropy(a, b, **kw),
           [x, t], [True, False])
    a = tl.tensor(x[:4], requires_grad=True)  # without -inf everything is finite
    out = F.cross_entropy(a, tl.tensor(t[:4]), **kw)
    out.sum().backward()
    assert np.isfinite(out.detach().numpy()).all() and np.isfinite(a.grad.numpy()).all()


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ls", [0.0, 0.3])
def test_cross_entropy_all_ignored_is_nan_with_zero_grad(weighted, ls):
    x = np.random.default_rng(0).standard_normal((4, 3))
    t = np.full(4, -100)
    w = np.array([0.5, 1.0, 2.0]) if weighted else None
    for red in REDUCTIONS:
        kw = dict(reduction=red, label_smoothing=ls)
        _check(lambda a, b, c: F.cross_entropy(a, b, weight=c, **kw),
               lambda a, b, c: TF.cross_entropy(a, b, weight=c, **kw),
               [x, t, w], [True, False, False])
    assert np.isnan(F.cross_entropy(tl.tensor(x), tl.tensor(t)).item())


DOUBLE_CASES = [((5, 4), None, 0.0, "mean"), ((5, 4), "w", 0.2, "mean"),
                ((3, 4, 2), "w", 0.0, "none"), ((4,), None, 0.5, "sum"),
                ((2, 3, 2, 2), "w", 1.0, "mean")]


@pytest.mark.parametrize("shape,weighted,ls,reduction", DOUBLE_CASES)
def test_cross_entropy_double_backward_matches_torch(shape, weighted, ls, reduction):
    rng = np.random.default_rng(len(shape))
    x = rng.standard_normal(shape) * 3
    n_cls = shape[0] if len(shape) == 1 else shape[1]
    tshape = () if len(shape) == 1 else (shape[0],) + shape[2:]
    t = rng.integers(0, n_cls, tshape)
    if t.ndim:
        t.reshape(-1)[0] = -100
    w = rng.uniform(0.2, 2, n_cls) if weighted else None
    kw = dict(reduction=reduction, label_smoothing=ls)
    a, b = _leaf(x, True)
    wa, wb = _leaf(w, False)
    out = F.cross_entropy(a, tl.tensor(t), weight=wa, **kw)
    ref = TF.cross_entropy(b, torch.tensor(t), weight=wb, **kw)
    g = rng.standard_normal(ref.shape)
    ga_up, gb_up = _leaf(g, True)
    (ga,) = tl.autograd.grad(out, a, ga_up, create_graph=True)
    (gb,) = torch.autograd.grad(ref, b, gb_up, create_graph=True)
    assert_close(ga, gb)
    v = rng.standard_normal(shape)
    hv_a = tl.autograd.grad((ga * tl.tensor(v)).sum(), (a, ga_up))
    hv_b = torch.autograd.grad((gb * torch.tensor(v)).sum(), (b, gb_up))
    assert_close(hv_a[0], hv_b[0])
    assert_close(hv_a[1], hv_b[1])


@pytest.mark.parametrize("shape,weighted,ls,reduction", DOUBLE_CASES[:4])
def test_cross_entropy_gradcheck(shape, weighted, ls, reduction):
    rng = np.random.default_rng(7)
    n_cls = shape[0] if len(shape) == 1 else shape[1]
    tshape = () if len(shape) == 1 else (shape[0],) + shape[2:]
    t = tl.tensor(rng.integers(0, n_cls, tshape))
    w = tl.tensor(rng.uniform(0.2, 2, n_cls)) if weighted else None

    def fn(a):
        return F.cross_entropy(a, t, weight=w, reduction=reduction, label_smoothing=ls)

    x = tl.tensor(rng.standard_normal(shape), requires_grad=True)
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


@pytest.mark.parametrize("dtype", DTYPES)
@FEW
@given(data=st.data())
def test_reference_kernel_equals_numba_kernel(dtype, data):
    """Device's plain-xp kernels (what CUDA runs) give the Numba kernels' results."""
    x, t, w, ii, ls, _ = data.draw(class_cases(dtype))
    n_cls = x.shape[-1] if x.ndim == 1 else x.shape[1]
    rows = np.moveaxis(x.reshape((1,) + x.shape) if x.ndim == 1 else x, 1, -1).reshape(-1, n_cls)
    t = t.reshape(-1)
    ref = Device.cross_entropy_forward(CPU, rows, t, w, ii, ls)
    out = CPU.cross_entropy_forward(rows, t, w, ii, ls)
    kept = t != ii  # the row statistics of ignored rows are never read
    assert_close(out[0], ref[0])
    for a, b in zip(out[1][1:], ref[1]):  # CPU: (loss, max, logsum) rows; reference: a pair
        assert_close(a[kept], b[kept])
    assert_close(np.array(out[2:4]), np.array(ref[2:4]), rtol=1e-5, atol=1e-5)
    assert out[4] == ref[4] == -1
    g = np.random.default_rng(0).standard_normal(len(t)).astype(dtype)
    assert_close(CPU.cross_entropy_backward(rows, t, w, ii, ls, out[1], g),
                 Device.cross_entropy_backward(CPU, rows, t, w, ii, ls, ref[1], g))


def test_cross_entropy_float16_matches_torch():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((6, 5)).astype(np.float16)
    t = rng.integers(0, 5, 6)
    _check(lambda a, b: F.cross_entropy(a, b, label_smoothing=0.1),
           lambda a, b: TF.cross_entropy(a, b, label_smoothing=0.1), [x, t], [True, False])


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_mse_and_l1_match_torch(dtype, data):
    s_in, s_t = data.draw(tst.broadcastable_shapes(2, max_dims=3))
    x = data.draw(tst.arrays(s_in, dtype=dtype))
    y = data.draw(tst.arrays(s_t, dtype=dtype))
    red = data.draw(st.sampled_from(REDUCTIONS))
    for ours, theirs in ((F.mse_loss, TF.mse_loss), (F.l1_loss, TF.l1_loss)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _check(lambda a, b: ours(a, b, reduction=red),
                   lambda a, b: theirs(a, b, reduction=red), [x, y], [True, True])
        mine = [c for c in caught if ours.__name__ in str(c.message)]
        assert len(mine) == (1 if s_in != s_t else 0)


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_binary_cross_entropy_matches_torch(dtype, data):
    shape = data.draw(tst.shapes(max_dims=3))
    width = 32 if dtype == "float32" else 64
    probs = st.floats(0, 1, width=width, allow_subnormal=False)
    x = data.draw(tst.arrays(shape, dtype=dtype, elements=probs))
    y = data.draw(tst.arrays(shape, dtype=dtype, elements=probs))
    w_shape = tuple(data.draw(st.sampled_from([1, s])) for s in shape)[data.draw(
        st.integers(0, len(shape))):]
    w = data.draw(st.none() | tst.arrays(w_shape, dtype=dtype, elements=st.floats(
        0.125, 2, width=width)))
    red = data.draw(st.sampled_from(REDUCTIONS))
    _check(lambda a, b, c: F.binary_cross_entropy(a, b, weight=c, reduction=red),
           lambda a, b, c: TF.binary_cross_entropy(a, b, weight=c, reduction=red),
           [x, y, w], [True, True, False])


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_binary_cross_entropy_with_logits_matches_torch(dtype, data):
    shape = data.draw(tst.shapes(min_dims=1, max_dims=3))
    width = 32 if dtype == "float32" else 64
    x = data.draw(tst.arrays(shape, dtype=dtype, elements=_logit_values(width)))
    y = data.draw(tst.arrays(shape, dtype=dtype, elements=st.floats(0, 1, width=width)))
    pos = st.floats(0.125, 3, width=width)
    w = data.draw(st.none() | tst.arrays(shape[1:], dtype=dtype, elements=pos))
    pw = data.draw(st.none() | tst.arrays(shape[-1:], dtype=dtype, elements=pos))
    red = data.draw(st.sampled_from(REDUCTIONS))
    _check(lambda a, b, c, d: F.binary_cross_entropy_with_logits(a, b, c, red, d),
           lambda a, b, c, d: TF.binary_cross_entropy_with_logits(a, b, c, reduction=red,
                                                                  pos_weight=d),
           [x, y, w, pw], [True, True, False, False])


def test_binary_losses_extreme_values_finite():
    x = tl.tensor([1e4, -1e4, 0.0, 5.0], requires_grad=True)
    y = tl.tensor([0.0, 1.0, 0.5, 1.0])
    out = F.binary_cross_entropy_with_logits(x, y, pos_weight=tl.tensor([2.0]))
    out.backward()
    ref = TF.binary_cross_entropy_with_logits(torch.tensor([1e4, -1e4, 0.0, 5.0]),
                                              torch.tensor([0.0, 1.0, 0.5, 1.0]),
                                              pos_weight=torch.tensor([2.0]))
    assert_close(out, ref)
    assert np.isfinite(x.grad.numpy()).all()
    # probabilities at exactly 0 and 1: torch clamps the logs at -100
    _check(lambda a, b: F.binary_cross_entropy(a, b, reduction="none"),
           lambda a, b: TF.binary_cross_entropy(a, b, reduction="none"),
           [np.array([0.0, 1.0, 0.0, 1.0]), np.array([1.0, 0.0, 0.0, 1.0])], [True, False])


def test_binary_and_pointwise_losses_double_backward_match_torch():
    rng = np.random.default_rng(5)
    x = rng.uniform(0.05, 0.95, (3, 4))
    y = rng.uniform(0, 1, (3, 4))
    w = rng.uniform(0.5, 2, 4)
    cases = [(lambda a, b: F.binary_cross_entropy(a, b, weight=tl.tensor(w)),
              lambda a, b: TF.binary_cross_entropy(a, b, weight=torch.tensor(w)), x),
             (lambda a, b: F.binary_cross_entropy_with_logits(a, b, pos_weight=tl.tensor(w)),
              lambda a, b: TF.binary_cross_entropy_with_logits(a, b, pos_weight=torch.tensor(w)),
              x * 8 - 4),
             (F.mse_loss, TF.mse_loss, x),
             (lambda a, b: F.nll_loss(a, b.long()), lambda a, b: TF.nll_loss(a, b.long()), x)]
    for ours, theirs, inp in cases:
        tgt = (y * 4).astype(np.int64).astype(np.float64)[:, 0] if ours is cases[-1][0] else y
        a, b = _leaf(inp, True)
        out, ref = ours(a, tl.tensor(tgt)), theirs(b, torch.tensor(tgt))
        (ga,) = tl.autograd.grad(out, a, create_graph=True)
        (gb,) = torch.autograd.grad(ref, b, create_graph=True)
        assert_close(ga, gb)
        if ga.requires_grad:  # nll's gradient does not depend on the input
            v = rng.standard_normal(inp.shape)
            assert_close(tl.autograd.grad((ga * tl.tensor(v)).sum(), a)[0],
                         torch.autograd.grad((gb * torch.tensor(v)).sum(), b)[0])


def test_gradcheck_weights_and_pos_weight():
    """Gradients torch doesn't give (pos_weight, weight of BCE) against finite differences."""
    rng = np.random.default_rng(2)
    x = tl.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    p = tl.tensor(rng.uniform(0.1, 0.9, (3, 4)), requires_grad=True)
    y = tl.tensor(rng.uniform(0, 1, (3, 4)), requires_grad=True)
    w = tl.tensor(rng.uniform(0.5, 2, 4), requires_grad=True)
    pw = tl.tensor(rng.uniform(0.5, 2, 4), requires_grad=True)
    assert gradcheck(lambda a, b, c, d: F.binary_cross_entropy_with_logits(a, b, c, "sum", d),
                     (x, y, w, pw))
    assert gradcheck(lambda a, b, c: F.binary_cross_entropy(a, b, c), (p, y, w))
    assert gradgradcheck(lambda a, b: F.binary_cross_entropy_with_logits(a, b), (x, y))


def _raises(exc, fn, *fragments):
    with pytest.raises(exc) as info:
        fn()
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)


def test_error_messages():
    x = tl.randn(4, 3)
    t = tl.tensor([0, 1, 2, 1])
    ce = F.cross_entropy
    _raises(IndexError, lambda: ce(x, tl.tensor([0, 1, 5, 1])), "cross_entropy", "5", "3 classes")
    _raises(IndexError, lambda: ce(x, tl.tensor([0, -3, 2, 1])), "cross_entropy", "-3")
    _raises(IndexError, lambda: F.nll_loss(x, tl.tensor([0, 7, 2, 1])), "nll_loss", "7", "3")
    _raises(ValueError, lambda: ce(x, tl.tensor([0, 1, 2])), "batch_size (4)", "(3)")
    _raises(ShapeError, lambda: ce(tl.randn(2, 3, 4), tl.zeros(2, 5, dtype=tl.int64)),
            "cross_entropy", "(2, 4)", "(2, 5)")
    _raises(ShapeError, lambda: ce(x, t, weight=tl.ones(4)), "weight", "(3,)", "(4,)")
    _raises(ShapeError, lambda: ce(x, tl.rand(4, 2)), "cross_entropy", "(4, 3)", "(4, 2)")
    _raises(DTypeError, lambda: ce(x.long(), t), "cross_entropy", "floating", "int64")
    _raises(DTypeError, lambda: ce(x, t.int()), "cross_entropy", "int32")
    _raises(ValueError, lambda: ce(x, t, label_smoothing=1.5), "label_smoothing", "1.5")
    _raises(ValueError, lambda: ce(x, t, reduction="avg"), "'avg'", "reduction")
    w = tl.ones(3, requires_grad=True)
    _raises(RuntimeError, lambda: ce(x, t, weight=w), "weight")
    with tl.no_grad():
        ce(x, t, weight=w)  # no graph, no problem
    _raises(ValueError, lambda: F.binary_cross_entropy(tl.tensor([0.5, 1.2]),
                                                       tl.tensor([0.0, 1.0])), "between 0 and 1")
    _raises(ValueError, lambda: F.binary_cross_entropy(tl.rand(2, 1), tl.rand(2)), "(2,)",
            "(2, 1)")
    _raises(ValueError, lambda: F.binary_cross_entropy_with_logits(tl.rand(3), tl.rand(2)),
            "binary_cross_entropy_with_logits")
    _raises(ValueError, lambda: F.mse_loss(tl.rand(3, 2), tl.rand(3)), "mse_loss", "(3, 2)")
    _raises(DTypeError, lambda: F.l1_loss(tl.ones(2, dtype=tl.int64), tl.ones(2, dtype=tl.int64)),
            "l1_loss")


def test_noncontiguous_and_transposed_inputs():
    base = np.random.default_rng(1).standard_normal((3, 8))
    x = base.T[::2]  # (4, 3), strided and transposed
    t = np.array([2, 0, 1, 1])
    _check(lambda a, b: F.cross_entropy(a, b, label_smoothing=0.2),
           lambda a, b: TF.cross_entropy(a, b, label_smoothing=0.2), [x, t], [True, False])


MODULES = [
    (LM.CrossEntropyLoss, torch.nn.CrossEntropyLoss,
     dict(weight="w", ignore_index=1, label_smoothing=0.1, reduction="sum"), "class"),
    (LM.CrossEntropyLoss, torch.nn.CrossEntropyLoss, dict(), "class"),
    (LM.NLLLoss, torch.nn.NLLLoss, dict(weight="w", reduction="none"), "class"),
    (LM.MSELoss, torch.nn.MSELoss, dict(reduction="sum"), "same"),
    (LM.L1Loss, torch.nn.L1Loss, dict(), "same"),
    (LM.BCELoss, torch.nn.BCELoss, dict(weight="w"), "prob"),
    (LM.BCEWithLogitsLoss, torch.nn.BCEWithLogitsLoss, dict(weight="w", pos_weight="w"), "same"),
]


@pytest.mark.parametrize("ours_cls,torch_cls,kwargs,kind", MODULES)
def test_loss_modules_match_functional_and_torch(ours_cls, torch_cls, kwargs, kind):
    rng = np.random.default_rng(4)
    w = rng.uniform(0.5, 2, 3)
    x = rng.uniform(0.05, 0.95, (5, 3))
    y = rng.integers(0, 3, 5) if kind == "class" else rng.uniform(0, 1, (5, 3))
    ours_kw = {k: tl.tensor(w) if v == "w" else v for k, v in kwargs.items()}
    torch_kw = {k: torch.tensor(w) if v == "w" else v for k, v in kwargs.items()}
    module = ours_cls(**ours_kw)
    _check(module, torch_cls(**torch_kw), [x, y], [True, False])
    names = {name for name, v in kwargs.items() if v == "w"}
    assert set(module.state_dict()) == names == set(torch_cls(**torch_kw).state_dict())
    functional = {LM.CrossEntropyLoss: F.cross_entropy, LM.NLLLoss: F.nll_loss,
                  LM.MSELoss: F.mse_loss, LM.L1Loss: F.l1_loss,
                  LM.BCELoss: F.binary_cross_entropy,
                  LM.BCEWithLogitsLoss: F.binary_cross_entropy_with_logits}[ours_cls]
    assert_close(module(tl.tensor(x), tl.tensor(y)),
                 functional(tl.tensor(x), tl.tensor(y), **ours_kw))


def test_loss_module_legacy_reduction_args_and_dtype():
    with pytest.warns(UserWarning, match="size_average"):
        assert LM.MSELoss(size_average=False).reduction == "sum"
    with pytest.warns(UserWarning):
        assert LM.L1Loss(reduce=False).reduction == "none"
    module = LM.CrossEntropyLoss(weight=tl.ones(3)).double()
    assert module.weight.dtype is tl.float64
    assert repr(module) == "CrossEntropyLoss()"


@pytest.mark.parametrize("input_dtype,target_dtype", [(np.float32, np.float64),
                                                      (np.float64, np.float32),
                                                      (np.float16, np.float32)])
def test_bce_with_logits_result_has_the_target_dtype_like_torch(input_dtype, target_dtype):
    x = np.array([0.2, -3.0, 5.0, 0.0], dtype=input_dtype)
    t = np.array([0.0, 1.0, 0.3, 1.0], dtype=target_dtype)
    pos = np.array([2.0, 1.0, 0.5, 1.0], dtype=np.float32)
    a, a_t = tl.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out = F.binary_cross_entropy_with_logits(a, tl.tensor(t), pos_weight=tl.tensor(pos))
    out_t = TF.binary_cross_entropy_with_logits(a_t, torch.tensor(t), pos_weight=torch.tensor(pos))
    out.backward()
    out_t.backward()
    # torch's float16 log-sigmoid is rounded to float16 before the float32 loss; ours is not
    tol = {"rtol": 1e-3, "atol": 1e-3} if input_dtype == np.float16 else {}
    assert out.dtype.name == str(out_t.dtype).removeprefix("torch.")
    assert_close(out, out_t.detach(), **tol)
    assert_close(a.grad, a_t.grad, **tol)

