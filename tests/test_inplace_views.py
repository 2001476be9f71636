"""In-place ops through views and ``x[i] = v`` inside the graph, against torch.

A write through a view rewrites the base's history (torch's CopySlices); views taken before the
write re-derive their history from the base when used afterwards.
"""

import numpy as np
import pytest
import torch

import tinygrad_lite as tl
from tinygrad_lite.testing import gradcheck, gradgradcheck

A = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
W = np.array([[1.0, -2.0, 3.0], [0.5, 5.0, -6.0]])


def run(lib, body):
    """body(lib, a) -> output; returns output values and a's gradient for weights W."""
    a = lib.tensor(A.copy(), requires_grad=True)
    out = body(lib, a)
    (out * lib.tensor(W)).sum().backward()
    return out.detach().numpy(), a.grad.numpy()


def _slice_mul(lib, a):
    b = a * 1
    b[0].mul_(lib.tensor([2.0, 3.0, 4.0]))
    return b


def _chain_of_views(lib, a):
    b = a * 2 + 1
    b.reshape(-1)[2:4].add_(1)
    b.t()[1].mul_(3)
    return b


def _stale_view_used_after_write(lib, a):
    b = a * 2
    row = b[1]  # taken before the write below
    b.mul_(b.detach() + 1)
    return row.unsqueeze(0).expand(2, 3) + b


def _setitem_values(lib, a):
    b = a * 1
    b[0, 1:] = a[1, :2] ** 2
    b[1] = 7.0
    b[:, 0] = lib.tensor([0.5, -0.5])
    return b


def _setitem_into_plain_buffer(lib, a):
    buf = lib.zeros(3, 3)
    buf[1:] = a * 3
    return buf[1:] + buf[0]


@pytest.mark.parametrize("body", [_slice_mul, _chain_of_views, _stale_view_used_after_write,
                                  _setitem_values, _setitem_into_plain_buffer],
                         ids=lambda f: f.__name__.strip("_"))
def test_matches_torch(body):
    ours, ref = run(tl, body), run(torch, body)
    np.testing.assert_allclose(ours[0], ref[0], rtol=1e-12)
    np.testing.assert_allclose(ours[1], ref[1], rtol=1e-12)


def test_write_through_view_differentiates_twice():
    def f(a):
        b = a * a
        b[0].mul_(a[1])
        return b

    a = tl.tensor(A.copy(), requires_grad=True)
    assert gradcheck(f, (a,))
    assert gradgradcheck(f, (a,))


@pytest.mark.parametrize("lib", [tl, torch], ids=["tl", "torch"])
def test_view_of_leaf_that_requires_grad_refuses(lib):
    a = lib.tensor(A.copy(), requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        a[0].add_(1)


def test_refusals_with_clear_messages():
    a = tl.tensor(A.copy(), requires_grad=True)
    b = a * 1
    with pytest.raises(RuntimeError, match="setitem"):
        b[tl.tensor([0, 1])] = 1.0  # advanced-index assignment in the graph
    with pytest.raises(RuntimeError, match="expanded"):
        (a * 1)[0].expand(2, 3).add_(1)


@pytest.mark.parametrize("lib", [tl, torch], ids=["tl", "torch"])
def test_write_into_a_saved_output_through_a_view_refuses(lib):
    a = lib.tensor(A.copy(), requires_grad=True)
    b = a.exp()  # exp saves its output for backward
    b.reshape(-1)[2:4].add_(1)
    with pytest.raises(RuntimeError, match="in-place|inplace"):
        b.sum().backward()
