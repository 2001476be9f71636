"""The IDX file format (MNIST, Fashion-MNIST): a reader that validates everything and a writer.

An IDX file is a 4-byte magic number, one big-endian uint32 per dimension, then the array payload
in big-endian C order::

    0x00 0x00 <dtype code> <ndim>   dims[0] ... dims[ndim-1]   payload

Files may be gzip-compressed (recognised by the gzip magic ``1f 8b``, whatever the file name).
A truncated or garbled file raises a ``ValueError`` that names the file and what was wrong, so a
half-downloaded archive never turns into a silently wrong dataset.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np

# IDX dtype code -> big-endian NumPy dtype (the format stores every element big-endian)
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dt.newbyteorder("="): code for code, dt in IDX_DTYPES.items()}
_GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path: Path) -> bytes:
    """The file's (decompressed) bytes; gzip is detected from the content, not the name."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise FileNotFoundError(f"read_idx: cannot read '{path}': {exc}") from exc
    if raw[:2] != _GZIP_MAGIC:
        if path.name.endswith(".gz"):
            raise ValueError(
                f"read_idx: '{path}' is named .gz but is not gzip data "
                f"(starts with {raw[:4].hex(' ') or 'nothing: the file is empty'})"
            )
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as exc:
        # EOFError: the compressed stream stops early (a truncated download)
        raise ValueError(
            f"read_idx: '{path}' is a damaged or truncated gzip file ({len(raw)} bytes "
            f"on disk): {str(exc) or type(exc).__name__}"
        ) from exc


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (raw or gzip-compressed) into a native-endian, writable NumPy array.

    Args:
        path: the file, e.g. ``t10k-images-idx3-ubyte.gz`` or ``train-labels-idx1-ubyte``.

    Returns:
        An array of the shape stored in the header, e.g. uint8 (10000, 28, 28) for MNIST images.

    Raises:
        FileNotFoundError: the file can't be read.
        ValueError: bad magic number, unknown dtype code, a header or payload that is shorter or
            longer than the dimensions say, or a damaged gzip stream. The message names the file.
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise ValueError(
            f"read_idx: '{path}' is too short for an IDX header: {len(data)} bytes, "
            f"expected at least 4 (magic number)"
        )
    if data[0] != 0 or data[1] != 0:
        raise ValueError(
            f"read_idx: '{path}' is not an IDX file: the magic number must start with two zero "
            f"bytes, got {data[:4].hex(' ')}"
        )
    code, ndim = data[2], data[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X} ({dt.newbyteorder('=').name})"
                          for c, dt in IDX_DTYPES.items())
        raise ValueError(f"read_idx: '{path}' has unknown IDX dtype code 0x{code:02X}; "
                         f"expected one of {known}")
    if ndim == 0:
        raise ValueError(f"read_idx: '{path}' declares 0 dimensions; IDX arrays have at least 1")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(
            f"read_idx: '{path}' is truncated inside its header: {ndim} dimensions need "
            f"{header} header bytes, the file has {len(data)}"
        )
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = math.prod(shape) * dtype.itemsize  # Python ints: a garbled header can't overflow
    got = len(data) - header
    if got != expected:
        what = "truncated" if got < expected else "longer than its header says"
        raise ValueError(
            f"read_idx: '{path}' is {what}: shape {shape} of {dtype.newbyteorder('=').name} "
            f"needs {expected} payload bytes, found {got}"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    # one copy: to native byte order and off the read-only bytes object (tensors may be written)
    return array.astype(dtype.newbyteorder("="), copy=True)


def write_idx(path: str | os.PathLike, array) -> None:
    """Write ``array`` as an IDX file, gzip-compressed when the name ends in ``.gz``.

    Args:
        path: destination file.
        array: anything ``numpy.asarray`` accepts with at least one dimension, of dtype uint8,
            int8, int16, int32, float32 or float64.

    Raises:
        TypeError: the dtype has no IDX code.
        ValueError: a 0-d array, more than 255 dimensions, or a dimension of 2**32 or more.
    """
    array = np.asarray(array)
    native = array.dtype.newbyteorder("=")
    if native not in _CODES:
        names = ", ".join(dt.newbyteorder("=").name for dt in IDX_DTYPES.values())
        raise TypeError(f"write_idx: dtype {array.dtype} has no IDX code; expected one of {names}")
    if not 1 <= array.ndim <= 255:
        raise ValueError(f"write_idx: IDX stores 1 to 255 dimensions, got a {array.ndim}-d array")
    if any(d >= 2**32 for d in array.shape):
        raise ValueError(f"write_idx: dimensions must be < 2**32, got shape {array.shape}")
    code = _CODES[native]
    blob = (bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
            + np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes())
    path = Path(path)
    if path.name.endswith(".gz"):
        blob = gzip.compress(blob, mtime=0)  # mtime=0: the same array gives the same bytes
    path.write_bytes(blob)
