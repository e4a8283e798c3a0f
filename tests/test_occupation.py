"""theory.simulators.occupation: long-run basin occupation under SGLD."""

from __future__ import annotations

import numpy as np
import pytest

from theory import DomainError
from theory.landscapes import DoubleWell
from theory.simulators.occupation import simulate_occupation
from theory.stats import z_critical

from reference import quad_boltzmann_left

ALPHA = 1e-6  # per test


def test_occupation_matches_the_boltzmann_distribution():
    # a shallow tilted well at a high temperature: many crossings per walker, small dt bias
    well = DoubleWell(tilt=0.05)
    t = 0.15
    run = simulate_occupation(well, temperature=t, dt=0.005, t_total=400.0, burn_in=50.0, n_walkers=300, seed=3)
    left = run.probability(0)
    # Euler's stationary law is that of a temperature raised by about H dt / 2 (1.5% here);
    # its effect on the occupation is a bias, estimated from a run at 2 dt and removed
    coarse = simulate_occupation(well, temperature=t, dt=0.01, t_total=400.0, burn_in=50.0, n_walkers=300, seed=4)
    estimate = 2 * float(left.value) - float(coarse.probability(0).value)
    se = np.hypot(2 * float(left.stderr), float(coarse.probability(0).stderr))
    assert abs(estimate - quad_boltzmann_left(well, t)) <= z_critical(ALPHA) * se
    assert np.allclose(run.fractions.sum(axis=1), 1.0)


def test_chunking_does_not_change_the_numbers():
    well = DoubleWell()
    kw = dict(temperature=0.2, dt=0.01, t_total=20.0, n_walkers=2500, seed=9)
    a = simulate_occupation(well, **kw)
    b = simulate_occupation(well, chunk_walkers=1024, **kw)
    assert np.array_equal(a.fractions, b.fractions)
    c = simulate_occupation(well, **{**kw, "seed": 10})
    assert not np.array_equal(a.fractions, c.fractions)


@pytest.mark.parametrize("kw, name", [(dict(temperature=0.0), "temperature"), (dict(dt=-1.0), "dt"),
                                      (dict(t_total=0.0), "t_total"), (dict(n_walkers=1), "n_walkers"),
                                      (dict(burn_in=-1.0), "burn_in")])
def test_bad_input(kw, name):
    args = dict(temperature=0.2, dt=0.01, t_total=1.0, n_walkers=10)
    args.update(kw)
    with pytest.raises(DomainError, match=rf"^{name} must"):
        simulate_occupation(DoubleWell(), **args)


# -- reliability (issue 12) ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kw,value,exc", [
    ("temperature", np.array([0.1, 0.2]), TypeError), ("dt", True, TypeError), ("t_total", 1e300, DomainError),
    ("dt", 1e-300, DomainError), ("burn_in", np.nan, DomainError), ("start", np.zeros(2), DomainError),
    ("n_walkers", 10**20, DomainError), ("chunk_walkers", np.ones(2), TypeError),
])
def test_occupation_refuses_bad_arguments_by_name(kw, value, exc):
    args = dict(temperature=0.1, dt=0.01, t_total=0.1, n_walkers=3, seed=0)
    args[kw] = value
    with pytest.raises(exc, match=kw):
        simulate_occupation(DoubleWell(), **args)


def test_occupation_diverging_walkers_are_refused_naming_dt():
    # an unstable Euler step sends the walkers to inf and NaN: no silent basin label for them
    with pytest.raises(DomainError, match="reduce dt"):
        simulate_occupation(DoubleWell(), temperature=0.1, dt=10.0, t_total=1000.0, n_walkers=3, seed=0)
