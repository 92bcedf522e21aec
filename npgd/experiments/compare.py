"""Experiments: classic CS and learned reconstructions side by side, as tables and figures.

The functions behind ``npgd demo``, ``npgd eval`` and ``benchmarks/neural_pgd.py``: one set
of test images and masks, several methods, each scored by SNR (the definition of Mardani et
al., NeurIPS 2018), SSIM and seconds per slice, and a figure in the style of their Fig. 3
(reconstructions over their error maps).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from npgd import linops, priors, solvers
from npgd._util import DataError, atomic_write, check_int
from npgd.problems import data, metrics, mri, readers

__all__ = ["CS_TV_REL", "CS_WV_REL", "compare", "compare_measured", "cs_tv", "cs_wv", "figure",
           "format_table", "neural", "new_figure", "save_figure", "test_images", "wavelet_grid"]

#: Relative weights :math:`\lambda/\lambda_{\max}` that ``benchmarks/cs_mri.py`` picked on
#: *training* slices at 5x (wavelet per name; TV).
CS_WV_REL = {"db2": 3e-5, "db4": 1e-4}
CS_TV_REL = 3e-4


def wavelet_grid(shape: tuple[int, int], max_levels: int = 3,
                 min_coarse: int = 8) -> tuple[tuple[int, int], int]:
    """The padded grid and number of levels CS-WV uses for an image of ``shape``: the most
    levels (<= ``max_levels``, at least 1) whose coarsest scale keeps ``min_coarse`` pixels,
    and ``shape`` rounded up to a multiple of ``2**levels`` (unchanged when it already is).

    Examples
    --------
    >>> wavelet_grid((192, 160)), wavelet_grid((181, 217)), wavelet_grid((9, 13))
    (((192, 160), 3), ((184, 224), 3), ((10, 14), 1))
    """
    levels = max_levels
    while levels > 1 and min(shape) // 2**levels < min_coarse:
        levels -= 1
    step = 2**levels
    return tuple(-(-s // step) * step for s in shape), levels


def cs_wv(A: linops.MaskedFFT, y: Any, *, wavelet: str = "db2", rel: float | None = None,
          iters: int = 300, batch: int = 8) -> Any:
    """CS-WV: FISTA on :math:`\\tfrac12\\|Ax - y\\|^2 + \\lambda\\|Wx\\|_1` with cycle spinning,
    :math:`\\lambda` = ``rel`` · :func:`npgd.solvers.lambda_max` of each slice (default: the
    weight the CS benchmark chose for ``wavelet``), solved ``batch`` slices at a time by one
    batched FISTA call with per-slice weights.

    Any image shape works: when it is not a multiple of :math:`2^L` (:func:`wavelet_grid`)
    the unknown lives on a zero-padded grid, :math:`\\min_z \\tfrac12\\|A C z - y\\|^2 +
    \\lambda\\|W z\\|_1` with :math:`C` the centre crop, and :math:`C z` is returned on the
    original grid. ``y`` is ``(N, H, W)`` or one ``(H, W)`` slice.

    Examples
    --------
    >>> import numpy as np
    >>> from npgd.problems import data, mri
    >>> x = data.phantom((30, 38), seed=0)[None]
    >>> A, y = mri.simulate(x, mri.vd_mask((30, 38), 2, seed=0, calib=4))
    >>> bool(metrics.snr(x, cs_wv(A, y, iters=50))[0] > metrics.snr(x, A.H(y))[0])
    True
    """
    rel = CS_WV_REL.get(wavelet, 1e-4) if rel is None else rel
    shape = tuple(y.shape[-2:])
    padded, levels = wavelet_grid(shape)
    W = linops.Wavelet(padded, wavelet, levels)
    C = linops.Crop(padded, shape)

    def solve(Ak: linops.MaskedFFT, yk: Any) -> Any:
        op = Ak if padded == shape else Ak @ C
        prox = priors.L1Wavelet(rel * solvers.lambda_max(op, yk, W, per_sample=True), padded,
                                wavelet, levels=levels, seed=0)
        x = solvers.fista(op, prox, yk, iters=iters)
        return x if padded == shape else C(x)

    return _batched(A, y, solve, batch)


def cs_tv(A: linops.MaskedFFT, y: Any, *, rel: float = CS_TV_REL, iters: int = 300,
          inner: int = 5, batch: int = 8) -> Any:
    """CS-TV: FISTA on :math:`\\tfrac12\\|Ax - y\\|^2 + \\lambda\\,\\mathrm{TV}(x)` (FGP prox,
    ``inner`` warm-started iterations), :math:`\\lambda` = ``rel`` ·
    :math:`\\|\\nabla A^H y\\|_\\infty` of each slice, ``batch`` slices per FISTA call; any
    image shape, ``y`` is ``(N, H, W)`` or one ``(H, W)`` slice.

    Examples
    --------
    >>> import numpy as np
    >>> from npgd.problems import data, mri
    >>> x = data.phantom((30, 38), seed=0)
    >>> A, y = mri.simulate(x, mri.vd_mask((30, 38), 2, seed=0, calib=4))
    >>> bool(metrics.snr(x, cs_tv(A, y, iters=50)) > metrics.snr(x, A.H(y)))
    True
    """
    shape = tuple(y.shape[-2:])
    D = linops.FiniteDifference(shape)
    return _batched(A, y, lambda Ak, yk: solvers.fista(
        Ak, priors.TV(rel * solvers.lambda_max(Ak, yk, D, per_sample=True), shape, iters=inner),
        yk, iters=iters), batch)


def _batched(A: linops.MaskedFFT, y: Any, run: Callable, batch: int) -> Any:
    """``run`` on groups of ``batch`` slices: one batched solve per group, each slice with its
    own mask and weight (the same result as slice by slice, to float rounding). Groups keep
    the arrays of a solve small enough for CPU caches."""
    check_int("CS", "batch", batch)
    if y.ndim == 2:
        return _batched(A, y[None], run, batch)[0]
    if y.ndim != 3:
        raise ValueError(f"CS: y must be (N, H, W) or (H, W), got shape {tuple(y.shape)}")
    masks = A.mask.numpy()
    if masks.ndim == 2:
        masks = np.broadcast_to(masks, y.shape)
    return np.concatenate([run(linops.MaskedFFT(masks[k : k + batch]), y[k : k + batch])
                           for k in range(0, y.shape[0], batch)])


def neural(net: Any, batch: int | None = None, amp: bool = False) -> Callable:
    """A ``(A, y) -> x`` method for :func:`compare` that runs a trained :class:`NeuralPGD`
    (Torch, no autograd, in batches) on NumPy measurements: ``A`` a
    :class:`~npgd.linops.MaskedFFT` (its masks taken batch by batch) or an operator that acts
    alike on every image of the batch (:class:`~npgd.linops.Downsample`, say).

    ``batch`` images go through the network at once: by default 16 on a GPU and 1 on the
    CPU, where larger batches are slower per image (their activations no longer fit in the
    caches; :doc:`/benchmarks`). Every image is reconstructed on its own either way.

    ``amp=True`` runs the network's convolutions under bf16 autocast (the data steps stay
    float32): about 2-3x faster on GPUs and on CPUs with native bf16; on the shipped model it
    changed the mean SNR of the 66 test slices by 0.02 dB (37.79 to 37.77).

    Examples
    --------
    >>> from npgd.models import build_model
    >>> run = neural(build_model({"features": 4, "iters": 2}).eval())
    >>> A = linops.MaskedFFT(np.ones((2, 8, 8), bool))
    >>> run(A, A(np.ones((2, 8, 8), np.complex64))).shape
    (2, 8, 8)
    """
    import torch

    if batch is not None:
        check_int("neural", "batch", batch)

    def run(A: linops.LinearOperator, y: np.ndarray) -> np.ndarray:
        p = next(net.parameters())
        n = batch or (16 if p.device.type == "cuda" else 1)
        masks = np.broadcast_to(A.mask.numpy(), y.shape) if isinstance(A, linops.MaskedFFT) \
            else None
        out = []
        with torch.no_grad(), torch.autocast(p.device.type, torch.bfloat16, enabled=amp):
            for i in range(0, y.shape[0], n):
                Ak = A if masks is None else linops.MaskedFFT(
                    torch.from_numpy(masks[i : i + n].copy()).to(p.device))
                yk = torch.from_numpy(np.ascontiguousarray(y[i : i + n])).to(p.device)
                out.append(net(Ak, yk).cpu().numpy())
        return np.concatenate(out)

    return run


def test_images(source: str = "brain", slices: int | None = None) -> np.ndarray:
    """Complex test images ``(N, H, W)``: the embedded brain *test* slices (MNI z ≥ +10 mm)
    for ``"brain"`` (unless a local file or folder has that name) or ``"builtin:brain"``, or
    the slices of any file or folder :func:`npgd.problems.readers.read_images` reads, with at
    least 10 % foreground (magnitude data get the smooth synthetic phase); ``slices`` picks
    that many, evenly spread.

    Examples
    --------
    >>> test_images("brain", slices=3).shape
    (3, 192, 160)
    """
    x, _ = readers.read_images(source, min_fraction=0.1)
    if not np.iscomplexobj(x):
        x = data.with_synthetic_phase(x / np.percentile(x, 99.9), 1000)
    if slices is not None and slices < len(x):
        x = x[np.linspace(0, len(x) - 1, slices).round().astype(int)]
    return np.ascontiguousarray(x, dtype=np.complex64)


def compare(
    x: np.ndarray,
    masks: np.ndarray,
    methods: dict[str, Callable],
    *,
    noise_std: float = 0.0,
    seed: int = 0,
    log: Callable[[str], Any] | None = None,
) -> tuple[list[dict], dict[str, np.ndarray]]:
    """Run each ``method(A, y) -> x̂`` on the measurements of ``x`` under ``masks``.

    Returns one row per method (``method``, mean ``snr`` and ``ssim``, ``s_per_slice`` wall
    clock, and the per-slice arrays ``snr_all``/``ssim_all``) and the reconstructions. The
    zero-filled :math:`A^H y` is always the first row.

    Examples
    --------
    >>> x = test_images(slices=2)
    >>> masks = np.stack([mri.vd_mask(x.shape[1:], 5, seed=i) for i in range(2)])
    >>> rows, _ = compare(x, masks, {})
    >>> rows[0]["method"], round(rows[0]["snr"], 1) > 10
    ('zero-filled', True)
    """
    A, y = mri.simulate(x, masks, noise_std=noise_std, seed=seed)
    return compare_measured(x, A, y, methods, log=log)


def compare_measured(
    x: np.ndarray,
    A: linops.MaskedFFT,
    y: Any,
    methods: dict[str, Callable],
    *,
    log: Callable[[str], Any] | None = None,
) -> tuple[list[dict], dict[str, np.ndarray]]:
    """:func:`compare` on given measurements ``y`` of ``x`` (for noise or masks of one's own).

    A method whose output has NaN or Inf values is a DataError naming it (a broken model
    never becomes a table of NaN).

    Examples
    --------
    >>> x = np.ones((1, 8, 8), np.complex64)
    >>> A = linops.MaskedFFT(np.ones((8, 8), bool))
    >>> compare_measured(x, A, A(x), {"bad": lambda A, y: A.H(y) * np.nan})
    Traceback (most recent call last):
    ...
    npgd._util.DataError: bad: the reconstruction has 64 NaN/Inf values (a broken model or \
checkpoint?); expected finite images
    """
    rows, recons = [], {}
    for name, run in {"zero-filled": lambda A, y: A.H(y), **methods}.items():
        t = time.perf_counter()
        xh = np.asarray(run(A, y))
        sec = (time.perf_counter() - t) / len(x)
        bad = int(np.count_nonzero(~np.isfinite(xh)))
        if bad:
            raise DataError(f"{name}: the reconstruction has {bad} NaN/Inf values (a broken "
                            "model or checkpoint?); expected finite images")
        s, q = metrics.snr(x, xh), metrics.ssim(x, xh)
        rows.append({"method": name, "snr": float(s.mean()), "ssim": float(q.mean()),
                     "s_per_slice": sec, "snr_all": s, "ssim_all": q})
        recons[name] = xh
        if log is not None:
            log(format_table(rows[-1:], header=len(rows) == 1))
    return rows, recons


def format_table(rows: list[dict], header: bool = True) -> str:
    """Plain-text table of :func:`compare` rows (method, SNR dB, SSIM, s/slice).

    Examples
    --------
    >>> print(format_table([{"method": "m", "snr": 30.0, "ssim": 0.9, "s_per_slice": 0.5}]))
    method                SNR dB    SSIM   s/slice
    m                      30.00   0.900     0.500
    """
    lines = [f"{'method':20s} {'SNR dB':>7s} {'SSIM':>7s} {'s/slice':>9s}"] if header else []
    lines += [f"{r['method']:20s} {r['snr']:7.2f} {r['ssim']:7.3f} {r['s_per_slice']:9.3f}"
              for r in rows]
    return "\n".join(lines)


def figure(path: str | Path, x: np.ndarray, recons: dict[str, np.ndarray], index: int = 0,
           error_gain: float = 5.0, metric: str = "snr") -> Path:
    """A PNG in the style of Fig. 3 of Mardani et al. (NeurIPS 2018): each reconstruction of
    slice ``index`` and the gold standard in the top row, their error magnitudes
    :math:`|\\,|\\hat x| - |x|\\,|` (times ``error_gain``, one grey scale for all) below,
    SNR (``metric="snr"``, :func:`npgd.problems.metrics.snr`) or PSNR (``"psnr"``) and SSIM
    in the titles.

    Examples
    --------
    >>> import tempfile, os
    >>> x = test_images(slices=1)
    >>> p = figure(os.path.join(tempfile.mkdtemp(), "f.png"), x, {"copy": x})
    >>> p.stat().st_size > 1000
    True
    """
    if metric not in ("snr", "psnr"):
        raise ValueError(f"figure: metric must be 'snr' or 'psnr', got {metric!r}")
    score, label = (metrics.snr, "dB") if metric == "snr" else (metrics.psnr, "dB PSNR")
    ref = np.abs(x[index])
    vmax = float(ref.max()) or 1.0
    cols = list(recons.items()) + [("gold standard", x)]
    fig = new_figure((2.2 * len(cols), 5.2))
    axes = fig.subplots(2, len(cols), squeeze=False)
    for j, (name, xh) in enumerate(cols):
        mag = np.abs(xh[index])
        axes[0, j].imshow(mag, cmap="gray", vmin=0, vmax=vmax)
        title = name
        if name != "gold standard":
            title += (f"\n{score(ref, mag):.1f} {label}, "
                      f"SSIM {metrics.ssim(ref, mag):.3f}")
        axes[0, j].set_title(title, fontsize=8)
        axes[1, j].imshow(error_gain * np.abs(mag - ref), cmap="gray", vmin=0, vmax=vmax)
        if j == 0:
            axes[1, j].set_ylabel(f"|error| x{error_gain:g}", fontsize=8)
    for a in axes.ravel():
        a.set_xticks([])
        a.set_yticks([])
    return save_figure(fig, path)


def new_figure(size: tuple[float, float]) -> Any:
    """A ``matplotlib.figure.Figure`` of ``size`` inches, made without pyplot so that the
    process's plotting backend is never switched (scripts and notebooks keep theirs).
    Plotting is optional: without matplotlib this is an ImportError naming the extra.

    Examples
    --------
    >>> type(new_figure((2, 2))).__name__
    'Figure'
    """
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError('figures need matplotlib: pip install "npgd[plot]"') from None
    return Figure(figsize=size, layout="tight")


def save_figure(fig: Any, path: str | Path, dpi: int = 110) -> Path:
    """Write ``fig`` (from :func:`new_figure`) to ``path`` as PNG, atomically, creating the
    folder.

    Examples
    --------
    >>> import tempfile, os
    >>> fig = new_figure((2, 2))
    >>> _ = fig.subplots().plot([0, 1])
    >>> save_figure(fig, os.path.join(tempfile.mkdtemp(), "a", "f.png")).stat().st_size > 0
    True
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, lambda f: fig.savefig(f, dpi=dpi, format="png"))
