r"""One Layca step over a list of layers: reduce, decide, apply.

Every executor (``reference.ReferenceExecutor`` for any array-API library; those an adapter registers: the XLA
executor of ``layca_jax``, torch's multi-tensor, flat and compiled executors of ``layca_torch``)
supplies the batched primitives of ``Executor``; ``turn_layers`` alone decides, on short per-layer vectors,
the guards, the gain and the renormalization. For one layer with weights :math:`w`, a base step
:math:`s` scaled by a power of two to :math:`S = \sigma s` (Layca discards the scale of the step,
so :math:`\sigma` changes nothing but the range of the sums), rate :math:`\rho` and initial norm
:math:`r_0`:

.. math::

    c = \frac{\langle w, S\rangle}{|w|^2}, \quad P = S - c\,w, \quad
    k = \frac{r_0}{|w|\sqrt{1+\rho^2}}, \quad \gamma = \rho\,\frac{|w|}{|P|}, \quad
    w_{new} = k\,w - k\gamma\,P = k(1+\gamma c)\,w - k\gamma\,S

Three recipes reach :math:`|P|^2` without overflow or underflow for any finite step:

- **one pass**, where the executor's sums hold products of the layer's dtype exactly (float64 sums
  of float32, bfloat16 or float16 layers): :math:`|w|^2, \langle w,s\rangle, |s|^2` in one pass, then
  :math:`|P|^2 = |S|^2 - \langle w,S\rangle^2/|w|^2` (the cancellation costs at most
  :math:`\log_2 n` float64 ulps of :math:`|s|^2`, far below the parallel tolerance), and
  :math:`\sigma = 2^{-\lfloor\log_2|s|\rfloor}` for the apply;
- **two passes** otherwise (float64 layers, or no float64 on the device): :math:`\sigma` from the
  largest entry, then :math:`P` formed explicitly and its squares summed; weights whose largest entry lies beyond
  :math:`2^{\pm e/4}` (:math:`e` the dtype's largest exponent) enter :math:`|w|^2` as :math:`\tau w`, :math:`\tau` a
  power of two, :math:`\langle w,S\rangle` multiplied by :math:`\tau` after its sum (the new weights depend on
  :math:`w/|w|` only);
- **screened**, where the executor can recompute single layers on demand (``screens``: XLA, which skips
  an untaken ``lax.cond`` branch; torch on the CPU, which reads the screen on the host):
  :math:`|w|^2, \langle w,s\rangle, |s|^2` of the unscaled step in one pass, and :math:`|P|^2 = |S|^2 - \langle w,S\rangle^2/|w|^2`, kept for a layer whose sums are finite, at
  least ``smallest_normal / eps^3`` of the dtype its partial sums accumulate in (products lost to underflow are
  then below an ulp) and with
  :math:`|P|^2 \ge |S|^2/2` (the cancellation at most doubles the sums' rounding); every other layer
  (non-finite entries, extreme magnitudes, steps within 45 degrees of the weights) takes the two passes (XLA, when
  any layer fails, runs them on all layers, small ones stacked by shape, under one ``lax.cond`` for the whole step,
  and keeps their values for the failing layers).
  :math:`P = S - c\,w` is then formed inside the apply.

Guards: non-finite entries of the step count as 0; a layer whose :math:`|P|` is zero or within
``parallel_tolerance`` of :math:`|S|`, whose weights are zero, or whose rate is negative or not
finite does not move (adapters refuse such rates eagerly where they can see them). The LARS and hyperball
variants (``layca_core.engine.variants``) skip the projection: they need only :math:`|w|^2, \langle w,S\rangle,
|S|^2`, in one pass or two.
"""

import math
from collections.abc import Sequence
from types import ModuleType
from typing import Any, Protocol

from layca_core._namespace import accumulation_dtype, parallel_tolerance
from layca_core.engine.variants import VARIANTS

ONE_PASS = ("prepare", "finite", "sums", "scale", "combine")
"""The engine's calls on an executor, in order, when ``prepare`` sets ``exact_products`` (every variant)."""
TWO_PASSES = {
    "layca": ("prepare", "finite", "amax", "scale", "amax", "scale", "sums", "squares", "perp", "squares", "combine"),
    "lars": ("prepare", "finite", "amax", "scale", "amax", "scale", "sums", "squares", "combine"),
    "hyperball": ("prepare", "finite", "amax", "scale", "amax", "scale", "sums", "squares", "combine"),
}
"""The engine's calls on an executor, in order, otherwise (``tests/core/test_executor_hook.py`` records them), where
it ``scales_weights`` (the second ``amax`` and ``scale`` and the first ``squares``: ``|tau w|^2``); without, those
three are left out."""
SCREENED = {
    "layca": ("prepare", "finite", "sums", "recompute", "scale", "perp", "combine"),
    "lars": ("prepare", "finite", "sums", "recompute", "scale", "combine"),
    "hyperball": ("prepare", "finite", "sums", "recompute", "scale", "combine"),
}
"""The engine's calls, in order, when ``prepare`` sets ``screens`` (``recompute`` runs ``TWO_PASSES`` per layer)."""


class Executor(Protocol):
    """Batched primitives over a list of tensors; per-layer values are 1-D vectors in layer order.

    A stacked tensor (several layers along axis 0) contributes one entry per slice. The engine
    (``policy.executors_for``, then ``turn_layers``) calls ``vector`` and ``per_tensor`` at any time, and the
    other members in the order ``ONE_PASS`` (when ``prepare`` sets ``exact_products``) or
    ``TWO_PASSES[variant]``, each on the previous call's result:
    so ``finite`` may be lazy (leave the cleaning to ``sums`` or ``amax``, reading non-finite entries as 0),
    and ``scale`` may return a list that carries its factors for the later primitives to apply. The steps
    belong to the engine: an executor may overwrite them in place unless ``writes_steps`` is False.
    """

    xp: ModuleType
    """The array namespace of the layers."""
    acc: Any
    """The dtype of per-layer vectors (float64 where the device has it)."""
    exact_products: bool
    """Set by ``prepare``: whether ``sums`` carries every product of the layers' dtype exactly (one pass)."""
    writes_steps: bool
    """Whether the primitives may write into the steps; when False, a caller may pass state tensors as steps."""
    scales_weights: bool
    """Whether ``amax`` and ``scale`` may take the weights (``scale`` returns new arrays, never writes its input): the
    two passes then scale weights whose squares could under- or overflow into range (absent: False)."""
    screens: bool
    """Set by ``prepare``: whether ``recompute`` runs its recipe only for the layers it recomputes (screened recipe;
    its ``sums`` may read non-finite entries of lazily cleaned steps as they are: they fail the screen)."""

    def prepare(self, ws: list[Any]) -> "Executor":
        """Fix the recipe (``exact_products``) for these layers; returns the executor."""

    def vector(self, values: Sequence[float]) -> Any:
        """Python numbers, one per layer, as a vector of the accumulation dtype on the device."""

    def per_tensor(self, values: Sequence[float]) -> Any:
        """Python numbers, one per tensor, as a per-layer vector (repeated over a stack's layers)."""

    def finite(self, xs: list[Any]) -> list[Any]:
        """``xs`` with non-finite entries replaced by 0."""

    def amax(self, xs: list[Any]) -> Any:
        """Largest absolute entry per layer."""

    def scale(self, xs: list[Any], factors: Any) -> list[Any]:
        """``x * factor`` per layer (the factors are powers of two)."""

    def sums(self, ws: list[Any], xs: list[Any], with_squares: bool = False) -> tuple[Any, ...]:
        """``(|w|^2, <w, x>)`` per layer, and ``|x|^2`` if ``with_squares`` (in one pass where it can)."""

    def squares(self, xs: list[Any]) -> Any:
        """``|x|^2`` per layer."""

    def perp(self, xs: list[Any], ws: list[Any], c: Any) -> list[Any]:
        """``x - c w`` per layer."""

    def combine(self, ws: list[Any], xs: list[Any], a: Any, b: Any) -> list[Any]:
        """``a w + b x`` per layer, in each layer's dtype: the new weights."""

    def recompute(self, keep: Any, values: tuple[Any, ...], recipe: Any, ws: list[Any], xs: list[Any]) -> tuple:
        """``values`` (per-layer vectors) where ``keep``, else ``recipe(executor, ws, xs)``'s, per layer."""


def scale_factors(x: Any, executor: Executor, ws: list[Any]) -> Any:
    """``2^-floor(log2 x)`` per layer, kept a normal number of each layer's working dtype; 1 where x is 0.

    Multiplying a step by it is exact and brings its largest entry (or its norm) near 1.
    """
    xp = executor.xp
    usable = (x > 0) & xp.isfinite(x)
    exponent = xp.floor(xp.log2(xp.where(usable, x, xp.ones_like(x))))
    exponents = _per_dtype(ws, lambda dtype: _exponent_range(xp.finfo(accumulation_dtype(dtype, xp))))
    low = executor.per_tensor([-high for _, high in exponents])  # frexp: log2 rounds up near the max
    high = executor.per_tensor([-low for low, _ in exponents])
    exponent = xp.where(exponent < low, low, xp.where(exponent > high, high, exponent))
    return xp.pow(xp.full_like(x, 2.0), -exponent)


def _floor(dtype: Any, sums: Any, xp: ModuleType) -> float:
    """The screen's floor for a layer's sums: ``smallest_normal / eps^3`` of the narrower of the dtype its products
    accumulate in (partial sums in the layer's working dtype) and ``sums``; products lost to underflow (at most
    ``n`` tiny ones) then stay below an ulp up to ``n = eps^-2``."""
    floors = [xp.finfo(d) for d in (accumulation_dtype(dtype, xp), sums)]
    return max(float(info.smallest_normal) / float(info.eps) ** 3 for info in floors)


def _exponent_range(info: Any) -> tuple[int, int]:
    """Binary exponents of the smallest normal and the largest finite number."""
    return math.frexp(float(info.smallest_normal))[1] - 1, math.frexp(float(info.max))[1] - 1


def _per_dtype(ws: list[Any], value: Any) -> list[Any]:
    """``value(w.dtype)`` for each tensor, computed once per dtype (many layers share a few dtypes)."""
    known: dict[Any, Any] = {}
    return [known[w.dtype] if w.dtype in known else known.setdefault(w.dtype, value(w.dtype)) for w in ws]


def turn_layers(
    ws: list[Any],
    steps: list[Any],
    rates: Any,
    init_norms: Any,
    *,
    executor: Executor,
    variant: str = "layca",
) -> list[Any]:
    """The new weights of every layer after one Layca (or LARS, or hyperball) step.

    Args:
        ws: the layers' weights.
        steps: their base steps (uphill), consumed.
        rates: one rate per layer (the rate times Equation 1's multiplier), a vector.
        init_norms: one stored initial norm per layer, a vector.
        executor: the batched primitives (``ReferenceExecutor`` for any array-API namespace).
        variant: ``"layca"``, ``"lars"`` or ``"hyperball"``.
    """
    if variant not in VARIANTS:
        raise ValueError(f"Unknown variant {variant!r}; choose one of {', '.join(VARIANTS)}.")
    xp = executor.xp
    steps = executor.finite(steps)
    tolerance = executor.per_tensor(_per_dtype(ws, lambda dtype: parallel_tolerance(dtype, xp)))
    one = xp.ones_like(tolerance)
    if executor.exact_products or executor.screens:
        ww, ws_dot, ss = executor.sums(ws, steps, with_squares=True)
        sigma = scale_factors(xp.sqrt(ss), executor, ws)
        w_s, s_s = ws_dot * sigma, ss * sigma * sigma
        pp = xp.clip(s_s - w_s * w_s / xp.where(ww > 0, ww, one), min=0.0)
        if executor.exact_products:
            scaled = executor.scale(steps, sigma)
            return VARIANTS[variant](executor, ws, scaled, None, ww, w_s, s_s, pp, rates, init_norms, tolerance, None)
        floor = executor.per_tensor(_per_dtype(ws, lambda dtype: _floor(dtype, ss.dtype, xp)))
        zero = (ww == 0) & (ws_dot == 0)  # else weights whose squares underflowed (flushed to zero)
        keep = xp.isfinite(ss) & xp.isfinite(ww) & (ss >= floor) & ((ww >= floor) | zero)
        keep = keep & (pp >= s_s / 2) if variant == "layca" else keep
        recipe = lambda ex, w, s: _two_passes(ex, w, ex.finite(s), variant)[2:]  # noqa: E731
        values = (sigma, ww, w_s, s_s, pp, one)
        sigma, ww, w_s, s_s, pp, tau = executor.recompute(keep, values, recipe, ws, steps)
        scaled = executor.scale(steps, sigma)
        perp = executor.perp(scaled, ws, w_s / xp.where(ww > 0, ww, one) * tau) if variant == "layca" else None
        return VARIANTS[variant](executor, ws, scaled, perp, ww, w_s, s_s, pp, rates, init_norms, tolerance, tau)
    scaled, perp, _, ww, w_s, s_s, pp, tau = _two_passes(executor, ws, steps, variant)
    return VARIANTS[variant](executor, ws, scaled, perp, ww, w_s, s_s, pp, rates, init_norms, tolerance, tau)


def _two_passes(executor: Executor, ws: list[Any], steps: list[Any], variant: str) -> tuple:
    """``(scaled, perp, sigma, |W|^2, <W,S>, |S|^2, |P|^2, tau)`` by the two-pass recipe, ``W = tau w`` (``perp``
    None for LARS and hyperball, which never project: their ``|P|^2`` is ``|S|^2``, unused)."""
    xp = executor.xp
    sigma = scale_factors(executor.amax(steps), executor, ws)
    scaled = executor.scale(steps, sigma)
    tau, in_range = weights_in_range(executor, ws, sigma)
    ww, w_s, *squares = executor.sums(ws, scaled, with_squares=variant != "layca")
    if in_range is not None:  # tau w feeds one sum only (XLA then forms it inside that sum's loop)
        ww, w_s = executor.squares(in_range), w_s * tau
    if variant != "layca":
        return scaled, None, sigma, ww, w_s, squares[0], squares[0], tau
    c = w_s / xp.where(ww > 0, ww, xp.ones_like(ww))
    perp = executor.perp(scaled, ws, c * tau)  # of the weights themselves: tau w is read by the sums only
    pp = executor.squares(perp)
    return scaled, perp, sigma, ww, w_s, pp + c * w_s, pp, tau


def weights_in_range(executor: Executor, ws: list[Any], like: Any) -> tuple[Any, list[Any] | None]:
    """``(tau, tau w)``: ``tau`` a power of two bringing the largest entry of the weights near 1 where it lies outside
    ``2^(+-e/4)`` (``e`` the largest binary exponent of their working dtype: beyond, a sum of squares may under- or
    overflow), else 1; ``(1, None)`` where the executor does not ``scales_weights``."""
    xp = executor.xp
    if not executor.scales_weights:
        return xp.ones_like(like), None
    tau = scale_factors(executor.amax(ws), executor, ws)
    bound = executor.per_tensor(_per_dtype(ws, lambda dtype: _weights_bound(dtype, xp)))
    tau = xp.where((tau <= bound) & (tau >= 1 / bound), xp.ones_like(tau), tau)
    return tau, executor.scale(ws, tau)


def _weights_bound(dtype: Any, xp: ModuleType) -> float:
    """``2^(e/4)``, ``e`` the largest binary exponent of the dtype ``dtype``'s products accumulate in."""
    return 2.0 ** (_exponent_range(xp.finfo(accumulation_dtype(dtype, xp)))[1] // 4)
