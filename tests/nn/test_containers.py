"""Sequential, ModuleList and ModuleDict against torch's: the same sequence of indexing,
slicing, assignment, append/insert/extend/pop/del on both, then the names, reprs and outputs are
compared."""

from collections import OrderedDict

import numpy as np
import pytest
import torch

import tinygrad_lite as tl
import tinygrad_lite.nn as nn
from tinygrad_lite.testing import assert_close


def names(pairs):
    return [n for n, _ in pairs]


def _layers(lib, n=4):
    return [lib.nn.Linear(i + 1, i + 2) for i in range(n)]


def _same(container, container_t):
    assert names(container.named_parameters()) == names(container_t.named_parameters())
    assert [repr(m) for m in container] == [repr(m) for m in container_t]
    assert len(container) == len(container_t)


def test_sequential_like_torch():
    seqs = {lib: lib.nn.Sequential(*_layers(lib)) for lib in (tl, torch)}
    ours, ref = seqs[tl], seqs[torch]
    _same(ours, ref)
    for idx in (0, 2, -1, -4):
        assert repr(ours[idx]) == repr(ref[idx])
    for sl in (slice(1, 3), slice(None, None, 2), slice(-2, None)):
        assert names(ours[sl].named_parameters()) == names(ref[sl].named_parameters())
        assert isinstance(ours[sl], nn.Sequential)
    for bad in (4, -5):
        with pytest.raises(IndexError, match="out of range"):
            ours[bad]
    for lib, seq in seqs.items():
        seq[1] = lib.nn.Linear(2, 3, bias=False)
        del seq[0]
        seq.append(lib.nn.Linear(5, 6))
        seq.insert(1, lib.nn.Tanh())
        seq.insert(-1, lib.nn.ReLU())
        seq.extend([lib.nn.Sigmoid()])
        seq.pop(0)
        del seq[1:3]
    _same(ours, ref)
    assert repr(ours) == repr(ref)
    x = np.random.default_rng(0).standard_normal((2, 1))
    chain = {lib: lib.nn.Sequential(*_layers(lib, 3)) for lib in (tl, torch)}
    chain[tl].load_state_dict({k: v.numpy() for k, v in chain[torch].state_dict().items()})
    assert_close(chain[tl](tl.tensor(x, dtype=tl.float32)),
                 chain[torch](torch.tensor(x, dtype=torch.float32)).detach())
    named = nn.Sequential(OrderedDict([("first", nn.ReLU()), ("second", nn.Tanh())]))
    assert names(named.named_children()) == ["first", "second"]
    assert isinstance(named[-1], nn.Tanh)


def test_modulelist_like_torch():
    lists = {lib: lib.nn.ModuleList(_layers(lib)) for lib in (tl, torch)}
    ours, ref = lists[tl], lists[torch]
    _same(ours, ref)
    assert names(ours[1:3].named_parameters()) == names(ref[1:3].named_parameters())
    with pytest.raises(IndexError, match="out of range"):
        ours[-5]
    for lib, ml in lists.items():
        ml.append(lib.nn.ReLU())
        ml.insert(0, lib.nn.Tanh())
        ml.insert(2, lib.nn.Sigmoid())  # torch mis-keys negative indices: not compared
        ml.extend([lib.nn.Linear(1, 1)])
        ml += [lib.nn.Linear(2, 1)]
        del ml[2]
        del ml[-1]
        ml[0] = lib.nn.Linear(3, 3)
        ml.pop(1)
        del ml[::2]
    _same(ours, ref)
    assert repr(ours) == repr(ref)
    with pytest.raises(NotImplementedError):
        ours(tl.zeros(1))


def test_moduledict_like_torch():
    dicts = {lib: lib.nn.ModuleDict({"b": lib.nn.Linear(1, 2), "a": lib.nn.Linear(2, 1)})
             for lib in (tl, torch)}
    for lib, md in dicts.items():
        md["c"] = lib.nn.ReLU()
        md.update({"d": lib.nn.Linear(3, 3)})
        del md["b"]
        md.pop("c")
    ours, ref = dicts[tl], dicts[torch]
    assert list(ours) == list(ref) == list(ours.keys())
    assert "a" in ours and "b" not in ours and len(ours) == len(ref)
    assert names(ours.named_parameters()) == names(ref.named_parameters())
    assert [k for k, _ in ours.items()] == [k for k, _ in ref.items()]
    assert repr(ours) == repr(ref)
    with pytest.raises(KeyError):
        ours["missing"]
    ours.clear()
    assert len(ours) == 0


def test_slicing_keeps_the_container_subclass_like_torch():
    def sliced(lib):
        class Stack(lib.nn.Sequential):
            pass

        class Blocks(lib.nn.ModuleList):
            pass

        return Stack(*_layers(lib))[1:3], Blocks(_layers(lib))[::2]

    for ours, theirs in zip(sliced(tl), sliced(torch)):
        assert type(ours).__name__ == type(theirs).__name__ in ("Stack", "Blocks")
        assert repr(ours) == repr(theirs)
