"""Scan-specific self-supervised adaptation of a trained network to the measurements at hand.

A learned proximal trained on other images can lose to tuned CS on a user's scans (another
anatomy, contrast or sequence). :func:`adapt` fine-tunes a copy of the network on the
measured k-space of the scans being reconstructed, with no ground truth, by splitting the
sampled locations (Yaman et al., "Self-supervised learning of physics-guided reconstruction
neural networks without fully sampled reference data" (SSDU), Magn. Reson. Med. 2020, and
"Zero-shot self-supervised learning for MRI reconstruction" (ZS-SSL), ICLR 2022):

- a fixed validation part :math:`\\Gamma` of the sampled set :math:`\\Omega` is never trained
  on; it scores the network fed with :math:`\\Omega \\setminus \\Gamma` and picks the weights
  (early stopping, so that the network does not learn to reproduce the noise);
- at each step a random part :math:`\\Lambda` of :math:`\\Omega \\setminus \\Gamma` is held
  out, the network reconstructs from the rest :math:`\\Theta`, and the loss compares its
  k-space on :math:`\\Lambda` with the measurements there,

  .. math:: L = \\frac{\\|y_\\Lambda - A_\\Lambda \\hat x\\|_2}{\\|y_\\Lambda\\|_2}
              + \\frac{\\|y_\\Lambda - A_\\Lambda \\hat x\\|_1}{\\|y_\\Lambda\\|_1},
            \\qquad \\hat x = f_\\theta(A_\\Theta, y_\\Theta),

  per slice, averaged. The centre of k-space (a box of ``centre`` times the matrix size) is
  never held out, so every input keeps its low frequencies.

Thinning :math:`\\Omega` uniformly keeps the variable-density profile of the mask at a higher
acceleration, which the randomized training data of :mod:`npgd.train.synth` covers. The
adapted network then reconstructs from all of :math:`\\Omega`.

Only operators with a sampling mask can be split: :class:`npgd.linops.MaskedFFT` and
:class:`npgd.linops.Sense` with a mask.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from npgd import linops
from npgd._optional import require
from npgd._util import UsageError, check_int, check_positive_float

torch = require("torch", "torch", "npgd.train (training neural PGD)")

from npgd.solvers.unrolled import NeuralPGD  # noqa: E402  (after the torch check)

__all__ = ["adapt", "adapted"]


def _sampling(A: linops.LinearOperator, y: torch.Tensor) -> tuple[torch.Tensor, Any, int]:
    """The mask of ``A`` as a bool tensor ``(N, H, W)``, its maps (Sense: ``(C, H, W)`` or
    one set per slice ``(N, C, H, W)``; None otherwise) and the number of core axes of ``y``
    (2, or 3 with coils)."""
    if isinstance(A, linops.MaskedFFT):
        mask, maps, core = A.mask.like(y), None, 2
    elif isinstance(A, linops.Sense) and A.mask_shape:
        mask, maps, core = A.fft.mask.like(y)[..., 0, :, :], A.maps.like(y), 3
    else:
        raise UsageError(
            "adapt: A must be a linops.MaskedFFT or a linops.Sense with a mask (the sampled "
            f"k-space locations are split), got {type(A).__name__}")
    if y.ndim < core:
        raise ValueError(f"adapt: y must have shape (*batch, {'C, ' if core == 3 else ''}H, W) "
                         f"for {type(A).__name__}, got {tuple(y.shape)}")
    if not bool(((mask == 0) | (mask == 1)).all()):
        raise UsageError("adapt: the mask of A must be 0/1 (sampled or not), got weights; the "
                         "sampled locations are what is split")
    n = int(np.prod(y.shape[:-core], dtype=int))
    mask = torch.broadcast_to(mask, (*y.shape[:-core], *y.shape[-2:])).reshape(n, *y.shape[-2:])
    if maps is not None and maps.ndim > 3:
        maps = torch.broadcast_to(maps, (*y.shape[:-3], *maps.shape[-3:])).reshape(
            n, *maps.shape[-3:])
    return mask != 0, maps, core


def _operator(mask: torch.Tensor, maps: Any, idx: Any) -> linops.LinearOperator:
    """The sampling of slices ``idx`` with ``mask`` (already those slices' masks)."""
    if maps is None:
        return linops.MaskedFFT(mask)
    return linops.Sense(maps if maps.ndim == 3 else maps[idx], mask)


def adapt(
    net: torch.nn.Module,
    A: linops.LinearOperator,
    y: Any,
    *,
    steps: int = 100,
    lr: float = 1e-4,
    holdout: float = 0.4,
    val: float = 0.2,
    centre: float = 0.04,
    batch: int = 4,
    val_every: int = 5,
    patience: int = 6,
    seed: int = 0,
    log: Callable[[str], Any] | None = None,
) -> tuple[torch.nn.Module, dict]:
    """A copy of ``net`` fine-tuned on the measurements ``y = A x`` themselves, and its
    history. ``net`` is left as it was. With :math:`\\Omega` the sampled set, :math:`\\Gamma`
    a fixed validation part of it and, at each step, :math:`\\Lambda` a random part of
    :math:`\\Omega \\setminus \\Gamma` and :math:`\\Theta = \\Omega \\setminus (\\Gamma \\cup
    \\Lambda)`, Adam minimizes

    .. math:: \\frac{\\|y_\\Lambda - A_\\Lambda f_\\theta(A_\\Theta, y_\\Theta)\\|_2}
              {\\|y_\\Lambda\\|_2} + \\frac{\\|y_\\Lambda - A_\\Lambda
              f_\\theta(A_\\Theta, y_\\Theta)\\|_1}{\\|y_\\Lambda\\|_1}

    (per slice, averaged) and keeps the weights with the lowest such loss on :math:`\\Gamma`
    for the input :math:`\\Omega \\setminus \\Gamma` (module docstring).

    Parameters
    ----------
    net : torch.nn.Module
        A trained reconstruction network called ``net(A, y)`` (:class:`npgd.solvers.NeuralPGD`,
        e.g. ``npgd.problems.pretrained()``). It is adapted in eval mode: batch norm, where a
        network has it, keeps its running statistics.
    A : MaskedFFT or Sense
        The sampling operator of ``y``, one mask per slice or one for all.
    y : array
        Measured k-space ``(*batch, H, W)`` (``(*batch, C, H, W)`` for Sense), NumPy or Torch;
        every slice is used, none needs a reference image.
    steps : int
        Most optimizer steps (Adam, learning rate ``lr``); fewer when the validation loss has
        not improved for ``patience`` checks.
    holdout, val : float
        Fractions of the sampled locations held out per step (:math:`\\Lambda`) and for
        validation (:math:`\\Gamma`), both in (0, 1) with ``holdout + val < 1``.
    centre : float
        Half-width of the never-held-out centre box, as a fraction of each matrix size.
    batch : int
        Slices per step (drawn at random when there are more).
    val_every : int
        Steps between validation checks (on up to 8 slices spread over the set).
    seed : int
        Seed of the splits and the slice draws: the same call gives the same network.

    Returns
    -------
    net : torch.nn.Module
        The adapted copy (eval mode) with the weights of the best validation check
        (``net`` itself, copied, when no step improved on it).
    history : dict
        ``val_loss`` per check (the first before any step), ``best_step``, ``steps`` run and
        ``seconds``.

    Examples
    --------
    >>> import numpy as np
    >>> from npgd import linops
    >>> from npgd.models import build_model
    >>> from npgd.problems import mri
    >>> net = build_model({"features": 4, "iters": 2}).eval()
    >>> A = linops.MaskedFFT(mri.vd_mask((24, 24), 3, seed=0))
    >>> y = A(np.random.default_rng(0).standard_normal((2, 24, 24)).astype(np.complex64))
    >>> tuned, hist = adapt(net, A, y, steps=4, val_every=2)
    >>> tuned is net, len(hist["val_loss"]), hist["steps"]
    (False, 3, 4)
    """
    check_int("adapt", "steps", steps, 0)
    check_int("adapt", "batch", batch)
    check_int("adapt", "val_every", val_every)
    check_int("adapt", "patience", patience)
    check_positive_float("adapt", "lr", lr)
    for name, v in (("holdout", holdout), ("val", val)):
        if not 0 < check_positive_float("adapt", name, v) < 1:
            raise ValueError(f"adapt: {name} must be in (0, 1), got {v!r}")
    if holdout + val >= 1:
        raise ValueError(f"adapt: holdout + val must be below 1, got {holdout} + {val}")
    if not 0 <= centre < 0.5:
        raise ValueError(f"adapt: centre must be in [0, 0.5), got {centre!r}")
    if not isinstance(net, torch.nn.Module):
        raise TypeError(f"adapt: net must be a torch.nn.Module, got {type(net).__name__}")
    p = next(net.parameters())
    if isinstance(y, torch.Tensor) and y.device != p.device:
        raise ValueError(f"adapt: y is on {y.device} and the network on {p.device}; move one "
                         "of them (npgd copies nothing between devices behind your back)")
    y = torch.as_tensor(y, device=p.device)  # NumPy: to the network's device, as neural() does
    if not y.is_complex():
        raise TypeError(f"adapt: y must be complex k-space, got dtype {y.dtype}")
    if not torch.isfinite(torch.view_as_real(y)).all():
        raise ValueError("adapt: y holds NaN or Inf values")
    mask, maps, core = _sampling(A, y)
    n, (h, w) = mask.shape[0], mask.shape[-2:]
    ys = y.reshape(n, *y.shape[-core:])

    g = torch.Generator().manual_seed(int(seed))
    rng = np.random.default_rng(int(seed))
    ky = (torch.arange(h) - h // 2).abs() <= centre * h
    kx = (torch.arange(w) - w // 2).abs() <= centre * w
    free = mask & ~(ky[:, None] & kx[None, :]).to(mask.device)  # may be held out
    gamma = free & (torch.rand(mask.shape, generator=g) < val).to(mask.device)
    train = mask & ~gamma
    if not bool(gamma.flatten(1).any(1).all()):
        raise ValueError("adapt: a slice has no sampled location outside the centre box to "
                         "validate on; lower centre or sample more")
    checked = np.unique(np.linspace(0, n - 1, min(n, 8)).round().astype(int))

    def split_loss(model: torch.nn.Module, idx: Any, keep: torch.Tensor,
                   out: torch.Tensor) -> torch.Tensor:
        """Mean per-slice SSDU loss on ``out`` of the network fed with ``keep``."""
        yk = ys[idx]
        sel = out if core == 2 else out[:, None]
        xh = model(_operator(keep, maps, idx), yk * (keep if core == 2 else keep[:, None]))
        yo = yk * sel
        r = _operator(out, maps, idx)(xh) - yo
        axes = tuple(range(1, r.ndim))
        l2 = torch.linalg.vector_norm(r, dim=axes) / torch.linalg.vector_norm(
            yo, dim=axes).clamp_min(1e-30)
        l1 = r.abs().sum(axes) / yo.abs().sum(axes).clamp_min(1e-30)
        return (l2 + l1).mean()

    model = copy.deepcopy(net).eval()
    for q in model.parameters():
        q.requires_grad_(True)

    def validate() -> float:
        with torch.no_grad():
            return float(split_loss(model, checked, train[checked], gamma[checked]))

    opt = torch.optim.Adam(model.parameters(), lr=lr)
    start = time.perf_counter()
    best, best_step = validate(), 0
    best_state = copy.deepcopy(model.state_dict())
    history = {"val_loss": [best]}
    done = 0
    for step in range(1, steps + 1):
        idx = np.sort(rng.choice(n, size=min(batch, n), replace=False))
        lam = train[idx] & free[idx] & (
            torch.rand((len(idx), h, w), generator=g) < holdout / (1 - val)).to(mask.device)
        loss = split_loss(model, idx, train[idx] & ~lam, lam)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if isinstance(model, NeuralPGD):
            model.clamp_step_()
        done = step
        if step % val_every == 0 or step == steps:
            v = validate()
            history["val_loss"].append(v)
            if log is not None:
                log(f"adapt step {step}: loss {float(loss):.4f}, validation {v:.4f}")
            if v < best:
                best, best_step = v, step
                best_state = copy.deepcopy(model.state_dict())
            elif (step - best_step) >= patience * val_every:
                break
    model.load_state_dict(best_state)
    for q in model.parameters():
        q.requires_grad_(False)
    history.update(best_step=best_step, steps=done, seconds=time.perf_counter() - start)
    return model.eval(), history


def adapted(net: torch.nn.Module, **options: Any) -> Callable[[linops.LinearOperator, Any], Any]:
    """A method ``(A, y) -> x`` for :func:`npgd.experiments.compare.compare_measured` (and
    ``npgd.experiments.evaluate.evaluate(extra=...)``): :func:`adapt` ``net`` to the
    measurements it is given (``options`` go to :func:`adapt`), then reconstruct them with
    the adapted copy. NumPy in, NumPy out. Its time per slice includes the adaptation. The
    last call's history is kept in ``method.history`` and its adapted network in
    ``method.net`` (to save with :func:`npgd.models.save_model`).

    Examples
    --------
    >>> import numpy as np
    >>> from npgd import linops
    >>> from npgd.models import build_model
    >>> run = adapted(build_model({"features": 4, "iters": 2}).eval(), steps=2)
    >>> A = linops.MaskedFFT(np.ones((2, 16, 16), bool))
    >>> run(A, A(np.ones((2, 16, 16), np.complex64))).shape
    (2, 16, 16)
    """
    def run(A: linops.LinearOperator, y: Any) -> Any:
        tuned, run.history = adapt(net, A, y, **options)
        run.net = tuned
        p = next(tuned.parameters())
        yt = torch.as_tensor(y, device=p.device)
        mask, maps, core = _sampling(A, yt)
        ys = yt.reshape(len(mask), *yt.shape[-core:])
        out = []
        with torch.no_grad():
            for i in range(0, len(mask), 16):  # bounded memory on long volumes
                part = slice(i, i + 16)
                out.append(tuned(_operator(mask[part], maps, part), ys[part]))
        x = torch.cat(out).reshape(*yt.shape[:-core], *yt.shape[-2:])
        return x if isinstance(y, torch.Tensor) else x.cpu().numpy()

    run.history, run.net = None, None
    return run
