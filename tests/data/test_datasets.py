"""MNIST / Fashion-MNIST on the real files: the shared MNIST test set and Debian's Fashion-MNIST."""

import numpy as np
import pytest
import torch

import tinygrad_lite as tl
from tinygrad_lite.data import DataLoader
from tinygrad_lite.data.datasets import MNIST, FashionMNIST

from . import DEBIAN_FASHION, SHARED_MNIST, isolate_env, sha256

needs_fashion = pytest.mark.skipif(
    not (DEBIAN_FASHION / "train-images-idx3-ubyte.gz").is_file(),
    reason="Debian package dataset-fashion-mnist is not installed "
           "(apt-get install dataset-fashion-mnist)")
needs_mnist = pytest.mark.skipif(not (SHARED_MNIST / "t10k-images-idx3-ubyte.gz").is_file(),
                                 reason=f"real MNIST test files not found at {SHARED_MNIST}")


@pytest.fixture
def home(monkeypatch, tmp_path):
    return isolate_env(monkeypatch, tmp_path)


@pytest.fixture(scope="module")
def fashion_test():
    # module-scoped fixtures run before `home` isolates the lookup, so name the directory
    return FashionMNIST(root=DEBIAN_FASHION, train=False, download=False)


def _torch_reference(images: np.ndarray, mean: float, std: float) -> torch.Tensor:
    """What torchvision's ToTensor() + Normalize((mean,), (std,)) compute, in torch."""
    x = torch.from_numpy(images).unsqueeze(1).float().div(255)
    return x.sub_(torch.tensor(mean)).div_(torch.tensor(std))


@needs_fashion
def test_fashion_from_the_debian_directory(home, fashion_test):
    for name, digest in FashionMNIST.resources.items():
        assert sha256((DEBIAN_FASHION / name).read_bytes()) == digest, name
    train = FashionMNIST(download=False)
    assert train.image_file.parent == DEBIAN_FASHION
    for ds, n in ((train, 60000), (fashion_test, 10000)):
        assert len(ds) == n
        assert ds.data.shape == (n, 28, 28) and ds.data.dtype == tl.uint8
        assert ds.targets.shape == (n,) and ds.targets.dtype == tl.int64
        # Fashion-MNIST is balanced: 6000 / 1000 images per class
        assert np.bincount(ds.targets.numpy()).tolist() == [n // 10] * 10
    assert train.classes[0] == "T-shirt/top" and train.classes[9] == "Ankle boot"
    image, label = fashion_test[0]
    assert isinstance(label, int) and label == 9  # the first test image is an ankle boot
    assert image.shape == (28, 28) and image.dtype == tl.uint8
    np.testing.assert_array_equal(image.numpy(), fashion_test.data.numpy()[0])
    # canonical training statistics (0.2860, 0.3530) are what the data says
    counts = np.bincount(train.data.numpy().ravel(), minlength=256)
    levels = np.arange(256) / 255.0
    mean = (counts * levels).sum() / counts.sum()
    std = np.sqrt((counts * (levels - mean) ** 2).sum() / counts.sum())
    assert abs(mean - 0.2860) < 5e-4 and abs(std - 0.3530) < 5e-4


@needs_fashion
def test_fashion_to_tensors_matches_torchvision_transform(fashion_test):
    x, y = fashion_test.to_tensors()
    assert x.shape == (10000, 1, 28, 28) and x.dtype == tl.float32
    assert y.shape == (10000,) and y.dtype == tl.int64
    expected = _torch_reference(fashion_test.data.numpy(), 0.2860, 0.3530)
    tl.testing.assert_close(x, expected)
    np.testing.assert_array_equal(y.numpy(), fashion_test.targets.numpy())
    raw, _ = fashion_test.to_tensors(normalize=False)
    tl.testing.assert_close(raw, torch.from_numpy(fashion_test.data.numpy()).unsqueeze(1) / 255.0)
    assert float(raw.min()) == 0.0 and float(raw.max()) == 1.0
    # the labels returned don't alias the dataset's targets
    y[0] = 3
    assert int(fashion_test.targets[0]) == 9


@needs_fashion
def test_fashion_batches_through_the_dataloader(fashion_test):
    loader = DataLoader(fashion_test, batch_size=1000, shuffle=True, seed=0)
    seen = []
    for images, labels in loader:
        assert images.dtype == tl.uint8 and labels.dtype == tl.int64
        seen.append(labels.numpy())
    assert len(seen) == 10
    np.testing.assert_array_equal(np.bincount(np.concatenate(seen)), [1000] * 10)


@needs_fashion
def test_root_and_cache_come_before_the_debian_directory(tmp_path, home):
    from . import make_split

    images, _, files = make_split(n=5, seed=3, train=False)
    cache = home / ".cache" / "tinygrad_lite" / "fashion-mnist"
    cache.mkdir(parents=True)
    for name, blob in files.items():
        (cache / name).write_bytes(blob)
    ds = FashionMNIST(train=False, download=False)
    np.testing.assert_array_equal(ds.data.numpy(), images)
    assert len(FashionMNIST(train=True, download=False)) == 60000  # train: still the package


@needs_mnist
def test_mnist_test_set_from_root(home):
    ds = MNIST(root=SHARED_MNIST, train=False, download=False)
    assert len(ds) == 10000 and ds.data.shape == (10000, 28, 28)
    assert [ds[i][1] for i in range(5)] == [7, 2, 1, 0, 4]
    assert ds.classes[7] == "7 - seven" and ds.class_to_idx["7 - seven"] == 7
    x, y = ds.to_tensors()
    tl.testing.assert_close(x, _torch_reference(ds.data.numpy(), 0.1307, 0.3081))
    assert y.tolist()[:5] == [7, 2, 1, 0, 4]
    assert "Number of datapoints: 10000" in repr(ds) and "Split: Test" in repr(ds)


@needs_mnist
def test_transforms_are_applied_per_sample(home):
    ds = MNIST(root=SHARED_MNIST, train=False, download=False,
               transform=lambda img: img.float() / 255, target_transform=lambda y: y + 100)
    image, label = ds[0]
    assert image.dtype == tl.float32 and label == 107
    # with transforms the DataLoader must call __getitem__ (no whole-batch indexing)
    images, labels = next(iter(DataLoader(ds, batch_size=4)))
    assert images.dtype == tl.float32 and labels.tolist() == [107, 102, 101, 100]
