"""Device semantics on ``cuda``: transfers, creation, device-mismatch errors, ``tl.cuda``, the
seeded RNG and zero-copy DLPack exchange with CuPy and torch."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_lite as tl


def test_tl_cuda_reports_the_gpu():
    assert tl.cuda.is_available() is True
    assert tl.cuda.device_count() >= 1
    assert tl.cuda.synchronize() is None


@pytest.mark.parametrize("dtype", [tl.float16, tl.float32, tl.float64, tl.int32, tl.int64,
                                   tl.bool])
def test_round_trip_keeps_values_dtype_and_shape(dtype):
    a = (np.arange(24).reshape(2, 3, 4) % 5).astype(dtype.np)
    x = tl.tensor(a, dtype=dtype)
    for y in (x.to("cuda"), x.cuda(), tl.tensor(a, dtype=dtype, device="cuda"),
              x.to(tl.device("cuda"))):
        assert y.device.type == "cuda" and y.device == "cuda", y.device
        assert y.dtype == dtype and tuple(y.shape) == (2, 3, 4)
        back = y.cpu()
        assert back.device.type == "cpu" and back.dtype == dtype
        np.testing.assert_array_equal(back.numpy(), x.numpy())
        np.testing.assert_array_equal(y.numpy(), x.numpy())  # numpy() copies to the host
    assert x.to("cuda").to("cuda").device.type == "cuda"


def test_creation_functions_on_cuda():
    for t in (tl.zeros(2, 3, device="cuda"), tl.ones(4, device="cuda"),
              tl.full((2, 2), 7.0, device="cuda"), tl.arange(5, device="cuda"),
              tl.eye(3, device="cuda"), tl.linspace(0, 1, 5, device="cuda"),
              tl.empty(3, device="cuda"), tl.zeros_like(tl.ones(3, device="cuda"))):
        assert t.device.type == "cuda", t
    np.testing.assert_array_equal(tl.arange(5, device="cuda").cpu().numpy(), np.arange(5))
    assert tl.arange(5, device="cuda").dtype == tl.int64
    assert tl.zeros(2, device="cuda").dtype == tl.float32


def test_transfer_is_differentiable():
    x = tl.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x.cuda() * tl.tensor([2.0, 3.0, 4.0], device="cuda")).sum()
    assert y.device.type == "cuda"
    y.backward()
    assert x.grad.device.type == "cpu"
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 3.0, 4.0])
    z = tl.tensor([1.0, 2.0], device="cuda", requires_grad=True)
    (z.cpu() ** 2).sum().backward()
    assert z.grad.device.type == "cuda"
    np.testing.assert_array_equal(z.grad.cpu().numpy(), [2.0, 4.0])


MIXED = [
    ("add", lambda a, b: a + b),
    ("mul", lambda a, b: a * b),
    ("matmul", lambda a, b: a.reshape(2, 2) @ b.reshape(2, 2)),
    ("cat", lambda a, b: tl.cat([a, b])),
    ("where", lambda a, b: tl.where(a > 0, a, b)),
    ("maximum", lambda a, b: tl.maximum(a, b)),
    ("stack", lambda a, b: tl.stack([a, b])),
]


@pytest.mark.parametrize("name,fn", MIXED, ids=[m[0] for m in MIXED])
@pytest.mark.parametrize("order", ["cpu-cuda", "cuda-cpu"])
def test_mixing_devices_is_a_runtime_error_naming_both(name, fn, order):
    a = tl.tensor([1.0, -2.0, 3.0, 4.0])
    b = a.cuda()
    args = (a, b) if order == "cpu-cuda" else (b, a)
    with pytest.raises(RuntimeError) as info:
        fn(*args)
    msg = str(info.value).lower()
    assert "cpu" in msg and "cuda" in msg, f"{name}: the message should name both devices: {msg}"


def test_seeded_rng_on_cuda_is_reproducible():
    def draw():
        return (tl.rand(1000, device="cuda"), tl.randn(3, 4, device="cuda"),
                tl.randint(0, 10, (50,), device="cuda"))

    tl.manual_seed(123)
    first = draw()
    again_later = draw()
    tl.manual_seed(123)
    second = draw()
    for a, b in zip(first, second):
        assert a.device.type == "cuda"
        np.testing.assert_array_equal(a.cpu().numpy(), b.cpu().numpy())
    assert not np.array_equal(first[0].cpu().numpy(), again_later[0].cpu().numpy())
    u = first[0].cpu().numpy()
    assert u.dtype == np.float32 and u.min() >= 0 and u.max() < 1 and 0.4 < u.mean() < 0.6
    ints = first[2].cpu().numpy()
    assert first[2].dtype == tl.int64 and ints.min() >= 0 and ints.max() < 10
    tl.manual_seed(124)
    assert not np.array_equal(tl.rand(1000, device="cuda").cpu().numpy(), u)


def test_seeded_dropout_on_cuda_is_reproducible():
    x = tl.ones(4096, device="cuda")
    tl.manual_seed(7)
    a = tl.nn.functional.dropout(x, 0.5, training=True).cpu().numpy()
    tl.manual_seed(7)
    b = tl.nn.functional.dropout(x, 0.5, training=True).cpu().numpy()
    np.testing.assert_array_equal(a, b)


# ---- DLPack ---------------------------------------------------------------------------------
def test_dlpack_with_cupy_is_zero_copy_both_ways(cupy):
    c = cupy.arange(6, dtype=cupy.float32)
    t = tl.from_dlpack(c)
    assert t.device.type == "cuda" and t.dtype == tl.float32 and tuple(t.shape) == (6,)
    c[0] = 42
    assert t.cpu().numpy()[0] == 42, "a CuPy write is not visible in the tinygrad_lite tensor"
    t[1] = 7.0
    tl.cuda.synchronize()
    assert float(c[1]) == 7.0, "a tinygrad_lite write is not visible in the CuPy array"

    u = tl.zeros(2, 3, device="cuda")
    assert u.__dlpack_device__()[0] == 2  # kDLCUDA
    v = cupy.from_dlpack(u)
    assert v.shape == (2, 3)
    v[...] = 3
    np.testing.assert_array_equal(u.cpu().numpy(), np.full((2, 3), 3, np.float32))
    u.add_(1.0)
    tl.cuda.synchronize()
    assert float(v[0, 0]) == 4.0


def test_dlpack_with_torch_cuda_is_zero_copy_both_ways():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("this torch build has no CUDA")
    tt = torch.arange(4, dtype=torch.float32, device="cuda")
    t = tl.from_dlpack(tt)
    assert t.device.type == "cuda" and tuple(t.shape) == (4,)
    tt[0] = 9
    torch.cuda.synchronize()
    assert t.cpu().numpy()[0] == 9, "a torch write is not visible in the tinygrad_lite tensor"
    t[1] = -5.0
    tl.cuda.synchronize()
    assert tt[1].item() == -5.0, "a tinygrad_lite write is not visible in the torch tensor"

    ours = tl.ones(3, device="cuda")
    back = torch.from_dlpack(ours)
    assert back.is_cuda and back.dtype == torch.float32
    back.mul_(2)
    torch.cuda.synchronize()
    np.testing.assert_array_equal(ours.cpu().numpy(), [2.0, 2.0, 2.0])


# ---- copies of GPU arrays and CPU checkpoints into GPU modules -------------------------------
def test_tl_tensor_copies_gpu_arrays(cupy):
    c = cupy.arange(4, dtype=cupy.float32)
    host = tl.tensor(c)  # torch.tensor semantics: a copy, on the CPU unless a device is given
    assert host.device.type == "cpu"
    np.testing.assert_array_equal(host.numpy(), [0, 1, 2, 3])
    dev = tl.tensor(c, device="cuda")
    assert dev.device.type == "cuda" and dev._data.data.ptr != c.data.ptr
    c[0] = 9
    assert float(dev.cpu().numpy()[0]) == 0.0, "tl.tensor must copy, not alias"
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        src = torch.ones(3, device="cuda", requires_grad=True)
        got = tl.tensor(src, device="cuda", dtype=tl.float64)
        assert got.dtype == tl.float64 and got.device.type == "cuda"
        np.testing.assert_array_equal(got.cpu().numpy(), [1.0, 1.0, 1.0])


def test_cpu_checkpoint_loads_into_gpu_model_and_optimizer(tmp_path):
    tl.manual_seed(0)
    cpu_model = tl.nn.Linear(4, 3)
    opt = tl.optim.Adam(cpu_model.parameters(), lr=1e-2)
    x = tl.randn(8, 4)
    cpu_model(x).square().mean().backward()
    opt.step()
    tl.save({"model": cpu_model.state_dict(), "opt": opt.state_dict()}, tmp_path / "c.pt")

    ckpt = tl.load(tmp_path / "c.pt")  # on the CPU
    gpu_model = tl.nn.Linear(4, 3).to("cuda")
    gpu_model.load_state_dict(ckpt["model"])
    assert gpu_model.weight.device.type == "cuda"
    np.testing.assert_allclose(gpu_model.weight.detach().cpu().numpy(),
                               cpu_model.weight.detach().numpy())
    gpu_opt = tl.optim.Adam(gpu_model.parameters(), lr=1e-2)
    gpu_opt.load_state_dict(ckpt["opt"])
    state = gpu_opt.state[gpu_model.weight]
    assert state["exp_avg"].device.type == "cuda"
    # one more step on each side stays equal
    for model, o, xx in ((cpu_model, opt, x), (gpu_model, gpu_opt, x.to("cuda"))):
        o.zero_grad()
        model(xx).square().mean().backward()
        o.step()
    np.testing.assert_allclose(gpu_model.weight.detach().cpu().numpy(),
                               cpu_model.weight.detach().numpy(),
                               rtol=1e-5, atol=1e-6)
