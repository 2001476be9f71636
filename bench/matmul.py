"""float32 matmul on the GPU: our SGEMM (kernels/cuda/sgemm.cu) vs cuBLAS (cupy.matmul) vs
torch.matmul. Needs CuPy, torch with CUDA and an NVIDIA GPU; without them it says so and exits.

Cases: squares 512..8192 (NN), 4096^3 in the NT and TN layouts the matmul backward uses, and the
MNIST MLP's matmuls at batch 64 (Linear(784, 128) -> ReLU -> Linear(128, 10); a Linear forward
is x @ W^T (NT), its weight gradient g^T @ x (TN), its input gradient g @ W (NN)) plus the
10,000-image evaluation batch.

Method (DESIGN §8): all three run in this one process on the same inputs, interleaved: each
round times `reps` back-to-back calls of each library between two CUDA events (rotating which
goes first), after warm-up; the table reports the median per-call time over the rounds,
TFLOP/s = 2 M N K / time, and ours / cuBLAS as a throughput ratio. TF32 is off everywhere (plain
FP32 FMAs, what our kernel does). Results are checked against cuBLAS before timing.

    python bench/matmul.py                   # print the table (about a minute on an H100)
    python bench/matmul.py --append-results  # also append it to bench/RESULTS.md
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import statistics
import sys
from pathlib import Path

import numpy as np

# cuBLAS in plain FP32 (no TF32 tensor cores), like our kernel; CuPy reads this when it is
# imported, which happens after this line. (CuPy's default is already 0; this pins it.)
os.environ["CUPY_TF32"] = "0"

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from bench._common import append_results, versions_line  # noqa: E402

# (name, layout, M, N, K); layout letters say which operand is stored transposed (a, b).
SQUARES = [(f"square {s}", "nn", s, s, s) for s in (512, 1024, 2048, 4096, 8192)]
LAYOUT_CASES = [("square 4096", "nt", 4096, 4096, 4096), ("square 4096", "tn", 4096, 4096, 4096)]
MLP_CASES = [
    ("MLP fc1 forward x @ W1^T", "nt", 64, 128, 784),
    ("MLP fc1 weight grad g^T @ x", "tn", 128, 784, 64),
    ("MLP fc2 forward h @ W2^T", "nt", 64, 10, 128),
    ("MLP fc2 weight grad g^T @ h", "tn", 10, 128, 64),
    ("MLP fc2 input grad g @ W2", "nn", 64, 128, 10),
    ("MLP fc1 forward, eval batch 10000", "nt", 10000, 128, 784),
]
CASES = SQUARES + LAYOUT_CASES + MLP_CASES


def make_operands(cp, layout: str, m: int, n: int, k: int, seed: int):
    """Stored operands (a, b) for op(a) @ op(b) of shape (m, n) with inner size k."""
    rng = np.random.default_rng(seed)
    a_shape = (k, m) if layout[0] == "t" else (m, k)
    b_shape = (n, k) if layout[1] == "t" else (k, n)
    a = cp.asarray(rng.standard_normal(a_shape, dtype=np.float32))
    b = cp.asarray(rng.standard_normal(b_shape, dtype=np.float32))
    return a, b


def time_case(case, rounds: int, target_ms: float) -> dict:
    """Median per-call milliseconds of ours, cuBLAS and torch for one case."""
    import cupy as cp
    import torch

    from tinygrad_lite.kernels.cuda import sgemm

    name, layout, m, n, k = case
    ta, tb = layout[0] == "t", layout[1] == "t"
    a, b = make_operands(cp, layout, m, n, k, seed=m + n + k)
    c_ours = cp.empty((m, n), cp.float32)
    c_cublas = cp.empty((m, n), cp.float32)
    op_a, op_b = (a.T if ta else a), (b.T if tb else b)  # views: cuBLAS reads them transposed
    ta_t, tb_t = torch.from_dlpack(a), torch.from_dlpack(b)
    op_at, op_bt = (ta_t.t() if ta else ta_t), (tb_t.t() if tb else tb_t)
    c_torch = torch.empty((m, n), dtype=torch.float32, device=ta_t.device)

    runs = {
        "ours": lambda: sgemm(a, b, trans_a=ta, trans_b=tb, out=c_ours),
        "cublas": lambda: cp.matmul(op_a, op_b, out=c_cublas),
        "torch": lambda: torch.matmul(op_at, op_bt, out=c_torch),
    }
    for fn in runs.values():  # warm-up: compile, cuBLAS heuristics, clocks
        for _ in range(3):
            fn()
    cp.cuda.runtime.deviceSynchronize()
    ref = c_cublas.astype(cp.float64)
    scale = float(cp.abs(ref).max()) + 1e-30
    for label, c in (("ours", c_ours), ("torch", cp.from_dlpack(c_torch))):
        err = float(cp.abs(c.astype(cp.float64) - ref).max()) / scale
        if err > 1e-4:
            raise SystemExit(f"{name} {layout}: {label} differs from cuBLAS "
                             f"(max rel err {err:.2e})")

    # calls per timed batch: enough for ~target_ms of GPU work, judged from one call of cuBLAS
    start, end = cp.cuda.Event(), cp.cuda.Event()
    start.record()
    runs["cublas"]()
    end.record()
    end.synchronize()
    one_ms = max(cp.cuda.get_elapsed_time(start, end), 1e-3)
    reps = int(min(max(target_ms / one_ms, 3), 1000))

    times: dict[str, list[float]] = {key: [] for key in runs}
    order = list(runs)
    for r in range(rounds):
        for key in order[r % 3:] + order[:r % 3]:  # rotate who goes first
            fn = runs[key]
            start.record()  # events on CuPy's current (legacy default) stream, which torch shares
            for _ in range(reps):
                fn()
            end.record()
            end.synchronize()
            times[key].append(cp.cuda.get_elapsed_time(start, end) / reps)
    return {key: statistics.median(v) for key, v in times.items()}


def tflops(m: int, n: int, k: int, ms: float) -> float:
    return 2.0 * m * n * k / (ms * 1e-3) / 1e12


def environment_lines() -> list[str]:
    import cupy as cp
    import torch

    props = cp.cuda.runtime.getDeviceProperties(cp.cuda.runtime.getDevice())
    gpu = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]

    def ver(v: int) -> str:
        return f"{v // 1000}.{v % 1000 // 10}"

    driver, runtime = cp.cuda.runtime.driverGetVersion(), cp.cuda.runtime.runtimeGetVersion()
    return [
        f"- {versions_line()}",
        f"- GPU: {gpu} ({props['multiProcessorCount']} SMs); driver supports CUDA "
        f"{ver(driver)}, CUDA runtime {ver(runtime)}; "
        f"CuPy {cp.__version__}; torch {torch.__version__} (CUDA {torch.version.cuda}); "
        f"CUPY_TF32={os.environ.get('CUPY_TF32', 'unset')}, torch allow_tf32="
        f"{torch.backends.cuda.matmul.allow_tf32}",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="timed rounds per case (median)")
    parser.add_argument("--target-ms", type=float, default=20.0,
                        help="GPU time per timed batch of calls")
    parser.add_argument("--quick", action="store_true", help="only 512..4096 squares + MLP")
    parser.add_argument("--append-results", action="store_true",
                        help="append the table to bench/RESULTS.md")
    args = parser.parse_args(argv)

    import tinygrad_lite as tl

    reason = tl.cuda.unavailable_reason()
    if reason is not None:
        print(f"bench/matmul.py needs an NVIDIA GPU with CuPy and torch: {reason}. Nothing timed.",
              file=sys.stderr)
        return 0
    import torch

    torch.backends.cuda.matmul.allow_tf32 = False  # FP32 FMAs, like our kernel and cupy.matmul
    cases = [c for c in CASES if not (args.quick and c[2:] == (8192, 8192, 8192))]

    rows = ["| case | layout | M x N x K | ours ms | cuBLAS ms | torch ms | ours TFLOP/s | "
            "cuBLAS TFLOP/s | torch TFLOP/s | ours / cuBLAS |",
            "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    ratios: dict[str, float] = {}
    for case in cases:
        name, layout, m, n, k = case
        t = time_case(case, args.rounds, args.target_ms)
        ratio = t["cublas"] / t["ours"]  # throughput ratio: > 1 means ours is faster
        ratios[f"{name} {layout}"] = ratio
        rows.append(f"| {name} | {layout.upper()} | {m} x {n} x {k} | {t['ours']:.4f} | "
                    f"{t['cublas']:.4f} | {t['torch']:.4f} | {tflops(m, n, k, t['ours']):.2f} | "
                    f"{tflops(m, n, k, t['cublas']):.2f} | {tflops(m, n, k, t['torch']):.2f} | "
                    f"{ratio:.2f} |")
        print(rows[-1], flush=True)
    goal = ratios.get("square 4096 nn")
    summary = [] if goal is None else [
        f"- ours / cuBLAS at 4096^3 (NN): {goal:.2f} (target >= 0.70: "
        f"{'met' if goal >= 0.70 else 'NOT met'})"]
    date = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    report = "\n".join([f"### SGEMM vs cuBLAS vs torch.matmul, float32, CUDA — {date}", "",
                        *environment_lines(),
                        f"- median of {args.rounds} interleaved rounds, CUDA events, after warm-up",
                        "", *rows, "", *summary, ""])
    print()
    print(report)
    if args.append_results:
        append_results(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
