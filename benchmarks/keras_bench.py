"""Keras on this process's backend: Layca against keras SGD(momentum) and Adam.

On JAX the step is ``stateless_apply`` under ``jax.jit`` (what ``model.fit`` runs); on torch it
is ``optimizer.apply`` (what a torch-backend train step runs).
"""

import keras
import numpy as np

import layca_keras
from benchmarks.shapes import arrays
from benchmarks.timing import median_ms, row

OPTIMIZERS = {
    "SGD momentum": lambda: keras.optimizers.SGD(0.01, momentum=0.9),
    "Adam": lambda: keras.optimizers.Adam(1e-3),
    "Layca SGD momentum": lambda: layca_keras.Layca(base="momentum", momentum=0.9),
    "Layca Adam": lambda: layca_keras.Layca(base="adam"),
}


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


def run(shape_sets: list[str], dtypes: list[str], device: str) -> list[dict]:
    rows = []
    for shape_set in shape_sets:
        for dtype in dtypes:
            values, gradients = arrays(shape_set)
            grads = [keras.ops.convert_to_tensor(g, dtype=dtype) for g in gradients]
            for name, factory in OPTIMIZERS.items():
                variables = [keras.Variable(v, dtype=dtype) for v in values]
                optimizer = factory()
                optimizer.build(variables)
                step, sync = _stepper(optimizer, variables, grads)
                ms = median_ms(step, sync, shape_set)
                nbytes = sum(
                    int(np.prod(v.shape)) * np.dtype(v.dtype if v.dtype != "bfloat16" else "float16").itemsize
                    for v in optimizer.variables
                )
                rows.append(row(f"keras ({keras.backend.backend()})", shape_set, dtype, device, name, ms, nbytes))
                print(rows[-1], flush=True)
    return rows
