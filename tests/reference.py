r"""Reference values, accuracy assertions and argument strategies shared by the tests.

* ``mp_*``: the formulas of :mod:`theory` re-evaluated in mpmath from their
  defining (unsimplified) forms, with the float inputs taken exactly, at 40 or
  more significant digits unless stated;
* ``quad_*`` and the ``marchenko_pastur_*`` closed forms: double-precision
  references (SciPy quadrature, NumPy), written out here and not imported from
  :mod:`theory`;
* :func:`ulp_error`, :func:`rel_error`, :func:`assert_ulp`, :func:`assert_rel`:
  the distance of a float result to a reference, and assertions over many points
  that report the worst one;
* hypothesis strategies for the argument ranges the tests draw from.

Conventions: ``lr`` is :math:`\eta`, ``sigma`` a standard deviation, ``rho``
the SAM radius :math:`\rho`, ``temperature`` the diffusion constant :math:`T`
(:math:`D`) of :math:`dx = -U'(x)\,dt + \sqrt{2T}\,dW`.
"""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath as mp
import numpy as np
from hypothesis import strategies as st
from scipy import integrate

__all__ = [
    "ulp_error", "rel_error", "assert_ulp", "assert_rel",
    "mp_vf", "mp_vgd_threshold", "mp_expected_loss_change", "mp_sam_edge", "mp_adaptive_threshold",
    "MpMarchenkoPastur", "mp_ou_mfpt", "mp_mfpt", "mp_variable_diffusion_mfpt",
    "exact_effective_number_terms",
    "marchenko_pastur_edges", "marchenko_pastur_pdf", "marchenko_pastur_cdf",
    "quartic_double_well", "quad_mfpt_langevin", "quad_mfpt_piecewise", "quad_boltzmann_left",
    "positive_floats", "nonnegative_floats", "subnormal_floats", "normal_floats", "learning_rates",
    "log_uniform", "signed_log_uniform", "dofs",
]

TINY = np.finfo(float).tiny
SMALLEST_SUBNORMAL = 5e-324


# ================================================================ distances to a reference

def _exact(x):
    """``x`` as an exact mpf or Fraction (floats and ints are exact rationals)."""
    if isinstance(x, (mp.mpf, Fraction)):
        return x
    if isinstance(x, (int, np.integer)):
        return Fraction(int(x))
    return Fraction(float(x))


def _rounded(expected) -> float:
    """The float nearest to ``expected`` (signed inf where it overflows)."""
    try:
        return float(expected)
    except OverflowError:  # a Fraction beyond the float range
        return math.inf if expected > 0 else -math.inf


def _abs_diff(actual: float, expected):
    """:math:`|a - e|`, exactly (an mpf with all its bits, or a Fraction)."""
    if isinstance(expected, mp.mpf):
        return abs(mp.fsub(mp.mpf(actual), expected, exact=True))
    return abs(Fraction(actual) - expected)


def ulp_error(actual, expected) -> float:
    r"""Distance of a float to a reference value in units in the last place.

    .. math:: \mathrm{ulp}(a, e) = \frac{|a - e|}{\operatorname{spacing}(\operatorname{fl}(e))},

    with :math:`\operatorname{fl}(e)` the float nearest to :math:`e` and the
    spacing that of float64 there (:math:`2^{-1074}` for subnormals and for a
    nonzero :math:`e` that rounds to 0). A correctly rounded result is within
    0.5 ulp. The difference and the scaling are exact; only the returned
    float is rounded.

    Parameters
    ----------
    actual : float
        The computed value.
    expected : mpmath.mpf, Fraction or float
        The reference value (an mpf keeps all its digits whatever the working
        precision at the call).

    Returns
    -------
    float
        The distance in ulp. Three cases are decided exactly: an exact 0 is
        matched only by 0, an :math:`e` beyond the float range only by the
        infinity of its sign (the correct rounding), and a NaN or infinite
        ``actual`` otherwise is ``inf`` ulp away.
    """
    actual = float(actual)
    expected = _exact(expected)
    if math.isnan(actual):
        return math.inf
    ref = _rounded(expected)
    if expected == 0:
        return 0.0 if actual == 0 else math.inf
    if math.isinf(ref):
        return 0.0 if actual == ref else math.inf
    if math.isinf(actual):
        return math.inf
    exponent = math.frexp(float(np.spacing(abs(ref))))[1] - 1  # spacing = 2**exponent
    diff = _abs_diff(actual, expected)
    if isinstance(diff, Fraction):
        return float(diff / Fraction(2) ** exponent)
    return float(mp.ldexp(diff, -exponent))


def rel_error(actual, expected) -> float:
    r"""Relative error :math:`|a - e|/|e|` of a float (or complex) against a reference.

    The difference is exact for real arguments, the quotient correctly rounded
    at 113 bits or the working precision if higher; an exact 0 is matched only
    by 0 (relative error 0, else ``inf``).

    Parameters
    ----------
    actual : float or complex
        The computed value.
    expected : mpmath.mpf, mpmath.mpc, Fraction, float or complex
        The reference value.
    """
    if isinstance(actual, complex) or isinstance(expected, (complex, mp.mpc)):
        with mp.workprec(max(mp.mp.prec, 113)):
            a, e = mp.mpc(actual), mp.mpc(expected)
            if e == 0:
                return 0.0 if a == 0 else math.inf
            return float(abs(a - e) / abs(e))
    actual = float(actual)
    expected = _exact(expected)
    if math.isnan(actual):
        return math.inf
    if expected == 0:
        return 0.0 if actual == 0 else math.inf
    if math.isinf(actual):
        return math.inf
    diff = _abs_diff(actual, expected)
    if isinstance(diff, Fraction):
        return float(diff / abs(expected))
    return float(mp.fdiv(diff, abs(expected), prec=max(mp.mp.prec, 113)))


def _points(actual, expected, inputs):
    """Broadcast ``actual`` (floats), ``expected`` (objects) and the named inputs to one flat array each."""
    e = np.empty(np.shape(expected), dtype=object)
    e[...] = expected
    a, e = np.broadcast_arrays(np.asarray(actual), e)
    named = {k: np.broadcast_to(np.asarray(v), a.shape).ravel() for k, v in (inputs or {}).items()}
    return a.ravel(), e.ravel(), named, a.shape


def _plain(x):
    """A NumPy scalar as the Python scalar it holds (for a readable repr)."""
    return x.item() if isinstance(x, np.generic) else x


def _report(kind, bound, worst, n_bad, n, a, e, named, shape, value):
    """The failure message: how many points fail, and the worst one with its inputs and values."""
    where = tuple(int(i) for i in np.unravel_index(worst, shape)) if shape else ()
    inputs = ", ".join(f"{k}={_plain(v[worst])!r}" for k, v in named.items())
    expected = mp.nstr(e[worst], 25) if isinstance(e[worst], (mp.mpf, mp.mpc)) else repr(_plain(e[worst]))
    return (f"{n_bad} of {n} points beyond {kind} {bound!r}; worst {value!r} at index {where}"
            f"{' (' + inputs + ')' if inputs else ''}: actual {_plain(a[worst])!r}, expected {expected}")


def assert_ulp(actual, expected, max_ulp, *, inputs=None):
    """Assert that every ``actual`` is within ``max_ulp`` ulp (:func:`ulp_error`) of ``expected``.

    Parameters
    ----------
    actual : float or array_like of float
        Computed values.
    expected : reference value or array_like of them
        mpf, Fraction or float, broadcast against ``actual``.
    max_ulp : float
        The largest distance allowed, inclusive.
    inputs : dict of str to array_like, optional
        The arguments of each point, named; shown for the worst point.

    Returns
    -------
    ndarray
        The distances in ulp, in the broadcast shape.

    Raises
    ------
    AssertionError
        Naming how many points fail, the worst distance, its index, its inputs,
        and the computed and reference values there.
    """
    a, e, named, shape = _points(actual, expected, inputs)
    errors = np.array([ulp_error(x, y) for x, y in zip(a, e)], dtype=float)
    bad = ~(errors <= max_ulp)
    if bad.any():
        worst = int(np.argmax(errors))
        raise AssertionError(_report("ulp", max_ulp, worst, int(bad.sum()), errors.size, a, e, named, shape,
                                     float(errors[worst])))
    return errors.reshape(shape)


def assert_rel(actual, expected, rtol, *, atol=0.0, inputs=None):
    r"""Assert :math:`|a - e| < \mathrm{rtol}\,|e| + \mathrm{atol}` (or :math:`a = e`) at every point.

    The comparison is strict, like ``rel_error(a, e) < rtol``, and exact: the
    difference and the bound are formed without rounding. Equal values pass
    whatever the bound.

    Parameters
    ----------
    actual : float or array_like of float
        Computed values (real).
    expected : reference value or array_like of them
        mpf, Fraction or float, broadcast against ``actual``.
    rtol, atol : float
        Relative and absolute tolerance.
    inputs : dict of str to array_like, optional
        The arguments of each point, named; shown for the worst point.

    Returns
    -------
    ndarray
        The relative errors (:func:`rel_error`), in the broadcast shape.

    Raises
    ------
    AssertionError
        Naming how many points fail and the worst one (the largest ratio of
        error to bound), with its inputs and values.
    """
    a, e, named, shape = _points(actual, expected, inputs)
    rels = np.array([rel_error(x, y) for x, y in zip(a, e)], dtype=float)
    checked = [_within(x, y, rtol, atol) for x, y in zip(a, e)]
    bad = np.array([not ok for ok, _ in checked])
    if bad.any():
        worst = int(np.argmax([ratio for _, ratio in checked]))
        raise AssertionError(_report("rtol", rtol, worst, int(bad.sum()), rels.size, a, e, named, shape,
                                     float(rels[worst])))
    return rels.reshape(shape)


def _within(actual, expected, rtol, atol):
    """Whether |a - e| < rtol |e| + atol or a = e, decided exactly, and the ratio of the two sides."""
    actual, expected = float(actual), _exact(expected)
    if math.isnan(actual) or math.isinf(actual):
        return (True, 0.0) if actual == expected else (False, math.inf)
    diff = _abs_diff(actual, expected)
    if diff == 0:
        return True, 0.0
    if isinstance(expected, Fraction):
        bound = Fraction(rtol) * abs(expected) + Fraction(atol)
        return diff < bound, (float(diff / bound) if bound else math.inf)
    bound = mp.fadd(mp.fmul(rtol, abs(expected), exact=True), atol, exact=True)
    return diff < bound, (float(mp.fdiv(diff, bound, prec=113)) if bound else math.inf)


# ================================================================ stability: VGD, expected change, SAM, IVON

def mp_vf(z, lr, dps=60):
    r"""The variational factor from its closed form, at ``dps`` digits.

    .. math::

        \mathrm{VF}(z, \eta) = 2\sqrt{w/3}\,\sinh\!\Big(\tfrac13\operatorname{arsinh}
            \frac{3\sqrt3}{2\sqrt w}\Big),\qquad w = \frac{z\eta^2}{4},

    the real root :math:`x \in [0, 1]` of :math:`x^3 + wx - w = 0`; VF(0) = 0
    and VF(∞) = 1. Ghosh et al., *Variational Learning Finds Flatter Solutions
    at the Edge of Stability*, NeurIPS 2025 (arXiv:2506.12903), Sec. 3.
    """
    with mp.workdps(dps):
        z, lr = mp.mpf(z), mp.mpf(lr)
        if z == 0:
            return mp.mpf(0)
        if mp.isinf(z):
            return mp.mpf(1)
        w = z * lr**2 / 4
        return 2 * mp.sqrt(w / 3) * mp.sinh(mp.asinh(3 * mp.sqrt(3) / (2 * mp.sqrt(w))) / 3)


def mp_vgd_threshold(lr, sigma, grad_sq, n_samples=1, dps=60):
    r"""The VGD stability threshold at ``dps`` digits.

    .. math::

        \lambda^* = \frac2\eta\,\mathrm{VF}(z, \eta),\qquad z = \frac{N_s\,g^2}{\sigma^2},

    with :math:`g^2` = ``grad_sq`` and :math:`\sigma` the standard deviation of
    the perturbation (Gaussian or Student-t of any ``dof``: only the variance
    enters); :math:`\sigma = 0` is GD (:math:`2/\eta`). Ghosh et al. (2025), Sec. 3.
    """
    with mp.workdps(dps):
        var = mp.mpf(sigma) ** 2
        z = n_samples * mp.mpf(grad_sq) / var if var != 0 else mp.inf
        return 2 / mp.mpf(lr) * mp_vf(z, lr, dps)


def mp_expected_loss_change(lam, g, lr, sigma, n_samples=1, dps=1200):
    r"""The one-step expected loss change along one eigendirection, unsimplified, at ``dps`` digits.

    For :math:`\ell = \tfrac12\lambda\mu^2` with gradient :math:`g = \lambda m`
    and the mean update :math:`m_+ = m - \eta\,(g + \lambda\bar e)`,
    :math:`\bar e` the average of :math:`N_s` perturbations of standard
    deviation :math:`\sigma` (Gaussian or Student-t of any ``dof``),

    .. math::

        \mathbb E\,\Delta\ell = \frac\lambda2\Big(\big((1 - \eta\lambda)^2 - 1\big)\,m^2
            + \frac{\eta^2\lambda^2\sigma^2}{N_s}\Big),\qquad m = g/\lambda.

    The default 1200 digits keep :math:`(1 - \eta\lambda)^2 - 1` exact for
    :math:`\eta\lambda` down to :math:`10^{-1000}`. Ghosh et al. (2025), Sec. 3.
    """
    with mp.workdps(dps):
        lam, g, lr, sigma = (mp.mpf(x) for x in (lam, g, lr, sigma))
        var = sigma**2
        m = g / lam
        return lam / 2 * (((1 - lr * lam) ** 2 - 1) * m**2 + lr**2 * lam**2 * var / n_samples)


def mp_sam_edge(lr, rho, grad_norm=1.0, dps=50):
    r"""The SAM-edge in the form Long & Bartlett state it, at ``dps`` digits plus those the subtraction loses.

    .. math::

        \lambda^* = \frac{\|g\|}{2\rho}\Big(\sqrt{1 + \frac{8\rho}{\eta\|g\|}} - 1\Big),

    the positive root of :math:`\eta\lambda(1 + \rho\lambda/\|g\|) = 2`;
    :math:`\|g\| = 1` is USAM's :math:`\eta\lambda(1 + \rho\lambda) = 2`, and
    :math:`\rho = 0` is GD (:math:`2/\eta`). The subtraction cancels for small
    :math:`x = \rho/(\eta\|g\|)`, so the precision is raised by
    :math:`\lfloor -\log_{10} x\rfloor` digits. P. M. Long and P. L. Bartlett,
    *Sharpness-Aware Minimization and the Edge of Stability*, JMLR 2024
    (arXiv:2309.12488).
    """
    lr, rho, g = mp.mpf(lr), mp.mpf(rho), mp.mpf(grad_norm)
    if rho == 0:
        return 2 / lr
    with mp.workdps(20):
        x = rho / (lr * g)
        lost = max(0, int(-mp.log10(x))) if x < 1 else 0
    with mp.workdps(dps + lost):
        x = rho / (lr * g)
        return (g / (2 * rho)) * (mp.sqrt(1 + 8 * x) - 1)


def mp_adaptive_threshold(lr, beta1, dps=50):
    r"""The adaptive edge of stability at ``dps`` digits.

    .. math:: \lambda_1(P^{-1}H)^* = \frac{2 + 2\beta_1}{(1 - \beta_1)\,\eta},

    the edge of preconditioned GD with EMA momentum :math:`\beta_1`. Cohen et
    al., *Adaptive Gradient Methods at the Edge of Stability*,
    arXiv:2207.14484 (2022).
    """
    with mp.workdps(dps):
        b = mp.mpf(beta1)
        return (2 + 2 * b) / ((1 - b) * mp.mpf(lr))


def exact_effective_number_terms(lam, alpha):
    r"""Each term :math:`\lambda_i/(\lambda_i + \alpha)` of the effective number of parameters, as an exact Fraction.

    .. math:: N_{\rm eff}(\alpha) = \sum_i \frac{\lambda_i}{\lambda_i + \alpha},

    with the term 0 where :math:`\lambda_i = \alpha = 0`. D. J. C. MacKay,
    *Bayesian interpolation*, Neural Computation 4, 415 (1992), Eq. (4.12).
    """
    a = Fraction(alpha)
    return [Fraction(0) if (x == 0 and alpha == 0) else Fraction(x) / (Fraction(x) + a) for x in lam]


# ================================================================ spectra: Marchenko-Pastur

class MpMarchenkoPastur:
    r"""The Marchenko-Pastur law in mpmath, from its density only, at the working precision of each call.

    .. math::

        \mu(dx) = \Big(1 - \frac1q\Big)_+\delta_0(dx)
            + \frac{\sqrt{(b - x)(x - a)}}{2\pi s^2 q\,x}\mathbf 1_{[a, b]}(x)\,dx,
        \qquad a, b = s^2(1 \mp \sqrt q)^2,

    from the exact float parameters ``q`` (ratio :math:`q = P/N`) and ``s2``
    (scale :math:`s^2`). The cdf and sf of the continuous part are quadratures
    of the density; :meth:`closed_cdf` is the arctan form of the cdf, atom
    included; the transforms are quadratures too. V. A. Marchenko and
    L. A. Pastur, Math. USSR Sb. 1, 457 (1967); Z. Bai and J. W. Silverstein,
    *Spectral Analysis of Large Dimensional Random Matrices*, 2nd ed. (2010),
    Ch. 3.
    """

    def __init__(self, q, s2):
        self.q, self.s2 = mp.mpf(q), mp.mpf(s2)
        self.a = self.s2 * (1 - mp.sqrt(self.q)) ** 2
        self.b = self.s2 * (1 + mp.sqrt(self.q)) ** 2
        self.atom = 1 - 1 / self.q if self.q > 1 else mp.mpf(0)

    def pdf(self, x):
        """Density of the continuous part, :math:`\\sqrt{(b - x)(x - a)}/(2\\pi s^2 q x)` on :math:`(a, b)`."""
        x = mp.mpf(x)
        if not self.a < x < self.b:
            return mp.mpf(0)
        return mp.sqrt((self.b - x) * (x - self.a)) / (2 * mp.pi * self.s2 * self.q * x)

    def cont_cdf(self, x):
        r""":math:`\int_a^x` of the density (the atom excluded)."""
        return mp.quad(self.pdf, [self.a, mp.mpf(x)])

    def cont_sf(self, x):
        r""":math:`\int_x^b` of the density."""
        return mp.quad(self.pdf, [mp.mpf(x), self.b])

    def closed_cdf(self, x):
        r"""The cdf in closed form, atom included: for :math:`a < x < b`, with :math:`r = \sqrt{ab}`,

        .. math::

            F(x) = \Big(1 - \frac1q\Big)_+ + \frac{1}{2\pi s^2 q}\Big(\sqrt{(b-x)(x-a)}
                - \frac{a+b}2\arccos\frac{2x - a - b}{b - a}
                + 2r\arctan\Big(\sqrt{\tfrac ab}\sqrt{\tfrac{b-x}{x-a}}\Big) + \frac\pi2(a + b - 2r)\Big).
        """
        a, b, x = self.a, self.b, mp.mpf(x)
        if x <= a:
            return self.atom if x >= 0 else mp.mpf(0)
        if x >= b:
            return mp.mpf(1)
        r = mp.sqrt(a * b)
        body = (mp.sqrt((b - x) * (x - a)) - (a + b) / 2 * mp.acos((2 * x - a - b) / (b - a))
                + 2 * r * mp.atan(mp.sqrt(a / b) * mp.sqrt((b - x) / (x - a))) + mp.pi / 2 * (a + b - 2 * r))
        return self.atom + body / (2 * mp.pi * self.s2 * self.q)

    def stieltjes(self, z):
        r"""Stieltjes transform :math:`m(z) = \int\mu(dt)/(t - z)` (Bai-Silverstein sign), atom included."""
        z = mp.mpc(z)
        pts = [self.a, self.b]
        if self.a < z.real < self.b:
            pts = [self.a, z.real, self.b]
        return mp.quad(lambda t: self.pdf(t) / (t - z), pts) - self.atom / z

    def cauchy(self, z):
        r"""Cauchy transform :math:`G(z) = \int\mu(dt)/(z - t) = -m(z)`, atom included, for real :math:`z > b`."""
        return mp.quad(lambda t: self.pdf(t) / (z - t), [self.a, self.b]) + self.atom / z

    def t_transform(self, z):
        r""":math:`T(z) = \int t\,\mu(dt)/(z - t)` for real :math:`z > b` (the atom adds 0).

        The BBP outlier of :math:`W(I + \theta vv^\top)` solves :math:`T(\rho) = 1/\theta`
        (Benaych-Georges and Nadakuditi, Adv. Math. 227, 494 (2011), Theorem 2.7).
        """
        return mp.quad(lambda t: t * self.pdf(t) / (z - t), [self.a, self.b])


def marchenko_pastur_edges(q, s2=1.0):
    r"""The support edges :math:`\ell_\pm = s^2(1 \pm \sqrt q)^2`, in float: ``(l-, l+)``."""
    return s2 * (1 - np.sqrt(q)) ** 2, s2 * (1 + np.sqrt(q)) ** 2


def marchenko_pastur_pdf(x, q, s2=1.0):
    r"""The density of the continuous part, :math:`\sqrt{(\ell_+ - x)(x - \ell_-)}/(2\pi s^2 q x)`, in float."""
    lo, hi = marchenko_pastur_edges(q, s2)
    x = np.asarray(x, dtype=float)
    inside = (x > lo) & (x < hi)
    out = np.zeros_like(x)
    xi = x[inside]
    out[inside] = np.sqrt((hi - xi) * (xi - lo)) / (2 * np.pi * s2 * q * xi)
    return out


def marchenko_pastur_cdf(x, q, s2=1.0):
    """The closed-form cdf of :meth:`MpMarchenkoPastur.closed_cdf` in float, for :math:`q \\le 1` (no atom)."""
    lo, hi = marchenko_pastur_edges(q, s2)
    x = np.clip(np.asarray(x, dtype=float), lo, hi)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.sqrt(np.where(x > lo, (hi - x) / (x - lo), np.inf))
    f = (np.sqrt((hi - x) * (x - lo)) - 0.5 * (lo + hi) * np.arccos(np.clip((2 * x - lo - hi) / (hi - lo), -1, 1))
         + 2 * np.sqrt(lo * hi) * np.arctan(np.sqrt(lo / hi) * ratio)
         + 0.5 * np.pi * (lo + hi - 2 * np.sqrt(lo * hi))) / (2 * np.pi * s2 * q)
    return np.clip(f, 0.0, 1.0)


# ================================================================ escape: mean first-passage times

def mp_mfpt(potential, x0, x1, temperature, dps=40):
    r"""Mean first-passage time from ``x0`` to ``x1 > x0`` by nested mpmath quadrature, at ``dps`` digits.

    .. math::

        T(x_0 \to x_1) = \frac1T\int_{x_0}^{x_1} e^{(U(y) - U(x_0))/T}
            \int_{-\infty}^{y} e^{-(U(z) - U(x_0))/T}\,dz\,dy

    for :math:`dx = -U'\,dt + \sqrt{2T}\,dW`, reflecting at :math:`-\infty`,
    absorbing at :math:`x_1`; ``x0`` should be the minimum (the inner
    integrand's peak, where the inner quadrature is split). ``potential`` is
    evaluated on mpf. P. Haenggi, P. Talkner and M. Borkovec, Rev. Mod. Phys.
    62, 251 (1990), Sec. IV.
    """
    with mp.workdps(dps):
        t, a, b = mp.mpf(temperature), mp.mpf(x0), mp.mpf(x1)
        ua = potential(a)

        def inner(y):
            return mp.quad(lambda z: mp.exp(-(potential(z) - ua) / t), [-mp.inf, a, y] if y > a else [-mp.inf, y])

        return mp.quad(lambda y: mp.exp((potential(y) - ua) / t) * inner(y), [a, b]) / t


def mp_ou_mfpt(k, temperature, x0, x1, dps=40):
    r"""Mean first-passage time of :math:`dx = -kx\,dt + \sqrt{2T}\,dW` from ``x0`` to ``x1 > x0``, at ``dps`` digits.

    :func:`mp_mfpt` for :math:`U = kx^2/2`, the inner integral in closed form:

    .. math::

        T = \frac1T\int_{x_0}^{x_1} e^{ky^2/(2T)}\sqrt{\frac{\pi T}{2k}}\,
            \operatorname{erfc}\Big(-y\sqrt{\frac{k}{2T}}\Big)\,dy.
    """
    with mp.workdps(dps):
        k, t = mp.mpf(k), mp.mpf(temperature)

        def outer(y):
            inner = mp.sqrt(mp.pi * t / (2 * k)) * mp.erfc(-y * mp.sqrt(k / (2 * t)))
            return mp.exp(k * y**2 / (2 * t)) * inner

        pts = [mp.mpf(x0)] + ([mp.mpf(0)] if x0 < 0 < x1 else []) + [mp.mpf(x1)]
        return mp.quad(outer, pts) / t


def mp_variable_diffusion_mfpt(temperature, x1, convention, dps=40):
    r"""Mean first-passage time from 0 to ``x1`` for :math:`U = x^2/2`, :math:`D = T(1 + x^2/4)`, at ``dps`` digits.

    With :math:`\Phi = \int U'/D = (2/T)\log(1 + x^2/4)` and :math:`p = 2/T`,

    .. math::

        T_{\rm Ito} = \frac1T\int_0^{x_1} (1 + \tfrac{y^2}4)^{p}\,I_{p+1}(y)\,dy,\qquad
        T_{\rm HK} = \frac1T\int_0^{x_1} (1 + \tfrac{y^2}4)^{p-1}\,I_{p}(y)\,dy,

    :math:`I_q(y) = \int_{-\infty}^{y}(1 + z^2/4)^{-q}dz = \sqrt\pi\,\Gamma(q - \tfrac12)/\Gamma(q)
    + y\,{}_2F_1(\tfrac12, q; \tfrac32; -y^2/4)`. ``convention`` is ``"ito"``
    (:math:`w_{\rm out} = e^\Phi`, :math:`w_{\rm in} = e^{-\Phi}/D`) or the
    Haenggi-Klimontovich one (:math:`w_{\rm out} = e^\Phi/D`, :math:`w_{\rm in} = e^{-\Phi}`).
    """
    with mp.workdps(dps):
        t = mp.mpf(temperature)
        p = 2 / t

        def inner(y, q):  # 2 [u 2F1(1/2, q; 3/2; -u^2)] from -inf to u = y/2
            full = 2 * mp.sqrt(mp.pi) * mp.gamma(q - mp.mpf(1) / 2) / mp.gamma(q)
            u = y / 2
            return full / 2 + 2 * u * mp.hyp2f1(mp.mpf(1) / 2, q, mp.mpf(3) / 2, -u * u)

        if convention == "ito":
            def f(y):
                return (1 + y * y / 4) ** p * inner(y, p + 1) / t
        else:
            def f(y):
                return (1 + y * y / 4) ** (p - 1) / t * inner(y, p)
        return mp.quad(f, [0, mp.mpf(x1)])


def quartic_double_well(x):
    r"""The quartic double well :math:`U(x) = x^4/4 - x^2/2 + 1/4`.

    Minima at :math:`\pm1` (:math:`U = 0`, :math:`U'' = 2`), saddle at 0
    (:math:`U = 1/4`, :math:`U'' = -1`): :class:`theory.landscapes.DoubleWell`'s default.
    """
    return x**4 / 4 - x**2 / 2 + 0.25


def quad_mfpt_langevin(temperature, a=-1.0, b=0.0):
    r"""Mean first-passage time in :func:`quartic_double_well` by nested SciPy quadrature (relative 1e-11).

    .. math:: T(a \to b) = \frac1T\int_a^b e^{(U(y) - U(a))/T}\int_{-\infty}^y e^{-(U(z) - U(a))/T}\,dz\,dy.
    """
    u, d = quartic_double_well, temperature
    ua = u(a)

    def inner(y):
        return integrate.quad(lambda z: np.exp(-(u(z) - ua) / d), -np.inf, y, epsabs=0, epsrel=1e-12, limit=200)[0]

    outer = integrate.quad(lambda y: np.exp((u(y) - ua) / d) * inner(y), a, b, epsabs=0, epsrel=1e-11, limit=200)
    return outer[0] / d


def quad_mfpt_piecewise(c, s, form, a=-1.0, b=0.0, h_a=2.0, h_b=1.0, delta=0.25):
    r"""Mean first-passage time in :func:`quartic_double_well` with the two-level diffusion of the SGD model.

    :math:`D(x) = c\,h_a` where :math:`U(x) - U(a) < s\,\delta`, else :math:`c|h_b|`.
    :math:`\Phi(y) = \int^y U'/D` depends on :math:`x` only through the level
    :math:`U`, so it is exact: :math:`\Phi = (\min(U, U_s) - U(a))/D_a + \max(U - U_s, 0)/D_b`,
    :math:`U_s = U(a) + s\delta`. Then, by SciPy quadrature split at the jumps of :math:`D`,

    .. math::

        T_{\rm ito} = \int_a^b e^{\Phi(y)}\int_{-\infty}^y \frac{e^{-\Phi(z)}}{D(z)}\,dz\,dy,\qquad
        T_{\rm hk} = \int_a^b \frac{e^{\Phi(y)}}{D(y)}\int_{-\infty}^y e^{-\Phi(z)}\,dz\,dy

    (``form`` ``"ito"`` or ``"hk"``, Haenggi-Klimontovich).
    """
    u = quartic_double_well
    ua = u(a)
    us = ua + s * delta
    d_a, d_b = c * h_a, c * h_b

    def diffusion(x):
        return d_a if u(x) < us else d_b

    def phi(x):
        ux = u(x)
        return (min(ux, us) - ua) / d_a + max(ux - us, 0.0) / d_b

    roots = np.roots([0.25, 0.0, -0.5, 0.0, 0.25 - us])
    jumps = np.sort(roots[np.abs(roots.imag) < 1e-12].real)  # where D jumps

    def inner(y):
        f = (lambda z: np.exp(-phi(z)) / diffusion(z)) if form == "ito" else (lambda z: np.exp(-phi(z)))
        pts = [p for p in jumps if p < y]
        lo = min([y] + pts) - 1.0
        total = integrate.quad(f, -np.inf, lo, epsabs=0, epsrel=1e-12, limit=200)[0]
        edges = [lo] + pts + [y]
        for e0, e1 in zip(edges[:-1], edges[1:]):
            total += integrate.quad(f, e0, e1, epsabs=0, epsrel=1e-12, limit=200)[0]
        return total

    if form == "ito":
        def g(y):
            return np.exp(phi(y)) * inner(y)
    else:
        def g(y):
            return np.exp(phi(y)) / diffusion(y) * inner(y)
    pts = [p for p in jumps if a < p < b]
    return integrate.quad(g, a, b, points=pts or None, epsabs=0, epsrel=1e-10, limit=200)[0]


def quad_boltzmann_left(well, temperature):
    r"""Stationary probability of the left basin of a 1-D double well, by SciPy quadrature (relative 1e-12).

    .. math:: P_{\rm left} = \frac{\int_{-\infty}^{x_s} e^{-U/T}}{\int_{-\infty}^{\infty} e^{-U/T}},

    :math:`x_s` the saddle of ``well`` (a :class:`theory.landscapes.DoubleWell`),
    :math:`U` shifted by its first minimum.
    """
    saddle = well.saddles()[0].x[0]
    f = lambda x: np.exp(-(well.potential(x) - well.minima()[0].value) / temperature)  # noqa: E731
    left = integrate.quad(f, -np.inf, saddle, epsabs=0, epsrel=1e-12)[0]
    right = integrate.quad(f, saddle, np.inf, epsabs=0, epsrel=1e-12)[0]
    return left / (left + right)


# ================================================================ hypothesis strategies

def positive_floats(min_value=SMALLEST_SUBNORMAL, max_value=1e308):
    """Positive floats over the whole range, subnormals included (no 0, inf or NaN)."""
    return st.floats(min_value=min_value, max_value=max_value, allow_subnormal=True)


def nonnegative_floats(max_value=1e308):
    """Floats in ``[0, max_value]``, subnormals included."""
    return st.floats(min_value=0.0, max_value=max_value, allow_subnormal=True)


def subnormal_floats():
    """The positive subnormals, ``[2**-1074, 2**-1022)``."""
    return st.floats(min_value=SMALLEST_SUBNORMAL, max_value=float(np.nextafter(TINY, 0)), allow_subnormal=True)


def normal_floats(min_value, max_value):
    """Finite floats in ``[min_value, max_value]``, no subnormals (error-free transformations stay exact)."""
    return st.floats(min_value, max_value, allow_nan=False, allow_infinity=False, allow_subnormal=False)


def learning_rates(min_value=1e-6, max_value=1e2):
    """Learning rates :math:`\\eta`, uniform in ``[min_value, max_value]`` as hypothesis draws floats."""
    return st.floats(min_value=min_value, max_value=max_value)


def log_uniform(lo, hi):
    """Floats :math:`10^u`, :math:`u` drawn in :math:`[\\log_{10}lo, \\log_{10}hi]`: every decade alike."""
    return st.floats(np.log10(lo), np.log10(hi)).map(lambda e: float(10.0**e))


def signed_log_uniform(lo, hi):
    """:func:`log_uniform` magnitudes with either sign."""
    return st.tuples(st.sampled_from([-1.0, 1.0]), log_uniform(lo, hi)).map(lambda p: p[0] * p[1])


def dofs(min_value=2.01, max_value=1e6):
    """Student-t degrees of freedom :math:`\\nu > 2` in ``[min_value, max_value]``, or ``inf`` (the Gaussian)."""
    return st.one_of(st.just(np.inf), st.floats(min_value, max_value))
