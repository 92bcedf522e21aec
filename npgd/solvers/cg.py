"""Conjugate gradient for Hermitian positive semi-definite systems (normal equations)."""

from __future__ import annotations

from typing import Any

from npgd import backend
from npgd._util import check_int, check_positive_float
from npgd.linops import LinearOperator

__all__ = ["cg"]


def cg(
    N: LinearOperator,
    b: Any,
    *,
    x0: Any = None,
    iters: int = 100,
    tol: float = 1e-6,
) -> Any:
    """Solve :math:`N x = b` for Hermitian positive semi-definite :math:`N`, batch by batch.

    Conjugate gradients (Hestenes & Stiefel) with step sizes and residuals computed per batch
    element (each image converges on its own); stops after ``iters`` or when every residual
    satisfies :math:`\\|b - Nx\\| \\le \\text{tol}\\,\\|b\\|`. The usual use is the normal
    equations of regularized least squares,
    :math:`(A^H A + \\mu I) x = A^H y` as ``cg(A.N + mu * Identity(shape), A.H(y))``.

    Examples
    --------
    >>> import numpy as np
    >>> from npgd import linops, solvers
    >>> D = linops.Diagonal(np.array([[1.0, 2.0], [4.0, 8.0]]))
    >>> solvers.cg(D.N, np.ones((3, 2, 2)))[0]
    array([[1.      , 0.25    ],
           [0.0625  , 0.015625]])
    """
    xp = backend.check_array(b, "b", "cg")
    iters = check_int("cg", "iters", iters, minimum=0)
    tol = check_positive_float("cg", "tol", tol, allow_zero=True)
    N._check_input(b, N.oshape, "b")
    axes = tuple(range(-len(N.ishape), 0))

    def dot(u: Any, v: Any) -> Any:
        return xp.real(xp.sum(xp.conj(u) * v, axis=axes, keepdims=True))

    x = xp.zeros_like(b) if x0 is None else x0
    r = b - N(x) if x0 is not None else b
    p = r
    rr = dot(r, r)
    stop = (tol**2) * dot(b, b)
    for _ in range(iters):
        if bool(xp.all(rr <= stop)):
            break
        Np = N(p)
        pNp = dot(p, Np)
        alpha = xp.where(pNp > 0, rr / xp.where(pNp > 0, pNp, 1.0), 0.0)
        x = x + alpha * p
        r = r - alpha * Np
        rr_new = dot(r, r)
        beta = xp.where(rr > 0, rr_new / xp.where(rr > 0, rr, 1.0), 0.0)
        p = r + beta * p
        rr = rr_new
    return x
