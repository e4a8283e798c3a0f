r"""IVON (improved variational online Newton): one step as a pure function, and its stability edge.

Conventions
-----------
IVON learns a diagonal Gaussian posterior :math:`q = \mathcal N(m, \operatorname{diag}\sigma^2)`
over the parameters. Its state is the mean :math:`m`, the Hessian estimate
:math:`h`, the gradient momentum :math:`g` and the step count :math:`t`;
hyperparameters are the learning rate ``lr`` :math:`\eta` (the paper's :math:`\alpha`), gradient
momentum ``beta1`` :math:`\beta_1`, Hessian momentum ``beta2`` :math:`\beta_2`, weight
decay ``weight_decay`` :math:`\delta`, effective sample size ``ess``
:math:`\lambda` and the initial Hessian :math:`h_0`. The posterior variance is

.. math:: \sigma^2 = \frac{1}{\lambda\,(h + \delta)} .

Algorithm 1 of Shen et al. (2024), one iteration, with :math:`\bar\ell` the
average loss per example and :math:`\epsilon \sim \mathcal N(0, I)`:

.. math::

    \theta &= m + \sigma\epsilon \\
    \hat g &= \hat\nabla\bar\ell(\theta) \\
    \hat h &= \hat g\cdot(\theta - m)/\sigma^2 \\
    g &\leftarrow \beta_1 g + (1-\beta_1)\,\hat g \\
    h &\leftarrow \beta_2 h + (1-\beta_2)\,\hat h
        + \tfrac12(1-\beta_2)^2\,(h - \hat h)^2/(h + \delta) \\
    \bar g &\leftarrow g/(1 - \beta_1^t) \\
    m &\leftarrow m - \eta\,(\bar g + \delta m)/(h + \delta) \\
    \sigma &\leftarrow 1/\sqrt{\lambda(h + \delta)}

(all operations elementwise; :math:`\hat h` uses the :math:`\sigma` of the
draw, the mean update the new :math:`h`). With several Monte Carlo draws
:math:`\hat g` and :math:`\hat g\cdot(\theta - m)` are averaged over them. The
reference implementation (``ivon-opt`` 0.1.3, ``team-approx-bayes/ivon``,
``ivon/_ivon.py``) does exactly this; it also clips the mean step elementwise
to ``[-clip_radius, clip_radius]`` (default infinite) and, by default
(``rescale_lr=True``), multiplies :math:`\eta` by :math:`h_0 + \delta` so
that the first step is an SGD step of size :math:`\eta`. :func:`ivon_step`
takes the :math:`\eta` actually used: pass ``lr * (h0 + weight_decay)`` to
match that default.

Stability of the mean update. On a quadratic with Hessian :math:`H`, frozen
preconditioner :math:`p = h + \delta` and no noise, the mean update is
preconditioned gradient descent with exponential-moving-average momentum, and
it is stable iff the *preconditioned sharpness* satisfies

.. math::

    \lambda_{\max}\big(\operatorname{diag}(p)^{-1} H\big) < \frac{2 + 2\beta_1}{(1-\beta_1)\,\eta}

(:func:`adaptive_threshold`; derivation there), the adaptive edge of stability
of Cohen et al. (2022): :math:`2/\eta` without momentum,
:math:`38/\eta` at IVON's default :math:`\beta_1 = 0.9`. A statement that
IVON keeps its adaptive sharpness below :math:`2/\eta` is the
:math:`\beta_1 = 0` case only.

Sources: Y. Shen, N. Daheim, B. Cong, P. Nickl, G. M. Marconi, C. Bazan,
R. Yokota, I. Gurevych, D. Cremers, M. E. Khan and T. Möllenhoff, *Variational
Learning is Effective for Large Deep Networks*, ICML 2024 (arXiv:2402.17641),
Algorithm 1; the equations above were checked against the authors' reference
implementation (``ivon-opt`` 0.1.3, whose ``_new_momentum``, ``_new_hess`` and
``_new_param_averages`` ``tests/test_ivon.py`` transcribes and compares with);
J. M. Cohen et al., *Adaptive Gradient Methods at the Edge of Stability*,
arXiv:2207.14484 (2022).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import _validate as v
from ._deprecate import renamed_keywords
from ._exact import rational
from .errors import DomainError

__all__ = [
    "IVONState",
    "ivon_init",
    "posterior_std",
    "preconditioner",
    "ivon_sample",
    "ivon_step",
    "adaptive_threshold",
    "adaptive_spectral_radius",
    "preconditioned_sharpness",
]


class IVONState(NamedTuple):
    """IVON's state: mean ``m``, Hessian estimate ``h``, gradient momentum ``g``, completed steps ``t``."""

    mean: np.ndarray
    hess: np.ndarray
    momentum: np.ndarray
    step: int = 0


def ivon_init(mean, hess_init=1.0):
    r"""Initial state: :math:`m` = ``mean``, :math:`h = h_0` everywhere, :math:`g = 0`, :math:`t = 0`.

    ``hess_init`` :math:`h_0` must be finite and > 0 (as in the reference implementation).
    """
    m = v.finite(mean, "mean")
    h0 = v.positive(hess_init, "hess_init")
    _fits_mean(h0, m, "hess_init")
    return IVONState(m.copy(), np.broadcast_to(h0, m.shape).astype(float), np.zeros_like(m), 0)


def _fits_mean(x, m, name):
    """DomainError unless ``x`` is a scalar or broadcasts to ``m.shape`` without enlarging it."""
    try:
        ok = np.broadcast_shapes(m.shape, np.shape(x)) == m.shape
    except ValueError:
        ok = False
    if not ok:
        raise DomainError(f"{name} must be a scalar or broadcast to the shape of mean {m.shape}; "
                          f"got shape {np.shape(x)}")


def _hess_inputs(h, delta):
    h = v.finite(h, "hess")
    delta = v.nonnegative(delta, "weight_decay", allow_inf=False)
    v.broadcast_together(hess=h, weight_decay=delta)
    v.require(h, h + delta > 0, "hess", "> -weight_decay (the preconditioner h + weight_decay must be > 0)")
    return h, delta


@renamed_keywords(h="hess", delta="weight_decay")
def preconditioner(hess, weight_decay):
    r"""IVON's preconditioner :math:`p = h + \delta` (Algorithm 1, the denominator of the mean update).

    Parameters
    ----------
    hess : array_like
        Hessian estimate :math:`h`, finite, with :math:`h + \delta > 0`.
    weight_decay : array_like
        Weight decay :math:`\delta \ge 0`, finite.

    The keywords ``h=`` and ``delta=`` (the former names) are accepted with a
    DeprecationWarning.
    """
    h, delta = _hess_inputs(hess, weight_decay)
    return v.scalar_out(h + delta, h, delta)


@renamed_keywords(h="hess", delta="weight_decay")
def posterior_std(hess, weight_decay, ess):
    r"""Posterior standard deviation :math:`\sigma = 1/\sqrt{\lambda(h + \delta)}` (Algorithm 1, last line).

    Parameters
    ----------
    hess, weight_decay
        :math:`h` and :math:`\delta`, as in :func:`preconditioner`.
    ess : array_like
        Effective sample size :math:`\lambda`, finite and > 0 (typically the
        number of training examples).

    Notes
    -----
    Formed as :math:`1/(\sqrt\lambda\,\sqrt{h+\delta})`, so the product
    :math:`\lambda(h+\delta)` is never formed (no over- or underflow). The
    keywords ``h=`` and ``delta=`` (the former names) are accepted with a
    DeprecationWarning.
    """
    h, delta = _hess_inputs(hess, weight_decay)
    ess = v.positive(ess, "ess")
    v.broadcast_together(hess=h, weight_decay=delta, ess=ess)
    with np.errstate(over="ignore", divide="ignore"):
        out = 1.0 / (np.sqrt(ess) * np.sqrt(h + delta))
    return v.scalar_out(out, h, delta, ess)


def ivon_sample(mean, hess, noise, *, ess, weight_decay):
    r"""The weight sample :math:`\theta = m + \sigma\epsilon` for a standard normal draw ``noise`` :math:`\epsilon`.

    ``noise`` may carry a leading axis of Monte Carlo draws (shape
    ``(S,) + mean.shape``); the result then has that shape too.
    """
    m = v.finite(mean, "mean")
    eps = v.finite(noise, "noise")
    sigma = np.asarray(posterior_std(hess, weight_decay, ess))
    v.broadcast_together(mean=m, noise=eps, posterior_std=sigma)
    shape = np.broadcast_shapes(m.shape, sigma.shape)
    if shape != m.shape or eps.shape[eps.ndim - m.ndim:] != m.shape:
        raise DomainError(f"hess, ess, weight_decay must broadcast to the shape of mean {m.shape} and noise must "
                          f"have shape {m.shape} or (S,) + {m.shape}; got posterior std of shape {sigma.shape} and "
                          f"noise of shape {eps.shape}")
    return m + sigma * eps


def ivon_step(state: IVONState, grad, noise, *, lr, ess, beta1=0.9, beta2=0.99999,
              weight_decay=1e-4, clip_radius=np.inf, debias=True) -> IVONState:
    r"""One IVON iteration (Shen et al. 2024, Algorithm 1), as a pure function of arrays.

    Given the state before the step, the gradient sample(s) :math:`\hat g`
    evaluated at :math:`\theta = m + \sigma\epsilon` (:func:`ivon_sample`) and the
    standard normal draw(s) :math:`\epsilon` used there, returns the state after:

    .. math::

        \hat h &= \hat g\,\epsilon/\sigma \;=\; \hat g\cdot(\theta - m)/\sigma^2,
            \qquad \sigma^2 = 1/(\lambda(h+\delta)) \\
        g_+ &= \beta_1 g + (1-\beta_1)\hat g \\
        h_+ &= \beta_2 h + (1-\beta_2)\hat h + \tfrac12(1-\beta_2)^2 (h - \hat h)^2/(h + \delta) \\
        m_+ &= m - \eta\,\operatorname{clip}\!\big((g_+/(1-\beta_1^{t+1}) + \delta m)/(h_+ + \delta),\ \pm\xi\big)

    with :math:`\hat g` and :math:`\hat g\epsilon` averaged over the leading
    axis when several draws are given. No randomness inside.

    Parameters
    ----------
    state : IVONState
        ``(mean, hess, momentum, step)`` before the step (:func:`ivon_init`).
        ``hess`` must satisfy ``hess + weight_decay > 0``.
    grad : array_like
        :math:`\hat g`, shape ``mean.shape`` (one draw) or ``(S,) + mean.shape``
        (``S`` Monte Carlo draws).
    noise : array_like
        :math:`\epsilon`, the standard normal draw(s) behind ``grad``, same shape.
    lr : float
        :math:`\eta`, finite and > 0 (the reference implementation's default
        uses ``lr * (hess_init + weight_decay)``; see the module notes).
    ess : float
        Effective sample size :math:`\lambda`, finite and > 0.
    beta1 : float, default 0.9
        Gradient momentum, in [0, 1).
    beta2 : float, default 0.99999
        Hessian momentum, in [0, 1]; ``1`` freezes :math:`h` (a fixed
        preconditioner, as in the frozen-preconditioner experiments of
        Cohen et al. 2022).
    weight_decay : float, default 1e-4
        :math:`\delta \ge 0`, finite.
    clip_radius : float, default inf
        :math:`\xi > 0`, elementwise clip of the preconditioned step.
    debias : bool, default True
        Divide the momentum by :math:`1 - \beta_1^t` (bias correction).

    Returns
    -------
    IVONState
        The state after the step (``step`` incremented by one). Where the
        float evaluation over- or underflows (a gradient near the float
        limit), that coordinate is recomputed in exact rational arithmetic
        and rounded once: a Hessian estimate beyond the float range is
        ``inf``, its limit, and the mean step there is 0.

    References
    ----------
    Shen et al. (2024), ICML, arXiv:2402.17641, Algorithm 1; the reference
    implementation ``team-approx-bayes/ivon`` (``IVON._update``,
    ``_new_momentum``, ``_new_hess``, ``_new_param_averages``).
    """
    if not (isinstance(state, tuple) and len(state) == 4):
        raise TypeError(f"state must be an IVONState (mean, hess, momentum, step), e.g. from ivon_init; "
                        f"got {type(state).__name__}")
    m = v.finite(state.mean if isinstance(state, IVONState) else state[0], "mean")
    h, delta = _hess_inputs(state[1], weight_decay)
    gm = v.finite(state[2], "momentum")
    t = v.as_int(state[3], "step", 0) + 1
    ghat = v.finite(grad, "grad")
    eps = v.finite(noise, "noise")
    lr = v.positive(lr, "lr")
    ess = v.positive(ess, "ess")
    b1 = v.as_float(beta1, "beta1")
    v.require(b1, (b1 >= 0) & (b1 < 1), "beta1", "in [0, 1)")
    b2 = v.as_float(beta2, "beta2")
    v.require(b2, (b2 >= 0) & (b2 <= 1), "beta2", "in [0, 1]")
    clip = v.positive(clip_radius, "clip_radius", allow_inf=True)
    debias = v.flag(debias, "debias")
    hyper = dict(lr=lr, ess=ess, beta1=b1, beta2=b2, weight_decay=delta, clip_radius=clip)
    for name, x in hyper.items():  # one value, or one per coordinate of mean: never a larger state
        _fits_mean(x, m, name)
    if ghat.shape != eps.shape:
        raise DomainError(f"noise must have the shape of grad {ghat.shape}; got {eps.shape}")
    if ghat.shape == m.shape:
        ghat, eps = ghat[None], eps[None]
    elif ghat.shape[1:] != m.shape:
        raise DomainError(f"grad must have shape {m.shape} or (S,) + {m.shape}; got {ghat.shape}")
    if h.shape != m.shape or gm.shape != m.shape:
        raise DomainError(f"hess and momentum must have the shape of mean {m.shape}; got {h.shape} and {gm.shape}")

    with np.errstate(over="ignore", invalid="ignore"):
        p = h + delta
        inv_sigma = np.sqrt(ess) * np.sqrt(p)                     # 1/sigma of the draw
        g_avg = ghat.mean(axis=0)
        hhat = (ghat * eps).mean(axis=0) * inv_sigma              # g (theta - m) / sigma^2, averaged
        momentum = b1 * gm + (1.0 - b1) * g_avg
        hess = b2 * h + (1.0 - b2) * hhat + 0.5 * (1.0 - b2) ** 2 * (h - hhat) ** 2 / p
        debias_factor = 1.0 - b1 ** t if debias else 1.0
        step = (momentum / debias_factor + delta * m) / (hess + delta)
        step = np.clip(step, -clip, clip)
        mean = m - lr * step
    bad = ~(np.isfinite(momentum) & np.isfinite(hess) & np.isfinite(mean))
    if bad.any():  # an intermediate over- or underflowed: redo those coordinates exactly
        mean, hess, momentum = (np.array(a, dtype=float) for a in (mean, hess, momentum))
        for idx in zip(*np.nonzero(bad)) if m.ndim else [()]:
            at = [np.broadcast_to(x, m.shape)[idx] for x in (lr, b1, b2, delta, clip, debias_factor)]
            mean[idx], hess[idx], momentum[idx] = _exact_step(
                m[idx], h[idx], gm[idx], ghat[(slice(None),) + idx], eps[(slice(None),) + idx],
                np.broadcast_to(inv_sigma, m.shape)[idx], *at)
    return IVONState(mean, hess, momentum, t)


def _exact_step(m, h, gm, ghat, eps, inv_sigma, lr, b1, b2, delta, clip, debias_factor):
    """One coordinate of :func:`ivon_step` in exact rational arithmetic, rounded once at the end.

    Used where the float evaluation over- or underflows: a Hessian estimate
    beyond the float range is returned as ``inf`` (its limit; the mean step is
    then 0), a mean beyond it as ``+-inf``.
    """
    from fractions import Fraction as F

    from ._exact import _to_float

    # the coefficients as the float evaluation rounds them: 1 - beta1, 1 - beta2, (1 - beta2)^2 / 2
    c1, c2, c3 = (F(float(x)) for x in (1.0 - b1, 1.0 - b2, 0.5 * (1.0 - b2) ** 2))
    m, h, gm, inv_sigma, lr, b1, b2, delta = (F(float(x)) for x in (m, h, gm, inv_sigma, lr, b1, b2, delta))
    size = len(ghat)
    g_avg = sum(F(float(g)) for g in ghat) / size
    hhat = sum(F(float(g)) * F(float(e)) for g, e in zip(ghat, eps)) / size * inv_sigma
    momentum = b1 * gm + c1 * g_avg
    p = h + delta
    hess = b2 * h + c2 * hhat + c3 * (h - hhat) ** 2 / p
    hess_f = _to_float(hess)
    if hess + delta <= 0 or not np.isfinite(hess_f):
        # h + delta <= 0 cannot happen: the correction term keeps h_+ + delta > 0 (AM-GM); an overflowing
        # Hessian makes the preconditioned step vanish
        return float(m), hess_f, _to_float(momentum)
    step = (momentum / F(float(debias_factor)) + delta * m) / (hess + delta)
    if np.isfinite(clip):
        step = max(-F(float(clip)), min(F(float(clip)), step))
    return _to_float(m - lr * step), hess_f, _to_float(momentum)


def adaptive_threshold(lr, beta1=0.0):
    r"""Stability edge of preconditioned GD with EMA momentum: :math:`(2 + 2\beta_1)/((1-\beta_1)\eta)`.

    The update :math:`g_{t+1} = \beta_1 g_t + (1-\beta_1)\nabla\ell(m_t)`,
    :math:`m_{t+1} = m_t - \eta P^{-1} g_{t+1}` (Adam's first moment with a
    fixed preconditioner :math:`P`; IVON's mean update with :math:`P = h + \delta`)
    on :math:`\ell = \tfrac12 m^\top H m` is stable iff

    .. math::

        \lambda_{\max}(P^{-1}H) < \frac{2 + 2\beta_1}{(1 - \beta_1)\,\eta}.

    Derivation: along an eigenvector of :math:`P^{-1}H` with eigenvalue
    :math:`s`, eliminating :math:`g` (:math:`\eta g_t = P(m_{t-1} - m_t)`) gives
    the two-term recursion

    .. math::

        m_{t+1} = \big(1 + \beta_1 - (1-\beta_1)\eta s\big)\,m_t - \beta_1 m_{t-1},

    with characteristic polynomial
    :math:`\chi(z) = z^2 - (1 + \beta_1 - (1-\beta_1)\eta s)\,z + \beta_1`. Both
    roots lie inside the unit circle iff (Jury / Schur-Cohn) :math:`|\beta_1| < 1`,
    :math:`\chi(1) = (1-\beta_1)\eta s > 0` and
    :math:`\chi(-1) = 2 + 2\beta_1 - (1-\beta_1)\eta s > 0`, i.e.
    :math:`0 < s < (2+2\beta_1)/((1-\beta_1)\eta)`. At the upper edge a root
    crosses :math:`z = -1` (the other is :math:`-\beta_1`): period-two
    oscillation, as for GD at :math:`2/\eta` (the case :math:`\beta_1 = 0`).
    With bias correction (:math:`g/(1-\beta_1^t)`) the recursion's coefficients
    tend to these geometrically fast, so the asymptotic edge is the same.

    Weight decay entering outside the momentum, as in IVON
    (:math:`m_+ = m - \eta(\bar g + \delta m)/p`), shifts the edge: the same
    argument gives :math:`(1-\beta_1)\eta s + (1+\beta_1)\eta\delta/p < 2(1+\beta_1)`,
    a correction of relative size :math:`\eta\delta/(2p)`; this function
    returns the :math:`\delta = 0` edge.

    Parameters
    ----------
    lr : array_like
        :math:`\eta`, finite and > 0.
    beta1 : array_like, default 0
        :math:`\beta_1` in [0, 1).

    Returns
    -------
    float or ndarray
        The edge for the preconditioned sharpness: ``2/lr`` at ``beta1 = 0``,
        ``38/lr`` at ``beta1 = 0.9``.

    References
    ----------
    Cohen et al., *Adaptive Gradient Methods at the Edge of Stability*,
    arXiv:2207.14484 (2022): the adaptive edge of stability,
    :math:`\lambda_1(P^{-1}H) = (2+2\beta_1)/((1-\beta_1)\eta)`, 38/η for Adam
    with :math:`\beta_1 = 0.9`.

    Examples
    --------
    >>> adaptive_threshold(0.1)
    20.0
    >>> adaptive_threshold(1.0, 0.5)
    6.0
    >>> round(adaptive_threshold(1.0, 0.9), 12)   # 0.9 is not exact in binary
    38.0
    """
    lr = v.positive(lr, "lr")
    b1 = v.as_float(beta1, "beta1")
    v.require(b1, (b1 >= 0) & (b1 < 1), "beta1", "in [0, 1)")
    with np.errstate(over="ignore"):
        out = 2.0 * ((1.0 + b1) / (1.0 - b1)) / lr
    return v.scalar_out(out, lr, beta1)


def adaptive_spectral_radius(sharpness, lr, beta1=0.0):
    r"""Spectral radius of the EMA-momentum recursion at preconditioned sharpness ``sharpness`` :math:`s`.

    The larger modulus of the roots of
    :math:`z^2 - (1 + \beta_1 - (1-\beta_1)\eta s)z + \beta_1`; below 1 iff
    :math:`0 < s <` :func:`adaptive_threshold`. The per-step growth (or decay)
    factor of the slowest mode.
    """
    s = v.finite(sharpness, "sharpness")
    lr = v.positive(lr, "lr")
    b1 = v.as_float(beta1, "beta1")
    v.require(b1, (b1 >= 0) & (b1 < 1), "beta1", "in [0, 1)")
    v.broadcast_together(sharpness=s, lr=lr, beta1=b1)
    b = rational(lambda b1, r, s: 1 + b1 - (1 - b1) * r * s, b1, lr, s)
    disc = rational(lambda b1, r, s: (1 + b1 - (1 - b1) * r * s) ** 2 - 4 * b1, b1, lr, s)
    # |b| - 1 - beta1, whose sign is that of rho - 1 on the real branch, formed without cancellation
    gap = np.where(b >= 0, rational(lambda b1, r, s: -(1 - b1) * r * s, b1, lr, s),
                   rational(lambda b1, r, s: (1 - b1) * r * s - 2 * (1 + b1), b1, lr, s))
    with np.errstate(over="ignore", invalid="ignore"):
        ab = np.abs(b)
        root = np.where(np.isfinite(disc), np.sqrt(np.maximum(disc, 0.0)), ab)  # |b| > 1e154: sqrt(disc) = |b|
        real = 0.5 * ab + 0.5 * root  # real roots: (|b| + sqrt(disc))/2, a sum of two terms >= 0
    # complex roots: modulus sqrt(beta1) < 1
    out = np.where(disc >= 0, real, np.sqrt(b1))
    # round toward the exact side of 1 (rho - 1 has the sign of gap on the real branch)
    below, above = (disc >= 0) & (gap < 0), (disc >= 0) & (gap > 0)
    out = np.where(below & (out >= 1), np.nextafter(1.0, 0.0), np.where(above & (out <= 1), np.nextafter(1.0, 2.0),
                                                                         np.where((disc >= 0) & (gap == 0), 1.0, out)))
    return v.scalar_out(out, sharpness, lr, beta1)


def preconditioned_sharpness(hessian, precond):
    r"""The adaptive sharpness :math:`\lambda_{\max}(\operatorname{diag}(p)^{-1}H)`.

    Computed as the top eigenvalue of the symmetric
    :math:`D^{-1/2}HD^{-1/2}`, :math:`D = \operatorname{diag}(p)` (similar to
    :math:`D^{-1}H`).

    Parameters
    ----------
    hessian : array_like
        Symmetric matrix :math:`H`, shape ``(P, P)``, finite.
    precond : array_like
        Diagonal preconditioner :math:`p > 0`, shape ``(P,)`` (IVON:
        :func:`preconditioner`).
    """
    q = v.finite(hessian, "hessian")
    if q.ndim != 2 or q.shape[0] != q.shape[1]:
        raise DomainError(f"hessian must be a square matrix; got shape {q.shape}")
    p = v.positive(precond, "precond")
    if p.shape != (q.shape[0],):
        raise DomainError(f"precond must have shape ({q.shape[0]},); got {p.shape}")
    r = 1.0 / np.sqrt(p)
    sym = r[:, None] * (0.5 * (q + q.T)) * r[None, :]
    return float(np.linalg.eigvalsh(sym)[-1])
