"""Importing layca_core loads no framework and no NumPy."""

import subprocess
import sys


def test_import_loads_no_framework():
    code = (
        "import sys, layca_core; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'numpy', 'torch', 'jax', 'tensorflow', 'keras', 'optax', 'matplotlib', 'array_api_compat'}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
