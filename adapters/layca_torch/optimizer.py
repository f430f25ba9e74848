"""``layca_torch.Layca``: the Layca step of ``layca_core`` as a ``torch.optim.Optimizer``."""

from collections.abc import Callable, Iterable
from typing import Any

import array_api_compat.torch as torch_namespace
import torch

import layca_core
from layca_core import defaults, engine
from layca_core.validation import check_nonzero_norms, check_rate
from layca_torch.foreach import base_steps, other_foreach
from layca_torch.sharding import global_float, is_dtensor, local, local_like, mesh_of, replicating


def _state_key(field: str) -> str:
    """Torch's name for a base-state field: load_state_dict keeps "step" in its own dtype."""
    return "step" if field == "count" else field


class Layca(torch.optim.Optimizer):
    r"""Layca (Carbonnelle & De Vleeschouwer, arXiv 1806.01603) over any base direction.

    Each step turns every Layca layer by ``arctan(lr * m_l(alpha))`` in the direction of the
    base optimizer's step projected onto the layer's tangent space, and puts it back on the
    sphere of its initial norm (see ``layca_core.layca_step``). Other parameters get the
    plain base step ``p -= lr * s`` at their group's ``lr`` (``other_lr``), or stay frozen.

    Which parameters are layers: a param group's ``layca`` key (True/False); groups without
    one are split by ``ndim >= 2``. ``layca_torch.layca_param_groups(model, select)`` selects
    by module type, name pattern or callable. Layers are ordered as given (the alpha order).

    ``docs/algorithm.md`` explains ``alpha`` (Equation 1, written out), ``base``, ``variant``,
    the other parameters' rate and ``freeze_others``.

    Args:
        params: parameters, named parameters or param groups.
        lr: the rotation rate (tangent of the per-step angle); default 3^-3, 3^-5 on adam/amom.
            A ``torch.optim.lr_scheduler`` schedules it like any learning rate.
        base: ``"sgd"``, ``"momentum"``, ``"nesterov"``, ``"amom"``, ``"adam"``, ``"rmsprop"``
            or ``"adagrad"``; its hyperparameters are keyword arguments (``momentum=0.9``...).
        alpha: layer-wise multipliers of Equation 1 (0: uniform).
        variant: ``"layca"``, or ``"lars"`` for the paper's LARS variant.
        other_lr: plain learning rate of non-layer parameters (default: ``lr``).
        freeze_others: leave non-layer parameters unchanged (the paper's setting).
        maximize: ascend instead of descend.
        foreach: base directions and the turn as multi-tensor kernels on local shards (default);
            ``False`` runs the core's per-tensor reference path.

    Example:
        >>> model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
        >>> optimizer = Layca(model.parameters(), lr=3**-3, base="momentum", momentum=0.9)
        >>> model(torch.randn(16, 4)).square().mean().backward()
        >>> optimizer.step()
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float | torch.Tensor | None = None,
        *,
        base: str = defaults.BASE,
        alpha: float = defaults.ALPHA,
        variant: str = "layca",
        other_lr: float | None = None,
        freeze_others: bool = False,
        maximize: bool = False,
        foreach: bool | None = None,
        **base_hyperparameters: Any,
    ) -> None:
        self._base_hyperparameters = base_hyperparameters
        lr, self._base = engine.checked_options(
            lr, alpha, variant, base, other_lr, names=("lr", "other_lr"), **base_hyperparameters
        )
        self._state_class = type(self._base.init(torch.zeros(1)))
        self._other_lr = other_lr
        self._multipliers: dict[torch.Tensor, float] = {}
        self._scalars: dict[tuple[int, ...], tuple[torch.Tensor, torch.Tensor]] = {}
        options = {"lr": lr, "layca": None, "freeze": freeze_others, "variant": variant, "maximize": maximize}
        super().__init__(params, {**options, "foreach": foreach, "base": base, **base_hyperparameters})
        self.alpha = alpha
        self.register_load_state_dict_post_hook(lambda optimizer: optimizer._scalars.clear())

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        super().add_param_group(param_group)
        group = self.param_groups.pop()
        if group["layca"] is None:
            for split in _split_by_ndim(group, self._other_lr):
                super().add_param_group(split)
        else:
            self.param_groups.append(group)
        for group in self.param_groups:
            if group["layca"]:
                self._store_initial_norms(group)
        self._multipliers = {}
        self._scalars = {}

    def _store_initial_norms(self, group: dict[str, Any]) -> None:
        names = group.get("param_names") or [f"parameter of shape {tuple(p.shape)}" for p in group["params"]]
        new = [(name, p) for name, p in zip(names, group["params"]) if "init_norm" not in self.state[p]]
        norms = [global_float(layca_core.initial_norm(p.detach())) for _, p in new]
        check_nonzero_norms(norms, [name for name, _ in new])
        for (_, p), norm in zip(new, norms):
            self.state[p]["init_norm"] = norm

    def layer_multipliers(self) -> dict[torch.Tensor, float]:
        """Each Layca layer's rate multiplier (Equation 1), in layer order."""
        if not self._multipliers:
            layers = [p for g in self.param_groups if g["layca"] for p in g["params"]]
            plan = engine.LayerPlan.from_flags([True] * len(layers), self.alpha)
            self._multipliers = dict(zip(layers, plan.multipliers))
        return self._multipliers

    def _device_scalars(self, params: list[torch.Tensor], dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """Multipliers and initial norms of ``params`` as vectors on their (local) device, built once."""
        key = tuple(map(id, params))
        if key not in self._scalars:
            multipliers, device = self.layer_multipliers(), local(params[0]).device
            self._scalars[key] = (
                torch.tensor([multipliers[p] for p in params], dtype=dtype, device=device),
                torch.tensor([self.state[p]["init_norm"] for p in params], dtype=dtype, device=device),
            )
        return self._scalars[key]

    def _base_state(self, p: torch.Tensor) -> Any:
        fields = self._state_class._fields
        if fields and _state_key(fields[0]) not in self.state[p]:
            self._save_base_state(p, self._base.init(p.detach()))
        return self._state_class._make(self.state[p][_state_key(f)] for f in fields)

    def _save_base_state(self, p: torch.Tensor, base_state: Any) -> None:
        for field, value in base_state._asdict().items():
            self.state[p][_state_key(field)] = value

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One Layca step; ``closure`` re-evaluates the loss, as in every torch optimizer."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        multipliers = self.layer_multipliers()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            _check_lr(group["lr"])
            grads = [torch.neg(p.grad) if group["maximize"] else p.grad for p in params]
            states = [self._base_state(p) for p in params]
            if self._use_foreach(group):
                self._multi_tensor_step(group, params, grads, states)
            else:
                self._reference_step(group, params, grads, states, [multipliers.get(p) for p in params])
        return loss

    def _reference_step(
        self, group: dict[str, Any], params: list, grads: list, states: list, multipliers: list
    ) -> None:
        """The core's per-tensor path; on DTensors one parameter at a time (its sums stay global DTensor ops)."""
        batches = [[i] for i in range(len(params))] if any(map(is_dtensor, params)) else [range(len(params))]
        for batch in batches:
            chosen = [params[i] for i in batch]
            with replicating(chosen):
                new, new_states = engine.optimizer_step(
                    chosen, [grads[i] for i in batch], [states[i] for i in batch],
                    [self.state[p].get("init_norm") for p in chosen], group["lr"],
                    engine.LayerPlan(tuple(multipliers[i] if group["layca"] else None for i in batch)),
                    base=self._base, other_rate=group["lr"], freeze_others=group["freeze"], variant=group["variant"],
                    multi_tensor=False,
                )  # fmt: skip
            torch._foreach_copy_([local(p) for p in chosen], [local_like(w, p) for w, p in zip(new, chosen)])
            for p, state in zip(chosen, new_states):
                self._save_base_state(p, state)

    def _multi_tensor_step(self, group: dict[str, Any], params: list[Any], grads: list[Any], states: list[Any]) -> None:
        """Base directions by ``layca_torch.foreach``, the turn by the core's torch executor, on local shards."""
        shards = [local(p) for p in params]
        grads, states = [local(g) for g in grads], [type(s)(*map(local, s)) for s in states]
        if not group["layca"]:
            if not group["freeze"]:
                other_foreach(shards, grads, states, group["lr"], base=group["base"], hyperparameters=self._base_hyperparameters)  # fmt: skip
            return
        steps = base_steps(grads, states, group["base"], self._base_hyperparameters)
        executor = engine.executor_for(torch_namespace, shards[0], meshes=[mesh_of(p) for p in params], in_place=True)
        executor = executor.prepare(shards)
        multipliers, init_norms = self._device_scalars(params, executor.acc)
        new = engine.turn_layers(
            shards, steps, group["lr"] * multipliers, init_norms, executor=executor, variant=group["variant"]
        )
        rounded = [(p, w) for p, w in zip(shards, new) if w is not p]
        if rounded:
            torch._foreach_copy_([p for p, _ in rounded], [w for _, w in rounded])

    def _use_foreach(self, group: dict[str, Any]) -> bool:
        return group["foreach"] is not False


def _check_lr(lr: Any) -> None:
    """A negative or non-finite rate is an error; for a tensor rate, raised at the next host sync on CUDA."""
    if isinstance(lr, torch.Tensor):
        torch._assert_async(torch.isfinite(lr) & (lr >= 0), "lr must be a finite number >= 0")
    else:
        check_rate(lr, "lr")


def _split_by_ndim(group: dict[str, Any], other_lr: float | None) -> list[dict[str, Any]]:
    """A group without a ``layca`` key, as a layer group and a group of the other parameters."""
    names = group.get("param_names")
    splits = []
    for is_layer in (True, False):
        chosen = [i for i, p in enumerate(group["params"]) if (p.ndim >= defaults.MIN_LAYER_NDIM) == is_layer]
        if not chosen:
            continue
        split = {**group, "params": [group["params"][i] for i in chosen], "layca": is_layer}
        if names:
            split["param_names"] = [names[i] for i in chosen]
        if not is_layer and other_lr is not None:
            split["lr"] = other_lr
        splits.append(split)
    return splits
