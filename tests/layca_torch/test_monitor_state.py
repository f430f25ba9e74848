"""RotationMonitor across a checkpoint resume, and embedding tables as layers."""

import collections

import pytest

torch = pytest.importorskip("torch")

import layca_torch  # noqa: E402
from tests.layca_torch.test_optimizer import make_model, train  # noqa: E402


def test_monitor_state_dict_continues_the_curves_after_a_resume(tmp_path):
    model = make_model()
    optimizer = layca_torch.Layca(model.parameters(), lr=0.2)
    monitor = layca_torch.RotationMonitor(model)
    monitor.record(step=0, epoch=0)
    train(model, optimizer, steps=3)
    monitor.record(step=3, epoch=1)
    torch.save({"model": model.state_dict(), "monitor": monitor.state_dict()}, tmp_path / "checkpoint.pt")
    train(model, optimizer, steps=3, seed=2)
    monitor.record(step=6, epoch=2)

    resumed = make_model(seed=7)  # another random initialization, as in a new process
    checkpoint = torch.load(tmp_path / "checkpoint.pt")
    resumed.load_state_dict(checkpoint["model"])
    resumed_monitor = layca_torch.RotationMonitor(resumed)
    resumed_monitor.load_state_dict(checkpoint["monitor"])
    train(resumed, layca_torch.Layca(resumed.parameters(), lr=0.2), steps=3, seed=2)
    resumed_monitor.record(step=6, epoch=2)

    assert resumed_monitor.history.epochs == [0.0, 1.0, 2.0]
    assert resumed_monitor.history.distances[-1] == pytest.approx(monitor.history.distances[-1], abs=1e-6)
    assert min(monitor.history.distances[-1]) > 0.01


def test_monitor_state_from_another_model_is_refused():
    monitor = layca_torch.RotationMonitor(make_model())
    other = layca_torch.RotationMonitor(torch.nn.Sequential(torch.nn.Linear(3, 3)))
    with pytest.raises(ValueError, match="same layer selection"):
        other.load_state_dict(monitor.state_dict())
    with pytest.raises(ValueError, match="'history'"):
        monitor.load_state_dict({})


def test_embedding_tables_are_left_out_unless_included_in_one_line():
    layers = {"embed": torch.nn.Embedding(10, 4), "flat": torch.nn.Flatten(), "fc": torch.nn.Linear(8, 2)}
    model = torch.nn.Sequential(collections.OrderedDict(layers))
    with_embeddings = lambda name, p: p.ndim >= 2
    assert layca_torch.RotationMonitor(model).history.layer_names == ("fc.weight",)
    assert layca_torch.RotationMonitor(model, layers=with_embeddings).history.layer_names == (
        "embed.weight",
        "fc.weight",
    )
    groups = layca_torch.layca_param_groups(model)
    assert groups[0]["param_names"] == ["fc.weight"] and "embed.weight" in groups[1]["param_names"]
    groups = layca_torch.layca_param_groups(model, include=("embedding",))
    assert groups[0]["param_names"] == ["embed.weight", "fc.weight"]
