"""Classic CS-MRI on real slices: npgd vs BART and SigPy, side by side.

Two real sources: the embedded brain test slices (``data.brain_slices``, Colin27
``ch2better``, 192x160) and Colin27 *with scalp* (``/usr/share/mricron/templates/ch2.nii.gz``,
Debian ``mricron-data``; axial 1 mm slices zero-padded from 217x181 to 224x192, magnitude over
the volume's 99.9th percentile times the smooth synthetic phase). Both are scored on slices at
MNI z >= +10 mm and tuned on slices below (``--tune-slices``), never on the slices they are
scored on.

At 5x variable-density undersampling (``problems.mri.vd_mask``, one mask per slice), 300
iterations, this prints mean SNR / SSIM and seconds per slice of: zero-filled; npgd CS-WV
(FISTA + ``priors.L1Wavelet`` with its defaults: db2, cycle spinning, coarse band
thresholded as BART does), the same with details-only thresholding, without cycle spinning
and with db4 / haar; npgd CS-TV; and, when installed, BART ``pics -R W:3:0:lam`` /
``-R T:3:0:lam`` (via its .cfl files) and SigPy's ``L1WaveletRecon``.

Every method solves one slice at a time with ``lam = rel * lambda_max`` of that slice (the
l1 scale of ``solvers.lambda_max`` in the method's own transform), and gets its best ``rel``
from a grid chosen on the tuning slices; the grid is extended while the best value sits at
its edge. Then the *batched* npgd solvers (``--batch`` slices per FISTA call, per-slice
weights, no loop over slices inside a call) run the same problems.

Seconds per slice are timed apart from the scores, in rounds that run every method in turn
on the same slices (``--time-slices``, ``--rounds``), reporting each one's median round: the
machine's speed drifts over a run of many minutes, and rounds spread the drift evenly. Ratios
to BART are from the same run. ``--write FILE`` writes the tables as reStructuredText (the
benchmark page includes ``docs/_generated/cs_mri.rst``).

BART runs with ``--bart-threads`` OpenMP threads (default 1; npgd's NumPy FFTs are
single-threaded too).

Run:  python benchmarks/cs_mri.py [--source brain ch2] [--slices N] [--tune-slices 4]
                                  [--iters 300] [--noise 0] [--time-slices 8] [--rounds 3]
                                  [--batch 8] [--bart-threads 1] [--methods ...] [--write FILE]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shlex
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from npgd import linops, priors, solvers
from npgd._util import atomic_write, crop_or_pad
from npgd.problems import data, metrics, mri

GRID = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3)  # lambda / lambda_max; extended at its edges
CH2 = Path("/usr/share/mricron/templates/ch2.nii.gz")
CH2_SHAPE = (224, 192)


def pick(n_total: int, n: int | None) -> np.ndarray:
    n = n_total if n is None else min(n, n_total)
    return np.linspace(0, n_total - 1, n).round().astype(int)


def ch2_slices(split: str) -> np.ndarray:
    """Axial Colin27-with-scalp slices, anterior at the top like the embedded sample, test
    (MNI z >= +10 mm) or train (below), keeping those with at least 10 % of head."""
    import nibabel as nib

    img = nib.as_closest_canonical(nib.load(CH2))
    a = np.asanyarray(img.dataobj).astype(np.float32)
    a /= np.percentile(a, 99.9)
    z = img.affine[2, 2] * np.arange(a.shape[2]) + img.affine[2, 3]
    ks = np.flatnonzero((z >= data.TEST_Z_MM) if split == "test" else (z < data.TEST_Z_MM))
    x = np.stack([a[:, ::-1, k].T for k in ks])
    x = crop_or_pad(x[(x > 0.05).mean(axis=(1, 2)) >= 0.1], CH2_SHAPE)
    return data.with_synthetic_phase(x, 500 if split == "test" else 0)


def load(source: str, split: str, n: int | None, accel: float, noise: float, seed0: int):
    x = data.brain_slices(split)[0] if source == "brain" else ch2_slices(split)
    x = x[pick(len(x), n)]
    masks = np.stack([mri.vd_mask(x.shape[1:], accel, seed=seed0 + i) for i in range(len(x))])
    _, y = mri.simulate(x, masks, noise_std=noise, seed=seed0)
    return x, masks, y.astype(np.complex64)


# Each method: (solve(A, y, lam, iters) -> x for one slice or a batch with per-slice lam,
# transform giving its scale); a transform is made for the image shape by make(shape).
def npgd_wv(wavelet: str = "db2", **kw):
    def run(A, y, lam, iters):
        prox = priors.L1Wavelet(lam, y.shape[-2:], wavelet, seed=0, **kw)
        return solvers.fista(A, prox, y, iters=iters)

    return run, lambda shape: linops.Wavelet(shape, wavelet, priors.default_levels(shape))


def npgd_tv():
    def run(A, y, lam, iters):
        return solvers.fista(A, priors.TV(lam, y.shape[-2:], iters=5), y, iters=iters)

    return run, linops.FiniteDifference


def bart_pics(reg: str, transform, threads: int):
    # OpenMP threads that wait for a core spin: on a loaded 2-core machine a 20-iteration
    # BART CS-WV solve with 2 threads took 25 s, so BART gets an explicit thread count.
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))

    def run(A, y, lam, iters):
        with tempfile.TemporaryDirectory() as d:
            data.write_cfl(f"{d}/s", np.ones(y.shape + (1, 1), np.complex64))
            data.write_cfl(f"{d}/k", y[:, :, None, None])
            cmd = ["bart", "pics", "-w", "1", "-i", str(iters), "-R", f"{reg}:3:0:{lam}",
                   f"{d}/k", f"{d}/s", f"{d}/o"]
            subprocess.run(cmd, check=True, capture_output=True, env=env)
            return data.read_cfl(f"{d}/o")

    return run, transform


def sigpy_wv():
    import sigpy.mri.app as app

    def run(A, y, lam, iters):
        mask = A.mask.numpy().astype(np.float32)
        ones = np.ones((1,) + y.shape, np.complex64)
        return app.L1WaveletRecon(y[None], ones, lam, weights=mask, wave_name="db4",
                                  max_iter=iters, show_pbar=False).run()

    return run, lambda shape: linops.Wavelet(shape, "db4", priors.default_levels(shape))


def methods_available(bart_threads: int) -> dict:
    m = {
        "npgd CS-WV (default)": npgd_wv(),
        "npgd CS-WV details only": npgd_wv(threshold_coarse=False),
        "npgd CS-WV no spin": npgd_wv(cycle_spin=False),
        "npgd CS-WV db4": npgd_wv("db4"),
        "npgd CS-WV haar": npgd_wv("haar"),
        "npgd CS-TV": npgd_tv(),
    }
    if shutil.which("bart"):
        m["BART CS-WV"] = bart_pics("W", lambda shape: linops.Wavelet(
            shape, "db2", priors.default_levels(shape)), bart_threads)
        m["BART CS-TV"] = bart_pics("T", linops.FiniteDifference, bart_threads)
    if importlib.util.find_spec("sigpy"):
        m["SigPy CS-WV (db4)"] = sigpy_wv()
    return m


#: The batched npgd rows: (name, the one-slice method it batches).
BATCHED = {"npgd CS-WV batched": "npgd CS-WV (default)", "npgd CS-TV batched": "npgd CS-TV"}


def solve_all(method, masks, y, rel: float, iters: int) -> tuple[np.ndarray, float]:
    """Each slice with lam = rel * lambda_max of that slice; returns (x, seconds per slice)."""
    run, make = method
    T = make(y.shape[-2:])
    out, sec = [], 0.0
    for k in range(len(y)):
        A = linops.MaskedFFT(masks[k])
        lam = rel * solvers.lambda_max(A, y[k], T)
        t = time.perf_counter()
        out.append(run(A, y[k], lam, iters))
        sec += time.perf_counter() - t
    return np.stack(out), sec / len(y)


def solve_batched(method, masks, y, rel: float, iters: int,
                  batch: int) -> tuple[np.ndarray, float]:
    """``batch`` slices per call, per-slice lam; returns (x, seconds per slice)."""
    run, make = method
    T = make(y.shape[-2:])
    out, sec = [], 0.0
    for k in range(0, len(y), batch):
        A = linops.MaskedFFT(masks[k : k + batch])
        lam = rel * solvers.lambda_max(A, y[k : k + batch], T, per_sample=True)
        t = time.perf_counter()
        out.append(run(A, y[k : k + batch], lam, iters))
        sec += time.perf_counter() - t
    return np.concatenate(out), sec / len(y)


def tune(method, x, masks, y, iters: int) -> float:
    """The grid's best rel by mean SNR, extending the grid while the best is at an edge."""
    score = {r: metrics.snr(x, solve_all(method, masks, y, r, iters)[0]).mean() for r in GRID}
    while True:
        best = max(score, key=score.get)
        if best == max(score) and best < 1:
            new = best * (10 / 3 if f"{best:.0e}"[0] == "3" else 3)
        elif best == min(score) and best > 1e-8:
            new = best / (10 / 3 if f"{best:.0e}"[0] == "1" else 3)
        else:
            return best
        score[new] = metrics.snr(x, solve_all(method, masks, y, new, iters)[0]).mean()


def run_source(source: str, methods: dict, args) -> tuple[str, list]:
    xt, mt, yt = load(source, "train", args.tune_slices, args.accel, args.noise, seed0=100)
    x, masks, y = load(source, "test", args.slices, args.accel, args.noise, seed0=1000)
    title = (f"{source}: {len(x)} test slices {x.shape[1:]}, {args.accel:g}x vd mask "
             f"({masks.mean():.1%} sampled), {args.iters} iterations, noise {args.noise:g}; "
             f"lambda tuned on {len(xt)} training slices")
    print(title, flush=True)
    zf = linops.MaskedFFT(masks).H(y)
    rows = [["zero-filled", float("nan"), metrics.snr(x, zf).mean(), metrics.ssim(x, zf).mean(),
             0.0]]
    rels = {}
    for name, method in methods.items():
        rels[name] = rel = tune(method, xt, mt, yt, args.iters)
        xh, _ = solve_all(method, masks, y, rel, args.iters)
        rows.append([name, rel, metrics.snr(x, xh).mean(), metrics.ssim(x, xh).mean(), 0.0])
        print(f"  {name}: lambda/lambda_max {rel:.2g}, SNR {rows[-1][2]:.2f} dB", flush=True)
    batched = {b: one for b, one in BATCHED.items() if one in methods}
    for name, one in batched.items():
        xh, _ = solve_batched(methods[one], masks, y, rels[one], args.iters, args.batch)
        rows.append([name, rels[one], metrics.snr(x, xh).mean(), metrics.ssim(x, xh).mean(),
                     0.0])
        print(f"  {name}: SNR {rows[-1][2]:.2f} dB", flush=True)
    timed = pick(len(x), args.time_slices)
    times: dict[str, list[float]] = {r[0]: [] for r in rows[1:]}
    for _ in range(args.rounds):
        for name, method in methods.items():
            times[name].append(solve_all(method, masks[timed], y[timed], rels[name],
                                         args.iters)[1])
        for name, one in batched.items():
            times[name].append(solve_batched(methods[one], masks[timed], y[timed], rels[one],
                                             args.iters, args.batch)[1])
    for row in rows[1:]:
        row[4] = float(np.median(times[row[0]]))
    print(f"  timed: {len(timed)} slices x {args.rounds} rounds, median round; batched: "
          f"{args.batch} slices per call", flush=True)
    return title, rows


def table(rows: list) -> list[list[str]]:
    """Rows of strings: scores, and SNR/time against BART (and time against SigPy)."""
    ref = {r[0]: r for r in rows}
    sigpy = ref.get("SigPy CS-WV (db4)")
    out = []
    for name, rel, s, q, sec in rows:
        b = ref.get("BART CS-TV" if "TV" in name else "BART CS-WV")
        own = name.startswith("BART") or name == "zero-filled"
        out.append([
            name, "" if rel != rel else f"{rel:.2g}", f"{s:.2f}", f"{q:.3f}",
            f"{sec:.3f}" if sec else "", f"{1 / sec:.2f}" if sec else "",
            f"{s - b[2]:+.2f}" if b and not own else "",
            f"{sec / b[4]:.2f}x" if b and sec and not own else "",
            f"{sec / sigpy[4]:.2f}x" if sigpy and sec and "WV" in name and name != sigpy[0]
            else "",
        ])
    return out


HEADER = ["method", "lam/lmax", "SNR dB", "SSIM", "s/slice", "slices/s", "SNR vs BART",
          "time / BART", "time / SigPy"]


def rst(results: list[tuple[str, list]], command: str) -> str:
    lines = [".. Written by benchmarks/cs_mri.py; do not edit by hand.", "",
             f"Command: ``{command}``, run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
             ""]
    for title, rows in results:
        lines += [title + ":", "", ".. csv-table::",
                  "   :header: " + ", ".join(f'"{h}"' for h in HEADER), ""]
        lines += ["   " + ", ".join(f'"{c}"' for c in r) for r in table(rows)]
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    import sys

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", nargs="+", choices=("brain", "ch2"), default=["brain", "ch2"])
    p.add_argument("--slices", type=int, default=None, help="test slices (default: all)")
    p.add_argument("--tune-slices", type=int, default=4, help="training slices for lambda")
    p.add_argument("--iters", type=int, default=300)
    p.add_argument("--accel", type=float, default=5.0)
    p.add_argument("--noise", type=float, default=0.0, help="k-space noise std")
    p.add_argument("--time-slices", type=int, default=8, help="test slices timed per round")
    p.add_argument("--rounds", type=int, default=3, help="timing rounds (median reported)")
    p.add_argument("--batch", type=int, default=8, help="slices per batched FISTA call")
    p.add_argument("--bart-threads", type=int, default=1, help="OMP_NUM_THREADS for BART")
    p.add_argument("--methods", nargs="+", default=None,
                   help="run only the methods whose name contains one of these words")
    p.add_argument("--write", type=Path, default=None, help="write the tables as .rst here")
    args = p.parse_args()
    methods = methods_available(args.bart_threads)
    if args.methods:
        methods = {k: v for k, v in methods.items() if any(w in k for w in args.methods)}
    if "ch2" in args.source and not CH2.is_file():
        print(f"{CH2} missing (Debian mricron-data): ch2 skipped")
        args.source = [s for s in args.source if s != "ch2"]
    results = [run_source(source, methods, args) for source in args.source]
    for title, rows in results:
        print("\n" + title)
        print("  ".join(f"{h:>12s}" for h in HEADER))
        for r in table(rows):
            print(f"{r[0][:26]:26s}" + "".join(f"{c:>12s}" for c in r[1:]))
    if args.write:
        command = "python benchmarks/cs_mri.py " + shlex.join(sys.argv[1:])
        args.write.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(args.write, rst(results, command))
        print(f"wrote {args.write}")


if __name__ == "__main__":
    main()
