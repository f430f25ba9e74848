"""What every adapter checks at construction, and the words it names its options with, in one place."""

from collections.abc import Mapping
from typing import Any

from layca_core import defaults
from layca_core.base_lookup import direction
from layca_core.directions import BaseDirection
from layca_core.engine.turn import VARIANTS
from layca_core.validation import check_alpha, check_rate, concrete_value

RATE_NAMES: Mapping[str, tuple[str, str]] = {
    "layca_core": ("rate", "other_rate"),
    "layca_torch": ("lr", "other_lr"),
    "layca_optax": ("learning_rate", "other_learning_rate"),
    "layca_keras": ("learning_rate", "other_learning_rate"),
}
"""Per package, its names for the rotation rate and the other parameters' rate (each framework's own word)."""

FAN_OUT_AXIS: Mapping[str, int] = {"layca_core": -1, "layca_torch": 0, "layca_optax": -1, "layca_keras": -1}
"""Per package, the axis of its weights that holds the fan-out (the ``out_axis`` default of the muon base): torch
stores ``(out, in, *kernel)``, Keras and Flax ``(*kernel, in, out)``."""


def spelling_of(hyperparameter_names: Mapping[str, str | tuple[str, ...]]) -> dict[str, str]:
    """An adapter's word for each core hyperparameter name it spells differently, for error messages.

    ``hyperparameter_names`` maps the adapter's words to core names (a tuple for a word that packs
    several, as torch's ``betas``: its entries are spelled ``betas[0]``, ``betas[1]``).
    """
    words: dict[str, str] = {}
    for word, core in hyperparameter_names.items():
        for i, name in enumerate(core) if isinstance(core, tuple) else [(None, core)]:
            spelled = word if i is None else f"{word}[{i}]"
            if spelled != name:
                words[name] = spelled
    return words


def checked_options(
    rate: Any,
    alpha: Any,
    variant: str,
    base: str | None = None,
    other_rate: Any = None,
    *,
    names: tuple[str, str] = RATE_NAMES["layca_core"],
    spelling: Mapping[str, str] | None = None,
    weight_decay: Any = defaults.WEIGHT_DECAY,
    **base_hyperparameters: Any,
) -> tuple[Any, BaseDirection | None]:
    """Check an adapter's options; return the rate (the paper's default for ``base`` when ``rate``
    is None) and the base direction (None when no ``base`` is given).

    Numbers and concrete 0-d arrays are checked; traced values pass through. ``names``: the adapter's
    ``RATE_NAMES``; ``spelling`` maps core hyperparameter names to its own words (``spelling_of``), for the
    error messages. ``weight_decay`` must be a finite number >= 0 (``layca_core.directions.with_weight_decay``).
    """
    rate = defaults.default_rate(base or defaults.BASE) if rate is None else rate
    checked = ((rate, names[0]), (0.0 if other_rate is None else other_rate, names[1]), (weight_decay, "weight_decay"))
    for value, name in checked:
        concrete = concrete_value(value)
        check_rate(value if concrete is None else concrete, name)
    check_alpha(alpha)
    if variant not in VARIANTS:
        raise ValueError(f"Unknown variant {variant!r}; choose one of {', '.join(VARIANTS)}.")
    return rate, None if base is None else direction(base, spelling=spelling, **base_hyperparameters)
