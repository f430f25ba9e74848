"""Import boundaries: adapters (their executors included) use only public names of ``layca_core`` (no ``_private``
module or attribute) and of each other, take the engine's names from ``layca_core.engine.__all__``, which lists only
what they use; importing ``layca_core`` loads no framework, and its source names none."""

import ast
import importlib
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

from layca_core import engine

ROOT = Path(__file__).parents[2]
ADAPTERS = sorted((ROOT / "adapters").glob("layca_*/**/*.py"))
CORE = sorted((ROOT / "layca_core").glob("**/*.py"))
FRAMEWORKS = ("torch", "jax", "triton")
LOOK_UPS = ("sys.modules", "import_module", "importlib", "__import__", "find_spec")
NAMESPACE_SHIM = ROOT / "layca_core" / "_tensorflow_namespace.py"
"""TensorFlow's array-API namespace (array-api-compat has none), which imports TensorFlow when its functions run,
as ``array_api_compat.torch`` does torch: the one framework look-up the core keeps."""


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
                if isinstance(getattr(importlib.import_module(node.module), alias.name, None), types.ModuleType):
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


def test_the_engine_exports_only_what_adapters_use():
    used = {name for path in ADAPTERS for module, name in core_uses(path) if module == "layca_core.engine"}
    assert set(engine.__all__) == used


@pytest.mark.parametrize("path", ADAPTERS, ids=lambda p: str(p.relative_to(ROOT / "adapters")))
def test_adapters_use_only_public_modules_of_each_other(path):
    own = path.relative_to(ROOT / "adapters").parts[0]
    for node in ast.walk(ast.parse(path.read_text())):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        names += [node.module or ""] if isinstance(node, ast.ImportFrom) else []
        for name in names:
            package, *rest = name.split(".")
            if package.startswith("layca_") and package not in (own, "layca_core"):
                assert not any(part.startswith("_") for part in rest), (
                    f"{path.name} imports {name}, private to {package}"
                )


def code_strings_and_names(path):
    """The identifiers and the string constants of a file's code: docstrings (a string standing alone as a
    statement) and comments left out."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            yield node.id
        elif isinstance(node, ast.Attribute):
            yield node.attr
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            yield node.name
        elif isinstance(node, ast.arg):
            yield node.arg
        elif isinstance(node, ast.alias):
            yield node.name
            yield node.asname or ""
        elif isinstance(node, ast.ImportFrom):
            yield node.module or ""
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node.value


@pytest.mark.parametrize("path", CORE, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_core_source_names_no_framework_and_looks_none_up(path):
    """No framework in the core's code, not even looked up by name: adapters register their executors and
    namespaces (``engine.register_executors``); docstrings and comments may name frameworks."""
    framework = re.compile(rf"\b(?:{'|'.join(FRAMEWORKS)})\b")
    for text in code_strings_and_names(path):
        words = re.sub(r"\blayca_\w+", "", text).replace("_", " ")  # an adapter's name (layca_torch) is no framework
        assert not framework.search(words), f"{path.name} names a framework in its code: {text!r}"
        if path != NAMESPACE_SHIM:
            assert not any(look_up in text for look_up in LOOK_UPS), f"{path.name} looks a module up: {text!r}"
    source = path.read_text()
    if path != NAMESPACE_SHIM:
        assert not re.search(r"^\s*(import|from)\s+(importlib|sys)\b", source, re.MULTILINE), path.name


def test_importing_layca_core_loads_no_framework():
    code = (
        "import sys, layca_core, layca_core.engine, layca_core.primitives; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'numpy', 'torch', 'jax', 'tensorflow', 'keras', 'optax', 'triton', 'matplotlib', 'array_api_compat'}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert result.stdout.strip() == "[]"
