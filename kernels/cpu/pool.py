"""Max and average pooling kernels for the CPU (forward and backward), on (P, H, W) planes.

The caller flattens (N, C) into P independent planes (C-contiguous) and allocates the outputs;
the ops and the window rules live in tinygrad_lite/ops/pool.py. Windows follow torch's CPU
kernels exactly, so values, indices and divisors match torch bit for bit where the arithmetic
allows:

* max: the window of output (oh, ow) starts at (oh*sh - ph, ow*sw - pw) and steps by the
  dilation; positions outside the plane (padding, the ceil_mode overhang) are skipped. A value
  replaces the running maximum when it is greater, or when it is NaN, so ties keep the first
  index in row-major order, the last NaN of a window wins, and an all -inf window reports its
  first in-plane position. Indices are flat into the plane (ih * W + iw). A dilated window can
  miss every input row (e.g. H = 1, padding 1, dilation 2): it gives -inf and, like torch, the
  index of its first row/column at or after 0, which lies past the plane.
* avg: the window is clipped to the padded plane for ``count_include_pad`` (torch counts padded
  zeros but not the ceil_mode overhang beyond them) and to the plane for the sum and for the
  divisor without ``count_include_pad``; ``divisor`` > 0 overrides both.

The loops are serial on purpose (no ``parallel=True``): in a training step these kernels run
between BLAS GEMMs, and Numba's OpenMP workers keep spinning after a parallel region and fight
OpenBLAS's threads for the cores; on the 2-core reference box the MNIST CNN training step
(batch 64) measured 22-25 ms with these kernels serial against 44-57 ms with ``prange``
versions of them (and 25 ms with those limited to one thread). The common 2x2 / stride 2
max pooling without padding or dilation has its own kernel (:func:`max_pool2d_k2s2`): no
clipping, a branch-free select per element that LLVM vectorises along the output row, about 3x
faster than the general loop (1.0 against 3.3 ms at (64, 32, 26, 26) float32).

Forward sums accumulate in float64 and round once; torch's float32 kernels accumulate in
float32, so float32 averages can differ from torch's by an ulp or two. The backward divides in
the gradient's dtype, as torch.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def max_pool2d_forward(x, out, idx, kh, kw, sh, sw, ph, pw, dh, dw):  # pragma: no cover
    """Max over each window of each plane.

    Args:
        x: (P, H, W) float32/float64 input, C-contiguous.
        out: (P, OH, OW) output of x's dtype (written).
        idx: (P, OH, OW) int64 flat argmax indices into the (H, W) plane (written).
        kh, kw, sh, sw, ph, pw, dh, dw: kernel, stride, padding and dilation per axis.
    """
    n_planes, height, width = x.shape
    out_h, out_w = out.shape[1], out.shape[2]
    for p in range(n_planes):
        plane = x[p]
        for oh in range(out_h):
            h0 = oh * sh - ph
            h1 = min(h0 + (kh - 1) * dh + 1, height)
            while h0 < 0:
                h0 += dh
            for ow in range(out_w):
                w0 = ow * sw - pw
                w1 = min(w0 + (kw - 1) * dw + 1, width)
                while w0 < 0:
                    w0 += dw
                best = -np.inf
                best_at = h0 * width + w0
                for ih in range(h0, h1, dh):
                    for iw in range(w0, w1, dw):
                        v = plane[ih, iw]
                        take = (v > best) | (v != v)  # v != v: NaN wins and propagates (torch)
                        best = v if take else best
                        best_at = ih * width + iw if take else best_at
                out[p, oh, ow] = best
                idx[p, oh, ow] = best_at


@njit(cache=True)
def max_pool2d_k2s2(x, out, idx):  # pragma: no cover
    """:func:`max_pool2d_forward` for a 2x2 kernel, stride 2, no padding, dilation 1.

    Same rules in the same order (row-major scan, greater or NaN replaces), written as selects
    without branches so the loop over an output row vectorises (separate selects for the value
    and the offset: a tuple select measured 10% slower). The first element seeds the
    scan: it replaces the -inf start in every case but -inf itself, where the index is the same.

    Args:
        x: (P, H, W) float32/float64 input, C-contiguous, H >= 2 OH and W >= 2 OW.
        out: (P, OH, OW) output of x's dtype (written).
        idx: (P, OH, OW) int64 flat argmax indices into the (H, W) plane (written).
    """
    n_planes, width = x.shape[0], x.shape[2]
    out_h, out_w = out.shape[1], out.shape[2]
    for p in range(n_planes):
        for oh in range(out_h):
            top, bottom = x[p, 2 * oh], x[p, 2 * oh + 1]
            values, at = out[p, oh], idx[p, oh]
            row_start = 2 * oh * width
            for ow in range(out_w):
                c = 2 * ow
                best, k = top[c], 0
                v = top[c + 1]
                take = (v > best) | (v != v)
                best = v if take else best
                k = 1 if take else k
                v = bottom[c]
                take = (v > best) | (v != v)
                best = v if take else best
                k = width if take else k
                v = bottom[c + 1]
                take = (v > best) | (v != v)
                best = v if take else best
                k = width + 1 if take else k
                values[ow] = best
                at[ow] = row_start + c + k


@njit(cache=True)
def max_pool2d_backward(g, idx, gx):  # pragma: no cover
    """Scatter-add each output gradient to its argmax position.

    Args:
        g: (P, K) upstream gradient (K = OH * OW), C-contiguous.
        idx: (P, K) int64 flat indices from :func:`max_pool2d_forward`; an index past the plane
            (a dilated window that misses every input row or column) is skipped.
        gx: (P, H * W) gradient of the input (overwritten).
    """
    n_planes, n_out = g.shape
    plane_size = gx.shape[1]
    for p in range(n_planes):
        row = gx[p]
        row[:] = 0
        for k in range(n_out):
            at = idx[p, k]
            if at < plane_size:  # a window with no input position (dilation): no gradient
                row[at] += g[p, k]


@njit(cache=True, inline="always")
def _window(o, stride, pad, k, size):  # pragma: no cover
    """Window of output ``o`` on one axis: (start, end) clipped to the plane and the length
    counted by count_include_pad (clipped to the padded plane only)."""
    start = o * stride - pad
    end = min(start + k, size + pad)
    padded_len = end - start
    return max(start, 0), min(end, size), padded_len


@njit(cache=True)
def avg_pool2d_forward(x, out, kh, kw, sh, sw, ph, pw, count_include_pad,
                       divisor):  # pragma: no cover
    """Mean over each window of each plane (torch's divisor rules).

    Args:
        x: (P, H, W) float32/float64 input, C-contiguous.
        out: (P, OH, OW) output of x's dtype (written).
        kh, kw, sh, sw, ph, pw: kernel, stride and padding per axis.
        count_include_pad: whether padded zeros count in the divisor.
        divisor: divisor_override, or 0 for none.
    """
    n_planes, height, width = x.shape
    out_h, out_w = out.shape[1], out.shape[2]
    for p in range(n_planes):
        plane = x[p]
        for oh in range(out_h):
            h0, h1, len_h = _window(oh, sh, ph, kh, height)
            for ow in range(out_w):
                w0, w1, len_w = _window(ow, sw, pw, kw, width)
                if h0 >= h1 or w0 >= w1:
                    out[p, oh, ow] = 0
                    continue
                total = 0.0
                for ih in range(h0, h1):
                    for iw in range(w0, w1):
                        total += plane[ih, iw]
                if divisor > 0:
                    count = divisor
                elif count_include_pad:
                    count = len_h * len_w
                else:
                    count = (h1 - h0) * (w1 - w0)
                out[p, oh, ow] = total / count


@njit(cache=True)
def _avg_counts(out_h, out_w, kh, kw, sh, sw, ph, pw, height, width, count_include_pad,
                divisor):  # pragma: no cover
    """(OH, OW) float64 divisors of :func:`avg_pool2d_forward`'s windows (0: empty window)."""
    counts = np.empty((out_h, out_w))
    for oh in range(out_h):
        h0, h1, len_h = _window(oh, sh, ph, kh, height)
        for ow in range(out_w):
            w0, w1, len_w = _window(ow, sw, pw, kw, width)
            if divisor > 0:
                counts[oh, ow] = divisor
            elif count_include_pad:
                counts[oh, ow] = len_h * len_w
            else:
                counts[oh, ow] = max(h1 - h0, 0) * max(w1 - w0, 0)
    return counts


@njit(cache=True)
def avg_pool2d_backward(g, gx, kh, kw, sh, sw, ph, pw, count_include_pad,
                        divisor):  # pragma: no cover
    """Adjoint of :func:`avg_pool2d_forward`: each output gradient, divided by its window's
    divisor, is added to every in-plane position of the window.

    Per output row, the shares g / divisor are computed once, then each kernel offset (i, j)
    adds them along an input row with stride ``sw`` (no per-window bounds: the in-plane range
    of output columns is worked out per offset). The indices are unsigned so that Numba emits
    no negative-index wraparound, which kept LLVM from vectorising: per-window loops, or signed
    indices, measured 1.2-1.5x slower than NumPy's strided adds, this 1.3-2.2x faster.

    Args:
        g: (P, OH, OW) upstream gradient, C-contiguous.
        gx: (P, H, W) gradient of the input (overwritten).
        Others as :func:`avg_pool2d_forward`.
    """
    n_planes, height, width = gx.shape
    out_h, out_w = g.shape[1], g.shape[2]
    counts = _avg_counts(out_h, out_w, kh, kw, sh, sw, ph, pw, height, width,
                         count_include_pad, divisor)
    share = np.empty(out_w, gx.dtype)
    # output columns ow whose offset-j column ow*sw - pw + j lies in [0, width)
    col_lo = np.empty(kw, np.int64)
    col_hi = np.empty(kw, np.int64)
    for j in range(kw):
        col_lo[j] = min(max(-((j - pw) // sw), 0), out_w)  # ceil((pw - j) / sw), clipped
        col_hi[j] = max(min((width - 1 + pw - j) // sw + 1, out_w), col_lo[j])
    for p in range(n_planes):
        plane = gx[p]
        plane[:, :] = 0
        for oh in range(out_h):
            for ow in range(out_w):
                c = counts[oh, ow]
                share[ow] = g[p, oh, ow] / c if c > 0 else 0.0  # empty: never with torch's rule
            for i in range(kh):
                ih = oh * sh - ph + i
                if ih < 0 or ih >= height:
                    continue
                row = plane[ih]
                for j in range(kw):
                    lo, hi = col_lo[j], col_hi[j]
                    dst, src = row[lo * sw + j - pw:], share[lo:hi]
                    for t in range(hi - lo):  # unsigned indices: no wraparound code
                        dst[np.uint64(t * sw)] += src[np.uint64(t)]


# ---- entry points (called from CPUDevice): reshape to planes, allocate, run ------------------
def max_pool2d(x, out_hw, kernel, stride, padding, dilation):
    """(values, int64 indices), each (N, C, OH, OW), of a float32/float64 (N, C, H, W) ``x``."""
    n, c, h, w = x.shape
    planes = np.ascontiguousarray(x).reshape(n * c, h, w)
    out = np.empty((n * c, *out_hw), x.dtype)
    idx = np.empty((n * c, *out_hw), np.int64)
    if kernel == (2, 2) and stride == (2, 2) and padding == (0, 0) and dilation == (1, 1) \
            and 2 * out_hw[0] <= h and 2 * out_hw[1] <= w:  # no ceil_mode overhang
        max_pool2d_k2s2(planes, out, idx)
    else:
        max_pool2d_forward(planes, out, idx, *kernel, *stride, *padding, *dilation)
    return out.reshape(n, c, *out_hw), idx.reshape(n, c, *out_hw)


def max_pool2d_grad(g, indices, x_shape):
    """(N, C, H, W) gradient of :func:`max_pool2d` for upstream ``g`` (N, C, OH, OW)."""
    n, c, h, w = x_shape
    gx = np.empty((n * c, h * w), g.dtype)
    max_pool2d_backward(np.ascontiguousarray(g).reshape(n * c, -1),
                        np.ascontiguousarray(indices).reshape(n * c, -1), gx)
    return gx.reshape(x_shape)


def avg_pool2d(x, out_hw, kernel, stride, padding, count_include_pad, divisor):
    """(N, C, OH, OW) window means of a float32/float64 (N, C, H, W) ``x``."""
    n, c, h, w = x.shape
    out = np.empty((n * c, *out_hw), x.dtype)
    avg_pool2d_forward(np.ascontiguousarray(x).reshape(n * c, h, w), out, *kernel, *stride,
                       *padding, count_include_pad, divisor or 0)
    return out.reshape(n, c, *out_hw)


def avg_pool2d_grad(g, x_shape, kernel, stride, padding, count_include_pad, divisor):
    """(N, C, H, W) gradient of :func:`avg_pool2d` for upstream ``g`` (N, C, OH, OW)."""
    n, c, h, w = x_shape
    gx = np.empty((n * c, h, w), g.dtype)
    avg_pool2d_backward(np.ascontiguousarray(g).reshape(n * c, *g.shape[2:]), gx, *kernel,
                        *stride, *padding, count_include_pad, divisor or 0)
    return gx.reshape(x_shape)
