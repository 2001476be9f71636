"""im2col / col2im kernels for 2-D convolution on the CPU (the GEMMs are NumPy's BLAS).

A convolution of ``x`` (N, C, H, W) with a (kh, kw) kernel becomes a matrix product once every
receptive field is copied out as a column: ``cols[n, (c*kh + a)*kw + b, i*OW + j]`` holds
``x[n, c, i*sh + a*dh - pt, j*sw + b*dw - pl]`` (zero where that lies in the padding). The
padding is never materialised: the kernels work out, per kernel offset, the range of output
columns that read inside the image and zero-fill the rest, so the inner loops are plain strided
copies that LLVM vectorises (unit stride when ``sw == 1``).

``cols`` may be any 3-D view indexed ``[n, row, l]``: the callers pass either a C-contiguous
(N, C*kh*kw, OH*OW) array (per-image GEMMs that write NCHW directly) or the transposed view of a
(C*kh*kw, N, OH*OW) buffer (one big GEMM over the whole batch, used by the weight gradient).

col2im is im2col's adjoint: it adds every column entry back onto the input position it was read
from, one (image, channel) plane at a time. Measured at the MNIST CNN's shapes (batch 64, 2 cores,
float32): col2im is 1.1-1.5x faster than the NumPy reference's loop of strided adds (not for a
single input channel, where the two are close), so the CPU device uses it; im2col here is 2-3x
slower than NumPy's strided-view copy (its rows are only OW long, and the per-row overhead
dominates), so the CPU device keeps NumPy's im2col and this one is only an alternative (tested).

The loops are serial on purpose: with ``parallel=True`` Numba's OpenMP workers keep spinning after
each call and fight OpenBLAS's spinning worker for the two cores, which made every conv step
5-20x slower (8 ms scheduler stalls) in training loops that alternate GEMMs and these kernels.
"""

from __future__ import annotations

import numpy as np
from numba import njit, uint64


@njit(cache=True, inline="always")
def _valid_range(offset, stride, size, n_out):  # pragma: no cover - compiled
    """Output indices ``j`` in [lo, hi) with ``0 <= j*stride + offset < size``."""
    lo = 0
    if offset < 0:
        lo = (-offset + stride - 1) // stride
    hi = 0
    if size - offset > 0:
        hi = (size - 1 - offset) // stride + 1
    if hi > n_out:
        hi = n_out
    if lo > hi:
        lo = hi
    return lo, hi


@njit(cache=True)
def im2col(x, n_img, chans, height, width, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow, cols,
            cn, crow):  # pragma: no cover - compiled
    """Copy the receptive fields of ``x`` into ``cols`` (flat buffers, element offsets).

    Args:
        x: flat C-contiguous (N*C*H*W,) float32/float64 input of shape (n_img, chans, height,
            width).
        kh, kw: kernel size; sh, sw: stride; pt, pl: top/left zero padding; dh, dw: dilation.
        oh, ow: output size (the bottom/right padding is implied by them).
        cols: flat output of x's dtype; entry ``[n, row, l]`` is at ``n*cn + row*crow + l``.
    """
    plane, length = height * width, oh * ow
    for nc in range(n_img * chans):
        n = nc // chans
        c = nc - n * chans
        src = nc * plane
        for a in range(kh):
            i_lo, i_hi = _valid_range(a * dh - pt, sh, height, oh)
            for b in range(kw):
                dst = n * cn + ((c * kh + a) * kw + b) * crow
                col_off = b * dw - pl
                j_lo, j_hi = _valid_range(col_off, sw, width, ow)
                for q in range(dst, dst + i_lo * ow):
                    cols[q] = 0
                for i in range(i_lo, i_hi):
                    d = uint64(dst + i * ow)
                    for j in range(j_lo):
                        cols[d + j] = 0
                    # unsigned offsets: no negative-index wraparound check, so LLVM vectorises
                    # the copy (a signed index made both kernels 2-4x slower)
                    s = uint64(src + (i * sh + a * dh - pt) * width + col_off + j_lo * sw)
                    dj = d + uint64(j_lo)
                    if sw == 1:
                        for j in range(uint64(j_hi - j_lo)):
                            cols[dj + j] = x[s + j]
                    else:
                        for j in range(uint64(j_hi - j_lo)):
                            cols[dj + j] = x[s + j * uint64(sw)]
                    for j in range(j_hi, ow):
                        cols[d + j] = 0
                for q in range(dst + i_hi * ow, dst + length):
                    cols[q] = 0


@njit(cache=True)
def col2im(cols, cn, crow, n_img, chans, height, width, kh, kw, sh, sw, pt, pl, dh, dw, oh,
            ow, out):  # pragma: no cover - compiled
    """Scatter-add ``cols`` back onto the input positions (the adjoint of :func:`im2col`).

    Args:
        cols: flat buffer laid out as :func:`im2col` writes it (``cn``, ``crow`` as there).
        out: flat C-contiguous (N*C*H*W,) array of cols' dtype, overwritten with the sums.
    """
    plane = height * width
    for nc in range(n_img * chans):
        n = nc // chans
        c = nc - n * chans
        dst = nc * plane
        for q in range(dst, dst + plane):
            out[q] = 0
        for a in range(kh):
            i_lo, i_hi = _valid_range(a * dh - pt, sh, height, oh)
            for b in range(kw):
                src = n * cn + ((c * kh + a) * kw + b) * crow
                col_off = b * dw - pl
                j_lo, j_hi = _valid_range(col_off, sw, width, ow)
                for i in range(i_lo, i_hi):
                    s = uint64(src + i * ow + j_lo)  # unsigned: see im2col
                    d = uint64(dst + (i * sh + a * dh - pt) * width + col_off + j_lo * sw)
                    if sw == 1:
                        for j in range(uint64(j_hi - j_lo)):
                            out[d + j] += cols[s + j]
                    else:
                        for j in range(uint64(j_hi - j_lo)):
                            out[d + j * uint64(sw)] += cols[s + j]


def _cols_strides(cols: np.ndarray) -> tuple[np.ndarray, int, int]:
    """The flat buffer behind a [n, row, l] cols view (C-contiguous (N, R, L), or the transposed
    view of a C-contiguous (R, N, L)) and its n / row strides in elements."""
    owner = cols if cols.flags.c_contiguous else cols.transpose(1, 0, 2)
    if not owner.flags.c_contiguous:
        raise ValueError(f"conv kernels: cols must be a C-contiguous (N, R, L) array or the "
                         f"transposed view of a C-contiguous (R, N, L) one, got strides "
                         f"{cols.strides} for shape {cols.shape}")
    return owner.reshape(-1), cols.strides[0] // cols.itemsize, cols.strides[1] // cols.itemsize


def im2col_into(x: np.ndarray, kernel: tuple, stride: tuple, pads: tuple, dilation: tuple,
                out_hw: tuple, cols: np.ndarray) -> None:
    """Python-side entry point: ``cols`` ([n, row, l] view) = the receptive fields of x
    (N, C, H, W); ``pads`` is (top, left)."""
    flat, cn, crow = _cols_strides(cols)
    x = np.ascontiguousarray(x)
    im2col(x.reshape(-1), *x.shape, kernel[0], kernel[1], stride[0], stride[1], pads[0], pads[1],
         dilation[0], dilation[1], out_hw[0], out_hw[1], flat, cn, crow)


def col2im_into(cols: np.ndarray, kernel: tuple, stride: tuple, pads: tuple, dilation: tuple,
                out_hw: tuple, out: np.ndarray) -> None:
    """Python-side entry point for :func:`col2im`; ``out`` (N, C, H, W), C-contiguous, is
    overwritten."""
    flat, cn, crow = _cols_strides(cols)
    col2im(flat, cn, crow, *out.shape, kernel[0], kernel[1], stride[0], stride[1], pads[0],
         pads[1], dilation[0], dilation[1], out_hw[0], out_hw[1], out.reshape(-1))
