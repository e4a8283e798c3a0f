r"""The Marchenko-Pastur law, its Stieltjes transform, and spiked (BBP) outliers.

Conventions
-----------
:math:`X` is :math:`N\times P` with i.i.d. entries of mean 0 and variance
:math:`s^2`; :math:`W = X^\top X/N` is :math:`P\times P`, and ``ratio`` is
:math:`q = P/N`. ``scale`` is :math:`s^2`, the scale of the law in scipy's
sense: the eigenvalues of the unit-variance law multiplied by :math:`s^2`.
As :math:`N, P\to\infty` at fixed :math:`q` the empirical eigenvalue law of
:math:`W` tends to

.. math::

    \mu_{q,s^2}(dx) = \Big(1 - \frac1q\Big)_+\,\delta_0(dx)
        + \frac{\sqrt{(\ell_+ - x)(x - \ell_-)}}{2\pi s^2 q\,x}\,
          \mathbf 1_{[\ell_-, \ell_+]}(x)\,dx,
    \qquad \ell_\pm = s^2(1\pm\sqrt q)^2,

with mean :math:`s^2` and variance :math:`s^4 q`. For :math:`q > 1` the atom
of mass :math:`1 - 1/q` at 0 (the :math:`P - N` zero eigenvalues) is part of
the law: of :meth:`MarchenkoPastur.cdf`, :meth:`~MarchenkoPastur.ppf`,
:meth:`~MarchenkoPastur.rvs`, the moments and the Stieltjes transform, while
:meth:`~MarchenkoPastur.pdf` is the density of the continuous part (it
integrates to :math:`\min(1, 1/q)`).

The Stieltjes transform is :math:`m(z) = \int \mu(d\lambda)/(\lambda - z)`
(the sign convention of Bai and Silverstein: :math:`\operatorname{Im} m > 0`
for :math:`\operatorname{Im} z > 0`, :math:`m(z)\sim -1/z` at infinity); the
Cauchy transform of Benaych-Georges and Nadakuditi is :math:`G = -m`.

Numerics
--------
The distribution function is evaluated in closed form through the angle
:math:`\theta\in[0,\pi]` with :math:`x = \tfrac{\ell_-+\ell_+}2 -
\tfrac{\ell_+-\ell_-}2\cos\theta`. Writing :math:`r = \sqrt{\min(q, 1/q)}`,
the continuous part's distribution function is :math:`g(\theta,r)/\pi` and
its survival function :math:`g(\pi - \theta, -r)/\pi` with

.. math::

    g(\theta,r) = (\theta - \sin\theta)
      + 2(1+r)\,Y \sin^2\tfrac\theta2
      + \frac{1-r^2}{r^2}\,(y - \arctan y),\quad
    Y = \frac{\sin\theta}{(1-r)\cos^2\frac\theta2 + (1+r)\sin^2\frac\theta2},
    \quad y = r Y,

an exact rewriting (derived here; equal to
:math:`\operatorname{Im}[\log(z/(1-z)) + (z + \log(1-z))/r^2]` at
:math:`z = r e^{i\theta}`) of the classical arctan form, in which, for
:math:`r \ge 0`, every term is non-negative: there is no cancellation
near either edge, near :math:`q = 1` or for tiny :math:`q`. For
:math:`r < 0` (the survival function) the third term is negative but at
most a fraction of the others. :math:`r = 1` (:math:`q = 1`) gives
:math:`g = \theta + \sin\theta`, :math:`r = 0` the semicircle. :math:`\theta - \sin\theta` and
:math:`y - \arctan y` are summed as series where they are small, and the
distances to the edges use the edges in double-double, so points within
:math:`10^{-12}` (relative) of an edge keep about 14 correct digits.

References
----------
V. A. Marchenko and L. A. Pastur, Math. USSR-Sbornik 1, 457 (1967);
Z. Bai and J. W. Silverstein, *Spectral Analysis of Large Dimensional Random
Matrices*, 2nd ed., Springer (2010), Ch. 3; J. Baik, G. Ben Arous and
S. Péché, Ann. Probab. 33, 1643 (2005); D. Paul, Statist. Sinica 17, 1617
(2007); F. Benaych-Georges and R. R. Nadakuditi, Adv. Math. 227, 494 (2011).
"""

from __future__ import annotations

import math

import numpy as np

from . import _validate as v
from ._deprecate import deprecated_alias, renamed_keywords
from ._exact import DD, two_prod
from .errors import DomainError
from .rng import seed_sequence

__all__ = [
    "MarchenkoPastur",
    "stieltjes",
    "mp_effective_number",
    "effective_number",
    "bbp_threshold",
    "spike_eigenvalue",
    "spike_overlap",
    "additive_spike_threshold",
    "additive_spike_eigenvalue",
    "additive_spike_overlap",
]

_EPS = np.finfo(float).eps
# (theta - sin theta) / theta^3 = sum_k (-1)^k theta^(2k) / (2k+3)!; for theta < 1
# the terms after k = 8 are below 2**-60 of the first.
_SIN_COEF = np.array([(-1.0) ** k / float(np.prod(np.arange(1, 2 * k + 4))) for k in range(10)])
# (t - arctan t) / t^3 = sum_k (-1)^k t^(2k) / (2k+3), used for |t| <= tan(pi/16)
# (t^2 <= 0.0396): 13 terms reach 2**-60 of the first.
_ATAN_COEF = np.array([(-1.0) ** k / (2 * k + 3) for k in range(13)])


# ----------------------------------------------------------------------------- validation

def _ratio(ratio, name="ratio"):
    q = v.as_float(ratio, name)
    return v.require(q, (q > 0) & np.isfinite(q), name,
                     "finite and > 0 (the ratio P/N of the matrix dimensions; ratio = inf has no "
                     "limiting law)")


_LAW_MAX_RATIO = 1e300  # (1 + sqrt q)^2 at the internal scale (below 2) stays a float


def _law_ratio(ratio):
    """``ratio`` of the law itself: also at most 1e300, so that its edges are floats at the internal scale."""
    q = _ratio(ratio)
    return v.require(q, q <= _LAW_MAX_RATIO, "ratio", "<= 1e300 for the law and its Stieltjes transform (the "
                     "edges (1 +- sqrt ratio)^2 must be floats)")


def _scale(scale):
    return v.positive(scale, "scale")


def _shift(s2):
    """Even exponent ``k`` with ``s2 * 2**-k`` in [0.5, 2): the law is evaluated at that scale.

    Scaling by a power of 4 is exact for every operation of the law
    (``sqrt`` included), so results at scales already in [0.5, 2) are
    unchanged and at any other scale equal the standardised law's, rescaled
    last: no intermediate over- or underflows because of the scale.
    """
    _, e = np.frexp(s2)
    return (e - e % 2).astype(np.int64) if np.ndim(e) else int(e - e % 2)


def _ldexp_complex(z, k):
    """``z * 2**k`` for complex ``z`` (infinite parts kept, no NaN from ``inf * 0``)."""
    out = np.empty(np.broadcast_shapes(np.shape(z), np.shape(k)), dtype=np.complex128)
    with np.errstate(over="ignore", under="ignore"):
        out.real = np.ldexp(np.real(z), k)
        out.imag = np.ldexp(np.imag(z), k)
    return out


def _recip(z):
    """``1/z`` for complex ``z != 0`` by Smith's algorithm (no overflow for tiny ``|z|``, none for huge)."""
    a, b = np.real(z), np.imag(z)
    big_re = np.abs(a) >= np.abs(b)
    with np.errstate(all="ignore"):
        r = np.where(big_re, b / np.where(big_re, a, 1.0), a / np.where(big_re, 1.0, b))
        den = np.where(big_re, a + b * r, b + a * r)
        re = np.where(big_re, 1.0 / den, r / den)
        im = np.where(big_re, -r / den, -1.0 / den)
    out = np.empty(np.shape(z), dtype=np.complex128)
    out.real, out.imag = re, im
    return out


def _horner(coef, u):
    out = np.full_like(u, coef[-1])
    for c in coef[-2::-1]:
        out *= u
        out += c
    return out


# ----------------------------------------------------------------------------- parameters

class _Params:
    """Derived constants of the law, elementwise over broadcast ``ratio`` and ``scale``."""

    def __init__(self, q: np.ndarray, s2: np.ndarray):
        q, s2 = np.broadcast_arrays(np.asarray(q, float), np.asarray(s2, float))
        self.q, self.s2 = q, s2
        big = q > 1
        with np.errstate(all="ignore"):
            # weight of the continuous part and the atom at 0, both without cancellation
            self.weight = np.where(big, 1.0 / q, 1.0)
            self.atom = np.where(big, (q - 1.0) / q, 0.0)
            qr = np.where(big, 1.0 / q, q)  # the reduced ratio min(q, 1/q)
            one_minus_qr = np.where(big, (q - 1.0) / q, 1.0 - q)
            self.rho = np.sqrt(qr)
            self.omr = one_minus_qr / (1.0 + self.rho)  # 1 - rho, accurate near q = 1
            self.opr = 1.0 + self.rho
            # edges in double-double: sqrt(q) = sh + sl, l-+ = s2 (1 -+ sqrt q)^2
            sh = np.sqrt(q)
            p, e = two_prod(sh, sh)
            sl = ((q - p) - e) / (2.0 * sh)
            sl = np.where(np.isfinite(sl), sl, 0.0)
            root = DD(sh, sl)
            # 1 - sqrt q = (1 - q) / (1 + sqrt q): relative accuracy kept when q is near 1
            gap = (DD(np.ones_like(q)) - DD(q)) / (1.0 + root)
            lo = gap * gap * DD(s2)
            hi = (1.0 + root) * (1.0 + root) * DD(s2)
            self.lo_hi, self.lo_lo = lo.hi, np.where(np.isfinite(lo.lo), lo.lo, 0.0)
            self.hi_hi, self.hi_lo = hi.hi, np.where(np.isfinite(hi.lo), hi.lo, 0.0)
            self.width = 4.0 * s2 * sh  # l+ - l-

    def distances(self, x):
        """``(x - l-, l+ - x)`` to double-double accuracy of the edges."""
        return (x - self.lo_hi) - self.lo_lo, (self.hi_hi - x) + self.hi_lo


# ----------------------------------------------------------------------------- the core g

def _theta_minus_sin(t, sn):
    out = t - sn
    small = t < 1.0
    ts = t[small]
    out[small] = ts * ts * ts * _horner(_SIN_COEF, ts * ts)
    return out


def _y_minus_atan_over_rho2(Y, rho: float):
    """``(y - arctan y) / rho**2`` with ``y = rho * Y`` (``rho`` may be 0 or negative), without cancellation."""
    y = rho * Y
    small = np.abs(y) <= 1.0
    out = np.empty_like(y)
    big = ~small
    if big.any():
        yb = y[big]
        out[big] = (yb - np.arctan(yb)) / (rho * rho)
    if small.any():
        # halve the angle twice: arctan y = 2 arctan t1 = 4 arctan t2, t1 = y / (1 + sqrt(1 + y^2)),
        # t2 = t1 / (1 + sqrt(1 + t1^2)), |t2| <= tan(pi/16); y - 2 t1 = y^3 / (1 + sqrt(1 + y^2))^2
        # exactly, likewise t1 - 2 t2: three terms of one sign, with t = rho * T throughout
        Y1 = Y[small]
        y1 = y[small]
        r1 = 1.0 + np.sqrt(1.0 + y1 * y1)
        Y2 = Y1 / r1
        y2 = y1 / r1
        r2 = 1.0 + np.sqrt(1.0 + y2 * y2)
        Y3 = Y2 / r2
        y3 = y2 / r2
        out[small] = rho * (Y1 * Y1 * Y1 / (r1 * r1) + 2.0 * Y2 * Y2 * Y2 / (r2 * r2)
                            + 4.0 * Y3 * Y3 * Y3 * _horner(_ATAN_COEF, y3 * y3))
    return out


def _g(t, s2h, c2h, sn, rho: float, omr: float, opr: float):
    r"""``g(t, rho)`` of the module docstring, given ``sin^2(t/2)``, ``cos^2(t/2)``, ``sin t`` and ``1 -+ rho``."""
    with np.errstate(all="ignore"):
        Y = sn / (omr * c2h + opr * s2h)
        out = _theta_minus_sin(t, sn)
        out += 2.0 * opr * Y * s2h
        if omr * opr != 0.0:
            out += (omr * opr) * _y_minus_atan_over_rho2(Y, rho)
    return out


def _g_from_distances(u, w, rho, omr, opr):
    """``g`` at the angle whose ``sin^2(t/2) = u / (u + w)``, for ``u, w > 0``."""
    su, sw = np.sqrt(u), np.sqrt(w)
    d = u + w
    t = 2.0 * np.arctan2(su, sw)
    return _g(t, u / d, w / d, 2.0 * (su / d) * sw, rho, omr, opr)


def _half_angle(t):
    h = np.sin(0.5 * t)
    c = np.cos(0.5 * t)
    return h * h, c * c, 2.0 * h * c


def _g_from_angle(t, rho: float, omr: float, opr: float):
    return _g(t, *_half_angle(t), rho, omr, opr)


def _start_table(rho: float, omr: float, opr: float):
    """``(log t, log g)`` on a geometric grid of angles: the starting points of :func:`_solve_g`.

    From ``t_min``, far inside the regime where ``g`` is a power of ``t`` (``t^3``
    below ``1 - rho``, ``t`` when ``rho = 1``), to 3 (beyond the median angle).
    """
    t_min = 1e-4 * min(1.0, omr) if omr > 0 else 1e-8
    t = np.geomspace(t_min, 3.0, 1200)
    return np.log(t), np.log(_g_from_angle(t, rho, omr, opr))


def _solve_g(target, rho: float, omr: float, opr: float):
    r"""The angle ``t`` in (0, pi) with ``g(t, rho) = pi * target``, for ``0 < target <= 1/2``.

    Newton's method on ``log g`` against ``log t`` (``g ~ (2/3) t^3 / (1-rho)^2``
    near 0, so it is well scaled for the tiniest targets), started from a
    log-log interpolation of ``g`` on 1200 angles (relative error ~1e-5, so two
    steps usually reach full accuracy), extrapolated below the table with the
    local power law. A step that leaves the bracket established so far is
    replaced by bisection (in ``log t``).
    """
    goal = np.pi * np.asarray(target, dtype=float)
    log_goal = np.log(goal)
    lt, lg = _start_table(rho, omr, opr)
    slope0 = (lt[1] - lt[0]) / (lg[1] - lg[0])
    with np.errstate(all="ignore"):
        start = np.where(log_goal < lg[0], lt[0] + (log_goal - lg[0]) * slope0, np.interp(log_goal, lg, lt))
    t = np.exp(start)
    lo = np.zeros_like(goal)
    hi = np.full_like(goal, np.pi)
    todo = np.arange(goal.size)
    out = np.empty_like(goal)
    for _ in range(100):
        if todo.size == 0:
            break
        tt = t[todo]
        s2h, c2h, sn = _half_angle(tt)
        with np.errstate(all="ignore"):
            gv = _g(tt, s2h, c2h, sn, rho, omr, opr)
            f = np.log(gv / goal[todo])  # not log gv - log goal: |log| ~ 700 would cost 10 bits
            # d log g / d log t, with g' = 2 sin^2 t / ((1-rho)^2 cos^2(t/2) + (1+rho)^2 sin^2(t/2))
            slope = tt * (2.0 * sn * sn / (omr * omr * c2h + opr * opr * s2h)) / gv
            step = np.clip(f / slope, -50.0, 50.0)
            new = tt * np.exp(-step)
        below = f < 0
        lo[todo] = np.where(below, tt, lo[todo])
        hi[todo] = np.where(below, hi[todo], tt)
        l_, h_ = lo[todo], hi[todo]
        bad = ~np.isfinite(new) | (new < l_) | (new > h_)
        # quadratic convergence: after a step below 1e-8 the error is below 1e-16; and
        # |f| at a few ulp is the accuracy of g itself
        converged = np.abs(f) <= 2.0 * _EPS
        new = np.where(bad, np.where(converged, tt, np.where(l_ > 0, np.sqrt(l_ * h_), 0.5 * h_)), new)
        done = converged | (~bad & (np.abs(step) <= 1e-8)) | (h_ - l_ <= 4.0 * _EPS * h_)
        t[todo] = new
        out[todo[done]] = new[done]
        todo = todo[~done]
    out[todo] = t[todo]
    return out


# ----------------------------------------------------------------------------- Stieltjes

def _stieltjes(z, P: _Params):
    q, s2 = P.q, P.s2
    with np.errstate(all="ignore"):
        za = (z.real - P.lo_hi) - P.lo_lo + 1j * z.imag
        zb = (z.real - P.hi_hi) - P.hi_lo + 1j * z.imag
        D = np.sqrt(za) * np.sqrt(zb)  # ~ z at infinity, cut on [l-, l+] only
        B = z - s2 * (1.0 - q)
        plus, minus = B + D, D - B
        # the root (D - B) / (2 s2 q z) = -2 / (B + D): take the form without cancellation
        use_minus = np.abs(minus) > np.abs(plus)
        m = np.where(use_minus, minus / (2.0 * s2 * q * z), -2.0 / plus)
        redo = ~(np.isfinite(m.real) & np.isfinite(m.imag)) & (z != 0)
        if np.any(redo):  # 2 s2 q z under- or overflowing: divide by one factor at a time
            m = np.where(redo & use_minus, ((minus / (2.0 * s2)) / q) / z, m)
        zero = z == 0
        if np.any(zero):
            # z = 0: E[1/lambda] = 1/(s2 (1-q)) for q < 1; for q > 1 a pole (atom) whose value from
            # above is 1/(s2 q (q-1)) + i inf; for q = 1 infinite
            at0 = np.empty(np.shape(q), dtype=np.complex128)
            at0.real = np.where(q < 1, 1.0 / (s2 * (1.0 - q)), np.where(q > 1, 1.0 / (s2 * q * (q - 1.0)), np.inf))
            at0.imag = np.where(q < 1, 0.0, np.inf)
            m = np.where(zero, at0, m)
        # z infinite: the limit 0 of m ~ -1/z
        m = np.where(np.isinf(z.real) | np.isinf(z.imag), 0j, m)
        # real z outside the support: the value is real
        real_out = (z.imag == 0) & ((za.real < 0) | (zb.real > 0)) & ~zero
        m = np.where(real_out, m.real + 0j, m)
    return m


def _as_complex(z, name="z"):
    arr = np.asarray(z)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{name} must be a number or an array of numbers; got {type(z).__name__}")
    arr = arr.astype(np.complex128)
    if np.isnan(arr.real).any() or np.isnan(arr.imag).any():
        raise DomainError(f"{name} must be a number, not NaN")
    return arr


def stieltjes(z, ratio, scale=1.0):
    r"""Stieltjes transform :math:`m(z) = \int \mu_{q,s^2}(d\lambda)/(\lambda - z)` of the Marchenko-Pastur law.

    .. math::

        m(z) = \frac{s^2(1-q) - z + \sqrt{z-\ell_-}\,\sqrt{z-\ell_+}}{2 s^2 q z},

    the product of the two principal square roots (cut on :math:`[\ell_-,
    \ell_+]` only), the root of :math:`s^2 q z m^2 + (z - s^2(1-q))m + 1 = 0`
    with :math:`\operatorname{Im} m > 0` for :math:`\operatorname{Im} z > 0`
    and :math:`m \sim -1/z` at infinity; the atom :math:`(1-1/q)_+` at 0 is
    included. Evaluated through whichever of the two algebraically equal forms
    above and :math:`-2/(z - s^2(1-q) + \sqrt{\cdot}\sqrt{\cdot})` does not
    cancel (Bai and Silverstein, Sec. 3.3).

    Parameters
    ----------
    z : array_like, complex or real
        Real ``z`` outside the support gives a real value (imaginary part
        exactly 0); real ``z`` on :math:`[\ell_-, \ell_+]` gives the boundary
        value from above, :math:`m(x + i0)`, whose imaginary part is
        :math:`\pi` times the density. At ``z = 0``: :math:`1/(s^2(1-q))` for
        :math:`q < 1`; :math:`1/(s^2q(q-1)) + i\infty` (the atom's pole) for
        :math:`q > 1`; :math:`\infty + i\infty` for :math:`q = 1`.
    ratio, scale : array_like
        :math:`q = P/N` in (0, 1e300] and :math:`s^2 > 0`; broadcast with ``z``.

    Returns
    -------
    complex or ndarray of complex
    """
    zc = _as_complex(z)
    q = _law_ratio(ratio)
    s2 = _scale(scale)
    v.broadcast_together(z=zc, ratio=q, scale=s2)
    zc, q, s2 = np.broadcast_arrays(zc, q, s2)
    k = _shift(s2)
    if np.any(k != 0):  # m_{s2}(z) = m_1(z / s2) / s2, with s2 factored as a power of 4
        zs = _ldexp_complex(zc, -k)
        s2s = np.ldexp(s2, -k)
        out = _ldexp_complex(_stieltjes(zs, _Params(q, s2s)), -k)
        with np.errstate(all="ignore"):
            # z / s2 beyond the float range: m = -1/z to a relative O(s2/|z|)
            over = np.isinf(np.abs(zs)) & np.isfinite(np.abs(zc))
            if over.any():
                out = np.where(over, -_recip(np.where(over, zc, 1.0)), out)
            # z / s2 below it (z != 0): m = -(atom)/z + E_cont[1/lambda] (q != 1), 1/sqrt(-s2 z) (q = 1)
            under = (np.abs(zs) < np.finfo(float).tiny) & (zc != 0)
            if under.any():
                zu = np.where(under, zc, 1.0)
                atom = np.where(q > 1, (q - 1.0) / q, 0.0)
                cont = np.ldexp(np.where(q < 1, 1.0 / (s2s * (1.0 - q)), 1.0 / (s2s * q * (q - 1.0))), -k)
                inv = _recip(zu)
                pole = np.empty(np.shape(inv), dtype=np.complex128)  # atom / z, part by part (no inf * 0)
                pole.real = np.where(atom > 0, atom * inv.real, 0.0)
                pole.imag = np.where(atom > 0, atom * inv.imag, 0.0)
                near = np.where(q == 1, 1.0 / (np.sqrt(s2 + 0j) * np.sqrt(-zu)), cont - pole)
                out = np.where(under, near, out)
    else:
        out = _stieltjes(zc, _Params(q, s2))
    if all(np.ndim(a) == 0 for a in (z, ratio, scale)):
        return complex(out)
    return out


# ----------------------------------------------------------------------------- the law

class MarchenkoPastur:
    r"""The Marchenko-Pastur law of :math:`X^\top X/N`, frozen at ``ratio`` :math:`q = P/N` and ``scale`` :math:`s^2`.

    .. math::

        \mu(dx) = \Big(1-\frac1q\Big)_+\delta_0(dx)
           + \frac{\sqrt{(\ell_+-x)(x-\ell_-)}}{2\pi s^2 q x}\,dx
           \quad\text{on } [\ell_-, \ell_+],\quad \ell_\pm = s^2(1\pm\sqrt q)^2,

    for :math:`X` of shape :math:`N\times P` with i.i.d. entries of variance
    :math:`s^2` (Marchenko and Pastur 1967; Bai and Silverstein 2010,
    Theorem 3.6). Methods follow ``scipy.stats`` frozen distributions and
    broadcast over their argument; scalars in give floats out.

    The atom at 0 (``ratio > 1``) is included in :meth:`cdf`, :meth:`sf`,
    :meth:`ppf`, :meth:`rvs`, :meth:`moment` and :meth:`stieltjes`;
    :meth:`pdf` is the density of the continuous part only, so ``pdf(0) == 0``
    for ``ratio > 1``.

    Parameters
    ----------
    ratio : float
        :math:`q = P/N`, > 0 and at most 1e300.
    scale : float
        :math:`s^2`, the variance of the entries of :math:`X` (the scale of the
        eigenvalue law), finite and > 0.
    """

    def __init__(self, ratio, scale=1.0):
        q = _law_ratio(ratio)
        s2 = _scale(scale)
        if q.ndim or s2.ndim:
            raise DomainError("ratio and scale must be scalars for a frozen MarchenkoPastur law; "
                              "use stieltjes() or mp_effective_number() for arrays of parameters")
        self.ratio = float(q)
        self.scale = float(s2)
        self._k = _shift(float(s2))
        self._p = _Params(q, np.ldexp(s2, -self._k))  # the law at scale s2 / 4**(k/2), in [0.5, 2)

    def __repr__(self) -> str:
        return f"MarchenkoPastur(ratio={self.ratio!r}, scale={self.scale!r})"

    # ------------------------------------------------------------------ simple facts

    @property
    def atom(self) -> float:
        """Mass :math:`1 - 1/q` of the atom at 0 when :math:`q > 1`, else 0."""
        return float(self._p.atom)

    def support(self) -> tuple[float, float]:
        r"""The edges :math:`(\ell_-, \ell_+) = (s^2(1-\sqrt q)^2, s^2(1+\sqrt q)^2)` of the continuous part.

        For :math:`q > 1` the atom at 0 lies below :math:`\ell_-`.
        """
        lo, hi = self._support()
        return float(np.ldexp(lo, self._k)), float(np.ldexp(hi, self._k))

    def _support(self):
        P = self._p
        return float(P.lo_hi + P.lo_lo), float(P.hi_hi + P.hi_lo)

    def mean(self) -> float:
        """:math:`s^2`."""
        return self.scale

    def var(self) -> float:
        """:math:`s^4 q`."""
        return self.scale * self.scale * self.ratio

    def std(self) -> float:
        r""":math:`s^2\sqrt q`."""
        return self.scale * float(np.sqrt(self.ratio))

    def median(self) -> float:
        return self.ppf(0.5)

    def moment(self, k) -> float:
        r"""Raw moment :math:`E[\lambda^k]` (atom included), correctly rounded.

        .. math:: E[\lambda^k] = s^{2k}\sum_{r=0}^{k-1}\frac1{r+1}\binom kr\binom{k-1}r q^r,

        the Narayana polynomial (Bai and Silverstein 2010, Sec. 3.1), from the
        float ``ratio`` and ``scale``. Every term is positive, so the size of the
        largest term (within a factor ``k``) decides first whether the result
        overflows (``inf``) or underflows (``0.0``), for any ``k``. Otherwise the
        sum is exact in integer arithmetic (both parameters are dyadic
        rationals; Horner's rule on the integer Narayana numbers, then one
        correctly rounded division) while that costs under about a second,
        and beyond that (large ``k`` with :math:`\ell_+` near 1) the terms within
        :math:`2^{-120}` of the largest are summed at 130-bit precision, which
        rounds correctly unless the exact value lies within about
        :math:`2^{-110}` (relative) of a rounding boundary. ``k`` so large that
        more than about :math:`2\\cdot10^4` terms matter is refused (``DomainError`` naming ``k``).
        """
        k = v.as_int(k, "k", low=0)
        if k == 0:
            return 1.0
        return _narayana_moment(self.ratio, self.scale, k)

    # ------------------------------------------------------------------ density and distribution

    def _x(self, x):
        """``x`` validated, in the units of the internal law (divided by the power of 4 factored from the scale)."""
        with np.errstate(over="ignore", under="ignore"):
            return np.ldexp(v.as_float(x, "x"), -self._k)

    def pdf(self, x):
        r"""Density of the continuous part, :math:`\sqrt{(\ell_+-x)(x-\ell_-)}/(2\pi s^2 q x)` on the support.

        0 outside :math:`[\ell_-, \ell_+]` and at the edges, except at
        :math:`x = \ell_- = 0` when ``ratio == 1``, where the density
        (:math:`\sim 1/(\pi\sqrt{s^2x})`) is returned as ``inf``. Integrates
        to :math:`\min(1, 1/q)`: the atom is not a density.
        """
        xa = self._x(x)
        P = self._p
        dl, dh = P.distances(xa)
        inside = (dl > 0) & (dh > 0)
        with np.errstate(all="ignore"):
            val = np.sqrt(dl) * np.sqrt(dh) / (2.0 * np.pi * P.s2 * P.q * xa)
        out = np.where(inside, val, 0.0)
        if self.ratio == 1.0:
            out = np.where(xa == 0, np.inf, out)
        with np.errstate(over="ignore", under="ignore"):
            return v.scalar_out(np.ldexp(out, -self._k), x)

    def logpdf(self, x):
        """Log of :meth:`pdf` (``-inf`` outside the support)."""
        with np.errstate(divide="ignore"):
            return v.scalar_out(np.log(np.asarray(self.pdf(x))), x)

    def _cont(self, xa, upper: bool):
        """Continuous part's cdf (``upper=False``) or sf, and the inside mask."""
        P = self._p
        dl, dh = P.distances(xa)
        inside = (dl > 0) & (dh > 0)
        u, w = (dh, dl) if upper else (dl, dh)
        rho = float(-P.rho if upper else P.rho)
        omr, opr = (float(P.opr), float(P.omr)) if upper else (float(P.omr), float(P.opr))
        out = np.zeros(np.shape(inside))
        if inside.any():
            out[inside] = _g_from_distances(u[inside], w[inside], rho, omr, opr) / np.pi
        return out, inside, dl, dh

    def cdf(self, x):
        r"""Distribution function :math:`P(\lambda \le x)`, atom included, in closed form.

        .. math::

            F(x) = \Big(1-\frac1q\Big)_+\mathbf 1_{x\ge0}
                 + \min\Big(1,\frac1q\Big)\frac{g(\theta,\rho)}{\pi},\quad
            \sin^2\frac\theta2 = \frac{x-\ell_-}{\ell_+-\ell_-},

        with :math:`g` of the module docstring: relative accuracy about
        :math:`10^{-14}` from edge to edge (use :meth:`sf` near :math:`\ell_+`).
        """
        xa = self._x(x)
        P = self._p
        cont, inside, dl, dh = self._cont(xa, upper=False)
        out = np.where(xa >= 0, P.atom, 0.0) + P.weight * cont
        out = np.where(dh <= 0, 1.0, np.where(inside | (dl > 0), out, np.where(xa >= 0, P.atom, 0.0)))
        return v.scalar_out(np.minimum(out, 1.0), x)  # rounding may exceed 1 by an ulp at the top

    def sf(self, x):
        r"""Survival function :math:`P(\lambda > x)`, accurate (relatively) up to :math:`\ell_+`.

        :math:`\min(1, 1/q)\,g(\pi-\theta, -\rho)/\pi` on the support.
        """
        xa = self._x(x)
        P = self._p
        cont, inside, dl, dh = self._cont(xa, upper=True)
        below = np.where(xa >= 0, P.weight, 1.0)  # x below l-: the continuous part, plus the atom if x < 0
        out = np.where(inside, P.weight * cont, np.where(dh <= 0, 0.0, below))
        return v.scalar_out(np.minimum(out, 1.0), x)

    def logcdf(self, x):
        with np.errstate(divide="ignore"):
            return v.scalar_out(np.log(np.asarray(self.cdf(x))), x)

    def logsf(self, x):
        with np.errstate(divide="ignore"):
            return v.scalar_out(np.log(np.asarray(self.sf(x))), x)

    # ------------------------------------------------------------------ quantiles

    def _quantile(self, lower_mass, upper_mass):
        """x with continuous-part cdf ``lower_mass`` (= 1 - ``upper_mass``), both in [0, 1] of the continuous part."""
        P = self._p
        use_upper = upper_mass < lower_mass
        target = np.where(use_upper, upper_mass, lower_mass)
        out = np.empty_like(target)
        ok = target > 0
        lo_edge, hi_edge = self._support()
        out[~ok] = np.where(use_upper[~ok], hi_edge, lo_edge)
        for upper in (False, True):
            sel = ok & (use_upper == upper)
            if not sel.any():
                continue
            rho = float(-P.rho if upper else P.rho)
            omr, opr = (float(P.opr), float(P.omr)) if upper else (float(P.omr), float(P.opr))
            t = _solve_g(target[sel], rho, omr, opr)
            h = np.sin(0.5 * t)
            step = P.width * h * h
            if upper:
                out[sel] = (P.hi_hi - step) + P.hi_lo
            else:
                out[sel] = (P.lo_hi + step) + P.lo_lo
        with np.errstate(over="ignore", under="ignore"):
            return np.ldexp(out, self._k)

    def ppf(self, p):
        r"""Quantile :math:`\inf\{x: F(x)\ge p\}`, by root-finding on the closed-form :meth:`cdf`.

        ``ppf(0)`` is the lower end of the support (0 when ``ratio >= 1``),
        ``ppf(1) = ell_+``, and every ``p`` inside the atom, :math:`p\le 1-1/q`,
        gives 0. Accurate to a few ulp of :math:`x` (relative to the distance
        to the nearer edge). Use :meth:`isf` for upper-tail probabilities
        below about 1e-8.
        """
        pa = v.as_float(p, "p")
        v.require(pa, (pa >= 0) & (pa <= 1), "p", "in [0, 1]")
        P = self._p
        flat = np.atleast_1d(pa).ravel()
        with np.errstate(all="ignore"):
            lower = np.maximum(flat - P.atom, 0.0) / P.weight
            upper = (1.0 - flat) / P.weight
        out = self._quantile(lower, upper)
        if self.ratio > 1:
            out = np.where(flat <= P.atom, 0.0, out)
        return v.scalar_out(out.reshape(pa.shape), p)

    def isf(self, s):
        r"""Inverse survival function: :math:`x` with :math:`P(\lambda > x) = s`, accurate for tiny ``s``."""
        sa = v.as_float(s, "s")
        v.require(sa, (sa >= 0) & (sa <= 1), "s", "in [0, 1]")
        P = self._p
        flat = np.atleast_1d(sa).ravel()
        with np.errstate(all="ignore"):
            upper = np.minimum(flat / P.weight, 1.0)
            lower = 1.0 - upper  # exact where it is used (upper >= 1/2)
        out = self._quantile(lower, upper)
        if self.ratio > 1:
            out = np.where(flat >= P.weight, 0.0, out)
        return v.scalar_out(out.reshape(sa.shape), s)

    def interval(self, confidence):
        """Equal-tailed interval ``(ppf((1-c)/2), isf((1-c)/2))``."""
        c = v.as_float(confidence, "confidence")
        v.require(c, (c >= 0) & (c <= 1), "confidence", "in [0, 1]")
        tail = (1.0 - c) / 2.0
        return self.ppf(tail), self.isf(tail)

    @renamed_keywords(rng="seed")
    def rvs(self, size=None, seed=0):
        """Samples by inverting the closed-form cdf at uniform draws (exact to float accuracy).

        ``seed``: an int, a sequence of ints or a ``SeedSequence`` (default 0;
        ``None`` for fresh entropy): the same seed gives the same numbers; a
        ``numpy.random.Generator`` is also accepted and used as is. For
        ``ratio > 1`` a fraction :math:`1 - 1/q` of the samples is exactly 0.
        The keyword ``rng=`` (the former name of ``seed``) is accepted with a
        DeprecationWarning.
        """
        if size is not None:
            dims = (size,) if np.ndim(size) == 0 else tuple(size) if np.ndim(size) == 1 else None
            if dims is None or not all(isinstance(d, (int, np.integer)) and not isinstance(d, (bool, np.bool_))
                                       for d in dims):
                raise TypeError(f"size must be None, an int or a tuple of ints; got {size!r}")
            if any(d < 0 for d in dims):
                raise DomainError(f"size must be >= 0 in every dimension; got {size!r}")
        gen = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed_sequence(seed))
        u = gen.random(size)
        return self.ppf(u)

    # ------------------------------------------------------------------ transform

    def stieltjes(self, z):
        """The Stieltjes transform :math:`E[1/(\\lambda - z)]`, atom included; see :func:`stieltjes`."""
        return stieltjes(z, self.ratio, self.scale)


# ----------------------------------------------------------------------------- moments

_LOG_MAX = float(np.log(np.finfo(float).max))  # 709.78
_LOG_MIN = float(np.log(2.0) * -1075)  # below half the smallest subnormal: rounds to 0
_EXACT_BIT_OPS = 2e9  # the integer Horner sum costs about k**2 * (bits per step) bit operations
_WINDOW_CAP = 20_000


def _log_binom(n: int, r: int) -> float:
    """``log C(n, r)``: lgamma below 1e12, Stirling's formula (relative error below 1e-13) above."""
    if n < 1e12:
        return math.lgamma(n + 1) - math.lgamma(r + 1) - math.lgamma(n - r + 1)
    if r == 0 or r == n:
        return 0.0
    m = n - r
    fn, fr, fm = float(n), float(r), float(m)
    # n log n - r log r - m log m = r log(n/r) + m log(n/m), each term without overflow
    return (fr * math.log(fn / fr) + fm * math.log(fn / fm)
            + 0.5 * (math.log(fn) - math.log(2.0 * math.pi) - math.log(fr) - math.log(fm)))


def _log_term(q: float, s2: float, k: int, r: int) -> float:
    """``log(s2**k N_r q**r)``, ``N_r = C(k, r) C(k-1, r) / (r + 1)``, to float accuracy (or inf)."""
    return (_log_binom(k, r) + _log_binom(k - 1, r) - math.log(r + 1)
            + float(r) * math.log(q) + float(k) * math.log(s2))


def _narayana_moment(q: float, s2: float, k: int) -> float:
    """``s2**k sum_r N_r q**r`` for ``k >= 1``, correctly rounded; see :meth:`MarchenkoPastur.moment`."""
    if k > 2**1000:
        # beyond float range in k: E[lambda^k] is monotone in k when l+ <= 1 (tends to 0), and
        # 2**1000 times log l+ decides the rest (l+ is 1 + O(1e-16) at best unless exactly 1)
        at = _narayana_moment_bound(q, s2, 2**1000)
        if at is not None:
            return at
        raise DomainError(f"k must be <= 2**1000 for ratio {q!r} and scale {s2!r}; got {k}")
    at = _narayana_moment_bound(q, s2, k)
    if at is not None:
        return at
    return _narayana_moment_sum(q, s2, k)


def _peak(q: float, k: int) -> int:
    """Index of (about) the largest term ``N_r q**r``, where the ratio of successive terms crosses 1."""
    root = math.sqrt(q)
    w = 1.0 / (1.0 + 1.0 / root) if root > 1.0 else root / (1.0 + root)
    return min(max(int(round(float(k) * w)), 0), k - 1)


def _narayana_moment_bound(q: float, s2: float, k: int):
    """``inf`` or ``0.0`` where the largest term decides that the moment over- or underflows, else None."""
    peak = _peak(q, k)
    lt = _log_term(q, s2, k, peak)
    slack = 8.0 + 1e-12 * (k * math.log(k + 1.0) + abs(k * math.log(s2)) + abs(peak * math.log(q)))
    if math.isinf(lt):  # the scale's or the ratio's power alone is beyond any float
        return math.inf if lt > 0 else 0.0
    if lt - slack > _LOG_MAX:  # the sum exceeds one of its terms
        return math.inf
    # the largest term is within a factor 2 of the rounded peak's for the terms' ratio near 1; the sum
    # is at most k times the largest
    if lt + math.log(2.0 * k) + slack < _LOG_MIN:
        return 0.0
    return None


def _narayana_moment_sum(q: float, s2: float, k: int) -> float:
    """The moment's sum, exact (integers) or at 130 bits over the terms that matter."""
    peak = _peak(q, k)
    lt = _log_term(q, s2, k, peak)
    a, d = q.as_integer_ratio()
    e = d.bit_length() - 1
    c, d2 = s2.as_integer_ratio()
    f = d2.bit_length() - 1
    if k <= 10**6 and k * k * (a.bit_length() + e + 2.0 * math.log2(k + 1.0)) <= _EXACT_BIT_OPS:
        # sum_r N_r a^r 2^(e (k-1-r)), Horner from r = k-1 (N_{k-1} = 1) down with
        # N_r = N_{r+1} (r+1)(r+2) / ((k-r)(k-1-r)), exact in integers
        n_r = 1
        acc = 1
        for r in range(k - 2, -1, -1):
            n_r = n_r * (r + 1) * (r + 2) // ((k - r) * (k - 1 - r))
            acc = acc * a + (n_r << (e * (k - 1 - r)))
        try:
            return (acc * c**k) / (1 << (e * (k - 1) + f * k))  # int / int: correctly rounded
        except OverflowError:
            return math.inf
    # the terms fall off like a Gaussian in r of variance 1/(2/peak + 2/(k - peak)) around the peak: the
    # window within 2**-120 of it is about 28 standard deviations wide
    lo_r, hi_r = max(peak, 1), max(k - peak, 1)
    width = 28.0 * math.sqrt(1.0 / (2.0 / lo_r + 2.0 / hi_r))
    if k > 2**100:  # the term indices must be exact at the working precision
        raise DomainError(f"k must be <= 2**100 for ratio {q!r} and scale {s2!r} (too many exact digits needed here; "
                          f"log E[lambda^k] is roughly {lt:.3g}); got {k}")
    if width > _WINDOW_CAP:
        k_max = int(k * (_WINDOW_CAP / width) ** 2)
        raise DomainError(f"k must be <= about {k_max} for ratio {q!r} and scale {s2!r} (beyond that too many "
                          f"terms of the moment sum matter; log E[lambda^k] is roughly "
                          f"{lt:.3g}); got {k}")
    import mpmath

    with mpmath.workprec(130):
        qm, km, pm = mpmath.mpf(q), mpmath.mpf(k), mpmath.mpf(peak)  # exact: k < 2**100
        t0 = (mpmath.binomial(km, pm) * mpmath.binomial(km - 1, pm) / (pm + 1)
              * mpmath.power(qm, peak) * mpmath.power(mpmath.mpf(s2), km))
        total = t0
        cut = mpmath.ldexp(1, -120)
        for direction in (1, -1):
            t, r, n = t0, peak, 0
            while True:
                if direction == 1:
                    if r + 1 > k - 1:
                        break
                    t = t * qm * (k - r) * (k - 1 - r) / ((r + 1) * (r + 2))
                    r += 1
                else:
                    if r - 1 < 0:
                        break
                    t = t * (r * (r + 1)) / (qm * (k - r + 1) * (k - r))
                    r -= 1
                total += t
                n += 1
                if t < cut * total and n > 2:
                    break
        return float(total)


# ----------------------------------------------------------------------------- effective number

def mp_effective_number(alpha, ratio, n_params, scale=1.0):
    r"""Effective number of parameters :math:`\sum_i \lambda_i/(\lambda_i+\alpha)` of a Marchenko-Pastur spectrum.

    The limit law's value of :func:`theory.sharpness.effective_number`, which
    evaluates the sum for given eigenvalues (``effective_number(eigenvalues,
    alpha)``); here the spectrum is the MP law of ``ratio`` and ``scale``.

    .. math::

        N_{\rm eff} = P\big(1 - \alpha\, m(-\alpha)\big)
            = \frac{2P}{\beta + 1 + q + \sqrt{(\beta + (1-\sqrt q)^2)(\beta + (1+\sqrt q)^2)}},
        \qquad \beta = \alpha/s^2,

    (MacKay's :math:`\gamma`, Moody's :math:`p_{\rm eff}`) for the :math:`P`
    eigenvalues of :math:`X^\top X/N` in the limit, with :math:`m` the
    Stieltjes transform. The second form, the root of
    :math:`q f^2 - (\beta + 1 + q) f + 1 = 0` for :math:`f = N_{\rm eff}/P`,
    adds only positive terms: accurate for every :math:`\alpha`. Limits:
    :math:`P\min(1, 1/q)` as :math:`\alpha\to0` (the zero eigenvalues do not
    count) and :math:`P s^2/\alpha \to 0` as :math:`\alpha\to\infty`;
    ``alpha = inf`` gives 0.

    Parameters
    ----------
    alpha : array_like
        Ridge (weight decay) strength, > 0 (``inf`` allowed). ``alpha = 0`` is
        refused rather than returning the limit: at 0 the sum counts a zero
        eigenvalue as 0/0.
    ratio : array_like
        :math:`q = P/N > 0`.
    n_params : array_like
        :math:`P > 0` (the number of parameters; any positive real scales the result).
    scale : array_like
        :math:`s^2 > 0`, the variance of the entries of :math:`X`.

    Examples
    --------
    >>> mp_effective_number(0.3, ratio=0.5, n_params=1000, scale=2.0)
    800.0
    """
    a = v.positive(alpha, "alpha", allow_inf=True)
    q = _ratio(ratio)
    n = v.positive(n_params, "n_params")
    s2 = _scale(scale)
    v.broadcast_together(alpha=a, ratio=q, n_params=n, scale=s2)
    with np.errstate(over="ignore", invalid="ignore"):
        beta = a / s2
        root = np.sqrt(q)
        lo = ((1.0 - q) / (1.0 + root)) ** 2
        hi = (1.0 + root) ** 2
        f = 2.0 / (beta + 1.0 + q + np.sqrt(beta + lo) * np.sqrt(beta + hi))
        f = np.where(np.isinf(beta), 0.0, f)
    return v.scalar_out(n * f, alpha, ratio, n_params, scale)


#: Deprecated name of :func:`mp_effective_number` (same arguments and result).
effective_number = deprecated_alias(mp_effective_number, "theory.marchenko_pastur.effective_number")


# ----------------------------------------------------------------------------- spikes

def bbp_threshold(ratio):
    r"""BBP threshold :math:`1 + \sqrt q` of a multiplicative spike :math:`\ell`.

    The population covariance is :math:`s^2\,\mathrm{diag}(\ell, 1, \dots, 1)`
    (:math:`\ell` in units of the noise variance :math:`s^2`). Above the
    threshold the top sample eigenvalue separates from the bulk
    (Baik, Ben Arous and Péché 2005; Baik and Silverstein 2006).
    """
    q = _ratio(ratio)
    return v.scalar_out(1.0 + np.sqrt(q), ratio)


def _product(*factors):
    """The product of positive ``factors`` with the magnitudes multiplied as exponents (``frexp``).

    Over- or underflows only where the exact product does; used where the
    plain product left the float range in an intermediate.
    """
    m, e = np.ones(()), np.zeros((), dtype=np.int64)
    for f in factors:
        fm, fe = np.frexp(f)
        m = m * fm
        e = e + fe
        m, e2 = np.frexp(m)
        e = e + e2
    with np.errstate(over="ignore", under="ignore"):
        return np.ldexp(m, np.clip(e, -2200, 2200).astype(np.int32))


def _in_range(x):
    """Finite and normal (or exactly 0)."""
    ax = np.abs(x)
    return np.isfinite(ax) & ((ax >= np.finfo(float).tiny) | (ax == 0))


def _spike_inputs(ell, ratio):
    e = v.positive(ell, "ell")
    q = _ratio(ratio)
    v.broadcast_together(ell=e, ratio=q)
    return e, q


def spike_eigenvalue(ell, ratio, scale=1.0):
    r"""Limit of the top sample eigenvalue for a multiplicative spike :math:`\ell` (in units of ``scale``).

    .. math::

        \lambda_{\max}\to s^2\,\ell\Big(1 + \frac{q}{\ell-1}\Big)\ \text{ if } \ell > 1+\sqrt q,
        \qquad s^2(1+\sqrt q)^2 \text{ (the bulk edge) otherwise}.

    The outlier solves :math:`T(\lambda) = 1/(\ell-1)` with
    :math:`T(z) = \int t\,\mu(dt)/(z-t)` (Baik, Ben Arous and Péché 2005;
    Benaych-Georges and Nadakuditi 2011, Theorem 2.7).
    """
    e, q = _spike_inputs(ell, ratio)
    s2 = _scale(scale)
    v.broadcast_together(ell=e, ratio=q, scale=s2)
    root = np.sqrt(q)
    above = e > 1.0 + root
    with np.errstate(all="ignore"):
        unit = np.where(above, e * (1.0 + q / (e - 1.0)), (1.0 + root) ** 2)
        out = s2 * unit
        # an intermediate out of range (ell (1 + q/(ell - 1)) overflowing while scale is tiny, ...)
        redo = ~(_in_range(unit) & _in_range(out))
        if np.any(redo):
            out = np.where(redo, _product(s2, np.where(above, e, 1.0 + root),
                                          np.where(above, 1.0 + q / (e - 1.0), 1.0 + root)), out)
    return v.scalar_out(out, ell, ratio, scale)


def spike_overlap(ell, ratio):
    r"""Limit of the squared overlap :math:`\langle u, v\rangle^2` of the top sample eigenvector with the spike.

    .. math::

        \langle u, v\rangle^2 \to
        \frac{1 - q/(\ell-1)^2}{1 + q/(\ell-1)}
        = \frac{(\delta - \sqrt q)(\delta + \sqrt q)}{\delta(\delta + q)},\quad \delta = \ell - 1,

    above the threshold :math:`\ell > 1+\sqrt q`, 0 otherwise (Paul 2007,
    Theorem 4; equal to :math:`-\ell/((\ell-1)^2\lambda T'(\lambda))`, Benaych-Georges
    and Nadakuditi 2011). The right-hand form has no cancellation near the threshold.
    """
    e, q = _spike_inputs(ell, ratio)
    root = np.sqrt(q)
    above = e > 1.0 + root
    with np.errstate(all="ignore"):
        d = e - 1.0
        out = np.where(above, ((d - root) * (d + root)) / (d * (d + q)), 0.0)
        # d (d + q) overflowing: the same ratio with d divided out
        redo = ~np.isfinite(out)
        if np.any(redo):
            out = np.where(redo, ((1.0 - root / d) * (1.0 + root / d)) / (1.0 + q / d), out)
    return v.scalar_out(out, ell, ratio)


def additive_spike_threshold(ratio, scale=1.0):
    r"""Threshold :math:`s^2(q + \sqrt q)` of an additive rank-one spike :math:`\theta vv^\top` on the MP bulk.

    :math:`W + \theta vv^\top` (``v`` a unit vector independent of :math:`W`)
    has an outlier iff :math:`\theta > 1/G(\ell_+) = s^2(q+\sqrt q)`
    (Benaych-Georges and Nadakuditi 2011, Theorem 2.1).
    """
    q = _ratio(ratio)
    s2 = _scale(scale)
    v.broadcast_together(ratio=q, scale=s2)
    with np.errstate(over="ignore", under="ignore"):
        unit = q + np.sqrt(q)
        out = s2 * unit
        redo = ~_in_range(out)
        if np.any(redo):
            out = np.where(redo, _product(s2, unit), out)
    return v.scalar_out(out, ratio, scale)


def _additive_inputs(theta, ratio, scale):
    th = v.nonnegative(theta, "theta", allow_inf=False)
    q = _ratio(ratio)
    s2 = _scale(scale)
    v.broadcast_together(theta=th, ratio=q, scale=s2)
    with np.errstate(over="ignore", under="ignore"):  # t = inf or subnormal: see the callers' fallbacks
        return th / s2, q, s2


def additive_spike_eigenvalue(theta, ratio, scale=1.0):
    r"""Limit of the top eigenvalue of :math:`W + \theta vv^\top`, :math:`W` Marchenko-Pastur.

    .. math::

        \lambda_{\max}\to s^2\Big(t + \frac{t}{t - q}\Big),\quad t = \theta/s^2,
        \quad\text{if } t > q + \sqrt q;\qquad s^2(1+\sqrt q)^2 \text{ otherwise},

    the solution of :math:`G(\rho) = 1/\theta` with :math:`G = -m` the Cauchy
    transform, i.e. :math:`\rho = R(1/\theta) + \theta` with the free Poisson
    R-transform :math:`R(w) = s^2/(1 - s^2 q w)` (Benaych-Georges and
    Nadakuditi 2011, Theorem 2.1). ``theta >= 0``, in the units of :math:`W`.
    """
    t, q, s2 = _additive_inputs(theta, ratio, scale)
    root = np.sqrt(q)
    above = t > q + root
    with np.errstate(all="ignore"):
        unit = np.where(above, t + t / (t - q), (1.0 + root) ** 2)
        out = s2 * unit
        redo = ~(_in_range(unit) & _in_range(out))
        if np.any(redo):
            # theta + s2 / (1 - q/t) above the threshold (t = theta/s2 may be inf), the edge as a product
            theta_ = v.as_float(theta, "theta")
            alt = np.where(above, theta_ + _product(s2, 1.0 / (1.0 - q / t)),
                           _product(s2, 1.0 + root, 1.0 + root))
            out = np.where(redo, alt, out)
    return v.scalar_out(out, theta, ratio, scale)


def additive_spike_overlap(theta, ratio, scale=1.0):
    r"""Limit of :math:`\langle u, v\rangle^2` for the top eigenvector :math:`u` of :math:`W + \theta vv^\top`.

    .. math::

        \langle u, v\rangle^2 \to -\frac{1}{\theta^2 G'(\rho)}
          = 1 - \frac{q}{(t-q)^2}
          = \frac{(t - q - \sqrt q)(t - q + \sqrt q)}{(t-q)^2},\quad t = \theta/s^2,

    above the threshold, 0 otherwise (Benaych-Georges and Nadakuditi 2011,
    Theorem 2.3, with :math:`G'(\rho) = 1/(G^{-1})'(1/\theta)` from the
    R-transform). Derived here; checked against quadrature of :math:`G'`.
    """
    t, q, _ = _additive_inputs(theta, ratio, scale)
    root = np.sqrt(q)
    above = t > q + root
    with np.errstate(all="ignore"):
        d = t - q
        out = np.where(above, ((d - root) * (d + root)) / (d * d), 0.0)
        redo = ~np.isfinite(out)  # d * d overflowing, or t = theta/scale infinite
        if np.any(redo):
            out = np.where(redo, (1.0 - root / d) * (1.0 + root / d), out)
    return v.scalar_out(out, theta, ratio, scale)
