#!/usr/bin/env bash
# Install everything, then run the whole test suite: one pytest process for the core, torch,
# optax and the conformance suite, one per Keras backend (Keras fixes its backend per process), then ruff (lint and
# format) and mypy, the examples' quick study (it writes to a temporary folder), the docs, and the built wheel in a
# fresh virtual environment: the README's quickstarts and the conformance matrix (scripts/wheel_check.sh).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || { echo "install failed"; exit 1; }
export LAYCA_BACKENDS="${LAYCA_BACKENDS:-numpy,array_api_strict,torch,jax,tensorflow}"
export MPLBACKEND=Agg PYTHONHASHSEED=0 TF_CPP_MIN_LOG_LEVEL=2

run_pytest() {
  local label=$1; shift
  echo "=== pytest: $label"
  .venv/bin/python -m pytest -p no:cacheprovider "$@"
  local rc=$?
  if [ "$rc" -eq 5 ]; then echo "FAILED: $label collected no tests"; return 1; fi
  return "$rc"
}

status=0
run_pytest "core, torch, optax, conformance" --ignore=tests/layca_keras --ignore=adapters/layca_keras --ignore=tests/conformance/test_keras_adapter.py --ignore=layca_conformance/drivers/keras_driver.py "$@" || status=1
for keras_backend in tensorflow jax torch; do
  if [ -d tests/layca_keras ]; then
    KERAS_BACKEND=$keras_backend run_pytest "keras on $keras_backend" tests/layca_keras adapters/layca_keras tests/conformance/test_keras_adapter.py "$@" || status=1
  fi
done
echo "=== lint and types: ruff check, ruff format --check, mypy (versions pinned by constraints.txt)"
.venv/bin/python -m ruff check . || { echo "FAILED: ruff check (.venv/bin/python -m ruff check --fix)"; status=1; }
.venv/bin/python -m ruff format --check . || { echo "FAILED: ruff format --check (.venv/bin/python -m ruff format)"; status=1; }
.venv/bin/python -m mypy || { echo "FAILED: mypy (files and options: [tool.mypy] in pyproject.toml)"; status=1; }
echo "=== examples: the --quick studies, mnist1d and lm (every claim; torch, JAX, Keras on JAX) into a temporary folder"
quick_dir=$(mktemp -d)
.venv/bin/python -m examples.study mnist1d --quick --framework torch jax keras-jax --jobs 2 --out-dir "$quick_dir" \
  || { echo "FAILED: the quick study (python -m examples.study mnist1d --quick)"; status=1; }
.venv/bin/python -m examples.study lm --quick --framework torch jax keras-jax --jobs 2 --out-dir "$quick_dir" \
  || { echo "FAILED: the quick language-model study (python -m examples.study lm --quick)"; status=1; }
rm -rf "$quick_dir"
echo "=== docs: every page and the API reference, warnings as errors"
bash scripts/docs.sh || status=1
echo "=== wheel: sdist and wheel built and checked, the wheel installed into a fresh venv: quickstarts, conformance"
PYTHON=.venv/bin/python bash scripts/wheel_check.sh || { echo "FAILED: wheel check (scripts/wheel_check.sh)"; status=1; }
[ "$status" -eq 0 ] && echo "ALL TEST RUNS PASSED" || echo "SOME TEST RUNS FAILED"
exit "$status"
