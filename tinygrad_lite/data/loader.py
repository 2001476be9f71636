"""``DataLoader`` and ``default_collate``.

Two paths. When the dataset exposes ``.tensors`` (a :class:`TensorDataset`, MNIST, or a chain of
:class:`Subset` over one), a batch is one fancy index per tensor on the backend array: no Python
loop over samples, and on CUDA the epoch's index array is uploaded once. Anything else is read
sample by sample with ``dataset[i]`` and merged by ``collate_fn`` (``default_collate``, which
stacks tensors and turns numbers into tensors like ``torch.utils.data.default_collate``).
"""

from __future__ import annotations

import collections.abc
import copy
import math
import numbers
from collections.abc import Callable, Iterator

import numpy as np

from ..dtypes import float64
from ..functions import stack
from ..tensor import Tensor
from .dataset import Subset, TensorDataset, resolve_rng


def default_collate(batch: list):
    """Merge a list of samples into a batch, with torch's ``default_collate`` rules.

    Tensors are stacked along a new dim 0; NumPy arrays become stacked tensors; Python ints give
    an int64 tensor, floats a float64 tensor, bools a bool tensor; strings and bytes stay lists;
    dicts, namedtuples and sequences are collated field by field (tuples and lists give lists).

    Raises:
        RuntimeError: sequences of different lengths in one batch.
        TypeError: an element type it doesn't know.
    """
    elem = batch[0]
    if isinstance(elem, Tensor):
        return stack(batch, 0)
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind in "USO":
            raise TypeError(f"default_collate: numpy arrays of dtype {elem.dtype} can't become "
                            f"tensors")
        return Tensor(np.stack(batch))
    if isinstance(elem, np.generic):
        return Tensor(np.asarray(batch))
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, bool):
        return Tensor(batch)
    if isinstance(elem, numbers.Integral):
        return Tensor(batch)  # int64, as torch.tensor
    if isinstance(elem, numbers.Real):
        return Tensor(batch, dtype=float64)  # Python floats are doubles: torch keeps float64
    if isinstance(elem, collections.abc.Mapping):
        merged = {key: default_collate([d[key] for d in batch]) for key in elem}
        if isinstance(elem, collections.abc.MutableMapping):
            try:  # keep the mapping's type (e.g. OrderedDict) when it can be copied
                clone = copy.copy(elem)
                clone.update(merged)
                return clone
            except TypeError:
                pass
        return merged
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple keeps its type
        return type(elem)(*(default_collate(list(field)) for field in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(sample) != size for sample in batch):
            raise RuntimeError("default_collate: each element in list of batch should be of "
                               f"equal size, got sizes {sorted({len(s) for s in batch})}")
        return [default_collate(list(field)) for field in zip(*batch)]
    raise TypeError("default_collate: batch must contain tensors, numpy arrays, numbers, dicts "
                    f"or lists; found {type(elem).__name__}")


def default_convert(data):
    """Convert one sample as torch's ``default_convert`` does (``batch_size=None``).

    NumPy arrays (of numbers) and scalars become tensors; mappings, namedtuples and sequences
    are converted element by element (a plain tuple becomes a list, as in torch); everything
    else, Python numbers and strings included, is returned unchanged.
    """
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray):
        return data if data.dtype.kind in "USO" else Tensor(data)
    if isinstance(data, np.generic):
        return data if isinstance(data, (np.str_, np.bytes_)) else Tensor(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        converted = {key: default_convert(data[key]) for key in data}
        if isinstance(data, collections.abc.MutableMapping):
            try:
                clone = copy.copy(data)
                clone.update(converted)
                return clone
            except TypeError:
                pass
        return converted
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        converted = [default_convert(d) for d in data]
        if isinstance(data, collections.abc.MutableSequence):
            try:
                clone = copy.copy(data)
                clone[:] = converted
                return clone
            except TypeError:
                pass
        return converted
    return data


def _tensor_source(dataset):
    """``(tensors, index_map)`` when batches can be fancy-indexed, else ``None``.

    ``index_map`` is None for the dataset itself, or an int64 array mapping positions in a
    (possibly nested) Subset to rows of the underlying tensors.
    """
    index_map = None
    # a Subset subclass may change what a sample is: only plain Subsets are looked through
    while isinstance(dataset, Subset) and type(dataset).__getitem__ is Subset.__getitem__:
        idx = np.asarray(dataset.indices, dtype=np.int64).reshape(-1)
        index_map = idx if index_map is None else idx[index_map]
        dataset = dataset.dataset
    tensors = getattr(dataset, "tensors", None)
    if not tensors or not all(isinstance(t, Tensor) and t.ndim > 0 for t in tensors):
        return None
    if isinstance(dataset, TensorDataset) and \
            type(dataset).__getitem__ is not TensorDataset.__getitem__:
        return None  # a subclass that changes samples (e.g. augments) must be called per sample
    return tuple(tensors), index_map


class DataLoader:
    """Iterate over a dataset in (optionally shuffled) batches.

    Args:
        dataset: a map-style dataset (``__getitem__`` and ``__len__``).
        batch_size: samples per batch; ``None`` yields single samples without collation
            (NumPy arrays in them become tensors, tuples lists: torch's ``default_convert``).
        shuffle: draw a new permutation at the start of every epoch.
        drop_last: skip the last batch when it is smaller than ``batch_size``.
        seed: seed for shuffling: epoch ``e`` is shuffled by a NumPy Generator seeded with
            ``(seed, e)``, so the same seed gives the same batch order in every run, successive
            epochs differ, and :meth:`set_epoch` can resume mid-training. Without ``seed`` or
            ``generator`` each epoch is seeded from the global generator (``tl.manual_seed``).
        generator: a ``numpy.random.Generator`` to shuffle with instead of ``seed`` (successive
            epochs draw successive permutations from it).
        collate_fn: merges a list of samples into a batch (default: :func:`default_collate`).
        num_workers: accepted for PyTorch compatibility; loading always runs in this process.
        pin_memory: accepted for PyTorch compatibility; ignored.

    Batches of a dataset with ``.tensors`` are lists ``[t[idx] for t in tensors]``, as torch's
    ``default_collate`` gives for tuples of tensors.
    """

    def __init__(self, dataset, batch_size: int | None = 1, shuffle: bool = False,
                 drop_last: bool = False, seed: int | None = None, generator=None,
                 collate_fn: Callable | None = None, num_workers: int = 0,
                 pin_memory: bool = False):
        if batch_size is not None and (isinstance(batch_size, bool)
                                       or not isinstance(batch_size, numbers.Integral)
                                       or batch_size <= 0):
            raise ValueError(f"DataLoader: batch_size should be a positive integer value, but got "
                             f"batch_size={batch_size!r}")
        if batch_size is None and drop_last:
            raise ValueError("DataLoader: batch_size=None option disables auto-batching and is "
                             "mutually exclusive with drop_last")
        if not isinstance(num_workers, numbers.Integral) or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers option should be non-negative; got "
                             f"num_workers={num_workers!r}")
        self.dataset = dataset
        self.batch_size = None if batch_size is None else int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.collate_fn = collate_fn
        self.num_workers = int(num_workers)
        self.pin_memory = pin_memory
        self.seed = seed
        self.epoch = 0  # the epoch the next iteration shuffles for (0-based)
        if seed is not None:
            resolve_rng(generator, seed, "DataLoader")  # checks the type, and not both given
        # a generator is one stream across epochs (an int generator is turned into one here)
        self.generator = None if generator is None else resolve_rng(generator, None, "DataLoader")

    def __len__(self) -> int:
        n = len(self.dataset)
        if self.batch_size is None:
            return n
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration shuffle as epoch ``epoch`` (0-based) of a seeded loader does.

        After resuming from a checkpoint taken when ``k`` epochs were done, ``set_epoch(k)``
        continues with the same batch order an uninterrupted run would have used.
        """
        self.epoch = int(epoch)

    def _order(self) -> np.ndarray:
        n = len(self.dataset)
        epoch, self.epoch = self.epoch, self.epoch + 1
        if not self.shuffle:
            return np.arange(n, dtype=np.int64)
        if self.seed is not None:
            rng = np.random.default_rng([int(self.seed), epoch])
        elif self.generator is not None:
            rng = self.generator
        else:
            rng = resolve_rng(op="DataLoader")
        return rng.permutation(n)

    def __iter__(self) -> Iterator:
        # A generator: the epoch starts (and its permutation is drawn) at the first next(), so
        # an iterator that is created but never advanced (tqdm.auto makes one) uses no epoch.
        order = self._order()
        if self.batch_size is None:
            yield from self._samples(order)
            return
        source = _tensor_source(self.dataset) if self.collate_fn is None else None
        if source is not None:
            yield from self._tensor_batches(order, *source)
        else:
            yield from self._collated_batches(order)

    def _bounds(self, n: int):
        bs = self.batch_size
        stop = n - n % bs if self.drop_last else n
        return ((s, min(s + bs, n)) for s in range(0, stop, bs))

    def _samples(self, order: np.ndarray):
        for i in order.tolist():
            sample = self.dataset[i]
            yield default_convert(sample) if self.collate_fn is None else self.collate_fn(sample)

    def _collated_batches(self, order: np.ndarray):
        collate = self.collate_fn or default_collate
        indices = order.tolist()
        dataset = self.dataset
        for s, e in self._bounds(len(indices)):
            yield collate([dataset[i] for i in indices[s:e]])

    def _tensor_batches(self, order: np.ndarray, tensors, index_map):
        rows = order if index_map is None else index_map[order]
        # one index array per device, uploaded once per epoch (a no-op on the CPU)
        on_device = {}
        for t in tensors:
            if t.device not in on_device:
                on_device[t.device] = t.device.asarray(rows)
        arrays = [(t._data, t.device, on_device[t.device]) for t in tensors]
        for s, e in self._bounds(len(rows)):
            yield [Tensor._make(a[idx[s:e]], dev) for a, dev, idx in arrays]
