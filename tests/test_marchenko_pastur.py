"""theory.marchenko_pastur: accuracy against mpmath, quantiles, moments, Stieltjes transform, spikes, bad input."""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from theory import DomainError
from theory.marchenko_pastur import (
    MarchenkoPastur,
    additive_spike_eigenvalue,
    additive_spike_overlap,
    additive_spike_threshold,
    bbp_threshold,
    mp_effective_number,
    spike_eigenvalue,
    spike_overlap,
    stieltjes,
)

# local names kept where a test uses them: hypothesis derives its examples from the test's source
from reference import MpMarchenkoPastur as Ref
from reference import assert_rel
from reference import rel_error as rel

DPS = 40
RATIOS = [1e-4, 0.01, 0.3, 0.999999, 1.0, 1.000001, 2.5, 100.0, 1e4]


def edge_points(d):
    """Points across the support, including within 1e-12 (relative) of both edges."""
    a, b = d.support()
    w = b - a
    near_a = a * (1 + 1e-12) if a > 0 else 1e-12 * w
    return [near_a, a + 1e-9 * w, a + 1e-5 * w, a + 0.01 * w, a + 0.3 * w, a + 0.5 * w, a + 0.8 * w,
            b - 1e-3 * w, b - 1e-8 * w, b * (1 - 1e-12)]


# ---------------------------------------------------------------- pdf, cdf, sf accuracy

def test_reference_closed_form_equals_quadrature():
    # the arctan closed form of the cdf (used as the fast reference below) against quadrature of the density
    with mp.workdps(30):
        for q, s2 in [(1e-4, 1.0), (0.3, 2.0), (1.0, 1.0), (2.5, 3.0), (1e4, 0.5)]:
            ref = Ref(q, s2)
            for u in [1e-6, 0.3, 0.999]:
                x = ref.a + u * (ref.b - ref.a)
                assert abs(ref.closed_cdf(x) - ref.atom - ref.cont_cdf(x)) < mp.mpf(10) ** -16


@pytest.mark.parametrize("q, s2", [(q, [1.0, 0.37, 2.5][i % 3]) for i, q in enumerate(RATIOS)])
def test_pdf_cdf_sf_match_mpmath_from_edge_to_edge(q, s2):
    d = MarchenkoPastur(q, s2)
    xs = edge_points(d)
    with mp.workdps(60):
        ref = Ref(q, s2)
        cdf = [ref.closed_cdf(x) for x in xs]
        sf = [1 - c for c in cdf]
        pdf = [ref.pdf(x) for x in xs]
    assert_rel([d.pdf(x) for x in xs], pdf, 1e-14, inputs={"x": xs})
    assert_rel([d.cdf(x) for x in xs], cdf, 5e-14, inputs={"x": xs})
    assert_rel([d.sf(x) for x in xs], sf, 5e-14, inputs={"x": xs})


@settings(max_examples=40, deadline=None)
@given(log_q=st.floats(-4, 4), u=st.floats(1e-6, 1 - 1e-6), s2=st.floats(0.01, 100))
def test_cdf_matches_mpmath_for_random_ratios(log_q, u, s2):
    q = 10.0**log_q
    d = MarchenkoPastur(q, s2)
    a, b = d.support()
    x = a + u * (b - a)
    with mp.workdps(60):
        ref = Ref(q, s2)
        assert rel(d.cdf(x), ref.closed_cdf(x)) < 5e-14
        assert rel(d.sf(x), 1 - ref.closed_cdf(x)) < 5e-14
        assert rel(d.pdf(x), ref.pdf(x)) < 1e-14


def test_atom_and_edges():
    d = MarchenkoPastur(2.5)
    assert d.atom == pytest.approx(0.6, rel=1e-15)
    assert d.pdf(0.0) == 0.0  # density of the continuous part: 0 at 0, never NaN
    assert d.cdf(0.0) == d.atom and d.cdf(-1e-300) == 0.0
    assert d.sf(0.0) == pytest.approx(0.4, rel=1e-15) and d.sf(-1.0) == 1.0
    a, b = d.support()
    assert d.cdf(a) == d.atom and d.cdf(b) == 1.0
    assert 0 <= d.sf(b) < 1e-24  # the float l+ lies just inside the exact edge
    assert d.sf(np.nextafter(b, np.inf)) == 0.0
    assert d.cdf(np.inf) == 1.0 and d.pdf(np.inf) == 0.0
    assert MarchenkoPastur(0.5).atom == 0.0 and MarchenkoPastur(1.0).atom == 0.0
    one = MarchenkoPastur(1.0, 2.0)
    assert one.support() == (0.0, 8.0)
    assert one.pdf(0.0) == np.inf  # the x^(-1/2) divergence at l- = 0
    # density near 0 for q = 1: 1 / (pi sqrt(s2 x)) to leading order
    assert one.pdf(1e-20) == pytest.approx(1 / (np.pi * np.sqrt(2e-20)), rel=1e-9)


def test_scalars_in_floats_out_and_broadcasting():
    d = MarchenkoPastur(0.5)
    assert isinstance(d.pdf(1.0), float) and isinstance(d.cdf(1.0), float)
    assert isinstance(d.ppf(0.5), float)
    x = np.linspace(-1, 4, 12).reshape(3, 4)
    assert d.cdf(x).shape == (3, 4) and d.ppf(d.cdf(x) * 0.5).shape == (3, 4)
    assert np.all(np.diff(d.cdf(np.linspace(-1, 4, 1000))) >= 0)
    assert repr(d) == "MarchenkoPastur(ratio=0.5, scale=1.0)"


# ---------------------------------------------------------------- quantiles

def assert_brackets(ref, x, prob, upper=False):
    """The exact quantile of ``prob`` lies within 1e-13 of the distance to the nearer edge (plus 2 ulp) of x."""
    xm = mp.mpf(x)
    tol = mp.mpf(1e-13) * min(xm - ref.a, ref.b - xm) + 2 * mp.mpf(np.spacing(x))
    slack = 2 * mp.mpf(np.spacing(prob))  # the float probability itself (and a float atom) is known to an ulp
    if upper:
        assert 1 - ref.closed_cdf(xm + tol) - slack <= prob <= 1 - ref.closed_cdf(xm - tol) + slack, (prob, x)
    else:
        assert ref.closed_cdf(xm - tol) - slack <= prob <= ref.closed_cdf(xm + tol) + slack, (prob, x)


@pytest.mark.parametrize("q", [1e-4, 0.3, 0.999999, 1.0, 2.5, 1e4])
def test_ppf_and_isf_solve_the_mpmath_cdf(q):
    d = MarchenkoPastur(q, 0.7)
    mass = d.sf(0.0)  # of the continuous part
    with mp.workdps(60):
        ref = Ref(q, 0.7)
        for p in d.atom + mass * np.array([1e-12, 1e-6, 1e-3, 0.2, 0.5]):
            assert_brackets(ref, d.ppf(p), p)
        for s in mass * np.array([1e-30, 1e-12, 1e-3, 0.2]):
            assert_brackets(ref, d.isf(s), s, upper=True)


@pytest.mark.parametrize("q", [1e-4, 0.3, 1.0, 1.000001, 2.5, 1e4])
def test_ppf_cdf_round_trip(q):
    d = MarchenkoPastur(q, 1.3)
    rng = np.random.default_rng(11)
    a, b = d.support()
    x = a + (b - a) * rng.uniform(1e-3, 1 - 1e-3, 500)
    if q <= 1:  # for q > 1 the atom swallows the last digits of cdf near l-; sf keeps them
        assert np.max(np.abs(d.ppf(d.cdf(x)) - x) / (b - a)) < 1e-13
    assert np.max(np.abs(d.isf(d.sf(x)) - x) / (b - a)) < 1e-13
    p = np.concatenate([rng.uniform(0, 1, 250), d.atom + d.sf(0.0) * rng.uniform(0, 1, 250)])
    back = d.cdf(d.ppf(p))
    cont = p > d.atom
    assert np.max(np.abs(back - p)[cont]) < 1e-14
    assert np.all(back[~cont] == d.atom)


def test_ppf_exact_endpoints_and_atom():
    d = MarchenkoPastur(0.5, 2.0)
    a, b = d.support()
    assert d.ppf(0.0) == a and d.ppf(1.0) == b
    assert d.isf(0.0) == b and d.isf(1.0) == a
    d = MarchenkoPastur(4.0)
    assert d.ppf(0.0) == 0.0 and d.ppf(0.75) == 0.0 and d.ppf(0.5) == 0.0
    assert d.ppf(np.nextafter(0.75, 1)) >= d.support()[0]
    assert d.ppf(1.0) == d.support()[1] and d.isf(0.25) == 0.0
    assert MarchenkoPastur(1.0).ppf(0.0) == 0.0


# ---------------------------------------------------------------- moments

@pytest.mark.parametrize("q", [0.01, 0.5, 1.0, 3.0, 50.0])
def test_moments_match_narayana_and_quadrature(q):
    s2 = 1.7
    d = MarchenkoPastur(q, s2)
    with mp.workdps(DPS):
        ref = Ref(q, s2)
        for k in range(0, 9):
            narayana = mp.mpf(1) if k == 0 else ref.s2**k * mp.fsum(
                mp.binomial(k, r) * mp.binomial(k - 1, r) * ref.q**r / (r + 1) for r in range(k))
            assert d.moment(k) == float(narayana)  # correctly rounded
            if k > 0:
                quad = mp.quad(lambda x: x**k * ref.pdf(x), [ref.a, (ref.a + ref.b) / 2, ref.b])
                assert rel(d.moment(k), quad) < 1e-13  # the atom adds 0 for k >= 1
    assert d.mean() == s2 == d.moment(1)
    assert d.var() == pytest.approx(s2 * s2 * q, rel=1e-15)
    assert d.var() == pytest.approx(d.moment(2) - d.moment(1) ** 2, rel=1e-12)
    assert d.std() == pytest.approx(np.sqrt(d.var()), rel=1e-15)


# ---------------------------------------------------------------- Stieltjes transform

@pytest.mark.parametrize("q", [0.3, 1.0, 2.5])
def test_stieltjes_matches_quadrature(q):
    s2 = 1.4
    with mp.workdps(30):
        for z in [1 + 1j, -0.5 + 0j, 0.3 + 0.01j, 10.0 + 0j, -1e-3 + 0j, 1e3 + 5j, 2.0 - 1j]:
            assert abs(stieltjes(z, q, s2) - complex(Ref(q, s2).stieltjes(z))) <= 1e-14 * abs(stieltjes(z, q, s2))


@settings(max_examples=200, deadline=None)
@given(log_q=st.floats(-3, 3), re=st.floats(-50, 50), log_im=st.floats(-8, 3), s2=st.floats(0.1, 10))
def test_stieltjes_root_branch_herglotz(log_q, re, log_im, s2):
    q, z = 10.0**log_q, complex(re, 10.0**log_im)
    m = stieltjes(z, q, s2)
    assert m.imag > 0  # Herglotz
    assert stieltjes(z.conjugate(), q, s2) == pytest.approx(m.conjugate(), rel=1e-15)
    # the defining quadratic s2 q z m^2 + (z - s2 (1 - q)) m + 1 = 0, relative to its terms
    terms = [s2 * q * z * m * m, (z - s2 * (1 - q)) * m, 1.0]
    assert abs(sum(terms)) <= 1e-13 * max(abs(t) for t in terms)


def test_stieltjes_real_axis_and_infinity():
    q, s2 = 0.5, 2.0
    d = MarchenkoPastur(q, s2)
    a, b = d.support()
    for x in [-3.0, 0.5 * a, b * 1.5]:
        m = d.stieltjes(x)
        assert m.imag == 0.0 and isinstance(m, complex)
    x = np.linspace(a, b, 9)[1:-1]
    assert np.allclose(d.stieltjes(x).imag, np.pi * d.pdf(x), rtol=1e-14, atol=0)
    assert stieltjes(0.0, q, s2) == pytest.approx(1 / (s2 * (1 - q)), rel=1e-15)  # E[1/lambda]
    for r in [1e4, 1e8, 1e12]:
        z = r * np.exp(0.7j)
        assert abs(z * stieltjes(z, q, s2) + 1) <= 2 * s2 / r  # m ~ -1/z - mean/z^2
    # q > 1: the atom's pole at 0, m ~ -(1 - 1/q) / z
    z = 1e-9j
    assert abs(z * stieltjes(z, 4.0) + 0.75) < 1e-8
    assert stieltjes(0.0, 4.0).imag == np.inf


# ---------------------------------------------------------------- effective number

def test_effective_number_matches_a_wishart_example():
    # 2000 x 1000 with s2 = 2, alpha = 0.3: the formula gives 800.00 (a sample's eigenvalue sum gives 799.86)
    assert f"{mp_effective_number(0.3, 1000 / 2000, 1000, scale=2.0):.2f}" == "800.00"
    assert mp_effective_number(0.3, 0.5, 1000, 2.0) == pytest.approx(800.0, rel=1e-15)


@pytest.mark.parametrize("q", [0.01, 0.5, 1.0, 2.0, 100.0])
@pytest.mark.parametrize("alpha", [1e-12, 1e-3, 0.3, 5.0, 1e6])
def test_effective_number_matches_quadrature(q, alpha):
    s2, n = 1.5, 1000
    with mp.workdps(30):
        ref = Ref(q, s2)
        al = mp.mpf(alpha)
        exact = n * mp.quad(lambda x: x / (x + al) * ref.pdf(x), [ref.a, (ref.a + ref.b) / 2, ref.b])
    assert rel(mp_effective_number(alpha, q, n, s2), exact) < 1e-13


def test_effective_number_limits_and_stieltjes_identity():
    for q in [0.25, 1.0, 4.0, 1e4]:
        assert mp_effective_number(1e-300, q, 100) == pytest.approx(100 * min(1, 1 / q), rel=1e-14)
        assert mp_effective_number(np.inf, q, 100) == 0.0
        assert mp_effective_number(1e300, q, 100, 3.0) == pytest.approx(100 * 3.0 / 1e300, rel=1e-12)
        alpha = 0.7
        m = stieltjes(-alpha, q, 3.0)
        assert mp_effective_number(alpha, q, 100, 3.0) == pytest.approx(100 * (1 - alpha * m.real), rel=1e-12)
    out = mp_effective_number(np.array([0.1, 1.0, 10.0]), np.array([[0.5], [2.0]]), 10)
    assert out.shape == (2, 3) and np.all(np.diff(out, axis=1) < 0)


# ---------------------------------------------------------------- sampling

def test_rvs_passes_ks_against_the_cdf():
    # false-alarm rate 1e-3 per test at these fixed seeds
    d = MarchenkoPastur(0.5, 2.0)
    x = d.rvs(20_000, seed=20240611)
    assert stats.kstest(x, d.cdf).pvalue > 1e-3
    # q > 1: the atom's frequency (binomial z-test) and the continuous part (KS, conditional cdf)
    d = MarchenkoPastur(2.5)
    x = d.rvs(20_000, seed=77)
    zeros = np.mean(x == 0.0)
    assert abs(zeros - d.atom) / np.sqrt(d.atom * (1 - d.atom) / x.size) < 3.29
    cont = x[x > 0]
    assert stats.kstest(cont, lambda y: (d.cdf(y) - d.atom) / (1 - d.atom)).pvalue > 1e-3
    assert cont.min() >= d.support()[0] and cont.max() <= d.support()[1]


def test_rvs_reproducible():
    d = MarchenkoPastur(0.3)
    a = d.rvs(100, seed=7)
    assert np.array_equal(a, d.rvs(100, seed=7))
    assert np.array_equal(a, d.rvs(100, seed=np.random.SeedSequence(7)))
    assert np.array_equal(a, d.rvs(100, seed=np.random.default_rng(7)))
    assert not np.array_equal(a, d.rvs(100, seed=8))
    assert d.rvs((2, 3), seed=1).shape == (2, 3)
    assert isinstance(d.rvs(seed=1), float)
    assert np.array_equal(d.rvs(100), d.rvs(100, seed=0))  # the default seed is 0
    with pytest.warns(DeprecationWarning, match="'rng' is deprecated; use 'seed'"):
        assert np.array_equal(d.rvs(100, rng=7), a)


def test_effective_number_keeps_its_old_name_as_a_deprecated_alias():
    from theory import marchenko_pastur

    with pytest.warns(DeprecationWarning, match="mp_effective_number"):
        old = marchenko_pastur.effective_number(0.3, 0.5, 1000, 2.0)
    assert old == mp_effective_number(0.3, 0.5, 1000, 2.0)


# ---------------------------------------------------------------- spikes

@pytest.mark.parametrize("q, ell", [(0.5, 3.0), (0.1, 1.5), (2.0, 4.0), (1.0, 2.2)])
def test_bbp_outlier_and_overlap_solve_the_defining_equations(q, ell):
    s2 = 1.3
    with mp.workdps(30):
        ref = Ref(q, 1.0)
        theta = mp.mpf(ell) - 1
        rho = mp.findroot(lambda z: ref.t_transform(z) - 1 / theta, (ref.b * (1 + mp.mpf(10) ** -8), 10 * ref.b + 10),
                          solver="anderson")
        assert rel(spike_eigenvalue(ell, q, s2), s2 * rho) < 1e-13
        dT = -mp.quad(lambda t: t * ref.pdf(t) / (rho - t) ** 2, [ref.a, ref.b])
        overlap = -(1 + theta) / (theta**2 * rho * dT)  # from the resolvent of W (I + theta v v^T)
        assert rel(spike_overlap(ell, q), overlap) < 1e-13


def test_bbp_reference_values_and_below_threshold():
    assert spike_eigenvalue(3.0, 0.5) == pytest.approx(3.75, rel=1e-15)
    assert spike_overlap(3.0, 0.5) == pytest.approx(0.70, rel=1e-15)
    q = 0.5
    edge = (1 + np.sqrt(q)) ** 2
    assert bbp_threshold(q) == 1 + np.sqrt(q)
    for ell in [0.5, 1.0, 1.5, bbp_threshold(q)]:
        assert spike_eigenvalue(ell, q, 2.0) == pytest.approx(2 * edge, rel=1e-15)
        assert spike_overlap(ell, q) == 0.0
    # continuous at the threshold
    just = bbp_threshold(q) * (1 + 1e-9)
    assert spike_eigenvalue(just, q) == pytest.approx(edge, rel=1e-12)
    assert 0 < spike_overlap(just, q) < 1e-8


@pytest.mark.parametrize("q, t", [(0.5, 2.0), (0.1, 0.6), (3.0, 6.0), (1.0, 2.5)])
def test_additive_outlier_and_overlap_solve_the_defining_equations(q, t):
    s2 = 0.8
    with mp.workdps(30):
        ref = Ref(q, 1.0)
        rho = mp.findroot(lambda z: ref.cauchy(z) - 1 / mp.mpf(t), (ref.b * (1 + mp.mpf(10) ** -8), 10 * ref.b + 10),
                          solver="anderson")
        assert rel(additive_spike_eigenvalue(t * s2, q, s2), s2 * rho) < 1e-13
        dG = -mp.quad(lambda x: ref.pdf(x) / (rho - x) ** 2, [ref.a, ref.b]) - ref.atom / rho**2
        assert rel(additive_spike_overlap(t * s2, q, s2), -1 / (mp.mpf(t) ** 2 * dG)) < 1e-13


def test_additive_threshold_and_below():
    q, s2 = 0.5, 2.0
    thr = additive_spike_threshold(q, s2)
    assert thr == pytest.approx(s2 * (q + np.sqrt(q)), rel=1e-15)
    with mp.workdps(30):  # the threshold is 1 / G(l+)
        ref = Ref(q, s2)
        assert rel(thr, 1 / ref.cauchy(ref.b)) < 1e-12
    edge = s2 * (1 + np.sqrt(q)) ** 2
    for theta in [0.0, 0.5, thr]:
        assert additive_spike_eigenvalue(theta, q, s2) == pytest.approx(edge, rel=1e-15)
        assert additive_spike_overlap(theta, q, s2) == 0.0
    assert additive_spike_eigenvalue(thr * (1 + 1e-9), q, s2) == pytest.approx(edge, rel=1e-8)


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("call, name", [
    (lambda: MarchenkoPastur(0.0), "ratio"),
    (lambda: MarchenkoPastur(-1.0), "ratio"),
    (lambda: MarchenkoPastur(np.inf), "ratio"),
    (lambda: MarchenkoPastur(np.nan), "ratio"),
    (lambda: MarchenkoPastur(0.5, 0.0), "scale"),
    (lambda: MarchenkoPastur(0.5, np.inf), "scale"),
    (lambda: MarchenkoPastur([0.5, 1.0]), "ratio and scale"),
    (lambda: MarchenkoPastur(0.5).ppf(1.5), "p"),
    (lambda: MarchenkoPastur(0.5).ppf(-0.1), "p"),
    (lambda: MarchenkoPastur(0.5).isf(2.0), "s"),
    (lambda: MarchenkoPastur(0.5).cdf(np.nan), "x"),
    (lambda: MarchenkoPastur(0.5).moment(-1), "k"),
    (lambda: stieltjes(1j, 0.0), "ratio"),
    (lambda: stieltjes(np.nan, 0.5), "z"),
    (lambda: mp_effective_number(0.0, 0.5, 10), "alpha"),
    (lambda: mp_effective_number(-1.0, 0.5, 10), "alpha"),
    (lambda: mp_effective_number(1.0, 0.5, 0), "n_params"),
    (lambda: mp_effective_number(1.0, -0.5, 10), "ratio"),
    (lambda: mp_effective_number(1.0, 0.5, 10, scale=-1), "scale"),
    (lambda: bbp_threshold(0.0), "ratio"),
    (lambda: spike_eigenvalue(-1.0, 0.5), "ell"),
    (lambda: spike_overlap(np.inf, 0.5), "ell"),
    (lambda: additive_spike_eigenvalue(-1.0, 0.5), "theta"),
    (lambda: additive_spike_overlap(1.0, 0.5, 0.0), "scale"),
    (lambda: additive_spike_threshold(np.inf), "ratio"),
])
def test_bad_input_raises_domain_error_naming_the_parameter(call, name):
    with pytest.raises(DomainError, match=rf"^{name} must be"):
        call()


# ---------------------------------------------------------------- extremes (issue 12)

def test_law_is_exact_at_any_scale():
    with mp.workdps(DPS):
        assert rel(MarchenkoPastur(0.5, 1e-300).pdf(1.5e-300), Ref(0.5, 1e-300).pdf(1.5e-300)) < 1e-15
        assert rel(MarchenkoPastur(0.5, 1e160).pdf(1.5e160), Ref(0.5, 1e160).pdf(1.5e160)) < 1e-15
    assert MarchenkoPastur(0.5, 1e160).cdf(1.5e160) == pytest.approx(MarchenkoPastur(0.5, 1.0).cdf(1.5), rel=1e-15)


@settings(max_examples=150, deadline=None)
@given(st.floats(-3, 3), st.floats(-300, 300), st.floats(0.01, 0.99))
def test_scaled_law_matches_mpmath_and_the_unit_law(log_q, log_s2, u):
    q, s2 = 10.0 ** log_q, 10.0 ** log_s2
    d, unit = MarchenkoPastur(q, s2), MarchenkoPastur(q, 1.0)
    lo, hi = unit.support()
    x1 = lo + u * (hi - lo)
    x = x1 * s2
    with mp.workdps(DPS):
        ref = Ref(q, s2)
        assert rel(d.pdf(x), ref.pdf(x)) < 2e-14  # the edges' conditioning, as at unit scale
        assert rel(d.support()[1], ref.b) < 4e-16
        assert rel(d.cdf(x), ref.closed_cdf(x)) < 2e-14
    assert rel(d.ppf(0.3) / s2, unit.ppf(0.3)) < 1e-14
    m = d.stieltjes(x + 1j * s2)
    assert abs(m * s2 - unit.stieltjes(x / s2 + 1j)) <= 1e-14 * abs(m * s2)


def test_unchanged_at_scales_in_half_to_two():
    # the factored power of 4 is 0 there: same operations, same bits
    d = MarchenkoPastur(0.3, 1.5)
    assert d._k == 0
    assert MarchenkoPastur(0.3, 4 * 1.5).pdf(4 * 0.9) == d.pdf(0.9) / 4


def test_stieltjes_limits():
    assert stieltjes(0.0, 2.0) == complex(0.5, np.inf)  # 1/(s2 q (q-1)) + i inf, no NaN real part
    assert stieltjes(np.inf, 2.0) == 0 and stieltjes(complex(-np.inf, 1.0), 0.5) == 0
    assert stieltjes(1e300, 2.0, 1e-300) == pytest.approx(-1e-300, rel=1e-15)
    assert stieltjes(1e-300, 2.0, 1e300).real == pytest.approx(-0.5e300, rel=1e-15)  # the atom's pole
    assert stieltjes(5e-324, 2.0, 2.0).real == -np.inf
    assert stieltjes(1e-300, 1.0, 1e300) == pytest.approx(1j, rel=1e-15)  # i/sqrt(s2 z)
    with pytest.raises(DomainError, match="ratio"):
        MarchenkoPastur(1.7e308)


def test_moments_are_fast_and_overflow_to_inf():
    import time

    for args, k, want in [((0.5,), 1e308, np.inf), ((0.5,), 10**308, np.inf), ((0.5, 1e-300), 10**6, 0.0),
                          ((0.5,), 10000, np.inf), ((1.0, 1e-300), 10**300, 0.0)]:
        t = time.perf_counter()
        assert MarchenkoPastur(*args).moment(k) == want
        assert time.perf_counter() - t < 1.0


@pytest.mark.parametrize("q, s2, k", [(0.5, 0.34, 3000), (1.0, 0.25, 100_000), (0.37, 0.9, 450), (4.0, 0.11, 800)])
def test_large_moments_against_mpmath(q, s2, k):
    with mp.workdps(60):
        want = mp.mpf(s2) ** k * mp.hyp2f1(1 - k, -k, 2, mp.mpf(q))
    assert rel(MarchenkoPastur(q, s2).moment(k), want) < 1.2e-16  # correctly rounded


def test_moment_refuses_what_it_cannot_resolve():
    with pytest.raises(DomainError, match="k must be"):
        MarchenkoPastur(1.0, 0.25).moment(10**9)


@settings(max_examples=300, deadline=None)
@given(st.floats(0, 300), st.floats(-8, 8), st.floats(-300, 300))
def test_spike_formulas_at_extreme_scales(log_ell, log_q, log_s2):
    ell, q, s2 = 10.0 ** log_ell, 10.0 ** log_q, 10.0 ** log_s2
    with mp.workdps(DPS):
        e_, q_, s_ = mp.mpf(ell), mp.mpf(q), mp.mpf(s2)
        r = mp.sqrt(q_)
        above = e_ > 1 + r
        eig = s_ * (e_ * (1 + q_ / (e_ - 1)) if above else (1 + r) ** 2)
        ovl = (e_ - 1 - r) * (e_ - 1 + r) / ((e_ - 1) * (e_ - 1 + q_)) if above else 0
        t = e_ / s_
        add = s_ * (t + t / (t - q_)) if t > q_ + r else s_ * (1 + r) ** 2
    if float(eig) < 1.7e308:
        assert rel(spike_eigenvalue(ell, q, s2), eig) < 4e-16
    got = spike_overlap(ell, q)
    assert got == float(ovl) or rel(got, ovl) < 1e-15
    if 2.3e-308 < float(add) < 1.7e308:
        assert rel(additive_spike_eigenvalue(ell, q, s2), add) < 4e-16


def test_refusals_name_the_parameter():
    with pytest.raises(DomainError, match="ratio .* and scale"):
        additive_spike_threshold(np.ones((2, 2)), np.ones(3))
    with pytest.raises(TypeError, match="size"):
        MarchenkoPastur(0.5).rvs(size=True)
    with pytest.raises(TypeError, match="size"):
        MarchenkoPastur(0.5).rvs(size=np.nan)
    with pytest.raises(DomainError, match="z .* and ratio"):
        stieltjes(np.ones(2), np.ones(3))
    with pytest.raises(TypeError, match="ell"):
        spike_eigenvalue(True, 0.5)
