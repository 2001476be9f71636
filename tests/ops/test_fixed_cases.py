"""Fixed cases at kinks, ties, zeros and infinities, pinned to torch's rules.

Hypothesis keeps the table's inputs away from these points (so the table's gradients are
unambiguous); here each point is hit on purpose and the value *and* gradient must equal what torch
does there: relu/abs/sign at 0; max/min (with and without dim), amax/amin, argmax/argmin and
maximum/minimum at ties; clamp at its bounds; where with NaN/inf in the branch it does not take;
norm/std/var at zero vectors; sqrt/rsqrt/log/reciprocal at 0; pow with base 0; prod with one and
two zeros; logsumexp with -inf (and +inf) entries; NaN propagation.  Every case goes through the
same runner as the table (``specs.run_case``): same inputs to both libraries, a random upstream
gradient (fixed seed), float64 and float32.
"""

import math

import numpy as np
import pytest

from .specs import F32, F64, Case, OpSpec, run_case

INF, NAN = math.inf, math.nan
DTYPES = [F64, F32]


def _arrays(inputs, dtype):
    """Float inputs in ``dtype``; int / bool inputs (masks, conditions) as they are."""
    return [
        np.asarray(a, dtype=dtype) if np.asarray(a).dtype.kind == "f" else np.asarray(a)
        for a in inputs
    ]


def check(fn, *inputs, dtype=F64, grad=True, equal_nan=False, seed=0, **kwargs):
    """Compare ``fn(lib, *tensors, **kwargs)`` and its gradients with torch on fixed inputs."""
    spec = OpSpec("fixed case", fn, gen=None, grad=grad, inputs_require_grad=grad)
    return run_case(
        spec, Case(_arrays(inputs, dtype), kwargs), dtype, seed=seed, equal_nan=equal_nan
    )


def check_both_grad_paths(fn, *inputs, dtype=F64, equal_nan=False, **kwargs):
    """As :func:`check`, then again reading gradients from ``.grad`` after ``out.backward(g)``."""
    spec = OpSpec("fixed case", fn, gen=None)
    case = Case(_arrays(inputs, dtype), kwargs)
    run_case(spec, case, dtype, seed=1, equal_nan=equal_nan)
    run_case(spec, case, dtype, seed=2, equal_nan=equal_nan, use_backward=True)


ZERO_MIX = [[-1.5, -0.0, 0.0, 2.0], [0.0, 3.0, -2.0, 0.0]]


# --- relu / abs / sign at 0 ------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["relu", "abs", "sign"])
def test_kink_at_zero(name, dtype):
    check_both_grad_paths(lambda lib, x: getattr(x, name)(), ZERO_MIX, dtype=dtype)


@pytest.mark.parametrize("name", ["relu", "abs", "sign"])
def test_kink_at_zero_function_form(name):
    check(lambda lib, x: getattr(lib, name)(x), ZERO_MIX)


# --- ties in max / min / amax / amin / argmax / argmin ----------------------------------------
TIES = [[1.0, 3.0, 3.0, -2.0], [3.0, 0.0, 2.0, 3.0], [-1.0, -1.0, -1.0, -1.0]]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["max", "min"])
def test_full_reduction_max_min_ties_split_evenly(name, dtype):
    # torch: max()/min() without dim spread the gradient evenly over all tied elements
    check_both_grad_paths(lambda lib, x: getattr(x, name)(), TIES, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_max_min_dim_ties_go_to_returned_index(name, dim, keepdim, dtype):
    def fn(lib, x):
        r = getattr(x, name)(dim=dim, keepdim=keepdim)
        return r.values, r.indices

    check(fn, TIES, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["amax", "amin"])
@pytest.mark.parametrize("dim", [None, 0, 1, (0, 1), (-1,)])
def test_amax_amin_ties_split_evenly(name, dim, dtype):
    if dim is None:
        check(lambda lib, x: getattr(x, name)(), TIES, dtype=dtype)
    else:
        check(lambda lib, x: getattr(x, name)(dim=dim), TIES, dtype=dtype)
        check(lambda lib, x: getattr(x, name)(dim=dim, keepdim=True), TIES, dtype=dtype)


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("dim", [None, 0, 1, -1])
def test_argmax_argmin_ties_pick_first(name, dim):
    kw = {} if dim is None else {"dim": dim}
    check(lambda lib, x: getattr(x, name)(**kw), TIES, grad=False)
    check(lambda lib, x: getattr(x, name)(**kw), [[2.0, 2.0], [2.0, 2.0]], grad=False)


def test_max_of_constant_tensor():
    check(lambda lib, x: (x.max(), x.amax(), x.max(dim=0).values), np.full((3, 2), 0.5))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_minimum_ties_split_in_half(name, dtype):
    a = [[1.0, 2.0, -3.0], [0.5, 0.5, 4.0]]
    b = [[1.0, 1.0, -3.0], [0.5, 2.0, 4.0]]
    check_both_grad_paths(lambda lib, x, y: getattr(lib, name)(x, y), a, b, dtype=dtype)


@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_minimum_ties_with_broadcasting(name):
    a = [[1.0, 2.0, -3.0], [1.0, 0.5, 4.0]]
    b = [1.0, 0.5, 4.0]  # ties in both rows: the (3,) input gets both halves summed
    check(lambda lib, x, y: getattr(lib, name)(x, y), a, b)


# --- clamp at its bounds ------------------------------------------------------------------------
BOUNDARY = [-1.0, -0.5, -0.25, 0.0, 0.5, 1.0]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "kw",
    [
        dict(min=-0.5, max=0.5),
        dict(min=-0.5),
        dict(max=0.5),
        dict(min=-1, max=1),
        dict(min=1.0, max=-1.0),
    ],
)
def test_clamp_at_bounds(kw, dtype):
    # torch: the gradient passes at x == min and x == max (inclusive); min > max gives max
    check_both_grad_paths(lambda lib, x: x.clamp(**kw), BOUNDARY, dtype=dtype)
    check(lambda lib, x: x.clip(**kw), BOUNDARY, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_clamp_tensor_bounds_at_ties(dtype):
    x = [-1.0, -0.5, 0.0, 0.5, 1.0, 2.0]
    lo = [-0.5, -0.5, 0.0, 0.0, 2.0, 2.0]  # x == lo in places; lo > hi in the last two
    hi = [0.5, 0.5, 0.0, 0.5, 1.0, 1.5]
    check(lambda lib, a, b, c: a.clamp(b, c), x, lo, hi, dtype=dtype)
    check(lambda lib, a, b: a.clamp(min=b), x, lo, dtype=dtype)
    check(lambda lib, a, c: a.clamp(max=c), x, hi, dtype=dtype)


# --- where with NaN / inf in the branch that is not taken --------------------------------------
COND = [True, False, True, False]


@pytest.mark.parametrize("dtype", DTYPES)
def test_where_untaken_nan_inf_leaves_give_finite_values_and_grads(dtype):
    a = [1.0, NAN, -2.0, INF]
    b = [INF, 3.0, NAN, -1.0]
    _, out_th = check(lambda lib, c, x, y: lib.where(c, x, y), COND, a, b, dtype=dtype)
    assert np.isfinite(out_th.detach().numpy()).all()  # the premise: torch is finite here


def test_where_untaken_inf_with_scalar_branch():
    check(lambda lib, c, x: lib.where(c, x, 0.0), COND, [1.0, INF, 2.0, NAN])
    check(lambda lib, c, x: lib.where(c, 0.0, x), COND, [INF, 1.0, NAN, 2.0])


def test_where_double_where_safe_log_has_finite_grad():
    # the standard trick: mask the input of log too, so the untaken branch is finite
    def fn(lib, x):
        pos = x > 0
        safe = lib.where(pos, x, lib.ones_like(x))
        return lib.where(pos, safe.log(), lib.zeros_like(x))

    _, out_th = check(fn, [0.0, 2.0, -1.0, 0.5])
    assert np.isfinite(out_th.detach().numpy()).all()


def test_where_safe_sqrt_via_masked_fill():
    def fn(lib, x):
        safe = x.masked_fill(x <= 0, 1.0)
        return lib.where(x > 0, safe.sqrt(), 0.0)

    check(fn, [0.0, 4.0, -1.0, 0.25])


def test_where_naive_log_matches_torch_nan_rule():
    # where(x > 0, log(x), 0) at x = 0: torch's gradient is 0 * inf = nan; pinned to torch
    check(lambda lib, x: lib.where(x > 0, x.log(), 0.0), [0.0, 2.0, 1.0], equal_nan=True)


def test_masked_fill_over_nan_and_inf():
    check(lambda lib, x, m: x.masked_fill(m, 0.0), [NAN, 1.0, INF, -INF], [True, False, True, True])


# --- zero vectors: norm / std / var -----------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [None, 2, 1, INF, 3, 0.5])
def test_norm_of_zero_vector(p, dtype):
    kw = {} if p is None else {"p": p}
    check(lambda lib, x: x.norm(**kw), np.zeros(4), dtype=dtype)
    # one all-zero row among non-zero rows, reduced along dim 1
    x = [[0.0, 0.0, 0.0], [3.0, -4.0, 1.0]]
    check(lambda lib, t: t.norm(dim=1, **kw), x, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["std", "var"])
@pytest.mark.parametrize("kw", [{}, {"correction": 0}, {"dim": 1}, {"dim": 1, "correction": 0}])
def test_std_var_of_constant_vector(name, kw, dtype):
    check(lambda lib, x: getattr(x, name)(**kw), [[2.0, 2.0, 2.0], [0.0, 0.0, 0.0]], dtype=dtype)


# --- sqrt, rsqrt, log, reciprocal at 0 -----------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["sqrt", "rsqrt", "log", "log2", "reciprocal"])
def test_pole_at_zero(name, dtype):
    check(lambda lib, x: getattr(x, name)(), [0.0, 1.0, 4.0], dtype=dtype, equal_nan=True)


def test_log1p_at_minus_one():
    check(lambda lib, x: x.log1p(), [-1.0, 0.0, 1.0], equal_nan=True)


@pytest.mark.parametrize("dtype", DTYPES)
def test_division_by_zero(dtype):
    check(lambda lib, a, b: a / b, [1.0, -1.0, 0.0], [0.0, 0.0, 0.0], dtype=dtype, equal_nan=True)


# --- pow with base 0 ------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("e", [0, 1, 2, 3, 0.5, 1.5, -1, 0.0, 2.0])
def test_pow_scalar_exponent_at_zero_base(e, dtype):
    # torch: x ** 0 == 1 with gradient 0 (also at x == 0); x ** 2 at 0 has gradient 0;
    # x ** 0.5 at 0 has gradient inf; x ** -1 at 0 is inf with gradient -inf
    check(lambda lib, x: x**e, [0.0, 2.0, 0.0], dtype=dtype, equal_nan=True)
    check(lambda lib, x: x.pow(e), [0.0, 1.5], dtype=dtype, equal_nan=True)


@pytest.mark.parametrize("dtype", DTYPES)
def test_pow_tensor_exponent_at_zero_base(dtype):
    # torch: d/d(exponent) of 0 ** e is 0 (not nan) for e >= 0; 0 ** 0 == 1
    base = [0.0, 0.0, 0.0, 0.0, 2.0]
    expo = [2.0, 0.0, 0.5, 1.0, 0.0]
    check(lambda lib, a, b: a**b, base, expo, dtype=dtype, equal_nan=True)


def test_pow_negative_exponent_at_zero_base():
    check(lambda lib, a, b: a**b, [0.0, 1.0], [-1.0, -2.0], equal_nan=True)


def test_scalar_base_zero_pow_tensor():
    check(lambda lib, e: 0.0**e, [2.0, 0.0, 1.0], equal_nan=True)
    check(lambda lib, e: 2**e, [0.0, -1.0, 3.0])


# --- prod with zeros ------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "x",
    [
        [2.0, 0.0, 3.0, -1.5],  # one zero: its gradient is the product of the others
        [2.0, 0.0, 3.0, 0.0],  # two zeros: every gradient is 0
        [0.0, 0.0, 0.0, 0.0],  # all zeros
        [[1.0, 0.0, 2.0], [3.0, 4.0, -1.0], [0.0, 5.0, 0.0]],  # mixed rows
    ],
)
def test_prod_with_zeros(x, dtype):
    check_both_grad_paths(lambda lib, t: t.prod(), x, dtype=dtype)
    if np.ndim(x) == 2:
        for dim in (0, 1, -1):
            check(lambda lib, t: t.prod(dim=dim), x, dtype=dtype)
            check(lambda lib, t: t.prod(dim, keepdim=True), x, dtype=dtype)


def test_prod_with_zeros_double_backward():
    # gradgrad through prod's zero handling, against torch
    from .specs import run_double_backward

    spec = OpSpec("prod with zeros", lambda lib, x: x.prod(dim=1), gen=None)
    for x in ([[2.0, 0.0, 3.0], [1.0, 2.0, 3.0]], [[0.0, 0.0, 3.0], [0.0, 2.0, 3.0]]):
        run_double_backward(spec, Case([np.asarray(x)]), seed=3)


# --- logsumexp with infinities --------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_logsumexp_with_minus_inf_entries(dtype):
    # a row with some -inf is finite with gradient 0 on the -inf entries
    check(lambda lib, x: x.logsumexp(dim=1), [[0.0, -INF, 1.0], [-INF, 2.0, -INF]], dtype=dtype)


def test_logsumexp_all_minus_inf_row():
    # an all -inf row: torch gives -inf, and a nan gradient for that row; pinned to torch
    check(lambda lib, x: x.logsumexp(dim=1), [[-INF, -INF], [0.0, 1.0]], equal_nan=True)


def test_logsumexp_with_plus_inf():
    check(lambda lib, x: x.logsumexp(dim=0), [INF, 1.0], equal_nan=True)


@pytest.mark.parametrize("dtype", DTYPES)
def test_logsumexp_large_values_are_stable(dtype):
    check(lambda lib, x: x.logsumexp(dim=-1), [[1000.0, 1000.0], [-1000.0, -999.0]], dtype=dtype)


# --- saturation / overflow ------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["sigmoid", "tanh", "exp", "expm1"])
def test_saturation(name, dtype):
    big = (
        [-100.0, -30.0, 0.0, 30.0, 100.0]
        if name in ("sigmoid", "tanh")
        else [-100.0, -30.0, 0.0, 30.0]
    )
    check(lambda lib, x: getattr(x, name)(), big, dtype=dtype, equal_nan=True)


# --- NaN propagation (forward) --------------------------------------------------------------------
@pytest.mark.parametrize("name", ["max", "min", "amax", "amin", "sum", "argmax", "argmin"])
def test_nan_propagates_in_reductions(name):
    check(lambda lib, x: getattr(x, name)(), [[1.0, NAN, 3.0]], grad=False, equal_nan=True)
    check(
        lambda lib, x: getattr(x, name)(dim=1),
        [[1.0, NAN, 3.0], [1.0, 2.0, 0.0]],
        grad=False,
        equal_nan=True,
    )


@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_nan_propagates_in_maximum_minimum(name):
    check(
        lambda lib, a, b: getattr(lib, name)(a, b),
        [NAN, 1.0, 2.0],
        [0.0, NAN, 1.0],
        grad=False,
        equal_nan=True,
    )


def test_nan_in_clamp_and_relu():
    check(
        lambda lib, x: (x.clamp(-1.0, 1.0), x.relu()), [NAN, 2.0, -2.0], grad=False, equal_nan=True
    )


def test_comparisons_with_nan_and_inf():
    a, b = [NAN, 1.0, INF, -INF], [NAN, NAN, INF, 0.0]
    check(lambda lib, x, y: (x == y, x != y, x < y, x <= y, x > y, x >= y), a, b, grad=False)


# --- floor division / remainder signs -------------------------------------------------------------
def test_floordiv_and_mod_signs():
    a = [7.0, -7.0, 7.0, -7.0, 0.5, -0.5, 6.0]
    b = [2.0, 2.0, -2.0, -2.0, 1.0, 1.0, 3.0]
    check(lambda lib, x, y: x // y, a, b, grad=False)
    check(lambda lib, x, y: x % y, a, b)  # sign of the divisor, like Python / torch.remainder
