"""The array namespace of the arrays the core is given.

array-api-compat covers NumPy, PyTorch, JAX, CuPy and array-api-strict; TensorFlow has no
array-API namespace, so ``_tensorflow_namespace`` supplies the few functions the core uses.
Neither is imported before an array asks for it.
"""

import functools
from types import ModuleType
from typing import Any

_NAMESPACES: list[tuple[type, ModuleType]] = []
"""Array types with a namespace of their own (``engine.register_executors``), in registration order."""


def register_namespace(array_type: type, namespace: ModuleType) -> None:
    """Give arrays of ``array_type`` the namespace ``namespace`` (see ``engine.register_executors``)."""
    _NAMESPACES[:] = [entry for entry in _NAMESPACES if entry[0] is not array_type] + [(array_type, namespace)]


def _registered(x: Any) -> ModuleType | None:
    """The namespace registered for ``x``'s type (an ``isinstance`` per registered type, which ``torch.compile``
    traces without a graph break, unlike string methods on a class's ``__module__``), or None."""
    for array_type, namespace in _NAMESPACES:
        if isinstance(x, array_type):
            return namespace
    return None


def array_namespace(*arrays: Any) -> ModuleType:
    """Return the array-API namespace shared by ``arrays`` (TensorFlow included).

    Arrays of a type an adapter registered go straight to its namespace (which also keeps ``torch.compile``
    graphs free of array-api-compat's type dispatch), TensorFlow tensors to ``_tensorflow_namespace``.
    """
    registered = [_registered(x) for x in arrays]
    if registered and registered[0] is not None and all(r is registered[0] for r in registered):
        return registered[0]
    if arrays and all(type(x).__module__.partition(".")[0] == "tensorflow" for x in arrays):
        from layca_core import _tensorflow_namespace

        return _tensorflow_namespace
    import array_api_compat

    return array_api_compat.array_namespace(*arrays)


def is_low_precision(dtype: Any, xp: ModuleType) -> bool:
    """Whether ``dtype`` is a 16-bit float (accumulated in float32 by the core)."""
    return any(dtype == d for d in _low_precision(xp))


@functools.cache
def _low_precision(xp: ModuleType) -> tuple[Any, ...]:
    return tuple(getattr(xp, name) for name in ("float16", "bfloat16") if hasattr(xp, name))


def accumulation_dtype(dtype: Any, xp: ModuleType) -> Any:
    """The dtype norms and dot products accumulate in: at least float32."""
    if not xp.isdtype(dtype, "real floating"):
        raise TypeError(f"Layca needs floating-point weights; got dtype {dtype}.")
    return xp.float32 if is_low_precision(dtype, xp) else dtype


def zero_scalar(like: Any, dtype: Any, xp: ModuleType) -> Any:
    """A 0-d zero of ``dtype`` beside ``like``: on its device for a type with a registered namespace (torch), else
    uncommitted (a JAX array's sharding belongs to its shape, and a committed scalar would recompile a jitted step)."""
    if _registered(like) is not None:
        return xp.zeros((), dtype=dtype, device=like.device)
    return xp.zeros((), dtype=dtype)


def parallel_tolerance(dtype: Any, xp: ModuleType) -> float:
    """Below this ratio ``||s_perp|| / ||s||`` a step counts as parallel to the weights.

    The larger of the weights' own rounding (a bf16 multiple of ``w`` is off by ~eps_bf16) and
    the square root of the accumulator's epsilon (beyond which ``s_perp``'s direction is noise).
    """
    return max(float(xp.finfo(dtype).eps), float(xp.finfo(accumulation_dtype(dtype, xp)).eps) ** 0.5)
