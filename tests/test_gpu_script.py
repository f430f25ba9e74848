"""scripts/gpu.sh without a GPU: its argument handling and a dry run."""

import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[1] / "scripts" / "gpu.sh"
pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="scripts/gpu.sh needs bash")


def gpu_sh(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=60)


def test_a_dry_run_prints_the_cuda_tests_the_conformance_matrix_and_the_benchmarks():
    result = gpu_sh("--dry-run", "--quick", "--frameworks", "torch optax", "--wheels", "no-such-folder")
    assert result.returncode == 0, result.stderr
    commands = [line for line in result.stdout.splitlines() if line.startswith("+ ")]
    assert len(commands) == 3
    assert "tests/layca_torch " in commands[0] and "tests/conformance/test_adapters.py" in commands[0]
    assert commands[1].endswith("-m layca_conformance --all --device cuda --report docs/conformance-gpu.md --quick")
    assert commands[2].endswith(
        "-m benchmarks.run --device cuda --sets resnet50 gpt2-small many-small --frameworks torch optax"
        " --torch-families momentum adam compiled-step"
    )
    assert "dry run: nothing ran" in result.stdout


def test_the_gpu_benchmark_times_the_default_fused_and_compiled_steps_against_the_peers():
    from benchmarks.torch_bench import FAMILIES

    timed = {name for layca, baselines in FAMILIES.values() for name in layca + baselines}
    for name in ("Layca SGD momentum", "Layca SGD momentum (fused)", "Layca SGD momentum (fused, compiled step)"):
        assert name in timed
    assert {"LARS (pytorch-optimizer)", "Lamb (pytorch-optimizer)"} <= timed


@pytest.mark.parametrize(
    ("args", "message"), [(["--bogus"], "unknown option --bogus"), (["--python"], "--python needs a value")]
)
def test_wrong_arguments_are_explained(args, message):
    result = gpu_sh(*args)
    assert result.returncode == 2 and message in result.stderr


def test_carried_wheels_are_installed_offline_first(tmp_path):
    (tmp_path / "array_api_compat-1.16.0-py3-none-any.whl").touch()
    result = gpu_sh("--dry-run", "--wheels", str(tmp_path))
    first = result.stdout.splitlines()[0]
    assert first.startswith("+ python3 -m pip install") and "--no-index" in first and "array_api_compat" in first
