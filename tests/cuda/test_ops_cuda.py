"""The whole op-spec table (``tests/ops/specs.py``) re-run on device ``"cuda"``.

For every row, hypothesis draws cases from the row's own generator (float32 values, the row's
domain, 0-d / size-1 / broadcast shapes, permuted and strided views of the leaves). Each case runs
three times through the row's call, always with ``lib = tinygrad_lite``:

* on the CPU in float64 (the reference values: the float32 inputs cast exactly to float64),
* on the CPU in float32 (the reference for dtypes and shapes, and a fallback for values), and
* on ``cuda`` in float32 (under test: tensors are created with ``device="cuda"``).

Outputs and first-order gradients (a random float32 upstream gradient, the same in all runs)
must match the float64 reference within float32 tolerances; where they don't, they must match the
CPU float32 run (an op with a discontinuity, e.g. ``floor`` or ``<``, may legitimately land on the
other side of it in float32, on either device). Rows of the table that support double backward are
also checked once on cuda. Error inputs of the table must raise the same exception type on cuda.

Budget: ``TINYGRAD_LITE_CUDA_EXAMPLES`` examples per full-weight row (default 2; the module-level
twins get 1), so the run stays short on a fresh GPU machine where CuPy compiles each kernel once.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_lite as tl
from ops.specs import (F32, F64, LAYOUTS, SPECS, Case, Const, _double_backward, build_inputs,
                       flatten, is_float_array)

EXAMPLES = int(os.environ.get("TINYGRAD_LITE_CUDA_EXAMPLES", "2"))


class OnCuda:
    """``tinygrad_lite`` as seen by a table row, except that ``tensor(...)`` lands on cuda."""

    def __init__(self, device: str = "cuda"):
        self._device = device
        self.device_type = device.split(":")[0]

    def __getattr__(self, name):
        return getattr(tl, name)

    def tensor(self, data, **kwargs):
        kwargs.setdefault("device", self._device)
        return tl.tensor(data, **kwargs)


CUDA_LIB = OnCuda()


# ---- comparison ----------------------------------------------------------------------------------
def _tol(dtype: np.dtype, spec, scale: float = 1.0) -> tuple[float, float]:
    """(rtol, atol) for an output of ``dtype``: the row's float32 tolerance, floored at 1e-5
    (GPU libm and summation order differ from NumPy's by a few ulps)."""
    if dtype == np.float16:
        return 1e-3 * scale, 1e-5 * scale
    tol = spec.tolerance(F32)
    return max(tol.get("rtol", 1.3e-6), 1e-5) * scale, max(tol.get("atol", 1e-5), 1e-5) * scale


def _as_numpy(x):
    if isinstance(x, tl.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _errors(got: np.ndarray, ref: np.ndarray) -> str:
    if got.size == 0:
        return "(empty)"
    g, r = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    diff = np.asarray(np.abs(g - r))
    diff[np.isnan(g) & np.isnan(r)] = 0
    worst = np.unravel_index(np.nanargmax(np.where(np.isnan(diff), np.inf, diff)), diff.shape)
    rel = diff / np.maximum(np.abs(r), 1e-30)
    return (f"max abs err {np.nanmax(diff):.3g} (at {tuple(int(i) for i in worst)}: got "
            f"{g[worst]!r}, ref {r[worst]!r}), max rel err {np.nanmax(rel):.3g}")


def _values_close(got: np.ndarray, ref: np.ndarray, rtol: float, atol: float) -> bool:
    if got.dtype.kind in "biu" or ref.dtype.kind in "biu":
        return np.array_equal(got, ref.astype(got.dtype)) if got.dtype.kind in "biu" else False
    return bool(np.allclose(got.astype(np.float64), ref.astype(np.float64), rtol=rtol, atol=atol,
                            equal_nan=True))


def compare(got, ref64, ref32, *, what: str, spec, scale: float = 1.0) -> None:
    """``got`` (from cuda) against the CPU float64 result, else the CPU float32 result."""
    if isinstance(ref32, (tuple, list)):
        assert isinstance(got, (tuple, list)) and len(got) == len(ref32), (
            f"{what}: got {type(got).__name__} of length {len(got)}, CPU gives {len(ref32)}")
        for i, (g, r64, r32) in enumerate(zip(got, ref64, ref32)):
            compare(g, r64, r32, what=f"{what}[{i}]", spec=spec, scale=scale)
        return
    if ref32 is None:
        assert got is None or not np.any(_as_numpy(got)), f"{what}: CPU gives None, cuda {got!r}"
        return
    if got is None:
        assert not np.any(_as_numpy(ref32)), f"{what}: cuda gives None, CPU a non-zero value"
        return
    if isinstance(ref32, tl.Tensor):
        assert isinstance(got, tl.Tensor), f"{what}: expected a Tensor, got {type(got)!r}"
        assert str(got.device).split(":")[0] == CUDA_LIB.device_type, (
            f"{what}: result is on {got.device}, not on {CUDA_LIB.device_type}")
        assert tuple(got.shape) == tuple(ref32.shape), (
            f"{what}: shape {tuple(got.shape)} != CPU's {tuple(ref32.shape)}")
        assert got.dtype == ref32.dtype, f"{what}: dtype {got.dtype} != CPU's {ref32.dtype}"
        assert got.requires_grad == ref32.requires_grad, (
            f"{what}: requires_grad {got.requires_grad} != CPU's {ref32.requires_grad}")
    elif isinstance(ref32, (bool, int, float)):
        assert type(got) is type(ref32), (
            f"{what}: Python type {type(got).__name__} != CPU's {type(ref32).__name__}")
    g, r64, r32 = _as_numpy(got), _as_numpy(ref64), _as_numpy(ref32)
    assert g.shape == r32.shape and g.dtype == r32.dtype, (
        f"{what}: {g.dtype}{g.shape} != CPU's {r32.dtype}{r32.shape}")
    rtol, atol = _tol(g.dtype, spec, scale)
    if _values_close(g, r64, rtol, atol) or _values_close(g, r32, rtol, atol):
        return
    raise AssertionError(
        f"{spec.name} on cuda: {what} differs (float32, rtol={rtol:g}, atol={atol:g})\n"
        f"  vs CPU float64: {_errors(g, r64) if g.shape == r64.shape else r64.shape}\n"
        f"  vs CPU float32: {_errors(g, r32)}\n"
        f"cuda:\n{g}\nCPU float64:\n{r64}")


# ---- running one case three ways -----------------------------------------------------------------
def as_float64(case: Case) -> Case:
    """The same case with float inputs cast (exactly) from float32 to float64."""
    def up(a):
        if isinstance(a, Const):
            return Const(a.array.astype(np.float64))
        return a.astype(np.float64) if is_float_array(a) else a
    return Case([up(a) for a in case.inputs], dict(case.kwargs))


def _forward_backward(lib, spec, case: Case, layouts, gs_f32: list | None):
    leaves, inputs = build_inputs(lib, case, spec.rg, layouts)
    out = spec.call(lib, *inputs, **case.kwargs)
    if gs_f32 is None or not spec.grad or not leaves:
        return out, None
    outs = [o for o in flatten(out) if isinstance(o, tl.Tensor) and o.requires_grad]
    if not outs:
        return out, None
    grad_outputs = [lib.tensor(g.astype(_as_numpy(o).dtype)) for g, o in zip(gs_f32, outs)]
    grads = tl.autograd.grad(outs, leaves, grad_outputs=grad_outputs, allow_unused=True)
    return out, list(grads)


def run_on_cuda(spec, case: Case, layouts, seed: int) -> None:
    """Forward and gradients of one case: cuda float32 against the CPU (float64, float32)."""
    floaty = any(is_float_array(getattr(a, "array", a)) for a in case.inputs)
    case64 = as_float64(case) if floaty else case
    out64, _ = _forward_backward(tl, spec, case64, layouts, None)
    outs64 = [o for o in flatten(out64) if isinstance(o, tl.Tensor) and o.requires_grad]
    rng = np.random.default_rng(seed)
    gs = [rng.standard_normal(tuple(o.shape)).astype(np.float32) for o in outs64]
    out64, grads64 = _forward_backward(tl, spec, case64, layouts, gs)
    out32, grads32 = _forward_backward(tl, spec, case, layouts, gs)
    try:
        out_gpu, grads_gpu = _forward_backward(CUDA_LIB, spec, case, layouts, gs)
    except Exception as exc:  # name the op and the input before the (long) traceback
        raise AssertionError(f"{spec.name} on cuda ({_case_dtype(spec)}, layouts {layouts}) raised "
                             f"{type(exc).__name__}: {exc}") from exc
    compare(out_gpu, out64, out32, what="output", spec=spec)
    if grads32 is not None:
        assert grads_gpu is not None, f"{spec.name} on cuda: no gradients (CPU has them)"
        for i, (g, r64, r32) in enumerate(zip(grads_gpu, grads64, grads32)):
            compare(g, r64, r32, what=f"gradient wrt input {i}", spec=spec)


def run_double_backward_on_cuda(spec, case: Case, layouts, seed: int) -> None:
    """d/d(inputs, g) of sum(grad * v): cuda float32 against the CPU (float64, float32)."""
    leaves, inputs = build_inputs(tl, as_float64(case), True, layouts)
    outs = [o for o in flatten(spec.call(tl, *inputs, **case.kwargs))
            if isinstance(o, tl.Tensor) and o.requires_grad]
    if not outs or not leaves:
        return
    rng = np.random.default_rng(seed)
    gs = [rng.standard_normal(tuple(o.shape)).astype(np.float32) for o in outs]
    vs = [rng.standard_normal(tuple(leaf.shape)).astype(np.float32) for leaf in leaves]
    results = []
    for lib, c, dt in ((tl, as_float64(case), np.float64), (tl, case, np.float32),
                       (CUDA_LIB, case, np.float32)):
        try:
            lv, gt, total = _double_backward(lib, spec, c, layouts, [g.astype(dt) for g in gs],
                                             [v.astype(dt) for v in vs])
            grads = None
            if total is not None and total.requires_grad:
                grads = list(tl.autograd.grad(total, lv + gt, allow_unused=True))
        except Exception as exc:
            where = getattr(lib, "device_type", "cpu")
            raise AssertionError(f"{spec.name} double backward on {where} ({np.dtype(dt).name}) "
                                 f"raised {type(exc).__name__}: {exc}") from exc
        results.append((total, grads))
    (t64, gg64), (t32, gg32), (tg, ggg) = results
    if gg32 is None:
        return  # the first derivative is a constant: nothing to differentiate
    compare(tg, t64, t32, what="sum(grad * v)", spec=spec, scale=10)
    assert ggg is not None, f"{spec.name} on cuda: double backward gave no graph"
    compare(ggg, gg64, gg32, what="double backward (inputs, then upstream grads)", spec=spec,
            scale=10)


# ---- the tests -----------------------------------------------------------------------------------
def _examples(spec, fraction: float = 1.0) -> int:
    return max(1, round(EXAMPLES * spec.weight * fraction))


def _case_dtype(spec) -> str | None:
    if F32 in spec.dtypes:
        return F32
    return spec.dtypes[0] if spec.dtypes else None


def _layouts(data, spec, case):
    if not spec.noncontig:
        return ["direct"] * len(case.inputs)
    return [data.draw(st.sampled_from(LAYOUTS), label=f"layout {i}")
            for i in range(len(case.inputs))]


OP_ROWS = [pytest.param(s, id=s.name.replace(" ", "_")) for s in SPECS if _case_dtype(s)]
GRADGRAD_ROWS = [pytest.param(s, id=s.name.replace(" ", "_")) for s in SPECS
                 if s.grad and s.gradgrad and F64 in s.dtypes and F32 in s.dtypes]
ERROR_ROWS = [pytest.param(s, e, id=f"{s.name}-{e.label or i}".replace(" ", "_"))
              for s in SPECS for i, e in enumerate(s.errors)]


@pytest.mark.parametrize("spec", OP_ROWS)
def test_op_on_cuda_matches_cpu(spec):
    strategy = spec.gen(_case_dtype(spec))

    @settings(max_examples=_examples(spec))
    @given(data=st.data())
    def check(data):
        case = data.draw(strategy, label="case")
        layouts = _layouts(data, spec, case)
        seed = data.draw(st.integers(0, 2**32 - 1), label="upstream-gradient seed")
        run_on_cuda(spec, case, layouts, seed)

    check()


@pytest.mark.parametrize("spec", GRADGRAD_ROWS)
def test_double_backward_on_cuda_matches_cpu(spec):
    strategy = spec.gen(F32)

    @settings(max_examples=1)
    @given(data=st.data())
    def check(data):
        case = data.draw(strategy, label="case")
        run_double_backward_on_cuda(spec, case, _layouts(data, spec, case), seed=0)

    check()


@pytest.mark.parametrize("spec,err", ERROR_ROWS)
def test_error_inputs_raise_on_cuda_too(spec, err):
    fn = err.fn or spec.fn
    inputs = [CUDA_LIB.tensor(np.asarray(a), requires_grad=err.requires_grad
                              and np.issubdtype(np.asarray(a).dtype, np.floating))
              for a in err.inputs]
    with pytest.raises(err.raises) as info:
        fn(CUDA_LIB, *inputs, **err.kwargs)
    msg = str(info.value).lower()
    assert any(n.lower() in msg for n in err.names), (
        f"{spec.name} on cuda: the error should name the op ({err.names}); got {msg!r}")
