"""Dtype objects and torch's type-promotion rules.

A :class:`DType` wraps a NumPy dtype. Promotion follows torch: dimensioned tensors decide the
result type unless a 0-d tensor or a Python scalar belongs to a higher category
(bool < integer < floating); Python floats then give the default dtype, float32.
"""

from __future__ import annotations

import numpy as np


class DType:
    """A tensor element type (``tl.float32`` etc.)."""

    __slots__ = ("name", "np", "category", "itemsize")

    def __init__(self, name: str, np_dtype, category: int):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.category = category  # 0 bool, 1 integer, 2 floating
        self.itemsize = self.np.itemsize

    @property
    def is_floating_point(self) -> bool:
        return self.category == 2

    def __repr__(self) -> str:
        return f"tinygrad_lite.{self.name}"

    def __reduce__(self):
        return (_by_name, (self.name,))


bool_ = DType("bool", np.bool_, 0)
uint8 = DType("uint8", np.uint8, 1)
int8 = DType("int8", np.int8, 1)
int16 = DType("int16", np.int16, 1)
int32 = DType("int32", np.int32, 1)
int64 = DType("int64", np.int64, 1)
float16 = DType("float16", np.float16, 2)
float32 = DType("float32", np.float32, 2)
float64 = DType("float64", np.float64, 2)

ALL = (bool_, uint8, int8, int16, int32, int64, float16, float32, float64)
DEFAULT_FLOAT = float32
_BY_NP = {d.np: d for d in ALL}
_ALIASES = {"float": float32, "double": float64, "half": float16, "long": int64, "int": int32,
            "short": int16}
_BY_NAME = {**{d.name: d for d in ALL}, **_ALIASES}


def _by_name(name: str) -> DType:
    return _BY_NAME[name]


def from_numpy_dtype(np_dtype, op: str = "tensor") -> DType:
    """The DType for a NumPy dtype; unsupported ones raise ``TypeError``."""
    try:
        return _BY_NP[np_dtype]
    except KeyError:
        raise TypeError(
            f"{op}: NumPy dtype {np_dtype} is not supported "
            f"(supported: {', '.join(d.name for d in ALL)})"
        ) from None


def to_dtype(dtype, op: str = "tensor") -> DType:
    """Accept a DType, a NumPy dtype, a torch-style name, or ``float``/``int``/``bool``."""
    if isinstance(dtype, DType):
        return dtype
    if dtype is float:
        return float64
    if dtype is int:
        return int64
    if dtype is bool:
        return bool_
    if isinstance(dtype, str):
        name = dtype.removeprefix("torch.").removeprefix("tinygrad_lite.")
        if name in _BY_NAME:
            return _BY_NAME[name]
        raise TypeError(f"{op}: unknown dtype {dtype!r}")
    name = getattr(dtype, "name", None) if type(dtype).__module__.startswith("torch") else None
    if name is None and str(dtype).startswith("torch."):
        name = str(dtype)[6:]
    if name is not None:
        return to_dtype(name, op)
    try:
        return from_numpy_dtype(np.dtype(dtype), op)
    except TypeError:
        raise TypeError(f"{op}: unknown dtype {dtype!r}") from None


def promote_types(a: DType, b: DType) -> DType:
    """torch.promote_types: integer + floating gives the floating type; else the wider one."""
    if a is b:
        return a
    if a.category != b.category:
        hi, lo = (a, b) if a.category > b.category else (b, a)
        return hi if hi.category == 2 or lo.category == 0 else _BY_NP[np.promote_types(a.np, b.np)]
    return _BY_NP[np.promote_types(a.np, b.np)]


def scalar_dtype(value) -> DType:
    """The dtype a Python scalar takes in promotion (floats: the default float dtype)."""
    if isinstance(value, (bool, np.bool_)):
        return bool_
    if isinstance(value, (int, np.integer)):
        return int64
    return DEFAULT_FLOAT


def _combine(higher: DType | None, lower: DType | None) -> DType | None:
    """Merge two promotion tiers: the lower tier counts only if its category is higher."""
    if higher is None:
        return lower
    if lower is None or higher.category >= lower.category:
        return higher
    return promote_types(higher, lower)


def result_type(operands) -> DType:
    """torch.result_type over tensors (anything with ``.dtype``/``.ndim``) and Python scalars."""
    dim = zero = wrapped = None
    for x in operands:
        d = getattr(x, "dtype", None)
        if isinstance(d, DType):
            if x.ndim:
                dim = d if dim is None else promote_types(dim, d)
            else:
                zero = d if zero is None else promote_types(zero, d)
        else:
            d = scalar_dtype(x)
            wrapped = d if wrapped is None else promote_types(wrapped, d)
    return _combine(dim, _combine(zero, wrapped))
