"""tests/reference.py: the distances and assertions fail when they should, the references solve their equations."""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath as mp
import numpy as np
import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

from reference import (
    MpMarchenkoPastur,
    assert_rel,
    assert_ulp,
    dofs,
    log_uniform,
    mp_mfpt,
    mp_ou_mfpt,
    mp_sam_edge,
    mp_vf,
    mp_vgd_threshold,
    nonnegative_floats,
    positive_floats,
    rel_error,
    signed_log_uniform,
    subnormal_floats,
    ulp_error,
)

TINY = np.finfo(float).tiny
BIG = np.finfo(float).max


# ---------------------------------------------------------------- ulp_error

def test_ulp_error_counts_spacings_exactly():
    assert ulp_error(1.0, mp.mpf(1)) == 0.0
    assert ulp_error(np.nextafter(1.0, 2), mp.mpf(1)) == 1.0
    assert ulp_error(1.0, Fraction(1) + Fraction(1, 2**53)) == 0.5      # a tie: half a spacing
    assert ulp_error(1.0, 1.0 + 3 * 2.0**-52) == 3.0                      # float references are exact too
    assert ulp_error(-2.0, -(Fraction(2) + Fraction(1, 2**52))) == 0.5    # a tie, rounded to even: fl(e) = -2
    assert ulp_error(5e-324, mp.mpf(2) ** -1074 * 3) == 2.0                # subnormal spacing 2**-1074
    # the difference is formed exactly, whatever the working precision at the call
    with mp.workdps(60):
        e = mp.mpf(1) + mp.mpf(10) ** -40
    assert ulp_error(1.0, e) == pytest.approx(1e-40 / 2.0**-52, rel=1e-15)


def test_ulp_error_decides_zeros_overflow_and_nan_exactly():
    assert ulp_error(0.0, mp.mpf(0)) == 0.0
    assert ulp_error(5e-324, mp.mpf(0)) == math.inf                      # an exact zero is matched only by 0
    assert ulp_error(0.0, mp.mpf(2) ** -1080) == pytest.approx(2.0**-6)   # rounds to 0: spacing 2**-1074
    assert ulp_error(math.inf, mp.mpf(10) ** 400) == 0.0                  # the correct rounding of an overflow
    assert ulp_error(BIG, mp.mpf(10) ** 400) == math.inf
    assert ulp_error(math.inf, Fraction(10) ** 400) == 0.0                # Fractions beyond the float range too
    assert ulp_error(-math.inf, -Fraction(10) ** 400) == 0.0
    assert ulp_error(math.nan, mp.mpf(1)) == math.inf
    assert ulp_error(math.inf, mp.mpf(1)) == math.inf


@settings(max_examples=300, deadline=None)
@given(x=positive_floats(max_value=1e307))
def test_neighbours_are_one_ulp_apart_and_midpoints_half(x):
    up = float(np.nextafter(x, math.inf))
    assert ulp_error(x, Fraction(x)) == 0.0
    assert ulp_error(up, Fraction(x)) == 1.0
    # the midpoint is a tie; rounded up to a power of two (twice the spacing) it is a quarter ulp away
    assert ulp_error(x, (Fraction(x) + Fraction(up)) / 2) == (0.5 if np.spacing(x) == np.spacing(up) else 0.25)
    assert ulp_error(x, mp.mpf(x)) == 0.0 and ulp_error(up, mp.mpf(x)) == 1.0


# ---------------------------------------------------------------- assert_ulp

def test_assert_ulp_passes_at_the_bound_and_fails_beyond_it():
    x = np.array([1.0, 2.0, 3.0])
    exact = [mp.mpf(1), mp.mpf(2), mp.mpf(3)]
    got = x.copy()
    got[1] = np.nextafter(2.0, 3.0)
    errors = assert_ulp(got, exact, 1.0)                   # inclusive
    assert errors.tolist() == [0.0, 1.0, 0.0]
    with pytest.raises(AssertionError, match=r"1 of 3 points beyond ulp 0\.5; worst 1\.0 at index \(1,\) \(x=2\.0\)"):
        assert_ulp(got, exact, 0.5, inputs={"x": x})


def test_assert_ulp_reports_the_worst_point_and_counts_the_failures():
    got = np.array([[1.0, np.nextafter(1.0, 2)], [float(np.nextafter(np.nextafter(1.0, 2), 2)), 1.0]])
    with pytest.raises(AssertionError) as info:
        assert_ulp(got, mp.mpf(1), 0.5, inputs={"lr": np.array([[0.1, 0.2], [0.3, 0.4]])})
    message = str(info.value)
    assert message.startswith("2 of 4 points beyond ulp 0.5; worst 2.0 at index (1, 0) (lr=")
    assert "0.3" in message and "expected 1.0" in message


def test_assert_ulp_fails_on_nan_and_on_a_wrong_overflow():
    with pytest.raises(AssertionError, match="worst inf"):
        assert_ulp([1.0, math.nan], [mp.mpf(1), mp.mpf(1)], 1e6)
    with pytest.raises(AssertionError):
        assert_ulp(BIG, mp.mpf(10) ** 400, 1e300)
    assert_ulp(math.inf, mp.mpf(10) ** 400, 0.0)


# ---------------------------------------------------------------- rel_error, assert_rel

def test_rel_error_values():
    assert rel_error(1.0, mp.mpf(1)) == 0.0
    assert rel_error(1.5, mp.mpf(1)) == 0.5
    assert rel_error(3.0, Fraction(4)) == 0.25
    assert rel_error(0.0, mp.mpf(0)) == 0.0 and rel_error(1e-300, mp.mpf(0)) == math.inf
    assert rel_error(1 + 1j, mp.mpc(1, 0)) == 1.0
    with mp.workdps(50):
        e = mp.mpf(1) / 3
    assert rel_error(1 / 3, e) == pytest.approx(float(abs(mp.mpf(1 / 3) - e) / e), rel=1e-15)


def test_assert_rel_is_strict_and_exact():
    eps = 2.0**-40
    got = 1.0 + eps
    assert_rel(got, mp.mpf(1), 2 * eps)
    with pytest.raises(AssertionError, match="1 of 1 points beyond rtol"):
        assert_rel(got, mp.mpf(1), eps)                    # |a - e| = rtol |e| exactly: fails, as '<' does
    with pytest.raises(AssertionError):
        assert_rel(got, Fraction(1), eps)
    assert_rel(got, mp.mpf(1), 0.0, atol=2 * eps)
    assert_rel([0.0, 2.0], [mp.mpf(0), mp.mpf(2)], 0.0)   # equal values pass whatever the bound


def test_assert_rel_reports_the_worst_point():
    got = np.array([1.0, 1.0 + 1e-10, 1.0 + 1e-12, 1.0 + 1e-3])
    with pytest.raises(AssertionError) as info:
        assert_rel(got, mp.mpf(1), 1e-11, inputs={"x": np.arange(4.0)})
    message = str(info.value)
    worst = rel_error(got[3], mp.mpf(1))
    assert message.startswith(f"2 of 4 points beyond rtol 1e-11; worst {worst!r} at index (3,) (x=3.0)")
    with pytest.raises(AssertionError, match="worst inf"):
        assert_rel([1.0, math.nan], mp.mpf(1), 1.0)


# ---------------------------------------------------------------- the references solve their defining equations

@settings(max_examples=100, deadline=None)
@given(z=positive_floats(max_value=1e300), lr=log_uniform(1e-6, 1e2))
def test_mp_vf_is_the_root_of_the_scaled_cubic(z, lr):
    with mp.workdps(60):
        x = mp_vf(z, lr)
        w = mp.mpf(z) * mp.mpf(lr) ** 2 / 4
        assert 0 < x <= 1 + mp.mpf(10) ** -55  # in [0, 1] to its working precision
        assert abs(x**3 + w * x - w) <= mp.mpf(10) ** -50 * (x**3 + 2 * w)


def test_mp_vf_and_threshold_limits():
    assert mp_vf(0.0, 0.1) == 0 and mp_vf(math.inf, 0.1) == 1
    assert mp_vgd_threshold(0.125, 0.0, 1.0) == 16          # sigma = 0: GD
    # N_s and sigma enter only through N_s / sigma^2 (sigma / 2 is exact, so both z are the same rounding)
    assert mp_vgd_threshold(0.1, 0.3, 2.0, 4) == mp_vgd_threshold(0.1, 0.15, 2.0, 1)


@settings(max_examples=100, deadline=None)
@given(lr=log_uniform(1e-8, 1e4), rho=log_uniform(1e-30, 1e6), g=log_uniform(1e-8, 1e8))
def test_mp_sam_edge_is_the_root_of_the_edge_equation(lr, rho, g):
    lam = mp_sam_edge(lr, rho, g)
    with mp.workdps(60):
        residual = mp.mpf(lr) * lam * (1 + mp.mpf(rho) * lam / mp.mpf(g)) - 2
    assert abs(residual) <= mp.mpf(10) ** -45


def test_mp_marchenko_pastur_integrates_to_one_with_the_right_mean():
    with mp.workdps(30):
        for q, s2 in [(0.3, 2.0), (2.5, 0.7)]:
            law = MpMarchenkoPastur(q, s2)
            mid = (law.a + law.b) / 2
            mass = mp.quad(law.pdf, [law.a, mid, law.b])
            mean = mp.quad(lambda x: x * law.pdf(x), [law.a, mid, law.b])
            assert abs(law.atom + mass - 1) < mp.mpf(10) ** -20
            assert abs(mean - law.s2) < mp.mpf(10) ** -20
            assert abs(law.closed_cdf(law.b) - 1) == 0 and law.closed_cdf(-1) == 0
            # G = -m on the real axis beyond the edge
            z = law.b + 1
            assert abs(law.cauchy(z) + law.stieltjes(z)) < mp.mpf(10) ** -20


def test_nested_mfpt_equals_the_closed_inner_integral():
    k, t, x0, x1 = 2.0, 0.5, 0.0, 0.5
    nested = mp_mfpt(lambda x: k * x * x / 2, x0, x1, t, dps=20)
    assert abs(nested / mp_ou_mfpt(k, t, x0, x1, dps=20) - 1) < mp.mpf(10) ** -18


# ---------------------------------------------------------------- strategies

def test_strategies_cover_their_ranges():
    assert find(positive_floats(), lambda x: x < TINY) < TINY            # reaches the subnormals
    assert find(positive_floats(), lambda x: x > 1e300) > 1e300
    assert find(nonnegative_floats(), lambda x: x == 0) == 0
    assert find(dofs(), lambda x: math.isinf(x)) == math.inf
    assert find(signed_log_uniform(1e-6, 1e3), lambda x: x < 0) < 0


@settings(max_examples=200, deadline=None)
@given(s=subnormal_floats(), p=positive_floats(), d=dofs(2.5, 100), u=log_uniform(1e-4, 10.0),
       v=signed_log_uniform(1e-6, 1e3), n=st.integers(1, 3))
def test_strategies_stay_in_their_ranges(s, p, d, u, v, n):
    assert 0 < s < TINY
    assert 0 < p <= 1e308
    assert d == math.inf or 2.5 <= d <= 100
    assert 1e-4 * (1 - 1e-15) <= u <= 10.0 * (1 + 1e-15)
    assert 1e-6 * (1 - 1e-15) <= abs(v) <= 1e3 * (1 + 1e-15)
