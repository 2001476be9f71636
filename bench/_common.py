"""Shared by the bench scripts: the commit, the environment line and appending to RESULTS.md."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def git_commit() -> str:
    """Short hash of HEAD, or a note when there is none."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                             capture_output=True, text=True, timeout=10, check=False)
        return out.stdout.strip() or "unknown (no commit)"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def versions_line() -> str:
    """'commit ...; python ..., numpy ..., torch ..., numba ...' for a results header."""
    import numba
    import numpy as np
    import torch

    return (f"commit `{git_commit()}`; python {platform.python_version()}, numpy {np.__version__}, "
            f"torch {torch.__version__}, numba {numba.__version__}")


def machine_line() -> str:
    import torch

    proc = platform.processor() or platform.machine()
    return (f"machine: {platform.system()} {proc}, os.cpu_count()={os.cpu_count()}; torch "
            f"threads: {torch.get_num_threads()} intra-op / {torch.get_num_interop_threads()} "
            f"inter-op (defaults)")


def append_results(report: str) -> None:
    """Append a report (a '### ...' section) to bench/RESULTS.md."""
    results = ROOT / "bench" / "RESULTS.md"
    prefix = "" if results.exists() else "# Benchmark results\n"
    with results.open("a", encoding="utf-8") as f:
        f.write(prefix + "\n" + report)
    print(f"appended to {results}", file=sys.stderr)
