"""``npgd eval``: a model against zero-filled and (tuned) CS on any images a reader reads.

Everything is callable from Python: :func:`make_masks`, :func:`measure` (k-space noise
given as an SNR in dB or a standard deviation), :func:`evaluate` (one table, per slice and
mean), :func:`write_results` (strict JSON and a figure). :func:`add_arguments` and
:func:`run` are the command line's part (``npgd eval``; the CLI hands ``--sweep`` to
:mod:`npgd.experiments.sweep`).
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from npgd import linops
from npgd._util import DataError, UsageError, atomic_write, check_int, strict_json
from npgd.experiments.compare import compare_measured, figure, neural
from npgd.experiments.tune import CS_METHODS, cs_methods, tune_cs
from npgd.problems import mri

__all__ = ["AUTO", "MASKS", "add_arguments", "calibration_slices", "check_args", "check_out",
           "cs_margins", "evaluate", "load_images", "load_net", "log_margins", "make_masks",
           "measure", "noise_std_for", "record_adaptation", "run", "scores", "write_results"]

#: The column of ``npgd eval --auto`` (:func:`npgd.experiments.kcv.auto`).
AUTO = "auto (k-space CV)"


def _calib(shape: tuple[int, int], accel: float) -> int:
    # The 12x12 fully sampled centre of the papers' masks, smaller where it would take more
    # than half of the samples (small images at high acceleration).
    return max(2, min(12, int(math.sqrt(shape[0] * shape[1] / accel / 2))))


#: Mask families: name -> ``f(shape, accel, seed) -> bool (H, W)``.
MASKS: dict[str, Callable[[tuple[int, int], float, int], np.ndarray]] = {
    "vd": lambda shape, accel, seed: mri.vd_mask(shape, accel, seed=seed,
                                                 calib=_calib(shape, accel)),
    "radial": lambda shape, accel, seed: mri.vd_radial_mask(shape, accel, seed=seed),
    "lines": lambda shape, accel, seed: mri.line_mask(shape, accel, seed=seed),
}


def make_masks(shape: tuple[int, int], n: int, accel: float = 5.0, family: str = "vd",
               seed: int = 0) -> np.ndarray:
    """``n`` sampling masks ``(n, H, W)`` of one :data:`MASKS` family, slice ``i`` drawn with
    seed ``seed + i``: ``"vd"`` (:func:`npgd.problems.mri.vd_mask`, 2-D variable density),
    ``"radial"`` (:func:`~npgd.problems.mri.vd_radial_mask`) or ``"lines"``
    (:func:`~npgd.problems.mri.line_mask`, whole phase-encode lines).

    Examples
    --------
    >>> m = make_masks((30, 40), 2, 4, "lines", seed=0)
    >>> m.shape, bool((m[0] == m[0, 0]).all())
    ((2, 30, 40), True)
    """
    if family not in MASKS:
        raise UsageError(f"mask: must be one of {', '.join(MASKS)}, got {family!r}")
    check_int("make_masks", "n", n)
    return np.stack([MASKS[family](tuple(shape), accel, seed + i) for i in range(n)])


def noise_std_for(x: np.ndarray, db: float) -> np.ndarray:
    """:func:`npgd.problems.mri.noise_std_for` with a bad level as a UsageError naming
    ``--noise`` (exit status 2 at the command line).

    Examples
    --------
    >>> noise_std_for(np.full((1, 4, 4), 2.0), 20.0)
    array([0.2])
    """
    try:
        return mri.noise_std_for(x, db)
    except ValueError:
        raise UsageError(f"noise: the SNR must be a finite number of dB >= 0, got {db!r}") \
            from None


def measure(x: np.ndarray, masks: np.ndarray, *, noise_db: float | None = None,
            noise_std: float = 0.0, seed: int = 0) -> tuple[linops.MaskedFFT, np.ndarray]:
    """Undersampled k-space of ``x`` ``(N, H, W)``: :math:`y_i = M_i \\odot (F x_i + v_i)`,
    :math:`v_i \\sim \\mathcal{CN}(0, \\sigma_i^2)`, with :math:`\\sigma_i` from an SNR
    ``noise_db`` (:func:`noise_std_for`) or one absolute ``noise_std`` (in the image's units;
    not both).

    Raises DataError for an all-zero image or an all-zero k-space (nothing measured) and
    UsageError for a NaN, infinite or negative noise level.

    Examples
    --------
    >>> x = np.ones((2, 8, 8), np.complex64)
    >>> A, y = measure(x, make_masks((8, 8), 2, 2, seed=0), noise_db=30, seed=0)
    >>> y.shape, y.dtype
    ((2, 8, 8), dtype('complex64'))
    >>> measure(x, np.zeros((2, 8, 8), bool))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    npgd._util.DataError: slice 0: the k-space is all zero under its mask; ...
    """
    x = np.asarray(x)
    if x.ndim != 3:
        raise DataError(f"images: expected (N, H, W), got shape {x.shape}")
    if not np.isfinite(x).all():
        raise DataError("images: NaN/Inf values; expected finite images")
    if noise_db is not None and noise_std:
        raise UsageError("noise: give an SNR in dB or a std, not both")
    if (isinstance(noise_std, bool) or not isinstance(noise_std, int | float)
            or not noise_std >= 0 or not math.isfinite(noise_std)):
        raise UsageError(f"noise-std: must be a finite number >= 0, got {noise_std!r}")
    empty = np.flatnonzero(~np.abs(x).any(axis=(1, 2)))
    if empty.size:
        raise DataError(f"slice {int(empty[0])}: the image is all zero; expected an image")
    A = linops.MaskedFFT(masks)
    y = A(x)
    dead = np.flatnonzero(~np.abs(y).any(axis=(-2, -1)))
    if dead.size:
        raise DataError(f"slice {int(dead[0])}: the k-space is all zero under its mask; "
                        "expected a mask that samples the image's k-space")
    std = noise_std_for(x, noise_db) if noise_db is not None else np.full(len(x), noise_std)
    if std.any():
        rng = np.random.default_rng(seed)
        v = rng.standard_normal(y.shape + (2,)).view(np.complex128)[..., 0]
        v *= std[:, None, None] / math.sqrt(2)
        y = (y + A.mask.like(y) * v.astype(y.dtype)).astype(y.dtype)
    return A, y


def scores(values: np.ndarray) -> list[dict]:
    """Per-slice numbers for JSON: a finite value as is, an infinite SNR (an exact
    reconstruction) as ``null`` with the reason next to it.

    Examples
    --------
    >>> scores(np.array([12.5, np.inf]))
    [{'value': 12.5}, {'value': None, 'note': 'infinite: exact reconstruction'}]
    """
    return [{"value": float(v)} if math.isfinite(v)
            else {"value": None, "note": "infinite: exact reconstruction"} for v in values]


def calibration_slices(n: int, k: int) -> list[int]:
    """The ``k`` slices of ``n`` that tune CS in :func:`evaluate`: evenly spread, off the
    ends; none when ``n <= k`` (nothing would be left to score: CS is then tuned on the
    scored slices themselves).

    Examples
    --------
    >>> calibration_slices(10, 2), calibration_slices(3, 1), calibration_slices(1, 2)
    ([3, 6], [1], [])
    """
    if n <= k:
        return []
    return sorted({int(round(v)) for v in np.linspace(0, n - 1, k + 2)[1:-1]})


def evaluate(
    x: np.ndarray,
    net: Any = None,
    *,
    name: str = "NPGD",
    accel: float = 5.0,
    mask: str = "vd",
    noise_db: float | None = None,
    noise_std: float = 0.0,
    tune: bool = False,
    calib_slices: int = 2,
    points: int = 5,
    cs_iters: int = 300,
    classic: bool = True,
    seed: int = 0,
    amp: bool = False,
    extra: dict[str, Callable] | None = None,
    log: Callable[[str], Any] | None = None,
) -> tuple[dict, np.ndarray, dict[str, np.ndarray]]:
    """Zero-filled, CS-WV, CS-TV and ``net`` on images ``x`` ``(N, H, W)``, real or complex,
    any shape, in single precision (float32/complex64, the networks' precision).

    Slice ``i`` gets a ``mask`` mask (:func:`make_masks`, seed ``seed + i``) at ``accel`` and
    k-space noise (:func:`measure`). With ``tune`` the CS weights :math:`\\lambda /
    \\lambda_{\\max}` are chosen on ``calib_slices`` slices spread through ``x``
    (:func:`npgd.experiments.tune.tune_cs`, ``points`` grid values to start) and the other
    slices are evaluated with them (with no more than ``calib_slices`` slices, a single 2-D
    image say, on the evaluated slices themselves: CS at its best, ``"tuned_on"`` says
    which); otherwise every slice is evaluated with the default
    weights. ``extra`` adds methods ``(A, y) -> x`` by name after ``net`` (e.g.
    :func:`npgd.train.adapt.adapted`, the network adapted to the evaluated measurements).
    The weights are relative, and the network normalizes by its input, so the
    intensity scale of ``x`` does not change the scores.

    Returns
    -------
    result : dict
        The settings, ``"tuning"`` (per CS method: chosen ``rel``, grid and scores),
        ``"calibration_slices"``, ``"evaluated_slices"``, ``"methods"`` (per method: mean
        ``snr`` and ``ssim``, ``s_per_slice``, per-slice ``snr_per_slice``/``ssim_per_slice``),
        ``"npgd_minus_best_cs_db"`` when both are there, and ``"minus_best_cs_db"``: every
        non-CS method's mean SNR minus the better CS method's. Ready for
        :func:`npgd._util.strict_json`.
    x_eval : ndarray
        The evaluated slices' ground truth.
    recons : dict
        Each method's reconstructions of ``x_eval``.

    Examples
    --------
    >>> from npgd.problems import data
    >>> x = np.stack([data.phantom((24, 30), seed=s) for s in range(3)])
    >>> res, _, _ = evaluate(x, accel=3, tune=True, calib_slices=1, points=2, cs_iters=10)
    >>> res["evaluated_slices"], sorted(res["tuning"])
    ([0, 2], ['CS-TV', 'CS-WV'])
    """
    x = np.asarray(x)
    if x.dtype.kind not in "iufc":
        raise TypeError(f"images: expected a numeric array, got dtype {x.dtype}")
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3:
        raise DataError(f"images: expected (N, H, W) or (H, W), got shape {x.shape}")
    # Single precision throughout, the networks' precision (the readers' output already is).
    x = x.astype(np.complex64 if x.dtype.kind == "c" else np.float32)
    n = len(x)
    check_int("evaluate", "cs_iters", cs_iters)
    masks = make_masks(x.shape[1:], n, accel, mask, seed)
    A, y = measure(x, masks, noise_db=noise_db, noise_std=noise_std, seed=seed)
    calib: list[int] = []
    rels: dict[str, float] = {}
    tuning: dict[str, dict] = {}
    if tune and classic:
        check_int("evaluate", "calib_slices", calib_slices)
        calib = calibration_slices(n, calib_slices)
        on = calib or list(range(n))  # one 2-D image, say: tune on what is scored (an oracle)
        if not calib and log is not None:
            log(f"tune: {n} slice(s), not more than calib_slices = {calib_slices}: CS "
                "lambda tuned on the evaluated slices themselves (CS's best case)")
        Ac = linops.MaskedFFT(masks[on])
        tuning = tune_cs(x[on], Ac, y[on], iters=cs_iters, points=points, log=log)
        rels = {k: v["rel"] for k, v in tuning.items()}
        if log is not None:
            log("chosen: " + ", ".join(f"{k} rel {v:.3g}" for k, v in rels.items()))
    keep = [i for i in range(n) if i not in calib]
    methods = cs_methods(rels, cs_iters) if classic else {}
    if net is not None:
        methods[name] = neural(net, amp=amp)
    for k, method in (extra or {}).items():
        if k in methods:
            raise UsageError(f"extra: method name {k!r} is taken")
        methods[k] = method
    rows, recons = compare_measured(x[keep], linops.MaskedFFT(masks[keep]), y[keep], methods,
                                    log=log)
    result = {
        "images": list(x.shape), "dtype": str(x.dtype), "accel": accel, "mask": mask,
        "noise_db": noise_db, "noise_std": noise_std, "seed": seed, "cs_iters": cs_iters,
        "cs_rel": {k: rels.get(k, start) for k, (_, start) in CS_METHODS.items()} if classic
        else {}, "tuned": bool(tuning), "tuning": tuning,
        "tuned_on": ("calibration slices" if calib else "evaluated slices") if tuning else None,
        "calibration_slices": calib, "evaluated_slices": keep,
        "methods": [{"method": r["method"], "snr": r["snr"], "ssim": r["ssim"],
                     "s_per_slice": r["s_per_slice"],
                     "snr_per_slice": scores(r["snr_all"]),
                     "ssim_per_slice": scores(r["ssim_all"])} for r in rows],
    }
    result.update(cs_margins(rows, name if net is not None else None))
    if not all(math.isfinite(r["snr"]) for r in rows):
        result["note"] = "a null mean SNR is infinite: some slice was reconstructed exactly"
    return result, x[keep], recons


def write_results(out: str | os.PathLike, result: dict, x: np.ndarray | None = None,
                  recons: dict[str, np.ndarray] | None = None,
                  metric: str = "snr") -> list[Path]:
    """``out/results.json`` (strict JSON) and, given ``x`` and ``recons``,
    ``out/comparison.png`` (the slice where the last method has its median ``metric``,
    ``"snr"`` or ``"psnr"``, shown in the titles: :func:`npgd.experiments.compare.figure`).

    Examples
    --------
    >>> import tempfile, json
    >>> d = tempfile.mkdtemp()
    >>> [p.name for p in write_results(d, {"snr": float("inf")})]
    ['results.json']
    >>> json.loads(open(os.path.join(d, "results.json")).read())
    {'snr': None}
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [atomic_write(out / "results.json", strict_json(result) + "\n")]
    if x is not None and recons:
        last = list(recons.values())[-1]
        from npgd.problems import metrics

        s = (metrics.snr if metric == "snr" else metrics.psnr)(x, last)
        index = int(np.argsort(s)[len(s) // 2])
        paths.append(figure(out / "comparison.png", x, recons, index=index, metric=metric))
    return paths


# ---------------------------------------------------------------------------------------
# command line


def _int_or_all(expected: str) -> Callable[[str], int | str]:
    """An argparse type: an int, or the word 'all'; ``expected`` names the int in errors."""
    def parse(text: str) -> int | str:
        if text == "all":
            return text
        try:
            return int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {expected} or 'all', got {text!r}") \
                from None
    return parse


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``npgd eval`` options (the CLI adds those of ``--sweep`` with
    :func:`npgd.experiments.sweep.add_sweep_arguments`).

    Examples
    --------
    >>> p = argparse.ArgumentParser()
    >>> add_arguments(p)
    >>> a = p.parse_args(["--data", "x.nii.gz", "--noise", "30", "--tune"])
    >>> a.noise, a.tune, a.mask, a.accel
    (30.0, True, 'vd', 5.0)
    """
    from npgd.problems.readers import BUILTIN

    g = p.add_argument_group("data")
    g.add_argument("--data", default=BUILTIN,
                   help=f"a NIfTI/DICOM/.npy/.npz/fastMRI .h5/BART/picture (PNG, JPEG, "
                   "TIFF, BMP) file or folder; "
                   f"{BUILTIN} (default) is the embedded test slices, and so is 'brain' "
                   "when no file or folder has that name")
    g.add_argument("--axis", type=_int_or_all("0, 1, 2, -1"), default=-1,
                   help="slice volumes along this axis (default the last), or 'all' for the "
                   "three orientations")
    g.add_argument("--volume", type=_int_or_all("a volume index"), default=None,
                   help="of a 4-D NIfTI file (diffusion, fMRI, multi-echo): the volume along "
                   "its fourth axis (default the first), or 'all'")
    g.add_argument("--series", default=None,
                   help="of a DICOM folder holding several series: the one with this "
                   "SeriesNumber (or SeriesInstanceUID)")
    g.add_argument("--magnitude", action="store_true",
                   help="evaluate on the magnitude of complex data (default: keep complex)")
    g.add_argument("--phase", action="store_true",
                   help="give real images the smooth synthetic phase of the training data")
    g.add_argument("--min-fraction", type=float, default=0.1,
                   help="drop slices with less foreground than this (default 0.1)")
    g.add_argument("--slices", type=int, default=None,
                   help="use this many slices, evenly spread (default all)")
    g = p.add_argument_group("model")
    g.add_argument("--model", default=None, help="shipped model name (default: the default "
                   "model of npgd.problems.pretrained())")
    g.add_argument("--checkpoint", help="a model.pt/last.pt from npgd train (instead of --model)")
    g.add_argument("--device", default=None, help="torch device of the network (default cpu)")
    g.add_argument("--amp", action="store_true", help="run the network under bf16 autocast")
    g.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    g = p.add_argument_group("measurements")
    g.add_argument("--task", choices=("mri", "sr"), default="mri",
                   help="mri (default): undersampled k-space; sr: super-resolution of real "
                   "images (pictures too) by --factor block averaging, the model against "
                   "bicubic and TV (npgd.experiments.sr_eval; the MRI options do not apply)")
    g.add_argument("--factor", type=int, default=2,
                   help="super-resolution factor with --task sr (default 2; models ship "
                   "for 2 and 4)")
    g.add_argument("--accel", type=float, default=5.0, help="acceleration (default 5)")
    g.add_argument("--mask", choices=sorted(MASKS), default="vd", help="mask family")
    g.add_argument("--noise", type=float, default=None, metavar="DB",
                   help="k-space noise as an SNR in dB (default noiseless)")
    g.add_argument("--noise-std", type=float, default=0.0,
                   help="k-space noise as an absolute std (image units) instead")
    g.add_argument("--seed", type=int, default=1000, help="seed of the first slice's mask")
    g = p.add_argument_group("CS baselines")
    g.add_argument("--tune", action="store_true",
                   help="tune CS-WV and CS-TV lambda on calibration slices (reported apart; "
                   "with no more slices than --calib-slices, on the evaluated ones: CS at "
                   "its best)")
    g.add_argument("--calib-slices", type=int, default=2, help="calibration slices (default 2)")
    g.add_argument("--grid-points", type=int, default=5, help="lambda grid values to start")
    g.add_argument("--cs-iters", type=int, default=300, help="FISTA iterations for CS")
    g.add_argument("--no-classic", action="store_true",
                   help="skip CS-WV and CS-TV (and CG-SENSE on multi-coil data)")
    g.add_argument("--auto", action="store_true",
                   help="also report the method chosen without a reference: the model, CS-WV, "
                   "CS-TV (their lambda chosen alike) or a mixture w model + (1 - w) CS "
                   "(w = 0.25, 0.5, 0.75), whichever best predicts k-space "
                   "samples held out of the evaluated measurements (k-space "
                   "cross-validation, npgd.experiments.kcv.auto; single- or multi-coil; "
                   "with --sweep in every condition)")
    g = p.add_argument_group("adaptation")
    g.add_argument("--adapt", type=int, default=0, metavar="STEPS",
                   help="also report the model fine-tuned on the evaluated k-space itself, "
                   "self-supervised, at most STEPS Adam steps (npgd.train.adapt; default 0: "
                   "off)")
    g.add_argument("--adapt-lr", type=float, default=1e-4,
                   help="learning rate of --adapt (default 1e-4)")
    g.add_argument("--save-adapted", metavar="FILE", default=None,
                   help="write the model --adapt gives to FILE, an npgd checkpoint, to "
                   "reconstruct other scans of the same protocol without adapting again "
                   "(npgd eval --checkpoint FILE, npgd.models.load_model)")
    g = p.add_argument_group("output")
    g.add_argument("--out", default="npgd-eval", help="folder for results.json and figures")
    g.add_argument("--no-figure", action="store_true", help="write no figure")


def load_images(args: argparse.Namespace, log: Callable[[str], Any] = print) -> np.ndarray:
    """The images ``args`` name (``--data``, ``--axis``, ``--volume``, ``--series``,
    ``--magnitude``, ``--min-fraction``, ``--slices``, ``--phase``), with the reader's one-line
    summary logged.

    Examples
    --------
    >>> a = argparse.Namespace(data="builtin:brain", axis=-1, volume=None, series=None,
    ...                        magnitude=False, min_fraction=0.0, slices=2, phase=False)
    >>> load_images(a, log=lambda s: None).shape
    (2, 192, 160)
    """
    from npgd.problems import data, readers

    x, info = readers.read_images(args.data, axis=args.axis, volume=args.volume,
                                  series=args.series, magnitude=args.magnitude,
                                  min_fraction=args.min_fraction)
    log(str(info))
    if args.phase and not np.iscomplexobj(x):
        x = data.with_synthetic_phase(x, args.seed)
        log("real images given the smooth synthetic phase (--phase)")
    if args.slices is not None and args.slices < len(x):
        x = x[np.linspace(0, len(x) - 1, args.slices).round().astype(int)]
    return np.ascontiguousarray(x)


def load_net(args: argparse.Namespace) -> tuple[Any, str]:
    """The network ``--checkpoint`` or ``--model`` names (default: the default shipped
    model) on ``--device``, and its display name.

    Examples
    --------
    >>> net, name = load_net(argparse.Namespace(checkpoint=None, model="mri-brain-5x",
    ...                                         device=None, threads=None))
    >>> name
    'NPGD (mri-brain-5x)'
    """
    import torch

    from npgd.models import load_model, pretrained

    if args.threads:
        torch.set_num_threads(args.threads)
    dev = args.device or "cpu"
    if args.checkpoint:
        return load_model(args.checkpoint, dev, task="mri"), f"NPGD ({Path(args.checkpoint).name})"
    if args.model is None:
        return pretrained(map_location=dev, task="mri"), "NPGD (default model)"
    return pretrained(args.model, dev, task="mri"), f"NPGD ({args.model})"


def check_args(args: argparse.Namespace) -> None:
    """Every ``npgd eval`` option checked before any file is read or any compute starts:
    a UsageError (exit status 2) naming the option and what was expected.

    Examples
    --------
    >>> p = argparse.ArgumentParser(); add_arguments(p)
    >>> check_args(p.parse_args(["--noise", "nan"]))
    Traceback (most recent call last):
    ...
    npgd._util.UsageError: --noise: must be a finite number >= 0 (dB), got nan
    """
    def bad(flag: str, expected: str, v: Any) -> UsageError:
        return UsageError(f"{flag}: must be {expected}, got {v!r}")

    def finite(v: Any) -> bool:
        return isinstance(v, int | float) and math.isfinite(v)

    if getattr(args, "factor", 2) != 2 and getattr(args, "task", "mri") != "sr":
        raise UsageError("--factor: a super-resolution option; add --task sr")
    if args.noise is not None and not (finite(args.noise) and args.noise >= 0):
        raise bad("--noise", "a finite number >= 0 (dB)", args.noise)
    if not (finite(args.noise_std) and args.noise_std >= 0):
        raise bad("--noise-std", "a finite number >= 0", args.noise_std)
    if args.noise is not None and args.noise_std:
        raise UsageError("--noise/--noise-std: give an SNR in dB or a std, not both")
    if not (finite(args.accel) and args.accel >= 1):
        raise bad("--accel", "a number >= 1", args.accel)
    if not (finite(args.adapt_lr) and args.adapt_lr > 0):
        raise bad("--adapt-lr", "a finite number > 0", args.adapt_lr)
    if args.adapt and getattr(args, "sweep", False):
        raise UsageError("--adapt: not with --sweep (adapt one evaluation at a time)")
    if getattr(args, "auto", False) and args.no_classic:
        raise UsageError("--auto: chooses between the model and CS; not with --no-classic")
    save = getattr(args, "save_adapted", None)
    if save is not None:
        if not args.adapt:
            raise UsageError("--save-adapted: needs --adapt STEPS (there is no adapted model "
                             "to write otherwise)")
        folder = Path(save).parent
        if Path(save).is_dir() or not (folder.is_dir() and os.access(folder, os.W_OK)):
            raise bad("--save-adapted", "a file path in an existing writable folder", save)
    if not (finite(args.min_fraction) and 0 <= args.min_fraction < 1):
        raise bad("--min-fraction", "in [0, 1)", args.min_fraction)
    for flag, v, low in (("--slices", args.slices, 1), ("--calib-slices", args.calib_slices, 1),
                         ("--grid-points", args.grid_points, 2), ("--cs-iters", args.cs_iters, 1),
                         ("--threads", args.threads, 1),
                         ("--adapt", args.adapt, 0),
                         ("--sweep-slices", getattr(args, "sweep_slices", None), 1),
                         ("--sweep-grid-points", getattr(args, "sweep_grid_points", None), 2)):
        if v is not None and v < low:
            raise bad(flag, f"an int >= {low}", v)
    for v in getattr(args, "sweep_accels", ()):
        if not (finite(v) and v >= 1):
            raise bad("--sweep-accels", "numbers >= 1", v)
    for v in getattr(args, "sweep_noise", ()):
        if v is not None and not (finite(v) and v >= 0):
            raise bad("--sweep-noise", "'none' or finite dB >= 0", v)


def check_out(out: str | os.PathLike) -> Path:
    """The folder ``--out`` names, created and checked writable before any compute starts
    (a run must not fail at its end for want of a place to write); a UsageError otherwise.

    Examples
    --------
    >>> import tempfile
    >>> check_out(os.path.join(tempfile.mkdtemp(), "eval")).is_dir()
    True
    """
    p = Path(out)
    try:
        p.mkdir(parents=True, exist_ok=True)
        atomic_write(p / ".npgd-write-test", b"")
        (p / ".npgd-write-test").unlink()
    except OSError as e:
        raise UsageError(f"--out: cannot write to {p} ({e.strerror or e}); expected a "
                         "writable folder") from None
    return p


def cs_margins(rows: list[dict], model: str | None = None) -> dict:
    """SNR margins to the best CS method (CS-WV, CS-TV) of scored ``rows`` (dicts with
    ``method`` and ``snr``): ``{"minus_best_cs_db": {method: snr - best CS}}`` for every
    method other than CS and zero-filled, and ``npgd_minus_best_cs_db`` for ``model``;
    empty when no CS method ran.

    Examples
    --------
    >>> rows = [{"method": "zero-filled", "snr": 10.0}, {"method": "CS-TV", "snr": 30.0},
    ...         {"method": "CS-WV", "snr": 29.0}, {"method": "NPGD", "snr": 31.5}]
    >>> cs_margins(rows, "NPGD")
    {'minus_best_cs_db': {'NPGD': 1.5}, 'npgd_minus_best_cs_db': 1.5}
    >>> cs_margins(rows[:1])
    {}
    """
    cs = [r["snr"] for r in rows if r["method"] in CS_METHODS]
    if not cs:
        return {}
    out: dict[str, Any] = {"minus_best_cs_db": {
        r["method"]: r["snr"] - max(cs) for r in rows
        if r["method"] not in CS_METHODS and r["method"] != "zero-filled"}}
    if model is not None:
        out["npgd_minus_best_cs_db"] = out["minus_best_cs_db"][model]
    return out


def log_margins(result: dict, log: Callable[[str], Any]) -> None:
    """Log each ``result["minus_best_cs_db"]`` margin (:func:`cs_margins`) on its own line,
    after a blank one, when the model was compared with CS.

    Examples
    --------
    >>> log_margins({"minus_best_cs_db": {"NPGD": 1.5}, "npgd_minus_best_cs_db": 1.5}, print)
    <BLANKLINE>
    NPGD - best CS: +1.50 dB SNR
    """
    if "npgd_minus_best_cs_db" in result:
        log("")
        for k, v in result["minus_best_cs_db"].items():
            log(f"{k} - best CS: {v:+.2f} dB SNR")


def record_adaptation(result: dict, method: Callable, args: argparse.Namespace,
                      log: Callable[[str], Any]) -> None:
    """Store the adapted method's history (:func:`npgd.train.adapt.adapted` keeps it in
    ``method.history``) in ``result["adaptation"]`` with ``--adapt``/``--adapt-lr``, and
    log one line. With ``--save-adapted FILE``, write the adapted network
    (``method.net``) there (:func:`npgd.models.save_model`, with where it came from) and
    record the path.

    Examples
    --------
    >>> def method(A, y): ...
    >>> method.history = {"val_loss": [0.3, 0.2], "best_step": 5, "steps": 5, "seconds": 1.0}
    >>> result = {}
    >>> record_adaptation(result, method, argparse.Namespace(adapt=5, adapt_lr=1e-4), print)
    adaptation: 5 steps, best validation at step 5 (0.3000 -> 0.2000), 1.0 s
    >>> result["adaptation"]["best_step"], result["adaptation"]["lr"]
    (5, 0.0001)
    """
    h = method.history
    result["adaptation"] = {"steps": args.adapt, "lr": args.adapt_lr, **h}
    log(f"adaptation: {h['steps']} steps, best validation at step {h['best_step']} "
        f"({h['val_loss'][0]:.4f} -> {min(h['val_loss']):.4f}), {h['seconds']:.1f} s")
    save = getattr(args, "save_adapted", None)
    if save is not None:
        from npgd.models import save_model

        save_model(method.net, save, adapted_from=args.checkpoint or args.model or "default",
                   adapted_on=str(result.get("source")), accel=args.accel, mask=args.mask,
                   noise_db=args.noise, adapt_steps=args.adapt, adapt_lr=args.adapt_lr,
                   best_step=h["best_step"])
        result["adaptation"]["saved"] = str(save)
        log(f"wrote the adapted model to {save}")


def run(args: argparse.Namespace, log: Callable[[str], Any] = print,
        adapter: Callable[[Any, argparse.Namespace], Callable] | None = None) -> int:
    """``npgd eval``: read, check, measure, (tune,) reconstruct, score, write
    ``results.json`` and ``comparison.png`` into ``--out`` (``npgd eval --sweep`` is
    :func:`npgd.experiments.sweep.run`). Returns the exit status (0); errors are
    UsageError/DataError with one line. With ``--adapt``, ``adapter(net, args)`` gives the
    method of the adapted model (the command line passes :func:`npgd.train.adapt.adapted`;
    this layer does not import the training package).

    Examples
    --------
    >>> import tempfile
    >>> p = argparse.ArgumentParser(); add_arguments(p)
    >>> a = p.parse_args(["--slices", "1", "--no-classic", "--no-figure", "--model",
    ...                   "mri-brain-5x", "--out", tempfile.mkdtemp()])
    >>> run(a, log=lambda s: None)
    0
    """
    check_args(args)
    if args.adapt and adapter is None:
        raise UsageError("--adapt: no adapter given (run it as `npgd eval --adapt ...`)")
    out = check_out(args.out)
    x = load_images(args, log)
    net, name = load_net(args)
    extra = {f"{name}, adapted": adapter(net, args)} if args.adapt else {}
    if getattr(args, "auto", False):
        from npgd.experiments.kcv import UNIT_OF_FAMILY, auto

        extra[AUTO] = auto(net, name=name, cs_iters=args.cs_iters, points=args.grid_points,
                           seed=args.seed, unit=UNIT_OF_FAMILY[args.mask], amp=args.amp,
                           log=log)
    noise = (f"{args.noise:g} dB k-space SNR" if args.noise is not None
             else f"noise std {args.noise_std:g}" if args.noise_std else "noiseless")
    log(f"{len(x)} slices {x.shape[1]}x{x.shape[2]}, {args.accel:g}x {args.mask} masks "
        f"(seeds {args.seed}..), {noise}; CS: FISTA {args.cs_iters} iterations"
        f"{', lambda tuned' if args.tune else ''}; {name}: {net.iters} unrolled iterations")
    result, xe, recons = evaluate(
        x, net, name=name, accel=args.accel, mask=args.mask, noise_db=args.noise,
        noise_std=args.noise_std, tune=args.tune, calib_slices=args.calib_slices,
        points=args.grid_points, cs_iters=args.cs_iters, classic=not args.no_classic,
        seed=args.seed, amp=args.amp, extra=extra, log=log)
    result["source"] = str(args.data)
    if args.adapt:
        record_adaptation(result, extra[f"{name}, adapted"], args, log)
    if AUTO in extra:
        result["auto"] = extra[AUTO].choice
    paths = write_results(out, result, None if args.no_figure else xe, recons)
    log_margins(result, log)
    if result.get("npgd_minus_best_cs_db", 0.0) < 0 and not extra:
        log(f"{name} is behind {'tuned ' if args.tune else ''}CS on these data: --auto "
            "chooses between it, CS and their mixtures from the measurements alone, --adapt "
            "STEPS fine-tunes it on them (docs: general_model)")
    log("wrote " + ", ".join(str(p) for p in paths))
    return 0
