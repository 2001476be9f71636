"""Dtype semantics, 0-d tensors, size-0 dimensions, negative dims and keepdim — against torch.

* Type promotion: every pair of {bool, int32, int64, float16, float32, float64} through the binary
  ops, tensor-with-Python-scalar (scalars never upcast a tensor of the same category), tensor with
  0-d tensor (a 0-d tensor only wins when it is of a higher category), int/int true division
  gives float32, reductions of ints give int64, comparisons give bool, unary float ops on ints
  give float32.  Expected dtypes (and values) always come from torch on the same inputs.
* 0-d tensors through elementwise ops, reductions (dim 0 / -1 allowed) and item().
* Size-0 dimensions: elementwise, broadcasting, sum/prod/mean/amax over empty, matmul with k = 0,
  cat, reshape, indexing — values and gradients like torch.
* Negative dims and keepdim: shapes and values like torch.
* Factories: shapes / dtypes / values of the deterministic ones; shape / dtype / range and
  ``tl.manual_seed`` reproducibility of the random ones.
"""

import itertools

import numpy as np
import pytest
import torch

import tinygrad_lite as tl

from .specs import F32, F64, Case, OpSpec, assert_same_output, run_case

DTYPES = ["bool", "int32", "int64", "float16", "float32", "float64"]

SAMPLE = {  # small, exactly representable values, no zeros (safe for division)
    "bool": np.array([[True, False, True], [True, True, False]]),
    "int32": np.array([[1, -2, 3], [4, 5, -6]], dtype=np.int32),
    "int64": np.array([[2, 3, -1], [-4, 1, 7]], dtype=np.int64),
    "float16": np.array([[0.5, -1.5, 2.0], [3.0, -0.25, 1.0]], dtype=np.float16),
    "float32": np.array([[1.5, -2.0, 0.25], [3.0, 1.0, -0.5]], dtype=np.float32),
    "float64": np.array([[-1.0, 2.5, 0.75], [2.0, -3.0, 1.0]], dtype=np.float64),
}
SCALAR_0D = {
    "bool": np.array(True),
    "int32": np.array(3, dtype=np.int32),
    "int64": np.array(-2, dtype=np.int64),
    "float16": np.array(1.5, dtype=np.float16),
    "float32": np.array(-0.5, dtype=np.float32),
    "float64": np.array(2.5, dtype=np.float64),
}


def both(arr):
    return tl.tensor(arr), torch.tensor(np.array(arr))


def tl_dtype(torch_dtype):
    """tinygrad_lite's dtype object with the same name as ``torch_dtype``."""
    return getattr(tl, str(torch_dtype).replace("torch.", ""))


def compare_forward(fn, *arrays, tol=None):
    """``fn(lib, *tensors)`` in both libraries: same dtype (object and numpy), shape and values;
    if torch raises, ours must raise too."""
    try:
        ref = fn(torch, *[torch.tensor(np.array(a)) for a in arrays])
    except (RuntimeError, TypeError, ValueError, IndexError) as e:
        with pytest.raises((RuntimeError, TypeError, ValueError, IndexError)):
            fn(tl, *[tl.tensor(a) for a in arrays])
        return e
    ours = fn(tl, *[tl.tensor(a) for a in arrays])
    if isinstance(ref, torch.Tensor):
        assert ours.dtype == tl_dtype(ref.dtype), f"dtype {ours.dtype} != torch's {ref.dtype}"
    assert_same_output(ours, ref, tol=tol or {}, equal_nan=True)
    return ours


def _loose(*dtypes):
    # float16 results: both sides round to half precision, possibly at different steps
    return dict(rtol=1e-3, atol=1e-3) if "float16" in dtypes else None


# --- type promotion -------------------------------------------------------------------------------
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "truediv": lambda a, b: a / b,
    "floordiv": lambda a, b: a // b,
    "mod": lambda a, b: a % b,
    "maximum": None,
    "eq": lambda a, b: a == b,
    "lt": lambda a, b: a < b,
}


def _binary(name):
    if name == "maximum":
        return lambda lib, a, b: lib.maximum(a, b)
    op = BINARY[name]
    return lambda lib, a, b: op(a, b)


@pytest.mark.parametrize("op", list(BINARY))
@pytest.mark.parametrize("da,db", list(itertools.product(DTYPES, DTYPES)))
def test_binary_promotion_matrix(op, da, db):
    if op in ("floordiv", "mod") and "bool" in (da, db) and da == db:
        pytest.skip("torch: floor division / remainder of two bool tensors is an error either way")
    compare_forward(_binary(op), SAMPLE[da], SAMPLE[db][::-1].copy(), tol=_loose(da, db))


@pytest.mark.parametrize(
    "op",
    [
        "add",
        "sub",
        "mul",
        "truediv",
        "floordiv",
        "mod",
        "pow",
        "radd",
        "rsub",
        "rmul",
        "rtruediv",
        "rpow",
        "lt",
        "eq",
    ],
)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scalar", [True, 2, -3, 2.5, 0.5])
def test_python_scalar_promotion(op, dtype, scalar):
    ops = {
        "add": lambda x: x + scalar,
        "sub": lambda x: x - scalar,
        "mul": lambda x: x * scalar,
        "truediv": lambda x: x / scalar,
        "floordiv": lambda x: x // scalar,
        "mod": lambda x: x % scalar,
        "pow": lambda x: x**scalar,
        "radd": lambda x: scalar + x,
        "rsub": lambda x: scalar - x,
        "rmul": lambda x: scalar * x,
        "rtruediv": lambda x: scalar / x,
        "rpow": lambda x: scalar**x,
        "lt": lambda x: x < scalar,
        "eq": lambda x: x == scalar,
    }
    f = ops[op]
    arr = SAMPLE[dtype]
    if op == "pow" and dtype in ("int32", "int64") and isinstance(scalar, int) and scalar < 0:
        pytest.skip("torch: integers to negative integer powers are an error")
    if op == "rtruediv" and dtype == "bool":
        arr = np.ones_like(arr)
    compare_forward(lambda lib, x: f(x), arr, tol=_loose(dtype))


@pytest.mark.parametrize("op", ["add", "mul", "truediv", "maximum", "lt"])
@pytest.mark.parametrize("da,db", list(itertools.product(DTYPES, DTYPES)))
def test_zero_dim_tensor_promotion(op, da, db):
    # a 0-d tensor takes part like torch: it only decides the dtype if its category is higher
    compare_forward(_binary(op), SAMPLE[da], SCALAR_0D[db], tol=_loose(da, db))
    compare_forward(_binary(op), SCALAR_0D[db], SAMPLE[da], tol=_loose(da, db))


def test_where_promotion():
    cond = np.array([[True, False, True], [False, True, False]])
    for da, db in itertools.product(DTYPES, DTYPES):
        compare_forward(
            lambda lib, c, a, b: lib.where(c, a, b),
            cond,
            SAMPLE[da],
            SAMPLE[db],
            tol=_loose(da, db),
        )
    for dtype in DTYPES:
        compare_forward(
            lambda lib, c, a: lib.where(c, a, 0.5), cond, SAMPLE[dtype], tol=_loose(dtype)
        )
        compare_forward(
            lambda lib, c, a: lib.where(c, a, 2), cond, SAMPLE[dtype], tol=_loose(dtype)
        )


# The cases the issue spells out, as named tests (all expectations from torch).
@pytest.mark.parametrize(
    "case",
    [
        (
            "int64 + float32",
            lambda lib: lib.tensor(np.array([1, 2])) + lib.tensor(np.array([0.5, 1.5], np.float32)),
        ),
        (
            "float32 + float64",
            lambda lib: lib.tensor(np.array([1.0], np.float32)) + lib.tensor(np.array([2.0])),
        ),
        ("float32 * 2.5", lambda lib: lib.tensor(np.array([1.0, 2.0], np.float32)) * 2.5),
        ("int64 * 2.5", lambda lib: lib.tensor(np.array([1, 2])) * 2.5),
        ("int32 + 1", lambda lib: lib.tensor(np.array([1, 2], np.int32)) + 1),
        ("bool + True", lambda lib: lib.tensor(np.array([True, False])) + True),
        (
            "int64 + 0-d float64",
            lambda lib: lib.tensor(np.array([1, 2])) + lib.tensor(np.array(0.5)),
        ),
        (
            "float32 + 0-d float64",
            lambda lib: lib.tensor(np.array([1.0], np.float32)) + lib.tensor(np.array(0.5)),
        ),
        (
            "int32 + 0-d int64",
            lambda lib: lib.tensor(np.array([1], np.int32)) + lib.tensor(np.array(5)),
        ),
        ("int64 / int64", lambda lib: lib.tensor(np.array([3, 4])) / lib.tensor(np.array([2, 8]))),
        ("int32 / 2", lambda lib: lib.tensor(np.array([3, -7], np.int32)) / 2),
        (
            "int64 // int64",
            lambda lib: lib.tensor(np.array([7, -7])) // lib.tensor(np.array([2, 2])),
        ),
        ("int64 % int64", lambda lib: lib.tensor(np.array([7, -7])) % lib.tensor(np.array([3, 3]))),
        ("int64 ** 2", lambda lib: lib.tensor(np.array([3, -2])) ** 2),
        ("int64 ** 0.5", lambda lib: lib.tensor(np.array([4, 9])) ** 0.5),
        ("2 ** int64", lambda lib: 2 ** lib.tensor(np.array([3, 0]))),
        ("sum(int32)", lambda lib: lib.tensor(np.array([1, 2], np.int32)).sum()),
        ("sum(bool)", lambda lib: lib.tensor(np.array([True, True, False])).sum()),
        ("sum(int32, dim)", lambda lib: lib.tensor(np.array([[1, 2]], np.int32)).sum(dim=1)),
        ("prod(int32)", lambda lib: lib.tensor(np.array([3, 2], np.int32)).prod()),
        ("cumsum(int32)", lambda lib: lib.tensor(np.array([3, 2], np.int32)).cumsum(0)),
        ("amax(int32)", lambda lib: lib.tensor(np.array([3, 2], np.int32)).amax()),
        ("max(int32, dim)", lambda lib: tuple(lib.tensor(np.array([[3, 2]], np.int32)).max(dim=1))),
        ("argmax(int32)", lambda lib: lib.tensor(np.array([3, 5], np.int32)).argmax()),
        ("mean(float32)", lambda lib: lib.tensor(np.array([3.0, 2.0], np.float32)).mean()),
        ("sum(float16)", lambda lib: lib.tensor(np.array([3.0, 2.0], np.float16)).sum()),
        (
            "float32 < float64",
            lambda lib: lib.tensor(np.array([1.0], np.float32)) < lib.tensor(np.array([2.0])),
        ),
        ("int64 == 2.0", lambda lib: lib.tensor(np.array([2, 3])) == 2.0),
        ("exp(int64)", lambda lib: lib.tensor(np.array([0, 1])).exp()),
        ("sqrt(int32)", lambda lib: lib.tensor(np.array([4, 9], np.int32)).sqrt()),
        ("sigmoid(int64)", lambda lib: lib.tensor(np.array([0, 1])).sigmoid()),
        ("reciprocal(int64)", lambda lib: lib.tensor(np.array([2, 4])).reciprocal()),
        ("abs(int32)", lambda lib: lib.tensor(np.array([-2, 4], np.int32)).abs()),
        ("neg(int64)", lambda lib: -lib.tensor(np.array([-2, 4]))),
        ("relu(int64)", lambda lib: lib.tensor(np.array([-2, 4])).relu()),
        ("square(int32)", lambda lib: lib.tensor(np.array([-2, 4], np.int32)).square()),
        ("sign(int64)", lambda lib: lib.tensor(np.array([-2, 0, 4])).sign()),
        (
            "clamp(int64, float bounds)",
            lambda lib: lib.tensor(np.array([-2, 0, 4])).clamp(-1.5, 2.5),
        ),
        ("clamp(int64, int bounds)", lambda lib: lib.tensor(np.array([-2, 0, 4])).clamp(-1, 2)),
        (
            "int64 @ int64",
            lambda lib: lib.tensor(np.array([[1, 2]])) @ lib.tensor(np.array([[3], [4]])),
        ),
        (
            "bool & bool",
            lambda lib: lib.tensor(np.array([True, False])) & lib.tensor(np.array([True, True])),
        ),
        ("~bool", lambda lib: ~lib.tensor(np.array([True, False]))),
        (
            "masked_fill(int64, 7)",
            lambda lib: lib.tensor(np.array([1, 2])).masked_fill(
                lib.tensor(np.array([True, False])), 7
            ),
        ),
        (
            "float32.masked_fill(mask, 7.25)",
            lambda lib: lib.tensor(np.array([1.0, 2.0], np.float32)).masked_fill(
                lib.tensor(np.array([True, False])), 7.25
            ),
        ),
    ],
    ids=lambda c: c[0] if isinstance(c, tuple) else None,
)
def test_named_promotion_case(case):
    name, fn = case
    ref = fn(torch)
    ours = fn(tl)
    refs, ourss = (ref, ours) if isinstance(ref, tuple) else ((ref,), (ours,))
    for o, r in zip(ourss, refs):
        assert o.dtype == tl_dtype(r.dtype), f"{name}: dtype {o.dtype} != torch's {r.dtype}"
    assert_same_output(ours, ref)


def test_mean_of_integers_is_an_error():
    with pytest.raises(RuntimeError):
        torch.tensor([1, 2]).mean()
    with pytest.raises((TypeError, RuntimeError)):
        tl.tensor(np.array([1, 2])).mean()


# --- default dtypes of tensor() -------------------------------------------------------------------
@pytest.mark.parametrize(
    "data",
    [
        [1.0, 2.0],
        [1, 2],
        [True, False],
        2.5,
        7,
        True,
        [[1, 2.5], [3, 4]],
        [1, True],
        np.array([1.0, 2.0]),
        np.array([1, 2], np.int32),
        np.float64(2.0),
        np.array(3),
        np.array([1.0], np.float16),
    ],
    ids=repr,
)
def test_tensor_constructor_dtype(data):
    ours, ref = tl.tensor(data), torch.tensor(data)
    assert ours.dtype == tl_dtype(ref.dtype), (
        f"tl.tensor({data!r}).dtype {ours.dtype} != {ref.dtype}"
    )
    assert_same_output(ours, ref)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "int32", "int64", "bool"])
def test_tensor_constructor_explicit_dtype(dtype):
    data = [[1, 0], [2, 3]]
    ours = tl.tensor(data, dtype=getattr(tl, dtype))
    ref = torch.tensor(data, dtype=getattr(torch, dtype))
    assert ours.dtype == getattr(tl, dtype)
    assert_same_output(ours, ref)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "int32", "int64", "bool"])
def test_from_numpy_keeps_dtype_and_values(dtype):
    arr = np.array([[1, 0, 3]]).astype(dtype)
    ours, ref = tl.from_numpy(arr), torch.from_numpy(arr.copy())
    assert ours.dtype == tl_dtype(ref.dtype)
    assert_same_output(ours, ref)


@pytest.mark.parametrize("src", DTYPES)
@pytest.mark.parametrize("dst", DTYPES)
def test_to_dtype_conversion_matrix(src, dst):
    arr = SAMPLE[src]
    compare_forward(lambda lib, x: x.to(getattr(lib, dst)), arr)


@pytest.mark.parametrize("method", ["float", "double", "half", "long", "int", "bool"])
@pytest.mark.parametrize("src", DTYPES)
def test_conversion_methods(method, src):
    arr = np.array([[-1.75, 0.0, 2.5], [3.25, -0.5, 1.0]]).astype(src)
    compare_forward(lambda lib, x: getattr(x, method)(), arr)


# --- 0-d tensors ----------------------------------------------------------------------------------
ZD = OpSpec(
    "0-d",
    lambda lib, x, y: (
        x + y,
        x * y,
        x.exp(),
        x.sum(),
        x.sum(dim=0),
        x.mean(dim=-1),
        x.amax(dim=0, keepdim=True),
        x.reshape(1, 1),
        x.unsqueeze(0),
        x.expand(2, 3),
        x[None],
        x[...],
        x.max(dim=0).values,
        x.logsumexp(dim=0),
        x.cumsum(0),
        x.norm(),
        x.flatten(),
        x.prod(),
        x.squeeze(),
        x.clamp(max=0.5),
    ),
    gen=None,
)


@pytest.mark.parametrize("dtype", [F64, F32])
def test_zero_dim_through_ops_with_grad(dtype):
    x = np.array(0.75, dtype=dtype)
    y = np.array([[1.0, -2.0, 0.5]], dtype=dtype)
    run_case(ZD, Case([x, y]), dtype, seed=4)


def test_zero_dim_item_tolist_shape():
    for arr in (np.array(2.5), np.array(2.5, np.float32), np.array(3), np.array(True)):
        ours, ref = both(arr)
        assert ours.shape == () and ours.ndim == 0 and ours.numel() == 1
        assert_same_output(
            (ours.item(), ours.tolist(), ours.numel(), ours.ndim, tuple(ours.shape)),
            (ref.item(), ref.tolist(), ref.numel(), ref.ndim, tuple(ref.shape)),
        )


def test_zero_dim_results_of_full_reductions():
    arr = np.arange(6.0).reshape(2, 3)
    for name in (
        "sum",
        "mean",
        "prod",
        "amax",
        "amin",
        "max",
        "min",
        "argmax",
        "argmin",
        "std",
        "var",
        "norm",
        "all",
        "any",
    ):
        compare_forward(lambda lib, x: getattr(x, name)(), arr)


# --- size-0 dimensions ----------------------------------------------------------------------------
EMPTY = OpSpec(
    "size-0",
    lambda lib, x: (
        x.sum(),
        x.sum(dim=0),
        x.sum(dim=1, keepdim=True),
        x.prod(),
        x.prod(dim=0),
        x.mean(dim=1),
        x.exp(),
        x * 2.0,
        x.reshape(3, 0),
        x.reshape(-1),
        x.T,
        x[:, 1:],
        x.flip(0),
        x.cumsum(0),
        x.amax(dim=1),
        x.unsqueeze(0),
        x.clone(),
    ),
    gen=None,
)


@pytest.mark.parametrize("dtype", [F64, F32])
def test_size_zero_through_ops_with_grad(dtype):
    # x has shape (0, 3): sum over the empty dim is 0, prod is 1; amax over the non-empty dim
    run_case(EMPTY, Case([np.zeros((0, 3), dtype=dtype)]), dtype, seed=6)


def test_size_zero_mean_is_nan_like_torch():
    compare_forward(lambda lib, x: (x.mean(), x.mean(dim=0)), np.zeros((0, 3)))


def test_size_zero_amax_over_empty_dim_is_an_error():
    with pytest.raises((RuntimeError, IndexError)):
        torch.zeros(0, 3).amax(dim=0)
    with pytest.raises((ValueError, IndexError)):
        tl.tensor(np.zeros((0, 3))).amax(dim=0)
    with pytest.raises((ValueError, IndexError)):
        tl.tensor(np.zeros((0, 3))).max()


def test_size_zero_broadcasting():
    spec = OpSpec("size-0 broadcast", lambda lib, a, b: (a + b, a * b, lib.maximum(a, b)), gen=None)
    run_case(spec, Case([np.zeros((0, 3)), np.ones((1, 3))]), F64, seed=7)


def test_size_zero_matmul():
    # k = 0: the product is all zeros of shape (2, 3); n = 0: an empty result
    spec = OpSpec("size-0 matmul", lambda lib, a, b: a @ b, gen=None)
    run_case(spec, Case([np.zeros((2, 0)), np.zeros((0, 3))]), F64, seed=8)
    run_case(spec, Case([np.zeros((0, 2)), np.ones((2, 3))]), F64, seed=9)


def test_size_zero_cat_and_stack():
    spec = OpSpec(
        "size-0 cat", lambda lib, a, b: (lib.cat([a, b], dim=0), lib.stack([a, a], dim=1)), gen=None
    )
    run_case(spec, Case([np.zeros((0, 3)), np.ones((2, 3))]), F64, seed=10)


def test_size_zero_indexing():
    spec = OpSpec(
        "size-0 index", lambda lib, x, i: (x[i], x[2:2], x[:, :0], x.index_select(0, i)), gen=None
    )
    run_case(spec, Case([np.arange(6.0).reshape(3, 2), np.zeros((0,), np.int64)]), F64, seed=11)


def test_size_zero_factories_and_reshape():
    compare_forward(
        lambda lib, x: (x.reshape(0, -1), x.view(4, 0, 2), x.numel(), len(x)), np.zeros((2, 0, 4))
    )
    assert_same_output(tl.zeros(0, 3), torch.zeros(0, 3))
    assert_same_output(tl.ones((2, 0)), torch.ones((2, 0)))


def test_size_zero_all_any():
    compare_forward(
        lambda lib, x: (x.all(), x.any(), x.all(dim=0), x.any(dim=1)), np.zeros((0, 3), bool)
    )


# --- negative dims and keepdim --------------------------------------------------------------------
NEG = OpSpec(
    "negative dims",
    lambda lib, x: (
        x.sum(dim=-1),
        x.sum(dim=-1, keepdim=True),
        x.sum(dim=(-1, -3)),
        x.mean(dim=-2, keepdim=True),
        x.amax(dim=-3),
        x.max(dim=-1).values,
        x.max(dim=-2, keepdim=True).indices,
        x.argmax(dim=-1),
        x.argmin(dim=-2, keepdim=True),
        x.var(dim=-1),
        x.std(dim=(-2, -1), keepdim=True),
        x.logsumexp(dim=-1),
        x.norm(dim=-1),
        x.cumsum(dim=-2),
        x.prod(dim=-1, keepdim=True),
        x.transpose(-1, -2),
        x.permute(-1, 0, -2),
        x.unsqueeze(-1),
        x.unsqueeze(-4),
        x.flatten(-2),
        x.flatten(0, -2),
        x.flip(-1),
        x.roll(1, -1),
        x.narrow(-1, 1, 2),
        x.split(2, dim=-1),
        x.chunk(2, dim=-2),
        x.squeeze(-3),
    ),
    gen=None,
)


@pytest.mark.parametrize("dtype", [F64, F32])
def test_negative_dims_and_keepdim(dtype):
    x = np.random.default_rng(0).standard_normal((1, 3, 4)).astype(dtype)
    run_case(NEG, Case([x]), dtype, seed=12, tol={F32: dict(rtol=1e-5, atol=1e-5)}.get(dtype, {}))


@pytest.mark.parametrize(
    "name",
    [
        "sum",
        "mean",
        "amax",
        "amin",
        "prod",
        "logsumexp",
        "std",
        "var",
        "norm",
        "all",
        "any",
        "argmax",
        "argmin",
    ],
)
@pytest.mark.parametrize("dim", [0, -1, 1, -2])
def test_negative_dim_equals_positive_dim_like_torch(name, dim):
    arr = np.arange(1.0, 7.0).reshape(2, 3)
    compare_forward(
        lambda lib, x: (getattr(x, name)(dim=dim), getattr(x, name)(dim=dim, keepdim=True)), arr
    )


# --- factories ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["zeros", "ones", "empty"])
@pytest.mark.parametrize("args", [(2, 3), ((2, 3),), ([4],), (0,), ((),), (1, 1, 2)])
@pytest.mark.parametrize("dtype", [None, "float64", "int64", "bool", "int32", "float16"])
def test_zeros_ones_empty(name, args, dtype):
    kw = {} if dtype is None else {"dtype": getattr(torch, dtype)}
    ref = getattr(torch, name)(*args, **kw)
    kw = {} if dtype is None else {"dtype": getattr(tl, dtype)}
    ours = getattr(tl, name)(*args, **kw)
    assert tuple(ours.shape) == tuple(ref.shape)
    assert ours.dtype == tl_dtype(ref.dtype)
    if name != "empty":
        assert_same_output(ours, ref)


@pytest.mark.parametrize("value", [1.5, 2, True, -0.25])
@pytest.mark.parametrize("shape", [(2, 3), (4,), ()])
def test_full(shape, value):
    ours, ref = tl.full(shape, value), torch.full(shape, value)
    assert ours.dtype == tl_dtype(ref.dtype)
    assert_same_output(ours, ref)
    assert_same_output(
        tl.full(shape, value, dtype=tl.float64), torch.full(shape, value, dtype=torch.float64)
    )


@pytest.mark.parametrize(
    "args,kw",
    [
        ((5,), {}),
        ((2, 7), {}),
        ((0, 1, 0.25), {}),
        ((5.0,), {}),
        ((-3, 3, 2), {}),
        ((1, -2, -0.5), {}),
        ((4,), {"dtype": "float64"}),
        ((0, 1, 0.1), {}),
        ((3,), {"dtype": "float32"}),
        ((0,), {}),
    ],
)
def test_arange(args, kw):
    ref = torch.arange(*args, **{k: getattr(torch, v) for k, v in kw.items()})
    ours = tl.arange(*args, **{k: getattr(tl, v) for k, v in kw.items()})
    assert ours.dtype == tl_dtype(ref.dtype)
    assert_same_output(ours, ref)


@pytest.mark.parametrize("args", [(0, 1, 5), (-2.0, 3.0, 11), (1, 1, 1), (0, 1, 0), (3, -3, 4)])
def test_linspace(args):
    ours, ref = tl.linspace(*args), torch.linspace(*args)
    assert ours.dtype == tl_dtype(ref.dtype)
    assert_same_output(ours, ref)


@pytest.mark.parametrize("args", [(3,), (2, 4), (4, 2), (1,), (0,)])
def test_eye(args):
    ours, ref = tl.eye(*args), torch.eye(*args)
    assert ours.dtype == tl_dtype(ref.dtype)
    assert_same_output(ours, ref)
    assert_same_output(tl.eye(*args, dtype=tl.int64), torch.eye(*args, dtype=torch.int64))


@pytest.mark.parametrize(
    "name", ["zeros_like", "ones_like", "full_like", "rand_like", "randn_like"]
)
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "bool"])
def test_like_factories(name, dtype):
    if name in ("rand_like", "randn_like") and dtype in ("int64", "bool"):
        with pytest.raises(RuntimeError):
            getattr(torch, name)(torch.zeros(2, 3, dtype=getattr(torch, dtype)))
        with pytest.raises((TypeError, RuntimeError, ValueError)):
            getattr(tl, name)(tl.zeros(2, 3, dtype=getattr(tl, dtype)))
        return
    arr = np.zeros((2, 3), dtype=dtype)
    args = (2,) if name == "full_like" else ()
    ref = getattr(torch, name)(torch.tensor(arr), *args)
    ours = getattr(tl, name)(tl.tensor(arr), *args)
    assert tuple(ours.shape) == tuple(ref.shape) and ours.dtype == tl_dtype(ref.dtype)
    if name in ("zeros_like", "ones_like", "full_like"):
        assert_same_output(ours, ref)
    ours64 = getattr(tl, name)(tl.tensor(arr), *args, dtype=tl.float64)
    assert ours64.dtype == tl.float64


@pytest.mark.parametrize("name", ["rand", "randn"])
def test_random_factories_shape_dtype_and_seed(name):
    f_tl, f_th = getattr(tl, name), getattr(torch, name)
    for args in [(2, 3), ((4,),), ((),)]:
        ours, ref = f_tl(*args), f_th(*args)
        assert tuple(ours.shape) == tuple(ref.shape) and ours.dtype == tl_dtype(ref.dtype)
    assert f_tl(3, dtype=tl.float64).dtype == tl.float64
    tl.manual_seed(123)
    a = f_tl(1000).numpy()
    tl.manual_seed(123)
    b = f_tl(1000).numpy()
    np.testing.assert_array_equal(a, b)
    c = f_tl(1000).numpy()
    assert not np.array_equal(b, c), "consecutive draws must differ"
    if name == "rand":
        assert a.min() >= 0.0 and a.max() < 1.0
        assert 0.4 < a.mean() < 0.6
    else:
        assert -0.2 < a.mean() < 0.2 and 0.8 < a.std() < 1.2


def test_randint():
    tl.manual_seed(0)
    ours = tl.randint(-3, 5, (2000,))
    ref = torch.randint(-3, 5, (2000,))
    assert ours.dtype == tl_dtype(ref.dtype) and tuple(ours.shape) == tuple(ref.shape)
    vals = ours.numpy()
    assert vals.min() >= -3 and vals.max() < 5 and set(np.unique(vals)) == set(range(-3, 5))
    tl.manual_seed(0)
    np.testing.assert_array_equal(tl.randint(-3, 5, (2000,)).numpy(), vals)
    assert tuple(tl.randint(10, (2, 3)).shape) == tuple(torch.randint(10, (2, 3)).shape)


def test_factories_requires_grad():
    for ours in (
        tl.zeros(2, 3, requires_grad=True),
        tl.ones(2, requires_grad=True),
        tl.rand(2, requires_grad=True),
        tl.randn(2, requires_grad=True),
        tl.full((2,), 1.5, requires_grad=True),
        tl.tensor([1.0], requires_grad=True),
    ):
        assert ours.requires_grad and ours.is_leaf and ours.grad is None
    assert not tl.zeros(2, 3).requires_grad and not torch.zeros(2, 3).requires_grad


def test_from_numpy_shares_memory_like_torch():
    arr = np.array([1.0, 2.0])
    ours, ref = tl.from_numpy(arr), torch.from_numpy(arr)
    arr[0] = 5.0
    assert_same_output(ours, ref)  # both see the write


# --- accumulation precision of float16 reductions ------------------------------------------------
@pytest.mark.parametrize("name", ["sum", "mean", "cumsum", "logsumexp", "norm", "var"])
def test_float16_reductions_accumulate_like_torch(name):
    # torch accumulates half-precision reductions in float32; 4096 + 1 is not representable in
    # float16, so accumulating in float16 stalls (e.g. a cumsum of 5000 ones ends at 2048)
    arr = np.ones(5000, dtype=np.float16)
    arr[::3] = 0.5
    kw = {"dim": 0}
    compare_forward(lambda lib, x: getattr(x, name)(**kw), arr, tol=dict(rtol=1e-3, atol=1e-3))


# --- int32 index tensors --------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["gather", "scatter_add", "index_select", "getitem", "setitem"])
def test_int32_index_tensors_like_torch(name):
    x = np.arange(12.0).reshape(3, 4)
    idx = np.array([[0, 2, 1, 0]], dtype=np.int32)

    def fn(lib, t, i):
        if name == "gather":
            return t.gather(0, i)
        if name == "scatter_add":
            return t.scatter_add(0, i, lib.ones_like(t[:1]))
        if name == "index_select":
            return t.index_select(1, i[0])
        if name == "getitem":
            return t[i[0]]
        y = t.clone()
        y[i[0, :2]] = -1.0
        return y

    compare_forward(fn, x, idx)


# --- in-place ops: which result dtypes may be written back into self ------------------------------
@pytest.mark.parametrize("op", ["add_", "sub_", "mul_", "div_", "copy_"])
@pytest.mark.parametrize("da,db", list(itertools.product(DTYPES, DTYPES)))
def test_inplace_dtype_rules_like_torch(op, da, db):
    # torch casts the result into self's dtype when that is a "same kind or safe" cast (float64
    # into float32, int into float), and refuses float into int or anything but bool into bool
    def fn(lib, a, b):
        y = a.clone()
        getattr(y, op)(b)
        return y

    compare_forward(fn, SAMPLE[da], SAMPLE[db][::-1].copy(), tol=_loose(da, db))


@pytest.mark.parametrize("op", ["add_", "mul_", "sub_", "div_", "fill_"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scalar", [2, 2.5, True])
def test_inplace_with_python_scalar_dtype_like_torch(op, dtype, scalar):
    def fn(lib, a):
        y = a.clone()
        getattr(y, op)(scalar)
        return y

    compare_forward(fn, SAMPLE[dtype], tol=_loose(dtype))


# --- gradients of mixed-dtype ops come back in each input's own dtype -----------------------------
MIXED = {
    "add": lambda lib, a, b: a + b,
    "mul": lambda lib, a, b: a * b,
    "div": lambda lib, a, b: a / b,
    "pow": lambda lib, a, b: a.abs() ** b,
    "maximum": lambda lib, a, b: lib.maximum(a, b),
    "where": lambda lib, a, b: lib.where(a > 0, a, b),
    "cat": lambda lib, a, b: lib.cat([a, b.reshape(1, -1)[:, :1].expand(2, 1)], dim=1),
    "stack": lambda lib, a, b: lib.stack([a.reshape(-1)[:3], b[:3]]),
    "clamp(tensor)": lambda lib, a, b: a.clamp(min=b),
}


@pytest.mark.parametrize("name", list(MIXED))
@pytest.mark.parametrize(
    "da,db", [("float32", "float64"), ("float64", "float32"), ("float16", "float32")]
)
def test_mixed_dtype_gradients_like_torch(name, da, db):
    a = np.array([[0.5, -1.5, 2.0], [1.25, 0.75, -0.5]], dtype=da)
    b = np.array([1.5, -0.25, 0.5], dtype=db)
    tol = dict(rtol=1e-3, atol=1e-3) if "float16" in (da, db) else dict(rtol=1e-6, atol=1e-6)
    run_case(OpSpec(f"mixed {name}", MIXED[name], gen=None), Case([a, b]), F64, seed=13, tol=tol)


def test_int_and_float_inputs_gradient_only_to_float():
    spec = OpSpec(
        "int * float", lambda lib, i, x: (i * x, x / i, lib.where(i > 0, x, 0.0)), gen=None
    )
    run_case(
        spec, Case([np.array([1, -2, 3]), np.array([0.5, 1.5, -2.0], np.float32)]), F32, seed=14
    )
