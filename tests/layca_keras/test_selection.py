"""``layca_keras``'s default layers by variable path and shape: an ``Embedding`` table and normalization parameters
left out, ``include``, ``describe`` (frozen variables included) and ``log_layers``."""

import logging
import re

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import layca_keras  # noqa: E402


def model():
    keras.utils.set_random_seed(0)
    net = keras.Sequential(
        [
            keras.Input((3,), dtype="int32"),
            keras.layers.Embedding(10, 4, name="tokens"),
            keras.layers.LayerNormalization(name="norm"),
            keras.layers.Flatten(),
            keras.layers.Dense(4, name="hidden"),
            keras.layers.Dense(2, name="head"),
        ],
        name="net",
    )
    net.get_layer("hidden").trainable = False
    return net


def rows(table):
    cells = [re.split(r"\s{2,}", line) for line in table.splitlines()[1:-1]]
    return {name: (role, reason) for name, _, role, reason in cells}


def test_describe_says_each_role_and_why():
    table = rows(layca_keras.describe(model()))
    assert table["net/tokens/embeddings"] == ("other", "an embedding table (named 'embeddings')")
    assert table["net/norm/gamma"][0] == "other"
    assert table["net/hidden/kernel"] == ("frozen", "not trainable")
    assert table["net/head/kernel"][0] == "layer"
    assert rows(layca_keras.describe(model(), include=("embedding",)))["net/tokens/embeddings"][0] == "layer"


def test_the_optimizer_turns_the_default_layers_logs_them_and_round_trips_include(caplog):
    net = model()
    optimizer = layca_keras.Layca(0.1, log_layers=True)
    with caplog.at_level(logging.INFO, logger="layca_keras"):
        optimizer.build(net.trainable_variables)
    assert [m is not None for m in optimizer._plan.multipliers] == [False, False, False, True, False]
    assert "1 layer, 4 other, 0 frozen" in caplog.text
    included = layca_keras.Layca(0.1, include=("embedding",))
    included.build(net.trainable_variables)
    assert [m is not None for m in included._plan.multipliers][0]
    assert layca_keras.Layca.from_config(included.get_config()).include == ("embedding",)
    with pytest.raises(ValueError, match="include must be a sequence of"):
        layca_keras.Layca(include="norm")


def test_fit_leaves_the_embedding_table_to_the_plain_step():
    net = model()
    net.compile(optimizer=layca_keras.Layca(0.1), loss="mse")
    before = np.linalg.norm(keras.ops.convert_to_numpy(net.get_layer("tokens").embeddings))
    x, y = np.arange(24).reshape(8, 3) % 10, np.ones((8, 2), "float32")
    net.fit(x.astype("int32"), y, epochs=2, verbose=0)
    after = np.linalg.norm(keras.ops.convert_to_numpy(net.get_layer("tokens").embeddings))
    assert after != pytest.approx(before, rel=1e-6)
