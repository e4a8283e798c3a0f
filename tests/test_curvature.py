"""theory.curvature: Lanczos against eigh, the Gauss-quadrature identity, trace estimators as statistics, refusals."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from theory import curvature as cv
from theory.errors import DomainError
from theory.sharpness import effective_number
from theory.stats import z_critical


def symmetric(n, eigenvalues, seed=0):
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n)))
    h = (q * eigenvalues) @ q.T
    return 0.5 * (h + h.T)


SPECTRA = {  # top of the spectrum, then the law of the rest
    "indefinite": ([-9.0, 7.0, 6.5], lambda rng, m: rng.uniform(-5, 5, m)),
    "clustered": (list(10 + 1e-5 * np.arange(4)) + [9.0, 3.0], lambda rng, m: rng.uniform(-1, 1, m)),
    "repeated": ([5.0, 5.0, 5.0, 4.0], lambda rng, m: rng.uniform(-3, 3, m)),
    "outliers": (list(np.geomspace(5, 60, 10)), lambda rng, m: rng.chisquare(4, m) / 4),
}


def matrix(kind, n, seed=0):
    """A symmetric test matrix: Gaussian (GOE-like) or with a prescribed spectrum."""
    rng = np.random.default_rng(seed)
    if kind == "gaussian":
        a = rng.standard_normal((n, n))
        return (a + a.T) / 2
    top, rest = SPECTRA[kind]
    return symmetric(n, np.concatenate([top, rest(rng, n - len(top))]), seed)


# ----------------------------------------------------------------------------- top eigenpairs

@pytest.mark.parametrize("kind", ["gaussian", "indefinite", "clustered", "outliers"])
@pytest.mark.parametrize("n,k", [(50, 1), (120, 4), (300, 6)])
def test_top_eigenpairs_match_eigh(kind, n, k):
    h = matrix(kind, n, seed=n)
    lam, vec = np.linalg.eigh(h)
    r = cv.top_eigenpairs(h, k, tol=1e-11)
    scale = np.abs(lam).max()
    assert r.converged and r.values.shape == (k,) and r.vectors.shape == (n, k)
    np.testing.assert_allclose(r.values, lam[::-1][:k], rtol=0, atol=1e-10 * scale)
    explicit = np.linalg.norm(h @ r.vectors - r.vectors * r.values, axis=0)
    assert np.all(explicit <= 1e-10 * scale)
    np.testing.assert_allclose(explicit, r.residuals, rtol=0, atol=1e-12 * scale)  # the Lanczos relation holds
    np.testing.assert_allclose(r.vectors.T @ r.vectors, np.eye(k), atol=1e-12)
    assert r.n_hvps >= k


@pytest.mark.parametrize("n", [50, 120, 300])
def test_an_exactly_repeated_eigenvalue_gives_true_eigenpairs_each_copy_not_guaranteed(n):
    """A single-vector Krylov space holds one direction of each eigenspace: extra copies of an exact
    repeat enter only through rounding (documented); every returned pair is still an eigenpair."""
    h = matrix("repeated", n, seed=n)
    lam = np.linalg.eigvalsh(h)
    r = cv.top_eigenpairs(h, 4, tol=1e-11)
    assert r.converged and r.values[0] == pytest.approx(5.0, rel=1e-10)
    assert np.all(np.min(np.abs(r.values[:, None] - lam[None, :]), axis=1) <= 1e-10 * 5)
    assert np.all(np.linalg.norm(h @ r.vectors - r.vectors * r.values, axis=0) <= 1e-10 * 5)


def test_callable_and_matrix_agree_bit_for_bit_and_the_hvps_are_counted():
    h = matrix("indefinite", 80)
    calls = []

    def hvp(x):
        calls.append(1)
        return h @ x

    a, b = cv.top_eigenpairs(h, 3, seed=5), cv.top_eigenpairs(hvp, 3, n=80, seed=5)
    assert np.array_equal(a.values, b.values) and np.array_equal(a.vectors, b.vectors)
    assert b.n_hvps == len(calls) == a.n_hvps
    c = cv.top_eigenpairs(h, 3, seed=6)
    assert not np.array_equal(a.vectors, c.vectors)


def test_small_n_uses_the_whole_space():
    h = matrix("gaussian", 6)
    r = cv.top_eigenpairs(h, 6)
    np.testing.assert_allclose(r.values, np.linalg.eigvalsh(h)[::-1], atol=1e-12)
    assert r.converged and r.n_hvps <= 6


def test_zero_matrix_and_budget():
    r = cv.top_eigenpairs(np.zeros((10, 10)), 2)
    assert r.converged and np.all(r.values == 0)
    slow = cv.top_eigenpairs(matrix("gaussian", 200), 5, tol=1e-12, max_hvps=7)
    assert not slow.converged and slow.n_hvps == 7


def _sequence(n, steps, delta, seed=0):
    rng = np.random.default_rng(seed)
    h = matrix("outliers", n, seed)
    mats = [h]
    for _ in range(steps - 1):
        e = rng.standard_normal((n, n))
        h = h + delta * (e + e.T) / (2 * np.sqrt(2 * n))
        mats.append(h)
    return mats


@pytest.mark.parametrize("k", [1, 5])
def test_warm_start_spends_fewer_hvps_along_a_slowly_changing_sequence(k):
    mats = _sequence(200, 6, 1e-3)
    cold = warm = 0
    prev = cv.top_eigenpairs(mats[0], k)
    for h in mats[1:]:
        c, w = cv.top_eigenpairs(h, k), cv.top_eigenpairs(h, k, start=prev)
        np.testing.assert_allclose(w.values, np.linalg.eigvalsh(h)[::-1][:k], atol=1e-9 * w.values[0])
        cold, warm, prev = cold + c.n_hvps, warm + w.n_hvps, w
    assert warm < 0.85 * cold
    arr = cv.top_eigenpairs(mats[-1], k, start=prev.vectors)  # an array start works too
    assert arr.converged


def test_warm_start_still_finds_an_eigenvalue_that_rose_above_the_old_top():
    h = matrix("indefinite", 100)
    old = cv.top_eigenpairs(h, 1)
    w = np.random.default_rng(3).standard_normal(100)
    w -= old.vectors[:, 0] * (old.vectors[:, 0] @ w)  # the old top vector stays an exact eigenvector
    h1 = h + 20 * np.outer(w, w) / (w @ w)
    new = cv.top_eigenpairs(h1, 1, start=old)
    assert new.values[0] == pytest.approx(np.linalg.eigvalsh(h1)[-1], rel=1e-10)


# ----------------------------------------------------------------------------- power iteration

def test_power_iteration_finds_the_top_eigenvalue_and_counts_hvps():
    h = matrix("outliers", 150)
    top = np.linalg.eigvalsh(h)[-1]
    r = cv.power_iteration(h, tol=1e-12)
    assert r.converged and r.values[0] == pytest.approx(top, rel=1e-10)
    assert r.residuals[0] == pytest.approx(np.linalg.norm(h @ r.vectors[:, 0] - r.values[0] * r.vectors[:, 0]))
    lanczos = cv.top_eigenpairs(h, 1, tol=1e-8)
    assert lanczos.n_hvps < r.n_hvps
    capped = cv.power_iteration(h, tol=1e-15, max_hvps=3)
    assert capped.n_hvps == 3 and not capped.converged
    warm = cv.power_iteration(h, tol=1e-12, start=r)
    assert warm.n_hvps < r.n_hvps


def test_power_iteration_converges_to_the_largest_magnitude():
    h = symmetric(40, np.concatenate([[-10.0, 3.0], np.linspace(-1, 1, 38)]))
    assert cv.power_iteration(h, tol=1e-12).values[0] == pytest.approx(-10.0, rel=1e-9)
    assert cv.top_eigenpairs(h, 1).values[0] == pytest.approx(3.0, rel=1e-9)


# ----------------------------------------------------------------------------- spectral quadrature

@settings(max_examples=40, deadline=None)
@given(n=st.integers(4, 40), steps=st.integers(1, 8), seed=st.integers(0, 2**16), data=st.data())
def test_gauss_weights_reproduce_the_moments(n, steps, seed, data):
    """sum_j w_j theta_j^p = v'H^p v / v'v for p < 2 n_steps (H scaled to norm 1: errors relative to ||H||^p)."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, n))
    h = (a + a.T) / 2
    h /= np.abs(np.linalg.eigvalsh(h)).max()
    probes = rng.standard_normal((n, 3))
    q = cv.spectral_density(h, n_steps=steps, probes=probes)
    m = min(steps, n)
    p = data.draw(st.integers(0, 2 * m - 1))
    np.testing.assert_allclose(q.weights.sum(axis=1), 1.0, atol=1e-13)
    for i in range(3):
        x = probes[:, i]
        exact = x @ np.linalg.matrix_power(h, p) @ x / (x @ x)
        assert abs(np.sum(q.weights[i] * q.nodes[i] ** p) - exact) <= 1e-12


def test_the_weights_are_squared_first_components_not_first_components():
    h = matrix("outliers", 60)
    q = cv.spectral_density(h, n_probes=2, n_steps=10)
    assert np.all(q.weights >= 0)  # first components themselves have signs and do not sum to 1
    np.testing.assert_allclose(q.weights.sum(axis=1), 1.0, atol=1e-13)


def test_full_quadrature_is_exact_per_probe_and_the_density_integrates_to_one():
    n = 30
    h = matrix("indefinite", n)
    probes = np.random.default_rng(1).standard_normal((n, 2))
    q = cv.spectral_density(h, n_steps=n, probes=probes)
    lam, vec = np.linalg.eigh(h)
    f = np.exp(lam / 10)
    x = probes[:, :1]
    exact = (x.T @ (vec * f) @ vec.T @ x / (x.T @ x)).item()
    one = cv.spectral_density(h, n_steps=n, probes=x)
    assert one.expect(lambda t: np.exp(t / 10)).value == pytest.approx(exact, rel=1e-12)
    grid = np.linspace(-30, 30, 6001)
    assert np.trapezoid(q.density(grid, 0.5), grid) == pytest.approx(1.0, abs=1e-9)


def test_slq_estimates_are_unbiased_within_their_standard_errors():
    """Three estimates from 200 probes each; Bonferroni at family-wise false-alarm rate 1e-3 (t quantile)."""
    n = 120
    h = matrix("outliers", n)
    lam = np.linalg.eigvalsh(h)
    q = cv.spectral_density(h, n_probes=200, n_steps=40, seed=11)
    crit = sps.t.ppf(1 - 1e-3 / 6, 199)
    estimates = [(q.expect(lambda t: t), lam.mean()), (q.effective_number(1.0), effective_number(lam, 1.0)),
                 (q.count_above(3.0), np.count_nonzero(lam > 3.0))]
    for est, exact in estimates:
        assert abs(est.z(exact)) < crit, (est, exact)
    assert q.n_hvps == 200 * 40
    assert q.count_above(3.0, width=0.05).value == pytest.approx(q.count_above(3.0).value, abs=2.0)


# ----------------------------------------------------------------------------- trace

def test_hutchinson_and_hutchpp_are_unbiased():
    """Means of 300 independent estimates against the exact trace; 2 tests at family-wise rate 1e-3."""
    h = matrix("indefinite", 60) + 0.5
    exact = np.trace(h)
    crit = z_critical(1e-3, 2)
    for method in ("hutchinson", "hutch++"):
        vals = np.array([cv.trace(h, n_probes=12, method=method, seed=s).value for s in range(300)])
        z = (vals.mean() - exact) / (vals.std(ddof=1) / np.sqrt(vals.size))
        assert abs(z) < crit, (method, z)


def test_one_estimate_lies_within_its_stderr():
    """Per-estimate z with a t quantile (stderr from the probes); 4 tests at family-wise rate 1e-3."""
    h = matrix("outliers", 150)
    exact = np.trace(h)
    for method, m, dof in (("hutchinson", 200, 199), ("hutch++", 210, 69)):
        for seed in (0, 1):
            est = cv.trace(h, n_probes=m, method=method, seed=seed)
            assert abs(est.z(exact)) < sps.t.ppf(1 - 1e-3 / 8, dof), (method, seed, est)


def test_hutchpp_variance_is_far_below_hutchinsons_on_low_rank_plus_noise():
    n = 200
    rng = np.random.default_rng(4)
    u, _ = np.linalg.qr(rng.standard_normal((n, 8)))
    e = rng.standard_normal((n, n))
    h = (u * np.geomspace(20, 200, 8)) @ u.T + 0.01 * (e + e.T)
    spread = {m: np.std([cv.trace(h, n_probes=30, method=m, seed=s).value for s in range(40)])
              for m in ("hutchinson", "hutch++")}
    assert spread["hutch++"] ** 2 < 0.01 * spread["hutchinson"] ** 2


def test_hutchpp_with_a_full_sketch_is_exact():
    h = matrix("gaussian", 8)
    est = cv.trace(h, n_probes=30, seed=2)
    assert est.value == pytest.approx(np.trace(h), abs=1e-12)


# ----------------------------------------------------------------------------- block sharpness

def test_block_sharpness_matches_the_submatrices():
    n = 90
    h = matrix("indefinite", n)
    blocks = [slice(0, 30), np.arange(30, 90), np.array([5, 50, 70, 2])]
    dense = cv.block_sharpness(h, blocks)
    fn = cv.block_sharpness(lambda x: h @ x, blocks, n=n)
    for i, b in enumerate(blocks):
        idx = np.arange(n)[b]
        assert dense.values[i] == pytest.approx(np.linalg.eigvalsh(h[np.ix_(idx, idx)])[-1], rel=1e-9)
    np.testing.assert_allclose(fn.values, dense.values, rtol=1e-12)
    assert np.all(fn.converged) and np.all(fn.n_hvps > 0) and fn.n_hvps.dtype == np.int64


# ----------------------------------------------------------------------------- refusals

def _nan_hvp(x):
    return np.full_like(x, np.nan)


@pytest.mark.parametrize("call", [
    lambda: cv.top_eigenpairs(_nan_hvp, n=5),
    lambda: cv.power_iteration(lambda x: np.where(np.arange(5) == 2, np.inf, x), n=5),
    lambda: cv.trace(_nan_hvp, n=5),
    lambda: cv.spectral_density(_nan_hvp, n=5),
    lambda: cv.block_sharpness(_nan_hvp, [slice(0, 2)], n=5),
    lambda: cv.top_eigenpairs(lambda x: x[:-1], n=5),
])
def test_a_non_finite_or_misshapen_hvp_is_refused_by_name(call):
    with pytest.raises(DomainError, match="hvp"):
        call()


@pytest.mark.parametrize("call,exc,name", [
    (lambda: cv.top_eigenpairs(lambda x: x), DomainError, "n"),
    (lambda: cv.top_eigenpairs(np.eye(3), 4), DomainError, "k"),
    (lambda: cv.top_eigenpairs(np.eye(3), 1.5), TypeError, "k"),
    (lambda: cv.top_eigenpairs(np.eye(3), tol=0), DomainError, "tol"),
    (lambda: cv.top_eigenpairs(np.eye(3), tol=np.nan), DomainError, "tol"),
    (lambda: cv.top_eigenpairs(np.eye(3), max_hvps=0), DomainError, "max_hvps"),
    (lambda: cv.top_eigenpairs(np.eye(3), start=np.ones(4)), DomainError, "start"),
    (lambda: cv.top_eigenpairs(np.eye(3), start=np.zeros(3)), DomainError, "start"),
    (lambda: cv.top_eigenpairs(np.triu(np.ones((3, 3)))), DomainError, "hvp"),
    (lambda: cv.top_eigenpairs(np.ones((3, 4))), DomainError, "hvp"),
    (lambda: cv.top_eigenpairs(np.eye(3), n=4), DomainError, "n"),
    (lambda: cv.top_eigenpairs(np.eye(3), seed=-1), ValueError, "seed"),
    (lambda: cv.trace(np.eye(3), method="exact"), DomainError, "method"),
    (lambda: cv.trace(np.eye(3), n_probes=3), DomainError, "n_probes"),
    (lambda: cv.trace(np.eye(3), n_probes=1, method="hutchinson"), DomainError, "n_probes"),
    (lambda: cv.spectral_density(np.eye(3), n_steps=0), DomainError, "n_steps"),
    (lambda: cv.spectral_density(np.eye(3), probes=np.ones((4, 2))), DomainError, "probes"),
    (lambda: cv.spectral_density(np.eye(3)).density([0.0], 0), DomainError, "width"),
    (lambda: cv.spectral_density(np.eye(3)).effective_number(-1), DomainError, "alpha"),
    (lambda: cv.spectral_density(-np.eye(3)).effective_number(0.5), DomainError, "alpha"),
    (lambda: cv.spectral_density(np.eye(3)).expect("log"), TypeError, "f"),
    (lambda: cv.spectral_density(np.zeros((3, 3))).expect(np.log), DomainError, "f"),
    (lambda: cv.block_sharpness(np.eye(3), []), DomainError, "blocks"),
    (lambda: cv.block_sharpness(np.eye(3), [np.array([0, 3])]), DomainError, r"blocks\[0\]"),
    (lambda: cv.block_sharpness(np.eye(3), [np.array([0, 0])]), DomainError, r"blocks\[0\]"),
    (lambda: cv.block_sharpness(np.eye(3), [slice(3, 3)]), DomainError, r"blocks\[0\]"),
    (lambda: cv.block_sharpness(np.eye(3), [np.array([0.5])]), TypeError, r"blocks\[0\]"),
    (lambda: cv.block_sharpness(np.eye(3), slice(0, 2)), TypeError, "blocks"),
])
def test_refusals_name_the_parameter(call, exc, name):
    with pytest.raises(exc, match=name):
        call()
