"""Monte Carlo estimates with standard errors, and the decision rule the checks use.

A simulation is summarised by :class:`Moments` (count, mean, sum of squared
deviations) per block of runs; blocks are merged in a fixed order with Chan's
pairwise update, so the result does not depend on how the runs were split
into chunks or workers. :class:`Estimate` is what comes out: the mean with its
standard error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special

from . import _validate as v
from .errors import DomainError

__all__ = ["Estimate", "Moments", "Computed", "LineFit", "censored_mean", "control_variate", "weighted_line",
           "z_critical", "z_score"]


@dataclass(frozen=True)
class Estimate:
    """A Monte Carlo mean and its standard error (arrays broadcast together).

    ``stderr`` is the sample standard deviation over ``n`` independent runs
    divided by sqrt(n).
    """

    value: np.ndarray
    stderr: np.ndarray
    n: int

    def __getitem__(self, index) -> "Estimate":
        return Estimate(np.asarray(self.value)[index], np.asarray(self.stderr)[index], self.n)

    def __float__(self) -> float:
        return float(self.value)

    def z(self, expected) -> np.ndarray:
        """Standardised difference (value - expected) / stderr."""
        return z_score(self.value, self.stderr, expected)

    def __repr__(self) -> str:
        value = np.asarray(self.value)
        if value.ndim == 0:
            return f"Estimate({float(value):.10g} ± {float(np.asarray(self.stderr)):.2g}, n={self.n})"
        return f"Estimate(shape={value.shape}, n={self.n})"


@dataclass
class Moments:
    """Count, mean and sum of squared deviations (M2) of a batch of runs, elementwise."""

    n: int
    mean: np.ndarray
    m2: np.ndarray

    @classmethod
    def of(cls, x: np.ndarray, axis: int = 0) -> "Moments":
        """Two-pass moments of ``x`` along ``axis`` (the runs)."""
        x = np.asarray(x, dtype=np.float64)
        n = x.shape[axis]
        mean = x.mean(axis=axis)
        dev = x - np.expand_dims(mean, axis)
        return cls(n, mean, (dev * dev).sum(axis=axis))

    def merge(self, other: "Moments") -> "Moments":
        """Chan, Golub and LeVeque's update for the union of two disjoint batches."""
        if self.n == 0:
            return other
        n = self.n + other.n
        delta = other.mean - self.mean
        mean = self.mean + delta * (other.n / n)
        m2 = self.m2 + other.m2 + delta * delta * (self.n * other.n / n)
        return Moments(n, mean, m2)

    def estimate(self) -> Estimate:
        if self.n < 2:
            raise ValueError("a standard error needs at least 2 runs")
        with np.errstate(invalid="ignore", over="ignore"):
            stderr = np.sqrt(self.m2 / ((self.n - 1) * self.n))
        return Estimate(self.mean, stderr, self.n)


def _real(x, name: str) -> np.ndarray:
    """``x`` as float64, NaN kept (a NaN estimate gives a NaN z); TypeError naming ``name`` unless real numbers."""
    arr = np.asarray(x)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{name} must be real numbers; got {type(x).__name__} of dtype {arr.dtype}")
    return arr.astype(np.float64, copy=False)


def z_score(value, stderr, expected) -> np.ndarray:
    """(value - expected) / stderr, with 0 where both the difference and stderr are 0."""
    value, stderr, expected = (_real(a, n) for a, n in ((value, "value"), (stderr, "stderr"), (expected, "expected")))
    v.broadcast_together(value=value, stderr=stderr, expected=expected)
    diff = value - expected
    with np.errstate(divide="ignore", invalid="ignore"):
        z = diff / stderr
    return np.where((diff == 0) & (stderr == 0), 0.0, z)


def z_critical(alpha: float, n_tests: int = 1, *, two_sided: bool = True) -> float:
    r"""Critical ``|z|`` for a family of ``n_tests`` normal tests at family-wise false-alarm rate ``alpha``.

    Bonferroni: each test runs at ``alpha / n_tests``, and the critical value
    is :math:`-\Phi^{-1}(\alpha/(n_{\rm tests}\,s))`, :math:`s` = 2 two-sided, 1
    one-sided; where that tail probability underflows it is computed from its
    logarithm (``scipy.special.ndtri_exp``).

    Parameters
    ----------
    alpha : float
        Family-wise false-alarm rate, in (0, 1).
    n_tests : int
        Number of tests in the family, >= 1.
    two_sided : bool
    """
    alpha = v.scalar(alpha, "alpha")
    if not 0 < alpha < 1:
        raise DomainError(f"alpha must be in (0, 1); got {alpha!r}")
    n_tests = v.as_int(n_tests, "n_tests", 1)
    sides = 2 if v.flag(two_sided, "two_sided") else 1
    per_test = alpha / n_tests / sides if n_tests < 2**1000 else 0.0
    if per_test < _TINY:  # underflowed (or lost digits): the same quantile from log(per_test)
        return float(-special.ndtri_exp(math.log(alpha) - math.log(n_tests) - math.log(sides)))
    return float(-special.ndtri(per_test))


_TINY = float(np.finfo(np.float64).tiny)


@dataclass(frozen=True)
class Computed:
    """A deterministic numerical result with an estimate of its absolute error.

    ``error`` is the difference between two resolutions of the same method
    (e.g. a quadrature on a mesh and on the mesh with every panel halved).
    """

    value: float
    error: float
    method: str
    details: dict

    def __float__(self) -> float:
        return float(self.value)

    @property
    def relative_error(self) -> float:
        return abs(self.error / self.value) if self.value else float("inf")

    def __repr__(self) -> str:
        return f"Computed({self.value:.15g} ± {self.error:.2g}; {self.method})"


@dataclass(frozen=True)
class LineFit:
    r"""Weighted least-squares line :math:`y = a + b x` through points with known standard errors.

    Attributes
    ----------
    slope, slope_se, intercept, intercept_se : float
        :math:`b`, :math:`a` and their standard errors from
        :math:`(X^\top W X)^{-1}`, :math:`W = \mathrm{diag}(1/\sigma_i^2)`
        (the given errors are taken as known, not rescaled).
    chi2 : float
        :math:`\sum_i (y_i - a - b x_i)^2/\sigma_i^2`.
    dof : int
        Points minus 2.
    p_value : float
        :math:`P(\chi^2_{\rm dof} \ge \chi^2)`: a small value says the points
        scatter about the line more than their errors allow (not linear, or
        errors underestimated). NaN when dof = 0.
    curvature, curvature_se : float
        Coefficient :math:`c` of :math:`x^2` in the weighted quadratic fit
        :math:`a' + b' x + c x^2` and its standard error (NaN with fewer than
        4 points). :math:`|c|/\mathrm{se}` beyond about 2-3 is evidence of
        curvature.
    n : int
        Points used.
    """

    slope: float
    slope_se: float
    intercept: float
    intercept_se: float
    chi2: float
    dof: int
    p_value: float
    curvature: float
    curvature_se: float
    n: int

    def __repr__(self) -> str:
        return (f"LineFit(slope={self.slope:.4g} ± {self.slope_se:.2g}, intercept={self.intercept:.4g} ± "
                f"{self.intercept_se:.2g}, chi2/dof={self.chi2:.3g}/{self.dof}, p={self.p_value:.3g}, "
                f"curvature={self.curvature:.3g} ± {self.curvature_se:.2g})")


def weighted_line(x, y, yerr) -> LineFit:
    r"""Fit :math:`y = a + b x` by weighted least squares with weights :math:`1/\sigma_i^2`.

    Parameters
    ----------
    x, y : array_like, shape (n,)
        Finite; at least 2 distinct ``x``.
    yerr : array_like, shape (n,)
        Standard errors :math:`\sigma_i > 0`.

    Returns
    -------
    LineFit
    """
    x = v.finite(x, "x").ravel()
    y = v.finite(y, "y").ravel()
    yerr = v.positive(yerr, "yerr").ravel()
    if not x.size == y.size == yerr.size:
        raise DomainError(f"x, y and yerr must have the same length; got {x.size}, {y.size}, {yerr.size}")
    if np.unique(x).size < 2:
        raise DomainError("x must hold at least 2 distinct values")
    # Scaled variables, so that neither the normal equations nor the weights over- or underflow and the
    # design is well conditioned for any x: u = (x - c)/s in [-1, 1], y' = y/ys, relative weights
    # w = (sigma_min/sigma)^2 in (0, 1]. The fit is then mapped back exactly (a linear change of variables).
    lo, hi = float(x.min()), float(x.max())
    c = lo + 0.5 * (hi - lo) if np.isfinite(hi - lo) else 0.5 * lo + 0.5 * hi
    s = 0.5 * hi - 0.5 * lo
    u = (x - c) / s
    ys = float(np.max(np.abs(y))) or 1.0
    yp = y / ys
    smin = float(yerr.min())
    w = (smin / yerr) ** 2
    if np.unique(x[w > 0]).size < 2:
        raise DomainError("yerr must not span so wide a range that fewer than 2 distinct x keep a nonzero weight "
                          f"(relative weight (min yerr / yerr)^2 underflows); got yerr from {smin!r} to "
                          f"{float(yerr.max())!r}")

    def fit(deg):
        design = np.vander(u, deg + 1, increasing=True)
        cov = np.linalg.inv(design.T @ (design * w[:, None]))  # times smin'^2 = (smin/ys)^2: the covariance
        coef = cov @ (design.T @ (w * yp))
        return coef, cov

    def se(var, power):  # sqrt(var) smin / s^power, a standard error in the original units (inf beyond range)
        out = np.sqrt(var) * smin
        for _ in range(power):
            out = out / s
        return float(out)

    (a0, b0), cov = fit(1)
    # y = ys (a0 + b0 (x - c)/s): slope ys b0/s, intercept ys (a0 - b0 c/s)
    slope = ys * (b0 / s)
    intercept = ys * a0 - slope * c
    # var(intercept) = (smin)^2 (cov00 - 2 (c/s) cov01 + (c/s)^2 cov11), written as a norm to avoid cancellation
    r = c / s
    var_i = cov[0, 0] - 2.0 * r * cov[0, 1] + r * r * cov[1, 1]
    z = (yp - (a0 + b0 * u)) * (ys / yerr)
    with np.errstate(over="ignore"):
        chi2 = float(np.sum(z * z))
    dof = x.size - 2
    p_value = float(special.chdtrc(dof, chi2)) if dof > 0 else np.nan
    if np.unique(x).size >= 4:
        c2, cov2 = fit(2)
        with np.errstate(over="ignore"):  # beyond the float range for tiny x spreads: then +-inf
            curv, curv_se = float(ys * c2[2] / s / s), se(cov2[2, 2], 2)
    else:
        curv = curv_se = np.nan
    return LineFit(slope=float(slope), slope_se=se(cov[1, 1], 1), intercept=float(intercept),
                   intercept_se=se(max(var_i, 0.0), 0), chi2=chi2, dof=dof, p_value=p_value, curvature=curv,
                   curvature_se=curv_se, n=int(x.size))


def control_variate(samples, control, control_mean) -> Estimate:
    r"""Mean of ``samples`` with the variance removed that a control of known mean explains.

    .. math::

        \hat\mu = \bar y - \hat\beta\,(\bar c - \mu_c), \qquad
        \hat\beta = \frac{\sum_i (y_i - \bar y)(c_i - \bar c)}{\sum_i (c_i - \bar c)^2},

    with standard error :math:`\sqrt{\sum_i (y_i - \bar y - \hat\beta (c_i - \bar c))^2 / ((n-2)\,n)}`
    (Glasserman, *Monte Carlo Methods in Financial Engineering*, 2004, Sec. 4.1,
    eqs. 4.2 and 4.5). The variance falls by the factor :math:`1 - \rho^2`
    (:math:`\rho` the correlation of sample and control); estimating
    :math:`\hat\beta` from the same runs leaves a bias of order :math:`1/n`.

    Parameters
    ----------
    samples : array_like, shape (n, ...)
        Independent runs along axis 0; the other axes are separate statistics.
    control : array_like, shape (n, ...)
        The control's value in the same runs, broadcasting against ``samples``.
    control_mean : array_like
        Its exact expectation :math:`\mu_c`, broadcasting against one run.

    Returns
    -------
    Estimate
        With ``n`` the number of runs; a control with no spread (constant) leaves
        the plain mean and its standard error.
    """
    y = v.finite(samples, "samples")
    c = v.finite(control, "control")
    mu = v.finite(control_mean, "control_mean")
    if c.ndim > y.ndim or (c.ndim and y.ndim and c.shape[0] != y.shape[0]):
        raise DomainError(f"control must have the runs of samples along axis 0 and no more axes; got shapes "
                          f"samples {y.shape} and control {c.shape}")
    shape = v.broadcast_together(samples=y, control=c)
    if len(shape) == 0 or shape[0] < 3:
        raise DomainError(f"samples and control need at least 3 runs along axis 0; got shape {shape}")
    y, c = np.broadcast_to(y, shape), np.broadcast_to(c, shape)
    v.broadcast_together(control_mean=mu, samples=y[0])
    n = shape[0]
    # work in units of each array's largest magnitude, so that squares neither overflow nor underflow
    uy, uc = (float(np.max(np.abs(a))) or 1.0 for a in (y, c))
    y, c = y / uy, c / uc
    dy, dc = y - y.mean(axis=0), c - c.mean(axis=0)
    scc = (dc * dc).sum(axis=0)
    beta = np.divide((dy * dc).sum(axis=0), scc, out=np.zeros_like(scc), where=scc > 0)
    with np.errstate(over="ignore"):
        shift = np.where(beta == 0, 0.0, beta * (c.mean(axis=0) - mu / uc))
    resid = dy - beta * dc
    dof = np.where(scc > 0, n - 2, n - 1)
    return Estimate((y.mean(axis=0) - shift) * uy, np.sqrt((resid * resid).sum(axis=0) / (dof * n)) * uy, n)


def censored_mean(times, censored) -> Estimate:
    r"""Mean of first-passage times of which some are censored (the run ended first).

    Without censoring: the sample mean with standard error sd/sqrt(n). With
    censoring: the exponential maximum-likelihood estimate
    :math:`\hat\tau = \sum_i t_i / n_{\rm escaped}` (censored walkers contribute
    their time survived), with standard error :math:`\hat\tau/\sqrt{n_{\rm escaped}}`.
    The latter assumes exponential escape, which holds in the Kramers regime
    once the walkers have relaxed in the valley. When nothing escaped there is
    no estimate (only the lower bound ``sum(times)``): DomainError.

    Parameters
    ----------
    times : array_like, shape (n,)
        Escape or censoring times, finite and >= 0; at least 2 when none is censored.
    censored : array_like of bool, shape (n,)
        True where the run ended before the walker escaped.
    """
    times = v.nonempty(v.nonnegative(times, "times", allow_inf=False), "times").ravel()
    censored = np.asarray(censored)
    if censored.dtype != bool:
        raise TypeError(f"censored must be an array of True/False; got dtype {censored.dtype}")
    censored = censored.ravel()
    if censored.size != times.size:
        raise DomainError(f"times and censored must have the same length; got {times.size} and {censored.size}")
    n = times.size
    n_esc = n - int(np.count_nonzero(censored))
    if n_esc == 0:
        raise DomainError(f"no walker escaped (all {n} censored at up to {times.max():g}): the mean escape "
                          "time cannot be estimated; run longer")
    if n_esc == n and n < 2:
        raise DomainError("times must hold at least 2 values when none is censored (a standard error needs "
                          "2); got 1")
    top = float(times.max())
    # factor out the magnitude where the squared deviations (or the sums) could over- or underflow
    unit = top if top > 1e150 or 0 < top < 1e-150 else 1.0
    t = times / unit if unit != 1.0 else times
    if n_esc == n:
        return Estimate(float(t.mean()) * unit, float(t.std(ddof=1) / np.sqrt(n)) * unit, n)
    tau = float(t.sum()) / n_esc * unit
    return Estimate(tau, tau / np.sqrt(n_esc), n)
