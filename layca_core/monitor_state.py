"""A rotation monitor's state as a flat dict: its history (JSON text) and each layer's initial weights.

Every adapter's monitor saves and restores this one format, so curves continue after a resume
(see ``docs/monitoring.md``). The arrays are whatever the framework holds (tensors, NumPy arrays):
the dict round trips through ``torch.save``, ``pickle`` and ``numpy.savez``.

Example:
    >>> history = RotationHistory(("fc",))
    >>> history.record(0, 0.0, [0.0])
    >>> state = monitor_state(history, [[1.0, 2.0]])
    >>> sorted(state)
    ['history', 'initial/fc']
    >>> restored, initial = split_monitor_state(state, ("fc",))
    >>> restored == history, initial
    (True, [[1.0, 2.0]])
"""

from collections.abc import Mapping, Sequence
from typing import Any

from layca_core.history import RotationHistory

PREFIX = "initial/"


def monitor_state(history: RotationHistory, initial: Sequence[Any]) -> dict[str, Any]:
    """``{"history": JSON text, "initial/<layer name>": initial weights, ...}``."""
    return {"history": history.to_json(), **{PREFIX + name: w0 for name, w0 in zip(history.layer_names, initial)}}


def split_monitor_state(
    state: Mapping[str, Any], layer_names: Sequence[str] | None = None
) -> tuple[RotationHistory, list[Any]]:
    """The history and the initial weights (in ``layer_names`` order, or the state's own) of ``monitor_state``."""
    if "history" not in state:
        raise ValueError("state has no 'history' entry; pass the dict that the monitor's state_dict() returned.")
    history = RotationHistory.from_json(str(state["history"]))
    layer_names = history.layer_names if layer_names is None else layer_names
    saved = tuple(key[len(PREFIX) :] for key in state if key.startswith(PREFIX))
    if history.layer_names != tuple(layer_names) or set(saved) != set(layer_names):
        raise ValueError(
            f"state holds the layers {list(history.layer_names)}, but this monitor follows {list(layer_names)}; "
            "build the monitor on the same model with the same layer selection."
        )
    return history, [state[PREFIX + name] for name in layer_names]
