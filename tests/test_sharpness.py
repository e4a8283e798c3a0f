"""theory.sharpness: exact arithmetic, limits, eigensolvers, preconditioned sharpness, trace ratio, bad input."""

from __future__ import annotations

from fractions import Fraction

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theory import DomainError
from theory.sharpness import (
    adaptive_sharpness,
    count_above,
    effective_number,
    top_eigenvalue,
    top_eigenvalues,
    trace_ratio,
)

# local names kept where a test uses them: hypothesis derives its examples from the test's source
from reference import exact_effective_number_terms as exact_terms
from reference import nonnegative_floats
from reference import ulp_error as ulps

EPS = np.finfo(float).eps


# ---------------------------------------------------------------- effective_number: accuracy

wide = nonnegative_floats(max_value=1e308)


@settings(max_examples=400, deadline=None)
@given(lam=wide, alpha=wide)
def test_each_term_within_two_ulp_of_the_exact_ratio(lam, alpha):
    # never overflows (lam + alpha may exceed the float range) and is within 2 ulp (two roundings)
    got = effective_number(lam, alpha)
    assert np.isfinite(got)
    assert ulps(got, exact_terms([lam], alpha)[0]) <= 2.0


@settings(max_examples=200, deadline=None)
@given(lam=st.lists(st.floats(min_value=-1e3, max_value=1e300), min_size=1, max_size=60),
       alpha=st.floats(min_value=1e3 * (1 + 1e-9), max_value=1e300))
def test_sum_matches_fractions_within_the_rounding_bound(lam, alpha):
    # negative eigenvalues above -alpha are allowed (terms negative); the error bound is
    # n eps sum|t_i| (2 ulp per term + recursive-summation bound, pairwise summation does better),
    # plus the absolute rounding of subnormal results (one smallest-subnormal spacing per operation)
    terms = exact_terms(lam, alpha)
    got = effective_number(lam, alpha)
    n = len(lam) + 2
    bound = Fraction(n * EPS) * sum(abs(t) for t in terms) + n * Fraction(5e-324)
    assert abs(Fraction(got) - sum(terms)) <= bound


def test_against_mpmath_on_a_spread_spectrum():
    rng = np.random.default_rng(7)
    lam = 10.0 ** rng.uniform(-300, 300, 500)
    for alpha in (1e-200, 1.0, 3.7e150):
        with mp.workdps(50):
            exact = mp.fsum(mp.mpf(x) / (mp.mpf(x) + mp.mpf(alpha)) for x in lam)
        assert abs(effective_number(lam, alpha) - float(exact)) <= 500 * EPS * float(exact)


# ---------------------------------------------------------------- effective_number: limits and properties

def test_limits():
    lam = np.array([0.0, 1e-300, 2.0, 5.0, 1e300])
    assert effective_number(lam, 0.0) == 4.0            # alpha = 0: the number of nonzero eigenvalues
    assert effective_number(lam, np.inf) == 0.0          # alpha = inf: nothing is determined
    assert effective_number([1e308, 1e308], 1e308) == 1.0  # lam + alpha overflows, the ratio does not
    assert effective_number(np.zeros(7), 0.0) == 0.0
    # large alpha: sum(lam)/alpha - sum(lam^2)/alpha^2 + ...
    lam = np.array([1.0, 2.0, 3.0])
    alpha = 1e6
    assert effective_number(lam, alpha) == pytest.approx(6 / alpha - 14 / alpha**2, rel=1e-11)
    # small alpha: n - alpha sum(1/lam) + ...
    alpha = 1e-6
    assert effective_number(lam, alpha) == pytest.approx(3 - alpha * (1 + 1 / 2 + 1 / 3), rel=1e-12)


@settings(max_examples=200, deadline=None)
@given(lam=st.lists(st.floats(0, 1e10), min_size=1, max_size=30), a1=st.floats(0, 1e10), a2=st.floats(0, 1e10))
def test_between_zero_and_n_and_nonincreasing_in_alpha(lam, a1, a2):
    lo, hi = sorted((a1, a2))
    n_lo, n_hi = effective_number(lam, lo), effective_number(lam, hi)
    assert 0.0 <= n_hi <= n_lo * (1 + 4 * EPS) + 1e-300
    assert n_lo <= len(lam) * (1 + 4 * EPS)


def test_broadcasting_over_leading_axes():
    lam = np.arange(1.0, 13.0).reshape(3, 4)
    alpha = np.array([[0.5], [2.0]])  # (2, 1) against the leading shape (3,)
    out = effective_number(lam, alpha)
    assert out.shape == (2, 3)
    for i, a in enumerate((0.5, 2.0)):
        for j in range(3):
            assert out[i, j] == pytest.approx(np.sum(lam[j] / (lam[j] + a)), rel=4 * EPS)
    assert isinstance(effective_number([1.0, 2.0], 1.0), float)
    assert effective_number(3.0, 1.0) == 0.75


def test_negative_eigenvalues():
    # allowed above -alpha: the term is negative
    assert effective_number([-0.5, 1.0], 1.0) == pytest.approx(-1.0 + 0.5, rel=EPS)
    for lam, alpha in (([-1.0, 2.0], 1.0), ([-2.0], 1.0), ([-1e-300], 0.0)):
        with pytest.raises(DomainError, match="eigenvalue"):
            effective_number(lam, alpha)
    assert effective_number([-3.0, 1.0], 1.0, negative="clip") == 0.5
    assert effective_number([-3.0, 1.0], 1.0, negative="abs") == 0.75 + 0.5
    with pytest.raises(DomainError, match="negative"):
        effective_number([1.0], 1.0, negative="ignore")


@pytest.mark.parametrize("lam, alpha, name", [
    ([1.0, np.nan], 1.0, "eigenvalues"),
    ([1.0, np.inf], 1.0, "eigenvalues"),
    ([1.0], -1.0, "alpha"),
    ([1.0], np.nan, "alpha"),
    (np.zeros((2, 0)), 1.0, "eigenvalues"),
])
def test_effective_number_bad_input(lam, alpha, name):
    with pytest.raises(DomainError, match=name):
        effective_number(lam, alpha)


# ---------------------------------------------------------------- count_above

def test_count_above():
    assert count_above([1.0, 2.0, 3.0], 2.0) == 1        # strictly above
    assert count_above([1.0, 2.0, 3.0], -np.inf) == 3
    out = count_above(np.array([[1.0, 5.0], [3.0, 4.0]]), np.array([[0.0], [3.5]]))
    assert out.tolist() == [[2, 2], [1, 1]]
    lam = np.random.default_rng(0).standard_normal(100)
    assert count_above(lam, 0.3) == int(np.sum(lam > 0.3))
    # consistent with effective_number at the hard threshold: each direction above alpha counts > 1/2
    assert count_above(lam, 0.3) == int(np.sum(lam / (lam + 0.3) > 0.5) - np.sum(lam < -0.3))
    with pytest.raises(DomainError, match="level"):
        count_above([1.0], np.nan)


# ---------------------------------------------------------------- top eigenvalues

def random_symmetric(n, rng, shift=0.0):
    a = rng.standard_normal((n, n))
    return (a + a.T) / 2 + shift * np.eye(n)


@pytest.mark.parametrize("n, k", [(30, 1), (60, 3), (80, 6)])
def test_lanczos_agrees_with_dense(n, k):
    rng = np.random.default_rng(n + k)
    h = random_symmetric(n, rng)
    dense = np.sort(np.linalg.eigvalsh(h))[::-1][:k]
    lanczos = top_eigenvalues(h, k, method="lanczos")
    assert np.allclose(lanczos, dense, rtol=0, atol=1e-10 * np.abs(dense).max())
    # and through a Hessian-vector-product callable
    hvp = top_eigenvalues(lambda x: h @ x, k, n=n)
    assert np.allclose(hvp, dense, rtol=0, atol=1e-10 * np.abs(dense).max())
    assert np.all(np.diff(hvp) <= 0)  # descending
    assert top_eigenvalue(h) == pytest.approx(dense[0], rel=1e-13)


def test_largest_magnitude_and_stacks():
    rng = np.random.default_rng(3)
    h = random_symmetric(40, rng, shift=-5.0)  # most negative eigenvalue has the largest magnitude
    lam = np.linalg.eigvalsh(h)
    assert top_eigenvalue(h, which="LM") == pytest.approx(lam[np.argmax(np.abs(lam))], rel=1e-12)
    assert top_eigenvalue(h, which="LM", method="lanczos") == pytest.approx(lam[np.argmax(np.abs(lam))], rel=1e-10)
    stack = np.stack([random_symmetric(20, rng) for _ in range(6)]).reshape(2, 3, 20, 20)
    got = top_eigenvalues(stack, 2)
    assert got.shape == (2, 3, 2)
    assert np.allclose(got, np.linalg.eigvalsh(stack)[..., ::-1][..., :2])
    assert np.allclose(top_eigenvalues(stack, 2, method="lanczos"), got, atol=1e-10)


def test_large_matrix_uses_lanczos_and_agrees():
    rng = np.random.default_rng(11)
    n = 700
    d = np.sort(rng.uniform(0, 1, n))
    d[-3:] = [5.0, 6.0, 7.0]
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    h = (q * d) @ q.T
    h = (h + h.T) / 2
    assert np.allclose(top_eigenvalues(h, 3), [7.0, 6.0, 5.0], atol=1e-10)


@pytest.mark.parametrize("call, match", [
    (lambda: top_eigenvalues(np.ones((3, 4))), "square"),
    (lambda: top_eigenvalues(np.array([[1.0, 2.0], [0.0, 1.0]])), "symmetric"),
    (lambda: top_eigenvalues(lambda x: x), "n"),
    (lambda: top_eigenvalues(np.eye(3), 4), "k"),
    (lambda: top_eigenvalues(np.eye(3), 3, method="lanczos"), "k"),
    (lambda: top_eigenvalues(np.eye(3), 1, which="SA"), "which"),
    (lambda: top_eigenvalues(np.eye(3), 0), "k"),
    (lambda: top_eigenvalues(lambda x: x, n=3, method="dense"), "dense"),
    (lambda: top_eigenvalues(np.array([[np.nan]])), "hessian"),
])
def test_top_eigenvalues_bad_input(call, match):
    with pytest.raises(DomainError, match=match):
        call()


# ---------------------------------------------------------------- adaptive sharpness

@pytest.mark.parametrize("n", [5, 12, 40])
def test_adaptive_sharpness_equals_eigenvalues_of_the_nonsymmetric_product(n):
    rng = np.random.default_rng(100 + n)
    h = random_symmetric(n, rng)
    p = 10.0 ** rng.uniform(-2, 2, n)  # badly scaled preconditioner
    direct = np.linalg.eigvals(h / p[:, None])  # diag(p)^{-1} H, not symmetric
    assert np.max(np.abs(direct.imag)) <= 1e-8 * np.max(np.abs(direct))  # real, as the similarity says
    direct = np.sort(direct.real)[::-1]
    tol = 1e-9 * np.abs(direct).max()
    assert adaptive_sharpness(h, p) == pytest.approx(direct[0], abs=tol)
    assert np.allclose(adaptive_sharpness(h, p, k=3), direct[:3], atol=tol)
    if n > 5:
        assert adaptive_sharpness(lambda x: h @ x, p, n=n) == pytest.approx(direct[0], abs=tol)
        assert adaptive_sharpness(h, p, method="lanczos") == pytest.approx(direct[0], abs=tol)


def test_adaptive_sharpness_special_cases_and_stacks():
    rng = np.random.default_rng(5)
    h = random_symmetric(10, rng)
    assert adaptive_sharpness(h, np.ones(10)) == pytest.approx(top_eigenvalue(h), rel=1e-13)
    assert adaptive_sharpness(h, 4.0) == pytest.approx(top_eigenvalue(h) / 4.0, rel=1e-13)
    # Newton-like preconditioner: p = diag of a diagonal positive H gives 1
    assert adaptive_sharpness(np.diag([1.0, 10.0, 100.0]), [1.0, 10.0, 100.0]) == pytest.approx(1.0, rel=1e-15)
    stack = np.stack([random_symmetric(6, rng) for _ in range(4)])
    p = rng.uniform(0.5, 2.0, (4, 6))
    got = adaptive_sharpness(stack, p)
    assert got.shape == (4,)
    for i in range(4):
        assert got[i] == pytest.approx(np.max(np.linalg.eigvals(stack[i] / p[i][:, None]).real), abs=1e-10)
    with pytest.raises(DomainError, match="precond"):
        adaptive_sharpness(h, np.r_[np.ones(9), 0.0])
    with pytest.raises(DomainError, match="precond"):
        adaptive_sharpness(h, np.ones(9))


# ---------------------------------------------------------------- trace ratio

@pytest.mark.parametrize("n", [3, 10, 50])
def test_trace_ratio_against_a_direct_solve(n):
    rng = np.random.default_rng(n)
    a = rng.standard_normal((n, n))
    g = a @ a.T + 0.1 * np.eye(n)
    h = random_symmetric(n, rng)
    want = np.trace(np.linalg.solve(g, h))
    assert trace_ratio(g, h) == pytest.approx(want, rel=1e-12, abs=1e-12)
    # and the eigenvalues of G^{-1} H (real for symmetric H, PD G) sum to it
    assert trace_ratio(g, h) == pytest.approx(np.sum(np.linalg.eigvals(np.linalg.inv(g) @ h).real),
                                              rel=1e-8, abs=1e-8)


def test_trace_ratio_diagonal_metric_broadcast_and_exact_values():
    h = np.array([[2.0, 1.0], [1.0, 6.0]])
    assert trace_ratio([2.0, 3.0], h) == 3.0
    assert trace_ratio(np.diag([2.0, 3.0]), h) == pytest.approx(3.0, rel=EPS)
    assert trace_ratio(h, h) == pytest.approx(2.0, rel=4 * EPS)  # Tr(I) = n
    rng = np.random.default_rng(1)
    gs = np.stack([np.eye(4) * c for c in (1.0, 2.0, 4.0)])
    hs = random_symmetric(4, rng)
    assert np.allclose(trace_ratio(gs, hs), np.trace(hs) / np.array([1.0, 2.0, 4.0]))


@pytest.mark.parametrize("g, h, match", [
    (np.diag([1.0, -1.0]), np.eye(2), "positive definite"),
    (np.array([[1.0, 2.0], [0.0, 1.0]]), np.eye(2), "symmetric"),
    ([1.0, 0.0], np.eye(2), "G"),
    (np.eye(3), np.eye(2), "G"),
    (np.eye(2), np.ones((2, 3)), "H"),
    (np.eye(2), np.array([[1.0, np.nan], [0.0, 1.0]]), "H"),
])
def test_trace_ratio_bad_input(g, h, match):
    with pytest.raises(DomainError, match=match):
        trace_ratio(g, h)


# ---------------------------------------------------------------- extremes (issue 12)

def test_trace_ratio_with_quotients_beyond_the_float_range():
    assert trace_ratio([1e-300, 1e-300], np.diag([1e300, -1e300])) == 0.0
    assert trace_ratio(np.diag([1e-300, 1e-300]), np.diag([1e300, -1e300])) == 0.0
    assert trace_ratio([1e-300, 1.0], np.diag([1e300, -1e300])) == np.inf
    assert trace_ratio([1e-300, 1e-300], np.diag([1e300, -2e300])) == -np.inf


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.floats(-300, 300), st.floats(-300, 300), st.booleans()), min_size=1, max_size=5))
def test_diagonal_trace_ratio_is_the_exact_sum(terms):
    h = np.array([(1.0 if pos else -1.0) * 10.0 ** a for a, _, pos in terms])
    g = np.array([10.0 ** b for _, b, _ in terms])
    exact = sum(Fraction(float(x)) / Fraction(float(y)) for x, y in zip(h, g))
    got = trace_ratio(g, np.diag(h))
    bound = Fraction(np.finfo(float).max)
    if abs(exact) > bound * Fraction(1 + 2**-52):
        assert got == (np.inf if exact > 0 else -np.inf)
        return
    tol = sum(abs(Fraction(float(x)) / Fraction(float(y))) for x, y in zip(h, g)) * Fraction(len(h) * 2**-51)
    assert abs(Fraction(got) - exact) <= tol + Fraction(2**-1070)


def test_choices_and_shapes_are_validated():
    with pytest.raises(TypeError, match="negative"):
        effective_number(np.array([330.6]), 1.0, negative=np.array([1.0, 1.0, 1.0]))
    with pytest.raises(TypeError, match="which"):
        top_eigenvalues(np.array([[-7.79]]), 1, which=np.ones((2, 2)))
    with pytest.raises(DomainError, match="eigenvalues_leading_axes .* and level"):
        count_above(np.ones((2, 3)), np.ones(3))
    with pytest.raises(DomainError, match="G_stack .* and H_stack"):
        trace_ratio(np.ones((2, 2, 2)) * np.eye(2), np.ones((3, 2, 2)))
    with pytest.raises(TypeError, match="alpha"):
        effective_number([1.0, 2.0], True)
