"""The language model: a small decoder-only transformer, its initial weights, and its forward pass in NumPy.

Pre-norm blocks (causal multi-head self-attention, then a ReLU MLP of 4x the width), fixed sinusoidal
positions, layer norms without affine parameters and no biases: every trainable weight is a matrix, so every
one is a layer that Layca turns and the monitor follows (PyTorch's ``(out, in)`` layout; the embedding is
``(vocab, width)``). Each framework's trainer (``examples/trainers/*_lm.py``) builds this same function; the
NumPy forward pass here is the reference they are tested against.
"""

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

import layca_core
from examples import corpus

EPS = 1e-5


class Shape(NamedTuple):
    """Vocabulary, context, width (``head_width`` per head) and number of blocks."""

    vocab: int = corpus.VOCAB
    context: int = corpus.CONTEXT
    width: int = 32
    depth: int = 2
    head_width: int = 16

    @property
    def heads(self) -> int:
        return self.width // self.head_width


def shape(width_multiple: int = 1) -> Shape:
    """The study's model at ``width_multiple`` times its base width of 32 (same depth, head width 16)."""
    return Shape(width=32 * width_multiple)


def layers(s: Shape) -> list[tuple[str, tuple[int, int]]]:
    """Every weight's name and shape, in the order the trainers hold them."""
    w = s.width
    blocks = [
        (f"blocks.{i}.{name}", shape)
        for i in range(s.depth)
        for name, shape in (("qkv", (3 * w, w)), ("out", (w, w)), ("up", (4 * w, w)), ("down", (w, 4 * w)))
    ]
    return [("embed", (s.vocab, w)), *blocks, ("head", (s.vocab, w))]


def hidden(name: str) -> bool:
    """The blocks' matrices, which Muon orthogonalises (AdamW steps the embedding and the head)."""
    return name.startswith("blocks.")


def initial_weights(s: Shape, seed: int = 0) -> list[np.ndarray]:
    """float32: the embedding N(0, 1), every other matrix PyTorch's default U(+-1/sqrt(fan_in))."""
    rng = np.random.default_rng(seed)
    weights = []
    for name, (rows, columns) in layers(s):
        if name == "embed":
            weights.append(rng.standard_normal((rows, columns)))
        else:
            weights.append(rng.uniform(-1, 1, (rows, columns)) / math.sqrt(columns))
    return [w.astype(np.float32) for w in weights]


def positions(s: Shape) -> np.ndarray:
    """Sinusoidal position codes, ``(context, width)`` float32."""
    position = np.arange(s.context)[:, None]
    frequency = np.exp(-math.log(10000.0) * np.arange(0, s.width, 2) / s.width)
    codes = np.zeros((s.context, s.width))
    codes[:, 0::2], codes[:, 1::2] = np.sin(position * frequency), np.cos(position * frequency)
    return codes.astype(np.float32)


def _norm(x: np.ndarray) -> np.ndarray:
    return (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + EPS)


def forward(s: Shape, weights: list[np.ndarray], tokens: np.ndarray) -> np.ndarray:
    """Logits ``(batch, time, vocab)`` of ``tokens`` ``(batch, time)``, in float64: the reference."""
    embed, *blocks, head = [np.asarray(w, dtype=np.float64) for w in weights]
    x = embed[tokens] + positions(s)[: tokens.shape[1]]
    batch, time, _ = x.shape
    future = np.triu(np.ones((time, time), dtype=bool), 1)
    for qkv, out, up, down in zip(*[iter(blocks)] * 4):
        q, k, v = np.split(_norm(x) @ qkv.T, 3, axis=-1)
        q, k, v = (a.reshape(batch, time, s.heads, s.head_width).transpose(0, 2, 1, 3) for a in (q, k, v))
        scores = np.where(future, -np.inf, q @ k.transpose(0, 1, 3, 2) / math.sqrt(s.head_width))
        weights_ = np.exp(scores - scores.max(-1, keepdims=True))
        attended = (weights_ / weights_.sum(-1, keepdims=True)) @ v
        x = x + attended.transpose(0, 2, 1, 3).reshape(batch, time, s.width) @ out.T
        x = x + np.maximum(_norm(x) @ up.T, 0) @ down.T
    return _norm(x) @ head.T


@dataclass
class LMRun:
    """One language-model run: final validation loss and next-token accuracy, per-epoch curves, rotation."""

    method: str
    val_loss: float
    val_accuracy: float
    epoch_loss: list[float]
    val_losses: list[float]
    history: layca_core.RotationHistory
    kernels: list[np.ndarray] = field(repr=False)
