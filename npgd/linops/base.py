"""The linear operator base class and its algebra (adjoint, normal, composition, sum, scaling).

A subclass writes the forward map ``_apply`` and the adjoint map ``_apply_adjoint`` (as
PyLops' ``_matvec``/``_rmatvec``); the base class builds ``A.H`` and ``A.N`` from them. Two
class flags replace hand-written adjoint and normal objects: ``self_adjoint`` (``A.H is A``)
and ``unitary`` (``A.N`` is the identity). ``_normal`` is overridden only where a fused
:math:`A^H A` is faster than the two passes (``MaskedFFT``).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from npgd import backend
from npgd._util import check_int

__all__ = ["LinearOperator", "Identity", "Compose", "Sum", "Scaled", "as_shape", "broadcasts_to",
           "check_batch"]

Shape = tuple[int, ...]


def as_shape(shape: Any, arg: str = "shape", where: str = "") -> Shape:
    """Validate a shape argument: a tuple of positive ints.

    Examples
    --------
    >>> as_shape([4, 3])
    (4, 3)
    >>> as_shape((4, 0), "shape", "FFT2")
    Traceback (most recent call last):
    ValueError: FFT2: shape must be a tuple of positive ints, got (4, 0)
    """
    prefix = f"{where}: " if where else ""
    try:
        items = tuple(shape)
    except TypeError:
        raise TypeError(f"{prefix}{arg} must be a tuple of ints, got {shape!r}") from None
    try:
        return tuple(check_int(where, arg, s) for s in items)
    except ValueError:
        raise ValueError(f"{prefix}{arg} must be a tuple of positive ints, got {shape!r}") from None


def broadcasts_to(shape: Shape, target: Shape) -> bool:
    """True when an array of ``shape`` broadcasts to ``target`` without enlarging it.

    Examples
    --------
    >>> broadcasts_to((1, 3), (2, 3)), broadcasts_to((2, 3), (3,))
    (True, False)
    """
    try:
        return np.broadcast_shapes(tuple(shape), tuple(target)) == tuple(target)
    except ValueError:
        return False


def check_batch(held_batch: Shape, x: Any, core: int, held: str, where: Any) -> None:
    """Check that an operator's per-sample data (leading axes ``held_batch`` of a mask or of
    weights) broadcast against the batch axes of ``x`` (all but its last ``core`` axes)
    without enlarging them.

    A batch of masks applied to one image would silently return a batch; a batch of 3 masks
    against 2 images would fail deep inside NumPy. Both are a ValueError naming both shapes.

    Examples
    --------
    >>> import numpy as np
    >>> check_batch((2,), np.zeros((2, 4, 4)), 2, "mask", "MaskedFFT")
    >>> check_batch((2,), np.zeros((4, 4)), 2, "mask", "MaskedFFT")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: MaskedFFT: the mask's batch axes (2,) must broadcast against ... (4, 4))
    """
    if not held_batch:
        return
    batch = tuple(x.shape[: max(len(x.shape) - core, 0)])
    if not broadcasts_to(held_batch, batch):
        raise ValueError(
            f"{where}: the {held}'s batch axes {held_batch} must broadcast against the input's "
            f"batch axes {batch} without enlarging them (input of shape {tuple(x.shape)})"
        )


class LinearOperator:
    """A linear map acting on the trailing ``ishape`` axes of an array, batched over the rest.

    ``A(x)`` maps an array of shape ``(*batch, *ishape)`` to ``(*batch, *oshape)`` on the
    input's own backend (NumPy, CuPy or Torch) and device, in its precision.

    The algebra builds new operators without evaluating anything:

    - ``A @ B``: composition, :math:`(AB)x = A(Bx)`; ``A @ x`` on an array is ``A(x)``;
    - ``A + B``, ``A - B``: sums; ``c * A``: scaling by a number;
    - ``A.H``: the adjoint :math:`A^H`, with :math:`\\langle Ax, y\\rangle = \\langle x, A^H y
      \\rangle`; ``A.N``: the normal operator :math:`A^H A`.

    Shapes are checked when an expression is built and when it is applied.

    A subclass calls ``super().__init__(ishape, oshape)`` and implements ``_apply(x)`` and
    ``_apply_adjoint(y)`` (inputs already checked; leading batch axes allowed). Class flags
    describe structure the base class then uses:

    - ``self_adjoint = True``: :math:`A^H = A`, ``A.H is A`` and ``_apply_adjoint`` need not
      be written;
    - ``unitary = True`` (square operators): :math:`A^H A = A A^H = I`, so ``A.N`` and
      ``A.H.N`` are :class:`Identity`.

    ``_normal()`` may return a faster operator for :math:`A^H A` than ``A.H @ A``.

    Examples
    --------
    >>> import numpy as np
    >>> from npgd import linops
    >>> A = 2 * linops.Identity((4, 4)) - linops.Diagonal(np.full((4, 4), 0.5))
    >>> A(np.ones((3, 4, 4))).shape, float(A(np.ones((4, 4)))[0, 0])
    ((3, 4, 4), 1.5)

    An operator of your own, the reversal of a vector (its own adjoint):

    >>> class Flip(linops.LinearOperator):
    ...     self_adjoint = True
    ...     def __init__(self, n):
    ...         super().__init__((n,), (n,))
    ...     def _apply(self, x):
    ...         return x[..., ::-1]
    >>> F = Flip(3)
    >>> F.H is F, F.N(np.arange(3.0)), linops.dottest(F) < 1e-12
    (True, array([0., 1., 2.]), True)
    """

    self_adjoint: bool = False
    unitary: bool = False

    def __init__(self, ishape: Shape, oshape: Shape):
        name = type(self).__name__
        self.ishape = as_shape(ishape, "ishape", name)
        self.oshape = as_shape(oshape, "oshape", name)
        if (self.unitary or self.self_adjoint) and self.ishape != self.oshape:
            raise ValueError(
                f"{name}: a unitary or self-adjoint operator is square, got ishape "
                f"{self.ishape} and oshape {self.oshape}"
            )
        self._H: LinearOperator | None = None
        self._N: LinearOperator | None = None

    # -- application ------------------------------------------------------------------------
    def __call__(self, x: Any) -> Any:
        self._check_input(x, self.ishape, "x")
        return self._apply(x)

    def _check_input(self, x: Any, shape: Shape, arg: str) -> None:
        backend.check_array(x, arg, repr(self))
        n = len(shape)
        got = tuple(x.shape[-n:]) if x.ndim >= n else tuple(x.shape)
        if got != shape:
            raise ValueError(
                f"{self!r}: {arg} must have trailing shape {shape} (any leading batch axes), "
                f"got array of shape {tuple(x.shape)}"
            )

    def _apply(self, x: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement _apply")

    def _apply_adjoint(self, y: Any) -> Any:
        if self.self_adjoint:
            return self._apply(y)
        raise NotImplementedError(
            f"{type(self).__name__} must implement _apply_adjoint (or set self_adjoint = True)"
        )

    def _normal(self) -> LinearOperator:
        return Compose(self.H, self)

    def _squared_norm(self) -> float | None:
        """:math:`\\|A^H A\\|` where the operator knows it exactly (else None: power
        iteration, see :func:`npgd.solvers.squared_norm`)."""
        return 1.0 if self.unitary else None

    @property
    def H(self) -> LinearOperator:  # noqa: N802 (the conventional name)
        """The adjoint operator :math:`A^H` (``A`` itself when self-adjoint; built once)."""
        if self.self_adjoint:
            return self
        if self._H is None:
            self._H = _Adjoint(self)
        return self._H

    @property
    def N(self) -> LinearOperator:  # noqa: N802
        """The normal operator :math:`A^H A` (the identity when unitary; built once)."""
        if self._N is None:
            self._N = Identity(self.ishape) if self.unitary else self._normal()
        return self._N

    # -- algebra ----------------------------------------------------------------------------
    def __matmul__(self, other: Any) -> Any:
        if isinstance(other, LinearOperator):
            return Compose(self, other)
        return self(other)

    def __add__(self, other: Any) -> LinearOperator:
        if not isinstance(other, LinearOperator):
            return NotImplemented
        return Sum(self, other)

    def __sub__(self, other: Any) -> LinearOperator:
        if not isinstance(other, LinearOperator):
            return NotImplemented
        return Sum(self, Scaled(-1, other))

    def __mul__(self, c: Any) -> LinearOperator:
        if isinstance(c, numbers.Number) and not isinstance(c, bool):
            return Scaled(c, self)
        return NotImplemented

    __rmul__ = __mul__

    def __neg__(self) -> LinearOperator:
        return Scaled(-1, self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.ishape} -> {self.oshape})"


class _Adjoint(LinearOperator):
    """:math:`A^H`, built by ``A.H``: the forward and adjoint maps of ``A`` swapped."""

    def __init__(self, A: LinearOperator):
        self.A = A
        self.unitary = A.unitary
        super().__init__(A.oshape, A.ishape)
        self._H = A

    def _apply(self, y: Any) -> Any:
        return self.A._apply_adjoint(y)

    def _apply_adjoint(self, x: Any) -> Any:
        return self.A._apply(x)

    def _squared_norm(self) -> float | None:
        return self.A._squared_norm()

    def __repr__(self) -> str:
        return f"{self.A!r}.H"


class Identity(LinearOperator):
    """The identity :math:`I x = x` on arrays of trailing shape ``shape``.

    Examples
    --------
    >>> import numpy as np
    >>> from npgd.linops import Identity
    >>> I = Identity((2, 3))
    >>> x = np.ones((5, 2, 3))
    >>> bool((I(x) == x).all()) and I.H is I
    True
    """

    self_adjoint = True
    unitary = True

    def __init__(self, shape: Shape):
        shape = as_shape(shape, "shape", "Identity")
        super().__init__(shape, shape)

    def _apply(self, x: Any) -> Any:
        return x

    def __repr__(self) -> str:
        return f"Identity({self.ishape})"


class Compose(LinearOperator):
    """Composition :math:`(AB)x = A(Bx)`, adjoint :math:`B^H A^H`; built by ``A @ B``.

    Examples
    --------
    >>> import numpy as np
    >>> from npgd import linops
    >>> C = linops.FFT2((4, 4)) @ linops.Downsample((8, 8), 2)
    >>> C.ishape, C.oshape, C.H(np.ones((4, 4), complex)).shape
    ((8, 8), (4, 4), (8, 8))
    """

    def __init__(self, A: LinearOperator, B: LinearOperator):
        if A.ishape != B.oshape:
            raise ValueError(
                f"cannot compose {A!r} @ {B!r}: the left operator's ishape {A.ishape} "
                f"must equal the right operator's oshape {B.oshape}"
            )
        self.A, self.B = A, B
        self.unitary = A.unitary and B.unitary
        super().__init__(B.ishape, A.oshape)

    def _apply(self, x: Any) -> Any:
        return self.A._apply(self.B._apply(x))

    def _apply_adjoint(self, y: Any) -> Any:
        return self.B._apply_adjoint(self.A._apply_adjoint(y))

    def __repr__(self) -> str:
        return f"({self.A!r} @ {self.B!r})"


class Sum(LinearOperator):
    """Sum :math:`(A+B)x = Ax + Bx`, adjoint :math:`A^H + B^H`; built by ``A + B``, ``A - B``.

    Examples
    --------
    >>> import numpy as np
    >>> from npgd import linops
    >>> I = linops.Identity((2, 2))
    >>> (I + I - 0.5 * I)(np.ones((2, 2)))
    array([[1.5, 1.5],
           [1.5, 1.5]])
    """

    def __init__(self, A: LinearOperator, B: LinearOperator):
        if A.ishape != B.ishape or A.oshape != B.oshape:
            raise ValueError(
                f"cannot add {A!r} + {B!r}: shapes differ "
                f"({A.ishape} -> {A.oshape} vs {B.ishape} -> {B.oshape})"
            )
        self.A, self.B = A, B
        self.self_adjoint = A.self_adjoint and B.self_adjoint
        super().__init__(A.ishape, A.oshape)

    def _apply(self, x: Any) -> Any:
        return self.A._apply(x) + self.B._apply(x)

    def _apply_adjoint(self, y: Any) -> Any:
        return self.A._apply_adjoint(y) + self.B._apply_adjoint(y)

    def __repr__(self) -> str:
        return f"({self.A!r} + {self.B!r})"


class Scaled(LinearOperator):
    """Scaling :math:`(cA)x = c\\,(Ax)` by a Python number; its adjoint is :math:`\\bar c A^H`.

    A real ``c`` keeps a real input real; a complex ``c`` makes the output complex in the
    input's precision (Python scalars never upcast an array).

    Examples
    --------
    >>> import numpy as np
    >>> from npgd import linops
    >>> A = 2j * linops.Identity((2,))
    >>> A(np.ones(2, np.float32)), A.H(np.ones(2, np.complex64))
    (array([0.+2.j, 0.+2.j], dtype=complex64), array([0.-2.j, 0.-2.j], dtype=complex64))
    """

    def __init__(self, c: numbers.Number, A: LinearOperator):
        self.c, self.A = c, A
        self.self_adjoint = A.self_adjoint and c.imag == 0
        super().__init__(A.ishape, A.oshape)

    def _apply(self, x: Any) -> Any:
        return self.c * self.A._apply(x)

    def _apply_adjoint(self, y: Any) -> Any:
        return self.c.conjugate() * self.A._apply_adjoint(y)

    def _normal(self) -> LinearOperator:
        return Scaled(abs(self.c) ** 2, self.A.N)

    def _squared_norm(self) -> float | None:
        inner = self.A._squared_norm()
        return None if inner is None else abs(self.c) ** 2 * inner

    def __repr__(self) -> str:
        return f"{self.c!r} * {self.A!r}"
