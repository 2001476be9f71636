"""Neural-network building blocks (``tl.nn``); layers and losses arrive with the training issue."""

from . import functional  # noqa: F401
