"""The reference executor: the engine's primitives as a loop of array-API calls."""

from collections.abc import Sequence
from types import ModuleType
from typing import Any

from layca_core._namespace import _registered, accumulation_dtype


def per_layer(values: Sequence[Any], executor: Any) -> Any:
    """Per-layer numbers or 0-d arrays as one vector in the executor's accumulation dtype."""
    if all(isinstance(v, (int, float)) for v in values):
        return executor.vector(values)
    xp = executor.xp
    return xp.stack(
        [executor.vector([v])[0] if isinstance(v, (int, float)) else xp.astype(v, executor.acc) for v in values]
    )


class ReferenceExecutor:
    """The primitives as a loop of array-API calls (fused by XLA under ``jax.jit``).

    Sums accumulate in float64 where the namespace has it (one pass for layers of 32 bits or
    fewer), else in the working dtype (two passes). ``stacked[i]`` marks a tensor holding one
    layer per index of its axis 0. 16-bit layers are turned in float32 and rounded once.
    """

    def __init__(self, xp: ModuleType, like: Any, stacked: Sequence[bool] | None = None) -> None:
        self.xp, self.like = xp, like
        self.acc = wide_dtype(xp, like)
        self.stacked: Sequence[bool] = list(stacked or [])
        self.exact_products = False
        self.writes_steps = False
        self.screens = False
        self.scales_weights = True

    def prepare(self, ws: list[Any]) -> "ReferenceExecutor":
        """Fix the recipe for these layers: one pass when float64 sums hold their products exactly."""
        self.stacked = list(self.stacked) or [False] * len(ws)
        self._tensors = ws
        self.exact_products = self.acc == self.xp.float64 and all(w.dtype != self.xp.float64 for w in ws)
        return self

    def _axes(self, x: Any, stacked: bool) -> tuple[int, ...]:
        return tuple(range(1 if stacked else 0, x.ndim))

    def _per_layer(self, values: list[Any]) -> Any:
        return self.xp.concat([self.xp.reshape(v, (-1,)) for v in values])

    def _split(self, vector: Any, xs: list[Any]) -> list[Any]:
        """The vector's entries per tensor, shaped to broadcast against it (one per slice if stacked)."""
        out, start = [], 0
        for x, stacked in zip(xs, self.stacked):
            count = x.shape[0] if stacked else 1
            piece = vector[start : start + count]
            piece = self.xp.reshape(piece, (count,) + (1,) * (x.ndim - 1)) if stacked else piece[0]
            out.append(piece)
            start += count
        return out

    def _work(self, x: Any) -> Any:
        return self.xp.astype(x, accumulation_dtype(x.dtype, self.xp))

    def _like_work(self, scalar: Any, x: Any) -> Any:
        """A per-layer scalar in the working dtype of ``x``."""
        return self.xp.astype(scalar, accumulation_dtype(x.dtype, self.xp))

    def _sum(self, products: Any, x: Any, stacked: bool) -> Any:
        return self.xp.sum(products, axis=self._axes(x, stacked))

    def vector(self, values: Sequence[float]) -> Any:
        """On the layers' device for a type with a registered namespace (torch), else where the namespace puts a new
        array (a sharded JAX array's device is its sharding, which a vector of per-layer values cannot take)."""
        device = _device(self.like) if _registered(self.like) is not None else None
        return self.xp.asarray(list(values), dtype=self.acc, device=device)

    def per_tensor(self, values: Sequence[float]) -> Any:
        counts = [x.shape[0] if st else 1 for x, st in zip(self._tensors, self.stacked)]
        return self.vector([v for v, count in zip(values, counts) for _ in range(count)])

    def finite(self, xs: list[Any]) -> list[Any]:
        return [self.xp.where(self.xp.isfinite(x), x, self.xp.zeros_like(x)) for x in xs]

    def amax(self, xs: list[Any]) -> Any:
        """``max(max x, -min x)``: the same number as ``max |x|``, which XLA's CPU reduction runs 6x slower."""
        xp = self.xp
        largest = []
        for x, stacked in zip(xs, self.stacked):
            axes = self._axes(x, stacked)
            largest.append(xp.astype(xp.maximum(xp.max(x, axis=axes), -xp.min(x, axis=axes)), self.acc))
        return self._per_layer(largest)

    def scale(self, xs: list[Any], factors: Any) -> list[Any]:
        return [self._work(x) * self._like_work(f, x) for x, f in zip(xs, self._split(factors, xs))]

    def sums(self, ws: list[Any], xs: list[Any], with_squares: bool = False) -> tuple[Any, ...]:
        xp, acc = self.xp, self.acc
        wide = [(xp.astype(w, acc), xp.astype(x, acc), st) for w, x, st in zip(ws, xs, self.stacked)]
        sums = (
            self._per_layer([self._sum(w * w, w, st) for w, _, st in wide]),
            self._per_layer([self._sum(w * x, w, st) for w, x, st in wide]),
        )
        return sums + (self.squares(xs),) if with_squares else sums

    def squares(self, xs: list[Any]) -> Any:
        xp = self.xp
        wide = [xp.astype(x, self.acc) for x in xs]
        return self._per_layer([self._sum(x * x, x, st) for x, st in zip(wide, self.stacked)])

    def perp(self, xs: list[Any], ws: list[Any], c: Any) -> list[Any]:
        return [x - self._like_work(ci, w) * self._work(w) for x, w, ci in zip(xs, ws, self._split(c, xs))]

    def combine(self, ws: list[Any], xs: list[Any], a: Any, b: Any) -> list[Any]:
        return [
            self.xp.astype(self._like_work(ai, w) * self._work(w) + self._like_work(bi, w) * x, w.dtype)
            for w, x, ai, bi in zip(ws, xs, self._split(a, ws), self._split(b, ws))
        ]

    def recompute(self, keep: Any, values: tuple[Any, ...], recipe: Any, ws: list[Any], xs: list[Any]) -> tuple:
        """``recipe`` for every layer, kept where ``keep`` is False (an executor that ``screens`` runs it per layer)."""
        return tuple(self.xp.where(keep, v, again) for v, again in zip(values, recipe(self, ws, xs)))


def wide_dtype(xp: ModuleType, like: Any) -> Any:
    """float64 where the namespace has it on ``like``'s device (not JAX without x64), else float32."""
    info = getattr(xp, "__array_namespace_info__", None)
    if info is None:
        return xp.float64
    floats = info().dtypes(kind="real floating", device=_device(like))
    return xp.float64 if "float64" in floats else xp.float32


def _device(x: Any) -> Any:
    """The array's device where it has one (None for TensorFlow and traced values without one).

    A type whose arrays refused once is not asked again: a JAX tracer's refusal walks the whole traced program to
    say where the value came from, which made tracing a step quadratic in its number of layers.
    """
    if type(x) in _DEVICELESS:
        return None
    try:
        device = getattr(x, "device", None)
    except Exception:  # a JAX tracer may refuse to name its device
        device = None
    if device is None:
        _DEVICELESS.add(type(x))
    return device if not isinstance(device, str) else None


_DEVICELESS: set[type] = set()
"""Array types whose ``device`` attribute is missing or refused (TensorFlow tensors, JAX tracers)."""
