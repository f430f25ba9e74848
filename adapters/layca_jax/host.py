"""A check on the host of values a jitted step computes, without slowing the step (``host_checked``), and the names
of the layers a step turns, for its refusals (``named_layers``)."""

import contextlib
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from typing import Any

import jax
import numpy as np


def host_checked(values: Any, check: Callable[[Any], None]) -> Any:
    """``values`` (a pytree of arrays) as they are, after ``check`` ran on the host on their concrete values (NumPy
    arrays; under ``jax.vmap`` each with the batch axis in front); ``check`` raises to refuse them.

    Through ``jax.pure_callback``, whose result is the values themselves: their use keeps it in the step, and it has
    no side effect, so a jitted step holding it (in a ``lax.cond`` branch that runs only at the first step, say)
    keeps JAX's fast dispatch, which a ``jax.debug.callback`` anywhere in the step loses (10 to 45 ms a step for 120
    variables). An error raised by ``check`` fails the jitted call whole, before any of its results exist.

    Example:
        >>> def positive(x):
        ...     if not (x > 0).all():
        ...         raise ValueError("not positive")
        >>> jax.jit(lambda x: host_checked(x, positive) * 2)(jax.numpy.ones(2)).tolist()
        [2.0, 2.0]
    """
    leaves, treedef = jax.tree.flatten(values)

    def on_host(*arrays: np.ndarray) -> list[np.ndarray]:
        check(jax.tree.unflatten(treedef, list(arrays)))
        return list(arrays)

    shapes = [jax.ShapeDtypeStruct(np.shape(x), x.dtype) for x in leaves]
    return jax.tree.unflatten(treedef, jax.pure_callback(on_host, shapes, *leaves, vmap_method="broadcast_all"))


_NAMED: ContextVar[tuple[Sequence[Any], Sequence[str], str] | None] = ContextVar("layca_jax_named", default=None)


@contextlib.contextmanager
def named_layers(layers: Sequence[Any], names: Sequence[str], exclude: str) -> Iterator[None]:
    """Name the layer arrays a step is about to turn (the very objects given to ``layca_core.engine``), so that the
    XLA executor refuses, by these names, a layer whose weights it finds all zero (or overflowing) after its norm is
    stored; ``exclude`` says how to leave such a layer out (``layca_core.validation.check_nonzero_norms``)."""
    token = _NAMED.set((layers, names, exclude))
    try:
        yield
    finally:
        _NAMED.reset(token)


def layer_names(ws: Sequence[Any]) -> tuple[list[str], str] | None:
    """The names of ``ws`` (by identity) and the ``exclude`` sentence ``named_layers`` gave, or None if one of them
    was not named."""
    named = _NAMED.get()
    if named is None:
        return None
    layers, names, exclude = named
    found = {id(x): name for x, name in zip(layers, names)}
    if not all(id(w) in found for w in ws):
        return None
    return [found[id(w)] for w in ws], exclude
