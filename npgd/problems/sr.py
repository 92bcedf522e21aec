"""Super-resolution: block-average downsampling, its data and its classic baselines.

The task of Mardani et al., "Neural Proximal Gradient Descent for Compressive Imaging",
NeurIPS 2018 (Sec. 5.3): the low-resolution image is the mean of every ``f`` × ``f`` block
of the high-resolution one, :math:`y = S x` (:class:`npgd.linops.Downsample`). Images are
grey, real, in [0, 1].

Data come from the images bundled with scikit-image (no download). Training uses
:data:`TRAIN_IMAGES` (and the ``lfw_subset`` faces); :data:`TEST_IMAGES` are held out and
are only ever scored. Baselines: bicubic interpolation (:func:`bicubic`) and total-variation
regularised least squares by FISTA (:func:`tv_sr`), its weight tuned on training crops
(:func:`tune_tv`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from npgd import linops, priors, solvers
from npgd._util import check_int, check_positive_float

__all__ = ["TEST_IMAGES", "TRAIN_IMAGES", "PatchSampler", "bicubic", "downsample",
           "grey_image", "held_out_crops", "training_crops", "tune_tv", "tv_sr"]

#: scikit-image images trained on (the ``lfw_subset`` faces are added by :class:`PatchSampler`).
TRAIN_IMAGES = ("astronaut", "grass", "gravel", "text", "page", "cell", "hubble_deep_field",
                "rocket", "retina", "immunohistochemistry", "clock", "microaneurysms",
                "coffee", "logo", "stereo_motorcycle")
#: scikit-image images held out for testing: never trained or tuned on.
TEST_IMAGES = ("camera", "moon", "coins", "brick", "chelsea")


def grey_image(name: str) -> np.ndarray:
    """The scikit-image image ``name`` as grey float32 in [0, 1] (RGB by luminance, RGBA
    composited on white).

    Examples
    --------
    >>> grey_image("camera").shape, grey_image("camera").dtype
    ((512, 512), dtype('float32'))
    """
    from skimage import color, data

    if name not in TRAIN_IMAGES + TEST_IMAGES:
        raise ValueError(f"grey_image: name must be one of {TRAIN_IMAGES + TEST_IMAGES}, got "
                         f"{name!r}")
    a = getattr(data, name)()
    if name == "stereo_motorcycle":  # (left, right, disparity): the left photograph
        a = a[0]
    if a.ndim == 3 and a.shape[-1] == 4:
        a = color.rgba2rgb(a)
    if a.ndim == 3:
        a = color.rgb2gray(a)
    a = np.asarray(a, np.float64)
    if a.max() > 1:
        a = a / 255.0
    return a.astype(np.float32)


def _centre_crop(a: np.ndarray, size: int) -> np.ndarray:
    h, w = a.shape
    if h < size or w < size:
        raise ValueError(f"crop: image of shape {a.shape} is smaller than {size}")
    i, j = (h - size) // 2, (w - size) // 2
    return a[i:i + size, j:j + size]


def held_out_crops(size: int = 192) -> np.ndarray:
    """Centre crops ``(5, size, size)`` of the held-out :data:`TEST_IMAGES`, grey in [0, 1].

    Examples
    --------
    >>> held_out_crops(64).shape
    (5, 64, 64)
    """
    check_int("held_out_crops", "size", size)
    return np.stack([_centre_crop(grey_image(n), size) for n in TEST_IMAGES])


def training_crops(size: int = 192) -> np.ndarray:
    """Centre crops of the :data:`TRAIN_IMAGES` at least ``size`` on each side (to tune
    baselines on training data only).

    Examples
    --------
    >>> training_crops(96).shape
    (15, 96, 96)
    """
    check_int("training_crops", "size", size)
    ims = [grey_image(n) for n in TRAIN_IMAGES]
    return np.stack([_centre_crop(a, size) for a in ims if min(a.shape) >= size])


class PatchSampler:
    """Random training patches ``(B, size, size)`` float32 from the :data:`TRAIN_IMAGES` and
    the ``lfw_subset`` faces: an image picked uniformly (the faces count as one), rescaled
    by a random factor in ``scales`` (anti-aliased), a random crop, random flips and a random
    multiple of 90° rotation. With ``brain`` the embedded brain's training slices
    (:func:`npgd.problems.data.brain_slices`, magnitude in [0, 1], never its test range) are
    one more group, picked as often as one image. Called as ``sampler(rng, n)`` with a NumPy
    Generator, so every draw comes from the caller's seed (the ``"natural"`` data of
    ``npgd train --task sr``, :class:`npgd.train.data.NaturalImages`).

    Examples
    --------
    >>> import numpy as np
    >>> s = PatchSampler(32)
    >>> p = s(np.random.default_rng(0), 3)
    >>> p.shape, p.dtype, bool((p == s(np.random.default_rng(0), 3)).all())
    ((3, 32, 32), dtype('float32'), True)
    """

    def __init__(self, size: int = 48, scales: Sequence[float] = (1.0, 0.75, 0.5),
                 brain: bool = False):
        from skimage import data, transform

        from npgd.problems.data import brain_slices

        self.size = check_int("PatchSampler", "size", size, 4)
        for s in scales:
            if not 0 < check_positive_float("PatchSampler", "scales", s) <= 1:
                raise ValueError(f"PatchSampler: scales must be in (0, 1], got {s!r}")
        pyramid = []
        for name in TRAIN_IMAGES:
            a = grey_image(name).astype(np.float64)
            levels = [transform.rescale(a, s, anti_aliasing=s < 1).astype(np.float32)
                      for s in scales]
            pyramid.append([v for v in levels if min(v.shape) >= size] or
                           [transform.resize(a, (max(size, a.shape[0]), max(size, a.shape[1])),
                                             order=3).astype(np.float32)])
        def at_least_size(images: np.ndarray) -> np.ndarray:
            up = max(1.0, size / min(images.shape[-2:]))
            return np.stack([transform.rescale(f, up, order=3) for f in images]).clip(0, 1)

        self.groups = [at_least_size(data.lfw_subset().astype(np.float32))]
        if brain:
            self.groups.append(at_least_size(brain_slices("train", "float32", phase=False)[0]))
        self.pyramid = pyramid

    def __call__(self, rng: np.random.Generator, n: int) -> np.ndarray:
        out = np.empty((n, self.size, self.size), np.float32)
        k = self.size
        for b in range(n):
            i = int(rng.integers(len(self.pyramid) + len(self.groups)))
            if i >= len(self.pyramid):
                group = self.groups[i - len(self.pyramid)]
                a = group[int(rng.integers(len(group)))]
            else:
                levels = self.pyramid[i]
                a = levels[int(rng.integers(len(levels)))]
            r, c = int(rng.integers(a.shape[0] - k + 1)), int(rng.integers(a.shape[1] - k + 1))
            p = a[r:r + k, c:c + k]
            p = p[::-1] if rng.random() < 0.5 else p
            out[b] = np.rot90(p, int(rng.integers(4)))
        return out


def downsample(x: Any, factor: int) -> Any:
    """:math:`S x`, the mean over ``factor`` × ``factor`` blocks of the last two axes
    (:class:`npgd.linops.Downsample`), on any backend.

    Examples
    --------
    >>> import numpy as np
    >>> downsample(np.arange(16.0).reshape(4, 4), 2)
    array([[ 2.5,  4.5],
           [10.5, 12.5]])
    """
    return linops.Downsample(tuple(x.shape[-2:]), factor)(x)


def bicubic(y: np.ndarray, factor: int) -> np.ndarray:
    """Bicubic upsampling of ``y`` ``(..., h, w)`` by ``factor`` (scikit-image
    ``resize``, order 3, reflecting edges): the pixel centres of the low-resolution grid sit
    at the centres of the blocks :func:`downsample` averaged.

    Examples
    --------
    >>> import numpy as np
    >>> bicubic(np.ones((2, 4, 4)), 2).shape
    (2, 8, 8)
    """
    from skimage import transform

    check_int("bicubic", "factor", factor)
    y = np.asarray(y)
    shape = tuple(y.shape[:-2]) + (y.shape[-2] * factor, y.shape[-1] * factor)
    return transform.resize(y, shape, order=3, mode="reflect", anti_aliasing=False)


def tv_sr(y: np.ndarray, factor: int, lam: float, iters: int = 200) -> np.ndarray:
    """Total-variation super-resolution :math:`\\arg\\min_x \\tfrac12\\|y - S x\\|^2 +
    \\lambda\\,\\mathrm{TV}(x)` by FISTA (:func:`npgd.solvers.fista`, :class:`npgd.priors.TV`)
    from the bicubic image, with the step :math:`1/\\|S^H S\\| = f^2`.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.zeros((16, 16)); x[4:12, 4:12] = 1
    >>> y = downsample(x, 2)
    >>> err = lambda z: np.linalg.norm(z - x)
    >>> bool(err(tv_sr(y, 2, 1e-3, iters=100)) < err(bicubic(y, 2)))
    True
    """
    check_int("tv_sr", "factor", factor)
    y = np.asarray(y, np.float64)
    shape = (y.shape[-2] * factor, y.shape[-1] * factor)
    A = linops.Downsample(shape, factor)
    return solvers.fista(A, priors.TV(lam, shape), y, iters=iters, step=float(factor**2),
                         x0=bicubic(y, factor))


def tune_tv(images: np.ndarray, factor: int, lams: Sequence[float] = tuple(np.logspace(-5, -2, 7)),
            iters: int = 200) -> tuple[float, np.ndarray]:
    """The TV weight of ``lams`` with the best mean PSNR on ``images`` ``(N, H, W)``
    (training crops: tune on data you do not test on), and the mean PSNR of each weight.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.zeros((1, 16, 16)); x[0, 4:12, 4:12] = 1
    >>> lam, scores = tune_tv(x, 2, lams=(1e-4, 1e-2), iters=50)
    >>> scores.shape
    (2,)
    """
    from npgd.problems import metrics

    y = downsample(np.asarray(images, np.float64), factor)
    scores = np.array([float(metrics.psnr(images, tv_sr(y, factor, lam, iters)).mean())
                       for lam in lams])
    return float(lams[int(np.argmax(scores))]), scores
