"""theory.simulators.escape: mean first-passage times against exact quadrature, censoring, reproducibility.

Statistical tests compare a simulation with an exact value through the
simulation's own standard error. Each test uses fixed seeds and a stated
false-alarm rate: ALPHA per test, Bonferroni over its comparisons (with the
simulator right, a test fails by chance with probability at most ALPHA).
Time-step bias is estimated from two step sizes (Richardson) and enters the
comparison with its own standard error.
"""

from __future__ import annotations


import numpy as np

from theory.sweep import process_pool
import pytest
from hypothesis import given
from hypothesis import strategies as st

from theory import DomainError
from theory.backend import available_backends, get_backend
from theory.landscapes import DoubleWell, Landscape, StyblinskiTang
from theory.rng import derive
from theory.simulators import _escape_numpy as engine
from theory.simulators import escape as escape_module
from theory.simulators._escape_common import Q_MIN
from theory.simulators.escape import (
    Langevin,
    Mixed,
    SGDDiffusion,
    extrapolate_dt,
    simulate_escape,
)
from theory.stats import z_critical

from reference import quad_mfpt_langevin, quad_mfpt_piecewise

ALPHA = 1e-6
DW = DoubleWell()  # U = x^4/4 - x^2/2 + 1/4: minima -1, +1 (U'' = 2), saddle 0 (U'' = -1)


# ------------------------------------------------------------ exact 1-D MFPT by nested quadrature (reference.py)

def test_quadrature_reproduces_the_reference_table():
    assert quad_mfpt_langevin(0.1) == pytest.approx(30.821302, rel=2e-8)
    assert quad_mfpt_langevin(0.1, b=1.0) == pytest.approx(66.268626, rel=2e-8)
    # with h_a = h_b the piecewise model is Langevin at D = c h, and both forms agree
    for form in ("ito", "hk"):
        assert quad_mfpt_piecewise(0.05, 0.5, form, h_a=2.0, h_b=2.0) == pytest.approx(quad_mfpt_langevin(0.1),
                                                                                       rel=1e-8)


# ------------------------------------------------------------ Langevin MFPT

def assert_matches_exact(coarse, fine, exact, order=1.0):
    """Two comparisons (Bonferroni): the extrapolated estimate within z se of the exact value,
    and the fine run within z se + |estimated bias| + z se(bias)."""
    z = z_critical(ALPHA, 2)
    ex = extrapolate_dt(coarse, fine, order=order)
    est, bias = ex.estimate, ex.bias
    assert abs(float(est.value) - exact) <= z * float(est.stderr), (est, exact)
    f = fine.mean_time()
    allowed = z * float(f.stderr) + abs(float(bias.value)) + z * float(bias.stderr)
    assert abs(float(f.value) - exact) <= allowed, (f, bias, exact)
    return ex


@pytest.mark.parametrize("D, exit", [(0.1, "saddle"), (0.2, "saddle"), (0.2, "minimum"), (0.3, "saddle"),
                                     (0.3, "minimum")])
def test_langevin_mfpt_matches_exact_quadrature(D, exit):
    exact = quad_mfpt_langevin(D, b=0.0 if exit == "saddle" else 1.0)
    coarse = simulate_escape(DW, Langevin(D, 0.02), exit=exit, n_walkers=20_000, seed=101)
    fine = simulate_escape(DW, Langevin(D, 0.01), exit=exit, n_walkers=20_000, seed=102)
    assert coarse.n_escaped == coarse.n_walkers and fine.n_escaped == fine.n_walkers
    assert fine.exit == exit and fine.dt == 0.01
    assert_matches_exact(coarse, fine, exact)


def test_generic_gradient_path_matches_exact(monkeypatch):
    """The landscape.gradient path (taken by non-polynomial landscapes) gives the same physics."""
    monkeypatch.setattr(escape_module, "separable_cubic", lambda landscape, points: None)
    exact = quad_mfpt_langevin(0.3)
    coarse = simulate_escape(DW, Langevin(0.3, 0.02), n_walkers=20_000, seed=103)
    fine = simulate_escape(DW, Langevin(0.3, 0.01), n_walkers=20_000, seed=104)
    assert_matches_exact(coarse, fine, exact)


def test_bridge_removes_the_discrete_monitoring_bias():
    """At a coarse step the saddle MFPT without the bridge is biased upward (O(sqrt dt)) by many
    standard errors; with the bridge the remaining (O(dt)) bias is much smaller.

    One-sided comparison at ALPHA for the first claim; the second is a fixed-seed ratio."""
    exact = quad_mfpt_langevin(0.2)
    dyn = Langevin(0.2, 0.04)
    on = simulate_escape(DW, dyn, n_walkers=20_000, seed=105).mean_time()
    off = simulate_escape(DW, dyn, n_walkers=20_000, seed=105, bridge=False).mean_time()
    bias_off, bias_on = float(off.value) - exact, float(on.value) - exact
    assert bias_off > z_critical(ALPHA, 1, two_sided=False) * float(off.stderr)
    assert bias_off > 10 * float(off.stderr)
    assert abs(bias_on) < bias_off / 4


# ------------------------------------------------------------ censoring

def test_censored_exponential_mle_agrees_with_uncensored_mean():
    """Deep in the Kramers regime (Delta L / D = 5, MFPT ~ 362 >> the relaxation time ~ 1/H_a) escape
    is exponential, and censoring at about the median loses nothing but precision. Both runs use
    the same dt, so its bias is common. One comparison at ALPHA."""
    dyn = Langevin(0.05, 0.05)
    full = simulate_escape(DW, dyn, n_walkers=10_000, seed=106)
    cens = simulate_escape(DW, dyn, n_walkers=10_000, seed=107, max_steps=5000)
    assert full.n_censored == 0
    assert 0.2 * cens.n_walkers < cens.n_censored < 0.8 * cens.n_walkers
    assert np.all(cens.times[cens.censored] == 5000) and np.all(cens.times[~cens.censored] <= 5000)
    a, b = full.mean_time(), cens.mean_time()
    assert float(b.stderr) == pytest.approx(float(b.value) / np.sqrt(cens.n_escaped))
    z = (float(b.value) - float(a.value)) / np.hypot(float(a.stderr), float(b.stderr))
    assert abs(z) <= z_critical(ALPHA, 1), z
    # rate and survival are consistent with the mean
    r = cens.rate()
    assert float(r.value) == pytest.approx(1 / float(b.value))
    assert float(r.stderr) == pytest.approx(float(b.stderr) / float(b.value) ** 2)
    s = cens.survival([0.0, 50.0, 200.0, 5000 * 0.05, 300.0])  # censored from t = 250 on: unknown there
    assert s.value[0] == 1.0 and np.all(np.diff(s.value[:3]) <= 0)
    assert np.isnan(s.value[3]) and np.isnan(s.value[4])
    assert s.value[2] == pytest.approx(np.mean(cens.times * 0.05 > 200.0))
    assert full.mean_steps().value == pytest.approx(full.times.mean())


def test_no_escape_is_an_error_not_a_number():
    run = simulate_escape(DW, Langevin(0.05, 0.01), n_walkers=2, max_steps=3, seed=1)
    assert run.n_escaped == 0
    with pytest.raises(DomainError, match="no walker escaped"):
        run.mean_time()


# ------------------------------------------------------------ SGD diffusion (piecewise D)

def test_sgd_diffusion_matches_the_ito_mfpt_of_the_piecewise_model():
    """lr = 0.3, B = 1 (c = lr/2B = 0.15, D_a = 0.3, D_b = 0.15), s = 0.5, exit at the saddle.

    The Euler-Maruyama step takes D at the step's start: the Ito MFPT must match and the
    Haenggi-Klimontovich one (about 1.5 times larger here) must not. The jump of D makes the
    step bias O(sqrt dt): extrapolate with order 1/2. Three comparisons (Bonferroni)."""
    ito, hk = quad_mfpt_piecewise(0.15, 0.5, "ito"), quad_mfpt_piecewise(0.15, 0.5, "hk")
    assert hk > 1.3 * ito
    coarse = simulate_escape(DW, SGDDiffusion(lr=0.3, batch_size=1, dt=0.01, s=0.5), n_walkers=40_000, seed=108)
    fine = simulate_escape(DW, SGDDiffusion(lr=0.3, batch_size=1, dt=0.005, s=0.5), n_walkers=40_000, seed=109)
    ex = extrapolate_dt(coarse, fine, order=0.5)
    z = z_critical(ALPHA, 3)
    est, se = float(ex.estimate.value), float(ex.estimate.stderr)
    assert abs(est - ito) <= z * se, (ex, ito)
    assert abs(est - hk) > z * se
    f = fine.mean_time()
    assert abs(float(f.value) - ito) <= z * float(f.stderr) + abs(float(ex.bias.value)) + z * float(ex.bias.stderr)


def test_sgd_diffusion_defaults_and_stiff_landscapes():
    sgd = SGDDiffusion(lr=0.1, batch_size=4)
    assert sgd.dt == 0.1 and sgd.s == 0.5
    # lr * H_a = 3 > 2: discrete SGD is unstable; the SDE with a small dt is fine
    with pytest.raises(DomainError, match="^dt must be"):
        simulate_escape(DW, SGDDiffusion(lr=1.5, batch_size=64), n_walkers=10, max_steps=5)
    run = simulate_escape(DW, SGDDiffusion(lr=1.5, batch_size=64, dt=0.05), n_walkers=10, max_steps=5, seed=1)
    assert run.dt == 0.05
    # Mixed with a negligible SGD part is Langevin
    mixed = simulate_escape(DW, Mixed(0.3, 1e-9, 1, 0.02), n_walkers=5_000, seed=110).mean_time()
    lang = simulate_escape(DW, Langevin(0.3, 0.02), n_walkers=5_000, seed=111).mean_time()
    assert abs(float(mixed.value) - float(lang.value)) <= z_critical(ALPHA) * np.hypot(float(mixed.stderr),
                                                                                         float(lang.stderr))


# ------------------------------------------------------------ reproducibility

KW = dict(exit="minimum", n_walkers=5_000, seed=42)


def _same(a, b):
    assert np.array_equal(a.times, b.times) and np.array_equal(a.censored, b.censored)


@pytest.mark.parametrize("dyn", [Langevin(0.3, 0.02), SGDDiffusion(0.3, 1, dt=0.02)])
def test_same_seed_same_numbers_whatever_the_chunking(dyn):
    base = simulate_escape(DW, dyn, **KW)
    for chunk in (1, 1500, 2048, 10**6):
        _same(base, simulate_escape(DW, dyn, chunk_walkers=chunk, **KW))
    capped = simulate_escape(DW, dyn, max_steps=300, **KW)
    _same(capped, simulate_escape(DW, dyn, max_steps=300, chunk_walkers=1, **KW))


def test_same_numbers_with_worker_processes():
    dyn = Langevin(0.3, 0.02)
    base = simulate_escape(DW, dyn, **KW)
    with process_pool(2) as ex:
        _same(base, simulate_escape(DW, dyn, chunk_walkers=1024, executor=ex, **KW))


def test_different_seeds_differ_and_entropy_reproduces():
    dyn = Langevin(0.3, 0.02)
    a = simulate_escape(DW, dyn, **{**KW, "seed": None})
    _same(a, simulate_escape(DW, dyn, **{**KW, "seed": a.entropy}))
    c = simulate_escape(DW, dyn, **{**KW, "seed": 43})
    assert not np.array_equal(a.times, c.times)
    assert a.backend == "numpy" and a.n_walkers == 5_000


def test_many_dimensions_and_valley_exits_are_chunk_invariant():
    st = StyblinskiTang(dim=3)
    dyn = Langevin(10.0, 0.002)
    for exit in ("saddle", "valley"):
        a = simulate_escape(st, dyn, exit=exit, n_walkers=1_500, max_steps=2_000, seed=7)
        b = simulate_escape(st, dyn, exit=exit, n_walkers=1_500, max_steps=2_000, seed=7, chunk_walkers=1)
        _same(a, b)
        assert a.n_escaped > 0


# ------------------------------------------------------------ the NumPy engine's steps

@given(d0=st.floats(-5.0, 5.0), d1=st.floats(-5.0, 5.0), var=st.floats(0.01, 10.0))
def test_bridge_log_survival_is_the_crossing_probability(d0, d1, var):
    """log(1 - p), p = exp(-2 d0 d1 / var) for a step that stays inside; -inf for one that starts or ends past
    the plane (or on it); -0.0, the probability dropped, where -2 d0 d1 / var < Q_MIN."""
    with np.errstate(over="ignore", divide="ignore"):  # as in the walker loop: exp overflows past the plane
        got = float(engine.bridge_log_survival(np.array([d0]), np.array([d1]), -2.0 / var)[0])
    q = -2.0 * d0 * d1 / var
    if q >= 0.0:
        assert got == -np.inf
    elif q < Q_MIN * (1 + 1e-12):
        assert got == 0.0
    elif q > Q_MIN * (1 - 1e-12):
        with np.errstate(divide="ignore"):  # p rounds to 1 for a step ending within 1e-16 of the plane
            want = np.log1p(-np.exp(q))
        assert got == pytest.approx(want, rel=1e-12, abs=1e-300)


def test_bridge_log_survival_per_row_scales():
    d0, d1 = np.array([-0.5, -0.5, -1.0]), np.array([-0.2, -0.2, 0.1])
    with np.errstate(over="ignore", divide="ignore"):
        got = engine.bridge_log_survival(d0, d1, np.array([-1.0, -4.0, -1.0]))
    np.testing.assert_allclose(got[:2], np.log1p(-np.exp([-0.1, -0.4])), rtol=1e-14)
    assert got[2] == -np.inf
    assert np.array_equal(d0, [-0.5, -0.5, -1.0])  # the inputs are left alone


def test_first_exits_keeps_each_rows_first_step():
    rows, steps = engine.first_exits([np.array([7, 2]), np.array([2, 9, 7])], [np.full(2, 3), np.full(3, 5)])
    assert rows.tolist() == [2, 7, 9] and steps.tolist() == [3, 3, 5]
    rows, steps = engine.first_exits([], [])
    assert rows.size == 0 and steps.size == 0


def _working_set(n_walkers=2500, chunk_blocks=2, max_steps=10**6, bridge=True):
    """A working set of the double well's Langevin plan (NumPy backend, blocks of 1024) after the first compaction."""
    route = DW.route(0)
    plan = escape_module._build_plan(DW, Langevin(0.3, 0.02), route, np.array([-1.0]), "saddle", bridge, max_steps)
    root = np.random.SeedSequence(3)
    task = engine.Task(plan, root.entropy, (), get_backend("numpy"), n_walkers, 0, -(-n_walkers // 1024),
                       chunk_blocks)
    ws = engine.WorkingSet(task, bridge=bridge)
    exits = engine.PlaneExit(plan, ws)
    assert engine.compact(ws, exits, 0)
    return ws, exits


def test_compaction_keeps_the_right_walkers():
    """Exits recorded at their first step since the block joined; the survivors keep their positions, walker
    ids and hazards in block order; the next block joins at the start with fresh thresholds drawn first from
    its own stream; carried candidates follow their rows."""
    ws, exits = _working_set()
    assert ws.n == 2048 and ws.rows == [1024, 1024] and ws.ids[:2048].tolist() == list(range(2048))
    assert ws.pending == [2] and ws.starts.tolist() == [0, 1024]
    ws.cur[:2048] = np.arange(2048.0)  # markers
    ws.hazard[:2048] = np.arange(2048.0) / 4096
    gone = np.r_[np.arange(0, 1200, 2), np.arange(1024, 2048, 3)[:350], np.arange(1700, 2048, 1)]
    gone = np.unique(gone)
    exits.exit_rows(ws.new[:2048], gone, 10)
    exits.exit_rows(ws.new[:2048], np.array([0, 3]), 20)  # row 0 again (its first exit counts), row 3 later
    exits.prev = np.array([3, 5, 1025])  # 3 exits, 5 and 1025 are carried over
    thresh_before = ws.thresh[:2048].copy()
    assert engine.compact(ws, exits, 64)
    out = ws.out_times
    assert np.all(out[gone] == 10) and out[3] == 20
    survivors = np.setdiff1d(np.arange(2048), np.r_[gone, 3])
    k0, k1 = survivors[survivors < 1024], survivors[survivors >= 1024]
    assert np.all(out[survivors] == -1)
    assert ws.rows == [k0.size, k1.size, 452] and all(engine.is_pooled(m, 1024) for m in ws.rows)
    m = survivors.size
    assert ws.n == m + 452
    assert ws.ids[:m].tolist() == survivors.tolist() and ws.ids[m:ws.n].tolist() == list(range(2048, 2500))
    assert np.array_equal(ws.cur[:m], survivors.astype(float)) and np.all(ws.cur[m:ws.n] == ws.start)
    assert np.array_equal(ws.hazard[:m], survivors / 4096) and np.all(ws.hazard[m:ws.n] == 0.0)
    assert np.array_equal(ws.thresh[:m], thresh_before[survivors])
    xb = get_backend("numpy")
    expected = np.empty(452)
    xb.fill_gamma(xb.generator(derive(ws.root, 2)), 1.0, expected)
    assert np.array_equal(ws.thresh[m:ws.n], expected)
    assert exits.prev.tolist() == [int(np.searchsorted(survivors, 5)), int(np.searchsorted(survivors, 1025))]
    assert ws.starts.tolist() == [0, k0.size, m]


def test_expired_blocks_are_censored_and_replaced():
    """At max_steps of a block's clock its walkers are dropped, censored (-1); an exit found in the period after
    max_steps is censored too; the pending block takes their place."""
    ws, exits = _working_set(max_steps=60)
    exits.exit_rows(ws.new[:2048], np.array([4, 1500]), 50)
    exits.exit_rows(ws.new[:2048], np.array([9]), 61)
    assert engine.compact(ws, exits, 64)
    assert ws.out_times[4] == 50 and ws.out_times[1500] == 50
    assert np.all(np.delete(ws.out_times[:2048], [4, 1500]) == -1)
    assert ws.n == 452 and ws.ids[:452].tolist() == list(range(2048, 2500)) and ws.t0s == [64]
    assert not engine.compact(ws, exits, 128)  # its clock ran out at 64 + 60: nothing left
    assert np.all(ws.out_times[2048:] == -1)


def test_noise_schedule_serves_each_block_from_its_own_stream():
    """A block with many rows draws its rows' normals every step; a block with at most half its rows draws
    POOL_K steps' worth at once; either way block j's rows get its stream in row order, step after step."""
    xb = get_backend("numpy")
    root = np.random.SeedSequence(8)
    sizes = [700, 300, 200]
    z = np.empty(sum(sizes))
    sched = engine.NoiseSchedule(xb, z.size, z.shape, 1024, 1)
    sched.assign([xb.generator(derive(root, j)) for j in range(3)], sizes, engine.block_starts(sizes), z)
    assert len(sched.direct) == 1 and len(sched.pooled) == 2
    got = np.stack([sched.draw(ph, z).copy() for ph in range(2 * engine.POOL_K)])
    refs = [xb.generator(derive(root, j)) for j in range(3)]
    want0 = np.stack([refs[0].standard_normal(700) for _ in range(2 * engine.POOL_K)])
    assert np.array_equal(got[:, :700], want0)
    for j, (a, m) in ((1, (700, 300)), (2, (1000, 200))):
        want = np.concatenate([refs[j].standard_normal(engine.POOL_K * m).reshape(engine.POOL_K, m)
                               for _ in range(2)])
        assert np.array_equal(got[:, a:a + m], want)
    # all pooled: the pool's row is the step's noise
    sched.assign([xb.generator(derive(root, 5))], [100], engine.block_starts([100]), z[:100])
    assert np.array_equal(sched.draw(0, z[:100]), xb.generator(derive(root, 5)).standard_normal(6400)[:100])


def test_folded_polynomial_is_the_euler_drift():
    """y (A y^2 + B y + C) + E, in units y = x / scale, is (x - dt grad L(x)) / scale: the tilted double well."""
    land = DoubleWell(tilt=0.1)
    x = np.linspace(-1.6, 1.2, 29)
    coef = escape_module.separable_cubic(land, np.array([[-1.0], [0.0], [1.0]]))
    for scale in (1.0, 0.3, -0.2):
        a, b, c, e = escape_module._folded_poly(coef, 0.01, scale)
        y = x / scale
        want = (x - 0.01 * land.gradient(x[:, None])[:, 0]) / scale
        np.testing.assert_allclose(y * (a * y * y + b * y + c) + e, want, rtol=1e-12, atol=1e-12 * np.abs(want).max())


# ------------------------------------------------------------ bad input

class _NoBasin(Landscape):
    """The double well without basin labels."""

    dim = 1

    def __init__(self):
        self._dw = DoubleWell()

    def value(self, x):
        return self._dw.value(x)

    def gradient(self, x, out=None):
        return self._dw.gradient(x, out=out)

    def hessian(self, x):
        return self._dw.hessian(x)

    def critical_points(self):
        return self._dw.critical_points()


@pytest.mark.parametrize("make, name", [
    (lambda: Langevin(0.0, 0.01), "temperature"), (lambda: Langevin(-1.0, 0.01), "temperature"),
    (lambda: Langevin(0.1, 0.0), "dt"), (lambda: Langevin(0.1, -0.1), "dt"),
    (lambda: SGDDiffusion(0.0, 1), "lr"), (lambda: SGDDiffusion(0.1, 0), "batch_size"),
    (lambda: SGDDiffusion(0.1, 1, dt=0.0), "dt"), (lambda: SGDDiffusion(0.1, 1, s=0.0), "s"),
    (lambda: SGDDiffusion(0.1, 1, s=1.0), "s"), (lambda: Mixed(0.0, 0.1, 1, 0.01), "temperature"),
    (lambda: Mixed(0.1, 0.1, 1, 0.01, s=1.5), "s"), (lambda: Mixed(0.1, 0.1, 0, 0.01), "batch_size"),
])
def test_bad_dynamics(make, name):
    with pytest.raises(DomainError, match=rf"^{name} must be"):
        make()


@pytest.mark.parametrize("kw, name", [
    (dict(n_walkers=1), "n_walkers"), (dict(exit="nowhere"), "exit"), (dict(max_steps=0), "max_steps"),
    (dict(start=[0.5]), "start"), (dict(start=[1.0, 2.0]), "start"),
])
def test_bad_simulation_input(kw, name):
    with pytest.raises(DomainError, match=rf"^{name} must"):
        simulate_escape(DW, Langevin(0.1, 0.01), **kw)


def test_valley_needs_basin_labels():
    with pytest.raises(DomainError, match="^exit='valley' needs a landscape with basin"):
        simulate_escape(_NoBasin(), Langevin(0.1, 0.01), exit="valley", n_walkers=10)
    # the plane exits work on it
    run = simulate_escape(_NoBasin(), Langevin(0.3, 0.02), n_walkers=10, seed=1)
    assert run.n_escaped == 10


def test_bad_extrapolation():
    a = simulate_escape(DW, Langevin(0.3, 0.02), n_walkers=100, seed=1)
    b = simulate_escape(DW, Langevin(0.3, 0.01), n_walkers=100, seed=2)
    with pytest.raises(DomainError, match="^run_dt must have the larger dt"):
        extrapolate_dt(b, a)
    with pytest.raises(DomainError, match="^order must be"):
        extrapolate_dt(a, b, order=0)
    with pytest.raises(TypeError, match="dynamics"):
        simulate_escape(DW, "langevin")


# ------------------------------------------------------------ GPU

@pytest.mark.gpu
@pytest.mark.skipif("cupy" not in available_backends(), reason="needs CuPy and a CUDA device")
def test_cupy_backend_matches_exact_and_is_chunk_invariant():
    exact = quad_mfpt_langevin(0.3)
    coarse = simulate_escape(DW, Langevin(0.3, 0.02), n_walkers=200_000, seed=201, backend="cupy")
    fine = simulate_escape(DW, Langevin(0.3, 0.01), n_walkers=200_000, seed=202, backend="cupy")
    assert fine.backend == "cupy"
    assert_matches_exact(coarse, fine, exact)
    again = simulate_escape(DW, Langevin(0.3, 0.02), n_walkers=200_000, seed=201, backend="cupy",
                            chunk_walkers=1 << 16)
    _same(coarse, again)
    sgd = simulate_escape(DW, SGDDiffusion(0.3, 1, dt=0.02), n_walkers=100_000, seed=203, backend="cupy",
                          exit="valley")
    assert sgd.n_escaped == sgd.n_walkers


# -- reliability (issue 12) ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kw,value,exc", [
    ("n_walkers", 10**20, DomainError), ("max_steps", 10**20, DomainError), ("bridge", "yes", TypeError),
    ("engine", np.ones(2), DomainError), ("route", 0.5, TypeError), ("start", np.array([np.nan]), DomainError),
])
def test_simulate_escape_refuses_bad_arguments_by_name(kw, value, exc):
    from theory.simulators.escape import Langevin, simulate_escape
    with pytest.raises(exc, match=kw):
        args = dict(n_walkers=4, max_steps=10, seed=0)
        args[kw] = value
        simulate_escape(DoubleWell(), Langevin(0.1, 0.01), **args)


@pytest.mark.parametrize("make,name", [
    (lambda a: escape_module.Langevin(a, 0.01), "temperature"),
    (lambda a: escape_module.SGDDiffusion(a, 2), "lr"),
    (lambda a: escape_module.Mixed(0.1, 0.1, 2, a), "dt"),
])
def test_dynamics_refuse_arrays_naming_the_parameter(make, name):
    with pytest.raises(TypeError, match=f"{name} must be a scalar"):
        make(np.array([0.1, 0.2]))


def test_extrapolate_dt_refuses_orders_that_overflow_and_non_runs():
    from theory.simulators.escape import Langevin, extrapolate_dt, simulate_escape
    well = DoubleWell(0.5)
    a = simulate_escape(well, Langevin(0.1, 0.02), n_walkers=20, seed=1, max_steps=100000)
    b = simulate_escape(well, Langevin(0.1, 0.01), n_walkers=20, seed=2, max_steps=100000)
    for order in (1e300, 5e-324):
        with pytest.raises(DomainError, match="order"):
            extrapolate_dt(a, b, order=order)
    with pytest.raises(TypeError, match="order must be a scalar"):
        extrapolate_dt(a, b, order=np.ones(2))
    with pytest.raises(TypeError, match="run_dt"):
        extrapolate_dt(1.0, b)
