"""Multi-coil evaluation: zero-filled, CG-SENSE, CS-WV, CS-TV and the learned model on
multi-coil k-space, with ESPIRiT maps from the undersampled data.

The flow of a parallel-imaging reconstruction on a scanner: a k-space file
(:func:`npgd.problems.kspace.read_kspace`) or images turned into birdcage-coil k-space
(:func:`npgd.problems.coils.simulate_kspace`) is undersampled by a mask that keeps a fully
sampled ``calib`` x ``calib`` centre; ESPIRiT maps (:func:`npgd.problems.coils.espirit`) are
estimated from that centre; every method reconstructs through one
:class:`npgd.linops.Sense` operator. The reference is the fully sampled SENSE-combined image
(with the same maps: ESPIRiT reads only the centre, which the mask keeps) or the
root-sum-of-squares image.

:func:`evaluate_multicoil` is the Python entry point. On the command line this is
``npgd eval`` on multi-coil data (:func:`selected` tells when): ``--data scan.h5`` with a
fastMRI multi-coil or ISMRMRD file (found by its contents), ``--multicoil`` for any file
:func:`~npgd.problems.kspace.read_kspace` reads (BART ``.cfl`` included), or
``--simulate-coils C`` for images. :func:`add_arguments` adds the multi-coil options to the
``npgd eval`` parser of :func:`npgd.experiments.evaluate.add_arguments`, whose options
(``--accel``, ``--mask``, ``--slices``, ``--model``, ``--noise``, ``--out`` ...) keep their
meaning; :func:`run` does the work.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from npgd import linops, priors, solvers
from npgd._util import DataError, UsageError, check_int, crop_or_pad
from npgd.experiments import evaluate
from npgd.experiments.compare import CS_TV_REL, CS_WV_REL, compare_measured, wavelet_grid
from npgd.problems import coils, kspace, mri

__all__ = ["METHODS", "add_arguments", "evaluate_multicoil", "run", "sampling_mask",
           "selected", "sense_methods"]

#: Methods besides the zero-filled SENSE-combined adjoint, in the order they run.
METHODS = ("CG-SENSE", "CS-WV", "CS-TV", "NPGD")
MASKS = ("vd", "radial", "lines")
#: ``npgd eval`` options of the multi-coil evaluation alone (``dest`` names; default None
#: so that giving one on single-coil data is told apart from not giving it).
OPTIONS = {"acs": 24, "espirit_kernel": 6, "cg_iters": 30, "reference": "sense"}


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
    h, w = min(calib, H), min(calib, W)
    if (family == "vd" and h * w > round(H * W / accel)) or (family == "lines"
                                                             and w > W / accel):
        raise UsageError(f"calib: a fully sampled {h}x{w} centre is more than 1/{accel:g} of "
                         f"the {H}x{W} k-space; expected a smaller calib (--acs), a lower "
                         "acceleration or the radial mask")
    if family == "vd":
        return mri.vd_mask(shape, accel, seed=seed, calib=min(calib, H, W))
    if family == "lines":
        return mri.line_mask(shape, accel, center_fraction=min(calib / W, 1.0), seed=seed)
    mask = mri.vd_radial_mask(shape, accel, seed=seed)
    mask[H // 2 - h // 2 : H // 2 - h // 2 + h, W // 2 - w // 2 : W // 2 - w // 2 + w] = True
    return mask


def _parts(A: linops.Sense) -> tuple[np.ndarray, np.ndarray]:
    """The maps ``(N, C, H, W)`` or ``(C, H, W)`` and the mask ``(H, W)`` or ``(N, H, W)``
    of a Sense operator with a mask, as NumPy."""
    return A.maps.numpy(), A.fft.mask.numpy()[..., 0, :, :]


def _cs(maps: np.ndarray, mask: np.ndarray, y: np.ndarray, make_prox: Callable,
        wavelet_padding: bool, iters: int) -> np.ndarray:
    """FISTA per slice on the Sense operator (step 1/||A||^2, the solver's default), with
    ``make_prox(A, y_i, shape)`` giving the prior; a wavelet prior's unknown lives on the
    zero-padded 2^L grid of :func:`npgd.experiments.compare.wavelet_grid`. ``maps`` and
    ``mask`` may be one for all slices or one per slice."""
    shape = tuple(y.shape[-2:])
    padded = wavelet_grid(shape)[0] if wavelet_padding else shape
    out = []
    for i in range(len(y)):
        A = linops.Sense(maps[i] if maps.ndim == 4 else maps, mask[i] if mask.ndim == 3 else mask)
        if padded != shape:
            A = A @ linops.Crop(padded, shape)
        z = solvers.fista(A, make_prox(A, y[i], padded), y[i], iters=iters)
        out.append(crop_or_pad(z, shape))
    return np.stack(out)


def _npgd(net: Any, maps: np.ndarray, mask: np.ndarray, amp: bool = False,
          batch: int = 4) -> Callable:
    """The learned model through :func:`npgd.solvers.pgd` on the Sense operator, on the
    network's device: its proximal works in image space, its step is rescaled by
    :math:`1/\\|A\\|^2`."""
    import torch

    device = next(net.parameters()).device

    def run(A: linops.Sense, y: np.ndarray) -> np.ndarray:
        out = []
        m = torch.from_numpy(np.ascontiguousarray(mask)).to(device)
        with torch.no_grad(), torch.autocast(device.type, torch.bfloat16, enabled=amp):
            for i in range(0, len(y), batch):
                yk = torch.from_numpy(np.ascontiguousarray(y[i : i + batch])).to(device)
                mk = m[i : i + batch] if m.ndim == 3 else m
                Ak = linops.Sense(torch.from_numpy(maps[i : i + batch]).to(device), mk)
                L = solvers.squared_norm(Ak, (len(yk),), like=yk)
                xk = solvers.pgd(Ak, net.prox, yk, iters=net.iters, step=net.step / L)
                out.append(xk.cpu().numpy())
        return np.concatenate(out)

    return run


def sense_methods(net: Any = None, amp: bool = False) -> tuple[Callable | None, dict]:
    """The learned model (None without ``net``) and CS-WV / CS-TV as methods ``(A, y) -> x``
    on a :class:`~npgd.linops.Sense` operator with a mask, reading the maps and the mask
    from the operator they are given (so that they also run on a thinned one, as
    :func:`npgd.experiments.kcv.auto` needs): ``(model, {name: (f(A, y, rel=, iters=),
    default rel)})``, the candidates of ``npgd eval --auto`` on multi-coil data.

    Examples
    --------
    >>> from npgd.problems import data
    >>> k = coils.simulate_kspace(data.phantom((32, 28), seed=0)[None], 4)
    >>> m = sampling_mask((32, 28), 3, "vd", calib=12, seed=0)
    >>> A = linops.Sense(coils.espirit(k * m, 12, 4), m)
    >>> model, cs = sense_methods()
    >>> model is None, sorted(cs), cs["CS-TV"][0](A, k * m, rel=1e-3, iters=5).shape
    (True, ['CS-TV', 'CS-WV'], (1, 32, 28))
    """
    def wv(A: linops.Sense, y: np.ndarray, *, rel: float, iters: int) -> np.ndarray:
        shape = tuple(y.shape[-2:])
        padded, levels = wavelet_grid(shape)

        def prox(A_: Any, y_i: np.ndarray, grid: tuple[int, int]) -> Any:
            W = linops.Wavelet(grid, "db2", levels)
            return priors.L1Wavelet(rel * solvers.lambda_max(A_, y_i, W), grid, "db2",
                                    levels=levels, seed=0)
        return _cs(*_parts(A), y, prox, True, iters)

    def tv(A: linops.Sense, y: np.ndarray, *, rel: float, iters: int) -> np.ndarray:
        def prox(A_: Any, y_i: np.ndarray, grid: tuple[int, int]) -> Any:
            D = linops.FiniteDifference(grid)
            return priors.TV(rel * solvers.lambda_max(A_, y_i, D), grid, iters=5)
        return _cs(*_parts(A), y, prox, False, iters)

    model = None
    if net is not None:
        def model(A: linops.Sense, y: np.ndarray) -> np.ndarray:
            maps, mask = _parts(A)
            return _npgd(net, maps if maps.ndim == 4 else np.broadcast_to(
                maps, (len(y), *maps.shape)), mask, amp)(A, y)
    return model, {"CS-WV": (wv, CS_WV_REL["db2"]), "CS-TV": (tv, CS_TV_REL)}


def _noisy(k: np.ndarray, mask: np.ndarray, noise_db: float | None, noise_std: float,
           seed: int) -> np.ndarray:
    """``mask * (k + v)``, :math:`v \\sim \\mathcal{CN}(0, \\sigma_i^2)` per slice."""
    if noise_db is not None and noise_std:
        raise UsageError("noise: give an SNR in dB or a std, not both")
    if (isinstance(noise_std, bool) or not isinstance(noise_std, int | float)
            or not (math.isfinite(noise_std) and noise_std >= 0)):
        raise UsageError(f"noise-std: must be a finite number >= 0, got {noise_std!r}")
    y = k * mask
    if noise_db is None and not noise_std:
        return y
    # The SNR over all coils' fully sampled k-space of a slice: (S, C, H, W) seen as
    # (S, C*H, W) makes noise_std_for's per-image rms the rms over every coil.
    std = (evaluate.noise_std_for(k.reshape(len(k), -1, k.shape[-1]), noise_db)
           if noise_db is not None else np.full(len(k), float(noise_std)))
    rng = np.random.default_rng(seed)
    v = rng.standard_normal(k.shape + (2,)).view(np.complex128)[..., 0]
    return (y + mask * v * (std[:, None, None, None] / math.sqrt(2))).astype(np.complex64)


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
    name: str = "NPGD",
    amp: bool = False,
    noise_db: float | None = None,
    noise_std: float = 0.0,
    seed: int = 0,
    log: Callable[[str], Any] | None = None,
    extra: dict[str, Callable] | None = None,
) -> tuple[dict, np.ndarray, dict[str, np.ndarray]]:
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
        iters=net.iters, step=net.step / ||A||^2)`` on its device (bf16 autocast with
        ``amp``), reported as ``name``.
    reference : {"sense", "rss"}
        Fully sampled SENSE-combined or root-sum-of-squares reference image.
    noise_db, noise_std
        Complex Gaussian noise added to the sampled k-space, :math:`y = M \\odot (k + v)`:
        an SNR in dB over all coils' fully sampled k-space of a slice
        (:func:`npgd.problems.mri.noise_std_for`), or one absolute std; the reference stays
        noiseless.
    log : callable, optional
        Gets one table row per method as it finishes.
    extra : dict, optional
        More methods ``name -> f(A, y)``, run after the others on the same Sense operator
        and scaled data (e.g. :func:`npgd.train.adapt.adapted`, the model adapted to these
        measurements; ``npgd eval --adapt``).

    Returns
    -------
    result : dict
        ``shape``, ``accel`` (measured), the settings, and ``methods``: per method the mean
        ``snr`` (dB, on magnitudes) and ``ssim``, ``s_per_slice`` and per-slice
        ``snr_per_slice``/``ssim_per_slice`` (:func:`npgd.experiments.evaluate.scores`), as
        ``npgd eval`` writes them; with a CS method, ``minus_best_cs_db`` (every other
        method's margin, :func:`npgd.experiments.evaluate.cs_margins`) and
        ``npgd_minus_best_cs_db`` for the model.
        The data are scaled per slice by the 99.9th percentile of the zero-filled magnitude
        (the learned model's training range); SNR and SSIM do not depend on the scale.
    reference : ndarray
        The reference images ``(slices, H, W)`` on that scale.
    recons : dict
        Each method's reconstructions.

    Examples
    --------
    >>> from npgd.problems import data
    >>> k = coils.simulate_kspace(data.phantom((32, 28), seed=0)[None], 4)
    >>> out, ref, _ = evaluate_multicoil(k, 3, calib=12, kernel=4, methods=("CG-SENSE",))
    >>> [r["method"] for r in out["methods"]], ref.shape
    (['zero-filled', 'CG-SENSE'], (1, 32, 28))
    >>> out["methods"][1]["snr"] > out["methods"][0]["snr"]
    True
    """
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise UsageError(f"methods: unknown {unknown}; expected some of {', '.join(METHODS)}")
    if reference not in ("sense", "rss"):
        raise UsageError(f"reference: must be 'sense' or 'rss', got {reference!r}")
    k = _kspace(source)
    shape = tuple(k.shape[-2:])
    m = sampling_mask(shape, accel, mask, calib=calib, seed=seed)
    y = _noisy(k, m, noise_db, noise_std, seed)
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
    if "NPGD" in methods and (net is None or isinstance(net, str)):
        from npgd.problems import pretrained

        net = pretrained(net, task="mri")
    model, cs = sense_methods(net if "NPGD" in methods else None, amp)
    for key, rel in (("CS-WV", wv_rel), ("CS-TV", tv_rel)):
        if key in methods:
            runs[key] = (lambda f, r: lambda A, y: f(A, y, rel=r, iters=iters))(cs[key][0], rel)
    if model is not None:
        runs[name] = model
    for key, method in (extra or {}).items():
        if key in runs or key == "zero-filled":
            raise UsageError(f"extra: method name {key!r} is taken; expected another name")
        runs[key] = method
    rows, recons = compare_measured(ref, A, y, runs, log=log)
    result = {"shape": list(k.shape), "accel": mri.acceleration(m), "mask": mask,
              "calib": calib, "kernel": kernel, "reference": reference, "iters": iters,
              "cg_iters": cg_iters, "noise_db": noise_db, "noise_std": noise_std, "seed": seed,
              "methods": [{"method": r["method"], "snr": r["snr"], "ssim": r["ssim"],
                           "s_per_slice": r["s_per_slice"],
                           "snr_per_slice": evaluate.scores(r["snr_all"]),
                           "ssim_per_slice": evaluate.scores(r["ssim_all"])} for r in rows]}
    result.update(evaluate.cs_margins(rows, name if "NPGD" in methods else None))
    return result, ref, recons


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


# ---------------------------------------------------------------------------------------
# command line: npgd eval on multi-coil data


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The multi-coil options of ``npgd eval``, added to a parser that has the options of
    :func:`npgd.experiments.evaluate.add_arguments`.

    Examples
    --------
    >>> p = argparse.ArgumentParser()
    >>> evaluate.add_arguments(p); add_arguments(p)
    >>> a = p.parse_args(["--simulate-coils", "8", "--acs", "16"])
    >>> a.simulate_coils, a.acs, a.espirit_kernel
    (8, 16, None)
    """
    g = p.add_argument_group(
        "multi-coil data", "SENSE with ESPIRiT maps; on for a fastMRI multi-coil or ISMRMRD "
        ".h5 given as --data (found by its contents), with --multicoil or --simulate-coils")
    mode = g.add_mutually_exclusive_group()
    mode.add_argument("--multicoil", action="store_true",
                      help="read --data as multi-coil k-space (.h5 fastMRI or ISMRMRD, .mrd, "
                      "BART .cfl/.hdr with coils on dim 3)")
    mode.add_argument("--simulate-coils", type=int, default=None, metavar="C",
                      help="turn the images of --data into the k-space of C simulated "
                      "birdcage coils")
    g.add_argument("--acs", type=int, default=None, metavar="N",
                   help="fully sampled NxN k-space centre that every mask keeps and ESPIRiT "
                   f"calibrates on (default {OPTIONS['acs']})")
    g.add_argument("--espirit-kernel", type=int, default=None, metavar="K",
                   help=f"ESPIRiT kernel width (default {OPTIONS['espirit_kernel']})")
    g.add_argument("--cg-iters", type=int, default=None,
                   help=f"CG-SENSE iterations (default {OPTIONS['cg_iters']})")
    g.add_argument("--reference", choices=("sense", "rss"), default=None,
                   help="fully sampled reference: SENSE-combined with the ESPIRiT maps "
                   "(default) or root-sum-of-squares")


def selected(args: argparse.Namespace) -> bool:
    """Whether ``npgd eval`` with ``args`` evaluates multi-coil data: ``--multicoil``,
    ``--simulate-coils``, or a ``--data`` file that
    :func:`npgd.problems.kspace.is_multicoil` recognises. A multi-coil option on single-coil
    data is a UsageError.

    Examples
    --------
    >>> p = argparse.ArgumentParser()
    >>> evaluate.add_arguments(p); add_arguments(p)
    >>> selected(p.parse_args([])), selected(p.parse_args(["--simulate-coils", "4"]))
    (False, True)
    >>> selected(p.parse_args(["--acs", "16"]))
    Traceback (most recent call last):
    ...
    npgd._util.UsageError: --acs: only for multi-coil data (a multi-coil .h5 file, \
--multicoil or --simulate-coils)
    """
    if args.multicoil or args.simulate_coils is not None or kspace.is_multicoil(args.data):
        return True
    for dest in OPTIONS:
        if getattr(args, dest) is not None:
            raise UsageError(f"--{dest.replace('_', '-')}: only for multi-coil data (a "
                             "multi-coil .h5 file, --multicoil or --simulate-coils)")
    return False


def _check_args(args: argparse.Namespace) -> None:
    """The multi-coil checks on top of :func:`npgd.experiments.evaluate.check_args`, before
    any work; fills in the defaults of :data:`OPTIONS`."""
    evaluate.check_args(args)
    if getattr(args, "sweep", False):
        raise UsageError("--sweep: not available for multi-coil data; expected a single-coil "
                         "evaluation")
    if args.tune:
        raise UsageError("--tune: not available for multi-coil data (the CS weights are the "
                         "single-coil defaults); expected no --tune")
    if args.simulate_coils is None:
        defaults = argparse.ArgumentParser()
        evaluate.add_arguments(defaults)
        for dest in ("axis", "magnitude", "phase", "min_fraction"):
            if getattr(args, dest) != defaults.get_default(dest):
                raise UsageError(f"--{dest.replace('_', '-')}: only for images; a k-space "
                                 "file has no such choice (with --simulate-coils it applies)")
    for dest, default in OPTIONS.items():
        if getattr(args, dest) is None:
            setattr(args, dest, default)
    for dest, low in (("simulate_coils", 1), ("acs", 2), ("espirit_kernel", 1),
                      ("cg_iters", 1)):
        v = getattr(args, dest)
        if v is not None and v < low:
            raise UsageError(f"--{dest.replace('_', '-')}: must be an int >= {low}, got {v!r}")
    if args.espirit_kernel > args.acs:
        raise UsageError(f"--espirit-kernel: must be at most --acs ({args.acs}), got "
                         f"{args.espirit_kernel}")


def _load_kspace(args: argparse.Namespace, log: Callable[[str], Any]) -> np.ndarray:
    if args.simulate_coils is not None:
        x = evaluate.load_images(args, log)
        log(f"{len(x)} image(s) on {args.simulate_coils} simulated birdcage coils")
        return coils.simulate_kspace(x, args.simulate_coils)
    k = kspace.read_kspace(args.data)
    log(f"{args.data}: multi-coil k-space, {k.shape[0]} slice(s), {k.shape[1]} coils, "
        f"{k.shape[2]}x{k.shape[3]}")
    if args.slices is not None and args.slices < len(k):
        k = k[np.linspace(0, len(k) - 1, args.slices).round().astype(int)]
    return k


def run(args: argparse.Namespace, log: Callable[[str], Any] = print,
        adapter: Callable[[Any, argparse.Namespace], Callable] | None = None) -> int:
    """``npgd eval`` on multi-coil data: check the options, read or simulate the k-space,
    run :func:`evaluate_multicoil` (``--no-classic`` leaves out CG-SENSE, CS-WV and CS-TV;
    the model of ``--model``/``--checkpoint`` always runs), print the table and write
    ``results.json`` and ``comparison.png`` into ``--out``
    (:func:`npgd.experiments.evaluate.write_results`). With ``--adapt``, ``adapter(net,
    args)`` gives the method of the model adapted to the measured k-space (the command line
    passes :func:`npgd.train.adapt.adapted`; it runs on the Sense operator with the ESPIRiT
    maps). Returns the exit status (0); errors are UsageError/DataError with one line.

    Examples
    --------
    >>> import tempfile
    >>> p = argparse.ArgumentParser()
    >>> evaluate.add_arguments(p); add_arguments(p)
    >>> a = p.parse_args(["--simulate-coils", "4", "--slices", "1", "--acs", "16",
    ...                   "--no-classic", "--no-figure", "--out", tempfile.mkdtemp()])
    >>> run(a, log=lambda s: None)
    0
    """
    _check_args(args)
    if args.adapt and adapter is None:
        raise UsageError("--adapt: no adapter given (run it as `npgd eval --adapt ...`)")
    out = evaluate.check_out(args.out)
    k = _load_kspace(args, log)
    net, name = evaluate.load_net(args)
    noise = (f"{args.noise:g} dB k-space SNR" if args.noise is not None
             else f"noise std {args.noise_std:g}" if args.noise_std else "noiseless")
    log(f"{args.accel:g}x {args.mask} mask with a {args.acs}x{args.acs} fully sampled centre "
        f"(seed {args.seed}), {noise}; ESPIRiT kernel {args.espirit_kernel}; "
        + ("" if args.no_classic else f"CG-SENSE {args.cg_iters} iterations, CS: FISTA "
           f"{args.cs_iters} iterations; ") + f"{name}: {net.iters} unrolled iterations")
    methods = ("NPGD",) if args.no_classic else METHODS
    extra = {f"{name}, adapted": adapter(net, args)} if args.adapt else {}
    if getattr(args, "auto", False):
        from npgd.experiments.kcv import UNIT_OF_FAMILY, auto

        model, cs = sense_methods(net, args.amp)
        extra[evaluate.AUTO] = auto(net, name=name, cs_iters=args.cs_iters,
                                    points=args.grid_points, seed=args.seed,
                                    unit=UNIT_OF_FAMILY[args.mask], model=model, cs=cs,
                                    log=log)
    t = time.perf_counter()
    result, ref, recons = evaluate_multicoil(
        k, args.accel, args.mask, calib=args.acs, kernel=args.espirit_kernel, methods=methods,
        iters=args.cs_iters, cg_iters=args.cg_iters, reference=args.reference, net=net,
        name=name, amp=args.amp, noise_db=args.noise, noise_std=args.noise_std,
        seed=args.seed, log=log, extra=extra)
    result["source"] = str(args.data)
    result["simulated_coils"] = args.simulate_coils
    if args.adapt:
        evaluate.record_adaptation(result, extra[f"{name}, adapted"], args, log)
    if evaluate.AUTO in extra:
        result["auto"] = extra[evaluate.AUTO].choice
    log(f"{result['shape'][0]} slice(s), {result['shape'][1]} coils, "
        f"{result['shape'][2]}x{result['shape'][3]}, accel {result['accel']:.2f}, "
        f"{time.perf_counter() - t:.1f} s")
    paths = evaluate.write_results(out, result, None if args.no_figure else ref, recons)
    evaluate.log_margins(result, log)
    log("wrote " + ", ".join(str(p) for p in paths))
    return 0
