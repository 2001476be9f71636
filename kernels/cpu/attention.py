"""Masked softmax kernels for scaled dot-product attention on the CPU.

The scores are viewed as (N1, N2, L, S) (the leading batch/head dims folded into two) and the
softmax runs over S. The forward is three passes over the scores: a Numba pass writes
``scale * x + bias`` with masked entries -inf and subtracts each row's maximum (0 for a row
that is all -inf), NumPy's vectorised ``exp`` runs in place, and a second Numba pass divides
each row by its sum (a zero sum -- every key masked -- leaves the row 0, torch's safe softmax).
A Numba ``exp`` would be scalar here (no SVML), about 2.5x slower than NumPy's SIMD one, and
one fused Numba pass measured slower than these three. The backward
``scale * y * (g - sum(g * y))`` is one Numba pass (two sweeps over each row, in cache).

The loops are serial: ``prange`` was slower at both sizes measured on the two-core machine,
(32*4*64, 64) and (32*4*256, 256). The bias and bool mask arrive as broadcast views (zero
strides) of the (N1, N2, L, S) shape, so broadcasting costs no copy.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, fastmath={"reassoc", "contract"})
def shifted_scores(x, scale, bias, has_bias, masked, has_mask, causal,
                   out):  # pragma: no cover - compiled
    """out = scale * x (+ bias), -inf where masked (or j > i when causal), minus the row max.

    Args:
        x: (N1, N2, L, S) scores, float32 or float64.
        scale: multiplies x.
        bias: additive mask broadcast to x's shape (any strides); read only if ``has_bias``.
        masked: bool array broadcast to x's shape, True = left out; read only if ``has_mask``.
        causal: leave out keys j > i of query i.
        out: (N1, N2, L, S) output of x's dtype.
    """
    n1, n2, n_q, n_k = x.shape
    for a in range(n1):
        for b in range(n2):
            for i in range(n_q):
                row, dst = x[a, b, i], out[a, b, i]
                stop = min(i + 1, n_k) if causal else n_k
                for j in range(stop):
                    dst[j] = row[j] * scale
                if has_bias:
                    brow = bias[a, b, i]
                    for j in range(stop):
                        dst[j] += brow[j]
                if has_mask:
                    mrow = masked[a, b, i]
                    for j in range(stop):
                        if mrow[j]:
                            dst[j] = -np.inf
                for j in range(stop, n_k):
                    dst[j] = -np.inf
                if n_k == 0:
                    continue
                top = dst[0]
                for j in range(1, n_k):
                    top = max(top, dst[j])
                if top != top or top == np.inf or top == -np.inf:
                    top = 0.0  # an all -inf row: exp gives 0s, the normalise pass keeps them
                for j in range(n_k):
                    dst[j] -= top


@njit(cache=True, fastmath={"reassoc", "contract"})
def normalize_rows(out):  # pragma: no cover - compiled
    """Divide each row of the 2-D ``out`` by its sum in place; rows summing to 0 stay 0."""
    n_rows, n_k = out.shape
    for r in range(n_rows):
        row = out[r]
        total = row[0] * 0
        for j in range(n_k):
            total += row[j]
        if total != 0:
            inv = 1 / total
            for j in range(n_k):
                row[j] *= inv


@njit(cache=True, fastmath={"reassoc", "contract"})
def softmax_backward_rows(g, y, scale, out):  # pragma: no cover - compiled
    """out = scale * y * (g - sum(g * y)) per row; all three (R, S) C-contiguous."""
    n_rows, n_k = y.shape
    for r in range(n_rows):
        grow, yrow, dst = g[r], y[r], out[r]
        dot = grow[0] * 0
        for j in range(n_k):
            dot += grow[j] * yrow[j]
        for j in range(n_k):
            dst[j] = scale * yrow[j] * (grow[j] - dot)


def _four_d(shape) -> tuple[int, int, int, int]:
    """(..., L, S) -> (N1, N2, L, S): leading dims folded into two."""
    lead = tuple(shape[:-2])
    if len(lead) <= 2:
        lead = (1,) * (2 - len(lead)) + lead
    else:
        lead = (int(np.prod(lead[:-1])), lead[-1])
    return lead + tuple(shape[-2:])


def _broadcast_4d(arr, shape, shape4, dtype):
    """``arr`` broadcast to ``shape`` and viewed as ``shape4`` (a copy only when the folded
    dims cannot be expressed as strides, i.e. three or more batch dims broadcast unevenly)."""
    if arr is None:
        return np.broadcast_to(np.zeros(1, dtype), shape4)
    return np.broadcast_to(arr, shape).reshape(shape4)


def masked_softmax(scores, scale: float, bias, masked, causal: bool):
    """Safe masked softmax of (..., L, S) float32/float64 ``scores`` over the last dim.

    ``bias`` (scores' dtype) and ``masked`` (bool, True = left out) are None or broadcastable to
    ``scores``; ``causal`` leaves out keys j > i. Returns a new array of scores' shape.
    """
    shape = scores.shape
    shape4 = _four_d(shape)
    x = np.ascontiguousarray(scores).reshape(shape4)
    out = np.empty(shape4, scores.dtype)
    if scores.size == 0:
        return out.reshape(shape)
    b4 = _broadcast_4d(bias, shape, shape4, scores.dtype)
    m4 = _broadcast_4d(masked, shape, shape4, np.bool_)
    shifted_scores(x, scores.dtype.type(scale), b4, bias is not None, m4, masked is not None,
                   causal, out)
    np.exp(out, out=out)
    normalize_rows(out.reshape(-1, shape[-1]))
    return out.reshape(shape)


def masked_softmax_backward(g, y, scale: float):
    """scale * y * (g - sum(g * y, -1)) for (..., S) arrays of one float dtype."""
    n_k = y.shape[-1]
    out = np.empty(y.shape, y.dtype)
    if y.size:
        softmax_backward_rows(np.ascontiguousarray(g).reshape(-1, n_k),
                              np.ascontiguousarray(y).reshape(-1, n_k), y.dtype.type(scale),
                              out.reshape(-1, n_k))
    return out
