"""Tensor methods and operators, grouped by op family; each forwards to ``ops/``.

The op modules import ``Tensor``, so they are bound here by :func:`bind_ops` once ``tensor.py``
has defined the class (a late import would otherwise cost every call).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: importing .tensor at runtime would be circular
    from .dtypes import DType
    from .tensor import Tensor

    Scalar = float | int | bool
    Operand = Tensor | float | int | bool  # a tensor or a Python number (broadcast)
    Dims = int | tuple[int, ...] | None  # None: all dims
    DTypeLike = DType | str

E = U = R = M = L = IX = None  # ops.elementwise, unary, reduce, movement, linalg, indexing


def bind_ops() -> None:
    """Bind the op modules; ``tensor.py`` calls this once ``Tensor`` exists."""
    global E, U, R, M, L, IX
    from .ops import elementwise, indexing, linalg, movement, reduce, unary

    E, U, R, M, L, IX = elementwise, unary, reduce, movement, linalg, indexing


class MathMixin:
    """Elementwise arithmetic, comparisons and unary functions.

    Binary ops broadcast and promote dtypes as torch does (Python numbers are weakly typed).
    """

    __slots__ = ()

    def add(self, other: Operand, *, alpha: Scalar = 1) -> Tensor:
        """``self + alpha * other``."""
        return E.add(self, other, alpha)

    def sub(self, other: Operand, *, alpha: Scalar = 1) -> Tensor:
        """``self - alpha * other``; bool operands are refused, as in torch."""
        return E.sub(self, other, alpha)

    def mul(self, other: Operand) -> Tensor:
        """Elementwise product."""
        return E.mul(self, other)

    def div(self, other: Operand, *, rounding_mode: str | None = None) -> Tensor:
        """True division (integers give float32), or ``rounding_mode`` "floor" / "trunc"."""
        return E.div(self, other, rounding_mode)

    def pow(self, exponent: Operand) -> Tensor:
        """``self ** exponent``; integer negative powers follow torch, not NumPy's error."""
        return E.pow(self, exponent)

    def remainder(self, other: Operand) -> Tensor:
        """Python-style modulus: the result has the sign of ``other``."""
        return E.remainder(self, other)

    def floor_divide(self, other: Operand) -> Tensor:
        """``floor(self / other)`` (rounds down, not toward zero)."""
        return E.floor_divide(self, other)

    def maximum(self, other: Tensor) -> Tensor:
        """Elementwise max (NaN propagates); at ties each input gets half the gradient."""
        return E.maximum(self, other)

    def minimum(self, other: Tensor) -> Tensor:
        """Elementwise min (NaN propagates); at ties each input gets half the gradient."""
        return E.minimum(self, other)

    def matmul(self, other: Tensor) -> Tensor:
        """``(..., n, k) @ (..., k, m) -> (..., n, m)``; batch dims broadcast, 1-D as torch."""
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

    # Reflected operators (``2 - x``): the same ops with the operands swapped.
    def __radd__(self, other: Operand) -> Tensor:
        return E.add(other, self)

    def __rsub__(self, other: Operand) -> Tensor:
        return E.sub(other, self)

    def __rmul__(self, other: Operand) -> Tensor:
        return E.mul(other, self)

    def __rtruediv__(self, other: Operand) -> Tensor:
        return E.div(other, self)

    def __rpow__(self, other: Operand) -> Tensor:
        return E.pow(other, self)

    def __rmod__(self, other: Operand) -> Tensor:
        return E.remainder(other, self)

    def __rfloordiv__(self, other: Operand) -> Tensor:
        return E.floor_divide(other, self)

    def __rmatmul__(self, other: Tensor) -> Tensor:
        return L.matmul(other, self)

    def __neg__(self) -> Tensor:
        """``-self``; bool tensors are refused (use ``~``), as in torch."""
        return U.Neg.apply(U.check_not_bool(self, "neg"))

    neg = negative = __neg__

    def __pos__(self) -> Tensor:
        """``+self``: self itself, not a copy."""
        return self

    def __abs__(self) -> Tensor:
        """Elementwise absolute value, dtype kept."""
        return U.Abs.apply(self)

    abs = __abs__

    # Comparisons: broadcast, return bool tensors, carry no gradient.
    def __lt__(self, other: Operand) -> Tensor:
        return E.compare(self, other, "less", "lt")

    def __le__(self, other: Operand) -> Tensor:
        return E.compare(self, other, "less_equal", "le")

    def __gt__(self, other: Operand) -> Tensor:
        return E.compare(self, other, "greater", "gt")

    def __ge__(self, other: Operand) -> Tensor:
        return E.compare(self, other, "greater_equal", "ge")

    def __eq__(self, other: Operand) -> Tensor:  # type: ignore[override]
        return E.compare(self, other, "equal", "eq")

    def __ne__(self, other: Operand) -> Tensor:  # type: ignore[override]
        return E.compare(self, other, "not_equal", "ne")

    lt, le, gt, ge, eq, ne = __lt__, __le__, __gt__, __ge__, __eq__, __ne__

    # &, |, ^: logical on bool tensors, bitwise on integer ones.
    def __and__(self, other: Operand) -> Tensor:
        return E.logical(self, other, "bitwise_and", "and")

    def __or__(self, other: Operand) -> Tensor:
        return E.logical(self, other, "bitwise_or", "or")

    def __xor__(self, other: Operand) -> Tensor:
        return E.logical(self, other, "bitwise_xor", "xor")

    __rand__, __ror__, __rxor__ = __and__, __or__, __xor__

    def __invert__(self) -> Tensor:
        """``~self``: logical not for bool, bitwise not for integers; floats raise TypeError."""
        if self.dtype.category == 2:
            raise TypeError(f"bitwise_not (~): not implemented for floating dtype "
                            f"{self.dtype.name}")
        xp = self._device.xp
        return type(self)._make(xp.logical_not(self._data) if self.dtype.name == "bool"
                                else xp.invert(self._data), self._device)

    bitwise_not = logical_not = __invert__

    # Floating unary math: integer and bool inputs become float32 first, as in torch.
    def exp(self) -> Tensor:
        """``e ** self``."""
        return U.float_unary(U.Exp, self)

    def log(self) -> Tensor:
        """Natural logarithm."""
        return U.float_unary(U.Log, self)

    def log2(self) -> Tensor:
        """Base-2 logarithm."""
        return U.float_unary(U.Log2, self)

    def log1p(self) -> Tensor:
        """``log(1 + self)``, accurate near 0."""
        return U.float_unary(U.Log1p, self)

    def expm1(self) -> Tensor:
        """``exp(self) - 1``, accurate near 0."""
        return U.float_unary(U.Expm1, self)

    def sqrt(self) -> Tensor:
        """Square root."""
        return U.float_unary(U.Sqrt, self)

    def rsqrt(self) -> Tensor:
        """``1 / sqrt(self)``."""
        return U.float_unary(U.Rsqrt, self)

    def sin(self) -> Tensor:
        """Sine (radians)."""
        return U.float_unary(U.Sin, self)

    def cos(self) -> Tensor:
        """Cosine (radians)."""
        return U.float_unary(U.Cos, self)

    def tanh(self) -> Tensor:
        """Hyperbolic tangent."""
        return U.float_unary(U.Tanh, self)

    def erf(self) -> Tensor:
        """Gauss error function 2/sqrt(pi) * integral_0^x exp(-t^2) dt."""
        return U.float_unary(U.Erf, self)

    def sigmoid(self) -> Tensor:
        """``1 / (1 + exp(-self))``."""
        return U.float_unary(U.Sigmoid, self)

    def reciprocal(self) -> Tensor:
        """``1 / self``."""
        return U.float_unary(U.Reciprocal, self)

    def relu(self) -> Tensor:
        """``max(self, 0)``, dtype kept; bool tensors are refused."""
        return U.Relu.apply(U.check_not_bool(self, "relu"))

    def square(self) -> Tensor:
        """``self ** 2`` (pow's dtype rules: integers stay integers)."""
        return E.pow(self, 2)

    def sign(self) -> Tensor:
        """-1, 0 or 1 by sign, dtype kept; zero gradient."""
        return U.ZeroGrad.apply(self, fn="sign")

    # Rounding: the identity for integer and bool dtypes; zero gradient.
    def floor(self) -> Tensor:
        """Round down."""
        return self if self.dtype.category != 2 else U.ZeroGrad.apply(self, fn="floor")

    def ceil(self) -> Tensor:
        """Round up."""
        return self if self.dtype.category != 2 else U.ZeroGrad.apply(self, fn="ceil")

    def round(self) -> Tensor:
        """Round to nearest, halves to even (as torch)."""
        return self if self.dtype.category != 2 else U.ZeroGrad.apply(self, fn="round")

    def trunc(self) -> Tensor:
        """Round toward zero."""
        return self if self.dtype.category != 2 else U.ZeroGrad.apply(self, fn="trunc")

    def clamp(self, min: Operand | None = None, max: Operand | None = None) -> Tensor:
        """Clamp into ``[min, max]`` (numbers or tensors; at least one bound is required)."""
        return E.clamp(self, min, max)

    clip = clamp

    def where(self, condition: Tensor, other: Operand) -> Tensor:
        """``self`` where the bool ``condition`` is True, else ``other``; all three broadcast."""
        return E.where(condition, self, other)

    def masked_fill(self, mask: Tensor, value: Scalar | Tensor) -> Tensor:
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

    def lerp(self, end: Tensor, weight: Operand) -> Tensor:
        """``self + weight * (end - self)``, all broadcast."""
        return self + weight * (end - self)

    def type(self, dtype: DTypeLike | None = None) -> DType | Tensor:
        """The dtype when ``dtype`` is None (unlike torch's type string), else ``to(dtype)``."""
        return self.dtype if dtype is None else self.to(dtype)


class ReduceMixin:
    """Reductions over ``dim``: an int, a tuple, or None for all dims.

    ``keepdim`` keeps the reduced dims as size 1, so the result broadcasts against self.
    """

    __slots__ = ()

    def sum(self, dim: Dims = None, keepdim: bool = False, *,
            dtype: DTypeLike | None = None) -> Tensor:
        """Sum. ``dtype``: a float target casts the input first, an integer one the result."""
        return R.sum(self, dim, keepdim, dtype)

    def mean(self, dim: Dims = None, keepdim: bool = False, *,
             dtype: DTypeLike | None = None) -> Tensor:
        """Mean of a floating tensor (float16 accumulates in float32); empty gives nan."""
        return R.mean(self, dim, keepdim, dtype)

    def prod(self, dim: Dims = None, keepdim: bool = False, *,
             dtype: DTypeLike | None = None) -> Tensor:
        """Product; ``dtype`` as in :meth:`sum`."""
        return R.prod(self, dim, keepdim, dtype)

    def amax(self, dim: Dims = None, keepdim: bool = False) -> Tensor:
        """Maximum values; ties split the gradient evenly. Empty reductions raise."""
        return R.amax(self, dim, keepdim)

    def amin(self, dim: Dims = None, keepdim: bool = False) -> Tensor:
        """Minimum values; ties split the gradient evenly. Empty reductions raise."""
        return R.amin(self, dim, keepdim)

    def max(self, dim: int | Tensor | None = None,
            keepdim: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """No dim: the 0-d max (ties as amax). An int dim: ``(values, indices)``, the gradient
        going to the first max's index. A tensor: :meth:`maximum`."""
        return R.max_or_min(self, dim, keepdim, "max")

    def min(self, dim: int | Tensor | None = None,
            keepdim: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """Like :meth:`max`, for the minimum."""
        return R.max_or_min(self, dim, keepdim, "min")

    def argmax(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        """int64 index of the first maximum (of the flattened tensor when dim is None)."""
        return R.argmax(self, dim, keepdim)

    def argmin(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        """int64 index of the first minimum (of the flattened tensor when dim is None)."""
        return R.argmin(self, dim, keepdim)

    def var(self, dim: Dims = None, unbiased: bool | None = None, keepdim: bool = False, *,
            correction: int = 1) -> Tensor:
        """Variance dividing by ``N - correction`` (<= 0 gives inf/nan); a bool ``unbiased``
        overrides correction (True: 1, False: 0). Floating only."""
        if isinstance(unbiased, bool) or unbiased is None:
            return R.var(self, dim, correction, keepdim, unbiased)
        return R.var(self, dim, correction, keepdim)

    def std(self, dim: Dims = None, unbiased: bool | None = None, keepdim: bool = False, *,
            correction: int = 1) -> Tensor:
        """Square root of :meth:`var`; its gradient is 0 (not inf) where std is 0."""
        return R.std(self, dim, correction, keepdim, unbiased)

    def logsumexp(self, dim: Dims, keepdim: bool = False) -> Tensor:
        """``log(sum(exp(self)))`` shifted by the max for stability; all -inf gives -inf."""
        return R.logsumexp(self, dim, keepdim)

    def norm(self, p: float | int | str = "fro", dim: Dims = None,
             keepdim: bool = False) -> Tensor:
        """Vector p-norm (all elements when dim is None); p: a number, +-inf or "fro" (= 2)."""
        return R.norm(self, p, dim, keepdim)

    def cumsum(self, dim: int, *, dtype: DTypeLike | None = None) -> Tensor:
        """Running sum along ``dim``, same shape; ``dtype`` as in :meth:`sum`."""
        return R.cumsum(self, dim, dtype)

    def all(self, dim: Dims = None, keepdim: bool = False) -> Tensor:
        """Bool: every element nonzero (``dim=()`` reduces nothing, as torch)."""
        return R.all(self, dim, keepdim)

    def any(self, dim: Dims = None, keepdim: bool = False) -> Tensor:
        """Bool: some element nonzero (``dim=()`` reduces nothing, as torch)."""
        return R.any(self, dim, keepdim)


class MovementMixin:
    """Shape changes, indexing and copies.

    As in torch, "a view" shares storage with self (in-place writes show through).
    """

    __slots__ = ()

    def reshape(self, *shape: int | tuple[int, ...]) -> Tensor:
        """Same elements in ``shape`` (one -1 is inferred): a view when strides allow, else a
        copy. An unchanged shape returns self."""
        return M.reshape(self, *shape)

    def view(self, *shape: int | tuple[int, ...]) -> Tensor:
        """Like :meth:`reshape` but always a view: raises when the strides don't allow one."""
        return M.reshape(self, *shape, op="view")

    def view_as(self, other: Tensor) -> Tensor:
        """View with ``other.shape`` (raises where no view is possible, like torch)."""
        return M.reshape(self, other.shape, op="view")

    def reshape_as(self, other: Tensor) -> Tensor:
        """``reshape(other.shape)``."""
        return M.reshape(self, other.shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """Merge dims ``start_dim..end_dim`` into one (0-d gives shape ``(1,)``); as reshape."""
        return M.flatten(self, start_dim, end_dim)

    def unflatten(self, dim: int, sizes: tuple[int, ...]) -> Tensor:
        """Split ``dim`` into ``sizes`` (one -1 inferred): ``(a, n, b) -> (a, *sizes, b)``."""
        return M.unflatten(self, dim, sizes)

    def squeeze(self, dim: Dims = None) -> Tensor:
        """Drop size-1 dims (all, or those in ``dim``; others are left alone); a view."""
        return M.squeeze(self, dim)

    def unsqueeze(self, dim: int) -> Tensor:
        """Insert a size-1 dim at ``dim`` (in ``[-ndim - 1, ndim]``); a view."""
        return M.unsqueeze(self, dim)

    def permute(self, *dims: int | tuple[int, ...]) -> Tensor:
        """Reorder dims (a view): result dim i is self's dim ``dims[i]``."""
        return M.permute(self, *dims)

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        """Swap two dims; a view."""
        return M.transpose(self, dim0, dim1)

    swapaxes = swapdims = transpose

    def t(self) -> Tensor:
        """``(n, m) -> (m, n)`` for <= 2-D tensors (0-D and 1-D are returned as is)."""
        if self.ndim > 2:
            raise ValueError(f"t: expects a tensor with <= 2 dims, got shape {tuple(self.shape)}")
        return M.transpose(self, 0, -1) if self.ndim == 2 else self

    @property
    def T(self) -> Tensor:
        """All dims reversed, ``(a, b, c) -> (c, b, a)``; a view."""
        return M.permute(self, *reversed(range(self.ndim)))

    @property
    def mT(self) -> Tensor:
        """Last two dims swapped, ``(..., n, m) -> (..., m, n)``; a view."""
        if self.ndim < 2:
            raise ValueError(f"mT: expects a tensor with >= 2 dims, got shape "
                             f"{tuple(self.shape)}")
        n = self.ndim
        return M.Permute.apply(self, dims=tuple(range(n - 2)) + (n - 1, n - 2))

    def expand(self, *sizes: int | tuple[int, ...]) -> Tensor:
        """Broadcast size-1 dims to ``sizes`` (-1 keeps a dim; new leading dims allowed).
        A view with no copy: the gradient sums over the broadcast dims."""
        return M.expand(self, *sizes)

    def expand_as(self, other: Tensor) -> Tensor:
        """``expand(other.shape)``."""
        return M.expand(self, other.shape)

    def broadcast_to(self, shape: tuple[int, ...]) -> Tensor:
        """``expand(shape)``."""
        return M.expand(self, shape)

    def repeat(self, *sizes: int | tuple[int, ...]) -> Tensor:
        """Tile ``sizes[i]`` times along dim i (extra sizes add leading dims), as torch.repeat."""
        return M.repeat(self, *sizes)

    def flip(self, *dims: int | tuple[int, ...]) -> Tensor:
        """Reverse the order along ``dims``; a copy, as in torch."""
        return M.flip(self, dims[0] if len(dims) == 1 else dims)

    def roll(self, shifts: int | tuple[int, ...], dims: Dims = None) -> Tensor:
        """Shift elements along ``dims``, wrapping around; dims None rolls the flattened
        tensor."""
        return M.roll(self, shifts, dims)

    def split(self, split_size_or_sections: int | list[int],
              dim: int = 0) -> tuple[Tensor, ...]:
        """Views along ``dim``: pieces of an int size (the last may be shorter) or listed sizes."""
        return M.split(self, split_size_or_sections, dim)

    def chunk(self, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
        """Views of ``ceil(n / chunks)`` along ``dim``; may give fewer than ``chunks``."""
        return M.chunk(self, chunks, dim)

    def narrow(self, dim: int, start: int, length: int) -> Tensor:
        """``start:start + length`` along ``dim`` (negative start counts from the end); a view."""
        return M.narrow(self, dim, start, length)

    def tril(self, diagonal: int = 0) -> Tensor:
        """Lower triangle of the last two dims (``diagonal`` > 0 keeps more); a copy."""
        return M.tril(self, diagonal)

    def triu(self, diagonal: int = 0) -> Tensor:
        """Upper triangle of the last two dims (``diagonal`` > 0 keeps less); a copy."""
        return M.tril(self, diagonal, upper=True)

    def __getitem__(self, index: Any) -> Tensor:
        """torch indexing: ints, slices, None and ``...`` give a view; tensor/list indices copy."""
        return IX.getitem(self, index)

    def gather(self, dim: int, index: Tensor) -> Tensor:
        """``out[i][j] = self[index[i][j]][j]`` for dim 0; out has index's shape."""
        return IX.gather(self, dim, index)

    def scatter_add(self, dim: int, index: Tensor, src: Tensor) -> Tensor:
        """Out of place: self with ``src[i][j]`` added at ``[index[i][j]][j]`` (dim 0);
        repeated indices accumulate."""
        return IX.scatter_add(self, dim, index, src)

    def index_select(self, dim: int, index: Tensor) -> Tensor:
        """Entries at a 0-D/1-D integer ``index`` along ``dim`` (size becomes len(index))."""
        return IX.index_select(self, dim, index)

    def clone(self) -> Tensor:
        """A fresh contiguous copy; differentiable."""
        return M.Copy.apply(self)

    def contiguous(self) -> Tensor:
        """Self if C-contiguous, else a contiguous copy."""
        return self if self._device.is_contiguous(self._data) else M.Copy.apply(self)

    def is_contiguous(self) -> bool:
        """Whether the storage is C-contiguous."""
        return self._device.is_contiguous(self._data)
