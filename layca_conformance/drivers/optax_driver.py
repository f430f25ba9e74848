"""layca_optax.layca through its public API, jitted (JAX's 64-bit mode on for float64 cases only)."""

import contextlib

import jax
import jax.numpy as jnp
import numpy as np
import optax

import layca_optax
from layca_conformance.cases import Case
from layca_conformance.drivers import framework_names


def run(case: Case, dtype: str, device: str = "cpu") -> list[list[np.ndarray]]:
    """The driver protocol."""
    with jax.enable_x64(True) if dtype == "float64" else contextlib.nullcontext():
        return _run(case, dtype, jax.devices("gpu" if device == "cuda" else "cpu")[0])


def _run(case: Case, dtype: str, device: jax.Device) -> list[list[np.ndarray]]:
    rates = jnp.asarray(case.rates(), dtype=jnp.float64 if dtype == "float64" else jnp.float32)
    optimizer = layca_optax.layca(
        lambda count: rates[count],
        case.base,
        alpha=case.alpha,
        variant=case.variant,
        other_learning_rate=case.other_rate,
        layers=lambda params: [p.ndim >= 2 for p in params],  # the protocol's layers
        **framework_names(case.options(), layca_optax.HYPERPARAMETER_NAMES),
    )
    put = lambda a: jax.device_put(jnp.asarray(a, dtype=getattr(jnp, dtype)), device)
    params = [put(p) for p in case.initial_params()]
    state = optimizer.init(params)

    @jax.jit
    def step(params, state, grads):
        updates, state = optimizer.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    trajectory = []
    for grads in case.gradients():
        params, state = step(params, state, [put(g) for g in grads])
        trajectory.append([np.asarray(p, dtype=np.float64) for p in params])
    return trajectory
