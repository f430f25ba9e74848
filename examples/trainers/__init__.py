"""One trainer per framework for the examples: ``build``, ``predict`` and ``train`` with the same signatures."""
