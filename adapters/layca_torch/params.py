"""The parameters of a ``layca_torch.Layca`` param group: which are layers, their names, what is refused."""

from typing import Any

import torch

from layca_core import engine
from layca_core.validation import check_rate
from layca_torch.hyperparameters import base_of


def layer_flags(group: dict[str, Any]) -> list[bool]:
    """Per parameter of the group, whether it is a Layca layer: the group's ``layca`` key, or where it is None
    the default decided when the group was added (its ``is_layer`` key, ``layca_torch.roles``)."""
    if group["layca"] is not None:
        return [bool(group["layca"])] * len(group["params"])
    return list(group["is_layer"])


def describe(group: dict[str, Any], i: int, group_index: int | None = None) -> str:
    """A parameter's name for messages: its ``param_names`` entry, else its position (in its group, and the group's
    among the optimizer's where ``group_index`` is given) and shape."""
    names = group.get("param_names")
    if names:
        return names[i]
    where = "" if group_index is None else f" of param group {group_index}"
    return f"parameter {i}{where} (shape {tuple(group['params'][i].shape)})"


def check_params(group: dict[str, Any]) -> None:
    """Refuse, by name, a parameter listed twice and one Layca cannot step (meta, complex, integer, an empty layer)."""
    if group["layca"] not in (None, True, False):
        raise ValueError(f"A param group's 'layca' must be True, False or None; got {group['layca']!r}.")
    seen: set[int] = set()
    if group["layca"] is None and len(group["is_layer"]) != len(group["params"]):
        raise ValueError("A param group's 'is_layer' must hold one flag per parameter; set 'layca' instead.")
    flags = layer_flags(group)
    for i, p in enumerate(group["params"]):
        if id(p) in seen:
            raise ValueError(f"A param group lists {describe(group, i)} twice; list each parameter once.")
        seen.add(id(p))
        if p.is_meta:
            raise ValueError(
                f"{describe(group, i)} is on the meta device; build the optimizer once the model is materialized "
                "(module.to_empty(...) and initialized), as torch's own optimizers need."
            )
        if p.is_complex():
            raise TypeError(
                f"Layca turns real floating-point parameters; {describe(group, i)} is {p.dtype}: keep it as a real "
                "parameter (torch.view_as_real of the value, viewed back with torch.view_as_complex in forward)."
            )
        if not p.is_floating_point():
            raise TypeError(f"Layca turns real floating-point parameters; {describe(group, i)} is {p.dtype}.")
        if flags[i] and p.numel() == 0:
            raise ValueError(f"The Layca layer {describe(group, i)} has no elements; set its group's layca=False.")


def check_step(group: dict[str, Any]) -> None:
    """Before any parameter moves: the group's rates (a tensor rate at the next host sync on CUDA) and no sparse
    gradient."""
    for name in ("lr", "other_lr"):
        rate = group[name]
        if isinstance(rate, torch.Tensor):
            torch._assert_async(torch.isfinite(rate) & (rate >= 0), f"{name} must be a finite number >= 0")
        elif rate is not None and not torch.compiler.is_compiling():
            check_rate(rate, name)
    for i, p in enumerate(group["params"]):
        if p.grad is not None and p.grad.is_sparse:
            raise RuntimeError(f"Layca does not support sparse gradients; {describe(group, i)} has one.")


def check_tensor_rates(options: dict[str, Any]) -> None:
    """Refuse a rate given as a tensor of more than one element (as torch's optimizers do, before the parameters)."""
    for name in ("lr", "other_lr"):
        rate = options.get(name)
        if isinstance(rate, torch.Tensor) and rate.numel() != 1:
            raise ValueError(
                f"Tensor {name} must be 1-element; got shape {tuple(rate.shape)}: pass torch.tensor(value)."
            )


def check_group(group: dict[str, Any]) -> None:
    """A param group's options and parameters, checked when it is added."""
    check_tensor_rates(group)
    names = engine.RATE_NAMES["layca_torch"]
    engine.checked_options(
        group["lr"], group["alpha"], group["variant"], None, group["other_lr"], names=names,
        weight_decay=group["weight_decay"],
    )  # fmt: skip
    base_of(group)
    check_params(group)
    if group["fused"] and group["foreach"] is False:
        raise ValueError("fused=True and foreach=False contradict each other: the fused kernels are multi-tensor.")
    devices = {p.device.type for p in group["params"]} - {"cpu", "cuda"}
    if group["fused"] and devices:
        raise ValueError(f"fused=True runs on CPU and CUDA tensors; this group has {', '.join(sorted(devices))} ones.")
