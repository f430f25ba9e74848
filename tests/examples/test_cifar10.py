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
