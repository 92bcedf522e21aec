"""The training loop of neural proximal gradient descent: (P2), validation, checkpoints, DDP.

One entry point, :func:`train`, serves the Python API, the ``npgd train`` console script and
multi-GPU/multi-node runs under ``torchrun`` (``torch.distributed``, DDP), for any task: the
images come from the data source of the config, the operator and measurements of every step
from its task (:func:`npgd.train.tasks.task_of`: MRI sampling, super-resolution);
:func:`train_task` runs the same loop on any task object, network and image sampler. Every
random draw of step ``s`` (slices, flips, phase, mask, noise) comes from
``numpy.random.default_rng([seed, s, ...])``
(:meth:`npgd.train.data.TrainingData.batch`), so the sample stream depends on the step alone:
a run resumed from a checkpoint continues exactly as the uninterrupted one would, and under
DDP rank ``r`` of ``W`` takes its share of the global batch of that step (the sharding a
``DistributedSampler`` does, without its epoch state to save).

The loop is a handful of small functions around one :class:`_Run` (the state of a run):
:func:`_setup` (devices, data, networks, optimizers), :func:`_resume_or_init` (continue a
``last.pt`` or start from ``init`` weights), :func:`_train_step` (one optimizer step),
:func:`_validate` (SNR/SSIM on the held-out slices, keeps ``model.pt``) and
:func:`_save_last` (``last.pt`` and ``history.json``).
"""

from __future__ import annotations

import dataclasses
import math
import os
import signal
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from npgd import linops
from npgd._util import DataError, UsageError, atomic_write, check_int, strict_json
from npgd.models.checkpoint import FORMAT, load_checkpoint, save_checkpoint
from npgd.models.zoo import (
    MODELS,
    build_model,
    check_architecture,
    checkpoint_state,
    fold_batch_norm,
    model_from_state,
)
from npgd.problems import metrics, mri
from npgd.solvers.unrolled import NeuralPGD
from npgd.train import losses, rundir
from npgd.train.adversarial import Discriminator
from npgd.train.config import TrainConfig
from npgd.train.data import NaturalImages, TrainingData, sample_mask
from npgd.train.prefetch import Prefetcher
from npgd.train.synth import MIX_CRISP, SR_LEAVES, SynthData
from npgd.train.tasks import Task, measure_fixed, task_of

__all__ = ["Interrupted", "native_bf16", "resume_config", "train", "train_task"]

class Interrupted(Exception):  # noqa: N818 (not an error: the run stopped as asked)
    """A training run stopped by a signal after saving ``last.pt``; ``signum`` is the signal
    (the ``npgd`` command exits with 128 + ``signum``), ``step`` the last step saved."""

    def __init__(self, signum: int, step: int, out: Path):
        self.signum, self.step, self.out = signum, step, out
        name = signal.Signals(signum).name
        super().__init__(f"interrupted at step {step}, resume with: npgd train --out {out} "
                         f"--resume ({name})")


@dataclasses.dataclass
class _Run:
    """Everything one training process holds: settings, data, networks, optimizers, progress."""

    config: TrainConfig
    out: Path
    dev: torch.device
    rank: int
    world: int
    dist: Any
    data: Any  # TrainingData, SynthData, NaturalImages or a _Sampled
    task: Task
    net: NeuralPGD
    model: torch.nn.Module  # ``net``, wrapped in DDP when there are several processes
    opt: torch.optim.Optimizer
    sched: Any
    amp: bool
    gan: dict | None = None  # discriminator, its DDP wrapper, optimizer, scheduler
    val: list | None = None  # validation (A, y) batches on ``dev``, or the randomized
    # samples of SynthData
    step: int = 0
    history: list = dataclasses.field(default_factory=list)
    best: float = -math.inf
    added: frozenset = frozenset()  # parameter names trained at ``new_lr_scale`` times the rate
    prefetch: Prefetcher | None = None  # batches drawn ahead by worker processes


def train(
    config: TrainConfig,
    out: str | os.PathLike,
    *,
    resume: bool = False,
    overwrite: bool = False,
    device: str | None = None,
    progress: bool = True,
    log: Callable[[dict], Any] | None = None,
    workers: int = 0,
) -> NeuralPGD:
    """Train a :class:`NeuralPGD` with (P2); write checkpoints to the folder ``out``.

    Adam (betas 0.9, 0.999) with the learning rate halved every ``lr_halve_every`` steps,
    bf16 autocast (CUDA, bf16-capable CPUs) when ``amp``, validation SNR/SSIM on held-out
    *training-range* slices every ``val_every`` steps. Files in ``out`` (rank 0 only, each written
    atomically): ``last.pt`` (everything needed to resume) every ``ckpt_every`` steps, at the
    end, and when the run is stopped by SIGINT, SIGTERM or SIGHUP (finishing the step in
    flight first, then raising :class:`Interrupted`); ``model.pt`` (weights and config of the
    best validation SNR so far; the latest weights when ``val_slices`` is 0);
    ``history.json``.

    Before any data is read, ``out`` is checked and locked (:func:`npgd.train.rundir.claim`):
    a folder that already holds a run is refused unless ``resume`` (an existing ``last.pt``
    is continued; its config must match, except ``steps``, which may be raised; see
    :func:`resume_config` to take the stored one) or ``overwrite`` (the old run's files are
    deleted), and a folder another live run writes to is refused.

    With ``gan_weight`` > 0 a discriminator and its own Adam (same rate and schedule) are
    trained alongside and saved in ``last.pt``; every step first updates the discriminator
    on (P1.1), then the network on the mixture (see :class:`TrainConfig`). Under
    ``torchrun`` each of the ``W`` processes takes ``batch_size`` samples per step (global
    batch ``W·batch_size``) and DDP averages the gradients.

    ``config.task`` picks what is inverted (:func:`npgd.train.tasks.task_of`): MRI (complex
    images, masks from the data source) or super-resolution (real crops of
    :class:`npgd.train.data.NaturalImages`, validation PSNR recorded too); the checkpoints
    store it, so :func:`npgd.models.load_model` rebuilds the right network. ``log`` is called
    with every validation record; when it returns True the run stops there (a time budget),
    saving ``last.pt`` as at the end.

    ``workers`` > 0 draws the batches of the coming steps in that many worker processes
    while the network trains (:class:`npgd.train.prefetch.Prefetcher`); the batches, and so
    the trained weights, are the same as with 0 (in this process), which is not stored in
    the checkpoints and may change on resume.

    Returns the trained network (on ``device``, in eval mode).

    Examples
    --------
    >>> import tempfile
    >>> cfg = TrainConfig(features=4, iters=2, steps=2, batch_size=1, lr=1e-3, val_every=2,
    ...                   val_slices=1, ckpt_every=2)
    >>> net = train(cfg, tempfile.mkdtemp(), progress=False)
    >>> net.iters
    2
    >>> sr = TrainConfig(task="sr", factor=2, shape=(16, 16), features=4, iters=2, steps=2,
    ...                  batch_size=2, lr=1e-3, val_every=2, val_slices=2)
    >>> train(sr, tempfile.mkdtemp(), progress=False).prox.channels
    1
    """
    try:
        check_int("train", "workers", workers, 0)
    except ValueError as e:
        raise UsageError(str(e)) from None
    return _train(config, Path(out), resume, overwrite, device, progress, log, None,
                  workers).net.eval()


def _train(config: TrainConfig, out: Path, resume: bool, overwrite: bool, device: str | None,
           progress: bool, log: Callable[[dict], Any] | None, custom: dict | None,
           workers: int = 0) -> _Run:
    """:func:`train`, with ``custom`` (``task``, ``data``, ``net``) in place of what the
    config describes (:func:`train_task`); the finished run."""
    rank = int(os.environ.get("RANK", "0"))
    lock = rundir.claim(out, resume=resume, overwrite=overwrite) if rank == 0 else None
    stop = {"signum": 0}
    handlers = _catch_signals(stop)
    bar = run = None
    try:
        last = out / "last.pt"
        resumed = load_checkpoint(last) if resume and last.is_file() else None
        init = _init_architecture(config) if config.init and resumed is None else None
        if config.floor is None:  # the level the proximal removes: the run's, the init's, 0
            floor = (_stored_config(resumed, str(last)).floor if resumed is not None else
                     init[1]["floor"] if init is not None else 0.0)
            config = dataclasses.replace(config, floor=floor)
        run, owner = _setup(config, out, device, custom, resumed, init)
        _resume_or_init(run, resumed, init)
        if workers:
            run.prefetch = Prefetcher(partial(_draw, run.data, run.config, _part(run)), workers)
        bar = _progress_bar(run) if progress and run.rank == 0 else None
        t0, loss_avg = time.perf_counter(), None
        while run.step < config.steps:
            loss = _train_step(run)
            loss_avg = loss if loss_avg is None else 0.95 * loss_avg + 0.05 * loss
            done = False
            if run.step % config.val_every == 0 or run.step == config.steps:
                rec = _validate(run, loss_avg, time.perf_counter() - t0, bar)
                done = rec is not None and log is not None and bool(log(rec))
            if run.step % config.ckpt_every == 0:
                _save_last(run)
            if bar is not None:
                bar.update(1)
                if run.step % 10 == 0 and not run.history:
                    bar.set_postfix(loss=f"{loss_avg:.3g}")
            if _any_rank(stop["signum"] or done, run.dist, run.dev):
                break
        _save_last(run)
        if owner:
            run.dist.barrier()  # rank 0 has written its files before anyone leaves
            run.dist.destroy_process_group()
    finally:
        if run is not None and run.prefetch is not None:
            run.prefetch.close()
        _restore_signals(handlers)
        if bar is not None:
            bar.close()
        if lock is not None:
            rundir.release(lock)
    if stop["signum"]:
        raise Interrupted(stop["signum"], run.step, out)
    return run


class _Sampled:
    """A data source from a sampler ``sample(rng, n) -> (n, H, W)`` and validation images."""

    def __init__(self, sample: Callable, val: np.ndarray):
        self.sample, self.val = sample, val

    def batch(self, seed: int, step: int, size: int, part: slice = slice(None)) -> np.ndarray:
        x = self.sample(np.random.default_rng([seed, step]), size)
        return np.ascontiguousarray(x[part])


def train_task(
    net: NeuralPGD,
    task: Task,
    sample: Callable[[np.random.Generator, int], np.ndarray],
    *,
    steps: int,
    batch_size: int = 4,
    lr: float = 1e-3,
    lr_halve_every: int = 1000,
    beta: float = 0.75,
    seed: int = 0,
    val: np.ndarray | None = None,
    val_every: int = 100,
    log: Callable[[dict], Any] | None = None,
) -> list[dict]:
    """Train ``net`` in place on any ``task`` with the loop of :func:`train`; the validation
    history.

    For networks and tasks a :class:`TrainConfig` does not describe (another proximal, a
    task object of your own): step ``s`` draws its images as
    ``sample(numpy.random.default_rng([seed, s]), batch_size)`` (an array ``(B, H, W)``,
    real or complex as the task takes) and its measurements as ``task.measure(x, [seed, s,
    0])``; (P2) over all iterates, Adam (betas 0.9, 0.999) with the learning rate halved
    every ``lr_halve_every`` steps, no autocast, checkpoints in a temporary folder. Every
    ``val_every`` steps and at the end, SNR, SSIM and PSNR of ``net`` on ``val`` (clean
    images ``(N, H, W)`` measured once by :func:`npgd.train.tasks.measure_fixed`) are
    recorded; the weights of the best validation SNR are kept in ``net`` at the end (the last
    ones without ``val``). Each record is ``{"step", "loss", "snr", "ssim", "psnr",
    "seconds"}``, also passed to ``log``; ``log`` returning True stops the training there.

    Examples
    --------
    >>> import numpy as np
    >>> from npgd import priors, solvers
    >>> from npgd.train.tasks import SRTask
    >>> net = solvers.NeuralPGD(priors.ResNetProx(features=4, channels=1), iters=2, step=4.0)
    >>> def sample(rng, n):
    ...     return rng.random((n, 16, 16), dtype=np.float32)
    >>> hist = train_task(net, SRTask(2), sample, steps=3, batch_size=2,
    ...                   val=sample(np.random.default_rng(9), 2), val_every=3)
    >>> [h["step"] for h in hist]
    [3]
    """
    if not isinstance(net, NeuralPGD):
        raise TypeError(f"train_task: net must be a NeuralPGD, got {type(net).__name__}")
    try:
        config = TrainConfig(steps=steps, batch_size=batch_size, lr=lr,
                             lr_halve_every=lr_halve_every, beta=beta, seed=seed,
                             val_every=val_every, ckpt_every=steps, amp=False)
    except UsageError as e:
        raise ValueError(str(e).replace("TrainConfig", "train_task")) from None
    if val is None:
        val = np.zeros((0, 1, 1), np.complex64 if task.channels == 2 else np.float32)
    device = str(next(net.parameters()).device)
    with tempfile.TemporaryDirectory() as out:
        run = _train(config, Path(out), False, False, device, False, log,
                     {"task": task, "data": _Sampled(sample, val), "net": net})
        if len(val):
            net.load_state_dict(load_checkpoint(Path(out) / "model.pt")["model"])
    return run.history


def resume_config(out: str | os.PathLike, given: dict | None = None) -> TrainConfig:
    """The config to continue the run in ``out`` with: the one stored in ``out/last.pt``,
    with ``steps`` raised where ``given`` says so. ``given`` holds the settings the user
    named (e.g. on the command line); one that differs from the stored value is a
    UsageError, since the run would no longer be the one that was started. Without
    ``last.pt`` (a fresh run) the config is ``TrainConfig(**given)``.

    Examples
    --------
    >>> import tempfile
    >>> out = tempfile.mkdtemp()
    >>> _ = train(TrainConfig(features=4, iters=2, steps=1, val_slices=1), out, progress=False)
    >>> resume_config(out, {"steps": 3}).features, resume_config(out, {"steps": 3}).steps
    (4, 3)
    """
    given = dict(given or {})
    last = Path(out) / "last.pt"
    if not last.is_file():
        return TrainConfig(**given)
    stored = _stored_config(load_checkpoint(last), str(last))
    new = {**dataclasses.asdict(stored), **given}
    diff = {k: (getattr(stored, k), v) for k, v in given.items()
            if k != "steps" and _norm(getattr(stored, k)) != _norm(v)}
    if diff:
        changes = ", ".join(f"{k} (stored {a!r}, given {b!r})" for k, (a, b) in diff.items())
        raise UsageError(f"train: --resume keeps the settings of {last}; these differ: "
                         f"{changes}, expected only --steps to change (or another --out)")
    return TrainConfig(**new)


def _setup(config: TrainConfig, out: Path, device: str | None, custom: dict | None = None,
           resumed: dict | None = None, init: tuple[dict, dict] | None = None
           ) -> tuple[_Run, bool]:
    """Processes and device, data, task, network, optimizers: a fresh run at step 0; whether
    this call initialised ``torch.distributed`` (and so must tear it down). ``custom``
    replaces the config's task, data and network (:func:`train_task`); ``resumed`` (the
    ``last.pt`` state to continue) or ``init`` (:func:`_init_architecture`) name the weights
    of the second learning-rate group (:func:`_added_names`)."""
    rank, world, dist, owner = _distributed(device)
    if device is None:
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}" if torch.cuda.is_available() \
            else "cpu"
    dev = torch.device(device)
    if custom is not None:
        d, task = custom["data"], custom["task"]
    elif config.task == "sr":
        d = NaturalImages(config.shape, config.val_slices, 10**9 + config.seed,
                          p_leaves=SR_LEAVES if config.data == "natural-leaves" else 0.0)
        task = task_of(config)
    else:
        d = SynthData(val_samples=config.val_slices, p_noiseless=config.p_noiseless,
                      p_crisp=MIX_CRISP if config.data == "mix-crisp" else 0.0,
                      p_images=config.p_images, p_ref_noise=config.p_reference_noise,
                      p_leaves=config.p_leaves, p_ghost=config.p_ghost,
                      p_low_contrast=config.p_low_contrast,
                      p_magnified=config.p_magnified,
                      p_small_calib=config.p_small_calib) \
            if config.data in ("mix", "mix-crisp") else \
            TrainingData(config.data, config.shape, config.val_slices)
        task = task_of(config)
    torch.manual_seed(config.seed)
    net = (custom["net"] if custom is not None else build_model(config)).to(dev)
    added = _added_names(net, config, resumed, init)
    opt, sched = _adam(net, config, added)
    run = _Run(config=config, out=out, dev=dev, rank=rank, world=world, dist=dist, data=d,
               task=task, net=net,
               model=torch.nn.parallel.DistributedDataParallel(net) if dist else net,
               opt=opt, sched=sched, amp=config.amp and native_bf16(dev), added=added)
    if config.gan_weight > 0:
        disc = Discriminator().to(dev)
        opt_d, sched_d = _adam(disc, config)
        run.gan = {"disc": disc, "model": torch.nn.parallel.DistributedDataParallel(disc)
                   if dist else disc, "opt": opt_d, "sched": sched_d}
        disc.train()
    net.train()
    if rank == 0 and len(d.val):
        if isinstance(d, SynthData):
            run.val = d.val
        elif isinstance(d, TrainingData):
            run.val = _validation_data(d, config, dev)
        else:
            run.val = measure_fixed(task, d.val, config.seed, device=dev)
    return run, owner


def _adam(net: torch.nn.Module, config: TrainConfig, added: frozenset = frozenset()
          ) -> tuple[torch.optim.Optimizer, Any]:
    """Adam over ``net``'s parameters at ``config.lr``; those named in ``added`` (the weights
    an init checkpoint does not provide, :func:`_added_names`) form a second group at
    ``new_lr_scale`` times the rate."""
    params = list(net.named_parameters())
    groups = [{"params": [p for n, p in params if n not in added], "lr": config.lr}]
    if added:
        groups.append({"params": [p for n, p in params if n in added],
                       "lr": config.lr * config.new_lr_scale})
    opt = torch.optim.Adam(groups, betas=(0.9, 0.999))
    return opt, torch.optim.lr_scheduler.StepLR(opt, config.lr_halve_every, gamma=0.5)


def _init_architecture(config: TrainConfig) -> tuple[dict, dict]:
    """The checkpoint state named by ``config.init`` and its checked architecture."""
    src = config.init
    shipped = not Path(src).is_file() and src in MODELS
    state = checkpoint_state(src) if shipped else load_checkpoint(src)
    # only the architecture matters here: training settings of newer versions are ignored
    return state, check_architecture(state["config"], f"train: init={src!r}")


def _added_names(net: torch.nn.Module, config: TrainConfig, resumed: dict | None,
                 init: tuple[dict, dict] | None) -> frozenset:
    """The parameters of ``net`` that train at ``new_lr_scale`` times the rate: none unless
    the run starts from ``config.init`` with ``new_lr_scale`` != 1; a resumed run takes the
    names its ``last.pt`` recorded, so that the init file is not needed any more (a
    ``last.pt`` of an older version without them: from the init file, as at the start)."""
    if not config.init or config.new_lr_scale == 1:
        return frozenset()
    if resumed is not None and "added" in resumed:
        return frozenset(resumed["added"])
    stored = (init or _init_architecture(config))[1]
    return frozenset(_added_parameters(net.named_parameters(), stored))


def _added_parameters(params: Any, stored: dict) -> set[str]:
    """Names of the parameters (of ``params``, ``(name, tensor)`` pairs) that a run started
    from a checkpoint of architecture ``stored`` adds: residual blocks and coarse branches
    beyond the checkpoint's."""
    limits = {"blocks": stored["blocks"], "coarse": stored["scales"] - 1}
    added = set()
    for name, _ in params:
        parts = name.split(".")
        for i, part in enumerate(parts[:-1]):
            if part in limits and parts[i + 1].isdigit() and int(parts[i + 1]) >= limits[part]:
                added.add(name)
    return added


def _resume_or_init(run: _Run, resumed: dict | None, init: tuple[dict, dict] | None) -> None:
    """Continue ``resumed`` (the state of ``out/last.pt``), or copy the ``init`` weights
    (:func:`_init_architecture`), or neither."""
    last = run.out / "last.pt"
    if resumed is not None:
        state = resumed
        old = {**dataclasses.asdict(_stored_config(state, str(last))),
               "steps": run.config.steps}
        new = dataclasses.asdict(run.config)
        diff = {k: (old[k], new[k]) for k in new if _norm(old.get(k)) != _norm(new[k])}
        if diff:
            raise UsageError(f"train: resume with a different config than {last} (stored, "
                             f"given): {diff}")
        if state["step"] > run.config.steps:
            raise UsageError(f"train: {last} is at step {state['step']}, expected steps >= "
                             f"that to resume, got {run.config.steps}")
        run.net.load_state_dict(state["model"])
        run.opt.load_state_dict(state["optimizer"])
        run.sched.load_state_dict(state["scheduler"])
        if run.gan:
            run.gan["disc"].load_state_dict(state["discriminator"])
            run.gan["opt"].load_state_dict(state["d_optimizer"])
            run.gan["sched"].load_state_dict(state["d_scheduler"])
        run.step, run.history, run.best = state["step"], state["history"], state["best_snr"]
    elif run.config.init:
        _load_init(run.net, run.config, init)


def _train_step(run: _Run) -> float:
    """One optimizer step (discriminator first when the LSGAN term is on); the loss value."""
    c, dev, amp = run.config, run.dev, run.amp
    x, A, y = _sample(run)
    with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
        iterates = run.model(A, y, return_all=True)
    loss = losses.p2_loss(A, y, x, iterates, c.beta, normalized=c.loss)
    if run.gan:
        g = run.gan
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
            loss_d = losses.lsgan_d_loss(g["model"], x, iterates[-1])
        g["opt"].zero_grad(set_to_none=True)
        loss_d.backward()
        g["opt"].step()
        g["sched"].step()
        w = losses.gan_weight_at(run.step, c.gan_weight, c.gan_warmup)
        # The generator's pass uses the bare module: no second DDP forward per step; the
        # discriminator gradients it leaves are cleared before the next update.
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
            adv = losses.lsgan_g_loss(g["disc"], iterates[-1])
        loss = (1 - w) * loss + w * adv
    run.opt.zero_grad(set_to_none=True)
    loss.backward()
    run.opt.step()
    if isinstance(run.net, NeuralPGD):
        run.net.clamp_step_()
    run.sched.step()
    run.step += 1
    value = float(loss.detach())
    if not math.isfinite(value):
        raise FloatingPointError(
            f"train: loss became {value} at step {run.step}; lower --lr (now "
            f"{run.sched.get_last_lr()[0]:.3g})"
        )
    return value


def _sample(run: _Run) -> tuple[torch.Tensor, Any, torch.Tensor]:
    """This process's images ``x`` of the step and their operator and measurements
    ``(A, y)`` by the run's task; the masks (and the per-sample noise levels of the
    randomized data) come from the data source where it draws them."""
    c, dev = run.config, run.dev
    seed = [c.seed, run.step, run.rank]
    drawn = run.prefetch.get(run.step) if run.prefetch is not None else \
        _draw(run.data, c, _part(run), run.step)
    if isinstance(run.data, SynthData):  # each sample has its own mask and noise level
        x, m, sd = drawn
        x = torch.from_numpy(x).to(dev)
        return x, *run.task.measure(x, seed + [7], mask=torch.from_numpy(m).to(dev),
                                    noise_std=sd)
    if isinstance(run.data, TrainingData):
        x, m = drawn
        x = torch.from_numpy(x).to(dev)
        return x, *run.task.measure(x, seed, mask=torch.from_numpy(m).to(dev))
    x = torch.from_numpy(drawn).to(dev)
    return x, *run.task.measure(x, seed)


def _part(run: _Run) -> tuple[int, slice]:
    """The global batch size of a step and this process's share of it."""
    b = run.config.batch_size
    return b * run.world, slice(run.rank * b, (run.rank + 1) * b)


def _draw(data: Any, c: TrainConfig, part: tuple[int, slice], step: int) -> Any:
    """The NumPy arrays of this process's samples of ``step`` from ``data`` (what
    :func:`_sample` turns into tensors): a function of the step alone, so that worker
    processes can draw it ahead (:class:`~npgd.train.prefetch.Prefetcher`)."""
    size, share = part
    if isinstance(data, TrainingData):
        return data.batch(c.seed, step, size, c.accel, c.mask, share)
    return data.batch(c.seed, step, size, share)


def _validate_synth(run: _Run) -> dict:
    """Mean SNR/SSIM over the fixed randomized validation samples, each of its own size."""
    snr, ssim = [], []
    with torch.no_grad():
        for i, (x, m, sd) in enumerate(run.data.val):
            xt = torch.from_numpy(x[None]).to(run.dev)
            A, y = run.task.measure(xt, [123, i], mask=torch.from_numpy(m).to(run.dev),
                                    noise_std=np.array([sd]))
            xhat = run.net(A, y).cpu().numpy()
            snr.append(float(metrics.snr(x[None], xhat)[0]))
            ssim.append(float(metrics.ssim(x[None], xhat)[0]))
    return {"snr": float(np.mean(snr)), "ssim": float(np.mean(ssim))}


def _validation_data(d: TrainingData, cfg: TrainConfig, dev: torch.device,
                     batch: int = 16) -> list[tuple[linops.MaskedFFT, torch.Tensor]]:
    """The operators and measurements of the validation slices with fixed masks and noise,
    on ``dev``, in batches of ``batch``."""
    masks = np.stack([sample_mask(d.shape, cfg.accel, cfg.mask, 90_000 + i)
                      for i in range(len(d.val))])
    _, y = mri.simulate(d.val, masks, noise_std=cfg.noise_std, seed=cfg.seed)
    masks, y = torch.from_numpy(masks).to(dev), torch.from_numpy(np.ascontiguousarray(y)).to(dev)
    return [(linops.MaskedFFT(masks[i:i + batch]), y[i:i + batch])
            for i in range(0, y.shape[0], batch)]


def _validate(run: _Run, loss: float, seconds: float, bar: Any) -> dict | None:
    """Score the validation images (rank 0), log them in the history and keep the best
    weights in ``model.pt``; the history record (None without validation)."""
    if run.val is None:
        return None
    run.net.eval()
    if isinstance(run.data, SynthData):
        v = _validate_synth(run)
    else:
        with torch.no_grad():
            xhat = torch.cat([run.net(A, y) for A, y in run.val]).cpu().numpy()
        v = {"snr": float(metrics.snr(run.data.val, xhat).mean()),
             "ssim": float(metrics.ssim(run.data.val, xhat).mean())}
        if not isinstance(run.data, TrainingData):  # images in [0, 1]: the SR figure
            v["psnr"] = float(metrics.psnr(run.data.val, xhat).mean())
    run.net.train()
    run.history.append({"step": run.step, "loss": loss, **v, "seconds": seconds})
    if v["snr"] > run.best:
        run.best = v["snr"]
        save_checkpoint(run.out / "model.pt", {
            "format": FORMAT, "config": dataclasses.asdict(run.config),
            "model": run.net.state_dict(), "step": run.step, "validation": v})
    if bar is not None:
        bar.set_postfix(loss=f"{loss:.3g}", val_snr=f"{v['snr']:.2f}",
                        val_ssim=f"{v['ssim']:.3f}")
    return run.history[-1]


def _save_last(run: _Run) -> None:
    """``last.pt`` (everything to resume) and ``history.json``, by rank 0, each atomically."""
    if run.rank != 0:
        return
    state = {"format": FORMAT, "config": dataclasses.asdict(run.config), "step": run.step,
             "model": run.net.state_dict(), "optimizer": run.opt.state_dict(),
             "scheduler": run.sched.state_dict(), "history": run.history, "best_snr": run.best,
             "added": sorted(run.added)}
    if run.gan:
        state |= {"discriminator": run.gan["disc"].state_dict(),
                  "d_optimizer": run.gan["opt"].state_dict(),
                  "d_scheduler": run.gan["sched"].state_dict()}
    save_checkpoint(run.out / "last.pt", state)
    atomic_write(run.out / "history.json", strict_json(run.history))
    if run.val is None:  # no validation slices: model.pt is the latest weights
        save_checkpoint(run.out / "model.pt", {
            "format": FORMAT, "config": dataclasses.asdict(run.config),
            "model": run.net.state_dict(), "step": run.step})


def _progress_bar(run: _Run) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=run.config.steps, initial=run.step,
                desc="train (bf16)" if run.amp else "train", dynamic_ncols=True)


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


def _load_init(net: NeuralPGD, config: TrainConfig, init: tuple[dict, dict] | None = None
               ) -> None:
    """Copy the weights named by ``config.init`` (a checkpoint path or a shipped model name;
    ``init``: its state and architecture, :func:`_init_architecture`, when already read)
    into ``net``; a different architecture is a ValueError naming the fields that differ."""
    src = config.init
    state, stored = init or _init_architecture(config)
    theirs = model_from_state(state, f"train: init={src!r}")  # checks keys and weights
    # shared -> independent is allowed: every copy starts from the shared proximal ("untying")
    untie = stored["shared"] and not config.shared
    # batch norm -> none too: folded into the convolutions, the same eval-mode network
    fold = stored["norm"] and not config.norm
    if fold:
        theirs = fold_batch_norm(theirs)
    # fewer residual blocks -> more: the new blocks start near the identity ("deepening")
    deepen = stored["blocks"] < config.blocks
    if deepen and config.norm:
        raise ValueError(f"train: init={src!r} has {stored['blocks']} residual block(s) per "
                         f"proximal and this run {config.blocks}: adding blocks needs --no-norm")
    # fewer scales -> more: the new coarse branches start at zero (the same map)
    widen = stored["scales"] < config.scales
    # fewer iterations -> more: independent copies added after the last start as copies of
    # it, so the longer network first repeats the last proximal gradient step (a shared
    # proximal simply runs more often)
    extend = stored["iters"] < config.iters
    # no mean removal -> mean removal: the same weights, fine-tuned to the centred input
    center = not stored.get("center", False) and config.center
    allowed = {"shared": untie, "norm": fold, "blocks": deepen, "scales": widen,
               "iters": extend, "center": center,
               "floor": True}  # the level removed before the network: weights unchanged
    diff = {k: (stored[k], getattr(config, k)) for k in stored
            if _norm(stored[k]) != _norm(getattr(config, k)) and not allowed.get(k, False)}
    if diff:
        raise ValueError(f"train: init={src!r} has another architecture (theirs, ours): {diff}")

    last = f"prox.{stored['iters'] - 1}."

    def ours(key: str) -> list[str]:  # where a key of theirs goes: "prox.*" to every copy
        if untie and key.startswith("prox."):
            return [f"prox.{t}.{key[5:]}" for t in range(config.iters)]
        if extend and not stored["shared"] and key.startswith(last):
            rest = key[len(last):]
            return [key] + [f"prox.{t}.{rest}" for t in range(stored["iters"], config.iters)]
        return [key]

    weights = {k2: v for k, v in theirs.state_dict().items() for k2 in ours(k)}
    if deepen:
        _near_identity_blocks(net, stored["blocks"])
    if deepen or widen:
        weights = {**net.state_dict(), **weights}
    net.load_state_dict(weights)


#: scale of the last convolution of a block added by deepening: small enough that the deeper
#: network starts within about 1e-3 of the shallower one's output, large enough that its
#: gradient is not zero (a zero convolution before the block's ReLU would never train)
NEW_BLOCK_SCALE = 1e-3


def _near_identity_blocks(net: NeuralPGD, first: int) -> None:
    """Scale the last convolution of residual blocks ``first, first+1, ...`` of every proximal
    copy by :data:`NEW_BLOCK_SCALE` (bias zero): each such block ``z + relu(K2 relu(K1 z))``
    then nearly passes ``z`` through, so the network computes nearly what it did before the
    blocks were added and training starts from there (as in Chen et al., "Net2Net:
    Accelerating Learning via Knowledge Transfer", ICLR 2016, which adds identity layers)."""
    copies = net.prox if isinstance(net.prox, torch.nn.ModuleList) else [net.prox]
    with torch.no_grad():
        for prox in copies:
            for block in list(prox.blocks)[first:]:
                conv = [m for m in block.body if isinstance(m, torch.nn.Conv2d)][-1]
                conv.weight.mul_(NEW_BLOCK_SCALE)
                if conv.bias is not None:
                    conv.bias.zero_()


def _stored_config(state: dict, where: str) -> TrainConfig:
    """A checkpoint's config, checked, with defaults for the fields that older files lack."""
    if not isinstance(state.get("config"), dict):
        raise DataError(f"{where}: no training config stored, expected an npgd checkpoint "
                        "written by npgd train")
    # a run stores the floor it took (a float); runs written before the option had none
    config = {"floor": 0.0, **state["config"]}
    try:
        return TrainConfig.from_dict(config, where)
    except ValueError as e:
        raise DataError(str(e)) from None


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


def _any_rank(flag: int, dist: Any, dev: torch.device) -> bool:
    """Whether any process was asked to stop (so that all stop after the same step)."""
    if dist is None:
        return bool(flag)
    t = torch.tensor([float(flag)], device=dev)
    dist.all_reduce(t)
    return bool(t.item() > 0)


def _catch_signals(stop: dict) -> dict:
    """Turn SIGINT, SIGTERM and SIGHUP (a closed terminal) into a request to stop after the
    step in flight, recorded in ``stop["signum"]``; the previous handlers, to restore."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return {}

    def handler(signum: int, frame: Any) -> None:
        stop["signum"] = signum

    wanted = [signal.SIGINT, signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP")
                                                else [])
    return {s: signal.signal(s, handler) for s in wanted}


def _restore_signals(handlers: dict) -> None:
    for s, h in handlers.items():
        signal.signal(s, h)
