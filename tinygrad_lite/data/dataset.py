"""Map-style datasets: ``Dataset``, ``TensorDataset``, ``Subset``, ``ConcatDataset`` and
``random_split``.

Same names and semantics as ``torch.utils.data``. A dataset that exposes ``.tensors`` (a tuple
of tensors sharing their first dimension, sample ``i`` being ``tuple(t[i] for t in tensors)``)
lets the :class:`~tinygrad_lite.data.DataLoader` build a batch with one fancy index per tensor.
"""

from __future__ import annotations

import bisect
import itertools
import math
import numbers
import warnings
from collections.abc import Sequence

import numpy as np

from ..device import get_device
from ..tensor import Tensor


class Dataset:
    """Base class of map-style datasets: subclasses define ``__getitem__`` and ``__len__``."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


class TensorDataset(Dataset):
    """Samples are slices of tensors along their first dimension.

    Args:
        *tensors: tensors with the same size of dim 0, e.g. images (N, C, H, W) and labels (N,).

    Raises:
        ValueError: no tensors, a 0-d tensor, or first dimensions that differ.
    """

    def __init__(self, *tensors: Tensor):
        if not tensors:
            raise ValueError("TensorDataset: expected at least one tensor, got none")
        for i, t in enumerate(tensors):
            if not isinstance(t, Tensor):
                raise TypeError(f"TensorDataset: argument {i} must be a Tensor, got "
                                f"{type(t).__name__}")
            if t.ndim == 0:
                raise ValueError(f"TensorDataset: tensor {i} is 0-d; every tensor needs a first "
                                 f"dimension to index samples along")
        if any(t.shape[0] != tensors[0].shape[0] for t in tensors):
            shapes = ", ".join(str(tuple(t.shape)) for t in tensors)
            raise ValueError(f"TensorDataset: size mismatch between tensors: all must have the "
                             f"same size of dim 0, got shapes {shapes}")
        self.tensors = tuple(tensors)

    def __getitem__(self, index) -> tuple[Tensor, ...]:
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices`` (in that order).

    Args:
        dataset: the whole dataset.
        indices: positions in ``dataset`` that make up the subset.
    """

    def __init__(self, dataset, indices: Sequence[int]):
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, index):
        if isinstance(index, list):
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[self.indices[index]]

    def __len__(self) -> int:
        return len(self.indices)


class ConcatDataset(Dataset):
    """The samples of several datasets one after another (what ``ds_a + ds_b`` gives).

    Args:
        datasets: the datasets, in order; at least one.
    """

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        self.cumulative_sizes = list(itertools.accumulate(len(d) for d in self.datasets))

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index: int):
        n = len(self)
        if index < 0:
            if -index > n:
                raise ValueError(f"ConcatDataset: index {index} out of range for length {n}")
            index += n
        if index >= n:
            raise IndexError(f"ConcatDataset: index {index} out of range for length {n}")
        which = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][index - start]


def resolve_rng(generator=None, seed: int | None = None, op: str = "random") -> np.random.Generator:
    """The NumPy Generator to draw from: ``generator``, a fresh one from ``seed``, or a fresh one
    seeded from the CPU device's global generator (so ``tl.manual_seed`` makes runs repeatable).
    """
    if generator is not None and seed is not None:
        raise ValueError(f"{op}: pass either generator= or seed=, not both")
    if generator is not None:
        if isinstance(generator, np.random.Generator):
            return generator
        if isinstance(generator, numbers.Integral) and not isinstance(generator, bool):
            return np.random.default_rng(int(generator))
        raise TypeError(f"{op}: generator must be a numpy.random.Generator or an int seed, got "
                        f"{type(generator).__name__}")
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
            raise TypeError(f"{op}: seed must be an int, got {type(seed).__name__}")
        return np.random.default_rng(int(seed))
    # looked up at call time: manual_seed replaces the device generator object
    return np.random.default_rng(int(get_device("cpu").generator.integers(0, 2**63)))


def _split_lengths(n: int, lengths: Sequence[int | float]) -> list[int]:
    """Integer split sizes; fractions summing to 1 follow torch's floor + round-robin rule."""
    lengths = list(lengths)
    total = sum(lengths)
    if math.isclose(total, 1) and total <= 1:
        sizes = []
        for i, frac in enumerate(lengths):
            if frac < 0 or frac > 1:
                raise ValueError(f"random_split: fraction at index {i} is not between 0 and 1 "
                                 f"(got {frac})")
            sizes.append(math.floor(n * frac))
        for i in range(n - sum(sizes)):  # hand out the remainder one by one, first splits first
            sizes[i % len(sizes)] += 1
        for i, size in enumerate(sizes):
            if size == 0:
                warnings.warn(f"random_split: length of split at index {i} is 0. This might "
                              f"result in an empty dataset.", stacklevel=3)
        return sizes
    if total != n and any(isinstance(x, numbers.Real) and not float(x).is_integer()
                          for x in lengths):
        raise ValueError(f"random_split: fractions must sum to 1, got {lengths} (sum {total}); "
                         f"or give integer lengths summing to len(dataset) = {n}")
    if total != n:
        raise ValueError(f"random_split: sum of input lengths ({total}) does not equal the "
                         f"length of the input dataset ({n})")
    for i, size in enumerate(lengths):
        if isinstance(size, bool) or not isinstance(size, numbers.Integral):
            raise TypeError(f"random_split: lengths must be ints, or fractions summing to 1; "
                            f"got {size!r} at index {i}")
        if size < 0:
            raise ValueError(f"random_split: length at index {i} is negative ({size})")
    return [int(s) for s in lengths]


def random_split(dataset, lengths: Sequence[int | float], generator=None, *,
                 seed: int | None = None) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random subsets.

    Args:
        dataset: any sized dataset.
        lengths: sizes summing to ``len(dataset)``, or fractions summing to 1 (each split gets
            ``floor(frac * len)``, then the remainder is handed out one by one from the first
            split, as torch does).
        generator: a ``numpy.random.Generator`` (or an int seed) for the permutation.
        seed: shorthand for ``generator=numpy.random.default_rng(seed)``. Without either the
            permutation is seeded from the global generator (``tl.manual_seed``).

    Returns:
        One :class:`Subset` per length.

    Raises:
        ValueError: lengths that don't add up, a negative length, a fraction outside [0, 1].
    """
    sizes = _split_lengths(len(dataset), lengths)
    order = resolve_rng(generator, seed, "random_split").permutation(len(dataset)).tolist()
    ends = itertools.accumulate(sizes)
    return [Subset(dataset, order[end - size:end]) for end, size in zip(ends, sizes)]
