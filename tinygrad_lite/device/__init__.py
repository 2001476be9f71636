"""Devices: the only package that knows which array library backs a tensor.

A :class:`Device` carries the array module (``xp``: NumPy or CuPy), array creation, transfer,
the random generator and the kernel entry points. Ops call ``tensor.device.xp`` and
``tensor.device.<kernel>``; nothing outside this package branches on the device type.

Layout: ``base.py`` (the interface and the array-generic references), ``cpu.py`` (NumPy + Numba),
``cuda.py`` (CuPy + our CUDA kernels); this module is the registry.
"""

from __future__ import annotations

from .base import Device
from .cpu import CPUDevice
from .cuda import CUDADevice

__all__ = ["Device", "CPUDevice", "CUDADevice", "CPU", "get_device", "dlpack_device",
           "cuda_is_available", "cuda_synchronize", "manual_seed"]

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
    """The device that holds a DLPack-capable array (DLPack device types: 1 CPU, 2 CUDA)."""
    kind, index = obj.__dlpack_device__()[:2] if hasattr(obj, "__dlpack_device__") else (1, 0)
    if kind == 1:
        return CPU
    if kind == 2:
        return get_device(f"cuda:{int(index)}")
    raise RuntimeError(f"from_dlpack: unsupported DLPack device type {int(kind)} (expected 1, "
                       "the CPU, or 2, a CUDA GPU)")


def cuda_is_available() -> bool:
    """True when CuPy imports and sees at least one GPU."""
    try:
        get_device("cuda")
    except RuntimeError:
        return False
    return True


def cuda_synchronize() -> None:
    """Wait for all queued GPU work; raises when CUDA is unavailable."""
    get_device("cuda").synchronize()


_seed: int | None = None


def manual_seed(seed: int) -> None:
    """Seed the random generator of every device (devices created later are seeded too)."""
    global _seed
    _seed = int(seed)
    for dev in set(_devices.values()):
        dev.seed(_seed)
