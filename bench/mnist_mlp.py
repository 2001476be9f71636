"""Epoch time and memory of the MNIST examples' models: tinygrad_lite vs PyTorch, CPU or GPU.

``--model mlp`` (default): Linear(784, 128) -> ReLU -> Linear(128, 10); ``--model cnn``: the CNN of
examples/mnist_cnn.py (bench/conv.py runs it too). Softmax cross-entropy, Adam(lr=1e-3), batch 64,
Fashion-MNIST's 60,000 training images held in memory in both libraries (a batch is one fancy
index of a shuffled permutation; torch is driven the same way, not through its DataLoader).

Method (DESIGN §8): each run is a fresh subprocess training one library for ``--epochs`` epochs;
runs alternate tl, torch, torch, tl, ... (``--rounds`` of each). Epoch 1 includes warm-up (Numba
compilation or cache load, BLAS start-up) and is reported apart; the steady-state time is the
median of epochs 2..E over all runs. Memory: peak resident set size of the process (includes the
interpreter, the library import and the data) and the RSS after each epoch, to show that training
does not grow. Round i uses seed + i in both libraries; the test accuracy after the last epoch
(evaluated outside the timed region) is reported per seed.

    python bench/mnist_mlp.py                    # 3 rounds x 4 epochs (~4 minutes)
    python bench/mnist_mlp.py --model cnn --rounds 2 --epochs 3
    python bench/mnist_mlp.py --append-results   # also append the table to bench/RESULTS.md
    python bench/mnist_mlp.py --device cuda      # both libraries on the GPU, data resident there

With ``--device cuda`` both libraries hold the whole training set on the GPU (batches are device
indexing, no host copies), and each epoch's time ends with a device synchronisation.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing


def rss_mib() -> float:
    """Current resident set size of this process (Linux /proc; ru_maxrss elsewhere)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return peak_rss_mib()


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_arrays(train: bool = True, model: str = "mlp"):
    """Fashion-MNIST images float32 normalised, (N, 784) for the MLP and (N, 1, 28, 28) for the
    CNN, and labels int64 (NumPy)."""
    import tinygrad_lite as tl

    ds = tl.data.datasets.FashionMNIST(train=train, download=False)
    x, y = ds.to_tensors(normalize=True)
    return x.numpy().reshape(len(ds), *((-1,) if model == "mlp" else (1, 28, 28))), y.numpy()


def worker_tl(epochs: int, batch_size: int, seed: int, model_name: str = "mlp",
              device: str = "cpu") -> dict:
    sys.path.insert(0, str(ROOT / "examples"))
    import importlib

    ex = importlib.import_module(f"mnist_{model_name}")
    import training

    import tinygrad_lite as tl

    x, y = load_arrays(model=model_name)
    tl.manual_seed(seed)
    model = ex.build_model().to(device)
    opt = tl.optim.Adam(model.parameters(), lr=1e-3)
    data = tl.data.TensorDataset(tl.from_numpy(x).to(device), tl.from_numpy(y).to(device))
    loader = tl.data.DataLoader(data, batch_size=batch_size, shuffle=True, seed=seed)
    xt, yt = load_arrays(train=False, model=model_name)
    xt = tl.from_numpy(xt).to(device)
    sync = tl.cuda.synchronize if device != "cpu" else (lambda: None)
    times, rss, losses, accs = [], [], [], []
    for _ in range(epochs):
        sync()
        start = time.perf_counter()
        losses.append(training.train_epoch(model, opt, loader, progress=False))
        sync()
        times.append(time.perf_counter() - start)
        rss.append(rss_mib())
        accs.append(float((training.predict(model, xt) == yt).mean()))
    return {"times": times, "rss": rss, "losses": losses, "accs": accs, "peak": peak_rss_mib()}


def torch_model(name: str):
    """The torch twin of the example's model (torch's default initialisation)."""
    from torch import nn

    if name == "mlp":
        return nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3),
                         nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(64, 64, 3), nn.ReLU(), nn.Flatten(),
                         nn.Linear(576, 64), nn.ReLU(), nn.Linear(64, 10))


def worker_torch(epochs: int, batch_size: int, seed: int, model_name: str = "mlp",
                 device: str = "cpu") -> dict:
    import torch
    import torch.nn.functional as F

    x, y = load_arrays(model=model_name)
    x, y = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)
    torch.manual_seed(seed)
    model = torch_model(model_name).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(seed)
    xt, yt = load_arrays(train=False, model=model_name)
    xt = torch.from_numpy(xt).to(device)
    sync = torch.cuda.synchronize if device != "cpu" else (lambda: None)
    times, rss, losses, accs = [], [], [], []
    for _ in range(epochs):
        sync()
        start = time.perf_counter()
        model.train()
        perm = torch.randperm(x.shape[0], generator=gen).to(device)
        total, batches = None, 0
        for i in range(0, x.shape[0], batch_size):
            idx = perm[i:i + batch_size]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total = loss.detach() if total is None else total + loss.detach()
            batches += 1
        losses.append(total.item() / batches)  # .item() waits for the GPU
        sync()
        times.append(time.perf_counter() - start)
        rss.append(rss_mib())
        model.eval()
        with torch.no_grad():
            pred = torch.cat([model(xt[i:i + 1000]).argmax(1) for i in range(0, len(xt), 1000)])
            accs.append(float((pred.cpu().numpy() == yt).mean()))
    return {"times": times, "rss": rss, "losses": losses, "accs": accs, "peak": peak_rss_mib()}


def run_worker(lib: str, args, seed: int) -> dict:
    cmd = [sys.executable, __file__, "--worker", lib, "--epochs", str(args.epochs),
           "--batch-size", str(args.batch_size), "--seed", str(seed), "--model", args.model,
           "--device", args.device]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{lib} worker failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def gpu_name() -> str:
    """The GPU's name (through torch, which both GPU workers need anyway)."""
    try:
        import torch

        return torch.cuda.get_device_name(0)
    except Exception as exc:  # report what was measured even if the name is unavailable
        return f"name unavailable: {exc}"


def report(runs: dict[str, list[dict]], args) -> str:
    from bench._common import machine_line, versions_line

    def steady(lib):
        return [t for r in runs[lib] for t in r["times"][1:]]

    def first(lib):
        return [r["times"][0] for r in runs[lib]]

    ours, theirs = statistics.median(steady("tl")), statistics.median(steady("torch"))
    pairs = [statistics.median(a["times"][1:]) / statistics.median(b["times"][1:])
             for a, b in zip(runs["tl"], runs["torch"])]
    growth = [100 * (r["rss"][-1] / r["rss"][1] - 1) for r in runs["tl"]]
    growth_t = [100 * (r["rss"][-1] / r["rss"][1] - 1) for r in runs["torch"]]
    rows = [
        ("epoch time, epochs 2..E (median)", f"{ours:.2f} s", f"{theirs:.2f} s",
         f"{ours / theirs:.2f}"),
        ("epoch 1 (incl. warm-up)", f"{statistics.median(first('tl')):.2f} s",
         f"{statistics.median(first('torch')):.2f} s",
         f"{statistics.median(first('tl')) / statistics.median(first('torch')):.2f}"),
        ("median of per-round ratios", "", "", f"{statistics.median(pairs):.2f}"),
        ("peak RSS (process)", f"{statistics.median(r['peak'] for r in runs['tl']):.0f} MiB",
         f"{statistics.median(r['peak'] for r in runs['torch']):.0f} MiB", ""),
        (f"RSS growth epoch 2 -> {args.epochs}", f"{max(growth):+.1f}% (max)",
         f"{max(growth_t):+.1f}% (max)", ""),
    ]
    when = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    where = "CPU" if args.device == "cpu" else f"GPU ({gpu_name()})"
    lines = [f"### MNIST {args.model.upper()} epoch, {where} — {when}", "",
             f"- {versions_line()}", f"- {machine_line()}",
             f"- Fashion-MNIST train (60,000), batch {args.batch_size}, Adam 1e-3, float32; "
             f"{args.rounds} interleaved subprocess runs per library x {args.epochs} epochs "
             f"(`bench/mnist_mlp.py --model {args.model} --device {args.device}`)"
             + ("; data resident on the GPU, epoch timed to a synchronisation"
                if args.device != "cpu" else ""), "",
             "| measure | tl | torch | ratio tl/torch |", "|---|---:|---:|---:|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    lines.append("")
    lines.append("- mean train loss per epoch, first run: tl "
                 + ", ".join(f"{v:.4f}" for v in runs["tl"][0]["losses"]) + "; torch "
                 + ", ".join(f"{v:.4f}" for v in runs["torch"][0]["losses"]))
    for lib in ("tl", "torch"):
        finals = ", ".join(f"{100 * r['accs'][-1]:.2f}%" for r in runs[lib])
        lines.append(f"- {lib} test accuracy after epoch {args.epochs}, seeds "
                     f"{args.seed}..{args.seed + args.rounds - 1}: {finals}")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--model", choices=["mlp", "cnn"], default="mlp")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--worker", choices=["tl", "torch"], help=argparse.SUPPRESS)
    p.add_argument("--append-results", action="store_true")
    args = p.parse_args()
    if args.worker:
        fn = worker_tl if args.worker == "tl" else worker_torch
        print(json.dumps(fn(args.epochs, args.batch_size, args.seed, args.model, args.device)))
        return
    if args.epochs < 2:
        p.error("--epochs must be at least 2 (epoch 1 is warm-up)")
    runs: dict[str, list[dict]] = {"tl": [], "torch": []}
    for i in range(args.rounds):
        order = ("tl", "torch") if i % 2 == 0 else ("torch", "tl")
        for lib in order:
            r = run_worker(lib, args, args.seed + i)  # round i: seed + i in both libraries
            runs[lib].append(r)
            print(f"  round {i + 1} {lib}: " + ", ".join(f"{t:.2f}" for t in r["times"])
                  + f" s; peak {r['peak']:.0f} MiB; accuracy {100 * r['accs'][-1]:.2f}%",
                  file=sys.stderr, flush=True)
    text = report(runs, args)
    print(text)
    if args.append_results:
        from bench._common import append_results

        append_results(text)


if __name__ == "__main__":
    main()
