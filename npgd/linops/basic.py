"""Elementwise (diagonal) operators, and the check of the arrays operators hold."""

from __future__ import annotations

from typing import Any

import numpy as np

from npgd import backend
from npgd.linops.base import LinearOperator, Shape, as_shape, broadcasts_to, check_batch

__all__ = ["Diagonal", "check_finite_weights"]


def check_finite_weights(w: Any, arg: str, where: str) -> tuple[Any, np.ndarray]:
    """Validate operator-held weights (a mask, a diagonal): numeric and finite.

    Returns ``(held, wn)``: the array for the operator to hold (``w`` itself when it is a
    floating/complex NumPy, CuPy or Torch array, so learnable Torch weights stay learnable;
    otherwise a float64 NumPy copy of lists, booleans and integers) and a NumPy view for
    validation and inspection.

    Examples
    --------
    >>> import numpy as np
    >>> held, view = check_finite_weights([True, False], "mask", "MaskedFFT")
    >>> held.dtype, view.dtype
    (dtype('float64'), dtype('bool'))
    >>> check_finite_weights(np.array([1.0, np.nan]), "weights", "Diagonal")
    Traceback (most recent call last):
        ...
    ValueError: Diagonal: weights contains NaN or infinite values
    """
    wn = backend.to_numpy(w) if backend.is_array(w) else np.asarray(w)
    if wn.dtype.kind not in "biufc":
        raise TypeError(f"{where}: {arg} must be a numeric or boolean array, got dtype {wn.dtype}")
    if wn.dtype.kind in "fc" and not np.isfinite(wn).all():
        raise ValueError(f"{where}: {arg} contains NaN or infinite values")
    if not backend.is_array(w) or wn.dtype.kind in "biu":
        w = wn.astype(np.float64)
    return w, wn


class Diagonal(LinearOperator):
    """Elementwise multiplication :math:`D x = w \\odot x`, with :math:`D^H y = \\bar w \\odot y`.

    Parameters
    ----------
    weights : array
        NumPy, CuPy or Torch array (a Torch tensor with ``requires_grad`` stays learnable). Its
        trailing axes broadcast against ``shape``; extra leading axes broadcast against the
        input's batch axes (one set of weights per sample). Real weights keep a real input real.
    shape : tuple of int, optional
        The operator's ``ishape`` (= ``oshape``); default ``weights.shape``.

    Examples
    --------
    >>> import numpy as np
    >>> from npgd.linops import Diagonal
    >>> D = Diagonal(np.array([1.0, 2.0, 3.0]))
    >>> D(np.ones((2, 3)))
    array([[1., 2., 3.],
           [1., 2., 3.]])
    """

    def __init__(self, weights: Any, shape: Shape | None = None):
        weights, wn = check_finite_weights(weights, "weights", "Diagonal")
        shape = tuple(wn.shape) if shape is None else as_shape(shape, "shape", "Diagonal")
        tail = wn.shape[-len(shape) :] if wn.ndim >= len(shape) else wn.shape
        if not broadcasts_to(tail, shape):
            raise ValueError(
                f"Diagonal: weights of shape {wn.shape} must broadcast to shape {shape} "
                "in their trailing axes"
            )
        self.weights = backend.Held(weights)
        self._held_batch = tuple(wn.shape[: max(wn.ndim - len(shape), 0)])
        self.self_adjoint = not self.weights.complex
        super().__init__(shape, shape)

    def _apply(self, x: Any) -> Any:
        check_batch(self._held_batch, x, len(self.ishape), "weights", self)
        return self.weights.like(x) * x

    def _apply_adjoint(self, y: Any) -> Any:
        check_batch(self._held_batch, y, len(self.ishape), "weights", self)
        w = self.weights.like(y)
        return (backend.namespace(w).conj(w) if self.weights.complex else w) * y

    def _squared_norm(self) -> float:
        return float(np.max(np.abs(self.weights.numpy())) ** 2)

    def __repr__(self) -> str:
        return f"Diagonal({self.ishape})"
