r"""Stability thresholds of sharpness-aware minimization (SAM) on a quadratic.

Conventions
-----------
Loss :math:`\ell(\theta) = \tfrac12\theta^\top H\theta` (a linear term
:math:`b^\top\theta` changes nothing below), eigenpairs :math:`(\lambda_i, v_i)`
of :math:`H`, learning rate ``lr`` :math:`\eta`, perturbation radius ``rho``
:math:`\rho`, gradient :math:`g = \nabla\ell(\theta)`. The two updates are

.. math::

    \text{SAM:}\quad \theta_+ = \theta - \eta\,\nabla\ell\big(\theta + \rho\,g/\|g\|\big),
    \qquad
    \text{USAM:}\quad \theta_+ = \theta - \eta\,\nabla\ell\big(\theta + \rho\,g\big).

On the quadratic :math:`\nabla\ell(\theta + e) = g + He`, so the component of
the step along :math:`v_i` is the GD step scaled by :math:`1 + \rho\lambda_i/\|g\|`
(SAM) or :math:`1 + \rho\lambda_i` (USAM), and the coordinate
:math:`\mu_i = v_i^\top\theta` is multiplied by

.. math::

    a_i = 1 - \eta\lambda_i(1 + \rho\lambda_i)  \quad\text{(USAM)},\qquad
    a_i = 1 - \eta\lambda_i(1 + \rho\lambda_i/\|g\|) \quad\text{(SAM)}.

USAM is linear, and direction :math:`i` (:math:`\lambda_i > 0`) is stable iff
:math:`\eta\lambda_i(1 + \rho\lambda_i) < 2`, i.e. iff :math:`\lambda_i` lies
below the positive root of :math:`\rho\lambda^2 + \lambda - 2/\eta = 0`,

.. math::

    \lambda^*_{\mathrm{USAM}} = \frac{\sqrt{1 + 8\rho/\eta} - 1}{2\rho}
    = \frac{4}{\eta\,\big(1 + \sqrt{1 + 8\rho/\eta}\big)} .

SAM is the same map with :math:`\rho` replaced by :math:`\rho/\|g\|`; its
multiplier depends on the current gradient norm, and the edge at that norm is
the *SAM-edge* of Long & Bartlett,

.. math::

    \lambda^*_{\mathrm{SAM}} = \frac{\|g\|}{2\rho}\Big(\sqrt{1 + \frac{8\rho}{\eta\|g\|}} - 1\Big)
    = \frac{4}{\eta\,\big(1 + \sqrt{1 + 8\rho/(\eta\|g\|)}\big)} .

Both lie below the GD edge :math:`2/\eta` and tend to it as :math:`\rho \to 0`
(and, for SAM, as :math:`\|g\| \to \infty`); they fall like
:math:`\sqrt{2/(\eta\rho)}` (USAM) and :math:`\sqrt{2\|g\|/(\eta\rho)}` (SAM) as
:math:`\rho/\eta \to \infty`. The right-hand forms have no cancellation and are
the ones evaluated.

Sources: P. Foret, A. Kleiner, H. Mobahi and B. Neyshabur, *Sharpness-Aware
Minimization for Efficiently Improving Generalization*, ICLR 2021 (SAM);
M. Andriushchenko and N. Flammarion, *Towards Understanding Sharpness-Aware
Minimization*, ICML 2022 (USAM); P. M. Long and P. L. Bartlett,
*Sharpness-Aware Minimization and the Edge of Stability*, JMLR 2024
(arXiv:2309.12488), the SAM-edge. The thresholds are re-derived above; the
trajectory checks in ``tests/test_sam.py`` locate them by bisection on the
literal iterations.

:func:`locate_threshold` (the bisection) is shared with :mod:`theory.ivon`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import _validate as v
from ._exact import mantissa_product, rational, root_of_product
from .errors import DomainError

__all__ = [
    "usam_threshold",
    "sam_threshold",
    "usam_step_factor",
    "sam_step_factor",
    "usam_loss_change",
    "sam_loss_change",
    "usam_update",
    "sam_update",
    "usam_quadratic_map",
    "sam_quadratic_map",
    "locate_threshold",
]

# Above x = rho/(lr*|g|) = 2**_HUGE_EXP the 1s in 4/(1 + sqrt(1 + 8x)) are below
# 2**-100 relative and the threshold is sqrt(2|g|/(lr*rho)) to full precision.
_HUGE_EXP = 200


def _edge(lr, rho, grad_norm):
    r"""``4 / (lr (1 + sqrt(1 + 8x)))``, ``x = rho / (lr * grad_norm)``, over the whole float range.

    ``x`` is assembled from the inputs' mantissas and exponents, so it is never
    formed where it would over- or underflow; beyond ``x = 2**200`` the
    asymptotic form ``sqrt(2 grad_norm / (lr rho))`` (exact to 2**-100 there) is
    evaluated as a root of a product. ``rho = 0`` is GD whatever ``grad_norm``.
    """
    gd = rho == 0
    g = np.where(gd, 1.0, grad_norm)
    omega, expo, zero, inf = mantissa_product([(rho, 1), (lr, -1), (g, -1)])
    huge = inf | (expo > _HUGE_EXP)
    x = np.ldexp(omega.hi, np.clip(expo, -1200, _HUGE_EXP).astype(np.int32))
    x = np.where(zero | huge, 0.0, x)
    core = 4.0 / (1.0 + np.sqrt(1.0 + 8.0 * x))  # in (0, 2]; exactly 2 at x = 0
    with np.errstate(over="ignore"):
        moderate = core / lr
    # evaluated only where it is used (elsewhere on 1s), so nothing spurious overflows
    one = np.ones(np.broadcast(lr, rho, g).shape)
    with np.errstate(over="ignore"):
        asymptotic = root_of_product([(np.where(huge, g, one), 1), (np.where(huge, lr, one), -1),
                                      (np.where(huge, rho, one), -1)], 2, exp2=1)
    return np.where(huge, asymptotic, moderate)


def usam_threshold(lr, rho):
    r"""Largest Hessian eigenvalue along which unnormalized SAM (USAM) is stable on a quadratic.

    .. math::

        \lambda^*_{\mathrm{USAM}} = \frac{\sqrt{1 + 8\rho/\eta} - 1}{2\rho}
        = \frac{4}{\eta\,\big(1 + \sqrt{1 + 8\rho/\eta}\big)},

    the positive root of :math:`\eta\lambda(1 + \rho\lambda) = 2`: a direction
    with eigenvalue :math:`0 < \lambda < \lambda^*` contracts under
    :math:`\theta_+ = \theta - \eta\nabla\ell(\theta + \rho\nabla\ell(\theta))`, one
    with :math:`\lambda > \lambda^*` grows (:func:`usam_step_factor`).

    Parameters
    ----------
    lr : array_like
        Learning rate :math:`\eta`, finite and > 0.
    rho : array_like
        Perturbation radius :math:`\rho \ge 0`; ``0`` is GD (``2/lr`` exactly),
        ``inf`` gives 0.

    Returns
    -------
    float or ndarray
        :math:`\lambda^*` in ``[0, 2/lr]``, decreasing in ``rho``;
        :math:`\sim\sqrt{2/(\eta\rho)}` as :math:`\rho/\eta \to \infty`.

    Notes
    -----
    Evaluated in the cancellation-free right-hand form with
    :math:`\rho/\eta` assembled from mantissas and exponents (never over- or
    underflowing): within 3 ulp of the exact value over the whole float range.

    References
    ----------
    Andriushchenko & Flammarion, ICML 2022 (USAM); the quadratic analysis is
    that of Long & Bartlett (2024), arXiv:2309.12488, with :math:`\|g\|` set to 1.

    Examples
    --------
    >>> usam_threshold(0.1, 0.0)     # GD: 2/lr
    20.0
    >>> usam_threshold(0.5, 0.5)     # root of lam (1 + lam/2) = 4
    2.0
    """
    lr = v.positive(lr, "lr")
    rho = v.nonnegative(rho, "rho")
    v.broadcast_together(lr=lr, rho=rho)
    return v.scalar_out(_edge(lr, rho, np.ones_like(rho)), lr, rho)


def sam_threshold(lr, rho, grad_norm):
    r"""The SAM-edge: largest eigenvalue along which a SAM step contracts, at gradient norm ``grad_norm``.

    .. math::

        \lambda^*_{\mathrm{SAM}} = \frac{\|g\|}{2\rho}\Big(\sqrt{1 + \frac{8\rho}{\eta\|g\|}} - 1\Big)
        = \frac{4}{\eta\,\big(1 + \sqrt{1 + 8\rho/(\eta\|g\|)}\big)},

    the positive root of :math:`\eta\lambda(1 + \rho\lambda/\|g\|) = 2`
    (:func:`usam_threshold` with :math:`\rho \to \rho/\|g\|`).

    Parameters
    ----------
    lr : array_like
        Learning rate :math:`\eta`, finite and > 0.
    rho : array_like
        Perturbation radius :math:`\rho \ge 0`; ``0`` is GD (``2/lr`` exactly,
        whatever ``grad_norm``), ``inf`` gives 0.
    grad_norm : array_like
        :math:`\|g\| = \|\nabla\ell(\theta)\| \ge 0` at the current iterate;
        ``0`` gives 0 (for ``rho > 0``), ``inf`` gives ``2/lr``.

    Returns
    -------
    float or ndarray
        :math:`\lambda^*` in ``[0, 2/lr]``, decreasing in ``rho``, increasing
        in ``grad_norm``.

    Notes
    -----
    The threshold moves with :math:`\|g\|`, so on a pure quadratic it is a
    statement about the next step, not the whole trajectory: as SAM converges
    :math:`\|g\|` shrinks and so does the edge. Evaluated as in
    :func:`usam_threshold` (within 3 ulp over the whole float range; the
    ratio :math:`\rho/(\eta\|g\|)` is never formed).

    References
    ----------
    Long & Bartlett, *Sharpness-Aware Minimization and the Edge of Stability*,
    JMLR 2024 (arXiv:2309.12488); Foret et al., ICLR 2021 (SAM).

    Examples
    --------
    >>> sam_threshold(0.5, 1.0, 2.0)   # rho/|g| = 1/2: same as usam_threshold(0.5, 0.5)
    2.0
    """
    lr = v.positive(lr, "lr")
    rho = v.nonnegative(rho, "rho")
    grad_norm = v.nonnegative(grad_norm, "grad_norm")
    v.broadcast_together(lr=lr, rho=rho, grad_norm=grad_norm)
    v.require(grad_norm, ~(np.isinf(rho) & np.isinf(grad_norm)), "grad_norm",
              "finite where rho is infinite (inf/inf is indeterminate)")
    return v.scalar_out(_edge(lr, rho, grad_norm), lr, rho, grad_norm)


def usam_step_factor(lam, lr, rho):
    r"""Per-direction multiplier :math:`a = 1 - \eta\lambda(1 + \rho\lambda)` of one USAM step on a quadratic.

    :math:`|a| > 1` (growth) exactly when :math:`\lambda > \lambda^*_{\mathrm{USAM}}`
    (:func:`usam_threshold`) or :math:`\lambda < 0` with :math:`1 + \rho\lambda > 0`.
    Computed exactly rounded (:func:`theory._exact.rational`), so the side of
    :math:`\pm1` is always right, also at the threshold.

    Parameters
    ----------
    lam : array_like
        Eigenvalue :math:`\lambda`, finite (any sign).
    lr : array_like
        Learning rate :math:`\eta`, finite and > 0.
    rho : array_like
        Perturbation radius :math:`\rho`, finite and >= 0.
    """
    lam = v.finite(lam, "lam")
    lr = v.positive(lr, "lr")
    rho = v.nonnegative(rho, "rho", allow_inf=False)
    v.broadcast_together(lam=lam, lr=lr, rho=rho)
    out = rational(lambda r, l, s: 1 - r * l * (1 + s * l), lr, lam, rho)
    return v.scalar_out(out, lam, lr, rho)


def sam_step_factor(lam, lr, rho, grad_norm):
    r"""Per-direction multiplier :math:`a = 1 - \eta\lambda(1 + \rho\lambda/\|g\|)` of one SAM step.

    The coordinate along :math:`v_i` after one SAM step from an iterate with
    gradient norm :math:`\|g\|` is :math:`a_i` times the coordinate before;
    :math:`|a| > 1` for :math:`\lambda > 0` exactly when
    :math:`\lambda > \lambda^*_{\mathrm{SAM}}` (:func:`sam_threshold`). Exactly
    rounded.

    Parameters
    ----------
    lam, lr, rho
        As in :func:`usam_step_factor`.
    grad_norm : array_like
        :math:`\|g\|`, finite and > 0 (SAM's normalized perturbation is
        undefined at a stationary point).
    """
    lam = v.finite(lam, "lam")
    lr = v.positive(lr, "lr")
    rho = v.nonnegative(rho, "rho", allow_inf=False)
    grad_norm = v.positive(grad_norm, "grad_norm")
    v.broadcast_together(lam=lam, lr=lr, rho=rho, grad_norm=grad_norm)
    out = rational(lambda r, l, s, n: 1 - r * l * (1 + s * l / n), lr, lam, rho, grad_norm)
    return v.scalar_out(out, lam, lr, rho, grad_norm)


def usam_loss_change(eigvals, grad_proj, lr, rho):
    r"""Exact change of the loss in one USAM step, per eigen-direction.

    .. math::

        \ell(\theta_+) - \ell(\theta) = \sum_i -\frac{\eta g_i^2}{2}\,(1 + \rho\lambda_i)
        \big(2 - \eta\lambda_i(1 + \rho\lambda_i)\big),

    from :math:`\Delta\mu_i = -\eta g_i(1 + \rho\lambda_i)` and
    :math:`\Delta\ell_i = g_i\Delta\mu_i + \tfrac12\lambda_i\Delta\mu_i^2`; it holds
    for any quadratic (a linear term included). For :math:`\lambda_i > 0`, term
    :math:`i` is negative iff :math:`\lambda_i < \lambda^*_{\mathrm{USAM}}`;
    ``rho = 0`` is GD (:func:`theory.quadratic.expected_loss_change` with
    ``sigma = 0``). The step is deterministic, so this is also its expectation.

    Parameters
    ----------
    eigvals : array_like
        :math:`\lambda_i`, finite.
    grad_proj : array_like
        :math:`g_i = v_i^\top\nabla\ell(\theta)`, finite.
    lr : array_like
        Learning rate :math:`\eta`, finite and > 0.
    rho : array_like
        :math:`\rho`, finite and >= 0.

    Returns
    -------
    float or ndarray
        One entry per direction; sum the last axis for the total. Exactly
        rounded, so the sign is right at the threshold.
    """
    eigvals = v.finite(eigvals, "eigvals")
    grad_proj = v.finite(grad_proj, "grad_proj")
    lr = v.positive(lr, "lr")
    rho = v.nonnegative(rho, "rho", allow_inf=False)
    v.broadcast_together(eigvals=eigvals, grad_proj=grad_proj, lr=lr, rho=rho)
    out = rational(lambda r, l, g, s: -(r * g * g / 2) * (1 + s * l) * (2 - r * l * (1 + s * l)),
                   lr, eigvals, grad_proj, rho)
    return v.scalar_out(out, eigvals, grad_proj, lr, rho)


def sam_loss_change(eigvals, grad_proj, lr, rho, grad_norm=None):
    r"""Exact change of the loss in one (normalized) SAM step, per eigen-direction.

    .. math::

        \ell(\theta_+) - \ell(\theta) = \sum_i -\frac{\eta g_i^2}{2}\,\Big(1 + \frac{\rho\lambda_i}{\|g\|}\Big)
        \Big(2 - \eta\lambda_i\Big(1 + \frac{\rho\lambda_i}{\|g\|}\Big)\Big).

    Term :math:`i` (:math:`\lambda_i > 0`) is negative iff
    :math:`\lambda_i < \lambda^*_{\mathrm{SAM}}(\eta, \rho, \|g\|)`.

    Parameters
    ----------
    eigvals, grad_proj, lr, rho
        As in :func:`usam_loss_change`; the last axis of ``grad_proj`` runs
        over the eigen-directions.
    grad_norm : array_like, optional
        :math:`\|g\|`; by default the norm of ``grad_proj`` over its last axis
        (the gradient norm when every direction is listed). Where it is 0 the
        iterate is stationary, SAM's perturbation is undefined, and the change
        returned is 0 (practical implementations add a small constant to the
        norm, and the step is then zero).
    """
    eigvals = v.finite(eigvals, "eigvals")
    grad_proj = v.finite(grad_proj, "grad_proj")
    lr = v.positive(lr, "lr")
    rho = v.nonnegative(rho, "rho", allow_inf=False)
    v.broadcast_together(eigvals=eigvals, grad_proj=grad_proj, lr=lr, rho=rho)
    if grad_norm is None:
        if grad_proj.ndim == 0:
            raise DomainError("grad_proj must have a last axis over the directions when grad_norm is not given")
        with np.errstate(over="ignore"):
            norm = np.linalg.norm(grad_proj, axis=-1, keepdims=True)
        v.require(norm, np.isfinite(norm), "grad_proj", "of finite norm")
    else:
        norm = v.nonnegative(grad_norm, "grad_norm", allow_inf=False)
        v.broadcast_together(eigvals=eigvals, grad_proj=grad_proj, lr=lr, rho=rho, grad_norm=norm)
    stationary = norm == 0
    out = rational(lambda r, l, g, s, n: -(r * g * g / 2) * (1 + s * l / n) * (2 - r * l * (1 + s * l / n)),
                   lr, eigvals, grad_proj, rho, np.where(stationary, 1.0, norm))
    out = np.where(stationary, 0.0, out)
    return v.scalar_out(out, eigvals, grad_proj, lr, rho, norm if grad_norm is None else grad_norm)


def _update_inputs(theta, grad, lr, rho):
    theta = v.finite(theta, "theta")
    if not callable(grad):
        raise TypeError(f"grad must be a callable grad(theta) -> array; got {type(grad).__name__}")
    lr = v.positive(lr, "lr")
    rho = v.nonnegative(rho, "rho", allow_inf=False)
    v.broadcast_together(theta=theta, lr=lr, rho=rho)
    return theta, lr, rho


def _gradient(grad, theta):
    g = np.asarray(grad(theta))
    if g.shape != np.shape(theta):
        raise DomainError(f"grad must return an array of the shape of theta {np.shape(theta)}; got {g.shape}")
    return g


def usam_update(theta, grad, lr, rho):
    r"""One literal USAM step :math:`\theta - \eta\nabla\ell(\theta + \rho\nabla\ell(\theta))`.

    Parameters
    ----------
    theta : array_like
        Iterate(s), shape ``(..., P)``, finite.
    grad : callable
        ``grad(theta) -> ndarray`` of the same shape (vectorised over leading axes).
    lr : float or array_like
        :math:`\eta`, finite and > 0, broadcasting against ``theta[..., :1]``.
    rho : float or array_like
        :math:`\rho`, finite and >= 0, broadcasting against ``theta[..., :1]``.
    """
    theta, lr, rho = _update_inputs(theta, grad, lr, rho)
    return _usam_step(theta, lambda t: _gradient(grad, t), lr, rho)


def _usam_step(theta, grad, lr, rho):
    g = grad(theta)
    return theta - lr * grad(theta + rho * g)


def sam_update(theta, grad, lr, rho):
    r"""One literal SAM step :math:`\theta - \eta\nabla\ell(\theta + \rho\,g/\|g\|)`, :math:`g = \nabla\ell(\theta)`.

    The norm is taken over the last axis. At a stationary point (:math:`g = 0`)
    the perturbation is taken as zero, as in implementations that add a small
    constant to the norm. Parameters as in :func:`usam_update`.
    """
    theta, lr, rho = _update_inputs(theta, grad, lr, rho)
    if theta.ndim == 0:
        raise DomainError("theta must have a last axis over the parameters (the norm is taken over it); got a scalar")
    return _sam_step(theta, lambda t: _gradient(grad, t), lr, rho)


def _sam_step(theta, grad, lr, rho):
    g = grad(theta)
    with np.errstate(over="ignore", under="ignore"):
        norm = np.linalg.norm(g, axis=-1, keepdims=True)
    num = rho * g
    e = np.divide(num, norm, out=np.zeros_like(num, dtype=float), where=norm > 0)
    redo = ((np.isinf(norm) | (norm < 2.0**-500)) & (g != 0).any(axis=-1, keepdims=True)
            & np.isfinite(g).all(axis=-1, keepdims=True))
    if redo.any():  # the norm over- or underflowed: rho g / |g| = rho (g/s) / |g/s|, s = max |g|
        with np.errstate(under="ignore", invalid="ignore"):
            s = np.max(np.abs(g), axis=-1, keepdims=True)
            gs = g / np.where(s > 0, s, 1.0)
            unit = gs / np.linalg.norm(gs, axis=-1, keepdims=True)
        e = np.where(redo, rho * unit, e)
    return theta - lr * grad(theta + e)


def usam_quadratic_map(lr, rho):
    r"""``step(lam, state, t)``: the literal USAM iteration on :math:`\ell = \frac12\lambda\theta^2`,
    one row per value of ``lam`` (shape ``(n, 1)``), for :func:`locate_threshold`.

    Its edge in :math:`\lambda` is :func:`usam_threshold`. ``lr`` (> 0) and
    ``rho`` (>= 0) finite scalars or arrays of one value per row.
    """
    lr = v.positive(lr, "lr")
    rho = v.nonnegative(rho, "rho", allow_inf=False)

    def step(lam, state, t):
        return _usam_step(state, lambda theta: lam * theta, lr, rho)
    return step


def sam_quadratic_map(lr, rho, grad_norm):
    r"""``step(lam, state, t)``: the literal SAM iteration on :math:`\ell = b\,\theta_1 + \frac12\lambda\theta_2^2`,
    :math:`b` = ``grad_norm`` (scalar or one per row), for :func:`locate_threshold`.

    The flat coordinate's constant slope holds :math:`\|g\| = b` in floating point
    while the curved coordinate stays tiny (start it at, e.g., 1e-250), so SAM's
    multiplier along :math:`\theta_2` is :math:`1 - \eta\lambda(1 + \rho\lambda/b)` and the
    edge in :math:`\lambda` is :func:`sam_threshold` at ``grad_norm``.
    """
    lr = v.positive(lr, "lr")
    rho = v.nonnegative(rho, "rho", allow_inf=False)
    slope = v.positive(grad_norm, "grad_norm")

    def grad(theta, lam):
        return np.stack([np.broadcast_to(slope, theta.shape[:1]), lam[:, 0] * theta[:, 1]], axis=-1)

    def step(lam, state, t):
        return _sam_step(state, lambda theta: grad(theta, lam), lr, rho)
    return step


def locate_threshold(step_map: Callable, lo, hi, state0, *, steps: int = 400,
                     size: Callable | None = None, rtol: float = 1e-12, max_iter: int = 200,
                     check_bracket: bool = True):
    r"""Bisect for the parameter value at which an iterated map turns from decay to growth.

    For each entry of ``lo``/``hi`` (a bracket: decay at ``lo``, growth at
    ``hi``) the map is iterated ``steps`` times from ``state0`` and the value is
    counted as *growing* when ``size`` of the state after ``steps`` steps
    exceeds ``size`` after ``steps // 2`` (or is not finite). Comparing the two
    halves rather than the start discounts transients: for a linear map the
    ratio is :math:`|z|^{T/2}` times :math:`1 + O(\text{(second root/first)}^{T/2})`,
    so the observed edge is where the spectral radius :math:`|z|` crosses 1,
    resolved to about :math:`10^{-13}/T` relative.

    Parameters
    ----------
    step_map : callable
        ``step_map(param, state, t) -> state``: one step at step number
        ``t = 1, 2, ...``; ``param`` has shape ``(n, 1)`` and ``state`` shape
        ``(n, d)`` (one row per bisection).
    lo, hi : array_like
        Brackets, shape ``(n,)`` or scalars; ``lo < hi``.
    state0 : array_like
        Initial state, shape ``(d,)`` (shared by every row).
    steps : int
        :math:`T`, iterations per evaluation (even).
    size : callable, optional
        ``size(state) -> (n,)`` array; default the Euclidean norm over the
        last axis. Choose it to watch only the coordinates whose growth is at
        stake (e.g. not a flat direction that drifts).
    rtol : float
        Stop when ``hi - lo <= rtol * hi`` everywhere.
    max_iter : int
        At most this many bisections.
    check_bracket : bool, default True
        First confirm decay at ``lo`` and growth at ``hi`` (two extra
        evaluations); a DomainError names the rows where that fails, instead of
        a silent answer at an end of the bracket.

    Returns
    -------
    ndarray or float
        The midpoint of the final brackets.

    Notes
    -----
    Overflow inside the iteration is expected on the growing side and is not
    an error (non-finite sizes count as growth); choose ``state0`` and
    ``steps`` so that decaying runs stay representable, and so that a
    non-linear map stays in the regime whose edge is wanted.
    """
    if not callable(step_map):
        raise TypeError(f"step_map must be a callable step_map(param, state, t); got {type(step_map).__name__}")
    if size is not None and not callable(size):
        raise TypeError(f"size must be None or a callable size(state); got {type(size).__name__}")
    lo = np.atleast_1d(v.finite(lo, "lo")).copy()
    hi = np.atleast_1d(v.finite(hi, "hi")).copy()
    v.broadcast_together(lo=lo, hi=hi)
    lo, hi = (a.copy() for a in np.broadcast_arrays(lo, hi))
    v.nonempty(lo, "lo")
    state0 = np.atleast_1d(v.finite(state0, "state0"))
    steps = v.as_int(steps, "steps", 2)
    rtol = float(v.positive(v.scalar(rtol, "rtol"), "rtol"))
    max_iter = v.as_int(max_iter, "max_iter", 0)
    check_bracket = v.flag(check_bracket, "check_bracket")
    if size is None:
        def size(s):
            return np.linalg.norm(s, axis=-1)
    half = steps // 2

    def grows(param):
        state = np.broadcast_to(state0, param.shape + state0.shape).copy()
        p = param[:, None]
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            for t in range(1, steps + 1):
                state = step_map(p, state, t)
                if t == half:
                    mid = np.asarray(size(state), dtype=float)
            end = np.asarray(size(state), dtype=float)
            return ~np.isfinite(end) | ~np.isfinite(mid) | (end > mid)

    if not np.all(lo < hi):
        raise DomainError("hi must be > lo in every row")
    if check_bracket:
        bad = grows(lo) | ~grows(hi)
        if bad.any():
            raise DomainError(f"the bracket must show decay at lo and growth at hi; it does not in rows "
                              f"{np.flatnonzero(bad).tolist()}")
    for _ in range(max_iter):
        if np.all(hi - lo <= rtol * np.abs(hi)):
            break
        mid = 0.5 * (lo + hi)
        g = grows(mid)
        hi = np.where(g, mid, hi)
        lo = np.where(g, lo, mid)
    out = 0.5 * (lo + hi)
    return float(out[0]) if out.size == 1 else out
