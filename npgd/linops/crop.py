"""Centre crop (and zero padding), the operator between a padded grid and the image grid."""

from __future__ import annotations

from typing import Any

from npgd._util import crop_or_pad
from npgd.linops.base import LinearOperator, Shape, as_shape

__all__ = ["Crop"]


class Crop(LinearOperator):
    """Centre crop of the trailing axes from ``ishape`` to ``oshape``, zero padding on an axis
    where ``oshape`` is the larger:

    .. math:: (C x)_j = x_{j + o}, \\qquad o = \\lfloor n/2 \\rfloor - \\lfloor m/2 \\rfloor

    per axis of input length :math:`n` and output length :math:`m` (entries outside the input
    are 0), so the centre sample :math:`n/2` lands on :math:`m/2`, the DC convention of
    :class:`npgd.linops.FFT2`. The adjoint is the reverse map, :math:`C^H` = ``Crop(oshape,
    ishape)``: it zero-pads what :math:`C` cropped and crops what it padded. :math:`C` keeps
    a subset of the entries, so :math:`\\|C\\| = 1`.

    Used to solve on a larger grid than the image, e.g. a wavelet prior on a zero-padded
    :math:`2^L` grid: :math:`\\min_z \\tfrac12\\|A C z - y\\|^2 + \\lambda\\|W z\\|_1`.

    Parameters
    ----------
    ishape, oshape : tuple of int
        Input and output shapes of the same length.

    Examples
    --------
    >>> import numpy as np
    >>> from npgd.linops import Crop
    >>> C = Crop((4, 4), (2, 3))
    >>> C(np.arange(16.0).reshape(4, 4))
    array([[ 5.,  6.,  7.],
           [ 9., 10., 11.]])
    >>> C.H(np.ones((2, 3))).sum(axis=1)
    array([0., 3., 3., 0.])
    """

    def __init__(self, ishape: Shape, oshape: Shape):
        ishape = as_shape(ishape, "ishape", "Crop")
        oshape = as_shape(oshape, "oshape", "Crop")
        if len(ishape) != len(oshape):
            raise ValueError(f"Crop: ishape {ishape} and oshape {oshape} must have the same "
                             "number of axes")
        super().__init__(ishape, oshape)

    def _apply(self, x: Any) -> Any:
        return crop_or_pad(x, self.oshape)

    def _apply_adjoint(self, y: Any) -> Any:
        return crop_or_pad(y, self.ishape)

    def _squared_norm(self) -> float:
        return 1.0

    def __repr__(self) -> str:
        return f"Crop({self.ishape} -> {self.oshape})"
