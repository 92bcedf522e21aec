"""Training and checkpoints: resume after a kill, run folders that are never lost, checked
configs, checkpoints that refuse code and unbounded requests, DDP on CPU."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from npgd import experiments, models, train  # noqa: E402
from npgd._util import DataError, UsageError  # noqa: E402
from npgd.models import checkpoint  # noqa: E402
from npgd.problems import mri  # noqa: E402
from npgd.train import loop, rundir  # noqa: E402


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


def signal_at(monkeypatch, signum, at=2):
    """Send ``signum`` to this process while step ``at`` (0-based) draws its batch."""
    batch = train.TrainingData.batch

    def batch_then_kill(self, seed, step, *a, **k):
        if step == at:
            os.kill(os.getpid(), signum)
        return batch(self, seed, step, *a, **k)

    monkeypatch.setattr(train.TrainingData, "batch", batch_then_kill)
    return batch


def test_kill_and_resume_equals_uninterrupted(tmp_path, monkeypatch):
    train.train(tiny(), tmp_path / "full", progress=False)
    # a SIGTERM during step 3 (index 2): the step finishes, last.pt is written, train raises
    batch = signal_at(monkeypatch, signal.SIGTERM)
    with pytest.raises(loop.Interrupted, match=r"interrupted at step 3, resume with: npgd "
                       r"train --out .*cut --resume \(SIGTERM\)") as e:
        train.train(tiny(), tmp_path / "cut", progress=False)
    assert e.value.signum == signal.SIGTERM and e.value.step == 3
    assert models.load_checkpoint(tmp_path / "cut" / "last.pt")["step"] == 3
    monkeypatch.setattr(train.TrainingData, "batch", batch)
    train.train(tiny(), tmp_path / "cut", resume=True, progress=False)
    state = models.load_checkpoint(tmp_path / "cut" / "last.pt")
    assert state["step"] == 4
    assert_same(state["model"], weights(tmp_path / "full" / "last.pt"))
    hist = json.loads((tmp_path / "cut" / "history.json").read_text())
    assert [h["step"] for h in hist] == [2, 4] and all(np.isfinite(h["snr"]) for h in hist)


def test_sighup_saves_like_sigterm(tmp_path, monkeypatch):
    """A closed terminal (SIGHUP) stops after the step in flight and saves it, as SIGTERM."""
    before = signal.getsignal(signal.SIGHUP)
    signal_at(monkeypatch, signal.SIGHUP, at=0)
    with pytest.raises(loop.Interrupted, match=r"at step 1, .*\(SIGHUP\)") as e:
        train.train(tiny(ckpt_every=50), tmp_path, progress=False)
    assert e.value.signum == signal.SIGHUP
    assert models.load_checkpoint(tmp_path / "last.pt")["step"] == 1
    assert signal.getsignal(signal.SIGHUP) is before  # handlers restored


@pytest.mark.slow
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


def test_native_bf16_follows_onednn(monkeypatch):
    assert train.native_bf16("cuda:1") is True and train.native_bf16("meta") is False
    for supported in (True, False):
        monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda s=supported: s)
        assert train.native_bf16("cpu") is supported

    def missing():
        raise RuntimeError("no oneDNN")

    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", missing)
    assert train.native_bf16("cpu") is False


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


def test_norm_option_builds_without_batch_norm_and_old_files_keep_it(tmp_path):
    """``norm=False`` trains, saves and reloads a network with no batch norm at all (so
    eval and train mode compute the same thing); a config without the key (every file
    written before the option) means batch norm; ``init`` across the two is refused."""
    net = train.train(tiny(steps=2, norm=False), tmp_path / "a", progress=False)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())
    back = models.load_model(tmp_path / "a" / "model.pt")
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in back.modules())
    rng = np.random.default_rng(1)
    A, y = mri.simulate(rng.random((2, 32, 24), dtype=np.float32), rng.random((2, 32, 24)) < 0.4)
    yt = torch.as_tensor(y)
    with torch.no_grad():
        back.train()
        in_train = back(A, yt)
        back.eval()
        torch.testing.assert_close(back(A, yt), in_train)
    old = models.build_model(ARCH)
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in old.modules())
    with pytest.raises(ValueError, match=r"'norm': \(False, True\)"):
        train.train(tiny(steps=1, init=str(tmp_path / "a" / "model.pt")), tmp_path / "b",
                    progress=False)


@pytest.mark.parametrize("shared", [True, False])
def test_fold_batch_norm_keeps_the_eval_map_and_init_folds_and_unties(tmp_path, shared):
    """Batch norm with trained running statistics folds into the convolutions: the same
    eval-mode reconstruction; ``init`` of a batch-norm model into a ``--no-norm`` run (also
    untying a shared one) starts from exactly that network."""
    train.train(tiny(steps=3, shared=shared), tmp_path / "a", progress=False)
    net = models.load_model(tmp_path / "a" / "model.pt")
    gen = torch.Generator().manual_seed(0)
    for m in net.modules():  # statistics far from the defaults, so folding is exercised
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=gen))
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.weight.data.copy_(torch.randn(m.num_features, generator=gen))
            m.bias.data.copy_(torch.randn(m.num_features, generator=gen))
    src = tmp_path / "bn.pt"
    checkpoint.save_checkpoint(src, {**models.load_checkpoint(tmp_path / "a" / "model.pt"),
                                     "model": net.state_dict()})
    folded = models.fold_batch_norm(net)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    rng = np.random.default_rng(2)
    A, y = mri.simulate(rng.random((2, 32, 24), dtype=np.float32), rng.random((2, 32, 24)) < 0.4)
    ref = experiments.neural(net)(A, y)
    np.testing.assert_allclose(experiments.neural(folded)(A, y), ref, rtol=1e-4, atol=1e-5)
    cfg = tiny(steps=1, lr=1e-30, shared=False, norm=False, init=str(src))
    fresh = models.build_model(cfg)
    loop._load_init(fresh, cfg)
    np.testing.assert_allclose(experiments.neural(fresh.eval())(A, y), ref, rtol=1e-4,
                               atol=1e-5)
    with pytest.raises(TypeError, match="net must be a NeuralPGD"):
        models.fold_batch_norm(net.prox)


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


@pytest.mark.slow
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


# --------------------------------------------------------------------------------------------
# runs are never lost


def test_existing_run_is_refused_unless_resume_or_overwrite(tmp_path):
    train.train(tiny(steps=2), tmp_path, progress=False)
    before = (tmp_path / "model.pt").read_bytes()
    with pytest.raises(UsageError, match=r"already holds a run \(last.pt, model.pt, "
                       r"history.json\), expected --resume .* --overwrite"):
        train.train(tiny(steps=2, seed=9), tmp_path, progress=False)
    assert (tmp_path / "model.pt").read_bytes() == before
    train.train(tiny(steps=3), tmp_path, resume=True, progress=False)
    assert models.load_checkpoint(tmp_path / "last.pt")["step"] == 3
    train.train(tiny(steps=1, seed=9), tmp_path, overwrite=True, progress=False)
    assert models.load_checkpoint(tmp_path / "last.pt")["step"] == 1
    # one file of a run is enough to refuse
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "history.json").write_text("[]")
    with pytest.raises(UsageError, match="history.json"):
        train.train(tiny(steps=1), tmp_path / "other", progress=False)


def _dead_pid():
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_lock_refuses_a_live_writer_and_takes_over_a_dead_ones(tmp_path, capsys):
    lock = tmp_path / rundir.LOCK
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock.write_text(json.dumps({"pid": sleeper.pid, "host": socket.gethostname()}))
        with pytest.raises(rundir.RunLocked, match=f"in use by pid {sleeper.pid} on "):
            train.train(tiny(steps=1), tmp_path, progress=False)
        assert not (tmp_path / "last.pt").exists() and lock.exists()
    finally:
        sleeper.kill()
        sleeper.wait()
    # another host's lock is never taken over: its pid cannot be checked from here
    lock.write_text(json.dumps({"pid": _dead_pid(), "host": "elsewhere.example"}))
    with pytest.raises(rundir.RunLocked, match="on elsewhere.example"):
        train.train(tiny(steps=1), tmp_path, progress=False)
    dead = _dead_pid()
    lock.write_text(json.dumps({"pid": dead, "host": socket.gethostname()}))
    train.train(tiny(steps=1), tmp_path, progress=False)
    assert f"taking over the stale lock of pid {dead}" in capsys.readouterr().out
    assert not lock.exists()  # released at the end


def test_stale_temporary_files_are_removed_at_start(tmp_path):
    stale = [".last.pt.abc123.tmp", ".history.json.x.tmp", "history.json.tmp",
             "model.pt.q1w2.tmp"]
    for name in stale:
        (tmp_path / name).write_bytes(b"partial")
    (tmp_path / "notes.tmp").write_text("mine")  # not ours: left alone
    train.train(tiny(steps=1), tmp_path, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "history.json", "last.pt", "model.pt", "notes.tmp"]


# --------------------------------------------------------------------------------------------
# checks before compute


def test_bad_out_is_refused_before_data_or_model(tmp_path, monkeypatch):
    def no_data(*a, **k):
        raise AssertionError("data were read before --out was checked")

    monkeypatch.setattr(train.TrainingData, "__init__", no_data)
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="a file is in the way, expected a folder"):
        train.train(tiny(), tmp_path / "file" / "run", progress=False)
    with pytest.raises(UsageError, match="a file is in the way"):
        train.train(tiny(), tmp_path / "file", progress=False)
    if os.geteuid() != 0:  # root writes anywhere
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        with pytest.raises(UsageError, match="permission denied|not writable"):
            train.train(tiny(), ro / "run", progress=False)


@pytest.mark.parametrize("kw,match", [
    ({"shape": (0, 0)}, r"shape must be two ints in \[8, 8192\], got \(0, 0\)"),
    ({"shape": (32,)}, "shape must be two ints"),
    ({"steps": 0}, "steps must be an int >= 1, got 0"),
    ({"batch_size": 1.5}, "batch_size must be an int"),
    ({"val_slices": -1}, "val_slices must be an int >= 0"),
    ({"lr": float("nan")}, "lr must be a finite real number > 0"),
    ({"accel": 0.5}, "accel must be a finite real number >= 1"),
    ({"noise_std": -1.0}, "noise_std must be a finite real number >= 0"),
    ({"iters": 10**6}, r"iters must be an int in \[1, 100\]"),
    ({"features": 10**7}, r"features must be an int in \[1, 1024\]"),
    ({"features": 1024, "blocks": 64}, "parameters, more than"),
    ({"mask": "spiral"}, "mask must be 'vd', 'radial' or 'lines'"),
    ({"data_consistency": "soft"}, "data_consistency must be 'gradient' or 'hard'"),
    ({"shared": 1}, "shared must be True or False"),
    ({"norm": "no"}, "norm must be True or False"),
    ({"beta": 2.0}, r"beta must be in \[0, 1\]"),
    ({"gan_weight": 1.0}, r"gan_weight must be in \[0, 1\)"),
])
def test_config_errors_are_usage_errors(kw, match):
    with pytest.raises(UsageError, match=match):
        train.TrainConfig(**kw)


def test_val_slices_zero_trains_without_validation(tmp_path):
    net = train.train(tiny(steps=2, val_slices=0), tmp_path, progress=False)
    assert json.loads((tmp_path / "history.json").read_text()) == []
    assert_same(weights(tmp_path / "model.pt"), net.state_dict())  # the latest weights


def test_resume_reuses_the_stored_config(tmp_path):
    train.train(tiny(steps=2, features=6), tmp_path, progress=False)
    cfg = loop.resume_config(tmp_path, {"steps": 3})
    assert cfg == tiny(steps=3, features=6, floor=0.0)  # the run stored the floor it took
    assert loop.resume_config(tmp_path, {"features": 6}).steps == 2  # a flag equal to the stored
    with pytest.raises(UsageError, match=r"features \(stored 6, given 4\).*only --steps"):
        loop.resume_config(tmp_path, {"features": 4, "steps": 3})
    assert loop.resume_config(tmp_path / "fresh", {"steps": 5}) == train.TrainConfig(steps=5)
    train.train(cfg, tmp_path, resume=True, progress=False)
    assert models.load_checkpoint(tmp_path / "last.pt")["step"] == 3
    with pytest.raises(UsageError, match="at step 3, expected steps >= that"):
        train.train(tiny(steps=2, features=6), tmp_path, resume=True, progress=False)


def test_a_run_written_before_the_floor_option_resumes(tmp_path):
    """``last.pt`` files written before ``floor`` existed lack it: they resume (as floor 0),
    through the stored config and through a config given again without ``floor``."""
    train.train(tiny(steps=2), tmp_path, progress=False)
    state = models.load_checkpoint(tmp_path / "last.pt")
    del state["config"]["floor"]
    checkpoint.save_checkpoint(tmp_path / "last.pt", state)
    cfg = loop.resume_config(tmp_path, {"steps": 3})
    assert cfg.floor == 0.0
    net = train.train(cfg, tmp_path, resume=True, progress=False)
    assert net.prox.floor == 0.0 and models.load_checkpoint(tmp_path / "last.pt")["step"] == 3
    train.train(tiny(steps=4), tmp_path, resume=True, progress=False)
    assert models.load_checkpoint(tmp_path / "last.pt")["config"]["floor"] == 0.0


# --------------------------------------------------------------------------------------------
# bounded, validated checkpoints


def _crafted(path, config, model=None):
    checkpoint.save_checkpoint(path, {"format": models.FORMAT, "config": config,
                                      "model": model if model is not None else {}})
    return path


ARCH = {"features": 4, "blocks": 1, "iters": 2, "shared": True, "data_consistency": "gradient"}


@pytest.mark.parametrize("change,match", [
    ({"iters": 10**6}, r"iters must be an int in \[1, 100\], got 1000000"),
    ({"features": 10**7}, r"features must be an int in \[1, 1024\]"),
    ({"blocks": 10**4}, r"blocks must be an int in \[1, 64\]"),
    ({"features": 1024, "blocks": 64, "shared": False, "iters": 100}, "parameters"),
    ({"features": "4"}, "features must be an int"),
    ({"shared": "yes"}, "shared must be True or False"),
    ({"norm": 0}, "norm must be True or False"),
    ({"scales": 9}, r"scales must be an int in \[1, 8\]"),
])
def test_crafted_checkpoint_is_refused_before_any_allocation(tmp_path, change, match):
    path = _crafted(tmp_path / "m.pt", {**ARCH, **change})
    assert path.stat().st_size < 10_000
    t = time.perf_counter()
    with pytest.raises(ValueError, match=match):
        models.load_model(path)
    assert time.perf_counter() - t < 1.0


@given(features=st.integers(-3, 3000), blocks=st.integers(-3, 200),
       iters=st.integers(-3, 300), shared=st.booleans(), scales=st.integers(-1, 10))
def test_check_architecture_accepts_exactly_the_bounded_configs(features, blocks, iters,
                                                                shared, scales):
    from npgd.models import zoo

    cfg = {"features": features, "blocks": blocks, "iters": iters, "shared": shared,
           "data_consistency": "gradient", "scales": scales}
    params = (1 if shared else iters) * ((18 * (blocks + scales - 1) + 2) * features**2
                                         + 40 * features)
    ok = (1 <= features <= zoo.MAX_FEATURES and 1 <= blocks <= zoo.MAX_BLOCKS
          and 1 <= iters <= zoo.MAX_ITERS and 1 <= scales <= zoo.MAX_SCALES
          and params <= zoo.MAX_PARAMETERS)
    if ok:
        assert zoo.check_architecture(cfg) == {**cfg, "norm": True, "center": False,
                                               "floor": 0.0, "task": "mri"}
    else:
        with pytest.raises(ValueError, match="features|blocks|iters|scales|parameters"):
            zoo.check_architecture(cfg)


def test_checkpoint_config_without_features_is_a_clear_error(tmp_path):
    path = _crafted(tmp_path / "m.pt", {k: v for k, v in ARCH.items() if k != "features"})
    with pytest.raises(ValueError, match=r"m.pt: the config lacks features"):
        models.load_model(path)
    checkpoint.save_checkpoint(tmp_path / "n.pt", {"format": models.FORMAT, "config": [1],
                                                   "model": {}})
    with pytest.raises(ValueError, match="the config must be a dict"):
        models.load_model(tmp_path / "n.pt")


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_checkpoint_with_non_finite_weights_is_refused(tmp_path, bad):
    w = models.build_model(ARCH).state_dict()
    key = next(k for k, v in w.items() if v.is_floating_point())
    w[key].view(-1)[0] = bad
    with pytest.raises(ValueError, match=f"weights hold NaN or Inf .{key}"):
        models.load_model(_crafted(tmp_path / "m.pt", ARCH, w))


def test_unknown_config_keys_are_ignored_for_inference_refused_for_resume(tmp_path):
    """Newer training code stores settings this version does not know (a randomized data
    source and its ranges): the weights still load for inference and as --init; resuming
    would silently train something else, so it is refused with the names of those
    settings."""
    cfg = {**train.TrainConfig(features=4, iters=2).__dict__, "data": "mix",
           "accel_range": [2.5, 9.0], "noise_db_range": [15.0, 45.0],
           "mask_families": ["vd", "radial"], "shape_range": [48, 256]}
    w = models.build_model(ARCH).state_dict()
    path = _crafted(tmp_path / "model.pt", cfg, w)
    assert_same(models.load_model(path).state_dict(), w)
    # fine-tuning from it only needs its architecture
    train.train(tiny(steps=1, features=4, iters=2, init=str(path)), tmp_path / "ft",
                progress=False)
    (tmp_path / "last.pt").write_bytes(path.read_bytes())
    with pytest.raises(DataError, match="does not know: accel_range, mask_families, "
                       "noise_db_range, shape_range"):
        loop.resume_config(tmp_path, {})


def test_history_json_is_strict(tmp_path, monkeypatch):
    """A non-finite validation score is written as null, so history.json stays valid JSON."""
    from npgd.problems import metrics

    monkeypatch.setattr(metrics, "snr", lambda ref, est: np.full(len(ref), np.nan))
    train.train(tiny(steps=2), tmp_path, progress=False)

    def refuse(token):
        raise ValueError(f"non-standard JSON token {token}")

    hist = json.loads((tmp_path / "history.json").read_text(), parse_constant=refuse)
    assert hist[0]["snr"] is None


@pytest.mark.parametrize("shared", [True, False])
def test_init_deepens_with_near_identity_blocks(tmp_path, shared):
    """``init`` of a one-block file into a two-block ``--no-norm`` run keeps the old blocks and
    adds ones that nearly pass their input through: the deeper network starts within 1e-2
    relative of the shallow one's reconstruction (not exactly, so the new blocks can train)
    and then trains; adding blocks with batch norm, or removing blocks, is refused."""
    train.train(tiny(steps=2, norm=False, shared=shared), tmp_path / "a", progress=False)
    shallow = models.load_model(tmp_path / "a" / "model.pt")
    cfg = tiny(steps=1, norm=False, shared=shared, blocks=2,
               init=str(tmp_path / "a" / "model.pt"))
    deep = models.build_model(cfg)
    loop._load_init(deep, cfg)
    deep.eval()
    copies = deep.prox if isinstance(deep.prox, torch.nn.ModuleList) else [deep.prox]
    assert all(len(p.blocks) == 2 for p in copies)
    old = shallow.prox if isinstance(shallow.prox, torch.nn.ModuleList) else [shallow.prox]
    for p, q in zip(copies, old, strict=True):
        torch.testing.assert_close(p.blocks[0].body[0].weight, q.blocks[0].body[0].weight)
        w = p.blocks[1].body[-2].weight
        assert 0 < w.abs().max() < 1e-2
    rng = np.random.default_rng(3)
    A, y = mri.simulate(rng.random((2, 32, 24), dtype=np.float32), rng.random((2, 32, 24)) < 0.4)
    a, b = experiments.neural(deep)(A, y), experiments.neural(shallow)(A, y)
    assert not np.array_equal(a, b)
    assert np.linalg.norm(a - b) <= 1e-2 * np.linalg.norm(b)
    net = train.train(cfg, tmp_path / "b", progress=False)
    assert all(torch.isfinite(p).all() for p in net.parameters())
    with pytest.raises(ValueError, match="adding blocks needs --no-norm"):
        train.train(tiny(steps=1, norm=True, shared=shared, blocks=2,
                         init=str(tmp_path / "a" / "model.pt")), tmp_path / "c", progress=False)
    with pytest.raises(ValueError, match=r"'blocks': \(2, 1\)"):
        train.train(tiny(steps=1, norm=False, shared=shared,
                         init=str(tmp_path / "b" / "model.pt")), tmp_path / "d", progress=False)


def test_a_step_pushed_below_zero_is_projected_back(tmp_path, step_pushed_negative):
    # pgd would refuse the negative step in the second step's forward pass
    net = train.train(tiny(steps=2, val_slices=0), tmp_path, progress=False)
    assert float(net.step.detach()) == net.MIN_STEP


def test_init_adds_coarse_scales_at_zero_with_their_own_rate(tmp_path):
    """``init`` of a one-scale file into a ``scales=3`` run keeps every old weight and adds
    branches that start at zero, so the network starts as exactly the old one; with
    ``new_lr_scale`` the added weights train at that multiple of the rate; fewer scales than
    the file is refused; the checkpoint records the scales and loads back."""
    train.train(tiny(steps=2, norm=False), tmp_path / "a", progress=False)
    src = str(tmp_path / "a" / "model.pt")
    old = models.load_model(src)
    cfg = tiny(steps=2, norm=False, scales=3, init=src, new_lr_scale=10.0)
    net = models.build_model(cfg)
    loop._load_init(net, cfg)
    rng = np.random.default_rng(3)
    A, y = mri.simulate(rng.random((2, 32, 24), dtype=np.float32), rng.random((2, 32, 24)) < 0.4)
    np.testing.assert_array_equal(experiments.neural(net)(A, y), experiments.neural(old)(A, y))
    opt, _ = loop._adam(net, cfg, loop._added_names(net, cfg, None, None))
    lrs = [g["lr"] for g in opt.param_groups]
    assert lrs == [cfg.lr, 10 * cfg.lr]
    added = {id(p) for p in opt.param_groups[1]["params"]}
    names = {n for n, p in net.named_parameters() if id(p) in added}
    assert names and all(".coarse." in n for n in names)
    assert len(opt.param_groups[0]["params"]) == len(list(old.parameters()))
    trained = train.train(cfg, tmp_path / "b", progress=False)
    back = models.load_model(tmp_path / "b" / "model.pt")
    assert models.architecture(back)["scales"] == 3
    assert not np.array_equal(experiments.neural(trained)(A, y), experiments.neural(old)(A, y))
    with pytest.raises(ValueError, match=r"'scales': \(3, 1\)"):
        train.train(tiny(steps=1, norm=False, init=str(tmp_path / "b" / "model.pt")),
                    tmp_path / "c", progress=False)
    assert not loop._added_names(net, tiny(norm=False, scales=3, init=src), None, None)


def test_resume_of_a_grown_run_keeps_its_rate_groups_without_the_init_file(tmp_path):
    """A run started from ``init`` with ``new_lr_scale`` records which weights train at the
    higher rate in ``last.pt``: resumed after the init file is gone, it continues exactly as
    the uninterrupted run, both learning-rate groups included."""
    train.train(tiny(steps=2, norm=False), tmp_path / "a", progress=False)
    src = tmp_path / "a" / "model.pt"
    cfg = dict(norm=False, scales=3, init=str(src), new_lr_scale=10.0)
    train.train(tiny(**cfg), tmp_path / "full", progress=False)
    train.train(tiny(steps=2, **cfg), tmp_path / "cut", progress=False)
    added = models.load_checkpoint(tmp_path / "cut" / "last.pt")["added"]
    assert added and all(".coarse." in n for n in added)
    src.unlink()
    run = loop._train(tiny(**cfg), tmp_path / "cut", True, False, None, False, None, None)
    assert [g["lr"] for g in run.opt.param_groups] == [tiny().lr, 10 * tiny().lr]
    assert run.added == frozenset(added)
    a = models.load_checkpoint(tmp_path / "full" / "last.pt")
    b = models.load_checkpoint(tmp_path / "cut" / "last.pt")
    assert b["step"] == 4 and b["added"] == added
    assert_same(a["model"], b["model"])


def test_init_into_a_centred_or_floored_run_keeps_the_weights(tmp_path):
    """``init`` of a file without ``center`` into a ``center`` run copies every weight; the
    saved file keeps ``center`` (a model that loads centres); back is refused. Any ``floor``
    may start from any other, the weights copied."""
    train.train(tiny(steps=2, norm=False), tmp_path / "a", progress=False)
    src = str(tmp_path / "a" / "model.pt")
    cfg = tiny(steps=2, norm=False, center=True, init=src)
    net = models.build_model(cfg)
    loop._load_init(net, cfg)
    assert_same(models.load_model(src).state_dict(), net.state_dict())
    assert net.prox.center and not models.load_model(src).prox.center
    trained = train.train(cfg, tmp_path / "b", progress=False)
    assert trained.prox.center and models.load_model(tmp_path / "b" / "model.pt").prox.center
    assert models.architecture(trained)["center"] is True
    # another floor (the level removed before the network) is no architecture change
    floored = tiny(steps=1, norm=False, center=False, floor=0.01, init=src)
    net = models.build_model(floored)
    loop._load_init(net, floored)
    assert_same(models.load_model(src).state_dict(), net.state_dict())
    assert net.prox.floor == 0.01 and models.architecture(net)["floor"] == 0.01
    # a run without --floor keeps its init file's (fine-tuning the default model keeps its
    # floor), and an explicit one wins
    models.save_model(net, tmp_path / "f.pt")
    kept = train.train(tiny(steps=1, norm=False, init=str(tmp_path / "f.pt")), tmp_path / "k",
                       progress=False)
    assert kept.prox.floor == 0.01
    assert models.load_model(tmp_path / "k" / "model.pt").prox.floor == 0.01
    zero = train.train(tiny(steps=1, norm=False, floor=0.0, init=str(tmp_path / "f.pt")),
                       tmp_path / "z", progress=False)
    assert zero.prox.floor == 0.0
    with pytest.raises(ValueError, match=r"'center': \(True, False\)"):
        train.train(tiny(steps=1, norm=False, init=str(tmp_path / "b" / "model.pt")),
                    tmp_path / "c", progress=False)


@pytest.mark.parametrize("shared", [True, False])
def test_init_extends_the_iterations_with_copies_of_the_last(tmp_path, shared):
    """``init`` of a file into a run with more ``iters``: independent copies added after the
    last start as copies of it (the longer network first repeats the last proximal gradient
    step), a shared proximal just runs more often; fewer iterations are refused."""
    train.train(tiny(steps=2, norm=False, shared=shared), tmp_path / "a", progress=False)
    src = str(tmp_path / "a" / "model.pt")
    short = models.load_model(src).eval()
    cfg = tiny(steps=2, norm=False, shared=shared, iters=4, init=src)
    net = models.build_model(cfg)
    loop._load_init(net, cfg)
    net.eval()
    theirs, ours = short.state_dict(), net.state_dict()
    if shared:
        assert_same(theirs, ours)
    else:
        assert len(ours) == 2 * len(theirs) - 1       # four copies and one step instead of two
        for t in range(4):
            for k in [k for k in theirs if k.startswith("prox.1.")]:
                want = theirs[k] if t >= 1 else theirs["prox.0." + k[7:]]
                torch.testing.assert_close(ours[f"prox.{t}." + k[7:]], want, rtol=0, atol=0)
    # the longer network is the short one followed by two more steps of the last proximal
    rng = np.random.default_rng(3)
    A, y = mri.simulate(rng.random((2, 32, 24), dtype=np.float32), rng.random((2, 32, 24)) < 0.4)
    with torch.no_grad():
        x = net(A, torch.as_tensor(y), return_all=True)
        z = short(A, torch.as_tensor(y), return_all=True)
    assert len(x) == 4 and len(z) == 2
    torch.testing.assert_close(x[1], z[1], rtol=0, atol=0)
    assert not torch.allclose(x[-1], z[-1])
    trained = train.train(cfg, tmp_path / "b", progress=False)
    assert trained.iters == 4
    with pytest.raises(ValueError, match=r"'iters': \(4, 2\)"):
        train.train(tiny(steps=1, norm=False, shared=shared,
                         init=str(tmp_path / "b" / "model.pt")), tmp_path / "c", progress=False)
