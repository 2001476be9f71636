"""Numerical checks for users' own ops: ``assert_close``, ``gradcheck`` and ``gradgradcheck``.

``assert_close`` follows ``torch.testing.assert_close`` (same per-dtype default tolerances, same
closeness rule ``|actual - expected| <= atol + rtol * |expected|``), so a test ported from PyTorch
keeps its meaning. ``gradcheck`` compares the Jacobian that backward implies with one from central
differences; ``gradgradcheck`` does the same for the backward pass itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import tinygrad_lite as tl

from .compare import _close_mask, _dtype_name, _to_numpy  # noqa: F401  (shared helpers)

__all__ = ["GradcheckError", "gradcheck", "gradgradcheck"]

# (rtol, atol) per dtype name: torch.testing's table; every other dtype compares exactly.
_MAX_PRINTED = 100  # Jacobians with more entries than this are summarised, not printed


class GradcheckError(RuntimeError):
    """Raised by ``gradcheck``/``gradgradcheck`` when backward disagrees with finite differences."""


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
