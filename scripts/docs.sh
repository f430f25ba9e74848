#!/usr/bin/env bash
# Build the documentation (the Markdown pages with MyST, the API reference with autodoc) into docs/_build/html;
# every page is in the build and a warning fails it.
# Usage: bash scripts/docs.sh [python]   (default: .venv/bin/python, with the docs extra installed)
set -euo pipefail
cd "$(dirname "$0")/.."
python="${1:-.venv/bin/python}"
"$python" -m sphinx -W --keep-going -q -b html docs docs/_build/html
echo "Documentation: docs/_build/html/index.html"
