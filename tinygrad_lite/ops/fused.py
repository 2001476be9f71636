"""Fused primitives: one node where a composite would build several (softmax, log_softmax).

Forward is one NumPy/CuPy pass around the row maximum; backward is written with Tensor ops so it
differentiates again. The fused loss kernels (log-softmax + NLL) live in ``nn/losses.py`` and
call the device's kernel entry points.
"""

from __future__ import annotations

from ..autograd import Primitive


def _upcast(xp, x):
    """float16 computes in float32, as torch's CPU kernels: a float16 exp-sum over hundreds of
    classes would be off by several ulps."""
    return x.astype(xp.float32) if x.dtype == xp.float16 else x


def _log_softmax_forward(ctx, x, dim: int):
    """The shared forward: log_softmax of ``x`` along ``dim``, in float32 for float16 input."""
    ctx.dim = dim
    xp = ctx.device.xp
    with ctx.device.quiet():
        return _log_softmax_array(xp, _upcast(xp, x), dim)


def _log_softmax_array(xp, x, dim: int):
    if x.size == 0:  # max() has no identity for an empty reduction
        return x.copy()
    m = x.max(axis=dim, keepdims=True)
    # an all -inf (or inf/nan) slice would give inf - inf = nan in the shift; shift it by 0
    m = xp.where(xp.isfinite(m), m, 0).astype(x.dtype, copy=False)
    shifted = x - m
    return shifted - xp.log(xp.exp(shifted).sum(axis=dim, keepdims=True))


class LogSoftmax(Primitive):
    """log_softmax(x) = x - logsumexp(x, dim); grad = g - softmax(x) * sum(g, dim)."""

    __slots__ = ("dim",)
    saves_output = True

    def forward(ctx, x, dim):
        return _log_softmax_forward(ctx, x, dim).astype(x.dtype, copy=False)

    def backward(ctx, g):
        return g - ctx.output.exp() * g.sum(ctx.dim, keepdim=True)


class Softmax(Primitive):
    """softmax(x) = exp(x - logsumexp(x, dim)); grad = y * (g - sum(g * y, dim))."""

    __slots__ = ("dim",)
    saves_output = True

    def forward(ctx, x, dim):
        return ctx.device.xp.exp(_log_softmax_forward(ctx, x, dim)).astype(x.dtype, copy=False)

    def backward(ctx, g):
        y = ctx.output
        return y * (g - (g * y).sum(ctx.dim, keepdim=True))
