"""Multi-coil MRI: the SENSE operator (coil sensitivities, centred FFT, sampling mask)."""

from __future__ import annotations

from typing import Any

from npgd import backend
from npgd.linops.base import LinearOperator, check_batch
from npgd.linops.basic import check_finite_weights
from npgd.linops.fourier import FFT2, MaskedFFT

__all__ = ["Sense"]


class Sense(LinearOperator):
    """Multi-coil Cartesian sampling :math:`A x = (M \\odot F (S_c \\odot x))_{c=1..C}`.

    Each coil sees the image weighted by its sensitivity :math:`S_c`, is Fourier transformed
    by the centred orthonormal DFT :math:`F` of :class:`FFT2` and sampled by the mask
    :math:`M` (shared by the coils). The adjoint combines the coils,

    .. math:: A^H y = \\sum_c \\bar S_c \\odot F^H (M \\odot y_c),

    and the normal operator :math:`A^H A x = \\sum_c \\bar S_c \\odot F^H M^2 F (S_c \\odot x)`
    runs the masked FFT's fused normal kernel (two FFTs per coil, no centring shifts). Without
    a mask (fully sampled), :math:`A^H A = \\mathrm{diag}(\\sum_c |S_c|^2)`, which is the
    identity on the object for ESPIRiT maps (:func:`npgd.problems.coils.espirit`).

    Images have shape ``(*batch, H, W)``, k-space ``(*batch, C, H, W)`` (coils on their own
    axis). Real images with complex maps give complex k-space in the image's precision.

    Parameters
    ----------
    maps : array
        Coil sensitivities ``(C, H, W)`` or ``(*batch, C, H, W)`` (one set per sample; its
        batch axes must broadcast against the input's without enlarging it), complex or real,
        NumPy, CuPy or Torch (a Torch tensor with ``requires_grad`` stays learnable).
    mask : array, optional
        Sampling mask ``(H, W)`` or ``(*batch, H, W)``, boolean, 0/1 or real weights, as in
        :class:`MaskedFFT`; None samples every k-space location.

    Examples
    --------
    >>> import numpy as np
    >>> from npgd import linops
    >>> from npgd.problems import coils
    >>> maps = coils.birdcage((24, 20), 4)
    >>> mask = np.zeros((24, 20), bool); mask[:, ::2] = True
    >>> A = linops.Sense(maps, mask)
    >>> x = np.ones((3, 24, 20), np.complex64)
    >>> A(x).shape, A.H(A(x)).shape, A.oshape
    ((3, 4, 24, 20), (3, 24, 20), (4, 24, 20))
    >>> bool(np.allclose(A.N(x), A.H(A(x)), atol=1e-5))
    True
    """

    def __init__(self, maps: Any, mask: Any = None):
        maps, mn = check_finite_weights(maps, "maps", "Sense")
        if mn.ndim < 3:
            raise ValueError(f"Sense: maps must have shape (..., C, H, W), got {mn.shape}")
        shape = tuple(mn.shape[-2:])
        self.maps = backend.Held(maps)
        self.maps_shape = tuple(mn.shape)
        self.mask_shape: tuple[int, ...] = ()
        if mask is None:
            self.fft: LinearOperator = FFT2(shape)
        else:
            mask, kn = check_finite_weights(mask, "mask", "Sense")
            if kn.dtype.kind == "c":
                raise TypeError("Sense: mask must be boolean or real, got a complex array")
            if kn.ndim < 2 or tuple(kn.shape[-2:]) != shape:
                raise ValueError(
                    f"Sense: mask must have shape (..., H, W) = (..., {shape[0]}, {shape[1]}) "
                    f"like the maps' last two axes, got {kn.shape}"
                )
            self.mask_shape = tuple(kn.shape)
            # A coil axis of length one: the masked FFT then treats the coils as batch.
            self.fft = MaskedFFT(mask[..., None, :, :])
        super().__init__(shape, tuple(mn.shape[-3:]))

    def _check(self, x: Any, core: int) -> None:
        check_batch(self.maps_shape[:-3], x, core, "maps", self)
        check_batch(self.mask_shape[:-2], x, core, "mask", self)

    def _apply(self, x: Any) -> Any:
        self._check(x, 2)
        return self.fft._apply(self.maps.like(x) * x[..., None, :, :])

    def _apply_adjoint(self, y: Any) -> Any:
        self._check(y, 3)
        return self._combine(self.fft._apply_adjoint(y), y)

    def _combine(self, coil_images: Any, like: Any) -> Any:
        s = self.maps.like(like)
        xp = backend.namespace(s)
        if self.maps.complex:
            s = xp.conj(s)
        return xp.sum(s * coil_images, axis=-3)

    def _normal(self) -> LinearOperator:
        return _SenseNormal(self)

    def _squared_norm(self) -> float | None:
        if self.mask_shape:
            return None  # the coils and the mask interact: power iteration
        m = self.maps.numpy()
        return float((abs(m) ** 2).sum(axis=-3).max())

    def __repr__(self) -> str:
        return f"Sense({self.oshape[0]} coils, {self.ishape})"


class _SenseNormal(LinearOperator):
    """:math:`A^H A = \\sum_c \\bar S_c F^H M^2 F S_c` through the masked FFT's fused normal
    (which keeps a learnable mask's gradient), or :math:`\\sum_c |S_c|^2` without a mask."""

    self_adjoint = True

    def __init__(self, A: Sense):
        self.A = A
        super().__init__(A.ishape, A.ishape)

    def _apply(self, x: Any) -> Any:
        A = self.A
        A._check(x, 2)
        s = A.maps.like(x)
        if not A.mask_shape:
            xp = backend.namespace(s)
            power = xp.real(s * xp.conj(s)) if A.maps.complex else s * s
            return xp.sum(power, axis=-3) * x
        return A._combine(A.fft.N._apply(s * x[..., None, :, :]), x)

    def __repr__(self) -> str:
        return f"{self.A!r}.N"
