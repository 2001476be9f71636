"""Pooling: ``max_pool2d``, ``avg_pool2d``, ``adaptive_avg_pool2d`` and their 1-D twins.

Max and average pooling are primitives whose forward and backward run as device kernels
(``Device.max_pool2d_forward`` ...: the plain-xp references in ``pool_reference.py``, Numba on the
CPU). Both backward ops are linear in the upstream gradient, so their own backward is simple: for
max pooling a gather of the upstream gradient at the saved argmax indices, for average pooling
average pooling again (the adjoint of the adjoint). Any order of gradient therefore works. Adaptive
average pooling is linear and separable, ``y = P_h @ x @ P_w^T`` with small averaging matrices, so
it is written with Tensor matmuls (one GEMM with their Kronecker product for small planes; average
pooling when the sizes divide).

Window rules are torch's: the output size is
``floor((size + 2 pad - dilation (k - 1) - 1 [+ stride - 1 with ceil_mode]) / stride) + 1``, and
with ``ceil_mode`` the last window must start inside the input or the left padding.
"""

from __future__ import annotations

import operator

import numpy as np

from ..autograd import Primitive
from ..errors import DTypeError, ShapeError
from ._base import Tensor
from .indexing import Gather
from .pool_reference import pool_output_size

__all__ = ["adaptive_avg_pool1d", "adaptive_avg_pool2d", "avg_pool1d", "avg_pool2d",
           "max_pool1d", "max_pool2d"]


# ---- primitives -------------------------------------------------------------------------------
class MaxPool2D(Primitive):
    """Values of a max pooling computed by the caller; keeps the argmax indices for backward."""

    __slots__ = ("indices", "x_shape")

    def forward(ctx, x, values, indices):
        ctx.indices, ctx.x_shape = indices, x.shape
        return values

    def backward(ctx, g):
        return MaxPool2DBackward.apply(g, indices=ctx.indices, x_shape=ctx.x_shape)


class MaxPool2DBackward(Primitive):
    """g (N, C, OH, OW) -> (N, C, H, W): scatter-add of g at the argmax indices."""

    __slots__ = ("indices",)

    def forward(ctx, g, indices, x_shape):
        ctx.indices = indices
        if g.size == 0:  # an empty batch (the kernels reshape with -1)
            return ctx.device.xp.zeros(x_shape, g.dtype)
        return ctx.device.max_pool2d_backward(g, indices, x_shape)

    def backward(ctx, gg):  # the adjoint of a scatter is the gather at the same indices
        n, c, h, w = gg.shape
        idx, xp = ctx.indices, ctx.device.xp
        outside = idx >= h * w  # windows that miss the input got no gradient: gather zeros
        has_outside = bool(outside.any())
        flat_idx = Tensor._make(xp.where(outside, 0, idx).reshape(n, c, -1) if has_outside
                                else idx.reshape(n, c, -1), ctx.device)
        out = Gather.apply(gg.reshape(n, c, h * w), flat_idx, dim=2).reshape(idx.shape)
        return out * Tensor._make((~outside).astype(gg._data.dtype), ctx.device) \
            if has_outside else out


class AvgPool2D(Primitive):
    """Average pooling of (N, C, H, W); ``spec`` = (kernel, stride, padding, ceil_mode,
    count_include_pad, divisor_override)."""

    __slots__ = ("spec", "x_shape")

    def forward(ctx, x, spec):
        ctx.spec, ctx.x_shape = spec, x.shape
        return ctx.device.avg_pool2d_forward(x, *spec)

    def backward(ctx, g):
        return AvgPool2DBackward.apply(g, spec=ctx.spec, x_shape=ctx.x_shape)


class AvgPool2DBackward(Primitive):
    """g (N, C, OH, OW) -> (N, C, H, W): each g / divisor spread over its window."""

    __slots__ = ("spec",)

    def forward(ctx, g, spec, x_shape):
        ctx.spec = spec
        kernel, stride, padding, _, count_include_pad, divisor = spec
        return ctx.device.avg_pool2d_backward(g, x_shape, kernel, stride, padding,
                                              count_include_pad, divisor)

    def backward(ctx, gg):
        return AvgPool2D.apply(gg, spec=ctx.spec)


class GlobalAvgPool2D(Primitive):
    """(N, C, H, W) -> (N, C, 1, 1) means: forward one GEMV over the (N*C, H*W) rows (a NumPy
    mean over two short axes is ~6x slower), backward a broadcast (a k=1 matmul would be slow)."""

    __slots__ = ("x_shape",)

    def forward(ctx, x):
        ctx.x_shape = x.shape
        n, c, h, w = x.shape
        xp = ctx.device.xp
        weights = xp.full((h * w, 1), 1 / (h * w), dtype=x.dtype)
        return (xp.ascontiguousarray(x).reshape(n * c, h * w) @ weights).reshape(n, c, 1, 1)

    def backward(ctx, g):
        n, c, h, w = ctx.x_shape
        return (g * (1 / (h * w))).expand(n, c, h, w)


# ---- argument checks (torch's rules; messages name the op and the shapes) ---------------------
def _pair(value, name: str, op: str, n: int = 2) -> tuple[int, ...]:
    """An int or a tuple of 1 or ``n`` ints as an ``n``-tuple."""
    if isinstance(value, bool):
        raise TypeError(f"{op}: {name} must be an int or a tuple of {n} ints, got {value!r}")
    if hasattr(value, "__index__"):  # NumPy ints too, as torch takes
        return (operator.index(value),) * n
    try:
        items = tuple(v if isinstance(v, bool) or not hasattr(v, "__index__") else
                      operator.index(v) for v in value)
    except TypeError:
        raise TypeError(f"{op}: {name} must be an int or a tuple of {n} ints, got "
                        f"{type(value).__name__}") from None
    if len(items) == 1:
        items = items * n
    if len(items) != n or not all(isinstance(v, int) and not isinstance(v, bool) for v in items):
        raise ShapeError(f"{op}: {name} must either be a single int, or a tuple of {n} ints, "
                         f"got {value!r}")
    return items


def _check_input(x: Tensor, op: str, dims: int = 2) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor input, got {type(x).__name__}")
    if x.ndim not in (dims + 1, dims + 2):
        sizes = "L" if dims == 1 else "H, W"
        raise ShapeError(f"{op}: expected a (C, {sizes}) or batched (N, C, {sizes}) input, got "
                         f"shape {tuple(x.shape)}")
    if 0 in x.shape[-dims - 1:]:
        raise ShapeError(f"{op}: expected non-zero sizes for the non-batch dims, got input "
                         f"shape {tuple(x.shape)}")
    if x.dtype.name == "bool":
        raise DTypeError(f"{op}: not implemented for bool tensors")


def _window_args(op, x, kernel_size, stride, padding, dilation, ceil_mode):
    """Checked (kernel, stride, padding, dilation) pairs for a 4-D input."""
    kernel = _pair(kernel_size, "kernel_size", op)
    empty = stride is None or isinstance(stride, (tuple, list)) and len(stride) == 0
    stride = kernel if empty else _pair(stride, "stride", op)
    padding, dilation = _pair(padding, "padding", op), _pair(dilation, "dilation", op)
    if min(kernel) <= 0:
        raise ShapeError(f"{op}: kernel_size must be greater than zero, got {kernel}")
    if min(stride) <= 0:
        raise ShapeError(f"{op}: stride must be greater than zero, got {stride}")
    if min(dilation) <= 0:
        raise ShapeError(f"{op}: dilation must be greater than zero, got {dilation}")
    if min(padding) < 0:
        raise ShapeError(f"{op}: padding must be non-negative, got {padding}")
    if any(p > k // 2 for p, k in zip(padding, kernel)):
        raise ShapeError(f"{op}: pad should be at most half of kernel size, got padding="
                         f"{padding} and kernel_size={kernel}")
    out = tuple(pool_output_size(s, k, st, p, d, ceil_mode)
                for s, k, st, p, d in zip(x.shape[2:], kernel, stride, padding, dilation))
    if min(out) < 1:
        raise ShapeError(f"{op}: input of shape {tuple(x.shape)} is too small for kernel_size="
                         f"{kernel}, stride={stride}, padding={padding}, dilation={dilation} "
                         f"(calculated output size {out})")
    return kernel, stride, padding, dilation


def _batched(x: Tensor, fn):
    """Run ``fn`` on a 4-D input, adding and removing the batch dim of an unbatched one."""
    if x.ndim == 4:
        return fn(x)
    out = fn(x.unsqueeze(0))
    return tuple(o.squeeze(0) for o in out) if isinstance(out, tuple) else out.squeeze(0)


# ---- functional API ---------------------------------------------------------------------------
def _max_pool(x, kernel_size, stride, padding, dilation, ceil_mode, return_indices, op):
    kernel, stride, padding, dilation = _window_args(op, x, kernel_size, stride, padding,
                                                     dilation, ceil_mode)
    values, indices = x._device.max_pool2d_forward(x._data, kernel, stride, padding, dilation,
                                                   ceil_mode)
    out = MaxPool2D.apply(x, values=values, indices=indices)
    return (out, Tensor._make(indices, x._device)) if return_indices else out


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """2-D max pooling, torch's ``F.max_pool2d``.

    Args:
        input: (N, C, H, W) or (C, H, W).
        kernel_size, stride, padding, dilation: ints or (h, w) pairs; stride defaults to
            kernel_size; padding (implicit -inf) must be at most half the kernel.
        ceil_mode: round the output size up (the last window must start inside the input).
        return_indices: also return the argmax of each window as int64 flat indices into the
            input's (H, W) plane (ties: the first in row-major order; NaN wins, as in torch).

    Returns:
        (N, C, OH, OW) (or (C, OH, OW)), and the indices of the same shape if requested.
    """
    _check_input(input, "max_pool2d")
    return _batched(input, lambda x: _max_pool(x, kernel_size, stride, padding, dilation,
                                               ceil_mode, return_indices, "max_pool2d"))


def _avg_pool(x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override,
              op):
    kernel, stride, padding, _ = _window_args(op, x, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None and int(divisor_override) == 0:
        raise ShapeError(f"{op}: divisor_override must be non-zero, got {divisor_override}")
    divisor = None if divisor_override is None else int(divisor_override)
    spec = (kernel, stride, padding, bool(ceil_mode), bool(count_include_pad), divisor)
    return AvgPool2D.apply(x, spec=spec)


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """2-D average pooling, torch's ``F.avg_pool2d``.

    Args:
        input: (N, C, H, W) or (C, H, W).
        kernel_size, stride, padding: ints or (h, w) pairs; stride defaults to kernel_size;
            padding (implicit zeros) must be at most half the kernel.
        ceil_mode: round the output size up (the last window must start inside the input).
        count_include_pad: divide by the window size including padded zeros (but not the
            ceil_mode overhang beyond the padding); otherwise by the in-input count.
        divisor_override: divide every window by this instead.

    Returns:
        (N, C, OH, OW) (or (C, OH, OW)).
    """
    _check_input(input, "avg_pool2d")
    return _batched(input, lambda x: _avg_pool(x, kernel_size, stride, padding, ceil_mode,
                                               count_include_pad, divisor_override,
                                               "avg_pool2d"))


def _adaptive_matrix(xp, size: int, out: int, dtype):
    """(out, size) averaging matrix of torch's adaptive windows [floor(i size / out),
    ceil((i + 1) size / out))."""
    i = xp.arange(out)
    start = (i * size) // out
    end = ((i + 1) * size + out - 1) // out
    j = xp.arange(size)
    inside = (j >= start[:, None]) & (j < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


_KRON_LIMIT = 1 << 18  # entries of the (OH*OW, H*W) matrix up to which one GEMM does it all


def _adaptive_avg(x: Tensor, out_h: int, out_w: int) -> Tensor:
    """(N, C, H, W) -> (N, C, out_h, out_w) from Tensor ops (so any order of gradient works).

    Small planes that shrink (ResNet's 7x7 -> 1x1 included) are one GEMM with kron(P_h, P_w)
    over the (N*C, H*W) rows: several times faster than a mean over two axes or than N*C small
    matmuls (for outputs larger than the input the Kronecker product's flops don't pay).
    """
    n, c, h, w = x.shape
    xp, dev, dt = x._device.xp, x._device, x._data.dtype
    if dt == xp.float16:  # torch sums float16 in float32 and rounds once (1/7 isn't a float16)
        return _adaptive_avg(x.float(), out_h, out_w).half()
    if (out_h, out_w) == (1, 1):
        return GlobalAvgPool2D.apply(x)
    # The GEMMs below multiply every input by the zeros outside its windows: 0 * inf = nan would
    # spread an inf or nan over the whole plane (numpy's warning for it is silenced). Finite
    # inputs give finite means (none exceeds the largest |x|), so only a non-finite output
    # is computed again from per-window means.
    if out_h <= h and out_w <= w and out_h * out_w * h * w <= _KRON_LIMIT:
        pool = xp.kron(_adaptive_matrix(xp, h, out_h, dt), _adaptive_matrix(xp, w, out_w, dt))
        with np.errstate(invalid="ignore"):
            y = (x.reshape(n * c, h * w) @ Tensor._make(pool.T, dev)).reshape(n, c, out_h, out_w)
    elif out_h and out_w and h % out_h == 0 and w % out_w == 0:
        k = (h // out_h, w // out_w)
        return AvgPool2D.apply(x, spec=(k, k, (0, 0), False, True, None))
    else:
        with np.errstate(invalid="ignore"):
            rows = x if w == out_w else \
                x @ Tensor._make(_adaptive_matrix(xp, w, out_w, dt).T, dev)
            y = rows if h == out_h else \
                Tensor._make(_adaptive_matrix(xp, h, out_h, dt), dev) @ rows
    return y if bool(xp.isfinite(y._data).all()) else _adaptive_windows(x, out_h, out_w)


def _adaptive_windows(x: Tensor, out_h: int, out_w: int) -> Tensor:
    """Adaptive means as slices: rows of each H window, then columns of each W window (the mean
    of the means is the window mean; nan, and inf of both signs, give nan as in torch)."""
    from .movement import cat

    def pool(t: Tensor, size: int, out: int, dim: int) -> Tensor:
        if size == out:
            return t
        bounds = [((i * size) // out, ((i + 1) * size + out - 1) // out) for i in range(out)]
        return cat([t.narrow(dim, lo, hi - lo).mean(dim, keepdim=True) for lo, hi in bounds],
                   dim)

    return pool(pool(x, x.shape[2], out_h, 2), x.shape[3], out_w, 3)


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """Average pooling to a fixed output size, torch's ``F.adaptive_avg_pool2d``.

    Args:
        input: (N, C, H, W) or (C, H, W), floating.
        output_size: an int or an (OH, OW) pair; a None entry keeps that input size.

    Returns:
        (N, C, OH, OW) (or (C, OH, OW)); window i spans [floor(i H / OH), ceil((i+1) H / OH)).
    """
    _check_input(input, "adaptive_avg_pool2d")
    if input.dtype.category != 2:
        raise DTypeError(f"adaptive_avg_pool2d: expected a floating input, got "
                         f"{input.dtype.name}")
    size = (output_size, output_size) if output_size is None or isinstance(output_size, int) \
        else tuple(output_size)
    if len(size) != 2 or not all(s is None or isinstance(s, int) for s in size):
        raise ShapeError(f"adaptive_avg_pool2d: output_size must be an int or a pair of ints "
                         f"(or None), got {output_size!r}")
    out_h, out_w = (d if s is None else s for s, d in zip(size, input.shape[-2:]))
    if out_h < 0 or out_w < 0:
        raise ShapeError(f"adaptive_avg_pool2d: elements of output_size must be >= 0, got "
                         f"{(out_h, out_w)} for input of shape {tuple(input.shape)}")
    return _batched(input, lambda x: _adaptive_avg(x, out_h, out_w))


# ---- 1-D twins: a (N, C, L) input pools as (N, C, 1, L) -----------------------------------------
def _one(value, name: str, op: str, lead: int = 1):
    return None if value is None else (lead,) + _pair(value, name, op, 1)


def max_pool1d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """1-D max pooling of (N, C, L) or (C, L); the indices index L."""
    op = "max_pool1d"
    _check_input(input, op, dims=1)
    args = (_one(kernel_size, "kernel_size", op), _one(stride, "stride", op),
            _one(padding, "padding", op, 0), _one(dilation, "dilation", op))
    out = _batched(input.unsqueeze(-2), lambda x: _max_pool(x, *args, ceil_mode,
                                                            return_indices, op))
    return tuple(o.squeeze(-2) for o in out) if return_indices else out.squeeze(-2)


def avg_pool1d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """1-D average pooling of (N, C, L) or (C, L)."""
    op = "avg_pool1d"
    _check_input(input, op, dims=1)
    args = (_one(kernel_size, "kernel_size", op), _one(stride, "stride", op),
            _one(padding, "padding", op, 0))
    return _batched(input.unsqueeze(-2), lambda x: _avg_pool(
        x, *args, ceil_mode, count_include_pad, None, op)).squeeze(-2)


def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:
    """Adaptive average pooling of (N, C, L) or (C, L) to length ``output_size``."""
    op = "adaptive_avg_pool1d"
    _check_input(input, op, dims=1)
    if input.dtype.category != 2:
        raise DTypeError(f"{op}: expected a floating input, got {input.dtype.name}")
    size = _pair(output_size, "output_size", op, 1)[0]
    if size < 0:
        raise ShapeError(f"{op}: output_size must be >= 0, got {size} for input of shape "
                         f"{tuple(input.shape)}")
    return _batched(input.unsqueeze(-2), lambda x: _adaptive_avg(x, 1, size)).squeeze(-2)
