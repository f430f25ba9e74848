#!/usr/bin/env bash
# Create .venv (once) and install layca with the given extras (default: every extra, as the tests need),
# pinned by constraints.txt. Usage: bash scripts/setup.sh [extras]   e.g. bash scripts/setup.sh torch,examples
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-all,test,docs,bench}"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[$extras]"
