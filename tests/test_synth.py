"""The domain-randomized training data (npgd.train.synth)."""

import numpy as np
import pytest

from npgd.train import synth

HAS_MRICRON = synth.MRICRON.joinpath("aal.nii.gz").is_file()


@pytest.fixture(scope="module")
def images_only():
    return synth.SynthData(sources=(), val_samples=2, shape_range=(24, 40))


def test_batch_is_reproducible_and_step_dependent(images_only):
    a = images_only.batch(5, 7, 3)
    b = images_only.batch(5, 7, 3)
    c = images_only.batch(5, 8, 3)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    assert a[0].shape != c[0].shape or not np.array_equal(a[0], c[0])


def test_part_selects_the_rank_share(images_only):
    whole = images_only.batch(1, 3, 4)
    half = images_only.batch(1, 3, 4, slice(2, 4))
    np.testing.assert_array_equal(whole[0][2:], half[0])
    np.testing.assert_array_equal(whole[1][2:], half[1])


def test_batch_contents_follow_the_ranges(images_only):
    d = synth.SynthData(sources=(), val_samples=0, shape_range=(24, 40),
                        accel_range=(3.0, 4.0), p_noiseless=0.0, noise_db_range=(20.0, 20.0),
                        mask_families=("vd", "radial"))
    for step in range(6):
        x, m, sd = d.batch(0, step, 2)
        assert x.dtype == np.complex64 and m.dtype == bool and sd.dtype == np.float32
        assert 24 <= x.shape[1] <= 40 and 24 <= x.shape[2] <= 40
        assert np.isfinite(x).all() and (np.abs(x) > 0).any()
        accel = m[0].size / m.reshape(len(m), -1).sum(1)
        assert ((accel > 2.9) & (accel < 4.1)).all()
        for k in range(2):  # 20 dB over the full k-space: sigma = rms(x) / 10
            rms = np.sqrt(np.mean(np.abs(x[k]) ** 2))
            assert sd[k] == pytest.approx(rms / 10, rel=1e-5)


def test_noise_std_for_is_scale_equivariant_and_per_image():
    from npgd.problems import mri

    x = np.random.default_rng(0).standard_normal((2, 8, 8))
    np.testing.assert_allclose(mri.noise_std_for(3 * x, 30), 3 * mri.noise_std_for(x, 30))
    assert mri.noise_std_for(x, 30).shape == (2,)
    with pytest.raises(ValueError, match="snr_db"):
        mri.noise_std_for(x, float("nan"))


def test_held_out_images_are_never_training_images():
    assert not set(synth.HELD_OUT_IMAGES) & set(synth.TRAIN_IMAGES)


@pytest.mark.skipif(not HAS_MRICRON, reason="Debian mricron-data not installed")
def test_colin27_test_range_and_sagittal_holdouts():
    srcs = synth.volume_sources()
    assert "inia19-t1-brain" not in srcs and "inia19-NeuroMaps" not in srcs
    assert 0 not in srcs["ch2"][2]  # ch2 sagittal slices are held out
    import nibabel as nib

    img = nib.as_closest_canonical(nib.load(srcs["ch2"][0]))
    z = img.affine[2, 2] * np.arange(img.shape[2]) + img.affine[2, 3]
    v = synth._load_volume("ch2", *srcs["ch2"])
    assert v.array.shape[2] == int((z < 10).sum()) < img.shape[2]  # only MNI z < +10 mm
    np.testing.assert_array_equal(
        v.array[..., -1] > 0, np.asanyarray(img.dataobj)[..., int((z < 10).sum()) - 1] > 0)
    assert 0 not in v.axes


def test_no_source_is_a_clear_error():
    with pytest.raises(ValueError, match="no training source"):
        synth.SynthData(sources=(), images=False, val_samples=0)


def test_training_on_the_mix_is_reproducible(tmp_path):
    import torch

    from npgd.train import TrainConfig, train

    cfg = TrainConfig(features=4, iters=2, steps=2, batch_size=2, lr=1e-3, val_every=2,
                      val_slices=2, ckpt_every=2, data="mix", loss="log")
    nets = [train(cfg, tmp_path / f"run{k}", progress=False) for k in range(2)]
    for a, b in zip(nets[0].state_dict().values(), nets[1].state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    import json

    hist = json.loads((tmp_path / "run0" / "history.json").read_text())
    assert hist[-1]["step"] == 2 and np.isfinite(hist[-1]["snr"])
    init = train(TrainConfig(**{**cfg.__dict__, "steps": 1}), tmp_path / "one", progress=False)
    changed = any(not torch.equal(a, b) for a, b in
                  zip(init.state_dict().values(), nets[0].state_dict().values(), strict=True))
    assert changed  # a second step moved the weights


def test_crisp_scenes_have_one_pixel_edges_and_leave_the_default_stream_alone():
    """``p_crisp=1``: piecewise-constant scenes on the grid itself, few distinct values and
    edges one pixel wide (a one-pixel step between neighbours), peak 1; ``p_crisp=0`` draws
    exactly the samples of the default; out of range is an error naming it."""
    d = synth.SynthData(sources=(), val_samples=0, shape_range=(40, 56), p_crisp=1.0)
    for step in range(3):
        x, m, sd = d.batch(2, step, 2)
        for k in range(2):
            mag = np.abs(x[k])
            assert mag.max() == pytest.approx(1.0, abs=1e-5)
            assert len(np.unique(mag.round(5))) <= 60  # flat regions, not a smooth image
            jumps = np.abs(np.diff(mag, axis=0))
            assert jumps.max() > 0.03  # a jump between two neighbouring pixels
    plain = synth.SynthData(sources=(), val_samples=1, shape_range=(24, 40))
    same = synth.SynthData(sources=(), val_samples=1, shape_range=(24, 40), p_crisp=0.0)
    for u, v in zip(plain.batch(4, 1, 3), same.batch(4, 1, 3), strict=True):
        np.testing.assert_array_equal(u, v)
    with pytest.raises(ValueError, match="p_crisp must be in"):
        synth.SynthData(sources=(), val_samples=0, p_crisp=1.5)
    with pytest.raises(ValueError, match="p_noiseless must be in"):
        synth.SynthData(sources=(), val_samples=0, p_noiseless=-0.5)


def test_mix_crisp_training_data(tmp_path):
    from npgd.train import TrainConfig, loop

    cfg = TrainConfig(features=4, iters=2, steps=1, batch_size=2, val_slices=1,
                      data="mix-crisp")
    run, _ = loop._setup(cfg, tmp_path, "cpu")
    assert run.data.p_crisp == synth.MIX_CRISP
    assert loop._setup(TrainConfig(**{**cfg.__dict__, "data": "mix"}), tmp_path,
                       "cpu")[0].data.p_crisp == 0.0


def test_p_noiseless_sets_the_share_of_noiseless_samples(tmp_path):
    """``--p-noiseless`` reaches the training and validation samples: 1 makes every one
    noiseless, 0 none; out of [0, 1] is a UsageError naming it."""
    from npgd._util import UsageError
    from npgd.train import TrainConfig, loop

    for p, noiseless in ((1.0, True), (0.0, False)):
        cfg = TrainConfig(features=4, iters=2, steps=1, batch_size=2, val_slices=3,
                          data="mix", p_noiseless=p)
        d = loop._setup(cfg, tmp_path / str(p), "cpu")[0].data
        noise = np.concatenate([d.batch(0, s, 4)[2] for s in range(3)]
                               + [np.array([v[2] for v in d.val])])
        assert ((noise == 0) == noiseless).all()
    with pytest.raises(UsageError, match=r"p_noiseless must be in \[0, 1\]"):
        TrainConfig(p_noiseless=1.5)
    with pytest.raises(UsageError, match="p_noiseless applies to data 'mix'"):
        TrainConfig(p_noiseless=0.6)  # the default data, 'brain', has no noise draws


def test_p_images_sets_the_share_of_natural_image_samples(tmp_path):
    """``--p-images`` reaches the pool and sets how often a sample's base is a natural image:
    the default keeps the weights 0.4 / 0.25 / 0.2 / 0.15, 1 draws only images, 0 never; the
    other kinds keep their proportions; out of [0, 1] or with other data is a UsageError."""
    from npgd._util import UsageError
    from npgd.train import TrainConfig, loop

    cfg = TrainConfig(features=4, iters=2, steps=1, batch_size=2, val_slices=0, data="mix",
                      p_images=0.5)
    assert loop._setup(cfg, tmp_path, "cpu")[0].data.p_images == 0.5
    d = synth.SynthData(sources=(), val_samples=0)
    for name, labels in (("t1", False), ("atlas", True)):  # one volume of each kind
        d.volumes.append(synth._Volume(name, np.zeros((4, 4, 4), np.float32), labels, (2,),
                                       [[], [], [0]]))
    n = 4000

    def share(p):
        d.p_images = p
        rng = np.random.default_rng(0)
        kinds = [d._kind(rng) for _ in range(n)]
        return {k: kinds.count(k) / n for k in ("volume", "labels", "image", "shapes")}

    default = share(synth.P_IMAGES)
    for k, w in {"volume": 0.4, "labels": 0.25, "image": 0.2, "shapes": 0.15}.items():
        assert abs(default[k] - w) < 0.03, (k, default)
    assert share(1.0) == {"volume": 0, "labels": 0, "image": 1, "shapes": 0}
    assert share(0.0)["image"] == 0
    half = share(0.6)
    assert abs(half["image"] - 0.6) < 0.03
    assert abs(half["volume"] - 0.2) < 0.03 and abs(half["shapes"] - 0.075) < 0.02
    with pytest.raises(UsageError, match=r"p_images must be in \[0, 1\]"):
        TrainConfig(data="mix", p_images=1.5)
    with pytest.raises(UsageError, match="p_images applies to data 'mix'"):
        TrainConfig(p_images=0.5)
    with pytest.raises(ValueError, match=r"p_images must be in"):
        synth.SynthData(sources=(), val_samples=0, p_images=-0.1)


def test_p_reference_noise_sets_the_share_of_noisy_references(tmp_path):
    """``--p-reference-noise`` reaches the pool and sets the share of samples whose
    reference differs from the clean one drawn from the same seed: 0 none, 1 all, the
    default about 0.65; out of [0, 1] or with other data is a UsageError naming it."""
    from npgd._util import UsageError
    from npgd.train import TrainConfig, loop

    cfg = TrainConfig(features=4, iters=2, steps=1, batch_size=2, val_slices=0, data="mix",
                      p_reference_noise=0.1)
    assert loop._setup(cfg, tmp_path, "cpu")[0].data.p_ref_noise == 0.1

    def refs(p):
        d = synth.SynthData(sources=(), val_samples=0, shape_range=(48, 56), p_ref_noise=p)
        return [np.abs(z) for s in range(6) for z in d.batch(1, s, 10)[0]]

    clean = refs(0.0)

    def noisy_share(p):
        return float(np.mean([not np.allclose(a, b, atol=1e-6)
                              for a, b in zip(refs(p), clean, strict=True)]))

    assert noisy_share(1.0) == 1.0
    assert noisy_share(0.0) == 0.0
    assert 0.4 < noisy_share(synth.P_REF_NOISE) < 0.9
    with pytest.raises(UsageError, match=r"p_reference_noise must be in \[0, 1\]"):
        TrainConfig(data="mix", p_reference_noise=2.0)
    with pytest.raises(UsageError, match="p_reference_noise applies to data 'mix'"):
        TrainConfig(p_reference_noise=0.2)
    with pytest.raises(ValueError, match=r"p_ref_noise must be in"):
        synth.SynthData(sources=(), val_samples=0, p_ref_noise=1.5)


def test_p_leaves_sets_the_share_of_dead_leaves_base_images(tmp_path, monkeypatch):
    """``--p-leaves`` reaches the pool; a base image is a dead-leaves image (96 to 256
    pixels, in [0, 1]) as often as asked; 0 draws no extra number, so the samples stay those
    of the pool without the option."""
    from npgd.train import TrainConfig, loop

    cfg = TrainConfig(features=4, iters=2, steps=1, batch_size=2, val_slices=0, data="mix",
                      p_leaves=0.3)
    assert loop._setup(cfg, tmp_path, "cpu")[0].data.p_leaves == 0.3
    made = []

    def spy(rng, size, **kw):
        made.append(size)
        return synth.dead_leaves.__wrapped__(rng, size, **kw)

    spy.__wrapped__ = synth.dead_leaves
    monkeypatch.setattr(synth, "dead_leaves", spy)
    d = synth.SynthData(sources=(), val_samples=0)

    def leaves_share(p, n=300):
        d.p_leaves, made[:] = p, []
        rng = np.random.default_rng(0)
        bases = [d._base(rng) for _ in range(n)]
        return len(made) / n, bases

    share, bases = leaves_share(1.0)
    assert share == 1.0 and [b.shape for b in bases] == [(s, s) for s in made]
    assert all(96 <= s <= 256 for s in made)
    assert leaves_share(0.0)[0] == 0.0
    assert 0.28 < leaves_share(0.35)[0] < 0.42
    plain, zero = (synth.SynthData(sources=(), val_samples=0, shape_range=(48, 56), **kw)
                   .batch(3, 1, 4) for kw in ({}, {"p_leaves": 0.0}))
    assert all(np.array_equal(a, b) for a, b in zip(plain, zero, strict=True))


def test_nyquist_ghost_is_the_half_field_of_view_copy():
    """The ghost is the image shifted by half the size along ``axis`` at amplitude
    ``level`` (where it does not overlap the object, exactly), under the object it changes
    the magnitude by at most ``level``; the same generator state gives the same image."""
    x = np.zeros((10, 7), np.float32)
    x[1:3, 2:5] = 1.0
    for axis, shift in ((0, (5, 0)), (1, (0, 3))):
        g = synth.nyquist_ghost(x, np.random.default_rng(1), level=0.08, axis=axis)
        assert g.shape == x.shape and g.dtype == np.float32
        copy = np.roll(x, shift, axis=(0, 1))
        np.testing.assert_allclose(g[(copy > 0) & (x == 0)], 0.08, rtol=1e-6)
        assert np.all(np.abs(g[x > 0] - 1.0) <= 0.08 + 1e-6)
        assert np.all(g[(copy == 0) & (x == 0)] == 0)
    a = synth.nyquist_ghost(x, np.random.default_rng(3))
    np.testing.assert_array_equal(a, synth.nyquist_ghost(x, np.random.default_rng(3)))
    ghost = a[(x == 0) & ((np.roll(x, 5, 0) > 0) | (np.roll(x, 3, 1) > 0))]
    assert ghost.size and 0.02 <= ghost.max() <= 0.15


@pytest.mark.parametrize("name, func", [("p_ghost", "nyquist_ghost"),
                                        ("p_low_contrast", "low_contrast")])
def test_share_options_set_the_share_of_references_changed(tmp_path, monkeypatch, name, func):
    """``--p-ghost`` / ``--p-low-contrast`` reach the pool; that share of the (non-crisp)
    samples goes through :func:`synth.nyquist_ghost` / :func:`synth.low_contrast`; 0 draws
    no extra number, so the samples stay those of the pool without the option."""
    from npgd.train import TrainConfig, loop

    cfg = TrainConfig(features=4, iters=2, steps=1, batch_size=2, val_slices=0, data="mix",
                      **{name: 0.4})
    assert getattr(loop._setup(cfg, tmp_path, "cpu")[0].data, name) == 0.4
    calls = []
    real = getattr(synth, func)

    def spy(x, rng, *a, **kw):
        calls.append(x.shape)
        return real(x, rng, *a, **kw)

    monkeypatch.setattr(synth, func, spy)
    d = synth.SynthData(sources=(), val_samples=0, shape_range=(48, 56), **{name: 0.5})
    d.batch(0, 0, 60)
    assert 0.3 < len(calls) / 60 < 0.7
    assert d.describe()[name] == 0.5
    calls.clear()
    plain, zero = (synth.SynthData(sources=(), val_samples=0, shape_range=(48, 56), **kw)
                   .batch(3, 1, 4) for kw in ({}, {name: 0.0}))
    assert calls == []
    assert all(np.array_equal(a, b) for a, b in zip(plain, zero, strict=True))


def test_low_contrast_compresses_towards_the_mean():
    """:func:`synth.low_contrast` shrinks the spread about the mean (everywhere, or inside the
    object with the background kept), and is reproducible."""
    rng = np.random.default_rng(0)
    x = np.zeros((40, 40), np.float32)
    x[8:32, 8:32] = rng.uniform(0.2, 1.0, (24, 24))
    inside = synth.low_contrast(x, np.random.default_rng(1), factor=0.2, everywhere=False)
    assert (inside[x == 0] == 0).all()
    fg = x > 0
    ratio = inside[fg].std() / inside[fg].mean() / (x[fg].std() / x[fg].mean())
    assert 0.1 < ratio < 0.3
    every = synth.low_contrast(x, np.random.default_rng(1), factor=0.2, everywhere=True)
    assert every.min() > 0.3 and abs(np.percentile(every, 99.5) - 1) < 1e-5
    np.testing.assert_array_equal(synth.low_contrast(x, np.random.default_rng(5)),
                                  synth.low_contrast(x, np.random.default_rng(5)))


@pytest.mark.parametrize("name", ["p_leaves", "p_ghost", "p_low_contrast", "p_magnified",
                                  "p_small_calib"])
def test_share_options_are_checked(name):
    """A share out of [0, 1], or one given with data other than mix/mix-crisp, is an error
    naming it, from the training settings and from the pool alike."""
    from npgd._util import UsageError
    from npgd.train import TrainConfig

    with pytest.raises(UsageError, match=rf"{name} must be in \[0, 1\]"):
        TrainConfig(data="mix", **{name: 1.5})
    with pytest.raises(UsageError, match=f"{name} applies to data 'mix'"):
        TrainConfig(**{name: 0.2})
    with pytest.raises(ValueError, match=rf"{name} must be in"):
        synth.SynthData(sources=(), val_samples=0, **{name: -0.1})


def test_p_magnified_sets_the_share_of_magnified_views(tmp_path, monkeypatch):
    """``--p-magnified`` reaches the pool; that share of the (non-crisp) samples is resampled
    with 1/3.5 to 1/1.5 source pixels per output pixel (magnified 1.5 to 3.5 times); the
    others keep the fill of the field of view; 0 draws no extra number."""
    from scipy import ndimage

    from npgd.train import TrainConfig, loop

    cfg = TrainConfig(features=4, iters=2, steps=1, batch_size=2, val_slices=0, data="mix",
                      p_magnified=0.3)
    assert loop._setup(cfg, tmp_path, "cpu")[0].data.p_magnified == 0.3
    scales = []
    real = ndimage.affine_transform

    def spy(x, M, *a, **kw):
        scales.append(float(np.sqrt(abs(np.linalg.det(M)))))
        return real(x, M, *a, **kw)

    monkeypatch.setattr(synth.ndimage, "affine_transform", spy)
    lo, hi = 1 / synth.MAGNIFIED[1], 1 / synth.MAGNIFIED[0]

    def magnified_share(p, n=40):
        scales.clear()
        synth.SynthData(sources=(), val_samples=0, shape_range=(48, 56),
                        p_magnified=p).batch(0, 0, n)
        return np.mean([lo - 1e-9 <= v <= hi + 1e-9 for v in scales]), list(scales)

    share, seen = magnified_share(1.0)
    assert share == 1.0 and len(seen) >= 40
    # at a random fill of the view, the scikit-image images (hundreds of pixels) are shrunk
    # into a 48-56 pixel view; only small random-shape scenes can land in the range
    base = magnified_share(0.0, 80)[0]
    assert base < 0.3
    assert base + 0.2 < magnified_share(0.5, 80)[0] < 0.8
    assert synth.SynthData(sources=(), val_samples=0, p_magnified=0.5).describe()[
        "p_magnified"] == 0.5
    plain, zero = (synth.SynthData(sources=(), val_samples=0, shape_range=(48, 56), **kw)
                   .batch(3, 1, 4) for kw in ({}, {"p_magnified": 0.0}))
    assert all(np.array_equal(a, b) for a, b in zip(plain, zero, strict=True))


def test_p_small_calib_shrinks_the_centre_of_vd_masks(tmp_path, monkeypatch):
    """``--p-small-calib`` reaches the pool; that share of the variable-density masks gets a
    centre of 12 samples scaled from a 256-768 matrix to this one (2 to 12 samples at
    48-256 pixels); the others keep 12 or an eighth of the side (4-24); 0 draws no extra
    number."""
    from npgd.train import TrainConfig, loop

    cfg = TrainConfig(features=4, iters=2, steps=1, batch_size=2, val_slices=0, data="mix",
                      p_small_calib=0.4)
    assert loop._setup(cfg, tmp_path, "cpu")[0].data.p_small_calib == 0.4
    calibs = []
    real = synth.mri.vd_mask

    def spy(shape, accel, *, seed=None, calib=12):
        calibs.append((min(shape), calib))
        return real(shape, accel, seed=seed, calib=calib)

    monkeypatch.setattr(synth.mri, "vd_mask", spy)

    def small_share(p, n=60):
        calibs.clear()
        synth.SynthData(sources=(), val_samples=0, shape_range=(200, 256),
                        p_small_calib=p).batch(1, 0, n)
        assert len(calibs) > 10  # half the masks are variable-density
        small = [c for side, c in calibs
                 if c < max(4, min(24, side // 8)) and c != 12]
        for side, c in calibs:
            if c in small:  # within 12 * side / [256, 768]
                assert 12 * side / 768 - 0.5 <= c <= 12 * side / 256 + 0.5
        return len(small) / len(calibs)

    assert small_share(0.0) == 0.0
    assert small_share(1.0) > 0.9
    assert 0.2 < small_share(0.5, 120) < 0.8
    plain, zero = (synth.SynthData(sources=(), val_samples=0, shape_range=(48, 56), **kw)
                   .batch(3, 1, 4) for kw in ({}, {"p_small_calib": 0.0}))
    assert all(np.array_equal(a, b) for a, b in zip(plain, zero, strict=True))
