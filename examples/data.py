"""Data sets that need no download: MNIST-1D (generated) and scikit-learn's 8x8 digits."""

from typing import NamedTuple

import numpy as np


class Split(NamedTuple):
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def mnist1d(num_samples: int = 10000, seed: int = 42) -> Split:
    """MNIST-1D, generated offline by ``mnist1d.data.make_dataset``: (N, 1, 40) float32 signals, 10 classes."""
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples, args.seed = num_samples, seed
    data = make_dataset(args)
    as_signal = lambda x: np.asarray(x, dtype=np.float32)[:, None, :]
    return Split(as_signal(data["x"]), np.asarray(data["y"]), as_signal(data["x_test"]), np.asarray(data["y_test"]))


def digits(samples_per_class: int | None = None, seed: int = 0) -> Split:
    """scikit-learn's 8x8 digits in [0, 1], flattened, split 2/3 train and 1/3 test."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(y))
    x, y = (x[order] / 16).astype(np.float32), y[order]
    cut = 2 * len(y) // 3
    train = np.arange(cut)
    if samples_per_class is not None:
        train = np.concatenate([np.flatnonzero(y[:cut] == c)[:samples_per_class] for c in range(10)])
    return Split(x[train], y[train], x[cut:], y[cut:])
