"""tl.nn.functional (everything but the losses) against torch.nn.functional: values, gradients
for a random upstream gradient, double backward (``create_graph``), extreme inputs of
softmax/log_softmax and error messages."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_lite as tl
import tinygrad_lite.nn.functional as F
from tinygrad_lite.testing import assert_close

from .helpers import DTYPE_IDS, DTYPES, well_conditioned


def leaves(arrays, dtypes):
    """The same arrays as requires-grad leaves in both frameworks (None stays None)."""
    ours = [None if a is None else tl.tensor(a, dtype=dtypes[0], requires_grad=True)
            for a in arrays]
    theirs = [None if a is None else torch.tensor(a, dtype=dtypes[1], requires_grad=True)
              for a in arrays]
    return ours, theirs


def check(fn, fn_t, arrays, dtypes=DTYPES[0], seed=0, double=False, **kwargs):
    """fn(*tensors, **kwargs) vs fn_t(...): forward, first derivatives for a random upstream g
    and, with ``double``, the derivatives of sum(grads * v) (second order, incl. w.r.t. g)."""
    ours, theirs = leaves(arrays, dtypes)
    out, out_t = fn(*ours, **kwargs), fn_t(*theirs, **kwargs)
    assert_close(out, out_t.detach())
    rng = np.random.default_rng(seed)
    g_np = rng.standard_normal(tuple(out_t.shape))
    g = tl.tensor(g_np, dtype=dtypes[0], requires_grad=double)
    g_t = torch.tensor(g_np, dtype=dtypes[1], requires_grad=double)
    xs = [t for t in ours if t is not None]
    xs_t = [t for t in theirs if t is not None]
    grads = tl.autograd.grad([out], xs, [g], create_graph=double)
    grads_t = torch.autograd.grad([out_t], xs_t, [g_t], create_graph=double)
    for a, b in zip(grads, grads_t):
        assert_close(a, b.detach())
    if not double:
        return
    vs = [rng.standard_normal(tuple(b.shape)) for b in grads_t]
    total = sum((a * tl.tensor(v, dtype=dtypes[0])).sum() for a, v in zip(grads, vs))
    total_t = sum((b * torch.tensor(v, dtype=dtypes[1])).sum() for b, v in zip(grads_t, vs))
    second = tl.autograd.grad([total], xs + [g], allow_unused=True)
    second_t = torch.autograd.grad([total_t], xs_t + [g_t], allow_unused=True)
    for a, b, x_t in zip(second, second_t, xs_t + [g_t]):
        # a None gradient means zeros (e.g. piecewise-linear activations); either side may say so
        assert_close(torch.zeros_like(x_t) if a is None else a,
                     torch.zeros_like(x_t) if b is None else b.detach())


# ---- linear ------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtypes", DTYPES, ids=DTYPE_IDS)
@given(lead=st.lists(st.integers(1, 3), min_size=0, max_size=3), fin=st.integers(1, 5),
       fout=st.integers(1, 5), bias=st.booleans(), seed=st.integers(0, 2**16))
def test_linear(dtypes, lead, fin, fout, bias, seed):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal((*lead, fin)), rng.standard_normal((fout, fin)),
              rng.standard_normal(fout) if bias else None]
    check(F.linear, TF.linear, arrays, dtypes, seed)


@pytest.mark.parametrize("shape", [(4,), (2, 4), (2, 3, 4)])
def test_linear_double_backward(shape):
    rng = np.random.default_rng(0)
    check(F.linear, TF.linear, [rng.standard_normal(shape), rng.standard_normal((3, 4)),
                                rng.standard_normal(3)], double=True)


def test_linear_errors():
    w = tl.randn(3, 4)
    with pytest.raises(ValueError, match=r"linear: input shape \(2, 5\).*\(3, 4\).*4"):
        F.linear(tl.randn(2, 5), w)
    with pytest.raises(ValueError, match=r"linear: bias must have shape \(3,\), got \(4,\)"):
        F.linear(tl.randn(2, 4), w, tl.randn(4))
    with pytest.raises(ValueError, match=r"linear: weight must be 2-D.*\(4,\)"):
        F.linear(tl.randn(2, 4), tl.randn(4))
    with pytest.raises(TypeError, match="linear: input must be a Tensor"):
        F.linear(np.ones((2, 4)), w)


# ---- activations ------------------------------------------------------------------------------
ACTIVATIONS = [
    ("relu", {}, False),
    ("sigmoid", {}, True),
    ("tanh", {}, True),
    ("leaky_relu", {}, False),
    ("leaky_relu", {"negative_slope": 0.2}, True),
    ("silu", {}, True),
    ("elu", {}, True),
    ("elu", {"alpha": 0.3}, False),
    ("softplus", {}, True),
    ("softplus", {"beta": 2.0, "threshold": 3.0}, False),
    ("gelu", {}, True),
    ("gelu", {"approximate": "tanh"}, True),
]


@pytest.mark.parametrize("dtypes", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("name,kwargs,_", ACTIVATIONS,
                         ids=[f"{n}{k}" for n, k, _ in ACTIVATIONS])
@given(shape=st.lists(st.integers(1, 4), min_size=0, max_size=3), seed=st.integers(0, 2**16))
def test_activation(dtypes, name, kwargs, _, shape, seed):
    x = np.random.default_rng(seed).standard_normal(shape) * 4
    check(getattr(F, name), getattr(TF, name), [x], dtypes, seed, **kwargs)


@pytest.mark.parametrize("name,kwargs,double", [a for a in ACTIVATIONS if a[2]],
                         ids=[f"{n}{k}" for n, k, d in ACTIVATIONS if d])
def test_activation_double_backward(name, kwargs, double):
    x = np.random.default_rng(1).standard_normal((3, 4)) * 3
    check(getattr(F, name), getattr(TF, name), [x], double=True, **kwargs)


@pytest.mark.parametrize("name,kwargs", [("elu", {}), ("softplus", {}), ("silu", {}),
                                         ("gelu", {}), ("gelu", {"approximate": "tanh"}),
                                         ("leaky_relu", {}), ("sigmoid", {}), ("tanh", {})])
def test_activation_extreme_inputs(name, kwargs):
    x = np.array([-1e4, -800.0, -50.0, -20.0, 0.0, 20.0, 50.0, 800.0, 1e4])
    for dtypes in DTYPES:
        check(getattr(F, name), getattr(TF, name), [x], dtypes, **kwargs)


def test_activations_reject_integer_input():
    for fn in (F.leaky_relu, F.silu, F.elu, F.softplus, F.gelu, F.softmax, F.log_softmax):
        with pytest.raises(TypeError, match=f"{fn.__name__}.*int64"):
            fn(tl.tensor([1, 2, 3]), *([0] if fn in (F.softmax, F.log_softmax) else []))


# ---- softmax / log_softmax ---------------------------------------------------------------------
@pytest.mark.parametrize("dtypes", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=4), data=st.data(),
       seed=st.integers(0, 2**16))
def test_softmax(dtypes, name, shape, data, seed):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1), label="dim")
    x = np.random.default_rng(seed).standard_normal(shape) * 5
    check(getattr(F, name), getattr(TF, name), [x], dtypes, seed, dim=dim)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_double_backward(name, dim):
    x = np.random.default_rng(2).standard_normal((3, 4))
    check(getattr(F, name), getattr(TF, name), [x], double=True, dim=dim)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("ndim", [0, 1, 2, 3, 4])
def test_softmax_dim_none_legacy_rule(name, ndim):
    x = np.random.default_rng(ndim).standard_normal((2, 3, 4, 5)[:ndim])
    with pytest.warns(UserWarning):  # torch warns; we only need its choice of dim
        check(getattr(F, name), getattr(TF, name), [x], dim=None)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_dtype_argument(name):
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    check(lambda t: getattr(F, name)(t, 1, dtype=tl.float64),
          lambda t: getattr(TF, name)(t, 1, dtype=torch.float64), [x], DTYPES[1])
    # integer input with dtype= is accepted (the cast happens first), as torch
    xi = np.arange(12).reshape(3, 4)
    assert_close(getattr(F, name)(tl.tensor(xi), -1, dtype=tl.float32),
                 getattr(TF, name)(torch.tensor(xi), -1, dtype=torch.float32))


@pytest.mark.parametrize("dtypes", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_extreme_and_infinite_inputs(dtypes, name):
    inf = np.inf
    x = np.array([[1e4, -1e4, 0.0, 1.0],
                  [1e4, 1e4, -1e4, 5.0],
                  [-inf, 0.0, 1.0, -inf],
                  [-inf, -inf, -inf, 3.0],
                  [-1e4, -1e4 + 1, -1e4 + 2, -1e4 + 3]])
    ours = getattr(F, name)(tl.tensor(x, dtype=dtypes[0]), dim=1)
    theirs = getattr(TF, name)(torch.tensor(x, dtype=dtypes[1]), dim=1)
    assert_close(ours, theirs)
    # gradients where torch's are finite (rows without -inf for log_softmax)
    rows = slice(None) if name == "softmax" else [0, 1, 4]
    check(lambda t: getattr(F, name)(t, dim=1), lambda t: getattr(TF, name)(t, dim=1),
          [x[rows]], dtypes)
    # an all -inf row is nan in torch
    all_inf = np.full((1, 3), -inf)
    assert_close(getattr(F, name)(tl.tensor(all_inf, dtype=dtypes[0]), dim=1),
                 getattr(TF, name)(torch.tensor(all_inf, dtype=dtypes[1]), dim=1),
                 equal_nan=True)


def test_softmax_empty_and_errors():
    x = np.zeros((0, 3))
    assert_close(F.softmax(tl.tensor(x), 1), TF.softmax(torch.tensor(x), 1))
    assert_close(F.log_softmax(tl.tensor(x), 0), TF.log_softmax(torch.tensor(x), 0))
    with pytest.raises(IndexError, match="softmax.*3"):
        F.softmax(tl.randn(2, 3), 3)
    for dim in (0, -1):  # a 0-d input has one valid dim, as in torch
        assert_close(F.log_softmax(tl.tensor(2.0), dim), TF.log_softmax(torch.tensor(2.0), dim))
    with pytest.raises(IndexError):
        TF.softmax(torch.tensor(2.0), 1)
    with pytest.raises(IndexError, match="softmax"):
        F.softmax(tl.tensor(2.0), 1)


# ---- dropout -----------------------------------------------------------------------------------
def test_dropout_functional_modes():
    x = tl.randn(50, 40, requires_grad=True)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    assert_close(F.dropout(x, 1.0), TF.dropout(torch.tensor(x.detach().numpy()), 1.0))
    tl.manual_seed(0)
    y = F.dropout(x, 0.3)  # training=True is the functional default, as torch
    y_np, x_np = y.detach().numpy(), x.detach().numpy()
    kept = y_np != 0
    assert 0.2 < 1 - kept.mean() < 0.4
    np.testing.assert_allclose(y_np[kept], x_np[kept] / 0.7, rtol=1e-6)


# ---- batch_norm / layer_norm -------------------------------------------------------------------
@pytest.mark.parametrize("dtypes", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(4, 3), (4, 3, 5), (2, 3, 2, 4)])
def test_batch_norm(dtypes, training, shape):
    rng = np.random.default_rng(len(shape))
    x = rng.standard_normal(shape) * 2 + 1
    w, b = rng.standard_normal(3), rng.standard_normal(3)
    rm, rv = rng.standard_normal(3), rng.uniform(0.5, 2, 3)
    run_ours = [tl.tensor(rm, dtype=dtypes[0]), tl.tensor(rv, dtype=dtypes[0])]
    run_theirs = [torch.tensor(rm, dtype=dtypes[1]), torch.tensor(rv, dtype=dtypes[1])]

    def ours(x, w, b):
        return F.batch_norm(x, *run_ours, w, b, training=training, momentum=0.2, eps=1e-4)

    def theirs(x, w, b):
        return TF.batch_norm(x, *run_theirs, w, b, training=training, momentum=0.2, eps=1e-4)

    check(ours, theirs, [x, w, b], dtypes, double=dtypes[0] is tl.float64)
    assert_close(run_ours, run_theirs)  # running statistics updated (or not) like torch's


def test_batch_norm_without_running_stats_and_weights():
    x = np.random.default_rng(0).standard_normal((5, 2, 3))
    check(lambda t: F.batch_norm(t, None, None, training=True),
          lambda t: TF.batch_norm(t, None, None, training=True), [x])


@pytest.mark.parametrize("dtypes", DTYPES, ids=DTYPE_IDS)
# a single normalised element makes x - mean exactly 0 for us but rounding noise amplified by
# 1/sqrt(eps) for torch, so such shapes are left out
@given(norm=st.lists(st.integers(1, 4), min_size=1, max_size=3).filter(lambda s: np.prod(s) > 1),
       lead=st.lists(st.integers(1, 3), min_size=0, max_size=2), affine=st.booleans(),
       seed=st.integers(0, 2**16))
def test_layer_norm(dtypes, norm, lead, affine, seed):
    rng = np.random.default_rng(seed)
    arrays = [well_conditioned(rng, lead, norm)]
    arrays += [rng.standard_normal(norm), rng.standard_normal(norm)] if affine else [None, None]

    def ours(x, w, b):
        return F.layer_norm(x, norm, w, b, eps=1e-5)

    def theirs(x, w, b):
        return TF.layer_norm(x, norm, w, b, eps=1e-5)

    check(ours, theirs, arrays, dtypes, seed)


def test_layer_norm_double_backward():
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal((2, 3, 4)), rng.standard_normal((3, 4)),
              rng.standard_normal((3, 4))]
    check(lambda x, w, b: F.layer_norm(x, (3, 4), w, b),
          lambda x, w, b: TF.layer_norm(x, (3, 4), w, b), arrays, double=True)


def test_norm_errors():
    with pytest.raises(ValueError, match=r"layer_norm: input shape \(2, 3\).*\(2,\)"):
        F.layer_norm(tl.randn(2, 3), (2,))
    with pytest.raises(ValueError, match=r"layer_norm: input shape \(3,\).*\(2, 3\)"):
        F.layer_norm(tl.randn(3), (2, 3))
    with pytest.raises(ValueError, match=r"layer_norm: weight should have shape \(3,\)"):
        F.layer_norm(tl.randn(2, 3), 3, tl.randn(2))
    with pytest.raises(ValueError, match=r"batch_norm: running_mean.*\(3,\), got \(2,\)"):
        F.batch_norm(tl.randn(4, 3), tl.zeros(2), tl.ones(3))
    with pytest.raises(ValueError, match=r"batch_norm.*more than 1 value.*\(1, 3, 1\)"):
        F.batch_norm(tl.randn(1, 3, 1), None, None, training=True)
    with pytest.raises(ValueError, match="batch_norm.*running_mean and running_var"):
        F.batch_norm(tl.randn(2, 3), None, None, training=False)


# ---- one_hot -----------------------------------------------------------------------------------
def test_one_hot():
    idx = np.array([[0, 2], [1, 4]])
    assert_close(F.one_hot(tl.tensor(idx)), TF.one_hot(torch.tensor(idx)))
    assert_close(F.one_hot(tl.tensor(idx), 7), TF.one_hot(torch.tensor(idx), 7))
    with pytest.raises(ValueError, match=r"one_hot.*\[0, 3\)"):
        F.one_hot(tl.tensor(idx), 3)
    with pytest.raises(TypeError, match="one_hot.*int64.*float32"):
        F.one_hot(tl.tensor([1.0]))


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_float16_accumulates_in_float32_like_torch(name):
    """A float16 exp-sum over thousands of classes drifts by several ulps; torch (and we) sum
    in float32 and round once."""
    x = np.random.default_rng(0).standard_normal((4, 3000)).astype(np.float16)
    out = getattr(F, name)(tl.tensor(x), 1)
    expected = getattr(TF, name)(torch.tensor(x), 1)
    assert out.dtype is tl.float16
    assert_close(out, expected)
    exact = getattr(TF, name)(torch.tensor(x, dtype=torch.float64), 1)
    assert_close(out.to(tl.float64), exact, rtol=2e-3, atol=1e-5)
