"""Train a two-layer MLP on MNIST or Fashion-MNIST: the project's main job.

    python examples/mnist_mlp.py --dataset fashion-mnist            # 5 epochs on the CPU
    python examples/mnist_mlp.py --device cuda --save mlp.safetensors --plot curves.png

Model: Linear(784, 128) -> ReLU -> Linear(128, 10), softmax cross-entropy, Adam(lr=1e-3),
batch 64. The data lives in memory as two tensors; a batch is one fancy index. Same seed and
device give identical numbers. The loop, metrics and flags are in ``training.py`` (shared with
``mnist_cnn.py``); the functions are importable from here (the tests train with them).
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # training.py, models.py

from training import (DATASETS, confusion_matrix, format_confusion, load_data,  # noqa: E402,F401
                      macro_scores, plot_curves, predict, resume, train_epoch)
import training  # noqa: E402

from tinygrad_lite import nn  # noqa: E402


def build_model(device="cpu") -> nn.Module:
    """Linear(784, 128) -> ReLU -> Linear(128, 10) with torch's default initialisation."""
    return nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10)).to(device)


def parse_args(argv=None):
    return training.parse_args(argv, __doc__.split("\n\n")[0])


def main(argv=None) -> dict:
    return training.main(parse_args(argv), build_model, flatten=True)


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
