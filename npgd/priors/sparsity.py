"""Sparsity priors in a transform domain: l1 of wavelet coefficients and total variation."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from npgd import backend, linops
from npgd._util import check_int
from npgd.priors.base import Prox, Weight, _per_image, soft_threshold

__all__ = ["L1Wavelet", "TV", "default_levels"]


def default_levels(shape: tuple[int, int], max_levels: int = 3, min_coarse: int = 8) -> int:
    """The most levels (<= ``max_levels``) that divide ``shape`` and keep the coarsest scale
    at least ``min_coarse`` pixels on each side; at least 1.

    Examples
    --------
    >>> default_levels((192, 160)), default_levels((256, 256)), default_levels((30, 40))
    (3, 3, 1)
    """
    levels = 0
    while (
        levels < max_levels
        and all(s % 2 ** (levels + 1) == 0 for s in shape)
        and min(shape) // 2 ** (levels + 1) >= min_coarse
    ):
        levels += 1
    return max(levels, 1)


class L1Wavelet(Prox):
    """:math:`\\psi(x) = \\lambda \\|W x\\|_1` over the wavelet coefficients (CS-WV).

    The prox of an orthonormal :math:`W` is exact: :math:`W^H \\operatorname{soft}(W x,
    \\lambda s)`, complex soft-thresholding (the magnitude shrinks, the phase stays).

    Like BART's ``pics -R W`` (its ``wavthresh.c`` soft-thresholds every coefficient the
    transform returns), the coarsest approximation band is thresholded too, by default: in
    the image's background, which is most of an MR slice, those coefficients carry only
    undersampling aliasing, and shrinking them removes it (the CS-MRI table of
    :doc:`benchmarks` compares both choices).

    Parameters
    ----------
    lam : float or array
        Weight :math:`\\lambda \\ge 0`, in the units of the wavelet coefficients of the image
        (see :func:`npgd.solvers.lambda_max` for a scale relative to the data); or one weight
        per image, an array broadcasting against the batch axes (:class:`Weight`), so that
        one batched solve treats every slice as its own solve would.
    shape : (H, W)
        Image shape.
    wavelet : str
        Orthogonal pywt wavelet. Default ``"db2"``: the 4-tap Daubechies filter, which BART's
        ``pics -R W`` (``dau2``, the CS-WV baseline of Mardani et al., NeurIPS 2018) and
        Lustig's SparseMRI (there called "Daubechies-4") use. Other filters are compared on
        the benchmark page (:doc:`benchmarks`).
    levels : int, optional
        Decomposition levels; default :func:`default_levels` (up to 3, coarsest scale >= 8 px).
    cycle_spin : bool
        Threshold a circularly shifted image (then shift back), with a random shift in
        ``[0, 2**levels)`` per axis drawn at every iteration of a solve, as BART's
        ``pics -R W`` does. Iterated inside ISTA/FISTA this averages the prior over
        translations and removes the blocky artefacts of a fixed wavelet grid. Default True.
    threshold_coarse : bool
        Also shrink the coarsest approximation coefficients (default True, as BART does);
        False leaves the low-pass band untouched and penalises the details only.
    seed : int
        Seed of the cycle-spinning shifts. Each solve draws its shifts from a fresh
        ``numpy.random.default_rng(seed)`` (the prior's state, see :class:`Prox`), so the same
        solve gives the same image every time; a plain ``prox(x, step)`` uses the first shift
        of that sequence.

    Examples
    --------
    >>> import numpy as np
    >>> from npgd.priors import L1Wavelet
    >>> prox = L1Wavelet(0.1, (32, 32), seed=0)
    >>> x = np.random.default_rng(0).standard_normal((2, 32, 32)).astype(np.complex64)
    >>> z = prox(x, step=1.0)
    >>> z.shape, z.dtype, bool(np.linalg.norm(z) < np.linalg.norm(x))
    ((2, 32, 32), dtype('complex64'), True)
    """

    def __init__(
        self,
        lam: float,
        shape: tuple[int, int],
        wavelet: str = "db2",
        levels: int | None = None,
        cycle_spin: bool = True,
        threshold_coarse: bool = True,
        seed: int = 0,
    ):
        self._lam = Weight("L1Wavelet", lam)
        self.lam = self._lam.value
        shape = tuple(shape)
        self.levels = default_levels(shape) if levels is None else levels
        self.W = linops.Wavelet(shape, wavelet, self.levels)
        self.cycle_spin = bool(cycle_spin)
        self.seed = check_int("L1Wavelet", "seed", seed, minimum=0)
        weights = np.ones(shape)
        if not threshold_coarse:
            h, w = shape[0] >> self.levels, shape[1] >> self.levels
            weights[:h, :w] = 0
        self.weights = backend.Held(weights)

    def init_state(self) -> np.random.Generator | None:
        return np.random.default_rng(self.seed) if self.cycle_spin else None

    def with_state(self, x: Any, step: float, rng: Any) -> tuple[Any, Any]:
        t = self.weights.like(x) * (self._lam.like(x) * step)
        if not self.cycle_spin:
            return self.W.H(soft_threshold(self.W(x), t)), rng
        xp = backend.namespace(x)
        shift = tuple(int(s) for s in rng.integers(0, 2**self.levels, size=2))
        xs = xp.roll(x, shift, axis=(-2, -1))
        zs = self.W.H(soft_threshold(self.W(xs), t))
        return xp.roll(zs, (-shift[0], -shift[1]), axis=(-2, -1)), rng

    def cost(self, x: Any) -> Any:
        xp = backend.namespace(x)
        return _per_image(self._lam.like(x)) * xp.sum(self.weights.like(x) * xp.abs(self.W(x)),
                                                      axis=(-2, -1))

    def __repr__(self) -> str:
        return f"L1Wavelet(lam={self._lam:g}, {self.W!r}, cycle_spin={self.cycle_spin})"


class TV(Prox):
    """Isotropic total variation :math:`\\psi(x) = \\lambda \\sum_{ij} \\|(D x)_{ij}\\|_2`.

    ``D`` is :class:`npgd.linops.FiniteDifference`; for complex images the norm runs over both
    difference directions and the real and imaginary parts. The prox has no closed form and is
    solved on the dual by FGP (Beck & Teboulle 2009, fast gradient projection):

    .. math:: z = x - \\tau D^H p, \\quad p \\leftarrow \\Pi_{\\|p_{ij}\\| \\le 1}
              \\left(r + \\tfrac{1}{8\\tau} D z\\right), \\quad \\tau = \\lambda s,

    with Nesterov momentum on ``r`` (:math:`\\|D\\|^2 \\le 8`).

    Parameters
    ----------
    lam : float or array
        Weight :math:`\\lambda \\ge 0`, or one per image (an array broadcasting against the
        batch axes, :class:`Weight`).
    shape : (H, W)
        Image shape.
    iters : int
        FGP iterations per call (default 20). Inside ISTA/FISTA with ``warm_start`` a handful
        is enough, since each call starts from the previous iteration's dual solution.
    boundary : {"neumann", "periodic"}
        Boundary of the finite differences.
    warm_start : bool
        Inside a solve, start each call from the dual variable of the solve's previous call
        (the prior's state, see :class:`Prox`). A plain ``prox(x, step)`` always starts
        from zero.

    Examples
    --------
    >>> import numpy as np
    >>> from npgd.priors import TV
    >>> x = np.zeros((16, 16)); x[4:12, 4:12] = 1
    >>> noisy = x + 0.2 * np.random.default_rng(0).standard_normal(x.shape)
    >>> z = TV(0.1, x.shape, iters=50)(noisy, step=1.0)
    >>> bool(np.linalg.norm(z - x) < np.linalg.norm(noisy - x))
    True
    """

    def __init__(
        self,
        lam: float,
        shape: tuple[int, int],
        iters: int = 20,
        boundary: str = "neumann",
        warm_start: bool = True,
    ):
        self._lam = Weight("TV", lam)
        self.lam = self._lam.value
        self.iters = check_int("TV", "iters", iters)
        self.D = linops.FiniteDifference(tuple(shape), boundary)
        self.warm_start = bool(warm_start)

    def with_state(self, x: Any, step: float, dual: Any) -> tuple[Any, Any]:
        """``(prox(x, step), p)`` with ``p`` the dual solution, FGP started from ``dual``
        (zeros when None or without ``warm_start``)."""
        tau = self._lam.like(x) * step
        xp = backend.namespace(x)
        if not self._lam.batched:
            if tau == 0:
                return x, dual
            fgp_tau = tau
        else:
            # Images with weight 0 keep x: FGP runs there with tau = 1 (finite duals) and
            # x - 0 * D^H p is x.
            fgp_tau = xp.where(tau > 0, tau, xp.ones_like(tau))
        shape = tuple(x.shape[:-2]) + self.D.oshape
        if dual is None or not self.warm_start:
            dual = xp.zeros(shape, dtype=x.dtype, device=backend.device(x))
        elif tuple(dual.shape) != shape:
            raise ValueError(f"TV: the dual state has shape {tuple(dual.shape)}, x needs {shape}")
        p = _fgp(x, fgp_tau, dual, self.iters, self.D)
        return x - tau * self.D.H(p), p

    def cost(self, x: Any) -> Any:
        xp = backend.namespace(x)
        d = self.D(x)
        mag = xp.sqrt(xp.sum(xp.real(d * xp.conj(d)), axis=-3))
        return self.lam * xp.sum(mag, axis=(-2, -1))

    def __repr__(self) -> str:
        return f"TV(lam={self.lam:g}, {self.D.ishape}, iters={self.iters})"


def _fgp(x: Any, tau: Any, p0: Any, iters: int, D: linops.FiniteDifference) -> Any:
    """The dual solution of the TV prox by FGP (Beck & Teboulle 2009), from ``p0``.

    .. math:: q = r + \\tfrac{1}{8\\tau} D(x - \\tau D^H r), \\quad
              p_{k+1} = q / \\max(\\|q_{ij}\\|, 1), \\quad
              r = p_{k+1} + \\tfrac{t_k - 1}{t_{k+1}} (p_{k+1} - p_k)

    One algorithm, two codings of it: NumPy/CuPy arrays with Neumann differences run the
    in-place kernel :func:`_fgp_inplace`, everything else (Torch, whose autograd needs
    out-of-place operations, and periodic boundaries) this loop; both give the same iterates.
    ``p0`` is not modified. ``tau`` > 0 is a number or one per image (shape
    ``(*batch, 1, 1)``).
    """
    if backend.has_ufuncs(x) and D.boundary == "neumann":
        return _fgp_inplace(x, tau, p0, iters)
    xp = backend.namespace(x)
    p, r, t = p0, p0, 1.0
    inv = 1 / (8 * _dual_shaped(tau))
    for _ in range(iters):
        q = r + D(x - tau * D.H(r)) * inv
        norm = xp.sqrt(xp.sum(xp.real(q * xp.conj(q)), axis=-3, keepdims=True))
        p_new = q / xp.clip(norm, 1.0, None)
        t_new = (1 + math.sqrt(1 + 4 * t * t)) / 2
        r = p_new + ((t - 1) / t_new) * (p_new - p)
        p, t = p_new, t_new
    return p


def _dual_shaped(tau: Any) -> Any:
    """A per-image ``tau`` ``(*batch, 1, 1)`` as ``(*batch, 1, 1, 1)``, for the duals'
    ``(*batch, 2, H, W)``; a number as it is."""
    return tau[..., None, :, :] if getattr(tau, "ndim", 0) else tau


def _fgp_inplace(x: Any, tau: Any, p0: Any, iters: int) -> Any:
    """:func:`_fgp` for Neumann differences on NumPy/CuPy, computed in place on real views.

    Each image is seen as one contiguous run of ``H*W*c`` reals (``c`` = 2 for complex:
    interleaved real and imaginary parts), so a step along H or W is a shift by ``W*c`` or
    ``c`` and every ufunc runs one long inner loop. Shifts that cross a row end only ever
    read dual entries that are kept at zero (the last row of ``p_y``, the last column of
    ``p_x``: Neumann differences never write them). Three dual buffers rotate and nothing is
    allocated per iteration (the generic loop makes ~30 temporaries per iteration).
    """
    xp = backend.namespace(x)
    if not x.flags.c_contiguous:
        x = xp.ascontiguousarray(x)
    H, W = x.shape[-2:]
    c = 2 if backend.is_complex(x) else 1
    sy, sx = W * c, c

    def flat(a: Any) -> Any:  # real view (..., [2,] H*W*c)
        v = backend.real_pairs(a)
        return xp.reshape(v, tuple(v.shape[:-3]) + (H * W * c,))

    u = flat(x)
    bufs = [xp.empty_like(p0) for _ in range(3)]
    bufs[0][...] = p0
    bufs[0][..., 0, -1, :] = 0  # the entries D never writes (a warm start has them at 0)
    bufs[0][..., 1, :, -1] = 0
    p, q, r = (flat(b) for b in bufs)
    r[...] = p
    g = xp.empty_like(u)
    sq = xp.empty_like(q)
    s2 = xp.empty_like(u)
    inv = xp.empty(tuple(u.shape[:-1]) + (H * W,), dtype=u.dtype, device=backend.device(x))
    # On the flat views an image is (..., H*W*c) and a dual (..., 2, H*W*c).
    tau_image = tau[..., 0] if getattr(tau, "ndim", 0) else tau
    inv_dual = 1 / (8 * tau)
    t = 1.0
    for _ in range(iters):
        ry, rx = r[..., 0, :], r[..., 1, :]
        xp.negative(ry, out=g)  # g = D^H r = -div r
        g[..., sy:] += ry[..., :-sy]
        g -= rx
        g[..., sx:] += rx[..., :-sx]
        g *= -tau_image  # z = x - tau D^H r
        g += u
        qy, qx = q[..., 0, :], q[..., 1, :]  # q = r + D z / (8 tau)
        xp.subtract(g[..., sy:], g[..., :-sy], out=qy[..., :-sy])
        qy[..., -sy:] = 0
        xp.subtract(g[..., sx:], g[..., :-sx], out=qx[..., :-sx])
        xp.reshape(qx, tuple(qx.shape[:-1]) + (H, W * c))[..., -c:] = 0
        q *= inv_dual
        q += r
        # Project each pixel's (direction, real part) vector onto the unit ball.
        xp.multiply(q, q, out=sq)
        xp.add(sq[..., 0, :], sq[..., 1, :], out=s2)
        if c == 2:
            xp.add(s2[..., 0::2], s2[..., 1::2], out=inv)
        else:
            inv[...] = s2
        xp.sqrt(inv, out=inv)
        xp.maximum(inv, 1, out=inv)
        xp.reciprocal(inv, out=inv)
        if c == 2:
            s2[..., 0::2] = inv
            s2[..., 1::2] = inv
        else:
            s2[...] = inv
        q *= s2[..., None, :]
        t_new = (1 + math.sqrt(1 + 4 * t * t)) / 2
        xp.subtract(q, p, out=r)  # r = p_new + (t - 1)/t_new (p_new - p)
        r *= (t - 1) / t_new
        r += q
        p, q = q, p
        bufs[0], bufs[1] = bufs[1], bufs[0]
        t = t_new
    return bufs[0]
