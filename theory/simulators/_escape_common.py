r"""What the escape simulators share: the bridge band, the hazard floor, the plan of a run, and the
estimates every escape result gives from its exit times.

The Brownian-bridge test of a step from :math:`d_n` to :math:`d_{n+1}` (signed
distances to the exit plane, negative inside) has the crossing probability
:math:`p = \exp(-2 d_n d_{n+1}/v)`, :math:`v` the step's variance along the
plane's normal (Gobet, Stoch. Proc. Appl. 87, 2000). Both engines test only
steps with one end within :data:`BAND` standard deviations :math:`\sqrt v` of
the plane, and drop a probability below :math:`e^{Q_{\min}}`,
:data:`Q_MIN` :math:`= -2\,\mathrm{BAND}^2`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _validate as v
from ..stats import Estimate, censored_mean

__all__ = ["BAND", "Q_MIN", "EscapePlan", "EscapeTimes", "separable_cubic"]

# Bridge tests cover walkers within BAND step widths of the plane at either end
# of the step; beyond that the crossing probability is below exp(-2 * 3**2) ~ 1.5e-8
# per step, and a walker spends few steps that close: the bias is below 1e-6.
BAND = 3.0
# The same criterion for the steps that are tested: a crossing probability below
# exp(Q_MIN) (one end in the band, the other far) adds nothing to the hazard.
Q_MIN = -2.0 * BAND**2


@dataclass(frozen=True)
class EscapePlan:
    """Everything a chunk of walkers needs, in the walkers' internal units (positions / scale)."""

    dim: int
    dt: float
    scale: float  # internal coordinate = x / scale
    poly: tuple | None  # (A, B, C, E): x <- x (A x^2 + B x + C) + E, internal units; None: generic
    landscape: object
    # noise: "iso" (sigma, internal units) or "regime" (D switches with the loss level)
    noise: str
    sigma: float
    s_a: object = None  # (d,) or (d, d): the increment's matrix square root, minimum side
    s_b: object = None  # the same beyond the switch
    diag: bool = True
    quartic: tuple | None = None  # per-coordinate loss polynomial (a4, a3, a2, a1) for the regime test
    level: float = 0.0  # regime a iff loss (as computed) < level
    # exit
    exit: str = "saddle"
    normal: np.ndarray | None = None
    axis: int | None = None  # the normal is +-(unit vector along axis)
    sign: float = 1.0
    offset: float = 0.0  # e . p (or p[axis]) of the plane's point, internal units
    var: tuple = (1.0, 1.0)  # per-step variance along the normal, regime a / b (internal units)
    band: float = 0.0  # half-width of the candidates' band (0 without the bridge)
    bridge: bool = True
    label0: int = 0  # the start's basin (exit="valley")
    # exit="valley" on a separable landscape: the start's basin as the open box lo < x < hi ((dim,) each,
    # +-inf: no face), and per coordinate the step's variance in regime a / b; None: test basin(x)
    box: tuple | None = None
    box_var: tuple | None = None
    start: np.ndarray | None = None  # internal units
    max_steps: int = 1


class EscapeTimes:
    r"""Estimates from per-walker exit steps, shared by every escape result.

    A subclass provides ``times`` (exit step per walker, ``max_steps`` when
    censored), ``censored``, ``dt`` (the duration of a step in continuous
    time), ``max_steps``, ``n_walkers`` and ``n_escaped``.
    """

    @property
    def n_censored(self) -> int:
        return self.n_walkers - self.n_escaped

    def mean_steps(self) -> Estimate:
        r"""Mean escape time in steps (:func:`theory.stats.censored_mean`).

        Without censoring: the sample mean, standard error sd / sqrt(n). With
        censored walkers: the exponential maximum-likelihood estimate
        :math:`\sum_i t_i / n_{\rm escaped}` (censored walkers contribute
        ``max_steps``), standard error estimate / sqrt(n_escaped). That
        assumes exponentially distributed escape times, true in the Kramers
        regime (barrier well above the noise) once the relaxation transient
        inside the well (a time :math:`\delta` of order :math:`1/H_a`) is
        over: a transient during which nobody escapes biases the estimate by
        about :math:`\delta\,(1/P_{\rm escaped} - 1)`, so censor long after
        it. Raises DomainError when no walker escaped.
        """
        return censored_mean(self.times, self.censored)

    def mean_time(self) -> Estimate:
        """Mean escape time in continuous time (``steps * dt``); see :meth:`mean_steps` for censoring."""
        e = self.mean_steps()
        return Estimate(e.value * self.dt, e.stderr * self.dt, e.n)

    def rate(self) -> Estimate:
        r"""Escape rate :math:`\gamma = 1/\bar t`, standard error by the delta method (:math:`s_t/\bar t^2`)."""
        e = self.mean_time()
        return Estimate(1.0 / e.value, e.stderr / e.value**2, e.n)

    def survival(self, t) -> Estimate:
        r"""Empirical survival :math:`P(t_{\rm exit} > t)` at continuous times ``t``, binomial standard error.

        NaN at times from the censoring time ``max_steps * dt`` on when some walkers were censored.
        """
        t = v.as_float(t, "t")
        cont = np.sort(self.times) * self.dt
        s = 1.0 - np.searchsorted(cont, t, side="right") / self.n_walkers
        if self.n_escaped < self.n_walkers:
            s = np.where(t >= self.max_steps * self.dt, np.nan, s)
        se = np.sqrt(s * (1.0 - s) / self.n_walkers)
        return Estimate(s, se, self.n_walkers)


def separable_cubic(landscape, points):
    """Coefficients (c3, c2, c1, c0), each shape (dim,), if grad_i L = c3 x_i^3 + c2 x_i^2 + c1 x_i + c0; else None.

    Fitted on the diagonal and verified against ``landscape.gradient`` at random
    points (tolerance 1e-9 of the terms' size): a gradient that is not
    coordinate-wise cubic fails the check and gets the generic path.
    """
    d = landscape.dim
    r = max(1.0, float(np.max(np.abs(points))))
    ts = np.array([-1.0, -0.5, 0.5, 1.0]) * r
    try:
        g = np.asarray(landscape.gradient(ts[:, None] * np.ones(d)), dtype=np.float64)
        coef = np.linalg.solve(np.vander(ts, 4), g)  # rows c3, c2, c1, c0
        x = np.random.default_rng(20210407).uniform(-1.5 * r, 1.5 * r, (16, d))
        gx = np.asarray(landscape.gradient(x), dtype=np.float64)
    except Exception:  # a landscape that cannot be probed this way takes the generic path
        return None
    if g.shape != (4, d) or gx.shape != (16, d) or not np.isfinite(coef).all():
        return None
    c3, c2, c1, c0 = coef
    size = np.abs(c3) * np.abs(x) ** 3 + np.abs(c2) * x * x + np.abs(c1) * np.abs(x) + np.abs(c0)
    if not np.all(np.abs(((c3 * x + c2) * x + c1) * x + c0 - gx) <= 1e-9 * (size + 1e-300)):
        return None
    # terms at rounding level are exactly zero (e.g. the even terms of a symmetric well)
    terms = np.abs(coef) * (r ** np.arange(3, -1, -1.0))[:, None]
    coef[terms <= 1e-12 * terms.max(axis=0)] = 0.0
    return coef
