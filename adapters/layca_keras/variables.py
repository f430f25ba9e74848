"""Keras variables as layers: selection, reading values, and the per-layer scalars optimizers store."""

import contextlib
import re
from collections.abc import Callable
from typing import Any

import keras
from keras import ops

import layca_core
from layca_core import defaults, engine
from layca_core.validation import check_nonzero_norms

LayerSelector = None | str | Callable[[Any], bool]


def path_of(variable: Any) -> str:
    """A Keras variable's ``path``, or a raw ``tf.Variable``'s ``name`` (it has no path)."""
    return variable.path if isinstance(variable, keras.Variable) else variable.name


def selects(selector: LayerSelector, variable: Any, default: bool) -> bool:
    if selector is None:
        return default
    if isinstance(selector, str):
        return re.search(selector, path_of(variable)) is not None
    return bool(selector(variable))


def read(variable: Any) -> Any:
    """A variable's current value as a backend tensor (the stateless-scope value under JAX)."""
    return ops.stop_gradient(ops.convert_to_tensor(variable))


def _accumulation(variable: Any) -> str:
    """The dtype of a variable's scalars (initial norm, step count): float64 for float64, else float32."""
    return "float64" if variable.dtype == "float64" else "float32"


def _eager() -> Any:
    """Where variables hold concrete values: TensorFlow builds optimizers inside a graph."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.init_scope()
    return contextlib.nullcontext()


def _values_exist(variables: list[Any]) -> bool:
    """Whether the variables hold their values yet: not on TensorFlow when the model is built inside
    the first traced train step (no ``keras.Input``, first ``train_on_batch``), where they are set
    only when that step runs."""
    if keras.backend.backend() != "tensorflow":
        return True
    with _eager():
        return all(bool((v.value if isinstance(v, keras.Variable) else v).is_initialized()) for v in variables)


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
    with _eager():
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


class InitialNorms:
    """Each layer's initial norm in an optimizer variable: read at build where the values exist,
    else (a model built inside TensorFlow's first traced train step) at the layer's first step."""

    def __init__(self, optimizer: Any, variables: list[Any], is_layer: list[bool]) -> None:
        self.deferred, self.paths = not _values_exist(variables), [path_of(v) for v in variables]
        with _eager():
            norms = [
                (0.0 if self.deferred else float(layca_core.initial_norm(read(v)))) if flag else None
                for v, flag in zip(variables, is_layer)
            ]
            if not self.deferred:
                check_nonzero_norms([n for n in norms if n is not None], [p for p, f in zip(self.paths, is_layer) if f])
            self.slots = [
                None if n is None else scalar_slot(optimizer, v, "init_norm", n) for v, n in zip(variables, norms)
            ]

    def value(self, i: int, weights: Any) -> Any:
        """Layer ``i``'s stored norm; if deferred, at its first step, the norm of ``weights`` (its value before the step)."""
        slot = self.slots[i]
        if slot is None or not self.deferred:
            return None if slot is None else read(slot)
        import tensorflow as tf

        def first_read() -> Any:
            norm, path = layca_core.initial_norm(weights), self.paths[i]
            checks = [
                tf.debugging.assert_greater(
                    norm,
                    tf.zeros((), norm.dtype),
                    message=f"Layca cannot rotate a layer whose weights are all zero: {path}; "
                    "initialize it randomly or leave it out of `layers`.",
                ),
                tf.debugging.assert_all_finite(norm, f"Layca needs a layer norm that is a finite number: {path}."),
            ]
            with tf.control_dependencies(checks):
                slot.assign(norm)
                return tf.identity(norm)

        return tf.cond(read(slot) > 0, lambda: read(slot), first_read)


def layer_plan(
    optimizer: Any, variables: list[Any], layers: LayerSelector, alpha: float
) -> tuple[engine.LayerPlan, InitialNorms]:
    """Which variables are layers (with their multipliers), and their stored initial norms."""
    is_layer = [selects(layers, v, len(v.shape) >= defaults.MIN_LAYER_NDIM) for v in variables]
    return engine.LayerPlan.from_flags(is_layer, alpha), InitialNorms(optimizer, variables, is_layer)
