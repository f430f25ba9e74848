"""Rotation rates: the layer-wise multipliers of Equation 1, step decay, warmup, angles.

A rate is the tangent of the angle a layer turns by in one step: ``angle = arctan(rate)``.
The rate of layer ``l`` at step ``t`` is ``rate(t) * multiplier_l(alpha)``.

Example:
    >>> [round(m, 4) for m in alpha_multipliers(3, alpha=0.5)]  # last layers rotate faster
    [0.0312, 0.1768, 1.0]
    >>> schedule = paper_schedule("C10-CNN1")
    >>> [schedule(epoch) for epoch in (0, 80, 90)]
    [1.0, 0.2, 0.04000000000000001]
"""

import math
from dataclasses import dataclass
from typing import Any

from layca_core._namespace import array_namespace
from layca_core.validation import check_alpha


def alpha_multipliers(num_layers: int, alpha: Any) -> tuple[Any, ...]:
    """Equation 1: alpha < 0 favours the first layers, alpha > 0 the last, 0 none.

    ``(1 + alpha) ** (5 l / (L - 1))`` for alpha <= 0 and ``(1 - alpha) ** (5 (L - 1 - l) / (L - 1))``
    for alpha > 0, with layers ``l = 0 .. L - 1`` in forward order. A single layer gets 1. ``alpha``
    may be a 0-d array (traced in ``jax.jit``): the multipliers are then 0-d arrays.
    """
    check_alpha(alpha)
    if num_layers < 1:
        raise ValueError(f"num_layers must be at least 1; got {num_layers}.")
    xp = None if isinstance(alpha, (int, float)) else array_namespace(alpha)
    if num_layers == 1:
        return (1.0,) if xp is None else (xp.ones_like(alpha),)
    last = num_layers - 1
    select = (
        (lambda first, faster_first, faster_last: faster_first if first else faster_last) if xp is None else xp.where
    )
    return tuple(
        select(alpha <= 0, (1 + alpha) ** (5 * layer / last), (1 - alpha) ** (5 * (last - layer) / last))
        for layer in range(num_layers)
    )


def rate_to_angle(rate: Any) -> Any:
    """The angle (radians) a layer turns by in one step at this rate."""
    return math.atan(rate) if isinstance(rate, (int, float)) else array_namespace(rate).atan(rate)


def angle_to_rate(angle: float) -> float:
    """The rate that turns a layer by ``angle`` radians per step (``tan``)."""
    if not 0 <= angle < math.pi / 2:
        raise ValueError(f"angle must lie in [0, pi/2) radians; got {angle!r}.")
    return math.tan(angle)


@dataclass(frozen=True)
class StepDecay:
    """A multiplier on rho(0): ``factor`` at each milestone epoch reached, after a linear warmup.

    ``epoch`` counts from 0 and may be fractional (``step / steps_per_epoch``) or a 0-d array
    (traced in jit). Warmup goes linearly from 1/10 to 1 over ``warmup_epochs``, per batch.
    """

    epochs: int
    milestones: tuple[int, ...] = ()
    factor: float = 1.0
    warmup_epochs: float = 0.0

    def __post_init__(self) -> None:
        if not 0 < self.factor <= 1 or list(self.milestones) != sorted(self.milestones):
            raise ValueError(f"Need 0 < factor <= 1 and increasing milestones; got {self.factor}, {self.milestones}.")

    def __call__(self, epoch: Any) -> Any:
        reached = [epoch >= milestone for milestone in self.milestones]
        progress = epoch / self.warmup_epochs if self.warmup_epochs > 0 else 1.0
        if isinstance(epoch, (int, float)):
            multiplier, warm = self.factor ** sum(reached), min(progress, 1.0)
        else:
            xp = array_namespace(epoch)
            multiplier = self.factor ** sum(xp.astype(r, epoch.dtype) for r in reached)
            warm = xp.clip(progress, max=1.0) if self.warmup_epochs > 0 else 1.0
        return multiplier if self.warmup_epochs <= 0 else multiplier * (0.1 + 0.9 * warm)


PAPER_SCHEDULES: dict[str, StepDecay] = {
    "C10-CNN1": StepDecay(100, (80, 90, 97), 0.2),
    "C100-resnet": StepDecay(100, (70, 90, 97), 0.1),
    "tiny-CNN": StepDecay(80, (70,), 0.2),
    "C10-CNN2": StepDecay(250, (100, 170, 220), 0.2),
    "C100-WRN": StepDecay(250, (100, 170, 220), 0.2),
}


def paper_schedule(task: str) -> StepDecay:
    """The step decay the paper used on ``task`` (one of ``PAPER_SCHEDULES``)."""
    if task not in PAPER_SCHEDULES:
        raise ValueError(f"Unknown task {task!r}; the paper's tasks are {', '.join(PAPER_SCHEDULES)}.")
    return PAPER_SCHEDULES[task]
