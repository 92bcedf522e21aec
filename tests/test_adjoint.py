"""Property-based adjoint tests: <A x, y> = <x, A^H y> for every operator and composite,
over random shapes, batch axes, dtypes and every backend present."""

import numpy as np
import pytest
import pywt
from hypothesis import assume, given
from hypothesis import strategies as st

from npgd import linops

DTYPES = st.sampled_from(["float32", "float64", "complex64", "complex128"])
WAVELETS = ["haar", "db2", "db4", "sym3", "coif1"]

sizes = st.integers(1, 9)
batches = st.lists(st.integers(1, 3), min_size=0, max_size=2).map(tuple)


@st.composite
def image_shapes(draw, multiple=(1, 1)):
    return tuple(draw(st.integers(1, 6)) * m for m in multiple)


@st.composite
def weights(draw, shape, batch=()):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    full = tuple(batch) + tuple(shape)
    w = rng.standard_normal(full)
    if draw(st.booleans()):
        w = w + 1j * rng.standard_normal(full)
    return w


@st.composite
def base_operators(draw, batch=()):
    """One of the elementary operators with random parameters (and optional per-sample data
    broadcasting against ``batch``)."""
    kind = draw(st.sampled_from(
        ["identity", "diagonal", "fft", "masked", "downsample", "wavelet", "finitediff"]
    ))
    per_sample = tuple(batch) if (batch and draw(st.booleans())) else ()
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if kind == "identity":
        return linops.Identity((draw(sizes), draw(sizes)))
    if kind == "diagonal":
        shape = (draw(sizes), draw(sizes))
        return linops.Diagonal(draw(weights(shape, per_sample)), shape=shape)
    if kind == "fft":
        return linops.FFT2((draw(sizes), draw(sizes)))
    if kind == "masked":
        shape = per_sample + (draw(sizes), draw(sizes))
        mask = rng.random(shape) < 0.4
        return linops.MaskedFFT(mask if draw(st.booleans()) else mask.astype(np.float32))
    if kind == "downsample":
        f = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
        return linops.Downsample(draw(image_shapes(f)), f)
    if kind == "wavelet":
        levels = draw(st.integers(1, 3))
        shape = draw(image_shapes((2**levels, 2**levels)))
        return linops.Wavelet(shape, draw(st.sampled_from(WAVELETS)), levels)
    boundary = draw(st.sampled_from(["neumann", "periodic"]))
    return linops.FiniteDifference((draw(sizes), draw(sizes)), boundary)


@st.composite
def operators(draw, batch=()):
    """Elementary operators and the algebra built on them: A.H, A.N, c*A, A+B, A-B, A@B."""
    A = draw(base_operators(batch))
    how = draw(st.sampled_from(["plain", "H", "N", "scaled", "sum", "compose"]))
    if how == "H":
        return A.H
    if how == "N":
        return A.N
    if how == "scaled":
        c = draw(st.sampled_from([2.5, -1, 0.5 - 1.5j]))
        return c * A
    if how == "sum":
        return A - 0.5 * linops.Diagonal(np.full(A.oshape, 2.0)) @ A
    if how == "compose":
        return linops.FFT2(A.oshape) @ A if len(A.oshape) == 2 else A.H @ A
    return A


@given(data=st.data(), dtype=DTYPES, batch=batches)
def test_adjoint(like, data, dtype, batch):
    A = data.draw(operators(batch), label="operator")
    linops.dottest(A, batch, dtype, like=like, rng=0)


@given(data=st.data(), dtype=DTYPES)
def test_adjoint_of_adjoint(like, data, dtype):
    A = data.draw(base_operators())
    assert A.H.H is A
    linops.dottest(A.H, (2,), dtype, like=like, rng=1)


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


def test_wavelet_list_is_orthogonal():
    for name in WAVELETS:
        assert pywt.Wavelet(name).orthogonal
