"""Statistics over seeds, the claims' verdicts, the tables and figures, on synthetic run records."""

import json
import math
import re

import numpy as np
import pytest
from scipy import stats as scipy_stats

from examples import claims, figures, runs, stats, studies, tables
from examples.claims import CONTRADICTED, INCONCLUSIVE, REPRODUCED

STUDY = studies.get("mnist1d")
LAYERS = 5


def record(accuracy: float, rotation: float, epochs: int = 3) -> dict:
    """A run record with a test accuracy (fraction) and every layer rotating linearly to ``rotation``."""
    curve = [[rotation * e / epochs] * LAYERS for e in range(epochs + 1)]
    return {
        "test_accuracy": accuracy,
        "train_accuracy": 1.0,
        "commit": "abc",
        "curves": {"epoch": list(range(epochs + 1)), "rotation": curve},
    }


def write(out_dir, accuracies: dict[str, list[float]], framework="torch", rotation=None, shift=0.0):
    """One record per configuration and seed; rotation rises with accuracy unless ``rotation`` is given."""
    for name, values in accuracies.items():
        config = STUDY.config(name)
        for seed, accuracy in enumerate(values):
            data = record(accuracy, rotation if rotation is not None else accuracy - 0.5 + shift)
            data["key"] = runs.key(STUDY, framework, config, seed)
            path = runs.path(out_dir, framework, config, seed)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(data))


def paper_like(noise: float = 0.002, seeds: int = 5) -> dict[str, list[float]]:
    """Accuracies where every claim holds: Layca level with SGD + weight decay, above SGD, Adam + Layca above Adam."""
    means = {
        "SGD": 0.970, "SGD + weight decay": 0.985, "Adam": 0.950, "Adam + Layca": 0.982, "Layca": 0.986,
        "Layca alpha=-0.6": 0.80, "Layca alpha=+0.6": 0.90, "Layca rate=3^-4": 0.95, "Layca rate=3^-5": 0.88,
        "Layca + warmup": 0.985,
    }  # fmt: skip
    rng = np.random.default_rng(0)
    offsets = rng.normal(0, noise, seeds)  # shared per seed: what pairing removes
    return {name: [m + o + rng.normal(0, noise / 4) for o in offsets] for name, m in means.items()}


def test_t_interval_matches_the_formula_and_covers_95_percent():
    values = [1.0, 2.0, 4.0, 3.0, 5.0]
    e = stats.estimate(values)
    half = scipy_stats.t.ppf(0.975, 4) * np.std(values, ddof=1) / math.sqrt(5)
    assert (e.mean, e.n) == (3.0, 5) and e.low == pytest.approx(3 - half) and e.high == pytest.approx(3 + half)
    rng = np.random.default_rng(1)
    covered = np.mean([(lambda e: e.low < 0 < e.high)(stats.estimate(rng.normal(0, 1, 5))) for _ in range(4000)])
    assert 0.94 < covered < 0.96
    with pytest.raises(ValueError, match="needs at least two seeds; got 1"):
        stats.estimate([0.5])


def test_paired_difference_uses_the_common_seeds_and_removes_shared_noise():
    a, b = {0: 10.0, 1: 20.0, 2: 30.0, 3: 99.0}, {0: 9.0, 1: 19.2, 2: 28.8}
    e = stats.paired(a, b)
    assert e.n == 3 and e.mean == pytest.approx(1.0) and 0 < e.low and e.high - e.low < 3
    unpaired = stats.estimate(a[s] for s in range(3))
    assert unpaired.high - unpaired.low > 40  # the seed-to-seed spread that pairing removes
    assert stats.spearman([1, 2, 3], [3, 2, 1]) == -1 and stats.spearman([1, 1, 1], [1, 2, 3]) == 0


@pytest.mark.parametrize(
    ("low", "high", "beats", "reaches"),
    [(0.1, 2, REPRODUCED, REPRODUCED), (-0.5, 0.5, INCONCLUSIVE, REPRODUCED), (-3, -0.1, CONTRADICTED, INCONCLUSIVE),
     (-3, -1.5, CONTRADICTED, CONTRADICTED)],
)  # fmt: skip
def test_verdicts_follow_the_intervals(low, high, beats, reaches):
    e = stats.Estimate((low + high) / 2, 1.0, 5, low, high)
    assert claims.beats(e) == beats and claims.reaches(e) == reaches


def test_every_claim_reproduced_where_the_data_say_so(tmp_path):
    write(tmp_path, paper_like())
    verdicts = {c.id: c for c in claims.evaluate(STUDY, tmp_path)}
    assert [v.verdict for k, v in verdicts.items() if k != "C5"] == [REPRODUCED] * 7
    assert verdicts["C5"].verdict == "not run" and verdicts["C2b"].n == "5 seeds"
    assert re.fullmatch(r"Layca - SGD: \+1\.\d\d \[\+1\.\d\d, \+1\.\d\d\] points", verdicts["C2b"].effect)
    assert claims.table(list(verdicts.values())).count("\n") == 10


def test_claims_that_fail_are_reported_as_contradicted(tmp_path):
    data = paper_like()
    data["SGD"] = [a + 0.05 for a in data["Layca"]]  # plain SGD 5 points above Layca
    data["Layca alpha=+0.6"] = [a + 0.02 for a in data["Layca"]]  # and a non-uniform Layca above the default
    write(tmp_path, data)
    verdicts = {c.id: c.verdict for c in claims.evaluate(STUDY, tmp_path)}
    assert verdicts["C2b"] == CONTRADICTED and verdicts["C1b"] == CONTRADICTED and verdicts["C2a"] == REPRODUCED


def test_cross_framework_claim_compares_curves_and_accuracy_with_torch(tmp_path):
    data = paper_like(seeds=3)
    write(tmp_path, data)
    subset = {name: data[name][:2] for name in STUDY.cross_framework}
    write(tmp_path, subset, framework="jax")
    (tmp_path / "figures").mkdir()  # not a framework
    c5 = claims.evaluate(STUDY, tmp_path)[-1]
    assert c5.verdict == REPRODUCED and c5.n == "1 frameworks x 3 configurations x 2 seeds"
    assert "difference 0.000" in c5.effect and c5.statement.startswith("torch and jax give")
    write(tmp_path, subset, framework="jax", shift=0.08)  # rotations 0.08 off: beyond the bound
    assert claims.evaluate(STUDY, tmp_path)[-1].verdict == CONTRADICTED


def test_missing_runs_name_the_configurations_and_the_command(tmp_path):
    data = paper_like()
    del data["Layca + warmup"]
    write(tmp_path, data)
    with pytest.raises(ValueError, match="lacks two torch seeds of Layca \\+ warmup: run python -m examples.study"):
        claims.evaluate(STUDY, tmp_path)


def test_tables_and_budget_choice(tmp_path):
    write(tmp_path, paper_like())
    found = runs.load(STUDY, tmp_path)
    rows = tables.configurations(found).splitlines()
    assert len(rows) == 12 and rows[2].startswith("| SGD | 97.") and rows[2].endswith("| 5 |")
    noisy = {name: {s: dict(r, test_accuracy=r["test_accuracy"] + 0.03 * (-1) ** (s + i)) for s, r in by_seed.items()}
             for i, (name, by_seed) in enumerate(found.items())}  # fmt: skip
    assert tables.choose_budget({30: found, 100: found}) == 30  # a tie goes to the cheaper budget
    assert tables.choose_budget({30: noisy, 100: found}) == 100
    assert "| 100 |" in tables.budget({30: noisy, 100: found})


def test_figures_are_written(tmp_path):
    write(tmp_path, paper_like())
    found = runs.load(STUDY, tmp_path)
    figures.rotation_accuracy(found, tmp_path / "a.png", "title")
    figures.rotation_curves(found, tmp_path / "c.png", "title", marks=(2,))
    assert (tmp_path / "a.png").stat().st_size > 20000 and (tmp_path / "c.png").stat().st_size > 20000
