"""Multi-coil evaluation: zero-filled, CG-SENSE, CS-WV, CS-TV and the learned model on
multi-coil k-space, with ESPIRiT maps from the undersampled data.

The flow of a parallel-imaging reconstruction on a scanner: a k-space file
(:func:`npgd.problems.kspace.read_kspace`) or images turned into 8-coil k-space
(:func:`npgd.problems.coils.simulate_kspace`) is undersampled by a mask that keeps a fully
sampled ``calib`` x ``calib`` centre; ESPIRiT maps (:func:`npgd.problems.coils.espirit`) are
estimated from that centre; every method reconstructs through one
:class:`npgd.linops.Sense` operator. The reference is the fully sampled SENSE-combined image
(with the same maps: ESPIRiT reads only the centre, which the mask keeps) or the
root-sum-of-squares image.

:func:`evaluate_multicoil` is the Python entry point; :func:`add_arguments` and :func:`run`
are the command line's part.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from npgd import linops, priors, solvers
from npgd._util import DataError, UsageError, atomic_write, check_int, crop_or_pad, strict_json
from npgd.experiments.compare import CS_TV_REL, CS_WV_REL, _Crop, compare_measured, wavelet_grid
from npgd.experiments.compare import test_images as read_test_images
from npgd.problems import coils, kspace, mri

__all__ = ["METHODS", "add_arguments", "evaluate_multicoil", "run", "sampling_mask"]

#: Methods besides the zero-filled SENSE-combined adjoint, in the order they run.
METHODS = ("CG-SENSE", "CS-WV", "CS-TV", "NPGD")
MASKS = ("vd", "radial", "lines")


def sampling_mask(shape: tuple[int, int], accel: float, family: str = "vd", *,
                  calib: int = 24, seed: int = 0) -> np.ndarray:
    """An ``(H, W)`` mask of ``family`` (``"vd"``: :func:`npgd.problems.mri.vd_mask`,
    ``"radial"``: :func:`~npgd.problems.mri.vd_radial_mask`, ``"lines"``:
    :func:`~npgd.problems.mri.line_mask`) whose centre ``calib`` x ``calib`` (``calib``
    whole lines for ``"lines"``) is fully sampled, as ESPIRiT needs. The radial mask gets the
    centre added, so its acceleration is a little below ``accel``
    (:func:`npgd.problems.mri.acceleration` tells).

    Examples
    --------
    >>> m = sampling_mask((64, 48), 4, "lines", calib=8, seed=0)
    >>> bool(m[:, 20:28].all()), round(float(m.mean()), 2)
    (True, 0.25)
    """
    if family not in MASKS:
        raise UsageError(f"mask: must be one of {', '.join(MASKS)}, got {family!r}")
    H, W = shape
    calib = check_int("sampling_mask", "calib", calib)
    if family == "vd":
        return mri.vd_mask(shape, accel, seed=seed, calib=min(calib, H, W))
    if family == "lines":
        return mri.line_mask(shape, accel, center_fraction=min(calib / W, 1.0), seed=seed)
    mask = mri.vd_radial_mask(shape, accel, seed=seed)
    h, w = min(calib, H), min(calib, W)
    mask[H // 2 - h // 2 : H // 2 - h // 2 + h, W // 2 - w // 2 : W // 2 - w // 2 + w] = True
    return mask


def _cs(maps: np.ndarray, mask: np.ndarray, y: np.ndarray, make_prox: Callable,
        wavelet_padding: bool, iters: int) -> np.ndarray:
    """FISTA per slice on the Sense operator (step 1/||A||^2, the solver's default), with
    ``make_prox(A, y_i, shape)`` giving the prior; a wavelet prior's unknown lives on the
    zero-padded 2^L grid of :func:`npgd.experiments.compare.wavelet_grid`."""
    shape = tuple(y.shape[-2:])
    padded = wavelet_grid(shape)[0] if wavelet_padding else shape
    out = []
    for i in range(len(y)):
        A = linops.Sense(maps[i], mask)
        if padded != shape:
            A = A @ _Crop(padded, shape)
        z = solvers.fista(A, make_prox(A, y[i], padded), y[i], iters=iters)
        out.append(crop_or_pad(z, shape))
    return np.stack(out)


def _npgd(net: Any, maps: np.ndarray, mask: np.ndarray, batch: int = 4) -> Callable:
    """The learned model through :func:`npgd.solvers.pgd` on the Sense operator: its
    proximal works in image space, its step is rescaled by :math:`1/\\|A\\|^2`."""
    import torch

    def run(A: linops.Sense, y: np.ndarray) -> np.ndarray:
        out = []
        with torch.no_grad():
            for i in range(0, len(y), batch):
                yk = torch.from_numpy(np.ascontiguousarray(y[i : i + batch]))
                Ak = linops.Sense(torch.from_numpy(maps[i : i + batch]), torch.from_numpy(mask))
                L = solvers.squared_norm(Ak, (len(yk),), like=yk)
                xk = solvers.pgd(Ak, net.prox, yk, iters=net.iters, step=net.step / L)
                out.append(xk.numpy())
        return np.concatenate(out)

    return run


def evaluate_multicoil(
    source: Any,
    accel: float = 5.0,
    mask: str = "vd",
    *,
    calib: int = 24,
    kernel: int = 6,
    methods: tuple[str, ...] = METHODS,
    iters: int = 100,
    cg_iters: int = 30,
    wv_rel: float = CS_WV_REL["db2"],
    tv_rel: float = CS_TV_REL,
    reference: str = "sense",
    net: Any = None,
    seed: int = 0,
    log: Callable[[str], Any] | None = None,
) -> dict:
    """Reconstruct undersampled multi-coil k-space with every method and score it.

    Parameters
    ----------
    source : array or path
        Fully sampled k-space ``(slices, coils, H, W)`` (or ``(coils, H, W)``), or a file
        :func:`npgd.problems.kspace.read_kspace` reads.
    accel, mask, calib, seed
        The sampling: :func:`sampling_mask` (one mask for all slices).
    kernel
        ESPIRiT kernel width (maps from the undersampled data's centre, ``calib`` wide).
    methods
        Any of :data:`METHODS`; the zero-filled SENSE-combined :math:`A^H y` always runs.
        ``"CG-SENSE"``: ``cg_iters`` conjugate gradients on :math:`A^H A x = A^H y`;
        ``"CS-WV"``/``"CS-TV"``: ``iters`` FISTA iterations with
        :class:`npgd.priors.L1Wavelet` (db2, cycle spinning) / :class:`npgd.priors.TV`,
        :math:`\\lambda` = ``wv_rel``/``tv_rel`` times :func:`npgd.solvers.lambda_max`;
        ``"NPGD"``: the learned model ``net`` (a model, or a shipped name for
        :func:`npgd.problems.pretrained`) through ``solvers.pgd(A, net.prox, y,
        iters=net.iters, step=net.step / ||A||^2)``.
    reference : {"sense", "rss"}
        Fully sampled SENSE-combined or root-sum-of-squares reference image.
    log : callable, optional
        Gets one table row per method as it finishes.

    Returns
    -------
    dict
        ``shape``, ``accel`` (measured), the settings, and ``rows``: per method mean
        ``snr`` (dB, on magnitudes), ``ssim``, ``s_per_slice`` and the per-slice values. The
        data are scaled per slice by the 99.9th percentile of the zero-filled magnitude (the
        learned model's training range); SNR and SSIM do not depend on the scale.

    Examples
    --------
    >>> from npgd.problems import data
    >>> k = coils.simulate_kspace(data.phantom((32, 28), seed=0)[None], 4)
    >>> out = evaluate_multicoil(k, 3, calib=12, kernel=4, methods=("CG-SENSE",), iters=5)
    >>> [r["method"] for r in out["rows"]], out["rows"][1]["snr"] > out["rows"][0]["snr"]
    (['zero-filled', 'CG-SENSE'], True)
    """
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise UsageError(f"methods: unknown {unknown}; expected some of {', '.join(METHODS)}")
    if reference not in ("sense", "rss"):
        raise UsageError(f"reference: must be 'sense' or 'rss', got {reference!r}")
    k = _kspace(source)
    shape = tuple(k.shape[-2:])
    m = sampling_mask(shape, accel, mask, calib=calib, seed=seed)
    y = k * m
    maps = coils.espirit(y, calib, kernel)
    A = linops.Sense(maps, m)
    full = linops.FFT2(shape).H(k)
    ref = coils.sense_combine(full, maps) if reference == "sense" else coils.rss(full)
    scale = np.percentile(np.abs(A.H(y)), 99.9, axis=(-2, -1))
    if not (scale > 0).all():
        raise DataError(f"slice {int(np.argmin(scale))}: nothing measured under the mask")
    y = (y / scale[:, None, None, None]).astype(np.complex64)
    ref = (ref / scale[:, None, None]).astype(np.complex64)
    runs: dict[str, Callable] = {}
    if "CG-SENSE" in methods:
        runs["CG-SENSE"] = lambda A, y: solvers.cg(A.N, A.H(y), iters=cg_iters)
    if "CS-WV" in methods:
        def wv(A_, y_i, padded):
            levels = wavelet_grid(shape)[1]
            W = linops.Wavelet(padded, "db2", levels)
            return priors.L1Wavelet(wv_rel * solvers.lambda_max(A_, y_i, W), padded, "db2",
                                    levels=levels, seed=0)
        runs["CS-WV"] = lambda A, y: _cs(maps, m, y, wv, True, iters)
    if "CS-TV" in methods:
        def tv(A_, y_i, padded):
            D = linops.FiniteDifference(padded)
            return priors.TV(tv_rel * solvers.lambda_max(A_, y_i, D), padded, iters=5)
        runs["CS-TV"] = lambda A, y: _cs(maps, m, y, tv, False, iters)
    if "NPGD" in methods:
        if net is None or isinstance(net, str):
            from npgd.problems import pretrained

            net = pretrained(net)
        runs["NPGD"] = _npgd(net, maps, m)
    rows, _ = compare_measured(ref, A, y, runs, log=log)
    return {"shape": list(k.shape), "accel": mri.acceleration(m), "mask": mask,
            "calib": calib, "kernel": kernel, "reference": reference, "iters": iters,
            "cg_iters": cg_iters, "rows": rows}


def _kspace(source: Any) -> np.ndarray:
    if isinstance(source, str | os.PathLike):
        return kspace.read_kspace(source)
    k = np.asarray(source)
    if k.ndim == 3:
        k = k[None]
    if k.ndim != 4:
        raise DataError(f"kspace: expected (slices, coils, H, W) or (coils, H, W), got shape "
                        f"{k.shape}")
    if not np.isfinite(k).all():
        raise DataError("kspace: NaN/Inf values; expected finite samples")
    return k.astype(np.complex64)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of the multi-coil evaluation (for ``npgd``'s parser).

    Examples
    --------
    >>> p = argparse.ArgumentParser()
    >>> add_arguments(p)
    >>> p.parse_args(["brain", "--simulate-coils", "8"]).simulate_coils
    8
    """
    p.add_argument("source", help="multi-coil k-space file (.h5 fastMRI or ISMRMRD, .cfl "
                   "BART); with --simulate-coils, any images npgd reads (NIfTI, DICOM, .npy, "
                   "a folder, or 'brain' for the embedded sample)")
    p.add_argument("--simulate-coils", type=int, default=None, metavar="C",
                   help="simulate C birdcage coils on the images of SOURCE")
    p.add_argument("--slices", type=int, default=None,
                   help="evaluate this many slices, evenly spread (default: all)")
    p.add_argument("--accel", type=float, default=5.0, help="acceleration (default: 5)")
    p.add_argument("--mask", choices=MASKS, default="vd", help="mask family (default: vd)")
    p.add_argument("--calib", type=int, default=24,
                   help="fully sampled centre for ESPIRiT (default: 24)")
    p.add_argument("--kernel", type=int, default=6, help="ESPIRiT kernel width (default: 6)")
    p.add_argument("--methods", default=",".join(METHODS),
                   help=f"comma-separated subset of {','.join(METHODS)} (default: all)")
    p.add_argument("--iters", type=int, default=100,
                   help="FISTA iterations of CS-WV and CS-TV (default: 100)")
    p.add_argument("--cg-iters", type=int, default=30, help="CG-SENSE iterations (default: 30)")
    p.add_argument("--reference", choices=("sense", "rss"), default="sense",
                   help="fully sampled reference: SENSE-combined or root-sum-of-squares")
    p.add_argument("--model", default=None, help="shipped model for NPGD (default: the "
                   "default model of npgd.problems.pretrained())")
    p.add_argument("--seed", type=int, default=0, help="mask seed (default: 0)")
    p.add_argument("--json", default=None, help="write the results here as JSON")


def run(args: argparse.Namespace, log: Callable[[str], Any] = print) -> int:
    """Run :func:`evaluate_multicoil` from parsed :func:`add_arguments` options: print the
    table, write ``--json``; returns the exit status (0).

    Examples
    --------
    >>> p = argparse.ArgumentParser()
    >>> add_arguments(p)
    >>> run(p.parse_args(["brain", "--simulate-coils", "4", "--slices", "1", "--calib", "16",
    ...                   "--methods", "CG-SENSE", "--cg-iters", "3"]), log=lambda s: None)
    0
    """
    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    if args.slices is not None:
        check_int("multicoil", "slices", args.slices)
    if args.simulate_coils is not None:
        ncoils = check_int("multicoil", "simulate-coils", args.simulate_coils)
        source: Any = coils.simulate_kspace(read_test_images(args.source, args.slices), ncoils)
        log(f"{source.shape[0]} slice(s) of {args.source} on {ncoils} simulated birdcage coils")
    else:
        source = kspace.read_kspace(args.source)
        if args.slices is not None and args.slices < len(source):
            pick = np.linspace(0, len(source) - 1, args.slices).round().astype(int)
            source = source[pick]
    t = time.perf_counter()
    result = evaluate_multicoil(
        source, args.accel, args.mask, calib=args.calib, kernel=args.kernel, methods=methods,
        iters=args.iters, cg_iters=args.cg_iters, reference=args.reference, net=args.model,
        seed=args.seed, log=log)
    log(f"{result['shape'][0]} slice(s), {result['shape'][1]} coils, "
        f"{result['shape'][2]}x{result['shape'][3]}, accel {result['accel']:.2f}, "
        f"{time.perf_counter() - t:.1f} s")
    if args.json:
        result["source"] = str(args.source)
        atomic_write(args.json, strict_json(result))
    return 0

