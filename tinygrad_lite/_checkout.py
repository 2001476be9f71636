"""Make ``tinygrad_lite.kernels`` importable from a source checkout that is not installed."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path


def map_kernels_folder() -> None:
    """Register the top-level ``kernels/`` folder as ``tinygrad_lite.kernels`` when needed.

    pyproject.toml maps the package ``tinygrad_lite.kernels`` to the top-level ``kernels/``
    folder; an install (editable or not) does that mapping, a checkout used through
    ``PYTHONPATH=.`` (as on the GPU machine) does not, so the folder is registered by hand there.
    """
    package = __name__.rpartition(".")[0]
    name = package + ".kernels"
    if name in sys.modules or importlib.util.find_spec(name) is not None:
        return
    folder = Path(__file__).resolve().parent.parent / "kernels"
    if not (folder / "__init__.py").is_file():
        return
    spec = importlib.util.spec_from_file_location(
        name, folder / "__init__.py", submodule_search_locations=[str(folder)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    setattr(sys.modules[package], "kernels", module)  # what an import sets on the parent
