"""``docs/integrations/lightning.md`` run as written: Layca and ``OneCycleLR`` from ``configure_optimizers``, a
resume with ``ckpt_path=`` that continues the uninterrupted run, the rotation monitor as a ``Callback``."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("pytorch_lightning", reason="the Lightning page needs pytorch-lightning (the [integrations] extra)")

from tests.integrations import pages  # noqa: E402


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path_factory.mktemp("lightning"))
        yield pages.run("lightning.md")


def loss(model, page):
    with torch.no_grad():
        return float(torch.nn.functional.cross_entropy(model.net(page["x"]), page["y"]))


def test_layca_from_configure_optimizers_trains_and_keeps_the_layer_norms(page):
    model, steps = page["model"], page["steps"]
    page["pl"].seed_everything(0)
    assert loss(model, page) < 0.5 * loss(page["Classifier"](steps), page)
    assert isinstance(page["trainer"].optimizers[0], page["layca_torch"].Layca)
    monitor = page["monitor"]
    assert [name for name, _ in monitor.layers] == ["net.0.weight", "net.2.weight", "net.4.weight"]
    assert len(monitor.history.steps) == steps and monitor.history.steps[-1] == steps
    assert min(monitor.history.distances[-1]) > 0.05  # every layer turned
    for (name, p), w0 in zip(monitor.layers, monitor.initial):
        assert float(p.detach().norm()) == pytest.approx(float(w0.norm()), rel=1e-4), name


def test_resume_with_ckpt_path_continues_the_uninterrupted_run(page):
    model, resumed = page["model"], page["resumed_model"]
    for p, q in zip(model.parameters(), resumed.parameters()):
        torch.testing.assert_close(q, p, rtol=1e-5, atol=1e-6)
    optimizer, resumed_optimizer = page["trainer"].optimizers[0], page["resumed"].optimizers[0]
    state, resumed_state = optimizer.state_dict()["state"], resumed_optimizer.state_dict()["state"]
    assert state.keys() == resumed_state.keys() and state
    for index, values in state.items():
        for key, value in values.items():
            torch.testing.assert_close(resumed_state[index][key], value, rtol=1e-5, atol=1e-6, msg=key)
    assert resumed_optimizer.param_groups[0]["lr"] == pytest.approx(optimizer.param_groups[0]["lr"])
    monitor, resumed_monitor = page["monitor"], page["resumed_monitor"]
    assert resumed_monitor.history.steps == monitor.history.steps == list(range(1, page["steps"] + 1))
    np.testing.assert_allclose(resumed_monitor.history.distances, monitor.history.distances, rtol=1e-5, atol=1e-7)
