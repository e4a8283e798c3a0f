"""theory._exact: the error-free transformations and the accurately rounded evaluator."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from theory._exact import rational, two_prod, two_sum

from reference import normal_floats

finite = normal_floats(-1e150, 1e150)


@given(a=finite, b=finite)
def test_two_sum_is_exact(a, b):
    s, e = two_sum(np.float64(a), np.float64(b))
    assert Fraction(float(s)) + Fraction(float(e)) == Fraction(a) + Fraction(b)


@given(a=st.floats(-1e150, 1e150).filter(lambda x: x == 0 or abs(x) > 1e-140),
       b=st.floats(-1e150, 1e150).filter(lambda x: x == 0 or abs(x) > 1e-140))
def test_two_prod_is_exact(a, b):
    p, e = two_prod(np.float64(a), np.float64(b))
    assert Fraction(float(p)) + Fraction(float(e)) == Fraction(a) * Fraction(b)


def _poly(x, y, z):
    return x * x * (y * x - 2) + y * z**3 - x / (z + 3)


@settings(max_examples=300, deadline=None)
@given(x=st.floats(-1e6, 1e6), y=st.floats(-1e6, 1e6), z=st.floats(0, 1e6))
def test_rational_is_correctly_rounded(x, y, z):
    exact = _poly(Fraction(x), Fraction(y), Fraction(z))
    got = rational(_poly, x, y, z)
    # nearest float to the exact value, to within one ulp (double-double) and exactly via Fraction fallback
    assert abs(Fraction(float(got)) - exact) <= Fraction(float(np.spacing(abs(float(exact)))))


def test_rational_decides_exact_zeros_and_signs():
    # (a*b - c) with c the correctly rounded a*b: double-double sees the tiny remainder
    a, b = np.float64(0.1), np.float64(0.3)
    c = a * b
    r = rational(lambda a, b, c: a * b - c, a, b, c)
    assert Fraction(float(r)) == Fraction(float(a)) * Fraction(float(b)) - Fraction(float(c))
    assert rational(lambda x: x * x - x * x, np.array([1e-300, 3.0, 1e300])).tolist() == [0.0, 0.0, 0.0]


def test_rational_out_of_range_products_use_the_exact_path():
    # 1e300 * 1e300 / 1e300 overflows in float but not in exact arithmetic
    assert rational(lambda a, b, c: a * b / c, 1e300, 1e300, 1e300) == 1e300
    assert rational(lambda a, b: a * b, 1e300, 1e300) == np.inf
    assert rational(lambda a, b, c: a * b / c, 1e-300, 1e-300, 1e-300) == 1e-300


def test_rational_broadcasts():
    out = rational(lambda a, b: a * b - 1, np.arange(3.0)[:, None], np.ones(4))
    assert out.shape == (3, 4)
