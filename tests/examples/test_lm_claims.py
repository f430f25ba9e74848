"""The language model's claims (L1-L5) on synthetic run records, and its quick study end to end."""

import dataclasses
import json

import numpy as np
import pytest

from examples import claims, corpus, runs, studies, study
from examples.claims import CONTRADICTED, INCONCLUSIVE, REPRODUCED

LM = studies.get("lm")
LAYERS = 10


def record(loss: float, rotation: float, epochs: int = 3) -> dict:
    """A run record with a final validation loss and every layer rotating linearly to ``rotation``."""
    return {
        "val_loss": loss,
        "val_accuracy": 0.5,
        "commit": "abc",
        "wall_time_s": 10.0,
        "corpus_sha256": "hash",
        "curves": {
            "epoch": list(range(epochs + 1)),
            "val_loss": list(np.linspace(4.0, loss, epochs + 1)),
            "rotation": [[rotation * e / epochs] * LAYERS for e in range(epochs + 1)],
        },
    }


def write(out_dir, losses: dict[str, list[float]], framework="torch", shift=0.0):
    for name, values in losses.items():
        config = LM.config(name)
        for seed, value in enumerate(values):
            data = record(value, 0.5 + shift) | {"key": runs.key(LM, framework, config, seed)}
            path = runs.path(out_dir, framework, config, seed)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(data))


def holding(seeds: int = 4, noise: float = 0.01) -> dict[str, list[float]]:
    """Losses where every claim holds: Layca level with the best AdamW, rate 3^-5 best at both widths."""
    means = {c.name: 1.60 for c in LM.configs}
    means |= {"AdamW lr=1e-3": 1.70, "AdamW lr=1e-2": 1.65, "Muon": 1.55, "Muon + Layca": 1.55}
    means |= {"Adam + Layca rate=3^-4": 1.66, "Adam + Layca rate=3^-6": 1.70}
    means |= {"Adam + Layca rate=3^-4, 4x width": 1.50, "Adam + Layca rate=3^-5, 4x width": 1.45}
    means |= {"Adam + Layca rate=3^-6, 4x width": 1.55}
    rng = np.random.default_rng(0)
    offsets = rng.normal(0, noise, seeds)  # shared per seed: what pairing removes
    return {name: [m + o + rng.normal(0, noise / 10) for o in offsets] for name, m in means.items()}


def verdicts(tmp_path) -> dict[str, claims.Claim]:
    return {c.id: c for c in claims.evaluate(LM, tmp_path)}


def test_every_lm_claim_reproduced_where_the_data_say_so(tmp_path):
    write(tmp_path, holding())
    found = verdicts(tmp_path)
    assert [c.verdict for c in found.values()] == [REPRODUCED] * 4 + ["not run"]
    assert list(found) == ["L1", "L2", "L3", "L4", "L5"]
    assert found["L1"].effect.startswith("Adam + Layca - AdamW lr=3e-3: +0.00") and found["L1"].n == "4 seeds"
    assert found["L3"].effect.startswith("best at 1x: 3^-5; at 4x, loss(3^-5) - loss(3^-4): -0.05")


def test_lm_claims_that_fail_are_contradicted(tmp_path):
    data = holding()
    data["AdamW lr=3e-3"] = [v - 0.10 for v in data["Adam + Layca"]]  # the best AdamW 0.1 nats better
    data["Adam + Layca rate=3^-4, 4x width"] = [v - 0.10 for v in data["Adam + Layca rate=3^-5, 4x width"]]
    write(tmp_path, data)
    found = verdicts(tmp_path)
    assert found["L1"].verdict == CONTRADICTED and found["L3"].verdict == CONTRADICTED
    assert "best at 1x: 3^-5; at 4x, loss(3^-5) - loss(3^-4): +0.100" in found["L3"].effect


def test_the_margin_decides_between_reaching_and_inconclusive():
    inside, straddling = claims.Estimate(0.01, 0.01, 3, 0.0, 0.019), claims.Estimate(0.02, 0.01, 3, 0.01, 0.03)
    assert claims.loss_reaches(inside) == REPRODUCED and claims.loss_reaches(straddling) == INCONCLUSIVE
    assert claims.loss_reaches(claims.Estimate(0.05, 0.01, 3, 0.021, 0.08)) == CONTRADICTED


def test_cross_framework_claim_on_losses(tmp_path):
    data = holding(seeds=3)
    write(tmp_path, data)
    write(tmp_path, {name: data[name][:2] for name in LM.cross_framework}, framework="jax")
    l5 = verdicts(tmp_path)["L5"]
    assert l5.verdict == REPRODUCED and l5.n == "1 frameworks x 2 configurations x 2 seeds"
    assert "validation loss minus torch's +0.000" in l5.effect
    write(tmp_path, {name: data[name][:2] for name in LM.cross_framework}, framework="jax", shift=0.08)
    assert verdicts(tmp_path)["L5"].verdict == CONTRADICTED


def test_the_rate_sweeps_and_configurations_fixed_in_advance():
    assert sorted(studies.rate_sweep(LM, 1)) == sorted(studies.rate_sweep(LM, 4)) == sorted(studies.LAYCA_RATES)
    assert {c.name for c in LM.configs} >= {"AdamW lr=1e-3", "Muon", "Muon + Layca", "Adam + hyperball"}
    assert LM.config("Muon + hyperball").method.variant == "hyperball" and LM.config("Muon").warmup_epochs == 1


@pytest.fixture
def tiny_lm(monkeypatch):
    quick = dataclasses.replace(LM.quick_task, samples=32, epochs=2)
    monkeypatch.setitem(studies.STUDIES, "lm", dataclasses.replace(studies.STUDIES["lm"], quick_task=quick))


def test_the_quick_study_runs_and_judges_every_claim(tiny_lm, tmp_path):
    pytest.importorskip("torch")
    found = study.main(["lm", "--quick", "--jobs", "2", "--out-dir", str(tmp_path)])
    assert [c.id for c in found] == ["L1", "L2", "L3", "L4", "L5"]
    files = sorted((tmp_path / "lm-quick/torch").rglob("seed*.json"))
    assert len(files) == 2 * len(LM.configs)
    sample = json.loads(files[0].read_text())
    assert sample["corpus_sha256"] == corpus.corpus(32).sha256 and sample["steps"] == 2
    assert len(sample["curves"]["val_loss"]) == len(sample["curves"]["rotation"]) == 3
    assert len(sample["curves"]["rotation"][0]) == LAYERS and np.isfinite(sample["val_loss"])
