"""Keras on this process's backend: Layca against keras SGD(momentum) and Adam and Keras's own ``Lamb`` (the
per-layer peer) and ``Lion`` (a cheap reference), in interleaved rounds.

On JAX the step is ``stateless_apply`` under ``jax.jit`` (what ``model.fit`` runs); on torch it
is ``optimizer.apply`` (what a torch-backend train step runs).

``python -m benchmarks.keras_bench --fit`` (``KERAS_BACKEND`` picks the backend) times ``model.fit`` instead: the
first epoch (tracing and compiling the train step included) and the steady step (median over the batches of a second
``fit`` of ``--steady-epochs`` epochs) of a model of 60 ``Dense`` layers, for Layca-Adam, Layca-SGD-momentum and
Keras's ``AdamW``, alternating the optimizers round by round.
"""

import argparse
import statistics
import time

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


FIT_OPTIMIZERS = {
    "AdamW": lambda: keras.optimizers.AdamW(1e-3),
    "Layca Adam": lambda: layca_keras.Layca(base="adam"),
    "Layca SGD momentum": lambda: layca_keras.Layca(base="momentum", momentum=0.9),
}


def fit_times(
    optimizer: str, layers: int = 60, width: int = 32, batches: int = 20, batch_size: int = 32, steady_epochs: int = 5
) -> dict:
    """Seconds of ``fit``'s first epoch and milliseconds of a steady step (median over the batches of a second
    ``fit`` of ``steady_epochs`` epochs)."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((width,))] + [keras.layers.Dense(width, "relu") for _ in range(layers)])
    model.compile(optimizer=FIT_OPTIMIZERS[optimizer](), loss="mse")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batches * batch_size, width)).astype("float32")
    y = rng.standard_normal((batches * batch_size, width)).astype("float32")
    start = time.perf_counter()
    model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)
    first = time.perf_counter() - start
    ends: list[float] = []
    timer = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: ends.append(time.perf_counter()))
    model.fit(x, y, batch_size=batch_size, epochs=steady_epochs, verbose=0, callbacks=[timer])
    return {"first_epoch_s": first, "step_ms": 1000 * statistics.median(b - a for a, b in zip(ends, ends[1:]))}


def fit_table(rounds: int, layers: int, steady_epochs: int = 5) -> list[str]:
    """Per optimizer, the median over rounds (optimizers alternating) and the ratio to ``AdamW`` in each round."""
    measured: dict[str, list[dict]] = {name: [] for name in FIT_OPTIMIZERS}
    for _ in range(rounds):
        for name in FIT_OPTIMIZERS:
            measured[name].append(fit_times(name, layers, steady_epochs=steady_epochs))
            keras.backend.clear_session()
    lines = [
        "| backend | optimizer | first epoch s | ratio to AdamW | steady step ms | ratio to AdamW |",
        "|---|---|---|---|---|---|",
    ]
    for name, runs in measured.items():
        cells = []
        for key in ("first_epoch_s", "step_ms"):
            ratios = [r[key] / b[key] for r, b in zip(runs, measured["AdamW"])]
            cells.append(f"{statistics.median(r[key] for r in runs):.3g} | {statistics.median(ratios):.2f}x")
        lines.append(f"| {keras.backend.backend()} | {name} | {' | '.join(cells)} |")
    return lines


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="model.fit on a deep Dense model: first epoch and steady step.")
    parser.add_argument("--fit", action="store_true", help="time model.fit (the only mode of this entry point)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--layers", type=int, default=60)
    parser.add_argument("--steady-epochs", type=int, default=5, help="epochs of 20 batches timed for the steady step")
    arguments = parser.parse_args()
    print("\n".join(fit_table(arguments.rounds, arguments.layers, arguments.steady_epochs)))
