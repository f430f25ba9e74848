"""Optax's words for the base directions' hyperparameters, and their translation to the core's."""

from collections.abc import Mapping
from typing import Any

from layca_core import engine

HYPERPARAMETER_NAMES: dict[str, str] = {
    "momentum": "momentum",
    "beta": "beta",
    "b1": "b1",
    "b2": "b2",
    "eps": "eps",
    "decay": "rho",
    "initial_accumulator_value": "initial_accumulator",
    "nesterov": "nesterov",
    "out_axis": "out_axis",
}
"""``layca_optax.layca``'s keyword for each base hyperparameter -> its name in ``layca_core.directions``."""

SPELLING = engine.spelling_of(HYPERPARAMETER_NAMES)
"""Optax's word for each core name it spells differently."""


def core_hyperparameters(given: Mapping[str, Any], unknown: Mapping[str, Any]) -> dict[str, Any]:
    """The base hyperparameters given (None: the base's default), by their core names.

    ``unknown`` holds the other keywords: a core name Optax spells differently is refused with Optax's word.
    """
    for key in unknown:
        if key in SPELLING:
            raise TypeError(f"layca_optax.layca calls {key!r} {SPELLING[key]!r}: pass {SPELLING[key]}=... instead.")
        raise TypeError(f"layca_optax.layca got an unexpected keyword argument {key!r}.")
    return {HYPERPARAMETER_NAMES[key]: value for key, value in given.items() if value is not None}
