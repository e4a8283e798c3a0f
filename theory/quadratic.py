r"""GD and VGD on the quadratic loss :math:`\ell(\theta) = \tfrac12\theta^\top Q\theta`: exact expectations.

Conventions
-----------
:math:`Q = \sum_i \lambda_i v_i v_i^\top` (``eigvals`` :math:`\lambda_i`), learning
rate ``lr`` :math:`\eta`, VGD perturbations :math:`e_k \sim \mathcal N(0,\sigma^2 I)`
averaged over ``n_samples`` :math:`N_s` per step. ``sigma`` is the standard
deviation of each coordinate of :math:`e_k` for every ``dof``: a Student-t
perturbation with ``dof`` :math:`\nu > 2` has the same variance
:math:`\sigma^2` (scale :math:`\sigma\sqrt{(\nu-2)/\nu}`, see
:func:`theory.vgd.perturbation_scale`), and as only the variance enters the
expectations below, they are the Gaussian ones for every ``dof`` (which is
validated). ``sigma = 0`` is plain GD. One VGD step on the quadratic is

.. math:: m_+ = (I - \eta Q)\,m - \eta Q\bar e, \qquad
          \bar e = \frac1{N_s}\sum_k e_k,\quad \mathbb E\bar e = 0,\quad
          \operatorname{Cov}\bar e = \sigma^2/N_s\, I,

so every eigen-direction evolves independently: with :math:`a_i = 1-\eta\lambda_i`,
:math:`\mu_i = v_i^\top m` and :math:`g_i = \lambda_i\mu_i` (``grad_proj``),

.. math:: \mathbb E[\mu_{i,+}^2] = a_i^2\mu_i^2 + \eta^2\lambda_i^2\sigma^2/N_s .

Everything below follows from this recursion; ``theory.symbolic`` derives it
with sympy and the checks in ``theory verify`` compare it with simulation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _validate as v
from ._exact import mantissa_product, rational
from .errors import DomainError
from .vgd import vgd_threshold

__all__ = [
    "gd_threshold",
    "gd_loss_factor",
    "expected_loss_change",
    "expected_loss",
    "stationary_loss",
    "analyse_step",
    "StepAnalysis",
]


def gd_threshold(lr):
    r"""The edge of stability :math:`2/\eta`.

    GD on a quadratic multiplies the component along :math:`v_i` by
    :math:`1-\eta\lambda_i` each step, so it is stable (and lowers the loss in
    every direction) iff every :math:`\lambda_i < 2/\eta`.

    References
    ----------
    The classical stability bound for GD; Cohen et al., *Gradient
    Descent on Neural Networks Typically Occurs at the Edge of Stability*, ICLR 2021.
    """
    lr = v.positive(lr, "lr")
    with np.errstate(over="ignore"):
        return v.scalar_out(2.0 / lr, lr)


def gd_loss_factor(eigvals, lr):
    r"""Per-step factor :math:`(1-\eta\lambda)^2` by which GD multiplies the loss along an eigenvector.

    Above 1 (divergence) exactly when :math:`\lambda > 2/\eta` or :math:`\lambda < 0`;
    computed exactly rounded, so the side of 1 is always right.
    """
    eigvals = v.finite(eigvals, "eigvals")
    lr = v.positive(lr, "lr")
    v.broadcast_together(eigvals=eigvals, lr=lr)
    out = rational(lambda r, lam: (1 - r * lam) ** 2, lr, eigvals)
    return v.scalar_out(out, eigvals, lr)


def _noise_inputs(sigma, n_samples, dof, *, allow_inf_sigma=False):
    sigma = v.nonnegative(sigma, "sigma", allow_inf=allow_inf_sigma)
    n = v.integer_at_least(n_samples, "n_samples", 1)
    dof = v.student_dof(dof)  # validated only: sigma is the standard deviation for every dof
    return sigma, n, dof


def expected_loss_change(eigvals, grad_proj, lr, sigma=0.0, n_samples=1, *, dof=np.inf):
    r"""Exact expected change of the loss in one VGD (GD if ``sigma = 0``) step, per eigen-direction.

    .. math::

        \mathbb E[\ell(m_+)] - \ell(m) = \sum_i \frac{\lambda_i}{2}\Big[
        \big((1-\eta\lambda_i)^2 - 1\big)\frac{g_i^2}{\lambda_i^2}
        + \frac{\eta^2\lambda_i^2\sigma^2}{N_s}\Big]
        = \sum_i \frac{\eta}{2}\Big[g_i^2(\eta\lambda_i - 2)
        + \frac{\eta\lambda_i^3\sigma^2}{N_s}\Big].

    Term :math:`i` is negative iff :math:`\lambda_i < (2/\eta)\,\mathrm{VF}(N_s g_i^2/\sigma^2)`
    (:func:`theory.vgd.vgd_threshold`).

    Parameters
    ----------
    eigvals : array_like
        :math:`\lambda_i`, finite (any sign: the formula holds for any symmetric Q).
    grad_proj : array_like
        :math:`g_i = v_i^\top\nabla\ell(m)`, finite; must be 0 where ``eigvals`` is 0.
    lr : array_like
        Learning rate :math:`\eta`, finite and > 0.
    sigma : array_like, default 0
        Standard deviation :math:`\sigma \ge 0` of each coordinate of the
        perturbation (for every ``dof``); ``inf`` gives the limit
        :math:`\pm\infty` (0 where :math:`\lambda_i = 0`).
    n_samples : array_like, default 1
        :math:`N_s`, integer >= 1.
    dof : array_like, default inf
        Student-t degrees of freedom (> 2); ``inf`` is the Gaussian. At equal
        ``sigma`` the result does not depend on it.

    Returns
    -------
    float or ndarray
        One entry per direction (the broadcast shape of the inputs); sum the
        last axis for the total. Evaluated in exact-rounding arithmetic
        (:func:`theory._exact.rational`), so the sign is right even at the
        threshold, where the two terms cancel.

    References
    ----------
    Ghosh et al. (2025), arXiv:2506.12903, Sec. 3 (quadratic analysis).
    """
    eigvals = v.finite(eigvals, "eigvals")
    grad_proj = v.finite(grad_proj, "grad_proj")
    lr = v.positive(lr, "lr")
    sigma, n, dof = _noise_inputs(sigma, n_samples, dof, allow_inf_sigma=True)
    v.broadcast_together(eigvals=eigvals, grad_proj=grad_proj, lr=lr, sigma=sigma, n_samples=n, dof=dof)
    v.require(grad_proj, ~((eigvals == 0) & (grad_proj != 0)), "grad_proj",
              "0 where eigvals is 0 (the gradient of a quadratic has no component in its null space)")
    finite_sigma = np.where(np.isinf(sigma), 0.0, sigma)
    out = rational(lambda lam, g, r, s, ns: r * (ns * g * g * (r * lam - 2) + r * lam**3 * s * s) / (2 * ns),
                   eigvals, grad_proj, lr, finite_sigma, n)
    # infinite noise: +-inf along curved directions, 0 along flat ones (g = 0 there)
    out = np.where(np.isinf(sigma), np.copysign(np.where(eigvals == 0, 0.0, np.inf), eigvals), out)
    return v.scalar_out(v.broadcast(out, dof), eigvals, grad_proj, lr, sigma, n_samples, dof)


def expected_loss(eigvals, mean_proj, lr, steps, sigma=0.0, n_samples=1, *, dof=np.inf, init_var=0.0):
    r"""Expected loss along each eigen-direction after ``steps`` VGD (GD) steps.

    .. math::

        \mathbb E[\ell_t]_i = \frac{\lambda_i}{2}\Big[a_i^{2t}(\mu_{i,0}^2 + v_0)
        + \frac{\eta^2\lambda_i^2\sigma^2}{N_s}\,\frac{1 - a_i^{2t}}{1 - a_i^2}\Big],
        \qquad a_i = 1 - \eta\lambda_i,

    (the last fraction is :math:`t` when :math:`a_i^2 = 1`). It grows without
    bound iff :math:`|a_i| > 1`, i.e. :math:`\lambda_i > 2/\eta` (or
    :math:`\lambda_i < 0`), and otherwise tends to :func:`stationary_loss`.

    Parameters
    ----------
    eigvals, lr, sigma, n_samples, dof
        As in :func:`expected_loss_change`.
    mean_proj : array_like
        :math:`\mu_{i,0} = v_i^\top m_0`, the initial mean along each eigenvector.
    steps : array_like of int
        :math:`t \ge 0`; broadcast against the other inputs (e.g.
        ``steps=np.arange(T + 1)[:, None]`` with ``eigvals`` of shape ``(P,)``).
    init_var : array_like, default 0
        Variance :math:`v_0` of a random initial mean
        (:math:`\mu_{i,0} + \sqrt{v_0}\,\xi`, :math:`\xi\sim\mathcal N(0,1)`).

    Notes
    -----
    :math:`a^{2t}` is formed as :math:`\exp(t\log a^2)` with :math:`\log a^2`
    from ``log1p`` or from an exactly rounded :math:`|1-\eta\lambda|`; the
    relative error is about :math:`(1 + |\log a^{2t}|)` ulp, which is the
    conditioning of a :math:`2t`-th power. Where a factor over- or underflows
    (:math:`a^{2t}`, the geometric sum, :math:`\mu_0^2` or the noise term),
    the two terms are carried as mantissas times powers of two, so the result
    is the value itself, or :math:`\pm\infty` (its limit) beyond the float range.
    """
    eigvals = v.finite(eigvals, "eigvals")
    mean_proj = v.finite(mean_proj, "mean_proj")
    lr = v.positive(lr, "lr")
    steps = v.integer_at_least(steps, "steps", 0)
    init_var = v.nonnegative(init_var, "init_var", allow_inf=False)
    sigma, n, dof = _noise_inputs(sigma, n_samples, dof)
    v.broadcast_together(eigvals=eigvals, mean_proj=mean_proj, lr=lr, steps=steps, sigma=sigma, n_samples=n,
                         dof=dof, init_var=init_var)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        # log a^2 = 2 log|1 - lr*lam| to full relative accuracy on each side of the edge:
        # log1p(-delta) for small delta, log1p(lr*lam - 2) near 2/lr (argument exactly rounded).
        delta = lr * eigvals
        near_one = np.abs(rational(lambda r, lam: 1 - r * lam, lr, eigvals))
        near_edge = rational(lambda r, lam: r * lam - 2, lr, eigvals)
        log_a2 = 2.0 * np.where(delta < 0.5, np.log1p(-delta),
                                np.where(delta > 1.5, np.log1p(near_edge), np.log(near_one)))
        x = steps * log_a2
        power = np.where(steps == 0, 1.0, np.exp(x))
        # sum_{k<t} a^{2k} = expm1(t L) / expm1(L): the same L above and below, limit t at L = 0
        geometric = np.where(log_a2 == 0, steps, np.where(steps == 0, 0.0, np.expm1(x) / np.expm1(log_a2)))
        noise = rational(lambda r, lam, s, ns: r * r * lam * lam * s * s / ns, lr, eigvals, sigma, n)
        start = mean_proj * mean_proj + init_var
        # a zero start or zero noise contributes 0 even where the other factor diverges
        first, second = power * start, noise * geometric
        second_moment = np.where(start == 0, 0.0, first) + np.where(noise == 0, 0.0, second)
        out = 0.5 * eigvals * second_moment
        # Where a factor over- or underflowed (inf/inf, 0*inf, or a lost subnormal), redo in scaled form.
        tiny = np.finfo(np.float64).tiny
        started = (mean_proj != 0) | (init_var > 0)
        noisy = (sigma > 0) & (eigvals != 0) & (steps > 0)
        redo = (eigvals != 0) & (~np.isfinite(out) | (started & (first < tiny)) | (noisy & (second < tiny)))
    if redo.any():
        arrays = np.broadcast_arrays(eigvals, mean_proj, lr, steps, sigma, n, init_var, log_a2, out)
        scaled = _scaled_loss(*(a[redo] for a in arrays[:-1]))
        out = arrays[-1].copy()
        out[redo] = scaled
    out = v.broadcast(np.where(eigvals == 0, 0.0, out), dof)
    return v.scalar_out(out, eigvals, mean_proj, lr, steps, sigma, n_samples, dof, init_var)


def _log2_split(y):
    """``y / ln 2`` as ``(k, f)``, ``k`` integral (as float) and ``f`` in [0, 1); ``-inf``/``inf`` kept in ``k``."""
    z = y / np.log(2.0)
    finite = np.isfinite(z)
    k = np.where(finite, np.floor(np.where(finite, z, 0.0)), z)
    return k, np.where(finite, z - np.where(finite, k, 0.0), 0.0)


def _scaled_loss(lam, mu, lr, steps, sigma, n, v0, log_a2):
    r""":math:`\tfrac12\lambda[a^{2t}(\mu^2 + v_0) + \eta^2\lambda^2\sigma^2/N_s\sum_{k<t}a^{2k}]` in scaled form.

    Each of the two (nonnegative) terms is carried as a mantissa times ``2**E``
    (``E`` a float-valued integer), with :math:`a^{2t} = e^{tL}` and the
    geometric sum as :math:`e^{\log G}`, so nothing over- or underflows before
    the final ``ldexp``; the result is the float nearest the value (``+-inf``
    beyond the float range, its limit).
    """
    with np.errstate(all="ignore"):
        # first term: 0.5 |lam| (mu^2 + v0) e^{tL}
        scale = np.maximum(np.abs(mu), np.sqrt(v0))
        scale = np.where(scale > 0, scale, 1.0)
        _, se = np.frexp(scale)
        start_m = _ldexp(mu, -se) ** 2 + _ldexp(v0, -2 * se)  # start / 2**(2 se), of order one
        lm, le = np.frexp(np.abs(lam))
        kp, fp = _log2_split(np.where(steps == 0, 0.0, steps * log_a2))
        m1 = 0.5 * lm * start_m * np.exp2(fp)
        e1 = le + 2.0 * se + kp
        e1 = np.where(start_m == 0, -np.inf, e1)
        # second term: 0.5 lr^2 |lam|^3 sigma^2 / n * G, G = sum_{k<t} e^{kL} = expm1(tL) / expm1(L)
        omega, expo, zero, _ = mantissa_product([(lr, 2), (np.abs(lam), 3), (np.where(sigma > 0, sigma, 1.0), 2),
                                                 (n, -1)], -1)
        t = steps
        direct = np.where(log_a2 == 0, t, np.expm1(t * log_a2) / np.expm1(log_a2))
        big = (log_a2 > 0) & ~np.isfinite(direct)
        log_big = (np.where(t > 1, (t - 1) * log_a2, 0.0) + np.log1p(-np.exp(-t * log_a2))
                   - np.log1p(-np.exp(-log_a2)))
        log_g = np.where(big, log_big, np.log(direct))
        kg, fg = _log2_split(log_g)
        m2 = omega.hi * np.exp2(fg)
        e2 = expo + kg
        e2 = np.where((sigma == 0) | (t == 0), -np.inf, e2)
        top = np.maximum(e1, e2)
        top = np.where(np.isfinite(top), top, np.where(top > 0, np.inf, 0.0))
        total = (np.where(np.isfinite(e1), m1 * np.exp2(np.clip(e1 - top, -2000, 0)), 0.0)
                 + np.where(np.isfinite(e2), m2 * np.exp2(np.clip(e2 - top, -2000, 0)), 0.0))
        value = np.where(np.isinf(top), np.inf, np.ldexp(total, np.clip(np.where(np.isinf(top), 0, top),
                                                                         -5000, 5000).astype(np.int32)))
    return np.copysign(value, lam)


def _ldexp(x, e):
    """``x * 2**e`` for integer-valued ``e`` in any range (clipped where the result is 0 or inf anyway)."""
    return np.ldexp(x, np.clip(e, -5000, 5000).astype(np.int32))


def stationary_loss(eigvals, lr, sigma, n_samples=1, *, dof=np.inf):
    r"""Limit of the expected loss along an eigenvector as the number of VGD steps grows.

    .. math:: \lim_{t\to\infty}\mathbb E[\ell_t]_i
              = \frac{\eta\lambda_i^2\sigma^2}{2N_s(2-\eta\lambda_i)},
              \qquad 0 \le \lambda_i < 2/\eta,

    the noise floor VGD settles at, independent of the starting point (and of
    ``dof``: ``sigma`` is the standard deviation). It grows without bound as
    :math:`\lambda_i \to 2/\eta`; outside :math:`[0, 2/\eta)` there is no
    stationary value (DomainError).
    """
    eigvals = v.finite(eigvals, "eigvals")
    lr = v.positive(lr, "lr")
    sigma, n, dof = _noise_inputs(sigma, n_samples, dof)
    v.broadcast_together(eigvals=eigvals, lr=lr, sigma=sigma, n_samples=n, dof=dof)
    gap = rational(lambda r, lam: 2 - r * lam, lr, eigvals)
    v.require(eigvals, (eigvals >= 0) & (gap > 0), "eigvals",
              "in [0, 2/lr), where the iteration contracts and a stationary loss exists")
    out = rational(lambda r, lam, s, ns: r * lam * lam * s * s / (2 * ns * (2 - r * lam)), lr, eigvals, sigma, n)
    return v.scalar_out(v.broadcast(out, dof), eigvals, lr, sigma, n_samples, dof)


@dataclass(frozen=True)
class StepAnalysis:
    """One VGD step on a quadratic, direction by direction (see :func:`analyse_step`).

    Attributes
    ----------
    eigvals : ndarray, shape (P,)
        Eigenvalues of Q, ascending.
    eigvecs : ndarray, shape (P, P)
        Orthonormal eigenvectors as columns.
    grad_proj : ndarray, shape (..., P)
        Gradient components :math:`g_i = v_i^\\top Q m`.
    change : ndarray, shape (..., P)
        Expected one-step loss change per direction.
    threshold : ndarray, shape (..., P)
        VGD threshold per direction (``2/lr`` for GD).
    """

    eigvals: np.ndarray
    eigvecs: np.ndarray
    grad_proj: np.ndarray
    change: np.ndarray
    threshold: np.ndarray

    @property
    def total_change(self):
        """Expected change of the loss, summed over directions."""
        return self.change.sum(axis=-1)

    @property
    def descending(self) -> np.ndarray:
        """Directions whose expected loss decreases (eigval below its threshold)."""
        return self.change < 0


def analyse_step(hessian, mean, lr, sigma=0.0, n_samples=1, *, dof=np.inf) -> StepAnalysis:
    r"""Diagonalise Q and evaluate :func:`expected_loss_change` and the VGD thresholds at m.

    Parameters
    ----------
    hessian : array_like, shape (P, P)
        Symmetric Q (symmetric to rounding: ``|Q - Q.T| <= 1e-12 |Q|``).
    mean : array_like, shape (..., P)
        Current mean(s) m; leading axes are a batch.
    lr, sigma, n_samples, dof
        As in :func:`expected_loss_change` (scalars).

    Notes
    -----
    Within a repeated eigenvalue the split between directions depends on the
    basis ``eigh`` returns; the total does not. The total also equals
    :math:`\tfrac12 m^\top(\eta^2Q^3 - 2\eta Q^2)m + \eta^2\sigma^2\operatorname{tr}(Q^3)/(2N_s)`,
    which needs no diagonalisation.
    """
    q = v.finite(hessian, "hessian")
    if q.ndim != 2 or q.shape[0] != q.shape[1] or q.shape[0] == 0:
        raise DomainError(f"hessian must be a square matrix (non-empty); got shape {q.shape}")
    lr, sigma, dof = (v.scalar(x, name) for x, name in ((lr, "lr"), (sigma, "sigma"), (dof, "dof")))
    if np.ndim(n_samples) != 0:
        raise TypeError(f"n_samples must be a scalar, not an array of shape {np.shape(n_samples)}")
    scale = np.abs(q).max(initial=0.0)
    if np.abs(q - q.T).max(initial=0.0) > 1e-12 * scale:
        raise DomainError("hessian must be symmetric (|Q - Q.T| <= 1e-12 max|Q|)")
    m = v.finite(mean, "mean")
    if m.ndim < 1 or m.shape[-1] != q.shape[0]:
        raise DomainError(f"mean must have shape (..., {q.shape[0]}) to match hessian; got {m.shape}")
    eigvals, eigvecs = np.linalg.eigh(0.5 * (q + q.T))
    grad_proj = (m @ q) @ eigvecs
    # Rounding can leave a tiny gradient component on an exactly zero eigenvalue.
    grad_proj = np.where(eigvals == 0, 0.0, grad_proj)
    change = np.asarray(expected_loss_change(eigvals, grad_proj, lr, sigma, n_samples, dof=dof))
    with np.errstate(over="ignore"):
        threshold = np.asarray(vgd_threshold(lr, sigma, grad_proj**2, n_samples, dof=dof))
    return StepAnalysis(eigvals, eigvecs, grad_proj, change, np.broadcast_to(threshold, change.shape))
