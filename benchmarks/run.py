"""Time a full optimizer step of Layca against each framework's own optimizers, in the same run.

    python -m benchmarks.run [--sets resnet50 gpt2-small many-small] [--dtypes float32 bfloat16]
                             [--device cpu|cuda] [--frameworks torch optax keras-jax keras-torch]

Writes ``benchmarks/results/<device>.json`` and ``.md``: medians after warm-up, the ratio of
each Layca step to its baselines, and optimizer-state memory. Keras runs in one subprocess
per backend.
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

BASELINES = {
    "torch": {
        "Layca SGD momentum": ["SGD momentum (foreach)", "SGD momentum (fused)"],
        "Layca SGD momentum (torch executor)": ["SGD momentum (foreach)", "SGD momentum (fused)"],
        "Layca Adam": ["Adam (foreach)", "Adam (fused)"],
    },
    "optax (jit)": {
        "Layca SGD momentum": ["lars", "sgd momentum"],
        "Layca Adam": ["lars", "adam"],
        "chain(scale_by_adam, scale_by_layca)": ["lars", "adam"],
    },
    "keras": {"Layca SGD momentum": ["SGD momentum"], "Layca Adam": ["Adam"]},
}
FRAMEWORKS = ("torch", "optax", "keras-jax", "keras-torch")


def ratios(rows: list[dict]) -> list[str]:
    lines = [
        "| framework | set | dtype | Layca | baseline | Layca ms | baseline ms | ratio | state MB (Layca / baseline) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    index = {(r["framework"], r["set"], r["dtype"], r["optimizer"]): r for r in rows}
    for r in rows:
        table = BASELINES["keras" if r["framework"].startswith("keras") else r["framework"]]
        for baseline in table.get(r["optimizer"], []):
            b = index.get((r["framework"], r["set"], r["dtype"], baseline))
            if b:
                lines.append(
                    f"| {r['framework']} | {r['set']} | {r['dtype']} | {r['optimizer']} | {baseline} | {r['ms']:.2f} | "
                    f"{b['ms']:.2f} | {r['ms'] / b['ms']:.2f}x | {r['state_mb']:.1f} / {b['state_mb']:.1f} |"
                )
    return lines


def run_keras(backend: str, args: argparse.Namespace) -> list[dict]:
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [
        sys.executable,
        "-m",
        "benchmarks.run",
        "--keras-only",
        "--device",
        args.device,
        "--sets",
        *args.sets,
        "--dtypes",
        *args.dtypes,
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=["resnet50", "gpt2-small", "many-small"])
    parser.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"])
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--frameworks", nargs="+", default=list(FRAMEWORKS), choices=FRAMEWORKS)
    parser.add_argument("--out-dir", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--keras-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.keras_only:
        from benchmarks import keras_bench

        print(json.dumps(keras_bench.run(args.sets, args.dtypes, args.device)))
        return
    rows = []
    if "torch" in args.frameworks:
        from benchmarks import torch_bench

        rows += torch_bench.run(args.sets, args.dtypes, args.device)
    if "optax" in args.frameworks:
        from benchmarks import optax_bench

        rows += optax_bench.run(args.sets, args.dtypes, args.device)
    for framework in args.frameworks:
        if framework.startswith("keras-"):
            rows += run_keras(framework.removeprefix("keras-"), args)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / f"{args.device}.json").write_text(json.dumps(rows, indent=1))
    report = "\n".join(ratios(rows))
    (args.out_dir / f"{args.device}.md").write_text(report + "\n")
    print(report)


if __name__ == "__main__":
    main()
