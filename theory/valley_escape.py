r"""SGD escape from a trained minimum across a loss level set: the minibatch noise and the quadratic-valley exponent.

The diffusion theory of escape (Z. Xie, I. Sato, M. Sugiyama, "A Diffusion
Theory for Deep Learning Dynamics: Stochastic Gradient Descent Exponentially
Favors Flat Minima", ICLR 2021) models SGD of learning rate :math:`\eta` and
batch size :math:`B` near a minimum as a diffusion in time :math:`t = k\eta`
with diffusion matrix :math:`D = \tfrac{\eta}{2B} C`, :math:`C` the covariance of
one example's gradient, and assumes :math:`C \approx H`. Here, for any model of
the protocol (:class:`theory.hessian_models.LossModel`) with
``per_sample_gradients``:

- :func:`minibatch_noise_covariance`: the exact :math:`\mathrm{Cov}[\hat g] = C/B`
  for indices drawn with replacement;
- :func:`quadratic_escape_exponent`: the constant :math:`A` of
  :math:`-\log\gamma \simeq A\,B/\eta` for leaving
  :math:`\{\tfrac12\theta^\top H\theta < \Delta\}` in the linearised dynamics
  (Freidlin-Wentzell), with the exact :math:`C` or with :math:`C = H`.

:func:`theory.simulators.minibatch_escape.sgd_escape` is the Monte Carlo twin:
SGD with real minibatches.
"""

from __future__ import annotations

import numpy as np

from . import _models
from . import _validate as v
from .errors import DomainError

__all__ = ["minibatch_noise_covariance", "quadratic_escape_exponent"]


def minibatch_noise_covariance(model, theta, batch_size) -> np.ndarray:
    r"""Exact covariance of the minibatch gradient at ``theta`` for indices drawn with replacement.

    .. math::  \operatorname{Cov}[\hat g] = \frac{C(\theta)}{B}, \qquad
               C(\theta) = \frac1N \sum_{i=1}^N (g_i - \bar g)(g_i - \bar g)^\top,

    with :math:`g_i = \nabla\ell_i(\theta)` and :math:`\bar g` their mean: the
    :math:`B` indices are independent uniform draws, so the minibatch mean has
    :math:`1/B` of the per-draw covariance :math:`C` (population normalisation
    :math:`1/N`). A term common to every example (weight decay) cancels.
    Without replacement within a step the covariance would carry the
    finite-population factor :math:`(N - B)/(N - 1)`.

    The diffusion theory of escape assumes :math:`C \approx H` near a minimum
    (so that :math:`D = \eta C/(2B) \approx \eta H/(2B)`); this gives the exact
    left-hand side to test that. For the squared error,
    :math:`C \approx \overline{r^2}\, G` near a minimum, with :math:`G` the
    Gauss-Newton part of :math:`H` and :math:`\overline{r^2}` the mean squared
    residual (twice the data loss), so :math:`C` is a multiple of :math:`H`
    only roughly, and equals it only when :math:`\overline{r^2} = 1` (the loss
    is then the negative log-likelihood of unit-variance Gaussian noise).

    Parameters
    ----------
    model : LossModel
        Needs ``per_sample_gradients`` (or ``gradient_covariance``); TypeError naming it otherwise.
    theta : array_like, shape (P,)
    batch_size : int
        :math:`B \ge 1`.

    Returns
    -------
    ndarray, shape (P, P)
    """
    _models.require_minimal(model)
    theta = np.array(_models.as_theta(model, theta), dtype=np.float64)
    batch_size = v.as_int(batch_size, "batch_size", 1)
    cov = _models.gradient_covariance(model, theta, "minibatch_noise_covariance")
    return cov * (1.0 / batch_size)


def quadratic_escape_exponent(model, theta, threshold, *, noise: str = "exact") -> float:
    r"""Large-deviation constant :math:`A` of level-set escape in the quadratic (linearised) valley.

    Linearise SGD at the minimum: :math:`d\theta = -H\theta\,dt + \sqrt{2D}\,dW`
    with :math:`D = \tfrac{\eta}{2B} C` (time :math:`t = k\eta`). Its
    stationary covariance is :math:`\tfrac\eta B\Sigma_1` with
    :math:`H\Sigma_1 + \Sigma_1 H = C`, and the cheapest way out of the valley
    :math:`\{\tfrac12\theta^\top H\theta < \Delta\}` (``threshold`` :math:`\Delta`)
    costs, by Freidlin-Wentzell (for a linear system the quasi-potential is the
    exponent of the Gaussian stationary density, whether or not :math:`C`
    commutes with :math:`H`),

    .. math::  -\log\gamma \simeq \frac{B}{\eta}\, A, \qquad
               A = \Delta\,\lambda_{\min}(\Sigma_1^{-1}, H)
               = \min_{\theta^\top H\theta = 2\Delta} \tfrac12\theta^\top\Sigma_1^{-1}\theta ,

    the smallest generalised eigenvalue of the pencil :math:`(\Sigma_1^{-1}, H)`
    times :math:`\Delta`. Hence the predicted slopes
    :math:`\partial(-\log\gamma)/\partial B = A/\eta` and
    :math:`\partial(-\log\gamma)/\partial(1/\eta) = A B`.

    With ``noise="hessian"``, :math:`C = H` (the assumption of Xie, Sato and
    Sugiyama): :math:`\Sigma_1 = I/2` and :math:`A = 2\Delta/\lambda_{\max}(H)`,
    the :math:`s = 1` end of their formula
    :math:`\tfrac{2B\Delta L}{\eta}\big(\tfrac{s}{H_{ae}} + \tfrac{1-s}{|H_{be}|}\big)`.
    With ``noise="exact"``, :math:`C` is the per-example gradient covariance
    of :func:`minibatch_noise_covariance` (times :math:`B`).

    This is the valley's quadratic, Gaussian-noise, small-:math:`\eta` limit;
    the real loss is not quadratic out to :math:`\Delta`, the minibatch noise
    is not Gaussian for small :math:`B`, and the prefactor is not given.

    Parameters
    ----------
    model : LossModel
        The dense Hessian is ``model.hessian`` or, without it, assembled from
        ``hvp``; ``noise="exact"`` needs ``per_sample_gradients``.
    theta : array_like, shape (P,)
        A strict minimum.
    threshold : float
        :math:`\Delta > 0`.
    noise : {"exact", "hessian"}

    Returns
    -------
    float
    """
    from scipy import linalg

    noise = v.choice(noise, "noise", ("exact", "hessian"))
    _models.require_minimal(model)
    theta = np.array(_models.as_theta(model, theta), dtype=np.float64)
    threshold = v.scalar(v.positive(threshold, "threshold"), "threshold")
    hess = _models.dense_hessian(model, theta)
    w = np.linalg.eigvalsh(hess)
    if not w[0] > 0:
        raise DomainError(f"theta must be a strict minimum (positive definite Hessian); smallest eigenvalue {w[0]!r}")
    if noise == "hessian":
        return 2.0 * threshold / float(w[-1])
    cov = minibatch_noise_covariance(model, theta, 1)
    sigma1 = linalg.solve_continuous_lyapunov(hess, cov)
    sigma1 = 0.5 * (sigma1 + sigma1.T)
    # smallest eigenvalue of Sigma1^{-1} relative to H == 1 / largest eigenvalue of H relative to Sigma1^{-1},
    # i.e. 1 / lambda_max(Sigma1 H) computed symmetrically as lambda_max(H^{1/2} Sigma1 H^{1/2})
    wh, vh = np.linalg.eigh(hess)
    root = (vh * np.sqrt(wh)) @ vh.T
    top = float(np.linalg.eigvalsh(root @ sigma1 @ root)[-1])
    return threshold / top
