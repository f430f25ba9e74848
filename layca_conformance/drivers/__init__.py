"""The drivers of the project's own adapters, each a function ``run(case, dtype, device)``.

See :class:`layca_conformance.Driver` for the contract; ``python -m layca_conformance --driver
layca_conformance.drivers.torch_driver:run`` checks one of them.
"""
