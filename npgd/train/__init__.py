"""Training neural proximal gradient descent (needs the ``torch`` extra).

- :mod:`npgd.train.config`: :class:`TrainConfig`, everything a run depends on.
- :mod:`npgd.train.data`: :class:`TrainingData` (images, the per-step sample) and
  :func:`sample_mask`.
- :mod:`npgd.train.losses`: the (P2) objective and the LSGAN costs;
  :mod:`npgd.train.adversarial`: the LSGAN :class:`Discriminator`.
- :mod:`npgd.train.tasks`: what is inverted (:class:`~npgd.train.tasks.MRITask`,
  :class:`~npgd.train.tasks.SRTask`, or a task of your own).
- :mod:`npgd.train.loop`: :func:`train` (single process or DDP under ``torchrun``) and
  :func:`train_task` (the same loop on any task, network and image sampler).
- :mod:`npgd.train.adapt`: :func:`adapt`, scan-specific self-supervised fine-tuning of a
  trained network on the measured k-space it is to reconstruct (no reference images).

Checkpoint files and building a model from its config are :mod:`npgd.models` (the former
``npgd.problems.training`` was split between these two packages).
"""

from npgd.train.adapt import adapt, adapted
from npgd.train.adversarial import Discriminator
from npgd.train.config import TrainConfig
from npgd.train.data import NaturalImages, TrainingData, sample_mask
from npgd.train.loop import native_bf16, train, train_task
from npgd.train.losses import gan_weight_at, lsgan_d_loss, lsgan_g_loss, p2_loss

__all__ = ["Discriminator", "NaturalImages", "TrainConfig", "TrainingData", "adapt", "adapted",
           "gan_weight_at", "lsgan_d_loss", "lsgan_g_loss", "native_bf16", "p2_loss",
           "sample_mask", "train", "train_task"]
