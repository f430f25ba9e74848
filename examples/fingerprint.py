"""The numerics fingerprint: a few Layca steps of every base, in one framework, hashed to twelve hex digits.

Committed results (the demo's, each study run's) record the fingerprint of the code that made them. A change that
moves any number a Layca step computes, by as little as one ulp, changes it; ``tests/examples/test_fingerprint.py``
then fails and names the command that remakes the results, and a study's rerun retrains exactly its stale runs.
Each framework runs in its own process, on one thread (the order of float32 sums depends on the thread count).

    python -m examples.fingerprint [--framework torch jax keras-jax]
"""

import argparse
import functools
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from examples import experiment

ROOT = Path(__file__).resolve().parents[1]
STEPS = 3
# name -> (shape, gradient scale): a small layer (torch's stacked executor), a convolution, a layer over 16,384
# entries (the multi-tensor path), and a bias (not a layer); gradients from 1e-3 to 1e3.
TENSORS = {
    "small_kernel": ((24, 16), 1e-3),
    "small_bias": ((16,), 1.0),
    "conv_kernel": ((3, 3, 4, 8), 1.0),
    "large_kernel": ((160, 128), 1e3),
}
BASES = ("sgd", "momentum", "nesterov", "amom", "adam", "rmsprop", "adagrad", "muon")
# (base, options): every base as the studies run it, then the other variants and layer-wise rates.
CASES = [(base, {}) for base in BASES] + [
    ("momentum", {"variant": "hyperball"}),
    ("momentum", {"variant": "lars"}),
    ("adam", {"alpha": 0.6}),
]
RATE = 3**-3
# Instruction-set extensions that can change how a float sum is ordered (vector width, fused multiply-add).
CPU_FLAGS = ("avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_bf16", "amx_bf16", "neon", "sve")


def inputs() -> tuple[dict[str, np.ndarray], list[dict[str, np.ndarray]]]:
    """The initial weights (He-scaled) and one gradient per step, float32, the same for every framework."""
    rng = np.random.default_rng(0)
    weights = {
        name: (rng.standard_normal(shape) * (2 / np.prod(shape[:-1])) ** 0.5).astype(np.float32)
        for name, (shape, _) in TENSORS.items()
    }
    grads = [
        {name: (rng.standard_normal(shape) * scale).astype(np.float32) for name, (shape, scale) in TENSORS.items()}
        for _ in range(STEPS)
    ]
    return weights, grads


def _torch(base: str, options: dict, weights: dict, grads: list) -> dict[str, np.ndarray]:
    import torch

    import layca_torch

    params = {name: torch.nn.Parameter(torch.from_numpy(value.copy())) for name, value in weights.items()}
    optimizer = layca_torch.Layca(params.items(), lr=RATE, base=base, **options)
    for grad in grads:
        for name, param in params.items():
            param.grad = torch.from_numpy(grad[name].copy())
        optimizer.step()
    return {name: param.detach().numpy() for name, param in params.items()}


def _jax(base: str, options: dict, weights: dict, grads: list) -> dict[str, np.ndarray]:
    import jax
    import optax

    import layca_optax

    optimizer = layca_optax.layca(RATE, base=base, **options)
    params = {name: jax.numpy.asarray(value) for name, value in weights.items()}
    state = optimizer.init(params)

    @jax.jit
    def step(params, state, grad):
        updates, state = optimizer.update(grad, state, params)
        return optax.apply_updates(params, updates), state

    for grad in grads:
        params, state = step(params, state, grad)
    return {name: np.asarray(value) for name, value in params.items()}


def _keras(base: str, options: dict, weights: dict, grads: list) -> dict[str, np.ndarray]:
    import keras

    import layca_keras

    variables = [keras.Variable(value, name=name.rsplit("_", 1)[1]) for name, value in weights.items()]
    optimizer = layca_keras.Layca(RATE, base=base, **options)
    optimizer.build(variables)
    if keras.backend.backend() == "jax":  # as Keras's JAX trainer steps: stateless, under jax.jit
        import jax

        step = jax.jit(optimizer.stateless_apply)
    for grad in grads:
        values = [keras.ops.convert_to_tensor(grad[name]) for name in weights]
        if keras.backend.backend() != "jax":
            optimizer.apply(values, variables)
            continue
        new_values, new_state = step([v.value for v in optimizer.variables], values, [v.value for v in variables])
        for variable, value in zip([*variables, *optimizer.variables], [*new_values, *new_state]):
            variable.assign(value)
    return {name: keras.ops.convert_to_numpy(variable) for name, variable in zip(weights, variables)}


def _runner(framework: str) -> Callable[..., dict[str, np.ndarray]]:
    if framework == "torch":
        return _torch
    if framework == "jax":
        return _jax
    return _keras


def digest(framework: str) -> str:
    """The fingerprint of this process's code in ``framework`` (imported now, on one thread)."""
    from examples import runs

    runs.pin_threads(framework, 1)
    weights, grads = inputs()
    run = _runner(framework)
    hasher = hashlib.sha256()
    for base, options in CASES:
        final = run(base, options, weights, grads)
        hasher.update(repr((base, sorted(options.items()))).encode())
        for name in TENSORS:
            hasher.update(np.ascontiguousarray(final[name], dtype=np.float32).tobytes())
    return hasher.hexdigest()[:12]


def cpu() -> str:
    """The machine's architecture and the instruction-set extensions that can change a float sum's order."""
    flags: set[str] = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                flags.update(line.partition(":")[2].split())
    except OSError:
        pass
    return " ".join([os.uname().machine, *(flag for flag in CPU_FLAGS if flag in flags)])


@functools.cache
def measure(framework: str) -> dict[str, str]:
    """``{"digest": ..., "cpu": ...}`` for ``framework``, computed in a fresh process on one thread."""
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0", "TF_CPP_MIN_LOG_LEVEL": "2"}
    environment["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "adapters"), environment.get("PYTHONPATH", "")])
    command = [sys.executable, "-m", "examples.fingerprint", "--framework", framework, "--digest-only"]
    result = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"the {framework} fingerprint failed:\n{result.stderr[-3000:]}")
    return {"digest": result.stdout.strip().splitlines()[-1], "cpu": cpu()}


def main(argv: list[str] | None = None) -> dict[str, dict[str, str]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--framework", nargs="+", choices=experiment.FRAMEWORKS, default=["torch", "jax", "keras-jax"])
    parser.add_argument("--digest-only", action="store_true", help="one framework, in this process: print its digest")
    args = parser.parse_args(argv)
    if args.digest_only:
        if len(args.framework) != 1:
            parser.error("--digest-only takes one --framework (each framework runs in its own process).")
        print(digest(args.framework[0]))
        return {}
    found = {framework: measure(framework) for framework in args.framework}
    print(json.dumps(found, indent=2))
    return found


if __name__ == "__main__":
    main()
