"""``layca_keras.Layca``: the Layca step of ``layca_core`` as a Keras 3 optimizer (any backend)."""

import inspect
from typing import Any

import keras
from keras import ops

from layca_core import defaults, engine
from layca_keras.variables import LayerSelector, base_slots, check_serializable, layer_plan, read

RATE_NAMES = ("learning_rate", "other_learning_rate")


def _keras_arguments() -> set[str]:
    """The base Keras optimizer's own arguments (TensorFlow's subclass hides them behind **kwargs)."""
    for cls in keras.optimizers.Optimizer.__mro__:
        parameters = inspect.signature(cls.__init__).parameters
        if "clipnorm" in parameters:
            return set(parameters) - {"self", "learning_rate"}
    raise ImportError("This Keras version's optimizer arguments are unknown to layca_keras.")


_KERAS_ARGUMENTS = _keras_arguments()


@keras.saving.register_keras_serializable(package="layca")
class Layca(keras.optimizers.Optimizer):
    """Layca (arXiv 1806.01603) over one of ``layca_core``'s base directions, for ``model.fit`` and custom loops.

    ``learning_rate`` is the rotation rate (a float or a ``LearningRateSchedule``): each step
    turns every layer variable by ``arctan(learning_rate * m_l(alpha))``, multipliers taken
    over the layers in ``trainable_variables`` order. Other variables get the plain base step
    at ``other_learning_rate`` (default: the rate), or stay frozen with ``freeze_others``.

    ``docs/algorithm.md`` explains ``alpha`` (Equation 1, written out), ``base``, ``variant``,
    the other parameters' rate and ``freeze_others``.

    Args:
        learning_rate: rotation rate; default 3^-3, or 3^-5 with the adam and amom bases.
        base: ``sgd``, ``momentum``, ``nesterov``, ``amom``, ``adam``, ``rmsprop`` or ``adagrad``;
            its hyperparameters (``momentum=0.9``, ``b1``...) are keyword arguments.
        alpha: layer-wise multipliers of Equation 1.
        layers: which variables are layers: a regex on ``variable.path`` or a callable;
            default: ndim >= 2.
        exclude: a regex or callable removing variables from the layers.
        other_learning_rate, freeze_others, variant: as in ``layca_torch.Layca``.
        **kwargs: base hyperparameters, then the usual Keras optimizer arguments (``name``,
            ``clipnorm``...). ``weight_decay`` does nothing to a layer (Layca removes it).

    Example:
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
        >>> model.compile(optimizer=Layca(3**-3, base="momentum", momentum=0.9), loss="mse")
    """

    def __init__(
        self,
        learning_rate: Any = None,
        base: str = defaults.BASE,
        alpha: float = defaults.ALPHA,
        layers: LayerSelector = None,
        exclude: LayerSelector = None,
        other_learning_rate: float | None = None,
        freeze_others: bool = False,
        variant: str = "layca",
        name: str = "layca",
        **kwargs: Any,
    ) -> None:
        base_hyperparameters = {k: kwargs.pop(k) for k in list(kwargs) if k not in _KERAS_ARGUMENTS}
        learning_rate, direction = engine.checked_options(
            learning_rate, alpha, variant, base, other_learning_rate, names=RATE_NAMES, **base_hyperparameters
        )
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.base_hyperparameters, self.direction = base_hyperparameters, direction
        self.base, self.alpha, self.layers, self.exclude = base, alpha, layers, exclude
        self.other_learning_rate, self.freeze_others, self.variant = other_learning_rate, freeze_others, variant

    def build(self, variables: list[Any]) -> None:
        if self.built:
            return
        super().build(variables)
        self._plan, self._init_norms = layer_plan(self, variables, self.layers, self.exclude, self.alpha)
        self._base_slots = [base_slots(self, v, self.direction) for v in variables]
        self._state_type = type(self.direction.init(ops.zeros((1,))))

    def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> None:
        """One variable's step through ``layca_core.engine.optimizer_step`` (Keras's public hook, so
        ``tf.distribute`` and ``keras.distribution`` reduce gradients and place updates as for its own optimizers)."""
        i = self._get_variable_index(variable)
        if self._plan.multipliers[i] is None and self.freeze_others:
            return
        state = self._state_type(*(read(slot) for slot in self._base_slots[i]))
        norm = None if self._init_norms[i] is None else read(self._init_norms[i])
        rate = ops.convert_to_tensor(learning_rate)
        (new,), (new_state,) = engine.optimizer_step(
            [read(variable)], [ops.cast(gradient, variable.dtype)], [state], [norm], rate,
            engine.LayerPlan((self._plan.multipliers[i],)), base=self.direction,
            other_rate=rate if self.other_learning_rate is None else self.other_learning_rate, variant=self.variant,
        )  # fmt: skip
        self.assign(variable, new)
        for slot, value in zip(self._base_slots[i], new_state):
            self.assign(slot, value)

    def get_config(self) -> dict[str, Any]:
        check_serializable(self)
        config = super().get_config()
        config.update(
            base=self.base,
            alpha=self.alpha,
            layers=self.layers,
            exclude=self.exclude,
            other_learning_rate=self.other_learning_rate,
            freeze_others=self.freeze_others,
            variant=self.variant,
            **self.base_hyperparameters,
        )
        return config
