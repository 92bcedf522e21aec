"""One training path for every task: ``npgd train --task sr`` (super-resolution) with the
checkpoints, resume, locks and validation of the MRI training; MRI configs of older files;
models of one task refused where another is needed."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from npgd import cli, models, priors, solvers, train  # noqa: E402
from npgd._util import UsageError  # noqa: E402
from npgd.models import checkpoint  # noqa: E402
from npgd.problems import sr  # noqa: E402
from npgd.train import loop  # noqa: E402
from npgd.train.tasks import MRITask, SRTask, task_of  # noqa: E402

SR = ["--task", "sr", "--factor", "2", "--shape", "16", "16", "--features", "4", "--iters",
      "2", "--batch-size", "2", "--lr", "1e-3", "--val-slices", "2", "--val-every", "1",
      "--ckpt-every", "1", "--seed", "5"]


def sr_config(**kw):
    return train.TrainConfig(**{**dict(task="sr", factor=2, shape=(16, 16), features=4,
                                       iters=2, steps=4, batch_size=2, lr=1e-3,
                                       val_slices=2, val_every=1, ckpt_every=1, seed=5), **kw})


def assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)


def test_npgd_train_task_sr_resumes_exactly_and_writes_a_one_channel_model(tmp_path, capsys):
    full, cut = tmp_path / "full", tmp_path / "cut"
    assert cli.main(["train", "--out", str(full), "--steps", "4", *SR]) == 0
    assert cli.main(["train", "--out", str(cut), "--steps", "2", *SR]) == 0
    # the folder holds a run: refused without --resume, continued (only --steps) with it
    assert cli.main(["train", "--out", str(cut), "--steps", "4", *SR]) == 2
    assert "--resume" in capsys.readouterr().err
    assert cli.main(["train", "--out", str(cut), "--resume", "--steps", "4"]) == 0
    a, b = (models.load_checkpoint(p / "last.pt") for p in (full, cut))
    assert a["step"] == b["step"] == 4
    assert_same(a["model"], b["model"])
    assert a["config"]["task"] == "sr" and a["config"]["factor"] == 2
    hist = json.loads((full / "history.json").read_text())
    assert [h["step"] for h in hist] == [1, 2, 3, 4]
    assert all(np.isfinite([h["snr"], h["ssim"], h["psnr"]]).all() for h in hist)
    net = models.load_model(full / "model.pt")
    assert net.prox.channels == 1 and net.iters == 2
    # the learned step started at 1 / ||S^H S|| = 4 and moved
    step = float(net.step.detach())
    assert step != 4.0 and abs(step - 4.0) < 1
    # the model reconstructs real images through the same pgd loop and Downsample
    A, y = SRTask(2).measure(torch.rand(1, 16, 16), seed=0)
    with torch.no_grad():
        out = net(A, y)
    assert out.shape == (1, 16, 16) and not out.is_complex()


def test_sr_model_is_refused_for_mri_with_a_clear_error(tmp_path, capsys):
    train.train(sr_config(steps=1), tmp_path, progress=False)
    with pytest.raises(ValueError, match=r"model for task 'sr' \(factor 2\), expected one for "
                                         r"'mri'"):
        models.load_model(tmp_path / "model.pt", task="mri")
    assert models.load_model(tmp_path / "model.pt", task="sr").prox.channels == 1
    for cmd in (["eval", "--checkpoint", str(tmp_path / "model.pt"), "--out",
                 str(tmp_path / "eval")],
                ["contraction", "--checkpoint", str(tmp_path / "model.pt"), "--out",
                 str(tmp_path / "contraction")]):
        assert cli.main(cmd) == 1
        assert "model for task 'sr'" in capsys.readouterr().err


def test_an_mri_checkpoint_without_task_fields_resumes_as_mri(tmp_path):
    """Files written before ``task``/``factor`` existed: their runs continue unchanged."""
    cfg = dict(features=4, iters=2, steps=2, batch_size=1, lr=1e-3, val_every=2, val_slices=1,
               ckpt_every=2, shape=(32, 24))
    train.train(train.TrainConfig(**cfg), tmp_path / "old", progress=False)
    for name in ("last.pt", "model.pt"):
        state = models.load_checkpoint(tmp_path / "old" / name)
        for key in ("task", "factor"):
            del state["config"][key]
        checkpoint.save_checkpoint(tmp_path / "old" / name, state)
    resumed = loop.resume_config(tmp_path / "old", {"steps": 3})
    assert resumed.task == "mri" and resumed.data == "brain"
    train.train(resumed, tmp_path / "old", resume=True, progress=False)
    assert models.load_checkpoint(tmp_path / "old" / "last.pt")["step"] == 3
    assert models.load_model(tmp_path / "old" / "model.pt", task="mri").prox.channels == 2


def test_an_mri_model_cannot_start_an_sr_run(tmp_path):
    train.train(train.TrainConfig(features=4, iters=2, steps=1, val_slices=1, shape=(32, 24)),
                tmp_path / "mri", progress=False)
    with pytest.raises(ValueError, match=r"another architecture.*task"):
        train.train(sr_config(steps=1, init=str(tmp_path / "mri" / "model.pt")),
                    tmp_path / "sr", progress=False)


@pytest.mark.parametrize("kw,match", [
    ({"task": "ct"}, "task must be 'mri' or 'sr', got 'ct'"),
    ({"task": "sr", "factor": 1}, r"factor must be an int in \[2, 16\], got 1"),
    ({"task": "sr", "data": "brain"}, "data for task 'sr' must be 'natural'"),
    ({"task": "sr", "data": "leaves"}, "or 'natural-leaves'"),
    ({"task": "sr", "shape": (16, 24)}, "shape for task 'sr' must be square crops divisible"),
    ({"task": "sr", "factor": 3, "shape": (16, 16)}, "divisible by factor 3"),
    ({"task": "sr", "data_consistency": "hard"}, "data_consistency for task 'sr' must be"),
])
def test_task_config_errors_are_usage_errors(kw, match):
    with pytest.raises(UsageError, match=match):
        train.TrainConfig(**kw)


def test_task_of_follows_the_config():
    assert task_of(train.TrainConfig(task="sr", factor=4, noise_std=0.01)) == SRTask(4, 0.01)
    assert task_of(train.TrainConfig(accel=3, mask="lines")) == MRITask(3, "lines", 0.0)


def test_natural_images_hold_brain_slices_and_no_held_out_image():
    d = train.NaturalImages((24, 24), val_slices=3)
    assert len(d.sampler.pyramid) == len(sr.TRAIN_IMAGES)
    assert not set(sr.TRAIN_IMAGES) & set(sr.TEST_IMAGES)
    assert len(d.sampler.groups) == 2  # faces, brain training slices
    brain = d.sampler.groups[1]
    assert brain.shape[1:] == (192, 160) and 0 <= brain.min() and brain.max() <= 1
    x = d.batch(1, 0, 64)
    assert x.shape == (64, 24, 24) and x.dtype == np.float32
    assert not (x == d.batch(1, 1, 64)).all()


def test_dead_leaves_are_scale_free_occlusions_in_range():
    """Dead leaves: in [0, 1], reproducible from the generator, edges (large jumps between
    neighbours) and flat parts at once, a power spectrum falling roughly as 1/f^2 (a slope
    between -3.5 and -1.5 on log-log axes, as photographs have), and bad sizes refused."""
    from npgd.train.synth import dead_leaves

    xs = np.stack([dead_leaves(np.random.default_rng(i), 64) for i in range(12)])
    assert xs.dtype == np.float32 and xs.min() >= 0 and xs.max() <= 1
    np.testing.assert_array_equal(xs[3], dead_leaves(np.random.default_rng(3), 64))
    assert not (xs[0] == xs[1]).all()
    p = np.abs(np.fft.fftshift(np.fft.fft2(xs - xs.mean(axis=(1, 2), keepdims=True)),
                               axes=(1, 2))) ** 2
    yy, xx = np.indices((64, 64)) - 32
    r = np.hypot(yy, xx).astype(int)
    f = np.arange(2, 24)
    radial = np.array([p.mean(0)[r == k].mean() for k in f])
    slope = np.polyfit(np.log(f), np.log(radial), 1)[0]
    assert -3.5 < slope < -1.5
    with pytest.raises(ValueError, match="size must be >= 4"):
        dead_leaves(np.random.default_rng(0), 2)
    for bad in ({"r_min": 0.0}, {"r_min": 5.0, "r_max": 2.0}, {"alpha": 1.0}):
        with pytest.raises(ValueError, match="need 0 < r_min <= r_max and alpha > 1"):
            dead_leaves(np.random.default_rng(0), 16, **bad)


def test_natural_leaves_replace_a_share_of_the_crops_and_nothing_else(tmp_path):
    """``p_leaves=0`` draws exactly the natural crops; with ``p_leaves`` some crops are
    replaced, the others stay, a process's ``part`` matches the whole batch's share, the
    validation crops stay natural; ``--data natural-leaves`` sets SR_LEAVES."""
    from npgd.train import loop
    from npgd.train.synth import SR_LEAVES

    plain = train.NaturalImages((24, 24), val_slices=2)
    leaves = train.NaturalImages((24, 24), val_slices=2, p_leaves=0.5)
    np.testing.assert_array_equal(plain.val, leaves.val)
    a, b = plain.batch(3, 7, 16), leaves.batch(3, 7, 16)
    same = (a == b).all(axis=(1, 2))
    assert 0 < same.sum() < 16
    np.testing.assert_array_equal(leaves.batch(3, 7, 16, part=slice(8, 16)), b[8:])
    np.testing.assert_array_equal(train.NaturalImages((24, 24), 2, p_leaves=0.0)
                                  .batch(3, 7, 16), a)
    with pytest.raises(UsageError, match="p_leaves must be in"):
        train.NaturalImages((24, 24), 2, p_leaves=2.0)
    cfg = sr_config(steps=1, data="natural-leaves")
    assert loop._setup(cfg, tmp_path, "cpu")[0].data.p_leaves == SR_LEAVES


def test_all_black_crops_train_without_nan():
    """A crop without signal (dark backgrounds of the natural images) gives y = 0: the
    proximal's scale normalisation must keep the gradient finite."""
    net = solvers.NeuralPGD(priors.ResNetProx(features=4, channels=1), iters=2, step=4.0)

    def sample(rng, n):
        x = rng.random((n, 8, 8), dtype=np.float32)
        x[0] = 0
        return x

    hist = train.train_task(net, SRTask(2), sample, steps=3, batch_size=2,
                            val=np.zeros((1, 8, 8), np.float32) + 0.5, val_every=3)
    assert np.isfinite(hist[-1]["loss"])
    assert all(torch.isfinite(p).all() for p in net.parameters())
