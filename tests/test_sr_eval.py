"""npgd eval --task sr: bicubic, TV and a super-resolution model on any images."""

import json

import numpy as np
import pytest

from npgd._util import DataError, UsageError
from npgd.experiments import sr_eval
from npgd.problems import data, metrics, sr

torch = pytest.importorskip("torch")


def _images():
    return np.abs(np.stack([data.phantom((34, 31), seed=s) for s in range(2)])).astype(np.float32)


def _tiny(factor=2):
    from npgd.models import build_model

    torch.manual_seed(0)
    return build_model({"features": 4, "iters": 2, "task": "sr", "factor": factor}).eval()


def test_scores_are_those_of_each_method_on_the_cropped_images():
    x = _images()
    res, xe, recons = sr_eval.evaluate_sr(x, _tiny(), factor=2, lam=1e-4, tv_iters=15)
    assert xe.shape == (2, 34, 30)  # cropped to whole 2x2 blocks
    np.testing.assert_array_equal(xe, x[:, :34, :30])
    y = sr.downsample(xe / xe.max(axis=(1, 2), keepdims=True), 2)
    want = {"bicubic": sr.bicubic(y, 2), "TV": sr.tv_sr(y, 2, 1e-4, 15)}
    for row in res["methods"][:2]:
        scaled = want[row["method"]] * xe.max(axis=(1, 2), keepdims=True)
        np.testing.assert_allclose(row["psnr_per_image"], metrics.psnr(xe, scaled), atol=1e-3)
    names = [m["method"] for m in res["methods"]]
    assert names == ["bicubic", "TV", "NPGD"] and set(recons) == set(names)
    best = max(m["psnr"] for m in res["methods"][:2])
    assert res["model_minus_best_classic_db"] == pytest.approx(res["methods"][2]["psnr"] - best)


def test_tv_weight_is_the_best_of_the_grid_on_the_images():
    res, _, _ = sr_eval.evaluate_sr(_images(), factor=2, points=3, tv_iters=15)
    t = res["tv_tuning"]
    lams = np.array(t["lams"])
    assert (np.diff(lams) > 0).all()  # ascending, the three starting values among them
    for v in (*sr_eval.TV_LAMS, np.sqrt(np.prod(sr_eval.TV_LAMS))):
        assert np.isclose(lams, v, rtol=1e-9).any()
    best = int(np.argmax(t["psnr"]))
    assert res["tv_lam"] == t["lams"][best]
    assert 0 < best < len(lams) - 1 or len(lams) == 3 + sr_eval.TV_EXTEND
    assert res["methods"][1]["psnr"] == pytest.approx(max(t["psnr"]), abs=1e-3)


def test_tv_grid_is_extended_past_an_end_where_the_best_lies(monkeypatch):
    monkeypatch.setattr(sr_eval, "TV_LAMS", (1.0, 10.0))  # far too strong: smaller is better
    res, _, _ = sr_eval.evaluate_sr(_images(), factor=2, points=2, tv_iters=15)
    t = res["tv_tuning"]
    assert min(t["lams"]) < 1.0 and res["tv_lam"] < 10.0  # searched below the given range
    best = int(np.argmax(t["psnr"]))
    assert res["tv_lam"] == t["lams"][best]
    # it stopped because the best moved inside, or after TV_EXTEND extensions
    assert 0 < best < len(t["lams"]) - 1 or len(t["lams"]) == 2 + sr_eval.TV_EXTEND


def test_intensity_scale_does_not_change_the_scores():
    x = _images()
    a, _, _ = sr_eval.evaluate_sr(x, _tiny(), factor=2, lam=1e-4, tv_iters=10)
    b, _, _ = sr_eval.evaluate_sr(1000 * x, _tiny(), factor=2, lam=1e-4, tv_iters=10)
    for ra, rb in zip(a["methods"], b["methods"], strict=True):
        assert ra["psnr"] == pytest.approx(rb["psnr"], abs=1e-3)


def test_bad_images():
    with pytest.raises(DataError, match="real images"):
        sr_eval.evaluate_sr(_images().astype(np.complex64))
    with pytest.raises(DataError, match="smaller than one 4x4 block"):
        sr_eval.evaluate_sr(np.ones((3, 9)), factor=4)
    with pytest.raises(DataError, match="all-zero"):
        sr_eval.evaluate_sr(np.stack([np.ones((8, 8)), np.zeros((8, 8))]))
    with pytest.raises(ValueError, match="lam must be"):
        sr_eval.evaluate_sr(_images(), lam=float("nan"))


def test_cli_on_a_picture(tmp_path, capsys):
    iio = pytest.importorskip("imageio.v3")
    from npgd.cli import main

    rng = np.random.default_rng(0)
    iio.imwrite(tmp_path / "p.png", (255 * np.abs(data.phantom((26, 24), seed=1))
                                     + rng.integers(0, 20, (26, 24))).clip(0, 255)
                .astype(np.uint8))
    assert main(["eval", "--task", "sr", "--data", str(tmp_path / "p.png"), "--grid-points",
                 "2", "--cs-iters", "5", "--out", str(tmp_path / "o"), "--tune"]) == 0
    res = json.loads((tmp_path / "o" / "results.json").read_text())
    assert res["factor"] == 2 and res["images"] == [1, 26, 24]
    assert [m["method"] for m in res["methods"]] == ["bicubic", "TV", "NPGD (sr-2x)"]
    assert (tmp_path / "o" / "comparison.png").stat().st_size > 1000
    assert "NPGD (sr-2x) - max(bicubic, TV)" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--task", "sr", "--accel", "4"], "--accel: an MRI option; not with --task sr"),
    (["--task", "sr", "--sweep"], "--sweep: an MRI option"),
    (["--factor", "4"], "--factor: a super-resolution option; add --task sr"),
    (["--task", "sr", "--factor", "1"], "--factor: must be an int >= 2"),
    (["--task", "sr", "--factor", "3"], "no model ships for it"),
    (["--task", "sr", "--grid-points", "1"], "--grid-points: must be an int >= 2"),
    (["--task", "sr", "--min-fraction", "1.5"], "--min-fraction: must be in [0, 1)"),
])
def test_cli_usage_errors(argv, message, tmp_path, capsys):
    from npgd.cli import main

    assert main(["eval", *argv, "--out", str(tmp_path / "o")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # checked before any file is written


def test_usage_error_names_the_option():
    d = sr_eval.argparse.Namespace(factor=2, mask="vd")
    with pytest.raises(UsageError, match="--mask"):
        sr_eval.check_args(sr_eval.argparse.Namespace(factor=2, mask="radial"), d)


def test_figure_metric_is_checked(tmp_path):
    from npgd.experiments.compare import figure

    x = _images()
    assert figure(tmp_path / "f.png", x, {"copy": x}, metric="psnr").stat().st_size > 1000
    with pytest.raises(ValueError, match="metric must be 'snr' or 'psnr'"):
        figure(tmp_path / "g.png", x, {"copy": x}, metric="mse")
