"""``layca_optax``'s default layers by path and shape: an Equinox-like tree (conv biases stored ``(out, 1, 1)``),
Flax-like paths (``Embed_0/embedding``, ``LayerNorm_0/scale``), ``include``, ``describe`` and ``log_layers``."""

import logging
import re

import numpy as np
import pytest

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
import jax.numpy as jnp  # noqa: E402

import layca_optax  # noqa: E402


def equinox_cnn():
    """The leaves of an ``eqx.nn.Conv2d`` stack and a ``Linear`` head, as ``eqx.filter(model, eqx.is_array)`` holds
    them (paths as ``jax.tree_util.keystr`` spells Equinox's attributes), without Equinox itself."""
    keys = jax.random.split(jax.random.key(0), 3)
    return {
        "layers": [
            {"weight": jax.random.normal(keys[0], (8, 3, 3, 3)), "bias": jnp.full((8, 1, 1), 0.1)},
            {"weight": jax.random.normal(keys[1], (16, 8, 3, 3)), "bias": jnp.full((16, 1, 1), 0.1)},
        ],
        "head": {"weight": jax.random.normal(keys[2], (10, 16)), "bias": jnp.full((10,), 0.1)},
    }


def flax_like():
    return {
        "Embed_0": {"embedding": jnp.ones((50, 8))},
        "LayerNorm_0": {"scale": jnp.ones((8,)), "bias": jnp.zeros((8,))},
        "Dense_0": {"kernel": jnp.ones((8, 1)), "bias": jnp.zeros((1,))},
    }


def rows(table):
    cells = [re.split(r"\s{2,}", line) for line in table.splitlines()[1:-1]]
    return {name: (role, reason) for name, _, role, reason in cells}


def test_equinox_conv_biases_are_not_layers():
    table = rows(layca_optax.describe(equinox_cnn()))
    assert table["['layers'][0]['bias']"] == ("other", "a bias (named 'bias')")
    assert table["['layers'][1]['weight']"] == ("layer", "a weight tensor (4 dimensions)")
    params = equinox_cnn()
    optimizer = layca_optax.layca(0.1, "momentum")
    updates, _ = optimizer.update(jax.tree.map(jnp.ones_like, params), optimizer.init(params), params)
    new = optax.apply_updates(params, updates)
    np.testing.assert_allclose(new["layers"][0]["bias"], 0.1 - 0.1, atol=1e-6)  # the plain base step, not a turn


def test_an_unnamed_bias_shaped_tensor_is_known_by_its_shape():
    table = rows(layca_optax.describe([jnp.ones((8, 3, 3, 3)), jnp.ones((8, 1, 1))]))
    assert table["[1]"] == ("other", "shaped (8, 1, 1): a bias with broadcast dimensions")
    assert table["[0]"][0] == "layer"


def test_flax_paths_and_a_dense_kernel_of_one_output():
    table = rows(layca_optax.describe(flax_like()))
    assert table["['Embed_0']['embedding']"] == ("other", "an embedding table (named 'embedding')")
    assert table["['Dense_0']['kernel']"][0] == "layer"  # (in, 1): a kernel, whatever its shape
    included = rows(layca_optax.describe(flax_like(), include=("embedding",)))
    assert included["['Embed_0']['embedding']"][0] == "layer"
    frozen = rows(layca_optax.describe(flax_like(), freeze_others=True))
    assert frozen["['LayerNorm_0']['scale']"][0] == "frozen"


def test_include_reaches_the_optimizer_and_is_checked():
    params = flax_like()
    optimizer = layca_optax.layca(0.1, include=("embedding",))
    assert int(optimizer.init(params).init_norms.shape[0]) == 2
    assert int(layca_optax.layca(0.1).init(params).init_norms.shape[0]) == 1
    with pytest.raises(ValueError, match="include must be a sequence of"):
        layca_optax.scale_by_layca(include="embedding")


def test_log_layers_logs_the_roles_at_init(caplog):
    with caplog.at_level(logging.INFO, logger="layca_optax"):
        layca_optax.layca(0.1, log_layers=True).init(equinox_cnn())
    assert len(caplog.records) == 1 and "3 layer, 3 other, 0 frozen" in caplog.text
