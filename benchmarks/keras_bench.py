"""Keras on this process's backend: Layca against keras SGD(momentum) and Adam, in interleaved rounds.

On JAX the step is ``stateless_apply`` under ``jax.jit`` (what ``model.fit`` runs); on torch it
is ``optimizer.apply`` (what a torch-backend train step runs).
"""

import keras
import numpy as np

import layca_keras
from benchmarks.shapes import arrays
from benchmarks.timing import interleaved, peak_rss_bytes, report, round_ratios, row

OPTIMIZERS = {
    "SGD momentum": lambda: keras.optimizers.SGD(0.01, momentum=0.9),
    "Adam": lambda: keras.optimizers.Adam(1e-3),
    "Layca SGD momentum": lambda: layca_keras.Layca(base="momentum", momentum=0.9),
    "Layca Adam": lambda: layca_keras.Layca(base="adam"),
}
COMPARISONS = {"Layca SGD momentum": ("SGD momentum",), "Layca Adam": ("Adam",)}


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
    framework = f"keras ({keras.backend.backend()})"
    for shape_set in shape_sets:
        for dtype in dtypes:
            values, gradients = arrays(shape_set)
            grads = [keras.ops.convert_to_tensor(g, dtype=dtype) for g in gradients]
            for candidate, baselines in COMPARISONS.items():
                built = {}
                for name in (candidate, *baselines):
                    variables = [keras.Variable(v, dtype=dtype) for v in values]
                    optimizer = OPTIMIZERS[name]()
                    optimizer.build(variables)
                    built[name] = (optimizer, *_stepper(optimizer, variables, grads))
                sync = built[candidate][2]
                times = interleaved({name: step for name, (_, step, _) in built.items()}, sync, shape_set, rounds)
                for name, (optimizer, step, _) in built.items():
                    extra = peak_rss_bytes(step, sync) if device == "cpu" else 0
                    ratios = round_ratios(times, candidate, baselines) if name == candidate else None
                    rows.append(row(framework, shape_set, dtype, device, name, times[name], _state_bytes(optimizer), extra, ratios))  # fmt: skip
                    report(rows[-1])
                del built
    return rows
