"""Training tasks: what the network must invert, apart from the images it sees.

A task turns a batch of clean images into an operator and its measurements, ``(A, y)``,
drawing whatever is random (masks, noise) from the ``seed`` it is given, so a step's sample
depends on ``(seed, step)`` alone, as in :mod:`npgd.train.data`. :class:`MRITask` is the
single-coil MRI sampling of :mod:`npgd.problems.mri` (complex images, masked FFT);
:class:`SRTask` is the super-resolution of Mardani et al., "Neural Proximal Gradient Descent
for Compressive Imaging", NeurIPS 2018 (Sec. 5.3): block-average downsampling
(:class:`npgd.linops.Downsample`) of real images. Any other linear operator becomes a task
by writing ``measure`` (and ``channels`` and ``step``).

:func:`train_task` trains a :class:`~npgd.solvers.NeuralPGD` on any task with the pieces of
the MRI training loop: the (P2) loss (:func:`npgd.train.losses.p2_loss`), Adam with the
learning rate halved on a schedule, per-step draws from ``[seed, step]``.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from npgd import linops, priors
from npgd._util import check_int, check_positive_float
from npgd.problems import metrics, mri
from npgd.solvers.unrolled import NeuralPGD
from npgd.train import losses

__all__ = ["MRITask", "SRTask", "Task", "build_task_model", "evaluate_psnr", "train_task"]


class Task:
    """A linear inverse problem to train on: ``measure(x, seed) -> (A, y)``.

    Attributes
    ----------
    channels : int
        Image channels the proximal network takes: 2 for complex images (MRI), 1 for real
        ones.
    """

    channels: int = 2

    def measure(self, x: torch.Tensor, seed: Any) -> tuple[linops.LinearOperator, torch.Tensor]:
        """The operator and measurements :math:`y = A x (+ v)` of a batch ``x`` of shape
        ``(B, H, W)``; every random draw comes from ``seed``."""
        raise NotImplementedError

    def step(self, shape: tuple[int, int]) -> float:
        """The initial gradient step :math:`1/\\|A^H A\\|` for images of ``shape``."""
        raise NotImplementedError

    def _check(self, x: Any, where: str) -> None:
        if not isinstance(x, torch.Tensor) or x.ndim != 3:
            raise ValueError(f"{where}: x must be a torch.Tensor of shape (B, H, W), got "
                             f"{getattr(x, 'shape', type(x).__name__)}")
        if x.is_complex() != (self.channels == 2):
            kind = "complex" if self.channels == 2 else "real"
            raise TypeError(f"{where}: this task takes {kind} images, got {x.dtype}")


@dataclasses.dataclass
class MRITask(Task):
    """Single-coil MRI: a fresh mask per sample (:func:`npgd.train.data.sample_mask`),
    :math:`y = M \\odot (F x + v)` with complex k-space noise of standard deviation
    ``noise_std`` (:func:`npgd.problems.mri.simulate`). Complex images, ``channels = 2``.

    Examples
    --------
    >>> import torch
    >>> task = MRITask(accel=4)
    >>> A, y = task.measure(torch.ones(2, 32, 32, dtype=torch.complex64), seed=[0, 1])
    >>> y.shape, round(float(A.mask.like(y).real.mean()), 2), task.step((32, 32))
    (torch.Size([2, 32, 32]), 0.25, 1.0)
    """

    accel: float = 5.0
    mask: str = "vd"
    noise_std: float = 0.0
    channels: int = dataclasses.field(default=2, init=False)

    def __post_init__(self) -> None:
        if check_positive_float("MRITask", "accel", self.accel) < 1:
            raise ValueError(f"MRITask: accel must be >= 1, got {self.accel!r}")
        if self.mask not in ("vd", "radial", "lines"):
            raise ValueError(f"MRITask: mask must be 'vd', 'radial' or 'lines', got {self.mask!r}")
        check_positive_float("MRITask", "noise_std", self.noise_std, allow_zero=True)

    def measure(self, x: torch.Tensor, seed: Any) -> tuple[linops.LinearOperator, torch.Tensor]:
        from npgd.train.data import sample_mask

        self._check(x, "MRITask.measure")
        rng = np.random.default_rng(seed)
        draws = rng.integers(0, 2**31, len(x))
        shape = tuple(x.shape[-2:])
        masks = np.stack([sample_mask(shape, self.accel, self.mask, int(d)) for d in draws])
        return mri.simulate(x, torch.from_numpy(masks).to(x.device), noise_std=self.noise_std,
                            seed=rng)

    def step(self, shape: tuple[int, int]) -> float:
        return 1.0


@dataclasses.dataclass
class SRTask(Task):
    """Super-resolution by ``factor``: :math:`y = S x + v`, :math:`S` the mean over
    ``factor`` × ``factor`` blocks (:class:`npgd.linops.Downsample`), :math:`v` white
    Gaussian noise of standard deviation ``noise_std``. Real images, ``channels = 1``; the
    step is :math:`1/\\|S^H S\\| = f^2`.

    Examples
    --------
    >>> import torch
    >>> task = SRTask(factor=2)
    >>> A, y = task.measure(torch.ones(3, 8, 8), seed=0)
    >>> y.shape, float(y.mean()), task.step((8, 8))
    (torch.Size([3, 4, 4]), 1.0, 4.0)
    """

    factor: int = 2
    noise_std: float = 0.0
    channels: int = dataclasses.field(default=1, init=False)

    def __post_init__(self) -> None:
        check_int("SRTask", "factor", self.factor)
        check_positive_float("SRTask", "noise_std", self.noise_std, allow_zero=True)

    def measure(self, x: torch.Tensor, seed: Any) -> tuple[linops.LinearOperator, torch.Tensor]:
        self._check(x, "SRTask.measure")
        A = linops.Downsample(tuple(x.shape[-2:]), self.factor)
        y = A(x)
        if self.noise_std > 0:
            v = np.random.default_rng(seed).standard_normal(tuple(y.shape))
            y = y + torch.from_numpy(self.noise_std * v).to(y)
        return A, y

    def step(self, shape: tuple[int, int]) -> float:
        return float(self.factor**2)


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
    """Train ``net`` in place on ``task`` with (P2); the validation history.

    Step ``s`` draws its images as ``sample(numpy.random.default_rng([seed, s]),
    batch_size)`` (an array ``(B, H, W)``, real or complex as the task takes) and its
    measurements as ``task.measure(x, [seed, s])``; the loss is (P2) over all iterates
    (:func:`npgd.train.losses.p2_loss`), minimised by Adam (betas 0.9, 0.999) with the
    learning rate halved every ``lr_halve_every`` steps. Every ``val_every`` steps and at
    the end, the PSNR of ``net`` on ``val`` (clean images ``(N, H, W)``, measured with the fixed
    draws of :func:`evaluate_psnr`) is recorded; the weights of the best validation PSNR
    are kept in ``net`` at the end (the last ones without ``val``). Each record is
    ``{"step", "loss", "psnr", "seconds"}``, also passed to ``log``; ``log`` returning True
    stops the training there (a time budget, early stopping).

    Examples
    --------
    >>> import numpy as np
    >>> from npgd import priors, solvers
    >>> net = solvers.NeuralPGD(priors.ResNetProx(features=4, channels=1), iters=2, step=4.0)
    >>> def sample(rng, n):
    ...     return rng.random((n, 16, 16), dtype=np.float32)
    >>> hist = train_task(net, SRTask(2), sample, steps=3, batch_size=2,
    ...                   val=sample(np.random.default_rng(9), 2), val_every=3)
    >>> [h["step"] for h in hist]
    [3]
    """
    steps = check_int("train_task", "steps", steps)
    batch_size = check_int("train_task", "batch_size", batch_size)
    check_int("train_task", "val_every", val_every)
    check_int("train_task", "lr_halve_every", lr_halve_every)
    check_positive_float("train_task", "lr", lr)
    if not 0 <= beta <= 1:
        raise ValueError(f"train_task: beta must be in [0, 1], got {beta!r}")
    dev = next(net.parameters()).device
    opt = torch.optim.Adam(net.parameters(), lr=lr, betas=(0.9, 0.999))
    sched = torch.optim.lr_scheduler.StepLR(opt, lr_halve_every, gamma=0.5)
    history: list[dict] = []
    best, best_state, t0, loss_avg = -math.inf, None, time.perf_counter(), math.nan
    net.train()
    for s in range(steps):
        x = torch.from_numpy(np.ascontiguousarray(sample(np.random.default_rng([seed, s]),
                                                         batch_size))).to(dev)
        A, y = task.measure(x, [seed, s])
        loss = losses.p2_loss(A, y, x, net(A, y, return_all=True), beta)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        value = float(loss.detach())
        if not math.isfinite(value):
            raise FloatingPointError(f"train_task: loss became {value} at step {s + 1}; "
                                     "lower lr")
        loss_avg = value if s == 0 else 0.95 * loss_avg + 0.05 * value
        if val is not None and ((s + 1) % val_every == 0 or s + 1 == steps):
            score = float(evaluate_psnr(net, task, val, seed).mean())
            rec = {"step": s + 1, "loss": loss_avg, "psnr": score,
                   "seconds": time.perf_counter() - t0}
            history.append(rec)
            if score > best:
                best = score
                best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            if log is not None and log(rec):
                break
    if best_state is not None:
        net.load_state_dict(best_state)
    return history


def evaluate_psnr(net: NeuralPGD, task: Task, images: np.ndarray, seed: int = 0,
                  batch: int = 8) -> np.ndarray:
    """PSNR (dB, :func:`npgd.problems.metrics.psnr`) of ``net`` on each clean image of
    ``images`` ``(N, H, W)``, measured by ``task`` with the fixed seed ``[seed, 2**31 - 1]``
    (the same draws at every call), ``net`` in eval mode and without gradients.

    Examples
    --------
    >>> import numpy as np
    >>> from npgd import priors, solvers
    >>> net = solvers.NeuralPGD(priors.ResNetProx(features=4, channels=1), iters=2, step=4.0)
    >>> evaluate_psnr(net, SRTask(2), np.ones((3, 8, 8), np.float32)).shape
    (3,)
    """
    dev = next(net.parameters()).device
    was_training = net.training
    net.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(images), batch):
            x = torch.from_numpy(np.ascontiguousarray(images[i:i + batch])).to(dev)
            A, y = task.measure(x, [seed, 2**31 - 1, i])
            out.append(metrics.psnr(x, net(A, y)))
    net.train(was_training)
    return np.concatenate(out)


def build_task_model(config: dict) -> NeuralPGD:
    """The :class:`NeuralPGD` a task-training config describes (the ``"config"`` of a
    checkpoint written by ``scripts/train_sr.py``): ``prox`` ``"resnet"``
    (:class:`~npgd.priors.ResNetProx` with ``features``, ``blocks``, ``channels``) or
    ``"swish"`` (:class:`~npgd.priors.SwishProx` with ``kernel``, ``features``, ``layers``,
    ``channels``), unrolled ``iters`` times with ``shared`` weights and the initial ``step``.

    Examples
    --------
    >>> net = build_task_model({"prox": "swish", "kernel": 8, "features": 4, "layers": 5,
    ...                         "channels": 1, "iters": 25, "shared": True, "step": 4.0})
    >>> net.iters, type(net.prox).__name__, float(net.step.detach())
    (25, 'SwishProx', 4.0)
    """
    c = dict(config)
    kind = c.get("prox", "resnet")
    if kind == "resnet":
        prox = priors.ResNetProx(features=c["features"], blocks=c.get("blocks", 1),
                                 channels=c.get("channels", 2))
    elif kind == "swish":
        prox = priors.SwishProx(kernel=c["kernel"], features=c["features"],
                                layers=c.get("layers", 5), channels=c.get("channels", 1))
    else:
        raise ValueError(f"build_task_model: prox must be 'resnet' or 'swish', got {kind!r}")
    return NeuralPGD(prox, iters=c["iters"], shared=c.get("shared", True),
                     step=c.get("step", 1.0))
