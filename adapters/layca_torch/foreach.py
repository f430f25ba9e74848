"""The base directions of ``layca_core.directions`` as multi-tensor kernels, for ``layca_torch.Layca``.

The same arithmetic as the core's pure functions, with the state updated in place. The Layca
turn itself is the core's (``layca_core.engine.turn_layers`` with its torch executor). A parity
test and the conformance suite compare this path with the core's per-tensor one.
"""

from typing import Any

import torch

from layca_core import defaults

FOREACH_BASES = ("sgd", "momentum", "nesterov", "amom", "adam", "rmsprop", "adagrad")


def _divide_by_root(steps: list[torch.Tensor], accumulators: list[torch.Tensor], eps: float, scale: Any = None) -> None:
    """``steps /= sqrt(accumulators [/ scale]) + eps``, in place."""
    denominators = torch._foreach_sqrt(accumulators if scale is None else torch._foreach_div(accumulators, scale))
    torch._foreach_add_(denominators, eps)
    torch._foreach_div_(steps, denominators)


def base_steps(
    grads: list[torch.Tensor], states: list[Any], base: str, h: dict[str, float], sanitize: bool = True
) -> list[torch.Tensor]:
    """The base step (``layca_core.directions``), written into copies of the gradients (non-finite entries zeroed if ``sanitize``).

    States are updated in place (their tensors are the optimizer's state).
    """
    steps = [torch.nan_to_num(g, nan=0.0, posinf=0.0, neginf=0.0) if sanitize else g.clone() for g in grads]
    if base in ("momentum", "nesterov"):
        mu, buffers = h.get("momentum", defaults.MOMENTUM), [s.momentum for s in states]
        if base == "nesterov":
            torch._foreach_mul_(buffers, mu)
            torch._foreach_add_(buffers, steps)
            torch._foreach_add_(steps, buffers, alpha=mu)
        else:
            torch._foreach_add_(steps, buffers, alpha=mu)  # g + mu b: the new buffer, formed in the step's storage
            torch._foreach_copy_(buffers, steps)
    elif base == "amom":
        beta, buffers = h.get("beta", defaults.AMOM_BETA), [s.momentum for s in states]
        torch._foreach_mul_(buffers, beta)
        torch._foreach_add_(buffers, steps, alpha=1 - beta)
        torch._foreach_copy_(steps, buffers)
    elif base == "adam":
        b1, b2 = h.get("b1", defaults.ADAM_BETA1), h.get("b2", defaults.ADAM_BETA2)
        counts = [s.count for s in states]
        torch._foreach_add_(counts, 1)
        count = torch.stack(counts)
        first, second = [s.mu for s in states], [s.nu for s in states]
        torch._foreach_mul_(first, b1)
        torch._foreach_add_(first, steps, alpha=1 - b1)
        torch._foreach_mul_(second, b2)
        torch._foreach_addcmul_(second, steps, steps, value=1 - b2)
        torch._foreach_copy_(steps, first)
        torch._foreach_div_(steps, _per_layer(1 - b1**count, steps))
        _divide_by_root(steps, second, h.get("eps", defaults.EPS), _per_layer(1 - b2**count, steps))
    elif base in ("rmsprop", "adagrad"):
        accumulators = [s.accumulator for s in states]
        if base == "rmsprop":
            rho = h.get("rho", defaults.RMSPROP_RHO)
            torch._foreach_mul_(accumulators, rho)
            torch._foreach_addcmul_(accumulators, steps, steps, value=1 - rho)
        else:
            torch._foreach_addcmul_(accumulators, steps, steps)
        _divide_by_root(steps, accumulators, h.get("eps", defaults.EPS))
    return steps


def other_foreach(
    params: list[torch.Tensor],
    grads: list[torch.Tensor],
    states: list[Any],
    rate: float | torch.Tensor,
    *,
    base: str,
    hyperparameters: dict[str, float],
) -> None:
    """Parameters that are not layers: ``w -= rate * s`` with the base step ``s``, in place, as the core does.

    Their gradients are not sanitized, as in ``torch.optim``.
    """
    steps = base_steps(grads, states, base, hyperparameters, sanitize=False)
    torch._foreach_mul_(steps, rate)
    torch._foreach_sub_(params, steps)


def _per_layer(values: torch.Tensor, like: list[torch.Tensor]) -> list[torch.Tensor]:
    """A vector of per-layer scalars as 0-d tensors in each tensor's dtype (no host sync)."""
    return [v.to(t.dtype) for v, t in zip(values.unbind(), like)]
