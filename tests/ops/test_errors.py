"""Error inputs, one family at a time, straight from the op table's ``errors`` column.

DESIGN.md: bad shapes / values raise ``ValueError``, bad types / dtypes ``TypeError``, autograd
misuse ``RuntimeError``; a bad ``dim`` or an index out of range may be ``IndexError`` or
``ValueError`` (both accepted).  The message must name the op and what was wrong (the offending
shapes / dtypes, e.g. ``matmul: shapes (2, 3) and (4, 5) cannot be multiplied (3 != 4)``).
Each case is first run through torch, which must reject it as well, so every case is a real error
in torch's semantics.
"""

import numpy as np
import pytest
import torch

import tinygrad_lite as tl

from .specs import SPECS, run_error_case

ERROR_PARAMS = [
    pytest.param(s, e, id=f"{s.name}: {e.label}".replace(" ", "_")) for s in SPECS for e in s.errors
]


@pytest.mark.parametrize("spec,err", ERROR_PARAMS)
def test_error_input(spec, err):
    run_error_case(spec, err)


def test_every_family_has_error_cases():
    families = {
        "broadcast": "add",
        "matmul": "matmul @",
        "reduction dim": "sum",
        "reshape": "reshape",
        "view": "view",
        "gather": "gather",
        "index": "getitem basic",
        "cat": "tl.cat",
        "stack": "tl.stack",
        "requires_grad on ints": "tensor(requires_grad=True) on ints",
        "in-place": "add_",
        "one_hot": "F.one_hot",
        "pad": "F.pad constant",
    }
    by_name = {s.name: s for s in SPECS}
    missing = [f for f, n in families.items() if not by_name[n].errors]
    assert not missing, f"op families without error inputs: {missing}"


# --- a few messages checked in full detail --------------------------------------------------------


def test_matmul_message_names_both_shapes_and_the_mismatch():
    a, b = tl.tensor(np.zeros((2, 3))), tl.tensor(np.zeros((4, 5)))
    with pytest.raises(ValueError) as info:
        a @ b
    msg = str(info.value)
    for part in ("matmul", "(2, 3)", "(4, 5)", "3", "4"):
        assert part in msg, f"{part!r} missing from {msg!r}"


def test_broadcast_message_names_both_shapes():
    a, b = tl.tensor(np.zeros((2, 3))), tl.tensor(np.zeros((2, 4)))
    with pytest.raises(ValueError) as info:
        a * b
    msg = str(info.value)
    assert "(2, 3)" in msg and "(2, 4)" in msg, msg


def test_reshape_message_names_sizes():
    with pytest.raises(ValueError) as info:
        tl.tensor(np.zeros((2, 3))).reshape(4, 2)
    msg = str(info.value)
    assert "reshape" in msg.lower() and "(2, 3)" in msg, msg


def test_cat_message_names_shapes():
    a, b = tl.tensor(np.zeros((2, 3))), tl.tensor(np.zeros((3, 4)))
    with pytest.raises(ValueError) as info:
        tl.cat([a, b], dim=0)
    msg = str(info.value)
    assert "cat" in msg.lower() and "(2, 3)" in msg and "(3, 4)" in msg, msg


def test_cat_of_empty_list():
    with pytest.raises((ValueError, TypeError, RuntimeError)):
        torch.cat([], dim=0)
    with pytest.raises((ValueError, TypeError, RuntimeError)):
        tl.cat([], dim=0)


BAD_DIMS = {
    "sum": lambda lib, x: x.sum(dim=2),
    "mean": lambda lib, x: x.mean(dim=-3),
    "amax": lambda lib, x: x.amax(dim=(0, 2)),
    "max": lambda lib, x: x.max(dim=2),
    "argmax": lambda lib, x: x.argmax(dim=2),
    "var": lambda lib, x: x.var(dim=2),
    "logsumexp": lambda lib, x: x.logsumexp(dim=2),
    "norm": lambda lib, x: x.norm(dim=2),
    "cumsum": lambda lib, x: x.cumsum(dim=2),
    "transpose": lambda lib, x: x.transpose(0, 2),
    "squeeze": lambda lib, x: x.squeeze(2),
    "unsqueeze": lambda lib, x: x.unsqueeze(3),
    "flip": lambda lib, x: x.flip(2),
    "roll": lambda lib, x: x.roll(1, 2),
    "split": lambda lib, x: x.split(1, dim=2),
    "chunk": lambda lib, x: x.chunk(2, dim=2),
    "narrow": lambda lib, x: x.narrow(2, 0, 1),
    "index_select": lambda lib, x: x.index_select(2, lib.tensor(np.array([0]))),
    "flatten": lambda lib, x: x.flatten(0, 2),
    "unflatten": lambda lib, x: x.unflatten(2, (1, 1)),
    "gather": lambda lib, x: x.gather(2, lib.tensor(np.zeros((2, 3), np.int64))),
    "cat": lambda lib, x: lib.cat([x, x], dim=-3),
    "stack": lambda lib, x: lib.stack([x, x], dim=4),
}


@pytest.mark.parametrize("name", list(BAD_DIMS))
def test_bad_dim_raises_index_or_value_error(name):
    bad = BAD_DIMS[name]
    with pytest.raises(Exception):  # torch rejects it too
        bad(torch, torch.zeros(2, 3, dtype=torch.float64))
    with pytest.raises((IndexError, ValueError)) as info:
        bad(tl, tl.tensor(np.zeros((2, 3))))
    assert name in str(info.value).lower(), f"message should name {name!r}: {info.value}"


def test_duplicate_dims_in_tuple():
    with pytest.raises(RuntimeError):
        torch.zeros(2, 3).sum(dim=(0, 0))
    with pytest.raises((ValueError, IndexError)) as info:
        tl.tensor(np.zeros((2, 3))).sum(dim=(0, -2))
    assert "sum" in str(info.value).lower()


def test_requires_grad_on_int_tensor_factories():
    for bad in (
        lambda: torch.zeros(2, dtype=torch.int64, requires_grad=True),
        lambda: torch.arange(3, requires_grad=True),
        lambda: torch.tensor([True, False], requires_grad=True),
    ):
        with pytest.raises(RuntimeError):
            bad()
    with pytest.raises((RuntimeError, TypeError)):
        tl.zeros(2, dtype=tl.int64, requires_grad=True)
    with pytest.raises((RuntimeError, TypeError)):
        tl.arange(3, requires_grad=True)
    with pytest.raises((RuntimeError, TypeError)):
        tl.tensor([True, False], requires_grad=True)


def test_item_on_multi_element_tensor_names_count():
    with pytest.raises(RuntimeError):
        torch.zeros(2, 3).item()
    with pytest.raises((ValueError, RuntimeError)) as info:
        tl.tensor(np.zeros((2, 3))).item()
    assert "6" in str(info.value)


def test_index_out_of_range_messages_name_the_size():
    t = torch.zeros(3, 4)
    for bad in (
        lambda: t[3],
        lambda: t[:, -5],
        lambda: t[torch.tensor([0, 5])],
        lambda: t[[0, -4]],
    ):
        with pytest.raises(IndexError):
            bad()
    x = tl.tensor(np.zeros((3, 4)))
    with pytest.raises((IndexError, ValueError)) as info:
        x[3]
    assert "3" in str(info.value)
    with pytest.raises((IndexError, ValueError)):
        x[:, -5]
    with pytest.raises((IndexError, ValueError)):
        x[tl.tensor(np.array([0, 5]))]
    with pytest.raises((IndexError, ValueError)):
        x[[0, -4]]
