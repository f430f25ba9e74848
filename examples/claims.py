"""The paper's claims (arXiv 1806.01603; C1-C5) and the language model's (L1-L5) as checks on a study's runs, each
with a verdict from 95% intervals.

A verdict is *reproduced*, *contradicted* or *inconclusive at this n*. The thresholds are fixed here,
before any run, and are not tuned toward a verdict:

- "A beats B": reproduced when the paired difference's interval lies above 0, contradicted when below 0.
- "A reaches B" (non-inferiority): reproduced when the interval lies above -MARGIN, contradicted when it
  lies below -MARGIN (A worse by more than the margin).
- C5 "same curves": every per-layer rotation within ROTATION_BOUND of torch's at every epoch, and the
  accuracy difference's interval inside +-MARGIN; contradicted when a curve leaves the bound or the
  interval lies outside +-MARGIN.

The language model's claims compare final validation losses (nats per token; lower is better), paired by seed:
"A reaches B" is reproduced when the interval of loss(A) - loss(B) lies below +LOSS_MARGIN, contradicted when
it lies above it. L5 is C5 on losses, within +-LOSS_MARGIN.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from examples import runs, stats, studies
from examples.experiment import FRAMEWORKS
from examples.stats import Estimate
from examples.studies import LAYCA, Study

MARGIN = 1.0  # accuracy points: about 1.7 binomial standard errors of 800 test samples near 97%
LOSS_MARGIN = 0.02  # nats per token of validation loss (2% of perplexity), fixed before the first lm run
ROTATION_BOUND = 0.05  # cosine distance; the rounding between frameworks moved final rotations by up to 0.043
REQUIRED = (LAYCA, "SGD", "SGD + weight decay", "Adam", "Adam + Layca", "Layca + warmup")
REPRODUCED, CONTRADICTED, INCONCLUSIVE = "reproduced", "contradicted", "inconclusive at this n"


@dataclass(frozen=True)
class Claim:
    id: str
    statement: str
    verdict: str
    effect: str
    n: str
    command: str


def beats(e: Estimate) -> str:
    return REPRODUCED if e.low > 0 else CONTRADICTED if e.high < 0 else INCONCLUSIVE


def reaches(e: Estimate) -> str:
    return REPRODUCED if e.low > -MARGIN else CONTRADICTED if e.high < -MARGIN else INCONCLUSIVE


def accuracy(found: dict, name: str) -> dict[int, float]:
    """Test accuracy in points, seed by seed."""
    return {seed: 100 * record["test_accuracy"] for seed, record in found[name].items()}


def mean_final_rotation(record: dict) -> float:
    return float(np.mean(record["curves"]["rotation"][-1]))


def sweep(study: Study) -> list[str]:
    """Layca on SGD without warmup: the default first, then its alpha and rate variations (claim C1)."""
    names = [c.name for c in study.configs if c.method.optimizer == "layca" and c.method.base == "sgd"]
    return [LAYCA, *(name for name in names if name != LAYCA and not study.config(name).warmup_epochs)]


def rank_correlation(study: Study, found: dict) -> Estimate:
    """Spearman's rho between mean final rotation and test accuracy across the sweep, per seed, then over seeds."""
    names = sweep(study)
    seeds = sorted(set.intersection(*(set(found[name]) for name in names)))
    rho = []
    for seed in seeds:
        records = [found[name][seed] for name in names]
        rho.append(stats.spearman([mean_final_rotation(r) for r in records], [r["test_accuracy"] for r in records]))
    return stats.estimate(rho)


def best_layca(study: Study, found: dict, command: str) -> Claim:
    """C1b: the default Layca (alpha 0, rate 3^-3) against each other configuration of the sweep."""
    margins = {other: stats.paired(accuracy(found, LAYCA), accuracy(found, other)) for other in sweep(study)[1:]}
    verdicts = {beats(e) for e in margins.values()}
    verdict = CONTRADICTED if CONTRADICTED in verdicts else REPRODUCED if verdicts == {REPRODUCED} else INCONCLUSIVE
    closest, margin = min(margins.items(), key=lambda item: item[1].mean)
    statement = "Best at large, uniform rotation: alpha = 0, rate 3^-3 beats every other Layca configuration"
    effect = f"smallest margin, {LAYCA} - {closest}: {margin.text(2)} points"
    return Claim("C1b", statement, verdict, effect, f"{margin.n} seeds", command)


PAIRED = (  # id, statement, A, B, test: the claims on one paired difference of test accuracy
    ("C2a", "Layca reaches SGD + weight decay", LAYCA, "SGD + weight decay", reaches),
    ("C2b", "Layca beats plain SGD", LAYCA, "SGD", beats),
    ("C3a", "Layca on Adam improves on Adam (so narrows its gap to SGD + wd)", "Adam + Layca", "Adam", beats),
    ("C3b", "Adam + Layca reaches SGD + weight decay", "Adam + Layca", "SGD + weight decay", reaches),
    ("C4", "Layca needs no warmup: it reaches Layca with 5 warmup epochs", LAYCA, "Layca + warmup", reaches),
)


def paired_claims(study: Study, found: dict, command: str) -> list[Claim]:
    rho = rank_correlation(study, found)
    statement = "Within Layca (alpha and rate sweeps), test accuracy rises with final layer rotation"
    effect = f"Spearman rho (mean final rotation, test acc.) over {len(sweep(study))} configurations: {rho.text(2)}"
    claims = [Claim("C1", statement, beats(rho), effect, f"{rho.n} seeds", command), best_layca(study, found, command)]
    for id_, statement, a, b, test in PAIRED:
        difference = stats.paired(accuracy(found, a), accuracy(found, b))
        effect = f"{a} - {b}: {difference.text(2)} points"
        claims.append(Claim(id_, statement, test(difference), effect, f"{difference.n} seeds", command))
    return claims


def test_accuracy(record: dict) -> float:
    return 100 * record["test_accuracy"]


def cross_framework_claim(study: Study, out_dir: Path, frameworks: list[str], command: str, lm: bool = False) -> Claim:
    """C5 (L5 with ``lm``): each framework's curves and accuracies (validation losses) against torch's, pooled
    over configurations and seeds."""
    metric, margin = (final_loss, LOSS_MARGIN) if lm else (test_accuracy, MARGIN)
    torch_runs = runs.load(study, out_dir, "torch")
    worst, differences, pairs = 0.0, [], []
    for framework in frameworks:
        other = runs.load(study, out_dir, framework)
        for name, by_seed in other.items():
            for seed, record in by_seed.items():
                if seed in torch_runs.get(name, {}):
                    reference = torch_runs[name][seed]
                    gap = np.abs(np.subtract(record["curves"]["rotation"], reference["curves"]["rotation"])).max()
                    worst = max(worst, float(gap))
                    differences.append(metric(record) - metric(reference))
                    pairs.append((framework, name, seed))
    others = " and ".join(frameworks) or "JAX and Keras"
    statement = f"torch and {others} give the same curves within the rounding bound"
    id_ = "L5" if lm else "C5"
    if len(differences) < 2:
        return Claim(id_, statement, "not run", "needs runs in another framework", "0", command)
    accuracy_gap = stats.estimate(differences)
    inside = -margin < accuracy_gap.low and accuracy_gap.high < margin
    outside = accuracy_gap.high < -margin or accuracy_gap.low > margin
    verdict = CONTRADICTED if worst > ROTATION_BOUND or outside else REPRODUCED if inside else INCONCLUSIVE
    names, seeds = {p[1] for p in pairs}, {p[2] for p in pairs}
    measured = (
        f"validation loss minus torch's {accuracy_gap.text(3)} nats"
        if lm
        else (f"test acc. minus torch's {accuracy_gap.text(2)} points")
    )
    effect = f"largest rotation difference {worst:.3f} (bound {ROTATION_BOUND}); {measured}"
    n = f"{len(frameworks)} frameworks x {len(names)} configurations x {len(seeds)} seeds"
    return Claim(id_, statement, verdict, effect, n, command)


def final_loss(record: dict) -> float:
    return record["val_loss"]


def loss(found: dict, name: str) -> dict[int, float]:
    """Final validation loss (nats per token), seed by seed."""
    return {seed: final_loss(record) for seed, record in found[name].items()}


def loss_reaches(e: Estimate) -> str:
    """On loss(A) - loss(B): A at most LOSS_MARGIN worse than B (reproduced), or worse by more (contradicted)."""
    return REPRODUCED if e.high < LOSS_MARGIN else CONTRADICTED if e.low > LOSS_MARGIN else INCONCLUSIVE


def best(found: dict, names) -> str:
    """The configuration of ``names`` with the lowest mean validation loss over its seeds."""
    return min(names, key=lambda name: np.mean(list(loss(found, name).values())))


def rate_transfer(study: Study, found: dict, command: str) -> Claim:
    """L3: Adam + Layca's best rate at width 1x (lowest mean loss) reaches every other rate at 4x."""
    small, large = studies.rate_sweep(study, 1), studies.rate_sweep(study, 4)
    chosen = min(small, key=lambda rate: np.mean(list(loss(found, small[rate]).values())))
    gaps = {rate: stats.paired(loss(found, large[chosen]), loss(found, name)) for rate, name in large.items()}
    gaps = {rate: e for rate, e in gaps.items() if rate != chosen}
    verdicts = {loss_reaches(e) for e in gaps.values()}
    verdict = CONTRADICTED if CONTRADICTED in verdicts else REPRODUCED if verdicts == {REPRODUCED} else INCONCLUSIVE
    rate, worst = max(gaps.items(), key=lambda item: item[1].mean)
    power = lambda r: f"3^-{round(-np.log(r) / np.log(3))}"
    statement = "Adam + Layca's best rotation rate at one width is the best at four times the width"
    effect = f"best at 1x: {power(chosen)}; at 4x, loss({power(chosen)}) - loss({power(rate)}): {worst.text(3)} nats"
    return Claim("L3", statement, verdict, effect, f"{worst.n} seeds", command)


def lm_claims(study: Study, found: dict, command: str) -> list[Claim]:
    """L1, L2, L4 (non-inferiority on validation loss) and L3 (the rate transfers across widths)."""
    adamw = best(found, [f"AdamW lr={lr}" for lr in studies.ADAMW_RATES])
    paired_losses = (
        ("L1", "Adam + Layca (no warmup) reaches the best AdamW of the grid", studies.ADAM_LAYCA, adamw),
        ("L2", "Layca needs no warmup on a transformer", studies.ADAM_LAYCA, f"{studies.ADAM_LAYCA} + warmup"),
        ("L4", "Muon + Layca (no warmup) reaches Muon", studies.MUON_LAYCA, "Muon"),
    )
    claims = []
    for id_, statement, a, b in paired_losses:
        difference = stats.paired(loss(found, a), loss(found, b))
        effect = f"{a} - {b}: {difference.text(3)} nats"
        claims.append(Claim(id_, statement, loss_reaches(difference), effect, f"{difference.n} seeds", command))
    return [*claims[:2], rate_transfer(study, found, command), claims[2]]


def evaluate(study: Study, out_dir: Path, command: str = "", c5_command: str = "") -> list[Claim]:
    """Every claim on the runs stored under ``out_dir`` (torch, and any other framework there for C5).

    None (an empty list) for a study without the claims' configurations, such as ``mnist1d-100``.
    """
    command = command or f"python -m examples.study {study.name} --jobs 2"
    lm = study.claims == "lm"
    if not lm and not set(REQUIRED) <= {c.name for c in study.configs}:
        return []
    found = runs.load(study, out_dir, "torch")
    missing = [c.name for c in study.configs if len(found.get(c.name, {})) < 2]
    if missing:
        raise ValueError(f"{out_dir} lacks two torch seeds of {', '.join(missing)}: run {command}.")
    frameworks = sorted(p.name for p in out_dir.iterdir() if p.name in FRAMEWORKS and p.name != "torch")
    c5_command = c5_command or f"python -m examples.study {study.name} --framework jax keras-jax --jobs 2"
    own = lm_claims(study, found, command) if lm else paired_claims(study, found, command)
    return [*own, cross_framework_claim(study, out_dir, frameworks, c5_command, lm)]


def table(claims: list[Claim]) -> str:
    lines = ["| claim | verdict | effect, mean [95% interval] | n | command |", "|---|---|---|---|---|"]
    for c in claims:
        lines.append(f"| {c.id}: {c.statement} | **{c.verdict}** | {c.effect} | {c.n} | `{c.command}` |")
    return "\n".join(lines) + "\n"
