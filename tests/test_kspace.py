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


# -- end to end: a multi-coil file through the evaluation ----------------------------------


def _multicoil_file(tmp_path):
    from npgd.problems import coils, data

    x = np.stack([data.phantom((24, 20), seed=s) for s in range(2)])
    return _h5(tmp_path, "multicoil.h5", kspace=coils.simulate_kspace(x, 4))


def _run(argv):
    import argparse

    from npgd.experiments import multicoil

    p = argparse.ArgumentParser()
    multicoil.add_arguments(p)
    lines = []
    return multicoil.run(p.parse_args(argv), log=lines.append), lines


def test_multicoil_file_end_to_end(tmp_path):
    import json

    out = tmp_path / "r.json"
    status, lines = _run([str(_multicoil_file(tmp_path)), "--accel", "2", "--calib", "8",
                          "--kernel", "3", "--iters", "10", "--cg-iters", "10",
                          "--methods", "CG-SENSE,CS-WV,CS-TV", "--json", str(out)])
    assert status == 0 and "zero-filled" in lines[0]
    result = json.loads(out.read_text(), parse_constant=lambda c: pytest.fail(c))
    rows = {r["method"]: r for r in result["rows"]}
    assert list(rows) == ["zero-filled", "CG-SENSE", "CS-WV", "CS-TV"]
    assert result["shape"] == [2, 4, 24, 20] and len(rows["CS-TV"]["snr_all"]) == 2
    assert all(np.isfinite(r["snr"]) and r["s_per_slice"] > 0 for r in rows.values())
    assert rows["CG-SENSE"]["snr"] > rows["zero-filled"]["snr"] + 3


def test_multicoil_learned_model_runs_through_pgd_on_sense():
    """A learned model (here a tiny untrained one; the shipped one is the default) runs
    through solvers.pgd on the Sense operator, with its step scaled by 1/||A||^2."""
    torch = pytest.importorskip("torch")
    from npgd import linops, solvers
    from npgd.experiments import multicoil
    from npgd.models import build_model
    from npgd.problems import coils, data, metrics

    torch.manual_seed(0)
    net = build_model({"features": 4, "iters": 2}).eval()
    k = coils.simulate_kspace(data.phantom((24, 20), seed=0)[None], 4)
    out = multicoil.evaluate_multicoil(k, 2, calib=8, kernel=3, methods=("NPGD",), net=net)
    assert [r["method"] for r in out["rows"]] == ["zero-filled", "NPGD"]
    assert np.isfinite(out["rows"][1]["snr"])
    # the same computation by hand: scaled data, ESPIRiT maps, pgd with step / ||A||^2
    mask = multicoil.sampling_mask((24, 20), 2, calib=8)
    maps = coils.espirit(k * mask, 8, 3)
    A = linops.Sense(maps, mask)
    y = k * mask
    y = (y / np.percentile(abs(A.H(y)), 99.9)).astype(np.complex64)
    At = linops.Sense(torch.from_numpy(maps), torch.from_numpy(mask))
    yt = torch.from_numpy(y)
    with torch.no_grad():
        step = net.step / solvers.squared_norm(At, (1,), like=yt)
        ref = solvers.pgd(At, net.prox, yt, iters=net.iters, step=step).numpy()
    ref_image = coils.sense_combine(linops.FFT2((24, 20)).H(k), maps)
    scale = np.percentile(abs(A.H(k * mask)), 99.9)
    assert abs(out["rows"][1]["snr"] - float(metrics.snr(ref_image / scale, ref)[0])) < 1e-3


def test_multicoil_rss_reference_and_slices(tmp_path):
    from npgd.experiments import multicoil
    from npgd.problems import coils, data

    k = coils.simulate_kspace(data.phantom((24, 20), seed=0)[None], 4)
    out = multicoil.evaluate_multicoil(k[0], 2, "lines", calib=8, kernel=3,
                                       methods=("CG-SENSE",), cg_iters=10, reference="rss")
    assert out["reference"] == "rss" and out["rows"][1]["snr"] > out["rows"][0]["snr"]
    status, lines = _run([str(_multicoil_file(tmp_path)), "--slices", "1", "--methods",
                          "CG-SENSE", "--calib", "8", "--kernel", "3", "--mask", "radial"])
    assert status == 0 and "1 slice(s), 4 coils, 24x20" in lines[-1]


def test_multicoil_errors(tmp_path):
    from npgd._util import UsageError
    from npgd.experiments import multicoil

    k = np.ones((1, 2, 16, 16), np.complex64)
    with pytest.raises(UsageError, match="methods: unknown"):
        multicoil.evaluate_multicoil(k, methods=("SENSE",))
    with pytest.raises(UsageError, match="reference: must be"):
        multicoil.evaluate_multicoil(k, reference="mean")
    with pytest.raises(UsageError, match="mask: must be one of"):
        multicoil.sampling_mask((16, 16), 2, "spiral")
    with pytest.raises(DataError, match=r"expected \(slices, coils, H, W\)"):
        multicoil.evaluate_multicoil(np.ones((16, 16), np.complex64))
    with pytest.raises(DataError, match="no such file"):
        _run([str(tmp_path / "none.h5")])
