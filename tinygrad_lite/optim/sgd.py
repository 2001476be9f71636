"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay (torch's).

Per parameter and step, with ``g`` the gradient (negated when ``maximize``)::

    g += weight_decay * p
    buf = g (first step)  or  buf = momentum * buf + (1 - dampening) * g
    g = g + momentum * buf (nesterov)  or  g = buf
    p -= lr * g
"""

from __future__ import annotations

from typing import Any

from ..tensor import Tensor
from .adam import _check_number
from .optimizer import Optimizer, ParamsT, _as_param_dtype

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent (optionally with momentum).

    Args:
        params: Tensors or parameter groups (see :class:`Optimizer`).
        lr: learning rate.
        momentum: momentum factor (0 disables the buffer).
        dampening: dampening for momentum.
        weight_decay: L2 penalty added to the gradient.
        nesterov: Nesterov momentum (needs momentum > 0 and dampening 0).
        maximize: ascend instead of descend.
        foreach, fused, differentiable: accepted for torch compatibility (differentiable must
            be False).
    """

    def __init__(self, params: ParamsT, lr: float = 1e-3, momentum: float = 0,
                 dampening: float = 0, weight_decay: float = 0, nesterov: bool = False, *,
                 maximize: bool = False, foreach: bool | None = None,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening,
                    "weight_decay": weight_decay, "nesterov": nesterov, "maximize": maximize,
                    "foreach": foreach, "differentiable": differentiable, "fused": fused}
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group: dict[str, Any]) -> None:
        _check_number("SGD", "learning rate", group["lr"])
        _check_number("SGD", "momentum value", group["momentum"])
        _check_number("SGD", "weight_decay value", group["weight_decay"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum and zero dampening "
                             f"(got momentum={group['momentum']}, "
                             f"dampening={group['dampening']})")
        if group.get("differentiable"):
            raise ValueError("SGD: differentiable=True is not supported by tinygrad_lite")

    def step(self, closure=None):
        """One SGD step for every parameter that has a gradient; returns the closure's loss."""
        loss = self._closure_loss(closure)
        states = self.state
        for group in self.param_groups:
            lr, momentum, wd = group["lr"], group["momentum"], group["weight_decay"]
            nesterov, maximize = group["nesterov"], group["maximize"]
            scalars = (wd, momentum, 1 - group["dampening"], -lr)
            for p in group["params"]:
                grad = p._grad
                if grad is None:
                    continue
                buf, first = None, False
                if momentum != 0:
                    state = states[p]
                    tensor = state.get("momentum_buffer")
                    if tensor is None:  # torch starts the buffer at the first gradient
                        tensor = Tensor._make(p._device.xp.empty_like(p._data), p._device)
                        state["momentum_buffer"] = tensor
                        first = True
                    buf = tensor._data
                p._device.sgd_step(p._data, grad._data, buf, scalars, maximize, wd != 0, first,
                                   nesterov)
                p._vc[0] += 1
        return loss


def sgd_reference(param, grad, momentum_buffer, scalars, maximize: bool, has_decay: bool,
                  first: bool, nesterov: bool) -> None:
    """The SGD update with array operations (NumPy or CuPy), in place; the device-generic
    version of ``kernels/cpu/optim.sgd_update`` (``momentum_buffer`` None: no momentum)."""
    wd, momentum, omd, neg_lr = _as_param_dtype(param, scalars)
    g = -grad if maximize else grad
    if has_decay:
        g = g + wd * param
    if momentum_buffer is not None:
        if first:
            momentum_buffer[...] = g
        else:
            momentum_buffer *= momentum
            momentum_buffer += omd * g
        g = g + momentum * momentum_buffer if nesterov else momentum_buffer
    param += neg_lr * g
