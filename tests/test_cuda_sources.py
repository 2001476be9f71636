"""CPU-side checks of the CUDA kernels (no GPU needed).

* every kernels/cuda/*.cu compiles for sm_90 with nvcc, warning-free (skipped without nvcc);
* sgemm.cu's entry points are the ones the loader launches, and none spills registers;
* importing the kernels package never imports CuPy;
* the loader's ``sgemm`` marshals its launch correctly: a fake ``cupy`` module runs each launch
  through a NumPy model of the kernel's documented contract (the comment block above
  SGEMM_ENTRY in sgemm.cu: which element each argument addresses, the grid, the argument types)
  and the result must equal ``numpy.matmul``. This pins leading dimensions, batch strides,
  broadcasting, batch chunking and layout choice; the kernel's own arithmetic is tested on a GPU
  by tests/cuda/test_sgemm.py.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import types

import numpy as np
import pytest

from tinygrad_lite.kernels import cuda as cuda_kernels

NVCC = shutil.which("nvcc")
SOURCES = cuda_kernels.sources()
needs_nvcc = pytest.mark.skipif(NVCC is None, reason="nvcc is not on PATH (CUDA toolkit absent)")


def _compile(src, tmp_path) -> str:
    """nvcc -c for sm_90 with ptxas statistics; returns stderr, fails the test on an error."""
    cmd = [NVCC, "-arch=sm_90", "-std=c++17", "-c", str(src), "-o", str(tmp_path / "k.o"),
           "-Xptxas", "-v", "-Werror", "all-warnings"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stderr


def test_there_are_cuda_sources():
    assert any(p.name == "sgemm.cu" for p in SOURCES)


@needs_nvcc
@pytest.mark.parametrize("src", SOURCES, ids=[p.name for p in SOURCES])
def test_cuda_source_compiles_without_warnings(src, tmp_path):
    log = _compile(src, tmp_path)
    warnings = [line for line in log.splitlines() if "warning" in line.lower()]
    assert warnings == [], "\n".join(warnings)
    assert "Compiling entry function" in log, "no kernel was compiled (nothing instantiated?)"


@needs_nvcc
def test_sgemm_entry_points_exist_and_do_not_spill(tmp_path):
    log = _compile(cuda_kernels.KERNEL_DIR / "sgemm.cu", tmp_path)
    entries = re.findall(r"Compiling entry function '(\w+)'", log)
    assert sorted(entries) == sorted(cuda_kernels.SGEMM_FUNCTIONS)
    spills = re.findall(r"(\d+) bytes spill stores, (\d+) bytes spill loads", log)
    assert len(spills) == len(entries)
    assert all(s == ("0", "0") for s in spills), log


def test_importing_the_kernels_package_does_not_import_cupy(tmp_path):
    # A `cupy` that fails on import shadows any real one: the import must never touch it.
    (tmp_path / "cupy.py").write_text("raise ImportError('kernels.cuda imported cupy')\n")
    code = ("import sys; import tinygrad_lite; import tinygrad_lite.kernels.cuda as k; "
            "assert 'cupy' not in sys.modules; assert callable(k.sgemm); print('ok')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False,
                          env={**__import__("os").environ, "PYTHONPATH": str(tmp_path)})
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


# ---- the launch contract, checked with a fake cupy ------------------------------------------
class _FakeKernel:
    """Computes what sgemm.cu's kernel `name` computes for given launch arguments, in NumPy."""

    def __init__(self, name: str, launches: list):
        match = re.fullmatch(r"sgemm_(large|small)_([nt])([nt])", name)
        assert match, name
        self.bm = cuda_kernels.SGEMM_TILES[match.group(1)]
        self.trans_a, self.trans_b = match.group(2) == "t", match.group(3) == "t"
        self.launches = launches

    def __call__(self, grid, block, args):
        self.launches.append((grid, block))
        assert block == (256, 1, 1)
        assert len(args) == 12
        a, b, c = args[:3]
        assert all(isinstance(v, np.int32) for v in args[3:9]), [type(v) for v in args[3:9]]
        assert all(isinstance(v, np.int64) for v in args[9:]), [type(v) for v in args[9:]]
        m, n, k, lda, ldb, ldc, sa, sb, sc = (int(v) for v in args[3:])
        batch = grid[2]
        assert 1 <= batch <= 65535 and grid[1] <= 65535
        assert grid[0] * self.bm >= m and grid[1] * self.bm >= n  # the grid covers C
        assert (grid[0] - 1) * self.bm < m and (grid[1] - 1) * self.bm < n  # and no more
        zb = np.arange(batch)[:, None, None]
        mi = np.arange(m)[None, :, None]
        ki = np.arange(k)[None, None, :]
        ni = np.arange(n)[None, None, :]
        # element offsets the kernel reads / writes, exactly as documented in sgemm.cu
        a_idx = zb * sa + (ki * lda + mi if self.trans_a else mi * lda + ki)         # (B, M, K)
        b_idx = zb * sb + (ni * ldb + ki.transpose(0, 2, 1) if self.trans_b
                           else ki.transpose(0, 2, 1) * ldb + ni)                   # (B, K, N)
        c_idx = zb * sc + mi * ldc + ni                                              # (B, M, N)
        op_a = _raw(a, a_idx)
        op_b = _raw(b, b_idx)
        c_flat = _raw_view(c, int(c_idx.max()) + 1 if c_idx.size else 0)
        c_flat[c_idx] = np.matmul(op_a.astype(np.float64), op_b.astype(np.float64))


def _raw_view(x: np.ndarray, count: int) -> np.ndarray:
    """`count` float32s of memory from x's first element on; asserts they lie inside x's buffer
    (an out-of-bounds read or write on the GPU would be a bug or a crash)."""
    base = x
    while isinstance(base.base, np.ndarray):
        base = base.base
    start = x.__array_interface__["data"][0] - base.__array_interface__["data"][0]
    assert start >= 0 and start + 4 * count <= base.nbytes, "kernel would access out of bounds"
    return np.lib.stride_tricks.as_strided(x, shape=(count,), strides=(4,), writeable=True)


def _raw(x: np.ndarray, idx: np.ndarray) -> np.ndarray:
    if idx.size == 0:
        return np.zeros(idx.shape, np.float32)
    return _raw_view(x, int(idx.max()) + 1)[idx]


@pytest.fixture
def fake_cupy(monkeypatch):
    """A `cupy` whose arrays are NumPy arrays and whose kernels are _FakeKernel; returns the list
    of (grid, block) launches."""
    launches: list = []
    fake = types.ModuleType("cupy")
    fake.float32 = np.float32
    fake.empty = np.empty
    fake.ascontiguousarray = np.ascontiguousarray

    class RawModule:
        def __init__(self, code: str, options=()):
            self.code = code

        def get_function(self, name: str):
            assert f'SGEMM_ENTRY({name},' in self.code, f"{name} is not an entry of sgemm.cu"
            return _FakeKernel(name, launches)

    fake.RawModule = RawModule
    device = types.SimpleNamespace(attributes={"MultiProcessorCount": 132})
    fake.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDevice=lambda: 0),
                                      Device=lambda dev=None: device)
    monkeypatch.setitem(sys.modules, "cupy", fake)
    monkeypatch.setattr(cuda_kernels, "_modules", {})
    monkeypatch.setattr(cuda_kernels, "_kernels", {})
    monkeypatch.setattr(cuda_kernels, "_sm_count", {})
    return launches


def _stored(x: np.ndarray, trans: bool) -> np.ndarray:
    return np.ascontiguousarray(np.swapaxes(x, -1, -2)) if trans else x


LAYOUTS = [(False, False), (False, True), (True, False), (True, True)]


@pytest.mark.parametrize("tile", ["large", "small", None])
@pytest.mark.parametrize(("trans_a", "trans_b"), LAYOUTS, ids=["nn", "nt", "tn", "tt"])
@pytest.mark.parametrize(("a_shape", "b_shape"), [
    ((5, 7), (7, 3)), ((1, 1), (1, 1)), ((130, 9), (9, 65)), ((3, 4, 6), (3, 6, 5)),
    ((3, 4, 6), (6, 5)), ((4, 6), (2, 6, 5)), ((1, 4, 6), (3, 6, 5)), ((6, 0), (0, 4)),
])
def test_sgemm_launch_contract(fake_cupy, a_shape, b_shape, trans_a, trans_b, tile):
    rng = np.random.default_rng(0)
    a = rng.integers(-3, 4, a_shape).astype(np.float32)
    b = rng.integers(-3, 4, b_shape).astype(np.float32)
    got = cuda_kernels.sgemm(_stored(a, trans_a), _stored(b, trans_b), trans_a=trans_a,
                             trans_b=trans_b, tile=tile)
    np.testing.assert_array_equal(got, np.matmul(a, b))
    assert len(fake_cupy) == 1


def test_sgemm_contract_with_views_and_odd_leading_dims(fake_cupy):
    rng = np.random.default_rng(1)
    big = rng.integers(-3, 4, (9, 40, 50)).astype(np.float32)
    a = big[1:8:2, 3:20, 5:30]       # batch stride, row stride 50, offset start: no copy needed
    b = big[0, 1:26, 7:18]           # 2-D view broadcast over a's batch
    np.testing.assert_array_equal(cuda_kernels.sgemm(a, b), np.matmul(a, b))
    # an F-ordered operand is copied to rows before launching
    np.testing.assert_array_equal(cuda_kernels.sgemm(big[0].T, big[1]), big[0].T @ big[1])


def test_sgemm_contract_chunks_batches_beyond_the_grid_limit(fake_cupy):
    rng = np.random.default_rng(2)
    a = rng.integers(-3, 4, (65535 + 2, 2, 3)).astype(np.float32)
    b = rng.integers(-3, 4, (3, 2)).astype(np.float32)
    np.testing.assert_array_equal(cuda_kernels.sgemm(a, b), np.matmul(a, b))
    assert [grid[2] for grid, _ in fake_cupy] == [65535, 2]


def test_sgemm_default_tile_choice(fake_cupy):
    x = np.ones((64, 784), np.float32)
    cuda_kernels.sgemm(x, np.ones((784, 128), np.float32))   # 1 large tile: small ones instead
    big = np.ones((2048, 8), np.float32)
    cuda_kernels.sgemm(big, np.ones((8, 2048), np.float32))  # 256 large tiles >= 132 SMs
    assert [grid for grid, _ in fake_cupy] == [(1, 2, 1), (16, 16, 1)]


def test_sgemm_argument_errors(fake_cupy):
    a = np.ones((3, 4), np.float32)
    with pytest.raises(ValueError, match="inner dimensions"):
        cuda_kernels.sgemm(a, a)
    with pytest.raises(TypeError, match="float32"):
        cuda_kernels.sgemm(a.astype(np.float64), a.T)
    with pytest.raises(ValueError, match="batch sizes"):
        cuda_kernels.sgemm(np.ones((2, 3, 4), np.float32), np.ones((3, 4, 2), np.float32))
    with pytest.raises(ValueError, match="out must be"):
        cuda_kernels.sgemm(a, a.T.copy(), out=np.empty((3, 4), np.float32))
    assert fake_cupy == []
