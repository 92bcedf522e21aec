"""problems.kspace: multi-coil k-space readers (fastMRI, ISMRMRD, BART) and their errors."""

import sys

import h5py
import numpy as np
import pytest

from npgd._util import DataError
from npgd.problems import kspace
from npgd.problems.readers import write_cfl


def _k(shape=(2, 3, 8, 6), seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)


def _h5(tmp_path, name="k.h5", **datasets):
    p = tmp_path / name
    with h5py.File(p, "w") as f:
        for key, value in datasets.items():
            f[key] = value
    return p


def test_fastmri_multicoil_round_trip(tmp_path):
    k = _k()
    out = kspace.read_kspace(_h5(tmp_path, kspace=k.astype(np.complex128)))
    assert out.dtype == np.complex64 and out.shape == (2, 3, 8, 6)
    np.testing.assert_array_equal(out, k)


@pytest.mark.parametrize("value, match", [
    (np.ones((3, 8, 6), np.complex64), "single-coil"),
    (np.ones((1, 2, 3, 8, 6), np.complex64), r"must be \(slices, coils, H, W\)"),
    (np.full((1, 2, 4, 4), np.nan, np.complex64), "1 NaN|32 NaN"),
    (np.zeros((1, 2, 4, 4), np.complex64), "all zero"),
    (np.ones((1, 2, 4, 4), np.int16), "dtype int16"),
])
def test_fastmri_bad_files(tmp_path, value, match):
    with pytest.raises(DataError, match=match):
        kspace.read_kspace(_h5(tmp_path, kspace=value))


def test_h5_errors(tmp_path):
    with pytest.raises(DataError, match="neither a fastMRI file"):
        kspace.read_kspace(_h5(tmp_path, other=np.ones(3)))
    with pytest.raises(DataError, match="no such file"):
        kspace.read_kspace(tmp_path / "missing.h5")
    truncated = tmp_path / "t.h5"
    truncated.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 20)
    with pytest.raises(DataError, match="could not read HDF5"):
        kspace.read_kspace(truncated)
    with pytest.raises(DataError, match="unknown k-space file type"):
        kspace.read_kspace(tmp_path / "k.nii")
    with pytest.raises(DataError, match="no 'kspace' dataset"):
        kspace.fastmri_kspace(_h5(tmp_path, "x.h5", image=np.ones(3)))


def test_bart_coils_and_slices(tmp_path):
    k = _k((2, 3, 8, 6))
    # BART: x, y, z, coil, ..., slice (dim 13)
    bart = np.zeros((8, 6, 1, 3) + (1,) * 9 + (2,), np.complex64)
    bart[(slice(None), slice(None), 0, slice(None)) + (0,) * 9] = np.transpose(k, (2, 3, 1, 0))
    write_cfl(tmp_path / "k", bart)
    np.testing.assert_array_equal(kspace.read_kspace(tmp_path / "k.cfl"), k)
    # a stack of 2-D slices along z
    write_cfl(tmp_path / "z", np.transpose(k, (2, 3, 0, 1)))
    np.testing.assert_array_equal(kspace.read_kspace(tmp_path / "z.hdr"), k)
    # one slice, no trailing dims
    write_cfl(tmp_path / "one", np.transpose(k[0], (1, 2, 0))[:, :, None, :])
    np.testing.assert_array_equal(kspace.bart_kspace(tmp_path / "one"), k[:1])


def test_bart_errors(tmp_path):
    write_cfl(tmp_path / "e", np.ones((4, 4, 1, 2, 3)))  # dim 4 (maps) is not k-space
    with pytest.raises(DataError, match="expected readout, phase encode, coils"):
        kspace.read_kspace(tmp_path / "e.cfl")
    write_cfl(tmp_path / "zero", np.zeros((4, 4, 1, 2)))
    with pytest.raises(DataError, match="all zero"):
        kspace.read_kspace(tmp_path / "zero.cfl")
    with pytest.raises(DataError, match="no such file"):
        kspace.read_kspace(tmp_path / "absent.cfl")


# -- ISMRMRD --------------------------------------------------------------------------------


def _ismrmrd_file(path, k, lines=None, centre=None, noise=False):
    """Write k-space (slices, coils, samples, W) as ISMRMRD acquisitions, one per line."""
    ismrmrd = pytest.importorskip("ismrmrd")
    xsd = ismrmrd.xsd
    S, C, X, W = k.shape
    size = xsd.encodingSpaceType(matrixSize=xsd.matrixSizeType(x=X, y=W, z=1),
                                 fieldOfView_mm=xsd.fieldOfViewMm(x=200, y=200, z=5))
    limits = xsd.encodingLimitsType(kspace_encoding_step_1=xsd.limitType(
        minimum=0, maximum=W - 1, center=W // 2 if centre is None else centre))
    header = xsd.ismrmrdHeader(
        experimentalConditions=xsd.experimentalConditionsType(H1resonanceFrequency_Hz=63_000_000))
    header.encoding.append(xsd.encodingType(encodedSpace=size, reconSpace=size,
                                            trajectory=xsd.trajectoryType.CARTESIAN,
                                            encodingLimits=limits))
    d = ismrmrd.Dataset(str(path), "dataset", create_if_needed=True)
    d.write_xml_header(xsd.ToXML(header))
    if noise:
        a = ismrmrd.Acquisition.from_array(np.full((C, X), 99, np.complex64))
        a.set_flag(ismrmrd.ACQ_IS_NOISE_MEASUREMENT)
        d.append_acquisition(a)
    for s in range(S):
        for line in range(W) if lines is None else lines:
            a = ismrmrd.Acquisition.from_array(np.ascontiguousarray(k[s, :, :, line]))
            a.idx.kspace_encode_step_1 = line
            a.idx.slice = s
            d.append_acquisition(a)
    d.close()
    return path


def test_ismrmrd_round_trip(tmp_path):
    k = _k((2, 3, 8, 6))
    p = _ismrmrd_file(tmp_path / "scan.h5", k, noise=True)
    np.testing.assert_array_equal(kspace.read_kspace(p), k)


def test_ismrmrd_undersampled_lines_stay_zero(tmp_path):
    k = _k((1, 2, 8, 6))
    p = _ismrmrd_file(tmp_path / "scan.h5", k, lines=[0, 2, 3, 5])
    out = kspace.ismrmrd_kspace(p)
    np.testing.assert_array_equal(out[..., [0, 2, 3, 5]], k[..., [0, 2, 3, 5]])
    assert not out[..., [1, 4]].any()


def test_ismrmrd_centre_line_goes_to_the_middle(tmp_path):
    k = _k((1, 2, 8, 6))
    p = _ismrmrd_file(tmp_path / "scan.h5", k, lines=[0, 1, 2, 3, 4], centre=2)
    out = kspace.ismrmrd_kspace(p)
    np.testing.assert_array_equal(out[..., 1:6], k[..., 0:5])  # line 2 at column 6 // 2


def test_ismrmrd_errors(tmp_path):
    pytest.importorskip("ismrmrd")
    k = _k((1, 2, 8, 6))
    p = _ismrmrd_file(tmp_path / "scan.h5", k)
    with pytest.raises(DataError, match="no ISMRMRD group 'other'"):
        kspace.ismrmrd_kspace(p, dataset="other")
    zeros = _ismrmrd_file(tmp_path / "zeros.h5", np.zeros((1, 2, 8, 6), np.complex64))
    with pytest.raises(DataError, match="all zero"):
        kspace.read_kspace(zeros)


def test_ismrmrd_missing_package_names_the_extra(tmp_path, monkeypatch):
    p = _h5(tmp_path, "scan.h5", dataset=np.ones(3))
    monkeypatch.setitem(sys.modules, "ismrmrd", None)
    with pytest.raises(ImportError, match=r'pip install "npgd\[io\]"'):
        kspace.read_kspace(p)


def test_ismrmrd_mrd_file(tmp_path):
    k = _k((1, 2, 8, 6))
    p = _ismrmrd_file(tmp_path / "scan.mrd", k)
    np.testing.assert_array_equal(kspace.read_kspace(p), k)
    assert kspace.is_multicoil(p)


# -- which files npgd eval reads as multi-coil k-space -------------------------------------


def test_is_multicoil_judges_the_layout(tmp_path):
    assert kspace.is_multicoil(_h5(tmp_path, "multi.h5", kspace=_k()))
    with h5py.File(tmp_path / "raw.h5", "w") as f:
        f.create_group("dataset")  # an ISMRMRD file's group, recognised without ismrmrd
    assert kspace.is_multicoil(tmp_path / "raw.h5")
    assert not kspace.is_multicoil(_h5(tmp_path, "single.h5", kspace=_k((2, 8, 6))))
    assert not kspace.is_multicoil(_h5(tmp_path, "array.h5", dataset=np.ones(3)))
    (tmp_path / "broken.h5").write_bytes(b"not hdf5")
    assert not kspace.is_multicoil(tmp_path / "broken.h5")
    write_cfl(tmp_path / "k", np.ones((8, 6, 1, 4)))  # coil images or coil k-space alike
    assert not kspace.is_multicoil(tmp_path / "k.cfl")
    assert not kspace.is_multicoil(tmp_path) and not kspace.is_multicoil("builtin:brain")
