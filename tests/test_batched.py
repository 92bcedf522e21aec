"""Batched classic solves: one FISTA call on a stack of slices, each with its own mask and
weight, equals the slices solved one at a time."""

import numpy as np
import pytest
from conftest import to_backend, to_np

from npgd import linops, priors, solvers
from npgd.problems import data, mri

SHAPE = (16, 16)


def stack(n=3, seed=0):
    x = np.stack([data.phantom(SHAPE, seed=seed + k, dtype="complex64") for k in range(n)])
    masks = np.stack([mri.vd_mask(SHAPE, 2.5, seed=seed + k, calib=4) for k in range(n)])
    _, y = mri.simulate(x, masks)
    return x, masks, y.astype(np.complex64)


def wavelet(lam):
    return priors.L1Wavelet(lam, SHAPE, "db2", levels=2, seed=3)


def tv(lam, boundary="neumann"):
    return priors.TV(lam, SHAPE, iters=4, boundary=boundary)


PRIORS = [
    pytest.param(wavelet, id="wavelet"),
    pytest.param(tv, id="tv"),
    pytest.param(lambda lam: tv(lam, "periodic"), id="tv-periodic"),
]


@pytest.mark.parametrize("make", PRIORS)
def test_batched_equals_per_slice(like, make):
    """Per-slice weights (one of them 0) and per-slice masks in one solve give each slice's
    own solve, to float rounding; the batched solve twice is bit-identical."""
    _, masks, y = stack()
    lam = np.array([2e-3, 0.0, 8e-3]) * solvers.lambda_max(linops.MaskedFFT(masks), y)
    yb = to_backend(y, like)
    A = linops.MaskedFFT(to_backend(masks, like))
    prox = make(lam)
    batched = to_np(solvers.fista(A, prox, yb, iters=15))
    np.testing.assert_array_equal(to_np(solvers.fista(A, prox, yb, iters=15)), batched)
    for k in range(len(y)):
        one = solvers.fista(linops.MaskedFFT(to_backend(masks[k], like)), make(float(lam[k])),
                            to_backend(y[k], like), iters=15)
        np.testing.assert_allclose(batched[k], to_np(one), rtol=2e-5,
                                   atol=2e-5 * np.abs(batched[k]).max())
    # the weights matter: slice 1 (weight 0) differs from a solve with slice 2's weight
    other = to_np(solvers.fista(linops.MaskedFFT(to_backend(masks[1], like)), make(float(lam[2])),
                                to_backend(y[1], like), iters=15))
    assert np.abs(other - batched[1]).max() > 1e-3 * np.abs(batched[1]).max()


@pytest.mark.parametrize("make", PRIORS)
def test_per_slice_weight_broadcasts_over_extra_axes(make):
    """lam of shape (N, 1) on (N, C, H, W): every image of row n gets lam[n]."""
    x = np.stack([stack(2, seed=s)[0] for s in (0, 5)])  # (2, 2, H, W)
    lam = np.array([[0.05], [0.2]])
    z = make(lam)(x, 1.0)
    for n in range(2):
        np.testing.assert_allclose(z[n], make(float(lam[n, 0]))(x[n], 1.0), rtol=1e-5,
                                   atol=1e-6)


def test_l1_and_costs_take_per_slice_weights():
    x = np.stack([np.full((2, 2), 3.0), np.full((2, 2), -3.0)])
    lam = np.array([1.0, 2.0])
    np.testing.assert_array_equal(priors.L1(lam)(x, 0.5), [np.full((2, 2), 2.5),
                                                            np.full((2, 2), -2.0)])
    np.testing.assert_array_equal(priors.L1(lam).cost(x), [12.0, 24.0])
    for make in (wavelet, tv):
        xs = stack(2)[0]
        cost = make(np.array([1.0, 2.0])).cost(xs)
        np.testing.assert_allclose(cost, [make(1.0).cost(xs[0]), make(2.0).cost(xs[1])],
                                   rtol=1e-6)


def test_per_slice_weight_needs_the_batch_shape():
    x = np.zeros((3,) + SHAPE, np.complex64)
    for make in (priors.L1, wavelet, tv):
        with pytest.raises(ValueError, match=r"lam of shape \(2,\) must broadcast against the "
                                             r"batch axes \(3,\)"):
            make(np.ones(2))(x, 1.0)
        with pytest.raises(ValueError, match="lam must be finite and >= 0 everywhere"):
            make(np.array([1.0, -1.0, 0.0]))
        with pytest.raises(ValueError, match="lam must be finite and >= 0 everywhere"):
            make(np.array([1.0, np.nan, 0.0]))
        with pytest.raises(TypeError, match="lam must be real numbers"):
            make(np.ones(3, complex))
    with pytest.raises(ValueError, match="must broadcast"):  # one image has no batch axis
        priors.L1(np.ones(1))(np.ones(SHAPE), 1.0)


def test_weight_keeps_the_precision_of_x():
    x = np.ones((2,) + SHAPE, np.complex64)
    for make in (priors.L1, wavelet, tv):
        assert make(np.array([1e-3, 2e-3]))(x, 1.0).dtype == np.complex64


def test_lambda_max_per_sample():
    _, masks, y = stack()
    A = linops.MaskedFFT(masks)
    W = linops.Wavelet(SHAPE, "db2", 2)
    per = solvers.lambda_max(A, y, W, per_sample=True)
    assert per.shape == (3,)
    np.testing.assert_allclose(per, [solvers.lambda_max(linops.MaskedFFT(masks[k]), y[k], W)
                                     for k in range(3)], rtol=1e-6)
    assert per.max() == pytest.approx(solvers.lambda_max(A, y, W))
    D = linops.FiniteDifference(SHAPE)  # a transform with an axis of its own
    np.testing.assert_allclose(solvers.lambda_max(A, y, D, per_sample=True),
                               [solvers.lambda_max(linops.MaskedFFT(masks[k]), y[k], D)
                                for k in range(3)], rtol=1e-6)


@pytest.mark.parametrize("shape", [(16, 16), (18, 22)])  # divisible, and on a padded grid
def test_experiment_baselines_batched_equal_per_slice(shape):
    from npgd import experiments as ex

    x = np.stack([data.phantom(shape, seed=k, dtype="complex64") for k in range(3)])
    masks = np.stack([mri.vd_mask(shape, 2.5, seed=k, calib=4) for k in range(3)])
    A, y = mri.simulate(x, masks)
    y = y.astype(np.complex64)
    for method in (ex.cs_wv, ex.cs_tv):
        batched = method(A, y, iters=10, rel=1e-3, batch=2)
        for k in range(3):
            one = method(linops.MaskedFFT(masks[k]), y[k], iters=10, rel=1e-3)
            np.testing.assert_allclose(batched[k], one, rtol=2e-5,
                                       atol=2e-5 * np.abs(one).max())
