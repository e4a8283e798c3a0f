"""theory.vgd: accuracy against mpmath, properties, limits, inverse problems, bad input."""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theory import DomainError
from theory.vgd import (
    max_sigma,
    min_n_samples,
    perturbation_scale,
    perturbation_variance,
    signal_to_noise,
    variational_factor,
    vgd_threshold,
)

from reference import assert_ulp, learning_rates, mp_vf, mp_vgd_threshold, positive_floats, ulp_error

EPS = np.finfo(float).eps
TINY = np.finfo(float).tiny


# ---------------------------------------------------------------- accuracy

def test_spot_values_at_40_digits():
    # 40-digit mpmath values; at float inputs the correctly rounded results.
    assert variational_factor(1.0, 0.1) == float(mp.mpf("0.12958520620959297638"))
    assert variational_factor(100.0, 0.1) == 0.5
    assert variational_factor(1e5, 2.0) == float(mp.mpf("0.99999000029998800055"))
    assert variational_factor(1e-300, 0.1) == pytest.approx(1.3572088082974533473e-101, rel=2 * EPS)


def test_accuracy_over_the_whole_range():
    """Correctly rounded (<= 0.5 ulp, up to ties) over z in [0, 1e308] incl. subnormals, lr in [1e-6, 1e2]."""
    rng = np.random.default_rng(12345)
    n = 3000
    z = 10.0 ** rng.uniform(-330, 308.2, n)
    z[:150] = rng.uniform(0, TINY, 150)  # subnormal z
    z[150:300] = 10.0 ** rng.uniform(-4, 4, 150)  # w near 1, the slowest Newton case
    lr = 10.0 ** rng.uniform(-6, 2, n)
    got = variational_factor(z, lr)
    assert_ulp(got, [mp_vf(a, b) for a, b in zip(z, lr)], 0.5 + 1e-6, inputs={"z": z, "lr": lr})


@pytest.mark.parametrize("z, lr", [
    (1e300, 1e2),      # z*lr^2 = 1e304: close to overflow
    (1.7e308, 1e2),    # z*lr^2 overflows
    (1e-300, 1e-6),    # z*lr^2 = 1e-312: subnormal
    (5e-324, 1e-6),    # smallest subnormal z, w underflows to 0 in float
    (5e-324, 1e2),
    (1e-320, 1.0),
    (2.0**-1022, 3.0),
])
def test_extremes_are_correctly_rounded(z, lr):
    assert ulp_error(variational_factor(z, lr), mp_vf(z, lr)) <= 0.5 + 1e-6


@pytest.mark.parametrize("z, lr", [(5e-324, 1e-6), (5e-324, 1e2), (1e-320, 1.0)])
def test_naive_closed_form_is_not_finite_at_subnormal_z(z, lr):
    # the reason the cubic is solved instead: 3/lr*sqrt(3/z) overflows
    with np.errstate(all="ignore"):
        naive = lr * np.sqrt(z / 3) * np.sinh(np.arcsinh((3 / lr) * np.sqrt(3 / z)) / 3)
    assert not np.isfinite(naive)
    assert np.isfinite(variational_factor(z, lr)) and variational_factor(z, lr) > 0


def test_limits_are_exact():
    assert variational_factor(0.0, 0.1) == 0.0
    assert variational_factor(np.inf, 0.1) == 1.0
    assert variational_factor(np.inf, 1e-300) == 1.0
    assert vgd_threshold(0.1, 0.0, 1.0) == 20.0          # sigma = 0: GD
    assert vgd_threshold(0.1, 0.0, 0.0) == 20.0          # sigma = 0: GD even with no gradient
    assert vgd_threshold(0.1, np.inf, 1.0) == 0.0
    assert vgd_threshold(0.1, 1.0, 0.0) == 0.0
    assert vgd_threshold(0.1, 1.0, np.inf) == 20.0


def test_threshold_never_forms_z():
    # z = Ns g^2 / sigma^2 = 1e400 overflows, but w = z lr^2 / 4 = 2.5e-1 is ordinary
    lr, sigma, g2 = 1e-200, 1e-100, 1e200
    assert ulp_error(vgd_threshold(lr, sigma, g2), mp_vgd_threshold(lr, sigma, g2)) <= 1.0
    assert signal_to_noise(g2, sigma) == np.inf  # the ratio itself overflows
    # and the threshold scale 2/lr overflows while the threshold does not
    lr = 1e-310
    assert ulp_error(vgd_threshold(lr, 1.0, 1e-300), mp_vgd_threshold(lr, 1.0, 1e-300)) <= 1.0


@settings(max_examples=300, deadline=None)
@given(lr=st.floats(1e-6, 1e2), sigma=st.floats(1e-6, 1e3), g2=st.floats(1e-12, 1e12),
       ns=st.integers(1, 10_000), dof=st.one_of(st.just(np.inf), st.floats(2.01, 1e6)))
def test_threshold_matches_mpmath(lr, sigma, g2, ns, dof):
    with mp.workdps(60):
        z = ns * mp.mpf(g2) / mp.mpf(sigma) ** 2  # sigma is the standard deviation for every dof
        exact = 2 / mp.mpf(lr) * mp_vf(z, lr)
    assert ulp_error(vgd_threshold(lr, sigma, g2, ns, dof=dof), exact) <= 2.0


# ---------------------------------------------------------------- properties

z_pos = positive_floats(min_value=5e-324, max_value=1e308)
lrs = learning_rates(min_value=1e-6, max_value=1e2)


@settings(max_examples=400, deadline=None)
@given(z=z_pos, lr=lrs)
def test_vf_in_unit_interval_and_root_of_the_scaled_cubic(z, lr):
    x = variational_factor(z, lr)
    assert 0.0 <= x <= 1.0
    with mp.workdps(50):
        w = mp.mpf(z) * mp.mpf(lr) ** 2 / 4
        xm = mp.mpf(x)
        residual = xm**3 + w * xm - w
        derivative = 3 * xm**2 + w
        # the root is within one ulp of x (Newton correction from the exact residual)
        if x > 0:
            assert abs(residual / derivative) <= np.spacing(x)


@settings(max_examples=300, deadline=None)
@given(z1=z_pos, z2=z_pos, lr=lrs)
def test_vf_is_nondecreasing_in_z(z1, z2, lr):
    lo, hi = sorted((z1, z2))
    assert variational_factor(lo, lr) <= variational_factor(hi, lr)


@settings(max_examples=200, deadline=None)
@given(lr=st.floats(1e-3, 10), sigma=st.floats(1e-3, 10), g2=st.floats(1e-6, 1e6), ns=st.integers(1, 1000),
       k=st.integers(1, 50))
def test_threshold_depends_on_n_samples_and_sigma_only_through_ns_over_sigma2(lr, sigma, g2, ns, k):
    # (Ns, sigma) and (k Ns, sqrt(k) sigma) give the same z
    a = vgd_threshold(lr, sigma, g2, ns)
    b = vgd_threshold(lr, sigma * np.sqrt(k), g2, ns * k)
    assert a == pytest.approx(b, rel=4 * EPS)


@settings(max_examples=200, deadline=None)
@given(lr=st.floats(1e-3, 10), sigma=st.floats(0, 10), g2=st.floats(0, 1e6), ns=st.integers(1, 1000))
def test_threshold_is_below_the_gd_threshold(lr, sigma, g2, ns):
    t = vgd_threshold(lr, sigma, g2, ns)
    assert 0.0 <= t <= 2.0 / lr * (1 + EPS)


@settings(max_examples=200, deadline=None)
@given(lr=st.floats(1e-3, 10), sigma=st.floats(0, 10), g2=st.floats(0, 1e6), ns=st.integers(1, 1000),
       frac=st.floats(0.01, 0.99), dof=st.floats(2.0, 1e6, exclude_min=True))
def test_student_t_at_equal_sigma_is_the_gaussian(lr, sigma, g2, ns, frac, dof):
    # sigma is the standard deviation for every dof, and only the variance enters: bit for bit the Gaussian
    lam = frac * 2.0 / lr
    for f, args in ((vgd_threshold, (lr, sigma, g2, ns)), (signal_to_noise, (g2, sigma, ns)),
                    (max_sigma, (lam, g2, lr, ns)), (min_n_samples, (lam, g2, lr, sigma))):
        t, gauss = f(*args, dof=dof), f(*args)
        assert t == gauss or (np.isnan(t) and np.isnan(gauss)), f.__name__


def test_student_t_new_sigma_is_the_old_scale_times_the_variance_ratio():
    # Formerly sigma was the Student-t scale s: old(s, nu) = Gaussian(s sqrt(nu / (nu - 2))). Now sigma is the
    # standard deviation, so new(sigma, nu) = old(sigma sqrt((nu - 2) / nu), nu) = old(perturbation_scale(sigma, nu)).
    lr, g2, ns = 0.1, 2.0, 3
    for dof in (2.5, 3.0, 10.0, 1e6):
        s = perturbation_scale(0.3, dof)
        with mp.workdps(60):
            old_var = mp.mpf(s) ** 2 * mp.mpf(dof) / (mp.mpf(dof) - 2)   # the old effective variance at scale s
            old = 2 / mp.mpf(lr) * mp_vf(ns * mp.mpf(g2) / old_var, lr)
        assert ulp_error(vgd_threshold(lr, 0.3, g2, ns, dof=dof), old) <= 4.0
    # at equal sigma heavier tails no longer lower the threshold
    gauss = vgd_threshold(0.1, 0.3, 2.0)
    assert vgd_threshold(0.1, 0.3, 2.0, dof=3.0) == vgd_threshold(0.1, 0.3, 2.0, dof=30.0) == gauss


@settings(max_examples=200, deadline=None)
@given(sigma=st.floats(1e-100, 1e100), dof=st.one_of(st.just(np.inf), st.floats(2.0, 1e8, exclude_min=True)))
def test_perturbation_scale_and_variance_are_inverse(sigma, dof):
    s = perturbation_scale(sigma, dof)
    with mp.workdps(50):
        exact = mp.mpf(sigma) * (1 if dof == np.inf else mp.sqrt((mp.mpf(dof) - 2) / mp.mpf(dof)))
    assert ulp_error(s, exact) <= 2.0
    assert perturbation_variance(s, dof) == pytest.approx(sigma * sigma, rel=8 * EPS)
    assert perturbation_scale(sigma, np.inf) == sigma


def test_perturbation_variance_is_about_the_scale():
    for dof in (2.5, 3.0, 10.0, 1e6):
        assert perturbation_variance(0.3, dof) == pytest.approx(0.09 * dof / (dof - 2), rel=EPS)
    assert perturbation_variance(0.3) == 0.3**2
    with pytest.warns(DeprecationWarning, match="'sigma' is deprecated; use 'scale'"):
        assert perturbation_variance(sigma=0.3, dof=10.0) == perturbation_variance(scale=0.3, dof=10.0)
    with pytest.raises(TypeError, match="both"):
        perturbation_variance(scale=0.3, sigma=0.3)


def test_results_keep_the_shape_of_dof():
    dof = np.array([[3.0], [np.inf]])
    assert vgd_threshold(0.1, 0.3, 2.0, dof=dof).shape == (2, 1)
    assert max_sigma(5.0, 1.0, 0.1, dof=dof).shape == (2, 1)
    assert min_n_samples(5.0, 1.0, 0.1, 0.3, dof=dof).shape == (2, 1)
    assert signal_to_noise(1.0, 0.3, dof=dof).shape == (2, 1)


def test_broadcasting_and_scalar_out():
    assert isinstance(variational_factor(1.0, 0.1), float)
    out = variational_factor(np.array([[1.0], [10.0]]), np.array([0.1, 0.2, 0.3]))
    assert out.shape == (2, 3)
    assert np.all(np.diff(out, axis=0) > 0)
    assert vgd_threshold(0.1, np.array([0.0, 0.1, 1.0]), 1.0, n_samples=[[1], [4]]).shape == (2, 3)


# ---------------------------------------------------------------- inverse problems

@settings(max_examples=200, deadline=None)
@given(lr=st.floats(1e-3, 10), frac=st.floats(0.01, 0.99), g2=st.floats(1e-6, 1e6), ns=st.integers(1, 1000),
       dof=st.one_of(st.just(np.inf), st.floats(2.5, 100)))
def test_max_sigma_inverts_the_threshold(lr, frac, g2, ns, dof):
    lam = frac * 2.0 / lr
    s = max_sigma(lam, g2, lr, ns, dof=dof)
    assert vgd_threshold(lr, s, g2, ns, dof=dof) == pytest.approx(lam, rel=1e-13)


@settings(max_examples=150, deadline=None)
@given(lr=st.floats(1e-2, 1), frac=st.floats(0.05, 0.95), k=st.integers(1, 2**20), sigma=st.floats(1e-3, 10),
       dof=st.one_of(st.just(np.inf), st.floats(2.5, 100)))
def test_min_n_samples_is_the_smallest_that_descends(lr, frac, k, sigma, dof):
    from theory.quadratic import expected_loss_change

    g = k / 1024.0  # 20 significant bits: g * g is exact, so both functions see the same c
    g2 = g * g
    lam = frac * 2.0 / lr
    n = min_n_samples(lam, g2, lr, sigma, dof=dof)
    if not np.isfinite(n) or n > 1e12:
        return
    assert expected_loss_change(lam, g, lr, sigma, n, dof=dof) < 0
    if n > 1:
        assert expected_loss_change(lam, g, lr, sigma, n - 1, dof=dof) >= 0


def test_min_n_samples_is_exact_at_an_integer_critical_value():
    # lr*lam = 1 (exact), so the critical N_s is sigma^2 lr lam^3 / g^2 = 64 exactly:
    # N_s = 64 gives a zero expected change, not a decrease, so the answer is 65.
    assert min_n_samples(8.0, 1.0, 0.125, 1.0) == 65.0
    assert min_n_samples(8.0, 1.0, 0.125, 1.0, dof=4.0) == 65.0  # sigma is the standard deviation: the same
    assert min_n_samples(8.0, 4.0, 0.125, 1.0) == 17.0            # critical 16
    # the float estimate of the critical value is not exact here; the answer still is
    crit = 0.3**2 * 0.1 * 7.0**3 / (0.7 * (2 - 0.1 * 7.0))
    assert min_n_samples(7.0, 0.7, 0.1, 0.3) == np.floor(crit) + 1


def test_inverse_problem_limits():
    assert max_sigma(16.0, 1.0, 0.125) == 0.0 == max_sigma(5.0, 0.0, 0.125)  # at 2/lr; no gradient
    assert min_n_samples(16.0, 1.0, 0.125, 0.5) == np.inf                    # at 2/lr
    assert min_n_samples(5.0, 0.0, 0.125, 0.5) == np.inf                     # no gradient, noise
    assert min_n_samples(5.0, 1.0, 0.125, 0.0) == 1.0                        # GD descends
    assert min_n_samples(5.0, 1.0, 0.125, np.inf) == np.inf
    assert max_sigma(5.0, np.inf, 0.125) == np.inf
    # a critical value beyond the float range: inf, without an overflow warning
    assert min_n_samples(5.0, 5e-324, 0.1, 10.0) == np.inf


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("call, name", [
    (lambda: variational_factor(-1.0, 0.1), "z"),
    (lambda: variational_factor(1.0, 0.0), "lr"),
    (lambda: variational_factor(1.0, -0.1), "lr"),
    (lambda: variational_factor(1.0, np.inf), "lr"),
    (lambda: variational_factor(np.nan, 0.1), "z"),
    (lambda: vgd_threshold(0.1, -1.0, 1.0), "sigma"),
    (lambda: vgd_threshold(0.1, 1.0, -1.0), "grad_sq"),
    (lambda: vgd_threshold(0.1, 1.0, 1.0, n_samples=0), "n_samples"),
    (lambda: vgd_threshold(0.1, 1.0, 1.0, n_samples=2.5), "n_samples"),
    (lambda: vgd_threshold(0.1, 1.0, 1.0, dof=2.0), "dof"),
    (lambda: vgd_threshold(0.1, 1.0, 1.0, dof=1.5), "dof"),
    (lambda: vgd_threshold(0.1, np.inf, np.inf), "grad_sq"),
    (lambda: perturbation_variance(1.0, 2.0), "dof"),
    (lambda: perturbation_scale(1.0, 2.0), "dof"),
    (lambda: perturbation_scale(-1.0, 3.0), "sigma"),
    (lambda: perturbation_variance(-1.0, 3.0), "scale"),
    (lambda: max_sigma(21.0, 1.0, 0.1), "eigval"),
    (lambda: max_sigma(0.0, 1.0, 0.1), "eigval"),
    (lambda: min_n_samples(21.0, 1.0, 0.1, 1.0), "eigval"),
    (lambda: min_n_samples(5.0, 1.0, 0.1, -1.0), "sigma"),
])
def test_bad_input_names_the_parameter(call, name):
    with pytest.raises(DomainError, match=rf"^{name} must be"):
        call()


def test_domain_error_is_a_value_error_and_types_are_checked():
    assert issubclass(DomainError, ValueError)
    with pytest.raises(TypeError, match="z must be"):
        variational_factor("1", 0.1)
    with pytest.raises(TypeError, match="real"):
        variational_factor(1 + 1j, 0.1)
    with pytest.raises(ValueError, match="eigval must be in \\(0, 2/lr\\]"):
        max_sigma(np.array([1.0, 30.0]), 1.0, 0.1)


def test_dof_at_most_two_is_refused_for_an_infinite_standard_deviation():
    with pytest.raises(DomainError, match=r"^dof must be > 2 .*infinite variance.*standard deviation"):
        vgd_threshold(0.1, 1.0, 1.0, dof=2.0)


def test_indeterminate_inputs_report_the_offending_value():
    with pytest.raises(DomainError, match=r"grad_sq must be finite where sigma is infinite .*; got inf$"):
        vgd_threshold(0.1, np.inf, np.inf)


def test_signal_to_noise_never_forms_an_overflowing_product():
    """z = N c / sigma^2 where N c and sigma^2 both overflow (inf/inf) or underflow (0/0)."""
    from theory.vgd import signal_to_noise
    big = np.finfo(float).max
    assert signal_to_noise(big, big, 10**6, dof=2.5) == pytest.approx(1e6 / big, rel=1e-15)
    assert signal_to_noise(0.0, 1e-300, 3) == 0.0
    assert signal_to_noise(1e300, 1e-10) == np.inf
    assert signal_to_noise(3.0, 0.0) == np.inf
