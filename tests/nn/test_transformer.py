"""MultiheadAttention, TransformerEncoderLayer and TransformerEncoder against their torch twins
with torch's weights loaded through ``load_state_dict`` (as NumPy arrays): outputs, attention
weights, input gradients and every parameter gradient (float64 tight, float32 with torch's
``assert_close`` defaults), dropout's statistics and error messages.

torch's inference fast path (fused kernels, nested tensors for padding masks) is taken only when
no input requires grad; every comparison here feeds inputs that require grad, so torch runs its
reference ("slow") path, which is what ours implements.
"""

import math

import numpy as np
import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

import tinygrad_lite as tl
import tinygrad_lite.nn as nn
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
    return attn, kpm, kind == "causal"


def compare_grads(ours: nn.Module, ref: torch.nn.Module, pairs) -> None:
    for (_, p), (_, pt) in zip(ours.named_parameters(), ref.named_parameters()):
        assert_close(p.grad, pt.grad)
    for a, b in pairs:
        if a is not None and a.requires_grad:
            assert_close(a.grad, b.grad)


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
    twin(ours, ref, dtypes)
    x = both(rng.standard_normal((n, S, E) if batch_first else (S, n, E)), dtypes)
    attn, kpm, causal = make_masks(rng, kind, n, heads, S, S)
    am, kp = both(attn, dtypes, grad=False), both(kpm, dtypes, grad=False)
    out = ours(x[0], src_mask=am[0], src_key_padding_mask=kp[0], is_causal=causal)
    out_t = ref(x[1], src_mask=am[1], src_key_padding_mask=kp[1], is_causal=causal)
    assert_close(out, out_t)
    g = rng.standard_normal(tuple(out_t.shape))
    out.backward(tl.tensor(g, dtype=dtypes[0]))
    out_t.backward(torch.tensor(g, dtype=dtypes[1]))
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
