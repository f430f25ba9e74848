"""Markdown tables of a study's stored runs: one row per configuration, and the choice of the task's budget."""

import numpy as np

from examples import stats
from examples.claims import accuracy, mean_final_rotation

# The comparisons whose separation picks the budget: those of claims C2 and C3, fixed before any run.
SEPARATIONS = (
    ("Layca", "SGD + weight decay"),
    ("Layca", "SGD"),
    ("Adam + Layca", "Adam"),
    ("Adam + Layca", "SGD + weight decay"),
)


def configurations(found: dict[str, dict[int, dict]]) -> str:
    """Test accuracy (mean, sd, 95% t interval), training accuracy and mean final rotation per layer, over seeds."""
    lines = [
        "| configuration | test acc. (%) mean [95% interval] | sd | train acc. (%) | "
        "final rotation per layer, mean over seeds (first -> last) | mean final rotation | n |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, by_seed in found.items():
        test = stats.estimate(accuracy(found, name).values())
        train = np.mean([100 * r["train_accuracy"] for r in by_seed.values()])
        layers = np.mean([r["curves"]["rotation"][-1] for r in by_seed.values()], axis=0)
        rotation = np.mean([mean_final_rotation(r) for r in by_seed.values()])
        lines.append(
            f"| {name} | {test.mean:.1f} [{test.low:.1f}, {test.high:.1f}] | {test.sd:.2f} | {train:.1f} | "
            f"{' '.join(f'{d:.2f}' for d in layers)} | {rotation:.2f} | {test.n} |"
        )
    return "\n".join(lines) + "\n"


def separated(found: dict[str, dict[int, dict]]) -> dict[tuple[str, str], stats.Estimate]:
    """The paired differences of ``SEPARATIONS`` (test accuracy points)."""
    return {(a, b): stats.paired(accuracy(found, a), accuracy(found, b)) for a, b in SEPARATIONS}


def _excluding_zero(differences: dict) -> int:
    return sum(e.low > 0 or e.high < 0 for e in differences.values())


def choose_budget(budgets: dict[int, dict[str, dict[int, dict]]]) -> int:
    """The budget (epochs) where most ``SEPARATIONS`` have an interval excluding 0; on a tie, the fewest epochs."""
    counts = {epochs: _excluding_zero(separated(found)) for epochs, found in budgets.items()}
    return max(sorted(counts), key=lambda epochs: counts[epochs])


def budget(budgets: dict[int, dict[str, dict[int, dict]]]) -> str:
    """One row per budget: each separation's paired difference and how many exclude 0."""
    header = " | ".join(f"{a} - {b}" for a, b in SEPARATIONS)
    lines = [f"| epochs | {header} | intervals excluding 0 | n |", "|---|" + "---|" * (len(SEPARATIONS) + 2)]
    for epochs, found in sorted(budgets.items()):
        differences = separated(found)
        count = _excluding_zero(differences)
        cells = " | ".join(e.text(2) for e in differences.values())
        n = min(e.n for e in differences.values())
        lines.append(f"| {epochs} | {cells} | {count} of {len(SEPARATIONS)} | {n} seeds |")
    return "\n".join(lines) + "\n"
