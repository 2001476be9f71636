"""Tensor factories: zeros/ones/full/arange/linspace/eye, random tensors and ``*_like``.

Random numbers come from the device's generator, seeded by :func:`manual_seed`.
"""

from __future__ import annotations

import math

import numpy as np

from . import dtypes
from .device import dlpack_device, get_device, manual_seed  # noqa: F401  (re-exported)
from .tensor import Tensor


def _shape(size, kw_size=None) -> tuple[int, ...]:
    if kw_size is not None:  # zeros(size=(2, 3))
        size = (kw_size,)
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    shape = tuple(int(s) for s in size)
    if any(s < 0 for s in shape):
        raise ValueError(f"expected a shape of non-negative sizes, got {shape}")
    return shape


def _finish(array, device, requires_grad: bool) -> Tensor:
    t = Tensor._make(array, device)
    if requires_grad:
        t.requires_grad = True
    return t


def _dtype(dtype, default=dtypes.float32):
    return default if dtype is None else dtypes.to_dtype(dtype)


def tensor(data, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Same as ``Tensor(...)``: copies ``data`` into a new leaf tensor."""
    return Tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)


def from_numpy(array: np.ndarray) -> Tensor:
    """A CPU tensor sharing memory with ``array`` (dtype kept)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray, got {type(array).__name__}")
    dtypes.from_numpy_dtype(array.dtype, "from_numpy")
    return Tensor._make(array, get_device("cpu"))


def from_dlpack(obj) -> Tensor:
    """Zero-copy import of a DLPack-capable array (NumPy, torch, CuPy)."""
    device = dlpack_device(obj)
    return Tensor._make(device.xp.from_dlpack(obj), device)


def full(size, fill_value, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    dev = get_device(device)
    dt = _dtype(dtype, dtypes.scalar_dtype(fill_value))
    return _finish(dev.xp.full(_shape((size,) if isinstance(size, int) else (size,)),
                               fill_value, dtype=dt.np), dev, requires_grad)


def _size_kw(kwargs: dict, op: str):
    """torch also takes the shape as ``size=``."""
    size = kwargs.pop("size", None)
    if kwargs:
        raise TypeError(f"{op}: unexpected keyword arguments {sorted(kwargs)}")
    return size


def _filled(fn: str, size, kwargs, dtype, device, requires_grad) -> Tensor:
    dev = get_device(device)
    shape = _shape(size, _size_kw(kwargs, fn))
    return _finish(getattr(dev.xp, fn)(shape, dtype=_dtype(dtype).np), dev, requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad: bool = False, **kwargs) -> Tensor:
    return _filled("zeros", size, kwargs, dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad: bool = False, **kwargs) -> Tensor:
    return _filled("ones", size, kwargs, dtype, device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad: bool = False, **kwargs) -> Tensor:
    return _filled("empty", size, kwargs, dtype, device, requires_grad)


def arange(start=None, end=None, step=1, *, dtype=None, device=None,
           requires_grad: bool = False) -> Tensor:
    """Values in [start, end) spaced by ``step``; int arguments give int64, floats float32."""
    if start is None and end is None:
        raise TypeError("arange: missing the end value")
    if end is None:
        start, end = 0, start
    elif start is None:
        start = 0
    start, end, step = (v.item() if hasattr(v, "item") else v for v in (start, end, step))
    if not all(math.isfinite(v) for v in (start, end, step)):
        raise ValueError(f"arange: start, end and step must be finite, got start={start}, "
                         f"end={end}, step={step}")
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    if (end - start) * step < 0:
        raise ValueError(f"arange: lower and upper bound inconsistent with the step's sign "
                         f"(start={start}, end={end}, step={step})")
    dev = get_device(device)
    is_int = all(isinstance(v, int) for v in (start, end, step))
    dt = _dtype(dtype, dtypes.int64 if is_int else dtypes.float32)
    n = int(np.ceil((end - start) / step))
    values = start + np.arange(n, dtype=np.float64 if not is_int else np.int64) * step
    return _finish(dev.from_numpy(values.astype(dt.np)), dev, requires_grad)


def linspace(start, end, steps: int, *, dtype=None, device=None,
             requires_grad: bool = False) -> Tensor:
    if steps < 0:
        raise ValueError(f"linspace: number of steps must be non-negative, got {steps}")
    dev = get_device(device)
    dt = _dtype(dtype)
    return _finish(dev.from_numpy(np.linspace(start, end, steps).astype(dt.np)), dev,
                   requires_grad)


def eye(n: int, m: int | None = None, *, dtype=None, device=None,
        requires_grad: bool = False) -> Tensor:
    m = n if m is None else m
    if n < 0 or m < 0:
        raise ValueError(f"eye: n and m must be non-negative, got n={n}, m={m}")
    dev = get_device(device)
    return _finish(dev.xp.eye(n, m, dtype=_dtype(dtype).np), dev, requires_grad)


def _float_dtype(dtype, op):
    dt = _dtype(dtype)
    if dt.category != 2:
        raise TypeError(f"{op}: expected a floating dtype, got {dt.name}")
    return dt


def rand(*size, dtype=None, device=None, requires_grad: bool = False, generator=None,
         **kwargs) -> Tensor:
    """Uniform on [0, 1)."""
    dev = get_device(device)
    dt = _float_dtype(dtype, "rand")
    gen = generator or dev.generator
    values = gen.random(_shape(size, _size_kw(kwargs, "rand")), dtype=np.float64)
    return _finish(values.astype(dt.np), dev, requires_grad)


def randn(*size, dtype=None, device=None, requires_grad: bool = False, generator=None,
          **kwargs) -> Tensor:
    """Standard normal."""
    dev = get_device(device)
    dt = _float_dtype(dtype, "randn")
    gen = generator or dev.generator
    values = gen.standard_normal(_shape(size, _size_kw(kwargs, "randn")))
    return _finish(values.astype(dt.np), dev, requires_grad)


def randint(low=None, high=None, size=(), *, dtype=None, device=None,
            generator=None) -> Tensor:
    """Integers in [low, high) (``randint(high, size)`` is accepted like torch)."""
    if high is None:
        low, high = 0, low
    elif low is None:
        low = 0
    if isinstance(high, tuple):
        low, high, size = 0, low, high
    if high <= low:
        raise ValueError(f"randint: expected low < high, got low={low}, high={high}")
    dev = get_device(device)
    dt = _dtype(dtype, dtypes.int64)
    gen = generator or dev.generator
    size = (size,) if isinstance(size, int) else tuple(size)
    return _finish(gen.integers(low, high, size=size).astype(dt.np), dev, False)


def _like(fn, x: Tensor, dtype, device, requires_grad, *args):
    return fn(*args, *x.shape, dtype=x.dtype if dtype is None else dtype,
              device=x.device if device is None else device, requires_grad=requires_grad)


def zeros_like(x, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like(zeros, x, dtype, device, requires_grad)


def ones_like(x, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like(ones, x, dtype, device, requires_grad)


def empty_like(x, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like(empty, x, dtype, device, requires_grad)


def rand_like(x, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like(rand, x, dtype, device, requires_grad)


def randn_like(x, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like(randn, x, dtype, device, requires_grad)


def full_like(x, fill_value, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    return full(x.shape, fill_value, dtype=x.dtype if dtype is None else dtype,
                device=x.device if device is None else device, requires_grad=requires_grad)
