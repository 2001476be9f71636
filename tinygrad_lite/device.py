"""Devices: the only module that knows which array library backs a tensor.

A :class:`Device` carries the array module (``xp``: NumPy or CuPy), array creation, transfer,
the random generator and the kernel entry points. Ops call ``tensor.device.xp`` and
``tensor.device.<kernel>``; nothing outside this file branches on the device type.
"""

from __future__ import annotations

import contextlib

import numpy as np


class Device:
    """Base class; one instance per physical device, compared by identity."""

    type: str = ""
    xp = None

    def __init__(self, index: int | None = None):
        self.index = index
        self.generator = None

    def __repr__(self) -> str:
        return f"device(type='{self.type}')" if self.index is None else \
            f"device(type='{self.type}', index={self.index})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            try:
                return get_device(other) is self
            except (RuntimeError, ValueError):
                return False
        return self is other

    __hash__ = object.__hash__

    # array creation and transfer -------------------------------------------------------------
    def asarray(self, data, dtype=None):
        return self.xp.asarray(data, dtype=dtype)

    def to_numpy(self, array) -> np.ndarray:
        raise NotImplementedError

    def quiet(self):
        """Context in which division by zero, log(0) etc. give inf/nan silently, as in torch."""
        return contextlib.nullcontext()

    def is_contiguous(self, array) -> bool:
        return bool(array.flags.c_contiguous)

    def reshapes_as_view(self, array, shape) -> bool:
        """Whether ``array.reshape(shape)`` can share memory (torch's ``view`` contract)."""
        return bool(self.xp.may_share_memory(array.reshape(shape), array))

    def from_numpy(self, array: np.ndarray):
        raise NotImplementedError

    def seed(self, seed: int) -> None:
        raise NotImplementedError

    # kernel entry points (the base versions are plain xp code; devices override the hot ones) --
    def erf(self, x):
        """Elementwise Gauss error function (float16 computed in float32)."""
        raise NotImplementedError(f"erf: no kernel for device {self}")

    def relu_backward(self, g, y):
        """ReLU's gradient from its output ``y``: 0 where ``y <= 0``, else ``g``."""
        from .ops.unary import relu_backward_reference

        return relu_backward_reference(self.xp, g, y)

    def cross_entropy_forward(self, x, target, weight, ignore_index: int, smoothing: float):
        """Fused log-softmax + NLL over rows (reference in plain xp; see kernels/cpu/softmax_xent).

        Args:
            x: (M, C) floating logits; target: (M,) int64; weight: (C,) of x's dtype or None.

        Returns:
            ``(loss (M,), saved, loss_sum, weight_sum, bad_row)``: ``saved`` is what the backward
            needs (device-specific), the sums are Python floats, ``bad_row`` is the first row
            with an out-of-range target (-1 if none).
        """
        xp = self.xp
        m_rows, n_cls = x.shape
        ignored = target == ignore_index
        bad = xp.nonzero(~ignored & ((target < 0) | (target >= n_cls)))[0]
        if bad.size:
            return None, None, 0.0, 0.0, int(bad[0])
        safe = xp.where(ignored, 0, target)
        with self.quiet():
            row_max = x.max(axis=1) if n_cls else xp.zeros(m_rows, x.dtype)
            row_max = xp.where(xp.isfinite(row_max), row_max, 0).astype(x.dtype)
            shifted = x - row_max[:, None]
            row_logsum = xp.log(xp.exp(shifted).sum(axis=1))
            w_t = xp.where(ignored, 0, 1 if weight is None else weight[safe]).astype(x.dtype)
            picked = xp.take_along_axis(shifted, safe[:, None], axis=1)[:, 0]
            loss = (1 - smoothing) * w_t * (row_logsum - picked)
            if smoothing:
                w = 1 if weight is None else weight
                smooth = (w * (row_logsum[:, None] - shifted)).sum(axis=1)
                loss = loss + smoothing / n_cls * smooth
            loss = xp.where(ignored, 0, loss).astype(x.dtype)
        return loss, (row_max, row_logsum), float(loss.sum()), float(w_t.sum()), -1

    def cross_entropy_backward(self, x, target, weight, ignore_index: int, smoothing: float,
                               saved, grad_loss):
        """Gradient of :meth:`cross_entropy_forward`'s row losses; ``grad_loss`` is (M,) or (1,).

        Returns:
            (M, C) ``grad_loss * (((1-s) w_t + s/C sum(w)) softmax - (1-s) w_t onehot - s/C w)``,
            zero on ignored rows.
        """
        xp = self.xp
        n_cls = x.shape[1]
        row_max, row_logsum = saved
        ignored = target == ignore_index
        safe = xp.where(ignored, 0, target)
        w_t = xp.where(ignored, 0, 1 if weight is None else weight[safe]).astype(x.dtype)
        w_all = n_cls if weight is None else weight.sum()
        keep, share = 1 - smoothing, smoothing / n_cls
        prob = xp.exp(x - row_max[:, None] - row_logsum[:, None])
        grad = prob * (keep * w_t + share * w_all * ~ignored)[:, None]
        xp.put_along_axis(grad, safe[:, None], xp.take_along_axis(grad, safe[:, None], axis=1)
                          - (keep * w_t)[:, None], axis=1)
        if smoothing:
            grad -= share * (1 if weight is None else weight) * ~ignored[:, None]
        return (grad * grad_loss[:, None]).astype(x.dtype)

    # optimiser updates (tinygrad_lite/optim): in place on backend arrays, never a graph. The
    # base versions are the array-generic references; CPUDevice runs fused Numba kernels.
    def adam_step(self, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, scalars,
                  maximize: bool, decay_mode: int, amsgrad: bool) -> None:
        """Adam/AdamW update of ``param``, ``exp_avg``, ``exp_avg_sq`` (and ``max_exp_avg_sq``
        when amsgrad); see tinygrad_lite/optim/adam.py for the scalars."""
        from .optim.adam import adam_reference

        adam_reference(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, scalars, maximize,
                       decay_mode, amsgrad)

    def sgd_step(self, param, grad, momentum_buffer, scalars, maximize: bool, has_decay: bool,
                 first: bool, nesterov: bool) -> None:
        """SGD update of ``param`` (and ``momentum_buffer`` unless None); see optim/sgd.py."""
        from .optim.sgd import sgd_reference

        sgd_reference(param, grad, momentum_buffer, scalars, maximize, has_decay, first,
                      nesterov)

    def rmsprop_step(self, param, grad, square_avg, grad_avg, momentum_buffer, scalars,
                     maximize: bool) -> None:
        """RMSprop update in place; see tinygrad_lite/optim/rmsprop.py."""
        from .optim.rmsprop import rmsprop_reference

        rmsprop_reference(param, grad, square_avg, grad_avg, momentum_buffer, scalars, maximize)

    # convolution (N, C, H, W); padding is ((top, bottom), (left, right)); the references are
    # the im2col + GEMM drivers in ops/conv.py ---------------------------------------------------
    def conv2d_forward(self, x, w, stride, padding, dilation, groups: int):
        """``(y, cols)``: y (N, O, OH, OW) = conv of x (N, C, H, W) with w (O, C/groups, kh, kw);
        ``cols`` is whatever :meth:`conv2d_backward_weight` can reuse (or None)."""
        from .ops.conv_reference import conv2d_forward_reference

        return conv2d_forward_reference(self.xp, x, w, stride, padding, dilation, groups)

    def conv2d_backward_data(self, g, w, x_shape, stride, padding, dilation, groups: int):
        """Gradient wrt the input, shape ``x_shape``, of a conv with upstream ``g``."""
        from .ops.conv_reference import conv2d_backward_data_reference

        return conv2d_backward_data_reference(self.xp, g, w, x_shape, stride, padding, dilation,
                                              groups)

    def conv2d_backward_weight(self, x, g, w_shape, stride, padding, dilation, groups: int,
                               cols=None):
        """Gradient wrt the weight, shape ``w_shape``, of a conv with upstream ``g``; ``cols``
        is the forward's second result, when kept."""
        from .ops.conv_reference import conv2d_backward_weight_reference

        return conv2d_backward_weight_reference(self.xp, x, g, w_shape, stride, padding,
                                                dilation, groups, cols)

    # pooling (N, C, H, W); the references are in ops/pool.py ----------------------------------
    def max_pool2d_forward(self, x, kernel, stride, padding, dilation, ceil_mode: bool):
        """(values, int64 flat indices into each (H, W) plane), both (N, C, OH, OW)."""
        from .ops.pool_reference import max_pool2d_forward_reference

        return max_pool2d_forward_reference(self.xp, x, kernel, stride, padding, dilation,
                                            ceil_mode)

    def max_pool2d_backward(self, g, indices, x_shape):
        """(N, C, H, W) gradient: upstream ``g`` (N, C, OH, OW) summed at ``indices``."""
        from .ops.pool_reference import max_pool2d_backward_reference

        return max_pool2d_backward_reference(self.xp, g, indices, x_shape)

    def avg_pool2d_forward(self, x, kernel, stride, padding, ceil_mode: bool,
                           count_include_pad: bool, divisor_override):
        """(N, C, OH, OW) window means with torch's divisor rules."""
        from .ops.pool_reference import avg_pool2d_forward_reference

        return avg_pool2d_forward_reference(self.xp, x, kernel, stride, padding, ceil_mode,
                                            count_include_pad, divisor_override)

    def avg_pool2d_backward(self, g, x_shape, kernel, stride, padding, count_include_pad: bool,
                            divisor_override):
        """(N, C, H, W) adjoint of :meth:`avg_pool2d_forward` applied to ``g``."""
        from .ops.pool_reference import avg_pool2d_backward_reference

        return avg_pool2d_backward_reference(self.xp, g, x_shape, kernel, stride, padding,
                                             count_include_pad, divisor_override)

    # attention (nn/attention.py holds the references) -----------------------------------------
    def masked_softmax(self, scores, scale: float, bias, masked, causal: bool):
        """Softmax over the last dim of ``scale * scores + bias`` with ``masked`` (bool) and,
        if ``causal``, keys j > i left out; all-masked rows are 0."""
        from .nn.attention import masked_softmax_reference

        return masked_softmax_reference(self.xp, scores, scale, bias, masked, causal)

    def masked_softmax_backward(self, g, y, scale: float):
        """``scale * y * (g - sum(g * y, -1))``."""
        from .nn.attention import masked_softmax_backward_reference

        return masked_softmax_backward_reference(self.xp, g, y, scale)

    def embedding_backward(self, g, indices, num_embeddings: int, padding_idx, row_scale):
        """(num_embeddings, D) weight gradient of an embedding lookup; see nn/embedding.py."""
        from .nn.embedding import embedding_backward_reference

        return embedding_backward_reference(self.xp, g, indices, num_embeddings, padding_idx,
                                            row_scale)


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
    from .ops.pool_reference import pool_output_size

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
        from .ops.conv_reference import conv2d_forward_reference

        return conv2d_forward_reference(np, x, w, stride, padding, dilation, groups,
                                        self._im2col(x.shape, w.shape, stride, padding, dilation))

    def conv2d_backward_weight(self, x, g, w_shape, stride, padding, dilation, groups,
                               cols=None):
        if x.dtype not in _NUMBA_FLOATS:
            return super().conv2d_backward_weight(x, g, w_shape, stride, padding, dilation,
                                                  groups, cols)
        from .ops.conv_reference import conv2d_backward_weight_reference

        return conv2d_backward_weight_reference(
            np, x, g, w_shape, stride, padding, dilation, groups, cols,
            self._im2col(x.shape, w_shape, stride, padding, dilation))

    def conv2d_backward_data(self, g, w, x_shape, stride, padding, dilation, groups):
        if g.dtype not in _NUMBA_FLOATS:
            return super().conv2d_backward_data(g, w, x_shape, stride, padding, dilation,
                                                groups)
        from .ops.conv_reference import conv2d_backward_data_reference

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


class CUDADevice(Device):
    """CuPy arrays on an NVIDIA GPU; created lazily, so importing tinygrad_lite never needs CuPy."""

    type = "cuda"

    def __init__(self, index: int = 0):
        super().__init__(index)
        try:
            import cupy
        except ImportError:
            raise RuntimeError(
                "device 'cuda': CuPy is not installed. Install the CUDA extra "
                "(pip install 'tinygrad-lite[cuda]', i.e. cupy-cuda12x) on a machine with an "
                "NVIDIA GPU and driver."
            ) from None
        try:
            count = cupy.cuda.runtime.getDeviceCount()
        except Exception as exc:  # CUDA driver missing or broken
            raise RuntimeError(f"device 'cuda': no usable NVIDIA GPU was found ({exc})") from None
        if index >= count:
            raise RuntimeError(f"device 'cuda:{index}': only {count} GPU(s) found")
        self.xp = cupy
        self.array_type = cupy.ndarray
        self.generator = cupy.random.default_rng()

    def to_numpy(self, array) -> np.ndarray:
        return self.xp.asnumpy(array)

    def from_numpy(self, array: np.ndarray):
        with self.xp.cuda.Device(self.index):
            return self.xp.asarray(array)

    def seed(self, seed: int) -> None:
        self.generator = self.xp.random.default_rng(seed)

    def erf(self, x):
        from cupyx.scipy.special import erf

        return erf(x)


CPU = CPUDevice()
_devices: dict[str, Device] = {"cpu": CPU}


def get_device(device=None) -> Device:
    """Resolve ``None``, a :class:`Device`, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``."""
    if device is None:
        return CPU
    if isinstance(device, Device):
        return device
    name = str(device)  # also accepts torch.device objects
    if name in _devices:
        return _devices[name]
    if name == "cpu:0":
        return CPU
    kind, _, idx = name.partition(":")
    if kind == "cuda":
        index = int(idx) if idx else 0
        dev = _devices.get(f"cuda:{index}")
        if dev is None:
            dev = CUDADevice(index)
            if _seed is not None:
                dev.seed(_seed)
        _devices[f"cuda:{index}"] = dev
        if not idx:
            _devices["cuda"] = dev
        return dev
    raise ValueError(f"device: unknown device {device!r} (expected 'cpu' or 'cuda[:N]')")


def dlpack_device(obj) -> Device:
    """The device that holds a DLPack-capable array (DLPack device type 1 is the CPU)."""
    kind = obj.__dlpack_device__()[0] if hasattr(obj, "__dlpack_device__") else 1
    return CPU if kind == 1 else get_device("cuda")


def cuda_is_available() -> bool:
    """True when CuPy imports and sees at least one GPU."""
    try:
        get_device("cuda")
    except RuntimeError:
        return False
    return True


def cuda_synchronize() -> None:
    """Wait for all queued GPU work; raises when CUDA is unavailable."""
    get_device("cuda").xp.cuda.Device().synchronize()


_seed: int | None = None


def manual_seed(seed: int) -> None:
    """Seed the random generator of every device (devices created later are seeded too)."""
    global _seed
    _seed = int(seed)
    for dev in set(_devices.values()):
        dev.seed(_seed)
