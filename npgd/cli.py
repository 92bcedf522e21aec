"""The ``npgd`` console script: ``npgd demo``, ``npgd eval``, ``npgd train``."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["main"]


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

    dev = args.device or "cpu"
    if args.checkpoint:
        return load_model(args.checkpoint, dev), f"NPGD ({Path(args.checkpoint).name})"
    return pretrained(args.model, dev), f"NPGD ({args.model})"


def _run(args: argparse.Namespace, source: str) -> int:
    import torch

    from npgd import experiments as ex
    from npgd.problems import mri

    if args.threads:
        torch.set_num_threads(args.threads)
    net, name = _load_net(args)
    x = ex.test_images(source, args.slices)
    masks = np.stack([mri.vd_mask(x.shape[1:], args.accel, seed=args.seed + i)
                      for i in range(len(x))])
    print(f"{len(x)} test slices {x.shape[1:]} from {source!r}, {args.accel:g}x variable-density "
          f"masks (seeds {args.seed}..{args.seed + len(x) - 1}), noise std {args.noise:g}; "
          f"CS: FISTA {args.cs_iters} iterations; {name}: {net.iters} unrolled iterations",
          flush=True)
    rows, recons = ex.compare(x, masks, _methods(args, net, name), noise_std=args.noise,
                              seed=args.seed, log=lambda s: print(s, flush=True))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    best = int(np.argsort(rows[-1]["snr_all"])[len(x) // 2])  # the median slice for NPGD
    fig = ex.figure(out / "comparison.png", x, recons, index=best)
    table = [{k: v for k, v in r.items() if not k.endswith("_all")} for r in rows]
    (out / "results.json").write_text(json.dumps(
        {"slices": len(x), "source": source, "accel": args.accel, "noise_std": args.noise,
         "rows": table}, indent=1))
    classic = rows[1:-1]
    if classic:
        top = max(classic, key=lambda r: r["snr"])
        print(f"\n{name} vs the best classic method ({top['method']}): "
              f"{rows[-1]['snr'] - top['snr']:+.2f} dB SNR, "
              f"{rows[-1]['ssim'] - top['ssim']:+.3f} SSIM, "
              f"{top['s_per_slice'] / rows[-1]['s_per_slice']:.0f}x faster")
    print(f"figure (median slice for NPGD): {fig}\ntable: {out / 'results.json'}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from npgd.train import TrainConfig, train

    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    cfg = TrainConfig(**{k: v for k, v in vars(args).items()
                                  if k in fields and v is not None})
    net = train(cfg, args.out, resume=args.resume, device=args.device)
    if os.environ.get("RANK", "0") == "0":
        print(f"done: {args.out}/model.pt (best validation), {args.out}/last.pt; "
              f"learned step {net.step.item():.4f}")
    return 0


def _add_eval_args(p: argparse.ArgumentParser, slices: int | None, out: str) -> None:
    p.add_argument("--model", default="mri-brain-5x", help="shipped model name")
    p.add_argument("--checkpoint", help="a model.pt/last.pt from npgd train (instead of --model)")
    p.add_argument("--slices", type=int, default=slices, help="number of test slices")
    p.add_argument("--accel", type=float, default=5.0)
    p.add_argument("--noise", type=float, default=0.0, help="k-space noise std")
    p.add_argument("--seed", type=int, default=1000, help="seed of the first slice's mask")
    p.add_argument("--cs-iters", type=int, default=300, help="FISTA iterations for CS")
    p.add_argument("--no-classic", action="store_true", help="skip CS-WV and CS-TV")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--device", default=None, help="torch device of the network (default cpu)")
    p.add_argument("--amp", action="store_true",
                   help="run the network under bf16 autocast (GPUs, CPUs with native bf16)")
    p.add_argument("--out", default=out, help="folder for comparison.png and results.json")


def _parser() -> argparse.ArgumentParser:
    from npgd.train import TrainConfig

    p = argparse.ArgumentParser(prog="npgd", description="Neural proximal gradient descent.")
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="zero-filled vs CS-WV vs CS-TV vs the shipped NPGD on the "
                       "embedded brain test slices at 5x: table and figure")
    _add_eval_args(d, 16, "npgd-demo")
    e = sub.add_parser("eval", help="the same comparison for any model and data")
    e.add_argument("--data", default="brain",
                   help="'brain' (embedded test slices), a NIfTI file/folder or fastMRI folder")
    _add_eval_args(e, None, "npgd-eval")
    t = sub.add_parser("train", help="train a NeuralPGD with (P2); torchrun for DDP")
    t.add_argument("--out", default="npgd-train", help="checkpoint folder")
    t.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    t.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: auto)")
    for f in dataclasses.fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        if f.type in ("bool", bool):
            t.add_argument(flag, action=argparse.BooleanOptionalAction, default=None,
                           help=f"(default {f.default})")
        elif f.name == "init":
            t.add_argument(flag, default=None, metavar="CHECKPOINT|MODEL",
                           help="start from these weights (a model.pt/last.pt or a shipped "
                           "model name; same architecture, or a shared-weights one to untie "
                           "with --no-shared), with a fresh optimizer")
        elif f.name == "shape":
            t.add_argument(flag, type=int, nargs=2, default=None, metavar=("H", "W"),
                           help="crop/pad training images to H W (default: as read)")
        else:
            kind = {"int": int, "float": float, "str": str}[str(f.type)]
            t.add_argument(flag, type=kind, default=None, help=f"(default {f.default})")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``npgd`` console script.

    ``npgd demo`` compares zero-filled, CS-WV, CS-TV and the shipped model on the embedded
    test slices; ``npgd eval`` does the same for a checkpoint and data of your own;
    ``npgd train`` trains (every :class:`~npgd.train.TrainConfig` field is a
    flag). ``argv`` defaults to the command line.

    Examples
    --------
    From a shell::

        npgd demo --slices 8 --out demo
        npgd eval --checkpoint run/model.pt --data /data/brains/ --out eval
        npgd train --out run --features 48 --steps 1200 --lr 1e-3 --lr-halve-every 400
        torchrun --nproc-per-node 4 -m npgd.cli train --out run --resume
    """
    args = _parser().parse_args(argv)
    if args.command == "train":
        return _train(args)
    return _run(args, "brain" if args.command == "demo" else args.data)


if __name__ == "__main__":
    sys.exit(main())
