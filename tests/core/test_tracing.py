"""The step traces under jax.jit, tf.function and torch.compile(fullgraph=True), matching eager."""

import numpy as np
import pytest

import layca_core
from layca_conformance.backends import Backend, to_numpy

TRACED = [pytest.param(b, id=b.value) for b in (Backend.JAX, Backend.TENSORFLOW, Backend.TORCH)]


def whole_step(params, grads, rate):
    """Layca-Adam over a conv layer, a bias and a dense layer, with a traced rate."""
    plan = layca_core.engine.LayerPlan.from_flags([True, False, True], alpha=-0.3)
    base = layca_core.direction("adam")
    states = [base.init(p) for p in params]
    norms = layca_core.engine.optimizer.initial_norms(params, plan)
    for _ in range(3):
        params, states = layca_core.engine.optimizer_step(
            params, grads, states, norms, rate, plan, base=base, other_rate=0.01
        )
    lars = layca_core.lars_step(params[0], grads[0], rate, norms[0])
    return [*params, lars, layca_core.cosine_distance(params[2], grads[2])]


def compile_for(backend: Backend, fn):
    if backend is Backend.JAX:
        import jax

        return jax.jit(fn)
    if backend is Backend.TENSORFLOW:
        import tensorflow as tf

        return tf.function(fn, jit_compile=False)
    import torch

    torch._dynamo.reset()
    return torch.compile(fn, fullgraph=True)


@pytest.mark.parametrize("backend", TRACED)
def test_traced_step_matches_eager(backend):
    backend.require()
    rng = np.random.default_rng(3)
    shapes = [(4, 3, 3, 3), (4,), (12, 5)]
    params = [backend.asarray(rng.standard_normal(s), "float32") for s in shapes]
    grads = [backend.asarray(rng.standard_normal(s), "float32") for s in shapes]
    rate = backend.asarray(np.array(3**-3), "float32")
    eager = whole_step(params, grads, rate)
    traced = compile_for(backend, whole_step)(params, grads, rate)
    for a, b in zip(eager, traced):
        np.testing.assert_allclose(to_numpy(b), to_numpy(a), rtol=2e-6, atol=2e-6)
