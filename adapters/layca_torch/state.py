"""Per-parameter optimizer state of ``layca_torch.Layca``: the base state's fields and checkpoint checks."""

import functools
from collections.abc import Callable
from typing import Any

import torch

INIT_NORM = "init_norm"


def has_norm(states: dict[Any, dict[str, Any]]) -> Callable[[torch.Tensor], bool]:
    """Whether a parameter has its reference norm among ``states`` (an optimizer's ``state``)."""
    return lambda p: INIT_NORM in states.get(p, {})


@functools.lru_cache(maxsize=64)
def template(base: Any, dtype: torch.dtype) -> Any:
    """The base state ``base`` starts a one-element parameter of ``dtype`` with (its type and dtypes)."""
    return base.init(torch.zeros(1, dtype=dtype))


def state_key(field: str) -> str:
    """Torch's name for a base-state field: ``load_state_dict`` keeps "step" in its own dtype."""
    return "step" if field == "count" else field


@functools.cache
def state_keys(state_type: type) -> tuple[str, ...]:
    return tuple(map(state_key, state_type._fields))


def write_base_state(state: dict[str, Any], base_state: Any) -> None:
    for field, value in base_state._asdict().items():
        state[state_key(field)] = value


def check_fields(state: dict[str, Any], state_type: type, base: str, name: str) -> None:
    """Refuse a saved state holding other fields than ``base`` keeps (saved with another base)."""
    present, expected = sorted(set(state) - {INIT_NORM}), sorted(state_keys(state_type))
    if present and present != expected:
        raise ValueError(
            f"The checkpoint's state of {name} holds {', '.join(present)}, where base {base!r} keeps "
            f"{', '.join(expected) or 'nothing'}: it was saved with another base."
        )


def base_states(states: dict[Any, dict[str, Any]], base: Any, params: list[torch.Tensor]) -> list[Any]:
    """Each parameter's base state, read from the optimizer's ``states`` (created at its first step). A base
    without state (sgd) leaves no entry: torch keeps no empty state."""
    types: dict[torch.dtype, tuple[type, tuple[str, ...]]] = {}
    result = []
    for p in params:
        if p.dtype not in types:
            state_type = type(template(base, p.dtype))
            types[p.dtype] = state_type, state_keys(state_type)
        state_type, keys = types[p.dtype]
        if not keys:
            result.append(state_type())
            continue
        state = states[p]
        if keys[0] not in state:
            write_base_state(state, base.init(p.detach()))
        result.append(state_type._make([state[key] for key in keys]))
    return result
