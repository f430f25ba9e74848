r"""Muon's step (Jordan et al. 2024; ``torch.optim.Muon``, ``optax.contrib.muon``, ``keras.optimizers.Muon``), written
once over the batched primitives of ``layca_core.primitives``.

For a tensor of at least two dimensions (a matrix, a convolution kernel, a stack): momentum
``m = mu m + (1 - mu) g``, Nesterov's form ``d = (1 - mu) g + mu m`` (or ``d = m``), then the quintic
Newton-Schulz orthogonalisation of ``d`` seen as a matrix (``newton_schulz``), scaled by
``sqrt(max(1, fan_out / fan_in))`` (torch's ``adjust_lr_fn="original"``, Optax's default; Layca discards it).
Tensors of fewer than two dimensions (biases, normalisation scales) take Adam's step, as ``optax.contrib.muon``
and ``keras.optimizers.Muon`` do.

The matrix of a tensor (``out_axis``, its fan-out axis) is defined in ``layca_core.orthogonal``.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

from layca_core._namespace import accumulation_dtype, array_namespace, zero_scalar
from layca_core.orthogonal import shape_scale
from layca_core.primitives import Primitives


class MuonState(NamedTuple):
    count: Any
    """The step count (Adam's bias corrections use it; every tensor counts, so one count may serve them all)."""
    mu: Any
    """Muon's momentum (matrices) or Adam's first moment."""
    nu: Any
    """Adam's second moment; a 0-d zero for matrices."""


def muon_init(p: Any) -> MuonState:
    """Zeros: a momentum for a tensor of two or more dimensions, Adam's moments for the others."""
    xp = array_namespace(p)
    complex_ = xp.isdtype(p.dtype, "complex floating")
    if complex_ and p.ndim >= 2:
        raise TypeError(
            f"The muon base orthogonalises real matrices; got one of dtype {p.dtype}: give it another base."
        )
    real = xp.real(xp.zeros_like(p)) if complex_ else xp.zeros_like(p)  # Adam's |g|^2 is real
    acc = accumulation_dtype(real.dtype, xp)
    nu = zero_scalar(p, acc, xp) if p.ndim >= 2 else real
    return MuonState(zero_scalar(p, acc, xp), xp.zeros_like(p), nu)


Steps = Callable[[Primitives, list[Any], list[Any]], tuple[list[Any], list[Any]]]


def muon_steps(momentum: Any, nesterov: bool, adam_steps: Steps, out_axis: int) -> Steps:
    """The ``steps`` of the Muon direction (``layca_core.directions.muon``); ``adam_steps`` is Adam's, on
    ``MuonState`` values."""

    def steps(ops: Primitives, grads: list[Any], states: list[Any]) -> tuple[list[Any], list[Any]]:
        new_steps: list[Any] = [None] * len(grads)
        new_states: list[Any] = [None] * len(grads)
        matrices = [i for i, g in enumerate(grads) if g.ndim >= 2]
        others = [i for i, g in enumerate(grads) if g.ndim < 2]
        if matrices:
            g = [grads[i] for i in matrices]
            m = ops.blend([states[i].mu for i in matrices], momentum, g, 1 - momentum)
            d = ops.added(g, m, momentum / (1 - momentum)) if nesterov else m
            o = ops.orthogonalized(d, out_axis)
            o = ops.divided(o, [1 / shape_scale(tuple(x.shape), out_axis) for x in o])
            counts = ops.counted([states[i].count for i in matrices])
            for i, step, count, mu in zip(matrices, o, counts, m):
                new_steps[i], new_states[i] = step, states[i]._replace(count=count, mu=mu)
        if others:
            adam = adam_steps(ops, [grads[i] for i in others], [tuple(states[i]) for i in others])
            for i, step, state in zip(others, *adam):
                new_steps[i], new_states[i] = step, MuonState(*state)
        return new_steps, new_states

    return steps
