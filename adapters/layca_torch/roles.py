"""Which parameters ``layca_torch.Layca`` turns by default, and why: module types where the model is known, else
the names and shapes rules of ``layca_core.selection`` (``docs/selection.md``)."""

import logging
from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import nn

from layca_core import selection

logger = logging.getLogger("layca_torch")

_EMBEDDINGS = (nn.Embedding, nn.EmbeddingBag)
_NORMS = (
    nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm, nn.InstanceNorm1d, nn.InstanceNorm2d,
    nn.InstanceNorm3d, nn.LayerNorm, nn.GroupNorm, nn.LocalResponseNorm, *([nn.RMSNorm] if hasattr(nn, "RMSNorm") else []),
)  # fmt: skip
_LAYERS = (
    nn.Linear, nn.Bilinear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d,
)  # fmt: skip
_LAYER_NAMES = ("Conv1D",)
"""Layer classes of other libraries, by class name: transformers' GPT-2 ``Conv1D`` (a dense layer, weight (in, out))."""

Kinds = dict[int, tuple[str, str]]
"""``id(parameter) -> (kind, reason)``: the verdicts of the modules that hold each parameter."""

BY_SHAPE_ALONE = (
    "Layca got parameters without names or model (model.parameters(), the Hugging Face Trainer's groups), so its "
    "default selection judged them by shape alone and turns every tensor of 2 dimensions or more as a layer, "
    "embedding tables and output heads tied to them included; pass layers=model (or the model itself, or its "
    "named_parameters()) to apply the module and name rules (docs/selection.md)."
)
"""The warning ``Layca`` gives once when ``judged_by_shape_alone``."""

WRAPPED_BY_SHAPE_ALONE = (
    "LaycaWrapper's inner optimizer holds parameters without names (built on model.parameters()), so the default "
    "selection judged them by shape alone and turns every tensor of 2 dimensions or more as a layer, embedding "
    "tables and output heads tied to them included; build the inner optimizer on model.named_parameters(), or pass "
    "layers= (docs/selection.md)."
)
"""The warning ``LaycaWrapper`` gives when its default selection met a parameter without a name."""


def _verdict(module: nn.Module, name: str) -> tuple[str, str] | None:
    kind = type(module).__name__
    if isinstance(module, _EMBEDDINGS):
        return "embedding", f"the table of an nn.{kind}"
    if isinstance(module, _NORMS) or "Norm" in kind:
        return "norm", f"the {name} of a {kind}"
    if name == "bias":
        return "bias", f"the bias of a {kind}"
    if (isinstance(module, _LAYERS) or kind in _LAYER_NAMES) and name == "weight":
        return selection.LAYER, f"the weight of a {kind}"
    return None


def module_kinds(model: nn.Module) -> Kinds:
    """The module types' verdicts on the model's parameters; a parameter held by an embedding (an output head tied to
    it), or sharing its storage, is an embedding table."""
    kinds: Kinds = {}
    tables: dict[int, str] = {}
    for module_name, module in model.named_modules(remove_duplicate=False):
        for name, p in module.named_parameters(recurse=False):
            verdict = _verdict(module, name)
            if verdict is not None and (id(p) not in kinds or verdict[0] == "embedding"):
                kinds[id(p)] = verdict
            if verdict is not None and verdict[0] == "embedding":
                tables.setdefault(p.untyped_storage().data_ptr(), f"{module_name}.{name}".lstrip("."))
    for _, p in model.named_parameters(remove_duplicate=False):
        table = tables.get(p.untyped_storage().data_ptr())
        if table is not None and kinds.get(id(p), ("",))[0] != "embedding":
            kinds[id(p)] = ("embedding", f"tied to the embedding table {table}")
    return kinds


def role(name: str | None, p: torch.Tensor, kinds: Kinds | None = None, include: Sequence[str] = ()) -> selection.Role:
    """A parameter's default role: its module's verdict when known (``kinds``), else its name and shape."""
    kind, why = (kinds or {}).get(id(p), (None, ""))
    return selection.default_role(name, tuple(p.shape), kind=kind, why=why, include=include)


def judged_by_shape_alone(group: dict[str, Any], kinds: Kinds | None) -> bool:
    """Whether the default selection made layers of a param group's parameters from their shapes alone: no ``layca``
    key, no names, no model (``kinds``), and at least one layer."""
    return group["layca"] is None and kinds is None and not group.get("param_names") and any(group["is_layer"])


def group_roles(group: dict[str, Any], kinds: Kinds | None) -> list[selection.Role]:
    """The role of each parameter of a ``Layca`` param group: its ``layca`` key when set, else the default; the
    others are frozen under ``freeze_others``."""
    names = group.get("param_names") or [None] * len(group["params"])
    if group["layca"] is not None:
        chosen = selection.LAYER if group["layca"] else selection.OTHER
        found = [selection.Role(chosen, f"its param group's layca={group['layca']}") for _ in group["params"]]
    else:
        found = [role(n, p, kinds, group.get("include", ())) for n, p in zip(names, group["params"])]
    if group.get("freeze_others"):
        found = [r if r.is_layer else selection.frozen(f"{r.reason}; freeze_others") for r in found]
    return found


def describe(model: nn.Module | Iterable[tuple[str, torch.Tensor]], *, include: Sequence[str] = ()) -> str:
    """A table of every parameter with its role under ``Layca``'s default (layer, other, or frozen for one that
    requires no gradient) and the reason; pass the model itself for the module-type rules.

    Example:
        >>> print(describe(nn.Sequential(nn.Embedding(10, 4), nn.Linear(4, 2))))  # doctest: +NORMALIZE_WHITESPACE
        name      shape    role    reason
        0.weight  (10, 4)  other   the table of an nn.Embedding
        1.weight  (2, 4)   layer   the weight of a Linear
        1.bias    (2,)     other   the bias of a Linear, fewer than 2 dimensions
        1 layer, 2 other, 0 frozen
    """
    kinds = module_kinds(model) if isinstance(model, nn.Module) else None
    named = list(model.named_parameters() if isinstance(model, nn.Module) else model)
    rows = [
        (n, tuple(p.shape), role(n, p, kinds, include) if p.requires_grad else selection.frozen()) for n, p in named
    ]
    return selection.format_roles(rows)


def log_roles(param_groups: list[dict[str, Any]], kinds: Kinds | None) -> None:
    """Log, at INFO on the ``layca_torch`` logger, every parameter of ``param_groups`` with its role and reason."""
    rows = []
    for g, group in enumerate(param_groups):
        names = group.get("param_names") or [f"group {g}, parameter {i}" for i in range(len(group["params"]))]
        rows += [(n, tuple(p.shape), r) for n, p, r in zip(names, group["params"], group_roles(group, kinds))]
    logger.info("Layca's layers and other parameters:\n%s", selection.format_roles(rows))
