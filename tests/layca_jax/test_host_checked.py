"""``layca_jax.host_checked``: values pass through unchanged, a refusal fails the jitted call with its message, the
step keeps no effect (JAX's fast dispatch), and ``jax.vmap`` hands the check the batched values."""

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jnp = jax.numpy
from layca_jax import host_checked  # noqa: E402


def positive(values):
    for name, x in values.items():
        if not (x > 0).all():
            raise ValueError(f"{name} is not positive")


def test_values_pass_unchanged_and_the_jitted_step_keeps_no_effect():
    values = {"a": jnp.asarray([1.5, 2.0]), "b": jnp.asarray(3.0, jnp.bfloat16)}
    out = jax.jit(lambda v: host_checked(v, positive))(values)
    for key in values:
        assert out[key].dtype == values[key].dtype
        np.testing.assert_array_equal(np.asarray(out[key], np.float32), np.asarray(values[key], np.float32))
    assert not jax.make_jaxpr(lambda v: host_checked(v, positive))(values).effects


def test_a_refusal_fails_the_jitted_call_with_its_message():
    with pytest.raises(Exception, match="b is not positive"):
        jax.block_until_ready(jax.jit(lambda v: host_checked(v, positive))({"a": jnp.ones(2), "b": jnp.zeros(())}))


def test_under_vmap_the_check_sees_the_batch():
    seen = []

    def record(values):
        seen.append(values["a"].shape)
        positive(values)

    out = jax.jit(jax.vmap(lambda a: host_checked({"a": a}, record)["a"] * 2))(jnp.ones((3, 2)))
    np.testing.assert_array_equal(out, 2 * np.ones((3, 2)))
    assert seen == [(3, 2)]
    with pytest.raises(Exception, match="a is not positive"):
        jax.block_until_ready(jax.vmap(lambda a: host_checked({"a": a}, positive)["a"])(jnp.asarray([[1.0], [0.0]])))
