"""Embedding lookup: ``F.embedding`` and the ``Embedding`` module (torch's semantics).

The lookup is one primitive (a row gather); its backward is another (rows of the upstream
gradient added into a zero table, repeated indices accumulating), and each is the other's
backward, so the op differentiates twice. The ``padding_idx`` row gets no gradient.
"""

from __future__ import annotations

from .. import creation
from ..autograd import Primitive, no_grad
from ..errors import DTypeError, ShapeError
from ..ops.indexing import IndexOutOfRange
from ..tensor import Tensor
from . import init
from .module import Module
from .parameter import Parameter


class EmbeddingLookup(Primitive):
    """out[...] = weight[indices[...]].

    ``grad_path`` marks the lookup that is the backward of :class:`EmbeddingGradient`: there
    the rows looked up at ``padding_idx`` are 0 and each row is scaled by ``row_scale`` (the
    transpose of what the gradient did).
    """

    __slots__ = ("indices", "padding_idx", "row_scale")

    def forward(ctx, weight, indices, padding_idx, row_scale=None, grad_path=False):
        ctx.indices, ctx.padding_idx, ctx.row_scale = indices, padding_idx, row_scale
        out = ctx.device.xp.take(weight, indices, axis=0)
        if grad_path:
            if row_scale is not None:
                out *= row_scale[indices][..., None]
            if padding_idx is not None:
                out[indices == padding_idx] = 0
        return out

    def backward(ctx, g):
        return EmbeddingGradient.apply(g, indices=ctx.indices, padding_idx=ctx.padding_idx,
                                       num_embeddings=ctx.inputs[0].shape[0],
                                       row_scale=ctx.row_scale)


class EmbeddingGradient(Primitive):
    """zeros(num_embeddings, D) with g's rows added at ``indices`` (then each table row scaled
    by ``row_scale`` if given); the padding row stays 0."""

    __slots__ = ("indices", "padding_idx", "row_scale")

    def forward(ctx, g, indices, padding_idx, num_embeddings, row_scale=None):
        ctx.indices, ctx.padding_idx, ctx.row_scale = indices, padding_idx, row_scale
        return ctx.device.embedding_backward(g, indices, num_embeddings, padding_idx, row_scale)

    def backward(ctx, gg):
        return EmbeddingLookup.apply(gg, indices=ctx.indices, padding_idx=ctx.padding_idx,
                                     row_scale=ctx.row_scale, grad_path=True)


def embedding_backward_reference(xp, g, indices, num_embeddings: int, padding_idx, row_scale):
    """(num_embeddings, D) table: the rows of g (shape (*indices.shape, D)) summed at
    ``indices`` (repeats accumulate), each table row scaled by ``row_scale`` (or None), the
    ``padding_idx`` row (or None) zero."""
    d = g.shape[-1]
    out = xp.zeros((num_embeddings, d), dtype=g.dtype)
    xp.add.at(out, indices.reshape(-1), g.reshape(-1, d))
    if row_scale is not None:
        out *= row_scale[:, None]
    if padding_idx is not None:
        out[padding_idx] = 0
    return out


def _padding_index(padding_idx: int | None, num_embeddings: int, op: str) -> int | None:
    """Normalise a negative ``padding_idx`` (counted from the end), checking its range."""
    if padding_idx is None:
        return None
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise ValueError(f"{op}: padding_idx must be within num_embeddings ({num_embeddings}), "
                         f"got {padding_idx}")
    return padding_idx + num_embeddings if padding_idx < 0 else padding_idx


def _renorm_rows_(weight: Tensor, indices, max_norm: float, norm_type: float) -> None:
    """Scale the rows of ``weight`` looked up by ``indices`` to norm <= max_norm, in place and
    outside autograd (torch's embedding_renorm_; its 1e-7 keeps the new norm just below)."""
    xp = weight.device.xp
    rows = xp.unique(indices.reshape(-1))
    data = weight._data
    picked = data[rows]
    if norm_type == float("inf"):
        norms = xp.abs(picked).max(axis=1)
    else:
        norms = (xp.abs(picked) ** norm_type).sum(axis=1) ** (1.0 / norm_type)
    big = norms > max_norm
    scale = (max_norm / (norms[big] + 1e-7)).astype(data.dtype, copy=False)
    data[rows[big]] = picked[big] * scale[:, None]
    weight._vc[0] += 1


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None,
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of ``weight`` picked by ``input``. Shapes: input (*) integer, weight (V, D) ->
    (*, D).

    Args:
        input: int64 or int32 indices in [0, V).
        weight: the (V, D) table.
        padding_idx: this row gets no gradient (negative counts from the end).
        max_norm: rows looked up whose ``norm_type``-norm exceeds it are first rescaled to
            ``max_norm`` in ``weight`` itself (in place, outside autograd), as torch.
        norm_type: the p of the p-norm for ``max_norm``.
        scale_grad_by_freq: divide each row's gradient by how often its index occurs in
            ``input``.
        sparse: not supported: there are no sparse tensors (raises ValueError).
    """
    op = "embedding"
    if not isinstance(input, Tensor) or not isinstance(weight, Tensor):
        raise TypeError(f"{op}: expected Tensors for input and weight, got "
                        f"{type(input).__name__} and {type(weight).__name__}")
    if input.dtype.name not in ("int64", "int32"):
        raise DTypeError(f"{op}: indices must be int64 or int32, got {input.dtype.name}")
    if weight.ndim != 2:
        raise ShapeError(f"{op}: weight must be 2-D (num_embeddings, embedding_dim), got shape "
                         f"{tuple(weight.shape)}")
    if input.device is not weight.device:
        raise RuntimeError(f"{op}: indices on {input.device} and weight on {weight.device}")
    if sparse:
        raise ValueError(f"{op}: sparse=True is not supported (tinygrad_lite has no sparse "
                         "tensors); use sparse=False")
    num = weight.shape[0]
    padding_idx = _padding_index(padding_idx, num, op)
    indices = input._data
    if indices.size:
        lo, hi = int(indices.min()), int(indices.max())
        if lo < 0 or hi >= num:
            raise IndexOutOfRange(f"{op}: index {lo if lo < 0 else hi} is out of range for a "
                                  f"table of num_embeddings={num} (valid: 0 to {num - 1})")
    # a copy: the lookup keeps the indices for backward; a later in-place edit must not leak in
    indices = indices.copy()
    if max_norm is not None:
        with no_grad():
            _renorm_rows_(weight, indices, float(max_norm), float(norm_type))
    row_scale = None
    if scale_grad_by_freq:
        xp = weight.device.xp
        counts = xp.bincount(indices.reshape(-1), minlength=num)
        row_scale = (1.0 / xp.maximum(counts, 1)).astype(weight._data.dtype)
    return EmbeddingLookup.apply(weight, indices=indices, padding_idx=padding_idx,
                                 row_scale=row_scale)


class Embedding(Module):
    """A lookup table of ``num_embeddings`` vectors of size ``embedding_dim``.

    Shapes: input (*) integer -> (*, embedding_dim). ``weight`` starts as N(0, 1), with the
    ``padding_idx`` row zero (torch's init).
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0,
                 scale_grad_by_freq: bool = False, sparse: bool = False,
                 _weight: Tensor | None = None, _freeze: bool = False, device=None, dtype=None):
        super().__init__()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.padding_idx = _padding_index(padding_idx, num_embeddings, "Embedding")
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        if sparse:
            raise ValueError("Embedding: sparse=True is not supported (tinygrad_lite has no "
                             "sparse tensors); use sparse=False")
        if _weight is None:
            self.weight = Parameter(creation.empty(num_embeddings, embedding_dim, device=device,
                                                   dtype=dtype), requires_grad=not _freeze)
            self.reset_parameters()
        else:
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise ShapeError(f"Embedding: _weight should have shape ({num_embeddings}, "
                                 f"{embedding_dim}), got {tuple(_weight.shape)}")
            self.weight = Parameter(_weight, requires_grad=not _freeze)

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with no_grad():
                self.weight[self.padding_idx] = 0

    def forward(self, input: Tensor) -> Tensor:
        return embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                         self.scale_grad_by_freq, self.sparse)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            s += ", scale_grad_by_freq=True"
        if self.sparse:
            s += ", sparse=True"
        return s

    @classmethod
    def from_pretrained(cls, embeddings: Tensor, freeze: bool = True,
                        padding_idx: int | None = None, max_norm: float | None = None,
                        norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                        sparse: bool = False) -> Embedding:
        """An Embedding whose weight is ``embeddings`` (V, D), frozen unless ``freeze=False``;
        the padding row keeps its pretrained values (as torch)."""
        if not isinstance(embeddings, Tensor) or embeddings.ndim != 2:
            got = tuple(embeddings.shape) if isinstance(embeddings, Tensor) else \
                type(embeddings).__name__
            raise ShapeError(f"Embedding.from_pretrained: embeddings must be a 2-D Tensor, "
                             f"got {got}")
        rows, dim = embeddings.shape
        return cls(rows, dim, padding_idx=padding_idx, max_norm=max_norm, norm_type=norm_type,
                   scale_grad_by_freq=scale_grad_by_freq, sparse=sparse, _weight=embeddings,
                   _freeze=freeze)
