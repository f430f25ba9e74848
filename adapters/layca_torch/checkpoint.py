"""``layca_torch.Layca.load_state_dict``'s checks and conversions: a checkpoint is refused, before anything is
loaded, when it does not fit the optimizer's param groups and bases."""

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import torch

from layca_torch import state as param_state
from layca_torch.hyperparameters import base_of
from layca_torch.norms import as_stored
from layca_torch.params import describe


def checked(state_dict: dict[str, Any], param_groups: list[dict[str, Any]]) -> dict[str, Any]:
    """A copy of ``state_dict`` fit for torch's ``load_state_dict``: keys missing from an older checkpoint's
    groups take this optimizer's values; a ``step`` saved as a Python number becomes a tensor."""
    state_dict = {
        "state": {k: dict(v) for k, v in state_dict["state"].items()},
        "param_groups": [dict(g) for g in state_dict["param_groups"]],
    }
    if len(state_dict["param_groups"]) == len(param_groups):  # else torch's own message
        for g, (group, saved) in enumerate(zip(param_groups, state_dict["param_groups"])):
            if "freeze" in saved:
                saved.setdefault("freeze_others", saved.pop("freeze"))
            for key, value in group.items():
                saved.setdefault(key, value)
            _check_saved_group(g, group, saved, state_dict["state"])
    return state_dict


def _check_saved_group(g: int, group: dict[str, Any], saved: dict[str, Any], saved_states: dict) -> None:
    if saved["base"] != group["base"]:
        raise ValueError(
            f"The checkpoint's param group {g} uses base {saved['base']!r} and this optimizer's uses "
            f"{group['base']!r}; give that group base={saved['base']!r} to resume from it."
        )
    base = base_of(saved)
    for i, (p, index) in enumerate(zip(group["params"], saved["params"])):
        state, template = saved_states.get(index, {}), param_state.template(base, p.dtype)
        param_state.check_fields(state, type(template), saved["base"], describe(group, i))
        if "step" in state and not isinstance(state["step"], torch.Tensor):
            state["step"] = torch.tensor(float(state["step"]), dtype=template.count.dtype)


def pop_norms(state_dict: dict[str, Any]) -> dict[Any, Any]:
    """The saved layer norms by parameter index, taken out of ``state_dict`` (torch would cast them to each
    parameter's dtype, rounding a 16-bit layer's radius)."""
    return {k: v.pop(param_state.INIT_NORM) for k, v in state_dict["state"].items() if param_state.INIT_NORM in v}


def restore_norms(states: Any, param_groups: list[dict[str, Any]], saved_groups: list[dict], norms: dict) -> None:
    """Put the norms ``pop_norms`` took back into the loaded ``states``, as ``Layca`` keeps them."""
    saved = [i for g in saved_groups for i in g["params"]]
    for index, p in zip(saved, [p for g in param_groups for p in g["params"]]):
        if index in norms:
            states[p][param_state.INIT_NORM] = as_stored(norms[index], p)


@contextlib.contextmanager
def checked_load(optimizer: torch.optim.Optimizer, loaded: Callable[[], None]) -> Iterator[None]:
    """Around one torch ``load_state_dict``: check and convert the checkpoint after the user's load pre-hooks (which
    may adapt a checkpoint of another layout), and put the layer norms back, then call ``loaded``, before the
    user's post-hooks."""
    saved: dict[str, Any] = {}

    def check(opt: Any, state_dict: dict[str, Any]) -> dict[str, Any]:
        state_dict = checked(state_dict, opt.param_groups)
        saved.update(norms=pop_norms(state_dict), groups=state_dict["param_groups"])
        return state_dict

    def restore(opt: Any) -> None:
        restore_norms(opt.state, opt.param_groups, saved["groups"], saved["norms"])
        loaded()

    handles = [
        optimizer.register_load_state_dict_pre_hook(check),
        optimizer.register_load_state_dict_post_hook(restore, prepend=True),
    ]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
