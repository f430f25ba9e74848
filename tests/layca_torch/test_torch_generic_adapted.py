"""torch's generic checks that need several GPUs, CUDA or torch's own kernels, adapted to what Layca does on one device
(``tests/layca_torch/torch_generic.py``): mixed dtypes, another default dtype, the default implementation, meta
parameters, a layer frozen mid-run, ``zero_grad``, and checkpoints loaded with another dtype or on another device."""

import copy
from unittest import mock

import pytest
import torch

import layca_torch
from layca_torch import group_step
from tests.layca_torch import torch_generic as generic

DTYPES = (torch.float64, torch.float32, torch.float16, torch.bfloat16)
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


def close_per_layer(a, b, slack=5):
    """torch's tolerance of ``a``'s dtype times ``slack``, the absolute part relative to ``a``'s norm: Layca moves a
    whole layer at once, so a 16-bit entry near 0 may differ by an ulp of the layer's scale."""
    rtol, _ = torch.testing._comparison.get_tolerances(a, rtol=None, atol=None)
    torch.testing.assert_close(a, b, rtol=slack * rtol, atol=slack * rtol * max(float(a.double().norm()), 1e-3))


@pytest.mark.parametrize("flag", ["foreach", "fused"])
@pytest.mark.parametrize("kwargs", generic.INPUTS)
def test_mixed_dtypes_match_forloop(kwargs, flag):
    """torch's ``test_mixed_device_dtype`` on one device: layers and other parameters of four dtypes in one group."""
    generator = torch.Generator().manual_seed(0)
    params = [torch.rand(shape, generator=generator).to(d) for shape in [(2, 3), (3,)] for d in DTYPES]
    grads = [torch.rand(p.shape, generator=generator).to(p.dtype) for p in params]
    runs = []
    for value in (False, True):
        copies = [p.clone().requires_grad_(True) for p in params]
        for p, g in zip(copies, grads):
            p.grad = g.clone()
        config = {**generic.fresh(kwargs), "foreach": False} if not value else {**generic.fresh(kwargs), flag: True}
        optimizer = layca_torch.Layca(copies, **config)
        for _ in range(7):
            optimizer.step()
        runs.append((copies, optimizer.state))
    (forloop, forloop_state), (other, other_state) = runs
    for p, q in zip(forloop, other):
        close_per_layer(p.detach(), q.detach())
        for key in forloop_state[p]:
            close_per_layer(forloop_state[p][key], other_state[q][key])


@pytest.mark.parametrize("default", [torch.float64, torch.float16], ids=str)
@pytest.mark.parametrize("kwargs", generic.INPUTS)
def test_another_default_dtype_changes_no_path(kwargs, default):
    """torch's ``test_set_default_dtype_works_with_foreach``: float64 parameters under another default dtype, foreach
    against forloop; the count (``step``) keeps one dtype on both paths."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(default)
    try:
        models, optimizers = [], []
        for foreach in (False, True):
            net = generic.sigmoid_net(torch.float64)
            models.append(net)
            optimizers.append(layca_torch.Layca(net.parameters(), **{**generic.fresh(kwargs), "foreach": foreach}))
        generic.compare_between(torch.rand(3, 2, dtype=torch.float64), models, optimizers)
        steps = [{s["step"].dtype for s in o.state.values() if "step" in s} for o in optimizers]
        assert steps[0] == steps[1]
    finally:
        torch.set_default_dtype(previous)


def test_the_default_implementation_is_multi_tensor():
    """torch's ``test_defaults_changed_to_foreach`` (CUDA there; Layca's multi-tensor kernels run on every device):
    the per-tensor reference path runs only with ``foreach=False``."""
    net = torch.nn.Linear(5, 5)
    for foreach, expected in ((None, False), (True, False), (False, True)):
        optimizer = layca_torch.Layca(net.parameters(), foreach=foreach)
        net(torch.rand(2, 5)).sum().backward()
        with mock.patch.object(group_step, "reference_step", wraps=group_step.reference_step) as reference:
            optimizer.step()
        assert reference.called == expected


def test_meta_parameters_are_refused_at_construction_and_accepted_once_materialized():
    """torch's ``test_fused_error_on_params_on_meta`` refuses them at the first step; Layca, which reads each layer's
    norm, refuses them when the optimizer is built, naming the parameter."""
    with torch.device("meta"):
        net = generic.sigmoid_net(torch.float32)
    with pytest.raises(ValueError, match="0.weight is on the meta device; build the optimizer once the model is"):
        layca_torch.Layca(net.named_parameters(), fused=True)
    net.to_empty(device="cpu")
    for p in net.parameters():
        torch.nn.init.normal_(p)
        p.grad = torch.rand_like(p)
    layca_torch.Layca(net.named_parameters(), fused=True).step()


@pytest.mark.parametrize("kwargs", generic.configs())
def test_a_layer_frozen_mid_run_keeps_its_weights_state_and_sphere(kwargs):
    net = generic.sigmoid_net(torch.float32)
    optimizer = layca_torch.Layca(net.parameters(), **generic.fresh(kwargs))
    x = torch.rand(3, 2)
    norm = float(net[2].weight.norm())
    for step in range(6):
        if step == 2:
            net[2].requires_grad_(False)
            frozen = [p.detach().clone() for p in net[2].parameters()]
            state = copy.deepcopy(optimizer.state[net[2].weight])
        optimizer.zero_grad()
        net(x).sum().backward()
        optimizer.step()
        if step == 3:
            assert all(torch.equal(p, q) for p, q in zip(net[2].parameters(), frozen))
            generic.assert_equal(optimizer.state[net[2].weight], state)
            net[2].requires_grad_(True)
    if kwargs.get("variant") != "lars":  # the paper's LARS variant does not keep the norm
        assert float(net[2].weight.norm()) == pytest.approx(norm, rel=1e-5)
    assert not torch.equal(net[2].weight.detach(), frozen[0])


def test_zero_grad_sets_none_by_default_and_zeros_on_request():
    net = torch.nn.Linear(3, 2)
    optimizer = layca_torch.Layca(net.parameters())
    net(torch.randn(4, 3)).sum().backward()
    optimizer.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net(torch.randn(4, 3)).sum().backward()
    optimizer.zero_grad(set_to_none=False)
    assert all(torch.equal(p.grad, torch.zeros_like(p)) for p in net.parameters())


def run(net, optimizer, steps, dtype):
    generator = torch.Generator().manual_seed(1)
    for _ in range(steps):
        optimizer.zero_grad()
        net(torch.rand(3, 2, generator=generator).to(net[0].weight.device, dtype)).sum().backward()
        optimizer.step()


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16], ids=str)
@pytest.mark.parametrize("kwargs", generic.INPUTS)
def test_a_checkpoint_loads_into_parameters_of_another_dtype(kwargs, dtype):
    """A float32 checkpoint into a copy of the model in ``dtype``: the states take the parameters' dtype (torch's
    rule; ``step`` and the layer norms keep theirs), and the run continues as the float32 one, within the coarser
    dtype's tolerance."""
    net = generic.sigmoid_net(torch.float32)
    optimizer = layca_torch.Layca(net.parameters(), **generic.fresh(kwargs))
    run(net, optimizer, 3, torch.float32)
    twin = copy.deepcopy(net).to(dtype)
    resumed = layca_torch.Layca(twin.parameters(), **generic.fresh(kwargs))
    resumed.load_state_dict(copy.deepcopy(optimizer.state_dict()))
    for p, q in zip(net.parameters(), twin.parameters()):
        for key, value in optimizer.state[p].items():
            loaded = resumed.state[q][key]
            assert key in ("step", "init_norm") or loaded.dtype == dtype, key
            torch.testing.assert_close(loaded.double(), value.double(), rtol=1e-2, atol=1e-2)
    run(net, optimizer, 3, torch.float32)
    run(twin, resumed, 3, dtype)
    coarser = torch.bfloat16 if dtype == torch.bfloat16 else torch.float32  # a bfloat16 forward pass differs by its eps
    for p, q in zip(net.parameters(), twin.parameters()):
        close_per_layer(q.detach().to(coarser), p.detach().to(coarser))


@CUDA
@pytest.mark.parametrize("kwargs", generic.configs())
def test_state_dict_with_cuda_params(kwargs):
    """torch's ``test_state_dict_with_cuda_params`` and ``test_cpu_load_state_dict``: a CPU checkpoint loaded by a CUDA
    optimizer; both continue alike and their state dicts agree."""
    net = generic.sigmoid_net(torch.float32)
    optimizer = layca_torch.Layca(net.parameters(), **generic.fresh(kwargs))
    run(net, optimizer, 3, torch.float32)
    twin = copy.deepcopy(net).cuda()
    resumed = layca_torch.Layca(twin.parameters(), **generic.fresh(kwargs))
    saved = copy.deepcopy(optimizer.state_dict())
    resumed.load_state_dict(saved)
    generic.assert_equal(saved, optimizer.state_dict())
    run(net, optimizer, 5, torch.float32)
    run(twin, resumed, 5, torch.float32)
    for p, q in zip(net.parameters(), twin.parameters()):
        close_per_layer(p.detach(), q.detach().cpu())
