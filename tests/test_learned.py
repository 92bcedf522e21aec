"""Learned proximals and the unrolled network: gradients, weight sharing, the pgd-loop identity."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from npgd import linops, priors, solvers  # noqa: E402
from npgd.train import losses  # noqa: E402

H, W = 16, 12


def problem(batch=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    mask = torch.rand(batch, H, W, generator=g) < 0.4
    A = linops.MaskedFFT(mask)
    x = torch.randn(batch, H, W, dtype=torch.complex64, generator=g)
    return A, A(x), x


def net(iters=3, shared=True, **kw):
    torch.manual_seed(0)
    return solvers.NeuralPGD(priors.ResNetProx(features=4), iters=iters, shared=shared, **kw)


def perturb(n):
    """Move the weights off the identity start (its zero last layer blocks inner gradients)."""
    with torch.no_grad():
        for p in n.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return n


def test_gradients_reach_step_and_every_weight():
    A, y, x = problem()
    n = perturb(net(shared=False))
    losses.p2_loss(A, y, x, n(A, y, return_all=True)).backward()
    for name, p in n.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        if not name.endswith(".bias"):
            assert p.grad.abs().sum() > 0, name
    assert n.step.grad.abs() > 0


def test_shared_vs_independent_parameter_counts():
    per_copy = sum(p.numel() for p in priors.ResNetProx(features=4).parameters())
    assert sum(p.numel() for p in net(iters=5).parameters()) == per_copy + 1
    assert sum(p.numel() for p in net(iters=5, shared=False).parameters()) == 5 * per_copy + 1


@pytest.mark.parametrize("shared", [True, False])
def test_network_is_the_pgd_loop(shared):
    A, y, _ = problem()
    n = perturb(net(shared=shared)).eval()
    with torch.no_grad():
        ref = solvers.pgd(A, n.prox, y, iters=n.iters, step=n.step)
        torch.testing.assert_close(n(A, y), ref)
        its = n(A, y, return_all=True)
    assert len(its) == n.iters
    torch.testing.assert_close(its[-1], ref)


def test_untrained_network_is_gradient_descent():
    # the residual output layer starts at zero: P = identity, so x_T = pgd with the zero prior
    A, y, _ = problem()
    n = net(iters=4).eval()
    with torch.no_grad():
        torch.testing.assert_close(n(A, y), solvers.pgd(A, priors.Zero(), y, iters=4, step=1.0))


def test_scale_equivariance():
    A, y, _ = problem()
    n = perturb(net()).eval()
    with torch.no_grad():
        torch.testing.assert_close(n(A, 1e3 * y), 1e3 * n(A, y), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("c", [1j, -1.0, 3.0 * np.exp(2.5j), 1e-3 * np.exp(-0.7j)])
def test_complex_scale_equivariance(c):
    # the global phase of complex data is arbitrary (scanner, coil maps); without turning
    # each sample by its mean phase the shipped models' SNR moved by 4-8 dB with it
    A, y, _ = problem()
    n = perturb(net()).eval()
    c = torch.tensor(c, dtype=torch.complex64)
    with torch.no_grad():
        torch.testing.assert_close(n(A, c * y), c * n(A, y), rtol=1e-4, atol=1e-4 * abs(c))
        x = torch.randn(3, H, W, dtype=torch.complex64)
        torch.testing.assert_close(n.prox(c * x), c * n.prox(x), rtol=1e-4,
                                   atol=1e-4 * abs(c))
        torch.testing.assert_close(n.prox(torch.zeros_like(x)), torch.zeros_like(x))


@settings(max_examples=25, deadline=None)
@given(a=st.floats(-5, 5), b=st.floats(1e-3, 1e3), complex_=st.booleans(),
       seed=st.integers(0, 2**16))
def test_centred_prox_commutes_with_offset_and_scale(a, b, complex_, seed):
    """``center=True``: P(a + b x) = a + b P(x) for b > 0 (real images; complex ones with the
    offset along their mean, so that the mean phase stays), for any weights, and a constant
    image is a fixed point."""
    torch.manual_seed(seed)
    P = perturb(priors.ResNetProx(features=4, channels=2 if complex_ else 1, center=True,
                                  norm=False, scales=2)).eval()
    dtype = torch.complex128 if complex_ else torch.float64
    P = P.double()
    x = torch.randn(2, H, W, dtype=dtype)
    if complex_:
        x = x + 3 * np.exp(0.4j)
        m = x.mean(dim=(-2, -1), keepdim=True)
        a = max(a, -0.9 * b) * m / m.abs()  # along the mean, which keeps its phase
    tol = 1e-7 * (float(torch.as_tensor(a).abs().max()) + b)
    with torch.no_grad():
        torch.testing.assert_close(P(a + b * x), a + b * P(x), rtol=1e-7, atol=tol)
        c = torch.full((1, H, W), 2.5, dtype=dtype)
        torch.testing.assert_close(P(c), c)
        torch.testing.assert_close(P(torch.zeros_like(x)), torch.zeros_like(x))


def test_centring_changes_the_map_and_needs_normalize():
    x = torch.rand(2, H, W)
    P = perturb(priors.ResNetProx(features=4, channels=1)).eval()
    C = priors.ResNetProx(features=4, channels=1, center=True).eval()
    C.load_state_dict(P.state_dict())
    with torch.no_grad():
        assert not torch.allclose(P(x), C(x))
        # without centring the map does not commute with an offset
        assert not torch.allclose(P(0.5 + x), 0.5 + P(x), atol=1e-4)
        torch.testing.assert_close(C.fold_norm()(x), C(x), rtol=1e-5, atol=1e-5)
    assert C.fold_norm().center
    with pytest.raises(ValueError, match="center=True needs normalize=True"):
        priors.ResNetProx(features=4, center=True, normalize=False)
    with pytest.raises(TypeError, match="center must be True or False"):
        priors.ResNetProx(features=4, center=1)


@settings(max_examples=25, deadline=None)
@given(c=st.floats(0, 50), b=st.floats(1e-3, 1e3), complex_=st.booleans(),
       seed=st.integers(0, 2**16))
def test_floor_prox_commutes_with_offsets_of_images_without_dark_background(c, b, complex_,
                                                                           seed):
    """``floor=q``: an image whose q-quantile (real part, after the phase turn) is positive
    maps as P(b (x + c)) = b (P(x) + c) for offsets c >= 0 (complex: along its mean); an
    image with a dark background maps exactly as without the floor."""
    torch.manual_seed(seed)
    channels = 2 if complex_ else 1
    P = perturb(priors.ResNetProx(features=4, channels=channels, norm=False, scales=2,
                                  floor=0.05)).double().eval()
    Q = priors.ResNetProx(features=4, channels=channels, norm=False, scales=2).double().eval()
    Q.load_state_dict(P.state_dict())
    g = torch.Generator().manual_seed(seed)
    x = 0.2 + torch.rand(2, H, W, generator=g, dtype=torch.float64)  # no dark pixels
    if complex_:
        x = x * np.exp(0.7j) + 0.01j * torch.randn(2, H, W, generator=g, dtype=torch.float64)
        m = x.mean(dim=(-2, -1), keepdim=True)
        c = c * m / m.abs()
    with torch.no_grad():
        torch.testing.assert_close(P(b * (x + c)), b * (P(x) + c), rtol=1e-7,
                                   atol=1e-7 * b * (1 + float(torch.as_tensor(c).abs().max())))
        assert not torch.allclose(P(x), Q(x))
        dark = x.clone()
        dark[:, :4] = 0  # a quarter of the view dark: the quantile is 0, nothing removed
        torch.testing.assert_close(P(dark), Q(dark), rtol=0, atol=0)


def test_floor_and_center_are_checked():
    for bad in (-0.1, 0.5, True, "0.1"):
        with pytest.raises(ValueError, match="floor must be a quantile in"):
            priors.ResNetProx(features=4, floor=bad)
    with pytest.raises(ValueError, match="floor > 0 needs normalize=True and center=False"):
        priors.ResNetProx(features=4, floor=0.01, center=True)
    P = priors.ResNetProx(features=4, channels=1, floor=0.01)
    assert P.fold_norm().floor == 0.01


def test_hard_data_consistency_fits_the_data():
    A, y, _ = problem()
    n = net(data_consistency="hard").eval()
    assert not n.step.requires_grad and float(n.step) == 1.0
    with torch.no_grad():
        x = n(A, y)
    torch.testing.assert_close(A(x), y, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="A A\\^H = I"):
        n(2.0 * A, 2.0 * y)


def test_deep_resnet_baseline_and_swish():
    deep = solvers.NeuralPGD(priors.ResNetProx(features=4, blocks=10), iters=1)
    A, y, _ = problem()
    assert deep(A, y).shape == (2, H, W)
    sp = priors.SwishProx(kernel=8, features=3, channels=1)
    x = torch.rand(2, 3, H, W)
    assert sp(x, 1.0).shape == x.shape
    two = priors.SwishProx(kernel=32, features=3, channels=2)
    assert two(torch.randn(H, W, dtype=torch.complex64), 1.0).shape == (H, W)


def test_bad_input_is_named():
    P = priors.ResNetProx(features=4)
    with pytest.raises(TypeError, match="torch.Tensor"):
        P(np.zeros((H, W), np.complex64), 1.0)
    with pytest.raises(TypeError, match="complex128.*float32"):
        P(torch.zeros(H, W, dtype=torch.complex128), 1.0)
    with pytest.raises(ValueError, match="channels=1"):
        P(torch.zeros(H, W), 1.0)
    with pytest.raises(ValueError, match="kernel"):
        priors.ResNetProx(kernel=4)
    with pytest.raises(ValueError, match="iters"):
        solvers.NeuralPGD(P, iters=0)
    with pytest.raises(ValueError, match="NeuralPGD: step must be a finite real number > 0"):
        solvers.NeuralPGD(P, step=float("nan"))
    with pytest.raises(ValueError, match="SwishProx: layers must be an int >= 1"):
        priors.SwishProx(layers=0)
    with pytest.raises(ValueError, match="one callable per iteration"):
        solvers.pgd(*problem()[:1], [P, P], problem()[1], iters=3, step=1.0)


def test_zero_input_gives_zero_not_nan():
    P = priors.ResNetProx(features=4).eval()
    with torch.no_grad():
        out = P(torch.zeros(2, H, W, dtype=torch.complex64), 1.0)
    assert torch.isfinite(torch.view_as_real(out)).all()


def test_p2_loss_by_hand():
    A, y, x = problem(batch=3)
    g = torch.Generator().manual_seed(1)
    its = [torch.randn(3, H, W, dtype=torch.complex64, generator=g) for _ in range(4)]
    beta = 0.75
    hand = 0.0
    for i in range(3):
        img = sum(abs(complex(v)) ** 2 for v in (x[i] - its[-1][i]).flatten())
        fit = sum(sum(abs(complex(v)) ** 2 for v in (y[i] - A(its[t])[i]).flatten())
                  for t in range(4))
        hand += (beta * img + (1 - beta) * fit) / (H * W)
    got = losses.p2_loss(A, y, x, its, beta)
    assert abs(float(got) - hand / 3) < 1e-4 * hand / 3


@pytest.mark.parametrize("shape", [(16, 12), (17, 9), (5, 3), (1, 1)])
def test_coarse_scales_start_as_the_one_scale_map_and_train(shape):
    """``scales`` adds branches at 1/2, 1/4, ... whose last convolution starts at zero: on any
    size (odd ones, and smaller than the coarsest block) the map equals the one-scale map with
    the same weights, and once those weights move it differs and gradients reach them."""
    torch.manual_seed(0)
    one = priors.ResNetProx(features=4)
    three = priors.ResNetProx(features=4, scales=3)
    assert three.scales == 3 and one.scales == 1
    missing = three.load_state_dict(one.state_dict(), strict=False).missing_keys
    assert missing and all(k.startswith("coarse.") for k in missing)
    x = torch.randn(2, *shape, dtype=torch.complex64)
    torch.testing.assert_close(three(x, 1.0), one(x, 1.0), rtol=0, atol=0)
    perturb(three)
    out = three(x, 1.0)
    assert out.shape == x.shape and out.dtype == x.dtype
    if shape != (1, 1):
        assert not torch.allclose(out, perturb(one)(x, 1.0))
    torch.view_as_real(out).square().sum().backward()
    for k, p in three.coarse.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), k
    with pytest.raises(ValueError, match="ResNetProx: scales must be an int in \\[1, 8\\]"):
        priors.ResNetProx(scales=0)


def test_coarse_scales_are_scale_equivariant_and_fold():
    """The coarse branches are linear between ReLUs, so the scale normalisation still makes
    P(c x) = c P(x); folding batch norm keeps them."""
    torch.manual_seed(1)
    P = perturb(priors.ResNetProx(features=4, scales=2)).eval()
    x = torch.randn(2, H, W, dtype=torch.complex64)
    c = 3.0 - 2.0j
    torch.testing.assert_close(P(c * x, 1.0), c * P(x, 1.0), rtol=1e-4, atol=1e-4)
    Q = P.fold_norm()
    assert Q.scales == 2 and not Q.norm
    torch.testing.assert_close(Q(x, 1.0), P(x, 1.0), rtol=1e-5, atol=1e-5)


def test_inference_without_a_graph_gives_the_same_values():
    """Without autograd the residual and coarse additions go in place (one allocation fewer):
    the values are those of the recorded forward pass, bit for bit, and the input is not
    modified."""
    torch.manual_seed(2)
    P = perturb(priors.ResNetProx(features=4, blocks=2, scales=3, norm=False)).eval()
    x = torch.randn(2, 19, 14, dtype=torch.complex64)
    x0 = x.clone()
    with_graph = P(x, 1.0)
    with torch.no_grad():
        without = P(x, 1.0)
    assert torch.equal(with_graph.detach(), without) and torch.equal(x, x0)
