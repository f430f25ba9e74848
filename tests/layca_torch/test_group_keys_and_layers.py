"""Param-group keys are checked like constructor keywords; ``Layca(params, layers=...)`` selects layers as
``layca_param_groups``, ``layca_optax.layca`` and ``layca_keras.Layca`` do; no empty state entry."""

import collections

import pytest
import torch

import layca_torch

TORCH_ONLY = ["dampening", "amsgrad", "nesterov", "capturable", "differentiable", "lr_decay"]


def model():
    torch.manual_seed(0)
    layers = {"embed": torch.nn.Embedding(10, 4), "flat": torch.nn.Flatten(), "fc": torch.nn.Linear(8, 2)}
    return torch.nn.Sequential(collections.OrderedDict(layers))


def train(net, optimizer, steps=2):
    for _ in range(steps):
        optimizer.zero_grad()
        net(torch.randint(0, 10, (4, 2))).square().mean().backward()
        optimizer.step()


@pytest.mark.parametrize("key", TORCH_ONLY)
def test_a_torch_hyperparameter_in_a_group_is_refused_as_a_keyword_is(key):
    net = model()
    with pytest.raises(TypeError) as keyword:
        layca_torch.Layca(net.parameters(), **{key: 0.1})
    with pytest.raises(TypeError) as at_construction:
        layca_torch.Layca([{"params": net.parameters(), key: 0.1}])
    optimizer = layca_torch.Layca(net.embed.parameters())
    with pytest.raises(TypeError) as added:
        optimizer.add_param_group({"params": net.fc.parameters(), key: 0.1})
    expected = (
        f"remove {key}= (True or False)" if key in ("capturable", "differentiable") else "takes no hyperparameters"
    )
    assert expected in str(keyword.value)
    assert str(at_construction.value) == f"Param group 0: {keyword.value}"
    assert str(added.value) == f"Param group 1: {keyword.value}"
    assert len(optimizer.param_groups) == 1


def test_groups_still_carry_keys_of_their_own():
    optimizer = layca_torch.Layca([{"params": model().parameters(), "name": "all", "initial_lr": 0.1}])
    assert optimizer.param_groups[0]["name"] == "all"


def no_embeddings(name, p):
    return p.ndim >= 2 and "embed" not in name


@pytest.mark.parametrize(
    ("make", "layers"),
    [
        (lambda net: net, torch.nn.Linear),
        (lambda net: net.named_parameters(), r"^fc\.weight$"),
        (lambda net: net.named_parameters(), no_embeddings),
        (lambda net: [{"params": list(net.named_parameters()), "momentum": 0.5}], no_embeddings),
    ],
    ids=["module type", "regex", "callable", "named group"],
)
def test_layers_selects_like_layca_param_groups(make, layers):
    net = model()
    optimizer = layca_torch.Layca(make(net), layers=layers, base="momentum")
    expected = layca_torch.layca_param_groups(net, layers=layers)
    assert [(g["layca"], g["param_names"]) for g in optimizer.param_groups] == [
        (g["layca"], g["param_names"]) for g in expected
    ]
    embed = net.embed.weight.detach().clone()
    train(net, optimizer)
    assert not torch.equal(net.embed.weight, embed)  # the plain base step, not a turn
    assert float(net.fc.weight.norm()) == pytest.approx(float(optimizer.state[net.fc.weight]["init_norm"]), rel=1e-6)


def test_layers_on_plain_parameters():
    net = model()
    optimizer = layca_torch.Layca(net.parameters(), layers=lambda name, p: name is None and p.shape == (2, 8))
    assert [g["layca"] for g in optimizer.param_groups] == [True, False]
    assert optimizer.param_groups[0]["params"] == [net.fc.weight]
    with pytest.raises(TypeError, match=r"regex on parameter names.*pass model\.named_parameters\(\)"):
        layca_torch.Layca(net.parameters(), layers="fc")
    with pytest.raises(TypeError, match=r"by module type, which needs the model.*Layca\(model, layers=\.\.\.\)"):
        layca_torch.Layca(net.named_parameters(), layers=torch.nn.Linear)
    with pytest.raises(ValueError, match="selects no parameter"):
        layca_torch.Layca(net.named_parameters(), layers="nothing")


@pytest.mark.parametrize("base", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("foreach", [True, False])
def test_no_empty_state_entry(base, foreach):
    """torch's convention (its test_non_empty_state): every entry of ``optimizer.state`` holds something."""
    net = model()
    optimizer = layca_torch.Layca(net.parameters(), base=base, foreach=foreach)
    train(net, optimizer)
    assert optimizer.state and all(optimizer.state.values())
    restored = layca_torch.Layca(net.parameters(), base=base, foreach=foreach)
    restored.load_state_dict(optimizer.state_dict())
    train(net, restored)
    assert all(restored.state.values())
