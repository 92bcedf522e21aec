"""Scan-specific self-supervised adaptation (npgd.train.adapt): it learns from the measured
k-space only, leaves the given network alone, repeats exactly, and refuses what it cannot
split."""

import argparse
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from npgd import linops  # noqa: E402
from npgd._util import UsageError  # noqa: E402
from npgd.models import build_model  # noqa: E402
from npgd.problems import coils, data, mri  # noqa: E402
from npgd.train.adapt import adapt, adapted  # noqa: E402

TINY = {"features": 6, "blocks": 1, "iters": 3, "shared": True, "data_consistency": "gradient"}


def _net(seed=0):
    torch.manual_seed(seed)
    return build_model(TINY).eval()


def _problem(n=3, shape=(32, 28), accel=3):
    x = np.stack([data.phantom(shape, seed=s) for s in range(n)]).astype(np.complex64)
    masks = np.stack([mri.vd_mask(shape, accel, seed=s) for s in range(n)])
    A = linops.MaskedFFT(masks)
    return x, A, A(x)


def _files(tmp_path, shape, n):
    """A tiny untrained checkpoint ``model.pt`` and ``n`` phantom slices ``v.npy`` of
    ``shape`` in ``tmp_path``, for the command-line tests; the checkpoint's path."""
    from npgd.models.checkpoint import FORMAT, save_checkpoint

    ck = tmp_path / "model.pt"
    save_checkpoint(ck, {"format": FORMAT, "config": TINY, "model": _net().state_dict()})
    np.save(tmp_path / "v.npy",
            np.stack([data.phantom(shape, seed=s, complex_=False) for s in range(n)]))
    return ck


def _params(net):
    return [p.detach().clone() for p in net.parameters()]


def _same(a, b):
    return all(torch.equal(p, q) for p, q in zip(a, b, strict=True))


def test_adaptation_lowers_the_held_out_kspace_loss_and_leaves_the_input_alone():
    net = _net()
    before = _params(net)
    _, A, y = _problem()
    tuned, hist = adapt(net, A, y, steps=30, lr=3e-2, val_every=5, patience=100)
    assert tuned is not net
    assert _same(before, _params(net))
    assert hist["steps"] == 30 and len(hist["val_loss"]) == 7
    # an untrained network: the held-out k-space is predicted much better after adapting
    assert min(hist["val_loss"]) < 0.8 * hist["val_loss"][0]
    assert hist["best_step"] > 0 and not any(p.requires_grad for p in tuned.parameters())
    assert not tuned.training


def test_the_same_call_gives_the_same_network_and_the_seed_matters():
    _, A, y = _problem(n=2)
    a, ha = adapt(_net(), A, y, steps=6, lr=1e-3, val_every=2, seed=3)
    b, hb = adapt(_net(), A, y, steps=6, lr=1e-3, val_every=2, seed=3)
    c, _ = adapt(_net(), A, y, steps=6, lr=1e-3, val_every=2, seed=4)
    assert ha["val_loss"] == hb["val_loss"]
    assert _same(a.parameters(), b.parameters())
    assert not _same(a.parameters(), c.parameters())


def test_early_stopping_keeps_the_best_checked_weights():
    _, A, y = _problem(n=2)
    tuned, hist = adapt(_net(), A, y, steps=40, lr=0.5, val_every=2, patience=2)
    # a huge learning rate makes things worse: it stops early, on the best check
    assert hist["steps"] < 40
    assert hist["val_loss"][hist["best_step"] // 2] == min(hist["val_loss"])
    if hist["best_step"] == 0:
        assert _same(tuned.parameters(), _net().parameters())


def test_a_learned_step_pushed_below_zero_is_projected_back(step_pushed_negative):
    # CI saw lr 0.5 push it below zero; pgd would refuse it in the next forward pass
    _, A, y = _problem(n=2)
    tuned, hist = adapt(_net(), A, y, steps=4, val_every=1, patience=100)
    assert hist["steps"] == 4 and all(np.isfinite(hist["val_loss"]))
    if hist["best_step"] > 0:
        assert float(tuned.step) == tuned.MIN_STEP


def test_one_shared_mask_torch_input_and_sense():
    x, _, _ = _problem(n=2)
    mask = mri.vd_mask(x.shape[1:], 3, seed=0)
    A = linops.MaskedFFT(mask)
    y = torch.from_numpy(A(x))
    tuned, _ = adapt(_net(), A, y, steps=2, val_every=1)
    assert tuned(A, y).shape == y.shape
    maps = coils.birdcage(x.shape[1:], 3)
    S = linops.Sense(maps, mask)
    ys = S(x)
    out = adapted(_net(), steps=2, val_every=1)(S, ys)
    assert isinstance(out, np.ndarray) and out.shape == x.shape


def test_refuses_what_it_cannot_split():
    x, A, y = _problem(n=1)
    with pytest.raises(UsageError, match="A must be a linops.MaskedFFT or a linops.Sense"):
        adapt(_net(), linops.FFT2(x.shape[1:]), y)
    with pytest.raises(UsageError, match="Sense with a mask"):
        adapt(_net(), linops.Sense(coils.birdcage(x.shape[1:], 2)), np.ones((1, 2, 32, 28),
                                                                          np.complex64))
    with pytest.raises(UsageError, match="mask of A must be 0/1"):
        adapt(_net(), linops.MaskedFFT(0.5 * np.ones(x.shape[1:])), y)
    with pytest.raises(TypeError, match="y must be complex"):
        adapt(_net(), A, y.real)
    bad = y.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        adapt(_net(), A, bad)
    with pytest.raises(ValueError, match="holdout \\+ val"):
        adapt(_net(), A, y, holdout=0.6, val=0.5)
    with pytest.raises(ValueError, match="centre"):
        adapt(_net(), A, y, centre=0.5)
    with pytest.raises(ValueError, match="steps"):
        adapt(_net(), A, y, steps=-1)


def test_npgd_eval_adapt_reports_the_adapted_model(tmp_path):
    from npgd.cli import main
    ck = _files(tmp_path, (30, 26), 3)
    out = tmp_path / "o"
    code = main(["eval", "--data", str(tmp_path / "v.npy"), "--checkpoint", str(ck),
                 "--no-classic", "--no-figure", "--adapt", "3", "--adapt-lr", "1e-3",
                 "--out", str(out)])
    assert code == 0
    res = json.loads((out / "results.json").read_text())
    names = [m["method"] for m in res["methods"]]
    assert names == ["zero-filled", "NPGD (model.pt)", "NPGD (model.pt), adapted"]
    assert res["adaptation"]["steps"] == 3 and res["adaptation"]["lr"] == 1e-3
    assert main(["eval", "--adapt", "2", "--sweep", "--out", str(tmp_path / "s")]) == 2
    assert main(["eval", "--adapt", "-1", "--out", str(tmp_path / "s")]) == 2
    assert main(["eval", "--adapt", "2", "--adapt-lr", "0", "--out", str(tmp_path / "s")]) == 2


def test_evaluate_run_needs_an_adapter_for_adapt(tmp_path):
    from npgd.experiments import evaluate as ev

    p = argparse.ArgumentParser()
    ev.add_arguments(p)
    with pytest.raises(UsageError, match="--adapt: no adapter"):
        ev.run(p.parse_args(["--adapt", "2", "--out", str(tmp_path / "o")]))


def test_npgd_eval_adapt_on_multicoil_data(tmp_path):
    """``--adapt`` on simulated multi-coil data adapts the model on the Sense operator with
    the ESPIRiT maps and reports it beside the model and the classic methods, each with its
    margin to the best CS; ``--sweep`` stays single-coil only."""
    from npgd.cli import main
    ck = _files(tmp_path, (40, 36), 2)
    out = tmp_path / "o"
    code = main(["eval", "--data", str(tmp_path / "v.npy"), "--checkpoint", str(ck),
                 "--simulate-coils", "3", "--acs", "12", "--espirit-kernel", "4",
                 "--cs-iters", "5", "--cg-iters", "5", "--accel", "3", "--no-figure",
                 "--adapt", "3", "--adapt-lr", "1e-3", "--out", str(out)])
    assert code == 0
    res = json.loads((out / "results.json").read_text())
    names = [m["method"] for m in res["methods"]]
    assert names[-2:] == ["NPGD (model.pt)", "NPGD (model.pt), adapted"]
    assert res["adaptation"]["steps"] == 3 and len(res["adaptation"]["val_loss"]) >= 2
    snr = {m["method"]: m["snr"] for m in res["methods"]}
    best_cs = max(snr["CS-WV"], snr["CS-TV"])
    assert set(res["minus_best_cs_db"]) == set(snr) - {"CS-WV", "CS-TV", "zero-filled"}
    for method, margin in res["minus_best_cs_db"].items():
        assert margin == pytest.approx(snr[method] - best_cs)
    assert res["npgd_minus_best_cs_db"] == pytest.approx(snr["NPGD (model.pt)"] - best_cs)
    assert main(["eval", "--adapt", "2", "--sweep", "--simulate-coils", "2", "--out",
                 str(tmp_path / "s")]) == 2


def test_save_adapted_writes_a_model_that_eval_reuses(tmp_path):
    """``--save-adapted FILE`` writes the adapted network as a checkpoint with where it
    came from; ``--checkpoint FILE`` then reconstructs other scans with it as the adapted
    row did; without ``--adapt`` or with a folder it is a usage error."""
    from npgd.cli import main
    from npgd.models import load_checkpoint, load_model
    ck = _files(tmp_path, (30, 26), 2)
    saved = tmp_path / "adapted.pt"
    args = ["eval", "--data", str(tmp_path / "v.npy"), "--no-classic", "--no-figure"]
    assert main([*args, "--checkpoint", str(ck), "--adapt", "3", "--adapt-lr", "1e-3",
                 "--save-adapted", str(saved), "--out", str(tmp_path / "o")]) == 0
    res = json.loads((tmp_path / "o" / "results.json").read_text())
    info = load_checkpoint(saved)["info"]
    assert info["adapted_from"] == str(ck) and info["adapt_steps"] == 3
    assert info["adapted_on"] == str(tmp_path / "v.npy")
    assert res["adaptation"]["saved"] == str(saved)
    tuned = load_model(saved)
    assert not all(torch.equal(a, b) for a, b in zip(tuned.parameters(), _net().parameters(),
                                                     strict=True))
    assert main([*args, "--checkpoint", str(saved), "--out", str(tmp_path / "r")]) == 0
    again = json.loads((tmp_path / "r" / "results.json").read_text())
    snr = {m["method"]: m["snr"] for m in res["methods"]}
    assert again["methods"][-1]["snr"] == pytest.approx(snr["NPGD (model.pt), adapted"])
    assert main([*args, "--save-adapted", str(tmp_path / "x.pt"), "--out",
                 str(tmp_path / "s")]) == 2
    assert main([*args, "--adapt", "2", "--save-adapted", str(tmp_path), "--out",
                 str(tmp_path / "s")]) == 2
    assert not (tmp_path / "x.pt").exists()
