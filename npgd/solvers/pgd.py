"""Proximal gradient descent (ISTA/FISTA): the one loop that classic and learned priors share."""

from __future__ import annotations

import math
import numbers
import sys
import time
from collections.abc import Callable
from typing import Any

from npgd import backend
from npgd._util import check_int, check_positive_float
from npgd.linops import LinearOperator
from npgd.priors.base import call_with_state, init_state
from npgd.solvers.step import squared_norm

__all__ = ["pgd", "fista", "History"]


def _check_measurements(A: LinearOperator, y: Any) -> Any:
    xp = backend.check_array(y, "y", "pgd")
    n = len(A.oshape)
    if tuple(y.shape[-n:]) != A.oshape or y.ndim < n:
        raise ValueError(
            f"pgd: y must have trailing shape {A.oshape} (the operator's oshape, any leading "
            f"batch axes), got array of shape {tuple(y.shape)}"
        )
    if not bool(xp.all(xp.isfinite(y))):
        raise ValueError("pgd: y contains NaN or infinite values")
    return xp


def _check_step(A: LinearOperator, y: Any, step: Any) -> Any:
    """The step alpha: 1/||A||^2 by default; a number in (0, 2/||A||^2] (the range in which
    the iteration converges), as a Python float so that it never upcasts single-precision
    arrays; a learned step as a finite, positive 0-d real Torch tensor, used as is."""
    if backend.is_array(step):
        if backend.backend_name(step) != "torch" or backend.backend_name(y) != "torch":
            raise TypeError(
                "pgd: step must be a real number, or a 0-d real torch.Tensor (a learned step) "
                f"with Torch y; got a {backend.backend_name(step)} array (pass float(step))"
            )
        if step.ndim != 0 or not step.is_floating_point():
            raise TypeError(
                f"pgd: a tensor step must be 0-d and real floating, got shape "
                f"{tuple(step.shape)} and dtype {step.dtype}"
            )
        if not bool((step > 0) & step.isfinite()):
            raise ValueError(f"pgd: step must be finite and > 0, got {float(step)!r}")
        return step
    if step is not None:
        if not isinstance(step, numbers.Number):
            raise TypeError(f"pgd: step must be a finite real number > 0, got {step!r}")
        step = check_positive_float("pgd", "step", step)
    batch = tuple(y.shape[: y.ndim - len(A.oshape)])
    L = squared_norm(A, batch, like=y)
    if step is None:
        if L == 0:
            raise ValueError(
                "pgd: the operator is zero on these inputs (||A||^2 = 0, e.g. an all-zero "
                "mask), so there is no default step 1/||A||^2; pass step= to run the prior "
                "alone on x0"
            )
        return 1.0 / L
    if L > 0 and step > 2.0 / L * (1 + 1e-3):
        raise ValueError(
            f"pgd: step must be in (0, 2/||A^H A||] = (0, {2.0 / L:.4g}] for convergence, "
            f"got {step!r}"
        )
    return step


def _per_iteration(prox: Any, iters: int) -> list:
    """One proximal per iteration: a list, tuple or torch ModuleList, else ``prox`` repeated."""
    torch = sys.modules.get("torch")
    is_list = isinstance(prox, (list, tuple)) or (
        torch is not None and isinstance(prox, torch.nn.ModuleList)
    )
    if not is_list:
        if not callable(prox):
            raise TypeError(
                f"pgd: prox must be callable as prox(x, step), or a list of such, got "
                f"{type(prox).__name__}"
            )
        return [prox] * iters
    proxes = list(prox)
    if len(proxes) != iters or not all(callable(p) for p in proxes):
        raise ValueError(
            f"pgd: a sequence prox needs one callable per iteration (iters={iters}), got "
            f"{len(proxes)} items"
        )
    return proxes


def pgd(
    A: LinearOperator,
    prox: Callable[[Any, Any], Any],
    y: Any,
    *,
    step: Any = None,
    iters: int = 100,
    x0: Any = None,
    accelerate: bool = False,
    callback: Callable[[int, Any], Any] | None = None,
    progress: bool = False,
) -> Any:
    """Proximal gradient descent for :math:`\\min_x \\tfrac12\\|y - A x\\|^2 + \\psi(x)`.

    The recursion of Mardani et al., "Neural Proximal Gradient Descent for Compressive
    Imaging", NeurIPS 2018, eq. (2):

    .. math:: x_{t+1} = \\operatorname{prox}_{\\alpha\\psi}\\left(x_t + \\alpha A^H(y - A x_t)
              \\right),

    called as ``prox(v, alpha)``: a classic prior from :mod:`npgd.priors` or a learned
    ``torch.nn.Module`` with the same call. A :class:`npgd.priors.Prox` with a per-solve
    state (cycle-spinning shifts, a TV dual warm start) gets it from this loop
    (``init_state`` once, ``with_state`` per iteration), so the same call twice returns the
    same result. With ``accelerate=True`` (FISTA, Beck & Teboulle
    2009) the gradient step is taken at the extrapolated point
    :math:`v_t = x_t + \\frac{s_{t-1} - 1}{s_t}(x_t - x_{t-1})`,
    :math:`s_t = (1 + \\sqrt{1 + 4 s_{t-1}^2})/2`.

    Runs on the backend and device of ``y`` (NumPy, CuPy, Torch), batched over its leading
    axes; no operation is in place, so Torch autograd flows through the whole loop (unrolled
    networks are this function with a trainable ``prox`` and ``step``).

    Parameters
    ----------
    A : LinearOperator
        Forward operator.
    prox : callable or sequence of callables
        ``prox(x, step)``; or one per iteration (``len(prox) == iters``: ``prox[t-1]`` makes
        :math:`x_t`), as in an unrolled network with independent weights per copy.
    y : array
        Measurements, shape ``(*batch, *A.oshape)``; must be finite.
    step : float or tensor, optional
        :math:`\\alpha`; default :math:`1/\\|A\\|^2` (:func:`npgd.solvers.squared_norm`). A
        real number must lie in :math:`(0, 2/\\|A\\|^2]`; a learned step is a 0-d real Torch
        tensor, finite and > 0, used as is (autograd flows into it). NumPy arrays, complex,
        NaN and non-positive steps are errors. An operator that is zero on the inputs (an
        all-zero mask) has no default step: a ValueError asks for an explicit one, with which
        the loop runs the prior alone (:math:`A^H y = A^H A x = 0`).
    iters : int
        Number of iterations :math:`T`.
    x0 : array, optional
        Start; default zeros (as in that paper, :math:`x_0 = 0`, so :math:`x_1 = P(\\alpha A^H y)`).
    accelerate : bool
        FISTA momentum.
    callback : callable, optional
        ``callback(t, x_t)`` after each iteration ``t = 1..iters``; returning True stops.
        :class:`History` records objective, NRMSE and time.
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    array
        :math:`x_T`, shape ``(*batch, *A.ishape)``.

    Examples
    --------
    >>> import numpy as np
    >>> from npgd import linops, priors, solvers
    >>> rng = np.random.default_rng(0)
    >>> x = np.zeros((32, 32)); x[8:24, 8:24] = 1
    >>> mask = rng.random((32, 32)) < 0.5
    >>> mask[16, 16] = True  # sample DC (k-space centre)
    >>> A = linops.MaskedFFT(mask)
    >>> y = A(x)
    >>> xhat = solvers.pgd(A, priors.TV(1e-2, x.shape), y, iters=100, accelerate=True)
    >>> bool(np.linalg.norm(xhat - x) < 0.05 * np.linalg.norm(x))
    True
    """
    check_int("pgd", "iters", iters, minimum=0)
    _check_measurements(A, y)
    proxes = _per_iteration(prox, iters)
    alpha = _check_step(A, y, step)
    AHy = A.H(y)
    if x0 is None:
        xp = backend.namespace(AHy)
        x = xp.zeros_like(AHy)
    else:
        A._check_input(x0, A.ishape, "x0")
        x = x0
    # The priors' per-solve state (cycle-spinning shifts, TV dual warm start) lives here, one
    # per distinct proximal object, so that the same call twice gives the same result.
    states = {id(p): init_state(p) for p in proxes}
    x_prev, s = x, 1.0
    steps = range(1, iters + 1)
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc="fista" if accelerate else "pgd", leave=False)
    for t in steps:
        if accelerate and t > 1:
            s_next = (1 + math.sqrt(1 + 4 * s * s)) / 2
            v = x + ((s - 1) / s_next) * (x - x_prev)
            s = s_next
        else:
            v = x
        p = proxes[t - 1]
        x_prev = x
        x, states[id(p)] = call_with_state(p, v + alpha * (AHy - A.N(v)), alpha, states[id(p)])
        if callback is not None and callback(t, x):
            break
    return x


def fista(A: LinearOperator, prox: Callable[[Any, Any], Any], y: Any, **kwargs: Any) -> Any:
    """FISTA: :func:`pgd` with ``accelerate=True`` (same arguments).

    Examples
    --------
    >>> import numpy as np
    >>> from npgd import linops, priors, solvers
    >>> A = linops.Identity((4, 4))
    >>> solvers.fista(A, priors.L1(0.5), np.full((4, 4), 2.0), iters=10)[0, 0]
    np.float64(1.5)
    """
    return pgd(A, prox, y, accelerate=True, **kwargs)


class History:
    """A :func:`pgd` callback recording convergence, for curves like Fig. 5 of Mardani et al.,
    "Neural Proximal Gradient Descent for Compressive Imaging", NeurIPS 2018.

    Each recorded iteration appends to ``iters``, ``seconds`` (since construction), and, when
    the inputs allow, ``objective`` :math:`\\tfrac12\\|Ax - y\\|^2 + \\psi(x)` (needs ``A``,
    ``y`` and a ``prox`` with ``cost``) and ``nrmse`` :math:`\\|x - x_*\\| / \\|x_*\\|` (needs
    ``ref``), as floats summed over the batch (NRMSE: of the whole batch).

    Examples
    --------
    >>> import numpy as np
    >>> from npgd import linops, priors, solvers
    >>> A, prox = linops.Identity((4, 4)), priors.L1(0.1)
    >>> y = np.ones((4, 4))
    >>> h = solvers.History(A, y, prox, ref=y)
    >>> _ = solvers.fista(A, prox, y, iters=5, callback=h)
    >>> len(h.objective), round(h.nrmse[-1], 6)
    (5, 0.1)
    """

    def __init__(
        self,
        A: LinearOperator | None = None,
        y: Any = None,
        prox: Any = None,
        ref: Any = None,
        every: int = 1,
    ):
        self.A, self.y, self.prox, self.ref = A, y, prox, ref
        self.every = check_int("History", "every", every)
        self.iters: list[int] = []
        self.seconds: list[float] = []
        self.objective: list[float] = []
        self.nrmse: list[float] = []
        self._t0 = time.perf_counter()

    def __call__(self, t: int, x: Any) -> bool:
        if t % self.every:
            return False
        xp = backend.namespace(x)
        self.iters.append(t)
        self.seconds.append(time.perf_counter() - self._t0)
        if self.A is not None and self.y is not None and hasattr(self.prox, "cost"):
            r = self.A(x) - self.y
            f = 0.5 * xp.sum(xp.real(r * xp.conj(r))) + xp.sum(self.prox.cost(x))
            self.objective.append(float(backend.to_numpy(f)))
        if self.ref is not None:
            err = xp.sqrt(xp.sum(xp.abs(x - self.ref) ** 2) / xp.sum(xp.abs(self.ref) ** 2))
            self.nrmse.append(float(backend.to_numpy(err)))
        return False
