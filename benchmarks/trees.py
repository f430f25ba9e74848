"""Before/after of torch's default Layca steps across code trees, against the foreach baseline and the peer.

    git archive REV | tar -x -C DIR          # one tree per revision (or any checkout)
    python -m benchmarks.trees --set resnet50 --threads 1 --rounds 4 --steps 10 OLD_DIR NEW_DIR

Each round runs one subprocess per tree, in the order given, pinned to ``--threads`` cores. In a subprocess, per
family, Layca's default step, torch's foreach optimizer and pytorch-optimizer's peer (LARS for momentum, Lamb for
Adam) step their own copies of the parameters and gradients in interleaved rounds (``benchmarks.timing.interleaved``
of this checkout, whatever the tree). Every timed step gives a ratio (Layca's time over the other's in the same round); the table gives per
tree the median over all steps of all rounds and its interquartile range, and the median milliseconds.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from benchmarks.timing import describe

FAMILIES = {
    "momentum": ("Layca SGD momentum", "SGD momentum (foreach)", "LARS (pytorch-optimizer)"),
    "adam": ("Layca Adam", "Adam (foreach)", "Lamb (pytorch-optimizer)"),
    "fused-momentum": ("Layca SGD momentum (fused)", "SGD momentum (foreach)", "LARS (pytorch-optimizer)"),
    "fused-adam": ("Layca Adam (fused)", "Adam (foreach)", "Lamb (pytorch-optimizer)"),
}
"""Per family, Layca's step first, then what it is compared with; ``--families`` picks (default: the default steps)."""
TIMING = Path(__file__).resolve().parent / "timing.py"
MEASURE = """
import importlib.util, json
spec = importlib.util.spec_from_file_location("layca_bench_timing", TIMING)
timing = importlib.util.module_from_spec(spec)
spec.loader.exec_module(timing)
timing.pin_threads(THREADS)
import torch
from benchmarks.shapes import arrays
from benchmarks.torch_bench import OPTIMIZERS
weights, gradients = arrays(SET)
gradients = [torch.as_tensor(g).float() for g in gradients]
def parameters():
    params = [torch.nn.Parameter(torch.as_tensor(w).float()) for w in weights]
    for p, g in zip(params, gradients):
        p.grad = g.clone()
    return params
times = {}
for family, names in FAMILIES.items():
    steps = {name: OPTIMIZERS[name](parameters()).step for name in names}
    times[family] = timing.interleaved(steps, lambda _: None, SET, rounds=STEPS)
print(json.dumps(times))
"""


def measure(
    tree: Path, shape_set: str, threads: int, steps: int, families: dict[str, tuple[str, ...]]
) -> dict[str, dict[str, list[float]]]:
    """Per family and optimizer, the milliseconds of each timed step, in one subprocess running ``tree``'s code."""
    env = {**os.environ, "PYTHONPATH": f"{tree}{os.pathsep}{tree / 'adapters'}"}
    header = f"TIMING = {str(TIMING)!r}\nTHREADS = {threads}\nSET = {shape_set!r}\nSTEPS = {steps}\n"
    code = header + f"FAMILIES = {families!r}\n" + MEASURE
    result = subprocess.run([sys.executable, "-c", code], cwd=tree, env=env, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs="+", type=Path, help="checkouts to compare, each run once per round")
    parser.add_argument("--set", default="resnet50", choices=("resnet50", "gpt2-small", "many-small"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=6, help="timed steps per optimizer and subprocess")
    parser.add_argument("--families", nargs="+", choices=FAMILIES, default=["momentum", "adam"])
    args = parser.parse_args(argv)
    families = {name: FAMILIES[name] for name in args.families}
    pooled: dict[Path, dict[str, dict[str, list[float]]]] = {tree: {} for tree in args.trees}
    for _ in range(args.rounds):
        for tree in args.trees:
            for family, times in measure(tree, args.set, args.threads, args.steps, families).items():
                for name, ms in times.items():
                    pooled[tree].setdefault(family, {}).setdefault(name, []).extend(ms)
    print("| tree | set | threads | Layca | baseline or peer | ratio, median (IQR) | Layca ms | other ms |")
    print("|---|---|---|---|---|---|---|---|")
    for tree, families in pooled.items():
        for family, (layca, *others) in families.items():
            mine = families[family][layca]
            for other in others:
                ratios = [a / b for a, b in zip(mine, families[family][other])]
                row = [tree.name, args.set, args.threads, layca, other, describe(ratios)]
                row += [f"{statistics.median(mine):.0f}", f"{statistics.median(families[family][other]):.0f}"]
                print("| " + " | ".join(map(str, row)) + " |")


if __name__ == "__main__":
    main()
