"""Eager checks of what a user passes, each failing with one clear sentence.

Hyperparameters may be 0-d arrays (``optax.inject_hyperparams`` passes them so): a concrete one is
checked like a number, a traced one (inside ``jax.jit``) passes through, checked where it is concrete.
"""

import math
from collections.abc import Sequence
from typing import Any


def concrete_value(value: Any) -> float | None:
    """A number's value, or a concrete 0-d array's; None for anything else (a traced value, a schedule)."""
    if isinstance(value, (int, float)):
        return float(value)
    if callable(value) or tuple(getattr(value, "shape", (None,))) != ():
        return None
    try:
        return float(value)
    except Exception:  # not readable now: traced in jax.jit, symbolic in tf.function, a torch meta tensor
        return None


def check_rate(rate: Any, name: str = "rate") -> None:
    """A Python-number rate must be finite and non-negative (arrays are checked where traced)."""
    if isinstance(rate, (int, float)) and not (math.isfinite(rate) and rate >= 0):
        raise ValueError(f"{name} must be a finite number >= 0; got {rate!r}.")


def check_alpha(alpha: Any) -> None:
    """Alpha is a number or a 0-d array strictly between -1 and 1 (a traced one passes through)."""
    is_scalar = isinstance(alpha, (int, float)) or tuple(getattr(alpha, "shape", (None,))) == ()
    value = concrete_value(alpha)
    if not is_scalar or (value is not None and not -1.0 < value < 1.0):
        raise ValueError(f"alpha must lie strictly between -1 and 1; got {alpha!r}.")


def check_same_length(**sequences: Sequence[Any]) -> None:
    lengths = {name: len(seq) for name, seq in sequences.items()}
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{n} has {k}" for n, k in lengths.items())
        raise ValueError(f"Expected one entry per layer, but {described}.")


def check_nonzero_norms(norms: Sequence[float], names: Sequence[str], *, exclude: str = "") -> None:
    """Refuse zero-norm layers (a zero vector has no direction to rotate) and norms that overflow.

    ``exclude`` is the adapter's own sentence saying how to leave such a parameter out of the Layca layers.
    """
    zero = [name for name, norm in zip(names, norms) if not norm > 0]
    if zero:
        raise ValueError(
            f"Layca cannot rotate a layer whose weights are all zero: {', '.join(zero)}. Parameters that start at "
            "zero (LoRA's B, zero-initialized adapters or gates) must be excluded from the Layca layers, so that "
            "they take the plain base step (a small random start does not train them: Layca keeps their norm)"
            + (f". {exclude}" if exclude else ".")
        )
    huge = [name for name, norm in zip(names, norms) if not math.isfinite(norm)]
    if huge:
        raise ValueError(f"Layca needs a layer norm that is a finite number; these overflow: {', '.join(huge)}.")
