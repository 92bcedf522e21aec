"""Training neural proximal gradient descent: the (P2) loss, data, checkpoints, DDP.

One entry point, :func:`train`, serves the Python API, the ``npgd train`` console script and
multi-GPU/multi-node runs under ``torchrun`` (``torch.distributed``, DDP). Every random draw
of step ``s`` (slices, flips, phase, mask) comes from ``numpy.random.default_rng([seed, s])``,
so the sample stream depends on the step alone: a run resumed from a checkpoint continues
exactly as the uninterrupted one would, and under DDP rank ``r`` of ``W`` takes its share of
the global batch of that step (the sharding a ``DistributedSampler`` does, without its
epoch state to save).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import pickle
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from npgd import linops
from npgd.priors.learned import ResNetProx
from npgd.problems import adversarial, data, experiments, metrics, mri
from npgd.solvers.unrolled import NeuralPGD

__all__ = [
    "TrainConfig", "TrainingData", "build_model", "load_checkpoint", "load_model",
    "model_from_state", "native_bf16", "p2_loss", "save_checkpoint", "train",
]

FORMAT = "npgd-neuralpgd-1"


@dataclasses.dataclass
class TrainConfig:
    """Everything a training run depends on (stored in every checkpoint).

    Defaults are the seeds' (MRI, Sec. 5.2): 10 copies × 1 residual block of 128 features,
    shared weights, (P2) with :math:`\\beta = 0.75`, Adam (momentum 0.9) at learning rate
    :math:`10^{-5}` halved every 10k steps, mini-batch 2, a fresh 5× variable-density mask
    per sample. ``gan_weight`` > 0 adds the companion seed's LSGAN term
    (:mod:`npgd.problems.adversarial`): the generator loss becomes
    :math:`(1 - w)\\,\\text{(P2)} + w\\,\\mathbb{E}[(1 - D(\\hat x))^2]` with :math:`w` ramped
    from 0 to ``gan_weight`` over ``gan_warmup`` steps (the seed: 0.1 after ~1000), and a
    :class:`~npgd.problems.adversarial.Discriminator` trained on (P1.1) alongside.
    ``init`` starts a fresh run from the weights of a checkpoint (a path to a ``model.pt`` or
    ``last.pt``) or of a shipped model (a name in :data:`npgd.problems.zoo.MODELS`) of the same
    architecture, with a fresh optimizer and schedule: fine-tuning, or a second schedule; a
    shared-weights checkpoint may also start a ``shared=False`` run, each copy from the shared
    proximal (the companion seed's Table 1: independent copies gain about 1 dB). ``amp``
    runs the network under bf16 autocast on CUDA, and on CPUs with native bf16 (AVX512-BF16 or
    AMX), where it doubles the training speed; the loss and the data steps stay in float32.
    """

    features: int = 128
    blocks: int = 1
    iters: int = 10
    shared: bool = True
    data_consistency: str = "gradient"
    data: str = "brain"
    shape: tuple[int, int] | None = None
    accel: float = 5.0
    mask: str = "vd"
    noise_std: float = 0.0
    val_slices: int = 6
    steps: int = 30000
    batch_size: int = 2
    lr: float = 1e-5
    lr_halve_every: int = 10000
    beta: float = 0.75
    amp: bool = True
    seed: int = 0
    val_every: int = 500
    ckpt_every: int = 500
    gan_weight: float = 0.0
    gan_warmup: int = 1000
    init: str | None = None

    def __post_init__(self) -> None:
        if self.shape is not None:
            self.shape = tuple(int(s) for s in self.shape)
        if self.mask not in ("vd", "radial", "lines"):
            raise ValueError(
                f"TrainConfig: mask must be 'vd', 'radial' or 'lines', got {self.mask!r}"
            )
        if not 0 <= self.beta <= 1:
            raise ValueError(f"TrainConfig: beta must be in [0, 1], got {self.beta!r}")
        if not 0 <= self.gan_weight < 1:
            raise ValueError(f"TrainConfig: gan_weight must be in [0, 1), got {self.gan_weight!r}")
        if isinstance(self.gan_warmup, bool) or not isinstance(self.gan_warmup, int) \
                or self.gan_warmup < 0:
            raise ValueError(f"TrainConfig: gan_warmup must be an int >= 0, got "
                             f"{self.gan_warmup!r}")
        for name in ("steps", "batch_size", "val_every", "ckpt_every", "lr_halve_every"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"TrainConfig: {name} must be an int >= 1, got {v!r}")



def build_model(config: TrainConfig | dict) -> NeuralPGD:
    """The :class:`NeuralPGD` of a config: ``ResNetProx(features, blocks)`` unrolled ``iters``.

    Examples
    --------
    >>> net = build_model(TrainConfig(features=8, iters=2))
    >>> net.iters, type(net.prox).__name__
    (2, 'ResNetProx')
    """
    c = dataclasses.asdict(config) if isinstance(config, TrainConfig) else config
    prox = ResNetProx(features=c["features"], blocks=c["blocks"])
    return NeuralPGD(prox, iters=c["iters"], shared=c["shared"],
                     data_consistency=c["data_consistency"])


def p2_loss(
    A: linops.LinearOperator, y: torch.Tensor, x: torch.Tensor, iterates: list, beta: float = 0.75
) -> torch.Tensor:
    """The seeds' objective (P2), per pixel and averaged over the batch:

    .. math:: \\frac{1}{Bn}\\sum_{i=1}^{B}\\Big[\\beta\\|x_i - x_T^i\\|^2 + (1 - \\beta)
              \\sum_{t=1}^{T}\\|y_i - A x_t^i\\|^2\\Big],

    ``n`` the number of pixels of one image, ``iterates`` = :math:`[x_1, \\dots, x_T]`
    (``net(A, y, return_all=True)``). The second term asks every iterate to fit the data,
    which the seeds found to speed up training of long unrolls.

    Examples
    --------
    >>> import torch
    >>> from npgd import linops
    >>> A = linops.Identity((2, 2))
    >>> x = torch.ones(1, 2, 2); y = A(x)
    >>> float(p2_loss(A, y, x, [torch.zeros(1, 2, 2), x], beta=0.5))  # (0.5*0 + 0.5*4) / 4
    0.5
    """
    axes = tuple(range(-len(A.ishape), 0))
    n = math.prod(A.ishape)
    image = (x - iterates[-1]).abs().pow(2).sum(axes)
    fit = sum((y - A(xt)).abs().pow(2).sum(tuple(range(-len(A.oshape), 0))) for xt in iterates)
    return (beta * image + (1 - beta) * fit).mean() / n


# --------------------------------------------------------------------------------------------
# data


class TrainingData:
    """Training and validation images and the per-step sampling of :func:`train`.

    ``source`` is ``"brain"`` (the embedded ch2better sample: only its training slices,
    MNI z < +10 mm; the test range is never trained on), a NIfTI file or folder of
    ``*.nii``/``*.nii.gz`` volumes (axial slices with at least 10 % foreground), or a folder of
    fastMRI single-coil ``*.h5`` files (their complex images). Every slice is centre-cropped or
    padded to ``shape``. The last ``val_slices`` slices, spread evenly over the set, are held
    out for validation. Magnitude images get a fresh smooth synthetic phase per sample;
    complex ones a random global phase; both get random flips.

    Examples
    --------
    >>> d = TrainingData("brain", val_slices=6)
    >>> d.train.shape, d.val.shape
    ((60, 192, 160), (6, 192, 160))
    """

    def __init__(self, source: str = "brain", shape: tuple[int, int] | None = None,
                 val_slices: int = 6):
        if source == "brain":
            images, _ = data.brain_slices("train", phase=False)
            images = images.astype(np.float32)
        else:
            images = data.read_slices(source)
        shape = tuple(shape) if shape is not None else images.shape[-2:]
        images = data.fit_shape(images, shape)
        if not 0 <= val_slices < len(images):
            raise ValueError(
                f"TrainingData: val_slices must be in [0, {len(images)}) for {source!r}, got "
                f"{val_slices}"
            )
        val = np.zeros(len(images), bool)
        if val_slices:
            val[np.linspace(0, len(images) - 1, val_slices + 2)[1:-1].round().astype(int)] = True
        self.shape = tuple(shape)
        self.magnitude = not np.iscomplexobj(images)
        self.train, self.val = images[~val], images[val]
        if self.magnitude:
            self.val = data.with_synthetic_phase(self.val, 50_000)

    def batch(self, seed: int, step: int, size: int, accel: float, mask: str,
              part: slice = slice(None)) -> tuple[np.ndarray, np.ndarray]:
        """Images ``(B, H, W)`` complex64 and masks ``(B, H, W)`` of one training step."""
        rng = np.random.default_rng([seed, step])
        idx = rng.integers(0, len(self.train), size)
        draws = rng.integers(0, 2**31, (size, 2))
        flips = rng.random((size, 2)) < 0.5
        images, masks = [], []
        for k in range(size)[part]:
            x = self.train[idx[k]]
            x = x[::-1] if flips[k, 0] else x
            x = x[:, ::-1] if flips[k, 1] else x
            if self.magnitude:
                x = x * np.exp(1j * data.synthetic_phase(self.shape, int(draws[k, 0])))
            else:
                x = x * np.exp(2j * np.pi * (draws[k, 0] / 2**31))
            images.append(x)
            masks.append(sample_mask(self.shape, accel, mask, int(draws[k, 1])))
        return np.stack(images).astype(np.complex64), np.stack(masks)


def sample_mask(shape: tuple[int, int], accel: float, kind: str, seed: int) -> np.ndarray:
    """A mask of the family ``kind`` (``"vd"``, ``"radial"``, ``"lines"``) from ``seed``.

    Examples
    --------
    >>> sample_mask((192, 160), 5, "vd", 0).mean()
    np.float64(0.2)
    """
    if kind == "vd":
        return mri.vd_mask(shape, accel, seed=seed)
    if kind == "radial":
        return mri.vd_radial_mask(shape, accel, seed=seed)
    if kind == "lines":
        return np.broadcast_to(mri.line_mask(shape, accel, seed=seed), shape).copy()
    raise ValueError(f"mask must be 'vd', 'radial' or 'lines', got {kind!r}")


# --------------------------------------------------------------------------------------------
# checkpoints


def save_checkpoint(path: str | os.PathLike, state: dict) -> None:
    """Write ``state`` with ``torch.save`` atomically: a temporary file in the same folder,
    flushed to disk, then renamed over ``path``, so a kill never leaves a half-written file.

    Examples
    --------
    >>> import tempfile, os, torch
    >>> p = os.path.join(tempfile.mkdtemp(), "c.pt")
    >>> save_checkpoint(p, {"format": FORMAT, "w": torch.ones(2)})
    >>> load_checkpoint(p)["w"]
    tensor([1., 1.])
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; a checkpoint is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Read a checkpoint with ``torch.load(weights_only=True)``: tensors, numbers, strings,
    lists and dicts only, so a file holding code is refused, never executed.

    Raises FileNotFoundError for a missing file and ValueError naming the file for a
    truncated/corrupt one, one that holds other objects, or one that is not an npgd checkpoint.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"checkpoint: no such file: {p}")
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise ValueError(
            f"checkpoint {p} holds objects other than tensors and plain data (refused, nothing "
            f"was executed): {str(e).splitlines()[0]}"
        ) from None
    except (RuntimeError, EOFError, OSError) as e:
        raise ValueError(f"checkpoint {p} is truncated or corrupt: {e}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"checkpoint {p} is not an npgd checkpoint (format {FORMAT!r})")
    return state


def load_model(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> NeuralPGD:
    """The trained :class:`NeuralPGD` of a checkpoint (``last.pt`` or ``model.pt``), in eval mode.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "model.pt")
    >>> cfg = TrainConfig(features=8, iters=2)
    >>> save_checkpoint(p, {"format": FORMAT, "config": dataclasses.asdict(cfg),
    ...                     "model": build_model(cfg).state_dict()})
    >>> load_model(p).iters
    2
    """
    return model_from_state(load_checkpoint(path), str(path)).to(map_location)


def model_from_state(state: dict, where: str = "checkpoint") -> NeuralPGD:
    """The :class:`NeuralPGD` of a loaded checkpoint dict (see :func:`load_checkpoint`), in eval
    mode on the CPU; ``where`` names the source in errors.

    Examples
    --------
    >>> cfg = TrainConfig(features=8, iters=2)
    >>> state = {"config": dataclasses.asdict(cfg), "model": build_model(cfg).state_dict()}
    >>> model_from_state(state).iters
    2
    """
    if "config" not in state or "model" not in state:
        raise ValueError(f"{where} has no model (keys: {sorted(state)})")
    net = build_model(state["config"])
    try:
        net.load_state_dict(state["model"])
    except RuntimeError as e:
        raise ValueError(
            f"{where}: its weights do not fit the architecture its config describes ({e})"
        ) from None
    return net.eval()


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
        disc = adversarial.Discriminator().to(dev)
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
            loss = p2_loss(A, y, x, iterates, config.beta)
            if gan:
                with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
                    loss_d = adversarial.lsgan_d_loss(disc_model, x, iterates[-1])
                opt_d.zero_grad(set_to_none=True)
                loss_d.backward()
                opt_d.step()
                sched_d.step()
                w = adversarial.gan_weight_at(step, config.gan_weight, config.gan_warmup)
                # The generator's pass uses the bare module: no second DDP forward per step;
                # the discriminator gradients it leaves are cleared before the next update.
                with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
                    adv = adversarial.lsgan_g_loss(disc, iterates[-1])
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
    from npgd.problems import zoo

    src = config.init
    shipped = not Path(src).is_file() and src in zoo.MODELS
    state = zoo.checkpoint_state(src) if shipped else load_checkpoint(src)
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
