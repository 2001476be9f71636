"""``tl.nn``: Module, Parameter, layers, losses, ``functional``, ``init`` and ``utils``."""

from . import functional, init, utils  # noqa: F401
from .containers import ModuleDict, ModuleList, Sequential
from .layers import (ELU, GELU, Dropout, Flatten, Identity, LeakyReLU, Linear, LogSoftmax, ReLU,
                     Sigmoid, SiLU, Softmax, Softplus, Tanh, Unflatten)
from .loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss, NLLLoss
from .module import Module
from .parameter import Parameter
from .normalization import BatchNorm1d, BatchNorm2d, LayerNorm

__all__ = ["functional", "init", "utils", "Module", "Parameter", "Sequential", "ModuleList",
           "ModuleDict", "Identity", "Linear", "Flatten", "Unflatten", "Dropout", "ReLU",
           "LeakyReLU", "GELU", "SiLU", "ELU", "Softplus", "Tanh", "Sigmoid", "Softmax",
           "LogSoftmax", "BatchNorm1d", "BatchNorm2d", "LayerNorm", "CrossEntropyLoss", "NLLLoss",
           "MSELoss", "L1Loss", "BCELoss", "BCEWithLogitsLoss"]
