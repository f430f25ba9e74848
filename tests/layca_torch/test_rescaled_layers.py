"""A layer rescaled far from its stored norm, so far that its squares under- or overflow the dtype its sums
accumulate in, is turned and put back on that norm as the same layer near it is: float64 layers (sums in float64),
float32 and bfloat16 ones (chunk sums in float32), on every path: the default executors, ``foreach=False`` (the
core's reference executor) and ``fused=True``; Adam and momentum."""

import copy

import pytest

torch = pytest.importorskip("torch")

import array_api_compat.torch as xp  # noqa: E402

import layca_core  # noqa: E402
import layca_torch  # noqa: E402
from layca_core import engine  # noqa: E402
from layca_torch._executors.policy import build_executor  # noqa: E402

RATE = 0.1
SCALES = {
    torch.float64: [1e-300, 1e-200, 1e200, 1e300],
    torch.float32: [1e-30, 1e30],
    torch.bfloat16: [1e-30, 1e30],
}
PATHS = {"default": {}, "reference": {"foreach": False}, "fused": {"fused": True}}
SHAPES = {"small": (6, 4), "large": (160, 128)}
"""Small layers take the flat executor on the CPU (float64 ones the multi-tensor executor), large ones the
multi-tensor executor, or the compiled one with ``fused=True``."""


def stepped(dtype, base, path, shape):
    """An optimizer whose first step stored the layer's norm, and the layer."""
    generator = torch.Generator().manual_seed(0)
    p = torch.nn.Parameter(torch.randn(shape, generator=generator, dtype=torch.float64).to(dtype))
    optimizer = layca_torch.Layca([p], lr=RATE, base=base, **PATHS[path])
    p.grad = torch.randn(shape, generator=generator, dtype=torch.float64).to(dtype)
    optimizer.step()
    return optimizer, p


def turned_at(optimizer, p, scale):
    """The layer multiplied by ``scale`` (rounded once to its dtype), then one step of a copy of the optimizer: the
    weights before and after, in float64."""
    optimizer, p = copy.deepcopy((optimizer, p))
    with torch.no_grad():
        p.copy_((p.double() * scale).to(p.dtype))
    p.grad = torch.randn(p.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64).to(p.dtype)
    before = p.detach().double().clone()
    optimizer.step()
    return before, p.detach().double()


@pytest.mark.filterwarnings("ignore:.*by shape alone")
@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("base", ["momentum", "adam"])
@pytest.mark.parametrize("dtype", list(SCALES), ids=str)
def test_a_rescaled_layer_is_turned_back_onto_its_stored_norm(dtype, base, path, shape):
    optimizer, p = stepped(dtype, base, path, SHAPES[shape])
    stored = float(optimizer.state[p]["init_norm"])
    w, expected = turned_at(optimizer, p, 2.0)  # near its stored norm, the layer is turned and renormalized
    resolution = 2 * torch.finfo(dtype).eps
    assert float(torch.linalg.vector_norm(expected)) == pytest.approx(stored, rel=resolution)
    assert float(layca_core.step_angle(w, expected)) > 0.05
    for scale in SCALES[dtype]:
        w, new = turned_at(optimizer, p, scale)
        assert not torch.equal(new, w), f"the layer at scale {scale} did not move"
        assert float(torch.linalg.vector_norm(new)) == pytest.approx(stored, rel=resolution), scale
        # a 16-bit layer rescaled rounds differently from the one at scale 2: its turn differs by that rounding
        tolerance = (1e-10 if dtype == torch.float64 else 1e-5 if dtype == torch.float32 else 2e-2) * stored
        torch.testing.assert_close(new, expected, rtol=0, atol=tolerance, msg=f"scale {scale}")


def executor_turn(ws, steps, host_checks, scales_weights=True):
    """``turn_layers`` with torch's multi-tensor executor, as on the CPU (``host_checks``) or as on another device
    (every scalar kept on the device, steps written in place), its weight scaling on or off."""
    executor = build_executor("multi_tensor", xp, ws)
    executor.host_checks = host_checks
    executor.writes_steps = not host_checks
    executor.screens = executor.screens and host_checks
    executor.scales_weights = scales_weights
    rates, norms = executor.vector([RATE] * len(ws)), executor.vector([3.0] * len(ws))
    return engine.turn_layers(list(ws), [s.clone() for s in steps], rates, norms, executor=executor)


@pytest.mark.parametrize("host_checks", [True, False], ids=["cpu", "device"])
def test_the_executor_scales_weights_without_writing_them_and_ordinary_layers_keep_their_bits(host_checks):
    generator = torch.Generator().manual_seed(2)
    sizes = [24, 20000, 24, 20000, 24]  # small and chunked layers; the middle ones far from their norm
    ws = [torch.randn(n, generator=generator, dtype=torch.float64) for n in sizes]
    steps = [torch.randn(n, generator=generator, dtype=torch.float64) for n in sizes]
    rescaled = [w * s for w, s in zip(ws, [1.0, 1e-250, 1e250, 1.0, 1.0])]
    given = [w.clone() for w in rescaled]
    new = executor_turn(rescaled, steps, host_checks)
    assert all(torch.equal(w, g) for w, g in zip(rescaled, given)), "the executor wrote the weights"
    reference = executor_turn(ws, steps, host_checks)
    for n, r in zip(new, reference):
        torch.testing.assert_close(n, r, rtol=0, atol=1e-12 * float(r.abs().max()))
    unscaled = executor_turn(ws, steps, host_checks, scales_weights=False)
    assert all(torch.equal(n, u) for n, u in zip(reference, unscaled)), "an ordinary layer's bits changed"


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize(
    ("dtype", "scale"),
    [(torch.float64, 1e-200), (torch.float64, 1e300), (torch.float32, 1e-30), (torch.float32, 1e30)],
    ids=str,
)
def test_a_layer_far_from_one_at_its_first_step_stores_its_norm_and_turns(dtype, scale, path):
    generator = torch.Generator().manual_seed(3)
    w = torch.randn(SHAPES["large"], generator=generator, dtype=torch.float64)
    p = torch.nn.Parameter((w * scale).to(dtype))
    optimizer = layca_torch.Layca([p], lr=RATE, **PATHS[path])
    p.grad = torch.randn(p.shape, generator=generator, dtype=torch.float64).to(dtype)
    before = p.detach().double().clone()
    optimizer.step()
    expected = float(torch.linalg.vector_norm(w)) * scale
    assert float(optimizer.state[p]["init_norm"]) == pytest.approx(expected, rel=1e-6, abs=0)
    assert float(torch.linalg.vector_norm(p.detach().double() / scale)) * scale == pytest.approx(expected, rel=1e-5)
    assert float(layca_core.step_angle(before / scale, p.detach().double() / scale)) > 0.05
