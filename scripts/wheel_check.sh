#!/usr/bin/env bash
# The conformance suite as a user gets it: build the wheel, install it with the [conformance] and [torch]
# extras (pinned by constraints.txt, as scripts/setup.sh does) into a fresh virtual environment with
# nothing else, and run the one command against the torch driver from a folder outside the checkout.
# Usage: bash scripts/wheel_check.sh [more options of python -m layca_conformance]
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

mkdir "$work/src"  # build from a copy of the working tree: setuptools leaves build/ and *.egg-info where it builds
git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$work/src"
"$python" -m pip wheel -q --no-deps --wheel-dir "$work/dist" "$work/src"
wheel="$(ls "$work"/dist/layca-*.whl)"
"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q -c constraints.txt "$wheel[conformance,torch]"
cd "$work"
"$work/venv/bin/python" -m layca_conformance --driver layca_conformance.drivers.torch_driver:run "$@"
