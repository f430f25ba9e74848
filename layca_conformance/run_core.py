"""Run a case through layca_core on one backend and dtype: the core's own driver."""

import numpy as np

import layca_core
from layca_conformance.backends import Backend, to_numpy
from layca_conformance.cases import Case
from layca_conformance.protocol import Driver
from layca_core.engine.optimizer import initial_norms


def core_rates(case: Case) -> list[float]:
    schedule = layca_core.StepDecay(case.steps, case.milestones, case.factor, case.warmup_epochs)
    return [case.rate * schedule(t / case.steps_per_epoch) for t in range(case.steps)]


def run_core(case: Case, backend: Backend, dtype: str) -> list[list[np.ndarray]]:
    """Weights after each step, as float64 NumPy arrays."""
    params = [backend.asarray(p, dtype) for p in case.initial_params()]
    plan = layca_core.engine.LayerPlan.from_flags([p.ndim >= 2 for p in case.initial_params()], case.alpha)
    direction = layca_core.direction(case.base, **case.options())
    states = [direction.init(p) for p in params]
    norms = initial_norms(params, plan)
    trajectory = []
    for rate, grads in zip(core_rates(case), case.gradients()):
        params, states = layca_core.engine.optimizer_step(
            params,
            [backend.asarray(g, dtype) for g in grads],
            states,
            norms,
            rate,
            plan,
            base=direction,
            other_rate=case.other_rate,
            variant=case.variant,
        )
        trajectory.append([to_numpy(p) for p in params])
    return trajectory


def core_driver(backend: Backend) -> Driver:
    """layca_core on ``backend`` as a driver (the backends take their device from ``LAYCA_DEVICE``)."""

    def run(case: Case, dtype: str, device: str) -> list[list[np.ndarray]]:
        with backend.precision(dtype):
            return run_core(case, backend, dtype)

    return run


on_numpy = core_driver(Backend.NUMPY)
on_array_api_strict = core_driver(Backend.ARRAY_API_STRICT)
on_torch = core_driver(Backend.TORCH)
on_jax = core_driver(Backend.JAX)
on_tensorflow = core_driver(Backend.TENSORFLOW)
