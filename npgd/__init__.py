"""npgd: an operator algebra for imaging inverse problems.

Four layers, each depending only on the ones before it::

    linops  <-  priors  <-  solvers  <-  problems

``npgd.linops`` holds the linear operators (Fourier, wavelets, downsampling, finite
differences) that work on NumPy, CuPy and Torch arrays alike; ``npgd.backend`` is the one
module that dispatches between those libraries.
"""

from npgd import linops, priors, problems, solvers

__version__ = "0.1.0"
__all__ = ["linops", "priors", "problems", "solvers", "__version__"]
