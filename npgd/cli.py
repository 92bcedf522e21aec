"""The ``npgd`` console script: ``npgd demo``, ``npgd eval``, ``npgd train``.

A thin front end: the options of ``train`` are the fields of
:class:`npgd.train.TrainConfig` (their types and help texts), the work is done by
:mod:`npgd.train` and :mod:`npgd.experiments`. Every error ends the command with one line,
``npgd: error: <what>, <what was expected>``, on stderr and exit status 2 for a usage error
(a bad option or value), 1 for a data error (a missing, damaged or unusable file or image);
``--debug`` shows the traceback instead. An interrupted training run saves ``last.pt``,
says how to resume, and exits with 128 + the signal number (130 for Ctrl-C).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import types
import typing
from pathlib import Path
from typing import Any

import numpy as np

from npgd._util import UsageError, check_int, check_positive_float, keep_freed_memory, strict_json

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are :class:`UsageError` (one line, exit 2, by main)."""

    def error(self, message: str) -> typing.NoReturn:
        raise UsageError(f"{self.prog}: {message}")


# --------------------------------------------------------------------------------------------
# demo (eval is npgd.experiments.evaluate)


def _methods(args: argparse.Namespace, net: Any, name: str) -> dict:
    from npgd import experiments as ex

    methods = {}
    if not args.no_classic:
        methods["CS-WV (db2)"] = lambda A, y: ex.cs_wv(A, y, wavelet="db2", iters=args.cs_iters)
        methods["CS-TV"] = lambda A, y: ex.cs_tv(A, y, iters=args.cs_iters)
    methods[name] = ex.neural(net, amp=args.amp)
    return methods


def _load_net(args: argparse.Namespace) -> tuple[Any, str]:
    from npgd.models import load_model, pretrained
    from npgd.models.zoo import DEFAULT_MODEL

    dev = args.device or "cpu"
    if args.checkpoint:
        return load_model(args.checkpoint, dev, task="mri"), f"NPGD ({Path(args.checkpoint).name})"
    name = args.model or DEFAULT_MODEL
    return pretrained(name, dev, task="mri"), f"NPGD ({name})"


def _check_demo_args(args: argparse.Namespace) -> None:
    if args.slices is not None:
        check_int("npgd", "--slices", args.slices, 1)
    if check_positive_float("npgd", "--accel", args.accel) < 1:
        raise ValueError(f"npgd: --accel must be a finite real number >= 1, got {args.accel!r}")
    check_positive_float("npgd", "--noise", args.noise, allow_zero=True)
    check_int("npgd", "--seed", args.seed, 0)
    check_int("npgd", "--cs-iters", args.cs_iters, 1)
    if args.threads is not None:
        check_int("npgd", "--threads", args.threads, 1)


def _demo(args: argparse.Namespace) -> int:
    import torch

    from npgd import experiments as ex
    from npgd.problems import mri

    try:
        _check_demo_args(args)
    except (TypeError, ValueError) as e:
        raise UsageError(str(e)) from None
    from npgd.train.rundir import writable_folder

    out = writable_folder(args.out)
    if args.threads:
        torch.set_num_threads(args.threads)
    net, name = _load_net(args)
    source = "builtin:brain"
    x = ex.test_images(source, args.slices)
    masks = np.stack([mri.vd_mask(x.shape[1:], args.accel, seed=args.seed + i)
                      for i in range(len(x))])
    print(f"{len(x)} test slices {x.shape[1:]} from {source!r}, {args.accel:g}x variable-density "
          f"masks (random seeds {args.seed}..{args.seed + len(x) - 1}), noise std {args.noise:g}; "
          f"CS: FISTA {args.cs_iters} iterations; {name}: {net.iters} unrolled iterations",
          flush=True)
    rows, recons = ex.compare(x, masks, _methods(args, net, name), noise_std=args.noise,
                              seed=args.seed, log=lambda s: print(s, flush=True))
    median = int(np.argsort(rows[-1]["snr_all"])[len(x) // 2])  # NPGD's median slice
    fig = ex.figure(out / "comparison.png", x, recons, index=median)
    table = [{k: v for k, v in r.items() if not k.endswith("_all")} for r in rows]
    (out / "results.json").write_text(strict_json(
        {"slices": len(x), "source": source, "accel": args.accel, "noise_std": args.noise,
         "rows": table}))
    classic = rows[1:-1]
    if classic:
        top = max(classic, key=lambda r: r["snr"])
        ratio = top["s_per_slice"] / rows[-1]["s_per_slice"]
        speed = f"{ratio:.1f}x faster" if ratio >= 1 else f"{1 / ratio:.1f}x slower"
        print(f"\n{name} vs the best classic method ({top['method']}): "
              f"{rows[-1]['snr'] - top['snr']:+.2f} dB SNR, "
              f"{rows[-1]['ssim'] - top['ssim']:+.3f} SSIM, {speed}")
    print(f"figure (NPGD's median slice): {fig}\ntable: {out / 'results.json'}")
    return 0


def _add_demo_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None, help="shipped model name (default: the default "
                   "model, mri-general; mri-brain-5x is the brain-template model)")
    p.add_argument("--checkpoint", help="a model.pt/last.pt from npgd train (instead of --model)")
    p.add_argument("--slices", type=int, default=16,
                   help="number of test slices, evenly spread (default: %(default)s)")
    p.add_argument("--accel", type=float, default=5.0,
                   help="undersampling factor of the variable-density masks (default: "
                   "%(default)s)")
    p.add_argument("--noise", type=float, default=0.0,
                   help="standard deviation of complex k-space noise (default: %(default)s)")
    p.add_argument("--seed", type=int, default=1000,
                   help="seed of the first slice's mask (default: %(default)s)")
    p.add_argument("--cs-iters", type=int, default=300,
                   help="FISTA iterations of CS-WV and CS-TV (default: %(default)s)")
    p.add_argument("--no-classic", action="store_true", help="skip CS-WV and CS-TV")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--device", default=None, help="torch device of the network (default: cpu)")
    p.add_argument("--amp", action="store_true",
                   help="run the network under bf16 autocast (GPUs, CPUs with native bf16)")
    p.add_argument("--out", default="npgd-demo",
                   help="folder for comparison.png and results.json (default: %(default)s)")


# --------------------------------------------------------------------------------------------
# train


def _train(args: argparse.Namespace) -> int:
    from npgd.train import TrainConfig, loop

    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)
             if getattr(args, f.name) is not None}
    if args.resume:
        cfg = loop.resume_config(args.out, given)
    else:
        cfg = TrainConfig(**given)
    net = loop.train(cfg, args.out, resume=args.resume, overwrite=args.overwrite,
                     device=args.device, workers=args.workers)
    if os.environ.get("RANK", "0") == "0":
        print(f"done: {args.out}/model.pt (best validation), {args.out}/last.pt; "
              f"learned step {net.step.item():.4f}")
    return 0


def _option(field: dataclasses.Field) -> tuple[str, dict]:
    """The flag and ``add_argument`` keywords of a :class:`TrainConfig` field, from its type
    (``bool``, ``int``, ``float``, ``str``, a fixed-length tuple, each optionally ``| None``)
    and its ``metadata`` (``help``, and ``choices``/``metavar`` where given)."""
    kind = field.type
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        kind = next(a for a in typing.get_args(kind) if a is not type(None))
    meta = field.metadata
    # a None default depends on other fields (the help says how), so it is not printed
    default = "" if field.default is None else f" (default: {field.default})"
    kw: dict[str, Any] = {"default": None, "help": f"{meta['help']}{default}"}
    if kind is bool:
        kw["action"] = argparse.BooleanOptionalAction
    elif typing.get_origin(kind) is tuple:
        items = typing.get_args(kind)
        kw |= {"type": items[0], "nargs": "+" if items[-1] is Ellipsis else len(items)}
    elif kind in (int, float, str):
        kw["type"] = kind
    else:
        raise TypeError(f"TrainConfig.{field.name}: no command-line form for {kind!r}")
    kw |= {k: meta[k] for k in ("choices", "metavar") if k in meta}
    return "--" + field.name.replace("_", "-"), kw


# --------------------------------------------------------------------------------------------
# the parser and the entry point


def _parser() -> argparse.ArgumentParser:
    from npgd.experiments import contraction, evaluate, multicoil, sweep
    from npgd.train.config import TrainConfig

    debug = {"action": "store_true",
             "help": "show the full traceback of an error instead of one line"}
    p = _Parser(prog="npgd", description="Neural proximal gradient descent.")
    p.add_argument("--debug", **debug)
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    d = sub.add_parser("demo", help="zero-filled vs CS-WV vs CS-TV vs the shipped NPGD on the "
                       "embedded brain test slices at 5x: table and figure")
    _add_demo_args(d)
    e = sub.add_parser("eval", help="zero-filled, CS and a model on any images (NIfTI, DICOM, "
                       ".npy, fastMRI, BART, pictures) with any masks and noise, or on "
                       "multi-coil k-space (fastMRI, ISMRMRD, BART; simulated coils on "
                       "images) with CG-SENSE too, or (--task sr) bicubic, TV and a "
                       "super-resolution model: table and figure")
    evaluate.add_arguments(e)
    multicoil.add_arguments(e)
    sweep.add_sweep_arguments(e)
    c = sub.add_parser("contraction", help="eta1/eta2 of eq. 11-14 per iteration, NRMSE "
                       "and de-biasing (Remark 1) of an MRI model: table and figure")
    contraction.add_arguments(c)
    t = sub.add_parser("train", help="train a NeuralPGD with (P2); torchrun for DDP")
    t.add_argument("--out", default="npgd-train", help="run folder (default: %(default)s)")
    mode = t.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true",
                      help="continue OUT/last.pt with its stored settings (only --steps may "
                      "change); a fresh run when OUT holds no run yet")
    mode.add_argument("--overwrite", action="store_true",
                      help="replace the run in OUT (its last.pt, model.pt, history.json)")
    t.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: auto)")
    t.add_argument("--workers", type=int, default=0, metavar="N",
                   help="processes that draw the training batches of the coming steps "
                   "while the network trains (default 0: drawn in the training process); "
                   "the batches and the trained weights are the same either way. On a GPU "
                   "the randomized samples of --data mix take longer to draw on one core "
                   "than the step (about 0.6 s for 16 samples); not stored, may change on "
                   "--resume")
    for f in dataclasses.fields(TrainConfig):
        flag, kw = _option(f)
        t.add_argument(flag, **kw)
    for s in (d, e, c, t):
        s.add_argument("--debug", **(debug | {"default": argparse.SUPPRESS}))
    return p


def _one_line(e: BaseException) -> str:
    msg = " ".join(str(e).split()) or type(e).__name__
    return msg[len("npgd: "):] if msg.startswith("npgd: ") else msg


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``npgd`` console script; returns the exit status.

    ``npgd demo`` compares zero-filled, CS-WV, CS-TV and the shipped model on the embedded
    test slices; ``npgd eval`` does the same for a checkpoint and data of your own (images,
    or multi-coil k-space: :mod:`npgd.experiments.multicoil`);
    ``npgd train`` trains (every :class:`~npgd.train.TrainConfig` field is a flag, with its
    help). ``argv`` defaults to the command line. Exit status: 0 done, 1 a data error,
    2 a usage error, 128 + the signal number for an interrupted run (130 Ctrl-C).

    Examples
    --------
    >>> main(["train", "--steps", "0"])  # stderr: npgd: error: TrainConfig: steps must be ...
    2

    From a shell::

        npgd demo --slices 8 --out demo
        npgd eval --checkpoint run/model.pt --data /data/brains/ --out eval
        npgd eval --data file_brain_AXT2_200_2000019.h5 --slices 4 --out eval-multicoil
        npgd eval --data builtin:brain --simulate-coils 8 --slices 4 --out eval-8-coils
        npgd eval --task sr --factor 2 --data photo.png --out eval-sr
        npgd train --out run --features 48 --steps 1200 --lr 1e-3 --lr-halve-every 400
        torchrun --nproc-per-node 4 -m npgd.cli train --out run --resume
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    keep_freed_memory()  # no page faults for each layer's fresh activations (docs/benchmarks)
    debug = "--debug" in argv
    try:
        args = _parser().parse_args(argv)
        if args.command == "train":
            return _train(args)
        if args.command == "contraction":
            from npgd.experiments import contraction

            return contraction.run(args)
        if args.command == "eval":
            from npgd.experiments import evaluate, multicoil, sweep

            def adapter(net: Any, a: argparse.Namespace) -> Any:
                from npgd.train.adapt import adapted

                return adapted(net, steps=a.adapt, lr=a.adapt_lr, seed=a.seed)

            if args.task == "sr":
                from npgd.experiments import sr_eval

                return sr_eval.run(args, defaults=_parser().parse_args(["eval"]))
            if multicoil.selected(args):
                return multicoil.run(args, adapter=adapter)
            if args.sweep:
                return sweep.run(args)
            return evaluate.run(args, adapter=adapter)
        return _demo(args)
    except SystemExit:
        raise
    except BaseException as e:
        if debug:
            raise
        return _report(e)


def _report(e: BaseException) -> int:
    """One line on stderr for ``e`` and the exit status it stands for."""
    from npgd._util import DataError

    interrupted = getattr(e, "signum", None)
    if interrupted is not None:
        print(f"npgd: {_one_line(e)}", file=sys.stderr)
        return 128 + interrupted
    if isinstance(e, KeyboardInterrupt):
        print("npgd: interrupted", file=sys.stderr)
        return 130
    if isinstance(e, UsageError):
        status = 2
    elif isinstance(e, DataError | ValueError | OSError | TypeError | FloatingPointError
                    | ImportError):
        status = 1
    else:
        print(f"npgd: error: {type(e).__name__}: {_one_line(e)} (an internal error; run with "
              "--debug for the traceback and report it)", file=sys.stderr)
        return 1
    print(f"npgd: error: {_one_line(e)}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
