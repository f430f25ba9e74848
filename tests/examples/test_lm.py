"""The language model's corpus (deterministic, hashed, grammatical) and its model in torch and JAX (the reference's
function, the same training)."""

import numpy as np
import pytest

from examples import corpus, experiment, transformer
from tests.examples import lm_agreement as agreement

torch_lm = pytest.importorskip("examples.trainers.torch_lm")
jax_lm = pytest.importorskip("examples.trainers.jax_lm")
SHA256_64 = "2559649308c439d7317823c4aede8f96e19c4575f19b1465ca1ca0f9bf9ec116"  # corpus.corpus(64): a change of generator, parameters or NumPy's stream changes it


def test_the_corpus_is_deterministic_and_its_hash_pinned():
    first, again = corpus.corpus(64), corpus.corpus(64)
    assert first.sha256 == again.sha256 == SHA256_64
    assert np.array_equal(first.train, again.train) and np.array_equal(first.validation, again.validation)
    assert first.train.shape == (64, corpus.CONTEXT + 1) and first.validation.shape == (corpus.VALIDATION, 33)
    assert corpus.corpus(64, seed=1).sha256 != first.sha256
    assert np.array_equal(corpus.corpus(128).train[:64], first.train)  # one stream: longer corpora extend it
    with pytest.raises(ValueError, match="windows must be at least 1; got 0"):
        corpus.corpus(0)


def _parse(stream: np.ndarray) -> int:
    """Check every sentence of ``stream`` (from a document start): verbs agree, brackets match; count clauses."""
    stack, clauses = [], 0
    for token in stream.tolist():
        if corpus.FIRST_NOUN <= token < corpus.FIRST_VERB:
            stack.append(("noun", (token - corpus.FIRST_NOUN) // corpus.NOUNS))
        elif corpus.FIRST_VERB <= token < corpus.FIRST_BRACKET:
            kind, value = stack.pop()
            assert kind == "noun" and value == (token - corpus.FIRST_VERB) // corpus.VERBS, "the verb disagrees"
        elif token >= corpus.FIRST_BRACKET and (token - corpus.FIRST_BRACKET) % 2 == 0:
            stack.append(("open", token))
            clauses += 1
        elif token >= corpus.FIRST_BRACKET:
            assert stack.pop() == ("open", token - 1), "a bracket closes another's clause"
        else:
            assert not stack, "a sentence ends with an open clause"
    return clauses


def test_the_language_keeps_its_long_range_rules():
    stream = corpus.tokens(20000)
    assert stream[0] == corpus.DOCUMENT and stream.max() < corpus.VOCAB == 56
    end = len(stream) - 1 - stream[::-1].tolist().index(corpus.PERIOD)
    assert _parse(stream[: end + 1]) > 500  # many nested clauses, every one closed by its own bracket


@pytest.mark.parametrize("width", [1, 4])
@pytest.mark.parametrize("trainer", [torch_lm, jax_lm], ids=["torch", "jax"])
def test_each_framework_computes_the_reference_function(trainer, width):
    agreement.assert_reference_function(trainer, width)


def test_the_model_is_causal():
    s = transformer.shape()
    weights, tokens = transformer.initial_weights(s), corpus.corpus(8).train[:2, :-1]
    changed = tokens.copy()
    changed[:, 20:] = (changed[:, 20:] + 1) % s.vocab
    before, after = transformer.forward(s, weights, tokens), transformer.forward(s, weights, changed)
    assert np.allclose(before[:, :20], after[:, :20]) and not np.allclose(before[:, 20:], after[:, 20:])


@pytest.mark.parametrize("method", agreement.METHODS, ids=lambda m: m.name)
def test_torch_and_jax_train_the_same_way(method):
    agreement.assert_same_run(jax_lm, torch_lm, method)


def test_torch_optimizers_split_muon_and_name_unknown_ones():
    s = transformer.shape()
    model = torch_lm.Transformer(s, transformer.initial_weights(s))
    muon, adamw = torch_lm.optimizers(experiment.muon("Muon", 3e-3, 0.1), model)
    assert [len(g["params"]) for g in muon.param_groups] == [8] and len(adamw.param_groups[0]["params"]) == 2
    assert [n for n, _ in model.named_parameters()] == [
        n.replace("embed", "embed.weight").replace("head", "head.weight") for n, _ in transformer.layers(s)
    ]
    with pytest.raises(ValueError, match="method optimizer must be adamw, muon, adam or layca .*; got 'sgd'"):
        torch_lm.optimizers(experiment.sgd("SGD", 0.1), model)
