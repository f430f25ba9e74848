"""Defaults, defined once: every adapter imports them from here."""

RATE = 3.0**-3
"""Rotation rate rho(0) with an SGD-like base (about 2.12 degrees per step)."""

ADAPTIVE_RATE = 3.0**-5
"""Rotation rate rho(0) with the Adam and SGD_AMom bases."""

ALPHA = 0.0
"""Layer-wise rate exponent of Equation 1: 0 rotates every layer at the same rate."""

BASE = "sgd"
MOMENTUM = 0.9
AMOM_BETA = 0.9
ADAM_BETA1 = 0.9
ADAM_BETA2 = 0.999
RMSPROP_RHO = 0.9
EPS = 1e-7
"""Denominator offset of Adam, RMSprop and Adagrad (the Keras value the paper used)."""

WEIGHT_DECAY = 0.0
"""L2 weight decay added to the gradient before the base direction, as torch.optim's SGD/Adam/RMSprop/Adagrad do:
none by default (on a layer the tangent projection removes its component along the weights, docs/algorithm.md)."""

LARS_MAX_NORM_GROWTH = 1e-4
"""LARS variant: a step may grow a layer's norm by at most this fraction of its initial norm."""

MIN_LAYER_NDIM = 2
"""By default a parameter is a Layca layer when it has at least this many dimensions."""


def default_rate(base: str) -> float:
    """The paper's rho(0) for a base direction."""
    return ADAPTIVE_RATE if base in ("adam", "amom") else RATE
