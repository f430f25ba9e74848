"""What every adapter checks at construction, in one place."""

from collections.abc import Mapping
from typing import Any

from layca_core import defaults
from layca_core.directions import BaseDirection, direction
from layca_core.engine.turn import VARIANTS
from layca_core.validation import check_alpha, check_rate, concrete_value


def checked_options(
    rate: Any,
    alpha: Any,
    variant: str,
    base: str | None = None,
    other_rate: Any = None,
    *,
    names: tuple[str, str] = ("rate", "other_rate"),
    spelling: Mapping[str, str] | None = None,
    **base_hyperparameters: Any,
) -> tuple[Any, BaseDirection | None]:
    """Check an adapter's options; return the rate (the paper's default for ``base`` when ``rate``
    is None) and the base direction (None when no ``base`` is given).

    Numbers and concrete 0-d arrays are checked; traced values pass through. ``spelling`` maps core
    hyperparameter names to the adapter's own words, for the error messages.
    """
    rate = defaults.default_rate(base or defaults.BASE) if rate is None else rate
    for value, name in ((rate, names[0]), (0.0 if other_rate is None else other_rate, names[1])):
        concrete = concrete_value(value)
        check_rate(value if concrete is None else concrete, name)
    check_alpha(alpha)
    if variant not in VARIANTS:
        raise ValueError(f"Unknown variant {variant!r}; choose one of {', '.join(VARIANTS)}.")
    return rate, None if base is None else direction(base, spelling=spelling, **base_hyperparameters)
