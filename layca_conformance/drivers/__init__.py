"""Adapter drivers: how the conformance suite runs a case through a public API.

A driver is a function ``run(case, dtype) -> trajectory``: it starts from
``case.initial_params()`` (float64 NumPy arrays, cast to ``dtype``), feeds
``case.gradients()[t]`` at step ``t`` with the global rotation rate ``case_rates(case)[t]``
for the layers (``ndim >= 2``) and ``case.other_rate`` for the other parameters, and returns
the weights after every step as float64 NumPy arrays. Porting Layca to another framework?
Write one such function and add it to a ``DRIVERS`` table like ``test_adapters.py`` does.
"""
