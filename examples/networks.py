"""The examples' networks, written once as a list of operations that each framework builds.

Kernels are NumPy arrays in PyTorch's layout (convolution ``(out, in, width)``, dense ``(out, in)``),
drawn once, so every framework starts from the same weights. There are no biases, and batch
normalization has no affine parameters (eps 1e-5, running statistics with momentum 0.1), as in
the paper: every trainable weight is a layer that Layca controls.
"""

import math
from typing import NamedTuple

import numpy as np


class Conv(NamedTuple):
    """1-D convolution, padded by ``width // 2`` on both sides."""

    inputs: int
    outputs: int
    width: int
    stride: int = 1

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.outputs, self.inputs, self.width)


class Conv2d(NamedTuple):
    """2-D convolution with a square kernel, padded by ``width // 2`` on every side."""

    inputs: int
    outputs: int
    width: int = 3

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.outputs, self.inputs, self.width, self.width)


class MaxPool2d(NamedTuple):
    """Non-overlapping ``size`` x ``size`` max pooling."""

    size: int = 2


class Dense(NamedTuple):
    inputs: int
    outputs: int

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.outputs, self.inputs)


class BatchNorm(NamedTuple):
    channels: int


class BatchNorm2d(NamedTuple):
    """Batch normalization of images (N, C, H, W): statistics per channel over batch and space."""

    channels: int


class ReLU(NamedTuple):
    pass


class Flatten(NamedTuple):
    """Channel-major, as ``torch.flatten`` of ``(batch, channels, ...)``."""


class GlobalAveragePool(NamedTuple):
    pass


class Residual(NamedTuple):
    """``relu(x + body(x))``."""

    body: tuple


Operation = Conv | Conv2d | MaxPool2d | Dense | BatchNorm | BatchNorm2d | ReLU | Flatten | GlobalAveragePool | Residual
EPS, MOMENTUM = 1e-5, 0.1


def cnn(width: int = 32) -> tuple[Operation, ...]:
    """The demo's network for MNIST-1D: four conv blocks (stride 1, 2, 2, 2), then dense and BN."""
    channels = (1, width, width, 2 * width, 2 * width)
    blocks = [
        (Conv(channels[i], channels[i + 1], 5, 1 if i == 0 else 2), BatchNorm(channels[i + 1]), ReLU())
        for i in range(4)
    ]
    return (*[op for block in blocks for op in block], Flatten(), Dense(2 * width * 5, 10), BatchNorm(10))


def resnet(blocks: int = 8, width: int = 32) -> tuple[Operation, ...]:
    """A deeper residual 1-D CNN for MNIST-1D (the warmup experiment)."""
    body = (Conv(width, width, 3), BatchNorm(width), ReLU(), Conv(width, width, 3), BatchNorm(width))
    return (
        Conv(1, width, 5), BatchNorm(width), ReLU(),
        *[Residual(body)] * blocks,
        GlobalAveragePool(), Dense(width, 10), BatchNorm(10),
    )  # fmt: skip


def mlp(inputs: int = 64, hidden: int = 512, classes: int = 10) -> tuple[Operation, ...]:
    """One hidden layer (the features experiment)."""
    return (Dense(inputs, hidden), ReLU(), Dense(hidden, classes))


def c10_cnn1(width: int = 64) -> tuple[Operation, ...]:
    """Our reading of the paper's C10-CNN1 ("VGG-style 25 layers deep CNN", CIFAR-10): 25 kernel layers.

    Five stages of 3x3 convolutions (4, 5, 5, 5, 5 of them; ``width`` x 1, 2, 4, 8, 8 channels), each
    followed by batch norm and ReLU, a 2x2 max pool after each stage (32 -> 1 pixels), then dense and BN.
    The paper gives no more detail than its name; widths and stage sizes are VGG's.
    """
    layers, channels = [], 3
    for convolutions, multiple in zip((4, 5, 5, 5, 5), (1, 2, 4, 8, 8)):
        for _ in range(convolutions):
            layers += [Conv2d(channels, width * multiple), BatchNorm2d(width * multiple), ReLU()]
            channels = width * multiple
        layers.append(MaxPool2d(2))
    return (*layers, Flatten(), Dense(channels, 10), BatchNorm(10))


def operations(network: tuple[Operation, ...]) -> list[Operation]:
    """Every operation, with residual bodies expanded in place, in the order a forward pass meets them."""
    return [inner for op in network for inner in (operations(op.body) if isinstance(op, Residual) else [op])]


def initial_weights(network: tuple[Operation, ...], seed: int = 0, init: str = "uniform") -> list[np.ndarray]:
    """float32 kernels: ``uniform`` is PyTorch's default (U(+-1/sqrt(fan_in))), ``he`` is He normal."""
    rng = np.random.default_rng(seed)
    weights = []
    for shape in [op.shape for op in operations(network) if isinstance(op, (Conv, Conv2d, Dense))]:
        fan_in = math.prod(shape[1:])
        if init == "uniform":
            weights.append(rng.uniform(-1, 1, shape) / math.sqrt(fan_in))
        elif init == "he":
            weights.append(rng.standard_normal(shape) * math.sqrt(2 / fan_in))
        else:
            raise ValueError(f"init must be 'uniform' or 'he'; got {init!r}.")
    return [w.astype(np.float32) for w in weights]
