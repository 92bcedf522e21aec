"""Receive coils: sensitivity maps (ESPIRiT calibration, a birdcage simulator) and coil
combination (root-sum-of-squares, SENSE-weighted).

Coil images and k-space keep the coils on their own axis, ``(*batch, C, H, W)``, the layout
of :class:`npgd.linops.Sense`. Everything runs on the input's backend and device (NumPy,
CuPy, Torch) in its precision.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from npgd import backend
from npgd._util import check_int
from npgd.linops import FFT2, Sense

__all__ = ["birdcage", "espirit", "rss", "sense_combine", "simulate_kspace"]


def birdcage(
    shape: tuple[int, int],
    coils: int,
    *,
    radius: float = 1.5,
    dtype: Any = np.complex64,
) -> np.ndarray:
    """Simulated sensitivities of ``coils`` loops evenly spaced on a circle around the field
    of view (a birdcage-like receive array), for tests and simulations.

    Coil :math:`c` sits at :math:`p_c = \\rho\\,(\\cos\\theta_c, \\sin\\theta_c)`,
    :math:`\\theta_c = 2\\pi c / C`, in coordinates where the field of view spans
    :math:`[-1, 1]^2` (``radius`` :math:`\\rho > \\sqrt 2` puts the coils outside it, corners
    included: with :math:`1 < \\rho \\le \\sqrt 2` a coil would sit inside the square near a
    corner, where its sensitivity is singular). Its raw
    sensitivity falls off as the inverse distance and its phase turns with the angle around
    the coil (the B1 field of a wire loop seen in the plane), offset by :math:`-\\theta_c`:

    .. math:: \\tilde S_c(r) = \\frac{e^{i(\\arg(r - p_c) - \\theta_c)}}{|r - p_c|},
              \\qquad S_c = \\tilde S_c / \\sqrt{\\textstyle\\sum_{c'} |\\tilde S_{c'}|^2},

    normalized so that :math:`\\sum_c |S_c|^2 = 1` at every pixel (ESPIRiT's convention, so
    that :math:`A^H A` of a fully sampled :class:`npgd.linops.Sense` is the identity).

    Returns
    -------
    ndarray
        ``(coils, H, W)`` smooth complex maps of ``dtype``.

    Examples
    --------
    >>> S = birdcage((24, 20), 4)
    >>> S.shape, S.dtype, bool(np.allclose((abs(S) ** 2).sum(0), 1, atol=1e-6))
    ((4, 24, 20), dtype('complex64'), True)
    """
    H, W = (check_int("birdcage", "shape", s) for s in shape)
    coils = check_int("birdcage", "coils", coils)
    if not radius > math.sqrt(2):
        raise ValueError(f"birdcage: radius must be > sqrt(2) = 1.414 (coils outside the "
                         f"field of view [-1, 1]^2, corners included), got {radius!r}")
    y = (np.arange(H) - H / 2) / (H / 2)
    x = (np.arange(W) - W / 2) / (W / 2)
    theta = 2 * np.pi * np.arange(coils) / coils
    dx = x[None, None, :] - radius * np.cos(theta)[:, None, None]
    dy = y[None, :, None] - radius * np.sin(theta)[:, None, None]
    raw = np.exp(1j * (np.arctan2(dy, dx) - theta[:, None, None])) / np.hypot(dx, dy)
    maps = raw / np.sqrt((abs(raw) ** 2).sum(axis=0))
    return maps.astype(dtype)


def simulate_kspace(images: Any, coils: int, *, radius: float = 1.5) -> Any:
    """Fully sampled multi-coil k-space of ``images`` ``(*batch, H, W)``:
    :math:`y_c = F(S_c x)` with :func:`birdcage` maps :math:`S_c` and the centred orthonormal
    DFT, ``(*batch, coils, H, W)``, complex in the images' precision, on their backend.

    Examples
    --------
    >>> k = simulate_kspace(np.ones((2, 8, 6), np.float32), 4)
    >>> k.shape, k.dtype
    ((2, 4, 8, 6), dtype('complex64'))
    """
    backend.check_array(images, "images", "simulate_kspace")
    if images.ndim < 2:
        raise ValueError(f"simulate_kspace: images must have shape (..., H, W), got "
                         f"{tuple(images.shape)}")
    shape = tuple(images.shape[-2:])
    return Sense(birdcage(shape, coils, radius=radius, dtype=np.complex128))(images)


def rss(coil_images: Any) -> Any:
    """Root-sum-of-squares coil combination :math:`\\sqrt{\\sum_c |x_c|^2}` over axis -3.

    Examples
    --------
    >>> x = np.ones((2, 4, 3, 3), np.complex64)
    >>> rss(x).shape, float(rss(x)[0, 0, 0])
    ((2, 3, 3), 2.0)
    """
    xp = backend.check_array(coil_images, "coil_images", "rss")
    _check_coils(coil_images, "coil_images", "rss")
    return xp.sqrt(xp.sum(xp.abs(coil_images) ** 2, axis=-3))


def sense_combine(coil_images: Any, maps: Any) -> Any:
    """SENSE-weighted coil combination, the least-squares image of fully sampled coil images:

    .. math:: x = \\frac{\\sum_c \\bar S_c\\, x_c}{\\sum_c |S_c|^2}

    (0 where every map is 0). With ESPIRiT maps (:math:`\\sum_c |S_c|^2 = 1` on the object)
    this is the adjoint of a fully sampled :class:`npgd.linops.Sense` applied to the coil
    k-space.

    Parameters
    ----------
    coil_images : array
        ``(*batch, C, H, W)``.
    maps : array
        ``(C, H, W)`` or ``(*batch, C, H, W)``, on the same backend.

    Examples
    --------
    >>> S = birdcage((8, 6), 3)
    >>> x = np.full((8, 6), 2 - 1j, np.complex64)
    >>> bool(np.allclose(sense_combine(S * x, S), x))
    True
    """
    xp = backend.check_array(coil_images, "coil_images", "sense_combine")
    backend.check_array(maps, "maps", "sense_combine")
    _check_coils(coil_images, "coil_images", "sense_combine")
    _check_coils(maps, "maps", "sense_combine")
    if tuple(maps.shape[-3:]) != tuple(coil_images.shape[-3:]):
        raise ValueError(f"sense_combine: maps {tuple(maps.shape)} and coil_images "
                         f"{tuple(coil_images.shape)} must agree in their (C, H, W) axes")
    num = xp.sum(xp.conj(maps) * coil_images, axis=-3)
    den = xp.sum(xp.abs(maps) ** 2, axis=-3)
    safe = xp.where(den > 0, den, xp.ones_like(den))
    return xp.where(den > 0, num / safe, xp.zeros_like(num))


def _check_coils(a: Any, arg: str, where: str) -> None:
    if a.ndim < 3:
        raise ValueError(f"{where}: {arg} must have shape (..., C, H, W), got "
                         f"{tuple(a.shape)}")


def espirit(
    kspace: Any,
    calib: int | tuple[int, int] = 24,
    kernel: int = 6,
    thresh: float = 0.02,
    crop: float = 0.95,
    *,
    shape: tuple[int, int] | None = None,
    phase: str | int | None = "virtual",
) -> Any:
    """ESPIRiT coil sensitivities from the fully sampled k-space centre (Uecker et al.,
    "ESPIRiT — an eigenvalue approach to autocalibrating parallel MRI: where SENSE meets
    GRAPPA", MRM 2014), one set of maps per batch element, all batched (no loop over pixels
    or slices).

    1. The calibration matrix :math:`A` holds every ``kernel`` x ``kernel`` patch of all
       coils of the centre ``calib`` x ``calib`` region as a row; its right singular vectors
       with :math:`\\sigma_j > \\text{thresh}\\cdot\\sigma_1` span the signal subspace
       :math:`V_\\parallel` (rows :math:`v_j`, each ``(C, kernel, kernel)``).
    2. Projecting every patch onto :math:`V_\\parallel` is, in image space, a ``C x C``
       matrix per pixel,

       .. math:: G(r) = \\frac{1}{k^2} \\sum_\\Delta R[\\Delta]\\, e^{2\\pi i \\Delta\\cdot r/N},
                 \\qquad R_{cc'}[\\Delta] = \\sum_j \\sum_d v_{jc}[d+\\Delta]\\,
                 \\overline{v_{jc'}[d]},

       built from the kernels' cross-correlations :math:`R` (support :math:`2k-1`) by one
       zero-padded centred inverse DFT per coil pair.
    3. The sensitivities at :math:`r` are the eigenvector of :math:`G(r)` with eigenvalue 1
       (the largest; found by repeated squaring of :math:`G(r)`, all pixels at once);
       pixels whose largest eigenvalue is at most ``crop`` (no signal) get zero maps. Each
       eigenvector has unit norm, so :math:`\\sum_c |S_c|^2 = 1` on the object.
    4. An eigenvector has an arbitrary phase per pixel. ``phase="virtual"`` (as BART) turns
       it so that the first principal component of the coils (a virtual body coil from the
       calibration data) is real and positive, that component's own phase chosen so that
       its image sums to a real, positive number (the same maps on every machine, whatever
       phase LAPACK gives an eigenvector); an int picks that coil as the reference; None
       leaves the eigen-solver's phase.

    Parameters
    ----------
    kspace : array
        ``(C, H, W)`` or ``(*batch, C, H, W)`` centred k-space (DC at ``(H//2, W//2)``, as
        :class:`npgd.linops.FFT2`), NumPy, CuPy or Torch. Only the centre is read, so an
        undersampled acquisition with a fully sampled centre works, and so does the
        calibration region alone (then give ``shape``).
    calib : int or (int, int)
        Size of the calibration region (clipped to the data).
    kernel : int
        Kernel width :math:`k`.
    thresh : float
        Relative singular-value threshold in (0, 1).
    crop : float
        Eigenvalue threshold in [0, 1) for the object support.
    shape : (int, int), optional
        Image shape of the maps; default the k-space's ``(H, W)``.
    phase : "virtual", int or None
        Phase reference, see 4.

    Returns
    -------
    array
        Maps ``(*batch, C, *shape)``, complex in the input's precision, on its backend.

    Examples
    --------
    >>> from npgd.linops import FFT2
    >>> from npgd.problems import data
    >>> S = birdcage((32, 28), 4)
    >>> x = data.phantom((32, 28), seed=0)
    >>> k = FFT2(x.shape)(S * x)
    >>> maps = espirit(k, calib=12, kernel=4)
    >>> on = abs(x) > 0.1
    >>> # equal to the truth up to one phase per pixel, inside the object
    >>> agree = abs((maps.conj() * S).sum(0))[on]
    >>> maps.shape, bool(agree.min() > 0.99)
    ((4, 32, 28), True)
    """
    xp = backend.check_array(kspace, "kspace", "espirit")
    _check_coils(kspace, "kspace", "espirit")
    kernel = check_int("espirit", "kernel", kernel)
    cal = (calib, calib) if isinstance(calib, int | np.integer) else tuple(calib)
    if len(cal) != 2:
        raise ValueError(f"espirit: calib must be an int or (int, int), got {calib!r}")
    cal = tuple(check_int("espirit", "calib", c) for c in cal)
    for name, v in (("thresh", thresh), ("crop", crop)):
        if not (isinstance(v, int | float) and 0 <= v < 1):
            raise ValueError(f"espirit: {name} must be in [0, 1), got {v!r}")
    if shape is None:
        shape = tuple(kspace.shape[-2:])
    shape = tuple(check_int("espirit", "shape", s) for s in shape)
    if phase is not None and phase != "virtual" and not (
            isinstance(phase, int) and not isinstance(phase, bool)
            and 0 <= phase < kspace.shape[-3]):
        raise ValueError(f"espirit: phase must be 'virtual', a coil index in "
                         f"[0, {kspace.shape[-3]}) or None, got {phase!r}")
    if not bool(xp.all(xp.isfinite(kspace))):
        raise ValueError("espirit: kspace contains NaN or infinite values")
    ctype = backend.result_dtype(kspace, complex_=True)
    region = _centre(xp.astype(kspace, ctype), cal)
    if min(region.shape[-2:]) < kernel:
        raise ValueError(f"espirit: the calibration region {tuple(region.shape[-2:])} is "
                         f"smaller than the kernel ({kernel}); enlarge calib or shrink kernel")
    kernels = _signal_kernels(xp, region, kernel, thresh)
    gram = _image_gram(xp, kernels, kernel, shape)
    maps, value = _top_eigenpair(xp, gram)  # (*batch, H, W, C), (*batch, H, W)
    maps = maps * xp.astype(value[..., None] > crop, maps.dtype)
    if phase is not None:
        if phase == "virtual":
            ref = xp.sum(maps * xp.conj(_principal_coil(xp, region))[..., None, None, :],
                         axis=-1)
        else:
            ref = maps[..., phase]
        maps = maps * xp.conj(_phasor(xp, ref))[..., None]
    return xp.moveaxis(maps, -1, -3)


def _centre(k: Any, cal: tuple[int, int]) -> Any:
    H, W = k.shape[-2:]
    h, w = min(cal[0], H), min(cal[1], W)
    i, j = H // 2 - h // 2, W // 2 - w // 2
    return k[..., i : i + h, j : j + w]


def _signal_kernels(xp: Any, region: Any, k: int, thresh: float) -> Any:
    """The calibration matrix's right singular vectors above the threshold, as
    ``(*batch, n, C, k, k)`` (the rest zeroed, so that every batch element has the same
    ``n`` however many it keeps)."""
    C, h, w = region.shape[-3:]
    ny, nx = h - k + 1, w - k + 1
    # The calibration matrix from k*k shifted slices of the region, one per kernel offset
    # (a loop over offsets, not over patches or pixels).
    taps = [region[..., dy : dy + ny, dx : dx + nx] for dy in range(k) for dx in range(k)]
    patches = xp.stack(taps, axis=-3)  # (*batch, C, k*k, ny, nx)
    batch = tuple(patches.shape[:-4])
    mat = xp.reshape(patches, batch + (C * k * k, ny * nx))
    # The right singular vectors of the (patches x C k k) calibration matrix are the
    # eigenvectors of its small C k k square Gram matrix (much faster than an SVD of the tall
    # matrix); eigenvalues are squared singular values.
    # mat is A^T, so mat mat^H = conj(A^H A), whose eigenvectors are conj(V): the rows of V^H.
    normal = mat @ xp.conj(xp.matrix_transpose(mat))
    power, vecs = xp.linalg.eigh((normal + xp.conj(xp.matrix_transpose(normal))) / 2)
    keep = xp.astype(power > (thresh**2) * power[..., -1:], vecs.dtype)
    vh = xp.matrix_transpose(vecs * keep[..., None, :])  # rows: kernels
    return xp.reshape(vh, batch + (vh.shape[-2], C, k, k))


def _image_gram(xp: Any, kernels: Any, k: int, shape: tuple[int, int]) -> Any:
    """:math:`G(r)` of the docstring, ``(*batch, H, W, C, C)``, Hermitian per pixel."""
    n = 2 * k - 1
    # Cross-correlation of every coil pair, summed over the kernels, via the DFT on a grid of
    # the correlation's support (exact: no circular wrap at size 2k - 1).
    padded = _pad(xp, kernels, (n, n), (0, 0))
    spec = xp.fft.fftn(padded, axes=(-2, -1))  # (*batch, J, C, n, n)
    per_lag = xp.moveaxis(spec, (-4, -3), (-1, -2))  # (*batch, n, n, C, J)
    cross = per_lag @ xp.conj(xp.matrix_transpose(per_lag))  # (*batch, n, n, C, C)
    corr = xp.fft.ifftn(xp.moveaxis(cross, (-2, -1), (-4, -3)), axes=(-2, -1))
    corr = xp.roll(corr, (k - 1, k - 1), axis=(-2, -1))  # (*batch, C, C, n, n), lag 0 at k-1
    H, W = shape
    big = (max(H, n), max(W, n))
    corr = _pad(xp, corr, big, (big[0] // 2 - (k - 1), big[1] // 2 - (k - 1)))
    # Unnormalized inverse DFT about the image centre: the sum over lags of the docstring.
    gram = FFT2(big).H(corr) * (float(np.sqrt(big[0] * big[1])) / (k * k))
    if (H, W) != big:
        gram = _centre(gram, (H, W))
    gram = xp.moveaxis(gram, (-4, -3), (-2, -1))  # (*batch, H, W, C, C)
    return (gram + xp.conj(xp.matrix_transpose(gram))) / 2


def _top_eigenpair(xp: Any, gram: Any, squarings: int = 8) -> tuple[Any, Any]:
    """The largest eigenvalue of each Hermitian PSD ``C x C`` matrix and a unit eigenvector.

    Repeated squaring :math:`M \\leftarrow M^2 / \\mathrm{tr}(M^2)` turns :math:`G` into
    :math:`G^{2^s}` normalized, which tends to the projector :math:`v_1 v_1^H` with error
    :math:`(\\lambda_2/\\lambda_1)^{2^s}` (below 1e-11 for a gap of 10 % after 8
    squarings); its largest column is then :math:`v_1` up to a phase. Batched matrix
    products, faster than a batched ``eigh`` (one LAPACK call per pixel on NumPy).
    """
    m = gram
    for _ in range(squarings):
        m = m @ m
        trace = xp.real(xp.linalg.trace(m))
        scale = 1 / xp.where(trace > 0, trace, xp.ones_like(trace))
        m = m * scale[..., None, None]  # a real factor: cheaper than a complex division
    power = xp.sum(xp.real(m * xp.conj(m)), axis=-2)  # squared column norms
    pick = power == xp.max(power, axis=-1, keepdims=True)
    v = xp.sum(m * xp.astype(pick, m.dtype)[..., None, :], axis=-1)
    norm = xp.sqrt(xp.sum(xp.real(v * xp.conj(v)), axis=-1, keepdims=True))
    v = v / xp.astype(xp.where(norm > 0, norm, xp.ones_like(norm)), v.dtype)
    value = xp.real(xp.sum(xp.conj(v) * (gram @ v[..., None])[..., 0], axis=-1))
    return v, value


def _pad(xp: Any, a: Any, size: tuple[int, int], at: tuple[int, int]) -> Any:
    """Zero-pad the last two axes of ``a`` to ``size``, with ``a[..., 0, 0]`` at ``at``."""
    h, w = a.shape[-2:]
    out = xp.zeros(tuple(a.shape[:-2]) + tuple(size), dtype=a.dtype,
                   device=backend.device(a))
    out[..., at[0] : at[0] + h, at[1] : at[1] + w] = a
    return out


def _principal_coil(xp: Any, region: Any) -> Any:
    """The first principal component over coils of the calibration data ``(*batch, C)``
    (unit norm): the coil combination that carries most of the signal, a virtual body coil.

    Its phase is fixed so that the virtual coil's DC sample (the sum of its image) is real
    and positive: ``eigh`` returns an eigenvector with an arbitrary phase that differs between
    LAPACK builds and CPUs, and it becomes the global phase of the maps and of the SENSE
    image. Classic priors do not see a global phase; a learned one did (1.3 dB between two
    machines on the same data)."""
    C, h, w = region.shape[-3:]
    flat = xp.reshape(region, tuple(region.shape[:-2]) + (-1,))  # (*batch, C, P)
    cov = flat @ xp.conj(xp.matrix_transpose(flat))  # (*batch, C, C)
    _, vec = xp.linalg.eigh((cov + xp.conj(xp.matrix_transpose(cov))) / 2)
    v = vec[..., -1]  # (*batch, C)
    dc = xp.sum(xp.conj(v) * region[..., h // 2, w // 2], axis=-1, keepdims=True)
    return xp.reshape(v * _phasor(xp, dc), tuple(region.shape[:-3]) + (C,))


def _phasor(xp: Any, a: Any) -> Any:
    """:math:`a/|a|` elementwise, 1 where :math:`a = 0`."""
    mag = xp.abs(a)
    return xp.where(mag > 0, a / xp.astype(xp.where(mag > 0, mag, xp.ones_like(mag)), a.dtype),
                    xp.ones_like(a))
