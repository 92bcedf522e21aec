"""Image quality metrics: SNR as the seeds define it, PSNR, SSIM and NRMSE."""

from __future__ import annotations

from typing import Any

import numpy as np

from npgd import backend

__all__ = ["snr", "psnr", "nrmse", "ssim", "ssim_torch"]


def _mag(a: Any) -> np.ndarray:
    return np.abs(np.asarray(backend.to_numpy(a)))


def _check_pair(ref: Any, est: Any, where: str) -> tuple[np.ndarray, np.ndarray]:
    r, e = _mag(ref), _mag(est)
    if r.shape != e.shape:
        raise ValueError(f"{where}: ref and est shapes differ: {r.shape} vs {e.shape}")
    if r.ndim < 2:
        raise ValueError(f"{where}: images must have shape (..., H, W), got {r.shape}")
    return r, e


def snr(ref: Any, est: Any) -> np.ndarray:
    """SNR in dB on magnitudes, per image: :math:`20\\log_{10}\\frac{\\||x|\\|}{\\||x| -
    |\\hat x|\\|}` (the seeds' definition), over the last two axes.

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
    r = np.asarray(backend.to_numpy(ref))
    e = np.asarray(backend.to_numpy(est))
    if r.shape != e.shape:
        raise ValueError(f"nrmse: ref and est shapes differ: {r.shape} vs {e.shape}")
    err = np.sqrt((np.abs(r - e) ** 2).sum(axis=(-2, -1)))
    return err / np.sqrt((np.abs(r) ** 2).sum(axis=(-2, -1)))


def ssim(ref: Any, est: Any) -> np.ndarray:
    """SSIM (Wang et al. 2004) of the magnitudes, per image, by scikit-image.

    ``skimage.metrics.structural_similarity`` with its defaults (7×7 uniform window, sample
    covariance) and ``data_range`` = the reference's maximum magnitude.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).random((2, 16, 16))
    >>> ssim(x, x).tolist()
    [1.0, 1.0]
    """
    from skimage.metrics import structural_similarity

    r, e = _check_pair(ref, est, "ssim")
    flat_r = r.reshape((-1,) + r.shape[-2:])
    flat_e = e.reshape((-1,) + e.shape[-2:])
    out = [
        structural_similarity(a, b, data_range=float(a.max()) or 1.0)
        for a, b in zip(flat_r, flat_e, strict=True)
    ]
    return np.asarray(out).reshape(r.shape[:-2])


def ssim_torch(ref: Any, est: Any, win_size: int = 7) -> Any:
    """Differentiable SSIM of magnitudes for training, equal to :func:`ssim` (scikit-image).

    Same definition as scikit-image's defaults: 7×7 uniform window, :math:`K_1=0.01`,
    :math:`K_2=0.03`, sample covariance (:math:`N/(N-1)`), mean over the window positions that
    lie inside the image, ``data_range`` = per-image maximum of ``|ref|``. Returns a tensor of
    shape ``ref.shape[:-2]``.

    Examples
    --------
    >>> import torch
    >>> x = torch.rand(2, 16, 16, dtype=torch.float64)
    >>> ssim_torch(x, x)
    tensor([1., 1.], dtype=torch.float64)
    """
    import torch
    import torch.nn.functional as tnf

    r, e = ref.abs(), est.abs()
    batch = r.shape[:-2]
    r = r.reshape((-1, 1) + r.shape[-2:])
    e = e.reshape((-1, 1) + e.shape[-2:])
    L = r.amax(dim=(-2, -1), keepdim=True)
    L = torch.where(L > 0, L, torch.ones_like(L))
    c1, c2 = (0.01 * L) ** 2, (0.03 * L) ** 2
    n = win_size**2
    cov = n / (n - 1)

    def mean(a: Any) -> Any:
        return tnf.avg_pool2d(a, win_size, stride=1)

    ur, ue = mean(r), mean(e)
    vr = cov * (mean(r * r) - ur * ur)
    ve = cov * (mean(e * e) - ue * ue)
    vre = cov * (mean(r * e) - ur * ue)
    s = ((2 * ur * ue + c1) * (2 * vre + c2)) / ((ur**2 + ue**2 + c1) * (vr + ve + c2))
    return s.mean(dim=(-3, -2, -1)).reshape(batch)
