"""Tensor methods and operators, grouped by op family; each forwards to ``ops/``.

The op modules import ``Tensor``, so they are bound here by :func:`bind_ops` once ``tensor.py``
has defined the class (a late import would otherwise cost every call).
"""

from __future__ import annotations

E = U = R = M = L = IX = None  # ops.elementwise, unary, reduce, movement, linalg, indexing


def bind_ops() -> None:
    global E, U, R, M, L, IX
    from .ops import elementwise, indexing, linalg, movement, reduce, unary

    E, U, R, M, L, IX = elementwise, unary, reduce, movement, linalg, indexing


class MathMixin:
    """Elementwise arithmetic, comparisons and unary functions."""

    __slots__ = ()

    def add(self, other, *, alpha=1):
        return E.add(self, other, alpha)

    def sub(self, other, *, alpha=1):
        return E.sub(self, other, alpha)

    def mul(self, other):
        return E.mul(self, other)

    def div(self, other, *, rounding_mode=None):
        return E.div(self, other, rounding_mode)

    def pow(self, exponent):
        return E.pow(self, exponent)

    def remainder(self, other):
        return E.remainder(self, other)

    def floor_divide(self, other):
        return E.floor_divide(self, other)

    def maximum(self, other):
        return E.maximum(self, other)

    def minimum(self, other):
        return E.minimum(self, other)

    def matmul(self, other):
        return L.matmul(self, other)

    subtract, multiply, divide, true_divide = sub, mul, div, div

    __add__ = add
    __sub__ = sub
    __mul__ = mul
    __truediv__ = div
    __pow__ = pow
    __mod__ = remainder
    __floordiv__ = floor_divide
    __matmul__ = matmul

    def __radd__(self, other):
        return E.add(other, self)

    def __rsub__(self, other):
        return E.sub(other, self)

    def __rmul__(self, other):
        return E.mul(other, self)

    def __rtruediv__(self, other):
        return E.div(other, self)

    def __rpow__(self, other):
        return E.pow(other, self)

    def __rmod__(self, other):
        return E.remainder(other, self)

    def __rfloordiv__(self, other):
        return E.floor_divide(other, self)

    def __rmatmul__(self, other):
        return L.matmul(other, self)

    def __neg__(self):
        return U.Neg.apply(U.check_not_bool(self, "neg"))

    neg = negative = __neg__

    def __pos__(self):
        return self

    def __abs__(self):
        return U.Abs.apply(self)

    abs = __abs__

    def __lt__(self, other):
        return E.compare(self, other, "less", "lt")

    def __le__(self, other):
        return E.compare(self, other, "less_equal", "le")

    def __gt__(self, other):
        return E.compare(self, other, "greater", "gt")

    def __ge__(self, other):
        return E.compare(self, other, "greater_equal", "ge")

    def __eq__(self, other):
        return E.compare(self, other, "equal", "eq")

    def __ne__(self, other):
        return E.compare(self, other, "not_equal", "ne")

    lt, le, gt, ge, eq, ne = __lt__, __le__, __gt__, __ge__, __eq__, __ne__

    def __and__(self, other):
        return E.logical(self, other, "bitwise_and", "and")

    def __or__(self, other):
        return E.logical(self, other, "bitwise_or", "or")

    def __xor__(self, other):
        return E.logical(self, other, "bitwise_xor", "xor")

    __rand__, __ror__, __rxor__ = __and__, __or__, __xor__

    def __invert__(self):
        if self.dtype.category == 2:
            raise TypeError(f"bitwise_not (~): not implemented for floating dtype "
                            f"{self.dtype.name}")
        xp = self._device.xp
        return type(self)._make(xp.logical_not(self._data) if self.dtype.name == "bool"
                                else xp.invert(self._data), self._device)

    bitwise_not = logical_not = __invert__

    def exp(self):
        return U.float_unary(U.Exp, self)

    def log(self):
        return U.float_unary(U.Log, self)

    def log2(self):
        return U.float_unary(U.Log2, self)

    def log1p(self):
        return U.float_unary(U.Log1p, self)

    def expm1(self):
        return U.float_unary(U.Expm1, self)

    def sqrt(self):
        return U.float_unary(U.Sqrt, self)

    def rsqrt(self):
        return U.float_unary(U.Rsqrt, self)

    def sin(self):
        return U.float_unary(U.Sin, self)

    def cos(self):
        return U.float_unary(U.Cos, self)

    def tanh(self):
        return U.float_unary(U.Tanh, self)

    def sigmoid(self):
        return U.float_unary(U.Sigmoid, self)

    def reciprocal(self):
        return U.float_unary(U.Reciprocal, self)

    def relu(self):
        return U.Relu.apply(U.check_not_bool(self, "relu"))

    def square(self):
        return E.pow(self, 2)

    def sign(self):
        return U.ZeroGrad.apply(self, fn="sign")

    def floor(self):
        return self if self.dtype.category != 2 else U.ZeroGrad.apply(self, fn="floor")

    def ceil(self):
        return self if self.dtype.category != 2 else U.ZeroGrad.apply(self, fn="ceil")

    def round(self):
        return self if self.dtype.category != 2 else U.ZeroGrad.apply(self, fn="round")

    def trunc(self):
        return self if self.dtype.category != 2 else U.ZeroGrad.apply(self, fn="trunc")

    def clamp(self, min=None, max=None):
        return E.clamp(self, min, max)

    clip = clamp

    def where(self, condition, other):
        return E.where(condition, self, other)

    def masked_fill(self, mask, value):
        """``value`` where ``mask`` (bool, broadcast to self) is True; self's dtype is kept."""
        if getattr(mask, "dtype", None) is None or mask.dtype.name != "bool":
            got = getattr(getattr(mask, "dtype", None), "name", type(mask).__name__)
            raise TypeError(f"masked_fill: mask must be a bool tensor, got {got}")
        if mask.shape != self.shape:
            M.broadcast_shape(self.shape, mask.shape, op="masked_fill")
            if len(mask.shape) > self.ndim or any(
                    m != 1 and m != s for m, s in zip(mask.shape[::-1], self.shape[::-1])):
                raise ValueError(f"masked_fill: mask of shape {tuple(mask.shape)} is not "
                                 f"broadcastable to the tensor's shape {tuple(self.shape)}")
        if isinstance(value, type(self)):
            if value.ndim:
                raise ValueError(f"masked_fill: only 0-d value tensors are supported, got shape "
                                 f"{tuple(value.shape)}")
            value = value.to(self.dtype)
        else:  # like torch, the fill value takes the tensor's dtype (2.7 into int64 is 2)
            value = type(self)._make(self._device.xp.asarray(value).astype(self.dtype.np),
                                     self._device)
        return E.where(mask, value, self)

    def lerp(self, end, weight):
        return self + weight * (end - self)

    def type(self, dtype=None):
        return self.dtype if dtype is None else self.to(dtype)


class ReduceMixin:
    """Reductions; ``dim`` may be None, an int or a tuple."""

    __slots__ = ()

    def sum(self, dim=None, keepdim=False, *, dtype=None):
        return R.sum(self, dim, keepdim, dtype)

    def mean(self, dim=None, keepdim=False, *, dtype=None):
        return R.mean(self, dim, keepdim, dtype)

    def prod(self, dim=None, keepdim=False, *, dtype=None):
        return R.prod(self, dim, keepdim, dtype)

    def amax(self, dim=None, keepdim=False):
        return R.amax(self, dim, keepdim)

    def amin(self, dim=None, keepdim=False):
        return R.amin(self, dim, keepdim)

    def max(self, dim=None, keepdim=False):
        return R.max_or_min(self, dim, keepdim, "max")

    def min(self, dim=None, keepdim=False):
        return R.max_or_min(self, dim, keepdim, "min")

    def argmax(self, dim=None, keepdim=False):
        return R.argmax(self, dim, keepdim)

    def argmin(self, dim=None, keepdim=False):
        return R.argmin(self, dim, keepdim)

    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=1):
        if isinstance(unbiased, bool) or unbiased is None:
            return R.var(self, dim, correction, keepdim, unbiased)
        return R.var(self, dim, correction, keepdim)

    def std(self, dim=None, unbiased=None, keepdim=False, *, correction=1):
        return R.std(self, dim, correction, keepdim, unbiased)

    def logsumexp(self, dim, keepdim=False):
        return R.logsumexp(self, dim, keepdim)

    def norm(self, p="fro", dim=None, keepdim=False):
        return R.norm(self, p, dim, keepdim)

    def cumsum(self, dim, *, dtype=None):
        return R.cumsum(self, dim, dtype)

    def all(self, dim=None, keepdim=False):
        return R.all(self, dim, keepdim)

    def any(self, dim=None, keepdim=False):
        return R.any(self, dim, keepdim)


class MovementMixin:
    """Shape changes, indexing and copies."""

    __slots__ = ()

    def reshape(self, *shape):
        return M.reshape(self, *shape)

    def view(self, *shape):
        return M.reshape(self, *shape, op="view")

    def view_as(self, other):
        return M.reshape(self, other.shape)

    def reshape_as(self, other):
        return M.reshape(self, other.shape)

    def flatten(self, start_dim=0, end_dim=-1):
        return M.flatten(self, start_dim, end_dim)

    def unflatten(self, dim, sizes):
        return M.unflatten(self, dim, sizes)

    def squeeze(self, dim=None):
        return M.squeeze(self, dim)

    def unsqueeze(self, dim):
        return M.unsqueeze(self, dim)

    def permute(self, *dims):
        return M.permute(self, *dims)

    def transpose(self, dim0, dim1):
        return M.transpose(self, dim0, dim1)

    swapaxes = swapdims = transpose

    def t(self):
        if self.ndim > 2:
            raise ValueError(f"t: expects a tensor with <= 2 dims, got shape {tuple(self.shape)}")
        return M.transpose(self, 0, -1) if self.ndim == 2 else self

    @property
    def T(self):
        return M.permute(self, *reversed(range(self.ndim)))

    @property
    def mT(self):
        if self.ndim < 2:
            raise ValueError(f"mT: expects a tensor with >= 2 dims, got shape "
                             f"{tuple(self.shape)}")
        n = self.ndim
        return M.Permute.apply(self, dims=tuple(range(n - 2)) + (n - 1, n - 2))

    def expand(self, *sizes):
        return M.expand(self, *sizes)

    def expand_as(self, other):
        return M.expand(self, other.shape)

    def broadcast_to(self, shape):
        return M.expand(self, shape)

    def repeat(self, *sizes):
        return M.repeat(self, *sizes)

    def flip(self, *dims):
        return M.flip(self, dims[0] if len(dims) == 1 else dims)

    def roll(self, shifts, dims=None):
        return M.roll(self, shifts, dims)

    def split(self, split_size_or_sections, dim=0):
        return M.split(self, split_size_or_sections, dim)

    def chunk(self, chunks, dim=0):
        return M.chunk(self, chunks, dim)

    def narrow(self, dim, start, length):
        return M.narrow(self, dim, start, length)

    def tril(self, diagonal=0):
        return M.tril(self, diagonal)

    def triu(self, diagonal=0):
        return M.tril(self, diagonal, upper=True)

    def __getitem__(self, index):
        return IX.getitem(self, index)

    def gather(self, dim, index):
        return IX.gather(self, dim, index)

    def scatter_add(self, dim, index, src):
        return IX.scatter_add(self, dim, index, src)

    def index_select(self, dim, index):
        return IX.index_select(self, dim, index)

    def clone(self):
        return M.Copy.apply(self)

    def contiguous(self):
        return self if self._device.is_contiguous(self._data) else M.Copy.apply(self)

    def is_contiguous(self) -> bool:
        return self._device.is_contiguous(self._data)
