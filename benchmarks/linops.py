"""Forward+adjoint time of every npgd operator against the plain library calls, side by side.

For 256x256 complex64 batches of 1 and 32, each row times ``A.H(A(x))`` on NumPy against the
same computation written directly with scipy.fft / pywavelets / NumPy ("reference"), and,
when installed, on Torch CPU, SigPy's equivalent operator, Torch CUDA and CuPy. Ratios are
npgd / reference, measured in the same run (below 1 means npgd is faster).

Run:  python benchmarks/linops.py [--repeats 7] [--batches 1 32] [--size 256]
"""

from __future__ import annotations

import argparse
import importlib.util
from collections.abc import Callable

import numpy as np
import pywt
import scipy.fft
from _timing import median_seconds

from npgd import linops

AXES = (-2, -1)


def timeit(f: Callable[[], object], repeats: int, sync: Callable[[], None] = lambda: None) -> float:
    """Median wall time of ``f`` in ms over ``repeats`` runs (after one warm-up run)."""
    return 1e3 * median_seconds(f, repeats, sync)


def ref_fft(x):
    y = scipy.fft.fft2(np.fft.ifftshift(x, axes=AXES), axes=AXES, norm="ortho", overwrite_x=True)
    return np.fft.fftshift(y, axes=AXES)


def ref_ifft(y):
    x = scipy.fft.ifft2(np.fft.ifftshift(y, axes=AXES), axes=AXES, norm="ortho", overwrite_x=True)
    return np.fft.fftshift(x, axes=AXES)


def ref_wavelet(x, wavelet, levels):
    c = pywt.wavedec2(x, wavelet, mode="periodization", level=levels, axes=AXES)
    arr, slices = pywt.coeffs_to_array(c, axes=AXES)
    c = pywt.array_to_coeffs(arr, slices, output_format="wavedec2")
    return pywt.waverec2(c, wavelet, mode="periodization", axes=AXES)


def ref_downsample(x, f):
    b, h, w = x.shape[:-2], x.shape[-2] // f, x.shape[-1] // f
    y = x.reshape(b + (h, f, w, f)).mean(axis=(-3, -1))
    return np.broadcast_to(y[..., :, None, :, None], b + (h, f, w, f)).reshape(x.shape) / f**2


def ref_finite_difference(x):
    dy = np.diff(x, axis=-2, append=x[..., -1:, :])
    dx = np.diff(x, axis=-1, append=x[..., -1:])
    qy, qx = dy.copy(), dx.copy()
    qy[..., -1, :] = 0
    qx[..., -1] = 0
    zy, zx = np.zeros_like(qy[..., :1, :]), np.zeros_like(qx[..., :1])
    return (np.concatenate([zy, qy[..., :-1, :]], -2) - qy) + (
        np.concatenate([zx, qx[..., :-1]], -1) - qx
    )


def cases(n: int, rng: np.random.Generator):
    """(name, npgd operator, reference forward+adjoint on NumPy, SigPy builder or None)."""
    mask = rng.random((n, n)) < 0.2
    w = (rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))).astype(np.complex64)
    wav, lev = "db4", 3

    def sp_fft(sp, shape):
        return sp.linop.FFT(shape, axes=AXES, center=True)

    def sp_masked(sp, shape):
        return sp.linop.Multiply(shape, mask.astype(np.complex64)) * sp_fft(sp, shape)

    def sp_wavelet(sp, shape):
        return sp.linop.Wavelet(shape, wave_name=wav, axes=AXES, level=lev)

    return [
        ("Diagonal", linops.Diagonal(w), lambda x: np.conj(w) * (w * x), None),
        ("FFT2", linops.FFT2((n, n)), lambda x: ref_ifft(ref_fft(x)), sp_fft),
        ("MaskedFFT", linops.MaskedFFT(mask), lambda x: ref_ifft(mask * (mask * ref_fft(x))),
         sp_masked),
        (f"Wavelet {wav} L{lev}", linops.Wavelet((n, n), wav, lev),
         lambda x: ref_wavelet(x, wav, lev), sp_wavelet),
        ("Downsample x2", linops.Downsample((n, n), 2), lambda x: ref_downsample(x, 2), None),
        ("FiniteDifference", linops.FiniteDifference((n, n)), ref_finite_difference, None),
    ]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--batches", type=int, nargs="+", default=[1, 32])
    p.add_argument("--size", type=int, default=256)
    args = p.parse_args()

    torch = __import__("torch") if importlib.util.find_spec("torch") else None
    sp = __import__("sigpy") if importlib.util.find_spec("sigpy") else None
    cuda = torch is not None and torch.cuda.is_available()
    cp = None
    if importlib.util.find_spec("cupy"):
        import cupy

        cp = cupy if cupy.cuda.runtime.getDeviceCount() > 0 else None
    if torch is not None:
        torch.set_num_threads(max(1, torch.get_num_threads()))

    rng = np.random.default_rng(0)
    n = args.size
    cols = ["reference", "npgd numpy", "ratio"]
    cols += ["torch cpu"] if torch else []
    cols += ["sigpy", "npgd/sigpy"] if sp else []
    cols += ["torch cuda"] if cuda else []
    cols += ["cupy"] if cp else []
    print(f"forward+adjoint A.H(A(x)), {n}x{n} complex64, median of {args.repeats} runs, ms")
    print(f"{'operator':22s} {'batch':>5s} " + " ".join(f"{c:>11s}" for c in cols))
    for batch in args.batches:
        shape = (batch, n, n)
        x = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)
        for name, A, ref, sp_make in cases(n, rng):
            t_ref = timeit(lambda: ref(x), args.repeats)
            t_np = timeit(lambda: A.H(A(x)), args.repeats)
            row = [t_ref, t_np, t_np / t_ref]
            if torch:
                xt = torch.from_numpy(x)
                with torch.no_grad():
                    row.append(timeit(lambda: A.H(A(xt)), args.repeats))
            if sp:
                if sp_make is None:
                    row += [float("nan")] * 2
                else:
                    S = sp_make(sp, shape)
                    t_sp = timeit(lambda: S.H(S(x)), args.repeats)
                    row += [t_sp, t_np / t_sp]
            if cuda:
                xc = torch.from_numpy(x).cuda()
                with torch.no_grad():
                    row.append(timeit(lambda: A.H(A(xc)), args.repeats, torch.cuda.synchronize))
            if cp:
                xg = cp.asarray(x)
                row.append(timeit(lambda: A.H(A(xg)), args.repeats,
                                  cp.cuda.Device().synchronize))
            cells = " ".join(
                f"{v:11.3f}" if c not in ("ratio", "npgd/sigpy") else f"{v:10.2f}x"
                for c, v in zip(cols, row, strict=True)
            )
            print(f"{name:22s} {batch:5d} {cells}")


if __name__ == "__main__":
    main()
