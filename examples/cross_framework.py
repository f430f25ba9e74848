"""The same Layca run in NumPy (exact), PyTorch, JAX and Keras on each backend, overlaid.

One bias-free MLP on scikit-learn's digits, one NumPy initialization, the same batches
(``layca_conformance/end_to_end.py``). Keras runs once per backend in a subprocess.

    python -m examples.cross_framework [--dtype float32] [--out results/cross_framework.png]
"""

import argparse
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from layca_conformance import end_to_end  # noqa: E402

KERAS_BACKENDS = ("tensorflow", "jax", "torch")


def keras_curves(backend: str, dtype: str) -> np.ndarray:
    code = f"import json; from layca_conformance import end_to_end; print(json.dumps(end_to_end.keras_run({dtype!r}).tolist()))"
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return np.array(json.loads(result.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", default="float32", choices=("float32",))
    parser.add_argument("--out", type=Path, default=Path("results/cross_framework.png"))
    args = parser.parse_args(argv)
    runs = {"PyTorch": end_to_end.torch_run(args.dtype), "JAX/Optax": end_to_end.jax_run(args.dtype)}
    runs |= {f"Keras ({b})": keras_curves(b, args.dtype) for b in KERAS_BACKENDS}
    exact = end_to_end.numpy_run()
    differences = {name: float(np.abs(curves - exact).max()) for name, curves in runs.items()}
    steps = np.arange(1, end_to_end.STEPS + 1)
    figure, ax = plt.subplots(figsize=(5, 3.2), layout="constrained")
    for layer, color in enumerate(("#440154", "#fde725")):
        ax.plot(
            steps, exact[:, layer], color=color, linewidth=4, alpha=0.4, label=f"NumPy reference, layer {layer + 1}"
        )
        for name, curves in runs.items():
            ax.plot(steps, curves[:, layer], linewidth=0.8, linestyle="--", label=f"{name}, layer {layer + 1}")
    ax.set(xlabel="step", ylabel="cosine distance to init", ylim=(0, 1), title=f"Layca, {args.dtype}")
    ax.legend(fontsize=5, ncol=2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.out, dpi=120)
    for name, difference in differences.items():
        print(f"{name:>18}: largest difference from the NumPy reference {difference:.2e}")
    pairwise = max(float(np.abs(a - b).max()) for a, b in itertools.combinations(runs.values(), 2))
    print(f"largest difference between any two frameworks' curves: {pairwise:.2e}; wrote {args.out}")
    return differences | {"largest pairwise": pairwise}


if __name__ == "__main__":
    main()
