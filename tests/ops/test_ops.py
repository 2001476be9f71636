"""Table-driven op tests: every row of ``specs.SPECS`` against torch.

For each (row, dtype):

* ``test_op_matches_torch`` — hypothesis draws a Case from the row's generator (shapes from
  ``tl.testing.strategies``: 0-d, size-1, broadcasting; values moved into the op's domain; numpy
  inputs that may be transposed / strided views), a layout per input (the leaf itself, a permuted
  view of it, or a strided slice of it), a seed for the random upstream gradient and whether to
  use ``out.backward(g)`` or ``tl.autograd.grad``.  Forward values/dtypes/shapes and the gradients
  must equal torch's: float64 with torch's tight float64 defaults, float32 with torch's float32
  ``assert_close`` defaults (a few accumulating ops use a documented looser float32 tolerance).
* ``test_double_backward_matches_torch`` — for every differentiable primitive (float64): first
  derivatives with ``create_graph=True`` for a random upstream g, then the gradient of
  ``sum(grad * v)`` with respect to the inputs and to g, compared with torch doing the same.
* ``test_api_name_exists_*`` — every name of DESIGN.md section 5 (Tensor / Math / Reductions /
  Movement) exists, so a missing name fails loudly once instead of as many errors.
* ``test_view_aliasing_like_torch`` — writes through views (view, reshape, basic indexing, T,
  detach, split, ...) reach the base tensor and copies (clone, advanced indexing) don't, like torch.

Hypothesis budget (``ci`` profile, ``max_examples=25``): each row gets
``round(25 * row.weight)`` examples per dtype — 25 for the primary rows, 10 for weight-0.4 rows and
5 for the module-level twins (``tl.exp(x)`` etc., weight 0.2) whose method form already has the full
budget; the double-backward test uses 2/3 of that (about 17 examples per primitive,
``DOUBLE_BACKWARD_FRACTION``). The ``dev`` profile (100 examples) scales all of these up
proportionally. Runtimes are in README.md / bench/RESULTS.md.
"""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_lite as tl

from .specs import F64, LAYOUTS, SPECS, run_case, run_double_backward

DOUBLE_BACKWARD_FRACTION = 2 / 3


def _examples(weight: float) -> int:
    return max(1, round(settings.default.max_examples * weight))


def _id(name: str) -> str:
    return name.replace(" ", "_")


OP_PARAMS = [pytest.param(s, d, id=f"{_id(s.name)}-{d}") for s in SPECS for d in s.dtypes]
GRADGRAD_PARAMS = [
    pytest.param(s, id=_id(s.name)) for s in SPECS if s.grad and s.gradgrad and F64 in s.dtypes
]


def _draw_layouts(data, spec, case):
    if not spec.noncontig:
        return ["direct"] * len(case.inputs)
    return [
        data.draw(st.sampled_from(LAYOUTS), label=f"layout of input {i}")
        for i in range(len(case.inputs))
    ]


@pytest.mark.parametrize("spec,dtype", OP_PARAMS)
def test_op_matches_torch(spec, dtype):
    strategy = spec.gen(dtype)

    @settings(max_examples=_examples(spec.weight))
    @given(data=st.data())
    def check(data):
        case = data.draw(strategy, label="case")
        layouts = _draw_layouts(data, spec, case)
        seed = data.draw(st.integers(0, 2**32 - 1), label="upstream-gradient seed")
        use_backward = data.draw(st.booleans(), label="use .backward()")
        run_case(spec, case, dtype, layouts=layouts, seed=seed, use_backward=use_backward)

    check()


@pytest.mark.parametrize("spec", GRADGRAD_PARAMS)
def test_double_backward_matches_torch(spec):
    strategy = spec.gen(F64)

    @settings(max_examples=_examples(spec.weight * DOUBLE_BACKWARD_FRACTION))
    @given(data=st.data())
    def check(data):
        case = data.draw(strategy, label="case")
        layouts = _draw_layouts(data, spec, case)
        seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
        run_double_backward(spec, case, layouts=layouts, seed=seed)

    check()


def test_table_covers_the_design_op_list():
    """Guard against silently dropping a row: the table has the families the issue lists."""
    names = {s.name for s in SPECS}
    required = {
        "add",
        "sub",
        "mul",
        "truediv",
        "floordiv",
        "mod",
        "pow_tensor_tensor",
        "matmul @",
        "neg_operator",
        "lt",
        "le",
        "gt",
        "ge",
        "eq",
        "ne",
        "and",
        "or",
        "invert",
        "add(alpha)",
        "sub(alpha)",
        "rpow_scalar",
        "maximum",
        "minimum",
        "where",
        "masked_fill",
        "lerp(end, scalar)",
        "clamp(min, max)",
        "clip(min, max)",
        "clamp(tensor, tensor)",
        "sum",
        "mean",
        "prod",
        "amax",
        "amin",
        "max()",
        "min()",
        "max(dim)",
        "min(dim)",
        "argmax",
        "argmin",
        "var",
        "std",
        "logsumexp",
        "norm(p=2)",
        "norm(p=1)",
        "norm(p=inf)",
        "norm(p=3)",
        "cumsum",
        "all",
        "any",
        "reshape",
        "view",
        "flatten",
        "unflatten",
        "squeeze",
        "unsqueeze",
        "permute",
        "transpose",
        ".T (2-D)",
        ".mT",
        "expand",
        "expand_as",
        "broadcast_to",
        "repeat",
        "flip",
        "roll",
        "split",
        "chunk",
        "narrow",
        "tril",
        "triu",
        "getitem basic",
        "getitem int tensors",
        "getitem bool mask",
        "setitem",
        "gather",
        "scatter_add",
        "index_select",
        "tl.cat",
        "tl.stack",
        "F.pad constant",
        "F.one_hot",
        "tl.matmul",
        "clone",
        "contiguous",
        "detach",
        "to(dtype)",
        ".float()",
        ".double()",
        ".half()",
        ".long()",
        ".int()",
        ".bool()",
        "zero_",
        "fill_",
        "copy_",
        "add_",
        "mul_",
        "sub_",
        "div_",
        "item/tolist/numpy/len/iter/size/numel/ndim",
    } | {
        name
        for name in (
            "abs",
            "sign",
            "exp",
            "log",
            "log2",
            "log1p",
            "expm1",
            "sqrt",
            "rsqrt",
            "sin",
            "cos",
            "tanh",
            "sigmoid",
            "relu",
            "square",
            "reciprocal",
        )
    }
    assert required <= names, f"rows missing from the table: {sorted(required - names)}"


# --- every name of DESIGN.md section 5 exists --------------------------------------------------

TENSOR_ATTRS = """
shape dtype device ndim size numel requires_grad grad is_leaf grad_fn T mT backward detach
requires_grad_ retain_grad register_hook numpy item tolist to cpu cuda float double half long int
bool clone contiguous zero_ fill_ copy_ add_ mul_ sub_ div_ __array__ __dlpack__ __len__ __iter__
__repr__
__add__ __radd__ __sub__ __rsub__ __mul__ __rmul__ __truediv__ __rtruediv__ __floordiv__
__rfloordiv__ __mod__ __rmod__ __pow__ __rpow__ __matmul__ __neg__ __lt__ __le__ __gt__ __ge__
__eq__ __ne__ __and__ __or__ __invert__
add sub mul div pow neg abs sign exp log log2 log1p expm1 sqrt rsqrt sin cos tanh sigmoid relu
square reciprocal clamp clip masked_fill lerp matmul
sum mean prod amax amin max min argmax argmin var std logsumexp norm cumsum all any
reshape view flatten unflatten squeeze unsqueeze permute transpose expand expand_as broadcast_to
repeat flip roll split chunk narrow tril triu __getitem__ __setitem__ gather scatter_add
index_select
""".split()

MODULE_NAMES = """
Tensor tensor zeros ones empty full arange linspace eye rand randn randint zeros_like ones_like
rand_like randn_like full_like from_numpy manual_seed float16 float32 float64 int32 int64 bool
cat stack where maximum minimum matmul no_grad enable_grad
add sub mul div pow neg abs sign exp log log2 log1p expm1 sqrt rsqrt sin cos tanh sigmoid relu
square reciprocal clamp clip
""".split()


@pytest.mark.parametrize("name", TENSOR_ATTRS)
def test_api_name_exists_on_tensor(name):
    assert hasattr(torch.Tensor, name)  # the list itself is torch's API
    x = tl.tensor(np.ones((2, 2)))
    assert hasattr(x, name), f"tinygrad_lite Tensor has no attribute {name!r} (torch has)"


@pytest.mark.parametrize("name", MODULE_NAMES)
def test_api_name_exists_in_module(name):
    assert hasattr(torch, name)
    assert hasattr(tl, name), f"tinygrad_lite has no {name!r} (torch has torch.{name})"


@pytest.mark.parametrize("name", ["pad", "one_hot"])
def test_api_name_exists_in_functional(name):
    assert hasattr(tl.nn.functional, name), f"tinygrad_lite.nn.functional has no {name!r}"


def test_api_autograd_names_exist():
    assert callable(tl.autograd.grad)
    assert isinstance(tl.autograd.Function, type)


# --- views share memory like torch's (writes through a view reach the base, and back) -------------


def _m(lib):
    return lib.tensor(np.array([[1.0, 2.0], [3.0, 4.0]]))


def _iadd_identity(lib):
    x = _m(lib)
    y = x
    x += 1.0
    return x is y, y


def _numpy_shares(lib):
    x = _m(lib)
    x.numpy()[0, 0] = 9.0
    return x


def _tensor_copies(lib):
    a = np.ones((2, 2))
    x = lib.tensor(a)
    a[0, 0] = 9.0
    return x


def _write(view_fn, write_fn):
    def run(lib):
        x = _m(lib)
        write_fn(view_fn(x))
        return x

    return run


ALIASING = {
    "view(-1)[0] = 9": _write(lambda x: x.view(-1), lambda v: v.__setitem__(0, 9.0)),
    "x[0][1] = 9": _write(lambda x: x[0], lambda v: v.__setitem__(1, 9.0)),
    "x.T[0, 1] = 9": _write(lambda x: x.T, lambda v: v.__setitem__((0, 1), 9.0)),
    "detach().add_(1)": _write(lambda x: x.detach(), lambda v: v.add_(1.0)),
    "reshape(4).mul_(2)": _write(lambda x: x.reshape(4), lambda v: v.mul_(2.0)),
    "x[:, 1].zero_()": _write(lambda x: x[:, 1], lambda v: v.zero_()),
    "unsqueeze(0)[0, 0, 0] = 7": _write(
        lambda x: x.unsqueeze(0), lambda v: v.__setitem__((0, 0, 0), 7.0)
    ),
    "split(1)[0].fill_(5)": _write(lambda x: x.split(1)[0], lambda v: v.fill_(5.0)),
    "narrow(0, 1, 1).fill_(0)": _write(lambda x: x.narrow(0, 1, 1), lambda v: v.fill_(0.0)),
    "flatten().fill_(0)": _write(lambda x: x.flatten(), lambda v: v.fill_(0.0)),
    "permute(1, 0)[0].fill_(0)": _write(lambda x: x.permute(1, 0), lambda v: v[0].fill_(0.0)),
    "x[..., None][1].fill_(-1)": _write(lambda x: x[..., None], lambda v: v[1].fill_(-1.0)),
    "clone() is a copy": _write(lambda x: x.clone(), lambda v: v.fill_(0.0)),
    "x[[0]] (advanced) is a copy": _write(lambda x: x[[0]], lambda v: v.fill_(0.0)),
    "x[x > 1.5] = 0": _write(lambda x: x, lambda v: v.__setitem__(v > 1.5, 0.0)),
    "x[0] = x[0] + 1": _write(lambda x: x, lambda v: v.__setitem__(0, v[0] + 1.0)),
    "x += 1 keeps identity": lambda lib: _iadd_identity(lib),
    "numpy() shares memory": lambda lib: _numpy_shares(lib),
    "tensor(ndarray) copies": lambda lib: _tensor_copies(lib),
}


@pytest.mark.parametrize("name", list(ALIASING))
def test_view_aliasing_like_torch(name):
    from .specs import assert_same_output

    fn = ALIASING[name]
    assert_same_output(fn(tl), fn(torch), what=name)
