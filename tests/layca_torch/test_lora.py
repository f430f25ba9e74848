"""The LoRA recipe of ``docs/lora.md`` (its PyTorch code, run as written): a frozen pretrained model, ``A`` a
Layca layer or not, ``B`` (zero at the start) with the plain base step, learns a low-rank change of task."""

import re
from pathlib import Path

import pytest
import torch

import layca_torch

PAGE = Path(__file__).parent.parent.parent / "docs" / "lora.md"
STEPS = 150


def recipe():
    section = PAGE.read_text().split("## PyTorch", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def pretrained_and_task():
    """A "pretrained" MLP and a task it does not solve: its labels under a rank-1 change of both weights."""
    torch.manual_seed(0)
    pretrained = torch.nn.Sequential(torch.nn.Linear(10, 16), torch.nn.Tanh(), torch.nn.Linear(16, 4))
    teacher = torch.nn.Sequential(torch.nn.Linear(10, 16), torch.nn.Tanh(), torch.nn.Linear(16, 4))
    teacher.load_state_dict(pretrained.state_dict())
    with torch.no_grad():
        for layer in (teacher[0], teacher[2]):
            out, into = layer.weight.shape
            layer.weight += 1.5 * torch.outer(torch.randn(out), torch.randn(into)) / into**0.5
    x = torch.randn(512, 10)
    with torch.no_grad():
        y = teacher(x).argmax(1)
    return pretrained, x, y


def accuracy(model, x, y):
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def run(a_is_a_layer):
    pretrained, x, y = pretrained_and_task()
    namespace = {"pretrained": pretrained}
    exec(recipe(), namespace)
    model, optimizer, trainable = namespace["model"], namespace["optimizer"], namespace["trainable"]
    if not a_is_a_layer:
        optimizer = layca_torch.Layca([{"params": [p for _, p in trainable], "layca": False}], base="adam", lr=1e-2)
    frozen = [p.detach().clone() for p in pretrained.parameters()]
    before = accuracy(model, x, y), float(torch.nn.functional.cross_entropy(model(x), y))
    for step in range(STEPS):
        batch = torch.randint(0, len(x), (64,), generator=torch.Generator().manual_seed(step))
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
        optimizer.step()
    after = accuracy(model, x, y), float(torch.nn.functional.cross_entropy(model(x), y))
    assert all(torch.equal(p, q) for p, q in zip(pretrained.parameters(), frozen))  # the base stays frozen
    return model, optimizer, before, after


@pytest.mark.parametrize("a_is_a_layer", [True, False], ids=["A a Layca layer", "A plain"])
def test_the_lora_recipe_trains_b_from_zero(a_is_a_layer):
    model, optimizer, (accuracy_before, loss_before), (accuracy_after, loss_after) = run(a_is_a_layer)
    assert accuracy_after > max(0.9, accuracy_before + 0.2) and loss_after < 0.5 * loss_before
    assert all(float(m.lora_B.norm()) > 0.1 for m in (model[0], model[2]))
    if a_is_a_layer:
        assert [g["layca"] for g in optimizer.param_groups] == [True, False]
        assert [n for g in optimizer.param_groups for n in g["param_names"]] == [
            "0.lora_A", "2.lora_A", "0.lora_B", "2.lora_B"
        ]  # fmt: skip


def test_a_zero_b_among_the_layers_is_refused_with_the_way_out():
    pretrained, x, y = pretrained_and_task()
    namespace = {"pretrained": pretrained}
    exec(recipe(), namespace)
    model = namespace["model"]
    optimizer = layca_torch.Layca(namespace["trainable"], base="adam")  # B is 2-D: a layer by default
    torch.nn.functional.cross_entropy(model(x), y).backward()
    with pytest.raises(ValueError, match=r"all zero: 0\.lora_B, 2\.lora_B\. .*must be excluded.*layca=False"):
        optimizer.step()
