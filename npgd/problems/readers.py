"""Image files in, ``(N, H, W)`` images out: NIfTI, DICOM, NumPy, fastMRI and BART files, and
pictures (PNG, JPEG, TIFF, BMP).

:func:`read_images` is the one entry point for users' data (``npgd eval``): it reads a file
or a folder, keeps complex images complex and odd shapes as they are, and says what it did.
Every unusable input (missing, truncated, NaN/Inf, all zeros, wrong rank, an empty folder,
an unknown extension) raises :class:`npgd._util.DataError`, a ``ValueError`` whose one line
names the file and what was expected. The lower-level readers behind it
(:func:`nifti_slices`, :func:`fastmri_slices`, :func:`read_cfl`, :func:`read_slices` for
training folders) stay public.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from npgd._optional import require
from npgd._util import DataError

__all__ = [
    "BUILTIN",
    "BUILTINS",
    "ImageSet",
    "fastmri_slices",
    "fit_shape",
    "foreground",
    "nifti_slices",
    "read_cfl",
    "read_images",
    "read_slices",
    "write_cfl",
]

#: The explicit spelling of the embedded sample (its test split); the bare name ``brain``
#: means the sample only when no file or folder of that name exists.
BUILTIN = "builtin:brain"

#: Built-in image sets by name: a function returning ``(N, H, W)`` images. The embedded
#: sample registers itself here (:mod:`npgd.problems.data`, imported with the package), so
#: that this module does not import the one that re-exports it.
BUILTINS: dict[str, Callable[[], np.ndarray]] = {}

_NIFTI = (".nii", ".nii.gz")
_ARRAYS = (".npy", ".npz")
_PICTURES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
_KNOWN = (*_NIFTI, *_ARRAYS, *_PICTURES, ".dcm", ".h5", ".cfl", ".hdr")



@dataclasses.dataclass(frozen=True)
class ImageSet:
    """What :func:`read_images` read: the source, the files, and every change it made.

    ``str()`` gives the one-line summary ``npgd eval`` prints.
    """

    source: str
    kind: str
    files: tuple[str, ...]
    shape: tuple[int, ...]
    dtype: str
    magnitude: bool = False
    skipped: int = 0
    dropped_empty: int = 0
    notes: tuple[str, ...] = ()

    def __str__(self) -> str:
        n, h, w = self.shape
        parts = [f"{n} {self.kind} image{'s' * (n != 1)} {h}x{w} {self.dtype} from "
                 f"{self.source} ({len(self.files)} file{'s' * (len(self.files) != 1)})"]
        if self.magnitude:
            parts.append("complex data turned into magnitude")
        if self.skipped:
            parts.append(f"skipped {self.skipped} hidden/sidecar file(s)")
        if self.dropped_empty:
            parts.append(f"dropped {self.dropped_empty} empty slice(s)")
        return "; ".join(parts + list(self.notes))


def _is_hidden(p: Path) -> bool:
    # "._x.nii.gz" is a macOS resource-fork sidecar (AppleDouble), not an image.
    return p.name.startswith(".")


def _existing(path: str | os.PathLike, arg: str) -> Path:
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{arg}: no such file: {p}")
    return p


def _nifti_array(p: Path, canonical: bool = False) -> np.ndarray:
    """The voxels of a NIfTI file in their stored kind (real as float32, complex as
    complex64), trailing singleton axes beyond the third removed; with ``canonical`` the
    first three axes of a 3-D or 4-D volume are turned to RAS (0 sagittal, 1 coronal, 2
    axial) by its affine."""
    import nibabel as nib

    try:
        img = nib.load(str(p))
        if canonical and len(img.shape) in (3, 4):
            img = nib.as_closest_canonical(img)
        kind = np.dtype(img.get_data_dtype()).kind
        vol = np.asarray(img.dataobj, dtype=np.complex64 if kind == "c" else np.float32)
    except Exception as e:  # nibabel raises many types for a corrupt or truncated file
        raise DataError(f"{p}: could not read NIfTI file ({type(e).__name__}: {e})") from e
    while vol.ndim > 3 and vol.shape[-1] == 1:
        vol = vol[..., 0]
    return vol


def _check_finite(a: np.ndarray, p: Path | str) -> None:
    bad = int(np.count_nonzero(~np.isfinite(a)))
    if bad:
        raise DataError(f"{p}: {bad} NaN/Inf value(s); expected finite intensities "
                        "(npgd does not guess missing voxels: fill or mask them first)")


def nifti_slices(
    path: str | os.PathLike,
    axis: int = 2,
    *,
    normalize: bool = True,
    min_fraction: float = 0.0,
) -> np.ndarray:
    """2-D slices of a real NIfTI volume (via nibabel) along ``axis``, as float32
    ``(N, H, W)`` in the stored voxel order (the training data's layout).

    With ``normalize`` each volume is divided by its 99.9th percentile and clipped to [0, 1];
    slices whose fraction of pixels above 5 % of that level is below ``min_fraction`` are
    dropped (empty slices at the edges of the field of view). A 3-D volume with one slice is
    one 2-D image.

    Raises DataError (a ValueError) for a missing or unreadable file, a complex image (use
    :func:`read_images`), NaN/Inf voxels, or a volume that is not 2-D or 3-D.

    Examples
    --------
    >>> import nibabel as nib, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "v.nii.gz")
    >>> nib.save(nib.Nifti1Image(np.ones((6, 5, 4), np.float32), np.eye(4)), path)
    >>> nifti_slices(path, axis=2).shape
    (4, 6, 5)
    """
    p = _existing(path, "path")
    vol = _nifti_array(p)
    if np.iscomplexobj(vol):
        raise DataError(f"{p}: complex NIfTI; nifti_slices reads magnitudes only, use "
                        "read_images() to keep the complex values")
    _check_finite(vol, p)
    if vol.ndim == 2:
        vol = vol[..., None]
    if vol.ndim != 3:
        raise DataError(f"{p}: expected a 2-D image or 3-D volume, got shape {vol.shape}")
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
    inverse DFT (:func:`npgd.linops.fourier.ifft2c`, the fastMRI convention) centre-cropped to
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

    from npgd.linops.fourier import ifft2c

    p = _existing(path, "path")
    try:
        with h5py.File(p, "r") as f:
            if "kspace" not in f:
                raise DataError(f"{p}: no 'kspace' dataset (keys: {sorted(f.keys())})")
            kspace = np.asarray(f["kspace"], dtype=np.complex64)
            target = np.asarray(f["reconstruction_esc"]) if "reconstruction_esc" in f else None
    except OSError as e:
        raise DataError(f"{p}: could not read fastMRI file ({e})") from e
    if kspace.ndim != 3:
        raise DataError(f"{p}: single-coil kspace must be (slices, H, W), got {kspace.shape}")
    image = ifft2c(kspace)
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

    Raises DataError (a ValueError) naming the missing file, a bad header or a data file
    whose size does not match it.

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
    hdr, cfl = (base.with_name(base.name + s) for s in (".hdr", ".cfl"))
    for f in (hdr, cfl):
        _existing(f, "name")
    lines = [ln for ln in hdr.read_text(errors="replace").splitlines()
             if ln.strip() and not ln.startswith("#")]
    try:
        dims = tuple(int(d) for d in lines[0].split())
    except (IndexError, ValueError):
        raise DataError(f"{hdr}: not a BART header (expected a line of dimensions)") from None
    count = int(np.prod(dims))
    size = cfl.stat().st_size
    if size != 8 * count:
        raise DataError(f"{cfl}: {size} bytes, but the header's dims {dims} need {8 * count}")
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
    """Training slices: all 2-D slices of a NIfTI file, a folder of ``*.nii``/``*.nii.gz``
    volumes (axial slices with at least 10 % foreground, :func:`nifti_slices`; float32
    magnitudes in [0, 1]) or a folder of fastMRI single-coil ``*.h5`` files (their complex
    images, :func:`fastmri_slices`), fitted to the first file's slice shape
    (:func:`fit_shape`). Hidden files and macOS ``._*`` sidecars are skipped.

    Raises DataError (a ValueError) for a missing path, a folder with no such files or with
    both kinds.

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
        files = sorted(p for p in path.iterdir()
                       if p.name.endswith((*_NIFTI, ".h5")) and not _is_hidden(p))
    else:
        raise DataError(f"data: no such file or folder: {path}")
    if not files:
        raise DataError(f"data: {path} holds no .nii, .nii.gz or .h5 files")
    kinds = {p.suffix == ".h5" for p in files}
    if len(kinds) > 1:
        raise DataError(f"data: {path} mixes NIfTI and fastMRI files; use one kind")
    if kinds == {True}:
        parts = [fastmri_slices(p)["image"] for p in files]
    else:
        parts = [nifti_slices(p, axis=2, min_fraction=0.1) for p in files]
    parts = [p for p in parts if len(p)]
    if not parts:
        raise DataError(f"data: {path}: every slice is empty (under 10 % foreground)")
    return np.concatenate([fit_shape(p, parts[0].shape[-2:]) for p in parts])


# ---------------------------------------------------------------------------------------
# read_images: one file or folder of any supported kind


def _kind(p: Path) -> str:
    name = p.name.lower()
    if name.endswith(_NIFTI):
        return "NIfTI"
    if name.endswith(_ARRAYS):
        return "NumPy"
    if name.endswith(".h5"):
        return "fastMRI"
    if name.endswith((".cfl", ".hdr")):
        return "BART"
    if name.endswith(_PICTURES):
        return "picture"
    if name.endswith(".dcm") or _has_dicom_preamble(p):
        return "DICOM"
    raise DataError(f"{p}: unknown file type; expected .nii, .nii.gz, .dcm (or a DICOM file "
                    "with its DICM preamble), .npy, .npz, .h5 (fastMRI), .cfl/.hdr (BART) or a "
                    "picture (.png, .jpg, .jpeg, .tif, .tiff, .bmp)")


def _has_dicom_preamble(p: Path) -> bool:
    try:
        with open(p, "rb") as f:
            head = f.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:] == b"DICM"


def _slice_volume(vol: np.ndarray, p: Path, axis: int | str) -> list[np.ndarray]:
    """(N, H, W) stacks of a 2-D or 3-D array: every slice along ``axis`` (or along each
    axis with ``"all"``), turned by 90 degrees so that the volume's second in-plane axis
    points up (anterior or superior at the top for RAS-stored scans)."""
    if vol.ndim == 3 and vol.shape.count(1) == 1:
        # One slice of a 3-D volume is a 2-D image, whichever axis is the singleton.
        vol = vol.reshape([s for s in vol.shape if s != 1])
    if vol.ndim == 2:
        return [np.rot90(vol)[None]]
    if vol.ndim != 3:
        raise DataError(f"{p}: expected a 2-D image or 3-D volume, got shape {vol.shape}")
    axes = (0, 1, 2) if axis == "all" else (axis,)
    return [np.rot90(np.moveaxis(vol, a, 0), axes=(1, 2)) for a in axes]


def _read_nifti(p: Path, axis: int | str, volume: int | str | None = None,
                notes: list[str] | None = None) -> list[np.ndarray]:
    vol = _nifti_array(p, canonical=True)
    if vol.ndim > 4:
        raise DataError(f"{p}: expected a 2-D image, a 3-D volume or a 4-D series of "
                        f"volumes, got shape {vol.shape}")
    if vol.ndim != 4:
        if volume is not None:
            raise DataError(f"{p}: volume={volume!r} asks for one volume of a 4-D file; this "
                            f"one has shape {vol.shape} (leave volume out)")
        return _slice_volume(vol, p, axis)
    # 4-D: diffusion, fMRI, multi-echo or multi-contrast series; volumes along the last axis.
    n = vol.shape[3]
    if volume == "all":
        picked = range(n)
    else:
        v = 0 if volume is None else volume
        if not -n <= v < n:
            raise DataError(f"{p}: volume {v} out of range; the file holds {n} volumes "
                            f"(0..{n - 1}), shape {vol.shape}")
        picked = [v % n]
        if notes is not None and volume is None:
            notes.append(f"volume 0 of the {n} in a 4-D file (--volume to choose one, or "
                         "'all')")
    return [s for v in picked for s in _slice_volume(vol[..., v], p, axis)]


def _read_array(p: Path, axis: int | str) -> list[np.ndarray]:
    try:
        loaded = np.load(p, allow_pickle=False)
    except Exception as e:  # truncated, not a NumPy file, object arrays
        raise DataError(f"{p}: could not read NumPy file ({type(e).__name__}: {e})") from e
    if isinstance(loaded, np.lib.npyio.NpzFile):
        with loaded:
            keys = list(loaded.keys())
            key = keys[0] if len(keys) == 1 else next(
                (k for k in ("images", "image") if k in keys), None)
            if key is None:
                raise DataError(f"{p}: .npz holds {keys}; expected one array or one named "
                                "'images' or 'image'")
            a = loaded[key]
    else:
        a = loaded
    if a.dtype.kind not in "biufc":
        raise DataError(f"{p}: expected a numeric array, got dtype {a.dtype}")
    if a.ndim == 2:
        return [a[None]]
    if a.ndim != 3:
        raise DataError(f"{p}: expected an array (H, W) or (N, H, W), got shape {a.shape}")
    return [a]


def _read_fastmri(p: Path, axis: int | str) -> list[np.ndarray]:
    return [fastmri_slices(p, crop=None)["image"]]


def _read_bart(p: Path, axis: int | str) -> list[np.ndarray]:
    base = p.with_name(p.name[: -len(p.suffix)])
    a = read_cfl(base)
    a = a.reshape([s for s in a.shape if s != 1] or [1])
    if a.ndim == 2:
        return [a[None]]
    if a.ndim != 3:
        raise DataError(f"{p}: expected BART dims (H, W) or (H, W, N) after dropping "
                        f"singletons, got {a.shape}")
    return [np.moveaxis(a, -1, 0)]


def _read_picture(p: Path, axis: int | str) -> list[np.ndarray]:
    # imageio decodes the formats; scikit-image (both the images extra) scales integers to
    # [0, 1] and turns colour grey, as npgd.problems.sr does for its bundled images.
    what = "reading PNG/JPEG/TIFF/BMP pictures"
    iio = require("imageio.v3", "images", what)
    color, util = require("skimage.color", "images", what), require("skimage.util", "images", what)
    try:
        a = np.asarray(iio.imread(p))
    except Exception as e:  # truncated, not a picture, an unknown codec
        raise DataError(f"{p}: could not read the picture ({type(e).__name__}: {e})") from e
    if a.dtype.kind not in "biuf":
        raise DataError(f"{p}: expected numeric pixels, got dtype {a.dtype}")
    a = util.img_as_float32(a)
    if a.ndim == 3 and a.shape[-1] in (2, 4):
        a = a[..., :-1]  # drop the alpha channel (grey + alpha, RGB + alpha)
    if a.ndim == 3 and a.shape[-1] == 3:
        a = color.rgb2gray(a).astype(np.float32)
    elif a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim != 2:
        raise DataError(f"{p}: expected a grey or colour picture (H, W), (H, W, 3) or "
                        f"(H, W, 4), got shape {a.shape}")
    return [a[None]]


def _dicom_key(ds: Any) -> tuple:
    # Slices sort by position along the slice normal, then by InstanceNumber.
    pos, ori = ds.get("ImagePositionPatient"), ds.get("ImageOrientationPatient")
    along = 0.0
    if pos is not None and ori is not None and len(ori) == 6:
        normal = np.cross(np.asarray(ori[:3], float), np.asarray(ori[3:], float))
        along = float(np.dot(normal, np.asarray(pos, float)))
    return along, int(ds.get("InstanceNumber") or 0)


#: What to install when a compressed DICOM cannot be decoded (the ``io`` extra brings GDCM).
_CODECS = ('pip install "npgd[io]" installs GDCM (JPEG lossless, JPEG-LS, JPEG 2000, RLE); '
           "12-bit JPEG Extended also needs pip install pylibjpeg pylibjpeg-libjpeg")


def _read_dicom(pydicom: Any, f: Path) -> tuple[Any, np.ndarray]:
    """One DICOM file's dataset and its decoded greyscale pixels.

    ``force=True`` also reads files without the File Meta header (ACR-NEMA style, as old
    archives and some exporters write them); their transfer syntax is the encoding they were
    read with."""
    try:
        ds = pydicom.dcmread(f, force=True)
    except Exception as e:  # not DICOM at all, or truncated before the pixels
        raise DataError(f"{f}: could not read DICOM file ({type(e).__name__}: {e})") from e
    if not any(k in ds for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        raise DataError(f"{f}: a DICOM file without pixel data (modality "
                        f"{ds.get('Modality') or 'not given'}); expected MR/CT images")
    if int(ds.get("SamplesPerPixel", 1) or 1) != 1:
        raise DataError(f"{f}: colour DICOM ({ds.SamplesPerPixel} samples per pixel); "
                        "expected greyscale MR/CT images")
    if str(ds.get("PhotometricInterpretation", "")).upper() == "PALETTE COLOR":
        raise DataError(f"{f}: a palette colour DICOM (its pixels index a colour table); "
                        "expected greyscale MR/CT images")
    meta = ds.file_meta
    if "TransferSyntaxUID" not in meta:
        implicit, little = getattr(ds, "original_encoding", (True, True))
        meta.TransferSyntaxUID = (pydicom.uid.ImplicitVRLittleEndian if implicit else
                                  pydicom.uid.ExplicitVRLittleEndian if little else
                                  pydicom.uid.ExplicitVRBigEndian)
    ts = meta.TransferSyntaxUID
    try:
        px = ds.pixel_array
    except Exception as e:  # truncated pixel data, unsupported codec
        why = " ".join(str(e).split())  # pydicom lists each decoder's reason on a line
        why = why if len(why) <= 300 else why[:297] + "..."
        if ts.is_compressed:
            raise DataError(f"{f}: could not decode its {ts.name} pixel data "
                            f"({type(e).__name__}: {why}); {_CODECS}") from e
        raise DataError(f"{f}: could not read DICOM image ({type(e).__name__}: {why})") from e
    return ds, px


def _series_of(pydicom: Any, files: list[Path], series: int | str | None
               ) -> tuple[list[Path], str | None]:
    """The files of one DICOM series (the only one, or the one whose SeriesNumber or
    SeriesInstanceUID is ``series``), read from the headers alone, before any pixels, and a
    note naming the series chosen among several (None if there was one)."""
    groups: dict[str, tuple[Any, str, list[Path]]] = {}
    for f in files:
        try:
            ds = pydicom.dcmread(f, force=True, stop_before_pixels=True)
        except Exception as e:  # not DICOM at all, or truncated in the header
            raise DataError(f"{f}: could not read DICOM file ({type(e).__name__}: {e})") from e
        uid = str(ds.get("SeriesInstanceUID", ""))
        if uid not in groups:
            groups[uid] = (ds.get("SeriesNumber"), str(ds.get("SeriesDescription", "") or ""),
                           [])
        groups[uid][2].append(f)

    def listing() -> str:
        return "; ".join(f"SeriesNumber {'(none)' if num is None else num}"
                         f"{' ' + repr(desc) if desc else ''}: {len(fs)} file(s)"
                         for num, desc, fs in sorted(groups.values(), key=lambda g: str(g[0])))

    where = files[0].parent if len(files) > 1 else files[0]
    if series is None:
        if len(groups) > 1:
            raise DataError(f"{where}: holds {len(groups)} DICOM series ({listing()}); "
                            "choose one with series= (npgd eval --series N)")
        return files, None
    hits = [uid for uid, (num, _, _) in groups.items()
            if str(series) == uid or (num is not None and str(series) == str(num))]
    if not hits:
        raise DataError(f"{where}: no DICOM series numbered {series!r}; it holds {listing()}")
    if len(hits) > 1:
        raise DataError(f"{where}: {len(hits)} series are numbered {series!r}; give the "
                        f"SeriesInstanceUID instead ({', '.join(sorted(hits))})")
    num, desc, chosen = groups[hits[0]]
    return chosen, (f"SeriesNumber {'(none)' if num is None else num}"
                    f"{' ' + repr(desc) if desc else ''}, one of the {len(groups)} series "
                    "in the folder" if len(groups) > 1 else None)


def _read_dicoms(files: list[Path], series: int | str | None = None,
                 notes: list[str] | None = None) -> tuple[list[np.ndarray], list[Path]]:
    """The images of one DICOM series in slice order, and the files they came from."""
    try:
        import pydicom
    except ImportError:
        raise ImportError('reading DICOM needs pydicom: pip install "npgd[io]"') from None
    chosen, note = _series_of(pydicom, files, series)
    if note is not None and notes is not None:
        notes.append(note)
    sets = []
    for f in chosen:
        ds, px = _read_dicom(pydicom, f)
        slope, icept = float(ds.get("RescaleSlope", 1) or 1), float(ds.get("RescaleIntercept", 0)
                                                                    or 0)
        img = px.astype(np.float32) * np.float32(slope) + np.float32(icept)
        sets.append((_dicom_key(ds), f, img if img.ndim == 3 else img[None]))
    sets.sort(key=lambda s: (s[0], str(s[1])))
    return [s[2] for s in sets], chosen


#: The readers of one file (path, axis) -> stacks; NIfTI (volume=) and DICOM (series=, a
#: whole folder at once) are called apart.
_READERS = {"NumPy": _read_array, "fastMRI": _read_fastmri, "BART": _read_bart,
            "picture": _read_picture}


def _files(path: Path) -> tuple[list[Path], int]:
    if path.is_file():
        if _is_hidden(path):
            raise DataError(f"{path}: a hidden file or macOS '._' sidecar, not an image")
        return [path], 0
    entries = sorted(q for q in path.iterdir() if q.is_file())
    hidden = [q for q in entries if _is_hidden(q)]
    files = [q for q in entries if not _is_hidden(q)]
    # A BART image is a .cfl/.hdr pair: read it once, through its .cfl.
    files = [q for q in files if not (q.name.endswith(".hdr")
                                      and q.with_suffix(".cfl").exists())]
    files = [q for q in files if q.name.lower().endswith(_KNOWN) or _has_dicom_preamble(q)]
    if not files:
        skipped = f"; skipped {len(hidden)} hidden" if hidden else ""
        raise DataError(f"{path}: folder holds no image files (.nii, .nii.gz, .dcm, .npy, "
                        f".npz, .h5, .cfl, .png, .jpg, .tif, .bmp){skipped}")
    return files, len(hidden)


def read_images(
    path: str | os.PathLike,
    *,
    axis: int | str = -1,
    volume: int | str | None = None,
    series: int | str | None = None,
    magnitude: bool = False,
    min_fraction: float = 0.0,
) -> tuple[np.ndarray, ImageSet]:
    """Images ``(N, H, W)`` from a file or folder, and an :class:`ImageSet` saying what was
    read.

    ========================  ==============================================================
    ``.nii`` / ``.nii.gz``    2-D image or 3-D volume (nibabel), its axes turned to RAS by
                              the affine (0 sagittal, 1 coronal, 2 axial); slices along
                              ``axis``; of a 4-D file (diffusion, fMRI, multi-echo) the
                              3-D volume ``volume`` along the fourth axis (default the
                              first, said in the notes; ``"all"``: every volume's slices)
    ``.dcm`` / DICOM folder   one image (or a multi-frame stack) per file, sorted along the
                              slice normal (ImagePositionPatient) then InstanceNumber, with
                              :math:`v = \\text{RescaleSlope}\\cdot p + \\text{RescaleIntercept}`
                              (needs the ``io`` extra: ``pip install "npgd[io]"``, whose
                              GDCM decodes JPEG lossless, JPEG-LS, JPEG 2000 and RLE);
                              files without the File Meta header are read too; of a
                              folder holding several series, the one whose SeriesNumber
                              (or SeriesInstanceUID) is ``series``
    ``.npy`` / ``.npz``       an array ``(H, W)`` or ``(N, H, W)``
    ``.h5``                   fastMRI single-coil: the complex images of its k-space
    ``.cfl`` / ``.hdr``       BART: dims ``(H, W)`` or ``(H, W, N)`` after singletons
    ``.png`` ``.jpg`` ...     a picture (``.jpeg``, ``.tif``, ``.tiff``, ``.bmp``; imageio,
                              the ``images`` extra): integers scaled to [0, 1] by their
                              type's maximum, colour turned grey by luminance
                              (scikit-image ``rgb2gray``), alpha dropped
    ``builtin:brain``         the embedded sample's 66 test slices (complex, synthetic
                              phase; all of them, whatever ``min_fraction``); plain
                              ``brain`` means it only when no such file exists
    ========================  ==============================================================

    Volumes are sliced along ``axis`` (default the last; ``"all"`` for the three
    orientations) and each slice is turned by 90 degrees, so RAS-stored scans show anterior
    or superior at the top; a 3-D volume with one slice is one 2-D image. In a folder,
    hidden files and macOS ``._*`` sidecars are skipped (and counted); images of different
    shapes are centre-fitted to the first one's (said in the notes). Real data come back as
    float32, complex data as complex64 (``magnitude=True`` takes :math:`|x|` and says so);
    shapes are kept as stored, odd or not square. All-zero slices are dropped (and counted),
    and so are slices with under ``min_fraction`` of their pixels above 5 % of the maximum.

    Raises
    ------
    DataError (ValueError)
        A missing path, a truncated or unreadable file, NaN or Inf values (an error rather
        than a guess: fill or mask them first), all-zero data, a wrong rank, an empty
        folder, a sidecar given as the file, an unknown extension.
    ImportError
        A DICOM file without pydicom installed.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "x.npy")
    >>> np.save(p, np.ones((181, 217)) * (1 + 1j))
    >>> x, info = read_images(p)
    >>> x.shape, x.dtype
    ((1, 181, 217), dtype('complex64'))
    >>> print(info)  # doctest: +ELLIPSIS
    1 NumPy image 181x217 complex64 from .../x.npy (1 file)
    """
    if not (isinstance(min_fraction, int | float) and 0 <= min_fraction < 1):
        raise ValueError(f"read_images: min_fraction must be in [0, 1), got {min_fraction!r}")
    if not (axis == "all" or (isinstance(axis, int) and not isinstance(axis, bool)
                              and -3 <= axis < 3)):
        raise ValueError(f"read_images: axis must be 0, 1, 2 (or -3..-1) or 'all', got {axis!r}")
    if not (volume is None or volume == "all"
            or (isinstance(volume, int) and not isinstance(volume, bool))):
        raise ValueError(f"read_images: volume must be an int, 'all' or None, got {volume!r}")
    if not (series is None or isinstance(series, str)
            or (isinstance(series, int) and not isinstance(series, bool))):
        raise ValueError(f"read_images: series must be an int, a str or None, got {series!r}")
    text = os.fspath(path)
    p = Path(text)
    notes: list[str] = []
    if text == BUILTIN or (text == "brain" and not p.exists()):
        if volume is not None or series is not None:
            raise DataError(f"{text}: volume= and series= pick part of a 4-D NIfTI file or "
                            "a DICOM folder; the embedded sample is 2-D slices (leave them "
                            "out)")
        stack, files, kind = [BUILTINS[BUILTIN]()], (BUILTIN,), "builtin"
        skipped, min_fraction = 0, 0.0  # the documented test set, whole
    elif not p.exists():
        raise DataError(f"{p}: no such file or folder")
    else:
        files_, skipped = _files(p)
        kinds = {_kind(f) for f in files_}
        if len(kinds) > 1:
            raise DataError(f"{p}: folder mixes {', '.join(sorted(kinds))} files; "
                            "expected one kind")
        kind = kinds.pop()
        if volume is not None and kind != "NIfTI":
            raise DataError(f"{p}: volume={volume!r} picks a volume of a 4-D NIfTI file; "
                            f"these are {kind} files (leave volume out)")
        if series is not None and kind != "DICOM":
            raise DataError(f"{p}: series={series!r} picks a series of DICOM files; these "
                            f"are {kind} files (leave series out)")
        if kind == "DICOM":
            stack, files_ = _read_dicoms(files_, series, notes)
        elif kind == "NIfTI":
            stack = [s for f in files_ for s in _read_nifti(f, axis, volume, notes)]
        else:
            stack = [s for f in files_ for s in _READERS[kind](f, axis)]
        files = tuple(str(f) for f in files_)
    return _finish(stack, text, kind, files, skipped, magnitude, min_fraction,
                   tuple(dict.fromkeys(notes)))


def foreground(x: np.ndarray, min_fraction: float = 0.0) -> np.ndarray:
    """Which images of ``x`` ``(N, H, W)`` are not empty: not all zero, and with at least
    ``min_fraction`` of their pixels above 5 % of the largest magnitude in ``x``.

    Examples
    --------
    >>> x = np.zeros((3, 4, 4)); x[1] = 1; x[2, 0, 0] = 1
    >>> foreground(x), foreground(x, 0.5)
    (array([False,  True,  True]), array([False,  True, False]))
    """
    mag = np.abs(x)
    keep = mag.max(axis=(1, 2)) > 0
    if min_fraction > 0:
        keep &= (mag > 0.05 * mag.max()).mean(axis=(1, 2)) >= min_fraction
    return keep


def _finish(stack: list[np.ndarray], source: str, kind: str, files: tuple[str, ...],
            skipped: int, magnitude: bool, min_fraction: float,
            read_notes: tuple[str, ...] = ()) -> tuple[np.ndarray, ImageSet]:
    notes = list(read_notes)
    shape = stack[0].shape[-2:]
    if min(shape) < 2:
        raise DataError(f"{source}: images are {shape[0]}x{shape[1]}; expected at least 2x2")
    if any(s.shape[-2:] != shape for s in stack):
        notes.append(f"other shapes centre-fitted to {shape[0]}x{shape[1]}")
        stack = [fit_shape(s, shape) for s in stack]
    x = np.concatenate(stack)
    _check_finite(x, source)
    if np.iscomplexobj(x):
        x = np.abs(x).astype(np.float32) if magnitude else x.astype(np.complex64)
    else:
        x, magnitude = x.astype(np.float32), False
    if not x.any():
        raise DataError(f"{source}: every value is zero; expected an image")
    keep = foreground(x, min_fraction)
    if not keep.any():
        raise DataError(f"{source}: no slice has {min_fraction:.0%} of its pixels above 5 % "
                        "of the maximum; expected images with some foreground")
    x = np.ascontiguousarray(x[keep])
    info = ImageSet(source, kind, files, x.shape, str(x.dtype), magnitude, skipped,
                    int((~keep).sum()), tuple(notes))
    return x, info
