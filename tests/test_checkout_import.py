"""A source checkout used without installing (``PYTHONPATH=.``, as on the GPU machine) must find
``tinygrad_lite.kernels``: pyproject maps that package to the top-level ``kernels/`` folder, which
only an install does, so tinygrad_lite/__init__.py registers the folder itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

CODE = """
import tinygrad_lite as tl
import tinygrad_lite.kernels.cpu, tinygrad_lite.kernels.cuda
from tinygrad_lite.nn import functional as F
assert tl.__file__.startswith({root!r}), tl.__file__
assert tinygrad_lite.kernels.__file__.startswith({kernels!r}), tinygrad_lite.kernels.__file__
x = tl.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
F.cross_entropy(x, tl.tensor([2])).backward()  # the Numba kernel of kernels/cpu
print(round(float(x.grad.sum().item()), 6))
"""


def test_a_checkout_on_pythonpath_imports_the_kernels_without_an_install():
    # -S skips site-packages' .pth files, so an editable install's finder is not there; NumPy's
    # (and Numba's) directory is put on the path by hand instead.
    site = str(Path(np.__file__).resolve().parents[1])
    code = CODE.format(root=str(ROOT / "tinygrad_lite"), kernels=str(ROOT / "kernels"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), site])}
    out = subprocess.run([sys.executable, "-S", "-c", code], env=env, cwd=str(ROOT / "tests"),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "0.0"  # softmax - one-hot sums to zero
