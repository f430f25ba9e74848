#!/usr/bin/env bash
# Do the pins of constraints.txt resolve on a stock machine? Asks pip to resolve every extra against the public
# package index, with this machine's pip configuration and PIP_* settings set aside (its certificate kept): no
# install, and no wheel download where the index serves the wheels' metadata. Needs the internet; a minute or two.
# Usage: bash scripts/check_pins.sh [python] [extras]   (defaults: .venv/bin/python, all,test,docs,bench)
set -euo pipefail
cd "$(dirname "$0")/.."
python="${1:-.venv/bin/python}"
extras="${2:-all,test,docs,bench}"
report="$(mktemp)"
trap 'rm -f "$report"' EXIT
unset_pip=()
for name in $(env | sed -n 's/^\(PIP_[A-Z_]*\)=.*/\1/p'); do
  [ "$name" = PIP_CERT ] || unset_pip+=(-u "$name")
done
env "${unset_pip[@]}" PIP_CONFIG_FILE=/dev/null PIP_DISABLE_PIP_VERSION_CHECK=1 \
  "$python" -m pip install --dry-run --ignore-installed --quiet --report "$report" -c constraints.txt -e ".[$extras]" \
  || { echo "check_pins: the pins of constraints.txt do not resolve for .[$extras] on the public index." >&2; exit 1; }
"$python" - "$report" <<'PY'
import json
import sys

installs = [item["metadata"] for item in json.load(open(sys.argv[1]))["install"]]
versions = {m["name"].lower().replace("_", "-"): m["version"] for m in installs}
cuda = sorted(name for name in versions if name.startswith(("nvidia-", "cuda-")))
picked = ", ".join(f"{name} {versions[name]}" for name in ("torch", "triton", "jax", "tensorflow-cpu") if name in versions)
print(f"check_pins: {len(installs)} packages resolve from the public index ({picked}; {len(cuda)} CUDA packages).")
PY
