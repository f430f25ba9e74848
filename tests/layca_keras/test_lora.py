"""The Keras LoRA recipe of docs/lora.md, run as written."""

import pathlib
import re

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import layca_keras  # noqa: E402

DOC = pathlib.Path(__file__).parents[2] / "docs" / "lora.md"


def keras_recipe():
    section = DOC.read_text().split("## Keras", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, re.S)
    return code


def norms(model, name):
    return [float(np.linalg.norm(keras.ops.convert_to_numpy(v))) for v in model.trainable_variables if name in v.path]


def test_the_recipe_trains_b_from_zero_and_turns_a():
    code, scope = keras_recipe(), {}
    exec(compile(code.split("losses = ")[0], str(DOC), "exec"), scope)  # built, not trained
    a_before = norms(scope["model"], "lora_kernel_a")
    scope = {}
    exec(compile(code, str(DOC), "exec"), scope)
    model, losses = scope["model"], scope["losses"]
    assert [v.path.split("/")[-1] for v in model.trainable_variables] == ["lora_kernel_a", "lora_kernel_b"] * 2
    assert all(norm > 0.1 for norm in norms(model, "lora_kernel_b"))
    assert norms(model, "lora_kernel_a") == pytest.approx(a_before, rel=1e-5)
    assert losses[-1] < 0.7 * losses[0]


def test_b_left_in_the_layers_is_refused_with_the_way_to_exclude_it():
    model = keras.Sequential([keras.Input((16,)), keras.layers.Dense(4)])
    model.layers[0].enable_lora(rank=2)
    model.compile(optimizer=layca_keras.Layca(3**-3, base="adam"), loss="mse")
    with pytest.raises(Exception, match="all zero: .*lora_kernel_b.*leave it out of `layers=`"):
        model.train_on_batch(np.ones((4, 16), "float32"), np.ones((4, 4), "float32"))
