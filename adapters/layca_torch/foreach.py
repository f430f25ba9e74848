"""The base directions of ``layca_core.directions`` as multi-tensor kernels, for ``layca_torch.Layca``.

The same arithmetic as the core's pure functions, with the state updated in place. The Layca
turn itself is the core's (``layca_core.engine.turn_layers`` with its torch executor). A parity
test and the conformance suite compare this path with the core's per-tensor one.
"""

from typing import Any

import torch

from layca_core import defaults

FOREACH_BASES = ("sgd", "momentum", "nesterov", "amom", "adam", "rmsprop", "adagrad")


def _over_root(
    numerators: list[torch.Tensor], accumulators: list[torch.Tensor], eps: float, scale: Any = None
) -> list[torch.Tensor]:
    """``numerators / (sqrt(accumulators [/ scale]) + eps)`` as new tensors: one allocation, the quotient
    written into the denominators (a fresh allocation per step is what costs most on the CPU)."""
    if scale is None:
        quotients = torch._foreach_sqrt(accumulators)
    else:
        quotients = torch._foreach_div(accumulators, scale)
        torch._foreach_sqrt_(quotients)
    torch._foreach_add_(quotients, eps)
    for n, q in zip(numerators, quotients):
        torch.div(n, q, out=q)
    return quotients


def finite_grads(grads: list[torch.Tensor]) -> list[torch.Tensor]:
    """The gradients with non-finite entries zeroed: copies of the tensors that hold one, the others themselves.

    On the CPU (outside ``torch.compile``) one multi-tensor norm finds those tensors (a non-finite
    entry makes the norm non-finite; so may an overflow, which only costs a copy); elsewhere, where
    reading it on the host would wait for the device, every gradient is copied.
    """
    if not grads:
        return grads
    if grads[0].device.type != "cpu" or torch.compiler.is_compiling():
        return [torch.nan_to_num(g, nan=0.0, posinf=0.0, neginf=0.0) for g in grads]
    finite = torch.isfinite(torch.stack(torch._foreach_norm(grads))).tolist()
    return [g if ok else torch.nan_to_num(g, nan=0.0, posinf=0.0, neginf=0.0) for g, ok in zip(grads, finite)]


def base_steps(
    grads: list[torch.Tensor],
    states: list[Any],
    base: str,
    h: dict[str, float],
    sanitize: bool = True,
    owned: bool = True,
) -> list[torch.Tensor]:
    """The base step (``layca_core.directions``) as new tensors, from the gradients (non-finite entries zeroed if
    ``sanitize``), which are never written.

    States are updated in place (their tensors are the optimizer's state). ``owned=False``: the caller
    only reads the steps, so a step that equals a state tensor (momentum's buffer) or a gradient is that
    tensor itself, not a copy.
    """
    grads = finite_grads(grads) if sanitize else grads
    if base in ("momentum", "nesterov"):
        mu, buffers = h.get("momentum", defaults.MOMENTUM), [s.momentum for s in states]
        if base == "momentum" and not owned:
            torch._foreach_mul_(buffers, mu)
            torch._foreach_add_(buffers, grads)
            return buffers
        if base == "nesterov":
            torch._foreach_mul_(buffers, mu)
            torch._foreach_add_(buffers, grads)
            return torch._foreach_add(grads, buffers, alpha=mu)
        steps = torch._foreach_add(grads, buffers, alpha=mu)  # g + mu b: the new buffer, formed as the step
        torch._foreach_copy_(buffers, steps)
        return steps
    if base == "amom":
        beta, buffers = h.get("beta", defaults.AMOM_BETA), [s.momentum for s in states]
        torch._foreach_mul_(buffers, beta)
        torch._foreach_add_(buffers, grads, alpha=1 - beta)
        return torch._foreach_mul(buffers, 1.0) if owned else buffers
    if base == "adam":
        b1, b2 = h.get("b1", defaults.ADAM_BETA1), h.get("b2", defaults.ADAM_BETA2)
        counts = [s.count for s in states]
        torch._foreach_add_(counts, 1)
        count = torch.stack(counts)
        first, second = [s.mu for s in states], [s.nu for s in states]
        torch._foreach_mul_(first, b1)
        torch._foreach_add_(first, grads, alpha=1 - b1)
        torch._foreach_mul_(second, b2)
        torch._foreach_addcmul_(second, grads, grads, value=1 - b2)
        steps = _over_root(first, second, h.get("eps", defaults.EPS), _per_layer(1 - b2**count, first))
        torch._foreach_div_(steps, _per_layer(1 - b1**count, first))  # m_hat / d as (m / d) / (1 - b1^t)
        return steps
    if base in ("rmsprop", "adagrad"):
        accumulators = [s.accumulator for s in states]
        if base == "rmsprop":
            rho = h.get("rho", defaults.RMSPROP_RHO)
            torch._foreach_mul_(accumulators, rho)
            torch._foreach_addcmul_(accumulators, grads, grads, value=1 - rho)
        else:
            torch._foreach_addcmul_(accumulators, grads, grads)
        return _over_root(grads, accumulators, h.get("eps", defaults.EPS))
    return torch._foreach_mul(grads, 1.0) if owned else grads


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
