"""Training data: the images of a run and the random draws of each step.

:class:`TrainingData` holds the training and validation images; :meth:`TrainingData.batch`
is the one place where a step's sample is drawn (slices, flips, phase, mask), from
``numpy.random.default_rng([seed, step])`` only, so a resumed run sees the same samples as
an uninterrupted one and DDP ranks split each step's batch without shared state.

The training loop (:mod:`npgd.train.loop`) asks a data source for three things only:
``val`` (validation images ``(N, H, W)``, possibly ``N = 0``), ``shape`` (their ``(H, W)``,
which the validation masks use) and ``batch(seed, step, size, ...)`` (the images, and for
MRI the masks, of one step). Other sources (the randomized MRI data of
:mod:`npgd.train.synth`, the real images of :class:`NaturalImages` for super-resolution)
provide the same three and are chosen from ``TrainConfig.data``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from npgd._util import UsageError
from npgd.problems import data, mri

__all__ = ["NaturalImages", "TrainingData", "sample_mask"]


class TrainingData:
    """Training and validation images and the per-step sampling of :func:`train`.

    ``source`` is ``"brain"`` (the embedded ch2better sample: only its training slices,
    MNI z < +10 mm; the test range is never trained on; a local file or folder named
    ``brain`` wins, ``"builtin:brain"`` always means the sample), a NIfTI file or folder of
    ``*.nii``/``*.nii.gz`` volumes (axial slices with at least 10 % foreground), or a folder of
    fastMRI single-coil ``*.h5`` files (their complex images). Every slice is centre-cropped or
    padded to ``shape``. The last ``val_slices`` slices, spread evenly over the set, are held
    out for validation (``val_slices=0``: none). Magnitude images get a fresh smooth
    synthetic phase per sample; complex ones a random global phase; both get random flips.

    Examples
    --------
    >>> d = TrainingData("brain", val_slices=6)
    >>> d.train.shape, d.val.shape
    ((60, 192, 160), (6, 192, 160))
    """

    def __init__(self, source: str = "brain", shape: tuple[int, int] | None = None,
                 val_slices: int = 6):
        if source == "builtin:brain" or (source == "brain" and not Path(source).exists()):
            images, _ = data.brain_slices("train", phase=False)
            images = images.astype(np.float32)
        else:
            images = data.read_slices(source)
        shape = tuple(shape) if shape is not None else images.shape[-2:]
        images = data.fit_shape(images, shape)
        if not 0 <= val_slices < len(images):
            raise UsageError(
                f"TrainingData: val_slices must be in [0, {len(images)}) for the "
                f"{len(images)} slices of {source!r}, got {val_slices}"
            )
        val = np.zeros(len(images), bool)
        if val_slices:
            val[np.linspace(0, len(images) - 1, val_slices + 2)[1:-1].round().astype(int)] = True
        self.shape = tuple(shape)
        self.magnitude = not np.iscomplexobj(images)
        self.train, self.val = images[~val], images[val]
        if self.magnitude and len(self.val):
            self.val = data.with_synthetic_phase(self.val, 50_000)

    def batch(self, seed: int, step: int, size: int, accel: float, mask: str,
              part: slice = slice(None)) -> tuple[np.ndarray, np.ndarray]:
        """Images ``(B, H, W)`` complex64 and masks ``(B, H, W)`` of one training step.

        The step's global batch is ``size`` samples, all drawn from ``[seed, step]``; ``part``
        picks this process's share of it (under DDP rank ``r`` takes
        ``slice(r * b, (r + 1) * b)``), so the draws do not depend on the number of
        processes. ``accel`` and ``mask`` give the masks' undersampling and family
        (:func:`sample_mask`).

        Examples
        --------
        >>> d = TrainingData("brain", shape=(32, 24), val_slices=0)
        >>> x, m = d.batch(seed=0, step=5, size=4, accel=4, mask="vd", part=slice(2, 4))
        >>> x.shape, m.shape, bool((x == d.batch(0, 5, 4, 4, "vd")[0][2:]).all())
        ((2, 32, 24), (2, 32, 24), True)
        """
        rng = np.random.default_rng([seed, step])
        idx = rng.integers(0, len(self.train), size)
        draws = rng.integers(0, 2**31, (size, 2))
        flips = rng.random((size, 2)) < 0.5
        images, masks = [], []
        for k in range(size)[part]:
            x = self.train[idx[k]]
            x = x[::-1] if flips[k, 0] else x
            x = x[:, ::-1] if flips[k, 1] else x
            if self.magnitude:
                x = x * np.exp(1j * data.synthetic_phase(self.shape, int(draws[k, 0])))
            else:
                x = x * np.exp(2j * np.pi * (draws[k, 0] / 2**31))
            images.append(x)
            masks.append(sample_mask(self.shape, accel, mask, int(draws[k, 1])))
        return np.stack(images).astype(np.complex64), np.stack(masks)


#: Smallest standard deviation of a validation crop of :class:`NaturalImages` (images in
#: [0, 1]).
VAL_MIN_STD = 0.02


class NaturalImages:
    """Real training images for tasks on real images (super-resolution): augmented square
    crops of scikit-image's training images, its faces and the embedded brain's training
    slices (:class:`npgd.problems.sr.PatchSampler` with ``brain=True``; the held-out
    :data:`npgd.problems.sr.TEST_IMAGES` are never drawn), and with ``p_leaves`` synthetic
    dead-leaves images (:func:`npgd.train.synth.dead_leaves`) for that fraction of the
    training crops (``npgd train --task sr --data natural-leaves``).

    ``val`` holds ``val_slices`` fixed crops of the same images, drawn from ``val_seed``
    (validation on training images: the held-out ones are only ever scored), each with a
    standard deviation of at least :data:`VAL_MIN_STD`: on a constant crop every method is
    exact up to rounding, and its PSNR (hundreds of dB) would dominate the mean that picks
    the best weights.

    Examples
    --------
    >>> d = NaturalImages((24, 24), val_slices=2)
    >>> x = d.batch(seed=0, step=3, size=4, part=slice(2, 4))
    >>> x.shape, x.dtype, d.val.shape, bool((x == d.batch(0, 3, 4)[2:]).all())
    ((2, 24, 24), dtype('float32'), (2, 24, 24), True)
    >>> bool(d.val.std(axis=(1, 2)).min() >= VAL_MIN_STD)
    True
    """

    def __init__(self, shape: tuple[int, int] = (48, 48), val_slices: int = 6,
                 val_seed: int = 10**9, p_leaves: float = 0.0):
        from npgd.problems.sr import PatchSampler

        if len(shape) != 2 or shape[0] != shape[1]:
            raise UsageError(f"NaturalImages: shape must be square (H, H), got {shape!r}")
        if not 0.0 <= p_leaves <= 1.0:
            raise UsageError(f"NaturalImages: p_leaves must be in [0, 1], got {p_leaves!r}")
        self.shape, self.p_leaves = tuple(shape), float(p_leaves)
        self.sampler = PatchSampler(shape[0], brain=True)
        rng, kept = np.random.default_rng([0, val_seed]), [np.empty((0, *self.shape), np.float32)]
        while sum(map(len, kept)) < val_slices:
            x = self.sampler(rng, max(val_slices, 8))
            kept.append(x[x.std(axis=(1, 2)) >= VAL_MIN_STD])
        self.val = np.concatenate(kept)[:val_slices]

    def batch(self, seed: int, step: int, size: int,
              part: slice = slice(None)) -> np.ndarray:
        """Real images ``(B, H, W)`` float32 of one training step, drawn from
        ``[seed, step]``; ``part`` picks this process's share of the global batch. With
        ``p_leaves`` that fraction of the crops (on average) is replaced by dead-leaves
        images (:func:`npgd.train.synth.dead_leaves`), drawn from ``[seed, step, 1]`` so that
        ``p_leaves=0`` gives exactly the crops of the natural images alone."""
        x = self.sampler(np.random.default_rng([seed, step]), size)
        if self.p_leaves:
            from npgd.train.synth import dead_leaves

            leaf = np.random.default_rng([seed, step, 1]).random(size) < self.p_leaves
            for i in np.arange(size)[part]:  # only this process's share is drawn
                if leaf[i]:
                    x[i] = dead_leaves(np.random.default_rng([seed, step, 1, int(i)]),
                                       self.shape[0])
        return x[part]


def sample_mask(shape: tuple[int, int], accel: float, kind: str, seed: int) -> np.ndarray:
    """A mask of the family ``kind`` (``"vd"``, ``"radial"``, ``"lines"``) from ``seed``.

    Examples
    --------
    >>> sample_mask((192, 160), 5, "vd", 0).mean()
    np.float64(0.2)
    """
    if kind == "vd":
        return mri.vd_mask(shape, accel, seed=seed)
    if kind == "radial":
        return mri.vd_radial_mask(shape, accel, seed=seed)
    if kind == "lines":
        return np.broadcast_to(mri.line_mask(shape, accel, seed=seed), shape).copy()
    raise ValueError(f"mask must be 'vd', 'radial' or 'lines', got {kind!r}")
