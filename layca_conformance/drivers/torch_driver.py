"""layca_torch.Layca through its public API (per-tensor and foreach paths)."""

import numpy as np
import torch

import layca_torch
from layca_conformance.backends import to_numpy, torch_device
from layca_conformance.cases import Case
from layca_conformance.run_core import core_rates


def run(case: Case, dtype: str, foreach: bool | None = None) -> list[list[np.ndarray]]:
    device, torch_dtype = torch_device(), getattr(torch, dtype)
    params = [torch.nn.Parameter(torch.as_tensor(p).to(device, torch_dtype)) for p in case.initial_params()]
    optimizer = layca_torch.Layca(
        params,
        lr=case.rate,
        base=case.base,
        alpha=case.alpha,
        variant=case.variant,
        other_lr=case.other_rate,
        foreach=foreach,
        **dict(case.hyperparameters),
    )
    trajectory = []
    for rate, grads in zip(core_rates(case), case.gradients()):
        for group in optimizer.param_groups:
            if group["layca"]:
                group["lr"] = rate
        for p, g in zip(params, grads):
            p.grad = torch.as_tensor(g).to(device, torch_dtype)
        optimizer.step()
        trajectory.append([to_numpy(p) for p in params])
    return trajectory
