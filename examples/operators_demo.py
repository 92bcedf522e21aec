"""End-to-end tour of npgd: the operator algebra on a phantom (ISTA written by hand on top of
linops), then classic compressed-sensing MRI on the embedded real brain test slices with
npgd.priors and npgd.solvers: zero-filled vs CS-WV vs CS-TV at 5x.

Run:  python examples/operators_demo.py
"""

import time

import numpy as np

from npgd import linops, priors, solvers
from npgd.problems import data, metrics, mri


def phantom(shape=(192, 160), seed=0):
    """Piecewise-smooth test image: random ellipses on a smooth background, complex phase."""
    rng = np.random.default_rng(seed)
    yy, xx = np.meshgrid(np.linspace(-1, 1, shape[0]), np.linspace(-1, 1, shape[1]), indexing="ij")
    img = np.where((yy / 0.9) ** 2 + (xx / 0.75) ** 2 < 1, 0.4, 0.0)
    for _ in range(12):
        cy, cx, ry, rx = rng.uniform(-0.5, 0.5, 2).tolist() + rng.uniform(0.05, 0.3, 2).tolist()
        img += rng.uniform(-0.2, 0.4) * (((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 < 1)
    return (np.clip(img, 0, None) * np.exp(1j * np.pi * 0.3 * (xx + yy))).astype(np.complex64)


def variable_density_mask(shape, accel, seed=0):
    """2-D random mask, density ∝ 1/(1+r)^4, fully sampled centre, ~1/accel of k-space."""
    rng = np.random.default_rng(seed)
    yy, xx = np.meshgrid(*(np.linspace(-1, 1, n) for n in shape), indexing="ij")
    pdf = 1 / (1 + 6 * np.hypot(yy, xx)) ** 4
    lo, hi = 0.0, 1e6  # scale the density so that its clipped sum is 1/accel of k-space
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if np.clip(mid * pdf, 0, 1).mean() < 1 / accel else (lo, mid)
    mask = rng.random(shape) < np.clip(lo * pdf, 0, 1)
    mask[np.hypot(yy, xx) < 0.06] = True
    return mask


def snr(ref, est):
    return 20 * np.log10(np.linalg.norm(abs(ref)) / np.linalg.norm(abs(ref) - abs(est)))


def main():
    x = phantom()
    mask = variable_density_mask(x.shape, accel=5)
    A = linops.MaskedFFT(mask)
    W = linops.Wavelet(x.shape, "db4", levels=3)
    print(f"image {x.shape} {x.dtype}, mask keeps {mask.mean():.1%} of k-space")

    print("\nadjoint tests (relative error of <Ax,y> vs <x,A^H y>, complex64):")
    ops = [A, W, linops.Downsample(x.shape, 2), linops.FiniteDifference(x.shape), W @ A.H @ A]
    for op in ops:
        print(f"  {op!r:70s} {linops.dottest(op, (2,), 'complex64'):.1e}")

    y = A(x)
    x_zf = A.H(y)
    t = time.perf_counter()
    lam, z = 1e-3 * np.abs(W(x_zf)).max(), x_zf
    for _ in range(100):  # ISTA, step 1 (‖A‖ = 1): z <- W^H soft(W(z + A^H(y - A z)), lam)
        c = W(z + A.H(y - A(z)))
        z = W.H(c * np.maximum(1 - lam / np.maximum(np.abs(c), 1e-12), 0))
    dt = time.perf_counter() - t
    print(f"\nzero-filled SNR {snr(x, x_zf):5.2f} dB")
    print(f"ISTA-wavelet SNR {snr(x, z):5.2f} dB (100 iterations, {dt:.2f} s)")

    cs_mri_on_brain_slices()
    try:
        import torch
    except ImportError:
        return
    zt = torch.from_numpy(x_zf).requires_grad_()
    loss = 0.5 * (A(zt) - torch.from_numpy(y)).abs().pow(2).sum()
    loss.backward()
    diff = np.abs(zt.grad.numpy() - A.H(A(x_zf) - y)).max()
    print(f"torch autograd through the same operator: |grad - A^H(Ax - y)|max = {diff:.1e}")


def cs_mri_on_brain_slices(n: int = 4, iters: int = 300) -> None:
    """CS-WV and CS-TV (FISTA) on real T1 test slices; lambdas relative to lambda_max, as
    chosen on training slices by benchmarks/cs_mri.py."""
    x, z = data.brain_slices("test")
    x = x[np.linspace(0, len(x) - 1, n).round().astype(int)]
    masks = np.stack([mri.vd_mask(x.shape[1:], 5, seed=1000 + i) for i in range(n)])
    A, y = mri.simulate(x, masks)
    shape = x.shape[1:]
    W = linops.Wavelet(shape, "db4", priors.default_levels(shape))
    D = linops.FiniteDifference(shape)
    print(f"\nCS-MRI on {n} embedded brain test slices (MNI z >= +10 mm), 5x, {iters} iterations")
    print(f"  {'method':12s} {'SNR dB':>7s} {'SSIM':>6s} {'s/slice':>8s}")
    runs = {
        "zero-filled": lambda: A.H(y),
        "CS-WV": lambda: solvers.fista(
            A, priors.L1Wavelet(1e-4 * solvers.lambda_max(A, y, W), shape, seed=0), y,
            iters=iters),
        "CS-TV": lambda: solvers.fista(
            A, priors.TV(3e-4 * solvers.lambda_max(A, y, D), shape, iters=5), y, iters=iters),
    }
    for name, run in runs.items():
        t = time.perf_counter()
        xh = run()
        sec = (time.perf_counter() - t) / n
        print(f"  {name:12s} {metrics.snr(x, xh).mean():7.2f} {metrics.ssim(x, xh).mean():6.3f}"
              f" {sec:8.3f}")


if __name__ == "__main__":
    main()
