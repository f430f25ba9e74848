"""``layca_torch``'s default layers: module types where the model is known, names and shapes otherwise; ``include``
turns kinds back into layers; ``describe`` and ``log_layers`` say each decision and why."""

import logging
import re
import warnings

import pytest
import torch
from torch import nn

import layca_torch


class Tied(nn.Module):
    """An embedding under a name no rule knows, an output head tied to it, a view of it, and a frozen layer."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.tok = nn.Embedding(10, 4)
        self.head = nn.Linear(4, 10, bias=False)
        self.head.weight = self.tok.weight
        self.view = nn.Parameter(self.tok.weight.data.view(10, 4))
        self.mix = nn.Linear(4, 4)
        self.frozen = nn.Linear(4, 4)
        self.frozen.requires_grad_(False)


def resnet_like():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, bias=False), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 8, 3), nn.GroupNorm(2, 8),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10),
    )  # fmt: skip


def rows(table):
    """``describe``'s table as ``{name: (role, reason)}``."""
    cells = [re.split(r"\s{2,}", line) for line in table.splitlines()[1:-1]]
    return {name: (role, reason) for name, _, role, reason in cells}


def layer_names(optimizer):
    return [n for g in optimizer.param_groups for n, f in zip(g["param_names"], g["is_layer"]) if f]


def test_module_types_decide_where_the_model_is_passed():
    model = Tied()
    assert layer_names(layca_torch.Layca(model)) == ["mix.weight"]
    table = layca_torch.describe(model)
    assert rows(table)["view"] == ("other", "tied to the embedding table tok.weight")
    assert rows(table)["tok.weight"] == ("other", "the table of an nn.Embedding")
    assert rows(table)["frozen.weight"] == ("frozen", "not trained (requires no gradient)")
    assert table.endswith("1 layer, 3 other, 2 frozen")


def test_names_decide_for_named_parameters_and_shapes_for_plain_ones():
    named = [
        ("embed_tokens.weight", nn.Parameter(torch.randn(10, 4))),
        ("proj.weight", nn.Parameter(torch.randn(4, 4))),
    ]
    assert layer_names(layca_torch.Layca(named)) == ["proj.weight"]
    conv_bias = nn.Parameter(torch.randn(16, 1, 1))  # Equinox's conv bias shape
    optimizer = layca_torch.Layca([nn.Parameter(torch.randn(16, 3, 3, 3)), conv_bias])
    assert optimizer.param_groups[0]["is_layer"] == [True, False]


def test_a_resnet_turns_its_convs_and_its_classifier():
    optimizer = layca_torch.Layca(resnet_like())
    assert layer_names(optimizer) == ["0.weight", "3.weight", "7.weight"]


def test_include_turns_embeddings_back_into_layers_and_is_checked():
    assert layer_names(layca_torch.Layca(Tied(), include=("embedding",))) == ["view", "tok.weight", "mix.weight"]
    with pytest.raises(ValueError, match="include must be a sequence of 'embedding', 'bias', 'norm'"):
        layca_torch.Layca(Tied(), include="embedding")


def test_the_model_as_layers_selects_plain_parameters_as_the_trainer_passes_them():
    model = Tied()
    groups = [{"params": [p for p in model.parameters() if p.requires_grad], "weight_decay": 0.0}]
    optimizer = layca_torch.Layca(groups, layers=model)
    assert [[id(p) for p in g["params"]] for g in optimizer.param_groups if g["layca"]] == [[id(model.mix.weight)]]


def test_log_layers_logs_every_role_once_at_the_first_step(caplog):
    model = resnet_like()
    optimizer = layca_torch.Layca(model, log_layers=True)
    with caplog.at_level(logging.INFO, logger="layca_torch"):
        for _ in range(2):
            optimizer.zero_grad()
            model(torch.randn(2, 3, 8, 8)).square().mean().backward()
            optimizer.step()
    assert len(caplog.records) == 1
    logged = rows(caplog.records[0].getMessage().split("\n", 1)[1])
    assert logged["1.weight"] == ("other", "the weight of a BatchNorm2d, fewer than 2 dimensions")
    assert "3 layer, 6 other, 0 frozen" in caplog.text


def test_the_monitor_and_the_wrapper_follow_the_default():
    model = Tied()
    assert [n for n, _ in layca_torch.RotationMonitor(model).layers] == ["mix.weight", "frozen.weight"]
    net = resnet_like()
    wrapper = layca_torch.LaycaWrapper(torch.optim.SGD(net.named_parameters(), lr=0.1))
    assert [id(p) for p in wrapper.layers] == [id(net[i].weight) for i in (0, 3, 7)]


def shape_warnings(make):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        make()
    return [w for w in caught if "judged them by shape alone" in str(w.message)]


def test_parameters_judged_by_shape_alone_are_said_once_and_named_or_modelled_ones_not():
    net = nn.Sequential(nn.Embedding(10, 4), nn.Linear(4, 2))
    groups = [{"params": [net[0].weight], "weight_decay": 0.1}, {"params": list(net[1].parameters())}]
    (warning,) = shape_warnings(lambda: layca_torch.Layca(groups))  # once for both groups
    assert "pass layers=model" in str(warning.message) and warning.category is UserWarning
    assert warning.filename == __file__  # at the line that built the optimizer
    assert len(shape_warnings(lambda: layca_torch.Layca(net.parameters()))) == 1
    for make in (
        lambda: layca_torch.Layca(groups, layers=net),
        lambda: layca_torch.Layca(net),
        lambda: layca_torch.Layca(net.named_parameters()),
        lambda: layca_torch.Layca([{"params": [net[1].weight], "layca": True}]),
        lambda: layca_torch.Layca([net[1].bias]),  # no layer: nothing turned by its shape
    ):
        assert not shape_warnings(make)
    optimizer = layca_torch.Layca(groups, layers=net)
    assert [id(p) for p in optimizer.layer_multipliers()] == [id(net[1].weight)]  # the table is not a layer


def test_the_wrapper_says_when_it_judged_unnamed_parameters_by_shape_alone():
    net = nn.Sequential(nn.Embedding(10, 4), nn.Linear(4, 2))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        layca_torch.LaycaWrapper(torch.optim.SGD(net.parameters(), lr=0.1))
    (warning,) = [w for w in caught if "judged them by shape alone" in str(w.message)]
    assert "model.named_parameters()" in str(warning.message) and warning.filename == __file__
    for make in (
        lambda: layca_torch.LaycaWrapper(torch.optim.SGD(net.named_parameters(), lr=0.1)),
        lambda: layca_torch.LaycaWrapper(torch.optim.SGD(net.parameters(), lr=0.1), layers=[net[1].weight]),
    ):
        assert shape_warnings(make) == []
