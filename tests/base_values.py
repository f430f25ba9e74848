"""Non-default values for every base hyperparameter, in the core's names: each test puts them in its framework's
words with ``layca_conformance.drivers.framework_names`` and the adapter's ``HYPERPARAMETER_NAMES``."""

from layca_conformance.drivers import framework_names

NON_DEFAULT = {
    "sgd": {},
    "momentum": {"momentum": 0.8},
    "nesterov": {"momentum": 0.8},
    "amom": {"beta": 0.7},
    "adam": {"b1": 0.8, "b2": 0.99, "eps": 1e-6},
    "rmsprop": {"rho": 0.8, "eps": 1e-6},
    "adagrad": {"eps": 1e-6, "initial_accumulator": 0.1},
    "muon": {"momentum": 0.9, "b1": 0.8, "b2": 0.99, "eps": 1e-6},
}


def in_words(names: dict) -> dict[str, dict]:
    """``NON_DEFAULT`` per base in an adapter's words."""
    return {base: framework_names(values, names) for base, values in NON_DEFAULT.items()}
