"""The array backends under test, as an Enum, with conversion to and from NumPy.

``LAYCA_BACKENDS=numpy,torch,...`` names backends that must be present: a missing one is
then an error, not a skip, so CI cannot pass by skipping. ``LAYCA_DEVICE=cuda`` (or ``gpu``)
runs the accelerator backends on the GPU.
"""

import contextlib
import enum
import importlib.util
import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

DTYPES = ("float64", "float32", "bfloat16", "float16")


class Backend(enum.Enum):
    NUMPY = "numpy"
    ARRAY_API_STRICT = "array_api_strict"
    TORCH = "torch"
    JAX = "jax"
    TENSORFLOW = "tensorflow"

    @property
    def module(self) -> str:
        return self.value

    def available(self) -> bool:
        return importlib.util.find_spec(self.module) is not None

    def require(self) -> None:
        """Skip (or fail, when the backend was requested) if the library is missing."""
        if self.available():
            return
        message = f"{self.module} is not installed"
        if self.value in requested_backends():
            pytest.fail(f"{message}, but LAYCA_BACKENDS asks for it.")
        pytest.skip(message)

    @property
    def dtypes(self) -> tuple[str, ...]:
        return {Backend.NUMPY: ("float64", "float32", "float16"), Backend.ARRAY_API_STRICT: ("float64", "float32")}.get(
            self, DTYPES
        )

    def namespace(self) -> Any:
        if self is Backend.ARRAY_API_STRICT:
            import array_api_strict

            array_api_strict.set_array_api_strict_flags(enabled_extensions=())
            return array_api_strict
        import layca_core

        return layca_core.array_namespace(self.asarray(np.zeros(1), "float32"))

    def asarray(self, array: np.ndarray, dtype: str) -> Any:
        """``array`` as this backend's array of ``dtype``, on the device under test."""
        if self is Backend.NUMPY:
            return np.asarray(array, dtype=dtype)
        if self is Backend.ARRAY_API_STRICT:
            import array_api_strict as xp

            return xp.asarray(np.asarray(array, dtype=dtype))
        if self is Backend.TORCH:
            import torch

            return torch.as_tensor(np.asarray(array, dtype=np.float64)).to(getattr(torch, dtype)).to(torch_device())
        if self is Backend.JAX:
            import jax
            import jax.numpy as jnp

            return jax.device_put(
                jnp.asarray(np.asarray(array, dtype=np.float64), dtype=getattr(jnp, dtype)), jax_device()
            )
        import tensorflow as tf

        with tf.device(tensorflow_device()):
            return tf.cast(tf.constant(np.asarray(array, dtype=np.float64)), getattr(tf, dtype))

    @contextlib.contextmanager
    def precision(self, dtype: str) -> Iterator[None]:
        """JAX computes in float32 unless x64 is on: turn it on for float64 cases only."""
        if self is Backend.JAX and dtype == "float64":
            import jax

            with jax.enable_x64(True):
                yield
        else:
            yield


def to_numpy(x: Any) -> np.ndarray:
    """Any backend's array (or a number) as a float64 NumPy array."""
    if hasattr(x, "detach"):
        return x.detach().cpu().double().numpy().copy()  # never a view of a tensor updated in place
    if type(x).__module__.startswith("tensorflow"):
        import tensorflow as tf

        return tf.cast(x, tf.float64).numpy()
    if type(x).__module__.startswith("array_api_strict"):
        import array_api_strict as xp

        return np.asarray(xp.astype(x, xp.float64) if x.dtype != xp.float64 else x, dtype=np.float64)
    return np.asarray(x).astype(np.float64)


def requested_backends() -> set[str]:
    return {name.strip() for name in os.environ.get("LAYCA_BACKENDS", "").split(",") if name.strip()}


def device() -> str:
    return os.environ.get("LAYCA_DEVICE", "cpu")


def torch_device() -> str:
    return "cuda" if device() in ("cuda", "gpu") else "cpu"


def jax_device() -> Any:
    import jax

    return jax.devices("gpu" if device() in ("cuda", "gpu") else "cpu")[0]


def tensorflow_device() -> str:
    return "/GPU:0" if device() in ("cuda", "gpu") else "/CPU:0"


def backend_params(dtypes: tuple[str, ...] = ()) -> list[Any]:
    """pytest params: every backend, or every (backend, dtype) pair among ``dtypes`` it has."""
    if not dtypes:
        return [pytest.param(b, id=b.value) for b in Backend]
    return [pytest.param((b, d), id=f"{b.value}-{d}") for b in Backend for d in b.dtypes if d in dtypes]
