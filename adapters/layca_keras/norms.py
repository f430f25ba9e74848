"""Each layer's reference norm, read at the layer's first step: what "initial" means in Layca.

A layer's norm lives in a scalar optimizer variable that holds 0 until the layer's first step reads
the norm of its weights then (a restored optimizer state supplies it instead), so weights loaded after
``optimizer.build`` keep their norms. Inside the step everything is branch-free or a backend ``cond``,
so it traces under ``jax.jit`` and ``tf.function`` and reads a sharded layer's global norm.

A layer whose norm would be read as zero or non-finite is refused by name before the step changes anything: on the
host where the slot is concrete (eager steps, torch), by graph assertions in a ``tf.function``, and in a jitted JAX
step by a host check of the norms the read branch computes (``layca_jax.host_checked``, which costs nothing once
every norm is stored), as ``layca_optax`` does. On JAX, a layer set to zero after its norm is stored is refused by
the step itself (the XLA executor, on the layers ``InitialNorms.named`` names).
"""

import contextlib
import functools
import math
from collections.abc import Sequence
from typing import Any

import keras
from keras import ops

import layca_core
from layca_core import engine
from layca_core.validation import check_nonzero_norms, concrete_value
from layca_keras.variables import LayerSelector, eager, path_of, scalar_slot, selects

EXCLUDE = (
    "In Keras, leave it out of `layers=` (a regex on variable.path or a callable), e.g. "
    "`layers=lambda v: len(v.shape) >= 2 and 'lora_kernel_b' not in v.path`."
)
"""How a Keras user leaves a zero-started variable out of the layers (the end of the zero-norm error)."""


def refusal(norm: float, path: str) -> str:
    """The core's error message refusing ``norm`` as the reference norm of the layer at ``path``."""
    try:
        check_nonzero_norms([norm], [path], exclude=EXCLUDE)
    except ValueError as error:
        return str(error)
    raise AssertionError(f"the core accepts the norm {norm}")


def _checked_on_host(norm: Any, path: str) -> None:
    check_nonzero_norms([float(norm)], [path], exclude=EXCLUDE)


def _checked_in_graph(weights: Any, path: str) -> Any:
    """The norm of ``weights``, refused inside a traced TensorFlow step if zero or non-finite."""
    norm = layca_core.initial_norm(weights)
    import tensorflow as tf

    checks = [
        tf.debugging.assert_greater(norm, tf.zeros((), norm.dtype), message=refusal(0.0, path)),
        tf.debugging.assert_less(norm, tf.constant(math.inf, norm.dtype), message=refusal(math.inf, path)),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(norm)


def _refused_on_host(norms: list[Any], paths: list[str]) -> None:
    """Refuse the layers whose norms (NumPy values, with a batch axis under ``jax.vmap``) are not all positive and
    finite."""
    check_nonzero_norms([float(n.max()) if (n > 0).all() else 0.0 for n in norms], paths, exclude=EXCLUDE)


def _host_checked(norms: list[Any], paths: list[str]) -> list[Any]:
    """The norms a traced JAX step reads, refused on the host if zero or non-finite (``layca_jax.host_checked``)."""
    from layca_jax import host_checked

    return host_checked(norms, functools.partial(_refused_on_host, paths=paths))


class InitialNorms:
    """The layers' reference norms: ``checked`` before a step changes anything, then ``value`` per layer.

    On torch (eager), ``anchored`` remembers which slots hold a norm, so a step reads no slot to the host.
    """

    def __init__(self, optimizer: Any, variables: list[Any], is_layer: list[bool]) -> None:
        self.optimizer, self.paths = optimizer, [path_of(v) for v in variables]
        with eager():
            self.slots = [
                scalar_slot(optimizer, v, "init_norm", 0.0) if flag else None for v, flag in zip(variables, is_layer)
            ]
        self.anchored: set[int] = set()

    def named(self, indices: list[int], weights: list[Any]) -> Any:
        """On JAX, a context naming ``weights`` (of the variables at ``indices``) for the step's executor, which
        refuses by name a layer set to zero after its norm was stored (``layca_jax.named_layers``)."""
        if keras.backend.backend() != "jax":
            return contextlib.nullcontext()
        from layca_jax import named_layers

        return named_layers(weights, [self.paths[i] for i in indices], EXCLUDE)

    def reset(self) -> None:
        """Set every layer's norm to 0: the next step of each layer reads it again."""
        for slot in self.slots:
            if slot is not None:
                slot.assign(ops.zeros((), slot.dtype))
        self.anchored.clear()

    def checked(self, layers: list[tuple[int, Any]]) -> Any:
        """A context for the step's assignments, after refusing a layer whose norm this step would read as
        zero or non-finite: nothing is assigned when a layer is refused.

        ``layers`` holds ``(index, weights)``. TensorFlow asserts in the graph (the step's assignments depend
        on the asserts), torch raises here; a traced JAX step checks the norms where it reads them (``values``,
        ``value``), and fails whole (Keras's JAX trainer donates the model's state to that step).
        """
        backend, checks = keras.backend.backend(), []
        for i, weights in layers:
            slot, path = self.slots[i], self.paths[i]
            if slot is None:
                continue
            if backend == "torch":
                if i not in self.anchored and not float(ops.convert_to_numpy(slot)) > 0:
                    _checked_on_host(layca_core.initial_norm(weights), path)
                continue
            stored = ops.convert_to_tensor(slot)
            known = concrete_value(stored)
            if known is not None:  # outside a traced step: a backend cond would trace both branches every call
                if not known > 0:
                    _checked_on_host(layca_core.initial_norm(weights), path)
                continue
            if backend == "jax":
                continue
            checks.append(ops.cond(stored > 0, lambda s=stored: s, lambda w=weights, p=path: _checked_in_graph(w, p)))
        if backend != "tensorflow":
            return contextlib.nullcontext()
        import tensorflow as tf

        return tf.control_dependencies(checks)

    def values(self, indices: list[int], weights: list[Any]) -> list[Any]:
        """``value`` of each layer; in a traced JAX step, one ``cond`` for all of them (one per layer would make
        the step's compile time grow faster than its number of layers), whose read is refused on the host if a norm
        is zero or non-finite."""
        if keras.backend.backend() != "jax" or len(indices) < 2:
            return [self.value(i, w) for i, w in zip(indices, weights)]
        layers = [(k, self.slots[i]) for k, i in enumerate(indices) if self.slots[i] is not None]
        stored = [ops.convert_to_tensor(slot) for _, slot in layers]
        if not layers or all(concrete_value(s) is not None for s in stored):
            return [self.value(i, w) for i, w in zip(indices, weights)]

        def read_unset() -> list[Any]:
            norms = [
                ops.where(s > 0, s, ops.cast(layca_core.initial_norm(weights[k]), s.dtype))
                for s, (k, _) in zip(stored, layers)
            ]
            return _host_checked(norms, [self.paths[indices[k]] for k, _ in layers])

        every_set = ops.all(ops.stack([s > 0 for s in stored]))
        norms = ops.cond(every_set, lambda: list(stored), read_unset)
        out: list[Any] = [None] * len(indices)
        for norm, (k, slot) in zip(norms, layers):
            self.optimizer.assign(slot, norm)
            out[k] = norm
        return out

    def _read(self, i: int, weights: Any, dtype: Any) -> Any:
        """Layer ``i``'s norm read from ``weights`` in a traced step; on JAX refused on the host if zero or
        non-finite (TensorFlow asserts in ``checked``)."""
        norm = ops.cast(layca_core.initial_norm(weights), dtype)
        return _host_checked([norm], [self.paths[i]])[0] if keras.backend.backend() == "jax" else norm

    def value(self, i: int, weights: Any) -> Any:
        """Layer ``i``'s reference norm (``None`` for a non-layer), read from ``weights`` and stored if unset."""
        slot = self.slots[i]
        if slot is None:
            return None
        if keras.backend.backend() == "torch":
            if i not in self.anchored:
                if not float(ops.convert_to_numpy(slot)) > 0:
                    self.optimizer.assign(slot, layca_core.initial_norm(weights))
                self.anchored.add(i)
            return ops.convert_to_tensor(slot)
        stored = ops.convert_to_tensor(slot)
        known = concrete_value(stored)
        if known is not None and known > 0:
            return stored
        if known is not None:
            norm = ops.cast(layca_core.initial_norm(weights), slot.dtype)
        else:
            norm = ops.cond(stored > 0, lambda: stored, lambda: self._read(i, weights, slot.dtype))
        self.optimizer.assign(slot, norm)
        return norm


def layer_plan(
    optimizer: Any, variables: list[Any], layers: LayerSelector, alpha: float, include: Sequence[str] = ()
) -> tuple[engine.LayerPlan, InitialNorms]:
    """Which variables are layers (with their multipliers), and their reference norms."""
    is_layer = [selects(layers, v, include) for v in variables]
    return engine.LayerPlan.from_flags(is_layer, alpha), InitialNorms(optimizer, variables, is_layer)


class ReanchoredNorms:
    """Mixed into ``Layca`` and ``LaycaWrapper``: the public re-anchoring, and a cache that forgets restored slots."""

    def reset_layer_norms(self) -> None:
        """Read every layer's reference norm again at its next step (after loading new weights mid-run, for
        instance); until then the norms stored at the layers' first steps (or restored with the optimizer) hold."""
        if self.built:
            self._init_norms.reset()

    def set_weights(self, weights: list[Any]) -> None:
        super().set_weights(weights)
        self._init_norms.anchored.clear()

    def load_own_variables(self, store: Any) -> None:
        super().load_own_variables(store)
        if self.built:
            self._init_norms.anchored.clear()
