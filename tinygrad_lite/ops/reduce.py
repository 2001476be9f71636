"""Reductions: sum, amax/amin, prod and cumsum primitives; mean, var, std, logsumexp, norm,
max/min with indices as composites. ``dim`` may be None, an int or a tuple; ``keepdim`` as torch.
"""

from __future__ import annotations

import builtins
import math
from collections import namedtuple

from .. import dtypes
from ..autograd import Primitive, is_grad_enabled
from ..errors import DTypeError, ShapeError, normalize_dim, normalize_dims
from ._base import Tensor
from .elementwise import cast, where

MinMax = namedtuple("MinMax", ["values", "indices"])  # what max(dim)/min(dim) return


def _kept_shape(shape, dims):
    return tuple(1 if i in dims else s for i, s in enumerate(shape))


def _expand_back(g: Tensor, x: Tensor, dims, keepdim: bool) -> Tensor:
    """Broadcast a reduced gradient back to the input's shape."""
    if not keepdim and g.ndim:  # a 0-d gradient broadcasts without the reshape
        g = g.reshape(_kept_shape(x.shape, dims))
    return g.expand(x.shape)


class Sum(Primitive):
    __slots__ = ("dims", "keepdim")

    def forward(ctx, x, dims, keepdim):
        ctx.dims, ctx.keepdim = dims, keepdim
        out_dtype = x.dtype if x.dtype.kind == "f" else "int64"
        return ctx.device.xp.sum(x, axis=dims, keepdims=keepdim, dtype=out_dtype)

    def backward(ctx, g):
        return _expand_back(g, ctx.inputs[0], ctx.dims, ctx.keepdim)


class Extremum(Primitive):
    """amax / amin (and max()/min() without dim): at ties the gradient is split evenly.

    NaN follows torch: amax's gradient becomes NaN for the slice (no element equals NaN, so the
    count is 0); max() without dim counts NaN inputs as the maximum (``nan_hits``).
    """

    __slots__ = ("dims", "keepdim", "fn", "nan_hits")
    saves_inputs = (0,)
    saves_output = True

    def forward(ctx, x, dims, keepdim, fn, nan_hits=False):
        ctx.dims, ctx.keepdim, ctx.fn, ctx.nan_hits = dims, keepdim, fn, nan_hits
        return getattr(ctx.device.xp, fn)(x, axis=dims, keepdims=keepdim)

    def backward(ctx, g):
        x = ctx.inputs[0]
        out = _expand_back(ctx.output, x, ctx.dims, ctx.keepdim)
        hit = x == out
        if ctx.nan_hits:
            hit = hit | ((x != x) & (out != out))
        count = hit.sum(dim=ctx.dims, keepdim=True).to(g.dtype)
        share = _expand_back(g, x, ctx.dims, ctx.keepdim) / count
        return share * hit if ctx.nan_hits else share * hit.to(g.dtype)


class Prod(Primitive):
    __slots__ = ("dims", "keepdim")
    saves_inputs = (0,)
    saves_output = True

    def forward(ctx, x, dims, keepdim):
        ctx.dims, ctx.keepdim = dims, keepdim
        out_dtype = x.dtype if x.dtype.kind == "f" else "int64"
        return ctx.device.xp.prod(x, axis=dims, keepdims=keepdim, dtype=out_dtype)

    def backward(ctx, g):
        # d prod / d x_i = product of the others; with zeros present, out / x_i is undefined, so
        # the product of the non-zero entries is used where x_i is the only zero of its slice.
        x = ctx.inputs[0]
        dims, keepdim = ctx.dims, ctx.keepdim
        g = _expand_back(g, x, dims, keepdim)
        zero = x == 0
        x_safe = where(zero, 1, x)
        out = _expand_back(ctx.output, x, dims, keepdim)
        others = out / x_safe
        if zero.any():
            if is_grad_enabled():  # create_graph: the result must differentiate right, too
                others = _prod_of_others(x, dims)
            else:
                nonzero_prod = x_safe.prod(dim=dims, keepdim=True).expand(x.shape)
                single = zero.sum(dim=dims, keepdim=True).expand(x.shape) == 1
                others = where(zero, where(single, nonzero_prod, 0), others)
        return g * others


def _prod_of_others(x: Tensor, dims) -> Tensor:
    """For each element, the product of the other elements of its reduction slice, as a
    differentiable expression (O(n^2) in the slice length n; used only with zeros and
    create_graph, where ``out / x`` is undefined and its derivative matters)."""
    keep = [d for d in range(x.ndim) if d not in dims]
    perm = keep + list(dims)
    xt = x.permute(*perm)
    lead = xt.shape[:len(keep)]
    n = math.prod(xt.shape[len(keep):])
    flat = xt.reshape(lead + (1, n)).expand(lead + (n, n))
    diagonal = Tensor._make(x._device.xp.eye(n, dtype=bool), x._device)
    others = where(diagonal, 1, flat).prod(dim=-1).reshape(xt.shape)
    inverse = [0] * len(perm)
    for i, d in enumerate(perm):
        inverse[d] = i
    return others.permute(*inverse)


class Cumsum(Primitive):
    __slots__ = ("dim",)

    def forward(ctx, x, dim):
        ctx.dim = dim
        out_dtype = x.dtype if x.dtype.kind == "f" else "int64"
        if x.ndim == 0:
            return x.astype(out_dtype)
        # float16 running sums lose everything past 2048; accumulate in float32 as torch does
        acc = "float32" if x.dtype == "float16" else out_dtype
        return ctx.device.xp.cumsum(x, axis=dim, dtype=acc).astype(out_dtype, copy=False)

    def backward(ctx, g):
        d = ctx.dim
        if g.ndim == 0:
            return g
        return g.flip(d).cumsum(d).flip(d)


# ---- front ends ------------------------------------------------------------------------------
def _with_dtype(fn, x: Tensor, dtype, op: str, *args) -> Tensor:
    """``dtype=``: floating targets cast the input first (accumulate there); integer targets
    cast the (int64) result, as torch returns exactly the requested dtype."""
    dt = dtypes.to_dtype(dtype, op)
    if dt.category == 2:
        return fn(cast(x, dt), *args)
    if x.requires_grad:
        raise DTypeError(f"{op}: autograd does not support the integer result dtype {dt.name}")
    return cast(fn(x, *args), dt)


def sum(x: Tensor, dim=None, keepdim: bool = False, dtype=None) -> Tensor:
    if dtype is not None:
        return _with_dtype(sum, x, dtype, "sum", dim, keepdim)
    return Sum.apply(x, dims=normalize_dims(dim, x.ndim, "sum"), keepdim=keepdim)


def _via_float32(fn, x: Tensor, *args):
    """Run a float16 reduction in float32 and round once at the end, as torch accumulates."""
    return cast(fn(cast(x, dtypes.float32), *args), dtypes.float16)


def mean(x: Tensor, dim=None, keepdim: bool = False, dtype=None) -> Tensor:
    if dtype is not None:
        x = cast(x, dtypes.to_dtype(dtype, "mean"))
    if x.dtype is dtypes.float16:
        return _via_float32(mean, x, dim, keepdim)
    if x.dtype.category != 2:
        raise DTypeError(f"mean: could not infer output dtype; input dtype must be floating, got "
                         f"{x.dtype.name}")
    dims = normalize_dims(dim, x.ndim, "mean")
    count = math.prod(x.shape[d] for d in dims)
    return sum(x, dims, keepdim) / count if count else sum(x, dims, keepdim) * math.nan


def _nonempty(x: Tensor, dims, op: str) -> None:
    if x.numel() == 0 and (not dims or builtins.any(x.shape[d] == 0 for d in dims)):
        raise ShapeError(f"{op}: cannot reduce over a zero-size dimension (input shape "
                         f"{tuple(x.shape)}) because the operation has no identity")


def amax(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    dims = normalize_dims(dim, x.ndim, "amax")
    _nonempty(x, dims, "amax")
    return Extremum.apply(x, dims=dims, keepdim=keepdim, fn="amax")


def amin(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    dims = normalize_dims(dim, x.ndim, "amin")
    _nonempty(x, dims, "amin")
    return Extremum.apply(x, dims=dims, keepdim=keepdim, fn="amin")


def _arg(x: Tensor, dim, keepdim: bool, fn: str) -> Tensor:
    xp = x._device.xp
    if dim is None:
        _nonempty(x, (), fn)
        out = getattr(xp, fn)(x._data.reshape(-1))
        shape = (1,) * x.ndim if keepdim else ()
        return Tensor._make(xp.asarray(out, dtype="int64").reshape(shape), x._device)
    d = normalize_dim(dim, x.ndim, fn)
    if x.ndim == 0:
        return Tensor._make(xp.zeros((), dtype="int64"), x._device)
    _nonempty(x, (d,), fn)
    out = getattr(xp, fn)(x._data, axis=d, keepdims=keepdim)
    return Tensor._make(out.astype("int64", copy=False), x._device)


def argmax(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Index of the first maximum (int64, no gradient)."""
    return _arg(x, dim, keepdim, "argmax")


def argmin(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    return _arg(x, dim, keepdim, "argmin")


def max_or_min(x: Tensor, dim, keepdim: bool, which: str):
    """``max()`` (ties split like amax) or ``max(dim)`` -> (values, indices) (gradient goes to
    the returned index)."""
    if dim is None:
        _nonempty(x, (), which)
        return Extremum.apply(x, dims=normalize_dims(None, x.ndim, which), keepdim=False,
                              fn="amax" if which == "max" else "amin", nan_hits=True)
    if isinstance(dim, Tensor):  # torch.max(a, b) is maximum
        from .elementwise import maximum, minimum

        return (maximum if which == "max" else minimum)(x, dim)
    d = normalize_dim(dim, x.ndim, which)
    idx = _arg(x, d, True, "arg" + which)
    if x.ndim == 0:
        return MinMax(x.clone(), idx.reshape(()))
    values = x.gather(d, idx)
    if not keepdim:
        values, idx = values.squeeze(d), idx.squeeze(d)
    return MinMax(values, idx)


def prod(x: Tensor, dim=None, keepdim: bool = False, dtype=None) -> Tensor:
    if dtype is not None:
        return _with_dtype(prod, x, dtype, "prod", dim, keepdim)
    return Prod.apply(x, dims=normalize_dims(dim, x.ndim, "prod"), keepdim=keepdim)


def cumsum(x: Tensor, dim: int, dtype=None) -> Tensor:
    if dtype is not None:
        return _with_dtype(cumsum, x, dtype, "cumsum", dim)
    return Cumsum.apply(x, dim=normalize_dim(dim, x.ndim, "cumsum"))


def var(x: Tensor, dim=None, correction=1, keepdim: bool = False, unbiased=None) -> Tensor:
    """Variance with ``correction`` (1: Bessel's correction); N - correction <= 0 gives inf/nan."""
    if x.dtype.category != 2:
        raise DTypeError(f"var: expected a floating tensor, got {x.dtype.name}")
    if unbiased is not None:
        correction = 1 if unbiased else 0
    if x.dtype is dtypes.float16:
        return _via_float32(var, x, dim, correction, keepdim)
    dims = normalize_dims(dim, x.ndim, "var")
    n = math.prod(x.shape[d] for d in dims)
    centered = x - mean(x, dims, keepdim=True)
    return sum(centered * centered, dims, keepdim) / _safe_div(n - correction)


def _safe_div(denom):
    """Divisor for var: torch uses max(0, N - correction), so too few samples give inf/nan."""
    return denom if denom > 0 else 0.0


def _root(v: Tensor, p: float) -> Tensor:
    """v ** (1/p) whose gradient at v == 0 is 0 (torch's rule for std and norm), not inf."""
    zero = v == 0
    safe = where(zero, 1, v)
    r = safe.sqrt() if p == 2 else safe ** (1.0 / p)
    return where(zero, 0, r)


def std(x: Tensor, dim=None, correction=1, keepdim: bool = False, unbiased=None) -> Tensor:
    normalize_dims(dim, x.ndim, "std")
    return _root(var(x, dim, correction, keepdim, unbiased), 2)


def logsumexp(x: Tensor, dim, keepdim: bool = False) -> Tensor:
    """log(sum(exp(x))) computed around the max; all -inf gives -inf."""
    dims = normalize_dims(dim, x.ndim, "logsumexp")
    if x.dtype.category != 2:
        x = cast(x, dtypes.DEFAULT_FLOAT)
    if x.numel() == 0:
        return sum(x.exp(), dims, keepdim).log()
    m = amax(x.detach(), dims, keepdim=True)
    m = where(m.abs() == math.inf, 0, m)
    out = sum((x - m).exp(), dims, keepdim=True).log() + m
    return out if keepdim else out.squeeze(dims)


def norm(x: Tensor, p=2, dim=None, keepdim: bool = False) -> Tensor:
    """Vector p-norm over ``dim`` (all elements by default); p may be a number, inf, -inf, 'fro'."""
    if x.dtype.category != 2:
        raise DTypeError(f"norm: expected a floating tensor, got {x.dtype.name}")
    normalize_dims(dim, x.ndim, "norm")
    if x.dtype is dtypes.float16:
        return _via_float32(norm, x, p, dim, keepdim)
    if p == "fro":
        p = 2
    if not isinstance(p, (int, float)):
        raise ValueError(f"norm: unsupported p={p!r}")
    a = x.abs()
    if p == math.inf:
        return amax(a, dim, keepdim)
    if p == -math.inf:
        return amin(a, dim, keepdim)
    if p == 0:
        return sum((x != 0).to(x.dtype), dim, keepdim)
    if p == 1:
        return sum(a, dim, keepdim)
    if p == 2:
        return _root(sum(x * x, dim, keepdim), 2)
    nonzero = a != 0  # |x|**p has an infinite slope at 0 for p < 1; torch's gradient there is 0
    return _root(sum(where(nonzero, where(nonzero, a, 1) ** p, 0), dim, keepdim), p)


def all(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    if isinstance(dim, (tuple, list)) and not dim:  # torch: an empty dim list reduces nothing
        return x != 0
    dims = normalize_dims(dim, x.ndim, "all")
    return Tensor._make(x._device.xp.all(x._data, axis=dims, keepdims=keepdim), x._device)


def any(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    if isinstance(dim, (tuple, list)) and not dim:
        return x != 0
    dims = normalize_dims(dim, x.ndim, "any")
    return Tensor._make(x._device.xp.any(x._data, axis=dims, keepdims=keepdim), x._device)
