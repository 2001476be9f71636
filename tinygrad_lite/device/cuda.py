"""The CUDA device: CuPy arrays on an NVIDIA GPU. CuPy is imported only when the device is
created, so importing tinygrad_lite never needs it.

Elementwise ops and reductions are CuPy's own kernels (the ``Device`` base class's plain ``xp``
references run unchanged on CuPy arrays). float32 matmuls go to our SGEMM (kernels/cuda), unless
``TINYGRAD_LITE_KERNELS=library`` selects cuBLAS through ``cupy.matmul``.
"""

from __future__ import annotations

import os

import numpy as np

from .base import Device

# The extra that provides CuPy; cupy-cuda13x matches the CUDA 13 toolkit this project targets
# (CuPy wheels are built per CUDA major version: cupy-cuda12x for a CUDA 12 driver).
INSTALL_HINT = ("pip install 'tinygrad-lite[cuda]' (i.e. cupy-cuda13x; cupy-cuda12x for a CUDA 12 "
                "driver) on a machine with an NVIDIA GPU and driver")


def use_library_kernels() -> bool:
    """Whether ``TINYGRAD_LITE_KERNELS=library`` asks for CuPy's library calls (cuBLAS) instead
    of our own CUDA kernels; read at every call so a benchmark can switch in one process."""
    return os.environ.get("TINYGRAD_LITE_KERNELS", "").lower() == "library"


def _import_cupy():
    """CuPy, or a RuntimeError that says what to install."""
    try:
        import cupy
    except ImportError:  # also when sys.modules["cupy"] is None
        raise RuntimeError(f"device 'cuda': CuPy is not installed; {INSTALL_HINT}") from None
    return cupy


_sgemm_fn = None


def _sgemm():
    """kernels/cuda's ``sgemm(a, b, trans_a, trans_b)``, imported (and compiled) on first use."""
    global _sgemm_fn
    if _sgemm_fn is None:
        from tinygrad_lite.kernels import cuda as cuda_kernels

        fn = getattr(cuda_kernels, "sgemm", None)
        if fn is None:  # the package does not re-export it: the sgemm module holds it
            from tinygrad_lite.kernels.cuda import sgemm as fn
        _sgemm_fn = getattr(fn, "sgemm", fn)  # the module of that name, or the function
    return _sgemm_fn


class CUDADevice(Device):
    """CuPy arrays on GPU ``index``; raises RuntimeError without CuPy or without a GPU."""

    type = "cuda"

    def __init__(self, index: int = 0):
        super().__init__(index)
        cupy = _import_cupy()
        try:
            count = cupy.cuda.runtime.getDeviceCount()
        except Exception as exc:  # CUDA driver missing or broken: CuPy raises its own types
            raise RuntimeError(f"device 'cuda': no usable NVIDIA GPU was found ({exc}); "
                               "check the driver with nvidia-smi") from None
        if count == 0:
            raise RuntimeError("device 'cuda': no NVIDIA GPU was found (CuPy sees 0 devices)")
        if index >= count:
            raise RuntimeError(f"device 'cuda:{index}': only {count} GPU(s) found")
        self.xp = cupy
        self.array_type = cupy.ndarray
        with cupy.cuda.Device(index):
            self.generator = cupy.random.default_rng()

    # transfer and RNG ----------------------------------------------------------------------
    def asarray(self, data, dtype=None):
        with self.xp.cuda.Device(self.index):
            return self.xp.asarray(data, dtype=dtype)

    def to_numpy(self, array) -> np.ndarray:
        return self.xp.asnumpy(array)

    def copy_array(self, array, dtype=None):
        with self.xp.cuda.Device(self.index):  # CuPy launches the copy on the current GPU
            return super().copy_array(array, dtype)

    def from_numpy(self, array: np.ndarray):
        with self.xp.cuda.Device(self.index):
            return self.xp.asarray(array)

    def seed(self, seed: int) -> None:
        with self.xp.cuda.Device(self.index):
            self.generator = self.xp.random.default_rng(seed)

    def synchronize(self) -> None:
        self.xp.cuda.Device(self.index).synchronize()

    # kernels -------------------------------------------------------------------------------
    def erf(self, x):
        from cupyx.scipy.special import erf

        if x.dtype == np.float16:  # as on the CPU: computed in float32
            return erf(x.astype(np.float32)).astype(np.float16)
        return erf(x)

    def matmul(self, a, b, trans_a: bool = False, trans_b: bool = False):
        """float32: our SGEMM on C-contiguous operands (2-D, or batched 3-D with the batch dims
        broadcast and flattened); other dtypes, empty products and the library switch: cuBLAS
        through ``cupy.matmul`` (the base version)."""
        xp = self.xp
        if (a.dtype != np.float32 or b.dtype != np.float32 or use_library_kernels()
                or a.size == 0 or b.size == 0):
            return super().matmul(a, b, trans_a, trans_b)
        sgemm = _sgemm()
        if a.ndim == 2 and b.ndim == 2:
            return sgemm(xp.ascontiguousarray(a), xp.ascontiguousarray(b),
                         trans_a=trans_a, trans_b=trans_b)
        if b.ndim == 2 and not trans_a:
            # (..., M, K) @ (K, N): one (prod(...) * M, K) GEMM, no batch loop
            a2 = xp.ascontiguousarray(a).reshape(-1, a.shape[-1])
            out = sgemm(a2, xp.ascontiguousarray(b), trans_a=False, trans_b=trans_b)
            return out.reshape(a.shape[:-1] + (out.shape[-1],))
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])

        def as_3d(x):
            x = xp.broadcast_to(x, batch + x.shape[-2:])
            return xp.ascontiguousarray(x).reshape((-1,) + x.shape[-2:])

        out = sgemm(as_3d(a), as_3d(b), trans_a=trans_a, trans_b=trans_b)
        return out.reshape(batch + out.shape[-2:])
