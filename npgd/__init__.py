"""npgd: an operator algebra for imaging inverse problems.

Layers, each depending only on the ones before it (see ``docs/architecture.rst``)::

    linops  <-  priors  <-  solvers  <-  models  <-  problems  <-  train, experiments  <-  cli

``npgd.linops`` holds the linear operators (Fourier, wavelets, downsampling, finite
differences) that work on NumPy, CuPy and Torch arrays alike; ``npgd.backend`` is the one
module that dispatches between those libraries. ``models``, ``train`` and ``experiments``
are imported on demand (``import npgd.train``); the first two need the ``torch`` extra.
"""

from npgd import linops, priors, problems, solvers

__version__ = "0.1.0"
__all__ = ["linops", "priors", "problems", "solvers", "__version__"]
