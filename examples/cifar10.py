"""CIFAR-10 from the standard python-pickle batches in a local folder (nothing is downloaded).

split = load_cifar10("/data/cifar-10-batches-py")   # data_batch_1..5 and test_batch
"""

import pickle
from pathlib import Path

import numpy as np

from examples.data import Split

TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
MEAN = np.array([0.4914, 0.4822, 0.4465], dtype=np.float32)
STD = np.array([0.2470, 0.2435, 0.2616], dtype=np.float32)


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with open(path, "rb") as file:
        batch = pickle.load(file, encoding="bytes")
    images = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
    return images, np.asarray(batch[b"labels"], dtype=np.int64)


def load_cifar10(data_dir: str | Path, normalize: bool = True) -> Split:
    """Train (50,000) and test (10,000) images as float32 NCHW arrays, per-channel normalized.

    Raises FileNotFoundError naming the missing files when ``data_dir`` is not the extracted
    ``cifar-10-batches-py`` folder.
    """
    data_dir = Path(data_dir)
    missing = [name for name in (*TRAIN_FILES, "test_batch") if not (data_dir / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{data_dir} lacks {', '.join(missing)}: pass the extracted cifar-10-batches-py folder "
            "(https://www.cs.toronto.edu/~kriz/cifar.html); nothing is downloaded."
        )
    train = [_read_batch(data_dir / name) for name in TRAIN_FILES]
    test_images, test_labels = _read_batch(data_dir / "test_batch")
    images = np.concatenate([x for x, _ in train])
    labels = np.concatenate([y for _, y in train])

    def scale(x: np.ndarray) -> np.ndarray:
        x = x.astype(np.float32) / 255
        return (x - MEAN[:, None, None]) / STD[:, None, None] if normalize else x

    return Split(scale(images), labels, scale(test_images), test_labels)
