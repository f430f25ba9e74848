"""One bias-free MLP (64-32-10, ReLU, softmax cross-entropy) trained with Layca in every framework.

All runs start from the same NumPy initialization and see the same batches of scikit-learn's
digits; the NumPy run uses hand-written backpropagation and the independent reference Layca
step, so it is the exact trajectory. Each run returns its layer rotation curves: per step, the
cosine distance of each layer to its initialization.
"""

import math

import numpy as np

from conformance_tests import reference
from conformance_tests.cases import UNIT_ROUNDOFF

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


def numpy_run() -> np.ndarray:
    x, y, init = data()
    weights, base, r0 = (
        [w.copy() for w in init],
        reference.BaseOptimizer("momentum", momentum=MOMENTUM),
        [np.linalg.norm(w) for w in init],
    )
    trajectory = []
    for xb, yb in batches(x, y):
        hidden_in = xb @ weights[0]
        hidden = np.maximum(hidden_in, 0)
        logits = hidden @ weights[1]
        p = np.exp(logits - logits.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        d_logits = (p - np.eye(10)[yb]) / len(yb)
        grads = [xb.T @ ((d_logits @ weights[1].T) * (hidden_in > 0)), hidden.T @ d_logits]
        weights = [
            reference.layca_update(w, base.step(i, g), RATE, r0[i]) for i, (w, g) in enumerate(zip(weights, grads))
        ]
        trajectory.append(weights)
    return curves(trajectory, init)


def torch_run(dtype: str) -> np.ndarray:
    import torch

    import layca_torch

    x, y, init = data()
    weights = [torch.nn.Parameter(torch.tensor(w, dtype=getattr(torch, dtype))) for w in init]
    optimizer = layca_torch.Layca(weights, lr=RATE, base="momentum", momentum=MOMENTUM)
    trajectory = []
    for xb, yb in batches(x, y):
        optimizer.zero_grad()
        logits = torch.relu(torch.tensor(xb, dtype=weights[0].dtype) @ weights[0]) @ weights[1]
        torch.nn.functional.cross_entropy(logits, torch.tensor(yb)).backward()
        optimizer.step()
        trajectory.append([w.detach().double().numpy().copy() for w in weights])
    return curves(trajectory, init)


def jax_run(dtype: str) -> np.ndarray:
    import jax
    import jax.numpy as jnp
    import optax

    import layca_optax

    x, y, init = data()
    params = [jnp.asarray(w, dtype=dtype) for w in init]
    optimizer = layca_optax.layca(RATE, "momentum", momentum=MOMENTUM)
    state = optimizer.init(params)

    @jax.jit
    def step(params, state, xb, yb):
        loss = lambda p: optax.softmax_cross_entropy_with_integer_labels(jax.nn.relu(xb @ p[0]) @ p[1], yb).mean()
        updates, state = optimizer.update(jax.grad(loss)(params), state, params)
        return optax.apply_updates(params, updates), state

    trajectory = []
    for xb, yb in batches(x, y):
        params, state = step(params, state, jnp.asarray(xb, dtype=dtype), jnp.asarray(yb))
        trajectory.append([np.asarray(p, dtype=np.float64) for p in params])
    return curves(trajectory, init)


def keras_run(dtype: str) -> np.ndarray:
    import keras

    import layca_keras

    x, y, init = data()
    model = keras.Sequential(
        [
            keras.Input((64,), dtype=dtype),
            keras.layers.Dense(32, "relu", use_bias=False, dtype=dtype),
            keras.layers.Dense(10, use_bias=False, dtype=dtype),
        ]
    )
    model.set_weights([w.astype(dtype) for w in init])
    model.compile(
        optimizer=layca_keras.Layca(RATE, base="momentum", momentum=MOMENTUM),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    trajectory = []
    for xb, yb in batches(x, y):
        model.train_on_batch(xb.astype(dtype), yb)
        trajectory.append([np.asarray(w, dtype=np.float64) for w in model.get_weights()])
    return curves(trajectory, init)
