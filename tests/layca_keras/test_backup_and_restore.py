"""RotationMonitor across a ``BackupAndRestore`` crash and a resume in a new process.

Each run is a subprocess on this process's Keras backend. The crashing run kills itself (``os._exit``)
at the end of its second epoch, from a callback listed where the case says: after both savers, or
between the monitor and the backup, so that one of them has saved epoch 2 and the other only epoch 1.
The resumed run starts from another random initialization; its curves must be the uninterrupted run's.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import layca_keras  # noqa: E402
from tests.layca_keras.test_keras import batches, make_model  # noqa: E402

RUN = """
import json, os, sys
import numpy as np, keras, layca_keras

order, seed, crash, backup_dir, out = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "crash", sys.argv[4], sys.argv[5]
keras.utils.set_random_seed(seed)
model = keras.Sequential([keras.Input((12,)), keras.layers.Dense(16, "relu"), keras.layers.Dense(4, use_bias=False)])
model.compile(optimizer=layca_keras.Layca(0.1, base="momentum"), loss="mse")
rng = np.random.default_rng(1)
x, y = rng.standard_normal((32, 12)).astype("float32"), rng.standard_normal((32, 4)).astype("float32")


class Crash(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if crash and epoch == 1:
            os._exit(17)


backup = keras.callbacks.BackupAndRestore(backup_dir)
monitor = layca_keras.RotationMonitor(every_n_batches=2, backup=backup)
named = {"monitor": monitor, "backup": backup, "crash": Crash()}
model.fit(x, y, batch_size=8, epochs=4, shuffle=False, verbose=0, callbacks=[named[n] for n in order.split(",")])
with open(out, "w") as file:
    json.dump({"history": json.loads(monitor.history.to_json()), "weights": [w.tolist() for w in model.get_weights()]}, file)
"""


def run(tmp_path, order, seed, crash):
    out = tmp_path / f"{seed}-{crash}.json"
    env = {**os.environ, "KERAS_BACKEND": keras.backend.backend()}
    args = [sys.executable, "-c", RUN, order, str(seed), "crash" if crash else "no", str(tmp_path / "backup"), str(out)]
    result = subprocess.run(args, capture_output=True, text=True, env=env, timeout=600)
    if crash:
        assert result.returncode == 17, result.stderr[-3000:]
        return None
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    return run(tmp_path_factory.mktemp("uninterrupted"), "monitor,backup", seed=0, crash=False)


@pytest.mark.parametrize(
    "order",
    ["monitor,backup,crash", "backup,monitor,crash", "monitor,crash,backup", "backup,crash,monitor"],
    ids=["both-saved", "both-saved-backup-first", "monitor-ahead", "monitor-behind"],
)
def test_curves_continue_exactly_after_a_crash_and_a_resume_in_a_new_process(tmp_path, uninterrupted, order):
    run(tmp_path, order, seed=0, crash=True)
    assert (tmp_path / "backup" / layca_keras.backup.STATE_FILE).exists()
    resumed = run(tmp_path, order.replace(",crash", ""), seed=99, crash=False)
    for got, want in zip(resumed["weights"], uninterrupted["weights"]):
        np.testing.assert_array_equal(np.array(got), np.array(want))
    history, expected = resumed["history"], uninterrupted["history"]
    assert (history["steps"], history["epochs"]) == (expected["steps"], expected["epochs"])
    np.testing.assert_allclose(history["distances"], expected["distances"], rtol=1e-12, atol=1e-12)


def test_a_fit_that_starts_later_without_saved_state_warns():
    model = make_model()
    model.compile(optimizer=layca_keras.Layca(0.1), loss="mse")
    x, y = batches()[0]
    with pytest.warns(UserWarning, match="starts at epoch 2 with no saved state"):
        model.fit(x, y, epochs=3, initial_epoch=2, verbose=0, callbacks=[layca_keras.RotationMonitor()])
