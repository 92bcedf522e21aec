"""Learned proximal operators: ``torch.nn.Module``\\ s called as ``prox(x, step)``.

A learned proximal plays the part of :math:`\\operatorname{prox}_{\\alpha\\psi}` in the
recursion of Mardani et al., "Neural Proximal Gradient Descent for Compressive Imaging",
NeurIPS 2018, :math:`x_{t+1} = P(x_t + \\alpha A^H(y - A x_t))`; it is a denoiser that removes the
aliasing left by the gradient step. Complex images enter as two channels (real, imaginary).
The ``step`` argument is accepted for the common call and ignored: the network learns its own
strength, and the step :math:`\\alpha` is learned by :class:`npgd.solvers.NeuralPGD`.

Both modules are *scale-equivariant* by default (``normalize=True``): the input is divided
by its per-sample RMS :math:`s` and the output multiplied by it back,
:math:`P(x) = s\\,N(x/s)`. The unrolled recursion then commutes with scaling the data, so a
model trained on images in [0, 1] works on k-space of any scale (scanner units, fastMRI).
Complex images are also turned by their per-sample mean phase
:math:`r = \\sum x / |\\sum x|`, :math:`P(x) = r s\\,N(\\bar r x / s)`, so that
:math:`P(cx) = c\\,P(x)` for every complex :math:`c \\ne 0`: the global phase of complex data
is arbitrary (it comes from the scanner, or from the phase convention of coil maps), and a
network that sees it gave results 4 to 8 dB apart on the same images turned by different
phases (the shipped MRI models, before 2026-12-06). Real images are unchanged by it.
:class:`ResNetProx` can also remove a level first and restore it after: each sample's mean
(``center=True``), which makes it commute with adding a constant, or, where positive, a low
quantile of its real part (``floor=q``), which makes the darkest pixels of a view without
dark background its zero level (the default MRI model has ``floor=0.001``).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from npgd import backend
from npgd._util import check_int

__all__ = ["ResNetProx", "SwishProx", "as_channels", "check_floor", "from_channels"]


def check_floor(where: str, floor: Any) -> float:
    """``floor`` (:class:`ResNetProx`) as a float, checked: a quantile in [0, 0.5); else a
    ValueError naming ``where``.

    >>> check_floor("demo", 0.001)
    0.001
    """
    if isinstance(floor, bool) or not isinstance(floor, (int, float)) or not 0 <= floor < 0.5:
        raise ValueError(f"{where}: floor must be a quantile in [0, 0.5), got {floor!r}")
    return float(floor)


def as_channels(x: torch.Tensor, channels: int, where: str) -> tuple[torch.Tensor, tuple]:
    """``(*batch, H, W)`` complex (or real) → ``(N, C, H, W)`` real, and the batch shape:
    a complex image becomes the two channels (real, imaginary), a real one a single channel;
    ``where`` names the caller in errors.

    Examples
    --------
    >>> import torch
    >>> z, batch = as_channels(torch.ones(2, 3, 4, 5, dtype=torch.complex64), 2, "demo")
    >>> tuple(z.shape), batch
    ((6, 2, 4, 5), (2, 3))
    """
    if backend.backend_name(x) != "torch":
        raise TypeError(
            f"{where}: x must be a torch.Tensor (a learned proximal runs in Torch), got "
            f"{type(x).__name__}; convert NumPy input with torch.from_numpy"
        )
    if x.ndim < 2:
        raise ValueError(f"{where}: x must have shape (*batch, H, W), got {tuple(x.shape)}")
    batch = tuple(x.shape[:-2])
    flat = x.reshape((-1,) + tuple(x.shape[-2:]))
    if x.is_complex():
        if channels != 2:
            raise ValueError(f"{where}: complex x needs channels=2, the module has {channels}")
        return torch.view_as_real(flat).movedim(-1, 1), batch
    if channels != 1:
        raise ValueError(
            f"{where}: real x needs channels=1, the module has {channels} (pass a complex "
            "tensor for the 2-channel real/imaginary model)"
        )
    return flat[:, None], batch


def from_channels(z: torch.Tensor, like: torch.Tensor, batch: tuple) -> torch.Tensor:
    """Inverse of :func:`as_channels`, in the dtype of ``like``.

    Examples
    --------
    >>> import torch
    >>> x = torch.randn(2, 3, 4, 5, dtype=torch.complex64)
    >>> z, batch = as_channels(x, 2, "demo")
    >>> bool(torch.equal(from_channels(z, x, batch), x))
    True
    """
    real = like.real.dtype if like.is_complex() else like.dtype
    z = z.to(real)  # AMP computes convolutions in bf16/fp16; images stay in their own precision
    if like.is_complex():
        z = torch.view_as_complex(z.movedim(1, -1).contiguous())
    else:
        z = z[:, 0]
    return z.reshape(batch + tuple(z.shape[-2:]))


class _ImageProx(nn.Module):
    """Shared input checks, channel packing and scale normalisation."""

    channels: int
    normalize: bool
    center: bool = False
    floor: float = 0.0

    def _check(self, x: torch.Tensor, where: str) -> None:
        p = next(self.parameters())
        real = x.real.dtype if x.is_complex() else x.dtype
        if real != p.dtype:
            raise TypeError(
                f"{where}: x has dtype {x.dtype} but the module's weights are {p.dtype}; convert "
                f"x (e.g. to {'complex64' if p.dtype == torch.float32 else 'complex128'}) or the "
                "module (.double()/.float()): nothing is cast silently"
            )
        if x.device != p.device:
            raise ValueError(
                f"{where}: x is on {x.device} but the module's weights are on {p.device}; move "
                "one of them with .to(device)"
            )

    def net(self, z: torch.Tensor) -> torch.Tensor:
        """The network on channel images ``(N, C, H, W)``, without the scale and phase
        normalisation of :meth:`forward`."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor, step: Any = None) -> torch.Tensor:
        where = type(self).__name__
        z, batch = as_channels(x, self.channels, where)
        self._check(x, where)
        if not self.normalize:
            return from_channels(self.net(z), x, batch)
        r = None
        if x.is_complex():
            # turn each sample by its mean phase, so that the network always sees images whose
            # sum is real and positive, whatever global phase the data carry
            m = x.sum(dim=(-2, -1), keepdim=True)
            mag = m.abs()
            r = torch.where(mag > 0, m / mag.clamp_min(torch.finfo(mag.dtype).tiny),
                            torch.ones_like(m))
            z, _ = as_channels(x * r.conj(), self.channels, where)
        shift = None
        if self.center:
            # per-sample (per-channel) mean, added back after: the map then commutes with
            # adding a constant (along the mean phase) as well as with scaling
            shift = z.mean(dim=(2, 3), keepdim=True)
        elif self.floor:
            # the floor-quantile of the (phase-turned) real part, where positive, becomes the
            # zero level: the darkest pixels of an image that has no dark background
            # (tissue filling the view) play the background the network knows
            flat = z[:, :1].flatten(1)
            k = max(1, math.ceil(self.floor * flat.shape[1]))
            a = flat.kthvalue(k, dim=1).values.clamp_min(0)
            shift = F.pad(a[:, None, None, None], (0, 0, 0, 0, 0, z.shape[1] - 1))
        if shift is not None:
            z = z - shift
        # per-sample RMS, floored before the root so that an all-zero input maps to zero
        # and its gradient stays finite (the root's slope is infinite at 0)
        s = z.pow(2).mean(dim=(1, 2, 3), keepdim=True).clamp_min(1e-24).sqrt()
        z = self.net(z / s) * s
        out = from_channels(z if shift is None else z + shift, x, batch)
        return out if r is None else out * r


def _add(new: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """``new + z``, into ``new`` (a tensor just computed, used nowhere else) when no graph is
    recorded and the dtypes agree: the same values, one large allocation fewer per call
    (fresh multi-megabyte buffers cost page faults on the CPU; about a tenth of the
    inference time of a network with coarse branches)."""
    if torch.is_grad_enabled() or new.dtype != z.dtype or new.shape != z.shape:
        return new + z
    return new.add_(z)


class _ResBlock(nn.Module):
    def __init__(self, features: int, kernel: int, norm: bool):
        super().__init__()
        pad = kernel // 2
        layers: list[nn.Module] = []
        for _ in range(2):
            layers += [nn.Conv2d(features, features, kernel, padding=pad, bias=not norm)]
            layers += [nn.BatchNorm2d(features)] if norm else []
            layers += [nn.ReLU(inplace=True)]
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return _add(self.body(z), z)


class _CoarseBranch(nn.Module):
    """Two ``kernel``\\ ×\\ ``kernel`` convolutions (ReLU between) on the feature maps averaged
    over ``factor`` × ``factor`` blocks, added back bilinearly upsampled: it sees ``factor``
    times farther than a convolution at full resolution for :math:`1/\\text{factor}^2` of its
    cost. Its last convolution starts at zero, so adding the branch leaves the map unchanged
    (a trained network gains coarse scales without losing what it learned)."""

    def __init__(self, features: int, kernel: int, factor: int):
        super().__init__()
        self.factor = factor
        pad = kernel // 2
        self.body = nn.Sequential(nn.Conv2d(features, features, kernel, padding=pad),
                                  nn.ReLU(inplace=True),
                                  nn.Conv2d(features, features, kernel, padding=pad))
        nn.init.zeros_(self.body[-1].weight)
        nn.init.zeros_(self.body[-1].bias)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        # ceil_mode: odd sizes keep their last row/column (a partial block averages what it has)
        g = F.avg_pool2d(h, self.factor, ceil_mode=True)
        g = self.body(g)
        return _add(F.interpolate(g, size=tuple(h.shape[-2:]), mode="bilinear",
                                  align_corners=False), h)


class ResNetProx(_ImageProx):
    """The ResNet proximal of Mardani et al., "Neural Proximal Gradient Descent for Compressive
    Imaging", NeurIPS 2018 (Sec. 5.1), and of their recurrent-GANCS paper, "Recurrent
    Generative Adversarial Networks for Proximal Learning and Automated Compressive Image
    Recovery" (Sec. 4.1, Fig. 2).

    .. math:: P(x) = x + H_3\\,\\sigma(H_2\\,\\sigma(H_1\\, G_{S-1} \\cdots G_1\\,
              R_B \\cdots R_1(C x))),
              \\qquad R_b(z) = z + \\sigma(\\mathrm{BN}(K_{b2}\\,
              \\sigma(\\mathrm{BN}(K_{b1} z)))),

    with :math:`C` a 3×3 convolution from the image channels to ``features`` maps,
    residual blocks :math:`R_b` of two ``kernel``\\ ×\\ ``kernel`` convolutions each followed
    by batch norm and ReLU :math:`\\sigma`, then three 1×1 convolutions :math:`H_1, H_2, H_3`
    (the first two with ReLU) back to the image channels. With ``scales`` :math:`S > 1`
    (an npgd addition, not in the papers), coarse branches
    :math:`G_s(z) = z + U_s K_{s2}\\,\\sigma(K_{s1} D_s z)` follow the blocks: :math:`D_s`
    averages :math:`2^s \\times 2^s` blocks, :math:`U_s` upsamples bilinearly, so the proximal
    sees aliasing and structure :math:`2^{S-1}` times farther for about
    :math:`\\sum_s 4^{-s}` more arithmetic (a U-Net's reach, as in Ronneberger et al.,
    "U-Net", MICCAI 2015, at the cost of a ResNet block); each :math:`K_{s2}` starts at zero.
    The outer skip ``x +`` (``residual``)
    makes the network learn the artefact to remove, which trains faster than learning the
    image; with ``normalize`` the map is applied at unit RMS (see the module docstring).

    Parameters
    ----------
    features : int
        Feature maps per convolution (the papers: 128).
    blocks : int
        Residual blocks (the papers' 10 copies × 1 RB proximal has ``blocks=1``; their deep
        ResNet baseline has 10).
    kernel : int
        Odd kernel size of the residual convolutions.
    channels : int
        2 for complex images (real, imaginary), 1 for real ones.
    norm, residual, normalize : bool
        Batch norm in the blocks; outer skip connection; per-sample scale (and, for complex
        images, global phase) normalisation.
    scales : int
        Resolutions the proximal works at: 1 (the papers' proximal) or more, each a coarse
        branch at half the previous resolution after the residual blocks.
    floor : float
        A quantile :math:`q` in [0, 0.5). With ``normalize`` and :math:`q > 0`, the
        :math:`q`-quantile :math:`a` of each sample's real part (complex images: after the
        phase turn) is, where positive, removed before the network and restored after,
        :math:`P(x) = a + s\\,N((x - a)/s)`: the darkest pixels of an image without a dark
        background (tissue filling the view) become the zero level that the network knows
        from backgrounds, and the map commutes with adding a constant to such an image;
        images with a dark background (:math:`a \\le 0`) are mapped as with :math:`q = 0`
        (an npgd addition).
    center : bool
        With ``normalize``, also remove each sample's mean :math:`m` before the network and
        restore it after, :math:`P(x) = m + s\\,N((x - m)/s)` with :math:`s` the RMS of
        :math:`x - m` (complex images: after the phase turn, so :math:`m` lies along the
        mean phase). The map then commutes with :math:`x \\mapsto a + bx` (:math:`b > 0`, and
        any complex :math:`b` with :math:`a` along the mean phase), and an image with a large
        offset and little contrast is seen at full contrast: without it the error of the
        network, relative to the RMS of its input, does not shrink with the contrast. It
        also hides the zero level, which MR magnitude images carry (an npgd addition; the
        docs page "The general MRI model" has what it did there).

    Examples
    --------
    >>> import torch
    >>> from npgd import priors
    >>> P = priors.ResNetProx(features=8)
    >>> x = torch.randn(3, 16, 12, dtype=torch.complex64)
    >>> P(x, 1.0).shape, P(x, 1.0).dtype
    (torch.Size([3, 16, 12]), torch.complex64)
    >>> sum(p.numel() for p in P.parameters())
    1498
    >>> Q = priors.ResNetProx(features=8, scales=3)   # coarse branches start at zero:
    >>> Q.load_state_dict(P.state_dict(), strict=False).unexpected_keys
    []
    >>> bool(torch.equal(P(x, 1.0), Q(x, 1.0)))       # the same map as P until trained
    True
    >>> C = priors.ResNetProx(features=8, channels=1, center=True)
    >>> _ = torch.nn.init.normal_(C.tail[-1].weight)  # any weights: C(a + b x) = a + b C(x)
    >>> v = torch.rand(2, 16, 12)
    >>> bool(torch.allclose(C(0.7 + 0.1 * v, 1.0), 0.7 + 0.1 * C(v, 1.0), atol=1e-5))
    True
    >>> Fl = priors.ResNetProx(features=8, channels=1, floor=0.01)
    >>> _ = Fl.load_state_dict(C.state_dict())
    >>> bright = 0.5 + v                                # no dark pixels: an offset commutes
    >>> bool(torch.allclose(Fl(bright + 2.0, 1.0), Fl(bright, 1.0) + 2.0, atol=1e-5))
    True
    >>> P1 = priors.ResNetProx(features=8, channels=1)
    >>> _ = P1.load_state_dict(C.state_dict())
    >>> dark = torch.nn.functional.pad(v, (2, 2, 2, 2))  # a dark border: as without floor
    >>> bool(torch.equal(Fl(dark, 1.0), P1(dark, 1.0)))
    True
    """

    def __init__(
        self,
        features: int = 128,
        blocks: int = 1,
        kernel: int = 3,
        channels: int = 2,
        norm: bool = True,
        residual: bool = True,
        normalize: bool = True,
        scales: int = 1,
        center: bool = False,
        floor: float = 0.0,
    ):
        super().__init__()
        for name, v in [("features", features), ("blocks", blocks), ("channels", channels)]:
            check_int("ResNetProx", name, v)
        check_int("ResNetProx", "scales", scales, 1, 8)
        if check_int("ResNetProx", "kernel", kernel) % 2 == 0:
            raise ValueError(f"ResNetProx: kernel must be an odd int >= 1, got {kernel!r}")
        if not isinstance(center, bool):
            raise TypeError(f"ResNetProx: center must be True or False, got {center!r}")
        if center and not normalize:
            raise ValueError("ResNetProx: center=True needs normalize=True (the mean is "
                             "removed and restored by the normalisation)")
        floor = check_floor("ResNetProx", floor)
        if floor and (center or not normalize):
            raise ValueError("ResNetProx: floor > 0 needs normalize=True and center=False (one "
                             "level is removed: the mean or the floor)")
        self.channels, self.residual, self.normalize = channels, residual, normalize
        self.center, self.floor = center, floor
        self.head = nn.Conv2d(channels, features, 3, padding=1)
        self.blocks = nn.Sequential(*[_ResBlock(features, kernel, norm) for _ in range(blocks)])
        self.coarse = nn.Sequential(*[_CoarseBranch(features, kernel, 2**s)
                                      for s in range(1, scales)])
        self.tail = nn.Sequential(
            nn.Conv2d(features, features, 1), nn.ReLU(inplace=True),
            nn.Conv2d(features, features, 1), nn.ReLU(inplace=True),
            nn.Conv2d(features, channels, 1),
        )
        if residual:
            # start as the identity map: the untrained network is plain gradient descent
            nn.init.zeros_(self.tail[-1].weight)
            nn.init.zeros_(self.tail[-1].bias)

    def net(self, z: torch.Tensor) -> torch.Tensor:
        """The map of the class docstring on channel images ``(N, C, H, W)`` (without the
        outer ``z +`` when ``residual`` is off), without the normalisation of
        :meth:`forward`."""
        out = self.tail(self.coarse(self.blocks(self.head(z))))
        return z + out if self.residual else out

    @property
    def scales(self) -> int:
        """The resolutions the proximal works at (1 + its coarse branches)."""
        return len(self.coarse) + 1

    @property
    def norm(self) -> bool:
        """Whether the residual blocks hold batch norm."""
        return any(isinstance(m, nn.BatchNorm2d) for m in self.blocks.modules())

    def fold_norm(self) -> ResNetProx:
        """A copy without batch norm that computes this module's eval-mode map: each
        :math:`\\mathrm{BN}(K z) = \\gamma (K z - \\mu)/\\sqrt{v + \\epsilon} + \\beta`, with
        its running mean :math:`\\mu` and variance :math:`v`, becomes one convolution
        :math:`K' z + b'` with :math:`K' = (\\gamma/\\sqrt{v+\\epsilon}) K` (per output
        channel) and :math:`b' = \\beta - \\gamma\\mu/\\sqrt{v+\\epsilon}`. The copy is
        faster, and trains and evaluates alike (no batch statistics). Without batch norm the
        copy is a plain copy.

        Examples
        --------
        >>> import torch
        >>> p = ResNetProx(features=4, channels=1).eval()
        >>> q = p.fold_norm()
        >>> p.norm, q.norm
        (True, False)
        >>> x = torch.rand(2, 8, 8)
        >>> bool(torch.allclose(p(x, 1.0), q(x, 1.0), atol=1e-6))
        True
        """
        head = self.head  # blocks >= 1 (checked in __init__): the first conv has the kernel
        out = ResNetProx(features=head.out_channels, blocks=len(self.blocks),
                         kernel=self.blocks[0].body[0].kernel_size[0], channels=self.channels,
                         norm=False, residual=self.residual, normalize=self.normalize,
                         scales=self.scales, center=self.center,
                         floor=self.floor).to(head.weight.device, head.weight.dtype)
        with torch.no_grad():
            out.head.load_state_dict(self.head.state_dict())
            out.coarse.load_state_dict(self.coarse.state_dict())
            out.tail.load_state_dict(self.tail.state_dict())
            for theirs, ours in zip(self.blocks, out.blocks, strict=True):
                convs = [m for m in ours.body if isinstance(m, nn.Conv2d)]
                pairs = [(m, theirs.body[i + 1]) for i, m in enumerate(theirs.body)
                         if isinstance(m, nn.Conv2d)]
                for dst, (src, bn) in zip(convs, pairs, strict=True):
                    if not isinstance(bn, nn.BatchNorm2d):  # no batch norm: copy
                        dst.load_state_dict(src.state_dict())
                        continue
                    g = bn.weight / torch.sqrt(bn.running_var + bn.eps)
                    dst.weight.copy_(src.weight * g[:, None, None, None])
                    bias = src.bias if src.bias is not None else torch.zeros_like(g)
                    dst.bias.copy_(bn.bias + g * (bias - bn.running_mean))
        return out.train(self.training)


class SwishProx(_ImageProx):
    """The single-nonlinear-layer proximal of the super-resolution experiment of Mardani et al.,
    "Neural Proximal Gradient Descent for Compressive Imaging", NeurIPS 2018 (Sec. 5.3).

    .. math:: P(x) = \\operatorname{swish}(W_L \\cdots W_2 W_1 x), \\qquad
              \\operatorname{swish}(z) = z\\,\\operatorname{sigmoid}(z),

    ``layers`` linear convolutions of size ``kernel`` (the paper: 5 layers, kernel 8 or 32,
    no nonlinearity between them), so the map is :math:`\\sigma(Wx)` for one convolution
    :math:`W`, the form their contraction analysis (eq. 6, 11-14) studies. Even kernels are
    padded asymmetrically to keep the image size.

    Examples
    --------
    >>> import torch
    >>> from npgd import priors
    >>> P = priors.SwishProx(kernel=8, features=4, channels=1)
    >>> P(torch.rand(2, 16, 16), 1.0).shape
    torch.Size([2, 16, 16])
    """

    def __init__(
        self,
        kernel: int = 8,
        features: int = 64,
        layers: int = 5,
        channels: int = 1,
        normalize: bool = True,
    ):
        super().__init__()
        for name, v in [("kernel", kernel), ("features", features), ("layers", layers),
                        ("channels", channels)]:
            check_int("SwishProx", name, v)
        self.channels, self.normalize = channels, normalize
        widths = [channels] + [features] * (layers - 1) + [channels]
        self.convs = nn.ModuleList(
            nn.Conv2d(a, b, kernel) for a, b in zip(widths[:-1], widths[1:], strict=True)
        )
        lo = (kernel - 1) // 2
        self._pad = (lo, kernel - 1 - lo, lo, kernel - 1 - lo)

    def net(self, z: torch.Tensor) -> torch.Tensor:
        """:math:`\\sigma(W z)` on channel images ``(N, C, H, W)``, the linear layers
        zero-padded to keep the size, without the normalisation of :meth:`forward`."""
        for conv in self.convs:
            z = conv(nn.functional.pad(z, self._pad))
        return nn.functional.silu(z)
