"""The Optax adapter's public surface: the torch monitor's methods, and default rates as documented."""

import ast
import inspect
import math
import re
from pathlib import Path

import pytest

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
import jax.numpy as jnp  # noqa: E402

import layca_core  # noqa: E402
import layca_optax  # noqa: E402

TORCH_MONITOR = Path(__file__).resolve().parents[2] / "adapters" / "layca_torch" / "monitor.py"
MONITOR_SURFACE = {"record", "distances", "history", "plot", "state_dict", "load_state_dict"}


def public_methods(path, class_name):
    """A class's public methods, read from its source (no framework import)."""
    tree = ast.parse(path.read_text())
    cls = next(node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == class_name)
    return {node.name for node in cls.body if isinstance(node, ast.FunctionDef) and not node.name.startswith("_")}


def test_the_monitor_has_the_torch_monitors_methods():
    """Every public method of ``layca_torch.RotationMonitor`` (and its ``history``) exists here too."""
    torch_surface = public_methods(TORCH_MONITOR, "RotationMonitor") | {"history"}
    assert MONITOR_SURFACE <= torch_surface
    monitor = layca_optax.RotationMonitor({"w": jnp.eye(3)})
    missing = {name for name in torch_surface if not hasattr(monitor, name)}
    assert not missing, f"layca_optax.RotationMonitor lacks {sorted(missing)}"
    for name in torch_surface - {"history"}:
        assert callable(getattr(monitor, name)), name


def test_the_monitor_surface_works_end_to_end():
    params = {"w": jnp.eye(3), "b": jnp.ones(3)}
    monitor = layca_optax.RotationMonitor(params)
    monitor.record(params, step=0)
    turned = {"w": jnp.eye(3)[::-1], "b": jnp.ones(3)}
    assert monitor.distances(turned) == pytest.approx([1.0 - 1.0 / 3.0])
    monitor.record(turned, step=1, epoch=0.5)
    restored = layca_optax.RotationMonitor(turned)
    restored.load_state_dict(monitor.state_dict())
    assert restored.history == monitor.history and restored.history.epochs == [0.0, 0.5]
    assert restored.plot().get_lines()


def test_scale_by_layca_default_rate_is_the_documented_one():
    """Signature and docstring name the same default: ``layca_core.defaults.RATE``, 3**-3."""
    default = inspect.signature(layca_optax.scale_by_layca).parameters["learning_rate"].default
    doc = inspect.getdoc(layca_optax.scale_by_layca)
    match = re.search(r"learning_rate:.*?default\s+``layca_core\.defaults\.(\w+)``\s+\((3\*\*-\d+)\)", doc, re.S)
    assert match, "scale_by_layca's docstring must state learning_rate's default"
    assert default == getattr(layca_core.defaults, match[1]) == eval(match[2]) == layca_core.defaults.RATE
    params = {"w": jax.random.normal(jax.random.key(0), (5, 4))}
    grads = {"w": jax.random.normal(jax.random.key(1), (5, 4))}
    updates, _ = layca_optax.scale_by_layca().update(grads, layca_optax.scale_by_layca().init(params), params)
    turned = optax.apply_updates(params, updates)["w"]
    assert float(layca_core.step_angle(params["w"], turned)) == pytest.approx(math.atan(3**-3), rel=1e-4)


@pytest.mark.parametrize("base", list(layca_core.DIRECTIONS))
def test_layca_default_rate_is_the_documented_one(base):
    """``layca``'s docstring: ``learning_rate`` None is 3**-3, or 3**-5 for ``adam`` and ``amom``."""
    assert "3**-3, or 3**-5 for ``adam`` and ``amom``" in inspect.getdoc(layca_optax.layca)
    rate = 3**-5 if base in ("adam", "amom") else 3**-3
    params = {"w": jax.random.normal(jax.random.key(0), (5, 4))}
    grads = {"w": jax.random.normal(jax.random.key(1), (5, 4))}
    optimizer = layca_optax.layca(base=base)
    updates, _ = optimizer.update(grads, optimizer.init(params), params)
    turned = optax.apply_updates(params, updates)["w"]
    assert float(layca_core.step_angle(params["w"], turned)) == pytest.approx(math.atan(rate), rel=1e-4)
