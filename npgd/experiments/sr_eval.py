"""``npgd eval --task sr``: a super-resolution model against bicubic and TV on any images.

Each image :math:`x` is downsampled by block averaging, :math:`y = S x`
(:class:`npgd.linops.Downsample`, :func:`npgd.problems.sr.downsample`), and reconstructed by
bicubic interpolation (:func:`npgd.problems.sr.bicubic`), by TV super-resolution
(:func:`npgd.problems.sr.tv_sr`) with its weight chosen on the evaluated images themselves
(TV at its best: a learned model has to beat that), and by the network, through the same
unrolled proximal gradient loop as the MRI models (Mardani et al., "Neural Proximal Gradient
Descent for Compressive Imaging", NeurIPS 2018, Sec. 5.3). Scores: PSNR (peak: the
reference's maximum) and SSIM per image, and seconds per image.

:func:`evaluate_sr` is the Python entry point; :func:`run` is the command line's
(``npgd eval --task sr --factor F --data FILE``: pictures, NIfTI, DICOM, NumPy, ...).
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from npgd._util import DataError, UsageError, check_int
from npgd.experiments.tune import grid_search

__all__ = ["SR_MODELS", "TV_EXTEND", "TV_LAMS", "check_args", "crop_to_factor", "evaluate_sr",
           "run"]

#: The shipped model of each factor (``--model`` picks another, ``--checkpoint`` a file).
SR_MODELS = {2: "sr-2x", 4: "sr-4x"}

#: The TV weights tried (for images scaled to a maximum of 1; ``--grid-points`` of them,
#: log-spaced over this range): on noiseless data the best weight of a photograph is near
#: the lower end, that of a smooth image near the upper one.
TV_LAMS = (1e-7, 1e-3)

#: How many times the TV grid is extended by one value while its best weight lies at an end
#: (:func:`npgd.experiments.tune.grid_search`, the search of the MRI ``--tune``).
TV_EXTEND = 3


def crop_to_factor(x: np.ndarray, factor: int) -> np.ndarray:
    """``x`` ``(..., H, W)`` cropped at the bottom and right to multiples of ``factor``
    (block averaging needs whole blocks).

    Examples
    --------
    >>> crop_to_factor(np.zeros((2, 33, 30)), 4).shape
    (2, 32, 28)
    """
    check_int("crop_to_factor", "factor", factor)
    h, w = (x.shape[-2] // factor) * factor, (x.shape[-1] // factor) * factor
    if h == 0 or w == 0:
        raise DataError(f"images: {x.shape[-2]}x{x.shape[-1]} is smaller than one "
                        f"{factor}x{factor} block; expected images at least that large")
    return x[..., :h, :w]


def _scores(x: np.ndarray, xh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from npgd.problems import metrics

    return np.asarray(metrics.psnr(x, xh), float), np.asarray(metrics.ssim(x, xh), float)


def evaluate_sr(
    x: np.ndarray,
    net: Any = None,
    *,
    factor: int = 2,
    name: str = "NPGD",
    lam: float | None = None,
    points: int = 5,
    tv_iters: int = 300,
    classic: bool = True,
    amp: bool = False,
    log: Callable[[str], Any] | None = None,
) -> tuple[dict, np.ndarray, dict[str, np.ndarray]]:
    """Bicubic, TV and ``net`` (a super-resolution :class:`~npgd.solvers.NeuralPGD`, called
    as ``net(Downsample(shape, factor), y)``) on real images ``x`` ``(N, H, W)`` or
    ``(H, W)``, cropped to multiples of ``factor``.

    Every image is scaled by its own maximum before it is measured (the network is
    scale-equivariant; TV's weight then means the same on every image) and scaled back
    before it is scored. TV solves :math:`\\min_x \\tfrac12\\|y - Sx\\|^2 +
    \\lambda\\,\\mathrm{TV}(x)` with ``tv_iters`` FISTA iterations from the bicubic image;
    :math:`\\lambda` is ``lam``, or with ``lam=None`` the one of ``points`` log-spaced
    weights over :data:`TV_LAMS` with the best mean PSNR on ``x`` itself (TV at its best),
    the grid extended by one value beyond an end while the best lies there (up to
    :data:`TV_EXTEND` times).

    Returns
    -------
    result : dict
        The settings, ``"tv_lam"`` and ``"tv_tuning"`` (grid and mean PSNR), ``"methods"``
        (per method: mean ``psnr`` and ``ssim``, ``s_per_image``, per-image
        ``psnr_per_image`` and ``ssim_per_image``) and, with a network and ``classic``,
        ``"model_minus_best_classic_db"``: its mean PSNR minus the better of bicubic and TV.
    x_eval : ndarray
        The scored images (cropped).
    recons : dict
        Each method's images.

    Examples
    --------
    >>> from npgd.problems import data
    >>> x = np.abs(np.stack([data.phantom((32, 30), seed=s) for s in range(2)]))
    >>> res, xe, _ = evaluate_sr(x, factor=2, points=2, tv_iters=20)
    >>> xe.shape, [m["method"] for m in res["methods"]], res["tv_lam"] in res["tv_tuning"]["lams"]
    ((2, 32, 30), ['bicubic', 'TV'], True)
    """
    from npgd import linops
    from npgd.experiments.compare import neural
    from npgd.problems import sr

    x = np.asarray(x)
    if x.dtype.kind not in "iuf":
        raise DataError(f"images: super-resolution takes real images, got dtype {x.dtype} "
                        "(complex data: --magnitude)")
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3:
        raise DataError(f"images: expected (N, H, W) or (H, W), got shape {x.shape}")
    check_int("evaluate_sr", "factor", factor, 2)
    check_int("evaluate_sr", "tv_iters", tv_iters)
    check_int("evaluate_sr", "points", points, 1)
    if lam is not None and not (isinstance(lam, int | float) and math.isfinite(lam) and lam >= 0):
        raise ValueError(f"evaluate_sr: lam must be a finite number >= 0, got {lam!r}")
    x = crop_to_factor(x.astype(np.float32), factor)
    scale = np.abs(x).max(axis=(1, 2), keepdims=True)
    if not scale.all():
        raise DataError("images: an all-zero image; expected images with some content")
    y = sr.downsample(x / scale, factor)

    def timed(f: Callable[[], np.ndarray]) -> Callable[[], tuple[np.ndarray, float]]:
        def run() -> tuple[np.ndarray, float]:
            t = time.perf_counter()
            xh = f()
            return xh, (time.perf_counter() - t) / len(x)
        return run

    # each method: () -> (images, seconds per image)
    methods: dict[str, Callable[[], tuple[np.ndarray, float]]] = {}
    tuning: dict[str, Any] = {}
    if classic:
        methods["bicubic"] = timed(lambda: sr.bicubic(y, factor))
        if lam is None:
            runs: dict[float, tuple[np.ndarray, float]] = {}

            def score(v: float) -> float:
                runs[v] = timed(lambda: sr.tv_sr(y, factor, v, tv_iters))()
                return float(_scores(x / scale, runs[v][0])[0].mean())

            if points == 1:
                g = {"rel": TV_LAMS[0], "grid": [TV_LAMS[0]], "scores": [score(TV_LAMS[0])]}
            else:  # the grid spans TV_LAMS and is extended while the best is at an end
                ratio = (TV_LAMS[1] / TV_LAMS[0]) ** (1 / (points - 1))
                g = grid_search(score, start=TV_LAMS[0] * ratio ** (points // 2),
                                points=points, ratio=ratio, max_extend=TV_EXTEND,
                                where="evaluate_sr")
            lam = float(g["rel"])
            tuning = {"lams": [float(v) for v in g["grid"]], "psnr": list(g["scores"]),
                      "tuned_on": "evaluated images"}
            chosen = runs[g["rel"]]
            methods["TV"] = lambda: chosen  # the chosen weight's run, not a second one
            if log is not None:
                log(f"TV lambda {lam:.3g}, chosen over {len(g['grid'])} values on the "
                    "evaluated images themselves (TV at its best)")
        else:
            methods["TV"] = timed(lambda: sr.tv_sr(y, factor, lam, tv_iters))
    if net is not None:
        A = linops.Downsample(x.shape[1:], factor)
        run = neural(net, batch=1, amp=amp)  # one image at a time: memory of one
        methods[name] = timed(lambda: run(A, y.astype(np.float32)))
    if not methods:
        raise UsageError("evaluate_sr: nothing to evaluate (no network and classic=False)")
    rows, recons = [], {}
    for k, method in methods.items():
        xh, sec = method()
        xh = np.asarray(xh, np.float64) * scale
        if not np.isfinite(xh).all():
            raise DataError(f"{k}: the reconstruction has NaN/Inf values (a broken model or "
                            "checkpoint?); expected finite images")
        p, s = _scores(x, xh)
        rows.append({"method": k, "psnr": float(p.mean()), "ssim": float(s.mean()),
                     "s_per_image": sec, "psnr_per_image": [float(v) for v in p],
                     "ssim_per_image": [float(v) for v in s]})
        recons[k] = xh.astype(np.float32)
        if log is not None:
            log(("" if len(rows) > 1 else f"{'method':20s} {'PSNR dB':>8s} {'SSIM':>7s} "
                 f"{'s/image':>9s}\n") + f"{k:20s} {p.mean():8.2f} {s.mean():7.3f} {sec:9.3f}")
    result = {"task": "sr", "factor": factor, "images": list(x.shape), "tv_iters": tv_iters,
              "tv_lam": float(lam) if classic else None, "tv_tuning": tuning, "methods": rows}
    if net is not None and classic:
        best = max(r["psnr"] for r in rows if r["method"] in ("bicubic", "TV"))
        result["model_minus_best_classic_db"] = rows[-1]["psnr"] - best
    return result, x, recons


def check_args(args: argparse.Namespace, defaults: argparse.Namespace) -> None:
    """``npgd eval --task sr``: a UsageError for ``--factor`` below 2 and for every MRI
    option set away from its default (``defaults``, the parser's own), since
    super-resolution has no masks, k-space noise, coils, adaptation or sweep (``--tune`` is
    welcome: TV's weight is always chosen on the evaluated images); the options both tasks
    share are checked as for MRI (:func:`npgd.experiments.evaluate.check_args`).

    Examples
    --------
    >>> from npgd.experiments import evaluate
    >>> p = argparse.ArgumentParser(); evaluate.add_arguments(p)
    >>> check_args(p.parse_args(["--task", "sr", "--accel", "8"]), p.parse_args([]))
    Traceback (most recent call last):
    ...
    npgd._util.UsageError: --accel: an MRI option; not with --task sr
    """
    if not (isinstance(args.factor, int) and args.factor >= 2):
        raise UsageError(f"--factor: must be an int >= 2, got {args.factor!r}")
    mri_only = ("accel", "mask", "noise", "noise_std", "seed", "calib_slices", "auto",
                "adapt", "adapt_lr", "save_adapted", "phase", "multicoil", "simulate_coils",
                "acs", "espirit_kernel", "cg_iters", "reference", "sweep", "sweep_accels",
                "sweep_masks", "sweep_noise", "sweep_sizes", "sweep_slices",
                "sweep_grid_points")
    for k in mri_only:
        if hasattr(defaults, k) and getattr(args, k, None) != getattr(defaults, k):
            raise UsageError(f"--{k.replace('_', '-')}: an MRI option; not with --task sr")
    from npgd.experiments.evaluate import check_args as check_shared

    check_shared(args)


def run(args: argparse.Namespace, defaults: argparse.Namespace,
        log: Callable[[str], Any] = print) -> int:
    """``npgd eval --task sr``: read ``--data`` (pictures, NIfTI, DICOM, NumPy, ...; complex
    data as their magnitude, said in the log), downsample by ``--factor``, reconstruct by
    bicubic, TV (weight chosen on the images, ``--grid-points`` values, ``--cs-iters`` FISTA
    iterations) and the model (``--model``, ``--checkpoint``, default the shipped model of
    the factor), print the table and write ``results.json`` and ``comparison.png`` into ``--out``.

    Examples
    --------
    >>> import tempfile
    >>> from npgd.experiments import evaluate
    >>> p = argparse.ArgumentParser(); evaluate.add_arguments(p)
    >>> a = p.parse_args(["--task", "sr", "--slices", "1", "--grid-points", "2",
    ...                   "--cs-iters", "5", "--no-figure", "--out", tempfile.mkdtemp()])
    >>> run(a, p.parse_args([]), log=lambda s: None)
    0
    """
    from pathlib import Path

    from npgd.experiments.evaluate import check_out, load_images, write_results

    check_args(args, defaults)
    if args.checkpoint is None and args.model is None and args.factor not in SR_MODELS:
        raise UsageError(f"--factor {args.factor}: no model ships for it (shipped: "
                         f"{', '.join(f'{f}x' for f in SR_MODELS)}); give --checkpoint "
                         "(npgd train --task sr --factor F)")
    out = check_out(args.out)
    # The models and TV take real images: complex data (the embedded MRI sample, say) are
    # read as their magnitude, which the reader's summary line says.
    x = load_images(argparse.Namespace(**{**vars(args), "magnitude": True}), log)
    import torch

    from npgd.models import load_model, pretrained

    if args.threads:
        torch.set_num_threads(args.threads)
    dev = args.device or "cpu"
    if args.checkpoint:
        net = load_model(args.checkpoint, dev, task="sr")
        name = f"NPGD ({Path(args.checkpoint).name})"
    else:
        model = args.model or SR_MODELS[args.factor]
        net, name = pretrained(model, dev, task="sr"), f"NPGD ({model})"
    log(f"{len(x)} image(s) {x.shape[1]}x{x.shape[2]}, {args.factor}x block averaging, "
        f"noiseless; TV: FISTA {args.cs_iters} iterations; {name}: {net.iters} unrolled "
        "iterations")
    result, xe, recons = evaluate_sr(
        x, net, factor=args.factor, name=name, points=args.grid_points,
        tv_iters=args.cs_iters, classic=not args.no_classic, amp=args.amp, log=log)
    result["source"] = str(args.data)
    paths = write_results(out, result, None if args.no_figure else xe, recons, metric="psnr")
    if "model_minus_best_classic_db" in result:
        log(f"{name} - max(bicubic, TV): {result['model_minus_best_classic_db']:+.2f} dB PSNR")
    log("wrote " + ", ".join(str(p) for p in paths))
    return 0
