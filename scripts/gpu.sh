#!/usr/bin/env bash
# On a machine with a CUDA GPU and no internet: the CUDA tests (the adapters' conformance cases among them,
# with fused=True too), the conformance matrix on cuda and the torch benchmarks, from this checkout (no install).
# Missing packages come as wheels: see docs/gpu.md. Until it has passed on a GPU, fused=True on CUDA
# (inductor's Triton kernels) is not verified on hardware.
#
#   scripts/gpu.sh [--dry-run] [--python PY] [--wheels DIR] [--quick] [--frameworks "torch optax"]
#
# Writes docs/conformance-gpu.md and benchmarks/results/cuda.{md,json}. Exit status 1 when a step fails.
set -uo pipefail
cd "$(dirname "$0")/.."

python=python3 wheels=.whl dry=0 quick=() frameworks="torch"
while [ $# -gt 0 ]; do
  case $1 in
    --dry-run) dry=1 ;;
    --quick) quick=(--quick) ;;
    --python|--wheels|--frameworks)
      [ $# -ge 2 ] || { echo "gpu.sh: $1 needs a value." >&2; exit 2; }
      case $1 in --python) python=$2 ;; --wheels) wheels=$2 ;; --frameworks) frameworks=$2 ;; esac
      shift ;;
    -h|--help) sed -n 2,9p "$0"; exit 0 ;;
    *) echo "gpu.sh: unknown option $1; use --dry-run, --python PY, --wheels DIR, --quick or --frameworks LIST." >&2; exit 2 ;;
  esac
  shift
done

step() {
  echo "+ $*"
  [ "$dry" = 1 ] || "$@"
}

if compgen -G "$wheels/*.whl" >/dev/null; then
  step "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/layca-site "$wheels"/*.whl || exit 1
  export PYTHONPATH=/tmp/layca-site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$PWD:$PWD/adapters${PYTHONPATH:+:$PYTHONPATH}
export LAYCA_DEVICE=cuda PYTHONUNBUFFERED=1 MPLBACKEND=Agg
if [ "$dry" = 0 ] && ! "$python" -c "import sys, torch; sys.exit(not torch.cuda.is_available())" 2>/dev/null; then
  echo "gpu.sh: torch sees no CUDA GPU with $python; run this on a GPU machine, or pass --dry-run." >&2
  exit 1
fi

status=0
step "$python" -m pytest -p no:cacheprovider -q tests/layca_torch tests/conformance/test_adapters.py || status=1
step "$python" -m layca_conformance --all --device cuda --report docs/conformance-gpu.md "${quick[@]}" || status=1
# shellcheck disable=SC2086  # the frameworks are a word list
step "$python" -m benchmarks.run --device cuda --sets resnet50 gpt2-small many-small --frameworks $frameworks \
  --torch-families momentum adam compiled-step || status=1
if [ "$dry" = 1 ]; then echo "dry run: nothing ran"; elif [ "$status" -eq 0 ]; then echo "ALL GPU STEPS PASSED"; else echo "SOME GPU STEPS FAILED"; fi
exit "$status"
