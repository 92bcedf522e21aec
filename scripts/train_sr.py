"""Train a super-resolution NeuralPGD on scikit-image's bundled training images.

    python scripts/train_sr.py --factor 2 --out runs/sr2 --minutes 30

A ResNet proximal trains as well with the one training command, which adds resuming, locks
and the brain slices to the data: ``npgd train --task sr --factor 2 --out runs/sr2``. This
script is for what a TrainConfig does not describe: the single-layer ``SwishProx`` of the
contraction analysis (``--prox swish``, optionally through FFT convolutions); it runs the
same loop (:func:`npgd.train.train_task`).

Writes ``model.pt`` (the best validation weights, npgd checkpoint format with
``task``/``factor``/``channels`` in its config) and ``history.json`` to ``--out``; the
validation crops are taken from the training images (the held-out test images are only
scored by ``scripts/contraction.py``/the docs). One thread, as the docs' CPU figures.
"""

import argparse
import json
import time
import types
from pathlib import Path

import numpy as np
import torch

from npgd.models.checkpoint import FORMAT, save_checkpoint
from npgd.problems import sr
from npgd.train.loop import train_task
from npgd.train.tasks import SRTask, build_task_model


def _fft_conv(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``conv2d(x, w, b)`` without padding (the valid cross-correlation), through FFTs: the
    circular correlation equals the linear one on the valid region."""
    h, wd = x.shape[-2:]
    k = w.shape[-1]
    xf, kf = torch.fft.rfft2(x), torch.fft.rfft2(w, s=(h, wd))
    y = torch.fft.irfft2(torch.einsum("bihw,oihw->bohw", xf, kf.conj()), s=(h, wd))
    return y[..., : h - k + 1, : wd - k + 1] + b[None, :, None, None]


def _fft_net(self, z: torch.Tensor) -> torch.Tensor:
    """``SwishProx.net`` with its convolutions through :func:`_fft_conv`."""
    for conv in self.convs:
        z = _fft_conv(torch.nn.functional.pad(z, self._pad), conv.weight, conv.bias)
    return torch.nn.functional.silu(z)


def _near_identity(prox: torch.nn.Module, gain: float) -> None:
    """Start SwishProx's linear chain as ``gain`` times the identity (each layer a centred
    delta averaging its input channels, plus 1 % noise, zero biases), so the untrained
    proximal is ``x * sigmoid(x)`` at unit scale: a stable start for the 25-step recursion,
    where PyTorch's default initialisation starts far off and larger gains blow up.
    """
    layers = len(prox.convs)
    with torch.no_grad():
        for conv in prox.convs:
            w = conv.weight
            k = w.shape[-1]
            c = (k - 1) // 2
            w.normal_(0, 0.01 / k)
            w[:, :, c, c] += gain ** (1 / layers) / w.shape[1]
            conv.bias.zero_()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--factor", type=int, default=2)
    p.add_argument("--out", required=True)
    p.add_argument("--prox", choices=("resnet", "swish"), default="resnet")
    p.add_argument("--kernel", type=int, default=8, help="SwishProx kernel size")
    p.add_argument("--layers", type=int, default=5, help="SwishProx linear layers")
    p.add_argument("--features", type=int, default=32)
    p.add_argument("--blocks", type=int, default=1)
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--shared", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--patch", type=int, default=48)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--steps", type=int, default=100000)
    p.add_argument("--lr-halve-every", type=int, default=1500)
    p.add_argument("--minutes", type=float, default=30.0, help="stop after this wall time")
    p.add_argument("--val-every", type=int, default=100)
    p.add_argument("--val-size", type=int, default=32, help="validation patches")
    p.add_argument("--fft", action="store_true",
                   help="train SwishProx through FFT convolutions (same weights and map, "
                        "much faster for large kernels on the CPU)")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    task = SRTask(a.factor)
    config = {"prox": a.prox, "features": a.features, "blocks": a.blocks, "kernel": a.kernel,
              "layers": a.layers, "iters": a.iters, "shared": a.shared,
              "data_consistency": "gradient", "channels": 1,
              "step": task.step((a.patch, a.patch)), "task": "sr", "factor": a.factor,
              "patch": a.patch, "batch_size": a.batch_size, "lr": a.lr,
              "lr_halve_every": a.lr_halve_every, "seed": a.seed}
    net = build_task_model(config)
    if a.prox == "swish":
        _near_identity(net.prox, 1.0)
    if a.fft:
        if a.prox != "swish":
            p.error("--fft is for --prox swish")
        net.prox.net = types.MethodType(_fft_net, net.prox)
    sampler = sr.PatchSampler(a.patch)
    val = sampler(np.random.default_rng([a.seed, 10**9]), a.val_size)
    deadline = time.time() + 60 * a.minutes

    def log(rec: dict) -> bool:
        print(json.dumps(rec), flush=True)
        return time.time() > deadline

    hist = train_task(net, task, sampler, steps=a.steps, batch_size=a.batch_size, lr=a.lr,
                      lr_halve_every=a.lr_halve_every, seed=a.seed, val=val,
                      val_every=a.val_every, log=log)
    best = max(hist, key=lambda r: r["snr"])  # the weights train_task keeps
    save_checkpoint(out / "model.pt", {"format": FORMAT, "config": config,
                                       "model": net.state_dict(), "step": best["step"],
                                       "validation": {k: best[k] for k in ("psnr", "snr")}})
    (out / "history.json").write_text(json.dumps(hist))


if __name__ == "__main__":
    main()
