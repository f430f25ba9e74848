"""layca_torch.Layca through its public API: ``run`` (the multi-tensor path), ``run_fused`` and ``run_single_tensor``."""

import numpy as np
import torch

import layca_torch
from layca_conformance.cases import Case
from layca_conformance.drivers import framework_names


def run(case: Case, dtype: str, device: str = "cpu") -> list[list[np.ndarray]]:
    """The driver protocol, on the optimizer's default path (``foreach`` where the device has it)."""
    return _run(case, dtype, device, foreach=None)


def run_single_tensor(case: Case, dtype: str, device: str = "cpu") -> list[list[np.ndarray]]:
    """The driver protocol, on the per-tensor path (``foreach=False``)."""
    return _run(case, dtype, device, foreach=False)


def run_fused(case: Case, dtype: str, device: str = "cpu") -> list[list[np.ndarray]]:
    """The driver protocol, with ``fused=True`` (the compiled executor's kernels for large layers)."""
    return _run(case, dtype, device, foreach=None, fused=True)


def _run(
    case: Case, dtype: str, device: str, foreach: bool | None, fused: bool | None = None
) -> list[list[np.ndarray]]:
    torch_dtype = getattr(torch, dtype)
    params = [torch.nn.Parameter(torch.as_tensor(p).to(device, torch_dtype)) for p in case.initial_params()]
    layers = [p.ndim >= 2 for p in params]  # the protocol's layers, whatever the default selection
    optimizer = layca_torch.Layca(
        [{"params": params, "is_layer": layers}],
        lr=case.rate,
        base=case.base,
        alpha=case.alpha,
        variant=case.variant,
        other_lr=case.other_rate,
        foreach=foreach,
        fused=fused,
        **framework_names(case.options(), layca_torch.HYPERPARAMETER_NAMES),
    )
    trajectory = []
    for rate, grads in zip(case.rates(), case.gradients()):
        optimizer.param_groups[0]["lr"] = rate
        for p, g in zip(params, grads):
            p.grad = torch.as_tensor(g).to(device, torch_dtype)
        optimizer.step()
        trajectory.append([p.detach().cpu().double().numpy().copy() for p in params])
    return trajectory
