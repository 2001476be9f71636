"""``examples/mnist_mlp.py --device cuda``: the whole data set lives on the GPU, batches are
indexed there (no per-batch host copies), and training gives the CPU run's numbers."""

from __future__ import annotations

import numpy as np

import tinygrad_lite as tl
from example_loader import load_example

ex = load_example("mnist_mlp")
ARGS = ["--epochs", "2", "--no-progress", "--seed", "5"]
BATCH = 64


class HostUploads:
    """Counts host -> GPU copies of batch-sized arrays made through the cuda device while on."""

    def __init__(self, monkeypatch, device):
        self.on = False
        self.seen: list[tuple] = []
        for name in ("from_numpy", "asarray"):
            original = getattr(device, name)
            monkeypatch.setattr(device, name, self._wrap(original))

    def _wrap(self, original):
        def upload(data, *args, **kwargs):
            if self.on and isinstance(data, np.ndarray) and data.ndim >= 1 \
                    and data.shape[0] == BATCH:
                self.seen.append((data.shape, data.dtype))
            return original(data, *args, **kwargs)
        return upload


def test_mnist_mlp_on_cuda_keeps_data_on_gpu_and_matches_cpu(tiny_mnist, monkeypatch, capsys):
    cpu = ex.main(["--data-dir", str(tiny_mnist), *ARGS])
    cpu_out = capsys.readouterr().out

    cuda = tl.device("cuda")
    uploads = HostUploads(monkeypatch, cuda)
    batches = []
    base = ex.training.DataLoader

    class CheckedLoader(base):
        """The example's DataLoader, asserting where the data set and every batch live."""

        def __iter__(self):
            for t in self.dataset.tensors:
                assert t.device.type == "cuda", f"data set tensor {tuple(t.shape)} on {t.device}"
            uploads.on = True
            try:
                for xb, yb in super().__iter__():
                    assert xb.device.type == "cuda" and yb.device.type == "cuda", \
                        f"a batch came on {xb.device} / {yb.device}"
                    assert type(xb._data).__module__.split(".")[0] == "cupy", type(xb._data)
                    batches.append(tuple(xb.shape))
                    yield xb, yb
            finally:
                uploads.on = False

    monkeypatch.setattr(ex.training, "DataLoader", CheckedLoader)
    gpu = ex.main(["--data-dir", str(tiny_mnist), "--device", "cuda", *ARGS])
    gpu_out = capsys.readouterr().out

    assert len(batches) == 2 * 10 and batches[0] == (BATCH, 784), batches[:3]
    assert uploads.seen == [], f"batch-sized host -> GPU copies during training: {uploads.seen}"
    assert "device cuda" in gpu_out and "device cpu" in cpu_out
    assert gpu_out.count("epoch ") == cpu_out.count("epoch ") == 2
    assert "confusion matrix" in gpu_out and "macro precision" in gpu_out
    np.testing.assert_allclose(gpu["losses"], cpu["losses"], rtol=5e-3,
                               err_msg="training losses per epoch, cuda vs CPU")
    for a, b in zip(gpu["accuracies"], cpu["accuracies"]):
        assert abs(a - b) <= 0.025, (gpu["accuracies"], cpu["accuracies"])
    assert gpu["accuracies"][-1] > 0.8


def test_mnist_mlp_checkpoint_from_cuda_resumes_on_cpu(tiny_mnist, tmp_path):
    ckpt = tmp_path / "mlp.safetensors"
    ex.main(["--data-dir", str(tiny_mnist), "--device", "cuda", "--epochs", "1", "--no-progress",
             "--seed", "2", "--save", str(ckpt)])
    state = tl.load(ckpt)
    assert state["epoch"] == 1
    assert all(t.device.type == "cpu" for t in state["model"].values())
    rest = ex.main(["--data-dir", str(tiny_mnist), "--epochs", "2", "--no-progress",
                    "--seed", "2", "--resume", str(ckpt)])
    assert len(rest["losses"]) == 1 and rest["accuracies"][-1] > 0.8
