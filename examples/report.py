"""Write an experiment's runs (a figure of rotation curves, markdown, JSON, CSV); regenerate the documents.

    python -m examples.report [--check]

rewrites the generated sections of README.md and examples/README.md (and the study's figures) from
the committed result files; ``--check`` changes nothing and fails when a section differs.
"""

import argparse
import json
import math
import re
import sys
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


def table(summaries: list[dict], intervals: tuple[str, dict[str, str]] | None = None) -> str:
    """One row per run, from ``Run.summary()`` dicts.

    ``intervals``: a column header and, per method, a text put beside its test accuracy (the study's interval).
    """
    header, beside = intervals or ("", {})
    extra = f" {header} |" if header else ""
    lines = [
        f"| method | test acc. |{extra} train acc. | final rotation per layer (first -> last) |",
        "|---|---|" + ("---|" if header else "") + "---|---|",
    ]
    for run in summaries:
        rotation = " ".join(f"{d:.2f}" for d in run["final_rotation"].values())
        test, train = 100 * run["test_accuracy"], 100 * run["train_accuracy"]
        cell = f" {beside.get(run['method'], '-')} |" if header else ""
        lines.append(f"| {run['method']} | {test:.1f}% |{cell} {train:.1f}% | {rotation} |")
    return "\n".join(lines) + "\n"


def write(
    runs: list[Run],
    out_dir: Path,
    figure_name: str,
    about: dict,
    columns: int | None = None,
    marks: tuple[float, ...] = (),
    headline: str = "",
    intervals: tuple[str, dict[str, str]] | None = None,
    provenance: dict | None = None,
) -> None:
    """``figure_name`` (PNG), ``results.md``, ``results.json`` (``about``, ``provenance`` and each run) and one CSV
    per run.

    ``about`` is also the figure's title; ``marks``: epochs drawn on every panel (the learning-rate decays); ``headline``: one sentence saying
    what to look at, under the figure's title and above the table; ``intervals``: as for ``table``.
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
    (out_dir / "results.json").write_text(
        json.dumps({**about, **(provenance or {}), "runs": [r.summary() for r in runs]}, indent=1)
    )
    text = (f"{headline}\n\n" if headline else "") + table([r.summary() for r in runs], intervals)
    (out_dir / "results.md").write_text(text)
    print(text)


DOCUMENTS = (Path("README.md"), Path("examples/README.md"))
SECTION = re.compile(r"(<!-- generated:([\w-]+) -->\n)(.*?)(<!-- /generated:\2 -->)", re.S)


def rewrite(text: str, sections: dict[str, str]) -> str:
    """``text`` with every marked section's body replaced by ``sections[name]``; unknown names raise."""
    unknown = [m.group(2) for m in SECTION.finditer(text) if m.group(2) not in sections]
    if unknown:
        raise KeyError(f"no generator for the section(s) {', '.join(unknown)}; known: {', '.join(sections)}.")
    return SECTION.sub(lambda m: m.group(1) + sections[m.group(2)] + m.group(4), text)


def stale(root: Path, sections: dict[str, str]) -> list[str]:
    """The generated sections of ``root``'s documents whose text differs from what the results give."""
    differing = []
    for document in DOCUMENTS:
        text = (root / document).read_text()
        for match in SECTION.finditer(text):
            if match.group(3) != sections[match.group(2)]:
                differing.append(f"{document}: {match.group(2)}")
    return differing


def main(argv: list[str] | None = None) -> int:
    from examples import documents

    parser = argparse.ArgumentParser(description="Rewrite the generated sections of the documents from results.")
    parser.add_argument("--check", action="store_true", help="change nothing; fail when a section differs")
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    args = parser.parse_args(argv)
    sections = documents.sections(args.root)
    if args.check:
        differing = stale(args.root, sections)
        for item in differing:
            print(f"out of date: {item} (run python -m examples.report)")
        return 1 if differing else 0
    for document in DOCUMENTS:
        path = args.root / document
        path.write_text(rewrite(path.read_text(), sections))
    print(f"wrote the figures in {documents.write_figures(args.root)}")
    print(f"rewrote the generated sections of {', '.join(map(str, DOCUMENTS))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
