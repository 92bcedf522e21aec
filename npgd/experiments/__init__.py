"""Experiments: methods side by side on the same images and masks, as tables and figures.

- :mod:`npgd.experiments.compare`: CS-WV, CS-TV and a trained network on one set of test
  images (:func:`compare`, :func:`figure`), the functions behind ``npgd demo``.
- :mod:`npgd.experiments.evaluate`: ``npgd eval`` on any file (readers, noise, masks).
- :mod:`npgd.experiments.tune`: CS weights tuned on calibration slices.
- :mod:`npgd.experiments.kcv`: the method and CS weight chosen without a reference, by
  k-space cross-validation (``npgd eval --auto``).
- :mod:`npgd.experiments.sweep`: ``npgd eval --sweep``, one model across conditions.
- :mod:`npgd.experiments.sr_eval`: ``npgd eval --task sr``, a super-resolution model against
  bicubic and TV on any images.
"""

from npgd.experiments.compare import (
    CS_TV_REL,
    CS_WV_REL,
    compare,
    compare_measured,
    cs_tv,
    cs_wv,
    figure,
    format_table,
    neural,
    new_figure,
    save_figure,
    test_images,
    wavelet_grid,
)

__all__ = ["CS_TV_REL", "CS_WV_REL", "compare", "compare_measured", "cs_tv", "cs_wv", "figure",
           "format_table", "neural", "new_figure", "save_figure", "test_images", "wavelet_grid"]
