"""Compile time of a jitted optax update: Layca on each base against ``optax.adamw``, ``lamb`` and ``lars``.

    python -m benchmarks.compile_time [--leaves 50 150 400] [--bases momentum adam ...] [--rounds 3] [--threads 1]
                                      [--chain] [--kernels]

The parameters are ``leaves / 2`` dense layers of 32x16 and their biases. Per round, every optimizer's step
``jax.jit(step).lower(params, state, grads).compile()`` is traced and compiled once, in a fixed order (A B C A B C
...), each from a fresh ``jax.jit`` with the compilation cache off; the table gives per optimizer the median over
rounds of the seconds (tracing and lowering, then XLA's compile) and of the ratio to ``optax.lamb`` in the same round.

``--kernels`` times nothing: it counts, per optimizer, the kernels XLA's CPU backend compiles for the update and the
optimized LLVM IR they hold (from XLA's dump), deterministic numbers that follow its compile time (about 9 ms per
kernel plus the code it holds) where timings on a loaded machine move by 0.4x.
"""

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.timing import describe, pin_threads

BASES = ("sgd", "momentum", "nesterov", "amom", "adam", "rmsprop", "adagrad")
PEERS = ("adamw", "lamb", "lars")


def optimizers(bases: list[str], chained: bool = False) -> dict[str, Callable]:
    """Name -> a fresh optimizer: the peers, Layca on each base, and (``chained``) Layca after optax's Adam."""
    import optax

    import layca_optax

    peers = {"adamw": lambda: optax.adamw(1e-3), "lamb": lambda: optax.lamb(1e-3), "lars": lambda: optax.lars(0.01)}
    chain = {
        "chain(scale_by_adam, scale_by_layca)": lambda: optax.chain(optax.scale_by_adam(), layca_optax.scale_by_layca())
    }
    layca = {f"Layca {base}": lambda base=base: layca_optax.layca(base=base) for base in bases}
    return {**peers, **layca, **(chain if chained else {})}


def params_of(leaves: int) -> dict:
    """``leaves / 2`` dense 32x16 layers and their biases, as a dict of float32 arrays."""
    import jax.numpy as jnp

    tree = {}
    for i in range(leaves // 2):
        tree[f"layer{i:03d}"] = {"w": jnp.full((32, 16), 0.1 + i / leaves), "b": jnp.full((16,), 0.01)}
    return tree


def compile_seconds(make: Callable, params: dict) -> tuple[float, float]:
    """``(trace and lower, compile)`` seconds of one jitted update of a fresh optimizer."""
    import jax
    import optax

    optimizer = make()

    def step(params, state, grads):
        updates, state = optimizer.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    state = optimizer.init(params)
    start = time.perf_counter()
    lowered = jax.jit(step).lower(params, state, params)
    traced = time.perf_counter()
    lowered.compile()
    return traced - start, time.perf_counter() - traced


def kernels(make: Callable, params: dict, dump: Path) -> tuple[int, float]:
    """``(kernels, KB of optimized LLVM IR)`` of one jitted update of a fresh optimizer, read from the files XLA dumps
    into ``dump`` (``--xla_dump_to``, set before JAX starts) for its module."""
    before = set(dump.glob("*jit_step*.ir-with-opt.ll"))
    compile_seconds(make, params)
    made = set(dump.glob("*jit_step*.ir-with-opt.ll")) - before
    return len(made), sum(f.stat().st_size for f in made) / 1e3


def count(leaf_counts: list[int], bases: list[str], chained: bool, dump: Path) -> list[str]:
    """The ``--kernels`` table's lines: per leaf count and optimizer, its kernels and their IR."""
    import jax

    jax.config.update("jax_enable_compilation_cache", False)
    lines = ["| leaves | optimizer | kernels | optimized IR KB |", "|---|---|---|---|"]
    for leaves in leaf_counts:
        params = params_of(leaves)
        for name, make in optimizers(bases, chained).items():
            lines.append("| {} | {} | {} | {:.0f} |".format(leaves, name, *kernels(make, params, dump)))
            print(lines[-1], flush=True)
    return lines


def run(leaf_counts: list[int], bases: list[str], rounds: int, chained: bool = False) -> list[str]:
    """The table's lines: per leaf count and optimizer, median seconds and the ratio to ``optax.lamb``."""
    import jax

    jax.config.update("jax_enable_compilation_cache", False)
    makers = optimizers(bases, chained)
    lines = [
        "| leaves | optimizer | total s | trace + lower s | compile s | ratio to lamb, median (IQR) |",
        "|---|---|---|---|---|---|",
    ]
    for leaves in leaf_counts:
        params = params_of(leaves)
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in makers}
        for _ in range(rounds):
            for name, make in makers.items():
                times[name].append(compile_seconds(make, params))
        lamb = [sum(t) for t in times["lamb"]]
        for name, measured in times.items():
            total = [sum(t) for t in measured]
            trace, compiled = (statistics.median(t[k] for t in measured) for k in (0, 1))
            ratio = describe([t / b for t, b in zip(total, lamb)])
            lines.append(
                f"| {leaves} | {name} | {statistics.median(total):.2f} | {trace:.2f} | {compiled:.2f} | {ratio} |"
            )
            print(lines[-1], flush=True)
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leaves", nargs="+", type=int, default=[50, 150, 400])
    parser.add_argument("--bases", nargs="+", default=list(BASES), choices=BASES)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="cores to pin the process and XLA to")
    parser.add_argument("--chain", action="store_true", help="also chain(scale_by_adam(), scale_by_layca())")
    parser.add_argument("--kernels", action="store_true", help="count the compiled kernels and their IR, no timing")
    args = parser.parse_args(argv)
    pin_threads(args.threads)
    if not args.kernels:
        print("\n".join(run(args.leaves, args.bases, args.rounds, args.chain)))
        return
    with tempfile.TemporaryDirectory() as dump:
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} --xla_dump_to={dump}".strip()
        print("\n".join(count(args.leaves, args.bases, args.chain, Path(dump))))


if __name__ == "__main__":
    main()
