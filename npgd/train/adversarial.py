"""The discriminator of the optional LSGAN term of training.

From Mardani et al., "Recurrent Generative Adversarial Networks for Proximal Learning and
Automated Compressive Image Recovery" (Sec. 3 and 4.1-4.2.3): the generator (the unrolled
:class:`npgd.solvers.NeuralPGD`) is trained on a mixture of the pixel-wise objective (P2)
and the least-squares GAN cost against :class:`Discriminator`, whose weight grows from 0
during a warm-up (:func:`npgd.train.losses.gan_weight_at`) so that the generator's first
images already resemble the data before the adversarial term takes hold.
"""

from __future__ import annotations

from npgd._optional import require

torch = require("torch", "torch", "npgd.train (training neural PGD)")
nn = torch.nn

__all__ = ["Discriminator"]


class Discriminator(nn.Module):
    """The LSGAN discriminator of the recurrent-GANCS paper (Mardani et al., its Fig. 3), on
    magnitude images.

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
