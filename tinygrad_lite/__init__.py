"""tinygrad_lite: a small, readable deep-learning engine with a PyTorch-compatible API."""

from .tensor import Tensor  # first: the op modules bind to it
from . import autograd, cuda, dtypes, nn, viz  # noqa: F401,I001
from .autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .creation import (arange, empty, empty_like, eye, from_dlpack, from_numpy, full, full_like,
                       linspace, manual_seed, ones, ones_like, rand, rand_like, randint, randn,
                       randn_like, tensor, zeros, zeros_like)
from .device import Device, get_device as device  # tl.device('cpu'), like torch.device
from .dtypes import (bool_ as bool, float16, float32, float64, int8, int16, int32, int64,
                     uint8)
from .functions import *  # noqa: F401,F403  (tl.exp, tl.cat, ... twins of Tensor methods)

half, float, double, long, int, short = float16, float32, float64, int64, int32, int16


def get_default_dtype():
    return float32


def __getattr__(name):
    import importlib

    if name in ("testing", "optim", "data"):
        return importlib.import_module(f".{name}", __name__)
    if name in ("save", "load"):
        return getattr(importlib.import_module(".serialization", __name__), name)
    raise AttributeError(f"module 'tinygrad_lite' has no attribute {name!r}")


__all__ = ["Tensor", "Device", "tensor", "no_grad", "enable_grad", "set_grad_enabled",
           "is_grad_enabled", "autograd",
           "nn", "viz", "cuda", "device", "float16", "float32", "float64", "int8", "int16", "int32",
           "int64",
           "uint8", "bool", "zeros", "ones", "empty", "full", "arange", "linspace", "eye", "rand",
           "randn", "randint", "zeros_like", "ones_like", "empty_like", "full_like", "rand_like",
           "randn_like", "from_numpy", "from_dlpack", "manual_seed"]
__version__ = "0.1.0"

from ._checkout import map_kernels_folder  # noqa: E402

map_kernels_folder()  # before any kernel is imported (they load lazily)
del map_kernels_folder
