"""Binary elementwise primitives, where, clamp and casts, and their functional front ends
(unary ones are in ``unary.py``).

Each primitive's ``forward`` works on backend arrays; its ``backward`` is written with Tensor ops,
so every one of them can be differentiated again. Binary ops promote dtypes like torch and sum
broadcast gradients back to each input's shape with :func:`unbroadcast`.
"""

from __future__ import annotations

import math

from .. import dtypes
from ..autograd import Primitive
from ..errors import DTypeError
from ._base import Tensor, as_tensor, broadcast_shape, operands, unbroadcast


class Cast(Primitive):
    def forward(ctx, x, dtype):
        return x.astype(dtype.np)

    def backward(ctx, g):
        return g.to(ctx.inputs[0].dtype)


class ToDevice(Primitive):
    def forward(ctx, x, device):
        host = ctx.device.to_numpy(x)
        ctx.device = device  # the node lives where its output lives
        return device.from_numpy(host)

    def backward(ctx, g):
        return g.to(ctx.inputs[0].device)


# ---- binary ----------------------------------------------------------------------------------
class Add(Primitive):
    def forward(ctx, a, b):
        return a + b

    def backward(ctx, g):
        a, b = ctx.inputs
        na, nb = ctx.needs_input_grad
        return (unbroadcast(g, a.shape) if na else None,
                unbroadcast(g, b.shape) if nb else None)


class Sub(Primitive):
    def forward(ctx, a, b):
        return a - b

    def backward(ctx, g):
        a, b = ctx.inputs
        na, nb = ctx.needs_input_grad
        return (unbroadcast(g, a.shape) if na else None,
                unbroadcast(-g, b.shape) if nb else None)


class Mul(Primitive):
    saves_inputs = (0, 1)

    def forward(ctx, a, b):
        return a * b

    def backward(ctx, g):
        a, b = ctx.inputs
        na, nb = ctx.needs_input_grad
        return (unbroadcast(g * b, a.shape) if na else None,
                unbroadcast(g * a, b.shape) if nb else None)


class Div(Primitive):
    saves_inputs = (0, 1)

    def forward(ctx, a, b):
        with ctx.device.quiet():
            return a / b

    def backward(ctx, g):
        a, b = ctx.inputs
        na, nb = ctx.needs_input_grad
        return (unbroadcast(g / b, a.shape) if na else None,
                unbroadcast(-g * ((a / b) / b), b.shape) if nb else None)  # torch's order


class Pow(Primitive):
    """Tensor ** Tensor. Gradients follow torch's masking at base 0 and exponent 0."""

    saves_inputs = (0, 1)
    saves_output = True

    def forward(ctx, a, b):
        with ctx.device.quiet():
            return _int_power(ctx.device.xp, a, b)

    def backward(ctx, g):
        a, b = ctx.inputs
        na, nb = ctx.needs_input_grad
        ga = gb = None
        if na:
            ga = unbroadcast(where(b == 0, 0, g * b * a ** (b - 1)), a.shape)
        if nb:
            masked = (a == 0) & (b >= 0)
            gb = unbroadcast(g * where(masked, 0, ctx.output * where(masked, 1, a).log()), b.shape)
        return ga, gb


class PowScalar(Primitive):
    """Tensor ** Python number."""

    __slots__ = ("exponent",)
    saves_inputs = (0,)

    def forward(ctx, x, exponent):
        ctx.exponent = exponent
        with ctx.device.quiet():
            return (x ** exponent).astype(x.dtype, copy=False)

    def backward(ctx, g):
        p = ctx.exponent
        if p == 0:
            return g * 0
        return g * p * ctx.inputs[0] ** (p - 1)


class RPowScalar(Primitive):
    """Python number ** Tensor."""

    __slots__ = ("base",)
    saves_inputs = (0,)
    saves_output = True

    def forward(ctx, x, base):
        ctx.base = base
        with ctx.device.quiet():
            return _int_power(ctx.device.xp, ctx.device.xp.asarray(base, dtype=x.dtype), x)

    def backward(ctx, g):
        if ctx.base == 0:
            return where(ctx.inputs[0] >= 0, 0, g * ctx.output * -math.inf)
        return g * ctx.output * math.log(ctx.base)


def _int_power(xp, a, b):
    """a ** b; integer negative powers give what torch gives (1/a truncated) instead of
    NumPy's error."""
    if b.dtype.kind in "iu" and b.size and bool(xp.any(b < 0)):
        return xp.trunc(xp.power(a.astype("float64"), b)).astype(a.dtype)
    return xp.power(a, b)


class Maximum(Primitive):
    saves_inputs = (0, 1)

    def forward(ctx, a, b):
        return ctx.device.xp.maximum(a, b)

    def backward(ctx, g):
        return _minmax_backward(ctx, g, 1)


class Minimum(Primitive):
    saves_inputs = (0, 1)

    def forward(ctx, a, b):
        return ctx.device.xp.minimum(a, b)

    def backward(ctx, g):
        return _minmax_backward(ctx, g, -1)


def _minmax_backward(ctx, g, sign):
    """At ties both inputs get half the gradient (torch's rule)."""
    a, b = ctx.inputs
    half = where(a == b, g / 2, g)
    a_wins = a > b if sign > 0 else a < b
    b_wins = b > a if sign > 0 else b < a
    return (unbroadcast(where(b_wins, 0, half), a.shape),
            unbroadcast(where(a_wins, 0, half), b.shape))


class Remainder(Primitive):
    saves_inputs = (0, 1)

    def forward(ctx, a, b):
        with ctx.device.quiet():
            return ctx.device.xp.remainder(a, b)

    def backward(ctx, g):
        a, b = ctx.inputs
        return unbroadcast(g, a.shape), unbroadcast(-g * (a / b).floor(), b.shape)


class RoundedDiv(Primitive):
    """div with rounding_mode "floor" or "trunc": piecewise constant, gradient zero (torch)."""

    def forward(ctx, a, b, mode):
        xp = ctx.device.xp
        with ctx.device.quiet():
            if mode == "floor":
                return xp.floor_divide(a, b)
            if a.dtype.kind in "iu":  # exact integer truncation (no float64 round trip)
                q = xp.floor_divide(a, b)
                return q + ((q < 0) & (q * b != a))
            return xp.trunc(a / b)

    def backward(ctx, g):
        a, b = ctx.inputs
        zero = g * 0
        return unbroadcast(zero, a.shape), unbroadcast(zero, b.shape)


class FloorDivide(Primitive):
    def forward(ctx, a, b):
        with ctx.device.quiet():
            return ctx.device.xp.floor_divide(a, b)

    def backward(ctx, g):
        raise RuntimeError("floor_divide: the derivative is not implemented (as in torch); "
                           "detach() the operands")


class Where(Primitive):
    """``where(cond, a, b)``; the condition is an input (never differentiated) so that an
    in-place change of it before backward is caught by the version check."""

    saves_inputs = (2,)

    def forward(ctx, a, b, cond):
        return ctx.device.xp.where(cond, a, b)

    def backward(ctx, g):
        a, b, cond = ctx.inputs
        return (unbroadcast(where(cond, g, 0), a.shape),
                unbroadcast(where(cond, 0, g), b.shape), None)


class Clamp(Primitive):
    """Clamp to Python-number bounds; the gradient passes where min <= x <= max (inclusive)."""

    __slots__ = ("lo", "hi")
    saves_inputs = (0,)

    def forward(ctx, x, lo, hi):
        ctx.lo, ctx.hi = lo, hi
        xp = ctx.device.xp
        out = x if lo is None else xp.maximum(x, xp.asarray(lo, dtype=x.dtype))
        out = out if hi is None else xp.minimum(out, xp.asarray(hi, dtype=x.dtype))
        return out.copy() if out is x else out

    def backward(ctx, g):
        x = ctx.inputs[0]
        keep = None
        if ctx.lo is not None:
            keep = x >= ctx.lo
        if ctx.hi is not None:
            keep = x <= ctx.hi if keep is None else keep & (x <= ctx.hi)
        return g if keep is None else where(keep, g, 0)


# ---- functional front ends -------------------------------------------------------------------
def _binary(cls, a, b, op: str):
    a, b = operands(a, b, op)
    if a.shape != b.shape and a.ndim and b.ndim:  # 0-d operands always broadcast
        broadcast_shape(a.shape, b.shape, op=op)
    if cls in _INTEGER_CHECKED and a.dtype.category != 2:
        _check_integer_operands(cls, a, b, op)
    return cls.apply(a, b)


def _check_integer_operands(cls, a, b, op):
    """What NumPy would silently get wrong for bool/integer operands, torch refuses."""
    if a.dtype is dtypes.bool_:
        raise DTypeError(f"{op}: not implemented for bool tensors")
    xp = a._device.xp
    if cls is not Pow and b.numel() and bool(xp.any(b._data == 0)):
        raise RuntimeError(f"{op}: ZeroDivisionError (integer division by zero)")


def _reject_bool(a, b, op):
    """torch refuses ``-`` with a bool operand (it is almost always a mask-inversion bug)."""
    for x in (a, b):
        if isinstance(x, bool) or (isinstance(x, Tensor) and x.dtype is dtypes.bool_):
            raise DTypeError(f"{op}: subtraction with a bool tensor or scalar is not supported; "
                             "to invert a mask use ~ or logical_not()")


def _scaled(b, alpha, a=None):
    if alpha == 1:
        return b
    floating = any(isinstance(v, float) or (isinstance(v, Tensor) and v.dtype.category == 2)
                   for v in (a, b))
    if isinstance(alpha, float) and not floating:
        raise DTypeError("add/sub: for integral input tensors, argument alpha must not be a "
                         "floating point number")
    return mul(b, alpha) if isinstance(b, Tensor) else b * alpha


def add(a, b, alpha=1):
    """a + alpha * b."""
    return _binary(Add, a, _scaled(b, alpha, a), "add")


def sub(a, b, alpha=1):
    """a - alpha * b."""
    _reject_bool(a, b, "sub")
    return _binary(Sub, a, _scaled(b, alpha, a), "sub")


def mul(a, b):
    return _binary(Mul, a, b, "mul")


def div(a, b, rounding_mode=None):
    """True division (ints give float32), or ``rounding_mode`` "floor" / "trunc"."""
    if rounding_mode in ("floor", "trunc"):
        a, b = operands(a, b, "div")
        if a.shape != b.shape and a.ndim and b.ndim:
            broadcast_shape(a.shape, b.shape, op="div")
        if a.dtype.category != 2:
            _check_integer_operands(FloorDivide, a, b, "div")
        return RoundedDiv.apply(a, b, mode=rounding_mode)
    if rounding_mode is not None:
        raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', got "
                         f"{rounding_mode!r}")
    return _binary(Div, *_float_operands(a, b, "div"), "div")


def _float_operands(a, b, op):
    """Promote like torch's true division: integer results become the default float."""
    dt = dtypes.result_type((a, b))
    if dt.category != 2:
        ref = a if isinstance(a, Tensor) else b
        a, b = as_tensor(a, ref).to(dtypes.DEFAULT_FLOAT), as_tensor(b, ref).to(
            dtypes.DEFAULT_FLOAT)
    return a, b


_INTEGER_CHECKED = (Pow, FloorDivide, Remainder)


def floor_divide(a, b):
    return _binary(FloorDivide, a, b, "floor_divide")


def remainder(a, b):
    return _binary(Remainder, a, b, "remainder")


def pow(a, b):
    if isinstance(a, Tensor) and not isinstance(b, Tensor):
        if not isinstance(b, (int, float)):
            raise TypeError(f"pow: exponent must be a number or Tensor, got {type(b).__name__}")
        dt = dtypes.result_type((a, b))
        if dt.category != 2 and b < 0:
            raise ValueError("pow: integers to negative integer powers are not allowed")
        return PowScalar.apply(a if a.dtype is dt else cast(a, dt), exponent=b)
    if not isinstance(a, Tensor):
        dt = dtypes.result_type((a, b))
        if dt is dtypes.bool_:
            raise DTypeError("pow: not implemented for bool tensors")
        return RPowScalar.apply(b if b.dtype is dt else cast(b, dt), base=a)
    return _binary(Pow, a, b, "pow")


def maximum(a, b):
    return _binary(Maximum, a, b, "maximum")


def minimum(a, b):
    return _binary(Minimum, a, b, "minimum")


def where(cond, a, b):
    """``a`` where ``cond`` else ``b``; all three broadcast. Gradients never mix branches."""
    ref = cond if isinstance(cond, Tensor) else (a if isinstance(a, Tensor) else b)
    cond = as_tensor(cond, ref)
    if cond.dtype is not dtypes.bool_:
        raise DTypeError(f"where: condition must be a bool tensor, got {cond.dtype.name}")
    a, b = operands(a, b, "where", ref)
    if not (cond.shape == a.shape == b.shape):
        broadcast_shape(cond.shape, a.shape, b.shape, op="where")
    return Where.apply(a, b, cond)


def clamp(x, min=None, max=None):
    """Clamp to bounds (numbers or tensors); at least one bound is required."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = x
        if min is not None:
            out = where(out < min, min, out)
        if max is not None:
            out = where(out > max, max, out)
        return out
    dt = dtypes.result_type((x,) + tuple(v for v in (min, max) if v is not None))
    x = x if x.dtype is dt else cast(x, dt)
    return Clamp.apply(x, lo=min, hi=max)


def cast(x, dtype):
    if x.dtype is dtype:
        return x
    if x._requires_grad and dtype.category != 2:
        return Tensor._make(x._data.astype(dtype.np), x._device)  # integer results: no grad
    return Cast.apply(x, dtype=dtype)


def to_device(x, device):
    return ToDevice.apply(x, device=device)


def compare(a, b, fn: str, op: str):
    """Comparison ops: bool result, no gradient."""
    a, b = operands(a, b, op)
    if a.shape != b.shape:
        broadcast_shape(a.shape, b.shape, op=op)
    return Tensor._make(getattr(a._device.xp, fn)(a._data, b._data), a._device)


def logical(a, b, fn: str, op: str):
    """Bitwise/logical ops on bool and integer tensors."""
    a, b = operands(a, b, op)
    if a.dtype.category == 2:
        raise DTypeError(f"{op}: not implemented for floating dtype {a.dtype.name}")
    if a.shape != b.shape:
        broadcast_shape(a.shape, b.shape, op=op)
    return Tensor._make(getattr(a._device.xp, fn)(a._data, b._data), a._device)
