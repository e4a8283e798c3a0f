"""theory.quadratic: exactness against mpmath, consistency of the forms, limits, bad input."""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theory import DomainError
from theory.quadratic import (
    analyse_step,
    expected_loss,
    expected_loss_change,
    gd_loss_factor,
    gd_threshold,
    stationary_loss,
)
from theory.vgd import vgd_threshold

# local names kept where a test uses them: hypothesis derives its examples from the test's source
from reference import assert_ulp
from reference import mp_expected_loss_change as mp_change
from reference import ulp_error as rel_ulps

EPS = np.finfo(float).eps


# ------------------------------------------------------- expected change

@settings(max_examples=300, deadline=None)
@given(lam=st.floats(1e-6, 1e6), g=st.floats(-1e6, 1e6).filter(lambda x: x != 0), lr=st.floats(1e-6, 10),
       sigma=st.floats(0, 1e3), ns=st.integers(1, 1000), dof=st.one_of(st.just(np.inf), st.floats(2.1, 1e3)))
def test_expected_change_is_correctly_rounded(lam, g, lr, sigma, ns, dof):
    got = expected_loss_change(lam, g, lr, sigma, ns, dof=dof)
    assert rel_ulps(got, mp_change(lam, g, lr, sigma, ns)) <= 1.0  # sigma is the standard deviation for every dof


def test_expected_change_near_the_threshold_keeps_full_relative_accuracy():
    """At eigenvalues within 1e-14 of the threshold the two terms cancel to 1e-14 and
    naive float arithmetic loses every digit; the result here is still correct to an ulp."""
    rng = np.random.default_rng(7)
    g, lr, sigma, ns = 0.7, 0.1, 0.05, 3
    star = vgd_threshold(lr, sigma, g * g, ns)
    lams = star * (1 + rng.uniform(-1e-14, 1e-14, 300))
    got = expected_loss_change(lams, g, lr, sigma, ns)
    exact = [mp_change(x, g, lr, sigma, ns) for x in lams]
    assert_ulp(got, exact, 1.0, inputs={"lam": lams})
    assert all(np.sign(a) == mp.sign(b) for a, b in zip(got, exact))
    naive = lr / 2 * (g * g * (lr * lams - 2) + lr * lams**3 * sigma**2 / ns)
    assert max(rel_ulps(a, b) for a, b in zip(naive, exact)) > 1e3  # what exactness buys


def test_expected_change_extreme_magnitudes():
    # products over- and underflow inside; the result is representable: exact path
    cases = [(1e200, 1e-150, 1e-190, 1e-50, 1), (1e-200, 1e120, 1.0, 1e80, 7), (3.0, 1e-170, 1e-3, 1e-160, 2)]
    for lam, g, lr, sigma, ns in cases:
        got = expected_loss_change(lam, g, lr, sigma, ns)
        assert rel_ulps(got, mp_change(lam, g, lr, sigma, ns)) <= 1.0


def test_expected_change_sign_matches_threshold():
    lr, sigma, ns = 0.1, 0.1, 2
    g = np.array([0.2, 1.0, 3.0])
    star = vgd_threshold(lr, sigma, g**2, ns)
    for f in (0.5, 0.99, 1.01, 1.5):
        lam = star * f
        assert np.all(np.sign(expected_loss_change(lam, g, lr, sigma, ns)) == (1 if f > 1 else -1))


def test_gd_case_and_limits():
    lam = np.array([1.0, 10.0, 16.0, 30.0])  # lr = 1/8: 2/lr = 16 exactly
    assert np.array_equal(np.sign(expected_loss_change(lam, 1.0, 0.125)), [-1, -1, 0, 1])
    # 0.1 is not exactly 1/10: 0.1 * 20 exceeds 2 by 1.1e-16, and the exact change is positive
    assert expected_loss_change(20.0, 1.0, 0.1) == pytest.approx(float(mp_change(20.0, 1.0, 0.1, 0.0, 1)), rel=EPS)
    assert expected_loss_change(20.0, 1.0, 0.1) > 0
    assert expected_loss_change(0.0, 0.0, 0.1, 1.0) == 0.0
    assert expected_loss_change(2.0, 1.0, 0.1, np.inf) == np.inf
    assert expected_loss_change(-2.0, 1.0, 0.1, np.inf) == -np.inf
    assert expected_loss_change(0.0, 0.0, 0.1, np.inf) == 0.0
    # at equal sigma (a standard deviation) every dof gives the Gaussian result
    assert expected_loss_change(5.0, 1.0, 0.1, 0.3, 2, dof=1e12) == expected_loss_change(5.0, 1.0, 0.1, 0.3, 2)


@settings(max_examples=200, deadline=None)
@given(lam=st.floats(-1e3, 1e3), g=st.floats(-1e3, 1e3), lr=st.floats(1e-3, 1.0), sigma=st.floats(0, 10),
       ns=st.integers(1, 100), steps=st.integers(0, 50), dof=st.floats(2.0, 1e6, exclude_min=True))
def test_student_t_at_equal_sigma_is_the_gaussian_bit_for_bit(lam, g, lr, sigma, ns, steps, dof):
    g = 0.0 if lam == 0 else g
    assert expected_loss_change(lam, g, lr, sigma, ns, dof=dof) == expected_loss_change(lam, g, lr, sigma, ns)
    mu = 0.0 if lam == 0 else g / lam
    a, b = expected_loss(lam, mu, lr, steps, sigma, ns, dof=dof), expected_loss(lam, mu, lr, steps, sigma, ns)
    assert a == b or (np.isnan(a) and np.isnan(b))
    if 0 <= lam < 1.9 / lr:
        assert stationary_loss(lam, lr, sigma, ns, dof=dof) == stationary_loss(lam, lr, sigma, ns)


def test_student_t_new_sigma_is_the_old_scale_times_the_variance_ratio():
    # Formerly sigma was the Student-t scale s, of variance s^2 nu / (nu - 2); now sigma is the standard
    # deviation, so new(sigma, nu) = old(sigma sqrt((nu - 2) / nu), nu). At nu = 9/4 the ratio is 1/9 and the
    # scales 1/4, 1/2, 1 of sigma = 3/4, 3/2, 3 are exact: the new value is the old one correctly rounded.
    lam, g, lr, ns, dof = np.array([0.5, 5.0, 12.0, 19.0]), np.array([0.3, 1.0, -0.4, 0.2]), 0.1, 4, 2.25
    for sigma, scale in ((0.75, 0.25), (1.5, 0.5), (3.0, 1.0)):
        old_sd = mp.mpf(scale) * mp.sqrt(mp.mpf(dof) / (mp.mpf(dof) - 2))  # the old effective sigma, exactly
        old = [mp_change(x, y, lr, old_sd, ns) for x, y in zip(lam, g)]
        assert_ulp(expected_loss_change(lam, g, lr, sigma, ns, dof=dof), old, 1.0, inputs={"lam": lam})
    assert expected_loss_change(lam, g, lr, 0.05, ns, dof=np.array([[3.0], [np.inf]])).shape == (2, 4)


# ------------------------------------------------------- full-matrix form

def random_problem(seed, p=6):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(p, p))
    return a @ a.T / p + 0.1 * np.eye(p), rng.normal(size=p)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("sigma, ns, dof", [(0.0, 1, np.inf), (0.2, 3, np.inf), (0.2, 3, 5.0)])
def test_matrix_form_agrees_with_the_formula_without_diagonalisation(seed, sigma, ns, dof):
    q, m = random_problem(seed)
    lr = 0.7 / np.linalg.eigvalsh(q).max()
    res = analyse_step(q, m, lr, sigma, ns, dof=dof)
    var = sigma**2  # the perturbation's variance, for every dof
    q2 = q @ q
    total = 0.5 * m @ (lr**2 * q2 @ q - 2 * lr * q2) @ m + lr**2 * var * np.trace(q2 @ q) / (2 * ns)
    assert res.total_change == pytest.approx(total, rel=1e-12, abs=1e-14)
    assert np.allclose(res.eigvecs @ res.grad_proj, q @ m)
    assert np.array_equal(res.descending, res.eigvals < res.threshold)


def test_matrix_form_batches_means_and_checks_shapes():
    q, m = random_problem(0, p=4)
    res = analyse_step(q, np.stack([m, 2 * m]), 0.1, 0.1)
    assert res.change.shape == (2, 4) and res.total_change.shape == (2,)
    with pytest.raises(DomainError, match="hessian must be a square matrix"):
        analyse_step(np.ones((3, 4)), np.ones(3), 0.1)
    with pytest.raises(DomainError, match="hessian must be symmetric"):
        analyse_step(np.array([[1.0, 2.0], [0.0, 1.0]]), np.ones(2), 0.1)
    with pytest.raises(DomainError, match=r"mean must have shape \(\.\.\., 4\)"):
        analyse_step(q, np.ones(3), 0.1)


# ------------------------------------------------------- many steps

@settings(max_examples=200, deadline=None)
@given(lam=st.floats(1e-3, 40), m0=st.floats(-10, 10), lr=st.floats(1e-3, 0.1), sigma=st.floats(0, 2),
       ns=st.integers(1, 20), t=st.integers(0, 400), v0=st.floats(0, 2))
def test_expected_loss_matches_the_recursion_in_mpmath(lam, m0, lr, sigma, ns, t, v0):
    got = expected_loss(lam, m0, lr, t, sigma, ns, init_var=v0)
    with mp.workdps(60):
        a2 = (1 - mp.mpf(lr) * lam) ** 2
        c = mp.mpf(lr) ** 2 * mp.mpf(lam) ** 2 * mp.mpf(sigma) ** 2 / ns
        second = mp.mpf(m0) ** 2 + mp.mpf(v0)
        power = a2**t
        geometric = t if a2 == 1 else (1 - power) / (1 - a2)
        exact = mp.mpf(lam) / 2 * (power * second + c * geometric)
    log_size = abs(float(mp.log(power))) if power > 0 else 0.0
    # a (2t)-th power amplifies the rounding of its base: allow (1 + |log a^2t|) ulp, times a small constant
    assert rel_ulps(got, exact) <= 8 * (1 + log_size)


def test_expected_loss_steps_and_limits():
    lam = np.array([1.0, 8.0, 15.0])
    traj = expected_loss(lam, [1.0, 0.5, 0.2], 0.1, np.arange(6)[:, None], 0.2, 2)
    assert traj.shape == (6, 3)
    assert np.allclose(traj[0], 0.5 * lam * np.array([1.0, 0.25, 0.04]))
    # the recursion, one step at a time
    for t in range(5):
        a2 = (1 - 0.1 * lam) ** 2
        expect = a2 * traj[t] + 0.5 * lam * 0.1**2 * lam**2 * 0.2**2 / 2
        assert np.allclose(traj[t + 1], expect, rtol=1e-14)
    far = expected_loss(lam, [1.0, 0.5, 0.2], 0.1, 100_000, 0.2, 2)
    assert np.allclose(far, stationary_loss(lam, 0.1, 0.2, 2), rtol=1e-13)
    # at 2/lr the mean neither grows nor shrinks: E grows linearly from the noise
    assert expected_loss(16.0, 1.0, 0.125, [0, 1, 2], 0.1) == pytest.approx(
        8 * (1 + 4 * 0.01 * np.arange(3)), rel=1e-14)
    # 0.1 * 20 is 2 + 1.1e-16 in exact arithmetic: a^2 = 1 + 4.4e-16, still linear growth to 1e-15
    assert expected_loss(20.0, 1.0, 0.1, [0, 1, 2], 0.1) == pytest.approx(
        10 * (1 + 4 * 0.01 * np.arange(3)), rel=1e-14)
    assert expected_loss(21.0, 0.0, 0.1, 10**6, 0.1) == np.inf
    assert expected_loss(21.0, 0.0, 0.1, 10**6) == 0.0  # zero start, no noise: stays at the minimum
    assert expected_loss(8.0, 1.0, 0.125, 3) == 0.0  # lr*lam = 1: one GD step lands on the minimum


def test_stationary_loss():
    assert stationary_loss(5.0, 0.1, 0.2, 4) == pytest.approx(0.1 * 25 * 0.04 / (2 * 4 * 1.5), rel=EPS)
    assert stationary_loss(5.0, 0.1, 0.2, 4, dof=4.0) == stationary_loss(5.0, 0.1, 0.2, 4)  # sigma: the sd
    assert stationary_loss(0.0, 0.1, 0.2) == 0.0
    with pytest.raises(DomainError, match="eigvals must be in \\[0, 2/lr\\)"):
        stationary_loss(16.0, 0.125, 0.1)
    with pytest.raises(DomainError, match="eigvals must be"):
        stationary_loss(-1.0, 0.125, 0.1)


def test_gd_threshold_and_factor():
    assert gd_threshold(0.1) == 20.0 and isinstance(gd_threshold(0.1), float)
    assert gd_threshold(1e-310) == np.inf or gd_threshold(1e-310) > 1e308
    f = gd_loss_factor(np.array([1.0, 16.0, 17.0, -1.0]), 0.125)
    assert f[0] < 1 and f[1] == 1.0 and f[2] > 1 and f[3] > 1


@pytest.mark.parametrize("call, name", [
    (lambda: expected_loss_change(1.0, 1.0, 0.0), "lr"),
    (lambda: expected_loss_change(1.0, 1.0, 0.1, -0.1), "sigma"),
    (lambda: expected_loss_change(1.0, 1.0, 0.1, 0.1, 0), "n_samples"),
    (lambda: expected_loss_change(np.nan, 1.0, 0.1), "eigvals"),
    (lambda: expected_loss_change(np.inf, 1.0, 0.1), "eigvals"),
    (lambda: expected_loss_change(0.0, 1.0, 0.1), "grad_proj"),
    (lambda: expected_loss_change(1.0, 1.0, 0.1, 0.1, dof=2.0), "dof"),
    (lambda: expected_loss(1.0, 1.0, 0.1, -1), "steps"),
    (lambda: expected_loss(1.0, 1.0, 0.1, 1.5), "steps"),
    (lambda: expected_loss(1.0, 1.0, 0.1, 1, init_var=-1.0), "init_var"),
    (lambda: gd_threshold(-1.0), "lr"),
])
def test_bad_input(call, name):
    with pytest.raises(DomainError, match=rf"^{name} must be"):
        call()


def _mp_expected_loss(lam, mu, lr, t, sigma, ns=1, v0=0.0):
    with mp.workdps(60):
        lam, mu, lr, sigma, v0 = (mp.mpf(x) for x in (lam, mu, lr, sigma, v0))
        a2 = (1 - lr * lam) ** 2
        geometric = t if a2 == 1 else (a2**t - 1) / (a2 - 1)
        return lam / 2 * (a2**t * (mu**2 + v0) + lr**2 * lam**2 * sigma**2 / ns * geometric)


def test_expected_loss_beyond_the_float_range_is_its_limit_not_nan():
    """Issue 12: a^{2t} and the geometric sum overflow (inf/inf) while the loss is +inf."""
    assert expected_loss(1e200, 1.0, 1.0, 5, 0.5) == np.inf
    assert expected_loss(-1e200, 1.0, 1.0, 5, 0.5) == -np.inf
    # lr * lam overflows: finite at t = 0, inf after
    assert list(expected_loss(1e300, 1.0, 1e300, [0, 1, 2], 0.5)) == [5e299, np.inf, np.inf]
    # underflowing factors that the eigenvalue brings back into range
    got = expected_loss(1e300, 1e-170, 1e-310, 3, 0.0)
    assert rel_ulps(got, _mp_expected_loss(1e300, 1e-170, 1e-310, 3, 0.0)) <= 4
    got = expected_loss(1e300, 0.0, 1e-301, 2, 1e-150)
    assert rel_ulps(got, _mp_expected_loss(1e300, 0.0, 1e-301, 2, 1e-150)) <= 4


@settings(max_examples=200, deadline=None)
@given(st.floats(-300, 300), st.floats(-200, 200), st.floats(-300, 300), st.integers(0, 60),
       st.floats(-200, 200), st.booleans())
def test_expected_loss_is_never_nan_and_matches_mpmath_over_the_float_range(
        log_lam, log_mu, log_lr, t, log_sigma, negative):
    lam = (-1.0 if negative else 1.0) * 10.0**log_lam
    mu, lr, sigma = 10.0**log_mu, 10.0**log_lr, 10.0**log_sigma
    got = expected_loss(lam, mu, lr, t, sigma)
    assert not np.isnan(got)
    want = _mp_expected_loss(lam, mu, lr, t, sigma)
    if abs(want) > mp.mpf(np.finfo(float).max):
        assert got == np.copysign(np.inf, lam)
    elif abs(want) > mp.mpf(2.0**-1000):
        # the 2t-th power's conditioning: about (1 + |t log a^2|) ulp
        with mp.workdps(30):
            cond = 1 + abs(t * mp.log((1 - mp.mpf(lr) * mp.mpf(lam)) ** 2)) if lr * lam != 1 else 1
        assert rel_ulps(got, want) <= 8 * float(cond) + 8


def test_quadratic_broadcast_mismatches_name_the_parameters():
    with pytest.raises(DomainError, match=r"eigvals \(shape \(3,\)\) and grad_proj \(shape \(2,\)\)"):
        expected_loss_change([1.0, 2.0, 3.0], [1.0, 2.0], 0.1)
    with pytest.raises(DomainError, match=r"mean_proj \(shape \(3,\)\)"):
        expected_loss([1.0, 2.0], [1.0, 2.0, 3.0], 0.1, 3)
    with pytest.raises(DomainError, match=r"lr \(shape \(3,\)\)"):
        stationary_loss([1.0, 2.0], [0.1, 0.2, 0.3], 0.5)
    with pytest.raises(TypeError, match="^lr must be a scalar"):
        analyse_step(np.eye(2), [1.0, 1.0], np.array([0.1, 0.2]))
    with pytest.raises(TypeError, match="^lr must be a real number, not a bool"):
        expected_loss(1.0, 1.0, True, 3)
    with pytest.raises(DomainError, match="^hessian must be a square matrix"):
        analyse_step(np.zeros((0, 0)), np.zeros(0), 0.1)
