"""``tl.cuda``: availability and synchronisation of the CUDA device."""

from .device import cuda_is_available as is_available  # noqa: F401
from .device import cuda_synchronize as synchronize  # noqa: F401


def device_count() -> int:
    return 1 if is_available() else 0
