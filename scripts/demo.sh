#!/usr/bin/env bash
# Install everything (once), then run the main demo: five training methods on MNIST-1D.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python -m examples.demo "$@"
