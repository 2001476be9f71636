"""Adam and AdamW (torch's update, step for step).

Per parameter and step, with ``g`` the gradient (negated when ``maximize``)::

    Adam:  g += weight_decay * p                 AdamW: p *= 1 - lr * weight_decay
    m = lerp(m, g, 1 - beta1);  v = v * beta2 + (1 - beta2) * g * g
    v_hat = max(v_max, v) if amsgrad else v
    p += -(lr / (1 - beta1**t)) * m / (sqrt(v_hat) / sqrt(1 - beta2**t) + eps)

The scalars are computed here in Python double precision exactly as torch computes them; the
arrays are updated by ``device.adam_step`` (a fused Numba kernel on the CPU, the NumPy/CuPy
reference below elsewhere).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from ..device import CPU
from ..tensor import Tensor
from .optimizer import Optimizer, ParamsT, _as_param_dtype, _lerp_

__all__ = ["Adam", "AdamW"]

NO_DECAY, L2_DECAY, DECOUPLED_DECAY = 0, 1, 2  # as kernels/cpu/optim.py


class Adam(Optimizer):
    """Adam (Kingma & Ba), with optional AMSGrad and (coupled, L2) weight decay.

    Args:
        params: Tensors or parameter groups (see :class:`Optimizer`).
        lr: learning rate.
        betas: decay rates of the first and second moment averages, each in [0, 1).
        eps: added to the denominator.
        weight_decay: L2 penalty added to the gradient (AdamW: decoupled decay of p).
        amsgrad: normalise by the running maximum of the second moment.
        maximize: ascend instead of descend.
        foreach, fused, capturable, differentiable: accepted for torch compatibility; updates
            always run fused per parameter; capturable/differentiable must be False.
        decoupled_weight_decay: apply weight decay as AdamW does.
    """

    def __init__(self, params: ParamsT, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False, differentiable: bool = False,
                 fused: bool | None = None, decoupled_weight_decay: bool = False) -> None:
        if isinstance(betas, list):  # torch keeps the defaults' betas as a tuple
            betas = tuple(betas)
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "amsgrad": amsgrad, "maximize": maximize, "foreach": foreach,
                    "capturable": capturable, "differentiable": differentiable, "fused": fused,
                    "decoupled_weight_decay": decoupled_weight_decay}
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group: dict[str, Any]) -> None:
        name = type(self).__name__
        _check_number(name, "learning rate", group["lr"])
        _check_number(name, "epsilon value", group["eps"])
        _check_number(name, "weight_decay value", group["weight_decay"])
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}")
        for i, beta in enumerate(betas):
            if not isinstance(beta, numbers.Real) or not 0.0 <= beta < 1.0:
                raise ValueError(f"{name}: Invalid beta parameter at index {i}: {beta} "
                                 "(expected 0 <= beta < 1)")
        _check_unsupported(name, group)

    def step(self, closure=None):
        """One Adam step for every parameter that has a gradient; returns the closure's loss."""
        loss = self._closure_loss(closure)
        states = self.state
        for group in self.param_groups:
            lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
            wd, amsgrad, maximize = group["weight_decay"], group["amsgrad"], group["maximize"]
            mode = NO_DECAY if wd == 0 else (
                DECOUPLED_DECAY if group["decoupled_weight_decay"] else L2_DECAY)
            decay = 1 - lr * wd if mode == DECOUPLED_DECAY else 1.0
            for p in group["params"]:
                grad = p._grad
                if grad is None:
                    continue
                state = states[p]
                if not state:
                    _init_state(state, p, amsgrad)
                step_t = state["step"]._data
                step_t += 1
                step = float(step_t)
                bias_correction1 = 1 - beta1 ** step
                bias_correction2 = 1 - beta2 ** step
                step_size = lr / bias_correction1
                scalars = (wd, decay, 1 - beta1, beta2, 1 - beta2, bias_correction2 ** 0.5, eps,
                           -step_size)
                vmax = state["max_exp_avg_sq"]._data if amsgrad else None
                p._device.adam_step(p._data, grad._data, state["exp_avg"]._data,
                                    state["exp_avg_sq"]._data, vmax, scalars, maximize, mode,
                                    amsgrad)
                p._vc[0] += 1
        return loss


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): ``p *= 1 - lr * weight_decay``
    before the Adam update. Arguments as :class:`Adam` (default ``weight_decay=1e-2``)."""

    def __init__(self, params: ParamsT, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable, differentiable=differentiable,
                         fused=fused, decoupled_weight_decay=True)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        for group in self.param_groups:  # an AdamW always decays decoupled (as torch)
            group["decoupled_weight_decay"] = True


def _init_state(state: dict, p: Tensor, amsgrad: bool) -> None:
    xp, dev = p._device.xp, p._device
    state["step"] = Tensor._make(np.zeros((), dtype=np.float32), CPU)
    state["exp_avg"] = Tensor._make(xp.zeros_like(p._data), dev)
    state["exp_avg_sq"] = Tensor._make(xp.zeros_like(p._data), dev)
    if amsgrad:
        state["max_exp_avg_sq"] = Tensor._make(xp.zeros_like(p._data), dev)


def _check_number(name: str, what: str, value) -> None:
    if not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: {what} must be a real number, got {type(value).__name__}")
    if not value >= 0.0:
        raise ValueError(f"{name}: Invalid {what}: {value} (must be >= 0)")


def _check_unsupported(name: str, group: dict[str, Any]) -> None:
    for key in ("capturable", "differentiable"):
        if group.get(key):
            raise ValueError(f"{name}: {key}=True is not supported by tinygrad_lite")


def adam_reference(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, scalars, maximize: bool,
                   decay_mode: int, amsgrad: bool, xp=np) -> None:
    """The Adam update with array operations (``xp``: NumPy or CuPy), in place; the
    device-generic version of ``kernels/cpu/optim.adam_update`` (same arguments, arrays of any
    layout)."""
    wd, decay, w1, beta2, omb2, bc2_sqrt, eps, neg_step = _as_param_dtype(param, scalars)
    g = -grad if maximize else grad
    if decay_mode == DECOUPLED_DECAY:
        param *= decay
    elif decay_mode == L2_DECAY:
        g = g + wd * param
    _lerp_(exp_avg, g, w1)
    exp_avg_sq *= beta2
    exp_avg_sq += omb2 * g * g
    if amsgrad:
        xp.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
    denom = xp.sqrt(max_exp_avg_sq if amsgrad else exp_avg_sq) / bc2_sqrt
    denom += eps
    param += neg_step * exp_avg / denom
