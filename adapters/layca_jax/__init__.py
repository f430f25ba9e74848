"""layca_jax: what ``layca_optax`` and Keras on JAX share, JAX's executor of the Layca step (``xla``).

No optax here: it depends on JAX alone.
"""
