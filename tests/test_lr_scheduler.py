"""tl.optim.lr_scheduler against torch.optim.lr_scheduler: the learning-rate (and momentum)
sequences of every schedule, state_dict round trips and errors."""

import math
import warnings

import numpy as np
import pytest
import torch

import tinygrad_lite as tl
from tinygrad_lite import optim
from tinygrad_lite.optim import lr_scheduler as sched

N_STEPS = 30


def make_optimizers(opt_name="SGD", **kwargs):
    """Ours and torch's optimiser over two groups with different learning rates."""
    kwargs = {"momentum": 0.9, **kwargs} if opt_name == "SGD" else kwargs
    a, b = np.ones(3), np.ones(2)
    ours = [tl.Tensor(a, requires_grad=True), tl.Tensor(b, requires_grad=True)]
    theirs = [torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)]
    opt = getattr(optim, opt_name)([{"params": ours[:1], "lr": 0.1},
                                    {"params": ours[1:], "lr": 0.05}], **kwargs)
    opt_t = getattr(torch.optim, opt_name)([{"params": theirs[:1], "lr": 0.1},
                                            {"params": theirs[1:], "lr": 0.05}], **kwargs)
    return opt, opt_t


def momenta(opt):
    return [g["betas"][0] if "betas" in g else g.get("momentum") for g in opt.param_groups]


def trace(opt, scheduler, steps=N_STEPS):
    """(lrs, momenta) before each step, stepping the optimiser first as torch recommends."""
    out = []
    for _ in range(steps):
        out.append((list(scheduler.get_last_lr()), momenta(opt)))
        opt.step()
        scheduler.step()
    out.append((list(scheduler.get_last_lr()), momenta(opt)))
    return out


def assert_traces_equal(ours, theirs):
    assert len(ours) == len(theirs)
    for (lr, mom), (lr_t, mom_t) in zip(ours, theirs):
        np.testing.assert_allclose(lr, lr_t, rtol=1e-12, atol=0)
        np.testing.assert_allclose(np.array(mom, dtype=float), np.array(mom_t, dtype=float),
                                   rtol=1e-12, atol=0)


CASES = [
    ("StepLR", {"step_size": 3, "gamma": 0.5}, "SGD"),
    ("StepLR", {"step_size": 7}, "Adam"),
    ("MultiStepLR", {"milestones": [2, 5, 5, 9, 20], "gamma": 0.3}, "SGD"),
    ("ExponentialLR", {"gamma": 0.9}, "SGD"),
    ("CosineAnnealingLR", {"T_max": 10}, "SGD"),
    ("CosineAnnealingLR", {"T_max": 7, "eta_min": 0.001}, "Adam"),  # past T_max: rises again
    ("LambdaLR", {"lr_lambda": lambda e: 0.95 ** e}, "SGD"),
    ("LambdaLR", {"lr_lambda": [lambda e: 1 / (e + 1), lambda e: min(1.0, (e + 1) / 5)]},
     "Adam"),
    ("LinearLR", {}, "SGD"),
    ("LinearLR", {"start_factor": 0.25, "end_factor": 1.0, "total_iters": 8}, "SGD"),
    ("LinearLR", {"start_factor": 1.0, "end_factor": 0.1, "total_iters": 12}, "RMSprop"),
    ("OneCycleLR", {"max_lr": 1.0, "total_steps": N_STEPS}, "SGD"),
    ("OneCycleLR", {"max_lr": [1.0, 0.5], "epochs": 3, "steps_per_epoch": 10,
                    "anneal_strategy": "linear", "three_phase": True, "pct_start": 0.25,
                    "div_factor": 10.0, "final_div_factor": 100.0}, "SGD"),
    ("OneCycleLR", {"max_lr": 0.01, "total_steps": N_STEPS, "base_momentum": [0.8, 0.7],
                    "max_momentum": 0.9}, "Adam"),  # cycles betas[0]
    ("OneCycleLR", {"max_lr": 0.01, "total_steps": 40, "three_phase": True}, "AdamW"),
    ("OneCycleLR", {"max_lr": 0.2, "total_steps": N_STEPS, "cycle_momentum": False}, "SGD"),
    ("OneCycleLR", {"max_lr": 0.2, "total_steps": N_STEPS, "pct_start": 0.5}, "RMSprop"),
]


@pytest.mark.parametrize("name,kwargs,opt_name", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_sequence_matches_torch(name, kwargs, opt_name):
    opt, opt_t = make_optimizers(opt_name)
    ours = trace(opt, getattr(sched, name)(opt, **kwargs))
    theirs = trace(opt_t, getattr(torch.optim.lr_scheduler, name)(opt_t, **kwargs))
    assert_traces_equal(ours, theirs)
    for group, group_t in zip(opt.param_groups, opt_t.param_groups):
        assert group["initial_lr"] == group_t["initial_lr"]


def test_optimizer_follows_the_schedule():
    """The scheduled rates reach the update: SGD steps with lr 0.1, 0.05, 0.025 ..."""
    w, wt = tl.Tensor([1.0], requires_grad=True), torch.tensor([1.0], requires_grad=True)
    opt, opt_t = optim.SGD([w], lr=0.1), torch.optim.SGD([wt], lr=0.1)
    s, s_t = sched.StepLR(opt, 1, 0.5), torch.optim.lr_scheduler.StepLR(opt_t, 1, 0.5)
    for _ in range(4):
        w.grad, wt.grad = tl.Tensor([1.0]), torch.tensor([1.0])
        opt.step()
        opt_t.step()
        s.step()
        s_t.step()
    assert w.item() == wt.item() == pytest.approx(1 - 0.1 * (1 + 0.5 + 0.25 + 0.125))


@pytest.mark.parametrize("name,kwargs", [
    ("StepLR", {"step_size": 3, "gamma": 0.5}), ("MultiStepLR", {"milestones": [2, 6, 6]}),
    ("ExponentialLR", {"gamma": 0.8}), ("CosineAnnealingLR", {"T_max": 10, "eta_min": 0.01}),
    ("LinearLR", {"start_factor": 0.5, "total_iters": 6})])
def test_closed_form_step_with_epoch_matches_torch(name, kwargs):
    opt, opt_t = make_optimizers()
    s, s_t = getattr(sched, name)(opt, **kwargs), \
        getattr(torch.optim.lr_scheduler, name)(opt_t, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for epoch in (3, 4, 9, 2, 15):
            s.step(epoch)
            s_t.step(epoch)
            np.testing.assert_allclose(s.get_last_lr(), s_t.get_last_lr(), rtol=1e-12)


@pytest.mark.parametrize("name,kwargs,opt_name", [
    ("StepLR", {"step_size": 4, "gamma": 0.5}, "SGD"),
    ("CosineAnnealingLR", {"T_max": 8, "eta_min": 0.001}, "SGD"),
    ("OneCycleLR", {"max_lr": 0.5, "total_steps": N_STEPS}, "Adam"),
    ("LinearLR", {"start_factor": 0.2, "total_iters": 15}, "SGD"),
    ("MultiStepLR", {"milestones": [3, 12, 20]}, "SGD"),
])
def test_state_dict_round_trip(name, kwargs, opt_name):
    """Save optimiser + scheduler after 10 steps, restore into fresh ones, continue: the
    sequence equals the uninterrupted one (and torch's)."""
    opt, opt_t = make_optimizers(opt_name)
    full = trace(opt, getattr(sched, name)(opt, **kwargs))
    theirs = trace(opt_t, getattr(torch.optim.lr_scheduler, name)(opt_t, **kwargs))

    first, _ = make_optimizers(opt_name)
    s1 = getattr(sched, name)(first, **kwargs)
    head = trace(first, s1, steps=10)
    opt_state, sched_state = first.state_dict(), s1.state_dict()
    assert "optimizer" not in sched_state and sched_state["last_epoch"] == 10

    second, _ = make_optimizers(opt_name)
    s2 = getattr(sched, name)(second, **kwargs)
    second.load_state_dict(opt_state)
    s2.load_state_dict(sched_state)
    tail = trace(second, s2, steps=N_STEPS - 10)
    assert head[:-1] + tail == full
    assert_traces_equal(full, theirs)


def test_lambda_lr_state_dict_keeps_callable_objects():
    class Warmup:
        def __init__(self, steps):
            self.steps = steps

        def __call__(self, epoch):
            return min(1.0, (epoch + 1) / self.steps)

    opt, _ = make_optimizers()
    s = sched.LambdaLR(opt, [Warmup(4), lambda e: 1.0])
    state = s.state_dict()
    assert state["lr_lambdas"] == [{"steps": 4}, None]
    other = sched.LambdaLR(make_optimizers()[0], [Warmup(10), lambda e: 1.0])
    other.load_state_dict(state)
    assert other.lr_lambdas[0].steps == 4


def test_initial_lr_and_resuming():
    opt, _ = make_optimizers()
    with pytest.raises(KeyError, match=r"'initial_lr' is not specified in param_groups\[0\]"):
        sched.StepLR(opt, 2, last_epoch=5)
    sched.ExponentialLR(opt, 0.5)
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.05]
    resumed = sched.ExponentialLR(opt, 0.5, last_epoch=3)  # accepted now: initial_lr is set
    assert resumed.last_epoch == 4 and resumed.base_lrs == [0.1, 0.05]


def test_warns_when_scheduler_steps_before_optimizer():
    opt, _ = make_optimizers()
    s = sched.StepLR(opt, 2)
    with pytest.warns(UserWarning, match=r"before `optimizer.step\(\)`"):
        s.step()
    opt2, _ = make_optimizers()
    s2 = sched.StepLR(opt2, 2)
    opt2.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s2.step()  # the right order: no warning


def test_get_lr_outside_step_warns():
    opt, _ = make_optimizers()
    s = sched.ExponentialLR(opt, 0.5)
    with pytest.warns(UserWarning, match="get_last_lr"):
        s.get_lr()


def test_one_cycle_stepping_past_the_end():
    opt, _ = make_optimizers()
    s = sched.OneCycleLR(opt, max_lr=1.0, total_steps=3)
    for _ in range(3):
        opt.step()
        s.step()
    with pytest.raises(ValueError, match="tried to step 4 times; the specified number of "
                                         "total steps is 3"):
        s.step()


def test_cosine_reaches_eta_min_at_t_max():
    opt, _ = make_optimizers()
    s = sched.CosineAnnealingLR(opt, T_max=5, eta_min=0.01)
    for _ in range(5):
        opt.step()
        s.step()
    assert s.get_last_lr() == pytest.approx([0.01, 0.01], rel=1e-12)
    assert math.isclose(s.get_last_lr()[0], 0.01, rel_tol=1e-12)


@pytest.mark.parametrize("make,exc,match", [
    (lambda o: sched.StepLR(object(), 2), TypeError, "StepLR: object is not an Optimizer"),
    (lambda o: sched.OneCycleLR(o, max_lr=1.0), ValueError,
     "either total_steps OR \\(epochs AND steps_per_epoch\\)"),
    (lambda o: sched.OneCycleLR(o, max_lr=1.0, total_steps=0), ValueError,
     "positive integer total_steps"),
    (lambda o: sched.OneCycleLR(o, max_lr=1.0, epochs=2, steps_per_epoch=-1), ValueError,
     "positive integer steps_per_epoch"),
    (lambda o: sched.OneCycleLR(o, max_lr=1.0, total_steps=10, anneal_strategy="exp"),
     ValueError, "anneal_strategy must be one of 'cos' or 'linear'"),
    (lambda o: sched.OneCycleLR(o, max_lr=1.0, total_steps=10, pct_start=1.5), ValueError,
     "pct_start"),
    (lambda o: sched.OneCycleLR(o, max_lr=[1.0], total_steps=10), ValueError,
     "max_lr must have the same length as optimizer.param_groups"),
    (lambda o: sched.OneCycleLR(optim.Optimizer([tl.Tensor([1.0], requires_grad=True)],
                                                {"lr": 0.1}), max_lr=1.0, total_steps=10),
     ValueError, "must support momentum or beta1"),
    (lambda o: sched.LinearLR(o, start_factor=0), ValueError, "starting multiplicative factor"),
    (lambda o: sched.LinearLR(o, end_factor=2), ValueError, "ending multiplicative factor"),
    (lambda o: sched.LambdaLR(o, [lambda e: 1.0]), ValueError, "expected 2 lr_lambdas"),
    (lambda o: sched.LambdaLR(o, 0.5), TypeError, "lr_lambda should be a function"),
    (lambda o: sched.CosineAnnealingLR(o, T_max=0), ValueError, "T_max must be positive"),
    (lambda o: sched.StepLR(o, step_size=0), ValueError, "step_size must be positive"),
])
def test_errors(make, exc, match):
    opt, _ = make_optimizers()
    with pytest.raises(exc, match=match):
        make(opt)
