"""layca_optax.layca through its public API, jitted."""

import jax
import jax.numpy as jnp
import numpy as np
import optax

import layca_optax
from layca_conformance.backends import jax_device
from layca_conformance.cases import Case
from layca_conformance.run_core import core_rates


def run(case: Case, dtype: str) -> list[list[np.ndarray]]:
    rates = jnp.asarray(core_rates(case), dtype=jnp.float64 if dtype == "float64" else jnp.float32)
    optimizer = layca_optax.layca(
        lambda count: rates[count],
        case.base,
        alpha=case.alpha,
        variant=case.variant,
        other_learning_rate=case.other_rate,
        **dict(case.hyperparameters),
    )
    put = lambda a: jax.device_put(jnp.asarray(a, dtype=getattr(jnp, dtype)), jax_device())
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
