"""layca_optax.RotationMonitor and cosine_distances: values, the torch monitor's methods, save and resume."""

import ast
from pathlib import Path

import numpy as np
import pytest

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
import jax.numpy as jnp  # noqa: E402

import layca_optax  # noqa: E402
from tests.layca_optax.test_transform import grads_like, make_params  # noqa: E402

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


def test_cosine_distances_and_monitor():
    params = make_params()
    recorder = layca_optax.RotationMonitor(params)
    recorder.record(params, step=0)
    optimizer = layca_optax.layca(0.3)
    state = optimizer.init(params)
    new = params
    for seed in range(3):
        updates, state = optimizer.update(grads_like(new, seed), state, new)
        new = optax.apply_updates(new, updates)
    recorder.record(new, step=3, epoch=1.0)
    rotations = jax.jit(layca_optax.cosine_distances)(new, params)
    assert recorder.history.layer_names == ("['conv']['kernel']", "['dense']['kernel']")
    assert recorder.history.distances[0] == [0.0, 0.0]
    assert recorder.history.distances[1] == pytest.approx([float(v) for v in rotations.values()], rel=1e-5)
    assert recorder.plot().get_lines()


@pytest.mark.parametrize("via", ["pickle", "savez"])
def test_recorder_state_round_trips_and_continues_after_a_resume(tmp_path, via):
    import pickle

    params = make_params()
    recorder = layca_optax.RotationMonitor(params)
    recorder.record(params, step=0)
    moved = jax.tree.map(lambda x: x + 0.5, params)
    if via == "pickle":
        state = pickle.loads(pickle.dumps(recorder.state_dict()))
    else:
        np.savez(tmp_path / "recorder.npz", **recorder.state_dict())
        state = dict(np.load(tmp_path / "recorder.npz"))
    resumed = layca_optax.RotationMonitor(moved)  # built from the restored parameters, as after a resume
    resumed.load_state_dict(state)
    resumed.record(moved, step=1, epoch=1.0)
    recorder.record(moved, step=1, epoch=1.0)
    assert resumed.history == recorder.history
    assert min(recorder.history.distances[1]) > 0.0
    with pytest.raises(ValueError, match="same layer selection"):
        layca_optax.RotationMonitor({"w": jnp.ones((2, 2))}).load_state_dict(state)


def test_embedding_tables_are_left_out_unless_masked_in_one_line():
    params = {"embed": {"embedding": jnp.ones((10, 4))}, "dense": {"kernel": jnp.ones((4, 2)), "bias": jnp.ones(2)}}
    with_embeddings = lambda p: jax.tree.map(lambda x: x.ndim >= 2, p)
    names = lambda **kw: layca_optax.RotationMonitor(params, **kw).history.layer_names
    assert names() == ("['dense']['kernel']",)
    assert names(layers=with_embeddings) == ("['dense']['kernel']", "['embed']['embedding']")
