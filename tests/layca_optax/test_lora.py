"""The LoRA recipe of ``docs/lora.md`` ("## Optax"), run as written on a small model: a frozen base,
``B`` (zero at the start) left out of the layers, ``A`` a Layca layer or not."""

import math
import re
from pathlib import Path

import numpy as np
import pytest

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
datasets = pytest.importorskip("sklearn.datasets")
import jax.numpy as jnp  # noqa: E402

import layca_optax  # noqa: E402

DOC = Path(__file__).resolve().parents[2] / "docs" / "lora.md"
RANK = 4


def recipe() -> dict:
    """The names the doc's Optax block defines."""
    section = DOC.read_text().split("## Optax", 1)[1]
    namespace: dict = {}
    exec(re.search(r"```python\n(.*?)```", section, re.S)[1], namespace)
    return namespace


def model():
    keys = jax.random.split(jax.random.key(0), 4)
    frozen = {
        "dense1": jax.random.normal(keys[0], (64, 32)) * math.sqrt(2 / 64),
        "dense2": jax.random.normal(keys[1], (32, 10)) * math.sqrt(1 / 32),
    }
    adapters = {
        "dense1": {"lora_a": jax.random.normal(keys[2], (64, RANK)) / 8, "lora_b": jnp.zeros((RANK, 32))},
        "dense2": {"lora_a": jax.random.normal(keys[3], (32, RANK)) / 8, "lora_b": jnp.zeros((RANK, 10))},
    }
    return frozen, adapters


def loss_fn(adapters, frozen, batch):
    x, y = batch
    dense = lambda h, name: h @ frozen[name] + (h @ adapters[name]["lora_a"]) @ adapters[name]["lora_b"]
    logits = dense(jax.nn.relu(dense(x, "dense1")), "dense2")
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


@pytest.mark.parametrize("a_is_a_layer", [True, False], ids=["A a layer", "A left out"])
def test_lora_trains_b_off_zero_and_the_loss_falls(a_is_a_layer):
    names = recipe()
    if not a_is_a_layer:
        names["optimizer"] = layca_optax.layca(
            base="adam", layers=lambda p: names["lora_layers"](p, a_is_a_layer=False), other_learning_rate=1e-3
        )
    x, y = datasets.load_digits(return_X_y=True)
    x, y = jnp.asarray(x / 16, jnp.float32), jnp.asarray(y)
    frozen, adapters = model()
    start = adapters
    opt_state = names["optimizer"].init(adapters)
    assert opt_state.init_norms.shape == ((2,) if a_is_a_layer else (0,))
    step = jax.jit(lambda a, s, batch: names["train_step"](a, s, frozen, batch, loss_fn))
    losses = []
    for i in range(600):
        batch = slice((i * 64) % 1700, (i * 64) % 1700 + 64)
        losses.append(float(loss_fn(adapters, frozen, (x[batch], y[batch]))))
        adapters, opt_state = step(adapters, opt_state, (x[batch], y[batch]))
    assert np.mean(losses[-20:]) < 0.7 * np.mean(losses[:20])
    for name in frozen:
        assert float(jnp.linalg.norm(adapters[name]["lora_b"])) > 0.05
        a_norms = [float(jnp.linalg.norm(tree[name]["lora_a"])) for tree in (start, adapters)]
        if a_is_a_layer:
            assert a_norms[1] == pytest.approx(a_norms[0], rel=1e-5)
        distance = layca_optax.cosine_distances(adapters[name]["lora_a"], start[name]["lora_a"], layers=True)
        assert float(distance[""]) > 1e-3


def test_b_left_a_layer_is_refused_with_the_way_to_leave_it_out():
    _, adapters = model()
    with pytest.raises(ValueError, match=r"all zero: \['dense1'\]\['lora_b'\], .*Leave it out of the layers with"):
        layca_optax.layca(base="adam").init(adapters)
