"""Cross-dataset table: a model against zero-filled and tuned CS on training and held-out sources.

Regenerates ``docs/generalization.rst`` (every number on that page comes from the run that
wrote it)::

    python scripts/cross_dataset.py --model mri-brain-5x
    python scripts/cross_dataset.py --checkpoint run/model.pt --slices 3
    python scripts/cross_dataset.py --adapt 100   # and the model adapted to each scan
    python scripts/cross_dataset.py --auto        # and the reference-free choice of method

For every source in :data:`SOURCES` and every condition in :data:`CONDITIONS`: 5x
variable-density masks (:func:`npgd.problems.mri.vd_mask`), magnitude images as a user's
scans are, CS-WV and CS-TV with :math:`\\lambda/\\lambda_{\\max}` tuned on calibration
slices of that source and condition (:func:`npgd.experiments.tune.tune_cs`), then scored
with the model on the other slices (:func:`npgd.experiments.evaluate.evaluate`).
Single natural images are cut into four quadrants, which play the part of slices.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from npgd._util import atomic_write, strict_json
from npgd.experiments.evaluate import AUTO, evaluate, load_net
from npgd.problems import data, readers

ROOT = Path(__file__).resolve().parents[1]
MRICRON = Path("/usr/share/mricron/templates")


def _mni152() -> Path:
    import nilearn.datasets

    return Path(nilearn.datasets.MNI152_FILE_PATH)


#: the volume sources: name -> (file, or a function giving it; slicing axis)
VOLUMES: dict[str, tuple[Callable[[], Path] | Path, int]] = {
    "MNI152 T1 (axial)": (_mni152, 2),
    "ch2 with scalp (axial)": (MRICRON / "ch2.nii.gz", 2),
    "inia19 macaque T1 (axial)": (MRICRON / "inia19-t1-brain.nii.gz", 2),
    "MNI152 T1 (sagittal)": (_mni152, 0),
    "ch2 with scalp (sagittal)": (MRICRON / "ch2.nii.gz", 0),
}


def volume_slices(name: str, min_fraction: float) -> np.ndarray:
    """Every slice of volume source ``name`` with at least ``min_fraction`` foreground."""
    path, axis = VOLUMES[name]
    x, _ = readers.read_images(path() if callable(path) else path, axis=axis,
                               min_fraction=min_fraction)
    return x


def _volume(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        x = volume_slices(name, 0.3)
        lo, hi = int(0.2 * len(x)), int(0.8 * len(x))  # away from the edges of the head
        return x[lo:hi]
    return load


def _embedded() -> np.ndarray:
    return data.brain_slices("test", phase=False)[0]


def _shepp_logan() -> np.ndarray:
    from phantominator import shepp_logan

    vol = shepp_logan((192, 192, 8))
    return np.moveaxis(vol, -1, 0)[2:6].astype(np.float32)


def _quadrants(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        img = getattr(skimage.data, name)().astype(np.float32)
        if img.ndim == 3:
            img = img.mean(axis=-1)
        h, w = img.shape[0] // 2, img.shape[1] // 2
        return np.stack([img[:h, :w], img[:h, w:], img[h:, :w], img[h:, w:]])
    return load


#: (name, in the training data?, loader). The held-out ones are never drawn by
#: ``npgd.train.synth`` (see its module docstring); change the flags with the training set.
SOURCES: list[tuple[str, bool, Callable[[], np.ndarray]]] = [
    ("ch2better, embedded test slices (axial)", True, _embedded),
    ("MNI152 T1 (axial)", True, _volume("MNI152 T1 (axial)")),
    ("ch2 with scalp (axial)", True, _volume("ch2 with scalp (axial)")),
    ("inia19 macaque T1 (axial)", False, _volume("inia19 macaque T1 (axial)")),
    ("MNI152 T1 (sagittal)", False, _volume("MNI152 T1 (sagittal)")),
    ("ch2 with scalp (sagittal)", False, _volume("ch2 with scalp (sagittal)")),
    ("Shepp-Logan 3-D phantom (phantominator)", False, _shepp_logan),
    ("camera (scikit-image)", False, _quadrants("camera")),
    ("brick (scikit-image)", False, _quadrants("brick")),
    ("moon (scikit-image)", False, _quadrants("moon")),
]

#: (label, k-space SNR in dB or None).
CONDITIONS = [("noiseless", None), ("30 dB", 30.0)]
ACCEL = 5.0


def _pick(x: np.ndarray, n: int) -> np.ndarray:
    if len(x) <= n:
        return x
    return x[np.linspace(0, len(x) - 1, n).round().astype(int)]


_NET: tuple | None = None  # the model, loaded once per worker process


def _row(args: argparse.Namespace, source: int, condition: int) -> dict:
    global _NET
    if _NET is None:
        _NET = load_net(args)
    net, name = _NET
    src, trained, load = SOURCES[source]
    label, db = CONDITIONS[condition]
    t = time.perf_counter()
    x = _pick(load(), args.slices + 1)
    extra = {}
    if args.adapt:
        from npgd.train.adapt import adapted

        extra[f"{name}, adapted"] = adapted(net, steps=args.adapt, lr=args.adapt_lr,
                                            seed=args.seed)
    if args.auto:
        from npgd.experiments.kcv import auto

        extra[AUTO] = auto(net, name=name, cs_iters=args.cs_iters, points=args.grid_points,
                           seed=args.seed)
    res, _, _ = evaluate(x, net, name=name, accel=ACCEL, mask="vd", noise_db=db, tune=True,
                         calib_slices=1, points=args.grid_points, cs_iters=args.cs_iters,
                         seed=args.seed, extra=extra)
    m = {r["method"]: r for r in res["methods"]}
    row = {"source": src, "in_domain": trained, "condition": label, "model": name,
           "shape": list(x.shape[1:]), "scored": len(res["evaluated_slices"]),
           "snr": {k: v["snr"] for k, v in m.items()},
           "ssim": {k: v["ssim"] for k, v in m.items()},
           "cs_rel": res["cs_rel"], "margin": res["npgd_minus_best_cs_db"],
           "seconds": time.perf_counter() - t}
    if args.adapt:
        key = f"{name}, adapted"
        h = extra[key].history
        row.update(adapted=key, adapted_margin=res["minus_best_cs_db"][key],
                   adaptation={"steps": h["steps"], "best_step": h["best_step"],
                               "seconds": h["seconds"]})
    if args.auto:
        c = extra[AUTO].choice
        row.update(auto=AUTO, auto_margin=res["minus_best_cs_db"][AUTO],
                   auto_choice={"method": c["method"].replace(name, "model"),
                                "weight": c["weight"], "rel": c["rel"], "cv_snr": c["cv_snr"],
                                "seconds": c["seconds"]})
    print(f"{src:42s} {label:9s} ZF {row['snr']['zero-filled']:5.1f}  "
          f"WV {row['snr']['CS-WV']:5.1f}  TV {row['snr']['CS-TV']:5.1f}  "
          f"model {row['snr'][name]:5.1f}  margin {row['margin']:+6.2f} dB  "
          + (f"adapted {row['snr'][row['adapted']]:5.1f}  margin {row['adapted_margin']:+6.2f} "
             f"dB  " if args.adapt else "")
          + (f"auto ({row['auto_choice']['method']}) {row['snr'][AUTO]:5.1f}  margin "
             f"{row['auto_margin']:+6.2f} dB  " if args.auto else "")
          + f"({row['seconds']:.0f} s)", flush=True)
    return row


def run(args: argparse.Namespace) -> dict:
    """Every (source, condition) row; ``args.jobs`` worker processes share them (the CS
    solvers run on one core each), each with ``args.threads`` Torch threads."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    start = time.perf_counter()
    tasks = [(i, j) for i in range(len(SOURCES)) for j in range(len(CONDITIONS))]
    if args.jobs == 1:
        rows = [_row(args, i, j) for i, j in tasks]
    else:
        ctx = multiprocessing.get_context("spawn")  # no forked Torch thread pools
        with ProcessPoolExecutor(args.jobs, mp_context=ctx) as pool:
            rows = list(pool.map(_row, [args] * len(tasks), *zip(*tasks, strict=True)))
    return {"model": rows[0]["model"], "rows": rows, "seconds": time.perf_counter() - start,
            "slices": args.slices, "cs_iters": args.cs_iters, "seed": args.seed,
            "adapt": args.adapt, "adapt_lr": args.adapt_lr, "auto": args.auto,
            "jobs": args.jobs, "threads": args.threads, **_machine(),
            "command": " ".join(["python", "scripts/cross_dataset.py", *sys.argv[1:]])}


def _machine() -> dict:
    return {"cpus": os.cpu_count(), "cpu": platform.processor() or platform.machine()}


def _table(rows: list[dict], name: str) -> list[str]:
    adapt = all("adapted" in r for r in rows)
    auto = all("auto" in r for r in rows)
    head = ("Source", "Domain", "Condition", "Size", "Zero-filled", "CS-WV", "CS-TV",
            "Model", "Model - best CS") + (("Adapted", "Adapted - best CS") if adapt else ()) \
        + (("Auto (its choice)", "Auto - best CS") if auto else ()) + ("Tuned rel (WV, TV)",)
    out = [".. list-table::", "   :header-rows: 1", ""]
    out.append("   * - " + "\n     - ".join(head))
    for r in rows:
        s, q = r["snr"], r["ssim"]
        cells = [r["source"], "training" if r["in_domain"] else "held out", r["condition"],
                 "x".join(map(str, r["shape"]))]
        cells += [f"{s[k]:.2f} / {q[k]:.3f}" for k in ("zero-filled", "CS-WV", "CS-TV", name)]
        cells.append(f"{r['margin']:+.2f}")
        if adapt:
            cells += [f"{s[r['adapted']]:.2f} / {q[r['adapted']]:.3f}",
                      f"{r['adapted_margin']:+.2f}"]
        if auto:
            c = r["auto_choice"]
            rel = f", rel {c['rel']:.2g}" if c["rel"] is not None else ""
            cells += [f"{s[r['auto']]:.2f} / {q[r['auto']]:.3f} ({c['method']}{rel})",
                      f"{r['auto_margin']:+.2f}"]
        cells.append(f"{r['cs_rel']['CS-WV']:.2g}, {r['cs_rel']['CS-TV']:.2g}")
        out.append("   * - " + "\n     - ".join(cells))
    return out


def _summary(rows: list[dict]) -> list[str]:
    out = []
    keys = [("margin", "")] + ([("adapted_margin", "adapted, ")]
                               if all("adapted" in r for r in rows) else []) \
        + ([("auto_margin", "auto, ")] if all("auto" in r for r in rows) else [])
    for key, what in keys:
        for trained, label in ((True, "training sources"), (False, "held-out sources")):
            sel = [r for r in rows if r["in_domain"] == trained]
            m = [r[key] for r in sel]
            if m:
                worst = min(sel, key=lambda r: r[key])
                out.append(f"- {what}{label}: mean margin {np.mean(m):+.2f} dB over {len(m)} "
                           f"source/condition pairs; {sum(v >= 0 for v in m)} of {len(m)} at "
                           f"or above the best tuned CS; worst {worst[key]:+.2f} dB "
                           f"({worst['source']}, {worst['condition']})")
    if all("adapted" in r for r in rows):
        t = [r["adaptation"]["seconds"] / r["scored"] for r in rows]
        out.append(f"- adaptation: {np.median(t):.0f} s per scored slice (median; "
                   f"{min(t):.0f}-{max(t):.0f} s), on top of the model's own time")
    if all("auto" in r for r in rows):
        picks = ["a mixture" if r["auto_choice"].get("weight") else r["auto_choice"]["method"]
                 for r in rows]
        t = [r["auto_choice"]["seconds"] / r["scored"] for r in rows]
        out.append("- auto chose " + ", ".join(f"{k} {picks.count(k)}" for k in
                                               sorted(set(picks), key=picks.index))
                   + f" times; choosing took {np.median(t):.0f} s per scored slice (median; "
                   f"{min(t):.0f}-{max(t):.0f} s), on top of the chosen method's own time")
    return out


def _adapt_text(result: dict) -> list[str]:
    if not result.get("adapt"):
        return []
    return [
        "",
        "\"Adapted\" is the same model fine-tuned on each scan's own measured k-space "
        "before reconstructing it (``npgd.train.adapt``, ``npgd eval --adapt``): "
        "self-supervised, no reference image, the sampled locations split into a part the "
        "network sees and a part it must predict (Yaman et al., SSDU, Magn. Reson. Med. "
        "2020; ZS-SSL, ICLR 2022), at most "
        f"{result['adapt']} Adam steps at learning rate {result['adapt_lr']:g}, stopped on "
        "a held-out part of the samples. It adapts on the scored slices' measurements "
        "only. Its learning rate (the default of ``npgd.train.adapt``, 1e-4 rather than "
        "3e-5) was picked on three MNI152 sagittal slices, one of the held-out sources "
        "here; nothing else was tuned on these sources.",
    ]


def _auto_text(result: dict) -> list[str]:
    if not result.get("auto"):
        return []
    return [
        "",
        "\"Auto\" chooses, for each source and condition, between the model, CS-WV, "
        "CS-TV and the mixtures w model + (1 - w) CS (w = 0.25, 0.5, 0.75; CS: CS-WV or "
        "CS-TV) without a reference image "
        "(``npgd.experiments.kcv.auto``, ``npgd eval --auto``): each candidate reconstructs "
        "the scored slices twice, each time from the "
        "measurements less a held-out 15 % of the sampled locations, and is scored by how "
        "well it predicts the held-out samples (weighted by the inverse sampling density, "
        "k-space cross-validation: Ward, IEEE Trans. Inf. Theory 2009); the CS weights are "
        "chosen by the same score over the grid of the tuned columns, and a mixture's "
        "prediction is the mixture of its parts' predictions. The best candidate "
        "then reconstructs from all the samples. Unlike the tuned CS columns it never sees "
        "the reference, so \"Auto - best CS\" compares a method a user can run on a real "
        "scan with CS tuned by an oracle.",
    ]


def write_page(result: dict, path: Path) -> Path:
    name = result["model"]
    title = "Generalization: training and held-out sources"
    lines = [
        ".. This page is written by scripts/cross_dataset.py; edit the script, not the page.",
        "",
        title,
        "=" * len(title),
        "",
        f"{name} against zero-filled :math:`A^H y` and CS with tuned weights, at "
        f"{ACCEL:g}x variable-density undersampling (``npgd.problems.mri.vd_mask``), on "
        "magnitude images from sources in the training data and held out of it. For each "
        "source and condition, CS-WV and CS-TV choose :math:`\\lambda/\\lambda_{\\max}` on "
        "one calibration slice over a log grid extended while the best sits at an edge "
        "(``npgd.experiments.tune``); the scores are on the other "
        f"{result['slices']} slices (natural images: quadrants). CS: FISTA, "
        f"{result['cs_iters']} iterations. Each cell: mean SNR (dB) / SSIM; \"Model - best "
        "CS\" is the model's SNR minus the better CS method's; the last column gives the "
        "tuned weights.",
        *_adapt_text(result),
        *_auto_text(result),
        "",
        "Command (the run that wrote this page, "
        f"{result['seconds'] / 60:.1f} min on {result['cpus']} CPU cores, "
        f"{result['jobs']} worker process(es) with {result['threads']} Torch "
        f"thread(s) each, {result['cpu']}):",
        "",
        ".. code-block:: bash",
        "",
        f"   {result['command']}",
        "",
        "Summary:",
        "",
        *_summary(result["rows"]),
        "",
        *_table(result["rows"], name),
        "",
        "Your own data",
        "-------------",
        "",
        "``npgd eval`` runs the same comparison on any file ``npgd.problems.readers."
        "read_images`` reads (NIfTI, DICOM files and folders, ``.npy``/``.npz``, fastMRI "
        "``.h5``, BART ``.cfl``, PNG/JPEG/TIFF pictures), with CS tuned on calibration "
        "slices that are then left out "
        "of the scores (a single image: on itself, CS at its best), and ``--sweep`` varies "
        "acceleration, mask family, k-space noise and matrix size one at a time with CS "
        "tuned in each condition:",
        "",
        ".. code-block:: bash",
        "",
        "   npgd eval --data scan.nii.gz --tune --noise 30 --out eval",
        "   npgd eval --data dicom_folder/ --axis all --tune --mask radial --accel 6",
        "   npgd eval --data scan.nii.gz --sweep --out sweep",
        "   npgd eval --data dwi.nii.gz --volume 0 --tune --out eval-b0",
        "   npgd eval --data study/ --series 3 --tune --out eval-series3",
        "",
        "A 4-D NIfTI file (diffusion, fMRI, multi-echo) is read one 3-D volume at a time: "
        "``--volume N`` picks the volume along the fourth axis (default the first, which the "
        "reader's line says; ``--volume all`` stacks every volume's slices). A DICOM folder "
        "holding several series (a whole study) is refused with a list of them; ``--series "
        "N`` reads the one whose SeriesNumber (or SeriesInstanceUID) is N. "
        "NaN or infinite voxels are an error (npgd does not guess them); complex data stay "
        "complex unless ``--magnitude`` is given; ``builtin:brain`` names the embedded "
        "sample (plain ``brain`` only when no file or folder of that name exists).",
        "",
    ]
    return atomic_write(path, "\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None, help="shipped model (default: the default model)")
    p.add_argument("--checkpoint", default=None, help="a model.pt from npgd train instead")
    p.add_argument("--device", default=None)
    p.add_argument("--jobs", type=int, default=2,
                   help="worker processes (default 2: the CS solvers use one core each)")
    p.add_argument("--threads", type=int, default=1, help="Torch threads per worker")
    p.add_argument("--slices", type=int, default=2, help="scored slices per source (default 2)")
    p.add_argument("--cs-iters", type=int, default=300)
    p.add_argument("--grid-points", type=int, default=3)
    p.add_argument("--seed", type=int, default=1000)
    p.add_argument("--adapt", type=int, default=0, metavar="STEPS",
                   help="also score the model adapted to each scan (npgd.train.adapt), at "
                   "most STEPS steps (default 0: off)")
    p.add_argument("--adapt-lr", type=float, default=1e-4)
    p.add_argument("--auto", action="store_true",
                   help="also score the reference-free choice between the model, CS-WV, "
                   "CS-TV and their mixtures (npgd.experiments.kcv.auto)")
    p.add_argument("--page", type=Path, default=ROOT / "docs" / "generalization.rst")
    p.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    p.add_argument("--render", type=Path, default=None, metavar="JSON",
                   help="write the page from a --json file of an earlier run, computing nothing")
    args = p.parse_args(argv)
    result = json.loads(args.render.read_text()) if args.render else run(args)
    print(f"wrote {write_page(result, args.page)}")
    if args.json is not None and args.render is None:
        atomic_write(args.json, strict_json(result) + "\n")
        json.loads(args.json.read_text())  # strict JSON, checked
    return 0


if __name__ == "__main__":
    sys.exit(main())
