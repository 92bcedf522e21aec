"""The measurement helpers of scripts/conditions.py (scan-like small matrices) and
scripts/mask_draws.py (the tuned CS weights read back from the generalization page)."""

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


@pytest.fixture(scope="module")
def scripts():
    sys.path.insert(0, str(SCRIPTS))
    try:
        import conditions
        import cross_dataset
        import mask_draws
        yield conditions, cross_dataset, mask_draws
    finally:
        sys.path.remove(str(SCRIPTS))


def test_tight_field_of_view_crops_to_the_object_then_to_the_side_in_k_space(scripts):
    conditions = scripts[0]
    x = np.zeros((2, 50, 40), np.float32)
    x[0, 10:30, 5:25] = 1.0      # a 20 x 20 object in a larger, empty field of view
    x[1, 12:28, 7:23] = 3.0      # the second slice's object inside the first one's box
    y = conditions.tight_field_of_view(x, 10)
    assert y.shape == (2, 10, 10) and y.dtype == np.float32
    # the object now fills the field of view: the first slice is flat (only its DC is left
    # besides ringing), brighter inside than at the border for the smaller second object
    assert np.allclose(y[0], y[0].mean(), rtol=0.2)
    assert y[1, 5, 5] > 2 * y[1, 0, 0]
    # a non-square box keeps its aspect ratio, both sides even
    z = conditions.tight_field_of_view(x[:1, :, :], 15)
    assert z.shape == (1, 14, 14)
    x2 = np.zeros((1, 60, 60), np.float32)
    x2[0, 10:50, 20:40] = 1.0    # 40 x 20
    assert conditions.tight_field_of_view(x2, 16).shape == (1, 16, 8)


def test_edge_is_not_with_scan_like(scripts, capsys):
    conditions = scripts[0]
    with pytest.raises(SystemExit):
        conditions.main(["mri-general", "--scan-like", "--edge"])
    assert "--edge: not with --scan-like" in capsys.readouterr().err


def test_mask_draws_reads_a_tuned_weight_pair_for_every_row_of_the_page(scripts):
    _, cross_dataset, mask_draws = scripts
    page = Path(__file__).resolve().parents[1] / "docs" / "generalization.rst"
    w = mask_draws.page_weights(page)
    rows = {(s, c) for s, _, _ in cross_dataset.SOURCES for c, _ in cross_dataset.CONDITIONS}
    assert set(w) == rows
    for pair in w.values():
        assert set(pair) == {"CS-WV", "CS-TV"}
        assert all(0 < v < 1 for v in pair.values())
