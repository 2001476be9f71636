"""``Parameter``: a Tensor that a Module registers as trainable state."""

from __future__ import annotations

from ..tensor import Tensor


class Parameter(Tensor):
    """A Tensor that a Module registers as trainable state; shares memory with ``data``.

    Args:
        data: the initial value (a Tensor or anything ``tl.tensor`` accepts); empty if None.
        requires_grad: whether the optimiser should train it (default True).
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            data = Tensor([])
        elif not isinstance(data, Tensor):
            data = Tensor(data)
        self._data = data._data
        self._device = data._device
        self.dtype = data.dtype
        self._node = None
        self._out_idx = 0
        self._grad = None
        self._vc = data._vc
        self._hooks = None
        self._requires_grad = False
        self.requires_grad = requires_grad

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
