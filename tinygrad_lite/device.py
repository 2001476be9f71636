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
