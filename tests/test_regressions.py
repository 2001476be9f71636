"""Differences from torch found by differential probing; each case runs the same code in both
libraries and compares values, dtypes, shapes and gradients."""

import numpy as np
import pytest
import torch

import tinygrad_lite as tl


def both(fn):
    """fn(lib) in tinygrad_lite and torch, results as NumPy arrays (tuples stay tuples)."""
    def to_np(x):
        if isinstance(x, (tuple, list)):
            return tuple(to_np(v) for v in x)
        if x is None:
            return None
        return x.detach().numpy() if hasattr(x, "detach") else np.asarray(x)
    return to_np(fn(tl)), to_np(fn(torch))


def assert_same(ours, ref):
    if isinstance(ref, tuple):
        assert isinstance(ours, tuple) and len(ours) == len(ref)
        for o, r in zip(ours, ref):
            assert_same(o, r)
        return
    assert ours.shape == ref.shape and ours.dtype == ref.dtype, (ours, ref)
    np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-6)


def _setitem_int_slice_tensor(lib):
    t = lib.zeros(2, 3, 3)
    t[0, :, lib.tensor([0, 1, 2])] = lib.arange(9.0).reshape(3, 3)
    u = lib.zeros(2, 3, 3)
    u[0, :, lib.tensor([0, 1])] = lib.arange(6.0).reshape(3, 2)
    return t, u


def _ellipsis_between_indices(lib):
    t = lib.arange(24.0).reshape(2, 3, 4)
    return t[:, lib.tensor([0, 1]), ..., lib.tensor([1, 2])]


def _bool_scalar_with_int(lib):
    t = lib.arange(6.0).reshape(2, 3)
    return t[False, 0], t[lib.tensor(True), 1]


def _fill_on_nonleaf_keeps_graph(lib):
    a = lib.ones(2, requires_grad=True)
    b = a * 2
    b.zero_()
    c = a * 3
    c.fill_(5.0)
    (b * 3 + c).sum().backward()
    return a.grad, lib.tensor(float(b.requires_grad))


def _copy_constant_into_nonleaf(lib):
    a = lib.ones(3, requires_grad=True)
    b = a * 2
    b.copy_(lib.tensor([1.0, 2.0, 3.0]))
    (b * a).sum().backward()
    return a.grad


def _masked_fill_int_with_float(lib):
    return lib.tensor([1, 2, 3]).masked_fill(lib.tensor([True, False, True]), 2.7)


def _create_graph_grads_are_separate(lib):
    a, b = lib.ones(2, requires_grad=True), lib.ones(2, requires_grad=True)
    g = lib.ones(2)
    (a + b).backward(g, create_graph=True)
    with lib.no_grad():
        a.grad.mul_(5)
    return a.grad, b.grad, g


def _div_rounding_modes_have_zero_grad(lib):
    x = lib.tensor([1.0, 2.0, -3.5], requires_grad=True)
    y = lib.tensor([0.5, 3.0, 2.0], requires_grad=True)
    (x.div(y, rounding_mode="trunc") + x.div(2.0, rounding_mode="floor")).sum().backward()
    return x.grad, y.grad, x.div(y, rounding_mode="trunc"), x.div(y, rounding_mode="floor")


def _chunk_empty_dim(lib):
    return tuple(lib.zeros(0, 4).chunk(3, 0))


def _to_copy_is_independent(lib):
    t = lib.ones(2)
    u = t.to(lib.float32, copy=True)
    u.add_(1)
    return t, u


def _dtype_inference(lib):
    return (lib.full((2,), np.int64(3)), lib.arange(np.int64(3)),
            lib.arange(lib.tensor(3)))


def _reshape_copy_is_not_a_view(lib):
    a = lib.ones(2, 3, requires_grad=True)
    b = a.exp()
    v = b.t().reshape(-1)
    with lib.no_grad():
        v.add_(1)
    b.sum().backward()
    return a.grad


def _custom_function_broadcast_grad(lib):
    class Expand(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return (g * 2).expand(2, *g.shape)  # torch sums it back to the input's shape

    x = lib.ones(2, 3, requires_grad=True)
    Expand.apply(x).sum().backward()
    return x.grad


@pytest.mark.parametrize("lib_call", [
    lambda lib: lib.arange(4.0).index_select(0, lib.tensor([-1])),
    lambda lib: lib.tensor(1.0).size(0),
])
def test_errors_like_torch(lib_call):
    with pytest.raises((IndexError, RuntimeError)):
        lib_call(torch)
    with pytest.raises((IndexError, RuntimeError, ValueError)):
        lib_call(tl)


def test_inplace_with_grad_into_view_of_plain_tensor_raises():
    """torch tracks this through the base (CopySlices); we refuse rather than drop the gradient."""
    w = tl.ones(3, requires_grad=True)
    buf = tl.zeros(2, 3)
    with pytest.raises(RuntimeError, match="view"):
        buf[1].copy_(w * 2)


def _nan_rules(lib):
    nan = float("nan")
    x = lib.tensor([[1.0, nan], [2.0, 3.0]], requires_grad=True)
    x.amax(1).sum().backward()
    g_amax = x.grad
    y = lib.tensor([1.0, nan, nan], requires_grad=True)
    y.max().backward()
    z = lib.tensor([nan, -1.0, 2.0], requires_grad=True)
    (z.abs() + z.relu()).sum().backward()
    return g_amax, y.grad, z.grad, lib.tensor([nan, -2.0, 0.0]).sign()


def _pads_crop_before_wrapping(lib):
    x = lib.arange(5.0).reshape(1, 1, 5)
    pad = lib.nn.functional.pad
    return (pad(x, (-1, 1), mode="circular"), pad(x, (-1, 2), mode="reflect"),
            pad(x, (-1, 2), mode="replicate"))


def _edge_shapes(lib):
    return (lib.tensor([True, False]).sign(), lib.tensor(1.0).flip(0),
            lib.ones(1, 2).all(dim=()), lib.ones(1, 2).any(dim=()))


CASES = {f.__name__.strip("_"): f for f in [
    _setitem_int_slice_tensor, _ellipsis_between_indices, _bool_scalar_with_int,
    _fill_on_nonleaf_keeps_graph, _copy_constant_into_nonleaf, _masked_fill_int_with_float,
    _create_graph_grads_are_separate, _div_rounding_modes_have_zero_grad, _chunk_empty_dim,
    _to_copy_is_independent, _dtype_inference, _reshape_copy_is_not_a_view,
    _custom_function_broadcast_grad, _nan_rules, _pads_crop_before_wrapping, _edge_shapes]}


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_torch(name):
    ours, ref = both(CASES[name])
    assert_same(ours, ref)
