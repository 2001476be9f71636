"""Fused optimiser updates: one pass over memory per parameter, in place.

Each kernel replays PyTorch's single-tensor update (``_single_tensor_adam``, ``_sgd`` and
``_rmsprop`` in ``torch.optim``) element by element, with the operations in the same order, so
float64 trajectories agree with torch's to rounding and float32 ones stay float32.
The hyperparameters arrive packed in ``h``, an array of the parameter's dtype: torch casts each
Python scalar to the tensor's dtype before using it, and packing does the same cast once (it
also keeps the kernels to one specialisation per dtype). ``error_model="numpy"``: a zero
denominator gives inf/nan as in torch (and lets LLVM vectorise the divisions).

Kernels take flat, C-contiguous arrays; :func:`adam_step`, :func:`sgd_step` and
:func:`rmsprop_step` are the entry points that flatten, check and pack (called from
``CPUDevice``), and return ``False`` when the arrays don't fit the kernels (another dtype,
non-contiguous storage) so the caller can fall back to the NumPy reference.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# Adam's packed scalars, in this order (see tinygrad_lite/optim/adam.py for how they're made):
# weight_decay, 1 - lr * weight_decay, 1 - beta1, beta2, 1 - beta2, sqrt(bias_correction2),
# eps, -lr / bias_correction1, and 1 (for lerp's large-weight form)
WD, DECAY, W1, BETA2, OMB2, BC2_SQRT, EPS, NEG_STEP, ONE = range(9)
NO_DECAY, L2_DECAY, DECOUPLED_DECAY = 0, 1, 2


@njit(cache=True, error_model="numpy")
def adam_update(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, h, maximize, decay_mode,
                amsgrad):  # pragma: no cover - compiled
    """Adam/AdamW step on flat arrays of one dtype (all (n,)); updates everything but grad."""
    wd, decay, w1, beta2, omb2 = h[WD], h[DECAY], h[W1], h[BETA2], h[OMB2]
    bc2_sqrt, eps, neg_step, one = h[BC2_SQRT], h[EPS], h[NEG_STEP], h[ONE]
    w1_small = abs(w1) < 0.5  # torch's lerp switches formula at weight 0.5 for accuracy
    w1_rest = one - w1
    for i in range(param.shape[0]):
        g = grad[i]
        if maximize:
            g = -g
        p = param[i]
        if decay_mode == DECOUPLED_DECAY:
            p = p * decay  # param.mul_(1 - lr * wd)
        elif decay_mode == L2_DECAY:
            g = g + wd * p  # grad.add(param, alpha=wd)
        m = exp_avg[i]
        if w1_small:  # exp_avg.lerp_(grad, 1 - beta1)
            m = m + w1 * (g - m)
        else:
            m = g - (g - m) * w1_rest
        exp_avg[i] = m
        v = exp_avg_sq[i] * beta2 + omb2 * g * g  # mul_(beta2).addcmul_(g, g, value=1 - beta2)
        exp_avg_sq[i] = v
        if amsgrad:
            vmax = max_exp_avg_sq[i]
            if v > vmax or v != v:  # torch.maximum propagates NaN
                vmax = v
            max_exp_avg_sq[i] = vmax
            v = vmax
        denom = math.sqrt(v) / bc2_sqrt + eps
        param[i] = p + neg_step * m / denom  # param.addcdiv_(exp_avg, denom, value=-step_size)


# SGD's packed scalars: weight_decay, momentum, 1 - dampening, -lr
S_WD, S_MOMENTUM, S_OMD, S_NEG_LR = range(4)


@njit(cache=True, error_model="numpy")
def sgd_update(param, grad, buf, h, maximize, has_decay, has_momentum, first,
               nesterov):  # pragma: no cover - compiled
    """SGD step on flat arrays of one dtype; ``buf`` (the momentum buffer) is written on the
    first step (``first``: torch clones the gradient into it) and updated after."""
    wd, momentum, omd, neg_lr = h[S_WD], h[S_MOMENTUM], h[S_OMD], h[S_NEG_LR]
    for i in range(param.shape[0]):
        g = grad[i]
        if maximize:
            g = -g
        p = param[i]
        if has_decay:
            g = g + wd * p  # grad.add(param, alpha=wd)
        if has_momentum:
            if first:
                b = g
            else:
                b = buf[i] * momentum + omd * g  # buf.mul_(momentum).add_(g, alpha=1 - damp)
            buf[i] = b
            if nesterov:
                g = g + momentum * b  # grad.add(buf, alpha=momentum)
            else:
                g = b
        param[i] = p + neg_lr * g  # param.add_(grad, alpha=-lr)


# RMSprop's packed scalars: weight_decay, alpha, 1 - alpha, eps, momentum, -lr, and 1
R_WD, R_ALPHA, R_OMA, R_EPS, R_MOMENTUM, R_NEG_LR, R_ONE = range(7)


@njit(cache=True, error_model="numpy")
def rmsprop_update(param, grad, square_avg, grad_avg, buf, h, maximize, has_decay, centered,
                   has_momentum):  # pragma: no cover - compiled
    """RMSprop step on flat arrays of one dtype (torch's ``_single_tensor_rmsprop``);
    ``grad_avg`` is used when ``centered``, ``buf`` when ``has_momentum``."""
    wd, alpha, oma, eps = h[R_WD], h[R_ALPHA], h[R_OMA], h[R_EPS]
    momentum, neg_lr, one = h[R_MOMENTUM], h[R_NEG_LR], h[R_ONE]
    oma_small = abs(oma) < 0.5
    oma_rest = one - oma
    for i in range(param.shape[0]):
        g = grad[i]
        if maximize:
            g = -g
        p = param[i]
        if has_decay:
            g = g + wd * p  # grad.add(param, alpha=wd)
        v = square_avg[i] * alpha + oma * g * g  # mul_(alpha).addcmul_(g, g, value=1 - alpha)
        square_avg[i] = v
        if centered:
            m = grad_avg[i]
            if oma_small:  # grad_avg.lerp_(grad, 1 - alpha)
                m = m + oma * (g - m)
            else:
                m = g - (g - m) * oma_rest
            grad_avg[i] = m
            avg = math.sqrt(v + (-m) * m) + eps  # addcmul(m, m, value=-1).sqrt_().add_(eps)
        else:
            avg = math.sqrt(v) + eps
        if has_momentum:
            b = buf[i] * momentum + g / avg  # buf.mul_(momentum).addcdiv_(grad, avg)
            buf[i] = b
            param[i] = p + neg_lr * b  # param.add_(buf, alpha=-lr)
        else:
            param[i] = p + neg_lr * g / avg  # param.addcdiv_(grad, avg, value=-lr)


_KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _flat(array: np.ndarray) -> np.ndarray | None:
    """A 1-d view of a C-contiguous array of a kernel dtype, else None."""
    if array.dtype not in _KERNEL_DTYPES or not array.flags.c_contiguous:
        return None
    return array.reshape(-1)


def adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, scalars, maximize: bool,
              decay_mode: int, amsgrad: bool) -> bool:
    """Run :func:`adam_update` in place on the arrays; False if they don't fit the kernel.

    Args:
        param, exp_avg, exp_avg_sq: arrays of one shape and dtype, updated in place.
        grad: the gradient (same shape; copied only if not contiguous).
        max_exp_avg_sq: the amsgrad buffer, or None.
        scalars: the 8 Python floats described at ``WD .. NEG_STEP``.
    """
    p, m, v = _flat(param), _flat(exp_avg), _flat(exp_avg_sq)
    vmax = v if max_exp_avg_sq is None else _flat(max_exp_avg_sq)
    if p is None or m is None or v is None or vmax is None or not \
            (param.dtype == exp_avg.dtype == exp_avg_sq.dtype == vmax.dtype == grad.dtype):
        return False
    g = np.ascontiguousarray(grad).reshape(-1)
    h = np.array(scalars + (1.0,), dtype=param.dtype)
    # bool()/int(): one specialisation per dtype, whatever truthy values the user passed
    adam_update(p, g, m, v, vmax, h, bool(maximize), int(decay_mode), bool(amsgrad))
    return True


def sgd_step(param, grad, momentum_buffer, scalars, maximize: bool, has_decay: bool,
             first: bool, nesterov: bool) -> bool:
    """Run :func:`sgd_update` in place; ``momentum_buffer`` None means no momentum. False if
    the arrays don't fit the kernel."""
    p = _flat(param)
    b = p if momentum_buffer is None else _flat(momentum_buffer)
    if p is None or b is None or not (param.dtype == b.dtype == grad.dtype):
        return False
    g = np.ascontiguousarray(grad).reshape(-1)
    h = np.array(scalars, dtype=param.dtype)
    sgd_update(p, g, b, h, bool(maximize), bool(has_decay), momentum_buffer is not None,
               bool(first), bool(nesterov))
    return True


def rmsprop_step(param, grad, square_avg, grad_avg, momentum_buffer, scalars,
                 maximize: bool) -> bool:
    """Run :func:`rmsprop_update` in place (``grad_avg`` / ``momentum_buffer`` None when not
    centred / without momentum); False if the arrays don't fit the kernel."""
    p, v = _flat(param), _flat(square_avg)
    m = v if grad_avg is None else _flat(grad_avg)
    b = v if momentum_buffer is None else _flat(momentum_buffer)
    if p is None or v is None or m is None or b is None or not \
            (param.dtype == v.dtype == m.dtype == b.dtype == grad.dtype):
        return False
    g = np.ascontiguousarray(grad).reshape(-1)
    h = np.array(scalars + (1.0,), dtype=param.dtype)
    rmsprop_update(p, g, v, m, b, h, bool(maximize), scalars[0] != 0, grad_avg is not None,
                   momentum_buffer is not None)
    return True
