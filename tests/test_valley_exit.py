"""exit="valley" where the start's basin is a box bounded by coordinate planes: the box, the bridge face by
face in both engines, their agreement in distribution, reproducibility, and the O(dt) bias.

Statistical tests use fixed seeds and a stated false-alarm rate: ALPHA per test, Bonferroni over its
comparisons (z on the difference of two independent estimates, or on an estimate against an exact value).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theory import DomainError
from theory.backend import get_backend
from theory.kramers import mean_first_passage_time
from theory.landscapes import DoubleWell, DoubleWellND, StyblinskiTang
from theory.rng import seed_sequence
from theory.simulators import escape as escape_module
from theory.simulators.escape import Langevin, Mixed, SGDDiffusion, extrapolate_dt, simulate_escape
from theory.stats import Estimate, z_critical

ALPHA = 1e-6
HAS_NUMBA = importlib.util.find_spec("numba") is not None
needs_numba = pytest.mark.skipif(not HAS_NUMBA, reason="engine='numba' needs numba (an optional extra)")
ENGINES = ["numpy", pytest.param("numba", marks=needs_numba)]
DW = DoubleWell()  # minimum -1, saddle 0: the basin of -1 is (-inf, 0)
ST2 = StyblinskiTang(dim=2)


def _plan(land, dyn, route=None, exit="valley", bridge=True):
    route = land.route(0) if route is None else route
    start = np.asarray(route.minimum.x, dtype=np.float64).reshape(-1)
    return escape_module._build_plan(land, dyn, route, start, exit, bridge, 10**6)


def _z2(a, b):
    """z of the difference of two independent estimates."""
    return (float(a.value) - float(b.value)) / math.hypot(float(a.stderr), float(b.stderr))


def _same(a, b):
    assert np.array_equal(a.times, b.times) and np.array_equal(a.censored, b.censored)


# ------------------------------------------------------------ the box

@pytest.mark.parametrize("land, minimum", [(StyblinskiTang(3), 0), (StyblinskiTang(2, sharpness=4.0), 3),
                                           (StyblinskiTang(3), 5), (DW, 0), (DoubleWell(tilt=0.1), 0),
                                           (DoubleWell(tilt=0.1), 1), (DoubleWellND(transverse=(1.0, 2.0)), 0)])
def test_the_box_is_the_basin(land, minimum):
    """Faces at the coordinates' local maxima (the saddle's coordinate), and basin(x) == basin(start) exactly
    inside the box, on random points concentrated near the faces."""
    route = land.route(minimum)
    plan = _plan(land, Langevin(1.0, 0.001), route)
    assert plan.box is not None
    lo, hi = plan.box
    start = np.asarray(route.minimum.x, dtype=np.float64)
    assert np.all((lo < start) & (start < hi))
    faces = np.concatenate([lo[np.isfinite(lo)], hi[np.isfinite(hi)]])
    assert faces.size >= 1
    if isinstance(land, StyblinskiTang):  # the per-coordinate maximum, on the side away from the start's minimum
        top = land.coordinate_roots()[1]
        assert np.allclose(np.where(start < top, hi, lo), top, rtol=1e-14, atol=0)
        assert np.all(np.where(start < top, lo, hi) == np.where(start < top, -np.inf, np.inf))
    else:  # the saddle's x0 is the one finite face
        assert faces.size == 1 and abs(faces[0] - float(route.saddle.x[0])) <= 1e-14 * (1 + abs(faces[0]))
    label0 = int(land.basin(start[None])[0])
    rng = np.random.default_rng(7)
    d = start.size
    near = rng.choice(faces, size=(20_000, d))
    near += (1 + np.abs(near)) * rng.uniform(-1e-6, 1e-6, (20_000, d))
    wide = rng.uniform(-6.0, 6.0, (20_000, d))
    pts = np.where(rng.uniform(size=(20_000, d)) < 0.5, near, wide)
    assert not np.isin(pts, faces).any()  # on a face (a null set) the box is open, a basin closed on one side
    inside = np.all((pts > lo) & (pts < hi), axis=1)
    assert inside.any() and not inside.all()
    assert np.array_equal(inside, land.basin(pts) == label0)


class _CoarseBasins(StyblinskiTang):
    """Styblinski-Tang whose basin() labels by the first coordinate only: not the box of the flow's basin."""

    def basin(self, x):
        return (np.asarray(x)[..., 0] > self.coordinate_roots()[1]).astype(np.int64)


def test_basins_that_are_not_the_box():
    """A box that basin() contradicts, or a landscape that is not separable: no box. The NumPy engine tests
    basin(x) there; the numba engine refuses, naming the exit and the other engine."""
    land = _CoarseBasins(dim=2)
    assert _plan(land, Langevin(10.0, 0.002)).box is None
    coupled = DoubleWellND(tilt=0.1, coupling=0.3)
    assert _plan(coupled, Langevin(0.3, 0.01)).box is None
    run = simulate_escape(coupled, Langevin(0.3, 0.01), exit="valley", n_walkers=200, seed=1)
    assert run.n_escaped == 200
    if HAS_NUMBA:
        for ls, dyn in ((land, Langevin(10.0, 0.002)), (coupled, Langevin(0.3, 0.01))):
            with pytest.raises(DomainError, match=r"exit='valley'.*engine='numpy'"):
                simulate_escape(ls, dyn, exit="valley", n_walkers=10, engine="numba")


def test_without_the_bridge_the_box_test_is_the_basin_test():
    """bridge=False: leaving the box and basin(x) != basin(start) are one event, the same numbers."""
    dyn = Langevin(ST2.route(0).delta_loss / 4, 0.004)
    plan = _plan(ST2, dyn, bridge=False)
    xb = get_backend("numpy")
    box = escape_module._numpy_times(plan, seed_sequence(3), 3000, xb, None, None)
    basin = escape_module._numpy_times(dataclasses.replace(plan, box=None), seed_sequence(3), 3000, xb, None, None)
    assert np.array_equal(box, basin) and (box > 0).all()


# ------------------------------------------------------------ the kernel's face test

@needs_numba
@settings(deadline=None)  # the first example compiles
@given(d0=st.floats(-4.0, 4.0), d1=st.floats(-4.0, 4.0), e0=st.floats(-4.0, 4.0), e1=st.floats(-4.0, 4.0),
       var=st.floats(0.01, 4.0))
def test_two_faces_multiply_their_survival_factors(d0, d1, e0, e1, var):
    """_faces(S, qa, qb) = S (1 - p_a)(1 - p_b), p = exp(q), q = -2 d_n d_{n+1} / v; 0 when a face is crossed
    (q >= 0); a factor dropped when q <= Q_MIN."""
    from theory.simulators import _fused

    qa, qb = -2.0 * d0 * d1 / var, -2.0 * e0 * e1 / var
    got = _fused._faces(0.75, qa, qb)
    if not (qa < 0.0 and qb < 0.0):
        assert got == 0.0
        return
    want = 0.75
    for q in (qa, qb):
        if q > _fused.Q_MIN:
            want *= -math.expm1(q)
    assert got == pytest.approx(want, rel=1e-14, abs=0)


# ------------------------------------------------------------ both engines, one law

@needs_numba
@pytest.mark.parametrize("land, dyn", [
    (ST2, Langevin(ST2.route(0).delta_loss / 4, 0.004)),
    (ST2, Mixed(4.0, 0.3, 1, dt=0.004)),  # regimes: D switches with the loss level (Ito)
    (DW, SGDDiffusion(0.4, 1, dt=0.02)),
])
def test_engines_agree_in_distribution(land, dyn):
    """Mean exit time and the survival at the median: numba vs NumPy, 20k walkers each, two z at ALPHA."""
    kw = dict(exit="valley", n_walkers=20_000)
    a = simulate_escape(land, dyn, seed=11, **kw)
    b = simulate_escape(land, dyn, seed=12, engine="numba", **kw)
    assert a.n_escaped == b.n_escaped == 20_000
    z = z_critical(ALPHA, 2)
    assert abs(_z2(a.mean_time(), b.mean_time())) <= z, (a.mean_time(), b.mean_time())
    t_med = float(np.median(a.times)) * a.dt
    assert abs(_z2(a.survival(t_med), b.survival(t_med))) <= z


@needs_numba
def test_a_box_of_independent_coordinates_exits_at_the_first_coordinate_to_leave():
    """On Styblinski-Tang with Langevin noise the coordinates are independent: the 2-D valley exit is the
    earlier of two independent 1-D plane exits (the 1-D kernel's bridge), in law at the same dt. Both
    engines; two z at ALPHA."""
    t = ST2.route(0).delta_loss / 4
    one = StyblinskiTang(dim=1)
    z = z_critical(ALPHA, 2)
    for k, engine in enumerate(("numba", "numpy")):
        dyn = Langevin(t, 0.004)
        box = simulate_escape(ST2, dyn, exit="valley", n_walkers=20_000, seed=21 + k, engine=engine).mean_time()
        plane = simulate_escape(one, dyn, exit="saddle", n_walkers=40_000, seed=31 + k, engine="numba")
        first = np.minimum(plane.times[0::2], plane.times[1::2]) * plane.dt
        pair = Estimate(first.mean(), first.std(ddof=1) / math.sqrt(first.size), first.size)
        assert abs(_z2(box, pair)) <= z, (engine, box, pair)


@pytest.mark.parametrize("engine", ENGINES)
def test_one_finite_face_valley_is_the_saddle_exit(engine):
    """In 1-D the basin (-inf, 0) of the double well's left minimum ends at the saddle: exit="valley" and
    exit="saddle" agree in distribution (z at ALPHA). The NumPy engine gives both the same draws, so nearly
    every walker leaves at the same step (the two differ only in rounding)."""
    dyn = Langevin(0.3, 0.02)
    valley = simulate_escape(DW, dyn, exit="valley", n_walkers=20_000, seed=41, engine=engine)
    saddle = simulate_escape(DW, dyn, exit="saddle", n_walkers=20_000, seed=42, engine=engine)
    assert abs(_z2(valley.mean_time(), saddle.mean_time())) <= z_critical(ALPHA)
    if engine == "numpy":
        same = simulate_escape(DW, dyn, exit="saddle", n_walkers=20_000, seed=41, engine=engine)
        assert np.mean(valley.times == same.times) > 0.999


# ------------------------------------------------------------ reproducibility

@needs_numba
@pytest.mark.parametrize("land, dyn", [(ST2, Langevin(ST2.route(0).delta_loss / 4, 0.004)),
                                       (ST2, Mixed(4.0, 0.3, 1, dt=0.004)), (DW, Langevin(0.3, 0.02))])
def test_numba_valley_is_the_same_whatever_the_chunking_threads_and_executor(land, dyn):
    import numba

    kw = dict(exit="valley", n_walkers=3000, seed=5, engine="numba")
    base = simulate_escape(land, dyn, **kw)
    assert base.n_escaped > 0 and base.backend == "numba"
    for chunk in (1, 1500, 10**6):
        _same(base, simulate_escape(land, dyn, chunk_walkers=chunk, **kw))
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        _same(base, simulate_escape(land, dyn, **kw))
    finally:
        numba.set_num_threads(old)
    with ThreadPoolExecutor(2) as ex:
        _same(base, simulate_escape(land, dyn, chunk_walkers=1024, executor=ex, **kw))
    capped = simulate_escape(land, dyn, max_steps=50, **kw)
    _same(capped, simulate_escape(land, dyn, max_steps=50, chunk_walkers=1, **kw))
    assert capped.n_censored > 0
    assert not np.array_equal(base.times, simulate_escape(land, dyn, **{**kw, "seed": 6}).times)


def test_numpy_box_exit_is_chunk_invariant_with_regimes():
    dyn = Mixed(4.0, 0.3, 1, dt=0.004)
    a = simulate_escape(ST2, dyn, exit="valley", n_walkers=1500, seed=8)
    _same(a, simulate_escape(ST2, dyn, exit="valley", n_walkers=1500, seed=8, chunk_walkers=1))
    assert a.n_escaped == 1500


# ------------------------------------------------------------ the time-step bias is O(dt)

@pytest.mark.parametrize("engine", ENGINES)
def test_valley_bias_is_order_dt(engine):
    """The order-1 extrapolation from (2dt, dt) matches the exact MFPT of the 1-D double well to its barrier
    top (the valley's one face): z at ALPHA/2. Without the bridge the valley test has the O(sqrt dt) bias of
    discrete monitoring, which the same extrapolation misses by more than z (the check's power)."""
    exact = mean_first_passage_time(DW, -1.0, 0.0, 0.3).value
    z = z_critical(ALPHA, 2)

    def extrapolated(bridge, seed):
        runs = [simulate_escape(DW, Langevin(0.3, dt), exit="valley", n_walkers=50_000, seed=seed + i,
                                bridge=bridge, engine=engine) for i, dt in enumerate((0.04, 0.02))]
        return extrapolate_dt(*runs, order=1.0).estimate

    est = extrapolated(True, 51)
    assert abs(float(est.value) - exact) <= z * float(est.stderr), (est, exact)
    off = extrapolated(False, 61)
    assert abs(float(off.value) - exact) > z * float(off.stderr), (off, exact)
