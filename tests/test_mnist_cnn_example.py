"""The convolution example (examples/mnist_cnn.py): step-for-step equal to torch, the same CLI
and output as mnist_mlp.py, checkpoints, and learning on real Fashion-MNIST images."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import tinygrad_lite as tl
from tinygrad_lite.data import DataLoader, TensorDataset
from tinygrad_lite.nn import functional as F

from example_loader import load_example

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "examples" / "mnist_cnn.py"


ex = load_example("mnist_cnn")


def _torch_twin(model) -> torch.nn.Module:
    tnn = torch.nn
    twin = tnn.Sequential(tnn.Conv2d(1, 32, 3), tnn.ReLU(), tnn.MaxPool2d(2),
                          tnn.Conv2d(32, 64, 3), tnn.ReLU(), tnn.MaxPool2d(2),
                          tnn.Conv2d(64, 64, 3), tnn.ReLU(), tnn.Flatten(),
                          tnn.Linear(576, 64), tnn.ReLU(), tnn.Linear(64, 10))
    ours = [p for _, p in model.named_parameters()]
    theirs = list(twin.parameters())
    assert [tuple(p.shape) for p in ours] == [tuple(p.shape) for p in theirs]
    with torch.no_grad():
        for p, tp in zip(ours, theirs):
            tp.copy_(torch.from_numpy(p.detach().numpy().copy()))
    return twin


def test_thirty_steps_match_torch_loss_curve():
    """Same weights, same batches, float32, Adam: the losses agree to rtol 1e-4 (float32
    convolutions sum in a different order than torch's, so not bit for bit)."""
    rng = np.random.default_rng(0)
    n = 30 * 32
    x = rng.standard_normal((n, 1, 28, 28)).astype(np.float32)
    y = (x.reshape(n, -1) @ rng.standard_normal((784, 10))).argmax(1).astype(np.int64)
    tl.manual_seed(0)
    model = ex.build_model()
    twin = _torch_twin(model)
    opt = tl.optim.Adam(model.parameters(), lr=1e-3)
    topt = torch.optim.Adam(twin.parameters(), lr=1e-3)
    loader = DataLoader(TensorDataset(tl.from_numpy(x), tl.from_numpy(y), tl.arange(n)),
                        batch_size=32, shuffle=True, seed=1)
    ours, theirs = [], []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # torch's OpenMP pool and Numba's/OpenBLAS's fight over 2 cores
    try:
        _train_side_by_side(model, twin, opt, topt, loader, x, y, ours, theirs)
    finally:
        torch.set_num_threads(threads)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4)
    assert ours[-1] < ours[0]


def _train_side_by_side(model, twin, opt, topt, loader, x, y, ours, theirs):
    for xb, yb, idx in loader:
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        i = torch.from_numpy(idx.numpy())
        tloss = torch.nn.functional.cross_entropy(twin(torch.from_numpy(x)[i]),
                                                  torch.from_numpy(y)[i])
        topt.zero_grad()
        tloss.backward()
        topt.step()
        ours.append(loss.item())
        theirs.append(tloss.item())


def _run(root, *extra):
    return ex.main(["--data-dir", str(root), "--epochs", "2", "--no-progress", *extra])


def test_same_flags_and_output_as_the_mlp_example(tiny_mnist, tmp_path, capsys):
    a = _run(tiny_mnist, "--seed", "3")
    b = _run(tiny_mnist, "--seed", "3")
    assert a["losses"] == b["losses"] and a["accuracies"] == b["accuracies"]
    assert a["accuracies"][-1] > 0.8  # the tiny set is learnable
    out = capsys.readouterr().out
    assert "epoch 2/2" in out and "test accuracy" in out and "confusion matrix" in out
    assert "macro precision" in out and "F1" in out
    assert set(a) >= {"losses", "accuracies", "seconds", "accuracy", "precision", "recall", "f1"}


def test_checkpoint_resume_continues_the_same_curve(tiny_mnist, tmp_path):
    full = _run(tiny_mnist, "--seed", "2", "--schedule", "constant")
    ckpt = tmp_path / "cnn.safetensors"
    first = ex.main(["--data-dir", str(tiny_mnist), "--epochs", "1", "--no-progress",
                     "--seed", "2", "--save", str(ckpt), "--schedule", "constant"])
    state = tl.load(ckpt)
    assert "features.0.weight" in state["model"] and state["epoch"] == 1
    rest = _run(tiny_mnist, "--seed", "2", "--resume", str(ckpt), "--schedule", "constant")
    np.testing.assert_allclose(first["losses"] + rest["losses"], full["losses"], rtol=1e-6)


def test_plot_writes_png(tiny_mnist, tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "curves.png"
    _run(tiny_mnist, "--plot", str(png))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_flags_are_clear_errors():
    out = subprocess.run([sys.executable, str(SCRIPT), "--epochs", "0"], capture_output=True,
                         text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 2 and "--epochs must be at least 1" in out.stderr


def test_learns_real_fashion_mnist_images(fashion_mnist):
    """One pass over 4,000 real training images (a time budget, not the full epoch the
    README reports) already classifies the test set far above chance."""
    x, y, xt, yt, classes = ex.training.load_data("fashion-mnist", None, "cpu", False,
                                                  flatten=False)
    assert tuple(x.shape[1:]) == (1, 28, 28) and len(classes) == 10
    tl.manual_seed(0)
    model = ex.build_model()
    opt = tl.optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(TensorDataset(x[:4000], y[:4000]), batch_size=64, shuffle=True, seed=0)
    ex.training.train_epoch(model, opt, loader, progress=False)
    acc = float((ex.training.predict(model, xt[:2000]) == yt[:2000].numpy()).mean())
    assert acc >= 0.70, acc


def test_cosine_schedule_is_torchs_and_survives_resume(tiny_mnist, tmp_path):
    """--schedule cosine (the CNN's default) gives torch's CosineAnnealingLR(T_max=epochs)
    learning rates, and checkpoints resume on the same schedule (it is a closed form)."""
    opt = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=5)
    for epoch in range(1, 6):
        assert ex.training.epoch_lr(1e-3, "cosine", epoch, 5) == pytest.approx(
            opt.param_groups[0]["lr"], rel=1e-12)
        opt.step()
        sched.step()
    assert ex.training.epoch_lr(1e-3, "constant", 4, 5) == 1e-3
    assert ex.parse_args([]).schedule == "cosine"
    full = _run(tiny_mnist, "--seed", "4")
    ckpt = tmp_path / "cnn.safetensors"
    ex.main(["--data-dir", str(tiny_mnist), "--epochs", "1", "--no-progress", "--seed", "4",
             "--save", str(ckpt)])
    rest = _run(tiny_mnist, "--seed", "4", "--resume", str(ckpt))
    np.testing.assert_allclose(rest["losses"], full["losses"][1:], rtol=1e-6)
