#!/usr/bin/env bash
# Install everything, then run the whole test suite in two lanes, one per core: (1) one pytest process for the core,
# torch, optax and the conformance suite, then the examples' quick studies (they write to a temporary folder);
# (2) one pytest process per Keras backend (Keras fixes its backend per process), ruff (lint and format) and mypy,
# the docs, and the built wheel in a fresh virtual environment: the README's quickstarts and the conformance matrix
# (scripts/wheel_check.sh). Lane 2 prints as it runs, lane 1 when it ends; each part says how long it took.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || { echo "install failed"; exit 1; }
export LAYCA_BACKENDS="${LAYCA_BACKENDS:-numpy,array_api_strict,torch,jax,tensorflow}"
export MPLBACKEND=Agg PYTHONHASHSEED=0 TF_CPP_MIN_LOG_LEVEL=2

timed() {  # label, command...: run it, say how long it took; its exit status
  local label=$1 start=$SECONDS rc; shift
  echo "=== $label"
  "$@"; rc=$?
  echo "=== $label: $([ "$rc" -eq 0 ] && echo passed || echo FAILED) in $((SECONDS - start)) s"
  return "$rc"
}

run_pytest() {
  .venv/bin/python -m pytest -p no:cacheprovider --durations=10 "$@"
  local rc=$?
  if [ "$rc" -eq 5 ]; then echo "FAILED: pytest collected no tests ($*)"; return 1; fi
  return "$rc"
}

quick_studies() {
  local quick_dir rc=0
  quick_dir=$(mktemp -d)
  for name in mnist1d lm; do
    .venv/bin/python -m examples.study "$name" --quick --framework torch jax keras-jax --jobs 2 --out-dir "$quick_dir" \
      || { echo "FAILED: the quick study (python -m examples.study $name --quick)"; rc=1; }
  done
  rm -rf "$quick_dir"
  return "$rc"
}

lint_and_types() {
  local rc=0
  .venv/bin/python -m ruff check . || { echo "FAILED: ruff check (.venv/bin/python -m ruff check --fix)"; rc=1; }
  .venv/bin/python -m ruff format --check . || { echo "FAILED: ruff format --check (.venv/bin/python -m ruff format)"; rc=1; }
  .venv/bin/python -m mypy || { echo "FAILED: mypy (files and options: [tool.mypy] in pyproject.toml)"; rc=1; }
  return "$rc"
}

lane_one() {
  local rc=0
  timed "pytest: core, torch, optax, conformance" run_pytest --ignore=tests/layca_keras --ignore=adapters/layca_keras \
    --ignore=tests/conformance/test_keras_adapter.py --ignore=layca_conformance/drivers/keras_driver.py "$@" || rc=1
  timed "examples: the --quick studies, mnist1d and lm (every claim; torch, JAX, Keras on JAX)" quick_studies || rc=1
  return "$rc"
}

lane_two() {
  local rc=0 keras_backend
  for keras_backend in tensorflow jax torch; do
    KERAS_BACKEND=$keras_backend timed "pytest: keras on $keras_backend" run_pytest tests/layca_keras adapters/layca_keras \
      tests/conformance/test_keras_adapter.py "$@" || rc=1
  done
  timed "lint and types: ruff check, ruff format --check, mypy (versions pinned by constraints.txt)" lint_and_types || rc=1
  timed "docs: every page and the API reference, warnings as errors" bash scripts/docs.sh || rc=1
  timed "wheel: sdist and wheel built and checked, installed into a fresh venv: quickstarts, conformance" \
    env PYTHON=.venv/bin/python bash scripts/wheel_check.sh || rc=1
  return "$rc"
}

status=0
lane_one_log=$(mktemp)
lane_one "$@" >"$lane_one_log" 2>&1 &
lane_one_pid=$!
lane_two "$@" || status=1
wait "$lane_one_pid" || status=1
cat "$lane_one_log"
rm -f "$lane_one_log"
echo "=== the whole run: $SECONDS s"
[ "$status" -eq 0 ] && echo "ALL TEST RUNS PASSED" || echo "SOME TEST RUNS FAILED"
exit "$status"
