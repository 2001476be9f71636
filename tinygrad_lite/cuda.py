"""``tl.cuda``: availability and synchronisation of the CUDA device."""

from .device import cuda_is_available as is_available
from .device import cuda_synchronize as synchronize

__all__ = ["is_available", "synchronize", "device_count"]


def device_count() -> int:
    """How many GPUs CuPy sees (0 without CuPy or without a GPU)."""
    if not is_available():
        return 0
    from .device import get_device

    return int(get_device("cuda").xp.cuda.runtime.getDeviceCount())
