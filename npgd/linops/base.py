"""The linear operator base class and its algebra (composition, sum, scaling, adjoint)."""

from __future__ import annotations

import numbers
from typing import Any

from npgd import backend

__all__ = ["LinearOperator", "Compose", "Sum", "Scaled"]

Shape = tuple[int, ...]


def as_shape(shape: Any, arg: str = "shape", where: str = "") -> Shape:
    """Validate a shape argument: a tuple of positive ints."""
    prefix = f"{where}: " if where else ""
    try:
        out = tuple(int(s) for s in shape)
    except TypeError:
        raise TypeError(f"{prefix}{arg} must be a tuple of ints, got {shape!r}") from None
    if any(s < 1 for s in out) or any(
        isinstance(s, bool) or not isinstance(s, numbers.Integral) for s in shape
    ):
        raise ValueError(f"{prefix}{arg} must be a tuple of positive ints, got {shape!r}")
    return out


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

    Subclasses implement ``_apply(x)`` (``x`` already checked) and ``_adjoint()`` (returning
    the adjoint operator); they may override ``_normal()``.

    Examples
    --------
    >>> import numpy as np
    >>> from npgd import linops
    >>> A = 2 * linops.Identity((4, 4)) - linops.Diagonal(np.full((4, 4), 0.5))
    >>> A(np.ones((3, 4, 4))).shape, float(A(np.ones((4, 4)))[0, 0])
    ((3, 4, 4), 1.5)
    """

    def __init__(self, ishape: Shape, oshape: Shape):
        name = type(self).__name__
        self.ishape = as_shape(ishape, "ishape", name)
        self.oshape = as_shape(oshape, "oshape", name)
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
        raise NotImplementedError

    def _adjoint(self) -> LinearOperator:
        raise NotImplementedError

    def _normal(self) -> LinearOperator:
        return Compose(self.H, self)

    @property
    def H(self) -> LinearOperator:  # noqa: N802 (the conventional name)
        """The adjoint operator :math:`A^H` (built once, cached)."""
        if self._H is None:
            self._H = self._adjoint()
            self._H._H = self
        return self._H

    @property
    def N(self) -> LinearOperator:  # noqa: N802
        """The normal operator :math:`A^H A` (built once, cached)."""
        if self._N is None:
            self._N = self._normal()
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
        super().__init__(B.ishape, A.oshape)

    def _apply(self, x: Any) -> Any:
        return self.A._apply(self.B._apply(x))

    def _adjoint(self) -> LinearOperator:
        return Compose(self.B.H, self.A.H)

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
        super().__init__(A.ishape, A.oshape)

    def _apply(self, x: Any) -> Any:
        return self.A._apply(x) + self.B._apply(x)

    def _adjoint(self) -> LinearOperator:
        return Sum(self.A.H, self.B.H)

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
        super().__init__(A.ishape, A.oshape)

    def _apply(self, x: Any) -> Any:
        return self.c * self.A._apply(x)

    def _adjoint(self) -> LinearOperator:
        return Scaled(self.c.conjugate(), self.A.H)

    def _normal(self) -> LinearOperator:
        return Scaled(abs(self.c) ** 2, self.A.N)

    def __repr__(self) -> str:
        return f"{self.c!r} * {self.A!r}"
