"""End-to-end tour of npgd on the embedded real brain test slices (MNI z >= +10 mm).

1. The operator algebra: adjoint tests of the MRI and imaging operators and a composite.
2. Classic compressed-sensing MRI at 5x: zero-filled vs CS-WV vs CS-TV, with lambdas relative
   to the data (the relative weights benchmarks/cs_mri.py chose on *training* slices).
3. Torch autograd through the same operator object.

Run:  python examples/operators_demo.py
"""

import time

import numpy as np

from npgd import linops, priors, solvers
from npgd.problems import data, metrics, mri


def main(n: int = 4, iters: int = 300) -> None:
    x, _ = data.brain_slices("test")
    x = x[np.linspace(0, len(x) - 1, n).round().astype(int)]
    shape = x.shape[1:]
    masks = np.stack([mri.vd_mask(shape, 5, seed=1000 + i) for i in range(n)])
    A, y = mri.simulate(x, masks)
    W = linops.Wavelet(shape, "db2", priors.default_levels(shape))  # L1Wavelet's default
    D = linops.FiniteDifference(shape)
    print(f"{n} brain test slices {shape} {x.dtype}, masks keep {masks.mean():.1%} of k-space")

    print("\nadjoint tests (relative error of <Ax,y> vs <x,A^H y>, complex64):")
    for op in [A, W, linops.Downsample(shape, 2), D, W @ A.N]:
        print(f"  {op!r:70s} {linops.dottest(op, (n,), 'complex64'):.1e}")

    print(f"\nCS-MRI at 5x, FISTA, {iters} iterations")
    print(f"  {'method':12s} {'SNR dB':>7s} {'SSIM':>6s} {'s/slice':>8s}")
    runs = {
        "zero-filled": lambda: A.H(y),
        "CS-WV": lambda: solvers.fista(
            A, priors.L1Wavelet(3e-5 * solvers.lambda_max(A, y, W), shape, seed=0), y,
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

    try:
        import torch
    except ImportError:
        return
    xt = torch.from_numpy(A.H(y)).requires_grad_()
    loss = 0.5 * (A(xt) - torch.from_numpy(y)).abs().pow(2).sum()
    loss.backward()
    diff = np.abs(xt.grad.numpy() - A.H(A(xt.detach().numpy()) - y)).max()
    print(f"\ntorch autograd through the same operator: |grad - A^H(Ax - y)|max = {diff:.1e}")


if __name__ == "__main__":
    main()
