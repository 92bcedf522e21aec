"""Bad input gets a clear error naming the argument and what was expected."""

import numpy as np
import pytest
from conftest import HAS_TORCH

from npgd import linops


@pytest.mark.parametrize(
    "make,exc,match",
    [
        (lambda: linops.Downsample((7, 8), 2), ValueError, r"\(7, 8\).*divisible.*\(2, 2\)"),
        (lambda: linops.Wavelet((12, 16), "db4", 3), ValueError, r"divisible by 2\*\*levels = 8"),
        (lambda: linops.Wavelet((16, 16), "nope"), ValueError, r"unknown wavelet 'nope'"),
        (lambda: linops.Wavelet((16, 16), "bior2.2"), ValueError, r"not orthogonal"),
        (lambda: linops.Wavelet((16, 16), "db2", 0), ValueError, r"levels must be an int >= 1"),
        (lambda: linops.MaskedFFT(np.array([[1.0, np.nan]])), ValueError, r"mask.*NaN"),
        (lambda: linops.MaskedFFT(np.ones((4, 4)) * 1j), TypeError, r"mask must be boolean"),
        (lambda: linops.MaskedFFT(np.ones(4)), ValueError, r"mask must have shape"),
        (lambda: linops.Diagonal(np.array([np.inf, 1.0])), ValueError, r"weights.*NaN or inf"),
        (lambda: linops.Diagonal(np.ones(3), shape=(4,)), ValueError, r"broadcast to shape"),
        (lambda: linops.FFT2((4, 4, 4)), ValueError, r"shape must be \(H, W\)"),
        (lambda: linops.FFT2((4, -1)), ValueError, r"positive ints"),
        (lambda: linops.FiniteDifference((4, 4), "zero"), ValueError, r"boundary must be"),
        (lambda: linops.FFT2((4, 4)) @ linops.Downsample((4, 4), 2), ValueError,
         r"ishape \(4, 4\) must equal .* oshape \(2, 2\)"),
        (lambda: linops.FFT2((4, 4)) + linops.FFT2((4, 5)), ValueError, r"shapes differ"),
    ],
)
def test_construction_errors(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


def test_wrong_input_shape_names_argument_and_shapes():
    A = linops.Wavelet((16, 16), "db2", 2)
    with pytest.raises(ValueError, match=r"x must have trailing shape \(16, 16\).*\(3, 16, 8\)"):
        A(np.zeros((3, 16, 8)))
    with pytest.raises(ValueError, match=r"trailing shape \(2, 16, 16\)"):
        linops.FiniteDifference((16, 16)).H(np.zeros((16, 16)))


def test_wrong_input_type_and_dtype():
    A = linops.FFT2((2, 2))
    with pytest.raises(TypeError, match=r"x must be a numpy.ndarray.*got list"):
        A([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(TypeError, match=r"float32, float64, complex64 or complex128, got int64"):
        A(np.zeros((2, 2), dtype=np.int64))


@pytest.mark.skipif(not HAS_TORCH, reason="torch missing")
def test_torch_int_tensor_rejected():
    import torch

    with pytest.raises(TypeError, match=r"got int64"):
        linops.Identity((2,))(torch.zeros(2, dtype=torch.int64))


def test_dottest_bad_dtype():
    with pytest.raises(ValueError, match="dtype must be one of"):
        linops.dottest(linops.Identity((2,)), dtype="int8")
