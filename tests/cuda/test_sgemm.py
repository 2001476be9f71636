"""Our SGEMM (kernels/cuda/sgemm.cu) against cupy.matmul (cuBLAS). Needs CuPy and a GPU.

Most cases use small integers (-2..2) as inputs: every product and partial sum is then an integer
below 2**24, exact in float32 in any summation order, so ours must equal cuBLAS bit for bit and a
single wrong, missing or doubled term anywhere shows. Outputs are poisoned with NaN first, so
exact equality also proves every element was written. Normal-distributed inputs check the
rounding error against a float64 reference with the classic bound |err| <= K u (|A| @ |B|).
"""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_lite as tl

_REASON = tl.cuda.unavailable_reason()
if _REASON is not None:
    pytest.skip(f"SGEMM tests need a GPU: {_REASON}", allow_module_level=True)

import cupy as cp  # noqa: E402

from tinygrad_lite.kernels.cuda import sgemm  # noqa: E402

LAYOUTS = [(False, False), (False, True), (True, False), (True, True)]
LAYOUT_IDS = ["nn", "nt", "tn", "tt"]
TILES = ["large", "small"]
U32 = float(np.finfo(np.float32).eps) / 2  # unit roundoff

# (M, N, K): ones, primes, odd sizes, tile multiples and one either side, up to 2049.
FIXED_SIZES = [
    (1, 1, 1), (1, 2049, 7), (2049, 1, 13), (7, 5, 3), (2, 3, 2049), (64, 64, 64), (65, 63, 17),
    (127, 129, 9), (128, 128, 8), (129, 257, 1), (131, 67, 16), (257, 509, 1021),
    (1021, 127, 2049), (2048, 2047, 257), (3, 2049, 2049), (2049, 2049, 2049),
]


def _random_sizes(count: int, seed: int = 0) -> list[tuple[int, int, int]]:
    """Log-uniform sizes in 1..2049, so small and large dims both appear."""
    rng = np.random.default_rng(seed)
    return [tuple(int(v) for v in np.exp(rng.uniform(0, np.log(2049), 3)).round().clip(1, 2049))
            for _ in range(count)]


SIZES = FIXED_SIZES + _random_sizes(12)


def _ints(shape, seed: int):
    rng = np.random.default_rng(seed)
    return cp.asarray(rng.integers(-2, 3, size=shape).astype(np.float32))


def _stored(x, trans: bool):
    """x as the kernel reads it: a C-contiguous copy of x's transpose when `trans`."""
    return cp.ascontiguousarray(x.swapaxes(-1, -2)) if trans else x


def _poisoned(shape):
    return cp.full(shape, cp.nan, dtype=cp.float32)


@pytest.mark.parametrize("tile", TILES)
@pytest.mark.parametrize(("trans_a", "trans_b"), LAYOUTS, ids=LAYOUT_IDS)
@pytest.mark.parametrize(("m", "n", "k"), SIZES, ids=[f"{m}x{n}x{k}" for m, n, k in SIZES])
def test_exact_on_integers_every_element_written(m, n, k, trans_a, trans_b, tile):
    a, b = _ints((m, k), 1), _ints((k, n), 2)
    out = _poisoned((m, n))
    got = sgemm(_stored(a, trans_a), _stored(b, trans_b), trans_a=trans_a, trans_b=trans_b,
                out=out, tile=tile)
    assert got is out
    expected = cp.matmul(a, b)
    assert not bool(cp.isnan(out).any()), "some output elements were never written"
    assert bool(cp.array_equal(out, expected)), f"max |diff| {float(cp.abs(out - expected).max())}"


@pytest.mark.parametrize(("trans_a", "trans_b"), LAYOUTS, ids=LAYOUT_IDS)
@pytest.mark.parametrize(("m", "n", "k"), [(2049, 2049, 2049), (1000, 17, 1999), (33, 1024, 777)])
def test_normal_inputs_within_float32_error_bound(m, n, k, trans_a, trans_b):
    rng = np.random.default_rng(m + n + k)
    a = cp.asarray(rng.standard_normal((m, k), dtype=np.float32))
    b = cp.asarray(rng.standard_normal((k, n), dtype=np.float32))
    got = sgemm(_stored(a, trans_a), _stored(b, trans_b), trans_a=trans_a, trans_b=trans_b)
    exact = cp.matmul(a.astype(cp.float64), b.astype(cp.float64))
    # Any summation order of K products satisfies |err| <= K u (|A| @ |B|) to first order; the 2
    # covers the second-order term and the float32 result's final rounding.
    bound = 2 * k * U32 * cp.matmul(cp.abs(a).astype(cp.float64), cp.abs(b).astype(cp.float64))
    err = cp.abs(got.astype(cp.float64) - exact)
    assert bool((err <= bound + 1e-30).all()), f"max err/bound {float((err / bound).max())}"
    # and as close to cuBLAS as two correct float32 sums can be
    cublas = cp.matmul(a, b)
    assert bool((cp.abs(got - cublas).astype(cp.float64) <= 2 * bound + 1e-30).all())


@pytest.mark.parametrize("tile", TILES)
@pytest.mark.parametrize(("trans_a", "trans_b"), LAYOUTS, ids=LAYOUT_IDS)
@pytest.mark.parametrize(("batch", "m", "n", "k"), [(3, 65, 127, 129), (5, 1, 7, 300),
                                                    (2, 300, 2, 1), (7, 130, 130, 130)])
def test_batched(batch, m, n, k, trans_a, trans_b, tile):
    a, b = _ints((batch, m, k), 3), _ints((batch, k, n), 4)
    out = _poisoned((batch, m, n))
    sgemm(_stored(a, trans_a), _stored(b, trans_b), trans_a=trans_a, trans_b=trans_b, out=out,
          tile=tile)
    assert bool(cp.array_equal(out, cp.matmul(a, b)))


@pytest.mark.parametrize(("trans_a", "trans_b"), LAYOUTS, ids=LAYOUT_IDS)
def test_batched_broadcasts_a_2d_or_batch_of_one_operand(trans_a, trans_b):
    a3, b2 = _ints((4, 33, 65), 5), _ints((65, 19), 6)
    got = sgemm(_stored(a3, trans_a), _stored(b2, trans_b), trans_a=trans_a, trans_b=trans_b)
    assert got.shape == (4, 33, 19)
    assert bool(cp.array_equal(got, cp.matmul(a3, b2)))
    a1 = _ints((1, 19, 65), 7)
    got = sgemm(_stored(a1, trans_a), _stored(a3.swapaxes(1, 2).copy(), trans_b),
                trans_a=trans_a, trans_b=trans_b)
    assert got.shape == (4, 19, 33)
    assert bool(cp.array_equal(got, cp.matmul(a1, a3.swapaxes(1, 2))))


def test_k_zero_writes_zeros():
    out = _poisoned((37, 129))
    sgemm(cp.empty((37, 0), cp.float32), cp.empty((0, 129), cp.float32), out=out)
    assert bool((out == 0).all())


def test_empty_output_returns_without_launch():
    got = sgemm(cp.empty((0, 5), cp.float32), cp.empty((5, 3), cp.float32))
    assert got.shape == (0, 3)
    got = sgemm(cp.empty((0, 4, 5), cp.float32), cp.empty((5, 3), cp.float32))
    assert got.shape == (0, 4, 3)


@pytest.mark.parametrize("tile", TILES)
@pytest.mark.parametrize(("trans_a", "trans_b"), LAYOUTS, ids=LAYOUT_IDS)
def test_unaligned_and_strided_views_take_the_scalar_path(trans_a, trans_b, tile):
    # Operands that start 4 bytes into an allocation and have odd leading dimensions: float4
    # loads would be misaligned, so the kernel must fall back to scalar loads.
    m, n, k = 131, 77, 259
    a, b = _ints((m, k), 8), _ints((k, n), 9)
    a_s, b_s = _stored(a, trans_a), _stored(b, trans_b)
    a_big = cp.zeros((a_s.shape[0], a_s.shape[1] + 3), cp.float32)
    a_big[:, 1:1 + a_s.shape[1]] = a_s
    a_view = a_big[:, 1:1 + a_s.shape[1]]
    b_flat = cp.zeros(b_s.size + 1, cp.float32)
    b_flat[1:] = b_s.ravel()
    b_view = b_flat[1:].reshape(b_s.shape)
    assert a_view.data.ptr % 16 != 0 and b_view.data.ptr % 16 != 0
    out = _poisoned((m, n))
    sgemm(a_view, b_view, trans_a=trans_a, trans_b=trans_b, out=out, tile=tile)
    assert bool(cp.array_equal(out, cp.matmul(a, b)))


def test_non_row_contiguous_inputs_are_copied_not_misread():
    a = _ints((40, 30), 10)
    b = _ints((40, 20), 11)
    got = sgemm(a.T, b)  # a.T is F-ordered: sgemm must copy it, not read it as rows
    assert bool(cp.array_equal(got, cp.matmul(a.T, b)))
    got = sgemm(a[::2], _ints((30, 5), 12))  # a row stride of 2 rows is a plain leading dim
    assert bool(cp.array_equal(got, cp.matmul(a[::2], _ints((30, 5), 12))))


def test_batches_above_the_grid_limit_are_chunked():
    batch = 65535 + 3
    a, b = _ints((batch, 2, 3), 13), _ints((batch, 3, 2), 14)
    out = _poisoned((batch, 2, 2))
    sgemm(a, b, out=out)
    assert bool(cp.array_equal(out, cp.matmul(a, b)))


def test_default_tile_choice_is_correct_for_small_and_large_problems():
    for m, n, k in [(64, 128, 784), (4096, 4096, 8)]:
        a, b = _ints((m, k), 15), _ints((k, n), 16)
        assert bool(cp.array_equal(sgemm(a, b), cp.matmul(a, b)))


def test_argument_errors():
    a = cp.ones((3, 4), cp.float32)
    with pytest.raises(ValueError, match="inner dimensions"):
        sgemm(a, cp.ones((3, 4), cp.float32))
    with pytest.raises(TypeError, match="float32"):
        sgemm(a.astype(cp.float64), cp.ones((4, 2), cp.float32))
    with pytest.raises(ValueError, match="batch sizes"):
        sgemm(cp.ones((2, 3, 4), cp.float32), cp.ones((3, 4, 2), cp.float32))
    with pytest.raises(ValueError, match="out must be"):
        sgemm(a, cp.ones((4, 2), cp.float32), out=cp.empty((2, 3), cp.float32))
    buf = cp.ones((4, 4), cp.float32)
    out = buf.ravel()[4:13].reshape(3, 3)  # C-contiguous, overlapping the operand below
    with pytest.raises(ValueError, match="overlap"):
        sgemm(buf[:3, :3], cp.ones((3, 3), cp.float32), out=out)
