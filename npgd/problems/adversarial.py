"""The optional LSGAN term of training (companion seed, Sec. 3 and 4.1-4.2.3).

The generator (the unrolled :class:`npgd.solvers.NeuralPGD`) is trained on a mixture of the
pixel-wise objective (P2) and the least-squares GAN cost against :class:`Discriminator`,
whose weight grows from 0 during a warm-up (:func:`gan_weight_at`) so that the generator's
first images already resemble the data before the adversarial term takes hold.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["Discriminator", "gan_weight_at", "lsgan_d_loss", "lsgan_g_loss"]


class Discriminator(nn.Module):
    """The companion seed's LSGAN discriminator (its Fig. 3) on magnitude images.

    Eight convolutions, each but the last followed by batch norm and ReLU, no pooling:
    four 3×3 convolutions with stride 2 whose feature maps double from ``widths[0]`` = 8 to
    64, two 3×3 convolutions with stride 1, then two 1×1 convolutions, the last to one map,
    averaged over the image into the decision :math:`D(x) \\in \\mathbb{R}` (no sigmoid: the
    least-squares loss scores real images toward 1 and generated ones toward 0). The text
    gives 3×3 kernels to "the first five" layers and 1×1 to "the last two", leaving the sixth
    open; here it is 3×3.

    The input is ``|x|`` of a complex (or real) batch ``(..., H, W)``, divided by its
    root-mean-square per image, so the decision does not depend on the data's scale (as the
    learned proximals do not).

    Examples
    --------
    >>> import torch
    >>> D = Discriminator()
    >>> D(torch.randn(3, 32, 24, dtype=torch.complex64)).shape
    torch.Size([3])
    """

    def __init__(self, widths: tuple[int, ...] = (8, 16, 32, 64)):
        super().__init__()
        layers: list[nn.Module] = []
        c = 1
        for w in widths:
            layers += [nn.Conv2d(c, w, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(w),
                       nn.ReLU()]
            c = w
        for k in (3, 3, 1):
            layers += [nn.Conv2d(c, c, k, padding=k // 2, bias=False), nn.BatchNorm2d(c),
                       nn.ReLU()]
        layers.append(nn.Conv2d(c, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.ndim < 2:
            raise TypeError(
                "Discriminator: x must be a torch.Tensor of images (..., H, W), got "
                f"{type(x).__name__}{'' if not hasattr(x, 'shape') else tuple(x.shape)}"
            )
        m = x.abs()
        lead = m.shape[:-2]
        m = m.reshape(-1, 1, *m.shape[-2:])
        rms = m.pow(2).mean(dim=(-2, -1), keepdim=True).sqrt()
        m = m / torch.clamp(rms, min=torch.finfo(m.dtype).tiny)
        return self.net(m).mean(dim=(-3, -2, -1)).reshape(lead)


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
    to ``weight`` over the first ``warmup`` steps (the companion seed starts from the
    pixel-wise cost and reaches 10 % after about 1000 mini-batches).

    Examples
    --------
    >>> [gan_weight_at(s, 0.1, 4) for s in (0, 2, 4, 100)]
    [0.0, 0.05, 0.1, 0.1]
    """
    if warmup <= 0:
        return float(weight)
    return float(weight) * min(1.0, step / warmup)
