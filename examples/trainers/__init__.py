"""One trainer per framework for the examples, each with ``build``, ``predict(network, weights, x)`` and ``train(network, weights, method, data, plan)``."""
