"""Solvers: convergence, least squares, cg, step rules, bad input."""

import numpy as np
import pytest
from conftest import to_backend, to_np

from npgd import linops, priors, solvers
from npgd.problems import data, mri

rng = np.random.default_rng(11)


def problem(shape=(16, 16), accel=2.5, seed=0):
    x = data.phantom(shape, seed=seed, dtype="complex128")
    mask = mri.vd_mask(shape, accel, seed=seed, calib=4)
    A, y = mri.simulate(x, mask)
    return x, A, y


def test_fista_objective_decreases_and_beats_ista():
    x, A, y = problem()
    prox = priors.L1Wavelet(1e-3, x.shape, "haar", levels=2, cycle_spin=False)
    h_f = solvers.History(A, y, prox, ref=x)
    h_i = solvers.History(A, y, prox, ref=x)
    solvers.fista(A, prox, y, iters=80, callback=h_f)
    solvers.pgd(A, prox, y, iters=80, callback=h_i)
    f = np.array(h_f.objective)
    i = np.array(h_i.objective)
    assert np.all(np.diff(i) <= 1e-12)  # ISTA is monotone
    assert f[-1] <= f[0] and f[-1] <= i[-1] + 1e-12  # FISTA ends at least as low
    assert h_f.nrmse[-1] < 0.5 and len(h_f.seconds) == 80


def test_zero_prior_converges_to_least_squares():
    A = linops.Downsample((8, 8), 2) @ linops.Diagonal(rng.uniform(0.5, 1.5, (8, 8)))
    x_true = rng.standard_normal((8, 8))
    y = A(x_true)
    x = solvers.fista(A, priors.Zero(), y, iters=3000)
    # x solves the normal equations AᴴA x = Aᴴ y (min-norm component aside)
    np.testing.assert_allclose(A.N(x), A.H(y), atol=1e-8)
    x_cg = solvers.cg(A.N + 1e-12 * linops.Identity((8, 8)), A.H(y), iters=200, tol=1e-12)
    np.testing.assert_allclose(A(x_cg), y, atol=1e-6)


def test_cg_batched_against_direct_solve():
    d = rng.uniform(1, 3, (3, 6, 6))
    N = linops.Diagonal(d)
    b = rng.standard_normal((3, 6, 6)) + 1j * rng.standard_normal((3, 6, 6))
    np.testing.assert_allclose(solvers.cg(N, b, iters=100, tol=1e-12), b / d, rtol=1e-8)


def test_pgd_backends_agree(like):
    x, A, y = problem()
    prox = priors.L1Wavelet(1e-3, x.shape, "haar", levels=2, cycle_spin=False)
    ref = solvers.fista(A, prox, y, iters=20)
    out = solvers.fista(A, prox, to_backend(y.astype(np.complex64), like), iters=20)
    np.testing.assert_allclose(to_np(out), ref, atol=1e-4)


def test_batched_equals_one_by_one():
    x = np.stack([data.phantom((16, 16), seed=s, dtype="complex128") for s in range(3)])
    masks = np.stack([mri.vd_mask((16, 16), 2.5, seed=s, calib=4) for s in range(3)])
    A, y = mri.simulate(x, masks)
    prox = priors.TV(1e-3, (16, 16), iters=5, warm_start=False)
    batched = solvers.fista(A, prox, y, iters=15, step=1.0)
    for k in range(3):
        one = solvers.fista(linops.MaskedFFT(masks[k]), prox, y[k], iters=15, step=1.0)
        np.testing.assert_allclose(batched[k], one, atol=1e-10)


def test_squared_norm_exact_and_by_power_iteration():
    """Operators with a known norm give it exactly; power iteration (forced by composing with
    the identity, which has no exact rule) agrees with every one of them."""
    D = linops.Diagonal(np.array([[1.0, 3.0], [0.5, 2.0]]))
    assert solvers.squared_norm(D) == 9.0
    mask = np.zeros((8, 8))
    mask[::2] = 0.5
    mask[1, 1] = 0.8
    for A in [D, linops.MaskedFFT(mask), linops.Downsample((8, 8), 2),
              (0.5 - 1j) * linops.Wavelet((8, 8), "haar", 2), linops.FFT2((8, 8)).H]:
        exact = solvers.squared_norm(A)
        forced = solvers.squared_norm(linops.Identity(A.oshape) @ A, iters=200)
        assert forced == pytest.approx(exact, rel=1e-6), A
    assert solvers.squared_norm(linops.MaskedFFT(mask)) == pytest.approx(0.64)
    assert 7.5 < solvers.squared_norm(linops.FiniteDifference((16, 16)), iters=300) < 8
    A = linops.FFT2((4, 4))
    assert solvers.lambda_max(A, A(np.eye(4))) == pytest.approx(1.0)


def test_squared_norm_is_not_cached():
    """The operator's arrays may change (a learnable mask): the norm follows them."""
    torch = pytest.importorskip("torch")
    w = torch.ones(4, 4, dtype=torch.float64)
    like = torch.zeros(0, dtype=torch.float64)
    for A in [linops.Diagonal(w), linops.Identity((4, 4)) @ linops.Diagonal(w)]:
        w.fill_(1.0)
        assert solvers.squared_norm(A, like=like) == pytest.approx(1.0)
        w.mul_(3.0)
        assert solvers.squared_norm(A, like=like) == pytest.approx(9.0)


def test_power_norm_is_a_deprecated_alias():
    with pytest.warns(DeprecationWarning, match="squared_norm"):
        assert solvers.power_norm(2 * linops.Identity((3,))) == 4.0


def test_bad_inputs():
    x, A, y = problem()
    prox = priors.L1(0.1)
    with pytest.raises(ValueError, match=r"step must be in \(0, 2/"):
        solvers.pgd(A, prox, y, step=2.5)
    bad = y.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="y contains NaN"):
        solvers.pgd(A, prox, bad)
    with pytest.raises(ValueError, match=r"y must have trailing shape \(16, 16\)"):
        solvers.pgd(A, prox, y[:, :8])
    with pytest.raises(ValueError, match="iters must be"):
        solvers.pgd(A, prox, y, iters=-1)
    with pytest.raises(ValueError, match="x0 must have trailing shape"):
        solvers.pgd(A, prox, y, x0=np.zeros((4, 4), complex))
    with pytest.raises(ValueError, match="mask.*NaN"):
        mri.simulate(x, np.full(x.shape, np.nan))


@pytest.mark.parametrize("step,exc,match", [
    (np.array(0.5), TypeError, "step must be a real number.*numpy array"),
    (0.5 + 0j, TypeError, "step must be a finite real number"),
    (float("nan"), ValueError, "step must be a finite real number > 0, got nan"),
    (0.0, ValueError, "step must be a finite real number > 0"),
    (-1, ValueError, "step must be a finite real number > 0"),
    ("1", TypeError, "step must be a finite real number"),
])
def test_bad_step(step, exc, match):
    _, A, y = problem()
    with pytest.raises(exc, match=match):
        solvers.fista(A, priors.L1(0.1), y, step=step, iters=2)


def test_numpy_scalar_step_does_not_upcast():
    _, A, y = problem()
    out = solvers.pgd(A, priors.L1(1e-3), y.astype(np.complex64), step=np.float64(0.9), iters=2)
    assert out.dtype == np.complex64


def test_bad_tensor_step():
    torch = pytest.importorskip("torch")
    _, A, y = problem()
    yt = torch.from_numpy(y)
    with pytest.raises(TypeError, match="0-d and real"):
        solvers.pgd(A, priors.L1(0.1), yt, step=torch.ones(2), iters=2)
    with pytest.raises(TypeError, match="0-d and real"):
        solvers.pgd(A, priors.L1(0.1), yt, step=torch.tensor(1 + 0j), iters=2)
    with pytest.raises(ValueError, match="finite and > 0"):
        solvers.pgd(A, priors.L1(0.1), yt, step=torch.tensor(float("nan")), iters=2)
    with pytest.raises(TypeError, match="with Torch y"):
        solvers.pgd(A, priors.L1(0.1), y, step=torch.tensor(0.5), iters=2)


def test_all_zero_mask():
    """No default step for an operator that measures nothing; an explicit step runs the
    prior alone from x0 (a defined, finite result)."""
    A = linops.MaskedFFT(np.zeros((8, 8)))
    y = np.zeros((8, 8), complex)
    with pytest.raises(ValueError, match="all-zero mask.*pass step="):
        solvers.fista(A, priors.L1(0.1), y)
    x0 = np.ones((8, 8), complex)
    out = solvers.pgd(A, priors.L1(0.25), y, step=1.0, iters=2, x0=x0)
    np.testing.assert_array_equal(out, np.full((8, 8), 0.5 + 0j))


def test_mask_and_measurement_batches_must_match():
    masks = np.stack([mri.vd_mask((16, 16), 2.5, seed=s, calib=4) for s in range(3)])
    A = linops.MaskedFFT(masks)
    y1 = np.ones((16, 16), complex)
    with pytest.raises(ValueError, match=r"mask's batch axes \(3,\).*batch axes \(\)"):
        solvers.fista(A, priors.L1(0.1), y1, iters=2)
    with pytest.raises(ValueError, match=r"mask's batch axes \(3,\).*\(2, 16, 16\)"):
        solvers.fista(A, priors.L1(0.1), np.ones((2, 16, 16), complex), iters=2)


def test_torch_autograd_through_pgd():
    torch = pytest.importorskip("torch")
    x, A, y = problem()
    yt = torch.from_numpy(y)
    step = torch.tensor(0.9, dtype=torch.float64, requires_grad=True)
    xt = solvers.pgd(A, priors.L1(1e-3), yt, step=step, iters=5)
    loss = (xt - torch.from_numpy(x)).abs().pow(2).sum()
    loss.backward()
    assert step.grad is not None and torch.isfinite(step.grad)


SOLVE_PRIORS = [
    pytest.param(lambda: priors.L1Wavelet(2e-3, (16, 16), "db2", levels=2, seed=0), id="wavelet"),
    pytest.param(lambda: priors.TV(2e-3, (16, 16), iters=3), id="tv"),
    pytest.param(lambda: priors.Chain(priors.TV(2e-3, (16, 16), iters=3),
                                      priors.L1Wavelet(1e-3, (16, 16), levels=2, seed=1)),
                 id="chain"),
]


@pytest.mark.parametrize("make", SOLVE_PRIORS)
@pytest.mark.parametrize("solve", [solvers.fista, solvers.pgd], ids=["fista", "pgd"])
def test_same_solve_twice_is_identical(like, make, solve):
    """The same call with one prox object gives the same image, bit for bit (cycle-spinning
    shifts and the TV warm start are per-solve state, not carried between calls)."""
    _, A, y = problem()
    yb = to_backend(y.astype(np.complex64), like)
    prox = make()
    first = to_np(solve(A, prox, yb, iters=12))
    prox(yb, 0.5)  # a call in between changes nothing either
    np.testing.assert_array_equal(to_np(solve(A, prox, yb, iters=12)), first)
    np.testing.assert_array_equal(to_np(solve(A, [prox] * 12, yb, iters=12)), first)


def test_cycle_spinning_seeds_differ():
    _, A, y = problem()
    a, b = (solvers.fista(A, priors.L1Wavelet(2e-3, (16, 16), "db2", levels=2, seed=s), y,
                          iters=12) for s in (0, 1))
    assert np.abs(a - b).max() > 1e-3 * np.abs(a).max()


@pytest.mark.parametrize("call,match", [
    (lambda: solvers.cg(linops.Identity((2,)), np.ones(2), iters=-1),
     "cg: iters must be an int >= 0"),
    (lambda: solvers.cg(linops.Identity((2,)), np.ones(2), tol=float("nan")),
     "cg: tol must be a finite real number >= 0"),
    (lambda: solvers.History(every=0), "History: every must be an int >= 1"),
    (lambda: solvers.squared_norm(linops.Identity((2,)), iters=1.5),
     "squared_norm: iters must be an int >= 1"),
    (lambda: priors.TV(0.1, (8, 8), iters=2.0), "TV: iters must be an int >= 1"),
])
def test_argument_checks_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()
