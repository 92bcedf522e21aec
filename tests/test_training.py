"""Training: resume after a kill, checkpoints that refuse code, DDP on CPU, the console script."""

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from npgd import experiments, models, train  # noqa: E402
from npgd.models import checkpoint  # noqa: E402
from npgd.problems import mri  # noqa: E402
from npgd.train import loop  # noqa: E402


def tiny(**kw):
    cfg = dict(features=4, iters=2, steps=4, batch_size=2, lr=1e-3, val_every=2, val_slices=1,
               ckpt_every=2, shape=(32, 24), seed=3)
    return train.TrainConfig(**{**cfg, **kw})


def weights(path):
    return models.load_checkpoint(path)["model"]


def assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)


def test_kill_and_resume_equals_uninterrupted(tmp_path, monkeypatch):
    train.train(tiny(), tmp_path / "full", progress=False)
    # a SIGTERM during step 3 (index 2): the step finishes, last.pt is written, train returns
    batch = train.TrainingData.batch

    def batch_then_kill(self, seed, step, *a, **k):
        if step == 2:
            os.kill(os.getpid(), signal.SIGTERM)
        return batch(self, seed, step, *a, **k)

    monkeypatch.setattr(train.TrainingData, "batch", batch_then_kill)
    train.train(tiny(), tmp_path / "cut", progress=False)
    assert models.load_checkpoint(tmp_path / "cut" / "last.pt")["step"] == 3
    monkeypatch.setattr(train.TrainingData, "batch", batch)
    train.train(tiny(), tmp_path / "cut", resume=True, progress=False)
    state = models.load_checkpoint(tmp_path / "cut" / "last.pt")
    assert state["step"] == 4
    assert_same(state["model"], weights(tmp_path / "full" / "last.pt"))
    hist = json.loads((tmp_path / "cut" / "history.json").read_text())
    assert [h["step"] for h in hist] == [2, 4] and all(np.isfinite(h["snr"]) for h in hist)


def test_lsgan_training_resumes_exactly(tmp_path):
    """With the LSGAN term on, the discriminator and its optimizer are part of the state:
    2 steps + resume to 4 equals 4 straight steps, for both networks."""
    cfg = dict(gan_weight=0.1, gan_warmup=2)
    train.train(tiny(**cfg), tmp_path / "full", progress=False)
    train.train(tiny(steps=2, **cfg), tmp_path / "cut", progress=False)
    train.train(tiny(**cfg), tmp_path / "cut", resume=True, progress=False)
    a = models.load_checkpoint(tmp_path / "full" / "last.pt")
    b = models.load_checkpoint(tmp_path / "cut" / "last.pt")
    assert_same(a["model"], b["model"])
    assert_same(a["discriminator"], b["discriminator"])
    # the adversarial term changes the result: not the same weights as plain (P2)
    train.train(tiny(), tmp_path / "p2", progress=False)
    p2 = weights(tmp_path / "p2" / "last.pt")
    assert any(not torch.equal(p2[k], a["model"][k]) for k in p2)


def test_lsgan_pieces():
    D = train.Discriminator()
    assert sum(isinstance(m, torch.nn.Conv2d) for m in D.modules()) == 8
    x = torch.randn(2, 3, 32, 24, dtype=torch.complex64)
    assert D(x).shape == (2, 3)
    D.eval()  # batch norm on running statistics: the decision is scale-free per image
    torch.testing.assert_close(D(7.0 * x), D(x), rtol=1e-4, atol=1e-5)
    d = torch.tensor([0.2, 0.9, -0.1, 0.4])  # a stand-in D returning these decisions
    stub = lambda z: d[: len(z)] if len(z) == 4 else d[2:]  # noqa: E731
    real, fake = torch.zeros(2, 4, 4), torch.zeros(2, 4, 4)
    want_d = ((1 - 0.2) ** 2 + (1 - 0.9) ** 2) / 2 + ((-0.1) ** 2 + 0.4**2) / 2
    assert float(train.lsgan_d_loss(stub, real, fake)) == pytest.approx(want_d)
    want_g = ((1 + 0.1) ** 2 + (1 - 0.4) ** 2) / 2
    assert float(train.lsgan_g_loss(stub, fake)) == pytest.approx(want_g)
    assert [train.gan_weight_at(s, 0.1, 1000) for s in (0, 500, 5000)] == [0, 0.05, 0.1]
    with pytest.raises(ValueError, match="gan_weight"):
        train.TrainConfig(gan_weight=1.5)
    with pytest.raises(TypeError, match="Discriminator: x must be"):
        D(np.zeros((4, 4)))


def test_resume_refuses_a_different_architecture(tmp_path):
    train.train(tiny(steps=2), tmp_path, progress=False)
    with pytest.raises(ValueError, match="features"):
        train.train(tiny(features=8), tmp_path, resume=True, progress=False)


def test_init_starts_from_given_weights(tmp_path):
    """``init`` copies a checkpoint's weights into a fresh run (fresh optimizer); another
    architecture or a missing file is a clear error."""
    train.train(tiny(steps=2), tmp_path / "a", progress=False)
    src = weights(tmp_path / "a" / "model.pt")
    # a learning rate so small that one Adam step leaves every weight where it started
    train.train(tiny(steps=1, lr=1e-30, init=str(tmp_path / "a" / "model.pt")),
                   tmp_path / "b", progress=False)
    state = models.load_checkpoint(tmp_path / "b" / "last.pt")
    assert state["step"] == 1 and state["config"]["init"].endswith("model.pt")
    for k, v in state["model"].items():
        if "running" not in k and "num_batches" not in k:  # batch-norm statistics move
            torch.testing.assert_close(v, src[k], rtol=0, atol=1e-12, msg=k)
    with pytest.raises(ValueError, match=r"another architecture.*'features': \(4, 8\)"):
        train.train(tiny(steps=1, features=8, init=str(tmp_path / "a" / "model.pt")),
                       tmp_path / "c", progress=False)
    with pytest.raises(FileNotFoundError, match="no such file"):
        train.train(tiny(steps=1, init=str(tmp_path / "nope.pt")), tmp_path / "d",
                       progress=False)
    with pytest.raises(ValueError, match="init='mri-brain-5x' has another architecture"):
        train.train(tiny(steps=1, init="mri-brain-5x"), tmp_path / "e", progress=False)
    assert isinstance(train.native_bf16("cpu"), bool)


def test_init_unties_shared_weights(tmp_path):
    """A shared-weights checkpoint starts an independent-weights run with every copy equal to
    the shared proximal, so the untied network computes what the shared one did; the reverse
    (independent -> shared) is an architecture error."""
    train.train(tiny(steps=2), tmp_path / "a", progress=False)
    shared = models.load_model(tmp_path / "a" / "model.pt")
    cfg = tiny(steps=1, lr=1e-30, shared=False, init=str(tmp_path / "a" / "model.pt"))
    untied = models.build_model(cfg)
    loop._load_init(untied, cfg)
    untied.eval()
    assert len(untied.prox) == shared.iters
    n_shared = sum(p.numel() for p in shared.prox.parameters())
    assert sum(p.numel() for p in untied.prox.parameters()) == shared.iters * n_shared
    rng = np.random.default_rng(0)
    A, y = mri.simulate(rng.random((2, 32, 24), dtype=np.float32), rng.random((2, 32, 24)) < 0.4)
    np.testing.assert_allclose(experiments.neural(untied)(A, y),
                               experiments.neural(shared)(A, y), rtol=1e-5, atol=1e-6)
    train.train(cfg, tmp_path / "b", progress=False)  # and it trains
    with pytest.raises(ValueError, match=r"'shared': \(False, True\)"):
        train.train(tiny(steps=1, init=str(tmp_path / "b" / "model.pt")), tmp_path / "c",
                       progress=False)


def test_checkpoint_errors_are_clear_and_run_no_code(tmp_path):
    cfg = tiny()
    good = tmp_path / "model.pt"
    models.save_checkpoint(good, {"format": models.FORMAT, "config": cfg.__dict__,
                                    "model": models.build_model(cfg).state_dict()})
    assert models.load_model(good).iters == 2
    # another architecture's weights under this config
    other = tmp_path / "other.pt"
    models.save_checkpoint(other, {"format": models.FORMAT, "config": cfg.__dict__,
                                     "model": models.build_model(tiny(features=6)).state_dict()})
    with pytest.raises(ValueError, match="do not fit the architecture"):
        models.load_model(other)
    # truncated file
    cut = tmp_path / "cut.pt"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        models.load_model(cut)
    # a pickle that would run code when unpickled
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    evil = tmp_path / "evil.pt"
    torch.save({"format": models.FORMAT, "x": Evil()}, evil)
    with pytest.raises(ValueError, match="refused, nothing was executed"):
        models.load_model(evil)
    assert not marker.exists()
    with pytest.raises(FileNotFoundError, match="no such file"):
        models.load_model(tmp_path / "missing.pt")
    with pytest.raises(ValueError, match="not an npgd checkpoint"):
        pickle_free = tmp_path / "plain.pt"
        torch.save({"w": torch.ones(1)}, pickle_free)
        models.load_model(pickle_free)


def test_atomic_write_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "c.pt"
    models.save_checkpoint(target, {"format": models.FORMAT, "v": 1})

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint.torch, "save", boom)
    with pytest.raises(OSError, match="disk full"):
        models.save_checkpoint(target, {"format": models.FORMAT, "v": 2})
    assert models.load_checkpoint(target)["v"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pt"]


def test_ddp_two_processes_gloo(tmp_path):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "npgd.cli", "train", "--out", str(tmp_path / "run"), "--features", "4",
           "--iters", "2", "--steps", "3", "--batch-size", "1", "--lr", "1e-3",
           "--val-every", "3", "--val-slices", "1", "--ckpt-every", "3", "--shape", "32", "24",
           "--device", "cpu"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    state = models.load_checkpoint(tmp_path / "run" / "last.pt")
    assert state["step"] == 3
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [
        "history.json", "last.pt", "model.pt"]


def test_cli_eval_writes_table_and_figure(tmp_path):
    train.train(tiny(steps=2), tmp_path / "run", progress=False)
    from npgd import cli

    assert cli.main(["eval", "--checkpoint", str(tmp_path / "run" / "model.pt"), "--slices", "2",
                     "--cs-iters", "3", "--out", str(tmp_path / "ev")]) == 0
    res = json.loads((tmp_path / "ev" / "results.json").read_text())
    assert [r["method"] for r in res["rows"]][:3] == ["zero-filled", "CS-WV (db2)", "CS-TV"]
    assert (tmp_path / "ev" / "comparison.png").stat().st_size > 1000


def test_shipped_model():
    from npgd import problems
    from npgd.models import zoo

    path = zoo.resources.files("npgd.models").joinpath("weights", zoo.MODELS["mri-brain-5x"][0])
    assert path.stat().st_size <= 5 * 2**20
    net = problems.pretrained("mri-brain-5x")
    x = experiments.test_images(slices=2)
    masks = np.stack([mri.vd_mask(x.shape[1:], 5, seed=i) for i in range(2)])
    rows, _ = experiments.compare(x, masks, {"npgd": experiments.neural(net)})
    assert rows[1]["snr"] > rows[0]["snr"] + 3  # far better than zero-filled
    # bf16 autocast for the convolutions only: the same quality to a few hundredths of a dB
    amp, _ = experiments.compare(x, masks, {"npgd": experiments.neural(net, amp=True)})
    assert abs(amp[1]["snr"] - rows[1]["snr"]) < 0.05
    with pytest.raises(ValueError, match="available"):
        problems.pretrained("nope")
