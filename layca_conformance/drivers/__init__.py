"""The drivers of the project's own adapters, each a function ``run(case, dtype, device)``.

See :class:`layca_conformance.Driver` for the contract; ``python -m layca_conformance --driver
layca_conformance.drivers.torch_driver:run`` checks one of them.
"""

from typing import Any


def framework_names(options: dict[str, Any], names: dict[str, Any]) -> dict[str, Any]:
    """A case's core-named base hyperparameters in an adapter's words, through its ``HYPERPARAMETER_NAMES``
    (framework name -> core name, or a tuple of core names for one grouped argument such as torch's ``betas``)."""
    translated = {}
    for framework, core in names.items():
        if isinstance(core, tuple):
            if any(c in options for c in core):
                translated[framework] = tuple(options[c] for c in core)
        elif core in options:
            translated[framework] = options[core]
    return translated
