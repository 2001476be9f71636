"""Special functions NumPy lacks, as Numba ufuncs (free functions on arrays)."""

import math

from numba import float32, float64, vectorize


@vectorize([float32(float32), float64(float64)], cache=True)
def erf(x):
    """Gauss error function, elementwise (libm's erf)."""
    return math.erf(x)
