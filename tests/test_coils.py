"""problems.coils: the birdcage simulator and ESPIRiT calibration (NumPy, Torch, CUDA)."""

import numpy as np
import pytest
from conftest import to_backend, to_np
from hypothesis import given
from hypothesis import strategies as st

from npgd import linops
from npgd.problems import coils, data, mri

SHAPE = (32, 28)


def _kspace(shape=SHAPE, ncoils=4, seed=0):
    S = coils.birdcage(shape, ncoils)
    x = data.phantom(shape, seed=seed)
    return S, x, linops.FFT2(shape)(S * x)


def _agreement(maps, truth):
    """|<S_est, S_true>| per pixel: 1 where the two agree up to one phase per pixel."""
    return abs((np.conj(maps) * truth).sum(axis=-3))


@given(shape=st.tuples(st.integers(1, 40), st.integers(1, 40)), ncoils=st.integers(1, 9),
       radius=st.floats(1.42, 4))
def test_birdcage_is_normalized_and_smooth(shape, ncoils, radius):
    S = coils.birdcage(shape, ncoils, radius=radius)
    assert S.shape == (ncoils, *shape) and S.dtype == np.complex64
    np.testing.assert_allclose((abs(S) ** 2).sum(0), 1, atol=1e-5)
    # Smooth. As a function of the position r (complex), the raw map of coil c is
    # e^{-i theta_c} / conj(r - p_c): its derivative along any direction has modulus 1/d_c^2
    # (d_c = |r - p_c|). With N = ||raw|| over the coils and S = raw / N,
    # |dS_c| <= |d raw_c| / N + |raw_c| |dN| / N^2 <= 1/d_c + ||d raw|| / N <= 2 / d_min
    # (N >= |raw_c| = 1/d_c, |dN| <= ||d raw||), and d_min >= radius - sqrt(2) over the field of
    # view [-1, 1]^2. Neighbours along axis 1 are 2/H apart, so they differ by at most
    # 4 / (H (radius - sqrt(2))).
    if shape[0] > 8:
        step = abs(np.diff(S.astype(np.complex128), axis=1)).max()
        assert step <= 4 / shape[0] / (radius - np.sqrt(2)) * (1 + 1e-5)


def test_birdcage_coils_differ_and_errors():
    S = coils.birdcage((16, 16), 4)
    assert abs(S[0] - S[1]).max() > 0.1
    for radius in (0.9, 1.2, np.sqrt(2)):  # inside the field of view, near a corner at most
        with pytest.raises(ValueError, match=r"birdcage: radius must be > sqrt\(2\)"):
            coils.birdcage((8, 8), 4, radius=radius)
    with pytest.raises(ValueError, match="birdcage: coils must be an int >= 1"):
        coils.birdcage((8, 8), 0)


def test_espirit_recovers_the_maps_up_to_a_phase(like):
    S, x, k = _kspace()
    maps = coils.espirit(to_backend(k, like), calib=12, kernel=4)
    assert maps.shape == (4, *SHAPE)
    on = abs(x) > 0.1
    m = to_np(maps)
    assert _agreement(m, S)[on].min() > 0.99
    np.testing.assert_allclose((abs(m) ** 2).sum(0)[on], 1, atol=1e-4)


def test_espirit_crops_the_background():
    S, x, k = _kspace()
    maps = coils.espirit(k, calib=12, kernel=4, crop=0.95)
    power = (abs(maps) ** 2).sum(0)
    far = np.zeros(SHAPE, bool)  # the corners, well away from the object
    for i in (slice(0, 3), slice(-3, None)):
        for j in (slice(0, 3), slice(-3, None)):
            far[i, j] = True
    assert (power[far] == 0).all() and (power[abs(x) > 0.1] > 0.99).all()
    keep_all = coils.espirit(k, calib=12, kernel=4, crop=0.0)
    assert (abs(keep_all) ** 2).sum(0)[far].min() > 0.99


def test_espirit_on_undersampled_data_and_on_the_calibration_region_alone():
    S, x, k = _kspace()
    mask = mri.vd_mask(SHAPE, 3, seed=0, calib=14)
    full = coils.espirit(k, calib=12, kernel=4)
    under = coils.espirit(k * mask, calib=12, kernel=4)
    np.testing.assert_allclose(under, full, atol=1e-5)
    centre = k[:, SHAPE[0] // 2 - 6 : SHAPE[0] // 2 + 6, SHAPE[1] // 2 - 6 : SHAPE[1] // 2 + 6]
    alone = coils.espirit(centre, calib=12, kernel=4, shape=SHAPE)
    np.testing.assert_allclose(alone, full, atol=1e-5)


def test_espirit_batched_equals_one_by_one_and_is_deterministic():
    _, _, k1 = _kspace(seed=0)
    _, _, k2 = _kspace(seed=3)
    both = coils.espirit(np.stack([k1, 2 * k2]), calib=12, kernel=4)
    assert both.shape == (2, 4, *SHAPE)
    np.testing.assert_allclose(both[0], coils.espirit(k1, calib=12, kernel=4), atol=1e-5)
    np.testing.assert_allclose(both[1], coils.espirit(k2, calib=12, kernel=4), atol=1e-5)
    again = coils.espirit(np.stack([k1, 2 * k2]), calib=12, kernel=4)
    assert np.array_equal(both, again)


def test_espirit_phase_references():
    S, x, k = _kspace()
    on = abs(x) > 0.1
    ref0 = coils.espirit(k, calib=12, kernel=4, phase=0)
    assert abs(ref0[0].imag).max() < 1e-5 and ref0[0].real[on].min() > 0
    virtual = coils.espirit(k, calib=12, kernel=4)
    # The virtual body coil's phase is smooth over the object: no jumps between neighbours.
    rot = (virtual * np.conj(S)).sum(0)
    jumps = abs(np.angle(rot[1:] * np.conj(rot[:-1])))[on[1:] & on[:-1]]
    assert jumps.max() < 0.3
    free = coils.espirit(k, calib=12, kernel=4, phase=None)
    assert _agreement(free, S)[on].min() > 0.99


def test_espirit_virtual_phase_does_not_depend_on_the_eigen_solver(monkeypatch):
    # LAPACK builds return eigh's eigenvectors with different phases; the maps (and the
    # phase of every SENSE image, which a learned prior sees) must not follow them
    _, x, k = _kspace()
    ref = coils.espirit(k, calib=12, kernel=4)
    eigh = np.linalg.eigh

    def turned(a):
        w, v = eigh(a)
        return w, v * np.exp(2.1j)

    monkeypatch.setattr(np.linalg, "eigh", turned)
    np.testing.assert_allclose(coils.espirit(k, calib=12, kernel=4), ref, atol=1e-5)
    # and the virtual coil's image sums to a real, positive number
    cal = coils._centre(k, (12, 12))
    v = coils._principal_coil(np, cal)
    dc = (np.conj(v) * cal[:, 6, 6]).sum()
    assert abs(dc.imag) < 1e-6 * abs(dc) and dc.real > 0


def test_espirit_sense_reconstruction():
    """Maps estimated from 3x-undersampled data give a CG-SENSE image as good as the true
    maps do, and far better than the zero-filled one."""
    from npgd import solvers

    S, x, k = _kspace(shape=(40, 36), ncoils=6)
    mask = mri.vd_mask((40, 36), 3, seed=1, calib=14)
    y = k * mask

    def error(maps, iters=50):
        A = linops.Sense(maps, mask)
        xh = solvers.cg(A.N, A.H(y), iters=iters) if iters else A.H(y)
        # Magnitudes: the maps carry one phase per pixel, which the image absorbs.
        return np.linalg.norm(abs(xh) - abs(x)) / np.linalg.norm(x)

    est = coils.espirit(y, calib=14, kernel=5)
    assert error(est) < 1.2 * error(S)
    assert error(est) < 0.5 * error(est, iters=0)


def test_espirit_errors():
    _, _, k = _kspace()
    with pytest.raises(ValueError, match="espirit: the calibration region"):
        coils.espirit(k, calib=4, kernel=6)
    with pytest.raises(ValueError, match="espirit: kspace contains NaN"):
        coils.espirit(np.full_like(k, np.nan), calib=12, kernel=4)
    with pytest.raises(ValueError, match="espirit: phase must be"):
        coils.espirit(k, phase=7)
    with pytest.raises(ValueError, match="espirit: thresh must be in"):
        coils.espirit(k, thresh=1.5)
    with pytest.raises(ValueError, match=r"espirit: kspace must have shape \(..., C, H, W\)"):
        coils.espirit(k[0])
    with pytest.raises(TypeError, match="espirit: kspace must have dtype"):
        coils.espirit(abs(k).astype(np.int32))


@pytest.mark.gpu
def test_espirit_on_cuda_matches_cpu():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    S, x, k = _kspace()
    cpu = coils.espirit(torch.from_numpy(k), calib=12, kernel=4)
    gpu = coils.espirit(torch.from_numpy(k).cuda(), calib=12, kernel=4)
    assert gpu.is_cuda
    on = torch.from_numpy(abs(x) > 0.1)
    agree = (gpu.cpu().conj() * cpu).sum(0).abs()[on]
    assert float(agree.min()) > 0.999
