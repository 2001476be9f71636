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
``conv2d_forward`` / ``conv2d_backward_data`` / ``conv2d_backward_weight`` (device.py), whose
xp-generic bodies are the ``*_reference`` drivers below: im2col + GEMM (+ col2im), with the
im2col/col2im pair pluggable so the CPU device runs the same GEMM code with its Numba kernels.
"""

from __future__ import annotations

import operator
from functools import partial

from ..autograd import Primitive
from ..errors import DTypeError, ShapeError
from ._base import Tensor


# ---- array level: im2col + GEMM, xp-generic (NumPy or CuPy) ----------------------------------
# cols layouts (K = C/G * kh * kw, L = OH * OW): "batched" (N, G, K, L), one GEMM per image that
# lands in NCHW directly; "flat" (G, K, N * L), one GEMM over the batch (better for small L, where
# the per-image GEMMs are too thin for BLAS; it costs a transpose of the output/upstream grad).
# Measured fwd + both backwards at the MNIST CNN's layers (batch 64, float32, 2 cores), flat vs
# batched: L = 676: 1.39 vs 1.46 ms, L = 121: 6.88 vs 7.36 ms, L = 9: 1.93 vs 3.28 ms. Past a
# few thousand output pixels the transposes grow and the per-image GEMMs are big enough.
FLAT_BELOW = 4096  # use the flat layout when OH * OW is below this


def _geometry(x_shape, w_shape, stride, padding, dilation, groups):
    n, c, h, wd = x_shape
    o, cg, kh, kw = w_shape
    (pt, pb), (pl, pr) = padding
    oh = (h + pt + pb - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (wd + pl + pr - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    pointwise = kh == kw == 1 and stride == (1, 1) and pt == pb == pl == pr == 0
    return n, c, o, groups, cg * kh * kw, (oh, ow), pointwise


def im2col_reference(xp, x, kernel, stride, pads, dilation, out_hw, cols) -> None:
    """Receptive fields of x (N, C, H, W) into ``cols`` viewed as (N, C*kh*kw, OH*OW) (see
    kernels/cpu/conv.py for the layout): a strided view of the zero-padded input, copied once."""
    n, c, h, wd = x.shape
    (kh, kw), (sh, sw), (pt, pl), (dh, dw), (oh, ow) = kernel, stride, pads, dilation, out_hw
    need_h, need_w = (oh - 1) * sh + (kh - 1) * dh + 1, (ow - 1) * sw + (kw - 1) * dw + 1
    padded = xp.zeros((n, c, need_h, need_w), x.dtype)
    hh, ww = min(h, need_h - pt), min(wd, need_w - pl)
    if hh > 0 and ww > 0:
        padded[:, :, pt:pt + hh, pl:pl + ww] = x[:, :, :hh, :ww]
    s = padded.strides
    view = xp.lib.stride_tricks.as_strided(
        padded, (n, c, kh, kw, oh, ow), (s[0], s[1], s[2] * dh, s[3] * dw, s[2] * sh, s[3] * sw))
    cols.reshape(n, c, kh, kw, oh, ow)[...] = view  # splitting axes: a view of cols, no copy


def col2im_reference(xp, cols, kernel, stride, pads, dilation, out_hw, out) -> None:
    """Adjoint of :func:`im2col_reference`: add each kernel offset's strided slice back, then
    crop the padding; ``out`` (N, C, H, W) is overwritten."""
    n, c, h, wd = out.shape
    (kh, kw), (sh, sw), (pt, pl), (dh, dw), (oh, ow) = kernel, stride, pads, dilation, out_hw
    full = xp.zeros((n, c, max((oh - 1) * sh + (kh - 1) * dh + 1, pt + h),
                     max((ow - 1) * sw + (kw - 1) * dw + 1, pl + wd)), cols.dtype)
    blocks = cols.reshape(n, c, kh, kw, oh, ow)
    for a in range(kh):
        for b in range(kw):
            full[:, :, a * dh:a * dh + (oh - 1) * sh + 1:sh,
                 b * dw:b * dw + (ow - 1) * sw + 1:sw] += blocks[:, :, a, b]
    out[...] = full[:, :, pt:pt + h, pl:pl + wd]


def _kernels(xp, im2col, col2im):
    return (im2col or partial(im2col_reference, xp), col2im or partial(col2im_reference, xp))


def _im2col(xp, x, w_shape, stride, padding, dilation, out_hw, flat, im2col):
    """cols of x in the batched (N, C*kh*kw, L) or flat (C*kh*kw, N, L) layout."""
    n, c = x.shape[:2]
    kernel = tuple(w_shape[2:])
    pads = (padding[0][0], padding[1][0])
    rows, length = c * kernel[0] * kernel[1], out_hw[0] * out_hw[1]
    if flat:
        cols = xp.empty((rows, n, length), x.dtype)
        im2col(x, kernel, stride, pads, dilation, out_hw, cols.transpose(1, 0, 2))
    else:
        cols = xp.empty((n, rows, length), x.dtype)
        im2col(x, kernel, stride, pads, dilation, out_hw, cols)
    return cols


def _batch_last(xp, g, groups):
    """(N, O, OH, OW) -> (G, O/G, N*L): the upstream grad as the flat layout's GEMM operand."""
    n, o = g.shape[:2]
    return xp.ascontiguousarray(g.reshape(n, o, -1).transpose(1, 0, 2)).reshape(groups, o // groups,
                                                                               -1)


def conv2d_forward_reference(xp, x, w, stride, padding, dilation, groups, im2col=None):
    """y = conv(x, w): x (N, C, H, W), w (O, C/G, kh, kw) -> (N, O, OH, OW), C-contiguous.

    ``padding`` is ((top, bottom), (left, right)); ``im2col`` defaults to the plain-xp one.

    Returns:
        ``(y, cols)``: ``cols`` is the im2col matrix (None for a 1x1 conv, which needs none);
        handed back to :func:`conv2d_backward_weight_reference` it saves computing it again.
    """
    n, c, o, g, k, (oh, ow), pointwise = _geometry(x.shape, w.shape, stride, padding, dilation,
                                                   groups)
    wm = w.reshape(g, o // g, k)
    if pointwise:  # 1x1: the input already is the cols matrix
        return xp.matmul(wm, x.reshape(n, g, k, oh * ow)).reshape(n, o, oh, ow), None
    im2col = _kernels(xp, im2col, None)[0]
    flat = oh * ow < FLAT_BELOW
    cols = _im2col(xp, x, w.shape, stride, padding, dilation, (oh, ow), flat, im2col)
    if flat:
        y = xp.matmul(wm, cols.reshape(g, k, -1))  # (G, O/G, N*L)
        return xp.ascontiguousarray(y.reshape(o, n, oh, ow).transpose(1, 0, 2, 3)), cols
    return xp.matmul(wm, cols.reshape(n, g, k, -1)).reshape(n, o, oh, ow), cols


def conv2d_backward_data_reference(xp, g, w, x_shape, stride, padding, dilation, groups,
                                   col2im=None):
    """gx = T(g, w): g (N, O, OH, OW), w (O, C/G, kh, kw) -> (N, C, H, W) = ``x_shape``."""
    n, c, o, gr, k, out_hw, pointwise = _geometry(x_shape, w.shape, stride, padding, dilation,
                                                  groups)
    wt = w.reshape(gr, o // gr, k).transpose(0, 2, 1)  # BLAS reads the transpose in place
    if pointwise:
        return xp.matmul(wt, g.reshape(n, gr, o // gr, -1)).reshape(x_shape)
    col2im = _kernels(xp, None, col2im)[1]
    length = out_hw[0] * out_hw[1]
    if length < FLAT_BELOW:
        cols = xp.matmul(wt, _batch_last(xp, g, gr)).reshape(gr * k, n, length)
        cols = cols.transpose(1, 0, 2)
    else:
        cols = xp.matmul(wt, g.reshape(n, gr, o // gr, length)).reshape(n, gr * k, length)
    out = xp.empty(x_shape, g.dtype)
    col2im(cols, tuple(w.shape[2:]), stride, (padding[0][0], padding[1][0]), dilation, out_hw,
           out)
    return out


def conv2d_backward_weight_reference(xp, x, g, w_shape, stride, padding, dilation, groups,
                                     cols=None, im2col=None):
    """gw = Wg(x, g): x (N, C, H, W), g (N, O, OH, OW) -> (O, C/G, kh, kw) = ``w_shape``.

    ``cols``: the forward's im2col of ``x`` (from :func:`conv2d_forward_reference`), if kept.

    Small OH*OW: one GEMM over the whole batch, (G, O/G, N*L) @ (G, N*L, K), the cols in the flat
    layout read transposed by BLAS. Otherwise per-image products summed over N, which needs no
    transposed copy of g.
    """
    n, c, o, gr, k, out_hw, pointwise = _geometry(x.shape, w_shape, stride, padding, dilation,
                                                  groups)
    length = out_hw[0] * out_hw[1]
    g4 = g.reshape(n, gr, o // gr, length)
    if pointwise:
        return xp.matmul(g4, x.reshape(n, gr, k, -1).transpose(0, 1, 3, 2)).sum(axis=0) \
            .reshape(w_shape)
    flat = length < FLAT_BELOW
    if cols is None or cols.shape != ((k * gr, n, length) if flat else (n, k * gr, length)):
        im2col = _kernels(xp, im2col, None)[0]
        cols = _im2col(xp, x, w_shape, stride, padding, dilation, out_hw, flat, im2col)
    if flat:
        gw = xp.matmul(_batch_last(xp, g, gr), cols.reshape(gr, k, -1).transpose(0, 2, 1))
        return gw.reshape(w_shape)
    prod = xp.matmul(g4, cols.reshape(n, gr, k, length).transpose(0, 1, 3, 2))
    return prod.sum(axis=0).reshape(w_shape)


def _hyper(ctx) -> dict:
    return {"stride": ctx.stride, "padding": ctx.padding, "dilation": ctx.dilation,
            "groups": ctx.groups}


def _keep_hyper(ctx, stride, padding, dilation, groups) -> None:
    ctx.stride, ctx.padding, ctx.dilation, ctx.groups = stride, padding, dilation, groups


class Conv2d(Primitive):
    """y = conv(x, w) (+ b): x (N, C, H, W), w (O, C/G, kh, kw), b (O,) -> y (N, O, OH, OW).

    The forward's im2col matrix is kept (``cols``) for the weight gradient, which would
    otherwise copy the same receptive fields out again; it is dropped with the graph's saved
    data after backward.
    """

    __slots__ = ("stride", "padding", "dilation", "groups", "cols")
    saves_inputs = (0, 1)

    def forward(ctx, x, w, b=None, *, stride, padding, dilation, groups):
        _keep_hyper(ctx, stride, padding, dilation, groups)
        if x.size == 0 or w.size == 0:  # empty batch or no input channels: nothing to multiply
            n, _, o, _, _, out_hw, _ = _geometry(x.shape, w.shape, stride, padding, dilation,
                                                 groups)
            y, ctx.cols = ctx.device.xp.zeros((n, o, *out_hw), x.dtype), None
        else:
            y, ctx.cols = ctx.device.conv2d_forward(x, w, stride, padding, dilation, groups)
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
