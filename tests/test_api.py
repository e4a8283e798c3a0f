"""The whole public API keeps one promise: a right number, or a refusal that names a parameter.

Every public function, class and method of the package (found as in
``test_vocabulary``: ``theory`` and each public submodule, its ``__all__``) is
called with arguments drawn by parameter *name* from one table of strategies.
Per example a few parameters (at most two) get a hostile value (NaN, a bool, a
complex number, a string, ``None``, an empty or wrongly shaped array, a
negative, zero or infinite number); the others get a valid value, which itself
ranges over the extremes of the valid range (subnormals, ``1e-300``,
``1e300``, ``inf`` where it is allowed). A parameter the table does not know
keeps the function's default. Classes are called as constructors; each public
method is called on an instance built from valid constructor arguments.

The outcome rule, for every call:

- it returns within ``TIME_LIMIT`` seconds (a hang is a failure);
- every number it returns (scalars, arrays, and the fields of returned records,
  two levels deep) is not NaN (except fields listed in ``DOCUMENTED_NAN``, each
  documented as NaN where it is undefined); ``±inf`` is allowed only when an input was
  (passed or by default) infinite or extreme (magnitude above ``1e100`` or below ``1e-100``: a product
  or quotient of two such numbers can leave the float range), or the function
  is listed in ``MAY_OVERFLOW`` (a value such as an Arrhenius time
  :math:`e^{\\Delta L/T}` that is legitimately infinite at moderate inputs);
- or it raises ``ValueError`` or ``TypeError`` (``DomainError`` included)
  whose message names one of the function's parameters (for a method, one of
  the method's or the constructor's).

Warnings are not judged (the values are). Functions that cannot be called
meaningfully with generated arguments are in ``SKIP`` with the reason.

The default hypothesis profile draws ``EXAMPLES`` (12) examples per callable,
derandomized, so that a clean checkout always makes the same calls (about 2,800,
in under a minute); ``HYPOTHESIS_PROFILE=explore`` draws 400 per callable at
random, and ``API_EXAMPLES=n`` sets the number for either profile. Failing
examples are not shrunk (the message shows the whole call: the function, its
arguments, and for a method the constructor call). The number of calls a run
makes is printed at the end of the session.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import os
import re
import signal
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from test_vocabulary import _methods, _public_names, public_modules

TIME_LIMIT = 2.0
EXPLORE = os.environ.get("HYPOTHESIS_PROFILE") == "explore"
EXAMPLES = int(os.environ.get("API_EXAMPLES", 400 if EXPLORE else 12))
CALLS = {"n": 0}

# ---------------------------------------------------------------------------------------------------------
# What is not called, and why.

SKIP_MODULES = {
    "theory.checks": "registered checks: each runs a Monte Carlo study (tests/test_checks.py)",
    "theory.figures": "plotting and file output (tests/test_figures.py)",
    "theory.cli": "the command line (tests/test_infrastructure.py)",
    "theory.sweep": "sweep executors and result files (tests/test_sweep.py)",
    "theory.symbolic": "symbolic derivations without numeric arguments (tests/test_symbolic.py)",
    "theory.backend": "backend selection and thread control, no numeric arguments",
    "theory.bodies": "the package map, a registry of names (tests/test_layout.py)",
    "theory.experiments": "the bundled default scans: minutes of simulation per call",
}
SKIP = {
    "theory.datasets.load_dataset": "file I/O of a bundled data set",
    "theory.digits.digits_network": "file I/O of a bundled data set and a JAX compilation (seconds on a first call); "
                                    "its refusals are in tests/test_digits.py",
    "theory.learned.MLPLandscape.from_dataset": "file I/O of a bundled data set",
    "theory.rng.seed_sequence": "the seed converter: every simulator's seed argument goes through it",
    "theory.sam.locate_threshold": "takes a user-supplied map and bracket; covered in tests/test_sam.py",
    "theory.learned.escape_scan": "a scan of full escape simulations (seconds per call)",
    "theory.simulators.flatness_comparison": "repeated training runs (seconds per call)",
    "theory.hessian_models.MinimalLossModel": "a typing protocol, not a class to instantiate",
    "theory.hessian_models.LossModel": "an abstract base class",
    "theory.landscapes.Landscape": "an abstract base class",
    "theory.learned.default_model": "the bundled default model: trains a network (seconds)",
    "theory.learned.default_scans": "the bundled default scans: minutes of simulation per call",
    "theory.learned.MLPLandscape.critical_points": "documented NotImplementedError (a network's critical "
                                                   "points cannot be enumerated)",
}

# Result records (dataclasses and named tuples the package returns): their constructors store fields and are
# not input paths. Their methods are called on instances the package itself produced, from these fixtures.
RECORD_INSTANCES = {
    "theory.simulators.NoiseProblem": "problems",
    "theory.simulators.EscapeRun": "runs",
}

# Functions whose value may be +inf at moderate inputs (with the reason).
MAY_OVERFLOW = {
    "theory.kramers.sgld_escape_time": "Arrhenius time exp(delta_loss / temperature)",
    "theory.kramers.sgd_escape_time": "Arrhenius time",
    "theory.kramers.mixed_escape_time": "Arrhenius time",
    "theory.kramers.escape_time_1d": "Arrhenius time",
    "theory.kramers.mean_first_passage_time": "Arrhenius time",
    "theory.kramers.escape_rate": "1 / escape_time of a zero time",
    "theory.marchenko_pastur.MarchenkoPastur.moment": "the k-th moment grows like upper_edge**k",
    "theory.stats.z_score": "a zero standard error",
    "theory.quadratic.expected_loss": "(1 - lr eigval)**(2 steps) grows geometrically with steps",
    "theory.simulators.simulate_vgd": "the loss of a diverging run grows geometrically with n_steps",
    "theory.simulators.logistic_problem": "noise_dof is inf (the Gaussian limit) for a logistic problem",
    "theory.marchenko_pastur.MarchenkoPastur.pdf": "at ratio 1 the density diverges like x**-0.5 at x = 0",
    "theory.marchenko_pastur.MarchenkoPastur.logpdf": "-inf: the log of a zero density outside the support",
    "theory.marchenko_pastur.MarchenkoPastur.logcdf": "-inf: the log of a zero probability",
    "theory.marchenko_pastur.MarchenkoPastur.logsf": "-inf: the log of a zero probability",
}

# Fields documented as NaN where they are undefined (a standard error from one sample, a fit with no degrees
# of freedom left): qualified name -> (fields of the returned record, reason).
DOCUMENTED_NAN = {
    "theory.simulators.empirical_cdf": ({"stderr"}, "the spread across matrices is undefined for one matrix"),
    "theory.simulators.empirical_spectral_density": ({"stderr", "lower", "upper"},
                                                     "the spread across matrices is undefined for one matrix"),
    "theory.simulators.train": ({"loss"}, "a diverged run's loss is NaN after diverged_at: the steps were not taken"),
    "theory.simulators.training.train": ({"loss"}, "a diverged run's loss is NaN after diverged_at"),
    "theory.stats.weighted_line": ({"p_value", "curvature", "curvature_se"},
                                   "no degrees of freedom left: p_value with 2 points, the curvature with < 4"),
}

# Functions whose value is complex by definition.
COMPLEX = {"theory.marchenko_pastur.stieltjes", "theory.marchenko_pastur.MarchenkoPastur.stieltjes"}


def _is_record(obj):
    return inspect.isclass(obj) and (hasattr(obj, "__dataclass_fields__") or hasattr(obj, "_fields")) \
        and not hasattr(obj, "__init__.__wrapped__")


def _callables():
    """``(qualified name, callable, owner class or None)`` for every public callable, each object once."""
    seen, out = set(), []
    for module in public_modules():
        if module.__name__ == "theory" or any(module.__name__ == m or module.__name__.startswith(m + ".")
                                              for m in SKIP_MODULES):
            continue
        for name in _public_names(module):
            obj = getattr(module, name, None)
            if not callable(obj) or id(obj) in seen:
                continue
            seen.add(id(obj))
            qual = f"{module.__name__}.{name}"  # a re-export is named where the walk meets it first
            if inspect.isclass(obj):
                if issubclass(obj, BaseException):
                    continue
                record = _is_record(obj)
                if record and qual not in RECORD_INSTANCES:
                    SKIP.setdefault(qual, "a result record (its fields are the package's output)")
                    continue
                if not record:
                    out.append((qual, obj, None))
                for mname, func in _methods(obj):
                    if mname != "__init__":
                        out.append((f"{qual}.{mname}", func, obj))
            elif inspect.isfunction(obj):
                out.append((qual, obj, None))
    return out


def _has_public_methods(cls):
    return any(n != "__init__" for n, _ in _methods(cls))


# ---------------------------------------------------------------------------------------------------------
# The strategies, by parameter name.

INF, NAN = math.inf, math.nan
TYPICAL_POS = [0.1, 0.5, 1.0, 2.0, 3.0]
EXTREME_POS = [5e-324, 1e-300, 1e-150, 1e150, 1e300, 1.7976931348623157e308]


def pos(allow_inf=False, typical=TYPICAL_POS):
    extremes = EXTREME_POS + ([INF] if allow_inf else [])
    return st.one_of(st.sampled_from(typical), st.sampled_from(extremes),
                     st.floats(min_value=1e-8, max_value=1e8))


def real(typical=(0.0, -1.0, 0.5, 2.0)):
    return st.one_of(st.sampled_from(list(typical)), st.sampled_from([1e-300, -1e300, 1e300, -5e-324]),
                     st.floats(min_value=-1e6, max_value=1e6))


def unit():
    return st.one_of(st.sampled_from([0.5, 0.9, 0.1, 1e-12, 1 - 1e-12]),
                     st.floats(min_value=1e-6, max_value=1 - 1e-6))


def count(low=1, high=6):
    return st.integers(min_value=low, max_value=high)


def big_count(low=1):
    return st.one_of(st.integers(min_value=low, max_value=64), st.sampled_from([10**6, 10**15]))


def vec(dim, elements=None):
    elements = elements if elements is not None else st.floats(min_value=-10, max_value=10)
    return st.lists(elements, min_size=dim, max_size=dim).map(np.array)


def posvec(dim):
    return vec(dim, st.one_of(st.sampled_from([0.5, 1.0, 2.0, 5.0]), st.floats(min_value=1e-3, max_value=1e3)))


def symmat(dim):
    return vec(dim * dim).map(lambda a: (lambda m: (m + m.T) / 2)(a.reshape(dim, dim)))


def psdmat(dim):
    return vec(dim * dim).map(lambda a: (lambda m: m @ m.T / dim + np.eye(dim) * 0.1)(a.reshape(dim, dim)))


HOSTILE = st.sampled_from([NAN, INF, -INF, 0.0, -1.0, -1e300, 5e-324, True, False, 1 + 1j, "x", None,
                           np.array([]), np.ones(3), np.ones((2, 2)), np.array([1.0, NAN]),
                           np.array(["a"]), object(), [1.0, "a"], (), 2.5])


class Fixtures:
    """Valid objects for parameters that take a model, a landscape, dynamics or a run (built once)."""

    _cache: dict = {}

    @classmethod
    def get(cls, key):
        if key not in cls._cache:
            cls._cache[key] = getattr(cls, "_" + key)()
        return cls._cache[key]

    @staticmethod
    def _models():
        from theory import hessian_models as hm
        from theory.learned import MLPLandscape
        rng = np.random.default_rng(0)
        x = rng.standard_normal((8, 2))
        y = x @ np.array([1.0, -0.5]) + 0.1 * rng.standard_normal(8)
        return [hm.LinearLeastSquares(x, y), hm.ScalarProduct(1.0, 1.0),
                hm.LogisticRegression(x, (y > 0).astype(float), l2=0.1),
                hm.TwoLayerNetwork(x, y, 2), MLPLandscape(x, y, n_hidden=2)]

    @staticmethod
    def _landscapes():
        from theory import landscapes as ls
        return [ls.DoubleWell(), ls.DoubleWellND(transverse=(1.0,)), ls.StyblinskiTang(dim=2)]

    @staticmethod
    def _dynamics():
        from theory import simulators as sim
        return [sim.Langevin(temperature=0.3, dt=0.01), sim.SGDDiffusion(lr=0.1, batch_size=2),
                sim.Mixed(temperature=0.3, lr=0.1, batch_size=2, dt=0.01)]

    @staticmethod
    def _optimizers():
        from theory import simulators as sim
        return [sim.GD(), sim.SGD(batch_size=2), sim.VGD(sigma=0.1), sim.SAM(rho=0.05), sim.IVON(ess=100.0),
                sim.GTracer(rho=0.05)]

    @staticmethod
    def _problems():
        from theory import simulators as sim
        return [sim.least_squares_problem(16, [1.0, 2.0], seed=0)]

    @staticmethod
    def _runs():
        from theory import landscapes as ls
        from theory import simulators as sim
        well = ls.DoubleWell(height=0.1)
        return [sim.simulate_escape(well, sim.Langevin(temperature=0.3, dt=dt), n_walkers=8, max_steps=2000,
                                    seed=0) for dt in (0.02, 0.01)]


def _dim_of(obj):
    for attr in ("n_params", "dim"):
        v = getattr(obj, attr, None)
        if isinstance(v, int):
            return v
    return None


def valid(name, qual, ctx):
    """A strategy of valid values for parameter ``name`` of ``qual`` (None: keep the default)."""
    d = ctx["dim"]
    simulator = qual.startswith(("theory.simulators", "theory.hessian_models", "theory.learned",
                                 "theory.landscapes")) or ".rvs" in qual
    # objects
    if name == "model":
        return st.sampled_from(Fixtures.get("models"))
    if name == "landscape":
        return st.sampled_from(Fixtures.get("landscapes"))
    if name == "dynamics":
        return st.sampled_from(Fixtures.get("dynamics"))
    if name in ("optimizer",):
        return st.sampled_from(Fixtures.get("optimizers"))
    if name == "problem":
        return st.sampled_from(Fixtures.get("problems"))
    if name == "run_dt":
        return st.just(Fixtures.get("runs")[0])
    if name == "run_dt_half":
        return st.just(Fixtures.get("runs")[1])
    if name == "state":
        from theory.ivon import ivon_init
        return posvec(d).map(lambda m: ivon_init(m))
    if name == "potential":
        return st.just(lambda x: x ** 4 / 4 - x ** 2 / 2)
    # small counts for simulators
    if name == "n_batches" and qual.endswith("gaussianity_scan"):
        return count(80, 100)  # the Anderson-Darling test needs 80 draws
    if name in ("n_walkers", "n_runs", "n_matrices", "n_batches", "n_directions"):
        return count(2, 8)
    if name in ("n_steps", "max_steps", "steps", "max_iter", "maxiter", "newton_steps"):
        return count(1, 20)
    if name in ("t_total",):
        return st.sampled_from([0.05, 0.1])
    if name in ("record_every", "check_every", "track_every", "chunk_runs", "chunk_walkers", "chunk_matrices",
                "chunk_batches", "groups", "group_size"):
        return st.none() | count(1, 4)
    if name in ("n_data",):
        return count(d, 16) if simulator else st.one_of(big_count(1), st.sampled_from([1e300, 1e308, INF]))
    if name in ("batch_size", "ref_batch_size"):
        return count(1, 4) if simulator else big_count(1)
    if name in ("n_params", "n_features", "n_outputs", "n_classes", "n_hidden", "teacher_hidden", "d", "d_k",
                "d_v", "seq_len", "dim"):
        return count(1, 3) if simulator else big_count(1)
    if name in ("n_samples",):
        return count(1, 3) if simulator else big_count(1)
    if name == "batch_sizes":
        return st.lists(count(1, 4), min_size=1, max_size=3)
    if name == "k" and qual.endswith(".moment"):
        return st.one_of(count(0, 12), st.sampled_from([1000, 10 ** 4, 10 ** 6, 1e308]))
    if name in ("k", "top_k"):
        return count(1, 3)
    if name in ("n_items", "block_size"):
        return count(1, 100)
    if name in ("seed",):
        return st.integers(0, 2 ** 32)
    if name in ("ess",):
        return pos()
    # probabilities and fractions
    if name in ("beta1", "beta2", "beta", "test_fraction", "confidence", "p", "s", "alpha") and \
            not qual.startswith(("theory.marchenko_pastur.mp_effective", "theory.marchenko_pastur.effective",
                                 "theory.sharpness.effective", "theory.train", "theory.simulators.train")):
        return unit()
    # positive scalars
    if name in ("lr", "ref_lr", "sigma", "temperature", "noise_scale", "scale", "rho", "grad_norm", "hess_min",
                "hess_saddle", "hess_min_escape", "delta_loss", "ratio", "ell", "dt", "height", "width",
                "grad_sq", "eigval", "diffusion_min", "diffusion_saddle", "h", "delta", "hess_init", "h0",
                "init_scale", "target_scale", "teacher_scale", "separation", "noise", "level", "threshold",
                "damping", "l2", "weight_decay", "init_std", "init_var", "clip_radius", "sharpness", "ref",
                "gtol", "tol", "rtol", "zero_tol", "escape_time", "z"):
        return pos(allow_inf=name in ("n_data", "dof", "clip_radius", "ess") or not simulator)
    if name == "hess_saddle_escape":
        return pos().map(lambda v: -v)
    if name in ("dof", "feature_dof", "noise_dof"):
        return st.one_of(st.just(INF), st.sampled_from([2.5, 3.0, 5.0, 30.0, 1e300]))
    if name in ("theta",) and qual.startswith("theory.marchenko_pastur"):
        return pos()
    if name in ("tilt", "coupling", "third_min", "fourth_min", "third_saddle", "fourth_saddle", "start", "end",
                "value", "expected", "lo", "hi"):
        return real()
    if name in ("stderr",):
        return pos()
    # arrays
    if name in ("eigvals", "eigenvalues", "spectrum", "spikes", "additive_spikes", "transverse", "rates",
                "escape_times", "times", "yerr", "lam"):
        return posvec(d)
    if name in ("grad_proj", "mean_proj", "mean0", "mean", "grad", "theta", "theta0", "theta_star", "w", "w_star",
                "direction", "u", "vec", "noise_vec", "x", "y", "samples"):
        if name in ("x",) and qual.startswith(("theory.hessian_models", "theory.learned.MLPLandscape")) \
                and "Landscape.value" not in qual:
            return st.just(np.random.default_rng(0).standard_normal((8, 2)))
        if name in ("y",) and qual.startswith(("theory.hessian_models", "theory.learned.MLPLandscape")):
            return st.just(np.random.default_rng(1).standard_normal(8))
        if name == "samples":
            return vec(2 * d * 8).map(lambda a: a.reshape(-1, d))
        if name == "x" and qual.startswith("theory.stats"):
            return vec(max(d, 3))
        return vec(d)
    if name in ("hessian", "H", "G"):
        return symmat(d)
    if name == "hvp" and qual.startswith("theory.curvature"):  # a dense symmetric matrix is also accepted
        return symmat(d)
    if name in ("precond",):
        return posvec(d)
    if name in ("censored",):
        return vec(d, st.booleans())
    if name in ("grid",):
        return None
    return None


def _is_flag_default(p):
    return isinstance(p.default, bool)


def draw_arguments(data, qual, func, owner=None, *, hostile=True):
    sig = inspect.signature(func)
    params = [p for p in sig.parameters.values()
              if p.name not in ("self", "cls") and not p.name.startswith("_")
              and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    ctx = {"dim": data.draw(st.integers(1, 3), label="dim")}
    strategies = {}
    for p in params:
        s = valid(p.name, qual, ctx)
        if s is None and _is_flag_default(p):
            s = st.just(p.default)
        strategies[p.name] = s
    # objects first, so that arrays take the object's dimension
    drawn = {}
    for p in params:
        if p.name in ("model", "landscape", "problem", "state") and strategies[p.name] is not None:
            drawn[p.name] = data.draw(strategies[p.name], label=p.name)
            d = _dim_of(drawn[p.name])
            if d is not None and d != ctx["dim"]:
                ctx["dim"] = d
                strategies = {q.name: (valid(q.name, qual, ctx) if q.name not in drawn else None)
                              for q in params}
                for q in params:
                    if strategies[q.name] is None and _is_flag_default(q):
                        strategies[q.name] = st.just(q.default)
    names = [p.name for p in params]
    bad = set()
    if hostile and names:
        bad = data.draw(st.sets(st.sampled_from(names), max_size=min(2, len(names))), label="hostile")
    args, kwargs = [], {}
    for p in params:
        if p.name in bad:
            value = data.draw(HOSTILE, label=p.name)
        elif p.name in drawn:
            value = drawn[p.name]
        elif strategies.get(p.name) is not None:
            value = data.draw(strategies[p.name], label=p.name)
        elif p.default is not p.empty:
            continue
        else:
            value = data.draw(real(), label=p.name)
        if p.kind == p.POSITIONAL_ONLY:
            args.append(value)
        else:
            kwargs[p.name] = value
    return args, kwargs, [p.name for p in params]


# ---------------------------------------------------------------------------------------------------------
# The outcome rule.

class CallTimeout(BaseException):
    """Raised by the alarm when a call runs past TIME_LIMIT (a BaseException: ``except Exception`` lets it by)."""


def _alarm(signum, frame):
    raise CallTimeout


def call_limited(func, args, kwargs):
    CALLS["n"] += 1
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            return func(*args, **kwargs)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def numbers_in(obj, depth=0, skip=frozenset()):
    """Every float array in ``obj`` (scalars, arrays, records, sequences and mappings, two levels deep);
    ``skip``: fields of a returned record not to look at."""
    if depth > 3:
        return
    if isinstance(obj, (bool, np.bool_)):
        return
    if isinstance(obj, (int, float, np.number)):
        if isinstance(obj, (complex, np.complexfloating)):
            yield np.asarray(obj)
        yield np.asarray(obj, dtype=float)
    elif isinstance(obj, np.ndarray):
        if obj.dtype.kind in "fc":
            yield obj
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            if f.name not in skip:
                yield from numbers_in(getattr(obj, f.name, None), depth + 1)
    elif isinstance(obj, (tuple, list)):
        for item in obj[:50]:
            yield from numbers_in(item, depth + 1)
    elif isinstance(obj, dict):
        for item in list(obj.values())[:50]:
            yield from numbers_in(item, depth + 1)


def _extreme_input(values):
    for v in values:
        for arr in numbers_in(v):
            a = np.abs(np.asarray(arr, dtype=complex if np.iscomplexobj(arr) else float))
            if np.any(np.isinf(a)) or np.any(a > 1e100) or np.any((a > 0) & (a < 1e-100)):
                return True
    return False


def names_a_parameter(message, names):
    return any(re.search(rf"(?<![A-Za-z0-9_]){re.escape(n)}(?![A-Za-z0-9_])", message) for n in names)


def _short(v):
    if isinstance(v, np.ndarray):
        return "array(" + np.array2string(v, threshold=6, precision=4, separator=",").replace("\n", "") + ")"
    text = repr(v)
    return text if len(text) < 80 else text[:77] + "..."


def _defaults(func, passed):
    """The default values of the parameters not passed (an infinite default, e.g. ``dof=inf``, is an input)."""
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.default for p in params if p.name not in passed and p.default is not p.empty]


def _call_text(qual, args, kwargs):
    return f"{qual}({', '.join([_short(a) for a in args] + [f'{k}={_short(v)}' for k, v in kwargs.items()])})"


def check_outcome(qual, func, args, kwargs, names, context=(), instance=""):
    """Call ``func``; fail with "<qual>: <what went wrong> | <the call>" unless the outcome rule holds."""
    shown = (f"on {instance}: " if instance else "") + _call_text(qual, args, kwargs)
    try:
        result = call_limited(func, args, kwargs)
    except CallTimeout:
        pytest.fail(f"{qual}: ran past {TIME_LIMIT} s | {shown}")
    except (ValueError, TypeError) as exc:
        if not names_a_parameter(str(exc), names):
            pytest.fail(f"{qual}: {type(exc).__name__}({str(exc)[:200]!r}) names no parameter of {names} | {shown}")
        return None
    except Exception as exc:  # noqa: BLE001 - the outcome under test
        pytest.fail(f"{qual}: raised {type(exc).__name__}({str(exc)[:200]!r}) | {shown}")
    for arr in numbers_in(result, skip=DOCUMENTED_NAN.get(qual, (frozenset(),))[0]):
        arr = np.asarray(arr)
        if np.iscomplexobj(arr) and qual not in COMPLEX:
            pytest.fail(f"{qual}: returned a complex value | {shown}")
        if np.any(np.isnan(arr)):
            pytest.fail(f"{qual}: returned NaN ({_short(result)}) | {shown}")
        if np.any(np.isinf(arr)) and qual not in MAY_OVERFLOW \
                and not _extreme_input(list(args) + list(kwargs.values()) + list(context) + _defaults(func, kwargs)):
            pytest.fail(f"{qual}: returned inf from moderate inputs ({_short(result)}) | {shown}")
    return result


CALLABLES = [c for c in _callables() if c[0] not in SKIP and (c[2] is None or c[0].rsplit(".", 1)[0] not in SKIP)]

# Known failures not yet fixed: callable -> the failing call and outcome (each is an open defect, not a
# relaxation of the rule; remove the entry when it is fixed).
KNOWN_FAILURES: dict[str, str] = {}


def _params():
    return [pytest.param(*c, id=c[0], marks=[pytest.mark.xfail(reason=KNOWN_FAILURES[c[0]], strict=False)]
                         if c[0] in KNOWN_FAILURES else []) for c in CALLABLES]


def _constructor_names(cls):
    try:
        return [p for p in inspect.signature(cls).parameters]
    except (TypeError, ValueError):
        return []


@pytest.mark.parametrize("qual,func,owner", _params())
@settings(max_examples=EXAMPLES, deadline=None, database=None,
          phases=(Phase.explicit, Phase.generate),  # no shrinking: the failure message shows the call
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
@given(data=st.data())
def test_every_public_call_returns_a_number_or_names_a_parameter(qual, func, owner, data):
    if owner is None:
        args, kwargs, names = draw_arguments(data, qual, func)
        check_outcome(qual, func, args, kwargs, names)
        return
    # a method: an instance from valid constructor arguments, then the method with drawn arguments
    cls_qual = qual.rsplit(".", 1)[0]
    if cls_qual in RECORD_INSTANCES:
        instance = data.draw(st.sampled_from(Fixtures.get(RECORD_INSTANCES[cls_qual])), label="instance")
        cargs, ckwargs, cnames = [], {}, _constructor_names(owner)
    else:
        cargs, ckwargs, cnames = draw_arguments(data, cls_qual, owner, hostile=False)
        try:
            instance = call_limited(owner, cargs, ckwargs)
        except (ValueError, TypeError, CallTimeout):
            return  # the constructor's refusals are judged in its own test
    raw = inspect.getattr_static(owner, qual.rsplit(".", 1)[1])
    if isinstance(raw, staticmethod):
        bound = raw.__func__
    else:
        bound = getattr(instance, qual.rsplit(".", 1)[1])
    args, kwargs, names = draw_arguments(data, qual, raw.__func__ if isinstance(raw, (staticmethod, classmethod))
                                         else raw)
    check_outcome(qual, bound, args, kwargs, names + cnames, context=list(cargs) + list(ckwargs.values()),
                  instance=_short(instance) if cls_qual in RECORD_INSTANCES else _call_text(cls_qual, cargs, ckwargs))


def test_the_sweep_covers_the_public_api():
    quals = {c[0] for c in CALLABLES}
    for expected in ("theory.vgd.vgd_threshold", "theory.quadratic.expected_loss",
                     "theory.marchenko_pastur.MarchenkoPastur.pdf", "theory.kramers.mean_first_passage_time",
                     "theory.simulators.simulate_vgd", "theory.landscapes.DoubleWell.value", "theory.stats.z_critical"):
        assert expected in quals, expected
    assert len(CALLABLES) > 150, len(CALLABLES)
    import importlib
    for qual in list(SKIP) + list(MAY_OVERFLOW) + list(COMPLEX) + list(RECORD_INSTANCES) + list(DOCUMENTED_NAN):  # no stale entries
        module, _, rest = qual.partition(".")
        obj = importlib.import_module(module)
        for part in rest.split("."):
            obj = getattr(obj, part, None) if not inspect.ismodule(obj) or hasattr(obj, part) \
                else importlib.import_module(f"{obj.__name__}.{part}")
        assert obj is not None, f"{qual} is listed but is not a public name"


def test_the_outcome_rule_is_not_vacuous(monkeypatch):
    """NaN, inf from moderate inputs, an unnamed or foreign exception and a hang each fail the rule."""
    import time

    from theory.errors import DomainError

    monkeypatch.setattr(f"{__name__}.TIME_LIMIT", 0.2)
    monkeypatch.setitem(CALLS, "n", CALLS["n"])  # these calls are not the sweep's

    def f(lr, sigma=1.0):
        return {"nan": math.nan, "inf": math.inf, "ok": 1.0}[lr] if isinstance(lr, str) else lr

    def refuse(lr, message, kind=ValueError):
        raise kind(message)

    check_outcome("f", f, [], {"lr": "ok"}, ["lr", "sigma"])
    check_outcome("f", f, [], {"lr": 1e300}, ["lr", "sigma"])
    check_outcome("f", f, [], {"lr": math.inf}, ["lr", "sigma"])  # inf in, inf out
    check_outcome("g", refuse, [], {"lr": 1.0, "message": "sigma must be > 0"}, ["lr", "sigma"])
    check_outcome("g", refuse, [], {"lr": 1.0, "message": "lr must be real", "kind": DomainError}, ["lr"])
    for kwargs in ({"lr": "nan"}, {"lr": "inf"}):
        with pytest.raises(pytest.fail.Exception):
            check_outcome("f", f, [], kwargs, ["lr", "sigma"])
    for message, kind in (("operands could not be broadcast", ValueError), ("sigmas", TypeError),
                          ("lr", ZeroDivisionError), ("lr", IndexError)):
        with pytest.raises(pytest.fail.Exception):
            check_outcome("g", refuse, [], {"lr": 1.0, "message": message, "kind": kind}, ["lr", "sigma"])
    with pytest.raises(pytest.fail.Exception, match="ran past"):
        check_outcome("sleep", lambda lr: time.sleep(5), [], {"lr": 1.0}, ["lr"])


def test_seeds_are_refused_by_name_and_valid_seeds_are_unchanged():
    from theory.rng import blocks, seed_sequence
    for bad in (1 + 1j, "x", np.array(["a"]), np.array([1.5]), object(), [1.0, "a"], 2.5, True):
        with pytest.raises(TypeError, match="seed must be an int"):
            seed_sequence(bad)
    with pytest.raises(ValueError, match="seed must be non-negative"):
        seed_sequence(-1)
    assert seed_sequence(7).entropy == 7 and list(seed_sequence([1, 2]).entropy) == [1, 2]
    assert seed_sequence(np.int64(7)).entropy == 7 and list(seed_sequence([]).entropy) == []
    assert blocks(10, 4) == [(0, 4), (4, 8), (8, 10)] and blocks(0, 3) == []
    for kwargs, name in (({"n_items": "x", "block_size": 2}, "n_items"), ({"n_items": 3, "block_size": 0},
                                                                           "block_size")):
        with pytest.raises((TypeError, ValueError), match=name):
            blocks(**kwargs)


def test_a_backend_that_is_not_a_name_is_refused_by_name():
    from theory.backend import get_backend
    for bad in (np.ones(2), 1.0, ["numpy"]):
        with pytest.raises(TypeError, match="backend must be one of"):
            get_backend(bad)
    assert get_backend("numpy").xp is np and get_backend(None).xp is np


def test_executor_names_the_parameter():
    from concurrent.futures import ThreadPoolExecutor

    from theory._validate import executor
    assert executor(None) is None
    with ThreadPoolExecutor(1) as pool:
        assert executor(pool) is pool
    for bad in (1.0, "x", np.ones(2)):
        with pytest.raises(TypeError, match="executor must be None or an executor"):
            executor(bad)


def test_choice_names_the_parameter_and_its_options():
    from theory._validate import choice
    assert choice("mp", "model", ("mp", "exact")) == "mp"
    for bad, kind in ((np.ones(3), TypeError), (None, TypeError), (1.0, TypeError), ("bogus", ValueError)):
        with pytest.raises(kind, match=r"model must be one of 'mp', 'exact'"):
            choice(bad, "model", ("mp", "exact"))
