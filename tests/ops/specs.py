"""The op-spec table for ``tests/ops`` and the one runner every op test goes through.

Layout of this file:

1. **Machinery** — :class:`Case` (one drawn input: numpy arrays + non-tensor arguments),
   :class:`OpSpec` (one row of the table), :class:`ErrorCase`, and the runner:
   :func:`run_case` (forward + first-order gradient against torch) and
   :func:`run_double_backward` (gradient of ``sum(grad * v)`` against torch).
2. **Generators** — small hypothesis builders that draw shapes (``tl.testing.strategies``) and
   values *inside each op's domain*.  Values are moved into the domain (``abs(x) + 0.1`` for log,
   ``x +/- 0.25`` away from a kink, a rank transform for "all values distinct" where ties would make
   the gradient ambiguous); nothing is filtered.  Transforms write back into the drawn array so a
   non-contiguous array (transposed / strided layout) stays non-contiguous.
3. **The table** — ``SPECS``: every name of DESIGN.md section 5 Tensor / Math / Reductions /
   Movement.  Each row says: name, the call (one function ``fn(lib, *tensors, **kwargs)`` that is
   run once with ``lib=tinygrad_lite`` and once with ``lib=torch``, so the code under test uses
   *exactly* torch's spelling; ``torch_fn`` overrides it in the rare case the spelling differs),
   the input generator (shape strategy + domain), tolerances, whether the gradient and the double
   backward are compared, and the error inputs of that op.

Expectations always come from torch: the runner calls torch on the same numpy inputs and the same
random upstream gradient, and compares with ``tl.testing.assert_close``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable, Sequence

import numpy as np
import torch
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_lite as tl
from tinygrad_lite.testing import strategies as S

# --------------------------------------------------------------------------------------------
# 1. Machinery
# --------------------------------------------------------------------------------------------

F64 = "float64"
F32 = "float32"
LAYOUTS = ("direct", "permuted", "sliced")

#: float32 tolerance for ops that accumulate many terms (sums over up to 625 elements with
#: |x| <= 2): numpy and torch add in a different order, so the last bits legitimately differ.
TOL32_ACC = {F32: dict(rtol=1e-5, atol=1e-4)}


class Const:
    """A float input passed as a tensor that never requires grad (e.g. ``expand_as``'s other)."""

    __slots__ = ("array",)

    def __init__(self, array: np.ndarray):
        self.array = array

    def __repr__(self) -> str:
        return f"Const({self.array!r})"


@dataclass
class Case:
    """One drawn input: tensors (numpy arrays, in order) and the non-tensor keyword arguments."""

    inputs: list
    kwargs: dict = field(default_factory=dict)

    def __repr__(self) -> str:  # hypothesis prints this on failure: keep it complete
        shapes = [getattr(getattr(a, "array", a), "shape", a) for a in self.inputs]
        return f"Case(shapes={shapes}, kwargs={self.kwargs!r}, inputs={self.inputs!r})"


@dataclass(frozen=True)
class ErrorCase:
    """An input the op must reject.

    ``inputs`` are numpy arrays turned into tensors (no grad) and passed to ``fn`` (or the row's
    ``fn`` when ``fn`` is None) together with ``kwargs``.  ``raises`` is the accepted exception
    type(s); the message must contain one of ``names`` (the op, case-insensitive) and every string
    of ``contains`` (the offending shapes / dtypes).  Torch must reject the same input too.
    """

    inputs: tuple
    raises: Any
    names: tuple
    contains: tuple = ()
    kwargs: dict = field(default_factory=dict)
    fn: Callable | None = None
    label: str = ""
    requires_grad: bool = False


@dataclass(frozen=True)
class OpSpec:
    """One row of the op table (see the module docstring)."""

    name: str
    fn: Callable
    gen: Callable[[str], st.SearchStrategy]
    torch_fn: Callable | None = None
    grad: bool = True  # compare first-order gradients
    gradgrad: bool = True  # compare double backward (float64)
    inputs_require_grad: bool | None = None  # default: same as ``grad``
    dtypes: tuple = (F64, F32)
    tol: dict = field(default_factory=dict)  # dtype -> dict(rtol=, atol=); missing: torch defaults
    noncontig: bool = True  # may feed permuted / sliced views of the leaves
    weight: float = 1.0  # fraction of the profile's max_examples this row gets
    errors: tuple = ()
    domain: str = "[-2, 2]"  # human-readable note on the input domain

    @property
    def rg(self) -> bool:
        return self.grad if self.inputs_require_grad is None else self.inputs_require_grad

    def call(self, lib, *args, **kwargs):
        fn = self.torch_fn if (lib is torch and self.torch_fn is not None) else self.fn
        return fn(lib, *args, **kwargs)

    def tolerance(self, dtype: str) -> dict:
        return dict(self.tol.get(dtype, {}))


def is_float_array(a) -> bool:
    return isinstance(a, np.ndarray) and np.issubdtype(a.dtype, np.floating)


def _lib_array(lib, arr: np.ndarray) -> np.ndarray:
    # torch gets a contiguous copy (the reference never depends on layout); our library gets the
    # drawn array as is, which may be a transposed or strided numpy view.
    return np.array(arr, order="C") if lib is torch else arr  # (ascontiguousarray makes 0-d 1-d)


def make_input(lib, item, requires_grad: bool, layout: str = "direct"):
    """Build (leaf, input) for one Case input in library ``lib``.

    ``layout`` puts a view between the leaf and the op: ``permuted`` creates the leaf with the
    axes reversed and feeds ``leaf.permute(...)``; ``sliced`` creates a leaf twice as long in the
    last dim and feeds ``leaf[..., ::2]``.  Gradients are always compared on the leaves.
    """
    if isinstance(item, Const):
        return None, lib.tensor(_lib_array(lib, item.array))
    arr = item
    if not is_float_array(arr):
        return None, lib.tensor(_lib_array(lib, arr))
    if layout == "permuted" and arr.ndim >= 2:
        perm = tuple(reversed(range(arr.ndim)))
        leaf = lib.tensor(np.ascontiguousarray(arr.transpose(perm)), requires_grad=requires_grad)
        return (leaf if requires_grad else None), leaf.permute(*perm)
    if layout == "sliced" and arr.ndim >= 1:
        base = np.zeros(arr.shape[:-1] + (2 * arr.shape[-1],), dtype=arr.dtype)
        base[..., ::2] = arr
        leaf = lib.tensor(base, requires_grad=requires_grad)
        return (leaf if requires_grad else None), leaf[..., ::2]
    leaf = lib.tensor(_lib_array(lib, arr), requires_grad=requires_grad)
    return (leaf if requires_grad else None), leaf


def build_inputs(lib, case: Case, requires_grad: bool, layouts: Sequence[str] | None = None):
    layouts = list(layouts) if layouts else ["direct"] * len(case.inputs)
    leaves, inputs = [], []
    for item, layout in zip(case.inputs, layouts):
        leaf, x = make_input(lib, item, requires_grad, layout)
        inputs.append(x)
        if leaf is not None:
            leaves.append(leaf)
    return leaves, inputs


def flatten(out) -> list:
    if isinstance(out, (tuple, list)):
        return [leaf for o in out for leaf in flatten(o)]
    return [out]


def to_numpy(t) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        return t.detach().numpy(force=True)  # force: torch's double backward may give ZeroTensors
    return t.detach().numpy()


def _fail(what: str, msg: str):
    raise AssertionError(f"{what}: {msg}")


def assert_tensor_matches(
    ours,
    ref: torch.Tensor,
    *,
    what: str,
    tol: dict,
    equal_nan=False,
    check_requires_grad: bool = True,
):
    """Shape, dtype, (requires_grad) and values of a tinygrad_lite tensor against torch's."""
    if not isinstance(ours, tl.Tensor):
        _fail(what, f"expected a tinygrad_lite Tensor (torch gives a Tensor), got {type(ours)!r}")
    if tuple(ours.shape) != tuple(ref.shape):
        _fail(what, f"shape {tuple(ours.shape)} != torch's {tuple(ref.shape)}")
    a, b = to_numpy(ours), to_numpy(ref)
    if a.dtype != b.dtype:
        _fail(what, f"dtype {a.dtype} != torch's {b.dtype}")
    if a.shape != b.shape:
        _fail(what, f".numpy() shape {a.shape} != torch's {b.shape}")
    if check_requires_grad and bool(ours.requires_grad) != bool(ref.requires_grad):
        _fail(what, f"requires_grad {ours.requires_grad} != torch's {ref.requires_grad}")
    try:
        tl.testing.assert_close(ours.detach(), ref.detach(), equal_nan=equal_nan, **tol)
    except AssertionError as e:
        raise AssertionError(
            f"{what}: values differ from torch\n{e}\nours:\n{a}\ntorch:\n{b}"
        ) from None


def assert_same_output(
    ours, ref, *, what: str = "output", tol: dict | None = None, equal_nan: bool = False
):
    """Compare an op's result with torch's, recursively (tensors, tuples, Python values)."""
    tol = tol or {}
    if isinstance(ref, torch.Tensor):
        assert_tensor_matches(ours, ref, what=what, tol=tol, equal_nan=equal_nan)
    elif isinstance(ref, (tuple, list)):  # includes torch.Size
        if not isinstance(ours, (tuple, list)):
            _fail(
                what, f"expected a sequence like torch's {type(ref).__name__}, got {type(ours)!r}"
            )
        if len(ours) != len(ref):
            _fail(what, f"length {len(ours)} != torch's {len(ref)}")
        for i, (o, r) in enumerate(zip(ours, ref)):
            assert_same_output(o, r, what=f"{what}[{i}]", tol=tol, equal_nan=equal_nan)
    elif isinstance(ref, np.ndarray):
        if not isinstance(ours, np.ndarray):
            _fail(what, f"expected numpy.ndarray, got {type(ours)!r}")
        if ours.dtype != ref.dtype or ours.shape != ref.shape:
            _fail(what, f"{ours.dtype}{ours.shape} != torch's {ref.dtype}{ref.shape}")
        np.testing.assert_array_equal(ours, ref, err_msg=what)
    elif isinstance(ref, (bool, int, float)):
        if type(ours) is not type(ref):
            _fail(
                what,
                f"Python type {type(ours).__name__} != torch's {type(ref).__name__}"
                f" (ours={ours!r}, torch={ref!r})",
            )
        if not (ours == ref or (isinstance(ref, float) and math.isnan(ref) and math.isnan(ours))):
            _fail(what, f"{ours!r} != torch's {ref!r}")
    elif ref is None:
        if ours is not None:
            _fail(what, f"expected None, got {ours!r}")
    else:  # pragma: no cover - a table row returned something the runner doesn't know
        raise TypeError(f"{what}: cannot compare torch value of type {type(ref)!r}")


def assert_grads_match(
    ours: Sequence, ref: Sequence, *, what: str, tol: dict, shapes=None, equal_nan: bool = False
):
    """Per-leaf gradients; torch's ``None`` (unused input) accepts ``None`` or all zeros."""
    if len(ours) != len(ref):
        _fail(what, f"{len(ours)} gradients != torch's {len(ref)}")
    for i, (g, r) in enumerate(zip(ours, ref)):
        w = f"{what} wrt input {i}"
        if r is None:  # torch: no gradient flows; ours may be None or (numerically) zero
            if g is not None:
                zeros = np.zeros(tuple(g.shape), dtype=to_numpy(g).dtype)
                try:
                    tl.testing.assert_close(to_numpy(g), zeros, **tol)
                except AssertionError:
                    _fail(
                        w,
                        f"torch gives no gradient (unused input), ours is non-zero:\n{to_numpy(g)}",
                    )
            continue
        if g is None:
            zeros = np.zeros(tuple(r.shape), dtype=to_numpy(r).dtype)
            try:
                tl.testing.assert_close(zeros, to_numpy(r), **tol)
            except AssertionError:
                _fail(w, f"ours is None, torch's is\n{to_numpy(r)}")
            continue
        assert_tensor_matches(g, r, what=w, tol=tol, equal_nan=equal_nan, check_requires_grad=False)


def _diff_outputs(out_ours, out_ref):
    """Pairs of (ours, torch) output tensors through which torch propagates gradients."""
    pairs = []
    for o, r in zip(flatten(out_ours), flatten(out_ref)):
        if isinstance(r, torch.Tensor) and r.requires_grad:
            pairs.append((o, r))
    return pairs


def _upstream(rng: np.random.Generator, ref: torch.Tensor) -> np.ndarray:
    return rng.standard_normal(tuple(ref.shape)).astype(to_numpy(ref).dtype)


def run_case(
    spec: OpSpec,
    case: Case,
    dtype: str = F64,
    *,
    layouts=None,
    seed: int = 0,
    use_backward: bool = False,
    equal_nan: bool = False,
    tol: dict | None = None,
):
    """Run one case through our library and torch; compare outputs, then gradients.

    The upstream gradient is random (seeded) and identical for both libraries.  With
    ``use_backward`` and a single differentiable output, gradients are read from ``leaf.grad``
    after ``out.backward(g)`` instead of ``tl.autograd.grad``.
    Returns ``(ours, torch)`` outputs for extra assertions by the caller.
    """
    tol = spec.tolerance(dtype) if tol is None else tol
    rg = spec.rg
    leaves_tl, inputs_tl = build_inputs(tl, case, rg, layouts)
    leaves_th, inputs_th = build_inputs(torch, case, rg, layouts)
    out_th = spec.call(torch, *inputs_th, **case.kwargs)
    out_tl = spec.call(tl, *inputs_tl, **case.kwargs)
    assert_same_output(out_tl, out_th, what=f"{spec.name} output", tol=tol, equal_nan=equal_nan)
    if not (spec.grad and leaves_th):
        return out_tl, out_th
    pairs = _diff_outputs(out_tl, out_th)
    if not pairs:
        return out_tl, out_th
    rng = np.random.default_rng(seed)
    gs = [_upstream(rng, r) for _, r in pairs]
    outs_tl = [o for o, _ in pairs]
    outs_th = [r for _, r in pairs]
    if use_backward and len(pairs) == 1:
        outs_th[0].backward(torch.tensor(gs[0]))
        outs_tl[0].backward(tl.tensor(gs[0]))
        grads_th = [leaf.grad for leaf in leaves_th]
        grads_tl = [leaf.grad for leaf in leaves_tl]
        how = "backward(): .grad"
    else:
        grads_th = torch.autograd.grad(
            outs_th, leaves_th, grad_outputs=[torch.tensor(g) for g in gs], allow_unused=True
        )
        grads_tl = tl.autograd.grad(
            outs_tl, leaves_tl, grad_outputs=[tl.tensor(g) for g in gs], allow_unused=True
        )
        how = "autograd.grad"
    assert_grads_match(
        list(grads_tl),
        list(grads_th),
        what=f"{spec.name} gradient ({how})",
        tol=tol,
        equal_nan=equal_nan,
    )
    return out_tl, out_th


def _double_backward(lib, spec, case, layouts, gs, vs):
    leaves, inputs = build_inputs(lib, case, True, layouts)
    out = spec.call(lib, *inputs, **case.kwargs)
    outs = [o for o in flatten(out) if isinstance(o, lib.Tensor) and o.requires_grad]
    g_tensors = [lib.tensor(g, requires_grad=True) for g in gs]
    grads = lib.autograd.grad(
        outs, leaves, grad_outputs=g_tensors, create_graph=True, allow_unused=True
    )
    total = None
    for gr, v in zip(grads, vs):
        if gr is None:
            continue
        term = (gr * lib.tensor(v)).sum()
        total = term if total is None else total + term
    return leaves, g_tensors, total


def run_double_backward(
    spec: OpSpec, case: Case, *, layouts=None, seed: int = 0, tol: dict | None = None
):
    """grads = d out / d inputs (create_graph=True, random upstream g that requires grad);
    then d sum_i(grads_i * v_i) / d (inputs, g), compared with torch doing the same (float64)."""
    tol = spec.tolerance(F64) if tol is None else tol
    rng = np.random.default_rng(seed)
    leaves_th, inputs_th = build_inputs(torch, case, True, layouts)
    out_th = spec.call(torch, *inputs_th, **case.kwargs)
    outs_th = [o for o in flatten(out_th) if isinstance(o, torch.Tensor) and o.requires_grad]
    if not outs_th or not leaves_th:
        return
    gs = [_upstream(rng, o) for o in outs_th]
    vs = [rng.standard_normal(tuple(leaf.shape)).astype(to_numpy(leaf).dtype) for leaf in leaves_th]
    leaves_th, gt_th, total_th = _double_backward(torch, spec, case, layouts, gs, vs)
    if total_th is None or not total_th.requires_grad:
        return  # torch's first derivative is a constant (e.g. sign): nothing to compare
    leaves_tl, gt_tl, total_tl = _double_backward(tl, spec, case, layouts, gs, vs)
    if total_tl is None:
        _fail(f"{spec.name} double backward", "first-order gradients are all None")
    assert_same_output(total_tl, total_th, what=f"{spec.name} sum(grad * v)", tol=tol)
    gg_th = torch.autograd.grad(total_th, leaves_th + gt_th, allow_unused=True)
    gg_tl = tl.autograd.grad(total_tl, leaves_tl + gt_tl, allow_unused=True)
    assert_grads_match(
        list(gg_tl),
        list(gg_th),
        what=f"{spec.name} double backward (inputs 0..{len(leaves_th) - 1}, then upstream grads)",
        tol=tol,
    )


def run_error_case(spec: OpSpec, err: ErrorCase):
    """Torch must reject the input; ours must raise ``err.raises`` with a useful message."""
    import pytest  # local: specs.py is also imported outside pytest for quick checks

    fn = err.fn or spec.fn

    def build(lib):
        out = []
        for a in err.inputs:
            a = np.asarray(a)
            if np.issubdtype(a.dtype, np.floating):
                out.append(lib.tensor(a, requires_grad=err.requires_grad))
            else:
                out.append(lib.tensor(a))
        return out

    with pytest.raises(Exception):
        fn(torch, *build(torch), **err.kwargs)
    with pytest.raises(err.raises) as info:
        fn(tl, *build(tl), **err.kwargs)
    msg = str(info.value)
    assert any(n.lower() in msg.lower() for n in err.names), (
        f"{spec.name}: error message should name the op (one of {err.names}); got {msg!r}"
    )
    for s in err.contains:
        assert s.lower() in msg.lower(), (
            f"{spec.name}: error message should contain {s!r}; got {msg!r}"
        )


# --------------------------------------------------------------------------------------------
# 2. Generators: shapes from tl.testing.strategies, values moved into each op's domain
# --------------------------------------------------------------------------------------------


def elems(dtype: str, lo: float = -2.0, hi: float = 2.0) -> st.SearchStrategy:
    return st.floats(
        lo,
        hi,
        allow_nan=False,
        allow_infinity=False,
        allow_subnormal=False,
        width=32 if dtype == F32 else (16 if dtype == "float16" else 64),
    )


def assign(arr: np.ndarray, values) -> np.ndarray:
    """Write ``values`` into ``arr`` in place (keeps a non-contiguous layout); returns the array."""
    values = np.asarray(values).astype(arr.dtype, copy=False).reshape(arr.shape)
    if arr.flags.writeable:
        arr[...] = values
        return arr
    return values.copy()


# Domain transforms: elementwise maps from [-2, 2] into an op's domain (no filtering).
def positive(x):  # log, sqrt, rsqrt
    return np.abs(x) + 0.1


def pow_base(x):  # pow base: > 0; >= 0.5 keeps d/da a**b (up to 2 * 0.1**-3 at 0.1) moderate, so
    return np.abs(x) + 0.5  # float32 gradients summed over broadcast dims stay within tolerance


def nonzero(x):  # kinks at 0 (abs, sign, relu), poles at 0 (reciprocal, div)
    return np.where(x >= 0, x + 0.25, x - 0.25)


def above_minus_one(x):  # log1p
    return np.abs(x) * 0.9 - 0.5


def half_steps(x):  # comparisons: a coarse grid so ties (==, <=) actually occur
    return np.round(x * 2) / 2


def wide(x):  # logsumexp: large magnitudes that overflow a naive exp
    return x * 50


def away_from_zero_magnitude(x):  # prod: |x| in [0.5, 1.5], keeps the sign
    return np.where(x >= 0, 1.0, -1.0) * (np.abs(x) / 2 + 0.5)


def _ranks(flat: np.ndarray) -> np.ndarray:
    order = np.argsort(flat, kind="stable")
    ranks = np.empty(flat.size, dtype=np.float64)
    ranks[order] = np.arange(flat.size)
    return ranks


def distinct(arrs: list) -> list:
    """All values of all float inputs distinct, in (-2, 2), in the order hypothesis drew them."""
    floats = [a for a in arrs if is_float_array(a)]
    flat = np.concatenate([a.ravel() for a in floats]) if floats else np.zeros(0)
    n = flat.size
    vals = (_ranks(flat) + 0.5) / max(n, 1) * 4.0 - 2.0
    out, k = [], 0
    for a in arrs:
        if is_float_array(a):
            out.append(assign(a, vals[k : k + a.size]))
            k += a.size
        else:
            out.append(a)
    return out


def distinct_abs(arrs: list) -> list:
    """Distinct, non-zero magnitudes in (0, 2] with the drawn signs (norm p=1 / p=inf)."""
    out = []
    for a in arrs:
        if not is_float_array(a):
            out.append(a)
            continue
        flat = a.ravel()
        mags = (_ranks(np.abs(flat)) + 1.0) / max(flat.size, 1) * 2.0
        out.append(assign(a, np.where(flat >= 0, 1.0, -1.0) * mags))
    return out


def _apply_domains(arrs, domains, joint):
    if domains is not None:
        arrs = [
            assign(a, d(a)) if (d is not None and is_float_array(a)) else a
            for a, d in zip(arrs, domains)
        ]
    if joint is not None:
        arrs = joint(arrs)
    return arrs


def broadcast_shapes(draw, n: int, **shape_kw) -> list:
    """``n`` mutually broadcastable shapes.  A drawn ``min_dims`` (0, 1 or 2) keeps most examples
    above 0-d: operands of ``broadcastable_shapes`` are suffixes of the result shape, so without
    it many of them would be 0-d and a small example budget would rarely broadcast anything."""
    if "min_dims" not in shape_kw:
        shape_kw = dict(shape_kw, min_dims=draw(st.sampled_from([0, 1, 2])))
    r = draw(S.broadcastable_shapes(n, **shape_kw))
    r = getattr(r, "input_shapes", r)
    return [tuple(s) for s in r]


def _input_shapes(draw, n: int, shape_kw: dict) -> list:
    if n == 1:
        return [tuple(draw(S.shapes(**shape_kw)))]
    return broadcast_shapes(draw, n, **shape_kw)


def float_arrays(draw, shapes, dtype, lo=-2.0, hi=2.0, layout=None):
    return [
        draw(S.arrays(s, dtype=dtype, elements=elems(dtype, lo, hi), layout=layout)) for s in shapes
    ]


def elementwise(n: int = 1, *, domains=None, joint=None, scalars=None, **shape_kw):
    """``n`` mutually broadcastable float inputs + Python-scalar keyword arguments."""
    domains = domains if domains is None or isinstance(domains, (list, tuple)) else [domains] * n

    def gen(dtype):
        @st.composite
        def draw_case(draw):
            arrs = float_arrays(draw, _input_shapes(draw, n, shape_kw), dtype)
            arrs = _apply_domains(arrs, domains, joint)
            kw = {k: draw(v) for k, v in (scalars or {}).items()}
            return Case(arrs, kw)

        return draw_case()

    return gen


def custom(fn):
    """``fn(draw, dtype) -> Case`` as a table generator."""

    def gen(dtype):
        return st.composite(lambda draw: fn(draw, dtype))()

    return gen


def _neg_maybe(draw, d: int, ndim: int) -> int:
    return d - ndim if (ndim > 0 and draw(st.booleans())) else d


def draw_dim(draw, ndim: int) -> int:
    """A valid int dim, negative or not; a 0-d tensor takes 0 or -1 like torch."""
    n = max(ndim, 1)
    return draw(st.integers(-n, n - 1))


def draw_dims(draw, ndim: int, max_k: int | None = None) -> tuple:
    k = draw(st.integers(1, min(max(ndim, 1), max_k or 99)))
    perm = draw(st.permutations(list(range(max(ndim, 1)))))
    return tuple(_neg_maybe(draw, d, ndim) for d in perm[:k])


def draw_reduce_kwargs(
    draw,
    ndim: int,
    kinds=("omit", "None", "int", "tuple"),
    keepdim=True,
    max_tuple: int | None = None,
):
    """Keyword arguments of a reduction: dim omitted / None / int / tuple, keepdim or not."""
    kind = draw(st.sampled_from(kinds))
    kw: dict = {}
    if kind == "None":
        kw["dim"] = None
    elif kind == "int":
        kw["dim"] = draw_dim(draw, ndim)
    elif kind == "tuple":
        kw["dim"] = draw_dims(draw, ndim, max_tuple)
    if keepdim and kind != "omit":
        kd = draw(st.sampled_from(["omit", False, True]))
        if kd != "omit":
            kw["keepdim"] = kd
    return kw


def reduced_count(shape, dim) -> int:
    if dim is None:
        return int(np.prod(shape, dtype=np.int64))
    dims = dim if isinstance(dim, tuple) else (dim,)
    nd = max(len(shape), 1)
    return int(np.prod([shape[d % nd] for d in {d % nd for d in dims}] if shape else [1]))


def reduction(
    kinds=("omit", "None", "int", "tuple"),
    *,
    keepdim=True,
    domain=None,
    joint=None,
    extra=None,
    max_tuple=None,
    **shape_kw,
):
    """One float input + reduce kwargs; ``extra(draw, shape, kw)`` may add more kwargs."""

    def gen(dtype):
        @st.composite
        def draw_case(draw):
            shape = tuple(draw(S.shapes(**shape_kw)))
            arrs = _apply_domains(float_arrays(draw, [shape], dtype), [domain], joint)
            kw = draw_reduce_kwargs(draw, len(shape), kinds, keepdim, max_tuple)
            if extra is not None:
                kw.update(extra(draw, shape, kw))
            return Case(arrs, kw)

        return draw_case()

    return gen


def call_method(name: str, positional: Sequence[str] = ()):
    """``fn(lib, x, **kw) -> x.<name>(**kw)``; names in ``positional`` go first, positionally."""

    def fn(lib, x, **kw):
        args = [kw.pop(p) for p in positional if p in kw]
        return getattr(x, name)(*args, **kw)

    fn.__name__ = name
    return fn


def with_dim_positional(name: str):
    """``x.name(dim, ...)`` or ``x.name(dim=dim, ...)`` chosen by the drawn ``_pos`` flag."""

    def fn(lib, x, _pos=False, **kw):
        if _pos and "dim" in kw:
            d = kw.pop("dim")
            return getattr(x, name)(d, **kw)
        return getattr(x, name)(**kw)

    fn.__name__ = name
    return fn


def _pos_flag(draw, shape, kw):
    return {"_pos": draw(st.booleans())} if "dim" in kw else {}


def int_array(draw, shape, lo: int, hi: int, dtype=np.int64, unique: bool = False) -> np.ndarray:
    return draw(hnp.arrays(dtype, tuple(shape), elements=st.integers(lo, hi), unique=unique))


def bool_array(draw, shape) -> np.ndarray:
    return draw(hnp.arrays(np.bool_, tuple(shape), elements=st.booleans()))


def factor_shape(draw, n: int, max_parts: int = 4) -> tuple:
    """A random shape with product ``n`` (1s sprinkled in), for reshape / view / unflatten."""
    factors, m, p = [], n, 2
    while m > 1:
        while m % p == 0:
            factors.append(p)
            m //= p
        p += 1
    factors = draw(st.permutations(factors)) if factors else []
    parts = draw(st.integers(1 if factors else 0, max(1, min(max_parts, len(factors)))))
    shape = [1] * parts
    for f in factors:
        shape[draw(st.integers(0, parts - 1)) if parts else 0] *= f
    if draw(st.booleans()) and len(shape) < 5:
        shape.insert(draw(st.integers(0, len(shape))), 1)
    return tuple(shape)


def with_minus_one(draw, shape: tuple) -> tuple:
    if shape and draw(st.booleans()):
        i = draw(st.integers(0, len(shape) - 1))
        return shape[:i] + (-1,) + shape[i + 1 :]
    return shape


# --------------------------------------------------------------------------------------------
# 3. The table
# --------------------------------------------------------------------------------------------

SPECS: list = []


def spec(name, fn, gen, **kw) -> OpSpec:
    s = OpSpec(name, fn, gen, **kw)
    SPECS.append(s)
    return s


V = ValueError
IV = (IndexError, ValueError)


def _bcast_error(name, names, fn=None):
    return ErrorCase(
        (np.zeros((2, 3)), np.zeros((4,))),
        V,
        names,
        ("(2, 3)", "(4,)"),
        fn=fn,
        label=f"{name} shapes (2, 3) and (4,)",
    )


SCALARS = st.sampled_from([2, -3, 0.5, 2.5, -1.25, 1])

# ---- Math: binary tensor-tensor (broadcasting) ----------------------------------------------
spec("add", lambda lib, a, b: a + b, elementwise(2), errors=(_bcast_error("add", ("add", "+")),))
spec(
    "sub",
    lambda lib, a, b: a - b,
    elementwise(2),
    errors=(
        _bcast_error("sub", ("sub", "-")),
        ErrorCase(
            (np.array([True]), np.array([False])),
            TypeError,
            ("sub", "-"),
            ("bool",),
            label="bool - bool",
        ),
    ),
)
spec("mul", lambda lib, a, b: a * b, elementwise(2), errors=(_bcast_error("mul", ("mul", "*")),))
spec(
    "truediv",
    lambda lib, a, b: a / b,
    elementwise(2, domains=[None, nonzero]),
    domain="b: |b| >= 0.25",
    errors=(_bcast_error("div", ("div", "/")),),
)
spec(
    "floordiv",
    lambda lib, a, b: a // b,
    elementwise(2, domains=[None, nonzero]),
    grad=False,
    gradgrad=False,
    domain="b: |b| >= 0.25 (torch: floor_divide has no gradient)",
    errors=(
        ErrorCase(
            (np.array([1, 2]), np.array([0, 1])),
            (ZeroDivisionError, RuntimeError, ValueError),
            ("floor_divide", "floordiv", "//", "division"),
            label="int64 // 0",
        ),
    ),
)
spec(
    "mod", lambda lib, a, b: a % b, elementwise(2, domains=[None, nonzero]), domain="b: |b| >= 0.25"
)
spec(
    "pow_tensor_tensor",
    lambda lib, a, b: a**b,
    elementwise(2, domains=[pow_base, None]),
    domain="base: |x| + 0.5",
    errors=(_bcast_error("pow", ("pow", "**")),),
)
spec(
    "add(alpha)",
    lambda lib, a, b, alpha: a.add(b, alpha=alpha),
    elementwise(2, scalars={"alpha": st.sampled_from([2, -0.5, 1.5])}),
)
spec(
    "sub(alpha)",
    lambda lib, a, b, alpha: a.sub(b, alpha=alpha),
    elementwise(2, scalars={"alpha": st.sampled_from([2, -0.5, 1.5])}),
)
spec("mul_method", lambda lib, a, b: a.mul(b), elementwise(2))
spec("div_method", lambda lib, a, b: a.div(b), elementwise(2, domains=[None, nonzero]))
spec("pow_method", lambda lib, a, b: a.pow(b), elementwise(2, domains=[pow_base, None]))
spec(
    "maximum",
    lambda lib, a, b: lib.maximum(a, b),
    elementwise(2, joint=distinct),
    domain="all values distinct (ties: test_fixed_cases)",
    errors=(_bcast_error("maximum", ("maximum",)),),
)
spec(
    "minimum",
    lambda lib, a, b: lib.minimum(a, b),
    elementwise(2, joint=distinct),
    domain="all values distinct (ties: test_fixed_cases)",
)

for _name, _op in [
    ("lt", lambda a, b: a < b),
    ("le", lambda a, b: a <= b),
    ("gt", lambda a, b: a > b),
    ("ge", lambda a, b: a >= b),
    ("eq", lambda a, b: a == b),
    ("ne", lambda a, b: a != b),
]:
    spec(
        _name,
        (lambda op: lambda lib, a, b: op(a, b))(_op),
        elementwise(2, domains=[half_steps, half_steps]),
        grad=False,
        gradgrad=False,
        inputs_require_grad=True,
        domain="multiples of 0.5 (ties occur)",
    )
    spec(
        f"{_name}_scalar",
        (lambda op: lambda lib, a, c: op(a, c))(_op),
        elementwise(1, domains=[half_steps], scalars={"c": st.sampled_from([0, 0.5, -1.0, 1])}),
        grad=False,
        gradgrad=False,
        inputs_require_grad=True,
    )
spec(
    "gt_scalar_reflected",
    lambda lib, a, c: c > a,
    elementwise(1, domains=[half_steps], scalars={"c": st.sampled_from([0, 0.5, -1.0])}),
    grad=False,
    gradgrad=False,
    inputs_require_grad=True,
)


def _bool_case(n):
    def fn(draw, dtype):
        r = broadcast_shapes(draw, n) if n > 1 else [draw(S.shapes())]
        return Case([bool_array(draw, s) for s in r])

    return custom(fn)


spec(
    "and",
    lambda lib, a, b: a & b,
    _bool_case(2),
    grad=False,
    gradgrad=False,
    dtypes=("bool",),
    errors=(
        ErrorCase(
            (np.zeros((2, 3)), np.zeros((2, 3))),
            TypeError,
            ("and", "&"),
            ("float64",),
            label="& on float64",
        ),
    ),
)
spec("or", lambda lib, a, b: a | b, _bool_case(2), grad=False, gradgrad=False, dtypes=("bool",))
spec("invert", lambda lib, a: ~a, _bool_case(1), grad=False, gradgrad=False, dtypes=("bool",))

# ---- Math: Python scalars (operators, reflected operators) ----------------------------------
spec("add_scalar", lambda lib, x, c: x + c, elementwise(1, scalars={"c": SCALARS}))
spec("radd_scalar", lambda lib, x, c: c + x, elementwise(1, scalars={"c": SCALARS}))
spec("sub_scalar", lambda lib, x, c: x - c, elementwise(1, scalars={"c": SCALARS}))
spec("rsub_scalar", lambda lib, x, c: c - x, elementwise(1, scalars={"c": SCALARS}))
spec("mul_scalar", lambda lib, x, c: x * c, elementwise(1, scalars={"c": SCALARS}))
spec("rmul_scalar", lambda lib, x, c: c * x, elementwise(1, scalars={"c": SCALARS}))
spec("div_scalar", lambda lib, x, c: x / c, elementwise(1, scalars={"c": SCALARS}))
spec(
    "rdiv_scalar", lambda lib, x, c: c / x, elementwise(1, domains=nonzero, scalars={"c": SCALARS})
)
spec(
    "floordiv_scalar",
    lambda lib, x, c: x // c,
    elementwise(1, scalars={"c": SCALARS}),
    grad=False,
    gradgrad=False,
)
spec(
    "rfloordiv_scalar",
    lambda lib, x, c: c // x,
    elementwise(1, domains=nonzero, scalars={"c": SCALARS}),
    grad=False,
    gradgrad=False,
)
spec("mod_scalar", lambda lib, x, c: x % c, elementwise(1, scalars={"c": SCALARS}))
spec(
    "rmod_scalar",
    lambda lib, x, c: c % x,
    elementwise(1, domains=nonzero, scalars={"c": SCALARS}),
    grad=False,
    gradgrad=False,
    domain="torch: no derivative for scalar % tensor",
)
spec(
    "pow_int_scalar",
    lambda lib, x, c: x**c,
    elementwise(1, domains=nonzero, scalars={"c": st.sampled_from([0, 1, 2, 3, -1, -2])}),
    domain="|x| >= 0.25 (negative exponents)",
    errors=(
        ErrorCase(
            (np.array([1, 2]),),
            V,
            ("pow", "**"),
            fn=lambda lib, x: x**-1,
            label="int64 tensor ** -1",
        ),
    ),
)
spec(
    "pow_float_scalar",
    lambda lib, x, c: x**c,
    elementwise(
        1, domains=positive, scalars={"c": st.sampled_from([0.5, 1.5, -0.5, 2.5, 0.0, 2.0])}
    ),
    domain="x > 0 (fractional exponents)",
)
spec(
    "pow_method_scalar",
    lambda lib, x, c: x.pow(c),
    elementwise(1, domains=positive, scalars={"c": st.sampled_from([2, 0.5, -1.5])}),
)
spec(
    "tl.pow(x, scalar)",
    lambda lib, x, c: lib.pow(x, c),
    elementwise(1, domains=positive, scalars={"c": st.sampled_from([2, 0.5, -1.5])}),
    weight=0.4,
)
spec(
    "rpow_scalar",
    lambda lib, x, c: c**x,
    elementwise(1, scalars={"c": st.sampled_from([2, 0.5, 3.0, 1.5])}),
)
spec(
    "tl.pow(scalar, x)",
    lambda lib, x, c: lib.pow(c, x),
    elementwise(1, scalars={"c": st.sampled_from([2, 0.5])}),
    weight=0.4,
)
spec(
    "neg_operator",
    lambda lib, x: -x,
    elementwise(1),
    errors=(
        ErrorCase(
            (np.array([True, False]),), TypeError, ("neg", "-"), ("bool",), label="-bool tensor"
        ),
    ),
)

# ---- Math: unary (method form; module-level twins further below) ----------------------------
UNARY = {
    # name: (domain transform, note, gradgrad)
    "neg": (None, "[-2, 2]", True),
    "abs": (nonzero, "|x| >= 0.25 (abs at 0: fixed cases)", True),
    "sign": (nonzero, "|x| >= 0.25; gradient is 0", False),
    "exp": (None, "[-2, 2]", True),
    "log": (positive, "|x| + 0.1", True),
    "log2": (positive, "|x| + 0.1", True),
    "log1p": (above_minus_one, "[-0.5, 1.3]", True),
    "expm1": (None, "[-2, 2]", True),
    "sqrt": (positive, "|x| + 0.1", True),
    "rsqrt": (positive, "|x| + 0.1", True),
    "sin": (None, "[-2, 2]", True),
    "cos": (None, "[-2, 2]", True),
    "tanh": (None, "[-2, 2]", True),
    "sigmoid": (None, "[-2, 2]", True),
    "erf": (None, "[-2, 2]", True),
    "relu": (nonzero, "|x| >= 0.25 (relu at 0: fixed cases)", True),
    "square": (None, "[-2, 2]", True),
    "reciprocal": (nonzero, "|x| >= 0.25", True),
}
for _name, (_dom, _note, _gg) in UNARY.items():
    spec(_name, call_method(_name), elementwise(1, domains=_dom), gradgrad=_gg, domain=_note)


def _clamp_case(draw, dtype, which=("min", "max")):
    (shape,) = _input_shapes(draw, 1, {})
    (x,) = float_arrays(draw, [shape], dtype)
    lo = draw(st.sampled_from([-1.5, -1.0, -0.5, -0.25, -1]))
    hi = draw(st.sampled_from([0.25, 0.5, 1.0, 1.5, 1]))
    # keep x >= 0.05 away from both bounds so the gradient is not at the kink
    for b in (lo, hi):
        x = assign(x, np.where(np.abs(x - b) < 0.05, x + np.where(x >= b, 0.05, -0.05), x))
    kw = {}
    if "min" in which:
        kw["min"] = lo
    if "max" in which:
        kw["max"] = hi
    return Case([x], kw)


spec(
    "clamp(min, max)",
    lambda lib, x, **kw: x.clamp(**kw),
    custom(_clamp_case),
    domain="x >= 0.05 away from the bounds (bounds: fixed cases)",
    errors=(
        ErrorCase(
            (np.zeros((2, 3)),),
            (ValueError, TypeError),
            ("clamp",),
            fn=lambda lib, x: x.clamp(),
            label="clamp() without bounds",
        ),
    ),
)
spec(
    "clamp(min)",
    lambda lib, x, **kw: x.clamp(**kw),
    custom(lambda d, t: _clamp_case(d, t, ("min",))),
)
spec(
    "clamp(max)",
    lambda lib, x, **kw: x.clamp(**kw),
    custom(lambda d, t: _clamp_case(d, t, ("max",))),
)
spec("clamp positional", lambda lib, x, min, max: x.clamp(min, max), custom(_clamp_case))
spec("clip(min, max)", lambda lib, x, **kw: x.clip(**kw), custom(_clamp_case))


def shape_into(draw, shape: tuple) -> tuple:
    """A shape that broadcasts *to* ``shape``: leading dims dropped, some sides set to 1."""
    k = draw(st.integers(0, len(shape)))
    return tuple(1 if draw(st.booleans()) else s for s in shape[k:])


def _clamp_tensor_case(draw, dtype, n_bounds=2):
    # Bounds broadcast to x's shape (torch's clamp backward fails when x itself would broadcast).
    shape = tuple(draw(S.shapes()))
    shapes = [shape] + [shape_into(draw, shape) for _ in range(n_bounds)]
    return Case(distinct(float_arrays(draw, shapes, dtype)))


spec(
    "clamp(tensor, tensor)",
    lambda lib, x, lo, hi: x.clamp(lo, hi),
    custom(_clamp_tensor_case),
    domain="all values distinct; min > max occurs (torch: result is max)",
)
spec(
    "clamp(min=tensor)",
    lambda lib, x, lo: x.clamp(min=lo),
    custom(lambda d, t: _clamp_tensor_case(d, t, 1)),
)
spec(
    "clip(max=tensor)",
    lambda lib, x, hi: x.clip(max=hi),
    custom(lambda d, t: _clamp_tensor_case(d, t, 1)),
)


def _where_case(draw, dtype, scalar=None):
    shapes = broadcast_shapes(draw, 3)
    cond = bool_array(draw, shapes[0])
    if scalar == "other":
        (a,) = float_arrays(draw, [shapes[1]], dtype)
        return Case([cond, a], {"s": draw(st.sampled_from([0.0, -1.5, 2]))})
    if scalar == "input":
        (b,) = float_arrays(draw, [shapes[2]], dtype)
        return Case([cond, b], {"s": draw(st.sampled_from([0.0, 1.5]))})
    a, b = float_arrays(draw, shapes[1:], dtype)
    return Case([cond, a, b])


spec(
    "where",
    lambda lib, c, a, b: lib.where(c, a, b),
    custom(_where_case),
    errors=(
        ErrorCase(
            (np.ones((2, 3), bool), np.zeros((2, 3)), np.zeros((4,))),
            V,
            ("where",),
            ("(2, 3)", "(4,)"),
            label="where shapes",
        ),
        ErrorCase(
            (np.ones((2,)), np.zeros((2,)), np.zeros((2,))),
            TypeError,
            ("where",),
            ("float64",),
            label="float64 condition",
        ),
    ),
)
spec(
    "where(cond, x, scalar)",
    lambda lib, c, a, s: lib.where(c, a, s),
    custom(lambda d, t: _where_case(d, t, "other")),
)
spec(
    "where(cond, scalar, x)",
    lambda lib, c, b, s: lib.where(c, s, b),
    custom(lambda d, t: _where_case(d, t, "input")),
)


def _masked_fill_case(draw, dtype):
    shape = tuple(draw(S.shapes()))
    (x,) = float_arrays(draw, [shape], dtype)
    return Case(
        [x, bool_array(draw, shape_into(draw, shape))],
        {"value": draw(st.sampled_from([0.0, -1.5, 3, -1e9]))},
    )


def _masked_fill_tensor_case(draw, dtype):
    case = _masked_fill_case(draw, dtype)
    value = np.array(case.kwargs.pop("value"), dtype=dtype)
    return Case(case.inputs + [value])


spec(
    "masked_fill(mask, 0-d tensor)",
    lambda lib, x, m, v: x.masked_fill(m, v),
    custom(_masked_fill_tensor_case),
    domain="the 0-d value gets the sum of the masked gradient",
)
spec(
    "masked_fill",
    lambda lib, x, m, value: x.masked_fill(m, value),
    custom(_masked_fill_case),
    errors=(
        ErrorCase(
            (np.zeros((2, 3)), np.zeros((2, 3))),
            TypeError,
            ("masked_fill",),
            ("float64",),
            kwargs={"value": 1.0},
            label="float mask",
        ),
        ErrorCase(
            (np.zeros((2, 3)), np.ones((3, 2), bool)),
            V,
            ("masked_fill",),
            ("(2, 3)", "(3, 2)"),
            kwargs={"value": 1.0},
            label="mask (3, 2) for (2, 3)",
        ),
    ),
)


def _lerp_case(draw, dtype, tensor_weight=False):
    if tensor_weight:
        return Case(float_arrays(draw, _input_shapes(draw, 3, {}), dtype))
    a, b = float_arrays(draw, _input_shapes(draw, 2, {}), dtype)
    return Case([a, b], {"weight": draw(st.sampled_from([0.0, 0.25, 0.5, 1.0, 1.5, -0.5]))})


spec("lerp(end, scalar)", lambda lib, a, b, weight: a.lerp(b, weight), custom(_lerp_case))
spec(
    "lerp(end, tensor)",
    lambda lib, a, b, w: a.lerp(b, w),
    custom(lambda d, t: _lerp_case(d, t, True)),
)

# ---- Math: matmul ----------------------------------------------------------------------------


def _matmul_case(draw, dtype):
    sa, sb = draw(S.matmul_shapes())
    return Case(float_arrays(draw, [tuple(sa), tuple(sb)], dtype))


def _matmul_vec_case(draw, dtype):
    n, k, m = (draw(st.integers(1, 6)) for _ in range(3))
    batch = tuple(draw(S.shapes(max_dims=2, max_side=3)))
    kind = draw(st.sampled_from(["vv", "mv", "vm", "bv", "vb"]))
    shapes = {
        "vv": [(k,), (k,)],
        "mv": [(n, k), (k,)],
        "vm": [(k,), (k, m)],
        "bv": [batch + (n, k), (k,)],
        "vb": [(k,), batch + (k, m)],
    }[kind]
    return Case(float_arrays(draw, shapes, dtype))


_matmul_errors = (
    ErrorCase(
        (np.zeros((2, 3)), np.zeros((4, 5))),
        V,
        ("matmul", "@"),
        ("(2, 3)", "(4, 5)"),
        label="inner dims 3 != 4",
    ),
    ErrorCase(
        (np.zeros((2, 2, 3)), np.zeros((3, 3, 4))),
        V,
        ("matmul", "@"),
        ("(2, 2, 3)", "(3, 3, 4)"),
        label="batch dims 2 vs 3",
    ),
    ErrorCase(
        (np.zeros((2, 3)), np.zeros((3, 4), np.int64)),
        TypeError,
        ("matmul", "@"),
        ("float64", "int64"),
        label="float64 @ int64",
    ),
    ErrorCase(
        (np.zeros((2, 3), np.float32), np.zeros((3, 4))),
        TypeError,
        ("matmul", "@"),
        ("float32", "float64"),
        label="float32 @ float64",
    ),
    ErrorCase((np.array(2.0), np.array(3.0)), V, ("matmul", "@"), ("()",), label="0-d operands"),
)
spec(
    "matmul @", lambda lib, a, b: a @ b, custom(_matmul_case), tol=TOL32_ACC, errors=_matmul_errors
)
spec(
    "tl.matmul",
    lambda lib, a, b: lib.matmul(a, b),
    custom(_matmul_case),
    tol=TOL32_ACC,
    errors=_matmul_errors[:1],
)
spec("matmul 1-D operands", lambda lib, a, b: a @ b, custom(_matmul_vec_case), tol=TOL32_ACC)
spec(
    "matmul method", lambda lib, a, b: a.matmul(b), custom(_matmul_case), tol=TOL32_ACC, weight=0.4
)

# ---- Reductions ------------------------------------------------------------------------------
_sum_errors = (
    ErrorCase((np.zeros((2, 3)),), IV, ("sum",), kwargs={"dim": 3}, label="dim 3 of a 2-D tensor"),
    ErrorCase(
        (np.zeros((2, 3)),), IV, ("sum",), kwargs={"dim": -3}, label="dim -3 of a 2-D tensor"
    ),
)
spec(
    "sum", with_dim_positional("sum"), reduction(extra=_pos_flag), tol=TOL32_ACC, errors=_sum_errors
)
spec(
    "mean",
    with_dim_positional("mean"),
    reduction(extra=_pos_flag),
    tol=TOL32_ACC,
    errors=(
        ErrorCase(
            (np.zeros((2, 3), np.int64),), TypeError, ("mean",), ("int64",), label="mean of int64"
        ),
        ErrorCase((np.zeros((2, 3)),), IV, ("mean",), kwargs={"dim": (0, 2)}, label="dim 2"),
    ),
)
spec(
    "prod",
    with_dim_positional("prod"),
    reduction(
        ("omit", "int"), domain=away_from_zero_magnitude, extra=_pos_flag, max_dims=3, max_side=3
    ),
    tol=TOL32_ACC,
    domain="|x| in [0.5, 1.5], no zeros (zeros: fixed cases)",
)
spec(
    "amax",
    with_dim_positional("amax"),
    reduction(joint=distinct, extra=_pos_flag),
    domain="distinct (ties: fixed cases)",
    errors=(ErrorCase((np.zeros((2, 3)),), IV, ("amax",), kwargs={"dim": 2}, label="dim 2"),),
)
spec(
    "amin",
    with_dim_positional("amin"),
    reduction(joint=distinct, extra=_pos_flag),
    domain="distinct (ties: fixed cases)",
)
spec("max()", lambda lib, x: x.max(), elementwise(1, joint=distinct), domain="distinct")
spec("min()", lambda lib, x: x.min(), elementwise(1, joint=distinct), domain="distinct")


def _max_dim(name):
    def fn(lib, x, dim, keepdim=None, _pos=False):
        r = (
            getattr(x, name)(dim)
            if keepdim is None
            else (
                getattr(x, name)(dim, keepdim)
                if _pos
                else getattr(x, name)(dim=dim, keepdim=keepdim)
            )
        )
        values, indices = r  # unpacks like a tuple
        return (r.values, r.indices, r[0], r[1], values, indices)

    return fn


def _dim_keepdim_extra(draw, shape, kw):
    return {"_pos": draw(st.booleans())}


spec(
    "max(dim)",
    _max_dim("max"),
    reduction(("int",), joint=distinct, extra=_dim_keepdim_extra),
    domain="distinct (ties: fixed cases)",
    errors=(
        ErrorCase((np.zeros((2, 3)),), IV, ("max",), fn=lambda lib, x: x.max(dim=5), label="dim 5"),
    ),
)
spec(
    "min(dim)",
    _max_dim("min"),
    reduction(("int",), joint=distinct, extra=_dim_keepdim_extra),
    domain="distinct (ties: fixed cases)",
)
spec(
    "argmax",
    call_method("argmax"),
    reduction(("omit", "None", "int"), joint=distinct),
    grad=False,
    gradgrad=False,
    inputs_require_grad=True,
    errors=(ErrorCase((np.zeros((2, 3)),), IV, ("argmax",), kwargs={"dim": 2}, label="dim 2"),),
)
spec(
    "argmin",
    call_method("argmin"),
    reduction(("omit", "None", "int"), joint=distinct),
    grad=False,
    gradgrad=False,
    inputs_require_grad=True,
)


def _var_extra(draw, shape, kw):
    n = reduced_count(shape, kw.get("dim"))
    if draw(st.booleans()):
        return {"correction": draw(st.integers(0, max(0, min(2, n - 1))))}
    return {} if n > 1 else {"correction": 0}


spec(
    "var",
    call_method("var"),
    reduction(extra=_var_extra),
    tol=TOL32_ACC,
    domain="[-2, 2]; correction < reduced count",
    errors=(
        ErrorCase(
            (np.zeros((2, 3), np.int64),), TypeError, ("var",), ("int64",), label="var of int64"
        ),
    ),
)
spec(
    "std",
    call_method("std"),
    reduction(joint=distinct, extra=_var_extra, min_dims=1, min_side=2),
    tol=TOL32_ACC,
    domain="distinct (non-constant), sides >= 2 (zero vectors: fixed cases)",
    errors=(ErrorCase((np.zeros((2, 3)),), IV, ("std",), kwargs={"dim": 2}, label="dim 2"),),
)
spec(
    "logsumexp",
    with_dim_positional("logsumexp"),
    reduction(("int", "tuple"), domain=wide, extra=_pos_flag),
    tol=TOL32_ACC,
    domain="x * 50: magnitudes up to 100 (overflow a naive exp in float32)",
)


def _norm_extra(p):
    def extra(draw, shape, kw):
        return {"p": p} if p is not None else {}

    return extra


for _p, _pname in [
    (None, "default"),
    (2, "2"),
    (1, "1"),
    (math.inf, "inf"),
    (3, "3"),
    (0.5, "0.5"),
]:
    spec(
        f"norm(p={_pname})",
        call_method("norm"),
        # torch's default p="fro" accepts at most 2 dims in a tuple
        reduction(joint=distinct_abs, extra=_norm_extra(_p), max_tuple=2 if _p is None else None),
        tol=TOL32_ACC,
        domain="distinct non-zero magnitudes (zero vectors: fixed cases)",
    )


def _cumsum_extra(draw, shape, kw):
    return {"dim": draw_dim(draw, len(shape))}


spec(
    "cumsum",
    with_dim_positional("cumsum"),
    reduction(
        ("omit",),
        keepdim=False,
        extra=lambda d, s, k: {**_cumsum_extra(d, s, k), **_pos_flag(d, s, {"dim": 0})},
    ),
    tol=TOL32_ACC,
    errors=(ErrorCase((np.zeros((2, 3)),), IV, ("cumsum",), kwargs={"dim": 2}, label="dim 2"),),
)


def _bool_reduce_case(draw, dtype):
    shape = tuple(draw(S.shapes()))
    kw = draw_reduce_kwargs(draw, len(shape), ("omit", "None", "int", "tuple"), True)
    return Case([bool_array(draw, shape)], kw)


spec(
    "all",
    call_method("all"),
    custom(_bool_reduce_case),
    grad=False,
    gradgrad=False,
    dtypes=("bool",),
)
spec(
    "any",
    call_method("any"),
    custom(_bool_reduce_case),
    grad=False,
    gradgrad=False,
    dtypes=("bool",),
)
spec(
    "all/any of float",
    lambda lib, x, **kw: (x.all(**kw), x.any(**kw)),
    reduction(("omit", "int"), domain=half_steps),
    grad=False,
    gradgrad=False,
    inputs_require_grad=True,
    domain="multiples of 0.5 (zeros occur)",
)

# ---- Movement --------------------------------------------------------------------------------


def _reshape_case(draw, dtype, minus_one=True, layout=None):
    shape = tuple(draw(S.shapes()))
    (x,) = float_arrays(draw, [shape], dtype, layout=layout)
    target = factor_shape(draw, int(np.prod(shape, dtype=np.int64)))
    if minus_one:
        target = with_minus_one(draw, target)
    return Case([x], {"shape": target, "_varargs": draw(st.booleans()) and len(target) > 0})


def _reshape_fn(name):
    def fn(lib, x, shape, _varargs=False):
        return getattr(x, name)(*shape) if _varargs else getattr(x, name)(shape)

    return fn


spec(
    "reshape",
    _reshape_fn("reshape"),
    custom(_reshape_case),
    errors=(
        ErrorCase(
            (np.zeros((2, 3)),),
            V,
            ("reshape",),
            ("(2, 3)",),
            kwargs={"shape": (4,)},
            label="(2, 3) -> (4,)",
        ),
        ErrorCase((np.zeros((2, 3)),), V, ("reshape",), kwargs={"shape": (-1, -1)}, label="two -1"),
    ),
)
spec(
    "view",
    _reshape_fn("view"),
    custom(lambda d, t: _reshape_case(d, t, layout="contiguous")),
    noncontig=False,
    domain="contiguous inputs only (torch's view needs compatible strides)",
    errors=(
        ErrorCase(
            (np.zeros((2, 3)),),
            V,
            ("view",),
            ("(2, 3)",),
            kwargs={"shape": (5,)},
            label="(2, 3) -> (5,)",
        ),
        ErrorCase(
            (np.zeros((2, 3)),),
            (RuntimeError, ValueError),
            ("view",),
            fn=lambda lib, x: x.T.view(-1),
            label="view(-1) of a transposed tensor (torch: not viewable, no silent copy)",
        ),
    ),
)


def _flatten_case(draw, dtype):
    shape = tuple(draw(S.shapes()))
    (x,) = float_arrays(draw, [shape], dtype)
    n = max(len(shape), 1)
    a, b = sorted(draw(st.integers(0, n - 1)) for _ in range(2))
    kw = {}
    form = draw(st.sampled_from(["none", "start", "both"]))
    if form in ("start", "both"):
        kw["start_dim"] = _neg_maybe(draw, a, len(shape))
    if form == "both":
        kw["end_dim"] = _neg_maybe(draw, b, len(shape))
    return Case([x], kw)


spec(
    "flatten",
    lambda lib, x, **kw: x.flatten(**kw),
    custom(_flatten_case),
    errors=(
        ErrorCase(
            (np.zeros((2, 3, 4)),),
            IV,
            ("flatten",),
            kwargs={"start_dim": 2, "end_dim": 1},
            label="start_dim > end_dim",
        ),
    ),
)


def _unflatten_case(draw, dtype):
    shape = tuple(draw(S.shapes(min_dims=1)))
    (x,) = float_arrays(draw, [shape], dtype)
    d = draw_dim(draw, len(shape))
    sizes = with_minus_one(draw, factor_shape(draw, shape[d], max_parts=3) or (1,))
    return Case([x], {"dim": d, "sizes": sizes})


spec(
    "unflatten",
    lambda lib, x, dim, sizes: x.unflatten(dim, sizes),
    custom(_unflatten_case),
    errors=(
        ErrorCase(
            (np.zeros((2, 6)),),
            V,
            ("unflatten",),
            kwargs={"dim": 1, "sizes": (4, 2)},
            label="6 -> (4, 2)",
        ),
    ),
)


def _squeeze_case(draw, dtype):
    shape = tuple(draw(S.shapes(max_side=2)))
    (x,) = float_arrays(draw, [shape], dtype)
    form = draw(st.sampled_from(["none", "int", "tuple"]))
    if form == "int":
        return Case([x], {"dim": draw_dim(draw, len(shape))})
    if form == "tuple" and shape:
        return Case([x], {"dim": draw_dims(draw, len(shape))})
    return Case([x])


spec(
    "squeeze",
    lambda lib, x, **kw: x.squeeze(*kw.values()),
    custom(_squeeze_case),
    errors=(
        ErrorCase(
            (np.zeros((2, 3)),), IV, ("squeeze",), fn=lambda lib, x: x.squeeze(2), label="dim 2"
        ),
    ),
)


def _unsqueeze_case(draw, dtype):
    shape = tuple(draw(S.shapes()))
    (x,) = float_arrays(draw, [shape], dtype)
    return Case([x], {"dim": draw(st.integers(-len(shape) - 1, len(shape)))})


spec(
    "unsqueeze",
    lambda lib, x, dim: x.unsqueeze(dim),
    custom(_unsqueeze_case),
    errors=(
        ErrorCase(
            (np.zeros((2, 3)),), IV, ("unsqueeze",), fn=lambda lib, x: x.unsqueeze(3), label="dim 3"
        ),
    ),
)


def _permute_case(draw, dtype):
    shape = tuple(draw(S.shapes()))
    (x,) = float_arrays(draw, [shape], dtype)
    perm = tuple(_neg_maybe(draw, d, len(shape)) for d in draw(st.permutations(range(len(shape)))))
    return Case([x], {"dims": perm, "_varargs": bool(perm) and draw(st.booleans())})


spec(
    "permute",
    lambda lib, x, dims, _varargs: x.permute(*dims) if _varargs else x.permute(dims),
    custom(_permute_case),
    errors=(
        ErrorCase(
            (np.zeros((2, 3)),),
            IV,
            ("permute",),
            fn=lambda lib, x: x.permute(0, 1, 2),
            label="3 dims for a 2-D tensor",
        ),
        ErrorCase(
            (np.zeros((2, 3)),),
            IV,
            ("permute",),
            fn=lambda lib, x: x.permute(0, 0),
            label="repeated dim",
        ),
    ),
)


def _transpose_case(draw, dtype):
    shape = tuple(draw(S.shapes()))
    (x,) = float_arrays(draw, [shape], dtype)
    return Case([x], {"d0": draw_dim(draw, len(shape)), "d1": draw_dim(draw, len(shape))})


spec(
    "transpose",
    lambda lib, x, d0, d1: x.transpose(d0, d1),
    custom(_transpose_case),
    errors=(
        ErrorCase(
            (np.zeros((2, 3)),),
            IV,
            ("transpose",),
            fn=lambda lib, x: x.transpose(0, 2),
            label="dim 2",
        ),
    ),
)
spec(".T (2-D)", lambda lib, x: x.T, elementwise(1, min_dims=2, max_dims=2))
spec(".mT", lambda lib, x: x.mT, elementwise(1, min_dims=2))


def _expand_case(draw, dtype, form="expand"):
    shape = tuple(draw(S.shapes(max_side=3)))
    shape = tuple(1 if draw(st.booleans()) else s for s in shape)  # more broadcastable sides
    (x,) = float_arrays(draw, [shape], dtype)
    lead = tuple(draw(S.shapes(max_dims=2, max_side=3)))
    target = lead + tuple(draw(st.integers(1, 3)) if s == 1 else s for s in shape)
    if form == "expand":
        sizes = lead + tuple(
            -1 if t == s and draw(st.booleans()) else t for s, t in zip(shape, target[len(lead) :])
        )
        return Case([x], {"sizes": sizes, "_varargs": bool(sizes) and draw(st.booleans())})
    if form == "expand_as":
        return Case([x, Const(np.zeros(target, dtype=dtype))])
    return Case([x], {"shape": target})


spec(
    "expand",
    lambda lib, x, sizes, _varargs: x.expand(*sizes) if _varargs else x.expand(sizes),
    custom(_expand_case),
    errors=(
        ErrorCase(
            (np.zeros((2, 3)),),
            V,
            ("expand",),
            ("(2, 3)",),
            fn=lambda lib, x: x.expand(4, 3),
            label="(2, 3) -> (4, 3)",
        ),
        ErrorCase(
            (np.zeros((3,)),),
            V,
            ("expand",),
            fn=lambda lib, x: x.expand(-1, 3),
            label="-1 for a new leading dim",
        ),
    ),
)
spec(
    "expand_as",
    lambda lib, x, other: x.expand_as(other),
    custom(lambda d, t: _expand_case(d, t, "expand_as")),
)
spec(
    "broadcast_to",
    lambda lib, x, shape: x.broadcast_to(shape),
    custom(lambda d, t: _expand_case(d, t, "broadcast_to")),
)
spec(
    "tl.broadcast_to",
    lambda lib, x, shape: lib.broadcast_to(x, shape),
    custom(lambda d, t: _expand_case(d, t, "broadcast_to")),
    weight=0.4,
    errors=(
        ErrorCase(
            (np.zeros((2, 3)),),
            V,
            ("broadcast_to", "expand"),
            ("(2, 3)",),
            kwargs={"shape": (3, 3)},
            label="(2, 3) -> (3, 3)",
        ),
    ),
)


def _repeat_case(draw, dtype):
    shape = tuple(draw(S.shapes(max_dims=3, max_side=3)))
    (x,) = float_arrays(draw, [shape], dtype)
    k = draw(st.integers(len(shape), len(shape) + 2))
    return Case(
        [x],
        {
            "sizes": tuple(draw(st.integers(1, 3)) for _ in range(max(k, 1))),
            "_varargs": draw(st.booleans()),
        },
    )


spec(
    "repeat",
    lambda lib, x, sizes, _varargs: x.repeat(*sizes) if _varargs else x.repeat(sizes),
    custom(_repeat_case),
    errors=(
        ErrorCase(
            (np.zeros((2, 3)),),
            V,
            ("repeat",),
            fn=lambda lib, x: x.repeat(2),
            label="fewer sizes than dims",
        ),
    ),
)


def _flip_case(draw, dtype):
    shape = tuple(draw(S.shapes(min_dims=1)))
    (x,) = float_arrays(draw, [shape], dtype)
    return Case([x], {"dims": draw_dims(draw, len(shape))})


spec("flip", lambda lib, x, dims: x.flip(dims), custom(_flip_case))


def _roll_case(draw, dtype):
    shape = tuple(draw(S.shapes(min_dims=1)))
    (x,) = float_arrays(draw, [shape], dtype)
    form = draw(st.sampled_from(["flat", "int", "tuple"]))
    if form == "flat":
        return Case([x], {"shifts": draw(st.integers(-7, 7))})
    if form == "int":
        return Case([x], {"shifts": draw(st.integers(-7, 7)), "dims": draw_dim(draw, len(shape))})
    dims = draw_dims(draw, len(shape))
    return Case([x], {"shifts": tuple(draw(st.integers(-7, 7)) for _ in dims), "dims": dims})


spec(
    "roll",
    lambda lib, x, **kw: x.roll(**kw),
    custom(_roll_case),
    errors=(
        ErrorCase(
            (np.zeros((2, 3)),),
            (ValueError, IndexError),
            ("roll",),
            fn=lambda lib, x: x.roll((1, 2), (0,)),
            label="2 shifts, 1 dim",
        ),
    ),
)


def _split_case(draw, dtype, kind="split"):
    shape = tuple(draw(S.shapes(min_dims=1)))
    (x,) = float_arrays(draw, [shape], dtype)
    d = draw_dim(draw, len(shape))
    n = shape[d]
    if kind == "chunk":
        return Case([x], {"chunks": draw(st.integers(1, 6)), "dim": d})
    if kind == "narrow":
        start = draw(st.integers(0, n - 1))
        length = draw(st.integers(1, n - start))
        if draw(st.booleans()):
            start -= n  # negative start, like torch
        return Case([x], {"dim": d, "start": start, "length": length})
    if draw(st.booleans()):
        return Case([x], {"split": draw(st.integers(1, 6)), "dim": d})
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=3)))
    sections = [b - a for a, b in zip([0] + cuts, cuts + [n])]
    return Case([x], {"split": sections, "dim": d})


spec(
    "split",
    lambda lib, x, split, dim: x.split(split, dim),
    custom(_split_case),
    errors=(
        ErrorCase(
            (np.zeros((2, 5)),),
            V,
            ("split",),
            fn=lambda lib, x: x.split([2, 2], 1),
            label="sections 2+2 != 5",
        ),
        ErrorCase(
            (np.zeros((2, 5)),),
            V,
            ("split",),
            fn=lambda lib, x: x.split(0, 1),
            label="split_size 0",
        ),
    ),
)
spec(
    "chunk",
    lambda lib, x, chunks, dim: x.chunk(chunks, dim),
    custom(lambda d, t: _split_case(d, t, "chunk")),
    errors=(
        ErrorCase(
            (np.zeros((2, 5)),), V, ("chunk",), fn=lambda lib, x: x.chunk(0), label="0 chunks"
        ),
    ),
)
spec(
    "narrow",
    lambda lib, x, dim, start, length: x.narrow(dim, start, length),
    custom(lambda d, t: _split_case(d, t, "narrow")),
    errors=(
        ErrorCase(
            (np.zeros((2, 5)),),
            IV,
            ("narrow",),
            fn=lambda lib, x: x.narrow(1, 3, 4),
            label="3 + 4 > 5",
        ),
    ),
)


def _tri_case(draw, dtype):
    shape = tuple(draw(S.shapes(min_dims=2)))
    (x,) = float_arrays(draw, [shape], dtype)
    kw = {"diagonal": draw(st.integers(-4, 4))} if draw(st.booleans()) else {}
    return Case([x], kw)


spec(
    "tril",
    lambda lib, x, **kw: x.tril(**kw),
    custom(_tri_case),
    errors=(ErrorCase((np.zeros((3,)),), V, ("tril",), ("(3,)",), label="1-D input"),),
)
spec("triu", lambda lib, x, **kw: x.triu(**kw), custom(_tri_case))

# __getitem__ / __setitem__ ---------------------------------------------------------------------


def _basic_index(draw, shape):
    """ints (negative too), slices with steps (out-of-range bounds too), None, one Ellipsis."""
    k = draw(st.integers(0, len(shape)))  # dims consumed by ints / slices
    use_ellipsis = draw(st.booleans())
    e = draw(st.integers(0, k)) if use_ellipsis else k  # consumed before the ellipsis
    dims = list(range(e)) + list(range(len(shape) - (k - e), len(shape)))
    parts = []
    for j, d in enumerate(dims):
        if use_ellipsis and j == e:
            parts.append(Ellipsis)
        size = shape[d]
        if draw(st.booleans()):
            parts.append(draw(st.integers(-size, size - 1)))
        else:
            start = draw(st.one_of(st.none(), st.integers(-size - 2, size + 2)))
            stop = draw(st.one_of(st.none(), st.integers(-size - 2, size + 2)))
            step = draw(st.one_of(st.none(), st.integers(1, 3)))
            parts.append(slice(start, stop, step))
        if draw(st.integers(0, 4)) == 0:
            parts.append(None)
    if use_ellipsis and e == len(dims):
        parts.append(Ellipsis)
    if draw(st.booleans()):
        parts.insert(draw(st.integers(0, len(parts))), None)
    return tuple(parts)


def _is_tensor_slot(p) -> bool:
    return isinstance(p, tuple) and len(p) == 2 and p[0] == "t"


def _build_index(plan, tensors) -> tuple:
    """Rebuild an index from ``plan``: ("t", k) is the k-th index tensor, everything else as is."""
    return tuple(tensors[p[1]] if _is_tensor_slot(p) else p for p in plan)


def _getitem_fn(lib, x, *tensors, plan, single=False):
    idx = _build_index(plan, tensors)
    return x[idx[0]] if single else x[idx]


def _getitem_basic_case(draw, dtype):
    shape = tuple(draw(S.shapes()))
    (x,) = float_arrays(draw, [shape], dtype)
    plan = _basic_index(draw, shape)
    return Case([x], {"plan": plan, "single": len(plan) == 1 and draw(st.booleans())})


def _getitem_advanced_case(draw, dtype, kind="tensor"):
    shape = tuple(draw(S.shapes(min_dims=1)))
    (x,) = float_arrays(draw, [shape], dtype)
    ishape = tuple(draw(S.shapes(max_dims=2, max_side=4)))
    tensors, plan = [], []
    n_idx = draw(st.integers(1, len(shape)))
    chosen = sorted(draw(st.permutations(range(len(shape))))[:n_idx])
    for d in range(max(chosen) + 1):
        if d in chosen:
            size = shape[d]
            if kind == "list":
                plan.append(draw(st.lists(st.integers(-size, size - 1), min_size=1, max_size=4)))
                if len(chosen) > 1:  # lists must broadcast with each other: same length
                    plan[-1] = (plan[-1] * 4)[:4]
            else:
                tensors.append(int_array(draw, ishape, -size, size - 1))
                plan.append(("t", len(tensors) - 1))
        else:
            plan.append(draw(st.sampled_from([slice(None), slice(None, None, 2), slice(1, None)])))
    return Case([x, *tensors], {"plan": tuple(plan), "single": len(plan) == 1})


def _getitem_mask_case(draw, dtype):
    shape = tuple(draw(S.shapes(min_dims=1)))
    (x,) = float_arrays(draw, [shape], dtype)
    k = draw(st.integers(1, len(shape)))
    lead = draw(st.integers(0, len(shape) - k))  # mask covers dims lead..lead+k
    plan = tuple([slice(None)] * lead + [("t", 0)])
    return Case([x, bool_array(draw, shape[lead : lead + k])], {"plan": plan, "single": lead == 0})


def _getitem_combo_case(draw, dtype):
    shape = tuple(draw(S.shapes(min_dims=2)))
    (x,) = float_arrays(draw, [shape], dtype)
    d = draw(st.integers(0, len(shape) - 1))
    idx = int_array(draw, draw(S.shapes(max_dims=2, max_side=3)), -shape[d], shape[d] - 1)
    plan = []
    for i, s in enumerate(shape):
        if i == d:
            plan.append(("t", 0))
        else:
            plan.append(
                draw(st.sampled_from([slice(None), slice(None, None, 2), slice(-2, None), 0, -1]))
            )
    if draw(st.booleans()):
        plan = plan[: d + 1] + [Ellipsis]
    plan.insert(draw(st.integers(0, len(plan))), None)
    return Case([x, idx], {"plan": tuple(plan)})


_getitem_errors = (
    ErrorCase(
        (np.zeros((3,)),), IV, ("index", "getitem"), fn=lambda lib, x: x[5], label="x[5] of (3,)"
    ),
    ErrorCase(
        (np.zeros((3,)),),
        IV,
        ("index", "getitem"),
        fn=lambda lib, x: x[0, 0],
        label="too many indices",
    ),
    ErrorCase(
        (np.zeros((3,)),),
        V,
        ("index", "getitem", "slice"),
        fn=lambda lib, x: x[::-1],
        label="negative step (torch: ValueError)",
    ),
)
spec(
    "getitem basic",
    _getitem_fn,
    custom(_getitem_basic_case),
    errors=_getitem_errors,
    domain="ints, slices with steps, None, Ellipsis",
)
spec(
    "getitem int tensors",
    _getitem_fn,
    custom(_getitem_advanced_case),
    domain="index tensors (duplicates, negatives) + slices",
    errors=(
        ErrorCase(
            (np.zeros((3,)), np.array([0, 3])),
            IV,
            ("index", "getitem"),
            fn=lambda lib, x, i: x[i],
            label="tensor index 3 of size 3",
        ),
        ErrorCase(
            (np.zeros((3,)), np.array([0.0, 1.0])),
            (TypeError, IndexError),
            ("index", "getitem"),
            ("float64",),
            fn=lambda lib, x, i: x[i],
            label="float64 index tensor",
        ),
    ),
)
spec("getitem lists", _getitem_fn, custom(lambda d, t: _getitem_advanced_case(d, t, "list")))
spec(
    "getitem bool mask",
    _getitem_fn,
    custom(_getitem_mask_case),
    errors=(
        ErrorCase(
            (np.zeros((2, 3)), np.ones((3, 2), bool)),
            IV,
            ("index", "getitem", "mask"),
            fn=lambda lib, x, m: x[m],
            label="mask (3, 2) for (2, 3)",
        ),
    ),
)
spec(
    "getitem combined",
    _getitem_fn,
    custom(_getitem_combo_case),
    domain="int tensor + slices/ints/None/Ellipsis",
)


def _setitem_case(draw, dtype):
    kind = draw(st.sampled_from(["basic", "tensor", "mask"]))
    if kind == "basic":
        case = _getitem_basic_case(draw, dtype)
    elif kind == "tensor":
        shape = tuple(draw(S.shapes(min_dims=1)))
        (x,) = float_arrays(draw, [shape], dtype)
        d = draw(st.integers(0, len(shape) - 1))
        idx = int_array(draw, (draw(st.integers(1, shape[d])),), 0, shape[d] - 1, unique=True)
        plan = tuple([slice(None)] * d + [("t", 0)])
        case = Case([x, idx], {"plan": plan})
    else:
        case = _getitem_mask_case(draw, dtype)
    x = case.inputs[0]
    np_idx = _build_index(case.kwargs["plan"], case.inputs[1:])
    target = np.empty(x.shape)[np_idx].shape
    if draw(st.booleans()):
        case.kwargs["value"] = draw(st.sampled_from([0.0, -2.5, 7]))
    else:
        k = draw(st.integers(0, len(target)))
        vshape = tuple(1 if draw(st.booleans()) else s for s in target[k:])
        case.inputs.append(float_arrays(draw, [vshape], dtype)[0])
    return case


def _setitem_fn(lib, x, *rest, plan, value=None, single=False):
    y = x.clone()
    if value is None:
        *tensors, v = rest
    else:
        tensors, v = rest, value
    y[_build_index(plan, tensors)] = v
    return y


spec(
    "setitem",
    _setitem_fn,
    custom(_setitem_case),
    grad=False,
    gradgrad=False,
    domain="basic / unique int tensor / bool mask index; scalar or broadcast tensor value",
    errors=(
        ErrorCase(
            (np.zeros((2, 3)),),
            RuntimeError,
            ("setitem", "in-place", "inplace", "grad"),
            fn=lambda lib, x: x.__setitem__(0, 1.0),
            requires_grad=True,
            label="setitem on a leaf that requires grad",
        ),
    ),
)

# gather / scatter_add / index_select / cat / stack ------------------------------------------------


def _gather_case(draw, dtype, kind="gather"):
    shape = tuple(draw(S.shapes(min_dims=1)))
    (x,) = float_arrays(draw, [shape], dtype)
    d = draw_dim(draw, len(shape))
    ishape = tuple(
        draw(st.integers(1, 4)) if i == d % len(shape) else draw(st.integers(1, s))
        for i, s in enumerate(shape)
    )
    idx = int_array(draw, ishape, 0, shape[d] - 1)
    if kind == "gather":
        return Case([x, idx], {"dim": d})
    (src,) = float_arrays(draw, [ishape], dtype)
    return Case([x, idx, src], {"dim": d})


spec(
    "gather",
    lambda lib, x, idx, dim: x.gather(dim, idx),
    custom(_gather_case),
    errors=(
        ErrorCase(
            (np.zeros((2, 3)), np.array([[0, 3]])),
            IV,
            ("gather",),
            kwargs={"dim": 1},
            label="index 3 out of range for size 3",
        ),
        ErrorCase(
            (np.zeros((2, 3)), np.array([0, 1])),
            IV,
            ("gather",),
            kwargs={"dim": 1},
            label="index ndim 1 != 2",
        ),
    ),
)
spec(
    "scatter_add",
    lambda lib, x, idx, src, dim: x.scatter_add(dim, idx, src),
    custom(lambda d, t: _gather_case(d, t, "scatter_add")),
    domain="duplicate indices accumulate",
    errors=(
        ErrorCase(
            (np.zeros((2, 3)), np.array([[0, 3]]), np.ones((1, 2))),
            IV,
            ("scatter",),
            kwargs={"dim": 1},
            label="index 3 out of range for size 3",
        ),
    ),
)


def _index_select_case(draw, dtype):
    shape = tuple(draw(S.shapes(min_dims=1)))
    (x,) = float_arrays(draw, [shape], dtype)
    d = draw_dim(draw, len(shape))
    ishape = () if draw(st.integers(0, 4)) == 0 else (draw(st.integers(1, 6)),)  # 0-d index too
    idx = int_array(draw, ishape, 0, shape[d] - 1)
    return Case([x, idx], {"dim": d})


spec(
    "index_select",
    lambda lib, x, idx, dim: x.index_select(dim, idx),
    custom(_index_select_case),
    errors=(
        ErrorCase(
            (np.zeros((2, 3)), np.array([0, 3])),
            IV,
            ("index_select",),
            kwargs={"dim": 1},
            label="index 3 out of range for size 3",
        ),
    ),
)


def _cat_case(draw, dtype, kind="cat"):
    shape = tuple(draw(S.shapes(min_dims=1 if kind == "cat" else 0, max_side=4)))
    n = draw(st.integers(1, 3))
    if kind == "cat":
        d = draw_dim(draw, len(shape))
        shapes = [
            shape[: d % len(shape)] + (draw(st.integers(1, 3)),) + shape[d % len(shape) + 1 :]
            for _ in range(n)
        ]
    else:
        d = draw(st.integers(-len(shape) - 1, len(shape)))
        shapes = [shape] * n
    return Case(float_arrays(draw, shapes, dtype), {"dim": d, "_tuple": draw(st.booleans())})


def _seq(xs, as_tuple):
    return tuple(xs) if as_tuple else list(xs)


spec(
    "tl.cat",
    lambda lib, *xs, dim, _tuple: lib.cat(_seq(xs, _tuple), dim=dim),
    custom(_cat_case),
    errors=(
        ErrorCase(
            (np.zeros((2, 3)), np.zeros((2, 4))),
            V,
            ("cat",),
            ("(2, 3)", "(2, 4)"),
            fn=lambda lib, a, b: lib.cat([a, b], dim=0),
            label="(2, 3) with (2, 4), dim 0",
        ),
        ErrorCase(
            (np.array(1.0), np.array(2.0)),
            V,
            ("cat",),
            fn=lambda lib, a, b: lib.cat([a, b]),
            label="0-d tensors",
        ),
        ErrorCase(
            (np.zeros((2, 3)), np.zeros((2, 3))),
            IV,
            ("cat",),
            fn=lambda lib, a, b: lib.cat([a, b], dim=2),
            label="dim 2",
        ),
    ),
)
spec(
    "tl.stack",
    lambda lib, *xs, dim, _tuple: lib.stack(_seq(xs, _tuple), dim),
    custom(lambda d, t: _cat_case(d, t, "stack")),
    errors=(
        ErrorCase(
            (np.zeros((2, 3)), np.zeros((3, 2))),
            V,
            ("stack",),
            ("(2, 3)", "(3, 2)"),
            fn=lambda lib, a, b: lib.stack([a, b]),
            label="(2, 3) with (3, 2)",
        ),
    ),
)

# nn.functional: pad, one_hot -------------------------------------------------------------------


def _pad_case(draw, dtype):
    shape = tuple(draw(S.shapes(min_dims=1)))
    (x,) = float_arrays(draw, [shape], dtype)
    k = draw(st.integers(1, len(shape)))
    pad = []
    for i in range(k):  # pad pairs go from the last dim backwards
        size = shape[-1 - i]
        lo = draw(st.integers(-(size - 1), 2))
        hi = draw(st.integers(-(size - 1 + min(lo, 0)), 2))
        pad += [lo, hi]
    kw = {"pad": tuple(pad)}
    if draw(st.booleans()):
        kw["value"] = draw(st.sampled_from([0.0, 1.5, -2]))
    if draw(st.booleans()):
        kw["mode"] = "constant"
    return Case([x], kw)


def _pad_mode_case(draw, dtype):
    mode = draw(st.sampled_from(["reflect", "replicate", "circular"]))
    k = draw(st.integers(1, 3))
    ndim = k + draw(st.integers(1, 2))
    shape = tuple(
        draw(
            S.shapes(
                min_dims=ndim, max_dims=ndim, min_side=2 if mode == "reflect" else 1, max_side=4
            )
        )
    )
    (x,) = float_arrays(draw, [shape], dtype)
    pad = []
    for i in range(k):
        size = shape[-1 - i]
        top = size - 1 if mode == "reflect" else (size if mode == "circular" else 3)
        pad += [draw(st.integers(0, top)), draw(st.integers(0, top))]
    return Case([x], {"pad": tuple(pad), "mode": mode})


spec(
    "F.pad constant",
    lambda lib, x, **kw: lib.nn.functional.pad(x, **kw),
    custom(_pad_case),
    domain="pads in [-(size-1), 2] (negative pads crop)",
    errors=(
        ErrorCase(
            (np.zeros((2, 3)),),
            V,
            ("pad",),
            fn=lambda lib, x: lib.nn.functional.pad(x, (1,)),
            label="odd pad length",
        ),
    ),
)
spec(
    "F.pad reflect/replicate/circular",
    lambda lib, x, **kw: lib.nn.functional.pad(x, **kw),
    custom(_pad_mode_case),
    domain="torch's supported (pad length, ndim) combinations",
    errors=(
        ErrorCase(
            (np.zeros((1, 2, 3)),),
            V,
            ("pad",),
            ("3",),
            fn=lambda lib, x: lib.nn.functional.pad(x, (3, 3), mode="reflect"),
            label="reflect pad 3 >= size 3",
        ),
    ),
)


def _one_hot_case(draw, dtype):
    shape = tuple(draw(S.shapes(max_dims=3)))
    c = draw(st.integers(1, 5))
    idx = int_array(draw, shape, 0, c - 1)
    kw = {"num_classes": c + draw(st.integers(0, 2))} if draw(st.booleans()) else {}
    if not kw and idx.size == 0:
        kw = {"num_classes": c}
    return Case([idx], kw)


spec(
    "F.one_hot",
    lambda lib, i, **kw: lib.nn.functional.one_hot(i, **kw),
    custom(_one_hot_case),
    grad=False,
    gradgrad=False,
    dtypes=("int64",),
    errors=(
        ErrorCase(
            (np.array([0, 3]),),
            (ValueError, IndexError),
            ("one_hot",),
            kwargs={"num_classes": 3},
            label="class 3 with num_classes=3",
        ),
        ErrorCase(
            (np.array([0.0, 1.0]),), TypeError, ("one_hot",), ("float",), label="float input"
        ),
        ErrorCase(
            (np.array([-1, 1]),), (ValueError, IndexError), ("one_hot",), label="negative class"
        ),
    ),
)

# ---- Tensor methods --------------------------------------------------------------------------
spec("clone", lambda lib, x: x.clone(), elementwise(1))
spec("contiguous", lambda lib, x: x.contiguous(), elementwise(1))
spec(
    "detach",
    lambda lib, x: (x.detach(), x.detach().requires_grad, x.requires_grad),
    elementwise(1),
    grad=False,
    gradgrad=False,
    inputs_require_grad=True,
)
for _conv in ["float", "double", "half"]:
    spec(
        f".{_conv}()",
        call_method(_conv),
        elementwise(1),
        tol={F64: dict(rtol=1e-3, atol=1e-3), F32: dict(rtol=1e-3, atol=1e-3)}
        if _conv == "half"
        else {},
    )
for _conv in ["long", "int", "bool"]:
    spec(
        f".{_conv}()",
        call_method(_conv),
        elementwise(1, domains=half_steps),
        grad=False,
        gradgrad=False,
        inputs_require_grad=True,
        domain="multiples of 0.5 (truncation, zeros)",
    )
spec(
    "to(dtype)",
    lambda lib, x, dtype: x.to(getattr(lib, dtype)),
    elementwise(
        1, domains=half_steps, scalars={"dtype": st.sampled_from(["float32", "float64", "float16"])}
    ),
    tol={F64: dict(rtol=1e-3, atol=1e-3), F32: dict(rtol=1e-3, atol=1e-3)},
)
spec(
    "to(int dtype)",
    lambda lib, x, dtype: x.to(getattr(lib, dtype)),
    elementwise(
        1, domains=half_steps, scalars={"dtype": st.sampled_from(["int64", "int32", "bool"])}
    ),
    grad=False,
    gradgrad=False,
)


def _inplace(name):
    """``y = x.clone(); r = y.<name>(other or scalar, **kw)``: compare y and that r is y."""

    def fn(lib, x, *rest, c=None, **kw):
        y = x.clone()
        r = getattr(y, name)(rest[0] if rest else c, **kw)
        return y, r is y

    return fn


def _inplace_case(draw, dtype, scalar_ok=True, domain=None, alpha=False):
    shape = tuple(draw(S.shapes()))
    (x,) = float_arrays(draw, [shape], dtype)
    kw = {"alpha": draw(st.sampled_from([2, 0.5]))} if alpha and draw(st.booleans()) else {}
    if scalar_ok and draw(st.booleans()):
        return Case([x], {"c": draw(st.sampled_from([2, -0.5, 1.5])), **kw})
    k = draw(st.integers(0, len(shape)))
    oshape = tuple(1 if draw(st.booleans()) else s for s in shape[k:])
    (o,) = _apply_domains(float_arrays(draw, [oshape], dtype), [domain], None)
    return Case([x, o], kw)


spec(
    "zero_",
    lambda lib, x: (lambda y: (y, y.zero_() is y))(x.clone()),
    elementwise(1),
    grad=False,
    gradgrad=False,
)
spec(
    "fill_",
    lambda lib, x, c: (lambda y: (y, y.fill_(c) is y))(x.clone()),
    elementwise(1, scalars={"c": st.sampled_from([0.0, 2.5, -1])}),
    grad=False,
    gradgrad=False,
)
spec(
    "copy_",
    _inplace("copy_"),
    custom(lambda d, t: _inplace_case(d, t, False)),
    grad=False,
    gradgrad=False,
    errors=(
        ErrorCase(
            (np.zeros((2, 3)), np.zeros((4,))),
            V,
            ("copy_",),
            ("(2, 3)", "(4,)"),
            fn=lambda lib, x, y: x.copy_(y),
            label="(4,) into (2, 3)",
        ),
    ),
)
spec(
    "add_",
    _inplace("add_"),
    custom(lambda d, t: _inplace_case(d, t, alpha=True)),
    grad=False,
    gradgrad=False,
    errors=(
        ErrorCase(
            (np.zeros((2, 3)), np.zeros((4, 3))),
            V,
            ("add_", "add"),
            ("(2, 3)", "(4, 3)"),
            fn=lambda lib, x, y: x.add_(y),
            label="result shape differs from self",
        ),
        ErrorCase(
            (np.zeros((2, 3), np.int64), np.zeros((2, 3))),
            TypeError,
            ("add_", "add"),
            ("int64", "float"),
            fn=lambda lib, x, y: x.add_(y),
            label="float result into int64 self",
        ),
        ErrorCase(
            (np.zeros((2, 3)),),
            RuntimeError,
            ("add_", "in-place", "inplace", "leaf"),
            fn=lambda lib, x: x.add_(1.0),
            requires_grad=True,
            label="in-place on a leaf that requires grad",
        ),
    ),
)
spec(
    "sub_",
    _inplace("sub_"),
    custom(lambda d, t: _inplace_case(d, t, alpha=True)),
    grad=False,
    gradgrad=False,
)
spec("mul_", _inplace("mul_"), custom(_inplace_case), grad=False, gradgrad=False)
spec(
    "div_",
    _inplace("div_"),
    custom(lambda d, t: _inplace_case(d, t, domain=nonzero)),
    grad=False,
    gradgrad=False,
)


def _inplace_graph(name):
    """In-place op on a non-leaf inside the graph: ``y = x.clone(); y.<name>(other)``."""

    def fn(lib, x, *rest, c=None, **kw):
        y = x.clone()
        getattr(y, name)(rest[0] if rest else c, **kw)
        return y * 1.0

    return fn


for _name, _dom, _alpha in [
    ("add_", None, True),
    ("sub_", None, True),
    ("mul_", None, False),
    ("div_", nonzero, False),
    ("copy_", None, False),
]:
    spec(
        f"{_name} in the graph",
        _inplace_graph(_name),
        custom(
            (
                lambda dom, alpha, name: (
                    lambda d, t: _inplace_case(
                        d, t, scalar_ok=name != "copy_", domain=dom, alpha=alpha
                    )
                )
            )(_dom, _alpha, _name)
        ),
        domain="gradients flow through the in-place op to both operands, like torch",
        # a broadcast operand's gradient is a sum: NumPy and torch add in different orders
        tol=TOL32_ACC,
    )


def _python_values(lib, x):
    out = [
        x.tolist(),
        x.numel(),
        x.ndim,
        tuple(x.shape),
        tuple(x.size()),
        x.detach().numpy(),
        np.asarray(x),
        x.to("cpu"),
        x.cpu(),
        x.dim(),
    ]
    out += [x.size(d) for d in range(-x.ndim, x.ndim)]
    if x.numel() == 1:
        out.append(x.item())
    if x.ndim >= 1:
        out.append(len(x))
        out.append(list(x))  # __iter__: a list of (ndim-1) tensors
    return tuple(out)


spec(
    "item/tolist/numpy/len/iter/size/numel/ndim",
    _python_values,
    elementwise(1),
    grad=False,
    gradgrad=False,
    errors=(
        ErrorCase(
            (np.zeros((2, 3)),),
            (ValueError, RuntimeError),
            ("item",),
            ("6",),
            fn=lambda lib, x: x.item(),
            label="item() of 6 elements",
        ),
        ErrorCase(
            (np.zeros(()),),
            TypeError,
            ("len", "0-d"),
            fn=lambda lib, x: len(x),
            label="len() of a 0-d tensor",
        ),
    ),
)


def _int_values_case(draw, dtype):
    shape = tuple(draw(S.shapes(max_dims=3)))
    if dtype == "bool":
        return Case([bool_array(draw, shape)])
    return Case([int_array(draw, shape, -5, 5, dtype=np.dtype(dtype))])


spec(
    "item/tolist/... (int, bool)",
    _python_values,
    custom(_int_values_case),
    grad=False,
    gradgrad=False,
    dtypes=("int64", "int32", "bool"),
)

# ---- requires_grad on an int tensor (error only) ---------------------------------------------
spec(
    "tensor(requires_grad=True) on ints",
    lambda lib, x: lib.tensor(x.numpy(), requires_grad=True),
    custom(lambda d, t: Case([int_array(d, (2,), 0, 3)])),
    grad=False,
    gradgrad=False,
    dtypes=(),
    errors=(
        ErrorCase(
            (np.array([1, 2]),),
            (RuntimeError, TypeError),
            ("requires_grad", "grad"),
            ("int64",),
            fn=lambda lib, x: lib.tensor(np.array([1, 2]), requires_grad=True),
            label="tl.tensor(int64, requires_grad=True)",
        ),
        ErrorCase(
            (np.array([1, 2]),),
            (RuntimeError, TypeError),
            ("requires_grad", "grad"),
            ("int64",),
            fn=lambda lib, x: x.requires_grad_(),
            label="int64.requires_grad_()",
        ),
        ErrorCase(
            (np.array([1, 2], np.int32),),
            (RuntimeError, TypeError),
            ("requires_grad", "grad"),
            ("int32",),
            fn=lambda lib, x: x.requires_grad_(True),
            label="int32.requires_grad_()",
        ),
    ),
)

# ---- Module-level twins (torch.<name>(x, ...) exists for all of these) -----------------------
# Cheaper rows (weight < 1): the method rows above carry the full hypothesis budget.
for _name, (_dom, _note, _gg) in UNARY.items():
    spec(
        f"tl.{_name}",
        (lambda n: lambda lib, x: getattr(lib, n)(x))(_name),
        elementwise(1, domains=_dom),
        gradgrad=False,
        weight=0.2,
        domain=_note,
    )
for _name, _dom in [("add", None), ("sub", None), ("mul", None), ("div", nonzero), ("pow", None)]:
    spec(
        f"tl.{_name}",
        (lambda n: lambda lib, a, b: getattr(lib, n)(a, b))(_name),
        elementwise(2, domains=[pow_base if _name == "pow" else None, _dom]),
        gradgrad=False,
        weight=0.2,
    )
spec(
    "tl.add(alpha)",
    lambda lib, a, b: lib.add(a, b, alpha=2),
    elementwise(2),
    gradgrad=False,
    weight=0.2,
)
spec(
    "tl.clamp",
    lambda lib, x, **kw: lib.clamp(x, **kw),
    custom(_clamp_case),
    gradgrad=False,
    weight=0.2,
)
spec(
    "tl.clip",
    lambda lib, x, **kw: lib.clip(x, **kw),
    custom(_clamp_case),
    gradgrad=False,
    weight=0.2,
)
spec(
    "tl.lerp",
    lambda lib, a, b, weight: lib.lerp(a, b, weight),
    custom(_lerp_case),
    gradgrad=False,
    weight=0.2,
)
spec(
    "tl.masked_fill",
    lambda lib, x, m, value: lib.masked_fill(x, m, value),
    custom(_masked_fill_case),
    gradgrad=False,
    weight=0.2,
)
for _name, _kinds, _dom, _joint in [
    ("sum", ("omit", "None", "int", "tuple"), None, None),
    ("mean", ("omit", "None", "int", "tuple"), None, None),
    ("prod", ("omit", "int"), away_from_zero_magnitude, None),
    ("amax", ("omit", "int", "tuple"), None, distinct),
    ("amin", ("omit", "int", "tuple"), None, distinct),
    ("logsumexp", ("int", "tuple"), None, None),
    ("var", ("omit", "int"), None, distinct),
    ("std", ("omit", "int"), None, distinct),
    ("norm", ("omit", "int", "tuple"), None, distinct_abs),
    ("cumsum", ("int",), None, None),
]:
    spec(
        f"tl.{_name}",
        (lambda n: lambda lib, x, **kw: getattr(lib, n)(x, **kw))(_name),
        reduction(
            _kinds,
            keepdim=_name != "cumsum",
            domain=_dom,
            joint=_joint,
            max_tuple=2 if _name == "norm" else None,
            **({"min_dims": 1, "min_side": 2} if _name in ("var", "std") else {}),
        ),
        gradgrad=False,
        weight=0.2,
        tol=TOL32_ACC,
    )
spec(
    "tl.max/min(x)",
    lambda lib, x: (lib.max(x), lib.min(x)),
    elementwise(1, joint=distinct),
    gradgrad=False,
    weight=0.2,
)
spec(
    "tl.max/min(x, dim)",
    lambda lib, x, dim: tuple(getattr(lib, n)(x, dim)[k] for n in ("max", "min") for k in (0, 1)),
    reduction(("int",), keepdim=False, joint=distinct),
    gradgrad=False,
    weight=0.2,
)
spec(
    "tl.argmax/argmin",
    lambda lib, x, **kw: (lib.argmax(x, **kw), lib.argmin(x, **kw)),
    reduction(("omit", "int"), joint=distinct),
    grad=False,
    gradgrad=False,
    inputs_require_grad=True,
    weight=0.2,
)
spec(
    "tl.all/any",
    lambda lib, x, **kw: (lib.all(x, **kw), lib.any(x, **kw)),
    custom(lambda d, t: Case([bool_array(d, d(S.shapes()))])),
    grad=False,
    gradgrad=False,
    dtypes=("bool",),
    weight=0.2,
)
spec(
    "tl.reshape/flatten/squeeze/unsqueeze",
    lambda lib, x: (lib.reshape(x, (-1,)), lib.flatten(x), lib.squeeze(x), lib.unsqueeze(x, 0)),
    elementwise(1, max_side=2),
    gradgrad=False,
    weight=0.2,
)
spec(
    "tl.permute/transpose/flip/roll",
    lambda lib, x: (
        lib.permute(x, tuple(reversed(range(x.ndim)))),
        lib.transpose(x, 0, -1),
        lib.flip(x, (0,)),
        lib.roll(x, 1, 0),
    ),
    elementwise(1, min_dims=1),
    gradgrad=False,
    weight=0.2,
)
spec(
    "tl.split/chunk/narrow",
    lambda lib, x: (*lib.split(x, 2, 0), *lib.chunk(x, 2, 0), lib.narrow(x, 0, 0, 1)),
    elementwise(1, min_dims=1),
    gradgrad=False,
    weight=0.2,
)
spec(
    "tl.tril/triu",
    lambda lib, x: (lib.tril(x), lib.triu(x, 1)),
    elementwise(1, min_dims=2),
    gradgrad=False,
    weight=0.2,
)
spec(
    "tl.gather/index_select",
    lambda lib, x, idx, dim: (lib.gather(x, dim, idx), lib.index_select(x, dim, idx.flatten())),
    custom(_gather_case),
    gradgrad=False,
    weight=0.2,
)
spec(
    "tl.scatter_add",
    lambda lib, x, idx, src, dim: lib.scatter_add(x, dim, idx, src),
    custom(lambda d, t: _gather_case(d, t, "scatter_add")),
    gradgrad=False,
    weight=0.2,
)
spec(
    "tl.where/maximum/minimum twins",
    lambda lib, a, b: (lib.where(a > b, a, b), lib.maximum(a, b), lib.minimum(a, b)),
    elementwise(2, joint=distinct),
    gradgrad=False,
    weight=0.2,
)


SPEC_BY_NAME = {s.name: s for s in SPECS}
assert len(SPEC_BY_NAME) == len(SPECS), "duplicate spec names"
