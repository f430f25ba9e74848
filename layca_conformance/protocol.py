"""The driver protocol: the one function a port of Layca writes to be checked by this suite."""

from typing import Protocol

import numpy as np

from layca_conformance.cases import Case

Trajectory = list[list[np.ndarray]]
"""The weights after every step: one list per step, with every parameter as a float64 NumPy array."""


class Driver(Protocol):
    """Runs one case of the table through a port of Layca: ``run(case, dtype, device) -> trajectory``.

    Inputs:
        case: a :class:`layca_conformance.Case`. Its parameters are ``case.initial_params()``, float64
            NumPy arrays. The Layca layers are the parameters with ``ndim >= 2``, in list order: that
            order is the forward order of Equation 1. The other parameters take plain steps.
        dtype: ``"float64"``, ``"float32"`` or ``"bfloat16"`` (``--dtypes`` picks which): cast the
            parameters and gradients to it and let the optimizer compute as it would for a user.
        device: ``"cpu"`` or ``"cuda"`` (``--device``): where the arrays live.

    The optimizer:
        ``case.base`` names the base direction (``sgd``, ``momentum``, ``nesterov``, ``amom``, ``adam``,
        ``rmsprop``, ``adagrad``, ``muon``), with every hyperparameter in ``case.options()`` (``momentum``,
        ``beta``, ``b1``, ``b2``, ``rho``, ``eps``, ``nesterov``). ``case.variant`` is ``"layca"`` (Algorithm 1),
        ``"lars"`` (operations 2 and 3, norm growth capped at 1e-4 of the initial norm per step) or
        ``"hyperball"`` (operations 2 to 4 without the projection).
        ``case.alpha`` sets the layer-wise multipliers of Equation 1. The other parameters step by
        ``p - case.other_rate * s``, with ``s`` their base step.

    The rate at each step:
        at step ``t`` the global layer rate is ``case.rates()[t]``: the schedule is already applied,
        the multipliers of Equation 1 are not (the port applies them, as it does for its users).

    The steps:
        for each step ``t`` in ``range(case.steps)``: set the rate, feed ``case.gradients()[t]`` (float64
        arrays, one per parameter; some cases put NaN and inf in a layer, which Layca zeroes), take one
        optimizer step, and record every parameter.

    Returns:
        the trajectory: ``case.steps`` lists, each with every parameter in the order and shape of
        ``case.initial_params()``, as float64 NumPy arrays that the next step does not overwrite.
    """

    def __call__(self, case: Case, dtype: str, device: str) -> Trajectory: ...
