"""``tl.nn.utils``: gradient clipping and flat parameter vectors."""

from __future__ import annotations

import math
from typing import Iterable

from .. import functions
from ..autograd import no_grad
from ..tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector",
           "vector_to_parameters"]


def _as_list(parameters) -> list[Tensor]:
    return [parameters] if isinstance(parameters, Tensor) else list(parameters)


@no_grad()
def clip_grad_norm_(parameters: Iterable[Tensor] | Tensor, max_norm: float,
                    norm_type: float = 2.0, error_if_nonfinite: bool = False) -> Tensor:
    """Scale all gradients together so their joint ``norm_type``-norm is at most ``max_norm``.

    Returns:
        The total norm of the gradients before clipping (a 0-d tensor).
    """
    grads = [p.grad for p in _as_list(parameters) if p.grad is not None]
    norm_type = float(norm_type)
    if not grads:
        return Tensor(0.0)
    norms = [g.detach().norm(norm_type) for g in grads]
    # stacking promotes: float32 and float64 gradients give a float64 total, as in torch
    if norm_type == math.inf:
        total = functions.stack(norms).amax()
    else:
        total = functions.stack(norms).norm(norm_type)
    value = float(total.item())
    if error_if_nonfinite and not math.isfinite(value):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} for gradients "
                           f"is non-finite ({value}), so it cannot be clipped")
    coef = min(max_norm / (value + 1e-6), 1.0)
    if coef < 1.0 or not math.isfinite(value):  # torch multiplies even by nan/1.0
        for g in grads:
            with g.device.quiet():  # inf * 0 -> nan is the intended result here, as in torch
                g._data *= g._data.dtype.type(coef)
            g._vc[0] += 1
    return total


@no_grad()
def clip_grad_value_(parameters: Iterable[Tensor] | Tensor, clip_value: float) -> None:
    """Clamp every gradient element into [-clip_value, clip_value], in place."""
    clip_value = float(clip_value)
    for p in _as_list(parameters):
        if p.grad is not None:
            g = p.grad._data
            g.clip(-clip_value, clip_value, out=g)
            p.grad._vc[0] += 1


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and concatenated into one 1-D tensor."""
    return functions.cat([p.reshape(-1) for p in parameters])


@no_grad()
def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of ``vec`` into the parameters, in place."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: expected a Tensor, got {type(vec).__name__}")
    params = list(parameters)
    total = sum(p.numel() for p in params)
    if vec.ndim != 1 or vec.numel() != total:
        raise ValueError(f"vector_to_parameters: expected a 1-D tensor of {total} elements, got "
                         f"shape {tuple(vec.shape)}")
    offset = 0
    for p in params:
        n = p.numel()
        p._data[...] = vec._data[offset:offset + n].reshape(p.shape)
        p._vc[0] += 1
        offset += n
