"""Problems: tasks, sampling masks, data, metrics.

- :mod:`npgd.problems.mri`: variable-density and line masks, measurement simulation.
- :mod:`npgd.problems.data`: the embedded ch2better brain sample (test split: MNI z >= +10 mm),
  NIfTI and fastMRI readers, BART ``.cfl`` files, random phantoms.
- :mod:`npgd.problems.metrics`: SNR (the seeds' definition), PSNR, SSIM, NRMSE.
- :mod:`npgd.problems.experiments`: methods side by side (tables, Fig. 3-style figures).
- :mod:`npgd.problems.training` (with the optional LSGAN term of
  :mod:`npgd.problems.adversarial`), :func:`pretrained` and the ``npgd`` console script
  (:mod:`npgd.problems.cli`) need the ``torch`` extra and are imported on first use.
"""

from npgd.problems import data, experiments, metrics, mri

__all__ = ["data", "experiments", "metrics", "mri", "pretrained", "training"]


def __getattr__(name: str):
    # Torch is an optional dependency: training and the shipped models import it when asked.
    if name == "pretrained":
        from npgd.problems.zoo import pretrained

        return pretrained
    if name == "training":
        import importlib

        return importlib.import_module("npgd.problems.training")
    raise AttributeError(f"module 'npgd.problems' has no attribute {name!r}")
