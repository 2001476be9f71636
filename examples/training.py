"""What the MNIST examples share: data, the training loop, metrics, checkpoints, plots, the CLI.

``examples/mnist_mlp.py`` and ``examples/mnist_cnn.py`` differ only in the model (and its input
layout); both call :func:`main` here, so their flags and output are the same.
"""

from __future__ import annotations

import argparse
import math
import time
from typing import Callable

import numpy as np

import tinygrad_lite as tl
from tinygrad_lite import nn
from tinygrad_lite.data import DataLoader, TensorDataset
from tinygrad_lite.nn import functional as F

DATASETS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}


def load_data(name: str, data_dir: str | None, device, download: bool = True,
              flatten: bool = True) -> tuple:
    """(x_train, y_train int64, x_test, y_test, class names) on ``device``.

    Images are normalised float32, (N, 784) with ``flatten`` and (N, 1, 28, 28) without.
    """
    cls = getattr(tl.data.datasets, DATASETS[name])
    out = []
    for train in (True, False):
        ds = cls(root=data_dir, train=train, download=download)
        x, y = ds.to_tensors(normalize=True, device=device)
        out += [x.reshape(x.shape[0], -1) if flatten else x.reshape(x.shape[0], 1, 28, 28), y]
    return (*out, list(ds.classes))


def train_epoch(model: nn.Module, optimizer: tl.optim.Optimizer, loader: DataLoader,
                progress: bool = True, desc: str = "") -> float:
    """One pass over ``loader``; returns the mean training loss."""
    model.train()
    total, batches = None, 0
    bar = _progress(loader, progress, desc)
    for xb, yb in bar:
        loss = F.cross_entropy(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total = loss.detach() if total is None else total + loss.detach()  # no per-step sync
        batches += 1
        if progress and batches % 50 == 0:
            bar.set_postfix(loss=f"{total.item() / batches:.4f}")
    return total.item() / batches


@tl.no_grad()
def predict(model: nn.Module, x: tl.Tensor, batch_size: int = 1000) -> np.ndarray:
    """Predicted class per row of ``x`` (evaluation mode, batched)."""
    model.eval()
    preds = [model(x[i:i + batch_size]).argmax(1).numpy() for i in range(0, x.shape[0],
                                                                         batch_size)]
    return np.concatenate(preds) if preds else np.zeros(0, dtype=np.int64)


def confusion_matrix(pred: np.ndarray, target: np.ndarray, num_classes: int) -> np.ndarray:
    """counts[i, j] = how many samples of true class i were predicted as j."""
    return np.bincount(target * num_classes + pred,
                       minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def macro_scores(cm: np.ndarray) -> dict[str, float]:
    """Accuracy and macro-averaged precision, recall and F1 from a confusion matrix (a class
    with no predictions has precision 0, as scikit-learn's zero_division=0)."""
    tp = np.diag(cm).astype(np.float64)
    predicted, actual = cm.sum(0), cm.sum(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(actual > 0, tp / actual, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return {"accuracy": float(tp.sum() / max(cm.sum(), 1)), "precision": float(precision.mean()),
            "recall": float(recall.mean()), "f1": float(f1.mean())}


def format_confusion(cm: np.ndarray, classes: list[str]) -> str:
    """The confusion matrix as text: one row per true class (index and name), one column per
    predicted class (index)."""
    width = max(6, len(str(cm.max())) + 1)
    label = max(len(c) for c in classes) + 4 if classes else 4
    head = " " * label + "".join(f"{i:>{width}}" for i in range(len(cm)))
    rows = [f"{i:>2} {classes[i]:<{label - 3}}" + "".join(f"{v:>{width}}" for v in row)
            for i, row in enumerate(cm)]
    return "\n".join([head] + rows)


def resume(path: str, model: nn.Module, optimizer: tl.optim.Optimizer, seed: int) -> int:
    """Load a --save checkpoint into ``model`` and ``optimizer``; returns its epoch."""
    try:
        state = tl.load(path)
    except (OSError, ValueError) as exc:
        raise SystemExit(f"error: --resume: {exc}") from None
    if state.get("seed") != seed:
        raise SystemExit(f"error: --resume: the checkpoint was trained with --seed "
                         f"{state.get('seed')}, not {seed}; the batch order would differ")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    return int(state["epoch"])


def epoch_lr(lr: float, schedule: str, epoch: int, epochs: int) -> float:
    """The learning rate of ``epoch`` (1-based): ``lr``, or with "cosine" annealed as
    lr * (1 + cos(pi * (epoch - 1) / epochs)) / 2 (torch's CosineAnnealingLR with T_max=epochs,
    stepped per epoch). A closed form, so a resumed run continues the same schedule."""
    if schedule == "constant":
        return lr
    return lr * (1 + math.cos(math.pi * (epoch - 1) / epochs)) / 2


def _progress(iterable, enabled: bool, desc: str):
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, leave=False, unit="batch", dynamic_ncols=True)


def _check_plot_backend(path: str | None) -> None:
    if path is None:
        return
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise SystemExit("error: --plot needs matplotlib, which is not installed; install it with "
                         "pip install 'tinygrad-lite[plot]' (or pip install matplotlib)") from None


def plot_curves(path: str, losses: list[float], accs: list[float]) -> None:
    """Write a PNG with the training loss and test accuracy per epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = range(1, len(losses) + 1)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax1.plot(epochs, losses, marker="o")
    ax1.set(xlabel="epoch", ylabel="train loss", title="training loss")
    ax2.plot(epochs, [100 * a for a in accs], marker="o", color="tab:green")
    ax2.set(xlabel="epoch", ylabel="test accuracy (%)", title="test accuracy")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def parse_args(argv=None, description: str = "", lr: float = 1e-3,
               schedule: str = "constant") -> argparse.Namespace:
    """The examples' flags (the same for every MNIST example); ``lr`` and ``schedule`` are the
    example's defaults for --lr and --schedule."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--dataset", default="mnist", choices=sorted(DATASETS))
    p.add_argument("--data-dir", default=None, help="directory with the IDX files (optional)")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=lr)
    p.add_argument("--schedule", choices=["constant", "cosine"], default=schedule,
                   help="learning rate per epoch: constant, or cosine annealing from --lr to 0 "
                        f"over --epochs (default: {schedule})")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save", default=None, metavar="PATH",
                   help="write a safetensors checkpoint (model, optimizer, epoch) after each epoch")
    p.add_argument("--resume", default=None, metavar="PATH",
                   help="continue from a --save checkpoint (same seed: the same curve as one run)")
    p.add_argument("--plot", default=None, metavar="PATH", help="PNG of the loss/accuracy curves")
    p.add_argument("--no-download", action="store_true", help="only use files already present")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = p.parse_args(argv)
    for name in ("epochs", "batch_size"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if not args.lr > 0 or not math.isfinite(args.lr):
        p.error("--lr must be a positive number")
    return args


def main(args: argparse.Namespace, build_model: Callable[..., nn.Module],
         flatten: bool) -> dict:
    """Train ``build_model(device)`` with Adam(lr) (and the --schedule) and report.

    Prints one line per epoch (train loss, test accuracy, seconds), then the macro metrics and
    the confusion matrix; returns ``{"losses", "accuracies", "seconds", "accuracy",
    "precision", "recall", "f1"}``.
    """
    _check_plot_backend(args.plot)
    try:
        device = tl.device(args.device)
    except RuntimeError as exc:
        raise SystemExit(f"error: {exc}") from None
    tl.manual_seed(args.seed)
    try:
        x_train, y_train, x_test, y_test, classes = load_data(
            args.dataset, args.data_dir, device, not args.no_download, flatten)
    except (RuntimeError, OSError, ValueError) as exc:
        raise SystemExit(f"error: {exc}") from None
    print(f"{args.dataset}: {x_train.shape[0]} train / {x_test.shape[0]} test images, "
          f"device {device}, seed {args.seed}")

    model = build_model(device)
    optimizer = tl.optim.Adam(model.parameters(), lr=args.lr)
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=args.batch_size,
                        shuffle=True, seed=args.seed)
    start_epoch = 1
    if args.resume:
        start_epoch = resume(args.resume, model, optimizer, args.seed) + 1
        loader.set_epoch(start_epoch - 1)
        print(f"resumed from {args.resume} after epoch {start_epoch - 1}")
    y_true = y_test.numpy()
    losses, accs, times = [], [], []
    for epoch in range(start_epoch, args.epochs + 1):
        for group in optimizer.param_groups:
            group["lr"] = epoch_lr(args.lr, args.schedule, epoch, args.epochs)
        start = time.perf_counter()
        loss = train_epoch(model, optimizer, loader, not args.no_progress,
                           f"epoch {epoch}/{args.epochs}")
        seconds = time.perf_counter() - start
        acc = float((predict(model, x_test) == y_true).mean())
        losses.append(loss)
        accs.append(acc)
        times.append(seconds)
        print(f"epoch {epoch}/{args.epochs}  train loss {loss:.4f}  test accuracy "
              f"{100 * acc:.2f}%  {seconds:.2f} s", flush=True)
        if args.save:
            tl.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                     "epoch": epoch, "seed": args.seed}, args.save)

    cm = confusion_matrix(predict(model, x_test), y_true, len(classes))
    scores = macro_scores(cm)
    print(f"\ntest accuracy {100 * scores['accuracy']:.2f}%  macro precision "
          f"{scores['precision']:.4f}  recall {scores['recall']:.4f}  F1 {scores['f1']:.4f}")
    print("confusion matrix (rows: true class, columns: predicted)")
    print(format_confusion(cm, classes))
    if args.save:
        print(f"checkpoint: {args.save}")
    if args.plot:
        plot_curves(args.plot, losses, accs)
        print(f"plot: {args.plot}")
    return {"losses": losses, "accuracies": accs, "seconds": times, **scores}
