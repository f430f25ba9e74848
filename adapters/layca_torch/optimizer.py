"""``layca_torch.Layca``: the Layca step of ``layca_core`` as a ``torch.optim.Optimizer``."""

import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch

from layca_core import defaults, engine
from layca_core.selection import check_include
from layca_torch import checkpoint, group_step, roles
from layca_torch import state as param_state
from layca_torch.groups import Selector, split_by_layers
from layca_torch.hyperparameters import base_of, check_names, torch_defaults
from layca_torch.norms import EXCLUDE, WrittenLayers, store_new_norms
from layca_torch.params import check_group, check_step, check_tensor_rates, describe, layer_flags


class Layca(torch.optim.Optimizer):
    r"""Layca (Carbonnelle & De Vleeschouwer, arXiv 1806.01603) over any base direction.

    Each step turns every Layca layer by ``arctan(lr * m_l(alpha))`` in the direction of the
    base optimizer's step projected onto the layer's tangent space, and puts it back on the
    sphere of its initial norm (see ``layca_core.layca_step``). "Initial" means the layer's first
    step, not the optimizer's construction: weights loaded in between (a pretrained model) keep
    their norms, a restored ``state_dict`` supplies them, and ``reset_layer_norms()`` reads them
    again at the next step (after loading other weights mid-run). Other parameters get the
    plain base step ``p -= other_lr * s`` (``other_lr`` defaults to the group's ``lr``), or
    stay frozen with ``freeze_others``.

    Every option is a param-group key, so groups may differ in any of them (``base`` included)
    and schedulers may change ``lr``, ``momentum`` or ``betas`` between steps, as in torch's own
    optimizers. Which parameters are layers: a group's ``layca`` key (True/False); by default (None)
    the weights of dense and conv layers, not embedding tables (nor output heads tied to them), biases or
    normalisation parameters: by module type when the model itself is passed, else by name (named
    parameters) and shape (``docs/selection.md``; ``layca_torch.describe(model)`` shows each decision, kept
    per parameter in the group's ``is_layer`` key). ``layers=`` (or ``layca_torch.layca_param_groups(model,
    layers)``) selects by module type, name pattern or callable instead. Layers are ordered as given:
    Equation 1's multipliers follow that order across all groups.

    Base hyperparameters use torch's words: ``momentum``, ``betas=(b1, b2)``, ``eps``,
    ``initial_accumulator_value``, and ``beta`` for amom. RMSprop's decay is ``rho``: torch's
    RMSprop calls it ``alpha``, which here is always Layca's Equation 1 exponent.

    ``docs/algorithm.md`` explains ``alpha`` (Equation 1, written out), ``base``, ``variant``,
    the other parameters' rate and ``freeze_others``.

    Args:
        params: the model itself, its named parameters (for the name rules), parameters or param groups.
        layers: which parameters are layers, as in ``layca_param_groups``: module types (pass the model),
            a regex on parameter names (pass named parameters or the model), the model itself (its default
            selection, for parameters given without names, as the Hugging Face ``Trainer`` gives them), or a
            callable ``(name, param) -> bool`` (``name`` is None for plain parameters). Each group given then
            becomes two: its layers, then its other parameters (a ``layca=False`` group).
        lr: the rotation rate (tangent of the per-step angle); default 3^-3, 3^-5 on adam/amom.
            A ``torch.optim.lr_scheduler`` schedules it like any learning rate.
        base: ``"sgd"``, ``"momentum"``, ``"nesterov"``, ``"amom"``, ``"adam"``, ``"rmsprop"``, ``"adagrad"``
            or ``"muon"``; its hyperparameters are keyword arguments (``momentum=0.9``...). Muon
            (``momentum=0.95``, ``nesterov=True``, ``out_axis=0``) orthogonalises tensors of two or more dimensions,
            a kernel as its ``(out, in*kh*kw)`` matrix, and takes Adam's step (``betas``, ``eps``) for the others.
        alpha: layer-wise multipliers of Equation 1 (0: uniform).
        variant: ``"layca"``, ``"lars"`` for the paper's LARS variant, or ``"hyperball"`` (no projection, back on
            the initial sphere; ``docs/algorithm.md`` gives the angle each turns).
        other_lr: plain learning rate of non-layer parameters (default: the group's ``lr``).
        freeze_others: leave non-layer parameters unchanged (the paper's setting).
        include: kinds of tensor the default selection leaves out to turn as layers after all: any of
            ``"embedding"``, ``"bias"``, ``"norm"`` (tensors of 2 dimensions or more only).
        log_layers: log every parameter's role and the reason once, at the first step (``logging`` INFO on the
            ``layca_torch`` logger).
        weight_decay: L2 decay added to the gradient, ``g + weight_decay * p``, as torch's SGD, Adam, RMSprop and
            Adagrad add it (not AdamW's decoupled decay); a param-group key like every option. On the other
            parameters it acts as in torch's optimizer of the same base; on a layer the tangent projection removes
            its part along the weights (``docs/algorithm.md``, "Weight decay", says what remains for each base).
        maximize: ascend instead of descend.
        foreach: base directions and the turn as multi-tensor kernels on local shards (default);
            ``False`` runs the core's per-tensor reference path.
        fused: the turn as two fused kernels that read each layer once and write it once: ``torch.compile``'d
            loops (its first step compiles for seconds; Triton kernels on CUDA, not yet verified on a GPU,
            ``docs/gpu.md``). Default: the multi-tensor kernels, on every device.

    Example:
        >>> model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
        >>> optimizer = Layca(model.parameters(), lr=3**-3, base="momentum", momentum=0.9)
        >>> model(torch.randn(16, 4)).square().mean().backward()
        >>> optimizer.step()
    """

    def __init__(
        self,
        params: Iterable[Any] | torch.nn.Module,
        lr: float | torch.Tensor | None = None,
        *,
        layers: Selector = None,
        base: str = defaults.BASE,
        alpha: float = defaults.ALPHA,
        variant: str = "layca",
        other_lr: float | None = None,
        freeze_others: bool = False,
        include: Sequence[str] = (),
        log_layers: bool = False,
        weight_decay: float = defaults.WEIGHT_DECAY,
        maximize: bool = False,
        foreach: bool | None = None,
        fused: bool | None = None,
        **base_hyperparameters: Any,
    ) -> None:
        check_names(base, base_hyperparameters, strict=True)
        check_include(include)
        check_tensor_rates({"lr": lr, "other_lr": other_lr})
        module = params if isinstance(params, torch.nn.Module) else None
        if layers is not None:
            params = split_by_layers(params, layers, include)
        elif module is not None:
            params = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        self._kinds = None if module is None or layers is not None else roles.module_kinds(module)
        self._log_layers, self._warned_shapes = log_layers, False
        lr = defaults.default_rate(base) if lr is None else lr
        options = {"lr": lr, "base": base, "alpha": alpha, "variant": variant, "other_lr": other_lr}
        options |= {"weight_decay": weight_decay, "include": tuple(include)}
        options |= {"freeze_others": freeze_others, "maximize": maximize, "foreach": foreach, "fused": fused}
        options["layca"] = None
        self._reset_caches()
        super().__init__(params, {**options, **torch_defaults(base), **base_hyperparameters})

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self.__dict__.setdefault("_kinds", None)
        self.__dict__.setdefault("_log_layers", False)
        self.__dict__.setdefault("_warned_shapes", False)
        self._reset_caches()

    def _reset_caches(self) -> None:
        self._groups_layout: tuple = ()
        self._norms_layout: tuple = ()
        self._multipliers: dict[torch.Tensor, float] = {}
        self._layer_names: list[str] = []  # per layer (in the multipliers' order), its name in messages
        self._scalars: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}
        self._scratch: dict[torch.Tensor, torch.Tensor] = {}  # per layer, the tensor its step is written into
        self._written = WrittenLayers()  # the layers' versions after the last step: all are checked at the next

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """torch's ``add_param_group``; a group with another ``base`` takes that base's hyperparameters from
        the constructor's where both bases have them (``momentum``, ``eps``), else the base's defaults. Keys
        naming a hyperparameter of torch's optimizers that Layca does not use (``amsgrad``, ``dampening``...) are
        refused, the message naming the group by its index."""
        base = param_group.get("base", self.defaults["base"])
        try:
            check_names(base, param_group, strict=False)
        except TypeError as error:
            raise TypeError(f"Param group {len(self.param_groups)}: {error}") from None
        own = torch_defaults(base)
        super().add_param_group({**{k: self.defaults.get(k, v) for k, v in own.items()}, **param_group})
        group = self.param_groups[-1]
        if "is_layer" not in param_group:
            names = group.get("param_names") or [None] * len(group["params"])
            kinds, include = self._kinds, group["include"]
            group["is_layer"] = [roles.role(n, p, kinds, include).is_layer for n, p in zip(names, group["params"])]
        for stale in set(torch_defaults(self.defaults["base"])) - set(own) - set(param_group):
            del group[stale]
        try:
            check_group(group)
        except Exception:
            self.param_groups.pop()
            raise
        if (
            "is_layer" not in param_group
            and not self._warned_shapes
            and roles.judged_by_shape_alone(group, self._kinds)
        ):
            warnings.warn(roles.BY_SHAPE_ALONE, UserWarning, stacklevel=4)  # at Layca(...)
            self._warned_shapes = True
        self._reset_caches()

    def reset_layer_norms(self) -> None:
        """Forget every layer's reference norm: each is read again at the layer's next step.

        Call it after loading other weights into the model mid-run (a new pretrained model), so that Layca
        keeps their norms instead of the ones read at the first step. The base states are kept.
        """
        for state in self.state.values():
            state.pop(param_state.INIT_NORM, None)
        self._reset_caches()

    def layer_multipliers(self) -> dict[torch.Tensor, float]:
        """Each Layca layer's rate multiplier (Equation 1 at its group's alpha), in layer order.

        Rebuilt when a group's ``alpha`` or ``layca`` changes; a parameter that becomes a layer then
        takes its norm at its next step as its sphere's radius.
        """
        layout = self._layout()
        if layout != self._groups_layout:
            layers = [(g["alpha"], p) for g in self.param_groups for p, f in zip(g["params"], layer_flags(g)) if f]
            plans = {
                a: engine.LayerPlan.from_flags([True] * len(layers), a).multipliers for a in {a for a, _ in layers}
            }
            self._groups_layout, self._scalars = layout, {}
            self._multipliers = {p: plans[a][i] for i, (a, p) in enumerate(layers)}
            groups = enumerate(self.param_groups)
            self._layer_names = [describe(g, i, k) for k, g in groups for i, f in enumerate(layer_flags(g)) if f]
            self._written = WrittenLayers()
        return self._multipliers

    def _layout(self) -> tuple:
        return tuple((g["alpha"], g["layca"], tuple(g["is_layer"]), len(g["params"])) for g in self.param_groups)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """torch's ``load_state_dict``, after checking, before anything is loaded (and after the load pre-hooks),
        that the checkpoint fits these param groups and bases. Keys missing from an older checkpoint's groups keep
        this optimizer's values; a ``step`` saved as a Python number becomes a tensor. A layer without a saved norm
        reads its own at its next step."""
        with checkpoint.checked_load(self, self._reset_caches):
            super().load_state_dict(state_dict)

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One Layca step; ``closure`` re-evaluates the loss, as in every torch optimizer."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            check_step(group)
        watched = [] if torch.compiler.is_compiling() else list(self.layer_multipliers())
        self._written.refuse_zeroed(watched, param_state.has_norm(self.state), self._layer_names.__getitem__, EXCLUDE)
        for group in self.param_groups:
            self._init_group(group)
        if self._log_layers:
            roles.log_roles(self.param_groups, self._kinds)
            self._log_layers = False
        for group in self.param_groups:
            for params, layers in group_step.stepped(group):
                group_step.step_params(self, group, params, layers)
        self._written.record(watched)
        return loss

    def _init_group(self, group: dict[str, Any]) -> None:
        """What a step reads and a first step makes: the layers' norms, the multipliers, the base states of the
        parameters it steps, all made by the first group's call. ``torch.compile`` runs a method of this name eagerly
        while it traces a ``torch.optim.Optimizer``'s step, then reads the state: made whole by the first call, it is
        what the next steps see, and they do not compile again (a state a later group's call made would be made again
        by the traced step, and the next step would compile again)."""
        if group is not self.param_groups[0]:
            return
        if self._layout() != self._norms_layout:
            store_new_norms(self.state, self.param_groups)
            self._norms_layout = self._layout()
        self.layer_multipliers()
        for each in self.param_groups:
            for params, _ in group_step.stepped(each):
                param_state.base_states(self.state, base_of(each), params)
