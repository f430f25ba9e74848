"""Choosing which parameters of a model are Layca layers, as torch.optim param groups."""

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
from torch import nn

from layca_torch import roles

Selector = None | str | nn.Module | tuple[type[nn.Module], ...] | type[nn.Module] | Callable[[str, torch.Tensor], bool]


def _module_weight_names(model: nn.Module, types: tuple[type[nn.Module], ...]) -> set[str]:
    return {
        f"{module_name}.weight" if module_name else "weight"
        for module_name, module in model.named_modules()
        if isinstance(module, types) and getattr(module, "weight", None) is not None
    }


def layer_predicate(
    model: nn.Module | None, layers: Selector, include: Sequence[str] = ()
) -> Callable[[str, torch.Tensor], bool]:
    """Turn ``layers`` into ``(name, param) -> is_layer``.

    ``None``: the default (``layca_torch.describe``: module types where ``model`` is given, else names and
    shapes; ``include`` turns kinds it leaves out back into layers); a regex string: parameter names it searches;
    module types: the ``weight`` of modules of those types; a model: the default on its module types and names,
    for parameters given without names (the Hugging Face ``Trainer``'s groups); a callable: used as is.
    """
    if isinstance(layers, nn.Module):
        kinds = roles.module_kinds(layers)
        chosen = {id(p): roles.role(n, p, kinds, include).is_layer for n, p in layers.named_parameters()}
        return lambda name, param: chosen.get(id(param), roles.role(name, param, None, include).is_layer)
    if layers is None:
        kinds = None if model is None else roles.module_kinds(model)
        return lambda name, param: roles.role(name, param, kinds, include).is_layer
    if isinstance(layers, str):
        pattern = re.compile(layers)
        return lambda name, param: pattern.search(name) is not None
    if isinstance(layers, type) or (isinstance(layers, tuple) and all(isinstance(t, type) for t in layers)):
        if model is None:
            raise TypeError("Selecting layers by module type needs the model; pass the nn.Module itself.")
        names = _module_weight_names(model, layers if isinstance(layers, tuple) else (layers,))
        return lambda name, param: name in names
    if callable(layers):
        return layers
    raise TypeError(f"layers must be None, a regex, module types or a callable; got {type(layers).__name__}.")


def layca_param_groups(
    model: nn.Module | Iterable[tuple[str, torch.Tensor]],
    layers: Selector = None,
    *,
    other_lr: float | None = None,
    freeze_others: bool = False,
    include: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Param groups for ``layca_torch.Layca``: the selected layers, then everything else.

    Layers keep ``named_parameters`` order, which is the order of the alpha multipliers.
    ``other_lr`` is the plain learning rate of the other parameters (the rotation rate when
    omitted); ``freeze_others`` freezes them instead (the paper's setting). Both are explained,
    with ``alpha``, ``base`` and ``variant``, in ``docs/algorithm.md`` (Equation 1 written out).
    By default the layers are ``Layca``'s (``docs/selection.md``): embedding tables, biases and normalisation
    parameters are left out, unless ``include`` names their kind.
    """
    module = model if isinstance(model, nn.Module) else None
    named = list(model.named_parameters() if isinstance(model, nn.Module) else model)
    is_layer = layer_predicate(module, layers, include)
    chosen = [(n, p) for n, p in named if p.requires_grad and is_layer(n, p)]
    others = [(n, p) for n, p in named if p.requires_grad and not is_layer(n, p)]
    if not chosen:
        raise ValueError("No parameter was selected as a Layca layer; check `layers` against model.named_parameters().")
    groups: list[dict[str, Any]] = [_group(chosen, layca=True)]
    if others:
        groups.append(
            _group(others, layca=False, freeze_others=freeze_others, **({} if other_lr is None else {"lr": other_lr}))
        )
    return groups


def _group(named: list[tuple[str, torch.Tensor]], **options: Any) -> dict[str, Any]:
    return {"params": [p for _, p in named], "param_names": [n for n, _ in named], **options}


def split_by_layers(params: Any, layers: Selector, include: Sequence[str] = ()) -> list[dict[str, Any]]:
    """``Layca(params, layers=...)``'s param groups: each group given (or the parameters, as one group) becomes
    its selected layers (``layca=True``), then its other parameters (``layca=False``), with the group's options.

    ``params`` may be the model itself (needed by module types), named parameters or groups of them (needed by
    a regex), or plain parameters (a callable then gets ``None`` as each name).
    """
    module = params if isinstance(params, nn.Module) else None
    if module is not None:
        params = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
    params = list(params)
    if module is None and isinstance(layers, (type, tuple)):
        raise TypeError(
            f"layers={layers!r} selects by module type, which needs the model: pass it, Layca(model, layers=...)."
        )
    is_layer = layer_predicate(module, layers, include)
    groups = []
    for group in params if params and isinstance(params[0], dict) else [{"params": params}]:
        items = list(group["params"])
        named = bool(items) and isinstance(items[0], tuple)
        names = [n for n, _ in items] if named else group.get("param_names")
        tensors = [p for _, p in items] if named else items
        if names is None and isinstance(layers, str):
            raise TypeError(
                f"layers={layers!r} is a regex on parameter names, and these parameters come without names: pass "
                "model.named_parameters() (or the model itself) instead of model.parameters()."
            )
        if group.get("layca") is not None:
            raise ValueError("A param group's 'layca' key and layers= both choose the layers; use one of them.")
        flags = [bool(is_layer(None if names is None else names[i], p)) for i, p in enumerate(tensors)]
        options = {k: v for k, v in group.items() if k not in ("params", "param_names")}
        for flag in (True, False):
            chosen = [i for i, f in enumerate(flags) if f == flag]
            if chosen:
                named_part = {} if names is None else {"param_names": [names[i] for i in chosen]}
                groups.append({**options, "params": [tensors[i] for i in chosen], **named_part, "layca": flag})
    if not any(g["layca"] for g in groups):
        raise ValueError(f"layers={layers!r} selects no parameter as a Layca layer; check it against the names.")
    return groups
