"""Default initialisation and tl.nn.init against torch: for each initialiser, a large tensor is
filled by ours and by torch's and the bounds / moments are compared (the reference numbers come
from torch's samples, never from our formulas); calculate_gain against torch's table; fan
errors; seeding."""

import math

import numpy as np
import pytest
import torch

import tinygrad_lite as tl
import tinygrad_lite.nn as nn
from tinygrad_lite.testing import assert_close

BIG = (400, 250)  # 100k samples: sample std / variance within ~1% of the truth
CONV = (64, 32, 5, 5)  # receptive field 25: fan_in 800, fan_out 1600


def samples(fn_name, shape, *args, **kwargs):
    """The same initialiser applied to a fresh tensor in both frameworks, as numpy arrays."""
    tl.manual_seed(0)
    torch.manual_seed(0)
    ours = tl.empty(*shape)
    theirs = torch.empty(shape)
    out = getattr(nn.init, fn_name)(ours, *args, **kwargs)
    getattr(torch.nn.init, fn_name)(theirs, *args, **kwargs)
    assert out is ours and ours.dtype is tl.float32
    return ours.numpy().astype(np.float64), theirs.numpy().astype(np.float64)


def assert_same_uniform(ours, theirs):
    """Both fill U(-b, b) for the same b: extremes within 1% of the range, moments close."""
    width = theirs.max() - theirs.min()
    assert ours.min() >= theirs.min() - 0.01 * width and ours.max() <= theirs.max() + 0.01 * width
    assert ours.max() - ours.min() > 0.98 * width
    assert abs(ours.mean() - theirs.mean()) < 0.02 * width
    assert ours.var() == pytest.approx(theirs.var(), rel=0.03)


def assert_same_normal(ours, theirs):
    assert ours.std() == pytest.approx(theirs.std(), rel=0.03)
    assert abs(ours.mean() - theirs.mean()) < 0.02 * theirs.std()


UNIFORM_CASES = [
    ("uniform_", BIG, (), {}),
    ("uniform_", BIG, (-3.0, 0.5), {}),
    ("xavier_uniform_", BIG, (), {}),
    ("xavier_uniform_", CONV, (), {"gain": 5.0 / 3}),
    ("kaiming_uniform_", BIG, (), {}),
    ("kaiming_uniform_", BIG, (math.sqrt(5),), {}),
    ("kaiming_uniform_", CONV, (), {"mode": "fan_out", "nonlinearity": "relu"}),
    ("kaiming_uniform_", CONV, (0.2,), {"nonlinearity": "leaky_relu"}),
]
NORMAL_CASES = [
    ("normal_", BIG, (), {}),
    ("normal_", BIG, (1.5, 0.02), {}),
    ("xavier_normal_", BIG, (), {}),
    ("xavier_normal_", CONV, (), {"gain": 2.0}),
    ("kaiming_normal_", BIG, (), {}),
    ("kaiming_normal_", CONV, (), {"mode": "fan_out", "nonlinearity": "relu"}),
    ("kaiming_normal_", CONV, (0.1,), {"mode": "fan_in"}),
    ("kaiming_normal_", BIG, (), {"nonlinearity": "tanh"}),
]


@pytest.mark.parametrize("name,shape,args,kwargs", UNIFORM_CASES,
                         ids=[f"{c[0]}{c[2]}{c[3]}" for c in UNIFORM_CASES])
def test_uniform_initialisers_match_torch(name, shape, args, kwargs):
    assert_same_uniform(*samples(name, shape, *args, **kwargs))


@pytest.mark.parametrize("name,shape,args,kwargs", NORMAL_CASES,
                         ids=[f"{c[0]}{c[2]}{c[3]}" for c in NORMAL_CASES])
def test_normal_initialisers_match_torch(name, shape, args, kwargs):
    assert_same_normal(*samples(name, shape, *args, **kwargs))


def test_trunc_normal_matches_torch():
    ours, theirs = samples("trunc_normal_", BIG, 0.5, 2.0, -1.0, 3.0)
    assert ours.min() >= -1.0 and ours.max() <= 3.0
    assert_same_normal(ours, theirs)
    with pytest.raises(ValueError, match="trunc_normal_"):
        nn.init.trunc_normal_(tl.empty(3), a=1.0, b=0.0)


@pytest.mark.parametrize("name,args", [("zeros_", ()), ("ones_", ()), ("constant_", (0.3,)),
                                       ("eye_", ())])
def test_deterministic_initialisers_match_torch(name, args):
    for shape in [(3, 5), (4, 2)] + ([] if name == "eye_" else [(2, 3, 4), (5,)]):
        ours, theirs = tl.empty(*shape), torch.empty(shape)
        getattr(nn.init, name)(ours, *args)
        getattr(torch.nn.init, name)(theirs, *args)
        assert_close(ours, theirs)
    if name == "eye_":
        with pytest.raises(ValueError, match="2 dimensions"):
            nn.init.eye_(tl.empty(2, 2, 2))


@pytest.mark.parametrize("name", ["xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
                                  "kaiming_normal_"])
@pytest.mark.parametrize("shape", [(5,), ()])
def test_fan_needs_two_dims_like_torch(name, shape):
    with pytest.raises(ValueError):
        getattr(torch.nn.init, name)(torch.empty(shape))
    with pytest.raises(ValueError, match=f"{name}.*fewer than 2 dimensions"):
        getattr(nn.init, name)(tl.empty(*shape))


def test_init_argument_errors():
    with pytest.raises(ValueError, match="kaiming_uniform_.*'fan_avg'"):
        nn.init.kaiming_uniform_(tl.empty(3, 3), mode="fan_avg")
    with pytest.raises(TypeError, match="normal_.*int64"):
        nn.init.normal_(tl.zeros(3, dtype=tl.int64))
    with pytest.raises(TypeError, match="uniform_.*list"):
        nn.init.uniform_([1.0, 2.0])


@pytest.mark.parametrize("name,param", [
    ("linear", None), ("conv1d", None), ("conv2d", None), ("conv3d", None),
    ("conv_transpose1d", None), ("conv_transpose2d", None), ("conv_transpose3d", None),
    ("sigmoid", None), ("tanh", None), ("relu", None), ("leaky_relu", None),
    ("leaky_relu", 0.2), ("leaky_relu", 1), ("leaky_relu", math.sqrt(5)), ("selu", None)])
def test_calculate_gain_matches_torch(name, param):
    assert nn.init.calculate_gain(name, param) == pytest.approx(
        torch.nn.init.calculate_gain(name, param), rel=1e-15)


def test_calculate_gain_errors():
    for args in [("swish",), ("leaky_relu", "0.1"), ("leaky_relu", True)]:
        with pytest.raises(ValueError):
            torch.nn.init.calculate_gain(*args)
        with pytest.raises(ValueError, match="calculate_gain"):
            nn.init.calculate_gain(*args)


def test_init_keeps_leaf_dtype_and_builds_no_graph():
    p = nn.Parameter(tl.empty(20, 10, dtype=tl.float64))
    for fn in (nn.init.kaiming_uniform_, nn.init.xavier_normal_, nn.init.zeros_):
        assert fn(p) is p
        assert p.is_leaf and p.grad_fn is None and p.requires_grad and p.dtype is tl.float64


# ---- layer defaults ----------------------------------------------------------------------------
@pytest.mark.parametrize("fin,fout", [(300, 400), (1000, 150)])
def test_linear_default_init_matches_torch(fin, fout):
    tl.manual_seed(0)
    torch.manual_seed(0)
    ours, theirs = nn.Linear(fin, fout), torch.nn.Linear(fin, fout)
    assert_same_uniform(ours.weight.detach().numpy().astype(np.float64),
                        theirs.weight.detach().numpy().astype(np.float64))
    bound = 1 / math.sqrt(fin)  # torch's documented bound for weight and bias
    assert np.abs(ours.weight.detach().numpy()).max() <= bound
    assert np.abs(ours.bias.detach().numpy()).max() <= bound
    assert np.abs(theirs.bias.detach().numpy()).max() <= bound
    # the bias is uniform over the same range: its spread covers most of it
    assert np.ptp(ours.bias.detach().numpy()) > 1.8 * bound


def test_norm_layer_defaults_match_torch():
    for ctor in (lambda n: n.BatchNorm1d(5), lambda n: n.BatchNorm2d(3, affine=False),
                 lambda n: n.LayerNorm((2, 3)), lambda n: n.LayerNorm(4, bias=False)):
        ours, theirs = ctor(nn), ctor(torch.nn)
        sd, sd_t = ours.state_dict(), theirs.state_dict()
        assert list(sd) == list(sd_t)
        for k in sd:
            assert_close(sd[k], sd_t[k])


def test_manual_seed_reproducible():
    tl.manual_seed(123)
    a = nn.Sequential(nn.Linear(8, 8), nn.Linear(8, 2))
    tl.manual_seed(123)
    b = nn.Sequential(nn.Linear(8, 8), nn.Linear(8, 2))
    c = nn.Sequential(nn.Linear(8, 8), nn.Linear(8, 2))
    for (name, pa), pb, pc in zip(a.named_parameters(), b.parameters(), c.parameters()):
        np.testing.assert_array_equal(pa.detach().numpy(), pb.detach().numpy(), err_msg=name)
        assert not np.array_equal(pa.detach().numpy(), pc.detach().numpy())
