"""Trained models shipped with npgd (``npgd/problems/models``), loaded without executing code."""

from __future__ import annotations

from importlib import resources
from typing import Any

__all__ = ["MODELS", "checkpoint_state", "pretrained"]

#: name -> (file in ``npgd/problems/models``, what it is)
MODELS = {
    "mri-brain-5x": (
        "mri-brain-5x.pt",
        "NeuralPGD, 10 independent copies x 1 residual block (48 features), trained on CPU "
        "(3.7 h, three stages: shared weights, then untied) on the embedded ch2better training "
        "slices (MNI z < +10 mm) with fresh 5x variable-density masks; see "
        "npgd/problems/models/README.md",
    ),
}


def pretrained(name: str = "mri-brain-5x", map_location: Any = "cpu") -> Any:
    """A shipped, trained :class:`npgd.solvers.NeuralPGD`, in eval mode.

    ``"mri-brain-5x"``: single-coil brain MRI at 5x variable-density undersampling
    (:func:`npgd.problems.mri.vd_mask`), images of any size (it is convolutional and
    scale-equivariant). Its training command and validation figures are in the package's
    ``models/README.md`` and in the docs.

    Examples
    --------
    >>> from npgd import problems
    >>> net = problems.pretrained("mri-brain-5x")
    >>> net.iters, net.shared
    (10, False)
    """
    from npgd.problems.training import model_from_state

    return model_from_state(checkpoint_state(name, "pretrained"), name).to(map_location)


def checkpoint_state(name: str, caller: str = "checkpoint_state") -> dict:
    """The checkpoint dict (config, weights, validation figures) of the shipped model ``name``,
    read with ``torch.load(weights_only=True)``.

    Examples
    --------
    >>> checkpoint_state("mri-brain-5x")["config"]["features"] > 0
    True
    """
    if name not in MODELS:
        raise ValueError(f"{caller}: unknown model {name!r}; available: {sorted(MODELS)}")
    from npgd.problems.training import load_checkpoint

    with resources.as_file(resources.files("npgd.problems").joinpath("models", MODELS[name][0])) \
            as path:
        return load_checkpoint(path)
