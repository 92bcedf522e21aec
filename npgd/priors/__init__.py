"""Proximal operators: every prior is called as ``prox(x, step)``.

``prox(x, step)`` returns :math:`\\arg\\min_z \\tfrac12\\|z - x\\|^2 + \\text{step}\\cdot\\psi(z)`
on NumPy, CuPy or Torch arrays, batched over leading axes, for real or complex images.

=================  ==============================================================
``L1Wavelet``      :math:`\\lambda\\|Wx\\|_1`, wavelet sparsity (CS-WV), cycle spinning
``TV``             :math:`\\lambda\\,\\mathrm{TV}(x)`, isotropic total variation (CS-TV)
``L1``             :math:`\\lambda\\|x\\|_1`, soft-thresholding
``Box``            indicator of :math:`[lo, hi]` (``Box(0, None)``: non-negativity)
``Zero``           :math:`\\psi = 0` (least squares)
``Chain``          apply several proximal operators in turn
=================  ==============================================================

``lam`` of ``L1``, ``L1Wavelet`` and ``TV`` is a number or one weight per image
(:class:`Weight`), so one batched solve gives every slice its own weight.

Learned proximals (``torch.nn.Module``, need the ``torch`` extra; imported on first use), from
Mardani et al., "Neural Proximal Gradient Descent for Compressive Imaging", NeurIPS 2018:

=================  ==============================================================
``ResNetProx``     ResNet proximal of Mardani et al. (residual blocks + three 1×1 convolutions)
``SwishProx``      linear convolutions + one Swish, their super-resolution proximal
=================  ==============================================================
"""

from npgd.priors.base import L1, Box, Chain, Prox, Weight, Zero, soft_threshold
from npgd.priors.sparsity import TV, L1Wavelet, default_levels

__all__ = ["Box", "Chain", "L1", "L1Wavelet", "Prox", "ResNetProx", "SwishProx", "TV", "Weight",
           "Zero", "default_levels", "soft_threshold"]

_LEARNED = ("ResNetProx", "SwishProx")


def __getattr__(name: str):
    # Torch is an optional dependency: the learned proximals import it only when asked for.
    if name in _LEARNED:
        from npgd.priors import learned

        return getattr(learned, name)
    raise AttributeError(f"module 'npgd.priors' has no attribute {name!r}")
