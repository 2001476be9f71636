"""``tl.nn.init``: in-place initialisers with torch's distributions and bounds.

Every function fills ``tensor`` in place outside autograd (like torch's, which run under
no_grad), draws from the tensor's device generator (seeded by ``tl.manual_seed``) and returns it.
"""

from __future__ import annotations

import math

import numpy as np

from ..tensor import Tensor

__all__ = ["calculate_gain", "zeros_", "ones_", "constant_", "eye_", "normal_", "uniform_",
           "trunc_normal_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
           "kaiming_normal_"]


def _fill(tensor: Tensor, values, op: str) -> Tensor:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(tensor).__name__}")
    tensor._data[...] = values
    tensor._vc[0] += 1
    return tensor


def _float_tensor(tensor: Tensor, op: str) -> None:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(tensor).__name__}")
    if tensor.dtype.category != 2:
        raise TypeError(f"{op}: expected a floating tensor, got {tensor.dtype.name}")


def _uniform(tensor: Tensor, low: float, high: float, op: str) -> Tensor:
    _float_tensor(tensor, op)
    gen = tensor.device.generator
    values = gen.random(tensor.shape, dtype=np.float64) * (high - low) + low
    return _fill(tensor, values.astype(tensor.dtype.np), op)


def _normal(tensor: Tensor, mean: float, std: float, op: str) -> Tensor:
    _float_tensor(tensor, op)
    values = tensor.device.generator.standard_normal(tensor.shape) * std + mean
    return _fill(tensor, values.astype(tensor.dtype.np), op)


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for an activation (torch's table): relu sqrt(2), tanh 5/3, ..."""
    linear = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
              "conv_transpose3d", "sigmoid")
    if nonlinearity in linear:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _fans(tensor: Tensor, op: str) -> tuple[int, int]:
    """(fan_in, fan_out): shape (out, in, *kernel) -> (in * k, out * k) as torch."""
    if tensor.ndim < 2:
        raise ValueError(f"{op}: fan in and fan out can not be computed for a tensor with fewer "
                         f"than 2 dimensions (got shape {tuple(tensor.shape)})")
    receptive = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fan(tensor: Tensor, mode: str, op: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{op}: mode {mode!r} not supported, use 'fan_in' or 'fan_out'")
    fan_in, fan_out = _fans(tensor, op)
    return fan_in if mode == "fan_in" else fan_out


def zeros_(tensor: Tensor) -> Tensor:
    return _fill(tensor, 0, "zeros_")


def ones_(tensor: Tensor) -> Tensor:
    return _fill(tensor, 1, "ones_")


def constant_(tensor: Tensor, val: float) -> Tensor:
    return _fill(tensor, val, "constant_")


def eye_(tensor: Tensor) -> Tensor:
    """Identity matrix into a 2-D tensor."""
    if not isinstance(tensor, Tensor) or tensor.ndim != 2:
        raise ValueError("eye_: only tensors with 2 dimensions are supported")
    xp = tensor.device.xp
    return _fill(tensor, xp.eye(*tensor.shape, dtype=tensor._data.dtype), "eye_")


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """U(a, b)."""
    if a > b:
        raise ValueError(f"uniform_: expects a <= b, got a={a}, b={b}")
    return _uniform(tensor, a, b, "uniform_")


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """N(mean, std^2)."""
    if std < 0:
        raise ValueError(f"normal_: expects std >= 0.0, got std={std}")
    return _normal(tensor, mean, std, "normal_")


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0,
                  b: float = 2.0) -> Tensor:
    """N(mean, std^2) restricted to [a, b] (resampling the values outside)."""
    _float_tensor(tensor, "trunc_normal_")
    if not a < b:
        raise ValueError(f"trunc_normal_: expects a < b, got a={a}, b={b}")
    gen = tensor.device.generator
    values = gen.standard_normal(tensor.shape) * std + mean
    for _ in range(1000):
        bad = (values < a) | (values > b)
        if not bool(bad.any()):
            break
        values[bad] = gen.standard_normal(int(bad.sum())) * std + mean
    else:
        raise ValueError(f"trunc_normal_: [{a}, {b}] holds too little mass of N({mean}, {std}^2)")
    return _fill(tensor, values.astype(tensor.dtype.np), "trunc_normal_")


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio, 2010)."""
    fan_in, fan_out = _fans(tensor, "xavier_uniform_")
    bound = gain * math.sqrt(2.0 / float(fan_in + fan_out)) * math.sqrt(3.0)
    return _uniform(tensor, -bound, bound, "xavier_uniform_")


def xavier_normal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(tensor, "xavier_normal_")
    return _normal(tensor, 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out)),
                   "xavier_normal_")


def kaiming_uniform_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu") -> Tensor:
    """U(-b, b) with b = gain * sqrt(3 / fan) (He et al., 2015)."""
    fan = _fan(tensor, mode, "kaiming_uniform_")
    if fan == 0:
        return tensor
    bound = math.sqrt(3.0) * calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return _uniform(tensor, -bound, bound, "kaiming_uniform_")


def kaiming_normal_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu") -> Tensor:
    """N(0, std^2) with std = gain / sqrt(fan)."""
    fan = _fan(tensor, mode, "kaiming_normal_")
    if fan == 0:
        return tensor
    return _normal(tensor, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(fan),
                   "kaiming_normal_")
