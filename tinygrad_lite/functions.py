"""Module-level twins of Tensor methods (``tl.exp(x)`` is ``x.exp()``), as torch has."""

from __future__ import annotations

from .ops import elementwise as _E, indexing as _I, linalg as _L, movement as _M, reduce as _R
from .tensor import Tensor


def _tensor(x, op):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    return x


def neg(input: Tensor) -> Tensor:
    return _tensor(input, "neg").neg()


def abs(input: Tensor) -> Tensor:
    return _tensor(input, "abs").abs()


def sign(input: Tensor) -> Tensor:
    return _tensor(input, "sign").sign()


def exp(input: Tensor) -> Tensor:
    return _tensor(input, "exp").exp()


def log(input: Tensor) -> Tensor:
    return _tensor(input, "log").log()


def log2(input: Tensor) -> Tensor:
    return _tensor(input, "log2").log2()


def log1p(input: Tensor) -> Tensor:
    return _tensor(input, "log1p").log1p()


def expm1(input: Tensor) -> Tensor:
    return _tensor(input, "expm1").expm1()


def sqrt(input: Tensor) -> Tensor:
    return _tensor(input, "sqrt").sqrt()


def rsqrt(input: Tensor) -> Tensor:
    return _tensor(input, "rsqrt").rsqrt()


def sin(input: Tensor) -> Tensor:
    return _tensor(input, "sin").sin()


def cos(input: Tensor) -> Tensor:
    return _tensor(input, "cos").cos()


def tanh(input: Tensor) -> Tensor:
    return _tensor(input, "tanh").tanh()


def sigmoid(input: Tensor) -> Tensor:
    return _tensor(input, "sigmoid").sigmoid()


def relu(input: Tensor) -> Tensor:
    return _tensor(input, "relu").relu()


def square(input: Tensor) -> Tensor:
    return _tensor(input, "square").square()


def reciprocal(input: Tensor) -> Tensor:
    return _tensor(input, "reciprocal").reciprocal()


def floor(input: Tensor) -> Tensor:
    return _tensor(input, "floor").floor()


def ceil(input: Tensor) -> Tensor:
    return _tensor(input, "ceil").ceil()


def round(input: Tensor) -> Tensor:
    return _tensor(input, "round").round()


def trunc(input: Tensor) -> Tensor:
    return _tensor(input, "trunc").trunc()


def add(input, other, *, alpha=1):
    return _E.add(input, other, alpha)


def sub(input, other, *, alpha=1):
    return _E.sub(input, other, alpha)


def mul(input, other):
    return _E.mul(input, other)


def div(input, other, *, rounding_mode=None):
    return _E.div(input, other, rounding_mode)


def pow(input, exponent):
    return _E.pow(input, exponent)


def remainder(input, other):
    return _E.remainder(input, other)


def floor_divide(input, other):
    return _E.floor_divide(input, other)


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


def triu(input, diagonal=0):
    return _M.tril(input, diagonal, upper=True)


def clamp(input, min=None, max=None):
    return _E.clamp(input, min, max)


clip = clamp


def masked_fill(input, mask, value):
    return input.masked_fill(mask, value)


def lerp(input, end, weight):
    return input.lerp(end, weight)


def sum(input, dim=None, keepdim=False, *, dtype=None):
    return _R.sum(input, dim, keepdim, dtype)


def mean(input, dim=None, keepdim=False, *, dtype=None):
    return _R.mean(input, dim, keepdim, dtype)


def prod(input, dim=None, keepdim=False, *, dtype=None):
    return _R.prod(input, dim, keepdim, dtype)


def max(input, dim=None, keepdim=False):
    return _R.max_or_min(input, dim, keepdim, "max")


def min(input, dim=None, keepdim=False):
    return _R.max_or_min(input, dim, keepdim, "min")


def var(input, dim=None, *, correction=1, keepdim=False):
    return _R.var(input, dim, correction, keepdim)


def std(input, dim=None, *, correction=1, keepdim=False):
    return _R.std(input, dim, correction, keepdim)


def all(input, dim=None, keepdim=False):
    return _R.all(input, dim, keepdim)


def any(input, dim=None, keepdim=False):
    return _R.any(input, dim, keepdim)


def broadcast_to(input, shape):
    return _M.expand(input, shape)


def clone(input):
    return input.clone()


def numel(input):
    return input.numel()


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)
