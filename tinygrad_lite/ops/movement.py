"""Movement primitives: reshape, permute, expand, indexing, gather/scatter, cat, flip, roll, pad.

Reshape, permute and expand return views (NumPy shares memory), like torch. Backward of each
primitive is another primitive (pad <-> pad with negated widths, roll <-> roll back), so all of
them differentiate twice. Indexing lives in ``indexing.py``.
"""

from __future__ import annotations

import math

from .. import dtypes
from ..autograd import Primitive
from ..errors import ShapeError, normalize_dim
from ._base import Tensor, broadcast_shape  # noqa: F401
from .indexing import IndexOutOfRange, getitem


class Reshape(Primitive):
    __slots__ = ("shape",)
    is_view = True
    swaps_inputs = False  # the base stays: the view refers to it

    def forward(ctx, x, shape):
        ctx.shape = shape
        return x.reshape(shape)

    def view_spec(ctx):
        return Reshape, {"shape": ctx.shape}

    def backward(ctx, g):
        return g.reshape(ctx.inputs[0].shape)


class ReshapeCopy(Reshape):
    """A reshape NumPy had to copy (non-contiguous input): not a view."""

    is_view = False
    swaps_inputs = True


class Permute(Primitive):
    __slots__ = ("dims",)
    is_view = True
    swaps_inputs = False  # the base stays: the view refers to it

    def forward(ctx, x, dims):
        ctx.dims = dims
        return x.transpose(dims)

    def view_spec(ctx):
        return Permute, {"dims": ctx.dims}

    def backward(ctx, g):
        inverse = [0] * len(ctx.dims)
        for i, d in enumerate(ctx.dims):
            inverse[d] = i
        return g.permute(*inverse)


class Expand(Primitive):
    __slots__ = ("shape",)
    is_view = True
    swaps_inputs = False  # the base stays: the view refers to it

    def forward(ctx, x, shape):
        ctx.shape = shape
        return ctx.device.xp.broadcast_to(x, shape)

    def view_spec(ctx):
        return Expand, {"shape": ctx.shape}

    def backward(ctx, g):
        from ._base import unbroadcast

        return unbroadcast(g, ctx.inputs[0].shape)


class ViewScatter(Primitive):
    """``base`` with the region that a view selects replaced by ``value`` (broadcast): how an
    in-place op on a view, or ``x[i] = v``, rewrites the history of the base (torch calls it
    CopySlices). ``spec`` is a view op's ``view_spec()``."""

    __slots__ = ("spec",)

    def forward(ctx, base, value, spec):
        ctx.spec = spec
        out = base.copy()
        replay_view_array(spec, out)[...] = value
        return out

    def backward(ctx, g):
        from ._base import unbroadcast

        base, value = ctx.inputs
        nb, nv = ctx.needs_input_grad
        g_base = g_value = None
        if nb:  # the overwritten region gets nothing
            zero = Tensor._make(ctx.device.xp.zeros((), dtype=g.dtype.np), ctx.device)
            g_base = ViewScatter.apply(g, zero, spec=ctx.spec)
        if nv:
            g_value = unbroadcast(replay_view(ctx.spec, g), value.shape)
        return g_base, g_value


def replay_view(spec, x: Tensor) -> Tensor:
    """Apply the view described by ``spec`` to ``x`` (a differentiable view op)."""
    cls, kwargs = spec
    return cls.apply(x, **kwargs)


def replay_view_array(spec, array):
    """The same view of a backend array."""
    cls, kwargs = spec
    return cls.forward(cls.__new__(cls), array, **kwargs)


class Copy(Primitive):
    """clone() and contiguous(): a fresh C-contiguous array."""

    def forward(ctx, x):
        return ctx.device.xp.array(x, copy=True, order="C")

    def backward(ctx, g):
        return g


class Cat(Primitive):
    __slots__ = ("dim",)

    def forward(ctx, *arrays, dim):
        ctx.dim = dim
        return ctx.device.xp.concatenate(arrays, axis=dim)

    def backward(ctx, g):
        grads, start = [], 0
        for t, need in zip(ctx.inputs, ctx.needs_input_grad):
            size = t.shape[ctx.dim]
            grads.append(g.narrow(ctx.dim, start, size) if need else None)
            start += size
        return tuple(grads)


class Flip(Primitive):
    __slots__ = ("dims",)

    def forward(ctx, x, dims):
        ctx.dims = dims
        # a copy, as torch's flip: NumPy's flip is a view, but ours is not a view op
        return ctx.device.xp.flip(x, axis=dims).copy() if dims else x.copy()

    def backward(ctx, g):
        return g.flip(ctx.dims)


class Roll(Primitive):
    __slots__ = ("shifts", "dims")

    def forward(ctx, x, shifts, dims):
        ctx.shifts, ctx.dims = shifts, dims
        return ctx.device.xp.roll(x, shifts, axis=dims)

    def backward(ctx, g):
        return Roll.apply(g, shifts=tuple(-s for s in ctx.shifts), dims=ctx.dims)


class Pad(Primitive):
    """Constant padding, torch's F.pad order (last dim first); negative widths crop."""

    __slots__ = ("widths",)

    def forward(ctx, x, widths, value):
        ctx.widths = widths
        xp = ctx.device.xp
        out_shape = list(x.shape)
        src, dst = [slice(None)] * x.ndim, [slice(None)] * x.ndim
        for k in range(len(widths) // 2):
            d = x.ndim - 1 - k
            lo, hi = widths[2 * k], widths[2 * k + 1]
            out_shape[d] = x.shape[d] + lo + hi
            if out_shape[d] < 0:
                raise ShapeError(f"pad: padding {widths} gives a negative size for dim {d} of "
                                 f"input shape {x.shape}")
            src[d] = slice(max(-lo, 0), x.shape[d] - max(-hi, 0))
            dst[d] = slice(max(lo, 0), out_shape[d] - max(hi, 0))
        out = xp.full(out_shape, value, dtype=x.dtype)
        out[tuple(dst)] = x[tuple(src)]
        return out

    def backward(ctx, g):
        return Pad.apply(g, widths=tuple(-w for w in ctx.widths), value=0)


# ---- front ends ------------------------------------------------------------------------------
def _shape_arg(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def reshape(x: Tensor, *shape, op: str = "reshape") -> Tensor:
    shape = _shape_arg(shape)
    numel = x.numel()
    if shape.count(-1) > 1:
        raise ShapeError(f"{op}: only one dimension can be inferred, got shape {shape}")
    known = math.prod(s for s in shape if s != -1)
    if -1 in shape:
        if known == 0 or numel % known:
            raise ShapeError(f"{op}: shape {shape} is invalid for input of size {numel} "
                             f"(shape {tuple(x.shape)})")
        shape = tuple(numel // known if s == -1 else s for s in shape)
    elif known != numel or any(s < 0 for s in shape):
        raise ShapeError(f"{op}: shape {shape} is invalid for input of size {numel} "
                         f"(shape {tuple(x.shape)})")
    contiguous = x._device.is_contiguous(x._data)
    if op == "view" and not contiguous and x.numel() > 1 and \
            not x._device.reshapes_as_view(x._data, shape):
        raise RuntimeError(f"view: shape {shape} is not compatible with the input's strides "
                           f"(shape {tuple(x.shape)}, non-contiguous); use reshape() instead")
    if shape == x.shape:
        return x
    if not contiguous and not x._device.reshapes_as_view(x._data, shape):
        return ReshapeCopy.apply(x, shape=shape)
    return Reshape.apply(x, shape=shape)


def permute(x: Tensor, *dims) -> Tensor:
    dims = _shape_arg(dims)
    if len(dims) != x.ndim:
        raise ShapeError(f"permute: number of dims {len(dims)} doesn't match the tensor's "
                         f"{x.ndim} (shape {tuple(x.shape)})")
    norm = tuple(normalize_dim(d, x.ndim, "permute") for d in dims)
    if sorted(norm) != list(range(x.ndim)):
        raise ShapeError(f"permute: dims {dims} are not a permutation of {x.ndim} dims")
    if norm == tuple(range(x.ndim)):
        return x
    return Permute.apply(x, dims=norm)


def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    if x.ndim == 0:
        normalize_dim(dim0, 0, "transpose"), normalize_dim(dim1, 0, "transpose")
        return x
    d0, d1 = normalize_dim(dim0, x.ndim, "transpose"), normalize_dim(dim1, x.ndim, "transpose")
    dims = list(range(x.ndim))
    dims[d0], dims[d1] = d1, d0
    return permute(x, *dims)


def expand(x: Tensor, *shape) -> Tensor:
    shape = _shape_arg(shape)
    if len(shape) < x.ndim:
        raise ShapeError(f"expand: the number of sizes {len(shape)} must be >= the number of "
                         f"dims {x.ndim} (shape {tuple(x.shape)})")
    lead = len(shape) - x.ndim
    target = []
    for i, s in enumerate(shape):
        if i < lead:
            if s < 0:
                raise ShapeError(f"expand: size -1 is not allowed for a new leading dim {i}")
            target.append(s)
            continue
        have = x.shape[i - lead]
        if s == -1:
            s = have
        if have != s and have != 1:
            raise ShapeError(
                f"expand: the expanded size {s} must match the existing size {have} at "
                f"non-singleton dim {i}; target sizes {shape}, tensor sizes {tuple(x.shape)}")
        target.append(s)
    target = tuple(target)
    return x if target == x.shape else Expand.apply(x, shape=target)


def squeeze(x: Tensor, dim=None) -> Tensor:
    if dim is None:
        dims = tuple(d for d, s in enumerate(x.shape) if s == 1)
    else:
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        dims = tuple(normalize_dim(d, x.ndim, "squeeze") for d in dims)
    shape = tuple(s for d, s in enumerate(x.shape) if not (d in dims and s == 1))
    return reshape(x, shape)


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    d = normalize_dim(dim, x.ndim + 1, "unsqueeze")
    return reshape(x, x.shape[:d] + (1,) + x.shape[d:])


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    if x.ndim == 0:
        return reshape(x, (1,))
    s = normalize_dim(start_dim, x.ndim, "flatten")
    e = normalize_dim(end_dim, x.ndim, "flatten")
    if s > e:
        raise ShapeError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    return reshape(x, x.shape[:s] + (math.prod(x.shape[s:e + 1]),) + x.shape[e + 1:])


def unflatten(x: Tensor, dim: int, sizes) -> Tensor:
    d = normalize_dim(dim, x.ndim, "unflatten")
    sizes = tuple(sizes)
    if -1 in sizes:
        known = math.prod(s for s in sizes if s != -1)
        sizes = tuple(x.shape[d] // known if s == -1 and known else s for s in sizes)
    if math.prod(sizes) != x.shape[d]:
        raise ShapeError(f"unflatten: sizes {sizes} don't multiply to the size {x.shape[d]} of "
                         f"dim {dim} (shape {tuple(x.shape)})")
    return reshape(x, x.shape[:d] + sizes + x.shape[d + 1:])


def narrow(x: Tensor, dim: int, start: int, length: int) -> Tensor:
    d = normalize_dim(dim, x.ndim, "narrow")
    size = x.shape[d]
    if start < 0:
        start += size
    if not (0 <= start <= size and length >= 0 and start + length <= size):
        raise IndexOutOfRange(f"narrow: start {start} + length {length} exceeds dim {dim} of "
                              f"size {size} (shape {tuple(x.shape)})")
    if start == 0 and length == size:
        return x
    return getitem(x, (slice(None),) * d + (slice(start, start + length),))


def split(x: Tensor, split_size_or_sections, dim: int = 0) -> tuple:
    d = normalize_dim(dim, x.ndim, "split")
    size = x.shape[d]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step <= 0 and size:
            raise ValueError(f"split: split_size must be positive, got {step}")
        sizes = [min(step, size - i) for i in range(0, size, step)] if size else [0]
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != size:
            raise ShapeError(f"split: sections {sizes} don't sum to the size {size} of dim "
                             f"{dim} (shape {tuple(x.shape)})")
    out, start = [], 0
    for s in sizes:
        out.append(narrow(x, d, start, s))
        start += s
    return tuple(out)


def chunk(x: Tensor, chunks: int, dim: int = 0) -> tuple:
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    d = normalize_dim(dim, x.ndim, "chunk")
    size = x.shape[d]
    if size == 0:  # torch returns `chunks` empty pieces
        return tuple(narrow(x, d, 0, 0) for _ in range(chunks))
    return split(x, math.ceil(size / chunks), dim)


def cat(tensors, dim: int = 0) -> Tensor:
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    first = tensors[0]
    if first.ndim == 0:
        raise ShapeError("cat: zero-dimensional tensor (at position 0) cannot be concatenated")
    d = normalize_dim(dim, first.ndim, "cat")
    for k, t in enumerate(tensors):
        if t.ndim != first.ndim or any(a != b for i, (a, b) in enumerate(zip(t.shape, first.shape))
                                       if i != d):
            raise ShapeError(f"cat: tensors must have the same shape except in dim {d}; got "
                             f"{tuple(first.shape)} at position 0 and {tuple(t.shape)} at "
                             f"position {k}")
    dt = dtypes.result_type(tensors)
    tensors = [t if t.dtype is dt else t.to(dt) for t in tensors]
    return Cat.apply(*tensors, dim=d)


def stack(tensors, dim: int = 0) -> Tensor:
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: expected a non-empty list of tensors")
    for k, t in enumerate(tensors):
        if t.shape != tensors[0].shape:
            raise ShapeError(f"stack: expects each tensor to be equal size, but got "
                             f"{tuple(tensors[0].shape)} at entry 0 and {tuple(t.shape)} at "
                             f"entry {k}")
    d = normalize_dim(dim, tensors[0].ndim + 1, "stack")
    return cat([unsqueeze(t, d) for t in tensors], d)


def flip(x: Tensor, dims) -> Tensor:
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    norm = tuple(normalize_dim(d, x.ndim, "flip") for d in dims)
    if len(set(norm)) != len(norm):
        raise ShapeError(f"flip: dim {dims} appears multiple times in the list of dims")
    return Flip.apply(x, dims=norm if x.ndim else ())


def roll(x: Tensor, shifts, dims=None) -> Tensor:
    if dims is None:
        return reshape(roll(flatten(x), shifts, 0), x.shape)
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if not shifts:
        raise ValueError("roll: `shifts` required")
    if len(shifts) != len(dims):
        raise ShapeError(f"roll: shifts {shifts} and dims {dims} must have the same length")
    return Roll.apply(x, shifts=shifts, dims=tuple(normalize_dim(d, x.ndim, "roll")
                                                    for d in dims))


def repeat(x: Tensor, *sizes) -> Tensor:
    sizes = _shape_arg(sizes)
    if len(sizes) < x.ndim:
        raise ShapeError(f"repeat: number of repeat dims {len(sizes)} can not be smaller than "
                         f"the number of tensor dims {x.ndim}")
    x = reshape(x, (1,) * (len(sizes) - x.ndim) + x.shape)
    # (s0, s1) -> (1, s0, 1, s1) -> (r0, s0, r1, s1) -> (r0*s0, r1*s1)
    inter = tuple(v for s in x.shape for v in (1, s))
    target = tuple(v for r, s in zip(sizes, x.shape) for v in (r, s))
    out = expand(reshape(x, inter), target)
    out = reshape(out, tuple(r * s for r, s in zip(sizes, x.shape)))
    # with every size 1 nothing was expanded, and ``out`` is a view: repeat always copies
    return Copy.apply(out) if all(r == 1 for r in sizes) else out


def tril(x: Tensor, diagonal: int = 0, upper: bool = False) -> Tensor:
    from .elementwise import where

    if x.ndim < 2:
        raise ShapeError(f"{'triu' if upper else 'tril'}: input must have at least 2 dims, got "
                         f"shape {tuple(x.shape)}")
    n, m = x.shape[-2:]
    xp = x._device.xp
    keep = xp.tri(n, m, diagonal - 1 if upper else diagonal, dtype=bool)
    keep = ~keep if upper else keep
    return where(Tensor._make(keep, x._device), x, 0)


def pad(x: Tensor, pad, mode: str = "constant", value=None) -> Tensor:
    """torch.nn.functional.pad: ``pad`` lists (left, right) widths from the last dim backwards."""
    widths = tuple(int(p) for p in pad)
    if len(widths) % 2 or len(widths) // 2 > x.ndim:
        raise ShapeError(f"pad: padding length {len(widths)} must be even and at most twice the "
                         f"number of dims of input shape {tuple(x.shape)}")
    if mode == "constant":
        return Pad.apply(x, widths=widths, value=0 if value is None else value)
    if mode not in ("reflect", "replicate", "circular"):
        raise ValueError(f"pad: unknown mode {mode!r} (constant, reflect, replicate, circular)")
    if any(w < 0 for w in widths):  # torch crops first, then pads what is left
        x = Pad.apply(x, widths=tuple(min(w, 0) for w in widths), value=0)
        widths = tuple(max(w, 0) for w in widths)
    xp = x._device.xp
    for k in range(len(widths) // 2):
        d = x.ndim - 1 - k
        lo, hi, n = widths[2 * k], widths[2 * k + 1], x.shape[d]
        if mode == "reflect" and (lo >= n or hi >= n):
            raise ShapeError(f"pad: reflect padding ({lo}, {hi}) must be smaller than the size "
                             f"{n} of dim {d} (shape {tuple(x.shape)})")
        positions = xp.arange(-lo, n + hi)
        if mode == "reflect":
            period = 2 * (n - 1) if n > 1 else 1
            p = xp.abs(positions) % period
            idx = xp.where(p >= n, period - p, p)
        elif mode == "replicate":
            idx = xp.clip(positions, 0, n - 1)
        else:
            idx = positions % n
        x = getitem(x, (slice(None),) * d + (Tensor._make(idx.astype("int64"), x._device),))
    return x
