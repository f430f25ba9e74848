"""On Keras's torch backend, the layers take ``layca_torch``'s multi-tensor path (imported only there)."""

from typing import Any


def applies(optimizer: Any) -> bool:
    """The multi-tensor path covers every base of the layca variant, on the torch backend."""
    import keras

    return keras.backend.backend() == "torch" and optimizer.variant == "layca"


def update_layers(optimizer: Any, grads: list[Any], variables: list[Any], indices: list[int], rate: Any) -> None:
    """Turn the layer variables (and their base state) in place with ``layca_torch.foreach.layca_foreach``."""
    import torch

    from layca_torch.foreach import layca_foreach

    dtype = torch.float64 if any(v.dtype == "float64" for v in variables) else torch.float32
    device = variables[0].value.device
    state_type = type(optimizer.direction.init(torch.zeros(1)))
    states = [state_type(*(slot.value for slot in optimizer._base_slots[i])) for i in indices]
    with torch.no_grad():
        layca_foreach(
            [v.value for v in variables], list(grads), states, rate,
            torch.tensor([optimizer._plan.multipliers[i] for i in indices], dtype=dtype, device=device),
            torch.stack([optimizer._init_norms[i].value for i in indices]).to(dtype),
            base=optimizer.base, hyperparameters=optimizer.base_hyperparameters,
        )  # fmt: skip
