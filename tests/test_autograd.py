"""Torch autograd flows through every operator of the registry (forward, adjoint and normal
operator), with the analytic gradients, and into learnable masks and weights."""

import pytest

torch = pytest.importorskip("torch")

from conftest import OPERATORS, base_operators, batches, operators, to_backend, to_np  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from npgd import linops  # noqa: E402


def _randn(shape, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, dtype=torch.complex128, generator=g)


@pytest.mark.parametrize("kind", OPERATORS)
@settings(max_examples=5)
@given(data=st.data())
def test_gradcheck(kind, data):
    A = data.draw(base_operators((2,), kinds=(kind,)))
    x = _randn((2, *A.ishape), 0).requires_grad_()
    y = _randn((2, *A.oshape), 1).requires_grad_()
    assert torch.autograd.gradcheck(A, (x,), fast_mode=True)
    assert torch.autograd.gradcheck(A.H, (y,), fast_mode=True)


@pytest.mark.parametrize("kind", OPERATORS)
@given(data=st.data(), batch=batches)
def test_gradient_is_the_adjoint(kind, data, batch):
    """grad of ½‖A x − y‖² is Aᴴ(A x − y): autograd and the hand-written adjoint agree, and
    the same through the normal operator: grad of ½⟨x, Aᴴ A x⟩ is Aᴴ A x."""
    A = data.draw(base_operators(batch, kinds=(kind,)))
    x = _randn((*batch, *A.ishape), 2).requires_grad_()
    y = _randn((*batch, *A.oshape), 3)
    loss = 0.5 * (A(x) - y).abs().pow(2).sum()
    (g,) = torch.autograd.grad(loss, x)
    torch.testing.assert_close(g, A.H(A(x) - y).detach())
    (gn,) = torch.autograd.grad(0.5 * (x.conj() * A.N(x)).real.sum(), x)
    torch.testing.assert_close(gn, A.N(x).detach())


@pytest.mark.parametrize("kind", OPERATORS)
@given(data=st.data(), batch=batches)
def test_normal_is_adjoint_after_forward(like, kind, data, batch):
    A = data.draw(base_operators(batch, kinds=(kind,)))
    x = to_backend(_randn((*batch, *A.ishape), 4).numpy(), like)
    ref = to_np(A.H(A(x)))
    got = to_np(A.N(x))
    assert got.shape == ref.shape
    assert abs(got - ref).max() <= 1e-10 * max(1.0, abs(ref).max())


@settings(max_examples=10)
@given(data=st.data())
def test_gradcheck_of_the_algebra(data):
    A = data.draw(operators((2,)))
    x = _randn((2, *A.ishape), 5).requires_grad_()
    assert torch.autograd.gradcheck(A, (x,), fast_mode=True)


def test_learnable_diagonal_gets_its_gradient():
    """d/dw sum(w ⊙ x) over a batch is the sum of the batch."""
    w = torch.ones(4, 4, dtype=torch.float64, requires_grad=True)
    x = torch.randn(2, 4, 4, dtype=torch.float64)
    linops.Diagonal(w)(x).sum().backward()
    torch.testing.assert_close(w.grad, x.sum(0))


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
