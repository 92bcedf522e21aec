"""File readers: every kind, odd shapes, complex data, and one clear DataError per bad file."""

import builtins
import gzip

import nibabel as nib
import numpy as np
import pytest

from npgd._util import DataError
from npgd.problems import data, readers
from npgd.problems.readers import read_images

rng = np.random.default_rng(0)


def _nii(path, vol, dtype=np.float32):
    nib.save(nib.Nifti1Image(np.asarray(vol, dtype), np.eye(4)), path)
    return path


# --- NIfTI ---------------------------------------------------------------------------------


def test_nifti_3d_slices_along_last_axis_turned_up(tmp_path):
    vol = rng.random((181, 217, 5)).astype(np.float32) + 0.1
    x, info = read_images(_nii(tmp_path / "v.nii.gz", vol))
    assert x.shape == (5, 217, 181) and x.dtype == np.float32  # odd shape kept
    np.testing.assert_array_equal(x[2], np.rot90(vol[:, :, 2]))
    assert info.kind == "NIfTI" and "5 NIfTI images 217x181 float32" in str(info)


def test_nifti_axis_options(tmp_path):
    vol = rng.random((6, 7, 8)).astype(np.float32) + 0.1
    p = _nii(tmp_path / "v.nii", vol)
    assert read_images(p, axis=0)[0].shape == (6, 8, 7)
    assert read_images(p, axis=1)[0].shape == (7, 8, 6)
    x, info = read_images(p, axis="all")
    assert x.shape == (6 + 7 + 8, 8, 7) and "centre-fitted to 8x7" in str(info)
    with pytest.raises(ValueError, match="axis must be"):
        read_images(p, axis=3)


def test_nifti_4d_reads_one_volume_and_says_which(tmp_path):
    # Diffusion/fMRI/multi-echo files are 4-D: volume v is the 3-D volume [..., v].
    vol = rng.random((6, 7, 3, 4)).astype(np.float32) + 0.1
    p = _nii(tmp_path / "dwi.nii.gz", vol)
    x, info = read_images(p)
    np.testing.assert_array_equal(x, read_images(_nii(tmp_path / "v0.nii", vol[..., 0]))[0])
    assert "volume 0 of the 4 in a 4-D file" in str(info)
    x2, info2 = read_images(p, volume=2)
    np.testing.assert_array_equal(x2, read_images(_nii(tmp_path / "v2.nii", vol[..., 2]))[0])
    assert "4-D" not in str(info2)  # chosen, not defaulted
    np.testing.assert_array_equal(read_images(p, volume=-1)[0], read_images(p, volume=3)[0])
    xa, _ = read_images(p, volume="all", axis=0)
    assert xa.shape == (4 * 6, 3, 7)
    np.testing.assert_array_equal(xa[6:12], read_images(p, volume=1, axis=0)[0])
    with pytest.raises(DataError, match="volume 4 out of range; the file holds 4 volumes"):
        read_images(p, volume=4)


def test_volume_is_refused_where_there_is_no_fourth_axis(tmp_path):
    p3 = _nii(tmp_path / "v.nii", rng.random((6, 7, 3)) + 0.1)
    with pytest.raises(DataError, match="v.nii: volume=1 asks for one volume of a 4-D file"):
        read_images(p3, volume=1)
    np.save(tmp_path / "x.npy", rng.random((2, 5, 5)) + 0.1)
    with pytest.raises(DataError, match="these are NumPy files"):
        read_images(tmp_path / "x.npy", volume=0)
    with pytest.raises(DataError, match="embedded sample"):
        read_images("builtin:brain", volume=0)
    with pytest.raises(ValueError, match="volume must be an int, 'all' or None, got 1.5"):
        read_images(p3, volume=1.5)


def test_nifti_2d_and_single_slice_volume_are_one_image(tmp_path):
    img = rng.random((9, 11)).astype(np.float32) + 0.1
    for name, arr in (("a.nii.gz", img), ("b.nii.gz", img[:, :, None]),
                      ("c.nii.gz", img[:, None, :]), ("d.nii.gz", img[:, :, None, None])):
        x, _ = read_images(_nii(tmp_path / name, arr))
        assert x.shape == (1, 11, 9), name
        np.testing.assert_array_equal(x[0], np.rot90(img))
    # the training-layout reader: a one-slice volume is a slice, not a rank error
    assert data.nifti_slices(tmp_path / "b.nii.gz").shape == (1, 9, 11)


def test_nifti_complex_stays_complex(tmp_path):
    z = (rng.standard_normal((8, 10, 2)) + 1j * rng.standard_normal((8, 10, 2)))
    p = _nii(tmp_path / "z.nii.gz", z, np.complex64)
    x, info = read_images(p)
    assert x.dtype == np.complex64 and not info.magnitude
    np.testing.assert_allclose(x[0], np.rot90(z[:, :, 0]), rtol=1e-6)
    m, info = read_images(p, magnitude=True)
    assert m.dtype == np.float32 and "turned into magnitude" in str(info)
    np.testing.assert_allclose(m, np.abs(x), rtol=1e-6)
    with pytest.raises(DataError, match="complex NIfTI"):
        data.nifti_slices(p)


def test_nifti_bad_files(tmp_path):
    vol = rng.random((6, 6, 3)).astype(np.float32) + 0.1
    good = _nii(tmp_path / "g.nii.gz", vol).read_bytes()
    (tmp_path / "t.nii.gz").write_bytes(good[: len(good) // 2])
    with pytest.raises(DataError, match=r"t\.nii\.gz: could not read NIfTI"):
        read_images(tmp_path / "t.nii.gz")
    raw = gzip.decompress(good)
    (tmp_path / "t.nii").write_bytes(raw[: len(raw) - 40])
    with pytest.raises(DataError, match=r"t\.nii: could not read NIfTI"):
        read_images(tmp_path / "t.nii")
    nan = vol.copy()
    nan[1, 2, 0] = np.nan
    with pytest.raises(DataError, match=r"n\.nii\.gz: 1 NaN/Inf"):
        read_images(_nii(tmp_path / "n.nii.gz", nan))
    with pytest.raises(DataError, match="n.nii.gz: 1 NaN/Inf"):
        data.nifti_slices(tmp_path / "n.nii.gz")
    with pytest.raises(DataError, match="every value is zero"):
        read_images(_nii(tmp_path / "z.nii.gz", np.zeros((6, 6, 3))))
    with pytest.raises(DataError, match=r"a 4-D series of volumes, got shape \(4, 4, 3, 2, 2\)"):
        read_images(_nii(tmp_path / "5d.nii.gz", np.ones((4, 4, 3, 2, 2))))
    with pytest.raises(DataError, match="no such file or folder"):
        read_images(tmp_path / "missing.nii")
    with pytest.raises(DataError, match="no such file"):
        data.nifti_slices(tmp_path / "missing.nii")


def test_empty_slices_dropped_and_counted(tmp_path):
    vol = rng.random((8, 8, 5)).astype(np.float32) + 0.1
    vol[..., 0] = 0
    vol[..., 1] = 0
    vol[0, 0, 1] = 1.0  # one bright pixel: under any foreground fraction
    x, info = read_images(_nii(tmp_path / "v.nii.gz", vol))
    assert len(x) == 4 and info.dropped_empty == 1
    x, info = read_images(tmp_path / "v.nii.gz", min_fraction=0.5)
    assert len(x) == 3 and "dropped 2 empty" in str(info)
    with pytest.raises(ValueError, match="min_fraction"):
        read_images(tmp_path / "v.nii.gz", min_fraction=1.5)


# --- folders ---------------------------------------------------------------------------------


def test_folder_skips_sidecars_and_hidden_files(tmp_path):
    for k in range(2):
        _nii(tmp_path / f"v{k}.nii.gz", rng.random((6, 5, 2)) + 0.1)
    (tmp_path / "._v0.nii.gz").write_bytes(b"\0\5\26\7 AppleDouble")
    (tmp_path / ".DS_Store").write_bytes(b"junk")
    (tmp_path / "notes.txt").write_text("not an image")
    x, info = read_images(tmp_path)
    assert x.shape == (4, 5, 6) and info.skipped == 2 and len(info.files) == 2
    assert "skipped 2 hidden/sidecar" in str(info)
    with pytest.raises(DataError, match="sidecar, not an image"):
        read_images(tmp_path / "._v0.nii.gz")
    assert data.read_slices(tmp_path).shape == (4, 6, 5)  # training reader skips it too


def test_empty_and_mixed_folders(tmp_path):
    (tmp_path / "e").mkdir()
    with pytest.raises(DataError, match="holds no image files"):
        read_images(tmp_path / "e")
    (tmp_path / "e" / "._x.nii.gz").write_bytes(b"x")
    with pytest.raises(DataError, match="skipped 1 hidden"):
        read_images(tmp_path / "e")
    (tmp_path / "m").mkdir()
    np.save(tmp_path / "m" / "a.npy", np.ones((4, 4)))
    _nii(tmp_path / "m" / "b.nii", np.ones((4, 4, 2)))
    with pytest.raises(DataError, match="mixes NIfTI, NumPy files"):
        read_images(tmp_path / "m")


def test_unknown_extension(tmp_path):
    (tmp_path / "x.gif").write_bytes(b"GIF89a")
    with pytest.raises(DataError, match=r"x\.gif: unknown file type; expected \.nii"):
        read_images(tmp_path / "x.gif")


def test_local_path_wins_over_builtin_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    x, info = read_images("brain")  # no ./brain: the embedded sample
    assert info.kind == "builtin" and x.shape[1:] == (192, 160) and x.dtype == np.complex64
    (tmp_path / "brain").mkdir()
    np.save(tmp_path / "brain" / "s.npy", np.ones((3, 20, 24)))
    x, info = read_images("brain")
    assert x.shape == (3, 20, 24) and info.kind == "NumPy"
    x, info = read_images(readers.BUILTIN, min_fraction=0.1)
    assert info.kind == "builtin" and len(x) == 66  # the whole documented test set


# --- NumPy, fastMRI, BART --------------------------------------------------------------------


def test_numpy_files(tmp_path):
    a = rng.random((3, 7, 9)).astype(np.float64) + 0.1
    np.save(tmp_path / "a.npy", a)
    x, info = read_images(tmp_path / "a.npy")
    np.testing.assert_array_equal(x, a.astype(np.float32))
    np.savez(tmp_path / "b.npz", images=a[0] * 1j)
    x, _ = read_images(tmp_path / "b.npz")
    assert x.shape == (1, 7, 9) and x.dtype == np.complex64
    np.savez(tmp_path / "c.npz", u=a, v=a)
    with pytest.raises(DataError, match=r"c\.npz: \.npz holds \['u', 'v'\]"):
        read_images(tmp_path / "c.npz")
    np.save(tmp_path / "r.npy", np.ones((2, 2, 2, 2)))
    with pytest.raises(DataError, match=r"expected an array \(H, W\) or \(N, H, W\)"):
        read_images(tmp_path / "r.npy")
    np.save(tmp_path / "o.npy", np.array(["a", "b"]))
    with pytest.raises(DataError, match="expected a numeric array"):
        read_images(tmp_path / "o.npy")
    (tmp_path / "t.npy").write_bytes((tmp_path / "a.npy").read_bytes()[:100])
    with pytest.raises(DataError, match=r"t\.npy: could not read NumPy file"):
        read_images(tmp_path / "t.npy")
    np.save(tmp_path / "i.npy", np.array([[np.inf, 1.0], [1.0, 1.0]]))
    with pytest.raises(DataError, match="1 NaN/Inf"):
        read_images(tmp_path / "i.npy")
    np.save(tmp_path / "thin.npy", np.ones((1, 5)))
    with pytest.raises(DataError, match="expected at least 2x2"):
        read_images(tmp_path / "thin.npy")


def test_fastmri_complex_images(tmp_path):
    h5py = pytest.importorskip("h5py")
    from npgd import linops

    img = np.stack([data.phantom((40, 36), seed=s, dtype="complex64") for s in range(2)])
    k = linops.FFT2((40, 36))(img)
    with h5py.File(tmp_path / "f.h5", "w") as f:
        f["kspace"] = k
        f["reconstruction_esc"] = np.abs(img[:, 4:36, 2:34])
    out = data.fastmri_slices(tmp_path / "f.h5", crop=(32, 32))
    np.testing.assert_allclose(out["image"], img[:, 4:36, 2:34], atol=1e-5)
    np.testing.assert_allclose(out["target"], np.abs(out["image"]), atol=1e-5)
    x, info = read_images(tmp_path / "f.h5")
    assert x.dtype == np.complex64 and info.kind == "fastMRI"
    np.testing.assert_allclose(x, img, atol=1e-5)
    (tmp_path / "bad.h5").write_bytes(b"garbage")
    with pytest.raises(DataError, match=r"bad\.h5: could not read fastMRI file"):
        read_images(tmp_path / "bad.h5")


def test_cfl_round_trip_and_errors(tmp_path):
    a = (rng.standard_normal((5, 4, 1, 3)) + 1j * rng.standard_normal((5, 4, 1, 3)))
    data.write_cfl(tmp_path / "k", a)
    np.testing.assert_allclose(data.read_cfl(tmp_path / "k"), a.astype(np.complex64))
    assert (tmp_path / "k.hdr").read_text().splitlines()[1] == "5 4 1 3"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.cfl", "k.hdr"]  # no temp files
    x, info = read_images(tmp_path / "k.cfl")
    assert x.shape == (3, 5, 4) and info.kind == "BART" and x.dtype == np.complex64
    np.testing.assert_allclose(x[1], a[:, :, 0, 1].astype(np.complex64))
    assert read_images(tmp_path)[0].shape == (3, 5, 4)  # the pair counts as one image file
    (tmp_path / "k.cfl").write_bytes(b"\0" * 16)
    with pytest.raises(DataError, match=r"k.cfl: 16 bytes"):
        read_images(tmp_path / "k.hdr")
    with pytest.raises(DataError, match="no such file"):
        data.read_cfl(tmp_path / "missing")


# --- DICOM -----------------------------------------------------------------------------------


@pytest.fixture
def pydicom():
    """pydicom (the optional ``io`` extra), or the DICOM tests are skipped."""
    return pytest.importorskip("pydicom")


def get_testdata_file(name):
    # pydicom's own small test files ship inside pydicom (not the pydicom-data package)
    from pydicom.data import get_testdata_file as get

    return get(name, download=False)


def _dicom_series(pydicom, folder, positions):
    """Copies of pydicom's MR_small.dcm as a series, written in a scrambled file order."""
    src = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    folder.mkdir()
    base = src.pixel_array.astype(np.float32)
    for k, z in enumerate(positions):
        ds = src.copy()
        ds.InstanceNumber = k + 1
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [0, 0, z]
        ds.RescaleSlope, ds.RescaleIntercept = 2, 10
        ds.save_as(folder / f"{(7 * k) % len(positions):03d}")  # no extension
    return base


def test_dicom_file_applies_rescale(pydicom):
    p = get_testdata_file("CT_small.dcm")
    ds = pydicom.dcmread(p)
    x, info = read_images(p)
    expected = ds.pixel_array.astype(np.float32) * float(ds.RescaleSlope) + float(
        ds.RescaleIntercept)
    assert x.shape == (1, 128, 128) and info.kind == "DICOM"
    np.testing.assert_array_equal(x[0], expected)


def test_dicom_folder_sorted_by_position(tmp_path, pydicom):
    base = _dicom_series(pydicom, tmp_path / "s", [4.0, -2.0, 0.0, 8.0])
    x, info = read_images(tmp_path / "s")
    assert x.shape == (4, 64, 64) and len(info.files) == 4 and info.kind == "DICOM"
    np.testing.assert_array_equal(x[0], base * 2 + 10)  # RescaleSlope 2, RescaleIntercept 10


def test_dicom_sort_order(tmp_path, pydicom):
    src = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    (tmp_path / "d").mkdir()
    for k, z in enumerate([3.0, 1.0, 2.0]):
        ds = src.copy()
        arr = np.full((64, 64), int(z * 100), np.int16)
        ds.PixelData = arr.tobytes()
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [0, 0, z]
        ds.InstanceNumber = 10 - k
        ds.save_as(tmp_path / "d" / f"im{k}.dcm")
    x, _ = read_images(tmp_path / "d")
    assert [float(s[0, 0]) for s in x] == [100.0, 200.0, 300.0]


def test_dicom_truncated_is_a_data_error(pydicom):
    p = get_testdata_file("MR_truncated.dcm")
    with pytest.raises(DataError, match=r"MR_truncated\.dcm: could not read DICOM image"):
        read_images(p)


def test_dicom_without_file_meta_header_reads_like_the_original(tmp_path, pydicom):
    # old archives write DICOM without the 128-byte preamble and File Meta header
    from pydicom.dataset import FileMetaDataset

    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    ref = ds.pixel_array.astype(np.float32)
    ds.file_meta, ds.preamble = FileMetaDataset(), None
    ds.save_as(tmp_path / "old.dcm", implicit_vr=False, little_endian=True,
               enforce_file_format=False)
    assert (tmp_path / "old.dcm").read_bytes()[128:132] != b"DICM"
    x, _ = read_images(tmp_path / "old.dcm")
    np.testing.assert_array_equal(x, ref[None])


@pytest.mark.parametrize("name", ["MR_small_jpeg_ls_lossless.dcm", "MR_small_jp2klossless.dcm",
                                  "MR_small_RLE.dcm"])
def test_compressed_dicom_decodes_to_the_uncompressed_pixels(name, pydicom):
    pytest.importorskip("gdcm")  # the io extra's decoder (pillow alone lacks JPEG-LS)
    ref, _ = read_images(get_testdata_file("MR_small.dcm"))
    x, _ = read_images(get_testdata_file(name))
    np.testing.assert_array_equal(x, ref)


def test_dicom_that_no_decoder_reads_names_the_codec_and_what_to_install(pydicom):
    try:
        import libjpeg  # noqa: F401  (pylibjpeg-libjpeg decodes 12-bit JPEG Extended)
        pytest.skip("pylibjpeg-libjpeg is installed")
    except ImportError:
        pass
    with pytest.raises(DataError, match=r"JPGExtended\.dcm: could not decode its JPEG Extended "
                       r"\(Process 2 and 4\) pixel data .*pip install pylibjpeg"):
        read_images(get_testdata_file("JPGExtended.dcm"))


@pytest.mark.parametrize("name, match", [
    ("rtplan.dcm", "a DICOM file without pixel data \\(modality RTPLAN\\)"),
    ("waveform_ecg.dcm", "without pixel data \\(modality ECG\\)"),
    ("examples_palette.dcm", "a palette colour DICOM"),
    ("SC_rgb_rle.dcm", "colour DICOM \\(3 samples per pixel\\)"),
])
def test_dicom_that_is_not_a_greyscale_image_is_refused(name, match, pydicom):
    with pytest.raises(DataError, match=match):
        read_images(get_testdata_file(name))


def test_dicom_without_pydicom_names_the_extra(monkeypatch, pydicom):
    path = get_testdata_file("MR_small.dcm")
    real_import = builtins.__import__

    def no_pydicom(name, *a, **k):
        if name == "pydicom" or name.startswith("pydicom."):
            raise ImportError("No module named 'pydicom'")
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_pydicom)
    with pytest.raises(ImportError, match=r'pip install "npgd\[io\]"'):
        read_images(path)


def test_nifti_axes_turned_to_ras(tmp_path):
    vol = rng.random((6, 7, 8)).astype(np.float32) + 0.1
    las = np.diag([-1.0, 1, 1, 1])  # x stored right-to-left
    nib.save(nib.Nifti1Image(vol, las), tmp_path / "las.nii.gz")
    x, _ = read_images(tmp_path / "las.nii.gz", axis=2)
    np.testing.assert_array_equal(x[0], np.rot90(vol[::-1, :, 0]))


def test_dicom_folder_with_two_series_reads_the_one_asked_for(tmp_path, pydicom):
    src = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    (tmp_path / "d").mkdir()
    for k in range(2):  # series 7 'T1' (2 files, pixels x1) and 8 'T2' (1 file, pixels x3)
        for j in range(2 - k):
            ds = src.copy()
            ds.SeriesInstanceUID, ds.SeriesNumber = f"1.2.3.{k}", 7 + k
            ds.SeriesDescription = ("T1", "T2")[k]
            ds.ImagePositionPatient, ds.ImageOrientationPatient = [0, 0, j], [1, 0, 0, 0, 1, 0]
            ds.PixelData = (src.pixel_array * (1 + 2 * k)).astype(src.pixel_array.dtype).tobytes()
            ds.save_as(tmp_path / "d" / f"im{k}{j}.dcm")
    with pytest.raises(DataError, match=r"holds 2 DICOM series \(SeriesNumber 7 'T1': 2 "
                       r"file\(s\); SeriesNumber 8 'T2': 1 file\(s\)\); choose one with series="):
        read_images(tmp_path / "d")
    t1, _ = read_images(tmp_path / "d", series=7)
    t2, info = read_images(tmp_path / "d", series="1.2.3.1")  # by its UID
    assert "SeriesNumber 8 'T2', one of the 2 series in the folder" in str(info)
    assert t1.shape == (2, 64, 64) and len(info.files) == 1 and t2.shape == (1, 64, 64)
    np.testing.assert_array_equal(t2[0], 3 * t1[0])
    import argparse

    from npgd.experiments import evaluate
    parser = argparse.ArgumentParser()
    evaluate.add_arguments(parser)  # npgd eval --series: the SeriesNumber as typed
    args = parser.parse_args(["--data", str(tmp_path / "d"), "--series", "8"])
    np.testing.assert_array_equal(evaluate.load_images(args, log=lambda s: None), t2)
    with pytest.raises(DataError, match="no DICOM series numbered 9; it holds SeriesNumber 7"):
        read_images(tmp_path / "d", series=9)
    with pytest.raises(DataError, match="series=7 picks a series of DICOM files; these are NumPy"):
        np.save(tmp_path / "x.npy", np.ones((4, 4)))
        read_images(tmp_path / "x.npy", series=7)
    with pytest.raises(ValueError, match="series must be an int, a str or None"):
        read_images(tmp_path / "d", series=7.0)


# pictures (PNG, JPEG, TIFF, BMP)


def test_pictures_grey_colour_alpha_and_16_bit(tmp_path):
    iio = pytest.importorskip("imageio.v3")
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)
    iio.imwrite(tmp_path / "c.png", rgb)
    iio.imwrite(tmp_path / "a.png", np.dstack([rgb, np.full((12, 10), 7, np.uint8)]))
    grey16 = rng.integers(0, 65536, (12, 10), dtype=np.uint16)
    iio.imwrite(tmp_path / "g.tif", grey16)
    want = (rgb / 255.0) @ np.array([0.2125, 0.7154, 0.0721])  # BT.709 luma
    for name in ("c.png", "a.png"):  # the alpha channel is dropped, not mixed in
        x, info = read_images(tmp_path / name)
        assert info.kind == "picture" and x.shape == (1, 12, 10) and x.dtype == np.float32
        np.testing.assert_allclose(x[0], want, atol=1e-6)  # shown as stored: not turned
    x, _ = read_images(tmp_path / "g.tif")
    np.testing.assert_allclose(x[0], grey16 / 65535.0, atol=1e-6)


def test_picture_folder_and_bad_pictures(tmp_path):
    iio = pytest.importorskip("imageio.v3")
    for i in range(3):
        iio.imwrite(tmp_path / f"{i}.png", np.full((8, 9), 10 * (i + 1), np.uint8))
    x, info = read_images(tmp_path)
    assert x.shape == (3, 8, 9) and len(info.files) == 3
    np.testing.assert_allclose(x[:, 0, 0], [10 / 255, 20 / 255, 30 / 255], rtol=1e-6)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "t.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"x" * 20)
    with pytest.raises(DataError, match="t.png: could not read the picture"):
        read_images(bad / "t.png")
    iio.imwrite(bad / "z.png", np.zeros((8, 8), np.uint8))
    with pytest.raises(DataError, match="every value is zero"):
        read_images(bad / "z.png")


def test_picture_without_imageio_names_the_extra(tmp_path, monkeypatch):
    import sys

    (tmp_path / "p.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    monkeypatch.setitem(sys.modules, "imageio.v3", None)  # import fails: not installed
    with pytest.raises(ImportError, match=r'pictures needs imageio.*pip install "npgd\[images\]"'):
        read_images(tmp_path / "p.png")
