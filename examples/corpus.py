"""A synthetic language generated from a seed: the language model's corpus, offline and deterministic.

Documents are sequences of sentences; each document draws a topic that skews which noun classes its sentences
use. A sentence is ``S = noun [open S close] verb [.]`` (depth-limited): the verb agrees with the class of its
own subject across the nested clause, and each clause's closing bracket matches its opening one. Predicting a
verb or a bracket needs the token that opened the clause, often many tokens back (long-range structure); nouns
within a class follow a Zipf law. The stream is cut into windows of ``CONTEXT + 1`` tokens (input, shifted target).

Its SHA-256 (over the tokens and the generating parameters) goes into every run record.
"""

import hashlib
from typing import NamedTuple

import numpy as np

CLASSES, NOUNS, VERBS, BRACKETS, TOPICS = 8, 4, 2, 3, 4
PERIOD, DOCUMENT = 0, 1
FIRST_NOUN = 2
FIRST_VERB = FIRST_NOUN + CLASSES * NOUNS
FIRST_BRACKET = FIRST_VERB + CLASSES * VERBS
VOCAB = FIRST_BRACKET + 2 * BRACKETS  # 56 tokens
CONTEXT = 32
NEST, DEPTH, SENTENCES = 0.45, 3, 6  # probability of a nested clause, deepest nesting, mean sentences per document
SEED = 2026
VALIDATION = 256  # windows held out


class Corpus(NamedTuple):
    """Training and validation windows, ``(n, CONTEXT + 1)`` int32 token ids, and the corpus's SHA-256."""

    train: np.ndarray
    validation: np.ndarray
    sha256: str


def _sentence(rng: np.random.Generator, classes: np.ndarray, depth: int, out: list[int]) -> None:
    kind = rng.choice(CLASSES, p=classes)
    zipf = 1 / np.arange(1, NOUNS + 1)
    out.append(FIRST_NOUN + kind * NOUNS + rng.choice(NOUNS, p=zipf / zipf.sum()))
    if depth < DEPTH and rng.random() < NEST / (depth + 1):
        bracket = rng.integers(BRACKETS)
        out.append(FIRST_BRACKET + 2 * bracket)
        _sentence(rng, classes, depth + 1, out)
        out.append(FIRST_BRACKET + 2 * bracket + 1)
    out.append(FIRST_VERB + kind * VERBS + rng.integers(VERBS))


def tokens(count: int, seed: int = SEED) -> np.ndarray:
    """The first ``count`` tokens of the language's stream from ``seed`` (uint8)."""
    rng = np.random.default_rng(seed)
    topics = rng.dirichlet(np.full(CLASSES, 0.3), TOPICS)
    out: list[int] = []
    while len(out) < count:
        out.append(DOCUMENT)
        classes = topics[rng.integers(TOPICS)]
        for _ in range(1 + rng.geometric(1 / SENTENCES)):
            _sentence(rng, classes, 0, out)
            out.append(PERIOD)
    return np.asarray(out[:count], dtype=np.uint8)


def corpus(windows: int, seed: int = SEED) -> Corpus:
    """``windows`` training windows and ``VALIDATION`` validation windows cut from one stream (validation last)."""
    if windows < 1:
        raise ValueError(f"windows must be at least 1; got {windows}.")
    length = CONTEXT + 1
    stream = tokens((windows + VALIDATION) * length, seed)
    digest = hashlib.sha256(repr((VOCAB, CONTEXT, NEST, DEPTH, SENTENCES, seed)).encode() + stream.tobytes())
    cut = stream.reshape(-1, length).astype(np.int32)
    return Corpus(cut[:windows], cut[windows:], digest.hexdigest())
