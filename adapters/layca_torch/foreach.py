"""The multi-tensor fast path of ``layca_torch.Layca`` (SGD, momentum and Nesterov bases).

The same arithmetic as ``layca_core.layca_step``, as a few multi-tensor kernels: the per-layer
scalars live in one vector on the device, and

    s_perp = s - (<s, w> / <w, w>) w,   g = rate |w| / |s_perp|,   k = r0 / (|w| sqrt(1 + rate^2)),
    w_new = k w - k g s_perp

(a layer that must not move gets ``k = 1, g = 0``). ``s_perp`` is formed explicitly, as in the
core: ``|s|^2 - <s, w>^2 / |w|^2`` would cancel catastrophically for a step nearly parallel to
``w``. One allocation per layer (the sanitized gradient, which becomes ``s`` then ``s_perp``):
on the CPU, fresh pages cost as much as a pass. No host synchronisation. A parity test and
the conformance suite compare it with the core path.
"""

from typing import Any

import array_api_compat.torch as torch_namespace
import torch

from layca_core import MomentumState
from layca_core._namespace import parallel_tolerance

FOREACH_BASES = ("sgd", "momentum", "nesterov")


def _base_steps(grads: list[torch.Tensor], states: list[Any], base: str, momentum: float) -> tuple[list, list]:
    """The base step, written into sanitized copies of the gradients: the step's only allocation."""
    steps = [torch.nan_to_num(g, nan=0.0, posinf=0.0, neginf=0.0) for g in grads]
    if base == "sgd":
        return steps, states
    buffers = [state.momentum for state in states]
    torch._foreach_mul_(buffers, momentum)
    torch._foreach_add_(buffers, steps)
    if base == "nesterov":
        torch._foreach_add_(steps, buffers, alpha=momentum)
    else:
        torch._foreach_copy_(steps, buffers)
    return steps, [MomentumState(b) for b in buffers]


def layca_foreach(
    params: list[torch.Tensor],
    grads: list[torch.Tensor],
    states: list[Any],
    rate: float | torch.Tensor,
    multipliers: torch.Tensor,
    init_norms: torch.Tensor,
    *,
    base: str,
    momentum: float,
) -> list[Any]:
    """Update ``params`` in place; return the new base states.

    ``multipliers`` and ``init_norms`` are 1-D tensors on the parameters' device, in the
    accumulation dtype (float64 if any layer is float64, else float32).
    """
    steps, new_states = _base_steps(grads, states, base, momentum)
    acc = init_norms.dtype
    ww = torch.stack(torch._foreach_norm(params, 2, dtype=acc)) ** 2
    ss = torch.stack(torch._foreach_norm(steps, 2, dtype=acc)) ** 2
    sw = torch.stack([torch.dot(s.reshape(-1), w.reshape(-1)) for s, w in zip(steps, params)]).to(acc)
    safe_ww = torch.where(ww > 0, ww, 1)
    torch._foreach_addcmul_(steps, params, _per_layer(-sw / safe_ww, params))  # steps now hold s_perp
    perp = torch.stack(torch._foreach_norm(steps, 2, dtype=acc)) ** 2
    tolerance = max(parallel_tolerance(p.dtype, torch_namespace) for p in params)
    moves = (perp > tolerance**2 * ss) & (ww > 0)
    rates = rate * multipliers
    k = torch.where(moves, init_norms / (torch.sqrt(safe_ww) * torch.sqrt(1 + rates * rates)), 1)
    gain = torch.where(moves, rates * torch.sqrt(safe_ww / torch.where(moves, perp, 1)), 0)
    torch._foreach_mul_(params, _per_layer(k, params))
    torch._foreach_addcmul_(params, steps, _per_layer(-k * gain, params))
    return new_states


def _per_layer(values: torch.Tensor, params: list[torch.Tensor]) -> list[torch.Tensor]:
    """A vector of per-layer scalars as 0-d tensors in each parameter's dtype (no host sync)."""
    return [v.to(p.dtype) for v, p in zip(values.unbind(), params)]
