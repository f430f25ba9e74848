"""``LaycaWrapper``: any torch optimizer's step, turned into a Layca step on the chosen layers."""

from collections.abc import Callable, Iterable
from typing import Any

import torch

import layca_core
from layca_core import defaults, engine
from layca_core.validation import check_nonzero_norms


class LaycaWrapper:
    """Run ``optimizer.step()``, then replace each layer's move by a Layca turn in its direction.

    The inner optimizer's move ``p_before - p_after`` is the base step ``s`` (its learning rate
    and decoupled weight decay only scale ``s`` or add a component along ``w``, which Layca
    removes). Parameters that are not layers keep the inner optimizer's update.

    Extra cost against the inner optimizer: a copy of every layer's weights (memory and one
    pass) and the Layca step's passes. ``lr`` is the rotation rate, an attribute that a
    schedule may set between steps.

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
        engine.checked_options(lr, alpha, variant, names=("lr", "other_lr"))
        params = [p for group in optimizer.param_groups for p in group["params"]]
        self.layers = list(layers) if layers is not None else [p for p in params if p.ndim >= defaults.MIN_LAYER_NDIM]
        if not self.layers:
            raise ValueError("The wrapped optimizer has no Layca layer (no parameter with ndim >= 2); pass `layers`.")
        self.optimizer, self.lr, self.variant = optimizer, lr, variant
        self.multipliers = engine.LayerPlan.from_flags([True] * len(self.layers), alpha).multipliers
        self.init_norms = [float(layca_core.initial_norm(p.detach())) for p in self.layers]
        check_nonzero_norms(
            self.init_norms, [f"layer {i} of shape {tuple(p.shape)}" for i, p in enumerate(self.layers)]
        )

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        return self.optimizer.param_groups

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none=set_to_none)

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        moving = [(p, m, n) for p, m, n in zip(self.layers, self.multipliers, self.init_norms) if p.grad is not None]
        before = [p.detach().clone() for p, _, _ in moving]
        loss = self.optimizer.step(closure)
        steps = torch._foreach_sub(before, [p for p, _, _ in moving])
        rates = [self.lr * m for _, m, _ in moving]
        new = layca_core.layca_steps(before, steps, rates, [n for _, _, n in moving], variant=self.variant)
        torch._foreach_copy_([p for p, _, _ in moving], new)
        return loss

    def state_dict(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer.state_dict(), "lr": self.lr, "init_norms": list(self.init_norms)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state_dict["optimizer"])
        self.lr, self.init_norms = state_dict["lr"], list(state_dict["init_norms"])
