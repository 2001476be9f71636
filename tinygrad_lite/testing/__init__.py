"""Tools for checking ops: ``assert_close``, ``gradcheck``, ``gradgradcheck`` and hypothesis
``strategies``.

``strategies`` needs hypothesis, a test-only dependency, so it is imported on first use: the
rest of this module works without hypothesis installed.
"""

from __future__ import annotations

import importlib
from typing import Any

from .checks import GradcheckError, gradcheck, gradgradcheck
from .compare import assert_close

__all__ = ["GradcheckError", "assert_close", "gradcheck", "gradgradcheck", "strategies"]


def __getattr__(name: str) -> Any:
    # PEP 562: runs only for names not found normally, i.e. before strategies is first imported.
    if name == "strategies":
        try:
            import hypothesis  # noqa: F401
        except ImportError as exc:
            raise ImportError(
                "tinygrad_lite.testing.strategies needs hypothesis: pip install hypothesis "
                "(or pip install 'tinygrad-lite[test]')"
            ) from exc
        return importlib.import_module(f"{__name__}.strategies")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | {"strategies"})
