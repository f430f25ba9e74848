"""optax under jit: Layca (momentum, adam bases; a scale_by_layca chain) against sgd, adam and lars."""

import jax
import jax.numpy as jnp
import optax

import layca_optax
from benchmarks.shapes import arrays
from benchmarks.timing import median_ms, row

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


def run(shape_sets: list[str], dtypes: list[str], device: str) -> list[dict]:
    rows = []
    for shape_set in shape_sets:
        for dtype in dtypes:
            weights, gradients = arrays(shape_set)
            put = lambda a, dtype=dtype: jax.device_put(jnp.asarray(a, dtype=dtype))
            params, grads = [put(w) for w in weights], [put(g) for g in gradients]
            for name, factory in OPTIMIZERS.items():
                optimizer = factory()

                @jax.jit
                def step(params, state, grads, optimizer=optimizer):
                    updates, state = optimizer.update(grads, state, params)
                    return optax.apply_updates(params, updates), state

                box = {"params": params, "state": optimizer.init(params)}

                def one_step(box=box, step=step, grads=grads):
                    box["params"], box["state"] = step(box["params"], box["state"], grads)
                    return box["params"]

                ms = median_ms(one_step, jax.block_until_ready, shape_set)
                nbytes = sum(x.nbytes for x in jax.tree.leaves(box["state"]))
                rows.append(row("optax (jit)", shape_set, dtype, device, name, ms, nbytes))
                print(rows[-1], flush=True)
    return rows
