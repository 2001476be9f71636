"""Scaled dot-product attention: ``softmax(q @ k^T * scale + mask) @ v`` with torch's semantics.

Three graph nodes carry the work: one batched matmul for the scores, one fused masked softmax
(scale, additive/boolean/causal mask and a softmax that gives 0, not NaN, for rows where every
key is masked -- torch's ``_safe_softmax``) and one batched matmul with the values. Heads and
batch dims are leading dims of the matmuls, so there is no Python loop over them. The softmax
backward is written with Tensor ops, so the whole op differentiates twice.
"""

from __future__ import annotations

import math
import numbers

from .. import dtypes
from ..autograd import Primitive
from ..errors import DTypeError, ShapeError
from ..ops._base import broadcast_shape, unbroadcast
from ..ops.linalg import MatMul
from ..tensor import Tensor
from . import functional as F


def masked_softmax_reference(xp, scores, scale: float, bias=None, masked=None,
                             causal: bool = False):
    """``softmax(scores * scale + bias)`` over the last dim with ``masked`` entries left out.

    Args:
        xp: the array module (numpy or cupy).
        scores: (..., L, S) floating array (not modified).
        scale: multiplies ``scores``.
        bias: None or an additive float mask broadcastable to ``scores``.
        masked: None or a bool array broadcastable to ``scores``, True where a key is left out.
        causal: also leave out keys j > i of query i.

    Returns:
        (..., L, S) array of ``scores``' dtype (float16 computes in float32); a row whose
        entries are all masked (or all -inf) is 0 everywhere.
    """
    work = xp.float32 if scores.dtype == xp.float16 else scores.dtype
    x = xp.multiply(scores, scale, dtype=work)  # a Python float keeps float32 float32
    if bias is not None:
        x += bias
    if masked is not None:
        xp.copyto(x, -xp.inf, where=masked)
    if causal:
        xp.copyto(x, -xp.inf, where=xp.triu(xp.ones(x.shape[-2:], dtype=bool), k=1))
    if x.size == 0:
        return x.astype(scores.dtype, copy=False)
    m = x.max(axis=-1, keepdims=True)
    # an all -inf row would shift by -inf (inf - inf = nan): shift it by 0, its exps are all 0
    m[~xp.isfinite(m)] = 0
    x -= m
    xp.exp(x, out=x)
    total = x.sum(axis=-1, keepdims=True)
    total[total == 0] = 1  # all-masked rows: 0 / 1 = 0 (torch's safe softmax)
    x /= total
    return x.astype(scores.dtype, copy=False)


def masked_softmax_backward_reference(xp, g, y, scale: float):
    """``scale * y * (g - sum(g * y, -1))``: the softmax's vector-Jacobian product."""
    gx = y * (g - (g * y).sum(axis=-1, keepdims=True))
    if scale != 1.0:
        gx *= gx.dtype.type(scale)
    return gx


class MaskedSoftmax(Primitive):
    """y = safe_softmax(scale * scores + bias, masked -> -inf) over the last dim.

    Inputs: scores and, optionally, a float ``bias`` (differentiable); the bool mask and the
    causal flag are constant keywords. grad_scores = scale * y * (g - sum(g * y)); grad_bias is
    the same without the scale, summed back to the bias's shape. Masked entries have y = 0, so
    they get 0.
    """

    __slots__ = ("scale",)
    saves_output = True

    def forward(ctx, scores, bias=None, scale=1.0, masked=None, causal=False):
        ctx.scale = scale
        with ctx.device.quiet():
            return ctx.device.masked_softmax(scores, scale, bias, masked, causal)

    def backward(ctx, g):
        y = ctx.output
        need = ctx.needs_input_grad
        if len(need) == 1:
            return MaskedSoftmaxGrad.apply(g, y, scale=ctx.scale)
        gx = MaskedSoftmaxGrad.apply(g, y, scale=1.0)
        g_scores = gx * ctx.scale if need[0] else None
        g_bias = unbroadcast(gx, ctx.inputs[1].shape) if need[1] else None
        return g_scores, g_bias


class MaskedSoftmaxGrad(Primitive):
    """out = c * y * (g - sum(g * y)) over the last dim (one fused pass on the CPU).

    Its own gradients, for double backward, with upstream u:
    d/dg = c * y * (u - sum(u * y)) (this op again) and
    d/dy = c * (u * (g - sum(g * y)) - g * sum(u * y)).
    """

    __slots__ = ("scale",)
    saves_inputs = (0, 1)

    def forward(ctx, g, y, scale):
        ctx.scale = scale
        return ctx.device.masked_softmax_backward(g, y, scale)

    def backward(ctx, u):
        g, y = ctx.inputs
        need_g, need_y = ctx.needs_input_grad
        c = ctx.scale
        grad_g = MaskedSoftmaxGrad.apply(u, y, scale=c) if need_g else None
        grad_y = None
        if need_y:
            grad_y = (u * (g - (g * y).sum(-1, keepdim=True)) - g * (u * y).sum(-1, keepdim=True))
            grad_y = grad_y * c if c != 1.0 else grad_y
        return grad_g, grad_y


def _check(query, key, value, attn_mask, dropout_p, is_causal, scale) -> None:
    op = "scaled_dot_product_attention"
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
    shapes = f"query {tuple(query.shape)}, key {tuple(key.shape)}, value {tuple(value.shape)}"
    if min(query.ndim, key.ndim, value.ndim) < 2:
        raise ShapeError(f"{op}: query, key and value need at least 2 dims (..., L or S, E), "
                         f"got {shapes}")
    if not query.dtype is key.dtype is value.dtype:
        raise DTypeError(f"{op}: expected query, key and value of the same dtype, got "
                         f"{query.dtype.name}, {key.dtype.name} and {value.dtype.name}")
    if query.dtype.category != 2:
        raise DTypeError(f"{op}: expected floating query, key and value, got {query.dtype.name}")
    if query.shape[-1] != key.shape[-1]:
        raise ShapeError(f"{op}: query and key must have the same embedding dim E (last dim), "
                         f"got {shapes}")
    if key.shape[-2] != value.shape[-2]:
        raise ShapeError(f"{op}: key and value must have the same sequence length S (dim -2), "
                         f"got {shapes}")
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"{op}: dropout probability has to be between 0 and 1, but got "
                         f"{dropout_p}")
    if is_causal and attn_mask is not None:
        raise ValueError(f"{op}: attn_mask should not be given when is_causal=True "
                         "(the causal mask is built from L and S)")
    if scale is not None and not isinstance(scale, numbers.Real):
        raise TypeError(f"{op}: scale must be a float or None, got {type(scale).__name__}")
    if attn_mask is not None:
        if not isinstance(attn_mask, Tensor):
            raise TypeError(f"{op}: attn_mask must be a Tensor or None, got "
                            f"{type(attn_mask).__name__}")
        # torch's rule: bool, float32 (any floating query) or exactly the query's dtype
        if attn_mask.dtype not in (dtypes.bool_, dtypes.float32, query.dtype):
            raise DTypeError(f"{op}: attn_mask must be bool, float32 or have query's dtype "
                             f"{query.dtype.name}, got {attn_mask.dtype.name}")


def _repeat_heads(t: Tensor, groups: int) -> Tensor:
    """(..., H, S, E) -> (..., H * groups, S, E), each head repeated ``groups`` times in a row
    (torch's repeat_interleave on dim -3)."""
    *lead, h, s, e = t.shape
    return t.unsqueeze(-3).expand(*lead, h, groups, s, e).reshape(*lead, h * groups, s, e)


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor,
                                 attn_mask: Tensor | None = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """Attention weights ``softmax(q k^T * scale + mask)`` applied to ``v`` (torch's semantics).

    Args:
        query: (..., L, E).
        key: (..., S, E); leading dims broadcast with query's.
        value: (..., S, Ev).
        attn_mask: None, a bool mask (True = the key takes part) or a float mask added to the
            scores; broadcastable to (..., L, S) without enlarging it. A float mask is float32
            or of query's dtype (torch's rule; a float64 mask of a float32 query is an error).
        dropout_p: dropout probability applied to the attention weights (always, as torch's
            functional form: pass 0.0 in evaluation).
        is_causal: mask with the upper-left aligned lower triangle of an (L, S) matrix; no
            ``attn_mask`` may be given with it.
        scale: multiplies the scores; default ``1 / sqrt(E)``.
        enable_gqa: let key and value have fewer heads (dim -3) than query: each is repeated
            (repeat_interleave) up to the query heads, key by hq / hk and value by hq / hv.

    Returns:
        (..., L, Ev). A query row whose keys are all masked gives 0 (and 0 gradients), as
        torch 2.x's math path.
    """
    _check(query, key, value, attn_mask, dropout_p, is_causal, scale)
    op = "scaled_dot_product_attention"
    if enable_gqa and min(query.ndim, key.ndim, value.ndim) >= 3:
        # as torch: key and value are repeated separately, by hq / hk and hq / hv
        hq, hk, hv = query.shape[-3], key.shape[-3], value.shape[-3]
        if hq % hk or hq % hv:
            raise ShapeError(f"{op}: enable_gqa needs the query heads ({hq}) to be divisible by "
                             f"the key heads ({hk}) and by the value heads ({hv})")
        if hk != hq:
            key = _repeat_heads(key, hq // hk)
        if hv != hq:
            value = _repeat_heads(value, hq // hv)
    L, S = query.shape[-2], key.shape[-2]
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    try:
        broadcast_shape(query.shape[:-2], key.shape[:-2], value.shape[:-2], op=op)
    except ShapeError:
        raise ShapeError(f"{op}: batch dims of query {tuple(query.shape)}, key "
                         f"{tuple(key.shape)} and value {tuple(value.shape)} cannot be "
                         "broadcast together") from None
    score_shape = tuple(broadcast_shape(query.shape[:-2], key.shape[:-2], op=op)) + (L, S)
    bias = masked = None
    if attn_mask is not None:
        try:
            ok = broadcast_shape(attn_mask.shape, score_shape, op=op) == score_shape
        except ShapeError:
            ok = False
        if not ok:
            raise ShapeError(f"{op}: attn_mask of shape {tuple(attn_mask.shape)} is not "
                             f"broadcastable to the attention scores (..., L, S) = {score_shape}")
        if attn_mask.dtype is dtypes.bool_:
            masked = ~attn_mask._data
        elif attn_mask.dtype is not query.dtype and query.dtype is not dtypes.float16:
            # a float32 mask of a float64 query: a differentiable cast, so the mask's gradient
            # keeps float32 (as torch's); a float16 query computes in float32 below
            bias = attn_mask.to(query.dtype)
        else:
            bias = attn_mask
    if query.dtype is dtypes.float16:  # torch's CPU kernels accumulate half in float32 too
        out = scaled_dot_product_attention(
            query.float(), key.float(), value.float(),
            attn_mask if bias is None else bias.float(), dropout_p, is_causal, scale)
        return out.half()
    scores = MatMul.apply(query, key, trans_b=True)
    attn = (MaskedSoftmax.apply(scores, scale=scale, masked=masked, causal=is_causal)
            if bias is None else MaskedSoftmax.apply(scores, bias, scale=scale, masked=masked))
    if dropout_p > 0.0:
        attn = F.dropout(attn, dropout_p, training=True)
    return MatMul.apply(attn, value)
