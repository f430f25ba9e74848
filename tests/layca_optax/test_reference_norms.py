"""A layer's reference norm is read at the first update, not at ``init``; ``reset_layer_norms`` re-anchors it.

Fine-tuning order: ``state = tx.init(random_params)`` followed by pretrained or restored
parameters must turn the restored layers on their own sphere, in every Optax composition and under jit.
"""

import numpy as np
import pytest

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
import jax.numpy as jnp  # noqa: E402

import layca_optax  # noqa: E402

LAYERS = ("v", "w")  # tree-flatten order, as in the state's norm vector
MASK = {"w": True, "v": True, "b": False}
OPTIMIZERS = {
    "layca": lambda: layca_optax.layca(0.1, "momentum"),
    "scale_by_layca": lambda: optax.chain(optax.scale_by_adam(), layca_optax.scale_by_layca(0.1)),
    "inject_hyperparams": lambda: optax.inject_hyperparams(layca_optax.layca)(learning_rate=0.1, base="adam"),
    "masked": lambda: optax.masked(layca_optax.layca(0.1, "nesterov"), MASK),
}
optimizers = pytest.mark.parametrize("name", list(OPTIMIZERS))
compiled = pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])


def make_params(seed, scale=1.0):
    keys = jax.random.split(jax.random.key(seed), 3)
    return {
        "w": scale * jax.random.normal(keys[0], (6, 4)),
        "v": scale * jax.random.normal(keys[1], (4, 3, 2)),
        "b": scale * jax.random.normal(keys[2], (4,)),
    }


def grads_like(params, seed):
    return jax.tree.map(lambda x: jax.random.normal(jax.random.key(seed), x.shape), params)


def stepper(optimizer, jit):
    def step(params, state, grads):
        updates, state = optimizer.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    return jax.jit(step) if jit else step


def norms(params):
    return [float(jnp.linalg.norm(params[name])) for name in LAYERS]


@optimizers
@compiled
def test_init_on_random_params_then_restored_params_keeps_the_restored_norms(name, jit):
    optimizer = OPTIMIZERS[name]()
    step = stepper(optimizer, jit)
    pretrained = make_params(1, scale=3.0)
    state = optimizer.init(make_params(0))  # the order many training scripts use: build, then load
    restored_order, _ = step(pretrained, state, grads_like(pretrained, 5))
    assert norms(restored_order) == pytest.approx(norms(pretrained), rel=1e-6)
    after_restore, _ = step(pretrained, optimizer.init(pretrained), grads_like(pretrained, 5))
    for got, want in zip(jax.tree.leaves(restored_order), jax.tree.leaves(after_restore)):
        np.testing.assert_array_equal(got, want)


@compiled
def test_a_restored_state_keeps_its_norms(jit):
    """Norms already read (a state from a checkpoint) are kept, whatever the weights are now."""
    optimizer = layca_optax.layca(0.1, "momentum")
    step = stepper(optimizer, jit)
    params = make_params(0)
    _, state = step(params, optimizer.init(params), grads_like(params, 0))
    grown = jax.tree.map(lambda x: 2.0 * x, params)
    turned, state = step(grown, state, grads_like(params, 1))
    assert norms(turned) == pytest.approx(norms(params), rel=1e-6)


@compiled
def test_reset_layer_norms_re_anchors_mid_run_and_keeps_the_count(jit):
    schedule = optax.piecewise_constant_schedule(0.2, {3: 0.5})
    optimizer = optax.chain(optax.clip_by_global_norm(10.0), layca_optax.layca(schedule, "momentum"))
    step = stepper(optimizer, jit)
    params = make_params(0)
    state = optimizer.init(params)
    for seed in range(3):
        params, state = step(params, state, grads_like(params, seed))
    loaded = make_params(2, scale=4.0)  # new weights loaded mid-run
    kept, _ = step(loaded, state, grads_like(params, 3))
    assert norms(kept) == pytest.approx(norms(params), rel=1e-6)
    reset = layca_optax.reset_layer_norms(state)
    assert int(reset[1].count) == 3 and not jnp.any(reset[1].init_norms)
    anchored, state = step(loaded, reset, grads_like(params, 3))
    assert norms(anchored) == pytest.approx(norms(loaded), rel=1e-6)
    np.testing.assert_allclose(state[1].init_norms, norms(loaded), rtol=1e-6)
    if jit:
        assert step._cache_size() == 1


def test_reset_layer_norms_refuses_a_state_without_layca():
    with pytest.raises(ValueError, match="holds no LaycaState or ScaleByLaycaState"):
        layca_optax.reset_layer_norms(optax.adam(0.1).init(make_params(0)))


def test_a_zero_layer_read_eagerly_is_refused_with_the_way_to_exclude_it():
    """``init`` refuses concrete all-zero layers; so does an eager update that reads one after ``init``."""
    params = {**make_params(0), "w": jnp.zeros((6, 4))}
    optimizer = layca_optax.layca(0.1)
    message = r"all zero: \['w'\]\. .*Leave it out of the layers with `layers=`"
    with pytest.raises(ValueError, match=message):
        optimizer.init(params)
    with pytest.raises(ValueError, match=message):
        optimizer.update(grads_like(params, 0), optimizer.init(make_params(0)), params)


def test_a_zero_layer_read_under_jit_is_refused_by_name_and_nothing_is_returned():
    """Weights loaded after ``init`` with an all-zero layer: the jitted update reads its norm on the host and fails
    whole, naming the layer (the layer was left unchanged, silently, before)."""
    params = {**make_params(0), "w": jnp.zeros((6, 4))}
    optimizer = layca_optax.layca(0.1, "adam")
    update = jax.jit(optimizer.update)
    with pytest.raises(Exception, match=r"all zero: \['w'\]\. .*Leave it out of the layers with `layers=`"):
        jax.block_until_ready(update(grads_like(params, 0), optimizer.init(make_params(0)), params))
    updates, state = update(grads_like(params, 0), optimizer.init(make_params(0)), make_params(0))
    assert bool(jnp.all(state.init_norms > 0))


@compiled
def test_a_layer_zeroed_after_its_norm_is_stored_is_refused_by_name_and_nothing_is_returned(jit):
    """The stored norm is not read again, but the step's ``|w|^2`` is zero: the update refuses the layer by name
    (under ``jax.jit`` on the host, in the step's one extra ``lax.cond``) instead of leaving it unchanged, and
    returns nothing; the parameters and the state it was given step on as before once the layer is restored."""
    optimizer = layca_optax.layca(0.1, "adam")
    update = jax.jit(optimizer.update) if jit else optimizer.update
    params = make_params(0)
    _, state = update(grads_like(params, 0), optimizer.init(params), params)
    expected = update(grads_like(params, 1), state, params)
    zeroed = {**params, "v": jnp.zeros_like(params["v"])}
    with pytest.raises(Exception, match=r"all zero: \['v'\]\. .*Leave it out of the layers with `layers=`"):
        jax.block_until_ready(update(grads_like(params, 1), state, zeroed))
    got = update(grads_like(params, 1), state, params)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(expected)):
        np.testing.assert_array_equal(a, b)
    assert np.asarray(state.init_norms).tolist() == pytest.approx(norms(params), rel=1e-6)


@compiled
@pytest.mark.parametrize("scale", [1e-30, 1e30], ids=["tiny", "huge"])
def test_a_layer_whose_squares_underflow_or_overflow_is_not_refused(jit, scale):
    """A layer scaled until its unscaled ``|w|^2`` underflows or overflows in float32 is not zero: the refusal reads
    its largest entry, and the update goes through."""
    optimizer = layca_optax.layca(0.1, "adam")
    update = jax.jit(optimizer.update) if jit else optimizer.update
    params = make_params(0)
    _, state = update(grads_like(params, 0), optimizer.init(params), params)
    scaled = {**params, "v": params["v"] * scale}
    updates, _ = update(grads_like(params, 1), state, scaled)
    assert bool(jnp.all(jnp.isfinite(updates["v"])))


def primitives(jaxpr, into_cond):
    """Names of the primitives a jaxpr runs, through nested jaxprs (a ``cond``'s branches if ``into_cond``)."""
    for eqn in jaxpr.eqns:
        yield eqn.primitive.name
        if eqn.primitive.name == "cond" and not into_cond:
            continue
        for value in eqn.params.values():
            for sub in value if isinstance(value, (tuple, list)) else (value,):
                sub = getattr(sub, "jaxpr", sub)
                if hasattr(sub, "eqns"):
                    yield from primitives(sub, into_cond)


def test_reading_the_norms_adds_no_reduction_or_callback_to_the_step(monkeypatch):
    """The read sits in one ``lax.cond`` branch (untaken once the norms are stored): outside it, the jitted
    step reduces exactly as a step given its norms does, and holds no callback; inside it, the one host check
    of the read norms is a pure callback (no effect: the step keeps JAX's fast dispatch)."""
    params = make_params(0)

    def traced():
        optimizer = layca_optax.layca(0.1, "momentum")
        return jax.make_jaxpr(optimizer.update)(grads_like(params, 0), optimizer.init(params), params).jaxpr

    reading = traced()
    monkeypatch.setattr(layca_optax.transform, "reference_norms", lambda stored, params, selection: stored)
    traced_given = traced()
    given = list(primitives(traced_given, into_cond=False))
    outside = list(primitives(reading, into_cond=False))
    assert outside.count("cond") == given.count("cond") + 1
    assert outside.count("reduce_sum") == given.count("reduce_sum")
    assert not any("callback" in name for name in outside)
    callbacks = lambda jaxpr: [name for name in primitives(jaxpr, into_cond=True) if "callback" in name]  # noqa: E731
    assert callbacks(reading) == ["pure_callback"] + callbacks(traced_given)
    assert not reading.effects


WRAPPED = {
    "chain": lambda: optax.chain(optax.clip(1.0), layca_optax.layca(0.1)),
    "inject_hyperparams": lambda: optax.inject_hyperparams(layca_optax.scale_by_layca)(learning_rate=0.1),
    "masked": lambda: optax.masked(layca_optax.layca(0.1, "adam"), MASK),
    "MultiSteps": lambda: optax.MultiSteps(layca_optax.layca(0.1, "momentum"), every_k_schedule=1),
}


@pytest.mark.parametrize("name", list(WRAPPED))
def test_reset_layer_norms_reaches_layca_inside_every_wrapper(name):
    optimizer = WRAPPED[name]()
    params = make_params(0)
    _, state = optimizer.update(grads_like(params, 0), optimizer.init(params), params)
    is_layca = lambda node: isinstance(node, (layca_optax.LaycaState, layca_optax.ScaleByLaycaState))
    stored = lambda state: [
        node.init_norms.tolist() for node in jax.tree.leaves(state, is_leaf=is_layca) if is_layca(node)
    ]
    assert stored(state) == [pytest.approx(norms(params), rel=1e-6)]
    assert stored(layca_optax.reset_layer_norms(state)) == [[0.0, 0.0]]
