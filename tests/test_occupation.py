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
