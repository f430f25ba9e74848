"""The examples' PyTorch and JAX trainers run the same experiment; the shared pieces behave."""

import numpy as np
import pytest

import layca_core
from examples import experiment, networks
from tests.examples import trainer_agreement as agreement

jax_trainer = pytest.importorskip("examples.trainers.jax_trainer")
torch_trainer = pytest.importorskip("examples.trainers.torch_trainer")


@pytest.mark.parametrize("name", sorted(agreement.NETWORKS))
def test_torch_and_jax_build_the_same_network(name):
    agreement.assert_same_function(jax_trainer, torch_trainer, name)


@pytest.mark.parametrize("method", agreement.METHODS, ids=lambda m: m.name)
def test_torch_and_jax_train_the_same_way(method):
    warmup_then_decay = layca_core.StepDecay(2, (1,), 0.2, warmup_epochs=0.5)
    agreement.assert_same_run(jax_trainer, torch_trainer, method, warmup_then_decay)


def test_plan_visits_every_sample_once_per_epoch_with_the_schedule():
    plan = experiment.plan(10, 3, 4, layca_core.StepDecay(3, (2,), 0.5, warmup_epochs=1))
    assert plan.steps_per_epoch == 3 and [len(b) for b in plan.epochs[0]] == [4, 4, 2]
    assert all(sorted(np.concatenate(epoch)) == list(range(10)) for epoch in plan.epochs)
    assert not np.array_equal(plan.epochs[0][0], plan.epochs[1][0])
    np.testing.assert_allclose(plan.multipliers, [0.1, 0.4, 0.7, 1, 1, 1, 0.5, 0.5, 0.5], rtol=1e-6)


def test_initial_weights_match_the_network():
    network = networks.resnet(blocks=2, width=4)
    weights = networks.initial_weights(network, init="he")
    assert [w.shape for w in weights] == [(4, 1, 5), (4, 4, 3), (4, 4, 3), (4, 4, 3), (4, 4, 3), (10, 4)]
    assert all(w.dtype == np.float32 for w in weights)
    bound = max(np.abs(w).max() * np.sqrt(np.prod(w.shape[1:])) for w in networks.initial_weights(network))
    assert bound <= 1
    with pytest.raises(ValueError, match="init must be 'uniform' or 'he'; got 'glorot'"):
        networks.initial_weights(network, init="glorot")


def test_unknown_framework_is_named():
    with pytest.raises(ValueError, match="framework must be one of torch, jax, keras.*; got 'mxnet'"):
        experiment.trainer("mxnet")
