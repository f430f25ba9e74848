"""The language-model study's generated sections of examples/README.md and its figures, from committed results only."""

from pathlib import Path

import numpy as np

from examples import claims, figures, runs, stats, studies
from examples.study import DEFAULT_OUT, study_dir

STUDY = "lm"
FIGURES = "figures"
COMMAND = f"python -m examples.study {STUDY} --jobs 2"
L5_COMMAND = f"python -m examples.study {STUDY} --seeds 2 --framework jax keras-jax --jobs 2"
PANELS = {
    "AdamW's grid and Adam + Layca": [
        *(f"AdamW lr={lr}" for lr in studies.ADAMW_RATES),
        "AdamW lr=3e-3, no warmup",
        studies.ADAM_LAYCA,
        f"{studies.ADAM_LAYCA} + warmup",
        "Adam + hyperball",
    ],
    "Muon": ["Muon", studies.MUON_LAYCA, "Muon + hyperball"],
    "Adam + Layca's rates at widths 1x and 4x": [
        *studies.rate_sweep(studies.get(STUDY), 1).values(),
        *studies.rate_sweep(studies.get(STUDY), 4).values(),
    ],
}


def _load(root: Path) -> tuple[studies.Study, Path, dict]:
    study = studies.get(STUDY)
    out_dir = study_dir(root / DEFAULT_OUT, STUDY, quick=False)
    return study, out_dir, runs.load(study, out_dir)


def _values(found: dict, name: str, field: str) -> list[float]:
    return [record[field] for record in found[name].values()]


def _caption(study: studies.Study, found: dict) -> str:
    records = [record for by_seed in found.values() for record in by_seed.values()]
    commits = ", ".join(f"`{c}`" for c in sorted({r["commit"] for r in records}))
    hashes = ", ".join(f"`{h}`" for h in sorted({r["corpus_sha256"] for r in records}))
    seeds = sorted({seed for by_seed in found.values() for seed in by_seed})
    task = study.task
    return (
        f"Study `{study.name}` v{study.version} (the synthetic language of `examples/corpus.py`, {task.samples} "
        f"training windows of 32 tokens, corpus SHA-256 {hashes}; {task.epochs} epochs of {task.samples // task.batch}"
        f" steps; torch), runs at commit {commits}, n = {len(seeds)} seeds; `{COMMAND}`, then "
        "`python -m examples.report`. Intervals: 95% t intervals over seeds (paired for differences)."
    )


def _configurations(found: dict) -> str:
    lines = [
        "| configuration | validation loss mean [95% interval] | sd | next-token acc. (%) | "
        "final rotation per layer, mean over seeds (embedding, blocks, head) | mean final rotation | run time (s) | n |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, by_seed in found.items():
        loss = stats.estimate(_values(found, name, "val_loss"))
        accuracy = 100 * np.mean(_values(found, name, "val_accuracy"))
        layers = np.mean([r["curves"]["rotation"][-1] for r in by_seed.values()], axis=0)
        rotation = np.mean([claims.mean_final_rotation(r) for r in by_seed.values()])
        wall = np.mean(_values(found, name, "wall_time_s"))
        lines.append(
            f"| {name} | {loss.mean:.3f} [{loss.low:.3f}, {loss.high:.3f}] | {loss.sd:.3f} | {accuracy:.1f} | "
            f"{' '.join(f'{d:.2f}' for d in layers)} | {rotation:.2f} | {wall:.0f} | {loss.n} |"
        )
    return "\n".join(lines) + "\n"


def _runtime(study: studies.Study, found: dict) -> str:
    """One seed's CPU time from the measured mean wall time of each configuration; the study's at 5 seeds, 2 jobs."""
    per_seed = sum(np.mean(_values(found, name, "wall_time_s")) for name in found)
    widths = {
        w: [np.mean(_values(found, c.name, "wall_time_s")) for c in study.configs if c.width == w] for w in (1, 4)
    }
    return (
        f"Measured run times (wall time of each run's training, one thread per run, `--jobs 2` on 2 cores shared with "
        f"other work, so an upper bound): {np.mean(widths[1]):.0f} s a run at width 1x, {np.mean(widths[4]):.0f} s at "
        f"4x; one seed of all {len(found)} configurations {per_seed / 60:.1f} CPU-minutes, so 5 seeds with "
        f"`--jobs 2` take about {5 * per_seed / 2 / 60:.0f} minutes at these speeds.\n"
    )


def verdicts(root: Path) -> tuple[list[claims.Claim], str]:
    """The language model's claims, and a phrase naming the study they were judged on (its n, commits, command)."""
    study, out_dir, found = _load(root)
    records = [record for by_seed in found.values() for record in by_seed.values()]
    commits = ", ".join(f"`{c}`" for c in sorted({r["commit"] for r in records}))
    seeds = len({seed for by_seed in found.values() for seed in by_seed})
    about = f"study `{STUDY}`, n = {seeds} seeds, runs at commit {commits}, `{COMMAND}`"
    return claims.evaluate(study, out_dir, COMMAND, L5_COMMAND), about


def sections(root: Path) -> dict[str, str]:
    """``lm-claims`` (the claims, the caption, the run times) and ``lm-configurations`` (the table, the figures)."""
    study, out_dir, found = _load(root)
    verdicts = claims.evaluate(study, out_dir, COMMAND, L5_COMMAND)
    caption = _caption(study, found)
    link = f"../{DEFAULT_OUT}/{STUDY}/{FIGURES}"
    return {
        "lm-claims": f"{caption}\n\n{claims.table(verdicts)}\n{_runtime(study, found)}",
        "lm-configurations": (
            f"{caption}\n\n{_configurations(found)}\n"
            f"![validation loss curves, mean over seeds]({link}/val_loss.png)\n\n"
            f"![layer rotation curves, mean over seeds]({link}/rotation_curves.png)\n"
        ),
    }


def _final_loss(found: dict, name: str) -> str:
    loss = stats.estimate(_values(found, name, "val_loss"))
    return f"val. loss {loss.mean:.3f} [{loss.low:.3f}, {loss.high:.3f}], n={loss.n}"


def write_figures(root: Path) -> Path:
    """Validation-loss curves and per-layer rotation curves, into the study's ``figures`` folder (returned)."""
    study, out_dir, found = _load(root)
    figure_dir = out_dir / FIGURES
    figure_dir.mkdir(exist_ok=True)
    title = f"{STUDY} v{study.version}: a 2-block transformer on a synthetic language, torch"
    marks = study.task.schedule().milestones
    figures.loss_curves(found, PANELS, figure_dir / "val_loss.png", f"{title}; bands: 95% t intervals")
    figures.rotation_curves(
        found, figure_dir / "rotation_curves.png", f"{title}; bands: 95% t intervals", marks, subtitle=_final_loss
    )
    return figure_dir
