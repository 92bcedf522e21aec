"""CS weights tuned on calibration slices, as the papers tuned their CS baselines.

The weight of each CS method is relative, :math:`\\lambda = r\\,\\lambda_{\\max}(A, y)`
(:func:`npgd.solvers.lambda_max`), so a tuned ``r`` does not depend on the data's intensity
scale. :func:`tune_rel` scores ``r`` on a log grid by the mean SNR over a few calibration
slices and extends the grid while the best value sits at one of its ends; :func:`tune_cs`
does so for CS-WV and CS-TV. The slices used to tune are not the slices then reported.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from npgd._util import check_int, check_positive_float
from npgd.experiments.compare import CS_TV_REL, CS_WV_REL, cs_tv, cs_wv
from npgd.problems import metrics

__all__ = ["CS_METHODS", "cs_methods", "grid_search", "tune_cs", "tune_rel"]

#: The CS baselines: name -> (solver ``f(A, y, rel=, iters=)``, the grid's centre ``rel``).
CS_METHODS: dict[str, tuple[Callable, float]] = {
    "CS-WV": (lambda A, y, **kw: cs_wv(A, y, wavelet="db2", **kw), CS_WV_REL["db2"]),
    "CS-TV": (cs_tv, CS_TV_REL),
}


def tune_rel(
    solve: Callable[[float], Any],
    x: np.ndarray,
    *,
    start: float,
    points: int = 5,
    ratio: float = math.sqrt(10),
    max_extend: int = 6,
    log: Callable[[str], Any] | None = None,
) -> dict:
    """The relative weight ``r`` that maximizes the mean SNR of ``solve(r)`` against ``x``.

    Starts from ``points`` values :math:`r_k = \\text{start}\\cdot\\text{ratio}^k` centred on
    ``start``; while the best lies at the smallest or largest value tried, one more value
    beyond it is tried (at most ``max_extend`` times).

    Parameters
    ----------
    solve : callable
        ``solve(r) -> x_hat`` with ``x_hat`` shaped like ``x``.
    x : ndarray, (N, H, W)
        The calibration slices' ground truth.

    Returns
    -------
    dict
        ``rel`` (the best), ``snr`` (its mean SNR, dB), ``grid`` and ``scores`` (every value
        tried, ascending, and its mean SNR), ``at_edge`` (True when the best is still an end of
        the grid after ``max_extend`` extensions).

    Examples
    --------
    >>> x = np.ones((1, 4, 4))
    >>> out = tune_rel(lambda r: x * (1.1 + abs(np.log10(r) + 2)), x, start=1e-3, points=3)
    >>> round(out["rel"], 6), len(out["grid"]), out["at_edge"]
    (0.01, 5, False)
    """
    def score(r: float) -> float:
        s = metrics.snr(x, solve(r))
        return -math.inf if np.isnan(s).any() else float(np.mean(s))

    out = grid_search(score, start=start, points=points, ratio=ratio, max_extend=max_extend,
                      log=log, where="tune_rel")
    return {"rel": out["rel"], "snr": out["score"], "grid": out["grid"],
            "scores": out["scores"], "at_edge": out["at_edge"]}


def grid_search(
    score: Callable[[float], float],
    *,
    start: float,
    points: int = 5,
    ratio: float = math.sqrt(10),
    max_extend: int = 6,
    log: Callable[[str], Any] | None = None,
    unit: str = "dB",
    where: str = "grid_search",
) -> dict:
    """The weight ``r`` with the highest ``score(r)`` on a log grid: ``points`` values
    :math:`r_k = \\text{start}\\cdot\\text{ratio}^k` centred on ``start``, extended by one
    value beyond the best while the best lies at an end (at most ``max_extend`` times). The
    search of :func:`tune_rel` (score: SNR against a reference) and of
    :func:`npgd.experiments.kcv.tune_rel_cv` (score: k-space cross-validation).

    Returns ``rel``, ``score`` (the best score), ``grid`` and ``scores`` (ascending in ``r``)
    and ``at_edge``.

    Examples
    --------
    >>> out = grid_search(lambda r: -abs(np.log10(r) + 2), start=1e-3, points=3)
    >>> round(out["rel"], 6), len(out["grid"]), out["at_edge"]
    (0.01, 5, False)
    """
    check_positive_float(where, "start", start)
    check_int(where, "points", points, 2)
    check_positive_float(where, "ratio", ratio)
    if ratio <= 1:
        raise ValueError(f"{where}: ratio must be > 1, got {ratio!r}")
    check_int(where, "max_extend", max_extend, 0)
    scores: dict[int, float] = {}

    def at(k: int) -> None:
        r = start * ratio**k
        scores[k] = float(score(r))
        if log is not None:
            log(f"  rel {r:.3g}: {scores[k]:.2f} {unit}")

    half = points // 2
    for k in range(-half, points - half):
        at(k)
    for _ in range(max_extend):
        best = max(scores, key=scores.get)
        if best == min(scores):
            at(best - 1)
        elif best == max(scores):
            at(best + 1)
        else:
            break
    best = max(scores, key=scores.get)
    ks = sorted(scores)
    return {"rel": start * ratio**best, "score": scores[best],
            "grid": [start * ratio**k for k in ks], "scores": [scores[k] for k in ks],
            "at_edge": best in (ks[0], ks[-1])}


def tune_cs(
    x: np.ndarray,
    A: Any,
    y: Any,
    *,
    iters: int = 300,
    points: int = 5,
    log: Callable[[str], Any] | None = None,
) -> dict[str, dict]:
    """:func:`tune_rel` for each of :data:`CS_METHODS` on calibration slices ``x`` measured
    as ``y = A(x)`` (+ noise), FISTA with ``iters`` iterations.

    Returns ``{"CS-WV": {...}, "CS-TV": {...}}``, each :func:`tune_rel`'s dict.

    Examples
    --------
    >>> from npgd.problems import data, mri
    >>> x = data.phantom((32, 32), seed=0)[None]
    >>> A, y = mri.simulate(x, mri.vd_mask((32, 32), 3, seed=0, calib=4))
    >>> out = tune_cs(x, A, y, iters=20, points=2)
    >>> sorted(out), out["CS-TV"]["snr"] > float(metrics.snr(x, A.H(y))[0])
    (['CS-TV', 'CS-WV'], True)
    """
    out = {}
    for name, (f, start) in CS_METHODS.items():
        if log is not None:
            log(f"tuning {name} on {len(x)} calibration slice(s):")
        out[name] = tune_rel(lambda r, f=f: f(A, y, rel=r, iters=iters), x, start=start,
                             points=points, log=log)
    return out


def cs_methods(rels: dict[str, float], iters: int = 300) -> dict[str, Callable]:
    """``(A, y) -> x_hat`` methods for :func:`npgd.experiments.compare` with the given
    relative weights (e.g. from :func:`tune_cs`); methods absent from ``rels`` use their
    default weight.

    Examples
    --------
    >>> sorted(cs_methods({"CS-TV": 1e-3}))
    ['CS-TV', 'CS-WV']
    """
    def method(f: Callable, r: float) -> Callable:
        return lambda A, y: f(A, y, rel=r, iters=iters)

    return {name: method(f, rels.get(name, start)) for name, (f, start) in CS_METHODS.items()}
