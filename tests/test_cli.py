"""The ``npgd`` console script: options from TrainConfig with help, one line per error with
exit 2 (usage) or 1 (data), --debug tracebacks, exit codes of interrupted runs, locks."""

import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

torch = pytest.importorskip("torch")

from npgd import cli, models, train  # noqa: E402
from npgd._util import UsageError  # noqa: E402

TINY = ["--features", "4", "--iters", "2", "--batch-size", "1", "--lr", "1e-3",
        "--val-slices", "1", "--shape", "32", "24", "--seed", "3"]


def npgd(*args, wait=True):
    """``python -m npgd.cli ARGS`` in a subprocess (one thread: the machine is shared)."""
    cmd = [sys.executable, "-m", "npgd.cli", *map(str, args)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if not wait:
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=env)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)


def one_error_line(err):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("npgd: error: "), err
    assert "Traceback" not in err
    return lines[0]


def test_train_help_shows_every_option_with_its_help(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["train", "--help"])
    assert e.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    for f in dataclasses.fields(train.TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        assert flag in out, flag
        assert " ".join(f.metadata["help"].split()[:4]) in out, f.name
    for flag in ("--out", "--resume", "--overwrite", "--device", "--debug"):
        assert flag in out


def test_options_take_the_types_of_the_fields():
    args = cli._parser().parse_args(
        ["train", "--shape", "32", "24", "--no-shared", "--accel", "4", "--mask", "radial",
         "--init", "run/model.pt", "--steps", "7"])
    assert args.shape == [32, 24] and args.shared is False and args.accel == 4.0
    assert args.mask == "radial" and args.init == "run/model.pt" and args.steps == 7
    assert args.features is None  # not given: the default (or the stored one on --resume)
    with pytest.raises(UsageError, match="invalid choice: 'spiral'"):
        cli._parser().parse_args(["train", "--mask", "spiral"])


@pytest.mark.parametrize("argv,match", [
    (["train", "--steps", "0"], "steps must be an int >= 1, got 0"),
    (["train", "--shape", "0", "0"], r"shape must be two ints in \[8, 8192\], got .0, 0."),
    (["train", "--features", "x"], "argument --features: invalid int value: 'x'"),
    (["train", "--resume", "--overwrite"], "not allowed with argument"),
    (["train", "--workers", "-1"], "workers must be an int >= 0, got -1"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["demo", "--slices", "0"], "--slices must be an int >= 1, got 0"),
    (["demo", "--noise", "nan"], "--noise must be a finite real number >= 0, got nan"),
    (["eval", "--volume", "b0"], "argument --volume: must be a volume index or 'all', got 'b0'"),
])
def test_usage_errors_are_one_line_exit_2(capsys, argv, match):
    assert cli.main(argv) == 2
    assert re.search(match, one_error_line(capsys.readouterr().err))


def test_data_errors_are_one_line_exit_1(tmp_path, capsys):
    assert cli.main(["eval", "--checkpoint", str(tmp_path / "missing.pt"), "--no-classic",
                     "--out", str(tmp_path / "ev")]) == 1
    assert "missing.pt" in one_error_line(capsys.readouterr().err)
    crafted = tmp_path / "crafted.pt"
    models.save_checkpoint(crafted, {"format": models.FORMAT, "model": {}, "config": {
        "features": 4, "blocks": 1, "iters": 10**6, "shared": True,
        "data_consistency": "gradient"}})
    t = time.perf_counter()
    assert cli.main(["eval", "--checkpoint", str(crafted), "--no-classic", "--slices", "1",
                     "--out", str(tmp_path / "ev")]) == 1
    assert time.perf_counter() - t < 5
    assert "iters must be an int in [1, 100]" in one_error_line(capsys.readouterr().err)


def test_debug_shows_the_traceback(tmp_path):
    plain = npgd("train", "--out", tmp_path, "--steps", "0")
    assert plain.returncode == 2
    one_error_line(plain.stderr)
    debug = npgd("--debug", "train", "--out", tmp_path, "--steps", "0")
    assert debug.returncode != 0 and "Traceback" in debug.stderr
    assert "UsageError: TrainConfig: steps must be an int >= 1" in debug.stderr
    with pytest.raises(UsageError):
        cli.main(["train", "--steps", "0", "--debug"])


def test_bad_out_is_an_error_before_any_work(tmp_path):
    (tmp_path / "file").write_text("x")
    t = time.perf_counter()
    r = npgd("train", "--out", tmp_path / "file" / "run", *TINY, "--steps", "1")
    assert r.returncode == 2 and time.perf_counter() - t < 60
    assert "a file is in the way, expected a folder" in one_error_line(r.stderr)
    r = npgd("demo", "--out", tmp_path / "file", "--slices", "1")
    assert r.returncode == 2
    assert "a file is in the way" in one_error_line(r.stderr)


def test_existing_run_and_resume_with_stored_settings(tmp_path, capsys):
    out = str(tmp_path / "run")
    assert cli.main(["train", "--out", out, *TINY, "--features", "6", "--steps", "2"]) == 0
    capsys.readouterr()
    assert cli.main(["train", "--out", out, *TINY, "--steps", "2"]) == 2
    assert "already holds a run" in one_error_line(capsys.readouterr().err)
    # --resume takes every setting from last.pt; only --steps changes
    assert cli.main(["train", "--out", out, "--resume", "--steps", "3"]) == 0
    state = models.load_checkpoint(tmp_path / "run" / "last.pt")
    assert state["step"] == 3 and state["config"]["features"] == 6
    assert state["config"]["shape"] == [32, 24] or state["config"]["shape"] == (32, 24)
    capsys.readouterr()
    assert cli.main(["train", "--out", out, "--resume", "--features", "8"]) == 2
    assert "features (stored 6, given 8)" in one_error_line(capsys.readouterr().err)


def wait_for(path, proc, seconds=180):
    t = time.time()
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.time() - t < seconds, f"{path} never appeared"
        time.sleep(0.2)


@pytest.mark.parametrize("sig,status", [
    pytest.param(signal.SIGINT, 130, marks=pytest.mark.slow), (signal.SIGTERM, 143),
    pytest.param(signal.SIGHUP, 129, marks=pytest.mark.slow)])
def test_interrupted_run_saves_says_how_to_resume_and_fails(tmp_path, sig, status):
    out = tmp_path / "run"
    p = npgd("train", "--out", out, *TINY, "--steps", "100000", "--ckpt-every", "1",
             "--val-every", "1000", wait=False)
    try:
        wait_for(out / "last.pt", p)
        if sig == signal.SIGTERM:  # meanwhile, a second writer on the same folder is refused
            r = npgd("train", "--out", out, "--resume")
            assert r.returncode == 1
            assert f"is in use by pid {p.pid} on" in one_error_line(r.stderr)
        p.send_signal(sig)
        _, err = p.communicate(timeout=120)
    finally:
        p.kill()
    assert p.returncode == status, err
    step = models.load_checkpoint(out / "last.pt")["step"]
    assert err.strip().splitlines()[-1] == (
        f"npgd: interrupted at step {step}, resume with: npgd train --out {out} --resume "
        f"({signal.Signals(sig).name})")
    assert "Traceback" not in err and "done" not in err
    assert not (out / ".npgd-lock").exists()


def test_eval_runs_experiments_evaluate(tmp_path):
    """``npgd eval`` is :mod:`npgd.experiments.evaluate` behind the CLI's error handling."""
    train.train(train.TrainConfig(features=4, iters=2, steps=2, batch_size=1, val_every=2,
                                  val_slices=1, ckpt_every=2, shape=(32, 24)),
                tmp_path / "run", progress=False)
    assert cli.main(["eval", "--checkpoint", str(tmp_path / "run" / "model.pt"), "--slices",
                     "2", "--cs-iters", "3", "--out", str(tmp_path / "ev")]) == 0
    text = (tmp_path / "ev" / "results.json").read_text()
    res = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON {c}"))
    assert [r["method"] for r in res["methods"]] == ["zero-filled", "CS-WV", "CS-TV",
                                                     "NPGD (model.pt)"]
    assert (tmp_path / "ev" / "comparison.png").stat().st_size > 1000


def test_keep_freed_memory_applies_on_glibc_and_is_harmless_elsewhere():
    import platform

    import numpy as np

    from npgd._util import keep_freed_memory

    glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert keep_freed_memory() is glibc  # mallopt accepted both settings where it exists
    a = np.ones(8 << 20)  # a 64 MiB block still allocates and frees afterwards
    assert a.sum() == 8 << 20
