"""Training losses: the (P2) objective of neural proximal gradient descent and the LSGAN terms.

(P2) is the objective of Mardani et al., "Neural Proximal Gradient Descent for Compressive
Imaging" (NeurIPS 2018). The least-squares GAN costs (P1.1) and (P1.2) are those of Mardani
et al., "Recurrent Generative Adversarial Networks for Proximal Learning and Automated
Compressive Image Recovery" (Sec. 3 and 4.1-4.2.3), with the discriminator of
:mod:`npgd.train.adversarial`.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from npgd import linops

__all__ = ["gan_weight_at", "lsgan_d_loss", "lsgan_g_loss", "p2_loss"]


def p2_loss(
    A: linops.LinearOperator, y: torch.Tensor, x: torch.Tensor, iterates: list, beta: float = 0.75,
    normalized: bool | str = False,
) -> torch.Tensor:
    """The objective (P2) of Mardani et al. (NeurIPS 2018), per pixel and averaged over the batch:

    .. math:: \\frac{1}{Bn}\\sum_{i=1}^{B}\\Big[\\beta\\|x_i - x_T^i\\|^2 + (1 - \\beta)
              \\sum_{t=1}^{T}\\|y_i - A x_t^i\\|^2\\Big],

    ``n`` the number of pixels of one image, ``iterates`` = :math:`[x_1, \\dots, x_T]`
    (``net(A, y, return_all=True)``). The second term asks every iterate to fit the data,
    which that paper found to speed up training of long unrolls.

    With ``normalized`` each sample's terms are divided by its own energy,

    .. math:: \\frac{1}{B}\\sum_{i=1}^{B}\\Big[\\beta\\frac{\\|x_i - x_T^i\\|^2}{\\|x_i\\|^2}
              + \\frac{1 - \\beta}{T}\\sum_{t=1}^{T}
              \\frac{\\|y_i - A x_t^i\\|^2}{\\|y_i\\|^2}\\Big],

    the squared NRMSE, so that samples of any scale or size count alike. ``normalized="log"``
    averages :math:`10\\log_{10}` of each sample's bracket instead (the mean "SNR" of the
    objective, negated): a sample's gradient is then divided by its own error, so clean
    samples that are already reconstructed at 40 dB still count as much as noisy ones at
    15 dB, whose error is mostly the noise in the reference that no reconstruction can
    predict (used for the randomized data of :mod:`npgd.train.synth`). ``"p2"`` or ``False``
    is the plain (P2).

    Examples
    --------
    >>> import torch
    >>> from npgd import linops
    >>> A = linops.Identity((2, 2))
    >>> x = torch.ones(1, 2, 2); y = A(x)
    >>> float(p2_loss(A, y, x, [torch.zeros(1, 2, 2), x], beta=0.5))  # (0.5*0 + 0.5*4) / 4
    0.5
    >>> float(p2_loss(A, y, x, [torch.zeros(1, 2, 2), x], beta=0.5, normalized=True))
    0.25
    >>> round(float(p2_loss(A, y, x, [torch.zeros(1, 2, 2), x], beta=0.5, normalized="log")), 2)
    -6.02
    """
    if normalized not in (False, True, "p2", "normalized", "log"):
        raise ValueError(f"p2_loss: normalized must be False, True, 'p2', 'normalized' or "
                         f"'log', got {normalized!r}")
    if normalized and normalized != "p2":
        ax_i, ax_o = tuple(range(-len(A.ishape), 0)), tuple(range(-len(A.oshape), 0))
        ex = x.abs().pow(2).sum(ax_i).clamp_min(1e-12)
        ey = y.abs().pow(2).sum(ax_o).clamp_min(1e-12)
        image = (x - iterates[-1]).abs().pow(2).sum(ax_i) / ex
        fit = sum((y - A(xt)).abs().pow(2).sum(ax_o) for xt in iterates) / (ey * len(iterates))
        per = beta * image + (1 - beta) * fit
        return (10 * torch.log10(per.clamp_min(1e-12))).mean() if normalized == "log" \
            else per.mean()
    axes = tuple(range(-len(A.ishape), 0))
    n = math.prod(A.ishape)
    image = (x - iterates[-1]).abs().pow(2).sum(axes)
    fit = sum((y - A(xt)).abs().pow(2).sum(tuple(range(-len(A.oshape), 0))) for xt in iterates)
    return (beta * image + (1 - beta) * fit).mean() / n


def lsgan_d_loss(D: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """The discriminator's cost (P1.1):
    :math:`\\mathbb{E}_x[(1 - D(x))^2] + \\mathbb{E}_y[D(\\hat x)^2]`.

    ``fake`` is detached; real and generated images go through ``D`` in one batch (one
    forward per step, as DDP wants).

    Examples
    --------
    >>> import torch
    >>> D = lambda z: z.flatten(1).mean(1)          # a stand-in decision: the mean pixel
    >>> float(lsgan_d_loss(D, torch.ones(2, 4, 4), torch.full((2, 4, 4), 0.5)))
    0.25
    """
    n = real.shape[0]
    d = D(torch.cat([real, fake.detach()]))
    return (1 - d[:n]).pow(2).mean() + d[n:].pow(2).mean()


def lsgan_g_loss(D: nn.Module, fake: torch.Tensor) -> torch.Tensor:
    """The generator's adversarial cost in (P1.2): :math:`\\mathbb{E}_y[(1 - D(\\hat x))^2]`.

    Examples
    --------
    >>> import torch
    >>> float(lsgan_g_loss(lambda z: z.flatten(1).mean(1), torch.full((2, 4, 4), 0.5)))
    0.25
    """
    return (1 - D(fake)).pow(2).mean()


def gan_weight_at(step: int, weight: float, warmup: int) -> float:
    """The adversarial weight :math:`w` of step ``step`` (0-based) in the generator loss
    :math:`(1 - w)\\,\\text{(P2)} + w\\,\\mathbb{E}[(1 - D(\\hat x))^2]`: a linear ramp from 0
    to ``weight`` over the first ``warmup`` steps (the recurrent-GANCS paper starts from the
    pixel-wise cost and reaches 10 % after about 1000 mini-batches).

    Examples
    --------
    >>> [gan_weight_at(s, 0.1, 4) for s in (0, 2, 4, 100)]
    [0.0, 0.05, 0.1, 0.1]
    """
    if warmup <= 0:
        return float(weight)
    return float(weight) * min(1.0, step / warmup)
