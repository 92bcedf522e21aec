"""Reference-free choice of a reconstruction method and its weight by k-space cross-validation.

On a user's own undersampled scan there is no fully sampled reference to tune CS with, nor
to tell whether a learned proximal or CS does better on these data. The measurements
themselves can: hold out a part :math:`\\Gamma` of the sampled locations :math:`\\Omega`,
reconstruct from the rest, and compare the reconstruction's k-space with the held-out
samples (Ward, "Compressed sensing with cross validation", IEEE Trans. Inf. Theory 2009, for
the choice of a CS weight; the same split trains networks without references in Yaman et
al., "Self-supervised learning of physics-guided reconstruction neural networks without
fully sampled reference data", Magn. Reson. Med. 2020). The held-out noise adds the same
amount to every method's error, so the ranking is that of the prediction error.

Variable-density masks sample the centre of k-space far more often than the edge, so a
plain held-out error would weigh the low frequencies most. Each held-out sample is weighted
by the inverse of the local sampling density :math:`p(k)` (the mask smoothed by a Gaussian),
which makes the weighted error an estimate of the error over all of k-space, and so (by
Parseval) of the image error, of a reconstruction from the slightly thinner mask:

.. math:: \\mathrm{CV}(\\hat x) = -10\\log_{10}
          \\frac{\\sum_{j}\\sum_{k \\in \\Gamma_j} |y_k - (F \\hat x_j)_k|^2 / p(k)}
               {\\sum_{j}\\sum_{k \\in \\Gamma_j} |y_k|^2 / p(k)},
          \\qquad \\hat x_j = \\mathrm{method}(A_{\\Omega\\setminus\\Gamma_j},
          y_{\\Omega\\setminus\\Gamma_j}),

in dB, higher is better, per slice (``folds`` disjoint parts :math:`\\Gamma_j`, each a
fraction ``frac`` of the sampled locations outside a fully kept centre box).

:func:`cv_snr` scores one method, :func:`tune_rel_cv` chooses a CS weight with it,
:func:`select` ranks methods, and :func:`auto` builds the reconstruction method that
``npgd eval --auto`` reports: the learned model, CS-WV and CS-TV (each with its weight chosen
by cross-validation) and mixtures of the model's image with each CS image, scored on
the scan itself, and the best one used.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from npgd import linops
from npgd._util import DataError, UsageError, check_int, check_positive_float
from npgd.experiments.tune import CS_METHODS, grid_search

__all__ = ["BLEND", "UNITS", "UNIT_OF_FAMILY", "auto", "cv_snr", "holdout_split",
           "sampling_density", "select", "tune_rel_cv"]

#: Half-width of the never-held-out centre box, as a fraction of each matrix size (the
#: default of :func:`npgd.train.adapt.adapt`).
CENTRE = 0.04
#: Standard deviation (pixels) of the Gaussian that turns a mask into a sampling density.
DENSITY_SIGMA = 3.0
#: Smallest density a held-out sample's weight assumes (at most a weight of 50).
DENSITY_FLOOR = 0.02


def _sampling(A: Any, where: str) -> tuple[np.ndarray, np.ndarray | None]:
    """The mask of ``A`` (bool, ``(..., H, W)``) and its coil maps (None single-coil)."""
    if isinstance(A, linops.MaskedFFT):
        return np.asarray(A.mask.numpy()) != 0, None
    if isinstance(A, linops.Sense) and A.mask_shape:
        return np.asarray(A.fft.mask.numpy())[..., 0, :, :] != 0, np.asarray(A.maps.numpy())
    raise UsageError(f"{where}: A must be a linops.MaskedFFT or a linops.Sense with a mask "
                     f"(the sampled locations are split), got {type(A).__name__}")


def _operator(mask: np.ndarray, maps: np.ndarray | None) -> linops.LinearOperator:
    """The sampling of ``mask`` ``(N, H, W)``: single-coil, or with ``maps``."""
    return linops.MaskedFFT(mask) if maps is None else linops.Sense(maps, mask)


def _checked(A: Any, y: Any, where: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The mask ``(N, H, W)``, the k-space ``(N, H, W)`` or ``(N, C, H, W)`` and the maps
    (None single-coil) of measurements ``y`` of ``A``."""
    mask, maps = _sampling(A, where)
    y = np.asarray(y)
    core = 2 if maps is None else 3
    if y.ndim not in (core, core + 1):
        want = "(H, W) or (N, H, W)" if core == 2 else "(C, H, W) or (N, C, H, W)"
        raise UsageError(f"{where}: y must be {want} k-space for {type(A).__name__}, got "
                         f"shape {y.shape}")
    if y.shape[-2:] != mask.shape[-2:]:
        raise UsageError(f"{where}: y's last two axes {y.shape[-2:]} differ from the mask's "
                         f"{mask.shape[-2:]}")
    if not np.isfinite(y).all():
        raise UsageError(f"{where}: y holds NaN/Inf; expected finite k-space")
    yb = y if y.ndim == core + 1 else y[None]
    return np.broadcast_to(mask, (len(yb), *y.shape[-2:])), yb, maps


#: The sampling units :func:`holdout_split` holds out whole.
UNITS = ("auto", "point", "line", "spoke")
#: The unit to hold out for each mask family of ``npgd eval --mask``.
UNIT_OF_FAMILY = {"vd": "point", "radial": "spoke", "lines": "line"}


def sampling_density(mask: np.ndarray, sigma: float = DENSITY_SIGMA,
                     radial: bool = False) -> np.ndarray:
    """Local sampling density of a mask ``(..., H, W)``, floored at :data:`DENSITY_FLOOR`:
    the mask smoothed by a Gaussian of ``sigma`` pixels (periodic, as k-space is), or with
    ``radial`` its mean over rings of equal normalized radius
    :math:`\\sqrt{(2k_y/H)^2 + (2k_x/W)^2}` about the centre (for radial masks, whose spokes
    are too far apart at the edge for a local average).

    Examples
    --------
    >>> m = np.zeros((8, 8), bool); m[:, ::2] = True
    >>> d = sampling_density(m, sigma=2)
    >>> d.shape, bool(np.allclose(d, 0.5, atol=0.05))
    ((8, 8), True)
    >>> bool(np.allclose(sampling_density(m, radial=True)[4], [.5, .5, .5, .5, 1, .5, .5, .5],
    ...                  atol=0.3))
    True
    """
    from scipy import ndimage

    check_positive_float("sampling_density", "sigma", sigma)
    m = np.asarray(mask, np.float64)
    if m.ndim < 2:
        raise ValueError(f"sampling_density: mask must be (..., H, W), got shape {m.shape}")
    if not radial:
        sig = (0,) * (m.ndim - 2) + (sigma, sigma)
        return np.clip(ndimage.gaussian_filter(m, sig, mode="wrap"), DENSITY_FLOOR, 1.0)
    h, w = m.shape[-2:]
    rho = _radius((h, w))
    ring = np.minimum((rho * max(h, w) / 2).round().astype(int), max(h, w))
    flat = m.reshape(-1, h * w)
    out = np.empty_like(flat)
    for i, row in enumerate(flat):
        mean = np.bincount(ring.ravel(), row) / np.maximum(np.bincount(ring.ravel()), 1)
        out[i] = mean[ring.ravel()]
    return np.clip(out.reshape(m.shape), DENSITY_FLOOR, 1.0)


def _radius(shape: tuple[int, int]) -> np.ndarray:
    h, w = shape
    ky = (np.arange(h) - h // 2) / (h / 2)
    kx = (np.arange(w) - w // 2) / (w / 2)
    return np.hypot(ky[:, None], kx[None, :])


def _line_axis(mask: np.ndarray) -> int | None:
    """-1 when every slice of ``mask`` ``(N, H, W)`` is made of whole columns (constant
    along H), -2 of whole rows, None otherwise or when it is fully sampled."""
    if mask.all():
        return None
    if (mask == mask[:, :1]).all():
        return -1
    if (mask == mask[:, :, :1]).all():
        return -2
    return None


def _units(mask: np.ndarray, box: np.ndarray, unit: str, axis: int | None) -> list[np.ndarray]:
    """The sampled locations of one slice outside ``box``, grouped into the units held out
    whole: whole lines along ``axis`` (:func:`_line_axis`) or one-degree wedges about the
    centre (the spokes of a radial mask). Single points are split by :func:`holdout_split`
    itself."""
    h, w = mask.shape
    free = mask & ~box
    if unit == "line":
        lines = free if axis == -1 else free.T  # columns of `lines` are the lines
        idx = np.arange(h * w).reshape(h, w)
        idx = idx if axis == -1 else idx.T
        return [idx[:, c][lines[:, c]] for c in range(lines.shape[1]) if lines[:, c].any()]
    ky = (np.arange(h) - h // 2) / (h / 2)
    kx = (np.arange(w) - w // 2) / (w / 2)
    ang = np.degrees(np.arctan2(ky[:, None], kx[None, :])).astype(int) % 360
    idx = np.flatnonzero(free)
    bins = ang.ravel()[idx]
    return [idx[bins == b] for b in np.unique(bins)]


def holdout_split(mask: np.ndarray, folds: int = 2, frac: float = 0.15, seed: int = 0,
                  centre: float = CENTRE, unit: str = "auto") -> np.ndarray:
    """``folds`` disjoint held-out sets ``(folds, N, H, W)`` bool, each about a fraction
    ``frac`` of the sampled locations of each slice of ``mask`` ``(N, H, W)`` outside the
    centre box (half-width ``centre`` times the matrix size, centred k-space), drawn from
    ``seed`` in whole sampling units, so that the thinned mask keeps the mask's family:
    ``"point"`` (single locations: random and variable-density masks), ``"line"`` (whole
    lines of a mask constant along one axis), ``"spoke"`` (one-degree wedges about the
    centre, so whole spokes of a radial mask); ``"auto"``: ``"line"`` for a line mask,
    ``"point"`` otherwise.

    Raises ValueError when ``folds * frac`` exceeds 1 or a slice has too few sampled
    locations outside the centre to hold any out.

    Examples
    --------
    >>> m = np.ones((1, 16, 16), bool)
    >>> h = holdout_split(m, folds=2, frac=0.25, seed=0)
    >>> h.shape, int(h[0].sum()), bool((h[0] & h[1]).any()), bool(h[:, 0, 8, 8].any())
    ((2, 1, 16, 16), 63, False, False)
    >>> lines = np.zeros((1, 16, 16), bool); lines[:, :, ::2] = True
    >>> h = holdout_split(lines, folds=1, frac=0.25)
    >>> bool((h[0, 0] == h[0, 0, :1]).all())  # whole columns
    True
    """
    check_int("holdout_split", "folds", folds)
    check_positive_float("holdout_split", "frac", frac)
    if folds * frac > 1:
        raise ValueError(f"holdout_split: folds * frac must be <= 1, got {folds} * {frac}")
    if not 0 <= centre < 0.5:
        raise ValueError(f"holdout_split: centre must be in [0, 0.5), got {centre!r}")
    if unit not in UNITS:
        raise ValueError(f"holdout_split: unit must be one of {UNITS}, got {unit!r}")
    mask = np.asarray(mask, bool)
    if mask.ndim != 3:
        raise ValueError(f"holdout_split: mask must be (N, H, W), got shape {mask.shape}")
    n, h, w = mask.shape
    ky = np.abs(np.arange(h) - h // 2) <= centre * h
    kx = np.abs(np.arange(w) - w // 2) <= centre * w
    box = ky[:, None] & kx[None, :]
    axis = _line_axis(mask)
    if unit == "auto":
        unit = "line" if axis is not None else "point"
    if unit == "line":  # a line through the centre band is kept, whole
        if axis is None:
            raise ValueError("holdout_split: unit 'line' needs a mask constant along one "
                             "axis (whole lines), got one that is not")
        box = np.broadcast_to(kx[None, :] if axis == -1 else ky[:, None], (h, w))
    rng = np.random.default_rng(seed)
    out = np.zeros((folds, n, h, w), bool)
    for i in range(n):
        if unit == "point":
            idx = np.flatnonzero(mask[i] & ~box)
            k = int(frac * len(idx))
            if k < 1:
                raise ValueError(f"holdout_split: slice {i} has {len(idx)} sampled "
                                 f"location(s) outside the centre box; too few to hold out "
                                 f"a fraction {frac}")
            idx = rng.permutation(idx)
            for j in range(folds):
                out[j, i].flat[idx[j * k:(j + 1) * k]] = True
            continue
        units = _units(mask[i], box, unit, axis)
        share = frac * sum(len(u) for u in units)
        if len(units) < 2 * folds or share < 1:
            raise ValueError(f"holdout_split: slice {i} has {len(units)} {unit}(s) outside "
                             f"the centre box; too few to hold out a fraction {frac} in each "
                             f"of {folds} fold(s)")
        j, count = 0, 0
        for u in rng.permutation(len(units)):  # whole units, each fold up to its share
            out[j, i].flat[units[u]] = True
            count += len(units[u])
            if count >= share:
                j, count = j + 1, 0
                if j == folds:
                    break
    return out


def cv_snr(method: Callable, A: linops.LinearOperator, y: Any, *, folds: int = 2,
           frac: float = 0.15, seed: int = 0, unit: str = "auto") -> np.ndarray:
    """Cross-validated SNR (dB, per slice; the module's formula) of ``method`` ``(A, y) ->
    x`` on measurements ``y`` of ``A``: ``(N, H, W)`` or ``(H, W)`` for a
    :class:`~npgd.linops.MaskedFFT`, ``(N, C, H, W)`` or ``(C, H, W)`` for a
    :class:`~npgd.linops.Sense` with a mask (the coils share the split, the error sums over
    them). ``method`` gets the operator of the thinned mask, of the same kind as ``A``,
    and the measurements under it. ``folds`` reconstructions, each from the samples
    outside one held-out part (:func:`holdout_split`, in sampling units ``unit``), scored
    on that part with inverse-density weights (:func:`sampling_density`; averaged over
    rings for ``unit="spoke"``). No reference image is used.

    Examples
    --------
    >>> from npgd.problems import data, mri
    >>> x = data.phantom((32, 32), seed=0)[None]
    >>> A, y = mri.simulate(x, mri.vd_mask((32, 32), 2, seed=0, calib=4))
    >>> zero_filled = lambda A, y: A.H(y)
    >>> exact = lambda A, y: x
    >>> bool(cv_snr(exact, A, y)[0] > 100), bool(cv_snr(zero_filled, A, y)[0] < 1)
    (True, True)
    """
    return _score(_predictions(method, A, y, "cv_snr", folds=folds, frac=frac, seed=seed,
                               unit=unit))


class _Folds:
    """What one method predicts for the held-out samples of each fold (``pred``, None when
    its reconstruction was not finite), the held-out samples themselves (``held``) and their
    inverse-density weights (``wts``): everything :func:`_score` needs, so that a mixture of
    methods is scored without reconstructing again (the prediction is linear in the image)."""

    def __init__(self, pred: list | None, held: list, wts: np.ndarray, axes: tuple) -> None:
        self.pred, self.held, self.wts, self.axes = pred, held, wts, axes

    def mix(self, other: _Folds, w: float) -> _Folds:
        """The predictions of ``w`` times this method's image plus ``1 - w`` times other's."""
        pred = None if self.pred is None or other.pred is None else \
            [w * a + (1 - w) * b for a, b in zip(self.pred, other.pred, strict=True)]
        return _Folds(pred, self.held, self.wts, self.axes)


def _predictions(method: Callable, A: linops.LinearOperator, y: Any, where: str, *,
                 folds: int, frac: float, seed: int, unit: str) -> _Folds:
    """Reconstruct with ``method`` from each fold's thinned samples and predict the held-out
    ones (:func:`cv_snr`)."""
    mask, yb, maps = _checked(A, y, where)
    hold = holdout_split(mask, folds, frac, seed, unit=unit)
    coil = (slice(None),) if maps is None else (slice(None), None)  # broadcast over coils
    wts = (1.0 / sampling_density(mask, radial=unit == "spoke"))[coil]
    axes = tuple(range(1, yb.ndim))
    pred, helds = [], []
    for part in hold:
        keep = mask & ~part
        x = np.asarray(method(_operator(keep, maps),
                              np.where(keep[coil], yb, 0).astype(yb.dtype)))
        if x.shape[-2:] != yb.shape[-2:] or x.size != len(yb) * np.prod(yb.shape[-2:]):
            raise UsageError(f"{where}: method returned shape {x.shape}, expected "
                             f"{len(yb)} image(s) {yb.shape[-2:]}")
        helds.append(np.where(part[coil], yb, 0))
        if not np.isfinite(x).all():  # scored -inf: the other folds need not run
            return _Folds(None, helds, wts, axes)
        pred.append(_operator(part, maps)(x.reshape(len(yb), *yb.shape[-2:])))
    return _Folds(pred, helds, wts, axes)


def _score(f: _Folds) -> np.ndarray:
    """The per-slice cross-validated SNR (dB) of predictions ``f`` (-inf where not finite)."""
    if f.pred is None:
        return np.full(len(f.held[0]), -math.inf)
    num = sum((f.wts * np.abs(p - h) ** 2).sum(axis=f.axes) for p, h in zip(f.pred, f.held,
                                                                        strict=True))
    den = sum((f.wts * np.abs(h) ** 2).sum(axis=f.axes) for h in f.held)
    with np.errstate(divide="ignore"):
        return -10 * np.log10(num / den)


def tune_rel_cv(solve: Callable[[float], Callable], A: linops.LinearOperator, y: Any, *,
                start: float, points: int = 3, folds: int = 2, frac: float = 0.15,
                seed: int = 0, unit: str = "auto",
                log: Callable[[str], Any] | None = None) -> dict:
    """The relative weight ``r`` that maximizes the mean :func:`cv_snr` of the method
    ``solve(r)`` on measurements ``y`` of ``A``: the grid search of
    :func:`npgd.experiments.tune.tune_rel` (``points`` values around ``start``, a factor
    :math:`\\sqrt{10}` apart, extended while the best is at an end), scored without a
    reference.

    Returns ``rel``, ``cv_snr`` (its mean score, dB), ``grid``, ``scores`` and ``at_edge``.

    Examples
    --------
    >>> from npgd.experiments import cs_tv
    >>> from npgd.problems import data, mri
    >>> x = data.phantom((32, 32), seed=0)[None]
    >>> A, y = mri.simulate(x, mri.vd_mask((32, 32), 3, seed=0, calib=4))
    >>> out = tune_rel_cv(lambda r: lambda A, y: cs_tv(A, y, rel=r, iters=30), A, y,
    ...                   start=1e-3, points=2)
    >>> out["rel"] in out["grid"], len(out["grid"]) >= 2
    (True, True)
    """
    return _tune(solve, A, y, start, points, {"folds": folds, "frac": frac, "seed": seed,
                                               "unit": unit}, log)[0]


def _tune(solve: Callable[[float], Callable], A: linops.LinearOperator, y: Any, start: float,
          points: int, kw: dict, log: Callable[[str], Any] | None) -> tuple[dict, _Folds]:
    """:func:`tune_rel_cv`, and the held-out predictions of the weight it chose."""
    seen: dict[float, _Folds] = {}

    def score(r: float) -> float:
        seen[r] = _predictions(solve(r), A, y, "tune_rel_cv", **kw)
        s = _score(seen[r])
        return -math.inf if np.isnan(s).any() else float(np.mean(s))

    out = grid_search(score, start=start, points=points, log=log, unit="dB (k-space CV)")
    return ({"rel": out["rel"], "cv_snr": out["score"], "grid": out["grid"],
             "scores": out["scores"], "at_edge": out["at_edge"]}, seen[out["rel"]])


def select(methods: dict[str, Callable], A: linops.LinearOperator, y: Any, *, folds: int = 2,
           frac: float = 0.15, seed: int = 0, unit: str = "auto") -> dict:
    """Rank methods ``(A, y) -> x`` by their mean :func:`cv_snr` on the same held-out
    parts of ``y``; returns ``{"scores": {name: dB}, "best": name}``.

    Examples
    --------
    >>> from npgd.problems import data, mri
    >>> x = data.phantom((32, 32), seed=0)[None]
    >>> A, y = mri.simulate(x, mri.vd_mask((32, 32), 2, seed=0, calib=4))
    >>> select({"zero-filled": lambda A, y: A.H(y), "exact": lambda A, y: x}, A, y)["best"]
    'exact'
    """
    if not methods:
        raise UsageError("select: methods is empty; expected at least one (A, y) -> x method")
    scores = {k: float(np.mean(cv_snr(f, A, y, folds=folds, frac=frac, seed=seed, unit=unit)))
              for k, f in methods.items()}
    return {"scores": scores, "best": max(scores, key=scores.get)}


#: The weights ``w`` of the mixtures ``w * model + (1 - w) * CS`` that :func:`auto` scores.
BLEND = (0.25, 0.5, 0.75)


def auto(net: Any = None, *, name: str = "NPGD", cs_iters: int = 300, slices: int = 3,
         points: int = 3, folds: int = 2, frac: float = 0.15, seed: int = 0,
         unit: str = "auto", amp: bool = False, model: Callable | None = None,
         cs: dict[str, tuple[Callable, float]] | None = None,
         blend: tuple[float, ...] = BLEND,
         log: Callable[[str], Any] | None = None) -> Callable:
    """A reconstruction method ``(A, y) -> x`` that chooses, on the measurements it is
    given and without a reference, between the network ``net`` (a
    :class:`~npgd.solvers.NeuralPGD`; None: CS only), CS-WV, CS-TV and mixtures
    :math:`w\\,\\hat x_\\text{model} + (1-w)\\,\\hat x_\\text{CS}` of the model's image with
    that of each CS method (``w`` in ``blend``; ``()``: none), the CS weights chosen
    by :func:`tune_rel_cv`, and reconstructs every slice with the winner.

    The squared error is convex, so a mixture errs at most as much as the worse of its two
    parts, and less than either where the two are about as good and err in different
    places (on the cross-dataset page: natural images and clean templates, where the
    learned prior and CS-TV are close). Its held-out k-space prediction is the same mixture
    of the two methods' predictions, so the mixtures are scored from the folds already
    reconstructed, at no extra cost; the winner, when a
    mixture, runs both methods on every slice.

    The choice is made once per call, on at most ``slices`` slices spread through ``y`` (all
    of them when there are fewer), by the mean :func:`cv_snr`; the method keeps what it chose
    in its attribute ``choice`` (``method``; ``rel``, the CS weight of a CS method or of a
    mixture's CS part; ``weight`` ``w`` of a mixture, else None; every candidate's score; the
    slices scored; the seconds spent choosing). ``unit`` is the sampling unit held out
    whole (:func:`holdout_split`; :data:`UNIT_OF_FAMILY` for npgd's mask families).

    Single-coil measurements (:class:`~npgd.linops.MaskedFFT`) use
    :func:`npgd.experiments.neural` and :data:`npgd.experiments.tune.CS_METHODS`; for others
    give the candidates: ``model`` (the network as a method ``(A, y) -> x``) and ``cs``
    (``{name: (f(A, y, rel=, iters=), grid centre rel)}``), as ``npgd eval --auto`` does on
    multi-coil data with :func:`npgd.experiments.multicoil.sense_methods`.

    Examples
    --------
    >>> from npgd.problems import data, mri
    >>> x = data.phantom((32, 32), seed=0)[None]
    >>> A, y = mri.simulate(x, mri.vd_mask((32, 32), 3, seed=0, calib=4))
    >>> run = auto(None, cs_iters=20, points=2)
    >>> run(A, y).shape, run.choice["method"] in ("CS-WV", "CS-TV")
    ((1, 32, 32), True)
    """
    from npgd.experiments.compare import neural

    check_int("auto", "cs_iters", cs_iters)
    check_int("auto", "slices", slices)
    check_int("auto", "points", points, 2)
    blend = tuple(blend)
    if not all(isinstance(w, (int, float)) and 0 < w < 1 for w in blend):
        raise UsageError(f"auto: blend must hold weights strictly between 0 and 1, got {blend!r}")
    if model is None and net is not None:
        model = neural(net, amp=amp)
    candidates = {name: model} if model is not None else {}
    cs = CS_METHODS if cs is None else cs

    def run(A: linops.LinearOperator, y: Any) -> Any:
        t0 = time.perf_counter()
        mask, yb, maps = _checked(A, y, "auto")
        n = len(yb)
        # the middles of `slices` equal parts of the stack: distinct, spread, off the ends
        pick = [int(v) for v in (np.arange(slices) + 0.5) * n / slices] if n > slices \
            else list(range(n))
        per_slice = maps is not None and maps.ndim == yb.ndim
        Ak = _operator(mask[pick], maps[pick] if per_slice else maps)
        yk = yb[pick]
        kw = {"folds": folds, "frac": frac, "seed": seed, "unit": unit}
        try:  # fail before any reconstruction when the samples cannot be split
            holdout_split(mask[pick], folds, frac, seed, unit=unit)
        except ValueError as e:
            raise DataError(f"auto: cannot choose by k-space cross-validation: {e}; expected "
                            "more sampled locations outside the fully kept centre") from None
        scores, rels, folds_of, mixes = {}, {}, {}, {}
        for k, f in candidates.items():
            folds_of[k] = _predictions(f, Ak, yk, "auto", **kw)
            scores[k] = float(np.mean(_score(folds_of[k])))
            if log is not None:
                log(f"auto: {k} {scores[k]:.2f} dB (k-space CV)")
        for k, (f, start) in cs.items():
            t, folds_of[k] = _tune(lambda r, f=f: (lambda A, y: f(A, y, rel=r, iters=cs_iters)),
                                   Ak, yk, start, points, kw, None)
            scores[k], rels[k] = t["cv_snr"], t["rel"]
            if log is not None:
                log(f"auto: {k} rel {t['rel']:.3g} {t['cv_snr']:.2f} dB (k-space CV)")
        for c in (rels if candidates else {}):  # the model mixed with each CS method
            for w in blend:
                k = f"{w:g} {name} + {1 - w:g} {c}"
                mixes[k] = (w, c)
                scores[k] = float(np.mean(_score(folds_of[name].mix(folds_of[c], w))))
                if log is not None:
                    log(f"auto: {k} {scores[k]:.2f} dB (k-space CV)")
        best = max(scores, key=scores.get)
        mixed = mixes.get(best)
        run.choice = {"method": best, "rel": rels.get(mixed[1] if mixed else best),
                      "cs_rel": rels, "cv_snr": scores, "slices": pick,
                      "weight": mixed[0] if mixed else None,
                      "seconds": round(time.perf_counter() - t0, 3)}
        if log is not None:
            log(f"auto: chose {best}" + (f" (rel {run.choice['rel']:.3g})"
                                         if run.choice["rel"] is not None else ""))
        if mixed:
            w, c = mixed
            return w * np.asarray(candidates[name](A, y)) + \
                (1 - w) * np.asarray(cs[c][0](A, y, rel=rels[c], iters=cs_iters))
        if best in rels:
            return cs[best][0](A, y, rel=rels[best], iters=cs_iters)
        return candidates[best](A, y)

    run.choice = None
    return run
