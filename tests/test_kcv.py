"""Reference-free choice by k-space cross-validation (npgd.experiments.kcv): it ranks methods
as their image error does, its density weights matter, it tunes CS near the oracle weight,
repeats exactly, and refuses what it cannot split."""

import json

import numpy as np
import pytest

from npgd import linops
from npgd._util import UsageError
from npgd.experiments import cs_tv
from npgd.experiments.kcv import auto, cv_snr, holdout_split, sampling_density, select, tune_rel_cv
from npgd.experiments.tune import tune_rel
from npgd.problems import data, metrics, mri


def _problem(n=2, shape=(48, 40), accel=3.0):
    x = np.stack([data.phantom(shape, seed=s) for s in range(n)]).astype(np.complex64)
    masks = np.stack([mri.vd_mask(shape, accel, seed=s, calib=6) for s in range(n)])
    A = linops.MaskedFFT(masks)
    return x, A, A(x)


def _band_error(shape, lo, hi, energy, seed):
    """A complex image whose spectrum is white noise in the radial band [lo, hi) of the
    centred k-space (radius as a fraction of the matrix), scaled to ``energy``."""
    h, w = shape
    ky = (np.arange(h) - h // 2) / h
    kx = (np.arange(w) - w // 2) / w
    r = np.hypot(ky[:, None], kx[None, :])
    rng = np.random.default_rng(seed)
    k = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) * ((r >= lo) & (r < hi))
    e = linops.MaskedFFT(np.ones(shape, bool)).H(k.astype(np.complex64))
    return (e * np.sqrt(energy / np.sum(np.abs(e) ** 2))).astype(np.complex64)


def test_cv_ranks_methods_as_the_image_error_does():
    x, A, y = _problem()
    methods = {"exact": lambda A, y: x, "zero-filled": lambda A, y: A.H(y),
               "CS-TV": lambda A, y: cs_tv(A, y, rel=1e-3, iters=60)}
    cv = {k: cv_snr(f, A, y) for k, f in methods.items()}
    true = {k: metrics.snr(x, f(A, y)) for k, f in methods.items()}
    assert cv["exact"].min() > 100  # nothing to mispredict
    for s in range(len(x)):  # per slice, the same order as the true SNR
        assert cv["CS-TV"][s] > cv["zero-filled"][s] and true["CS-TV"][s] > true["zero-filled"][s]
    assert select(methods, A, y)["best"] == "exact"


def test_inverse_density_weights_count_errors_where_the_mask_is_sparse():
    """Two fixed-error methods: one 3 dB better in the image, its error at low frequencies
    (densely sampled); the other's error twice as large, at high frequencies (sparsely
    sampled). Unweighted, the held-out error would favour the worse one."""
    shape = (64, 64)
    x = data.phantom(shape, seed=0).astype(np.complex64)[None]
    mask = mri.vd_mask(shape, 3, seed=0, calib=6)[None]
    A = linops.MaskedFFT(mask)
    y = A(x)
    e = float(np.sum(np.abs(x) ** 2)) * 1e-3
    low = _band_error(shape, 0.06, 0.15, e, 1)
    high = _band_error(shape, 0.33, 0.5, 2 * e, 2)
    good, bad = (lambda A, y: x + low), (lambda A, y: x + high)
    assert metrics.snr(x, good(A, y))[0] > metrics.snr(x, bad(A, y))[0] + 2.9
    assert cv_snr(good, A, y)[0] > cv_snr(bad, A, y)[0] + 1.5
    # the same split without the weights gets the order wrong: the weights are needed
    hold = holdout_split(mask, 2, 0.15, 0)

    def plain(method):
        r = sum(np.sum(np.abs(linops.MaskedFFT(h)(method(A, y)) - np.where(h, y, 0)) ** 2)
                for h in hold)
        return -10 * np.log10(r)

    assert plain(bad) > plain(good)


def test_sampling_density_of_a_uniform_mask_is_its_fraction():
    m = np.random.default_rng(0).random((64, 64)) < 0.25
    d = sampling_density(m)
    assert d.shape == m.shape and abs(float(d.mean()) - m.mean()) < 0.01
    assert 0.1 < d.min() and d.max() < 0.45


def test_holdout_split_is_disjoint_inside_the_mask_and_reproducible():
    _, A, _ = _problem()
    mask = np.asarray(A.mask.numpy()) != 0
    h = holdout_split(mask, folds=3, frac=0.2, seed=5)
    assert h.shape == (3, *mask.shape)
    assert not (h & ~mask).any()  # only sampled locations are held out
    assert (h.sum(axis=0) <= 1).all()  # disjoint parts
    assert not h[:, :, 24, 20].any()  # the centre is always kept
    assert (h == holdout_split(mask, folds=3, frac=0.2, seed=5)).all()
    assert not (h == holdout_split(mask, folds=3, frac=0.2, seed=6)).all()


def test_tune_rel_cv_lands_near_the_oracle_weight():
    x, A, y = _problem(accel=3.0)

    def solve(r):
        return lambda A, y: cs_tv(A, y, rel=r, iters=80)

    cv = tune_rel_cv(solve, A, y, start=1e-3, points=3)
    oracle = tune_rel(lambda r: solve(r)(A, y), x, start=1e-3, points=3)
    assert abs(np.log10(cv["rel"] / oracle["rel"])) <= 0.5 + 1e-9  # within one grid step
    assert cv["grid"] == sorted(cv["grid"]) and not cv["at_edge"]


def test_auto_chooses_reproducibly_and_records_its_choice():
    torch = pytest.importorskip("torch")
    from npgd.models import build_model

    torch.manual_seed(0)
    net = build_model({"features": 4, "iters": 2}).eval()
    x, A, y = _problem(n=3)
    run = auto(net, name="tiny", cs_iters=20, slices=2, points=2)
    a = run(A, y)
    c = run.choice
    assert a.shape == x.shape and np.isfinite(a).all()
    assert c["slices"] == [0, 2]  # the middles of two halves of the three slices
    assert set(c["cv_snr"]) == {"tiny", "CS-WV", "CS-TV"} | {
        f"{w:g} tiny + {1 - w:g} {cs}" for w in (0.25, 0.5, 0.75) for cs in ("CS-WV", "CS-TV")}
    assert c["method"] == max(c["cv_snr"], key=c["cv_snr"].get)
    b = run(A, y)
    assert np.array_equal(a, b) and run.choice["cv_snr"] == c["cv_snr"]
    # an untrained network loses to CS on a phantom, and auto sees it without a reference
    assert c["method"] != "tiny"
    assert auto(net, name="tiny", cs_iters=20, slices=2, points=2, blend=())(A, y) is not None
    with pytest.raises(UsageError, match="blend must hold weights strictly between 0 and 1"):
        auto(net, blend=(0.5, 1.0))


def test_auto_scores_mixtures_exactly_and_takes_one_when_it_predicts_best():
    """Two candidates with errors of equal energy in different places: their half-half
    mixture has half the error, k-space CV scores it as it scores the mixed method run
    directly (the prediction is linear), auto chooses it and returns that mixture."""
    from npgd.experiments import kcv

    x, A, y = _problem(n=2)
    rng = np.random.default_rng(5)
    e1, e2 = (0.05 * (rng.standard_normal(x.shape) + 1j * rng.standard_normal(x.shape))
              .astype(np.complex64) for _ in range(2))
    model = lambda A, y: x + e1  # noqa: E731
    cs = {"CS-X": (lambda A, y, rel, iters: x + e2 * (1 + abs(np.log10(rel / 1e-3))), 1e-3)}
    run = auto(model=model, name="m", cs=cs, points=2, slices=2)
    out = run(A, y)
    c = run.choice
    assert c["method"] == "0.5 m + 0.5 CS-X" and c["weight"] == 0.5 and c["rel"] == 1e-3
    np.testing.assert_allclose(out, 0.5 * (x + e1) + 0.5 * (x + e2), rtol=0, atol=1e-6)
    direct = cv_snr(lambda A, y: 0.5 * (x + e1) + 0.5 * (x + e2), A, y)
    assert np.mean(direct) == pytest.approx(c["cv_snr"]["0.5 m + 0.5 CS-X"], abs=1e-6)
    assert c["cv_snr"]["0.5 m + 0.5 CS-X"] > max(c["cv_snr"]["m"], c["cv_snr"]["CS-X"]) + 2
    f = kcv._predictions(model, A, y, "test", folds=2, frac=0.15, seed=0, unit="auto")
    assert np.array_equal(kcv._score(f), cv_snr(model, A, y))


def test_auto_mixes_the_model_with_each_cs_method_not_only_the_better_one():
    """CS-A alone beats CS-B but errs where the model errs; CS-B errs elsewhere. The even
    mixture of the model with CS-B halves the error, and auto finds it although CS-B is
    the worse CS method."""
    x, A, y = _problem(n=2)
    rng = np.random.default_rng(6)
    e1, e2 = (0.05 * (rng.standard_normal(x.shape) + 1j * rng.standard_normal(x.shape))
              .astype(np.complex64) for _ in range(2))
    model = lambda A, y: x + e1  # noqa: E731
    cs = {"CS-A": (lambda A, y, rel, iters: x + 0.9 * e1 * (1 + abs(np.log10(rel / 1e-3))),
                   1e-3),
          "CS-B": (lambda A, y, rel, iters: x + 1.1 * e2 * (1 + abs(np.log10(rel / 1e-3))),
                   1e-3)}
    run = auto(model=model, name="m", cs=cs, points=2, slices=2)
    out = run(A, y)
    s = run.choice["cv_snr"]
    assert s["CS-A"] > s["CS-B"] and s["0.5 m + 0.5 CS-A"] < s["0.5 m + 0.5 CS-B"]
    assert run.choice["method"] == "0.5 m + 0.5 CS-B"
    np.testing.assert_allclose(out, x + 0.5 * e1 + 0.55 * e2, rtol=0, atol=1e-6)


def test_kcv_refuses_what_it_cannot_split():
    x, A, y = _problem()
    with pytest.raises(UsageError, match="A must be a linops.MaskedFFT"):
        cv_snr(lambda A, y: A.H(y), linops.Identity((48, 40)), y)
    bad = y.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(UsageError, match="NaN"):
        cv_snr(lambda A, y: A.H(y), A, bad)
    with pytest.raises(UsageError, match="last two axes"):
        cv_snr(lambda A, y: A.H(y), A, y[..., :-1])
    with pytest.raises(ValueError, match="folds \\* frac"):
        holdout_split(np.asarray(A.mask.numpy()) != 0, folds=4, frac=0.3)
    centre_only = np.zeros((1, 32, 32), bool)
    centre_only[0, 15:18, 15:18] = True
    with pytest.raises(ValueError, match="too few"):
        holdout_split(centre_only, centre=0.1)
    with pytest.raises(UsageError, match="methods is empty"):
        select({}, A, y)


def test_a_method_that_returns_nan_scores_minus_infinity():
    _, A, y = _problem(n=1)
    assert cv_snr(lambda A, y: np.full(y.shape, np.nan, np.complex64), A, y)[0] == -np.inf


def test_npgd_eval_auto_reports_the_choice(tmp_path):
    pytest.importorskip("torch")
    from test_adapt import _files

    from npgd.cli import main
    ck = _files(tmp_path, (32, 28), 3)
    out = tmp_path / "o"
    code = main(["eval", "--data", str(tmp_path / "v.npy"), "--checkpoint", str(ck),
                 "--auto", "--cs-iters", "10", "--grid-points", "2", "--no-figure",
                 "--out", str(out)])
    assert code == 0
    res = json.loads((out / "results.json").read_text())
    names = [m["method"] for m in res["methods"]]
    assert names[-1] == "auto (k-space CV)"
    assert res["auto"]["method"] == max(res["auto"]["cv_snr"], key=res["auto"]["cv_snr"].get)
    assert "auto (k-space CV)" in res["minus_best_cs_db"]
    assert main(["eval", "--auto", "--no-classic", "--out", str(tmp_path / "s")]) == 2


def test_sweep_with_auto_reports_its_margin_and_choice_in_every_condition(tmp_path):
    torch = pytest.importorskip("torch")
    from npgd.experiments.sweep import format_sweep, plot_sweep, sweep
    from npgd.models import build_model

    torch.manual_seed(0)
    net = build_model({"features": 4, "iters": 1}).eval()
    x = np.stack([data.phantom((32, 32), seed=s) for s in range(3)])
    base = {"accel": 3.0, "mask": "vd", "noise_db": None, "size": None}
    conds = [{"factor": "base", **base}, {"factor": "noise", **base, "noise_db": 30.0}]
    out = sweep(x, net, conds, name="tiny", cs_iters=10, points=2, auto=True)
    for r in out["conditions"]:
        best_cs = max(r["snr"]["CS-WV"], r["snr"]["CS-TV"])
        assert r["auto_minus_best_cs_db"] == pytest.approx(r["snr"]["auto (k-space CV)"]
                                                           - best_cs)
        assert r["auto_choice"]["method"] in ("model", "CS-WV", "CS-TV") or \
            r["auto_choice"]["method"].startswith(("0.25 model + ", "0.5 model + ",
                                                   "0.75 model + "))
    table = format_sweep(out["conditions"], name="tiny")
    assert "auto-CS" in table.splitlines()[0] and len(table.splitlines()) == 3
    assert plot_sweep(tmp_path / "s.png", out).stat().st_size > 1000


def test_holdout_keeps_the_mask_family_whole_lines_and_whole_spokes():
    lines = mri.line_mask((40, 48), 3, center_fraction=0.1, seed=0)[None]
    h = holdout_split(lines, folds=2, frac=0.15, seed=0)  # "auto" sees the lines
    assert (h == h[:, :, :1]).all()  # whole columns
    assert not (h & ~lines).any() and not (h[0] & h[1]).any()
    assert not h[:, 0, :, 23:26].any()  # the centre band (|kx| <= 0.04 W) is kept
    rows = np.swapaxes(lines, 1, 2)
    hr = holdout_split(rows, folds=2, frac=0.15, seed=0)
    assert (hr == hr[:, :, :, :1]).all()  # whole rows
    assert 0.1 < h[0].sum() / lines.sum() < 0.2
    radial = mri.vd_radial_mask((64, 64), 4, seed=0)[None]
    hs = holdout_split(radial, folds=2, frac=0.15, seed=0, unit="spoke")
    ky, kx = np.mgrid[-32:32, -32:32] / 32
    wedge = np.degrees(np.arctan2(ky, kx)).astype(int) % 360
    outside = holdout_split(radial, folds=1, frac=1.0, unit="spoke")[0, 0]  # all but the box
    assert outside.sum() > 0.9 * radial.sum()
    held = np.unique(wedge[hs[0, 0]])
    assert 0 < len(held) < len(np.unique(wedge[outside]))
    for b in held:  # a wedge held out is held out whole
        assert not (outside & (wedge == b) & ~hs[0, 0]).any()
    with pytest.raises(ValueError, match="unit 'line' needs"):
        holdout_split(radial, unit="line")
    with pytest.raises(ValueError, match="unit must be one of"):
        holdout_split(radial, unit="spokes")


def test_radial_density_is_constant_on_rings():
    radial = mri.vd_radial_mask((64, 64), 4, seed=0)
    d = sampling_density(radial, radial=True)
    ky, kx = np.mgrid[-32:32, -32:32]
    ring = (np.hypot(ky, kx).round() == 20)
    assert np.ptp(d[ring]) < 1e-9 and abs(d[ring][0] - radial[ring].mean()) < 0.05
    assert d[32, 32] == 1.0 and d.min() >= 0.02


def test_npgd_eval_auto_on_multicoil_data(tmp_path):
    """On simulated coils ``--auto`` splits the mask shared by the coils, runs the model and
    CS on the thinned Sense operators, and reports its choice beside the other methods."""
    pytest.importorskip("torch")
    from test_adapt import _files

    from npgd.cli import main
    ck = _files(tmp_path, (40, 36), 2)
    out = tmp_path / "o"
    code = main(["eval", "--data", str(tmp_path / "v.npy"), "--checkpoint", str(ck),
                 "--simulate-coils", "3", "--acs", "12", "--espirit-kernel", "4",
                 "--cs-iters", "5", "--cg-iters", "5", "--accel", "3", "--auto",
                 "--grid-points", "2", "--no-figure", "--out", str(out)])
    assert code == 0
    res = json.loads((out / "results.json").read_text())
    assert [m["method"] for m in res["methods"]][-1] == "auto (k-space CV)"
    assert res["auto"]["method"] == max(res["auto"]["cv_snr"], key=res["auto"]["cv_snr"].get)
    assert {"NPGD (model.pt)", "CS-WV", "CS-TV"} < set(res["auto"]["cv_snr"])


def test_cv_snr_on_sense_ranks_the_truth_first():
    from npgd.experiments.multicoil import sampling_mask, sense_methods
    from npgd.problems import coils

    x = data.phantom((32, 28), seed=0)[None].astype(np.complex64)
    k = coils.simulate_kspace(x, 4)
    m = sampling_mask((32, 28), 3, "vd", calib=12, seed=0)
    A = linops.Sense(coils.espirit(k * m, 12, 4), m)
    y = (k * m).astype(np.complex64)
    _, cs = sense_methods()
    tv = lambda A, y: cs["CS-TV"][0](A, y, rel=1e-3, iters=20)  # noqa: E731
    zf = lambda A, y: coils.sense_combine(A.fft.H(y), A.maps.numpy())  # noqa: E731
    scores = {k: cv_snr(f, A, y)[0] for k, f in {"tv": tv, "zf": zf}.items()}
    assert scores["tv"] > scores["zf"]
    with pytest.raises(UsageError, match="\\(C, H, W\\) or \\(N, C, H, W\\)"):
        cv_snr(tv, A, y[0, 0])


def test_auto_says_when_the_samples_cannot_be_split():
    from npgd._util import DataError

    mask = np.zeros((1, 16, 16), bool)
    mask[0, 8, 8] = True  # the centre only
    A = linops.MaskedFFT(mask)
    y = A(data.phantom((16, 16), seed=0)[None].astype(np.complex64))
    with pytest.raises(DataError, match="auto: cannot choose by k-space cross-validation"):
        auto(None, cs_iters=5, points=2)(A, y)
