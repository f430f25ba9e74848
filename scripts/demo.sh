#!/usr/bin/env bash
# Install what the chosen framework needs (once), then run the main demo: five training methods on MNIST-1D.
# Usage: bash scripts/demo.sh [--framework torch|jax|keras|keras-tensorflow|keras-jax|keras-torch] [demo options]
set -euo pipefail
cd "$(dirname "$0")/.."
framework=torch
previous=""
for arg in "$@"; do
  case "$arg" in
    --framework=*) framework="${arg#--framework=}" ;;
    *) [ "$previous" = "--framework" ] && framework="$arg" ;;
  esac
  previous="$arg"
done
case "$framework" in
  torch) extras=torch ;;
  jax) extras=jax ;;
  keras | keras-tensorflow) extras=keras,tensorflow ;;
  keras-jax) extras=keras,jax ;;
  keras-torch) extras=keras,torch ;;
  *) echo "--framework must be one of torch, jax, keras, keras-tensorflow, keras-jax, keras-torch; got '$framework'." >&2; exit 2 ;;
esac
bash scripts/setup.sh "$extras,examples"
.venv/bin/python -m examples.demo "$@"
