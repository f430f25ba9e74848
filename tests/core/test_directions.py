"""Base directions (docs/algorithm.md, "Base directions") against their formulas, worked in float64 NumPy."""

import re

import numpy as np
import pytest

import layca_core
from layca_conformance.backends import to_numpy
from layca_core.directions import scale_free_steps
from layca_core.primitives import ARRAY

MU, BETA, B1, B2, RHO, EPS = 0.8, 0.7, 0.6, 0.9, 0.5, 1e-3


def expected_steps(name: str, grads: list[np.ndarray]) -> list[np.ndarray]:
    """The formulas of docs/algorithm.md, "Base directions", one step at a time."""
    m = v = np.zeros_like(grads[0])
    a = np.full_like(grads[0], 0.25) if name == "adagrad" else np.zeros_like(grads[0])
    out = []
    for t, g in enumerate(grads, start=1):
        if name == "sgd":
            out.append(g)
        elif name in ("momentum", "nesterov"):
            m = MU * m + g
            out.append(g + MU * m if name == "nesterov" else m)
        elif name == "amom":
            m = BETA * m + (1 - BETA) * g
            out.append(m)
        elif name == "adam":
            m, v = B1 * m + (1 - B1) * g, B2 * v + (1 - B2) * g * g
            out.append((m / (1 - B1**t)) / (np.sqrt(v / (1 - B2**t)) + EPS))
        elif name == "rmsprop":
            a = RHO * a + (1 - RHO) * g * g
            out.append(g / (np.sqrt(a) + EPS))
        else:
            a = a + g * g
            out.append(g / (np.sqrt(a) + EPS))
    return out


HYPERPARAMETERS = {
    "sgd": {},
    "momentum": {"momentum": MU},
    "nesterov": {"momentum": MU},
    "amom": {"beta": BETA},
    "adam": {"b1": B1, "b2": B2, "eps": EPS},
    "rmsprop": {"rho": RHO, "eps": EPS},
    "adagrad": {"eps": EPS, "initial_accumulator": 0.25},
}


@pytest.mark.parametrize("name", sorted(HYPERPARAMETERS))
def test_direction_follows_its_formula(backend_wide_dtype, rng, name):
    backend, dtype = backend_wide_dtype
    grads = [rng.standard_normal((3, 4)) for _ in range(4)]
    base = layca_core.direction(name, **HYPERPARAMETERS[name])
    state = base.init(backend.asarray(grads[0], dtype))
    for g, expected in zip(grads, expected_steps(name, grads)):
        step, state = base.update(backend.asarray(g, dtype), state)
        np.testing.assert_allclose(to_numpy(step), expected, rtol={"float64": 1e-12}.get(dtype, 2e-5), atol=1e-6)


def test_unknown_base_is_refused():
    with pytest.raises(ValueError, match="Unknown base 'lion'; choose one of sgd, momentum"):
        layca_core.direction("lion")


def test_unknown_hyperparameter_is_refused():
    with pytest.raises(TypeError, match="Base 'adam' takes b1, b2, eps; got beta"):
        layca_core.direction("adam", beta=0.9)
    with pytest.raises(TypeError, match="Base 'sgd' takes no hyperparameters; got momentum"):
        layca_core.direction("sgd", momentum=0.9)


def test_states_are_named_tuples_of_arrays(rng):
    for name in HYPERPARAMETERS:
        state = layca_core.direction(name).init(rng.standard_normal(3))
        assert isinstance(state, tuple) and hasattr(state, "_fields"), name


@pytest.mark.parametrize(
    ("base", "options", "message"),
    [
        ("momentum", {"momentum": -1}, "0 <= momentum < 1"),
        ("nesterov", {"momentum": 1.0}, "0 <= momentum < 1"),
        ("momentum", {"momentum": float("nan")}, "0 <= momentum < 1"),
        ("amom", {"beta": 1.5}, "0 <= beta < 1"),
        ("adam", {"b1": 1.5}, "0 <= b1 < 1"),
        ("adam", {"b1": 1.0}, "0 <= b1 < 1"),
        ("adam", {"b2": -0.1}, "0 <= b2 < 1"),
        ("adam", {"eps": -1}, "eps > 0"),
        ("rmsprop", {"rho": 2.0}, "0 <= rho < 1"),
        ("rmsprop", {"eps": 0.0}, "eps > 0"),
        ("adagrad", {"initial_accumulator": -1.0}, "initial_accumulator >= 0"),
    ],
)
def test_base_hyperparameters_are_checked_with_one_sentence(base, options, message):
    ((key, value),) = options.items()
    with pytest.raises(ValueError, match=rf"Base '{base}' needs {re.escape(message)}; got {key}="):
        layca_core.direction(base, **options)


@pytest.mark.parametrize("name", sorted(HYPERPARAMETERS))
def test_scale_free_steps_are_the_steps_up_to_a_positive_factor_per_tensor(rng, name):
    """What Layca's layers may take (``scale_free_steps``): each tensor's step times one positive number, with the
    same states."""
    base = layca_core.direction(name, **HYPERPARAMETERS[name])
    grads = [[rng.standard_normal((3, 4)) for _ in range(2)] for _ in range(3)]
    states = {kind: [base.init(g) for g in grads[0]] for kind in ("full", "free")}
    steps_of = {"full": base.steps, "free": scale_free_steps(base)}
    for step_grads in grads:
        steps = {}
        for kind in ("full", "free"):
            steps[kind], states[kind] = steps_of[kind](ARRAY, step_grads, states[kind])
        for full, free in zip(steps["full"], steps["free"]):
            factor = float(np.sum(full * free) / np.sum(free * free))
            assert factor > 0
            np.testing.assert_allclose(full, factor * free, rtol=1e-12)
        for full, free in zip(states["full"], states["free"]):
            for a, b in zip(full, free):
                np.testing.assert_array_equal(a, b)
