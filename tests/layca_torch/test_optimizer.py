"""layca_torch.Layca against the core, hand-worked angles, training, resume, and torch rituals."""

import copy
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import layca_core  # noqa: E402
import layca_torch  # noqa: E402

BASES = {
    "sgd": {},
    "momentum": {"momentum": 0.9},
    "nesterov": {"momentum": 0.9},
    "amom": {},
    "adam": {},
    "rmsprop": {},
    "adagrad": {},
}


def make_model(seed=0, dtype=torch.float32):
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(4 * 4 * 4, 3)
    ).to(dtype)


def train(model, optimizer, steps=5, seed=1, scheduler=None):
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        x = torch.randn(8, 1, 6, 6, generator=generator, dtype=next(model.parameters()).dtype)
        optimizer.zero_grad()
        model(x).square().mean().backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()


def angle(a, b):
    return float(layca_core.step_angle(a.detach().double(), b.detach().double()))


@pytest.mark.parametrize("base", sorted(BASES))
def test_matches_the_core_step_by_step(base):
    model = make_model()
    reference = copy.deepcopy(model)
    optimizer = layca_torch.Layca(
        model.parameters(), lr=0.05, base=base, alpha=-0.4, other_lr=0.01, foreach=False, **BASES[base]
    )
    direction = layca_core.direction(base, **BASES[base])
    params = [p.detach().clone() for p in reference.parameters()]
    plan = layca_core.engine.LayerPlan.from_flags([p.ndim >= 2 for p in params], alpha=-0.4)
    norms = [
        None if n is None else float(n) for n in layca_core.engine.optimizer.initial_norms(params, plan)
    ]  # stored as floats
    states = [direction.init(p) for p in params]
    generator = torch.Generator().manual_seed(1)
    for _ in range(4):
        x = torch.randn(8, 1, 6, 6, generator=generator)
        optimizer.zero_grad()
        model(x).square().mean().backward()
        optimizer.step()
        reference.load_state_dict({k: v for k, v in zip(reference.state_dict(), params)})
        reference.zero_grad()
        reference(x).square().mean().backward()
        grads = [p.grad for p in reference.parameters()]
        params, states = layca_core.engine.optimizer_step(
            params, grads, states, norms, 0.05, plan, base=direction, other_rate=0.01, multi_tensor=False
        )
    for p, q in zip(model.parameters(), params):
        torch.testing.assert_close(p.detach(), q, rtol=0, atol=0)


@pytest.mark.parametrize("base", sorted(BASES))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_foreach_matches_the_core_path(base, dtype):
    fast, slow = make_model(dtype=dtype), make_model(dtype=dtype)
    options = {"lr": 0.2, "base": base, "alpha": 0.5, **BASES[base]}
    # bf16 base states round differently in the two orderings (1 ulp a step), which Adam's
    # m / sqrt(v) amplifies where v is tiny: compare 3 steps there (the conformance suite runs 20)
    steps = 3 if dtype == torch.bfloat16 else 20
    train(fast, layca_torch.Layca(fast.parameters(), foreach=True, **options), steps=steps)
    train(slow, layca_torch.Layca(slow.parameters(), foreach=False, **options), steps=steps)
    tolerance = {torch.float32: 2e-6, torch.float64: 1e-13, torch.bfloat16: 2**-5}[dtype]
    if base == "adam" and dtype == torch.float32:  # the core path's bias corrections are float32's (next test)
        tolerance = 1e-4
    for p, q in zip(fast.parameters(), slow.parameters()):
        torch.testing.assert_close(p, q, rtol=tolerance, atol=tolerance)


def test_the_default_adam_step_is_closer_to_float64_than_the_core_path():
    """torch's paths take Adam's bias corrections ``1 - beta^t`` in float64 (torch's fused Adam kernel on the CPU),
    the core's per-tensor form in the float32 counter (``1 - 0.999`` keeps 11 bits): after 20 steps the default
    path's weights stay within a few float32 ulps of a float64 run, the core path's drift further."""
    fast, slow = make_model(), make_model()
    truth = copy.deepcopy(fast).double()
    generator = torch.Generator().manual_seed(1)
    inputs = [torch.randn(8, 1, 6, 6, generator=generator) for _ in range(20)]
    for model, foreach in ((fast, True), (slow, False), (truth, False)):
        optimizer = layca_torch.Layca(model.parameters(), lr=0.2, base="adam", alpha=0.5, foreach=foreach)
        dtype = next(model.parameters()).dtype
        for x in inputs:
            optimizer.zero_grad()
            model(x.to(dtype)).square().mean().backward()
            optimizer.step()
    for p, q, t in zip(fast.parameters(), slow.parameters(), truth.parameters()):
        fast_error, slow_error = ((x.double() - t).abs().max() / t.abs().max() for x in (p, q))
        assert fast_error < 3e-6 and fast_error <= slow_error


@pytest.mark.parametrize("options", [{"other_lr": 0.03}, {"freeze_others": True}, {"maximize": True}], ids=str)
def test_foreach_treats_other_parameters_as_the_core_path(options):
    fast, slow = make_model(), make_model()
    biases = [p.detach().clone() for p in fast.parameters() if p.ndim == 1]
    train(fast, layca_torch.Layca(fast.parameters(), base="adam", foreach=True, **options))
    train(slow, layca_torch.Layca(slow.parameters(), base="adam", foreach=False, **options))
    for p, q in zip(fast.parameters(), slow.parameters()):
        torch.testing.assert_close(p, q, rtol=2e-6, atol=2e-6)
    moved = [not torch.equal(p.detach(), b) for p, b in zip([p for p in fast.parameters() if p.ndim == 1], biases)]
    assert moved == [not options.get("freeze_others", False)] * len(biases)


@pytest.mark.parametrize("foreach", [True, False])
def test_guards_on_both_paths(foreach):
    w = torch.nn.Parameter(torch.randn(5, 4, dtype=torch.float64))
    still = torch.nn.Parameter(torch.randn(3, 3, dtype=torch.float64))
    nan = torch.nn.Parameter(torch.randn(3, 2, dtype=torch.float64))
    optimizer = layca_torch.Layca([w, still, nan], lr=0.3, foreach=foreach)
    before = [p.detach().clone() for p in (w, still, nan)]
    w.grad, still.grad = torch.randn(5, 4, dtype=torch.float64), 2 * still.detach()
    nan.grad = torch.randn(3, 2, dtype=torch.float64)
    nan.grad[0, 0] = float("nan")
    optimizer.step()
    assert angle(before[0], w) == pytest.approx(math.atan(0.3), rel=1e-12)
    assert torch.equal(still.detach(), before[1])
    assert torch.isfinite(nan).all() and angle(before[2], nan) == pytest.approx(math.atan(0.3), rel=1e-12)


def test_per_layer_angles_follow_alpha():
    model = make_model(dtype=torch.float64)
    optimizer = layca_torch.Layca(model.parameters(), lr=0.1, alpha=0.6)
    layers = [model[0].weight, model[3].weight]
    before = [p.detach().clone() for p in layers]
    train(model, optimizer, steps=1)
    assert angle(before[0], layers[0]) == pytest.approx(math.atan(0.1 * 0.4**5), rel=1e-9)
    assert angle(before[1], layers[1]) == pytest.approx(math.atan(0.1), rel=1e-9)
    assert list(layca_torch.layer_angles(optimizer).values()) == pytest.approx(
        [math.atan(0.1 * 0.4**5), math.atan(0.1)]
    )


def test_norm_of_each_layer_stays_at_its_initial_value():
    model = make_model()
    norms = [p.norm().item() for p in model.parameters() if p.ndim >= 2]
    train(model, layca_torch.Layca(model.parameters(), base="adam"), steps=30)
    assert [p.norm().item() for p in model.parameters() if p.ndim >= 2] == pytest.approx(norms, rel=1e-6)


def test_loss_decreases_on_digits():
    datasets = pytest.importorskip("sklearn.datasets")
    x, y = datasets.load_digits(return_X_y=True)
    x, y = torch.tensor(x / 16, dtype=torch.float32), torch.tensor(y)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
    for layer in (model[0], model[2]):  # Layca keeps init norms: without BN they set the logits' scale
        torch.nn.init.kaiming_normal_(layer.weight)
    optimizer = layca_torch.Layca(model.parameters(), base="momentum", momentum=0.9)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[200], gamma=0.1)
    losses = []
    for step in range(300):
        batch = slice((step * 64) % 1700, (step * 64) % 1700 + 64)
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x[batch]), y[batch])
        loss.backward()
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
    assert np.mean(losses[-10:]) < 0.7 * np.mean(losses[:10])
    assert (model(x).argmax(1) == y).float().mean().item() > 0.9


@pytest.mark.parametrize("base", ["momentum", "adam"])
def test_state_dict_resume_reproduces_the_trajectory_exactly(base):
    straight, resumed = make_model(), make_model()
    options = {"lr": 0.05, "base": base, **BASES[base]}
    train(straight, layca_torch.Layca(straight.parameters(), **options), steps=10)
    first = layca_torch.Layca(resumed.parameters(), **options)
    train(resumed, first, steps=5)
    saved_model, saved_optimizer = copy.deepcopy(resumed.state_dict()), copy.deepcopy(first.state_dict())
    fresh = make_model(seed=7)
    fresh.load_state_dict(saved_model)
    second = layca_torch.Layca(fresh.parameters(), **options)
    second.load_state_dict(saved_optimizer)
    generator_state = torch.Generator().manual_seed(1)
    for _ in range(5):  # the batches the first run consumed
        torch.randn(8, 1, 6, 6, generator=generator_state)
    for _ in range(5):
        x = torch.randn(8, 1, 6, 6, generator=generator_state)
        second.zero_grad()
        fresh(x).square().mean().backward()
        second.step()
    for p, q in zip(straight.parameters(), fresh.parameters()):
        assert torch.equal(p, q)


def test_scheduled_lr_is_the_rotation_rate():
    model = make_model(dtype=torch.float64)
    optimizer = layca_torch.Layca(model.parameters(), lr=0.2)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    train(model, optimizer, steps=1, scheduler=scheduler)
    before = model[0].weight.detach().clone()
    train(model, optimizer, steps=1)
    assert angle(before, model[0].weight) == pytest.approx(math.atan(0.1), rel=1e-9)


def test_grad_scaler_gives_the_unscaled_step():
    plain, scaled = make_model(), make_model()
    train(plain, layca_torch.Layca(plain.parameters()), steps=3)
    optimizer = layca_torch.Layca(scaled.parameters())
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    generator = torch.Generator().manual_seed(1)
    for _ in range(3):
        optimizer.zero_grad()
        scaler.scale(scaled(torch.randn(8, 1, 6, 6, generator=generator)).square().mean()).backward()
        scaler.step(optimizer)
        scaler.update()
    for p, q in zip(plain.parameters(), scaled.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_16_bit_parameters(dtype):
    model = make_model(dtype=dtype)
    layer = model[0].weight
    norm, before = layer.float().norm().item(), layer.detach().clone()
    train(model, layca_torch.Layca(model.parameters(), lr=0.1, base="adam"), steps=1)
    assert layer.dtype == dtype
    assert layer.float().norm().item() == pytest.approx(norm, rel=2e-2)
    assert angle(before, layer) == pytest.approx(math.atan(0.1), abs=2e-2)


def test_compiled_training_step_matches_eager():
    eager, compiled = make_model(), make_model()
    eager_optimizer, compiled_optimizer = (
        layca_torch.Layca(eager.parameters()),
        layca_torch.Layca(compiled.parameters()),
    )

    def step(model, optimizer, x):
        optimizer.zero_grad()
        model(x).square().mean().backward()
        optimizer.step()

    compiled_step = torch.compile(step)
    generator = torch.Generator().manual_seed(1)
    for _ in range(3):
        x = torch.randn(8, 1, 6, 6, generator=generator)
        step(eager, eager_optimizer, x)
        compiled_step(compiled, compiled_optimizer, x)
    for p, q in zip(eager.parameters(), compiled.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)


def test_closure_and_maximize():
    w = torch.nn.Parameter(torch.tensor([[1.0, 0.0]], dtype=torch.float64))
    optimizer = layca_torch.Layca([w], lr=1.0, maximize=True)

    def closure():
        optimizer.zero_grad()
        loss = (w * torch.tensor([[0.0, 1.0]], dtype=torch.float64)).sum()
        loss.backward()
        return loss

    assert optimizer.step(closure).item() == 0.0
    torch.testing.assert_close(w.detach(), torch.tensor([[1.0, 1.0]], dtype=torch.float64) / math.sqrt(2))


def test_freeze_others_and_other_lr():
    model = make_model()
    biases = [p.detach().clone() for p in model.parameters() if p.ndim < 2]
    train(model, layca_torch.Layca(model.parameters(), freeze_others=True), steps=2)
    assert all(torch.equal(b, p) for b, p in zip(biases, [p for p in model.parameters() if p.ndim < 2]))
    optimizer = layca_torch.Layca(model.parameters(), lr=0.1, other_lr=0.01)
    assert len(optimizer.param_groups) == 1 and optimizer.param_groups[0]["other_lr"] == 0.01
    biases = [p.detach().clone() for p in model.parameters() if p.ndim < 2]
    model.zero_grad()
    model(torch.randn(8, 1, 6, 6)).square().mean().backward()
    optimizer.step()
    moved = [p for p in model.parameters() if p.ndim < 2]
    assert all(torch.allclose(p, b - 0.01 * p.grad) for p, b in zip(moved, biases))


def test_user_errors_are_explained():
    model = make_model()
    torch.nn.init.zeros_(model[3].weight)
    optimizer = layca_torch.Layca(model.named_parameters(), base="adam")
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(ValueError, match=r"all zero: 3\.weight\. .*must be excluded.* layca=False"):
        train(model, optimizer, steps=1)  # at the first step, before any parameter or state changes
    assert all(torch.equal(p, b) for p, b in zip(model.parameters(), before)) and not optimizer.state
    model = make_model()
    with pytest.raises(ValueError, match="Unknown base 'sgdw'"):
        layca_torch.Layca(model.parameters(), base="sgdw")
    with pytest.raises(ValueError, match="lr must be a finite number >= 0; got -1"):
        layca_torch.Layca(model.parameters(), lr=-1)
    with pytest.raises(ValueError, match="alpha must lie strictly between -1 and 1"):
        layca_torch.Layca(model.parameters(), alpha=1)
    with pytest.raises(ValueError, match="Unknown variant 'lrs'"):
        layca_torch.Layca(model.parameters(), variant="lrs")


def test_lars_variant_through_the_optimizer():
    model = make_model(dtype=torch.float64)
    layer = model[0].weight
    before = layer.detach().clone()
    norm0 = before.norm().item()
    train(model, layca_torch.Layca(model.parameters(), lr=0.1, variant="lars"), steps=1)
    assert layer.norm().item() <= norm0 * (1 + 1e-4) + 1e-12


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("foreach", [True, False])
def test_cuda_matches_cpu(foreach):
    cpu, cuda = make_model(), make_model().cuda()
    train(cpu, layca_torch.Layca(cpu.parameters(), base="momentum", foreach=foreach), steps=5)
    generator = torch.Generator().manual_seed(1)
    optimizer = layca_torch.Layca(cuda.parameters(), base="momentum", foreach=foreach)
    for _ in range(5):
        optimizer.zero_grad()
        cuda(torch.randn(8, 1, 6, 6, generator=generator).cuda()).square().mean().backward()
        optimizer.step()
    for p, q in zip(cpu.parameters(), cuda.parameters()):
        torch.testing.assert_close(p, q.cpu(), rtol=1e-4, atol=1e-5)
