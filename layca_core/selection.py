"""Which tensors are Layca layers by default, decided as a practitioner would, with the reason said out loud.

A Layca layer is a multiplicative weight tensor (a dense or conv kernel), as in the paper (arXiv 1806.01603). By
default every adapter leaves out what Layca should not turn: embedding tables (and output heads tied to them),
biases however they are shaped, normalisation scales, and vectors. This module holds the rules on names and
shapes that every adapter shares; each adapter adds the rules its framework can see (torch module types, Keras
layer paths) and passes them in as ``kind``. ``docs/selection.md`` states the rule per framework.

Example:
    >>> default_role("transformer.h.0.mlp.c_fc.weight", (32, 128)).role
    'layer'
    >>> default_role("transformer.wte.weight", (64, 32)).reason
    "an embedding table (named 'wte')"
    >>> default_role(".layers[0].bias", (16, 1, 1)).role  # an Equinox conv bias
    'other'
    >>> default_role("transformer.wte.weight", (64, 32), include=("embedding",)).role
    'layer'
"""

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from layca_core import defaults

LAYER, OTHER, FROZEN = "layer", "other", "frozen"
"""The roles of a tensor: turned by Layca, stepped by the base optimizer alone, or not trained at all."""

KINDS = ("embedding", "bias", "norm")
"""The kinds of 2-d-or-more tensor the default leaves out; an adapter's ``include`` turns them back into layers."""

_EMBEDDING = re.compile(r"(^|_)emb(ed(ding)?s?)?(_|\d|$)|^wte$|^wpe$")
_NORM = re.compile(r"norm|^ln(_\w+|\d+)?$|^bn\d*$")
_BIAS = re.compile(r"(^|_)bias(es)?$")
_KERNEL = ("kernel", "weight", "weights", "w")
_WHAT = {"embedding": "an embedding table", "bias": "a bias", "norm": "a normalisation parameter"}


@dataclass(frozen=True)
class Role:
    """A tensor's role (``LAYER``, ``OTHER`` or ``FROZEN``), its kind (one of ``KINDS``, ``"vector"``, or ``""``
    for a layer) and the reason, in words."""

    role: str
    reason: str
    kind: str = ""

    @property
    def is_layer(self) -> bool:
        return self.role == LAYER


def tokens(name: str) -> list[str]:
    """The words of a parameter's name or path (``a.b[0]``, ``['a']['b']``, ``a/b``), lower case, numbers dropped."""
    return [t for t in re.split(r"[^0-9a-z_]+", name.lower()) if t and not t.isdigit()]


def kind_by_name(name: str) -> tuple[str, str] | None:
    """``(kind, word)`` when the name says the tensor is a bias (its last word), an embedding table or a
    normalisation parameter (its last two words: the tensor's and its owner's), else None."""
    words = tokens(name)
    if words and _BIAS.search(words[-1]):
        return "bias", words[-1]
    for word in reversed(words[-2:]):
        for kind, pattern in (("embedding", _EMBEDDING), ("norm", _NORM)):
            if pattern.search(word):
                return kind, word
    return None


def default_role(
    name: str | None,
    shape: Sequence[int],
    *,
    kind: str | None = None,
    why: str = "",
    include: Sequence[str] = (),
) -> Role:
    """The default role of a trainable tensor called ``name`` (None when unknown) of this ``shape``.

    A tensor with fewer than ``defaults.MIN_LAYER_NDIM`` dimensions is never a layer. Otherwise, in order:
    ``kind``, the framework's own verdict (e.g. from a module type: ``"embedding"``, ``"bias"``, ``"norm"``, or
    ``"layer"``; ``why`` says it in words); the name (``kind_by_name``); the shape ``(n, 1, ...)`` of a bias stored
    with broadcast dimensions (Equinox's conv biases), unless the name calls it a kernel or weight; else a layer.
    A kind listed in ``include`` is a layer after all. Memoised: adapters may ask at every step.
    """
    check_include(include)
    return _default_role(name, tuple(int(d) for d in shape), kind, why, tuple(include))


@functools.lru_cache(maxsize=4096)
def _default_role(name: str | None, shape: tuple[int, ...], kind: str | None, why: str, include: tuple) -> Role:
    if kind is None and name:
        by_name = kind_by_name(name)
        if by_name is not None:
            kind, why = by_name[0], f"{_WHAT[by_name[0]]} (named {by_name[1]!r})"
    if len(shape) < defaults.MIN_LAYER_NDIM:
        reason = f"{why}, " if kind is not None and why else ""
        return Role(OTHER, f"{reason}fewer than {defaults.MIN_LAYER_NDIM} dimensions", kind or "vector")
    if kind == LAYER:
        return Role(LAYER, why or "a layer")
    if kind is not None:
        return _left_out(kind, why or _WHAT.get(kind, kind), include)
    last = tokens(name)[-1:] if name else []
    if all(d == 1 for d in shape[1:]) and not (last and last[0] in _KERNEL):
        return _left_out("bias", f"shaped {tuple(shape)}: a bias with broadcast dimensions", include)
    return Role(LAYER, f"a weight tensor ({len(shape)} dimensions)")


def _left_out(kind: str, reason: str, include: Sequence[str]) -> Role:
    if kind in include:
        return Role(LAYER, f"{reason}, included by include=", kind)
    return Role(OTHER, reason, kind)


def frozen(reason: str = "not trained (requires no gradient)") -> Role:
    return Role(FROZEN, reason, "frozen")


def check_include(include: Sequence[str]) -> None:
    """``include`` names kinds of ``KINDS`` only (a string alone would be read letter by letter)."""
    if isinstance(include, str) or any(k not in KINDS for k in include):
        raise ValueError(f"include must be a sequence of {', '.join(map(repr, KINDS))}; got {include!r}.")


def format_roles(rows: Sequence[tuple[str, Sequence[int], Role]]) -> str:
    """A table of ``(name, shape, role)`` rows, one tensor a line, with the count of each role at the end."""
    names = [name for name, _, _ in rows]
    shapes = [str(tuple(shape)) for _, shape, _ in rows]
    width, shape_width = max(map(len, names), default=4), max(map(len, shapes), default=5)
    lines = [f"{'name':<{width}}  {'shape':<{shape_width}}  {'role':<6}  reason"]
    lines += [
        f"{n:<{width}}  {s:<{shape_width}}  {r.role:<6}  {r.reason}" for n, s, (_, _, r) in zip(names, shapes, rows)
    ]
    counts = {role: sum(r.role == role for _, _, r in rows) for role in (LAYER, OTHER, FROZEN)}
    return "\n".join(lines + [", ".join(f"{count} {role}" for role, count in counts.items())])
