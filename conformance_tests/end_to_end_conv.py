"""A small conv net with batch norm (no affine parameters, no biases) trained with Layca everywhere.

conv 3x3 (1 -> 4 channels, valid) -> batch norm (training statistics, eps 1e-5) -> ReLU ->
flatten (channel, row, column) -> dense (144 -> 10), on the 8x8 digits. The NumPy run
(im2col convolution, hand-written batch-norm backpropagation, the independent reference
step) is the exact trajectory. Keras works in NHWC: its kernels are the same numbers,
transposed and with the dense rows permuted, which leaves every cosine distance unchanged.
"""

import numpy as np

from conformance_tests import reference
from conformance_tests.end_to_end import MOMENTUM, RATE, batches, curves

EPS = 1e-5


def data() -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(0)
    init = [rng.standard_normal((4, 1, 3, 3)) * np.sqrt(2 / 9), rng.standard_normal((144, 10)) * np.sqrt(2 / 144)]
    return (x / 16).reshape(-1, 1, 8, 8), y, init


def _patches(x: np.ndarray) -> np.ndarray:
    """(B, 1, 8, 8) -> (B, 36, 9): every 3x3 window, row-major."""
    return np.stack([x[:, 0, i : i + 3, j : j + 3].reshape(len(x), 9) for i in range(6) for j in range(6)], axis=1)


def numpy_run() -> np.ndarray:
    x, y, init = data()
    weights, base, r0 = (
        [w.copy() for w in init],
        reference.BaseOptimizer("momentum", momentum=MOMENTUM),
        [np.linalg.norm(w) for w in init],
    )
    trajectory = []
    for xb, yb in batches(x, y):
        patches = _patches(xb)
        z = patches @ weights[0].reshape(4, 9).T  # (B, 36, 4)
        mean, var = z.mean((0, 1)), z.var((0, 1))
        z_hat = (z - mean) / np.sqrt(var + EPS)
        hidden = np.maximum(z_hat, 0)
        flat = hidden.transpose(0, 2, 1).reshape(len(xb), 144)
        logits = flat @ weights[1]
        p = np.exp(logits - logits.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        d_logits = (p - np.eye(10)[yb]) / len(yb)
        d_hidden = (d_logits @ weights[1].T).reshape(len(xb), 4, 36).transpose(0, 2, 1) * (z_hat > 0)
        n = d_hidden.shape[0] * d_hidden.shape[1]
        d_z = (n * d_hidden - d_hidden.sum((0, 1)) - z_hat * (d_hidden * z_hat).sum((0, 1))) / (n * np.sqrt(var + EPS))
        grads = [(d_z.reshape(-1, 4).T @ patches.reshape(-1, 9)).reshape(4, 1, 3, 3), flat.T @ d_logits]
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
        z = torch.nn.functional.conv2d(torch.tensor(xb, dtype=weights[0].dtype), weights[0])
        hidden = torch.relu(torch.nn.functional.batch_norm(z, None, None, training=True, eps=EPS))
        torch.nn.functional.cross_entropy(hidden.flatten(1) @ weights[1], torch.tensor(yb)).backward()
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

    def loss(p, xb, yb):
        z = jax.lax.conv_general_dilated(xb, p[0], (1, 1), "VALID", dimension_numbers=("NCHW", "OIHW", "NCHW"))
        mean, var = z.mean((0, 2, 3), keepdims=True), z.var((0, 2, 3), keepdims=True)
        hidden = jax.nn.relu((z - mean) / jnp.sqrt(var + EPS))
        return optax.softmax_cross_entropy_with_integer_labels(hidden.reshape(len(xb), -1) @ p[1], yb).mean()

    @jax.jit
    def step(params, state, xb, yb):
        updates, state = optimizer.update(jax.grad(loss)(params, xb, yb), state, params)
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
    order = np.arange(144).reshape(4, 36).T.reshape(-1)  # NHWC flatten position -> NCHW row of the dense kernel
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1), dtype=dtype),
            keras.layers.Conv2D(4, 3, use_bias=False, dtype=dtype),
            keras.layers.BatchNormalization(epsilon=EPS, center=False, scale=False, dtype=dtype),
            keras.layers.ReLU(dtype=dtype),
            keras.layers.Flatten(dtype=dtype),
            keras.layers.Dense(10, use_bias=False, dtype=dtype),
        ]
    )
    model.set_weights(
        [init[0].transpose(2, 3, 1, 0).astype(dtype), np.zeros(4), np.ones(4), init[1][order].astype(dtype)]
    )
    model.compile(
        optimizer=layca_keras.Layca(RATE, base="momentum", momentum=MOMENTUM),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    trajectory = []
    for xb, yb in batches(x, y):
        model.train_on_batch(xb.transpose(0, 2, 3, 1).astype(dtype), yb)
        kernel, _, _, dense = model.get_weights()
        trajectory.append(
            [np.asarray(kernel, np.float64).transpose(3, 2, 0, 1), np.asarray(dense, np.float64)[np.argsort(order)]]
        )
    return curves(trajectory, init)
