"""Shared pytest configuration: hypothesis profiles, and the data fixtures of the example tests.

``HYPOTHESIS_PROFILE=ci`` (the default) is derandomized and moderate, so CI runs are reproducible
and fast; ``HYPOTHESIS_PROFILE=dev`` draws many more (random) examples for local bug hunting:

    HYPOTHESIS_PROFILE=dev python -m pytest tests/ops
"""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import tinygrad_lite as tl
from tinygrad_lite.data.idx import write_idx

_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large]

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    max_examples=25,
    database=None,
    print_blob=True,
    suppress_health_check=_SLOW_OK,
)
settings.register_profile(
    "dev",
    deadline=None,
    max_examples=100,
    print_blob=True,
    suppress_health_check=_SLOW_OK,
)

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)


def pytest_report_header(config):
    s = settings.default
    return (
        f"hypothesis profile: {PROFILE} (max_examples={s.max_examples}, "
        f"derandomize={s.derandomize})"
    )


# ---- shared by the example tests ---------------------------------------------------------------
@pytest.fixture(scope="session")
def tiny_mnist(tmp_path_factory):
    """A small MNIST-shaped dataset (learnable: the label is encoded in bright pixels)."""
    root = tmp_path_factory.mktemp("tiny_mnist")
    rng = np.random.default_rng(0)
    for split, n in (("train", 640), ("t10k", 200)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
        for i, c in enumerate(labels):
            images[i, c * 2:c * 2 + 3, 5:20] = 255
        write_idx(root / f"{split}-images-idx3-ubyte.gz", images)
        write_idx(root / f"{split}-labels-idx1-ubyte.gz", labels)
    return root


@pytest.fixture(scope="session")
def fashion_mnist() -> None:
    """Skips the test, saying why, when the real Fashion-MNIST files are not installed."""
    try:
        tl.data.datasets.FashionMNIST(train=False, download=False)
    except Exception as exc:  # noqa: BLE001 - any failure means "skip, and say why"
        pytest.skip(f"Fashion-MNIST not found ({type(exc).__name__}); install the Debian "
                    f"package dataset-fashion-mnist (.ci/run does)")
