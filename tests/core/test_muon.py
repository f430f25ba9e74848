"""The muon base: Newton-Schulz as the reference implementations run it, the layout rule, Adam below two dimensions,
scale invariance for any finite gradient, and its multi-tensor form."""

import math

import numpy as np
import pytest

import layca_core
from layca_conformance import reference
from layca_conformance.backends import to_numpy
from layca_core.orthogonal import newton_schulz

SHAPES = ((12, 5), (5, 12), (6, 3, 2, 2), (7,))


def muon_steps(grads, **hyperparameters):
    base = layca_core.direction("muon", **hyperparameters)
    state, steps = base.init(grads[0]), []
    for g in grads:
        step, state = base.update(g, state)
        steps.append(step)
    return steps, state


def assert_close(got, want, rtol):
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * np.abs(want).max())


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("nesterov", [True, False])
def test_muon_follows_the_independent_reference_on_every_backend(backend_wide_dtype, rng, shape, nesterov):
    backend, dtype = backend_wide_dtype
    grads = [rng.standard_normal(shape) for _ in range(3)]
    options = {"momentum": 0.9, "nesterov": nesterov, "b1": 0.8, "b2": 0.99, "eps": 1e-6}
    want = reference.BaseOptimizer("muon", **options)
    steps, _ = muon_steps([backend.asarray(g, dtype) for g in grads], **options)
    for g, step in zip(grads, steps):
        assert_close(to_numpy(step), want.step(0, g), {"float64": 1e-10}.get(dtype, 2e-5))


def test_newton_schulz_is_torch_muons_up_to_its_bfloat16_iteration(rng):
    torch = pytest.importorskip("torch")
    param = torch.nn.Parameter(torch.tensor(rng.standard_normal((12, 5)), dtype=torch.float32))
    before = param.detach().clone()
    optimizer = torch.optim.Muon([param], lr=1.0, weight_decay=0.0, adjust_lr_fn="original")
    grads = [rng.standard_normal((12, 5)) for _ in range(2)]
    steps, _ = muon_steps([np.asarray(g, np.float32) for g in grads], out_axis=0)
    for g, step in zip(grads, steps):
        param.grad = torch.tensor(g, dtype=torch.float32)
        optimizer.step()
        assert_close((before - param.detach()).numpy(), step, 3e-2)  # torch iterates in bfloat16
        before = param.detach().clone()


def test_newton_schulz_is_optax_muons(rng):
    """Without Nesterov: Optax's Nesterov form bias-corrects ``m`` and ``g`` apart, another mix of the two."""
    jax = pytest.importorskip("jax")
    optax = pytest.importorskip("optax")
    params = {"w": jax.numpy.asarray(rng.standard_normal((12, 5)), jax.numpy.float32)}
    optimizer = optax.contrib.muon(learning_rate=1.0, nesterov=False)
    state = optimizer.init(params)
    grads = [rng.standard_normal((12, 5)).astype(np.float32) for _ in range(3)]
    steps, _ = muon_steps(grads, nesterov=False)
    for g, step in zip(grads, steps):
        updates, state = optimizer.update({"w": jax.numpy.asarray(g)}, state, params)
        assert_close(-np.asarray(updates["w"]), step, 1e-4)


def test_a_torch_kernel_and_its_keras_layout_take_the_same_step(rng):
    torch_kernel = rng.standard_normal((6, 3, 2, 2))  # (out, in, kh, kw)
    keras_kernel = np.transpose(torch_kernel, (2, 3, 1, 0))  # (kh, kw, in, out)
    by_torch_rule = newton_schulz(torch_kernel, out_axis=0)
    np.testing.assert_allclose(np.transpose(newton_schulz(keras_kernel), (3, 2, 0, 1)), by_torch_rule, atol=1e-12)
    matrix = by_torch_rule.reshape(6, 12)  # torch's reference: the (out, in*kh*kw) matrix
    np.testing.assert_allclose(matrix, newton_schulz(torch_kernel.reshape(6, 12)), atol=1e-12)
    singular = np.linalg.svd(matrix, compute_uv=False)
    assert singular.min() > 0.5 and singular.max() < 1.5  # roughly orthogonal: US'V^T, S' near 1


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_any_finite_scale_gives_the_same_step_and_zero_gives_zero(rng, dtype):
    g = rng.standard_normal((9, 4))
    info = np.finfo(dtype)
    expected = newton_schulz(g.astype(dtype))
    for magnitude in (float(info.smallest_normal) * 4, 1e-30, 1.0, 1e30, float(info.max) / 4):
        scaled = (g / np.abs(g).max() * magnitude).astype(dtype)
        assert_close(newton_schulz(scaled), expected, 8 * float(info.eps) * 10)
    zero = newton_schulz(np.zeros((9, 4), dtype))
    assert zero.dtype == np.dtype(dtype) and not zero.any()


def test_fewer_than_two_dimensions_take_adams_step(rng):
    grads = [rng.standard_normal(7) for _ in range(3)]
    steps, state = muon_steps(grads, b1=0.8, b2=0.99, eps=1e-6)
    adam = layca_core.direction("adam", b1=0.8, b2=0.99, eps=1e-6)
    adam_state = adam.init(grads[0])
    for g, step in zip(grads, steps):
        want, adam_state = adam.update(g, adam_state)
        np.testing.assert_array_equal(step, want)
    assert float(state.count) == 3


def test_matrices_keep_a_momentum_and_no_second_moment(rng):
    g = rng.standard_normal((4, 6))
    _, state = muon_steps([g], momentum=0.5)
    np.testing.assert_allclose(state.mu, 0.5 * g)
    assert state.nu.shape == () and float(state.count) == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"nesterov": 1}, "needs nesterov as a Python bool"),
        ({"out_axis": 1}, "needs out_axis 0 or -1"),
        ({"momentum": 1.0}, r"needs 0 <= momentum < 1"),
    ],
)
def test_muon_hyperparameters_are_checked(options, message):
    with pytest.raises(ValueError, match=message):
        layca_core.direction("muon", **options)


@pytest.mark.parametrize("dtype_name", ["float32", "float64", "bfloat16"])
def test_the_multi_tensor_form_matches_the_per_tensor_form(rng, dtype_name):
    torch = pytest.importorskip("torch")
    from layca_torch._executors.bases import base_steps

    dtype = getattr(torch, dtype_name)
    base = layca_core.direction("muon", momentum=0.9, out_axis=0)
    grads = [[torch.tensor(rng.standard_normal(s), dtype=dtype) for s in SHAPES] for _ in range(3)]
    multi = [base.init(g) for g in grads[0]]
    single = [base.init(g) for g in grads[0]]
    for step_grads in grads:
        steps = base_steps(base, step_grads, multi, guard=True, owned=True)
        for i, (g, step) in enumerate(zip(step_grads, steps)):
            want, single[i] = base.update(g, single[i])
            eps = torch.finfo(dtype).eps
            scale = float(want.double().abs().max())
            ulps = 64  # the momenta agree to a few ulps (test_bases.py); the iteration's slope amplifies them
            torch.testing.assert_close(step.double(), want.double(), rtol=ulps * eps, atol=ulps * eps * scale)
    assert all(math.isfinite(float(s.double().abs().sum())) for s in steps)
