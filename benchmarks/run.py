"""Time a full optimizer step of Layca against each framework's own optimizers, in interleaved rounds.

    python -m benchmarks.run [--sets resnet50 gpt2-small many-small] [--dtypes float32 bfloat16]
                             [--device cpu|cuda] [--frameworks torch optax keras-jax keras-torch]
                             [--threads N] [--rounds N]

Each Layca step and its baselines run in one process from the same parameters (each with its own
copy and state), one step each per round (A B C A B C ...) after warm-up, on ``--threads`` pinned cores.
Per baseline, the table gives the median over rounds of the per-round time ratio and its
interquartile range, the step's peak memory above what the process held before it (peak RSS on
the CPU, ``torch.cuda.max_memory_allocated`` on CUDA) and the optimizer-state size. Writes
``benchmarks/results/<device>.json`` and ``.md``. Keras runs in one subprocess per backend.
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from benchmarks.timing import describe, pin_threads

FRAMEWORKS = ("torch", "optax", "keras-jax", "keras-torch")


def ratios(rows: list[dict]) -> list[str]:
    lines = [
        "| framework | set | dtype | Layca | baseline | ratio, median (IQR) | Layca ms | baseline ms "
        "| step peak MB (Layca / baseline) | state MB (Layca / baseline) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(rows):
        for baseline, per_round in r["ratios"].items():
            same = ("framework", "set", "dtype")
            b = next(o for o in rows[i + 1 :] if o["optimizer"] == baseline and all(o[k] == r[k] for k in same))
            lines.append(
                f"| {r['framework']} | {r['set']} | {r['dtype']} | {r['optimizer']} | {baseline} | "
                f"{describe(per_round)} | {r['ms']:.2f} | {b['ms']:.2f} | "
                f"{r['step_peak_mb']:.1f} / {b['step_peak_mb']:.1f} | {r['state_mb']:.1f} / {b['state_mb']:.1f} |"
            )
    return lines


def run_keras(backend: str, args: argparse.Namespace) -> list[dict]:
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, "-m", "benchmarks.run", "--keras-only", "--device", args.device, "--threads"]
    command += [str(args.threads), "--sets", *args.sets, "--dtypes", *args.dtypes]
    command += ["--rounds", str(args.rounds)] if args.rounds else []
    result = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=["resnet50", "gpt2-small", "many-small"])
    parser.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"])
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--frameworks", nargs="+", default=list(FRAMEWORKS), choices=FRAMEWORKS)
    parser.add_argument("--threads", type=int, default=2, help="cores to pin the process and its thread pools to")
    parser.add_argument(
        "--torch-families", nargs="+", default=["momentum", "adam"], choices=("momentum", "adam", "compiled-step")
    )
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds (default: per set, timing.ROUNDS)")
    parser.add_argument("--out-dir", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--keras-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    pin_threads(args.threads)
    if args.keras_only:
        from benchmarks import keras_bench

        print(json.dumps(keras_bench.run(args.sets, args.dtypes, args.device, args.rounds)))
        return
    rows: list[dict] = []
    for framework in args.frameworks:
        if framework == "torch":
            import torch

            torch.set_num_threads(args.threads)
            from benchmarks import torch_bench

            rows += torch_bench.run(args.sets, args.dtypes, args.device, args.rounds, tuple(args.torch_families))
        elif framework == "optax":
            from benchmarks import optax_bench

            rows += optax_bench.run(args.sets, args.dtypes, args.device, args.rounds)
        else:
            rows += run_keras(framework.removeprefix("keras-"), args)
        report = save(rows, args)  # after each framework: a later one that fails loses nothing measured
    print(report)


def save(rows: list[dict], args: argparse.Namespace) -> str:
    """Write the rows and their table to ``--out-dir``; return the table."""
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / f"{args.device}.json").write_text(json.dumps(rows, indent=1))
    report = "\n".join(ratios(rows))
    (args.out_dir / f"{args.device}.md").write_text(report + "\n")
    return report


if __name__ == "__main__":
    main()
