"""Pooling at the array level: the plain-xp (NumPy or CuPy) reference kernels behind
``Device.max_pool2d_forward`` ... (the CPU device runs Numba versions, kernels/cpu/pool.py), and
torch's output-size rule. ``ops/pool.py`` holds the primitives and the functional API.
"""

from __future__ import annotations


def pool_output_size(size: int, k: int, stride: int, pad: int, dilation: int,
                     ceil_mode: bool) -> int:
    """Output length of a pooling window sweep along one axis (torch's rule)."""
    out = (size + 2 * pad - dilation * (k - 1) - 1 + (stride - 1 if ceil_mode else 0)) \
        // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1  # the last window would start in the right padding: drop it
    return out


def _windows(xp, x, out, kernel, stride, padding, dilation, fill):
    """(N, C, OH, OW, kh, kw) strided view of ``x`` padded with ``fill`` (left/top by padding,
    right/bottom as far as the last window reaches); no copy when no padding is needed."""
    n, c, h, w = x.shape
    need = [(o - 1) * s + (k - 1) * d + 1 for o, s, k, d in zip(out, stride, kernel, dilation)]
    (ph, pw) = padding
    if ph or pw or need[0] > h or need[1] > w:
        padded = xp.full((n, c, max(need[0], ph + h), max(need[1], pw + w)), fill, x.dtype)
        padded[:, :, ph:ph + h, pw:pw + w] = x
        x = padded
    s = x.strides
    return xp.lib.stride_tricks.as_strided(
        x, (n, c, *out, *kernel), (s[0], s[1], stride[0] * s[2], stride[1] * s[3],
                                   dilation[0] * s[2], dilation[1] * s[3]))


def _first_inside(xp, n_out, stride, pad, dilation):
    """Per output, the first window position inside the input along one axis."""
    start = xp.arange(n_out) * stride - pad
    return xp.where(start < 0, start + (-start + dilation - 1) // dilation * dilation, start)


def max_pool2d_forward_reference(xp, x, kernel, stride, padding, dilation, ceil_mode):
    """(values, int64 flat indices), both (N, C, OH, OW), with torch's tie and NaN rules."""
    n, c, h, w = x.shape
    out = tuple(pool_output_size(*a, ceil_mode)
                for a in zip((h, w), kernel, stride, padding, dilation))
    floating = xp.dtype(x.dtype).kind == "f"
    fill = -xp.inf if floating else xp.iinfo(x.dtype).min
    kh, kw = kernel
    flat = _windows(xp, x, out, kernel, stride, padding, dilation, fill).reshape(
        n, c, *out, kh * kw)
    k = flat.argmax(-1)  # the first maximum, or the first NaN
    values = xp.take_along_axis(flat, k[..., None], -1)[..., 0]
    if floating:
        nan = xp.isnan(values)
        if nan.any():  # torch keeps the last NaN of a window
            k = xp.where(nan, kh * kw - 1 - xp.isnan(flat[..., ::-1]).argmax(-1), k)
    rows = (xp.arange(out[0]) * stride[0] - padding[0])[:, None] + k // kw * dilation[0]
    cols = xp.arange(out[1]) * stride[1] - padding[1] + k % kw * dilation[1]
    first = _first_inside(xp, out[0], stride[0], padding[0], dilation[0])[:, None] * w + \
        _first_inside(xp, out[1], stride[1], padding[1], dilation[1])
    # a window that is all `fill` may have picked a padded spot: torch reports its first
    # position inside the input
    indices = xp.where(values == fill, first, rows * w + cols).astype(xp.int64)
    return values, indices


def max_pool2d_backward_reference(xp, g, indices, x_shape):
    """(N, C, H, W) gradient: g summed at each argmax index (bincount over all planes)."""
    n, c, h, w = x_shape
    base = (xp.arange(n * c, dtype=xp.int64) * (h * w)).reshape(n, c, 1, 1)
    outside = indices >= h * w  # dilated windows that miss the input (see kernels/cpu/pool)
    if outside.any():
        indices, g = xp.where(outside, 0, indices), xp.where(outside, 0, g)
    gx = xp.bincount((indices + base).ravel(), weights=g.ravel(), minlength=n * c * h * w)
    return gx.astype(g.dtype, copy=False).reshape(x_shape)


def _avg_divisor(xp, in_hw, out_hw, kernel, stride, padding, count_include_pad, divisor):
    """(OH, OW) divisors of torch's avg_pool2d (1 for an empty window, whose sum is 0)."""
    if divisor:
        return divisor
    counts = []
    for size, o, k, s, p in zip(in_hw, out_hw, kernel, stride, padding):
        start = xp.arange(o) * s - p
        end = xp.minimum(start + k, size + p)
        inside = xp.minimum(end, size) - xp.maximum(start, 0)
        counts.append(end - start if count_include_pad else xp.maximum(inside, 0))
    div = counts[0][:, None] * counts[1]
    return xp.where(div == 0, 1, div)


def avg_pool2d_forward_reference(xp, x, kernel, stride, padding, ceil_mode, count_include_pad,
                                 divisor_override):
    """(N, C, OH, OW) window means (float16 sums in float32, integers divide truncating)."""
    n, c, h, w = x.shape
    out = tuple(pool_output_size(*a, 1, ceil_mode) for a in zip((h, w), kernel, stride, padding))
    kind = xp.dtype(x.dtype).kind
    acc_dtype = xp.int64 if kind in "iub" else xp.float32 if x.dtype == xp.float16 else x.dtype
    win = _windows(xp, x, out, kernel, stride, padding, (1, 1), 0)
    total = win.sum((-2, -1), dtype=acc_dtype)
    div = _avg_divisor(xp, (h, w), out, kernel, stride, padding, count_include_pad,
                       divisor_override)
    if kind in "iub":
        return xp.trunc(total / div).astype(x.dtype)
    return (total / xp.asarray(div, dtype=acc_dtype)).astype(x.dtype, copy=False)


def avg_pool2d_backward_reference(xp, g, x_shape, kernel, stride, padding, count_include_pad,
                                  divisor_override):
    """(N, C, H, W) gradient: each g / divisor added over its window (a loop over offsets)."""
    n, c, h, w = x_shape
    (oh, ow), (kh, kw), (sh, sw), (ph, pw) = g.shape[2:], kernel, stride, padding
    div = _avg_divisor(xp, (h, w), (oh, ow), kernel, stride, padding, count_include_pad,
                       divisor_override)
    share = g / xp.asarray(div, dtype=g.dtype)
    gx = xp.zeros((n, c, max((oh - 1) * sh + kh, ph + h), max((ow - 1) * sw + kw, pw + w)),
                  g.dtype)
    for i in range(kh):
        for j in range(kw):
            gx[:, :, i:i + (oh - 1) * sh + 1:sh, j:j + (ow - 1) * sw + 1:sw] += share
    return xp.ascontiguousarray(gx[:, :, ph:ph + h, pw:pw + w])
