"""simulate_occupation(engine="numba"): the fused kernel against the NumPy engine, its streams, its refusals.

Skipped without numba (an optional extra). Statistical tests use fixed seeds and a
stated false-alarm rate: ALPHA per test, Bonferroni over its comparisons. The two
engines draw different numbers, so they are compared in distribution (two
independent estimates, z on the difference from both standard errors).
"""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

numba = pytest.importorskip("numba")

from theory import DomainError  # noqa: E402
from theory.backend import Backend  # noqa: E402
from theory.landscapes import DoubleWell, DoubleWellND, Quadratic, StyblinskiTang  # noqa: E402
from theory.simulators import occupation as occupation_module  # noqa: E402
from theory.simulators._occupation_kernel import BLOCK, MAX_DIM  # noqa: E402
from theory.simulators.occupation import simulate_occupation  # noqa: E402
from theory.stats import z_critical  # noqa: E402

from reference import quad_boltzmann_left  # noqa: E402

ALPHA = 1e-6
WELL = DoubleWell(tilt=0.05)  # the selection check's well: the right valley is the deeper one


def _z2(a, b):
    """z of the difference of two independent estimates."""
    return (float(a.value) - float(b.value)) / math.hypot(float(a.stderr), float(b.stderr))


def _cuts(landscape, start=None):
    x0 = np.asarray(landscape.minima()[0].x if start is None else start, dtype=np.float64)
    coef = occupation_module.separable_cubic(landscape, x0)
    return occupation_module._basin_cuts(landscape, coef, x0)


# ------------------------------------------------------------ the basin boundary

@settings(max_examples=40, deadline=None)
@given(height=st.floats(0.05, 20.0), width=st.floats(0.05, 30.0), frac=st.floats(-0.9, 0.9))
def test_the_boundary_is_the_barrier_top_and_agrees_with_basin_to_the_bit(height, width, frac):
    well = DoubleWell(height=height, width=width, tilt=frac * 8 * height / (3 * math.sqrt(3) * width))
    cut = float(_cuts(well)[0])
    assert cut == float(well.saddles()[0].x[0])
    # both engines label a point alike: the last float of the left basin, then the first of the right one
    assert well.basin(np.array([[cut], [np.nextafter(cut, np.inf)]])).tolist() == [0, 1]


def test_the_boundaries_of_styblinski_tang_are_its_coordinate_maxima():
    land = StyblinskiTang(dim=3, sharpness=2.0)
    cuts = _cuts(land)
    assert np.array_equal(cuts, np.full(3, land.coordinate_roots()[1]))
    pts = np.random.default_rng(0).uniform(-3.0, 3.0, (500, 3))
    assert np.array_equal(land.basin(pts), (pts > cuts).astype(np.int64) @ np.array([1, 2, 4]))


# ------------------------------------------------------------ agreement in distribution

def test_numba_and_numpy_agree_on_the_occupation_of_the_deeper_valley():
    """A tilted well at T = 0.15 (a walker crosses about every 30 time units): one comparison at ALPHA."""
    kw = dict(temperature=0.15, dt=0.01, t_total=300.0, burn_in=30.0, record_every=5)
    fast = simulate_occupation(WELL, n_walkers=6000, seed=1, engine="numba", **kw)
    ref = simulate_occupation(WELL, n_walkers=800, seed=2, **kw)
    assert fast.labels.tolist() == ref.labels.tolist() == [0, 1]
    assert abs(_z2(fast.probability(1), ref.probability(1))) <= z_critical(ALPHA)
    assert np.allclose(fast.fractions.sum(axis=1), 1.0)
    # the test has power: a walker that never left its start would be seen
    assert 0.05 < float(fast.fractions[:, 0].std()) and 0.5 < float(fast.probability(1).value) < 0.8


def test_numba_occupation_matches_the_boltzmann_distribution():
    """The exact law, dt -> 0 by Richardson from dt and dt/2 (Euler's stationary law is a slightly hotter
    one): one comparison at ALPHA. Hot enough (T = 0.15) that the start is forgotten within the burn-in."""
    kw = dict(temperature=0.15, t_total=300.0, burn_in=60.0, n_walkers=10_000, record_every=5, engine="numba")
    coarse = simulate_occupation(WELL, dt=0.01, seed=11, **kw).probability(0)
    fine = simulate_occupation(WELL, dt=0.005, seed=12, **kw).probability(0)
    estimate = 2 * float(fine.value) - float(coarse.value)
    se = math.hypot(2 * float(fine.stderr), float(coarse.stderr))
    assert abs(estimate - quad_boltzmann_left(WELL, 0.15)) <= z_critical(ALPHA) * se
    assert se < 0.004  # the test has power: a 10% error of the temperature moves the occupation by about 0.02


def test_numba_and_numpy_agree_on_styblinski_tang():
    """Two coordinates, four basins, hot enough to visit them all: four comparisons (Bonferroni) at ALPHA."""
    land = StyblinskiTang(dim=2)
    kw = dict(temperature=9.0, dt=0.004, t_total=40.0, burn_in=4.0, record_every=5)
    fast = simulate_occupation(land, n_walkers=3000, seed=5, engine="numba", **kw)
    ref = simulate_occupation(land, n_walkers=600, seed=6, **kw)
    assert fast.labels.tolist() == ref.labels.tolist() == [0, 1, 2, 3]
    crit = z_critical(ALPHA, 4)
    for label in range(4):
        assert abs(_z2(fast.probability(label), ref.probability(label))) <= crit
    assert float(fast.probability(3).value) > 0.01


# ------------------------------------------------------------ streams

@pytest.mark.parametrize("landscape", [WELL, StyblinskiTang(dim=2)], ids=["1d", "2d"])
def test_same_numbers_for_any_threads_and_chunking(landscape, threads):
    t = 0.2 if landscape.dim == 1 else 9.0
    kw = dict(temperature=t, dt=0.004, t_total=2.0, n_walkers=3 * BLOCK + 3, record_every=3, seed=7,
              engine="numba")
    threads(1)
    a = simulate_occupation(landscape, **kw)
    threads(2)
    b = simulate_occupation(landscape, **kw)
    c = simulate_occupation(landscape, chunk_walkers=BLOCK, **kw)
    d = simulate_occupation(landscape, chunk_walkers=2 * BLOCK + 1, **kw)
    for other in (b, c, d):
        assert np.array_equal(a.labels, other.labels) and np.array_equal(a.fractions, other.fractions)
    assert not np.array_equal(a.fractions, simulate_occupation(landscape, **{**kw, "seed": 8}).fractions)
    # a walker's numbers depend on the seed, its block and its place in the block alone
    fewer = simulate_occupation(landscape, **{**kw, "n_walkers": 2 * BLOCK + 2})
    common = [int(np.flatnonzero(a.labels == k)[0]) for k in fewer.labels]
    assert np.array_equal(fewer.fractions, a.fractions[: 2 * BLOCK + 2, common])


def test_the_numpy_engine_is_the_default():
    kw = dict(temperature=0.2, dt=0.01, t_total=5.0, n_walkers=50, seed=3)
    assert np.array_equal(simulate_occupation(WELL, **kw).fractions,
                          simulate_occupation(WELL, engine="numpy", **kw).fractions)
    assert not np.array_equal(simulate_occupation(WELL, **kw).fractions,
                              simulate_occupation(WELL, engine="numba", **kw).fractions)


# ------------------------------------------------------------ refusals

class _FlippedWell(DoubleWell):
    """A double well whose basins are labelled the other way round (1 on the left)."""

    def basin(self, x):
        return 1 - super().basin(x)


class _FakeGPU(Backend):
    name = "fake-gpu"

    def __init__(self):
        super().__init__(xp=object())


@pytest.mark.parametrize("landscape, match", [
    (Quadratic([1.0]), "cubic to have two minima"),
    (DoubleWellND(transverse=(1.0,)), "cubic to have two minima"),
    (_FlippedWell(), r"basin\(x\) = sum_i 2\*\*i"),
    (StyblinskiTang(dim=MAX_DIM + 1), f"at most {MAX_DIM} coordinates"),
])
def test_refuses_landscapes_outside_its_form_naming_the_engine(landscape, match):
    with pytest.raises(DomainError, match=match) as info:
        simulate_occupation(landscape, temperature=0.2, dt=0.01, t_total=1.0, n_walkers=4, engine="numba")
    assert "engine='numba'" in str(info.value) and "use engine='numpy'" in str(info.value)
    # the array engine takes them
    simulate_occupation(landscape, temperature=0.2, dt=0.01, t_total=0.02, n_walkers=4)


def test_refuses_a_non_polynomial_gradient(monkeypatch):
    monkeypatch.setattr(occupation_module, "separable_cubic", lambda landscape, x0: None)
    with pytest.raises(DomainError, match="engine='numba' needs a landscape whose gradient .* use engine='numpy'"):
        simulate_occupation(WELL, temperature=0.2, dt=0.01, t_total=1.0, n_walkers=4, engine="numba")


def test_bad_engine_gpu_backend_and_divergence_are_refused_by_name():
    kw = dict(temperature=0.2, dt=0.01, t_total=1.0, n_walkers=4)
    with pytest.raises(DomainError, match="^engine must be one of 'numpy', 'numba'"):
        simulate_occupation(WELL, engine="fortran", **kw)
    with pytest.raises(TypeError, match="^engine must be"):
        simulate_occupation(WELL, engine=None, **kw)
    with pytest.raises(DomainError, match="^engine='numba' runs on the CPU"):
        simulate_occupation(WELL, engine="numba", backend=_FakeGPU(), **kw)
    for land in (WELL, StyblinskiTang(dim=2)):
        with pytest.raises(DomainError, match="reduce dt"):
            simulate_occupation(land, temperature=0.1, dt=10.0, t_total=1000.0, n_walkers=3, engine="numba")


def test_missing_numba_names_the_extra(monkeypatch):
    import theory.simulators

    monkeypatch.setitem(sys.modules, "numba", None)
    monkeypatch.delitem(sys.modules, "theory.simulators._occupation_kernel", raising=False)
    monkeypatch.delattr(theory.simulators, "_occupation_kernel", raising=False)
    with pytest.raises(ImportError, match=r"theory\[numba\]"):
        simulate_occupation(WELL, temperature=0.2, dt=0.01, t_total=1.0, n_walkers=4, engine="numba")
    assert simulate_occupation(WELL, temperature=0.2, dt=0.01, t_total=1.0, n_walkers=4).n_walkers == 4
