"""tests/cuda: tests that need an NVIDIA GPU; anywhere else each one is skipped, with the reason.

The rule, decided once per session without importing CuPy at collection time:

* CuPy is not installed                     -> skip ("CuPy is not installed ... pip install ...");
* CuPy imports but reports no GPU or driver -> skip ("no usable NVIDIA GPU ...");
* CuPy sees a GPU                           -> nothing is skipped. If tinygrad_lite then fails to
  create device ``"cuda"``, the tests *fail* with that error: a bug in the CUDA device must never
  look like a missing GPU.

``TINYGRAD_LITE_REQUIRE_GPU=1`` turns the skip into a collection error, for the GPU run where a
skip would hide a broken setup.

There is deliberately no ``tests/cuda/__init__.py``: with one, this folder would become a regular
package named ``cuda`` on ``sys.path`` (pytest prepends ``tests/``) and shadow the ``cuda``
namespace package (cuda-python / cuda-pathfinder) that CuPy imports.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
INSTALL_HINT = "pip install cupy-cuda13x (or cupy-cuda12x), i.e. the 'tinygrad-lite[cuda]' extra"


@functools.lru_cache(maxsize=1)
def gpu_skip_reason() -> str | None:
    """Why tests/cuda can't run here, or None when CuPy sees a GPU."""
    if importlib.util.find_spec("cupy") is None:
        return f"tests/cuda need a GPU: CuPy is not installed ({INSTALL_HINT})"
    try:
        import cupy
    except Exception as exc:  # noqa: BLE001 - a broken CuPy install is a reason to skip, stated
        return f"tests/cuda need a GPU: CuPy is installed but fails to import ({exc!r})"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # noqa: BLE001 - no driver / no device raises CUDARuntimeError
        return f"tests/cuda need a GPU: no usable NVIDIA GPU/driver was found ({exc})"
    if count < 1:
        return "tests/cuda need a GPU: CuPy reports 0 CUDA devices"
    return None


def _in_this_folder(item) -> bool:
    try:
        return Path(str(item.path)).resolve().is_relative_to(HERE)
    except (AttributeError, OSError):
        return False


def pytest_collection_modifyitems(config, items):
    # A hook in a sub-folder conftest still sees the whole session's items: mark only ours.
    ours = [item for item in items if _in_this_folder(item)]
    reason = gpu_skip_reason() if ours else None
    if reason is None:
        return
    if os.environ.get("TINYGRAD_LITE_REQUIRE_GPU", "") not in ("", "0"):
        raise pytest.UsageError(f"TINYGRAD_LITE_REQUIRE_GPU is set but {reason}")
    marker = pytest.mark.skip(reason=reason)
    for item in ours:
        item.add_marker(marker)
    config.stash[_SKIPPED] = (len(ours), reason)


_SKIPPED = pytest.StashKey[tuple]()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    # pytest hides skip reasons unless -rs is given: say once, even under -q, why these skipped
    if _SKIPPED in config.stash:
        count, reason = config.stash[_SKIPPED]
        terminalreporter.write_line(f"tests/cuda: {count} tests skipped: {reason}")


def pytest_report_header(config):
    reason = gpu_skip_reason()
    return f"tests/cuda: {'GPU found' if reason is None else reason}"


# ---- fixtures shared by the tests in this folder (only ever run when a GPU is there) -------------
@pytest.fixture(scope="session")
def cupy():
    """The CuPy module."""
    import cupy as cp

    return cp


@pytest.fixture(scope="session")
def cuda():
    """tinygrad_lite's CUDA device object (its creation is itself under test: errors surface)."""
    import tinygrad_lite as tl

    return tl.device("cuda")
