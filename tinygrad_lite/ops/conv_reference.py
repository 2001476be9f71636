"""Convolution at the array level: im2col + GEMM (+ col2im), xp-generic (NumPy or CuPy).

These are the reference bodies of ``Device.conv2d_forward`` / ``conv2d_backward_data`` /
``conv2d_backward_weight``; the im2col/col2im pair is pluggable, so the CPU device runs the same
GEMM code with its Numba kernels. ``ops/conv.py`` holds the primitives and the front ends.
Notation: x (N, C, H, W), w (O, C/G, kh, kw), y (N, O, OH, OW), G groups; padding is
((top, bottom), (left, right)).
"""

from __future__ import annotations

from functools import partial


# cols layouts (K = C/G * kh * kw, L = OH * OW): "batched" (N, G, K, L), one GEMM per image that
# lands in NCHW directly; "flat" (G, K, N * L), one GEMM over the batch (better for small L, where
# the per-image GEMMs are too thin for BLAS; it costs a transpose of the output/upstream grad).
# Measured fwd + both backwards at the MNIST CNN's layers (batch 64, float32, 2 cores), flat vs
# batched: L = 676: 1.39 vs 1.46 ms, L = 121: 6.88 vs 7.36 ms, L = 9: 1.93 vs 3.28 ms. Past a
# few thousand output pixels the transposes grow and the per-image GEMMs are big enough.
FLAT_BELOW = 4096  # use the flat layout when OH * OW is below this


def geometry(x_shape, w_shape, stride, padding, dilation, groups):
    """(N, C, O, G, K = C/G*kh*kw, (OH, OW), whether it is a 1x1 stride-1 unpadded conv)."""
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
    n, c, o, g, k, (oh, ow), pointwise = geometry(x.shape, w.shape, stride, padding, dilation,
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
    n, c, o, gr, k, out_hw, pointwise = geometry(x_shape, w.shape, stride, padding, dilation,
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
    n, c, o, gr, k, out_hw, pointwise = geometry(x.shape, w_shape, stride, padding, dilation,
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
