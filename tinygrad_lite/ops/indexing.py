"""Indexing primitives: ``__getitem__`` (basic views and advanced gathers), gather/scatter_add
and index_select.

Each backward is another primitive of this file (getitem <-> index_add_into, gather <->
scatter_add), so indexing differentiates twice.
"""

from __future__ import annotations

from .. import dtypes
from ..autograd import Primitive
from ..errors import DTypeError, ShapeError, normalize_dim
from ._base import Tensor


class IndexOutOfRange(IndexError, ValueError):
    """An index value outside the tensor (torch raises IndexError/RuntimeError)."""


class GetItem(Primitive):
    __slots__ = ("index", "basic")

    def forward(ctx, x, index, basic):
        ctx.index, ctx.basic = index, basic
        return x[index]

    def backward(ctx, g):
        return IndexAddInto.apply(g, shape=ctx.inputs[0].shape, index=ctx.index,
                                  basic=ctx.basic)


class BasicGetItem(GetItem):
    """Indexing with ints, slices, None and Ellipsis only: a view."""

    __slots__ = ()
    is_view = True
    swaps_inputs = False  # the base stays: the view refers to it

    def view_spec(ctx):
        return BasicGetItem, {"index": ctx.index, "basic": True}


class IndexAddInto(Primitive):
    """zeros(shape) with ``g`` added at ``index`` (repeated indices accumulate)."""

    __slots__ = ("index", "basic")

    def forward(ctx, g, shape, index, basic):
        ctx.index, ctx.basic = index, basic
        xp = ctx.device.xp
        out = xp.zeros(shape, dtype=g.dtype)
        if basic:
            out[index] = g
        else:
            xp.add.at(out, index, g)
        return out

    def backward(ctx, gg):
        cls = BasicGetItem if ctx.basic else GetItem
        return cls.apply(gg, index=ctx.index, basic=ctx.basic)


class Gather(Primitive):
    """``x.gather(dim, index)``; the index is an input (not differentiated) so that changing it
    in place before backward is caught by the version check."""

    __slots__ = ("dim",)
    saves_inputs = (1,)

    def forward(ctx, x, index, dim):
        ctx.dim = dim
        xp = ctx.device.xp
        block = tuple(slice(None) if d == dim else slice(0, s) for d, s in enumerate(index.shape))
        return xp.take_along_axis(x[block], index, axis=dim)

    def backward(ctx, g):
        x, index = ctx.inputs
        zeros = Tensor._make(ctx.device.xp.zeros(x.shape, dtype=g.dtype.np), ctx.device)
        return ScatterAdd.apply(zeros, g, index, dim=ctx.dim), None


class ScatterAdd(Primitive):
    """out = self; out[index[i][j]][j] += src[i][j] (for dim 0), torch's scatter_add."""

    __slots__ = ("dim",)
    saves_inputs = (2,)

    def forward(ctx, x, src, index, dim):
        ctx.dim = dim
        xp = ctx.device.xp
        out = x.copy()
        grid = list(xp.indices(index.shape, sparse=True))
        grid[dim] = index
        block = tuple(slice(0, s) for s in index.shape)
        xp.add.at(out, tuple(grid), src[block])
        return out

    def backward(ctx, g):
        x, src, index = ctx.inputs
        g_src = None
        if ctx.needs_input_grad[1]:
            g_src = Gather.apply(g, index, dim=ctx.dim)
            if g_src.shape != src.shape:  # src positions outside index's block get nothing
                widths = []
                for s_idx, s_src in zip(reversed(g_src.shape), reversed(src.shape)):
                    widths += [0, s_src - s_idx]
                from .movement import Pad  # movement imports this module

                g_src = Pad.apply(g_src, widths=tuple(widths), value=0)
        return g, g_src, None


# ---- index normalisation ---------------------------------------------------------------------
def normalize_index(index, x: Tensor, op: str = "getitem"):
    """Turn a torch-style index into one for the backend array.

    Returns ``(index, basic)``; ``basic`` is True when only ints, slices, None and Ellipsis
    occur (a view, no repeated positions).
    """
    items = index if isinstance(index, tuple) else (index,)
    out, basic = [], True
    xp = x._device.xp
    for item in items:
        if isinstance(item, Tensor):
            if item._device is not x._device:
                raise RuntimeError(f"{op}: index on {item._device} for a tensor on {x._device}")
            if item.dtype.category == 2:
                raise IndexError(f"{op}: tensors used as indices must be long, int, byte or "
                                 f"bool tensors, got {item.dtype.name}")
            if item.ndim == 0 and item.dtype is not dtypes.bool_:
                out.append(int(item.item()))
                continue
            item = item._data.copy()  # kept for backward: later in-place edits must not leak in
        elif isinstance(item, (list, tuple)):
            item = xp.asarray(item)
            if item.dtype.kind == "f":
                raise IndexError(f"{op}: index lists must hold ints or bools")
        elif isinstance(item, bool):
            item = xp.asarray(item)
        elif not (item is None or item is Ellipsis or isinstance(item, (int, slice))):
            if getattr(item, "ndim", None) == 0 and getattr(item, "dtype", None) is not None \
                    and item.dtype.kind == "b":
                pass  # 0-d bool arrays stay masks (they add or drop a dim)
            elif getattr(item, "ndim", None) == 0 and hasattr(item, "__index__"):
                item = int(item)  # NumPy integer scalars
            elif not hasattr(item, "dtype"):
                if not hasattr(item, "__index__"):
                    raise IndexError(f"{op}: unsupported index type {type(item).__name__}")
                item = int(item)
        if isinstance(item, slice) and item.step is not None and item.step <= 0:
            raise ValueError(f"{op}: slice step must be positive, got {item.step}")
        if hasattr(item, "dtype"):
            basic = False
        out.append(item)
    if not basic and any(i is Ellipsis for i in out):
        out = _expand_ellipsis(out, x.ndim, op)
    elif basic and not any(i is Ellipsis for i in out):
        out.append(Ellipsis)  # x[0] of a 1-d array: a 0-d view instead of a NumPy scalar copy
    return tuple(out), basic


def _expand_ellipsis(items: list, ndim: int, op: str) -> list:
    """Spell out ``...`` as slices: NumPy treats advanced indices on either side of an empty
    ``...`` as separated (moving their dims to the front); torch treats them as adjacent."""
    used = sum(1 if isinstance(i, (int, slice)) else
               (i.ndim if getattr(i, "dtype", None) is not None and i.dtype.kind == "b" else
                (0 if i is None or i is Ellipsis else 1)) for i in items)
    at = next(k for k, i in enumerate(items) if i is Ellipsis)
    rest = [i for k, i in enumerate(items) if k != at and i is not Ellipsis]
    if len(rest) != len(items) - 1:
        raise IndexError(f"{op}: an index can only have a single ellipsis ('...')")
    return items[:at] + [slice(None)] * max(ndim - used, 0) + items[at + 1:]


def _split_ints(idx):
    """torch applies integer indices before advanced ones (NumPy treats them as advanced when
    arrays are present, which moves dims): split into a basic step and an advanced step."""
    first, second = [], []
    for item in idx:
        if isinstance(item, int):
            first.append(item)
        elif item is None or isinstance(item, slice):
            first.append(item)
            second.append(slice(None))
        elif item is Ellipsis:
            first.append(item)
            second.append(item)
        else:  # an index array: bool masks consume one dim per mask dim
            ndim = item.ndim if item.dtype.kind == "b" else 1
            first.extend([slice(None)] * ndim)
            second.append(item)
    return tuple(first), tuple(second)


def getitem(x: Tensor, index) -> Tensor:
    idx, basic = normalize_index(index, x)
    if not basic and any(isinstance(i, int) for i in idx):
        first, second = _split_ints(idx)
        return getitem(getitem(x, first), second)
    try:
        cls = BasicGetItem if basic else GetItem
        return cls.apply(x, index=idx, basic=basic)
    except IndexError as exc:
        raise IndexOutOfRange(f"getitem: {exc} (tensor shape {tuple(x.shape)})") from None


def gather(x: Tensor, dim: int, index: Tensor) -> Tensor:
    d = normalize_dim(dim, x.ndim, "gather")
    _check_index(x, d, index, "gather", index.shape)
    return Gather.apply(x, index, dim=d)


def scatter_add(x: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    d = normalize_dim(dim, x.ndim, "scatter_add")
    _check_index(x, d, index, "scatter_add", index.shape)
    if src.ndim != index.ndim or any(i > s for i, s in zip(index.shape, src.shape)):
        raise ShapeError(f"scatter_add: index shape {tuple(index.shape)} must not exceed src "
                         f"shape {tuple(src.shape)}")
    if src.dtype is not x.dtype:
        raise DTypeError(f"scatter_add: expected self and src of the same dtype, got "
                         f"{x.dtype.name} and {src.dtype.name}")
    return ScatterAdd.apply(x, src, index, dim=d)


def _check_index(x, d, index, op, shape):
    if not isinstance(index, Tensor) or index.dtype.category != 1:
        got = index.dtype.name if isinstance(index, Tensor) else type(index).__name__
        raise DTypeError(f"{op}: expected an integer (int64) index tensor, got {got}")
    if index.ndim != max(x.ndim, 1) and not (x.ndim == 0 and index.ndim <= 1):
        raise ShapeError(f"{op}: index {tuple(shape)} and input {tuple(x.shape)} must have the "
                         "same number of dims")
    for k, (i, s) in enumerate(zip(shape, x.shape)):
        if k != d and i > s:
            raise ShapeError(f"{op}: index shape {tuple(shape)} exceeds input shape "
                             f"{tuple(x.shape)} at dim {k}")
    if index.numel():
        lo, hi = int(index._data.min()), int(index._data.max())
        size = x.shape[d] if x.ndim else 1
        if lo < 0 or hi >= size:
            raise IndexOutOfRange(f"{op}: index {hi if hi >= size else lo} is out of bounds for "
                                  f"dim {d} with size {size}")


def index_select(x: Tensor, dim: int, index: Tensor) -> Tensor:
    d = normalize_dim(dim, x.ndim, "index_select")
    if not isinstance(index, Tensor) or index.dtype.category != 1 or index.ndim > 1:
        raise DTypeError("index_select: index must be a 0-d or 1-d integer tensor")
    if index.numel():
        lo, hi = int(index._data.min()), int(index._data.max())
        if lo < 0 or hi >= x.shape[d]:
            raise IndexOutOfRange(f"index_select: index {lo if lo < 0 else hi} is out of range "
                                  f"for dim {dim} of size {x.shape[d]}")
    return getitem(x, (slice(None),) * d + (index.reshape(-1),))
