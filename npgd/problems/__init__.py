"""Problems: tasks, sampling masks, data, metrics.

- :mod:`npgd.problems.mri`: variable-density and line masks, measurement simulation.
- :mod:`npgd.problems.data`: the embedded ch2better brain sample (test split: MNI z >= +10 mm),
  random phantoms.
- :mod:`npgd.problems.readers`: images from NIfTI, DICOM, NumPy, fastMRI and BART files
  (``io`` extra for the first, second and fourth); :mod:`npgd.problems.kspace` and
  :mod:`npgd.problems.coils`: multi-coil k-space files and coil sensitivities.
- :mod:`npgd.problems.metrics`: SNR (as defined by Mardani et al., "Neural Proximal Gradient
  Descent for Compressive Imaging", NeurIPS 2018), PSNR, SSIM, NRMSE.
- :func:`pretrained`: a shipped trained model (:func:`npgd.models.zoo.pretrained`; needs the
  ``torch`` extra, imported on first use).

Training moved to :mod:`npgd.train` and checkpoint files to :mod:`npgd.models`; the
side-by-side comparisons are :mod:`npgd.experiments` and the console script :mod:`npgd.cli`.
"""

from typing import Any

from npgd.problems import data, metrics, mri, readers

__all__ = ["data", "metrics", "mri", "pretrained", "readers"]


def pretrained(name: str | None = None, map_location: Any = "cpu") -> Any:
    """A shipped, trained :class:`npgd.solvers.NeuralPGD`, in eval mode: without a name the
    default general MRI model ``"mri-general"``, or ``"mri-brain-5x"`` (see
    :func:`npgd.models.zoo.pretrained`; Torch is imported on this first use).

    Examples
    --------
    >>> from npgd import problems
    >>> problems.pretrained().iters
    12
    >>> problems.pretrained("mri-brain-5x").iters
    10
    """
    from npgd.models.zoo import pretrained as load

    return load(name, map_location)
