"""Several MRI models side by side on held-out MR sources under conditions other than the
5x variable-density setting of ``scripts/cross_dataset.py``: other accelerations, mask
families and k-space noise levels, and references that carry noise of their own as real
scans do (a Rician floor of 2 % or 5 % of the bright tissue added to the clean template; the
noisy image is then both what is measured and what the reconstructions are scored against).

Each model (a shipped name or a ``model.pt``) reconstructs the same slices, masks and noise
(seed 1000, the slices of ``scripts/cross_dataset.py``: three per source). Without ``--cs``
every slice is scored and only the models run; with ``--cs`` CS-WV and CS-TV are tuned on
the middle slice of each source and condition and the models and CS are scored on the
other two, as on the docs page "Generalization"::

    python scripts/conditions.py mri-general old/mri-general.pt
    python scripts/conditions.py mri-general old/mri-general.pt --cs --only "5x vd 20 dB"
    python scripts/conditions.py mri-general --cs --auto

``--scan-like`` runs ten harder conditions instead, closer to real scans: references with
10 %, 15 % or 20 % Rician noise, and small matrices where the head fills the field of view
(each slice cropped to the bounding box of its tissue, then to 96 or 64 pixels on the longer
side by cropping k-space, as an acquisition at that resolution would be), noiseless, at 30 dB
and with a 5 %, 10 % or 15 % reference floor::

    python scripts/conditions.py mri-general --cs --scan-like

``--edge`` scores the edge slices of the same volumes instead (three with 10 to 30 % of
their pixels above 5 % of the volume's largest value: ``npgd eval`` keeps them by default, the
docs table leaves them out), 5x variable density, noiseless and at 30 dB::

    python scripts/conditions.py mri-general --cs --edge

``--interpolated`` runs references as scanners often store them: acquired at a lower
resolution and interpolated by zero-filling k-space back to the matrix (2x and 1.5x per
axis; noiseless, at 30 dB, and with noise of 5 % added at the acquired resolution, so that
it is interpolated too), or filtered by a k-space window (a Hamming-type raw-data filter)::

    python scripts/conditions.py mri-general --cs --interpolated

``--ghosted`` runs references as echo-planar scans (diffusion b0, fMRI) store them: with a
Nyquist ghost, the copy of the image shifted by half the field of view along the first axis
at 5 % or 10 % of its intensity (:func:`npgd.train.synth.nyquist_ghost`), noiseless, at 30
dB and with a 5 % reference floor::

    python scripts/conditions.py mri-general --cs --ghosted

``--low-contrast`` runs references of lower contrast: the spread about the mean compressed
to a half or a quarter inside the head (background kept dark, as tissues of nearly equal
signal give), or everywhere in a tight field of view that the head fills
(:func:`npgd.train.synth.low_contrast`), noiseless and at 30 dB::

    python scripts/conditions.py mri-general --cs --low-contrast

``--sizes`` runs other matrix sizes: the whole field of view, background included, acquired
at 128, 96 or 64 pixels on the longer side (the centre of k-space; noiseless, at 30 dB and
with a 5 % reference floor), and the slices resampled to 64x64 up to 512x512 as ``npgd eval
--sweep`` makes its sizes (one factor, anti-aliased, zero-padded), and, to tell magnification
from matrix size, resized to 512x512 then cropped to its centre 256x256, or enlarged to
512x512 by zero-padding k-space (sinc interpolation)::

    python scripts/conditions.py mri-general --cs --sizes

Prints one line per source and condition (mean SNR, dB) and, for every model after the
first, its mean difference to the first; with ``--cs`` each line and the summary give the
first model's margin to the better tuned CS method. With ``--auto`` (needs ``--cs``) the
reference-free choice between the first model, CS-WV and CS-TV
(:func:`npgd.experiments.kcv.auto`) runs too, and its margin is given beside.
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cross_dataset as cd  # noqa: E402  (the sources and slice picking of the docs table)

from npgd._util import crop_or_pad  # noqa: E402
from npgd.experiments.compare import neural  # noqa: E402
from npgd.experiments.evaluate import AUTO, MASKS, evaluate, load_net  # noqa: E402
from npgd.experiments.kcv import UNIT_OF_FAMILY, auto  # noqa: E402
from npgd.experiments.sweep import resize_to  # noqa: E402
from npgd.problems import mri, readers  # noqa: E402
from npgd.train.synth import low_contrast, nyquist_ghost  # noqa: E402


def rician(x: np.ndarray, rel: float, seed: int = 7) -> np.ndarray:
    """``x`` with a Rician noise floor: ``|x + s (n1 + i n2)|``, ``s`` = ``rel`` times the
    99.5th percentile of ``|x|`` (``x`` itself when ``rel`` is 0)."""
    if rel == 0:
        return x
    rng = np.random.default_rng(seed)
    s = rel * float(np.percentile(np.abs(x), 99.5))
    n = rng.standard_normal(x.shape) + 1j * rng.standard_normal(x.shape)
    return np.abs(x + s * n).astype(np.float32)


#: ``--edge``: the base setting on edge slices
EDGE = [("5x vd", 5.0, "vd", None, 0.0, None), ("5x vd 30 dB", 5.0, "vd", 30.0, 0.0, None)]


def _centre(h: int, w: int, hh: int, ww: int) -> tuple[slice, slice]:
    """The centred ``hh`` x ``ww`` block of an fftshifted ``h`` x ``w`` k-space."""
    i, j = (h - hh + 1) // 2, (w - ww + 1) // 2
    return slice(i, i + hh), slice(j, j + ww)


def low_resolution(x: np.ndarray, side: int) -> np.ndarray:
    """Magnitude images ``x`` ``(N, H, W)`` at ``side`` pixels on the longer side (both sides
    even, the aspect ratio kept) by keeping the centre of k-space: the same field of view,
    background included, acquired at a lower resolution (EPI, small clinical matrices)."""
    h, w = x.shape[1:]
    s = side / max(h, w)
    hh, ww = (max(8, round(n * s) // 2 * 2) for n in (h, w))
    k = np.fft.fftshift(np.fft.fft2(x, norm="ortho"), axes=(-2, -1))
    k = np.fft.ifftshift(k[(slice(None), *_centre(h, w, hh, ww))], axes=(-2, -1))
    return np.abs(np.fft.ifft2(k, norm="ortho")).astype(np.float32)


def tight_field_of_view(x: np.ndarray, side: int) -> np.ndarray:
    """Magnitude images ``x`` ``(N, H, W)`` cropped to the bounding box of their tissue (where
    any slice exceeds 5 % of the maximum), then to ``side`` pixels on the longer side by
    keeping the centre of k-space (:func:`low_resolution`): a low-resolution acquisition
    whose field of view the object fills, like small clinical matrices and EPI."""
    a = np.abs(x)
    rows, cols = np.where(a.max(0) > 0.05 * a.max())
    return low_resolution(x[:, rows.min():rows.max() + 1, cols.min():cols.max() + 1], side)


def resized(x: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Magnitude images ``x`` ``(N, H, W)`` at the matrix ``shape`` as ``npgd eval --sweep``
    makes its sizes (:func:`npgd.experiments.sweep.resize_to`: resized by one factor,
    anti-aliased when shrinking, centre zero-padded), float32."""
    return resize_to(x, shape).astype(np.float32)


def resized_crop(x: np.ndarray, shape: tuple[int, int], crop: tuple[int, int]) -> np.ndarray:
    """:func:`resized` to ``shape``, then the centre ``crop``: the magnification of the larger
    matrix at a smaller one."""
    return crop_or_pad(resized(x, shape), tuple(crop))


def sinc_resized(x: np.ndarray, side: int) -> np.ndarray:
    """Magnitude images ``x`` ``(N, H, W)`` enlarged by one factor to ``side`` pixels on the
    longer side (both sides even) by zero-padding their k-space (sinc interpolation, where
    :func:`resized` interpolates linearly), then centre zero-padded to ``side`` x ``side``."""
    h, w = x.shape[1:]
    f = side / max(h, w)
    hh, ww = (max(n, round(n * f) // 2 * 2) for n in (h, w))
    k = crop_or_pad(np.fft.fftshift(np.fft.fft2(x, norm="ortho"), axes=(-2, -1)), (hh, ww))
    y = np.abs(np.fft.ifft2(np.fft.ifftshift(k, axes=(-2, -1)), norm="ortho"))
    return crop_or_pad(y, (side, side)).astype(np.float32)


def interpolated(x: np.ndarray, factor: float, noise: float = 0.0, seed: int = 7) -> np.ndarray:
    """Magnitude images ``x`` ``(N, H, W)`` as a scan acquired at ``1/factor`` of the matrix in
    each direction and interpolated back to it by zero-filling k-space (the "interpolation"
    or "ZIP" option of scanners): the centre of k-space is kept (even sides), complex
    Gaussian noise of ``noise`` times the 99.5th percentile of the acquired image is added at
    the acquired resolution, the rest of k-space is set to zero, and the magnitude is taken.
    Same shape and intensity scale."""
    h, w = x.shape[1:]
    hh, ww = (max(8, round(n / factor) // 2 * 2) for n in (h, w))
    rows, cols = _centre(h, w, hh, ww)
    k = np.fft.fftshift(np.fft.fft2(x, norm="ortho"), axes=(-2, -1))[:, rows, cols]
    if noise:
        small = np.fft.ifft2(np.fft.ifftshift(k, axes=(-2, -1)), norm="ortho")
        s = noise * float(np.percentile(np.abs(small), 99.5))
        rng = np.random.default_rng(seed)
        small = small + s * (rng.standard_normal(small.shape)
                             + 1j * rng.standard_normal(small.shape))
        k = np.fft.fftshift(np.fft.fft2(small, norm="ortho"), axes=(-2, -1))
    full = np.zeros(x.shape, np.complex128)
    full[:, rows, cols] = k
    return np.abs(np.fft.ifft2(np.fft.ifftshift(full, axes=(-2, -1)), norm="ortho")).astype(
        np.float32)


def ghosted(x: np.ndarray, level: float, seed: int = 7) -> np.ndarray:
    """Magnitude images ``x`` ``(N, H, W)`` with an EPI Nyquist ghost of relative amplitude
    ``level`` along the first image axis (:func:`npgd.train.synth.nyquist_ghost`, its
    readout phase drawn from ``seed``)."""
    rng = np.random.default_rng(seed)
    return np.stack([nyquist_ghost(s, rng, level=level, axis=0) for s in x])


def filtered(x: np.ndarray, strength: float = 0.5) -> np.ndarray:
    """Magnitude images ``x`` ``(N, H, W)`` whose k-space is weighted by the separable window
    ``(1 - strength) + strength * hamming`` (scanners' raw-data filters, which trade
    resolution for less ringing and noise), then the magnitude."""
    h, w = x.shape[1:]
    win = np.outer((1 - strength) + strength * np.hamming(h),
                   (1 - strength) + strength * np.hamming(w))
    k = np.fft.fftshift(np.fft.fft2(x, norm="ortho"), axes=(-2, -1)) * win
    return np.abs(np.fft.ifft2(np.fft.ifftshift(k, axes=(-2, -1)), norm="ortho")).astype(
        np.float32)


def compressed(x: np.ndarray, factor: float, everywhere: bool = False,
                side: int | None = None) -> np.ndarray:
    """Magnitude images ``x`` ``(N, H, W)`` with their contrast compressed towards the mean
    by ``factor`` (:func:`npgd.train.synth.low_contrast`), inside the object or
    ``everywhere``; with ``side``, first cropped to a tight field of view of that size
    (:func:`tight_field_of_view`)."""
    if side is not None:
        x = tight_field_of_view(x, side=side)
    rng = np.random.default_rng(7)  # not drawn from: factor and kind are given
    return np.stack([low_contrast(s, rng, factor=factor, everywhere=everywhere) for s in x])


#: (label, acceleration, mask family, k-space SNR in dB or None, Rician noise of the
#: reference as a fraction of its 99.5th percentile, and None or what makes the reference
#: from the held-out slices: :func:`tight_field_of_view`, :func:`interpolated`,
#: :func:`filtered` or :func:`ghosted` with its arguments)
CONDITIONS = [("5x vd 20 dB", 5.0, "vd", 20.0, 0.0, None),
              ("5x vd 45 dB", 5.0, "vd", 45.0, 0.0, None),
              ("3x vd", 3.0, "vd", None, 0.0, None), ("8x vd", 8.0, "vd", None, 0.0, None),
              ("8x vd 30 dB", 8.0, "vd", 30.0, 0.0, None),
              ("5x radial", 5.0, "radial", None, 0.0, None),
              ("5x lines", 5.0, "lines", None, 0.0, None),
              ("5x vd, ref 2 %", 5.0, "vd", None, 0.02, None),
              ("5x vd, ref 5 %", 5.0, "vd", None, 0.05, None),
              ("5x vd 30 dB, ref 5 %", 5.0, "vd", 30.0, 0.05, None)]

#: ``--scan-like``: harder conditions, closer to what real scans are
SCAN_LIKE = [("5x vd, ref 10 %", 5.0, "vd", None, 0.10, None),
             ("5x vd 30 dB, ref 10 %", 5.0, "vd", 30.0, 0.10, None),
             ("5x vd, tight 96", 5.0, "vd", None, 0.0, partial(tight_field_of_view, side=96)),
             ("5x vd, tight 64", 5.0, "vd", None, 0.0, partial(tight_field_of_view, side=64)),
             ("5x vd 30 dB, tight 64", 5.0, "vd", 30.0, 0.0,
              partial(tight_field_of_view, side=64)),
             ("5x vd, tight 64, ref 5 %", 5.0, "vd", None, 0.05,
              partial(tight_field_of_view, side=64)),
             ("5x vd, ref 15 %", 5.0, "vd", None, 0.15, None),
             ("5x vd, ref 20 %", 5.0, "vd", None, 0.20, None),
             ("5x vd, tight 64, ref 10 %", 5.0, "vd", None, 0.10,
              partial(tight_field_of_view, side=64)),
             ("5x vd, tight 64, ref 15 %", 5.0, "vd", None, 0.15,
              partial(tight_field_of_view, side=64))]

#: ``--interpolated``: references interpolated by zero-filling k-space, or filtered
INTERPOLATED = [("5x vd, zip 2x", 5.0, "vd", None, 0.0, partial(interpolated, factor=2)),
                ("5x vd, zip 1.5x", 5.0, "vd", None, 0.0, partial(interpolated, factor=1.5)),
                ("5x vd 30 dB, zip 2x", 5.0, "vd", 30.0, 0.0, partial(interpolated, factor=2)),
                ("5x vd, zip 2x, noise 5 %", 5.0, "vd", None, 0.0,
                 partial(interpolated, factor=2, noise=0.05)),
                ("5x vd, Hamming-filtered", 5.0, "vd", None, 0.0, partial(filtered, strength=0.5))]

#: ``--ghosted``: echo-planar references with a Nyquist ghost
GHOSTED = [("5x vd, ghost 5 %", 5.0, "vd", None, 0.0, partial(ghosted, level=0.05)),
           ("5x vd, ghost 10 %", 5.0, "vd", None, 0.0, partial(ghosted, level=0.10)),
           ("5x vd 30 dB, ghost 10 %", 5.0, "vd", 30.0, 0.0, partial(ghosted, level=0.10)),
           ("5x vd, ghost 10 %, ref 5 %", 5.0, "vd", None, 0.05, partial(ghosted, level=0.10))]


#: ``--low-contrast``: references of lower contrast, inside the head or in a view it fills
LOW_CONTRAST = [("5x vd, contrast 1/2", 5.0, "vd", None, 0.0, partial(compressed, factor=0.5)),
                ("5x vd, contrast 1/4", 5.0, "vd", None, 0.0, partial(compressed, factor=0.25)),
                ("5x vd 30 dB, contrast 1/4", 5.0, "vd", 30.0, 0.0,
                 partial(compressed, factor=0.25)),
                ("5x vd, tight 96, contrast 1/2", 5.0, "vd", None, 0.0,
                 partial(compressed, factor=0.5, everywhere=True, side=96)),
                ("5x vd, tight 96, contrast 1/4", 5.0, "vd", None, 0.0,
                 partial(compressed, factor=0.25, everywhere=True, side=96)),
                ("5x vd 30 dB, tight 96, contrast 1/4", 5.0, "vd", 30.0, 0.0,
                 partial(compressed, factor=0.25, everywhere=True, side=96))]


#: ``--sizes``: other matrix sizes, acquired (the centre of k-space, the whole field of view
#: with its background) or resampled as ``npgd eval --sweep`` does
SIZES = [("5x vd, acquired 128", 5.0, "vd", None, 0.0, partial(low_resolution, side=128)),
         ("5x vd, acquired 96", 5.0, "vd", None, 0.0, partial(low_resolution, side=96)),
         ("5x vd, acquired 64", 5.0, "vd", None, 0.0, partial(low_resolution, side=64)),
         ("5x vd 30 dB, acquired 128", 5.0, "vd", 30.0, 0.0,
          partial(low_resolution, side=128)),
         ("5x vd, acquired 128, ref 5 %", 5.0, "vd", None, 0.05,
          partial(low_resolution, side=128)),
         ("5x vd, resized 64x64", 5.0, "vd", None, 0.0, partial(resized, shape=(64, 64))),
         ("5x vd, resized 128x128", 5.0, "vd", None, 0.0, partial(resized, shape=(128, 128))),
         ("5x vd, resized 256x256", 5.0, "vd", None, 0.0, partial(resized, shape=(256, 256))),
         ("5x vd, resized 320x256", 5.0, "vd", None, 0.0, partial(resized, shape=(320, 256))),
         ("5x vd, resized 512x512", 5.0, "vd", None, 0.0, partial(resized, shape=(512, 512))),
         ("5x vd 30 dB, resized 512x512", 5.0, "vd", 30.0, 0.0,
          partial(resized, shape=(512, 512))),
         ("5x vd, resized 512x512, crop 256", 5.0, "vd", None, 0.0,
          partial(resized_crop, shape=(512, 512), crop=(256, 256))),
         ("5x vd, sinc-resized 512x512", 5.0, "vd", None, 0.0, partial(sinc_resized, side=512))]


#: the held-out MR sources of ``scripts/cross_dataset.py``
HELD_OUT_MR = ("inia19 macaque T1 (axial)", "MNI152 T1 (sagittal)", "ch2 with scalp (sagittal)")


def with_centre(conds: list[tuple], calib: int) -> list[tuple]:
    """``conds`` with their variable-density masks given a ``calib`` x ``calib`` fully sampled
    centre instead of :func:`npgd.problems.mri.vd_mask`'s default 12 (``--calib``): registers
    the mask family ``"vd, centre N"`` with :data:`npgd.experiments.evaluate.MASKS` and
    relabels those rows; other families are kept as they are."""
    fam = f"vd, centre {calib}"
    MASKS[fam] = partial(_vd_centre, calib=calib)
    UNIT_OF_FAMILY[fam] = UNIT_OF_FAMILY["vd"]
    return [(f"{label}, centre {calib}", accel, fam, *rest) if family == "vd"
            else (label, accel, family, *rest) for label, accel, family, *rest in conds]


def _vd_centre(shape: tuple[int, int], accel: float, seed: int, calib: int) -> np.ndarray:
    return mri.vd_mask(shape, accel, seed=seed, calib=calib)


def edge_slices(src: str, lo: float = 0.1, hi: float = 0.3, n: int = 3) -> np.ndarray:
    """``n`` slices of source ``src``'s volume, evenly spread over those whose fraction of
    pixels above 5 % of the volume's largest value is in ``[lo, hi)`` (the edges of the
    head; the measure of ``npgd eval --min-fraction``, :func:`npgd.problems.readers.foreground`)."""
    x = cd.volume_slices(src, lo)
    idx = np.flatnonzero(~readers.foreground(x, hi))
    return x[idx[np.linspace(0, len(idx) - 1, n).round().astype(int)]]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="+", help="shipped model names or model.pt files")
    p.add_argument("--cs", action="store_true", help="also tuned CS (scores two slices)")
    p.add_argument("--only", nargs="+", default=None, metavar="LABEL",
                   help="conditions to run (default: all of CONDITIONS)")
    p.add_argument("--auto", action="store_true",
                   help="also the reference-free choice of npgd.experiments.kcv.auto")
    p.add_argument("--scan-like", action="store_true",
                   help="the harder conditions of SCAN_LIKE instead of CONDITIONS")
    p.add_argument("--edge", action="store_true",
                   help="the edge slices of the volumes under the conditions of EDGE")
    p.add_argument("--interpolated", action="store_true",
                   help="the interpolated and filtered references of INTERPOLATED")
    p.add_argument("--ghosted", action="store_true",
                   help="the references with an EPI Nyquist ghost of GHOSTED")
    p.add_argument("--low-contrast", action="store_true",
                   help="the references of lower contrast of LOW_CONTRAST")
    p.add_argument("--sizes", action="store_true",
                   help="the other matrix sizes of SIZES (acquired or resampled)")
    p.add_argument("--calib", type=int, default=None, metavar="N",
                   help="variable-density masks with an N x N fully sampled centre "
                        "(default: vd_mask's 12)")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    if args.auto and not args.cs:
        p.error("--auto: needs --cs (its margin is to the tuned CS methods)")
    tables = {"scan_like": SCAN_LIKE, "edge": EDGE, "interpolated": INTERPOLATED,
              "ghosted": GHOSTED, "low_contrast": LOW_CONTRAST, "sizes": SIZES}
    chosen = [name for name in tables if getattr(args, name)]
    if len(chosen) > 1:
        p.error(", ".join(f"--{n.replace('_', '-')}" for n in tables) + ": one at a time")
    table = tables[chosen[0]] if chosen else CONDITIONS
    conds = [c for c in table if args.only is None or c[0] in args.only]
    if not conds:
        p.error(f"--only: expected labels among {[c[0] for c in table]}")
    if args.calib is not None:
        if args.calib < 1:
            p.error(f"--calib: expected a positive number of samples, got {args.calib}")
        conds = with_centre(conds, args.calib)
    extra = {}  # display name -> method, loaded and named as npgd eval does (load_net)
    nets = {}
    for m in args.models:
        file = m.endswith(".pt")
        net, name = load_net(argparse.Namespace(checkpoint=m if file else None,
                                                model=None if file else m, device=None,
                                                threads=args.threads))
        extra[name], nets[name] = neural(net), net
    first, *others = extra
    # margins to the better tuned CS method: the first model's with --cs, auto's with --auto
    margins: dict[str, list[float]] = ({first: []} if args.cs else {}) | (
        {AUTO: []} if args.auto else {})
    diffs: dict[str, list[float]] = {m: [] for m in others}
    sources = {name: load for name, _, load in cd.SOURCES}
    for src in HELD_OUT_MR:
        x = edge_slices(src) if args.edge else cd._pick(sources[src](), 3)
        for label, accel, family, db, ref, make in conds:
            methods = dict(extra)
            if args.auto:
                methods[AUTO] = auto(nets[first], name=first, points=3, seed=1000,
                                     unit=UNIT_OF_FAMILY[family])
            xc = x if make is None else make(x)
            res, _, _ = evaluate(rician(xc, ref), None, accel=accel, mask=family, noise_db=db,
                                 seed=1000,
                                 tune=args.cs, calib_slices=1, points=3, classic=args.cs,
                                 extra=methods)
            snr = {r["method"]: r["snr"] for r in res["methods"]}
            for m in others:
                diffs[m].append(snr[m] - snr[first])
            line = f"{src:28s} {label:20s} " + "  ".join(
                f"{k} {v:6.2f}" for k, v in snr.items() if k != "zero-filled")
            for m in margins:
                margins[m].append(res["minus_best_cs_db"][m])
            if args.cs:
                line += f"  | {first} - CS {margins[first][-1]:+.2f}"
            if args.auto:
                chose = methods[AUTO].choice["method"]
                line += (f", auto ({chose.replace(first, 'model')}) - CS "
                         f"{margins[AUTO][-1]:+.2f}")
            print(line, flush=True)
    for m in others:
        print(f"{m} - {first}: mean {np.mean(diffs[m]):+.2f} dB, min {min(diffs[m]):+.2f}, "
              f"max {max(diffs[m]):+.2f}")
    for m, v in margins.items():
        print(f"{m} - best tuned CS: mean {np.mean(v):+.2f} dB, min {min(v):+.2f}, "
              f"{sum(d >= 0 for d in v)} of {len(v)} >= 0")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
