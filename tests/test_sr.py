"""Super-resolution task, data and baselines; training tasks (npgd.train.tasks)."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from npgd import priors, solvers
from npgd.problems import metrics, sr
from npgd.train.loop import train_task
from npgd.train.tasks import MRITask, SRTask, evaluate_psnr


def test_splits_are_disjoint_and_held_out_images_absent_from_training():
    assert not set(sr.TRAIN_IMAGES) & set(sr.TEST_IMAGES)
    assert {"camera", "moon", "coins", "brick", "chelsea"} == set(sr.TEST_IMAGES)


def test_grey_image_range_and_unknown_name():
    a = sr.grey_image("logo")  # RGBA
    assert a.ndim == 2 and a.dtype == np.float32 and 0 <= a.min() and a.max() <= 1
    with pytest.raises(ValueError, match="name must be one of"):
        sr.grey_image("horse")


def test_patch_sampler_is_a_function_of_the_generator():
    s = sr.PatchSampler(24, scales=(1.0, 0.5))
    a, b = s(np.random.default_rng(3), 4), s(np.random.default_rng(3), 4)
    c = s(np.random.default_rng(4), 4)
    assert a.shape == (4, 24, 24) and (a == b).all() and not (a == c).all()
    with pytest.raises(ValueError, match="scales"):
        sr.PatchSampler(24, scales=(2.0,))


@settings(max_examples=20, deadline=None)
@given(f=st.integers(1, 4), h=st.integers(1, 5), w=st.integers(1, 5), seed=st.integers(0, 99))
def test_bicubic_keeps_constants_and_sizes(f, h, w, seed):
    c = np.random.default_rng(seed).random()
    up = sr.bicubic(np.full((h, w), c), f)
    assert up.shape == (h * f, w * f)
    np.testing.assert_allclose(up, c, atol=1e-12)


def test_tv_beats_bicubic_on_a_piecewise_constant_image_and_lambda_zero_fits_data():
    x = np.zeros((32, 32))
    x[8:24, 6:20] = 1.0
    x[14:18, 20:28] = 0.5
    y = sr.downsample(x, 2)
    tv = sr.tv_sr(y, 2, 1e-3, iters=150)
    assert metrics.psnr(x, tv) > metrics.psnr(x, sr.bicubic(y, 2)) + 1
    # without regularisation FISTA only fits the data: S x_hat = y
    fit = sr.tv_sr(y, 2, 0.0, iters=50)
    np.testing.assert_allclose(sr.downsample(fit, 2), y, atol=1e-6)


def test_tune_tv_picks_the_best_scoring_weight():
    x = np.zeros((1, 32, 32))
    x[0, 8:24, 8:24] = 1
    lams = (1e-5, 1e-3, 1.0)
    lam, scores = sr.tune_tv(x, 2, lams=lams, iters=60)
    assert lam == lams[int(np.argmax(scores))] and lam != 1.0


def test_sr_task_measures_block_means_and_noise_is_seeded():
    x = torch.rand(2, 8, 8, dtype=torch.float64)
    A, y = SRTask(2).measure(x, 0)
    np.testing.assert_allclose(y.numpy(), sr.downsample(x.numpy(), 2))
    n1 = SRTask(2, noise_std=0.1).measure(x, [1, 2])[1]
    n2 = SRTask(2, noise_std=0.1).measure(x, [1, 2])[1]
    n3 = SRTask(2, noise_std=0.1).measure(x, [1, 3])[1]
    assert torch.equal(n1, n2) and not torch.equal(n1, n3)
    assert 0.05 < float((n1 - y).std()) < 0.2


def test_tasks_refuse_the_wrong_kind_of_image():
    with pytest.raises(TypeError, match="real images"):
        SRTask(2).measure(torch.ones(1, 8, 8, dtype=torch.complex64), 0)
    with pytest.raises(TypeError, match="complex images"):
        MRITask(4).measure(torch.ones(1, 32, 32), 0)
    with pytest.raises(ValueError, match=r"\(B, H, W\)"):
        SRTask(2).measure(torch.ones(8, 8), 0)
    with pytest.raises(ValueError, match="factor"):
        SRTask(0)
    with pytest.raises(ValueError, match="mask"):
        MRITask(4, mask="spiral")


def test_mri_task_masks_depend_on_the_seed_only():
    x = torch.ones(2, 32, 32, dtype=torch.complex64)
    m1 = MRITask(4).measure(x, [0, 5])[0].mask.like(x)
    m2 = MRITask(4).measure(x, [0, 5])[0].mask.like(x)
    m3 = MRITask(4).measure(x, [0, 6])[0].mask.like(x)
    assert torch.equal(m1, m2) and not torch.equal(m1, m3)


def _sample(rng, n):
    # smooth random images, not constant on the 2x2 blocks: learnable from a few steps, and
    # not recovered exactly by the untrained network
    i = np.arange(16)[:, None]
    j = np.arange(16)[None, :]
    f = rng.uniform(0.3, 1.2, (n, 4))
    x = 0.5 + 0.4 * np.sin(f[:, 0, None, None] * i + f[:, 1, None, None]) * np.cos(
        f[:, 2, None, None] * j + f[:, 3, None, None])
    return x.astype(np.float32)


@pytest.mark.parametrize("task,prox", [
    (SRTask(2), lambda: priors.ResNetProx(features=4, channels=1)),
    (MRITask(2, mask="lines"), lambda: priors.ResNetProx(features=4, channels=2)),
])
def test_train_task_improves_validation_and_is_reproducible(task, prox):
    def sample(rng, n):
        x = _sample(rng, n)
        return x.astype(np.complex64) if task.channels == 2 else x

    val = sample(np.random.default_rng(99), 3)

    def run():
        torch.manual_seed(0)
        net = solvers.NeuralPGD(prox(), iters=2, step=task.step((16, 16)))
        before = evaluate_psnr(net, task, val).mean()
        hist = train_task(net, task, sample, steps=20, batch_size=2, lr=3e-3, val=val,
                          val_every=10)
        return net, before, hist

    net, before, hist = run()
    assert [h["step"] for h in hist] == [10, 20]
    best = max(hist, key=lambda h: h["snr"])
    assert best["psnr"] > before
    # the weights of the best validation SNR are the ones kept
    assert evaluate_psnr(net, task, val).mean() == pytest.approx(best["psnr"], abs=1e-4)
    again = run()[2]
    assert [(h["loss"], h["psnr"]) for h in again] == [(h["loss"], h["psnr"]) for h in hist]


def test_train_task_stops_when_log_says_so_and_checks_arguments():
    net = solvers.NeuralPGD(priors.ResNetProx(features=4, channels=1), iters=1, step=4.0)
    seen = []
    hist = train_task(net, SRTask(2), _sample, steps=50, batch_size=1,
                      val=_sample(np.random.default_rng(1), 1), val_every=5,
                      log=lambda r: seen.append(r) or r["step"] >= 10)
    assert [h["step"] for h in hist] == [5, 10] and seen == hist
    with pytest.raises(ValueError, match="beta"):
        train_task(net, SRTask(2), _sample, steps=1, beta=2.0)
    with pytest.raises(ValueError, match="steps"):
        train_task(net, SRTask(2), _sample, steps=0)
