"""Forward finite differences over the last two axes (the gradient of total variation)."""

from __future__ import annotations

from typing import Any

from npgd import backend
from npgd.linops.base import LinearOperator, Shape, as_shape

__all__ = ["FiniteDifference"]


class FiniteDifference(LinearOperator):
    """Discrete gradient by forward differences: ``(..., H, W) -> (..., 2, H, W)``.

    .. math:: (D x)_{0,i,j} = x_{i+1,j} - x_{i,j}, \\qquad (D x)_{1,i,j} = x_{i,j+1} - x_{i,j}

    With ``boundary="neumann"`` (default, as in Chambolle's TV) the difference across the last
    row/column is 0; with ``"periodic"`` indices wrap around. The adjoint is the negative
    divergence, :math:`D^H p = -\\operatorname{div} p`, exact for both boundaries, so
    ``‖D x‖`` summed over the first output axis gives isotropic total variation.

    Examples
    --------
    >>> import numpy as np
    >>> from npgd.linops import FiniteDifference
    >>> D = FiniteDifference((3, 3))
    >>> D(np.arange(9.0).reshape(3, 3))[:, 0]
    array([[3., 3., 3.],
           [1., 1., 0.]])
    """

    def __init__(self, shape: Shape, boundary: str = "neumann"):
        shape = as_shape(shape, "shape", "FiniteDifference")
        if len(shape) != 2:
            raise ValueError(f"FiniteDifference: shape must be (H, W), got {shape}")
        if boundary not in ("neumann", "periodic"):
            raise ValueError(
                f"FiniteDifference: boundary must be 'neumann' or 'periodic', got {boundary!r}"
            )
        self.boundary = boundary
        super().__init__(shape, (2, *shape))

    def _apply(self, x: Any) -> Any:
        xp = backend.namespace(x)
        if self.boundary == "periodic":
            dy = xp.roll(x, -1, axis=-2) - x
            dx = xp.roll(x, -1, axis=-1) - x
        else:
            dy = xp.concat([x[..., 1:, :] - x[..., :-1, :], xp.zeros_like(x[..., :1, :])], axis=-2)
            dx = xp.concat([x[..., 1:] - x[..., :-1], xp.zeros_like(x[..., :1])], axis=-1)
        return xp.stack([dy, dx], axis=-3)

    def _apply_adjoint(self, p: Any) -> Any:
        xp = backend.namespace(p)
        py, px = p[..., 0, :, :], p[..., 1, :, :]
        if self.boundary == "periodic":
            return (xp.roll(py, 1, axis=-2) - py) + (xp.roll(px, 1, axis=-1) - px)
        # Neumann: D never writes the last row/column, so D^H ignores those entries of p.
        zy = xp.zeros_like(py[..., :1, :])
        zx = xp.zeros_like(px[..., :1])
        qy = xp.concat([py[..., :-1, :], zy], axis=-2)
        qx = xp.concat([px[..., :-1], zx], axis=-1)
        return (xp.concat([zy, qy[..., :-1, :]], axis=-2) - qy) + (
            xp.concat([zx, qx[..., :-1]], axis=-1) - qx
        )

    def __repr__(self) -> str:
        return f"FiniteDifference({self.ishape}, boundary={self.boundary!r})"
