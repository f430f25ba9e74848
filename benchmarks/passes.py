"""Where a torch Layca step's time goes: milliseconds per pass of the engine, and its words per parameter.

    python -m benchmarks.passes [--sets resnet50 gpt2-small] [--threads 1] [--steps 7] [--out-dir DIR]

Each executor primitive (and the base step) is timed by wrapping it for a few steps of ``layca_torch.Layca``
(momentum and Adam; the default path and ``fused=True``) on the set's float32 shapes; "rest" is the step's
time outside them (Python, policy, per-layer scalars). A primitive's words per parameter, read and written from
memory, are its design (``WORDS``); a pass that does not run on a path is absent from its row. Writes
``benchmarks/results/passes-cpu.{json,md}``.
"""

import argparse
import json
import statistics
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from benchmarks.timing import pin_threads

PASSES = ("base_steps", "finite", "amax", "sums", "perp", "squares", "combine")
WORDS = {
    ("momentum", "multi_tensor"): {"base_steps": 6, "amax": 1, "sums": 3, "squares": 2, "combine": 5},
    ("momentum", "compiled"): {"base_steps": 6, "sums": 2, "combine": 3},
    ("momentum", "compiled, base folded"): {"sums": 3, "combine": 5},
    ("adam", "multi_tensor"): {"base_steps": 21, "amax": 1, "sums": 3, "squares": 2, "combine": 5},
    ("adam", "compiled"): {"base_steps": 21, "sums": 2, "combine": 3},
}
"""Words read and written per parameter by each pass, as written: the gradient check 1 and momentum 5 (torch's
``mul_`` then ``add_``); Adam's base 21 (two blends, the root, the bias correction); ``sums`` reads w and s (2), the
multi-tensor path |w|^2 apart (3); the compiled sums with the momentum step folded read g, b and w (3), and its apply
reads them again and writes b and w (5)."""


CURRENT: dict[str, float] = defaultdict(float)
"""Milliseconds of each pass in the step being measured."""


def _instrumented(classes: list[type]) -> None:
    """Wrap each class's own primitives so that every call adds its milliseconds to ``CURRENT``."""
    for cls in classes:
        for name in PASSES:
            if name in vars(cls):
                setattr(cls, name, _timed(vars(cls)[name], name))


def _timed(method: Any, name: str) -> Any:
    """``method``, adding its milliseconds to ``CURRENT[name]`` unless a timed primitive called it (a subclass's
    primitive calling its parent's is counted once)."""

    def timed(*args: Any, **kwargs: Any) -> Any:
        if _ACTIVE:
            return method(*args, **kwargs)
        _ACTIVE.append(name)
        start = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            CURRENT[name] += 1000 * (time.perf_counter() - start)
            _ACTIVE.pop()

    return timed


_ACTIVE: list[str] = []


EXECUTOR_PACKAGES = ("layca_torch._executors", "layca_core.torch_executors")
"""Where a tree keeps its torch executors: the torch adapter, or the core in older revisions (``--old`` runs)."""


def executor_module(module: str) -> Any:
    """The torch executors' module ``module`` of this tree, or None where it has none."""
    import importlib

    for package in EXECUTOR_PACKAGES:
        try:
            return importlib.import_module(f"{package}.{module}")
        except ImportError:
            continue
    return None


def executor_classes() -> list[type]:
    """The torch executors' classes this tree has (an older revision may lack some: ``--old`` runs)."""
    names = {"multi_tensor": "TorchExecutor", "flat_executor": "FlatExecutor", "compiled_executor": "CompiledExecutor"}
    modules = {module: executor_module(module) for module in names}
    return [getattr(modules[module], name) for module, name in names.items() if modules[module] is not None]


def folds() -> bool:
    """Whether this tree's compiled executor takes a momentum base step in its sums' loop (not before this change)."""
    return hasattr(executor_module("compiled_executor"), "Pending")


def measure(shape_set: str, base: str, fused: bool, steps: int) -> dict[str, float]:
    """Median milliseconds per step of each pass, and of the whole step."""
    import torch

    import layca_torch
    from benchmarks.shapes import arrays

    weights, gradients = arrays(shape_set)
    params = [torch.nn.Parameter(torch.from_numpy(w).float()) for w in weights]
    for p, g in zip(params, gradients):
        p.grad = torch.from_numpy(g).float()
    optimizer = layca_torch.Layca(params, base=base, fused=fused)
    for _ in range(3):
        optimizer.step()
    timings: dict[str, list[float]] = defaultdict(list)
    for _ in range(steps):
        CURRENT.clear()
        start = time.perf_counter()
        optimizer.step()
        CURRENT["step"] = 1000 * (time.perf_counter() - start)
        for name, ms in CURRENT.items():
            timings[name].append(ms)
    result = {name: statistics.median(values) for name, values in timings.items() if max(values) >= 0.05}
    result["rest"] = max(0.0, result["step"] - sum(v for k, v in result.items() if k != "step"))
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=["resnet50", "gpt2-small"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=7)
    parser.add_argument("--out-dir", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)
    pin_threads(args.threads)
    import torch

    torch.set_num_threads(args.threads)
    _instrumented(executor_classes())
    import layca_torch.optimizer

    if hasattr(layca_torch.optimizer, "base_steps"):  # older revisions take the base step outside the executor
        layca_torch.optimizer.base_steps = _timed(layca_torch.optimizer.base_steps, "base_steps")
    rows = []
    for shape_set in args.sets:
        for base in ("momentum", "adam"):
            for fused in (False, True):
                row = measure(shape_set, base, fused, args.steps)
                path = "compiled, base folded" if fused and base != "adam" and folds() else "compiled"
                path = path if fused else "multi_tensor"
                rows.append({"set": shape_set, "base": base, "fused": fused, "path": path, "ms": row})
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "passes-cpu.json").write_text(json.dumps(rows, indent=1))
    (args.out_dir / "passes-cpu.md").write_text("\n".join(table(rows)) + "\n")
    print("\n".join(table(rows)))


def table(rows: list[dict]) -> list[str]:
    header = "| set | Layca | " + " | ".join(PASSES) + " | rest | step |"
    lines = [header, "|---" * (len(PASSES) + 4) + "|"]
    for r in rows:
        words = WORDS.get((r["base"], r["path"]), {})
        cells = [_cell(r["ms"].get(p), words.get(p)) for p in PASSES]
        name = f"{r['base']}{' (fused)' if r['fused'] else ''}"
        lines.append(
            f"| {r['set']} | {name} | " + " | ".join(cells) + f" | {r['ms']['rest']:.1f} | {r['ms']['step']:.1f} |"
        )
    return lines


def _cell(ms: float | None, words: int | None) -> str:
    """A pass's milliseconds, with its words per parameter where they are known; "-" where it did not run."""
    if ms is None or ms < 0.05 and not words:
        return "-"
    return f"{ms:.1f} ({words}w)" if words else f"{ms:.1f}"


if __name__ == "__main__":
    main()
