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
from ._exact import rational
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
    conditioning of a :math:`2t`-th power.
    """
    eigvals = v.finite(eigvals, "eigvals")
    mean_proj = v.finite(mean_proj, "mean_proj")
    lr = v.positive(lr, "lr")
    steps = v.integer_at_least(steps, "steps", 0)
    init_var = v.nonnegative(init_var, "init_var", allow_inf=False)
    sigma, n, dof = _noise_inputs(sigma, n_samples, dof)
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
        second_moment = np.where(start == 0, 0.0, power * start) + np.where(noise == 0, 0.0, noise * geometric)
        out = 0.5 * eigvals * second_moment
    out = v.broadcast(np.where(eigvals == 0, 0.0, out), dof)
    return v.scalar_out(out, eigvals, mean_proj, lr, steps, sigma, n_samples, dof, init_var)


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
    if q.ndim != 2 or q.shape[0] != q.shape[1]:
        raise DomainError(f"hessian must be a square matrix; got shape {q.shape}")
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
