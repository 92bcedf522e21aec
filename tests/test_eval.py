"""Evaluation on any data: CS baselines on odd shapes, lambda tuning, noise, JSON, the sweep."""

import numpy as np
import pytest

from npgd import experiments as ex
from npgd.problems import data, metrics, mri


def _measure(shape, accel=3, n=1, seed=0):
    x = np.stack([data.phantom(shape, seed=seed + k) for k in range(n)])
    masks = np.stack([mri.vd_mask(shape, accel, seed=seed + k, calib=4) for k in range(n)])
    A, y = mri.simulate(x, masks)
    return x, A, y


@pytest.mark.parametrize("shape", [(45, 54), (37, 50), (32, 40)])
def test_cs_baselines_any_shape(shape):
    x, A, y = _measure(shape)
    zf = metrics.snr(x, A.H(y))
    for method in (ex.cs_wv, ex.cs_tv):
        xh = method(A, y, iters=100, rel=1e-3)
        assert xh.shape == x.shape and np.isfinite(xh).all()
        assert metrics.snr(x, xh)[0] > zf[0] + 1, method.__name__
    one = ex.cs_wv(linops_single(A), y[0], iters=40)  # a single 2-D slice
    assert one.shape == shape


def linops_single(A):
    from npgd import linops

    return linops.MaskedFFT(A.mask.numpy()[0])


def test_cs_wv_padded_grid_keeps_divisible_shapes_exact():
    assert ex.wavelet_grid((192, 160)) == ((192, 160), 3)
    assert ex.wavelet_grid((181, 217)) == ((184, 224), 3)
    x, A, y = _measure((32, 40))
    ref = ex.cs_wv(A, y, iters=20)
    np.testing.assert_array_equal(ex.cs_wv(A, y, iters=20), ref)  # same call, same result


# --- measurements ------------------------------------------------------------------------


from npgd._util import DataError, UsageError  # noqa: E402
from npgd.experiments import evaluate as ev  # noqa: E402
from npgd.experiments import sweep as sw  # noqa: E402
from npgd.experiments import tune  # noqa: E402


@pytest.mark.parametrize("db", [20.0, 30.0])
def test_noise_db_is_kspace_snr_whatever_the_scale(db):
    x = np.stack([data.phantom((64, 64), seed=s) for s in range(2)]) * np.array([[[1.0]], [[1e4]]])
    full = np.ones((2, 64, 64), bool)
    A, y0 = ev.measure(x, full)
    _, y = ev.measure(x, full, noise_db=db, seed=1)
    measured = 10 * np.log10((np.abs(y0) ** 2).mean(axis=(1, 2))
                             / (np.abs(y - y0) ** 2).mean(axis=(1, 2)))
    np.testing.assert_allclose(measured, db, atol=0.2)
    _, y2 = ev.measure(x, full, noise_db=db, seed=1)
    np.testing.assert_array_equal(y, y2)  # same call, same noise


def test_noise_only_on_sampled_points_and_bad_levels_refused():
    x = data.phantom((16, 16), seed=0)[None]
    m = ev.make_masks((16, 16), 1, 4, seed=0)
    A, y = ev.measure(x, m, noise_std=0.1, seed=0)
    assert not y[~m].any()
    for kw in ({"noise_db": float("nan")}, {"noise_std": -1.0}, {"noise_std": float("nan")},
               {"noise_db": 30.0, "noise_std": 0.1}):
        with pytest.raises(UsageError):
            ev.measure(x, m, **kw)


def test_all_zero_kspace_and_images_are_data_errors():
    x = data.phantom((16, 16), seed=0)[None]
    with pytest.raises(DataError, match="k-space is all zero"):
        ev.measure(x, np.zeros((1, 16, 16), bool))
    with pytest.raises(DataError, match="image is all zero"):
        ev.measure(np.zeros((1, 16, 16)), np.ones((1, 16, 16), bool))
    with pytest.raises(DataError, match="NaN/Inf"):
        ev.measure(x * np.nan, np.ones((1, 16, 16), bool))


@pytest.mark.parametrize("family", sorted(ev.MASKS))
def test_mask_families_hit_the_acceleration(family):
    m = ev.make_masks((48, 40), 20, 4, family, seed=3)
    assert m.shape == (20, 48, 40) and m.dtype == bool
    assert abs(m.mean() - 0.25) < 0.02  # exact for vd and radial, on average for lines
    with pytest.raises(UsageError, match="mask: must be one of"):
        ev.make_masks((8, 8), 1, 2, "spiral")


# --- tuning ------------------------------------------------------------------------------


def test_tune_extends_the_grid_past_an_edge():
    x = np.ones((1, 4, 4))
    calls = []

    def solve(r):
        calls.append(r)
        return x * (1.05 + abs(np.log10(r) + 5))  # best at r = 1e-5, far below the start

    out = tune.tune_rel(solve, x, start=1e-3, points=3, ratio=10.0)
    assert out["rel"] == pytest.approx(1e-5) and not out["at_edge"]
    assert out["grid"] == sorted(out["grid"]) and len(out["grid"]) == len(calls) == 5
    capped = tune.tune_rel(solve, x, start=1e-2, points=3, ratio=10.0, max_extend=1)
    assert capped["at_edge"] and capped["rel"] == pytest.approx(1e-4)


def test_tuned_cs_is_scale_free_and_reports_calibration_apart():
    x = np.stack([data.phantom((32, 32), seed=s) for s in range(3)])
    kw = {"accel": 3, "tune": True, "calib_slices": 1, "points": 3, "cs_iters": 15, "seed": 0}
    a, xe, rec = ev.evaluate(x, **kw)
    b, _, _ = ev.evaluate(1e3 * x, **kw)
    assert a["calibration_slices"] == [1] and a["evaluated_slices"] == [0, 2]
    assert len(xe) == 2 and set(rec) == {"zero-filled", "CS-WV", "CS-TV"}
    assert a["cs_rel"] == b["cs_rel"] and a["tuned"]
    for ra, rb in zip(a["methods"], b["methods"], strict=True):
        assert ra["snr"] == pytest.approx(rb["snr"], abs=1e-3), ra["method"]
    # one image: CS is tuned on it (its best case), and the result says so
    one, xe1, _ = ev.evaluate(x[1], **kw)
    assert one["calibration_slices"] == [] and one["evaluated_slices"] == [0] and len(xe1) == 1
    assert one["tuned_on"] == "evaluated slices" and a["tuned_on"] == "calibration slices"
    masks = ev.make_masks((32, 32), 1, 3, "vd", 0)
    A1, y1 = ev.measure(x[1:2], masks, seed=0)
    direct = tune.tune_cs(x[1:2], A1, y1, iters=15, points=3)
    assert one["cs_rel"] == {k: v["rel"] for k, v in direct.items()}


# --- evaluate with a model ---------------------------------------------------------------


TINY = {"features": 4, "blocks": 1, "iters": 2, "shared": True, "data_consistency": "gradient"}


@pytest.fixture(scope="module")
def tiny_net():
    pytest.importorskip("torch")
    from npgd.models import build_model

    return build_model(TINY).eval()


@pytest.mark.parametrize("shape", [(181, 217), (37, 50)])
def test_evaluate_odd_shapes_real_and_complex(tiny_net, shape):
    real = data.phantom(shape, seed=0, complex_=False)[None]
    for x in (real, real * np.exp(1j * data.synthetic_phase(shape, 0))):
        res, xe, rec = ev.evaluate(x, tiny_net, cs_iters=5, seed=0)
        assert [m["method"] for m in res["methods"]] == ["zero-filled", "CS-WV", "CS-TV",
                                                         "NPGD"]
        assert all(r.shape == (1, *shape) for r in rec.values())
        assert np.isfinite(res["npgd_minus_best_cs_db"])


def test_model_scores_do_not_depend_on_the_intensity_scale(tiny_net):
    x = np.stack([data.phantom((24, 32), seed=s) for s in range(2)])
    a, _, _ = ev.evaluate(x, tiny_net, classic=False, noise_db=30, seed=0)
    b, _, _ = ev.evaluate(1e4 * x, tiny_net, classic=False, noise_db=30, seed=0)
    assert a["methods"][-1]["snr"] == pytest.approx(b["methods"][-1]["snr"], abs=1e-2)


def test_nan_model_is_a_clear_error(tiny_net):
    import copy

    import torch

    broken = copy.deepcopy(tiny_net)
    with torch.no_grad():
        for name, p in broken.named_parameters():
            if "step" not in name:  # a NaN step is refused by pgd itself
                p.fill_(float("nan"))
    with pytest.raises(DataError, match="NPGD: the reconstruction has .* NaN/Inf"):
        ev.evaluate(data.phantom((16, 16), seed=0)[None], broken, classic=False)


def test_results_are_strict_json_with_reasons(tmp_path):
    import json

    x = np.ones((1, 16, 16), np.float32)  # one exact DC coefficient: A^H y == x, SNR = inf
    res, xe, rec = ev.evaluate(x, accel=1, classic=False)
    paths = ev.write_results(tmp_path, res, xe, rec)
    text = (tmp_path / "results.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    loaded = json.loads(text)
    assert loaded["methods"][0]["snr"] is None and "infinite" in loaded["note"]
    assert loaded["methods"][0]["snr_per_slice"][0]["note"].startswith("infinite")
    assert [p.name for p in paths] == ["results.json", "comparison.png"]


def test_figures_never_switch_the_matplotlib_backend(tmp_path):
    import matplotlib

    before = matplotlib.get_backend()
    x = data.phantom((16, 16), seed=0)[None]
    ex.figure(tmp_path / "f.png", x, {"copy": x})
    assert matplotlib.get_backend() == before and (tmp_path / "f.png").stat().st_size > 1000


# --- command line ------------------------------------------------------------------------


def _args(*argv):
    import argparse

    p = argparse.ArgumentParser()
    ev.add_arguments(p)
    sw.add_sweep_arguments(p)
    return p.parse_args(list(argv))


@pytest.fixture
def checkpoint(tmp_path, tiny_net):
    from npgd.models.checkpoint import FORMAT, save_checkpoint

    p = tmp_path / "model.pt"
    save_checkpoint(p, {"format": FORMAT, "config": TINY,
                        "model": tiny_net.state_dict()})
    return p


def test_run_on_a_nifti_file(tmp_path, checkpoint):
    import json

    import nibabel as nib

    vol = np.stack([data.phantom((40, 36), seed=s, complex_=False) for s in range(4)], -1)
    nib.save(nib.Nifti1Image(vol, np.eye(4)), tmp_path / "v.nii.gz")
    lines = []
    code = ev.run(_args("--data", str(tmp_path / "v.nii.gz"), "--checkpoint", str(checkpoint),
                        "--tune", "--calib-slices", "1", "--grid-points", "2", "--cs-iters",
                        "5", "--noise", "30", "--mask", "radial", "--out",
                        str(tmp_path / "o")), log=lines.append)
    assert code == 0
    res = json.loads((tmp_path / "o" / "results.json").read_text())
    assert res["noise_db"] == 30 and res["mask"] == "radial" and res["images"] == [4, 36, 40]
    assert res["calibration_slices"] and len(res["evaluated_slices"]) == 3
    assert (tmp_path / "o" / "comparison.png").is_file()
    assert any("4 NIfTI images 36x40" in s for s in lines)
    assert any(s.startswith("chosen: CS-WV rel") for s in lines)
    # an untrained network loses to tuned CS: the run says so and names the two remedies
    assert res["npgd_minus_best_cs_db"] < 0
    assert any("is behind tuned CS on these data: --auto" in s and "--adapt STEPS" in s
               for s in lines)


def test_run_reads_the_chosen_volume_of_a_4d_file(tmp_path, checkpoint):
    import nibabel as nib

    vol = np.stack([data.phantom((40, 36), seed=s, complex_=False) * (s + 1)
                    for s in range(3)], -1)[:, :, None, :].repeat(2, axis=2)  # (40, 36, 2, 3)
    nib.save(nib.Nifti1Image(vol, np.eye(4)), tmp_path / "dwi.nii.gz")
    base = ("--data", str(tmp_path / "dwi.nii.gz"), "--checkpoint", str(checkpoint),
            "--no-classic", "--no-figure")
    lines = []
    assert ev.run(_args(*base, "--volume", "2", "--out", str(tmp_path / "o")),
                  log=lines.append) == 0
    assert lines[0].startswith("2 NIfTI images 36x40") and "4-D" not in lines[0]
    lines = []
    assert ev.run(_args(*base, "--out", str(tmp_path / "o")), log=lines.append) == 0
    assert "volume 0 of the 3 in a 4-D file" in lines[0]
    with pytest.raises(DataError, match="volume 3 out of range; the file holds 3 volumes"):
        ev.run(_args(*base, "--volume", "3", "--out", str(tmp_path / "o")))


def test_run_refuses_bad_options_before_compute(tmp_path, checkpoint):
    (tmp_path / "file").write_text("x")
    base = ["--checkpoint", str(checkpoint), "--slices", "1"]
    with pytest.raises(UsageError, match="--out: cannot write"):
        ev.run(_args(*base, "--out", str(tmp_path / "file" / "sub")))
    for bad in (["--noise", "nan"], ["--noise", "-5"], ["--noise-std", "-1"],
                ["--noise", "30", "--noise-std", "0.1"], ["--accel", "0.5"], ["--slices", "0"],
                ["--calib-slices", "0"], ["--min-fraction", "1"], ["--sweep-accels", "0.5"],
                ["--sweep-noise", "nan"]):
        with pytest.raises(UsageError, match=f"^{bad[0]}"):
            ev.run(_args(*base, *bad, "--out", str(tmp_path / "o")))
    assert not (tmp_path / "o").exists()  # refused before anything was written
    with pytest.raises(DataError, match="no such file or folder"):
        ev.run(_args(*base, "--data", str(tmp_path / "nope.nii"), "--out", str(tmp_path / "o")))


# --- sweep -------------------------------------------------------------------------------


def test_sweep_conditions_one_factor_at_a_time():
    base = {"accel": 5.0, "mask": "vd", "noise_db": None, "size": None}
    conds = sw.conditions(base)
    assert conds[0]["factor"] == "base"
    assert sorted({c["factor"] for c in conds}) == ["accel", "base", "mask", "noise", "size"]
    assert len(conds) == 1 + 4 + 2 + 3 + 5  # the base value of each factor is not repeated
    assert [c["size"] for c in conds if c["factor"] == "size"][-1] == (512, 512)
    for c in conds[1:]:
        changed = [k for k in base if c[k] != base[k]]
        assert len(changed) == 1, c


def test_resize_keeps_aspect_and_pads():
    x = np.zeros((1, 40, 20), np.complex64)
    x[0, 10:30, 5:15] = 1 + 1j
    y = sw.resize_to(x, (20, 20))
    assert y.shape == (1, 20, 20) and y.dtype == np.complex64
    assert not y[:, :, :5].any() and not y[:, :, 15:].any()  # 20x10 inside, padded at sides
    np.testing.assert_allclose(y.real, y.imag)


def test_sweep_run_writes_table_json_and_plot(tmp_path, checkpoint):
    import json

    np.save(tmp_path / "x.npy", np.stack([data.phantom((40, 40), seed=s, complex_=False)
                                          for s in range(3)]))
    lines = []
    code = sw.run(_args("--sweep", "--data", str(tmp_path / "x.npy"), "--checkpoint",
                        str(checkpoint), "--calib-slices", "1", "--sweep-slices", "1",
                        "--sweep-accels", "3", "--sweep-masks", "lines", "--sweep-noise",
                        "20", "--sweep-sizes", "32x24", "--sweep-grid-points", "2",
                        "--cs-iters", "5", "--out", str(tmp_path / "s")), log=lines.append)
    assert code == 0
    res = json.loads((tmp_path / "s" / "sweep.json").read_text())
    got = [(c["factor"], c["accel"], c["mask"], c["noise_db"], c["shape"])
           for c in res["conditions"]]
    assert got == [("base", 5.0, "vd", None, [40, 40]), ("accel", 3.0, "vd", None, [40, 40]),
                   ("mask", 5.0, "lines", None, [40, 40]), ("noise", 5.0, "vd", 20.0, [40, 40]),
                   ("size", 5.0, "vd", None, [32, 24])]
    for c in res["conditions"]:
        best = max(c["snr"]["CS-WV"], c["snr"]["CS-TV"])
        assert c["npgd_minus_best_cs_db"] == pytest.approx(c["snr"][res["model"]] - best)
    assert (tmp_path / "s" / "sweep.png").stat().st_size > 1000
    starts = ("factor", "base", "accel", "mask", "noise", "size")
    table = [s for s in "\n".join(lines).splitlines() if s.startswith(starts)]
    assert table[0].split()[-1] == "NPGD-CS" and len(table) == 1 + 5


def test_sweep_of_a_single_image_tunes_cs_on_it(tmp_path, checkpoint):
    import json

    np.save(tmp_path / "one.npy", data.phantom((32, 32), seed=0, complex_=False))
    lines = []
    code = sw.run(_args("--sweep", "--data", str(tmp_path / "one.npy"), "--checkpoint",
                        str(checkpoint), "--sweep-accels", "3", "--sweep-masks",
                        "--sweep-noise", "--sweep-sizes", "--sweep-grid-points", "2",
                        "--cs-iters", "5", "--out", str(tmp_path / "s")), log=lines.append)
    assert code == 0
    res = json.loads((tmp_path / "s" / "sweep.json").read_text())
    assert res["slices"] == 1 and res["calibration_slices"] == 0
    assert res["tuned_on"] == "evaluated slices" and len(res["conditions"]) == 2
    assert any("CS tuned on them" in s for s in lines)
    with pytest.raises(UsageError, match="conds is empty"):
        sw.sweep(np.zeros((1, 8, 8), np.float32), None, [])


def test_neural_reconstructs_each_image_alone_whatever_the_batch():
    pytest.importorskip("torch")
    from npgd.models import build_model

    net = build_model({"features": 4, "iters": 2, "scales": 2, "shared": False,
                       "norm": False}).eval()
    rng = np.random.default_rng(3)
    x = (rng.random((5, 16, 12)) * np.exp(1j * rng.random((5, 16, 12)))).astype(np.complex64)
    A, y = mri.simulate(x, rng.random((5, 16, 12)) < 0.4)  # a mask per image
    one = ex.neural(net, batch=1)(A, y)
    np.testing.assert_array_equal(ex.neural(net)(A, y), one)  # the CPU default: one at a time
    np.testing.assert_allclose(ex.neural(net, batch=3)(A, y), one, rtol=1e-5, atol=1e-6)
    assert one.shape == (5, 16, 12)
    with pytest.raises(ValueError, match="batch"):
        ex.neural(net, batch=0)
