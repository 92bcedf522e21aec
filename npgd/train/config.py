"""The configuration of a training run (stored in every checkpoint it writes)."""

from __future__ import annotations

import dataclasses

__all__ = ["TrainConfig"]


@dataclasses.dataclass
class TrainConfig:
    """Everything a training run depends on (stored in every checkpoint).

    Defaults are the seeds' (MRI, Sec. 5.2): 10 copies × 1 residual block of 128 features,
    shared weights, (P2) with :math:`\\beta = 0.75`, Adam (momentum 0.9) at learning rate
    :math:`10^{-5}` halved every 10k steps, mini-batch 2, a fresh 5× variable-density mask
    per sample. ``gan_weight`` > 0 adds the companion seed's LSGAN term
    (:mod:`npgd.train.losses`): the generator loss becomes
    :math:`(1 - w)\\,\\text{(P2)} + w\\,\\mathbb{E}[(1 - D(\\hat x))^2]` with :math:`w` ramped
    from 0 to ``gan_weight`` over ``gan_warmup`` steps (the seed: 0.1 after ~1000), and a
    :class:`~npgd.train.adversarial.Discriminator` trained on (P1.1) alongside.
    ``init`` starts a fresh run from the weights of a checkpoint (a path to a ``model.pt`` or
    ``last.pt``) or of a shipped model (a name in :data:`npgd.models.zoo.MODELS`) of the same
    architecture, with a fresh optimizer and schedule: fine-tuning, or a second schedule; a
    shared-weights checkpoint may also start a ``shared=False`` run, each copy from the shared
    proximal (the companion seed's Table 1: independent copies gain about 1 dB). ``amp``
    runs the network under bf16 autocast on CUDA, and on CPUs with native bf16 (AVX512-BF16 or
    AMX), where it doubles the training speed; the loss and the data steps stay in float32.
    """

    features: int = 128
    blocks: int = 1
    iters: int = 10
    shared: bool = True
    data_consistency: str = "gradient"
    data: str = "brain"
    shape: tuple[int, int] | None = None
    accel: float = 5.0
    mask: str = "vd"
    noise_std: float = 0.0
    val_slices: int = 6
    steps: int = 30000
    batch_size: int = 2
    lr: float = 1e-5
    lr_halve_every: int = 10000
    beta: float = 0.75
    amp: bool = True
    seed: int = 0
    val_every: int = 500
    ckpt_every: int = 500
    gan_weight: float = 0.0
    gan_warmup: int = 1000
    init: str | None = None

    def __post_init__(self) -> None:
        if self.shape is not None:
            self.shape = tuple(int(s) for s in self.shape)
        if self.mask not in ("vd", "radial", "lines"):
            raise ValueError(
                f"TrainConfig: mask must be 'vd', 'radial' or 'lines', got {self.mask!r}"
            )
        if not 0 <= self.beta <= 1:
            raise ValueError(f"TrainConfig: beta must be in [0, 1], got {self.beta!r}")
        if not 0 <= self.gan_weight < 1:
            raise ValueError(f"TrainConfig: gan_weight must be in [0, 1), got {self.gan_weight!r}")
        if isinstance(self.gan_warmup, bool) or not isinstance(self.gan_warmup, int) \
                or self.gan_warmup < 0:
            raise ValueError(f"TrainConfig: gan_warmup must be an int >= 0, got "
                             f"{self.gan_warmup!r}")
        for name in ("steps", "batch_size", "val_every", "ckpt_every", "lr_halve_every"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"TrainConfig: {name} must be an int >= 1, got {v!r}")
