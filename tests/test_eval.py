"""Evaluation on any data: CS baselines on odd shapes, lambda tuning, noise, JSON, the sweep."""

import numpy as np
import pytest

from npgd import experiments as ex
from npgd.problems import data, metrics, mri


def _measure(shape, accel=3, n=1, seed=0):
    x = np.stack([data.phantom(shape, seed=seed + k) for k in range(n)])
    masks = np.stack([mri.vd_mask(shape, accel, seed=seed + k, calib=4) for k in range(n)])
    A, y = mri.simulate(x, masks)
    return x, A, y


@pytest.mark.parametrize("shape", [(45, 54), (37, 50), (32, 40)])
def test_cs_baselines_any_shape(shape):
    x, A, y = _measure(shape)
    zf = metrics.snr(x, A.H(y))
    for method in (ex.cs_wv, ex.cs_tv):
        xh = method(A, y, iters=100, rel=1e-3)
        assert xh.shape == x.shape and np.isfinite(xh).all()
        assert metrics.snr(x, xh)[0] > zf[0] + 1, method.__name__
    one = ex.cs_wv(linops_single(A), y[0], iters=40)  # a single 2-D slice
    assert one.shape == shape


def linops_single(A):
    from npgd import linops

    return linops.MaskedFFT(A.mask.numpy()[0])


def test_cs_wv_padded_grid_keeps_divisible_shapes_exact():
    assert ex.wavelet_grid((192, 160)) == ((192, 160), 3)
    assert ex.wavelet_grid((181, 217)) == ((184, 224), 3)
    x, A, y = _measure((32, 40))
    ref = ex.cs_wv(A, y, iters=20)
    np.testing.assert_array_equal(ex.cs_wv(A, y, iters=20), ref)  # same call, same result
