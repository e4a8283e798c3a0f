"""theory.kramers: exact first-passage times against mpmath, Kramers asymptotics, bad input."""

from __future__ import annotations

import warnings

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theory import AsymptoticWarning, DomainError
from theory.kramers import (
    VALIDITY,
    escape_rate,
    escape_time_1d,
    finite_temperature_factor,
    mean_first_passage_time,
    mixed_escape_time,
    selection_probability,
    sgd_escape_time,
    sgld_escape_time,
    total_rate,
)
from theory.landscapes import DoubleWell

# local names kept where a test uses them: hypothesis derives its examples from the test's source
from reference import mp_mfpt, mp_variable_diffusion_mfpt
from reference import mp_ou_mfpt as ou_reference

QUARTIC = DoubleWell()  # U = x^4/4 - x^2/2 + 1/4: H_a = 2, H_b = -1, barrier 1/4


def quiet(f, *a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AsymptoticWarning)
        return f(*a, **k)


# ------------------------------------------------------------------ exact MFPT

@pytest.mark.parametrize("barrier", [0.5, 5.0, 50.0, 200.0, 500.0, 650.0])
def test_ou_mfpt_matches_mpmath_up_to_huge_barriers(barrier):
    t = 0.01
    x1 = float(np.sqrt(2 * t * barrier))  # U(x1)/T = barrier for U = x^2/2
    res = mean_first_passage_time(lambda x: 0.5 * x * x, 0.0, x1, t, log=True, require_barrier=False)
    ref = ou_reference(1.0, t, 0.0, x1)
    err = abs(res.value - float(mp.log(ref)))  # absolute error of log T = relative error of T
    assert err <= 1e-12 * max(1.0, barrier / 50)
    assert err <= 10 * res.error + 1e-15  # the error estimate is honest


@settings(max_examples=25, deadline=None)
@given(k=st.floats(0.1, 10), t=st.floats(0.01, 2), x0=st.floats(-2, 0.5), dx=st.floats(0.05, 3))
def test_ou_mfpt_random_parameters(k, t, x0, dx):
    x1 = x0 + dx
    res = mean_first_passage_time(lambda x: 0.5 * k * x * x, x0, x1, t, log=True, require_barrier=False)  # barriers up to ~1800
    ref = ou_reference(k, t, x0, x1, dps=30)
    assert abs(res.value - float(mp.log(ref))) <= 1e-12 * max(1.0, res.value / 50)
    # mirror image: reflecting at +infinity, absorbed below
    mirrored = mean_first_passage_time(lambda x: 0.5 * k * x * x, -x0, -x1, t, log=True,
                                       require_barrier=False)
    assert mirrored.value == pytest.approx(res.value, abs=1e-12 * max(1.0, res.value / 50))


def printed(text: str):
    """A printed reference value, with half a unit of its last digit as tolerance."""
    decimals = len(text.split(".")[1]) if "." in text else 0
    return pytest.approx(float(text), abs=0.5 * 10.0**-decimals)


def test_double_well_reference_table():
    table = {0.1: ("30.821302", "66.268626"), 0.05: ("361.90376", "729.67069"),
             0.025: ("51050.703", "102108.37")}
    for d, (to_saddle, to_minimum) in table.items():
        assert mean_first_passage_time(QUARTIC, -1.0, 0.0, d).value == printed(to_saddle)
        assert mean_first_passage_time(QUARTIC.potential, -1.0, 1.0, d).value == printed(to_minimum)


@pytest.mark.slow
def test_double_well_against_nested_mpmath():
    ref = mp_mfpt(lambda x: x**4 / 4 - x**2 / 2, -1.0, 0.0, 0.1, dps=20)  # enough for 1e-12; nested quadrature is slow
    assert mean_first_passage_time(QUARTIC, -1.0, 0.0, 0.1).value == pytest.approx(float(ref), rel=1e-12)


@pytest.mark.parametrize("convention", ["ito", "hanggi"])
@pytest.mark.parametrize("temperature", [0.5, 0.1])
def test_position_dependent_diffusion_in_both_conventions(convention, temperature):
    res = mean_first_passage_time(lambda x: 0.5 * x * x, 0.0, 2.0, temperature, lambda x: 1 + x * x / 4,
                                  gradient=lambda x: x, convention=convention, require_barrier=False)
    ref = mp_variable_diffusion_mfpt(temperature, 2.0, convention)
    assert res.value == pytest.approx(float(ref), rel=1e-12)


def test_constant_profile_equals_constant_temperature():
    a = mean_first_passage_time(QUARTIC, -1.0, 0.5, 0.2, lambda x: np.full_like(x, 0.5), convention="ito")
    b = mean_first_passage_time(QUARTIC, -1.0, 0.5, 0.1)
    c = mean_first_passage_time(QUARTIC, -1.0, 0.5, 0.2, lambda x: np.full_like(x, 0.5), convention="hanggi")
    assert a.value == pytest.approx(b.value, rel=1e-12) and c.value == pytest.approx(b.value, rel=1e-12)


def test_offset_and_scale_invariance():
    base = mean_first_passage_time(QUARTIC.potential, -1.0, 1.0, 0.05).value
    shifted = mean_first_passage_time(lambda x: QUARTIC.potential(x) + 10.0, -1.0, 1.0, 0.05).value
    assert shifted == pytest.approx(base, rel=1e-12)
    # a large offset is resolved too; U's own rounding (1e3 * eps / T) then limits the accuracy
    far = mean_first_passage_time(lambda x: QUARTIC.potential(x) + 1e3, -1.0, 1.0, 0.05)
    assert far.value == pytest.approx(base, rel=2e-11)
    # U -> c U, T -> c T: the same dynamics in a time c^-1 faster
    fast = mean_first_passage_time(lambda x: 3 * QUARTIC.potential(x), -1.0, 1.0, 0.15).value
    assert fast == pytest.approx(base / 3, rel=1e-12)


def test_naive_sgd_diffusion_is_refused():
    # D proportional to L'' vanishes at the inflection points x = +-1/sqrt(3): no escape possible
    with pytest.raises(DomainError, match="escape impossible"):
        mean_first_passage_time(QUARTIC, -1.0, 1.0, 0.05, lambda x: 3 * x * x - 1)


# ------------------------------------------------------------------ Kramers asymptotics

def test_kramers_ratio_tends_to_one_and_saddle_time_to_half():
    barriers = np.array([20.0, 40.0, 80.0, 160.0])  # dL / T
    ratios, halves = [], []
    for r in barriers:
        d = 0.25 / r
        tau = sgld_escape_time(0.25, 2.0, -1.0, d)
        ratios.append(mean_first_passage_time(QUARTIC, -1.0, 1.0, d).value / tau - 1)
        halves.append(mean_first_passage_time(QUARTIC, -1.0, 0.0, d).value / tau - 0.5)
    ratios, halves = np.array(ratios), np.array(halves)
    # the error is c T = (c dL) / (dL/T) to first order, with c dL = 1.5 * 0.25 for this well
    # (finite_temperature_factor); the next order makes |error * dL/T - 0.375| shrink like T
    gap = np.abs(ratios * barriers - 0.375)
    assert np.all(np.diff(gap) < 0) and gap[-1] < 0.005
    # to the saddle: half the time, approached from above, also at rate T
    assert np.all(halves > 0) and np.all(np.diff(halves * barriers) < 0)
    assert np.allclose(halves[1:] / halves[:-1], 0.5, atol=0.02)


def test_finite_temperature_factor_makes_the_error_second_order():
    errs = []
    for r in (10.0, 20.0, 40.0, 80.0):
        d = 0.25 / r
        corrected = sgld_escape_time(0.25, 2.0, -1.0, d) * finite_temperature_factor(d, 2.0, -1.0, -6.0, 6.0,
                                                                                      0.0, 6.0)
        errs.append(abs(mean_first_passage_time(QUARTIC, -1.0, 1.0, d).value / corrected - 1))
    errs = np.array(errs)
    assert np.allclose(errs[1:] / errs[:-1], 0.25, atol=0.05)  # O((T/dL)^2)
    assert finite_temperature_factor(0.1, 2.0, -1.0, -6.0, 6.0, 0.0, 6.0) == pytest.approx(1.15)


def test_validity_map_is_current():
    for r, stored in zip(VALIDITY["barrier_over_temperature"], VALIDITY["exact_over_kramers"]):
        d = 0.25 / r
        ratio = mean_first_passage_time(QUARTIC, -1.0, 1.0, d).value / quiet(sgld_escape_time, 0.25, 2.0, -1.0, d)
        assert ratio == pytest.approx(stored, abs=2e-6)


def test_sgd_formula_is_the_limit_of_the_exact_piecewise_model():
    """SGD's D = (lr/2B) H_a below L(a) + s dL and (lr/2B)|H_b| above, Haenggi-Klimontovich:
    the exact MFPT over the formula tends to 1 like 1/B; the Ito form (the default) has another prefactor."""
    lr, s = 0.1, 0.5
    x_switch = -np.sqrt(1 - np.sqrt(s))  # U(x) - U(-1) = s/4 on the climb
    profile = lambda x: np.where(x < x_switch, 2.0, 1.0)  # noqa: E731
    ratio = []
    for b in (8, 16, 32, 64):
        exact = mean_first_passage_time(QUARTIC, -1.0, 1.0, lr / (2 * b), profile, convention="hanggi",
                                        points=[x_switch]).value
        ratio.append(exact / sgd_escape_time(0.25, 2.0, -1.0, lr, b, s, convention="hanggi") - 1)
    ratio = np.array(ratio)
    assert np.all(ratio > 0) and np.allclose(ratio[1:] / ratio[:-1], 0.5, atol=0.05)
    ito = mean_first_passage_time(QUARTIC, -1.0, 1.0, lr / 128, profile, convention="ito", points=[x_switch]).value
    # Ito's prefactor is 2 pi sqrt(D_b/D_a)/sqrt(H_a|H_b|) = 2 pi / H_a: half the HK one here
    assert ito / sgd_escape_time(0.25, 2.0, -1.0, lr, 64, s, convention="hanggi") == pytest.approx(0.5, rel=0.02)
    assert ito / sgd_escape_time(0.25, 2.0, -1.0, lr, 64, s, convention="ito") == pytest.approx(1.0, rel=0.02)
    assert sgd_escape_time(0.25, 2.0, -1.0, lr, 64, s, convention="hanggi") / sgd_escape_time(
        0.25, 2.0, -1.0, lr, 64, s, convention="ito") == pytest.approx(2.0)


def test_every_convention_defaults_to_ito():
    # an SGD step draws its noise at the pre-step point: the Euler-Maruyama scheme of the Ito SDE
    import inspect

    from theory import kramers
    for f in (kramers.escape_time_1d, kramers.sgd_escape_time, kramers.mixed_escape_time,
              kramers.mean_first_passage_time):
        assert inspect.signature(f).parameters["convention"].default == "ito", f.__name__
    lr, s = 0.1, 0.5
    assert sgd_escape_time(0.25, 2.0, -1.0, lr, 64, s) == sgd_escape_time(0.25, 2.0, -1.0, lr, 64, s, convention="ito")
    assert escape_time_1d(0.25, 2.0, -1.0, 0.02, 0.01) == escape_time_1d(0.25, 2.0, -1.0, 0.02, 0.01, convention="ito")
    assert mixed_escape_time(0.25, 2.0, -1.0, 0.002, 0.01, 4) == mixed_escape_time(0.25, 2.0, -1.0, 0.002, 0.01, 4,
                                                                                   convention="ito")


def test_sgd_trends_are_linear_in_b_inverse_lr_and_inverse_k():
    b = np.arange(1, 9)
    logs = sgd_escape_time(0.25, 2.0, -1.0, 0.01, b, 0.3, log=True)
    assert np.allclose(np.diff(logs, 2), 0, atol=1e-12)
    lr = 1 / np.arange(50.0, 60.0)
    assert np.allclose(np.diff(sgd_escape_time(0.25, 2.0, -1.0, lr, 4, log=True), 2), 0, atol=1e-10)
    k = 1 / np.linspace(0.5, 2, 7)  # Hessians times k: exponent linear in 1/k, prefactor log k
    logs = sgd_escape_time(0.25, 2.0 * k, -1.0 * k, 0.01, 4, log=True) + np.log(k)
    assert np.allclose(np.diff(logs, 2), 0, atol=1e-10)
    # SGLD: the rate is linear in k (the exponent does not depend on k)
    rates = escape_rate(escape_time_1d(0.25, 2.0 * k, -1.0 * k, 0.01))  # vectorised 1-D SGLD
    assert np.allclose(rates / k, rates[0] / k[0], rtol=1e-13)


def test_sgld_n_dimensional_prefactor():
    a, bvec = np.array([2.0, 3.0, 5.0]), np.array([-1.0, 4.0, 6.0])
    tau = sgld_escape_time(1.0, a, bvec, 0.05)
    assert tau == pytest.approx(2 * np.pi / 1.0 * np.sqrt(24 / 30) * np.exp(20), rel=1e-13)
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    assert sgld_escape_time(1.0, q @ np.diag(a) @ q.T, q @ np.diag(bvec) @ q.T, 0.05) == pytest.approx(tau, rel=1e-12)
    assert sgld_escape_time(1.0, 2.0, 1.0, 0.05) == sgld_escape_time(1.0, 2.0, -1.0, 0.05)
    assert sgld_escape_time(1.0, [2.0], [-1.0], 0.05) == pytest.approx(sgld_escape_time(1.0, 2.0, -1.0, 0.05))
    assert sgld_escape_time(400.0, 2.0, -1.0, 0.5, log=True) == pytest.approx(np.log(2 * np.pi / np.sqrt(2)) + 800)


def test_mixed_noise_interpolates():
    sgd = sgd_escape_time(0.25, 2.0, -1.0, 0.1, 4)
    assert mixed_escape_time(0.25, 2.0, -1.0, 0.0, 0.1, 4) == pytest.approx(sgd, rel=1e-14)
    sgld = sgld_escape_time(0.25, 2.0, -1.0, 0.02)
    assert mixed_escape_time(0.25, 2.0, -1.0, 0.02, 1e-12, 1) == pytest.approx(sgld, rel=1e-9)
    assert escape_time_1d(0.25, 2.0, -1.0, 0.02) == pytest.approx(sgld, rel=1e-14)


def test_asymptotic_warning_names_the_error_and_points_at_the_caller():
    with pytest.warns(AsymptoticWarning, match=r"exceeds it by 11% at this value") as record:
        sgld_escape_time(0.25, 2.0, -1.0, 0.05)
    assert record[0].filename == __file__
    with pytest.warns(AsymptoticWarning) as record:
        sgd_escape_time(0.25, 2.0, -1.0, 0.5, 1)
    assert record[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error", AsymptoticWarning)
        sgld_escape_time(0.25, 2.0, -1.0, 0.02)  # 12.5 temperatures: no warning


def test_rates_and_selection():
    assert total_rate([1.0, 2.0, 3.0]) == 6.0
    assert escape_rate(4.0) == 0.25 and escape_rate(np.inf) == 0.0
    p = selection_probability(np.array([[1.0, 3.0], [2.0, 2.0]]))
    assert np.allclose(p, [[0.25, 0.75], [0.5, 0.5]])
    assert selection_probability([1e300, np.inf]).tolist() == [0.0, 1.0]
    assert np.allclose(selection_probability([800.0, 800.0 + np.log(3)], log=True), [0.25, 0.75])
    with pytest.raises(DomainError, match="more than one infinite"):
        selection_probability([np.inf, np.inf])


@pytest.mark.parametrize("call, name", [
    (lambda: sgld_escape_time(0.25, 2.0, -1.0, 0.0), "temperature"),
    (lambda: sgld_escape_time(-0.25, 2.0, -1.0, 0.1), "delta_loss"),
    (lambda: sgld_escape_time(1.0, [2.0, -0.5], [-1.0, 3.0], 0.1), "hess_min"),
    (lambda: sgld_escape_time(1.0, [2.0, 1.0], [-1.0, -3.0], 0.1), "hess_saddle"),
    (lambda: sgld_escape_time(1.0, [2.0, 1.0], [1.0, 3.0], 0.1), "hess_saddle"),
    (lambda: sgld_escape_time(1.0, [2.0, 1.0], [-1.0, 0.0], 0.1), "hess_saddle"),
    (lambda: sgld_escape_time(1.0, [2.0, 1.0], [-1.0, 2.0, 3.0], 0.1), "hess_min and hess_saddle"),
    (lambda: sgd_escape_time(0.25, 2.0, -1.0, 0.0, 4), "lr"),
    (lambda: sgd_escape_time(0.25, 2.0, -1.0, 0.1, 0), "batch_size"),
    (lambda: sgd_escape_time(0.25, 2.0, -1.0, 0.1, 4, s=1.0), "s"),
    (lambda: sgd_escape_time(0.25, 2.0, -1.0, 0.1, 4, s=0.0), "s"),
    (lambda: sgd_escape_time(0.25, -2.0, -1.0, 0.1, 4), "hess_min_escape"),
    (lambda: mean_first_passage_time(QUARTIC, -1.0, 1.0, -0.1), "temperature"),
    (lambda: mean_first_passage_time(QUARTIC, -1.0, 1.0, 0.1, convention="stratonovich"), "convention"),
    (lambda: mean_first_passage_time(lambda x: x, 0.0, 1.0, 0.1, require_barrier=False), "potential"),
    (lambda: mean_first_passage_time(lambda x: x * x, 0.0, np.nan, 0.1), "end"),
    # not beyond a barrier: up one side of the valley, away from the saddle, downhill from the saddle
    (lambda: mean_first_passage_time(QUARTIC, -1.0, -0.5, 0.1), "end"),
    (lambda: mean_first_passage_time(QUARTIC, -1.0, -1.5, 0.1), "end"),
    (lambda: mean_first_passage_time(QUARTIC, 0.0, 1.0, 0.1), "end"),
    (lambda: mean_first_passage_time(QUARTIC.potential, -1.0, -0.01, 0.1), "end"),
])
def test_bad_input(call, name):
    with pytest.raises(DomainError, match=rf"^{name} must"):
        quiet(call)


def test_bad_types_and_trivial_cases():
    with pytest.raises(TypeError):
        mean_first_passage_time(3.0, 0.0, 1.0, 0.1)
    with pytest.raises(DomainError, match="gradient"):
        mean_first_passage_time(lambda x: x * x, 0.0, 1.0, 0.1, lambda x: 1 + 0 * x)
    assert mean_first_passage_time(QUARTIC, 0.3, 0.3, 0.1).value == 0.0


def test_barrier_requirement_accepts_saddle_and_beyond():
    # ending on the saddle (the factor-of-2 convention) or past it is an escape; a plain
    # callable is judged by finite differences, a Landscape by its gradient
    for pot in (QUARTIC, QUARTIC.potential):
        for end in (0.0, 0.3, 1.0, 5.0):
            assert mean_first_passage_time(pot, -1.0, end, 0.1).value > 0
        assert mean_first_passage_time(pot, 1.0, 0.0, 0.1).value > 0
    inside = mean_first_passage_time(QUARTIC, -1.0, -0.5, 0.1, require_barrier=False).value
    assert 0 < inside < mean_first_passage_time(QUARTIC, -1.0, 0.0, 0.1).value


# -- reliability: extreme values give the limit or a named refusal (issue 12) ------------------------------


def test_finite_temperature_factor_underflowing_curvature_gives_the_limit():
    # hess_min**3 underflows to 0: the zero third derivative's term is 0, not 0/0
    assert finite_temperature_factor(0.05, 1e-110, -1.0) == 1.0
    # the terms are formed in logs where their parts over- or underflow
    assert finite_temperature_factor(1e-300, 1e-200, -1.0, 1e-100, 1.0) == pytest.approx(
        5 / 24 * 1e100 - 1 / 8 * 1e100, rel=1e-12)
    assert finite_temperature_factor(1e300, 1e300, 1e300, 1e300, 1e300, 1e300, 1e300) == pytest.approx(
        1 + 5 / 24 - 1 / 8 + 5 / 24 + 1 / 8, rel=1e-12)


@settings(max_examples=200, deadline=None)
@given(st.floats(-300, 300), st.floats(-300, 300), st.floats(-300, 300), st.floats(-300, 0))
def test_finite_temperature_factor_scaled_terms_match_the_exact_sum(lh, la3, la4, lt):
    """Over the whole float range each term is c |u|^p T / U''^q: compare with exact rational arithmetic."""
    from fractions import Fraction as F
    h, a3, a4, t = 10.0**lh, 10.0**la3, 10.0**la4, 10.0**lt
    exact = 1 + (F(5, 24) * F(a3) ** 2 / F(h) ** 3 - F(a4) / (8 * F(h) ** 2)) * F(t) + (F(5, 24) + F(1, 8)) * F(t)
    got = finite_temperature_factor(t, h, -1.0, a3, a4, 1.0, 1.0)
    if abs(exact) > F(1.7e308):
        assert got == (np.inf if exact > 0 else -np.inf)
    else:
        assert got == pytest.approx(float(exact), rel=1e-11, abs=1e-300)


def test_finite_temperature_factor_broadcasts_every_argument_and_names_mismatches():
    out = finite_temperature_factor(0.05, 2.0, -1.0, third_min=np.array([1.0, 2.0]))
    assert out.shape == (2,)
    assert out[1] == finite_temperature_factor(0.05, 2.0, -1.0, third_min=2.0)
    with pytest.raises(DomainError, match="third_min.*fourth_min"):
        finite_temperature_factor(0.05, 2.0, -1.0, third_min=np.ones(2), fourth_min=np.ones(3))


def test_sgd_escape_time_with_an_underflowing_diffusion_is_computed_in_logs():
    # lr hess/(2B) underflows to 0: the exponent is 2B dL/lr (s/H_a + (1-s)/|H_b|), here beyond the float range
    assert sgd_escape_time(1.0, 2.0, -1.0, 5e-324, 8, log=True) == np.inf
    # and just inside it, the log of the time agrees with the direct expression
    lr = 1e-300
    expected = np.log(2 * np.pi / 2.0) + 16 * 1.0 / lr * (0.5 / 2.0 + 0.5 / 1.0)
    assert sgd_escape_time(1.0, 2.0, -1.0, lr, 8, log=True) == pytest.approx(expected, rel=1e-14)
    assert sgd_escape_time(1e-300, 2.0, -1.0, 1e-300, 8, log=True) == pytest.approx(
        np.log(np.pi) + 16 * (0.25 + 0.5), rel=1e-14)
    # overflowing diffusions: lr hess/(2B) = inf while its log is finite
    assert np.isfinite(mixed_escape_time(1.0, 1e300, -1e300, 0.0, 1e300, 8, log=True))


@settings(max_examples=100, deadline=None)
@given(st.floats(-320, 300), st.floats(-300, 300))
def test_sgd_escape_time_log_is_finite_or_its_overflow_over_the_float_range(llr, lh):
    lr, h = 10.0**llr, 10.0**lh
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AsymptoticWarning)
        got = sgd_escape_time(1.0, h, -h, lr, 4, log=True)
    exponent = 8 / (lr * h) if lr * h > 0 else np.inf
    if np.isfinite(exponent) and exponent < 1e300:
        assert got == pytest.approx(np.log(2 * np.pi) - np.log(h) + exponent, rel=1e-12, abs=1e-9)
    else:
        assert got > 1e290 or got == np.inf
    assert not np.isnan(got)


def test_mean_first_passage_time_at_huge_temperature():
    u = lambda x: x**4 / 4 - x**2 / 2  # noqa: E731
    # T -> inf: T^-1 int_{-1}^0 dy int_{-inf}^y e^{-z^4/(4T)} dz -> (4T)^{1/4} Gamma(5/4) / T
    import math as _m
    for t in (1e100, 1e300):
        got = mean_first_passage_time(u, -1.0, 0.0, t).value
        assert got == pytest.approx((4 * t) ** 0.25 * _m.gamma(1.25) / t, rel=1e-12)
    # beyond what the float range allows: a refusal naming temperature and its bound
    with pytest.raises(DomainError, match="temperature must be below about"):
        mean_first_passage_time(u, -1.0, 0.0, 1e308)
    with pytest.raises(DomainError, match="temperature must exceed"):
        mean_first_passage_time(u, -1.0, 0.0, 5e-324)
    with pytest.raises(DomainError, match="start"):
        mean_first_passage_time(u, -1e300, 0.0, 0.1)


@pytest.mark.parametrize("kw", ["start", "end", "temperature"])
def test_mean_first_passage_time_refuses_arrays_naming_the_parameter(kw):
    args = dict(start=-1.0, end=0.0, temperature=0.1)
    args[kw] = np.array([0.1, 0.2])
    with pytest.raises(TypeError, match=f"{kw} must be a scalar"):
        mean_first_passage_time(DoubleWell(), **args)
    args[kw] = True
    with pytest.raises(TypeError, match=kw):
        mean_first_passage_time(DoubleWell(), **args)


def test_flags_refuse_non_bools():
    with pytest.raises(TypeError, match="log"):
        mean_first_passage_time(DoubleWell(), -1.0, 0.0, 0.1, log="yes")
    with pytest.raises(TypeError, match="require_barrier"):
        mean_first_passage_time(DoubleWell(), -1.0, 0.0, 0.1, require_barrier=1)
    with pytest.raises(TypeError, match="log"):
        sgld_escape_time(1.0, 2.0, -1.0, 0.1, log=1)
    with pytest.raises(TypeError, match="log"):
        sgd_escape_time(1.0, 2.0, -1.0, 0.1, 2, log="x")


def test_selection_probability_scalar_in_float_out_and_overflowing_sums():
    assert selection_probability(2.0) == 1.0 and type(selection_probability(2.0)) is float
    assert type(selection_probability(2.0, log=True)) is float
    assert np.array_equal(selection_probability(np.array([1e308, 1e308])), [0.5, 0.5])
    assert np.allclose(selection_probability(np.array([[1e308, 3e307], [1.0, 3.0]])), [[1 / 1.3, 0.3 / 1.3],
                                                                                      [0.25, 0.75]])
    with pytest.raises(DomainError, match="escape_times must not be empty"):
        selection_probability(np.array([]))
    with pytest.raises(DomainError, match="axis"):
        selection_probability(np.ones(3), axis=4)
    with pytest.raises(TypeError, match="axis"):
        selection_probability(np.ones(3), axis=True)
    assert type(total_rate(3.0)) is float


@pytest.mark.parametrize("bad", [True, 1 + 2j, "abc", np.nan])
def test_bools_complex_strings_and_nan_are_refused_naming_the_parameter(bad):
    calls = [
        ("delta_loss", lambda b: sgld_escape_time(b, 2.0, -1.0, 0.1)),
        ("temperature", lambda b: sgld_escape_time(1.0, 2.0, -1.0, b)),
        ("lr", lambda b: sgd_escape_time(1.0, 2.0, -1.0, b, 4)),
        ("diffusion_min", lambda b: escape_time_1d(1.0, 2.0, -1.0, b)),
        ("third_min", lambda b: finite_temperature_factor(0.1, 2.0, -1.0, third_min=b)),
        ("escape_time", lambda b: escape_rate(b)),
        ("escape_times", lambda b: selection_probability(b)),
    ]
    for name, call in calls:
        with pytest.raises((TypeError, ValueError), match=name):
            call(bad)


def test_broadcast_mismatches_name_the_parameters():
    with pytest.raises(DomainError, match="delta_loss.*temperature"):
        sgld_escape_time(np.ones(2), 2.0, -1.0, np.full(3, 0.1))
    with pytest.raises(DomainError, match="hess_min_escape.*lr"):
        sgd_escape_time(1.0, np.full(2, 2.0), -1.0, np.full(3, 0.1), 4)
    with pytest.raises(DomainError, match="delta_loss"):
        escape_time_1d(np.ones(2), 2.0, -1.0, np.full(3, 0.1))
