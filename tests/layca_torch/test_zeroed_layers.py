"""A layer set to zero after its norm is stored is refused by name, before the step changes anything (weights and
state dict as they were), by ``layca_torch.Layca`` on every path and by ``LaycaWrapper``; a tiny layer is not."""

import copy

import pytest

torch = pytest.importorskip("torch")

import layca_torch  # noqa: E402

PATHS = {"default": {}, "reference": {"foreach": False}, "fused": {"fused": True}}
SHAPES = [(6, 4), (160, 128), (5,)]


def model_params(dtype=torch.float32):
    generator = torch.Generator().manual_seed(0)
    return [torch.nn.Parameter(torch.randn(s, generator=generator, dtype=torch.float64).to(dtype)) for s in SHAPES]


def with_gradients(params, seed):
    generator = torch.Generator().manual_seed(seed)
    for p in params:
        p.grad = torch.randn(p.shape, generator=generator, dtype=torch.float64).to(p.dtype)


def snapshot(optimizer, params):
    return copy.deepcopy(optimizer.state_dict()), [p.detach().clone() for p in params]


def refused_once_layer_1_is_zeroed(optimizer, params, seed, match):
    """Zero layer 1, give gradients, and check the step raises ``match`` and leaves weights and state as they were."""
    with torch.no_grad():
        params[1].zero_()
    with_gradients(params, seed)
    before = snapshot(optimizer, params)
    with pytest.raises(ValueError, match=match):
        optimizer.step()
    assert_unchanged(optimizer, params, before)


def assert_unchanged(optimizer, params, before):
    state, weights = before
    assert all(torch.equal(p, w) for p, w in zip(params, weights)), "the refused step changed weights"
    now = optimizer.state_dict()
    assert now["param_groups"] == state["param_groups"]
    assert now["state"].keys() == state["state"].keys()
    for key, entries in state["state"].items():
        assert entries.keys() == now["state"][key].keys()
        assert all(torch.equal(torch.as_tensor(v), torch.as_tensor(now["state"][key][k])) for k, v in entries.items())


@pytest.mark.parametrize("named", [True, False], ids=["named", "unnamed"])
@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("base", ["momentum", "adam"])
def test_a_layer_zeroed_after_its_norm_is_stored_is_refused_by_name_and_nothing_changes(base, path, named):
    params = model_params()
    given = [(f"block.{i}.weight", p) for i, p in enumerate(params)] if named else params
    optimizer = layca_torch.Layca([{"params": given, "layca": True}], lr=0.1, base=base, **PATHS[path])
    for seed in (1, 2):
        with_gradients(params, seed)
        optimizer.step()
    name = "block.1.weight" if named else r"parameter 1 of param group 0 \(shape \(160, 128\)\)"
    refused_once_layer_1_is_zeroed(optimizer, params, 3, rf"weights are all zero: {name}\. .*layca=False")
    with pytest.raises(ValueError, match="all zero"):  # still refused: nothing was recorded
        optimizer.step()


@pytest.mark.parametrize("path", list(PATHS))
def test_a_layer_zeroed_while_it_has_no_gradient_is_refused_at_its_next_step(path):
    params = model_params()
    optimizer = layca_torch.Layca([{"params": params, "layca": True}], lr=0.1, **PATHS[path])
    with_gradients(params, 1)
    optimizer.step()
    with torch.no_grad():
        params[0].zero_()
    params[0].grad = None
    optimizer.step()  # the zero layer is not stepped
    with_gradients(params, 2)
    with pytest.raises(ValueError, match=r"parameter 0 of param group 0 \(shape \(6, 4\)\)"):
        optimizer.step()


@pytest.mark.parametrize("value", [float("inf"), float("nan")])
def test_a_layer_set_to_non_finite_values_is_refused_by_name(value):
    params = model_params()
    optimizer = layca_torch.Layca([{"params": params, "layca": True}], lr=0.1)
    with_gradients(params, 1)
    optimizer.step()
    with torch.no_grad():
        params[2][1] = value
    with pytest.raises(ValueError, match=r"finite number; these overflow: parameter 2 of param group 0"):
        optimizer.step()


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize(("dtype", "scale"), [(torch.float64, 1e-300), (torch.float32, 1e-40)], ids=str)
def test_a_tiny_layer_is_not_refused_and_turns(dtype, scale, path):
    params = model_params(dtype)
    optimizer = layca_torch.Layca([{"params": params, "layca": True}], lr=0.1, **PATHS[path])
    with_gradients(params, 1)
    optimizer.step()
    with torch.no_grad():
        params[0].copy_((params[0].double() * scale).to(dtype))
    assert params[0].abs().max() > 0
    tiny = params[0].detach().clone()
    with_gradients(params, 2)
    optimizer.step()
    assert not torch.equal(params[0].detach(), tiny)


@pytest.mark.parametrize("named", [True, False], ids=["named", "unnamed"])
def test_the_wrapper_refuses_a_zeroed_layer_by_name_before_the_inner_step(named):
    params = model_params()
    given = [(f"block.{i}.weight", p) for i, p in enumerate(params)] if named else params
    wrapped = layca_torch.LaycaWrapper(torch.optim.Adam(given, lr=1e-3), lr=3**-5, layers=params)
    with_gradients(params, 1)
    wrapped.step()
    name = "block.1.weight" if named else r"parameter 1 of param group 0 \(shape \(160, 128\)\)"
    refused_once_layer_1_is_zeroed(
        wrapped, params, 2, rf"weights are all zero: {name}\. .*Leave it out of LaycaWrapper"
    )
    with torch.no_grad():
        params[1].copy_(torch.randn(160, 128))
    wrapped.step()  # a non-zero layer again: the step goes on


def test_only_a_layer_written_since_the_last_step_is_read(monkeypatch):
    """Steps read no layer's entries for the check (torch's version counter says nothing was written in between);
    a layer written (not zeroed) is read once; a restored state with a zeroed model is refused at its first step."""
    params = model_params()
    optimizer = layca_torch.Layca([{"params": params, "layca": True}], lr=0.1, base="momentum")
    reads = []
    aminmax = torch.aminmax
    monkeypatch.setattr(layca_torch.norms.torch, "aminmax", lambda x: reads.append(x.shape) or aminmax(x))
    for seed in range(1, 5):
        with_gradients(params, seed)
        reads.clear()
        optimizer.step()
        assert (6, 4) not in reads and (5,) not in reads  # the large layer's shape is read by the executor
    with torch.no_grad():
        params[0].mul_(2.0)
    reads.clear()
    optimizer.step()
    assert reads.count((6, 4)) == 1
    saved = copy.deepcopy(optimizer.state_dict())
    restored = layca_torch.Layca([{"params": params, "layca": True}], lr=0.1, base="momentum")
    restored.load_state_dict(saved)
    with torch.no_grad():
        params[2].zero_()
    with pytest.raises(ValueError, match=r"all zero: parameter 2 of param group 0 \(shape \(5,\)\)"):
        restored.step()
