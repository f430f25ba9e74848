"""The engine's one-pass primitives for torch tensors as two Triton launches per dtype group.

- ``sums``: one multi-tensor launch; each program reduces a chunk of one layer to float64 partial
  sums of ``|w|^2, <w, s>, |s|^2`` and adds them with one atomic add each into a per-layer vector;
- ``combine``: one elementwise launch writing ``a w + b sigma s`` (the power-of-two factor of
  ``scale`` applied on the fly) in each layer's own dtype, in place for an optimizer.

Non-finite step entries read as 0 in both kernels, so ``finite`` and ``scale`` launch nothing (the
laziness ``Executor`` allows with ``exact_products``). Layers are described by a cached device table
of element offsets; no host synchronisation, so a step can be captured in a CUDA graph once the table
is built. Float64 or non-contiguous layers take the torch executor's two-pass primitives.

Chosen by torch's policy (``policy.py``) for CUDA layers with ``fused=True``; not yet
verified on GPU hardware (only under ``TRITON_INTERPRET=1`` on CPU tensors) until ``scripts/gpu.sh`` has passed.
"""

import importlib
import importlib.util
import os
from typing import Any

from layca_torch._executors.multi_tensor import TorchExecutor
from layca_torch._executors.tensors import Scaled

TABLES_KEPT = 16
_TABLES: dict[tuple, Any] = {}
_VECTORS: dict[tuple, Any] = {}


def check_available(device_type: str) -> None:
    """Refuse, with what to do, to build the Triton executor where it cannot run."""
    if importlib.util.find_spec("triton") is None:
        raise ValueError("fused=True on CUDA (or LAYCA_TRITON=1) needs triton installed: pip install 'layca[triton]'.")
    if device_type != "cuda" and os.environ.get("TRITON_INTERPRET") != "1":
        raise ValueError(f"The Triton executor (LAYCA_TRITON=1) on {device_type} tensors needs TRITON_INTERPRET=1.")


class TritonExecutor(TorchExecutor):
    """Triton kernels for the one-pass recipe (layers of 32 bits or fewer, contiguous); torch ones otherwise."""

    def __init__(self, xp: Any, device: Any, meshes: Any = None, in_place: bool = False) -> None:
        super().__init__(xp, device, meshes, in_place)
        self.kernels = importlib.import_module("layca_torch._executors.triton_kernels")
        self.exact_products = False

    def prepare(self, ws: list[Any]) -> "TritonExecutor":
        torch = self.torch
        self.exact_products = all(w.dtype != torch.float64 and w.is_contiguous() for w in ws)
        return self

    def vector(self, values: Any) -> Any:
        """Cached across executors (an optimizer builds one per step), so a captured step copies nothing."""
        key = (tuple(values), str(self.device), self.acc)
        if key not in _VECTORS:
            _VECTORS[key] = self.torch.tensor(key[0], dtype=self.acc, device=self.device)
        return _VECTORS[key]

    def finite(self, xs: list[Any]) -> list[Any]:
        if not self.exact_products:
            return super().finite(xs)
        return [x.contiguous() for x in xs]

    def scale(self, xs: list[Any], factors: Any) -> list[Any]:
        return Scaled(xs, factors) if self.exact_products else super().scale(xs, factors)

    def sums(self, ws: list[Any], xs: list[Any], with_squares: bool = False) -> tuple[Any, ...]:
        if not self.exact_products:
            return super().sums(ws, xs, with_squares)
        out = self.torch.zeros(3 * len(ws), dtype=self.acc, device=self.device)
        for table, group_ws, group_xs, _ in self._groups(ws, xs, ws):
            self.kernels.sums(table, group_ws, group_xs, out)
        parts = self._all_reduce(out).reshape(3, len(ws)).unbind()
        return parts if with_squares else parts[:2]

    def combine(self, ws: list[Any], xs: list[Any], a: Any, b: Any) -> list[Any]:
        if not self.exact_products:
            return super().combine(ws, xs, a, b)
        torch = self.torch
        factors = xs.factors if isinstance(xs, Scaled) else torch.ones_like(a)
        outs = ws if self.in_place else [torch.empty_like(w) for w in ws]
        for table, group_ws, group_xs, group_outs in self._groups(ws, xs, outs):
            self.kernels.combine(table, group_ws, group_xs, group_outs, a, b, factors)
        return outs

    def _groups(self, ws: list[Any], xs: list[Any], outs: list[Any]) -> list[tuple[Any, list, list, list]]:
        """Per (weight, step) dtype pair: the row table and its tensors; tables are cached by layer, address and size."""
        members: dict[tuple, list[int]] = {}
        for i, (w, x) in enumerate(zip(ws, xs)):
            members.setdefault((w.dtype, x.dtype), []).append(i)
        groups = []
        for dtypes, layers in members.items():
            tensors = [[t[i] for i in layers] for t in (ws, xs, outs)]
            key = (str(self.device), *dtypes) + tuple(
                (i, w.data_ptr(), x.data_ptr(), o.data_ptr(), w.numel()) for i, w, x, o in zip(layers, *tensors)
            )
            if key not in _TABLES:
                if len(_TABLES) >= TABLES_KEPT:
                    _TABLES.clear()
                _TABLES[key] = self.kernels.table(*tensors, layers)
            groups.append((_TABLES[key], *tensors))
        return groups
