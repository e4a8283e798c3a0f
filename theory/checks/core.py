"""The machinery of the checks registry: rows, verdicts, registration and selection.

A check is a function ``func(ctx) -> list[Comparison]`` registered under a
name ``<body>.<what>``, where ``<body>`` is one of the four bodies of theory
(``stability``, ``escape``, ``spectra``, ``dynamics``; see :mod:`theory.bodies`).
:func:`run` turns its rows into a verdict at the check's false-alarm rate.

Row kinds and their verdicts (``k`` statistical rows, family-wise rate ``alpha``):

``"statistical"``
    ``z = (estimate - bias - formula) / stderr``; passes when
    ``|z| <= z_{alpha/(2k)}`` (Bonferroni). With ``sign=True`` the estimate must
    also resolve the sign of the formula value at one-sided level ``alpha/k``.
``"positive"``
    statistical, only a sign is predicted: passes when
    ``estimate >= z_{alpha/k} * stderr``.
``"numerical"``
    a deterministic computation whose ``stderr`` is its own error estimate;
    passes when ``|estimate - bias - formula| <= stderr``.
``"band"``, ``"at_most"``, ``"at_least"``
    a deterministic trajectory statistic against a prediction, with an
    ``allowance`` stated and argued by the check: a band passes when
    ``|estimate - bias - formula| <= allowance``, a bound when the estimate lies
    on its side of ``formula`` within the allowance.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .._registry import matches
from ..rng import derive
from ..stats import z_critical, z_score

__all__ = ["Check", "Comparison", "CheckResult", "Context", "register", "registry", "select", "run",
           "DEFAULT_ALPHA", "KINDS", "ALLOWANCE_KINDS"]

DEFAULT_ALPHA = 1e-4
#: every row kind, and those whose spread is a stated allowance rather than a standard error
KINDS = ("statistical", "positive", "numerical", "band", "at_most", "at_least")
ALLOWANCE_KINDS = ("band", "at_most", "at_least")


@dataclass(frozen=True)
class Comparison:
    """One row: a formula value against a simulation estimate.

    ``stderr`` is the estimate's standard error (``"statistical"``, ``"positive"``)
    or a deterministic computation's error estimate (``"numerical"``);
    ``allowance`` is the stated tolerance of a ``"band"``, ``"at_most"`` or
    ``"at_least"`` row. The two are never mixed in one field.
    ``sensitivity`` is the change of ``estimate - bias - formula`` per unit
    relative error of the formula under test (default ``|formula|``: the row
    compares that formula's value itself); a row whose formula value is fixed
    (e.g. a zero the simulation must hit at a point the formula chose) states it.
    """

    label: str
    formula: float
    estimate: float
    stderr: float = 0.0
    bias: float = 0.0
    sign: bool = False
    note: str = ""
    kind: str = "statistical"
    allowance: float = 0.0
    sensitivity: float | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}; got {self.kind!r}")
        if self.kind in ALLOWANCE_KINDS and self.stderr:
            raise ValueError(f"a {self.kind!r} row states an allowance, not a stderr")
        if self.kind not in ALLOWANCE_KINDS and self.allowance:
            raise ValueError(f"a {self.kind!r} row has a stderr, not an allowance")

    @property
    def z(self) -> float:
        """The standardised deviation ``(estimate - bias - formula) / stderr``."""
        return float(z_score(self.estimate - self.bias, self.stderr, self.formula))

    @property
    def spread(self) -> float:
        """The row's standard error, error estimate or allowance, whichever its kind has."""
        return self.allowance if self.kind in ALLOWANCE_KINDS else self.stderr

    def detectable(self, critical: float) -> float:
        r"""The smallest relative error of the tested formula this row detects, at 50% power.

        ``critical * stderr / sensitivity`` for a statistical row (a shift of
        ``critical`` standard errors is caught half the time), ``stderr /
        sensitivity`` for a numerical one and ``allowance / sensitivity`` for a
        band. A bound passes anything on its side, so its power is its slack:
        ``(allowance - deviation) / sensitivity`` for ``"at_most"``,
        ``(allowance + deviation) / sensitivity`` for ``"at_least"`` (the shift of
        the formula that makes it fail). ``inf`` for a ``"positive"`` row (it
        predicts a sign only) or a row without sensitivity.
        """
        scale = abs(self.formula) if self.sensitivity is None else abs(self.sensitivity)
        if self.kind == "positive" or not scale > 0:
            return float("inf")
        deviation = self.estimate - self.bias - self.formula
        spread = {"statistical": critical * self.stderr, "numerical": self.stderr, "band": self.allowance,
                  "at_most": self.allowance - deviation, "at_least": self.allowance + deviation}[self.kind]
        return float(max(spread, 0.0) / scale)

    def passes(self, critical: float, critical_one_sided: float) -> bool:
        """The row's verdict at the two-sided and one-sided critical ``|z|`` of its check."""
        if not np.isfinite(self.estimate):
            return False
        deviation = self.estimate - self.bias - self.formula
        if self.kind == "positive":
            return bool(self.estimate >= critical_one_sided * self.stderr)
        if self.kind == "at_most":
            return bool(deviation <= self.allowance)
        if self.kind == "at_least":
            return bool(-deviation <= self.allowance)
        if self.kind == "band":
            return bool(abs(deviation) <= self.allowance)
        limit = critical if self.kind == "statistical" else 1.0
        good = bool(np.isfinite(self.z) and abs(self.z) <= limit)
        if self.sign:
            good &= bool(np.sign(self.estimate) == np.sign(self.formula)
                         and abs(self.estimate) >= critical_one_sided * self.stderr)
        return good


@dataclass(frozen=True)
class Context:
    """What a check receives: its own seed, where to run, and whether at quick sizes.

    ``quick`` asks a check whose full size takes long (``Check.heavy``) for its
    smaller configuration (``theory verify --quick``); its rows' standard
    errors, and so what it detects, grow accordingly.
    """

    seed: object  # numpy.random.SeedSequence derived from the run's seed and the check's stream key
    backend: str | None = None
    executor: object | None = None
    quick: bool = False

    def sim(self) -> dict:
        """Keyword arguments every simulator accepts."""
        return {"backend": self.backend, "executor": self.executor}

    def child(self, *key) -> object:
        return derive(self.seed, *key)


@dataclass(frozen=True)
class Check:
    """A registered check: what it compares, and the function that does it (see :func:`register`).

    ``stream`` is the key its random stream derives from (:func:`run`); it
    defaults to the name, and a renamed check keeps its former name here, so
    that the same seed gives the same numbers across versions.

    ``tests`` names, by dotted path (``"theory.vgd.vgd_threshold"``), the
    formulas whose values the rows compare, and ``mutation`` the relative error
    of each that the check must detect (one number for all, or one per
    formula): 0.01 for exact closed forms, the asymptotic error at the check's
    setting for asymptotic ones. A negative
    ``mutation`` is a perturbation downwards (a bound detects one side only).
    ``tests/test_mutation.py`` multiplies each formula by ``1 + mutation`` and
    requires the check to fail. ``heavy`` marks a quick check whose full
    size takes more than a few seconds: ``--quick`` runs it at its smaller
    size (:class:`Context`).
    """

    name: str
    title: str
    func: Callable[[Context], list[Comparison]]
    formula: str
    simulator: str
    quick: bool = True
    alpha: float = DEFAULT_ALPHA
    source: str = ""
    stream: str = ""
    tests: tuple[str, ...] = ()
    mutation: float | tuple[float, ...] = 0.01
    heavy: bool = False

    @property
    def stream_key(self) -> str:
        return self.stream or self.name

    def mutations(self) -> dict[str, float]:
        """Each tested formula's dotted path and the relative error the check must detect in it."""
        m = self.mutation if isinstance(self.mutation, tuple) else (self.mutation,) * len(self.tests)
        return dict(zip(self.tests, m))


@dataclass(frozen=True)
class CheckResult:
    """The rows a check returned, each row's verdict, the critical ``|z|`` used, and the run time."""

    check: Check
    rows: list[Comparison]
    row_passed: list[bool]
    critical: float
    seconds: float
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and all(self.row_passed)

    @property
    def detectable(self) -> list[float]:
        """Each row's smallest detectable relative error (:meth:`Comparison.detectable`)."""
        return [row.detectable(self.critical) for row in self.rows]

    @property
    def resolves(self) -> float:
        """The check's smallest detectable relative error: the best of its rows' (``inf`` if none)."""
        return min(self.detectable, default=float("inf"))


_REGISTRY: dict[str, Check] = {}


def register(name: str, *, title: str, formula: str, simulator: str, quick: bool = True,
             alpha: float = DEFAULT_ALPHA, source: str = "", stream: str = "", tests: tuple[str, ...] = (),
             mutation: float | tuple[float, ...] = 0.01, heavy: bool = False) -> Callable:
    """Decorator: register ``func(ctx) -> list[Comparison]`` as check ``name``.

    ``stream`` keeps a renamed check's former name as the key of its random
    stream; ``tests`` and ``mutation`` declare the formulas the check tests
    and the relative error of each it must detect (see :class:`Check`).
    """
    tests = (tests,) if isinstance(tests, str) else tuple(tests)
    if not all(isinstance(t, str) and t.startswith("theory.") for t in tests):
        raise ValueError(f"tests must be dotted paths 'theory.<module>.<name>'; got {tests!r}")
    many = isinstance(mutation, tuple | list)
    values = tuple(mutation) if many else (mutation,)
    if many and len(values) != len(tests):
        raise ValueError(f"mutation must give one value per formula in tests ({len(tests)}); got {mutation!r}")
    if not all(isinstance(m, float | int) and not isinstance(m, bool) and m != 0 and np.isfinite(m) and m > -1
               for m in values):
        raise ValueError(f"mutation must be a nonzero finite relative error > -1; got {mutation!r}")
    mutation = tuple(float(m) for m in values) if many else float(mutation)

    def deco(func):
        if name in _REGISTRY:
            raise ValueError(f"check {name!r} is registered twice")
        _REGISTRY[name] = Check(name, title, func, formula, simulator, quick, alpha, source, stream, tests,
                                mutation, bool(heavy))
        return func

    return deco


def registry() -> dict[str, Check]:
    """All registered checks, by name, in registration order."""
    return dict(_REGISTRY)


def select(*, quick: bool = False, only: str | None = None) -> list[Check]:
    """Checks to run: the quick subset if asked, filtered by ``only``.

    ``only`` is a comma-separated list of substrings or globs, matched against
    each check's name and its former name (its stream key).
    """
    return [c for c in _REGISTRY.values()
            if (c.quick or not quick) and (matches(c.name, only) or (c.stream and matches(c.stream, only)))]


def run(check: Check, seed=0, *, backend=None, executor=None, quick: bool = False) -> CheckResult:
    """Run one check with its own stream ``derive(seed, check.stream_key)`` and decide.

    ``quick`` runs a heavy check at its quick size (:class:`Context`).
    """
    start = time.perf_counter()
    ctx = Context(derive(seed, check.stream_key), backend, executor, bool(quick))
    try:
        rows = list(check.func(ctx))
    except Exception as exc:  # a crashing check fails, and says why
        return CheckResult(check, [], [], float("nan"), time.perf_counter() - start, f"{type(exc).__name__}: {exc}")
    k = max(sum(r.kind in ("statistical", "positive") for r in rows), 1)
    crit = z_critical(check.alpha, k)
    crit_one = z_critical(check.alpha, k, two_sided=False)
    ok = [row.passes(crit, crit_one) for row in rows]
    return CheckResult(check, rows, ok, crit, time.perf_counter() - start)
