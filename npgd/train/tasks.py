"""Training tasks: what the network must invert, apart from the images it sees.

A task turns a batch of clean images into an operator and its measurements, ``(A, y)``,
drawing whatever is random (masks, noise) from the ``seed`` it is given, so a step's sample
depends on ``(seed, step)`` alone, as in :mod:`npgd.train.data`. :class:`MRITask` is the
single-coil MRI sampling of :mod:`npgd.problems.mri` (complex images, masked FFT);
:class:`SRTask` is the super-resolution of Mardani et al., "Neural Proximal Gradient Descent
for Compressive Imaging", NeurIPS 2018 (Sec. 5.3): block-average downsampling
(:class:`npgd.linops.Downsample`) of real images. Any other linear operator becomes a task
by writing ``measure`` (and ``channels`` and ``step``).

The training loop (:func:`npgd.train.train`, ``npgd train``) draws every step's
measurements through the task of its config (:func:`task_of`); :func:`npgd.train.train_task`
runs the same loop on any task object, network and image sampler.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import torch

from npgd import linops, priors
from npgd._util import check_int, check_positive_float
from npgd.problems import metrics, mri
from npgd.solvers.unrolled import NeuralPGD

__all__ = ["MRITask", "SRTask", "Task", "build_task_model", "evaluate_psnr", "measure_fixed",
           "task_of"]


class Task:
    """A linear inverse problem to train on: ``measure(x, seed) -> (A, y)``.

    Attributes
    ----------
    channels : int
        Image channels the proximal network takes: 2 for complex images (MRI), 1 for real
        ones.
    """

    channels: int = 2

    def measure(self, x: torch.Tensor, seed: Any,
                **draws: Any) -> tuple[linops.LinearOperator, torch.Tensor]:
        """The operator and measurements :math:`y = A x (+ v)` of a batch ``x`` of shape
        ``(B, H, W)``; every random draw comes from ``seed``, except those a data source
        made already and passes as ``draws`` (the masks of :class:`MRITask`)."""
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

    ``measure(x, seed, mask=m)`` takes masks ``(B, H, W)`` drawn by a data source instead
    (:meth:`npgd.train.data.TrainingData.batch`), and ``noise_std=s`` per-sample standard
    deviations ``(B,)`` instead of the task's one (the randomized data of
    :mod:`npgd.train.synth`).

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

    def measure(self, x: torch.Tensor, seed: Any, mask: torch.Tensor | None = None,
                noise_std: np.ndarray | None = None) -> tuple[linops.LinearOperator,
                                                              torch.Tensor]:
        from npgd.train.data import sample_mask

        self._check(x, "MRITask.measure")
        if noise_std is not None:
            if mask is None:
                raise ValueError("MRITask.measure: per-sample noise_std needs the masks too")
            A = linops.MaskedFFT(mask)
            g = np.random.default_rng(seed)
            v = (g.standard_normal(x.shape) + 1j * g.standard_normal(x.shape)) / math.sqrt(2)
            v = (v * np.reshape(noise_std, (-1,) + (1,) * (x.ndim - 1))).astype(np.complex64)
            return A, A(x) + A.mask.like(x) * torch.from_numpy(v).to(x.device)
        if mask is not None:
            return mri.simulate(x, mask, noise_std=self.noise_std, seed=seed)
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


def task_of(config: Any) -> Task:
    """The task a :class:`~npgd.train.TrainConfig` trains on: :class:`MRITask` with its
    ``accel``, ``mask`` and ``noise_std``, or :class:`SRTask` with its ``factor`` and
    ``noise_std``.

    Examples
    --------
    >>> from npgd.train import TrainConfig
    >>> task_of(TrainConfig(task="sr", factor=4))
    SRTask(factor=4, noise_std=0.0, channels=1)
    """
    if config.task == "sr":
        return SRTask(config.factor, config.noise_std)
    return MRITask(config.accel, config.mask, config.noise_std)


def measure_fixed(task: Task, images: np.ndarray, seed: int = 0, batch: int = 8,
                  device: Any = "cpu") -> list[tuple[linops.LinearOperator, torch.Tensor]]:
    """The measurements ``(A, y)`` of clean ``images`` ``(N, H, W)`` by ``task``, in batches
    of ``batch``, the batch at ``i`` drawn from ``[seed, 2**31 - 1, i]``: the same every call
    (validation and test sets).

    Examples
    --------
    >>> import numpy as np
    >>> [y.shape[0] for _, y in measure_fixed(SRTask(2), np.ones((5, 8, 8), np.float32), batch=2)]
    [2, 2, 1]
    """
    check_int("measure_fixed", "batch", batch)
    out = []
    for i in range(0, len(images), batch):
        x = torch.from_numpy(np.ascontiguousarray(images[i:i + batch])).to(device)
        out.append(task.measure(x, [seed, 2**31 - 1, i]))
    return out


def evaluate_psnr(net: NeuralPGD, task: Task, images: np.ndarray, seed: int = 0,
                  batch: int = 8) -> np.ndarray:
    """PSNR (dB, :func:`npgd.problems.metrics.psnr`) of ``net`` on each clean image of
    ``images`` ``(N, H, W)``, measured by ``task`` with the fixed draws of
    :func:`measure_fixed`, ``net`` in eval mode and without gradients.

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
    with torch.no_grad():
        xhat = [net(A, y).cpu().numpy() for A, y in measure_fixed(task, images, seed, batch, dev)]
    net.train(was_training)
    return metrics.psnr(images, np.concatenate(xhat))


def build_task_model(config: dict) -> NeuralPGD:
    """The :class:`NeuralPGD` a task-training config describes (the ``"config"`` of a
    checkpoint written by ``scripts/train_sr.py``): ``prox`` ``"resnet"``
    (:class:`~npgd.priors.ResNetProx` with ``features``, ``blocks``, ``channels``,
    ``scales``) or
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
                                 channels=c.get("channels", 2), scales=c.get("scales", 1))
    elif kind == "swish":
        prox = priors.SwishProx(kernel=c["kernel"], features=c["features"],
                                layers=c.get("layers", 5), channels=c.get("channels", 1))
    else:
        raise ValueError(f"build_task_model: prox must be 'resnet' or 'swish', got {kind!r}")
    return NeuralPGD(prox, iters=c["iters"], shared=c.get("shared", True),
                     step=c.get("step", 1.0))
