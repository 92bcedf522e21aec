"""The shipped super-resolution models: they load, run through the pgd loop and are refused
for MRI."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from npgd import linops, solvers  # noqa: E402
from npgd.cli import main  # noqa: E402
from npgd.models import pretrained  # noqa: E402
from npgd.problems import metrics, sr  # noqa: E402


@pytest.mark.parametrize("factor", [2, 4])
def test_sr_model_beats_block_replication_and_bicubic_on_training_crops(factor):
    # training images (never held-out ones): the model must improve on the adjoint's block
    # replication, the starting point of its recursion, and on bicubic interpolation
    x = torch.from_numpy(sr.training_crops(64)[:2].astype(np.float32))
    A = linops.Downsample((64, 64), factor)
    net = pretrained(f"sr-{factor}x")
    with torch.no_grad():
        xh = net(A, A(x))
        same = solvers.pgd(A, net.prox, A(x), iters=net.iters, step=net.step)
    assert torch.equal(xh, same)
    # Downsample averages f x f blocks: A^H y / (1/f^2) repeats them
    blocks = factor**2 * A.H(A(x))
    cubic = sr.bicubic(A(x).numpy(), factor)
    got = metrics.psnr(x.numpy(), xh.numpy())
    # at 4x the texture of the grass crop is mostly gone: a smaller margin there
    margin = {2: 1.0, 4: 0.3}[factor]
    assert (got > metrics.psnr(x.numpy(), blocks.numpy()) + margin).all()
    assert (got > metrics.psnr(x.numpy(), cubic)).all()


def test_sr_model_is_refused_for_mri(capsys, tmp_path):
    with pytest.raises(ValueError, match="task 'sr'.*expected one for 'mri'"):
        pretrained("sr-2x", task="mri")
    assert main(["eval", "--model", "sr-2x", "--data", "builtin:brain", "--slices", "1",
                 "--no-classic", "--no-figure", "--out", str(tmp_path / "e")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["npgd: error: sr-2x is a model for task 'sr' (factor 2), expected one for "
                   "'mri' (npgd train --task)"]
