"""Which parameters are Layca layers, with their Equation 1 multipliers: built here only."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from layca_core.rates import alpha_multipliers


@dataclass(frozen=True)
class LayerPlan:
    """Per parameter, in order: its rate multiplier (a float, or a 0-d array for an array alpha) if it
    is a Layca layer, else ``None``.

    A parameter that stacks several layers along axis 0 has a tuple, one multiplier per layer.
    """

    multipliers: tuple[Any, ...]

    @classmethod
    def from_flags(
        cls,
        is_layer: Sequence[bool],
        alpha: Any,
        *,
        stack: Sequence[int] | None = None,
        order: Sequence[int] | None = None,
    ) -> "LayerPlan":
        """Spread Equation 1's multipliers over the flagged parameters.

        Args:
            is_layer: per parameter, whether it is a Layca layer.
            alpha: Equation 1's exponent: a number, or a 0-d array (the multipliers are then 0-d arrays).
            stack: per parameter, how many layers it stacks along axis 0 (0: not stacked).
            order: the layer parameters' indices in forward order (default: as given).
        """
        stack = list(stack or [0] * len(is_layer))
        forward = [i for i, flag in enumerate(is_layer) if flag] if order is None else list(order)
        if sorted(forward) != [i for i, flag in enumerate(is_layer) if flag]:
            raise ValueError("The layer order must list every layer exactly once.")
        counts = [max(stack[i], 1) for i in forward]
        flat = iter(alpha_multipliers(max(sum(counts), 1), alpha))
        chosen = {i: tuple(next(flat) for _ in range(count)) for i, count in zip(forward, counts)}
        return cls(
            tuple(None if i not in chosen else (chosen[i] if stack[i] else chosen[i][0]) for i in range(len(is_layer)))
        )

    @property
    def is_layer(self) -> tuple[bool, ...]:
        return tuple(m is not None for m in self.multipliers)
