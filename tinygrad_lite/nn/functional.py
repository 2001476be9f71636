"""``tl.nn.functional``: composite ops built from primitives (DESIGN.md §3).

Activations, dropout and normalisation are short compositions of Tensor ops (so they
differentiate twice); softmax/log_softmax and linear are single fused primitives
(``ops/fused.py``, ``ops/linalg.py``); the losses live in ``losses.py`` and are re-exported here.
"""

from __future__ import annotations

import math
from typing import Sequence

from .. import dtypes
from ..autograd import no_grad
from ..errors import DTypeError, ShapeError, normalize_dim
from ..ops.elementwise import where
from ..ops.fused import LogSoftmax, Softmax
from ..ops.conv import conv1d, conv2d  # noqa: F401  (F.conv1d, F.conv2d)
from ..ops.linalg import linear  # noqa: F401  (F.linear)
from ..ops.movement import pad  # noqa: F401  (F.pad)
from ..ops.pool import (adaptive_avg_pool1d, adaptive_avg_pool2d,  # noqa: F401
                        avg_pool1d, avg_pool2d, max_pool1d, max_pool2d)
from ..tensor import Tensor


def _float_input(x: Tensor, op: str) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    if x.dtype.category != 2:
        raise DTypeError(f"{op}: expected a floating tensor, got {x.dtype.name}")


# ---- activations -----------------------------------------------------------------------------
def _maybe_inplace(input: Tensor, inplace: bool, op: str, fn) -> Tensor:
    """``fn(input)``, or with ``inplace`` written into ``input``'s memory and ``input`` returned
    (torch's ``inplace=True``): the version counter is bumped and autograd rebases ``input`` onto
    the new node, so a leaf that requires grad, or a value saved for backward, raises as in
    torch."""
    return input._inplace(op, fn) if inplace else fn(input)


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0); the gradient at 0 is 0 (torch's rule). ``inplace`` overwrites ``input``."""
    return _maybe_inplace(input, inplace, "relu_", Tensor.relu)


def sigmoid(input: Tensor) -> Tensor:
    return input.sigmoid()


def tanh(input: Tensor) -> Tensor:
    return input.tanh()


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x for x > 0, negative_slope * x otherwise. ``inplace`` overwrites ``input``."""
    _float_input(input, "leaky_relu")
    return _maybe_inplace(input, inplace, "leaky_relu_",
                          lambda x: where(x > 0, x, x * negative_slope))


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x * sigmoid(x) (a.k.a. swish). ``inplace`` overwrites ``input``."""
    _float_input(input, "silu")
    return _maybe_inplace(input, inplace, "silu_", lambda x: x * x.sigmoid())


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x for x > 0, alpha * (exp(x) - 1) otherwise (exp only sees x <= 0: no overflow).
    ``inplace`` overwrites ``input``."""
    _float_input(input, "elu")
    return _maybe_inplace(input, inplace, "elu_",
                          lambda x: where(x > 0, x, x.clamp(max=0).expm1() * alpha))


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (torch's rule)."""
    _float_input(input, "softplus")
    bx = input * beta
    safe = bx.clamp(max=threshold)
    return where(bx > threshold, input, (safe.exp().log1p()) / beta)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x); ``approximate="tanh"`` uses the tanh formula of Hendrycks & Gimpel."""
    _float_input(input, "gelu")
    if approximate == "tanh":
        inner = (input + input * input * input * 0.044715) * math.sqrt(2.0 / math.pi)
        return input * 0.5 * (inner.tanh() + 1)
    if approximate != "none":
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return input * 0.5 * ((input * (1.0 / math.sqrt(2.0))).erf() + 1)


def _softmax_dim(x: Tensor, dim, op: str) -> int:
    if dim is None:  # torch's legacy implicit choice
        dim = 0 if x.ndim in (0, 1, 3) else 1
    # a 0-d tensor accepts dim 0 and -1, as torch
    return normalize_dim(dim, max(x.ndim, 1), op)


def _softmax_prep(x: Tensor, dim, dtype, op: str):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    if dtype is not None:
        x = x.to(dtypes.to_dtype(dtype, op))
    if x.dtype.category != 2:
        raise DTypeError(f"{op}: expected a floating tensor (or dtype=), got {x.dtype.name}")
    return x, _softmax_dim(x, dim, op)


def softmax(input: Tensor, dim: int | None = None, dtype=None) -> Tensor:
    """exp(x) / sum(exp(x), dim), computed around the max (one node)."""
    x, d = _softmax_prep(input, dim, dtype, "softmax")
    if x.ndim == 0:
        return Softmax.apply(x.reshape(1), dim=0).reshape(())
    return Softmax.apply(x, dim=d)


def log_softmax(input: Tensor, dim: int | None = None, dtype=None) -> Tensor:
    """x - logsumexp(x, dim), stable for large |x| (one node)."""
    x, d = _softmax_prep(input, dim, dtype, "log_softmax")
    if x.ndim == 0:
        return LogSoftmax.apply(x.reshape(1), dim=0).reshape(())
    return LogSoftmax.apply(x, dim=d)


# ---- regularisation and normalisation ---------------------------------------------------------
def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability p and scale the rest by 1 / (1 - p) (training only).
    ``inplace`` writes the result into ``input``; outside training ``input`` itself is returned
    (any dtype, as torch)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: probability has to be between 0 and 1, but got {p}")
    if not training:
        return input
    _float_input(input, "dropout")
    if p == 0.0:
        return input
    if p == 1.0:
        return _maybe_inplace(input, inplace, "dropout_", lambda x: x * 0.0)
    dev = input.device
    keep = dev.generator.random(input.shape, dtype=dev.xp.float32) >= p
    mask = keep.astype(input._data.dtype) * input._data.dtype.type(1.0 / (1.0 - p))
    return _maybe_inplace(input, inplace, "dropout_", lambda x: x * Tensor._make(mask, dev))


def _check_channels(name: str, t: Tensor | None, c: int, op: str) -> None:
    if t is not None and tuple(t.shape) != (c,):
        raise ShapeError(f"{op}: {name} should have shape ({c},), got {tuple(t.shape)}")


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
               momentum: float | None = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise over the batch (and spatial) dims per channel. Shapes: input (N, C, *).

    In training, batch statistics normalise and the running estimates are updated in place
    (the running variance with the unbiased estimate, as torch); otherwise the running
    estimates normalise. ``momentum=None`` means a cumulative average (the caller passes
    ``1 / num_batches_tracked``).
    """
    _float_input(input, "batch_norm")
    if input.ndim < 2:
        raise ShapeError(f"batch_norm: expected input of shape (N, C, *), got "
                         f"{tuple(input.shape)}")
    c = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        _check_channels(name, t, c, "batch_norm")
    dims = (0,) + tuple(range(2, input.ndim))
    bshape = (1, c) + (1,) * (input.ndim - 2)
    if training:
        n = input.numel() // max(c, 1)
        if n <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when "
                             f"training, got input size {tuple(input.shape)}")
        mean = input.mean(dims)
        var = input.var(dims, correction=0)
        if running_mean is not None or running_var is not None:
            m = 0.1 if momentum is None else momentum
            with no_grad():
                if running_mean is not None:
                    _blend(running_mean, mean.detach(), m)
                if running_var is not None:
                    _blend(running_var, var.detach() * (n / (n - 1)), m)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: running_mean and running_var are needed in eval mode")
        mean, var = running_mean, running_var
    out = (input - mean.reshape(bshape)) * (var.reshape(bshape) + eps).rsqrt()
    if weight is not None:
        out = out * weight.reshape(bshape)
    if bias is not None:
        out = out + bias.reshape(bshape)
    return out


def _blend(running: Tensor, value: Tensor, momentum: float) -> None:
    """running = (1 - momentum) * running + momentum * value, in place."""
    data = running._data
    data *= 1 - momentum
    data += (value._data * momentum).astype(data.dtype, copy=False)
    running._vc[0] += 1


def layer_norm(input: Tensor, normalized_shape: int | Sequence[int], weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise over the trailing ``normalized_shape`` dims. Shapes: input (*, *normalized)."""
    _float_input(input, "layer_norm")
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if k == 0 or tuple(input.shape[input.ndim - k:]) != shape or input.ndim < k:
        raise ShapeError(f"layer_norm: input shape {tuple(input.shape)} does not end with "
                         f"normalized_shape {shape}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != shape:
            raise ShapeError(f"layer_norm: {name} should have shape {shape}, got "
                             f"{tuple(t.shape)}")
    dims = tuple(range(input.ndim - k, input.ndim))
    mean = input.mean(dims, keepdim=True)
    centered = input - mean
    var = (centered * centered).mean(dims, keepdim=True)
    out = centered * (var + eps).rsqrt()
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot encoding with a new last dim of size ``num_classes`` (inferred if -1)."""
    if tensor.dtype is not dtypes.int64:
        raise DTypeError(f"one_hot: expected an int64 tensor, got {tensor.dtype.name}")
    xp = tensor.device.xp
    data = tensor._data
    if num_classes == -1:
        if data.size == 0:
            raise ShapeError("one_hot: can not infer the number of classes of an empty tensor")
        num_classes = int(data.max()) + 1
    if data.size and (int(data.min()) < 0 or int(data.max()) >= num_classes):
        raise ValueError(f"one_hot: class values must be in [0, {num_classes}), got "
                         f"[{int(data.min())}, {int(data.max())}]")
    out = (data[..., None] == xp.arange(num_classes)).astype("int64")
    return Tensor._make(out, tensor.device)



from .losses import *  # noqa: E402,F401,F403  (cross_entropy, nll_loss, mse_loss, ...)
from .losses import __all__ as _loss_names  # noqa: E402

__all__ = ["linear", "pad", "one_hot", "relu", "sigmoid", "tanh", "leaky_relu", "silu", "elu",
           "softplus", "gelu", "softmax", "log_softmax", "dropout", "batch_norm", "layer_norm",
           "where"] + list(_loss_names)
__all__ += ["conv1d", "conv2d"]
__all__ += ["max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "max_pool1d", "avg_pool1d",
            "adaptive_avg_pool1d"]

from .attention import scaled_dot_product_attention  # noqa: E402,F401
from .embedding import embedding  # noqa: E402,F401

__all__ += ["scaled_dot_product_attention", "embedding"]
