"""``torch.compile(optimizer.step)``, torch's recipe for a faster step: one compilation over a run scheduled with a
tensor lr (the state a first step makes is made before the trace, by ``_init_group``; a float lr that changes is
compiled again once, as in torch's optimizers), no graph break, float or tensor lr, every
base; ``fullgraph=True`` with a tensor lr; the same iterates as eager, for gradients of any magnitude."""

import warnings

import pytest
import torch
from torch._dynamo.testing import CompileCounter
from torch._dynamo.utils import counters

import layca_torch
from tests.layca_torch.test_optimizer import BASES

STEPS = 5


def model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 2))


def run(step, net, optimizer):
    """``STEPS`` steps under a decaying lr (the scheduler built after compiling: its own wrapper of
    ``optimizer.step`` is a function dynamo does not trace)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Detected call of `lr_scheduler.step\\(\\)` before")
        scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.8)
        generator = torch.Generator().manual_seed(1)
        for _ in range(STEPS):
            optimizer.zero_grad()
            net(torch.randn(8, 4, generator=generator)).square().mean().backward()
            step()
            scheduler.step()
    return [p.detach().clone() for p in net.parameters()]


def make(base, lr):
    net = model()
    return net, layca_torch.Layca(net.parameters(), lr=lr, base=base, **BASES[base])


@pytest.fixture(autouse=True)
def fresh_dynamo():
    torch._dynamo.reset()
    counters.clear()
    yield
    torch._dynamo.reset()


@pytest.mark.parametrize("tensor_lr", [False, True], ids=["float lr", "tensor lr"])
@pytest.mark.parametrize("base", sorted(BASES))
def test_a_compiled_step_compiles_once_without_graph_breaks(base, tensor_lr):
    lr = 0.1
    net, optimizer = make(base, torch.tensor(lr) if tensor_lr else lr)
    compiles = CompileCounter()
    compiled = run(torch.compile(optimizer.step, backend=compiles), net, optimizer)
    assert compiles.frame_count == 1 + (not tensor_lr)  # a float lr that changes: torch compiles it again as a symbol
    assert not counters["graph_break"], dict(counters["graph_break"])
    assert [float(g["lr"]) for g in optimizer.param_groups] == pytest.approx([lr * 0.8**STEPS])
    eager_net, eager_optimizer = make(base, lr)
    eager = run(eager_optimizer.step, eager_net, eager_optimizer)
    for got, want in zip(compiled, eager, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_fullgraph_with_a_tensor_lr_matches_eager_under_inductor():
    net, optimizer = make("momentum", torch.tensor(0.1))
    compiled = run(torch.compile(optimizer.step, fullgraph=True), net, optimizer)
    eager_net, eager_optimizer = make("momentum", 0.1)
    eager = run(eager_optimizer.step, eager_net, eager_optimizer)
    for got, want in zip(compiled, eager, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_a_zero_layer_is_refused_inside_a_compiled_step():
    net, optimizer = make("sgd", torch.tensor(0.1))
    with torch.no_grad():
        net[2].weight.zero_()
    net(torch.randn(8, 4)).square().mean().backward()
    with pytest.raises(RuntimeError, match=r"cannot rotate the layer parameter 2 \(shape \(2, 6\)\).*layca=False"):
        torch.compile(optimizer.step, fullgraph=True)()


@pytest.mark.parametrize("magnitude", [1e-38, 1e38], ids=["tiny", "huge"])
def test_gradients_of_extreme_magnitudes_turn_as_eagerly_under_inductor(magnitude):
    """Float32 gradients near the smallest normal and the largest finite number (the compiled executor's float64 sums
    hold their squares)."""
    nets = {}
    for compiled in (False, True):
        net, optimizer = make("momentum", 0.1)
        generator = torch.Generator().manual_seed(2)
        for p in net.parameters():
            p.grad = torch.randn(p.shape, generator=generator) * magnitude
        (torch.compile(optimizer.step) if compiled else optimizer.step)()
        nets[compiled] = [p.detach() for p in net.parameters()]
    assert all(torch.isfinite(p).all() for p in nets[True])
    for got, want in zip(nets[True], nets[False], strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_a_step_of_two_param_groups_compiles_once():
    """Every group's state is made by the first group's ``_init_group`` (one made by a later call would be made again
    in the traced step, replacing the buffer dynamo guards, and the second step would compile again)."""
    net = model()
    weights = [p for p in net.parameters() if p.ndim > 1]
    biases = [p for p in net.parameters() if p.ndim == 1]
    groups = [{"params": weights}, {"params": biases, "lr": torch.tensor(0.05)}]
    optimizer = layca_torch.Layca(groups, lr=torch.tensor(0.1), base="momentum", momentum=0.9)
    compiles = CompileCounter()
    run(torch.compile(optimizer.step, backend=compiles), net, optimizer)
    assert compiles.frame_count == 1
    assert not counters["graph_break"], dict(counters["graph_break"])
