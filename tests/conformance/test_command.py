"""The one command, ``python -m layca_conformance``, on a correct and a mistaken driver."""

import os
import subprocess
import sys

import pytest

import layca_conformance

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def command(*args: str, cwd: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-m", "layca_conformance", *args], cwd=cwd, env=env, capture_output=True, text=True
    )


def test_a_correct_driver_passes_with_one_line_per_case(tmp_path):
    done = command("--driver", "tests.conformance.mistaken_drivers:numpy_port", "--report", "r.md", cwd=tmp_path)
    lines = done.stdout.splitlines()
    expected = len(layca_conformance.selected())
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(lines) == expected + 1 and all(line.startswith("pass ") for line in lines[:-1])
    assert lines[-1] == f"{expected} passed, 0 failed"
    assert (tmp_path / "r.md").read_text().strip().endswith(lines[-1])


def test_a_mistaken_driver_fails_and_exits_non_zero(tmp_path):
    driver = "tests.conformance.mistaken_drivers:non_finite_passed_through"
    done = command("--driver", driver, "--dtypes", "float64", "--quick", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stdout.splitlines()[-1].endswith("passed, 1 failed")
    assert "FAIL nan-gradients" in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--driver", "no_colon"), "must name a function as package.module:function"),
        (("--driver", "layca_conformance:no_such_function"), "has no function 'no_such_function'"),
        (("--driver", "no_such_module:run"), "module 'no_such_module' cannot be imported"),
        (("--driver", "x:run", "--cases-version", "999"), "this case table is version"),
    ],
)
def test_usage_errors_exit_2_with_one_sentence(tmp_path, args, message):
    done = command(*args, cwd=tmp_path)
    assert done.returncode == 2 and message in done.stderr
