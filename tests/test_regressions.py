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
    lambda lib: lib.tensor([[1, 2], [3]]),
    lambda lib: lib.eye(-1),
    lambda lib: setattr(lib.ones(2, requires_grad=True), "grad", lib.ones(3)),
    lambda lib: setattr(lib.ones(2, requires_grad=True), "grad", lib.ones(2, dtype=lib.float64)),
    lambda lib: lib.zeros(2, requires_grad=True).sum(dtype=lib.int64),
    lambda lib: lib.ones(2, 3).T.view_as(lib.ones(6)),
])
def test_errors_like_torch(lib_call):
    with pytest.raises((IndexError, RuntimeError, ValueError, TypeError)):
        lib_call(torch)
    with pytest.raises((IndexError, RuntimeError, ValueError, TypeError)):
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


def _float16_reductions_accumulate_wide(lib):
    h = lib.float16
    return (lib.tensor([60000.0, 60000.0], dtype=h).mean(),
            lib.full((5000,), 300.0, dtype=h).var(),
            lib.tensor([200.0, 200.0, 200.0], dtype=h).norm(),
            lib.tensor([300.0, 300.0], dtype=h).norm(p=3))


def _integer_dtype_arguments(lib):
    x = lib.tensor([[1, 2], [3, 4]])
    return (x.sum(0, dtype=lib.int32), x.prod(dtype=lib.int32), x.cumsum(0, dtype=lib.int32),
            x.sum(dtype=lib.float64))


def _var_with_large_correction(lib):
    x = lib.tensor([1.0, 2.0, 3.0])
    return x.var(correction=4), x.std(correction=5)


def _custom_function_protocol(lib):
    seen = []

    class Op(lib.autograd.Function):
        @staticmethod
        def forward(ctx, a, b, k):
            seen.append(tuple(ctx.needs_input_grad))
            return a * b * k, None

        @staticmethod
        def backward(ctx, g, g_none):
            return g * 2, None, None, None  # a surplus trailing None is accepted

    a = lib.tensor([1.0, 2.0], requires_grad=True)
    out, nothing = Op.apply(a, lib.tensor([3.0, 4.0]), 5)
    out.sum().backward()
    return a.grad, lib.tensor([float(v) for v in seen[0]]), lib.tensor(float(nothing is None))


def _grad_mode_helpers(lib):
    x = lib.ones(2, requires_grad=True)

    @lib.no_grad
    def doubled(t):
        return t * 2

    with lib.set_grad_enabled(False):
        inside = (x * 2).requires_grad
    return lib.tensor([float(doubled(x).requires_grad), float(inside),
                       float((x * 2).requires_grad)])


def _api_forms(lib):
    t = lib.arange(6.0).reshape(2, 3)
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = lib.tensor([3.0, 4.0], requires_grad=True)
    (x * y).sum().backward(inputs=[x])
    data = x.data
    data[0] = 7.0
    return (t.flip(0, 1), lib.zeros(size=(2, 3)), lib.arange(end=4), x.grad,
            lib.tensor(float(y.grad is None)), x.detach(),
            lib.tensor([float(3 in lib.tensor([[1, 2], [3, 4]])),
                        float(9 in lib.tensor([[1, 2], [3, 4]]))]))


def _flip_is_a_copy(lib):
    x = lib.tensor([1.0, 2.0, 3.0])
    y = x.flip(0)
    y[0] = 100.0
    return x, y


def _scalar_index_is_a_view(lib):
    x = lib.tensor([1.0, 2.0])
    with lib.no_grad():
        x[0].fill_(5.0)
        x[1].add_(10.0)
    return x


def _integer_trunc_division_is_exact(lib):
    a = lib.tensor([2 ** 62 + 1, -7, 7, -8])
    b = lib.tensor([1, 2, -2, 3])
    return a.div(b, rounding_mode="trunc"), a.div(b, rounding_mode="floor")


def _root_gradient_of_another_dtype(lib):
    x = lib.ones(3, requires_grad=True)
    (x * 2).backward(lib.ones(3, dtype=lib.float64))
    return x.grad


def _list_of_float64_tensors(lib):
    t = lib.tensor(1.5, dtype=lib.float64)
    return lib.tensor([t, t]), lib.tensor([np.float64(1.0), 2])


def _saved_output_of_one_tuple_function(lib):
    class One(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            out = x * 2
            ctx.save_for_backward(out)
            return (out,)

        @staticmethod
        def backward(ctx, g):
            (out,) = ctx.saved_tensors
            return g * out

    x = lib.tensor([1.0, 2.0], requires_grad=True)
    (y,) = One.apply(x)
    y.sum().backward()
    return x.grad


def _repeat_copies_and_view_as_views(lib):
    x = lib.ones(2, 3)
    y = x.repeat(1, 1)
    y[0, 0] = 5.0
    z = lib.arange(6.0).view_as(lib.ones(3, 2))
    return x, y, z


CASES = {f.__name__.strip("_"): f for f in [
    _setitem_int_slice_tensor, _ellipsis_between_indices, _bool_scalar_with_int,
    _fill_on_nonleaf_keeps_graph, _copy_constant_into_nonleaf, _masked_fill_int_with_float,
    _create_graph_grads_are_separate, _div_rounding_modes_have_zero_grad, _chunk_empty_dim,
    _to_copy_is_independent, _dtype_inference, _reshape_copy_is_not_a_view,
    _custom_function_broadcast_grad, _nan_rules, _pads_crop_before_wrapping, _edge_shapes,
    _float16_reductions_accumulate_wide, _integer_dtype_arguments, _var_with_large_correction,
    _custom_function_protocol, _grad_mode_helpers, _api_forms, _flip_is_a_copy,
    _scalar_index_is_a_view, _integer_trunc_division_is_exact, _root_gradient_of_another_dtype,
    _list_of_float64_tensors, _saved_output_of_one_tuple_function,
    _repeat_copies_and_view_as_views]}


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_torch(name):
    ours, ref = both(CASES[name])
    assert_same(ours, ref)


def test_index_select_message_names_the_index():
    with pytest.raises(IndexError, match="index 3 is out of range"):
        tl.zeros(2, 3).index_select(0, tl.tensor([3]))


@pytest.mark.parametrize("lib", [tl, torch], ids=["tl", "torch"])
@pytest.mark.parametrize("change", ["gather index", "where condition"])
def test_changing_an_index_or_mask_before_backward_refuses(lib, change):
    x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
    if change == "gather index":
        index = lib.tensor([0, 1, 1])
        y = x.gather(0, index)
        index.fill_(2)
    else:
        cond = lib.tensor([True, False, True])
        y = lib.where(cond, x * 2, x)
        cond.fill_(False)
    with pytest.raises(RuntimeError, match="in-place|inplace"):
        y.sum().backward()


def test_getitem_keeps_its_own_copy_of_tensor_indices():
    x = tl.tensor([1.0, 2.0, 3.0], requires_grad=True)
    index = tl.tensor([0, 2])
    y = x[index]
    index.fill_(1)
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 0.0, 1.0]
