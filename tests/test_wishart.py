"""theory.simulators.wishart: Marchenko-Pastur and BBP statistics, reproducibility, finite-P allowances.

Statistical tests compare per-matrix statistics averaged over independent
matrices with a closed form, through the standard error across matrices (the
eigenvalues within one matrix are correlated, so never through P). Each uses a
fixed seed and a stated false-alarm rate: ALPHA per test, Bonferroni over its
comparisons. Closed forms are written out in ``tests/reference.py``, not
imported from :mod:`theory`.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate

from theory import DomainError
from theory.backend import available_backends
from theory.rng import derive, seed_sequence
from theory.simulators.wishart import (WishartSample, empirical_cdf, empirical_spectral_density, ks_distance,
                                       sample_wishart_eigenvalues)
from theory.stats import z_critical

from reference import marchenko_pastur_cdf as mp_cdf  # mp_: Marchenko-Pastur here
from reference import marchenko_pastur_edges as mp_edges
from reference import marchenko_pastur_pdf as mp_pdf

ALPHA = 1e-6

# Tracy-Widom (beta = 1) mean and standard deviation (Prahofer-Spohn / Bornemann tables).
TW1_MEAN = -1.2065335745820
TW1_SD = np.sqrt(1.6077810345810)


def assert_consistent(estimate, expected, n_tests=None):
    z = np.atleast_1d(estimate.z(expected))
    crit = z_critical(ALPHA, n_tests or z.size)
    assert np.all(np.abs(z) <= crit), (estimate, expected, z, crit)


def test_mp_cdf_helper_matches_quadrature():
    for q in (0.3, 0.5, 1.0):
        lo, hi = mp_edges(q)
        for x in np.linspace(lo, hi, 7)[1:-1]:
            ref = integrate.quad(lambda t: mp_pdf(np.array([t]), q)[0], lo, x, limit=200)[0]
            assert abs(mp_cdf(x, q) - ref) < 1e-8


# ------------------------------------------------------------ reproducibility

def test_same_seed_same_eigenvalues_whatever_the_chunking():
    kw = dict(spikes=[4.0, 2.5], additive_spikes=[3.0], directions="random", seed=7)
    base = sample_wishart_eigenvalues(60, 30, 11, **kw)
    for chunk in (1, 4, 100):
        other = sample_wishart_eigenvalues(60, 30, 11, chunk_matrices=chunk, **kw)
        assert np.array_equal(base.eigenvalues, other.eigenvalues)
        assert np.array_equal(base.overlaps, other.overlaps)
        assert np.array_equal(base.directions, other.directions)
    # matrix i depends on (seed, i) only: the first 5 of 11 are the 5 of a smaller sample
    small = sample_wishart_eigenvalues(60, 30, 5, **kw)
    assert np.array_equal(small.eigenvalues, base.eigenvalues[:5])


def test_numpy_backend_equals_the_default_and_the_documented_random_frame():
    kw = dict(spikes=[4.0, 2.5], additive_spikes=[3.0], directions="random", seed=7)
    base = sample_wishart_eigenvalues(60, 30, 3, **kw)
    other = sample_wishart_eigenvalues(60, 30, 3, backend="numpy", **kw)
    assert other.backend == "numpy"
    for name in ("eigenvalues", "overlaps", "directions"):
        assert np.array_equal(getattr(base, name), getattr(other, name))
    # the frame: QR of a (P, K) standard normal draw from derive(seed, "directions"), signs fixed by diag(R) > 0
    z = np.random.Generator(np.random.PCG64(derive(seed_sequence(7), "directions"))).standard_normal((30, 3))
    q, r = np.linalg.qr(z)
    assert np.array_equal(base.directions, (q * np.sign(np.diag(r))).T)
    assert base.directions.flags.c_contiguous


def test_rows_are_n_data_and_n_samples_is_a_deprecated_alias():
    s = sample_wishart_eigenvalues(12, 5, 2, seed=3)
    assert s.n_data == 12 and s.ratio == 5 / 12
    with pytest.warns(DeprecationWarning, match="'n_samples' is deprecated; use 'n_data'"):
        old = sample_wishart_eigenvalues(n_samples=12, n_params=5, n_matrices=2, seed=3)
    assert np.array_equal(old.eigenvalues, s.eigenvalues)
    with pytest.warns(DeprecationWarning, match="n_samples is deprecated; use n_data"):
        assert s.n_samples == 12
    with pytest.raises(TypeError, match="both"):
        sample_wishart_eigenvalues(12, 5, n_samples=12)


def test_default_seed_is_zero():
    assert np.array_equal(sample_wishart_eigenvalues(12, 5, 2).eigenvalues,
                          sample_wishart_eigenvalues(12, 5, 2, seed=0).eigenvalues)


def test_seed_entropy_reproduces_and_seeds_differ():
    a = sample_wishart_eigenvalues(40, 20, 3, seed=None)
    b = sample_wishart_eigenvalues(40, 20, 3, seed=a.entropy)
    assert np.array_equal(a.eigenvalues, b.eigenvalues)
    c = sample_wishart_eigenvalues(40, 20, 3, seed=a.entropy + 1)
    assert not np.array_equal(a.eigenvalues, c.eigenvalues)


def test_eigenvalues_and_overlaps_are_those_of_the_matrix():
    """Rebuild W from the documented streams and diagonalise it with eigh."""
    n, p, seed = 50, 20, 3
    ell, theta = np.array([3.0]), np.array([2.0])
    s = sample_wishart_eigenvalues(n, p, 4, scale=2.0, spikes=ell, additive_spikes=theta, directions="random",
                                   seed=seed)
    v = s.directions
    half = np.eye(p) + (np.sqrt(ell[0]) - 1) * np.outer(v[0], v[0])
    for i in range(4):
        z = np.random.Generator(np.random.PCG64(derive(seed, i))).standard_normal((n, p))
        x = z @ half
        w = 2.0 * x.T @ x / n + theta[0] * np.outer(v[1], v[1])
        lam, u = np.linalg.eigh(w)
        assert np.allclose(s.eigenvalues[i], lam, rtol=1e-12, atol=1e-12)
        ov = (u[:, ::-1][:, :2].T @ v.T) ** 2
        assert np.allclose(s.overlaps[i], ov, atol=1e-9)
    assert np.allclose(v @ v.T, np.eye(2), atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 12), p=st.integers(1, 12), s2=st.floats(0.1, 10.0), seed=st.integers(0, 2**32))
def test_spectrum_invariants(n, p, s2, seed):
    s = sample_wishart_eigenvalues(n, p, 2, scale=s2, seed=seed)
    lam = s.eigenvalues
    assert lam.shape == (2, p)
    assert np.all(np.diff(lam, axis=1) >= 0)
    assert np.all(lam >= -1e-12 * s2 * max(1, p))
    # rank <= N: at least P - N zero eigenvalues (the atom of mass 1 - 1/q)
    if p > n:
        assert np.all(np.abs(lam[:, :p - n]) <= 1e-10 * lam[:, -1:])
    # trace: the sum of eigenvalues is tr W, which the entries' squares determine
    x = np.stack([np.random.Generator(np.random.PCG64(derive(seed, i))).standard_normal((n, p)) for i in range(2)])
    assert np.allclose(lam.sum(axis=1), s2 * (x**2).sum(axis=(1, 2)) / n, rtol=1e-10)


# ------------------------------------------------------------ Marchenko-Pastur

@pytest.mark.parametrize("n, p, s2", [(80, 40, 1.0), (30, 90, 2.5)])
def test_mean_eigenvalue_is_the_scale(n, p, s2):
    """E tr W / P = s2 exactly, for every N and P (including P > N)."""
    s = sample_wishart_eigenvalues(n, p, 100, scale=s2, seed=1)
    assert_consistent(s.mean_eigenvalue(), s2)
    # and the second moment: E tr W^2 / P = s2^2 (1 + q + 1/N) exactly for Gaussian entries
    assert_consistent(s.linear_statistic(lambda x: x * x), s2**2 * (1 + p / n + 1 / n))


def test_mean_eigenvalue_with_spikes_is_exact():
    ell, theta, s2, p = np.array([5.0, 2.0]), np.array([1.5, -0.5]), 1.5, 30
    s = sample_wishart_eigenvalues(45, p, 200, scale=s2, spikes=ell, additive_spikes=theta, seed=2)
    assert_consistent(s.mean_eigenvalue(), s2 * (1 + (ell - 1).sum() / p) + theta.sum() / p)


def test_top_edge_sits_at_the_mp_edge_with_tracy_widom_fluctuations():
    """Johnstone (2001): (lambda_max(X^T X) - mu) / sigma -> TW1 with
    mu = (sqrt(N - 1/2) + sqrt(P - 1/2))^2, sigma = sqrt(mu) (1/sqrt(N - 1/2) + 1/sqrt(P - 1/2))^(1/3);
    mu / N -> (1 + sqrt q)^2 and sigma / N = O(N^(-2/3)). The error of the TW1 mean at this size is
    O(N^(-2/3)) in TW units (Ma 2012), below the standard error 1.27 / sqrt(200) = 0.09."""
    n, p, m = 200, 100, 200
    s = sample_wishart_eigenvalues(n, p, m, seed=4)
    a, b = np.sqrt(n - 0.5), np.sqrt(p - 0.5)
    mu, sigma = (a + b) ** 2, (a + b) * (1 / a + 1 / b) ** (1 / 3)
    z_top = (n * s.eigenvalues[:, -1] - mu) / sigma
    est = s._across(z_top)
    assert_consistent(est, TW1_MEAN, 2)
    # the spread is TW1's too: the standard error of a sample standard deviation is
    # sd sqrt((kurtosis_excess + 2) / (4 m)), TW1's excess kurtosis being 0.1652
    sd = z_top.std(ddof=1)
    assert abs(sd - TW1_SD) <= z_critical(ALPHA, 2) * TW1_SD * np.sqrt((0.1652 + 2) / (4 * m))
    assert abs(mu / n - mp_edges(p / n)[1]) < 0.02


def test_edges_approach_the_mp_edges():
    """Both extreme eigenvalues converge to the MP edges: their distance shrinks ~N^(-2/3)."""
    q = 0.25
    devs = []
    for p, m in [(25, 200), (400, 12)]:
        s = sample_wishart_eigenvalues(4 * p, p, m, seed=5)
        lo, hi = mp_edges(q)
        devs.append((np.abs(s.eigenvalues[:, -1] - hi).mean(), np.abs(s.eigenvalues[:, 0] - lo).mean()))
    devs = np.array(devs)
    # 16 times more rows: N^(-2/3) predicts a factor 16^(-2/3) = 0.16; an N^(-1/2) law would give 0.25
    assert np.all(devs[1] < 0.25 * devs[0]), devs


def test_empirical_spectral_density_error_bars_come_from_matrices():
    n, p, m = 200, 100, 60
    s = sample_wishart_eigenvalues(n, p, m, seed=6)
    lo, hi = mp_edges(p / n)
    esd = empirical_spectral_density(s, np.linspace(0.0, hi + 0.5, 11))
    # all the mass is inside these edges: the density integrates to 1 exactly for every matrix
    assert np.isclose(np.sum(esd.density * np.diff(esd.edges)), 1.0, rtol=1e-12)
    assert np.all(esd.lower <= esd.density) and np.all(esd.density <= esd.upper)
    # rigidity: the spread across matrices is far below the Poisson error of P*m independent points
    # (a bin holding ~30 eigenvalues has a count variance of order (2/pi^2) log 30 + O(1) ~ 1, not 30:
    # a ratio of standard errors near 0.2)
    poisson = np.sqrt(esd.density / (p * m * np.diff(esd.edges)))
    bulk = esd.density > 0.2
    assert np.all(esd.stderr[bulk] < 0.5 * poisson[bulk])
    # an independent sample agrees bin by bin within the combined standard errors
    other = empirical_spectral_density(sample_wishart_eigenvalues(n, p, m, seed=7), esd.edges)
    se = np.hypot(esd.stderr, other.stderr)
    z = (esd.density - other.density)[se > 0] / se[se > 0]
    assert np.all(np.abs(z) <= z_critical(ALPHA, z.size))
    # a single matrix: density without a band
    one = empirical_spectral_density(s.eigenvalues[0], 10)
    assert np.all(np.isnan(one.stderr))


@pytest.mark.slow
def test_empirical_density_matches_mp_in_the_bulk():
    """Mean histogram vs MP bin averages (exact cdf differences) over interior bins.

    The finite-P bias of the mean density is O(1/P): measured (3000 matrices at P = 50, 1500 at P = 100)
    P * bias = -0.3..+0.2 in these bins, against a per-matrix standard deviation of 7.5 / P, so with m
    matrices the bias is at most 0.04 sqrt(m) standard errors: 0.2 here."""
    n, p, m = 600, 300, 30
    q = p / n
    s = sample_wishart_eigenvalues(n, p, m, seed=8)
    lo, hi = mp_edges(q)
    edges = np.linspace(lo + 0.15, hi - 0.3, 21)
    esd = empirical_spectral_density(s, edges)
    expected = np.diff(mp_cdf(edges, q)) / np.diff(edges)
    z = (esd.density - expected) / esd.stderr
    assert np.all(np.abs(z) <= z_critical(ALPHA, z.size)), z


def test_empirical_cdf_and_ks_distance():
    n, p = 200, 100
    q = p / n
    s = sample_wishart_eigenvalues(n, p, 30, seed=9)
    x = np.linspace(0.0, 3.5, 9)
    f = empirical_cdf(s, x)
    assert f.value.shape == x.shape and f.value[0] == 0.0 and f.value[-1] == 1.0
    d = ks_distance(s, lambda t: mp_cdf(t, q))
    assert d.shape == (30,)
    # per-matrix D by brute force on a fine grid (a lower bound on the sup, equal up to grid resolution)
    grid = np.sort(np.concatenate([s.eigenvalues[0], s.eigenvalues[0] - 1e-12]))
    brute = np.max(np.abs(np.searchsorted(s.eigenvalues[0], grid, side="right") / p - mp_cdf(grid, q)))
    assert np.isclose(d[0], brute, atol=1e-9)
    # P D is O(1) (about 2.1 at P = 50 and 2.4 at P = 100, growing like log P), whereas a wrong limit
    # (q = 0.6 instead of 0.5) is O(1) away and is detected with the spread across matrices
    wrong = ks_distance(s, lambda t: mp_cdf(t, 0.6))
    diff = wrong - d
    assert diff.mean() > z_critical(ALPHA, two_sided=False) * diff.std(ddof=1) / np.sqrt(diff.size)


@pytest.mark.slow
def test_ks_distance_shrinks_like_one_over_p_not_one_over_sqrt_p():
    """Rigidity: D is O(log P / P) for the right limit, not the O(P^-1/2) of independent points.

    Quadrupling P divides an O(1/P) distance by ~4 (logs: ~3) but an O(P^-1/2) one only by 2.
    The ratio of means is tested against 1/2 with its delta-method standard error."""
    q = 0.5
    ds = []
    for p, m in [(100, 60), (400, 20)]:
        s = sample_wishart_eigenvalues(int(p / q), p, m, seed=10)
        ds.append(ks_distance(s, lambda t: mp_cdf(t, q)))
    (d1, d2) = ds
    ratio = d2.mean() / d1.mean()
    se = ratio * np.hypot(d1.std(ddof=1) / np.sqrt(d1.size) / d1.mean(), d2.std(ddof=1) / np.sqrt(d2.size) / d2.mean())
    assert ratio + z_critical(ALPHA, two_sided=False) * se < 0.5, (ratio, se)
    # and sqrt(P) D is far below the Kolmogorov mean 0.87 of P independent points
    assert np.sqrt(400) * d2.mean() < 0.3


# ------------------------------------------------------------ spikes

def test_bbp_outlier_and_overlap():
    """Above the threshold the top eigenvalue -> l (1 + q/(l - 1)) and the squared overlap ->
    (1 - q/(l-1)^2)/(1 + q/(l-1)); both fluctuate O(N^-1/2) around values that are O(1/N) off the limit
    (Paul 2007), here 1/400 against a standard error ~0.02."""
    n, p, ell = 400, 200, 3.0
    q = p / n
    s = sample_wishart_eigenvalues(n, p, 60, spikes=[ell], seed=11)
    assert_consistent(s.top_eigenvalue(), ell * (1 + q / (ell - 1)), 2)
    assert_consistent(s.overlap(), (1 - q / (ell - 1) ** 2) / (1 + q / (ell - 1)), 2)
    # Paul (2007): sqrt(N) (lambda - rho) -> N(0, 2 l^2 (1 - q/(l-1)^2))
    var = 2 * ell**2 * (1 - q / (ell - 1) ** 2) / n
    sd = s.eigenvalues[:, -1].std(ddof=1)
    assert abs(sd**2 / var - 1) <= z_critical(ALPHA) * np.sqrt(2 / 59)


def test_bbp_scales_with_the_entry_variance_and_random_directions():
    n, p, ell, s2 = 400, 200, 4.0, 0.5
    q = p / n
    s = sample_wishart_eigenvalues(n, p, 40, scale=s2, spikes=[ell], directions="random", seed=12)
    assert_consistent(s.top_eigenvalue(), s2 * ell * (1 + q / (ell - 1)), 2)
    assert_consistent(s.overlap(), (1 - q / (ell - 1) ** 2) / (1 + q / (ell - 1)), 2)


def test_below_the_bbp_threshold_the_top_eigenvalue_sticks_to_the_edge():
    n, p, ell = 400, 200, 1.3  # threshold 1 + sqrt(0.5) = 1.71
    s = sample_wishart_eigenvalues(n, p, 40, spikes=[ell], seed=13)
    spiked = s.top_eigenvalue()
    plain = sample_wishart_eigenvalues(n, p, 40, seed=14).top_eigenvalue()
    # the same law up to O(1/P): compare the two samples (independent) with their errors
    z = (spiked.value - plain.value) / np.hypot(spiked.stderr, plain.stderr)
    assert abs(z) <= z_critical(ALPHA)
    assert float(s.overlap().value) < 0.1  # no macroscopic overlap (the BBP formula would be negative)


def test_additive_spike_outlier():
    """theta + theta/(theta - q) iff theta > q + sqrt(q) (s2 = 1); O(N^-1/2) fluctuations."""
    n, p, theta = 400, 200, 2.0
    q = p / n
    s = sample_wishart_eigenvalues(n, p, 40, additive_spikes=[theta], seed=15)
    assert_consistent(s.top_eigenvalue(), theta + theta / (theta - q))


def test_two_spikes_two_outliers_in_order():
    n, p = 400, 200
    q = p / n
    s = sample_wishart_eigenvalues(n, p, 40, spikes=[3.0, 5.0], seed=16)
    rho = lambda ell: ell * (1 + q / (ell - 1))  # noqa: E731
    assert_consistent(s.top_eigenvalue(0), rho(5.0), 4)
    assert_consistent(s.top_eigenvalue(1), rho(3.0), 4)
    psi = lambda ell: (1 - q / (ell - 1) ** 2) / (1 + q / (ell - 1))  # noqa: E731
    assert_consistent(s.overlap(0, 1), psi(5.0), 4)  # the top eigenvector follows the larger spike
    assert_consistent(s.overlap(1, 0), psi(3.0), 4)


@pytest.mark.gpu
@pytest.mark.skipif("cupy" not in available_backends(), reason="needs CuPy and a CUDA device")
def test_cupy_backend_matches_bbp_and_is_chunk_invariant():
    n, p, ell = 400, 200, 3.0
    q = p / n
    s = sample_wishart_eigenvalues(n, p, 60, spikes=[ell], seed=11, backend="cupy")
    assert s.backend == "cupy"
    assert_consistent(s.top_eigenvalue(), ell * (1 + q / (ell - 1)), 2)
    assert_consistent(s.overlap(), (1 - q / (ell - 1) ** 2) / (1 + q / (ell - 1)), 2)
    # batched GPU eigensolvers may pick another algorithm for another batch size: equal to rounding
    again = sample_wishart_eigenvalues(n, p, 60, spikes=[ell], seed=11, backend="cupy", chunk_matrices=7)
    assert np.allclose(s.eigenvalues, again.eigenvalues, rtol=1e-10, atol=1e-12)
    assert np.allclose(s.overlaps, again.overlaps, atol=1e-8)


@pytest.mark.gpu
@pytest.mark.skipif("cupy" not in available_backends(), reason="needs CuPy and a CUDA device")
def test_cupy_random_frame_is_orthonormal_and_reproducible():
    kw = dict(spikes=[4.0, 2.5], additive_spikes=[3.0], directions="random", seed=7, backend="cupy")
    a = sample_wishart_eigenvalues(60, 30, 3, **kw)
    b = sample_wishart_eigenvalues(60, 30, 3, **kw)
    assert isinstance(a.directions, np.ndarray) and a.directions.shape == (3, 30)
    np.testing.assert_allclose(a.directions @ a.directions.T, np.eye(3), atol=1e-12)
    assert np.array_equal(a.directions, b.directions)
    assert np.allclose(a.eigenvalues, b.eigenvalues, rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------ bad input

@pytest.mark.parametrize("args, kw, name", [
    ((0, 5), {}, "n_data"), ((5, 0), {}, "n_params"), ((5, 5, 0), {}, "n_matrices"),
    ((5, 5), dict(scale=0.0), "scale"), ((5, 5), dict(scale=np.inf), "scale"),
    ((5, 5), dict(spikes=[2.0, -1.0]), "spikes"), ((5, 5), dict(additive_spikes=[np.nan]), "additive_spikes"),
    ((5, 2), dict(spikes=[2.0, 3.0], additive_spikes=[1.0]), "the number of spikes"),
    ((5, 5), dict(spikes=[2.0], directions=np.ones((1, 4))), "directions"),
    ((5, 5), dict(spikes=[2.0], directions=2 * np.eye(1, 5)), "directions"),
    ((5, 5), dict(spikes=[2.0], directions="sideways"), "directions"),
    ((5, 5), dict(chunk_matrices=0), "chunk_matrices"),
])
def test_bad_input(args, kw, name):
    with pytest.raises(DomainError, match=rf"^{name} must"):
        sample_wishart_eigenvalues(*args, **kw)


def test_bad_input_of_the_statistics():
    s = sample_wishart_eigenvalues(10, 5, 1, spikes=[3.0], seed=0)
    with pytest.raises(DomainError, match="^n_matrices must be >= 2"):
        s.top_eigenvalue()
    with pytest.raises(DomainError, match="^confidence must"):
        empirical_spectral_density(s, 10, confidence=1.0)
    with pytest.raises(DomainError, match="^bins must"):
        empirical_spectral_density(s, [1.0, 0.5])
    with pytest.raises(DomainError, match="^range must"):
        empirical_spectral_density(s, 10, range=(2.0, 1.0))
    with pytest.raises(DomainError, match="^eigenvalues must"):
        empirical_spectral_density(np.ones((2, 2, 2)), 10)
    with pytest.raises(DomainError, match="^cdf must"):
        ks_distance(s, lambda t: 0.5)
    two = sample_wishart_eigenvalues(10, 5, 2, spikes=[3.0], seed=0)
    with pytest.raises(DomainError, match="^rank must"):
        two.overlap(rank=1)
    with pytest.raises(DomainError, match="^spike must"):
        two.overlap(spike=1)
    with pytest.raises(DomainError, match="^rank must"):
        two.top_eigenvalue(5)
    none = sample_wishart_eigenvalues(10, 5, 2, seed=0)
    assert none.overlaps is None
    with pytest.raises(DomainError, match="^overlaps were not computed"):
        none.overlap()
    assert isinstance(none, WishartSample)


# ---------------------------------------------------------------- extremes (issue 12)

@pytest.mark.parametrize("scale", [1e-300, 2.0**-600, 1e300])
def test_extreme_scales_are_the_unit_law_scaled(scale):
    unit = sample_wishart_eigenvalues(10, 5, 3, scale=1.0, seed=1).eigenvalues
    got = sample_wishart_eigenvalues(10, 5, 3, scale=scale, seed=1).eigenvalues
    np.testing.assert_allclose(got / scale, unit, rtol=1e-13)
    spiked = sample_wishart_eigenvalues(10, 5, 3, scale=scale, additive_spikes=[10 * scale], seed=1)
    ref = sample_wishart_eigenvalues(10, 5, 3, scale=1.0, additive_spikes=[10.0], seed=1)
    np.testing.assert_allclose(spiked.eigenvalues / scale, ref.eigenvalues, rtol=1e-12)


def test_no_matrices_is_refused_by_name():
    with pytest.raises(DomainError, match="eigenvalues"):
        ks_distance(np.ones((0, 4)), lambda x: x)


def test_spike_forms_have_their_exact_means():
    # v' W v along each spike direction: mean s^2 l (multiplicative), s^2 + theta (additive)
    s = sample_wishart_eigenvalues(60, 30, 400, scale=2.0, spikes=[4.0], additive_spikes=[-0.5], seed=5)
    assert s.forms.shape == (400, 2)
    np.testing.assert_allclose(s.form_means, [8.0, 1.5])
    d = s.forms - s.form_means
    z = d.mean(axis=0) / (d.std(axis=0, ddof=1) / np.sqrt(400))
    assert np.all(np.abs(z) < z_critical(1e-4, 2))
    # the form is the quadratic form of W itself: for one matrix, v' W v lies within W's spectrum
    assert np.all(s.forms[:, 0] <= s.eigenvalues[:, -1] * (1 + 1e-12))
    assert sample_wishart_eigenvalues(20, 10, 3, seed=0).forms is None
