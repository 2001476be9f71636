"""Dataset, TensorDataset, Subset, random_split, DataLoader and default_collate against torch."""

import collections
import math
import warnings

import numpy as np
import pytest
import torch
import torch.utils.data as tud
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_lite as tl
from tinygrad_lite.data import (ConcatDataset, DataLoader, Dataset, Subset, TensorDataset,
                                default_collate, random_split)


def _pair(n: int):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n, dtype=np.int64)
    return (TensorDataset(tl.tensor(x), tl.tensor(y)),
            tud.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)))


class PerSample(Dataset):
    """No .tensors: forces the per-sample path."""

    def __init__(self, inner):
        self.inner = inner

    def __getitem__(self, i):
        return self.inner[i]

    def __len__(self):
        return len(self.inner)


@given(n=st.integers(0, 40), bs=st.integers(1, 12), drop_last=st.booleans())
def test_batches_match_torch_without_shuffle(n, bs, drop_last):
    ours, theirs = _pair(n)
    for dataset in (ours, PerSample(ours)):
        loader = DataLoader(dataset, batch_size=bs, drop_last=drop_last)
        ref = tud.DataLoader(theirs, batch_size=bs, drop_last=drop_last)
        assert len(loader) == len(ref)
        got = list(loader)
        expected = list(ref)
        assert len(got) == len(expected)
        for (xb, yb), (xr, yr) in zip(got, expected):
            tl.testing.assert_close(xb, xr)
            tl.testing.assert_close(yb, yr)
            assert xb.dtype == tl.float32 and yb.dtype == tl.int64


@given(n=st.integers(1, 50), bs=st.integers(1, 9), drop_last=st.booleans(),
       seed=st.integers(0, 1000))
def test_shuffled_epoch_covers_each_sample_once(n, bs, drop_last, seed):
    ours, _ = _pair(n)
    loader = DataLoader(ours, batch_size=bs, shuffle=True, drop_last=drop_last, seed=seed)
    for _ in range(2):
        labels = [yb.numpy() for _, yb in loader]
        sizes = [len(b) for b in labels]
        assert len(sizes) == len(loader) == (n // bs if drop_last else -(-n // bs))
        assert all(s == bs for s in sizes[:-1]) and all(0 < s <= bs for s in sizes[-1:])
        seen = np.concatenate(labels) if labels else np.zeros(0, np.int64)
        if drop_last:
            assert len(seen) == n - n % bs and len(set(seen.tolist())) == len(seen)
        else:
            np.testing.assert_array_equal(np.sort(seen), np.arange(n))


def test_shuffle_reproducible_across_runs_and_different_across_epochs():
    ours, _ = _pair(64)

    def run(**kw):
        loader = DataLoader(ours, batch_size=16, shuffle=True, **kw)
        return [np.concatenate([yb.numpy() for _, yb in loader]) for _ in range(3)]

    a, b = run(seed=123), run(seed=123)
    for ea, eb in zip(a, b):
        np.testing.assert_array_equal(ea, eb)
    assert not np.array_equal(a[0], a[1]) and not np.array_equal(a[1], a[2])
    assert not np.array_equal(a[0], run(seed=124)[0])
    assert not np.array_equal(a[0], np.arange(64))
    # an explicit numpy Generator is used as given: successive permutations from it
    c = run(generator=np.random.default_rng(5))
    rng = np.random.default_rng(5)
    for ec in c:
        np.testing.assert_array_equal(ec, rng.permutation(64))
    d = run(generator=5)  # an int generator is a seed for one stream, not reseeded per epoch
    for ec, ed in zip(c, d):
        np.testing.assert_array_equal(ec, ed)
    # set_epoch(k) gives the order an uninterrupted run uses for its epoch k (resuming)
    resumed = DataLoader(ours, batch_size=16, shuffle=True, seed=123)
    resumed.set_epoch(2)
    np.testing.assert_array_equal(np.concatenate([yb.numpy() for _, yb in resumed]), a[2])
    # without a seed, tl.manual_seed makes the order repeatable
    tl.manual_seed(7)
    d = run()
    tl.manual_seed(7)
    e = run()
    np.testing.assert_array_equal(d[0], e[0])
    np.testing.assert_array_equal(d[2], e[2])


def test_fast_path_and_per_sample_path_agree_when_shuffled():
    ours, _ = _pair(37)
    fast = DataLoader(ours, batch_size=5, shuffle=True, seed=3)
    slow = DataLoader(PerSample(ours), batch_size=5, shuffle=True, seed=3)
    for (xf, yf), (xs, ys) in zip(fast, slow):
        np.testing.assert_array_equal(xf.numpy(), xs.numpy())
        np.testing.assert_array_equal(yf.numpy(), ys.numpy())


def test_batches_do_not_alias_the_dataset():
    ours, _ = _pair(8)
    xb, _ = next(iter(DataLoader(ours, batch_size=4)))
    xb.zero_()
    assert float(ours.tensors[0][1, 0]) == 3.0


def test_subset_and_nested_subset_batches():
    ours, _ = _pair(30)
    inner = Subset(ours, list(range(29, -1, -2)))   # 29, 27, ..., 1
    outer = Subset(inner, [0, 3, 14, 5])           # 29, 23, 1, 19
    for ds, expected in ((inner, list(range(29, -1, -2))), (outer, [29, 23, 1, 19])):
        for loader in (DataLoader(ds, batch_size=4), DataLoader(PerSample(ds), batch_size=4)):
            got = np.concatenate([yb.numpy() for _, yb in loader]).tolist()
            assert got == expected
    assert outer[2][1].item() == 1 and len(outer) == 4


def test_tensordataset_subclass_with_own_getitem_is_called():
    class Doubled(TensorDataset):
        def __getitem__(self, i):
            x, y = super().__getitem__(i)
            return x * 2, y

    ds = Doubled(tl.ones(6, 2), tl.arange(6))
    xb, yb = next(iter(DataLoader(ds, batch_size=6)))
    assert xb.tolist() == [[2.0, 2.0]] * 6 and yb.tolist() == list(range(6))


def test_batch_size_none_yields_samples():
    ours, theirs = _pair(5)
    got = list(DataLoader(ours, batch_size=None))
    ref = list(tud.DataLoader(theirs, batch_size=None))
    assert len(got) == len(ref) == len(DataLoader(ours, batch_size=None)) == 5
    for (x, y), (xr, yr) in zip(got, ref):
        tl.testing.assert_close(x, xr)
        tl.testing.assert_close(y, yr)


class _DictSamples(Dataset):
    """Samples with NumPy arrays, numbers, strings, tuples: what default_convert touches."""

    def __init__(self):
        self.n = 3

    def __getitem__(self, i):
        return {"x": np.full(2, i, np.float32), "y": i, "f": i * 0.5, "name": f"s{i}",
                "pair": (np.int64(i), [np.arange(i + 1)]), "point": Point(np.float64(i), "p")}

    def __len__(self):
        return self.n


class _TorchDictSamples(tud.Dataset):
    __getitem__ = _DictSamples.__getitem__
    __len__ = _DictSamples.__len__
    __init__ = _DictSamples.__init__


def test_batch_size_none_converts_samples_like_torch():
    # torch applies default_convert to each sample: arrays become tensors, tuples lists
    got = list(DataLoader(_DictSamples(), batch_size=None))
    ref = list(tud.DataLoader(_TorchDictSamples(), batch_size=None))
    assert len(got) == len(ref) == 3
    for a, b in zip(got, ref):
        _compare(a, b)
    ours, theirs = _pair(3)
    for a, b in zip(DataLoader(ours, batch_size=None), tud.DataLoader(theirs, batch_size=None)):
        _compare(a, b)


def test_subset_subclass_with_own_getitem_is_called():
    class Shifted(Subset):
        def __getitem__(self, i):
            x, y = super().__getitem__(i)
            return x, y + 100

    ours, _ = _pair(6)
    for ds, expected in ((Shifted(ours, [4, 1]), [104, 101]),
                         (Subset(Shifted(ours, [4, 1, 2]), [1, 0]), [101, 104])):
        assert [yb.tolist() for _, yb in DataLoader(ds, batch_size=2)] == [expected]


def test_drop_last_and_len():
    ours, theirs = _pair(10)
    for bs in (1, 3, 4, 10, 11):
        for drop in (False, True):
            expected = 10 // bs if drop else math.ceil(10 / bs)
            assert len(DataLoader(ours, batch_size=bs, drop_last=drop)) == expected
            assert len(tud.DataLoader(theirs, batch_size=bs, drop_last=drop)) == expected
            assert len(list(DataLoader(ours, batch_size=bs, drop_last=drop))) == expected


def test_loader_argument_errors():
    ours, _ = _pair(4)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="batch_size should be a positive integer"):
            DataLoader(ours, batch_size=bad)
    with pytest.raises(ValueError, match="mutually exclusive with drop_last"):
        DataLoader(ours, batch_size=None, drop_last=True)
    with pytest.raises(ValueError, match="either generator= or seed="):
        DataLoader(ours, seed=1, generator=np.random.default_rng(1))
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        DataLoader(ours, generator="abc")


Point = collections.namedtuple("Point", ["x", "y"])


def _compare(ours, theirs):
    """Same structure and values; numeric leaves compared against torch's tensors."""
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, tl.Tensor)
        assert ours.dtype.name == str(theirs.dtype).removeprefix("torch.")
        tl.testing.assert_close(ours, theirs)
    elif isinstance(theirs, dict):
        assert type(ours) is type(theirs) and list(ours) == list(theirs)
        for k in theirs:
            _compare(ours[k], theirs[k])
    elif isinstance(theirs, (list, tuple)):
        assert type(ours) is type(theirs) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            _compare(a, b)
    else:
        assert ours == theirs


@pytest.mark.parametrize("samples", [
    [1, 2, 3],
    [0.5, 1.5],
    [True, False],
    ["a", "b"],
    [np.float32(1.5), np.float32(2.5)],
    [np.arange(3, dtype=np.int32), np.arange(3, 6, dtype=np.int32)],
    [(1, 2.0), (3, 4.0)],
    [[1, 2], [3, 4]],
    [{"a": 1, "b": [0.5, 1]}, {"a": 2, "b": [1.5, 2]}],
    [collections.OrderedDict(z=1, a=2), collections.OrderedDict(z=3, a=4)],
    [Point(1, 2.0), Point(3, 4.0)],
])
def test_default_collate_matches_torch(samples):
    _compare(default_collate(samples), tud.default_collate(samples))


def test_default_collate_tensors_and_errors():
    a = np.random.default_rng(0).standard_normal((4, 2, 3)).astype(np.float32)
    got = default_collate([(tl.tensor(a[i]), int(i)) for i in range(4)])
    ref = tud.default_collate([(torch.from_numpy(a[i]), int(i)) for i in range(4)])
    _compare(got, ref)
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([[1, 2], [3]])
    with pytest.raises(TypeError, match="found object"):
        default_collate([object(), object()])


def test_custom_collate_fn():
    ours, _ = _pair(6)
    loader = DataLoader(ours, batch_size=4, collate_fn=lambda batch: [int(y) for _, y in batch])
    assert list(loader) == [[0, 1, 2, 3], [4, 5]]


def test_tensordataset():
    x, y = tl.randn(5, 3), tl.arange(5)
    ds = TensorDataset(x, y)
    assert len(ds) == 5 and len(ds[2]) == 2
    tl.testing.assert_close(ds[2][0], torch.from_numpy(x.numpy()[2]))
    assert ds[-1][1].item() == 4
    with pytest.raises(ValueError, match=r"size mismatch.*\(5, 3\), \(4,\)"):
        TensorDataset(x, tl.arange(4))
    with pytest.raises(ValueError, match="at least one tensor"):
        TensorDataset()
    with pytest.raises(ValueError, match="0-d"):
        TensorDataset(tl.tensor(1.0))
    with pytest.raises(TypeError, match="must be a Tensor"):
        TensorDataset(np.zeros(3))


def test_concat_dataset_matches_torch():
    a, ta = _pair(3)
    b, tb = _pair(4)
    ours, theirs = a + b, ta + tb
    assert isinstance(ours, ConcatDataset) and len(ours) == len(theirs) == 7
    for i in list(range(7)) + [-1, -7]:
        tl.testing.assert_close(ours[i][1], theirs[i][1])
    with pytest.raises(IndexError):
        ours[7]


@pytest.mark.parametrize("n, lengths", [
    (10, [0.3, 0.7]), (10, [0.33, 0.33, 0.34]), (7, [0.5, 0.5]), (11, [0.1] * 10),
    (5, [0.2, 0.2, 0.2, 0.2, 0.2]), (100, [0.8, 0.1, 0.1]), (3, [0.25, 0.25, 0.25, 0.25]),
    (60000, [0.9, 0.1]), (10, [3, 7]), (9, [0, 9]), (0, [0, 0]),
])
def test_random_split_sizes_match_torch(n, lengths):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = random_split(range(n), lengths, seed=0)
        theirs = tud.random_split(range(n), lengths, generator=torch.Generator().manual_seed(0))
    assert [len(s) for s in ours] == [len(s) for s in theirs]
    combined = [i for s in ours for i in s]
    assert sorted(combined) == list(range(n))  # disjoint and complete


@pytest.mark.parametrize("n, lengths", [(10, [3, 6]), (10, [0.5, 0.6]), (10, [1.2, -0.2]),
                                        (10, [4, 5, 2])])
def test_random_split_errors_like_torch(n, lengths):
    with pytest.raises(ValueError):
        tud.random_split(range(n), lengths, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError):
        random_split(range(n), lengths, seed=0)


def test_random_split_reproducible_and_warns_on_empty():
    ours, _ = _pair(20)
    a = random_split(ours, [0.5, 0.25, 0.25], seed=1)
    b = random_split(ours, [10, 5, 5], generator=np.random.default_rng(1))
    assert [s.indices for s in a] == [s.indices for s in b]
    assert a[0].indices != random_split(ours, [10, 5, 5], seed=2)[0].indices
    assert a[0].indices != list(range(10))
    loader = DataLoader(a[1], batch_size=2)
    assert np.concatenate([yb.numpy() for _, yb in loader]).tolist() == a[1].indices
    with pytest.warns(UserWarning, match="index 1 is 0"):
        random_split(range(2), [1.0, 0.0], seed=0)
    # torch accepts negative lengths that add up and returns odd subsets; we refuse them
    with pytest.raises(ValueError, match="index 1 is negative"):
        random_split(range(10), [11, -1], seed=0)
    with pytest.raises(TypeError, match="lengths must be ints"):
        random_split(range(4), [2.5, 1.5], seed=0)
    # fractions that miss 1 say so (torch only says the sum isn't the dataset's length)
    with pytest.raises(ValueError, match=r"fractions must sum to 1, got \[0.5, 0.4\]"):
        random_split(range(10), [0.5, 0.4], seed=0)


def test_an_iterator_never_advanced_uses_no_epoch():
    """tqdm.auto calls iter() once in its constructor and again when looped over: the unused
    iterator must not consume an epoch, or progress bars would change the batch order."""
    x = tl.arange(100)
    plain = DataLoader(TensorDataset(x), batch_size=10, shuffle=True, seed=4)
    wrapped = DataLoader(TensorDataset(x), batch_size=10, shuffle=True, seed=4)
    unused = iter(wrapped)  # noqa: F841 - what tqdm.asyncio does
    assert [b[0].tolist() for b in plain] == [b[0].tolist() for b in wrapped]
    tqdm = pytest.importorskip("tqdm.auto").tqdm
    assert [b[0].tolist() for b in plain] == [b[0].tolist() for b in tqdm(wrapped, disable=True)]
    assert plain.epoch == wrapped.epoch == 2
