"""An independent float64 NumPy reference of Layca, written from the algorithm, not from layca_core.

Kept deliberately plain: one loop per step, one function per formula, no guards beyond what
the algorithm states (random test gradients never trigger the parallel-step guard). Muon's matrices
follow the ``(..., in, out)`` layout: the last axis is the fan-out.
"""

import numpy as np


def multipliers(num_layers: int, alpha: float) -> list[float]:
    """Equation 1."""
    if num_layers == 1:
        return [1.0]
    last = num_layers - 1
    if alpha <= 0:
        return [(1 + alpha) ** (5 * i / last) for i in range(num_layers)]
    return [(1 - alpha) ** (5 * (last - i) / last) for i in range(num_layers)]


NEWTON_SCHULZ = ((3.4445, -4.7750, 2.0315), 5)
"""Muon's quintic Newton-Schulz coefficients and step count (torch.optim.Muon, optax.contrib.muon, Keras)."""


def orthogonalize(x: np.ndarray, coefficients=NEWTON_SCHULZ[0], steps: int = NEWTON_SCHULZ[1]) -> np.ndarray:
    """Muon's Newton-Schulz iteration on ``x`` as a ``(prod(shape[:-1]), shape[-1])`` matrix: transposed to be wide,
    divided by its Frobenius norm, then ``X <- a X + b (X X^T) X + c (X X^T)^2 X``."""
    m = x.reshape(-1, x.shape[-1])
    tall = m.shape[0] > m.shape[1]
    m = m.T if tall else m
    norm = np.linalg.norm(m)
    m = m / norm if norm > 0 else m
    a, b, c = coefficients
    for _ in range(steps):
        gram = m @ m.T
        m = a * m + b * gram @ m + c * gram @ gram @ m
    return (m.T if tall else m).reshape(x.shape)


class BaseOptimizer:
    """The base directions (every hyperparameter given), state kept per parameter as float64 arrays."""

    orthogonalize = staticmethod(orthogonalize)

    def __init__(self, name: str, **h: float) -> None:
        self.name, self.h, self.state = name, h, {}

    def step(self, key: int, g: np.ndarray) -> np.ndarray:
        h, st = self.h, self.state.setdefault(key, {"m": np.zeros_like(g), "v": np.zeros_like(g), "t": 0})
        st["t"] += 1
        if self.name == "sgd":
            return g
        if self.name in ("momentum", "nesterov"):
            mu = h["momentum"]
            st["m"] = mu * st["m"] + g
            return g + mu * st["m"] if self.name == "nesterov" else st["m"]
        if self.name == "amom":
            beta = h["beta"]
            st["m"] = beta * st["m"] + (1 - beta) * g
            return st["m"]
        eps = h["eps"]
        if self.name == "muon" and g.ndim >= 2:
            mu = h["momentum"]
            st["m"] = mu * st["m"] + (1 - mu) * g
            d = (1 - mu) * g + mu * st["m"] if h["nesterov"] else st["m"]
            fan_out = g.shape[-1]
            return self.orthogonalize(d) * np.sqrt(max(1.0, fan_out * fan_out / g.size))
        if self.name in ("adam", "muon"):
            b1, b2, t = h["b1"], h["b2"], st["t"]
            st["m"] = b1 * st["m"] + (1 - b1) * g
            st["v"] = b2 * st["v"] + (1 - b2) * g * g
            return (st["m"] / (1 - b1**t)) / (np.sqrt(st["v"] / (1 - b2**t)) + eps)
        if self.name == "rmsprop":
            rho = h["rho"]
            st["v"] = rho * st["v"] + (1 - rho) * g * g
            return g / (np.sqrt(st["v"]) + eps)
        if self.name == "adagrad":
            st["v"] = st["v"] + g * g
            return g / (np.sqrt(st["v"]) + eps)
        raise ValueError(self.name)


def layca_update(w: np.ndarray, s: np.ndarray, rate: float, r0: float) -> np.ndarray:
    """Algorithm 1, operations 1 to 4."""
    s_perp = s - (np.vdot(s, w) / np.vdot(w, w)) * w
    s_hat = s_perp * np.linalg.norm(w) / np.linalg.norm(s_perp)
    w_prime = w - rate * s_hat
    return w_prime * r0 / np.linalg.norm(w_prime)


def lars_update(w: np.ndarray, s: np.ndarray, rate: float, r0: float) -> np.ndarray:
    """Operations 2 and 3, with the norm growth capped at 1e-4 r0 per step."""
    norm = np.linalg.norm(w)
    w_prime = w - rate * s * norm / np.linalg.norm(s)
    cap = norm + 1e-4 * r0
    new_norm = np.linalg.norm(w_prime)
    return w_prime * (cap / new_norm) if new_norm > cap else w_prime


def hyperball_update(w: np.ndarray, s: np.ndarray, rate: float, r0: float) -> np.ndarray:
    """Operations 2 to 4 without the projection: the normalized step is taken, then back onto the initial sphere."""
    w_prime = w - rate * s * np.linalg.norm(w) / np.linalg.norm(s)
    return w_prime * r0 / np.linalg.norm(w_prime)


def hyperball_angle(w: np.ndarray, s: np.ndarray, rate: float) -> float:
    """The angle a hyperball step turns ``w``: ``atan2(rate sin(theta), 1 - rate cos(theta))``, theta the angle
    between ``s`` and ``w`` (any finite magnitudes)."""
    u, v = (x.ravel() / np.abs(x).max() for x in (w, s))
    u, v = u / np.linalg.norm(u), v / np.linalg.norm(v)
    theta = 2 * np.arctan2(np.linalg.norm(u - v), np.linalg.norm(u + v))
    return float(np.arctan2(rate * np.sin(theta), 1 - rate * np.cos(theta)))


UPDATES = {"layca": layca_update, "lars": lars_update, "hyperball": hyperball_update}
"""Each variant's layer update."""


def cosine_distance(w: np.ndarray, w0: np.ndarray) -> float:
    u, v = w.ravel() / np.linalg.norm(w), w0.ravel() / np.linalg.norm(w0)
    return float(np.sum((u - v) ** 2) / 2)


def run(case, params: list[np.ndarray], grads: list[list[np.ndarray]], rates: list[float]) -> list[list[np.ndarray]]:
    """Weights after each step, in float64. ``rates[t]`` is the global rate at step t."""
    params = [p.astype(np.float64) for p in params]
    is_layer = [p.ndim >= 2 for p in params]
    mult = iter(multipliers(sum(is_layer), case.alpha))
    layer_mult = [next(mult) if flag else None for flag in is_layer]
    r0 = [float(np.linalg.norm(p)) for p in params]
    base = BaseOptimizer(case.base, **case.options())
    update = UPDATES[case.variant]
    trajectory = []
    for rate, step_grads in zip(rates, grads):
        new = []
        for i, (p, g) in enumerate(zip(params, step_grads)):
            g = g.astype(np.float64)
            if layer_mult[i] is not None:
                g = np.where(np.isfinite(g), g, 0.0)
                new.append(update(p, base.step(i, g), rate * layer_mult[i], r0[i]))
            else:
                new.append(p - case.other_rate * base.step(i, g))
        params = new
        trajectory.append(params)
    return trajectory
