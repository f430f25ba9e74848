"""The part of the array API that the core uses, for TensorFlow tensors.

array-api-compat has no TensorFlow support. This module covers exactly the functions
``layca_core`` calls; a test runs the core's invariants through it.
"""

from typing import Any

import tensorflow as tf

float16 = tf.float16
bfloat16 = tf.bfloat16
float32 = tf.float32
float64 = tf.float64
bool = tf.bool  # noqa: A001 - the array API's name


def isdtype(dtype: Any, kind: str) -> Any:
    """Only the kind the core asks about: ``"real floating"``."""
    if kind != "real floating":
        raise NotImplementedError(f"isdtype kind {kind!r} is not needed by layca_core.")
    return tf.as_dtype(dtype).is_floating


def finfo(dtype: Any) -> Any:
    import ml_dtypes  # ships with TensorFlow; its finfo knows bfloat16

    return ml_dtypes.finfo(tf.as_dtype(dtype).as_numpy_dtype)


def asarray(obj: Any, /, *, dtype: Any = None, device: Any = None, copy: Any = None) -> Any:
    tensor = tf.convert_to_tensor(obj)
    return tensor if dtype is None else tf.cast(tensor, dtype)


def astype(x: Any, dtype: Any, /, *, copy: Any = True, device: Any = None) -> Any:
    return tf.cast(x, dtype)


def reshape(x: Any, shape: Any, /, *, copy: Any = None) -> Any:
    return tf.reshape(x, shape)


def sum(x: Any, /, *, axis: Any = None, dtype: Any = None, keepdims: Any = False) -> Any:  # noqa: A001
    if dtype is not None:
        x = tf.cast(x, dtype)
    return tf.reduce_sum(x, axis=axis, keepdims=keepdims)


def where(condition: Any, x1: Any, x2: Any, /) -> Any:
    return tf.where(condition, x1, x2)


def zeros_like(x: Any, /, *, dtype: Any = None, device: Any = None) -> Any:
    return tf.zeros_like(x, dtype=dtype)


def minimum(x1: Any, x2: Any, /) -> Any:
    return tf.minimum(x1, x2)


def maximum(x1: Any, x2: Any, /) -> Any:
    return tf.maximum(x1, x2)


sqrt = tf.sqrt
isfinite = tf.math.is_finite
atan = tf.atan


def ones_like(x: Any, /, *, dtype: Any = None, device: Any = None) -> Any:
    return tf.ones_like(x, dtype=dtype)


def zeros(shape: Any, *, dtype: Any = None, device: Any = None) -> Any:
    return tf.zeros(shape, dtype=dtype or tf.float32)


def clip(x: Any, /, min: Any = None, max: Any = None) -> Any:  # noqa: A002
    if min is not None:
        x = tf.maximum(x, min)
    return x if max is None else tf.minimum(x, max)


asin = tf.asin
