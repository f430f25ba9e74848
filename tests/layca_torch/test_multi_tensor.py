"""The multi-tensor executor (torch's default) against the reference executor: exact at every step magnitude, on
mixed layers in place, and in the screened recipe's ``recompute``."""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the multi-tensor executor runs on torch tensors")

import layca_core  # noqa: E402
from layca_conformance.backends import Backend, to_numpy  # noqa: E402
from layca_core import engine  # noqa: E402
from layca_core.engine.reference import per_layer  # noqa: E402
from layca_torch._executors import local_sums  # noqa: E402
from layca_torch._executors.policy import build_executor  # noqa: E402
from tests.core.test_engine import ANGLE_TOLERANCE, RATE, check_turn, magnitudes, step_of  # noqa: E402


@pytest.mark.parametrize("dtype", ["float64", "float32", "bfloat16", "float16"])
@pytest.mark.parametrize("variant", ["layca", "lars"])
def test_torch_executor_matches_the_reference_at_every_magnitude(dtype, variant):
    layers = [np.random.default_rng(i).standard_normal(shape) for i, shape in enumerate([(24, 16), (3, 3, 2, 5)])]
    ws = [Backend.TORCH.asarray(x, dtype) for x in layers]
    rates = [RATE, 0.5 * RATE]
    for index, magnitude in enumerate(magnitudes(dtype)):
        steps = [Backend.TORCH.asarray(step_of(magnitude, x.shape, index), dtype) for x in layers]
        turned = {}
        for multi in (True, False):
            name = "multi_tensor" if multi else "reference"
            executor = build_executor(name, layca_core.array_namespace(ws[0]), ws)
            norms = per_layer([layca_core.initial_norm(w) for w in ws], executor)
            new = engine.turn_layers(
                list(ws), [s.clone() for s in steps], executor.vector(rates), norms, executor=executor, variant=variant
            )
            turned[multi] = [to_numpy(x) for x in new]
        for fast, reference, w, rate in zip(turned[True], turned[False], ws, rates):
            scale = float(np.abs(reference).max())
            np.testing.assert_allclose(fast, reference, rtol=0, atol=4 * ANGLE_TOLERANCE[dtype] * scale)
            if variant == "layca":
                check_turn(to_numpy(w), fast, dtype, rate)
        assert torch.equal(ws[0], Backend.TORCH.asarray(layers[0], dtype)), "the pure executor wrote its input"


@pytest.mark.parametrize("dtype", ["float64", "float32", "bfloat16"])
def test_the_in_place_torch_executor_matches_the_reference_on_mixed_layers(dtype, monkeypatch):
    """An optimizer's own step: non-finite entries in one layer only, one step far out of range among steps in it
    (on the CPU the executor then cleans one layer and scales every step with a pass of its own); a large layer
    reduced in several blocks of rows."""
    monkeypatch.setattr(local_sums, "BLOCK_ROWS", 1)
    shapes = [(24, 16), (300, 140), (3, 3, 2, 5), (7,)]
    layers = [np.random.default_rng(i).standard_normal(shape) for i, shape in enumerate(shapes)]
    steps = [step_of(magnitude, x.shape, i) for i, (x, magnitude) in enumerate(zip(layers, [1.0, 3e-3, 1e30, 50.0]))]
    steps[1][0, :3] = [np.nan, np.inf, -np.inf]
    for far in (True, False):
        steps[2] = step_of(1e30 if far else 2.0, shapes[2], 2)
        turned = {}
        for in_place in (True, False):
            ws = [Backend.TORCH.asarray(x, dtype).clone() for x in layers]
            xp = layca_core.array_namespace(ws[0])
            executor = build_executor("multi_tensor" if in_place else "reference", xp, ws, in_place=in_place)
            norms = per_layer([layca_core.initial_norm(w) for w in ws], executor)
            given = [Backend.TORCH.asarray(s, dtype) for s in steps]
            before = [s.clone() for s in given]
            rates = executor.vector([RATE] * len(ws))
            turned[in_place] = [to_numpy(x) for x in engine.turn_layers(ws, given, rates, norms, executor=executor)]
            if in_place:  # on the CPU the steps are read, never written: a base may pass its state as its step
                assert executor.writes_steps is False
                for s, b in zip(given, before):
                    torch.testing.assert_close(s, b, rtol=0, atol=0, equal_nan=True)
        for fast, reference, w in zip(turned[True], turned[False], layers):
            np.testing.assert_allclose(
                fast, reference, rtol=0, atol=4 * ANGLE_TOLERANCE[dtype] * np.abs(reference).max()
            )
            check_turn(to_numpy(Backend.TORCH.asarray(w, dtype)), fast, dtype)


@pytest.mark.parametrize("variant", ["layca", "lars"])
def test_the_screened_recipe_on_the_multi_tensor_executor_matches_the_reference(variant):
    """``recompute`` keeps the screened values where ``keep`` holds and recomputes the others by the two-pass recipe,
    as the reference executor does."""
    layers = [np.random.default_rng(i).standard_normal(shape) for i, shape in enumerate([(24, 16), (3, 5), (7,)])]
    ws = [Backend.TORCH.asarray(x, "float32") for x in layers]
    given = [step_of(1.0, x.shape, i) for i, x in enumerate(layers)]
    given[1] = 3 * layers[1] + 0.1 * given[1]  # within 45 degrees of the weights: fails the screen, recomputed
    steps = [Backend.TORCH.asarray(x, "float32") for x in given]
    turned = {}
    for name in ("multi_tensor", "reference"):
        executor = build_executor(name, layca_core.array_namespace(ws[0]), ws)
        executor.screens, executor.exact_products = True, False
        norms = per_layer([layca_core.initial_norm(w) for w in ws], executor)
        new = engine.turn_layers(
            list(ws), [s.clone() for s in steps], executor.vector([RATE] * 3), norms, executor=executor, variant=variant
        )
        turned[name] = [to_numpy(x) for x in new]
    for fast, reference, w in zip(turned["multi_tensor"], turned["reference"], ws):
        np.testing.assert_allclose(
            fast, reference, rtol=0, atol=8 * ANGLE_TOLERANCE["float32"] * np.abs(reference).max()
        )
        if variant == "layca":
            check_turn(to_numpy(w), fast, "float32")


def test_the_screened_cpu_step_mixes_magnitudes_and_non_finite_entries_in_one_call():
    """On the CPU the multi-tensor executor screens: in one call, layers whose steps are tiny, huge, hold NaN or lie
    within 45 degrees of the weights take the two passes, the others the one pass; all agree with the reference."""
    shapes = [(24, 16), (3, 5), (40, 30), (7, 9), (11,)]
    layers = [np.random.default_rng(i).standard_normal(shape) for i, shape in enumerate(shapes)]
    ws = [Backend.TORCH.asarray(x, "float32") for x in layers]
    given = [step_of(m, x.shape, i) for i, (m, x) in enumerate(zip([1.0, 1e-30, 1e30, 1.0, 1.0], layers))]
    given[3] = 3 * layers[3] + 0.1 * given[3]
    given[4][2] = np.nan
    steps = [Backend.TORCH.asarray(x, "float32") for x in given]
    turned = {}
    for name in ("multi_tensor", "reference"):
        executor = build_executor(name, layca_core.array_namespace(ws[0]), ws)
        assert name == "reference" or executor.screens
        norms = per_layer([layca_core.initial_norm(w) for w in ws], executor)
        new = engine.turn_layers(
            list(ws), [s.clone() for s in steps], executor.vector([RATE] * 5), norms, executor=executor
        )
        turned[name] = [to_numpy(x) for x in new]
    for fast, reference, w in zip(turned["multi_tensor"], turned["reference"], ws):
        assert np.isfinite(fast).all()
        np.testing.assert_allclose(
            fast, reference, rtol=0, atol=8 * ANGLE_TOLERANCE["float32"] * np.abs(reference).max()
        )
        check_turn(to_numpy(w), fast, "float32")


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_the_blocked_cpu_passes_give_the_bits_of_the_multi_tensor_kernels(dtype, threads):
    """The base steps' passes and the apply, block by block on large CPU tensors (``tensors.blockwise``), give the
    bits of one multi-tensor kernel per operation over whole tensors: sizes with a tail, a small tensor among them."""
    from layca_torch._executors.bases import TorchPrimitives
    from layca_torch._executors.tensors import BLOCK

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        sizes = [2 * BLOCK + 37, 300, BLOCK + 1]
        g = torch.Generator().manual_seed(0)
        grads, mu, nu, ws = ([torch.randn(n, generator=g, dtype=dtype) for n in sizes] for _ in range(4))
        nu = [v.abs() for v in nu]
        scales = [torch.tensor(0.3, dtype=dtype)] * len(sizes)
        a, b = torch.tensor([0.7, 0.9, 1.1], dtype=torch.float64), torch.tensor([-0.3, 0.2, -0.1], dtype=dtype)
        expected = [t.clone() for t in mu], [t.clone() for t in nu], [t.clone() for t in ws]
        torch._foreach_mul_(expected[0], 0.9)
        torch._foreach_add_(expected[0], grads, alpha=0.1)
        torch._foreach_mul_(expected[1], 0.999)
        torch._foreach_addcmul_(expected[1], grads, grads, value=0.001)
        quotients = torch._foreach_div(expected[1], scales)
        torch._foreach_sqrt_(quotients)
        torch._foreach_add_(quotients, 1e-8)
        quotients = [torch.div(x, q) for x, q in zip(expected[0], quotients)]
        torch._foreach_mul_(expected[2], a.tolist())
        torch._foreach_addcmul_(expected[2], quotients, list(b.unbind()))

        ops = TorchPrimitives(({}, list(range(len(sizes)))))
        ops.blend(mu, 0.9, grads, 0.1)
        ops.blend_squares(nu, 0.999, grads, 0.001)
        steps = ops.over_root(mu, nu, 1e-8, scales)
        executor = build_executor("multi_tensor", layca_core.array_namespace(ws[0]), ws, in_place=True)
        executor.combine(ws, steps, a, b.to(torch.float64))
        for got, want in zip([*mu, *nu, *steps, *ws], [*expected[0], *expected[1], *quotients, *expected[2]]):
            assert torch.equal(got, want)
    finally:
        torch.set_num_threads(before)


def test_the_recompute_reads_the_screens_sums_again():
    """A layer that fails the screen takes the two passes without summing ``|w|^2`` and ``<w, s>`` again (the screen's
    values, kept by identity), and the step's bits are those of a recompute that sums them again."""
    shapes = [(300, 140), (64, 600)]
    layers = [np.random.default_rng(i).standard_normal(shape).astype(np.float32) for i, shape in enumerate(shapes)]
    given = [step_of(1.0, x.shape, i).astype(np.float32) for i, x in enumerate(layers)]
    given[1] = 3 * layers[1] + 0.1 * given[1]  # within 45 degrees of the weights: fails the screen
    turned, dotted = {}, {}
    for keep in (True, False):
        ws = [torch.from_numpy(x.copy()) for x in layers]
        executor = build_executor("multi_tensor", layca_core.array_namespace(ws[0]), ws, in_place=True)
        assert executor.screens
        if not keep:
            executor._summed = type("Forgetful", (dict,), {"__setitem__": lambda *_: None})()
        rows: list[int] = []
        executor._row_dots = counted(executor._row_dots, rows)
        norms = per_layer([layca_core.initial_norm(w) for w in ws], executor)
        steps = [torch.from_numpy(x.copy()) for x in given]
        turned[keep] = engine.turn_layers(ws, steps, executor.vector([RATE] * 2), norms, executor=executor)
        dotted[keep] = sum(rows)
    assert dotted[True] < dotted[False]
    for kept, summed in zip(turned[True], turned[False]):
        assert torch.equal(kept, summed)


def counted(row_dots, rows):
    """``row_dots``, adding the number of rows of each call to ``rows``."""

    def dots(w, x, buffers):
        rows.append(w.shape[0] if w.dim() > 1 else 1)
        return row_dots(w, x, buffers)

    return dots
