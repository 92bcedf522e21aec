"""The measurement helpers of scripts/conditions.py (scan-like small matrices) and
scripts/mask_draws.py (the tuned CS weights read back from the generalization page)."""

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


@pytest.fixture(scope="module")
def scripts():
    sys.path.insert(0, str(SCRIPTS))
    try:
        import conditions
        import cross_dataset
        import mask_draws
        yield conditions, cross_dataset, mask_draws
    finally:
        sys.path.remove(str(SCRIPTS))


def test_tight_field_of_view_crops_to_the_object_then_to_the_side_in_k_space(scripts):
    conditions = scripts[0]
    x = np.zeros((2, 50, 40), np.float32)
    x[0, 10:30, 5:25] = 1.0      # a 20 x 20 object in a larger, empty field of view
    x[1, 12:28, 7:23] = 3.0      # the second slice's object inside the first one's box
    y = conditions.tight_field_of_view(x, 10)
    assert y.shape == (2, 10, 10) and y.dtype == np.float32
    # the object now fills the field of view: the first slice is flat (only its DC is left
    # besides ringing), brighter inside than at the border for the smaller second object
    assert np.allclose(y[0], y[0].mean(), rtol=0.2)
    assert y[1, 5, 5] > 2 * y[1, 0, 0]
    # a non-square box keeps its aspect ratio, both sides even
    z = conditions.tight_field_of_view(x[:1, :, :], 15)
    assert z.shape == (1, 14, 14)
    x2 = np.zeros((1, 60, 60), np.float32)
    x2[0, 10:50, 20:40] = 1.0    # 40 x 20
    assert conditions.tight_field_of_view(x2, 16).shape == (1, 16, 8)


def test_low_resolution_keeps_the_field_of_view_and_resized_matches_the_sweep(scripts):
    conditions = scripts[0]
    from npgd.experiments.sweep import resize_to

    x = np.zeros((2, 60, 40), np.float32)
    x[:, 20:40, 10:30] = 1.0     # an object in the middle of an empty field of view
    y = conditions.low_resolution(x, 30)
    assert y.shape == (2, 30, 20) and y.dtype == np.float32
    # the same field of view at half the resolution: the object stays in the middle third,
    # the background stays dark away from it (ringing aside)
    assert y[:, 12:18, 7:13].mean() > 10 * y[:, :5, :].mean()
    # exactly the magnitude of the centre 30 x 20 of k-space
    k = np.fft.fftshift(np.fft.fft2(x, norm="ortho"), axes=(-2, -1))[:, 15:45, 10:30]
    z = np.abs(np.fft.ifft2(np.fft.ifftshift(k, axes=(-2, -1)), norm="ortho"))
    np.testing.assert_allclose(y, z, atol=1e-5)
    # tight_field_of_view is the crop to the object, then the same k-space cut
    np.testing.assert_allclose(conditions.tight_field_of_view(x, 10),
                               conditions.low_resolution(x[:, 20:40, 10:30], 10), atol=1e-6)
    r = conditions.resized(x, (32, 32))
    assert r.shape == (2, 32, 32) and r.dtype == np.float32
    np.testing.assert_allclose(r, resize_to(x, (32, 32)), atol=1e-6)
    assert [c[0] for c in conditions.SIZES][0] == "5x vd, acquired 128"


def test_sinc_resized_and_resized_crop_enlarge_the_field_of_view_content(scripts):
    conditions = scripts[0]
    x = np.ones((1, 16, 8), np.float32)
    y = conditions.sinc_resized(x, 32)
    # one factor (2) for both axes: a 32 x 16 image, centred and zero-padded to 32 x 32;
    # a constant stays constant under sinc interpolation
    assert y.shape == (1, 32, 32) and y.dtype == np.float32
    np.testing.assert_allclose(y[0, :, 8:24], y[0, 0, 8], rtol=1e-5)
    assert y[0, 0, 8] > 0 and np.all(y[0, :, :8] == 0) and np.all(y[0, :, 24:] == 0)
    r = np.random.default_rng(0).random((2, 20, 20)).astype(np.float32)
    c = conditions.resized_crop(r, (40, 40), (20, 20))
    np.testing.assert_array_equal(c, conditions.resized(r, (40, 40))[:, 10:30, 10:30])


def test_one_table_of_conditions_at_a_time(scripts, capsys):
    conditions = scripts[0]
    for flags in (["--scan-like", "--edge"], ["--edge", "--interpolated"],
                  ["--interpolated", "--ghosted"], ["--ghosted", "--low-contrast"],
                  ["--low-contrast", "--sizes"]):
        with pytest.raises(SystemExit):
            conditions.main(["mri-general", *flags])
        assert "one at a time" in capsys.readouterr().err


def test_calib_gives_the_variable_density_rows_a_larger_fully_sampled_centre(scripts, capsys):
    conditions = scripts[0]
    conds = [("5x vd", 5.0, "vd", None, 0.0, None), ("5x radial", 5.0, "radial", None, 0.0, None)]
    out = conditions.with_centre(conds, 30)
    assert [c[0] for c in out] == ["5x vd, centre 30", "5x radial"]
    assert out[1] == conds[1] and out[0][1:2] + out[0][3:] == conds[0][1:2] + conds[0][3:]
    from npgd.experiments.evaluate import make_masks
    wide, default = (make_masks((96, 80), 2, 5.0, fam, seed=3) for fam in (out[0][2], "vd"))
    assert wide[:, 33:63, 25:55].all()           # the 30 x 30 centre, every sample
    assert not default[:, 33:63, 25:55].all()    # the default 12 x 12 centre does not fill it
    assert wide.sum() == default.sum()           # the same number of samples (5x)
    with pytest.raises(SystemExit):
        conditions.main(["mri-general", "--calib", "0"])
    assert "--calib: expected a positive number" in capsys.readouterr().err


def test_interpolated_keeps_only_the_centre_of_k_space_and_filtered_is_a_window(scripts):
    conditions = scripts[0]
    rng = np.random.default_rng(0)
    x = rng.random((2, 24, 20)).astype(np.float32)
    y = conditions.interpolated(x, 2)
    assert y.shape == x.shape and y.dtype == np.float32
    # the magnitude of the image whose k-space is x's 12 x 10 centre, zero elsewhere
    k = np.fft.fftshift(np.fft.fft2(x, norm="ortho"), axes=(-2, -1))
    keep = np.zeros((24, 20), bool)
    keep[6:18, 5:15] = True
    z = np.fft.ifft2(np.fft.ifftshift(np.where(keep, k, 0), axes=(-2, -1)), norm="ortho")
    assert np.allclose(y, np.abs(z), atol=1e-5)
    # noise at the acquired resolution is interpolated with the image: a noise-only input
    # stays band-limited before the magnitude, so it is smoother than white noise
    n = conditions.interpolated(np.zeros((1, 64, 64), np.float32) + 1.0, 2, noise=0.1)
    d = np.diff(n[0], axis=1)
    white = conditions.rician(np.ones((1, 64, 64), np.float32), 0.1)
    assert d.std() < 0.8 * np.diff(white[0], axis=1).std()
    # the window: strength 0 changes nothing, strength 1 damps the highest frequencies
    assert np.allclose(conditions.filtered(x, 0.0), x, atol=1e-5)
    f = conditions.filtered(x, 1.0)
    assert np.abs(np.diff(f, axis=-1)).mean() < np.abs(np.diff(x, axis=-1)).mean()


def test_compressed_lowers_the_contrast_inside_the_object_or_in_a_tight_view(scripts):
    conditions = scripts[0]
    rng = np.random.default_rng(0)
    x = np.zeros((2, 48, 40), np.float32)
    x[:, 8:40, 6:34] = rng.uniform(0.2, 1.0, (2, 32, 28))
    y = conditions.compressed(x, 0.25)
    assert y.shape == x.shape and y.dtype == np.float32
    fg = x > 0
    assert (y[~fg] == 0).all()
    cv = lambda a, m: a[m].std() / a[m].mean()  # noqa: E731
    assert cv(y, fg) < 0.4 * cv(x, fg)
    t = conditions.compressed(x, 0.5, everywhere=True, side=16)
    tight = conditions.tight_field_of_view(x, 16)
    assert t.shape == tight.shape == (2, 16, 14)
    assert cv(t, t > -1) < 0.7 * cv(tight, tight > -1)


def test_ghosted_adds_the_half_field_of_view_copy_along_the_first_axis(scripts):
    conditions = scripts[0]
    x = np.zeros((2, 12, 9), np.float32)
    x[:, 1:3, 2:6] = 1.0
    g = conditions.ghosted(x, 0.1)
    assert g.shape == x.shape and g.dtype == np.float32
    ghost = (np.roll(x, 6, axis=1) > 0) & (x == 0)
    np.testing.assert_allclose(g[ghost], 0.1, rtol=1e-6)
    assert np.all(g[(x == 0) & ~ghost] == 0)
    np.testing.assert_array_equal(g, conditions.ghosted(x, 0.1))
    assert [c[0] for c in conditions.GHOSTED][:2] == ["5x vd, ghost 5 %", "5x vd, ghost 10 %"]


def test_mask_draws_reads_a_tuned_weight_pair_for_every_row_of_the_page(scripts):
    _, cross_dataset, mask_draws = scripts
    page = Path(__file__).resolve().parents[1] / "docs" / "generalization.rst"
    w = mask_draws.page_weights(page)
    rows = {(s, c) for s, _, _ in cross_dataset.SOURCES for c, _ in cross_dataset.CONDITIONS}
    assert set(w) == rows
    for pair in w.values():
        assert set(pair) == {"CS-WV", "CS-TV"}
        assert all(0 < v < 1 for v in pair.values())
