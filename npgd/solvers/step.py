"""Operator norms, step sizes and the scale of the regularization weight."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from npgd import backend
from npgd._util import check_int
from npgd.linops import LinearOperator

__all__ = ["squared_norm", "power_norm", "lambda_max"]


def _sample_norm(xp: Any, x: Any, ndim: int) -> Any:
    axes = tuple(range(-ndim, 0))
    return xp.sqrt(xp.sum(xp.real(x * xp.conj(x)), axis=axes, keepdims=True))


def squared_norm(
    A: LinearOperator,
    batch: tuple[int, ...] = (),
    *,
    iters: int = 30,
    like: Any = None,
    seed: int = 0,
) -> float:
    """The squared operator norm :math:`\\|A\\|^2 = \\|A^H A\\|`, the largest eigenvalue of
    the normal operator; :math:`1/\\|A\\|^2` is the classic proximal-gradient step.

    Operators that know it exactly say so (unitary ones: 1; ``Diagonal``: :math:`\\max|w|^2`;
    ``MaskedFFT``: :math:`\\max M^2`; ``Downsample``: :math:`1/(f_y f_x)`; scalings of those);
    it is then computed from the operator's current arrays. Otherwise power iteration
    :math:`v \\leftarrow A^H A v / \\|A^H A v\\|` runs from a random complex start, per batch
    element (operators with per-sample data, such as one mask per sample, have one norm each),
    and the largest Rayleigh quotient is returned (an estimate from below). Nothing is cached:
    the operator's arrays (a learnable mask) may change between calls.

    Parameters
    ----------
    A : LinearOperator
    batch : tuple of int
        Batch shape the operator is applied with.
    iters : int
        Power iterations (convergence depends on the gap between the two largest eigenvalues).
    like : array, optional
        Run on this array's backend and device (NumPy by default).
    seed : int
        Seed of the random start.

    Examples
    --------
    >>> import numpy as np
    >>> from npgd import linops
    >>> squared_norm(3 * linops.Wavelet((16, 16), "haar", 2))
    9.0
    >>> 7.5 < squared_norm(linops.FiniteDifference((16, 16)), iters=100) <= 8  # ||D||^2 <= 8
    True
    """
    check_int("squared_norm", "iters", iters)
    exact = A._squared_norm()
    if exact is not None:
        return float(exact)
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
    return float(np.max(backend.to_numpy(lam)))


def power_norm(*args: Any, **kwargs: Any) -> float:
    """Deprecated name of :func:`squared_norm` (it returns the *squared* norm
    :math:`\\|A^H A\\|`, which the old name hid); warns and forwards.

    Examples
    --------
    >>> import warnings
    >>> from npgd import linops
    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     power_norm(2 * linops.Identity((2,))), w[0].category.__name__
    (4.0, 'DeprecationWarning')
    """
    warnings.warn(
        "npgd.solvers.power_norm is deprecated: it returns the squared operator norm; call "
        "npgd.solvers.squared_norm",
        DeprecationWarning,
        stacklevel=2,
    )
    return squared_norm(*args, **kwargs)


def lambda_max(A: LinearOperator, y: Any, transform: LinearOperator | None = None, *,
               per_sample: bool = False) -> Any:
    """The data's scale for an l1 weight: :math:`\\lambda_{\\max} = \\|T A^H y\\|_\\infty`.

    For :math:`\\min_x \\tfrac12\\|Ax - y\\|^2 + \\lambda\\|x\\|_1` every
    :math:`\\lambda \\ge \\|A^H y\\|_\\infty` gives :math:`x = 0`; with a sparsifying transform
    :math:`T` (``linops.Wavelet``, ``linops.FiniteDifference``) the same quantity sets the scale.
    Regularization weights are therefore best given *relative* to it,
    ``lam = rel * lambda_max(A, y, W)`` with ``rel`` around 1e-3..1e-1, which makes them
    independent of the data's units, the k-space scaling and the image size (the confusion of
    SigPy's issue #23). The maximum is taken over the batch, or, with ``per_sample=True``,
    over each sample's own axes (those of ``A.ishape``, or of the transform's ``oshape``),
    giving a NumPy array of the batch shape: ``rel * lambda_max(A, y, W, per_sample=True)``
    is the per-slice weight a batched solve takes (:class:`npgd.priors.Weight`).

    Examples
    --------
    >>> import numpy as np
    >>> from npgd import linops
    >>> A = linops.FFT2((8, 8))
    >>> y = A(np.ones((8, 8)))
    >>> round(lambda_max(A, y), 6)
    1.0
    >>> lambda_max(A, np.stack([y, 3 * y]), per_sample=True).round(6)
    array([1., 3.])
    """
    x = A.H(y)
    if transform is not None:
        x = transform(x)
    xp = backend.namespace(x)
    if per_sample:
        n = len(A.ishape if transform is None else transform.oshape)
        axes = tuple(range(-n, 0))
        return backend.to_numpy(xp.max(xp.abs(x), axis=axes)).astype(np.float64)
    return float(backend.to_numpy(xp.max(xp.abs(x))))
