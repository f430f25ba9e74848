"""torch's generic state-dict, hook and copy checks (``test/test_optim.py``) on ``layca_torch.Layca``, for every base,
option and implementation of ``tests/layca_torch/torch_generic.py``; and a load pre-hook that adapts a checkpoint of
torch's own SGD, which runs before Layca checks the checkpoint (as torch's pre-hooks run before its own checks)."""

import copy
import io

import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook

import layca_torch
from tests.layca_torch import torch_generic as generic

CONFIGS = generic.configs()
NAMED = [
    pytest.param(config.values[0], names, id=f"{config.id}-{'-'.join('named' if n else 'plain' for n in names)}")
    for config in CONFIGS
    for names in [(False, False), (True, False), (False, True), (True, True)]
    if names == (False, False) or config.id.endswith("foreach")
]
"""Each config with plain parameters on both sides, and the foreach ones with every mix of plain and named."""


def named(params, is_named):
    return [(f"name{i}", p) for i, p in enumerate(params)] if is_named else params


def without_names(state_dict):
    state_dict = copy.deepcopy(state_dict)
    for group in state_dict["param_groups"]:
        group.pop("param_names", None)
    return state_dict


def conv_steps(optimizer, net, steps=3):
    x = torch.rand(1, 4, 16, 16, generator=torch.Generator().manual_seed(0))
    for _ in range(steps):
        optimizer.zero_grad()
        net(x).sum().backward()
        optimizer.step()


@pytest.mark.parametrize("kwargs, names", NAMED)
def test_state_dict_deterministic(kwargs, names):
    """A checkpoint after 10 steps, loaded into a twin, continues identically; the state dicts are equal, repeated
    groups included."""
    weight, bias, x = generic.linear()
    optimizer = layca_torch.Layca(named([weight, bias], names[0]), **generic.fresh(kwargs))
    for _ in range(10):
        optimizer.step(lambda: generic.loss_of(optimizer, weight, bias, x))
    with torch.no_grad():
        twin_weight, twin_bias = torch.nn.Parameter(weight.clone()), torch.nn.Parameter(bias.clone())
    twin = layca_torch.Layca(named([twin_weight, twin_bias], names[1]), **generic.fresh(kwargs))
    twin.load_state_dict(copy.deepcopy(optimizer.state_dict()))
    for _ in range(10):
        optimizer.step(lambda: generic.loss_of(optimizer, weight, bias, x))
        twin.step(lambda: generic.loss_of(twin, twin_weight, twin_bias, x))
        assert torch.equal(weight, twin_weight) and torch.equal(bias, twin_bias)
    generic.assert_equal(without_names(optimizer.state_dict()), without_names(twin.state_dict()))
    twin.param_groups.extend(twin.param_groups)
    last = without_names(optimizer.state_dict())["param_groups"][-1]
    generic.assert_equal(last, without_names(twin.state_dict())["param_groups"][-1])


@pytest.mark.parametrize("kwargs", CONFIGS)
def test_can_load_older_state_dict(kwargs):
    """Groups without the keys a checkpoint of an earlier release may lack load and step."""
    net = generic.conv_net()
    optimizer = layca_torch.Layca(net.parameters(), **generic.fresh(kwargs))
    conv_steps(optimizer, net)
    older = copy.deepcopy(optimizer.state_dict())
    for group in older["param_groups"]:
        for key in generic.INFO.not_og_supported_flags:
            group.pop(key, None)
    optimizer.load_state_dict(older)
    conv_steps(optimizer, net, steps=1)


@pytest.mark.parametrize("kwargs, names", NAMED)
def test_can_load_from_to_named_state_dict(kwargs, names):
    net = generic.conv_net()
    optimizer = layca_torch.Layca(net.named_parameters() if names[0] else net.parameters(), **generic.fresh(kwargs))
    conv_steps(optimizer, net)
    saved = copy.deepcopy(optimizer.state_dict())
    resumed = layca_torch.Layca(net.named_parameters() if names[1] else net.parameters(), **generic.fresh(kwargs))
    resumed.load_state_dict(saved)
    conv_steps(resumed, net, steps=1)
    if any(names):
        assert resumed.state_dict()["param_groups"][0]["param_names"] == ["0.weight", "0.bias", "1.weight", "1.bias"]


@pytest.mark.parametrize("is_named", [False, True], ids=["plain", "named"])
@pytest.mark.parametrize("kwargs", CONFIGS)
def test_save_load_equality_with_weights_only(kwargs, is_named):
    weight, bias, x = generic.linear()
    optimizer = layca_torch.Layca(named([weight, bias], is_named), **generic.fresh(kwargs))
    for _ in range(3):
        optimizer.step(lambda: generic.loss_of(optimizer, weight, bias, x))
    state_dict = optimizer.state_dict()
    buffer = io.BytesIO()
    torch.save(state_dict, buffer)
    for weights_only in (False, True):
        loaded = torch.load(io.BytesIO(buffer.getvalue()), weights_only=weights_only)
        generic.assert_equal(loaded, state_dict, rtol=0, atol=0)


@pytest.mark.parametrize("kwargs", CONFIGS)
def test_load_nontensor_step_and_a_checkpoint_saved_before_any_step(kwargs):
    params = [torch.nn.Parameter(torch.randn(2, 3)) for _ in range(2)]
    twins = [torch.nn.Parameter(p.detach().clone()) for p in params]
    for p, q in zip(params, twins):
        p.grad = q.grad = torch.rand_like(p)
    optimizer = layca_torch.Layca(params, **generic.fresh(kwargs))
    fresh = layca_torch.Layca(twins, **generic.fresh(kwargs))
    fresh.load_state_dict(copy.deepcopy(optimizer.state_dict()))  # no state yet
    for _ in range(3):
        optimizer.step()
        fresh.step()
    assert all(torch.equal(p, q) for p, q in zip(params, twins))
    state_dict = copy.deepcopy(optimizer.state_dict())
    for state in state_dict["state"].values():
        if torch.is_tensor(state.get("step")):
            state["step"] = state["step"].item()
    optimizer.load_state_dict(state_dict)
    optimizer.step()


@pytest.mark.parametrize("kwargs", CONFIGS)
def test_deepcopy_copies_all_public_attrs(kwargs):
    params = [torch.nn.Parameter(torch.randn(2, 3)) for _ in range(2)]
    for p in params:
        p.grad = torch.rand_like(p)
    optimizer = layca_torch.Layca(params, **generic.fresh(kwargs))
    for _ in range(3):
        optimizer.step()

    def public(obj):
        return {k for k in vars(obj) if not k.startswith("_")}

    assert public(optimizer) == public(copy.deepcopy(optimizer))


@pytest.fixture(params=[c.values[0] for c in CONFIGS[::3]], ids=[c.id.rsplit("-", 1)[0] for c in CONFIGS[::3]])
def optimizer(request):
    """One Layca optimizer per input (the hooks do not depend on the implementation), over one parameter."""
    return layca_torch.Layca([torch.rand(2, 3, requires_grad=True)], **generic.fresh(request.param))


def test_state_dict_pre_and_post_hooks(optimizer):
    def pre_hook(opt):
        opt.state["test"] = 1

    def post_hook(opt, state_dict):
        state_dict["ran_state_dict_pre_hook"] = state_dict["state"].pop("test", None) == 1
        return state_dict

    optimizer.register_state_dict_pre_hook(pre_hook)
    assert optimizer.state_dict()["state"]["test"] == 1
    optimizer.register_state_dict_post_hook(post_hook)
    state_dict = optimizer.state_dict()
    assert "test" not in state_dict["state"] and state_dict["ran_state_dict_pre_hook"]


def test_load_state_dict_pre_hooks_prepend_and_post_hooks(optimizer):
    state_dict = optimizer.state_dict()
    optimizer.register_load_state_dict_pre_hook(lambda opt, sd: sd["param_groups"][0].update(lr=0.002))
    optimizer.load_state_dict(state_dict)
    assert optimizer.param_groups[0]["lr"] == 0.002

    def replace(opt, sd):
        sd = copy.deepcopy(sd)
        sd["param_groups"][0]["lr"] = 0.003
        return sd

    optimizer.register_load_state_dict_pre_hook(replace, prepend=True)
    optimizer.load_state_dict(state_dict)
    assert optimizer.param_groups[0]["lr"] == 0.002  # the prepended hook ran first
    seen = []
    optimizer.register_load_state_dict_post_hook(lambda opt: seen.append(opt.param_groups[0]["lr"]))
    optimizer.load_state_dict(state_dict)
    assert seen == [0.002]
    assert len(optimizer._optimizer_load_state_dict_pre_hooks) == 2  # Layca's own hooks were removed


def test_step_pre_post_and_global_hooks(optimizer):
    calls = []
    handles = [
        register_optimizer_step_pre_hook(lambda *_: calls.append(0)),
        register_optimizer_step_post_hook(lambda *_: calls.append(5)),
        optimizer.register_step_pre_hook(lambda *_: calls.append(1)),
        optimizer.register_step_post_hook(lambda *_: calls.append(2)),
    ]
    other = torch.optim.SGD([torch.tensor([1.0, 1.0])])
    optimizer.step()
    other.step()
    optimizer.step()
    assert calls == [0, 1, 2, 5, 0, 5, 0, 1, 2, 5]
    for handle in handles:
        handle.remove()
    optimizer.step()
    assert len(calls) == 10


def test_a_load_pre_hook_adapts_a_checkpoint_of_torchs_sgd_before_layca_checks_it():
    """Moving a run from ``torch.optim.SGD`` to Layca: a pre-hook renames torch's momentum buffer; Layca's check of the
    checkpoint, which refuses torch's layout, runs after it."""
    net = generic.conv_net()
    sgd = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    conv_steps(sgd, net)
    optimizer = layca_torch.Layca(net.parameters(), base="momentum", momentum=0.9)
    with pytest.raises(ValueError, match="holds momentum_buffer, where base 'momentum' keeps momentum"):
        optimizer.load_state_dict(sgd.state_dict())

    def from_sgd(opt, state_dict):
        state = {i: {"momentum": s["momentum_buffer"]} for i, s in state_dict["state"].items()}
        keys = ("params", "momentum", "maximize", "foreach")
        groups = [{k: g[k] for k in keys} for g in state_dict["param_groups"]]
        return {"state": state, "param_groups": groups}

    optimizer.register_load_state_dict_pre_hook(from_sgd)
    optimizer.load_state_dict(sgd.state_dict())
    for p in net.parameters():
        assert torch.equal(optimizer.state[p]["momentum"], sgd.state[p]["momentum_buffer"])
    assert optimizer.param_groups[0]["lr"] == layca_torch.Layca(net.parameters(), base="momentum").defaults["lr"]
    conv_steps(optimizer, net, steps=1)
