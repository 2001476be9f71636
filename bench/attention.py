"""Attention on the CPU: MultiheadAttention, TransformerEncoderLayer and SDPA, tl vs PyTorch.

Forward + backward (input and parameter gradients) per call, float32, batch 32, batch_first:

- ``nn.MultiheadAttention`` self-attention, seq 64/256 x d_model 128 (4 heads) / 256 (8 heads),
  with ``need_weights=True`` (torch's default: the head-averaged weights are also returned) and
  ``need_weights=False``;
- one ``nn.TransformerEncoderLayer`` (post-norm, ReLU, dim_feedforward 4 * d_model,
  dropout 0.0) at the same shapes;
- ``F.scaled_dot_product_attention`` at a few (batch, heads, seq, head_dim) shapes.

Method (as bench/conv.py): each library runs in its own worker process (this script with
``--worker``; in one process torch's OpenMP pool and OpenBLAS's threads disturb each other on two
cores), the workers alternate in a rotating order for ``--rounds`` rounds, every case is warmed
up and then timed call by call; a worker reports the median call of each case (a single stall of
a shared machine does not move it) and the table gives the median over the workers and the ratio
tl / torch, then the median ratio over the MHA cases and over the encoder-layer cases (issue 5's
target: within 2x of PyTorch). Threads: both libraries get the same count, by default the number
of threads OpenBLAS (NumPy's BLAS, which does tl's matmuls) starts with; the tl worker gets it
through ``OPENBLAS_NUM_THREADS`` and the torch worker through ``torch.set_num_threads``; each worker
reports the count it ran with. Before timing, one worker runs every case once in both libraries
with the same weights and inputs and checks that the outputs and all gradients agree, so that the
two libraries time the same computation.

    python bench/attention.py                   # 4 rounds (~3-4 minutes on 2 cores)
    python bench/attention.py --quick           # smoke run: seq 64 only, 1 round (~20 s)
    python bench/attention.py --append-results  # also append the table to bench/RESULTS.md
"""

from __future__ import annotations

import argparse
import ctypes
import datetime as _dt
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

BATCH = 32
LIBS = ("tl", "torch")


@dataclass(frozen=True)
class Case:
    """One timed case. ``group`` is "MHA", "encoder" or "SDPA"; ``shape`` is the input's
    (N, S, E) for the modules and the query's (N, H, S, D) for SDPA."""

    group: str
    shape: tuple[int, ...]
    heads: int = 0
    need_weights: bool = False
    causal: bool = False

    @property
    def name(self) -> str:
        n, s = self.shape[0], self.shape[-2]
        if self.group == "SDPA":
            return (f"SDPA N{n} H{self.shape[1]} S{s} D{self.shape[3]}"
                    + (" causal" if self.causal else ""))
        what = "MHA" if self.group == "MHA" else "EncoderLayer"
        extra = f" need_weights={self.need_weights}" if self.group == "MHA" else \
            f" ff{4 * self.shape[2]}"
        return f"{what} N{n} S{s} E{self.shape[2]} h{self.heads}{extra}"


def cases(quick: bool = False) -> list[Case]:
    """The benchmark's cases; ``quick`` keeps the sequence-64 (and small SDPA) ones."""
    seqs = (64,) if quick else (64, 256)
    dims = ((128, 4), (256, 8))
    out = [Case("MHA", (BATCH, s, d), h, need_weights=nw)
           for s in seqs for d, h in dims for nw in (True, False)]
    out += [Case("encoder", (BATCH, s, d), h) for s in seqs for d, h in dims]
    sdpa = [(BATCH, 4, 64, 32, False), (BATCH, 4, 256, 64, False), (BATCH, 4, 256, 64, True)]
    out += [Case("SDPA", sh[:4], causal=sh[4]) for sh in sdpa if not quick or sh[2] in seqs]
    return out


def _weights(named_shapes: list[tuple[str, tuple[int, ...]]], seed: int) -> dict[str, np.ndarray]:
    """A seeded draw for every parameter, the same in both libraries: matrices uniform in
    +-1/sqrt(fan_in) (as Linear's default), LayerNorm gains near 1, other vectors small."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in named_shapes:
        if len(shape) >= 2:
            bound = 1.0 / np.sqrt(shape[1])
            w = rng.uniform(-bound, bound, shape)
        elif "norm" in name and name.endswith("weight"):
            w = 1.0 + 0.1 * rng.standard_normal(shape)
        else:
            w = 0.1 * rng.standard_normal(shape)
        out[name] = w.astype(np.float32)
    return out


def make_case(case: Case, lib: str, seed: int = 0) -> tuple[Callable[[], object], dict]:
    """``(step, leaves)`` for ``case`` in ``lib`` ("tl" or "torch"): ``step()`` clears the
    gradients (as ``zero_grad(set_to_none=True)``), runs forward + backward with a fixed output
    gradient and returns the output; ``leaves`` maps names to the input and parameter tensors.
    Inputs and weights come from the same seeded draws in both libraries."""
    if lib == "torch":
        import torch

        nn, F = torch.nn, torch.nn.functional

        def tensor(a: np.ndarray, grad: bool = False):
            return torch.from_numpy(a).requires_grad_(grad)
    else:
        import tinygrad_lite as tl
        from tinygrad_lite import nn
        from tinygrad_lite.nn import functional as F

        def tensor(a: np.ndarray, grad: bool = False):
            return tl.tensor(a, requires_grad=grad)

    rng = np.random.default_rng(seed)
    if case.group == "SDPA":
        q, k, v = (tensor(rng.standard_normal(case.shape).astype(np.float32), True)
                   for _ in range(3))
        leaves = {"query": q, "key": k, "value": v}

        def forward():
            return F.scaled_dot_product_attention(q, k, v, is_causal=case.causal)
        out_shape = case.shape
    else:
        d = case.shape[2]
        if case.group == "MHA":
            module = nn.MultiheadAttention(d, case.heads, dropout=0.0, batch_first=True)
        else:
            module = nn.TransformerEncoderLayer(d, case.heads, dim_feedforward=4 * d,
                                                dropout=0.0, batch_first=True)
        module.train()
        params = dict(module.named_parameters())
        values = _weights([(n, tuple(p.shape)) for n, p in params.items()], seed + 1)
        for n, p in params.items():
            if lib == "torch":
                with torch.no_grad():
                    p.copy_(torch.from_numpy(values[n]))
            else:
                p._data[...] = values[n]
        x = tensor(rng.standard_normal(case.shape).astype(np.float32), True)
        leaves = {"input": x, **params}
        if case.group == "MHA":
            def forward():
                return module(x, x, x, need_weights=case.need_weights)[0]
        else:
            def forward():
                return module(x)
        out_shape = case.shape
    g = tensor(rng.standard_normal(out_shape).astype(np.float32))

    def step():
        for t in leaves.values():
            t.grad = None
        out = forward()
        out.backward(g)
        return out

    return step, leaves


def blas_threads() -> int | None:
    """Threads of the OpenBLAS that NumPy loaded (None when it can't be asked)."""
    try:
        with open("/proc/self/maps") as f:
            path = next((ln.split()[-1] for ln in f if "openblas" in ln.lower()), None)
    except OSError:
        return None
    if path is None:
        return None
    lib = ctypes.CDLL(path)
    # NumPy's wheels ship scipy-openblas with prefixed symbols; a system OpenBLAS has the plain
    for sym in ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads",
                "openblas_get_num_threads64_", "openblas_get_num_threads"):
        fn = getattr(lib, sym, None)
        if fn is not None:
            return int(fn())
    return None


def worker(lib: str, args, case_list: list[Case] | None = None) -> dict:
    """One library in this process: the median ms per fwd+bwd call of each case (default: the
    benchmark's), after ``--warmup`` calls; at least ``--reps`` calls and ``--min-time`` seconds
    per case."""
    if lib == "torch":
        import torch

        torch.set_num_threads(args.threads)
        threads = torch.get_num_threads()
    else:
        import tinygrad_lite  # noqa: F401  (loads NumPy's BLAS, whose threads are asked next)

        threads = blas_threads()
    times = {}
    for case in case_list if case_list is not None else cases(args.quick):
        step, _ = make_case(case, lib)
        for _ in range(args.warmup):  # Numba cache load, oneDNN's per-shape set-up, allocator
            step()
        calls: list[float] = []
        start = time.perf_counter()
        while len(calls) < args.reps or (time.perf_counter() - start < args.min_time
                                         and len(calls) < 200):
            t0 = time.perf_counter()
            step()
            calls.append(time.perf_counter() - t0)
        times[case.name] = 1e3 * statistics.median(calls)
    return {"threads": threads, "times": times}


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    """Greatest absolute difference relative to the greatest magnitude of ``b``."""
    return float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(b))), 1e-30))


def check(case_list: list[Case], tol: float = 1e-4) -> str:
    """Run every case once in both libraries and compare the output and all gradients (largest
    difference relative to the largest value: the two BLAS libraries sum in different orders);
    raises SystemExit on a mismatch, returns the worst relative error otherwise."""
    worst = 0.0
    for case in case_list:
        (ours, ol), (theirs, tl_) = make_case(case, "tl"), make_case(case, "torch")
        pairs = [("output", ours().detach().numpy(), theirs().detach().numpy())]
        if list(ol) != list(tl_):
            raise SystemExit(f"{case.name}: leaves differ: {list(ol)} vs {list(tl_)}")
        for name in ol:
            if ol[name].grad is None or tl_[name].grad is None:
                raise SystemExit(f"{case.name}: no gradient for {name} in "
                                 f"{'tl' if ol[name].grad is None else 'torch'}")
            pairs.append((f"grad {name}", ol[name].grad.numpy(), tl_[name].grad.numpy()))
        for what, a, b in pairs:
            err = rel_err(a, b)
            if not err <= tol:
                raise SystemExit(f"{case.name}: {what} differs from torch's (max |diff| / "
                                 f"max |torch| = {err:.2e} > {tol:.0e})")
            worst = max(worst, err)
    return f"{worst:.1e}"


def run_worker(lib: str, args, extra_env: dict | None = None) -> dict:
    cmd = [sys.executable, __file__, "--worker", lib, "--reps", str(args.reps),
           "--warmup", str(args.warmup), "--min-time", str(args.min_time),
           "--threads", str(args.threads)] + (["--quick"] if args.quick else [])
    env = {**os.environ, **(extra_env or {})}
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise SystemExit(f"{lib} worker failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench(args) -> tuple[list[dict], dict]:
    """Rotate fresh worker processes for ``--rounds`` rounds; medians per case and library."""
    # OpenBLAS reads this at load; torch's count is set in its worker. OMP_NUM_THREADS is left
    # alone so that torch's inter-op default is what a user gets.
    env = {"OPENBLAS_NUM_THREADS": str(args.threads)}
    samples: dict[str, list[dict]] = {lib: [] for lib in LIBS}
    for r in range(args.rounds):
        for lib in LIBS[r % 2:] + LIBS[:r % 2]:
            samples[lib].append(run_worker(lib, args, env))
        print(f"  round {r + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    rows = [{"case": c, **{lib: statistics.median(s["times"][c.name] for s in samples[lib])
                           for lib in LIBS}} for c in cases(args.quick)]
    threads = {lib: sorted({s["threads"] for s in samples[lib]}, key=str) for lib in LIBS}
    return rows, threads


def summary(rows: list[dict]) -> dict[str, float]:
    """Median tl/torch ratio per group (and per need_weights for MHA)."""
    groups = {
        "MHA": lambda c: c.group == "MHA",
        "MHA need_weights=True": lambda c: c.group == "MHA" and c.need_weights,
        "MHA need_weights=False": lambda c: c.group == "MHA" and not c.need_weights,
        "TransformerEncoderLayer": lambda c: c.group == "encoder",
        "SDPA": lambda c: c.group == "SDPA",
    }
    return {g: statistics.median(r["tl"] / r["torch"] for r in rows if keep(r["case"]))
            for g, keep in groups.items() if any(keep(r["case"]) for r in rows)}


def report(rows: list[dict], threads: dict, args, check_line: str) -> str:
    from bench._common import machine_line, versions_line

    when = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    lines = [f"### Attention (MHA, encoder layer, SDPA), CPU — {when}"
             + (" (--quick smoke run)" if args.quick else ""), "",
             f"- {versions_line()}", f"- {machine_line()}",
             f"- threads in the workers: tl (OpenBLAS) {threads['tl']}, torch intra-op "
             f"{threads['torch']} (`--threads {args.threads}`)",
             f"- float32, forward + backward (input and parameter gradients), batch_first, "
             f"train mode, dropout 0.0; each library in its own process, {args.rounds} processes "
             f"per library in rotating order; per case {args.warmup} warm-up calls then at least "
             f"{args.reps} calls and {args.min_time} s, the median call per process and the "
             f"median over processes (`bench/attention.py`)",
             f"- outputs and gradients checked against torch before timing: {check_line}", "",
             "| case | tl ms | torch ms | tl/torch |", "|---|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['case'].name} | {r['tl']:.2f} | {r['torch']:.2f} | "
                     f"{r['tl'] / r['torch']:.2f} |")
    lines.append("")
    for group, ratio in summary(rows).items():
        target = " (target <= 2: " + ("met)" if ratio <= 2 else "NOT met)") \
            if group in ("MHA", "TransformerEncoderLayer") else ""
        lines.append(f"- median ratio tl/torch, {group}: {ratio:.2f}{target}")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=4, help="worker processes per library")
    p.add_argument("--reps", type=int, default=3, help="least timed calls per case")
    p.add_argument("--min-time", type=float, default=0.3,
                   help="least seconds of timed calls per case (up to 200 calls)")
    p.add_argument("--warmup", type=int, default=2, help="untimed calls per case")
    p.add_argument("--threads", type=int, default=None,
                   help="threads for both libraries (default: OpenBLAS's count here)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: seq 64 only, 1 round, 1 warm-up, 2 calls")
    p.add_argument("--no-check", action="store_true", help="skip the comparison with torch")
    p.add_argument("--append-results", action="store_true")
    p.add_argument("--worker", choices=[*LIBS, "check"], help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker == "check":
        print(check(cases(args.quick)))
        return
    if args.worker:
        print(json.dumps(worker(args.worker, args)))
        return
    if args.quick:
        args.rounds, args.warmup, args.reps, args.min_time = 1, 1, 2, 0.0
    if args.threads is None:
        args.threads = blas_threads() or os.cpu_count() or 1
    start = time.perf_counter()
    check_line = "skipped (--no-check)"
    if not args.no_check:
        # in a worker too, so that this process holds no torch or BLAS thread pools
        cmd = [sys.executable, __file__, "--worker", "check"] + (["--quick"] if args.quick else [])
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"check failed:\n{done.stderr[-3000:]}")
        check_line = f"largest difference {done.stdout.split()[-1]} of the largest value"
        print(f"  check passed ({check_line})", file=sys.stderr, flush=True)
    rows, threads = bench(args)
    text = report(rows, threads, args, check_line)
    print(text)
    print(f"  ({time.perf_counter() - start:.0f} s)", file=sys.stderr)
    if args.append_results:
        from bench._common import append_results

        append_results(text)


if __name__ == "__main__":
    main()
