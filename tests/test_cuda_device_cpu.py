"""CPU-side tests of the CUDA device: its error paths, DLPack, device mismatch, transfers,
checkpoints and the matmul routing, run without CuPy or a GPU.

Two stand-ins make that possible: a fake ``cupy`` module backed by NumPy (so ``"cuda"`` resolves
to a real :class:`CUDADevice` whose arrays happen to live in host memory), and a second CPU-like
device registered under another name.
"""

import importlib
import importlib.util
import sys
import types

import numpy as np
import pytest
import torch

import tinygrad_lite as tl
from tinygrad_lite.device import CPUDevice, CUDADevice
from tinygrad_lite.testing import assert_close, gradcheck, gradgradcheck

device_mod = importlib.import_module("tinygrad_lite.device")
cuda_mod = importlib.import_module("tinygrad_lite.device.cuda")
HAS_CUPY = importlib.util.find_spec("cupy") is not None


@pytest.fixture
def registry(monkeypatch):
    """Restore the device registry (and the global seed) after the test."""
    saved = dict(device_mod._devices)
    monkeypatch.setattr(device_mod, "_seed", device_mod._seed)
    yield device_mod._devices
    device_mod._devices.clear()
    device_mod._devices.update(saved)


def _fake_cupy(count: int = 1, error: Exception | None = None) -> types.ModuleType:
    """A module that looks enough like CuPy for CUDADevice, computing with NumPy."""
    def get_count():
        if error is not None:
            raise error
        return count

    class _Dev:
        def __init__(self, index=0):
            self.index = index

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def synchronize(self):
            pass

    fake = types.ModuleType("cupy")
    fake.__getattr__ = lambda name: getattr(np, name)  # xp.float32, xp.matmul, ...
    fake.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=get_count),
                                      Device=_Dev)
    fake.ndarray = np.ndarray
    fake.random = np.random
    fake.asnumpy = lambda a: np.array(a, copy=True)  # a real transfer copies
    fake.asarray = lambda a, dtype=None: np.array(a, dtype=dtype, copy=True)
    # DLPack import: a FakeGPUArray gives its memory (zero copy), host arrays go to NumPy
    fake.from_dlpack = lambda a: a._array if isinstance(a, FakeGPUArray) else np.from_dlpack(a)
    return fake


class FakeGPUArray:
    """A CuPy array or torch CUDA tensor as our code sees one: DLPack device type 2 (CUDA), and
    no implicit host conversion (``np.array(x)`` raises, as CuPy and torch do for GPU memory)."""

    def __init__(self, array: np.ndarray, index: int = 0, grad: bool = False):
        self._array, self._index, self._grad = array, index, grad

    def __dlpack_device__(self):
        return (2, self._index)

    def __dlpack__(self, *, stream=None):
        if self._grad:  # torch refuses to export a tensor that requires grad
            raise RuntimeError("Can't export tensors that require gradient, use tensor.detach()")
        raise BufferError("only the fake cupy.from_dlpack reads this array")

    def detach(self):
        return FakeGPUArray(self._array, self._index)

    def __array__(self, *args, **kwargs):
        raise TypeError("Implicit conversion to a NumPy array is not allowed")


@pytest.fixture
def fake_cuda(monkeypatch, registry):
    for name in ("cuda", "cuda:0"):  # a real GPU device made by an earlier test stays out
        registry.pop(name, None)
    monkeypatch.setitem(sys.modules, "cupy", _fake_cupy())
    return tl.device("cuda")


class OtherDevice(CPUDevice):
    """A second host device: NumPy arrays, but a different device for the mismatch checks."""

    type = "other"


# ---- error paths -------------------------------------------------------------------------------
def test_missing_cupy_says_what_to_install(monkeypatch, registry):
    monkeypatch.setitem(sys.modules, "cupy", None)  # `import cupy` raises ImportError
    for name in ("cuda", "cuda:0"):
        registry.pop(name, None)
    with pytest.raises(RuntimeError, match=r"CuPy is not installed.*tinygrad-lite\[cuda\]"):
        tl.zeros(2, device="cuda")
    with pytest.raises(RuntimeError, match="cupy-cuda13x"):
        tl.tensor([1.0]).cuda()
    assert tl.cuda.is_available() is False
    assert tl.cuda.device_count() == 0
    assert "CuPy is not installed" in tl.cuda.unavailable_reason()


def test_no_gpu_found(monkeypatch, registry):
    for name in ("cuda", "cuda:0"):
        registry.pop(name, None)
    monkeypatch.setitem(sys.modules, "cupy", _fake_cupy(error=OSError("libcuda.so not found")))
    with pytest.raises(RuntimeError, match=r"no usable NVIDIA GPU.*libcuda\.so not found"):
        tl.tensor([1.0, 2.0], device="cuda")
    assert tl.cuda.is_available() is False
    monkeypatch.setitem(sys.modules, "cupy", _fake_cupy(count=0))
    with pytest.raises(RuntimeError, match="no NVIDIA GPU was found"):
        tl.randn(3, device="cuda")
    assert "no NVIDIA GPU was found" in tl.cuda.unavailable_reason()
    monkeypatch.setitem(sys.modules, "cupy", _fake_cupy(count=1))
    assert tl.cuda.unavailable_reason() is None
    with pytest.raises(RuntimeError, match=r"'cuda:1': only 1 GPU\(s\) found"):
        tl.device("cuda:1")


@pytest.mark.skipif(HAS_CUPY, reason="CuPy is installed here")
def test_cuda_unavailable_without_cupy():
    assert tl.cuda.is_available() is False
    with pytest.raises(RuntimeError, match="device 'cuda'"):
        tl.ones(2, 2, device="cuda")
    with pytest.raises(RuntimeError):
        tl.cuda.synchronize()


def test_unknown_device_is_a_value_error():
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        tl.zeros(1, device="tpu")


# ---- the CUDA device over the fake CuPy ------------------------------------------------------
def test_fake_cuda_resolves_and_moves(fake_cuda):
    assert isinstance(fake_cuda, CUDADevice)
    assert tl.device("cuda:0") is fake_cuda and str(fake_cuda) == "cuda:0"
    assert tl.cuda.is_available() and tl.cuda.device_count() == 1
    x = tl.tensor([[1.0, -2.0], [3.0, 4.0]], requires_grad=True)
    y = x.cuda()
    assert y.device is fake_cuda and y.device == "cuda" and y._data is not x._data
    z = (y * y).sum()
    assert z.device is fake_cuda
    z.backward()  # the gradient comes back through the transfer to the CPU leaf
    assert x.grad.device is tl.device("cpu")
    assert_close(x.grad, 2 * x.detach())
    back = y.cpu()
    assert back.device == "cpu"
    np.testing.assert_array_equal(back.detach().numpy(), x.detach().numpy())
    tl.cuda.synchronize()


def test_fake_cuda_creation_and_seed(fake_cuda):
    tl.manual_seed(3)
    a = tl.randn(4, 5, device="cuda")
    tl.manual_seed(3)
    b = tl.randn(4, 5, device="cuda")
    assert a.device is fake_cuda
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert tl.zeros(2, 3, device="cuda").device is fake_cuda
    assert tl.tensor([1, 2], device="cuda").dtype is tl.int64


def test_seed_reaches_devices_created_later(monkeypatch, registry):
    for name in ("cuda", "cuda:0"):
        registry.pop(name, None)
    tl.manual_seed(11)
    monkeypatch.setitem(sys.modules, "cupy", _fake_cupy())
    first = tl.rand(6, device="cuda").numpy()
    tl.manual_seed(11)
    np.testing.assert_array_equal(tl.rand(6, device="cuda").numpy(), first)


def test_module_and_optimizer_on_fake_cuda(fake_cuda, sgemm_calls):
    tl.manual_seed(0)
    model = tl.nn.Linear(3, 2).to("cuda")
    assert all(p.device is fake_cuda for p in model.parameters())
    opt = tl.optim.Adam(model.parameters(), lr=0.1)
    x = tl.randn(4, 3, device="cuda")
    before = model.weight.detach().cpu().numpy()
    model(x).square().mean().backward()
    opt.step()
    assert model.weight.device is fake_cuda
    assert not np.array_equal(model.weight.detach().cpu().numpy(), before)
    assert sgemm_calls  # float32 Linear on cuda runs our SGEMM


def test_checkpoint_from_gpu_loads_on_cpu_and_back(fake_cuda, tmp_path):
    state = {"w": tl.randn(3, 4, device="cuda"), "step": tl.tensor(5, device="cuda")}
    path = tmp_path / "ckpt.safetensors"
    tl.save(state, path)
    on_cpu = tl.load(path)
    assert on_cpu["w"].device == "cpu"
    np.testing.assert_array_equal(on_cpu["w"].numpy(), state["w"].numpy())
    on_gpu = tl.load(path, device="cuda")
    assert on_gpu["w"].device is fake_cuda and on_gpu["step"].item() == 5


def test_copy_across_devices(fake_cuda):
    src = tl.tensor([1.0, 2.0, 3.0], requires_grad=True)
    dst = tl.zeros(3, device="cuda")
    dst.copy_(src)
    assert dst.device is fake_cuda and dst.tolist() == [1.0, 2.0, 3.0]
    (dst * tl.tensor([1.0, 2.0, 3.0], device="cuda")).sum().backward()
    assert src.grad.device == "cpu" and src.grad.tolist() == [1.0, 2.0, 3.0]


# ---- device mismatch -------------------------------------------------------------------------
@pytest.mark.parametrize("op", ["add", "mul", "lt", "eq", "matmul", "where", "cat", "maximum"])
def test_mismatch_names_both_devices(fake_cuda, op):
    a = tl.ones(2, 2)
    b = tl.ones(2, 2, device="cuda")
    fns = {"add": lambda: a + b, "mul": lambda: b * a, "lt": lambda: a < b, "eq": lambda: a == b,
           "matmul": lambda: a @ b, "where": lambda: tl.where(a > 0, a, b),
           "cat": lambda: tl.cat([a, b]), "maximum": lambda: tl.maximum(a, b)}
    with pytest.raises(RuntimeError, match="expected all tensors on the same device") as info:
        fns[op]()
    msg = str(info.value)
    assert "cpu" in msg and "cuda:0" in msg


def test_mismatch_with_mixed_dtypes(registry):
    registry["other"] = OtherDevice()
    a = tl.ones(3, dtype=tl.float64)
    b = tl.ones(3, dtype=tl.float32, device="other")
    with pytest.raises(RuntimeError, match="sub: .* got cpu and other"):
        a - b


# ---- matmul routing on the CUDA device -------------------------------------------------------
@pytest.fixture
def sgemm_calls(fake_cuda, monkeypatch):
    """Replace kernels/cuda's sgemm by a NumPy version that checks its contract."""
    calls = []

    def sgemm(a, b, trans_a=False, trans_b=False):
        assert a.dtype == b.dtype == np.float32
        assert a.flags.c_contiguous and b.flags.c_contiguous
        assert a.ndim == b.ndim and a.ndim in (2, 3)
        if a.ndim == 3:
            assert a.shape[0] == b.shape[0]
        calls.append((a.shape, b.shape, trans_a, trans_b))
        return np.matmul(np.swapaxes(a, -1, -2) if trans_a else a,
                         np.swapaxes(b, -1, -2) if trans_b else b)

    monkeypatch.setattr(cuda_mod, "_sgemm_fn", sgemm)
    monkeypatch.delenv("TINYGRAD_LITE_KERNELS", raising=False)
    return calls


@pytest.mark.parametrize("shapes", [((5, 7), (7, 3)), ((2, 5, 7), (7, 3)),
                                    ((2, 5, 7), (2, 7, 3)), ((4, 1, 5, 7), (3, 7, 2)),
                                    ((7,), (7, 3)), ((5, 7), (7,))])
def test_float32_matmul_goes_to_sgemm(sgemm_calls, shapes):
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal(s).astype(np.float32) for s in shapes)
    ta = tl.tensor(a, device="cuda", requires_grad=True)
    tb = tl.tensor(b, device="cuda", requires_grad=True)
    out = ta @ tb
    np.testing.assert_allclose(out.detach().numpy(), a @ b, rtol=1e-5, atol=1e-5)
    out.sum().backward()  # NT and TN products: flags, never a transposed copy
    ga, gb = torch.func.grad(lambda x, y: (x @ y).sum(), argnums=(0, 1))(
        torch.from_numpy(a), torch.from_numpy(b))
    np.testing.assert_allclose(ta.grad.numpy(), ga.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(tb.grad.numpy(), gb.numpy(), rtol=1e-5, atol=1e-5)
    assert len(sgemm_calls) == 3
    if len(shapes[0]) == 3 and len(shapes[1]) == 2:  # x @ W: all three fold to 2-D GEMMs
        assert all(len(c[0]) == 2 for c in sgemm_calls)
    assert any(c[2] for c in sgemm_calls) and any(c[3] for c in sgemm_calls)


def test_linear_uses_trans_flags(sgemm_calls):
    x = tl.randn(2, 3, 4, device="cuda", requires_grad=True)
    layer = tl.nn.Linear(4, 5).to("cuda")
    layer(x).sum().backward()
    assert sgemm_calls[0] == ((6, 4), (5, 4), False, True)  # x (folded) @ w^T
    assert ((6, 5), (6, 4), True, False) in sgemm_calls  # gw = g^T x
    assert x.grad.shape == (2, 3, 4)


def test_library_switch_and_other_dtypes_skip_sgemm(sgemm_calls, monkeypatch):
    a = tl.randn(3, 4, device="cuda")
    b = tl.randn(4, 2, device="cuda")
    monkeypatch.setenv("TINYGRAD_LITE_KERNELS", "library")
    assert_close(a @ b, (a.cpu() @ b.cpu()).cuda())
    monkeypatch.delenv("TINYGRAD_LITE_KERNELS")
    a.double() @ b.double()
    tl.zeros(0, 4, device="cuda") @ b
    assert sgemm_calls == []
    a @ b
    assert len(sgemm_calls) == 1


@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
def test_matmul_trans_flags_twice_differentiable(ta, tb):
    from tinygrad_lite.ops.linalg import MatMul

    a = tl.randn(2, 4, 3, dtype=tl.float64, requires_grad=True)  # op(a): (2, 3, 4) if ta
    b = tl.randn(4, 5, dtype=tl.float64, requires_grad=True)
    a_ = a if ta else a.mT.contiguous().detach().requires_grad_()
    b_ = b.mT.contiguous().detach().requires_grad_() if tb else b

    def fn(x, y):
        return MatMul.apply(x, y, trans_a=ta, trans_b=tb)

    want = (a_.mT if ta else a_) @ (b_.mT if tb else b_)
    assert_close(fn(a_, b_), want)
    assert gradcheck(fn, (a_, b_))
    assert gradgradcheck(fn, (a_, b_))


# ---- DLPack ------------------------------------------------------------------------------------
def test_dlpack_numpy_round_trip_shares_memory():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = tl.from_dlpack(a)
    assert t.device == "cpu" and t.dtype is tl.float32 and t.shape == (2, 3)
    a[0, 0] = 42.0
    assert t[0, 0].item() == 42.0  # the tensor sees writes to the array
    t.add_(1.0)
    assert a[1, 2] == 6.0  # and the array sees writes through the tensor
    back = np.from_dlpack(t)
    assert np.shares_memory(back, a)
    assert t.__dlpack_device__()[0] == 1


def test_dlpack_torch_round_trip_shares_memory():
    src = torch.arange(8, dtype=torch.float64).reshape(2, 4)
    t = tl.from_dlpack(src)
    assert t.dtype is tl.float64 and t.shape == (2, 4)
    src[1, 1] = -7.0
    assert t[1, 1].item() == -7.0
    out = torch.from_dlpack(t)
    out[0, 0] = 99.0
    assert t[0, 0].item() == 99.0 and src[0, 0].item() == 99.0
    ints = tl.from_dlpack(torch.tensor([3, 1, 2]))
    assert ints.dtype is tl.int64 and ints.tolist() == [3, 1, 2]


def test_dlpack_unknown_device_type():
    class Foreign:
        def __dlpack_device__(self):
            return (8, 0)  # a Metal buffer, say

    with pytest.raises(RuntimeError, match="unsupported DLPack device type 8"):
        tl.from_dlpack(Foreign())


def test_dlpack_forwards_protocol_keywords():
    class Recorder:  # a backend array whose __dlpack__ records what it was asked
        def __init__(self):
            self.calls = []

        def __dlpack__(self, **kwargs):
            self.calls.append(kwargs)
            return "capsule"

    t = tl.tensor([1.0, 2.0])
    rec = t._data = Recorder()
    assert t.__dlpack__() == "capsule" and t.__dlpack__(stream=None) == "capsule"
    t.__dlpack__(stream=7, max_version=(1, 0), dl_device=(2, 0), copy=False)
    assert rec.calls == [{}, {}, {"stream": 7, "max_version": (1, 0), "dl_device": (2, 0),
                                  "copy": False}]


def test_torch_from_dlpack_shares_memory_and_honours_copy():
    t = tl.tensor([[1.0, 2.0], [3.0, 4.0]])
    shared = torch.from_dlpack(t)  # the newer protocol: max_version, dl_device, copy
    shared[0, 1] = -5.0
    assert t[0, 1].item() == -5.0
    copied = torch.from_dlpack(t, copy=True)
    copied[1, 1] = 100.0
    assert t[1, 1].item() == 4.0 and copied.tolist() == [[1.0, -5.0], [3.0, 100.0]]


# ---- foreign GPU arrays (CuPy, torch CUDA) -----------------------------------------------------
def test_tensor_from_foreign_gpu_array_copies_through_dlpack(fake_cuda):
    src = np.arange(6, dtype=np.float64).reshape(2, 3)
    on_gpu = tl.tensor(FakeGPUArray(src), device="cuda")  # no np.array(src): it would raise
    assert on_gpu.device is fake_cuda and on_gpu.dtype is tl.float64
    assert not np.shares_memory(on_gpu._data, src)  # tl.tensor copies, like torch.tensor
    np.testing.assert_array_equal(on_gpu.numpy(), src)
    on_cpu = tl.tensor(FakeGPUArray(src, grad=True), dtype=tl.float32, requires_grad=True)
    assert on_cpu.device == "cpu" and on_cpu.dtype is tl.float32 and on_cpu.requires_grad
    assert not np.shares_memory(on_cpu._data, src)
    np.testing.assert_array_equal(on_cpu.detach().numpy(), src.astype(np.float32))
    ints = tl.tensor(FakeGPUArray(np.array([3, 1], dtype=np.int32)), dtype=tl.int64,
                     device="cuda")
    assert ints.dtype is tl.int64 and ints.tolist() == [3, 1]


def test_tensor_from_our_gpu_tensor_copies(fake_cuda):
    a = tl.tensor([1.0, 2.0], device="cuda")
    b = tl.tensor(a, device="cuda")
    assert b.device is fake_cuda and not np.shares_memory(a._data, b._data)
    c = tl.tensor(a, dtype=tl.float16)
    assert c.device == "cpu" and c.dtype is tl.float16 and c.tolist() == [1.0, 2.0]


def test_foreign_gpu_array_on_another_gpu(monkeypatch, registry):
    for name in ("cuda", "cuda:0", "cuda:1"):
        registry.pop(name, None)
    monkeypatch.setitem(sys.modules, "cupy", _fake_cupy(count=2))
    src = np.array([1.5, -2.5], dtype=np.float32)
    t = tl.tensor(FakeGPUArray(src, index=1), device="cuda:0")
    assert t.device is tl.device("cuda:0") and t.tolist() == [1.5, -2.5]
    assert not np.shares_memory(t._data, src)


def test_foreign_gpu_array_without_cupy(monkeypatch, registry):
    monkeypatch.setitem(sys.modules, "cupy", None)
    for name in ("cuda", "cuda:0"):
        registry.pop(name, None)
    with pytest.raises(RuntimeError, match="CuPy is not installed"):
        tl.tensor(FakeGPUArray(np.zeros(2)))


def test_host_inputs_unchanged_by_gpu_path():
    a = np.array([1.0, 2.0])
    assert tl.tensor(a).dtype is tl.float64 and not np.shares_memory(tl.tensor(a)._data, a)
    assert tl.tensor(torch.tensor([1, 2])).dtype is tl.int64
    assert tl.tensor(torch.ones(2, requires_grad=True)).tolist() == [1.0, 1.0]
    assert tl.tensor([1.0, 2.0]).dtype is tl.float32


# ---- checkpoints into modules and optimisers on cuda -------------------------------------------
def test_module_load_state_dict_from_cpu_into_cuda(fake_cuda, sgemm_calls, tmp_path):
    tl.manual_seed(1)
    cpu_model = tl.nn.Linear(3, 2)
    model = tl.nn.Linear(3, 2).to("cuda")
    weight = model.weight
    tl.save(cpu_model.state_dict(), tmp_path / "m.safetensors")
    model.load_state_dict(tl.load(tmp_path / "m.safetensors"))  # CPU tensors
    assert model.weight is weight and weight.device is fake_cuda and weight.dtype is tl.float32
    assert_close(model.weight.detach().cpu(), cpu_model.weight.detach())
    w64 = np.full((2, 3), 0.5)  # NumPy, float64: cast to the parameter's float32
    model.load_state_dict({"weight": w64, "bias": torch.tensor([1.0, 2.0])})
    assert weight.device is fake_cuda and weight.dtype is tl.float32
    assert weight.tolist() == [[0.5] * 3] * 2 and model.bias.tolist() == [1.0, 2.0]
    model.load_state_dict({"weight": FakeGPUArray(np.ones((2, 3), np.float32), grad=True),
                           "bias": FakeGPUArray(np.zeros(2, np.float32))})
    assert weight.device is fake_cuda and weight.tolist() == [[1.0] * 3] * 2
    x = tl.randn(4, 3, device="cuda")
    assert model(x).device is fake_cuda


def _trained_adam(device, steps=2):
    tl.manual_seed(2)
    model = tl.nn.Linear(3, 2).to(device)
    opt = tl.optim.Adam(model.parameters(), lr=0.1)
    for _ in range(steps):
        opt.zero_grad()
        model(tl.ones(5, 3, device=device)).square().mean().backward()
        opt.step()
    return model, opt


def test_optimizer_load_state_dict_from_cpu_into_cuda(fake_cuda, sgemm_calls, tmp_path):
    cpu_model, cpu_opt = _trained_adam("cpu")
    model, opt = _trained_adam("cuda", steps=0)
    model.load_state_dict(cpu_model.state_dict())
    tl.save(cpu_opt.state_dict(), tmp_path / "opt.safetensors")
    opt.load_state_dict(tl.load(tmp_path / "opt.safetensors"))  # state on the CPU
    for p in model.parameters():
        state = opt.state[p]
        assert state["exp_avg"].device is fake_cuda and state["exp_avg_sq"].device is fake_cuda
        assert state["exp_avg"].dtype is p.dtype
        assert state["step"].device == "cpu" and state["step"].item() == 2
    for m, o in ((cpu_model, cpu_opt), (model, opt)):  # one more step agrees on both
        o.zero_grad()
        m(tl.ones(5, 3, device=m.weight.device)).square().mean().backward()
        o.step()
    assert model.weight.device is fake_cuda
    assert_close(model.weight.detach().cpu(), cpu_model.weight.detach())


def test_optimizer_load_state_dict_foreign_and_gpu_step(fake_cuda, sgemm_calls):
    model, opt = _trained_adam("cuda", steps=0)
    w, b = model.weight, model.bias
    saved = {"state": {0: {"step": tl.tensor(3.0, device="cuda"),
                           "exp_avg": torch.ones(2, 3, dtype=torch.float64),
                           "exp_avg_sq": FakeGPUArray(np.full((2, 3), 2.0, np.float32))},
                       1: {"step": FakeGPUArray(np.array(3.0, np.float32)),
                           "exp_avg": np.zeros(2), "exp_avg_sq": np.ones(2)}},
             "param_groups": opt.state_dict()["param_groups"]}
    opt.load_state_dict(saved)
    assert opt.state[w]["exp_avg"].device is fake_cuda and opt.state[w]["exp_avg"].dtype is \
        tl.float32
    assert opt.state[w]["exp_avg_sq"].tolist() == [[2.0] * 3] * 2
    assert opt.state[b]["exp_avg"].device is fake_cuda
    for p in (w, b):  # step comes to the CPU, where the optimiser reads it every step
        assert opt.state[p]["step"].device == "cpu" and opt.state[p]["step"].item() == 3.0
    model(tl.ones(1, 3, device="cuda")).sum().backward()
    opt.step()
    assert opt.state[w]["step"].item() == 4.0 and w.device is fake_cuda


def test_tensor_from_tensor_copies_contiguous(fake_cuda):
    x = tl.arange(6.0).reshape(2, 3)
    for device in ("cpu", "cuda"):
        y = tl.tensor(x.mT, device=device)
        assert y.device == device and y.is_contiguous() and y.tolist() == x.mT.tolist()
        assert not np.shares_memory(y._data, x._data)
    z = tl.tensor(x.cuda().mT, dtype=tl.int32, device="cuda")
    assert z.is_contiguous() and z.dtype is tl.int32 and z.tolist() == [[0, 3], [1, 4], [2, 5]]
