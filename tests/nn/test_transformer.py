"""MultiheadAttention, TransformerEncoderLayer and TransformerEncoder against their torch twins
with torch's weights loaded through ``load_state_dict`` (as NumPy arrays): outputs, attention
weights, input gradients and every parameter gradient (float64 tight, float32 with torch's
``assert_close`` defaults), dropout's statistics and error messages.

torch's inference fast path (fused kernels, nested tensors for padding masks) is taken only when
no input requires grad; every comparison here feeds inputs that require grad, so torch runs its
reference ("slow") path, which is what ours implements.
"""

import copy
import math

import numpy as np
import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

import tinygrad_lite as tl
import tinygrad_lite.nn as nn
from tinygrad_lite.errors import DTypeError
from tinygrad_lite.nn.transformer import _is_causal_mask
from tinygrad_lite.testing import assert_close

from .helpers import DTYPE_IDS, DTYPES

MASKS = ["none", "bool", "float", "float3d", "kpm_bool", "kpm_float", "bool+kpm", "causal"]


def twin(ours: nn.Module, ref: torch.nn.Module, dtypes) -> None:
    """Cast torch's module to the dtype and load its state_dict into ours (names must match)."""
    ref.to(dtypes[1])
    ours.to(dtypes[0])
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in ref.named_parameters()]
    ours.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})


def both(arr, dtypes, grad=True):
    """The same values as a (tl, torch) pair; floats get ``dtypes`` and require grad."""
    if arr is None:
        return None, None
    if arr.dtype == bool:
        return tl.tensor(arr), torch.tensor(arr)
    return (tl.tensor(arr, dtype=dtypes[0], requires_grad=grad),
            torch.tensor(arr, dtype=dtypes[1], requires_grad=grad))


def make_masks(rng, kind, n, heads, L, S, batched=True):
    """(attn_mask, key_padding_mask, is_causal) as NumPy arrays; bool masks never hide key 0, so
    no row is fully masked (that case has its own test)."""
    attn = kpm = None
    if kind in ("bool", "bool+kpm"):
        attn = rng.random((L, S)) < 0.4
        attn[:, 0] = False
    elif kind == "float":
        attn = rng.standard_normal((L, S))
    elif kind == "float3d":
        attn = rng.standard_normal((n * heads if batched else heads, L, S))
    elif kind == "causal":
        attn = np.triu(np.ones((L, S), bool), k=1)
    if kind in ("kpm_bool", "bool+kpm"):
        kpm = rng.random((n, S) if batched else (S,)) < 0.4
        kpm[..., 0] = False
    elif kind == "kpm_float":
        kpm = rng.standard_normal((n, S) if batched else (S,))
    elif kind == "kpm_inf":  # a float padding mask that hides keys with -inf (never key 0)
        kpm = np.where(rng.random((n, S) if batched else (S,)) < 0.4, -np.inf, 0.0)
        kpm[..., 0] = 0.0
    return attn, kpm, kind == "causal"


def compare_grads(ours: nn.Module, ref: torch.nn.Module, pairs) -> None:
    for (_, p), (_, pt) in zip(ours.named_parameters(), ref.named_parameters()):
        assert_close(p.grad, pt.grad)
    for a, b in pairs:
        if a is not None and a.requires_grad:
            assert_close(a.grad, b.grad)


def close_to_float64(actual, t32, t64) -> None:
    """A float32 result against the float64 truth: torch's float32 tolerances (atol 1e-5, rtol
    1.3e-6) plus 4x torch's own float32 error on that tensor. Tiny embed dims (LayerNorm over
    3 features) amplify float32 rounding in torch and in ours alike, so comparing ours to torch's
    float32 result alone fails on rounding noise; comparing both to float64 does not."""
    a = np.asarray(actual.numpy(), np.float64)
    t, e = t32.detach().numpy().astype(np.float64), t64.detach().numpy()
    assert a.shape == e.shape
    torch_err = np.abs(t - e).max(initial=0.0)
    excess = np.abs(a - e) - (1e-5 + 1.3e-6 * np.abs(e) + 4 * torch_err)
    assert (excess <= 0).all(), (f"float32 error {np.abs(a - e).max():.3g} vs float64 exceeds "
                                 f"the bound (torch's own float32 error {torch_err:.3g})")


def run_mha(seed, dtypes, n, L, S, heads, head_dim, kind, batch_first, need_weights, average,
            mode="self", batched=True, **kwargs):
    rng = np.random.default_rng(seed)
    E = heads * head_dim
    torch.manual_seed(seed)
    ref = torch.nn.MultiheadAttention(E, heads, batch_first=batch_first, **kwargs)
    ours = nn.MultiheadAttention(E, heads, batch_first=batch_first, **kwargs)
    twin(ours, ref, dtypes)
    if mode == "self":
        S = L

    def seq(T, d):
        if not batched:
            return rng.standard_normal((T, d))
        return rng.standard_normal((n, T, d) if batch_first else (T, n, d))

    q = both(seq(L, E), dtypes)
    k = q if mode == "self" else both(seq(S, ours.kdim), dtypes)
    v = k if mode in ("self", "kv") else both(seq(S, ours.vdim), dtypes)
    attn, kpm, causal = make_masks(rng, kind, n, heads, L, S, batched)
    am, kp = both(attn, dtypes), both(kpm, dtypes)
    outs = []
    for i, mod in ((0, ours), (1, ref)):
        outs.append(mod(q[i], k[i], v[i], key_padding_mask=kp[i], need_weights=need_weights,
                        attn_mask=am[i], average_attn_weights=average, is_causal=causal))
    (out, w), (out_t, w_t) = outs
    assert_close(out, out_t)
    assert (w is None) == (w_t is None)
    g = rng.standard_normal(tuple(out_t.shape))
    loss = (out * tl.tensor(g, dtype=dtypes[0])).sum()
    loss_t = (out_t * torch.tensor(g, dtype=dtypes[1])).sum()
    if w is not None:
        assert_close(w, w_t)
        gw = rng.standard_normal(tuple(w_t.shape))
        loss = loss + (w * tl.tensor(gw, dtype=dtypes[0])).sum()
        loss_t = loss_t + (w_t * torch.tensor(gw, dtype=dtypes[1])).sum()
    loss.backward()
    loss_t.backward()
    compare_grads(ours, ref, [q, k, v, am, kp])


# ---- parameters and init ----------------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [{}, {"bias": False}, {"kdim": 3, "vdim": 5},
                                    {"add_bias_kv": True}, {"kdim": 3, "add_bias_kv": True}])
def test_mha_parameters_match_torch(kwargs):
    ref = torch.nn.MultiheadAttention(8, 2, **kwargs)
    ours = nn.MultiheadAttention(8, 2, **kwargs)
    assert [(n, tuple(p.shape)) for n, p in ours.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in ref.named_parameters()]
    assert list(ours.state_dict()) == list(ref.state_dict())
    ours.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})


def test_mha_default_init():
    tl.manual_seed(0)
    E = 64
    m = nn.MultiheadAttention(E, 4)
    w = m.in_proj_weight.detach().numpy()
    bound = math.sqrt(6 / (E + 3 * E))  # xavier_uniform_ on (3E, E)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound
    assert not m.in_proj_bias.detach().numpy().any()
    assert not m.out_proj.bias.detach().numpy().any()
    ob = 1 / math.sqrt(E)  # out_proj keeps Linear's kaiming-uniform weight
    assert np.abs(m.out_proj.weight.detach().numpy()).max() <= ob
    bk = nn.MultiheadAttention(E, 4, add_bias_kv=True).bias_k.detach().numpy()
    assert bk.shape == (1, 1, E) and bk.std() > 0


def test_encoder_names_match_torch():
    kw = {"dim_feedforward": 16, "dropout": 0.0}
    ref = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(8, 2, **kw), 2,
                                      norm=torch.nn.LayerNorm(8), enable_nested_tensor=False)
    ours = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, **kw), 2, norm=nn.LayerNorm(8))
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in ref.named_modules()]
    assert list(ours.state_dict()) == list(ref.state_dict())
    a, b = ours.layers[0].linear1.weight, ours.layers[1].linear1.weight
    assert a is not b and np.array_equal(a.detach().numpy(), b.detach().numpy())


# ---- MultiheadAttention against torch ---------------------------------------------------------
@pytest.mark.parametrize("dtypes", DTYPES, ids=DTYPE_IDS)
@given(n=st.integers(1, 3), L=st.integers(1, 4), S=st.integers(1, 4), heads=st.integers(1, 3),
       head_dim=st.integers(1, 3), kind=st.sampled_from(MASKS), batch_first=st.booleans(),
       need_weights=st.booleans(), average=st.booleans(),
       mode=st.sampled_from(["self", "kv", "cross"]), seed=st.integers(0, 2**16))
def test_mha_matches_torch(dtypes, n, L, S, heads, head_dim, kind, batch_first, need_weights,
                           average, mode, seed):
    run_mha(seed, dtypes, n, L, S, heads, head_dim, kind, batch_first, need_weights, average,
            mode)


@pytest.mark.parametrize("dtypes", DTYPES, ids=DTYPE_IDS)
@given(L=st.integers(1, 4), S=st.integers(1, 4), heads=st.integers(1, 3),
       kind=st.sampled_from(["none", "bool", "float3d", "kpm_bool", "kpm_float", "causal"]),
       need_weights=st.booleans(), average=st.booleans(), seed=st.integers(0, 2**16))
def test_mha_unbatched_matches_torch(dtypes, L, S, heads, kind, need_weights, average, seed):
    run_mha(seed, dtypes, 1, L, S, heads, 2, kind, False, need_weights, average, "cross",
            batched=False)


@pytest.mark.parametrize("kwargs", [{"kdim": 3, "vdim": 5}, {"add_bias_kv": True},
                                    {"add_zero_attn": True}, {"bias": False},
                                    {"add_bias_kv": True, "add_zero_attn": True, "kdim": 3}])
@pytest.mark.parametrize("kind", ["none", "bool+kpm", "float3d"])
@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_options_match_torch(kwargs, kind, need_weights):
    run_mha(1, DTYPES[0], 2, 3, 4, 2, 3, kind, False, need_weights, False, "cross", **kwargs)


def test_mha_float32_larger():
    run_mha(3, DTYPES[1], 4, 12, 9, 4, 8, "bool+kpm", True, True, True, "cross")
    run_mha(4, DTYPES[1], 4, 12, 12, 4, 8, "causal", False, False, True, "self")


def test_mha_fully_masked_rows_follow_torch():
    """A query whose keys are all padding: torch gives NaN weights and output with
    need_weights=True (plain softmax) and 0 attention (so out_proj's bias) without (SDPA)."""
    torch.manual_seed(0)
    ref, ours = torch.nn.MultiheadAttention(4, 2), nn.MultiheadAttention(4, 2)
    twin(ours, ref, DTYPES[0])
    with torch.no_grad():
        ref.out_proj.bias.uniform_()
    ours.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((3, 2, 4))
    kpm = np.array([[True] * 3, [False] * 3])
    for need in (True, False):
        out_t = ref(*[torch.tensor(x, requires_grad=True)] * 3, key_padding_mask=torch.tensor(
            kpm), need_weights=need)[0]
        xt = tl.tensor(x, dtype=tl.float64, requires_grad=True)
        out = ours(xt, xt, xt, key_padding_mask=tl.tensor(kpm), need_weights=need)[0]
        assert np.isnan(out_t[:, 0].detach().numpy()).all() == need
        assert_close(out, out_t, equal_nan=True)


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("dtypes", DTYPES, ids=DTYPE_IDS)
def test_mha_float_padding_mask_with_inf_matches_torch(dtypes, need_weights):
    run_mha(5, dtypes, 3, 4, 5, 2, 3, "kpm_inf", True, need_weights, True, "cross")


def test_mha_is_causal_ignores_attn_mask_without_weights_like_torch():
    """is_causal=True, no padding mask, need_weights=False: torch applies the causal mask and
    never reads attn_mask (even a non-causal one); with need_weights=True attn_mask is used."""
    torch.manual_seed(0)
    ref, ours = torch.nn.MultiheadAttention(6, 2), nn.MultiheadAttention(6, 2)
    twin(ours, ref, DTYPES[0])
    rng = np.random.default_rng(2)
    x = both(rng.standard_normal((4, 2, 6)), DTYPES[0])
    noise = both(rng.standard_normal((4, 4)), DTYPES[0], grad=False)
    causal = both(np.triu(np.full((4, 4), -np.inf), k=1), DTYPES[0], grad=False)
    for need in (False, True):
        out = ours(x[0], x[0], x[0], attn_mask=noise[0], need_weights=need, is_causal=True)[0]
        out_t = ref(x[1], x[1], x[1], attn_mask=noise[1], need_weights=need, is_causal=True)[0]
        assert_close(out, out_t)
        used = causal if not need else noise
        assert_close(out, ours(x[0], x[0], x[0], attn_mask=used[0], need_weights=need)[0])
    out.sum().backward()
    out_t.sum().backward()
    compare_grads(ours, ref, [x])


@pytest.mark.parametrize("q_dtype,mask_dtype", [("float64", "float32"), ("float32", "float64"),
                                                ("float64", "float16"), ("float32", "float32")])
@pytest.mark.parametrize("which", ["attn_mask", "key_padding_mask"])
@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_float_mask_dtype_follows_torch(q_dtype, mask_dtype, which, need_weights):
    """torch: with need_weights=True a float mask must have the query's dtype ("Input dtypes
    must be the same"); without, SDPA's rule (float32 or the query's dtype). Where torch accepts,
    values and gradients (the mask's too) match."""
    torch.manual_seed(0)
    qd, qd_t = getattr(tl, q_dtype), getattr(torch, q_dtype)
    md, md_t = getattr(tl, mask_dtype), getattr(torch, mask_dtype)
    ref, ours = torch.nn.MultiheadAttention(4, 2), nn.MultiheadAttention(4, 2)
    twin(ours, ref, (qd, qd_t))
    rng = np.random.default_rng(3)
    x_np, m_np = rng.standard_normal((3, 2, 4)), rng.standard_normal((3, 3) if which ==
                                                                      "attn_mask" else (2, 3))
    x, x_t = tl.tensor(x_np, dtype=qd, requires_grad=True), \
        torch.tensor(x_np, dtype=qd_t, requires_grad=True)
    m, m_t = tl.tensor(m_np, dtype=md, requires_grad=True), \
        torch.tensor(m_np, dtype=md_t, requires_grad=True)
    accepted = mask_dtype == q_dtype or (not need_weights and mask_dtype == "float32")
    if not accepted:
        with pytest.raises(RuntimeError):
            ref(x_t, x_t, x_t, need_weights=need_weights, **{which: m_t})
        with pytest.raises(DTypeError, match=f"float {which} must have .*got {mask_dtype}"):
            ours(x, x, x, need_weights=need_weights, **{which: m})
        return
    out = ours(x, x, x, need_weights=need_weights, **{which: m})[0]
    out_t = ref(x_t, x_t, x_t, need_weights=need_weights, **{which: m_t})[0]
    assert out.dtype is qd
    assert_close(out, out_t)
    out.sum().backward()
    out_t.sum().backward()
    assert m.grad.dtype is md
    compare_grads(ours, ref, [(x, x_t), (m, m_t)])


def test_mha_double_backward_matches_torch():
    torch.manual_seed(0)
    ref, ours = torch.nn.MultiheadAttention(4, 2), nn.MultiheadAttention(4, 2)
    twin(ours, ref, DTYPES[0])
    rng = np.random.default_rng(0)
    q, k = both(rng.standard_normal((3, 2, 4)), DTYPES[0]), both(rng.standard_normal((5, 2, 4)),
                                                                 DTYPES[0])
    mask = both(rng.standard_normal((3, 5)), DTYPES[0], grad=False)
    out = ours(q[0], k[0], k[0], attn_mask=mask[0])[0]
    out_t = ref(q[1], k[1], k[1], attn_mask=mask[1])[0]
    (gq,) = tl.autograd.grad((out * out).sum(), [q[0]], create_graph=True)
    (gq_t,) = torch.autograd.grad((out_t * out_t).sum(), [q[1]], create_graph=True)
    assert_close(gq, gq_t)
    (gg,) = tl.autograd.grad((gq * gq).sum(), [ours.in_proj_weight])
    (gg_t,) = torch.autograd.grad((gq_t * gq_t).sum(), [ref.in_proj_weight])
    assert_close(gg, gg_t)


# ---- TransformerEncoderLayer / TransformerEncoder ---------------------------------------------
@pytest.mark.parametrize("dtypes", DTYPES, ids=DTYPE_IDS)
@given(n=st.integers(1, 3), S=st.integers(1, 5), heads=st.integers(1, 3),
       head_dim=st.integers(1, 3), activation=st.sampled_from(["relu", "gelu", "callable"]),
       norm_first=st.booleans(), batch_first=st.booleans(),
       kind=st.sampled_from(["none", "bool", "float", "kpm_bool", "bool+kpm", "causal"]),
       seed=st.integers(0, 2**16))
def test_encoder_layer_matches_torch(dtypes, n, S, heads, head_dim, activation, norm_first,
                                     batch_first, kind, seed):
    # LayerNorm over 1 or 2 features has an analytically zero input gradient (only rounding
    # noise is left to compare)
    assume(heads * head_dim >= 3)
    rng = np.random.default_rng(seed)
    E = heads * head_dim
    torch.manual_seed(seed)
    act = (torch.nn.functional.silu, tl.nn.functional.silu) if activation == "callable" else \
        (activation, activation)
    kw = {"dim_feedforward": 7, "batch_first": batch_first, "norm_first": norm_first}
    ref = torch.nn.TransformerEncoderLayer(E, heads, activation=act[0], **kw).eval()
    ours = nn.TransformerEncoderLayer(E, heads, activation=act[1], **kw).eval()
    ref64 = copy.deepcopy(ref).double()  # the float64 truth, for float32 runs
    twin(ours, ref, dtypes)
    x_np = rng.standard_normal((n, S, E) if batch_first else (S, n, E))
    x = both(x_np, dtypes)
    attn, kpm, causal = make_masks(rng, kind, n, heads, S, S)
    am, kp = both(attn, dtypes, grad=False), both(kpm, dtypes, grad=False)
    out = ours(x[0], src_mask=am[0], src_key_padding_mask=kp[0], is_causal=causal)
    out_t = ref(x[1], src_mask=am[1], src_key_padding_mask=kp[1], is_causal=causal)
    assert_close(out, out_t)
    g = rng.standard_normal(tuple(out_t.shape))
    out.backward(tl.tensor(g, dtype=dtypes[0]))
    out_t.backward(torch.tensor(g, dtype=dtypes[1]))
    if dtypes[1] is torch.float64:
        compare_grads(ours, ref, [x])
        return
    # float32: every gradient against float64, allowing a few times torch's own float32 error
    x64, am64 = both(x_np, DTYPES[0]), both(attn, DTYPES[0], grad=False)
    ref64(x64[1], src_mask=am64[1], src_key_padding_mask=kp[1], is_causal=causal).backward(
        torch.tensor(g))
    for (_, p), (_, p32), (_, p64) in zip(ours.named_parameters(), ref.named_parameters(),
                                          ref64.named_parameters()):
        close_to_float64(p.grad, p32.grad, p64.grad)
    close_to_float64(x[0].grad, x[1].grad, x64[1].grad)


def test_generate_square_subsequent_mask_matches_torch():
    for sz in (0, 1, 5):
        ours = nn.generate_square_subsequent_mask(sz)
        theirs = torch.nn.Transformer.generate_square_subsequent_mask(sz)
        assert ours.dtype is tl.float32
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert nn.generate_square_subsequent_mask(3, dtype=tl.float64).dtype is tl.float64
    assert "generate_square_subsequent_mask" in nn.__all__
    # the error that points to it names a reachable function, and its mask is accepted
    m = nn.MultiheadAttention(4, 2)
    x = tl.randn(3, 2, 4)
    with pytest.raises(RuntimeError, match=r"tl\.nn\.generate_square_subsequent_mask\(L\)"):
        m(x, x, x, is_causal=True)
    m(x, x, x, attn_mask=nn.generate_square_subsequent_mask(3), is_causal=True)


def test_is_causal_mask_detection_matches_torch():
    from torch.nn.modules.transformer import _detect_is_causal_mask
    causal_f = np.triu(np.full((4, 4), -np.inf), k=1)
    rng = np.random.default_rng(0)
    masks = {"none": None, "causal_float": causal_f, "causal_bool": np.isinf(causal_f),
             "causal_f64": causal_f, "noncausal_float": rng.standard_normal((4, 4)),
             "noncausal_bool": rng.random((4, 4)) < 0.5, "wrong_size": causal_f[:3, :3],
             "anti_causal": causal_f.T.copy()}
    for name, mask in masks.items():
        m, m_t = both(mask, (tl.float64, torch.float64) if name == "causal_f64" else DTYPES[1],
                      grad=False)
        for hint in (None, True, False):
            want = _detect_is_causal_mask(m_t, hint, 4)
            assert _is_causal_mask(m, hint, 4) == want, (name, hint)
    assert _is_causal_mask(both(causal_f, DTYPES[1])[0], None, 4)
    assert not _is_causal_mask(both(masks["noncausal_float"], DTYPES[1])[0], None, 4)


@pytest.mark.parametrize("mask,hint", [("noncausal", None), ("noncausal", False),
                                       ("noncausal", True), ("causal", True), ("causal", False),
                                       ("causal", None)])
def test_encoder_causal_hint_matches_torch(mask, hint):
    """The detected or given hint decides whether the layers apply the causal mask in place of
    ``mask``: a non-causal square mask with is_causal=None (or False) is applied, not replaced;
    an explicit is_causal=True replaces even a non-causal mask (torch's SDPA path)."""
    torch.manual_seed(1)
    kw = {"dim_feedforward": 8, "batch_first": True}
    ref = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(4, 2, **kw), 2,
                                      enable_nested_tensor=False).eval()
    ours = nn.TransformerEncoder(nn.TransformerEncoderLayer(4, 2, **kw), 2).eval()
    twin(ours, ref, DTYPES[0])
    rng = np.random.default_rng(4)
    x = both(rng.standard_normal((2, 5, 4)), DTYPES[0])
    m_np = np.triu(np.full((5, 5), -np.inf), k=1) if mask == "causal" else \
        rng.standard_normal((5, 5))
    m = both(m_np, DTYPES[0], grad=False)
    out, out_t = ours(x[0], m[0], is_causal=hint), ref(x[1], m[1], is_causal=hint)
    assert_close(out, out_t)
    if mask == "noncausal" and not hint:  # the mask is used: the causal mask differs
        causal = both(np.triu(np.full((5, 5), -np.inf), k=1), DTYPES[0], grad=False)[0]
        assert not np.allclose(out.detach().numpy(), ours(x[0], causal).detach().numpy())
    out.sum().backward()
    out_t.sum().backward()
    compare_grads(ours, ref, [x])


@pytest.mark.parametrize("dtypes", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("mask", ["none", "causal_detected", "kpm"])
def test_encoder_matches_torch(dtypes, mask):
    torch.manual_seed(0)
    kw = {"dim_feedforward": 12, "batch_first": True, "activation": "gelu"}
    ref = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(8, 2, **kw), 3,
                                      norm=torch.nn.LayerNorm(8), enable_nested_tensor=False)
    ours = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, **kw), 3, norm=nn.LayerNorm(8))
    twin(ours, ref, dtypes)
    ours.eval(), ref.eval()
    rng = np.random.default_rng(1)
    x = both(rng.standard_normal((2, 6, 8)), dtypes)
    m = both(np.triu(np.full((6, 6), -np.inf), k=1), dtypes, grad=False) \
        if mask == "causal_detected" else (None, None)
    kpm = np.zeros((2, 6), bool)
    kpm[1, 4:] = mask == "kpm"
    kp = both(kpm, dtypes) if mask == "kpm" else (None, None)
    out, out_t = ours(x[0], m[0], kp[0]), ref(x[1], m[1], kp[1])
    assert_close(out, out_t)
    out.sum().backward()
    out_t.sum().backward()
    compare_grads(ours, ref, [x])


def test_encoder_layer_unbatched_matches_torch():
    torch.manual_seed(0)
    ref = torch.nn.TransformerEncoderLayer(6, 3, 10, norm_first=True).eval()
    ours = nn.TransformerEncoderLayer(6, 3, 10, norm_first=True).eval()
    twin(ours, ref, DTYPES[0])
    x = both(np.random.default_rng(0).standard_normal((4, 6)), DTYPES[0])
    assert_close(ours(x[0]), ref(x[1]))


# ---- dropout -----------------------------------------------------------------------------------
def test_mha_dropout_statistics():
    """Train mode: each returned weight is 0 or 1 / (1 - p) times its eval value, about p of them
    0; eval mode: exactly the p = 0 result."""
    tl.manual_seed(0)
    p = 0.3
    m = nn.MultiheadAttention(8, 2, dropout=p)
    x = tl.tensor(np.random.default_rng(0).standard_normal((16, 8, 8)), dtype=tl.float64)
    m.to(tl.float64)
    m.eval()
    out_e, w_e = m(x, x, x, average_attn_weights=False)
    m.train()
    out_d, w_d = m(x, x, x, average_attn_weights=False)
    w_e, w_d = w_e.detach().numpy(), w_d.detach().numpy()
    dropped = w_d == 0
    assert abs(dropped.mean() - p) < 0.02
    np.testing.assert_allclose(w_d[~dropped], w_e[~dropped] / (1 - p), rtol=1e-12)
    assert not np.allclose(out_d.detach().numpy(), out_e.detach().numpy())
    ref = nn.MultiheadAttention(8, 2, dropout=0.0).to(tl.float64)
    ref.load_state_dict(m.state_dict())
    m.eval()
    np.testing.assert_array_equal(m(x, x, x)[0].detach().numpy(),
                                  ref(x, x, x)[0].detach().numpy())


def _weights_through_sdpa(module_cls, p: float, train: bool, N=64, S=40):
    """MultiheadAttention (one head, E = S) set up so that its need_weights=False output is the
    (dropped) attention weights: W_q = 0 gives equal scores (every weight 1/S), the values are
    one-hot rows e_s (W_v = I) and out_proj = I, all biases 0."""
    m = module_cls(S, 1, dropout=p, batch_first=True)
    eye = np.eye(S)
    state = {"in_proj_weight": np.concatenate([np.zeros((S, S)), eye, eye]).astype(np.float32),
             "in_proj_bias": np.zeros(3 * S, np.float32),
             "out_proj.weight": eye.astype(np.float32), "out_proj.bias": np.zeros(S, np.float32)}
    if module_cls is torch.nn.MultiheadAttention:
        m.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
        q, kv = torch.zeros(N, S, S), torch.eye(S).expand(N, S, S)
    else:
        m.load_state_dict(state)
        q, kv = tl.zeros(N, S, S), tl.eye(S).expand(N, S, S)
    m.train(train)
    out = m(q, kv, kv, need_weights=False)[0]
    return out.detach().numpy()


@pytest.mark.parametrize("p", [0.2, 0.5])
def test_mha_dropout_statistics_without_weights(p):
    """need_weights=False (the SDPA path): in train mode each weight is 0 (with probability p)
    or 1 / (S (1 - p)), so its expectation stays 1 / S; eval is the identity (exactly 1 / S).
    torch's module, built the same way, shows the same statistics."""
    tl.manual_seed(0)
    torch.manual_seed(0)
    S = 40
    for cls in (nn.MultiheadAttention, torch.nn.MultiheadAttention):
        w = _weights_through_sdpa(cls, p, train=True, S=S)
        zero = np.abs(w) < 1e-7
        # 64 * 40 * 40 = 102400 Bernoulli(p) draws: the std of the fraction is < 0.0016
        assert abs(zero.mean() - p) < 0.01, cls
        np.testing.assert_allclose(w[~zero], 1 / (S * (1 - p)), rtol=1e-5)
        # each row sums to (kept / (1 - p)) / S: mean 1, std sqrt(p / ((1 - p) S)) / sqrt(rows)
        assert abs(w.sum(-1).mean() - 1) < 0.02, cls
        np.testing.assert_allclose(_weights_through_sdpa(cls, p, train=False, S=S), 1 / S,
                                   rtol=1e-5)
    tl.manual_seed(1)
    a = _weights_through_sdpa(nn.MultiheadAttention, p, train=True, S=S)
    tl.manual_seed(1)
    assert np.array_equal(a, _weights_through_sdpa(nn.MultiheadAttention, p, train=True, S=S))


def test_encoder_layer_dropout_train_vs_eval():
    tl.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, 32, dropout=0.5)
    x = tl.randn(10, 4, 8)
    layer.requires_grad_(False)
    layer.eval()
    a, b = layer(x).numpy(), layer(x).numpy()
    np.testing.assert_array_equal(a, b)
    layer.train()
    c, d = layer(x).numpy(), layer(x).numpy()
    assert not np.allclose(c, a) and not np.allclose(c, d)
    # the residual stream survives dropout: train outputs stay correlated with eval's
    assert np.corrcoef(a.ravel(), c.ravel())[0, 1] > 0.3


# ---- errors ------------------------------------------------------------------------------------
def test_errors():
    with pytest.raises(ValueError, match="divisible by num_heads.*embed_dim=10, num_heads=4"):
        nn.MultiheadAttention(10, 4)
    with pytest.raises(ValueError, match="divisible"):
        nn.TransformerEncoderLayer(6, 4)
    with pytest.raises(ValueError, match="activation should be"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")
    m = nn.MultiheadAttention(8, 2)
    x = tl.randn(3, 2, 8)
    with pytest.raises(ValueError, match=r"2-D attn_mask to have shape \(3, 3\), got \(3, 4\)"):
        m(x, x, x, attn_mask=tl.zeros(3, 4))
    with pytest.raises(ValueError, match=r"3-D attn_mask to have shape \(4, 3, 3\)"):
        m(x, x, x, attn_mask=tl.zeros(2, 3, 3))
    with pytest.raises(ValueError, match="attn_mask to be None, 2-D or 3-D"):
        m(x, x, x, attn_mask=tl.zeros(1, 1, 3, 3))
    with pytest.raises(ValueError, match=r"key_padding_mask of shape \(2, 3\), got \(3, 2\)"):
        m(x, x, x, key_padding_mask=tl.zeros(3, 2).bool())
    with pytest.raises(ValueError, match="key_padding_mask to be None or 2-D"):
        m(x, x, x, key_padding_mask=tl.zeros(3).bool())
    with pytest.raises(TypeError, match="only bool and floating types of attn_mask"):
        m(x, x, x, attn_mask=tl.zeros(3, 3, dtype=tl.int64))
    with pytest.raises(ValueError, match="expected last dims"):
        m(tl.randn(3, 2, 6), x, x)
    with pytest.raises(ValueError, match="batch must match"):
        m(x, tl.randn(3, 5, 8), tl.randn(3, 5, 8))
    with pytest.raises(ValueError, match="query should be unbatched 2-D"):
        m(tl.randn(8), x, x)
    with pytest.raises(ValueError, match="expected key and value to be 3-D"):
        m(x, tl.randn(3, 8), x)
    with pytest.raises(RuntimeError, match="needs attn_mask"):
        m(x, x, x, is_causal=True)
