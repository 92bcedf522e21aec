"""linops.Sense: adjoint (property-tested on every backend), normal operator, batch rules,
autograd, and the coil combinations."""

import numpy as np
import pytest
from conftest import to_backend, to_np
from hypothesis import given
from hypothesis import strategies as st

from npgd import linops, solvers
from npgd.problems import coils, data

DTYPES = st.sampled_from(["float32", "float64", "complex64", "complex128"])
batches = st.lists(st.integers(1, 3), min_size=0, max_size=2).map(tuple)


@st.composite
def sense_operators(draw, batch=()):
    """A Sense operator with random size, coils, real or complex maps, no/boolean/real mask,
    maps and mask each shared or one per sample."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    H, W, C = draw(st.integers(1, 7)), draw(st.integers(1, 7)), draw(st.integers(1, 4))
    maps_batch = tuple(batch) if (batch and draw(st.booleans())) else ()
    maps = rng.standard_normal(maps_batch + (C, H, W))
    if draw(st.booleans()):
        maps = maps + 1j * rng.standard_normal(maps.shape)
    kind = draw(st.sampled_from(["none", "bool", "real"]))
    if kind == "none":
        return linops.Sense(maps)
    mask_batch = tuple(batch) if (batch and draw(st.booleans())) else ()
    mask = rng.random(mask_batch + (H, W))
    return linops.Sense(maps, mask < 0.5 if kind == "bool" else mask)


@given(data=st.data(), dtype=DTYPES, batch=batches)
def test_adjoint(like, data, dtype, batch):
    A = data.draw(sense_operators(batch), label="operator")
    how = data.draw(st.sampled_from(["plain", "H", "N", "scaled", "compose"]))
    op = {"plain": A, "H": A.H, "N": A.N, "scaled": (0.5 - 2j) * A,
          "compose": A @ linops.FFT2(A.ishape).H}[how]
    linops.dottest(op, batch, dtype, like=like, rng=0)


@given(data=st.data(), batch=batches)
def test_normal_is_adjoint_of_forward(like, data, batch):
    """The fused A.N computes A.H(A(x)) for every mask kind, batch and backend."""
    A = data.draw(sense_operators(batch))
    rng = np.random.default_rng(1)
    shape = batch + A.ishape
    x = to_backend(rng.standard_normal(shape) + 1j * rng.standard_normal(shape), like)
    np.testing.assert_allclose(to_np(A.N(x)), to_np(A.H(A(x))), atol=1e-10, rtol=1e-10)


def test_shapes_and_precision():
    maps = coils.birdcage((6, 5), 3)
    A = linops.Sense(maps, np.ones((6, 5), bool))
    assert (A.ishape, A.oshape) == ((6, 5), (3, 6, 5))
    y = A(np.ones((2, 4, 6, 5), np.float32))
    assert y.shape == (2, 4, 3, 6, 5) and y.dtype == np.complex64
    assert A.H(y).dtype == np.complex64 and A.N(np.ones((6, 5))).dtype == np.complex128


def test_fully_sampled_with_normalized_maps_is_an_isometry():
    """Maps with sum |S|^2 = 1 (birdcage, ESPIRiT) make a fully sampled A.N the identity and
    its squared norm exactly 1 (known without power iteration)."""
    A = linops.Sense(coils.birdcage((12, 10), 4))
    x = data.phantom((12, 10), seed=0).astype(np.complex128)
    np.testing.assert_allclose(A.N(x), x, atol=1e-6)
    np.testing.assert_allclose(A.H(A(x)), x, atol=1e-6)
    assert abs(solvers.squared_norm(A) - 1) < 1e-6
    scaled = linops.Sense(2 * coils.birdcage((12, 10), 4))
    assert abs(solvers.squared_norm(scaled) - 4) < 1e-5


def test_squared_norm_with_mask_by_power_iteration():
    maps = coils.birdcage((12, 10), 4).astype(np.complex128)
    full = linops.Sense(maps, np.ones((12, 10)))
    assert abs(solvers.squared_norm(full, iters=50) - 1) < 1e-6
    half = linops.Sense(maps, np.random.default_rng(0).random((12, 10)) < 0.5)
    assert 0.5 < solvers.squared_norm(half, iters=50) <= 1 + 1e-6


def test_forward_is_masked_fft_of_coil_images():
    rng = np.random.default_rng(2)
    maps = rng.standard_normal((3, 6, 5)) + 1j * rng.standard_normal((3, 6, 5))
    mask = rng.random((6, 5)) < 0.5
    x = rng.standard_normal((6, 5)) + 1j * rng.standard_normal((6, 5))
    ref = np.stack([linops.MaskedFFT(mask)(maps[c] * x) for c in range(3)])
    np.testing.assert_allclose(linops.Sense(maps, mask)(x), ref, atol=1e-12)


def test_per_sample_maps_and_masks():
    rng = np.random.default_rng(3)
    maps = rng.standard_normal((2, 3, 5, 4)) + 0j
    masks = rng.random((2, 5, 4)) < 0.5
    x = rng.standard_normal((2, 5, 4))
    y = linops.Sense(maps, masks)(x)
    for b in range(2):
        np.testing.assert_allclose(y[b], linops.Sense(maps[b], masks[b])(x[b]), atol=1e-12)


@pytest.mark.parametrize("held", ["maps", "mask"])
def test_batched_data_never_enlarges_an_unbatched_input(held):
    maps, mask = np.ones((3, 5, 4)), np.ones((5, 4))
    if held == "maps":
        maps = np.ones((2, 3, 5, 4))
    else:
        mask = np.ones((2, 5, 4))
    A = linops.Sense(maps, mask)
    with pytest.raises(ValueError, match=f"the {held}'s batch axes"):
        A(np.ones((5, 4)))
    with pytest.raises(ValueError, match=f"the {held}'s batch axes"):
        A.H(np.ones((3, 5, 4), complex))
    with pytest.raises(ValueError, match=f"the {held}'s batch axes"):
        A.N(np.ones((3, 5, 4)))


def test_errors():
    with pytest.raises(ValueError, match=r"Sense: maps must have shape \(..., C, H, W\)"):
        linops.Sense(np.ones((5, 4)))
    with pytest.raises(ValueError, match="Sense: mask must have shape"):
        linops.Sense(np.ones((2, 5, 4)), np.ones((4, 5)))
    with pytest.raises(TypeError, match="Sense: mask must be boolean or real"):
        linops.Sense(np.ones((2, 5, 4)), np.ones((5, 4), complex))
    with pytest.raises(ValueError, match="Sense: maps contains NaN"):
        linops.Sense(np.full((2, 5, 4), np.nan))
    A = linops.Sense(np.ones((2, 5, 4)))
    with pytest.raises(ValueError, match=r"trailing shape \(2, 5, 4\)"):
        A.H(np.ones((3, 5, 4), complex))


def test_cg_sense_recovers_the_image():
    """CG on the normal equations of 2x-undersampled 4-coil data recovers the image far better
    than the zero-filled adjoint (the coils resolve the aliasing)."""
    x = data.phantom((24, 20), seed=1).astype(np.complex128)
    mask = np.zeros((24, 20), bool)
    mask[::2] = True
    A = linops.Sense(coils.birdcage((24, 20), 4).astype(np.complex128), mask)
    y = A(x)
    xh = solvers.cg(A.N, A.H(y), iters=100, tol=1e-10)
    assert np.linalg.norm(xh - x) < 1e-4 * np.linalg.norm(x)
    assert np.linalg.norm(A.H(y) - x) > 0.1 * np.linalg.norm(x)


# -- coil combination ------------------------------------------------------------------------


def test_rss_and_sense_combine(like):
    S = coils.birdcage((8, 6), 3).astype(np.complex128)
    x = data.phantom((8, 6), seed=2) * np.exp(1j * np.linspace(0, 1, 48).reshape(8, 6))
    imgs = to_backend(S * x, like)
    np.testing.assert_allclose(to_np(coils.rss(imgs)), abs(x), atol=1e-6)
    np.testing.assert_allclose(to_np(coils.sense_combine(imgs, to_backend(S, like))), x,
                               atol=1e-6)


def test_sense_combine_is_the_adjoint_for_normalized_maps():
    S = coils.birdcage((8, 6), 3).astype(np.complex128)
    A = linops.Sense(S)
    y = A(np.random.default_rng(4).standard_normal((2, 8, 6)))
    np.testing.assert_allclose(coils.sense_combine(linops.FFT2((8, 6)).H(y), S), A.H(y), atol=1e-10)


def test_sense_combine_is_zero_where_the_maps_are():
    S = np.zeros((2, 4, 4), complex)
    S[:, 1:3, 1:3] = 0.5
    out = coils.sense_combine(np.ones((2, 4, 4), complex), S)
    assert np.isfinite(out).all() and out[0, 0] == 0 and out[1, 1] == 2


def test_combine_errors():
    with pytest.raises(ValueError, match="rss: coil_images must have shape"):
        coils.rss(np.ones((4, 4)))
    with pytest.raises(ValueError, match="must agree in their"):
        coils.sense_combine(np.ones((3, 4, 4)), np.ones((2, 4, 4)))


# -- autograd ---------------------------------------------------------------------------------


def test_gradcheck_and_adjoint_gradient():
    torch = pytest.importorskip("torch")
    g = torch.Generator().manual_seed(0)
    maps = torch.randn(3, 5, 4, dtype=torch.complex128, generator=g)
    A = linops.Sense(maps, torch.rand(5, 4, generator=g, dtype=torch.float64) < 0.6)
    x = torch.randn(2, 5, 4, dtype=torch.complex128, generator=g, requires_grad=True)
    y = torch.randn(2, 3, 5, 4, dtype=torch.complex128, generator=g, requires_grad=True)
    assert torch.autograd.gradcheck(A, (x,))
    assert torch.autograd.gradcheck(A.H, (y,))
    assert torch.autograd.gradcheck(A.N, (x,))
    loss = 0.5 * (A(x) - y.detach()).abs().pow(2).sum()
    (grad,) = torch.autograd.grad(loss, x)
    torch.testing.assert_close(grad, A.H(A(x) - y).detach())


@pytest.mark.parametrize("learn", ["maps", "mask"])
def test_learnable_maps_and_mask_get_the_same_gradient_through_normal(learn):
    """pgd applies A.N: learnable maps or masks must get the gradient A.H(A(x)) gives them."""
    torch = pytest.importorskip("torch")
    g = torch.Generator().manual_seed(1)
    maps0 = torch.randn(3, 6, 5, dtype=torch.complex128, generator=g)
    mask0 = torch.rand(6, 5, dtype=torch.float64, generator=g)
    x = torch.randn(2, 6, 5, dtype=torch.complex128, generator=g)
    grads = []
    for normal in (lambda A, v: A.N(v), lambda A, v: A.H(A(v))):
        w = (maps0 if learn == "maps" else mask0).clone().requires_grad_(True)
        A = linops.Sense(w, mask0) if learn == "maps" else linops.Sense(maps0, w)
        loss = (normal(A, x) * x.conj()).real.sum() + normal(A, x).abs().pow(2).sum()
        grads.append(torch.autograd.grad(loss, w)[0])
    assert grads[0].abs().sum() > 0
    torch.testing.assert_close(grads[0], grads[1])


def test_learnable_maps_without_mask_get_gradients_through_normal():
    torch = pytest.importorskip("torch")
    maps = torch.randn(2, 4, 4, dtype=torch.complex128, requires_grad=True)
    A = linops.Sense(maps)
    A.N(torch.ones(4, 4, dtype=torch.complex128)).real.sum().backward()
    torch.testing.assert_close(maps.grad, 2 * maps.detach())
