"""Backend dispatch: the one module of npgd that tells NumPy, CuPy and Torch apart.

Everything else in npgd is written against the array API (``xp = namespace(x)``) plus the few
helpers here: the array namespace and device of an input, dtype bookkeeping, conversions
between backends, and :class:`Held`, which moves an operator's own arrays (masks, filters) to
the backend, device and precision of its input once per device and caches them there. The
kernels that differ per backend live next to the operator that uses them (the centred FFTs in
:mod:`npgd.linops.fourier`, the wavelet filter bank in :mod:`npgd.linops.wavelet`).

Torch and CuPy are imported only when an array of theirs is seen, so a NumPy-only user never
needs them installed.
"""

from __future__ import annotations

import sys
from typing import Any

import array_api_compat as aac
import numpy as np

__all__ = [
    "Held",
    "backend_name",
    "check_array",
    "device",
    "from_numpy",
    "is_array",
    "is_complex",
    "namespace",
    "has_ufuncs",
    "real_pairs",
    "result_dtype",
    "to_numpy",
    "tracks_grad",
]

_FLOAT_NAMES = ("float32", "float64", "complex64", "complex128")


def backend_name(x: Any) -> str:
    """Name of the array library that owns ``x``: ``"numpy"``, ``"cupy"`` or ``"torch"``.

    Raises
    ------
    TypeError
        If ``x`` is not an array of one of those libraries.

    Examples
    --------
    >>> import numpy as np
    >>> backend_name(np.zeros(3))
    'numpy'
    """
    if isinstance(x, np.ndarray):
        return "numpy"
    if "torch" in sys.modules and aac.is_torch_array(x):
        return "torch"
    if "cupy" in sys.modules and aac.is_cupy_array(x):
        return "cupy"
    raise TypeError(
        f"expected a numpy.ndarray, cupy.ndarray or torch.Tensor, got {type(x).__name__}"
    )


def is_array(x: Any) -> bool:
    """True when ``x`` is a NumPy, CuPy or Torch array.

    Examples
    --------
    >>> import numpy as np
    >>> is_array(np.zeros(2)), is_array([0.0, 1.0])
    (True, False)
    """
    try:
        backend_name(x)
    except TypeError:
        return False
    return True


def namespace(x: Any) -> Any:
    """Array-API namespace of ``x`` (NumPy itself for NumPy arrays, array-api-compat otherwise).

    Examples
    --------
    >>> import numpy as np
    >>> namespace(np.ones(2)) is np
    True
    """
    if backend_name(x) == "numpy":
        return np
    return aac.array_namespace(x)


def has_ufuncs(x: Any) -> bool:
    """True for NumPy and CuPy arrays, whose namespaces share the ufunc API (``out=``,
    in-place updates); kernels use it to take a buffer-reusing path that Torch, whose
    autograd needs out-of-place operations, does not.

    Examples
    --------
    >>> import numpy as np
    >>> has_ufuncs(np.zeros(2))
    True
    """
    return backend_name(x) in ("numpy", "cupy")


def real_pairs(x: Any) -> Any:
    """A real *view* of ``x`` with a trailing axis of its real components: complex
    ``(..., n)`` gives ``(..., n, 2)`` (real, imaginary), real ``(..., n)`` gives
    ``(..., n, 1)``. Writes to the view write to ``x``. ``x`` must be C-contiguous when complex.

    Examples
    --------
    >>> import numpy as np
    >>> z = np.array([1 + 2j, 3 - 4j], np.complex64)
    >>> v = real_pairs(z); v[1, 1] = 5
    >>> v.shape, v.dtype, z[1]
    ((2, 2), dtype('float32'), np.complex64(3+5j))
    """
    if not is_complex(x):
        return x[..., None]
    if backend_name(x) == "torch":
        import torch

        return torch.view_as_real(x)
    if not x.flags.c_contiguous:
        raise ValueError("real_pairs: a complex x must be C-contiguous to be viewed as real")
    return x.view(x.real.dtype).reshape(tuple(x.shape) + (2,))


def tracks_grad(x: Any) -> bool:
    """True for a Torch tensor that records gradients (a learnable weight or mask, or one
    computed from one): operators must not cache conversions of it, or gradients stop.

    Examples
    --------
    >>> import numpy as np, torch
    >>> tracks_grad(np.ones(2)), tracks_grad(torch.ones(2, requires_grad=True))
    (False, True)
    """
    return backend_name(x) == "torch" and bool(x.requires_grad)


def device(x: Any) -> Any:
    """Device of ``x`` (``"cpu"`` for NumPy, a ``torch.device`` or ``cupy.cuda.Device``).

    Examples
    --------
    >>> import numpy as np
    >>> device(np.zeros(2))
    'cpu'
    """
    return aac.device(x)


def _dtype_name(dtype: Any) -> str:
    if isinstance(dtype, type):  # NumPy scalar types such as np.float32
        return np.dtype(dtype).name
    return str(dtype).removeprefix("torch.")


def is_complex(x: Any) -> bool:
    """True when ``x`` has a complex dtype.

    Examples
    --------
    >>> import numpy as np
    >>> is_complex(np.zeros(2, np.complex64)), is_complex(np.zeros(2))
    (True, False)
    """
    return _dtype_name(x.dtype).startswith("complex")


def _is_single(x: Any) -> bool:
    return _dtype_name(x.dtype) in ("float32", "complex64")


def result_dtype(x: Any, complex_: bool) -> Any:
    """The dtype of ``x``'s backend with ``x``'s precision, complex or real as asked.

    ``float32``/``complex64`` inputs give single precision, ``float64``/``complex128`` double:
    npgd never upcasts.

    Examples
    --------
    >>> import numpy as np
    >>> result_dtype(np.zeros(2, np.float32), complex_=True)
    <class 'numpy.complex64'>
    """
    xp = namespace(x)
    if _is_single(x):
        return xp.complex64 if complex_ else xp.float32
    return xp.complex128 if complex_ else xp.float64


_CHECKED: dict[tuple[type, Any], Any] = {}


def check_array(x: Any, arg: str = "x", where: str = "") -> Any:
    """Check that ``x`` is a floating or complex NumPy/CuPy/Torch array; return its namespace.

    Raises
    ------
    TypeError
        Naming ``arg`` (and ``where``, the operator or function) with what was expected and
        what was given.

    Examples
    --------
    >>> import numpy as np
    >>> check_array(np.zeros(2)) is np
    True
    >>> check_array(np.zeros(2, int), "y", "pgd")
    Traceback (most recent call last):
    TypeError: pgd: y must have dtype float32, float64, complex64 or complex128, got int64
    """
    key = (type(x), getattr(x, "dtype", None))
    xp = _CHECKED.get(key)
    if xp is not None:  # fast path: this (array type, dtype) passed before
        return xp
    prefix = f"{where}: " if where else ""
    try:
        xp = namespace(x)
    except TypeError:
        raise TypeError(
            f"{prefix}{arg} must be a numpy.ndarray, cupy.ndarray or torch.Tensor, "
            f"got {type(x).__name__}"
        ) from None
    name = _dtype_name(x.dtype)
    if name not in _FLOAT_NAMES:
        raise TypeError(
            f"{prefix}{arg} must have dtype float32, float64, complex64 or complex128, "
            f"got {name}"
        )
    _CHECKED[key] = xp
    return xp


def to_numpy(a: Any) -> np.ndarray:
    """A NumPy copy (or view) of any supported array or NumPy scalar, detached from autograd.

    Examples
    --------
    >>> import numpy as np
    >>> to_numpy(np.float32(2.0))
    array(2., dtype=float32)
    """
    if isinstance(a, np.generic):
        return np.asarray(a)
    name = backend_name(a)
    if name == "numpy":
        return a
    if name == "torch":
        a = a.detach()
        if a.is_complex():
            a = a.resolve_conj()
        return a.cpu().numpy()
    return a.get()


def _same_place(a: Any, x: Any) -> bool:
    return backend_name(a) == backend_name(x) and str(device(a)) == str(device(x))


def from_numpy(a: np.ndarray, like: Any, dtype: Any = None) -> Any:
    """NumPy array ``a`` on ``like``'s backend and device, as ``dtype`` (default: ``a``'s).

    Examples
    --------
    >>> import numpy as np
    >>> from_numpy(np.arange(3.0), np.zeros(1), "float32")
    array([0., 1., 2.], dtype=float32)
    """
    name = backend_name(like)
    dtype = a.dtype if dtype is None else np.dtype(_dtype_name(dtype))
    a = np.ascontiguousarray(a, dtype=dtype)
    if name == "numpy":
        return a
    if name == "torch":
        import torch

        return torch.from_numpy(a).to(device=like.device)
    import cupy

    with like.device:
        return cupy.asarray(a)


class Held:
    """An array an operator holds (mask, weights, filters), kept once per backend/device/dtype.

    ``held.like(x)`` returns the array on ``x``'s backend and device in ``x``'s precision. The
    first call for a (backend, device, dtype) converts and caches; later calls are a dict
    lookup, so nothing is copied per operator application. An array already in the right place
    and dtype is returned as is, which keeps Torch autograd through learnable weights.

    Parameters
    ----------
    array : array
        NumPy, CuPy or Torch array.

    Examples
    --------
    >>> import numpy as np, torch
    >>> mask = Held(np.ones((2, 2)))
    >>> x = torch.zeros(2, 2, dtype=torch.complex64)
    >>> m = mask.like(x)  # float32 (x's precision, the mask stays real), on x's device
    >>> m.dtype, mask.like(x) is m
    (torch.float32, True)
    """

    def __init__(self, array: Any):
        self.array = array
        self.complex = is_complex(array)
        self._cache: dict[tuple[Any, ...], Any] = {}

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.array.shape)

    def numpy(self) -> np.ndarray:
        """The held array as NumPy (for validation and inspection)."""
        return to_numpy(self.array)

    def like(self, x: Any, complex_: bool | None = None) -> Any:
        """The held array on ``x``'s backend and device, in ``x``'s precision.

        ``complex_`` forces a complex (True) or real (False) dtype; by default the held array
        keeps its own kind (a real mask stays real, which is what elementwise products need).
        """
        fast = (type(x), x.dtype, getattr(x, "device", None), complex_)
        out = self._cache.get(fast)
        if out is not None:
            return out
        want = result_dtype(x, self.complex if complex_ is None else complex_)
        a = self.array
        if tracks_grad(a) and backend_name(x) == "torch":
            # A learnable Torch weight: convert on every call (never cache) so gradients reach it.
            return a.to(device=x.device, dtype=want)
        if _same_place(a, x) and _dtype_name(a.dtype) == _dtype_name(want):
            out = a
        else:
            out = from_numpy(to_numpy(a), x, want)
        self._cache[fast] = out
        return out
