"""The generated sections of README.md and examples/README.md, built from committed result files only.

Each section sits between ``<!-- generated:NAME -->`` and ``<!-- /generated:NAME -->``; each table
says which study, commit, n and command it comes from.
"""

import json
from pathlib import Path

from examples import claims, figures, lm_documents, runs, studies, tables
from examples.report import table
from examples.study import DEFAULT_OUT, study_dir

DEMO_RESULTS = Path("results/demo/results.json")
FIGURES = "figures"
STUDY = "mnist1d"
LONGER = "mnist1d-100"
STUDY_COMMAND = f"python -m examples.study {STUDY} --jobs 2"
C5_COMMAND = f"python -m examples.study {STUDY} --framework jax keras-jax --jobs 2"


def _commits(found: dict) -> str:
    commits = sorted({record["commit"] for by_seed in found.values() for record in by_seed.values()})
    return ", ".join(f"`{commit}`" for commit in commits)


def _caption(study: studies.Study, found: dict, command: str) -> str:
    seeds = sorted({seed for by_seed in found.values() for seed in by_seed})
    task = study.task
    return (
        f"Study `{study.name}` v{study.version} ({task.dataset}, {task.samples} samples, {task.epochs} epochs, "
        f"torch), runs at commit {_commits(found)}, n = {len(seeds)} seeds; `{command}`, then "
        "`python -m examples.report`. Intervals: 95% t intervals over seeds (paired for differences)."
    )


def write_figures(root: Path) -> Path:
    """The study's rotation-accuracy figure and rotation curves, into its ``figures`` folder (returned); the language
    model's figures into its own."""
    study = studies.get(STUDY)
    out_dir = study_dir(root / DEFAULT_OUT, STUDY, quick=False)
    found = runs.load(study, out_dir)
    figure_dir = out_dir / FIGURES
    figure_dir.mkdir(exist_ok=True)
    title = f"{STUDY} v{study.version}: {study.task.samples} MNIST-1D samples, {study.task.epochs} epochs, torch"
    figures.rotation_accuracy(found, figure_dir / "rotation_accuracy.png", f"{title}; bars: 95% t intervals")
    marks = study.task.schedule().milestones
    figures.rotation_curves(found, figure_dir / "rotation_curves.png", f"{title}; bands: 95% t intervals", marks)
    lm_documents.write_figures(root)
    return figure_dir


def study_sections(root: Path) -> dict[str, str]:
    """``claims``, ``claims-summary``, ``configurations`` (linking the figures) and ``budget``."""
    study = studies.get(STUDY)
    out_dir = study_dir(root / DEFAULT_OUT, STUDY, quick=False)
    found = runs.load(study, out_dir)
    verdicts = claims.evaluate(study, out_dir, STUDY_COMMAND, C5_COMMAND)
    link = f"../{DEFAULT_OUT}/{STUDY}/{FIGURES}"
    caption = _caption(study, found, STUDY_COMMAND)
    seeds = len({seed for by_seed in found.values() for seed in by_seed})
    groups = {}
    for c in verdicts:
        groups.setdefault(c.verdict, []).append(c.id)
    summary = "; ".join(f"{verdict}: {', '.join(ids)}" for verdict, ids in groups.items())
    return {
        "claims": f"{caption}\n\n{claims.table(verdicts)}",
        "claims-summary": f"Study `{STUDY}`, n = {seeds} seeds, runs at commit {_commits(found)}: {summary}.\n",
        "configurations": (
            f"{caption}\n\n{tables.configurations(found)}\n"
            f"![test accuracy against final layer rotation]({link}/rotation_accuracy.png)\n\n"
            f"![layer rotation curves, mean over seeds]({link}/rotation_curves.png)\n"
        ),
        **budget_sections(root, found),
    }


def budget_sections(root: Path, default: dict) -> dict[str, str]:
    """The budget comparison: the longer study against the default study's same configurations and seeds."""
    longer = studies.get(LONGER)
    found = runs.load(longer, study_dir(root / DEFAULT_OUT, LONGER, quick=False))
    seeds = sorted(set.intersection(*(set(by_seed) for by_seed in found.values())))
    budgets = {
        studies.get(STUDY).task.epochs: {name: {s: default[name][s] for s in seeds} for name in found},
        longer.task.epochs: found,
    }
    chosen = tables.choose_budget(budgets)
    return {
        "budget": (
            f"Studies `{STUDY}` (its seeds {', '.join(map(str, seeds))}) and `{LONGER}` "
            f"(`python -m examples.study {LONGER} --seeds {len(seeds)} --jobs 2`), runs at commit "
            f"{_commits(budgets[studies.get(STUDY).task.epochs])} and {_commits(found)}; paired differences in "
            f"test accuracy points, mean [95% t interval].\n\n{tables.budget(budgets)}\n"
            f"The rule picks **{chosen} epochs**.\n"
        )
    }


def demo_section(root: Path) -> dict[str, str]:
    """The demo's table, from the committed ``results/demo/results.json``."""
    results = json.loads((root / DEMO_RESULTS).read_text())
    caption = (
        f"`python -m examples.demo` ({results['framework']}, seed {results['seed']}, {results['samples']} samples, "
        f"{results['epochs']} epochs), commit `{results['commit']}`, n = 1 seed "
        f"(`{DEMO_RESULTS}`, then `python -m examples.report`):"
    )
    return {"demo": f"{caption}\n\n{table(results['runs'])}"}


def sections(root: Path) -> dict[str, str]:
    return {**study_sections(root), **demo_section(root), **lm_documents.sections(root)}
