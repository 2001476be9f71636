"""Checkpoints in the safetensors format: ``tl.save(obj, path)`` and ``tl.load(path)``.

The file layout is exactly safetensors: an 8-byte little-endian header length ``N``, ``N`` bytes
of UTF-8 JSON (padded with spaces to a multiple of 8) mapping each tensor name to
``{"dtype", "shape", "data_offsets"}`` plus an optional ``"__metadata__"`` of str -> str, then the
raw little-endian C-order bytes. Nothing is ever pickled, so loading a file can't run code.

What ``save`` accepts:

* a flat mapping ``str -> Tensor`` (a module ``state_dict``): written as a plain safetensors file
  with exactly those names, readable by any safetensors tool; ``load`` returns a ``dict``.
* any nesting of ``dict`` (str, int or bool keys), ``list``, ``tuple``, ``int``, ``float``
  (inf/nan too), ``bool``, ``None``, ``str``, ``Tensor``, NumPy arrays and NumPy scalars (an
  optimizer ``state_dict``, a ``{'model': ..., 'optimizer': ..., 'epoch': 3}`` checkpoint).
  Tensors and arrays go to the data section under their dotted path (``optimizer.state.0.exp_avg``);
  the rest is JSON in ``__metadata__["tinygrad_lite.structure"]``. ``load`` rebuilds the same
  structure: int keys stay int, tuples stay tuples, Tensors come back as Tensors on ``device``,
  NumPy arrays as NumPy arrays and NumPy scalars as NumPy scalars of the same dtype. Subclasses of
  the built-in types come back as the base type (``OrderedDict`` -> ``dict``, a namedtuple ->
  ``tuple``, ``Parameter`` -> ``Tensor``). An object referenced twice comes back as one object.

Every file we write also stores a format version and the SHA-256 of its data section; ``load``
checks it when present (files from other tools have none, and then get the structural checks only).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import secrets
from collections.abc import Mapping
from typing import Any

import numpy as np

from .device import get_device
from .tensor import Tensor

FORMAT_VERSION = 1
_META = "__metadata__"
_KEY_VERSION = "tinygrad_lite.format_version"
_KEY_SHA256 = "tinygrad_lite.sha256"
_KEY_STRUCTURE = "tinygrad_lite.structure"

# safetensors dtype code <-> little-endian NumPy dtype (the ones tinygrad_lite has)
_TO_NP = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2",
          "I8": "i1", "U8": "u1", "BOOL": "?"}
_TO_NP = {code: np.dtype(s) for code, s in _TO_NP.items()}
_FROM_NP = {dt.newbyteorder("="): code for code, dt in _TO_NP.items()}

# tags of the JSON objects in the structure; a JSON object is always {tag: payload}
_TAGS = ("tensor", "ndarray", "npscalar", "tuple", "dict", "float")


class CheckpointError(ValueError):
    """A checkpoint file that is truncated, corrupted or not in the safetensors format."""


# ---- save ------------------------------------------------------------------------------------
def save(obj: Any, path: str | os.PathLike) -> None:
    """Write ``obj`` to ``path`` as a safetensors file, atomically.

    The data goes to a temporary file in the same directory, which is flushed, fsynced and then
    renamed over ``path``; if anything fails the temporary file is removed and an existing file
    at ``path`` is left untouched.

    Args:
        obj: a flat ``str -> Tensor`` mapping, or a nested structure (see the module docstring).
        path: the target file (str or ``os.PathLike``).

    Raises:
        TypeError: ``obj`` holds something that can't be stored; the message names its place,
            e.g. ``'optimizer.param_groups[0].foo'``.
        ValueError: ``obj`` contains itself.
    """
    path = os.fspath(path)
    tensors, structure = _Encoder().encode(obj)
    metadata = {_KEY_VERSION: str(FORMAT_VERSION)}
    if structure is not None:
        metadata[_KEY_STRUCTURE] = json.dumps(structure, separators=(",", ":"), allow_nan=False)
    header, chunks = _layout(tensors, metadata)
    _write_atomic(path, [header, *chunks])


def _is_flat_state_dict(obj: Any) -> bool:
    return isinstance(obj, Mapping) and all(
        type(k) is str and k != _META and isinstance(v, Tensor) for k, v in obj.items())


class _Encoder:
    """Turns an object into (name -> little-endian C-order array, JSON structure or None)."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        # one stored copy per object, like torch's shared storages; holding the object keeps its
        # id from being reused by a temporary that a custom Mapping might hand out
        self.seen: dict[int, tuple[Any, str]] = {}
        self.active: set[int] = set()  # containers on the current path (cycle detection)

    def encode(self, obj: Any) -> tuple[dict[str, np.ndarray], Any]:
        if _is_flat_state_dict(obj):
            for name, t in obj.items():
                self.arrays[name] = _tensor_array(t)
            return self.arrays, None
        return self.arrays, self._value(obj, ())

    def _value(self, obj: Any, path: tuple) -> Any:
        if obj is None or isinstance(obj, bool):
            return None if obj is None else bool(obj)
        if isinstance(obj, Tensor):
            return {"tensor": self._store(obj, path, _tensor_array)}
        if isinstance(obj, np.ndarray):
            return {"ndarray": self._store(obj, path, _numpy_array)}
        if isinstance(obj, np.generic):  # before float: np.float64 is a float subclass
            return {"npscalar": self._store(obj, path, _numpy_array)}
        if isinstance(obj, int):
            return int(obj)
        if isinstance(obj, float):
            return float(obj) if math.isfinite(obj) else {"float": repr(float(obj))}
        if isinstance(obj, str):
            return str(obj)
        if isinstance(obj, (Mapping, list, tuple)):
            if id(obj) in self.active:
                raise ValueError(f"save: {_where(path)} contains itself (a reference cycle)")
            self.active.add(id(obj))
            try:
                if isinstance(obj, Mapping):
                    return {"dict": [[self._key(k, path), self._value(v, (*path, k))]
                                     for k, v in obj.items()]}
                items = [self._value(v, (*path, i)) for i, v in enumerate(obj)]
                return {"tuple": items} if isinstance(obj, tuple) else items
            finally:
                self.active.discard(id(obj))
        raise TypeError(f"save: cannot store object of type {_typename(obj)} at {_where(path)} "
                        "(supported: Tensor, numpy arrays and scalars, dict, list, tuple, int, "
                        "float, bool, str, None)")

    @staticmethod
    def _key(key: Any, path: tuple) -> Any:
        if isinstance(key, bool):
            return bool(key)
        if isinstance(key, (str, int)):
            return str(key) if isinstance(key, str) else int(key)
        raise TypeError(f"save: cannot store a dict key of type {_typename(key)} at "
                        f"{_where(path)} (keys must be str or int)")

    def _store(self, obj: Any, path: tuple, to_array) -> str:
        name = self.seen.get(id(obj), (None, None))[1]
        if name is None:
            array = to_array(obj, path)
            name = base = ".".join(str(p) for p in path) or "tensor"
            n = 1
            while name in self.arrays or name == _META:
                n += 1
                name = f"{base}#{n}"
            self.arrays[name] = array
            self.seen[id(obj)] = (obj, name)
        return name


def _tensor_array(t: Tensor, path: tuple = ()) -> np.ndarray:
    # device.to_numpy is the transfer seam (CuPy -> host); requires_grad doesn't matter for data
    return _little_endian(np.asarray(t.device.to_numpy(t._data)))


def _numpy_array(a: np.ndarray | np.generic, path: tuple) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype.newbyteorder("=") not in _FROM_NP:
        raise TypeError(f"save: cannot store a numpy array of dtype {a.dtype} at {_where(path)} "
                        f"(supported: {', '.join(str(d) for d in _FROM_NP)})")
    return _little_endian(a)


def _little_endian(a: np.ndarray) -> np.ndarray:
    """A C-contiguous little-endian copy only if needed (views, transposes, big-endian)."""
    return np.asarray(a, dtype=a.dtype.newbyteorder("<"), order="C")  # keeps 0-d arrays 0-d


def _layout(arrays: dict[str, np.ndarray], metadata: dict[str, str]) -> tuple[bytes, list]:
    """The padded header and the data chunks in file order.

    The header lists tensors in the caller's order; the data is laid out widest dtype first (as
    safetensors does), so with the 8-byte-aligned header every tensor is aligned for mmap readers.
    """
    order = sorted(arrays, key=lambda name: -arrays[name].dtype.itemsize)
    offsets, chunks, pos = {}, [], 0
    digest = hashlib.sha256()
    for name in order:
        raw = arrays[name].reshape(-1).view(np.uint8)  # plain bytes, whatever the dtype
        offsets[name] = [pos, pos + raw.size]
        pos += raw.size
        digest.update(raw)
        chunks.append(raw)
    metadata = {**metadata, _KEY_SHA256: digest.hexdigest()}
    header = {_META: metadata}
    for name, a in arrays.items():
        header[name] = {"dtype": _FROM_NP[a.dtype.newbyteorder("=")], "shape": list(a.shape),
                        "data_offsets": offsets[name]}
    try:
        text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate ("\ud800") has no UTF-8 form
        bad = next(name for name in arrays if not _encodable(name))
        raise ValueError(f"save: tensor name {bad!r} is not valid Unicode (it contains a lone "
                         "surrogate) and can't be written as UTF-8") from None
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text, chunks


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _write_atomic(path: str, chunks: list) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(tmp, flags, 0o666)  # the umask applies, as for a plain open(path, "wb")
    except FileNotFoundError:
        raise FileNotFoundError(2, f"save: directory {directory!r} does not exist", path) from None
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: str) -> None:
    """Make the rename durable; not every platform can open a directory (Windows can't)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ---- load ------------------------------------------------------------------------------------
def load(path: str | os.PathLike, device=None) -> Any:
    """Read a checkpoint written by :func:`save` or by any safetensors writer.

    Args:
        path: the file (str or ``os.PathLike``).
        device: where the Tensors go (``"cpu"`` by default); NumPy arrays stay NumPy arrays.

    Returns:
        For a flat file (a state_dict, or any other tool's safetensors file): a ``dict`` of name
        -> Tensor in header order. For a nested checkpoint: the saved structure, rebuilt. Tensors
        have the saved dtype and shape, own their memory and don't require grad.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        CheckpointError: (a ``ValueError``) the file is truncated or corrupted; the message names
            the file and what is wrong.
    """
    path = os.fspath(path)
    dev = get_device(device)
    with open(path, "rb") as f:
        data = f.read()
    arrays, metadata = _parse(path, data)
    if _KEY_STRUCTURE not in metadata:
        return {name: Tensor._make(dev.from_numpy(a), dev) for name, a in arrays.items()}
    try:
        structure = _json_loads(metadata[_KEY_STRUCTURE])
    except ValueError as exc:
        raise _error(path, f"the structure in the metadata is not valid JSON ({exc})") from None
    decoder = _Decoder(path, arrays, dev)
    obj = decoder.value(structure)
    unused = [name for name in arrays if name not in decoder.used]
    if unused:
        raise _error(path, f"corrupted structure: tensors {unused} are not referenced by it")
    return obj


def _error(path: str, what: str) -> CheckpointError:
    return CheckpointError(f"load: {path!r}: {what}")


def _no_duplicate_keys(pairs: list) -> dict:
    out = dict(pairs)
    if len(out) != len(pairs):
        names = [k for k, _ in pairs]
        raise ValueError(f"duplicate key {next(k for k in out if names.count(k) > 1)!r}")
    return out


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _json_loads(text: str) -> Any:
    return json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_reject_constant)


def _parse(path: str, data: bytes) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Validate the header against the file and return (name -> native array, metadata)."""
    if len(data) < 8:
        raise _error(path, f"truncated: the file has {len(data)} bytes, fewer than the 8-byte "
                           "header length")
    n = int.from_bytes(data[:8], "little")
    if n > len(data) - 8:
        raise _error(path, f"header length {n} is larger than the {len(data) - 8} bytes after it "
                           "(truncated, or not a safetensors file)")
    try:
        header = _json_loads(data[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _error(path, f"the header is not valid UTF-8 JSON ({exc})") from None
    if not isinstance(header, dict):
        raise _error(path, f"the header is a JSON {type(header).__name__}, not an object")
    metadata = header.pop(_META, None) or {}
    if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise _error(path, "__metadata__ must map strings to strings")
    body = memoryview(data)[8 + n:]
    entries = {name: _entry(path, name, info, len(body)) for name, info in header.items()}
    _check_coverage(path, entries, len(body))
    version = metadata.get(_KEY_VERSION, "1")
    if not version.isdecimal() or int(version) > FORMAT_VERSION:
        raise _error(path, f"format version {version!r} is not supported (this tinygrad_lite "
                           f"reads versions up to {FORMAT_VERSION})")
    expected = metadata.get(_KEY_SHA256)
    if expected is not None:
        actual = hashlib.sha256(body).hexdigest()
        if actual != expected:
            raise _error(path, f"checksum mismatch: the data section's SHA-256 is {actual}, the "
                               f"header records {expected} (the file is corrupted)")
    return {name: _array(body, *e) for name, e in entries.items()}, metadata


def _entry(path: str, name: str, info: Any, body_size: int) -> tuple:
    """(dtype, shape, begin, end) of one header entry, checked for consistency."""
    if not isinstance(info, dict):
        raise _error(path, f"tensor {name!r}: entry is not a JSON object")
    code, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
    if code not in _TO_NP:
        hint = ""
        if code in ("BF16", "F8_E4M3", "F8_E5M2", "U16", "U32", "U64", "C64"):  # valid, not ours
            hint = ("; tinygrad_lite has no such dtype: convert it before saving (e.g. "
                    "tensor.float() in torch)")
        raise _error(path, f"tensor {name!r}: unknown dtype {code!r} (supported: "
                           f"{', '.join(_TO_NP)}){hint}")
    if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
        raise _error(path, f"tensor {name!r}: shape {shape!r} is not a list of sizes")
    if (not isinstance(offsets, list) or len(offsets) != 2
            or not all(type(o) is int for o in offsets) or not 0 <= offsets[0] <= offsets[1]):
        raise _error(path, f"tensor {name!r}: data_offsets {offsets!r} is not [begin, end] with "
                           "0 <= begin <= end")
    begin, end = offsets
    dtype = _TO_NP[code]
    needed = math.prod(shape) * dtype.itemsize
    if end - begin != needed:
        raise _error(path, f"tensor {name!r}: data_offsets {offsets} span {end - begin} bytes but "
                           f"{code} with shape {shape} needs {needed}")
    if end > body_size:
        raise _error(path, f"tensor {name!r}: data_offsets {offsets} go past the end of the "
                           f"{body_size}-byte data section (truncated file?)")
    return dtype, tuple(shape), begin, end


def _check_coverage(path: str, entries: dict[str, tuple], body_size: int) -> None:
    """Tensors must tile the data section: no overlaps, no gaps, nothing after the last one."""
    pos, prev = 0, None
    for name, (_, _, begin, end) in sorted(entries.items(), key=lambda kv: kv[1][2:]):
        if begin < pos:
            raise _error(path, f"tensors {prev!r} and {name!r} overlap in the data section")
        if begin > pos:
            raise _error(path, f"bytes {pos}..{begin} of the data section belong to no tensor")
        pos, prev = end, name
    if pos != body_size:
        raise _error(path, f"the data section has {body_size - pos} bytes after the last tensor")


def _array(body: memoryview, dtype: np.dtype, shape: tuple, begin: int, end: int) -> np.ndarray:
    """A native-order copy that owns its memory (np.frombuffer alone would be read-only)."""
    if begin == end:
        return np.empty(shape, dtype.newbyteorder("="))
    if dtype == np.bool_:  # bytes other than 0/1 would make odd numpy bools
        return np.frombuffer(body, np.uint8, end - begin, begin).reshape(shape) != 0
    raw = np.frombuffer(body, dtype, math.prod(shape), begin).reshape(shape)
    return raw.astype(dtype.newbyteorder("="))


class _Decoder:
    """Rebuilds the saved structure from its JSON and the loaded arrays."""

    def __init__(self, path: str, arrays: dict[str, np.ndarray], device) -> None:
        self.path, self.arrays, self.device = path, arrays, device
        self.objects: dict[tuple[str, str], Any] = {}
        self.used: set[str] = set()

    def value(self, node: Any) -> Any:
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self.value(v) for v in node]
        if isinstance(node, dict) and len(node) == 1:
            (tag, payload), = node.items()
            if tag in ("tensor", "ndarray", "npscalar") and isinstance(payload, str):
                return self._ref(tag, payload)
            if tag == "tuple" and isinstance(payload, list):
                return tuple(self.value(v) for v in payload)
            if tag == "dict" and isinstance(payload, list):
                return dict(self._item(pair) for pair in payload)
            if tag == "float" and payload in ("nan", "inf", "-inf"):
                return float(payload)
        raise _error(self.path, f"corrupted structure: unexpected {_short(node)}")

    def _item(self, pair: Any) -> tuple:
        if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], (str, int))):
            raise _error(self.path, f"corrupted structure: bad dict item {_short(pair)}")
        return pair[0], self.value(pair[1])

    def _ref(self, kind: str, name: str) -> Any:
        if name not in self.arrays:
            raise _error(self.path, f"corrupted structure: it refers to a missing tensor {name!r}")
        key = (kind, name)
        if key not in self.objects:
            a = self.arrays[name]
            if kind == "tensor":
                self.objects[key] = Tensor._make(self.device.from_numpy(a), self.device)
            elif kind == "ndarray":
                self.objects[key] = a
            elif a.ndim == 0:
                self.objects[key] = a[()]
            else:
                raise _error(self.path, f"corrupted structure: scalar {name!r} has shape {a.shape}")
        self.used.add(name)
        return self.objects[key]


def _short(node: Any) -> str:
    text = json.dumps(node)
    return text if len(text) <= 80 else text[:77] + "..."


def _where(path: tuple) -> str:
    """``('optimizer', 'param_groups', 0, 'foo')`` -> ``"'optimizer.param_groups[0].foo'"``."""
    if not path:
        return "the top level"
    text = ""
    for p in path:
        text += f"[{p!r}]" if not isinstance(p, str) else (f".{p}" if text else p)
    return repr(text)


def _typename(obj: Any) -> str:
    cls = type(obj)
    return cls.__qualname__ if cls.__module__ == "builtins" else \
        f"{cls.__module__}.{cls.__qualname__}"
