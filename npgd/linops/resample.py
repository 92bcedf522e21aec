"""Block-average downsampling, the super-resolution operator of Mardani et al., "Neural Proximal
Gradient Descent for Compressive Imaging", NeurIPS 2018."""

from __future__ import annotations

from typing import Any

from npgd import backend
from npgd.linops.base import LinearOperator, Shape, as_shape

__all__ = ["Downsample"]


class Downsample(LinearOperator):
    """Mean over non-overlapping ``fy × fx`` blocks of the last two axes.

    .. math:: (S x)_{ij} = \\frac{1}{f_y f_x} \\sum_{a<f_y,\\ b<f_x} x_{f_y i + a,\\ f_x j + b}

    Its adjoint spreads each value back over its block divided by the block size,
    :math:`(S^H y)_{f_y i + a, f_x j + b} = y_{ij} / (f_y f_x)`, so :math:`S S^H = I/(f_y f_x)`.

    Parameters
    ----------
    shape : (H, W)
        Image shape; ``H`` and ``W`` must be divisible by the factors.
    factor : int or (int, int)
        Downsampling factor, the same for both axes or per axis.

    Examples
    --------
    >>> import numpy as np
    >>> from npgd.linops import Downsample
    >>> S = Downsample((4, 4), 2)
    >>> S(np.arange(16.0).reshape(4, 4))
    array([[ 2.5,  4.5],
           [10.5, 12.5]])
    """

    def __init__(self, shape: Shape, factor: int | tuple[int, int]):
        shape = as_shape(shape, "shape", "Downsample")
        if len(shape) != 2:
            raise ValueError(f"Downsample: shape must be (H, W), got {shape}")
        f = (factor, factor) if isinstance(factor, int) else tuple(factor)
        f = as_shape(f, "factor", "Downsample")
        if len(f) != 2:
            raise ValueError(f"Downsample: factor must be an int or (fy, fx), got {factor!r}")
        if shape[0] % f[0] or shape[1] % f[1]:
            raise ValueError(
                f"Downsample: image shape {shape} must be divisible by the factor {f}"
            )
        self.factor = f
        super().__init__(shape, (shape[0] // f[0], shape[1] // f[1]))

    def _apply(self, x: Any) -> Any:
        xp = backend.namespace(x)
        (h, w), (fy, fx) = self.oshape, self.factor
        blocks = xp.reshape(x, tuple(x.shape[:-2]) + (h, fy, w, fx))
        return xp.mean(blocks, axis=(-3, -1))

    def _apply_adjoint(self, y: Any) -> Any:
        xp = backend.namespace(y)
        (h, w), (fy, fx) = self.oshape, self.factor
        batch = tuple(y.shape[:-2])
        spread = xp.broadcast_to(y[..., :, None, :, None], batch + (h, fy, w, fx))
        return xp.reshape(spread, batch + (h * fy, w * fx)) / (fy * fx)

    def _squared_norm(self) -> float:
        return 1.0 / (self.factor[0] * self.factor[1])

    def __repr__(self) -> str:
        return f"Downsample({self.ishape}, factor={self.factor})"
