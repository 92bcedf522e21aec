"""Backend dispatch: the one module of npgd that tells NumPy, CuPy and Torch apart.

Everything else in npgd is written against the array API (``xp = namespace(x)``) plus the few
helpers here: the array namespace and device of an input, dtype bookkeeping, centred FFTs, the
polyphase filter bank of the wavelet transform, and :class:`Held`, which moves an operator's
own arrays (masks, filters) to the backend, device and precision of its input once per device
and caches them there.

Torch and CuPy are imported only when an array of theirs is seen, so a NumPy-only user never
needs them installed.
"""

from __future__ import annotations

import sys
from typing import Any

import array_api_compat as aac
import numpy as np
import scipy.fft

__all__ = [
    "Held",
    "backend_name",
    "check_array",
    "device",
    "fft2c",
    "fft2c_normal",
    "filter_bank",
    "from_numpy",
    "is_array",
    "ifft2c",
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


def fft2c(x: Any) -> Any:
    """Centred orthonormal 2-D DFT over the last two axes.

    .. math:: \\hat x = S\\,F\\,S^{-1} x,\\qquad F_{kn} = e^{-2\\pi i k n / N} / \\sqrt{N}

    with :math:`S` = ``fftshift``, so the DC term is at index ``(H//2, W//2)`` in both domains.
    On NumPy it runs ``scipy.fft`` (single precision stays single; the number of threads
    follows ``scipy.fft.set_workers``).

    Examples
    --------
    >>> import numpy as np
    >>> k = fft2c(np.ones((4, 4), np.float32))
    >>> k.dtype, float(k[2, 2].real), float(abs(ifft2c(k) - 1).max()) < 1e-6
    (dtype('complex64'), 4.0, True)
    """
    return _fft2c(x, inverse=False)


def ifft2c(x: Any) -> Any:
    """Inverse (= adjoint) of :func:`fft2c`: :math:`S F^H S^{-1}`; see :func:`fft2c`.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).standard_normal((3, 5, 6))
    >>> bool(np.allclose(ifft2c(fft2c(x)), x))
    True
    """
    return _fft2c(x, inverse=True)


def fft2c_normal(x: Any, weights: Any) -> Any:
    """:math:`F^H (w \\odot F x)` for centred orthonormal ``F`` with ``w`` given in *uncentred*
    (ifftshifted) order.

    The centring shifts drop out: :math:`F = S^{-1} F_0 S` with ``S`` = ifftshift (a circular
    shift) and :math:`F_0` the plain DFT, so :math:`F^H w F = S^{-1} (F_0^H w F_0) S`, and the
    circular convolution :math:`F_0^H w F_0` commutes with every circular shift. Two FFTs and
    one product, no copies, for any (odd or even) size.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).standard_normal((5, 4))
    >>> w = np.random.default_rng(1).random((5, 4))
    >>> ref = ifft2c(np.fft.fftshift(w) * fft2c(x))
    >>> bool(np.allclose(fft2c_normal(x, w), ref))
    True
    """
    name = backend_name(x)
    axes = (-2, -1)
    if name == "numpy":
        k = scipy.fft.fft2(x, axes=axes, norm="ortho")
        k *= weights
        return scipy.fft.ifft2(k, axes=axes, norm="ortho", overwrite_x=True)
    if name == "torch":
        import torch

        k = torch.fft.fft2(x, dim=axes, norm="ortho")
        return torch.fft.ifft2(weights * k, dim=axes, norm="ortho")
    import cupyx.scipy.fft as cufft

    k = cufft.fft2(x, axes=axes, norm="ortho")
    k *= weights
    return cufft.ifft2(k, axes=axes, norm="ortho", overwrite_x=True)


def _fft2c(x: Any, inverse: bool) -> Any:
    name = backend_name(x)
    axes = (-2, -1)
    if name == "numpy":
        f = scipy.fft.ifft2 if inverse else scipy.fft.fft2
        # ifftshift allocates a fresh array, so the FFT may overwrite it.
        y = f(np.fft.ifftshift(x, axes=axes), axes=axes, norm="ortho", overwrite_x=True)
        return np.fft.fftshift(y, axes=axes)
    if name == "torch":
        import torch

        f = torch.fft.ifft2 if inverse else torch.fft.fft2
        y = f(torch.fft.ifftshift(x, dim=axes), dim=axes, norm="ortho")
        return torch.fft.fftshift(y, dim=axes)
    import cupy
    import cupyx.scipy.fft as cufft

    f = cufft.ifft2 if inverse else cufft.fft2
    y = f(cupy.fft.ifftshift(x, axes=axes), axes=axes, norm="ortho", overwrite_x=True)
    return cupy.fft.fftshift(y, axes=axes)


def filter_bank(x: Any, M: Any, axis: int) -> Any:
    """Stride-2 correlation of ``x`` along ``axis`` (-1 or -2) with the columns of ``M``.

    .. math:: y_{\\ldots, c, k, \\ldots} = \\sum_{j<K} M_{j c}\\, x_{\\ldots, 2k + j, \\ldots}

    ``x`` is already (periodically) padded: along ``axis`` it has ``P`` samples and the result
    ``n = (P - K) // 2 + 1`` windows. ``M`` is a real ``(K, C)`` matrix in ``x``'s precision;
    the channel axis ``c`` is inserted just before ``axis``:
    ``(..., P) -> (..., C, n)`` and ``(..., P, W) -> (..., C, n, W)``. This is the polyphase
    step of a two-channel filter bank (see :class:`npgd.linops.Wavelet`).

    NumPy and CuPy use a strided window view and one matmul. Torch's matmul is slow for a
    2-column right-hand side, so Torch on CPU sums the K strided taps (complex stays complex)
    and Torch on CUDA runs ``conv1d``/``conv2d`` (cuDNN; complex as two real channels).

    Examples
    --------
    >>> import numpy as np
    >>> M = np.array([[1.0, 1.0], [1.0, -1.0]]) / np.sqrt(2)  # Haar: columns lo, hi
    >>> filter_bank(np.array([1.0, 1.0, 2.0, 0.0]), M, -1).round(4)
    array([[1.4142, 1.4142],
           [0.    , 1.4142]])
    """
    K, C = M.shape
    if backend_name(x) == "torch":
        return _filter_bank_torch(x, M, axis)
    # NumPy/CuPy. This runs several times per wavelet level inside every ISTA/FISTA
    # iteration, so it uses ndarray methods (swapaxes, view) rather than the slower
    # normalising functions (moveaxis, as_strided's wrapper checks) where it can.
    xp = namespace(x)
    if axis == -1:
        if x.ndim == 1:
            win = _strided_windows(x, K, 2, -1)  # (n, K)
            return (win @ (M.astype(x.dtype) if x.dtype.kind == "c" else M)).T
        # A windowed matmul along the contiguous axis has overlapping rows (leading dimension
        # 2 < K), which BLAS cannot take, so NumPy falls back to a slow loop. Filtering the
        # transposed copy along -2 instead is 2-4x faster, the transposes included.
        y = filter_bank(xp.ascontiguousarray(x.swapaxes(-1, -2)), M, -2)  # (..., C, n, H)
        return xp.ascontiguousarray(y.swapaxes(-1, -2).swapaxes(-2, -3))  # (..., H, C, n)
    viewed = x.dtype.kind == "c" and x.strides[-1] == x.itemsize
    if viewed:
        # View complex as interleaved (re, im) pairs along the contiguous last axis; the real
        # filter then acts on both parts at half the arithmetic of a complex matmul.
        xr = x.view(x.real.dtype)
    else:
        xr = x
        if x.dtype.kind == "c":
            M = M.astype(x.dtype)  # a mixed-dtype matmul would leave BLAS
    n = (xr.shape[-2] - K) // 2 + 1
    s_row, s_col = xr.strides[-2:]
    win = _as_strided(xr, xr.shape[:-2] + (n, K, xr.shape[-1]),
                      xr.strides[:-2] + (2 * s_row, s_row, s_col))
    y = xp.ascontiguousarray((M.T @ win).swapaxes(-2, -3))  # (..., n, C, W) -> (..., C, n, W)
    return y.view(x.dtype) if viewed else y


def _as_strided(x: Any, shape: tuple[int, ...], strides: tuple[int, ...]) -> Any:
    """Read-only strided view of a NumPy or CuPy array."""
    if isinstance(x, np.ndarray):
        return np.lib.stride_tricks.as_strided(x, shape=shape, strides=strides, writeable=False)
    import cupy

    return cupy.lib.stride_tricks.as_strided(x, shape=shape, strides=strides)


def _filter_bank_torch(x: Any, M: Any, axis: int, use_conv: bool | None = None) -> Any:
    import torch
    import torch.nn.functional as tnf

    K, C = M.shape
    P = x.shape[axis]
    n = (P - K) // 2 + 1
    if not (x.device.type != "cpu" if use_conv is None else use_conv):
        taps = M.tolist()
        tail = () if axis == -1 else (slice(None),)
        views = [x[(..., slice(j, j + 2 * n - 1, 2), *tail)] for j in range(K)]
        chans = []
        for c in range(C):
            acc = views[0] * taps[0][c]
            for j in range(1, K):
                acc = acc + views[j] * taps[j][c]
            chans.append(acc)
        return torch.stack(chans, dim=axis - 1)
    cplx = x.is_complex()
    xr = torch.stack([x.real, x.imag]) if cplx else x
    if axis == -1:
        y = tnf.conv1d(xr.reshape(-1, 1, P), M.T.reshape(C, 1, K), stride=2)
        y = y.reshape(xr.shape[:-1] + (C, n))
    else:
        W = xr.shape[-1]
        y = tnf.conv2d(xr.reshape(-1, 1, P, W), M.T.reshape(C, 1, K, 1), stride=(2, 1))
        y = y.reshape(xr.shape[:-2] + (C, n, W))
    return torch.complex(y[0], y[1]) if cplx else y


def _strided_windows(x: Any, size: int, step: int, axis: int) -> Any:
    """Strided view of windows of a NumPy/CuPy ``x`` along ``axis``, window index last."""
    axis = axis % x.ndim
    n = (x.shape[axis] - size) // step + 1
    shape = x.shape[:axis] + (n,) + x.shape[axis + 1 :] + (size,)
    strides = x.strides[:axis] + (x.strides[axis] * step,) + x.strides[axis + 1 :]
    return _as_strided(x, shape, strides + (x.strides[axis],))
