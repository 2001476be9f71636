"""The :class:`Device` base class: the interface every device implements, with the array-generic
(plain ``xp``) reference versions of the kernel entry points that CUDA runs as they are and the CPU
overrides with Numba kernels where they are hot.
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
            from . import get_device  # the registry imports this module

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

    def copy_array(self, array, dtype=None):
        """A new array of this device holding ``array``'s values (``array`` lives here too),
        cast to ``dtype`` when given, C-contiguous; never a view (``torch.tensor`` copies)."""
        return array.astype(array.dtype if dtype is None else dtype, order="C", copy=True)

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

    def synchronize(self) -> None:
        """Wait for the work queued on this device (nothing to wait for on the CPU)."""

    # kernel entry points (the base versions are plain xp code; devices override the hot ones) --
    def matmul(self, a, b, trans_a: bool = False, trans_b: bool = False):
        """``op(a) @ op(b)`` with torch.matmul's batch broadcasting, where ``op`` transposes the
        last two dims of an operand whose flag is set (it is stored transposed).

        Shapes: op(a) (..., M, K), op(b) (..., K, N) -> (..., M, N); both at least 2-D. The
        base version hands transposed views to the library (BLAS/cuBLAS read them through their
        transpose flags, no copy).
        """
        xp = self.xp
        return xp.matmul(xp.swapaxes(a, -1, -2) if trans_a else a,
                         xp.swapaxes(b, -1, -2) if trans_b else b)

    def erf(self, x):
        """Elementwise Gauss error function (float16 computed in float32)."""
        raise NotImplementedError(f"erf: no kernel for device {self}")

    def relu_backward(self, g, y):
        """ReLU's gradient from its output ``y``: 0 where ``y <= 0``, else ``g``."""
        from ..ops.unary import relu_backward_reference

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
        from ..optim.adam import adam_reference

        adam_reference(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, scalars, maximize,
                       decay_mode, amsgrad, self.xp)

    def sgd_step(self, param, grad, momentum_buffer, scalars, maximize: bool, has_decay: bool,
                 first: bool, nesterov: bool) -> None:
        """SGD update of ``param`` (and ``momentum_buffer`` unless None); see optim/sgd.py."""
        from ..optim.sgd import sgd_reference

        sgd_reference(param, grad, momentum_buffer, scalars, maximize, has_decay, first,
                      nesterov)

    def rmsprop_step(self, param, grad, square_avg, grad_avg, momentum_buffer, scalars,
                     maximize: bool) -> None:
        """RMSprop update in place; see tinygrad_lite/optim/rmsprop.py."""
        from ..optim.rmsprop import rmsprop_reference

        rmsprop_reference(param, grad, square_avg, grad_avg, momentum_buffer, scalars, maximize,
                          self.xp)

    # convolution (N, C, H, W); padding is ((top, bottom), (left, right)); the references are
    # the im2col + GEMM drivers in ops/conv.py ---------------------------------------------------
    def conv2d_forward(self, x, w, stride, padding, dilation, groups: int):
        """``(y, cols)``: y (N, O, OH, OW) = conv of x (N, C, H, W) with w (O, C/groups, kh, kw);
        ``cols`` is whatever :meth:`conv2d_backward_weight` can reuse (or None)."""
        from ..ops.conv_reference import conv2d_forward_reference

        return conv2d_forward_reference(self.xp, x, w, stride, padding, dilation, groups)

    def conv2d_backward_data(self, g, w, x_shape, stride, padding, dilation, groups: int):
        """Gradient wrt the input, shape ``x_shape``, of a conv with upstream ``g``."""
        from ..ops.conv_reference import conv2d_backward_data_reference

        return conv2d_backward_data_reference(self.xp, g, w, x_shape, stride, padding, dilation,
                                              groups)

    def conv2d_backward_weight(self, x, g, w_shape, stride, padding, dilation, groups: int,
                               cols=None):
        """Gradient wrt the weight, shape ``w_shape``, of a conv with upstream ``g``; ``cols``
        is the forward's second result, when kept."""
        from ..ops.conv_reference import conv2d_backward_weight_reference

        return conv2d_backward_weight_reference(self.xp, x, g, w_shape, stride, padding,
                                                dilation, groups, cols)

    # pooling (N, C, H, W); the references are in ops/pool.py ----------------------------------
    def max_pool2d_forward(self, x, kernel, stride, padding, dilation, ceil_mode: bool):
        """(values, int64 flat indices into each (H, W) plane), both (N, C, OH, OW)."""
        from ..ops.pool_reference import max_pool2d_forward_reference

        return max_pool2d_forward_reference(self.xp, x, kernel, stride, padding, dilation,
                                            ceil_mode)

    def max_pool2d_backward(self, g, indices, x_shape):
        """(N, C, H, W) gradient: upstream ``g`` (N, C, OH, OW) summed at ``indices``."""
        from ..ops.pool_reference import max_pool2d_backward_reference

        return max_pool2d_backward_reference(self.xp, g, indices, x_shape)

    def avg_pool2d_forward(self, x, kernel, stride, padding, ceil_mode: bool,
                           count_include_pad: bool, divisor_override):
        """(N, C, OH, OW) window means with torch's divisor rules."""
        from ..ops.pool_reference import avg_pool2d_forward_reference

        return avg_pool2d_forward_reference(self.xp, x, kernel, stride, padding, ceil_mode,
                                            count_include_pad, divisor_override)

    def avg_pool2d_backward(self, g, x_shape, kernel, stride, padding, count_include_pad: bool,
                            divisor_override):
        """(N, C, H, W) adjoint of :meth:`avg_pool2d_forward` applied to ``g``."""
        from ..ops.pool_reference import avg_pool2d_backward_reference

        return avg_pool2d_backward_reference(self.xp, g, x_shape, kernel, stride, padding,
                                             count_include_pad, divisor_override)

    # attention (nn/attention.py holds the references) -----------------------------------------
    def masked_softmax(self, scores, scale: float, bias, masked, causal: bool):
        """Softmax over the last dim of ``scale * scores + bias`` with ``masked`` (bool) and,
        if ``causal``, keys j > i left out; all-masked rows are 0."""
        from ..nn.attention import masked_softmax_reference

        return masked_softmax_reference(self.xp, scores, scale, bias, masked, causal)

    def masked_softmax_backward(self, g, y, scale: float):
        """``scale * y * (g - sum(g * y, -1))``."""
        from ..nn.attention import masked_softmax_backward_reference

        return masked_softmax_backward_reference(self.xp, g, y, scale)

    def embedding_backward(self, g, indices, num_embeddings: int, padding_idx, row_scale):
        """(num_embeddings, D) weight gradient of an embedding lookup; see nn/embedding.py."""
        from ..nn.embedding import embedding_backward_reference

        return embedding_backward_reference(self.xp, g, indices, num_embeddings, padding_idx,
                                            row_scale)
