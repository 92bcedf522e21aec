"""Undersampled Cartesian MRI: sampling masks and measurement simulation."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from npgd import backend, linops
from npgd._util import check_positive_float

__all__ = ["vd_mask", "vd_radial_mask", "line_mask", "simulate", "acceleration", "noise_std_for"]


def _check_accel(accel: float, where: str) -> float:
    if isinstance(accel, bool) or not isinstance(accel, (int, float)) or not accel >= 1:
        raise ValueError(f"{where}: accel must be a number >= 1, got {accel!r}")
    return float(accel)


def _radius(shape: tuple[int, int]) -> np.ndarray:
    """Normalized k-space radius, 0 at the centre (H//2, W//2), 1 at the edge midpoints."""
    ky = (np.arange(shape[0]) - shape[0] // 2) / (shape[0] / 2)
    kx = (np.arange(shape[1]) - shape[1] // 2) / (shape[1] / 2)
    return np.hypot(ky[:, None], kx[None, :])


def acceleration(mask: Any) -> float:
    """Acceleration factor of a mask: size / number of sampled points (``1 / mask.mean()``).

    Examples
    --------
    >>> round(acceleration(vd_mask((64, 64), 5, seed=0)), 2)
    5.0
    """
    m = backend.to_numpy(mask) if backend.is_array(mask) else np.asarray(mask)
    return float(m.size / max(np.count_nonzero(m), 1))


def vd_mask(
    shape: tuple[int, int],
    accel: float,
    *,
    seed: int | np.random.Generator | None = None,
    calib: int | tuple[int, int] = 12,
    power: float = 3.0,
) -> np.ndarray:
    """2-D variable-density random mask over the phase-encode plane (the sampling of Mardani
    et al., NeurIPS 2018).

    A fully sampled ``calib × calib`` centre plus points drawn without replacement with
    probability :math:`\\propto (1 - r/r_{\\max})^{\\text{power}}` (``r``: distance to the
    k-space centre), exactly ``round(H W / accel)`` points in all. ``accel = 5`` keeps 20 % of
    k-space, the 5-fold undersampling of that paper.

    Examples
    --------
    >>> m = vd_mask((192, 160), 5, seed=0)
    >>> m.shape, m.dtype, round(float(m.mean()), 3), bool(m[96, 80])
    ((192, 160), dtype('bool'), 0.2, True)
    """
    accel = _check_accel(accel, "vd_mask")
    rng = np.random.default_rng(seed)
    H, W = shape
    cy, cx = (calib, calib) if isinstance(calib, int) else calib
    mask = np.zeros(shape, bool)
    mask[H // 2 - cy // 2 : H // 2 - cy // 2 + cy, W // 2 - cx // 2 : W // 2 - cx // 2 + cx] = True
    total = int(round(H * W / accel))
    need = total - int(mask.sum())
    if need < 0:
        raise ValueError(
            f"vd_mask: the {cy}x{cx} calibration region alone exceeds 1/accel of k-space"
        )
    r = _radius(shape)
    pdf = np.clip(1 - r / (r.max() * (1 + 1e-9)), 0, None) ** power
    pdf[mask] = 0
    idx = rng.choice(H * W, size=need, replace=False, p=(pdf / pdf.sum()).ravel())
    mask.ravel()[idx] = True
    return mask


def vd_radial_mask(
    shape: tuple[int, int],
    accel: float,
    *,
    seed: int | np.random.Generator | None = None,
    power: float = 2.0,
) -> np.ndarray:
    """Variable density with radial view ordering (VDRad, Cheng et al. 2015), as in
    Mardani et al., NeurIPS 2018.

    Points are laid along spokes from the k-space centre, spoke ``k`` at the golden angle
    :math:`k \\cdot 137.5°` (plus a random rotation), at radii
    :math:`r_j = (j / J)^{\\text{power}}` that crowd the centre; spokes are added until exactly
    ``round(H W / accel)`` distinct grid points are sampled.

    Examples
    --------
    >>> m = vd_radial_mask((64, 64), 4, seed=0)
    >>> round(float(m.mean()), 3), bool(m[32, 32])
    (0.25, True)
    """
    accel = _check_accel(accel, "vd_radial_mask")
    rng = np.random.default_rng(seed)
    H, W = shape
    total = int(round(H * W / accel))
    mask = np.zeros(shape, bool)
    J = max(H, W)
    radii = (np.arange(J) / (J - 1)) ** power
    golden = math.pi * (3 - math.sqrt(5))
    theta0 = rng.uniform(0, 2 * math.pi)
    count, k = 0, 0
    while count < total:
        th = theta0 + k * golden
        jitter = rng.uniform(-0.5, 0.5, size=J) / J
        rr = np.clip(radii + jitter, 0, 1)
        ys = np.round(H // 2 + rr * math.sin(th) * (H / 2)).astype(int)
        xs = np.round(W // 2 + rr * math.cos(th) * (W / 2)).astype(int)
        ok = (ys >= 0) & (ys < H) & (xs >= 0) & (xs < W)
        for yy, xx in zip(ys[ok], xs[ok], strict=True):
            if not mask[yy, xx]:
                mask[yy, xx] = True
                count += 1
                if count == total:
                    break
        k += 1
    return mask


def line_mask(
    shape: tuple[int, int],
    accel: float,
    *,
    center_fraction: float | None = None,
    kind: str = "random",
    seed: int | np.random.Generator | None = None,
) -> np.ndarray:
    """1-D Cartesian mask: whole k-space columns (phase-encode lines along the last axis).

    As fastMRI's ``RandomMaskFunc`` / ``EquispacedMaskFunc``: the central
    ``round(W * center_fraction)`` columns (the auto-calibration region; default 0.32/accel,
    i.e. 8 % at 4x, 4 % at 8x) are always kept. ``kind="random"`` keeps each other column with
    the probability that makes the expected total ``W/accel``; ``kind="equispaced"`` keeps
    every ``accel``-th column from a random offset, spaced so the total is ``W/accel``.

    Examples
    --------
    >>> m = line_mask((8, 16), 4, kind="equispaced", seed=0)
    >>> m.shape, int(m[0].sum()), bool((m == m[0]).all())
    ((8, 16), 4, True)
    """
    accel = _check_accel(accel, "line_mask")
    if kind not in ("random", "equispaced"):
        raise ValueError(f"line_mask: kind must be 'random' or 'equispaced', got {kind!r}")
    rng = np.random.default_rng(seed)
    H, W = shape
    cf = 0.32 / accel if center_fraction is None else center_fraction
    if not 0 <= cf <= 1 / accel:
        raise ValueError(f"line_mask: center_fraction must be in [0, 1/accel], got {cf!r}")
    n_low = int(round(W * cf))
    cols = np.zeros(W, bool)
    pad = (W - n_low + 1) // 2
    cols[pad : pad + n_low] = True
    target = int(round(W / accel))
    if kind == "random":
        p = (target - n_low) / max(W - n_low, 1)
        cols |= rng.random(W) < p
    else:
        rest = target - n_low
        if rest > 0:
            spacing = (W - n_low) / rest
            offset = rng.uniform(0, spacing)
            free = np.flatnonzero(~cols)
            picks = np.floor(offset + spacing * np.arange(rest)).astype(int)
            cols[free[np.clip(picks, 0, free.size - 1)]] = True
    return np.broadcast_to(cols, shape).copy()


def noise_std_for(x: Any, snr_db: float) -> np.ndarray:
    """Standard deviation :math:`\\sigma_i` of complex Gaussian k-space noise for an SNR of
    ``snr_db`` decibels, per image of ``x`` ``(*batch, H, W)``, defined over the fully sampled
    orthonormal k-space so that it does not depend on the mask:

    .. math:: \\mathrm{SNR_{dB}} = 10\\log_{10}\\frac{\\tfrac1n\\|Fx_i\\|^2}{\\sigma_i^2}
              = 20\\log_{10}\\frac{\\mathrm{rms}(x_i)}{\\sigma_i}

    (Parseval: the centred DFT is orthonormal), whatever the intensity scale. The definition
    of ``npgd eval --noise`` and of the randomized training data (:mod:`npgd.train.synth`).

    Examples
    --------
    >>> noise_std_for(np.full((1, 4, 4), 2.0), 20.0)
    array([0.2])
    """
    if isinstance(snr_db, bool) or not isinstance(snr_db, int | float) \
            or not math.isfinite(snr_db) or snr_db < 0:
        raise ValueError(f"noise_std_for: snr_db must be a finite number of dB >= 0, got "
                         f"{snr_db!r}")
    rms = np.sqrt((np.abs(np.asarray(x, np.complex128)) ** 2).mean(axis=(-2, -1)))
    return rms * 10 ** (-snr_db / 20)


def simulate(
    x: Any,
    mask: Any,
    *,
    noise_std: float = 0.0,
    seed: int | np.random.Generator | None = None,
) -> tuple[linops.MaskedFFT, Any]:
    """Measurements :math:`y = M \\odot (F x + v)` with complex Gaussian noise
    :math:`v \\sim \\mathcal{CN}(0, \\sigma^2)` on the sampled locations.

    Returns the operator ``A = linops.MaskedFFT(mask)`` and ``y`` (on ``x``'s backend, complex
    in its precision). A NaN or Inf in ``x``, values so large that the FFT overflows, and a
    NaN, infinite or negative ``noise_std`` are a ValueError.

    Examples
    --------
    >>> import numpy as np
    >>> A, y = simulate(np.ones((2, 8, 8)), vd_mask((8, 8), 2, seed=0, calib=2), seed=0)
    >>> y.shape, y.dtype
    ((2, 8, 8), dtype('complex128'))
    """
    check_positive_float("simulate", "noise_std", noise_std, allow_zero=True)
    xp = backend.check_array(x, "x", "simulate")
    # A NaN or Inf pixel spreads over all of k-space, and a huge one overflows the FFT sums
    # (at most H W max|x|, for y and for A^H y alike): refuse both rather than return NaN/Inf.
    peak = float(xp.max(xp.abs(x))) if math.prod(x.shape) else 0.0
    if not math.isfinite(peak):
        raise ValueError("simulate: x holds NaN or Inf values, expected finite images")
    limit = float(xp.finfo(backend.result_dtype(x, complex_=True)).max)
    if peak * math.prod(tuple(x.shape)[-2:]) >= limit:
        raise ValueError(f"simulate: max |x| = {peak:.3g} makes the k-space of x overflow its "
                         f"precision, expected max |x| < {limit:.3g} / (H W)")
    A = linops.MaskedFFT(mask)
    y = A(x)
    if noise_std > 0:
        rng = np.random.default_rng(seed)
        shape = tuple(y.shape)
        v = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) * (
            noise_std / math.sqrt(2)
        )
        y = y + A.mask.like(y) * backend.from_numpy(v, y, y.dtype)
    return A, y
