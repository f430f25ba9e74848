"""On Keras's torch backend, the layers take ``layca_torch``'s multi-tensor path (imported only there)."""

from typing import Any

from layca_core import defaults

FLOAT_DTYPES = ("float32", "float64")


def applies(optimizer: Any, variables: list[Any]) -> bool:
    """Whether the multi-tensor path covers these variables: torch backend, sgd/momentum/nesterov, float32/64."""
    import keras

    from layca_torch.foreach import FOREACH_BASES

    return (
        keras.backend.backend() == "torch"
        and optimizer.base in FOREACH_BASES
        and optimizer.variant == "layca"
        and all(v.dtype in FLOAT_DTYPES for v in variables)
    )


def update_layers(optimizer: Any, grads: list[Any], variables: list[Any], indices: list[int], rate: Any) -> None:
    """Turn the layer variables in place with ``layca_torch.foreach.layca_foreach``."""
    import torch

    from layca_core import EmptyState, MomentumState
    from layca_torch.foreach import layca_foreach

    dtype = torch.float64 if any(v.dtype == "float64" for v in variables) else torch.float32
    device = variables[0].value.device
    slots = [optimizer._base_slots[i] for i in indices]
    states = [MomentumState(s[0].value) if s else EmptyState() for s in slots]
    with torch.no_grad():
        layca_foreach(
            [v.value for v in variables],
            list(grads),
            states,
            rate,
            torch.tensor([optimizer._plan.multipliers[i] for i in indices], dtype=dtype, device=device),
            torch.stack([optimizer._init_norms[i].value for i in indices]).to(dtype),
            base=optimizer.base,
            momentum=optimizer.base_hyperparameters.get("momentum", defaults.MOMENTUM),
        )
