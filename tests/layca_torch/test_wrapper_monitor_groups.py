"""LaycaWrapper, RotationMonitor and layca_param_groups."""

import math

import pytest

torch = pytest.importorskip("torch")

import layca_core  # noqa: E402
import layca_torch  # noqa: E402
from tests.layca_torch.test_optimizer import angle, make_model, train  # noqa: E402


def test_wrapping_plain_sgd_is_layca_sgd():
    wrapped_model, layca_model = make_model(dtype=torch.float64), make_model(dtype=torch.float64)
    inner = torch.optim.SGD([p for p in wrapped_model.parameters() if p.ndim >= 2], lr=0.5)
    train(wrapped_model, layca_torch.LaycaWrapper(inner, lr=0.1, alpha=-0.2), steps=5)
    layers = [p for p in layca_model.parameters() if p.ndim >= 2]
    train(layca_model, layca_torch.Layca([{"params": layers, "layca": True}], lr=0.1, alpha=-0.2), steps=5)
    for p, q in zip(wrapped_model.parameters(), layca_model.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-9, atol=1e-12)


def test_wrapping_adamw_turns_each_layer_by_arctan_lr_and_keeps_its_norm():
    model = make_model(dtype=torch.float64)
    layer, bias = model[3].weight, model[3].bias
    before, bias_before, norm = layer.detach().clone(), bias.detach().clone(), layer.norm().item()
    wrapped = layca_torch.LaycaWrapper(torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1), lr=0.05)
    train(model, wrapped, steps=1)
    assert angle(before, layer) == pytest.approx(math.atan(0.05), rel=1e-9)
    assert layer.norm().item() == pytest.approx(norm, rel=1e-12)
    assert not torch.equal(bias, bias_before)  # non-layers keep AdamW's own update
    restored = layca_torch.LaycaWrapper(torch.optim.AdamW(model.parameters()), lr=0.3)
    restored.load_state_dict(wrapped.state_dict())
    assert restored.param_groups[0]["layca_lr"] == 0.05 and restored.init_norms == wrapped.init_norms


def test_wrapper_without_layers_is_refused():
    with pytest.raises(ValueError, match="no Layca layer"):
        layca_torch.LaycaWrapper(torch.optim.SGD([torch.nn.Parameter(torch.ones(3))], lr=0.1))


class FakeWriter:
    def __init__(self):
        self.scalars = []

    def add_scalar(self, tag, value, step):
        self.scalars.append((tag, value, step))


@pytest.mark.parametrize("on_cpu", [True, False])
def test_monitor_records_cosine_distance_to_init(on_cpu):
    model = make_model()
    writer = FakeWriter()
    monitor = layca_torch.RotationMonitor(model, on_cpu=on_cpu, writer=writer)
    initial = [p.detach().clone() for p in model.parameters() if p.ndim >= 2]
    monitor.record(step=0, epoch=0)
    train(model, layca_torch.Layca(model.parameters(), lr=0.2), steps=4)
    monitor.record(step=4, epoch=1)
    expected = [
        float(layca_core.cosine_distance(p.detach().double(), w0.double()))
        for p, w0 in zip([p for p in model.parameters() if p.ndim >= 2], initial)
    ]
    assert monitor.history.layer_names == ("0.weight", "3.weight")
    assert monitor.history.distances == [[0.0, 0.0], pytest.approx(expected, rel=1e-12)]
    assert monitor.history.epochs == [0.0, 1.0]
    assert [tag for tag, _, step in writer.scalars if step == 4] == [
        "layer_rotation/0.weight",
        "layer_rotation/3.weight",
    ]
    assert monitor.plot().get_lines()


def test_param_groups_by_module_type_regex_and_callable():
    model = make_model()
    by_type = layca_torch.layca_param_groups(model, torch.nn.Linear, other_lr=0.01)
    assert by_type[0]["param_names"] == ["3.weight"] and by_type[0]["layca"] is True
    assert by_type[1]["param_names"] == ["0.weight", "0.bias", "3.bias"] and by_type[1]["lr"] == 0.01
    by_regex = layca_torch.layca_param_groups(model, r"^0\.weight$", freeze_others=True)
    assert by_regex[0]["param_names"] == ["0.weight"] and by_regex[1]["freeze_others"] is True
    by_callable = layca_torch.layca_param_groups(model.named_parameters(), lambda name, p: p.ndim == 4)
    assert by_callable[0]["param_names"] == ["0.weight"]
    optimizer = layca_torch.Layca(by_type, lr=0.1)
    assert [g["layca"] for g in optimizer.param_groups] == [True, False]
    with pytest.raises(ValueError, match="No parameter was selected as a Layca layer"):
        layca_torch.layca_param_groups(model, "nothing-matches")
    with pytest.raises(TypeError, match="Selecting layers by module type needs the model"):
        layca_torch.layca_param_groups(model.named_parameters(), torch.nn.Linear)
