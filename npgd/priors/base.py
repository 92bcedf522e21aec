"""The proximal-operator interface and the simple separable priors."""

from __future__ import annotations

from typing import Any

import numpy as np

from npgd import backend
from npgd._util import check_positive_float

__all__ = ["Prox", "Zero", "L1", "Box", "Chain", "soft_threshold", "init_state",
           "call_with_state", "Weight"]


_TINY = float(np.finfo(np.float32).tiny)


def soft_threshold(x: Any, t: Any) -> Any:
    """Complex soft-thresholding :math:`\\operatorname{sign}(x)\\max(|x| - t, 0)`.

    For complex ``x`` the magnitude shrinks and the phase is kept: :math:`x \\max(1 - t/|x|,
    0)`. ``t`` is a number or an array broadcasting against ``x``. Any backend.

    Examples
    --------
    >>> import numpy as np
    >>> soft_threshold(np.array([-3.0, 0.5, 2.0]), 1.0)
    array([-2.,  0.,  1.])
    >>> soft_threshold(np.array([3 + 4j]), 1.0)
    array([2.4+3.2j])
    """
    xp = backend.namespace(x)
    # max(1 - t/|x|, 0) with |x| floored at float32's smallest normal number (valid in both
    # precisions): 0 where x = 0 and t > 0, 1 where t = 0, never 0/0; 6 passes over the array.
    return x * xp.clip(1 - t / xp.clip(xp.abs(x), _TINY, None), 0, None)


class Weight:
    """A prior's weight :math:`\\lambda \\ge 0`: one number, or one per image of a batch.

    ``lam`` is a finite real number, or an array (NumPy, or a CuPy/Torch array, read once
    here) of finite non-negative reals whose shape broadcasts against the batch axes of the
    images the prior is called with (everything but the last two axes): shape ``(N,)`` for a
    stack ``(N, H, W)``, ``(N, 1)`` for ``(N, C, H, W)``. Batched classic solvers use it to
    give every slice its own weight in one solve. ``like(x)`` gives the weight ready to
    multiply ``x``'s per-image quantities: the number itself, or the array on ``x``'s backend
    and device, in its real precision (no upcast), with two trailing unit axes.

    Examples
    --------
    >>> import numpy as np
    >>> Weight("L1", 0.5).like(np.ones((3, 4, 4)))
    0.5
    >>> Weight("L1", np.array([0.1, 0.2])).like(np.ones((2, 4, 4), np.complex64)).shape
    (2, 1, 1)
    """

    def __init__(self, where: str, lam: Any):
        self.where = where
        if backend.is_array(lam) or isinstance(lam, list | tuple):
            a = np.asarray(backend.to_numpy(lam) if backend.is_array(lam) else lam)
            if a.ndim == 0:
                lam = a[()]
            else:
                if a.dtype.kind not in "iuf":
                    raise TypeError(f"{where}: lam must be real numbers, got dtype {a.dtype}")
                a = a.astype(np.float64)
                if not np.all(np.isfinite(a)) or np.any(a < 0):
                    raise ValueError(f"{where}: lam must be finite and >= 0 everywhere, got {a}")
                self.value: float | np.ndarray = a
                self._held = backend.Held(a[..., None, None])
                return
        self.value = check_positive_float(where, "lam", lam, allow_zero=True)

    @property
    def batched(self) -> bool:
        """True for one weight per image."""
        return not isinstance(self.value, float)

    def like(self, x: Any) -> Any:
        """The weight to apply to ``x`` ``(*batch, H, W)``: the number itself, or the
        per-image weights shaped ``(*batch, 1, 1)`` on ``x``'s backend and device (an error
        naming ``lam`` when they do not broadcast against ``x``'s batch axes)."""
        if not self.batched:
            return self.value
        batch = tuple(x.shape[:-2])
        try:
            fits = np.broadcast_shapes(self.value.shape, batch) == batch
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(
                f"{self.where}: lam of shape {self.value.shape} must broadcast against the "
                f"batch axes {batch} of x (shape {tuple(x.shape)})"
            )
        return self._held.like(x)

    def __format__(self, spec: str) -> str:
        if self.batched:
            return f"<{self.value.size} weights>"
        return format(self.value, spec)


class Prox:
    """A proximal operator :math:`\\operatorname{prox}_{s\\psi}(x) = \\arg\\min_z
    \\tfrac12\\|z - x\\|^2 + s\\,\\psi(z)`, called as ``prox(x, step)``.

    A prior keeps no state between calls. Where a prox depends on the solve it runs in (the
    cycle-spinning shifts of :class:`L1Wavelet`, the dual warm start of :class:`TV`), that
    dependence is a *state the solver owns*: a solver calls ``state = prox.init_state()`` once
    per solve and ``z, state = prox.with_state(x, step, state)`` at every iteration. A plain
    ``prox(x, step)`` is one such call from a fresh state, so it is deterministic and the same
    solve run twice gives the same result.

    Subclasses implement ``__call__(x, step)`` (memoryless priors) or ``init_state`` and
    ``with_state`` (priors with a per-solve state), and, where :math:`\\psi` has a value,
    ``cost(x)`` (used by convergence histories). Learned proximals (``torch.nn.Module``) follow
    the plain call and need not define ``cost``.

    Examples
    --------
    A prior of your own, :math:`\\psi(x) = \\tfrac{\\mu}{2}\\|x\\|^2`, whose prox is
    :math:`x / (1 + s\\mu)`:

    >>> import numpy as np
    >>> class Ridge(Prox):
    ...     def __init__(self, mu):
    ...         self.mu = mu
    ...     def __call__(self, x, step):
    ...         return x / (1 + step * self.mu)
    >>> Ridge(1.0)(np.array([2.0, 4.0]), step=1.0)
    array([1., 2.])
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__call__ is Prox.__call__ and cls.with_state is Prox.with_state:
            raise TypeError(f"{cls.__name__}: a Prox implements __call__ or with_state")

    def __call__(self, x: Any, step: float) -> Any:
        return self.with_state(x, step, self.init_state())[0]

    def init_state(self) -> Any:
        """The state a solver starts each solve with (None for memoryless priors)."""
        return None

    def with_state(self, x: Any, step: float, state: Any) -> tuple[Any, Any]:
        """``(prox(x, step), next state)`` given the solve's current state."""
        return self(x, step), state

    def cost(self, x: Any) -> Any:
        """The value :math:`\\psi(x)`, one number per batch element (trailing 2 axes reduced)."""
        raise NotImplementedError(f"{type(self).__name__} has no closed-form cost")


def init_state(prox: Any) -> Any:
    """A solve's starting state for ``prox``: ``prox.init_state()`` for a :class:`Prox`, None
    for any other callable (a learned ``torch.nn.Module``).

    Examples
    --------
    >>> init_state(L1(0.1)) is None, init_state(lambda x, step: x) is None
    (True, True)
    """
    return prox.init_state() if isinstance(prox, Prox) else None


def call_with_state(prox: Any, x: Any, step: Any, state: Any) -> tuple[Any, Any]:
    """One prox call inside a solve: ``prox.with_state`` for a :class:`Prox`, the plain
    ``prox(x, step)`` (state passed through) for any other callable.

    Examples
    --------
    >>> import numpy as np
    >>> call_with_state(L1(0.5), np.array([2.0]), 1.0, None)
    (array([1.5]), None)
    """
    if isinstance(prox, Prox):
        return prox.with_state(x, step, state)
    return prox(x, step), state


def _per_image(lam: Any) -> Any:
    """A :meth:`Weight.like` value for per-image sums (the two trailing unit axes dropped)."""
    return lam if isinstance(lam, float) else lam[..., 0, 0]


class Zero(Prox):
    """The zero prior :math:`\\psi = 0`, whose prox is the identity (plain least squares).

    Examples
    --------
    >>> import numpy as np
    >>> Zero()(np.ones(2), 0.5)
    array([1., 1.])
    """

    def __call__(self, x: Any, step: float) -> Any:
        return x

    def cost(self, x: Any) -> Any:
        xp = backend.namespace(x)
        return xp.zeros(x.shape[:-2], dtype=xp.abs(x).dtype, device=backend.device(x))


class L1(Prox):
    """:math:`\\psi(x) = \\lambda \\|x\\|_1`; prox = complex soft-thresholding at
    :math:`\\lambda s`. ``lam`` is a number or one weight per image (:class:`Weight`).

    Examples
    --------
    >>> import numpy as np
    >>> L1(0.5)(np.array([1.0, 0.2]), step=1.0)
    array([0.5, 0. ])
    """

    def __init__(self, lam: Any):
        self._lam = Weight("L1", lam)
        self.lam = self._lam.value

    def __call__(self, x: Any, step: float) -> Any:
        return soft_threshold(x, self._lam.like(x) * step)

    def cost(self, x: Any) -> Any:
        xp = backend.namespace(x)
        return _per_image(self._lam.like(x)) * xp.sum(xp.abs(x), axis=(-2, -1))


class Box(Prox):
    """Indicator of the box :math:`[\\text{lo}, \\text{hi}]`; prox = clipping (any step).

    ``Box(0, None)`` is non-negativity. Real inputs only: a box has no meaning for complex
    values.

    Examples
    --------
    >>> import numpy as np
    >>> Box(0, 1)(np.array([-1.0, 0.5, 2.0]), step=1.0)
    array([0. , 0.5, 1. ])
    """

    def __init__(self, lo: float | None = None, hi: float | None = None):
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(f"Box: lo must be <= hi, got lo={lo!r}, hi={hi!r}")
        self.lo, self.hi = lo, hi

    def __call__(self, x: Any, step: float) -> Any:
        if backend.is_complex(x):
            raise TypeError("Box: x must be real (float32/float64), got a complex array")
        xp = backend.namespace(x)
        return xp.clip(x, self.lo, self.hi)

    def cost(self, x: Any) -> Any:
        xp = backend.namespace(x)
        inside = xp.ones(x.shape, dtype=xp.bool, device=backend.device(x))
        if self.lo is not None:
            inside = inside & (x >= self.lo)
        if self.hi is not None:
            inside = inside & (x <= self.hi)
        ok = xp.all(inside, axis=(-2, -1))
        return xp.where(ok, 0.0, float("inf"))


class Chain(Prox):
    """Apply proximal operators one after the other: ``Chain(p, q)(x, s) = q(p(x, s), s)``.

    This is the exact prox of :math:`\\psi_p + \\psi_q` in the common separable cases, e.g.
    ``Chain(L1(lam), Box(0, None))`` is the prox of :math:`\\lambda\\|x\\|_1` plus
    non-negativity; in general it is a heuristic splitting.

    Examples
    --------
    >>> import numpy as np
    >>> Chain(L1(0.5), Box(0, None))(np.array([1.0, -2.0]), step=1.0)
    array([0.5, 0. ])
    """

    def __init__(self, *proxes: Prox):
        if not proxes:
            raise ValueError("Chain: needs at least one proximal operator")
        self.proxes = proxes

    def init_state(self) -> tuple:
        return tuple(init_state(p) for p in self.proxes)

    def with_state(self, x: Any, step: float, state: tuple) -> tuple[Any, tuple]:
        states = []
        for p, s in zip(self.proxes, state, strict=True):
            x, s = call_with_state(p, x, step, s)
            states.append(s)
        return x, tuple(states)

    def cost(self, x: Any) -> Any:
        total = self.proxes[0].cost(x)
        for p in self.proxes[1:]:
            total = total + p.cost(x)
        return total
