"""The public adjoint ("dot") test for any :class:`~npgd.linops.LinearOperator`."""

from __future__ import annotations

from typing import Any

import numpy as np

from npgd import backend
from npgd.linops.base import LinearOperator

__all__ = ["dottest"]

_DTYPES = ("complex64", "complex128", "float32", "float64")


def _random(rng: np.random.Generator, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    out = rng.standard_normal(shape)
    if dtype.startswith("complex"):
        out = out + 1j * rng.standard_normal(shape)
    return out.astype(dtype)


def dottest(
    A: LinearOperator,
    batch: tuple[int, ...] = (),
    dtype: str = "complex128",
    *,
    like: Any = None,
    rtol: float | None = None,
    rng: np.random.Generator | int | None = None,
    raise_error: bool = True,
) -> float:
    """Check :math:`\\langle A x, y\\rangle = \\langle x, A^H y\\rangle` on random inputs.

    ``x`` and ``y`` are drawn in ``dtype`` (complex by default, so the imaginary part is tested
    too) with shapes ``(*batch, *A.ishape)`` and ``(*batch, *A.oshape)``; the operator and the
    inner products run in that precision, on the backend and device of ``like`` (NumPy when
    None). The real and imaginary parts of the two sides are compared separately:

    .. math:: \\frac{|\\Re(a-b)| + |\\Im(a-b)|}{\\max\\left(\\sum_i |(Ax)_i|\\,|y_i|,\\
              \\sum_j |x_j|\\,|(A^H y)_j|\\right)} \\le \\text{rtol},
              \\qquad a = \\langle Ax, y\\rangle,\\ b = \\langle x, A^H y\\rangle,

    normalized by the sums of the terms' magnitudes (the scale of the rounding error of a sum of
    products; dividing by :math:`|a|` would fail correct operators whenever the inner product
    happens to cancel), with ``rtol`` defaulting to ``64·eps·sqrt(size)`` of the dtype's real
    precision, ``size`` the larger of the input and output sizes.

    Parameters
    ----------
    A : LinearOperator
        The operator to test (any object with ``ishape``, ``oshape``, ``__call__`` and ``.H``).
    batch : tuple of int
        Leading batch axes of the test inputs.
    dtype : {"complex128", "complex64", "float64", "float32"}
        Precision and kind of the random inputs.
    like : array, optional
        An array whose backend and device are used (e.g. ``torch.empty(0, device="cuda")``).
    rtol : float, optional
        Tolerance; see above.
    rng : numpy Generator or int, optional
        Random generator or seed.
    raise_error : bool
        Raise ``AssertionError`` when the test fails (else just return the error).

    Returns
    -------
    float
        The relative error above.

    Examples
    --------
    >>> from npgd import linops
    >>> err = linops.dottest(linops.Wavelet((16, 16), "db2", levels=2), batch=(3,))
    >>> err < 1e-12
    True
    """
    if dtype not in _DTYPES:
        raise ValueError(f"dottest: dtype must be one of {sorted(_DTYPES)}, got {dtype!r}")
    rng = np.random.default_rng(rng)
    batch = tuple(batch)
    x = _random(rng, batch + A.ishape, dtype)
    y = _random(rng, batch + A.oshape, dtype)
    if like is not None:
        x, y = backend.from_numpy(x, like), backend.from_numpy(y, like)
    Ax, AHy = A(x), A.H(y)
    xp = backend.namespace(Ax)
    a = complex(backend.to_numpy(xp.sum(xp.conj(Ax) * y)))
    b = complex(backend.to_numpy(xp.sum(xp.conj(x) * AHy)))
    mag = float(backend.to_numpy(xp.sum(xp.abs(Ax) * xp.abs(y))))
    mag = max(mag, float(backend.to_numpy(xp.sum(xp.abs(x) * xp.abs(AHy)))))
    info = np.finfo(dtype)  # of the real precision, for complex dtypes too
    eps = float(info.eps)
    size = max(int(np.prod(batch + A.ishape)), int(np.prod(batch + A.oshape)))
    tol = 64 * eps * np.sqrt(size) if rtol is None else rtol
    scale = max(mag, float(info.tiny))
    err = (abs(a.real - b.real) + abs(a.imag - b.imag)) / scale
    if raise_error and not err <= tol:
        raise AssertionError(
            f"dottest failed for {A!r} ({dtype}, batch {batch}): <Ax, y> = {a}, "
            f"<x, A^H y> = {b}, relative error {err:.3g} > rtol {tol:.3g}"
        )
    return err
