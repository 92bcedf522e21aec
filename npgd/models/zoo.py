"""Models: a :class:`~npgd.solvers.NeuralPGD` from its config, from a checkpoint, or shipped.

The config of a model is a dict (or a dataclass such as
:class:`npgd.train.TrainConfig`) with the architecture keys ``features``, ``blocks``,
``iters``, ``shared``, ``norm`` (batch norm in the residual blocks; ``True`` where an older
file lacks it) and ``data_consistency``, and ``task`` (``"mri"``, the default: complex
images, two channels; ``"sr"``: real images, one channel, with ``factor``); other keys (the
training settings stored next to them) are ignored here. The shipped models live in
``npgd/models/weights`` and are read without executing code
(:func:`npgd.models.checkpoint.load_checkpoint`).
"""

from __future__ import annotations

import copy
import dataclasses
import os
from collections.abc import Sequence
from importlib import resources
from typing import Any

import numpy as np
import torch

from npgd._util import check_int
from npgd.models.checkpoint import FORMAT, load_checkpoint, save_checkpoint
from npgd.priors.learned import ResNetProx, check_floor
from npgd.solvers.unrolled import NeuralPGD

__all__ = ["DEFAULT_MODEL", "MODELS", "architecture", "average_models", "build_model",
           "check_architecture", "checkpoint_state", "load_model", "model_from_state",
           "pretrained", "save_model"]

#: name -> (file in ``npgd/models/weights``, what it is)
MODELS = {
    "mri-general": (
        "mri-general.pt",
        "NeuralPGD, 12 independent copies x 1 residual block (48 features, no batch norm) "
        "with coarse branches at 1/2 and 1/4 of the image size (3 scales): mri-brain-5x "
        "fine-tuned on CPU on domain-randomized data (npgd.train.synth: real volumes, label "
        "synthesis, natural images, crisp piecewise-constant scenes, any orientation, size, "
        "contrast, phase, noise, 2.5-9x variable-density/radial/line masks) with the "
        "log-normalized (P2) loss, the last stages with 60 % noiseless samples, the fifth "
        "with the coarse branches added, the sixth the average of two fine-tunings of the "
        "fifth (dead-leaves images; more noisy samples), the seventh the sixth lengthened "
        "from 10 to 12 iterations and fine-tuned, the eighth the seventh with a floor level "
        "removed by every proximal (ResNetProx floor=0.001), the ninth the eighth "
        "fine-tuned with its floor and averaged over 17 checkpoints of that run; the "
        "default model; see "
        "npgd/models/weights/README.md",
    ),
    "mri-brain-5x": (
        "mri-brain-5x.pt",
        "NeuralPGD, 10 independent copies x 1 residual block (48 features), trained on CPU "
        "(3.7 h, three stages: shared weights, then untied) on the embedded ch2better training "
        "slices (MNI z < +10 mm) with fresh 5x variable-density masks; see "
        "npgd/models/weights/README.md",
    ),
    "sr-2x": (
        "sr-2x.pt",
        "NeuralPGD for 2x super-resolution (block averaging, npgd.linops.Downsample) of real "
        "images: 5 shared copies x 1 residual block (32 features, one channel), trained on CPU "
        "on crops of scikit-image's training images, its faces and brain training slices "
        "(npgd train --task sr); about TV's quality, not above it; see "
        "npgd/models/weights/README.md",
    ),
    "sr-4x": (
        "sr-4x.pt",
        "NeuralPGD for 4x super-resolution (block averaging, npgd.linops.Downsample) of real "
        "images: 4 independent copies x 2 residual blocks (64 features, no batch norm, one "
        "channel), trained on CPU on crops of scikit-image's training images, its faces and "
        "brain training slices (npgd train --task sr), in three stages; see "
        "npgd/models/weights/README.md",
    ),
}

#: The model :func:`pretrained` returns without a name.
DEFAULT_MODEL = "mri-general"

#: Architecture defaults (those of :class:`npgd.train.TrainConfig`) for keys a config omits.
_DEFAULTS = {"features": 128, "blocks": 1, "iters": 10, "shared": True,
             "data_consistency": "gradient"}

#: Upper bounds on what a config (a checkpoint's included) may ask for, checked before
#: anything is allocated: a crafted file cannot ask for petabytes or a million iterations.
MAX_FEATURES, MAX_BLOCKS, MAX_ITERS, MAX_PARAMETERS = 1024, 64, 100, 50_000_000
MAX_SCALES = 8

#: Image channels of each task's proximal: complex MRI images as (real, imaginary), real
#: super-resolution images as one.
_CHANNELS = {"mri": 2, "sr": 1}


def check_architecture(config: Any, where: str = "config") -> dict:
    """The architecture keys of ``config`` (a dict or dataclass), checked: ``features`` in
    [1, 1024], ``blocks`` in [1, 64], ``iters`` in [1, 100], ``shared`` a bool,
    ``data_consistency`` ``"gradient"`` or ``"hard"``, and at most 50 million parameters,
    counted from these numbers before anything is allocated (about
    :math:`c\\,(18(b + s - 1) + 2)\\,f^2` for ``c`` copies of ``b`` blocks and ``s`` scales
    of ``f`` features). Other keys are ignored; ``norm`` (batch norm in the residual blocks,
    a bool; ``True`` where a config lacks it, as files written before the option do),
    ``scales`` (the resolutions of the proximal, in [1, 8]; 1 where a config lacks it),
    ``center`` (the proximal removes each sample's mean, :class:`npgd.priors.ResNetProx`; a
    bool, ``False`` where a config lacks it), ``floor`` (the quantile whose level the
    proximal removes where positive, in [0, 0.5); 0 where a config lacks it) and ``task``
    (``"mri"`` or ``"sr"``, the image channels, ``"mri"`` where a config lacks it) are
    returned too. Raises ValueError
    naming ``where``, the key and the expected range; a missing key is named too.

    Examples
    --------
    >>> check_architecture({"features": 8, "blocks": 1, "iters": 2, "shared": True,
    ...                     "data_consistency": "gradient"})["iters"]
    2
    >>> check_architecture({"features": 10**7, "blocks": 1, "iters": 2, "shared": True,
    ...                     "data_consistency": "gradient"}, "m.pt")
    Traceback (most recent call last):
    ...
    ValueError: m.pt: features must be an int in [1, 1024], got 10000000
    """
    c = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else config
    if not isinstance(c, dict):
        raise ValueError(f"{where}: the config must be a dict, got {type(c).__name__}")
    missing = [k for k in _DEFAULTS if k not in c]
    if missing:
        raise ValueError(f"{where}: the config lacks {', '.join(missing)} (an npgd model "
                         f"config names {', '.join(_DEFAULTS)})")
    arch = {"features": check_int(where, "features", c["features"], 1, MAX_FEATURES),
            "blocks": check_int(where, "blocks", c["blocks"], 1, MAX_BLOCKS),
            "iters": check_int(where, "iters", c["iters"], 1, MAX_ITERS),
            "shared": c["shared"], "data_consistency": c["data_consistency"]}
    if not isinstance(arch["shared"], bool):
        raise ValueError(f"{where}: shared must be True or False, got {arch['shared']!r}")
    # files written before the option have batch norm in every residual block
    arch["norm"] = c.get("norm", True)
    if not isinstance(arch["norm"], bool):
        raise ValueError(f"{where}: norm must be True or False, got {arch['norm']!r}")
    # files written before the option work at one resolution
    arch["scales"] = check_int(where, "scales", c.get("scales", 1), 1, MAX_SCALES)
    # files written before the option do not remove the mean (ResNetProx center)
    arch["center"] = c.get("center", False)
    if not isinstance(arch["center"], bool):
        raise ValueError(f"{where}: center must be True or False, got {arch['center']!r}")
    # files written before the option remove no floor (ResNetProx floor); None (a training
    # config that takes its --init file's) builds as 0 until resolved
    floor = c.get("floor", 0.0)
    arch["floor"] = check_floor(where, 0.0 if floor is None else floor)
    if arch["floor"] and arch["center"]:
        raise ValueError(f"{where}: floor and center exclude each other (one level is "
                         "removed: the mean or the floor)")
    arch["task"] = c.get("task", "mri")
    if arch["task"] not in _CHANNELS:
        raise ValueError(f"{where}: task must be 'mri' or 'sr', got {arch['task']!r}")
    if arch["data_consistency"] not in ("gradient", "hard"):
        raise ValueError(f"{where}: data_consistency must be 'gradient' or 'hard', got "
                         f"{arch['data_consistency']!r}")
    f, copies = arch["features"], 1 if arch["shared"] else arch["iters"]
    params = copies * ((18 * (arch["blocks"] + arch["scales"] - 1) + 2) * f * f + 40 * f)
    if params > MAX_PARAMETERS:
        raise ValueError(f"{where}: this architecture has about {params:.3g} parameters, more "
                         f"than the {MAX_PARAMETERS:.0e} allowed; use fewer features, blocks "
                         "or shared weights")
    return arch


def build_model(config: Any) -> NeuralPGD:
    """The :class:`NeuralPGD` of a config: ``ResNetProx(features, blocks, scales)`` unrolled
    ``iters`` times, ``shared`` weights or one proximal per iteration. ``task="sr"`` takes
    real images (one channel) and starts its step at :math:`1/\\|S^H S\\| = f^2` for the block
    average :math:`S` by ``factor`` :math:`f`; MRI at 1.

    ``config`` is a dict or a dataclass instance (e.g. :class:`npgd.train.TrainConfig`);
    missing architecture keys take their defaults, other keys are ignored, and the values are
    checked by :func:`check_architecture`.

    Examples
    --------
    >>> net = build_model({"features": 8, "iters": 2})
    >>> net.iters, type(net.prox).__name__
    (2, 'ResNetProx')
    >>> sr = build_model({"features": 8, "iters": 2, "task": "sr", "factor": 4})
    >>> sr.prox.channels, float(sr.step.detach())
    (1, 16.0)
    """
    c = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config)
    arch = check_architecture({**_DEFAULTS, **c}, "build_model")
    prox = ResNetProx(features=arch["features"], blocks=arch["blocks"],
                      channels=_CHANNELS[arch["task"]], norm=arch["norm"],
                      scales=arch["scales"], center=arch["center"], floor=arch["floor"])
    step = 1.0
    if arch["task"] == "sr":
        step = float(check_int("build_model", "factor", c.get("factor", 2), 1)) ** 2
    return NeuralPGD(prox, iters=arch["iters"], shared=arch["shared"], step=step,
                     data_consistency=arch["data_consistency"])


def architecture(net: NeuralPGD) -> dict:
    """The config of a built network, read off its modules: ``features``, ``blocks``,
    ``scales``, ``iters``, ``shared``, ``norm``, ``center``, ``floor``, ``data_consistency``
    and ``task`` (``"sr"`` for a one-channel proximal), such that
    ``build_model(architecture(net))`` has the same parameters (names and shapes) as ``net``.

    Examples
    --------
    >>> cfg = {"features": 8, "blocks": 2, "iters": 3, "shared": False, "norm": False}
    >>> arch = architecture(build_model(cfg))
    >>> arch["blocks"], arch["shared"], arch["norm"], arch["task"]
    (2, False, False, 'mri')
    """
    if not isinstance(net, NeuralPGD):
        raise TypeError(f"architecture: net must be a NeuralPGD, got {type(net).__name__}")
    prox = net.prox if net.shared else net.prox[0]
    if not isinstance(prox, ResNetProx):
        raise TypeError("architecture: the proximal must be a ResNetProx (npgd.models "
                        f"builds only those), got {type(prox).__name__}")
    task = {c: t for t, c in _CHANNELS.items()}[prox.channels]
    return {"features": prox.head.out_channels, "blocks": len(prox.blocks),
            "scales": prox.scales, "iters": net.iters, "shared": net.shared, "norm": prox.norm,
            "center": prox.center, "floor": prox.floor,
            "data_consistency": net.data_consistency, "task": task}


def save_model(net: NeuralPGD, path: str | os.PathLike, *, factor: int | None = None,
               **info: Any) -> None:
    """Write ``net`` as an npgd checkpoint that :func:`load_model`, ``npgd eval
    --checkpoint`` and ``npgd train --init`` read: its :func:`architecture` as the config,
    its weights (on the CPU) and ``info`` (numbers, strings, lists, dicts: where it came
    from) stored beside them, atomically (:func:`npgd.models.checkpoint.save_checkpoint`).
    A super-resolution network needs its ``factor`` (the network does not hold it). Use it
    for a network fine-tuned or adapted in Python (:func:`npgd.train.adapt.adapt`).

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "mine.pt")
    >>> net = build_model({"features": 8, "iters": 2})
    >>> save_model(net, p, note="an example")
    >>> back = load_model(p)
    >>> all(torch.equal(a, b) for a, b in zip(net.state_dict().values(),
    ...                                        back.state_dict().values()))
    True
    >>> load_checkpoint(p)["info"]
    {'note': 'an example'}
    """
    config = architecture(net)
    if config["task"] == "sr":
        config["factor"] = check_int("save_model", "factor", factor, 2)
    elif factor is not None:
        raise ValueError(f"save_model: factor is for super-resolution networks; this one "
                         f"reconstructs {config['task']!r}, got factor={factor!r}")
    weights = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
    save_checkpoint(path, {"format": FORMAT, "config": config, "model": weights,
                           "info": dict(info)})


def fold_batch_norm(net: NeuralPGD) -> NeuralPGD:
    """A copy of ``net`` whose :class:`~npgd.priors.ResNetProx` proximals hold no batch norm,
    each folded into its convolution (:meth:`~npgd.priors.ResNetProx.fold_norm`): it
    computes ``net``'s eval-mode reconstruction, a little faster, and trains as it evaluates.
    ``npgd train --init`` of a batch-norm model into a ``--no-norm`` run starts from it.

    Examples
    --------
    >>> import torch
    >>> from npgd import linops
    >>> net = build_model({"features": 4, "iters": 2, "task": "sr"}).eval()
    >>> A = linops.Downsample((8, 8), 2)
    >>> y = A(torch.rand(1, 8, 8))
    >>> bool(torch.allclose(fold_batch_norm(net)(A, y), net(A, y), atol=1e-6))
    True
    """
    if not isinstance(net, NeuralPGD):
        raise TypeError(f"fold_batch_norm: net must be a NeuralPGD, got {type(net).__name__}")
    out = copy.deepcopy(net)
    proxes = [out.prox] if net.shared else list(out.prox)
    if not all(isinstance(p, ResNetProx) for p in proxes):
        raise TypeError("fold_batch_norm: net's proximal must be a ResNetProx, got "
                        f"{type(proxes[0]).__name__}")
    folded = [p.fold_norm() for p in proxes]
    out.prox = folded[0] if net.shared else torch.nn.ModuleList(folded)
    return out


def average_models(nets: Sequence[NeuralPGD],
                   weights: Sequence[float] | None = None) -> NeuralPGD:
    """The weighted average of networks of one architecture, parameter by parameter (a
    "model soup": Wortsman et al., "Model soups: averaging weights of multiple fine-tuned
    models improves accuracy without increasing inference time", ICML 2022):

    .. math:: \\theta = \\sum_i w_i \\theta_i, \\qquad w_i \\ge 0, \\quad \\sum_i w_i = 1.

    Averaging is meaningful for networks fine-tuned from one parent (they stay in one basin
    of the loss); for unrelated networks it gives nonsense. ``weights`` default to equal;
    they must be non-negative and sum to 1. Sums are taken in float64 and rounded once to
    each parameter's dtype; integer buffers (batch-norm counters) are taken from the first
    network. A new network in eval mode on the CPU; the inputs are not changed.

    Examples
    --------
    >>> a = build_model({"features": 4, "iters": 2})
    >>> b = build_model({"features": 4, "iters": 2})
    >>> with torch.no_grad():
    ...     _ = a.step.fill_(1.0), b.step.fill_(0.5)
    >>> average_models([a, b]).step.item(), average_models([a, b], [0.75, 0.25]).step.item()
    (0.75, 0.875)
    """
    nets = list(nets)
    if len(nets) < 2 or not all(isinstance(n, NeuralPGD) for n in nets):
        raise TypeError("average_models: nets must be two or more NeuralPGD networks, got "
                        f"{[type(n).__name__ for n in nets]}")
    w = np.full(len(nets), 1.0 / len(nets)) if weights is None else \
        np.asarray(weights, dtype=np.float64)
    if w.shape != (len(nets),) or not np.isfinite(w).all() or (w < 0).any() \
            or abs(w.sum() - 1) > 1e-9:
        raise ValueError(f"average_models: weights must be {len(nets)} non-negative numbers "
                         f"summing to 1, got {weights!r}")
    arch = architecture(nets[0])
    for i, n in enumerate(nets[1:], 1):
        if architecture(n) != arch:
            raise ValueError(f"average_models: nets[{i}] has architecture {architecture(n)}, "
                             f"nets[0] {arch}; only networks of one architecture average")
    states = [{k: v.detach().cpu() for k, v in n.state_dict().items()} for n in nets]
    mean = {k: (sum(float(wi) * st[k].double() for wi, st in zip(w, states, strict=True))
                .to(v.dtype)
                if v.is_floating_point() else v.clone())
            for k, v in states[0].items()}
    out = copy.deepcopy(nets[0]).cpu()
    out.load_state_dict(mean)
    return out.eval()


def model_from_state(state: dict, where: str = "checkpoint",
                     task: str | None = None) -> NeuralPGD:
    """The :class:`NeuralPGD` of a loaded checkpoint dict (see
    :func:`~npgd.models.checkpoint.load_checkpoint`), in eval mode on the CPU; ``where``
    names the source in errors. With ``task`` (``"mri"`` or ``"sr"``), a model trained for
    another task is a ValueError saying which.

    Examples
    --------
    >>> cfg = {"features": 8, "blocks": 1, "iters": 2, "shared": True,
    ...        "data_consistency": "gradient"}
    >>> state = {"config": cfg, "model": build_model(cfg).state_dict()}
    >>> model_from_state(state).iters
    2
    """
    if "config" not in state or "model" not in state:
        raise ValueError(f"{where} has no model (keys: {sorted(state)})")
    arch = check_architecture(state["config"], where)
    if task is not None and arch["task"] != task:
        what = repr(arch["task"])
        if arch["task"] == "sr":
            what += f" (factor {state['config'].get('factor', 2)})"
        raise ValueError(f"{where} is a model for task {what}, expected one for {task!r} "
                         "(npgd train --task)")
    weights = state["model"]
    if not isinstance(weights, dict) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in weights.items()):
        raise ValueError(f"{where}: its weights must be a dict of named tensors")
    bad = [k for k, v in weights.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise ValueError(f"{where}: weights hold NaN or Inf ({', '.join(bad[:3])}"
                         f"{', ...' if len(bad) > 3 else ''}); the file is damaged or its "
                         "training diverged")
    net = build_model({**arch, "factor": state["config"].get("factor", 2)})
    try:
        net.load_state_dict(state["model"])
    except RuntimeError as e:
        raise ValueError(
            f"{where}: its weights do not fit the architecture its config describes ({e})"
        ) from None
    return net.eval()


def load_model(path: str | os.PathLike, map_location: str | torch.device = "cpu",
               task: str | None = None) -> NeuralPGD:
    """The trained :class:`NeuralPGD` of a checkpoint (``last.pt`` or ``model.pt``), in eval
    mode, for the task its config names (``npgd train --task``); with ``task``, a checkpoint
    of another task is a ValueError (an SR model where an MRI one is needed).

    Examples
    --------
    >>> import tempfile, os
    >>> from npgd.models.checkpoint import FORMAT, save_checkpoint
    >>> p = os.path.join(tempfile.mkdtemp(), "model.pt")
    >>> cfg = {"features": 8, "blocks": 1, "iters": 2, "shared": True,
    ...        "data_consistency": "gradient"}
    >>> save_checkpoint(p, {"format": FORMAT, "config": cfg,
    ...                     "model": build_model(cfg).state_dict()})
    >>> load_model(p).iters
    2
    >>> load_model(p, task="sr")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: ... is a model for task 'mri', expected one for 'sr' (npgd train --task)
    """
    return model_from_state(load_checkpoint(path), str(path), task).to(map_location)


def pretrained(name: str | None = None, map_location: Any = "cpu",
               task: str | None = None) -> NeuralPGD:
    """A shipped, trained :class:`npgd.solvers.NeuralPGD`, in eval mode.

    ``"mri-general"`` (the default, :data:`DEFAULT_MODEL`): single-coil MRI of any anatomy,
    contrast, orientation and size, 3x to 8x, variable-density, radial or line masks,
    noiseless to 20 dB k-space SNR, trained on the randomized data of
    :mod:`npgd.train.synth`. ``"mri-brain-5x"``: trained on one T1 brain template at 5x
    variable-density undersampling; better on clean T1 brain slices, worse elsewhere (see the
    docs page "The general MRI model"). Both are convolutional and scale-equivariant: images
    of any size and intensity scale. ``"sr-2x"``: 2x super-resolution of real images, called
    with :class:`npgd.linops.Downsample` (``net(Downsample(shape, 2), y)``); ``"sr-4x"`` the
    same at 4x (``net(Downsample(shape, 4), y)``). Training commands
    and validation figures are in ``npgd/models/weights/README.md``. With ``task``
    (``"mri"`` or ``"sr"``), a model of another task is a ValueError naming both, before any
    work is done with it.

    Examples
    --------
    >>> net = pretrained()
    >>> net.iters, net.shared
    (12, False)
    >>> pretrained("mri-brain-5x").iters
    10
    >>> import torch
    >>> from npgd import linops
    >>> x = torch.rand(1, 32, 32)
    >>> A = linops.Downsample((32, 32), 2)
    >>> pretrained("sr-2x")(A, A(x)).shape
    torch.Size([1, 32, 32])
    >>> pretrained("sr-2x", task="mri")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: sr-2x is a model for task 'sr'..., expected one for 'mri' (npgd train --task)
    """
    name = DEFAULT_MODEL if name is None else name
    return model_from_state(checkpoint_state(name, "pretrained"), name, task).to(map_location)


def checkpoint_state(name: str, caller: str = "checkpoint_state") -> dict:
    """The checkpoint dict (config, weights, validation figures) of the shipped model ``name``,
    read with ``torch.load(weights_only=True)``.

    Examples
    --------
    >>> checkpoint_state("mri-brain-5x")["config"]["features"] > 0
    True
    """
    if name not in MODELS:
        raise ValueError(f"{caller}: unknown model {name!r}; available: {sorted(MODELS)}")
    with resources.as_file(resources.files("npgd.models").joinpath("weights", MODELS[name][0])) \
            as path:
        return load_checkpoint(path)
