"""Train the small CNN on MNIST or Fashion-MNIST (the convolution example).

    python examples/mnist_cnn.py --dataset fashion-mnist            # 5 epochs on the CPU
    python examples/mnist_cnn.py --device cuda --save cnn.safetensors --plot curves.png

Model (models.MNISTCNN): Conv(32, 3x3) ReLU MaxPool(2) Conv(64, 3x3) ReLU MaxPool(2)
Conv(64, 3x3) ReLU Flatten Linear(64) ReLU Linear(10); softmax cross-entropy, Adam(lr=1e-3)
with the learning rate annealed to 0 over the epochs (cosine, stepped per epoch), batch 64.
Flags, output and checkpoints are those of mnist_mlp.py (both use training.py).
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # training.py, models.py

import training  # noqa: E402
from models import MNISTCNN  # noqa: E402

from tinygrad_lite import nn  # noqa: E402


def build_model(device="cpu") -> nn.Module:
    """The MNIST CNN with torch's default initialisation, on ``device``."""
    return MNISTCNN().to(device)


def parse_args(argv=None):
    return training.parse_args(argv, __doc__.split("\n\n")[0], schedule="cosine")


def main(argv=None) -> dict:
    return training.main(parse_args(argv), build_model, flatten=False)


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
