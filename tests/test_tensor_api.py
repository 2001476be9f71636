"""The Tensor surface of DESIGN §5 against torch.

Attributes, conversions, in-place methods, NumPy/DLPack interop, Python protocols, construction
dtype rules and device errors. Expected values come from torch on the same data.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

import tinygrad_lite as tl

RNG = np.random.default_rng(1)

DTYPES = [
    (tl.float16, torch.float16, np.float16),
    (tl.float32, torch.float32, np.float32),
    (tl.float64, torch.float64, np.float64),
    (tl.int32, torch.int32, np.int32),
    (tl.int64, torch.int64, np.int64),
    (tl.bool, torch.bool, np.bool_),
]
TL_TO_TORCH = {a: b for a, b, _ in DTYPES}


def rand(*shape, dtype=np.float32):
    return RNG.uniform(-3, 3, size=shape).astype(dtype)


def pair(data, **kw):
    """The same data for both libraries; Python data stays Python data (dtype inference)."""
    if isinstance(data, np.ndarray):
        return tl.tensor(data.copy(), **kw), torch.tensor(data.copy(), **kw)
    return tl.tensor(data, **kw), torch.tensor(data, **kw)


def same(ours, ref):
    """Same dtype (by name), shape and values (exactly) as torch's tensor."""
    assert TL_TO_TORCH[ours.dtype] == ref.dtype, f"dtype {ours.dtype} vs torch {ref.dtype}"
    got = np.asarray(ours.detach().numpy())
    exp = ref.detach().numpy()
    assert got.shape == exp.shape
    np.testing.assert_array_equal(got, exp)


# --------------------------------------------------------------------------------------------
# attributes
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(), (1,), (5,), (2, 3), (2, 1, 4), (0, 3)])
def test_shape_ndim_size_numel(shape):
    arr = np.asarray(rand(*shape))
    t, tt = pair(arr)
    assert tuple(t.shape) == tuple(tt.shape)
    assert t.shape == tuple(tt.shape)  # a tuple (torch.Size is a tuple subclass)
    assert t.ndim == tt.ndim
    assert tuple(t.size()) == tuple(tt.size())
    assert t.numel() == tt.numel()
    for d in range(-len(shape), len(shape)):
        assert t.size(d) == tt.size(d)
        assert isinstance(t.size(d), int)


def test_size_dim_out_of_range_raises():
    t = tl.tensor(rand(2, 3))
    with pytest.raises((IndexError, ValueError)):
        t.size(2)
    with pytest.raises((IndexError, ValueError)):
        t.size(-3)


def test_dtype_and_device_attributes():
    t = tl.tensor(rand(2))
    assert t.dtype == tl.float32
    assert t.dtype != tl.float64
    assert "float32" in str(t.dtype)
    assert str(t.device) == "cpu"
    for ours, ref, npdt in DTYPES:
        x = tl.tensor(np.zeros(2, dtype=npdt))
        assert x.dtype == ours, f"numpy {npdt} gave {x.dtype}"
        assert x.numpy().dtype == npdt


def test_T_and_mT():
    t, tt = pair(rand(3, 4))
    same(t.T, tt.T)
    b, bt = pair(rand(2, 3, 4))
    same(b.mT, bt.mT)
    assert b.mT.shape == (2, 4, 3)


def test_T_and_mT_are_differentiable():
    t, tt = pair(rand(3, 4).astype(np.float64), requires_grad=True)
    w = rand(3, 4).astype(np.float64)
    (t.T * tl.tensor(w.T)).sum().backward()
    (tt.T * torch.tensor(w.T)).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), tt.grad.numpy())


# --------------------------------------------------------------------------------------------
# conversions
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype_idx", range(len(DTYPES)))
def test_numpy_values_and_dtype(dtype_idx):
    ours_dt, _, np_dt = DTYPES[dtype_idx]
    arr = (rand(2, 3) * 2).astype(np_dt)
    t = tl.tensor(arr)
    assert t.dtype == ours_dt
    out = t.numpy()
    assert isinstance(out, np.ndarray)
    assert out.dtype == np_dt
    np.testing.assert_array_equal(out, torch.tensor(arr).numpy())


def test_item():
    f = tl.tensor(2.5)
    assert f.item() == torch.tensor(2.5).item() and isinstance(f.item(), float)
    i = tl.tensor(7)
    assert i.item() == 7 and isinstance(i.item(), int)
    b = tl.tensor(True)
    assert b.item() is True
    one = tl.tensor([[3.25]])
    assert one.item() == 3.25  # any one-element tensor, like torch
    f32 = tl.tensor(np.float32(0.1))
    assert f32.item() == torch.tensor(np.float32(0.1)).item()  # the float32 value, widened


def test_item_on_many_elements_raises():
    with pytest.raises((RuntimeError, ValueError)):
        tl.tensor([1.0, 2.0]).item()


@pytest.mark.parametrize(
    "data",
    [[[1.5, -2.0], [0.1, 3.0]], [[1, 2], [3, 4]], [True, False], 4.0, 3, [[[0.25]]]],
)
def test_tolist(data):
    t, tt = pair(data)
    got, exp = t.tolist(), tt.tolist()
    assert got == exp
    assert type(got) is type(exp)
    if isinstance(exp, list):
        flat_got, flat_exp = (
            np.ravel(np.array(got, dtype=object)),
            np.ravel(np.array(exp, dtype=object)),
        )
        assert [type(v) for v in flat_got] == [type(v) for v in flat_exp]


@pytest.mark.parametrize("target", range(len(DTYPES)))
def test_to_dtype(target):
    ours_dt, torch_dt, _ = DTYPES[target]
    t, tt = pair(rand(2, 3) * 2)
    same(t.to(ours_dt), tt.to(torch_dt))


def test_to_cpu_and_cpu():
    t = tl.tensor(rand(3))
    for moved in (t.to("cpu"), t.cpu()):
        assert str(moved.device) == "cpu"
        np.testing.assert_array_equal(moved.numpy(), t.numpy())


@pytest.mark.parametrize("method", ["float", "double", "half", "long", "int", "bool"])
def test_cast_methods(method):
    arr = np.array([[-1.7, 2.9, 0.0], [0.5, -0.5, 100.25]], dtype=np.float32)
    t, tt = pair(arr)
    same(getattr(t, method)(), getattr(tt, method)())


def test_int_to_float_casts():
    t, tt = pair(np.array([-3, 0, 7], dtype=np.int64))
    same(t.float(), tt.float())
    same(t.double(), tt.double())
    same(t.bool(), tt.bool())


def test_clone_is_independent_and_differentiable():
    x, xt = pair(rand(3).astype(np.float64), requires_grad=True)
    c, ct = x.clone(), xt.clone()
    same(c, ct)
    assert c.requires_grad and not c.is_leaf
    (c * c).sum().backward()
    (ct * ct).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy())
    plain = tl.tensor(rand(3))
    copy = plain.clone()
    copy.add_(1.0)
    np.testing.assert_array_equal(copy.numpy(), plain.numpy() + np.float32(1.0))


def test_contiguous():
    t, tt = pair(rand(3, 4))
    same(t.T.contiguous(), tt.T.contiguous())
    same(t.contiguous(), tt.contiguous())


# --------------------------------------------------------------------------------------------
# in-place methods
# --------------------------------------------------------------------------------------------


def test_zero_and_fill_return_self():
    t, tt = pair(rand(2, 3))
    assert t.zero_() is t
    same(t, tt.zero_())
    assert t.fill_(2.5) is t
    same(t, tt.fill_(2.5))
    i, it = pair(np.arange(4))
    same(i.fill_(7), it.fill_(7))


def test_copy_broadcasts_and_casts_like_torch():
    dst, dstt = pair(np.zeros((2, 3), dtype=np.float32))
    src = np.array([1.25, 2.5, -3.0])  # float64 source, broadcast over rows
    assert dst.copy_(tl.tensor(src)) is dst
    dstt.copy_(torch.tensor(src))
    same(dst, dstt)


@pytest.mark.parametrize(
    "op, arg",
    [
        ("add_", 2.0),
        ("add_", "tensor"),
        ("sub_", 0.5),
        ("sub_", "tensor"),
        ("mul_", 3.0),
        ("mul_", "tensor"),
        ("div_", 4.0),
        ("div_", "tensor"),
    ],
)
def test_inplace_arithmetic(op, arg):
    base = rand(2, 3)
    other = rand(3) + 5.0  # broadcast, non-zero for div
    t, tt = pair(base)
    a = tl.tensor(other) if arg == "tensor" else arg
    at = torch.tensor(other) if arg == "tensor" else arg
    assert getattr(t, op)(a) is t
    getattr(tt, op)(at)
    np.testing.assert_allclose(t.numpy(), tt.numpy(), rtol=1e-6)
    assert t.dtype == tl.float32


def test_add_with_alpha():
    t, tt = pair(rand(2, 3))
    o = rand(2, 3)
    t.add_(tl.tensor(o), alpha=-0.5)
    tt.add_(torch.tensor(o), alpha=-0.5)
    np.testing.assert_allclose(t.numpy(), tt.numpy(), rtol=1e-6)
    r = tl.tensor(o).add(t, alpha=2)
    rt = torch.tensor(o).add(tt, alpha=2)
    np.testing.assert_allclose(r.numpy(), rt.numpy(), rtol=1e-6)


def test_int_inplace_keeps_int():
    t, tt = pair(np.arange(6).reshape(2, 3))
    t.add_(3)
    tt.add_(3)
    t.mul_(2)
    tt.mul_(2)
    same(t, tt)


# --------------------------------------------------------------------------------------------
# NumPy / DLPack interop
# --------------------------------------------------------------------------------------------


def test_array_protocol():
    t, tt = pair(rand(2, 3))
    a = np.asarray(t)
    np.testing.assert_array_equal(a, tt.numpy())
    assert a.dtype == np.float32
    a64 = np.asarray(t, dtype=np.float64)
    assert a64.dtype == np.float64
    np.testing.assert_array_equal(a64, np.asarray(tt, dtype=np.float64))
    np.testing.assert_array_equal(np.array(t), tt.numpy())


def test_array_protocol_copy_is_independent():
    # np.array() copies by default (NumPy 2 asks __array__ for copy=True and trusts it)
    t, tt = pair(rand(3))
    out, out_t = np.array(t, copy=True), tt.numpy().copy()
    np.testing.assert_array_equal(out, out_t)
    out[0] = 123.0
    assert t.numpy()[0] == tt.numpy()[0] != 123.0


def test_numpy_scalars_as_operands_like_torch():
    # torch treats NumPy scalars like Python scalars (no float32 -> float64 promotion) and, with
    # its high __array_priority__, also wins when the NumPy scalar is on the left.
    x, xt = pair(rand(3), requires_grad=True)
    for ours, ref in [
        (x * np.float32(2.0), xt * np.float32(2.0)),
        (x + np.int64(1), xt + np.int64(1)),
        (x - np.float16(0.5), xt - np.float16(0.5)),
        (np.float32(2.0) * x, np.float32(2.0) * xt),
        (np.float64(1.0) + x, np.float64(1.0) + xt),
    ]:
        assert isinstance(ours, tl.Tensor), f"got {type(ours).__name__}"
        assert ours.requires_grad
        same(ours, ref)


@pytest.mark.parametrize("shape", [(5,), (2, 3), ()])
def test_dlpack_to_numpy_and_torch(shape):
    arr = rand(*shape)
    t = tl.tensor(arr)
    via_np = np.from_dlpack(t)
    via_torch = torch.from_dlpack(t)
    np.testing.assert_array_equal(via_np, arr)
    np.testing.assert_array_equal(via_torch.numpy(), arr)
    assert via_torch.dtype == torch.float32
    assert via_np.dtype == np.float32


def test_dlpack_non_contiguous_and_int():
    t = tl.tensor(np.arange(12, dtype=np.int64).reshape(3, 4)).T
    expected = np.arange(12, dtype=np.int64).reshape(3, 4).T
    np.testing.assert_array_equal(np.from_dlpack(t), expected)
    np.testing.assert_array_equal(torch.from_dlpack(t).numpy(), expected)


# --------------------------------------------------------------------------------------------
# Python protocols
# --------------------------------------------------------------------------------------------


def test_len():
    t, tt = pair(rand(4, 2))
    assert len(t) == len(tt) == 4
    assert len(tl.tensor(rand(0, 3))) == 0


def test_len_of_0d_raises_type_error():
    with pytest.raises(TypeError):
        len(torch.tensor(1.0))
    with pytest.raises(TypeError):
        len(tl.tensor(1.0))


def test_iter_rows():
    t, tt = pair(rand(3, 2))
    rows, rows_t = list(t), list(tt)
    assert len(rows) == 3
    for r, rt in zip(rows, rows_t):
        assert isinstance(r, tl.Tensor)
        same(r, rt)
    elems = list(tl.tensor([1, 2, 3]))
    assert [e.shape for e in elems] == [(), (), ()]
    assert [e.item() for e in elems] == [1, 2, 3]


def test_iter_of_0d_raises_type_error():
    with pytest.raises(TypeError):
        iter(tl.tensor(1.0))


def test_iter_is_differentiable():
    x, xt = pair(rand(3, 2).astype(np.float64), requires_grad=True)
    for v in (x, xt):
        total = v[0] * 0.0
        for i, row in enumerate(v):
            total = total + row * float(i + 1)
        total.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), xt.grad.numpy())


def test_repr_shows_values_and_flags():
    r = repr(tl.tensor([1.5, -2.25]))
    assert "1.5" in r and "-2.25" in r
    assert "tensor" in r.lower()
    rg = repr(tl.tensor([1.5, -2.25], requires_grad=True))
    assert "requires_grad=True" in rg
    r64 = repr(tl.tensor([1.5], dtype=tl.float64))
    assert "float64" in r64
    x = tl.tensor([1.0], requires_grad=True)
    rf = repr(x * 2.0)
    assert "grad_fn" in rf or "requires_grad=True" in rf
    ri = repr(tl.tensor([[1, 2], [3, 4]]))
    for v in "1234":
        assert v in ri
    assert "requires_grad=True" not in repr(tl.tensor([1.0]))


# --------------------------------------------------------------------------------------------
# construction
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        [1.0, 2.0],
        [[1, 2], [3, 4]],
        [True, False],
        [1, 2.5],
        [[1, 2.5], [3, 4]],
        [True, 2],
        2.5,
        3,
        True,
        [],
    ],
)
def test_tensor_from_python_dtype_rules(data):
    t, tt = pair(data)
    same(t, tt)


def test_tensor_and_Tensor_constructor_agree():
    a = tl.Tensor([[1.0, 2.0]])
    b = tl.tensor([[1.0, 2.0]])
    assert isinstance(a, tl.Tensor) and isinstance(b, tl.Tensor)
    assert a.dtype == b.dtype == tl.float32
    np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize(
    "np_dtype", [np.float16, np.float32, np.float64, np.int32, np.int64, np.bool_]
)
def test_tensor_from_numpy_keeps_dtype(np_dtype):
    arr = (rand(2, 2) * 3).astype(np_dtype)
    same(tl.tensor(arr), torch.tensor(arr))
    same(tl.from_numpy(arr), torch.from_numpy(arr))


def test_tensor_with_explicit_dtype_and_requires_grad():
    t, tt = pair([1, 2, 3], dtype=None)
    same(t, tt)
    t = tl.tensor([1, 2, 3], dtype=tl.float64, requires_grad=True)
    tt = torch.tensor([1, 2, 3], dtype=torch.float64, requires_grad=True)
    same(t, tt)
    assert t.requires_grad and t.is_leaf and t.grad is None and t.grad_fn is None


def test_tensor_copies_python_data_and_numpy_is_not_aliased_by_tensor():
    arr = np.array([1.0, 2.0], dtype=np.float32)
    t = tl.tensor(arr)  # torch.tensor always copies
    arr[0] = 100.0
    assert t.numpy()[0] == 1.0


# --------------------------------------------------------------------------------------------
# devices
# --------------------------------------------------------------------------------------------


def test_cuda_is_available_is_bool_and_false_without_cupy():
    avail = tl.cuda.is_available()
    assert isinstance(avail, bool)
    if importlib.util.find_spec("cupy") is None:
        assert avail is False


@pytest.mark.parametrize(
    "make",
    [
        lambda: tl.tensor([1.0], device="cuda"),
        lambda: tl.zeros(2, device="cuda"),
        lambda: tl.tensor([1.0]).to("cuda"),
        lambda: tl.tensor([1.0]).cuda(),
    ],
    ids=["tensor", "zeros", "to", "cuda"],
)
def test_cuda_without_gpu_raises_helpful_error(make):
    if tl.cuda.is_available():
        pytest.skip("a GPU is available here")
    with pytest.raises(RuntimeError, match=r"(?i)cupy|gpu|cuda"):
        make()
    try:
        make()
    except RuntimeError as e:
        msg = str(e).lower()
        assert "cupy" in msg or "gpu" in msg, f"message does not say what is missing: {e}"


def test_unknown_device_raises():
    with pytest.raises((RuntimeError, ValueError)):
        tl.tensor([1.0], device="tpu")


@pytest.mark.parametrize("np_dtype", [np.float64, np.float32, np.int64])
def test_numpy_array_operands_act_like_tensors(np_dtype):
    """A NumPy array operand acts like the tensor torch.from_numpy would make of it (torch's own
    handling of raw arrays varies by operator, so the reference is the from_numpy form)."""
    arr = np.arange(1, 4, dtype=np_dtype)
    for f in (lambda t, a: t + a, lambda t, a: a * t, lambda t, a: t > a):
        ours = np.asarray(f(tl.ones(3), arr))
        ref = f(torch.ones(3), torch.from_numpy(arr)).numpy()
        assert ours.dtype == ref.dtype
        np.testing.assert_array_equal(ours, ref)


@pytest.mark.parametrize("data", [[1.5, 2.0], [1.0, 2.0], 2.5, [[1e-5, 3.0]], [1, 2], [True]])
def test_repr_matches_torch_for_default_dtypes(data):
    assert repr(tl.tensor(data)) == repr(torch.tensor(data))


def test_from_dlpack_shares_memory_with_torch_and_numpy():
    src = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    t = tl.from_dlpack(src)
    assert t.shape == (2, 3) and t.dtype == tl.float32
    src[0, 0] = 42.0  # zero-copy: the change is visible through our tensor
    assert t[0, 0].item() == 42.0
    arr = np.ones(4, dtype=np.int64)
    u = tl.from_dlpack(arr)
    arr[1] = 7
    assert u.dtype == tl.int64 and u.tolist() == [1, 7, 1, 1]


def test_deepcopy_of_leaves_params_and_state_dicts():
    import copy

    import torch

    from tinygrad_lite import nn

    x = tl.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    y = copy.deepcopy(x)
    assert y.requires_grad and y.is_leaf and y.grad.tolist() == [2.0, 4.0]
    y._data[0] = 9.0
    assert x.tolist() == [1.0, 2.0]  # independent storage, like torch
    p = nn.Parameter(tl.ones(2))
    assert isinstance(copy.deepcopy(p), nn.Parameter)
    shared = {"a": x, "b": x}
    c = copy.deepcopy(shared)
    assert c["a"] is c["b"]  # memo keeps aliasing
    with pytest.raises(RuntimeError, match="deepcopy"):
        copy.deepcopy(x * 2)
    tx = torch.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError):
        copy.deepcopy(tx * 2)  # torch refuses non-leaves too


def test_from_torch_tensors_without_deprecation_warnings():
    import warnings

    import torch

    t = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = tl.tensor(t)
        b = tl.tensor(t.detach().T)  # non-contiguous
        c = tl.tensor(torch.tensor([True, False]))
    assert a.dtype is tl.float64 and not a.requires_grad
    np.testing.assert_array_equal(a.numpy(), t.detach().numpy())
    np.testing.assert_array_equal(b.numpy(), t.detach().numpy().T)
    assert c.tolist() == [True, False]
    with torch.no_grad():
        t[0, 0] = 100.0
    assert a.tolist()[0][0] != 100.0  # a copy, like torch.tensor(t)
