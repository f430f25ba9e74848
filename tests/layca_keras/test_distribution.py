"""layca_keras under Keras's distribution APIs: the distributed fit ends where the one-device fit ends.

Each scenario runs in a subprocess that sets its devices before importing keras (4 host devices
for JAX, 2 logical CPUs for TensorFlow) and prints a JSON report, which this process checks.
The project runs tests/layca_keras once per KERAS_BACKEND; a scenario runs only in the process
whose backend is its own, so it runs once in the whole suite.
"""

import json
import math
import subprocess
import sys

import pytest

from layca_conformance.backends import Backend

keras = pytest.importorskip("keras")

BASES = ("sgd", "momentum", "nesterov", "amom", "adam", "rmsprop", "adagrad")
RATE, ALPHA, LAYERS, STEPS = 0.1, 0.3, 3, 8

COMMON = """
import contextlib, json
import numpy as np, keras, layca_keras, layca_core

rng = np.random.default_rng(0)
x, y = rng.standard_normal((64, 8)).astype("float32"), rng.standard_normal((64, 4)).astype("float32")


def make_model():
    keras.utils.set_random_seed(0)
    dense = keras.layers.Dense
    return keras.Sequential([keras.Input((8,)), dense(8, "tanh"), dense(8, "tanh"), dense(4, use_bias=False)])


class Kernels(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.seen = [self.kernels()]

    def on_train_batch_end(self, batch, logs=None):
        self.seen.append(self.kernels())

    def kernels(self):
        return [keras.ops.convert_to_numpy(v).astype("float64") for v in self.model.trainable_weights if len(v.shape) == 2]


def layca(base):
    extra = {"initial_accumulator_value": 0.1} if base == "adagrad" else {}
    return layca_keras.Layca(RATE, base=base, alpha=ALPHA, other_learning_rate=0.01, **extra)


def fit(make_optimizer, scope=None):
    kernels = Kernels()
    with scope or contextlib.nullcontext():
        model = make_model()
        model.compile(optimizer=make_optimizer(), loss="mse")
    model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0, callbacks=[kernels])
    return model, kernels.seen


def compare(make_optimizer, scope):
    plain, _ = fit(make_optimizer)
    model, seen = fit(make_optimizer, scope)
    gap = max(
        float(np.max(np.abs(got - want) / (1e-6 + 1e-5 * np.abs(want))))
        for got, want in (
            (keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
            for a, b in zip(model.trainable_variables, plain.trainable_variables)
        )
    )
    angles = [[float(layca_core.step_angle(a, b)) for a, b in zip(u, v)] for u, v in zip(seen, seen[1:])]
    return model, {"gap": gap, "angles": angles}
"""

JAX_RUN = """
import os
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
os.environ["KERAS_BACKEND"] = "jax"
{common}
mesh = keras.distribution.DeviceMesh((2, 2), ("batch", "model"))
layout = keras.distribution.LayoutMap(mesh)
layout[".*dense.*kernel"] = (None, "model")
distribution = {{
    "DataParallel": keras.distribution.DataParallel(keras.distribution.DeviceMesh((4,), ("batch",))),
    "ModelParallel": keras.distribution.ModelParallel(layout_map=layout, batch_dim_name="batch"),
}}[{name!r}]
report = {{"devices": len(distribution.device_mesh.devices.flat)}}
for base in {bases!r}:
    model, report[base] = compare(lambda: layca(base), distribution.scope())
    report[base]["kernel_specs"] = sorted(
        {{str(tuple(v.value.sharding.spec)) for v in model.variables + model.optimizer.variables if "kernel" in v.path}}
    )
print(json.dumps(report))
"""

TF_RUN = """
import os
os.environ["KERAS_BACKEND"] = "tensorflow"
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
{common}
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
optimizers = {{base: lambda base=base: layca(base) for base in {bases!r}}}
optimizers["keras_sgd"] = lambda: keras.optimizers.SGD(0.05, momentum=0.9)
report = {{"replicas": strategy.num_replicas_in_sync}}
for name, make_optimizer in optimizers.items():
    model, report[name] = compare(make_optimizer, strategy.scope())
    report[name]["replica_gap"] = max(
        float(np.max(np.abs(part.numpy() - v.value.values[0].numpy())))
        for v in model.variables + model.optimizer.variables
        for part in v.value.values
    )
print(json.dumps(report))
"""


def run_scenario(backend, code):
    """Run ``code`` in a fresh interpreter if this process's Keras backend is ``backend``; its JSON report."""
    if keras.backend.backend() != backend.value:
        pytest.skip(f"runs once, in the KERAS_BACKEND={backend.value} process (this one is {keras.backend.backend()})")
    backend.require()
    prelude = f"RATE, ALPHA = {RATE!r}, {ALPHA!r}\n"
    result = subprocess.run([sys.executable, "-c", prelude + code], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def assert_turns_by_arctan_rate(angles):
    """Every step turned layer l by arctan(rate * m_l), with Equation 1's multipliers for alpha > 0."""
    multipliers = [(1 - ALPHA) ** (5 * (LAYERS - 1 - layer) / (LAYERS - 1)) for layer in range(LAYERS)]
    assert len(angles) == STEPS
    for step in angles:
        assert step == pytest.approx([math.atan(RATE * m) for m in multipliers], abs=1e-6)


@pytest.mark.parametrize("name", ["DataParallel", "ModelParallel"])
def test_jax_distribution_matches_one_device_for_every_base(name):
    """DataParallel over 4 host devices; ModelParallel on a 2x2 (batch, model) mesh shards every Dense kernel
    and its optimizer slots (Adam's step counter, a scalar, stays replicated)."""
    report = run_scenario(Backend.JAX, JAX_RUN.format(common=COMMON, name=name, bases=BASES))
    assert report["devices"] == 4
    for base in BASES:
        assert report[base]["gap"] < 1, f"{base}: weights differ from the one-device fit beyond rtol 1e-5, atol 1e-6"
        assert_turns_by_arctan_rate(report[base]["angles"])
        sharded = ["(None, 'model')"] if name == "ModelParallel" else ["(None, None)"]
        assert report[base]["kernel_specs"] == sharded, base


def test_tensorflow_mirrored_strategy_matches_one_device():
    """Two logical CPUs; Keras's own SGD is the control for the reduction's round-off. (Adagrad's
    initial accumulator was lost in the one-device fit, where Keras builds the optimizer in a trace.)"""
    bases = ("momentum", "adam", "adagrad")
    report = run_scenario(Backend.TENSORFLOW, TF_RUN.format(common=COMMON, bases=bases))
    assert report["replicas"] == 2
    for name in ("keras_sgd", *bases):
        assert report[name]["gap"] < 1, f"{name}: weights differ from the one-device fit beyond rtol 1e-5, atol 1e-6"
        assert report[name]["replica_gap"] == 0, f"{name}: the replicas' copies of a variable differ"
    for base in bases:
        assert_turns_by_arctan_rate(report[base]["angles"])
