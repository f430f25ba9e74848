"""Classic mistakes of a Layca port, each a small deliberately wrong driver that the suite must reject.

``numpy_port`` is a correct port in NumPy, computing in the case's dtype; each mistake swaps one of
its pieces: the layer update, the rate it is given, the Equation 1 multipliers, the guard on
non-finite gradients, or Muon's orthogonalisation.
"""

import functools

import numpy as np

from layca_conformance import Case, reference


def numpy_port(case: Case, dtype: str, device: str, update=None, rate=None, multipliers=None, finite=True, base=None):
    """A correct port by default; ``update(w, s, rate, w0)`` (of Layca cases), ``rate(case, t, rate)``,
    ``multipliers(n, alpha)`` and ``base`` (a ``reference.BaseOptimizer`` class) swap its pieces."""
    update = update or (lambda w, s, r, w0: reference.layca_update(w, s, r, np.linalg.norm(w0)))
    if case.variant != "layca":
        update = lambda w, s, r, w0: reference.UPDATES[case.variant](w, s, r, np.linalg.norm(w0))
    params = [p.astype(dtype) for p in case.initial_params()]
    init = [p.copy() for p in params]
    flags = [p.ndim >= 2 for p in params]
    factors = iter((multipliers or reference.multipliers)(sum(flags), case.alpha))
    layer_factor = [next(factors) if flag else None for flag in flags]
    base = (base or reference.BaseOptimizer)(case.base, **case.options())
    trajectory = []
    for t, (global_rate, grads) in enumerate(zip(case.rates(), case.gradients())):
        layer_rate = rate(case, t, global_rate) if rate else global_rate
        for i, g in enumerate(g.astype(dtype) for g in grads):
            if layer_factor[i] is None:
                params[i] = params[i] - case.other_rate * base.step(i, g)
                continue
            g = np.where(np.isfinite(g), g, 0) if finite else g
            params[i] = update(params[i], base.step(i, g), layer_rate * layer_factor[i], init[i])
        trajectory.append([p.astype(np.float64) for p in params])
    return trajectory


def rate_as_angle(w, s, rate, w0):
    """Turns each layer by the angle ``rate`` (the step uses ``tan(rate)``), not by ``arctan(rate)``."""
    return reference.layca_update(w, s, np.tan(rate), np.linalg.norm(w0))


def no_projection(w, s, rate, w0):
    """The Hyperball variant: normalizes and renormalizes, but never projects ``s`` onto the tangent space."""
    w_new = w - rate * s * (np.linalg.norm(w) / np.linalg.norm(s))
    return w_new * (np.linalg.norm(w0) / np.linalg.norm(w_new))


def previous_norm(w, s, rate, w0):
    """Renormalizes to the norm before the step instead of the stored initial norm: round-off drifts."""
    return reference.layca_update(w, s, rate, np.linalg.norm(w))


def per_shard(w, s, rate, w0):
    """A layer split in two halves, each normalized with its own norms instead of the layer's global ones."""
    halves = [slice(0, w.size // 2), slice(w.size // 2, w.size)]
    flat = [
        reference.layca_update(*(a.ravel()[h] for a in (w, s)), rate, np.linalg.norm(w0.ravel()[h])) for h in halves
    ]
    return np.concatenate(flat).reshape(w.shape)


def adam_bias_correction(case: Case, t: int, rate: float) -> float:
    """The Adam step size ``sqrt(1 - b2^t) / (1 - b1^t)`` applied to the layers' rate."""
    if case.base != "adam":
        return rate
    options = case.options()
    return rate * np.sqrt(1 - options["b2"] ** (t + 1)) / (1 - options["b1"] ** (t + 1))


class FourNewtonSchulzSteps(reference.BaseOptimizer):
    """Muon's orthogonalisation stopped after four Newton-Schulz steps instead of five."""

    orthogonalize = staticmethod(functools.partial(reference.orthogonalize, steps=4))


MISTAKES = {
    "rate used as the angle": functools.partial(numpy_port, update=rate_as_angle),
    "no tangent projection (Hyperball)": functools.partial(numpy_port, update=no_projection),
    "renormalized to the previous norm": functools.partial(numpy_port, update=previous_norm),
    "Adam bias correction in the layers' rate": functools.partial(numpy_port, rate=adam_bias_correction),
    "base learning rate in the layers' rate": functools.partial(
        numpy_port, rate=lambda case, t, rate: rate * case.other_rate
    ),
    "non-finite gradients passed through": functools.partial(numpy_port, finite=False),
    "Equation 1 multipliers in reverse layer order": functools.partial(
        numpy_port, multipliers=lambda n, alpha: reference.multipliers(n, alpha)[::-1]
    ),
    "per-shard norms (a layer split in two halves)": functools.partial(numpy_port, update=per_shard),
    "four Newton-Schulz steps instead of five (Muon)": functools.partial(numpy_port, base=FourNewtonSchulzSteps),
}
"""Each mistake as a driver ``run(case, dtype, device)``."""

non_finite_passed_through = MISTAKES["non-finite gradients passed through"]
"""One mistake under a module-level name, for ``--driver tests.conformance.mistaken_drivers:non_finite_passed_through``."""
