"""layca_keras.Layca through its public API (``optimizer.apply``) on this process's Keras backend."""

import contextlib
from typing import Any

import keras
import numpy as np

import layca_keras
from layca_conformance.cases import Case
from layca_conformance.drivers import framework_names


def run(case: Case, dtype: str, device: str = "cpu") -> list[list[np.ndarray]]:
    """The driver protocol. Keras keeps its learning rate in ``floatx``: float64 runs set it to float64, as a user would."""
    previous = keras.config.floatx()
    keras.config.set_floatx("float64" if dtype == "float64" else "float32")
    try:
        with _jax_x64(dtype == "float64"), keras.device("gpu:0" if device == "cuda" else "cpu:0"):
            return _run(case, dtype)
    finally:
        keras.config.set_floatx(previous)


def _jax_x64(enabled: bool) -> Any:
    """JAX computes in float32 unless x64 is on; Keras on JAX needs it for float64."""
    if keras.backend.backend() != "jax" or not enabled:
        return contextlib.nullcontext()
    import jax

    return jax.enable_x64(True)


def _run(case: Case, dtype: str) -> list[list[np.ndarray]]:
    variables = [
        keras.Variable(p.astype(dtype), dtype=dtype, name=f"p{i}") for i, p in enumerate(case.initial_params())
    ]
    optimizer = layca_keras.Layca(
        case.rate,
        base=case.base,
        alpha=case.alpha,
        variant=case.variant,
        other_learning_rate=case.other_rate,
        layers=lambda v: len(v.shape) >= 2,  # the protocol's layers
        **framework_names(case.options(), layca_keras.HYPERPARAMETER_NAMES),
    )
    optimizer.build(variables)
    trajectory = []
    for rate, grads in zip(case.rates(), case.gradients()):
        optimizer.learning_rate = rate
        optimizer.apply([keras.ops.convert_to_tensor(g.astype(dtype)) for g in grads], variables)
        trajectory.append([np.asarray(keras.ops.convert_to_numpy(v), dtype=np.float64) for v in variables])
    return trajectory
