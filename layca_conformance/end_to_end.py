"""One bias-free MLP (64-32-10, ReLU, softmax cross-entropy) trained with Layca in every framework.

All runs start from the same NumPy initialization and see the same batches of scikit-learn's
digits; the NumPy run uses hand-written backpropagation and the independent reference Layca
step, so it is the exact trajectory. Each run returns its layer rotation curves: per step, the
cosine distance of each layer to its initialization.
"""

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from layca_conformance import reference
from layca_conformance.cases import UNIT_ROUNDOFF

RATE, MOMENTUM, STEPS, BATCH = 3.0**-3, 0.9, 100, 32


def tolerance(dtype: str, steps: int = STEPS, largest: int = 2048) -> float:
    """The case table's bound, ``(8 + log2 n) T u`` (n entries in the largest layer, T steps).

    Measured against the NumPy run: torch and JAX agree to 2.2e-16 in float64 and 5.2e-8 in
    float32; Keras to 3.3e-16 (TensorFlow, JAX) and 5.7e-8 in float32.
    """
    return (8 + math.log2(largest)) * steps * UNIT_ROUNDOFF[dtype]


def data() -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(0)
    init = [rng.standard_normal((64, 32)) * np.sqrt(2 / 64), rng.standard_normal((32, 10)) * np.sqrt(2 / 32)]
    return x / 16, y, init


def batches(x: np.ndarray, y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    order = np.random.default_rng(1).permutation(len(y))
    return [(x[order[(t * BATCH) % 1760 :][:BATCH]], y[order[(t * BATCH) % 1760 :][:BATCH]]) for t in range(STEPS)]


def curves(trajectory: list[list[np.ndarray]], init: list[np.ndarray]) -> np.ndarray:
    return np.array([[reference.cosine_distance(w, w0) for w, w0 in zip(step, init)] for step in trajectory])


def reference_train(init: list[np.ndarray], data: list, gradients: Callable) -> np.ndarray:
    """The exact run: ``gradients(weights, x, y)`` by hand, the reference Layca step (momentum base)."""
    weights, base, r0 = (
        [w.copy() for w in init],
        reference.BaseOptimizer("momentum", momentum=MOMENTUM),
        [np.linalg.norm(w) for w in init],
    )
    trajectory = []
    for xb, yb in data:
        grads = gradients(weights, xb, yb)
        weights = [
            reference.layca_update(w, base.step(i, g), RATE, r0[i]) for i, (w, g) in enumerate(zip(weights, grads))
        ]
        trajectory.append(weights)
    return curves(trajectory, init)


def torch_train(init: list[np.ndarray], data: list, dtype: str, logits: Callable) -> np.ndarray:
    """``layca_torch.Layca`` on ``logits(weights, x)`` with cross-entropy."""
    import torch

    import layca_torch

    weights = [torch.nn.Parameter(torch.tensor(w, dtype=getattr(torch, dtype))) for w in init]
    optimizer = layca_torch.Layca(weights, lr=RATE, base="momentum", momentum=MOMENTUM)
    trajectory = []
    for xb, yb in data:
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(
            logits(weights, torch.tensor(xb, dtype=weights[0].dtype)), torch.tensor(yb)
        ).backward()
        optimizer.step()
        trajectory.append([w.detach().double().numpy().copy() for w in weights])
    return curves(trajectory, init)


def jax_train(init: list[np.ndarray], data: list, dtype: str, logits: Callable) -> np.ndarray:
    """``layca_optax.layca`` under ``jax.jit`` on ``logits(params, x)`` with cross-entropy."""
    import jax
    import jax.numpy as jnp
    import optax

    import layca_optax

    params = [jnp.asarray(w, dtype=dtype) for w in init]
    optimizer = layca_optax.layca(RATE, "momentum", momentum=MOMENTUM)
    state = optimizer.init(params)

    @jax.jit
    def step(params, state, xb, yb):
        loss = lambda p: optax.softmax_cross_entropy_with_integer_labels(logits(p, xb), yb).mean()
        updates, state = optimizer.update(jax.grad(loss)(params), state, params)
        return optax.apply_updates(params, updates), state

    trajectory = []
    for xb, yb in data:
        params, state = step(params, state, jnp.asarray(xb, dtype=dtype), jnp.asarray(yb))
        trajectory.append([np.asarray(p, dtype=np.float64) for p in params])
    return curves(trajectory, init)


def keras_train(
    model: Any, weights: list[np.ndarray], init: list[np.ndarray], data: list, dtype: str, layout: Callable
) -> np.ndarray:
    """``layca_keras.Layca`` through ``train_on_batch``; ``layout(x, kernels)`` maps Keras inputs and weights."""
    import keras

    import layca_keras

    model.set_weights([w.astype(dtype) for w in weights])
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=layca_keras.Layca(RATE, base="momentum", momentum=MOMENTUM), loss=loss)
    trajectory = []
    for xb, yb in data:
        model.train_on_batch(layout(xb, None).astype(dtype), yb)
        trajectory.append(layout(None, [np.asarray(w, np.float64) for w in model.get_weights()]))
    return curves(trajectory, init)


def _mlp_gradients(weights: list[np.ndarray], xb: np.ndarray, yb: np.ndarray) -> list[np.ndarray]:
    hidden_in = xb @ weights[0]
    hidden = np.maximum(hidden_in, 0)
    d_logits = softmax_cross_entropy_gradient(hidden @ weights[1], yb)
    return [xb.T @ ((d_logits @ weights[1].T) * (hidden_in > 0)), hidden.T @ d_logits]


def softmax_cross_entropy_gradient(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """d(mean cross-entropy)/d(logits)."""
    p = np.exp(logits - logits.max(1, keepdims=True))
    return (p / p.sum(1, keepdims=True) - np.eye(logits.shape[1])[labels]) / len(labels)


def numpy_run() -> np.ndarray:
    x, y, init = data()
    return reference_train(init, batches(x, y), _mlp_gradients)


def torch_run(dtype: str) -> np.ndarray:
    import torch

    x, y, init = data()
    return torch_train(init, batches(x, y), dtype, lambda w, xb: torch.relu(xb @ w[0]) @ w[1])


def jax_run(dtype: str) -> np.ndarray:
    import jax

    x, y, init = data()
    return jax_train(init, batches(x, y), dtype, lambda p, xb: jax.nn.relu(xb @ p[0]) @ p[1])


def keras_run(dtype: str) -> np.ndarray:
    import keras

    x, y, init = data()
    model = keras.Sequential(
        [
            keras.Input((64,), dtype=dtype),
            keras.layers.Dense(32, "relu", use_bias=False, dtype=dtype),
            keras.layers.Dense(10, use_bias=False, dtype=dtype),
        ]
    )
    return keras_train(model, init, init, batches(x, y), dtype, lambda xb, kernels: xb if kernels is None else kernels)
