"""CUDA C++ kernels (*.cu next to this file), compiled at run time by ``cupy.RawModule``.

Importing this package never imports CuPy: CuPy is imported inside the functions, on first use.
Each source is compiled once per GPU and cached (CuPy also keeps the binary in its on-disk cache,
``~/.cupy/kernel_cache``, so later processes skip NVRTC).

Public pieces:

* ``load_module(name)`` / ``get_kernel(name, function)``: the compiled module ``<name>.cu`` and one
  of its ``extern "C"`` kernels, for the current device;
* ``sgemm(a, b, trans_a=..., trans_b=..., out=...)``: float32 ``op(a) @ op(b)`` on our SGEMM
  (sgemm.cu), 2-D or batched 3-D, where ``trans_*`` says the operand is *stored* transposed.
"""

from __future__ import annotations

from pathlib import Path

KERNEL_DIR = Path(__file__).resolve().parent

# (source name, device id) -> cupy.RawModule; (source, function, device id) -> cupy.RawKernel
_modules: dict[tuple[str, int], object] = {}
_kernels: dict[tuple[str, str, int], object] = {}

# sgemm.cu's tile configurations: name -> the tile edge BM (C tiles are BM x BM, 256 threads).
SGEMM_TILES = {"large": 128, "small": 64}
SGEMM_THREADS = 256
SGEMM_LAYOUTS = ("nn", "nt", "tn", "tt")  # first letter: a stored transposed; second: b
SGEMM_FUNCTIONS = tuple(f"sgemm_{t}_{lay}" for t in SGEMM_TILES for lay in SGEMM_LAYOUTS)
_MAX_GRID_YZ = 65535  # CUDA's limit on gridDim.y and gridDim.z
_sm_count: dict[int, int] = {}


def sources() -> list[Path]:
    """Every CUDA source in this package, sorted by name."""
    return sorted(KERNEL_DIR.glob("*.cu"))


def load_module(name: str):
    """The ``cupy.RawModule`` of ``<name>.cu`` for the current device (compiled on first use).

    Args:
        name: the source's file name without ``.cu`` (e.g. ``"sgemm"``).
    """
    import cupy

    key = (name, cupy.cuda.runtime.getDevice())
    module = _modules.get(key)
    if module is None:
        code = (KERNEL_DIR / f"{name}.cu").read_text(encoding="utf-8")
        # -std=c++17 for static_assert/constexpr/alignas; no fast-math: results match cuBLAS's FMAs.
        module = cupy.RawModule(code=code, options=("-std=c++17",))
        _modules[key] = module
    return module


def get_kernel(name: str, function: str):
    """The ``cupy.RawKernel`` ``function`` (an ``extern "C"`` kernel) of ``<name>.cu``."""
    import cupy

    key = (name, function, cupy.cuda.runtime.getDevice())
    kernel = _kernels.get(key)
    if kernel is None:
        kernel = load_module(name).get_function(function)
        _kernels[key] = kernel
    return kernel


def _multiprocessors(cupy) -> int:
    dev = cupy.cuda.runtime.getDevice()
    count = _sm_count.get(dev)
    if count is None:
        count = int(cupy.cuda.Device(dev).attributes["MultiProcessorCount"])
        _sm_count[dev] = count
    return count


def _operand(x, name: str):
    """(x, rows, cols, leading dimension, batch, batch stride), strides in elements.

    Accepts any float32 2-D or 3-D array whose rows are contiguous (last stride 1 element), e.g.
    a C-contiguous array or a slice of one; other layouts are copied to C order first. A batch
    of one gets stride 0 so it broadcasts against the other operand's batch.
    """
    import cupy

    if x.dtype != cupy.float32:
        raise TypeError(f"sgemm: {name} must be float32, got {x.dtype}")
    if x.ndim not in (2, 3):
        raise ValueError(f"sgemm: {name} must be 2-D or 3-D, got shape {x.shape}")
    rows, cols = x.shape[-2], x.shape[-1]
    s_row, s_col = x.strides[-2], x.strides[-1]
    s_batch = x.strides[0] if x.ndim == 3 else 0
    if not ((s_col == 4 or cols == 1) and (s_row % 4 == 0 and s_row >= 4 * cols or rows == 1)
            and s_batch % 4 == 0 and s_batch >= 0):
        x = cupy.ascontiguousarray(x)
        s_row, s_batch = x.strides[-2], x.strides[0] if x.ndim == 3 else 0
    ld = s_row // 4 if rows > 1 else cols  # a single row's ld is never used for addressing
    batch = x.shape[0] if x.ndim == 3 else 1
    stride = s_batch // 4 if batch > 1 else 0
    return x, rows, cols, ld, batch, stride


def sgemm(a, b, *, trans_a: bool = False, trans_b: bool = False, out=None, tile: str | None = None):
    """``op(a) @ op(b)`` in float32 on our SGEMM, where op transposes a stored-transposed operand.

    Args:
        a: (M, K), or (K, M) when ``trans_a``; optionally with a leading batch dim (B, ., .).
        b: (K, N), or (N, K) when ``trans_b``; optionally batched. A 2-D operand (or a batch of
            one) is broadcast over the other operand's batch without copying.
        trans_a: ``a`` holds op(a) transposed, e.g. the matmul backward's ``a.T @ grad``.
        trans_b: ``b`` holds op(b) transposed, e.g. ``grad @ b.T``.
        out: optional C-contiguous float32 result array of the shape below; must not overlap
            ``a`` or ``b`` (the kernel reads them through the read-only cache).
        tile: ``"large"`` (128 x 128 tiles), ``"small"`` (64 x 64) or None to choose by size.

    Returns:
        (M, N), or (B, M, N) when either input is 3-D. Every element is written, also for K = 0
        (zeros). All arrays must be on the current CUDA device.
    """
    import cupy
    import numpy as np

    a, a_rows, a_cols, lda, a_batch, stride_a = _operand(a, "a")
    b, b_rows, b_cols, ldb, b_batch, stride_b = _operand(b, "b")
    m, k = (a_cols, a_rows) if trans_a else (a_rows, a_cols)
    k_b, n = (b_cols, b_rows) if trans_b else (b_rows, b_cols)
    if k != k_b:
        raise ValueError(f"sgemm: inner dimensions differ: op(a) is {m}x{k}, op(b) is {k_b}x{n} "
                         f"(a {a.shape}, trans_a={trans_a}; b {b.shape}, trans_b={trans_b})")
    if a_batch != b_batch and a_batch != 1 and b_batch != 1:
        raise ValueError(f"sgemm: batch sizes differ: a {a.shape}, b {b.shape}")
    batch = a_batch if b_batch == 1 else b_batch  # a batch of one broadcasts (also against 0)
    shape = (m, n) if a.ndim == 2 and b.ndim == 2 else (batch, m, n)
    if out is None:
        out = cupy.empty(shape, dtype=cupy.float32)
    elif out.shape != shape or out.dtype != cupy.float32 or not out.flags.c_contiguous:
        raise ValueError(f"sgemm: out must be a C-contiguous float32 array of shape {shape}, got "
                         f"{out.dtype} {out.shape} (c_contiguous={out.flags.c_contiguous})")
    elif _overlaps(out, a) or _overlaps(out, b):
        raise ValueError("sgemm: out must not overlap a or b")
    if out.size == 0:
        return out
    if max(m, n, k, lda, ldb) >= 2**31:
        raise ValueError(f"sgemm: dimensions must be < 2**31 (M={m}, N={n}, K={k})")

    if tile is None:
        # 128 x 128 tiles unless that leaves SMs idle: then 4x as many 64 x 64 tiles.
        tiles_large = -(-m // 128) * -(-n // 128) * batch
        tile = "large" if tiles_large >= _multiprocessors(cupy) else "small"
    bm = SGEMM_TILES[tile]
    grid_x, grid_y = -(-m // bm), -(-n // bm)
    if grid_y > _MAX_GRID_YZ:
        raise ValueError(f"sgemm: N={n} is too large for the grid (at most {_MAX_GRID_YZ * bm})")
    layout = ("t" if trans_a else "n") + ("t" if trans_b else "n")
    kernel = get_kernel("sgemm", f"sgemm_{tile}_{layout}")
    out3 = out.reshape(batch, m, n)
    stride_c = m * n
    ints = (np.int32(m), np.int32(n), np.int32(k), np.int32(lda), np.int32(ldb), np.int32(n))
    strides = (np.int64(stride_a), np.int64(stride_b), np.int64(stride_c))
    for start in range(0, batch, _MAX_GRID_YZ):  # gridDim.z is at most 65535
        count = min(_MAX_GRID_YZ, batch - start)
        a_part = a[start:start + count] if a_batch > 1 else a
        b_part = b[start:start + count] if b_batch > 1 else b
        kernel((grid_x, grid_y, count), (SGEMM_THREADS, 1, 1),
               (a_part, b_part, out3[start:start + count]) + ints + strides)
    return out


def _overlaps(x, y) -> bool:
    """Whether the byte ranges spanned by two arrays intersect (conservative for views)."""
    if x.size == 0 or y.size == 0:
        return False
    x_lo, x_hi = _span(x)
    y_lo, y_hi = _span(y)
    return x_lo < y_hi and y_lo < x_hi


def _span(x) -> tuple[int, int]:
    lo = hi = x.data.ptr
    for size, stride in zip(x.shape, x.strides, strict=True):
        if stride > 0:
            hi += (size - 1) * stride
        else:
            lo += (size - 1) * stride
    return lo, hi + x.itemsize
