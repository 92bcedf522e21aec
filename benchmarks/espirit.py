"""ESPIRiT coil maps: npgd against BART ``ecalib`` and SigPy's ``EspiritCalib``.

Two 8-coil simulations: the embedded brain sample's first test slice (complex, 192x160) and a
mid-axial slice of the MNI ch2 template shipped by Debian's ``mricron-data``
(``/usr/share/mricron/templates/ch2.nii.gz``, real, 217x181 after the readers' rotation),
each times birdcage sensitivities (:func:`npgd.problems.coils.birdcage`), 4x
variable-density undersampled with a fully sampled 24x24 centre. Every method estimates
maps from the same undersampled k-space (calibration 24, kernel 6, threshold 0.02, crop
0.95, one map). Reported per image and method:

- seconds (median of ``--repeats`` runs; BART's include writing and reading its files and
  starting the process);
- the normalized map difference to the true maps and to BART's, inside the object
  (magnitude above 5 % of the maximum), after removing the best phase per pixel:
  :math:`\\|S e^{i\\varphi} - S_{ref}\\| / \\|S_{ref}\\|`;
- the SNR (dB, :func:`npgd.problems.metrics.snr` on magnitudes) of a CG-SENSE
  reconstruction (``--cg`` iterations on the normal equations) with those maps.

Run: ``python benchmarks/espirit.py`` (``pip install sigpy`` and Debian ``bart`` add the
peers; each is skipped when absent).
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from _timing import median_seconds

from npgd import linops, solvers
from npgd.problems import coils, data, metrics, mri, readers

CH2 = Path("/usr/share/mricron/templates/ch2.nii.gz")
CALIB, KERNEL, THRESH, CROP = 24, 6, 0.02, 0.95


def images() -> dict[str, np.ndarray]:
    out = {"brain sample (simulated)": data.brain_slices("test")[0][0]}
    if CH2.exists():
        x, _ = readers.read_images(CH2, axis=2)
        out["ch2 template z-mid (real)"] = x[len(x) // 2] / np.percentile(x, 99.9)
    return {k: np.ascontiguousarray(v, np.complex64) for k, v in out.items()}


def npgd_numpy(k: np.ndarray) -> np.ndarray:
    return coils.espirit(k, CALIB, KERNEL, THRESH, CROP)


def npgd_torch(k: np.ndarray) -> np.ndarray:
    import torch

    return coils.espirit(torch.from_numpy(k), CALIB, KERNEL, THRESH, CROP).numpy()


def bart_ecalib(k: np.ndarray) -> np.ndarray:
    with tempfile.TemporaryDirectory() as d:
        readers.write_cfl(f"{d}/k", np.moveaxis(k, 0, -1)[:, :, None, :])  # x, y, z, coil
        # BART's -t bounds squared singular values (eigenvalues of A^H A), npgd's and SigPy's
        # thresh the singular values: THRESH**2 selects the same kernel subspace.
        cmd = ["bart", "ecalib", "-r", str(CALIB), "-k", str(KERNEL), "-t", str(THRESH**2),
               "-c", str(CROP), "-m", "1", f"{d}/k", f"{d}/s"]
        subprocess.run(cmd, check=True, capture_output=True)
        s = readers.read_cfl(f"{d}/s")
    return np.ascontiguousarray(np.moveaxis(s.reshape(k.shape[1:] + (k.shape[0],)), -1, 0))


def sigpy_espirit(k: np.ndarray) -> np.ndarray:
    from sigpy.mri.app import EspiritCalib

    return EspiritCalib(k, calib_width=CALIB, kernel_width=KERNEL, thresh=THRESH, crop=CROP,
                        show_pbar=False).run()


def map_difference(est: np.ndarray, ref: np.ndarray, on: np.ndarray) -> float:
    """:math:`\\|S e^{i\\varphi} - S_{ref}\\| / \\|S_{ref}\\|` over the pixels ``on``, with
    the per-pixel phase :math:`\\varphi` that minimizes it."""
    inner = (np.conj(est) * ref).sum(axis=0)
    mag = np.abs(inner)
    rot = np.where(mag > 0, inner / np.where(mag > 0, mag, 1), 1)
    return float(np.linalg.norm((est * rot - ref)[:, on]) / np.linalg.norm(ref[:, on]))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--coils", type=int, default=8)
    p.add_argument("--accel", type=float, default=4.0)
    p.add_argument("--cg", type=int, default=30, help="CG-SENSE iterations")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()

    methods = {"npgd numpy": npgd_numpy}
    if importlib.util.find_spec("torch"):
        methods["npgd torch cpu"] = npgd_torch
    if shutil.which("bart"):
        methods["BART ecalib"] = bart_ecalib
    if importlib.util.find_spec("sigpy"):
        methods["SigPy EspiritCalib"] = sigpy_espirit

    print(f"{'image':28s} {'method':20s} {'seconds':>8s} {'vs truth':>9s} {'vs BART':>8s} "
          f"{'CG-SENSE dB':>11s}")
    for name, x in images().items():
        shape = x.shape
        truth = coils.birdcage(shape, args.coils)
        mask = mri.vd_mask(shape, args.accel, seed=0, calib=CALIB)
        y = linops.Sense(truth, mask)(x)
        on = np.abs(x) > 0.05 * np.abs(x).max()
        maps = {m: run(y) for m, run in methods.items()}
        for m, run in methods.items():
            sec = median_seconds(lambda: run(y), args.repeats)
            A = linops.Sense(maps[m], mask)
            xh = solvers.cg(A.N, A.H(y), iters=args.cg)
            snr = float(metrics.snr(np.abs(x), np.abs(xh)))
            vs_bart = (f"{map_difference(maps[m], maps['BART ecalib'], on):8.4f}"
                       if "BART ecalib" in maps else f"{'':8s}")
            print(f"{name:28s} {m:20s} {sec:8.3f} {map_difference(maps[m], truth, on):9.4f} "
                  f"{vs_bart} {snr:11.2f}")
        A = linops.Sense(truth, mask)
        snr = float(metrics.snr(np.abs(x), np.abs(solvers.cg(A.N, A.H(y), iters=args.cg))))
        print(f"{name:28s} {'true maps':20s} {'':8s} {'':9s} {'':8s} {snr:11.2f}")


if __name__ == "__main__":
    main()
