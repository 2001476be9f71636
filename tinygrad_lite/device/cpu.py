"""The CPU device: NumPy arrays, NumPy's BLAS for matmul, Numba kernels (kernels/cpu) for the hot
paths. The kernel modules are imported on first use so that importing tinygrad_lite stays fast.
"""

from __future__ import annotations

import numpy as np

from .base import Device

_NUMBA_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_xent_module = None


def _softmax_xent():
    """kernels/cpu/softmax_xent, imported on first use (Numba loads only when needed)."""
    global _xent_module
    if _xent_module is None:
        from tinygrad_lite.kernels.cpu import softmax_xent

        _xent_module = softmax_xent
    return _xent_module


_optim_module = None


def _optim_kernels():
    """kernels/cpu/optim (fused optimiser updates), imported on first use."""
    global _optim_module
    if _optim_module is None:
        from tinygrad_lite.kernels.cpu import optim

        _optim_module = optim
    return _optim_module


_conv_module = None


def _conv_kernels():
    """kernels/cpu/conv (im2col/col2im), imported on first use."""
    global _conv_module
    if _conv_module is None:
        from tinygrad_lite.kernels.cpu import conv

        _conv_module = conv
    return _conv_module


_pool_module = None


def _pool_kernels():
    """kernels/cpu/pool (max/avg pooling), imported on first use."""
    global _pool_module
    if _pool_module is None:
        from tinygrad_lite.kernels.cpu import pool

        _pool_module = pool
    return _pool_module


def _pool_out_hw(x, kernel, stride, padding, dilation, ceil_mode):
    from ..ops.pool_reference import pool_output_size

    return tuple(pool_output_size(*a, ceil_mode)
                 for a in zip(x.shape[2:], kernel, stride, padding, dilation))


class CPUDevice(Device):
    """NumPy arrays; the matmul is NumPy's BLAS; hot paths are Numba kernels (kernels/cpu)."""

    type = "cpu"
    xp = np
    array_type = np.ndarray

    def __init__(self):
        super().__init__()
        self.generator = np.random.default_rng()

    def to_numpy(self, array) -> np.ndarray:
        return array

    def from_numpy(self, array: np.ndarray) -> np.ndarray:
        return array

    def seed(self, seed: int) -> None:
        self.generator = np.random.default_rng(seed)

    def quiet(self):
        return np.errstate(divide="ignore", invalid="ignore", over="ignore")

    def erf(self, x):
        from tinygrad_lite.kernels.cpu.special import erf

        if x.dtype == np.float16:
            return erf(x.astype(np.float32)).astype(np.float16)
        return erf(x)

    def relu_backward(self, g, y):
        if g.dtype not in _NUMBA_FLOATS or g.dtype != y.dtype or g.shape != y.shape:
            return super().relu_backward(g, y)
        from tinygrad_lite.kernels.cpu.elementwise import relu_backward

        return relu_backward(g, y)

    def cross_entropy_forward(self, x, target, weight, ignore_index: int, smoothing: float):
        if x.dtype not in _NUMBA_FLOATS:  # float16: the reference (upcasting would copy)
            return super().cross_entropy_forward(x, target, weight, ignore_index, smoothing)
        xent = _softmax_xent()
        x = np.ascontiguousarray(x)
        target = np.ascontiguousarray(target, dtype=np.int64)
        weight = xent.empty_weight(x.dtype) if weight is None else np.ascontiguousarray(weight)
        stats = np.empty((3, x.shape[0]), x.dtype)  # row losses, maxima, log exp-sums
        loss_sum, weight_sum, bad = xent.softmax_xent_forward(
            x, target, weight, ignore_index, smoothing, stats)
        return stats[0], stats, loss_sum, weight_sum, bad

    def cross_entropy_backward(self, x, target, weight, ignore_index: int, smoothing: float,
                               saved, grad_loss):
        if x.dtype not in _NUMBA_FLOATS:
            return super().cross_entropy_backward(x, target, weight, ignore_index, smoothing,
                                                  saved, grad_loss)
        xent = _softmax_xent()
        x = np.ascontiguousarray(x)
        grad = np.empty(x.shape, x.dtype)
        xent.softmax_xent_backward(
            x, np.ascontiguousarray(target, dtype=np.int64),
            xent.empty_weight(x.dtype) if weight is None else np.ascontiguousarray(weight),
            ignore_index, smoothing, saved, np.ascontiguousarray(grad_loss, dtype=x.dtype), grad)
        return grad

    def adam_step(self, *args) -> None:
        if not _optim_kernels().adam_step(*args):  # False: a dtype/layout the kernel lacks
            super().adam_step(*args)

    def sgd_step(self, *args) -> None:
        if not _optim_kernels().sgd_step(*args):
            super().sgd_step(*args)

    def rmsprop_step(self, *args) -> None:
        if not _optim_kernels().rmsprop_step(*args):
            super().rmsprop_step(*args)

    # conv: the reference's GEMM code with the Numba im2col/col2im (float16 and others: the
    # reference). Measured at the MNIST CNN's layers (batch 64, float32): col2im 0.06/0.76/0.57
    # ms vs NumPy's 0.15/2.07/1.02; im2col 0.05/0.71 vs 0.08/0.94 for outputs 26 and 11 wide,
    # but 0.81 vs 0.38 for 3-wide rows (per-row overhead), where NumPy's strided copy stays.
    def _im2col(self, x_shape, w_shape, stride, padding, dilation):
        out_w = (x_shape[3] + sum(padding[1]) - dilation[1] * (w_shape[3] - 1) - 1) \
            // stride[1] + 1
        return _conv_kernels().im2col_into if out_w >= 8 else None

    def conv2d_forward(self, x, w, stride, padding, dilation, groups):
        if x.dtype not in _NUMBA_FLOATS:
            return super().conv2d_forward(x, w, stride, padding, dilation, groups)
        from ..ops.conv_reference import conv2d_forward_reference

        return conv2d_forward_reference(np, x, w, stride, padding, dilation, groups,
                                        self._im2col(x.shape, w.shape, stride, padding, dilation))

    def conv2d_backward_weight(self, x, g, w_shape, stride, padding, dilation, groups,
                               cols=None):
        if x.dtype not in _NUMBA_FLOATS:
            return super().conv2d_backward_weight(x, g, w_shape, stride, padding, dilation,
                                                  groups, cols)
        from ..ops.conv_reference import conv2d_backward_weight_reference

        return conv2d_backward_weight_reference(
            np, x, g, w_shape, stride, padding, dilation, groups, cols,
            self._im2col(x.shape, w_shape, stride, padding, dilation))

    def conv2d_backward_data(self, g, w, x_shape, stride, padding, dilation, groups):
        if g.dtype not in _NUMBA_FLOATS:
            return super().conv2d_backward_data(g, w, x_shape, stride, padding, dilation,
                                                groups)
        from ..ops.conv_reference import conv2d_backward_data_reference

        return conv2d_backward_data_reference(np, g, w, x_shape, stride, padding, dilation,
                                              groups, col2im=_conv_kernels().col2im_into)

    def max_pool2d_forward(self, x, kernel, stride, padding, dilation, ceil_mode):
        if x.dtype not in _NUMBA_FLOATS:
            return super().max_pool2d_forward(x, kernel, stride, padding, dilation, ceil_mode)
        out_hw = _pool_out_hw(x, kernel, stride, padding, dilation, ceil_mode)
        return _pool_kernels().max_pool2d(x, out_hw, kernel, stride, padding, dilation)

    def max_pool2d_backward(self, g, indices, x_shape):
        if g.dtype not in _NUMBA_FLOATS:
            return super().max_pool2d_backward(g, indices, x_shape)
        return _pool_kernels().max_pool2d_grad(g, indices, x_shape)

    def avg_pool2d_forward(self, x, kernel, stride, padding, ceil_mode, count_include_pad,
                           divisor_override):
        if x.dtype not in _NUMBA_FLOATS:
            return super().avg_pool2d_forward(x, kernel, stride, padding, ceil_mode,
                                              count_include_pad, divisor_override)
        out_hw = _pool_out_hw(x, kernel, stride, padding, (1, 1), ceil_mode)
        return _pool_kernels().avg_pool2d(x, out_hw, kernel, stride, padding,
                                          count_include_pad, divisor_override)

    def avg_pool2d_backward(self, g, x_shape, kernel, stride, padding, count_include_pad,
                            divisor_override):
        if g.dtype not in _NUMBA_FLOATS:
            return super().avg_pool2d_backward(g, x_shape, kernel, stride, padding,
                                               count_include_pad, divisor_override)
        return _pool_kernels().avg_pool2d_grad(g, x_shape, kernel, stride, padding,
                                               count_include_pad, divisor_override)

    def masked_softmax(self, scores, scale, bias, masked, causal):
        if scores.dtype not in _NUMBA_FLOATS or (bias is not None and bias.dtype != scores.dtype):
            return super().masked_softmax(scores, scale, bias, masked, causal)
        from tinygrad_lite.kernels.cpu.attention import masked_softmax

        return masked_softmax(scores, scale, bias, masked, causal)

    def masked_softmax_backward(self, g, y, scale):
        if y.dtype not in _NUMBA_FLOATS or g.dtype != y.dtype or g.shape != y.shape:
            return super().masked_softmax_backward(g, y, scale)
        from tinygrad_lite.kernels.cpu.attention import masked_softmax_backward

        return masked_softmax_backward(g, y, scale)

    def embedding_backward(self, g, indices, num_embeddings, padding_idx, row_scale):
        if g.dtype not in _NUMBA_FLOATS:
            return super().embedding_backward(g, indices, num_embeddings, padding_idx, row_scale)
        from tinygrad_lite.kernels.cpu.embedding import embedding_backward

        return embedding_backward(g, indices, num_embeddings, padding_idx, row_scale)

    def reshapes_as_view(self, array, shape) -> bool:
        try:  # NumPy >= 2.1 refuses instead of copying: no throwaway copy to find out
            np.reshape(array, shape, copy=False)
        except ValueError:
            return False
        except TypeError:  # older NumPy without the copy argument
            return super().reshapes_as_view(array, shape)
        return True
