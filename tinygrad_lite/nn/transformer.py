"""``MultiheadAttention``, ``TransformerEncoderLayer`` and ``TransformerEncoder`` (torch's API).

Parameter names, shapes, registration order and default init follow torch, so a torch
``state_dict`` loads unchanged. The heads are a leading batch dim of two matmuls (no Python loop
over heads). With ``need_weights=True`` the scores, softmax and dropout are computed here (the
weights are returned, and a row whose keys are all masked is NaN, as torch); otherwise the work
goes to ``F.scaled_dot_product_attention`` (such a row gives 0, as torch's SDPA path).
"""

from __future__ import annotations

import copy
import math
from typing import Callable

from .. import creation, dtypes
from ..errors import DTypeError, ShapeError
from ..ops.movement import cat
from ..tensor import Tensor
from . import functional as F
from . import init
from .containers import ModuleList
from .layers import Dropout, Linear
from .module import Module
from .normalization import LayerNorm
from .parameter import Parameter

_MHA = "MultiheadAttention"


def generate_square_subsequent_mask(sz: int, device=None, dtype=None) -> Tensor:
    """The causal mask for ``sz`` positions (torch's ``nn.Transformer``'s static method).

    Args:
        sz: the sequence length.
        device: where the mask lives (default: the default device).
        dtype: a floating dtype (default float32).

    Returns:
        (sz, sz) float mask: 0 on and below the diagonal, -inf above.
    """
    mask = creation.zeros(sz, sz, device=device, dtype=dtype or dtypes.float32)
    xp = mask.device.xp
    mask._data[xp.triu(xp.ones((sz, sz), dtype=bool), k=1)] = -xp.inf
    return mask


def _canonical_mask(mask, name: str, like: Tensor) -> Tensor | None:
    """A bool mask becomes an additive float mask of ``like``'s dtype (True -> -inf); a float
    mask is used as is (it may require grad; its dtype is checked by ``_check_mask_dtype``)."""
    if mask is None:
        return None
    if not isinstance(mask, Tensor):
        raise TypeError(f"{_MHA}: {name} must be a Tensor or None, got {type(mask).__name__}")
    if mask.dtype is dtypes.bool_:
        xp = mask.device.xp
        out = xp.zeros(mask.shape, dtype=like._data.dtype)
        out[mask._data] = -xp.inf
        return Tensor._make(out, mask.device)
    if mask.dtype.category != 2:
        raise DTypeError(f"{_MHA}: only bool and floating types of {name} are supported, got "
                         f"{mask.dtype.name}")
    return mask


def _check_mask_dtype(mask: Tensor | None, name: str, query: Tensor, need_weights: bool) -> None:
    """torch's dtype rules for a float mask that is used: with ``need_weights`` the scores are
    computed here and torch's ``baddbmm`` needs the query's dtype; without, SDPA also takes a
    float32 mask."""
    if mask is None or mask.dtype is dtypes.bool_ or mask.dtype is query.dtype:
        return
    if need_weights or mask.dtype is not dtypes.float32:
        rule = "query's dtype" if need_weights else "float32 or query's dtype"
        raise DTypeError(f"{_MHA}: a float {name} must have {rule} {query.dtype.name}"
                         f"{' with need_weights=True' if need_weights else ''}, got "
                         f"{mask.dtype.name} (torch raises too)")


def _shape_check(query, key, value, kpm, attn_mask, num_heads: int) -> bool:
    """torch's input-rank rules; returns whether the input is batched."""
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{_MHA}: {name} must be a Tensor, got {type(t).__name__}")
    if query.ndim not in (2, 3):
        raise ShapeError(f"{_MHA}: query should be unbatched 2-D (L, E) or batched 3-D, got shape "
                         f"{tuple(query.shape)}")
    batched, kind = query.ndim == 3, ("batched (3-D)" if query.ndim == 3 else "unbatched (2-D)")
    if key.ndim != query.ndim or value.ndim != query.ndim:
        raise ShapeError(f"{_MHA}: for {kind} query, expected key and value to be "
                         f"{query.ndim}-D, got shapes {tuple(key.shape)} and "
                         f"{tuple(value.shape)}")
    if kpm is not None and kpm.ndim != query.ndim - 1:
        raise ShapeError(f"{_MHA}: for {kind} query, expected key_padding_mask to be None or "
                         f"{query.ndim - 1}-D, got shape {tuple(kpm.shape)}")
    if attn_mask is not None:
        if attn_mask.ndim not in (2, 3):
            raise ShapeError(f"{_MHA}: expected attn_mask to be None, 2-D or 3-D, got shape "
                             f"{tuple(attn_mask.shape)}")
        if not batched and attn_mask.ndim == 3:
            want = (num_heads, query.shape[0], key.shape[0])
            if tuple(attn_mask.shape) != want:
                raise ShapeError(f"{_MHA}: expected the 3-D attn_mask of an unbatched query to "
                                 f"have shape {want}, got {tuple(attn_mask.shape)}")
    return batched


class MultiheadAttention(Module):
    """Multi-head attention (Vaswani et al.) with torch's parameters and semantics.

    Shapes (E = embed_dim, L target and S source length, N batch, H heads):
        query (L, N, E), key (S, N, kdim), value (S, N, vdim); (N, L, E) etc. with
        ``batch_first``; unbatched (L, E), (S, kdim), (S, vdim).
        Returns attn_output like query and attn_weights (N, L, S), or (N, H, L, S) with
        ``average_attn_weights=False`` (no N for unbatched input), or None.

    Parameters: ``in_proj_weight`` (3E, E) xavier-uniform (or ``q_proj_weight`` (E, E),
    ``k_proj_weight`` (E, kdim), ``v_proj_weight`` (E, vdim) when kdim/vdim differ from E),
    ``in_proj_bias`` (3E,) zeros, ``bias_k``/``bias_v`` (1, 1, E) xavier-normal with
    ``add_bias_kv``, and ``out_proj`` a Linear(E, E) with its bias zeroed.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, device=None, dtype=None):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"{_MHA}: embed_dim and num_heads must be positive, got embed_dim="
                             f"{embed_dim}, num_heads={num_heads}")
        if embed_dim % num_heads:
            raise ValueError(f"{_MHA}: embed_dim must be divisible by num_heads, got embed_dim="
                             f"{embed_dim}, num_heads={num_heads}")
        self.embed_dim, self.num_heads, self.dropout = embed_dim, num_heads, dropout
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.batch_first, self.head_dim = batch_first, embed_dim // num_heads
        self.add_zero_attn = add_zero_attn
        kw = {"device": device, "dtype": dtype}
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(creation.empty(3 * embed_dim, embed_dim, **kw))
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = Parameter(creation.empty(embed_dim, embed_dim, **kw))
            self.k_proj_weight = Parameter(creation.empty(embed_dim, self.kdim, **kw))
            self.v_proj_weight = Parameter(creation.empty(embed_dim, self.vdim, **kw))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(creation.empty(3 * embed_dim, **kw))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, **kw)
        if add_bias_kv:
            self.bias_k = Parameter(creation.empty(1, 1, embed_dim, **kw))
            self.bias_v = Parameter(creation.empty(1, 1, embed_dim, **kw))
        else:
            self.bias_k = self.bias_v = None
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        for b in (self.bias_k, self.bias_v):
            if b is not None:
                init.xavier_normal_(b)

    def _in_projection(self, query: Tensor, key: Tensor, value: Tensor):
        """q, k, v = query W_q^T + b_q, ...; one matmul when query, key and value are one
        tensor (self-attention), as torch."""
        E, b = self.embed_dim, self.in_proj_bias
        bq, bk, bv = (None, None, None) if b is None else (b[:E], b[E:2 * E], b[2 * E:])
        if not self._qkv_same_embed_dim:
            return (F.linear(query, self.q_proj_weight, bq), F.linear(key, self.k_proj_weight, bk),
                    F.linear(value, self.v_proj_weight, bv))
        w = self.in_proj_weight
        if query is key and key is value:
            qkv = F.linear(query, w, b)
            return qkv[..., :E], qkv[..., E:2 * E], qkv[..., 2 * E:]
        if key is value:
            kv = F.linear(key, w[E:], None if b is None else b[E:])
            return F.linear(query, w[:E], bq), kv[..., :E], kv[..., E:]
        return (F.linear(query, w[:E], bq), F.linear(key, w[E:2 * E], bk),
                F.linear(value, w[2 * E:], bv))

    def forward(self, query: Tensor, key: Tensor, value: Tensor,
                key_padding_mask: Tensor | None = None, need_weights: bool = True,
                attn_mask: Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
        """Attend from ``query`` to ``key``/``value``.

        E = embed_dim, L target and S source length, N batch, H = num_heads.

        Args:
            query: (L, N, E), (N, L, E) with ``batch_first``, or unbatched (L, E).
            key: (S, N, kdim), (N, S, kdim) with ``batch_first``, or unbatched (S, kdim).
            value: (S, N, vdim), (N, S, vdim) with ``batch_first``, or unbatched (S, vdim);
                query, key and value share one floating dtype.
            key_padding_mask: (N, S) (or (S,) unbatched); bool True (or a float -inf) marks a
                key to ignore; a float mask is added to the scores.
            need_weights: also return the attention weights (after dropout, as torch).
            attn_mask: (L, S) or (N * H, L, S) ((H, L, S) unbatched); bool True = not
                allowed, float = added. Merged with key_padding_mask by addition, as torch.
                A float mask (either one) must have query's dtype with ``need_weights``, and
                query's dtype or float32 without (torch's rules, both paths raise otherwise).
            average_attn_weights: average the returned weights over heads.
            is_causal: a hint that ``attn_mask`` is the causal mask; ``attn_mask`` is required
                (torch's rule). Without padding mask and weights the causal mask is applied
                in its place and ``attn_mask`` is not read, as torch.

        Returns:
            ``(attn_output, attn_weights)``: attn_output has query's shape (last dim E);
            attn_weights is (N, L, S) averaged over heads, or (N, H, L, S) with
            ``average_attn_weights=False`` (no N for unbatched input), or None without
            ``need_weights``.
        """
        batched = _shape_check(query, key, value, key_padding_mask, attn_mask, self.num_heads)
        kpm = _canonical_mask(key_padding_mask, "key_padding_mask", query)
        if is_causal and attn_mask is None:
            raise RuntimeError(f"{_MHA}: is_causal=True is only a hint and needs attn_mask; "
                               "build one with tl.nn.generate_square_subsequent_mask(L)")
        causal = is_causal and kpm is None and not need_weights
        mask = None if causal else _canonical_mask(attn_mask, "attn_mask", query)
        _check_mask_dtype(kpm, "key_padding_mask", query, need_weights)
        _check_mask_dtype(mask, "attn_mask", query, need_weights)
        bf = self.batch_first or not batched
        if not batched:  # a batch of one, batch-first: no transposes
            query, key, value = query.unsqueeze(0), key.unsqueeze(0), value.unsqueeze(0)
            kpm = None if kpm is None else kpm.unsqueeze(0)
        sd = 1 if bf else 0  # the sequence dim
        N, L, S = query.shape[1 - sd], query.shape[sd], key.shape[sd]
        self._check_sizes(query, key, value, N, S, sd)
        H, D = self.num_heads, self.head_dim
        if mask is not None:
            want = (L, S) if mask.ndim == 2 else (N * H, L, S)
            if tuple(mask.shape) != want:
                raise ShapeError(f"{_MHA}: expected the {mask.ndim}-D attn_mask to have shape "
                                 f"{want}, got {tuple(mask.shape)}")
        if kpm is not None and tuple(kpm.shape) != (N, S):
            raise ShapeError(f"{_MHA}: expected key_padding_mask of shape {(N, S)}"
                             f"{'' if batched else ' (unbatched: (S,))'}, got "
                             f"{tuple(key_padding_mask.shape)}")
        q, k, v = self._in_projection(query, key, value)
        extras = [(self.bias_k, self.bias_v)] if self.bias_k is not None else []
        extras += [(None, None)] if self.add_zero_attn else []
        for bias_k, bias_v in extras:  # add_bias_kv, then add_zero_attn: one more key each
            k = cat([k, self._extra_key(k, bias_k, sd)], sd)
            v = cat([v, self._extra_key(v, bias_v, sd)], sd)
            mask = None if mask is None else F.pad(mask, (0, 1))
            kpm = None if kpm is None else F.pad(kpm, (0, 1))
            S += 1
        merged = None if mask is None else mask.reshape(
            (1, 1, L, S) if mask.ndim == 2 else (N, H, L, S))
        if kpm is not None:
            kpm = kpm.reshape(N, 1, 1, S)
            merged = kpm if merged is None else merged + kpm
        # (N, H, T, D) views of the projections: the heads become a batch dim of the matmuls
        perm = (0, 2, 1, 3) if bf else (1, 2, 0, 3)
        q, k, v = (t.reshape(t.shape[:2] + (H, D)).permute(perm) for t in (q, k, v))
        p = self.dropout if self.training else 0.0
        weights = None
        if need_weights:
            scores = (q * math.sqrt(1.0 / D)) @ k.mT
            if merged is not None:
                scores = scores + merged
            weights = F.dropout(F.softmax(scores, dim=-1), p) if p > 0 else \
                F.softmax(scores, dim=-1)
            out = weights @ v
            if average_attn_weights:
                weights = weights.mean(1)
            if not batched:
                weights = weights.squeeze(0)
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=merged, dropout_p=p,
                                                 is_causal=causal)
        out = out.permute((0, 2, 1, 3) if bf else (2, 0, 1, 3))
        out = self.out_proj(out.reshape(out.shape[:2] + (self.embed_dim,)))
        return (out if batched else out.squeeze(0)), weights

    def _extra_key(self, t: Tensor, bias: Tensor | None, sd: int) -> Tensor:
        """The appended key/value: bias_k/bias_v, or zeros; (N, 1, E) or (1, N, E)."""
        shape = (t.shape[0], 1, t.shape[2]) if sd == 1 else (1, t.shape[1], t.shape[2])
        if bias is None:
            return creation.zeros(*shape, dtype=t.dtype, device=t.device)
        return bias.reshape(1, 1, -1).expand(shape)

    def _check_sizes(self, query, key, value, N: int, S: int, sd: int) -> None:
        shapes = (f"query {tuple(query.shape)}, key {tuple(key.shape)}, value "
                  f"{tuple(value.shape)}")
        if query.shape[-1] != self.embed_dim or key.shape[-1] != self.kdim or \
                value.shape[-1] != self.vdim:
            raise ShapeError(f"{_MHA}: expected last dims (embed_dim {self.embed_dim}, kdim "
                             f"{self.kdim}, vdim {self.vdim}), got {shapes}")
        if key.shape[:2] != value.shape[:2] or key.shape[1 - sd] != N:
            raise ShapeError(f"{_MHA}: key and value must share the sequence and batch dims "
                             f"and the batch must match query's, got {shapes}")
        if not query.dtype is key.dtype is value.dtype:
            raise DTypeError(f"{_MHA}: expected query, key and value of one dtype, got "
                             f"{query.dtype.name}, {key.dtype.name}, {value.dtype.name}")

    def extra_repr(self) -> str:
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}"
                f", batch_first={self.batch_first}")


def _activation(activation) -> Callable[[Tensor], Tensor]:
    if activation == "relu":
        return F.relu
    if activation == "gelu":
        return F.gelu
    if isinstance(activation, str) or not callable(activation):
        raise ValueError(f"TransformerEncoderLayer: activation should be 'relu', 'gelu' or a "
                         f"callable, got {activation!r}")
    return activation


class TransformerEncoderLayer(Module):
    """Self-attention and a feed-forward block, each with a residual and LayerNorm (torch's
    post-norm default, or pre-norm with ``norm_first``). Shapes: src (S, N, E), (N, S, E) with
    ``batch_first``, or unbatched (S, E); the output has src's shape.

    Submodules (torch's names): self_attn, linear1 (E -> dim_feedforward), dropout, linear2,
    norm1, norm2, dropout1, dropout2.
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: str | Callable = "relu",
                 layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device=None, dtype=None):
        super().__init__()
        kw = {"device": device, "dtype": dtype}
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, **kw)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **kw)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **kw)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _activation(activation)

    def forward(self, src: Tensor, src_mask: Tensor | None = None,
                src_key_padding_mask: Tensor | None = None, is_causal: bool = False) -> Tensor:
        """Self-attention and feed-forward blocks over ``src``.

        Args:
            src: (S, N, E), (N, S, E) with ``batch_first``, or unbatched (S, E).
            src_mask: None, (S, S) or (N * nhead, S, S); MultiheadAttention's attn_mask
                (bool True = not allowed, float = added to the scores).
            src_key_padding_mask: None, (N, S) or unbatched (S,); MultiheadAttention's
                key_padding_mask (bool True = padding).
            is_causal: a hint that ``src_mask`` is the causal mask (then it is required).

        Returns:
            A tensor of ``src``'s shape and dtype.
        """
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._ff_block(self.norm2(x))
        x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._ff_block(x))

    def _sa_block(self, x: Tensor, mask, kpm, is_causal: bool) -> Tensor:
        x = self.self_attn(x, x, x, attn_mask=mask, key_padding_mask=kpm, need_weights=False,
                           is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x: Tensor) -> Tensor:
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))


def _is_causal_mask(mask: Tensor | None, is_causal: bool | None, size: int) -> bool:
    """torch's rule: an explicit hint wins; with None, a mask equal to the causal one is."""
    if is_causal is not None or mask is None:
        return bool(is_causal)
    if tuple(mask.shape) != (size, size):
        return False
    xp = mask.device.xp
    above = xp.triu(xp.ones((size, size), dtype=bool), k=1)
    if mask.dtype is dtypes.bool_:
        return bool((mask._data == above).all())
    return bool((mask._data == xp.where(above, -xp.inf, 0.0)).all())


class TransformerEncoder(Module):
    """``num_layers`` deep copies of ``encoder_layer`` (``layers.0``, ``layers.1``, ...) and an
    optional final ``norm``. Shapes as TransformerEncoderLayer.

    ``enable_nested_tensor`` and ``mask_check`` are accepted for torch compatibility; there is
    no nested-tensor fast path (padded positions hold computed values, not torch's zeros).
    """

    def __init__(self, encoder_layer: TransformerEncoderLayer, num_layers: int,
                 norm: Module | None = None, enable_nested_tensor: bool = True,
                 mask_check: bool = True):
        super().__init__()
        if not isinstance(encoder_layer, Module):
            raise TypeError(f"TransformerEncoder: encoder_layer must be a Module, got "
                            f"{type(encoder_layer).__name__}")
        if num_layers < 0:
            raise ValueError(f"TransformerEncoder: num_layers must be >= 0, got {num_layers}")
        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.num_layers, self.norm = num_layers, norm
        self.enable_nested_tensor, self.mask_check = enable_nested_tensor, mask_check

    def forward(self, src: Tensor, mask: Tensor | None = None,
                src_key_padding_mask: Tensor | None = None,
                is_causal: bool | None = None) -> Tensor:
        """``mask`` (S, S) or (N * nhead, S, S), ``src_key_padding_mask`` (N, S); with
        ``is_causal=None`` a mask equal to the causal mask is detected, as torch."""
        first = self.layers[0] if len(self.layers) else None
        bf = first is not None and first.self_attn.batch_first and src.ndim == 3
        seq_len = src.shape[1 if bf else 0] if src.ndim >= 2 else None
        causal = _is_causal_mask(mask, is_causal, seq_len)
        out = src
        for layer in self.layers:
            out = layer(out, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                        is_causal=causal)
        return self.norm(out) if self.norm is not None else out
