"""tl.save / tl.load: the safetensors format, nested checkpoints, integrity and crash safety.

The reference for the file format is the ``safetensors`` package (and torch through it): files we
write must read back identically there, and its files must read back identically here.
"""

import ast
import inspect
import json
import math
import os
import re
from collections import OrderedDict

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_lite as tl
from tinygrad_lite import serialization
from tinygrad_lite.serialization import CheckpointError
from tinygrad_lite.testing import strategies as tls

safetensors_numpy = pytest.importorskip("safetensors.numpy")
safetensors_torch = pytest.importorskip("safetensors.torch")
torch = pytest.importorskip("torch")

DTYPES = [tl.float32, tl.float64, tl.float16, tl.int64, tl.int32, tl.int16, tl.int8, tl.uint8,
          tl.bool]
ST_CODES = {tl.float32: "F32", tl.float64: "F64", tl.float16: "F16", tl.int64: "I64",
            tl.int32: "I32", tl.int16: "I16", tl.int8: "I8", tl.uint8: "U8", tl.bool: "BOOL"}


def host(t) -> np.ndarray:
    return np.asarray(t.detach().numpy())


def assert_same_tensor(loaded, original) -> None:
    """Same dtype, shape and bytes (bytes, so NaN payloads and -0.0 count too)."""
    assert isinstance(loaded, tl.Tensor)
    assert loaded.dtype is original.dtype and loaded.shape == original.shape
    assert not loaded.requires_grad
    assert host(loaded).tobytes() == host(original).tobytes()


def sample_tensors() -> dict:
    base = np.arange(24, dtype=np.float64).reshape(4, 6) / 7
    return {
        "f32": tl.Tensor(base.astype(np.float32), requires_grad=True),
        "f64": tl.Tensor(base).T,  # transposed view
        "f16": tl.Tensor(base.astype(np.float16))[1:, ::2],  # sliced with a step
        "i64": tl.Tensor(np.arange(-6, 6)),
        "i32": tl.Tensor(np.arange(6, dtype=np.int32)).reshape(2, 3).T,
        "i16": tl.Tensor(np.array([-32768, 0, 32767], dtype=np.int16)),
        "i8": tl.Tensor(np.array([-128, 127], dtype=np.int8)),
        "u8": tl.Tensor(np.array([[0, 255]], dtype=np.uint8)),
        "mask": tl.Tensor([[True, False, True]]),
        "scalar": tl.Tensor(np.float32(2.5)),  # 0-d
        "empty": tl.zeros(0, 3),
        "special": tl.Tensor(np.array([np.nan, np.inf, -np.inf, -0.0], dtype=np.float32)),
    }


# ---- flat state dicts and the file format --------------------------------------------------------
def test_flat_round_trip_every_dtype_and_layout(tmp_path):
    sd = sample_tensors()
    tl.save(sd, tmp_path / "m.safetensors")  # PathLike
    out = tl.load(str(tmp_path / "m.safetensors"))
    assert type(out) is dict and list(out) == list(sd)  # names and their order
    for name, t in sd.items():
        assert_same_tensor(out[name], t)
        assert out[name].device == tl.device("cpu")


def test_loaded_tensors_own_writable_memory(tmp_path):
    sd = {"w": tl.Tensor([1.0, 2.0]), "m": tl.Tensor([True, False])}
    tl.save(sd, tmp_path / "m.st")
    out = tl.load(tmp_path / "m.st", device="cpu")
    for t in out.values():
        array = t.numpy()
        assert array.flags.writeable and array.flags.c_contiguous
    out["w"][0] = 7.0
    assert host(tl.load(tmp_path / "m.st")["w"]).tolist() == [1.0, 2.0]


@given(data=st.data())
def test_round_trip_property(tmp_path_factory, data):
    dtype = data.draw(st.sampled_from(DTYPES))
    t = data.draw(tls.tensors(shape=data.draw(tls.shapes(min_side=0, max_side=3)), dtype=dtype))
    path = tmp_path_factory.mktemp("prop") / "t.safetensors"
    tl.save({"t": t, "nested": [t]}, path)
    assert_same_tensor(tl.load(path)["t"], t)
    tl.save({"t": t}, path)
    assert_same_tensor(tl.load(path)["t"], t)
    ref = safetensors_numpy.load_file(str(path))["t"]
    np.testing.assert_array_equal(ref, host(t))
    assert ref.dtype == host(t).dtype and ref.shape == t.shape


def test_files_we_write_read_in_safetensors_and_torch(tmp_path):
    sd = sample_tensors()
    path = str(tmp_path / "m.safetensors")
    tl.save(sd, path)
    ref = safetensors_numpy.load_file(path)
    assert set(ref) == set(sd)
    for name, t in sd.items():
        assert ref[name].dtype == host(t).dtype and ref[name].shape == t.shape
        assert ref[name].tobytes() == host(t).tobytes()
    ref_torch = safetensors_torch.load_file(path)
    for name, t in sd.items():
        expected = torch.from_numpy(np.array(host(t), order="C"))
        torch.testing.assert_close(ref_torch[name], expected, rtol=0, atol=0, equal_nan=True)


def test_files_from_safetensors_and_torch_load_here(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {"a": rng.standard_normal((3, 5)).astype(np.float32),
              "b": rng.integers(-9, 9, (2, 2, 2)).astype(np.int64),
              "c": np.array(1.5, dtype=np.float16), "d": np.zeros((0,), np.int8),
              "e": rng.random(4) > 0.5, "f": rng.integers(0, 255, 7).astype(np.uint8)}
    path = tmp_path / "np.safetensors"
    safetensors_numpy.save_file(arrays, str(path), metadata={"format": "np"})
    out = tl.load(path)
    assert set(out) == set(arrays)
    for name, a in arrays.items():
        assert out[name].shape == a.shape and host(out[name]).dtype == a.dtype
        np.testing.assert_array_equal(host(out[name]), a)
    torch_sd = {"w": torch.randn(4, 3, dtype=torch.float64),
                "i": torch.arange(5, dtype=torch.int32)}
    safetensors_torch.save_file(torch_sd, str(tmp_path / "pt.safetensors"))
    out = tl.load(tmp_path / "pt.safetensors")
    for name, t in torch_sd.items():
        np.testing.assert_array_equal(host(out[name]), t.numpy())
        assert host(out[name]).dtype == t.numpy().dtype


def test_header_layout(tmp_path):
    path = tmp_path / "m.safetensors"
    tl.save({"b": tl.Tensor([1, 2], dtype=tl.int8), "a": tl.Tensor([1.0, 2.0, 3.0])}, path)
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    assert n % 8 == 0 and len(raw) == 8 + n + 2 + 12
    header = json.loads(raw[8:8 + n])
    assert header["b"]["dtype"] == "I8" and header["b"]["shape"] == [2]
    assert header["a"]["dtype"] == "F32" and header["a"]["shape"] == [3]
    meta = header["__metadata__"]
    assert meta["tinygrad_lite.format_version"] == "1"
    import hashlib
    assert meta["tinygrad_lite.sha256"] == hashlib.sha256(raw[8 + n:]).hexdigest()
    begin, end = header["a"]["data_offsets"]
    np.testing.assert_array_equal(np.frombuffer(raw[8 + n + begin:8 + n + end], "<f4"),
                                  [1.0, 2.0, 3.0])


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
def test_dtype_codes(tmp_path, dtype):
    tl.save({"x": tl.zeros(2, dtype=dtype)}, tmp_path / "d.st")
    raw = (tmp_path / "d.st").read_bytes()
    header = json.loads(raw[8:8 + int.from_bytes(raw[:8], "little")])
    assert header["x"]["dtype"] == ST_CODES[dtype]


# ---- nested structures ---------------------------------------------------------------------------
def test_nested_checkpoint_round_trip_exact_types(tmp_path):
    w = tl.randn(3, 2, requires_grad=True)
    ckpt = {
        "model": {"fc.weight": w, "fc.bias": tl.zeros(2)},
        "epoch": 3, "lr": 0.1, "best": float("inf"), "worst": -math.inf, "loss": float("nan"),
        "neg_zero": -0.0, "big": 2**80, "done": False, "ok": True, "note": "épocas ✓",
        "nothing": None, "int_keys": {0: "a", 1: "b", "0": "str zero"}, "bool_key": {True: 1},
        "tup": (1, (2.5, "x"), [None]), "empty": {"d": {}, "l": [], "t": ()},
        "np_array": np.arange(6, dtype=np.int16).reshape(2, 3)[:, ::2],
        "np_scalar": np.float32(1.25), "np_int": np.int64(-4),
        "rng": np.random.default_rng(5).bit_generator.state,
    }
    tl.save(ckpt, tmp_path / "ckpt.safetensors")
    out = tl.load(tmp_path / "ckpt.safetensors")

    def check(a, b):  # a: loaded, b: saved
        if isinstance(b, tl.Tensor):
            assert_same_tensor(a, b)
        elif isinstance(b, np.ndarray):
            assert type(a) is np.ndarray and a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_array_equal(a, b)
        elif isinstance(b, float) and math.isnan(b):
            assert type(a) is float and math.isnan(a)
        else:
            assert type(a) is type(b), (a, b)
            if isinstance(b, dict):
                assert list(a) == list(b) and [type(k) for k in a] == [type(k) for k in b]
                for k in b:
                    check(a[k], b[k])
            elif isinstance(b, (list, tuple)):
                assert len(a) == len(b)
                for x, y in zip(a, b):
                    check(x, y)
            else:
                assert a == b and (not isinstance(b, float) or
                                   math.copysign(1, a) == math.copysign(1, b))
    check(out, ckpt)
    # the rng state is usable as such
    gen = np.random.default_rng()
    gen.bit_generator.state = out["rng"]
    assert gen.random() == np.random.default_rng(5).random()


def test_torch_style_optimizer_state_dict(tmp_path):
    params = [torch.nn.Parameter(torch.randn(3, 2)), torch.nn.Parameter(torch.randn(2))]
    opt = torch.optim.Adam(params, lr=1e-3, betas=(0.9, 0.999))
    for _ in range(2):
        opt.zero_grad()
        (params[0].sum() * params[1].sum()).backward()
        opt.step()
    ref = opt.state_dict()

    def to_tl(x):
        if isinstance(x, torch.Tensor):
            return tl.Tensor(x.numpy())
        if isinstance(x, dict):
            return {k: to_tl(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return type(x)(to_tl(v) for v in x)
        return x
    tl.save({"optimizer": to_tl(ref)}, tmp_path / "opt.st")
    out = tl.load(tmp_path / "opt.st")["optimizer"]
    assert list(out["state"]) == [0, 1]  # int keys stay int
    for i in (0, 1):
        assert set(out["state"][i]) == set(ref["state"][i])
        for key, value in ref["state"][i].items():
            np.testing.assert_array_equal(host(out["state"][i][key]), value.numpy())
    assert out["param_groups"] == ref["param_groups"]  # betas tuple, None, bools, floats
    assert type(out["param_groups"][0]["betas"]) is tuple
    # torch loads the same structure back into its optimizer
    back = {"state": {i: {k: torch.from_numpy(host(v)) for k, v in s.items()}
                      for i, s in out["state"].items()},
            "param_groups": out["param_groups"]}
    opt.load_state_dict(back)


def test_hand_built_optimizer_checkpoint(tmp_path):
    sd = {"weight": tl.randn(2, 2), "bias": tl.randn(2)}
    osd = {"state": {0: {"step": 10, "exp_avg": tl.zeros(2, 2), "exp_avg_sq": tl.ones(2, 2)},
                     1: {"step": 10, "exp_avg": tl.zeros(2), "exp_avg_sq": tl.ones(2)}},
           "param_groups": [{"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-8,
                             "weight_decay": 0.0, "amsgrad": False, "maximize": False,
                             "foreach": None, "params": [0, 1]}]}
    tl.save({"model": sd, "optimizer": osd, "epoch": 3}, tmp_path / "c.st")
    out = tl.load(tmp_path / "c.st")
    assert out["epoch"] == 3 and out["optimizer"]["param_groups"] == osd["param_groups"]
    assert_same_tensor(out["optimizer"]["state"][1]["exp_avg_sq"], osd["state"][1]["exp_avg_sq"])
    assert_same_tensor(out["model"]["weight"], sd["weight"])
    # other tools see the tensors under their dotted paths
    names = set(safetensors_numpy.load_file(str(tmp_path / "c.st")))
    assert {"model.weight", "optimizer.state.0.exp_avg", "optimizer.state.1.exp_avg_sq"} <= names


def test_shared_objects_stay_shared_and_names_never_collide(tmp_path):
    t = tl.randn(3)
    obj = {"a": t, "b": [t], "a.b": tl.ones(1), "x": {"b": tl.zeros(1)}, "__metadata__": t,
           "x.b": tl.full((1,), 5.0)}
    tl.save(obj, tmp_path / "s.st")
    out = tl.load(tmp_path / "s.st")
    assert out["a"] is out["b"][0] is out["__metadata__"]
    assert host(out["x"]["b"]).tolist() == [0.0] and host(out["x.b"]).tolist() == [5.0]


def test_container_subclasses_come_back_as_builtins(tmp_path):
    obj = OrderedDict(w=tl.ones(2), step=1)
    tl.save({"sd": obj, "od": OrderedDict(a=1)}, tmp_path / "o.st")
    out = tl.load(tmp_path / "o.st")
    assert type(out["od"]) is dict and out["od"] == {"a": 1} and out["sd"]["step"] == 1
    tl.save(OrderedDict(w=tl.ones(2)), tmp_path / "flat.st")  # a flat state dict all the same
    assert list(safetensors_numpy.load_file(str(tmp_path / "flat.st"))) == ["w"]


def test_top_level_tensor_and_list(tmp_path):
    t = tl.arange(4)
    tl.save(t, tmp_path / "t.st")
    assert_same_tensor(tl.load(tmp_path / "t.st"), t)
    tl.save([t, (1, 2)], tmp_path / "l.st")
    out = tl.load(tmp_path / "l.st")
    assert_same_tensor(out[0], t) and out[1] == (1, 2)


@pytest.mark.parametrize("obj, where, what", [
    ({"optimizer": {"param_groups": [{"lr": 0.1, "foo": lambda: 0}]}},
     "'optimizer.param_groups[0].foo'", "function"),
    ({"a": [1, 2, object()]}, "'a[2]'", "object"),
    ({"state": {0: {"x": {1, 2}}}}, "'state[0].x'", "set"),
    ({"a": b"bytes"}, "'a'", "bytes"),
    ({"a": 1 + 2j}, "'a'", "complex"),
    (object(), "the top level", "object"),
])
def test_unsupported_objects_raise_type_error_with_path(tmp_path, obj, where, what):
    expected = re.escape(f"save: cannot store object of type {what} at {where} (supported:")
    with pytest.raises(TypeError, match=expected):
        tl.save(obj, tmp_path / "bad.st")
    assert list(tmp_path.iterdir()) == []  # nothing written, not even a temp file


def test_unsupported_keys_dtypes_and_cycles(tmp_path):
    with pytest.raises(TypeError, match=r"dict key of type float at 'a'"):
        tl.save({"a": {1.5: 1}}, tmp_path / "k.st")
    with pytest.raises(TypeError, match=r"dict key of type tuple at 'a'"):
        tl.save({"a": {(1, 2): 1}}, tmp_path / "k.st")
    with pytest.raises(TypeError, match=r"numpy array of dtype complex128 at 'x\[1\]'"):
        tl.save({"x": [1, np.zeros(2, complex)]}, tmp_path / "k.st")
    with pytest.raises(TypeError, match=r"numpy array of dtype object at 'o'"):
        tl.save({"o": np.array([None])}, tmp_path / "k.st")
    loop = {"a": []}
    loop["a"].append(loop)
    with pytest.raises(ValueError, match="reference cycle"):
        tl.save(loop, tmp_path / "k.st")
    assert list(tmp_path.iterdir()) == []


# ---- corrupted files -----------------------------------------------------------------------------
def write_raw(path, header: dict, data: bytes, pad: bool = True) -> None:
    text = json.dumps(header).encode()
    if pad:
        text += b" " * (-len(text) % 8)
    path.write_bytes(len(text).to_bytes(8, "little") + text + data)


@pytest.fixture
def good_file(tmp_path):
    path = tmp_path / "good.st"
    tl.save({"w": tl.randn(4, 4), "b": tl.arange(3), "nested": [1, (2,)]}, path)
    return path


def test_truncated_files(good_file):
    raw = good_file.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    for cut in (0, 3, 7, 8, 8 + n // 2, 8 + n - 1, 8 + n, 8 + n + 1, len(raw) - 1):
        good_file.write_bytes(raw[:cut])
        with pytest.raises(CheckpointError, match=str(good_file.name)) as info:
            tl.load(good_file)
        assert isinstance(info.value, ValueError)
        assert any(word in str(info.value) for word in ("truncated", "header length"))


def test_flipped_data_byte_fails_the_checksum(good_file):
    raw = bytearray(good_file.read_bytes())
    raw[-5] ^= 0x10
    good_file.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="checksum mismatch"):
        tl.load(good_file)


def test_corrupted_header_json(good_file):
    raw = bytearray(good_file.read_bytes())
    raw[8] = ord("[")  # the header's opening brace
    good_file.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="not valid UTF-8 JSON"):
        tl.load(good_file)
    raw[8:12] = b"\xff\xfe{{"
    good_file.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="not valid UTF-8 JSON"):
        tl.load(good_file)


def test_header_length_larger_than_file(good_file):
    raw = good_file.read_bytes()
    good_file.write_bytes((len(raw) * 4).to_bytes(8, "little") + raw[8:])
    with pytest.raises(CheckpointError, match=r"header length \d+ is larger than"):
        tl.load(good_file)


F32x2 = np.array([1.0, 2.0], "<f4").tobytes()


@pytest.mark.parametrize("header, data, message", [
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
      "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, F32x2, "overlap"),
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, F32x2[:6], "past the end"),
    ({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, F32x2, "needs 12"),
    ({"a": {"dtype": "C64", "shape": [1], "data_offsets": [0, 8]}}, F32x2, "unknown dtype 'C64'"),
    ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, F32x2, "belong to no"),
    ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, F32x2, "after the last"),
    ({"a": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}, F32x2, "shape"),
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}}, F32x2, "data_offsets"),
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
      "__metadata__": {"x": 1}}, F32x2, "__metadata__"),
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
      "__metadata__": {"tinygrad_lite.format_version": "99"}}, F32x2, "format version"),
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
      "__metadata__": {"tinygrad_lite.structure": '{"tensor": "zz"}'}}, F32x2, "missing tensor"),
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
      "__metadata__": {"tinygrad_lite.structure": '{"set": []}'}}, F32x2, "unexpected"),
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
      "__metadata__": {"tinygrad_lite.structure": "[1, 2]"}}, F32x2, "not referenced"),
    ([1, 2], b"", "not an object"),
], ids=["overlap", "past-end", "size-mismatch", "unknown-dtype", "gap", "trailing-bytes",
        "negative-shape", "reversed-offsets", "metadata-not-str", "future-version",
        "missing-ref", "bad-tag", "unreferenced", "not-object"])
def test_structural_errors(tmp_path, header, data, message):
    path = tmp_path / "bad.st"
    write_raw(path, header, data)
    with pytest.raises(CheckpointError, match=message) as info:
        tl.load(path)
    assert "bad.st" in str(info.value)


def test_unpadded_header_from_another_writer_loads(tmp_path):
    path = tmp_path / "raw.st"
    write_raw(path, {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, F32x2, False)
    np.testing.assert_array_equal(host(tl.load(path)["a"]), [1.0, 2.0])
    assert safetensors_numpy.load_file(str(path))["a"].tolist() == [1.0, 2.0]


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.st"):
        tl.load(tmp_path / "nope.st")
    with pytest.raises(FileNotFoundError, match="no_dir"):
        tl.save({"a": tl.ones(1)}, tmp_path / "no_dir" / "x.st")


# ---- crash safety --------------------------------------------------------------------------------
def test_overwrite_leaves_no_temp_files(tmp_path):
    path = tmp_path / "c.st"
    tl.save({"a": tl.ones(2)}, path)
    tl.save({"a": tl.zeros(3)}, path)
    assert [p.name for p in tmp_path.iterdir()] == ["c.st"]
    assert host(tl.load(path)["a"]).tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("fail_in", ["replace", "fsync", "write"])
@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()])
def test_crash_mid_save_keeps_previous_checkpoint(tmp_path, monkeypatch, fail_in, error):
    path = tmp_path / "c.st"
    tl.save({"a": tl.ones(2), "epoch": 1}, path)
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise error
    if fail_in == "write":  # the second write (the first data chunk) fails half way
        real_fdopen = os.fdopen

        def failing_fdopen(*args, **kwargs):
            return FailingFile(real_fdopen(*args, **kwargs), error)
        monkeypatch.setattr(os, "fdopen", failing_fdopen)
    else:
        monkeypatch.setattr(os, fail_in, boom)
    with pytest.raises(type(error)):
        tl.save({"a": tl.zeros(1000), "b": tl.ones(5), "epoch": 2}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["c.st"]
    assert tl.load(path)["epoch"] == 1


class FailingFile:
    """A file whose second write puts a few bytes on disk and then fails (a full disk)."""

    def __init__(self, f, error):
        self.f, self.error, self.writes = f, error, 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()

    def write(self, chunk):
        self.writes += 1
        if self.writes == 2:
            self.f.write(bytes(memoryview(chunk).cast("B")[:3]))
            raise self.error
        return self.f.write(chunk)

    def __getattr__(self, name):
        return getattr(self.f, name)


def test_source_never_uses_pickle():
    source = inspect.getsource(serialization)
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported, "the import scan found nothing"
    assert not imported & {"pickle", "cPickle", "dill", "cloudpickle", "marshal", "shelve"}
    assert "import pickle" not in source and "np.load(" not in source
    assert "allow_pickle" not in source
    assert not any(getattr(v, "__name__", "") in ("pickle", "_pickle")
                   for v in vars(serialization).values())


def test_save_and_load_are_the_public_entry_points():
    assert tl.save is serialization.save and tl.load is serialization.load


def test_bfloat16_file_from_torch_names_the_dtype_and_the_fix(tmp_path):
    path = str(tmp_path / "bf16.safetensors")
    safetensors_torch.save_file({"w": torch.ones(2, dtype=torch.bfloat16)}, path)
    with pytest.raises(CheckpointError, match=r"tensor 'w': unknown dtype 'BF16'.*no such dtype"):
        tl.load(path)


def test_tensor_name_with_a_lone_surrogate_is_a_clear_error(tmp_path):
    path = tmp_path / "s.safetensors"
    for obj in ({"a\ud800": tl.ones(1)}, {"a\ud800": tl.ones(1), "epoch": 1}):
        with pytest.raises(ValueError, match="lone surrogate"):
            tl.save(obj, path)
        assert not path.exists()
    tl.save({"a": "\ud800"}, path)  # strings in the structure are JSON-escaped: fine
    assert tl.load(path) == {"a": "\ud800"}
