"""Hypothesis strategies for shapes, arrays and tensors, used by the op tests and by users' own.

Shapes default to small sides (1..5) and at most 4 dims: enough to hit 0-d, size-1 and broadcast
cases while keeping each example cheap. Arrays come in three memory layouts because ops that
silently assume C-contiguous input are a classic source of wrong results.
"""

from __future__ import annotations

from typing import Any

import numpy as np

try:
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
except ImportError as exc:  # hypothesis is a test-only dependency
    raise ImportError(
        "tinygrad_lite.testing.strategies needs hypothesis: pip install hypothesis "
        "(or pip install 'tinygrad-lite[test]')"
    ) from exc

import tinygrad_lite as tl

__all__ = ["arrays", "broadcastable_shapes", "conv2d_args", "matmul_shapes", "shapes", "tensors"]

Shape = tuple[int, ...]
LAYOUTS = ("contiguous", "transposed", "strided")


def _check_dims(min_dims: int, max_dims: int, min_side: int, max_side: int) -> None:
    if not 0 <= min_dims <= max_dims:
        raise ValueError(f"need 0 <= min_dims <= max_dims, got min_dims={min_dims}, "
                         f"max_dims={max_dims}")
    if not 0 <= min_side <= max_side:
        raise ValueError(f"need 0 <= min_side <= max_side, got min_side={min_side}, "
                         f"max_side={max_side}")


def shapes(*, min_dims: int = 0, max_dims: int = 4, min_side: int = 1,
           max_side: int = 5) -> st.SearchStrategy[Shape]:
    """Tensor shapes, e.g. ``()``, ``(3,)``, ``(2, 1, 5)``.

    Args:
        min_dims, max_dims: bounds on the number of dimensions (0 gives 0-d tensors).
        min_side, max_side: bounds on each dimension's size.

    Returns:
        A strategy for tuples of ints with ``min_dims <= len <= max_dims``.
    """
    _check_dims(min_dims, max_dims, min_side, max_side)
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


@st.composite
def _broadcastable(draw, num_shapes, min_dims, max_dims, min_side, max_side):
    result = draw(shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                         max_side=max_side))
    drawn = []
    for _ in range(num_shapes):
        # Each operand keeps a suffix of the result's dims (missing leading dims broadcast),
        # and any kept dim may be 1.
        # Draw how many leading dims are dropped: hypothesis favours small integers, so full
        # rank is the common case and 0-d operands the occasional one.
        ndim = len(result) - draw(st.integers(0, len(result) - min(min_dims, len(result))))
        kept = result[len(result) - ndim:]
        ones = draw(st.lists(st.booleans(), min_size=ndim, max_size=ndim))
        drawn.append(tuple(1 if one else side for side, one in zip(kept, ones)))
    return tuple(drawn)


def broadcastable_shapes(num_shapes: int = 2, *, min_dims: int = 0, max_dims: int = 4,
                         min_side: int = 1,
                         max_side: int = 5) -> st.SearchStrategy[tuple[Shape, ...]]:
    """``num_shapes`` shapes that broadcast together under torch's rules.

    A result shape is drawn first; each operand takes a suffix of it (so leading dims may be
    missing, down to 0-d) and replaces any of its dims by 1.

    Args:
        num_shapes: how many shapes per example.
        min_dims, max_dims, min_side, max_side: bounds as in :func:`shapes` (for the result).

    Returns:
        A strategy for tuples of ``num_shapes`` shapes, e.g. ``((3, 1), (4, 1, 5))``.
    """
    if num_shapes < 1:
        raise ValueError(f"num_shapes must be >= 1, got {num_shapes}")
    _check_dims(min_dims, max_dims, min_side, max_side)
    return _broadcastable(num_shapes, min_dims, max_dims, min_side, max_side)


@st.composite
def _matmul(draw, max_batch_dims, min_side, max_side):
    side = st.integers(min_side, max_side)
    n, k, m = draw(side), draw(side), draw(side)
    a_vector, b_vector = draw(st.booleans()), draw(st.booleans())
    batch_a, batch_b = draw(broadcastable_shapes(2, min_dims=0, max_dims=max_batch_dims,
                                                 min_side=1, max_side=3))
    a = (k,) if a_vector else batch_a + (n, k)
    b = (k,) if b_vector else batch_b + (k, m)
    return a, b


def matmul_shapes(*, max_batch_dims: int = 2, min_side: int = 1,
                  max_side: int = 6) -> st.SearchStrategy[tuple[Shape, Shape]]:
    """Pairs of shapes valid for ``torch.matmul``.

    Covers vector @ vector ``(k,) @ (k,)``, vector @ matrix ``(k,) @ (*b, k, m)``, matrix @
    vector ``(*a, n, k) @ (k,)`` and batched matrix @ matrix ``(*a, n, k) @ (*b, k, m)`` where the
    batch shapes ``a`` and ``b`` (at most ``max_batch_dims`` dims, sides up to 3) broadcast.

    Args:
        max_batch_dims: most leading batch dimensions on a matrix operand.
        min_side, max_side: bounds on n, k and m.

    Returns:
        A strategy for ``(shape_a, shape_b)``.
    """
    if max_batch_dims < 0:
        raise ValueError(f"max_batch_dims must be >= 0, got {max_batch_dims}")
    _check_dims(0, 2, min_side, max_side)
    return _matmul(max_batch_dims, min_side, max_side)


def _default_elements(dtype: np.dtype) -> st.SearchStrategy:
    if dtype.kind == "b":
        return st.booleans()
    if dtype.kind in "iu":
        return st.integers(0 if dtype.kind == "u" else -10, 10)
    if dtype.kind == "f":
        # Subnormals are excluded: they are flushed on some hardware and make tolerances moot.
        return st.floats(-10, 10, allow_nan=False, allow_infinity=False, allow_subnormal=False,
                         width=8 * dtype.itemsize)
    raise TypeError(f"arrays: no default elements for dtype {dtype}; pass elements=")


def _np_dtype(dtype: Any) -> np.dtype:
    """Accepts a NumPy dtype, a name like "float32", or a tl dtype object."""
    plain = isinstance(dtype, (str, np.dtype, type))  # type: np.float32 and friends
    try:
        return np.dtype(dtype if plain else getattr(dtype, "name", dtype))
    except TypeError:
        raise TypeError(f"unknown dtype {dtype!r}") from None


@st.composite
def _arrays(draw, shape, dtype, elements, layout):
    shape = tuple(shape)
    layout = draw(st.sampled_from(LAYOUTS)) if layout is None else layout
    if layout == "transposed" and len(shape) >= 2:
        # Reorder only the axes longer than 1: moving size-1 axes leaves the array contiguous.
        long_axes = [d for d, side in enumerate(shape) if side > 1]
        order = draw(st.permutations(long_axes))
        if len(order) >= 2 and order == long_axes:
            order = order[::-1]
        perm = list(range(len(shape)))
        for axis, source in zip(long_axes, order):
            perm[axis] = source
        base = draw(hnp.arrays(dtype, tuple(shape[p] for p in perm), elements=elements))
        return base.transpose(np.argsort(perm))
    values = draw(hnp.arrays(dtype, shape, elements=elements))
    if layout != "strided" or not shape:
        return values
    # Embed the values at every other position of a larger buffer and return that view; NaN
    # padding in float buffers makes an op that reads between the strides fail loudly.
    offsets = draw(st.lists(st.integers(0, 1), min_size=len(shape), max_size=len(shape)))
    big = np.full(tuple(2 * s for s in shape), np.nan if dtype.kind == "f" else 0, dtype=dtype)
    view = big[tuple(slice(o, o + 2 * s, 2) for o, s in zip(offsets, shape))]
    view[...] = values
    return view


def arrays(shape: Shape, *, dtype: Any = "float64", elements: st.SearchStrategy | None = None,
           layout: str | None = None) -> st.SearchStrategy[np.ndarray]:
    """NumPy arrays of a fixed shape in a given or drawn memory layout.

    Args:
        shape: the array shape.
        dtype: NumPy dtype, dtype name or tl dtype.
        elements: strategy for the values; default finite floats in [-10, 10] (no NaN, inf or
            subnormals), integers in -10..10 (0..10 unsigned), or booleans.
        layout: "contiguous"; "transposed" (built with permuted axes and transposed back, so not
            C-contiguous when ndim >= 2); "strided" (a step-2 slice of a larger buffer); or None
            to draw one.

    Returns:
        A strategy for arrays of exactly ``shape`` and ``dtype``.
    """
    if layout is not None and layout not in LAYOUTS:
        raise ValueError(f"arrays: layout must be one of {LAYOUTS} or None, got {layout!r}")
    np_dtype = _np_dtype(dtype)
    elements = _default_elements(np_dtype) if elements is None else elements
    return _arrays(tuple(shape), np_dtype, elements, layout)


@st.composite
def _tensors(draw, shape, np_dtype, tl_dtype, elements, requires_grad, device, layout):
    shape = draw(shapes()) if shape is None else tuple(shape)
    values = draw(arrays(shape, dtype=np_dtype, elements=elements, layout=layout))
    if device != "cpu":
        return tl.tensor(values, dtype=tl_dtype, device=device, requires_grad=requires_grad)
    tensor = tl.from_numpy(values)  # keeps the drawn layout (a view, not a copy)
    return tensor.requires_grad_() if requires_grad else tensor


def tensors(shape: Shape | None = None, *, dtype: Any = tl.float64,
            elements: st.SearchStrategy | None = None, requires_grad: bool = False,
            device: str = "cpu", layout: str | None = None) -> st.SearchStrategy[tl.Tensor]:
    """tl.Tensors with values from :func:`arrays`.

    Args:
        shape: the tensor shape; drawn from :func:`shapes` when None.
        dtype: tl dtype or its name ("float32", ...).
        elements: strategy for the values (see :func:`arrays`).
        requires_grad: make the tensors leaves that require grad (floating dtypes only).
        device: "cpu" or "cuda".
        layout: memory layout of the source array (see :func:`arrays`).

    Returns:
        A strategy for tensors of the given dtype on ``device``.
    """
    np_dtype = _np_dtype(dtype)
    tl_dtype = getattr(tl, np_dtype.name, None)
    if tl_dtype is None:
        raise TypeError(f"tensors: tinygrad_lite has no dtype {np_dtype.name}")
    if requires_grad and np_dtype.kind != "f":
        raise ValueError(f"tensors: only floating tensors can require grad, got dtype "
                         f"{np_dtype.name}")
    return _tensors(shape, np_dtype, tl_dtype, elements, requires_grad, device, layout)


@st.composite
def _conv2d(draw, max_batch, max_channels, max_spatial, max_kernel):
    groups = draw(st.integers(1, 2))
    c_in = groups * draw(st.integers(1, max(1, max_channels // groups)))
    c_out = groups * draw(st.integers(1, max(1, max_channels // groups)))
    kernel = (draw(st.integers(1, max_kernel)), draw(st.integers(1, max_kernel)))
    stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = (draw(st.integers(0, 1)), draw(st.integers(0, 1)))
    # The dilated kernel must fit in the padded input so every output side is >= 1.
    spatial = tuple(
        draw(st.integers(max(1, d * (k - 1) + 1 - 2 * p), max(max_spatial, d * (k - 1) + 1)))
        for k, d, p in zip(kernel, dilation, padding))
    return {"input_shape": (draw(st.integers(1, max_batch)), c_in) + spatial,
            "weight_shape": (c_out, c_in // groups) + kernel,
            "bias_shape": (c_out,) if draw(st.booleans()) else None,
            "stride": stride, "padding": padding, "dilation": dilation, "groups": groups}


def conv2d_args(*, max_batch: int = 2, max_channels: int = 4, max_spatial: int = 7,
                max_kernel: int = 3) -> st.SearchStrategy[dict[str, Any]]:
    """Valid ``conv2d`` configurations (shapes and hyper-parameters, no values).

    Returns:
        A strategy for dicts with ``input_shape`` (N, C_in, H, W), ``weight_shape``
        (C_out, C_in / groups, kH, kW), ``bias_shape`` ((C_out,) or None) and ``stride``,
        ``padding``, ``dilation`` (pairs of ints) and ``groups``.
    """
    if min(max_batch, max_channels, max_spatial, max_kernel) < 1:
        raise ValueError("conv2d_args: all bounds must be >= 1")
    return _conv2d(max_batch, max_channels, max_spatial, max_kernel)
