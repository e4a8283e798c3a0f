"""Input validation shared by every public function.

Each helper converts its argument to a float64 array, checks one condition
elementwise, and raises :class:`~theory.errors.DomainError` (a ``ValueError``)
naming the parameter, the valid range and the first offending value. NaN is
never accepted: a NaN input is a bug upstream, and passing it through would
hide it.
"""

from __future__ import annotations

import numbers
import operator

import numpy as np

from .errors import DomainError

__all__ = [
    "as_float",
    "scalar",
    "flag",
    "nonempty",
    "broadcast_together",
    "choice",
    "executor",
    "require",
    "finite",
    "positive",
    "nonnegative",
    "integer_at_least",
    "student_dof",
    "as_int",
    "broadcast",
    "scalar_out",
]


def as_float(x, name: str) -> np.ndarray:
    """``x`` as a float64 array; TypeError unless it is real and numeric (bools refused), DomainError on NaN."""
    arr = np.asarray(x)
    if arr.dtype == bool:
        raise TypeError(f"{name} must be a real number, not a bool; got {x!r}")
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"{name} must be a real number or an array of real numbers; got {type(x).__name__}")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{name} must be real; got a complex value")
    arr = arr.astype(np.float64, copy=False)
    if np.isnan(arr).any():
        raise DomainError(f"{name} must be a number, not NaN")
    return arr


def scalar(x, name: str) -> float:
    """``x`` as a Python float: a real number, not an array (TypeError naming ``name`` otherwise)."""
    if np.ndim(x) != 0:
        raise TypeError(f"{name} must be a scalar, not an array of shape {np.shape(x)}")
    return float(as_float(x, name))


def flag(x, name: str) -> bool:
    """``x`` as a bool: only ``True`` or ``False`` (NumPy bools included) are accepted."""
    if not isinstance(x, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {x!r}")
    return bool(x)


def choice(x, name: str, options) -> str:
    """``x`` if it is one of the strings ``options``: TypeError naming ``name`` for a non-string (an array,
    a number, None), DomainError naming ``name`` and the options for an unknown string."""
    options = tuple(options)
    if not isinstance(x, str):
        raise TypeError(f"{name} must be one of {', '.join(map(repr, options))}; got {type(x).__name__} {x!r}")
    if x not in options:
        raise DomainError(f"{name} must be one of {', '.join(map(repr, options))}; got {x!r}")
    return x


def executor(x, name: str = "executor"):
    """``x`` if it is None or an executor (an object with a callable ``map``, e.g. a
    ``concurrent.futures.Executor``); TypeError naming ``name`` otherwise."""
    if x is not None and not callable(getattr(x, "map", None)):
        raise TypeError(f"{name} must be None or an executor with a map method (a concurrent.futures.Executor); "
                        f"got {type(x).__name__} {x!r}")
    return x


def nonempty(arr: np.ndarray, name: str) -> np.ndarray:
    """``arr`` unless it has no elements (DomainError naming ``name``)."""
    if np.size(arr) == 0:
        raise DomainError(f"{name} must not be empty; got an array of shape {np.shape(arr)}")
    return arr


def broadcast_together(**named) -> tuple:
    """The broadcast shape of the named arrays, or a DomainError that names those that do not broadcast.

    ``broadcast_together(lam=lam, grad_proj=g)`` returns the shape; on a
    mismatch the message lists every named shape, e.g. ``lam (shape (2,)) and
    grad_proj (shape (3,)) do not broadcast together``.
    """
    shapes = {k: np.shape(v) for k, v in named.items()}
    try:
        return np.broadcast_shapes(*shapes.values())
    except ValueError:
        parts = [f"{k} (shape {s})" for k, s in shapes.items() if s != ()]
        raise DomainError(f"{', '.join(parts[:-1])} and {parts[-1]} do not broadcast together") from None


def _first_bad(arr: np.ndarray, ok: np.ndarray) -> str:
    bad = arr[~ok] if arr.ndim else arr[()]
    value = float(np.ravel(bad)[0])
    count = int(np.size(ok) - np.count_nonzero(ok))
    return f"got {value!r}" + (f" (and {count - 1} more)" if count > 1 else "")


def require(arr: np.ndarray, ok, name: str, requirement: str) -> np.ndarray:
    """Raise DomainError "<name> must be <requirement>; got <value>" unless ``ok`` holds everywhere."""
    ok = np.asarray(ok, dtype=bool)
    if not ok.all():
        shown, ok = np.broadcast_arrays(np.asarray(arr), ok)
        raise DomainError(f"{name} must be {requirement}; {_first_bad(shown, ok)}")
    return arr


def finite(x, name: str) -> np.ndarray:
    arr = as_float(x, name)
    return require(arr, np.isfinite(arr), name, "finite")


def positive(x, name: str, *, allow_inf: bool = False) -> np.ndarray:
    arr = as_float(x, name)
    if allow_inf:
        return require(arr, arr > 0, name, "> 0")
    return require(arr, (arr > 0) & np.isfinite(arr), name, "finite and > 0")


def nonnegative(x, name: str, *, allow_inf: bool = True) -> np.ndarray:
    arr = as_float(x, name)
    if allow_inf:
        return require(arr, arr >= 0, name, ">= 0")
    return require(arr, (arr >= 0) & np.isfinite(arr), name, "finite and >= 0")


def integer_at_least(x, name: str, low: int = 1) -> np.ndarray:
    """A count: integer-valued (floats such as 4.0 are accepted), finite, >= low. Returned as float64."""
    arr = as_float(x, name)
    ok = np.isfinite(arr) & (arr >= low) & (arr == np.floor(arr))
    return require(arr, ok, name, f"an integer >= {low}")


def student_dof(x, name: str = "dof") -> np.ndarray:
    """Student-t degrees of freedom of a perturbation given by its standard deviation: > 2, inf meaning Gaussian."""
    arr = as_float(x, name)
    return require(arr, arr > 2, name,
                   "> 2 (for dof <= 2 a Student-t perturbation has infinite variance, so no finite standard "
                   "deviation sigma; use inf for Gaussian)")


def as_int(x, name: str, low: int | None = None) -> int:
    """A Python int from an integral scalar (bools and non-integral floats are refused)."""
    if isinstance(x, bool) or not isinstance(x, (numbers.Integral, np.integer)):
        if isinstance(x, (float, np.floating)) and float(x).is_integer():
            x = int(x)
        else:
            raise TypeError(f"{name} must be an integer; got {x!r}")
    value = operator.index(x)
    if low is not None and value < low:
        raise DomainError(f"{name} must be an integer >= {low}; got {value}")
    return value


def broadcast(result, *inputs) -> np.ndarray:
    """``result`` broadcast (as a new array) to its shape together with the shapes of ``inputs``.

    For an input that is validated but does not enter the value (the result
    keeps the broadcast shape of all the inputs).
    """
    shape = np.broadcast_shapes(np.shape(result), *(np.shape(x) for x in inputs))
    return np.array(np.broadcast_to(result, shape))


def scalar_out(result: np.ndarray, *inputs):
    """A Python float when every input was a scalar, else the array itself."""
    if all(np.ndim(x) == 0 for x in inputs):
        return float(result)
    return result
