"""Unary elementwise primitives: exp, log, sqrt, trig, tanh/sigmoid/relu, abs and the
piecewise-constant ones (sign, floor, ...). Backward uses Tensor ops, so each differentiates
again; floating-point functions promote integer inputs to float32 first (torch's rule).
"""

from __future__ import annotations

import math

from .. import dtypes
from ..autograd import Primitive
from ..errors import DTypeError
from .elementwise import cast

class Neg(Primitive):
    def forward(ctx, x):
        return -x

    def backward(ctx, g):
        return -g


class Exp(Primitive):
    saves_output = True

    def forward(ctx, x):
        return ctx.device.xp.exp(x)

    def backward(ctx, g):
        return g * ctx.output


class Log(Primitive):
    saves_inputs = (0,)

    def forward(ctx, x):
        with ctx.device.quiet():
            return ctx.device.xp.log(x)

    def backward(ctx, g):
        return g / ctx.inputs[0]


class Log2(Primitive):
    saves_inputs = (0,)

    def forward(ctx, x):
        with ctx.device.quiet():
            return ctx.device.xp.log2(x)

    def backward(ctx, g):
        return g / (ctx.inputs[0] * math.log(2.0))


class Log1p(Primitive):
    saves_inputs = (0,)

    def forward(ctx, x):
        with ctx.device.quiet():
            return ctx.device.xp.log1p(x)

    def backward(ctx, g):
        return g / (ctx.inputs[0] + 1)


class Expm1(Primitive):
    saves_output = True

    def forward(ctx, x):
        return ctx.device.xp.expm1(x)

    def backward(ctx, g):
        return g * (ctx.output + 1)


class Sqrt(Primitive):
    saves_output = True

    def forward(ctx, x):
        with ctx.device.quiet():
            return ctx.device.xp.sqrt(x)

    def backward(ctx, g):
        return g / (2 * ctx.output)


class Rsqrt(Primitive):
    saves_output = True

    def forward(ctx, x):
        with ctx.device.quiet():
            return 1 / ctx.device.xp.sqrt(x)

    def backward(ctx, g):
        out = ctx.output
        return -0.5 * g * out * out * out


class Reciprocal(Primitive):
    saves_output = True

    def forward(ctx, x):
        with ctx.device.quiet():
            return 1 / x

    def backward(ctx, g):
        out = ctx.output
        return -g * (out * out)


class Sin(Primitive):
    saves_inputs = (0,)

    def forward(ctx, x):
        return ctx.device.xp.sin(x)

    def backward(ctx, g):
        return g * ctx.inputs[0].cos()


class Cos(Primitive):
    saves_inputs = (0,)

    def forward(ctx, x):
        return ctx.device.xp.cos(x)

    def backward(ctx, g):
        return -g * ctx.inputs[0].sin()


class Tanh(Primitive):
    saves_output = True

    def forward(ctx, x):
        return ctx.device.xp.tanh(x)

    def backward(ctx, g):
        out = ctx.output
        return g * (1 - out * out)


class Erf(Primitive):
    """Gauss error function (the device's kernel: NumPy has none); d/dx = 2/sqrt(pi) e^(-x^2)."""

    saves_inputs = (0,)

    def forward(ctx, x):
        return ctx.device.erf(x)

    def backward(ctx, g):
        x = ctx.inputs[0]
        return g * (-(x * x)).exp() * (2.0 / math.sqrt(math.pi))


class Sigmoid(Primitive):
    saves_output = True

    def forward(ctx, x):
        xp = ctx.device.xp
        # exp of a non-positive number only: no overflow warnings for large |x|
        z = xp.exp(-xp.abs(x))
        return xp.where(x >= 0, 1 / (1 + z), z / (1 + z)).astype(x.dtype, copy=False)

    def backward(ctx, g):
        out = ctx.output
        return g * out * (1 - out)


def relu_backward_reference(xp, g, y):
    """ReLU's gradient from its output (``Device.relu_backward``): 0 where ``y <= 0``, else
    ``g``; the slope is 0 at 0 and a NaN output passes ``g`` (torch's threshold_backward)."""
    return xp.where(y <= 0, g.dtype.type(0), g)


class Relu(Primitive):
    saves_output = True

    def forward(ctx, x):
        # NEP 50: the Python 0 takes x's dtype, so astype(copy=False) copies nothing on NumPy
        return ctx.device.xp.maximum(x, 0).astype(x.dtype, copy=False)

    def backward(ctx, g):
        return ReluBackward.apply(g, ctx.output)


class ReluBackward(Primitive):
    """``(g, y) -> 0 where y <= 0 else g``, ReLU's gradient from its output, as one device
    kernel (NumPy's where with a data-dependent mask is slow: see kernels/cpu/elementwise).
    Linear in ``g``, so its own backward is itself; ``y`` gets none (piecewise constant)."""

    saves_inputs = (1,)

    def forward(ctx, g, y):
        return ctx.device.relu_backward(g, y)

    def backward(ctx, gg):
        return ReluBackward.apply(gg, ctx.inputs[1]), None


class Abs(Primitive):
    saves_inputs = (0,)

    def forward(ctx, x):
        return ctx.device.xp.abs(x)

    def backward(ctx, g):
        return g * ctx.inputs[0].sign()


class ZeroGrad(Primitive):
    """Piecewise-constant functions (sign, floor, ceil, round, trunc): gradient zero."""

    __slots__ = ("fn",)

    def forward(ctx, x, fn):
        ctx.fn = fn
        xp = ctx.device.xp
        if fn == "sign":
            if x.dtype.kind == "b":
                return x.copy()
            out = xp.sign(x)
            return xp.where(out != out, 0, out).astype(x.dtype, copy=False)  # sign(nan) is 0
        return getattr(xp, fn)(x)

    def backward(ctx, g):
        return g * 0


def float_unary(cls, x, **kw):
    """Apply a floating-point unary op; integer and bool inputs become float32 first (torch)."""
    if x.dtype.category != 2:
        x = cast(x, dtypes.DEFAULT_FLOAT)
    return cls.apply(x, **kw)


def check_not_bool(x, op):
    if x.dtype is dtypes.bool_:
        raise DTypeError(f"{op}: not supported for bool tensors")
    return x

