"""Keras on this process's backend: Layca against keras SGD(momentum) and Adam and Keras's own ``Lamb`` (the
per-layer peer) and ``Lion`` (a cheap reference), in interleaved rounds.

On JAX the step is ``stateless_apply`` under ``jax.jit`` (what ``model.fit`` runs); on torch it
is ``optimizer.apply`` (what a torch-backend train step runs).
"""

import keras
import numpy as np

import layca_keras
from benchmarks.shapes import arrays
from benchmarks.timing import compare, peak_rss_bytes

OPTIMIZERS = {
    "SGD momentum": lambda: keras.optimizers.SGD(0.01, momentum=0.9),
    "Adam": lambda: keras.optimizers.Adam(1e-3),
    "Lamb": lambda: keras.optimizers.Lamb(1e-3),
    "Lion": lambda: keras.optimizers.Lion(1e-4),
    "Layca SGD momentum": lambda: layca_keras.Layca(base="momentum", momentum=0.9),
    "Layca Adam": lambda: layca_keras.Layca(base="adam"),
}
FAMILIES = {
    "momentum": (("Layca SGD momentum",), ("SGD momentum", "Lamb", "Lion")),
    "adam": (("Layca Adam",), ("Adam", "Lamb")),
}
"""Per family: the Layca steps, then the baselines and peers each of them is timed against."""


def _stepper(optimizer, variables, grads):
    if keras.backend.backend() == "jax":
        import jax

        apply = jax.jit(optimizer.stateless_apply)
        box = {"opt": [v.value for v in optimizer.variables], "train": [v.value for v in variables]}

        def step():
            box["train"], box["opt"] = apply(box["opt"], grads, box["train"])
            return box["train"]

        return step, jax.block_until_ready
    return (lambda: optimizer.apply(grads, variables)), (lambda _: None)


def _state_bytes(optimizer) -> int:
    return sum(
        int(np.prod(v.shape)) * np.dtype(v.dtype if v.dtype != "bfloat16" else "float16").itemsize
        for v in optimizer.variables
    )


def run(shape_sets: list[str], dtypes: list[str], device: str, rounds: int | None = None) -> list[dict]:
    rows = []
    peak = peak_rss_bytes if device == "cpu" else (lambda step, sync: 0)
    label = f"keras ({keras.backend.backend()})"
    for shape_set in shape_sets:
        for dtype in dtypes:
            values, gradients = arrays(shape_set)
            grads = [keras.ops.convert_to_tensor(g, dtype=dtype) for g in gradients]
            for candidates, baselines in FAMILIES.values():
                steps, sync = {}, None
                for name in (*candidates, *baselines):
                    variables = [keras.Variable(v, dtype=dtype) for v in values]
                    optimizer = OPTIMIZERS[name]()
                    optimizer.build(variables)
                    step, sync = _stepper(optimizer, variables, grads)
                    steps[name] = (step, lambda optimizer=optimizer: _state_bytes(optimizer))
                rows += compare((label, shape_set, dtype, device), steps, candidates, sync, peak, rounds)
                del steps
    return rows
