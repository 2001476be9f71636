"""tl.data: datasets, the DataLoader, the IDX reader, MNIST / Fashion-MNIST and text corpora.

    from tinygrad_lite.data import DataLoader, TensorDataset
    loader = DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True, seed=0)
"""

from . import datasets, text
from .dataset import ConcatDataset, Dataset, Subset, TensorDataset, random_split
from .idx import read_idx, write_idx
from .loader import DataLoader, default_collate, default_convert

__all__ = ["Dataset", "TensorDataset", "Subset", "ConcatDataset", "random_split", "DataLoader",
           "default_collate", "default_convert", "read_idx", "write_idx", "datasets", "text"]
