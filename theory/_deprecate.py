"""Backward-compatible paths for renamed keywords, functions, attributes, methods and mapping keys
(DeprecationWarning, same result)."""

from __future__ import annotations

import functools
import inspect
import warnings

__all__ = ["renamed_keywords", "deprecated_alias", "warn_renamed", "renamed_attribute", "renamed_method",
           "RenamedKeys"]


def renamed_keywords(**renames: str):
    """Decorator: accept each ``old=`` keyword for ``new`` (``renames`` maps old to new) with a DeprecationWarning.

    Passing both names is a TypeError. The wrapped function keeps its
    signature (``inspect.signature`` follows ``__wrapped__``).
    """
    def decorate(func):
        names = list(inspect.signature(func).parameters)

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            for old, new in renames.items():
                if old in kwargs:
                    if new in kwargs or (new in names and names.index(new) < len(args)):
                        raise TypeError(f"{func.__name__}() got both {new!r} and its deprecated name {old!r}")
                    warnings.warn(f"{func.__name__}(): the keyword {old!r} is deprecated; use {new!r}",
                                  DeprecationWarning, stacklevel=2)
                    kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)
        return wrapper
    return decorate


def deprecated_alias(func, old_name: str):
    """``func`` under its former name ``old_name``: the same result, with a DeprecationWarning per call."""
    @functools.wraps(func)
    def alias(*args, **kwargs):
        warnings.warn(f"{old_name} is deprecated; use {func.__module__}.{func.__name__}", DeprecationWarning,
                      stacklevel=2)
        return func(*args, **kwargs)
    alias.__name__ = alias.__qualname__ = old_name.rsplit(".", 1)[-1]
    alias.__doc__ = f"Deprecated alias of :func:`{func.__module__}.{func.__name__}` (same arguments and result)."
    return alias


def warn_renamed(old: str, new: str, *, stacklevel: int = 3) -> None:
    """Emit the DeprecationWarning of a renamed name."""
    warnings.warn(f"{old} is deprecated; use {new}", DeprecationWarning, stacklevel=stacklevel)


def renamed_attribute(old: str, new: str, doc: str | None = None) -> property:
    """A read-only property ``old`` that warns and returns attribute ``new``."""

    def get(self):
        warn_renamed(f"{type(self).__name__}.{old}", f"{type(self).__name__}.{new}")
        return getattr(self, new)

    return property(get, doc=doc or f"Deprecated alias of :attr:`{new}`.")


def renamed_method(old: str, new: str):
    """A method ``old`` that warns and calls method ``new`` with the same arguments."""

    def method(self, *args, **kwargs):
        warn_renamed(f"{type(self).__name__}.{old}()", f"{type(self).__name__}.{new}()")
        return getattr(self, new)(*args, **kwargs)

    method.__name__ = old
    method.__doc__ = f"Deprecated alias of :meth:`{new}`."
    return method


class RenamedKeys(dict):
    """A dict that still answers renamed keys (old -> new in ``renames``), with a DeprecationWarning."""

    def __init__(self, data, renames: dict):
        super().__init__(data)
        self._renames = dict(renames)

    def __missing__(self, key):
        if key in self._renames:
            warn_renamed(f"key {key!r}", repr(self._renames[key]))
            return self[self._renames[key]]
        raise KeyError(key)
