"""Base hyperparameters in torch's words (``betas``, ``eps``...), translated to the core's names."""

import functools
import inspect
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from layca_core import direction, engine
from layca_core.directions import BaseDirection, base_defaults

HYPERPARAMETER_NAMES: dict[str, str | tuple[str, str]] = {
    "momentum": "momentum",
    "beta": "beta",
    "betas": ("b1", "b2"),
    "eps": "eps",
    "rho": "rho",
    "initial_accumulator_value": "initial_accumulator",
    "nesterov": "nesterov",
    "out_axis": "out_axis",
}
"""torch name -> core name. torch's RMSprop calls ``rho`` ``alpha``, which is Layca's Equation 1 exponent here."""

SPELLING = engine.spelling_of(HYPERPARAMETER_NAMES)
"""torch's word for each core name it spells differently (``betas[0]`` for ``b1``), in messages."""

MODES = {
    "differentiable": "Layca's step is not differentiable (it runs under torch.no_grad)",
    "capturable": "Layca has no capturable mode (a step whose state stays on the device for CUDA graph capture)",
}
"""Implementation flags of torch's optimizers that Layca does not have, with the reason given when one is passed."""


@functools.cache
def torch_defaults(base: str) -> Mapping[str, Any]:
    """The torch-named hyperparameters of ``base`` with the core's defaults (e.g. adam: betas, eps); read-only,
    built once per base (every step asks)."""
    core = base_defaults(base)
    if "out_axis" in core:  # torch weights are (out, in, *kernel)
        core["out_axis"] = engine.FAN_OUT_AXIS["layca_torch"]
    named = {}
    for torch_name, core_name in HYPERPARAMETER_NAMES.items():
        if isinstance(core_name, tuple):
            if core_name[0] in core:
                named[torch_name] = tuple(core[n] for n in core_name)
        elif core_name in core:
            named[torch_name] = core[core_name]
    return MappingProxyType(named)


def check_names(base: str, given: Iterable[str], *, strict: bool) -> None:
    """Refuse base hyperparameters ``base`` does not take, naming torch's word for a core name.

    ``strict`` (constructor keywords): refuse every other name too; a param group may carry keys of its own,
    except the hyperparameters of torch's optimizers (``weight_decay``, ``amsgrad``...), refused alike.
    """
    accepted = torch_defaults(base)
    for name in given:
        if name in SPELLING:
            word = SPELLING[name].split("[")[0]
            raise TypeError(f"Layca (torch) calls {name!r} {word!r}; pass {word}= instead.")
        if name in MODES:
            raise TypeError(f"{MODES[name]}: remove {name}= (True or False) from the optimizer's arguments.")
        if name not in accepted and (strict or name in HYPERPARAMETER_NAMES or name in torch_optimizer_names()):
            raise TypeError(f"Base {base!r} takes {', '.join(accepted) or 'no hyperparameters'}; got {name!r}.")


@functools.cache
def torch_optimizer_names() -> frozenset[str]:
    """The constructor keywords of torch's optimizers that name no option of Layca (``weight_decay``,
    ``dampening``, ``amsgrad``, ``nesterov``, ``capturable``, ``differentiable``...)."""
    import torch

    from layca_torch.optimizer import Layca

    names = {
        name
        for optimizer in vars(torch.optim).values()
        if isinstance(optimizer, type) and issubclass(optimizer, torch.optim.Optimizer)
        if optimizer is not torch.optim.Optimizer
        for name in inspect.signature(optimizer.__init__).parameters
    }
    own = set(inspect.signature(Layca.__init__).parameters) | set(HYPERPARAMETER_NAMES) | {"self", "params"}
    return frozenset(names - own)


def base_of(group: dict[str, Any]) -> BaseDirection:
    """The core direction of a param group, from its current base and hyperparameters (schedulers may change them)."""
    names = torch_defaults(group["base"])
    return _direction(group["base"], tuple((n, _hashable(group[n])) for n in names))


def core_hyperparameters(group: dict[str, Any]) -> dict[str, Any]:
    """A param group's base hyperparameters under the core's names (``betas`` -> ``b1``, ``b2``)."""
    core = {}
    for name in torch_defaults(group["base"]):
        target = HYPERPARAMETER_NAMES[name]
        if isinstance(target, tuple):
            betas = tuple(group[name])
            if len(betas) != len(target):
                raise ValueError(f"betas must be a pair (b1, b2); got {group[name]!r}.")
            core.update(zip(target, betas))
        else:
            core[target] = group[name]
    return core


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


@functools.lru_cache(maxsize=64)
def _direction(base: str, named: tuple[tuple[str, Any], ...]) -> BaseDirection:
    return direction(base, spelling=SPELLING, **core_hyperparameters({"base": base, **dict(named)}))
