"""theory.batch_size: spiked-Wigner formulas, limits, Monte Carlo (GOE and real least-squares minibatches)."""

from __future__ import annotations

from fractions import Fraction

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theory import DomainError
from theory.simulators.batch_hessian import simulate_batch_hessian_top, simulate_least_squares_batch_top
from theory.batch_size import (
    TW1_MEAN,
    TW1_VARIANCE,
    batch_hessian_noise_edge,
    batch_hessian_outlier,
    batch_hessian_top_eigenvalue,
    least_squares_batch_top_eigenvalue,
    lr_batch_scaling,
    max_stable_lr,
    noise_strength,
)
from theory.stats import Moments, z_critical

from reference import rel_error as rel

EPS = np.finfo(float).eps
ALPHA = 1e-3  # family-wise false-alarm rate of each statistical test below

# B = 100, P = 200, sigma = sqrt(1/2): noise strength s = sigma sqrt(P/B) = 1, entry variance v = 1/200
B0, P0, SIGMA0 = 100, 200, np.sqrt(0.5)


# ---------------------------------------------------------------- closed forms

def test_noise_strength_and_the_without_replacement_factor_exactly():
    # s^2 = sigma^2 P (1/B - 1/N); with exact binary inputs compare with rational arithmetic
    for b, p, sigma, n in [(10, 100, 0.5, 40), (3, 7, 1.25, 3), (1, 1, 2.0, 1000), (64, 4096, 0.125, None)]:
        got = noise_strength(b, p, sigma, n)
        frac = Fraction(1, b) - (Fraction(1, n) if n else 0)
        exact = Fraction(sigma) ** 2 * p * frac
        assert abs(Fraction(got) ** 2 - exact) <= 4 * EPS * exact
    assert noise_strength(100, 400, 1.0) == 2.0
    assert noise_strength(100, 400, 1.0, n_data=100) == 0.0       # B = N: the batch is the data set
    assert noise_strength(np.inf, 400, 1.0) == 0.0                # B = inf: the population Hessian
    assert batch_hessian_noise_edge(100, 400, 1.0) == 4.0


def test_outlier_formula_and_limits():
    s = noise_strength(B0, P0, SIGMA0)
    assert s == pytest.approx(1.0, rel=EPS)
    got = batch_hessian_outlier([3.0, 1.5, 0.5, 0.0, -0.5, -3.0], B0, P0, SIGMA0)
    assert np.allclose(got, [3 + 1 / 3, 1.5 + 1 / 1.5, 2.0, 2.0, -2.0, -3 - 1 / 3], rtol=4 * EPS)
    # no noise: B = N, or B = inf
    lam = np.array([-2.0, 0.0, 0.3, 7.0])
    assert np.array_equal(batch_hessian_outlier(lam, 50, 1000, 3.0, n_data=50), lam)
    assert np.array_equal(batch_hessian_outlier(lam, np.inf, 1000, 3.0), lam)
    assert batch_hessian_top_eigenvalue([0.3, 7.0], 50, 1000, 3.0, n_data=50) == 7.0
    assert batch_hessian_top_eigenvalue(-1.0, np.inf, 1000, 3.0) == 0.0  # the zero bulk of H
    assert max_stable_lr([0.3, 7.0], 50, 1000, 3.0, n_data=50) == 2.0 / 7.0
    assert max_stable_lr(-1.0, np.inf, 1000, 3.0) == np.inf


@settings(max_examples=300, deadline=None)
@given(lam=st.floats(1e-6, 1e6), b=st.floats(1, 1e6), p=st.integers(1, 10**6), sigma=st.floats(1e-3, 1e3))
def test_outlier_is_between_lambda_and_twice_lambda_and_continuous_at_threshold(lam, b, p, sigma):
    out = batch_hessian_outlier(lam, b, p, sigma)
    s = noise_strength(b, p, sigma)
    assert lam * (1 - 4 * EPS) <= out or out == pytest.approx(2 * s, rel=4 * EPS)
    assert out >= 2 * s * (1 - 4 * EPS)  # never inside the bulk
    if lam > s:
        assert out <= 2 * lam * (1 + 4 * EPS)
    # continuity at the threshold lambda = s
    assert batch_hessian_outlier(s * (1 + 1e-9), b, p, sigma) == pytest.approx(2 * s, rel=1e-8)


@settings(max_examples=200, deadline=None)
@given(lam=st.lists(st.floats(-10, 10), min_size=1, max_size=5), b1=st.integers(1, 10**4), b2=st.integers(1, 10**4),
       n_extra=st.integers(0, 10**4), p=st.integers(5, 10**5), sigma=st.floats(1e-2, 10))
def test_top_eigenvalue_decreases_with_batch_size_and_exceeds_the_full_batch(lam, b1, b2, n_extra, p, sigma):
    lo, hi = sorted((b1, b2))
    n = hi + n_extra
    t_lo = batch_hessian_top_eigenvalue(lam, lo, p, sigma, n)
    t_hi = batch_hessian_top_eigenvalue(lam, hi, p, sigma, n)
    full = max(max(lam), 0.0)
    assert t_lo >= t_hi * (1 - 4 * EPS)
    assert t_hi >= full * (1 - 4 * EPS)
    assert batch_hessian_top_eigenvalue(lam, n, p, sigma, n) == full


def test_top_eigenvalue_is_the_max_of_edge_and_outliers_and_broadcasts():
    lam = np.array([[3.0, 1.5, 0.5], [0.9, 0.2, -4.0]])
    b = np.array([[25.0], [100.0], [400.0]])  # (3, 1) against the leading shape (2,)
    out = batch_hessian_top_eigenvalue(lam, b, P0, SIGMA0)
    assert out.shape == (3, 2)
    for i in range(3):
        for j in range(2):
            s = noise_strength(b[i, 0], P0, SIGMA0)
            want = max([2 * s] + [x + s * s / x for x in lam[j] if x > s])
            assert out[i, j] == pytest.approx(want, rel=4 * EPS)
            assert max_stable_lr(lam[j], b[i, 0], P0, SIGMA0) == pytest.approx(2 / want, rel=4 * EPS)


def test_max_stable_lr_regimes():
    # spike absorbed by the bulk: lr = 1/s grows like sqrt(B)
    lam, p, sigma = 1.0, 10_000, 1.0
    b = np.array([10.0, 40.0, 160.0])
    lr = max_stable_lr(lam, b, p, sigma)
    assert np.allclose(lr[1:] / lr[:-1], 2.0, rtol=4 * EPS)
    # outlier regime: between 1/lambda and 2/lambda, tending to 2/lambda
    lr = max_stable_lr(lam, [20_000.0, 1e6, 1e12], p, sigma)
    assert np.all((lr >= 1 / lam) & (lr <= 2 / lam)) and np.all(np.diff(lr) > 0)
    assert lr[-1] == pytest.approx(2 / lam, rel=1e-8)


def test_lr_batch_scaling_rules():
    assert lr_batch_scaling(256, 32, 0.1) == pytest.approx(0.8, rel=EPS)
    assert lr_batch_scaling(128, 32, 1e-3, optimizer="adam") == pytest.approx(2e-3, rel=EPS)
    out = lr_batch_scaling(np.array([16, 64, 256]), 64, [[0.1], [1.0]], optimizer="adam")
    assert out.shape == (2, 3) and np.allclose(out, [[0.05, 0.1, 0.2], [0.5, 1.0, 2.0]])
    assert lr_batch_scaling(64, 64, 0.3) == 0.3


def test_least_squares_models_agree_to_first_order_and_differ_by_p_over_b():
    b = np.array([10.0, 100.0, 1e4, 1e6])
    p, c = 100, 2.5
    mp_ = least_squares_batch_top_eigenvalue(b, p, c)
    wig = least_squares_batch_top_eigenvalue(b, p, c, model="wigner")
    assert np.allclose(mp_ - wig, c * p / b, rtol=1e-12)
    assert np.allclose(mp_, c * (1 + np.sqrt(p / b)) ** 2, rtol=4 * EPS)
    # the Wigner approximation is good only for B >> P
    rel = (mp_ - wig) / mp_
    assert rel[0] > 0.3 and rel[-1] < 1e-4 and np.all(np.diff(rel) < 0)
    # the Wigner approximation of least squares is the Wigner bulk edge of H = cI with sigma = c
    assert np.allclose(wig, c + batch_hessian_noise_edge(b, p, c), rtol=4 * EPS)


def test_finite_size_corrections_vanish_like_p_to_minus_two_thirds():
    # relative shortfall of the mean top eigenvalue, times P^(2/3), tends to -E[TW1]/2 (edge) ...
    for p in (1e6, 1e9):
        edge = batch_hessian_noise_edge(10.0, p, 1.0)
        short = 1 - batch_hessian_noise_edge(10.0, p, 1.0, finite_size=True) / edge
        assert short * p ** (2 / 3) == pytest.approx(-TW1_MEAN / 2, rel=2 * p ** (-1 / 3))
    # ... and to a constant for the MP edge at a fixed ratio
    scaled = []
    for p in (1e6, 1e8, 1e10):
        exact = least_squares_batch_top_eigenvalue(4 * p, p)
        scaled.append((1 - least_squares_batch_top_eigenvalue(4 * p, p, finite_size=True) / exact) * p ** (2 / 3))
    assert scaled[0] > 0 and abs(scaled[2] - scaled[1]) < 0.25 * abs(scaled[1] - scaled[0]) + 1e-9


# ---------------------------------------------------------------- Monte Carlo: GOE (the model itself)

def test_noise_edge_against_goe_simulation():
    """Mean top eigenvalue of the pure noise matrix (P = 200, 400 matrices) vs the edge.

    The asymptotic edge 2s overestimates the mean by 0.603 P^(-2/3) relative (the Tracy-Widom mean):
    about 19 standard errors here. With finite_size=True the residual bias is O(1/P) relative.
    """
    est = simulate_batch_hessian_top([0.0], B0, P0, SIGMA0, n_matrices=400, seed=11)
    crit = z_critical(ALPHA, 2)  # two tests on the mean (the variance test has its own alpha)
    assert abs(est.z(batch_hessian_noise_edge(B0, P0, SIGMA0, finite_size=True))) < crit
    assert est.z(batch_hessian_noise_edge(B0, P0, SIGMA0)) < -crit  # the asymptotic bias is resolved
    # fluctuations: variance v (P - 1/2)^(-1/3) Var(TW1); the sampling error of a variance is
    # var sqrt((2 + excess kurtosis)/n), TW1's excess kurtosis being 0.1652
    v = SIGMA0**2 / B0
    var_theory = v * (P0 - 0.5) ** (-1 / 3) * TW1_VARIANCE
    var_hat = est.stderr**2 * est.n
    assert abs(var_hat - var_theory) / (var_theory * np.sqrt((2 + 0.1652) / est.n)) < z_critical(ALPHA)


@pytest.mark.parametrize("spikes", [[3.0, 1.5, 0.5], [1.5]])
def test_outliers_against_goe_simulation(spikes):
    """Top outlier lambda + s^2/lambda (s = 1): mean and variance over 300 matrices at P = 200.

    Outlier fluctuations are Gaussian with variance 2v(1 - s^2/lambda^2) = O(1/P); the mean has an
    O(1/P) bias (about 0.2 standard errors here).
    """
    top = max(spikes)
    est = simulate_batch_hessian_top(spikes, B0, P0, SIGMA0, n_matrices=300, seed=int(10 * top))
    crit = z_critical(ALPHA, 2)
    assert abs(est.z(batch_hessian_top_eigenvalue(spikes, B0, P0, SIGMA0))) < crit
    v = SIGMA0**2 / B0
    var_theory = 2 * v * (1 - 1 / top**2)
    var_hat = est.stderr**2 * est.n
    se_var = var_theory * np.sqrt(2 / (est.n - 1))  # Gaussian sampling error of a variance
    assert abs(var_hat - var_theory) / se_var < crit


def test_simulation_without_noise_is_exact():
    est = simulate_batch_hessian_top([2.0, -1.0], 30, 50, 1.0, n_data=30, n_matrices=3, seed=0)
    assert est.value == 2.0 and est.stderr == 0.0
    est = simulate_batch_hessian_top([-1.0], np.inf, 20, 1.0, n_matrices=2, seed=0)
    assert est.value == 0.0


def test_simulation_is_reproducible():
    a = simulate_batch_hessian_top([2.0], 10, 30, 1.0, n_matrices=5, seed=3)
    b = simulate_batch_hessian_top([2.0], 10, 30, 1.0, n_matrices=5, seed=3)
    c = simulate_batch_hessian_top([2.0], 10, 30, 1.0, n_matrices=5, seed=4)
    assert a.value == b.value and a.value != c.value


# ---------------------------------------------------------------- Monte Carlo: real least-squares minibatches

def test_without_replacement_factor_on_real_minibatches():
    """E[(H_B - H_N)_ij^2] = S_ij^2 (1/B - 1/N) for a fixed data set, S_ij^2 the (N-1)-divisor variance of x_i x_j.

    Summed over the P(P-1)/2 off-diagonal entries and written with sigma^2 = mean_ij S_ij^2 this is
    (P - 1)/2 * noise_strength(B, P, sigma, N)^2: the convention of the Wigner functions.
    """
    rng = np.random.default_rng(21)
    n, p, b, reps = 60, 8, 20, 3000
    x = rng.standard_normal((n, p))
    h_full = x.T @ x / n
    per_sample = x[:, :, None] * x[:, None, :]
    iu = np.triu_indices(p, 1)
    s2 = (per_sample[:, iu[0], iu[1]].var(axis=0, ddof=1))
    sigma = np.sqrt(s2.mean())
    stats = np.empty(reps)
    for r in range(reps):
        idx = rng.choice(n, size=b, replace=False)
        e = x[idx].T @ x[idx] / b - h_full
        stats[r] = np.sum(e[iu] ** 2)
    est = Moments.of(stats).estimate()
    want = (p - 1) / 2 * noise_strength(b, p, sigma, n) ** 2
    assert abs(est.z(want)) < z_critical(ALPHA)
    # the batch that is the whole data set has no noise at all
    idx = rng.permutation(n)
    assert np.allclose(x[idx].T @ x[idx] / n, h_full, rtol=0, atol=1e-13)


@pytest.mark.parametrize("b, p, n", [(50, 100, 400), (400, 100, 1000)])
def test_least_squares_minibatch_top_eigenvalue_against_mp(b, p, n):
    """lambda_max(X_B^T X_B / B) over 200 data sets: the finite-size MP mean fits; the Wigner approximation does not."""
    est = simulate_least_squares_batch_top(b, p, n, scale=2.0, n_matrices=200, seed=b)
    crit = z_critical(ALPHA, 2)
    assert abs(est.z(least_squares_batch_top_eigenvalue(b, p, 2.0, finite_size=True))) < crit
    assert est.z(least_squares_batch_top_eigenvalue(b, p, 2.0, model="wigner")) > crit


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("call, name", [
    (lambda: noise_strength(0, 10, 1.0), "batch_size"),
    (lambda: noise_strength(-5, 10, 1.0), "batch_size"),
    (lambda: noise_strength(np.nan, 10, 1.0), "batch_size"),
    (lambda: noise_strength(20, 10, 1.0, n_data=10), "batch_size"),
    (lambda: noise_strength(np.inf, 10, 1.0, n_data=10), "batch_size"),
    (lambda: noise_strength(5, 0, 1.0), "n_params"),
    (lambda: noise_strength(5, 2.5, 1.0), "n_params"),
    (lambda: noise_strength(5, 10, 0.0), "noise_scale"),
    (lambda: noise_strength(5, 10, -1.0), "noise_scale"),
    (lambda: noise_strength(5, 10, 1.0, n_data=0), "n_data"),
    (lambda: batch_hessian_outlier(np.nan, 5, 10, 1.0), "lam"),
    (lambda: batch_hessian_top_eigenvalue(np.ones(11), 5, 10, 1.0), "eigenvalues"),
    (lambda: batch_hessian_noise_edge(5, 1, 1.0, finite_size=True), "n_params"),
    (lambda: max_stable_lr(1.0, 0, 10, 1.0), "batch_size"),
    (lambda: lr_batch_scaling(0, 32), "batch_size"),
    (lambda: lr_batch_scaling(32, 0), "ref_batch_size"),
    (lambda: lr_batch_scaling(32, 32, 0.0), "ref_lr"),
    (lambda: lr_batch_scaling(32, 32, -0.1), "ref_lr"),
    (lambda: lr_batch_scaling(32, 32, 0.1, optimizer="lion"), "optimizer"),
    (lambda: least_squares_batch_top_eigenvalue(0, 10), "batch_size"),
    (lambda: least_squares_batch_top_eigenvalue(5, 10, 0.0), "scale"),
    (lambda: least_squares_batch_top_eigenvalue(5, 10, model="semicircle"), "model"),
    (lambda: simulate_batch_hessian_top([1.0], 5, 10, 1.0, n_matrices=1), "n_matrices"),
    (lambda: simulate_batch_hessian_top(np.ones(11), 5, 10, 1.0), "eigenvalues"),
    (lambda: simulate_batch_hessian_top([1.0], [5, 6], 10, 1.0), "batch_size"),
    (lambda: simulate_least_squares_batch_top(20, 5, 10), "batch_size"),
])
def test_domain_errors_name_the_parameter(call, name):
    with pytest.raises(DomainError, match=name):
        call()


# ---------------------------------------------------------------- extremes (issue 12)

def _mp_strength(b, p, sigma, n=None):
    b, p, sigma = mp.mpf(b), mp.mpf(p), mp.mpf(sigma)
    return sigma * mp.sqrt(p * (1 / b - (0 if n is None else 1 / mp.mpf(n))))


def test_noise_strength_with_a_huge_data_set():
    with mp.workdps(40):
        want = _mp_strength(8, 100, 0.5, 1e308)
    assert rel(noise_strength(8, 100, 0.5, n_data=1e308), want) < 2e-16
    assert rel(noise_strength(8, 100, 0.5, n_data=1e300), want) < 2e-16
    s = noise_strength(8, 100, 0.5, n_data=1e308)
    assert batch_hessian_outlier(3.0, 8, 100, 0.5, n_data=1e308) == pytest.approx(3.0 + s * s / 3.0, rel=1e-15)
    assert max_stable_lr([3.0], 8, 100, 0.5, n_data=1e308) == pytest.approx(
        max_stable_lr([3.0], 8, 100, 0.5, n_data=1e300), rel=1e-15)


@settings(max_examples=300, deadline=None)
@given(st.floats(0, 300), st.floats(0, 300), st.floats(-300, 300), st.floats(0, 8), st.booleans())
def test_noise_strength_is_accurate_at_every_scale(log_b, log_n_over_b, log_sigma, log_p, finite_n):
    b = 10.0 ** log_b
    n = float(np.floor(min(b * 10.0 ** log_n_over_b, 1.7e308))) if finite_n else None
    if n is not None and n < b:
        n = None
    p, sigma = float(np.floor(10.0 ** log_p)), 10.0 ** log_sigma
    with mp.workdps(40):
        want = _mp_strength(b, p, sigma, n)
        edge = 2 * want
    got = noise_strength(b, p, sigma, n)
    if want < 2.3e-308:  # below the normal range: absolute accuracy of a subnormal
        assert abs(got - float(want)) <= 1e-323
    else:
        assert rel(got, want) < 1e-15
        assert rel(batch_hessian_noise_edge(b, p, sigma, n), edge) < 1e-15


def test_extremes_refused_or_exact():
    assert noise_strength(np.inf, 100, 1e300) == 0.0  # B = inf: no noise, at any scale
    assert noise_strength(1e300, 1e300, 1e-300) == pytest.approx(1e-300, rel=1e-15)
    assert noise_strength(1, 1, 1e200) == 1e200
    with pytest.raises(DomainError, match="batch_size .* and n_params"):
        noise_strength(np.ones(2), np.ones(3), 1.0)
    with pytest.raises(DomainError, match="lam .*noise_scale"):
        batch_hessian_outlier(np.array([0.5, 1.04]), 1e6, 1e15, noise_scale=(), n_data=())
    with pytest.raises(TypeError, match="batch_size"):
        noise_strength(True, 3, 1.0)
    with pytest.raises(TypeError, match="finite_size"):
        batch_hessian_noise_edge(8, 100, 1.0, finite_size=1)
    with pytest.raises(TypeError, match="model"):
        least_squares_batch_top_eigenvalue(32, 5, 1.0, model=np.ones(3))
    with pytest.raises(TypeError, match="optimizer"):
        lr_batch_scaling(2, 1, 1.0, optimizer=["sgd"])
    assert isinstance(noise_strength(8, 100, 0.5), float)
