"""The proximal-operator interface and the simple separable priors."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from npgd import backend

__all__ = ["Prox", "Zero", "L1", "Box", "Chain", "soft_threshold", "check_lambda"]


_TINY = float(np.finfo(np.float32).tiny)


def check_lambda(lam: Any, where: str) -> float:
    """Validate a regularization weight: a finite number >= 0."""
    if isinstance(lam, bool) or not isinstance(lam, numbers.Real) or not lam >= 0:
        raise ValueError(f"{where}: lam must be a finite number >= 0, got {lam!r}")
    if lam == float("inf"):
        raise ValueError(f"{where}: lam must be finite, got {lam!r}")
    return float(lam)


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


class Prox:
    """A proximal operator :math:`\\operatorname{prox}_{s\\psi}(x) = \\arg\\min_z
    \\tfrac12\\|z - x\\|^2 + s\\,\\psi(z)`, called as ``prox(x, step)``.

    Subclasses implement ``__call__(x, step)`` and, where :math:`\\psi` has a value, ``cost(x)``
    (used by convergence histories). Learned proximals (``torch.nn.Module``) follow the same
    call and need not define ``cost``.

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

    def __call__(self, x: Any, step: float) -> Any:
        raise NotImplementedError

    def cost(self, x: Any) -> Any:
        """The value :math:`\\psi(x)`, one number per batch element (trailing 2 axes reduced)."""
        raise NotImplementedError(f"{type(self).__name__} has no closed-form cost")


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
    :math:`\\lambda s`.

    Examples
    --------
    >>> import numpy as np
    >>> L1(0.5)(np.array([1.0, 0.2]), step=1.0)
    array([0.5, 0. ])
    """

    def __init__(self, lam: float):
        self.lam = check_lambda(lam, "L1")

    def __call__(self, x: Any, step: float) -> Any:
        return soft_threshold(x, self.lam * step)

    def cost(self, x: Any) -> Any:
        xp = backend.namespace(x)
        return self.lam * xp.sum(xp.abs(x), axis=(-2, -1))


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

    def __call__(self, x: Any, step: float) -> Any:
        for p in self.proxes:
            x = p(x, step)
        return x

    def cost(self, x: Any) -> Any:
        total = self.proxes[0].cost(x)
        for p in self.proxes[1:]:
            total = total + p.cost(x)
        return total
