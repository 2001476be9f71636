"""``tl.nn``: Module, Parameter, layers, losses, ``functional``, ``init`` and ``utils``."""

from . import functional, init, utils  # noqa: F401
from .containers import ModuleDict, ModuleList, Sequential
from .conv import Conv1d, Conv2d
from .embedding import Embedding
from .layers import (ELU, GELU, Dropout, Flatten, Identity, LeakyReLU, Linear, LogSoftmax, ReLU,
                     Sigmoid, SiLU, Softmax, Softplus, Tanh, Unflatten)
from .loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss, NLLLoss
from .module import Module
from .parameter import Parameter
from .normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from .transformer import (MultiheadAttention, TransformerEncoder, TransformerEncoderLayer,
                          generate_square_subsequent_mask)
from .pooling import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AvgPool1d, AvgPool2d, MaxPool1d,
                      MaxPool2d)

__all__ = ["functional", "init", "utils", "Module", "Parameter", "Sequential", "ModuleList",
           "ModuleDict", "Identity", "Linear", "Flatten", "Unflatten", "Dropout", "ReLU",
           "LeakyReLU", "GELU", "SiLU", "ELU", "Softplus", "Tanh", "Sigmoid", "Softmax",
           "LogSoftmax", "BatchNorm1d", "BatchNorm2d", "LayerNorm", "CrossEntropyLoss", "NLLLoss",
           "MSELoss", "L1Loss", "BCELoss", "BCEWithLogitsLoss"]
__all__ += ["MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "MaxPool1d", "AvgPool1d",
            "AdaptiveAvgPool1d"]
__all__ += ["Conv1d", "Conv2d"]
__all__ += ["Embedding"]
__all__ += ["MultiheadAttention", "TransformerEncoderLayer", "TransformerEncoder",
            "generate_square_subsequent_mask"]
