"""Per-op Python overhead: tinygrad_lite vs PyTorch on tiny tensors, on the CPU or on CUDA.

On tensors this small the arithmetic is free; what is timed is the path from a Tensor method to the
NumPy call and back through the graph (DESIGN §10). Each case is forward + backward unless its
name says `fwd, no_grad`. With `--device cuda` the same cases run on tiny GPU tensors (CuPy for us,
torch's CUDA backend for torch): that times the launch overhead, i.e. Python plus the kernel
launches; each batch of calls starts and ends with a device synchronisation (the library's own:
`tl.cuda.synchronize()` / `torch.cuda.synchronize()`), so queued kernels are paid for in the batch.

Method (DESIGN §8): both libraries run in this one process, after warm-up, in INTERLEAVED batches
(tl, torch, torch, tl, ... so drift and turbo states hit both equally); each batch times `n` calls
with `time.perf_counter_ns` and yields one per-call time; the table reports the median over all
batches and the ratio tl / torch. torch keeps its default thread settings (reported in the header).

    python bench/overhead.py                   # print the table (< 1 minute)
    python bench/overhead.py --append-results  # also append it to bench/RESULTS.md
    python bench/overhead.py --device cuda     # launch overhead on the GPU (needs CuPy)
"""

from __future__ import annotations

import argparse
import datetime as _dt
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

import tinygrad_lite as tl  # noqa: E402
from bench._common import append_results, machine_line, versions_line  # noqa: E402

CHAIN_LENGTH = 64


def chain(x, lib):
    """CHAIN_LENGTH ops alternating mul / add / tanh."""
    y = x
    for i in range(CHAIN_LENGTH):
        k = i % 3
        if k == 0:
            y = y * 1.01
        elif k == 1:
            y = y + 0.1
        else:
            y = y.tanh()
    return y


def make_cases(lib, device: str = "cpu") -> tuple[dict[str, Callable[[], None]],
                                                   dict[str, object]]:
    """Closures that run one forward+backward (or forward-only) of each case with `lib` on
    `device`, and the leaf tensors they write gradients into (for the correctness check)."""
    rng = np.random.default_rng(0)
    v16 = rng.standard_normal(16).astype(np.float32)
    w16 = rng.standard_normal(16).astype(np.float32)
    m8a = rng.standard_normal((8, 8)).astype(np.float32)
    m8b = rng.standard_normal((8, 8)).astype(np.float32)

    def tensor(array, requires_grad=False):
        return lib.tensor(array.copy(), device=device, requires_grad=requires_grad)

    a = tensor(v16, requires_grad=True)
    b = tensor(w16, requires_grad=True)
    ma = tensor(m8a, requires_grad=True)
    mb = tensor(m8b, requires_grad=True)
    g16 = tensor(np.ones(16, dtype=np.float32))
    g8 = tensor(np.ones(8, dtype=np.float32))
    g88 = tensor(np.ones((8, 8), dtype=np.float32))
    no_grad = lib.no_grad

    def add():
        a.grad = None
        b.grad = None
        (a + b).backward(g16)

    def mul():
        a.grad = None
        b.grad = None
        (a * b).backward(g16)

    def exp():
        a.grad = None
        a.exp().backward(g16)

    def sum_():
        a.grad = None
        a.sum().backward()

    def matmul():
        ma.grad = None
        mb.grad = None
        (ma @ mb).backward(g88)

    def relu():
        a.grad = None
        a.relu().backward(g16)

    def chain64():
        a.grad = None
        chain(a, lib).backward(g16)

    def getitem():
        a.grad = None
        a[2:10].backward(g8)

    def add_fwd():
        with no_grad():
            a + b

    def matmul_fwd():
        with no_grad():
            ma @ mb

    cases = {
        "add (16)": add,
        "mul (16)": mul,
        "exp (16)": exp,
        "sum (16)": sum_,
        "matmul (8x8)": matmul,
        "relu (16)": relu,
        f"chain of {CHAIN_LENGTH} ops (16)": chain64,
        "getitem [2:10] (16)": getitem,
        "add (16), fwd, no_grad": add_fwd,
        "matmul (8x8), fwd, no_grad": matmul_fwd,
    }
    return cases, {"a": a, "b": b, "ma": ma, "mb": mb}


def check_same_work(name, ours_fn, torch_fn, ours_leaves, torch_leaves) -> None:
    """Run a case once in each library and compare the gradients: a benchmark of two different
    computations (or of a backward that silently did nothing) would be meaningless."""
    for leaf in (*ours_leaves.values(), *torch_leaves.values()):
        leaf.grad = None
    ours_fn()
    torch_fn()
    for key, ref in torch_leaves.items():
        got = ours_leaves[key].grad
        if ref.grad is None:
            if got is not None:
                raise SystemExit(
                    f"{name}: tinygrad_lite wrote a gradient into {key}, torch did not"
                )
            continue
        if got is None or not np.allclose(got.cpu().numpy(), ref.grad.cpu().numpy(), rtol=1e-4,
                                          atol=1e-5):
            raise SystemExit(f"{name}: gradient of {key} differs from torch's")


def _no_sync() -> None:
    pass


def time_batch(fn: Callable[[], None], n: int, sync: Callable[[], None] = _no_sync) -> float:
    """Mean nanoseconds per call over one batch of n calls; ``sync`` (a device synchronisation
    on CUDA) runs before the clock starts and before it stops, so the batch pays for every
    kernel it queued."""
    sync()
    start = time.perf_counter_ns()
    for _ in range(n):
        fn()
    sync()
    return (time.perf_counter_ns() - start) / n


def calibrate(fns: list[Callable[[], None]], target_ns: float, syncs) -> int:
    """Calls per batch so that the slower library's batch takes about target_ns."""
    slowest = max(time_batch(fn, 5, sync) for fn, sync in zip(fns, syncs))
    return max(1, int(target_ns / max(slowest, 1.0)))


def measure(tl_fn, torch_fn, rounds: int, batch_ns: float,
            syncs=(_no_sync, _no_sync)) -> tuple[float, float]:
    """Median per-call microseconds (tl, torch), interleaved batches; ``syncs`` are the two
    libraries' device synchronisations (no-ops on the CPU)."""
    tl_sync, torch_sync = syncs
    for _ in range(3):  # warm-up: caches, allocator, lazy imports, numba / CUDA kernel compiles
        time_batch(tl_fn, 20, tl_sync)
        time_batch(torch_fn, 20, torch_sync)
    n = calibrate([tl_fn, torch_fn], batch_ns, syncs)
    ours, theirs = [], []
    for r in range(rounds):
        order = (
            ((tl_fn, ours, tl_sync), (torch_fn, theirs, torch_sync))
            if r % 2 == 0
            else ((torch_fn, theirs, torch_sync), (tl_fn, ours, tl_sync))
        )
        for fn, sink, sync in order:
            sink.append(time_batch(fn, n, sync))
    return statistics.median(ours) / 1e3, statistics.median(theirs) / 1e3


def gpu_line() -> str:
    """The GPU and the CUDA-side versions, for the header of a --device cuda run."""
    import cupy

    props = cupy.cuda.runtime.getDeviceProperties(0)
    name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    return (f"GPU: {name}; cupy {cupy.__version__}, CUDA runtime "
            f"{cupy.cuda.runtime.runtimeGetVersion()}, torch CUDA {torch.version.cuda}")


def header(device: str = "cpu") -> str:
    lines = [
        f"### Per-op overhead, {device.upper()} — {_dt.datetime.now().strftime('%Y-%m-%d %H:%M')}",
        "",
        f"- {versions_line()}",
        f"- {machine_line()}",
    ]
    if device == "cuda":
        lines += [f"- {gpu_line()}",
                  "- tiny float32 GPU tensors; each batch of calls is bracketed by a device "
                  "synchronisation (launch overhead + kernel time)"]
    lines.append("- tiny float32 tensors; forward+backward unless marked; interleaved batches, "
                 "median per call (`bench/overhead.py" + (" --device cuda" if device == "cuda"
                                                          else "") + "`)")
    return "\n".join(lines)


def table(rows: list[tuple[str, float, float]]) -> str:
    lines = ["| op | tl µs | torch µs | ratio tl/torch |", "|---|---:|---:|---:|"]
    for name, ours, theirs in rows:
        lines.append(f"| {name} | {ours:.1f} | {theirs:.1f} | {ours / theirs:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=41, help="interleaved batches per library")
    parser.add_argument("--batch-ms", type=float, default=8.0, help="target duration of one batch")
    parser.add_argument("--append-results", action="store_true", help="append to bench/RESULTS.md")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                        help="where the tiny tensors live (cuda: launch overhead vs torch.cuda)")
    args = parser.parse_args()

    syncs = (_no_sync, _no_sync)
    if args.device == "cuda":
        try:
            tl.device("cuda")
        except RuntimeError as exc:
            raise SystemExit(f"error: --device cuda: {exc}") from None
        if not torch.cuda.is_available():
            raise SystemExit("error: --device cuda: this torch build sees no GPU (the reference "
                             "needs torch with CUDA)")
        syncs = (tl.cuda.synchronize, torch.cuda.synchronize)

    (ours_cases, ours_leaves) = make_cases(tl, args.device)
    (torch_cases, torch_leaves) = make_cases(torch, args.device)
    rows = []
    for name in ours_cases:
        check_same_work(name, ours_cases[name], torch_cases[name], ours_leaves, torch_leaves)
        t_ours, t_torch = measure(
            ours_cases[name], torch_cases[name], args.rounds, args.batch_ms * 1e6, syncs
        )
        rows.append((name, t_ours, t_torch))
        print(f"  {name}: tl {t_ours:.1f} µs, torch {t_torch:.1f} µs", file=sys.stderr, flush=True)

    report = header(args.device) + "\n\n" + table(rows) + "\n"
    print(report)
    if args.append_results:
        append_results(report)


if __name__ == "__main__":
    main()
