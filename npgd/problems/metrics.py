"""Image quality metrics: SNR (as Mardani et al., "Neural Proximal Gradient Descent for
Compressive Imaging", NeurIPS 2018, define it), PSNR, SSIM and NRMSE."""

from __future__ import annotations

from typing import Any

import numpy as np

from npgd import backend

__all__ = ["nrmse", "psnr", "snr", "ssim"]


def _check_pair(ref: Any, est: Any, where: str, magnitude: bool = True,
                zero_ref: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``ref`` and ``est`` as NumPy arrays (their magnitudes), checked: same shape
    ``(..., H, W)``, numbers, finite, and (unless ``zero_ref``) no all-zero reference image,
    for which the score is undefined. A score is never NaN: bad input is an error."""
    pair = []
    for name, a in (("ref", ref), ("est", est)):
        v = np.asarray(backend.to_numpy(a))
        if v.dtype.kind not in "biufc":
            raise TypeError(f"{where}: {name} must be a real or complex array, got {v.dtype}")
        if not np.isfinite(v).all():
            raise ValueError(f"{where}: {name} holds NaN or Inf values, expected finite images")
        pair.append(np.abs(v) if magnitude else v)
    r, e = pair
    if r.shape != e.shape:
        raise ValueError(f"{where}: ref and est shapes differ: {r.shape} vs {e.shape}")
    if r.ndim < 2 or 0 in r.shape:
        raise ValueError(f"{where}: images must have shape (..., H, W), got {r.shape}")
    if not zero_ref and not np.abs(r).max(axis=(-2, -1)).all():
        raise ValueError(f"{where}: a reference image is all zero, its score is undefined; "
                         "expected non-zero reference images")
    return r, e


def snr(ref: Any, est: Any) -> np.ndarray:
    """SNR in dB on magnitudes, per image: :math:`20\\log_{10}\\frac{\\||x|\\|}{\\||x| -
    |\\hat x|\\|}` (the definition of Mardani et al., NeurIPS 2018), over the last two axes.
    An exact estimate scores ``inf``; NaN or Inf values and an all-zero reference image
    (whose SNR is undefined) are a ValueError, so a score is never NaN.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(snr(np.ones((4, 4)), np.full((4, 4), 1.1))), 6)
    20.0
    """
    r, e = _check_pair(ref, est, "snr")
    num = np.sqrt((r**2).sum(axis=(-2, -1)))
    den = np.sqrt(((r - e) ** 2).sum(axis=(-2, -1)))
    with np.errstate(divide="ignore"):
        return 20 * np.log10(num / den)


def psnr(ref: Any, est: Any) -> np.ndarray:
    """PSNR in dB on magnitudes, per image: :math:`10\\log_{10}(\\max|x|^2 / \\mathrm{MSE})`.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(psnr(np.ones((4, 4)), np.full((4, 4), 1.1))), 6)
    20.0
    """
    r, e = _check_pair(ref, est, "psnr")
    mse = ((r - e) ** 2).mean(axis=(-2, -1))
    with np.errstate(divide="ignore"):
        return 10 * np.log10(r.max(axis=(-2, -1)) ** 2 / mse)


def nrmse(ref: Any, est: Any) -> np.ndarray:
    """Normalized RMSE per image, on the complex values: :math:`\\|x - \\hat x\\| / \\|x\\|`.

    Examples
    --------
    >>> import numpy as np
    >>> float(nrmse(np.ones((4, 4)), np.zeros((4, 4))))
    1.0
    """
    r, e = _check_pair(ref, est, "nrmse", magnitude=False)
    err = np.sqrt((np.abs(r - e) ** 2).sum(axis=(-2, -1)))
    return err / np.sqrt((np.abs(r) ** 2).sum(axis=(-2, -1)))


def ssim(ref: Any, est: Any, win_size: int = 7) -> np.ndarray:
    r"""SSIM (Wang et al., "Image quality assessment: from error visibility to structural
    similarity", IEEE TIP 2004) of the magnitudes, per image.

    With :math:`\mu, \sigma^2, \sigma_{xy}` local means, variances and covariance over a
    ``win_size`` × ``win_size`` uniform window (sample covariance, :math:`N/(N-1)`),

    .. math:: \mathrm{SSIM} = \operatorname{mean}\frac{(2\mu_x\mu_y + C_1)(2\sigma_{xy} + C_2)}
              {(\mu_x^2 + \mu_y^2 + C_1)(\sigma_x^2 + \sigma_y^2 + C_2)},\quad
              C_1 = (0.01L)^2,\ C_2 = (0.03L)^2,

    averaged over the window positions inside the image, :math:`L` the reference's maximum
    magnitude (1 for an all-zero reference): the definition of scikit-image's
    ``structural_similarity`` with its defaults, computed with SciPy (no scikit-image
    needed). Images must be at least ``win_size`` pixels on each side.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).random((2, 16, 16))
    >>> ssim(x, x).tolist()
    [1.0, 1.0]
    """
    from scipy.ndimage import uniform_filter

    r, e = _check_pair(ref, est, "ssim", zero_ref=True)
    if min(r.shape[-2:]) < win_size:
        raise ValueError(f"ssim: images must be at least {win_size}x{win_size}, got "
                         f"{r.shape[-2]}x{r.shape[-1]}")
    r = r.reshape((-1,) + r.shape[-2:]).astype(np.float64)
    e = e.reshape((-1,) + e.shape[-2:]).astype(np.float64)
    L = r.max(axis=(-2, -1), keepdims=True)
    L[L == 0] = 1.0
    c1, c2 = (0.01 * L) ** 2, (0.03 * L) ** 2
    cov = win_size**2 / (win_size**2 - 1)

    def mean(a: np.ndarray) -> np.ndarray:
        return uniform_filter(a, size=(1, win_size, win_size))

    ur, ue = mean(r), mean(e)
    vr = cov * (mean(r * r) - ur * ur)
    ve = cov * (mean(e * e) - ue * ue)
    vre = cov * (mean(r * e) - ur * ue)
    s = ((2 * ur * ue + c1) * (2 * vre + c2)) / ((ur**2 + ue**2 + c1) * (vr + ve + c2))
    pad = (win_size - 1) // 2
    return s[:, pad : s.shape[1] - pad, pad : s.shape[2] - pad].mean(axis=(-2, -1)).reshape(
        np.shape(ref)[:-2])
