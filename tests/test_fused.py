"""theory.simulators._fused: the numba engine against the NumPy engine and the exact formulas.

Skipped without numba (an optional extra). Statistical tests use fixed seeds and
a stated false-alarm rate: ALPHA per test, Bonferroni over its comparisons (with
the kernels right, a test fails by chance with probability at most ALPHA). The
streams of the two engines differ, so they are compared in distribution (two
independent estimates, z on the difference); time-step bias is handled as in
tests/test_escape_sim.py (Richardson from two step sizes, its standard error
included).
"""

from __future__ import annotations

import math
import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

numba = pytest.importorskip("numba")

from theory import DomainError  # noqa: E402
from theory.kramers import mean_first_passage_time  # noqa: E402
from theory.landscapes import DoubleWell, DoubleWellND, StyblinskiTang  # noqa: E402
from theory.quadratic import expected_loss, expected_loss_change  # noqa: E402
from theory.simulators import escape as escape_module  # noqa: E402
from theory.backend import Backend  # noqa: E402
from theory.simulators import _fused, _rng_kernels, simulate_vgd  # noqa: E402
from theory.simulators.escape import Langevin, Mixed, SGDDiffusion, extrapolate_dt, simulate_escape  # noqa: E402
from theory.stats import z_critical  # noqa: E402

ALPHA = 1e-6
DW = DoubleWell()  # U = x^4/4 - x^2/2 + 1/4: minimum -1 (U'' = 2), saddle 0 (U'' = -1), next minimum +1


def _z2(a, b):
    """z of the difference of two independent estimates."""
    return (float(a.value) - float(b.value)) / math.hypot(float(a.stderr), float(b.stderr))


# ------------------------------------------------------------ the generator

def test_normals_have_the_normal_law():
    """KS, the first four moments and the tail beyond the ziggurat's base (r = 3.654) and 4.5:
    seven comparisons (Bonferroni) at ALPHA; the moments' z use their large-n standard errors."""
    n = 2_000_000
    z = _rng_kernels.standard_normal(n, seed=1)
    crit = z_critical(ALPHA, 7)
    assert stats.kstest(z, "norm").pvalue > ALPHA / 7
    m = z.mean()
    assert abs(m) * math.sqrt(n) <= crit
    assert abs(z.var() - 1) / math.sqrt(2 / n) <= crit
    assert abs(stats.skew(z)) / math.sqrt(6 / n) <= crit
    assert abs(stats.kurtosis(z)) / math.sqrt(24 / n) <= crit
    for c in (_rng_kernels.ZIG_R, 4.5):
        p = 2 * stats.norm.sf(c)
        assert abs(np.mean(np.abs(z) > c) - p) / math.sqrt(p * (1 - p) / n) <= crit
    # a different seed, a different stream; the same seed, the same numbers whatever the blocking
    assert not np.array_equal(z[:100], _rng_kernels.standard_normal(100, seed=2))
    assert np.array_equal(_rng_kernels.standard_normal(1000, seed=3, per_block=1000),
                          _rng_kernels.standard_normal(1000, seed=3, per_block=1000))


def test_exponential_and_gamma_laws():
    """KS of Exp(1) (the bridge thresholds) and Gamma(nu/2) (Student-t perturbations): three tests at ALPHA."""
    assert stats.kstest(_rng_kernels.standard_exponential(1_000_000, seed=4), "expon").pvalue > ALPHA / 3
    for shape in (1.5, 6.0):
        g = _rng_kernels.standard_gamma(shape, 1_000_000, seed=5)
        assert stats.kstest(g, "gamma", args=(shape,)).pvalue > ALPHA / 3
    with pytest.raises(DomainError, match="shape must be"):
        _rng_kernels.standard_gamma(0.5, 10)


def test_fused_reexports_the_generator():
    """The kernels' module keeps the generator's public names (one stream, one implementation)."""
    for name in ("BLOCK", "block_states", "standard_normal", "standard_exponential", "standard_gamma", "set_threads"):
        assert getattr(_fused, name) is getattr(_rng_kernels, name)


# ------------------------------------------------------------ escape: the kernel's steps

@settings(deadline=None)  # the first example compiles the kernel
@given(d0=st.floats(-4.0, 4.0), d1=st.floats(-4.0, 4.0), var=st.floats(0.01, 4.0), m=st.sampled_from([0.0, 1.0]))
def test_survival_factor_is_one_minus_the_bridge_probability(d0, d1, var, m):
    """_survive(S, ...) = S (1 - p), p = exp(-2 d0 d1 / var) for a step inside the plane, 0 for a step that
    crosses (or touches) it, S when p < exp(Q_MIN) (dropped). Distances d = sign (x - offset)."""
    offset, sign = 0.5, -1.0
    x, xn = offset + sign * d0, offset + sign * d1
    sc = -2.0 / var
    other = -2.0 / (2.0 * var)
    sc_out, sc_in = (other, sc) if m else (sc, other)
    got = _fused._survive(0.75, x, xn, m, sign, offset, sc_out, sc_in - sc_out, sc_in, True)
    d0, d1 = sign * (x - offset), sign * (xn - offset)  # the distances as the kernel sees them
    q = -2.0 * d0 * d1 / var
    if not q < 0.0:
        assert got == 0.0
    elif q <= _fused.Q_MIN * (1 + 1e-12):
        assert got == 0.75
    elif q > _fused.Q_MIN * (1 - 1e-12):
        assert got == pytest.approx(0.75 * -math.expm1(q), rel=1e-12)


def _reference_lanes(n, z, x0, a, c, offset, max_steps=10**6):
    """The 1-D kernel's schedule, written out for n <= 4 walkers without the bridge: the four lanes step in
    turn (one normal each) until a lane's walker crosses, then the unfinished ones, in lane order, run alone."""
    draws = iter(z)

    def step(y):
        return y * ((a * y + 0.0) * y + c) + 0.0 + next(draws) * 1.0

    x, t, out = [x0] * n, [0] * n, [None] * n
    if n == 4:
        while all(o is None for o in out):
            for lane in range(4):
                x[lane] = step(x[lane])
                t[lane] += 1
            for lane in range(4):
                if x[lane] > offset:
                    out[lane] = t[lane]
    for lane in range(n):
        while out[lane] is None:
            x[lane] = step(x[lane])
            t[lane] += 1
            if x[lane] > offset:
                out[lane] = t[lane]
    return out


@pytest.mark.parametrize("n", [1, 3, 4])
def test_lanes_follow_the_stream_in_turn(n):
    """A block of n walkers of the Langevin double well (internal units: y = x / sqrt(2 T dt), noise scale 1),
    no bridge: the exit steps are those of the schedule written out in Python on the block's normals."""
    temp, dt = 0.3, 0.02
    scale = math.sqrt(2 * temp * dt)
    a, c, x0 = -dt * scale**2, 1.0 + dt, -1.0 / scale
    states = _rng_kernels.block_states(np.random.SeedSequence(5), 1)
    z = _rng_kernels.standard_normal(50_000, seed=np.random.SeedSequence(5))  # block 0's stream, in order
    out = np.full(n, -2, dtype=np.int64)
    s0, s1, s2, s3 = states[0]
    bad = _fused._walk_1d(0, n, s0, s1, s2, s3, a, 0.0, c, 0.0, 0, 1.0, 1.0, -math.inf, math.inf, 0.0, 0.0, 0.0,
                          0.0, 0.0, 1.0, 0.0, 0.0, False, -1.0, -1.0, x0, 10**6, out)
    assert not bad
    assert out.tolist() == _reference_lanes(n, z, x0, a, c, 0.0)
    assert out.sum() > 10 * n  # the walks are long enough to mean something


# ------------------------------------------------------------ escape: exact MFPT and the NumPy engine

def _exact(temperature, end=0.0, **kw):
    return float(mean_first_passage_time(DW, -1.0, end, temperature, **kw).value)


def test_langevin_matches_exact_mfpt_and_the_numpy_engine():
    """Saddle and next-minimum exits at D = 0.3: Richardson over dt = 0.02, 0.01 against the exact MFPT
    (two comparisons each, as in test_escape_sim), and the dt = 0.01 run against the NumPy engine at
    the same dt (same bias: one two-sample z each). Six comparisons (Bonferroni)."""
    z = z_critical(ALPHA, 6)
    for exit, end in (("saddle", 0.0), ("minimum", 1.0)):
        exact = _exact(0.3, end)
        coarse = simulate_escape(DW, Langevin(0.3, 0.02), exit=exit, n_walkers=20_000, seed=301, engine="numba")
        fine = simulate_escape(DW, Langevin(0.3, 0.01), exit=exit, n_walkers=20_000, seed=302, engine="numba")
        assert fine.backend == "numba" and fine.n_escaped == fine.n_walkers and fine.exit == exit
        ex = extrapolate_dt(coarse, fine)
        assert abs(float(ex.estimate.value) - exact) <= z * float(ex.estimate.stderr), (ex, exact)
        ref = simulate_escape(DW, Langevin(0.3, 0.01), exit=exit, n_walkers=20_000, seed=303)
        assert abs(_z2(fine.mean_time(), ref.mean_time())) <= z


def test_bridge_on_the_numba_engine():
    """At a coarse step, without the bridge the saddle MFPT is biased upward by many standard errors;
    with it the bias is much smaller (as on the NumPy path). One one-sided comparison at ALPHA."""
    exact = _exact(0.2)
    dyn = Langevin(0.2, 0.04)
    on = simulate_escape(DW, dyn, n_walkers=20_000, seed=304, engine="numba").mean_time()
    off = simulate_escape(DW, dyn, n_walkers=20_000, seed=304, bridge=False, engine="numba").mean_time()
    bias_off, bias_on = float(off.value) - exact, float(on.value) - exact
    assert bias_off > z_critical(ALPHA, 1, two_sided=False) * float(off.stderr)
    assert abs(bias_on) < bias_off / 4


def test_sgd_diffusion_matches_the_ito_mfpt():
    """lr = 0.3, B = 1, s = 0.5 (D_a = 0.3, D_b = 0.15, switching at U = 0.125): the exact Ito MFPT of the
    piecewise model, order-1/2 extrapolation over dt = 0.01, 0.005; and the NumPy engine at dt = 0.01.
    Three comparisons (Bonferroni)."""
    us = 0.125
    jump = -math.sqrt(1 - math.sqrt(4 * us))  # where U(x) = us between -1 and 0

    def prof(x):
        u = x**4 / 4 - x**2 / 2 + 0.25
        return np.where(u < us, 2.0, 1.0)

    exact = float(mean_first_passage_time(DW, -1.0, 0.0, 0.15, diffusion=prof, convention="ito",
                                          points=[jump, -jump]).value)
    z = z_critical(ALPHA, 3)
    coarse = simulate_escape(DW, SGDDiffusion(0.3, 1, dt=0.01), n_walkers=40_000, seed=305, engine="numba")
    fine = simulate_escape(DW, SGDDiffusion(0.3, 1, dt=0.005), n_walkers=40_000, seed=306, engine="numba")
    ex = extrapolate_dt(coarse, fine, order=0.5)
    assert abs(float(ex.estimate.value) - exact) <= z * float(ex.estimate.stderr), (ex, exact)
    f = fine.mean_time()
    assert abs(float(f.value) - exact) <= (z * float(f.stderr) + abs(float(ex.bias.value))
                                           + z * float(ex.bias.stderr))
    ref = simulate_escape(DW, SGDDiffusion(0.3, 1, dt=0.01), n_walkers=40_000, seed=307)
    assert abs(_z2(coarse.mean_time(), ref.mean_time())) <= z


def _regime_args(q, level, sign=1.0, offset=0.0):
    return dict(regime=True, sigma=1.0, s_a=np.array([2.0]), s_b=np.array([1.0]), sc_a=-0.5, sc_b=-2.0, band=6.0,
                q4=np.array([q[0]]), q3=np.array([q[1]]), q2=np.array([q[2]]), q1=np.array([q[3]]), level=level,
                sign=sign, offset=offset)


@pytest.mark.parametrize("q, level, sign, offset, mode", [
    ((0.25, 0.0, -0.5, 0.0), -0.125, 1.0, 0.0, 1),  # the double well's left valley: an interval
    ((0.25, 0.0, -0.5, 0.0), -0.125, -1.0, 0.0, 1),  # its right valley
    ((0.25, 0.1, -0.5, 0.0), -0.125, 1.0, 0.05, 1),  # tilted
    ((0.25, 0.0, -0.5, 0.0), 0.5, 1.0, 0.0, 1),  # one root on the side: a half-line
    ((0.25, 0.0, -0.5, 0.0), -1.0, 1.0, 0.0, 0),  # no root: one regime
    ((0.0, 0.0, 1.0, 0.0), 1.0, 1.0, 5.0, 1),  # a quadratic
    ((1.0, 0.0, -5.0, 0.0), -1.0, 1.0, 10.0, 2),  # four roots on the side: the polynomial
])
def test_regime_split_is_the_loss_test(q, level, sign, offset, mode):
    """The 1-D kernel's interval test gives the regime of the loss polynomial everywhere on the walkers' side
    of the plane, except within rounding of a root of loss = level."""
    args = _regime_args(q, level, sign, offset)
    r = _fused.regime_split(args)
    assert r["mode"] == mode
    x = offset - sign * np.abs(np.random.default_rng(0).standard_normal(20_000)) * 3.0
    loss_below = (((q[0] * x + q[1]) * x + q[2]) * x + q[3]) * x < level
    if r["mode"] == 0:
        inside = np.ones_like(x, dtype=bool)
    elif r["mode"] == 1:
        inside = (x > r["lo"]) & (x < r["hi"])
    else:
        return
    scale = np.where(inside, r["s_in"], r["s_out"])
    expect = np.where(loss_below, 2.0, 1.0)
    roots = np.roots(np.array([*q, -level])[next(i for i in range(4) if q[i] != 0):])
    roots = roots.real[np.abs(roots.imag) < 1e-9]
    far = np.all(np.abs(x[:, None] - roots[None, :]) > 1e-9, axis=1)
    assert far.sum() > 19_000
    np.testing.assert_array_equal(scale[far], expect[far])
    assert np.all(np.where(inside, r["sc_in"], r["sc_out"])[far] == np.where(loss_below, -0.5, -2.0)[far])


_coef = st.floats(-4.0, 4.0, allow_nan=False).map(lambda c: 0.0 if abs(c) < 1e-3 else c)


@given(q=st.tuples(st.floats(0.01, 4.0), _coef, _coef, _coef), level=st.floats(-5.0, 5.0),
       sign=st.sampled_from([1.0, -1.0]), offset=st.floats(-3.0, 3.0))
def test_regime_split_property(q, level, sign, offset):
    """Any quartic with a positive leading term: where the kernel uses the interval (or one regime), its
    regime is the polynomial's at every probe on the walkers' side, off the roots; the band never widens."""
    args = _regime_args(q, level, sign, offset)
    r = _fused.regime_split(args)
    assert r["band"] <= args["band"]
    if r["mode"] == 2:
        return
    x = offset - sign * np.linspace(1e-3, 6.0, 2001)
    below = (((q[0] * x + q[1]) * x + q[2]) * x + q[3]) * x < level
    inside = (x > r["lo"]) & (x < r["hi"]) if r["mode"] == 1 else np.ones_like(x, dtype=bool)
    roots = np.roots([*q, -level])
    roots = roots.real[np.abs(roots.imag) < 1e-7 * (1 + np.abs(roots.real))]
    far = np.all(np.abs(x[:, None] - roots[None, :]) > 1e-6 * (1 + np.abs(roots[None, :])), axis=1)
    scale = np.where(inside, r["s_in"], r["s_out"])
    np.testing.assert_array_equal(scale[far], np.where(below, 2.0, 1.0)[far])


def test_interval_and_polynomial_regime_tests_give_the_same_walks(monkeypatch):
    """The same seed through the 1-D kernel with the interval test and with the loss polynomial: the
    regime decisions agree off the roots, so every exit step is the same."""
    dyn = SGDDiffusion(0.3, 1, dt=0.01)
    a = simulate_escape(DW, dyn, n_walkers=3000, seed=11, engine="numba")
    split = _fused.regime_split

    def polynomial(args):
        r = split(args)
        assert r["mode"] == 1
        return dict(mode=2, lo=-math.inf, hi=math.inf, s_in=float(args["s_a"][0]), s_out=float(args["s_b"][0]),
                    sc_in=args["sc_a"], sc_out=args["sc_b"])

    monkeypatch.setattr(_fused, "regime_split", polynomial)
    b = simulate_escape(DW, dyn, n_walkers=3000, seed=11, engine="numba")
    np.testing.assert_array_equal(a.times, b.times)


@pytest.mark.parametrize("dyn", [SGDDiffusion(0.3, 1, dt=0.01), Mixed(0.05, 0.3, 1, dt=0.01)])
def test_the_narrow_band_tests_every_step_that_counts(monkeypatch, dyn):
    """Near the saddle only the saddle's regime applies, so the kernel tests a band of its step widths
    instead of the widest regime's: every step it skips has a crossing probability below exp(Q_MIN),
    which the wide band would drop too. Same seed, wide band: the same exit steps, bit for bit."""
    args = _fused._escape_args(_plan(dyn))
    assert args["band"] < _plan(dyn).band  # the narrowing is in effect here
    narrow = simulate_escape(DW, dyn, n_walkers=3000, seed=12, engine="numba")
    monkeypatch.setattr(_fused, "_narrow_band", lambda band, *rest: band)
    wide = simulate_escape(DW, dyn, n_walkers=3000, seed=12, engine="numba")
    np.testing.assert_array_equal(narrow.times, wide.times)


def _plan(dyn):
    """The plan simulate_escape hands to the kernels."""
    seen = {}

    def grab(plan, root, n, **kw):
        seen["plan"] = plan
        return np.zeros(n, dtype=np.int64)

    original = _fused.escape_times
    _fused.escape_times = grab
    try:
        simulate_escape(DW, dyn, n_walkers=2, seed=0, engine="numba")
    finally:
        _fused.escape_times = original
    return seen["plan"]


def test_mixed_and_many_dimensions_agree_with_the_numpy_engine():
    """Mixed noise on the double well, and Langevin on Styblinski-Tang in 3-D (the n-D kernel):
    numba vs NumPy at the same dt. Two comparisons (Bonferroni)."""
    z = z_critical(ALPHA, 2)
    dyn = Mixed(0.1, 0.2, 1, 0.02)
    a = simulate_escape(DW, dyn, n_walkers=10_000, seed=308, engine="numba")
    b = simulate_escape(DW, dyn, n_walkers=10_000, seed=309)
    assert abs(_z2(a.mean_time(), b.mean_time())) <= z
    st = StyblinskiTang(dim=3)
    dyn = Langevin(10.0, 0.005)
    a = simulate_escape(st, dyn, n_walkers=3_000, seed=310, engine="numba")
    b = simulate_escape(st, dyn, n_walkers=3_000, seed=311)
    assert a.n_escaped == a.n_walkers and b.n_escaped == b.n_walkers
    assert abs(_z2(a.mean_time(), b.mean_time())) <= z


def test_censoring_on_the_numba_engine():
    """Censored at about the median, the exponential MLE agrees with the uncensored mean (same dt).
    One comparison at ALPHA."""
    dyn = Langevin(0.05, 0.05)
    full = simulate_escape(DW, dyn, n_walkers=10_000, seed=312, engine="numba")
    cens = simulate_escape(DW, dyn, n_walkers=10_000, seed=313, max_steps=5000, engine="numba")
    assert full.n_censored == 0
    assert 0.2 * cens.n_walkers < cens.n_censored < 0.8 * cens.n_walkers
    assert np.all(cens.times[cens.censored] == 5000) and np.all(cens.times[~cens.censored] <= 5000)
    assert abs(_z2(full.mean_time(), cens.mean_time())) <= z_critical(ALPHA)


# ------------------------------------------------------------ reproducibility

def _same(a, b):
    assert np.array_equal(a.times, b.times) and np.array_equal(a.censored, b.censored)


@pytest.mark.parametrize("dyn", [Langevin(0.3, 0.02), SGDDiffusion(0.3, 1, dt=0.02)])
def test_same_numbers_for_any_threads_and_chunking(dyn, threads):
    kw = dict(exit="minimum", n_walkers=5_000, seed=42, engine="numba")
    threads(1)
    base = simulate_escape(DW, dyn, **kw)
    threads(2)
    _same(base, simulate_escape(DW, dyn, **kw))
    for chunk in (1, 1500, 2048, 10**6):
        _same(base, simulate_escape(DW, dyn, chunk_walkers=chunk, **kw))
    capped = simulate_escape(DW, dyn, max_steps=300, **kw)
    threads(1)
    _same(capped, simulate_escape(DW, dyn, max_steps=300, chunk_walkers=1, **kw))
    # another seed, other numbers; the entropy reproduces a fresh seed
    assert not np.array_equal(base.times, simulate_escape(DW, dyn, **{**kw, "seed": 43}).times)
    fresh = simulate_escape(DW, dyn, **{**kw, "seed": None})
    _same(fresh, simulate_escape(DW, dyn, **{**kw, "seed": fresh.entropy}))


def test_n_dimensional_kernel_is_thread_invariant(threads):
    st = StyblinskiTang(dim=3)
    kw = dict(n_walkers=2_500, max_steps=2_000, seed=7, engine="numba")
    threads(1)
    a = simulate_escape(st, Langevin(10.0, 0.002), **kw)
    threads(2)
    _same(a, simulate_escape(st, Langevin(10.0, 0.002), chunk_walkers=1, **kw))
    assert a.n_escaped > 0


def test_same_numbers_with_worker_processes():
    """Workers started by "spawn": GNU OpenMP (numba's default threading layer here) refuses a fork
    after a parallel kernel has run in the parent."""
    kw = dict(n_walkers=3_000, seed=44, engine="numba")
    base = simulate_escape(DW, Langevin(0.3, 0.02), **kw)
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as ex:
        _same(base, simulate_escape(DW, Langevin(0.3, 0.02), chunk_walkers=1024, executor=ex, **kw))


# ------------------------------------------------------------ what the kernels refuse

def test_refusals(monkeypatch):
    with pytest.raises(DomainError, match="^engine must be"):
        simulate_escape(DW, Langevin(0.3, 0.02), n_walkers=10, engine="fortran")
    with pytest.raises(DomainError, match="exit='valley'.*engine='numpy'"):  # a basin that is not a box
        simulate_escape(DoubleWellND(tilt=0.1, coupling=0.3), Langevin(0.3, 0.02), n_walkers=10, exit="valley",
                        engine="numba")
    with pytest.raises(DomainError, match="^engine='numba' runs on the CPU"):
        class _Fake(Backend):
            name = "fake-gpu"

            def __init__(self):
                super().__init__(xp=object())
        simulate_escape(DW, Langevin(0.3, 0.02), n_walkers=10, engine="numba", backend=_Fake())
    with pytest.raises(DomainError, match="^engine must be"):
        simulate_vgd([1.0], [1.0], lr=0.1, engine="fortran")
    with pytest.raises(DomainError, match="Gaussian perturbations"):
        simulate_vgd(np.eye(2), np.ones(2), lr=0.1, sigma=0.1, dof=5.0, engine="numba")
    monkeypatch.setattr(escape_module, "separable_cubic", lambda landscape, points: None)
    with pytest.raises(DomainError, match="cubic polynomial"):
        simulate_escape(DW, Langevin(0.3, 0.02), n_walkers=10, engine="numba")


def test_missing_numba_names_the_extra(monkeypatch):
    import theory.simulators

    monkeypatch.setitem(sys.modules, "numba", None)
    monkeypatch.delitem(sys.modules, "theory.simulators._fused")
    monkeypatch.delattr(theory.simulators, "_fused")
    with pytest.raises(ImportError, match=r"theory\[numba\]"):
        simulate_escape(DW, Langevin(0.3, 0.02), n_walkers=10, engine="numba")
    # the NumPy engine needs nothing more
    assert simulate_escape(DW, Langevin(0.3, 0.02), n_walkers=10, seed=1).n_walkers == 10


# ------------------------------------------------------------ VGD

LAM = np.array([0.5, 5.0, 12.0, 19.0])
G = np.array([0.3, 1.0, -0.4, 0.2])


def test_vgd_matches_expected_loss_and_the_numpy_engine():
    """30 steps from random starts: per-step mean losses by direction at four steps against
    expected_loss (12 comparisons), the total (4), and against the NumPy engine (12 two-sample z).
    28 comparisons (Bonferroni)."""
    lam, m0 = np.array([1.0, 8.0, 15.0]), np.array([1.0, 0.5, 0.2])
    kw = dict(lr=0.1, sigma=0.2, n_samples=2, n_steps=30, init_std=0.3, n_runs=20_000)
    run = simulate_vgd(lam, m0, seed=3, engine="numba", **kw)
    ref = simulate_vgd(lam, m0, seed=4, **kw)
    assert run.backend == "numba" and run.n_runs == 20_000
    steps = np.array([1, 3, 10, 30])
    f = expected_loss(lam, m0, 0.1, steps[:, None], 0.2, 2, init_var=0.09)
    crit = z_critical(ALPHA, 28)
    assert np.all(np.abs(run.loss_by_direction[steps].z(f)) <= crit)
    assert np.all(np.abs(run.loss[steps].z(f.sum(axis=1))) <= crit)
    a, b = run.loss_by_direction[steps], ref.loss_by_direction[steps]
    zz = (a.value - b.value) / np.hypot(a.stderr, b.stderr)
    assert np.all(np.abs(zz) <= crit), zz


@pytest.mark.parametrize("sigma, ns, dof", [(0.05, 4, np.inf), (0.05, 3, 12.0), (0.0, 1, np.inf)])
def test_vgd_one_step_change(sigma, ns, dof):
    run = simulate_vgd(LAM, G / LAM, lr=0.1, sigma=sigma, n_samples=ns, dof=dof, n_runs=40_000, seed=11,
                       engine="numba")
    f = expected_loss_change(LAM, G, 0.1, sigma, ns, dof=dof)
    if sigma == 0:  # GD from a fixed start: deterministic
        assert np.allclose(run.change_by_direction.value[1], f, rtol=1e-13, atol=1e-16)
    else:
        z = run.change_by_direction[1].z(f)
        assert np.all(np.abs(z) <= z_critical(ALPHA, z.size)), z


def test_vgd_full_hessian_in_its_eigenbasis():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4, 4))
    q = a @ a.T / 4 + np.eye(4)
    m = rng.normal(size=4)
    run = simulate_vgd(q, m, lr=0.1, sigma=0.2, n_samples=2, n_steps=3, n_runs=30_000, seed=8, engine="numba")
    w, vecs = np.linalg.eigh(q)
    f = expected_loss(w, vecs.T @ m, 0.1, np.arange(4)[:, None], 0.2, 2)
    z = run.loss_by_direction[1:].z(f[1:])
    assert np.all(np.abs(z) <= z_critical(ALPHA, z.size)), z


def test_vgd_same_numbers_for_any_threads_and_chunking(threads):
    kw = dict(lr=0.1, sigma=0.05, n_samples=3, dof=7.0, n_steps=4, n_runs=5_000, init_std=0.1, seed=42,
              engine="numba")
    threads(1)
    base = simulate_vgd(LAM, G / LAM, **kw)
    threads(2)
    for chunk in (None, 1, 3000):
        other = simulate_vgd(LAM, G / LAM, chunk_runs=chunk, **kw)
        for name in ("loss", "loss_by_direction", "change_by_direction"):
            ea, eb = getattr(base, name), getattr(other, name)
            assert np.array_equal(ea.value, eb.value) and np.array_equal(ea.stderr, eb.stderr)
    c = simulate_vgd(LAM, G / LAM, **{**kw, "seed": 43})
    assert not np.array_equal(base.loss.value, c.loss.value)
