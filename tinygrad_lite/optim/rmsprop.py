"""RMSprop (Hinton's lecture 6e; torch's variant with momentum and centring).

Per parameter and step, with ``g`` the gradient (negated when ``maximize``)::

    g += weight_decay * p
    v = alpha * v + (1 - alpha) * g * g
    centered:  m = lerp(m, g, 1 - alpha);  avg = sqrt(v - m * m) + eps   else avg = sqrt(v) + eps
    momentum:  buf = momentum * buf + g / avg;  p -= lr * buf            else p -= lr * g / avg
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..device import CPU
from ..tensor import Tensor
from .adam import _check_number
from .optimizer import Optimizer, ParamsT, _as_param_dtype, _lerp_

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop.

    Args:
        params: Tensors or parameter groups (see :class:`Optimizer`).
        lr: learning rate.
        alpha: smoothing constant of the squared-gradient average.
        eps: added to the denominator.
        weight_decay: L2 penalty added to the gradient.
        momentum: momentum factor.
        centered: normalise by the estimated variance (subtract the squared mean gradient).
        maximize: ascend instead of descend.
        capturable, foreach, differentiable: accepted for torch compatibility
            (capturable/differentiable must be False).
    """

    def __init__(self, params: ParamsT, lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0, momentum: float = 0,
                 centered: bool = False, capturable: bool = False, foreach: bool | None = None,
                 maximize: bool = False, differentiable: bool = False) -> None:
        defaults = {"lr": lr, "momentum": momentum, "alpha": alpha, "eps": eps,
                    "centered": centered, "weight_decay": weight_decay,
                    "capturable": capturable, "foreach": foreach, "maximize": maximize,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group: dict[str, Any]) -> None:
        for key, what in (("lr", "learning rate"), ("eps", "epsilon value"),
                          ("momentum", "momentum value"), ("weight_decay", "weight_decay value"),
                          ("alpha", "alpha value")):
            _check_number("RMSprop", what, group[key])
        for key in ("capturable", "differentiable"):
            if group.get(key):
                raise ValueError(f"RMSprop: {key}=True is not supported by tinygrad_lite")

    def step(self, closure=None):
        """One RMSprop step for every parameter that has a gradient; returns the closure's
        loss."""
        loss = self._closure_loss(closure)
        states = self.state
        for group in self.param_groups:
            momentum, centered = group["momentum"], group["centered"]
            scalars = (group["weight_decay"], group["alpha"], 1 - group["alpha"], group["eps"],
                       momentum, -group["lr"])
            for p in group["params"]:
                grad = p._grad
                if grad is None:
                    continue
                state = states[p]
                if not state:
                    _init_state(state, p, momentum, centered)
                state["step"]._data += 1
                grad_avg = state["grad_avg"]._data if centered else None
                buf = state["momentum_buffer"]._data if momentum > 0 else None
                p._device.rmsprop_step(p._data, grad._data, state["square_avg"]._data, grad_avg,
                                       buf, scalars, group["maximize"])
                p._vc[0] += 1
        return loss


def _init_state(state: dict, p: Tensor, momentum: float, centered: bool) -> None:
    xp, dev = p._device.xp, p._device
    state["step"] = Tensor._make(np.zeros((), dtype=np.float32), CPU)
    state["square_avg"] = Tensor._make(xp.zeros_like(p._data), dev)
    if momentum > 0:
        state["momentum_buffer"] = Tensor._make(xp.zeros_like(p._data), dev)
    if centered:
        state["grad_avg"] = Tensor._make(xp.zeros_like(p._data), dev)


def rmsprop_reference(param, grad, square_avg, grad_avg, momentum_buffer, scalars,
                      maximize: bool, xp=np) -> None:
    """The RMSprop update with array operations (``xp``: NumPy or CuPy), in place.

    Args:
        param, square_avg: arrays of one shape and dtype.
        grad: the gradient (not modified).
        grad_avg: the centred mean-gradient buffer, or None when not centred.
        momentum_buffer: the momentum buffer, or None without momentum.
        scalars: (weight_decay, alpha, 1 - alpha, eps, momentum, -lr) as Python floats.
        maximize: negate the gradient.
        xp: the arrays' module.
    """
    wd, alpha, oma, eps, momentum, neg_lr = _as_param_dtype(param, scalars)
    g = -grad if maximize else grad
    if scalars[0] != 0:
        g = g + wd * param
    square_avg *= alpha
    square_avg += oma * g * g
    if grad_avg is not None:
        _lerp_(grad_avg, g, oma)
        avg = xp.sqrt(square_avg + (-grad_avg) * grad_avg)  # addcmul(m, m, value=-1)
    else:
        avg = xp.sqrt(square_avg)
    avg += eps
    if momentum_buffer is not None:
        momentum_buffer *= momentum
        momentum_buffer += g / avg
        param += neg_lr * momentum_buffer
    else:
        param += neg_lr * g / avg
