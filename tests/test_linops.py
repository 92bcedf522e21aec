"""Values of the operators: algebraic identities, pywt equality, orthonormality, backends agree,
dtypes are preserved."""

import re
import warnings

import numpy as np
import pytest
import pywt
from conftest import HAS_TORCH, WAVELETS, base_operators, batches, crandn, to_backend, to_np
from hypothesis import given
from hypothesis import strategies as st

from npgd import backend, linops
from npgd.linops import wavelet

rng = np.random.default_rng(1234)


def close(a, b, tol=1e-10):
    a, b = to_np(a), to_np(b)
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol * max(1.0, float(np.abs(b).max())))


@given(data=st.data(), batch=batches)
def test_algebraic_identities(data, batch):
    A = data.draw(base_operators(batch))
    B = linops.Diagonal(crandn(*A.ishape), shape=A.ishape)
    x = crandn(*batch, *A.ishape)
    x2 = crandn(*batch, *A.ishape)
    y = crandn(*batch, *A.oshape)
    close((A @ B).H(y), B.H(A.H(y)))
    close(A.N(x), A.H(A(x)))
    close((A + A)(x), 2 * A(x))
    close((A - 3 * A)(x), -2 * A(x))
    close((0.5j * A).H(y), -0.5j * A.H(y))
    close(A(2.0 * x - 1j * x2), 2.0 * A(x) - 1j * A(x2))  # linearity
    close((A @ x), A(x))


@given(
    wavelet=st.sampled_from(WAVELETS),
    levels=st.integers(1, 4),
    mult=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    batch=batches,
    cplx=st.booleans(),
)
def test_wavelet_equals_pywt(wavelet, levels, mult, batch, cplx):
    shape = (mult[0] * 2**levels, mult[1] * 2**levels)
    x = crandn(*batch, *shape) if cplx else rng.standard_normal(batch + shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pywt: a level shorter than the filter
        ref = pywt.coeffs_to_array(
            pywt.wavedec2(x, wavelet, mode="periodization", level=levels, axes=(-2, -1)),
            axes=(-2, -1),
        )[0]
    W = linops.Wavelet(shape, wavelet, levels)
    close(W(x), ref)
    close(W.H(W(x)), x)


@pytest.mark.parametrize(
    "A",
    [linops.FFT2((6, 5)), linops.Wavelet((16, 8), "db4", 3), linops.Wavelet((8, 8), "haar", 1)],
    ids=repr,
)
def test_orthonormal(A, like):
    x = to_backend(crandn(3, *A.ishape), like)
    close(A.H(A(x)), x)
    close(A(A.H(x)), x)
    assert np.isclose(np.linalg.norm(to_np(A(x))), np.linalg.norm(to_np(x)))
    assert isinstance(A.N, linops.Identity)


@pytest.mark.parametrize("wavelet", WAVELETS)
@pytest.mark.parametrize("levels", [1, 2])
def test_every_listed_wavelet_is_orthonormal(wavelet, levels):
    """The matrix of our Wavelet operator is orthogonal (W Wᵀ = Wᵀ W = I), for every wavelet
    the property tests draw from."""
    W = linops.Wavelet((8, 12), wavelet, levels)
    M = W(np.eye(96).reshape(96, 8, 12)).reshape(96, 96)
    np.testing.assert_allclose(M @ M.T, np.eye(96), atol=1e-10)
    np.testing.assert_allclose(M.T @ M, np.eye(96), atol=1e-10)


def test_fft_is_centred():
    F = linops.FFT2((5, 6))
    k = F(np.ones((5, 6)))
    assert np.isclose(k[2, 3], np.sqrt(30))
    assert np.abs(k).sum() == pytest.approx(np.sqrt(30))
    x = np.zeros((5, 6))
    x[2, 3] = 1  # a delta at the image centre has a flat, real spectrum
    close(F(x), np.full((5, 6), 1 / np.sqrt(30), complex))


def test_masked_fft_and_downsample_values():
    mask = rng.random((6, 8)) < 0.5
    x = crandn(2, 6, 8)
    A = linops.MaskedFFT(mask)
    close(A(x), mask * linops.FFT2((6, 8))(x))
    assert np.all(A(x)[:, ~mask] == 0)
    close(A.H(A(x)), linops.FFT2((6, 8)).H(mask * linops.FFT2((6, 8))(x)))
    per_sample = linops.MaskedFFT(np.stack([mask, ~mask]))
    close(per_sample(x)[1], (~mask) * linops.FFT2((6, 8))(x[1]))
    S = linops.Downsample((6, 8), (3, 2))
    close(S(x), x.reshape(2, 2, 3, 4, 2).mean(axis=(2, 4)))
    close(S(S.H(x[:, :2, :4])), x[:, :2, :4] / 6)


def test_finite_difference_values():
    x = rng.standard_normal((4, 5))
    d = linops.FiniteDifference((4, 5))(x)
    close(d[0, :-1], np.diff(x, axis=0))
    close(d[1, :, :-1], np.diff(x, axis=1))
    assert np.all(d[0, -1] == 0) and np.all(d[1, :, -1] == 0)
    dp = linops.FiniteDifference((4, 5), "periodic")(x)
    close(dp[0], np.roll(x, -1, 0) - x)


@given(data=st.data(), batch=batches)
@pytest.mark.skipif(not HAS_TORCH, reason="torch missing")
def test_numpy_and_torch_agree(data, batch):
    A = data.draw(base_operators(batch))
    x = crandn(*batch, *A.ishape)
    y = crandn(*batch, *A.oshape)
    like = to_backend(np.zeros(0), __import__("torch").zeros(0))
    close(A(to_backend(x, like)), A(x))
    close(A.H(to_backend(y, like)), A.H(y))


DTYPE_CASES = [
    ("float32", "float32", "complex64"),
    ("float64", "float64", "complex128"),
    ("complex64", "complex64", "complex64"),
    ("complex128", "complex128", "complex128"),
]


@pytest.mark.parametrize("dtype,real_out,fft_out", DTYPE_CASES)
def test_precision_is_kept(like, dtype, real_out, fft_out):
    x = to_backend(rng.standard_normal((2, 8, 8)).astype(dtype), like)
    name = lambda a: str(a.dtype).removeprefix("torch.")  # noqa: E731
    real_ops = [
        linops.Identity((8, 8)),
        linops.Diagonal(np.ones((8, 8))),
        linops.Downsample((8, 8), 2),
        linops.Wavelet((8, 8), "db2", 2),
        linops.FiniteDifference((8, 8)),
    ]
    for A in real_ops:
        assert name(A(x)) == real_out, A
        assert name(A.H(A(x))) == real_out, A
    for A in [linops.FFT2((8, 8)), linops.MaskedFFT(np.ones((8, 8))),
              linops.Diagonal(np.ones((8, 8)) + 1j), 1j * linops.Identity((8, 8))]:
        assert name(A(x)) == fft_out, A
        assert name(A.H(A(x))) == fft_out, A


def test_held_arrays_move_once(like):
    """Operator-held arrays follow the input's backend/device/precision, converted once."""
    A = linops.MaskedFFT(rng.random((8, 8)) < 0.5)
    x = to_backend(crandn(8, 8, dtype=np.complex64), like)
    A(x)
    first = A.mask.like(x)
    A(x)
    assert A.mask.like(x) is first
    assert backend.backend_name(first) == backend.backend_name(x)
    assert str(backend.device(first)) == str(backend.device(x))


@pytest.mark.skipif(not HAS_TORCH, reason="torch missing")
@pytest.mark.parametrize("axis", [-1, -2])
def test_torch_filter_bank_paths_agree(axis):
    """The cuDNN-convolution path (used on CUDA) equals the strided-tap path (used on CPU)."""
    import torch

    x = torch.randn(3, 20, 16, dtype=torch.complex128)
    M = torch.randn(8, 2, dtype=torch.float64)
    conv = wavelet._filter_bank_torch(x, M, axis, use_conv=True)
    taps = wavelet._filter_bank_torch(x, M, axis, use_conv=False)
    torch.testing.assert_close(conv, taps)
    ref = wavelet.filter_bank(x.numpy(), M.numpy(), axis)
    np.testing.assert_allclose(taps.numpy(), ref, atol=1e-12)


def test_per_sample_data_must_fit_the_batch():
    """Per-sample masks and weights broadcast against the input's batch; they never make a
    batch out of one image, and a mismatch names both shapes."""
    masks = rng.random((3, 6, 8)) < 0.5
    for A in [linops.MaskedFFT(masks), linops.Diagonal(masks * 1.0, shape=(6, 8))]:
        assert A(crandn(3, 6, 8)).shape == (3, 6, 8)
        assert A(crandn(2, 3, 6, 8)).shape == (2, 3, 6, 8)
        for bad in [crandn(6, 8), crandn(2, 6, 8)]:
            for f in (A, A.H, A.N):
                want = r"batch axes \(3,\).*batch axes " + re.escape(str(bad.shape[:-2]))
                with pytest.raises(ValueError, match=want):
                    f(bad)
