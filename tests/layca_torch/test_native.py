"""``layca_torch.Layca`` under the checks torch runs on its own optimizers (``OptimizerInfo``-style).

Every entry of ``INFOS`` (each base, both paths) goes through state-dict round trips, deepcopy
and pickle, per-group options, hooks, tensor lr and schedulers. Not applicable to a rotation
optimizer: complex parameters (refused: a complex layer has no real sphere to turn on) and
convergence of a layer to a minimum off its sphere (the norm is fixed by design).
"""

import copy
import io
import math
from dataclasses import dataclass, field

import pytest
import torch

import layca_core
import layca_torch


@dataclass(frozen=True)
class Info:
    base: str
    foreach: bool
    hyperparameters: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.base}-{'foreach' if self.foreach else 'forloop'}"

    def make(self, params, **options):
        return layca_torch.Layca(params, base=self.base, foreach=self.foreach, **self.hyperparameters, **options)


HYPERPARAMETERS = {"momentum": {"momentum": 0.8}, "nesterov": {"momentum": 0.7}, "adam": {"betas": (0.8, 0.99)}}
INFOS = [
    Info(base, foreach, HYPERPARAMETERS.get(base, {}))
    for base in sorted(layca_core.DIRECTIONS)
    for foreach in (True, False)
]


def model(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2))


def train(net, optimizer, steps=3, seed=1, scheduler=None):
    """``steps`` steps of one optimizer, or of several stepped together."""
    optimizers = optimizer if isinstance(optimizer, list) else [optimizer]
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        net.zero_grad()
        net(torch.randn(6, 3, generator=generator)).square().mean().backward()
        for each in optimizers:
            each.step()
        if scheduler is not None:
            scheduler.step()


def weights(net):
    return [p.detach().clone() for p in net.parameters()]


def angle(before, after):
    """The angle between two weight tensors, in float64."""
    return float(layca_core.step_angle(before.double().numpy(), after.detach().double().numpy()))


def assert_same(a, b):
    assert all(torch.equal(x, y) for x, y in zip(a, b))


@pytest.fixture(params=INFOS, ids=lambda info: info.id)
def info(request):
    return request.param


def test_state_dict_round_trip_continues_the_run(info):
    net, twin = model(), model()
    optimizer = info.make(net.parameters(), lr=0.05)
    train(net, optimizer)
    twin.load_state_dict(net.state_dict())
    resumed = info.make(twin.parameters(), lr=0.3)
    resumed.load_state_dict(copy.deepcopy(optimizer.state_dict()))
    assert resumed.param_groups[0]["lr"] == 0.05
    train(net, optimizer, seed=2)
    train(twin, resumed, seed=2)
    assert_same(weights(net), weights(twin))


@pytest.mark.parametrize("how", ["deepcopy", "torch.save"])
def test_copied_optimizer_steps_like_the_original(info, how):
    net = model()
    optimizer = info.make(net.parameters(), lr=0.05)
    train(net, optimizer)
    if how == "deepcopy":
        twin, twin_optimizer = copy.deepcopy((net, optimizer))
    else:
        buffer = io.BytesIO()
        torch.save((net, optimizer), buffer)
        twin, twin_optimizer = torch.load(io.BytesIO(buffer.getvalue()), weights_only=False)
    train(net, optimizer, seed=2)
    train(twin, twin_optimizer, seed=2)
    assert_same(weights(net), weights(twin))


def test_named_state_dict_round_trip(info):
    net, twin = model(), model()
    optimizer = info.make(net.named_parameters(), lr=0.05)
    train(net, optimizer)
    saved = copy.deepcopy(optimizer.state_dict())  # as torch's tests do: the foreach path updates state in place
    assert saved["param_groups"][0]["param_names"] == [n for n, _ in net.named_parameters()]
    twin.load_state_dict(net.state_dict())
    resumed = info.make(twin.named_parameters(), lr=0.05)
    resumed.load_state_dict(saved)
    train(net, optimizer, seed=2)
    train(twin, resumed, seed=2)
    assert_same(weights(net), weights(twin))


def test_each_group_runs_with_its_own_options(info):
    """Two groups with their own lr and base equal two optimizers, one per group (alpha 0: multipliers 1)."""
    net, twin = model(), model()
    other = "adam" if info.base != "adam" else "momentum"
    groups = [
        {"params": net[0].parameters(), "lr": 0.02},
        {"params": net[2].parameters(), "lr": 0.07, "base": other},
    ]
    train(net, info.make(groups))
    first = info.make(twin[0].parameters(), lr=0.02)
    train(twin, [first, layca_torch.Layca(twin[2].parameters(), lr=0.07, base=other, foreach=info.foreach)])
    assert_same(weights(net), weights(twin))


def test_len_param_groups_is_what_the_user_passed_and_lambda_lr_takes_one_lambda_each(info):
    net = model()
    optimizer = info.make([{"params": net[0].parameters()}, {"params": net[2].parameters()}], lr=0.1)
    assert len(optimizer.param_groups) == 2
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, [lambda e: 0.5**e, lambda e: 1.0])
    train(net, optimizer, steps=2, scheduler=scheduler)
    assert [g["lr"] for g in optimizer.param_groups] == [0.025, 0.1]


def test_tensor_lr_matches_float_lr(info):
    net, twin = model(), model()
    train(net, info.make(net.parameters(), lr=0.05))
    train(twin, info.make(twin.parameters(), lr=torch.tensor(0.05)))
    for a, b in zip(weights(net), weights(twin)):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


def test_step_hooks_run_around_each_step(info):
    net = model()
    optimizer = info.make(net.parameters())
    calls = []
    optimizer.register_step_pre_hook(lambda opt, args, kwargs: calls.append("pre"))
    optimizer.register_step_post_hook(lambda opt, args, kwargs: calls.append("post"))
    optimizer.register_state_dict_post_hook(lambda opt, sd: calls.append("state_dict"))
    train(net, optimizer, steps=2)
    optimizer.state_dict()
    assert calls == ["pre", "post", "pre", "post", "state_dict"]


def test_closure_loss_is_returned(info):
    net = model()
    optimizer = info.make(net.parameters())
    x = torch.randn(4, 3)

    def closure():
        optimizer.zero_grad()
        loss = net(x).square().mean()
        loss.backward()
        return loss

    expected = net(x).square().mean().detach()
    assert torch.equal(optimizer.step(closure).detach(), expected)
    assert not torch.equal(net(x).square().mean().detach(), expected)


@pytest.mark.parametrize(
    "make_scheduler",
    [
        lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=1, gamma=0.5),
        lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=4),
        lambda o: torch.optim.lr_scheduler.ReduceLROnPlateau(o),
    ],
    ids=["StepLR", "CosineAnnealingLR", "ReduceLROnPlateau"],
)
def test_lr_schedulers_schedule_the_rotation(make_scheduler):
    net = model()
    optimizer = layca_torch.Layca(net.parameters(), lr=0.1, base="momentum")
    scheduler = make_scheduler(optimizer)
    for _ in range(3):
        before = net[0].weight.detach().clone()
        train(net, optimizer, steps=1)
        assert angle(before, net[0].weight) == pytest.approx(math.atan(optimizer.param_groups[0]["lr"]), rel=1e-5)
        scheduler.step(1.0) if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau) else scheduler.step()


@pytest.mark.parametrize("base,key", [("momentum", "momentum"), ("nesterov", "momentum"), ("adam", "betas")])
def test_one_cycle_lr_cycles_momentum_and_the_step_uses_it(base, key):
    net, twin = model(), model()
    optimizer = layca_torch.Layca(net.parameters(), base=base)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=10)
    values = []
    for _ in range(3):
        values.append(optimizer.param_groups[0][key])
        train(net, optimizer, steps=1, seed=len(values))
        scheduler.step()
    assert len({str(v) for v in values}) == 3
    fixed = layca_torch.Layca(twin.parameters(), base=base)
    fixed_scheduler = torch.optim.lr_scheduler.OneCycleLR(fixed, max_lr=0.1, total_steps=10, cycle_momentum=False)
    for seed in (1, 2, 3):
        train(twin, fixed, steps=1, seed=seed)
        fixed_scheduler.step()
    assert not torch.equal(net[0].weight, twin[0].weight)


def test_a_group_momentum_changes_the_step():
    nets = [model(), model()]
    for net, momentum in zip(nets, (0.0, 0.9)):
        optimizer = layca_torch.Layca(net.parameters(), base="momentum")
        optimizer.param_groups[0]["momentum"] = momentum
        train(net, optimizer)
    assert not torch.equal(nets[0][0].weight, nets[1][0].weight)


def test_parameters_without_layers_take_the_plain_base_step():
    w = torch.nn.Parameter(torch.tensor([1.0, 1.0]))
    optimizer = layca_torch.Layca([w], lr=0.1)
    w.grad = torch.tensor([1.0, -2.0])
    optimizer.step()
    assert torch.equal(w.detach(), torch.tensor([0.9, 1.2]))


def test_a_python_number_step_loads_and_continues(info):
    net, twin = model(), model()
    optimizer = info.make(net.parameters(), lr=0.05)
    train(net, optimizer)
    saved = copy.deepcopy(optimizer.state_dict())
    for state in saved["state"].values():
        if "step" in state:
            state["step"] = int(state["step"])
    twin.load_state_dict(net.state_dict())
    resumed = info.make(twin.parameters(), lr=0.05)
    resumed.load_state_dict(saved)
    train(net, optimizer, seed=2)
    train(twin, resumed, seed=2)
    for a, b in zip(weights(net), weights(twin)):
        torch.testing.assert_close(a, b)


def test_checkpoints_that_do_not_fit_are_refused_before_loading():
    net = model()
    momentum = layca_torch.Layca(net.named_parameters(), base="momentum")
    train(net, momentum, steps=1)
    saved = momentum.state_dict()
    sgd = layca_torch.Layca(net.named_parameters(), base="sgd")
    before = copy.deepcopy(sgd.state_dict())
    with pytest.raises(
        ValueError, match="base 'momentum' and this optimizer's uses 'sgd'; give that group base='momentum'"
    ):
        sgd.load_state_dict(saved)
    assert sgd.state_dict() == before
    sgd_saved = sgd.state_dict()
    with pytest.raises(ValueError, match="base 'sgd' and this optimizer's uses 'adam'"):
        layca_torch.Layca(net.named_parameters(), base="adam").load_state_dict(sgd_saved)
    del saved["state"][2]  # a layer without a saved norm reads its own at its next step
    resumed = layca_torch.Layca(net.named_parameters(), base="momentum")
    resumed.load_state_dict(saved)
    with torch.no_grad():
        net[2].weight.mul_(2.0)
    norm = float(net[2].weight.norm())
    train(net, resumed, steps=1)
    assert float(net[2].weight.norm()) == pytest.approx(norm, rel=1e-6)
    saved = copy.deepcopy(momentum.state_dict())
    saved["param_groups"][0]["base"] = "sgd"
    with pytest.raises(ValueError, match="state of 0.weight holds momentum, where base 'sgd' keeps nothing"):
        sgd.load_state_dict(saved)


def test_user_errors_name_the_parameter():
    net = model()
    with pytest.raises(ValueError, match=r"lists parameter 1 \(shape \(5, 3\)\) twice"):
        layca_torch.Layca([net[0].weight, net[0].weight])
    with pytest.raises(TypeError, match="calls 'b1' 'betas'; pass betas="):
        layca_torch.Layca(net.parameters(), base="adam", b1=0.9)
    with pytest.raises(ValueError, match=r"Base 'adam' needs 0 <= betas\[0\] < 1; got betas\[0\]=1.5"):
        layca_torch.Layca(net.parameters(), base="adam", betas=(1.5, 0.9))
    with pytest.raises(TypeError, match="Base 'sgd' takes no hyperparameters; got 'momentum'"):
        layca_torch.Layca(net.parameters(), momentum=0.9)
    with pytest.raises(TypeError, match="Base 'adam' takes betas, eps; got 'momentum'"):
        layca_torch.Layca([{"params": net.parameters(), "base": "adam", "momentum": 0.9}])
    with pytest.raises(TypeError, match="real floating-point parameters; w is torch.complex64"):
        layca_torch.Layca([{"params": [torch.zeros(2, 2, dtype=torch.complex64)], "param_names": ["w"]}])
    with pytest.raises(TypeError, match="w is torch.int64"):
        layca_torch.Layca([{"params": [torch.ones(2, 2, dtype=torch.int64)], "param_names": ["w"]}])
    with pytest.raises(ValueError, match="The Layca layer w has no elements"):
        layca_torch.Layca([{"params": [torch.ones(0, 2)], "param_names": ["w"]}])
    embedding = torch.nn.Embedding(4, 3, sparse=True)
    optimizer = layca_torch.Layca(embedding.named_parameters())
    embedding(torch.tensor([1, 2])).sum().backward()
    with pytest.raises(RuntimeError, match="sparse gradients; weight has one"):
        optimizer.step()


def test_meta_parameters_are_refused_until_materialized():
    with torch.device("meta"):
        net = model()
    with pytest.raises(
        ValueError, match="0.weight is on the meta device; build the optimizer once the model is materialized"
    ):
        layca_torch.Layca(net.named_parameters())


def test_the_wrapper_is_an_optimizer_that_schedulers_and_hooks_accept():
    net = model()
    wrapped = layca_torch.LaycaWrapper(torch.optim.Adam(net.parameters(), lr=1e-3), lr=0.1)
    assert isinstance(wrapped, torch.optim.Optimizer)
    scheduler = torch.optim.lr_scheduler.StepLR(wrapped, step_size=1, gamma=0.5)
    calls = []
    wrapped.register_step_post_hook(lambda opt, args, kwargs: calls.append("post"))
    for expected in (0.1, 0.05):
        before = net[0].weight.detach().clone()
        train(net, wrapped, steps=1)
        assert angle(before, net[0].weight) == pytest.approx(math.atan(expected), rel=1e-5)
        scheduler.step()
    assert calls == ["post", "post"]
    twin = copy.deepcopy((net, wrapped))
    train(net, wrapped, seed=3, steps=1)
    train(twin[0], twin[1], seed=3, steps=1)
    assert_same(weights(net), weights(twin[0]))


def test_a_non_finite_batch_does_not_poison_the_wrapped_optimizer():
    net, twin = model(), model()
    wrapped = layca_torch.LaycaWrapper(torch.optim.Adam(net.parameters(), lr=1e-3), lr=0.1, layers=[net[0].weight])
    train(net, wrapped, steps=1)
    wrapped.zero_grad()
    net(torch.randn(2, 3)).sum().backward()
    net[0].weight.grad[0, 0] = math.nan
    wrapped.step()
    train(net, wrapped, steps=2, seed=4)
    assert all(torch.isfinite(s).all() for state in wrapped.state.values() for s in state.values())
    assert torch.isfinite(net[0].weight).all() and not torch.equal(net[0].weight, twin[0].weight)


def test_a_refused_param_group_leaves_the_optimizer_as_it_was():
    net = model()
    optimizer = layca_torch.Layca(net[0].parameters())
    with pytest.raises(TypeError, match="takes no hyperparameters"):
        optimizer.add_param_group({"params": net[2].parameters(), "momentum": 0.9})
    assert len(optimizer.param_groups) == 1
    optimizer.add_param_group({"params": net[2].parameters(), "base": "adam", "betas": (0.5, 0.9)})
    assert optimizer.param_groups[1]["betas"] == (0.5, 0.9) and "betas" not in optimizer.param_groups[0]
    train(net, optimizer)
    assert set(optimizer.state[net[2].weight]) == {"init_norm", "step", "mu", "nu"}


def test_a_checkpoint_of_the_previous_release_loads_with_this_optimizers_missing_keys():
    net = model()
    optimizer = layca_torch.Layca(net.parameters(), base="adam", alpha=0.2)
    train(net, optimizer, steps=1)
    saved = copy.deepcopy(optimizer.state_dict())
    for group in saved["param_groups"]:
        for key in ("betas", "alpha", "other_lr", "freeze_others"):
            del group[key]
        group["freeze"] = True
    resumed = layca_torch.Layca(net.parameters(), base="adam", alpha=0.2)
    resumed.load_state_dict(saved)
    group = resumed.param_groups[0]
    assert group["betas"] == optimizer.defaults["betas"] and group["alpha"] == 0.2 and group["freeze_others"] is True
    train(net, resumed, steps=1)


def test_groups_carry_keys_of_their_own_and_the_constructor_refuses_unknown_keywords():
    net = model()
    optimizer = layca_torch.Layca([{"params": net.parameters(), "name": "all", "initial_lr": 0.1}])
    assert optimizer.param_groups[0]["name"] == "all"
    with pytest.raises(TypeError, match="Base 'sgd' takes no hyperparameters; got 'amsgrad'"):
        layca_torch.Layca(net.parameters(), amsgrad=True)
    with pytest.raises(TypeError, match="Layca has no capturable mode .*: remove capturable="):
        layca_torch.Layca(net.parameters(), capturable=True)


def test_a_group_of_another_base_inherits_the_constructors_shared_hyperparameters():
    net = model()
    groups = [{"params": net[0].parameters()}, {"params": net[2].parameters(), "base": "nesterov"}]
    optimizer = layca_torch.Layca(groups, base="momentum", momentum=0.5)
    assert [g["momentum"] for g in optimizer.param_groups] == [0.5, 0.5]


def test_changing_alpha_or_layca_after_construction_takes_effect():
    net = model()
    optimizer = layca_torch.Layca(net.parameters(), alpha=0.0)
    train(net, optimizer, steps=1)
    optimizer.param_groups[0]["alpha"] = 0.5
    assert list(optimizer.layer_multipliers().values()) == list(
        layca_torch.Layca(model().parameters(), alpha=0.5).layer_multipliers().values()
    )
    bias = net[0].bias
    optimizer.param_groups[0]["layca"] = True
    norm = float(bias.norm())
    train(net, optimizer, steps=2)
    assert float(bias.norm()) == pytest.approx(norm, rel=1e-6)


def test_the_wrapper_refuses_repeated_layers_and_follows_a_scheduler_built_before_it():
    net = model()
    inner = torch.optim.SGD([{"params": net[0].parameters()}, {"params": net[2].parameters(), "lr": 0.0}], lr=0.1)
    scheduler = torch.optim.lr_scheduler.LinearLR(inner, start_factor=0.5, total_iters=1)
    with pytest.raises(ValueError, match="lists a layer twice"):
        layca_torch.LaycaWrapper(inner, lr=0.01, layers=[net[0].weight, net[0].weight])
    wrapped = layca_torch.LaycaWrapper(inner, lr=0.01, layers=[net[0].weight])
    scheduler.step()
    before = net[0].weight.detach().clone()
    train(net, wrapped, steps=1)
    assert angle(before, net[0].weight) == pytest.approx(math.atan(0.01), rel=1e-5)
