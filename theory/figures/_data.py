"""A figure's data as text: JSON with exact floats, and the schema of a data tree.

The data of a figure is a tree of dicts (string keys), lists, tuples, NumPy
arrays (bool, integer or real), Python scalars, strings, ``None`` and the
result types :class:`~theory.stats.LineFit` and :class:`~theory.stats.Estimate`.
:func:`encode` maps it to plain JSON values and :func:`decode` back: floats are
written with ``repr`` (the shortest string that reads back to the same double),
non-finite floats as the strings ``"nan"``, ``"inf"`` and ``"-inf"``, and arrays,
tuples and dataclasses as objects tagged by a ``"__array__"``, ``"__tuple__"``,
``"__float__"`` or ``"__dataclass__"`` key, so that ``decode(encode(x))`` equals
``x`` bit for bit.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..stats import Estimate, LineFit

__all__ = ["encode", "decode", "schema", "same"]

# The dataclasses a figure's data may hold, by the name written in the file.
_DATACLASSES = {"LineFit": LineFit, "Estimate": Estimate}
_TAGS = ("__array__", "__tuple__", "__float__", "__dataclass__")
_NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def _float(x: float):
    if math.isfinite(x):
        return x
    return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def encode(obj, where: str = "data"):
    """``obj`` as plain JSON values (dict, list, str, int, float, bool, None); TypeError naming ``where``."""
    if obj is None or isinstance(obj, (str, bool, np.bool_)):
        return bool(obj) if isinstance(obj, np.bool_) else obj
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        x = float(obj)
        return x if math.isfinite(x) else {"__float__": _float(x)}
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in "biuf":
            raise TypeError(f"{where}: arrays of dtype {obj.dtype} cannot be stored")
        flat = obj.ravel().tolist()
        if obj.dtype.kind == "f":
            flat = [_float(x) for x in flat]
        return {"__array__": obj.dtype.str, "shape": list(obj.shape), "data": flat}
    if isinstance(obj, tuple):
        return {"__tuple__": [encode(v, f"{where}[{i}]") for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [encode(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if not isinstance(k, str) or k in _TAGS:
                raise TypeError(f"{where}: keys must be strings other than {_TAGS}; got {k!r}")
            out[k] = encode(v, f"{where}[{k!r}]")
        return out
    name = type(obj).__name__
    if dataclasses.is_dataclass(obj) and _DATACLASSES.get(name) is type(obj):
        fields = {f.name: encode(getattr(obj, f.name), f"{where}.{f.name}") for f in dataclasses.fields(obj)}
        return {"__dataclass__": name, "fields": fields}
    raise TypeError(f"{where}: a {name} cannot be stored in a figure's data")


def decode(obj):
    """The inverse of :func:`encode`."""
    if isinstance(obj, list):
        return [decode(v) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if "__array__" in obj:
        dtype = np.dtype(obj["__array__"])
        data = obj["data"]
        if dtype.kind == "f":
            data = [_NONFINITE[x] if isinstance(x, str) else x for x in data]
        return np.array(data, dtype=dtype).reshape(obj["shape"])
    if "__tuple__" in obj:
        return tuple(decode(v) for v in obj["__tuple__"])
    if "__float__" in obj:
        return _NONFINITE[obj["__float__"]]
    if "__dataclass__" in obj:
        return _DATACLASSES[obj["__dataclass__"]](**{k: decode(v) for k, v in obj["fields"].items()})
    return {k: decode(v) for k, v in obj.items()}


def schema(obj):
    """The shape of a data tree without its sizes: key sets, types, array dtype kinds and ranks.

    Two data trees of one figure at different simulation sizes have the same
    schema; a list's schema is the sorted set of its elements' schemas.
    """
    if isinstance(obj, dict):
        return {k: schema(v) for k, v in obj.items()}
    if isinstance(obj, np.ndarray):
        return ("array", obj.dtype.kind, obj.ndim)
    if isinstance(obj, (list, tuple)):
        parts = sorted({repr(schema(v)) for v in obj})
        return (type(obj).__name__, tuple(parts))
    if dataclasses.is_dataclass(obj):
        return (type(obj).__name__,)
    if isinstance(obj, (bool, np.bool_)):
        return "bool"
    if isinstance(obj, (int, np.integer)):
        return "int"
    if isinstance(obj, (float, np.floating)):
        return "float"
    if obj is None:
        return "None"
    return type(obj).__name__


def _equal(a, b) -> bool:
    """Elementwise equality with NaN equal to NaN and 0.0 unequal to -0.0."""
    if a.dtype.kind != "f":
        return bool(np.array_equal(a, b))
    return bool(np.array_equal(a, b, equal_nan=True) and np.array_equal(np.signbit(a), np.signbit(b)))


def same(a, b) -> bool:
    """Whether two data trees are equal bit for bit (NaN equal to NaN; a NumPy scalar equal to its Python value)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype
                and a.shape == b.shape and _equal(a, b))
    if isinstance(a, dict) or isinstance(b, dict):
        return (isinstance(a, dict) and isinstance(b, dict) and list(a) == list(b)
                and all(same(a[k], b[k]) for k in a))
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return (type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b)))
    if dataclasses.is_dataclass(a) or dataclasses.is_dataclass(b):
        return (type(a) is type(b)
                and all(same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a)))
    if isinstance(a, (float, np.floating)) and isinstance(b, (float, np.floating)):
        return _equal(np.float64(a), np.float64(b))
    return type(encode(a)) is type(encode(b)) and a == b
