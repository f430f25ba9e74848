"""``LaycaWrapper``: any torch optimizer's step, turned into a Layca step on the chosen layers."""

import warnings
from collections.abc import Callable, Iterable
from typing import Any

import torch

import layca_core
from layca_core import defaults, engine
from layca_core.validation import check_rate
from layca_torch import roles
from layca_torch.norms import WrittenLayers, read_norms
from layca_torch.params import describe
from layca_torch.sharding import global_float

EXCLUDE = "Leave it out of LaycaWrapper(..., layers=[...]): it then keeps the wrapped optimizer's step."


class LaycaWrapper(torch.optim.Optimizer):
    """Run ``optimizer.step()``, then replace each layer's move by a Layca turn in its direction.

    The layers are ``layers``, else ``Layca``'s default ones by name (an optimizer built on named parameters)
    and shape (``docs/selection.md``). The inner optimizer's move ``p_before - p_after`` is the base step ``s`` (its learning rate
    and decoupled weight decay only scale ``s`` or add a component along ``w``, which Layca
    removes). Parameters that are not layers keep the inner optimizer's update. Non-finite
    entries of the layers' gradients are zeroed, in place, before the inner step, as ``Layca``
    ignores them: one bad batch cannot poison the inner optimizer's state.

    The wrapper is a ``torch.optim.Optimizer`` sharing the inner optimizer's ``param_groups``
    and ``state``, so schedulers, hooks and Lightning take it. The rotation rate follows each
    group's learning rate: a layer turns by ``arctan(lr * m_l * group["lr"] / lr0)``, so ``lr`` is the
    rotation rate at the schedule's peak. ``lr0``, the group's reference learning rate, is resolved at
    the wrapper's first step, whatever the order in which the scheduler and the wrapper were built:
    the group's ``max_lr`` when it has one (``OneCycleLR``), else its ``initial_lr`` (the base lr any
    torch scheduler records), else its ``lr`` at that step. It is kept in the group as
    ``layca_reference_lr`` beside ``layca_lr`` (so ``state_dict`` keeps it). ``CyclicLR`` keeps its
    ``max_lr`` on the scheduler, not in the group: set ``group["max_lr"]`` yourself to make it the peak.

    Each layer's reference norm (its sphere's radius) is its norm at its first step, so weights loaded
    after wrapping keep their norms; ``reset_layer_norms()`` reads them again at the next step.

    ``lr`` defaults to 3^-3, the paper's rate with SGD-like steps; an adaptive inner optimizer (Adam,
    RMSprop) takes 3^-5, as in the example.

    Extra cost against the inner optimizer: a copy of every layer's weights (memory and one
    pass) and the Layca step's passes.

    Example:
        >>> model = torch.nn.Linear(4, 3)
        >>> wrapped = LaycaWrapper(torch.optim.AdamW(model.parameters(), lr=1e-3), lr=3**-5)
        >>> model(torch.randn(8, 4)).square().mean().backward()
        >>> wrapped.step()
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        lr: float = defaults.RATE,
        *,
        layers: Iterable[torch.Tensor] | None = None,
        alpha: float = defaults.ALPHA,
        variant: str = "layca",
    ) -> None:
        engine.checked_options(lr, alpha, variant, names=engine.RATE_NAMES["layca_torch"])
        named = [
            (names[i] if names else None, p)
            for group in optimizer.param_groups
            for names in [group.get("param_names")]
            for i, p in enumerate(group["params"])
        ]
        params = [p for _, p in named]
        chosen = (
            list(layers)
            if layers is not None
            else [p for n, p in named if p.requires_grad and roles.role(n, p).is_layer]
        )
        if not chosen:
            raise ValueError("The wrapped optimizer has no Layca layer by the default rule; pass `layers`.")
        if layers is None and any(n is None for n, p in named if p.requires_grad and p.dim() >= 2):
            warnings.warn(roles.WRAPPED_BY_SHAPE_ALONE, UserWarning, stacklevel=2)
        ids = {id(p) for p in chosen}
        if len(ids) != len(chosen):
            raise ValueError("`layers` lists a layer twice; list each layer once.")
        if not ids <= {id(p) for p in params}:
            raise ValueError("Every tensor in `layers` must be a parameter of the wrapped optimizer.")
        for group in optimizer.param_groups:
            if any(id(p) in ids for p in group["params"]):
                group["layca_lr"] = lr
        # torch's Optimizer.__init__ would add param groups of its own: __setstate__ sets up hooks and step profiling only
        self.__setstate__({"optimizer": optimizer, "layers": chosen, "alpha": alpha, "variant": variant})
        self.init_norms: dict[torch.Tensor, float] = {}

    def __getstate__(self) -> dict[str, Any]:
        keys = ("optimizer", "layers", "alpha", "variant", "init_norms")
        return {k: self.__dict__[k] for k in keys if k in self.__dict__}

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._written = WrittenLayers()
        self.multipliers = engine.LayerPlan.from_flags([True] * len(self.layers), self.alpha).multipliers

    @property  # type: ignore[override]
    def param_groups(self) -> list[dict[str, Any]]:
        return self.optimizer.param_groups

    @property  # type: ignore[override]
    def state(self) -> Any:
        return self.optimizer.state

    @property  # type: ignore[override]
    def defaults(self) -> dict[str, Any]:
        return self.optimizer.defaults

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        raise NotImplementedError("Add param groups to the wrapped optimizer before wrapping it.")

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """The inner optimizer's step, then each layer's move turned into a Layca step."""
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
            closure = lambda: loss  # noqa: E731 (the inner optimizer must not evaluate the loss again)
        groups = {id(p): g for g in self.param_groups for p in g["params"]}
        layer_groups = [groups[id(p)] for p in self.layers]
        self._written.refuse_zeroed(self.layers, self.init_norms.__contains__, self._layer_name, EXCLUDE)
        if len(self.init_norms) < len(self.layers) or any("layca_reference_lr" not in g for g in layer_groups):
            self._first_step(layer_groups)
        moving = [(p, m, groups[id(p)]) for p, m in zip(self.layers, self.multipliers) if p.grad is not None]
        moving = [(p, g["layca_lr"] * m * g["lr"] / g["layca_reference_lr"]) for p, m, g in moving]
        for p, _ in moving:
            torch.nan_to_num_(p.grad, nan=0.0, posinf=0.0, neginf=0.0)
        before = [p.detach().clone() for p, _ in moving]
        loss = self.optimizer.step(closure)
        steps = torch._foreach_sub(before, [p for p, _ in moving])
        norms = [self.init_norms[p] for p, _ in moving]
        new = layca_core.layca_steps(before, steps, [r for _, r in moving], norms, variant=self.variant)
        torch._foreach_copy_([p for p, _ in moving], new)
        self._written.record(self.layers)
        return loss

    def _layer_name(self, i: int) -> str:
        """The i-th layer's name in messages: its name where the wrapped optimizer has names, else its group, index
        and shape."""
        for k, group in enumerate(self.param_groups):
            for j, p in enumerate(group["params"]):
                if p is self.layers[i]:
                    return describe(group, j, k)
        return f"layer {i} (shape {tuple(self.layers[i].shape)})"

    def _first_step(self, groups: list[dict[str, Any]]) -> None:
        """What a layer's first step reads, all checked before any is stored: its norm, and its group's reference
        lr (``max_lr``, else ``initial_lr``, else ``lr``)."""
        missing = [(self._layer_name(i), p) for i, p in enumerate(self.layers)]
        missing = [(name, p) for name, p in missing if p not in self.init_norms]
        norms = read_norms(missing, exclude=EXCLUDE)
        new = [g for g in {id(g): g for g in groups}.values() if "layca_reference_lr" not in g]
        references = [g.get("max_lr", g.get("initial_lr", g["lr"])) for g in new]
        for reference in references:
            check_rate(reference, "the wrapped optimizer's lr")
            if not reference > 0:
                raise ValueError(
                    "The rotation rate follows the wrapped optimizer's lr, whose peak (max_lr, else initial_lr, "
                    "else lr at the first step) must be > 0 in a group of layers."
                )
        for group, reference in zip(new, references):
            group["layca_reference_lr"] = float(reference)
        self.init_norms |= {p: global_float(n) for (_, p), n in zip(missing, norms)}

    def reset_layer_norms(self) -> None:
        """Forget every layer's reference norm: each is read again at the next step (after loading other
        weights mid-run, for instance)."""
        self.init_norms = {}

    def state_dict(self) -> dict[str, Any]:
        """The inner optimizer's state dict, with the layers' reference norms by parameter index (None before
        a layer's first step)."""
        params = [p for g in self.param_groups for p in g["params"]]
        return {**self.optimizer.state_dict(), "layca_init_norms": [self.init_norms.get(p) for p in params]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state_dict = dict(state_dict)
        saved = state_dict.pop("layca_init_norms", None)
        params = [p for g in self.param_groups for p in g["params"]]
        layer_ids = {id(p) for p in self.layers}
        if (
            saved is None
            or len(saved) != len(params)
            or any(saved[i] is not None for i, p in enumerate(params) if id(p) not in layer_ids)
        ):
            raise ValueError("This state dict was not saved by a LaycaWrapper over the same parameters and layers.")
        self.optimizer.load_state_dict(state_dict)
        self.init_norms = {p: saved[i] for i, p in enumerate(params) if saved[i] is not None}
