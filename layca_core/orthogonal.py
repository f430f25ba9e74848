r"""The quintic Newton-Schulz orthogonalisation of Muon, on any array API (``torch.optim.Muon``'s
``_zeropower_via_newtonschulz``, ``optax.contrib.orthogonalize_via_newton_schulz``, Keras's
``zeropower_via_newtonschulz5``: the same coefficients and step count).

The matrix of a tensor: its fan-out axis ``out_axis`` first, every other axis flattened into the fan-in, so a
torch kernel ``(out, in, kh, kw)`` (``out_axis=0``) is the ``(out, in*kh*kw)`` matrix of torch's reference, and
a Keras/JAX kernel ``(kh, kw, in, out)`` (``out_axis=-1``, the core's default) the same matrix with its
columns permuted (orthogonalisation commutes with permutations and transposition: both layouts take the same
step). A stacked parameter is one matrix over its whole stack.

Example:
    >>> import numpy as np
    >>> o = newton_schulz(np.array([[3.0, 0.0], [0.0, 1.0]]))
    >>> bool(0.6 < o[1, 1] < 1.3 and 0.6 < o[0, 0] < 1.3 and o[0, 1] == 0)  # singular values pushed towards 1
    True
"""

from typing import Any

from layca_core import defaults
from layca_core._namespace import accumulation_dtype, array_namespace


def newton_schulz(
    x: Any,
    *,
    out_axis: int = -1,
    coefficients: tuple[float, float, float] = defaults.NEWTON_SCHULZ_COEFFICIENTS,
    steps: int = defaults.NEWTON_SCHULZ_STEPS,
) -> Any:
    """The orthogonalised ``x`` (same shape and dtype), computed in at least float32.

    The matrix (module docstring) is transposed when it has more rows than columns, divided by its largest
    entry and then by its Frobenius norm (exact for any finite ``x``, so no ``eps`` is needed; a zero ``x``
    stays zero), and iterated ``X <- a X + (b A + c A^2) X`` with ``A = X X^T``.
    """
    xp = array_namespace(x)
    axis = out_axis % x.ndim
    order = (axis, *(i for i in range(x.ndim) if i != axis))
    moved = xp.permute_dims(x, order)
    m = xp.reshape(xp.astype(moved, accumulation_dtype(x.dtype, xp)), (x.shape[axis], -1))
    wide = m.shape[0] > m.shape[1]
    m = xp.matrix_transpose(m) if wide else m
    for scale in (xp.max(xp.abs(m)), None):
        scale = xp.sqrt(xp.sum(m * m)) if scale is None else scale
        m = m / xp.where(scale > 0, scale, xp.ones_like(scale))
    a, b, c = coefficients
    for _ in range(steps):
        gram = xp.matmul(m, xp.matrix_transpose(m))
        m = a * m + xp.matmul(b * gram + c * xp.matmul(gram, gram), m)
    m = xp.matrix_transpose(m) if wide else m
    inverse = tuple(order.index(i) for i in range(x.ndim))
    return xp.astype(xp.permute_dims(xp.reshape(m, moved.shape), inverse), x.dtype)


def shape_scale(shape: tuple[int, ...], out_axis: int = -1) -> float:
    """``sqrt(max(1, fan_out / fan_in))`` of a tensor's matrix."""
    fan_out = shape[out_axis % len(shape)]
    fan_in = 1
    for size in shape:
        fan_in *= size
    return max(1.0, fan_out * fan_out / fan_in) ** 0.5
