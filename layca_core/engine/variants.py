r"""The per-layer rules of one step, on the sums ``turn_layers`` gathered: Layca's turn, the paper's LARS variant and
the hyperball rule (docs/algorithm.md gives each rule and the angle it turns).

Each rule takes the executor, the layers, the scaled steps :math:`S` (and :math:`P = S - c\,w` where formed), the
per-layer vectors :math:`|w|^2, \langle w,S\rangle, |S|^2, |P|^2`, the rates, the initial norms, the parallel
tolerance and :math:`\tau` (the power of two that scaled the weights of the sums: :math:`|w|^2` and
:math:`\langle w,S\rangle` are then those of :math:`\tau w`; None for 1), and returns the new weights by one
``combine``.
"""

from types import ModuleType
from typing import Any

from layca_core import defaults

Executor = Any
"""``layca_core.engine.turn.Executor`` (named here without importing it: that module imports this one)."""


def _times(x: Any, tau: Any) -> Any:
    """``x tau``, ``tau`` the power of two that scaled the weights in the sums (None: 1)."""
    return x if tau is None else x * tau


def _valid(rates: Any, ww: Any, xp: ModuleType) -> Any:
    return xp.isfinite(rates) & (rates >= 0) & (ww > 0) & xp.isfinite(ww)


def _cos_sin(rho: Any, xp: ModuleType) -> tuple[Any, Any]:
    """``cos(arctan rho)`` and ``sin(arctan rho)`` without overflow for any finite rate."""
    big = rho > 1
    u = xp.where(big, 1 / xp.where(big, rho, xp.ones_like(rho)), rho)
    root = xp.sqrt(1 + u * u)
    return xp.where(big, u, xp.ones_like(u)) / root, xp.where(big, xp.ones_like(u), u) / root


def _layca(ex: Executor, ws, scaled, perp, ww, w_s, s_s, pp, rates, init_norms, tolerance, tau) -> list[Any]:  # noqa: ANN001
    """``w_new = k w - k gamma P`` with ``k = r0 cos / |w|`` and ``k gamma = r0 sin / |P|`` (angle arctan rho);
    without ``perp`` (one pass) ``P = S - c w`` is folded into the coefficients."""
    xp = ex.xp
    moves = _valid(rates, ww, xp) & (pp > tolerance * tolerance * s_s) & xp.isfinite(pp)
    one = xp.ones_like(ww)
    cos, sin = _cos_sin(xp.where(moves, rates, 0 * one), xp)
    norm = xp.sqrt(xp.where(moves, ww, one))
    k = xp.where(moves, _times(init_norms * cos / norm, tau), one)
    k_gain = init_norms * sin / xp.sqrt(xp.where(moves, pp, one))
    if perp is None:
        return ex.combine(ws, scaled, k + k_gain * w_s / (norm * norm), -k_gain)
    return ex.combine(ws, perp, k, -k_gain)


def _lars(ex: Executor, ws, scaled, perp, ww, w_s, s_s, pp, rates, init_norms, tolerance, tau) -> list[Any]:  # noqa: ANN001
    """``w - rho |w| S / |S|``, shrunk to ``|w| + 1e-4 r0`` if it grew more (no projection, no renormalization)."""
    xp = ex.xp
    moves = _valid(rates, ww, xp) & (s_s > 0) & xp.isfinite(s_s)
    one = xp.ones_like(ww)
    rho = xp.where(moves, rates, 0 * one)
    norm = xp.sqrt(xp.where(moves, ww, one))
    b = -rho * norm / xp.sqrt(xp.where(moves, s_s, one))
    new_norm = xp.sqrt(xp.clip(ww + 2 * b * w_s + b * b * s_s, min=0.0))
    cap = norm + _times(defaults.LARS_MAX_NORM_GROWTH * init_norms, tau)
    shrink = xp.where(moves & (new_norm > cap), cap / xp.where(new_norm > 0, new_norm, one), one)
    return ex.combine(ws, scaled, shrink, shrink * b if tau is None else shrink * b / tau)


def _hyperball(ex: Executor, ws, scaled, perp, ww, w_s, s_s, pp, rates, init_norms, tolerance, tau) -> list[Any]:  # noqa: ANN001
    """``w' = w - rho |w| S / |S|`` back onto the sphere of radius ``r0``, without projection: with ``c`` the cosine of
    ``S`` and ``w`` and ``u = max(1, rho)``, ``|w'| = u |w| sqrt(((1 - rho c) / u)^2 + (rho / u)^2 (1 - c^2))``, known
    from the sums (no overflow for any finite rate). A layer whose ``w'`` is within ``tolerance`` of zero (a step
    along ``w`` at rate 1) does not move."""
    xp = ex.xp
    moves = _valid(rates, ww, xp) & (s_s > 0) & xp.isfinite(s_s)
    one = xp.ones_like(ww)
    rho = xp.where(moves, rates, 0 * one)
    norm, s_norm = xp.sqrt(xp.where(moves, ww, one)), xp.sqrt(xp.where(moves, s_s, one))
    c = xp.clip(xp.where(moves, w_s, 0 * one) / (norm * s_norm), min=-1.0, max=1.0)
    u = xp.where(rho > 1, rho, one)
    ratio = rho / u
    root = xp.sqrt((1 / u - ratio * c) ** 2 + ratio * ratio * ((1 - c) * (1 + c)))
    moves = moves & (root > tolerance)
    root = xp.where(moves, root, one)
    k = xp.where(moves, _times(init_norms / (u * norm * root), tau), one)
    return ex.combine(ws, scaled, k, xp.where(moves, -init_norms * ratio / (s_norm * root), 0 * one))


VARIANTS = {"layca": _layca, "lars": _lars, "hyperball": _hyperball}
