"""Fused log-softmax + negative log-likelihood (softmax cross-entropy) kernels for the CPU.

Rows are independent: logits ``x`` have shape (M, C) (the caller moves the class dim last) and
``target`` holds one int64 class index per row. Per row the forward finds the max, the
log-sum-exp and the loss (with torch's label smoothing and class weights) and keeps the max and
the log of the exp-sum, so the backward rebuilds ``softmax = exp(x - max - log_sum)`` in one
pass without storing the (M, C) probabilities.

With ``a = smoothing / C``, ``w_t`` the target's weight and ``W = sum(weight)``, a row's loss is

    (1 - smoothing) * w_t * (lse - x_t) + a * sum_c w_c * (lse - x_c)

and its gradient ``((1 - smoothing) * w_t + a * W) * softmax - (1 - smoothing) * w_t * onehot
- a * weight``. An empty ``weight`` array means every class weighs 1.

The loops are serial: on the two-core development machine a ``prange`` version was slower at
every size tried, from (64, 10) (thread start-up dominates) to (4096, 1000). The forward allows
reassociation (not "no nans/infs", so ±inf logits keep torch's results), which lets Numba
vectorise the exp-sum reduction: about 1.4x faster for C >= 100.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True)
def _weight_total(weight, n_cls):  # pragma: no cover - compiled
    """Sum of the class weights (C when there are none: an empty ``weight``)."""
    if weight.shape[0] == 0:
        return float(n_cls)
    total = 0.0
    for c in range(n_cls):
        total += weight[c]
    return total


@njit(cache=True, fastmath={"reassoc", "contract"})
def softmax_xent_forward(x, target, weight, ignore_index, smoothing, stats):
    """Per-row smoothed, weighted cross-entropy of logits.

    Args:
        x: (M, C) float32 or float64 logits, C-contiguous.
        target: (M,) int64 class indices; ``ignore_index`` rows get loss 0.
        weight: (C,) class weights of x's dtype, or an empty array for none.
        ignore_index: the target value that marks a row as ignored.
        smoothing: label smoothing in [0, 1].
        stats: (3, M) output of x's dtype: the row losses, the row maxima and the logs of the
            row exp-sums (the last two are what the backward needs; 0 for ignored rows).

    Returns:
        ``(loss_sum, weight_sum, bad_row)``: the sum of the row losses, the sum of the target
        weights of non-ignored rows (the ``mean`` denominator), and the first row whose target
        is out of range (-1 when all are valid; the outputs are then incomplete).
    """
    m_rows, n_cls = x.shape
    loss, row_max, row_logsum = stats[0], stats[1], stats[2]
    has_weight = weight.shape[0] != 0
    weight_all = _weight_total(weight, n_cls)
    keep = 1.0 - smoothing
    share = smoothing / n_cls if n_cls > 0 else 0.0
    loss_sum = 0.0
    weight_sum = 0.0
    for i in range(m_rows):
        t = target[i]
        if t == ignore_index:
            loss[i] = 0.0
            row_max[i] = 0.0
            row_logsum[i] = 0.0
            continue
        if t < 0 or t >= n_cls:
            return loss_sum, weight_sum, i
        row = x[i]
        top = row[0]
        for c in range(1, n_cls):
            if row[c] > top:
                top = row[c]
        # all -inf (or an +inf): shift by 0 and get torch's nan/inf; reading the value back
        # from row_max keeps m in x's dtype, so the exps below stay single precision
        row_max[i] = top if math.isfinite(top) else 0.0
        m = row_max[i]
        exp_sum = 0.0
        for c in range(n_cls):  # a branch-free loop: Numba vectorises the exps
            exp_sum += math.exp(row[c] - m)
        log_sum = math.log(exp_sum)
        w_t = weight[t] if has_weight else 1.0
        value = keep * w_t * (log_sum - (row[t] - m))
        if smoothing != 0.0:
            smooth = 0.0  # sum_c w_c * (max - x_c): non-negative terms, no cancellation
            if has_weight:
                for c in range(n_cls):
                    smooth += weight[c] * (m - row[c])
            else:
                for c in range(n_cls):
                    smooth += m - row[c]
            value += share * (smooth + weight_all * log_sum)
        loss[i] = value
        row_logsum[i] = log_sum
        loss_sum += value
        weight_sum += w_t
    return loss_sum, weight_sum, -1


@njit(cache=True)
def softmax_xent_backward(x, target, weight, ignore_index, smoothing, stats, grad_loss, grad):
    """Gradient of the row losses with respect to the logits, written into ``grad``.

    Args:
        x, target, weight, ignore_index, smoothing: as given to the forward.
        stats: the forward's (3, M) per-row outputs.
        grad_loss: (M,) upstream gradient per row, or (1,) for one shared value (the reduced
            losses; the ``mean`` division is already folded in).
        grad: (M, C) output of x's dtype; ignored rows get 0.
    """
    m_rows, n_cls = x.shape
    has_weight = weight.shape[0] != 0
    weight_all = _weight_total(weight, n_cls)
    keep = 1.0 - smoothing
    share = smoothing / n_cls if n_cls > 0 else 0.0
    row_max, row_logsum = stats[1], stats[2]
    stride = 0 if grad_loss.shape[0] == 1 else 1
    for i in range(m_rows):
        t = target[i]
        out = grad[i]
        if t == ignore_index:
            for c in range(n_cls):
                out[c] = 0.0
            continue
        g = grad_loss[i * stride]
        w_t = weight[t] if has_weight else 1.0
        scale = g * (keep * w_t + share * weight_all)
        row = x[i]
        shift = row_max[i]
        log_sum = row_logsum[i]
        for c in range(n_cls):
            out[c] = scale * math.exp((row[c] - shift) - log_sum)
        if smoothing != 0.0:
            uniform = g * share
            if has_weight:
                for c in range(n_cls):
                    out[c] -= uniform * weight[c]
            else:
                for c in range(n_cls):
                    out[c] -= uniform
        out[t] -= g * keep * w_t


def empty_weight(dtype) -> np.ndarray:
    """The "no class weights" marker of ``dtype`` (cached: one per dtype)."""
    key = np.dtype(dtype)
    arr = _EMPTY.get(key)
    if arr is None:
        arr = _EMPTY[key] = np.empty(0, dtype=key)
    return arr


_EMPTY: dict = {}
