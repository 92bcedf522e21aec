"""Iterative solvers: one proximal-gradient loop for classic and learned priors.

==================  ================================================================
``pgd``             :math:`x_{t+1} = \\mathrm{prox}(x_t + \\alpha A^H(y - A x_t), \\alpha)`
``fista``           ``pgd`` with Beck-Teboulle momentum
``cg``              conjugate gradient for normal equations, batch-aware
``squared_norm``    :math:`\\|A\\|^2 = \\|A^H A\\|` (the default step is its inverse)
``lambda_max``      :math:`\\|T A^H y\\|_\\infty`, the data's scale for l1 weights
``History``         callback recording objective, NRMSE and time per iteration
``NeuralPGD``       ``pgd`` unrolled with a learned proximal and step (``torch`` extra)
==================  ================================================================
"""

from npgd.solvers.cg import cg
from npgd.solvers.pgd import History, fista, pgd
from npgd.solvers.step import lambda_max, power_norm, squared_norm

__all__ = ["History", "NeuralPGD", "cg", "fista", "lambda_max", "pgd", "power_norm",
           "squared_norm"]


def __getattr__(name: str):
    # Torch is an optional dependency: the unrolled network imports it only when asked for.
    if name == "NeuralPGD":
        from npgd.solvers.unrolled import NeuralPGD

        return NeuralPGD
    raise AttributeError(f"module 'npgd.solvers' has no attribute {name!r}")
