"""``docs/integrations/huggingface.md`` run as written: a small GPT-2 trained by the Hugging Face ``Trainer`` with
Layca by both routes, a checkpoint resumed exactly, the rotation monitor as a ``TrainerCallback``."""

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers", reason="the Hugging Face page needs transformers (the [integrations] extra)")
pytest.importorskip("accelerate", reason="the Hugging Face Trainer needs accelerate (the [integrations] extra)")

from tests.integrations import pages  # noqa: E402

PAGE = "huggingface.md"


def assert_trains_and_keeps_norms(losses, optimizer, monitor, steps):
    """The loss falls; Layca turns the layers the monitor follows, each keeps its first norm and has turned."""
    assert len(losses) == steps and np.mean(losses[-5:]) < 0.75 * np.mean(losses[:5])
    assert monitor.layers, "the monitor follows the layers"
    assert {id(p) for p in optimizer.layer_multipliers()} == {id(p) for _, p in monitor.layers}
    for (name, p), w0 in zip(monitor.layers, monitor.initial):
        assert float(p.detach().norm()) == pytest.approx(float(w0.norm()), rel=1e-4), name
    assert monitor.history.steps == list(range(1, steps + 1))
    assert min(monitor.history.distances[-1]) > 1e-3  # every layer turned


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path_factory.mktemp("hf"))
        yield pages.run(PAGE, "A model, data and a rotation callback", "Route 1: the optimizer and scheduler you build",
                        "Which tensors are layers", "Resume from a checkpoint")  # fmt: skip


def test_route_1_trains_keeps_the_layer_norms_and_monitors(page):
    first = page["trainer"]
    assert isinstance(first.optimizer.optimizer, page["layca_torch"].Layca)  # under Accelerate's wrapper
    assert_trains_and_keeps_norms(page["losses"], first.optimizer.optimizer, page["monitor"], page["steps"])


def test_the_page_shows_what_describe_prints(page):
    shown = pages.output(PAGE, "Which tensors are layers")
    assert shown == page["layca_torch"].describe(page["small_gpt2"]()) + "\n"
    assert "8 layer, " in shown  # the two blocks: four dense weights each


def test_resume_from_checkpoint_continues_the_uninterrupted_run(page):
    first, resumed, half = page["trainer"], page["resumed"], page["steps"] // 2
    assert len(page["resumed_losses"]) == page["steps"]  # 20 steps in the checkpoint's history, 20 run
    assert page["resumed_losses"][half:] == pytest.approx(page["losses"][half:], rel=1e-5, abs=1e-6)
    for p, q in zip(first.model.parameters(), resumed.model.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)
    state, resumed_state = first.optimizer.state_dict()["state"], resumed.optimizer.state_dict()["state"]
    assert state.keys() == resumed_state.keys()
    for index, values in state.items():
        for key, value in values.items():
            torch.testing.assert_close(resumed_state[index][key], value, rtol=1e-5, atol=1e-6, msg=key)
    monitor, resumed_monitor = page["monitor"], page["resumed_monitor"]
    assert resumed_monitor.history.steps == monitor.history.steps == list(range(1, page["steps"] + 1))
    np.testing.assert_allclose(resumed_monitor.history.distances, monitor.history.distances, rtol=1e-5, atol=1e-7)


def test_route_2_the_trainer_builds_layca_from_the_class(tmp_path, monkeypatch):
    """With ``layers=model`` as the page gives it, Layca knows each parameter's module and does not warn that it
    judged the Trainer's nameless parameters by their shapes alone."""
    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        page = pages.run(PAGE, "A model, data and a rotation callback", "Route 2: the class and its keyword arguments")
    assert not [w for w in caught if "judged them by shape alone" in str(w.message)]
    trainer = page["trainer"]
    assert isinstance(trainer.optimizer.optimizer, page["layca_torch"].Layca)  # under Accelerate's wrapper
    assert {g["weight_decay"] for g in trainer.optimizer.param_groups} == {0.0, 0.01}
    assert_trains_and_keeps_norms(page["class_losses"], trainer.optimizer.optimizer, page["monitor"], page["steps"])
