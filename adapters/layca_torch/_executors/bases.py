"""The primitives of ``layca_core.primitives`` as multi-tensor kernels, and the base steps built on them.

Each primitive is one or two ``torch._foreach_*`` calls and writes the states it is given in place
(the optimizer's state tensors). ``add(alpha=)`` and ``addcmul`` round once where the array-API
form rounds after each operation: the two forms agree to a few ulps (``tests/layca_torch/test_bases.py``).
"""

from typing import Any

import torch

from layca_core.directions import BaseDirection, scale_free_steps
from layca_core.primitives import ARRAY
from layca_torch._executors.tensors import blockwise, finite_copy, per_layer

Scratch = tuple[dict[Any, Any], list[Any]]
"""A dictionary the caller keeps between steps and one key per tensor (its parameter): where ``over_root`` writes."""


class TorchPrimitives:
    """``layca_core.primitives.Primitives`` over lists of torch tensors; states are written in place.

    With ``scratch``, ``over_root``'s quotients are written into tensors kept there between steps: no fresh
    parameter-sized tensor per step (on the CPU, once freed, the C allocator may hand such memory back to the
    system, and every step then faults in its pages again).
    """

    def __init__(self, scratch: Scratch | None = None) -> None:
        self.scratch = scratch

    def blend(self, states: list[Any], a: Any, xs: list[Any], b: Any) -> list[Any]:
        def apply(_: int, state: Any, x: Any) -> None:
            if a != 1:
                state.mul_(a)
            state.add_(x, alpha=b)

        states_, xs_ = _picked(blockwise(apply, states, xs), states, xs)
        if a != 1 and states_:
            torch._foreach_mul_(states_, a)
        if states_:
            torch._foreach_add_(states_, xs_, alpha=b)
        return states

    def blend_squares(self, states: list[Any], a: Any, xs: list[Any], b: Any) -> list[Any]:
        def apply(_: int, state: Any, x: Any) -> None:
            if a != 1:
                state.mul_(a)
            state.addcmul_(x, x, value=b)

        states_, xs_ = _picked(blockwise(apply, states, xs), states, xs)
        if a != 1 and states_:
            torch._foreach_mul_(states_, a)
        if states_:
            torch._foreach_addcmul_(states_, xs_, xs_, value=b)
        return states

    def added(self, xs: list[Any], ys: list[Any], b: Any) -> list[Any]:
        return torch._foreach_add(xs, ys, alpha=b)

    def over_root(self, xs: list[Any], states: list[Any], eps: Any, scales: list[Any] | None = None) -> list[Any]:
        """One allocation: the quotient is written into the denominators (a fresh tensor per step is what costs
        most on the CPU)."""
        if self.scratch is None:
            quotients = torch._foreach_sqrt(states) if scales is None else torch._foreach_div(states, scales)
            return _divided_by_root(xs, quotients, eps, rooted=scales is None)

        def apply(i: int, x: Any, s: Any, q: Any) -> None:
            if scales is None:
                torch.sqrt(s, out=q)
            else:
                torch.div(s, scales[i], out=q).sqrt_()
            torch.div(x, q.add_(eps), out=q)

        quotients = self._kept(states)
        rest = blockwise(apply, xs, states, quotients)
        if rest:
            xs_, states_, quotients_ = _picked(rest, xs, states, quotients)
            for i, s, q in zip(rest, states_, quotients_):
                if scales is None:
                    torch.sqrt(s, out=q)
                else:
                    torch.div(s, scales[i], out=q)
            _divided_by_root(xs_, quotients_, eps, rooted=scales is None)
        return quotients

    def _kept(self, likes: list[Any]) -> list[Any]:
        """Per tensor, its scratch tensor (made like it, or made again when it no longer matches)."""
        kept, keys = self.scratch or ({}, [])
        out = []
        for key, like in zip(keys, likes):
            q = kept.get(key)
            if q is None or q.shape != like.shape or q.dtype != like.dtype or q.device != like.device:
                q = kept[key] = torch.empty_like(like, memory_format=torch.contiguous_format)
            out.append(q)
        return out

    def divided(self, xs: list[Any], scales: list[Any]) -> list[Any]:
        torch._foreach_div_(xs, scales)
        return xs

    def counted(self, counts: list[Any]) -> list[Any]:
        torch._foreach_add_(counts, 1)
        return counts

    def bias_corrections(self, counts: list[Any], beta: Any, like: list[Any]) -> list[Any]:
        return per_layer(1 - beta ** torch.stack(counts), like)

    def finite(self, xs: list[Any]) -> list[Any]:
        """Copies of the tensors that hold a non-finite entry, the others themselves.

        On the CPU (outside ``torch.compile``) one multi-tensor norm finds those tensors (a non-finite
        entry makes the norm non-finite; so may an overflow, which only costs a copy); elsewhere, where
        reading it on the host would wait for the device, every tensor is copied.
        """
        if not xs:
            return xs
        if xs[0].device.type != "cpu" or torch.compiler.is_compiling():
            return [finite_copy(x) for x in xs]
        finite = torch.isfinite(torch.stack(torch._foreach_norm(xs))).tolist()
        return [x if ok else finite_copy(x) for x, ok in zip(xs, finite)]

    def descended(self, params: list[Any], steps: list[Any], rate: Any) -> list[Any]:
        """In place: the parameters, and the steps (scaled by ``rate``)."""
        torch._foreach_mul_(steps, rate)
        torch._foreach_sub_(params, steps)
        return params

    def orthogonalized(self, xs: list[Any], out_axis: int) -> list[Any]:
        """Per tensor, by the array-API form (matrix products; torch has no multi-tensor matmul)."""
        return ARRAY.orthogonalized(xs, out_axis)


TORCH = TorchPrimitives()


def _picked(indices: list[int], *lists: list[Any]) -> list[list[Any]]:
    """Each list's entries at ``indices``."""
    return [[items[i] for i in indices] for items in lists]


def base_steps(
    base: BaseDirection,
    grads: list[Any],
    states: list[Any],
    *,
    guard: bool,
    owned: bool,
    scale_free: bool = False,
    scratch: Scratch | None = None,
) -> list[Any]:
    """``base``'s steps as new tensors or, unless ``owned``, possibly a state tensor or a gradient itself.

    Args:
        base: the base direction, its hyperparameters bound.
        grads: the gradients, never written.
        states: their base states, updated in place.
        guard: zero the gradients' non-finite entries first (Layca layers; not the other parameters, as in
            ``torch.optim``).
        owned: the caller writes the steps: a step that is a state tensor (momentum's buffer) or a gradient
            is copied.
        scale_free: each tensor's step may come up to a positive factor (``scale_free_steps``: Layca's layers).
        scratch: where a fresh step is written (``TorchPrimitives``); its tensors are the caller's to write.
    """
    grads = TORCH.finite(grads) if guard else grads
    ops = TORCH if scratch is None else TorchPrimitives(scratch)
    steps, _ = (scale_free_steps(base) if scale_free else base.steps)(ops, grads, states)
    if not owned:
        return steps
    return [s.clone() if s is g or any(s is t for t in state) else s for s, g, state in zip(steps, grads, states)]


def other_steps(params: list[Any], grads: list[Any], states: list[Any], rate: Any, *, base: BaseDirection) -> None:
    """Parameters that are not layers: ``p -= rate * s`` in place, with ``base``'s step ``s`` (gradients unguarded).

    A rate given as a number is one ``sub_(alpha=rate)``, as torch.optim's foreach SGD does (rounded once, the
    steps only read: no copy of a momentum buffer); a tensor rate scales the steps first.
    """
    if isinstance(rate, (int, float)):
        steps = base_steps(base, grads, states, guard=False, owned=False)
        torch._foreach_sub_(params, steps, alpha=rate)
        return
    TORCH.descended(params, base_steps(base, grads, states, guard=False, owned=True), rate)


def _divided_by_root(xs: list[Any], denominators: list[Any], eps: Any, rooted: bool) -> list[Any]:
    """``x / (sqrt(d) + eps)`` per tensor, written into the denominators ``d`` (already rooted when ``rooted``)."""
    if not rooted:
        torch._foreach_sqrt_(denominators)
    torch._foreach_add_(denominators, eps)
    for x, d in zip(xs, denominators):
        torch.div(x, d, out=d)
    return denominators
