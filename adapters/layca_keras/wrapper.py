"""``LaycaWrapper``: any Keras optimizer's update, turned into a Layca turn on the layer variables."""

from typing import Any

import keras
from keras import ops

import layca_core
from layca_core import defaults, engine
from layca_keras.norms import ReanchoredNorms, layer_plan
from layca_keras.variables import LayerSelector, check_serializable, read


def _cleaned(gradient: Any, is_layer: bool) -> Any:
    """A gradient as a tensor, a layer's with its non-finite entries zeroed."""
    if gradient is None:
        return None
    gradient = ops.convert_to_tensor(gradient)
    return ops.where(ops.isfinite(gradient), gradient, ops.zeros_like(gradient)) if is_layer else gradient


@keras.saving.register_keras_serializable(package="layca")
class LaycaWrapper(ReanchoredNorms, keras.optimizers.Optimizer):
    """Wrap ``inner_optimizer`` (the ``LossScaleOptimizer`` pattern): it updates every variable as
    usual, then each layer's move ``w_before - w_after`` becomes the base step of a Layca turn by
    ``arctan(learning_rate * m_l(alpha))`` from ``w_before``. Non-layer variables keep the inner update.
    Non-finite entries of the layers' gradients are zeroed before the inner step, as in
    ``layca_torch.LaycaWrapper`` and ``Layca``: one bad batch cannot poison the inner optimizer's state.

    The rate rule: ``learning_rate`` (a float or a ``LearningRateSchedule``) is the rotation rate
    itself, so the rate asked for is the rotation at the schedule's peak, whatever the order of
    construction. In Keras the model's optimizer is this wrapper: ``compile``, ``LearningRateScheduler``
    and ``ReduceLROnPlateau`` act on ``learning_rate``, and scheduling it schedules the rotation. The inner
    optimizer's learning rate (a float or a schedule) only scales its step, which Layca discards, so it
    does not change the rotation (``layca_torch.LaycaWrapper`` follows its inner optimizer's learning rate
    instead, as torch schedulers act on the inner optimizer's groups; in both, the rate asked for is the
    rotation at the schedule's peak). It must stay > 0, or the inner step is zero and the layers do not
    turn. Its decoupled weight decay adds a component along ``w``, which Layca removes.

    Each layer keeps the norm it has at its first step, as in ``Layca`` (``reset_layer_norms()`` reads
    them again). Extra cost against the inner optimizer: one read of every layer before its update, and
    the Layca step's passes.

    Args:
        inner_optimizer: any Keras optimizer; it updates the non-layer variables as usual.
        learning_rate: the rotation rate, a float or a ``LearningRateSchedule``; default 3^-3
            (``layca_core.defaults.RATE``); the paper used 3^-5 with Adam-like bases.
        alpha: layer-wise multipliers of Equation 1.
        layers: which variables are layers, as in ``Layca`` (a regex on ``variable.path`` or a callable).
        variant: ``layca``, ``lars`` or ``hyperball``, as in ``Layca``.
        **kwargs: the usual Keras optimizer arguments (``name``, ``clipnorm``...).

    Example:
        >>> optimizer = LaycaWrapper(keras.optimizers.AdamW(1e-3), learning_rate=3**-5)
    """

    def __init__(
        self,
        inner_optimizer: keras.optimizers.Optimizer,
        learning_rate: Any = defaults.RATE,
        alpha: float = defaults.ALPHA,
        layers: LayerSelector = None,
        variant: str = "layca",
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        engine.checked_options(learning_rate, alpha, variant, names=engine.RATE_NAMES["layca_keras"])
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.inner_optimizer, self.alpha, self.layers, self.variant = inner_optimizer, alpha, layers, variant

    def build(self, variables: list[Any]) -> None:
        if self.built:
            return
        self.inner_optimizer.build(variables)
        super().build(variables)
        self._plan, self._init_norms = layer_plan(self, variables, self.layers, self.alpha)

    @property
    def variables(self) -> list[Any]:
        return self._variables + self.inner_optimizer.variables

    def apply(self, grads: list[Any], trainable_variables: list[Any] | None = None) -> None:
        if not self.built:
            self.build(trainable_variables)
        variables = trainable_variables or self._trainable_variables
        indices = [self._get_variable_index(v) for v in variables]
        is_layer = [self._plan.multipliers[i] is not None for i in indices]
        layers = [(v, i) for v, i, flag in zip(variables, indices, is_layer) if flag]
        grads = [_cleaned(g, flag) for g, flag in zip(grads, is_layer)]
        before = [ops.copy(read(v)) for v, _ in layers]  # a copy: on torch, a read shares the live storage
        with self._init_norms.checked([(i, w) for (_, i), w in zip(layers, before)]):
            norms = [self._init_norms.value(i, w) for (_, i), w in zip(layers, before)]
            self.inner_optimizer.apply(grads, trainable_variables)
            rate = ops.convert_to_tensor(self.learning_rate)
            for (variable, i), w, norm in zip(layers, before, norms):
                rate_i = rate * self._plan.multipliers[i]
                (new,) = layca_core.layca_steps([w], [w - read(variable)], [rate_i], [norm], variant=self.variant)
                self.assign(variable, new)
            self.iterations.assign_add(1)

    def get_config(self) -> dict[str, Any]:
        check_serializable(self)
        config = super().get_config()
        config.update(
            inner_optimizer=keras.saving.serialize_keras_object(self.inner_optimizer),
            alpha=self.alpha,
            layers=self.layers,
            variant=self.variant,
        )
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: Any = None) -> "LaycaWrapper":
        inner = keras.saving.deserialize_keras_object(config.pop("inner_optimizer"), custom_objects=custom_objects)
        return cls(inner, **config)
