r"""Escape from a minimum: Kramers times for SGLD and SGD, and exact 1-D first-passage times.

Conventions
-----------
Continuous time, :math:`d\theta = -\nabla L(\theta)\,dt + \sqrt{2D(\theta)}\,dW`, in
units where one SGD step of learning rate ``lr`` lasts :math:`dt = \mathrm{lr}`
(divide a time by ``lr`` for iterations). SGLD has isotropic
:math:`D = T I` (``temperature``); SGD has :math:`D \approx \frac{\mathrm{lr}}{2B} H`
(``batch_size`` :math:`B`) near the critical points. :math:`a` is the minimum,
:math:`b` the index-1 saddle, :math:`\Delta L = L(b) - L(a)`, :math:`H_a`, :math:`H_b`
their Hessians, :math:`H_{be} < 0` the saddle's negative eigenvalue (the escape
direction :math:`e`) and :math:`H_{ae} = e^\top H_a e`.

What "escape" means matters by a factor of 2: the Kramers time :math:`\tau` is the
mean time to pass well beyond the saddle (to the next minimum); the mean
first-passage time to the saddle itself is :math:`\approx\tau/2` at low temperature.
:func:`mean_first_passage_time` computes either exactly in 1-D.

Where :math:`D` depends on :math:`\theta` the stochastic convention matters
(``convention``). Every function here defaults to Ito's (``"ito"``): an SGD
step :math:`\theta_{k+1} = \theta_k - \mathrm{lr}\,\nabla L(\theta_k) + \mathrm{lr}\,\xi_k`,
:math:`\operatorname{Cov}\xi_k = C(\theta_k)/B`, draws its noise at the
pre-step point, which is the Euler-Maruyama scheme of the Ito SDE (as are the
simulators of :mod:`theory.simulators.escape`). ``"hanggi"`` (Haenggi-Klimontovich,
"isothermal") is the reading in which Xie, Sato and Sugiyama's prefactor
:math:`2\pi/|H_{be}|` holds; their exponent, which carries the dependence on
:math:`B`, lr and the sharpness, is the same in both.

References
----------
H. A. Kramers, Physica 7, 284 (1940); H. Eyring, J. Chem. Phys. 3, 107 (1935);
P. Haenggi, P. Talkner and M. Borkovec, Rev. Mod. Phys. 62, 251 (1990), Sec. IV;
Z. Xie, I. Sato and M. Sugiyama, *A Diffusion Theory for Deep Learning
Dynamics: Stochastic Gradient Descent Exponentially Favors Flat Minima*,
ICLR 2021 (arXiv:2002.03495).
"""

from __future__ import annotations

import warnings

import numpy as np

from . import _validate as v
from ._firstpassage import mfpt as _mfpt
from .errors import AsymptoticWarning, DomainError
from .stats import Computed

__all__ = [
    "sgld_escape_time",
    "sgd_escape_time",
    "mixed_escape_time",
    "escape_time_1d",
    "escape_rate",
    "total_rate",
    "selection_probability",
    "mean_first_passage_time",
    "finite_temperature_factor",
    "VALIDITY",
]

# Exact mean first-passage time from one minimum of U = x^4/4 - x^2/2 to the
# other, divided by the Kramers time, against the barrier in units of the
# temperature (computed with mean_first_passage_time; the check
# "kramers.validity_map" recomputes it). The relative error of the Kramers time
# falls like D/dL; the warning threshold below is where it reaches about 4%.
VALIDITY = {
    "barrier_over_temperature": (2.5, 5.0, 10.0, 20.0, 40.0, 80.0),
    "exact_over_kramers": (1.224354, 1.106597, 1.043402, 1.020001, 1.009669, 1.004759),
}
_WARN_BELOW = 10.0


def _warn_if_shallow(ratio, what: str, stacklevel: int = 3) -> None:
    ratio = np.asarray(ratio)
    if np.any(ratio < _WARN_BELOW):
        r = float(np.min(ratio))
        xs, ys = VALIDITY["barrier_over_temperature"], VALIDITY["exact_over_kramers"]
        err = float(np.interp(np.log(max(r, xs[0])), np.log(xs), ys)) - 1.0
        warnings.warn(
            f"{what} is {r:.3g}, below {_WARN_BELOW:g}, where the Kramers time (an expansion in its inverse) "
            f"loses accuracy: on the quartic double well the exact mean first-passage time exceeds it by "
            f"{100 * err:.0f}% at this value ({100 * (ys[1] - 1):.0f}% at 5, {100 * (ys[2] - 1):.1f}% at 10). "
            f"Use mean_first_passage_time for the exact 1-D value or finite_temperature_factor for the "
            f"next order.", AsymptoticWarning, stacklevel=stacklevel)


def _spectrum(h, name: str) -> np.ndarray:
    """Eigenvalues from a scalar (1-D), a vector of eigenvalues, or a symmetric matrix."""
    a = v.finite(h, name)
    if a.ndim == 0:
        return a[None]
    if a.ndim == 1:
        return np.sort(a)
    if a.ndim == 2 and a.shape[0] == a.shape[1]:
        if np.abs(a - a.T).max(initial=0.0) > 1e-12 * np.abs(a).max(initial=0.0):
            raise DomainError(f"{name} must be symmetric")
        return np.linalg.eigvalsh(a)
    raise DomainError(f"{name} must be a scalar, a vector of eigenvalues or a square matrix; got shape {a.shape}")


def sgld_escape_time(delta_loss, hess_min, hess_saddle, temperature, *, log=False):
    r"""Kramers (Eyring-Kramers) mean escape time of SGLD / overdamped Langevin dynamics.

    .. math::

        \tau = \frac{2\pi}{|H_{be}|}\sqrt{\frac{|\det H_b|}{\det H_a}}\,
               \exp\!\Big(\frac{\Delta L}{T}\Big),
        \qquad\text{in 1-D}\quad
        \tau = \frac{2\pi}{\sqrt{H_a|H_b|}}\,e^{\Delta L/T},

    for :math:`d\theta = -\nabla L\,dt + \sqrt{2T}\,dW`.

    Parameters
    ----------
    delta_loss : array_like
        Barrier :math:`\Delta L > 0`.
    hess_min, hess_saddle : float, 1-D array or square matrix
        Hessians at the minimum and at the saddle: scalars (1-D problem; the
        saddle's curvature may be given negative or as its magnitude), vectors
        of eigenvalues, or symmetric matrices. The minimum's eigenvalues must
        all be positive; the saddle (n-D) must have exactly one negative one.
    temperature : array_like
        :math:`T > 0`; broadcasts with ``delta_loss``.
    log : bool
        Return :math:`\log\tau` (for barriers where :math:`\tau` overflows).

    Warns
    -----
    AsymptoticWarning
        When :math:`\Delta L/T < 10`, with the error measured against the exact
        mean first-passage time (:data:`VALIDITY`).

    References
    ----------
    Haenggi, Talkner and Borkovec (1990), Eq. (4.56); in this form Xie, Sato
    and Sugiyama (ICLR 2021), Theorem 3.1.
    """
    log = v.flag(log, "log")
    dl = v.positive(delta_loss, "delta_loss")
    t = v.positive(temperature, "temperature")
    v.broadcast_together(delta_loss=dl, temperature=t)
    a = _spectrum(hess_min, "hess_min")
    b = _spectrum(hess_saddle, "hess_saddle")
    if np.any(a <= 0):
        raise DomainError(f"hess_min must be positive definite (a minimum); smallest eigenvalue {a.min()!r}")
    if a.size == 1 and b.size == 1:
        b = -np.abs(b)  # 1-D: the saddle curvature may be given as its magnitude
    if a.size != b.size:
        raise DomainError(f"hess_min and hess_saddle must have the same dimension; got {a.size} and {b.size}")
    if np.sum(b < 0) != 1 or np.any(b == 0):
        raise DomainError("hess_saddle must have exactly one negative eigenvalue and no zero one "
                          f"(an index-1 saddle); got {np.sum(b < 0)} negative")
    _warn_if_shallow(dl / t, "delta_loss/temperature")
    log_pre = np.log(2 * np.pi) - np.log(-b[0]) + 0.5 * (np.sum(np.log(np.abs(b))) - np.sum(np.log(a)))
    out = log_pre + dl / t
    with np.errstate(over="ignore"):
        return v.scalar_out(out if log else np.exp(out), dl, t)


def escape_time_1d(delta_loss, hess_min, hess_saddle, diffusion_min, diffusion_saddle=None, s=0.5, *, log=False,
                   convention="ito", _stacklevel=3):
    r"""Escape time over a 1-D barrier when the diffusion differs at the minimum and at the saddle.

    .. math::

        \tau = \frac{2\pi}{\sqrt{H_a|H_b|}}\Big(\frac{D_a}{D_b}\Big)^{\pm 1/2}
               \exp\!\Big[\Delta L\Big(\frac{s}{D_a} + \frac{1-s}{D_b}\Big)\Big],

    the Laplace approximation of the exact mean first-passage time when
    :math:`D = D_a` on the part of the climb below :math:`L(a) + s\Delta L` and
    :math:`D = D_b` above it; the exponent is :math:`-1/2` in Ito's convention
    (``"ito"``, the default: noise evaluated at the current point, as an SGD step
    does) and :math:`+1/2` in the Haenggi-Klimontovich one (``"hanggi"``, Xie et
    al.'s). With :math:`D_a = D_b = T` both are Kramers' formula; with
    :math:`D = \frac{\mathrm{lr}}{2B}|H|` it is :func:`sgd_escape_time`, whose
    prefactor becomes :math:`2\pi/H_a` (Ito) or :math:`2\pi/|H_b|` (HK). Derived
    here (see the escape-theory docs page) and checked against
    :func:`mean_first_passage_time` with the same piecewise diffusion in both
    conventions (check ``kramers.sgd_prefactor``).

    All arguments broadcast; ``hess_saddle`` may be given negative or as its
    magnitude; ``diffusion_saddle`` defaults to ``diffusion_min``; ``s`` in (0, 1).
    Where :math:`\Delta L/D` overflows (or, in :func:`sgd_escape_time` and
    :func:`mixed_escape_time`, where :math:`D = \frac{\mathrm{lr}}{2B}H` under-
    or overflows while lr and H do not), the exponent and the prefactor are
    formed from :math:`\log D`, so ``log=True`` gives the value (or +inf beyond
    the float range).
    """
    log = v.flag(log, "log")
    da = v.positive(diffusion_min, "diffusion_min")
    db = da if diffusion_saddle is None else v.positive(diffusion_saddle, "diffusion_saddle")
    return _escape_time_1d(delta_loss, hess_min, hess_saddle, (da, None), (db, None), s, log, convention,
                           _stacklevel + 1, names=("hess_min", "hess_saddle"))


def _escape_time_1d(delta_loss, hess_min, hess_saddle, diff_min, diff_saddle, s, log, convention, stacklevel,
                    names):
    """:func:`escape_time_1d` with each diffusion given as ``(D, log D)``; ``log D`` None when ``D`` is exact.

    Where a diffusion is not a normal positive float (it under- or overflowed
    while the inputs it was built from did not), the exponent and the
    prefactor are computed from its logarithm.
    """
    dl = v.positive(delta_loss, "delta_loss")
    ha = v.positive(hess_min, names[0])
    hb = np.abs(v.finite(hess_saddle, names[1]))
    v.require(hb, hb > 0, names[1], "nonzero (the escape direction must be unstable at the saddle)")
    s = v.finite(s, "s")
    v.require(s, (s > 0) & (s < 1), "s", "in (0, 1)")
    (da, log_da), (db, log_db) = diff_min, diff_saddle
    shape_names = {"delta_loss": dl, names[0]: ha, names[1]: hb, "s": s}
    v.broadcast_together(**shape_names, diffusion_min=da, diffusion_saddle=db)
    sign = {"hk": 0.5, "ito": -0.5}[_convention(convention)]
    tiny = np.finfo(float).tiny
    with np.errstate(all="ignore"):
        exponent = dl * (s / da + (1 - s) / db)
        log_ratio = np.log(da) - np.log(db)
        exact = (np.isfinite(da) & (da >= tiny) & np.isfinite(db) & (db >= tiny) & np.isfinite(exponent))
        if not np.all(exact):
            lda = np.log(da) if log_da is None else log_da
            ldb = np.log(db) if log_db is None else log_db
            ldl = np.log(dl)
            scaled = s * np.exp(ldl - lda) + (1 - s) * np.exp(ldl - ldb)
            exponent = np.where(exact, exponent, scaled)
            log_ratio = np.where(exact, log_ratio, lda - ldb)
    _warn_if_shallow(exponent, "the exponent dL (s/D_a + (1-s)/D_b)", stacklevel=stacklevel)
    out = np.log(2 * np.pi) - 0.5 * (np.log(ha) + np.log(hb)) + sign * log_ratio + exponent
    with np.errstate(over="ignore"):
        return v.scalar_out(out if log else np.exp(out), dl, ha, hb, da, db, s)


def _sgd_inputs(lr, batch_size):
    lr = v.positive(lr, "lr")
    b = v.integer_at_least(batch_size, "batch_size", 1)
    return lr, b


def sgd_escape_time(delta_loss, hess_min_escape, hess_saddle_escape, lr, batch_size, s=0.5, *, log=False,
                    convention="ito"):
    r"""Mean escape time of SGD, whose gradient noise has covariance :math:`\approx H/B` near critical points.

    .. math::

        \tau = \frac{2\pi}{H_{ae}}\exp\!\Big[\frac{2B\,\Delta L}{\mathrm{lr}}
               \Big(\frac{s}{H_{ae}} + \frac{1-s}{|H_{be}|}\Big)\Big]
        \quad\text{(Ito; } 2\pi/|H_{be}| \text{ in place of } 2\pi/H_{ae}
        \text{ for } \texttt{convention="hanggi"}\text{)},

    in continuous time (:math:`\tau/\mathrm{lr}` iterations). The diffusion is
    :math:`D = \frac{\mathrm{lr}}{2B}H_{ae}` while the loss is below
    :math:`L(a) + s\Delta L` and :math:`\frac{\mathrm{lr}}{2B}|H_{be}|` above it; ``s``
    in (0, 1) is the paper's path-dependent constant. An SGD step draws its
    noise at the current iterate, which is Ito's reading of the
    state-dependent noise (the default), with prefactor :math:`2\pi/H_{ae}`;
    the paper's prefactor :math:`2\pi/|H_{be}|` is that of the
    Haenggi-Klimontovich reading (``convention="hanggi"``). The exponent, which
    carries the trends, is the same in both. Hence :math:`-\log\gamma`
    is linear in :math:`B`, in :math:`1/\mathrm{lr}`, and in :math:`1/k` when every
    Hessian is multiplied by :math:`k`: SGD leaves sharp minima exponentially
    faster than flat ones. A literal :math:`D\propto L''(\theta)` would vanish at
    inflection points and make escape impossible; the formula uses the
    Hessians at the minimum and at the saddle, as the theory does.

    Parameters
    ----------
    delta_loss : array_like
        :math:`\Delta L > 0`.
    hess_min_escape : array_like
        :math:`H_{ae} > 0`, the curvature at the minimum along the escape direction.
    hess_saddle_escape : array_like
        :math:`H_{be}`, the saddle's negative eigenvalue (or its magnitude).
    lr : array_like
        Learning rate, > 0.
    batch_size : array_like
        :math:`B`, integer >= 1.
    s : array_like, default 0.5
        In (0, 1).
    convention : {"ito", "hanggi"}, default "ito"
        Reading of the state-dependent noise (it changes the prefactor only).

    References
    ----------
    Xie, Sato and Sugiyama (ICLR 2021), Theorem 3.2 and Sec. 3; the prefactors
    :math:`2\pi/H_{ae}` and :math:`2\pi/|H_{be}|` are those of the exact 1-D
    first-passage time in the Ito and Haenggi-Klimontovich conventions
    (:func:`escape_time_1d`).
    """
    log = v.flag(log, "log")
    lr, b = _sgd_inputs(lr, batch_size)
    ha = v.positive(hess_min_escape, "hess_min_escape")
    hb = np.abs(v.finite(hess_saddle_escape, "hess_saddle_escape"))
    v.require(hb, hb > 0, "hess_saddle_escape", "nonzero")
    v.broadcast_together(hess_min_escape=ha, hess_saddle_escape=hb, lr=lr, batch_size=b)
    with np.errstate(all="ignore"):
        da, db = lr * ha / (2 * b), lr * hb / (2 * b)
        scale = np.log(lr) - np.log(2 * b)
    return _escape_time_1d(delta_loss, ha, hb, (da, np.log(ha) + scale), (db, np.log(hb) + scale), s, log,
                           convention, 4, names=("hess_min_escape", "hess_saddle_escape"))


def mixed_escape_time(delta_loss, hess_min_escape, hess_saddle_escape, temperature, lr, batch_size, s=0.5, *,
                      log=False, convention="ito"):
    r"""Escape time with both injected white noise (SGLD, temperature :math:`T`) and SGD gradient noise.

    :func:`escape_time_1d` along the escape direction with
    :math:`D_a = T + \frac{\mathrm{lr}}{2B}H_{ae}` and :math:`D_b = T + \frac{\mathrm{lr}}{2B}|H_{be}|`:
    the SGLD result (1-D) at :math:`\mathrm{lr}/B \to 0` and the SGD one at :math:`T \to 0`.
    The reduction to the escape direction drops the transverse
    :math:`\sqrt{\det}` factor of the SGLD prefactor (exact in 1-D).
    ``convention`` (default ``"ito"``) as in :func:`sgd_escape_time`.
    """
    log = v.flag(log, "log")
    lr, b = _sgd_inputs(lr, batch_size)
    t = v.nonnegative(temperature, "temperature", allow_inf=False)
    ha = v.positive(hess_min_escape, "hess_min_escape")
    hb = np.abs(v.finite(hess_saddle_escape, "hess_saddle_escape"))
    v.require(hb, hb > 0, "hess_saddle_escape", "nonzero")
    v.broadcast_together(hess_min_escape=ha, hess_saddle_escape=hb, temperature=t, lr=lr, batch_size=b)
    with np.errstate(all="ignore"):
        da, db = t + lr * ha / (2 * b), t + lr * hb / (2 * b)
        scale = np.log(lr) - np.log(2 * b)
        log_t = np.log(t)
    return _escape_time_1d(delta_loss, ha, hb, (da, np.logaddexp(log_t, np.log(ha) + scale)),
                           (db, np.logaddexp(log_t, np.log(hb) + scale)), s, log, convention, 4,
                           names=("hess_min_escape", "hess_saddle_escape"))


def escape_rate(escape_time):
    r"""The escape rate :math:`\gamma = 1/\tau` (per unit of continuous time)."""
    tau = v.positive(escape_time, "escape_time", allow_inf=True)
    return v.scalar_out(1.0 / tau, tau)


def total_rate(rates, axis=-1):
    r"""Escape rate out of a minimum with several independent escape paths: :math:`\gamma = \sum_p \gamma_p`.

    The mean escape time is :math:`1/\gamma`; the probability of leaving through path
    :math:`p` is :math:`\gamma_p/\gamma`.
    """
    r = v.nonnegative(rates, "rates", allow_inf=False)
    axis = v.as_int(axis, "axis")
    r = _valley_axis(r, axis, "rates")
    with np.errstate(over="ignore"):
        total = np.sum(r, axis=axis)
    return v.scalar_out(total, total)


def selection_probability(escape_times, axis=-1, *, log=False):
    r"""Probability of finding the dynamics in each valley: :math:`P_a = \tau_a / \sum_v \tau_v`.

    A valley is occupied in proportion to the time it takes to leave it (the
    theory's minima-selection law). With ``log=True`` the inputs are
    :math:`\log\tau` (a softmax, stable for barriers of any height). A
    scalar is one valley (probability 1.0, a float); times whose sum overflows
    are divided by the largest first.
    """
    log = v.flag(log, "log")
    axis = v.as_int(axis, "axis")
    raw = escape_times
    if log:
        lt = v.nonempty(v.finite(escape_times, "escape_times"), "escape_times")
        lt = _valley_axis(lt, axis)
        m = np.max(lt, axis=axis, keepdims=True)
        w = np.exp(lt - m)
        return _one_valley(w / np.sum(w, axis=axis, keepdims=True), raw)
    tau = v.nonempty(v.positive(escape_times, "escape_times", allow_inf=True), "escape_times")
    tau = _valley_axis(tau, axis)
    n_inf = np.sum(np.isinf(tau), axis=axis, keepdims=True)
    if np.any(n_inf > 1):
        raise DomainError("escape_times: more than one infinite time makes the probabilities indeterminate")
    with np.errstate(invalid="ignore", over="ignore"):
        total = np.sum(tau, axis=axis, keepdims=True)
        p = tau / total
        overflow = np.isinf(total) & (n_inf == 0)
        if np.any(overflow):  # the sum overflowed: divide by the largest time first
            scaled = tau / np.max(tau, axis=axis, keepdims=True)
            p = np.where(overflow, scaled / np.sum(scaled, axis=axis, keepdims=True), p)
    return _one_valley(np.where(n_inf == 1, np.isinf(tau).astype(float), p), raw)


def _valley_axis(arr, axis: int, name: str = "escape_times"):
    """``arr`` with at least one axis (a scalar is one valley), ``axis`` checked against it."""
    arr = np.atleast_1d(arr)
    if not -arr.ndim <= axis < arr.ndim:
        raise DomainError(f"axis must be in [{-arr.ndim}, {arr.ndim}) for {name} of shape {arr.shape}; got {axis}")
    return arr


def _one_valley(p, raw):
    """A Python float for a scalar input (one valley: probability 1), else the array."""
    return float(p[0]) if np.ndim(raw) == 0 else p


def finite_temperature_factor(temperature, hess_min, hess_saddle, third_min=0.0, fourth_min=0.0,
                              third_saddle=0.0, fourth_saddle=0.0):
    r"""First correction in :math:`T` to the 1-D Kramers time: :math:`\tau \approx \tau_K\,(1 + cT)`.

    .. math::

        c = \frac{5U_a'''^2}{24U_a''^3} - \frac{U_a''''}{8U_a''^2}
          + \frac{5U_b'''^2}{24|U_b''|^3} + \frac{U_b''''}{8U_b''^2},

    the next term of Laplace's method for the inner integral (over the well)
    and the outer one (over the barrier) of the exact mean first-passage time,
    for a time measured to a point well beyond the saddle. It turns the
    :math:`O(T/\Delta L)` error of :func:`sgld_escape_time` into
    :math:`O((T/\Delta L)^2)`; e.g. for :math:`U = x^4/4 - x^2/2`, :math:`c = 3/2`.

    All arguments broadcast together. Where a term's parts over- or underflow
    (e.g. :math:`U_a''^3` for a tiny curvature), each term of :math:`cT` is
    formed from logarithms, so the result is the limit (a term with a zero
    derivative is 0; a sum beyond the float range is a signed inf), never NaN.

    References
    ----------
    Laplace's method to second order, e.g. C. M. Bender and S. A. Orszag,
    *Advanced Mathematical Methods for Scientists and Engineers* (1978), Sec. 6.4.
    """
    t = v.positive(temperature, "temperature")
    ha = v.positive(hess_min, "hess_min")
    hb = np.abs(v.finite(hess_saddle, "hess_saddle"))
    v.require(hb, hb > 0, "hess_saddle", "nonzero")
    a3, a4 = v.finite(third_min, "third_min"), v.finite(fourth_min, "fourth_min")
    b3, b4 = v.finite(third_saddle, "third_saddle"), v.finite(fourth_saddle, "fourth_saddle")
    named = dict(temperature=t, hess_min=ha, hess_saddle=hb, third_min=a3, fourth_min=a4, third_saddle=b3,
                 fourth_saddle=b4)
    shape = v.broadcast_together(**named)
    tiny = np.finfo(float).tiny
    with np.errstate(all="ignore"):
        parts = [(5 * a3**2, 24 * ha**3), (-a4, 8 * ha**2), (5 * b3**2, 24 * hb**3), (b4, 8 * hb**2)]
        c = sum(num / den for num, den in parts)
        out = 1.0 + c * t
        # every numerator, denominator and the product normal (or an exact zero numerator): the direct sum is exact
        exact = np.isfinite(out) & np.isfinite(c * t)
        for num, den in parts:
            exact &= np.isfinite(den) & (den >= tiny) & np.isfinite(num) & ((num == 0) | (np.abs(num) >= tiny))
        if not np.all(exact):
            out = np.where(exact, out, _scaled_factor(t, ha, hb, a3, a4, b3, b4))
    return v.scalar_out(np.broadcast_to(out, shape).copy() if np.shape(out) != shape else out, *named.values())


def _scaled_factor(t, ha, hb, a3, a4, b3, b4):
    r"""``1 + c T`` of :func:`finite_temperature_factor` with each term of ``c T`` formed from logarithms.

    A term is :math:`\pm k\,|u|^p T / U''^q`; its log never overflows, and the
    terms are summed after factoring out the largest, so the result is the
    correctly rounded limit (0 terms drop out, an infinite sum is signed inf).
    """
    log_t, log_ha, log_hb = np.log(t), np.log(ha), np.log(hb)
    terms = [(np.log(5 / 24) + 2 * np.log(np.abs(a3)) - 3 * log_ha, np.where(a3 == 0, 0.0, 1.0)),
             (np.log(1 / 8) + np.log(np.abs(a4)) - 2 * log_ha, -np.sign(a4)),
             (np.log(5 / 24) + 2 * np.log(np.abs(b3)) - 3 * log_hb, np.where(b3 == 0, 0.0, 1.0)),
             (np.log(1 / 8) + np.log(np.abs(b4)) - 2 * log_hb, np.sign(b4))]
    logs = [np.where(sign == 0, -np.inf, lg + log_t) for lg, sign in terms]
    top = np.max(np.stack(np.broadcast_arrays(*logs)), axis=0)
    top = np.where(np.isfinite(top), top, 0.0)
    rest = sum(sign * np.exp(lg - top) for lg, (_, sign) in zip(logs, terms))
    # 1 + rest e^top, without forming e^top where it overflows (then the 1 is negligible)
    big = top > 700.0
    return np.where(big, rest * np.exp(np.where(big, top - 700.0, 0.0)) * np.exp(700.0),
                    1.0 + rest * np.exp(np.where(big, 0.0, top)))


_CONVENTIONS = {"ito": "ito", "hanggi": "hk", "hk": "hk", "hanggi-klimontovich": "hk", "isothermal": "hk"}


def _convention(convention) -> str:
    conv = _CONVENTIONS.get(str(convention).lower())
    if conv is None:
        raise DomainError(f"convention must be 'ito' or 'hanggi'; got {convention!r}")
    return conv


def _as_potential(potential):
    """(U, U') callables on 1-D arrays from a callable or a 1-D Landscape."""
    if hasattr(potential, "value") and hasattr(potential, "gradient"):
        if getattr(potential, "dim", 1) != 1:
            raise DomainError(f"potential must be one-dimensional; got a landscape with dim {potential.dim}")
        return (lambda x: potential.value(np.asarray(x)[..., None]),
                lambda x: potential.gradient(np.asarray(x, dtype=float)[..., None])[..., 0])
    if not callable(potential):
        raise TypeError("potential must be a vectorised callable U(x) or a 1-D Landscape")
    return potential, None


def _reaches_barrier(u, du, x0: float, x1: float, n: int = 4097) -> bool:
    """Whether the path from x0 to x1 crosses a local maximum of U, or ends on one."""
    x = np.linspace(x0, x1, n)
    with np.errstate(all="ignore"):
        y = np.asarray(u(x), dtype=float)
    if not np.isfinite(y).all():
        return True  # the solver reports what is wrong with the potential
    interior = (y[1:-1] >= y[:-2]) & (y[1:-1] >= y[2:]) & (y[1:-1] > y[0])
    if interior.any():
        return True
    if y[-1] < y.max():
        return False
    # the end is the highest point: a barrier top only if the slope vanishes there
    h = 1e-5 * max(1.0, abs(x1 - x0))
    slope = float(du(np.array([x1]))[0]) if du is not None else float((u(np.array([x1 + h])) - u(np.array([x1 - h])))[0] / (2 * h))
    mean_slope = (y[-1] - y.min()) / abs(x1 - x0)
    return abs(slope) <= 1e-3 * mean_slope


def mean_first_passage_time(potential, start, end, temperature, diffusion=None, *, gradient=None,
                            convention="ito", points=(), log=False, require_barrier=True) -> Computed:
    r"""Exact mean first-passage time of 1-D overdamped diffusion, with an error estimate.

    For :math:`dx = -U'(x)\,dt + \sqrt{2D(x)}\,dW`, :math:`D(x) = T\,d(x)`, started at
    ``start``, absorbed at ``end``, reflected at infinity on the other side:

    .. math::

        T(x_0\to x_1) = \int_{x_0}^{x_1}\!dy\;\psi(y)\int_{-\infty}^{y}\!\frac{dz}{D(z)\psi(z)},
        \qquad \psi = e^{\Phi},\quad \Phi(x) = \int^x\frac{U'(u)}{D(u)}\,du

    (for :math:`x_1 > x_0`; mirrored for :math:`x_1 < x_0`). With constant
    :math:`D = T` this is :math:`\frac1T\int_{x_0}^{x_1}e^{U(y)/T}\int_{-\infty}^{y}e^{-U(z)/T}dz\,dy`.

    Parameters
    ----------
    potential : callable or 1-D Landscape
        Vectorised :math:`U(x)` on arrays; it must rise without bound on the
        side of ``start`` away from ``end``.
    start, end : float
        :math:`x_0` and the absorbing point :math:`x_1` (either side of
        :math:`x_0`; ``end == start`` gives 0).
    temperature : float
        :math:`T > 0`, the diffusion scale. Any value for which :math:`U/T` is
        finite on the path and :math:`e^{-U/T}` falls by :math:`e^{-80}` on the
        reflecting side before :math:`U` overflows; outside that range a
        ``DomainError`` states the bound.
    diffusion : callable, optional
        Dimensionless profile :math:`d(x) > 0` (default 1). For SGD take
        ``temperature = lr/(2B)`` and :math:`d` the curvature model (e.g. the
        Hessian at the minimum inside the valley, the saddle's magnitude near
        it; a literal :math:`L''` vanishes at inflection points and is refused).
        Needs ``gradient`` (:math:`U'`) unless ``potential`` is a Landscape.
    convention : {"ito", "hanggi"}, default "ito"
        Stochastic calculus of the multiplicative noise when ``diffusion`` is
        given: Ito (the SGD step's), or Haenggi-Klimontovich (``"hanggi"``, the "isothermal"
        convention whose stationary density is :math:`e^{-\Phi}`; in it the
        SGD prefactor is :math:`2\pi/|H_{be}|`).
    points : sequence of float
        Extra panel breakpoints (discontinuities of ``diffusion``).
    log : bool
        Return :math:`\log T` and its absolute error.
    require_barrier : bool
        Refuse (``DomainError``) an ``end`` that is not beyond a barrier from
        ``start``: the path must cross a local maximum of :math:`U` or end on
        one (the saddle), as an escape time does. ``False`` allows any
        ``end``, e.g. a first passage up one side of a single well.

    Returns
    -------
    Computed
        ``value`` (the time, or its log) and ``error``, the difference from a
        computation on a mesh with every panel halved (with a floor at
        rounding level); ``details`` holds the panel count.

    Notes
    -----
    Adaptive Gauss-Legendre panels (20 nodes) with the inner integral
    accumulated at every outer node by a spectral integration matrix, all in
    logarithms: agrees with 30-40-digit mpmath quadrature to about 1e-14
    relative, for barriers :math:`\Delta U/T` up to several hundred, in a few
    milliseconds.

    References
    ----------
    Gardiner, *Handbook of Stochastic Methods*, Sec. 5.2.7; Haenggi, Talkner
    and Borkovec (1990), Eq. (4.9); for the Haenggi-Klimontovich form,
    Y. L. Klimontovich, Physica A 163, 515 (1990).
    """
    if isinstance(potential, (int, float, np.ndarray)):
        raise TypeError("potential must be a vectorised callable U(x) or a 1-D Landscape")
    u, du = _as_potential(potential)
    x0 = float(v.finite(v.scalar(start, "start"), "start"))
    x1 = float(v.finite(v.scalar(end, "end"), "end"))
    t = float(v.positive(v.scalar(temperature, "temperature"), "temperature"))
    log = v.flag(log, "log")
    require_barrier = v.flag(require_barrier, "require_barrier")
    if gradient is not None and not callable(gradient):
        raise TypeError("gradient must be a callable U'(x)")
    conv = _convention(convention)
    if diffusion is not None and not callable(diffusion):
        raise TypeError("diffusion must be a callable d(x) > 0")
    grad = gradient if gradient is not None else du
    if diffusion is not None and grad is None:
        raise DomainError("gradient (U') is needed with a position-dependent diffusion; pass gradient=...")
    pts = [float(p) for p in np.atleast_1d(v.finite(points, "points")).ravel()] if np.size(points) else []
    if x0 == x1:
        return Computed(-np.inf if log else 0.0, 0.0, "start == end", {"panels": 0})
    if require_barrier and not _reaches_barrier(u, grad, x0, x1):
        raise DomainError(f"end must lie beyond a barrier from start (a local maximum of the potential between "
                          f"them, or end on one); got start={x0!r}, end={x1!r}. Pass require_barrier=False "
                          f"for a first passage within one valley")
    log_t, log_err, panels = _mfpt(u, x0, x1, t, diffusion, grad, conv, pts)
    # rounding floor: log T carries about one ulp of itself, the panel sum sqrt(panels) ulp
    floor = 2 * np.finfo(float).eps * max(1.0, abs(log_t)) + np.finfo(float).eps * np.sqrt(panels)
    log_err = max(log_err, floor)
    method = f"adaptive Gauss-Legendre panels in log space ({panels} panels, {conv} convention)"
    if log:
        return Computed(float(log_t), float(log_err), method, {"panels": panels})
    with np.errstate(over="ignore"):
        value = float(np.exp(log_t))
    return Computed(value, value * float(np.expm1(log_err)), method, {"panels": panels})
