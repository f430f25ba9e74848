"""Keras variables as layers: selection, reading values, and the optimizer variables that hold their state."""

import contextlib
import re
from collections.abc import Callable, Sequence
from typing import Any

import keras
from keras import ops

from layca_core import selection

LayerSelector = None | str | Callable[[Any], bool]


def path_of(variable: Any) -> str:
    """A Keras variable's ``path``, or a raw ``tf.Variable``'s ``name`` (it has no path)."""
    return variable.path if isinstance(variable, keras.Variable) else variable.name


def role(variable: Any, include: Sequence[str] = ()) -> selection.Role:
    """A variable's default role, by its path and shape (``layca_core.selection``): Keras names an ``Embedding``'s
    table ``embeddings``, a normalization layer's ``gamma`` and ``beta`` (vectors), a layer's ``kernel`` and ``bias``."""
    return selection.default_role(path_of(variable), tuple(variable.shape), include=include)


def selects(selector: LayerSelector, variable: Any, include: Sequence[str] = ()) -> bool:
    """Whether ``variable`` is a layer: ``selector`` (a regex on its path or a callable), else the default."""
    if selector is None:
        return role(variable, include).is_layer
    if isinstance(selector, str):
        return re.search(selector, path_of(variable)) is not None
    return bool(selector(variable))


def read(variable: Any) -> Any:
    """A variable's current value as a backend tensor (the stateless-scope value under JAX)."""
    return ops.stop_gradient(ops.convert_to_tensor(variable))


def _accumulation(variable: Any) -> str:
    """The dtype of a variable's scalars (initial norm, step count): float64 for float64, else float32."""
    return "float64" if variable.dtype == "float64" else "float32"


def eager() -> Any:
    """Where variables hold concrete values: TensorFlow builds optimizers inside a graph."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.init_scope()
    return contextlib.nullcontext()


def scalar_slot(optimizer: Any, variable: Any, name: str, value: float) -> Any:
    """A scalar optimizer variable in ``variable``'s accumulation dtype, set exactly to ``value``.

    (Keras's ``Constant`` initializer would round ``value`` through float32 on TensorFlow.)
    """
    slot = optimizer.add_variable((), initializer="zeros", dtype=_accumulation(variable), name=name)
    slot.assign(value)
    return slot


def base_slots(optimizer: Any, variable: Any, direction: Any) -> list[Any]:
    """One optimizer variable per field of ``direction``'s state for ``variable``, holding its initial value.

    Set eagerly: without a strategy, Keras on TensorFlow builds the optimizer while tracing the first train
    step, and an assignment made in that trace never runs (Adagrad's ``initial_accumulator`` was lost).
    """
    slots = []
    with eager():
        for field, value in direction.init(ops.zeros(variable.shape, variable.dtype))._asdict().items():
            if len(value.shape) == 0:
                slots.append(scalar_slot(optimizer, variable, field, float(value)))
                continue
            slot = optimizer.add_variable_from_reference(variable, field, initializer="zeros")
            slot.assign(value)
            slots.append(slot)
    return slots


def check_serializable(optimizer: Any) -> None:
    if callable(optimizer.layers):
        name = type(optimizer).__name__
        raise ValueError(f"A {name} with a callable `layers` cannot be serialized; select by a path regex instead.")
