"""npgd.models.architecture and save_model: a built or adapted network written as a
checkpoint that load_model, npgd eval --checkpoint and npgd train --init read back."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from npgd import experiments, models  # noqa: E402
from npgd.models import (  # noqa: E402
    architecture,
    build_model,
    load_checkpoint,
    load_model,
    save_model,
)
from npgd.problems import mri  # noqa: E402


@pytest.mark.parametrize("cfg", [
    {"features": 6, "blocks": 1, "iters": 2, "shared": True, "norm": True},
    {"features": 5, "blocks": 3, "iters": 3, "shared": False, "norm": False},
    {"features": 4, "blocks": 2, "iters": 2, "shared": True, "norm": False,
     "data_consistency": "hard"},
    {"features": 4, "blocks": 1, "iters": 2, "shared": False, "task": "sr", "factor": 3},
])
def test_save_then_load_gives_the_same_network(tmp_path, cfg):
    torch.manual_seed(0)
    net = build_model(cfg)
    with torch.no_grad():  # non-default weights everywhere, batch-norm statistics included
        for p in net.parameters():
            p.add_(0.01 * torch.randn_like(p))
        for b in net.buffers():
            if b.is_floating_point():
                b.add_(0.1)
    arch = architecture(net)
    for k in ("features", "blocks", "iters", "shared"):
        assert arch[k] == cfg[k]
    assert arch["task"] == cfg.get("task", "mri")
    path = tmp_path / "sub" / "m.pt"
    save_model(net, path, factor=cfg.get("factor"), note="test", steps=[1, 2])
    back = load_model(path)
    a, b = net.state_dict(), back.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    state = load_checkpoint(path)
    assert state["info"] == {"note": "test", "steps": [1, 2]}
    assert state["config"].get("factor") == cfg.get("factor")
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["m.pt"]  # no temporary left
    if arch["task"] == "mri":
        rng = np.random.default_rng(0)
        A, y = mri.simulate(rng.random((1, 16, 12), dtype=np.float32),
                            rng.random((1, 16, 12)) < 0.5)
        np.testing.assert_array_equal(experiments.neural(net.eval())(A, y),
                                      experiments.neural(back)(A, y))


def test_save_model_errors(tmp_path):
    mri_net = build_model({"features": 4, "iters": 2})
    sr_net = build_model({"features": 4, "iters": 2, "task": "sr", "factor": 2})
    with pytest.raises(ValueError, match="factor is for super-resolution"):
        save_model(mri_net, tmp_path / "a.pt", factor=2)
    with pytest.raises(ValueError, match="save_model: factor must be an int"):
        save_model(sr_net, tmp_path / "b.pt")
    with pytest.raises(TypeError, match="net must be a NeuralPGD"):
        save_model(torch.nn.Linear(2, 2), tmp_path / "c.pt")
    assert not list(tmp_path.iterdir())


def test_average_models_is_the_weighted_mean_of_the_parameters():
    torch.manual_seed(0)
    a, b = (models.build_model({"features": 4, "iters": 2, "shared": False}) for _ in range(2))
    before = {k: v.clone() for k, v in a.state_dict().items()}
    soup = models.average_models([a, b], [0.25, 0.75])
    for k, v in soup.state_dict().items():
        if v.is_floating_point():
            torch.testing.assert_close(v, 0.25 * a.state_dict()[k] + 0.75 * b.state_dict()[k])
        else:  # batch-norm counters: the first network's
            assert torch.equal(v, a.state_dict()[k])
    assert all(torch.equal(v, a.state_dict()[k]) for k, v in before.items())  # inputs kept
    assert not soup.training and soup is not a
    same = models.average_models([a, a, a])
    assert all(torch.equal(v, a.state_dict()[k]) for k, v in same.state_dict().items())


def test_average_models_refuses_what_does_not_average():
    a = models.build_model({"features": 4, "iters": 2})
    with pytest.raises(ValueError, match=r"nets\[1\] has architecture .*only networks of one"):
        models.average_models([a, models.build_model({"features": 6, "iters": 2})])
    with pytest.raises(ValueError, match="weights must be 2 non-negative numbers summing to 1"):
        models.average_models([a, a], [0.7, 0.7])
    with pytest.raises(ValueError, match="weights must be 2"):
        models.average_models([a, a], [1.5, -0.5])
    with pytest.raises(TypeError, match="two or more NeuralPGD"):
        models.average_models([a])
