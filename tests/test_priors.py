"""Proximal operators against closed forms and brute-force minimisation."""

import numpy as np
import pytest
import scipy.optimize
from conftest import crandn, to_backend, to_np
from hypothesis import given
from hypothesis import strategies as st

from npgd import linops, priors

rng = np.random.default_rng(7)


def brute_prox(f, x):
    """argmin_z ½‖z − x‖² + f(z) for a small real vector by L-BFGS (reference)."""
    res = scipy.optimize.minimize(lambda z: 0.5 * np.sum((z - x) ** 2) + f(z), x,
                                  method="Powell", options={"xtol": 1e-10, "ftol": 1e-14,
                                                            "maxiter": 20000})
    return res.x


@given(lam=st.floats(0, 2), step=st.floats(0.1, 2), seed=st.integers(0, 1000))
def test_l1_closed_form_and_minimiser(lam, step, seed):
    x = np.random.default_rng(seed).standard_normal((2, 3)) * 2
    z = priors.L1(lam)(x, step)
    np.testing.assert_allclose(z, np.sign(x) * np.maximum(np.abs(x) - lam * step, 0))
    # optimality: 0 ∈ z − x + lam·step·∂|z|
    g = x - z
    on = z != 0
    np.testing.assert_allclose(g[on], lam * step * np.sign(z[on]), atol=1e-12)
    assert np.all(np.abs(g[~on]) <= lam * step + 1e-12)


def test_complex_soft_threshold_keeps_phase():
    x = crandn(4, 4)
    z = priors.soft_threshold(x, 0.5)
    keep = np.abs(x) > 0.5
    np.testing.assert_allclose(np.angle(z[keep]), np.angle(x[keep]))
    np.testing.assert_allclose(np.abs(z), np.maximum(np.abs(x) - 0.5, 0), atol=1e-15)


@pytest.mark.parametrize("threshold_coarse", [False, True])
def test_l1_wavelet_is_the_exact_prox(threshold_coarse):
    """Without cycle spinning, L1Wavelet = Wᴴ soft(W x) and it minimises the prox objective."""
    shape = (8, 8)
    P = priors.L1Wavelet(0.3, shape, "haar", levels=2, cycle_spin=False,
                         threshold_coarse=threshold_coarse)
    x = rng.standard_normal(shape)
    z = P(x, 1.0)
    W = linops.Wavelet(shape, "haar", 2)
    c = W(x)
    wts = np.ones(shape)
    if not threshold_coarse:
        wts[:2, :2] = 0
    np.testing.assert_allclose(z, W.H(np.sign(c) * np.maximum(np.abs(c) - 0.3 * wts, 0)))

    def objective(v):
        return 0.5 * np.sum((v - x) ** 2) + float(P.cost(v))

    for _ in range(20):  # z is optimal: no random perturbation lowers the objective
        assert objective(z) <= objective(z + 1e-3 * rng.standard_normal(shape)) + 1e-12


def test_l1_wavelet_cycle_spinning_is_a_shifted_prox():
    shape = (16, 16)
    x = crandn(16, 16)
    a = priors.L1Wavelet(0.2, shape, "db2", levels=2, seed=3)
    b = priors.L1Wavelet(0.2, shape, "db2", levels=2, seed=3)
    shifts = np.random.default_rng(3).integers(0, 4, size=2)
    plain = priors.L1Wavelet(0.2, shape, "db2", levels=2, cycle_spin=False)
    expected = np.roll(plain(np.roll(x, tuple(shifts), (0, 1)), 1.0), tuple(-shifts), (0, 1))
    np.testing.assert_allclose(a(x, 1.0), expected, atol=1e-12)
    np.testing.assert_allclose(b(x, 1.0), expected, atol=1e-12)  # same seed, same shifts


def test_tv_prox_matches_brute_force():
    """FGP reaches the TV prox: it beats a brute-force minimiser and closes the duality gap."""
    shape = (4, 5)
    x = rng.standard_normal(shape)
    tau = 0.4
    P = priors.TV(tau, shape, iters=3000, warm_start=False)
    z, p = P.with_state(x, 1.0, P.init_state())
    np.testing.assert_array_equal(P(x, 1.0), z)
    ref = brute_prox(lambda v: float(P.cost(v.reshape(shape))), x.ravel()).reshape(shape)

    def primal(v):
        return 0.5 * np.sum((v - x) ** 2) + float(P.cost(v))

    assert primal(z) <= primal(ref) + 1e-9
    # dual: max_{|p_ij| <= 1} ½‖x‖² − ½‖x − τ Dᴴp‖²; z = x − τ Dᴴp; gap = primal − dual >= 0
    assert np.all(np.sqrt((np.abs(p) ** 2).sum(axis=0)) <= 1 + 1e-12)
    dual = 0.5 * np.sum(x**2) - 0.5 * np.sum((x - tau * P.D.H(p)) ** 2)
    assert 0 <= primal(z) - dual < 1e-6


def test_tv_complex_and_warm_start(like):
    shape = (12, 12)
    x = np.zeros(shape, complex)
    x[3:9, 3:9] = 1 + 1j
    noisy = to_backend(x + 0.1 * crandn(*shape), like)
    P = priors.TV(0.05, shape, iters=30)
    z1, dual = P.with_state(noisy, 1.0, P.init_state())
    z1 = to_np(z1)
    assert np.linalg.norm(z1 - x) < np.linalg.norm(to_np(noisy) - x)
    z2 = to_np(P.with_state(noisy, 1.0, dual)[0])  # warm start: continues from the dual
    cold = to_np(priors.TV(0.05, shape, iters=300, warm_start=False)(noisy, 1.0))
    assert np.linalg.norm(z2 - cold) < np.linalg.norm(z1 - cold)
    np.testing.assert_array_equal(to_np(P(noisy, 1.0)), z1)  # a plain call starts cold


@given(h=st.integers(1, 9), w=st.integers(1, 9), batch=st.sampled_from([(), (2,), (2, 1)]),
       dtype=st.sampled_from([np.float32, np.float64, np.complex64, np.complex128]),
       tau=st.floats(0.01, 2), iters=st.integers(1, 6), seed=st.integers(0, 99))
def test_tv_inplace_kernel_equals_generic_loop(h, w, batch, dtype, tau, iters, seed):
    """The in-place FGP kernel (NumPy/CuPy) gives the generic loop's iterates, from a cold
    and from a warm start."""
    g = np.random.default_rng(seed)
    x = g.standard_normal(batch + (h, w)) + (1j * g.standard_normal(batch + (h, w))
                                             if np.dtype(dtype).kind == "c" else 0)
    x = x.astype(dtype)
    fast, slow = priors.TV(1.0, (h, w), iters=iters), priors.TV(1.0, (h, w), iters=iters)
    def two_calls(P):
        z, dual = P.with_state(x, tau, P.init_state())
        return [z, P.with_state(x[..., ::-1, :].copy(), tau, dual)[0]]

    out_fast = two_calls(fast)
    with pytest.MonkeyPatch.context() as m:
        m.setattr("npgd.backend.has_ufuncs", lambda a: False)
        out_slow = two_calls(slow)
    tol = 1e-12 if dtype in (np.float64, np.complex128) else 2e-5
    for a, b in zip(out_fast, out_slow, strict=True):
        assert a.dtype == b.dtype == dtype
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def test_box_zero_chain():
    x = np.array([[-1.0, 0.5, 3.0]])
    np.testing.assert_array_equal(priors.Box(0, 1)(x, 1.0), [[0, 0.5, 1]])
    np.testing.assert_array_equal(priors.Zero()(x, 1.0), x)
    np.testing.assert_array_equal(priors.Chain(priors.L1(0.5), priors.Box(0, None))(x, 1.0),
                                  [[0, 0, 2.5]])
    with pytest.raises(TypeError, match="Box: x must be real"):
        priors.Box(0, 1)(x + 1j, 1.0)


@pytest.mark.parametrize("make", [
    lambda: priors.L1(-1), lambda: priors.L1Wavelet(float("nan"), (8, 8)),
    lambda: priors.TV(-0.1, (8, 8)), lambda: priors.L1(float("inf")),
])
def test_negative_or_nonfinite_lambda(make):
    with pytest.raises(ValueError, match="lam must be"):
        make()


def test_priors_agree_across_backends(like):
    x = crandn(2, 16, 16).astype(np.complex64)
    for P in [priors.L1(0.3), priors.L1Wavelet(0.2, (16, 16), "db2", levels=2, seed=1),
              priors.TV(0.1, (16, 16), iters=10, warm_start=False)]:
        ref = P(x, 0.7)
        out = P(to_backend(x, like), 0.7)
        assert str(out.dtype).endswith("complex64")
        np.testing.assert_allclose(to_np(out), ref, rtol=1e-4, atol=1e-5)


def test_plain_calls_are_deterministic():
    """No state is carried between calls: the same prox call twice gives the same result."""
    x = crandn(2, 16, 16)
    for P in [priors.L1Wavelet(0.2, (16, 16), "db2", levels=2, seed=5),
              priors.TV(0.1, (16, 16), iters=4)]:
        np.testing.assert_array_equal(P(x, 1.0), P(x, 1.0))


def test_seed_must_be_an_int():
    with pytest.raises(ValueError, match="seed must be an int >= 0"):
        priors.L1Wavelet(0.1, (8, 8), seed=np.random.default_rng(0))


def test_l1_wavelet_thresholds_the_coarse_band_by_default():
    """As BART's wavelet prior does: a constant image (coarse coefficients only) shrinks by
    default and is left alone when only the details are penalised."""
    x = np.full((16, 16), 2.0)
    shrunk = priors.L1Wavelet(0.5, x.shape, levels=2)(x, 1.0)
    np.testing.assert_allclose(shrunk, x - 0.5 / 4)  # coarse coefficient 2*4 -> 8 - 0.5
    np.testing.assert_allclose(priors.L1Wavelet(0.5, x.shape, levels=2,
                                                threshold_coarse=False)(x, 1.0), x)
