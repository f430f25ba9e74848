"""Layer rotation: each layer's cosine distance to its initialization, and per-step angles.

The cosine distance is computed as ``||u - v||^2 / 2`` with ``u, v`` the unit vectors of the
two weights: equal to ``1 - cos`` in real arithmetic, but free of the cancellation that makes
``1 - cos`` useless near 0 in float32. Pass float64 arrays for float64 results.

Example:
    >>> import numpy as np
    >>> w0 = np.array([1.0, 0.0])
    >>> [float(cosine_distance(w, w0)) for w in (w0, np.array([0.0, 2.0]), -w0)]
    [0.0, 1.0, 2.0]
"""

import math
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from layca_core._namespace import accumulation_dtype, array_namespace
from layca_core.validation import check_same_length


def _unit(x: Any, xp: ModuleType) -> Any:
    """``x / ||x||``; a layer whose sum of squares could under- or overflow (its largest entry's square below the
    smallest normal number, or that square times its size above the largest finite one: float64 entries near 1e-154
    or 1e154) is divided by its largest entry first; every other layer is not scaled at all (its bits are those of the
    plain formula). A zero layer has no direction: NaN."""
    x = xp.astype(x, accumulation_dtype(x.dtype, xp))
    largest, info = xp.max(xp.abs(x)), xp.finfo(x.dtype)
    plain = (largest >= math.sqrt(info.smallest_normal)) & (largest <= math.sqrt(info.max / max(math.prod(x.shape), 1)))
    x = xp.where(plain, x, x / largest)
    return x / xp.sqrt(xp.sum(x * x))


def cosine_distance(weight: Any, init: Any, *, xp: ModuleType | None = None) -> Any:
    """``1 - <w, w0> / (||w|| ||w0||)``: 0 at init, 1 when orthogonal, 2 when opposite."""
    xp = array_namespace(weight, init) if xp is None else xp
    diff = _unit(weight, xp) - _unit(init, xp)
    return xp.clip(xp.sum(diff * diff) / 2, min=0.0, max=2.0)


def layer_rotations(weights: Sequence[Any], inits: Sequence[Any], *, xp: ModuleType | None = None) -> list[Any]:
    """``cosine_distance`` of every layer to its initialization."""
    check_same_length(weights=weights, inits=inits)
    return [cosine_distance(w, w0, xp=xp) for w, w0 in zip(weights, inits)]


def rate_from_cosine_distance(distance: float) -> float:
    """The rate (tangent of the angle) of a step whose cosine distance is ``distance``.

    ``tan(theta) = sqrt(1 / (1 - d)^2 - 1)`` for ``d`` in [0, 1); round-off below 0 is clipped.
    """
    if not distance < 1:
        raise ValueError(f"A per-step cosine distance must be below 1 (a turn under 90 degrees); got {distance!r}.")
    return math.sqrt(max(1.0 / (1.0 - distance) ** 2 - 1.0, 0.0))


def step_angle(previous: Any, current: Any, *, xp: ModuleType | None = None) -> Any:
    """The angle (radians) between two iterates of a layer: ``2 asin(||u - v|| / 2)``."""
    xp = array_namespace(previous, current) if xp is None else xp
    diff = _unit(current, xp) - _unit(previous, xp)
    return 2 * xp.asin(xp.clip(xp.sqrt(xp.sum(diff * diff)) / 2, max=1.0))
