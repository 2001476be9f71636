"""In-place Tensor methods (``add_``, ``copy_``, ``fill_``, ``x[i] = v``, ...) and how they keep
autograd right: version counters, rebasing a tensor onto a new node, and writing through views.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import autograd
from .autograd import is_grad_enabled
from .errors import DTypeError

if TYPE_CHECKING:
    from .tensor import Tensor


class InplaceMixin:
    """Methods that overwrite a tensor's memory."""

    __slots__ = ()

    def _inplace(self, op: str, fn, *args) -> Tensor:
        """Replace this tensor's value by ``fn(self, *args)`` in memory, keeping autograd right.

        Without graph recording the result is written straight into the array and the version
        counter is bumped (saved copies of the old value then refuse to backward). With
        recording, the new value gets its own history: the old value is copied into a fresh
        tensor that ``fn`` consumes, and this tensor is rebased onto ``fn``'s node; when this
        tensor is a view, its base is rebased too (see :func:`_write_through_view`).
        """
        tracked = is_grad_enabled() and (self._requires_grad or any(
            isinstance(a, autograd.Tensor) and a._requires_grad for a in args))
        if tracked:
            node = autograd.graph_node(self)
            if node is None and self._requires_grad:
                raise RuntimeError(
                    f"{op}: a leaf tensor that requires grad is being used in an in-place "
                    "operation; wrap it in no_grad() or clone() it first")
            if node is None and getattr(self._data, "base", None) is not None:
                raise RuntimeError(
                    f"{op}: in-place operation that needs a gradient on a view of a tensor "
                    "that does not require grad; assign through the base instead "
                    "(base[index] = value)")
            # the old value's copy keeps the old history (a view's node stays current for it)
            vc = [node.view_version] if node is not None and node.is_view else None
            old = autograd.Tensor._make(self._data.copy(), self._device, node, self._out_idx, vc)
            old._requires_grad = self._requires_grad
            result = fn(old, *args)
        else:
            result = fn(self.detach(), *args)
        if result.shape != self.shape:
            raise ValueError(f"{op}: the result of shape {result.shape} cannot be written into a "
                             f"tensor of shape {self.shape}")
        if result.dtype is not self.dtype:
            # torch casts the result back unless that would drop a category (float -> int)
            if result.dtype.category > self.dtype.category:
                raise DTypeError(f"{op}: result type {result.dtype.name} can't be cast to the "
                                 f"desired output type {self.dtype.name}")
            result = result.to(self.dtype)
        if tracked and self._node is not None and self._node.is_view:
            _write_through_view(op, self, result)
            return self
        _write_array(op, self, result._data)
        if tracked:
            self._node, self._out_idx = result._node, result._out_idx
            self._requires_grad = result._requires_grad
        return self

    def add_(self, other, *, alpha=1) -> Tensor:
        return self._inplace("add_", lambda s, o: s.add(o, alpha=alpha), other)

    def sub_(self, other, *, alpha=1) -> Tensor:
        return self._inplace("sub_", lambda s, o: s.sub(o, alpha=alpha), other)

    def mul_(self, other) -> Tensor:
        return self._inplace("mul_", lambda s, o: s * o, other)

    def div_(self, other, *, rounding_mode=None) -> Tensor:
        return self._inplace("div_", lambda s, o: s.div(o, rounding_mode=rounding_mode), other)

    def pow_(self, exponent) -> Tensor:
        return self._inplace("pow_", lambda s, o: s.pow(o), exponent)

    def clamp_(self, min=None, max=None) -> Tensor:
        return self._inplace("clamp_", lambda s: s.clamp(min, max))

    def copy_(self, src) -> Tensor:
        """Copy ``src`` (broadcast and cast to this dtype) into this tensor; grads flow to src."""
        if not isinstance(src, autograd.Tensor):
            src = autograd.Tensor(src, device=self._device)
        elif src._device is not self._device:  # torch copies across devices (differentiably)
            src = src.to(self._device)
        if src.shape != self.shape:
            from .ops._base import broadcast_shape

            if broadcast_shape(self.shape, src.shape, op="copy_") != self.shape:
                raise ValueError(f"copy_: source of shape {tuple(src.shape)} can't be broadcast "
                                 f"to the destination's shape {tuple(self.shape)}")
        return self._inplace("copy_", lambda s, o: _overwrite(s, o.to(s.dtype)), src)

    def _write(self, op: str, value) -> Tensor:
        """Overwrite every element (fill_, zero_); in the graph the old value gets gradient 0."""
        if is_grad_enabled() and self._requires_grad:
            return self._inplace(op, lambda s: _overwrite(s, value))
        value = value._data if isinstance(value, autograd.Tensor) else value
        try:
            self._data[...] = value
        except ValueError as exc:
            raise ValueError(f"{op}: cannot write a value of shape {getattr(value, 'shape', ())} "
                             f"into a tensor of shape {self.shape} ({exc})") from None
        self._vc[0] += 1
        return self

    def zero_(self) -> Tensor:
        return self._write("zero_", 0)

    def fill_(self, value) -> Tensor:
        return self._write("fill_", value)

    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

    def __setitem__(self, index, value) -> None:
        """Assignment outside the graph (the target must not require grad in grad mode)."""
        from .ops.indexing import _split_ints, normalize_index

        idx, basic = normalize_index(index, self, "setitem")
        if is_grad_enabled() and (self._requires_grad or (isinstance(value, autograd.Tensor)
                                                         and value._requires_grad)):
            self._setitem_in_graph(idx, basic, value)
            return
        value = value.to(self.dtype)._data if isinstance(value, autograd.Tensor) else value
        target = self._data
        if not basic and any(isinstance(i, int) for i in idx):
            idx, second = _split_ints(idx)  # torch's dim order: integer indices first
            target, idx = target[idx], second
        try:
            target[idx] = value
        except (ValueError, IndexError) as exc:
            raise type(exc)(f"setitem: {exc} (tensor shape {self.shape})") from None
        self._vc[0] += 1

    def _setitem_in_graph(self, idx, basic: bool, value) -> None:
        """``self[idx] = value`` recorded in the graph (basic indices: a view is overwritten)."""
        from .ops.indexing import BasicGetItem
        from .ops.movement import ViewScatter

        if not basic:
            raise RuntimeError(
                "setitem: assignment with tensor/list indices into a tensor that requires grad "
                "(or of a value that requires grad) is not supported; use where, masked_fill, "
                "scatter_add or index_select instead, or no_grad()")
        if not isinstance(value, autograd.Tensor):
            value = autograd.Tensor._make(self._device.xp.asarray(value, dtype=self.dtype.np),
                                 self._device)
        spec = (BasicGetItem, {"index": idx, "basic": True})
        self._inplace("setitem", lambda s, v: ViewScatter.apply(s, v.to(s.dtype), spec=spec),
                      value)


def _write_array(op: str, t, array) -> None:
    try:
        t._data[...] = array
    except ValueError as exc:  # read-only (expanded) arrays
        raise RuntimeError(f"{op}: cannot write into this tensor ({exc}); clone() it first") \
            from None
    t._vc[0] += 1  # shared with every view of the same memory


def _write_through_view(op: str, view, value) -> None:
    """Write ``value`` into ``view`` and give its base the matching history.

    The base becomes ``ViewScatter(base, value)`` (the old base with the view's region
    replaced), recursively up a chain of views, and the view is re-derived from the new base,
    so gradients reach both the old base (outside the region) and ``value`` (inside it).
    """
    from .ops.movement import ViewScatter, replay_view

    spec = view._node.view_spec()
    if spec is None or spec[0].__name__ == "Expand":  # broadcast views are read-only
        raise RuntimeError(f"{op}: cannot write into an expanded view ({view._node.name()}); "
                           "clone() it first")
    base = view._node.inputs[0]
    autograd.graph_node(base)
    new_base = ViewScatter.apply(base, value, spec=spec)
    if base._node is not None and base._node.is_view:
        _write_through_view(op, base, new_base)
    else:
        if base._node is None and base._requires_grad:
            raise RuntimeError(f"{op}: a view of a leaf tensor that requires grad is being used "
                               "in an in-place operation; wrap it in no_grad() first")
        _write_array(op, base, new_base._data)
        base._node, base._out_idx = new_base._node, 0
        base._requires_grad = new_base._requires_grad
    rebuilt = replay_view(spec, base)
    view._node, view._out_idx, view._requires_grad = rebuilt._node, 0, rebuilt._requires_grad


def _overwrite(old, value):
    """``value`` broadcast to ``old``'s shape and dtype, as a graph node whose gradient w.r.t.
    ``old`` is zero (a select, so inf/nan in ``old`` never leak in)."""
    from .ops.elementwise import where

    everywhere = autograd.Tensor._make(old._device.xp.ones(old.shape, dtype=bool), old._device)
    if isinstance(value, autograd.Tensor):
        value = value.to(old.dtype)
    else:
        array = old._device.xp.asarray(value, dtype=old.dtype.np)
        value = autograd.Tensor._make(array, old._device)
    return where(everywhere, value, old)
