"""F.embedding and nn.Embedding against torch: values, weight gradients (repeated indices,
padding_idx, scale_grad_by_freq), double backward, max_norm renormalisation, module init,
repr, from_pretrained, state_dict names and errors."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_lite as tl
import tinygrad_lite.nn.functional as F
from tinygrad_lite.errors import DTypeError, ShapeError
from tinygrad_lite.nn.embedding import embedding_backward_reference
from tinygrad_lite.testing import assert_close

from .helpers import DTYPE_IDS, DTYPES


def lookup_both(idx, w_np, dtypes, **kwargs):
    w = tl.tensor(w_np, dtype=dtypes[0], requires_grad=True)
    w_t = torch.tensor(w_np, dtype=dtypes[1], requires_grad=True)
    out = F.embedding(tl.tensor(idx), w, **kwargs)
    out_t = TF.embedding(torch.tensor(idx), w_t, **kwargs)
    return w, w_t, out, out_t


@pytest.mark.parametrize("dtypes", DTYPES, ids=DTYPE_IDS)
@given(shape=st.lists(st.integers(0, 4), min_size=0, max_size=3), vocab=st.integers(1, 8),
       dim=st.integers(1, 5), pad=st.sampled_from([None, 0, -1, 2]), freq=st.booleans(),
       int32=st.booleans(), seed=st.integers(0, 2**16))
def test_matches_torch(dtypes, shape, vocab, dim, pad, freq, int32, seed):
    rng = np.random.default_rng(seed)
    pad = None if pad is None or not -vocab <= pad < vocab else pad
    idx = rng.integers(0, vocab, shape).astype(np.int32 if int32 else np.int64)
    w, w_t, out, out_t = lookup_both(idx, rng.standard_normal((vocab, dim)), dtypes,
                                     padding_idx=pad, scale_grad_by_freq=freq)
    assert out.shape == tuple(out_t.shape)
    assert_close(out, out_t.detach())
    g = rng.standard_normal(tuple(out_t.shape))
    out.backward(tl.tensor(g, dtype=dtypes[0]))
    out_t.backward(torch.tensor(g, dtype=dtypes[1]))
    assert_close(w.grad, w_t.grad)


@pytest.mark.parametrize("pad,freq", [(None, False), (1, False), (-2, True)])
def test_double_backward(pad, freq):
    rng = np.random.default_rng(0)
    idx = np.array([[1, 2, 1], [0, 4, 1]])
    w, w_t, out, out_t = lookup_both(idx, rng.standard_normal((5, 3)), DTYPES[0],
                                     padding_idx=pad, scale_grad_by_freq=freq)
    g_np = rng.standard_normal(tuple(out_t.shape))
    g, g_t = tl.tensor(g_np, requires_grad=True), torch.tensor(g_np, requires_grad=True)
    (gw,) = tl.autograd.grad([out], [w], [g], create_graph=True)
    (gw_t,) = torch.autograd.grad([out_t], [w_t], [g_t], create_graph=True)
    assert_close(gw, gw_t.detach())
    if freq:
        # torch's double backward (embedding_dense_double_backward) ignores scale_grad_by_freq;
        # the true derivative of the (linear) weight gradient comes from index_add in torch
        flat = torch.tensor(idx.reshape(-1))
        counts = torch.bincount(flat, minlength=5).clamp(min=1).double()
        gw_t = torch.zeros(5, 3, dtype=torch.float64).index_add(0, flat, g_t.reshape(-1, 3))
        gw_t = gw_t / counts[:, None]
        gw_t = gw_t * (torch.arange(5) != 5 + pad)[:, None]
        assert_close(gw, gw_t.detach())
    c = rng.standard_normal((5, 3))
    (gg,) = tl.autograd.grad([(gw * tl.tensor(c)).sum()], [g])
    (gg_t,) = torch.autograd.grad([(gw_t * torch.tensor(c)).sum()], [g_t])
    assert_close(gg, gg_t)


def test_padding_row_gets_no_gradient_but_is_looked_up():
    w = tl.tensor(np.arange(12.0).reshape(4, 3), requires_grad=True)
    out = F.embedding(tl.tensor([[3, 3, 0]]), w, padding_idx=-1)
    # the padding row's value is still read
    assert_close(out[0, 0], torch.tensor([9.0, 10.0, 11.0], dtype=torch.float64))
    out.sum().backward()
    assert_close(w.grad, torch.tensor([[1.0] * 3, [0.0] * 3, [0.0] * 3, [0.0] * 3],
                                     dtype=torch.float64))


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
def test_max_norm_renormalises_looked_up_rows_in_place(norm_type):
    rng = np.random.default_rng(1)
    w_np = rng.standard_normal((6, 4)) * 2
    idx = np.array([[1, 3], [3, 5]])
    w, w_t, out, out_t = lookup_both(idx, w_np, DTYPES[0], max_norm=1.5, norm_type=norm_type)
    assert_close(out, out_t.detach())
    assert_close(w.detach(), w_t.detach())  # rows 1, 3, 5 rescaled in place, others untouched
    assert not np.allclose(w.detach().numpy(), w_np)
    g = rng.standard_normal(tuple(out_t.shape))
    out.backward(tl.tensor(g))
    out_t.backward(torch.tensor(g))
    assert_close(w.grad, w_t.grad)


def test_large_vocab_float32_gradient():
    rng = np.random.default_rng(2)
    idx = rng.integers(0, 10000, (32, 64))
    w, w_t, out, out_t = lookup_both(idx, rng.standard_normal((10000, 128)), DTYPES[1])
    g = rng.standard_normal(tuple(out_t.shape))
    out.backward(tl.tensor(g, dtype=tl.float32))
    out_t.backward(torch.tensor(g, dtype=torch.float32))
    assert_close(out, out_t.detach())
    assert_close(w.grad, w_t.grad)


def test_scalar_index():
    w = tl.tensor(np.arange(6.0).reshape(3, 2))
    assert F.embedding(tl.tensor(2), w).shape == (2,)
    assert_close(F.embedding(tl.tensor(2), w), torch.tensor([4.0, 5.0], dtype=torch.float64))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("pad,freq", [(None, False), (3, True)])
def test_cpu_kernel_matches_reference(dtype, index_dtype, pad, freq):
    rng = np.random.default_rng(4)
    idx = rng.integers(0, 7, (5, 6)).astype(index_dtype)  # many repeats
    g = rng.standard_normal((5, 6, 4)).astype(dtype)
    scale = (1.0 / np.maximum(np.bincount(idx.reshape(-1), minlength=7), 1)).astype(dtype) \
        if freq else None
    got = tl.device("cpu").embedding_backward(g, idx, 7, pad, scale)
    want = embedding_backward_reference(np, g, idx, 7, pad, scale)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, want, rtol=1e-6 if dtype == np.float32 else 1e-13)


# ---- the module ----------------------------------------------------------------------------------
def test_module_init_repr_and_state_dict():
    tl.manual_seed(0)
    emb = tl.nn.Embedding(1000, 16, padding_idx=-3)
    assert emb.padding_idx == 997
    assert (emb.num_embeddings, emb.embedding_dim) == (1000, 16)
    assert (emb.max_norm, emb.norm_type, emb.scale_grad_by_freq, emb.sparse) == \
        (None, 2.0, False, False)
    w = emb.weight.detach().numpy()
    assert w.dtype == np.float32 and w.shape == (1000, 16)
    assert (w[997] == 0).all()
    rest = np.delete(w, 997, axis=0)
    assert abs(rest.mean()) < 0.03 and abs(rest.std() - 1) < 0.03  # N(0, 1), 16k draws
    assert list(emb.state_dict()) == list(torch.nn.Embedding(3, 2).state_dict()) == ["weight"]
    for kwargs in ({}, {"padding_idx": 0}, {"max_norm": 1.0, "norm_type": 1.0},
                   {"scale_grad_by_freq": True}):
        assert repr(tl.nn.Embedding(10, 3, **kwargs)) == repr(torch.nn.Embedding(10, 3, **kwargs))
    assert tl.nn.Embedding(4, 2, dtype=tl.float64).weight.dtype is tl.float64


def test_module_forward_matches_torch_with_copied_weights():
    torch.manual_seed(0)
    twin = torch.nn.Embedding(7, 5, padding_idx=2)
    emb = tl.nn.Embedding(7, 5, padding_idx=2)
    emb.load_state_dict({k: v.numpy() for k, v in twin.state_dict().items()})
    idx = np.array([[0, 2, 6, 2], [1, 1, 3, 5]])
    out, out_t = emb(tl.tensor(idx)), twin(torch.tensor(idx))
    assert_close(out, out_t.detach())
    g = np.random.default_rng(3).standard_normal((2, 4, 5)).astype(np.float32)
    out.backward(tl.tensor(g))
    out_t.backward(torch.tensor(g))
    assert_close(emb.weight.grad, twin.weight.grad)


def test_from_pretrained():
    table = np.arange(8.0).reshape(4, 2)
    frozen = tl.nn.Embedding.from_pretrained(tl.tensor(table), padding_idx=1)
    twin = torch.nn.Embedding.from_pretrained(torch.tensor(table), padding_idx=1)
    assert repr(frozen) == repr(twin)
    assert not frozen.weight.requires_grad
    assert_close(frozen.weight.detach(), twin.weight.detach())  # the padding row is kept
    trainable = tl.nn.Embedding.from_pretrained(tl.tensor(table), freeze=False)
    assert trainable.weight.requires_grad
    trainable(tl.tensor([0, 0, 3])).sum().backward()
    assert_close(trainable.weight.grad, torch.tensor([[2.0, 2.0], [0, 0], [0, 0], [1, 1]],
                                                     dtype=torch.float64))


# ---- errors --------------------------------------------------------------------------------------
W = tl.zeros(10, 3)


@pytest.mark.parametrize("call,exc,match", [
    (lambda: F.embedding(tl.tensor([1, 10]), W), IndexError,
     r"embedding: index 10 is out of range for a table of num_embeddings=10"),
    (lambda: F.embedding(tl.tensor([-1, 2]), W), IndexError, "index -1 is out of range"),
    (lambda: F.embedding(tl.tensor([1.0]), W), DTypeError, "int64 or int32, got float32"),
    (lambda: F.embedding(tl.tensor([True]), W), DTypeError, "got bool"),
    (lambda: F.embedding(tl.tensor([1]), tl.zeros(10)), ShapeError, r"2-D.*\(10,\)"),
    (lambda: F.embedding(tl.tensor([1]), W, padding_idx=10), ValueError,
     r"padding_idx must be within num_embeddings \(10\), got 10"),
    (lambda: F.embedding(tl.tensor([1]), W, sparse=True), ValueError, "sparse=True"),
    (lambda: tl.nn.Embedding(10, 3, padding_idx=-11), ValueError, "got -11"),
    (lambda: tl.nn.Embedding(10, 3, sparse=True), ValueError, "sparse=True"),
    (lambda: tl.nn.Embedding(10, 3, _weight=tl.zeros(3, 3)), ShapeError,
     r"\(10, 3\), got \(3, 3\)"),
    (lambda: tl.nn.Embedding.from_pretrained(tl.zeros(3)), ShapeError, "2-D"),
])
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
