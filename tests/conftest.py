"""Shared fixtures: the backends present on this machine, and hypothesis profiles."""

import importlib.util
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

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


def to_backend(a: np.ndarray, like):
    from npgd import backend

    return backend.from_numpy(np.asarray(a), like)


def to_np(a) -> np.ndarray:
    from npgd import backend

    return np.asarray(backend.to_numpy(a))
