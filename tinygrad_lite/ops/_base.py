"""Helpers shared by the op families: operand promotion, broadcasting and ``unbroadcast``."""

from __future__ import annotations

import numpy as np

from .. import dtypes
from ..errors import ShapeError
from ..tensor import Tensor


def as_tensor(x, ref: Tensor, dtype=None) -> Tensor:
    """``x`` as a Tensor on ``ref``'s device (Python scalars become 0-d constants)."""
    if isinstance(x, Tensor):
        return x
    dt = dtype or dtypes.scalar_dtype(x)
    dev = ref._device
    try:
        return Tensor._make(dev.xp.asarray(x, dtype=dt.np), dev)
    except (TypeError, ValueError):
        raise TypeError(f"expected a Tensor or a number, got {type(x).__name__}") from None


_NUMBERS = (float, int)  # not bool: True + x promotes differently


def operands(a, b, op: str, ref: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Promote two operands (Tensors or Python scalars) to their torch result dtype."""
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        if a._device is not b._device:  # checked here too: comparisons are no Primitive
            raise RuntimeError(f"{op}: expected all tensors on the same device, got {a._device} "
                               f"and {b._device}")
        if a.dtype is b.dtype:
            return a, b
    elif type(b) in _NUMBERS and isinstance(a, Tensor) and a.dtype.category == 2:
        # the most common mixed cases (x * 0.5, 1 - x): a Python number never changes a
        # floating dtype
        return a, Tensor._make(a._device.xp.asarray(b, dtype=a.dtype.np), a._device)
    elif type(a) in _NUMBERS and isinstance(b, Tensor) and b.dtype.category == 2:
        return Tensor._make(b._device.xp.asarray(a, dtype=b.dtype.np), b._device), b
    if ref is None:
        ref = a if isinstance(a, Tensor) else b
    if not isinstance(ref, Tensor):
        raise TypeError(f"{op}: expected at least one Tensor operand")
    if not isinstance(a, (Tensor, bool, int, float)):
        a = _scalar(a, op, ref)
    if not isinstance(b, (Tensor, bool, int, float)):
        b = _scalar(b, op, ref)
    dt = dtypes.result_type((a, b))
    return _as(a, dt, ref), _as(b, dt, ref)


def _scalar(x, op: str, ref: Tensor):
    """NumPy scalars act like the Python number they hold, NumPy arrays like tensors (torch)."""
    if getattr(x, "ndim", None) == 0 and getattr(x, "dtype", None) is not None:
        try:
            return x.item()
        except (AttributeError, ValueError):
            pass
    if isinstance(x, np.ndarray):
        return Tensor._make(ref._device.from_numpy(x), ref._device)
    raise TypeError(f"{op}: unsupported operand type {type(x).__name__}")


def _as(x, dt, ref):
    if isinstance(x, Tensor):
        if x.dtype is dt:
            return x
        from .elementwise import cast

        return cast(x, dt)
    return Tensor._make(ref._device.xp.asarray(x, dtype=dt.np), ref._device)


def broadcast_shape(*shapes, op: str) -> tuple[int, ...]:
    """The broadcast of ``shapes`` (torch/NumPy rules) or a ShapeError naming them."""
    ndim = max(len(s) for s in shapes)
    out = []
    for i in range(-ndim, 0):
        size = 1
        for s in shapes:
            d = s[i] if -i <= len(s) else 1
            if d != 1:
                if size not in (1, d):
                    raise ShapeError(
                        f"{op}: shapes {' and '.join(str(tuple(s)) for s in shapes)} cannot be "
                        f"broadcast together (size {size} vs {d} at dim {i})")
                size = d
        out.append(size)
    return tuple(out)


def unbroadcast(grad: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Sum ``grad`` over the dims that broadcasting added or expanded, giving ``shape``."""
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    dims = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and grad.shape[lead + i] != 1)
    if dims:
        grad = grad.sum(dim=dims, keepdim=True)
    return grad.reshape(shape)
