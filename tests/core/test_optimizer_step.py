"""The whole-step function adapters call: layers, other parameters, freezing, guards."""

import math

import numpy as np
import pytest

import layca_core
from layca_conformance.backends import to_numpy


@pytest.fixture
def model(rng):
    params = [rng.standard_normal((4, 3)), rng.standard_normal(3), rng.standard_normal((3, 2))]
    grads = [rng.standard_normal(p.shape) for p in params]
    return params, grads, layca_core.engine.LayerPlan.from_flags([True, False, True], alpha=0.5)


def run(params, grads, plan, base="sgd", rate=0.1, **kwargs):
    direction = layca_core.direction(base)
    states = [direction.init(p) for p in params]
    norms = layca_core.engine.optimizer.initial_norms(params, plan)
    return layca_core.engine.optimizer_step(params, grads, states, norms, rate, plan, base=direction, **kwargs)


def test_layers_turn_by_their_multiplied_rate_and_others_take_a_plain_step(model):
    params, grads, plan = model
    new, _ = run(params, grads, plan, other_rate=0.05)
    assert plan.multipliers == (2**-5, None, 1.0)
    for index, multiplier in ((0, 2**-5), (2, 1.0)):
        angle = float(layca_core.step_angle(params[index], new[index]))
        assert angle == pytest.approx(math.atan(0.1 * multiplier), rel=1e-12)
    np.testing.assert_array_equal(new[1], params[1] - 0.05 * grads[1])


def test_freeze_others_keeps_them_and_their_state(model):
    params, grads, plan = model
    new, states = run(params, grads, plan, base="momentum", other_rate=0.05, freeze_others=True)
    assert new[1] is params[1]
    np.testing.assert_array_equal(states[1].momentum, np.zeros(3))


def test_non_finite_layer_gradients_do_not_poison_the_base_state(model):
    params, grads, plan = model
    grads[0][0, 0] = np.nan
    new, states = run(params, grads, plan, base="adam", other_rate=0.05)
    assert np.isfinite(states[0].mu).all() and np.isfinite(states[0].nu).all() and np.isfinite(new[0]).all()


def test_lars_variant(model):
    params, grads, plan = model
    new, _ = run(params, grads, plan, other_rate=0.0, variant="lars")
    expected = layca_core.lars_step(params[0], grads[0], 0.1 * 2**-5, layca_core.initial_norm(params[0]))
    np.testing.assert_array_equal(new[0], expected)


def test_user_errors_are_explained(model):
    params, grads, plan = model
    with pytest.raises(ValueError, match="Unknown variant 'larc'"):
        run(params, grads, plan, other_rate=0.1, variant="larc")
    with pytest.raises(ValueError, match="params has 3, grads has 2"):
        run(params, grads[:2], plan, other_rate=0.1)
    with pytest.raises(ValueError, match="rate must be a finite number >= 0; got -0.1"):
        run(params, grads, plan, rate=-0.1, other_rate=0.1)
    with pytest.raises(ValueError, match="other_rate must be a finite number >= 0; got nan"):
        run(params, grads, plan, other_rate=float("nan"))


def test_zero_norm_layers_are_named_in_the_error():
    with pytest.raises(ValueError, match=r"all zero: fc.weight\. .*must be excluded .* Pass layers=\.$"):
        layca_core.validation.check_nonzero_norms([1.0, 0.0], ["conv.weight", "fc.weight"], exclude="Pass layers=.")


def test_non_floating_weights_are_refused():
    with pytest.raises(TypeError, match="Layca needs floating-point weights; got dtype int64"):
        layca_core.layca_step(np.ones(3, dtype=np.int64), np.ones(3), 0.1, 1.0)


def test_works_on_every_backend(backend):
    rng = np.random.default_rng(1)
    params = [
        backend.asarray(rng.standard_normal((5, 4)), "float32"),
        backend.asarray(rng.standard_normal(4), "float32"),
    ]
    grads = [
        backend.asarray(rng.standard_normal((5, 4)), "float32"),
        backend.asarray(rng.standard_normal(4), "float32"),
    ]
    plan = layca_core.engine.LayerPlan.from_flags([True, False], alpha=0.0)
    new, _ = run(params, grads, plan, base="adam", other_rate=0.01)
    angle = float(layca_core.step_angle(to_numpy(params[0]), to_numpy(new[0])))
    assert angle == pytest.approx(math.atan(0.1), rel=1e-5)
