"""``docs/integrations/flax.md`` run as written: Layca in ``nnx.Optimizer`` under ``nnx.jit`` and in Linen's
``TrainState``; the monitor reads the parameter tree; the kernels are the layers and keep their norms."""

import numpy as np
import pytest

jax = pytest.importorskip("jax")
pytest.importorskip("optax")
pytest.importorskip("flax", reason="the Flax page needs flax (the [integrations] extra)")

from tests.integrations import pages  # noqa: E402


@pytest.fixture(scope="module")
def page():
    return pages.run("flax.md")


def kernels_kept_and_turned(monitor, params):
    """Each monitored layer keeps its first norm and has turned; the layers are the two kernels."""
    assert len(monitor.history.layer_names) == 2
    assert all("kernel" in name for name in monitor.history.layer_names)
    leaves = {jax.tree_util.keystr(path): leaf for path, leaf in jax.tree_util.tree_leaves_with_path(params)}
    for name, w0 in zip(monitor.history.layer_names, monitor.initial):
        assert np.linalg.norm(np.asarray(leaves[name])) == pytest.approx(np.linalg.norm(w0), rel=1e-4), name
    assert min(monitor.history.distances[-1]) > 0.01


@pytest.mark.parametrize("api", ["nnx", "linen"])
def test_layca_trains_and_the_monitor_reads_the_params(page, api):
    nnx = page["nnx"]
    losses = page[f"{api}_losses"]
    assert len(losses) == page["steps"] and np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5])
    if api == "nnx":
        monitor, params = page["monitor"], nnx.state(page["model"], nnx.Param)
    else:
        monitor, params = page["linen_monitor"], page["state"].params
    assert len(monitor.history.steps) == page["steps"]
    kernels_kept_and_turned(monitor, params)
