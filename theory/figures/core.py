"""The machinery of the figures registry: figures as compute and draw, stored data, rendering.

A figure is two functions registered under a name prefixed by its body of
theory (``stability.``, ...): ``compute(quick, seed) -> data``, the simulations, fits
and closed-form curves as a tree of arrays and floats (fits as
:class:`~theory.stats.LineFit`, with their standard errors), and
``draw(data) -> matplotlib.figure.Figure``, which only draws. ``quick`` asks for
small simulations (for tests and the docs build); the default sizes give
publication-quality error bars.

The data of a figure can be stored as ``<name>.json`` (:func:`save_data`,
:func:`store`) and drawn from there (:func:`load_data`, ``render(...,
data_dir=...)``) while it is current: recorded with the same seed and with the
parameters the figure has now at the recorded size. ``theory figures --store
docs/figure_data`` recomputes at full size the figures marked ``stored``, those
the docs draw from stored full-size data.
"""

from __future__ import annotations

import functools
import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ._data import decode, encode, same, schema

__all__ = ["Figure", "figure", "registered", "render", "store", "save_data", "load_data", "read_data",
           "schema", "same", "DATA_FORMAT"]

DATA_FORMAT = 1  # version of the stored-data file layout


def _no_params(quick: bool) -> dict:
    return {}


@dataclass(frozen=True)
class Figure:
    """A registered figure.

    Attributes
    ----------
    name, title : str
        The registered name (``theory.name``) and a one-line description.
    compute : callable
        ``compute(quick=False, seed=0) -> data``: everything the figure shows, as a data tree.
    draw : callable
        ``draw(data) -> matplotlib.figure.Figure``. Called as ``draw(quick=..., seed=...)``
        it computes the data first (deprecated).
    params : callable
        ``params(quick) -> dict``: the simulation sizes and parameters at that size, recorded
        with stored data so that stale data is not drawn.
    stored : bool
        Whether the docs draw this figure from stored full-size data.
    """

    name: str
    title: str
    compute: Callable
    draw: Callable
    params: Callable = _no_params
    stored: bool = False


_REGISTRY: dict[str, Figure] = {}


def _accepting_quick_seed(draw: Callable, compute: Callable, name: str) -> Callable:
    """``draw(data)``, still accepting the former ``draw(quick, seed)`` with a DeprecationWarning."""

    @functools.wraps(draw)
    def wrapper(data=None, *, quick=None, seed=None):
        if data is None or isinstance(data, bool):
            warnings.warn(f"figure {name!r}: draw(quick, seed) is deprecated; use draw(compute(quick, seed))",
                          DeprecationWarning, stacklevel=2)
            quick = bool(data) if isinstance(data, bool) else bool(quick)
            data = compute(quick=quick, seed=0 if seed is None else seed)
        elif quick is not None or seed is not None:
            raise TypeError("draw(data) takes no quick or seed: they are arguments of compute")
        return draw(data)

    return wrapper


def figure(name: str, *, title: str, compute: Callable, params: Callable | None = None,
           stored: bool = False) -> Callable:
    """Decorator: register ``draw(data) -> Figure`` as figure ``name``, with its ``compute(quick, seed) -> data``.

    ``params(quick) -> dict`` gives the figure's sizes and parameters (recorded
    with stored data); ``stored`` marks a figure the docs draw from stored
    full-size data. The decorated function is returned unchanged.
    """
    if not callable(compute):
        raise TypeError(f"compute must be callable; got {compute!r}")

    def deco(func):
        if name in _REGISTRY:
            raise ValueError(f"figure {name!r} is registered twice")
        _REGISTRY[name] = Figure(name, title, compute, _accepting_quick_seed(func, compute, name),
                                 params or _no_params, bool(stored))
        return func

    return deco


def registered() -> dict[str, Figure]:
    """The figures registered so far, by name (:func:`theory.figures.registry` loads them all first)."""
    return dict(_REGISTRY)


def _record(fig: Figure, data, *, seed, quick: bool) -> dict:
    return {"format": DATA_FORMAT, "figure": fig.name, "seed": seed, "quick": bool(quick),
            "params": encode(fig.params(bool(quick)), "params"), "data": encode(data)}


def save_data(fig: Figure, data, data_dir, *, seed=0, quick: bool = False) -> Path:
    """Write ``data`` (computed with ``seed`` at size ``quick``) to ``data_dir/<name>.json``; return the path."""
    if seed is None:
        raise ValueError("seed must be an integer to store a figure's data (None draws fresh entropy)")
    text = json.dumps(_record(fig, data, seed=seed, quick=quick), indent=1, allow_nan=False)
    path = Path(data_dir) / f"{fig.name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def read_data(path) -> dict:
    """A stored-data file as a dict: ``format``, ``figure``, ``seed``, ``quick``, ``params`` and ``data`` (decoded)."""
    record = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(record, dict) or record.get("format") != DATA_FORMAT:
        raise ValueError(f"{path}: not a figure-data file of format {DATA_FORMAT}")
    return {**record, "params": decode(record["params"]), "data": decode(record["data"])}


def load_data(fig: Figure, data_dir, *, seed=0):
    """The stored data of ``fig`` in ``data_dir``, or None when there is none or it is not current.

    Current: recorded for this figure, with this ``seed``, and with the
    parameters ``fig.params(quick)`` has now at the recorded size.
    """
    path = Path(data_dir) / f"{fig.name}.json"
    if seed is None or not path.is_file():
        return None
    record = read_data(path)
    if (record["figure"] != fig.name or record["seed"] != seed
            or not same(record["params"], decode(encode(fig.params(record["quick"]), "params")))):
        return None
    return record["data"]


def store(fig: Figure, data_dir, *, seed=0) -> Path:
    """Compute ``fig`` at full size and write its data to ``data_dir/<name>.json``; return the path."""
    return save_data(fig, fig.compute(quick=False, seed=seed), data_dir, seed=seed, quick=False)


# Metadata keys each writer accepts that would stamp the software version (or date) into the file, removed so
# that the same figure gives the same bytes: each format has its own set (the SVG writer refuses PDF keys).
_NO_STAMP = {"png": {"Software": None}, "pdf": {"Creator": None, "Producer": None},
             "svg": {"Creator": None, "Date": None}}


def render(fig: Figure, out_dir, *, formats=("png", "pdf"), quick: bool = False, seed=0, data_dir=None) -> list[Path]:
    """Draw ``fig`` and write ``out_dir/<name>.<format>`` for each format; return the paths.

    With ``data_dir``, the figure is drawn from its stored data there when that
    is current (:func:`load_data`); otherwise its data is computed at the size
    ``quick`` asks for.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = None if data_dir is None else load_data(fig, data_dir, seed=seed)
    if data is None:
        data = fig.compute(quick=quick, seed=seed)
    mpl_fig = fig.draw(data)
    paths = []
    for fmt in formats:
        path = out_dir / f"{fig.name}.{fmt}"
        mpl_fig.savefig(path, dpi=200 if fmt == "png" else None, bbox_inches="tight",
                        metadata=dict(_NO_STAMP.get(fmt, {})))
        paths.append(path)
    plt.close(mpl_fig)
    return paths
