"""Executors for torch tensors: torch's multi-tensor kernels, kernels inductor fuses (``torch.compile``d, or
expressions of a traced step).

``import layca_torch`` calls ``register``: from then on ``layca_core.engine.executors_for`` hands torch tensors
to ``policy.torch_executors`` (``layca_torch.Layca``'s step, and Keras's on the torch backend).

- ``policy``: which executor turns which layers (device, dtype, size, ``foreach``, ``fused``, sharding,
  ``torch.compile``);
- ``bases``: the base directions' primitives (``layca_core.primitives``) as ``torch._foreach_*`` kernels;
- ``multi_tensor``: the engine's primitives as ``torch._foreach_*`` kernels (the default on every device outside
  ``torch.compile``);
- ``flat_executor``: small CPU layers stacked by shape, a few kernels for hundreds of them;
- ``compiled_executor`` (``fused=True``; inside ``torch.compile``, unsharded layers of 32 bits or fewer:
  whole-tensor float64 sums and a float32 apply, which inductor fuses), with its kernels in ``compiled_kernels``;
- ``collectives``: one all-reduce per step for layers sharded as ``DTensor``.
"""


def register() -> None:
    """Register torch's policy and array namespace with the core (``layca_core.engine.register_executors``)."""
    import array_api_compat.torch
    import torch

    from layca_core import engine
    from layca_torch._executors.policy import torch_executors

    engine.register_executors(torch.Tensor, torch_executors, namespace=array_api_compat.torch)
