"""Tests for tinygrad_lite.testing: assert_close against torch's, gradcheck, gradgradcheck and the
hypothesis strategies."""

import subprocess
import sys

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_lite as tl
import tinygrad_lite.testing as tlt
from tinygrad_lite.testing import GradcheckError, assert_close, gradcheck, gradgradcheck
from tinygrad_lite.testing import strategies as tls

T = torch.tensor
F16, F32, F64 = torch.float16, torch.float32, torch.float64

# ---- assert_close: same verdict as torch.testing.assert_close --------------------------------
# (actual, expected, kwargs); each is run through torch's assert_close to get the expected verdict.
CASES = {
    "equal_f32": (T([1.0, 2.0]), T([1.0, 2.0]), {}),
    "f32_within_atol": (T([0.0, 1.0]), T([5e-6, 1.0]), {}),
    "f32_beyond_atol": (T([0.0, 1.0]), T([2e-5, 1.0]), {}),
    "f32_within_rtol": (T([1000.0]), T([1000.001]), {}),
    "f32_beyond_rtol": (T([1000.0]), T([1000.01]), {}),
    "f64_within": (T([1.0], dtype=F64), T([1.0 + 1.5e-7], dtype=F64), {}),
    "f64_beyond": (T([1.0], dtype=F64), T([1.0 + 3e-7], dtype=F64), {}),
    "f16_one_ulp": (T([1.0], dtype=F16), T([1.0009765625], dtype=F16), {}),
    "f16_two_ulp": (T([1.0], dtype=F16), T([1.001953125], dtype=F16), {}),
    "int_equal": (T([1, 2, 3]), T([1, 2, 3]), {}),
    "int_off_by_one": (T([1, 2, 3]), T([1, 2, 4]), {}),
    "int_with_atol": (T([1, 2, 3]), T([1, 2, 4]), {"rtol": 0.0, "atol": 1.0}),
    "bool_differ": (T([True, False]), T([True, True]), {}),
    "dtype_mismatch": (T([1.0]), T([1.0], dtype=F64), {}),
    "dtype_mismatch_loose": (T([1.0]), T([1.0 + 5e-6], dtype=F64), {"check_dtype": False}),
    "dtype_mismatch_too_far": (T([1.0]), T([1.0 + 5e-5], dtype=F64), {"check_dtype": False}),
    "int_vs_float_unchecked": (T([1, 2]), T([1.0, 2.0]), {"check_dtype": False}),
    "shape_mismatch": (T([1.0, 2.0, 3.0]), T([[1.0, 2.0, 3.0]]), {}),
    "nan_default": (T([float("nan"), 1.0]), T([float("nan"), 1.0]), {}),
    "nan_equal_nan": (T([float("nan"), 1.0]), T([float("nan"), 1.0]), {"equal_nan": True}),
    "nan_vs_number": (T([float("nan")]), T([1.0]), {"equal_nan": True}),
    "inf_equal": (T([float("inf"), -float("inf")]), T([float("inf"), -float("inf")]), {}),
    "inf_sign": (T([float("inf")]), T([-float("inf")]), {}),
    "explicit_tol_pass": (T([1.0, 2.0]), T([1.05, 2.0]), {"rtol": 0.0, "atol": 0.1}),
    "explicit_tol_fail": (T([1.0, 2.0]), T([1.2, 2.0]), {"rtol": 0.0, "atol": 0.1}),
    "zero_dim_fail": (T(1.0), T(1.5), {}),
    "empty": (torch.zeros(0, 3), torch.zeros(0, 3), {}),
    "nested_pass": ((T([1.0]), [T([2, 3]), T(4.0)]), (T([1.0]), [T([2, 3]), T(4.0)]), {}),
    "nested_fail": ((T([1.0]), [T([2, 3]), T(4.0)]), (T([1.0]), [T([2, 3]), T(4.5)]), {}),
    "nested_length": ((T([1.0]), T([2.0])), (T([1.0]),), {}),
}


def torch_verdict(actual, expected, kwargs):
    try:
        torch.testing.assert_close(actual, expected, **kwargs)
        return True
    except AssertionError:
        return False


def our_verdict(actual, expected, kwargs):
    try:
        assert_close(actual, expected, **kwargs)
        return True
    except AssertionError:
        return False


def convert(x, kind):
    """The same data as a tl.Tensor or NumPy array (nested structures kept)."""
    if isinstance(x, (tuple, list)):
        return type(x)(convert(v, kind) for v in x)
    arr = x.numpy()
    return tl.tensor(arr, dtype=str(x.dtype)[6:]) if kind == "tl" else arr


@pytest.mark.parametrize("kind", ["tl", "numpy", "mixed"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_assert_close_agrees_with_torch(name, kind):
    actual, expected, kwargs = CASES[name]
    want = torch_verdict(actual, expected, kwargs)
    ours_actual = convert(actual, "numpy" if kind == "numpy" else "tl")
    ours_expected = expected if kind == "mixed" else convert(expected, kind)
    assert our_verdict(ours_actual, ours_expected, kwargs) == want, f"torch.testing says {want}"


def test_case_table_covers_both_verdicts():
    verdicts = [torch_verdict(*case) for case in CASES.values()]
    assert 8 <= sum(verdicts) <= len(verdicts) - 8  # the table must exercise passes and failures


@pytest.mark.parametrize("actual,expected", [
    (T([1.0, 2.0, 3.0], dtype=F64), T([1.0, 2.5, 3.0], dtype=F64)),
    (T([[1.0, 2.0], [0.0, 3.0]]), T([[1.0, 2.1], [1e-3, 3.0]])),
    (T(2.0, dtype=F64), T(2.5, dtype=F64)),
    (T([1, 5, 3]), T([1, 2, 3])),
])
def test_mismatch_message_matches_torch(actual, expected):
    with pytest.raises(AssertionError) as theirs:
        torch.testing.assert_close(actual, expected)
    with pytest.raises(AssertionError) as ours:
        assert_close(convert(actual, "tl"), convert(expected, "numpy"))
    assert str(ours.value) == str(theirs.value)


def test_mismatch_message_contents():
    with pytest.raises(AssertionError) as info:
        assert_close(np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 2.0, 3.5, 4.0]))
    text = str(info.value)
    for part in ["Mismatched elements: 1 / 4 (25.0%)",
                 "Greatest absolute difference: 0.5 at index (2,)",
                 "(up to 1e-07 allowed)", "Greatest relative difference: 0.14285714285714285"]:
        assert part in text


def test_shape_dtype_and_nested_messages():
    with pytest.raises(AssertionError, match=r"'shape' do not match: \(2,\) != \(1, 2\)"):
        assert_close(np.zeros(2), np.zeros((1, 2)))
    with pytest.raises(AssertionError, match="'dtype' do not match: float32 != float64"):
        assert_close(tl.tensor([1.0], dtype=tl.float32), torch.tensor([1.0], dtype=F64))
    with pytest.raises(AssertionError, match=r"item \[1\]\[0\]"):
        assert_close([1.0, [2.0]], [1.0, [3.0]])


def test_dtypes_compare_by_name_across_libraries():
    x = np.arange(3, dtype=np.float32)
    assert_close(tl.tensor(x, dtype=tl.float32), torch.from_numpy(x))
    assert_close(torch.from_numpy(x), x)
    assert_close(tl.tensor(x, dtype=tl.float32, requires_grad=True), x)
    xt = torch.tensor([1.0, -2.0], dtype=F64, requires_grad=True)
    (g,) = torch.autograd.grad(xt.abs().sum(), xt, create_graph=True)
    (zero,) = torch.autograd.grad(g.sum(), xt, materialize_grads=True)
    assert zero._is_zerotensor()  # torch's lazy zeros refuse a plain .numpy()
    assert_close(np.zeros(2), zero)


@pytest.mark.parametrize("actual,expected,kwargs", [
    (1.0, 1.0 + 1e-8, {}), (1.0, 1.0 + 1e-6, {}), (1, 2, {}), (1, 1, {}), (True, True, {}),
    (1, 1.0, {}), (1, 1.0, {"check_dtype": False}),
    (float("nan"), float("nan"), {"equal_nan": True}),
])
def test_python_scalars_agree_with_torch(actual, expected, kwargs):
    assert our_verdict(actual, expected, kwargs) == torch_verdict(actual, expected, kwargs)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="rtol and atol"):
        assert_close(np.zeros(1), np.zeros(1), rtol=1e-3)
    with pytest.raises(TypeError, match="str"):
        assert_close("abc", "abc")


def test_custom_msg():
    with pytest.raises(AssertionError, match="^custom$"):
        assert_close(np.zeros(1), np.ones(1), msg="custom")
    with pytest.raises(AssertionError, match="^wrapped: Tensor-likes"):
        assert_close(np.zeros(1), np.ones(1), msg=lambda m: "wrapped: " + m)


def test_import_needs_neither_torch_nor_hypothesis():
    code = ("import sys; sys.modules['hypothesis'] = None; import tinygrad_lite.testing as t; "
            "import numpy as np; t.assert_close(np.ones(2), np.ones(2)); "
            "assert 'torch' not in sys.modules\n"
            "try:\n    t.strategies\nexcept ImportError as e:\n    print('IMPORT-ERROR', e)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "IMPORT-ERROR" in out.stdout and "pip install hypothesis" in out.stdout


# ---- gradcheck -------------------------------------------------------------------------------
class Cube(tl.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return 3 * x * x * grad


class WrongCube(Cube):
    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return 2 * x * x * grad  # should be 3 x^2


class OpaqueCube(Cube):  # right first derivative, computed outside the graph
    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return tl.tensor(3 * x.detach().numpy() ** 2 * grad.detach().numpy(), dtype=tl.float64)


class DetachedCube(Cube):  # right first derivative, but detaching x loses d(grad)/dx
    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return 3 * x.detach() * x.detach() * grad


class LeakyFirstArg(tl.autograd.Function):  # returns 2*x but claims a gradient for unused y
    @staticmethod
    def forward(ctx, x, y):
        return x * 2

    @staticmethod
    def backward(ctx, grad):
        return grad * 2, grad * 1


def rand(*shape, seed=0, requires_grad=True):
    data = np.random.default_rng(seed).uniform(-1, 1, shape)
    return tl.tensor(data, dtype=tl.float64, requires_grad=requires_grad)


CORRECT = {
    "square": (lambda x: x * x, lambda: (rand(3, 2),)),
    "sin": (lambda x: x.sin(), lambda: (rand(4),)),
    "matmul": (lambda a, b: a @ b, lambda: (rand(3, 4), rand(4, 2, seed=1))),
    "broadcast_mul": (lambda a, b: a * b, lambda: (rand(3, 1), rand(4, seed=1))),
    "cube_function": (Cube.apply, lambda: (rand(2, 3),)),
    "two_outputs": (lambda x, y: (x * y, (x + y).sum()), lambda: (rand(3), rand(3, seed=1))),
    "constant_input": (lambda x, y: x * y, lambda: (rand(3), rand(3, seed=1, requires_grad=False))),
    "unused_input": (lambda x, y: x * 3, lambda: (rand(3), rand(2, seed=1))),
    "scalar_output": (lambda x: (x * x).sum(), lambda: (rand(2, 2),)),
    "integer_output_skipped": (lambda x: (x * 2, x.argmax()), lambda: (rand(4),)),
    "empty_input": (lambda x: x * 2, lambda: (rand(0, 3),)),
}


@pytest.mark.parametrize("fast_mode", [False, True])
@pytest.mark.parametrize("name", sorted(CORRECT))
def test_gradcheck_passes_correct_ops(name, fast_mode):
    fn, make = CORRECT[name]
    assert gradcheck(fn, make(), fast_mode=fast_mode) is True


@pytest.mark.parametrize("fast_mode", [False, True])
def test_gradcheck_catches_wrong_backward(fast_mode):
    with pytest.raises(GradcheckError, match="output 0 with respect to input 0") as info:
        gradcheck(WrongCube.apply, (rand(2, 2),), fast_mode=fast_mode)
    assert "numerical" in str(info.value) and "analytical" in str(info.value)
    assert gradcheck(WrongCube.apply, (rand(2, 2),), fast_mode=fast_mode,
                     raise_exception=False) is False


@pytest.mark.parametrize("fast_mode", [False, True])
def test_gradcheck_catches_gradient_for_unused_input(fast_mode):
    with pytest.raises(GradcheckError, match="input 1"):
        gradcheck(LeakyFirstArg.apply, (rand(3), rand(3, seed=1)), fast_mode=fast_mode)


def test_gradcheck_full_mode_reports_jacobians():
    with pytest.raises(GradcheckError) as info:
        gradcheck(WrongCube.apply, (tl.tensor([2.0], dtype=tl.float64, requires_grad=True),))
    text = str(info.value)
    assert "12." in text and "8." in text  # numerical 3x^2 = 12, analytical 2x^2 = 8


def test_gradcheck_fast_mode_on_large_input():
    a, b = rand(40, 30), rand(30, 20, seed=1)
    assert gradcheck(lambda a, b: (a @ b).tanh(), (a, b), fast_mode=True)
    with pytest.raises(GradcheckError, match="fast mode"):
        gradcheck(WrongCube.apply, (rand(50, 40),), fast_mode=True)


def test_gradcheck_passes_through_non_tensor_args():
    assert gradcheck(lambda x, p: x ** p, (rand(3).abs() + 0.5, 3))


def test_gradcheck_rejects_bad_inputs():
    with pytest.raises(TypeError, match="input 0.*float32"):
        gradcheck(lambda x: x * x, (tl.tensor([1.0], dtype=tl.float32, requires_grad=True),))
    with pytest.raises(ValueError, match="requires grad"):
        gradcheck(lambda x: x * x, (rand(2, requires_grad=False),))


def test_gradcheck_detects_nondeterministic_backward():
    rng = np.random.default_rng(0)

    class Noisy(Cube):
        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return 3 * x * x * grad + tl.tensor(rng.normal(0, 1e-9, x.shape), dtype=tl.float64)

    with pytest.raises(GradcheckError, match="reentrant"):
        gradcheck(Noisy.apply, (rand(3),))
    assert gradcheck(Noisy.apply, (rand(3),), nondet_tol=1e-6)


# ---- gradgradcheck ---------------------------------------------------------------------------
@pytest.mark.parametrize("fast_mode", [False, True])
def test_gradgradcheck_passes_for_smooth_ops(fast_mode):
    assert gradgradcheck(lambda x: x ** 3, (rand(2, 3),), fast_mode=fast_mode)
    assert gradgradcheck(Cube.apply, (rand(3),), fast_mode=fast_mode)
    assert gradgradcheck(lambda x, y: (x * y * y).sin(), (rand(3), rand(3, seed=1)),
                         fast_mode=fast_mode)
    assert gradgradcheck(lambda x, y: x * x, (rand(3), rand(2)), fast_mode=fast_mode)  # y unused


def test_gradgradcheck_with_given_grad_outputs():
    go = tl.tensor([0.5, -1.0, 2.0], dtype=tl.float64, requires_grad=True)
    assert gradgradcheck(lambda x: x ** 3, (rand(3),), go)
    with pytest.raises(ValueError, match="grad_outputs"):
        gradgradcheck(lambda x: x ** 3, (rand(3),), (go, go))


@pytest.mark.parametrize("fast_mode", [False, True])
@pytest.mark.parametrize("fn", [OpaqueCube, DetachedCube], ids=["opaque", "detached"])
def test_gradgradcheck_catches_non_differentiable_backward(fn, fast_mode):
    assert gradcheck(fn.apply, (rand(3),), fast_mode=fast_mode)  # first order is right
    with pytest.raises(GradcheckError):
        gradgradcheck(fn.apply, (rand(3),), fast_mode=fast_mode)
    assert gradgradcheck(fn.apply, (rand(3),), fast_mode=fast_mode, raise_exception=False) is False


# ---- strategies ------------------------------------------------------------------------------
# Strategy tests are cheap: draw at least 50 examples even under the small CI profile.
SETTINGS = settings(deadline=None, max_examples=max(settings.default.max_examples, 50))


@SETTINGS
@given(tls.shapes(min_dims=1, max_dims=3, min_side=2, max_side=4))
def test_shapes_respect_bounds(shape):
    assert 1 <= len(shape) <= 3 and all(2 <= s <= 4 for s in shape)


@SETTINGS
@given(tls.broadcastable_shapes(3))
def test_broadcastable_shapes_broadcast_in_torch(shapes):
    assert len(shapes) == 3
    result = torch.broadcast_shapes(*shapes)
    assert tuple(result) == np.broadcast_shapes(*shapes)
    assert torch.broadcast_tensors(*(torch.zeros(s) for s in shapes))[0].shape == result


@SETTINGS
@given(tls.matmul_shapes())
def test_matmul_shapes_valid_for_torch(pair):
    a, b = pair
    out = torch.matmul(torch.zeros(a), torch.zeros(b))
    assert tuple(out.shape) == np.matmul(np.zeros(a), np.zeros(b)).shape  # independent oracle


def test_strategies_reach_the_interesting_cases():
    from hypothesis import find

    assert find(tls.broadcastable_shapes(), lambda s: s[0] == () and len(s[1]) >= 2)
    assert find(tls.broadcastable_shapes(), lambda s: len(s[0]) != len(s[1]) and s[0] != ())
    assert find(tls.broadcastable_shapes(), lambda s: any(
        x == 1 and y > 1 for x, y in zip(s[0][::-1], s[1][::-1])))
    for kind in [(1, 1), (1, 3), (3, 1), (4, 3)]:
        assert find(tls.matmul_shapes(), lambda p, kind=kind: (len(p[0]), len(p[1])) == kind)


@SETTINGS
@given(st.data(), tls.shapes(max_side=4),
       st.sampled_from(["float64", "float32", "float16", "int64", "int32", "bool"]),
       st.sampled_from(["contiguous", "transposed", "strided"]))
def test_arrays_shape_dtype_layout_values(data, shape, dtype, layout):
    arr = data.draw(tls.arrays(shape, dtype=dtype, layout=layout))
    assert arr.shape == shape and arr.dtype == np.dtype(dtype)
    if dtype != "bool":
        assert np.all(np.isfinite(arr)) and np.all(np.abs(arr) <= 10)
    sides_above_one = sum(s > 1 for s in shape)
    if sides_above_one >= {"contiguous": float("inf"), "strided": 1, "transposed": 2}[layout]:
        assert not arr.flags.c_contiguous


@SETTINGS
@given(tls.tensors(dtype="float32", requires_grad=True), tls.tensors((2, 3), dtype=tl.int32))
def test_tensors_build_tl_tensors(x, i):
    assert isinstance(x, tl.Tensor) and x.dtype.name == "float32" and x.requires_grad
    assert i.shape == (2, 3) and i.dtype.name == "int32" and not i.requires_grad
    assert np.all(np.abs(i.numpy()) <= 10)


@SETTINGS
@given(st.data(), tls.shapes(max_side=3))
def test_tensors_keep_values_of_every_layout(data, shape):
    arr = data.draw(tls.arrays(shape, layout="strided"))
    assert_close(tl.from_numpy(arr), arr)
    assert_close(tl.tensor(arr, dtype=tl.float64).sum(), np.sum(arr))


def test_tensors_rejects_grad_on_integers():
    with pytest.raises(ValueError, match="floating"):
        tls.tensors(dtype="int64", requires_grad=True)


@SETTINGS
@given(tls.conv2d_args())
def test_conv2d_args_valid_for_torch(args):
    bias = torch.zeros(args["bias_shape"]) if args["bias_shape"] else None
    x, w = torch.zeros(args["input_shape"]), torch.zeros(args["weight_shape"])
    out = torch.nn.functional.conv2d(x, w, bias, args["stride"], args["padding"],
                                     args["dilation"], args["groups"])
    assert out.shape[:2] == (x.shape[0], w.shape[0]) and min(out.shape) >= 1


def test_testing_is_a_public_submodule():
    assert tl.testing is tlt and tlt.strategies is tls
    assert {"assert_close", "gradcheck", "gradgradcheck", "GradcheckError"} <= set(dir(tlt))
