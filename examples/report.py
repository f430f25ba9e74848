"""Write an experiment's runs: a figure of layer rotation curves (one panel per run), markdown, JSON and CSV."""

import json
import math
import re
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import layca_core  # noqa: E402
from examples.experiment import Run  # noqa: E402
from layca_core.plotting import layer_colorbar  # noqa: E402


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


def write(
    runs: list[Run],
    out_dir: Path,
    figure_name: str,
    about: dict,
    columns: int | None = None,
    marks: tuple[float, ...] = (),
    headline: str = "",
) -> None:
    """``figure_name`` (PNG), ``results.md``, ``results.json`` (``about`` and each run) and one CSV per run.

    ``marks``: epochs drawn on every panel (the learning-rate decays); ``headline``: one sentence saying
    what to look at, under the figure's title and above the table.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    columns = columns or len(runs)
    rows = math.ceil(len(runs) / columns)
    figure, axes = plt.subplots(
        rows, columns, figsize=(3.0 * columns + 1, 3.0 * rows), layout="constrained", squeeze=False
    )
    panels = list(axes.flat)[: len(runs)]
    for ax, run in zip(panels, runs):
        title = f"{run.method}\ntest {100 * run.test_accuracy:.1f}%"
        layca_core.plot_layer_rotation(run.history, ax=ax, title=title, colorbar=False, marks=marks)
    layer_colorbar(panels, pad=0.01, fraction=0.02)
    for ax in list(axes.flat)[len(runs) :]:
        ax.axis("off")
    about_line = ", ".join(f"{key} {value}" for key, value in about.items())
    decays = f"; dotted lines: learning-rate decays at epochs {', '.join(map(str, marks))}" if marks else ""
    width = int(8 * figure.get_figwidth())  # characters per line of the title, at its font size
    figure.suptitle(textwrap.fill(f"{about_line}{decays}. {headline}", width) if headline else about_line + decays)
    figure.savefig(out_dir / figure_name, dpi=110)
    plt.close(figure)
    for run in runs:
        run.history.save(str(out_dir / f"rotation_{_slug(run.method)}.csv"))
    (out_dir / "results.json").write_text(json.dumps({**about, "runs": [r.summary() for r in runs]}, indent=1))
    text = (f"{headline}\n\n" if headline else "") + table(runs)
    (out_dir / "results.md").write_text(text)
    print(text)
