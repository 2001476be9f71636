"""Numerical checks for users' own ops: ``assert_close``, ``gradcheck`` and ``gradgradcheck``.

``assert_close`` follows ``torch.testing.assert_close`` (same per-dtype default tolerances, same
closeness rule ``|actual - expected| <= atol + rtol * |expected|``), so a test ported from PyTorch
keeps its meaning. ``gradcheck`` compares the Jacobian that backward implies with one from central
differences; ``gradgradcheck`` does the same for the backward pass itself.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import tinygrad_lite as tl

__all__ = ["GradcheckError", "assert_close", "gradcheck", "gradgradcheck"]

# (rtol, atol) per dtype name: torch.testing's table; every other dtype compares exactly.
_DEFAULT_TOLERANCES = {
    "float16": (1e-3, 1e-5), "bfloat16": (1.6e-2, 1e-5), "float32": (1.3e-6, 1e-5),
    "float64": (1e-7, 1e-7), "complex64": (1.3e-6, 1e-5), "complex128": (1e-7, 1e-7),
}
# Python scalars take torch's dtypes (not tl's float32 default) because that is what
# torch.testing does with them, and the tolerance follows the dtype.
_SCALAR_DTYPES = {bool: np.bool_, int: np.int64, float: np.float64, complex: np.complex128}
_MAX_PRINTED = 100  # Jacobians with more entries than this are summarised, not printed


class GradcheckError(RuntimeError):
    """Raised by ``gradcheck``/``gradgradcheck`` when backward disagrees with finite differences."""


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
def _as_tuple(x: Any) -> tuple:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _is_float(t: Any) -> bool:
    return isinstance(t, tl.Tensor) and _dtype_name(t.dtype).startswith(("float", "bfloat"))


def _values(t: Any) -> np.ndarray:
    """float64 copy of a tensor's values, flattened (finite differences need our own copy)."""
    return np.array(_to_numpy(t)[0], dtype=np.float64).reshape(-1)


def _new_tensor(like: Any, values: np.ndarray, requires_grad: bool = False) -> Any:
    data = np.array(values, dtype=np.float64).reshape(tuple(like.shape))
    return tl.tensor(data, dtype=like.dtype, device=like.device, requires_grad=requires_grad)


def _check_inputs(inputs: Any, op: str) -> tuple[tuple, list[int]]:
    """Returns the inputs as a tuple and the indices of those to differentiate."""
    inputs = _as_tuple(inputs)
    diff_idx = [i for i, x in enumerate(inputs) if isinstance(x, tl.Tensor) and x.requires_grad]
    if not diff_idx:
        raise ValueError(f"{op}: no input requires grad; mark the inputs to check with "
                         "requires_grad=True")
    for i in diff_idx:
        name = _dtype_name(inputs[i].dtype)
        if name != "float64":
            # With eps=1e-6 a float32 perturbation is mostly rounding error, so the check would
            # fail (or pass) for reasons unrelated to the op.
            raise TypeError(f"{op}: input {i} requires grad but has dtype {name}; finite "
                            "differences need float64 inputs (use x.double())")
    return inputs, diff_idx


def _call(fn: Callable, inputs: Sequence, op: str) -> tuple:
    outs = _as_tuple(fn(*inputs))
    for j, o in enumerate(outs):
        if not isinstance(o, tl.Tensor):
            raise TypeError(f"{op}: fn must return Tensors, output {j} is {type(o).__name__}")
    return outs


def _perturbed_outputs(fn, inputs, i, flat, out_idx, op) -> list[np.ndarray]:
    args = list(inputs)
    args[i] = _new_tensor(inputs[i], flat)
    with tl.no_grad():
        outs = _call(fn, args, op)
    return [_values(outs[j]) for j in out_idx]


def _numerical_jacobians(fn, inputs, i, out_idx, out_sizes, eps, op) -> list[np.ndarray]:
    """Central differences: one (out_numel, in_numel) matrix per output for input ``i``."""
    base = _values(inputs[i])
    jac = [np.zeros((m, base.size)) for m in out_sizes]
    for p in range(base.size):
        plus, minus = base.copy(), base.copy()
        plus[p] += eps
        minus[p] -= eps
        f_plus = _perturbed_outputs(fn, inputs, i, plus, out_idx, op)
        f_minus = _perturbed_outputs(fn, inputs, i, minus, out_idx, op)
        for k, (fp, fm) in enumerate(zip(f_plus, f_minus)):
            jac[k][:, p] = (fp - fm) / (2 * eps)
    return jac


def _vjp(out, diff_inputs, v: np.ndarray, j: int, nondet_tol: float, op: str) -> list[np.ndarray]:
    """``v @ J`` for output ``out``: one flattened gradient per differentiable input.

    Backward runs twice and the two results must agree within ``nondet_tol``: a backward that
    depends on hidden state (or is not reentrant) would make any single comparison meaningless.
    """
    if not out.requires_grad:  # output is constant in the inputs: its Jacobian is zero
        return [np.zeros(x.numel()) for x in diff_inputs]
    runs = []
    for _ in range(2):
        grads = tl.autograd.grad([out], list(diff_inputs), grad_outputs=[_new_tensor(out, v)],
                                 retain_graph=True, allow_unused=True)
        for x, g in zip(diff_inputs, grads):
            if g is not None and tuple(g.shape) != tuple(x.shape):
                raise GradcheckError(f"{op}: gradient for an input of shape {tuple(x.shape)} "
                                     f"has shape {tuple(g.shape)} (output {j})")
        # None means "does not depend on it": numerically that must be an all-zero block.
        runs.append([np.zeros(x.numel()) if g is None else _values(g)
                     for x, g in zip(diff_inputs, grads)])
    for g1, g2 in zip(*runs):
        if g1.size and np.max(np.abs(g1 - g2)) > nondet_tol:
            raise GradcheckError(f"{op}: backward is not reentrant: two backward passes for output "
                                 f"{j} differ by {np.max(np.abs(g1 - g2)):.3g} "
                                 f"(nondet_tol={nondet_tol})")
    return runs[0]


def _analytical_jacobians(out, diff_inputs, j, nondet_tol, op) -> list[np.ndarray]:
    """Row r of each (out_numel, in_numel) block is the gradient for the one-hot upstream e_r."""
    m = out.numel()
    jac = [np.zeros((m, x.numel())) for x in diff_inputs]
    for r in range(m):
        for block, row in zip(jac, _vjp(out, diff_inputs, np.eye(1, m, r)[0], j, nondet_tol, op)):
            block[r] = row
    return jac


def _jacobian_report(j, i, ana, num, rtol, atol, op) -> str:
    diff = np.abs(ana - num)
    worst = np.unravel_index(np.argmax(diff - (atol + rtol * np.abs(num))), diff.shape)
    text = (f"{op}: Jacobian mismatch for output {j} with respect to input {i}: max "
            f"|analytical - numerical| = {diff.max():.6g}, worst at (output element {worst[0]}, "
            f"input element {worst[1]}) where allowed is atol + rtol*|numerical| = "
            f"{atol + rtol * abs(num[worst]):.3g}")
    if ana.size <= _MAX_PRINTED:
        with np.printoptions(precision=6, suppress=True, linewidth=100):
            text += f"\nnumerical:\n{num}\nanalytical:\n{ana}"
    else:
        text += f"\n(Jacobians of shape {ana.shape} are too large to print)"
    return text


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    # Non-negative entries: a systematic error in J then adds up along u and v instead of
    # cancelling like a random walk, so it grows as fast as the atol allowance below.
    u = rng.uniform(0.1, 1.0, n)
    return u / np.linalg.norm(u) if n else u


def _fast_check(fn, inputs, diff_idx, outs, out_idx, eps, atol, rtol, nondet_tol, seed, op):
    """Compare ``v . (J u)`` from one central difference per input with ``u . (J^T v)`` from one
    backward per output, for random unit u (input space) and v (output space)."""
    rng = np.random.default_rng(seed)
    us = [_unit(rng, inputs[i].numel()) for i in diff_idx]
    vs = [_unit(rng, outs[j].numel()) for j in out_idx]
    diff_inputs = [inputs[i] for i in diff_idx]
    vjps = [_vjp(outs[j], diff_inputs, v, j, nondet_tol, op) for j, v in zip(out_idx, vs)]
    for k, (i, u) in enumerate(zip(diff_idx, us)):
        base = _values(inputs[i])
        f_plus = _perturbed_outputs(fn, inputs, i, base + eps * u, out_idx, op)
        f_minus = _perturbed_outputs(fn, inputs, i, base - eps * u, out_idx, op)
        for n, (j, v) in enumerate(zip(out_idx, vs)):
            numerical = float(v @ ((f_plus[n] - f_minus[n]) / (2 * eps)))
            analytical = float(u @ vjps[n][k])
            # Entrywise |a - b| <= atol summed through u and v: |v.(A-B)u| <= atol*sum|u|*sum|v|.
            allowed = atol * u.sum() * v.sum() + rtol * abs(numerical)
            if abs(analytical - numerical) > allowed:
                text = (f"{op} (fast mode): mismatch for output {j} with respect to input {i}: "
                        f"v.(J u) analytical {analytical:.6g} vs numerical {numerical:.6g}, "
                        f"difference {abs(analytical - numerical):.3g} > allowed {allowed:.3g}")
                if outs[j].numel() * inputs[i].numel() <= _MAX_PRINTED:
                    num = _numerical_jacobians(fn, inputs, i, [j], [outs[j].numel()], eps, op)[0]
                    ana = _analytical_jacobians(outs[j], diff_inputs, j, nondet_tol, op)[k]
                    text += "\n" + _jacobian_report(j, i, ana, num, rtol, atol, op)
                raise GradcheckError(text)


def _gradcheck(fn, inputs, eps, atol, rtol, fast_mode, nondet_tol, seed, op) -> None:
    inputs, diff_idx = _check_inputs(inputs, op)
    outs = _call(fn, inputs, op)
    out_idx = [j for j, o in enumerate(outs) if _is_float(o)]  # int/bool outputs have no gradient
    if fast_mode:
        return _fast_check(fn, inputs, diff_idx, outs, out_idx, eps, atol, rtol, nondet_tol, seed,
                           op)
    diff_inputs = [inputs[i] for i in diff_idx]
    out_sizes = [outs[j].numel() for j in out_idx]
    numerical = [_numerical_jacobians(fn, inputs, i, out_idx, out_sizes, eps, op) for i in diff_idx]
    for n, j in enumerate(out_idx):
        analytical = _analytical_jacobians(outs[j], diff_inputs, j, nondet_tol, op)
        for k, i in enumerate(diff_idx):
            if not np.allclose(analytical[k], numerical[k][n], rtol=rtol, atol=atol):
                raise GradcheckError(_jacobian_report(j, i, analytical[k], numerical[k][n], rtol,
                                                      atol, op))


def _verdict(check: Callable[[], None], raise_exception: bool) -> bool:
    try:
        check()
    except GradcheckError:
        if raise_exception:
            raise
        return False
    return True


def gradcheck(fn: Callable[..., Any], inputs: Any, *, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, raise_exception: bool = True, fast_mode: bool = False,
              nondet_tol: float = 0.0, seed: int = 0) -> bool:
    """Checks backward against central finite differences.

    Full mode builds, for every floating output j (m elements) and every input i that requires
    grad (n elements), the (m, n) Jacobian twice: numerically, perturbing each input element by
    ±eps and rerunning ``fn`` under ``tl.no_grad()``, and analytically, one ``tl.autograd.grad``
    call per output element with a one-hot upstream gradient. They must agree within
    ``|analytical - numerical| <= atol + rtol * |numerical|``. A gradient of None (input unused)
    counts as zeros, so the numerical Jacobian must be zero too. Fast mode draws random unit
    vectors u (input space) and v (output space) and compares the scalar ``v . J u``: one finite
    difference per input and one backward per output, for inputs too large for full Jacobians;
    there the allowance is ``atol * sum(u) * sum(v) + rtol * |numerical|``, the entrywise
    tolerance carried through both projections.

    Args:
        fn: function of the inputs returning a Tensor or a tuple of Tensors.
        inputs: a Tensor or a tuple of Tensors (other objects are passed through); those with
            ``requires_grad=True`` are checked and must be float64.
        eps: finite-difference step.
        atol, rtol: absolute and relative tolerance.
        raise_exception: raise ``GradcheckError`` on mismatch; otherwise return False.
        fast_mode: compare random projections instead of full Jacobians.
        nondet_tol: how much two backward passes with the same upstream gradient may differ.
        seed: seed of the NumPy generator that draws u and v in fast mode.

    Returns:
        True when the gradients match (False on mismatch if ``raise_exception`` is False).

    Raises:
        GradcheckError: the gradients disagree; the message names the output and input index,
            the greatest difference and, when small, both Jacobians.
        TypeError: an input that requires grad is not float64, or fn returned a non-Tensor.
        ValueError: no input requires grad.
    """
    return _verdict(lambda: _gradcheck(fn, inputs, eps, atol, rtol, fast_mode, nondet_tol, seed,
                                       "gradcheck"), raise_exception)


def gradgradcheck(fn: Callable[..., Any], inputs: Any, grad_outputs: Any = None, *,
                  eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
                  raise_exception: bool = True, fast_mode: bool = False, seed: int = 0) -> bool:
    """Checks second derivatives: ``gradcheck`` of the backward pass itself.

    The checked function maps ``(inputs..., grad_outputs...)`` to
    ``tl.autograd.grad(fn(*inputs), inputs, grad_outputs, create_graph=True)`` (zeros for unused
    inputs), so the gradient's dependence on the inputs (Hessian-vector products) and on the
    upstream gradient are both compared with finite differences. In error messages, output k is
    the gradient for the k-th input that requires grad, and input indices past ``len(inputs)``
    are the grad_outputs.

    Args:
        fn: function of the inputs returning a Tensor or a tuple of Tensors.
        inputs: a Tensor or a tuple of Tensors; those with ``requires_grad=True`` must be float64.
        grad_outputs: upstream gradients, one per floating output of ``fn`` that requires grad,
            each shaped like that output; random float64 values in [-1, 1) with
            ``requires_grad=True`` when None.
        eps, atol, rtol, raise_exception, fast_mode, seed: as in ``gradcheck``; ``seed`` also
            seeds the random grad_outputs.

    Returns:
        True when the second derivatives match (False on mismatch if ``raise_exception`` is False).

    Raises:
        GradcheckError: the double backward disagrees with finite differences of the backward.
        TypeError, ValueError: as in ``gradcheck``, or a wrong number of grad_outputs.
    """
    op = "gradgradcheck"
    inputs, diff_idx = _check_inputs(inputs, op)
    outs = _call(fn, inputs, op)
    out_idx = [j for j, o in enumerate(outs) if _is_float(o) and o.requires_grad]
    if not out_idx:
        raise ValueError(f"{op}: no output of fn requires grad, so there is no backward to check")
    if grad_outputs is None:
        rng = np.random.default_rng(seed)
        grad_outputs = tuple(_new_tensor(outs[j], rng.uniform(-1, 1, outs[j].numel()), True)
                             for j in out_idx)
    grad_outputs = _as_tuple(grad_outputs)
    if len(grad_outputs) != len(out_idx):
        raise ValueError(f"{op}: got {len(grad_outputs)} grad_outputs for {len(out_idx)} "
                         "differentiable outputs")

    def first_derivatives(*args: Any) -> tuple:
        args = list(args)
        with tl.enable_grad():
            # gradcheck's finite differences pass fresh constants; make them leaves again so the
            # first backward has a graph to run on.
            for i in diff_idx:
                if not args[i].requires_grad:
                    args[i] = args[i].detach().requires_grad_()
            ins = [args[i] for i in diff_idx]
            outputs = _call(fn, args[:len(inputs)], op)
            grads = tl.autograd.grad([outputs[j] for j in out_idx], ins,
                                     grad_outputs=list(args[len(inputs):]), create_graph=True,
                                     allow_unused=True)
        return tuple(_new_tensor(x, np.zeros(x.numel())) if g is None else g
                     for x, g in zip(ins, grads))

    return _verdict(lambda: _gradcheck(first_derivatives, inputs + grad_outputs, eps, atol, rtol,
                                       fast_mode, 0.0, seed, op), raise_exception)
