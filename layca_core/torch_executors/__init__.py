"""Executors for torch tensors: torch's multi-tensor kernels, ``torch.compile``'d loops and Triton kernels.

Nothing here is imported by ``import layca_core``: ``layca_core.engine.executors_for`` imports the
executor its policy (``layca_core.engine.policy``) picks when it first turns torch tensors.

- ``bases``: the base directions' primitives (``layca_core.primitives``) as ``torch._foreach_*`` kernels;
- ``multi_tensor``: the engine's primitives as ``torch._foreach_*`` kernels (the default everywhere);
- ``compiled_executor`` (``fused=True`` on the CPU) and ``triton_executor`` (``fused=True`` on CUDA),
  with their kernels in ``compiled_kernels`` and ``triton_kernels``;
- ``collectives``: one all-reduce per step for layers sharded as ``DTensor``.
"""
