"""The study runner: one record per run, resumable, paired seeds, parallel processes."""

import dataclasses
import json
import shutil

import pytest

from examples import fingerprint, runs, studies, study
from examples.experiment import sgd
from examples.studies import Config, Study, Task

pytest.importorskip("torch")
pytest.importorskip("mnist1d")

TINY = Study(
    "tiny",
    version=1,
    task=Task(samples=400, epochs=2),
    configs=(Config(sgd("A", 0.1)), Config(sgd("B", 0.1)), Config(sgd("C", 0.05), warmup_epochs=1)),
    quick_task=Task(samples=300, epochs=1),
    cross_framework=("A",),
)


@pytest.fixture
def tiny(monkeypatch):
    monkeypatch.setitem(studies.STUDIES, "tiny", TINY)
    return TINY


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    """TINY trained once, 2 seeds, 2 processes: (results root, the runner's output)."""
    root = tmp_path_factory.mktemp("studies")
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(studies.STUDIES, "tiny", TINY)
        study.main(["tiny", "--seeds", "2", "--jobs", "2", "--out-dir", str(root)])
    return root


def records(out_dir):
    return {p.relative_to(out_dir).as_posix(): json.loads(p.read_text()) for p in sorted(out_dir.rglob("*.json"))}


def test_one_record_per_run_with_provenance_and_curves(ran):
    found = records(ran / "tiny")
    assert sorted(found) == [f"torch/{c}/seed{s}.json" for c in "ABC" for s in (0, 1)]
    record = found["torch/C/seed1.json"]
    assert record["key"]["config"] == {**sgd("C", 0.05).as_dict(), "warmup_epochs": 1}
    assert record["key"]["seed"] == 1 and record["key"]["task"]["epochs"] == 2 and record["key"]["version"] == 1
    assert record["commit"] and record["versions"]["torch"] and record["wall_time_s"] > 0
    assert record["numerics"] == fingerprint.measure("torch") and len(record["numerics"]["digest"]) == 12
    curves = record["curves"]
    assert curves["epoch"] == [0.0, 1.0, 2.0] and len(curves["rotation"]) == 3 and len(curves["rotation"][0]) == 5
    assert len(curves["train_loss"]) == len(curves["train_accuracy"]) == 2 and curves["train_loss"][1] > 0


def test_same_seed_same_start_and_batches_across_configurations(ran):
    found = records(ran / "tiny")
    same = [found[f"torch/{name}/seed0.json"] for name in "AB"]  # A and B differ only by name
    assert same[0]["curves"] == same[1]["curves"] and same[0]["test_accuracy"] == same[1]["test_accuracy"]
    assert found["torch/A/seed1.json"]["curves"]["rotation"] != same[0]["curves"]["rotation"]


def test_a_rerun_trains_only_missing_or_stale_runs(ran, tiny, tmp_path, monkeypatch, capsys):
    shutil.copytree(ran / "tiny", tmp_path / "tiny")
    arguments = ["tiny", "--seeds", "2", "--out-dir", str(tmp_path)]
    (tmp_path / "tiny/torch/B/seed1.json").unlink()
    before = {path: path.stat().st_mtime_ns for path in (tmp_path / "tiny").rglob("*.json")}
    capsys.readouterr()
    study.main(arguments)
    output = capsys.readouterr().out
    assert "5 runs done, 1 to train" in output and "6/6 runs done" in output
    assert all(path.stat().st_mtime_ns == mtime for path, mtime in before.items())
    other_code = tmp_path / "tiny/torch/A/seed0.json"
    other_code.write_text(json.dumps({**json.loads(other_code.read_text()), "numerics": {"digest": "0" * 12}}))
    todo, done = study.plan_runs(studies.get("tiny"), ["torch"], 2, tmp_path / "tiny")
    assert done == 5 and [(c.name, s) for _, c, s in todo] == [("A", 0)]  # made by other numerics: stale
    monkeypatch.setitem(studies.STUDIES, "tiny", dataclasses.replace(TINY, version=2))
    todo, done = study.plan_runs(studies.get("tiny"), ["torch"], 2, tmp_path / "tiny")
    assert done == 0 and len(todo) == 6  # a new version retrains everything


def test_other_frameworks_train_the_cross_framework_configurations_with_fewer_seeds(tiny, tmp_path):
    todo, done = study.plan_runs(dataclasses.replace(TINY, cross_seeds=1), ["torch", "jax"], 3, tmp_path)
    assert done == 0 and [(f, c.name, s) for f, c, s in todo if f == "jax"] == [("jax", "A", 0)]
    assert len([run for run in todo if run[0] == "torch"]) == 9


def test_quick_writes_elsewhere_and_options_are_checked(tiny, tmp_path, capsys):
    assert study.study_dir(tmp_path, "tiny", quick=True) == tmp_path / "tiny-quick"
    for arguments, message in [
        (["--seeds", "1"], "--seeds must be at least 2"),
        (["--jobs", "0"], "--jobs must be at least 1"),
        (["--framework", "keras"], "name the backend: keras-tensorflow, keras-jax or keras-torch"),
    ]:
        with pytest.raises(SystemExit):
            study.main(["tiny", *arguments, "--out-dir", str(tmp_path)])
        assert message in capsys.readouterr().err
    with pytest.raises(ValueError, match="study must be one of .*; got 'nope'"):
        studies.get("nope")


def test_a_cifar_study_without_data_dir_says_what_to_pass():
    with pytest.raises(ValueError, match="the cifar10 study needs --data-dir"):
        runs.dataset(studies.get("cifar10").task, None)
