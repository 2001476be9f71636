"""tl.nn.utils against torch.nn.utils: gradient clipping by norm (several norm types and
max_norm values, non-finite gradients) and by value, and flat parameter vectors."""

import math

import numpy as np
import pytest
import torch

import tinygrad_lite as tl
import tinygrad_lite.nn as nn
from tinygrad_lite.testing import assert_close


def build(lib):
    """A small model with a tied weight, written once for ``lib`` = tinygrad_lite or torch."""
    model = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.Tanh(), lib.nn.Linear(4, 4),
                              lib.nn.LayerNorm(4), lib.nn.Linear(4, 4, bias=False))
    model[4].weight = model[2].weight
    return model


def copy_params(ours, ref):
    theirs = dict(ref.named_parameters())
    for name, p in ours.named_parameters():
        p._data[...] = theirs[name].detach().numpy()
        p._vc[0] += 1


def _grads_pair(seed=0, scale=1.0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    shapes = [(3, 4), (4,), (2, 2, 2)]
    grads = [(rng.standard_normal(s) * scale).astype(dtype) for s in shapes]
    ours = [nn.Parameter(tl.zeros(*s, dtype=tl.dtypes.from_numpy_dtype(np.dtype(dtype))))
            for s in shapes]
    theirs = [torch.nn.Parameter(torch.zeros(s, dtype=getattr(torch, np.dtype(dtype).name)))
              for s in shapes]
    for p, pt, g in zip(ours, theirs, grads):
        p.grad = tl.tensor(g)
        pt.grad = torch.tensor(g)
    return ours, theirs


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("norm_type", [2, 1, math.inf, 3, 2.5])
@pytest.mark.parametrize("max_norm", [0.1, 1.0, 100.0])
def test_clip_grad_norm(dtype, norm_type, max_norm):
    ours, theirs = _grads_pair(dtype=dtype)
    total = nn.utils.clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    total_t = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert_close(total, total_t)
    for p, pt in zip(ours, theirs):
        assert_close(p.grad, pt.grad)


def test_clip_grad_norm_edge_cases():
    ours, theirs = _grads_pair()
    # a single tensor and a generator are accepted
    assert_close(nn.utils.clip_grad_norm_(ours[0], 0.5),
                 torch.nn.utils.clip_grad_norm_(theirs[0], 0.5))
    assert_close(nn.utils.clip_grad_norm_(iter(ours), 0.5),
                 torch.nn.utils.clip_grad_norm_(iter(theirs), 0.5))
    assert_close(nn.utils.clip_grad_norm_([nn.Parameter(tl.zeros(2))], 1.0),
                 torch.nn.utils.clip_grad_norm_([torch.nn.Parameter(torch.zeros(2))], 1.0))
    for value in (math.inf, math.nan):
        ours, theirs = _grads_pair()
        ours[1].grad._data[0] = value
        theirs[1].grad[0] = value
        with pytest.raises(RuntimeError, match="non-finite"):
            nn.utils.clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
        with pytest.raises(RuntimeError, match="non-finite"):
            torch.nn.utils.clip_grad_norm_(theirs, 1.0, error_if_nonfinite=True)
        total = nn.utils.clip_grad_norm_(ours, 1.0)
        total_t = torch.nn.utils.clip_grad_norm_(theirs, 1.0)
        assert_close(total, total_t, equal_nan=True)
        for p, pt in zip(ours, theirs):
            assert_close(p.grad, pt.grad, equal_nan=True)


@pytest.mark.parametrize("clip_value", [0.01, 0.5, 10])
def test_clip_grad_value(clip_value):
    ours, theirs = _grads_pair(seed=1)
    assert nn.utils.clip_grad_value_(ours, clip_value) is None
    torch.nn.utils.clip_grad_value_(theirs, clip_value)
    for p, pt in zip(ours, theirs):
        assert_close(p.grad, pt.grad)


def test_parameters_vector_round_trip():
    ours, ref = build(tl), build(torch)
    copy_params(ours, ref)
    vec = nn.utils.parameters_to_vector(ours.parameters())
    vec_t = torch.nn.utils.parameters_to_vector(ref.parameters())
    assert_close(vec, vec_t.detach())
    vec.sum().backward()  # differentiable, as torch
    vec_t.sum().backward()
    assert_close(ours[2].weight.grad, ref[2].weight.grad)
    new = np.random.default_rng(0).standard_normal(vec_t.numel()).astype(np.float32)
    nn.utils.vector_to_parameters(tl.tensor(new), ours.parameters())
    torch.nn.utils.vector_to_parameters(torch.tensor(new), ref.parameters())
    theirs = dict(ref.named_parameters())
    for name, p in ours.named_parameters():
        assert_close(p, theirs[name].detach())
    with pytest.raises(ValueError, match=f"vector_to_parameters.*{vec_t.numel()}.*\\(3,\\)"):
        nn.utils.vector_to_parameters(tl.zeros(3), ours.parameters())
    with pytest.raises(TypeError, match="vector_to_parameters.*ndarray"):
        nn.utils.vector_to_parameters(new, ours.parameters())


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf])
def test_clip_grad_norm_mixed_dtypes_promote_the_total_like_torch(norm_type):
    g16, g64 = np.array([3.0, -1.0, 2.0]), np.array([0.5, 4.0])
    ours = [nn.Parameter(tl.zeros(3, dtype=tl.float16)),
            nn.Parameter(tl.zeros(2, dtype=tl.float64))]
    theirs = [torch.nn.Parameter(torch.zeros(3, dtype=torch.float16)),
              torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))]
    for p, pt, g in zip(ours, theirs, (g16, g64)):
        p.grad = tl.tensor(g.astype(p.dtype.np))
        pt.grad = torch.tensor(g, dtype=pt.dtype)
    total = nn.utils.clip_grad_norm_(ours, 1.0, norm_type=norm_type)
    total_t = torch.nn.utils.clip_grad_norm_(theirs, 1.0, norm_type=norm_type)
    assert total.dtype is tl.float64
    assert_close(total, total_t)
    for p, pt in zip(ours, theirs):
        assert_close(p.grad, pt.grad)
