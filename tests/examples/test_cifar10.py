"""The CIFAR-10 loader reads the standard pickle format, from tiny files made here."""

import pickle

import numpy as np
import pytest

from examples.cifar10 import TRAIN_FILES, load_cifar10


def write_batch(path, images, labels):
    with open(path, "wb") as file:
        pickle.dump({b"data": images.reshape(len(images), -1), b"labels": list(labels)}, file)


@pytest.fixture
def cifar_dir(tmp_path):
    rng = np.random.default_rng(0)
    for index, name in enumerate((*TRAIN_FILES, "test_batch")):
        images = rng.integers(0, 256, (4, 3, 32, 32), dtype=np.uint8)
        images[0, :, 0, 0] = [255, 0, index]
        write_batch(tmp_path / name, images, [index, 1, 2, 3])
    return tmp_path


def test_reads_images_labels_and_normalizes(cifar_dir):
    split = load_cifar10(cifar_dir)
    assert split.x_train.shape == (20, 3, 32, 32) and split.x_test.shape == (4, 3, 32, 32)
    assert split.x_train.dtype == np.float32 and split.y_train.tolist()[:5] == [0, 1, 2, 3, 1]
    raw = load_cifar10(cifar_dir, normalize=False)
    assert raw.x_train[4, :, 0, 0].tolist() == pytest.approx([1.0, 0.0, 1 / 255])
    expected = (1.0 - 0.4914) / 0.2470
    assert split.x_train[0, 0, 0, 0] == pytest.approx(expected, rel=1e-6)


def test_missing_files_are_named(cifar_dir):
    (cifar_dir / "data_batch_3").unlink()
    with pytest.raises(FileNotFoundError, match="lacks data_batch_3: pass the extracted cifar-10-batches-py folder"):
        load_cifar10(cifar_dir)


def test_the_cifar10_study_trains_c10_cnn1_on_the_files(cifar_dir, monkeypatch):
    pytest.importorskip("torch")
    from examples import networks, runs, studies

    narrow = networks.c10_cnn1(width=2)  # the paper's depth; 2 to 16 channels keep the test small
    monkeypatch.setattr(networks, "c10_cnn1", lambda: narrow)
    study = studies.get("cifar10", quick=True)
    record = runs.train(study, "torch", study.config("Layca"), seed=0, data_dir=str(cifar_dir))
    assert record["key"]["task"]["network"] == "c10_cnn1" and record["key"]["task"]["epochs"] == 2
    rotation = record["curves"]["rotation"]
    assert len(rotation) == 3 and len(rotation[0]) == 25 and all(0 < d < 1 for d in rotation[-1])
    assert 0 <= record["test_accuracy"] <= 1 and len(record["curves"]["train_loss"]) == 2
    with pytest.raises(ValueError, match="--device is for --framework torch; jax picks its own device"):
        runs.train(study, "jax", study.config("Layca"), seed=0, data_dir=str(cifar_dir), device="cuda")


def test_c10_cnn1_has_25_kernel_layers_and_reaches_one_pixel():
    from examples import networks

    network = networks.c10_cnn1()
    shapes = [w.shape for w in networks.initial_weights(network)]
    assert len(shapes) == 25 and shapes[0] == (64, 3, 3, 3) and shapes[-2] == (512, 512, 3, 3)
    assert shapes[-1] == (10, 512) and sum(isinstance(op, networks.MaxPool2d) for op in network) == 5
