"""The architecture table of the papers on MRI 5x: every row trained with the same data,
budget and seed, scored on the same test slices; writes the docs page and its figures.

    python scripts/architecture_table.py --out runs/arch

Rows (Mardani et al., "Neural Proximal Gradient Descent for Compressive Imaging", NeurIPS
2018, and "Recurrent Generative Adversarial Networks for Proximal Learning and Automated
Compressive Image Recovery", Table 1): T copies x RB residual blocks = 10x1, 5x2, 2x5 and
the deep ResNet 1x10 (one proximal of 10 blocks applied once), shared against independent
weights (with and without batch norm), the pixel-wise (P2) loss against the LSGAN mixture
(P1.1/P1.2), and CS-WV / CS-TV with weights tuned on training slices. Each network row is
one ``npgd train`` command (run here with one torch thread); all share the evaluation below:
the embedded brain test slices (``npgd.problems.data.brain_slices("test")``), fresh 5x
variable-density masks (seeds 1000 + i, as ``npgd demo``), noiseless. A row whose run folder
already holds a finished run is not trained again (its recorded training time is kept); an
interrupted one is resumed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

#: name, folder, the row's architecture/loss flags of ``npgd train`` (``{warmup}``: a quarter
#: of the steps)
ROWS = [
    ("10x1", "10x1", ["--iters", "10", "--blocks", "1"]),
    ("5x2", "5x2", ["--iters", "5", "--blocks", "2"]),
    ("2x5", "2x5", ["--iters", "2", "--blocks", "5"]),
    ("1x10 (deep ResNet)", "1x10", ["--iters", "1", "--blocks", "10"]),
    ("10x1, independent weights", "10x1-independent", ["--iters", "10", "--blocks", "1",
                                                       "--no-shared"]),
    ("10x1, LSGAN mixture", "10x1-lsgan", ["--iters", "10", "--blocks", "1", "--gan-weight",
                                           "0.1", "--gan-warmup", "{warmup}"]),
    # the papers' balance of the two costs (see GAN_BALANCED): the same mixture, the weight
    # scaled to npgd's per-pixel (P2)
    ("10x1, LSGAN mixture, the papers' balance", "10x1-lsgan-balanced",
     ["--iters", "10", "--blocks", "1", "--gan-weight", "{gan_balanced}", "--gan-warmup",
      "{warmup}"]),
    # without batch norm: shared weights then no longer share one set of running statistics
    # across iterations whose inputs differ (a candidate cause of the shared/independent gap)
    ("10x1, no batch norm", "10x1-nonorm", ["--iters", "10", "--blocks", "1", "--no-norm"]),
    ("10x1, independent, no batch norm", "10x1-independent-nonorm",
     ["--iters", "10", "--blocks", "1", "--no-shared", "--no-norm"]),
]
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
#: LSGAN weight that gives the adversarial term the share of the recurrent-GANCS paper's
#: (P1.2): there the pixel cost is eta * ||x - x_hat||_2 with eta = 0.9, a norm over the whole
#: image, against lambda = 0.1 times (1 - D)^2. For a 192x160 image with a per-pixel squared
#: error of 1e-3 (the (P2) level the 10x1 row reaches) the norm is about 5.5, so lambda (1 - D)^2
#: at about 0.25 is about 0.5 % of the pixel cost. npgd's mixture is (1 - w) (P2) + w (1 - D)^2
#: with (P2) a per-pixel mean near 1e-3, so the same 0.5 % needs w = 0.005 * 1e-3 / 0.25 = 2e-5.
GAN_BALANCED = 2e-5


def budget_flags(a: argparse.Namespace) -> list[str]:
    """The ``npgd train`` flags every row shares: data, crops, steps, batch, rate, seed."""
    return ["--features", str(a.features), "--shape", *map(str, a.shape), "--steps",
            str(a.steps), "--batch-size", str(a.batch_size), "--lr", f"{a.lr:g}",
            "--lr-halve-every", str(a.lr_halve_every), "--seed", str(a.seed), "--accel", "5",
            "--mask", "vd", "--val-slices", "6", "--val-every", str(a.val_every),
            "--ckpt-every", str(a.val_every), "--no-amp"]


def row_command(out: Path, folder: str, flags: list[str], a: argparse.Namespace) -> list[str]:
    """The row's ``npgd train`` command line (``--resume``: an interrupted row continues)."""
    flags = [f.format(warmup=max(1, a.steps // 4), gan_balanced=f"{GAN_BALANCED:g}")
             for f in flags]
    return ["npgd", "train", "--out", str(out / folder), "--resume", *flags, *budget_flags(a)]


def train_row(cmd: list[str], run: Path, steps: int) -> dict:
    """Run ``cmd`` (one thread) unless ``run`` holds its finished run; its timing."""
    timing = run / "timing.json"
    if timing.is_file():
        t = json.loads(timing.read_text())
        if t["steps"] == steps:
            return t
    run.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with open(run / "train.log", "w") as log:
        subprocess.run([sys.executable, "-m", "npgd.cli", *cmd[1:]], check=True, stdout=log,
                       stderr=subprocess.STDOUT, env={**os.environ, **ONE_THREAD})
    t = {"steps": steps, "train_s": time.perf_counter() - t0}
    timing.write_text(json.dumps(t))
    return t


def tuned_cs(a: argparse.Namespace, log) -> dict:
    """CS-WV and CS-TV weights tuned on training slices (never the test slices)."""
    from npgd.experiments.tune import tune_cs
    from npgd.problems import data, mri

    x, _ = data.brain_slices("train")
    x = x[np.linspace(0, len(x) - 1, a.tune_slices).round().astype(int)]
    masks = np.stack([mri.vd_mask(x.shape[1:], 5, seed=5000 + i) for i in range(len(x))])
    A, y = mri.simulate(x, masks)
    return {k: v["rel"] for k, v in tune_cs(x, A, y, iters=a.cs_iters, log=log).items()}


def evaluate(a: argparse.Namespace, runs: dict[str, Path], log) -> tuple[list, dict, np.ndarray]:
    """Every method on the test slices: :func:`npgd.experiments.compare` rows, the
    reconstructions and the test images."""
    import torch

    from npgd.experiments.compare import compare, neural
    from npgd.experiments.tune import cs_methods
    from npgd.models import load_model
    from npgd.problems import data, mri

    x, _ = data.brain_slices("test")
    if a.test_slices:
        x = x[np.linspace(0, len(x) - 1, a.test_slices).round().astype(int)]
    masks = np.stack([mri.vd_mask(x.shape[1:], 5, seed=1000 + i) for i in range(len(x))])
    rels = {f"{k} (tuned)": v for k, v in tuned_cs(a, log).items()}
    methods = {f"{k} (tuned)": f for k, f in
               cs_methods({k[:-len(" (tuned)")]: v for k, v in rels.items()},
                          a.cs_iters).items()}
    params = {}
    for name, run in runs.items():
        net = load_model(run / "model.pt", task="mri")
        params[name] = sum(p.numel() for p in net.parameters())
        methods[name] = neural(net)
    torch.set_num_threads(1)
    rows, recons = compare(x, masks, methods, log=log)
    for r in rows:
        r["params"] = params.get(r["method"])
        r["rel"] = rels.get(r["method"])
    return rows, recons, x


def snr_figure(rows: list[dict], path: Path) -> Path:
    """Fig. 2 style: mean test SNR of every row, the spread over the test slices."""
    from npgd.experiments.compare import new_figure, save_figure

    fig = new_figure((7.5, 3.2))
    ax = fig.subplots()
    names = [r["method"] for r in rows]
    snr = np.array([r["snr_all"] for r in rows], dtype=np.float64)
    colors = ["0.6" if n.startswith(("CS", "zero")) else "C0" for n in names]
    ax.bar(range(len(rows)), snr.mean(1), yerr=snr.std(1), color=colors, capsize=3)
    ax.set_xticks(range(len(rows)), names, rotation=30, ha="right", fontsize=7)
    ax.set_ylabel("test SNR (dB), mean ± std")
    ax.set_ylim(max(0.0, float(snr.mean(1).min()) - 3), float((snr.mean(1) + snr.std(1)).max()) + 1)
    ax.grid(axis="y", alpha=0.3)
    return save_figure(fig, path)


def page(a: argparse.Namespace, rows: list[dict], cmds: dict, timing: dict, curves: dict,
         n_test: int, started: str, load: tuple) -> str:
    """The docs page: setting, table, figures, the comparison with the papers' Table 1."""
    by = {r["method"]: r for r in rows}
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in
                   Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    table = ["   * - method", "     - SNR (dB)", "     - SSIM", "     - parameters",
             "     - inference (s/slice)", "     - training (min)", "     - command"]
    for r in rows:
        name = r["method"]
        cmd = f"``{shlex.join(cmds[name])}``" if name in cmds else (
            f"tuned weight λ/λmax = {r['rel']:.3g}" if r["rel"] else "")
        train_min = f"{timing[name]['train_s'] / 60:.1f}" if name in timing else ""
        cells = [f"{r['snr']:.2f}", f"{r['ssim']:.3f}", f"{r['params'] or ''}",
                 f"{r['s_per_slice']:.3f}", train_min, cmd]
        table += [f"   * - {name}"] + [f"     - {c}".rstrip() for c in cells]

    def diff(a_: str, b_: str) -> float:
        return by[a_]["snr"] - by[b_]["snr"]

    deep, indep = diff("10x1", "1x10 (deep ResNet)"), diff("10x1, independent weights", "10x1")
    gan = diff("10x1, LSGAN mixture", "10x1")
    gan_bal = diff("10x1, LSGAN mixture, the papers' balance", "10x1")
    indep_nn = diff("10x1, independent, no batch norm", "10x1, no batch norm")
    nn_shared, nn_indep = (diff("10x1, no batch norm", "10x1"),
                           diff("10x1, independent, no batch norm", "10x1, independent weights"))
    best_cs = max((r for r in rows if r["method"].startswith("CS")), key=lambda r: r["snr"])
    ordering = sorted((r for r in rows if r["method"] in cmds), key=lambda r: -r["snr"])
    argv = shlex.join(["python", "scripts/architecture_table.py", *sys.argv[1:]])
    steps = [h["step"] for h in curves["10x1"]]
    val = ["   * - validation SNR (dB) at step", *[f"     - {k}" for k in steps]]
    for name, hist in curves.items():
        val += [f"   * - {name}", *[f"     - {h['snr']:.2f}" for h in hist]]
    last = {name: hist[-1]["loss"] for name, hist in curves.items()}
    if best_cs["snr"] > ordering[0]["snr"]:
        top = curves[ordering[0]["method"]]
        mid = top[len(top) // 2]
        budget_note = (
            f"Under this budget every network stays below tuned CS: the validation SNR of the "
            f"best row still rose by {top[-1]['snr'] - mid['snr']:+.2f} dB after step "
            f"{mid['step']} (table below): training had not converged, and the orderings "
            "between rows, not their absolute numbers, are what this page measures.")
    else:
        budget_note = "The best network row is above tuned CS under this budget."
    return f"""The architecture table (MRI 5x)
===============================

This page is generated by ``{argv}``; every number on it is measured by that command, on
{started} (UTC), on {os.cpu_count()} CPU cores ({cpu}; load average
{load[0]:.1f} when it started: the machine was shared), one torch thread per run. It compares
the architectures of Table 1 of Mardani et al., "Neural Proximal Gradient Descent for
Compressive Imaging", NeurIPS 2018, and of Mardani et al., "Recurrent Generative Adversarial
Networks for Proximal Learning and Automated Compressive Image Recovery": T unrolled copies
of a proximal of RB residual blocks (10x1, 5x2, 2x5, and the deep ResNet 1x10, a single
proximal of ten blocks applied once: ``NeuralPGD(ResNetProx(blocks=10), iters=1)``), shared
against independent weights (``--no-shared``), with and without batch norm
(``--no-norm``), the pixel-wise (P2) loss against the LSGAN
mixture of that second paper (P1.1/P1.2, ``--gan-weight 0.1`` and at the paper's balance of
the two costs), and CS-WV / CS-TV.

**Same for every row.** Training data: the embedded brain's training slices (MNI z < +10 mm,
``--data brain``), centre {a.shape[0]}x{a.shape[1]} crops (the slices are 192x160), random
flips and synthetic phase, a fresh
5x variable-density mask per sample. Budget: {a.features} features, {a.steps} steps of
{a.batch_size} samples, Adam at {a.lr:g} halved every {a.lr_halve_every} steps, seed
{a.seed}; the weights of the best validation SNR (6 held-out training slices, every
{a.val_every} steps) are scored. Test: {n_test} embedded brain test slices (MNI z ≥ +10 mm,
192x160), 5x variable-density masks with seeds 1000 + i, noiseless; SNR and SSIM of the
magnitude as ``npgd demo``. Inference: the whole test set in batches of 16, one thread,
per slice. CS: FISTA, {a.cs_iters} iterations, the weight tuned
(:func:`npgd.experiments.tune.tune_cs`) on {a.tune_slices} training slices with other
masks. Training time: the wall time of the row's command. This is a small CPU budget (the
papers train for hours on a GPU): the table compares architectures under one budget, it does
not reproduce the papers' absolute numbers.

.. list-table::
   :header-rows: 1

{chr(10).join(table)}

.. figure:: _static/architecture_snr.png

   Test SNR of every row (mean ± standard deviation over the {n_test} test slices).

.. figure:: _static/architecture_recon.png

   The test slice of median SNR of the 10x1 row: the reconstructions of the CS rows, the deep
   ResNet and the 10x1 rows (top) and their error magnitudes ×5 (bottom), Fig. 3 style.

Against the papers' Table 1
---------------------------

- Recurrence against depth: 10x1 minus the deep ResNet 1x10 is {deep:+.2f} dB here; the
  papers report about +2 dB. {"Same ordering" if deep > 0 else "The ordering is reversed"}.
- Independent against shared weights (10x1): {indep:+.2f} dB here; the recurrent-GANCS
  paper reports about +1 dB for independent copies. {"Same ordering" if indep > 0 else
  "The ordering is reversed"}.
- Batch norm (``--no-norm`` drops it): with shared weights one set of running statistics
  serves all ten iterations, whose inputs differ, so eval mode can drift from what training
  saw. Without batch norm, independent minus shared is {indep_nn:+.2f} dB (with it
  {indep:+.2f} dB); dropping batch norm changes the shared row by {nn_shared:+.2f} dB and the
  independent row by {nn_indep:+.2f} dB.
- The LSGAN mixture against pixel-wise (P2) (10x1): {gan:+.2f} dB SNR here (the adversarial
  term aims at sharper images, not at a higher SNR). Its weight 0.1 is the recurrent-GANCS
  paper's, but npgd's (P2) is a mean per pixel: the last training loss of the 10x1 row
  ((P2) alone) is {last["10x1"]:.2g}, that of the LSGAN row (the mixture)
  {last["10x1, LSGAN mixture"]:.2g}, so at this weight the adversarial cost dominates the gradient.
  With the weight scaled to the paper's balance of the two costs (``--gan-weight
  {GAN_BALANCED:g}``: the adversarial term about 0.5 % of the pixel cost, as in (P1.2) with
  its whole-image norm; the derivation is at ``GAN_BALANCED`` in the script) the LSGAN row is
  {gan_bal:+.2f} dB from (P2) alone. The paper reports its LSGAN networks below CS-WV in SNR
  (its Table 2) and says a smaller adversarial weight can even raise the SNR.
- Every network row against the best tuned CS ({best_cs['method']}, {best_cs['snr']:.2f} dB):
  {", ".join(f"{r['method']} {r['snr'] - best_cs['snr']:+.2f} dB" for r in ordering)}.
- Network rows by test SNR: {" > ".join(r["method"] for r in ordering)}.

{budget_note}

.. list-table::
   :header-rows: 1

{chr(10).join(val)}

Regenerate (about {sum(t["train_s"] for t in timing.values()) / 60:.0f} minutes of training
here) with the command at the top; ``--jobs 2`` trains two rows at a time on an otherwise idle
machine.
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="folder of the row runs and results.json")
    p.add_argument("--docs", default="docs", help="folder of the page and _static/ figures")
    p.add_argument("--features", type=int, default=32)
    p.add_argument("--shape", type=int, nargs=2, default=(96, 96), metavar=("H", "W"),
                   help="training slices centre-cropped (or padded) to H x W; 192 160: whole")
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--batch-size", type=int, default=2)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--lr-halve-every", type=int, default=200)
    p.add_argument("--val-every", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--test-slices", type=int, default=0, help="evenly spread (0: all)")
    p.add_argument("--tune-slices", type=int, default=4)
    p.add_argument("--cs-iters", type=int, default=300)
    p.add_argument("--jobs", type=int, default=1, choices=(1, 2),
                   help="rows trained at a time (2 only on an otherwise idle machine)")
    a = p.parse_args()
    os.environ.update(ONE_THREAD)
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
    load = os.getloadavg()
    out = Path(a.out)
    cmds = {name: row_command(out, folder, flags, a) for name, folder, flags in ROWS}
    runs = {name: out / folder for name, folder, _ in ROWS}
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(a.jobs) as pool:
        futures = {name: pool.submit(train_row, cmds[name], runs[name], a.steps)
                   for name in cmds}
        timing = {}
        for name, f in futures.items():
            timing[name] = f.result()
            print(f"{name}: trained in {timing[name]['train_s'] / 60:.1f} min", flush=True)
    rows, recons, x = evaluate(a, runs, lambda s: print(s, flush=True))
    curves = {name: json.loads((run / "history.json").read_text()) for name, run in runs.items()}
    from npgd.experiments.compare import figure
    from npgd.problems import metrics

    docs = Path(a.docs)
    snr_figure(rows, docs / "_static" / "architecture_snr.png")
    median = int(np.argsort(metrics.snr(x, recons["10x1"]))[len(x) // 2])
    shown = ("CS-WV (tuned)", "CS-TV (tuned)", "1x10 (deep ResNet)", "10x1",
             "10x1, independent weights", "10x1, LSGAN mixture")
    recon = figure(docs / "_static" / "architecture_recon.png", x,
                   {k: recons[k] for k in shown}, index=median)
    from PIL import Image

    Image.open(recon).convert("L").save(recon, optimize=True)  # grey images: a quarter the size
    (docs / "architecture_table.rst").write_text(
        page(a, rows, cmds, timing, curves, len(x), started, load))
    (out / "results.json").write_text(json.dumps(
        {"rows": [{k: v for k, v in r.items() if not k.endswith("_all")} for r in rows],
         "timing": timing, "validation": curves,
         "commands": {k: shlex.join(v) for k, v in cmds.items()}}, indent=1))
    print(f"wrote {docs / 'architecture_table.rst'} and {out / 'results.json'}")


if __name__ == "__main__":
    main()
