"""``npgd eval --sweep``: one model across acceleration, mask family, noise and matrix size.

Each factor is varied on its own around a base condition (the ``--accel``, ``--mask`` and
``--noise`` given, images at their own size), the others held at the base: 3..8x, the three
mask families, noiseless to 20 dB k-space SNR, and matrix sizes from 64x64 to 512x512 (the
images resized to fit, then zero-padded). In every condition the CS weights are tuned on
calibration slices (:func:`npgd.experiments.tune.tune_cs`) before the other slices are
scored, so the table's "NPGD - CS" is against CS at its best for that condition.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from npgd._util import UsageError, atomic_write, crop_or_pad, strict_json
from npgd.experiments.compare import new_figure, save_figure
from npgd.experiments.evaluate import AUTO, MASKS, calibration_slices, evaluate

__all__ = ["add_sweep_arguments", "conditions", "format_sweep", "plot_sweep", "resize_to",
           "run", "sweep"]

DEFAULT_ACCELS = (3.0, 4.0, 5.0, 6.0, 8.0)
DEFAULT_NOISE = (None, 40.0, 30.0, 20.0)
DEFAULT_SIZES = ((64, 64), (128, 128), (256, 256), (320, 256), (512, 512))


def resize_to(x: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Images ``(N, H, W)`` at a new matrix size: resized (anti-aliased, real and imaginary
    parts alike) by the one factor that makes them fit ``shape`` with their aspect ratio,
    then centre zero-padded to ``shape``.

    Examples
    --------
    >>> resize_to(np.ones((2, 40, 20)), (20, 20)).shape
    (2, 20, 20)
    """
    from skimage.transform import resize

    x = np.asarray(x)
    H, W = x.shape[-2:]
    f = min(shape[0] / H, shape[1] / W)
    inner = (max(1, min(shape[0], round(H * f))), max(1, min(shape[1], round(W * f))))

    def rs(a: np.ndarray) -> np.ndarray:
        return np.stack([resize(s, inner, order=1, anti_aliasing=f < 1) for s in a])

    y = rs(x.real) + 1j * rs(x.imag) if np.iscomplexobj(x) else rs(x)
    return crop_or_pad(y.astype(x.dtype), tuple(shape))


def conditions(base: dict, accels: Sequence[float] = DEFAULT_ACCELS,
               masks: Sequence[str] = tuple(MASKS),
               noise: Sequence[float | None] = DEFAULT_NOISE,
               sizes: Sequence[tuple[int, int]] = DEFAULT_SIZES) -> list[dict]:
    """The sweep's conditions: ``base`` (keys ``accel``, ``mask``, ``noise_db``, ``size``)
    first, then each factor's values with the others at the base, without repeats.

    Examples
    --------
    >>> base = {"accel": 5.0, "mask": "vd", "noise_db": None, "size": None}
    >>> [(c["factor"], c["accel"]) for c in conditions(base, [3, 5], ["vd"], [None], [])]
    [('base', 5.0), ('accel', 3)]
    """
    out = [{"factor": "base", **base}]
    seen = {tuple(sorted(base.items()))}
    for factor, key, values in (("accel", "accel", accels), ("mask", "mask", masks),
                                ("noise", "noise_db", noise), ("size", "size", sizes)):
        for v in values:
            c = {**base, key: tuple(v) if key == "size" else v}
            if tuple(sorted(c.items())) not in seen:
                seen.add(tuple(sorted(c.items())))
                out.append({"factor": factor, **c})
    return out


def sweep(
    x: np.ndarray,
    net: Any,
    conds: list[dict],
    *,
    name: str = "NPGD",
    calib_slices: int = 1,
    cs_iters: int = 300,
    points: int = 3,
    seed: int = 0,
    auto: bool = False,
    log: Callable[[str], Any] | None = None,
) -> dict:
    """:func:`npgd.experiments.evaluate.evaluate` with tuned CS in each condition of
    ``conds`` (:func:`conditions`) on the slices ``x`` (``calib_slices`` of them tune; with
    no more slices than that, CS is tuned on the scored slices themselves).
    With ``auto``, also the reference-free choice between the model, CS-WV and CS-TV
    (:func:`npgd.experiments.kcv.auto`, made on the scored slices' measurements).

    Returns a dict with ``"conditions"``: per condition its settings, the images' ``shape``,
    the mean SNR (dB) and SSIM of every method, the chosen CS weights, the seconds it took,
    and ``npgd_minus_best_cs_db`` (with ``auto`` also ``auto_minus_best_cs_db`` and
    ``auto_choice``: the method chosen, its weight for CS, every candidate's score).

    Examples
    --------
    >>> from npgd.models import build_model
    >>> from npgd.problems import data
    >>> x = np.stack([data.phantom((24, 24), seed=s) for s in range(2)])
    >>> base = {"accel": 3.0, "mask": "vd", "noise_db": None, "size": None}
    >>> out = sweep(x, build_model({"features": 4, "iters": 1}).eval(), [{"factor": "base",
    ...             **base}], cs_iters=5, points=2)
    >>> sorted(out["conditions"][0]["snr"])
    ['CS-TV', 'CS-WV', 'NPGD', 'zero-filled']
    """
    from npgd.experiments.kcv import UNIT_OF_FAMILY
    from npgd.experiments.kcv import auto as auto_method

    if not conds:
        raise UsageError("sweep: conds is empty; expected at least one condition "
                         "(npgd.experiments.sweep.conditions)")
    rows = []
    for c in conds:
        t = time.perf_counter()
        xc = x if c["size"] is None else resize_to(x, c["size"])
        extra = {AUTO: auto_method(net, name=name, cs_iters=cs_iters, points=points,
                                   seed=seed, unit=UNIT_OF_FAMILY[c["mask"]])} \
            if auto else None
        res, _, _ = evaluate(xc, net, name=name, accel=c["accel"], mask=c["mask"],
                             noise_db=c["noise_db"], tune=True, calib_slices=calib_slices,
                             points=points, cs_iters=cs_iters, seed=seed, extra=extra)
        row = {**c, "shape": list(xc.shape[1:]),
               "snr": {m["method"]: m["snr"] for m in res["methods"]},
               "ssim": {m["method"]: m["ssim"] for m in res["methods"]},
               "cs_rel": res["cs_rel"],
               "tuning_at_edge": [k for k, v in res["tuning"].items() if v["at_edge"]],
               "npgd_minus_best_cs_db": res["npgd_minus_best_cs_db"],
               "seconds": time.perf_counter() - t}
        if auto:
            choice = extra[AUTO].choice
            row.update(auto_minus_best_cs_db=res["minus_best_cs_db"][AUTO],
                       auto_choice={"method": choice["method"].replace(name, "model"),
                                    "rel": choice["rel"], "weight": choice["weight"],
                                    "cv_snr": choice["cv_snr"]})
        rows.append(row)
        if log is not None:
            log(format_sweep([row], header=len(rows) == 1, name=name))
    # what evaluate did in the last condition (the same slices in each)
    return {"model": name, "slices": len(res["evaluated_slices"]),
            "calibration_slices": len(res["calibration_slices"]),
            "tuned_on": res["tuned_on"], "cs_iters": cs_iters, "conditions": rows}


def _label(c: dict) -> str:
    v = {"accel": f"{c['accel']:g}x", "mask": c["mask"],
         "noise": "noiseless" if c["noise_db"] is None else f"{c['noise_db']:g} dB",
         "size": "native" if c["size"] is None else f"{c['size'][0]}x{c['size'][1]}"}
    return v.get(c["factor"], f"{c['accel']:g}x {c['mask']}")


def format_sweep(rows: list[dict], header: bool = True, name: str = "NPGD") -> str:
    """Plain-text table of :func:`sweep` rows: factor, value, mean SNR of each method, and
    NPGD minus the best tuned CS (dB); rows of a sweep with ``auto`` add auto's margin and
    its choice.

    Examples
    --------
    >>> r = {"factor": "accel", "accel": 3.0, "mask": "vd", "noise_db": None, "size": None,
    ...      "shape": [8, 8], "snr": {"zero-filled": 10, "CS-WV": 20, "CS-TV": 21, "N": 22},
    ...      "npgd_minus_best_cs_db": 1.0}
    >>> print(format_sweep([r], name="N"))
    factor  value        shape     ZF  CS-WV  CS-TV   NPGD  NPGD-CS
    accel   3x             8x8   10.0   20.0   21.0   22.0    +1.00
    """
    auto = bool(rows) and all("auto_choice" in r for r in rows)
    lines = [f"{'factor':7s} {'value':10s} {'shape':>7s} {'ZF':>6s} {'CS-WV':>6s} "
             f"{'CS-TV':>6s} {'NPGD':>6s} {'NPGD-CS':>8s}"
             + (f" {'auto-CS':>8s} auto's choice" if auto else "")] if header else []
    for r in rows:
        s = r["snr"]
        lines.append(f"{r['factor']:7s} {_label(r):10s} {'x'.join(map(str, r['shape'])):>7s} "
                     f"{s['zero-filled']:6.1f} {s['CS-WV']:6.1f} {s['CS-TV']:6.1f} "
                     f"{s[name]:6.1f} {r['npgd_minus_best_cs_db']:+8.2f}"
                     + (f" {r['auto_minus_best_cs_db']:+8.2f} {r['auto_choice']['method']}"
                        if auto else ""))
    return "\n".join(lines)


def plot_sweep(path: str | Path, result: dict) -> Path:
    """A PNG with one panel per factor: NPGD minus the best tuned CS (dB) for each value,
    the base condition included in every panel; a sweep with ``auto`` adds auto's margin as
    a second, hatched bar beside each.

    Examples
    --------
    >>> import tempfile, os
    >>> r = {"factor": "base", "accel": 5.0, "mask": "vd", "noise_db": None, "size": None,
    ...      "npgd_minus_best_cs_db": 1.0}
    >>> p = plot_sweep(os.path.join(tempfile.mkdtemp(), "s.png"),
    ...                {"model": "m", "conditions": [r, {**r, "factor": "accel",
    ...                 "accel": 3.0, "npgd_minus_best_cs_db": -0.5}]})
    >>> p.stat().st_size > 1000
    True
    """
    rows = result["conditions"]
    base = rows[0]
    factors = [f for f in ("accel", "mask", "noise", "size") if any(r["factor"] == f
                                                                      for r in rows)]
    fig = new_figure((3.2 * max(len(factors), 1), 3.0))
    axes = np.atleast_1d(fig.subplots(1, max(len(factors), 1), squeeze=False)[0])
    for ax, f in zip(axes, factors, strict=False):
        pts = [{**base, "factor": f}] + [r for r in rows if r["factor"] == f]
        if f == "accel":
            pts.sort(key=lambda r: r["accel"])
        labels = [_label(r) for r in pts]
        vals = [r["npgd_minus_best_cs_db"] for r in pts]
        auto = all("auto_minus_best_cs_db" in r for r in pts)
        w = 0.4 if auto else 0.8
        pos = np.arange(len(vals)) - (w / 2 if auto else 0)
        ax.bar(pos, vals, width=w, color=["tab:green" if v >= 0 else "tab:red" for v in vals],
               label="model")
        if auto:
            av = [r["auto_minus_best_cs_db"] for r in pts]
            ax.bar(pos + w, av, width=w, hatch="//", edgecolor="k", linewidth=0.5,
                   color=["tab:green" if v >= 0 else "tab:red" for v in av], label="auto")
            ax.legend(fontsize=6)
        ax.axhline(0, color="k", lw=0.8)
        ax.set_xticks(range(len(vals)), labels, rotation=30, fontsize=7)
        ax.set_title(f, fontsize=9)
    axes[0].set_ylabel(f"{result['model']} - best tuned CS (dB)", fontsize=8)
    return save_figure(fig, path)


def _size(text: str) -> tuple[int, int]:
    try:
        parts = [int(v) for v in text.lower().split("x")]
    except ValueError:
        parts = []
    if len(parts) not in (1, 2) or min(parts) < 8:
        raise argparse.ArgumentTypeError(f"a size is N or HxW with sides >= 8, got {text!r}")
    return (parts[0], parts[-1])


def _noise(text: str) -> float | None:
    if text.lower() in ("none", "noiseless", "inf"):
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a noise level is dB or 'none', got {text!r}") \
            from None


def add_sweep_arguments(p: argparse.ArgumentParser) -> None:
    """The ``--sweep`` options of ``npgd eval``.

    Examples
    --------
    >>> p = argparse.ArgumentParser(); add_sweep_arguments(p)
    >>> p.parse_args(["--sweep", "--sweep-sizes", "64", "320x256"]).sweep_sizes
    [(64, 64), (320, 256)]
    """
    g = p.add_argument_group("robustness sweep")
    g.add_argument("--sweep", action="store_true",
                   help="vary acceleration, mask family, noise and matrix size one at a time "
                   "around --accel/--mask/--noise, CS tuned per condition; table, plot, JSON")
    g.add_argument("--sweep-accels", type=float, nargs="*", default=list(DEFAULT_ACCELS))
    g.add_argument("--sweep-masks", nargs="*", choices=sorted(MASKS), default=list(MASKS))
    g.add_argument("--sweep-noise", type=_noise, nargs="*", default=list(DEFAULT_NOISE),
                   metavar="DB|none")
    g.add_argument("--sweep-sizes", type=_size, nargs="*", default=list(DEFAULT_SIZES),
                   metavar="N|HxW")
    g.add_argument("--sweep-slices", type=int, default=2,
                   help="slices scored per condition (default 2), besides the "
                   "--calib-slices that tune CS")
    g.add_argument("--sweep-grid-points", type=int, default=3,
                   help="lambda grid values to start each tuning with (default 3)")


def run(args: argparse.Namespace, log: Callable[[str], Any] = print) -> int:
    """``npgd eval --sweep``: the table printed as it goes, ``sweep.json`` (strict JSON) and
    ``sweep.png`` in ``--out``. Returns 0.

    Examples
    --------
    >>> import tempfile
    >>> from npgd.experiments.evaluate import add_arguments
    >>> p = argparse.ArgumentParser(); add_arguments(p); add_sweep_arguments(p)
    >>> a = p.parse_args(["--sweep", "--sweep-accels", "--sweep-masks", "--sweep-noise",
    ...     "--sweep-sizes", "32", "--sweep-slices", "1", "--cs-iters", "3",
    ...     "--model", "mri-brain-5x", "--out", tempfile.mkdtemp()])
    >>> run(a, log=lambda s: None)
    0
    """
    from npgd.experiments.evaluate import check_args, check_out, load_images, load_net

    check_args(args)
    out = check_out(args.out)
    if not args.slices:
        args.slices = args.sweep_slices + args.calib_slices
    x = load_images(args, log)
    net, name = load_net(args)
    base = {"accel": args.accel, "mask": args.mask, "noise_db": args.noise, "size": None}
    conds = conditions(base, args.sweep_accels, args.sweep_masks, args.sweep_noise,
                       args.sweep_sizes)
    k = len(calibration_slices(len(x), args.calib_slices))
    log(f"sweep: {len(conds)} conditions, {len(x) - k} scored + "
        + (f"{k} calibration slice(s) each" if k else "no calibration slice (CS tuned on them,"
           " CS at its best)") + f", CS FISTA {args.cs_iters} iterations")
    result = sweep(x, net, conds, name=name, calib_slices=args.calib_slices,
                   cs_iters=args.cs_iters, points=args.sweep_grid_points, seed=args.seed,
                   auto=args.auto, log=log)
    result["source"] = str(args.data)
    paths = [atomic_write(out / "sweep.json", strict_json(result) + "\n")]
    if not args.no_figure:
        paths.append(plot_sweep(out / "sweep.png", result))
    log("wrote " + ", ".join(str(p) for p in paths))
    return 0
