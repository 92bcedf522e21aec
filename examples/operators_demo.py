"""End-to-end tour of npgd.linops: undersampled MRI of a phantom, recovered by ISTA with a
wavelet sparsity prior written in a few lines on top of the operator algebra.

Run:  python examples/operators_demo.py
"""

import time

import numpy as np

from npgd import linops


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

    try:
        import torch
    except ImportError:
        return
    zt = torch.from_numpy(x_zf).requires_grad_()
    loss = 0.5 * (A(zt) - torch.from_numpy(y)).abs().pow(2).sum()
    loss.backward()
    diff = np.abs(zt.grad.numpy() - A.H(A(x_zf) - y)).max()
    print(f"torch autograd through the same operator: |grad - A^H(Ax - y)|max = {diff:.1e}")


if __name__ == "__main__":
    main()
