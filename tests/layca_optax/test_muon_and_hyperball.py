"""Muon and the hyperball rule in Optax: ``layca(base="muon")`` (kernels ``(..., in, out)``, Adam for the biases),
``variant="hyperball"``, and ``scale_by_layca`` after ``optax.contrib.scale_by_muon``: each layer turned by exactly
the angle its rule states (docs/algorithm.md)."""

import math

import numpy as np
import pytest

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
import jax.numpy as jnp  # noqa: E402

import layca_optax  # noqa: E402
from layca_conformance import reference  # noqa: E402
from tests.layca_optax.test_transform import angle, grads_like, make_params  # noqa: E402

RATE = 0.1


def one_step(optimizer, params, seed=1):
    grads = grads_like(params, seed)
    updates, _ = optimizer.update(grads, optimizer.init(params), params)
    return optax.apply_updates(params, updates), grads


def f64(x):
    return np.asarray(x, np.float64)


def test_muon_base_turns_kernels_against_their_fan_in_by_out_matrix_and_steps_biases_by_adam():
    params = make_params()
    new, grads = one_step(layca_optax.layca(RATE, "muon", other_learning_rate=0.01), params)
    for path in (("conv", "kernel"), ("dense", "kernel")):
        w, g, n = (f64(tree[path[0]][path[1]]) for tree in (params, grads, new))
        want = reference.layca_update(w, reference.orthogonalize(g), RATE, np.linalg.norm(w))
        np.testing.assert_allclose(n, want, rtol=0, atol=4e-6 * np.abs(want).max())
    adam = reference.BaseOptimizer("adam", b1=0.9, b2=0.999, eps=1e-7)
    bias = f64(params["conv"]["bias"]) - 0.01 * adam.step(0, f64(grads["conv"]["bias"]))
    np.testing.assert_allclose(f64(new["conv"]["bias"]), bias, rtol=1e-6, atol=1e-7)


def test_muon_under_jit_and_with_nesterov_off_as_a_static_argument():
    params = make_params()
    optimizer = optax.inject_hyperparams(layca_optax.layca, static_args=("base", "nesterov"))(
        learning_rate=RATE, base="muon", nesterov=False, momentum=0.9
    )
    state = optimizer.init(params)
    update = jax.jit(optimizer.update)
    for seed in (1, 2):
        updates, state = update(grads_like(params, seed), state, params)
        new = optax.apply_updates(params, updates)
        assert angle(params["dense"]["kernel"], new["dense"]["kernel"]) == pytest.approx(math.atan(RATE), rel=1e-4)
        params = new


def test_hyperball_variant_turns_by_its_angle_formula():
    params = make_params()
    new, grads = one_step(layca_optax.layca(RATE, "sgd", variant="hyperball"), params)
    for path in (("conv", "kernel"), ("dense", "kernel")):
        w, g, n = (f64(tree[path[0]][path[1]]) for tree in (params, grads, new))
        assert angle(w, n) == pytest.approx(reference.hyperball_angle(w, g, RATE), rel=1e-5)
        assert np.linalg.norm(n) == pytest.approx(np.linalg.norm(w), rel=1e-6)


@pytest.mark.parametrize("variant", ["layca", "hyperball"])
def test_scale_by_layca_after_optax_muon_turns_every_layer_by_its_rule(variant):
    params = {"a": jax.random.normal(jax.random.key(0), (8, 5)), "b": jax.random.normal(jax.random.key(1), (5, 6))}
    matrices = {key: optax.contrib.MuonDimensionNumbers() for key in params}
    muon = optax.contrib.scale_by_muon(weight_dimension_numbers=matrices)
    optimizer = optax.chain(muon, layca_optax.scale_by_layca(RATE, variant=variant))
    state = optimizer.init(params)
    for seed in (1, 2, 3):
        updates, state = optimizer.update(grads_like(params, seed), state, params)
        new = optax.apply_updates(params, updates)
        for key in params:
            turned = angle(params[key], new[key])
            if variant == "layca":
                assert turned == pytest.approx(math.atan(RATE), rel=1e-4)
            else:
                assert 0 < turned < math.pi
            assert float(jnp.linalg.norm(new[key])) == pytest.approx(float(jnp.linalg.norm(params[key])), rel=1e-6)
        params = new
