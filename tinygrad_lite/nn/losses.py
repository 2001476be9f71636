"""Loss functions (``F.cross_entropy``, ``F.nll_loss``, ``F.mse_loss``, ...) with torch's semantics.

Cross-entropy with class-index targets is one fused primitive: the device kernel computes each
row's max, log-sum-exp and (smoothed, weighted) loss in one call, and its backward writes
``scale * (softmax - smoothed one-hot)`` in one more. Inputs (N, C, d1, ...) are moved to
(M, C) rows first. The other losses are composites of Tensor ops (or small primitives whose
backward is written with Tensor ops), so they differentiate twice.
"""

from __future__ import annotations

import math
import warnings

from .. import autograd, dtypes
from ..autograd import Primitive
from ..errors import DTypeError, ShapeError
from ..ops._base import broadcast_shape
from ..ops.elementwise import where
from ..ops.fused import LogSoftmax
from ..ops.indexing import IndexOutOfRange
from ..tensor import Tensor

__all__ = ["binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy",
           "l1_loss", "mse_loss", "nll_loss"]

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction: str, op: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: {reduction!r} is not a valid value for reduction "
                         f"(expected 'mean', 'sum' or 'none')")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss


def _check_float(t: Tensor, op: str, what: str = "input") -> None:
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: {what} must be a Tensor, got {type(t).__name__}")
    if t.dtype.category != 2:
        raise DTypeError(f"{op}: expected a floating-point {what}, got {t.dtype.name}")


def _constant(array, like: Tensor) -> Tensor:
    return Tensor._make(array, like._device)


def _class_weight(weight: Tensor | None, n_cls: int, like: Tensor, op: str):
    """``weight`` as a (C,) array of ``like``'s dtype (None stays None)."""
    if weight is None:
        return None
    if not isinstance(weight, Tensor):
        raise TypeError(f"{op}: weight must be a Tensor, got {type(weight).__name__}")
    if weight.shape != (n_cls,):
        raise ShapeError(f"{op}: weight must have shape ({n_cls},), one value per class, got "
                         f"{tuple(weight.shape)}")
    if weight._requires_grad and autograd._mode.enabled:
        raise RuntimeError(f"{op}: not differentiable with respect to weight (as in torch); "
                           f"pass weight.detach()")
    data = weight._data
    return data if data.dtype == like._data.dtype else data.astype(like._data.dtype)


def _class_rows(input: Tensor, target: Tensor, op: str):
    """Class-index targets: the (M, C) rows of ``input`` (class dim last), the (M,) targets
    and the shape of an unreduced loss."""
    if target.dtype is not dtypes.int64 and target.dtype is not dtypes.uint8:
        raise DTypeError(
            f"{op}: expected int64 (or uint8) class-index targets, or floating class "
            f"probabilities of the input's shape {tuple(input.shape)}; got {target.dtype.name} "
            f"of shape {tuple(target.shape)}")
    if target._device is not input._device:
        raise RuntimeError(f"{op}: expected input and target on the same device, got "
                           f"{input.device} and {target.device}")
    shape = input.shape
    if len(shape) == 1:
        expected = ()
    else:
        if target.ndim == 0 or target.shape[0] != shape[0]:
            raise ShapeError(f"{op}: expected input batch_size ({shape[0]}) to match target "
                             f"batch_size ({target.shape[0] if target.ndim else 'a 0-d target'})")
        expected = (shape[0],) + tuple(shape[2:])
    if target.shape != expected:
        raise ShapeError(f"{op}: expected target of shape {expected} for input of shape "
                         f"{tuple(shape)} (classes on dim {min(1, len(shape) - 1)}), got "
                         f"{tuple(target.shape)}")
    n_cls = shape[-1] if len(shape) == 1 else shape[1]
    if len(shape) == 1:
        rows = input.reshape(1, n_cls)
    elif len(shape) == 2:
        rows = input
    else:  # (N, C, d...) -> (N, d..., C) -> (M, C): one transpose and one copy
        rows = input.permute(0, *range(2, len(shape)), 1).reshape(-1, n_cls)
    t = target._data.reshape(-1)
    return rows, t if t.dtype == "int64" else t.astype("int64"), expected


def _bad_target(op: str, value: int, n_cls: int, ignore_index: int) -> IndexOutOfRange:
    return IndexOutOfRange(f"{op}: target {value} is out of bounds for {n_cls} classes "
                           f"(expected a class index in [0, {n_cls}) or "
                           f"ignore_index={ignore_index})")


class SoftmaxCrossEntropy(Primitive):
    """Fused ``nll(log_softmax(x))`` over (M, C) rows with label smoothing, class weights and
    ignore_index; output (M,) for ``reduction='none'``, else a scalar."""

    __slots__ = ("target", "weight", "ignore_index", "smoothing", "reduction", "kernel_state",
                 "weight_sum")
    saves_inputs = (0,)

    def forward(ctx, x, target, weight, ignore_index, smoothing, reduction):
        loss, saved, loss_sum, weight_sum, bad = \
            ctx.device.cross_entropy_forward(x, target, weight, ignore_index, smoothing)
        if bad >= 0:
            raise _bad_target("cross_entropy", int(target[bad]), x.shape[1], ignore_index)
        ctx.target, ctx.weight, ctx.ignore_index = target, weight, ignore_index
        ctx.smoothing, ctx.reduction, ctx.weight_sum = smoothing, reduction, weight_sum
        ctx.kernel_state = saved
        if reduction == "none":
            return loss
        if reduction == "mean":  # torch: mean over no weight at all (all ignored) is nan
            loss_sum = loss_sum / weight_sum if weight_sum else math.nan
        return ctx.device.xp.asarray(loss_sum, dtype=x.dtype)

    def backward(ctx, g):
        # a mean over zero total weight is nan; ignored rows still get zero gradients (torch)
        inv = (1.0 / ctx.weight_sum if ctx.weight_sum else math.nan) \
            if ctx.reduction == "mean" else None
        if autograd._mode.enabled:  # create_graph: Tensor ops, so the gradient differentiates
            return _graph_backward(ctx, g if inv is None else g * inv)
        grad_loss = g._data.reshape(-1)
        if inv is not None:
            grad_loss = grad_loss * inv
        grad = ctx.device.cross_entropy_backward(
            ctx.inputs[0]._data, ctx.target, ctx.weight, ctx.ignore_index, ctx.smoothing,
            ctx.kernel_state, grad_loss)
        return Tensor._make(grad, ctx.device)


def _graph_backward(ctx, g: Tensor) -> Tensor:
    """The kernel's gradient as Tensor ops of x and g (for double backward)."""
    x = ctx.inputs[0]
    xp = ctx.device.xp
    n_rows, n_cls = x.shape
    kept = ctx.target != ctx.ignore_index
    safe = xp.where(kept, ctx.target, 0)
    weight = xp.ones(n_cls, x.dtype.np) if ctx.weight is None else ctx.weight
    w_t = xp.where(kept, weight[safe], 0)
    keep, share = 1.0 - ctx.smoothing, ctx.smoothing / n_cls
    scale = (keep * w_t + share * weight.sum() * kept).astype(x.dtype.np)
    target_part = xp.zeros((n_rows, n_cls), x.dtype.np)
    target_part[xp.arange(n_rows), safe] = keep * w_t
    target_part += (share * weight) * kept[:, None]
    prob = LogSoftmax.apply(x, dim=1).exp()
    grad = prob * _constant(scale[:, None], x) - _constant(target_part, x)
    grad = grad * (g.reshape(-1, 1) if g.ndim else g)
    # ignored rows get exact zeros even where g is nan (the mean over no target at all)
    return grad if kept.all() else where(_constant(kept[:, None], x), grad, 0.0)


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                  ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy between logits and class indices or class probabilities (torch's).

    Args:
        input: logits of shape (C,), (N, C) or (N, C, d1, ...).
        target: int64 class indices of shape (), (N,) or (N, d1, ...) (``ignore_index`` marks
            entries that contribute nothing), or floating class probabilities of input's shape.
        weight: optional (C,) per-class weights (not differentiated for class indices, as torch).
        ignore_index: the class-index value to ignore (class-index targets only).
        reduction: ``'none'`` (per-sample losses of target's batch shape), ``'sum'`` or
            ``'mean'`` (class indices: divided by the summed weight of non-ignored targets, nan
            if none; probabilities: divided by the number of samples).
        label_smoothing: in [0, 1]; mixes the target with the uniform distribution over C.

    Returns:
        The loss: a scalar, or per sample for ``reduction='none'``.
    """
    if reduction not in _REDUCTIONS:
        _check_reduction(reduction, "cross_entropy")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be between 0.0 and 1.0, got "
                         f"{label_smoothing}")
    _check_float(input, "cross_entropy")
    if not isinstance(target, Tensor):
        raise TypeError(f"cross_entropy: target must be a Tensor, got {type(target).__name__}")
    if input.ndim == 0:
        raise ShapeError("cross_entropy: input must have shape (C,), (N, C) or (N, C, d1, ...), "
                         "got a 0-d tensor")
    n_cls = input.shape[0 if input.ndim == 1 else 1]
    if target.dtype.category == 2:
        if target.shape != input.shape:
            raise ShapeError(f"cross_entropy: floating (class-probability) targets must have "
                             f"the input's shape {tuple(input.shape)}, got "
                             f"{tuple(target.shape)}")
        return _probability_cross_entropy(input, target, weight, reduction, label_smoothing,
                                          n_cls)
    rows, t, out_shape = _class_rows(input, target, "cross_entropy")
    w = _class_weight(weight, n_cls, input, "cross_entropy")
    loss = SoftmaxCrossEntropy.apply(rows, target=t, weight=w, ignore_index=ignore_index,
                                     smoothing=float(label_smoothing), reduction=reduction)
    return loss.reshape(out_shape) if reduction == "none" and input.ndim != 2 else loss


def _probability_cross_entropy(input, target, weight, reduction, smoothing, n_cls):
    class_dim = 0 if input.ndim == 1 else 1
    if target.dtype is not input.dtype:
        target = target.to(input.dtype)
    if smoothing > 0:
        target = target * (1.0 - smoothing) + smoothing / n_cls
    prod = LogSoftmax.apply(input, dim=class_dim) * target
    if weight is not None:
        if not isinstance(weight, Tensor) or weight.shape != (n_cls,):
            raise ShapeError(f"cross_entropy: weight must have shape ({n_cls},), one value per "
                             f"class, got {tuple(getattr(weight, 'shape', ()))}")
        w = weight if weight.dtype is input.dtype else weight.to(input.dtype)
        prod = prod * w.reshape((n_cls,) + (1,) * (input.ndim - 2) if input.ndim > 1 else -1)
    if reduction == "none":
        return -prod.sum(class_dim)
    total = -prod.sum()
    if reduction == "sum":
        return total
    n_samples = input.numel() // n_cls if n_cls else 0
    return total / n_samples if n_samples else total * math.nan


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
             ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of class indices given log-probabilities (torch's ``nll_loss``).

    Args:
        input: log-probabilities (C,), (N, C) or (N, C, d1, ...).
        target: int64 class indices (), (N,) or (N, d1, ...).
        weight, ignore_index, reduction: as in :func:`cross_entropy`.

    Returns:
        ``-weight[t] * input[t]`` per sample, summed or averaged (weighted mean).
    """
    _check_reduction(reduction, "nll_loss")
    _check_float(input, "nll_loss")
    if not isinstance(target, Tensor):
        raise TypeError(f"nll_loss: target must be a Tensor, got {type(target).__name__}")
    if input.ndim == 0:
        raise ShapeError("nll_loss: input must have shape (C,), (N, C) or (N, C, d1, ...), got "
                         "a 0-d tensor")
    rows, t, out_shape = _class_rows(input, target, "nll_loss")
    n_cls = rows.shape[1]
    w = _class_weight(weight, n_cls, input, "nll_loss")
    xp = input.device.xp
    kept = t != ignore_index
    bad = xp.nonzero(kept & ((t < 0) | (t >= n_cls)))[0]
    if bad.size:
        raise _bad_target("nll_loss", int(t[int(bad[0])]), n_cls, ignore_index)
    safe = xp.where(kept, t, 0)
    w_t = xp.where(kept, 1 if w is None else w[safe], 0).astype(input.dtype.np)
    picked = rows.gather(1, _constant(safe[:, None], input)).reshape(-1)
    loss = picked * _constant(-w_t, input)
    if reduction == "none":
        return loss.reshape(out_shape)
    total = loss.sum()
    if reduction == "sum":
        return total
    weight_sum = float(w_t.sum())
    if not weight_sum:  # torch: 0/0 = nan, but ignored targets still get zero gradients
        return total + _constant(xp.asarray(math.nan, dtype=input.dtype.np), input)
    return total / weight_sum


def _pointwise_operands(input, target, op: str):
    """Check a pointwise loss's operands; broadcasting different shapes warns like torch."""
    if not isinstance(input, Tensor) or not isinstance(target, Tensor):
        raise TypeError(f"{op}: input and target must be Tensors, got {type(input).__name__} "
                        f"and {type(target).__name__}")
    if input.dtype.category != 2 and target.dtype.category != 2:
        raise DTypeError(f"{op}: expected floating-point input or target, got "
                         f"{input.dtype.name} and {target.dtype.name}")
    if input.shape != target.shape:
        broadcast_shape(input.shape, target.shape, op=op)
        warnings.warn(f"{op}: using a target size {tuple(target.shape)} that is different to "
                      f"the input size {tuple(input.shape)}; this will likely lead to incorrect "
                      f"results due to broadcasting. Please ensure they have the same size.",
                      UserWarning, stacklevel=3)


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Mean squared error ``(input - target)**2``, reduced; shapes broadcast (with a warning)."""
    _check_reduction(reduction, "mse_loss")
    _pointwise_operands(input, target, "mse_loss")
    return _reduce((input - target).square(), reduction)


def l1_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Mean absolute error ``|input - target|``, reduced; shapes broadcast (with a warning)."""
    _check_reduction(reduction, "l1_loss")
    _pointwise_operands(input, target, "l1_loss")
    return _reduce((input - target).abs(), reduction)


def _same_shape_target(input: Tensor, target: Tensor, op: str) -> Tensor:
    _check_float(input, op)
    if not isinstance(target, Tensor):
        raise TypeError(f"{op}: target must be a Tensor, got {type(target).__name__}")
    if target.shape != input.shape:
        raise ShapeError(f"{op}: target size {tuple(target.shape)} must be the same as input "
                         f"size {tuple(input.shape)}")
    return target if target.dtype is input.dtype else target.to(input.dtype)


def _weighted(loss: Tensor, weight: Tensor | None, op: str) -> Tensor:
    if weight is None:
        return loss
    if not isinstance(weight, Tensor):
        raise TypeError(f"{op}: weight must be a Tensor, got {type(weight).__name__}")
    if broadcast_shape(loss.shape, weight.shape, op=op) != loss.shape:
        raise ShapeError(f"{op}: weight of shape {tuple(weight.shape)} does not broadcast to "
                         f"the input's shape {tuple(loss.shape)}")
    return loss * (weight if weight.dtype is loss.dtype else weight.to(loss.dtype))


class BinaryCrossEntropy(Primitive):
    """``-(t log x + (1 - t) log(1 - x))`` with each log clamped at -100 (torch)."""

    saves_inputs = (0, 1)

    def forward(ctx, x, t):
        xp = ctx.device.xp
        with ctx.device.quiet():
            return (t - 1) * xp.maximum(xp.log1p(-x), -100) - t * xp.maximum(xp.log(x), -100)

    def backward(ctx, g):
        x, t = ctx.inputs
        need_x, need_t = ctx.needs_input_grad
        # torch's rule: the denominator x(1 - x) is kept >= 1e-12, so 0 and 1 stay finite
        gx = g * (x - t) / (x * (1 - x)).clamp(min=1e-12) if need_x else None
        gt = g * ((-x).log1p() - x.log()) if need_t else None
        return gx, gt


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         reduction: str = "mean") -> Tensor:
    """Binary cross-entropy between probabilities ``input`` in [0, 1] and ``target``.

    Args:
        input: probabilities, any shape; values outside [0, 1] raise ValueError.
        target: same shape as input.
        weight: optional rescaling weight broadcastable to input's shape.
        reduction: ``'none'``, ``'mean'`` or ``'sum'``.
    """
    _check_reduction(reduction, "binary_cross_entropy")
    target = _same_shape_target(input, target, "binary_cross_entropy")
    x = input._data
    if x.size and not bool(((x >= 0) & (x <= 1)).all()):
        raise ShapeError(f"binary_cross_entropy: all elements of input should be between 0 and "
                         f"1, got values in [{float(x.min())}, {float(x.max())}]")
    loss = BinaryCrossEntropy.apply(input, target)
    return _reduce(_weighted(loss, weight, "binary_cross_entropy"), reduction)


def _softplus_neg(x: Tensor) -> Tensor:
    """``log(1 + exp(-x))`` without overflow, as Tensor ops."""
    return (-x).relu() + (-x.abs()).exp().log1p()


class BinaryCrossEntropyWithLogits(Primitive):
    """``(1 - t) x + lw * log(1 + exp(-x))`` (lw: the pos_weight factor, 1 if absent)."""

    saves_inputs = (0, 1)

    def forward(ctx, x, t, lw=None):
        xp = ctx.device.xp
        softplus_neg = xp.log1p(xp.exp(-xp.abs(x))) + xp.maximum(-x, 0)
        return (1 - t) * x + (softplus_neg if lw is None else lw * softplus_neg)

    def backward(ctx, g):
        x, t = ctx.inputs[:2]
        lw = ctx.inputs[2] if len(ctx.inputs) == 3 else None
        needs = ctx.needs_input_grad
        sig_neg = (-x).sigmoid()
        gx = g * ((1 - t) - (sig_neg if lw is None else lw * sig_neg)) if needs[0] else None
        gt = -g * x if needs[1] else None
        if lw is None:
            return gx, gt
        return gx, gt, g * _softplus_neg(x) if needs[2] else None


class _BCEWithLogitsWeighted(BinaryCrossEntropyWithLogits):
    saves_inputs = (0, 1, 2)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor,
                                     weight: Tensor | None = None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """Sigmoid + binary cross-entropy in one numerically stable expression (finite at ±1e4).

    Args:
        input: logits, any shape.
        target: same shape as input, values usually in [0, 1].
        weight: optional rescaling weight broadcastable to input's shape.
        reduction: ``'none'``, ``'mean'`` or ``'sum'``.
        pos_weight: optional weight of positive examples, broadcast against target (e.g. (C,)
            for targets (N, C)).
    """
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    op = "binary_cross_entropy_with_logits"
    if isinstance(target, Tensor) and target.dtype.category == 2 and isinstance(input, Tensor) \
            and input.dtype.category == 2 and target.dtype is not input.dtype:
        # torch accumulates the loss in place into ``1 - target``: the result has the target's
        # dtype (float32 logits with float64 targets give a float64 loss, and the reverse)
        input = input.to(target.dtype)
    target = _same_shape_target(input, target, op)
    if pos_weight is None:
        loss = BinaryCrossEntropyWithLogits.apply(input, target)
    else:
        if not isinstance(pos_weight, Tensor):
            raise TypeError(f"{op}: pos_weight must be a Tensor, got {type(pos_weight).__name__}")
        if broadcast_shape(target.shape, pos_weight.shape, op=op) != target.shape:
            raise ShapeError(f"{op}: pos_weight of shape {tuple(pos_weight.shape)} does not "
                             f"broadcast to the target's shape {tuple(target.shape)}")
        pw = pos_weight if pos_weight.dtype is input.dtype else pos_weight.to(input.dtype)
        log_weight = (pw - 1) * target + 1
        loss = _BCEWithLogitsWeighted.apply(input, target, log_weight)
    return _reduce(_weighted(loss, weight, op), reduction)
