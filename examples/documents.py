"""The generated sections of README.md and examples/README.md, built from committed result files only.

Each section sits between ``<!-- generated:NAME -->`` and ``<!-- /generated:NAME -->``; each table
says which study, commit, n and command it comes from.
"""

import json
from pathlib import Path

from examples import claims, figures, lm_documents, runs, stats, studies, tables
from examples.report import table
from examples.study import DEFAULT_OUT, study_dir

DEMO_RESULTS = Path("results/demo/results.json")
FIGURES = "figures"
STUDY = "mnist1d"
LONGER = "mnist1d-100"
STUDY_COMMAND = f"python -m examples.study {STUDY} --jobs 2"
C5_COMMAND = f"python -m examples.study {STUDY} --framework jax keras-jax --jobs 2"
DEMO_COMMAND = f"python -m examples.demo --out-dir {DEMO_RESULTS.parent}"


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
    summary = "\n".join(f"| {c.id}: {c.statement} | **{c.verdict}** |" for c in verdicts)
    return {
        "claims": f"{caption}\n\n{claims.table(verdicts)}",
        "claims-summary": (
            f"Study `{STUDY}` (MNIST-1D, torch), n = {seeds} seeds, runs at commit {_commits(found)}; "
            f"`{STUDY_COMMAND}`. Effects and 95% intervals: `examples/README.md`.\n\n"
            f"| the paper's claim | verdict |\n|---|---|\n{summary}\n"
        ),
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


def verdicts_section(root: Path) -> dict[str, str]:
    """``verdicts``, for the README: the claims of both studies in one table, one row per verdict."""
    study = studies.get(STUDY)
    out_dir = study_dir(root / DEFAULT_OUT, STUDY, quick=False)
    found = runs.load(study, out_dir)
    paper = claims.evaluate(study, out_dir, STUDY_COMMAND, C5_COMMAND)
    beyond, about = lm_documents.verdicts(root)
    seeds = len({seed for by_seed in found.values() for seed in by_seed})
    known = [claims.REPRODUCED, claims.INCONCLUSIVE, claims.CONTRADICTED]
    found_verdicts = [c.verdict for c in paper + beyond]
    order = [v for v in known if v in found_verdicts] + sorted(set(found_verdicts) - set(known))

    def cell(judged: list[claims.Claim], verdict: str) -> str:
        return "<br>".join(f"{c.id}: {c.statement}" for c in judged if c.verdict == verdict) or "-"

    rows = "".join(f"| **{v}** | {cell(paper, v)} | {cell(beyond, v)} |\n" for v in order)
    return {
        "verdicts": (
            f"The paper's claims: study `{STUDY}` (MNIST-1D), n = {seeds} seeds, runs at commit {_commits(found)}, "
            f"`{STUDY_COMMAND}`. Beyond the paper, on a 2-block transformer: {about}. Each claim's effect, 95% "
            "interval and command: [examples/README.md](examples/README.md).\n\n"
            "| verdict | the paper's claims, on MNIST-1D | beyond the paper, on a small transformer |\n"
            f"|---|---|---|\n{rows}"
        )
    }


def demo_intervals(root: Path) -> tuple[str, dict[str, str]] | None:
    """The demo's column of study intervals: each method's test accuracy in the ``mnist1d-100`` study (the demo's
    task, over seeds), as a 95% t interval; ``None`` when the study's results are not in ``root``."""
    study = studies.get(LONGER)
    found = runs.load(study, study_dir(root / DEFAULT_OUT, LONGER, quick=False))
    if not found:
        return None
    seeds = min(len(by_seed) for by_seed in found.values())
    estimates = {name: stats.estimate(claims.accuracy(found, name).values()) for name in found}
    beside = {name: f"[{e.low:.1f}, {e.high:.1f}]" for name, e in estimates.items()}
    return f"study `{LONGER}` (torch), n = {seeds} seeds: 95% interval", beside


def demo_section(root: Path) -> dict[str, str]:
    """The demo's table, from the committed ``results/demo/results.json``, beside the study's intervals."""
    results = json.loads((root / DEMO_RESULTS).read_text())
    caption = (
        f"`{DEMO_COMMAND}` ({results['framework']}, seed {results['seed']}, {results['samples']} samples, "
        f"{results['epochs']} epochs, {results.get('threads', 1)} thread), commit `{results['commit']}`, n = 1 seed, "
        f"beside the study's interval for the same method (`{DEMO_RESULTS}`, then `python -m examples.report`):"
    )
    return {"demo": f"{caption}\n\n{table(results['runs'], demo_intervals(root))}"}


def sections(root: Path) -> dict[str, str]:
    return {**study_sections(root), **demo_section(root), **verdicts_section(root), **lm_documents.sections(root)}
