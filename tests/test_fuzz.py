"""Fuzzing the public API: random shapes, dtypes, NaN/Inf and degenerate masks either work
(finite output) or raise a clear ValueError/TypeError; never any other exception."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from npgd import linops, priors, solvers
from npgd.experiments import evaluate as ev
from npgd.problems import metrics, mri, readers

FAST = settings(max_examples=25, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

DTYPES = st.sampled_from([np.float32, np.float64, np.complex64, np.complex128, np.int16,
                          np.uint8, np.bool_])


@st.composite
def arrays(draw, min_dims=0, max_dims=4, max_side=9):
    """Small arrays of any listed dtype, sometimes with NaN/Inf or all zeros."""
    dtype = draw(DTYPES)
    shape = draw(hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=0,
                                  max_side=max_side))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    a = (rng.standard_normal(shape) * 3).astype(dtype) if dtype != np.bool_ \
        else rng.random(shape) < 0.5
    kind = draw(st.sampled_from(["plain", "nan", "inf", "zeros"]))
    if a.size and kind in ("nan", "inf") and a.dtype.kind in "fc":
        a.flat[draw(st.integers(0, a.size - 1))] = np.nan if kind == "nan" else np.inf
    if kind == "zeros":
        a = np.zeros_like(a)
    return a


@st.composite
def masks(draw, shape):
    kind = draw(st.sampled_from(["zeros", "ones", "random", "float"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    if kind == "zeros":
        return np.zeros(shape, bool)
    if kind == "ones":
        return np.ones(shape, bool)
    if kind == "float":
        return rng.random(shape).astype(np.float32)
    return rng.random(shape) < 0.4


def _ok(out):
    a = np.asarray(out)
    if a.dtype.kind in "fc":
        assert np.isfinite(a).all(), "non-finite output without an error"


def _works_or_clear(f, *args, **kwargs):
    try:
        out = f(*args, **kwargs)
    except (ValueError, TypeError) as e:
        assert str(e).strip(), "an error without a message"
        return None
    return out


@FAST
@given(a=arrays(), suffix=st.sampled_from([".npy", ".npz"]))
def test_readers_on_random_arrays(tmp_path_factory, a, suffix):
    d = tmp_path_factory.mktemp("r")
    p = d / f"x{suffix}"
    if suffix == ".npy":
        np.save(p, a)
    else:
        np.savez(p, images=a)
    out = _works_or_clear(readers.read_images, p)
    if out is not None:
        x, info = out
        assert x.ndim == 3 and min(x.shape[1:]) >= 2 and x.dtype in (np.float32, np.complex64)
        assert np.isfinite(x).all() and np.abs(x).max(axis=(1, 2)).all()
        assert (x.dtype == np.complex64) == (a.dtype.kind == "c")  # never cast to real


@FAST
@given(data=st.binary(max_size=400),
       name=st.sampled_from(["x.nii", "x.nii.gz", "x.npy", "x.npz", "x.h5", "x.dcm",
                             "x.cfl", "._x.nii.gz", "x.txt"]))
def test_readers_on_garbage_bytes(tmp_path_factory, data, name):
    d = tmp_path_factory.mktemp("g")
    (d / name).write_bytes(data)
    if name == "x.cfl":
        (d / "x.hdr").write_text("# Dimensions\n4 4\n")
    out = _works_or_clear(readers.read_images, d / name)
    if out is not None:
        _ok(out[0])


@FAST
@given(x=arrays(min_dims=1, max_dims=4), data=st.data())
def test_simulate_and_masked_fft(x, data):
    if x.dtype.kind in "fc" and not np.isfinite(x).all():
        x = np.nan_to_num(x)  # NaN/Inf images: test_simulate_refuses_nan_images
    shape = x.shape[-2:] if x.ndim >= 2 else x.shape
    m = data.draw(masks(shape))
    out = _works_or_clear(mri.simulate, x, m, noise_std=data.draw(
        st.sampled_from([0.0, 0.1, -1.0, math.nan])), seed=0)
    if out is not None:
        A, y = out
        _ok(y)
        _ok(A.H(y))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_simulate_refuses_nan_images(bad):
    x = np.ones((8, 8), np.float32)
    x[2, 3] = bad
    out = _works_or_clear(mri.simulate, x, np.ones((8, 8), bool))
    if out is not None:
        _ok(out[1])


@FAST
@given(xshape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=6),
       mshape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=6))
def test_masked_fft_shape_mismatches(xshape, mshape):
    A = _works_or_clear(linops.MaskedFFT, np.ones(mshape, bool))
    if A is not None:
        out = _works_or_clear(A, np.ones(xshape, np.complex64))
        if out is not None:
            _ok(out)
            assert out.shape[-2:] == tuple(mshape[-2:])


@FAST
@given(data=st.data(), prior=st.sampled_from(["tv", "wavelet"]),
       accel=st.booleans(),
       step=st.sampled_from([None, 0.5, 0.0, -1.0, math.nan, 1j, "a"]))
def test_solvers_with_degenerate_masks_and_steps(data, prior, accel, step):
    shape = data.draw(st.sampled_from([(8, 8), (16, 8), (6, 10)]))
    m = data.draw(masks(shape))
    x = np.random.default_rng(0).standard_normal(shape).astype(np.complex64)
    if data.draw(st.booleans()):
        x[0, 0] = np.nan
    A = linops.MaskedFFT(m)
    y = A(np.nan_to_num(x))
    if np.isnan(x).any():
        y = y + np.nan * (~np.asarray(m, bool))  # NaN where the mask does not sample
    P = _works_or_clear(priors.TV, 1e-2, shape) if prior == "tv" else \
        _works_or_clear(priors.L1Wavelet, 1e-2, shape, "haar", seed=0)
    if P is None:
        return
    f = solvers.fista if accel else solvers.pgd
    kw = {} if step is None else {"step": step}
    out = _works_or_clear(f, A, P, y, iters=3, **kw)
    if out is not None:
        _ok(out)


@FAST
@given(a=arrays(min_dims=0, max_dims=4), b=arrays(min_dims=0, max_dims=4),
       name=st.sampled_from(["snr", "psnr", "nrmse", "ssim"]))
def test_metrics_any_shapes(a, b, name):
    _works_or_clear(getattr(metrics, name), a, b)


@FAST
@given(data=st.data(), name=st.sampled_from(["snr", "psnr", "nrmse"]))
def test_metrics_never_return_nan(data, name):
    a = data.draw(arrays(min_dims=2, max_dims=3))
    rng = np.random.default_rng(data.draw(st.integers(0, 99)))
    b = rng.standard_normal(a.shape).astype(np.float32)
    out = _works_or_clear(getattr(metrics, name), a, b)
    if out is not None:
        assert not np.isnan(np.asarray(out)).any(), f"{name} returned NaN without an error"


@FAST
@given(x=arrays(min_dims=1, max_dims=4, max_side=12), data=st.data())
def test_evaluate_functions(x, data):
    accel = data.draw(st.sampled_from([1.0, 2.0, 5.0, 0.5, math.nan]))
    family = data.draw(st.sampled_from(["vd", "radial", "lines", "spiral"]))
    noise = data.draw(st.sampled_from([None, 30.0, -5.0, math.nan, math.inf]))
    out = _works_or_clear(ev.evaluate, x, accel=accel, mask=family, noise_db=noise,
                          cs_iters=2, seed=0)
    if out is not None:
        res, xe, rec = out
        for r in rec.values():
            _ok(r)
        for row in res["methods"]:
            assert not np.isnan(row["snr"]) and not np.isnan(row["ssim"])


@pytest.mark.parametrize("m", [np.zeros((8, 8), bool), np.ones((8, 8), bool)])
def test_measure_degenerate_masks(m):
    x = np.ones((1, 8, 8), np.float32)
    out = _works_or_clear(ev.measure, x, m[None])
    assert (out is None) == (not m.any())  # all zero: a clear error; all one: works
