"""Import boundaries: adapters use only public names of ``layca_core`` (no ``_private`` module or attribute), take
the engine's names from ``layca_core.engine.__all__``, which lists only what adapters and executors use; importing
``layca_core`` (the engine and the torch executors' package included) loads no framework."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from layca_core import engine

ROOT = Path(__file__).parents[2]
ADAPTERS = sorted((ROOT / "adapters").glob("layca_*/*.py"))
EXECUTORS = sorted((ROOT / "layca_core" / "torch_executors").glob("*.py"))


def core_uses(path):
    """``(module, name)`` for every name a file takes from ``layca_core``: imported, or read as an attribute of an
    imported ``layca_core`` module (``engine.turn_layers``)."""
    tree = ast.parse(path.read_text())
    modules, uses = {}, []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "layca_core":
                    modules[alias.asname or alias.name] = alias.name
                    uses.append((alias.name, None))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "layca_core":
            for alias in node.names:
                uses.append((node.module, alias.name))
                modules[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules:
            uses.append((modules[node.value.id], node.attr))
    return uses


@pytest.mark.parametrize("path", ADAPTERS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_adapters_use_only_public_names_of_the_core(path):
    for module, name in core_uses(path):
        private = [part for part in module.split(".") + [name or ""] if part.startswith("_") and part != "__version__"]
        assert not private, f"{path.name} uses {module}.{name}: {private} is private to layca_core"
        if module == "layca_core.engine" and name is not None:
            assert name in engine.__all__, f"{path.name} uses layca_core.engine.{name}, which is not in its __all__"
        assert not module.startswith("layca_core.engine."), f"{path.name} imports {module}: use layca_core.engine"


def test_the_engine_exports_only_what_adapters_and_executors_use():
    used = {name for path in ADAPTERS + EXECUTORS for module, name in core_uses(path) if module == "layca_core.engine"}
    assert set(engine.__all__) == used


def test_importing_layca_core_loads_no_framework():
    code = (
        "import sys, layca_core, layca_core.engine, layca_core.torch_executors, layca_core.primitives; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'numpy', 'torch', 'jax', 'tensorflow', 'keras', 'optax', 'triton', 'matplotlib', 'array_api_compat'}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert result.stdout.strip() == "[]"
