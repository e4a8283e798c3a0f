"""theory.sam: SAM/USAM thresholds against mpmath, limits, properties, literal trajectories, bad input."""

from __future__ import annotations

import doctest

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import theory.sam
from theory import DomainError
from theory.quadratic import expected_loss_change, gd_threshold
from theory.sam import (
    locate_threshold,
    sam_loss_change,
    sam_quadratic_map,
    sam_step_factor,
    sam_threshold,
    sam_update,
    usam_loss_change,
    usam_quadratic_map,
    usam_step_factor,
    usam_threshold,
    usam_update,
)

from reference import assert_ulp, mp_sam_edge, ulp_error

EPS = np.finfo(float).eps
ULP_BOUND = 3.0  # the documented accuracy of the thresholds


# ---------------------------------------------------------------- accuracy

def test_spot_values():
    assert usam_threshold(0.1, 0.0) == 20.0
    assert usam_threshold(0.5, 0.5) == 2.0            # lam (1 + lam/2) = 4
    assert sam_threshold(0.5, 1.0, 2.0) == 2.0        # rho/|g| = 1/2
    assert usam_threshold(1.0, 1.0) == 1.0            # lam (1 + lam) = 2
    assert usam_threshold(2.0, 3.0) == pytest.approx(float(mp_sam_edge(2.0, 3.0)), rel=EPS)


def test_usam_accuracy_over_the_whole_range():
    """Within 3 ulp of the 50-digit value for lr in [1e-300, 1e300] and rho in [1e-320, 1e308]."""
    rng = np.random.default_rng(2024)
    n = 1500
    lr = 10.0 ** rng.uniform(-300, 300, n)
    rho = 10.0 ** rng.uniform(-320, 308, n)
    rho[:300] = lr[:300] * 10.0 ** rng.uniform(-3, 3, 300)  # rho/lr of order one: the curved part
    got = usam_threshold(lr, rho)
    assert_ulp(got, [mp_sam_edge(a, b) for a, b in zip(lr, rho)], ULP_BOUND, inputs={"lr": lr, "rho": rho})


def test_sam_accuracy_over_the_whole_range():
    """Within 3 ulp, grad_norm from subnormal to 1e308, never forming rho/(lr |g|)."""
    rng = np.random.default_rng(7)
    n = 1500
    lr = 10.0 ** rng.uniform(-300, 300, n)
    rho = 10.0 ** rng.uniform(-300, 300, n)
    g = 10.0 ** rng.uniform(-322, 308, n)
    # rho/(lr |g|) of order one: the curved part (exponents chosen so that |g| is a float)
    log_g = np.log10(rho[:300]) - np.log10(lr[:300]) + rng.uniform(-3, 3, 300)
    g[:300] = 10.0 ** np.clip(log_g, -320, 307)
    got = sam_threshold(lr, rho, g)
    assert_ulp(got, [mp_sam_edge(a, b, c) for a, b, c in zip(lr, rho, g)], ULP_BOUND,
               inputs={"lr": lr, "rho": rho, "grad_norm": g})


@pytest.mark.parametrize("lr, rho, g", [
    (1.0, 1e308, 1.0),          # rho/lr near overflow: the sqrt(2/(lr rho)) regime
    (1e-300, 1e300, 1.0),       # rho/lr = 1e600 would overflow
    (1e300, 1e-300, 1.0),       # rho/lr = 1e-600 underflows: GD to full precision
    (5e-324, 1.0, 1.0),         # subnormal lr
    (1.0, 5e-324, 1.0),         # subnormal rho
    (0.1, 1.0, 5e-324),         # subnormal gradient norm
    (0.1, 1e-300, 1e-300),      # rho/|g| = 1 with both tiny
    (1e-200, 1e200, 1e-200),    # x = 1e600 but the threshold is ordinary
    (2.0, 0.5, 1.7e308),
])
def test_extremes(lr, rho, g):
    assert ulp_error(sam_threshold(lr, rho, g), mp_sam_edge(lr, rho, g)) <= ULP_BOUND
    if g == 1.0:
        assert ulp_error(usam_threshold(lr, rho), mp_sam_edge(lr, rho)) <= ULP_BOUND


def test_naive_forms_fail_where_the_implementation_does_not():
    lr, rho = 1.0, 1e-20
    naive = (np.sqrt(1 + 8 * rho / lr) - 1) / (2 * rho)   # cancels: 0 instead of 2
    assert naive == 0.0
    assert usam_threshold(lr, rho) == pytest.approx(2.0, rel=EPS)
    with np.errstate(over="ignore"):
        ratio = 8 * 1e300 / 1e-300
    assert np.isinf(ratio)
    assert usam_threshold(1e-300, 1e300) == pytest.approx(np.sqrt(2.0), rel=4 * EPS)


@settings(max_examples=300, deadline=None)
@given(lr=st.floats(1e-8, 1e4), rho=st.floats(1e-10, 1e6), g=st.floats(1e-8, 1e8))
def test_threshold_is_the_root_of_the_edge_equation(lr, rho, g):
    lam = sam_threshold(lr, rho, g)
    with mp.workdps(50):
        lm = mp.mpf(lam)
        residual = mp.mpf(lr) * lm * (1 + mp.mpf(rho) * lm / mp.mpf(g)) - 2
        slope = mp.mpf(lr) * (1 + 2 * mp.mpf(rho) * lm / mp.mpf(g))
        # Newton correction relative to lam: the distance to the exact root
        assert abs(residual / slope / lm) <= ULP_BOUND * EPS


# ---------------------------------------------------------------- limits and properties

def test_limits_are_exact():
    for lr in (1e-3, 0.1, 3.0, 1e10):
        assert usam_threshold(lr, 0.0) == gd_threshold(lr)
        assert sam_threshold(lr, 0.0, 1.0) == gd_threshold(lr)
        assert sam_threshold(lr, 0.0, 0.0) == gd_threshold(lr)     # rho = 0 is GD even at g = 0
        assert sam_threshold(lr, 1.0, np.inf) == gd_threshold(lr)
        assert usam_threshold(lr, np.inf) == 0.0
        assert sam_threshold(lr, np.inf, 1.0) == 0.0
        assert sam_threshold(lr, 1.0, 0.0) == 0.0


def test_asymptotes():
    # rho/lr -> inf: sqrt(2/(lr rho)); sqrt(2 |g|/(lr rho)) for SAM
    assert usam_threshold(0.1, 1e30) == pytest.approx(np.sqrt(2 / (0.1 * 1e30)), rel=1e-14)
    assert sam_threshold(0.1, 1e30, 4.0) == pytest.approx(np.sqrt(8 / (0.1 * 1e30)), rel=1e-14)
    # rho -> 0: (2/lr) (1 - 2x + 8x^2 + ...), x = rho/lr
    assert usam_threshold(0.1, 1e-9) == pytest.approx(20 * (1 - 2e-8 + 8e-16), rel=1e-15)


@settings(max_examples=200, deadline=None)
@given(lr=st.floats(1e-6, 1e3), r1=st.floats(0, 1e6), r2=st.floats(0, 1e6), g=st.floats(1e-6, 1e6))
def test_threshold_decreases_with_rho_and_stays_below_gd(lr, r1, r2, g):
    lo, hi = sorted((r1, r2))
    a, b = sam_threshold(lr, lo, g), sam_threshold(lr, hi, g)
    assert b <= a * (1 + 2 * ULP_BOUND * EPS)          # nonincreasing up to rounding
    # strictly once the change exceeds rounding: |d log(lam*)/dx| >= 1/(2 (1 + x)), x = rho/(lr g)
    scale = lr * g
    if (hi - lo) / scale / (1 + hi / scale) > 1e-9:
        assert b < a
    assert 0 <= a <= gd_threshold(lr) * (1 + EPS)


@settings(max_examples=150, deadline=None)
@given(lr=st.floats(1e-6, 1e3), rho=st.floats(1e-6, 1e6), g1=st.floats(1e-6, 1e6), g2=st.floats(1e-6, 1e6))
def test_sam_threshold_increases_with_grad_norm_and_reduces_to_usam(lr, rho, g1, g2):
    lo, hi = sorted((g1, g2))
    assert sam_threshold(lr, rho, lo) <= sam_threshold(lr, rho, hi) * (1 + 2 * ULP_BOUND * EPS)
    # SAM at |g| is USAM at rho/|g| (exactly when the ratio is exact)
    k = 2.0 ** np.round(np.log2(g1))
    assert sam_threshold(lr, rho, k) == usam_threshold(lr, rho / k)


def test_broadcasting_and_scalar_out():
    assert isinstance(usam_threshold(0.1, 0.2), float)
    out = sam_threshold(np.array([[0.1], [0.2]]), np.array([0.0, 1.0, 2.0]), 1.0)
    assert out.shape == (2, 3)
    assert np.all(np.diff(out, axis=1) < 0)
    assert usam_step_factor(np.arange(4.0), 0.1, [[0.0], [1.0]]).shape == (2, 4)


@settings(max_examples=100, deadline=None)
@given(lr=st.floats(1e-4, 10), rho=st.floats(0, 100), g=st.floats(1e-3, 1e3))
def test_step_factor_crosses_minus_one_at_the_threshold(lr, rho, g):
    lam = sam_threshold(lr, rho, g)
    below, above = lam * (1 - 1e-12), lam * (1 + 1e-12)
    assert abs(sam_step_factor(below, lr, rho, g)) < 1 < abs(sam_step_factor(above, lr, rho, g))
    lam_u = usam_threshold(lr, rho)
    assert abs(usam_step_factor(lam_u * (1 - 1e-12), lr, rho)) < 1 < abs(usam_step_factor(lam_u * (1 + 1e-12), lr, rho))


def test_step_factor_is_exactly_rounded_at_the_edge():
    # lr lam (1 + rho lam) = 2 exactly: the factor is exactly -1
    assert usam_step_factor(2.0, 0.5, 0.5) == -1.0
    assert sam_step_factor(2.0, 0.5, 1.0, 2.0) == -1.0
    assert usam_step_factor(0.0, 0.5, 0.5) == 1.0


# ---------------------------------------------------------------- loss change

@settings(max_examples=100, deadline=None)
@given(lr=st.floats(1e-3, 1), rho=st.floats(0, 10), seed=st.integers(0, 2**32 - 1))
def test_loss_change_matches_the_literal_step(lr, rho, seed):
    rng = np.random.default_rng(seed)
    lam = rng.uniform(0.1, 5.0, 4)
    theta = rng.standard_normal(4)

    def loss(t):
        return 0.5 * np.sum(lam * t * t)

    def grad(t):
        return lam * t

    g = grad(theta)
    for update, change in ((usam_update, usam_loss_change(lam, g, lr, rho)),
                           (sam_update, sam_loss_change(lam, g, lr, rho))):
        direct = loss(update(theta, grad, lr, rho)) - loss(theta)
        assert np.sum(change) == pytest.approx(direct, rel=1e-10, abs=1e-13 * loss(theta))


def test_loss_change_reduces_to_gd_and_changes_sign_at_the_threshold():
    lam, g = np.array([1.0, 7.0, 19.0]), np.array([0.3, -0.2, 0.1])
    assert np.array_equal(usam_loss_change(lam, g, 0.1, 0.0), expected_loss_change(lam, g, 0.1))
    lr, rho = 0.1, 0.05
    edge = usam_threshold(lr, rho)
    signs = np.sign(usam_loss_change([edge * (1 - 1e-12), edge * (1 + 1e-12)], 1.0, lr, rho))
    assert list(signs) == [-1.0, 1.0]
    assert usam_loss_change(2.0, 1.0, 0.5, 0.5) == 0.0       # exactly at the edge
    # SAM: sign change at the SAM-edge of the full gradient norm
    gp = np.array([3.0, 4.0])                                # |g| = 5
    e = sam_threshold(lr, rho, 5.0)
    ch = sam_loss_change(np.array([1.0, e * (1 + 1e-12)]), gp, lr, rho)
    assert ch[0] < 0 < ch[1]
    assert np.all(sam_loss_change(lam, np.zeros(3), lr, rho) == 0)   # stationary point


# ---------------------------------------------------------------- trajectories

def test_usam_trajectory_diverges_exactly_at_the_threshold():
    lr = np.array([0.1, 0.01, 1.0, 2.0, 0.3])
    rho = np.array([0.05, 1.0, 1e-3, 10.0, 0.0])
    edge = usam_threshold(lr, rho)
    found = locate_threshold(usam_quadratic_map(lr[:, None], rho[:, None]), 0.5 * edge, 2.0 * edge, [1.0],
                             steps=400, rtol=1e-13)
    assert np.max(np.abs(found / edge - 1)) < 1e-12, found / edge - 1


def test_sam_trajectory_diverges_exactly_at_the_sam_edge():
    """Normalized SAM on l = b theta_1 + lam/2 theta_2^2: the flat direction holds |g| = |b| fixed.

    The curved coordinate starts at 1e-250, so |g| equals |b| in floating point
    throughout and SAM's multiplier along theta_2 is 1 - lr lam (1 + rho lam/|b|):
    the literal normalized iteration must turn from decay to growth at
    sam_threshold(lr, rho, |b|).
    """
    lr = np.array([0.1, 0.02, 1.0, 0.5])
    rho = np.array([0.05, 0.5, 1e-3, 2.0])
    b = np.array([1.0, 0.3, 4.0, 1e-3])
    edge = sam_threshold(lr, rho, b)

    found = locate_threshold(sam_quadratic_map(lr[:, None], rho[:, None], b), 0.8 * edge, 1.25 * edge, [0.0, 1e-250], steps=300,
                             size=lambda s: np.abs(s[:, 1]), rtol=1e-13)
    assert np.max(np.abs(found / edge - 1)) < 1e-12, found / edge - 1
    # the same map with rho = 0 is GD: the edge is 2/lr
    assert np.allclose(sam_threshold(lr, 0.0, b), 2 / lr, rtol=0)


def test_one_sam_step_on_a_quadratic_multiplies_each_direction_by_the_step_factor():
    rng = np.random.default_rng(3)
    q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    lam = np.array([0.5, 1.0, 3.0, 8.0, 15.0, 30.0])
    hess = (q * lam) @ q.T
    theta = q @ rng.standard_normal(6)
    lr, rho = 0.08, 0.3
    g = hess @ theta
    after = sam_update(theta, lambda t: t @ hess.T, lr, rho)
    ratio = (q.T @ after) / (q.T @ theta)
    factor = sam_step_factor(lam, lr, rho, np.linalg.norm(g))
    assert np.allclose(ratio, factor, rtol=1e-9, atol=1e-12)
    edge = sam_threshold(lr, rho, np.linalg.norm(g))
    assert np.array_equal(np.abs(ratio) > 1, lam > edge)
    assert 0 < edge < 2 / lr and (lam > edge).any() and (lam < edge).any()


def test_usam_edge_holds_on_a_multidimensional_quadratic():
    """Only the directions above usam_threshold grow under the literal USAM iteration."""
    rng = np.random.default_rng(11)
    q, _ = np.linalg.qr(rng.standard_normal((5, 5)))
    lr, rho = 0.1, 0.2
    edge = usam_threshold(lr, rho)
    lam = edge * np.array([0.3, 0.9, 0.999, 1.001, 1.01])  # mild growth: no leakage by rounding
    hess = (q * lam) @ q.T
    theta = q @ np.ones(5) * 1e-30
    for _ in range(400):
        theta = usam_update(theta, lambda t: hess @ t, lr, rho)
    comp = np.abs(q.T @ theta) / 1e-30
    assert np.array_equal(comp > 1, lam > edge)


def test_docstring_examples():
    assert doctest.testmod(theory.sam, optionflags=doctest.NORMALIZE_WHITESPACE).failed == 0


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("call, name", [
    (lambda: usam_threshold(0.0, 1.0), "lr"),
    (lambda: usam_threshold(-0.1, 1.0), "lr"),
    (lambda: usam_threshold(np.inf, 1.0), "lr"),
    (lambda: usam_threshold(0.1, -1.0), "rho"),
    (lambda: usam_threshold(0.1, np.nan), "rho"),
    (lambda: sam_threshold(0.1, -1e-3, 1.0), "rho"),
    (lambda: sam_threshold(0.1, 1.0, -1.0), "grad_norm"),
    (lambda: sam_threshold(0.1, np.inf, np.inf), "grad_norm"),
    (lambda: sam_threshold(0.0, 1.0, 1.0), "lr"),
    (lambda: usam_step_factor(np.inf, 0.1, 1.0), "lam"),
    (lambda: usam_step_factor(1.0, 0.1, -1.0), "rho"),
    (lambda: sam_step_factor(1.0, 0.1, 1.0, 0.0), "grad_norm"),
    (lambda: usam_loss_change(1.0, 1.0, 0.1, -0.5), "rho"),
    (lambda: sam_loss_change([1.0], [1.0], 0.1, 1.0, grad_norm=-1.0), "grad_norm"),
    (lambda: sam_loss_change(1.0, 1.0, 0.1, 1.0), "grad_proj"),
])
def test_bad_input_names_the_parameter(call, name):
    with pytest.raises(DomainError, match=rf"^{name} must"):
        call()


def test_rho_error_is_a_value_error_with_the_offending_value():
    with pytest.raises(ValueError, match=r"^rho must be >= 0; got -0\.5$"):
        usam_threshold(0.1, -0.5)
    with pytest.raises(TypeError, match="rho must be"):
        usam_threshold(0.1, "0.5")


def test_locate_threshold_refuses_a_bracket_without_the_edge():
    step = usam_quadratic_map(0.1, 0.0)   # GD: edge 20
    with pytest.raises(DomainError, match="decay at lo and growth at hi.*rows \\[0\\]"):
        locate_threshold(step, [21.0], [30.0], [1.0])
    with pytest.raises(DomainError, match="hi must be > lo"):
        locate_threshold(step, 30.0, 10.0, [1.0])
    assert locate_threshold(step, 10.0, 30.0, [1.0], rtol=1e-14) == pytest.approx(20.0, rel=1e-13)


@pytest.mark.parametrize("update", [usam_update, sam_update])
@pytest.mark.parametrize("kw, name, exc", [
    (dict(rho=-1.0), "rho", DomainError),
    (dict(lr=-1.0), "lr", DomainError),
    (dict(lr=np.nan), "lr", DomainError),
    (dict(lr=1 + 1j), "lr", TypeError),
    (dict(rho=np.array([object()])), "rho", TypeError),
    (dict(theta=np.array([1.0, np.nan])), "theta", DomainError),
    (dict(lr=True), "lr", TypeError),
    (dict(grad=3.0), "grad", TypeError),
    (dict(grad=lambda t: t[..., :1]), "grad", DomainError),
])
def test_sam_updates_refuse_bad_input_by_name(update, kw, name, exc):
    """Issue 12: negative radius, negative or NaN lr, complex and object values were accepted."""
    args = dict(theta=np.ones((2, 3)), grad=lambda t: 2 * t, lr=0.1, rho=0.05)
    args.update(kw)
    with pytest.raises(exc, match=rf"^{name} must"):
        update(**args)


def test_sam_update_broadcast_mismatch_names_the_parameters():
    with pytest.raises(DomainError, match=r"theta \(shape \(2, 3\)\) and lr \(shape \(4,\)\)"):
        sam_update(np.ones((2, 3)), lambda t: t, np.ones(4), 0.1)
    with pytest.raises(DomainError, match=r"lr \(shape \(3,\)\) and rho \(shape \(2,\)\)"):
        usam_threshold(np.ones(3) * 0.1, np.ones(2))


@settings(max_examples=100, deadline=None)
@given(st.floats(-300, 300), st.floats(-3, 3))
def test_sam_perturbation_has_length_rho_whatever_the_gradient_scale(log_scale, log_rho):
    """The normalised perturbation rho g/|g| is formed without over- or underflow of |g|."""
    scale, rho = 10.0**log_scale, 10.0**log_rho
    direction = np.array([3.0, -4.0])
    seen = []

    def grad(t):
        seen.append(t)
        return np.broadcast_to(scale * direction, t.shape) if len(seen) == 1 else np.zeros_like(t)

    sam_update(np.zeros(2), grad, 0.1, rho)
    e = seen[1]
    assert np.allclose(e, rho * direction / 5.0, rtol=1e-14, atol=0)
