"""Orthonormal periodized 2-D discrete wavelet transform on every backend, and its polyphase
filter-bank kernel."""

from __future__ import annotations

from typing import Any

import numpy as np
import pywt

from npgd import backend
from npgd._util import check_int
from npgd.linops.base import LinearOperator, Shape, as_shape

__all__ = ["Wavelet", "filter_bank"]


# Written by hand rather than calling pywt.wavedec2 because pywt runs on NumPy only: this
# version is the same arithmetic expressed as strided windows and one small matmul per axis
# and level, so it runs unchanged on CuPy and Torch (CPU/GPU, differentiable) and, on NumPy,
# is as fast as pywt's C loops. The filters themselves come from pywt.


def _analysis_matrix(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """(L, 2) matrix M with ``[a_k, d_k] = window_k @ M``, window_k = x[2k-L/2+1 : 2k+L/2+1].

    pywt's periodization convention is ``a_k = sum_j lo_j x[(2k + L/2 - j) mod N]``.
    """
    return np.stack([lo[::-1], hi[::-1]], axis=1)


def _synthesis_matrix(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, int, int]:
    """(2U, 2) matrix G with ``[x_2m, x_2m+1] = v[2(m+umin) : 2(m+umax)+2] @ G``.

    ``v`` interleaves the coefficients (a_0, d_0, a_1, d_1, ...); G is the transpose of the
    analysis, so synthesis is the same windowed matmul as analysis.
    """
    L = len(lo)
    taps = [(u, r) for r in (0, 1) for u in range(-L, L) if 0 <= 2 * u + L // 2 - r < L]
    umin = min(u for u, _ in taps)
    umax = max(u for u, _ in taps)
    G = np.zeros((umax - umin + 1, 2, 2))
    for u, r in taps:
        j = 2 * u + L // 2 - r
        G[u - umin, 0, r] = lo[j]
        G[u - umin, 1, r] = hi[j]
    return G.reshape(-1, 2), umin, umax


def _wrap_rows(x: Any, left: int, right: int) -> Any:
    """Periodic extension of ``x`` by ``left``/``right`` rows (axis -2), C-ordered."""
    if left == 0 and right == 0:
        return x
    n = x.shape[-2]
    if left > n or right > n:  # coarse levels shorter than the filter wrap more than once
        xp = backend.namespace(x)
        idx = np.arange(-left, n + right) % n
        return xp.take(x, xp.asarray(idx, device=backend.device(x)), axis=-2)
    # Fill a fresh C-ordered array (NumPy's concatenate would keep a transposed x's layout and
    # push the filter bank off its fast path; Torch records the slice writes for autograd).
    out = _padded_rows(x, x.shape[:-2], n, x.shape[-1], left, right)
    out[..., left : left + n, :] = x
    return _fill_wrap(out, n, left, right)


def _padded_rows(like: Any, batch: tuple, n: int, m: int, left: int, right: int) -> Any:
    """An empty C-ordered ``(*batch, left + n + right, m)`` array like ``like``."""
    return backend.namespace(like).empty(tuple(batch) + (left + n + right, m), dtype=like.dtype,
                                         device=backend.device(like))


def _fill_wrap(out: Any, n: int, left: int, right: int) -> Any:
    """Write the periodic margins of ``out`` (rows ``left .. left+n`` hold the data, n >=
    left, right) in place; returns ``out``."""
    out[..., :left, :] = out[..., n : n + left, :]
    out[..., left + n :, :] = out[..., left : left + right, :]
    return out


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
    if backend.backend_name(x) == "torch":
        return _filter_bank_torch(x, M, axis)
    # NumPy/CuPy. This runs several times per wavelet level inside every ISTA/FISTA
    # iteration, so it uses ndarray methods (swapaxes, view) rather than the slower
    # normalising functions (moveaxis, as_strided's wrapper checks) where it can.
    xp = backend.namespace(x)
    if axis == -1:
        if x.ndim == 1:
            win = _strided_windows(x, K, 2, -1)  # (n, K)
            return (win @ (M.astype(x.dtype) if x.dtype.kind == "c" else M)).T
        # A windowed matmul along the contiguous axis has overlapping rows (leading dimension
        # 2 < K), which BLAS cannot take, so NumPy falls back to a slow loop. Filtering the
        # transposed copy along -2 instead is faster, the transposes included.
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


class Wavelet(LinearOperator):
    """Orthonormal periodized 2-D DWT over the last two axes, in pywt's array layout.

    ``W(x)`` equals ``pywt.coeffs_to_array(pywt.wavedec2(x, wavelet, mode="periodization",
    level=levels))[0]``: the same shape as the image, the approximation at the top-left and
    the (horizontal, vertical, diagonal) details of each level around it. With periodic
    extension an orthogonal filter bank gives an orthonormal transform, so
    :math:`W^H = W^{-1}` and ``W.N`` is the identity.

    Runs on NumPy, CuPy and Torch (CPU and GPU; differentiable), in the input's precision;
    complex inputs are transformed as complex (real filters act on both parts).

    Parameters
    ----------
    shape : (H, W)
        Image shape; both must be divisible by ``2**levels``.
    wavelet : str
        Name of an orthogonal pywt wavelet (``"haar"``, ``"db1"``..``"db38"``, ``"sym2"``..,
        ``"coif1"``..).
    levels : int
        Number of decomposition levels (>= 1).

    Examples
    --------
    >>> import numpy as np, pywt
    >>> from npgd.linops import Wavelet
    >>> x = np.random.default_rng(0).standard_normal((32, 32))
    >>> W = Wavelet(x.shape, "db4", levels=2)
    >>> ref = pywt.coeffs_to_array(pywt.wavedec2(x, "db4", "periodization", level=2))[0]
    >>> bool(np.allclose(W(x), ref)), bool(np.allclose(W.H(W(x)), x))
    (True, True)
    """

    unitary = True

    def __init__(self, shape: Shape, wavelet: str = "db4", levels: int = 3):
        shape = as_shape(shape, "shape", "Wavelet")
        if len(shape) != 2:
            raise ValueError(f"Wavelet: shape must be (H, W), got {shape}")
        levels = check_int("Wavelet", "levels", levels)
        try:
            w = pywt.Wavelet(wavelet)
        except (ValueError, TypeError):
            raise ValueError(
                f"Wavelet: unknown wavelet {wavelet!r}; use an orthogonal one from "
                f"pywt.wavelist(kind='discrete'), e.g. 'haar', 'db4', 'sym8'"
            ) from None
        if not w.orthogonal:
            raise ValueError(
                f"Wavelet: {wavelet!r} is not orthogonal; the operator needs an orthogonal "
                "wavelet (haar, dbN, symN, coifN) to be orthonormal"
            )
        step = 2**levels
        if shape[0] % step or shape[1] % step:
            raise ValueError(
                f"Wavelet: image shape {shape} must be divisible by 2**levels = {step} "
                f"(levels={levels})"
            )
        self.wavelet, self.levels = w.name, int(levels)
        lo, hi = np.asarray(w.dec_lo), np.asarray(w.dec_hi)
        A = _analysis_matrix(lo, hi)
        G, umin, umax = _synthesis_matrix(lo, hi)
        self._A, self._G = backend.Held(A), backend.Held(G)
        half = len(lo) // 2 - 1
        self._apad = (half, half)
        self._spad = (-2 * umin, 2 * umax)
        super().__init__(shape, shape)

    # Both directions filter along axis -2 only: there the windowed matmul is BLAS-friendly
    # (and Torch/cuDNN see a (K, 1) kernel). The other image axis is brought to -2 by the
    # copies that reorder the subbands anyway, so no pass runs along the contiguous axis.
    # (swapaxes, a method of all three array types, is much cheaper than permute_dims.)

    def _apply(self, x: Any) -> Any:
        xp = backend.namespace(x)
        M, (left, right) = self._A.like(x, complex_=False), self._apad
        batch = tuple(x.shape[:-2])
        out = xp.empty_like(x)
        cur = x
        for _ in range(self.levels):
            h, w = cur.shape[-2:]
            y = filter_bank(_wrap_rows(cur, left, right), M, -2)  # (..., 2, h/2, w)
            t = xp.reshape(y, batch + (h, w)).swapaxes(-1, -2)  # (..., w, h)
            z = filter_bank(_wrap_rows(t, left, right), M, -2)  # (..., 2, w/2, h)
            out[..., :h, :w] = xp.reshape(z, batch + (w, h)).swapaxes(-1, -2)
            cur = out[..., : h // 2, : w // 2]
        return out

    def _apply_adjoint(self, c: Any) -> Any:
        xp = backend.namespace(c)
        G, (left, right) = self._G.like(c, complex_=False), self._spad
        H, W = self.ishape
        batch = tuple(c.shape[:-2])
        h, w = H >> self.levels, W >> self.levels
        approx = c[..., :h, :w]
        for _ in range(self.levels):
            # The row pass reads lo/hi rows interleaved and periodically padded (by whole
            # pairs: the margins are even); they are written straight into one padded buffer
            # rather than concatenated, stacked and wrapped (three copies).
            if max(left, right) > 2 * h:
                top = xp.concat([approx, c[..., :h, w : 2 * w]], axis=-1)
                rows = xp.stack([top, c[..., h : 2 * h, : 2 * w]], axis=-2)  # (..., h, 2, 2w)
                rows = _wrap_rows(xp.reshape(rows, batch + (2 * h, 2 * w)), left, right)
            else:
                rows = _padded_rows(c, batch, 2 * h, 2 * w, left, right)
                pairs = xp.reshape(rows, batch + (h + (left + right) // 2, 2, 2 * w))
                mid = pairs[..., left // 2 : left // 2 + h, :, :]
                mid[..., 0, :w] = approx
                mid[..., 0, w:] = c[..., :h, w : 2 * w]
                mid[..., 1, :] = c[..., h : 2 * h, : 2 * w]
                rows = _fill_wrap(rows, 2 * h, left, right)
            y = filter_bank(rows, G, -2)  # (..., 2, h, 2w)
            # y[r, m, s*w + k] -> t[2k + s, 2m + r]: rows in order, lo/hi columns interleaved,
            # transposed so that the column pass also runs along -2, written into the padded
            # input of the column pass (one copy).
            y = xp.reshape(y, batch + (2, h, 2, w)).swapaxes(-1, -4).swapaxes(-2, -3)
            if max(left, right) > 2 * w:
                t = _wrap_rows(xp.reshape(y, batch + (2 * w, 2 * h)), left, right)
            else:
                t = _padded_rows(c, batch, 2 * w, 2 * h, left, right)
                mid = xp.reshape(t[..., left : left + 2 * w, :], batch + (w, 2, h, 2))
                mid[...] = y
                t = _fill_wrap(t, 2 * w, left, right)
            z = filter_bank(t, G, -2)  # (..., 2, w, 2h)
            approx = xp.reshape(z.swapaxes(-1, -3), batch + (2 * h, 2 * w))
            h, w = 2 * h, 2 * w
        return approx

    def __repr__(self) -> str:
        return f"Wavelet({self.ishape}, {self.wavelet!r}, levels={self.levels})"
