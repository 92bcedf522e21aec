"""Masks, metrics, data readers (round trips and bad files)."""

import numpy as np
import pytest

from npgd.problems import data, metrics, mri

rng = np.random.default_rng(5)


@pytest.mark.parametrize("accel", [2, 4, 5, 8])
def test_vd_mask_exact_fraction(accel):
    m = mri.vd_mask((64, 48), accel, seed=1)
    assert m.sum() == round(64 * 48 / accel)
    assert m[26:38, 18:30].all()  # calibration region
    assert mri.acceleration(m) == pytest.approx(accel, rel=1e-2)
    np.testing.assert_array_equal(m, mri.vd_mask((64, 48), accel, seed=1))


def test_vd_radial_and_line_masks():
    m = mri.vd_radial_mask((64, 64), 5, seed=0)
    assert m.sum() == round(64 * 64 / 5)
    r = np.hypot(*np.meshgrid(np.arange(64) - 32, np.arange(64) - 32, indexing="ij"))
    assert m[r < 8].mean() > m[r > 24].mean()  # variable density
    for kind in ["random", "equispaced"]:
        lm = mri.line_mask((32, 64), 4, kind=kind, seed=0)
        assert (lm == lm[0]).all()
        assert lm[0, 30:35].all()  # 8 % of 64 columns (5) around the centre at 4x
        assert abs(int(lm[0].sum()) - 16) <= (6 if kind == "random" else 0)


def test_mask_errors():
    with pytest.raises(ValueError, match="accel must be"):
        mri.vd_mask((8, 8), 0.5)
    with pytest.raises(ValueError, match="calibration region alone"):
        mri.vd_mask((8, 8), 4, calib=6)
    with pytest.raises(ValueError, match="kind must be"):
        mri.line_mask((8, 8), 2, kind="spiral")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_simulate_refuses_non_finite_images_and_noise(bad):
    x = np.ones((2, 8, 8), np.float32)
    m = mri.vd_mask((8, 8), 2, seed=0, calib=2)
    with pytest.raises(ValueError, match="noise_std must be a finite real number >= 0"):
        mri.simulate(x, m, noise_std=bad)
    x[1, 2, 3] = bad
    with pytest.raises(ValueError, match="x holds NaN or Inf"):
        mri.simulate(x, m)
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match="x holds NaN or Inf"):
        mri.simulate(torch.from_numpy(x), torch.from_numpy(m))
    with pytest.raises(ValueError, match="overflow its precision"):
        mri.simulate(np.full((8, 8), np.finfo(np.float32).max), m)


def test_metric_values():
    x = rng.random((3, 32, 32))
    noisy = x + 0.05 * rng.standard_normal(x.shape)
    s = metrics.snr(x, noisy)
    expected = 20 * np.log10(np.linalg.norm(x, axis=(1, 2)) /
                             np.linalg.norm(np.abs(x) - np.abs(noisy), axis=(1, 2)))
    np.testing.assert_allclose(s, expected)
    assert metrics.psnr(x, noisy).shape == (3,)
    np.testing.assert_allclose(metrics.nrmse(x, x), 0)
    with pytest.raises(ValueError, match="shapes differ"):
        metrics.snr(x, noisy[:, :4])


@pytest.mark.parametrize("name", ["snr", "psnr", "nrmse", "ssim"])
def test_metrics_refuse_what_would_be_nan(name):
    f = getattr(metrics, name)
    x = rng.random((2, 8, 8))
    bad = x.copy()
    bad[1, 3, 3] = np.nan
    for a, b in ((bad, x), (x, bad), (x, np.where(np.isnan(bad), np.inf, x))):
        with pytest.raises(ValueError, match=f"{name}: (ref|est) holds NaN or Inf"):
            f(a, b)
    with pytest.raises(TypeError, match="real or complex array"):
        f(x.astype(object), x)
    zero = x.copy()
    zero[0] = 0
    if name == "ssim":  # defined: its constants keep the ratio finite
        assert np.isfinite(f(zero, x)).all()
    else:
        with pytest.raises(ValueError, match="reference image is all zero"):
            f(zero, x)
    assert not np.isnan(f(x, x)).any()
    if name in ("snr", "psnr"):
        assert np.isinf(f(x, x)).all()  # exact: infinitely good, not undefined


def test_ssim_is_scikit_image_definition():
    """Our SciPy SSIM equals scikit-image's ``structural_similarity`` with its defaults and
    data_range = max |ref|, per image, on odd shapes and complex inputs."""
    sk = pytest.importorskip("skimage.metrics")
    ref = rng.random((2, 3, 33, 20)) * np.exp(1j * rng.random((2, 3, 33, 20)))
    est = ref + 0.1 * (rng.standard_normal(ref.shape) + 1j * rng.standard_normal(ref.shape))
    got = metrics.ssim(ref, est)
    assert got.shape == (2, 3)
    want = [[sk.structural_similarity(np.abs(r), np.abs(e), data_range=np.abs(r).max())
             for r, e in zip(rr, ee, strict=True)] for rr, ee in zip(ref, est, strict=True)]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert float(metrics.ssim(np.zeros((8, 8)), np.zeros((8, 8)))) == 1.0
    with pytest.raises(ValueError, match="at least 7x7"):
        metrics.ssim(np.ones((6, 9)), np.ones((6, 9)))


def test_embedded_sample_split():
    test, zt = data.brain_slices("test")
    train, zr = data.brain_slices("train")
    assert test.shape[1:] == (192, 160) and test.dtype == np.complex64
    assert zt.min() >= data.TEST_Z_MM > zr.max()
    assert len(test) + len(train) == len(data.brain_slices("all")[0])
    np.testing.assert_array_equal(test, data.brain_slices("test")[0])  # deterministic phase
    mag, _ = data.brain_slices("test", phase=False)
    np.testing.assert_allclose(np.abs(test), mag, atol=1e-6)
    assert 0 <= mag.min() and mag.max() <= 1
    with pytest.raises(ValueError, match="split must be"):
        data.brain_slices("val")
