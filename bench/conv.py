"""Convolution and pooling on the CPU: each conv and pool layer of the MNIST CNN, and its epoch.

Per layer (batch 64, float32, the shapes the layer sees in examples/mnist_cnn.py): the time of
forward and of forward + backward (input gradient too, except for the first conv whose input is
data), for tinygrad_lite with its Numba kernels, tinygrad_lite with the plain-NumPy reference
kernels (the ``Device`` base class: stride tricks + BLAS, what the Numba kernels must beat) and
PyTorch. Each library runs in its own worker process (in one process, torch's OpenMP pool,
OpenBLAS's threads and ours disturb each other on two cores and inflate everyone's times), the
workers alternate in a rotating order for ``--rounds`` rounds; medians and ratios are reported.
Then the CNN's training epoch, tinygrad_lite vs PyTorch, by bench/mnist_mlp.py's subprocess
method (``--model cnn``).

    python bench/conv.py                        # layers, then 2 rounds x 3 epochs (~5 minutes)
    python bench/conv.py --epoch-rounds 0       # layers only
    python bench/conv.py --append-results       # also append the tables to bench/RESULTS.md
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

KERNELS = ("conv2d_forward", "conv2d_backward_data", "conv2d_backward_weight",
           "max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward",
           "avg_pool2d_backward")

# name, layer constructor arguments, input shape, whether the input needs a gradient
LAYERS = [
    ("conv1 Conv2d(1, 32, 3)", ("Conv2d", (1, 32, 3)), (64, 1, 28, 28), False),
    ("pool1 MaxPool2d(2)", ("MaxPool2d", (2,)), (64, 32, 26, 26), True),
    ("conv2 Conv2d(32, 64, 3)", ("Conv2d", (32, 64, 3)), (64, 32, 13, 13), True),
    ("pool2 MaxPool2d(2)", ("MaxPool2d", (2,)), (64, 64, 11, 11), True),
    ("conv3 Conv2d(64, 64, 3)", ("Conv2d", (64, 64, 3)), (64, 64, 5, 5), True),
]


@contextlib.contextmanager
def reference_kernels():
    """Run the CPU device on the base class's plain-NumPy kernels instead of Numba's."""
    from tinygrad_lite.device import CPUDevice, Device

    saved = {k: CPUDevice.__dict__[k] for k in KERNELS if k in CPUDevice.__dict__}
    for k in saved:
        setattr(CPUDevice, k, getattr(Device, k))
    try:
        yield
    finally:
        for k, fn in saved.items():
            setattr(CPUDevice, k, fn)


def make_layer(spec, shape, needs_grad: bool, lib: str, seed: int = 0):
    """``step(backward: bool)`` for one layer in ``lib`` ("tl" or "torch"); the weights come
    from the same seeded draw in both (tl's default init, copied into torch)."""
    import tinygrad_lite as tl

    kind, args = spec
    tl.manual_seed(seed)
    ours = getattr(tl.nn, kind)(*args)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(np.float32)
    out_shape = tuple(ours(tl.tensor(x)).shape)
    g = rng.standard_normal(out_shape).astype(np.float32)
    if lib == "torch":
        import torch

        theirs = getattr(torch.nn, kind)(*args)
        with torch.no_grad():
            for p, tp in zip(ours.parameters(), theirs.parameters()):
                tp.copy_(torch.from_numpy(p.detach().numpy().copy()))
        xt, gt, grad_mode = torch.from_numpy(x).requires_grad_(needs_grad), torch.from_numpy(g), \
            torch.no_grad
        layer = theirs
    else:
        xt, gt, grad_mode, layer = tl.tensor(x, requires_grad=needs_grad), tl.tensor(g), \
            tl.no_grad, ours

    def step(backward: bool) -> None:
        if backward:
            layer(xt).backward(gt)
        else:
            with grad_mode():
                layer(xt)

    return step


def time_call(fn, reps: int) -> float:
    start = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - start) / reps


def worker(lib: str, reps: int) -> dict:
    """One library in this process: ms per call of each layer's fwd and fwd+bwd, after five
    warm-up calls; lib "tl-numpy" is tl on the base class's NumPy kernels."""
    out = {}
    with reference_kernels() if lib == "tl-numpy" else contextlib.nullcontext():
        for name, spec, shape, needs_grad in LAYERS:
            step = make_layer(spec, shape, needs_grad, "torch" if lib == "torch" else "tl")
            for backward in (False, True):
                for _ in range(5):  # warm-up: Numba cache load, oneDNN's first-shape set-up
                    step(backward)
                out[f"{name}|{'fwd+bwd' if backward else 'fwd'}"] = \
                    1e3 * time_call(lambda: step(backward), reps)
    return out


def bench_layers(args) -> list[dict]:
    """Alternate fresh worker processes (tl, tl-numpy, torch in a rotating order) so that no
    library's thread pools disturb another's; medians over ``--rounds`` processes each."""
    import json
    import subprocess

    libs = ["tl", "tl-numpy", "torch"]
    samples: dict[str, list[dict]] = {lib: [] for lib in libs}
    for r in range(args.rounds):
        for lib in libs[r % 3:] + libs[:r % 3]:
            cmd = [sys.executable, __file__, "--worker", lib, "--reps", str(args.reps)]
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise SystemExit(f"{lib} worker failed:\n{done.stderr[-3000:]}")
            samples[lib].append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"  layer round {r + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    rows = []
    for key in samples["tl"][0]:
        name, kind = key.split("|")
        shape = next(sh for n, _, sh, _ in LAYERS if n == name)
        rows.append({"layer": name, "shape": shape, "pass": kind,
                     **{lib: statistics.median(s[key] for s in samples[lib]) for lib in libs}})
    return rows


def compile_times() -> str:
    """First-call cost of the five layers (fwd+bwd) in fresh processes: with an empty Numba
    cache (the kernels compile) and again with that cache filled (they load)."""
    import os
    import subprocess
    import tempfile

    code = ("import time, sys; sys.path.insert(0, %r); t0 = time.perf_counter(); "
            "import bench.conv as b; ss = [b.make_layer(s, sh, g, 'tl') for _, s, sh, g in "
            "b.LAYERS]; [s(True) for s in ss]; t1 = time.perf_counter(); [s(True) for s in ss]; "
            "t2 = time.perf_counter(); print(f'{t1 - t0:.3f} {t2 - t1:.3f}')" % str(ROOT))
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               check=True, env=env).stdout.split() for _ in range(2)]
    (cold, again), (warm, _) = [[float(v) for v in r] for r in runs]
    return (f"first fwd+bwd through the five layers in a fresh process, including the imports "
            f"and building the layers: {cold:.2f} s with an empty Numba cache (compiling), "
            f"{warm:.2f} s with the cache filled; a second pass takes {again:.3f} s")


def layer_report(rows: list[dict], args, compile_line: str) -> str:
    from bench._common import machine_line, versions_line

    when = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    lines = [f"### MNIST CNN layers, CPU — {when}", "", f"- {versions_line()}",
             f"- {machine_line()}",
             f"- batch 64, float32; each library times every layer ({args.reps} calls after a "
             f"warm-up) in its own process, {args.rounds} processes per library in rotating "
             f"order, medians; tl = our default CPU kernels, tl-numpy = the Device base "
             f"class's NumPy reference kernels (`bench/conv.py`)", f"- {compile_line}", "",
             "| layer | input | pass | tl ms | tl-numpy ms | torch ms | tl/torch | "
             "tl-numpy/torch |", "|---|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['layer']} | {'x'.join(map(str, r['shape']))} | {r['pass']} | "
                     f"{r['tl']:.2f} | {r['tl-numpy']:.2f} | {r['torch']:.2f} | "
                     f"{r['tl'] / r['torch']:.2f} | {r['tl-numpy'] / r['torch']:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=5, help="worker processes per library")
    p.add_argument("--reps", type=int, default=30, help="calls per layer and pass")
    p.add_argument("--epoch-rounds", type=int, default=2,
                   help="subprocess runs per library of the epoch benchmark (0: skip it)")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--append-results", action="store_true")
    p.add_argument("--worker", choices=["tl", "tl-numpy", "torch"], help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        import json

        print(json.dumps(worker(args.worker, args.reps)))
        return
    compile_line = compile_times()
    text = layer_report(bench_layers(args), args, compile_line)
    print(text)
    if args.epoch_rounds:
        from bench import mnist_mlp as epoch_bench

        eargs = argparse.Namespace(rounds=args.epoch_rounds, epochs=args.epochs, batch_size=64,
                                   seed=0, model="cnn")
        runs: dict[str, list[dict]] = {"tl": [], "torch": []}
        for i in range(eargs.rounds):
            for lib in (("tl", "torch") if i % 2 == 0 else ("torch", "tl")):
                r = epoch_bench.run_worker(lib, eargs, eargs.seed + i)
                runs[lib].append(r)
                print(f"  epoch round {i + 1} {lib}: " + ", ".join(f"{t:.2f}" for t in r["times"])
                      + " s", file=sys.stderr, flush=True)
        epoch_text = epoch_bench.report(runs, eargs)
        print(epoch_text)
        text += "\n" + epoch_text
    if args.append_results:
        from bench._common import append_results

        append_results(text)


if __name__ == "__main__":
    main()
