"""Run a simulator over a grid of parameters on any ``concurrent.futures.Executor``.

:func:`sweep` calls ``func(**params, seed=...)`` once per point of a grid and
gathers the results into a :class:`SweepTable` (one row per point: the
parameters, the estimate(s), their standard error(s), and the seconds the task
took). Where it runs:

- ``executor=``: any ``concurrent.futures.Executor``, used as is (and left open);
- ``dask="tcp://host:port"``: a Dask distributed cluster, through
  ``distributed.Client(address).get_executor()`` (``pip install "theory[dask]"``);
- ``workers=N`` (N > 1): a local ``ProcessPoolExecutor(N)``, closed afterwards;
- otherwise the executor set by :func:`use_executor` (``theory figures
  --workers/--dask`` sets one), else serially in this process.

Reproducibility. The task at ``params`` receives the seed
``theory.rng.derive(seed, "sweep", key(params))``, where ``key`` is by default
:func:`task_key`, a canonical JSON string of the parameters. The numbers a task
draws depend on the root seed and on its own parameters only: not on its
position in the grid, on the executor, on the number of workers, or on which
tasks were already done. Tables are therefore identical (bit for bit, except
the ``seconds`` column: see :meth:`SweepTable.same_results`) whatever runs them.
The keys tell ``1`` from ``1.0`` (JSON does): give a parameter the same type
in every grid that should share its results.

Resuming. With ``results="path.jsonl"`` (or ``.csv``) every finished row is
appended to the file, and flushed, as soon as it completes. Run the same sweep
again after an interruption and the rows already in the file are loaded and
their tasks skipped; a larger grid reuses the rows it shares with the file. The
file records the function's name and the root seed: a different function or
seed is refused (:class:`SweepConfigError`) rather than mixed in.

Functions must be picklable for a process pool (defined at module level; a
``functools.partial`` of one is fine, and its fixed arguments do not enter the
keys); Dask also ships closures, with cloudpickle.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import csv
import functools
import io
import json
import math
import os
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._progress import Progress
from .errors import DomainError
from .rng import derive, seed_sequence
from .stats import Estimate

__all__ = [
    "sweep",
    "SweepTable",
    "SweepConfigError",
    "grid_points",
    "task_key",
    "use_executor",
    "current_executor",
    "default_executor",
    "dask_executor",
    "DASK_HINT",
]

DASK_HINT = 'Dask distributed is not installed: pip install "theory[dask]" (or "dask[distributed]")'
_FORMAT = "theory.sweep/1"
_CSV_MAGIC = "# theory.sweep "
_RESERVED = ("seed", "seconds", "key")


class SweepConfigError(ValueError):
    """A results file was written by a sweep of another function or seed."""


# ----------------------------------------------------------------------------- the grid and the keys

def grid_points(grid) -> list[dict]:
    """The tasks of ``grid``: a dict of lists (their Cartesian product, last key fastest) or a list of dicts."""
    if isinstance(grid, Mapping):
        names = list(grid)
        axes = []
        for name in names:
            values = grid[name]
            if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
                raise TypeError(f"grid[{name!r}] must be a list of values; got {values!r} "
                                f"(write [{values!r}] for a single value)")
            axes.append(list(values))
        points = [{}]
        for name, values in zip(names, axes):
            points = [{**p, name: x} for p in points for x in values]
        return points if names else []
    if isinstance(grid, Iterable) and not isinstance(grid, (str, bytes)):
        points = [dict(p) for p in grid]
        return points
    raise TypeError(f"grid must be a dict of lists or a list of dicts; got {type(grid).__name__}")


def _canonical(x, where: str):
    if x is None or isinstance(x, (bool, np.bool_, str)):
        return bool(x) if isinstance(x, np.bool_) else x
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x)
    if isinstance(x, np.ndarray):
        return _canonical(x.tolist(), where)
    if isinstance(x, (list, tuple)):
        return [_canonical(item, where) for item in x]
    if isinstance(x, Mapping):
        if not all(isinstance(k, str) for k in x):
            raise TypeError(f"{where}: dict keys must be strings")
        return {k: _canonical(val, where) for k, val in x.items()}
    raise TypeError(f"{where}: a {type(x).__name__} has no canonical text; use numbers, strings, lists or "
                    "dicts of them as parameters (fix other objects with functools.partial), or pass key=")


def _json(x) -> str:
    return json.dumps(x, sort_keys=True, separators=(",", ":"), allow_nan=True)


def task_key(params: Mapping) -> str:
    """The default key of a task: canonical JSON of its parameters (sorted names, exact float reprs).

    ``task_key({"b": 2, "a": [0.5, 1]}) == '{"a":[0.5,1],"b":2}'``. NumPy scalars
    and arrays count as the Python numbers and lists they hold.
    """
    return _json(_canonical(dict(params), "parameter"))


def _func_name(func) -> str:
    f, fixed = func, {}
    while isinstance(f, functools.partial):
        fixed = {**f.keywords, **fixed}
        if f.args:
            fixed = {"*args": list(f.args), **fixed}
        f = f.func
    name = f"{getattr(f, '__module__', None) or type(f).__module__}." \
           f"{getattr(f, '__qualname__', None) or type(f).__qualname__}"
    if fixed:
        try:
            name += "(" + _json(_canonical(fixed, "partial")) + ")"
        except TypeError:  # an object without canonical text: its repr, unless it is an address
            text = repr(fixed)
            name += "(" + (text if " at 0x" not in text else ", ".join(sorted(fixed))) + ")"
    return name


# ----------------------------------------------------------------------------- one task

def _scalar(x, name: str):
    if isinstance(x, (bool, np.bool_)):
        return int(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    arr = np.asarray(x)
    if arr.ndim != 0 or arr.dtype.kind not in "biuf":
        raise TypeError(f"sweep: {name} must be a real scalar (or an Estimate of one); got {type(x).__name__} "
                        f"of shape {arr.shape}")
    return float(arr) if arr.dtype.kind == "f" else int(arr)


def _values(out) -> dict:
    """The named scalars of a task's result: an Estimate, a number, or a dict of them."""
    if isinstance(out, Mapping):
        values = {}
        for name, x in out.items():
            if not isinstance(name, str):
                raise TypeError(f"sweep: result names must be strings; got {name!r}")
            if isinstance(x, Estimate):
                values[name] = _scalar(x.value, name)
                values[f"{name}_stderr"] = _scalar(x.stderr, f"{name}_stderr")
            else:
                values[name] = _scalar(x, name)
        return values
    if isinstance(out, Estimate):
        return {"estimate": _scalar(out.value, "estimate"), "stderr": _scalar(out.stderr, "stderr")}
    return {"estimate": _scalar(out, "the result")}


def _run_task(func, params: dict, seed) -> tuple[dict, float]:
    start = time.perf_counter()
    out = func(**params, seed=seed)
    return _values(out), time.perf_counter() - start


# ----------------------------------------------------------------------------- the table

@dataclass(frozen=True)
class SweepTable:
    """The results of :func:`sweep`, one row per task in grid order.

    Attributes
    ----------
    rows : list of dict
        Each row: the task's parameters, its result columns (``estimate`` and
        ``stderr`` for an Estimate, ``estimate`` for a number, ``name`` and
        ``name_stderr`` per entry of a dict), and ``seconds`` (the task's
        wall time; for rows loaded from a results file, the time recorded there).
    params, values : tuple of str
        The parameter columns and the result columns, in order.
    func : str
        The function's name (module, qualified name, fixed partial arguments).
    keys : tuple of str
        Each row's task key.
    resumed : int
        Rows loaded from the results file rather than computed.
    """

    rows: list
    params: tuple
    values: tuple
    func: str = ""
    keys: tuple = ()
    resumed: int = 0
    entropy: object = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self):
        return iter(self.to_records())

    @property
    def names(self) -> tuple:
        """All column names: parameters, results, ``seconds``."""
        return (*self.params, *self.values, "seconds")

    @property
    def columns(self) -> dict:
        """Column name -> list of values, in row order (no pandas needed)."""
        return {name: [row.get(name) for row in self.rows] for name in self.names}

    def column(self, name: str) -> np.ndarray:
        """One column as a NumPy array."""
        if name not in self.names:
            raise KeyError(f"no column {name!r}; the columns are {', '.join(self.names)}")
        return np.asarray(self.columns[name])

    def to_records(self) -> list[dict]:
        """The rows as a list of dicts (copies)."""
        return [{name: row.get(name) for name in self.names} for row in self.rows]

    def to_csv(self, path=None) -> str:
        """Write the table as CSV to ``path`` (if given); return the text. Lists are written as JSON."""
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(self.names)
        for row in self.to_records():
            writer.writerow([_cell(row[name]) for name in self.names])
        text = buf.getvalue()
        if path is not None:
            Path(path).write_text(text)
        return text

    def to_pandas(self):
        """A ``pandas.DataFrame`` of the table (needs pandas)."""
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("SweepTable.to_pandas needs pandas; use .columns or .to_records() without it") from exc
        return pd.DataFrame(self.columns, columns=list(self.names))

    def same_results(self, other: "SweepTable") -> bool:
        """True when both tables hold the same tasks and bitwise the same results (``seconds`` aside)."""
        if self.keys != other.keys or self.values != other.values:
            return False
        for a, b in zip(self.rows, other.rows):
            for name in self.values:
                x, y = a.get(name), b.get(name)
                if not (x == y or (isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y))):
                    return False
        return True

    def __repr__(self) -> str:
        head = f"SweepTable({len(self.rows)} rows; {self.func})"
        if not self.rows:
            return head
        shown = self.to_records()[:20]
        cells = [[_short(r[n]) for n in self.names] for r in shown]
        widths = [max(len(n), *(len(c[i]) for c in cells)) for i, n in enumerate(self.names)]
        lines = ["  ".join(n.ljust(w) for n, w in zip(self.names, widths)).rstrip()]
        lines += ["  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in cells]
        if len(self.rows) > len(shown):
            lines.append(f"... {len(self.rows) - len(shown)} more rows")
        return head + "\n" + "\n".join(lines)


def _cell(x):
    if isinstance(x, (list, tuple, dict, np.ndarray)):
        return task_key({"_": x})[5:-1]  # canonical JSON of the value alone
    return "" if x is None else x


def _short(x) -> str:
    if isinstance(x, float):
        return f"{x:.6g}"
    return str(_cell(x))


# ----------------------------------------------------------------------------- the results file

def _parse_number(text: str):
    try:
        return int(text)
    except ValueError:
        return float(text)


def _complete_lines(path: Path) -> list[str]:
    """The file's complete lines; a partial last line (an interrupted write) is cut off the file."""
    data = path.read_bytes()
    cut = data.rfind(b"\n") + 1
    if cut < len(data):
        with open(path, "r+b") as fh:
            fh.truncate(cut)
        data = data[:cut]
    return data.decode().splitlines()


class _Results:
    """A results file (.jsonl or .csv): one config line, then one line per finished task."""

    def __init__(self, path, config: dict):
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in (".jsonl", ".csv"):
            raise DomainError(f"results must be a .jsonl or .csv file; got {str(path)!r}")
        self.csv = suffix == ".csv"
        self.config = config
        self.columns = None  # the CSV's header, once known
        self.fh = None

    def read_config(self) -> dict | None:
        """The config recorded in an existing file, or None for a new or empty one."""
        if not self.path.exists():
            return None
        lines = _complete_lines(self.path)
        if not lines:
            return None
        first = lines[0]
        if self.csv:
            if not first.startswith(_CSV_MAGIC):
                raise SweepConfigError(f"{self.path} is not a sweep results file (no '{_CSV_MAGIC.strip()}' line)")
            first = first[len(_CSV_MAGIC):]
        try:
            config = json.loads(first)
        except json.JSONDecodeError:
            config = None
        if not isinstance(config, dict) or config.get("format") != _FORMAT:
            raise SweepConfigError(f"{self.path} is not a sweep results file (its first line is not a "
                                   f"{_FORMAT} header)")
        return config

    def check(self, recorded: dict) -> None:
        mismatch = [f"{what}: file {recorded.get(what)!r}, this sweep {self.config[what]!r}"
                    for what in ("func", "seed") if recorded.get(what) != self.config[what]]
        if mismatch:
            raise SweepConfigError(f"{self.path} holds the results of another sweep ({'; '.join(mismatch)}); "
                                   "refusing to mix them: use another results file, or the same function and seed")

    def load(self, wanted: set) -> dict:
        """key -> (values, seconds) for the rows of the file whose key is in ``wanted``."""
        lines = _complete_lines(self.path)
        found = {}
        if self.csv:
            rows = list(csv.reader(lines[1:]))
            if not rows:
                return found
            self.columns = rows[0]
            names = self.columns
            if names[:1] != ["key"] or names[-1:] != ["seconds"]:
                raise SweepConfigError(f"{self.path}: unexpected header {names}")
            n_params = int(self.config["n_params"])
            value_names = names[1 + n_params:-1]
            for lineno, row in enumerate(rows[1:], start=3):
                if len(row) != len(names):
                    raise SweepConfigError(f"{self.path}, line {lineno}: {len(row)} cells, the header has {len(names)}")
                key = row[0]
                if key in wanted and key not in found:
                    cells = row[1 + n_params:-1]
                    found[key] = ({n: _parse_number(c) for n, c in zip(value_names, cells)}, float(row[-1]))
            return found
        for lineno, line in enumerate(lines[1:], start=2):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                key, values, seconds = rec["key"], rec["values"], rec["seconds"]
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise SweepConfigError(f"{self.path}, line {lineno}: not a sweep row ({exc})") from exc
            if key in wanted and key not in found:
                order = rec.get("columns")  # the row's own column order (the JSON object's keys are sorted)
                if isinstance(order, list) and sorted(order) == sorted(values):
                    values = {n: values[n] for n in order}
                found[key] = (values, float(seconds))
        return found

    def open(self, exists: bool) -> None:
        self.fh = open(self.path, "a", encoding="utf-8", newline="")
        if not exists:
            line = _json(self.config)
            self.fh.write((_CSV_MAGIC + line if self.csv else line) + "\n")
            self.fh.flush()

    def append(self, key: str, params: dict, param_names: tuple, values: dict, seconds: float) -> None:
        if self.csv:
            names = ["key", *param_names, *values, "seconds"]
            if self.columns is None:
                self.columns = names
                self._write_csv(names)
            elif names != self.columns:
                raise SweepConfigError(f"{self.path}: this row's columns {names[1:-1]} differ from the file's "
                                       f"{self.columns[1:-1]}; a CSV results file needs the same columns in every "
                                       "row (use .jsonl)")
            self._write_csv([key, *(_cell(params.get(n)) for n in param_names), *values.values(), repr(seconds)])
        else:
            self.fh.write(_json({"key": key, "params": _canonical(params, "parameter"), "values": values,
                                 "columns": list(values), "seconds": seconds}) + "\n")
        self.fh.flush()

    def _write_csv(self, cells) -> None:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow([repr(c) if isinstance(c, float) else c for c in cells])
        self.fh.write(buf.getvalue())

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()
            self.fh = None


def _seed_record(root: np.random.SeedSequence) -> dict:
    return {"entropy": root.entropy, "spawn_key": list(root.spawn_key)}


# ----------------------------------------------------------------------------- executors

_ACTIVE: list = []  # (pid, executor) pushed by use_executor


@contextlib.contextmanager
def use_executor(executor: Executor | None):
    """Within the block, :func:`sweep` and :func:`default_executor` use ``executor`` (None: serially).

    This is how ``theory figures --workers N`` / ``--dask ADDRESS`` hands its
    executor to code whose signature has no ``executor`` argument. It applies
    to this process only (a forked worker does not inherit it).
    """
    _ACTIVE.append((os.getpid(), executor))
    try:
        yield executor
    finally:
        _ACTIVE.pop()


_UNSET = object()


def current_executor(default=None):
    """The executor set by the innermost :func:`use_executor` in this process, else ``default``."""
    if _ACTIVE and _ACTIVE[-1][0] == os.getpid():
        return _ACTIVE[-1][1]
    return default


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A local pool of ``workers`` processes that is safe to start from any process.

    Workers are started by a fork server (spawned where fork servers do not
    exist), never by forking the caller: a process that has run a numba kernel
    holds an OpenMP thread pool, and a child forked from it dies. Functions and
    arguments sent to the pool must be importable (module-level), as for any
    pool that does not fork.
    """
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    return ProcessPoolExecutor(int(workers), mp_context=multiprocessing.get_context(method))


@contextlib.contextmanager
def default_executor(quick: bool = False, workers: int = 2):
    """Context manager: the executor for a figure or a long computation.

    The one set by :func:`use_executor` (``theory figures --workers/--dask``)
    if any; otherwise a local pool of ``workers`` processes, closed at the end
    of the block, for full-size runs on a machine with several cores, and None
    (serial) when ``quick``, with ``workers < 2``, or on one core.
    """
    active = current_executor(_UNSET)
    if active is not _UNSET:
        yield active
        return
    if quick or workers < 2 or (os.cpu_count() or 1) < 2:
        yield None
        return
    with process_pool(workers) as ex:
        yield ex


@contextlib.contextmanager
def dask_executor(address, *, timeout: float = 10.0):
    """Context manager: an Executor on the Dask cluster at ``address`` (a ``distributed.Client`` is accepted too).

    A client made here connects with ``timeout`` seconds and is closed at the
    end. Raises ImportError (naming the ``dask`` extra) without
    ``dask.distributed``, ValueError for a malformed address, and OSError when
    the scheduler cannot be reached.
    """
    try:
        import distributed
    except ImportError as exc:
        raise ImportError(DASK_HINT) from exc
    # pure=False: every submission runs (Dask would otherwise hand back a result it still holds for the
    # same function and arguments, which is right for the numbers but not for a timing)
    if isinstance(address, distributed.Client):
        yield address.get_executor(pure=False)
        return
    scheme, location = distributed.comm.parse_address(str(address))  # ValueError before a client exists
    if scheme in ("tcp", "tls"):
        distributed.comm.parse_host_port(location)
    client = distributed.Client(address, timeout=timeout, set_as_default=False)
    try:
        yield client.get_executor(pure=False)
    finally:
        client.close()


@contextlib.contextmanager
def _resolve(executor, workers, dask):
    given = [n for n, x in (("executor", executor), ("dask", dask), ("workers", workers)) if x is not None]
    if len(given) > 1:
        raise ValueError(f"give at most one of executor, dask and workers; got {' and '.join(given)}")
    if executor is not None:
        yield executor
    elif dask is not None:
        with dask_executor(dask) as ex:
            yield ex
    elif workers is not None:
        if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
            raise DomainError(f"workers must be an integer >= 1; got {workers!r}")
        if workers == 1:
            yield None
        else:
            ex = process_pool(int(workers))
            try:
                yield ex
            finally:
                ex.shutdown(wait=True, cancel_futures=True)
    else:
        yield current_executor()


def _label(params: dict, width: int = 60) -> str:
    text = ", ".join(f"{k}={_short(x)}" for k, x in params.items())
    return text if len(text) <= width else text[:width - 3] + "..."


def _note(exc: BaseException, text: str) -> None:
    if hasattr(exc, "add_note"):  # Python 3.11+
        exc.add_note(text)


# ----------------------------------------------------------------------------- the sweep

def sweep(func: Callable, grid, *, seed=0, executor: Executor | None = None, workers: int | None = None,
          dask=None, results=None, progress: bool = True, key: Callable | None = None,
          name: str | None = None) -> SweepTable:
    """Run ``func(**params, seed=...)`` for every point of ``grid``; return the results as a table.

    Parameters
    ----------
    func : callable
        ``func(**params, seed=SeedSequence)`` returning an :class:`~theory.stats.Estimate`
        (of a scalar), a number, or a dict of them (one column per entry,
        ``name_stderr`` beside each Estimate). Picklable for a process pool.
    grid : dict of lists, or list of dicts
        The tasks: the Cartesian product of the lists (last key fastest), or
        the dicts as given. Parameter names must not be ``seed``, ``seconds``, ``key``.
    seed : int, SeedSequence or None
        The root seed; task ``params`` gets ``derive(seed, "sweep", key(params))``.
        None: fresh entropy, or with an existing results file the seed recorded there.
    executor : concurrent.futures.Executor, optional
        Runs the tasks (left open). At most one of ``executor``, ``dask`` and ``workers``.
        For a Dask client of your own, pass ``client.get_executor(pure=False)``:
        with the default ``pure=True`` Dask hands back results (and errors) it
        still holds for the same arguments instead of running the task again.
    workers : int, optional
        Without ``executor``: a local process pool of this many workers (1: serial).
    dask : str or distributed.Client, optional
        A Dask scheduler address such as ``"tcp://10.0.0.5:8786"`` (or a client):
        run on that cluster through ``Client.get_executor()``.
    results : path, optional
        A ``.jsonl`` or ``.csv`` file: rows are appended as tasks finish, and
        rows already there are loaded instead of recomputed (resume). A file
        of another function or seed raises :class:`SweepConfigError`.
    progress : bool, default True
        A progress bar on stderr.
    key : callable, optional
        ``key(params) -> str``, the task's stable identity (default :func:`task_key`).
        Needed when parameters are objects without a canonical text.
    name : str, optional
        The function's name recorded in the results file (default: module,
        qualified name and fixed partial arguments).

    Returns
    -------
    SweepTable
        One row per task, in grid order, whatever the order of completion.

    Raises
    ------
    Exception
        The first exception of a task, after the tasks already running have
        finished and been recorded (the others are cancelled): rerunning with
        the same ``results`` file resumes from there.
    SweepConfigError
        ``results`` holds the rows of another function or seed.
    """
    points = grid_points(grid)
    keyf = task_key if key is None else key
    param_names: list[str] = []
    for p in points:
        for n in p:
            if not isinstance(n, str):
                raise TypeError(f"parameter names must be strings; got {n!r}")
            if n in _RESERVED:
                raise DomainError(f"{n!r} cannot be a parameter name (reserved: {', '.join(_RESERVED)})")
            if n not in param_names:
                param_names.append(n)
    keys = [str(keyf(p)) for p in points]
    if len(set(keys)) != len(keys):
        dup = next(k for k in keys if keys.count(k) > 1)
        raise DomainError(f"two tasks have the same key {dup!r}: every grid point must be distinct")
    fname = name if name is not None else _func_name(func)

    store = recorded = None
    if results is not None:
        store = _Results(results, {})
        recorded = store.read_config()
        if seed is None and recorded is not None:
            rec = recorded.get("seed") or {}
            root = np.random.SeedSequence(rec.get("entropy"), spawn_key=tuple(rec.get("spawn_key", ())))
        else:
            root = seed_sequence(seed)
        store.config = {"format": _FORMAT, "func": fname, "seed": _seed_record(root), "n_params": len(param_names)}
        done = {}
        if recorded is not None:
            store.check(recorded)
            if store.csv and recorded.get("n_params") != len(param_names):
                raise SweepConfigError(f"{store.path} has {recorded.get('n_params')} parameter columns; "
                                       f"this grid has {len(param_names)}")
            done = store.load(set(keys))
    else:
        root = seed_sequence(seed)
        done = {}

    seeds = [derive(root, "sweep", k) for k in keys]
    out: dict[int, tuple[dict, float]] = {}
    for i, k in enumerate(keys):
        if k in done:
            out[i] = done[k]
    todo = [i for i in range(len(points)) if i not in out]

    bar = Progress(len(points), enabled=progress)
    bar.done = len(out)
    if out and progress:
        bar.step(f"{len(out)} rows loaded from {store.path.name}")

    def record(i, values, seconds):
        out[i] = (values, seconds)
        if store is not None:
            store.append(keys[i], points[i], tuple(param_names), values, seconds)
        bar.advance()
        bar.step(_label(points[i]))

    try:
        if store is not None:
            store.open(exists=recorded is not None)
        with _resolve(executor, workers, dask) if todo else contextlib.nullcontext() as ex:
            if ex is None or not todo:
                for i in todo:
                    try:
                        values, seconds = _run_task(func, points[i], seeds[i])
                    except Exception as exc:
                        _note(exc, f"in sweep task {_label(points[i])}" + (
                            f"; the finished rows are in {store.path}: rerun to resume" if store else ""))
                        raise
                    record(i, values, seconds)
            else:
                _run_parallel(ex, func, points, seeds, todo, record, store)
    finally:
        bar.close()
        if store is not None:
            store.close()

    rows = []
    value_names: list[str] = []
    for i, p in enumerate(points):
        values, seconds = out[i]
        for n in values:
            if n in param_names:
                raise DomainError(f"result column {n!r} has the name of a parameter")
            if n not in value_names:
                value_names.append(n)
        rows.append({**{n: p.get(n) for n in param_names}, **values, "seconds": seconds})
    return SweepTable(rows, tuple(param_names), tuple(value_names), fname, tuple(keys),
                      len(points) - len(todo), root.entropy)


def _run_parallel(ex, func, points, seeds, todo, record, store) -> None:
    futures = {}
    try:
        for i in todo:
            futures[ex.submit(_run_task, func, points[i], seeds[i])] = i
        first = None
        for fut in as_completed(futures):
            if fut.cancelled():
                continue
            i = futures[fut]
            exc = fut.exception()
            if exc is not None:
                if first is None:
                    first = (i, exc)
                    for other in futures:  # stop what has not started; what runs finishes and is kept
                        other.cancel()
                continue
            values, seconds = fut.result()
            record(i, values, seconds)
        if first is not None:
            i, exc = first
            _note(exc, f"in sweep task {_label(points[i])}" + (
                f"; the finished rows are in {store.path}: rerun to resume" if store else ""))
            raise exc
    except BaseException:
        for fut in futures:
            fut.cancel()
        raise
