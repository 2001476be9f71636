"""Matrix multiplication with torch.matmul's rules (1-D operands, broadcast batch dims).

The primitive handles operands with at least 2 dims; 1-D operands are reshaped around it. On
the CPU the product is NumPy's BLAS; backward is two more matmuls (so it differentiates again).
"""

from __future__ import annotations

from ..autograd import Primitive
from ..errors import DTypeError, ShapeError
from ._base import Tensor, broadcast_shape, unbroadcast


class MatMul(Primitive):
    saves_inputs = (0, 1)

    def forward(ctx, a, b):
        return ctx.device.xp.matmul(a, b)

    def backward(ctx, g):
        a, b = ctx.inputs
        na, nb = ctx.needs_input_grad
        # operands are known to be valid here: skip matmul()'s checks
        return (unbroadcast(MatMul.apply(g, b.mT), a.shape) if na else None,
                unbroadcast(MatMul.apply(a.mT, g), b.shape) if nb else None)


def matmul(a: Tensor, b: Tensor) -> Tensor:
    """Matrix product. Shapes: (..., n, k) @ (..., k, m) -> (..., n, m); 1-D as torch."""
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError(f"matmul: expected Tensors, got {type(a).__name__} and "
                        f"{type(b).__name__}")
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"matmul: both arguments need at least 1 dim, got shapes "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")
    if a.dtype is not b.dtype:
        raise DTypeError(f"matmul: expected both operands to have the same dtype, got "
                         f"{a.dtype.name} and {b.dtype.name}")
    if a.dtype.name == "bool":
        raise DTypeError("matmul: not implemented for bool tensors")
    if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
        raise ShapeError(f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be "
                         f"multiplied ({a.shape[-1]} != {b.shape[-2 if b.ndim > 1 else 0]})")
    if a.ndim > 2 and b.ndim > 2:
        try:
            broadcast_shape(a.shape[:-2], b.shape[:-2], op="matmul")
        except ShapeError:
            raise ShapeError(f"matmul: batch dims of shapes {tuple(a.shape)} and "
                             f"{tuple(b.shape)} cannot be broadcast together") from None
    if a.ndim == 1 and b.ndim == 1:
        return MatMul.apply(a.reshape(1, -1), b.reshape(-1, 1)).reshape(())
    if a.ndim == 1:
        out = MatMul.apply(a.reshape(1, -1), b)
        return out.squeeze(-2)
    if b.ndim == 1:
        return MatMul.apply(a, b.reshape(-1, 1)).squeeze(-1)
    return MatMul.apply(a, b)
