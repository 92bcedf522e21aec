"""The training loop of neural proximal gradient descent: (P2), validation, checkpoints, DDP.

One entry point, :func:`train`, serves the Python API, the ``npgd train`` console script and
multi-GPU/multi-node runs under ``torchrun`` (``torch.distributed``, DDP). Every random draw
of step ``s`` (slices, flips, phase, mask) comes from ``numpy.random.default_rng([seed, s])``
(:meth:`npgd.train.data.TrainingData.batch`), so the sample stream depends on the step alone:
a run resumed from a checkpoint continues exactly as the uninterrupted one would, and under
DDP rank ``r`` of ``W`` takes its share of the global batch of that step (the sharding a
``DistributedSampler`` does, without its epoch state to save).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from npgd import experiments, linops
from npgd.models.checkpoint import FORMAT, load_checkpoint, save_checkpoint
from npgd.models.zoo import MODELS, build_model, checkpoint_state, model_from_state
from npgd.problems import metrics, mri
from npgd.solvers.unrolled import NeuralPGD
from npgd.train import losses
from npgd.train.adversarial import Discriminator
from npgd.train.config import TrainConfig
from npgd.train.data import TrainingData, sample_mask

__all__ = ["native_bf16", "train"]


# --------------------------------------------------------------------------------------------
# validation and the training loop


def _validation_data(d: TrainingData, cfg: TrainConfig) -> tuple[linops.MaskedFFT, np.ndarray]:
    """The fixed measurements of the validation slices (fixed masks and noise)."""
    masks = np.stack([sample_mask(d.shape, cfg.accel, cfg.mask, 90_000 + i)
                      for i in range(len(d.val))])
    return mri.simulate(d.val, masks, noise_std=cfg.noise_std, seed=cfg.seed)


def _validate(net: NeuralPGD, d: TrainingData, A: linops.MaskedFFT, y: np.ndarray) -> dict:
    was_training = net.training
    net.eval()
    xhat = experiments.neural(net)(A, y)
    net.train(was_training)
    return {"snr": float(metrics.snr(d.val, xhat).mean()),
            "ssim": float(metrics.ssim(d.val, xhat).mean())}


def _distributed(device: str | None) -> tuple[int, int, Any, bool]:
    """Rank, world size, ``torch.distributed`` (None when alone), whether we initialised it."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1, None, False
    import torch.distributed as dist

    owner = not dist.is_initialized()
    if owner:
        cuda = torch.cuda.is_available() and (device is None or device.startswith("cuda"))
        dist.init_process_group("nccl" if cuda else "gloo")
    return dist.get_rank(), dist.get_world_size(), dist, owner


def train(
    config: TrainConfig,
    out: str | os.PathLike,
    *,
    resume: bool = False,
    device: str | None = None,
    progress: bool = True,
) -> NeuralPGD:
    """Train a :class:`NeuralPGD` with (P2); write checkpoints to the folder ``out``.

    Adam (betas 0.9, 0.999) with the learning rate halved every ``lr_halve_every`` steps,
    bf16 autocast (CUDA, bf16-capable CPUs) when ``amp``, validation SNR/SSIM on held-out
    *training-range* slices every ``val_every`` steps. Files in ``out`` (rank 0 only, each written
    atomically): ``last.pt`` (everything needed to resume) every ``ckpt_every`` steps, at the
    end, and when the run is stopped by SIGINT/SIGTERM (finishing the step in flight first);
    ``model.pt`` (weights and config of the best validation SNR so far); ``history.json``.
    With ``resume=True`` an existing ``last.pt`` is continued (its config must match, except
    ``steps``, which may be raised). With ``gan_weight`` > 0 a discriminator and its own
    Adam (same rate and schedule) are trained alongside and saved in ``last.pt``; every step
    first updates the discriminator on (P1.1), then the network on the mixture (see
    :class:`TrainConfig`). Under ``torchrun`` each of the ``W`` processes takes
    ``batch_size`` samples per step (global batch ``W·batch_size``) and DDP averages the
    gradients.

    Returns the trained network (on ``device``, in eval mode).

    Examples
    --------
    >>> import tempfile
    >>> cfg = TrainConfig(features=4, iters=2, steps=2, batch_size=1, lr=1e-3, val_every=2,
    ...                   val_slices=1, ckpt_every=2)
    >>> net = train(cfg, tempfile.mkdtemp(), progress=False)
    >>> net.iters
    2
    """
    rank, world, dist, owner = _distributed(device)
    if device is None:
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}" if torch.cuda.is_available() \
            else "cpu"
    dev = torch.device(device)
    out = Path(out)
    d = TrainingData(config.data, config.shape, config.val_slices)
    torch.manual_seed(config.seed)
    net = build_model(config).to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=config.lr, betas=(0.9, 0.999))
    sched = torch.optim.lr_scheduler.StepLR(opt, config.lr_halve_every, gamma=0.5)
    gan = config.gan_weight > 0
    if gan:
        disc = Discriminator().to(dev)
        opt_d = torch.optim.Adam(disc.parameters(), lr=config.lr, betas=(0.9, 0.999))
        sched_d = torch.optim.lr_scheduler.StepLR(opt_d, config.lr_halve_every, gamma=0.5)
    step, history, best = 0, [], -math.inf
    if resume and (out / "last.pt").is_file():
        state = load_checkpoint(out / "last.pt")
        old = {**_stored_config(state), "steps": config.steps}
        new = dataclasses.asdict(config)
        diff = {k: (old[k], new[k]) for k in new if _norm(old.get(k)) != _norm(new[k])}
        if diff:
            raise ValueError(f"train: --resume with a different config than {out}/last.pt: {diff}")
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        if gan:
            disc.load_state_dict(state["discriminator"])
            opt_d.load_state_dict(state["d_optimizer"])
            sched_d.load_state_dict(state["d_scheduler"])
        step, history, best = state["step"], state["history"], state["best_snr"]
    elif config.init:
        _load_init(net, config)
    model = torch.nn.parallel.DistributedDataParallel(net) if dist else net
    if gan:
        disc_model = torch.nn.parallel.DistributedDataParallel(disc) if dist else disc
        disc.train()
    net.train()
    amp = config.amp and native_bf16(dev)
    stop = {"flag": False}
    handlers = _catch_signals(stop)

    def checkpoint() -> None:
        if rank == 0:
            save_checkpoint(out / "last.pt", {
                "format": FORMAT, "config": dataclasses.asdict(config), "step": step,
                "model": net.state_dict(), "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(), "history": history, "best_snr": best,
                **({"discriminator": disc.state_dict(), "d_optimizer": opt_d.state_dict(),
                    "d_scheduler": sched_d.state_dict()} if gan else {}),
            })
            tmp = out / "history.json.tmp"
            tmp.write_text(json.dumps(history, indent=1))
            os.replace(tmp, out / "history.json")

    bar = None
    if progress and rank == 0:
        from tqdm.auto import tqdm

        bar = tqdm(total=config.steps, initial=step, desc="train (bf16)" if amp else "train",
                   dynamic_ncols=True)
    val_data = _validation_data(d, config) if rank == 0 and len(d.val) else None
    t0, loss_avg = time.perf_counter(), None
    try:
        while step < config.steps:
            x, m = d.batch(config.seed, step, config.batch_size * world, config.accel,
                           config.mask, slice(rank * config.batch_size,
                                              (rank + 1) * config.batch_size))
            x = torch.from_numpy(x).to(dev)
            A, y = mri.simulate(x, torch.from_numpy(m).to(dev), noise_std=config.noise_std,
                                seed=[config.seed, step, rank])
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
                iterates = model(A, y, return_all=True)
            loss = losses.p2_loss(A, y, x, iterates, config.beta)
            if gan:
                with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
                    loss_d = losses.lsgan_d_loss(disc_model, x, iterates[-1])
                opt_d.zero_grad(set_to_none=True)
                loss_d.backward()
                opt_d.step()
                sched_d.step()
                w = losses.gan_weight_at(step, config.gan_weight, config.gan_warmup)
                # The generator's pass uses the bare module: no second DDP forward per step;
                # the discriminator gradients it leaves are cleared before the next update.
                with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
                    adv = losses.lsgan_g_loss(disc, iterates[-1])
                loss = (1 - w) * loss + w * adv
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            lv = float(loss.detach())
            if not math.isfinite(lv):
                raise FloatingPointError(
                    f"train: loss became {lv} at step {step}; lower --lr (now "
                    f"{sched.get_last_lr()[0]:.3g})"
                )
            loss_avg = lv if loss_avg is None else 0.95 * loss_avg + 0.05 * lv
            if step % config.val_every == 0 or step == config.steps:
                if val_data is not None:
                    v = _validate(net, d, *val_data)
                    history.append({"step": step, "loss": loss_avg, **v,
                                    "seconds": time.perf_counter() - t0})
                    if v["snr"] > best:
                        best = v["snr"]
                        save_checkpoint(out / "model.pt", {
                            "format": FORMAT, "config": dataclasses.asdict(config),
                            "model": net.state_dict(), "step": step, "validation": v})
                    if bar is not None:
                        bar.set_postfix(loss=f"{loss_avg:.3g}", val_snr=f"{v['snr']:.2f}",
                                        val_ssim=f"{v['ssim']:.3f}")
            if step % config.ckpt_every == 0:
                checkpoint()
            if bar is not None:
                bar.update(1)
                if step % 10 == 0 and not history:
                    bar.set_postfix(loss=f"{loss_avg:.3g}")
            if _any_rank(stop["flag"], dist, dev):
                break
        checkpoint()
    finally:
        _restore_signals(handlers)
        if bar is not None:
            bar.close()
    if owner:
        dist.barrier()  # rank 0 has written its files before anyone leaves
        dist.destroy_process_group()
    return net.eval()


_ARCH = ("features", "blocks", "iters", "shared", "data_consistency")


def _load_init(net: NeuralPGD, config: TrainConfig) -> None:
    """Copy the weights named by ``config.init`` (a checkpoint path or a shipped model name)
    into ``net``; a different architecture is a ValueError naming the fields that differ."""
    src = config.init
    shipped = not Path(src).is_file() and src in MODELS
    state = checkpoint_state(src) if shipped else load_checkpoint(src)
    theirs = model_from_state(state, f"train: init={src!r}")  # checks keys and weights
    stored = _stored_config(state)
    # shared -> independent is allowed: every copy starts from the shared proximal ("untying")
    untie = stored["shared"] and not config.shared
    diff = {k: (stored[k], getattr(config, k)) for k in _ARCH
            if _norm(stored[k]) != _norm(getattr(config, k)) and not (k == "shared" and untie)}
    if diff:
        raise ValueError(f"train: init={src!r} has another architecture (theirs, ours): {diff}")

    def ours(key: str) -> list[str]:  # where a key of theirs goes: "prox.*" to every copy
        if untie and key.startswith("prox."):
            return [f"prox.{t}.{key[5:]}" for t in range(config.iters)]
        return [key]

    net.load_state_dict({k2: v for k, v in theirs.state_dict().items() for k2 in ours(k)})


def _stored_config(state: dict) -> dict:
    """A checkpoint's config with defaults for the fields that older files lack."""
    return {**{f.name: f.default for f in dataclasses.fields(TrainConfig)}, **state["config"]}


def native_bf16(device: str | torch.device) -> bool:
    """Whether bf16 autocast pays off on ``device``: always on CUDA; on the CPU when oneDNN
    runs bf16 convolutions natively (AVX512-BF16 or AMX), where it roughly halves the time of
    a training step. ``TrainConfig.amp`` applies autocast only where this is true.

    Examples
    --------
    >>> native_bf16("cuda:0"), native_bf16("meta")
    (True, False)
    """
    dev = torch.device(device)
    if dev.type == "cuda":
        return True
    if dev.type != "cpu":
        return False
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a build without oneDNN, or an older torch
        return False


def _norm(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


def _any_rank(flag: bool, dist: Any, dev: torch.device) -> bool:
    """Whether any process was asked to stop (so that all stop after the same step)."""
    if dist is None:
        return flag
    t = torch.tensor([float(flag)], device=dev)
    dist.all_reduce(t)
    return bool(t.item() > 0)


def _catch_signals(stop: dict) -> dict:
    import threading

    if threading.current_thread() is not threading.main_thread():
        return {}

    def handler(signum: int, frame: Any) -> None:
        stop["flag"] = True

    return {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}


def _restore_signals(handlers: dict) -> None:
    for s, h in handlers.items():
        signal.signal(s, h)
