"""F.scaled_dot_product_attention against torch's: values and gradients of q, k, v (and of a
float mask) over batch dims, sequence lengths, mask kinds and scales; double backward; fully
masked rows; dropout statistics; the CPU kernels against the array reference; errors."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_lite as tl
import tinygrad_lite.nn.functional as F
from tinygrad_lite.errors import DTypeError, ShapeError
from tinygrad_lite.nn.attention import (masked_softmax_backward_reference,
                                        masked_softmax_reference)
from tinygrad_lite.testing import assert_close

from .helpers import DTYPE_IDS, DTYPES


def both(a, dtypes, grad=True):
    """The array as a leaf of ours and of torch's (bool arrays stay bool, without grad)."""
    if a.dtype == np.bool_:
        return tl.tensor(a), torch.tensor(a)
    return (tl.tensor(a, dtype=dtypes[0], requires_grad=grad),
            torch.tensor(a, dtype=dtypes[1], requires_grad=grad))


def compare(arrays, dtypes, double=False, seed=0, **kwargs):
    """SDPA of ours and torch's on the same q, k, v (and mask): output, the gradients of every
    floating input for a random upstream gradient and, with ``double``, second derivatives of
    sum(grads * w) w.r.t. the inputs and the upstream gradient."""
    q, k, v, mask = arrays
    mask_grad = mask is not None and mask.dtype != np.bool_
    pairs = [both(a, dtypes) for a in (q, k, v)]
    if mask is not None:
        pairs.append(both(mask, dtypes, grad=mask_grad))
    ours, theirs = [p[0] for p in pairs], [p[1] for p in pairs]
    kw, kw_t = dict(kwargs), dict(kwargs)
    if mask is not None:
        kw["attn_mask"], kw_t["attn_mask"] = ours[3], theirs[3]
    out = F.scaled_dot_product_attention(*ours[:3], **kw)
    out_t = TF.scaled_dot_product_attention(*theirs[:3], **kw_t)
    assert_close(out, out_t.detach())
    rng = np.random.default_rng(seed)
    g_np = rng.standard_normal(tuple(out_t.shape))
    g = tl.tensor(g_np, dtype=dtypes[0], requires_grad=double)
    g_t = torch.tensor(g_np, dtype=dtypes[1], requires_grad=double)
    n = 4 if mask_grad else 3
    grads = tl.autograd.grad([out], ours[:n], [g], create_graph=double)
    grads_t = torch.autograd.grad([out_t], theirs[:n], [g_t], create_graph=double)
    for a, b in zip(grads, grads_t):
        assert_close(a, b.detach())
    if not double:
        return
    ws = [rng.standard_normal(tuple(b.shape)) for b in grads_t]
    total = sum((a * tl.tensor(w, dtype=dtypes[0])).sum() for a, w in zip(grads, ws))
    total_t = sum((b * torch.tensor(w, dtype=dtypes[1])).sum() for b, w in zip(grads_t, ws))
    second = tl.autograd.grad([total], ours[:n] + [g], allow_unused=True)
    second_t = torch.autograd.grad([total_t], theirs[:n] + [g_t], allow_unused=True)
    for a, b, x_t in zip(second, second_t, theirs[:n] + [g_t]):
        assert_close(torch.zeros_like(x_t) if a is None else a,
                     torch.zeros_like(x_t) if b is None else b.detach())


@st.composite
def attention_case(draw):
    """q, k, v (k/v batch dims may be 1 where q's are not, and the other way round), a mask
    kind and a mask shape that broadcasts to the scores."""
    lead = draw(st.lists(st.integers(1, 3), min_size=0, max_size=2))
    L, S, E, Ev = (draw(st.integers(1, 5)) for _ in range(4))
    kv_lead = [d if draw(st.booleans()) else 1 for d in lead]
    q_lead = [d if draw(st.booleans()) or kv == 1 else 1 for d, kv in zip(lead, kv_lead)]
    if not all(kv == 1 or qd == kv or qd == 1 for qd, kv in zip(q_lead, kv_lead)):
        q_lead = lead
    kind = draw(st.sampled_from(["none", "bool", "float", "causal"]))
    score_lead = [max(a, b) for a, b in zip(q_lead, kv_lead)]
    drop = draw(st.integers(0, len(score_lead)))
    mask_shape = [d if draw(st.booleans()) else 1 for d in score_lead[drop:]]
    mask_shape += [L if draw(st.booleans()) else 1, S]
    scale = draw(st.sampled_from([None, 0.5, 1.7]))
    seed = draw(st.integers(0, 2**16))
    return (q_lead, kv_lead, L, S, E, Ev, kind, tuple(mask_shape), scale, seed)


def make_arrays(case):
    q_lead, kv_lead, L, S, E, Ev, kind, mask_shape, _, seed = case
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((*q_lead, L, E))
    k = rng.standard_normal((*kv_lead, S, E))
    v = rng.standard_normal((*kv_lead, S, Ev))
    mask = None
    if kind == "bool":
        mask = rng.random(mask_shape) < 0.7
    elif kind == "float":
        mask = rng.standard_normal(mask_shape)
        mask[rng.random(mask_shape) < 0.2] = -np.inf
    return q, k, v, mask


@pytest.mark.parametrize("dtypes", DTYPES, ids=DTYPE_IDS)
@given(case=attention_case())
def test_matches_torch(dtypes, case):
    q, k, v, mask = make_arrays(case)
    compare((q, k, v, mask), dtypes, seed=case[-1], is_causal=case[6] == "causal",
            scale=case[-2])


@pytest.mark.parametrize("kind", ["none", "bool", "float", "causal"])
def test_double_backward(kind):
    shapes = ((2, 1), (1, 3), 4, 3, 5, 2)
    case = (*shapes, kind, (1, 4, 3) if kind != "float" else (3, 4, 3), 0.7, 5)
    q, k, v, mask = make_arrays(case)
    if mask is not None and mask.dtype != np.bool_:
        mask = np.maximum(mask, -5.0)  # -inf bias has no second derivative to compare
    compare((q, k, v, mask), DTYPES[0], double=True, is_causal=kind == "causal", scale=0.7)


@pytest.mark.parametrize("dtypes", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("L,S", [(5, 3), (3, 5), (1, 4), (4, 1)])
def test_causal_is_upper_left_aligned(dtypes, L, S):
    rng = np.random.default_rng(L * 10 + S)
    arrays = (rng.standard_normal((2, L, 3)), rng.standard_normal((2, S, 3)),
              rng.standard_normal((2, S, 4)), None)
    compare(arrays, dtypes, is_causal=True)


@pytest.mark.parametrize("dtypes", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("kind", ["bool", "float"])
def test_fully_masked_rows_give_zeros_like_torch(dtypes, kind):
    """torch 2.x's math path (its _safe_softmax) turns a query row whose keys are all masked into
    zeros, with zero gradients; we pin that, values and gradients, no NaN anywhere."""
    rng = np.random.default_rng(1)
    q, k, v = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4)), \
        rng.standard_normal((2, 5, 6))
    keep = np.ones((3, 5), bool)
    keep[1] = False
    mask = keep if kind == "bool" else np.where(keep, 0.0, -np.inf)
    out = F.scaled_dot_product_attention(*(tl.tensor(a, dtype=dtypes[0]) for a in (q, k, v)),
                                         attn_mask=tl.tensor(mask, dtype=None if kind == "bool"
                                                             else dtypes[0]))
    assert not np.isnan(out.numpy()).any()
    assert (out.numpy()[:, 1] == 0).all()
    compare((q, k, v, mask), dtypes)


def test_float16_matches_torch():
    rng = np.random.default_rng(2)
    q, k, v = (rng.standard_normal(s) for s in ((2, 4, 8), (2, 6, 8), (2, 6, 3)))
    mask = rng.random((4, 6)) < 0.8
    ours = F.scaled_dot_product_attention(*(tl.tensor(a, dtype=tl.float16) for a in (q, k, v)),
                                          attn_mask=tl.tensor(mask))
    theirs = TF.scaled_dot_product_attention(
        *(torch.tensor(a, dtype=torch.float16) for a in (q, k, v)), attn_mask=torch.tensor(mask))
    assert ours.dtype is tl.float16
    assert_close(ours, theirs)


def test_empty_key_sequence_and_batch():
    for qs, ks, vs in (((2, 3, 4), (2, 0, 4), (2, 0, 6)), ((0, 3, 4), (0, 5, 4), (0, 5, 6))):
        arrays = [np.ones(s) for s in (qs, ks, vs)]
        ours = F.scaled_dot_product_attention(*(tl.tensor(a) for a in arrays))
        theirs = TF.scaled_dot_product_attention(*(torch.tensor(a) for a in arrays))
        assert_close(ours, theirs)


@pytest.mark.parametrize("dtypes", DTYPES, ids=DTYPE_IDS)
def test_enable_gqa(dtypes):
    rng = np.random.default_rng(3)
    q, k, v = (rng.standard_normal(s) for s in ((2, 6, 3, 4), (2, 2, 5, 4), (2, 2, 5, 3)))
    pairs = [both(a, dtypes) for a in (q, k, v)]
    out = F.scaled_dot_product_attention(*(p[0] for p in pairs), enable_gqa=True)
    out_t = TF.scaled_dot_product_attention(*(p[1] for p in pairs), enable_gqa=True)
    assert_close(out, out_t.detach())
    g = rng.standard_normal(tuple(out_t.shape))
    out.backward(tl.tensor(g, dtype=dtypes[0]))
    out_t.backward(torch.tensor(g, dtype=dtypes[1]))
    for ours, theirs in pairs:
        assert_close(ours.grad, theirs.grad)


@pytest.mark.parametrize("heads", [(4, 2, 1), (4, 4, 2), (4, 1, 2), (4, 2, 4), (4, 4, 4)])
def test_enable_gqa_repeats_key_and_value_separately(heads):
    """torch repeats key by hq / hk and value by hq / hv, each on its own (they need not match);
    values and the gradients of q, k and v."""
    hq, hk, hv = heads
    rng = np.random.default_rng(sum(heads))
    arrays = (rng.standard_normal((1, hq, 5, 8)), rng.standard_normal((1, hk, 5, 8)),
              rng.standard_normal((1, hv, 5, 3)), None)
    compare(arrays, DTYPES[0], enable_gqa=True)


@pytest.mark.parametrize("q_dtype,mask_dtype", [("float64", "float32"), ("float32", "float32"),
                                                ("float64", "float64")])
def test_float32_mask_of_any_query_matches_torch(q_dtype, mask_dtype):
    """torch accepts a bool mask, a float32 mask or a mask of the query's dtype; the output has
    the query's dtype and the mask's gradient the mask's."""
    rng = np.random.default_rng(8)
    q, k, v = (rng.standard_normal(s) for s in ((2, 3, 4), (2, 5, 4), (2, 5, 6)))
    mask = rng.standard_normal((3, 5))
    qd, md = getattr(tl, q_dtype), getattr(tl, mask_dtype)
    qd_t, md_t = getattr(torch, q_dtype), getattr(torch, mask_dtype)
    ours = [tl.tensor(a, dtype=qd, requires_grad=True) for a in (q, k, v)]
    theirs = [torch.tensor(a, dtype=qd_t, requires_grad=True) for a in (q, k, v)]
    m, m_t = tl.tensor(mask, dtype=md, requires_grad=True), \
        torch.tensor(mask, dtype=md_t, requires_grad=True)
    out = F.scaled_dot_product_attention(*ours, attn_mask=m)
    out_t = TF.scaled_dot_product_attention(*theirs, attn_mask=m_t)
    assert out.dtype is qd and out_t.dtype is qd_t
    assert_close(out, out_t.detach())
    g = rng.standard_normal(tuple(out_t.shape))
    out.backward(tl.tensor(g, dtype=qd))
    out_t.backward(torch.tensor(g, dtype=qd_t))
    assert m.grad.dtype is md and m_t.grad.dtype is md_t
    for a, b in zip(ours + [m], theirs + [m_t]):
        assert_close(a.grad, b.grad)


def test_float32_mask_of_float16_query_matches_torch():
    rng = np.random.default_rng(9)
    q, k, v = (rng.standard_normal(s) for s in ((2, 4, 8), (2, 6, 8), (2, 6, 3)))
    mask = rng.standard_normal((4, 6))
    for md, md_t in ((tl.float32, torch.float32), (tl.float16, torch.float16)):
        ours = F.scaled_dot_product_attention(
            *(tl.tensor(a, dtype=tl.float16) for a in (q, k, v)),
            attn_mask=tl.tensor(mask, dtype=md))
        theirs = TF.scaled_dot_product_attention(
            *(torch.tensor(a, dtype=torch.float16) for a in (q, k, v)),
            attn_mask=torch.tensor(mask, dtype=md_t))
        assert ours.dtype is tl.float16
        assert_close(ours, theirs)


@pytest.mark.parametrize("q_dtype,mask_dtype", [("float32", "float64"), ("float32", "float16"),
                                                ("float64", "float16"), ("float16", "float64"),
                                                ("float64", "int64")])
def test_mask_dtypes_torch_rejects_are_rejected(q_dtype, mask_dtype):
    q = np.zeros((3, 4))
    with pytest.raises(RuntimeError, match="attn_mask dtype"):
        TF.scaled_dot_product_attention(*[torch.tensor(q, dtype=getattr(torch, q_dtype))] * 3,
                                        attn_mask=torch.zeros(3, 3,
                                                              dtype=getattr(torch, mask_dtype)))
    with pytest.raises(DTypeError, match=f"query's dtype {q_dtype}, got {mask_dtype}"):
        F.scaled_dot_product_attention(*[tl.tensor(q, dtype=getattr(tl, q_dtype))] * 3,
                                       attn_mask=tl.zeros(3, 3, dtype=getattr(tl, mask_dtype)))


# ---- dropout -----------------------------------------------------------------------------------
def _dropped_weights(p, seed, n=64, S=50):
    """With v = I the output is the attention weights themselves (after dropout)."""
    q = tl.zeros(n, S, 4)  # equal scores: every weight is 1/S before dropout
    k = tl.zeros(n, S, 4)
    v = tl.eye(S).expand(n, S, S)
    tl.manual_seed(seed)
    return F.scaled_dot_product_attention(q, k, v, dropout_p=p).numpy()


@pytest.mark.parametrize("p", [0.1, 0.5])
def test_dropout_statistics_and_reproducibility(p):
    w = _dropped_weights(p, seed=0)
    S = w.shape[-1]
    zero = w == 0
    assert abs(zero.mean() - p) < 0.02  # 160k Bernoulli draws: std of the mean < 0.0013
    # survivors are scaled by 1/(1-p), so the expected weight stays 1/S
    assert np.allclose(w[~zero], 1 / (S * (1 - p)), rtol=1e-5)
    assert abs(w.mean() * S - 1) < 0.03
    assert np.array_equal(w, _dropped_weights(p, seed=0))
    assert not np.array_equal(w, _dropped_weights(p, seed=1))


def test_dropout_gradient_uses_the_same_mask():
    rng = np.random.default_rng(4)
    S, p = 6, 0.4
    q_np, k_np = rng.standard_normal((3, 4, 5)), rng.standard_normal((3, S, 5))
    q = tl.tensor(q_np, requires_grad=True)
    v = tl.tensor(np.broadcast_to(np.eye(S), (3, S, S)).copy(), requires_grad=True)
    tl.manual_seed(7)
    weights = F.scaled_dot_product_attention(q, tl.tensor(k_np), v, dropout_p=p)
    g = rng.standard_normal(tuple(weights.shape))
    weights.backward(tl.tensor(g))
    dropped = weights.detach().numpy()  # v = I: the output is the dropped, rescaled weights
    keep = dropped != 0
    assert 0 < keep.mean() < 1
    # torch with the same dropout mask: the gradients of q and v must agree
    q_t, v_t = torch.tensor(q_np, requires_grad=True), torch.tensor(v.detach().numpy(),
                                                                    requires_grad=True)
    attn = torch.softmax(q_t @ torch.tensor(k_np).mT / np.sqrt(5), -1)
    out_t = (attn * torch.tensor(keep) / (1 - p)) @ v_t
    assert_close(weights, out_t.detach())
    out_t.backward(torch.tensor(g))
    assert_close(q.grad, q_t.grad)
    assert_close(v.grad, v_t.grad)


def test_dropout_p_zero_and_one():
    rng = np.random.default_rng(5)
    q, k, v = (tl.tensor(rng.standard_normal((2, 3, 4))) for _ in range(3))
    assert_close(F.scaled_dot_product_attention(q, k, v, dropout_p=0.0),
                 TF.scaled_dot_product_attention(*(torch.tensor(t.numpy()) for t in (q, k, v))))
    assert (F.scaled_dot_product_attention(q, k, v, dropout_p=1.0).numpy() == 0).all()


# ---- the CPU kernels against the array reference -------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("lead,bias_shape,mask_shape", [
    ((), (3, 7), None), ((2,), None, (1, 7)), ((2, 3), (2, 1, 1, 7), (3, 5, 7)),
    ((2, 2, 3), (2, 1, 3, 5, 1), (1, 2, 1, 5, 7)), ((4, 3), None, None)])
@pytest.mark.parametrize("causal", [False, True])
def test_kernel_matches_reference(dtype, lead, bias_shape, mask_shape, causal):
    rng = np.random.default_rng(6)
    L = 3 if bias_shape == (3, 7) else 5
    scores = rng.standard_normal((*lead, L, 7)).astype(dtype)
    bias = None if bias_shape is None else rng.standard_normal(bias_shape).astype(dtype)
    masked = None if mask_shape is None else rng.random(mask_shape) < 0.4
    dev = tl.device("cpu")
    got = dev.masked_softmax(scores, 0.3, bias, masked, causal)
    want = masked_softmax_reference(np, scores, 0.3, bias, masked, causal)
    assert got.dtype == dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-7 if dtype == np.float32 else 1e-15)
    g = rng.standard_normal(scores.shape).astype(dtype)
    np.testing.assert_allclose(dev.masked_softmax_backward(g, want, 0.3),
                               masked_softmax_backward_reference(np, g, want, 0.3),
                               rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-6 if dtype == np.float32 else 1e-14)


# ---- errors --------------------------------------------------------------------------------------
def _t(*shape, dtype=tl.float32):
    return tl.zeros(*shape, dtype=dtype)


@pytest.mark.parametrize("args,kwargs,exc,match", [
    ((_t(2, 3, 4), _t(2, 5, 3), _t(2, 5, 6)), {}, ShapeError, r"same embedding dim E.*\(2, 5, 3\)"),
    ((_t(2, 3, 4), _t(2, 5, 4), _t(2, 4, 6)), {}, ShapeError, r"sequence length S.*\(2, 4, 6\)"),
    ((_t(4), _t(5, 4), _t(5, 6)), {}, ShapeError, "at least 2 dims"),
    ((_t(2, 3, 4), _t(3, 5, 4), _t(3, 5, 6)), {}, ShapeError, "cannot be broadcast"),
    ((_t(3, 4), _t(5, 4), _t(5, 6)), {"attn_mask": _t(2, 3, 5)}, ShapeError,
     r"attn_mask of shape \(2, 3, 5\) is not broadcastable.*\(3, 5\)"),
    ((_t(3, 4), _t(5, 4), _t(5, 6)), {"attn_mask": _t(4, 5, dtype=tl.bool)}, ShapeError,
     "not broadcastable"),
    ((_t(3, 4), _t(5, 4), _t(5, 6)), {"attn_mask": _t(3, 5, dtype=tl.int64)}, DTypeError,
     "attn_mask must be bool, float32 or have query's dtype float32, got int64"),
    ((_t(3, 4), _t(5, 4), _t(5, 6)), {"attn_mask": _t(3, 5, dtype=tl.float64)}, DTypeError,
     "got float64"),
    ((_t(3, 4), _t(5, 4, dtype=tl.float64), _t(5, 6)), {}, DTypeError,
     "same dtype, got float32, float64 and float32"),
    ((_t(3, 4, dtype=tl.int64), _t(5, 4, dtype=tl.int64), _t(5, 6, dtype=tl.int64)), {},
     DTypeError, "floating"),
    ((_t(3, 4), _t(5, 4), _t(5, 6)), {"attn_mask": _t(3, 5, dtype=tl.bool), "is_causal": True},
     ValueError, "attn_mask should not be given when is_causal=True"),
    ((_t(3, 4), _t(5, 4), _t(5, 6)), {"dropout_p": 1.5}, ValueError, "between 0 and 1"),
    ((_t(2, 6, 3, 4), _t(2, 4, 5, 4), _t(2, 4, 5, 6)), {"enable_gqa": True}, ShapeError,
     "divisible"),
    ((_t(1, 4, 3, 4), _t(1, 3, 5, 4), _t(1, 4, 5, 6)), {"enable_gqa": True}, ShapeError,
     r"query heads \(4\) to be divisible by the key heads \(3\) and by the value heads \(4\)"),
])
def test_errors(args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        F.scaled_dot_product_attention(*args, **kwargs)
