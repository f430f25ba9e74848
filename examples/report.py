"""Write an experiment's runs: a figure of layer rotation curves (one panel per run), markdown, JSON and CSV."""

import json
import math
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import layca_core  # noqa: E402
from examples.experiment import Run  # noqa: E402


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "_", name.replace("+", "plus").replace("-", "minus")).strip("_")


def table(runs: list[Run]) -> str:
    lines = ["| method | test acc. | train acc. | final rotation per layer (first -> last) |", "|---|---|---|---|"]
    for run in runs:
        rotation = " ".join(f"{d:.2f}" for d in run.final_rotation.values())
        lines.append(
            f"| {run.method} | {100 * run.test_accuracy:.1f}% | {100 * run.train_accuracy:.1f}% | {rotation} |"
        )
    return "\n".join(lines) + "\n"


def write(runs: list[Run], out_dir: Path, figure_name: str, about: dict, columns: int | None = None) -> None:
    """``figure_name`` (PNG), ``results.md``, ``results.json`` (``about`` and each run) and one CSV per run."""
    out_dir.mkdir(parents=True, exist_ok=True)
    columns = columns or len(runs)
    rows = math.ceil(len(runs) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(3.4 * columns, 3.0 * rows), layout="constrained", squeeze=False)
    for ax, run in zip(axes.flat, runs):
        layca_core.plot_layer_rotation(run.history, ax=ax, title=f"{run.method}\ntest {100 * run.test_accuracy:.1f}%")
    for ax in list(axes.flat)[len(runs) :]:
        ax.axis("off")
    figure.suptitle(", ".join(f"{key} {value}" for key, value in about.items()))
    figure.savefig(out_dir / figure_name, dpi=110)
    plt.close(figure)
    for run in runs:
        run.history.save(str(out_dir / f"rotation_{_slug(run.method)}.csv"))
    (out_dir / "results.json").write_text(json.dumps({**about, "runs": [r.summary() for r in runs]}, indent=1))
    (out_dir / "results.md").write_text(table(runs))
    print(table(runs))
