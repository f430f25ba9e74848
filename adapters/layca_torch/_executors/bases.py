"""The primitives of ``layca_core.primitives`` as multi-tensor kernels, and the base steps built on them.

Each primitive is one or two ``torch._foreach_*`` calls (``adam_quotients``: torch's fused Adam kernel on the CPU)
and writes the states it is given in place (the optimizer's state tensors). ``add(alpha=)`` and ``addcmul`` round once where the array-API
form rounds after each operation: the two forms agree to a few ulps (``tests/layca_torch/test_bases.py``).
"""

import math
from typing import Any

import torch

from layca_core.directions import BaseDirection, scale_free_steps
from layca_core.primitives import ARRAY, adam_quotients
from layca_torch._executors.tensors import WIDE, blockwise, finite_copy, per_layer

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

    def adam_quotients(
        self, grads: list[Any], mus: list[Any], nus: list[Any], counts: list[Any], b1: Any, b2: Any, eps: Any
    ) -> tuple[list[Any], list[Any], list[Any]]:
        """On the CPU, torch's fused Adam kernel (``torch._fused_adam_``, one pass: gradient and moments read once,
        moments and quotient written once) into zeroed tensors, with the learning rate ``-(1 - b1^t)`` that makes
        its step the quotient; elsewhere (and inside ``torch.compile``, which fuses the primitives itself), or with
        hyperparameters given as tensors, the primitives one after the other."""
        if not _fusable(grads, mus, nus, counts, (b1, b2, eps)):
            return adam_quotients(self, grads, mus, nus, counts, b1, b2, eps)
        quotients = self._kept(nus) if self.scratch is not None else [torch.empty_like(nu) for nu in nus]
        torch._foreach_zero_(quotients)
        by_count: dict[float, list[int]] = {}
        for i, count in enumerate(torch.stack(counts).tolist()):
            by_count.setdefault(count, []).append(i)
        for count, part in by_count.items():
            torch._fused_adam_(
                *_picked(part, quotients, grads, mus, nus),
                [],
                [counts[i] for i in part],
                lr=-(1 - b1**count),
                beta1=b1,
                beta2=b2,
                weight_decay=0.0,
                eps=eps,
                amsgrad=False,
                maximize=False,
            )
        return quotients, mus, nus

    def divided(self, xs: list[Any], scales: list[Any]) -> list[Any]:
        torch._foreach_div_(xs, scales)
        return xs

    def counted(self, counts: list[Any]) -> list[Any]:
        torch._foreach_add_(counts, 1)
        return counts

    def bias_corrections(self, counts: list[Any], beta: Any, like: list[Any]) -> list[Any]:
        """In float64 where the device has it, as ``torch.optim`` and its fused kernels take them (in float32,
        ``1 - 0.999`` keeps 11 of its 24 bits), then in each tensor's dtype. Inside ``torch.compile``, which computes
        them again at every entry of the kernels that read them (float64 powers made a compiled Adam step a third
        slower), as ``-expm1(t log(beta))`` in the counters' dtype, within a few ulps of the float64 value."""
        stacked = torch.stack(counts)
        if torch.compiler.is_compiling():
            log_beta = math.log(beta) if isinstance(beta, (int, float)) else torch.log(beta.double()).to(stacked.dtype)
            return per_layer(-torch.expm1(stacked * log_beta), like)
        return per_layer(1 - beta ** (stacked if stacked.device.type == "mps" else stacked.double()), like)

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


def _fusable(grads: list[Any], mus: list[Any], nus: list[Any], counts: list[Any], numbers: tuple) -> bool:
    """Whether ``_fused_adam_`` takes these tensors: contiguous 32- or 64-bit CPU tensors of one shape and dtype per
    parameter, outside ``torch.compile``, with hyperparameters given as numbers (16-bit moments keep the primitives,
    which round them as the array-API form does)."""
    if not grads or torch.compiler.is_compiling() or not all(isinstance(x, (int, float)) for x in numbers):
        return False
    return all(
        c.is_cpu
        and all(t.is_cpu and t.is_contiguous() and t.shape == g.shape and t.dtype == g.dtype for t in (g, m, v))
        for g, m, v, c in zip(grads, mus, nus, counts)
    ) and all(g.dtype in WIDE for g in grads)


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
