"""Multi-coil k-space files in, ``(slices, coils, H, W)`` complex64 out.

:func:`read_kspace` reads one file of any supported kind:

==================  ==========================================================================
fastMRI ``.h5``     multi-coil ``kspace`` dataset, ``(slices, coils, H, W)`` as stored
ISMRMRD ``.h5``     the acquisitions of the ``dataset`` group (needs the optional ``ismrmrd``
                    package: ``pip install "npgd[io]"``), placed on the encoded matrix;
                    ``.mrd`` is read the same way
BART ``.cfl``       dims ``(x, y, z, coils, ..., slices)``: BART's readout, phase encode,
                    coil (dim 3) and slice (dim 13, or z for a stack of 2-D slices) axes
==================  ==========================================================================

k-space is centred (DC at ``(H//2, W//2)``, :class:`npgd.linops.FFT2`'s convention, which is
fastMRI's and BART's). Every unusable file (missing, unreadable, wrong rank, NaN/Inf, all
zero) raises :class:`npgd._util.DataError`, a ``ValueError`` whose one line names the file
and what was expected.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from npgd._optional import require
from npgd._util import DataError
from npgd.problems.readers import read_cfl

__all__ = ["bart_kspace", "fastmri_kspace", "is_multicoil", "ismrmrd_kspace", "read_kspace"]

#: File name endings of HDF5 k-space (ISMRMRD files come as ``.h5`` or ``.mrd``).
_HDF5 = (".h5", ".mrd")

# BART's dimension indices (src/misc/mri.h): readout, phase 1, phase 2, coil, slice.
_BART_X, _BART_Y, _BART_Z, _BART_COIL, _BART_SLICE = 0, 1, 2, 3, 13


def _file(path: str | os.PathLike) -> Path:
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: no such file")
    return p


def _checked(k: np.ndarray, p: Path | str) -> np.ndarray:
    if k.ndim != 4:
        raise DataError(f"{p}: multi-coil k-space must be (slices, coils, H, W), got shape "
                        f"{k.shape}")
    if min(k.shape) < 1 or min(k.shape[-2:]) < 2:
        raise DataError(f"{p}: k-space of shape {k.shape}; expected at least one slice and "
                        "coil and 2x2 samples")
    bad = int(np.count_nonzero(~np.isfinite(k)))
    if bad:
        raise DataError(f"{p}: {bad} NaN/Inf k-space value(s); expected finite samples")
    if not k.any():
        raise DataError(f"{p}: the k-space is all zero; expected measured samples")
    return np.ascontiguousarray(k, dtype=np.complex64)


def fastmri_kspace(path: str | os.PathLike) -> np.ndarray:
    """The ``kspace`` dataset of a fastMRI multi-coil HDF5 file, ``(slices, coils, H, W)``
    complex64 (H: readout, W: phase encodes, as stored).

    Examples
    --------
    >>> import h5py, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "file_brain.h5")
    >>> with h5py.File(p, "w") as f:
    ...     f["kspace"] = np.ones((2, 4, 8, 6), np.complex64)
    >>> fastmri_kspace(p).shape
    (2, 4, 8, 6)
    """
    h5py = require("h5py", "io", "reading fastMRI files")
    p = _file(path)
    try:
        with h5py.File(p, "r") as f:
            if "kspace" not in f:
                raise DataError(f"{p}: no 'kspace' dataset (keys: {sorted(f.keys())}); "
                                "expected a fastMRI multi-coil file")
            k = np.asarray(f["kspace"])
    except OSError as e:
        raise DataError(f"{p}: could not read HDF5 file ({e})") from e
    if k.ndim == 3:
        raise DataError(f"{p}: kspace of shape {k.shape} is single-coil (slices, H, W); "
                        "expected multi-coil (slices, coils, H, W) (single-coil files: "
                        "npgd.problems.readers.read_images)")
    if k.dtype.kind not in "fc":
        raise DataError(f"{p}: kspace has dtype {k.dtype}; expected complex samples")
    return _checked(k, p)


def ismrmrd_kspace(path: str | os.PathLike, dataset: str = "dataset") -> np.ndarray:
    """The k-space of an ISMRMRD file's 2-D Cartesian acquisitions, ``(slices, coils, H, W)``
    complex64 with H the readout samples and W the phase-encode lines of the encoded matrix
    (``encodedSpace.matrixSize.y`` of the XML header). Each readout goes to its
    ``kspace_encode_step_1`` line, shifted so that the header's centre line lands on
    ``W // 2``; lines never acquired stay zero. Noise-measurement scans are skipped; repeated
    lines (averages) are summed.

    Needs the optional ``ismrmrd`` package (``pip install "npgd[io]"``).

    Examples
    --------
    >>> import tempfile, os
    >>> ismrmrd_kspace(os.path.join(tempfile.mkdtemp(), "scan.h5"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    npgd._util.DataError: .../scan.h5: no such file
    """
    p = _file(path)
    ismrmrd = require("ismrmrd", "io", "reading ISMRMRD files")
    groups = _h5_keys(p)
    if dataset not in groups:
        raise DataError(f"{p}: no ISMRMRD group {dataset!r} (keys: {groups})")
    dset = ismrmrd.Dataset(str(p), dataset, create_if_needed=False)
    try:
        n = dset.number_of_acquisitions()
        acqs = [dset.read_acquisition(i) for i in range(n)]
        header = _ismrmrd_header(ismrmrd, dset)
    except DataError:
        raise
    except Exception as e:
        raise DataError(f"{p}: could not read ISMRMRD acquisitions ({type(e).__name__}: "
                        f"{e})") from e
    finally:
        dset.close()
    acqs = [a for a in acqs if not a.is_flag_set(ismrmrd.ACQ_IS_NOISE_MEASUREMENT)]
    if not acqs:
        raise DataError(f"{p}: no imaging acquisitions in ISMRMRD dataset {dataset!r}")
    if any(a.idx.kspace_encode_step_2 != 0 for a in acqs):
        raise DataError(f"{p}: 3-D encoded ISMRMRD data (kspace_encode_step_2 > 0); expected "
                        "2-D Cartesian slices")
    shapes = {a.data.shape for a in acqs}
    if len(shapes) != 1:
        raise DataError(f"{p}: acquisitions of different shapes {sorted(shapes)}; expected "
                        "one (coils, samples) shape")
    coils, samples = shapes.pop()
    lines = [a.idx.kspace_encode_step_1 for a in acqs]
    W, centre = header if header is not None else (max(lines) + 1, None)
    shift = 0 if centre is None else W // 2 - centre
    slices = [a.idx.slice for a in acqs]
    k = np.zeros((max(slices) + 1, coils, samples, W), np.complex64)
    for a, s, line in zip(acqs, slices, lines, strict=True):
        col = line + shift
        if not 0 <= col < W:
            raise DataError(f"{p}: encode step {line} lies outside the {W} phase-encode lines "
                            "of the header's encoded matrix")
        k[s, :, :, col] += a.data
    return _checked(k, p)


def _ismrmrd_header(ismrmrd: Any, dset: Any) -> tuple[int, int | None] | None:
    """(phase-encode lines, centre line) from the XML header, or None without one."""
    try:
        xml = dset.read_xml_header()
    except Exception:  # a dataset without a header: place the lines as numbered
        return None
    enc = ismrmrd.xsd.CreateFromDocument(xml).encoding[0]
    W = int(enc.encodedSpace.matrixSize.y)
    limits = enc.encodingLimits.kspace_encoding_step_1
    return W, (None if limits is None else int(limits.center))


def _h5_keys(p: Path) -> list[str]:
    h5py = require("h5py", "io", "reading HDF5 k-space files")
    try:
        with h5py.File(p, "r") as f:
            return sorted(f.keys())
    except OSError as e:
        raise DataError(f"{p}: could not read HDF5 file ({e})") from e


def bart_kspace(name: str | os.PathLike) -> np.ndarray:
    """A BART ``name.cfl``/``name.hdr`` k-space, ``(slices, coils, H, W)`` complex64 with H
    BART's readout (dim 0), W its first phase encode (dim 1), the coils from dim 3 and the
    slices from dim 13 (or from dim 2, a stack of 2-D slices); other dimensions must be 1.

    Examples
    --------
    >>> import tempfile, os
    >>> from npgd.problems.readers import write_cfl
    >>> name = os.path.join(tempfile.mkdtemp(), "k")
    >>> write_cfl(name, np.ones((8, 6, 1, 4)))  # x, y, z, coils
    >>> bart_kspace(name).shape
    (1, 4, 8, 6)
    """
    a = read_cfl(name)
    a = a[(...,) + (None,) * (16 - a.ndim)]
    dims = a.shape
    used = (_BART_X, _BART_Y, _BART_Z, _BART_COIL, _BART_SLICE)
    extra = [d for d in range(16) if d not in used and dims[d] != 1]
    if extra or (dims[_BART_Z] > 1 and dims[_BART_SLICE] > 1):
        raise DataError(f"{name}: BART dims {dims[: max(used) + 1]}; expected readout, phase "
                        "encode, coils (dim 3) and slices (dim 13 or 2) only")
    k = np.moveaxis(a, (_BART_Z, _BART_SLICE, _BART_COIL, _BART_X, _BART_Y), (0, 1, 2, 3, 4))
    k = k.reshape((-1, dims[_BART_COIL], dims[_BART_X], dims[_BART_Y]))
    return _checked(k, name)


def read_kspace(path: str | os.PathLike, *, dataset: str = "dataset") -> np.ndarray:
    """Multi-coil k-space ``(slices, coils, H, W)`` complex64 from a fastMRI or ISMRMRD
    ``.h5``/``.mrd`` file (told apart by their contents: a ``kspace`` dataset or an ISMRMRD
    group named ``dataset``) or a BART ``.cfl``/``.hdr`` pair; see the module's table.

    Raises
    ------
    DataError (ValueError)
        A missing or unreadable file, an unknown kind, a wrong rank, NaN/Inf or all-zero
        k-space.
    ImportError
        An ISMRMRD file without the ``ismrmrd`` package.

    Examples
    --------
    >>> import h5py, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "k.h5")
    >>> with h5py.File(p, "w") as f:
    ...     f["kspace"] = np.ones((3, 8, 16, 12), np.complex64)
    >>> read_kspace(p).shape
    (3, 8, 16, 12)
    >>> read_kspace(os.path.join(os.path.dirname(p), "nothing.h5"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    npgd._util.DataError: .../nothing.h5: no such file
    """
    p = Path(path)
    name = p.name.lower()
    if name.endswith((".cfl", ".hdr")):
        return bart_kspace(p.with_name(p.name[: -len(p.suffix)]))
    if not name.endswith(_HDF5):
        raise DataError(f"{p}: unknown k-space file type; expected .h5 (fastMRI or ISMRMRD), "
                        ".mrd (ISMRMRD) or .cfl/.hdr (BART)")
    keys = _h5_keys(_file(p))
    if "kspace" in keys:
        return fastmri_kspace(p)
    if dataset in keys:
        return ismrmrd_kspace(p, dataset)
    raise DataError(f"{p}: neither a fastMRI file (no 'kspace' dataset) nor an ISMRMRD file "
                    f"(no {dataset!r} group)")


def is_multicoil(path: str | os.PathLike, *, dataset: str = "dataset") -> bool:
    """Whether ``path`` is an HDF5 file (``.h5``, ``.mrd``) of multi-coil k-space, judged
    from its layout without reading the samples: a 4-D ``kspace`` dataset (fastMRI
    multi-coil) or an ISMRMRD group named ``dataset`` (raw acquisitions, always k-space).
    Anything else is False: a folder, a name that is no file, a fastMRI single-coil file, an
    unreadable file (its reader reports why), and BART ``.cfl`` files, which hold images as
    well as k-space with the same layout (``npgd eval --multicoil`` reads those as k-space).

    Examples
    --------
    >>> import h5py, tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> for name, shape in (("multi.h5", (2, 4, 8, 6)), ("single.h5", (2, 8, 6))):
    ...     with h5py.File(os.path.join(d, name), "w") as f:
    ...         f["kspace"] = np.ones(shape, np.complex64)
    >>> [is_multicoil(os.path.join(d, n)) for n in ("multi.h5", "single.h5", "none.h5")]
    [True, False, False]
    """
    p = Path(path)
    if not (p.name.lower().endswith(_HDF5) and p.is_file()):
        return False
    h5py = require("h5py", "io", "reading HDF5 k-space files")
    try:
        with h5py.File(p, "r") as f:
            k = f.get("kspace")
            return ((isinstance(k, h5py.Dataset) and k.ndim == 4)
                    or isinstance(f.get(dataset), h5py.Group))
    except OSError:
        return False
