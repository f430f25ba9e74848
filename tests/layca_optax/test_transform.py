"""layca_optax against the core and hand-worked angles; jit, schedules, masks, stacks (sharded runs:
``test_sharding.py``; the monitor: ``test_monitor.py``)."""

import math

import numpy as np
import pytest

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
import jax.numpy as jnp  # noqa: E402

import layca_core  # noqa: E402
import layca_optax  # noqa: E402


def make_params(seed=0, dtype=jnp.float32):
    keys = jax.random.split(jax.random.key(seed), 3)
    return {
        "conv": {"kernel": jax.random.normal(keys[0], (3, 3, 2, 4), dtype), "bias": jnp.zeros(4, dtype)},
        "dense": {"kernel": jax.random.normal(keys[1], (8, 5), dtype)},
    }


def grads_like(params, seed):
    leaves, treedef = jax.tree.flatten(params)
    keys = jax.random.split(jax.random.key(seed), len(leaves))
    return jax.tree.unflatten(treedef, [jax.random.normal(k, x.shape, x.dtype) for k, x in zip(keys, leaves)])


def angle(a, b):
    return float(layca_core.step_angle(np.asarray(a, np.float64), np.asarray(b, np.float64)))


@pytest.mark.parametrize("base", ["sgd", "momentum", "adam", "rmsprop"])
def test_layca_matches_the_core_up_to_the_additive_update(base):
    """Optax returns ``new - params``; adding it back costs at most an ulp of the weights in float32."""
    params = make_params()
    optimizer = layca_optax.layca(0.1, base, alpha=0.4, other_learning_rate=0.01)
    state = optimizer.init(params)
    leaves = jax.tree.leaves(params)
    plan = layca_core.engine.LayerPlan.from_flags([x.ndim >= 2 for x in leaves], alpha=0.4)
    direction = layca_core.direction(base)
    core_params, core_states = list(leaves), [direction.init(x) for x in leaves]
    norms = layca_core.engine.optimizer.initial_norms(core_params, plan)
    for step in range(5):
        grads = grads_like(params, step)
        updates, state = optimizer.update(grads, state, params)
        params = optax.apply_updates(params, updates)
        core_params, core_states = layca_core.engine.optimizer_step(
            core_params, jax.tree.leaves(grads), core_states, norms, 0.1, plan, base=direction, other_rate=0.01
        )
        for got, want in zip(jax.tree.leaves(params), core_params):
            np.testing.assert_allclose(
                got, want, rtol=0, atol=float(jnp.finfo(jnp.float32).eps) * float(jnp.abs(want).max())
            )


def test_scale_by_layca_after_adam_turns_each_layer_by_arctan_rate():
    params = make_params()
    optimizer = optax.chain(optax.scale_by_adam(), layca_optax.scale_by_layca(3**-5, alpha=-0.5))
    state = optimizer.init(params)
    updates, state = optimizer.update(grads_like(params, 1), state, params)
    new = optax.apply_updates(params, updates)
    assert angle(params["conv"]["kernel"], new["conv"]["kernel"]) == pytest.approx(math.atan(3**-5), rel=1e-4)
    assert angle(params["dense"]["kernel"], new["dense"]["kernel"]) == pytest.approx(
        math.atan(3**-5 * 0.5**5), rel=1e-3
    )
    assert float(jnp.linalg.norm(new["dense"]["kernel"])) == pytest.approx(
        float(jnp.linalg.norm(params["dense"]["kernel"])), rel=1e-6
    )


def test_update_without_params_is_refused():
    optimizer = layca_optax.scale_by_layca()
    params = make_params()
    with pytest.raises(ValueError, match="Layca needs the current weights"):
        optimizer.update(params, optimizer.init(params))


def test_jit_compiles_once():
    traces = []
    optimizer = layca_optax.layca(0.1, "momentum")
    params = make_params()

    @jax.jit
    def step(params, state, grads):
        traces.append(1)
        updates, state = optimizer.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    state = optimizer.init(params)
    for seed in range(3):
        params, state = step(params, state, grads_like(params, seed))
    assert len(traces) == 1


def test_schedule_sets_the_rate_by_step_count():
    schedule = optax.piecewise_constant_schedule(0.2, {2: 0.5})
    optimizer = layca_optax.layca(schedule)
    params = make_params()
    state = optimizer.init(params)
    angles = []
    for seed in range(3):
        updates, state = optimizer.update(grads_like(params, seed), state, params)
        new = optax.apply_updates(params, updates)
        angles.append(angle(params["dense"]["kernel"], new["dense"]["kernel"]))
        params = new
    assert angles == pytest.approx([math.atan(0.2), math.atan(0.2), math.atan(0.1)], rel=1e-5)


def test_inject_hyperparams_changes_the_rate():
    optimizer = optax.inject_hyperparams(layca_optax.layca, static_args=("base", "alpha"))(
        learning_rate=0.3, base="momentum"
    )
    params = make_params()
    state = optimizer.init(params)
    state.hyperparams["learning_rate"] = jnp.asarray(0.05)
    updates, state = optimizer.update(grads_like(params, 0), state, params)
    new = optax.apply_updates(params, updates)
    assert angle(params["dense"]["kernel"], new["dense"]["kernel"]) == pytest.approx(math.atan(0.05), rel=1e-5)


def test_masks_freeze_and_other_learning_rate():
    params = make_params()
    mask = {"conv": {"kernel": False, "bias": False}, "dense": {"kernel": True}}
    frozen = layca_optax.layca(0.1, layers=mask, freeze_others=True)
    updates, _ = frozen.update(grads_like(params, 0), frozen.init(params), params)
    assert not jnp.any(updates["conv"]["kernel"]) and not jnp.any(updates["conv"]["bias"])
    plain = layca_optax.scale_by_layca(
        0.1, layers=lambda p: jax.tree.map(lambda x: x.ndim == 2, p), other_learning_rate=0.5
    )
    grads = grads_like(params, 0)
    updates, _ = plain.update(grads, plain.init(params), params)
    np.testing.assert_allclose(updates["conv"]["kernel"], -0.5 * grads["conv"]["kernel"])


def test_stacked_layers_turn_slice_by_slice_in_order():
    params = {
        "blocks": jax.random.normal(jax.random.key(0), (3, 6, 6)),
        "head": jax.random.normal(jax.random.key(1), (6, 2)),
    }
    optimizer = layca_optax.layca(
        0.2, alpha=0.5, stacked={"blocks": True, "head": False}, order=["['blocks']", "['head']"]
    )
    state = optimizer.init(params)
    assert state.init_norms.shape == (4,)
    updates, _ = optimizer.update(grads_like(params, 3), state, params)
    new = optax.apply_updates(params, updates)
    multipliers = layca_core.alpha_multipliers(4, 0.5)
    for i in range(3):
        assert angle(params["blocks"][i], new["blocks"][i]) == pytest.approx(math.atan(0.2 * multipliers[i]), rel=1e-4)
        assert float(jnp.linalg.norm(new["blocks"][i])) == pytest.approx(
            float(jnp.linalg.norm(params["blocks"][i])), rel=1e-6
        )
    reversed_order = layca_optax.layca(
        0.2, alpha=0.5, stacked={"blocks": True, "head": False}, order=["['head']", "['blocks']"]
    )
    updates, _ = reversed_order.update(grads_like(params, 3), reversed_order.init(params), params)
    new = optax.apply_updates(params, updates)
    assert angle(params["head"], new["head"]) == pytest.approx(math.atan(0.2 * multipliers[0]), rel=1e-3)


def test_user_errors_are_explained():
    params = make_params()
    zero = {**params, "dense": {"kernel": jnp.zeros((8, 5))}}
    with pytest.raises(ValueError, match=r"all zero: \['dense'\]\['kernel'\]\. .*Leave it out .* with `layers=`"):
        layca_optax.layca(0.1).init(zero)
    with pytest.raises(ValueError, match="`order` must list every layer path exactly once"):
        layca_optax.layca(0.1, order=["['dense']['kernel']"]).init(params)
    with pytest.raises(ValueError, match="one boolean per parameter leaf"):
        layca_optax.layca(0.1, layers={"dense": True}).init(params)
    with pytest.raises(ValueError, match="learning_rate must be a finite number >= 0"):
        layca_optax.layca(-0.1)


def test_plain_jax_training_loop_learns_digits():
    datasets = pytest.importorskip("sklearn.datasets")
    x, y = datasets.load_digits(return_X_y=True)
    x, y = jnp.asarray(x / 16, jnp.float32), jnp.asarray(y)
    keys = jax.random.split(jax.random.key(0), 2)
    params = {
        "w1": jax.random.normal(keys[0], (64, 64)) * math.sqrt(2 / 64),
        "b1": jnp.zeros(64),
        "w2": jax.random.normal(keys[1], (64, 10)) * math.sqrt(2 / 64),
    }

    def loss_fn(p, xb, yb):
        logits = jax.nn.relu(xb @ p["w1"] + p["b1"]) @ p["w2"]
        return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()

    optimizer = layca_optax.layca(optax.piecewise_constant_schedule(3**-3, {200: 0.1}), "momentum")
    state = optimizer.init(params)

    @jax.jit
    def step(p, s, xb, yb):
        loss, grads = jax.value_and_grad(loss_fn)(p, xb, yb)
        updates, s = optimizer.update(grads, s, p)
        return optax.apply_updates(p, updates), s, loss

    losses = []
    for i in range(300):
        batch = slice((i * 64) % 1700, (i * 64) % 1700 + 64)
        params, state, loss = step(params, state, x[batch], y[batch])
        losses.append(float(loss))
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10])
    logits = jax.nn.relu(x @ params["w1"] + params["b1"]) @ params["w2"]
    assert float((logits.argmax(1) == y).mean()) > 0.9


@pytest.mark.parametrize("base", ["momentum", "adam"])
def test_a_decaying_base_step_keeps_turning_the_layer_under_jit(base):
    """Gradients become exactly zero; the base step decays for hundreds of steps without overflow."""
    params = {"w": jax.random.normal(jax.random.key(0), (64, 64)) * 0.05}
    optimizer = layca_optax.layca(0.1, base)
    state = optimizer.init(params)
    step = jax.jit(lambda p, s, g: optimizer.update(g, s, p))
    noise = jax.random.normal(jax.random.key(1), (64, 64)) * 1e-3
    for t in range(400):
        before = params["w"]
        updates, state = step(params, state, {"w": noise if t < 5 else jnp.zeros((64, 64))})
        params = optax.apply_updates(params, updates)
    assert bool(jnp.isfinite(params["w"]).all())
    assert angle(before, params["w"]) == pytest.approx(math.atan(0.1), rel=1e-4)


@pytest.mark.parametrize("exponent", [-37, -30, -20, 0, 20, 30, 37])
def test_any_finite_gradient_scale_turns_the_layer_under_jit(exponent):
    params = make_params()
    optimizer = layca_optax.layca(0.1, "sgd")
    grads = jax.tree.map(lambda g: g * 10.0**exponent, grads_like(params, 4))
    updates, _ = jax.jit(optimizer.update)(grads, optimizer.init(params), params)
    new = optax.apply_updates(params, updates)
    assert angle(params["dense"]["kernel"], new["dense"]["kernel"]) == pytest.approx(math.atan(0.1), rel=1e-4)
