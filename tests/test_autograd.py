"""The autograd engine against PyTorch.

Every expected value comes from torch (a twin computation on the same inputs) or from a formula
written out by hand; nothing here is checked against tinygrad_lite itself.

Covers DESIGN §3 and the graph tests of §7: reuse, diamonds, accumulation, deep graphs, leaks,
backward()/autograd.grad() arguments, higher-order gradients, hooks, custom Functions, the version
counter on saved tensors and dtype preservation of gradients.
"""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap
import warnings
import weakref

import numpy as np
import pytest
import torch

import tinygrad_lite as tl

RNG = np.random.default_rng(0)


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def rand(*shape, low=-1.0, high=1.0, dtype=np.float64):
    return RNG.uniform(low, high, size=shape).astype(dtype)


def pair(arr, requires_grad=True):
    """The same data as a tinygrad_lite tensor and a torch tensor (independent copies)."""
    arr = np.asarray(arr)
    return (
        tl.tensor(arr.copy(), requires_grad=requires_grad),
        torch.tensor(arr.copy(), requires_grad=requires_grad),
    )


def to_np(t):
    """Values of one of our tensors as a NumPy array (detached first so grad never blocks it)."""
    assert t is not None, "expected a tensor, got None"
    return np.asarray(t.detach().numpy())


def assert_matches(ours, ref, rtol=1e-7, atol=1e-9):
    """Our tensor equals torch's in shape and values."""
    assert ours is not None, "tinygrad_lite gave None where torch gave a tensor"
    assert ref is not None
    ref_np = ref.detach().numpy()
    got = to_np(ours)
    assert got.shape == ref_np.shape, f"shape {got.shape} != torch's {ref_np.shape}"
    np.testing.assert_allclose(got, ref_np, rtol=rtol, atol=atol)


def lib_of(t):
    return torch if isinstance(t, torch.Tensor) else tl


# --------------------------------------------------------------------------------------------
# graph shapes: reuse, diamonds, accumulation, topological order
# --------------------------------------------------------------------------------------------


def test_reused_tensor_x_times_x_plus_x():
    x, xt = pair(rand(3, 4))
    (x * x + x).sum().backward()
    (xt * xt + xt).sum().backward()
    assert_matches(x.grad, xt.grad)
    # by hand: d/dx (x^2 + x) = 2x + 1
    np.testing.assert_allclose(to_np(x.grad), 2 * xt.detach().numpy() + 1, rtol=1e-12)


def test_same_tensor_twice_in_one_op():
    a, at = pair(rand(4, 4))

    def f(m):
        return (m @ m).sum() + (m + m).sum() + (m - m).sum() + (m / (m * m + 1)).sum()

    f(a).backward()
    f(at).backward()
    assert_matches(a.grad, at.grad)


def test_diamond():
    x, xt = pair(rand(5))

    def f(v):
        a = v.exp()
        b = a.sin()
        c = a * 3.0
        return (b + c).sum()

    f(x).backward()
    f(xt).backward()
    assert_matches(x.grad, xt.grad)


def test_paths_of_different_depth_need_topological_order():
    # `a` reaches the output through paths of length 1, 2 and 4; a wrong processing order
    # propagates a partial gradient of `a` (or processes it twice).
    x, xt = pair(rand(6))

    def f(v):
        a = v * 2.0
        b = a * a
        c = b + a
        d = c.exp() * 0.1 + a
        e = d.tanh() + b.sin() + a
        return e.sum()

    f(x).backward()
    f(xt).backward()
    assert_matches(x.grad, xt.grad)


def test_wide_fan_out_of_one_tensor():
    x, xt = pair(rand(4))

    def f(v):
        total = v * 0.0
        for i in range(50):
            total = total + v * float(i)
        return total.sum()

    f(x).backward()
    f(xt).backward()
    assert_matches(x.grad, xt.grad)
    np.testing.assert_allclose(to_np(x.grad), np.full(4, sum(range(50)), dtype=np.float64))


def test_only_tensors_that_require_grad_get_grad():
    x, xt = pair(rand(3))
    c, ct = pair(rand(3), requires_grad=False)
    (x * c).sum().backward()
    (xt * ct).sum().backward()
    assert_matches(x.grad, xt.grad)
    assert c.grad is None and ct.grad is None


def test_grad_accumulates_across_backward_calls():
    x, xt = pair(rand(2, 3))
    for v in (x, xt):
        (v * v).sum().backward()
        (v.sin()).sum().backward()
    assert_matches(x.grad, xt.grad)
    np.testing.assert_allclose(
        to_np(x.grad), 2 * xt.detach().numpy() + np.cos(xt.detach().numpy()), rtol=1e-12
    )


def test_grad_can_be_reset_to_none():
    x, xt = pair(rand(3))
    for v in (x, xt):
        (v * v).sum().backward()
        v.grad = None
        (v * 3.0).sum().backward()
    assert_matches(x.grad, xt.grad)
    np.testing.assert_allclose(to_np(x.grad), np.full(3, 3.0))


def test_backward_with_explicit_gradient():
    x, xt = pair(rand(2, 3))
    g = rand(2, 3)
    (x.exp() * x).backward(gradient=tl.tensor(g))
    (xt.exp() * xt).backward(gradient=torch.tensor(g))
    assert_matches(x.grad, xt.grad)


def test_backward_gradient_with_wrong_shape_raises():
    x = tl.tensor(rand(3), requires_grad=True)
    y = x * 2.0
    with pytest.raises((RuntimeError, ValueError)):
        y.backward(gradient=tl.tensor(rand(4)))


# --------------------------------------------------------------------------------------------
# deep graphs and memory
# --------------------------------------------------------------------------------------------


DEEP_CHAIN_SCRIPT = textwrap.dedent(
    """
    import gc, sys, weakref
    import tinygrad_lite as tl

    x = tl.tensor([1.0, 2.0], dtype=tl.float64, requires_grad=True)
    y = x
    for i in range(100_000):
        y = y * 1.0000001 if i % 2 == 0 else y + 0.5
    loss = y.sum()
    loss.backward()
    print("GRAD", repr(x.grad.tolist()))
    tail = weakref.ref(y)
    gc.disable()
    del y, loss
    print("FREED", tail() is None)
    """
)


def test_deep_chain_100k_ops_backward_and_free_without_recursion():
    # A subprocess: a recursive destructor would crash the interpreter, not just raise.
    proc = subprocess.run(
        [sys.executable, "-c", DEEP_CHAIN_SCRIPT],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, f"rc={proc.returncode}\nstderr:\n{proc.stderr[-3000:]}"
    assert "RecursionError" not in proc.stderr
    lines = dict(line.split(" ", 1) for line in proc.stdout.strip().splitlines())
    grad = eval(lines["GRAD"])  # a list of two floats printed by the child
    expected = 1.0000001**50_000  # by hand: 50,000 multiplications by 1.0000001, adds pass 1
    np.testing.assert_allclose(grad, [expected, expected], rtol=1e-9)
    assert lines["FREED"] == "True", "the 100k-node graph was not freed by `del` alone"


def test_intermediate_and_node_are_freed_without_gc():
    x = tl.tensor(rand(8), requires_grad=True)
    gc.disable()
    try:
        h = x.exp()  # exp saves its output: a strong ref from node to output would be a cycle
        s = h.tanh()  # tanh saves its output too
        y = s * 2.0
        loss = y.sum()
        h_ref = weakref.ref(h)
        s_ref = weakref.ref(s)
        node_ref = weakref.ref(y.grad_fn)
        del h, s, y
        assert h_ref() is not None, "graph should keep the saved intermediate alive"
        del loss
        assert h_ref() is None, "intermediate leaked after `del loss` (needs gc => a cycle)"
        assert s_ref() is None
        assert node_ref() is None, "graph node leaked after `del loss`"
    finally:
        gc.enable()
    assert x.grad is None


def test_graph_freed_after_backward_without_gc():
    x = tl.tensor(rand(4, 4), requires_grad=True)
    gc.disable()
    try:
        h = (x @ x).sigmoid()
        loss = (h * h).mean()
        h_ref = weakref.ref(h)
        node_ref = weakref.ref(loss.grad_fn)
        loss.backward()
        del h, loss
        assert h_ref() is None
        assert node_ref() is None
    finally:
        gc.enable()
    assert x.grad is not None


def test_leaf_is_not_kept_alive_by_its_own_grad():
    x = tl.tensor(rand(3), requires_grad=True)
    (x * x).sum().backward()
    gc.disable()
    try:
        ref = weakref.ref(x)
        del x
        assert ref() is None
    finally:
        gc.enable()


# --------------------------------------------------------------------------------------------
# backward() arguments and misuse
# --------------------------------------------------------------------------------------------


def test_non_scalar_backward_without_gradient_raises():
    x = tl.tensor(rand(3), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"(?i)scalar"):
        (x * 2.0).backward()


def test_backward_on_tensor_without_grad_raises():
    x = tl.tensor(rand(3))
    with pytest.raises(RuntimeError):
        x.sum().backward()


def test_backward_twice_without_retain_graph_raises():
    x = tl.tensor(rand(3), requires_grad=True)
    loss = (x * x).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match=r"(?i)retain_graph|second time|freed"):
        loss.backward()


def test_backward_twice_with_retain_graph_doubles_grad():
    x, xt = pair(rand(3))
    for v in (x, xt):
        loss = (v * v).sum()
        loss.backward(retain_graph=True)
        loss.backward(retain_graph=True)
        loss.backward()
    assert_matches(x.grad, xt.grad)
    np.testing.assert_allclose(to_np(x.grad), 6 * xt.detach().numpy(), rtol=1e-12)


def test_backward_without_create_graph_gives_plain_grad():
    x = tl.tensor(rand(3), requires_grad=True)
    (x * x * x).sum().backward()
    assert x.grad.requires_grad is False
    assert x.grad.grad_fn is None


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")
def test_backward_create_graph_then_differentiate_grad():
    x, xt = pair(rand(4))
    for v in (x, xt):
        (v**3).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    assert_matches(x.grad, xt.grad)
    (gg,) = tl.autograd.grad(x.grad.sum(), x)
    (ggt,) = torch.autograd.grad(xt.grad.sum(), xt)
    assert_matches(gg, ggt)
    np.testing.assert_allclose(to_np(gg), 6 * xt.detach().numpy(), rtol=1e-12)


# --------------------------------------------------------------------------------------------
# tl.autograd.grad
# --------------------------------------------------------------------------------------------


def test_grad_single_returns_tuple_and_leaves_dot_grad_alone():
    x, xt = pair(rand(3, 2))
    g = tl.autograd.grad((x.sin() * x).sum(), x)
    gt = torch.autograd.grad((xt.sin() * xt).sum(), xt)
    assert isinstance(g, tuple) and len(g) == 1
    assert_matches(g[0], gt[0])
    assert x.grad is None


def test_grad_does_not_touch_existing_dot_grad():
    x = tl.tensor(rand(3), requires_grad=True)
    (x * 5.0).sum().backward()
    before = to_np(x.grad).copy()
    tl.autograd.grad((x * x).sum(), [x])
    np.testing.assert_array_equal(to_np(x.grad), before)


def test_grad_multiple_outputs_and_inputs_with_grad_outputs():
    a, at = pair(rand(3, 4))
    b, bt = pair(rand(4, 2))
    g1, g2 = rand(3, 2), rand(3, 4)

    def outs(p, q):
        return [(p @ q).tanh(), p * p.exp()]

    ours = tl.autograd.grad(outs(a, b), [a, b], grad_outputs=[tl.tensor(g1), tl.tensor(g2)])
    ref = torch.autograd.grad(
        outs(at, bt), [at, bt], grad_outputs=[torch.tensor(g1), torch.tensor(g2)]
    )
    assert len(ours) == 2
    for o, r in zip(ours, ref):
        assert_matches(o, r)
    assert a.grad is None and b.grad is None


def test_grad_multiple_scalar_outputs_sum():
    x, xt = pair(rand(5))
    ours = tl.autograd.grad([(x * x).sum(), x.exp().mean()], [x])
    ref = torch.autograd.grad([(xt * xt).sum(), xt.exp().mean()], [xt])
    assert_matches(ours[0], ref[0])


def test_grad_wrt_non_leaf_inputs():
    x, xt = pair(rand(4))

    def graph(v):
        h = v.exp()
        k = h * h + h
        return h, k, (k.sin()).sum()

    h, k, y = graph(x)
    ht, kt, yt = graph(xt)
    ours = tl.autograd.grad(y, [h, x, k])
    ref = torch.autograd.grad(yt, [ht, xt, kt])
    for o, r in zip(ours, ref):
        assert_matches(o, r)
    assert x.grad is None


def test_grad_allow_unused():
    x, xt = pair(rand(3))
    z, zt = pair(rand(3))
    gx, gz = tl.autograd.grad((x * 2.0).sum(), [x, z], allow_unused=True)
    gxt, gzt = torch.autograd.grad((xt * 2.0).sum(), [xt, zt], allow_unused=True)
    assert gzt is None and gz is None
    assert_matches(gx, gxt)


def test_grad_unused_input_raises_without_allow_unused():
    x = tl.tensor(rand(3), requires_grad=True)
    z = tl.tensor(rand(3), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"(?i)allow_unused|not have been used|unused"):
        tl.autograd.grad((x * 2.0).sum(), [x, z])


def test_grad_without_retain_graph_frees_graph():
    x = tl.tensor(rand(3), requires_grad=True)
    y = (x * x).sum()
    tl.autograd.grad(y, [x])
    with pytest.raises(RuntimeError):
        tl.autograd.grad(y, [x])


def test_grad_with_retain_graph_can_repeat():
    x, xt = pair(rand(3))
    y = (x * x).sum()
    yt = (xt * xt).sum()
    first = tl.autograd.grad(y, [x], retain_graph=True)[0]
    second = tl.autograd.grad(y, [x])[0]
    ref = torch.autograd.grad(yt, [xt])[0]
    assert_matches(first, ref)
    assert_matches(second, ref)


def test_grad_non_scalar_output_without_grad_outputs_raises():
    x = tl.tensor(rand(3), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"(?i)scalar"):
        tl.autograd.grad(x * 2.0, [x])


# --------------------------------------------------------------------------------------------
# higher-order gradients
# --------------------------------------------------------------------------------------------


def nth_derivatives(lib, fn, x, n, direction):
    """[f', f'', ...]: each stage differentiates sum(previous * direction) (a scalar)."""
    out = []
    y = fn(x)
    for _ in range(n):
        scalar = y if y.ndim == 0 else (y * direction).sum()
        (g,) = lib.autograd.grad(scalar, x, create_graph=True)
        out.append(g)
        y = g
    return out


ELEMENTWISE_FNS = {
    "cube": lambda v: v**3,
    "sin_exp": lambda v: v.sin() * v.exp(),
    "tanh": lambda v: v.tanh(),
    "sigmoid_log": lambda v: (v.sigmoid() + 1.0).log(),
    "div_sqrt": lambda v: (v * v + 1.0).sqrt() / (v + 3.0),
}

CHAIN_FNS = {
    "sum_mean_reshape_getitem": lambda v: (v.reshape(3, 4)[1:, ::2] ** 3).mean() + v.sum() ** 2,
    "sum_dim_keepdim": lambda v: (
        (v.reshape(3, 4).sum(dim=1, keepdim=True) * v.reshape(3, 4)).exp().sum()
    ),
    "transpose_getitem_int": lambda v: (v.reshape(3, 4).T[2] * v.reshape(3, 4)[1, 1:]).tanh().sum(),
}


@pytest.mark.parametrize("name", sorted(ELEMENTWISE_FNS))
def test_first_second_third_derivative_elementwise(name):
    fn = ELEMENTWISE_FNS[name]
    x, xt = pair(rand(5, low=-1.2, high=1.2))
    direction = rand(5)
    ours = nth_derivatives(tl, fn, x, 3, tl.tensor(direction))
    ref = nth_derivatives(torch, fn, xt, 3, torch.tensor(direction))
    for o, r in zip(ours, ref):
        assert_matches(o, r, rtol=1e-7, atol=1e-9)


def test_cube_derivatives_by_hand():
    xs = rand(4, low=0.5, high=2.0)
    x = tl.tensor(xs, requires_grad=True)
    d1, d2, d3 = nth_derivatives(tl, lambda v: v**3, x, 3, tl.tensor(np.ones(4)))
    np.testing.assert_allclose(to_np(d1), 3 * xs**2, rtol=1e-12)
    np.testing.assert_allclose(to_np(d2), 6 * xs, rtol=1e-12)
    np.testing.assert_allclose(to_np(d3), np.full(4, 6.0), rtol=1e-12)


@pytest.mark.parametrize("name", sorted(CHAIN_FNS))
def test_higher_order_through_reductions_and_movement(name):
    fn = CHAIN_FNS[name]
    x, xt = pair(rand(12))
    direction = rand(12)
    ours = nth_derivatives(tl, fn, x, 3, tl.tensor(direction))
    ref = nth_derivatives(torch, fn, xt, 3, torch.tensor(direction))
    for o, r in zip(ours, ref):
        assert_matches(o, r)


def test_second_derivative_through_matmul():
    X = rand(5, 3)
    w, wt = pair(rand(3, 4))
    v = rand(3, 4)

    def f(lib, W):
        return ((lib.tensor(X) @ W).tanh() ** 2).sum()

    ours = nth_derivatives(tl, lambda W: f(tl, W), w, 2, tl.tensor(v))
    ref = nth_derivatives(torch, lambda W: f(torch, W), wt, 2, torch.tensor(v))
    for o, r in zip(ours, ref):
        assert_matches(o, r)


def test_hessian_vector_product_of_small_mlp():
    X, Y = rand(6, 4), rand(6, 3)
    shapes = [(4, 5), (5,), (5, 3), (3,)]
    values = [rand(*s) for s in shapes]
    vecs = [rand(*s) for s in shapes]

    def hvp(lib):
        params = [lib.tensor(v.copy(), requires_grad=True) for v in values]
        W1, b1, W2, b2 = params
        pred = (lib.tensor(X) @ W1 + b1).tanh() @ W2 + b2
        loss = ((pred - lib.tensor(Y)) ** 2).mean()
        grads = lib.autograd.grad(loss, params, create_graph=True)
        dot = sum((g * lib.tensor(v)).sum() for g, v in zip(grads, vecs))
        return grads, lib.autograd.grad(dot, params)

    grads, hv = hvp(tl)
    grads_t, hv_t = hvp(torch)
    for o, r in zip(grads, grads_t):
        assert_matches(o, r)
    for o, r in zip(hv, hv_t):
        assert_matches(o, r)


# --------------------------------------------------------------------------------------------
# retain_grad, hooks, detach, requires_grad_, is_leaf, grad_fn
# --------------------------------------------------------------------------------------------


def test_retain_grad_on_non_leaf():
    x, xt = pair(rand(3))
    hs = []
    for v in (x, xt):
        h = v * 2.0 + 1.0
        h.retain_grad()
        (h * h.sin()).sum().backward()
        hs.append(h)
    assert_matches(hs[0].grad, hs[1].grad)
    assert_matches(x.grad, xt.grad)


def test_non_leaf_grad_is_none_without_retain_grad():
    x = tl.tensor(rand(3), requires_grad=True)
    h = x * 2.0
    (h * h).sum().backward()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert h.grad is None


def test_hook_on_leaf_modifies_grad():
    x, xt = pair(rand(4))
    for v in (x, xt):
        v.register_hook(lambda g: g * 2.0)
        (v * v).sum().backward()
    assert_matches(x.grad, xt.grad)
    np.testing.assert_allclose(to_np(x.grad), 4 * xt.detach().numpy(), rtol=1e-12)


def test_hook_on_non_leaf_modifies_upstream_grad_and_observes():
    x, xt = pair(rand(4))
    seen = {}
    for name, v in (("tl", x), ("torch", xt)):
        h = v.exp()
        h.register_hook(lambda g, name=name: seen.__setitem__(name, g.detach().numpy().copy()))
        h.register_hook(lambda g: g * 3.0)
        (h * h).sum().backward()
    np.testing.assert_allclose(seen["tl"], seen["torch"], rtol=1e-12)
    assert_matches(x.grad, xt.grad)


def test_hook_handle_remove():
    x, xt = pair(rand(4))
    calls = {"tl": 0, "torch": 0}
    for name, v in (("tl", x), ("torch", xt)):

        def hook(g, name=name):
            calls[name] += 1
            return g * 10.0

        handle = v.register_hook(hook)
        (v * v).sum().backward()
        handle.remove()
        v.grad = None
        (v * v).sum().backward()
    assert calls == {"tl": 1, "torch": 1}
    assert_matches(x.grad, xt.grad)


def test_detach_shares_data_and_has_no_grad():
    x, xt = pair(rand(3))
    for v in (x, xt):
        d = v.detach()
        assert d.requires_grad is False
        assert d.grad_fn is None
        assert d.is_leaf
        d.fill_(3.0)  # like torch: the detached tensor is a view of the same storage
    np.testing.assert_array_equal(to_np(x), xt.detach().numpy())
    np.testing.assert_array_equal(to_np(x), np.full(3, 3.0))


def test_detach_blocks_gradient():
    x, xt = pair(rand(3))
    for v in (x, xt):
        y = v * 2.0
        (y.detach() * v).sum().backward()
    assert_matches(x.grad, xt.grad)
    np.testing.assert_allclose(to_np(x.grad), 2 * xt.detach().numpy(), rtol=1e-12)


def test_requires_grad_():
    x = tl.tensor(rand(3))
    assert x.requires_grad is False
    ret = x.requires_grad_()
    assert ret is x and x.requires_grad is True and x.is_leaf
    (x * x).sum().backward()
    np.testing.assert_allclose(to_np(x.grad), 2 * to_np(x), rtol=1e-12)
    x.requires_grad_(False)
    assert x.requires_grad is False


@pytest.mark.parametrize("data", [[1, 2, 3], [True, False]])
def test_only_floating_tensors_can_require_grad(data):
    with pytest.raises(RuntimeError, match=r"(?i)dtype|float"):
        tl.tensor(data, requires_grad=True)
    t = tl.tensor(data)
    with pytest.raises(RuntimeError, match=r"(?i)dtype|float"):
        t.requires_grad_()
    # torch agrees
    with pytest.raises(RuntimeError):
        torch.tensor(data, requires_grad=True)


def test_is_leaf_and_grad_fn():
    x = tl.tensor(rand(3), requires_grad=True)
    c = tl.tensor(rand(3))
    y = x * c
    assert x.is_leaf and x.grad_fn is None
    assert c.is_leaf and c.grad_fn is None
    assert not y.is_leaf and y.grad_fn is not None and y.requires_grad
    z = c * 2.0  # no input requires grad: a leaf without grad_fn, like torch
    assert z.is_leaf and z.grad_fn is None and not z.requires_grad


# --------------------------------------------------------------------------------------------
# no_grad / enable_grad
# --------------------------------------------------------------------------------------------


def test_no_grad_context_builds_no_graph():
    x = tl.tensor(rand(3), requires_grad=True)
    with tl.no_grad():
        y = (x * 2.0).exp() + x
    assert y.requires_grad is False
    assert y.grad_fn is None
    assert y.is_leaf
    z = x * 2.0  # grad mode restored
    assert z.requires_grad


def test_no_grad_and_enable_grad_nested():
    x = tl.tensor(rand(3), requires_grad=True)
    with tl.no_grad():
        with tl.enable_grad():
            a = x * 2.0
            with tl.no_grad():
                b = x * 2.0
            c = x * 2.0
        d = x * 2.0
    e = x * 2.0
    assert [t.requires_grad for t in (a, b, c, d, e)] == [True, False, True, False, True]
    a.sum().backward()
    np.testing.assert_allclose(to_np(x.grad), np.full(3, 2.0))


def test_no_grad_restored_after_exception():
    x = tl.tensor(rand(3), requires_grad=True)
    with pytest.raises(ValueError, match="boom"), tl.no_grad():
        raise ValueError("boom")
    assert (x * 2.0).requires_grad


def test_no_grad_and_enable_grad_as_decorators():
    x = tl.tensor(rand(3), requires_grad=True)

    @tl.enable_grad()
    def inner(t):
        return t * 3.0

    @tl.no_grad()
    def outer(t):
        return t * 2.0, inner(t)

    plain, with_grad = outer(x)
    assert plain.requires_grad is False
    assert with_grad.requires_grad is True
    assert (x * 1.0).requires_grad
    assert outer.__name__ == "outer"  # functools.wraps-like, as torch


# --------------------------------------------------------------------------------------------
# custom Functions
# --------------------------------------------------------------------------------------------


def make_scaled_cube(lib):
    class ScaledCube(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            ctx.save_for_backward(x)
            ctx.k = k
            return x * x * x * k

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * 3.0 * ctx.k * x * x, None  # written with differentiable ops

    return ScaledCube


def make_mul_add(lib):
    class MulAdd(lib.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return a * b, a + b

        @staticmethod
        def backward(ctx, g_prod, g_sum):
            a, b = ctx.saved_tensors
            return g_prod * b + g_sum, g_prod * a + g_sum

    return MulAdd


def test_custom_function_forward_backward():
    x, xt = pair(rand(4))
    y = make_scaled_cube(tl).apply(x, 3)
    yt = make_scaled_cube(torch).apply(xt, 3)
    assert_matches(y, yt)
    assert y.requires_grad and y.grad_fn is not None and not y.is_leaf
    (y * y.sin()).sum().backward()
    (yt * yt.sin()).sum().backward()
    assert_matches(x.grad, xt.grad)


def test_custom_function_under_no_grad_builds_no_graph():
    x = tl.tensor(rand(4), requires_grad=True)
    with tl.no_grad():
        y = make_scaled_cube(tl).apply(x, 2)
    assert y.requires_grad is False and y.grad_fn is None


def test_custom_function_multi_output():
    a, at = pair(rand(3))
    b, bt = pair(rand(3))
    p, s = make_mul_add(tl).apply(a, b)
    pt, st = make_mul_add(torch).apply(at, bt)
    assert_matches(p, pt)
    assert_matches(s, st)
    (p.exp() + s * s).sum().backward()
    (pt.exp() + st * st).sum().backward()
    assert_matches(a.grad, at.grad)
    assert_matches(b.grad, bt.grad)


def test_custom_function_multi_output_only_one_used():
    # torch hands zeros to backward for the unused output
    a, at = pair(rand(3))
    b, bt = pair(rand(3))
    p, _ = make_mul_add(tl).apply(a, b)
    pt, _ = make_mul_add(torch).apply(at, bt)
    p.sum().backward()
    pt.sum().backward()
    assert_matches(a.grad, at.grad)
    assert_matches(b.grad, bt.grad)


def test_custom_function_double_backward():
    x, xt = pair(rand(4))
    direction = rand(4)
    ours = nth_derivatives(
        tl, lambda v: make_scaled_cube(tl).apply(v, 2.0), x, 2, tl.tensor(direction)
    )
    ref = nth_derivatives(
        torch, lambda v: make_scaled_cube(torch).apply(v, 2.0), xt, 2, torch.tensor(direction)
    )
    for o, r in zip(ours, ref):
        assert_matches(o, r)
    # by hand: d/dx sum(6 x^2 d * d) = 12 x d^2
    np.testing.assert_allclose(to_np(ours[1]), 12 * xt.detach().numpy() * direction**2, rtol=1e-12)


def make_bad_backward(lib, mode):
    class Bad(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2.0

        @staticmethod
        def backward(ctx, grad):
            if mode == "too_many":
                return grad * 2.0, grad
            return grad.sum()  # wrong shape

    return Bad


@pytest.mark.parametrize("mode", ["too_many", "wrong_shape"])
def test_custom_function_bad_backward_raises_like_torch(mode):
    xt = torch.tensor(rand(3), requires_grad=True)
    with pytest.raises(RuntimeError):
        make_bad_backward(torch, mode).apply(xt).sum().backward()
    x = tl.tensor(rand(3), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"(?i)gradient"):
        make_bad_backward(tl, mode).apply(x).sum().backward()


# --------------------------------------------------------------------------------------------
# version counter / in-place
# --------------------------------------------------------------------------------------------


def test_inplace_on_saved_leaf_then_backward_raises():
    x = tl.tensor(rand(3), requires_grad=True)
    w = tl.tensor(rand(3), requires_grad=True)
    y = x * w  # saves x and w
    with tl.no_grad():
        w.add_(1.0)
    with pytest.raises(RuntimeError, match=r"(?i)in-?place|modified|version"):
        y.sum().backward()


def test_inplace_on_saved_output_then_backward_raises():
    x = tl.tensor(rand(3), requires_grad=True)
    a = x.exp()  # exp saves its output
    a.mul_(2.0)
    with pytest.raises(RuntimeError, match=r"(?i)in-?place|modified|version"):
        a.sum().backward()


def test_inplace_on_saved_intermediate_then_backward_raises():
    x = tl.tensor(rand(3), requires_grad=True)
    y = x * 2.0
    z = y * y  # saves y
    y.add_(1.0)
    with pytest.raises(RuntimeError, match=r"(?i)in-?place|modified|version"):
        z.sum().backward()


def test_inplace_on_leaf_requiring_grad_raises_in_grad_mode():
    x = tl.tensor(rand(3), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"(?i)leaf|in-?place"):
        x.add_(1.0)
    with pytest.raises(RuntimeError):
        x += 1.0


def test_inplace_on_leaf_under_no_grad_is_allowed():
    x, xt = pair(rand(3))
    for v in (x, xt):
        (v * v).sum().backward()
        with lib_of(v).no_grad():
            v.sub_(v.grad * 0.1)  # an SGD step
    assert_matches(x, xt)
    assert x.requires_grad and x.is_leaf


@pytest.mark.parametrize("op", ["add_", "mul_", "sub_", "div_", "iadd", "imul"])
def test_inplace_on_non_leaf_not_needed_by_backward(op):
    x, xt = pair(rand(3))
    for v in (x, xt):
        y = v * 2.0
        if op == "iadd":
            y += 1.5
        elif op == "imul":
            y *= 1.5
        else:
            getattr(y, op)(1.5)
        (y * v).sum().backward()
    assert_matches(x.grad, xt.grad)


VIEWS = {
    "reshape": lambda y: y.reshape(2, 2),
    "slice": lambda y: y[1:3],
    "transpose": lambda y: y.reshape(2, 2).T,
}


@pytest.mark.parametrize("view", sorted(VIEWS))
def test_saved_output_modified_through_a_view_never_gives_wrong_grad(view):
    # torch raises at backward (version counter shared by views); raising at the in-place op
    # is also safe. What must never happen is a silently wrong gradient.
    x = tl.tensor(rand(4), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"(?i)in-?place|modified|version|view"):
        y = x.exp()
        VIEWS[view](y).mul_(2.0)
        y.sum().backward()


def test_saved_view_of_leaf_then_leaf_modified_raises():
    x = tl.tensor(rand(2, 2), requires_grad=True)
    w = tl.tensor(rand(2, 2), requires_grad=True)
    y = x @ w.T  # saves a view of w
    with tl.no_grad():
        w.add_(1.0)
    with pytest.raises(RuntimeError, match=r"(?i)in-?place|modified|version"):
        y.sum().backward()


def test_base_modified_after_its_view_was_saved_raises():
    x = tl.tensor(rand(3), requires_grad=True)
    y = x * 1.0
    v = y[0:2]
    z = v * v  # saves the view
    y.add_(10.0)
    with pytest.raises(RuntimeError, match=r"(?i)in-?place|modified|version"):
        z.sum().backward()


def test_detach_shares_the_version_counter():
    x = tl.tensor(rand(2), requires_grad=True)
    y = x * x  # saves x
    x.detach().add_(1.0)  # modifies x's data behind autograd's back
    with pytest.raises(RuntimeError, match=r"(?i)in-?place|modified|version"):
        y.sum().backward()


def test_inplace_mul_by_itself_on_non_leaf_raises():
    # y.mul_(y) needs the old y for backward; torch raises instead of using the new value
    x = tl.tensor(rand(2), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"(?i)in-?place|modified|version"):
        y = x * 1.0
        y.mul_(y)
        y.sum().backward()


def test_inplace_with_tensor_argument_on_non_leaf():
    x, xt = pair(rand(3))
    b, bt = pair(rand(3))
    for v, w in ((x, b), (xt, bt)):
        y = v.exp()
        y = y * 1.0  # a fresh non-leaf that nothing saved
        y.add_(w, alpha=2.0)
        (y * y).sum().backward()
    assert_matches(x.grad, xt.grad)
    assert_matches(b.grad, bt.grad)


# --------------------------------------------------------------------------------------------
# dtypes of gradients
# --------------------------------------------------------------------------------------------


def test_float32_grads_stay_float32():
    x = tl.tensor(rand(4, 3, dtype=np.float32), requires_grad=True)
    w = tl.tensor(rand(3, 2, dtype=np.float32), requires_grad=True)
    y = ((x @ w).tanh().sigmoid() * 2.5 + 1.0).exp().mean()
    assert y.dtype == tl.float32
    y.backward()
    assert x.grad.dtype == tl.float32 and w.grad.dtype == tl.float32
    assert to_np(x.grad).dtype == np.float32


def test_float32_stays_float32_with_python_and_numpy_scalars():
    x = tl.tensor(rand(3, dtype=np.float32), requires_grad=True)
    y = x * 2.5 + np.float64(1.0) - 3
    assert y.dtype == tl.float32  # torch: scalars don't promote float32
    y.sum().backward()
    assert x.grad.dtype == tl.float32


def test_mixed_float32_float64_grad_dtypes_like_torch():
    a32 = rand(3, dtype=np.float32)
    b64 = rand(3)
    x, xt = pair(a32)
    y, yt = pair(b64)
    r = x * y
    rt = xt * yt
    assert rt.dtype == torch.float64 and r.dtype == tl.float64
    r.sum().backward()
    rt.sum().backward()
    assert xt.grad.dtype == torch.float32 and x.grad.dtype == tl.float32
    assert yt.grad.dtype == torch.float64 and y.grad.dtype == tl.float64
    assert_matches(x.grad, xt.grad, rtol=1e-6)
    assert_matches(y.grad, yt.grad, rtol=1e-6)


def test_cast_to_double_and_back_grad_is_float32():
    x, xt = pair(rand(3, dtype=np.float32))
    for v in (x, xt):
        (v.double() ** 2).sum().backward()
    assert x.grad.dtype == tl.float32
    assert_matches(x.grad, xt.grad, rtol=1e-6)


def test_custom_function_mark_non_differentiable_like_torch():
    """An output marked non-differentiable does not require grad; the other still flows."""

    def make(lib):
        class TwoOut(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                doubled, tripled = x * 2, x * 3
                ctx.mark_non_differentiable(tripled)
                return doubled, tripled

            @staticmethod
            def backward(ctx, g_doubled, g_tripled):
                return g_doubled * 2

        return TwoOut

    x_np = np.array([1.0, -2.0, 3.0])
    results = []
    for lib in (tl, torch):
        x = lib.tensor(x_np, requires_grad=True)
        doubled, tripled = make(lib).apply(x)
        (doubled * tripled.detach()).sum().backward()
        results.append((doubled.requires_grad, tripled.requires_grad, x.grad.detach().numpy()))
    assert results[0][:2] == results[1][:2] == (True, False)
    np.testing.assert_allclose(results[0][2], results[1][2])


def test_backward_frees_intermediates_of_a_kept_loss():
    """After backward (no retain_graph) a kept ``loss`` no longer pins the activations, as in
    torch, whose nodes free their saved tensors; a second backward still errors cleanly."""
    gc.disable()
    try:
        x = tl.randn(10_000, requires_grad=True)  # tiny inputs are kept (cheaper than not)
        h = x * 2
        alive = weakref.ref(h)
        loss = (h.exp() + h).sum()
        del h
        loss.backward()
        assert alive() is None
        with pytest.raises(RuntimeError, match="second time"):
            loss.backward()
    finally:
        gc.enable()
