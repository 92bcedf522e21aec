"""Torch autograd flows through every operator, with the analytic gradients."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from test_linops import crandn  # noqa: E402

from npgd import linops  # noqa: E402

OPS = [
    linops.Identity((8, 4)),
    linops.Diagonal(crandn(8, 4)),
    linops.FFT2((8, 4)),
    linops.MaskedFFT(np.random.default_rng(0).random((8, 4)) < 0.5),
    linops.Downsample((8, 4), 2),
    linops.Wavelet((8, 4), "db2", 2),
    linops.FiniteDifference((8, 4)),
    linops.FFT2((8, 4)).H @ linops.Wavelet((8, 4), "haar", 2) - 2 * linops.Identity((8, 4)),
]


@pytest.mark.parametrize("A", OPS, ids=repr)
def test_gradcheck(A):
    x = torch.randn(2, *A.ishape, dtype=torch.complex128, requires_grad=True)
    y = torch.randn(2, *A.oshape, dtype=torch.complex128, requires_grad=True)
    assert torch.autograd.gradcheck(A, (x,))
    assert torch.autograd.gradcheck(A.H, (y,))


@pytest.mark.parametrize("A", OPS, ids=repr)
def test_gradient_is_the_adjoint(A):
    """grad of ½‖A x − y‖² is Aᴴ(A x − y): autograd and the hand-written adjoint agree."""
    x = torch.randn(3, *A.ishape, dtype=torch.complex128, requires_grad=True)
    y = torch.randn(3, *A.oshape, dtype=torch.complex128)
    loss = 0.5 * (A(x) - y).abs().pow(2).sum()
    (g,) = torch.autograd.grad(loss, x)
    torch.testing.assert_close(g, A.H(A(x) - y).detach())


def test_learnable_diagonal_gets_gradients():
    w = torch.ones(4, 4, dtype=torch.float64, requires_grad=True)
    D = linops.Diagonal(w)
    D(torch.randn(2, 4, 4, dtype=torch.float64)).sum().backward()
    assert w.grad is not None and w.grad.shape == (4, 4)


def _grads_through_normal(make_op, w0, x):
    """Gradient of a loss w.r.t. the operator's learnable array, through ``A.N`` and through
    ``A.H(A(x))``."""
    out = []
    for normal in (lambda A, v: A.N(v), lambda A, v: A.H(A(v))):
        w = w0.clone().requires_grad_(True)
        A = make_op(w)
        loss = (normal(A, x) * x.conj()).real.sum() + normal(A, x).abs().pow(2).sum()
        (g,) = torch.autograd.grad(loss, w)
        out.append(g)
    return out


@pytest.mark.parametrize("batch", [(), (2,)])
def test_learnable_mask_gradient_through_normal(batch):
    """``pgd`` applies ``A.N``: a learnable mask must get the gradient that ``A.H(A(x))``
    gives it (``MaskedFFT.N`` once copied the mask through NumPy and dropped it)."""
    g = torch.Generator().manual_seed(0)
    m0 = torch.rand(*batch, 6, 5, generator=g, dtype=torch.float64)
    x = torch.randn(3 if not batch else 2, 6, 5, dtype=torch.complex128, generator=g)
    via_n, via_hh = _grads_through_normal(linops.MaskedFFT, m0, x)
    assert via_n.abs().sum() > 0
    torch.testing.assert_close(via_n, via_hh)


def test_learnable_diagonal_gradient_through_normal():
    g = torch.Generator().manual_seed(1)
    w0 = torch.randn(4, 4, dtype=torch.complex128, generator=g)
    x = torch.randn(2, 4, 4, dtype=torch.complex128, generator=g)
    via_n, via_hh = _grads_through_normal(linops.Diagonal, w0, x)
    assert via_n.abs().sum() > 0
    torch.testing.assert_close(via_n, via_hh)


def test_fixed_mask_normal_is_cached():
    """A mask without gradients keeps the precomputed squared mask (the fast path)."""
    A = linops.MaskedFFT(torch.rand(6, 5) < 0.5)
    x = torch.randn(6, 5, dtype=torch.complex64)
    torch.testing.assert_close(A.N(x), A.H(A(x)))
    assert A.N._weights(x) is A.N._weights(x)
