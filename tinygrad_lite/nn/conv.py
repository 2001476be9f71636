"""Convolution layers: Conv1d and Conv2d with torch's parameters, init, padding modes and repr."""

from __future__ import annotations

import math

from .. import creation
from ..ops.conv import _int
from ..tensor import Tensor
from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _ntuple(value, nd: int, name: str, cls: str) -> tuple[int, ...]:
    if isinstance(value, (tuple, list)) and len(value) == nd:
        items = tuple(_int(v) for v in value)
        if None not in items:
            return items
    elif _int(value) is not None:
        return (_int(value),) * nd
    raise TypeError(f"{cls}: {name} must be an int or a tuple of {nd} ints, got {value!r}")


class _ConvNd(Module):
    """Shared body of Conv1d/Conv2d; subclasses set ``_nd`` and ``_conv`` (the functional op)."""

    _nd = 0

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device=None, dtype=None):
        super().__init__()
        cls, nd = type(self).__name__, self._nd
        if _int(groups) is None or _int(groups) <= 0:
            raise ValueError(f"{cls}: groups must be a positive integer, got {groups!r}")
        groups = _int(groups)
        if in_channels % groups:
            raise ValueError(f"{cls}: in_channels must be divisible by groups, got "
                             f"in_channels={in_channels}, groups={groups}")
        if out_channels % groups:
            raise ValueError(f"{cls}: out_channels must be divisible by groups, got "
                             f"out_channels={out_channels}, groups={groups}")
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"{cls}: padding_mode must be one of {list(PADDING_MODES)}, got "
                             f"{padding_mode!r}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _ntuple(kernel_size, nd, "kernel_size", cls)
        self.stride = _ntuple(stride, nd, "stride", cls)
        self.dilation = _ntuple(dilation, nd, "dilation", cls)
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(f"{cls}: invalid padding string {padding!r}, should be one of "
                                 f"'valid', 'same'")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"{cls}: padding='same' is not supported for strided "
                                 f"convolutions (got stride {self.stride})")
            self.padding = padding
        else:
            self.padding = _ntuple(padding, nd, "padding", cls)
        self.groups, self.padding_mode = groups, padding_mode
        self.transposed, self.output_padding = False, (0,) * nd
        # F.pad widths, last dim first (used by the non-zero padding modes)
        if self.padding == "same":
            widths = [(d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2)
                      for k, d in zip(self.kernel_size, self.dilation)]
        elif self.padding == "valid":
            widths = [(0, 0)] * nd
        else:
            widths = [(p, p) for p in self.padding]
        self._reversed_padding_repeated_twice = [w for pair in reversed(widths) for w in pair]
        self.weight = Parameter(creation.empty(out_channels, in_channels // groups,
                                               *self.kernel_size, device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(creation.empty(out_channels, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torch's default: kaiming_uniform_(a=sqrt(5)) on the weight (bound 1/sqrt(fan_in)),
        bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in_channels/groups * prod(kernel)."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.in_channels // self.groups * math.prod(self.kernel_size)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor) -> Tensor:
        if self.padding_mode != "zeros":
            padded = F.pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            return self._conv(padded, self.weight, self.bias, self.stride, 0, self.dilation,
                              self.groups)
        return self._conv(input, self.weight, self.bias, self.stride, self.padding,
                          self.dilation, self.groups)

    def extra_repr(self) -> str:
        nd = self._nd
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * nd:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * nd:
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv1d(_ConvNd):
    """1-D convolution. Shapes: (N, C_in, L) or (C_in, L) -> (N, C_out, L_out).

    Weight (C_out, C_in / groups, k), bias (C_out,); see :func:`tl.nn.functional.conv1d`.
    """

    _nd = 1

    @staticmethod
    def _conv(*args) -> Tensor:
        return F.conv1d(*args)


class Conv2d(_ConvNd):
    """2-D convolution. Shapes: (N, C_in, H, W) or (C_in, H, W) -> (N, C_out, OH, OW).

    Weight (C_out, C_in / groups, kH, kW), bias (C_out,); see
    :func:`tl.nn.functional.conv2d` for the output size. ``padding_mode`` other than "zeros"
    pads with F.pad first (reflect, replicate, circular), as torch.
    """

    _nd = 2

    @staticmethod
    def _conv(*args) -> Tensor:
        return F.conv2d(*args)
