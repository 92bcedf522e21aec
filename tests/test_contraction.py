"""Contraction analysis (eq. 10-14 of Mardani et al., NeurIPS 2018) and de-biasing."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from npgd import linops, priors, solvers
from npgd.experiments.contraction import Contraction, contraction, debias, figure, frozen_prox


class AlwaysOn(nn.Module):
    """A one-layer ReLU prox whose pre-activations stay positive: its masks never change, so
    the frozen map is the network itself."""

    def __init__(self, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.conv = nn.Conv2d(1, 1, 3, padding=1, bias=False)
        with torch.no_grad():
            self.conv.weight.mul_(0.3)

    def forward(self, x, step=None):
        return torch.relu(self.conv(x[:, None]) + 100.0)[:, 0] - 100.0


def _sr(n=2, size=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, size, size, generator=g)
    A = linops.Downsample((size, size), 2)
    return A, A(x), x


@settings(max_examples=9, deadline=None)
@given(seed=st.integers(0, 1000), shared=st.booleans(),
       kind=st.sampled_from(["swish", "resnet", "resnet-scales"]), iters=st.integers(2, 5))
def test_eq14_bound_holds_for_every_iteration(seed, shared, kind, iters):
    torch.manual_seed(seed)
    prox = (priors.SwishProx(kernel=3, features=2, layers=2) if kind == "swish"
            else priors.ResNetProx(features=4, channels=1, scales=2 if "scales" in kind else 1))
    with torch.no_grad():
        for prm in prox.parameters():  # leave ResNetProx's identity start
            prm.add_(0.1 * torch.randn_like(prm))
    net = solvers.NeuralPGD(prox, iters=iters, shared=shared, step=4.0).eval()
    A, y, x = _sr(seed=seed)
    c = contraction(net, A, y, x)
    lhs = c.nrmse[:, 1:]
    rhs = (c.eta1 + c.eta2) * c.nrmse[:, :-1] + c.xi[:, None]
    assert (lhs <= rhs + 1e-9).all()
    assert c.nrmse[:, -1].max() == 0 and (c.nrmse[:, 0] == 1).all()  # x_0 = 0, x_* = x_T
    assert (c.eta1 >= 0).all() and (c.eta2 >= 0).all()


def test_an_iterate_already_at_the_fixed_point_has_eta_zero():
    # the untrained ResNetProx is the identity, and 4 S^H is an exact inverse of the block
    # mean on block-constant images: x_1 = x_2 = ... = x_T
    net = solvers.NeuralPGD(priors.ResNetProx(features=4, channels=1), iters=3, step=4.0)
    A, y, x = _sr()
    c = contraction(net, A, y, x)
    assert (c.eta1[:, 1:] == 0).all() and (c.eta2[:, 1:] == 0).all()
    assert np.isfinite(c.eta1).all() and (c.nrmse[:, 1:] == 0).all()


def test_complex_mri_images_and_independent_copies():
    torch.manual_seed(1)
    net = solvers.NeuralPGD(priors.ResNetProx(features=4), iters=3, shared=False).eval()
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 16, 16, generator=g, dtype=torch.complex64)
    A = linops.MaskedFFT(torch.rand(16, 16, generator=g) < 0.5)
    c = contraction(net, A, A(x), x)
    assert c.eta1.shape == (2, 3) and np.isfinite(c.eta1).all() and np.isfinite(c.eta2).all()
    assert (c.nrmse[:, 1:] <= (c.eta1 + c.eta2) * c.nrmse[:, :-1] + c.xi[:, None] + 1e-9).all()


def test_masks_that_never_change_give_eta2_zero_and_eta1_the_linear_part():
    net = solvers.NeuralPGD(AlwaysOn(), iters=4, step=4.0)
    A, y, x = _sr()
    c = contraction(net, A, y)
    np.testing.assert_allclose(c.eta2, 0, atol=1e-12)
    # eta1 by hand: the linear part W (I - alpha A^H A) delta_t
    xs = [torch.zeros(2, 8, 8, dtype=torch.float64)]
    p = net.prox.double()
    for _ in range(4):
        z = xs[-1] + 4.0 * (A.H(y.double()) - A.N(xs[-1]))
        xs.append(p(z).detach())
    for t in range(4):
        d = xs[t] - xs[-1]
        v = d - 4.0 * A.N(d)
        lin = p.conv(v[:, None])[:, 0].detach()
        want = lin.flatten(1).norm(dim=1) / d.flatten(1).norm(dim=1)
        np.testing.assert_allclose(c.eta1[:, t], want.numpy(), rtol=1e-10)


def test_frozen_prox_is_affine_and_exact_at_its_point_but_not_elsewhere():
    torch.manual_seed(0)
    P = priors.ResNetProx(features=4, channels=1).double().eval()
    with torch.no_grad():
        for prm in P.parameters():
            prm.add_(0.1 * torch.randn_like(prm))  # leave the identity start
    z = torch.rand(2, 8, 8, dtype=torch.float64)
    F = frozen_prox(P, z)
    torch.testing.assert_close(F(z), P(z))
    u = z + torch.randn_like(z)
    assert not torch.allclose(F(u), P(u))
    with pytest.raises(ValueError, match="shape of z_star"):
        F(torch.rand(1, 8, 8, dtype=torch.float64))


def test_other_nonlinearities_and_plain_linear_maps_are_refused():
    class Tanh(nn.Module):
        def forward(self, x, step=None):
            return torch.relu(torch.tanh(3 * x) + 5) - 5

    class Linear(nn.Module):
        def forward(self, x, step=None):
            return 0.5 * x

    z = torch.rand(1, 8, 8, dtype=torch.float64)
    with pytest.raises(ValueError, match="not affine"):
        frozen_prox(Tanh(), z)
    with pytest.raises(ValueError, match="no relu"):
        frozen_prox(Linear(), z)
    with pytest.raises(TypeError, match="NeuralPGD"):
        contraction(AlwaysOn(), *_sr()[:2])
    net = solvers.NeuralPGD(AlwaysOn(), iters=2, step=4.0)
    A, y, _ = _sr()
    with pytest.raises(ValueError, match="x_true must have shape"):
        contraction(net, A, y, torch.zeros(3, 8, 8))


def test_debias_with_unchanging_masks_is_more_iterations_of_the_network():
    net = solvers.NeuralPGD(AlwaysOn(), iters=3, step=4.0)
    A, y, x = _sr()
    d = debias(net, A, y, x, iters=4)
    p = net.prox.double()
    with torch.no_grad():
        more = solvers.pgd(A, p, y.double(), step=4.0, iters=4, x0=d["x_T"])
    torch.testing.assert_close(d["x_debiased"], more)
    assert d["psnr_before"].shape == (2,) and np.isfinite(d["snr_after"]).all()


def test_debias_runs_the_frozen_affine_map_to_its_fixed_point():
    torch.manual_seed(3)
    net = solvers.NeuralPGD(priors.SwishProx(kernel=3, features=2, layers=2), iters=3,
                            step=4.0)
    A, y, x = _sr(seed=3)
    c = contraction(net, A, y, x, debias_iters=60)
    d = c.debiased
    assert d["step_last"].max() < 1e-3 * max(1.0, d["change"].max())
    assert (d["change"] > 0).all()


def test_table_and_figure():
    import matplotlib

    backend = matplotlib.get_backend()
    c = Contraction(np.array([[1.0, 0.5], [3.0, 0.5]]), np.full((2, 2), 0.1),
                    np.ones((2, 3)), np.ones((2, 3)), np.zeros(2))
    rows = c.table()
    assert [r["t"] for r in rows] == [0, 1]
    assert rows[0]["eta1"] == 2.0 and rows[0]["eta1_std"] == 1.0 and "nrmse_truth" in rows[0]
    fig = figure({"a": c, "b": c}, eta_of="a")
    assert len(fig.axes) == 2 and "(a)" in fig.axes[1].get_title()
    assert matplotlib.get_backend() == backend
    with pytest.raises(ValueError, match="eta_of"):
        figure({"a": c}, eta_of="z")


@pytest.mark.parametrize("argv,name", [(["--slices", "0"], "--slices"),
                                       (["--accel", "1"], "--accel"),
                                       (["--debias-iters", "-1"], "--debias-iters")])
def test_run_refuses_bad_options_before_any_work(argv, name, tmp_path):
    import argparse

    from npgd._util import UsageError
    from npgd.cli import main
    from npgd.experiments.contraction import add_arguments, run

    p = argparse.ArgumentParser()
    add_arguments(p)
    with pytest.raises(UsageError, match=name):
        run(p.parse_args(argv + ["--out", str(tmp_path / "o")]), log=lambda s: None)
    assert main(["contraction", *argv, "--out", str(tmp_path / "o")]) == 2  # usage error
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_cli_contraction_command(tmp_path):
    from npgd.cli import main
    from npgd.models import build_model
    from npgd.models.checkpoint import FORMAT, save_checkpoint

    cfg = {"features": 4, "blocks": 1, "iters": 2, "shared": False,
           "data_consistency": "gradient"}
    ckpt = tmp_path / "model.pt"
    save_checkpoint(ckpt, {"format": FORMAT, "config": cfg, "model": build_model(cfg).state_dict()})
    out = tmp_path / "out"
    assert main(["contraction", "--checkpoint", str(ckpt), "--slices", "1",
                 "--debias-iters", "1", "--out", str(out)]) == 0
    import json

    res = json.loads((out / "contraction.json").read_text())
    assert len(res["table"]) == 2 and (out / "contraction.png").stat().st_size > 0
    assert set(res["debias"]) >= {"snr_before", "snr_after", "psnr_before", "psnr_after"}
