"""Batches drawn ahead by worker processes: the same batches, the same trained weights, and
a run that stops, resumes or fails in a worker as it does without them."""

import os

import pytest

torch = pytest.importorskip("torch")

from npgd import models, train  # noqa: E402
from npgd._util import UsageError  # noqa: E402
from npgd.train.prefetch import Prefetcher  # noqa: E402


def _square(step):
    return step * step, os.getpid()


def _fails_at_three(step):
    if step == 3:
        raise ValueError("no sample at step 3")
    return step


def test_prefetcher_gives_the_draw_of_each_step_from_other_processes():
    with Prefetcher(_square, workers=2, depth=3) as p:
        got = [p.get(s) for s in (0, 1, 2, 7, 8)]  # a skip ahead drops the stale draws
        assert [v for v, _ in got] == [0, 1, 4, 49, 64]
        assert all(pid != os.getpid() for _, pid in got)
        assert len(p._futures) == 2  # steps 9 and 10 in flight
    with pytest.raises(RuntimeError, match="after close"):
        p.get(9)
    p.close()  # idempotent


def test_workers_leave_sigterm_to_the_training_process():
    import signal

    with Prefetcher(_square, workers=1, depth=1) as p:
        _, pid = p.get(0)
        os.kill(pid, signal.SIGTERM)  # what `pkill -f "npgd train --out run"` also sends them
        assert p.get(1) == (1, pid)   # the same worker, still drawing


def test_prefetcher_raises_a_draw_error_at_its_step():
    with Prefetcher(_fails_at_three, workers=1, depth=4) as p:
        assert [p.get(s) for s in range(3)] == [0, 1, 2]
        with pytest.raises(ValueError, match="no sample at step 3"):
            p.get(3)
        assert p.get(4) == 4


@pytest.mark.parametrize("workers", [0.5, -1, True])
def test_prefetcher_refuses_bad_worker_counts(workers):
    with pytest.raises(ValueError, match="workers must be an int >= 1"):
        Prefetcher(_square, workers=workers)


def tiny(data, **kw):
    cfg = dict(features=4, iters=2, steps=4, batch_size=2, lr=1e-3, val_every=2, val_slices=1,
               ckpt_every=2, seed=3, amp=False, data=data)
    if data == "brain":
        cfg["shape"] = (32, 24)
    return train.TrainConfig(**{**cfg, **kw})


@pytest.mark.parametrize("data", ["brain", "natural"])
def test_training_with_workers_gives_the_same_weights(tmp_path, data, monkeypatch):
    kw = {"task": "sr", "shape": (16, 16)} if data == "natural" else {}
    train.train(tiny(data, **kw), tmp_path / "w0", progress=False)
    asked = []
    get = Prefetcher.get
    monkeypatch.setattr(Prefetcher, "get", lambda self, step: asked.append(step) or
                        get(self, step))
    train.train(tiny(data, **kw), tmp_path / "w2", progress=False, workers=2)
    assert asked == [0, 1, 2, 3]  # every batch came from the workers
    a = models.load_checkpoint(tmp_path / "w0" / "last.pt")
    b = models.load_checkpoint(tmp_path / "w2" / "last.pt")
    assert a["step"] == b["step"] == 4
    for k in a["model"]:
        torch.testing.assert_close(a["model"][k], b["model"][k], rtol=0, atol=0, msg=k)


def test_resume_with_workers_continues_exactly(tmp_path):
    train.train(tiny("brain"), tmp_path / "full", progress=False)
    train.train(tiny("brain", steps=2), tmp_path / "cut", progress=False, workers=1)
    train.train(tiny("brain"), tmp_path / "cut", resume=True, progress=False, workers=2)
    a = models.load_checkpoint(tmp_path / "full" / "last.pt")["model"]
    b = models.load_checkpoint(tmp_path / "cut" / "last.pt")["model"]
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)


def test_bad_workers_is_a_usage_error_before_the_run_folder(tmp_path):
    with pytest.raises(UsageError, match="train: workers must be an int >= 0, got -1"):
        train.train(tiny("brain"), tmp_path / "run", progress=False, workers=-1)
    assert not (tmp_path / "run").exists()
