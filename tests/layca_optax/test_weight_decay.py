"""``weight_decay`` in ``layca_optax.layca`` and ``scale_by_layca``: L2 added to the gradient, as
``optax.add_decayed_weights`` placed first adds it; removed along a layer by the tangent projection."""

import numpy as np
import pytest

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
import jax.numpy as jnp  # noqa: E402

import layca_optax  # noqa: E402

WEIGHT_DECAY = 0.3
PEERS = {
    "sgd": ({}, lambda: optax.sgd(0.05)),
    "momentum": ({"momentum": 0.8}, lambda: optax.sgd(0.05, momentum=0.8)),
    "adam": ({"b1": 0.8, "b2": 0.99, "eps": 1e-8}, lambda: optax.adam(0.05, b1=0.8, b2=0.99, eps=1e-8)),
}


def params():
    keys = jax.random.split(jax.random.key(0), 2)
    return {"kernel": jax.random.normal(keys[0], (6, 4)), "bias": jax.random.normal(keys[1], (4,))}


def grads(step):
    keys = jax.random.split(jax.random.key(step + 1), 2)
    return {"kernel": jax.random.normal(keys[0], (6, 4)), "bias": jax.random.normal(keys[1], (4,))}


def run(optimizer, steps=4):
    p = params()
    state = optimizer.init(p)
    for step in range(steps):
        updates, state = optimizer.update(grads(step), state, p)
        p = optax.apply_updates(p, updates)
    return p


@pytest.mark.parametrize("base", sorted(PEERS))
def test_other_leaves_decay_as_optax_add_decayed_weights_before_the_base(base):
    hyperparameters, peer = PEERS[base]
    ours = run(layca_optax.layca(0.05, base, weight_decay=WEIGHT_DECAY, **hyperparameters))
    theirs = run(optax.chain(optax.add_decayed_weights(WEIGHT_DECAY), peer()))
    np.testing.assert_allclose(ours["bias"], theirs["bias"], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "make",
    [lambda wd: layca_optax.layca(0.1, weight_decay=wd), lambda wd: layca_optax.scale_by_layca(0.1, weight_decay=wd)],
    ids=["layca", "scale_by_layca"],
)
def test_on_a_layer_after_sgd_the_projection_removes_the_decay_and_the_others_decay(make):
    decayed, plain = run(make(WEIGHT_DECAY)), run(make(0.0))
    np.testing.assert_allclose(decayed["kernel"], plain["kernel"], rtol=1e-5, atol=1e-6)
    assert not np.allclose(decayed["bias"], plain["bias"])


def test_weight_decay_is_injectable_and_checked():
    injected = optax.inject_hyperparams(layca_optax.layca)(learning_rate=0.1, base="momentum", weight_decay=0.0)
    np.testing.assert_allclose(run(injected)["bias"], run(layca_optax.layca(0.1, "momentum"))["bias"], rtol=1e-6)
    with pytest.raises(ValueError, match="weight_decay must be a finite number >= 0"):
        layca_optax.layca(weight_decay=-1.0)
    with pytest.raises(ValueError, match="weight_decay must be a finite number >= 0"):
        layca_optax.scale_by_layca(weight_decay=jnp.inf)
