#!/usr/bin/env bash
# The package as a user gets it: build the sdist and the wheel (python -m build), check them (twine check), install
# the wheel with the [conformance,torch,jax,keras,plot] extras (pinned by constraints.txt, as scripts/setup.sh does)
# into a fresh virtual environment with nothing else, and from a folder outside the checkout run the README's
# quickstarts (Keras on JAX) and the conformance matrix (python -m layca_conformance --all --quick).
# Usage: bash scripts/wheel_check.sh [more options of python -m layca_conformance]   (PYTHON: the building python)
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

mkdir "$work/src"  # build from a copy of the working tree: setuptools leaves build/ and *.egg-info where it builds
git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$work/src"
"$python" -m build --outdir "$work/dist" "$work/src" >"$work/build.log" || { cat "$work/build.log"; exit 1; }
"$python" -m twine check --strict "$work"/dist/*
wheel="$(ls "$work"/dist/layca-*.whl)"
"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q -c constraints.txt "$wheel[conformance,torch,jax,keras,plot]"
"$python" - "$work/quickstarts" <<'PY'
import pathlib
import re
import sys

out = pathlib.Path(sys.argv[1])
out.mkdir()
for i, block in enumerate(re.findall(r"```python\n(.*?)```", pathlib.Path("README.md").read_text(), re.S)):
    (out / f"quickstart_{i}.py").write_text(block)
PY
cd "$work"
for quickstart in quickstarts/*.py; do
  echo "+ $quickstart"
  KERAS_BACKEND=jax MPLBACKEND=Agg "$work/venv/bin/python" "$quickstart"
done
"$work/venv/bin/python" -m layca_conformance --all --quick "$@"
