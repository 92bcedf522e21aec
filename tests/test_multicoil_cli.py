"""``npgd eval`` on multi-coil data (experiments.multicoil): k-space files found by their
contents, ``--multicoil``, ``--simulate-coils``, strict JSON and a figure, one-line errors; and
evaluate_multicoil from Python. Tiny data: 2 slices, 4 coils, 32x32 or smaller."""

import json

import h5py
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from npgd import cli, linops, solvers  # noqa: E402
from npgd._util import DataError, UsageError  # noqa: E402
from npgd.experiments import multicoil  # noqa: E402
from npgd.problems import coils, data, metrics  # noqa: E402
from npgd.problems.readers import write_cfl  # noqa: E402

TINY = {"features": 4, "blocks": 1, "iters": 2, "shared": True, "data_consistency": "gradient"}
FAST = ["--acs", "8", "--espirit-kernel", "3", "--cs-iters", "10", "--cg-iters", "10",
        "--accel", "2"]


def _images(shape=(32, 32), n=2):
    return np.stack([data.phantom(shape, seed=s) for s in range(n)])


def _kspace(shape=(32, 32), n=2, ncoils=4):
    return coils.simulate_kspace(_images(shape, n), ncoils)


def _fastmri(path, k):
    with h5py.File(path, "w") as f:
        f["kspace"] = k
    return path


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from npgd.models import build_model
    from npgd.models.checkpoint import FORMAT, save_checkpoint

    torch.manual_seed(0)
    p = tmp_path_factory.mktemp("model") / "model.pt"
    save_checkpoint(p, {"format": FORMAT, "config": TINY,
                        "model": build_model(TINY).eval().state_dict()})
    return str(p)


def _eval(capsys, *argv):
    """``npgd eval ARGV`` in this process: (exit status, stdout lines, stderr)."""
    status = cli.main(["eval", *map(str, argv)])
    out, err = capsys.readouterr()
    return status, out.splitlines(), err


def _results(out):
    return json.loads((out / "results.json").read_text(),
                      parse_constant=lambda c: pytest.fail(f"non-strict JSON token {c}"))


def test_eval_finds_a_multicoil_h5_file_and_runs_every_method(tmp_path, capsys, checkpoint):
    f = _fastmri(tmp_path / "scan.h5", _kspace())
    status, lines, err = _eval(capsys, "--data", f, "--checkpoint", checkpoint, *FAST,
                               "--out", tmp_path / "o")
    assert status == 0, err
    res = _results(tmp_path / "o")
    rows = {r["method"]: r for r in res["methods"]}
    assert list(rows) == ["zero-filled", "CG-SENSE", "CS-WV", "CS-TV", "NPGD (model.pt)"]
    assert res["shape"] == [2, 4, 32, 32] and res["source"] == str(f)
    assert res["calib"] == 8 and res["kernel"] == 3 and res["simulated_coils"] is None
    for r in rows.values():
        assert np.isfinite(r["snr"]) and 0 < r["ssim"] <= 1 and r["s_per_slice"] > 0
        assert len(r["snr_per_slice"]) == 2
    assert rows["CG-SENSE"]["snr"] > rows["zero-filled"]["snr"] + 3
    assert res["npgd_minus_best_cs_db"] == pytest.approx(
        rows["NPGD (model.pt)"]["snr"] - max(rows["CS-WV"]["snr"], rows["CS-TV"]["snr"]))
    assert (tmp_path / "o" / "comparison.png").stat().st_size > 1000
    assert any("multi-coil k-space, 2 slice(s), 4 coils, 32x32" in s for s in lines)
    assert any(s.startswith("CG-SENSE") for s in lines)


def test_simulated_coils_on_images_with_the_default_model(tmp_path, capsys):
    """The fresh-clone path: images of any size (here 29x27, so CS-WV solves on the padded
    2^L grid through linops.Crop) on simulated coils, the default shipped model."""
    np.save(tmp_path / "x.npy", _images((29, 27)))
    status, lines, err = _eval(capsys, "--data", tmp_path / "x.npy", "--simulate-coils", 4,
                               "--slices", 1, *FAST, "--no-figure", "--out", tmp_path / "o")
    assert status == 0, err
    res = _results(tmp_path / "o")
    assert res["shape"] == [1, 4, 29, 27] and res["simulated_coils"] == 4
    assert [r["method"] for r in res["methods"]][-1] == "NPGD (default model)"
    assert all(np.isfinite(r["snr"]) for r in res["methods"])
    assert not (tmp_path / "o" / "comparison.png").exists()
    assert any("on 4 simulated birdcage coils" in s for s in lines)


def test_bart_kspace_needs_multicoil_and_no_classic_runs_the_model_only(tmp_path, capsys,
                                                                       checkpoint):
    k = _kspace(n=1)[0]  # (coils, H, W) -> BART (x, y, z, coils)
    write_cfl(tmp_path / "k", np.moveaxis(k, 0, -1)[:, :, None, :])
    status, _, err = _eval(capsys, "--data", tmp_path / "k.cfl", "--multicoil", "--checkpoint",
                           checkpoint, *FAST, "--no-classic", "--reference", "rss",
                           "--out", tmp_path / "o")
    assert status == 0, err
    res = _results(tmp_path / "o")
    assert [r["method"] for r in res["methods"]] == ["zero-filled", "NPGD (model.pt)"]
    assert res["reference"] == "rss" and res["shape"] == [1, 4, 32, 32]


def test_noise_lowers_the_scores_and_runs_repeat_exactly(tmp_path):
    k = _kspace(n=1)
    kw = {"calib": 8, "kernel": 3, "methods": ("CG-SENSE",), "cg_iters": 10, "seed": 3}
    clean, _, _ = multicoil.evaluate_multicoil(k, 2, **kw)
    noisy, _, rec = multicoil.evaluate_multicoil(k, 2, noise_db=10, **kw)
    again, _, rec2 = multicoil.evaluate_multicoil(k, 2, noise_db=10, **kw)
    assert noisy["methods"][1]["snr"] < clean["methods"][1]["snr"] - 3
    assert np.array_equal(rec["CG-SENSE"], rec2["CG-SENSE"])
    assert noisy["methods"][1]["snr"] == again["methods"][1]["snr"]
    with pytest.raises(UsageError, match="not both"):
        multicoil.evaluate_multicoil(k, 2, noise_db=10, noise_std=0.1, **kw)
    with pytest.raises(UsageError, match="noise-std: must be"):
        multicoil.evaluate_multicoil(k, 2, noise_std=-1.0, **kw)


@pytest.mark.parametrize("argv, flag", [
    (["--acs", "8"], "--acs"),  # single-coil images: a multi-coil option is refused
    (["--reference", "rss"], "--reference"),
    (["--simulate-coils", "4", "--tune"], "--tune"),
    (["--simulate-coils", "4", "--sweep"], "--sweep"),
    (["--simulate-coils", "0"], "--simulate-coils"),
    (["--simulate-coils", "4", "--acs", "4", "--espirit-kernel", "6"], "--espirit-kernel"),
    (["--simulate-coils", "4", "--cg-iters", "0"], "--cg-iters"),
    (["--simulate-coils", "4", "--accel", "0.5"], "--accel"),
    (["--multicoil", "--magnitude"], "--magnitude"),
    (["--multicoil", "--simulate-coils", "4"], "--simulate-coils"),
])
def test_usage_errors_exit_2_with_one_line_before_any_work(tmp_path, capsys, argv, flag):
    status, _, err = _eval(capsys, *argv, "--out", tmp_path / "o")
    lines = err.strip().splitlines()
    assert status == 2 and len(lines) == 1 and lines[0].startswith("npgd: error: ")
    assert flag in lines[0] and "Traceback" not in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("name, content", [("missing.h5", None), ("broken.h5", b"not hdf5"),
                                           ("zeros.h5", "zeros")])
def test_bad_kspace_files_exit_1_with_one_line(tmp_path, capsys, name, content):
    f = tmp_path / name
    if content == "zeros":
        _fastmri(f, np.zeros((1, 2, 16, 16), np.complex64))
    elif content is not None:
        f.write_bytes(content)
    status, _, err = _eval(capsys, "--data", f, "--multicoil", "--out", tmp_path / "o")
    lines = err.strip().splitlines()
    assert status == 1 and len(lines) == 1 and lines[0].startswith("npgd: error: ")
    assert str(f) in lines[0] and "Traceback" not in err


def test_learned_model_runs_through_pgd_on_sense():
    """A learned model (a tiny untrained one) runs through solvers.pgd on the Sense operator,
    with its step scaled by 1/||A||^2: the same computation by hand gives the same SNR."""
    from npgd.models import build_model

    torch.manual_seed(0)
    net = build_model(TINY).eval()
    k = coils.simulate_kspace(data.phantom((24, 20), seed=0)[None], 4)
    out, ref_out, _ = multicoil.evaluate_multicoil(k, 2, calib=8, kernel=3, methods=("NPGD",),
                                                   net=net)
    assert [r["method"] for r in out["methods"]] == ["zero-filled", "NPGD"]
    mask = multicoil.sampling_mask((24, 20), 2, calib=8)
    maps = coils.espirit(k * mask, 8, 3)
    A = linops.Sense(maps, mask)
    scale = np.percentile(abs(A.H(k * mask)), 99.9)
    y = (k * mask / scale).astype(np.complex64)
    At = linops.Sense(torch.from_numpy(maps), torch.from_numpy(mask))
    yt = torch.from_numpy(y)
    with torch.no_grad():
        step = net.step / solvers.squared_norm(At, (1,), like=yt)
        x = solvers.pgd(At, net.prox, yt, iters=net.iters, step=step).numpy()
    ref = coils.sense_combine(linops.FFT2((24, 20)).H(k), maps) / scale
    assert np.allclose(ref_out, ref, atol=1e-5)
    assert abs(out["methods"][1]["snr"] - float(metrics.snr(ref, x)[0])) < 1e-3


def test_rss_reference_lines_mask_and_python_errors():
    k = _kspace((24, 20), n=1)
    out, ref, _ = multicoil.evaluate_multicoil(k[0], 2, "lines", calib=8, kernel=3,
                                               methods=("CG-SENSE",), cg_iters=10,
                                               reference="rss")
    assert out["reference"] == "rss" and out["methods"][1]["snr"] > out["methods"][0]["snr"]
    assert ref.shape == (1, 24, 20) and not np.abs(ref.imag).any()
    with pytest.raises(UsageError, match="methods: unknown"):
        multicoil.evaluate_multicoil(k, methods=("SENSE",))
    with pytest.raises(UsageError, match="reference: must be"):
        multicoil.evaluate_multicoil(k, reference="mean")
    with pytest.raises(UsageError, match="mask: must be one of"):
        multicoil.sampling_mask((16, 16), 2, "spiral")
    for family, accel in (("vd", 5), ("lines", 8)):
        with pytest.raises(UsageError, match=r"calib: a fully sampled 16x16 centre .* \(--acs\)"):
            multicoil.sampling_mask((16, 20), accel, family, calib=16)
    assert multicoil.sampling_mask((16, 20), 30, "radial", calib=16)[:, 2:18].all()
    with pytest.raises(DataError, match=r"expected \(slices, coils, H, W\)"):
        multicoil.evaluate_multicoil(np.ones((16, 16), np.complex64))


def test_crop_is_the_padded_grid_of_cs_wv():
    """linops.Crop matches crop_or_pad both ways, and the crop-then-pad round trip keeps
    exactly the centre (the adjoint itself is property-tested with the registry)."""
    C = linops.Crop((8, 6), (5, 7))
    x = np.arange(48.0).reshape(8, 6)
    assert np.array_equal(C(x)[:, :6], x[2:7]) and not C(x)[:, 6].any()
    assert np.array_equal(C.H(C(x)), np.pad(x[2:7], ((2, 1), (0, 0))))
    # the exact norm it states is what power iteration finds on an operator hiding it
    assert solvers.squared_norm(linops.FFT2((5, 7)) @ C) == pytest.approx(
        solvers.squared_norm(C), rel=1e-4)
    with pytest.raises(ValueError, match="same number of axes"):
        linops.Crop((8, 6), (8,))
