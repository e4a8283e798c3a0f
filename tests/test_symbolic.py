"""theory.symbolic: the sympy derivations, and the numeric modules checked against them."""

from __future__ import annotations

import subprocess
import sys

import mpmath as mp
import numpy as np
import pytest
import sympy as sp
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from theory import quadratic, symbolic
from theory.vgd import perturbation_variance, variational_factor, vgd_threshold

from reference import log_uniform, signed_log_uniform

EPS = np.finfo(float).eps
DPS = 50
S = symbolic.symbols()
HYP = settings(max_examples=100, deadline=None)


@pytest.fixture(scope="module")
def mpf():
    """The derived expressions as mpmath callables (derivations run once per module)."""
    return symbolic.lambdify_all("mpmath")


def at50(f, *args):
    """Evaluate ``f`` at DPS digits with the float inputs taken exactly."""
    with mp.workdps(DPS):
        return f(*(mp.mpf(a) for a in args))


signed = signed_log_uniform(1e-6, 1e3)
lams = log_uniform(1e-3, 1e3)
lrs = log_uniform(1e-4, 1.0)
sigmas = log_uniform(1e-4, 1e2)
n_samples = st.integers(1, 10_000)
dofs = st.floats(2.01, 200.0)


def change_terms(lam, g, lr, sigma_sq, ns):
    """|lr g^2 (lr lam - 2)/2| + lr^2 lam^3 sigma^2/(2 Ns): the scale of the two cancelling terms."""
    with mp.workdps(DPS):
        lam, g, lr, sigma_sq = (mp.mpf(a) for a in (lam, g, lr, sigma_sq))
        return abs(lr * g**2 * (lr * lam - 2)) / 2 + lr**2 * lam**3 * sigma_sq / (2 * ns)


def assert_close_to_reference(got, exact, terms, rel=4 * EPS):
    """``got`` within ``rel`` of the 50-digit reference ``exact``.

    The numeric side is exactly rounded (double-double with an exact fallback),
    so the tolerance is relative to the value itself, even where the two terms
    cancel. The reference is only known to about 1e-50 of the terms it was
    computed from, so an absolute floor of 1e-45 * terms is added: it matters
    only when the exact value is (nearly) zero, e.g. at a representable root.
    """
    err = abs(mp.mpf(got) - exact)
    assert err <= rel * abs(exact) + mp.mpf("1e-45") * terms, (got, exact, terms)


# ---------------------------------------------------------------- symbolic identities

def test_expected_change_is_derived_and_equals_the_stated_form():
    derived = symbolic.expected_loss_change()
    assert not derived.has(S.m)  # m was eliminated in favour of g = lam m
    assert derived.has(S.sigma) and derived.has(S.Ns)
    stated = S.lr / 2 * (S.g**2 * (S.lr * S.lam - 2) + S.lr * S.lam**3 * S.sigma**2 / S.Ns)
    assert sp.simplify(derived - stated) == 0
    # a wrong variance (sigma^2 instead of sigma^2/Ns) is told apart
    wrong = S.lr / 2 * (S.g**2 * (S.lr * S.lam - 2) + S.lr * S.lam**3 * S.sigma**2)
    assert sp.simplify(derived - wrong) != 0


def test_verify_reports_every_derivation_true():
    result = symbolic.verify()
    assert set(result) == set(symbolic.stated_forms()) | {"threshold_root"}
    assert all(result.values()), result


def test_threshold_cubic_sign_is_the_sign_of_the_change():
    cubic = symbolic.threshold_cubic()
    assert sp.Poly(cubic, S.lam).all_coeffs() == [1, 0, S.z, -2 * S.z / S.lr]
    # change = lr^2 sigma^2/(2 Ns) * cubic with z = Ns g^2/sigma^2
    back = cubic.subs(S.z, S.Ns * S.g**2 / S.sigma**2) * S.lr**2 * S.sigma**2 / (2 * S.Ns)
    assert sp.simplify(back - symbolic.expected_loss_change()) == 0


def test_closed_form_is_a_root_of_the_cubic():
    assert symbolic.threshold_root_residual() == 0
    # and the same by direct substitution and simplification
    vf = symbolic.variational_factor_closed_form()
    assert sp.simplify(symbolic.threshold_cubic().subs(S.lam, 2 * vf / S.lr)) == 0
    # a slightly different closed form is not a root
    wrong = symbolic.threshold_cubic().subs(S.lam, 2 * vf.subs(S.z, 2 * S.z) / S.lr)
    assert abs(wrong.subs({S.z: 1, S.lr: sp.Rational(1, 10)}).evalf(30)) > 1


def test_closed_form_spot_values():
    vf = symbolic.variational_factor_closed_form()
    assert abs(vf.subs({S.z: 100, S.lr: sp.Rational(1, 10)}).evalf(60) - sp.Rational(1, 2)) < 1e-55
    # the reference value is at the float lr = 0.1 (0.1000000000000000055...), which moves the 18th digit
    value = vf.subs({S.z: 1, S.lr: sp.Rational(0.1)}).evalf(40)
    assert abs(value - sp.Float("0.12958520620959297638", 40)) < 1e-20


def test_scaled_cubic_is_the_lambda_cubic_under_lambda_equals_2x_over_lr():
    scaled = symbolic.scaled_cubic()
    assert sp.expand(scaled - (S.x**3 + S.w * S.x - S.w)) == 0
    # lam-cubic at lam = 2x/lr equals (8/lr^3) * scaled cubic at w = z lr^2/4
    lam_cubic = symbolic.threshold_cubic().subs(S.lam, 2 * S.x / S.lr)
    assert sp.simplify(lam_cubic - 8 / S.lr**3 * scaled.subs(S.w, S.z * S.lr**2 / 4)) == 0
    # a different scaling (lam = x/lr) does not give it
    other = symbolic.threshold_cubic().subs(S.lam, S.x / S.lr)
    assert sp.simplify(other - 8 / S.lr**3 * scaled.subs(S.w, S.z * S.lr**2 / 4)) != 0


def test_student_t_variance_and_change_are_derived():
    var = symbolic.student_t_variance()
    assert sp.simplify(var - S.scale**2 * S.nu / (S.nu - 2)) == 0
    change = symbolic.student_t_expected_change()
    # sigma is the standard deviation: only the variance enters, so the result is the Gaussian one
    # (this also checks the moment route against sympy.stats.E) and does not depend on nu
    gaussian = symbolic.expected_loss_change()
    assert sp.simplify(change - gaussian) == 0 and not change.has(S.nu)
    # at the scale s, the standard deviation is sqrt(var): the Gaussian with sigma^2 -> s^2 nu / (nu - 2)
    assert sp.simplify(gaussian.subs(S.sigma, sp.sqrt(var)).subs(S.scale, S.sigma * sp.sqrt((S.nu - 2) / S.nu))
                       - change) == 0


def test_solved_recursion_satisfies_recursion_and_initial_condition():
    rec = symbolic.second_moment_recursion()
    sol = rec.solution
    assert sp.simplify(sol.subs(S.t, 0) - (S.m0**2 + S.v0)) == 0
    assert sp.simplify(sol.subs(S.t, S.t + 1) - (rec.a2 * sol + rec.c)) == 0
    assert sp.expand(rec.a2 - (1 - S.lr * S.lam) ** 2) == 0
    assert sp.simplify(rec.c - S.lr**2 * S.lam**2 * S.sigma**2 / S.Ns) == 0
    # E[l_1] - l_0 from the recursion is the one-step expected change (m0 = g/lam, v0 = 0)
    one_step = symbolic.expected_loss_after(1) - S.lam * S.m0**2 / 2
    one_step = one_step.subs({S.v0: 0, S.m0: S.g / S.lam})
    assert sp.simplify(one_step - symbolic.expected_loss_change()) == 0


def test_stationary_loss_is_the_limit():
    stated = S.lr * S.lam**2 * S.sigma**2 / (2 * S.Ns * (2 - S.lr * S.lam))
    assert sp.simplify(symbolic.stationary_loss() - stated) == 0
    assert not symbolic.stationary_loss().has(S.m0)


def test_importing_theory_does_not_import_sympy():
    code = "import sys, theory, theory.vgd, theory.quadratic; print('sympy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------- numeric functions against the derivation

@HYP
@given(lam=lams, g=signed, lr=lrs, sigma=sigmas, ns=n_samples)
def test_expected_loss_change_matches_derivation(mpf, lam, g, lr, sigma, ns):
    got = quadratic.expected_loss_change(lam, g, lr, sigma, ns)
    exact = at50(mpf["expected_loss_change"], lam, g, lr, sigma, ns)
    assert_close_to_reference(got, exact, change_terms(lam, g, lr, sigma**2, ns))


@HYP
@given(g=signed, lr=lrs, sigma=sigmas, ns=n_samples, k=st.integers(-6, 6))
def test_expected_loss_change_near_the_sign_change(mpf, g, lr, sigma, ns, k):
    """At lam within a few ulp of the threshold the two terms cancel to ~1e-16 of their size."""
    lam = float(vgd_threshold(lr, sigma, g * g, ns))
    for _ in range(abs(k)):
        lam = np.nextafter(lam, np.inf if k > 0 else 0.0)
    lam = float(lam)
    got = quadratic.expected_loss_change(lam, g, lr, sigma, ns)
    exact = at50(mpf["expected_loss_change"], lam, g, lr, sigma, ns)
    terms = change_terms(lam, g, lr, sigma**2, ns)
    assert_close_to_reference(got, exact, terms)
    if abs(exact) > mp.mpf("1e-40") * terms:
        assert np.sign(got) == np.sign(float(exact))


@HYP
@given(lam=lams, g=signed, lr=lrs, sigma=sigmas, ns=n_samples, nu=dofs)
def test_student_t_change_matches_derivation(mpf, lam, g, lr, sigma, ns, nu):
    got = quadratic.expected_loss_change(lam, g, lr, sigma, ns, dof=nu)
    exact = at50(mpf["student_t_expected_change"], lam, g, lr, sigma, ns, nu)
    terms = change_terms(lam, g, lr, sigma**2, ns)  # sigma is the standard deviation for every dof
    assert_close_to_reference(got, exact, terms)


@HYP
@given(sigma=sigmas, nu=dofs)
def test_perturbation_variance_matches_derivation(mpf, sigma, nu):
    got = perturbation_variance(sigma, nu)
    exact = at50(mpf["student_t_variance"], sigma, nu)
    assert abs(mp.mpf(got) - exact) <= 4 * EPS * exact + mp.mpf(2) ** -1074


@HYP
@given(g=signed, lr=lrs, sigma=sigmas, ns=n_samples)
def test_vgd_threshold_is_the_root_of_the_derived_cubic(mpf, g, lr, sigma, ns):
    c = g * g
    lam = float(vgd_threshold(lr, sigma, c, ns))
    with mp.workdps(DPS):
        z = mp.mpf(ns) * mp.mpf(c) / mp.mpf(sigma) ** 2
        lam_m, lr_m = mp.mpf(lam), mp.mpf(lr)
        residual = mpf["threshold_cubic"](lam_m, z, lr_m)
        terms = lam_m**3 + z * lam_m + 2 * z / lr_m
        closed = 2 * mpf["variational_factor"](z, lr_m) / lr_m
        assert abs(closed - mpf["threshold"](z, lr_m)) <= mp.mpf("1e-45") * closed
    # lam is within about an ulp of the root; the cubic's slope 3 lam^2 + z turns that
    # into a residual of a few eps times the size of its terms
    assert abs(residual) <= 8 * EPS * terms
    assert abs(lam_m - closed) <= 2 * EPS * closed


@HYP
@given(z=log_uniform(1e-12, 1e12), lr=log_uniform(1e-4, 10.0))
def test_variational_factor_solves_the_scaled_cubic(mpf, z, lr):
    x = float(variational_factor(z, lr))
    with mp.workdps(DPS):
        w = mp.mpf(z) * mp.mpf(lr) ** 2 / 4
        residual = mpf["scaled_cubic"](mp.mpf(x), w)
        exact = mpf["variational_factor"](mp.mpf(z), mp.mpf(lr))
    assert abs(residual) <= 8 * EPS * (x**3 + 2 * w)
    assert abs(x - exact) <= 2 * EPS * exact


def test_numpy_callables_vectorise():
    f = symbolic.lambdify_all("numpy")
    z = np.logspace(-3, 6, 50)
    lr = 0.05
    np.testing.assert_allclose(f["variational_factor"](z, lr), variational_factor(z, lr), rtol=1e-12)
    np.testing.assert_allclose(f["threshold"](z, lr), 2 * variational_factor(z, lr) / lr, rtol=1e-12)
    lam = np.linspace(0.1, 30.0, 40)
    np.testing.assert_allclose(f["stationary_loss"](lam, lr, 0.3, 4),
                               quadratic.stationary_loss(lam, lr, 0.3, 4), rtol=1e-12)


@HYP
@given(u=st.floats(1e-3, 2.5), mu0=st.floats(-10, 10), lr=lrs, t=st.integers(0, 500),
       sigma=sigmas, ns=n_samples, nu=st.one_of(st.just(np.inf), dofs), v0=st.floats(0, 4))
def test_expected_loss_matches_solved_recursion(mpf, u, mu0, lr, t, sigma, ns, nu, v0):
    lam = u / lr  # lr * lam spans (0, 2.5): contracting and expanding directions
    with mp.workdps(DPS):
        a2 = (1 - mp.mpf(lr) * mp.mpf(lam)) ** 2
        assume(a2 != 1)  # the closed form is 0/0 there (its limit is t)
        var = mp.mpf(sigma) ** 2 if np.isinf(nu) else mpf["student_t_variance"](
            mp.mpf(sigma) * mp.sqrt((mp.mpf(nu) - 2) / mp.mpf(nu)), mp.mpf(nu))  # at the scale of sd sigma
        exact = mpf["expected_loss_after"](*(mp.mpf(a) for a in (lam, mu0, lr)), mp.sqrt(var),
                                           mp.mpf(ns), t, mp.mpf(v0))
        log_power = abs(t * mp.log(a2)) if a2 != 0 else 0
    got = quadratic.expected_loss(lam, mu0, lr, t, sigma, ns, dof=nu, init_var=v0)
    # a^(2t) is formed as exp(t log a^2): relative error about (1 + |t log a^2|) ulp;
    # below the normal range the float spacing is absolute (2**-1074)
    assert abs(mp.mpf(got) - exact) <= 4 * EPS * (2 + log_power) * exact + mp.mpf(2) ** -1074


@HYP
@given(u=st.floats(1e-6, 1.999), lr=lrs, sigma=sigmas, ns=n_samples, nu=st.one_of(st.just(np.inf), dofs))
def test_stationary_loss_matches_derivation(mpf, u, lr, sigma, ns, nu):
    lam = u / lr
    with mp.workdps(DPS):
        assume(mp.mpf(lr) * mp.mpf(lam) < 2)
        var = mp.mpf(sigma) ** 2 if np.isinf(nu) else mpf["student_t_variance"](
            mp.mpf(sigma) * mp.sqrt((mp.mpf(nu) - 2) / mp.mpf(nu)), mp.mpf(nu))  # at the scale of sd sigma
        exact = mpf["stationary_loss"](mp.mpf(lam), mp.mpf(lr), mp.sqrt(var), mp.mpf(ns))
        # the t -> inf limit of the solved recursion, reached numerically from m0 = 3
        late = mpf["expected_loss_after"](mp.mpf(lam), mp.mpf(3), mp.mpf(lr), mp.sqrt(var), mp.mpf(ns),
                                          10**9, mp.mpf(0))
    got = quadratic.stationary_loss(lam, lr, sigma, ns, dof=nu)
    assert abs(mp.mpf(got) - exact) <= 4 * EPS * exact + mp.mpf(2) ** -1074
    a2 = (1 - lr * lam) ** 2
    if a2 ** (10**9) < 1e-60:
        assert abs(late - exact) <= mp.mpf("1e-40") * exact
