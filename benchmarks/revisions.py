"""Before/after: the torch Layca step's cost ratio to torch's own optimizer, at two git revisions.

    python -m benchmarks.revisions --old REV [--new REV] [--sets resnet50 many-small] [--dtypes float32]
                                   [--rounds 5] [--threads 2]

Each round runs one subprocess per revision (old, new, old, new, ...), each in a detached worktree
of that revision, pinned to ``--threads`` cores. Inside a subprocess, Layca and its baseline (foreach
SGD-momentum, foreach Adam) alternate step by step after warm-up (``benchmarks.timing.interleaved``
of this checkout, whatever the revision), and the subprocess reports the median of their time ratios.
The table gives, per set, dtype and optimizer, the median ratio over rounds and its interquartile
range: a ratio taken in one process from the same parameters, so machine load cancels out of it.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.timing import describe

PAIRS = {
    "Layca SGD momentum": "SGD momentum (foreach)",
    "Layca Adam": "Adam (foreach)",
    "Layca SGD momentum (fused)": "SGD momentum (foreach)",
    "Layca Adam (fused)": "Adam (foreach)",
}
ROOT = Path(__file__).resolve().parent.parent

MEASURE = """
import importlib.util, json, statistics, sys
spec = importlib.util.spec_from_file_location("layca_bench_timing", TIMING)
timing = importlib.util.module_from_spec(spec)
spec.loader.exec_module(timing)
timing.pin_threads(THREADS)
import torch
from benchmarks.shapes import arrays
from benchmarks.torch_bench import OPTIMIZERS
shape_set, dtype, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
weights, gradients = arrays(shape_set)
gradients = [torch.as_tensor(g).to(getattr(torch, dtype)) for g in gradients]
def parameters():
    params = [torch.nn.Parameter(torch.as_tensor(w).to(getattr(torch, dtype))) for w in weights]
    for p, g in zip(params, gradients):
        p.grad = g.clone()
    return params
result = {}
for candidate, baseline in PAIRS.items():
    steps_of = {name: OPTIMIZERS[name](parameters()).step for name in (candidate, baseline)}
    times = timing.interleaved(steps_of, lambda _: None, shape_set, rounds=steps)
    result[candidate] = statistics.median(timing.round_ratios(times, candidate, [baseline])[baseline])
print(json.dumps(result))
"""


def worktree(revision: str) -> Path:
    """A detached checkout of ``revision`` (made once, kept under the temp folder)."""
    sha = subprocess.run(["git", "rev-parse", revision], cwd=ROOT, capture_output=True, text=True, check=True)
    path = Path(tempfile.gettempdir()) / f"layca-rev-{sha.stdout.strip()[:12]}"
    if not path.exists():
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(path), revision], cwd=ROOT, check=True, capture_output=True
        )
    return path


def measure(tree: Path, shape_set: str, dtype: str, steps: int, threads: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": f"{tree}{os.pathsep}{tree / 'adapters'}"}
    code = f"PAIRS = {PAIRS!r}\nTIMING = {str(ROOT / 'benchmarks' / 'timing.py')!r}\nTHREADS = {threads}\n" + MEASURE
    result = subprocess.run(
        [sys.executable, "-c", code, shape_set, dtype, str(steps)],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", required=True, help="the revision before (a commit, tag or branch)")
    parser.add_argument("--new", default="HEAD", help="the revision after (default: HEAD)")
    parser.add_argument("--sets", nargs="+", default=["resnet50", "many-small"])
    parser.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2, help="cores to pin each measuring process to")
    parser.add_argument("--steps", type=int, default=6, help="timed steps per optimizer and subprocess")
    args = parser.parse_args(argv)
    trees = {label: worktree(revision) for label, revision in (("old", args.old), ("new", args.new))}
    print(f"| set | dtype | Layca | baseline | {args.old} | {args.new} |")
    print("|---|---|---|---|---|---|")
    for shape_set in args.sets:
        for dtype in args.dtypes:
            runs: dict[str, list[dict[str, float]]] = {"old": [], "new": []}
            for _ in range(args.rounds):
                for label, tree in trees.items():
                    runs[label].append(measure(tree, shape_set, dtype, args.steps, args.threads))
            for candidate, baseline in PAIRS.items():
                old, new = ([run[candidate] for run in runs[label]] for label in ("old", "new"))
                print(f"| {shape_set} | {dtype} | {candidate} | {baseline} | {describe(old)} | {describe(new)} |")


if __name__ == "__main__":
    main()
