"""The main example (examples/mnist_mlp.py): its training matches torch step for step, its
metrics are right, its CLI fails clearly, runs are reproducible and resumable, and one epoch on
the real Fashion-MNIST data learns."""

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
SCRIPT = ROOT / "examples" / "mnist_mlp.py"


ex = load_example("mnist_mlp")


def _torch_twin(model) -> torch.nn.Module:
    twin = torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.ReLU(),
                               torch.nn.Linear(128, 10))
    with torch.no_grad():
        for (name, p), (tname, tp) in zip(model.named_parameters(), twin.named_parameters()):
            assert name == tname
            tp.copy_(torch.from_numpy(p.detach().numpy().copy()))
    return twin


def test_fifty_steps_match_torch_loss_curve():
    """Same weights, same batches (the loader's order), float32: losses agree to rtol 1e-5."""
    rng = np.random.default_rng(0)
    n = 50 * 64
    x = rng.standard_normal((n, 784)).astype(np.float32)
    y = (x @ rng.standard_normal((784, 10))).argmax(1).astype(np.int64)  # learnable labels
    tl.manual_seed(0)
    model = ex.build_model()
    twin = _torch_twin(model)
    opt = tl.optim.Adam(model.parameters(), lr=1e-3)
    topt = torch.optim.Adam(twin.parameters(), lr=1e-3)
    loader = DataLoader(TensorDataset(tl.from_numpy(x), tl.from_numpy(y),
                                      tl.arange(n)), batch_size=64, shuffle=True, seed=3)
    ours, theirs = [], []
    for xb, yb, idx in loader:
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        ours.append(loss.item())
        i = torch.from_numpy(idx.numpy())
        tloss = torch.nn.functional.cross_entropy(twin(torch.from_numpy(x)[i]),
                                                  torch.from_numpy(y)[i])
        topt.zero_grad()
        tloss.backward()
        topt.step()
        theirs.append(tloss.item())
    assert len(ours) == 50
    assert np.mean(ours[-10:]) < np.mean(ours[:10])  # it learns
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=0)
    for p, tp in zip(model.parameters(), twin.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), tp.detach().numpy(), rtol=1e-4,
                                   atol=1e-5)


def test_default_init_matches_torch_bounds():
    tl.manual_seed(1)
    model = ex.build_model()
    for p, fan_in in zip(model.parameters(), (784, 784, 128, 128)):
        bound = 1 / np.sqrt(fan_in)
        v = p.detach().numpy()
        assert v.dtype == np.float32
        assert np.abs(v).max() <= bound
        assert np.abs(v).max() > 0.9 * bound  # spread over the whole range


def test_confusion_matrix_and_macro_scores_by_hand():
    target = np.array([0, 0, 0, 1, 1, 2])
    pred = np.array([0, 0, 1, 1, 2, 2])
    cm = ex.confusion_matrix(pred, target, 3)
    np.testing.assert_array_equal(cm, [[2, 1, 0], [0, 1, 1], [0, 0, 1]])
    s = ex.macro_scores(cm)
    # precision per class: 2/2, 1/2, 1/2; recall: 2/3, 1/2, 1/1
    p = [1.0, 0.5, 0.5]
    r = [2 / 3, 0.5, 1.0]
    f1 = [2 * a * b / (a + b) for a, b in zip(p, r)]
    assert s["accuracy"] == pytest.approx(4 / 6)
    assert s["precision"] == pytest.approx(np.mean(p))
    assert s["recall"] == pytest.approx(np.mean(r))
    assert s["f1"] == pytest.approx(np.mean(f1))
    # a class never predicted: precision 0 (no division warning), recall 0
    cm2 = ex.confusion_matrix(np.array([0, 0]), np.array([0, 1]), 2)
    assert ex.macro_scores(cm2)["precision"] == pytest.approx(0.25)
    assert "T-shirt" in ex.format_confusion(cm, ["T-shirt/top", "Trouser", "Pullover"])


def _run(tiny_root, *extra):
    return ex.main(["--data-dir", str(tiny_root), "--epochs", "2", "--no-progress", *extra])


def test_same_seed_same_numbers_and_learns(tiny_mnist, capsys):
    a = _run(tiny_mnist, "--seed", "5")
    b = _run(tiny_mnist, "--seed", "5")
    c = _run(tiny_mnist, "--seed", "6")
    with_bars = ex.main(["--data-dir", str(tiny_mnist), "--epochs", "2", "--seed", "5"])
    assert a["losses"] == b["losses"] and a["accuracies"] == b["accuracies"]
    assert with_bars["losses"] == a["losses"]  # progress bars don't change the batch order
    assert a["losses"] != c["losses"]
    assert a["accuracies"][-1] > 0.8
    out = capsys.readouterr().out
    assert "epoch 2/2" in out and "test accuracy" in out and "confusion matrix" in out
    assert "macro precision" in out and "F1" in out


def test_checkpoint_resume_continues_the_same_curve(tiny_mnist, tmp_path):
    full = ex.main(["--data-dir", str(tiny_mnist), "--epochs", "3", "--no-progress",
                    "--seed", "2"])
    ckpt = tmp_path / "mlp.safetensors"
    first = ex.main(["--data-dir", str(tiny_mnist), "--epochs", "1", "--no-progress",
                     "--seed", "2", "--save", str(ckpt)])
    assert ckpt.exists()
    state = tl.load(ckpt)
    assert state["epoch"] == 1 and set(state) >= {"model", "optimizer", "epoch"}
    rest = ex.main(["--data-dir", str(tiny_mnist), "--epochs", "3", "--no-progress",
                    "--seed", "2", "--resume", str(ckpt)])
    np.testing.assert_allclose(first["losses"] + rest["losses"], full["losses"], rtol=1e-6)
    assert rest["accuracies"][-1] == full["accuracies"][-1]


def test_plot_writes_png(tiny_mnist, tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "curves.png"
    _run(tiny_mnist, "--plot", str(png))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_without_matplotlib_is_a_clear_error(tiny_mnist, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import fails
    with pytest.raises(SystemExit, match="matplotlib"):
        _run(tiny_mnist, "--plot", "x.png")


def _cli(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)


@pytest.mark.skipif(tl.cuda.is_available(), reason="a GPU is present")
def test_cuda_without_gpu_is_a_clear_error_not_a_traceback():
    out = _cli("--device", "cuda", "--epochs", "1")
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
    assert "error:" in out.stderr and "cuda" in out.stderr.lower()


def test_missing_data_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYGRAD_LITE_DATA", str(tmp_path / "nothing"))
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(SystemExit, match="looked"):
        ex.main(["--data-dir", str(tmp_path / "empty"), "--no-progress", "--no-download"])


def test_one_epoch_on_fashion_mnist_reaches_80_percent(fashion_mnist):
    result = ex.main(["--dataset", "fashion-mnist", "--epochs", "1", "--no-progress"])
    assert result["accuracies"][0] >= 0.80, result
