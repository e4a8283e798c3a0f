"""The trained digits network's Hessian outliers and minibatch noise: formulas and registered checks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from theory import checks
from theory.checks import spectra


def test_outlier_count_is_one_per_class_for_squared_error_and_one_fewer_for_cross_entropy():
    assert spectra.hessian_outlier_count(10, "mse") == 10.0
    assert spectra.hessian_outlier_count(10, "cross_entropy") == 9.0


@pytest.mark.parametrize("bad", [1, 2.5, 0])
def test_outlier_count_refuses_bad_class_counts(bad):
    with pytest.raises(ValueError, match="n_classes"):
        spectra.hessian_outlier_count(bad)


def test_outlier_count_refuses_unknown_losses():
    with pytest.raises(ValueError, match="loss"):
        spectra.hessian_outlier_count(10, "hinge")


@given(st.integers(1, 15), st.integers(1, 15), st.floats(3.0, 100.0))
def test_the_gap_is_found_where_the_spectrum_drops(k, bulk, drop):
    # k outliers in (drop, 2 drop], a bulk in (0.5, 1]: the largest ratio is at position k
    rng = np.random.default_rng(k * 100 + bulk)
    lam = np.sort(np.concatenate([drop * (1 + rng.random(k)), 0.5 + 0.5 * rng.random(bulk)]))[::-1]
    assert spectra.outliers_by_gap(lam, k + bulk) == k


def test_the_gap_ignores_negative_eigenvalues():
    assert spectra.outliers_by_gap([10.0, 9.0, 1.0, -5.0], 3) == 2


def test_noise_scale_is_the_residual_variance_per_output():
    # half squared error L = (1/2N) sum |r|^2 over k outputs: sigma_r^2 = 2L/k
    assert spectra.squared_error_noise_scale(0.5, 10) == pytest.approx(0.1)


def test_minibatch_factor_vanishes_for_the_full_batch_and_is_one_for_a_single_example():
    assert spectra.minibatch_noise_factor(100, 100) == 0.0
    assert spectra.minibatch_noise_factor(100, 1) == 1.0


@pytest.mark.slow
@pytest.mark.parametrize("name", ["spectra.digits_outliers", "spectra.digits_noise"])
def test_digits_checks_pass(name):
    result = checks.run(checks.registry()[name], seed=0)
    assert result.passed, [(r.label, r.formula, r.estimate) for r in result.rows]
