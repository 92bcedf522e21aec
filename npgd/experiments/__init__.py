"""Experiments: methods side by side on the same images and masks, as tables and figures.

- :mod:`npgd.experiments.compare`: CS-WV, CS-TV and a trained network on one set of test
  images (:func:`compare`, :func:`figure`), the functions behind ``npgd demo`` and
  ``npgd eval``.
"""

from npgd.experiments.compare import (
    CS_TV_REL,
    CS_WV_REL,
    compare,
    cs_tv,
    cs_wv,
    figure,
    format_table,
    neural,
    test_images,
)

__all__ = ["CS_TV_REL", "CS_WV_REL", "compare", "cs_tv", "cs_wv", "figure", "format_table",
           "neural", "test_images"]
