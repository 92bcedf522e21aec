"""Problems: tasks, sampling masks, data, metrics.

- :mod:`npgd.problems.mri`: variable-density and line masks, measurement simulation.
- :mod:`npgd.problems.data`: the embedded ch2better brain sample (test split: MNI z >= +10 mm),
  NIfTI and fastMRI readers, BART ``.cfl`` files, random phantoms.
- :mod:`npgd.problems.metrics`: SNR (the seeds' definition), PSNR, SSIM, NRMSE.
"""

from npgd.problems import data, metrics, mri

__all__ = ["data", "metrics", "mri"]
