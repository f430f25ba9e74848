"""optax under jit: Layca (momentum, adam bases; a scale_by_layca chain) against sgd, adam and lars.

Each Layca step and its baselines step in interleaved rounds on the same parameters (own states).
"""

import jax
import jax.numpy as jnp
import optax

import layca_optax
from benchmarks.shapes import arrays
from benchmarks.timing import interleaved, peak_rss_bytes, report, round_ratios, row

OPTIMIZERS = {
    "sgd momentum": lambda: optax.sgd(0.01, momentum=0.9),
    "adam": lambda: optax.adam(1e-3),
    "lars": lambda: optax.lars(0.01),
    "Layca SGD momentum": lambda: layca_optax.layca(base="momentum", momentum=0.9),
    "Layca Adam": lambda: layca_optax.layca(base="adam"),
    "chain(scale_by_adam, scale_by_layca)": lambda: optax.chain(
        optax.scale_by_adam(), layca_optax.scale_by_layca(3**-5)
    ),
}
COMPARISONS = {
    "Layca SGD momentum": ("lars", "sgd momentum"),
    "Layca Adam": ("lars", "adam"),
    "chain(scale_by_adam, scale_by_layca)": ("lars", "adam"),
}


def _stepper(optimizer: optax.GradientTransformation, params: list, grads: list) -> tuple:
    """One jitted step that keeps its parameters and state in a box, and the box."""

    @jax.jit
    def step(params, state, grads):
        updates, state = optimizer.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    box = {"params": params, "state": optimizer.init(params)}

    def one_step():
        box["params"], box["state"] = step(box["params"], box["state"], grads)
        return box["params"]

    return one_step, box


def run(shape_sets: list[str], dtypes: list[str], device: str, rounds: int | None = None) -> list[dict]:
    rows = []
    for shape_set in shape_sets:
        for dtype in dtypes:
            weights, gradients = arrays(shape_set)
            put = lambda a, dtype=dtype: jax.device_put(jnp.asarray(a, dtype=dtype))
            params, grads = [put(w) for w in weights], [put(g) for g in gradients]
            for candidate, baselines in COMPARISONS.items():
                steppers = {name: _stepper(OPTIMIZERS[name](), params, grads) for name in (candidate, *baselines)}
                steps = {name: step for name, (step, _) in steppers.items()}
                times = interleaved(steps, jax.block_until_ready, shape_set, rounds)
                for name, (step, box) in steppers.items():
                    extra = peak_rss_bytes(step, jax.block_until_ready) if device == "cpu" else 0
                    nbytes = sum(x.nbytes for x in jax.tree.leaves(box["state"]))
                    ratios = round_ratios(times, candidate, baselines) if name == candidate else None
                    rows.append(row("optax (jit)", shape_set, dtype, device, name, times[name], nbytes, extra, ratios))
                    report(rows[-1])
                del steppers, steps
    return rows
