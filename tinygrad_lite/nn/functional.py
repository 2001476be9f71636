"""``tl.nn.functional``: composite ops built from primitives (DESIGN.md §3)."""

from __future__ import annotations

from .. import dtypes
from ..errors import DTypeError, ShapeError
from ..ops.elementwise import where
from ..ops.movement import pad  # noqa: F401  (F.pad)
from ..tensor import Tensor


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    return input.relu()


def sigmoid(input: Tensor) -> Tensor:
    return input.sigmoid()


def tanh(input: Tensor) -> Tensor:
    return input.tanh()


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot encoding with a new last dim of size ``num_classes`` (inferred if -1)."""
    if tensor.dtype is not dtypes.int64:
        raise DTypeError(f"one_hot: expected an int64 tensor, got {tensor.dtype.name}")
    xp = tensor.device.xp
    data = tensor._data
    if num_classes == -1:
        if data.size == 0:
            raise ShapeError("one_hot: can not infer the number of classes of an empty tensor")
        num_classes = int(data.max()) + 1
    if data.size and (int(data.min()) < 0 or int(data.max()) >= num_classes):
        raise ValueError(f"one_hot: class values must be in [0, {num_classes}), got "
                         f"[{int(data.min())}, {int(data.max())}]")
    out = (data[..., None] == xp.arange(num_classes)).astype("int64")
    return Tensor._make(out, tensor.device)


__all__ = ["pad", "one_hot", "relu", "sigmoid", "tanh", "where"]
