"""scripts/architecture_table.py: every row one ``npgd train`` command under the same budget;
the whole script on a tiny budget (slow)."""

import importlib.util
import json
import shlex
import subprocess
import sys
from argparse import Namespace
from pathlib import Path

import pytest

pytest.importorskip("torch")

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "architecture_table.py"


def script():
    spec = importlib.util.spec_from_file_location("architecture_table", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def budget(**kw):
    return Namespace(**{**dict(features=8, shape=(32, 32), steps=8, batch_size=2, lr=1e-3,
                               lr_halve_every=4, val_every=4, seed=1), **kw})


def test_rows_differ_only_in_architecture_and_loss_and_parse_as_npgd_train(tmp_path):
    from npgd import cli
    from npgd.train import TrainConfig

    mod = script()
    cmds = [mod.row_command(tmp_path, folder, flags, budget()) for _, folder, flags in mod.ROWS]
    shared = mod.budget_flags(budget())
    assert all(c[-len(shared):] == shared for c in cmds)  # one budget for every row
    configs = []
    for c in cmds:
        assert c[:2] == ["npgd", "train"]
        args = cli._parser().parse_args(c[1:])
        given = {f: getattr(args, f) for f in TrainConfig.__dataclass_fields__
                 if getattr(args, f) is not None}
        configs.append(TrainConfig(**given))
    arch = [(c.iters, c.blocks, c.shared, c.norm, c.gan_weight) for c in configs]
    assert arch == [(10, 1, True, True, 0.0), (5, 2, True, True, 0.0), (2, 5, True, True, 0.0),
                    (1, 10, True, True, 0.0), (10, 1, False, True, 0.0), (10, 1, True, True, 0.1),
                    (10, 1, True, True, mod.GAN_BALANCED), (10, 1, True, False, 0.0),
                    (10, 1, False, False, 0.0)]
    assert 0 < mod.GAN_BALANCED < 1e-3
    others = [{k: v for k, v in vars(c).items()
               if k not in ("iters", "blocks", "shared", "norm", "gan_weight", "gan_warmup")}
              for c in configs]
    assert all(o == others[0] for o in others)
    assert configs[5].gan_warmup == configs[6].gan_warmup == 2  # a quarter of the 8 steps
    assert others[0]["features"] == 8 and others[0]["shape"] == (32, 32)


@pytest.mark.slow
def test_tiny_run_writes_the_page_figures_and_results(tmp_path):
    out, docs = tmp_path / "runs", tmp_path / "docs"
    cmd = [sys.executable, str(SCRIPT), "--out", str(out), "--docs", str(docs), "--steps", "2",
           "--features", "4", "--shape", "32", "32", "--test-slices", "2", "--cs-iters", "5",
           "--tune-slices", "1", "--val-every", "1"]
    subprocess.run(cmd, check=True, capture_output=True)
    page = (docs / "architecture_table.rst").read_text()
    res = json.loads((out / "results.json").read_text())
    names = [r["method"] for r in res["rows"]]
    assert names[:3] == ["zero-filled", "CS-WV (tuned)", "CS-TV (tuned)"]
    assert names[3:] == [name for name, _, _ in script().ROWS]  # every row, in order
    for name, command in res["commands"].items():
        assert f"   * - {name}" in page and f"``{command}``" in page
        assert (out / shlex.split(command)[3] / "model.pt").is_file()
        assert res["timing"][name]["train_s"] > 0
    for fig in ("architecture_snr.png", "architecture_recon.png"):
        assert (docs / "_static" / fig).stat().st_size > 1000
    # a second call reuses the finished rows: no training, the same training times
    subprocess.run(cmd, check=True, capture_output=True)
    again = json.loads((out / "results.json").read_text())
    assert again["timing"] == res["timing"]
