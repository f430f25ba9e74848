"""Equation 1's multipliers worked out by hand, schedules, and rate/angle conversions."""

import math

import numpy as np
import pytest

import layca_core
from layca_conformance.backends import to_numpy

HAND_WORKED = [
    # (L, alpha, {layer: multiplier}) with the exponent 5 l / (L - 1) or 5 (L - 1 - l) / (L - 1) by hand
    (2, -0.5, {0: 1.0, 1: 2**-5}),
    (2, 0.5, {0: 2**-5, 1: 1.0}),
    (5, -0.2, {0: 1.0, 1: 0.8**1.25, 2: 0.8**2.5, 3: 0.8**3.75, 4: 0.32768}),
    (5, 0.6, {0: 0.01024, 1: 0.4**3.75, 2: 0.4**2.5, 3: 0.4**1.25, 4: 1.0}),
    (25, -0.5, {0: 1.0, 12: 2**-2.5, 24: 2**-5}),
    (25, 0.8, {0: 0.00032, 6: 0.2**3.75, 12: 0.2**2.5, 24: 1.0}),
    (25, 0.0, dict.fromkeys(range(25), 1.0)),
]


@pytest.mark.parametrize(("num_layers", "alpha", "expected"), HAND_WORKED)
def test_alpha_multipliers_match_hand_worked_values(num_layers, alpha, expected):
    multipliers = layca_core.alpha_multipliers(num_layers, alpha)
    assert len(multipliers) == num_layers
    for layer, value in expected.items():
        assert multipliers[layer] == pytest.approx(value, rel=1e-14)


def test_a_single_layer_gets_multiplier_one():
    assert layca_core.alpha_multipliers(1, -0.8) == (1.0,)


@pytest.mark.parametrize("alpha", [-1.0, 1.0, 1.5, float("nan")])
def test_alpha_outside_the_open_interval_is_refused(alpha):
    with pytest.raises(ValueError, match="alpha must lie strictly between -1 and 1"):
        layca_core.alpha_multipliers(3, alpha)


def test_paper_schedules_decay_at_their_milestones():
    schedule = layca_core.paper_schedule("C100-resnet")
    assert [schedule(e) for e in (0, 69.9, 70, 90, 97, 99)] == [1.0, 1.0, 0.1, 0.1**2, 0.1**3, 0.1**3]
    assert layca_core.paper_schedule("tiny-CNN").epochs == 80


def test_unknown_paper_task_is_refused():
    with pytest.raises(ValueError, match="Unknown task 'mnist'"):
        layca_core.paper_schedule("mnist")


def test_warmup_goes_linearly_from_a_tenth_to_the_rate():
    schedule = layca_core.StepDecay(epochs=10, warmup_epochs=4)
    assert [schedule(e) for e in (0, 2, 4, 8)] == pytest.approx([0.1, 0.55, 1.0, 1.0])


def test_schedule_on_arrays_matches_numbers(backend):
    schedule = layca_core.StepDecay(epochs=10, milestones=(3, 6), factor=0.2, warmup_epochs=2)
    epochs = [0.0, 1.0, 3.0, 6.5]
    values = [float(to_numpy(schedule(backend.asarray(np.array(e), "float32")))) for e in epochs]
    assert values == pytest.approx([schedule(e) for e in epochs], rel=1e-6)


def test_bad_schedules_are_refused():
    with pytest.raises(ValueError, match="increasing milestones"):
        layca_core.StepDecay(epochs=10, milestones=(5, 2), factor=0.1)


def test_rate_and_angle_are_tangent_and_arctangent():
    assert layca_core.rate_to_angle(3**-3) == pytest.approx(math.radians(2.1210), abs=1e-5)
    assert layca_core.angle_to_rate(layca_core.rate_to_angle(0.3)) == pytest.approx(0.3, rel=1e-15)
    with pytest.raises(ValueError, match=r"angle must lie in \[0, pi/2\)"):
        layca_core.angle_to_rate(math.pi / 2)


def test_default_rates_follow_the_paper():
    assert layca_core.default_rate("sgd") == 3**-3
    assert layca_core.default_rate("adam") == layca_core.default_rate("amom") == 3**-5
