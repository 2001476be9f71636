"""Shared by the tl.nn test files: dtype pairs and well-conditioned normalisation inputs."""

import torch

import tinygrad_lite as tl

DTYPES = [(tl.float64, torch.float64), (tl.float32, torch.float32)]
DTYPE_IDS = ["float64", "float32"]


def well_conditioned(rng, lead, norm):
    """Random (*lead, *norm) input whose normalised groups have a spread std in [1, 3] and a mean
    in [-3, 3]: float32 gradients of a group with nearly equal values lose ~|mean|/std^2 digits
    in torch and in ours alike (hypothesis found such groups), which no tolerance should hide."""
    axes = tuple(range(len(lead), len(lead) + len(norm)))
    z = rng.standard_normal((*lead, *norm))
    z = (z - z.mean(axes, keepdims=True)) / (z.std(axes, keepdims=True) + 1e-12)
    scale = rng.uniform(1, 3, (*lead, *[1] * len(norm)))
    shift = rng.uniform(-3, 3, (*lead, *[1] * len(norm)))
    return z * scale + shift
