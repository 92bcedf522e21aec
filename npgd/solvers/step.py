"""Operator norms, step sizes and the scale of the regularization weight."""

from __future__ import annotations

from typing import Any

import numpy as np

from npgd import backend
from npgd.linops import LinearOperator

__all__ = ["power_norm", "lambda_max"]


def _sample_norm(xp: Any, x: Any, ndim: int) -> Any:
    axes = tuple(range(-ndim, 0))
    return xp.sqrt(xp.sum(xp.real(x * xp.conj(x)), axis=axes, keepdims=True))


def power_norm(
    A: LinearOperator,
    batch: tuple[int, ...] = (),
    *,
    iters: int = 30,
    like: Any = None,
    seed: int = 0,
) -> float:
    """Largest eigenvalue :math:`\\|A^H A\\|` of the normal operator, by power iteration.

    Iterates :math:`v \\leftarrow A^H A v / \\|A^H A v\\|` from a random complex start, per
    batch element (operators with per-sample data, such as one mask per sample, have one norm
    each), and returns the largest Rayleigh quotient. The result is cached on ``A`` for the
    batch shape. :math:`1/\\|A^H A\\|` is the classic proximal-gradient step.

    Parameters
    ----------
    A : LinearOperator
    batch : tuple of int
        Batch shape the operator is applied with.
    iters : int
        Power iterations (30 gives ~1e-3 relative accuracy for well-separated spectra; the
        estimate is from below).
    like : array, optional
        Run on this array's backend and device (NumPy by default).
    seed : int
        Seed of the random start.

    Examples
    --------
    >>> import numpy as np
    >>> from npgd import linops
    >>> round(power_norm(3 * linops.Wavelet((16, 16), "haar", 2)), 6)
    9.0
    """
    cache = A.__dict__.setdefault("_power_norm", {})
    key = (tuple(batch), iters)
    if key in cache:
        return cache[key]
    rng = np.random.default_rng(seed)
    shape = tuple(batch) + A.ishape
    v = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex128)
    if like is not None:
        v = backend.from_numpy(v, like)
    xp = backend.namespace(v)
    n = len(A.ishape)
    v = v / _sample_norm(xp, v, n)
    lam = None
    for _ in range(iters):
        w = A.N(v)
        lam = xp.sum(xp.real(xp.conj(v) * w), axis=tuple(range(-n, 0)))
        norm = _sample_norm(xp, w, n)
        v = w / xp.where(norm > 0, norm, xp.ones_like(norm))
    out = float(np.max(backend.to_numpy(lam)))
    cache[key] = out
    return out


def lambda_max(A: LinearOperator, y: Any, transform: LinearOperator | None = None) -> float:
    """The data's scale for an l1 weight: :math:`\\lambda_{\\max} = \\|T A^H y\\|_\\infty`.

    For :math:`\\min_x \\tfrac12\\|Ax - y\\|^2 + \\lambda\\|x\\|_1` every
    :math:`\\lambda \\ge \\|A^H y\\|_\\infty` gives :math:`x = 0`; with a sparsifying transform
    :math:`T` (``linops.Wavelet``, ``linops.FiniteDifference``) the same quantity sets the scale.
    Regularization weights are therefore best given *relative* to it,
    ``lam = rel * lambda_max(A, y, W)`` with ``rel`` around 1e-3..1e-1, which makes them
    independent of the data's units, the k-space scaling and the image size (the confusion of
    SigPy's issue #23). The maximum is taken over the batch.

    Examples
    --------
    >>> import numpy as np
    >>> from npgd import linops
    >>> A = linops.FFT2((8, 8))
    >>> y = A(np.ones((8, 8)))
    >>> round(lambda_max(A, y), 6)
    1.0
    """
    x = A.H(y)
    if transform is not None:
        x = transform(x)
    xp = backend.namespace(x)
    return float(backend.to_numpy(xp.max(xp.abs(x))))
