"""Per-parameter optimizer state of ``layca_torch.Layca``: the base state's fields and checkpoint checks."""

import functools
from typing import Any

import torch

INIT_NORM = "init_norm"


@functools.lru_cache(maxsize=64)
def template(base: Any, dtype: torch.dtype) -> Any:
    """The base state ``base`` starts a one-element parameter of ``dtype`` with (its type and dtypes)."""
    return base.init(torch.zeros(1, dtype=dtype))


def state_key(field: str) -> str:
    """Torch's name for a base-state field: ``load_state_dict`` keeps "step" in its own dtype."""
    return "step" if field == "count" else field


def state_keys(state_type: type) -> tuple[str, ...]:
    return tuple(map(state_key, state_type._fields))


def read_base_state(state: dict[str, Any], state_type: type) -> Any:
    return state_type._make(state[key] for key in state_keys(state_type))


def write_base_state(state: dict[str, Any], base_state: Any) -> None:
    for field, value in base_state._asdict().items():
        state[state_key(field)] = value


def check_checkpoint(
    groups: list[dict[str, Any]],
    saved: dict[str, Any],
    current: dict[Any, dict[str, Any]],
    describe: Any,
    layout: Any,
) -> None:
    """Refuse, before anything is loaded, a checkpoint this optimizer could not continue from.

    ``describe(group, i)`` names a parameter; ``layout(group, p)`` gives ``(is_layer, template)``, the base
    state the group's base starts ``p`` with.
    A step saved as a Python number (older checkpoints) becomes a tensor here.
    """
    if len(groups) != len(saved["param_groups"]):
        return  # torch's own load_state_dict says so
    for g, (group, saved_group) in enumerate(zip(groups, saved["param_groups"])):
        base = saved_group.get("base", group["base"])
        if base != group["base"]:
            raise ValueError(
                f"The checkpoint's param group {g} uses base {base!r} and this optimizer's uses {group['base']!r}; "
                f"build the optimizer with base={base!r} to resume from it."
            )
        for i, (p, index) in enumerate(zip(group["params"], saved_group["params"])):
            state = saved["state"].get(index, {})
            is_layer, template = layout({**group, **saved_group, "params": group["params"]}, p)
            name = describe(group, i)
            if is_layer and INIT_NORM not in state and INIT_NORM in current.get(p, {}):
                raise ValueError(
                    f"The checkpoint has no initial norm for the Layca layer {name}: its state is missing."
                )
            _check_fields(state, state_keys(type(template)), base, name)
            if "step" in state and not isinstance(state["step"], torch.Tensor):
                state["step"] = torch.tensor(float(state["step"]), dtype=template.count.dtype)


def _check_fields(state: dict[str, Any], expected: tuple[str, ...], base: str, name: str) -> None:
    present = sorted(set(state) - {INIT_NORM})
    if present and present != sorted(expected):
        raise ValueError(
            f"The checkpoint's state of {name} holds {', '.join(present)}, where base {base!r} keeps "
            f"{', '.join(expected) or 'nothing'}: it was saved with another base."
        )
