"""Property-based adjoint tests: <A x, y> = <x, A^H y> for every operator of the registry and
the algebra built on them, over random shapes, batch axes, dtypes and every backend present."""

import numpy as np
import pytest
from conftest import DTYPES, OPERATORS, base_operators, batches, operators
from hypothesis import assume, given
from hypothesis import strategies as st

from npgd import linops


@pytest.mark.parametrize("kind", OPERATORS)
@given(data=st.data(), dtype=DTYPES, batch=batches)
def test_adjoint_of_every_operator(like, kind, data, dtype, batch):
    A = data.draw(base_operators(batch, kinds=(kind,)), label="operator")
    linops.dottest(A, batch, dtype, like=like, rng=0)
    assert A.H.H is A
    linops.dottest(A.H, batch, dtype, like=like, rng=1)


@given(data=st.data(), dtype=DTYPES, batch=batches)
def test_adjoint_of_the_algebra(like, data, dtype, batch):
    A = data.draw(operators(batch), label="operator")
    linops.dottest(A, batch, dtype, like=like, rng=0)


@given(data=st.data(), batch=batches)
def test_dottest_catches_a_wrong_adjoint(data, batch):
    """The public dot test fails on a broken adjoint, also when only the imaginary part is
    wrong (PyLops' issue #229)."""
    A = data.draw(base_operators())
    probe = np.random.default_rng(3).standard_normal(A.ishape)
    assume(np.abs(A(probe)).max() > 1e-6)  # a zero operator (an empty mask) has no wrong adjoint

    class Broken(linops.LinearOperator):
        def __init__(self):
            super().__init__(A.ishape, A.oshape)

        def _apply(self, x):
            return A(x)

        def _apply_adjoint(self, y):
            return 1j * A.H(y)

    with pytest.raises(AssertionError, match="dottest failed"):
        linops.dottest(Broken(), batch, "complex128", rng=2)


def test_flags_build_the_adjoint_and_normal():
    """A subclass that writes only _apply and sets a flag gets a working A.H and A.N."""

    class Flip(linops.LinearOperator):
        self_adjoint = True

        def __init__(self):
            super().__init__((5,), (5,))

        def _apply(self, x):
            return x[..., ::-1]

    class Roll(linops.LinearOperator):
        unitary = True

        def __init__(self):
            super().__init__((5,), (5,))

        def _apply(self, x):
            return np.roll(x, 1, axis=-1)

        def _apply_adjoint(self, y):
            return np.roll(y, -1, axis=-1)

    F, R = Flip(), Roll()
    x = np.arange(5.0)
    assert F.H is F and isinstance(R.N, linops.Identity) and isinstance(R.H.N, linops.Identity)
    np.testing.assert_array_equal(R.H(R(x)), x)
    np.testing.assert_array_equal((R @ F).H(x), F(R.H(x)))
    for A in (F, R, R.H, F + R, 2j * R):
        linops.dottest(A, (2,))
    with pytest.raises(ValueError, match="square"):
        type("Bad", (linops.LinearOperator,), {"unitary": True})((2,), (3,))
    no_adjoint = type("NoAdjoint", (linops.LinearOperator,), {"_apply": lambda self, x: x})
    with pytest.raises(NotImplementedError, match="_apply_adjoint"):
        no_adjoint((2,), (2,)).H(x[:2])
