"""Every registered check fails when a formula it tests is off by the relative error it declares.

The checks and their formulas are read from the registry (``Check.tests`` and
``Check.mutation``), so a new check is covered without editing this file. Each
formula is multiplied by ``1 + mutation`` wherever a module of the package
holds it (the check module's own reference included), the check is run at seed
0 and must fail by its verdict, not by a crash; unperturbed it must pass.
Checks that are not quick, or whose full size is heavy, are marked ``slow``.

A check's simulation does not depend on the formula it tests, and the same
seed gives the same simulation: the simulators' results are kept from the
unperturbed run (keyed by their pickled arguments) and reused by the perturbed
runs, so each check simulates once (all but ``train``, whose trajectory holds
formula values that a perturbed run must recompute). A perturbed run never stores what it
simulates, so a formula used inside a simulator cannot leak into the
unperturbed result.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib
import pickle
import sys

import numpy as np
import pytest

from theory import checks, simulators

REGISTRY = checks.registry()
#: the simulators whose results are kept: every public function of theory.simulators that simulates, except
#: train, whose trajectory carries formula values of its own (the VF threshold, IVON's adaptive edge)
SIMULATORS = [n for n in simulators.__all__ if n.startswith(("simulate_", "sample_", "minibatch_"))]
_KEPT: dict[str, object] = {}


def _marks(check):
    return [pytest.mark.slow] if (not check.quick or check.heavy) else []


def _resolve(path):
    """The object holding the last name of a dotted path (a module or a class), and that name."""
    parts = path.split(".")
    for i in range(len(parts) - 1, 0, -1):
        try:
            owner = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for name in parts[i:-1]:
            owner = getattr(owner, name)
        return owner, parts[-1]
    raise LookupError(path)


def _scaled(x, factor):
    """``x`` times ``factor``: floats and float arrays, and the float fields of a result dataclass."""
    if isinstance(x, bool | int | np.integer):
        return x
    if isinstance(x, float | np.floating):
        return x * factor
    if isinstance(x, np.ndarray):
        return x * factor if np.issubdtype(x.dtype, np.floating) else x
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return dataclasses.replace(x, **{f.name: _scaled(getattr(x, f.name), factor)
                                         for f in dataclasses.fields(x) if f.init})
    return x


def _mutate(monkeypatch, path, mutation):
    owner, name = _resolve(path)
    original = getattr(owner, name)
    assert callable(original), path

    def wrong(*args, **kwargs):
        return _scaled(original(*args, **kwargs), 1.0 + mutation)

    monkeypatch.setattr(owner, name, wrong)
    if not isinstance(owner, type):  # a function: also where other modules hold it by name
        _patch_everywhere(monkeypatch, original, wrong)


def _package_modules():
    return [m for n, m in list(sys.modules.items()) if n == "theory" or n.startswith("theory.")]


def _patch_everywhere(monkeypatch, original, replacement):
    """Replace a function wherever a module of the package holds it by name."""
    for module in _package_modules():
        for attr, value in list(vars(module).items()):
            if value is original:
                monkeypatch.setattr(module, attr, replacement)


def _key(name, args, kwargs):
    try:
        return name + hashlib.sha256(pickle.dumps((args, sorted(kwargs.items())))).hexdigest()
    except (pickle.PicklingError, TypeError, AttributeError):
        return None  # arguments that do not pickle (closures): simulate each time


def _keep_simulations(monkeypatch, *, store: bool):
    for name in SIMULATORS:
        original = getattr(simulators, name)

        @functools.wraps(original)
        def kept(*args, _name=name, _original=original, **kwargs):
            key = _key(_name, args, kwargs)
            if key is not None and key in _KEPT:
                return _KEPT[key]
            result = _original(*args, **kwargs)
            if store and key is not None:
                _KEPT[key] = result
            return result

        _patch_everywhere(monkeypatch, original, kept)


CASES = [pytest.param(c.name, path, m, id=f"{c.name}:{path.rsplit('.', 1)[-1]}", marks=_marks(c))
         for c in REGISTRY.values() for path, m in c.mutations().items()]


def test_every_check_declares_the_formulas_it_tests():
    for c in REGISTRY.values():
        assert c.tests, f"{c.name} declares no formula"
        for path, m in c.mutations().items():
            owner, name = _resolve(path)
            assert callable(getattr(owner, name)), path
            assert m != 0 and abs(m) < 1, (c.name, path, m)


@pytest.mark.parametrize("name", [pytest.param(c.name, marks=_marks(c)) for c in REGISTRY.values()])
def test_the_unperturbed_check_passes(monkeypatch, name):
    _keep_simulations(monkeypatch, store=True)
    result = checks.run(REGISTRY[name], seed=0)
    assert result.passed, (name, result.error, [(r.label, r.z) for r in result.rows])


@pytest.mark.parametrize(("name", "path", "mutation"), CASES)
def test_the_check_fails_when_its_formula_is_off_by_its_stated_error(monkeypatch, name, path, mutation):
    _keep_simulations(monkeypatch, store=False)
    _mutate(monkeypatch, path, mutation)
    result = checks.run(REGISTRY[name], seed=0)
    assert result.error is None, result.error
    assert not result.passed, (name, path, mutation, [(r.label, round(r.z, 2)) for r in result.rows])
