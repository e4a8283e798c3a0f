"""The registry of theory figures; ``theory figures --out DIR`` draws them all.

Each figure is registered under ``<body>.<what>`` (the body of theory as its
prefix, as for the checks) by the module named after its body; the machinery
(compute and draw, stored data, rendering) is in :mod:`theory.figures.core`.
"""

from __future__ import annotations

from .._registry import matches
from .core import (
    DATA_FORMAT,
    Figure,
    figure,
    load_data,
    read_data,
    registered,
    render,
    same,
    save_data,
    schema,
    store,
)

__all__ = ["Figure", "figure", "registry", "select", "render", "store", "save_data", "load_data", "read_data",
           "schema", "same", "DATA_FORMAT"]


def registry() -> dict[str, Figure]:
    """All registered figures, by name, in registration order."""
    _load()
    return registered()


def select(only: str | None = None) -> list[Figure]:
    """The figures whose names match ``only`` (comma-separated substrings or globs; all when empty)."""
    return [f for f in registry().values() if matches(f.name, only)]


def _load() -> None:
    # Modules that register figures; imported lazily because they import matplotlib.
    from . import dynamics, escape, spectra, stability  # noqa: F401
