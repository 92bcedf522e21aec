"""Fourier operators: the centred orthonormal 2-D DFT and its masked (undersampled) version."""

from __future__ import annotations

from typing import Any

import numpy as np

from npgd import backend
from npgd.linops.base import LinearOperator, Shape, as_shape, check_batch
from npgd.linops.basic import check_finite_weights

__all__ = ["FFT2", "MaskedFFT"]


def _check_2d(shape: Shape, where: str) -> Shape:
    shape = as_shape(shape, "shape", where)
    if len(shape) != 2:
        raise ValueError(f"{where}: shape must be (H, W), got {shape}")
    return shape


class FFT2(LinearOperator):
    """Centred, orthonormal 2-D DFT over the last two axes.

    .. math:: (F x)_{k} = \\frac{1}{\\sqrt{HW}} \\sum_{n} x_n\\, e^{-2\\pi i \\left(
              \\frac{(k_1-c_1)(n_1-c_1)}{H} + \\frac{(k_2-c_2)(n_2-c_2)}{W}\\right)}

    with centre :math:`c = (H/\\!/2, W/\\!/2)` in both image and k-space (DC at ``(H//2, W//2)``).
    :math:`F` is unitary: ``FFT2.H`` is the centred inverse DFT and ``FFT2.N`` is the identity.
    Real input gives complex output in the same precision.

    Examples
    --------
    >>> import numpy as np
    >>> from npgd.linops import FFT2
    >>> F = FFT2((4, 4))
    >>> k = F(np.ones((4, 4)))
    >>> float(abs(k[2, 2])), float(abs(k).sum() - abs(k[2, 2]))
    (4.0, 0.0)
    """

    unitary = True

    def __init__(self, shape: Shape):
        shape = _check_2d(shape, "FFT2")
        super().__init__(shape, shape)

    def _apply(self, x: Any) -> Any:
        return backend.fft2c(x)

    def _apply_adjoint(self, y: Any) -> Any:
        return backend.ifft2c(y)

    def __repr__(self) -> str:
        return f"FFT2({self.ishape})"


class MaskedFFT(LinearOperator):
    """Undersampled Fourier sampling :math:`A x = M \\odot F x` on the full k-space grid.

    Unsampled locations are zero; the adjoint is :math:`A^H y = F^H (M \\odot y)` (``M`` real)
    and the normal operator :math:`A^H A = F^H M^2 F` (= :math:`F^H M F` for a 0/1 mask).
    :math:`F` is the centred orthonormal DFT of :class:`FFT2`.

    Parameters
    ----------
    mask : array
        Boolean or 0/1 (real weights are accepted too) of shape ``(H, W)``, or
        ``(*batch, H, W)`` broadcasting against the input's batch axes (one mask per sample).
        NumPy, CuPy or Torch; it is moved to the input's backend and device once and cached.

    Examples
    --------
    >>> import numpy as np
    >>> from npgd.linops import MaskedFFT
    >>> mask = np.zeros((8, 8), bool); mask[:, ::2] = True
    >>> A = MaskedFFT(mask)
    >>> y = A(np.random.default_rng(0).standard_normal((2, 8, 8)).astype(np.float32))
    >>> y.dtype, A.H(y).shape
    (dtype('complex64'), (2, 8, 8))
    """

    def __init__(self, mask: Any):
        mask, mn = check_finite_weights(mask, "mask", "MaskedFFT")
        if mn.dtype.kind == "c":
            raise TypeError("MaskedFFT: mask must be boolean or real, got a complex array")
        if mn.ndim < 2:
            raise ValueError(f"MaskedFFT: mask must have shape (..., H, W), got {mn.shape}")
        self.mask = backend.Held(mask)
        self.mask_shape = tuple(mn.shape)
        shape = _check_2d(mn.shape[-2:], "MaskedFFT")
        super().__init__(shape, shape)

    def _apply(self, x: Any) -> Any:
        self._check_batch(x)
        return self.mask.like(x) * backend.fft2c(x)

    def _apply_adjoint(self, y: Any) -> Any:
        self._check_batch(y)
        return backend.ifft2c(self.mask.like(y) * y)

    def _check_batch(self, x: Any) -> None:
        check_batch(self.mask_shape[:-2], x, 2, "mask", self)

    def _normal(self) -> LinearOperator:
        return _MaskedNormal(self)

    def _squared_norm(self) -> float:
        return float(np.max(np.abs(self.mask.numpy())) ** 2)

    def __repr__(self) -> str:
        return f"MaskedFFT({self.ishape})"


class _MaskedNormal(LinearOperator):
    """:math:`A^H A = F^H M^2 F` in one pass: a circular convolution, so the centring shifts
    drop out and the squared mask is applied in uncentred k-space (``backend.fft2c_normal``).

    A fixed mask's shifted square is computed once (in float64) and held; a Torch mask that
    records gradients (a learnable mask) is squared and shifted from the mask itself on every
    call, so its gradient through ``A.N`` is the one through ``A.H(A(x))``.
    """

    self_adjoint = True

    def __init__(self, A: MaskedFFT):
        self.A = A
        super().__init__(A.ishape, A.ishape)
        self._fixed: backend.Held | None = None

    def _weights(self, x: Any) -> Any:
        held = self.A.mask
        if backend.tracks_grad(held.array):
            m = held.like(x)
            return backend.namespace(m).fft.ifftshift(m * m, axes=(-2, -1))
        if self._fixed is None:
            m = held.numpy().astype(np.float64)
            self._fixed = backend.Held(np.fft.ifftshift(m * m, axes=(-2, -1)))
        return self._fixed.like(x)

    def _apply(self, x: Any) -> Any:
        self.A._check_batch(x)
        return backend.fft2c_normal(x, self._weights(x))

    def __repr__(self) -> str:
        return f"MaskedFFT({self.ishape}).N"
