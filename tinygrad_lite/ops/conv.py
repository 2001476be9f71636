"""2-D convolution: three primitives closed under differentiation, and torch's front ends.

Notation: x (N, C, H, W), w (O, C/G, kh, kw), y (N, O, OH, OW), G groups. The forward is
``Conv2d(x, w) -> y``. Its gradients are two more bilinear ops:

* ``ConvBackwardData(g, w) -> gx``: the adjoint of the conv in x (a transposed convolution);
* ``ConvBackwardWeight(x, g) -> gw``: the adjoint of the conv in w (a correlation of x with g).

Because every op is bilinear and the three are each other's adjoints, the backward of each is
made of the other two: for an upstream ``u``,
``d<T(g, w), u>/dg = Conv2d(u, w)``, ``d<T(g, w), u>/dw = Wg(u, g)``,
``d<Wg(x, g), u>/dx = T(g, u)``, ``d<Wg(x, g), u>/dg = Conv2d(x, u)``
(T = backward-data, Wg = backward-weight), so gradients of any order stay in this set.

Padding is carried as ``((top, bottom), (left, right))`` so torch's asymmetric ``"same"``
padding needs no extra pad op. The array work happens in the device entry points
``conv2d_forward`` / ``conv2d_backward_data`` / ``conv2d_backward_weight`` (device/), whose
xp-generic bodies are the ``*_reference`` drivers in ``conv_reference.py``: im2col + GEMM
(+ col2im), with the im2col/col2im pair pluggable so the CPU device runs the same GEMM code with
its Numba kernels.
"""

from __future__ import annotations

import operator

from ..autograd import Primitive
from ..errors import DTypeError, ShapeError
from ._base import Tensor
from .conv_reference import geometry


def _hyper(ctx) -> dict:
    return {"stride": ctx.stride, "padding": ctx.padding, "dilation": ctx.dilation,
            "groups": ctx.groups}


def _keep_hyper(ctx, stride, padding, dilation, groups) -> None:
    ctx.stride, ctx.padding, ctx.dilation, ctx.groups = stride, padding, dilation, groups


KEEP_COLS_BYTES = 32 << 20  # the MNIST CNN's largest is 8.9 MB (batch 64)


class Conv2d(Primitive):
    """y = conv(x, w) (+ b): x (N, C, H, W), w (O, C/G, kh, kw), b (O,) -> y (N, O, OH, OW).

    The forward's im2col matrix is kept (``cols``) for the weight gradient, which would
    otherwise copy the same receptive fields out again; it is dropped with the graph's saved
    data after backward. It is C*kh*kw/C times the input's size, so only matrices up to
    ``KEEP_COLS_BYTES`` are kept (a big network's layers recompute theirs instead of holding
    several times the activations' memory until backward).
    """

    __slots__ = ("stride", "padding", "dilation", "groups", "cols")
    saves_inputs = (0, 1)

    def forward(ctx, x, w, b=None, *, stride, padding, dilation, groups):
        _keep_hyper(ctx, stride, padding, dilation, groups)
        if x.size == 0 or w.size == 0:  # empty batch or no input channels: nothing to multiply
            n, _, o, _, _, out_hw, _ = geometry(x.shape, w.shape, stride, padding, dilation,
                                                 groups)
            y, ctx.cols = ctx.device.xp.zeros((n, o, *out_hw), x.dtype), None
        else:
            y, cols = ctx.device.conv2d_forward(x, w, stride, padding, dilation, groups)
            ctx.cols = cols if cols is not None and cols.nbytes <= KEEP_COLS_BYTES else None
        if b is not None:
            y += b.reshape(-1, 1, 1)
        return y

    def _release(self) -> None:
        super()._release()
        self.cols = None

    def backward(ctx, g):
        x, w = ctx.inputs[0], ctx.inputs[1]
        need, hyper = ctx.needs_input_grad, _hyper(ctx)
        gx = ConvBackwardData.apply(g, w, x_shape=tuple(x.shape), **hyper) if need[0] else None
        gw = ConvBackwardWeight.apply(x, g, w_shape=tuple(w.shape), cols=ctx.cols, **hyper) \
            if need[1] else None
        if len(need) == 2:
            return gx, gw
        return gx, gw, (g.sum((0, 2, 3)) if need[2] else None)


class ConvBackwardData(Primitive):
    """gx = T(g, w), the gradient of conv(x, w) wrt x: g (N, O, OH, OW) -> (N, C, H, W)."""

    __slots__ = ("x_shape", "stride", "padding", "dilation", "groups")
    saves_inputs = (0, 1)

    def forward(ctx, g, w, *, x_shape, stride, padding, dilation, groups):
        _keep_hyper(ctx, stride, padding, dilation, groups)
        ctx.x_shape = x_shape
        if g.size == 0 or w.size == 0:  # an empty sum (the drivers' reshapes need data)
            return ctx.device.xp.zeros(x_shape, g.dtype)
        return ctx.device.conv2d_backward_data(g, w, x_shape, stride, padding, dilation, groups)

    def backward(ctx, u):
        g, w = ctx.inputs
        need, hyper = ctx.needs_input_grad, _hyper(ctx)
        return (Conv2d.apply(u, w, **hyper) if need[0] else None,
                ConvBackwardWeight.apply(u, g, w_shape=tuple(w.shape), **hyper)
                if need[1] else None)


class ConvBackwardWeight(Primitive):
    """gw = Wg(x, g), the gradient of conv(x, w) wrt w: (x, g) -> (O, C/G, kh, kw)."""

    __slots__ = ("w_shape", "stride", "padding", "dilation", "groups")
    saves_inputs = (0, 1)

    def forward(ctx, x, g, *, w_shape, stride, padding, dilation, groups, cols=None):
        _keep_hyper(ctx, stride, padding, dilation, groups)
        ctx.w_shape = w_shape
        if x.size == 0 or g.size == 0:  # an empty batch sums to zero
            return ctx.device.xp.zeros(w_shape, x.dtype)
        return ctx.device.conv2d_backward_weight(x, g, w_shape, stride, padding, dilation,
                                                 groups, cols)

    def backward(ctx, u):
        x, g = ctx.inputs
        need, hyper = ctx.needs_input_grad, _hyper(ctx)
        return (ConvBackwardData.apply(g, u, x_shape=tuple(x.shape), **hyper)
                if need[0] else None,
                Conv2d.apply(x, u, **hyper) if need[1] else None)


# ---- front ends --------------------------------------------------------------------------------
def _int(value):
    """``value`` as a Python int if it is an integer (NumPy ints too, as torch takes), else None."""
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        return None
    return operator.index(value)


def _tuple(value, nd: int, name: str, op: str) -> tuple[int, ...]:
    """An int, or a tuple/list of 1 or ``nd`` ints (torch expands a 1-tuple), as an nd-tuple."""
    if _int(value) is not None:
        return (_int(value),) * nd
    items = tuple(_int(v) for v in value) if isinstance(value, (tuple, list)) else (None,)
    if None in items:
        raise TypeError(f"{op}: {name} must be an int or a tuple of {nd} ints, got {value!r}")
    if len(items) not in (1, nd):
        raise ShapeError(f"{op}: expected {name} to be a single int or a tuple of {nd} ints, "
                         f"got {value!r}")
    return items * nd if len(items) == 1 else items


def _shape(t) -> tuple:
    return tuple(t.shape)


def _check_tensors(op: str, nd: int, x, weight, bias) -> None:
    for name, t in (("input", x), ("weight", weight), ("bias", bias)):
        if t is not None and not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
    dims = "(out_channels, in_channels/groups, kW)" if nd == 1 else \
        "(out_channels, in_channels/groups, kH, kW)"
    if weight.ndim != nd + 2:
        raise ShapeError(f"{op}: weight must be {nd + 2}-D {dims}, got shape {_shape(weight)}")
    if x.ndim not in (nd + 1, nd + 2):
        raise ShapeError(f"{op}: expected {nd + 1}-D (unbatched) or {nd + 2}-D (batched) input, "
                         f"got input of shape {_shape(x)}")
    if x.dtype is not weight.dtype or (bias is not None and bias.dtype is not weight.dtype):
        got = f"input {x.dtype.name}, weight {weight.dtype.name}"
        got += f", bias {bias.dtype.name}" if bias is not None else ""
        raise DTypeError(f"{op}: expected input, weight and bias of the same dtype, got {got}")
    if x.dtype.category == 0:  # integers work (through the reference path), as in torch
        raise DTypeError(f"{op}: not implemented for {x.dtype.name} tensors")
    if bias is not None and _shape(bias) != (weight.shape[0],):
        raise ShapeError(f"{op}: bias must have shape ({weight.shape[0]},) (the weight's "
                         f"out_channels), got {_shape(bias)}")


def _same_padding(kernel, dilation) -> tuple:
    """torch's "same": total d*(k-1) per dim, the odd element on the bottom/right."""
    return tuple((d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2)
                 for k, d in zip(kernel, dilation))


def _conv_args(op: str, nd: int, x, weight, bias, stride, padding, dilation, groups):
    """Validate like torch: (stride, ((lo, hi), ...), dilation), each of nd dims, and groups."""
    _check_tensors(op, nd, x, weight, bias)
    stride = _tuple(stride, nd, "stride", op)
    dilation = _tuple(dilation, nd, "dilation", op)
    if min(stride) <= 0:
        raise ShapeError(f"{op}: stride must be positive, got {stride}")
    if min(dilation) <= 0:
        raise ShapeError(f"{op}: dilation must be positive, got {dilation}")
    if _int(groups) is None:
        raise TypeError(f"{op}: groups must be an int, got {groups!r}")
    groups = _int(groups)
    if groups <= 0:
        raise ShapeError(f"{op}: groups must be a positive integer, got {groups!r}")
    kernel = _shape(weight)[2:]
    if isinstance(padding, str):
        if padding == "valid":
            pads = ((0, 0),) * nd
        elif padding == "same":
            if max(stride) > 1:
                raise ShapeError(f"{op}: padding='same' is not supported for strided "
                                 f"convolutions (got stride {stride})")
            pads = _same_padding(kernel, dilation)
        else:
            raise ShapeError(f"{op}: invalid padding string {padding!r}, expected 'valid' or "
                             f"'same'")
    else:
        sym = _tuple(padding, nd, "padding", op)
        if min(sym) < 0:
            raise ShapeError(f"{op}: padding must be non-negative, got {sym}")
        pads = tuple((p, p) for p in sym)
    out_ch, c_per_group = weight.shape[0], weight.shape[1]
    if out_ch < groups or out_ch % groups:  # zero out_channels too, as torch
        raise ShapeError(f"{op}: expected the weight's out_channels to be a positive multiple "
                         f"of groups={groups}, got weight of shape {_shape(weight)}")
    c_in = x.shape[-nd - 1]
    if c_in != c_per_group * groups:
        raise ShapeError(f"{op}: given groups={groups} and weight of shape {_shape(weight)}, "
                         f"expected input of shape {_shape(x)} to have "
                         f"{c_per_group * groups} channels, got {c_in}")
    padded = tuple(s + lo + hi for s, (lo, hi) in zip(x.shape[-nd:], pads))
    dilated = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    if any(k > p for k, p in zip(dilated, padded)):
        raise ShapeError(f"{op}: kernel size {tuple(kernel)} (dilated {dilated}) can't be "
                         f"greater than the padded input size {padded} (input shape "
                         f"{_shape(x)}, padding {pads})")
    return stride, pads, dilation, groups


def _conv(x4: Tensor, w4: Tensor, bias, stride, pads, dilation, groups) -> Tensor:
    hyper = {"stride": stride, "padding": pads, "dilation": dilation, "groups": groups}
    if bias is None:
        return Conv2d.apply(x4, w4, **hyper)
    return Conv2d.apply(x4, w4, bias, **hyper)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """2-D cross-correlation as torch.nn.functional.conv2d.

    Args:
        input: (N, C_in, H, W) or unbatched (C_in, H, W).
        weight: (C_out, C_in / groups, kH, kW).
        bias: (C_out,) or None.
        stride, dilation: int or (sH, sW), positive.
        padding: int or (pH, pW) zero padding on both sides, or "valid" (none) or "same"
            (output size = input size; stride 1 only; an odd total puts the extra row/column
            at the bottom/right, as torch).
        groups: splits the channels into independent groups (C_in == groups gives depthwise).

    Returns:
        (N, C_out, OH, OW) with OH = (H + 2 pH - dH (kH - 1) - 1) // sH + 1 (same for OW);
        unbatched input gives (C_out, OH, OW).
    """
    stride, pads, dilation, groups = _conv_args("conv2d", 2, input, weight, bias, stride,
                                                padding, dilation, groups)
    if input.ndim == 3:
        return _conv(input.unsqueeze(0), weight, bias, stride, pads, dilation, groups).squeeze(0)
    return _conv(input, weight, bias, stride, pads, dilation, groups)


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """1-D cross-correlation as torch.nn.functional.conv1d (a conv2d over an H = 1 view).

    Args:
        input: (N, C_in, L) or unbatched (C_in, L).
        weight: (C_out, C_in / groups, k).
        bias, stride, padding, dilation, groups: as :func:`conv2d`, with one spatial dim.

    Returns:
        (N, C_out, L_out), L_out = (L + 2 p - d (k - 1) - 1) // s + 1; (C_out, L_out) unbatched.
    """
    stride, pads, dilation, groups = _conv_args("conv1d", 1, input, weight, bias, stride,
                                                padding, dilation, groups)
    x4 = input.unsqueeze(-2) if input.ndim == 3 else input.unsqueeze(0).unsqueeze(-2)
    y = _conv(x4, weight.unsqueeze(2), bias, (1,) + stride, ((0, 0),) + pads, (1,) + dilation,
              groups).squeeze(2)
    return y if input.ndim == 3 else y.squeeze(0)
