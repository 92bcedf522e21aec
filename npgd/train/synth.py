"""Domain-randomized training data for a learned MRI prior that generalizes.

A model trained on one brain template learns that template: its anatomy, its contrast, its
field of view and the phase we gave it. :class:`SynthData` instead draws every training sample
from a wide, reproducible distribution built only from data available offline:

- **sources**: real MR volumes (Debian ``mricron-data``: ``ch2`` with skull and scalp,
  ``ch2better``; nilearn's MNI152 2009 T1/GM/WM templates), label atlases turned into images
  (``aal``, ``HarvardOxford``, ``JHU``, ``brodmann``, ``AICHA``, ``jhu189``, ``natbrainlab``), in
  the style of SynthSeg's domain randomization (Billot et al., "SynthSeg: Segmentation of brain
  MRI scans of any contrast and resolution without retraining", Medical Image Analysis 2023:
  a random intensity per label, texture, blur, bias field, resolution change), scikit-image's
  bundled natural images and random ellipse scenes;
- **geometry**: slices in all three orientations, any rotation, flips, zoom so the object
  fills anything from a fifth to more than the whole field of view (small objects in an
  empty field of view are where a brain-trained prior lost most), matrix sizes from 48 to 256
  per side, square or not;
- **contrast**: identity, random gamma, random monotone and non-monotone intensity maps
  (T2-like inversions included), bias fields, blur and low resolution, and noise in the
  reference image itself (a Rician floor for magnitude images, complex Gaussian noise for
  complex ones, standard deviation 0.3 % to 12 % of the bright tissue), as in real scans;
- **phase**: none (real images), constant, smooth polynomial + bump
  (:func:`npgd.problems.data.synthetic_phase`), linear ramps, and random smooth fields of up to
  a few cycles;
- **sampling**: variable-density, radial and line masks at 2.5x to 9x, noiseless or with
  complex Gaussian k-space noise from 15 to 45 dB SNR (:func:`npgd.problems.mri.noise_std_for`);
- **crisp scenes** (``p_crisp``, off by default; ``npgd train --data mix-crisp``):
  piecewise-constant ellipses, rectangles and polygons drawn on the output grid itself, with
  edges one pixel sharp (no interpolation, blur or reference noise), as digital phantoms
  have. Every other sample passes through interpolation and mostly blur or noise, and a
  model trained on those alone blurred the phantom's one-pixel edges (the Shepp-Logan
  phantom, 22.7 dB against 50.8 dB for TV at 5x).
- **dead leaves** (``p_leaves``, off by default; ``npgd train --p-leaves P``): that share of
  the base images are synthetic dead-leaves images (:func:`dead_leaves`), whose scale
  statistics are those of photographs, for more natural-image content than the handful of
  bundled photographs give.
- **low contrast** (``p_low_contrast``, off by default; ``npgd train --p-low-contrast P``):
  that share of the references have their contrast compressed towards the mean, by a factor
  of 0.1 to 0.6, either everywhere (a view that tissue fills, all of it bright and little of
  it different) or inside the object only, the background kept dark (tissues of nearly equal
  signal, as in proton-density images) (:func:`low_contrast`). The same aliasing is then a
  larger part of the contrast, and a prior that never saw such images removed too little of
  it and blurred what contrast there was: 1.4 to 3.5 dB behind tuned CS on brain crops whose
  contrast was halved or quartered, where it led by 1.5 dB at full contrast (the stage-7
  default model, 2026-12-07). 300 steps of fine-tuning with these samples hardly moved that;
  the default model removes a floor level instead (:class:`npgd.priors.ResNetProx`
  ``floor``).
- **EPI ghosts** (``p_ghost``, off by default; ``npgd train --p-ghost P``): that share of the
  references carry a Nyquist ghost, the copy of the image shifted by half the field of view
  along the phase-encoding axis that echo-planar scans (diffusion b0, fMRI) show when their
  odd and even echoes disagree in phase (Bernstein, King and Zhou, "Handbook of MRI Pulse
  Sequences", 2004, the chapter on echo-planar imaging): 2 % to 15 % of the image, its phase
  varying linearly along the readout, added before the magnitude is taken
  (:func:`nyquist_ghost`). A prior that never saw one treats it as aliasing to remove, and
  it is part of the stored image.
- **magnified views** (``p_magnified``, off by default; ``npgd train --p-magnified P``): that
  share of the samples is drawn 1.5 to 3.5 times magnified (:data:`MAGNIFIED`) instead of at
  a random fill of the field of view, so that one voxel of the ~1 mm source spans several
  pixels, as in high-resolution matrices (512 pixels across a head) and matrices
  interpolated to twice their acquired size. The stage-9 default model, trained without
  them, fell 1.5 to 4.3 dB behind tuned CS on held-out templates enlarged to 512x512, and
  1.0 and 3.4 dB behind on two of the three at the same magnification cropped to 256x256,
  where it led at every size up to 320x256 (``scripts/conditions.py --sizes``,
  2026-12-07); stage 10 was fine-tuned with them and with ``p_small_calib``.
- **small calibration regions** (``p_small_calib``, off by default; ``npgd train
  --p-small-calib P``): that share of the variable-density masks gets the fully sampled
  centre that :func:`npgd.problems.mri.vd_mask`'s default 12 samples are on a larger
  matrix, :data:`SMALL_CALIB` (256 to 768) samples across, scaled to this one (2 to 12
  samples at the training sizes). Otherwise the centre is 12 samples or an eighth of the
  shorter side, so at most 256 pixels across it never fell below 4.7 % of the matrix; at
  512x512 the default centre is 2.3 %. On held-out templates enlarged to 512x512, the
  stage-9 default model trailed tuned CS-WV on ``ch2`` by 4.3 dB with the default 12-sample
  centre and led by 1.4 dB with a 24-sample one (CS-WV itself gained 1.5 dB); at 256x256, a
  6-sample centre on the same magnification took the model from 0.5 dB ahead to 1.2 dB
  behind (``scripts/conditions.py --sizes --calib N``, 2026-12-08).

Every draw of sample ``k`` of step ``s`` comes from ``numpy.random.default_rng([seed, s, k])``
(the matrix size from ``[seed, s]``), so a resumed run sees exactly the samples the
uninterrupted one would have, and DDP ranks share the step's shape.

Held out of training (never drawn, kept for the cross-dataset evaluation): the
embedded Colin27 test range (MNI z >= +10 mm, in every Colin27 volume: ``ch2``, ``ch2bet``,
``ch2better``), the ``inia19`` macaque template and its labels, sagittal slices of the
MNI152 templates and of ``ch2``, the Shepp-Logan phantom, and the scikit-image images listed in
:data:`HELD_OUT_IMAGES`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from npgd.problems import data as pdata
from npgd.problems import mri

__all__ = ["HELD_OUT_IMAGES", "MIX_CRISP", "P_IMAGES", "P_NOISELESS", "P_REF_NOISE", "SR_LEAVES",
           "TRAIN_IMAGES", "SynthData", "dead_leaves", "low_contrast", "nyquist_ghost",
           "volume_sources"]

#: ``p_crisp`` of ``npgd train --data mix-crisp``
MIX_CRISP = 0.1

#: the default share of noiseless samples (``npgd train --p-noiseless``)
P_NOISELESS = 0.3

#: the default share of natural-image samples (``npgd train --p-images``); the other kinds
#: (MR volumes 0.4, label maps 0.25, random shapes 0.15) share the rest in those proportions
P_IMAGES = 0.2

#: the default share of samples whose reference image carries noise of its own
#: (``npgd train --p-reference-noise``): Rician for 0.45, complex Gaussian for 0.2
P_REF_NOISE = 0.65
_KINDS = {"volume": 0.4, "labels": 0.25, "image": P_IMAGES, "shapes": 0.15}

#: magnifications of the ``p_magnified`` samples (``npgd train --p-magnified``), log-uniform:
#: output pixels per pixel of the source volume or image
MAGNIFIED = (1.5, 3.5)

#: matrix sides, log-uniform, on which the ``p_small_calib`` masks' fully sampled centre would
#: be :func:`npgd.problems.mri.vd_mask`'s default 12 samples (``npgd train --p-small-calib``)
SMALL_CALIB = (256, 768)

#: ``p_leaves`` of ``npgd train --task sr --data natural-leaves``: the fraction of training
#: crops that are dead-leaves images (:func:`dead_leaves`)
SR_LEAVES = 1 / 3

MRICRON = Path("/usr/share/mricron/templates")

#: scikit-image images used for training (grey conversions of colour ones)
TRAIN_IMAGES = ("astronaut", "grass", "gravel", "text", "page", "cell", "horse",
                "hubble_deep_field", "rocket", "retina", "immunohistochemistry", "clock",
                "microaneurysms", "coffee", "logo", "lfw_subset")
#: scikit-image images never used for training (cross-dataset evaluation)
HELD_OUT_IMAGES = ("camera", "moon", "coins", "brick", "chelsea", "shepp_logan_phantom")

# Colin27 (ch2*) rows at MNI z >= +10 mm are the embedded test range: never trained on.
_TEST_Z_MM = 10.0


@dataclass
class _Volume:
    name: str
    array: np.ndarray  # float32, [0, 1] for intensity volumes; integer labels for atlases
    labels: bool
    axes: tuple[int, ...]  # the slicing axes allowed (0 sagittal, 1 coronal, 2 axial; RAS)
    fg: list  # per axis: indices of slices with enough foreground


def volume_sources() -> dict[str, tuple[Path, bool, tuple[int, ...]]]:
    """The training volumes found on this machine: name -> (path, is_label_atlas, axes).

    Axes are RAS voxel axes (0 sagittal, 1 coronal, 2 axial) from which slices may be drawn;
    MNI152 and ``ch2`` keep their sagittal slices for evaluation.

    Examples
    --------
    >>> srcs = volume_sources()
    >>> all(isinstance(v[0], Path) for v in srcs.values())
    True
    """
    out: dict[str, tuple[Path, bool, tuple[int, ...]]] = {}
    for name, labels, axes in (
        ("ch2better", False, (0, 1, 2)), ("ch2", False, (1, 2)), ("ch2bet", False, (0, 1, 2)),
        ("aal", True, (0, 1, 2)), ("brodmann", True, (0, 1, 2)), ("AICHAmc", True, (0, 1, 2)),
        ("HarvardOxford-cort-maxprob-thr0-1mm", True, (0, 1, 2)),
        ("JHU-WhiteMatter-labels-1mm", True, (0, 1, 2)), ("jhu189", True, (0, 1, 2)),
        ("natbrainlab", True, (0, 1, 2)),
    ):
        p = MRICRON / f"{name}.nii.gz"
        if p.is_file():
            out[name] = (p, labels, axes)
    try:
        import nilearn

        d = Path(nilearn.__file__).parent / "datasets" / "data"
        for tissue in ("t1", "gm", "wm"):
            p = d / f"mni_icbm152_{tissue}_tal_nlin_sym_09a_converted.nii.gz"
            if p.is_file():
                out[f"mni152-{tissue}"] = (p, False, (1, 2))
    except ImportError:  # nilearn is optional: its templates are simply not drawn
        pass
    return out


def _load_volume(name: str, path: Path, labels: bool, axes: tuple[int, ...]) -> _Volume:
    import nibabel as nib

    img = nib.as_closest_canonical(nib.load(path))  # RAS voxel axes for every file
    a = np.asanyarray(img.dataobj)
    if name.startswith("ch2"):
        # drop the embedded test range: voxels at MNI z >= +10 mm
        k = np.arange(a.shape[2])
        z = img.affine[2, 2] * k + img.affine[2, 3]
        a = a[:, :, z < _TEST_Z_MM]
    if labels:
        a = a.astype(np.int32)
        fgmask = a > 0
    else:
        a = a.astype(np.float32)
        a /= max(float(np.percentile(a[a > 0], 99.5)), 1e-6)
        fgmask = a > 0.05
    fg = []
    for ax in range(3):
        frac = fgmask.mean(axis=tuple(i for i in range(3) if i != ax))
        fg.append(np.flatnonzero(frac > 0.08))
    return _Volume(name, a, labels, tuple(ax for ax in axes if len(fg[ax])), fg)


def _skimage_images(names: tuple[str, ...]) -> list[np.ndarray]:
    import skimage.data
    from skimage.color import rgb2gray, rgba2rgb

    out = []
    for n in names:
        im = getattr(skimage.data, n)()
        if n == "lfw_subset":
            out.extend(np.asarray(f, np.float32) for f in im)
            continue
        im = np.asarray(im)
        if im.ndim == 3:
            im = rgb2gray(rgba2rgb(im) if im.shape[-1] == 4 else im)
        im = im.astype(np.float32)
        out.append(im / max(float(im.max()), 1e-6))
    return out


def _smooth_field(rng: np.random.Generator, shape: tuple[int, int], grid: int) -> np.ndarray:
    """A random smooth field: a ``grid`` x ``grid`` normal draw upsampled with cubic splines."""
    g = rng.standard_normal((grid, grid))
    return ndimage.zoom(g, (shape[0] / grid, shape[1] / grid), order=3, mode="nearest")[
        : shape[0], : shape[1]
    ]


def _lut(rng: np.random.Generator, x: np.ndarray, monotone: bool) -> np.ndarray:
    """A random piecewise-linear intensity map on [0, 1], monotone or not (0 stays near 0)."""
    knots = np.linspace(0, 1, int(rng.integers(3, 9)))
    if monotone:
        vals = np.sort(rng.random(len(knots)))
        vals = (vals - vals[0]) / max(vals[-1] - vals[0], 1e-3)
    else:
        vals = rng.random(len(knots))
        vals[0] = 0.0 if rng.random() < 0.8 else vals[0] * 0.3
    return np.interp(np.clip(x, 0, 1.5), knots, vals, right=vals[-1]).astype(np.float32)


class SynthData:
    """Training samples for :func:`npgd.train.train` drawn from a randomized distribution of
    images, phases, masks and noise (see the module docstring).

    Parameters
    ----------
    shape_range : (int, int)
        Smallest and largest matrix side; each step draws a height and a width log-uniformly in
        this range (aspect ratio at most 1.5).
    accel_range : (float, float)
        Accelerations, drawn uniformly (40 % of the samples near 5x: ``U(4, 6)``).
    noise_db_range : (float, float)
        k-space SNR in dB (:func:`npgd.problems.mri.noise_std_for`) of the noisy samples.
    p_noiseless : float
        Fraction of noiseless samples.
    mask_families : tuple of str
        Drawn with probabilities 0.5 / 0.25 / 0.25 for ``("vd", "radial", "lines")``.
    val_samples : int
        Fixed validation samples (drawn once from seed 10**6 + i).
    p_crisp : float
        Fraction of crisp piecewise-constant scenes (module docstring). With 0 (the default)
        no extra random number is drawn, so every sample is exactly what it was before the
        option existed.
    p_images : float
        Fraction of the other samples drawn from scikit-image's training images
        (:data:`TRAIN_IMAGES`, half of them through a random contrast map); MR volumes,
        label maps and random shapes share the rest as 0.4 : 0.25 : 0.15.
    p_ref_noise : float
        Fraction of the samples (crisp scenes aside) whose reference image holds noise of its
        own, standard deviation 0.3 % to 12 % of the bright tissue: a Rician floor (magnitude
        images) or complex Gaussian noise, in the proportions 0.45 : 0.2.
    p_leaves : float
        Fraction of the base images (crisp scenes aside) that are dead-leaves images
        (:func:`dead_leaves`, 96 to 256 pixels, scaled to [0, 1], half of them through a
        random contrast map): natural-image statistics beyond the handful of photographs.
        With 0 (the default) no extra random number is drawn.
    p_ghost : float
        Fraction of the samples (crisp scenes aside) whose reference carries an EPI Nyquist
        ghost (:func:`nyquist_ghost`, module docstring). With 0 (the default) no extra random
        number is drawn.
    p_low_contrast : float
        Fraction of the samples (crisp scenes aside) whose reference has its contrast
        compressed (:func:`low_contrast`, module docstring). With 0 (the default) no extra
        random number is drawn.
    p_magnified : float
        Fraction of the samples (crisp scenes aside) drawn magnified
        :data:`MAGNIFIED` times (log-uniform) instead of at a random fill of the field of
        view: structures several pixels wide per voxel of the source, as in
        high-resolution or interpolated matrices (module docstring). With 0 (the default)
        no extra random number is drawn.
    p_small_calib : float
        Fraction of the variable-density masks whose fully sampled centre is
        ``max(2, round(12 * min(H, W) / n))`` samples wide, ``n`` log-uniform in
        :data:`SMALL_CALIB`: the default centre of a 12-sample ``vd_mask`` on a matrix ``n``
        samples across, scaled to this one (module docstring). With 0 (the default) no
        extra random number is drawn.

    Examples
    --------
    >>> d = SynthData(val_samples=2, sources=("aal",), images=False)
    >>> x, m, s = d.batch(0, 0, 2)
    >>> x.shape == m.shape, x.dtype, s.shape
    (True, dtype('complex64'), (2,))
    """

    def __init__(
        self,
        shape_range: tuple[int, int] = (48, 256),
        accel_range: tuple[float, float] = (2.5, 9.0),
        noise_db_range: tuple[float, float] = (15.0, 45.0),
        p_noiseless: float = P_NOISELESS,
        mask_families: tuple[str, ...] = ("vd", "radial", "lines"),
        val_samples: int = 16,
        sources: tuple[str, ...] | None = None,
        images: bool = True,
        p_crisp: float = 0.0,
        p_images: float = P_IMAGES,
        p_ref_noise: float = P_REF_NOISE,
        p_leaves: float = 0.0,
        p_ghost: float = 0.0,
        p_low_contrast: float = 0.0,
        p_magnified: float = 0.0,
        p_small_calib: float = 0.0,
    ):
        self.shape_range = tuple(int(s) for s in shape_range)
        self.accel_range = tuple(float(a) for a in accel_range)
        self.noise_db_range = tuple(float(a) for a in noise_db_range)
        self.p_noiseless = float(p_noiseless)
        self.p_crisp = float(p_crisp)
        self.p_images = float(p_images)
        self.p_ref_noise = float(p_ref_noise)
        self.p_leaves = float(p_leaves)
        self.p_ghost = float(p_ghost)
        self.p_low_contrast = float(p_low_contrast)
        self.p_magnified = float(p_magnified)
        self.p_small_calib = float(p_small_calib)
        for name, v in (("p_noiseless", p_noiseless), ("p_crisp", p_crisp),
                        ("p_images", p_images), ("p_ref_noise", p_ref_noise),
                        ("p_leaves", p_leaves), ("p_ghost", p_ghost),
                        ("p_low_contrast", p_low_contrast), ("p_magnified", p_magnified),
                        ("p_small_calib", p_small_calib)):
            if not 0 <= float(v) <= 1:
                raise ValueError(f"SynthData: {name} must be in [0, 1], got {v!r}")
        self.mask_families = tuple(mask_families)
        avail = volume_sources()
        names = tuple(avail) if sources is None else tuple(s for s in sources if s in avail)
        self.volumes = [_load_volume(n, *avail[n]) for n in names]
        self.images = _skimage_images(TRAIN_IMAGES) if images else []
        if not self.volumes and not self.images:
            raise ValueError("SynthData: no training source found (install mricron-data, "
                             "nilearn or scikit-image)")
        self.val = [self._sample(np.random.default_rng(10**6 + i),
                                 self._shape(np.random.default_rng(10**6 + i)))
                    for i in range(val_samples)]

    # ---------------------------------------------------------------- drawing
    def _shape(self, rng: np.random.Generator) -> tuple[int, int]:
        lo, hi = self.shape_range
        h = int(round(math.exp(rng.uniform(math.log(lo), math.log(hi)))))
        ar = math.exp(rng.uniform(-math.log(1.5), math.log(1.5)))
        w = int(np.clip(round(h * ar), lo, hi))
        return h, w

    def _kind(self, rng: np.random.Generator) -> str:
        """The kind of base image of one sample: ``'volume'``, ``'labels'``, ``'image'`` or
        ``'shapes'``, drawn with the weights of :data:`_KINDS` (``'image'``: ``p_images``)
        among the kinds this pool has."""
        has = {"volume": any(not v.labels for v in self.volumes),
               "labels": any(v.labels for v in self.volumes),
               "image": bool(self.images), "shapes": True}
        # at the default, rest is exactly 1.0 and the weights are the literal ones, bit for bit
        rest = (1 - self.p_images) / (1 - P_IMAGES)
        w = {k: self.p_images if k == "image" else v * rest for k, v in _KINDS.items()}
        kinds = [k for k in w if has[k]]
        p = np.array([w[k] for k in kinds])
        if p.sum() <= 0:  # p_images = 1 without images: shapes are all there is
            return "shapes"
        return kinds[rng.choice(len(kinds), p=p / p.sum())]

    def _base(self, rng: np.random.Generator) -> np.ndarray:
        """A 2-D float32 image in roughly [0, 1] before geometry and contrast."""
        if self.p_leaves and rng.random() < self.p_leaves:
            x = dead_leaves(rng, int(rng.integers(96, 257)))
            x = (x - x.min()) / max(float(x.max() - x.min()), 1e-6)
            return self._contrast(rng, x.astype(np.float32)) if rng.random() < 0.5 else x
        vols = [v for v in self.volumes if not v.labels]
        labs = [v for v in self.volumes if v.labels]
        kind = self._kind(rng)
        if kind in ("volume", "labels"):
            v = (vols if kind == "volume" else labs)[rng.integers(len(vols if kind == "volume"
                                                                   else labs))]
            ax = v.axes[rng.integers(len(v.axes))]
            idx = int(v.fg[ax][rng.integers(len(v.fg[ax]))])
            sl = np.take(v.array, idx, axis=ax)
            sl = np.rot90(sl)  # RAS voxel axes -> radiological display orientation
            return self._label_image(rng, sl) if v.labels else self._contrast(rng, sl)
        if kind == "image":
            im = self.images[rng.integers(len(self.images))]
            return self._contrast(rng, im) if rng.random() < 0.5 else im
        return self._shapes(rng)

    def _contrast(self, rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
        u = rng.random()
        if u < 0.35:
            return x
        if u < 0.55:
            return np.clip(x, 0, None) ** rng.uniform(0.5, 2.0)
        if u < 0.75:
            return _lut(rng, x, monotone=True)
        if u < 0.9:
            return _lut(rng, x, monotone=False)
        fg = x > 0.05  # T2-like: bright fluid, dark white matter, background kept dark
        return np.where(fg, 1.05 - np.clip(x, 0, 1), 0).astype(np.float32)

    def _label_image(self, rng: np.random.Generator, labels: np.ndarray) -> np.ndarray:
        n = int(labels.max()) + 1
        means = rng.random(n).astype(np.float32)
        if rng.random() < 0.7:
            means[0] = 0.0
        img = means[labels]
        tex = rng.uniform(0, 0.08)
        if tex > 0:
            img = img + tex * ndimage.gaussian_filter(
                rng.standard_normal(labels.shape).astype(np.float32), rng.uniform(0.5, 2))
        return ndimage.gaussian_filter(img, rng.uniform(0.3, 1.5)).astype(np.float32)

    def _shapes(self, rng: np.random.Generator) -> np.ndarray:
        n = 128
        Y, X = np.mgrid[-1 : 1 : n * 1j, -1 : 1 : n * 1j]
        img = np.zeros((n, n), np.float32)
        for _ in range(int(rng.integers(4, 30))):
            cy, cx = rng.uniform(-0.8, 0.8, 2)
            a, b = rng.uniform(0.05, 0.7, 2)
            th = rng.uniform(0, np.pi)
            yr = (Y - cy) * np.cos(th) + (X - cx) * np.sin(th)
            xr = -(Y - cy) * np.sin(th) + (X - cx) * np.cos(th)
            inside = (yr / a) ** 2 + (xr / b) ** 2 <= 1
            img[inside] = rng.random() if rng.random() < 0.6 else img[inside] + rng.uniform(-.3, .3)
        return ndimage.gaussian_filter(np.clip(img, 0, None), rng.uniform(0, 1.2))

    def _geometry(self, rng: np.random.Generator, x: np.ndarray,
                  shape: tuple[int, int]) -> np.ndarray:
        """Rotate, flip, zoom and shift ``x`` onto a ``shape`` grid (linear interpolation)."""
        if rng.random() < 0.5:
            th = rng.uniform(0, 2 * np.pi)
        else:
            th = rng.integers(4) * np.pi / 2 + np.deg2rad(rng.uniform(-15, 15))
        if self.p_magnified and rng.random() < self.p_magnified:
            # a view inside the object, magnified m times: 1/m source pixels per output pixel
            scale = math.exp(-rng.uniform(*np.log(MAGNIFIED)))
        else:
            # object extent relative to the field of view: from a small object to a crop
            # inside it
            fill = math.exp(rng.uniform(math.log(0.2), math.log(1.8)))
            scale = max(x.shape) / (fill * max(shape))  # source pixels per output pixel
        if scale > 1.3:  # anti-alias before shrinking
            x = ndimage.gaussian_filter(x, 0.45 * scale)
        c, s = math.cos(th), math.sin(th)
        M = scale * np.array([[c, -s], [s, c]])
        if rng.random() < 0.5:
            M = M @ np.diag([1, -1])
        centre_out = (np.array(shape) - 1) / 2
        shift = rng.uniform(-0.15, 0.15, 2) * np.array(x.shape)
        offset = (np.array(x.shape) - 1) / 2 + shift - M @ centre_out
        return ndimage.affine_transform(x, M, offset, output_shape=shape, order=1,
                                        mode="constant", cval=0.0, prefilter=False)

    def _crisp(self, rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
        """A piecewise-constant scene drawn on the ``shape`` grid: 3-20 ellipses, rotated
        rectangles and triangles, each setting or shifting the intensity inside it; edges
        one pixel sharp, values in [0, 1]."""
        h, w = shape
        Y, X = np.mgrid[-1 : 1 : h * 1j, -1 : 1 : w * 1j]
        img = np.zeros(shape, np.float32)
        for k in range(int(rng.integers(3, 21))):
            cy, cx = rng.uniform(-0.7, 0.7, 2) if k else rng.uniform(-0.15, 0.15, 2)
            a, b = rng.uniform(0.5, 0.95, 2) if k == 0 else rng.uniform(0.03, 0.5, 2)
            th = rng.uniform(0, np.pi)
            yr = (Y - cy) * np.cos(th) + (X - cx) * np.sin(th)
            xr = -(Y - cy) * np.sin(th) + (X - cx) * np.cos(th)
            kind = rng.integers(3) if k else 0
            if kind == 0:
                inside = (yr / a) ** 2 + (xr / b) ** 2 <= 1
            elif kind == 1:
                inside = (np.abs(yr) <= a) & (np.abs(xr) <= b)
            else:  # a triangle: below two lines through the apex, above the base
                inside = (yr >= -a) & (np.abs(xr) <= b * (a - yr) / (2 * a))
            if k == 0 or rng.random() < 0.6:
                img[inside] = rng.uniform(0.05, 1.0)
            else:
                img[inside] += rng.uniform(-0.3, 0.3)
        return np.clip(img, 0, None)

    def _sample(self, rng: np.random.Generator, shape: tuple[int, int]) -> tuple:
        if self.p_crisp > 0 and rng.random() < self.p_crisp:
            x = self._crisp(rng, shape)
            x = (x / max(float(x.max()), 1e-6)).astype(np.float32)
            return self._sampled(rng, x.astype(np.complex64) * self._phase(rng, shape))
        x = self._geometry(rng, self._base(rng).astype(np.float32), shape)
        if rng.random() < 0.3:  # low resolution (EPI-like), then back to the grid
            f = rng.uniform(1.5, 3.0)
            small = ndimage.zoom(x, 1 / f, order=1)
            x = ndimage.zoom(small, (shape[0] / small.shape[0], shape[1] / small.shape[1]),
                             order=3)[: shape[0], : shape[1]]
            x = np.pad(x, ((0, shape[0] - x.shape[0]), (0, shape[1] - x.shape[1])))
        elif rng.random() < 0.3:
            x = ndimage.gaussian_filter(x, rng.uniform(0.3, 1.0))
        if rng.random() < 0.6:  # receive-coil bias field
            amp = rng.uniform(0.1, 0.6)
            x = x * np.exp(amp * _smooth_field(rng, shape, int(rng.integers(2, 5))))
        x = np.clip(x, 0, None)
        top = float(np.percentile(x, 99.5))
        if top <= 1e-6:  # an empty view: fall back to a fresh scene of random shapes
            x = self._geometry(rng, self._shapes(rng), shape)
            top = max(float(np.percentile(x, 99.5)), 1e-6)
        x = (x / top).astype(np.float32)
        if self.p_low_contrast and rng.random() < self.p_low_contrast:
            x = low_contrast(x, rng)
        if self.p_ghost and rng.random() < self.p_ghost:
            x = nyquist_ghost(x, rng)
        # Real scans are noisy: the reference itself holds noise that no reconstruction can
        # predict in the unsampled k-space, and a prior trained on clean templates treats it
        # as artefact. Magnitude images get a Rician floor, complex ones complex noise.
        u = rng.random()
        sigma = math.exp(rng.uniform(math.log(0.003), math.log(0.12)))
        # Rician and complex noise in the proportions 0.45 : 0.2 (exactly 0.45 at the default)
        rician = 0.45 * (self.p_ref_noise / P_REF_NOISE)
        if u < rician:
            x = np.abs(x + sigma * (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)))
        z = x.astype(np.complex64) * self._phase(rng, shape)
        if rician <= u < self.p_ref_noise:
            z = z + sigma * (rng.standard_normal(shape) + 1j * rng.standard_normal(shape))
        return self._sampled(rng, z)

    def _sampled(self, rng: np.random.Generator, z: np.ndarray) -> tuple:
        """``z`` with a random mask and k-space noise level: one sample of :meth:`batch`."""
        mask = self._mask(rng, z.shape)
        noise = 0.0 if rng.random() < self.p_noiseless else float(mri.noise_std_for(
            z, rng.uniform(*self.noise_db_range)))
        return z.astype(np.complex64), mask, np.float32(noise)

    def _phase(self, rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
        u = rng.random()
        if u < 0.2:
            return np.ones(shape, np.complex64)
        if u < 0.35:
            return np.full(shape, np.exp(1j * rng.uniform(0, 2 * np.pi)), np.complex64)
        if u < 0.7:
            phi = pdata.synthetic_phase(shape, int(rng.integers(2**31)))
        elif u < 0.85:
            Y, X = np.meshgrid(np.linspace(-1, 1, shape[0]), np.linspace(-1, 1, shape[1]),
                               indexing="ij")
            phi = rng.uniform(-3, 3) * Y + rng.uniform(-3, 3) * X + rng.uniform(0, 2 * np.pi)
        else:
            phi = rng.uniform(1, 2 * np.pi) * _smooth_field(rng, shape, int(rng.integers(3, 7)))
        return np.exp(1j * phi).astype(np.complex64)

    def _mask(self, rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
        lo, hi = self.accel_range
        accel = rng.uniform(4, 6) if rng.random() < 0.4 and lo <= 5 <= hi else rng.uniform(lo, hi)
        p = np.array([{"vd": 0.5, "radial": 0.25, "lines": 0.25}[f] for f in self.mask_families])
        fam = self.mask_families[rng.choice(len(p), p=p / p.sum())]
        seed = int(rng.integers(2**31))
        if fam == "vd":
            calib = 12 if rng.random() < 0.5 else max(4, min(24, min(shape) // 8))
            if self.p_small_calib and rng.random() < self.p_small_calib:
                n = math.exp(rng.uniform(*(math.log(v) for v in SMALL_CALIB)))
                calib = max(2, round(12 * min(shape) / n))
            return mri.vd_mask(shape, accel, seed=seed, calib=calib)
        if fam == "radial":
            return mri.vd_radial_mask(shape, accel, seed=seed)
        return mri.line_mask(shape, accel, seed=seed)

    # ---------------------------------------------------------------- public
    def batch(self, seed: int, step: int, size: int,
              part: slice = slice(None)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Images ``(B, H, W)`` complex64, masks ``(B, H, W)`` bool and k-space noise standard
        deviations ``(B,)`` float32 of one training step (``part`` selects this rank's
        samples); the matrix size ``(H, W)`` is drawn once per step.
        """
        shape = self._shape(np.random.default_rng([seed, step]))
        out = [self._sample(np.random.default_rng([seed, step, k]), shape)
               for k in range(size)[part]]
        return (np.stack([o[0] for o in out]), np.stack([o[1] for o in out]),
                np.array([o[2] for o in out], np.float32))

    def describe(self) -> dict[str, Any]:
        """What the pool holds (for logs and checkpoints)."""
        return {"volumes": [v.name for v in self.volumes], "images": len(self.images),
                "shape_range": self.shape_range, "accel_range": self.accel_range,
                "noise_db_range": self.noise_db_range, "p_noiseless": self.p_noiseless,
                "p_crisp": self.p_crisp, "p_images": self.p_images,
                "p_ref_noise": self.p_ref_noise, "p_leaves": self.p_leaves,
                "p_ghost": self.p_ghost, "p_low_contrast": self.p_low_contrast,
                "p_magnified": self.p_magnified, "p_small_calib": self.p_small_calib,
                "mask_families": self.mask_families}


def low_contrast(x: np.ndarray, rng: np.random.Generator, factor: float | None = None,
                 everywhere: bool | None = None) -> np.ndarray:
    """``x`` (a magnitude image in about [0, 1]) with its contrast compressed towards its
    mean :math:`\\bar x` by ``factor`` :math:`c`, :math:`\\bar x + c\\,(x - \\bar x)`,
    ``everywhere`` (a view that tissue fills) or inside the object only (pixels above 5 %
    of the 99.5th percentile, mean taken there; the background stays as it was), then scaled
    back so that its 99.5th percentile is 1. ``factor`` and ``everywhere`` are drawn when
    not given: :math:`c` log-uniform in [0.1, 0.6], each kind half the time.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.zeros((8, 8), np.float32); x[2:6, 2:6] = np.linspace(0.2, 1, 16).reshape(4, 4)
    >>> y = low_contrast(x, np.random.default_rng(0), factor=0.25, everywhere=False)
    >>> bool((y[x == 0] == 0).all()), round(float(y[x > 0].std() / x[x > 0].std()), 2) < 1
    (True, True)
    """
    if factor is None:
        factor = math.exp(rng.uniform(math.log(0.1), math.log(0.6)))
    if everywhere is None:
        everywhere = bool(rng.random() < 0.5)
    top = float(np.percentile(x, 99.5))
    where = np.ones(x.shape, bool) if everywhere else x > 0.05 * top
    if not where.any():
        return x
    m = float(x[where].mean())
    y = np.where(where, m + factor * (x - m), x)
    y = np.clip(y, 0, None)
    return (y / max(float(np.percentile(y, 99.5)), 1e-6)).astype(np.float32)


def nyquist_ghost(x: np.ndarray, rng: np.random.Generator, level: float | None = None,
                  axis: int | None = None) -> np.ndarray:
    """The magnitude image ``x`` ``(H, W)`` with an EPI Nyquist ghost:
    :math:`|x + g\\,e^{i(\\phi_0 + \\phi_1 r)}\\,x(\\cdot + N/2)|`, the copy of ``x``
    shifted (circularly) by half its size ``N`` along ``axis`` (the phase encoding), at
    relative amplitude :math:`g` (``level``), its phase varying linearly along the other axis
    (the readout, :math:`r \\in [-1, 1]`), as a linear phase error between odd and even echoes
    gives (Bernstein, King and Zhou, "Handbook of MRI Pulse Sequences", 2004, the chapter on
    echo-planar imaging).
    ``level`` (default :math:`g \\sim U(0.02, 0.15)`), ``axis`` (default either), the phase
    offset :math:`\\phi_0 \\sim U(0, 2\\pi)` and slope :math:`\\phi_1 \\sim U(-2, 2)` are drawn
    from ``rng``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.zeros((8, 6), np.float32); x[1, 2] = 1
    >>> g = nyquist_ghost(x, np.random.default_rng(0), level=0.1, axis=0)
    >>> float(g[1, 2]), round(float(g[5, 2]), 3), g.dtype
    (1.0, 0.1, dtype('float32'))
    """
    if level is None:
        level = rng.uniform(0.02, 0.15)
    if axis is None:
        axis = int(rng.integers(2))
    r = np.linspace(-1, 1, x.shape[1 - axis])
    phase = np.exp(1j * (rng.uniform(0, 2 * np.pi) + rng.uniform(-2, 2) * r))
    phase = phase[None, :] if axis == 0 else phase[:, None]
    ghost = level * np.roll(x, x.shape[axis] // 2, axis=axis) * phase
    return np.abs(x + ghost).astype(np.float32)


def dead_leaves(rng: np.random.Generator, size: int, *, r_min: float = 1.0,
                r_max: float | None = None, alpha: float = 3.0, supersample: int = 3,
                max_leaves: int = 5000) -> np.ndarray:
    """A random dead-leaves image ``(size, size)`` float32 in [0, 1]: a synthetic natural
    image for training a real-image prior (super-resolution) beyond a handful of photographs.

    Discs fall one on another, each hiding what lies below (Lee, Mumford and Huang,
    "Occlusion models for natural images", IJCV 2001); with radii drawn from
    :math:`p(r) \\propto r^{-\\alpha}` on :math:`[r_{\\min}, r_{\\max}]` and
    :math:`\\alpha = 3` the image is scale invariant, with the power spectrum and the
    edge statistics of photographs. Trained on such images alone, restoration networks come
    within a fraction of a dB of those trained on photographs (Achddou, Gousseau and Ladjal,
    "Synthetic images as a regularity prior for image restoration neural networks", SSVM
    2021). Here each disc is flat or carries a linear shading ramp (smooth surfaces, as in
    the moon's or a face's shading); the image is drawn front to back (a disc only paints
    what is still uncovered) at ``supersample`` times the resolution and box-averaged down, so
    edges are anti-aliased as a camera's pixels are; then it is blurred at random (depth of
    field: none or :math:`\\sigma` up to 1.5 pixels) and given a random contrast range
    (low-contrast images included).

    Written by hand: no maintained package draws dead-leaves images (a few lines of NumPy).

    Parameters
    ----------
    rng : numpy.random.Generator
        Every random draw comes from it.
    size : int
        Output side in pixels (>= 4).
    r_min, r_max : float
        Disc radii in output pixels; ``r_max`` defaults to ``size``.
    alpha : float
        Exponent of the radius density (3: scale invariant).
    supersample : int
        Rendering resolution factor before box averaging.
    max_leaves : int
        Stop after this many discs. Drawing also stops when less than 0.5 % of the image is
        uncovered; uncovered pixels take the value of the nearest painted one.

    Examples
    --------
    >>> import numpy as np
    >>> x = dead_leaves(np.random.default_rng(0), 32)
    >>> x.shape, x.dtype, bool(0 <= x.min() and x.max() <= 1)
    ((32, 32), dtype('float32'), True)
    >>> bool((x == dead_leaves(np.random.default_rng(0), 32)).all())
    True
    """
    size = int(size)
    if size < 4:
        raise ValueError(f"dead_leaves: size must be >= 4, got {size!r}")
    r_max = float(size if r_max is None else r_max)
    if not (0 < r_min <= r_max and alpha > 1):
        raise ValueError(f"dead_leaves: need 0 < r_min <= r_max and alpha > 1, got r_min="
                         f"{r_min!r}, r_max={r_max!r}, alpha={alpha!r}")
    s = int(supersample)
    n = size * s
    img = np.zeros((n, n), np.float32)
    todo = np.ones((n, n), bool)
    left = n * n
    a, b = (r_min * s) ** (1 - alpha), (r_max * s) ** (1 - alpha)
    for _ in range(int(max_leaves)):
        r = (a + rng.random() * (b - a)) ** (1 / (1 - alpha))  # inverse CDF of r^-alpha
        cy, cx = rng.uniform(-r, n + r, 2)
        value = float(rng.random())
        ramp = rng.normal(0, 0.5, 2) / max(r, 1.0) if rng.random() < 0.5 else None
        y0, y1 = max(int(cy - r), 0), min(int(cy + r) + 1, n)
        x0, x1 = max(int(cx - r), 0), min(int(cx + r) + 1, n)
        if y0 >= y1 or x0 >= x1:
            continue
        yy, xx = np.ogrid[y0:y1, x0:x1]
        paint = ((yy - cy) ** 2 + (xx - cx) ** 2 <= r * r) & todo[y0:y1, x0:x1]
        k = int(paint.sum())
        if not k:
            continue
        v = value if ramp is None else value + ramp[0] * (yy - cy) + ramp[1] * (xx - cx)
        img[y0:y1, x0:x1][paint] = np.broadcast_to(v, paint.shape)[paint]
        todo[y0:y1, x0:x1][paint] = False
        left -= k
        if left <= n * n // 200:
            break
    if left:  # the last specks (under 0.5 %): the nearest painted value, not thousands of discs
        near = ndimage.distance_transform_edt(todo, return_distances=False, return_indices=True)
        img = img[near[0], near[1]]
    x = img.reshape(size, s, size, s).mean(axis=(1, 3))
    if rng.random() < 0.5:
        x = ndimage.gaussian_filter(x, rng.uniform(0.3, 1.5), mode="reflect")
    lo, hi = float(x.min()), float(x.max())
    x = (x - lo) / max(hi - lo, 1e-6)
    span = math.exp(rng.uniform(math.log(0.1), 0.0))
    base = rng.uniform(0, 1 - span)
    return (base + span * x).astype(np.float32)
