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
