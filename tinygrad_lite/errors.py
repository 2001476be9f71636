"""Exception types.

DESIGN.md §5: bad shapes or values raise ``ValueError``, bad types or dtypes ``TypeError``,
autograd misuse and device mismatch ``RuntimeError``. PyTorch raises ``RuntimeError`` for most
of these, so the shape and dtype errors also derive from ``RuntimeError``: code written against
either convention catches them.
"""


class ShapeError(ValueError, RuntimeError):
    """A shape (or value) that the op cannot accept."""


class DTypeError(TypeError, RuntimeError):
    """A dtype that the op cannot accept."""


class DimError(IndexError, ValueError):
    """A ``dim`` argument out of range (torch raises ``IndexError``)."""


def normalize_dim(dim: int, ndim: int, op: str) -> int:
    """Map a possibly negative ``dim`` into ``[0, ndim)``; 0-d tensors accept -1 and 0."""
    if not isinstance(dim, int) or isinstance(dim, bool):
        raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__}")
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise DimError(
            f"{op}: dim {dim} is out of range for a tensor with {ndim} dims "
            f"(expected in [{-n}, {n - 1}])"
        )
    return dim % n


def normalize_dims(dim, ndim: int, op: str) -> tuple[int, ...]:
    """Turn ``dim`` (None, int, or sequence) into a sorted tuple of non-negative dims.

    None (and an empty sequence, as in torch) mean every dim. For 0-d tensors the result is ().
    """
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    out = sorted({normalize_dim(d, ndim, op) for d in dims})
    if len(out) != len(dims):
        raise ShapeError(f"{op}: dim {dim} lists a dimension more than once")
    return tuple(d for d in out if d < ndim)
