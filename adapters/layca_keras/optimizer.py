"""``layca_keras.Layca``: the Layca step of ``layca_core`` as a Keras 3 optimizer (any backend)."""

import logging
from collections.abc import Sequence
from typing import Any

import keras
from keras import ops

from layca_core import defaults, engine, selection
from layca_keras.hyperparameters import KERAS_ARGUMENTS, checked_options
from layca_keras.norms import ReanchoredNorms, layer_plan
from layca_keras.variables import LayerSelector, base_slots, check_serializable, path_of, read, role, selects

logger = logging.getLogger("layca_keras")

if keras.backend.backend() == "torch":
    import layca_torch  # noqa: F401  (registers torch's executors, which the step runs on the torch backend)
elif keras.backend.backend() == "jax":
    import layca_jax  # noqa: F401  (registers the XLA executor)


@keras.saving.register_keras_serializable(package="layca")
class Layca(ReanchoredNorms, keras.optimizers.Optimizer):
    """Layca (arXiv 1806.01603) over one of ``layca_core``'s base directions, for ``model.fit`` and custom loops.

    ``learning_rate`` is the rotation rate (a float or a ``LearningRateSchedule``): each step
    turns every layer variable by ``arctan(learning_rate * m_l(alpha))``, multipliers taken
    over the layers in ``trainable_variables`` order. Other variables get the plain base step
    at ``other_learning_rate`` (default: the rate), or stay frozen with ``freeze_others``.

    ``docs/algorithm.md`` explains ``alpha`` (Equation 1, written out), ``base``, ``variant``,
    the other parameters' rate and ``freeze_others``.

    Args:
        learning_rate: rotation rate; default 3^-3, or 3^-5 with the adam and amom bases.
        base: ``sgd``, ``momentum``, ``nesterov``, ``amom``, ``adam``, ``rmsprop``, ``adagrad`` or ``muon``;
            its hyperparameters are keyword arguments in Keras's words (``HYPERPARAMETER_NAMES``):
            ``momentum``, ``beta`` (amom), ``beta_1``, ``beta_2``, ``epsilon``, ``rho``,
            ``initial_accumulator_value``, ``nesterov`` and ``out_axis`` (muon: a kernel ``(..., in, out)`` is
            its ``(kh*kw*in, out)`` matrix; Adam's step for variables of fewer than two dimensions).
        alpha: layer-wise multipliers of Equation 1.
        layers: which variables are layers: a regex searched in ``variable.path`` (a raw
            ``tf.Variable``'s ``name``) or a callable; default: by path and shape, not ``Embedding`` tables,
            biases or normalization parameters (``layca_keras.describe(model)``, ``docs/selection.md``).
        include: kinds the default leaves out to turn as layers after all: ``"embedding"``, ``"bias"``, ``"norm"``.
        log_layers: log every variable's role and the reason when the optimizer is built (its first step;
            ``logging`` INFO on the ``layca_keras`` logger).
        other_learning_rate, freeze_others, variant: as in ``layca_torch.Layca``.
        **kwargs: base hyperparameters, then the usual Keras optimizer arguments (``name``,
            ``clipnorm``, ``use_ema``, ``gradient_accumulation_steps``...). ``weight_decay`` is Keras's own
            decoupled decay, ``v -= learning_rate * weight_decay * v`` before the step, as in every Keras
            optimizer (``exclude_from_weight_decay`` works as usual), on the variables that are not layers;
            layers are left out of it, as Layca would remove it (a shrink along the weights) and their
            reference norm is their own (``docs/algorithm.md``, "Weight decay").

    Each layer keeps the norm it has at its first step (``initial`` means when training starts), unless a
    restored optimizer state supplies it: weights loaded after ``build`` keep their norms. A layer whose
    norm is then zero or infinite is refused before the step changes anything. ``reset_layer_norms()``
    reads the norms again at the next step. ``keras.saving.load_model`` finds this class (saved as
    ``layca>Layca``) once ``layca_keras`` is imported.

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
        other_learning_rate: float | None = None,
        freeze_others: bool = False,
        variant: str = "layca",
        name: str | None = None,
        include: Sequence[str] = (),
        log_layers: bool = False,
        weight_decay: float | None = defaults.WEIGHT_DECAY,
        **kwargs: Any,
    ) -> None:
        selection.check_include(include)
        base_hyperparameters = {k: kwargs.pop(k) for k in list(kwargs) if k not in KERAS_ARGUMENTS}
        learning_rate, direction = checked_options(
            learning_rate, alpha, variant, base, other_learning_rate, base_hyperparameters, weight_decay
        )
        super().__init__(learning_rate=learning_rate, name=name, weight_decay=weight_decay or None, **kwargs)
        self.base_hyperparameters, self.direction = base_hyperparameters, direction
        self.base, self.alpha, self.layers = base, alpha, layers
        self.include, self.log_layers = tuple(include), log_layers
        self.other_learning_rate, self.freeze_others, self.variant = other_learning_rate, freeze_others, variant

    def build(self, variables: list[Any]) -> None:
        if self.built:
            return
        super().build(variables)
        self._plan, self._init_norms = layer_plan(self, variables, self.layers, self.alpha, self.include)
        if self.log_layers:
            logger.info("Layca's layers and other variables:\n%s", describe(variables, self.layers, self.include))
        self._base_slots = [base_slots(self, v, self.direction) for v in variables]
        self._state_type = type(self.direction.init(ops.zeros((1,))))

    def _use_weight_decay(self, variable: Any) -> bool:
        """Keras's rule (``exclude_from_weight_decay``) for the other variables; never for a layer."""
        if self.built and self._plan.multipliers[self._get_variable_index(variable)] is not None:
            return False
        return super()._use_weight_decay(variable)

    def _apply_weight_decay(self, variables: list[Any]) -> None:
        """Keras's decay on the variables it applies to, skipped when none does (Keras's torch backend fails on an
        empty list)."""
        decayed = [v for v in variables if self._use_weight_decay(v)]
        if decayed:
            super()._apply_weight_decay(decayed)

    def apply(self, grads: list[Any], trainable_variables: list[Any] | None = None) -> None:
        """Keras's ``apply``, after refusing a layer whose first step would read a zero or infinite norm."""
        if trainable_variables is not None and not self.built:
            with keras.name_scope(self.name, caller=self):
                self.build(list(trainable_variables))
        if self.built:
            variables = self._trainable_variables if trainable_variables is None else trainable_variables
            known = self._trainable_variables_indices  # an unknown variable: Keras's own error, in super().apply
            keys = [(self._var_key(v), v) for v, g in zip(variables, grads) if g is not None]
            layers = [(known[key], read(v)) for key, v in keys if key in known]
            with self._init_norms.checked(layers):
                return super().apply(grads, trainable_variables)
        return super().apply(grads, trainable_variables)

    def _backend_update_step(self, grads: list[Any], trainable_variables: list[Any], learning_rate: Any) -> None:
        """On JAX and torch, every variable's step in one ``optimizer_step`` (XLA compiles one step over all layers far
        faster than one per variable; torch's executors turn all layers in a few multi-tensor kernels); TensorFlow
        keeps Keras's ``update_step`` per variable (``tf.distribute``)."""
        if keras.backend.backend() not in ("jax", "torch"):
            return super()._backend_update_step(grads, trainable_variables, learning_rate)
        self._steps(
            [self._get_variable_index(v) for v in trainable_variables], grads, trainable_variables, learning_rate
        )

    def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> None:
        """One variable's step through ``layca_core.engine.optimizer_step`` (Keras's public hook, so
        ``tf.distribute`` and ``keras.distribution`` reduce gradients and place updates as for its own optimizers)."""
        self._steps([self._get_variable_index(variable)], [gradient], [variable], learning_rate)

    def _steps(self, indices: list[int], grads: list[Any], variables: list[Any], learning_rate: Any) -> None:
        """The step of ``variables`` (their indices in the optimizer's variables) in one ``optimizer_step``."""
        kept = [k for k, i in enumerate(indices) if not (self._plan.multipliers[i] is None and self.freeze_others)]
        if not kept:
            return
        indices, variables = [indices[k] for k in kept], [variables[k] for k in kept]
        states = [self._state_type(*(read(slot) for slot in self._base_slots[i])) for i in indices]
        weights = [read(v) for v in variables]
        norms = self._init_norms.values(indices, weights)
        rate = ops.convert_to_tensor(learning_rate)
        with self._init_norms.named(indices, weights):  # a layer zeroed since its norm was stored: refused by name
            new, new_states = engine.optimizer_step(
                weights, [ops.cast(grads[k], v.dtype) for k, v in zip(kept, variables)], states, norms, rate,
                engine.LayerPlan(tuple(self._plan.multipliers[i] for i in indices)), base=self.direction,
                other_rate=rate if self.other_learning_rate is None else self.other_learning_rate, variant=self.variant,
            )  # fmt: skip
        for i, variable, value, state in zip(indices, variables, new, new_states):
            self.assign(variable, value)
            for slot, x in zip(self._base_slots[i], state):
                self.assign(slot, x)

    def get_config(self) -> dict[str, Any]:
        check_serializable(self)
        config = super().get_config()
        config.update(
            base=self.base,
            alpha=self.alpha,
            layers=self.layers,
            other_learning_rate=self.other_learning_rate,
            freeze_others=self.freeze_others,
            variant=self.variant,
            include=list(self.include),
            log_layers=self.log_layers,
            **self.base_hyperparameters,
        )
        return config


def describe(model: Any, layers: LayerSelector = None, include: Sequence[str] = ()) -> str:
    """A table of every variable of a Keras model (or a list of variables) with its role under ``Layca(layers=...,
    include=...)`` (layer, other, or frozen for a non-trainable one) and the reason (``docs/selection.md``).

    Example:
        >>> model = keras.Sequential([keras.Input((3,), dtype="int32"), keras.layers.Embedding(10, 4, name="tokens"),
        ...                           keras.layers.Dense(2, name="out")], name="net")
        >>> print(describe(model))  # doctest: +NORMALIZE_WHITESPACE
        name                   shape    role    reason
        net/tokens/embeddings  (10, 4)  other   an embedding table (named 'embeddings')
        net/out/kernel         (4, 2)   layer   a weight tensor (2 dimensions)
        net/out/bias           (2,)     other   a bias (named 'bias'), fewer than 2 dimensions
        1 layer, 2 other, 0 frozen
    """
    variables = list(model.variables if hasattr(model, "variables") else model)
    trainable = {id(v) for v in (model.trainable_variables if hasattr(model, "trainable_variables") else variables)}
    rows = []
    for v in variables:
        if id(v) not in trainable:
            found = selection.frozen("not trainable")
        elif layers is None:
            found = role(v, include)
        else:
            chosen = selects(layers, v)
            found = selection.Role(selection.LAYER if chosen else selection.OTHER, "chosen by layers=")
        rows.append((path_of(v), tuple(v.shape), found))
    return selection.format_roles(rows)
