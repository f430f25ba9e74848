"""The base directions by name: ``direction(name, **hyperparameters)`` builds one of ``layca_core.directions``
after checking its hyperparameters, ``base_defaults(name)`` lists them with their defaults (``layca_core.defaults``).

Example:
    >>> import numpy as np
    >>> base = direction("momentum", momentum=0.5)
    >>> g = np.array([1.0, -2.0])
    >>> step, state = base.update(g, base.init(g))
    >>> step, state = base.update(g, state)
    >>> step.tolist()
    [1.5, -3.0]
"""

import inspect
import math
from collections.abc import Callable, Mapping
from typing import Any

from layca_core.directions import BaseDirection, adagrad, adam, amom, momentum, muon, nesterov, rmsprop, sgd
from layca_core.validation import concrete_value

DIRECTIONS: dict[str, Callable[..., BaseDirection]] = {
    "sgd": sgd,
    "momentum": momentum,
    "nesterov": nesterov,
    "amom": amom,
    "adam": adam,
    "rmsprop": rmsprop,
    "adagrad": adagrad,
    "muon": muon,
}


_RANGES = {
    "momentum": ("0 <= {} < 1", lambda v: 0 <= v < 1),
    "beta": ("0 <= {} < 1", lambda v: 0 <= v < 1),
    "b1": ("0 <= {} < 1", lambda v: 0 <= v < 1),
    "b2": ("0 <= {} < 1", lambda v: 0 <= v < 1),
    "rho": ("0 <= {} < 1", lambda v: 0 <= v < 1),
    "eps": ("{} > 0", lambda v: v > 0),
    "initial_accumulator": ("{} >= 0", lambda v: v >= 0),
    "nesterov": ("{} True or False", lambda v: v in (0, 1)),
    "out_axis": ("{} 0 or -1", lambda v: v in (0, -1)),
}
_STATIC = {"nesterov": bool, "out_axis": int}


def base_defaults(name: str) -> dict[str, Any]:
    """The hyperparameters of the base direction called ``name``, with their defaults."""
    if name not in DIRECTIONS:
        raise ValueError(f"Unknown base {name!r}; choose one of {', '.join(DIRECTIONS)}.")
    return {key: p.default for key, p in inspect.signature(DIRECTIONS[name]).parameters.items()}


def direction(name: str, *, spelling: Mapping[str, str] | None = None, **hyperparameters: Any) -> BaseDirection:
    """The base direction called ``name`` with its hyperparameters, checked: numbers and concrete
    0-d arrays (traced values, e.g. under ``optax.inject_hyperparams`` in ``jax.jit``, are taken as
    they are). ``spelling`` maps core names to an adapter's own words, for the error messages."""
    word = {**{key: key for key in _RANGES}, **(spelling or {})}
    accepted = base_defaults(name)
    unknown = sorted(set(hyperparameters) - set(accepted))
    if unknown:
        takes = ", ".join(word[key] for key in accepted) or "no hyperparameters"
        raise TypeError(f"Base {name!r} takes {takes}; got {', '.join(word.get(key, key) for key in unknown)}.")
    for key, value in hyperparameters.items():
        rule, holds = _RANGES[key]
        if key in _STATIC and not isinstance(value, _STATIC[key]):
            kind = _STATIC[key].__name__
            raise ValueError(f"Base {name!r} needs {word[key]} as a Python {kind} (never traced); got {value!r}.")
        concrete = concrete_value(value)
        if (concrete is None and not hasattr(value, "shape")) or not (
            concrete is None or (math.isfinite(concrete) and holds(concrete))
        ):
            raise ValueError(f"Base {name!r} needs {rule.format(word[key])}; got {word[key]}={value!r}.")
    return DIRECTIONS[name](**hyperparameters)
