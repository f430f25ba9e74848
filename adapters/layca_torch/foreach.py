"""The multi-tensor fast path of ``layca_torch.Layca``: every base, float64 to bfloat16 layers.

The same arithmetic as ``layca_core`` (its base directions, then ``layca_step``), as a few
multi-tensor kernels: the per-layer scalars live in one vector on the device, and

    s_perp = s - (<s, w> / <w, w>) w,   g = rate |w| / |s_perp|,   k = r0 / (|w| sqrt(1 + rate^2)),
    w_new = k w - k g s_perp

(a layer that must not move gets ``k = 1, g = 0``). ``s_perp`` is formed explicitly, as in the
core: ``|s|^2 - <s, w>^2 / |w|^2`` would cancel catastrophically for a step nearly parallel to
``w``. The base step is written into a sanitized copy of the gradient, which then becomes
``s_perp``: on the CPU, fresh pages cost as much as a pass. 16-bit layers are turned in float32
copies and rounded once, as in the core. No host synchronisation. A parity test and the
conformance suite compare it with the core path.
"""

from typing import Any

import array_api_compat.torch as torch_namespace
import torch

from layca_core import defaults
from layca_core._namespace import is_low_precision, parallel_tolerance

FOREACH_BASES = ("sgd", "momentum", "nesterov", "amom", "adam", "rmsprop", "adagrad")


def _divide_by_root(steps: list[torch.Tensor], accumulators: list[torch.Tensor], eps: float, scale: Any = None) -> None:
    """``steps /= sqrt(accumulators [/ scale]) + eps``, in place."""
    denominators = torch._foreach_sqrt(accumulators if scale is None else torch._foreach_div(accumulators, scale))
    torch._foreach_add_(denominators, eps)
    torch._foreach_div_(steps, denominators)


def _base_steps(
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


def layca_foreach(
    params: list[torch.Tensor],
    grads: list[torch.Tensor],
    states: list[Any],
    rate: float | torch.Tensor,
    multipliers: torch.Tensor,
    init_norms: torch.Tensor,
    *,
    base: str,
    hyperparameters: dict[str, float],
) -> None:
    """Update ``params`` and their base ``states`` in place.

    ``multipliers`` and ``init_norms`` are 1-D tensors on the parameters' device, in the
    accumulation dtype (float64 if any layer is float64, else float32).
    """
    steps = _base_steps(grads, states, base, hyperparameters)
    acc = init_norms.dtype
    low = [is_low_precision(p.dtype, torch_namespace) for p in params]
    weights = [p.to(acc) if lo else p for p, lo in zip(params, low)]
    steps = [s.to(acc) if lo else s for s, lo in zip(steps, low)]
    ww = torch.stack(torch._foreach_norm(weights, 2, dtype=acc)) ** 2
    sw = torch.stack([torch.dot(s.reshape(-1), w.reshape(-1)) for s, w in zip(steps, weights)]).to(acc)
    safe_ww = torch.where(ww > 0, ww, 1)
    torch._foreach_addcmul_(steps, weights, _per_layer(-sw / safe_ww, weights))  # steps now hold s_perp
    perp = torch.stack(torch._foreach_norm(steps, 2, dtype=acc)) ** 2
    ss = perp + sw * sw / safe_ww  # |s|^2 to working precision: only the parallel test below reads it
    tolerance = max(parallel_tolerance(p.dtype, torch_namespace) for p in params)
    moves = (perp > tolerance**2 * ss) & (ww > 0)
    rates = rate * multipliers
    k = torch.where(moves, init_norms / (torch.sqrt(safe_ww) * torch.sqrt(1 + rates * rates)), 1)
    gain = torch.where(moves, rates * torch.sqrt(safe_ww / torch.where(moves, perp, 1)), 0)
    torch._foreach_mul_(weights, _per_layer(k, weights))
    torch._foreach_addcmul_(weights, steps, _per_layer(-k * gain, weights))
    rounded = [(p, w) for p, w, lo in zip(params, weights, low) if lo]
    if rounded:
        torch._foreach_copy_([p for p, _ in rounded], [w for _, w in rounded])


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
    steps = _base_steps(grads, states, base, hyperparameters, sanitize=False)
    torch._foreach_mul_(steps, rate)
    torch._foreach_sub_(params, steps)


def _per_layer(values: torch.Tensor, like: list[torch.Tensor]) -> list[torch.Tensor]:
    """A vector of per-layer scalars as 0-d tensors in each tensor's dtype (no host sync)."""
    return [v.to(t.dtype) for v, t in zip(values.unbind(), like)]
