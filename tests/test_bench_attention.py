"""Smoke tests of bench/attention.py's harness on tiny shapes (nothing is timed for real)."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

_PATH = Path(__file__).resolve().parents[1] / "bench" / "attention.py"
_spec = importlib.util.spec_from_file_location("bench_attention", _PATH)
bench = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = bench  # dataclasses look their module up there
_spec.loader.exec_module(bench)

TINY = [
    bench.Case("MHA", (2, 5, 8), 2, need_weights=True),
    bench.Case("MHA", (2, 5, 8), 2, need_weights=False),
    bench.Case("encoder", (2, 5, 8), 2),
    bench.Case("SDPA", (2, 2, 5, 4)),
    bench.Case("SDPA", (2, 2, 5, 4), causal=True),
]


def test_cases_cover_the_issue_shapes():
    full, quick = bench.cases(), bench.cases(quick=True)
    mha = [c for c in full if c.group == "MHA"]
    assert {(c.shape, c.heads, c.need_weights) for c in mha} == {
        ((32, s, d), h, nw) for s in (64, 256) for d, h in ((128, 4), (256, 8))
        for nw in (True, False)}
    assert {(c.shape, c.heads) for c in full if c.group == "encoder"} == {
        ((32, s, d), h) for s in (64, 256) for d, h in ((128, 4), (256, 8))}
    assert any(c.group == "SDPA" for c in full)
    assert all(c.shape[-2] == 64 for c in quick) and set(quick) < set(full)
    assert len({c.name for c in full}) == len(full)  # names key the workers' results


def test_both_libraries_do_the_same_work():
    # check() raises SystemExit when an output or any gradient differs from torch's
    worst = float(bench.check(TINY))
    assert 0.0 <= worst < 1e-4


def test_check_catches_a_different_computation():
    case = bench.Case("SDPA", (2, 2, 5, 4))
    step, leaves = bench.make_case(case, "tl")
    step_t, leaves_t = bench.make_case(case, "torch")
    step()
    step_t()
    assert bench.rel_err(leaves["query"].grad.numpy(), leaves_t["query"].grad.numpy()) < 1e-5
    # the causal case against the full one must not pass as equal
    step_c, leaves_c = bench.make_case(bench.Case("SDPA", (2, 2, 5, 4), causal=True), "tl")
    step_c()
    assert bench.rel_err(leaves_c["query"].grad.numpy(), leaves_t["query"].grad.numpy()) > 1e-2


@pytest.mark.parametrize("lib", ["tl", "torch"])
def test_worker_times_every_case(lib):
    import torch

    args = argparse.Namespace(threads=1, warmup=1, reps=2, min_time=0.0, quick=True)
    saved = torch.get_num_threads()
    try:
        out = bench.worker(lib, args, TINY)
    finally:  # the worker sets torch's threads for its process; give this one its own back
        torch.set_num_threads(saved)
    assert set(out["times"]) == {c.name for c in TINY}
    assert all(np.isfinite(t) and t > 0 for t in out["times"].values())
    if lib == "torch":
        assert out["threads"] == 1


def test_report_table_and_median_ratios():
    cs = bench.cases(quick=True)
    # tl/torch ratios: MHA 1, 2, 3, 4 (median 2.5), encoder 1, 3 (median 2), SDPA 0.5
    ratios = {"MHA": iter([1.0, 2.0, 3.0, 4.0]), "encoder": iter([1.0, 3.0]),
              "SDPA": iter([0.5])}
    rows = [{"case": c, "tl": 10.0 * next(ratios[c.group]), "torch": 10.0} for c in cs]
    args = argparse.Namespace(quick=True, rounds=1, warmup=1, reps=2, min_time=0.0, threads=2)
    text = bench.report(rows, {"tl": [2], "torch": [2]}, args, "ok")
    assert f"| {cs[0].name} | 10.00 | 10.00 | 1.00 |" in text
    assert "- median ratio tl/torch, MHA: 2.50 (target <= 2: NOT met)" in text
    assert "- median ratio tl/torch, MHA need_weights=True: 2.00" in text  # ratios 1 and 3
    assert "- median ratio tl/torch, TransformerEncoderLayer: 2.00 (target <= 2: met)" in text
    assert "- median ratio tl/torch, SDPA: 0.50" in text
