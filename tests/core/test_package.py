"""Packaging: one version everywhere, and every package marked as typed."""

import importlib
from pathlib import Path

import pytest

import layca_core

ADAPTERS = [("layca_torch", "torch"), ("layca_optax", "optax")]


@pytest.mark.parametrize(("name", "framework"), ADAPTERS)
def test_adapters_report_the_core_version(name, framework):
    pytest.importorskip(framework)
    assert importlib.import_module(name).__version__ == layca_core.__version__


@pytest.mark.parametrize("package", ["layca_core", "layca_torch", "layca_jax", "layca_optax", "layca_keras"])
def test_every_package_ships_py_typed(package):
    root = Path(layca_core.__file__).parent.parent
    folder = root / package if package == "layca_core" else root / "adapters" / package
    assert (folder / "py.typed").is_file()
