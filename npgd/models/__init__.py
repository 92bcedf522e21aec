"""Models: checkpoint files, building a :class:`~npgd.solvers.NeuralPGD` from its config,
and the shipped trained models.

- :mod:`npgd.models.checkpoint`: the format tag, atomic save, a load that never runs code.
- :mod:`npgd.models.zoo`: :func:`build_model`, :func:`model_from_state`, :func:`load_model`,
  :func:`pretrained`, :func:`average_models` and the weights in ``npgd/models/weights``.

This layer needs the ``torch`` extra. It sits below :mod:`npgd.problems` (whose
``pretrained`` delegates here) and imports nothing from ``problems``, ``train``,
``experiments`` or the CLI.
"""

from npgd.models.checkpoint import FORMAT, load_checkpoint, save_checkpoint
from npgd.models.zoo import (
    MODELS,
    architecture,
    average_models,
    build_model,
    checkpoint_state,
    fold_batch_norm,
    load_model,
    model_from_state,
    pretrained,
    save_model,
)

__all__ = ["FORMAT", "MODELS", "architecture", "average_models", "build_model", "checkpoint_state",
           "fold_batch_norm", "load_checkpoint", "load_model", "model_from_state", "pretrained",
           "save_checkpoint", "save_model"]
