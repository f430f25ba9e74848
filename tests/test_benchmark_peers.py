"""The benchmarks' peers: every optimizer a family times builds and moves the parameters on small shapes."""

import numpy as np
import pytest

torch_bench = pytest.importorskip("benchmarks.torch_bench")
SHAPES = [(8, 4), (8,), (3, 8)]


def _family_names(families: dict) -> list[str]:
    return [name for candidates, baselines in families.values() for name in (*candidates, *baselines)]


@pytest.mark.parametrize("name", _family_names(torch_bench.FAMILIES))
def test_every_torch_optimizer_of_a_family_steps(name):
    import torch

    torch.manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(s)) for s in SHAPES]
    for p in params:
        p.grad = torch.randn_like(p)
    before = [p.detach().clone() for p in params]
    torch_bench.OPTIMIZERS[name](params).step()
    assert all(torch.isfinite(p).all() for p in params)
    assert not torch.equal(params[0], before[0]), f"{name} did not move a layer"


@pytest.mark.parametrize("family", ["momentum", "adam"])
def test_each_family_times_its_layca_steps_against_torch_and_the_peers(family):
    candidates, baselines = torch_bench.FAMILIES[family]
    assert all(name.startswith("Layca") for name in candidates)
    assert any("(foreach)" in name for name in baselines)
    assert any("pytorch-optimizer" in name for name in baselines)


def test_every_optax_optimizer_of_a_family_steps():
    jnp = pytest.importorskip("jax.numpy")
    optax_bench = pytest.importorskip("benchmarks.optax_bench")
    rng = np.random.default_rng(0)
    params = [jnp.asarray(rng.standard_normal(s), dtype=jnp.float32) for s in SHAPES]
    grads = [jnp.asarray(rng.standard_normal(s), dtype=jnp.float32) for s in SHAPES]
    for name in _family_names(optax_bench.FAMILIES):
        step, state_bytes = optax_bench._stepper(optax_bench.OPTIMIZERS[name](), params, grads)
        moved = step()
        assert not np.array_equal(np.asarray(moved[0]), np.asarray(params[0])), f"{name} did not move a layer"
        assert state_bytes() >= 0
