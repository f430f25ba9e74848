"""The XLA executor and the screened recipe: every layer turns as the two-pass reference turns it, whether it passes
the screen (unscaled sums) or fails it (the two passes under ``lax.cond``), and a jitted step holds no
parameter-sized temporary."""

import math
import re

import numpy as np
import pytest

import layca_core
from layca_conformance.backends import Backend, to_numpy
from layca_core import engine
from layca_core.engine.reference import ReferenceExecutor, per_layer
from tests.core.test_engine import ANGLE_TOLERANCE, RATE, check_turn, magnitudes, step_of

jax = pytest.importorskip("jax")
jnp = jax.numpy
from layca_jax import xla  # noqa: E402
from layca_jax.xla import XlaExecutor  # noqa: E402

SHAPE = (24, 16)


class Screening(XlaExecutor):
    """Records which layers the screen keeps."""

    def recompute(self, keep, values, recipe, ws, xs):
        self.kept = np.asarray(keep).tolist()
        return super().recompute(keep, values, recipe, ws, xs)


def layers(dtype):
    """Weights and steps that pass the screen (random), and that fail it: near-parallel, with non-finite entries,
    tiny, at the largest finite magnitude; plus zero weights (kept: such a layer never moves)."""
    rng = np.random.default_rng(0)
    ws = [rng.standard_normal(SHAPE) for _ in range(6)]
    steps = [step_of(1.0, SHAPE, 0), ws[1] + 0.3 * step_of(1.0, SHAPE, 1), step_of(1.0, SHAPE, 2)]
    steps[2][0, :3] = [np.nan, np.inf, -np.inf]
    steps += [step_of(1e-20, SHAPE, 3), step_of(float(np.finfo(np.float32).max) / 4, SHAPE, 4), step_of(1.0, SHAPE, 5)]
    ws[5] = np.zeros(SHAPE)
    return [Backend.JAX.asarray(w, dtype) for w in ws], [Backend.JAX.asarray(s, dtype) for s in steps]


def turn(executor_type, ws, steps, variant="layca", jit=True):
    def step(ws, steps, rates, norms):
        executor = executor_type(jnp, ws[0]).prepare(list(ws))
        return engine.turn_layers(list(ws), list(steps), rates, norms, executor=executor, variant=variant)

    reference = ReferenceExecutor(jnp, ws[0]).prepare(list(ws))
    rates = reference.vector([RATE] * len(ws))
    norms = per_layer([layca_core.initial_norm(w) for w in ws], reference)
    return [to_numpy(x) for x in (jax.jit(step) if jit else step)(ws, steps, rates, norms)]


def test_jax_arrays_take_the_xla_executor_which_screens_without_float64():
    ws = [jnp.ones((3, 2)), jnp.ones(4)]
    ((executor, part),) = engine.executors_for(jnp, ws)
    assert isinstance(executor, XlaExecutor) and part == [0, 1]
    assert executor.screens and not executor.exact_products
    chosen = engine.executors_for(jnp, ws, stacked=[True, False])
    assert [(type(e).__name__, part) for e, part in chosen] == [("ReferenceExecutor", [0]), ("XlaExecutor", [1])]


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_the_screen_keeps_ordinary_layers_and_recomputes_the_others(dtype):
    ws, steps = layers(dtype)
    executor = Screening(jnp, ws[0]).prepare(ws)
    rates, norms = executor.vector([RATE] * 6), per_layer([layca_core.initial_norm(w) for w in ws], executor)
    engine.turn_layers(ws, steps, rates, norms, executor=executor)
    assert executor.kept == [True, False, False, False, False, True]


@pytest.mark.parametrize("variant", ["layca", "lars", "hyperball"])
@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float16"])
def test_screened_layers_turn_as_the_two_passes_turn_them(dtype, variant):
    ws, steps = layers(dtype)
    if dtype == "float16":
        ws, steps = ws[:4] + ws[5:], steps[:4] + steps[5:]  # float16 has no magnitude near float32's largest
    screened, reference = turn(XlaExecutor, ws, steps, variant), turn(ReferenceExecutor, ws, steps, variant)
    for new, expected, w, s in zip(screened, reference, ws, steps):
        scale = float(np.abs(expected).max())
        np.testing.assert_allclose(new, expected, rtol=0, atol=4 * ANGLE_TOLERANCE[dtype] * scale)
        if variant == "layca" and np.abs(to_numpy(w)).max() > 0 and np.abs(to_numpy(s)).max() > 0:  # f16: 1e-20 is 0
            check_turn(to_numpy(w), new, dtype)


def test_the_fallback_stacks_layers_by_shape_in_bounded_stacks_and_keeps_their_order(monkeypatch):
    """Layers of several shapes, interleaved, each failing the screen: stacks of at most ``STACKED`` entries (two
    stacks of one shape here), a layer larger than that turned alone; every layer as the two-pass reference turns it."""
    monkeypatch.setattr(xla, "STACKED", 2 * 24 * 16)
    shapes = [(24, 16), (8, 4), (24, 16), (40, 24), (24, 16), (8, 4), (24, 16), (24, 16)]
    rng = np.random.default_rng(3)
    ws = [rng.standard_normal(shape) for shape in shapes]
    steps = [w + 0.3 * step_of(1.0, w.shape, i) for i, w in enumerate(ws)]  # within 45 degrees: the screen fails
    ws, steps = [Backend.JAX.asarray(w, "float32") for w in ws], [Backend.JAX.asarray(s, "float32") for s in steps]
    for new, expected in zip(turn(XlaExecutor, ws, steps), turn(ReferenceExecutor, ws, steps)):
        scale = float(np.abs(expected).max())
        np.testing.assert_allclose(new, expected, rtol=0, atol=4 * ANGLE_TOLERANCE["float32"] * scale)


@pytest.mark.parametrize("side", [64, 512])
def test_the_fallback_stacks_only_small_layers(side):
    """The fallback's stacks are a jitted step's only temporaries, at most two copies of the layers of at most
    ``STACKED`` entries (64x64 here); four layers of 512x512 are turned one by one, with no parameter-sized
    temporary."""
    optax = pytest.importorskip("optax")
    layca_optax = pytest.importorskip("layca_optax")
    params = {f"dense{i}": jnp.ones((side, side)) for i in range(4)}
    optimizer = layca_optax.layca(base="momentum")

    def step(params, state, grads):
        updates, state = optimizer.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    temporary = (
        jax.jit(step).lower(params, optimizer.init(params), params).compile().memory_analysis().temp_size_in_bytes
    )
    layer = side * side * 4
    assert temporary <= (2 * 4 * layer if side * side <= xla.STACKED else layer / 8) + 2**12


@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float16"])
def test_the_jitted_xla_step_is_exact_at_every_magnitude(dtype):
    weights = np.random.default_rng(0).standard_normal(SHAPE)
    ws = [Backend.JAX.asarray(weights, dtype)] * len(magnitudes(dtype))
    steps = [Backend.JAX.asarray(step_of(m, SHAPE, i), dtype) for i, m in enumerate(magnitudes(dtype))]
    for new in turn(XlaExecutor, ws, steps):
        check_turn(weights.astype(np.float32 if dtype == "float32" else np.float64), new, dtype)


def test_eager_and_jitted_steps_agree():
    ws, steps = layers("float32")
    for eager, jitted in zip(turn(XlaExecutor, ws, steps, jit=False), turn(XlaExecutor, ws, steps)):
        np.testing.assert_allclose(eager, jitted, rtol=0, atol=1e-6 * float(np.abs(jitted).max() + 1))


def test_a_jitted_optax_step_holds_no_parameter_sized_temporary():
    """Every parameter-sized array of a Layca-momentum step is an output (weights, momentum): the sums read the
    raw step and the apply forms ``sigma s - c w`` in its loop (the two-pass recipe wrote three temporaries)."""
    optax = pytest.importorskip("optax")
    layca_optax = pytest.importorskip("layca_optax")
    params = {"a": jnp.ones((256, 128)), "b": jnp.ones((128, 64)), "bias": jnp.ones(64)}
    optimizer = layca_optax.layca(base="momentum", momentum=0.9)

    def step(params, state, grads):
        updates, state = optimizer.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    compiled = jax.jit(step).lower(params, optimizer.init(params), params).compile()
    smallest_layer = 128 * 64 * 4
    assert compiled.memory_analysis().temp_size_in_bytes < smallest_layer / 8
    assert math.isfinite(float(compiled(params, optimizer.init(params), params)[0]["a"][0, 0]))


def test_an_eager_step_reads_the_screen_without_a_cond(monkeypatch):
    """Eager JAX would compile a ``cond`` of fresh closures at every step (300 ms against 8 for a small model)."""
    ws, steps = layers("float32")
    expected = turn(XlaExecutor, ws, steps, jit=False)
    monkeypatch.setattr(jax.lax, "cond", lambda *args: pytest.fail("an eager step ran lax.cond"))
    for new, reference in zip(turn(XlaExecutor, ws, steps, jit=False), expected):
        np.testing.assert_array_equal(new, reference)


@pytest.mark.parametrize("base", ["momentum", "adam"])
def test_a_jitted_optax_step_holds_as_many_conditionals_at_any_number_of_layers(base):
    """The screen's fallback is one ``lax.cond`` for the whole step, not one per layer (their compile time grew
    faster than the number of layers): the lowered step of 5 and of 20 dense layers holds the same conditionals."""
    optax = pytest.importorskip("optax")
    layca_optax = pytest.importorskip("layca_optax")
    optimizer = layca_optax.layca(base=base)

    def step(params, state, grads):
        updates, state = optimizer.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    def conditionals(layers):
        params = {f"dense{i}": {"w": jnp.ones((4, 3)), "b": jnp.ones(3)} for i in range(layers)}
        text = jax.jit(step).lower(params, optimizer.init(params), params).as_text()
        return len(re.findall(r"stablehlo\.(?:case|if|while)\b", text))

    assert 1 <= conditionals(5) == conditionals(20)
