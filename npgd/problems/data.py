"""Data: the embedded brain sample, random phantoms and the smooth synthetic phase.

The file readers live in :mod:`npgd.problems.readers`; their names stay importable from
here (``data.read_cfl``, ``data.read_slices``, ...) for existing scripts.
"""

from __future__ import annotations

from importlib import resources

import numpy as np

from npgd.problems import readers
from npgd.problems.readers import (
    fastmri_slices,
    fit_shape,
    nifti_slices,
    read_cfl,
    read_slices,
    write_cfl,
)

__all__ = [
    "TEST_Z_MM",
    "brain_slices",
    "fit_shape",
    "read_slices",
    "with_synthetic_phase",
    "synthetic_phase",
    "nifti_slices",
    "fastmri_slices",
    "read_cfl",
    "write_cfl",
    "phantom",
]

#: Axial slices of the embedded sample at MNI z >= +10 mm are test data, never trained on.
TEST_Z_MM = 10.0

_SAMPLE = "ch2better_axial_1mm.npz"


def synthetic_phase(shape: tuple[int, int], seed: int) -> np.ndarray:
    """A smooth random phase map in radians, as MRI phase from B0 and coil variation looks.

    :math:`\\varphi = \\pi\\,(a_1 Y + a_2 X + a_3 XY + a_4(X^2 + Y^2)) + b\\,e^{-\\|p - c\\|^2
    / 2 s^2}` on :math:`[-1, 1]^2`, coefficients drawn from ``seed`` (:math:`|a_i| \\le 0.5`,
    :math:`|b| \\le \\pi/2`).

    Examples
    --------
    >>> phi = synthetic_phase((192, 160), 0)
    >>> phi.shape, bool(np.abs(phi).max() < 2 * np.pi)
    ((192, 160), True)
    """
    rng = np.random.default_rng(seed)
    Y, X = np.meshgrid(np.linspace(-1, 1, shape[0]), np.linspace(-1, 1, shape[1]), indexing="ij")
    a = rng.uniform(-0.5, 0.5, 4)
    b, (cy, cx), s = rng.uniform(-np.pi / 2, np.pi / 2), rng.uniform(-0.5, 0.5, 2), 0.4
    poly = a[0] * Y + a[1] * X + a[2] * X * Y + a[3] * (X**2 + Y**2)
    return np.pi * poly + b * np.exp(-((Y - cy) ** 2 + (X - cx) ** 2) / (2 * s**2))


def with_synthetic_phase(images: np.ndarray, first_seed: int) -> np.ndarray:
    """Complex64 images :math:`x_i e^{j\\varphi_i}` from magnitudes :math:`x_i` ``(N, H, W)``,
    :math:`\\varphi_i` = :func:`synthetic_phase` seeded with ``first_seed + i``.

    Examples
    --------
    >>> z = with_synthetic_phase(np.ones((2, 8, 8), np.float32), 0)
    >>> z.dtype, bool(np.allclose(np.abs(z), 1))
    (dtype('complex64'), True)
    """
    phase = np.stack([synthetic_phase(images.shape[-2:], first_seed + i)
                      for i in range(len(images))])
    return (images * np.exp(1j * phase)).astype(np.complex64)


def brain_slices(
    split: str = "test", dtype: str = "complex64", phase: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """The embedded real sample: axial 1 mm slices of the Colin27 ``ch2better`` T1 brain.

    192×160 slices (anterior at the top), magnitude scaled to [0, 1], times a smooth synthetic
    phase (:func:`synthetic_phase`, seeded by the slice's MNI z, so every call gives the same
    images). The split used everywhere in npgd: ``"test"`` = slices at MNI
    :math:`z \\ge` ``TEST_Z_MM`` (+10 mm), ``"train"`` = the slices below, ``"all"``.

    Returns
    -------
    images : ndarray, (N, 192, 160)
        Complex (or real magnitude with ``phase=False``) in ``dtype``.
    z_mm : ndarray, (N,)
        MNI z of each slice in mm.

    Examples
    --------
    >>> x, z = brain_slices("test")
    >>> x.shape[1:], x.dtype, bool(z.min() >= TEST_Z_MM)
    ((192, 160), dtype('complex64'), True)
    """
    if split not in ("test", "train", "all"):
        raise ValueError(f"brain_slices: split must be 'test', 'train' or 'all', got {split!r}")
    with resources.files("npgd.problems").joinpath("sample_data", _SAMPLE).open("rb") as f:
        data = np.load(f)
        mag, z = data["magnitude"].astype(np.float64) / 255.0, data["z_mm"].astype(np.float64)
    keep = {"test": z >= TEST_Z_MM, "train": z < TEST_Z_MM, "all": np.ones(z.shape, bool)}[split]
    mag, z = mag[keep], z[keep]
    if not phase:
        return mag.astype(np.empty(0, dtype).real.dtype), z
    phi = np.stack([synthetic_phase(mag.shape[1:], int(round(zz * 4)) + 1000) for zz in z])
    return (mag * np.exp(1j * phi)).astype(dtype), z


def phantom(
    shape: tuple[int, int] = (64, 64),
    *,
    seed: int | None = None,
    n_ellipses: int = 10,
    complex_: bool = True,
    dtype: str | None = None,
) -> np.ndarray:
    """A random piecewise-constant phantom: ellipses inside a head-like oval, for tests.

    Magnitude in [0, 1]; with ``complex_`` times :func:`synthetic_phase`.

    Examples
    --------
    >>> phantom((32, 32), seed=0).shape
    (32, 32)
    """
    rng = np.random.default_rng(seed)
    Y, X = np.meshgrid(np.linspace(-1, 1, shape[0]), np.linspace(-1, 1, shape[1]), indexing="ij")
    img = np.where((Y / 0.9) ** 2 + (X / 0.75) ** 2 < 1, 0.5, 0.0)
    for _ in range(n_ellipses):
        cy, cx = rng.uniform(-0.5, 0.5, 2)
        ry, rx = rng.uniform(0.05, 0.3, 2)
        img += rng.uniform(-0.25, 0.45) * (((Y - cy) / ry) ** 2 + ((X - cx) / rx) ** 2 < 1)
    img = np.clip(img, 0, 1)
    if complex_:
        img = img * np.exp(1j * synthetic_phase(shape, int(rng.integers(2**31))))
    return img.astype(dtype or ("complex64" if complex_ else "float32"))


readers.BUILTINS[readers.BUILTIN] = lambda: brain_slices("test")[0]
