"""A small conv net with batch norm (no affine parameters, no biases) trained with Layca everywhere.

conv 3x3 (1 -> 4 channels, valid) -> batch norm (training statistics, eps 1e-5) -> ReLU ->
flatten (channel, row, column) -> dense (144 -> 10), on the 8x8 digits. The NumPy run
(im2col convolution, hand-written batch-norm backpropagation, the independent reference
step) is the exact trajectory. Keras works in NHWC: its kernels are the same numbers,
transposed and with the dense rows permuted, which leaves every cosine distance unchanged.
"""

import numpy as np

from layca_conformance.end_to_end import (
    batches,
    jax_train,
    keras_train,
    reference_train,
    softmax_cross_entropy_gradient,
    torch_train,
)

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


def _gradients(weights: list[np.ndarray], xb: np.ndarray, yb: np.ndarray) -> list[np.ndarray]:
    patches = _patches(xb)
    z = patches @ weights[0].reshape(4, 9).T  # (B, 36, 4)
    var = z.var((0, 1))
    z_hat = (z - z.mean((0, 1))) / np.sqrt(var + EPS)
    flat = np.maximum(z_hat, 0).transpose(0, 2, 1).reshape(len(xb), 144)
    d_logits = softmax_cross_entropy_gradient(flat @ weights[1], yb)
    d_hidden = (d_logits @ weights[1].T).reshape(len(xb), 4, 36).transpose(0, 2, 1) * (z_hat > 0)
    n = d_hidden.shape[0] * d_hidden.shape[1]
    d_z = (n * d_hidden - d_hidden.sum((0, 1)) - z_hat * (d_hidden * z_hat).sum((0, 1))) / (n * np.sqrt(var + EPS))
    return [(d_z.reshape(-1, 4).T @ patches.reshape(-1, 9)).reshape(4, 1, 3, 3), flat.T @ d_logits]


def numpy_run() -> np.ndarray:
    x, y, init = data()
    return reference_train(init, batches(x, y), _gradients)


def torch_run(dtype: str) -> np.ndarray:
    import torch
    from torch.nn import functional

    def logits(w, xb):
        hidden = torch.relu(functional.batch_norm(functional.conv2d(xb, w[0]), None, None, training=True, eps=EPS))
        return hidden.flatten(1) @ w[1]

    x, y, init = data()
    return torch_train(init, batches(x, y), dtype, logits)


def jax_run(dtype: str) -> np.ndarray:
    import jax
    import jax.numpy as jnp

    def logits(p, xb):
        z = jax.lax.conv_general_dilated(xb, p[0], (1, 1), "VALID", dimension_numbers=("NCHW", "OIHW", "NCHW"))
        mean, var = z.mean((0, 2, 3), keepdims=True), z.var((0, 2, 3), keepdims=True)
        return jax.nn.relu((z - mean) / jnp.sqrt(var + EPS)).reshape(len(xb), -1) @ p[1]

    x, y, init = data()
    return jax_train(init, batches(x, y), dtype, logits)


def keras_run(dtype: str) -> np.ndarray:
    import keras

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

    def layout(xb, weights):
        if weights is None:
            return xb.transpose(0, 2, 3, 1)
        kernel, _, _, dense = weights
        return [kernel.transpose(3, 2, 0, 1), dense[np.argsort(order)]]

    keras_weights = [init[0].transpose(2, 3, 1, 0), np.zeros(4), np.ones(4), init[1][order]]
    return keras_train(model, keras_weights, init, batches(x, y), dtype, layout)
