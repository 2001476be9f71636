"""Matrix multiplication with torch.matmul's rules (1-D operands, broadcast batch dims).

The primitive handles operands with at least 2 dims; 1-D operands are reshaped around it. The
product is the device's ``matmul`` (NumPy's BLAS on the CPU; our SGEMM for float32 on CUDA);
backward is two more matmuls with transpose flags (so it differentiates again).
"""

from __future__ import annotations

from ..autograd import Primitive
from ..errors import DTypeError, ShapeError
from ._base import Tensor, broadcast_shape, unbroadcast


class MatMul(Primitive):
    """``op(a) @ op(b)``; ``trans_a`` / ``trans_b`` mean the operand is stored transposed (its
    last two dims swapped), so backward passes flags instead of materialising transposes."""

    __slots__ = ("trans_a", "trans_b")
    saves_inputs = (0, 1)

    def forward(ctx, a, b, trans_a: bool = False, trans_b: bool = False):
        ctx.trans_a, ctx.trans_b = trans_a, trans_b
        return ctx.device.matmul(a, b, trans_a, trans_b)

    def backward(ctx, g):
        a, b = ctx.inputs
        ta, tb = ctx.trans_a, ctx.trans_b
        na, nb = ctx.needs_input_grad
        # With C = op(a) op(b): d op(a) = g op(b)^T and d op(b) = op(a)^T g; a stored
        # transposed operand gets the transpose of that, written as a product with flags.
        ga = gb = None
        if na:
            ga = (MatMul.apply(b, g, trans_a=tb, trans_b=True) if ta else
                  MatMul.apply(g, b, trans_b=not tb))
            ga = unbroadcast(ga, a.shape)
        if nb:
            a2, g2 = a, g
            if b.ndim == 2 and a.ndim > 2 and not ta:
                # x (..., M, K) @ W: one (prod(...) * M)-row GEMM instead of a batch of
                # products summed afterwards
                a2, g2 = a.reshape(-1, a.shape[-1]), g.reshape(-1, g.shape[-1])
            gb = (MatMul.apply(g2, a2, trans_a=True, trans_b=ta) if tb else
                  MatMul.apply(a2, g2, trans_a=not ta))
            gb = unbroadcast(gb, b.shape)
        return ga, gb


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


class Linear(Primitive):
    """y = x @ w.T + b in one node (torch's addmm); x (..., in), w (out, in), b (out,) or None.

    The device's matmul reads ``w`` through a transpose flag, so no transposed copy is made.
    """

    saves_inputs = (0, 1)

    def forward(ctx, x, w, b=None):
        out = ctx.device.matmul(x, w, trans_b=True)
        if b is not None:
            out += b
        return out

    def backward(ctx, g):
        x, w = ctx.inputs[0], ctx.inputs[1]
        need = ctx.needs_input_grad
        gx = MatMul.apply(g, w) if need[0] else None
        gw = gb = None
        if need[1]:
            g2, x2 = (g, x) if g.ndim == 2 else (g.reshape(-1, g.shape[-1]),
                                                 x.reshape(-1, x.shape[-1]))
            gw = MatMul.apply(g2, x2, trans_a=True)
        if len(need) > 2 and need[2]:
            gb = g.sum(tuple(range(g.ndim - 1))) if g.ndim > 1 else g
        return (gx, gw, gb) if len(need) > 2 else (gx, gw)


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``x @ weight.T + bias``. Shapes: x (..., in), weight (out, in), bias (out,) -> (..., out)."""
    for name, t in (("input", x), ("weight", weight), ("bias", bias)):
        if t is not None and not isinstance(t, Tensor):
            raise TypeError(f"linear: {name} must be a Tensor, got {type(t).__name__}")
    if weight.ndim != 2:
        raise ShapeError(f"linear: weight must be 2-D (out_features, in_features), got shape "
                         f"{tuple(weight.shape)}")
    if x.ndim == 0 or x.shape[-1] != weight.shape[1]:
        raise ShapeError(f"linear: input shape {tuple(x.shape)} and weight shape "
                         f"{tuple(weight.shape)} cannot be multiplied (expected the last dim of "
                         f"input to be {weight.shape[1]})")
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ShapeError(f"linear: bias must have shape ({weight.shape[0]},), got "
                         f"{tuple(bias.shape)}")
    if x.dtype is not weight.dtype or (bias is not None and bias.dtype is not weight.dtype):
        got = f"input {x.dtype.name}, weight {weight.dtype.name}"
        got += f", bias {bias.dtype.name}" if bias is not None else ""
        raise DTypeError(f"linear: expected input, weight and bias of the same dtype, got {got}")
    if x.ndim == 1:
        return linear(x.reshape(1, -1), weight, bias).reshape(-1)
    return Linear.apply(x, weight) if bias is None else Linear.apply(x, weight, bias)
