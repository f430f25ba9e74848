"""Layca's base hyperparameters in Keras's words, checked by the core, and the Keras optimizer's own arguments."""

import inspect
from typing import Any

import keras

from layca_core import engine

HYPERPARAMETER_NAMES = {
    "momentum": "momentum",
    "beta": "beta",
    "beta_1": "b1",
    "beta_2": "b2",
    "epsilon": "eps",
    "rho": "rho",
    "initial_accumulator_value": "initial_accumulator",
    "nesterov": "nesterov",
    "out_axis": "out_axis",
}
"""The base hyperparameters in Keras's words (``keras.optimizers.Adam``...), and the core's name for each."""

SPELLING = engine.spelling_of(HYPERPARAMETER_NAMES)
"""Keras's word for each core name it spells differently."""


def checked_options(
    rate: Any, alpha: Any, variant: str, base: str, other_rate: Any, hyperparameters: dict, weight_decay: Any
) -> Any:
    """The core's checks on Keras-named base hyperparameters, its messages in Keras's words."""
    for name in hyperparameters:
        if name in SPELLING:
            raise TypeError(f"Keras calls the base hyperparameter {name!r} {SPELLING[name]!r}; pass that instead.")
    core = {HYPERPARAMETER_NAMES.get(k, k): v for k, v in hyperparameters.items()}
    return engine.checked_options(
        rate, alpha, variant, base, other_rate, names=engine.RATE_NAMES["layca_keras"], spelling=SPELLING,
        weight_decay=0.0 if weight_decay is None else weight_decay, **core,
    )  # fmt: skip


def _keras_arguments() -> set[str]:
    """The base Keras optimizer's own arguments (TensorFlow's subclass hides them behind **kwargs)."""
    for cls in keras.optimizers.Optimizer.__mro__:
        parameters = inspect.signature(cls.__init__).parameters
        if "clipnorm" in parameters:
            return set(parameters) - {"self", "learning_rate"}
    raise ImportError("This Keras version's optimizer arguments are unknown to layca_keras.")


KERAS_ARGUMENTS = _keras_arguments()
