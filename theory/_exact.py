"""Accurately rounded evaluation of rational expressions of float64 arrays.

A formula such as ``g*g*(lr*lam - 2) + lr*lam**3*s`` cancels catastrophically
near the points where it changes sign, and those are the points the theory is
about (the edge of stability). :func:`rational` evaluates such an expression,
written once as a plain Python function of its arguments, in double-double
arithmetic (about 106 bits) and keeps, for every element, a bound on the
magnitudes that went into it. Where that bound shows the double-double result
cannot be trusted to the last bit (severe cancellation, or magnitudes where
the error-free products over- or underflow) the element is recomputed exactly
with :class:`fractions.Fraction` and rounded once. The result is the float64
nearest the exact value up to about one ulp, and its sign is always right.

:func:`mantissa_product` and :func:`root_of_product` evaluate products of
powers of float64 arrays (and their square and cube roots) from the inputs'
mantissas and exponents, so that nothing over- or underflows however large or
small the factors.

The building blocks are the classical error-free transformations: Knuth's
TwoSum and Dekker's splitting product (Dekker, Numer. Math. 18, 1971).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

__all__ = ["two_sum", "two_prod", "DD", "rational", "mantissa_product", "scale2", "root_of_product"]

_SPLITTER = 134217729.0  # 2**27 + 1
# log2 of the magnitudes inside which TwoProduct is exact (no overflow in the
# split, no underflow of the error term).
_LOG_HI = 900.0
_LOG_LO = -900.0
# Cancellation (log2 of |result| / bound) beyond which double-double may lose the
# last bit of float64: its error is about 2**-104 of the bound.
_LOG_CANCEL = -40.0


def two_sum(a, b):
    """s + e == a + b exactly, s = fl(a + b) (Knuth)."""
    s = a + b
    bb = s - a
    e = (a - (s - bb)) + (b - bb)
    return s, e


def _fast_two_sum(a, b):
    s = a + b
    return s, b - (s - a)


def _split(a):
    t = _SPLITTER * a
    hi = t - (t - a)
    return hi, a - hi


def two_prod(a, b):
    """p + e == a * b exactly when no over/underflow occurs, p = fl(a * b) (Dekker)."""
    p = a * b
    ah, al = _split(a)
    bh, bl = _split(b)
    e = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    return p, e


def _log2abs(x):
    with np.errstate(divide="ignore"):
        return np.log2(np.abs(x))


def _combine(a, b, op):
    return None if a is None or b is None else op(a, b)


class DD:
    """A double-double array hi + lo, optionally with a bound 2**lmag on the |terms| combined into it.

    The bound (kept as a base-2 logarithm, so that it neither over- nor
    underflows where the values do) is tracked only from :meth:`tracked`
    operands and scalar constants; :func:`rational` uses it to decide where
    double-double is not enough. Plain ``DD(x)`` skips that cost.
    """

    __slots__ = ("hi", "lo", "lmag")

    def __init__(self, hi, lo=0.0, lmag=None):
        self.hi = hi
        self.lo = lo
        self.lmag = lmag

    @classmethod
    def tracked(cls, x) -> "DD":
        return cls(x, 0.0, _log2abs(x))

    @staticmethod
    def lift(x) -> "DD":
        if isinstance(x, DD):
            return x
        return DD.tracked(np.float64(x)) if np.ndim(x) == 0 else DD(x)

    def __neg__(self):
        return DD(-self.hi, -self.lo, self.lmag)

    def __add__(self, other):
        other = DD.lift(other)
        s, e = two_sum(self.hi, other.hi)
        hi, lo = _fast_two_sum(s, e + (self.lo + other.lo))
        return DD(hi, lo, _combine(self.lmag, other.lmag, lambda a, b: np.maximum(a, b) + 1.0))

    __radd__ = __add__

    def __sub__(self, other):
        return self + (-DD.lift(other))

    def __rsub__(self, other):
        return DD.lift(other) + (-self)

    def __mul__(self, other):
        other = DD.lift(other)
        p, e = two_prod(self.hi, other.hi)
        hi, lo = _fast_two_sum(p, e + (self.hi * other.lo + self.lo * other.hi))
        return DD(hi, lo, _combine(self.lmag, other.lmag, np.add))

    __rmul__ = __mul__

    def __truediv__(self, other):
        other = DD.lift(other)
        q1 = self.hi / other.hi
        r = self - other * q1
        q2 = r.hi / other.hi
        r = r - other * q2
        q3 = r.hi / other.hi
        hi, lo = _fast_two_sum(q1, q2)
        out = DD(hi, lo) + q3
        lmag = _combine(self.lmag, other.lmag,
                        lambda a, b: np.maximum(a - _log2abs(other.hi), _log2abs(out.hi)) + 1.0)
        return DD(out.hi, out.lo, lmag)

    def __rtruediv__(self, other):
        return DD.lift(other) / self

    def __pow__(self, n: int):
        out = self
        for _ in range(n - 1):
            out = out * self
        return out


def rational(expr, *args) -> np.ndarray:
    """Evaluate ``expr(*args)`` accurately for finite float64 arrays ``args`` (broadcast).

    ``expr`` may use only ``+ - * /``, integer powers and integer or float
    constants, so that it runs unchanged on :class:`DD` arrays and on
    :class:`~fractions.Fraction` scalars. The caller must exclude inputs where
    the expression divides by zero.
    """
    arrays = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in args))
    with np.errstate(all="ignore"):
        out = expr(*(DD.tracked(a) for a in arrays))
        value = np.asarray(out.hi + out.lo, dtype=np.float64)
        lmag = np.broadcast_to(np.asarray(out.lmag), value.shape)
        zero = lmag == -np.inf  # built only from exact zeros
        trusted = np.isfinite(value) & (
            zero | ((lmag < _LOG_HI) & (lmag > _LOG_LO) & (_log2abs(value) >= lmag + _LOG_CANCEL)))
    if trusted.all():
        return value
    value = value.copy()
    for idx in zip(*np.nonzero(~trusted)) if value.ndim else [()]:
        exact = expr(*(Fraction(float(a[idx])) for a in arrays))
        value[idx] = _to_float(exact)
    return value


def _to_float(q) -> float:
    q = Fraction(q)
    try:
        return float(q)
    except OverflowError:
        return float("inf") if q > 0 else float("-inf")


def mantissa_product(factors, exp2: int = 0):
    """``2**exp2 * prod(f**p)`` for ``f >= 0`` as ``(omega, E, zero, inf)``, value ``omega * 2**E``.

    ``factors`` is a sequence of ``(f, p)``, ``f`` an array, ``p`` a nonzero
    int. ``omega`` is a double-double product of the binary mantissas (error
    below 2**-100), ``E`` an int64 exponent, so nothing over- or underflows
    however large or small the factors (subnormals included). ``zero``/``inf``
    flag a zero or infinite factor (the limit 0 or inf); the caller excludes
    the indeterminate ``0 * inf``.
    """
    zero = inf = np.False_
    omega = None
    expo = np.int64(exp2)
    for f, p in factors:
        f = np.asarray(f, dtype=np.float64)
        special = (f == 0) | np.isinf(f)
        m, e = np.frexp(np.where(special, 1.0, f))
        zero = zero | ((f == 0) if p > 0 else np.isinf(f))
        inf = inf | (np.isinf(f) if p > 0 else (f == 0))
        for _ in range(abs(p)):
            if omega is None:
                omega = DD(m) if p > 0 else DD(np.float64(1.0)) / m
            else:
                omega = omega * m if p > 0 else omega / m
        expo = expo + p * e.astype(np.int64)
    return omega, expo, zero, inf


def scale2(x: DD, r) -> DD:
    """``x * 2**r`` for a double-double ``x`` and int array ``r`` (exact unless it over- or underflows)."""
    return DD(np.ldexp(x.hi, r), np.ldexp(x.lo, r))


def root_of_product(factors, root: int, exp2: int = 0) -> np.ndarray:
    """``(2**exp2 * prod(f**p)) ** (1/root)`` (root 1, 2 or 3) to about one ulp, over the whole float range.

    ``factors`` as in :func:`mantissa_product`; a zero factor gives 0, an
    infinite one inf.
    """
    omega, expo, zero, inf = mantissa_product(factors, exp2)
    k, r = np.divmod(expo, root)
    base = scale2(omega, r.astype(np.int32)).hi
    scaled = {1: base, 2: np.sqrt(base), 3: np.cbrt(base)}[root]
    with np.errstate(over="ignore"):  # a root beyond the float range is inf, its limit
        out = np.ldexp(scaled, np.clip(k, -4000, 4000).astype(np.int32))
    return np.where(zero, 0.0, np.where(inf, np.inf, out))
