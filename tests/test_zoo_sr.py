"""The shipped super-resolution model: loads, runs through the pgd loop, is refused for MRI."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from npgd import linops, solvers  # noqa: E402
from npgd.cli import main  # noqa: E402
from npgd.models import pretrained  # noqa: E402
from npgd.problems import metrics, sr  # noqa: E402


def test_sr2x_beats_block_replication_on_a_training_crop():
    # a training image (never a held-out one): the model must improve on the adjoint's
    # block replication, the starting point of its recursion
    x = torch.from_numpy(sr.training_crops(64)[:2].astype(np.float32))
    A = linops.Downsample((64, 64), 2)
    net = pretrained("sr-2x")
    with torch.no_grad():
        xh = net(A, A(x))
        same = solvers.pgd(A, net.prox, A(x), iters=net.iters, step=net.step)
    assert torch.equal(xh, same)
    blocks = 4 * A.H(A(x))  # Downsample averages 2x2 blocks: A^H y / (1/4) repeats them
    assert (metrics.psnr(x.numpy(), xh.numpy()) > metrics.psnr(x.numpy(), blocks.numpy()) + 1).all()


def test_sr_model_is_refused_for_mri(capsys, tmp_path):
    with pytest.raises(ValueError, match="task 'sr'.*expected one for 'mri'"):
        pretrained("sr-2x", task="mri")
    assert main(["eval", "--model", "sr-2x", "--data", "builtin:brain", "--slices", "1",
                 "--no-classic", "--no-figure", "--out", str(tmp_path / "e")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["npgd: error: sr-2x is a model for task 'sr' (factor 2), expected one for "
                   "'mri' (npgd train --task)"]
