"""``docs/integrations/equinox.md`` run as written: Layca through Optax under ``eqx.filter_jit`` on
``eqx.filter(model, eqx.is_array)``, the monitor on the same tree; the weights are the layers, the biases not."""

import numpy as np
import pytest

jax = pytest.importorskip("jax")
pytest.importorskip("optax")
pytest.importorskip("equinox", reason="the Equinox page needs equinox (the [integrations] extra)")

from tests.integrations import pages  # noqa: E402


@pytest.fixture(scope="module")
def page():
    return pages.run("equinox.md")


def arrays(page) -> dict:
    params = page["eqx"].filter(page["model"], page["eqx"].is_array)
    return {jax.tree_util.keystr(path): leaf for path, leaf in jax.tree_util.tree_leaves_with_path(params)}


def test_layca_trains_and_the_weights_keep_their_norms(page):
    losses, monitor = page["losses"], page["monitor"]
    assert len(losses) == page["steps"] and np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5])
    now = arrays(page)
    for name, w0 in zip(monitor.history.layer_names, monitor.initial):
        assert np.linalg.norm(np.asarray(now[name])) == pytest.approx(np.linalg.norm(w0), rel=1e-4), name
    assert len(monitor.history.steps) == page["steps"] and min(monitor.history.distances[-1]) > 0.01


def test_the_convolution_bias_is_not_a_layer(page):
    assert page["monitor"].history.layer_names == (".layers[0].weight", ".layers[3].weight")
    assert page["opt_state"].init_norms.shape == (2,)
    first = page["monitor"].initial  # the weights only
    start = page["eqx"].nn.Conv2d(1, 8, kernel_size=3, padding=1, key=page["conv_key"]).bias
    bias = arrays(page)[".layers[0].bias"]
    assert len(first) == 2 and abs(float(np.linalg.norm(bias) - np.linalg.norm(start))) > 1e-3  # it moved freely


def test_the_page_shows_what_describe_prints(page):
    shown = pages.output("equinox.md", "Which arrays are layers")
    params = page["eqx"].filter(page["model"], page["eqx"].is_array)
    assert shown == page["layca_optax"].describe(params) + "\n"
    assert "2 layer, 2 other" in shown
