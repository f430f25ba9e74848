"""The part of the array API that the core uses, for TensorFlow tensors.

array-api-compat has no TensorFlow support. This module covers exactly the functions
``layca_core`` calls; a test runs the core's invariants through it. TensorFlow is imported
when a function or dtype is first used, never at import.
"""

import importlib
from typing import Any

_SAME_NAME = (
    "float16",
    "bfloat16",
    "float32",
    "float64",
    "sqrt",
    "atan",
    "asin",
    "abs",
    "floor",
    "matmul",
    "pow",
    "reshape",
    "stack",
)


def _tf() -> Any:
    return importlib.import_module("tensorflow")


def __getattr__(name: str) -> Any:
    if name in _SAME_NAME:
        return getattr(_tf(), name)
    raise AttributeError(f"layca_core's TensorFlow namespace has no {name!r}: the core does not use it.")


def isdtype(dtype: Any, kind: str) -> Any:
    """Only the kinds the core asks about: ``"real floating"`` and ``"complex floating"``."""
    if kind == "complex floating":
        return _tf().as_dtype(dtype).is_complex
    if kind != "real floating":
        raise NotImplementedError(f"isdtype kind {kind!r} is not needed by layca_core.")
    return _tf().as_dtype(dtype).is_floating


def finfo(dtype: Any) -> Any:
    import ml_dtypes  # ships with TensorFlow; its finfo knows bfloat16

    return ml_dtypes.finfo(_tf().as_dtype(dtype).as_numpy_dtype)


def astype(x: Any, dtype: Any, /, *, copy: Any = True, device: Any = None) -> Any:
    return _tf().cast(x, dtype)


def sum(x: Any, /, *, axis: Any = None, dtype: Any = None, keepdims: Any = False) -> Any:  # noqa: A001
    tf = _tf()
    return tf.reduce_sum(x if dtype is None else tf.cast(x, dtype), axis=axis, keepdims=keepdims)


def where(condition: Any, x1: Any, x2: Any, /) -> Any:
    return _tf().where(condition, x1, x2)


def isfinite(x: Any, /) -> Any:
    return _tf().math.is_finite(x)


def zeros_like(x: Any, /, *, dtype: Any = None, device: Any = None) -> Any:
    return _tf().zeros_like(x, dtype=dtype)


def ones_like(x: Any, /, *, dtype: Any = None, device: Any = None) -> Any:
    return _tf().ones_like(x, dtype=dtype)


def zeros(shape: Any, *, dtype: Any = None, device: Any = None) -> Any:
    tf = _tf()
    return tf.zeros(shape, dtype=dtype or tf.float32)


def clip(x: Any, /, min: Any = None, max: Any = None) -> Any:  # noqa: A002
    tf = _tf()
    if min is not None:
        x = tf.maximum(x, min)
    return x if max is None else tf.minimum(x, max)


def asarray(obj: Any, /, *, dtype: Any = None, device: Any = None, copy: Any = None) -> Any:
    return _tf().convert_to_tensor(obj, dtype=dtype)


def concat(arrays: Any, /, *, axis: Any = 0) -> Any:
    return _tf().concat(list(arrays), axis=axis)


def max(x: Any, /, *, axis: Any = None, keepdims: Any = False) -> Any:  # noqa: A001
    return _tf().reduce_max(x, axis=axis, keepdims=keepdims)


def min(x: Any, /, *, axis: Any = None, keepdims: Any = False) -> Any:  # noqa: A001
    return _tf().reduce_min(x, axis=axis, keepdims=keepdims)


def maximum(x1: Any, x2: Any, /) -> Any:
    return _tf().maximum(x1, x2)


def log2(x: Any, /) -> Any:
    tf = _tf()
    return tf.math.log(x) / tf.math.log(tf.constant(2.0, x.dtype))


def full_like(x: Any, /, fill_value: Any, *, dtype: Any = None, device: Any = None) -> Any:
    return _tf().fill(_tf().shape(x), _tf().constant(fill_value, dtype or x.dtype))


def matrix_transpose(x: Any, /) -> Any:
    return _tf().linalg.matrix_transpose(x)


def permute_dims(x: Any, /, axes: tuple[int, ...]) -> Any:
    return _tf().transpose(x, perm=axes)
