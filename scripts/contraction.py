"""Regenerate docs/reproduction.rst and its figures: SR baselines and model, the contraction
analysis (eq. 11-14, Fig. 5) and de-biasing (Remark 1) of Mardani et al., NeurIPS 2018.

    python scripts/contraction.py [--sr-models sr-2x sr-4x] --swish SW8.pt SW32.pt \
        [--mri-models mri-brain-5x mri-general] [--out docs]

``--sr-models`` are shipped model names (default: every shipped SR model) or SR
checkpoints, each scored at its own factor;
``--swish`` are checkpoints written by ``scripts/train_sr.py`` (the commands are in the
page it writes); ``--mri-models`` are MRI models, shipped names or checkpoints (default: the
shipped ``mri-brain-5x``, the papers' setting of one T1 template at 5x, and the default model
``mri-general``). Test data: the held-out scikit-image images
(``npgd.problems.sr.TEST_IMAGES``) and the embedded brain sample's test slices. One thread,
so the timings of the page are comparable.
"""

import argparse
import json
import sys
import time
import types
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
from train_sr import _fft_net  # scripts/ is on the path when this file runs

from npgd import linops
from npgd.experiments.contraction import contraction, figure
from npgd.models.checkpoint import load_checkpoint
from npgd.models.zoo import MODELS, checkpoint_state, model_from_state
from npgd.problems import data, metrics, mri, sr
from npgd.train.tasks import build_task_model

SR_MODELS = ("sr-2x", "sr-4x")


def _state(path: str) -> dict:
    """The checkpoint dict of a file, or of a shipped model by name."""
    return load_checkpoint(path) if Path(path).is_file() else checkpoint_state(path)


def load(path: str) -> tuple[torch.nn.Module, dict]:
    """An SR checkpoint or shipped model; SwishProx computes its convolutions by FFT (the
    same map, and much faster for kernels of 32 on the CPU)."""
    state = _state(path)
    if state["config"].get("prox") != "swish":  # npgd train's ResNetProx models
        return model_from_state(state, path, task="sr"), state["config"]
    net = build_task_model(state["config"])
    net.load_state_dict(state["model"])
    net.prox.net = types.MethodType(_fft_net, net.prox)
    return net.eval(), state["config"]


def sr_table(factors: tuple, size: int, models: list[str], tv_iters: int,
             lams: list[float]) -> dict:
    test = sr.held_out_crops(size).astype(np.float64)
    tune = sr.training_crops(size)[:12:3].astype(np.float64)  # 4 training crops
    nets = {}  # factor -> (name, network), each model loaded once
    for model in models:
        net, cfg = load(model)
        nets[cfg["factor"]] = (model, net)
    out = {}
    for f in factors:
        y = sr.downsample(test, f)
        lam, scores = sr.tune_tv(tune, f, lams=lams, iters=tv_iters)
        row = {"bicubic": metrics.psnr(test, sr.bicubic(y, f)),
               "tv": metrics.psnr(test, sr.tv_sr(y, f, lam, tv_iters)), "tv_lam": lam}
        if f in nets:
            row["name"], net = nets[f]
            with torch.no_grad():
                xt = torch.from_numpy(test.astype(np.float32))
                row["model"] = metrics.psnr(test, net(linops.Downsample((size, size), f),
                                                      sr.downsample(xt, f)))
        out[f] = row
    return out


def sr_contraction(paths: list[str], crop: int, debias_iters: int) -> dict:
    ims = [sr.grey_image(n) for n in sr.TEST_IMAGES]
    # four crops per held-out image, from its centre outwards
    crops = []
    for a in ims:
        h, w = a.shape
        for di, dj in ((-1, -1), (-1, 0), (0, -1), (0, 0)):
            i, j = h // 2 + di * crop, w // 2 + dj * crop
            crops.append(a[i:i + crop, j:j + crop])
    x = torch.from_numpy(np.stack(crops).astype(np.float32))
    res = {}
    for p in paths:
        net, cfg = load(p)
        A = linops.Downsample((crop, crop), cfg["factor"])
        t0 = time.perf_counter()
        res[f"k = {cfg['kernel']}"] = (contraction(net, A, A(x), x, debias_iters=debias_iters),
                                       time.perf_counter() - t0, cfg)
    return res


def mri_contraction(model: str, slices: int, debias_iters: int) -> tuple:
    net = model_from_state(_state(model), model, task="mri")  # a name or a checkpoint
    x, _ = data.brain_slices("test")
    x = x[np.linspace(0, len(x) - 1, slices).round().astype(int)]
    masks = np.stack([mri.vd_mask(x.shape[-2:], 5, seed=1000 + i) for i in range(len(x))])
    A, y = mri.simulate(torch.from_numpy(x), torch.from_numpy(masks))
    t0 = time.perf_counter()
    c = contraction(net, A, y, x, debias_iters=debias_iters)
    return c, time.perf_counter() - t0


def _verdict(e1: np.ndarray, e2: np.ndarray) -> str:
    """The paper's two observations (Sec. 5.3, Fig. 5: eta1 the dominant term, usually an
    order of magnitude above eta2, and both decaying quickly over the iterations) checked
    on the mean curves; "decays" means ending at half its maximum or below."""
    d1, d2 = e1[-1] <= 0.5 * e1.max(), e2[-1] <= 0.5 * e2.max()
    decay = {(True, True): "both decay", (True, False): "only η1 decays",
             (False, True): "only η2 decays", (False, False): "neither decays"}[(d1, d2)]
    dominant = ("agrees" if (e1 > e2).all() else "disagrees")
    order = "agrees" if np.median(e1 / np.maximum(e2, 1e-300)) >= 10 else "disagrees"
    return (f"Against the paper: η1 > η2 at {int((e1 > e2).sum())} of {len(e1)} iterations "
            f"(η1 dominant: {dominant}); an order of magnitude apart: {order}; {decay} "
            f"({'agrees' if d1 and d2 else 'disagrees'}).")


def eta_rows(c, every: int) -> list[str]:
    rows = []
    for r in c.table():
        if r["t"] % every == 0 or r["t"] == len(c.table()) - 1:
            rows.append(f"   * - {r['t']}\n     - {r['eta1']:.3g} ± {r['eta1_std']:.2g}\n"
                        f"     - {r['eta2']:.3g} ± {r['eta2_std']:.2g}\n"
                        f"     - {r['eta1'] / max(r['eta2'], 1e-300):.3g}\n"
                        f"     - {r['nrmse']:.3g}\n     - {r['nrmse_truth']:.3g}")
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sr-models", nargs="*", default=[n for n in SR_MODELS if n in MODELS],
                   help="SR models, shipped names or checkpoints, one per factor (default: "
                        "the shipped ones)")
    p.add_argument("--swish", nargs="*", default=[], help="SwishProx SR checkpoints")
    p.add_argument("--out", default="docs")
    p.add_argument("--crop", type=int, default=64, help="contraction test crops (SR)")
    p.add_argument("--mri-models", nargs="+", default=["mri-brain-5x", "mri-general"],
                   help="MRI models, shipped names or checkpoints (default: mri-brain-5x "
                        "mri-general)")
    p.add_argument("--mri-slices", type=int, default=3)
    p.add_argument("--debias-iters", type=int, default=20)
    p.add_argument("--tv-iters", type=int, default=100)
    p.add_argument("--tv-lams", type=float, nargs="+", default=[1e-5, 1e-4, 1e-3])
    p.add_argument("--json", help="also write every number here")
    a = p.parse_args()
    torch.set_num_threads(1)
    out = Path(a.out)
    static = out / "_static"
    static.mkdir(parents=True, exist_ok=True)
    numbers: dict = {}

    # independent parts, one process each (each one thread)
    with ProcessPoolExecutor(1 + len(a.mri_models), initializer=torch.set_num_threads,
                             initargs=(1,)) as pool:
        job = pool.submit(sr_table, (2, 4), 192, a.sr_models, a.tv_iters, a.tv_lams)
        mri_jobs = {m: pool.submit(mri_contraction, m, a.mri_slices, a.debias_iters)
                    for m in a.mri_models}
        swish = sr_contraction(a.swish, a.crop, a.debias_iters) if a.swish else {}
        table = job.result()
        mri_res = {m: j.result() for m, j in mri_jobs.items()}
    numbers["sr"] = {f: {k: (v.tolist() if isinstance(v, np.ndarray) else v)
                         for k, v in row.items()} for f, row in table.items()}
    figs = {}
    if swish:
        fig = figure({k: v[0] for k, v in swish.items()})
        fig.savefig(static / "contraction_sr.png", dpi=110)
        figs["sr"] = "_static/contraction_sr.png"
    figs["mri"] = {}
    for m, (c, _) in mri_res.items():
        name = f"contraction_mri_{Path(m).stem}.png"
        figure({m: c}).savefig(static / name, dpi=110)
        figs["mri"][m] = f"_static/{name}"
    results = {**{f"SR 2x, SwishProx {k}": (v[0], v[1]) for k, v in swish.items()},
               **{f"MRI 5x, {m}": v for m, v in mri_res.items()}}
    numbers["contraction"] = {k: {"table": c.table(), "xi": c.xi.tolist(), "seconds": s,
                                  "debias": {m: np.asarray(v).tolist() for m, v in
                                             c.debiased.items() if not m.startswith("x_")}}
                              for k, (c, s) in results.items()}
    if a.json:
        Path(a.json).write_text(json.dumps(numbers, indent=1))
    (out / "reproduction.rst").write_text(page(a, table, results, swish, figs))


def page(a, table, results, swish, figs) -> str:
    names = ", ".join(sr.TEST_IMAGES)
    sr_rows = []
    for f, row in table.items():
        cells = [f"{f}x", f"{row['bicubic'].mean():.2f}",
                 f"{row['tv'].mean():.2f} (λ = {row['tv_lam']:.2g})",
                 f"{row['model'].mean():.2f} ({row['name']})" if "model" in row else "—"]
        sr_rows.append("   * - " + "\n     - ".join(cells))
        per = "; ".join(f"{n} {b:.2f}/{t:.2f}" + (f"/{m:.2f}" if "model" in row else "")
                        for n, b, t, m in zip(sr.TEST_IMAGES, row["bicubic"], row["tv"],
                                              row.get("model", row["tv"]), strict=True))
        sr_rows.append(f"   * - {f}x per image\n     - {per}\n     -\n     -")
    have = {f: row["name"] for f, row in table.items() if "model" in row}
    models_text = "Models: " + ", ".join(
        f"``{n}`` at {f}x" + (f" (``npgd.problems.pretrained(\"{n}\")``)" if n in MODELS
                              else "") for f, n in have.items()) + \
        "; the training of the shipped ones is in ``npgd/models/weights/README.md``." \
        if have else "No model was given."
    missing = [f"{f}x" for f in table if f not in have]
    if missing:
        models_text += f" No {' or '.join(missing)} model was given."
    eta = []
    for name, (c, secs) in results.items():
        every = 4 if c.eta1.shape[1] > 12 else 1
        e1, e2 = c.eta1.mean(0), c.eta2.mean(0)
        ratio = np.median(e1 / np.maximum(e2, 1e-300))
        eta.append(f"**{name}** ({c.eta1.shape[0]} test images, {secs:.0f} s; fixed-point "
                   f"residual :math:`\\|\\xi\\|/\\|x_*\\|` = {c.xi.mean():.3g}). "
                   f"Median over iterations of η1/η2: {ratio:.3g}; η1 goes from "
                   f"{e1[0]:.3g} (t = 0) through {e1.max():.3g} (its maximum, t = "
                   f"{int(e1.argmax())}) to {e1[-1]:.3g} (t = {len(e1) - 1}), η2 from "
                   f"{e2[0]:.3g} through {e2.max():.3g} (t = {int(e2.argmax())}) to "
                   f"{e2[-1]:.3g}. η1 ≥ 10 η2 at {int((e1 >= 10 * e2).sum())} of "
                   f"{len(e1)} iterations; at t = {len(e1) - 1} η1 is {e1[-1] / e1.max():.2g} "
                   f"and η2 {e2[-1] / e2.max():.2g} of their maxima. {_verdict(e1, e2)}\n\n"
                   ".. list-table::\n   :header-rows: 1\n\n"
                   "   * - t\n     - η1 (mean ± sd)\n     - η2 (mean ± sd)\n     - η1/η2\n"
                   "     - NRMSE to x_T\n     - NRMSE to truth\n" + "\n".join(eta_rows(c, every)))
    deb = []
    for name, (c, _) in results.items():
        d = c.debiased
        deb.append(f"   * - {name}\n     - {d['psnr_before'].mean():.2f}\n"
                   f"     - {d['psnr_after'].mean():.2f}\n     - {d['snr_before'].mean():.2f}\n"
                   f"     - {d['snr_after'].mean():.2f}\n     - {d['change'].mean():.3g}\n"
                   f"     - {d['step_last'].mean():.3g}")
    cmd = " ".join(["python scripts/contraction.py", *sys.argv[1:]])
    fig_sr = (f".. figure:: {figs['sr']}\n   :width: 80%\n\n   SR 2x, SwishProx: NRMSE to the "
              "last iterate (top) and the contraction parameters (bottom, the last model).\n\n"
              if "sr" in figs else "")
    training = []
    for path in list(a.sr_models) + list(a.swish):
        st = _state(path)
        c = st["config"]
        patch = c["patch"] if "patch" in c else c["shape"][0]
        arch = (f"SwishProx(kernel={c['kernel']}, features={c['features']}, "
                f"layers={c['layers']})" if c.get("prox") == "swish" else
                f"ResNetProx(features={c['features']}, blocks={c['blocks']}, channels=1"
                f"{'' if c.get('norm', True) else ', norm=False'}), "
                f"{'shared' if c.get('shared', True) else 'independent'} weights")
        training.append(f"- ``{path}``: {arch}, T = {c['iters']}, {patch}x{patch} "
                        f"patches, batch {c['batch_size']}, lr {c['lr']:g}; best validation "
                        f"PSNR {st['validation']['psnr']:.2f} dB at step {st['step']}.")
    training.append("\nCommands::\n\n" + "\n".join("    " + c for c in COMMANDS))
    fig_mri = "\n\n".join(
        f".. figure:: {f}\n   :width: 80%\n\n   MRI 5x, ``{m}``: NRMSE to the last iterate (top) "
        "and the contraction parameters (bottom)." for m, f in figs["mri"].items())
    mri_text = " and ".join(f"``{m}``" for m in figs["mri"])
    return TEMPLATE.format(training="\n".join(training), names=names, models_text=models_text,
                           sr_rows="\n".join(sr_rows), eta="\n\n".join(eta),
                           deb="\n".join(deb), cmd=cmd, fig_sr=fig_sr, fig_mri=fig_mri,
                           mri_text=mri_text,
                           debias_iters=a.debias_iters, crop=a.crop, tv_iters=a.tv_iters,
                           lams=", ".join(f"{v:g}" for v in a.tv_lams))


# k = 32 on 64x64 patches: trained on 32x32 patches like k = 8 (the kernel as wide as the
# patch), its best weights scored 17.7 dB PSNR on 32x32 training crops and below 0 dB on
# 48x48 and 64x64 ones, and the run diverged after step 700; on 64x64 patches at half the
# learning rate, 21.4, 22.6 and 23.5 dB (2026-12-08)
COMMANDS = [
    "python scripts/train_sr.py --prox swish --kernel 8 --features 4 --iters 25 --patch 32 "
    "--batch-size 2 --lr 1e-3 --lr-halve-every 10000 --val-every 10 --val-size 8 --minutes 5 "
    "--fft --out runs/swish8",
    "python scripts/train_sr.py --prox swish --kernel 32 --features 4 --iters 25 --patch 64 "
    "--batch-size 2 --lr 1e-4 --lr-halve-every 400 --val-every 10 --val-size 8 --minutes 20 "
    "--fft --out runs/swish32",
]

TEMPLATE = """Reproducing the papers
======================

This page is generated by ``{cmd}`` (one thread on the CPU); every number on it is
measured by that command. It reproduces the super-resolution task and the contraction
analysis of Mardani et al., "Neural Proximal Gradient Descent for Compressive Imaging",
NeurIPS 2018 (Sec. 4, Sec. 5.3, Fig. 5, Remark 1), with :mod:`npgd.problems.sr`,
:mod:`npgd.train.tasks` and :mod:`npgd.experiments.contraction`.

Super-resolution
----------------

Block-average downsampling (:class:`npgd.linops.Downsample`), noiseless, 192x192 grey centre
crops of the held-out scikit-image images ({names}); PSNR in dB. Bicubic:
:func:`npgd.problems.sr.bicubic`. TV: :func:`npgd.problems.sr.tv_sr`, {tv_iters} FISTA
iterations from the bicubic image, its weight tuned over {lams} on four training crops
(:func:`npgd.problems.sr.tune_tv`), never on the test images. {models_text}

.. list-table::
   :header-rows: 1

   * - factor
     - bicubic
     - TV
     - model
{sr_rows}

Contraction analysis
--------------------

For each test image the recursion runs for the model's :math:`T` iterations, the last
iterate is taken as the fixed point :math:`x_* = x_T`, the activation masks of the proximal
are frozen at :math:`x_*`, and eq. 11-12 are evaluated on the admissible perturbations
:math:`\\delta_t = x_t - x_*` (:func:`npgd.experiments.contraction.contraction`): η1 is the
contraction of the linear part :math:`M_*(I - \\alpha A^H A)` through the frozen masks, η2 the
remainder :math:`\\Delta_t z_t` (the change of the masks, and of the input scale the network
normalises by). The decomposition :math:`\\delta_{{t+1}} = M_*(I - \\alpha A^H A)\\delta_t +
\\Delta_t z_t + \\xi` is exact, so :math:`\\|\\delta_{{t+1}}\\| \\le (\\eta_1^t + \\eta_2^t)
\\|\\delta_t\\| + \\|\\xi\\|` (eq. 14) holds at every step (the tests check it).
SR: four {crop}x{crop} crops of each held-out image, 2x. MRI: {mri_text} on test slices of
the embedded brain sample at 5x variable density (the test range of the Colin27 template,
held out of the training of both shipped MRI models: ``mri-brain-5x`` was trained on the
other slices of that template, ``mri-general``, the default model, on randomized data that
include them).

{eta}

{fig_sr}{fig_mri}

De-biasing (Remark 1)
---------------------

The masks of the last proximal are frozen at the input that produced :math:`x_T`, the
proximal is replaced by that affine map, and {debias_iters} more iterations run from
:math:`x_T` (:func:`npgd.experiments.contraction.debias`). "change" is
:math:`\\|x_{{deb}} - x_T\\| / \\|x_T\\|`, "last step" the relative change of the last frozen
iteration (small: converged). Mean over the test images, dB.

.. list-table::
   :header-rows: 1

   * - model
     - PSNR before
     - PSNR after
     - SNR before
     - SNR after
     - change
     - last step
{deb}

Training
--------

All on the CPU, one thread, shared with other jobs (wall times are not benchmarks), on
random patches of the training images (:class:`npgd.problems.sr.PatchSampler`: crops,
flips, rotations, scales 1, 0.75, 0.5) with (P2), :math:`\\beta = 0.75`
(:func:`npgd.train.train_task`); validation on patches of the training images, the
best weights kept.

{training}
"""


if __name__ == "__main__":
    main()
