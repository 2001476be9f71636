"""Module-level twins of Tensor methods (``tl.exp(x)`` is ``x.exp()``), as torch has."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .ops import elementwise as _E, indexing as _I, linalg as _L, movement as _M, reduce as _R
from .tensor import Tensor

if TYPE_CHECKING:
    from .dtypes import DType

    Scalar = float | int | bool
    Operand = Tensor | float | int | bool  # a tensor or a Python number (broadcast)
    Dims = int | tuple[int, ...] | None  # None: all dims
    DTypeLike = DType | str


def _tensor(x: object, op: str) -> Tensor:
    # The unary twins call a method, so a non-tensor would fail with an unhelpful AttributeError.
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    return x


# Unary twins: same shape as ``input``; they raise TypeError for non-tensors. The float ones
# (exp ... reciprocal) turn integer and bool inputs into float32 first, as torch does.
def neg(input: Tensor) -> Tensor:
    """``-input``; bool is refused."""
    return _tensor(input, "neg").neg()


def abs(input: Tensor) -> Tensor:
    """``|input|``, dtype kept."""
    return _tensor(input, "abs").abs()


def sign(input: Tensor) -> Tensor:
    """-1, 0 or 1 by sign, dtype kept; zero gradient."""
    return _tensor(input, "sign").sign()


def exp(input: Tensor) -> Tensor:
    """``e ** input``."""
    return _tensor(input, "exp").exp()


def log(input: Tensor) -> Tensor:
    """Natural logarithm."""
    return _tensor(input, "log").log()


def log2(input: Tensor) -> Tensor:
    """Base-2 logarithm."""
    return _tensor(input, "log2").log2()


def log1p(input: Tensor) -> Tensor:
    """``log(1 + input)``, accurate near 0."""
    return _tensor(input, "log1p").log1p()


def expm1(input: Tensor) -> Tensor:
    """``exp(input) - 1``, accurate near 0."""
    return _tensor(input, "expm1").expm1()


def sqrt(input: Tensor) -> Tensor:
    """Square root."""
    return _tensor(input, "sqrt").sqrt()


def rsqrt(input: Tensor) -> Tensor:
    """``1 / sqrt(input)``."""
    return _tensor(input, "rsqrt").rsqrt()


def sin(input: Tensor) -> Tensor:
    """Sine (radians)."""
    return _tensor(input, "sin").sin()


def cos(input: Tensor) -> Tensor:
    """Cosine (radians)."""
    return _tensor(input, "cos").cos()


def erf(input: Tensor) -> Tensor:
    """Gauss error function."""
    return _tensor(input, "erf").erf()


def tanh(input: Tensor) -> Tensor:
    """Hyperbolic tangent."""
    return _tensor(input, "tanh").tanh()


def sigmoid(input: Tensor) -> Tensor:
    """``1 / (1 + exp(-input))``."""
    return _tensor(input, "sigmoid").sigmoid()


def relu(input: Tensor) -> Tensor:
    """``max(input, 0)``, dtype kept; bool is refused."""
    return _tensor(input, "relu").relu()


def square(input: Tensor) -> Tensor:
    """``input ** 2`` (pow's dtype rules: integers stay integers)."""
    return _tensor(input, "square").square()


def reciprocal(input: Tensor) -> Tensor:
    """``1 / input``."""
    return _tensor(input, "reciprocal").reciprocal()


# Rounding: the identity for integer and bool dtypes; zero gradient.
def floor(input: Tensor) -> Tensor:
    """Round down."""
    return _tensor(input, "floor").floor()


def ceil(input: Tensor) -> Tensor:
    """Round up."""
    return _tensor(input, "ceil").ceil()


def round(input: Tensor) -> Tensor:
    """Round to nearest, halves to even (as torch)."""
    return _tensor(input, "round").round()


def trunc(input: Tensor) -> Tensor:
    """Round toward zero."""
    return _tensor(input, "trunc").trunc()


# Binary twins: operands broadcast and promote as torch (Python numbers are weakly typed).
def add(input: Operand, other: Operand, *, alpha: Scalar = 1) -> Tensor:
    """``input + alpha * other``."""
    return _E.add(input, other, alpha)


def sub(input: Operand, other: Operand, *, alpha: Scalar = 1) -> Tensor:
    """``input - alpha * other``; bool operands are refused, as in torch."""
    return _E.sub(input, other, alpha)


def mul(input: Operand, other: Operand) -> Tensor:
    """Elementwise product."""
    return _E.mul(input, other)


def div(input: Operand, other: Operand, *, rounding_mode: str | None = None) -> Tensor:
    """True division (integers give float32), or ``rounding_mode`` "floor" / "trunc"."""
    return _E.div(input, other, rounding_mode)


def pow(input: Operand, exponent: Operand) -> Tensor:
    """``input ** exponent``; integer negative powers follow torch, not NumPy's error."""
    return _E.pow(input, exponent)


def remainder(input: Operand, other: Operand) -> Tensor:
    """Python-style modulus: the result has the sign of ``other``."""
    return _E.remainder(input, other)


def floor_divide(input: Operand, other: Operand) -> Tensor:
    """``floor(input / other)`` (rounds down, not toward zero)."""
    return _E.floor_divide(input, other)


# The ops front ends themselves (their own docstrings and signatures apply).
maximum = _E.maximum
minimum = _E.minimum
where = _E.where
matmul = _L.matmul
cat = _M.cat
concat = concatenate = cat
stack = _M.stack
split = _M.split
chunk = _M.chunk
flatten = _M.flatten
reshape = _M.reshape
permute = _M.permute
transpose = _M.transpose
squeeze = _M.squeeze
unsqueeze = _M.unsqueeze
gather = _I.gather
scatter_add = _I.scatter_add
index_select = _I.index_select
flip = _M.flip
roll = _M.roll
narrow = _M.narrow
tril = _M.tril
cumsum = _R.cumsum
argmax = _R.argmax
argmin = _R.argmin
logsumexp = _R.logsumexp
amax = _R.amax
amin = _R.amin
norm = _R.norm


def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    """Upper triangle of the last two dims (``diagonal`` > 0 keeps less); a copy."""
    return _M.tril(input, diagonal, upper=True)


def clamp(input: Tensor, min: Operand | None = None, max: Operand | None = None) -> Tensor:
    """Clamp into ``[min, max]`` (numbers or tensors; at least one bound is required)."""
    return _E.clamp(input, min, max)


clip = clamp


def masked_fill(input: Tensor, mask: Tensor, value: Scalar | Tensor) -> Tensor:
    """``value`` where the bool ``mask`` (broadcast to input) is True; input's dtype is kept."""
    return input.masked_fill(mask, value)


def lerp(input: Tensor, end: Tensor, weight: Operand) -> Tensor:
    """``input + weight * (end - input)``, all broadcast."""
    return input.lerp(end, weight)


# Reductions: ``dim`` is an int, a tuple or None (all dims); keepdim keeps reduced dims as size 1.
def sum(input: Tensor, dim: Dims = None, keepdim: bool = False, *,
        dtype: DTypeLike | None = None) -> Tensor:
    """Sum. ``dtype``: a float target casts the input first, an integer one the result."""
    return _R.sum(input, dim, keepdim, dtype)


def mean(input: Tensor, dim: Dims = None, keepdim: bool = False, *,
         dtype: DTypeLike | None = None) -> Tensor:
    """Mean of a floating tensor (float16 accumulates in float32); empty gives nan."""
    return _R.mean(input, dim, keepdim, dtype)


def prod(input: Tensor, dim: Dims = None, keepdim: bool = False, *,
         dtype: DTypeLike | None = None) -> Tensor:
    """Product; ``dtype`` as in :func:`sum`."""
    return _R.prod(input, dim, keepdim, dtype)


def max(input: Tensor, dim: int | Tensor | None = None,
        keepdim: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """No dim: the 0-d max (ties split the gradient). An int dim: ``(values, indices)``, the
    gradient going to the first max's index. A tensor ``dim``: elementwise maximum."""
    return _R.max_or_min(input, dim, keepdim, "max")


def min(input: Tensor, dim: int | Tensor | None = None,
        keepdim: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """Like :func:`max`, for the minimum."""
    return _R.max_or_min(input, dim, keepdim, "min")


def var(input: Tensor, dim: Dims = None, *, correction: int = 1,
        keepdim: bool = False) -> Tensor:
    """Variance dividing by ``N - correction`` (<= 0 gives inf/nan); floating only."""
    return _R.var(input, dim, correction, keepdim)


def std(input: Tensor, dim: Dims = None, *, correction: int = 1,
        keepdim: bool = False) -> Tensor:
    """Square root of :func:`var`; its gradient is 0 (not inf) where std is 0."""
    return _R.std(input, dim, correction, keepdim)


def all(input: Tensor, dim: Dims = None, keepdim: bool = False) -> Tensor:
    """Bool: every element nonzero (``dim=()`` reduces nothing, as torch)."""
    return _R.all(input, dim, keepdim)


def any(input: Tensor, dim: Dims = None, keepdim: bool = False) -> Tensor:
    """Bool: some element nonzero (``dim=()`` reduces nothing, as torch)."""
    return _R.any(input, dim, keepdim)


def broadcast_to(input: Tensor, shape: tuple[int, ...]) -> Tensor:
    """``input.expand(shape)``: a view, size-1 dims broadcast without copying."""
    return _M.expand(input, shape)


def clone(input: Tensor) -> Tensor:
    """A fresh contiguous copy; differentiable."""
    return input.clone()


def numel(input: Tensor) -> int:
    """Number of elements (the product of the shape)."""
    return input.numel()


def is_tensor(obj: object) -> bool:
    """Whether ``obj`` is a tinygrad_lite Tensor."""
    return isinstance(obj, Tensor)
