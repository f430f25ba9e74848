"""optax under jit: Layca (momentum, adam bases; a scale_by_layca chain) against optax's sgd and adam and the
per-layer optimizers a user would pick instead: ``lars``, ``fromage`` and ``lamb``.

Per family, every optimizer steps in the same interleaved rounds from the same parameters (each its own copy and state).
"""

import jax
import jax.numpy as jnp
import optax

import layca_optax
from benchmarks.shapes import arrays
from benchmarks.timing import compare, peak_rss_bytes

OPTIMIZERS = {
    "sgd momentum": lambda: optax.sgd(0.01, momentum=0.9),
    "adam": lambda: optax.adam(1e-3),
    "lars": lambda: optax.lars(0.01),
    "fromage": lambda: optax.fromage(0.01),
    "lamb": lambda: optax.lamb(1e-3),
    "Layca SGD momentum": lambda: layca_optax.layca(base="momentum", momentum=0.9),
    "Layca Adam": lambda: layca_optax.layca(base="adam"),
    "chain(scale_by_adam, scale_by_layca)": lambda: optax.chain(
        optax.scale_by_adam(), layca_optax.scale_by_layca(3**-5)
    ),
}
FAMILIES = {
    "momentum": (("Layca SGD momentum",), ("sgd momentum", "lars", "fromage")),
    "adam": (("Layca Adam", "chain(scale_by_adam, scale_by_layca)"), ("adam", "lamb")),
}
"""Per family: the Layca steps, then the baselines and peers each of them is timed against."""


def _stepper(optimizer: optax.GradientTransformation, params: list, grads: list) -> tuple:
    """One jitted step that keeps its parameters and state in a box, and its state's bytes."""

    @jax.jit
    def step(params, state, grads):
        updates, state = optimizer.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    box = {"params": params, "state": optimizer.init(params)}

    def one_step():
        box["params"], box["state"] = step(box["params"], box["state"], grads)
        return box["params"]

    return one_step, lambda: sum(x.nbytes for x in jax.tree.leaves(box["state"]))


def run(shape_sets: list[str], dtypes: list[str], device: str, rounds: int | None = None) -> list[dict]:
    rows = []
    peak = peak_rss_bytes if device == "cpu" else (lambda step, sync: 0)
    for shape_set in shape_sets:
        for dtype in dtypes:
            weights, gradients = arrays(shape_set)
            put = lambda a, dtype=dtype: jax.device_put(jnp.asarray(a, dtype=dtype))
            params, grads = [put(w) for w in weights], [put(g) for g in gradients]
            for candidates, baselines in FAMILIES.values():
                steps = {name: _stepper(OPTIMIZERS[name](), params, grads) for name in (*candidates, *baselines)}
                label = ("optax (jit)", shape_set, dtype, device)
                rows += compare(label, steps, candidates, jax.block_until_ready, peak, rounds)
                del steps
    return rows
