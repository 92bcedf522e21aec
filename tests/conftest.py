"""Shared fixtures and helpers: the backends present on this machine, hypothesis profiles, and
the registry of every operator that the adjoint, autograd and normal-operator tests run over."""

import importlib.util
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from npgd import linops

settings.register_profile(
    "default",
    max_examples=int(os.environ.get("NPGD_HYPOTHESIS_EXAMPLES", "30")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.load_profile("default")

HAS_TORCH = importlib.util.find_spec("torch") is not None
HAS_CUPY = importlib.util.find_spec("cupy") is not None


def _torch_cuda() -> bool:
    if not HAS_TORCH:
        return False
    import torch

    return torch.cuda.is_available()


def _cupy_cuda() -> bool:
    if not HAS_CUPY:
        return False
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # no driver / no device: the CuPy backend is simply absent
        return False


def _like(name: str):
    """An empty array of the named backend and device, for ``dottest(..., like=...)``."""
    if name == "numpy":
        return np.zeros(0)
    if name.startswith("torch"):
        import torch

        return torch.zeros(0, device="cuda" if name == "torch-cuda" else "cpu")
    import cupy

    return cupy.zeros(0)


BACKENDS = [
    pytest.param("numpy", id="numpy"),
    pytest.param(
        "torch", id="torch", marks=pytest.mark.skipif(not HAS_TORCH, reason="torch missing")
    ),
    pytest.param(
        "torch-cuda",
        id="torch-cuda",
        marks=[pytest.mark.gpu, pytest.mark.skipif(not _torch_cuda(), reason="no CUDA GPU")],
    ),
    pytest.param(
        "cupy",
        id="cupy",
        marks=[pytest.mark.gpu, pytest.mark.skipif(not _cupy_cuda(), reason="no CuPy GPU")],
    ),
]


@pytest.fixture(params=BACKENDS, scope="session")
def like(request):
    """An empty array of each available backend/device."""
    return _like(request.param)


@pytest.fixture
def step_pushed_negative(monkeypatch):
    """Every Adam update leaves each 0-d parameter (NeuralPGD's learned step) at -0.5, as a
    large learning rate can; what trains must project it back before pgd sees it."""
    torch = pytest.importorskip("torch")
    update = torch.optim.Adam.step

    def update_then_negative(self, *a, **k):
        out = update(self, *a, **k)
        for group in self.param_groups:
            for p in group["params"]:
                if p.ndim == 0:
                    p.data.fill_(-0.5)
        return out

    monkeypatch.setattr(torch.optim.Adam, "step", update_then_negative)


def to_backend(a: np.ndarray, like):
    from npgd import backend

    return backend.from_numpy(np.asarray(a), like)


def to_np(a) -> np.ndarray:
    from npgd import backend

    return np.asarray(backend.to_numpy(a))


# -- shared helpers and the operator registry ------------------------------------------------

_RNG = np.random.default_rng(1234)


def crandn(*shape, dtype=np.complex128, rng=None):
    """A complex standard normal array (real and imaginary parts independent)."""
    rng = _RNG if rng is None else rng
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)


DTYPES = st.sampled_from(["float32", "float64", "complex64", "complex128"])
WAVELETS = ["haar", "db2", "db4", "sym3", "coif1"]

sizes = st.integers(1, 9)
batches = st.lists(st.integers(1, 3), min_size=0, max_size=2).map(tuple)


@st.composite
def image_shapes(draw, multiple=(1, 1)):
    return tuple(draw(st.integers(1, 6)) * m for m in multiple)


def _weights(draw, shape, per_sample):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    full = tuple(per_sample) + tuple(shape)
    w = rng.standard_normal(full)
    if draw(st.booleans()):
        w = w + 1j * rng.standard_normal(full)
    return w


def _identity(draw, per_sample):
    return linops.Identity((draw(sizes), draw(sizes)))


def _diagonal(draw, per_sample):
    shape = (draw(sizes), draw(sizes))
    return linops.Diagonal(_weights(draw, shape, per_sample), shape=shape)


def _fft(draw, per_sample):
    return linops.FFT2((draw(sizes), draw(sizes)))


def _masked(draw, per_sample):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    mask = rng.random(tuple(per_sample) + (draw(sizes), draw(sizes))) < 0.4
    return linops.MaskedFFT(mask if draw(st.booleans()) else mask.astype(np.float32))


def _downsample(draw, per_sample):
    f = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    return linops.Downsample(draw(image_shapes(f)), f)


def _crop(draw, per_sample):
    return linops.Crop((draw(sizes), draw(sizes)), (draw(sizes), draw(sizes)))


def _wavelet(draw, per_sample):
    levels = draw(st.integers(1, 3))
    shape = draw(image_shapes((2**levels, 2**levels)))
    return linops.Wavelet(shape, draw(st.sampled_from(WAVELETS)), levels)


def _finite_difference(draw, per_sample):
    boundary = draw(st.sampled_from(["neumann", "periodic"]))
    return linops.FiniteDifference((draw(sizes), draw(sizes)), boundary)


def _sense(draw, per_sample):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    shape = (draw(st.integers(1, 3)), draw(sizes), draw(sizes))
    maps = crandn(*per_sample, *shape, rng=rng)
    mask = rng.random(shape[1:]) < 0.5 if draw(st.booleans()) else None
    return linops.Sense(maps, mask)


# Every elementary operator, by name: a builder from a hypothesis ``draw`` and the batch shape
# its per-sample data (mask, weights) may have. Adjoint, autograd and normal-operator tests
# are parametrized over this registry, so a new operator is tested by adding one line.
OPERATORS = {
    "identity": _identity,
    "diagonal": _diagonal,
    "fft": _fft,
    "masked": _masked,
    "downsample": _downsample,
    "crop": _crop,
    "wavelet": _wavelet,
    "finitediff": _finite_difference,
    "sense": _sense,
}


@st.composite
def base_operators(draw, batch=(), kinds=tuple(OPERATORS)):
    """One elementary operator of the registry (of one of ``kinds``) with random parameters,
    with per-sample data broadcasting against ``batch`` half of the time."""
    kind = draw(st.sampled_from(list(kinds)))
    per_sample = tuple(batch) if (batch and draw(st.booleans())) else ()
    return OPERATORS[kind](draw, per_sample)


@st.composite
def operators(draw, batch=()):
    """Elementary operators and the algebra built on them: A.H, A.N, c*A, A+B, A-B, A@B."""
    A = draw(base_operators(batch))
    how = draw(st.sampled_from(["plain", "H", "N", "scaled", "sum", "compose"]))
    if how == "H":
        return A.H
    if how == "N":
        return A.N
    if how == "scaled":
        c = draw(st.sampled_from([2.5, -1, 0.5 - 1.5j]))
        return c * A
    if how == "sum":
        return A - 0.5 * linops.Diagonal(np.full(A.oshape, 2.0)) @ A
    if how == "compose":
        return linops.FFT2(A.oshape) @ A if len(A.oshape) == 2 else A.H @ A
    return A
