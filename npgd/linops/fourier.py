"""Fourier operators (the centred orthonormal 2-D DFT and its masked, undersampled version)
and their FFT kernels on NumPy (scipy.fft), CuPy and Torch."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.fft

from npgd import backend
from npgd.linops.base import LinearOperator, Shape, as_shape, check_batch
from npgd.linops.basic import check_finite_weights

__all__ = ["FFT2", "MaskedFFT", "fft2c", "fft2c_normal", "ifft2c"]


def fft2c(x: Any) -> Any:
    """Centred orthonormal 2-D DFT over the last two axes.

    .. math:: \\hat x = S\\,F\\,S^{-1} x,\\qquad F_{kn} = e^{-2\\pi i k n / N} / \\sqrt{N}

    with :math:`S` = ``fftshift``, so the DC term is at index ``(H//2, W//2)`` in both domains.
    On NumPy it runs ``scipy.fft`` (single precision stays single; the number of threads
    follows ``scipy.fft.set_workers``).

    Examples
    --------
    >>> import numpy as np
    >>> k = fft2c(np.ones((4, 4), np.float32))
    >>> k.dtype, float(k[2, 2].real), float(abs(ifft2c(k) - 1).max()) < 1e-6
    (dtype('complex64'), 4.0, True)
    """
    return _fft2c(x, inverse=False)


def ifft2c(x: Any) -> Any:
    """Inverse (= adjoint) of :func:`fft2c`: :math:`S F^H S^{-1}`; see :func:`fft2c`.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).standard_normal((3, 5, 6))
    >>> bool(np.allclose(ifft2c(fft2c(x)), x))
    True
    """
    return _fft2c(x, inverse=True)


def fft2c_normal(x: Any, weights: Any) -> Any:
    """:math:`F^H (w \\odot F x)` for centred orthonormal ``F`` with ``w`` given in *uncentred*
    (ifftshifted) order.

    The centring shifts drop out: :math:`F = S^{-1} F_0 S` with ``S`` = ifftshift (a circular
    shift) and :math:`F_0` the plain DFT, so :math:`F^H w F = S^{-1} (F_0^H w F_0) S`, and the
    circular convolution :math:`F_0^H w F_0` commutes with every circular shift. Two FFTs and
    one product, no copies, for any (odd or even) size.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).standard_normal((5, 4))
    >>> w = np.random.default_rng(1).random((5, 4))
    >>> ref = ifft2c(np.fft.fftshift(w) * fft2c(x))
    >>> bool(np.allclose(fft2c_normal(x, w), ref))
    True
    """
    name = backend.backend_name(x)
    axes = (-2, -1)
    if name == "numpy":
        k = scipy.fft.fft2(x, axes=axes, norm="ortho")
        k *= weights
        return scipy.fft.ifft2(k, axes=axes, norm="ortho", overwrite_x=True)
    if name == "torch":
        import torch

        k = torch.fft.fft2(x, dim=axes, norm="ortho")
        return torch.fft.ifft2(weights * k, dim=axes, norm="ortho")
    import cupyx.scipy.fft as cufft

    k = cufft.fft2(x, axes=axes, norm="ortho")
    k *= weights
    return cufft.ifft2(k, axes=axes, norm="ortho", overwrite_x=True)


def _fft2c(x: Any, inverse: bool) -> Any:
    name = backend.backend_name(x)
    axes = (-2, -1)
    if name == "numpy":
        f = scipy.fft.ifft2 if inverse else scipy.fft.fft2
        # ifftshift allocates a fresh array, so the FFT may overwrite it.
        y = f(np.fft.ifftshift(x, axes=axes), axes=axes, norm="ortho", overwrite_x=True)
        return np.fft.fftshift(y, axes=axes)
    if name == "torch":
        import torch

        f = torch.fft.ifft2 if inverse else torch.fft.fft2
        y = f(torch.fft.ifftshift(x, dim=axes), dim=axes, norm="ortho")
        return torch.fft.fftshift(y, dim=axes)
    import cupy
    import cupyx.scipy.fft as cufft

    f = cufft.ifft2 if inverse else cufft.fft2
    y = f(cupy.fft.ifftshift(x, axes=axes), axes=axes, norm="ortho", overwrite_x=True)
    return cupy.fft.fftshift(y, axes=axes)


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
        return fft2c(x)

    def _apply_adjoint(self, y: Any) -> Any:
        return ifft2c(y)

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
        return self.mask.like(x) * fft2c(x)

    def _apply_adjoint(self, y: Any) -> Any:
        self._check_batch(y)
        return ifft2c(self.mask.like(y) * y)

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
    drop out and the squared mask is applied in uncentred k-space (``fft2c_normal``).

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
        return fft2c_normal(x, self._weights(x))

    def __repr__(self) -> str:
        return f"MaskedFFT({self.ishape}).N"
