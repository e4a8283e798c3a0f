"""One vocabulary: every public parameter name of the package means one thing (docs/conventions.md).

The test imports ``theory`` and every public submodule (no leading underscore
in any part of the name), takes each module's public names (``__all__`` where
it is defined, else every name without a leading underscore that the module
itself defines), and reads the signature of every public function, class and
method. A parameter spelled as a synonym of a package-wide name fails, as does
a name whose meaning is fixed but used outside the places listed for it
(``n_samples`` is only the number of perturbation samples :math:`N_s`;
``rho`` only the SAM radius; ``batch`` only a set of example indices). A
``seed`` defaults to 0 and a ``convention`` to ``"ito"``. Every exception is
listed below with its reason.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import types

import pytest

import theory

# name -> the package-wide name it would duplicate
SYNONYMS = {
    "eta": "lr", "learning_rate": "lr", "step_size": "lr", "stepsize": "lr", "lr_rate": "lr",
    "B": "batch_size", "bs": "batch_size", "batchsize": "batch_size", "minibatch_size": "batch_size",
    "T": "temperature", "D": "temperature (a diffusion profile is diffusion)", "temp": "temperature",
    "kT": "temperature",
    "std": "sigma", "stddev": "sigma", "stdev": "sigma", "sd": "sigma", "noise_std": "sigma",
    "random_state": "seed", "rng": "seed", "random_seed": "seed", "rng_seed": "seed",
    "N": "n_data", "n_rows": "n_data", "n_obs": "n_data", "n_examples": "n_data", "num_data": "n_data",
    "num_samples": "n_samples", "n_mc": "n_samples", "mc_samples": "n_samples",
    "nu": "dof", "df": "dof",
}

# Names whose meaning is fixed: name -> (its meaning, where it may appear). "Where" is a qualified-name
# prefix (a module, a class or a function, re-exports included); anywhere else the name fails.
RESERVED = {
    "n_samples": ("N_s, the number of perturbation (posterior) samples per step; rows are n_data", (
        "theory.vgd.", "theory.quadratic.", "theory.simulators.quadratic.simulate_vgd",
        "theory.simulators.simulate_vgd", "theory.simulators.training.VGD", "theory.simulators.training.IVON",
        "theory.simulators.VGD", "theory.simulators.IVON")),
    "rho": ("the SAM perturbation radius (the learning rate is lr)", (
        "theory.sam.", "theory.simulators.training.SAM", "theory.simulators.training.GTracer",
        "theory.simulators.SAM", "theory.simulators.GTracer")),
    "batch": ("the example indices of a minibatch, a set (its size is batch_size)", (
        "theory.hessian_models.", "theory.networks.", "theory.learned.", "theory.jax_models.",
        "theory.digits.")),
}

# Parameters named seed that do not default to 0, with the reason.
SEED_DEFAULT_EXCEPTIONS = {
    "theory.rng.seed_sequence": "the converter itself: None is the documented input for fresh entropy",
    "theory.rng.derive": "the root is required",
    "theory.checks.Context": "a check's context carries the seed it is given (required)",
    "theory.checks.core.Context": "a check's context carries the seed it is given (required)",
}


def public_modules():
    """``theory`` and every submodule without a leading underscore in its name, imported."""
    mods = [theory]
    for info in pkgutil.walk_packages(theory.__path__, "theory."):
        if any(part.startswith("_") for part in info.name.split(".")[1:]):
            continue
        mods.append(importlib.import_module(info.name))
    return mods


def _public_names(module):
    names = getattr(module, "__all__", None)
    if names is not None:
        return list(names)
    return [n for n, obj in vars(module).items()
            if not n.startswith("_") and getattr(obj, "__module__", None) == module.__name__]


def _methods(cls):
    for name, attr in vars(cls).items():
        if name.startswith("_") and name != "__init__":
            continue
        func = attr.__func__ if isinstance(attr, (staticmethod, classmethod)) else attr
        if inspect.isfunction(func):
            yield name, func


def signatures(module):
    """``(qualified name, inspect.Signature)`` of every public function, class and method of ``module``."""
    for name in _public_names(module):
        obj = getattr(module, name, None)
        qual = f"{module.__name__}.{name}"
        if not (inspect.isfunction(obj) or inspect.isclass(obj) or isinstance(obj, types.BuiltinFunctionType)):
            continue
        try:
            yield qual, inspect.signature(obj)
        except (TypeError, ValueError):  # a class without an introspectable __init__ (e.g. an exception)
            pass
        if inspect.isclass(obj):
            for mname, func in _methods(obj):
                yield f"{qual}.{mname}", inspect.signature(func)


def violations(items):
    """The vocabulary errors among ``(qualified name, Signature)`` pairs, as readable lines."""
    out = []
    for qual, sig in items:
        for p in sig.parameters.values():
            name = p.name
            if name in ("self", "cls") or name.startswith("_") or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            if name in SYNONYMS:
                out.append(f"{qual}: parameter {name!r} is spelled {SYNONYMS[name]!r} in this package")
            if name in RESERVED and not qual.startswith(RESERVED[name][1]):
                out.append(f"{qual}: parameter {name!r} is reserved for {RESERVED[name][0]}")
            if name == "seed" and p.default is not p.empty and p.default != 0 \
                    and qual not in SEED_DEFAULT_EXCEPTIONS:
                out.append(f"{qual}: seed defaults to {p.default!r}, not 0")
            if name == "convention" and p.default not in (p.empty, "ito"):
                out.append(f"{qual}: convention defaults to {p.default!r}, not 'ito'")
    return out


MODULES = public_modules()


def test_the_walk_reaches_every_body_of_theory():
    names = {m.__name__ for m in MODULES}
    for expected in ("theory.vgd", "theory.quadratic", "theory.kramers", "theory.marchenko_pastur",
                     "theory.sharpness", "theory.batch_size", "theory.simulators.quadratic",
                     "theory.simulators.wishart", "theory.simulators.training", "theory.checks"):
        assert expected in names
    assert not any(n.split(".")[-1].startswith("_") for n in names)
    count = sum(1 for m in MODULES for _ in signatures(m))
    assert count > 200, count  # the walk reads the package, not an empty list


@pytest.mark.parametrize("module", MODULES, ids=[m.__name__ for m in MODULES])
def test_public_signatures_use_one_vocabulary(module):
    bad = violations(signatures(module))
    assert not bad, "\n".join(bad)


def test_the_check_fails_on_a_synonym():
    """The check is not vacuous: a new function with a synonym, or a reserved name out of place, fails."""
    fake = types.ModuleType("theory.fake")
    exec("def f(learning_rate): pass\n"
         "def g(theta, n_samples): pass\n"
         "def h(x, *, seed=None, convention='hanggi'): pass\n"
         "def k(lam, rho, T, batch, std, random_state): pass\n"
         "class C:\n    def step(self, eta, B): pass\n", fake.__dict__)
    fake.__all__ = ["f", "g", "h", "k", "C"]
    bad = violations(signatures(fake))
    for fragment in ("theory.fake.f: parameter 'learning_rate'", "theory.fake.g: parameter 'n_samples' is reserved",
                     "theory.fake.h: seed defaults to None", "theory.fake.h: convention defaults to 'hanggi'",
                     "theory.fake.k: parameter 'rho' is reserved", "theory.fake.k: parameter 'T'",
                     "theory.fake.k: parameter 'batch' is reserved", "theory.fake.k: parameter 'std'",
                     "theory.fake.k: parameter 'random_state'", "theory.fake.C.step: parameter 'eta'",
                     "theory.fake.C.step: parameter 'B'"):
        assert any(line.startswith(fragment) for line in bad), fragment
    assert violations(signatures(types.SimpleNamespace(__name__="theory.none", __all__=[]))) == []


def _is_result_class(obj):
    """A record returned by a function (a dataclass or a named tuple): its fields are documented in place."""
    return inspect.isclass(obj) and (hasattr(obj, "__dataclass_fields__") or hasattr(obj, "_fields"))


DOCUMENTED = ("theory.vgd", "theory.quadratic", "theory.sam", "theory.ivon", "theory.kramers",
              "theory.marchenko_pastur", "theory.sharpness", "theory.batch_size", "theory.simulators.quadratic",
              "theory.simulators.wishart", "theory.simulators.batch_hessian")


@pytest.mark.parametrize("name", DOCUMENTED)
def test_every_argument_of_the_formulas_is_in_the_vocabulary_table(name):
    import re
    from pathlib import Path

    page = (Path(__file__).resolve().parents[1] / "docs" / "conventions.md").read_text(encoding="utf-8")
    table = set(re.findall(r"^\|(.*?)\|", page, flags=re.M))
    listed = {n for row in table for n in re.findall(r"`([A-Za-z_]\w*)`", row)}
    module = importlib.import_module(name)
    missing = set()
    for qual, sig in signatures(module):
        owner = getattr(module, qual[len(name) + 1:].split(".")[0], None)
        if _is_result_class(owner):
            continue
        missing |= {p.name for p in sig.parameters.values()
                    if p.name not in ("self", "cls") and not p.name.startswith("_")
                    and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.name not in listed}
    assert not missing, f"{name}: arguments missing from the tables of docs/conventions.md: {sorted(missing)}"
