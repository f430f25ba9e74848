"""``LaycaWrapper``: any Keras optimizer's update, turned into a Layca turn on the layer variables."""

from typing import Any

import keras
from keras import ops

import layca_core
from layca_core import defaults, engine
from layca_keras.variables import LayerSelector, check_serializable, layer_plan, read


@keras.saving.register_keras_serializable(package="layca")
class LaycaWrapper(keras.optimizers.Optimizer):
    """Wrap ``inner_optimizer`` (the ``LossScaleOptimizer`` pattern): it updates every variable as
    usual, then each layer's move ``w_before - w_after`` becomes the base step of a Layca turn by
    ``arctan(learning_rate * m_l(alpha))`` from ``w_before``. Non-layer variables keep the inner update.

    Extra cost against the inner optimizer: one read of every layer before its update, and the
    Layca step's passes. The inner optimizer's learning rate only scales the step, which Layca
    ignores (its decoupled weight decay adds a component along ``w``, which Layca removes).

    ``layers`` selects the layer variables as in ``Layca`` (a regex on ``variable.path`` or a callable).
    ``learning_rate`` defaults to 3^-3, the paper's rate with SGD-like steps; an adaptive inner optimizer
    (Adam, RMSprop) takes 3^-5, as in the example.

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
        layers = [(v, i) for v, i in zip(variables, indices) if self._plan.multipliers[i] is not None]
        before = [ops.copy(read(v)) for v, _ in layers]  # a copy: on torch, a read shares the live storage
        norms = [self._init_norms.value(i, w) for (_, i), w in zip(layers, before)]
        self.inner_optimizer.apply(
            [None if g is None else ops.convert_to_tensor(g) for g in grads], trainable_variables
        )
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
