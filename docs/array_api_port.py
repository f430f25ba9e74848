"""Layca ported to array-api-strict, with its conformance driver: the example of docs/conformance.md."""

import array_api_strict as xp
import numpy as np


def direction(base, o, g, m, v, t):
    """The base step ``s`` and the new state ``(m, v)`` (docs/algorithm.md, "Base directions")."""
    if base in ("momentum", "nesterov"):
        m = o["momentum"] * m + g
        return (g + o["momentum"] * m if base == "nesterov" else m), m, v
    if base == "amom":
        m = o["beta"] * m + (1 - o["beta"]) * g
        return m, m, v
    if base == "adam":
        m, v = o["b1"] * m + (1 - o["b1"]) * g, o["b2"] * v + (1 - o["b2"]) * g * g
        return m / (1 - o["b1"] ** t) / (xp.sqrt(v / (1 - o["b2"] ** t)) + o["eps"]), m, v
    if base in ("rmsprop", "adagrad"):
        v = o["rho"] * v + (1 - o["rho"]) * g * g if base == "rmsprop" else v + g * g
        return g / (xp.sqrt(v) + o["eps"]), m, v
    return g, m, v


def norm(x):
    return xp.sqrt(xp.sum(x * x))


def run(case, dtype, device="cpu"):
    """The driver: every step of ``case`` in ``dtype``, returned as float64 NumPy arrays."""
    params = [xp.asarray(p, dtype=getattr(xp, dtype)) for p in case.initial_params()]
    layers = [i for i, p in enumerate(params) if p.ndim >= 2]
    last, a = max(len(layers) - 1, 1), case.alpha  # Equation 1, layers in forward order
    mult = {
        i: (1 + a) ** (5 * k / last) if a <= 0 else (1 - a) ** (5 * (len(layers) - 1 - k) / last)
        for k, i in enumerate(layers)
    }
    r0, options = {i: norm(params[i]) for i in layers}, case.options()
    state = [(xp.zeros_like(p), xp.zeros_like(p)) for p in params]
    trajectory = []
    for t, (rate, grads) in enumerate(zip(case.rates(), case.gradients()), start=1):
        for i, g in enumerate(xp.asarray(g, dtype=params[0].dtype) for g in grads):
            w = params[i]
            if i in r0:
                g = xp.where(xp.isfinite(g), g, xp.zeros_like(g))
            s, *state[i] = direction(case.base, options, g, *state[i], t)
            if i not in r0:
                params[i] = w - case.other_rate * s
            elif case.variant == "lars":
                w_new = w - rate * mult[i] * norm(w) / norm(s) * s
                params[i] = w_new * xp.minimum(xp.ones_like(r0[i]), (norm(w) + 1e-4 * r0[i]) / norm(w_new))
            else:
                s = s - xp.sum(s * w) / xp.sum(w * w) * w  # onto the tangent space
                w_new = w - rate * mult[i] * norm(w) / norm(s) * s  # rotation-based normalization
                params[i] = w_new * (r0[i] / norm(w_new))  # back to the initial norm
        trajectory.append([np.from_dlpack(xp.astype(p, xp.float64)) for p in params])
    return trajectory
