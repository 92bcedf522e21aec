"""Data: the embedded brain sample, NIfTI and fastMRI readers, BART files, phantoms."""

from __future__ import annotations

import os
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

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


def fit_shape(images: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Centre crop and/or zero pad the last two axes to ``shape``.

    Examples
    --------
    >>> fit_shape(np.ones((1, 4, 6)), (6, 4))[0].sum(axis=1)
    array([0., 4., 4., 4., 4., 0.])
    """
    out = np.zeros(images.shape[:-2] + tuple(shape), images.dtype)
    H, W = images.shape[-2:]
    h, w = min(H, shape[0]), min(W, shape[1])
    si, sj = (H - h) // 2, (W - w) // 2
    di, dj = (shape[0] - h) // 2, (shape[1] - w) // 2
    out[..., di : di + h, dj : dj + w] = images[..., si : si + h, sj : sj + w]
    return out


def read_slices(path: str | os.PathLike) -> np.ndarray:
    """All 2-D slices of a NIfTI file, a folder of ``*.nii``/``*.nii.gz`` volumes (axial
    slices with at least 10 % foreground, :func:`nifti_slices`; float32 magnitudes in [0, 1])
    or a folder of fastMRI single-coil ``*.h5`` files (their complex images,
    :func:`fastmri_slices`), fitted to the first file's slice shape (:func:`fit_shape`).

    Raises FileNotFoundError for a missing path and ValueError for a folder with no such
    files or with both kinds.

    Examples
    --------
    >>> import nibabel as nib, tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> for k, n in enumerate((6, 8)):
    ...     nib.save(nib.Nifti1Image(np.ones((n, 5, 3), np.float32), np.eye(4)),
    ...              os.path.join(d, f"v{k}.nii.gz"))
    >>> read_slices(d).shape
    (6, 6, 5)
    """
    path = Path(path)
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = sorted(p for p in path.iterdir() if p.name.endswith((".nii", ".nii.gz", ".h5")))
    else:
        raise FileNotFoundError(f"data: no such file or folder: {path}")
    if not files:
        raise ValueError(f"data: {path} holds no .nii, .nii.gz or .h5 files")
    kinds = {p.suffix == ".h5" for p in files}
    if len(kinds) > 1:
        raise ValueError(f"data: {path} mixes NIfTI and fastMRI files; use one kind")
    if kinds == {True}:
        parts = [fastmri_slices(p)["image"] for p in files]
    else:
        parts = [nifti_slices(p, axis=2, min_fraction=0.1) for p in files]
    return np.concatenate([fit_shape(p, parts[0].shape[-2:]) for p in parts])


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


def _existing(path: str | os.PathLike, arg: str) -> Path:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{arg}: no such file: {p}")
    return p


def nifti_slices(
    path: str | os.PathLike,
    axis: int = 2,
    *,
    normalize: bool = True,
    min_fraction: float = 0.0,
) -> np.ndarray:
    """2-D slices of a NIfTI volume (via nibabel) along ``axis``, as float32 ``(N, H, W)``.

    With ``normalize`` each volume is divided by its 99.9th percentile and clipped to [0, 1];
    slices whose fraction of pixels above 5 % of that level is below ``min_fraction`` are
    dropped (empty slices at the edges of the field of view).

    Raises FileNotFoundError for a missing file and ValueError naming the file when nibabel
    cannot read it or the image is not 3-D.

    Examples
    --------
    >>> import nibabel as nib, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "v.nii.gz")
    >>> nib.save(nib.Nifti1Image(np.ones((6, 5, 4), np.float32), np.eye(4)), path)
    >>> nifti_slices(path, axis=2).shape
    (4, 6, 5)
    """
    import nibabel as nib

    p = _existing(path, "path")
    try:
        vol = np.asarray(nib.load(str(p)).dataobj, dtype=np.float32)
    except Exception as e:  # nibabel raises many types for a corrupt file
        raise ValueError(f"could not read NIfTI file {p}: {e}") from e
    vol = np.squeeze(vol)
    if vol.ndim != 3:
        raise ValueError(f"{p}: expected a 3-D volume, got shape {vol.shape}")
    slices = np.moveaxis(vol, axis, 0)
    if normalize:
        scale = float(np.percentile(vol, 99.9)) or 1.0
        slices = np.clip(slices / scale, 0, 1)
    if min_fraction > 0:
        level = 0.05 * (1.0 if normalize else float(slices.max()))
        slices = slices[(slices > level).mean(axis=(1, 2)) >= min_fraction]
    return np.ascontiguousarray(slices, dtype=np.float32)


def fastmri_slices(
    path: str | os.PathLike, crop: tuple[int, int] | None = (320, 320)
) -> dict[str, np.ndarray]:
    """Read a fastMRI single-coil HDF5 file (h5py).

    Returns a dict with ``"kspace"`` (N, H, W) complex64 as stored, ``"image"``: its centred
    inverse DFT (:func:`npgd.backend.ifft2c`, the fastMRI convention) centre-cropped to
    ``crop``, and ``"target"``: the file's ``reconstruction_esc`` when present.

    Examples
    --------
    >>> import h5py, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "file.h5")
    >>> with h5py.File(path, "w") as f:
    ...     f["kspace"] = np.ones((2, 8, 6), np.complex64)
    >>> out = fastmri_slices(path, crop=(4, 4))
    >>> out["kspace"].shape, out["image"].shape
    ((2, 8, 6), (2, 4, 4))
    """
    import h5py

    from npgd import backend

    p = _existing(path, "path")
    try:
        with h5py.File(p, "r") as f:
            if "kspace" not in f:
                raise ValueError(f"{p}: no 'kspace' dataset (keys: {sorted(f.keys())})")
            kspace = np.asarray(f["kspace"], dtype=np.complex64)
            target = np.asarray(f["reconstruction_esc"]) if "reconstruction_esc" in f else None
    except OSError as e:
        raise ValueError(f"could not read fastMRI file {p}: {e}") from e
    if kspace.ndim != 3:
        raise ValueError(f"{p}: single-coil kspace must be (slices, H, W), got {kspace.shape}")
    image = backend.ifft2c(kspace)
    if crop is not None:
        H, W = image.shape[-2:]
        ch, cw = min(crop[0], H), min(crop[1], W)
        image = image[..., (H - ch) // 2 : (H - ch) // 2 + ch, (W - cw) // 2 : (W - cw) // 2 + cw]
    out = {"kspace": kspace, "image": np.ascontiguousarray(image)}
    if target is not None:
        out["target"] = target
    return out


def read_cfl(name: str | os.PathLike) -> np.ndarray:
    """Read a BART ``name.cfl``/``name.hdr`` pair as a complex64 array (BART's dimension order).

    Raises FileNotFoundError naming the missing file, ValueError for a bad header or a data
    file whose size does not match it.

    Examples
    --------
    >>> import tempfile, os
    >>> name = os.path.join(tempfile.mkdtemp(), "img")
    >>> write_cfl(name, np.arange(6).reshape(2, 3))
    >>> read_cfl(name).real
    array([[0., 1., 2.],
           [3., 4., 5.]], dtype=float32)
    """
    base = Path(name)
    hdr = _existing(base.with_name(base.name + ".hdr"), "name")
    cfl = _existing(base.with_name(base.name + ".cfl"), "name")
    lines = [ln for ln in hdr.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    try:
        dims = tuple(int(d) for d in lines[0].split())
    except (IndexError, ValueError):
        raise ValueError(f"{hdr}: not a BART header (expected a line of dimensions)") from None
    count = int(np.prod(dims))
    size = cfl.stat().st_size
    if size != 8 * count:
        raise ValueError(f"{cfl}: {size} bytes, but the header's dims {dims} need {8 * count}")
    data = np.fromfile(cfl, dtype="<c8", count=count)
    while len(dims) > 2 and dims[-1] == 1:
        dims = dims[:-1]
    return data.reshape(dims, order="F")


def write_cfl(name: str | os.PathLike, array: Any) -> None:
    """Write ``array`` as BART ``name.cfl``/``name.hdr`` (complex64, column-major), atomically:
    each file is written next to its destination under a temporary name, then renamed.

    Examples
    --------
    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> write_cfl(os.path.join(d, "k"), np.ones((3, 2)) * 1j)
    >>> read_cfl(os.path.join(d, "k"))
    array([[0.+1.j, 0.+1.j],
           [0.+1.j, 0.+1.j],
           [0.+1.j, 0.+1.j]], dtype=complex64)
    """
    base = Path(name)
    a = np.asarray(array)
    if a.dtype.kind not in "biufc":
        raise TypeError(f"write_cfl: array must be numeric, got dtype {a.dtype}")
    header = "# Dimensions\n" + " ".join(str(d) for d in a.shape) + "\n"
    payload = np.asfortranarray(a.astype("<c8")).tobytes(order="F")
    for suffix, content in ((".hdr", header.encode()), (".cfl", payload)):
        dest = base.with_name(base.name + suffix)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=dest.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(content)
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


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
