"""``assert_close``: torch.testing.assert_close's rule and per-dtype default tolerances.

Accepts tinygrad_lite tensors, NumPy arrays, torch tensors (torch is imported only when one is
passed), Python scalars and nested sequences/dicts of them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import tinygrad_lite as tl

__all__ = ["assert_close"]

_DEFAULT_TOLERANCES = {
    "float16": (1e-3, 1e-5), "bfloat16": (1.6e-2, 1e-5), "float32": (1.3e-6, 1e-5),
    "float64": (1e-7, 1e-7), "complex64": (1.3e-6, 1e-5), "complex128": (1e-7, 1e-7),
}
# Python scalars take torch's dtypes (not tl's float32 default) because that is what
# torch.testing does with them, and the tolerance follows the dtype.
_SCALAR_DTYPES = {bool: np.bool_, int: np.int64, float: np.float64, complex: np.complex128}

# ---- assert_close -----------------------------------------------------------------------------
def _dtype_name(dtype: Any) -> str:
    return getattr(dtype, "name", None) or str(dtype).rsplit(".", 1)[-1]


def _to_numpy(x: Any) -> tuple[np.ndarray, str]:
    """Returns the values of a tensor-like as a NumPy array plus its dtype name."""
    if isinstance(x, tl.Tensor):
        t = x.detach()
        return np.asarray(t.cpu().numpy() if hasattr(t, "cpu") else t.numpy()), _dtype_name(x.dtype)
    torch = sys.modules.get("torch")  # a torch tensor can only exist if torch is imported
    if torch is not None and isinstance(x, torch.Tensor):
        name = _dtype_name(x.dtype)
        # NumPy has no bfloat16; float32 holds every bfloat16 value exactly. force=True also
        # copes with CUDA, conjugated and ZeroTensor (efficient zero gradient) tensors.
        t = x.detach().float() if name == "bfloat16" else x.detach()
        return t.numpy(force=True), name
    if isinstance(x, (np.ndarray, np.generic)):
        arr = np.asarray(x)
        return arr, arr.dtype.name
    if type(x) in _SCALAR_DTYPES:
        arr = np.asarray(x, dtype=_SCALAR_DTYPES[type(x)])
        return arr, arr.dtype.name
    raise TypeError(
        f"assert_close: cannot compare objects of type {type(x).__name__}; expected a "
        "tl.Tensor, numpy array, torch tensor, Python scalar, or a list/tuple/dict of those"
    )


def _tolerances(names: Sequence[str], rtol: float | None,
                atol: float | None) -> tuple[float, float]:
    if (rtol is None) != (atol is None):
        # One tolerance alone is a trap: atol=0 with the default rtol still passes near values.
        raise ValueError(
            "assert_close: rtol and atol must both be given or both omitted, "
            f"got rtol={rtol}, atol={atol}"
        )
    if rtol is not None:
        return float(rtol), float(atol)
    pairs = [_DEFAULT_TOLERANCES.get(n, (0.0, 0.0)) for n in names]
    return max(p[0] for p in pairs), max(p[1] for p in pairs)


def _common_dtype(a: np.dtype, b: np.dtype) -> np.dtype:
    # torch promotes int + float16 to float16, NumPy to float64; follow torch.
    a_inexact, b_inexact = a.kind in "fc", b.kind in "fc"
    if a_inexact != b_inexact:
        return a if a_inexact else b
    return np.result_type(a, b)


def _close_mask(a: np.ndarray, e: np.ndarray, rtol: float, atol: float,
                equal_nan: bool) -> np.ndarray:
    """Elementwise torch.isclose, computed in the arrays' own dtype as torch does."""
    if a.dtype.kind not in "fc":
        if rtol == 0 and atol == 0:
            return a == e
        a, e = a.astype(np.float64), e.astype(np.float64)
    with np.errstate(all="ignore"):
        close = a == e  # also makes equal infinities close
        if equal_nan:
            close |= np.isnan(a) & np.isnan(e)
        actual_err = np.abs(a - e)
        close |= np.isfinite(actual_err) & (actual_err <= atol + np.abs(rtol * e))
    return close


def _mismatch_message(a: np.ndarray, e: np.ndarray, close: np.ndarray, rtol: float,
                      atol: float) -> str:
    exact = rtol == 0 and atol == 0

    def allowed(tol: float) -> str:
        return "" if exact else f" (up to {tol} allowed)"

    header = f"are not {'equal' if exact else 'close'}!\n\n"
    if a.dtype.kind not in "fc":  # differences of ints/bools in int64 so they can't wrap
        a, e = a.astype(np.int64), e.astype(np.int64)
    with np.errstate(all="ignore"):
        abs_diff = np.abs(a - e)
        rel_diff = abs_diff / np.abs(e)
    if a.ndim == 0:
        return (f"Scalars {header}Expected {e.item()} but got {a.item()}.\n"
                f"Absolute difference: {abs_diff.item()}{allowed(atol)}\n"
                f"Relative difference: {rel_diff.item()}{allowed(rtol)}")
    abs_diff[close], rel_diff[close] = 0, 0  # report only the elements that failed
    n_bad = int(close.size - np.count_nonzero(close))
    i_abs = tuple(int(i) for i in np.unravel_index(np.argmax(abs_diff), a.shape))
    i_rel = tuple(int(i) for i in np.unravel_index(np.argmax(rel_diff), a.shape))
    return (f"Tensor-likes {header}Mismatched elements: {n_bad} / {close.size} "
            f"({n_bad / close.size:.1%})\n"
            f"Greatest absolute difference: {abs_diff[i_abs].item()} at index {i_abs}"
            f"{allowed(atol)}\n"
            f"Greatest relative difference: {rel_diff[i_rel].item()} at index {i_rel}"
            f"{allowed(rtol)}")


def _compare_leaf(actual: Any, expected: Any, opts: dict) -> str | None:
    """Returns a failure message, or None when the two tensor-likes match."""
    a, a_name = _to_numpy(actual)
    e, e_name = _to_numpy(expected)
    if a.shape != e.shape:
        return f"The values for attribute 'shape' do not match: {a.shape} != {e.shape}."
    if opts["check_dtype"] and a_name != e_name:
        return f"The values for attribute 'dtype' do not match: {a_name} != {e_name}."
    rtol, atol = _tolerances((a_name, e_name), opts["rtol"], opts["atol"])
    common = _common_dtype(a.dtype, e.dtype)
    a, e = a.astype(common, copy=False), e.astype(common, copy=False)
    close = _close_mask(a, e, rtol, atol, opts["equal_nan"])
    if bool(np.all(close)):
        return None
    return _mismatch_message(a, e, np.asarray(close), rtol, atol)


def _compare(actual: Any, expected: Any, path: str, opts: dict) -> None:
    failure = None
    if isinstance(actual, (list, tuple)) and isinstance(expected, (list, tuple)):
        if len(actual) != len(expected):
            failure = f"The length of the sequences mismatch: {len(actual)} != {len(expected)}"
        else:
            for i, (a, e) in enumerate(zip(actual, expected)):
                _compare(a, e, f"{path}[{i}]", opts)
    elif isinstance(actual, dict) and isinstance(expected, dict):
        if set(actual) != set(expected):
            failure = f"The keys of the mappings do not match: {sorted(map(str, actual))} != " \
                      f"{sorted(map(str, expected))}"
        else:
            for k in actual:
                _compare(actual[k], expected[k], f"{path}[{k!r}]", opts)
    else:
        failure = _compare_leaf(actual, expected, opts)
    if failure is None:
        return
    if path:
        failure += f"\n\nThe failure occurred for item {path}"
    msg = opts["msg"]
    raise AssertionError(failure if msg is None else msg(failure) if callable(msg) else msg)


def assert_close(actual: Any, expected: Any, *, rtol: float | None = None,
                 atol: float | None = None, equal_nan: bool = False, check_dtype: bool = True,
                 msg: str | Callable[[str], str] | None = None) -> None:
    """Asserts that two tensor-likes have equal shape and dtype and close values.

    Values match when ``|actual - expected| <= atol + rtol * |expected|`` elementwise (equal
    infinities match; NaNs only with ``equal_nan``). Default tolerances depend on the dtype exactly
    as in ``torch.testing.assert_close``: float16 (1e-3, 1e-5), bfloat16 (1.6e-2, 1e-5), float32
    (1.3e-6, 1e-5), float64 (1e-7, 1e-7) as (rtol, atol); integers and bool compare exactly. When
    the dtypes differ (``check_dtype=False``) the looser tolerances apply and the values are
    compared in the promoted dtype.

    Args:
        actual: tl.Tensor, numpy array, torch tensor, Python scalar, or a (nested) list, tuple or
            dict of those. Sequences on both sides are compared item by item.
        expected: same kinds as ``actual``; its shape must equal ``actual``'s (no broadcasting).
        rtol: relative tolerance; give it together with ``atol`` or leave both as None.
        atol: absolute tolerance.
        equal_nan: whether NaN matches NaN.
        check_dtype: whether dtypes must match by name (torch.float32 ~ tl.float32 ~ np.float32).
        msg: replaces the failure message; a callable gets the generated message and returns one.

    Raises:
        AssertionError: shapes, dtypes or values differ; the message gives the mismatched element
            count, greatest absolute and relative differences with their indices and the
            tolerances used.
        ValueError: only one of rtol/atol given.
        TypeError: an input is of an unsupported type.
    """
    opts = {"rtol": rtol, "atol": atol, "equal_nan": equal_nan, "check_dtype": check_dtype,
            "msg": msg}
    _compare(actual, expected, "", opts)


# ---- gradcheck --------------------------------------------------------------------------------
