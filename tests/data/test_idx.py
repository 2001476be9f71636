"""The IDX reader/writer: real MNIST test files, hand-built files, damaged files, round trips."""

import gzip
import hashlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_lite.data import read_idx, write_idx

from . import SHARED_MNIST, idx_bytes

needs_mnist = pytest.mark.skipif(not (SHARED_MNIST / "SHA256SUMS").is_file(),
                                 reason=f"real MNIST test files not found at {SHARED_MNIST}")

# the published MNIST test-set class counts (digits 0..9), not derived from our reader
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]

CODES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.int16, 0x0C: np.int32, 0x0D: np.float32,
         0x0E: np.float64}


@needs_mnist
def test_real_mnist_test_set():
    sums = dict(line.split()[::-1] for line in (SHARED_MNIST / "SHA256SUMS").read_text()
                .splitlines() if line.strip())
    for name, digest in sums.items():
        assert hashlib.sha256((SHARED_MNIST / name).read_bytes()).hexdigest() == digest, name
    images = read_idx(SHARED_MNIST / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(SHARED_MNIST / "t10k-labels-idx1-ubyte.gz")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and labels.dtype == np.uint8
    assert images.flags.writeable and images.flags.c_contiguous
    assert labels.min() == 0 and labels.max() == 9
    assert labels[:5].tolist() == [7, 2, 1, 0, 4]
    assert np.bincount(labels, minlength=10).tolist() == MNIST_TEST_COUNTS
    assert images.max() == 255 and images.min() == 0
    # compare the payload with a decoding that skips our reader: header 16 bytes, raw uint8
    raw = gzip.decompress((SHARED_MNIST / "t10k-images-idx3-ubyte.gz").read_bytes())
    assert raw[:4] == b"\x00\x00\x08\x03"
    np.testing.assert_array_equal(images.reshape(-1), np.frombuffer(raw, np.uint8, offset=16))


@needs_mnist
def test_real_mnist_uncompressed(tmp_path):
    raw = gzip.decompress((SHARED_MNIST / "t10k-labels-idx1-ubyte.gz").read_bytes())
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(raw)
    labels = read_idx(tmp_path / "t10k-labels-idx1-ubyte")
    assert labels[:5].tolist() == [7, 2, 1, 0, 4]
    assert np.bincount(labels).tolist() == MNIST_TEST_COUNTS


@pytest.mark.parametrize("code", sorted(CODES))
def test_reads_hand_built_files_of_every_dtype(tmp_path, code):
    rng = np.random.default_rng(code)
    expected = (rng.standard_normal((3, 4, 5)) * 100).astype(CODES[code])
    (tmp_path / "a.idx").write_bytes(idx_bytes(expected, code))
    (tmp_path / "a.idx.gz").write_bytes(gzip.compress(idx_bytes(expected, code)))
    for name in ("a.idx", "a.idx.gz"):
        got = read_idx(tmp_path / name)
        assert got.dtype == CODES[code] and got.dtype.isnative
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("code", sorted(CODES))
def test_writer_matches_the_format(tmp_path, code):
    array = np.arange(24, dtype=CODES[code]).reshape(2, 3, 4) - 7
    write_idx(tmp_path / "w.idx", array)
    assert (tmp_path / "w.idx").read_bytes() == idx_bytes(array, code)
    write_idx(tmp_path / "w.idx.gz", array)
    assert gzip.decompress((tmp_path / "w.idx.gz").read_bytes()) == idx_bytes(array, code)


@given(code=st.sampled_from(sorted(CODES)),
       shape=st.lists(st.integers(0, 5), min_size=1, max_size=4).map(tuple),
       gz=st.booleans(), seed=st.integers(0, 2**16))
def test_round_trip(tmp_path_factory, code, shape, gz, seed):
    rng = np.random.default_rng(seed)
    array = (rng.standard_normal(shape) * 1000).astype(CODES[code])
    path = tmp_path_factory.mktemp("rt") / ("x.idx.gz" if gz else "x.idx")
    write_idx(path, array)
    got = read_idx(path)
    assert got.dtype == array.dtype and got.shape == array.shape
    np.testing.assert_array_equal(got, array)


def test_writer_rejects_unsupported(tmp_path):
    with pytest.raises(TypeError, match="uint16"):
        write_idx(tmp_path / "x", np.zeros(3, np.uint16))
    with pytest.raises(ValueError, match="0-d"):
        write_idx(tmp_path / "x", np.zeros((), np.uint8))


GOOD = idx_bytes(np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4), 0x08)


@pytest.mark.parametrize("blob, message", [
    (b"", "too short"),
    (b"\x00\x00", "too short"),
    (b"\x01\x00\x08\x01" + GOOD[4:], "two zero bytes"),
    (b"\x00\x00\x07\x03" + GOOD[4:], "unknown IDX dtype code 0x07"),
    (b"\x00\x00\x08\x00", "0 dimensions"),
    (GOOD[:10], "truncated inside its header"),
    (GOOD[:-1], r"truncated: shape \(2, 3, 4\) of uint8 needs 24 payload bytes, found 23"),
    (GOOD + b"\x00", "longer than its header says"),
    (b"\x00\x00\x0D\x01\x00\x00\x00\x02" + b"\x00" * 7, "needs 8 payload bytes, found 7"),
])
def test_garbled_files_raise_clear_errors(tmp_path, blob, message):
    for name, data in (("bad.idx", blob), ("bad.idx.gz", gzip.compress(blob))):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ValueError, match=message) as info:
            read_idx(tmp_path / name)
        assert name in str(info.value)


def test_truncated_gzip(tmp_path):
    blob = gzip.compress(GOOD * 50)
    (tmp_path / "cut.gz").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ValueError, match="cut.gz.*damaged or truncated gzip"):
        read_idx(tmp_path / "cut.gz")
    (tmp_path / "junk.gz").write_bytes(b"\x1f\x8bnot really gzip")
    with pytest.raises(ValueError, match="junk.gz"):
        read_idx(tmp_path / "junk.gz")


def test_gz_name_without_gzip_data(tmp_path):
    (tmp_path / "plain.gz").write_bytes(b"<html>404</html>")
    with pytest.raises(ValueError, match="plain.gz.*not gzip"):
        read_idx(tmp_path / "plain.gz")


def test_gzip_detected_by_content(tmp_path):
    (tmp_path / "noext").write_bytes(gzip.compress(GOOD))
    np.testing.assert_array_equal(read_idx(tmp_path / "noext"),
                                  np.arange(24, dtype=np.uint8).reshape(2, 3, 4))


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere"):
        read_idx(tmp_path / "nothere")


def test_huge_declared_shape_is_reported_not_overflowed(tmp_path):
    blob = b"\x00\x00\x08\x03" + b"\xff\xff\xff\xff" * 3 + b"\x00" * 16
    (tmp_path / "huge").write_bytes(blob)
    with pytest.raises(ValueError, match="truncated: shape \\(4294967295, 4294967295"):
        read_idx(tmp_path / "huge")
