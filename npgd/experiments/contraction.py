"""Contraction analysis of a trained neural proximal gradient descent (and de-biasing).

Mardani et al., "Neural Proximal Gradient Descent for Compressive Imaging", NeurIPS 2018,
Sec. 4 and 5.3. A proximal network whose activations are masks, :math:`\\sigma(z) =
\\operatorname{diag}(D(z))\\,z` (ReLU: :math:`D(z) = 1[z > 0]`; swish: :math:`D(z) =
\\operatorname{sigmoid}(z)`; leaky ReLU: 1 or its slope), is, with every mask frozen at the
values it takes on an input :math:`z_*`, an affine map :math:`F_*(u) = M_* u + c_*` (eq. 6;
:math:`c_*` collects the biases, which the paper's network has none of). Let the gradient step
be :math:`z_t = x_t + \\alpha A^H(y - A x_t)`, so that :math:`x_{t+1} = P(z_t)`, take the last
iterate as the fixed point, :math:`x_* = x_T`, with :math:`z_* = x_* + \\alpha A^H(y - A x_*)`
and :math:`F_*` frozen at :math:`z_*`. Since :math:`z_t - z_* = (I - \\alpha A^H A)\\delta_t`
for :math:`\\delta_t = x_t - x_*` (:math:`y` cancels), eq. 10 holds exactly:

.. math:: \\delta_{t+1} = \\underbrace{M_*(I - \\alpha A^H A)\\delta_t}_{F_*(z_t) - F_*(z_*)}
          + \\underbrace{P(z_t) - F_*(z_t)}_{\\Delta_t z_t} + \\underbrace{P(z_*) - x_*}_{\\xi},

and the contraction parameters of eq. 11-12, evaluated on the admissible perturbations
:math:`\\delta_t` as in the paper's Sec. 5.3, are

.. math:: \\eta_1^t = \\frac{\\|F_*(z_t) - F_*(z_*)\\|}{\\|\\delta_t\\|}, \\qquad
          \\eta_2^t = \\frac{\\|P(z_t) - F_*(z_t)\\|}{\\|\\delta_t\\|},

so :math:`\\|\\delta_{t+1}\\| \\le (\\eta_1^t + \\eta_2^t)\\|\\delta_t\\| + \\|\\xi\\|` (eq. 14).
With independent copies :math:`P_t`, each copy is frozen at :math:`z_*` on its own. A
proximal that normalises its input's scale (``normalize=True`` in :mod:`npgd.priors.learned`)
has that scale frozen at :math:`z_*` too; its change is part of :math:`\\eta_2`.

De-biasing (Remark 1): freeze the masks of the last proximal at the input that produced
:math:`x_T` and iterate the resulting affine map :math:`x \\mapsto F_T(x + \\alpha A^H(y - A
x))` from :math:`x_T` towards its own fixed point.

Everything runs in float64 on a copy of the network, so that the small perturbations of late
iterations are not lost to rounding.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn
from torch.overrides import TorchFunctionMode

from npgd import backend
from npgd._util import UsageError, atomic_write, check_int, check_positive_float, strict_json
from npgd.linops import LinearOperator
from npgd.priors.learned import as_channels, from_channels
from npgd.problems import metrics
from npgd.solvers.pgd import pgd
from npgd.solvers.unrolled import NeuralPGD

__all__ = ["Contraction", "add_arguments", "contraction", "debias", "figure", "frozen_prox",
           "run"]


def _relu_mask(z: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
    return (z > 0).to(z.dtype)


def _leaky_mask(z: torch.Tensor, negative_slope: float = 0.01, *args: Any,
                **kwargs: Any) -> torch.Tensor:
    return torch.where(z > 0, torch.ones_like(z), torch.full_like(z, negative_slope))


def _swish_mask(z: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
    return torch.sigmoid(z)


#: activation -> its mask D(z), with sigma(z) = D(z) * z
_MASKS: dict[Callable, Callable] = {
    F.relu: _relu_mask, torch.relu: _relu_mask, torch.relu_: _relu_mask,
    F.leaky_relu: _leaky_mask, F.silu: _swish_mask,
}


class _ActivationMasks(TorchFunctionMode):
    """Record the activation masks of one forward pass (``masks=None``), or replay recorded
    ones in the same order: each activation :math:`\\sigma(z)` becomes :math:`D \\odot z`."""

    def __init__(self, masks: list[torch.Tensor] | None = None):
        super().__init__()
        self.record = masks is None
        self.masks = [] if masks is None else masks
        self.k = 0

    def __torch_function__(self, func: Callable, types: Any, args: tuple = (),
                           kwargs: dict | None = None) -> Any:
        kwargs = dict(kwargs or {})
        if func not in _MASKS:
            return func(*args, **kwargs)
        z = args[0]
        kwargs.pop("inplace", None)
        if self.record:
            self.masks.append(_MASKS[func](z, *args[1:2], **kwargs))
        elif self.k >= len(self.masks):
            raise RuntimeError("frozen_prox: the network ran more activations than were "
                               "recorded at z_star")
        d = self.masks[self.k] if not self.record else self.masks[-1]
        self.k += 1
        return d * z


def frozen_prox(prox: nn.Module, z_star: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """The proximal ``prox`` with its activation masks frozen at the input ``z_star``: the
    affine map :math:`F_*(u) = M_* u + c_*` of eq. 6 of Mardani et al. (NeurIPS 2018), with
    :math:`F_*(z_*) = P(z_*)`.

    Activations that are masks of their input (``relu``, ``leaky_relu``, ``silu``/swish)
    are frozen; a proximal of :mod:`npgd.priors.learned` with ``normalize`` has its input
    scale frozen too. ``u`` must have the shape of ``z_star`` (the masks are per pixel and
    per sample). A network with another nonlinearity is not affine once frozen, which is
    checked: a ValueError names the problem.

    Examples
    --------
    >>> import torch
    >>> from npgd import priors
    >>> P = priors.SwishProx(kernel=3, features=2, channels=1).double()
    >>> z = torch.rand(1, 8, 8, dtype=torch.float64)
    >>> Fz = frozen_prox(P, z)
    >>> bool(torch.allclose(Fz(z), P(z)))
    True
    >>> u = torch.rand(1, 8, 8, dtype=torch.float64)
    >>> bool(torch.allclose(Fz(2 * u) - Fz(z), 2 * (Fz(u) - Fz(z)) - (Fz(0 * u) - Fz(z))))
    True
    """
    if not isinstance(prox, nn.Module):
        raise TypeError(f"frozen_prox: prox must be a torch.nn.Module, got "
                        f"{type(prox).__name__}")
    image = hasattr(prox, "net") and hasattr(prox, "channels") and hasattr(prox, "normalize")
    rec = _ActivationMasks()
    with torch.no_grad():
        if image:
            z, batch = as_channels(z_star, prox.channels, "frozen_prox")
            s = (z.pow(2).mean(dim=(1, 2, 3), keepdim=True).sqrt().clamp_min(1e-12)
                 if prox.normalize else torch.ones((), dtype=z.dtype))
            with rec:
                prox.net(z / s)
        else:
            with rec:
                prox(z_star, None)
    masks = rec.masks
    if not masks:
        raise ValueError(f"frozen_prox: {type(prox).__name__} has no relu/leaky_relu/silu "
                         "activation to freeze")

    def frozen(u: torch.Tensor) -> torch.Tensor:
        if tuple(u.shape) != tuple(z_star.shape):
            raise ValueError(f"frozen_prox: u must have the shape of z_star "
                             f"{tuple(z_star.shape)}, got {tuple(u.shape)}")
        mode = _ActivationMasks(masks)
        with torch.no_grad():
            if image:
                v, b = as_channels(u, prox.channels, "frozen_prox")
                with mode:
                    out = prox.net(v / s) * s
                out = from_channels(out, u, b)
            else:
                with mode:
                    out = prox(u, None)
        if mode.k != len(masks):
            raise RuntimeError("frozen_prox: the network ran another number of activations "
                               "than at z_star")
        return out

    _check_affine(frozen, z_star, type(prox).__name__)
    return frozen


def _check_affine(f: Callable, z: torch.Tensor, name: str) -> None:
    """A frozen network must be affine: f(z + 2h) - f(z) = 2 (f(z + h) - f(z))."""
    g = torch.Generator().manual_seed(0)
    h = torch.randn(z.shape, generator=g, dtype=z.real.dtype).to(z) * z.abs().mean()
    a, b, c = f(z), f(z + h), f(z + 2 * h)
    err = torch.linalg.vector_norm((c - a) - 2 * (b - a))
    if err > 1e-6 * torch.linalg.vector_norm(c - a) + 1e-30:
        raise ValueError(f"frozen_prox: {name} is not affine with its relu/leaky_relu/silu "
                         "masks frozen (it has another nonlinearity); the contraction "
                         "analysis of eq. 11-14 needs mask-type activations only")


def _per_sample_norm(x: torch.Tensor, ndim: int) -> np.ndarray:
    dims = tuple(range(-ndim, 0))
    return torch.linalg.vector_norm(x, dim=dims).reshape(-1).cpu().numpy()


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, and 0 where den is 0: an iterate already at x_* has nothing to contract
    (then z_t = z_* and both numerators vanish too)."""
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


@dataclasses.dataclass
class Contraction:
    """Per-image, per-iteration results of :func:`contraction` (``N`` images, ``T`` iterations).

    Attributes
    ----------
    eta1, eta2 : ndarray (N, T)
        :math:`\\eta_1^t, \\eta_2^t` for :math:`t = 0, \\dots, T-1` (0 where
        :math:`x_t = x_*` already).
    nrmse : ndarray (N, T + 1)
        :math:`\\|x_t - x_*\\| / \\|x_*\\|` for :math:`t = 0, \\dots, T` (the paper's Fig. 5).
    nrmse_truth : ndarray (N, T + 1) or None
        :math:`\\|x_t - x\\| / \\|x\\|` against the true images, when given.
    xi : ndarray (N,)
        :math:`\\|\\xi\\| / \\|x_*\\|`, how far :math:`x_*` is from a fixed point of the
        (last) proximal.
    debiased : dict or None
        De-biasing results (:func:`debias`), when asked for.
    """

    eta1: np.ndarray
    eta2: np.ndarray
    nrmse: np.ndarray
    nrmse_truth: np.ndarray | None
    xi: np.ndarray
    debiased: dict | None = None

    def table(self) -> list[dict]:
        """One row per iteration ``t``: mean and standard deviation over the images of
        ``eta1``, ``eta2``, ``nrmse`` (and ``nrmse_truth``).

        Examples
        --------
        >>> import numpy as np
        >>> c = Contraction(np.ones((2, 1)), np.zeros((2, 1)), np.ones((2, 2)), None,
        ...                 np.zeros(2))
        >>> c.table()[0]["eta1"], c.table()[0]["eta1_std"]
        (1.0, 0.0)
        """
        rows = []
        for t in range(self.eta1.shape[1]):
            row: dict[str, Any] = {"t": t}
            series = [("eta1", self.eta1), ("eta2", self.eta2), ("nrmse", self.nrmse)]
            if self.nrmse_truth is not None:
                series.append(("nrmse_truth", self.nrmse_truth))
            for name, a in series:
                row[name] = float(a[:, t].mean())
                row[name + "_std"] = float(a[:, t].std())
            rows.append(row)
        return rows


def _iterates(net: NeuralPGD, A: LinearOperator, y: torch.Tensor) -> list[torch.Tensor]:
    xs: list[torch.Tensor] = []
    pgd(A, net.prox, y, step=net.step, iters=net.iters,
        callback=lambda t, x: xs.append(x) and False)
    return xs


def _as_float64(net: NeuralPGD, y: torch.Tensor) -> tuple[NeuralPGD, torch.Tensor]:
    if not isinstance(net, NeuralPGD):
        raise TypeError(f"contraction: net must be an npgd.solvers.NeuralPGD, got "
                        f"{type(net).__name__}")
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"contraction: y must be a torch.Tensor, got {type(y).__name__}")
    net = copy.deepcopy(net).double().eval()
    y = y.detach().to(torch.complex128 if y.is_complex() else torch.float64)
    return net, y


def contraction(
    net: NeuralPGD,
    A: LinearOperator,
    y: torch.Tensor,
    x_true: Any = None,
    *,
    debias_iters: int = 0,
) -> Contraction:
    """The contraction parameters :math:`\\eta_1^t, \\eta_2^t` (eq. 11-14 of Mardani et al.,
    NeurIPS 2018, on the admissible perturbations :math:`\\delta_t = x_t - x_*`, masks frozen
    at the fixed point :math:`x_* = x_T`; see the module docstring) and the NRMSE of every
    iterate, for each image of the batch ``y``.

    Parameters
    ----------
    net : NeuralPGD
        A trained network (shared or independent copies); it is copied to float64, in eval
        mode, and left untouched.
    A : LinearOperator
        The forward operator of ``y``.
    y : torch.Tensor
        Measurements ``(N, *A.oshape)``.
    x_true : array, optional
        The true images ``(N, *A.ishape)``, for the NRMSE against the truth and the
        de-biasing scores.
    debias_iters : int
        With ``debias_iters`` > 0, also run :func:`debias` for that many iterations.

    Returns
    -------
    Contraction

    Examples
    --------
    >>> import torch
    >>> from npgd import linops, priors, solvers
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <...>
    >>> net = solvers.NeuralPGD(priors.SwishProx(kernel=3, features=2), iters=4, step=4.0)
    >>> x = torch.rand(2, 8, 8)
    >>> A = linops.Downsample((8, 8), 2)
    >>> c = contraction(net, A, A(x), x)
    >>> c.eta1.shape, c.nrmse.shape, float(c.nrmse[0, -1])
    ((2, 4), (2, 5), 0.0)
    """
    check_int("contraction", "debias_iters", debias_iters, 0)
    net, y = _as_float64(net, y)
    nd = len(A.ishape)
    with torch.no_grad():
        xs = [torch.zeros_like(A.H(y))] + _iterates(net, A, y)
        x_star = xs[-1]
        ahy, alpha = A.H(y), net.step

        def grad_step(x: torch.Tensor) -> torch.Tensor:  # the same expression as pgd's
            return x + alpha * (ahy - A.N(x))

        z_star = grad_step(x_star)
        proxes = list(net.prox) if isinstance(net.prox, nn.ModuleList) else [net.prox] * net.iters
        frozen: dict[int, Callable] = {}
        eta1, eta2 = [], []
        for t in range(net.iters):
            p = proxes[t]
            if id(p) not in frozen:
                frozen[id(p)] = frozen_prox(p, z_star)
            Fz = frozen[id(p)]
            z = grad_step(xs[t])
            dn = _per_sample_norm(xs[t] - x_star, nd)
            eta1.append(_ratio(_per_sample_norm(Fz(z) - Fz(z_star), nd), dn))
            eta2.append(_ratio(_per_sample_norm(p(z, alpha) - Fz(z), nd), dn))
        ref = _per_sample_norm(x_star, nd)
        if not (ref > 0).all():
            raise ValueError("contraction: the last iterate x_T is zero for some image; "
                             "NRMSE to it is undefined (all-zero measurements?)")
        xi = _per_sample_norm(proxes[-1](z_star, alpha) - x_star, nd) / ref
        nrmse = np.stack([_per_sample_norm(x - x_star, nd) / ref for x in xs], 1)
        truth = None
        if x_true is not None:
            xt = torch.as_tensor(backend.to_numpy(x_true)).to(x_star)
            if tuple(xt.shape) != tuple(x_star.shape):
                raise ValueError(f"contraction: x_true must have shape {tuple(x_star.shape)}, "
                                 f"got {tuple(xt.shape)}")
            truth = np.stack([_per_sample_norm(x - xt, nd) / _per_sample_norm(xt, nd)
                              for x in xs], 1)
    result = Contraction(np.stack(eta1, 1), np.stack(eta2, 1), nrmse, truth, xi)
    if debias_iters:
        result.debiased = debias(net, A, y, x_true, iters=debias_iters, _xs=xs)
    return result


def debias(
    net: NeuralPGD,
    A: LinearOperator,
    y: torch.Tensor,
    x_true: Any = None,
    *,
    iters: int = 10,
    _xs: list | None = None,
) -> dict:
    """De-biasing (Remark 1 of Mardani et al., NeurIPS 2018): freeze the activation masks of
    the last proximal at the input :math:`z_{T-1}` that produced :math:`x_T`, replace the
    proximal by that affine map :math:`F_T`, and run ``iters`` more iterations
    :math:`x \\leftarrow F_T(x + \\alpha A^H(y - A x))` from :math:`x_T`.

    Returns a dict: ``x_T`` and ``x_debiased`` (float64 tensors), ``change`` (per image,
    :math:`\\|x_{deb} - x_T\\| / \\|x_T\\|`), ``step_last`` (per image, the relative change
    of the last frozen iteration: small when it converged), and with ``x_true`` the SNR and
    PSNR (dB, :mod:`npgd.problems.metrics`) before and after: ``snr_before``,
    ``snr_after``, ``psnr_before``, ``psnr_after``.

    Examples
    --------
    >>> import torch
    >>> from npgd import linops, priors, solvers
    >>> net = solvers.NeuralPGD(priors.SwishProx(kernel=3, features=2), iters=3, step=4.0)
    >>> x = torch.rand(2, 8, 8)
    >>> A = linops.Downsample((8, 8), 2)
    >>> d = debias(net, A, A(x), x, iters=5)
    >>> d["psnr_after"].shape, d["x_debiased"].dtype
    ((2,), torch.float64)
    """
    check_int("debias", "iters", iters)
    if _xs is None:
        net, y = _as_float64(net, y)
    nd = len(A.ishape)
    with torch.no_grad():
        xs = _xs if _xs is not None else [torch.zeros_like(A.H(y))] + _iterates(net, A, y)
        ahy, alpha = A.H(y), net.step
        last = net.prox[-1] if isinstance(net.prox, nn.ModuleList) else net.prox
        F_T = frozen_prox(last, xs[-2] + alpha * (ahy - A.N(xs[-2])))
        x = xs[-1]
        prev = x
        for _ in range(iters):
            prev, x = x, F_T(x + alpha * (ahy - A.N(x)))
        ref = _per_sample_norm(xs[-1], nd)
        out = {"x_T": xs[-1], "x_debiased": x,
               "change": _per_sample_norm(x - xs[-1], nd) / ref,
               "step_last": _per_sample_norm(x - prev, nd) / ref}
    if x_true is not None:
        xt = backend.to_numpy(x_true)
        for name, f in (("snr", metrics.snr), ("psnr", metrics.psnr)):
            out[name + "_before"] = f(xt, xs[-1].numpy())
            out[name + "_after"] = f(xt, x.numpy())
    return out


def figure(results: Mapping[str, Contraction], eta_of: str | None = None) -> Any:
    """A figure in the style of Fig. 5 of Mardani et al. (NeurIPS 2018): top, the NRMSE
    :math:`\\|x_t - x_*\\|/\\|x_*\\|` against the iteration for each labelled result (mean,
    band of one standard deviation over the images); bottom, :math:`\\eta_1^t` and
    :math:`\\eta_2^t` with error bars (mean ± one standard deviation) for the result
    ``eta_of`` (default: the last one), on a log axis. A ``matplotlib.figure.Figure``
    (the process backend is never switched); save it with ``fig.savefig(path)``.

    Examples
    --------
    >>> import numpy as np
    >>> c = Contraction(np.full((2, 3), 0.5), np.full((2, 3), 0.05), np.ones((2, 4)), None,
    ...                 np.zeros(2))
    >>> len(figure({"k=8": c}).axes)
    2
    """
    from matplotlib.figure import Figure

    if not results:
        raise ValueError("figure: results must hold at least one Contraction")
    eta_of = list(results)[-1] if eta_of is None else eta_of
    if eta_of not in results:
        raise ValueError(f"figure: eta_of must be one of {list(results)}, got {eta_of!r}")
    fig = Figure(figsize=(6.4, 6.4), layout="constrained")
    top, bottom = fig.subplots(2, 1)
    for label, c in results.items():
        t = np.arange(c.nrmse.shape[1])
        m, s = c.nrmse.mean(0), c.nrmse.std(0)
        top.plot(t, m, label=label)
        top.fill_between(t, np.maximum(m - s, 0), m + s, alpha=0.2)
    top.set(xlabel="iteration t", ylabel=r"$\|x_t - x_*\| / \|x_*\|$", title="NRMSE")
    top.legend()
    c = results[eta_of]
    t = np.arange(c.eta1.shape[1])
    for name, a in ((r"$\eta_1^t$", c.eta1), (r"$\eta_2^t$", c.eta2)):
        bottom.errorbar(t, a.mean(0), yerr=a.std(0), capsize=2, marker="o", ms=3, label=name)
    bottom.set(xlabel="iteration t", ylabel="contraction", yscale="log",
               title=f"contraction parameters ({eta_of})")
    bottom.legend()
    return fig


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``npgd contraction`` options: an MRI model (shipped or a checkpoint), test slices of
    the embedded brain sample, the undersampling, de-biasing iterations, the output folder.

    Examples
    --------
    >>> p = argparse.ArgumentParser()
    >>> add_arguments(p)
    >>> a = p.parse_args(["--slices", "2"])
    >>> a.model, a.slices, a.accel, a.debias_iters
    ('mri-brain-5x', 2, 5.0, 10)
    """
    p.add_argument("--model", default="mri-brain-5x", help="shipped model name (default: "
                   "%(default)s)")
    p.add_argument("--checkpoint", default=None, help="a model.pt/last.pt of npgd train "
                   "instead of --model")
    p.add_argument("--slices", type=int, default=4, help="embedded test slices, evenly "
                   "spread (default: %(default)s)")
    p.add_argument("--accel", type=float, default=5.0, help="variable-density undersampling "
                   "(default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the masks")
    p.add_argument("--debias-iters", type=int, default=10, help="de-biasing iterations "
                   "(Remark 1; 0: none; default: %(default)s)")
    p.add_argument("--out", default="npgd-contraction", help="folder for contraction.json "
                   "and contraction.png (default: %(default)s)")


def run(args: argparse.Namespace, log: Callable[[str], Any] = print) -> int:
    """``npgd contraction``: :func:`contraction` of an MRI model on embedded test slices;
    writes ``contraction.json`` (the table, :math:`\\|\\xi\\|`, the de-biasing scores) and
    ``contraction.png`` (:func:`figure`) into ``--out`` and logs the table. Returns 0.

    Examples
    --------
    >>> import os, tempfile
    >>> from npgd.models import build_model
    >>> from npgd.models.checkpoint import FORMAT, save_checkpoint
    >>> cfg = {"features": 4, "blocks": 1, "iters": 2, "shared": True,
    ...        "data_consistency": "gradient"}
    >>> ckpt = os.path.join(tempfile.mkdtemp(), "model.pt")
    >>> save_checkpoint(ckpt, {"format": FORMAT, "config": cfg,
    ...                        "model": build_model(cfg).state_dict()})
    >>> p = argparse.ArgumentParser(); add_arguments(p)
    >>> a = p.parse_args(["--checkpoint", ckpt, "--slices", "1", "--debias-iters", "1",
    ...                   "--out", tempfile.mkdtemp()])
    >>> run(a, log=lambda s: None)
    0
    """
    from pathlib import Path

    from npgd.models import load_model, pretrained
    from npgd.problems import data, mri

    try:
        slices = check_int("contraction", "--slices", args.slices, 1)
        check_int("contraction", "--debias-iters", args.debias_iters, 0)
        check_int("contraction", "--seed", args.seed, 0)
        if check_positive_float("contraction", "--accel", args.accel) <= 1:
            raise ValueError(f"contraction: --accel must be > 1, got {args.accel!r}")
    except ValueError as e:
        raise UsageError(str(e)) from None
    net = (load_model(args.checkpoint, task="mri") if args.checkpoint
           else pretrained(args.model, task="mri"))
    x, _ = data.brain_slices("test")
    x = x[np.linspace(0, len(x) - 1, min(slices, len(x))).round().astype(int)]
    masks = np.stack([mri.vd_mask(x.shape[-2:], args.accel, seed=args.seed + i)
                      for i in range(len(x))])
    A, y = mri.simulate(torch.from_numpy(x), torch.from_numpy(masks))
    c = contraction(net, A, y, x, debias_iters=args.debias_iters)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    deb = {k: np.asarray(v).tolist() for k, v in (c.debiased or {}).items()
           if not k.startswith("x_")}
    atomic_write(out / "contraction.json", strict_json(
        {"model": args.checkpoint or args.model, "slices": len(x), "accel": args.accel,
         "table": c.table(), "xi": c.xi.tolist(), "debias": deb}))
    figure({args.checkpoint or args.model: c}).savefig(out / "contraction.png", dpi=110)
    log("   t      eta1      eta2   NRMSE(x_T)  NRMSE(truth)")
    for r in c.table():
        log(f"{r['t']:4d}  {r['eta1']:8.4f}  {r['eta2']:8.4f}  {r['nrmse']:10.4f}  "
            f"{r['nrmse_truth']:12.4f}")
    if deb:
        log(f"de-biasing ({args.debias_iters} iterations): SNR "
            f"{np.mean(deb['snr_before']):.2f} -> {np.mean(deb['snr_after']):.2f} dB")
    log(f"wrote {out / 'contraction.json'} and {out / 'contraction.png'}")
    return 0
