"""The multi-tensor fast path of ``layca_torch.Layca`` (SGD, momentum and Nesterov bases).

The same arithmetic as ``layca_core.layca_step``, rearranged for few kernels: the per-layer
scalars ``<w, w>``, ``<s, s>`` and ``<s, w>`` are gathered into one vector on the device, and
the update is ``w_new = a_l w + b_l s`` with

    c = <s, w> / <w, w>,  |s_perp|^2 = <s, s> - c <s, w>,  g = rate * |w| / |s_perp|,
    k = r0 / (|w| sqrt(1 + rate^2)),  a_l = k (1 + g c),  b_l = -k g

(a layer that must not move gets ``a = 1, b = 0``). No host synchronisation. A parity test
compares it with the core path.
"""

from typing import Any

import array_api_compat.torch as torch_namespace
import torch

from layca_core import MomentumState
from layca_core._namespace import parallel_tolerance

FOREACH_BASES = ("sgd", "momentum", "nesterov")


def _base_steps(grads: list[torch.Tensor], states: list[Any], base: str, momentum: float) -> tuple[list, list]:
    if base == "sgd":
        return grads, states
    buffers = [state.momentum for state in states]
    torch._foreach_mul_(buffers, momentum)
    torch._foreach_add_(buffers, grads)
    steps = torch._foreach_add(grads, buffers, alpha=momentum) if base == "nesterov" else buffers
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
    grads = [torch.nan_to_num(g, nan=0.0, posinf=0.0, neginf=0.0) for g in grads]
    steps, new_states = _base_steps(grads, states, base, momentum)
    acc = init_norms.dtype
    ww = torch.stack(torch._foreach_norm(params, 2, dtype=acc)) ** 2
    ss = torch.stack(torch._foreach_norm(steps, 2, dtype=acc)) ** 2
    sw = torch.stack([torch.dot(s.reshape(-1), w.reshape(-1)) for s, w in zip(steps, params)]).to(acc)
    rates = rate * multipliers
    tolerance = max(parallel_tolerance(p.dtype, torch_namespace) for p in params)
    safe_ww = torch.where(ww > 0, ww, 1)
    coefficient = sw / safe_ww
    perp = ss - coefficient * sw
    moves = (perp > tolerance**2 * ss) & (ww > 0)
    gain = torch.where(moves, rates * torch.sqrt(safe_ww / torch.where(moves, perp, 1)), 0)
    k = torch.where(moves, init_norms / (torch.sqrt(safe_ww) * torch.sqrt(1 + rates * rates)), 1)
    weight_scale, step_scale = k * (1 + gain * coefficient), -k * gain
    torch._foreach_mul_(params, [x.to(p.dtype) for x, p in zip(weight_scale.unbind(), params)])
    torch._foreach_add_(params, torch._foreach_mul(steps, [x.to(p.dtype) for x, p in zip(step_scale.unbind(), params)]))
    return new_states
