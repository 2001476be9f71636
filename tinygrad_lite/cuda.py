"""``tl.cuda``: availability and synchronisation of the CUDA device."""

from .device import cuda_is_available as is_available
from .device import cuda_synchronize as synchronize

__all__ = ["is_available", "synchronize", "device_count", "unavailable_reason"]


def device_count() -> int:
    """How many GPUs CuPy sees (0 without CuPy or without a GPU)."""
    if not is_available():
        return 0
    from .device import get_device

    return int(get_device("cuda").xp.cuda.runtime.getDeviceCount())


def unavailable_reason() -> str | None:
    """Why ``device="cuda"`` can't be used here (the device's own error: what to install, or that
    no GPU was found), or None when it can. For scripts and tests that skip without a GPU."""
    from .device import get_device

    try:
        get_device("cuda")
    except RuntimeError as exc:
        return str(exc)
    return None
