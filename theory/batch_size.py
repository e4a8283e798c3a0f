r"""Random-matrix theory of the minibatch Hessian, and the largest stable learning rate as a function of batch size.

Conventions
-----------
``n_params`` is :math:`P`, ``batch_size`` :math:`B`, ``n_data`` :math:`N`
(``None``: an infinite data set, i.e. batches drawn with replacement or from
the population). The minibatch Hessian is modelled as

.. math:: H_B = H + E(B),

with :math:`H` the full-batch Hessian and :math:`E` a GOE-like symmetric noise
matrix whose entries have variance

.. math::

    v = \sigma^2\Big(\frac1B - \frac1N\Big)\quad(v = \sigma^2/B \text{ when } N = \infty)

off the diagonal and :math:`2v` on it. ``noise_scale`` :math:`\sigma` is the
standard deviation of one element of a per-sample Hessian; the factor
:math:`1/B - 1/N` is the exact variance of a mean of :math:`B` draws without
replacement from :math:`N` values whose variance is defined with divisor
:math:`N - 1` (finite-population correction). Everything depends on the noise
only through the *noise strength*

.. math:: s = \sqrt{P v} = \sigma\sqrt{P\,(1/B - 1/N)},

the bulk of :math:`E` being a semicircle on :math:`[-2s, 2s]`. :math:`H` is
finite rank: its nonzero eigenvalues (``eigenvalues``, the "spikes"
:math:`\lambda_i`) are few compared with :math:`P`, the rest are 0. (Adding
:math:`cI` to :math:`H` shifts every result by :math:`c`.)

Results (additive spiked Wigner / BBP)
--------------------------------------
As :math:`P\to\infty` with :math:`s` fixed, a spike :math:`\lambda` of
:math:`H` with :math:`|\lambda| > s` produces an eigenvalue of :math:`H_B` at

.. math:: \lambda' = \lambda + \frac{s^2}{\lambda} = \lambda + \frac{P}{B}\frac{\sigma^2}{\lambda}
          \quad(N=\infty),

and one with :math:`|\lambda| \le s` is absorbed by the bulk, whose top edge is
:math:`2s = 2\sigma\sqrt{P/B}`. Hence
:math:`\lambda_{\max}(H_B) = \max(2s, \max_i \lambda_i')`, always at least
:math:`\lambda_{\max}(H)`: minibatching makes the landscape look sharper.
Finite-:math:`P` corrections: the bulk edge fluctuates on the scale
:math:`\sqrt v P^{-1/6}` with a Tracy-Widom (GOE) law whose mean
:math:`\approx -1.2065` makes :math:`E[\lambda_{\max}]` fall short of
:math:`2s` by a relative :math:`0.60\,P^{-2/3}` (``finite_size=True`` adds it);
an outlier is Gaussian with standard deviation
:math:`\sqrt{2v(1 - s^2/\lambda^2)} = O(P^{-1/2})` and an :math:`O(1/P)` bias.

Sources
-------
D. Granziol, S. Zohren and S. Roberts, *Learning Rates as a Function of Batch
Size: A Random Matrix Theory Approach to Neural Network Training*, JMLR
23(173):1-65, 2022 (arXiv:2006.09092): the extremal eigenvalues of the batch
Hessian exceed those of the empirical Hessian (spiked, field-dependent
random-matrix theory), and the maximal learning rate scales linearly in
:math:`B` for SGD and as a square root for adaptive methods such as Adam (for
small learning rate and small damping). The paper's noise variance is
field-dependent (direction-dependent); the formulas here are the standard
large-:math:`P` results for the homogeneous model written above, a
finite-rank deformation of a GOE matrix (M. Capitaine, C. Donati-Martin and
D. Feral, Ann. Probab. 37 (2009), also for the Gaussian outlier fluctuations;
S. Peche, PTRF 134 (2006) for the complex case), and are checked against
simulation (:mod:`theory.simulators.batch_hessian`).

Which noise model applies when
------------------------------
For least squares, per-sample Hessians are :math:`x x^\top` and
:math:`H_B = X_B^\top X_B/B` is a Wishart matrix: the exact large-:math:`P`
spectrum is Marchenko-Pastur with ratio :math:`P/B` (:func:`least_squares_batch_top_eigenvalue`,
``model="mp"``), top edge :math:`c(1+\sqrt{P/B})^2` for features of variance
:math:`c`. The Wigner model with :math:`H = cI`, :math:`\sigma = c` gives
:math:`c(1 + 2\sqrt{P/B})` (``model="wigner"``): the same to first order in
:math:`\sqrt{P/B}`, short by :math:`cP/B`. So the Wigner picture is accurate
for :math:`B \gg P` and badly off for :math:`B \lesssim P`, where the noise
is not a small additive perturbation.

Learning rates
--------------
GD on the minibatch quadratic is stable iff :math:`\mathrm{lr} < 2/\lambda_{\max}(H_B)`
(:func:`max_stable_lr`). In the homogeneous spiked-Wigner model this ratio
changes by at most a factor 2 while the top spike is an outlier
(:math:`\lambda \le \lambda' \le 2\lambda`), and grows like
:math:`\sqrt B` once it is absorbed (:math:`\lambda_{\max} = 2s\propto B^{-1/2}`);
the expression :math:`2B\lambda/(B\lambda^2 + P\sigma^2)`, linear in :math:`B`
for small :math:`B`, is the outlier formula continued outside its domain
(:math:`\lambda < s`). In the Marchenko-Pastur (least-squares) model the bound
:math:`2/(c(1+\sqrt{P/B})^2)` *is* linear in :math:`B` for :math:`B \ll P`
and saturates at :math:`2/c` for :math:`B \gg P`. :func:`lr_batch_scaling`
gives the two rules of thumb the paper states (linear for SGD, square root
for Adam).
"""

from __future__ import annotations

import numpy as np

from . import _validate as v
from ._batch_noise import batch_and_data, noise_inputs, scaled_noise
from .errors import DomainError

__all__ = [
    "TW1_MEAN",
    "TW1_VARIANCE",
    "noise_strength",
    "batch_hessian_noise_edge",
    "batch_hessian_outlier",
    "batch_hessian_top_eigenvalue",
    "max_stable_lr",
    "lr_batch_scaling",
    "least_squares_batch_top_eigenvalue",
]

#: Mean and variance of the GOE Tracy-Widom law F_1 (F. Bornemann, Markov
#: Processes Relat. Fields 16 (2010), 803-866).
TW1_MEAN = -1.2065335745820
TW1_VARIANCE = 1.6077810345810


def noise_strength(batch_size, n_params, noise_scale, n_data=None):
    r"""Noise strength :math:`s = \sigma\sqrt{P(1/B - 1/N)}` (:math:`\sigma\sqrt{P/B}` when ``n_data`` is None).

    Half the width of the semicircle bulk of the batch noise :math:`E(B)`,
    and the BBP threshold: a spike :math:`\lambda > s` of :math:`H` stays
    outside the bulk of :math:`H_B`.

    Parameters
    ----------
    batch_size : array_like
        :math:`B \ge 1` (need not be an integer; ``inf`` allowed when
        ``n_data`` is None, giving 0).
    n_params : array_like
        :math:`P`, an integer :math:`\ge 1`.
    noise_scale : array_like
        :math:`\sigma > 0`, the standard deviation of one element of a
        per-sample Hessian.
    n_data : array_like or None
        :math:`N \ge B`, an integer; ``None`` for sampling with replacement
        (or an infinite data set). :math:`B = N` gives 0.

    Returns
    -------
    float or ndarray
        All arguments broadcast.
    """
    b, n, p, sigma, var = noise_inputs(batch_size, n_params, noise_scale, n_data)
    return v.scalar_out(scaled_noise(b, n, sigma, var, sqrt_of=p), batch_size, n_params, noise_scale,
                        0.0 if n_data is None else n_data)


def batch_hessian_noise_edge(batch_size, n_params, noise_scale, n_data=None, *, finite_size: bool = False):
    r"""Top edge of the batch-noise bulk, :math:`2s = 2\sigma\sqrt{P(1/B - 1/N)}`.

    The largest eigenvalue of :math:`H_B` when no spike of :math:`H` exceeds
    :math:`s` (semicircle law of a Wigner matrix with entry variance
    :math:`v = s^2/P`).

    Parameters
    ----------
    batch_size, n_params, noise_scale, n_data
        As in :func:`noise_strength`; broadcast.
    finite_size : bool
        Return instead the mean of the largest eigenvalue of the pure noise
        matrix at finite :math:`P`,

        .. math:: \sqrt v\,\big(2\sqrt{P - 1/2} + (P - 1/2)^{-1/6}\,E[\mathrm{TW}_1]\big),

        :math:`E[\mathrm{TW}_1] = -1.2065...` (:data:`TW1_MEAN`). Relative to
        :math:`2s` this is :math:`1 - 0.603P^{-2/3} + O(P^{-1})`. The shift
        :math:`P \to P - 1/2` is the centering for which Johnstone and Ma
        (Ann. Appl. Probab. 22 (2012)) prove an :math:`O(P^{-2/3})` rate to the
        Tracy-Widom limit (our reading of their constants); against GOE
        simulation (4000 matrices each) it leaves :math:`|z| \le 1.2` at
        :math:`P = 50, 100, 200`, whereas centering at :math:`2\sqrt P` is off
        by 4-8 standard errors. Needs :math:`P \ge 2`.

    Returns
    -------
    float or ndarray
    """
    finite_size = v.flag(finite_size, "finite_size")
    b, n, p, sigma, var = noise_inputs(batch_size, n_params, noise_scale, n_data)
    if finite_size:
        v.require(p, p >= 2, "n_params", ">= 2 for finite_size=True")
        pm = p - 0.5
        out = scaled_noise(b, n, sigma, var, 2.0 * np.sqrt(pm) + pm ** (-1.0 / 6.0) * TW1_MEAN)
    else:
        out = 2.0 * scaled_noise(b, n, sigma, var, sqrt_of=p)
    return v.scalar_out(out, batch_size, n_params, noise_scale, 0.0 if n_data is None else n_data)


def _outlier(lam, s):
    """lam + s^2/lam where |lam| > s, else the edge on lam's side (+2s for lam >= 0, -2s for lam < 0)."""
    out_side = np.abs(lam) > s
    safe = np.where(out_side, lam, 1.0)
    with np.errstate(over="ignore"):
        shifted = safe + (s / safe) * s
    edge = np.where(lam < 0, -2.0 * s, 2.0 * s)
    return np.where(out_side, shifted, edge)


def batch_hessian_outlier(lam, batch_size, n_params, noise_scale, n_data=None):
    r"""Where a Hessian eigenvalue :math:`\lambda` lands in the spectrum of the minibatch Hessian :math:`H_B`.

    .. math::

        \lambda' = \begin{cases}
            \lambda + s^2/\lambda, & |\lambda| > s,\\
            2s\,\mathrm{sign}(\lambda) \text{ (the bulk edge; } +2s \text{ at } \lambda = 0), & |\lambda| \le s,
        \end{cases}
        \qquad s^2 = \sigma^2 P\Big(\frac1B - \frac1N\Big),

    i.e. :math:`\lambda + (P/B)\sigma^2/\lambda` above the threshold
    :math:`\sigma\sqrt{P/B}` for :math:`N = \infty`. Large-:math:`P` limit of the
    additive spiked Wigner model (BBP transition; see the module docstring for
    the finite-:math:`P` fluctuation and the sources). Negative spikes below
    :math:`-s` give negative outliers symmetrically.

    Parameters
    ----------
    lam : array_like
        Eigenvalue(s) :math:`\lambda` of :math:`H` (finite, any sign).
    batch_size, n_params, noise_scale, n_data
        As in :func:`noise_strength`. All arguments broadcast.

    Returns
    -------
    float or ndarray

    Notes
    -----
    Limits: :math:`B = N` (``n_data`` given) or :math:`B = \infty` gives
    :math:`s = 0` and :math:`\lambda' = \lambda`; :math:`\lambda' \ge \lambda` for
    :math:`\lambda > 0`, with :math:`\lambda' \le 2\lambda` (equality at the
    threshold, where it meets the edge :math:`2s` continuously).
    """
    lam_ = v.finite(lam, "lam")
    b, n, p, sigma, var = noise_inputs(batch_size, n_params, noise_scale, n_data)
    v.broadcast_together(lam=lam_, batch_size=b, n_params=p, noise_scale=sigma, n_data=0.0 if n is None else n)
    s = scaled_noise(b, n, sigma, var, sqrt_of=p)
    return v.scalar_out(_outlier(lam_, s), lam, batch_size, n_params, noise_scale,
                        0.0 if n_data is None else n_data)


def batch_hessian_top_eigenvalue(eigenvalues, batch_size, n_params, noise_scale, n_data=None):
    r"""Largest eigenvalue of the minibatch Hessian, :math:`\max\big(2s, \max_i \lambda_i'\big)`.

    Parameters
    ----------
    eigenvalues : array_like, shape (..., k)
        The nonzero eigenvalues (spikes) of :math:`H` along the last axis, a
        scalar being one spike; the other :math:`P - k` eigenvalues are 0.
        :math:`k \le P`; the formula is the large-:math:`P` limit at fixed
        :math:`k`.
    batch_size, n_params, noise_scale, n_data
        As in :func:`noise_strength`; broadcast against ``eigenvalues.shape[:-1]``.

    Returns
    -------
    float or ndarray
        Shape ``broadcast(eigenvalues.shape[:-1], batch_size.shape, ...)``.
    """
    raw = np.asarray(eigenvalues)
    lam = v.finite(eigenvalues, "eigenvalues")
    if lam.ndim == 0:
        lam = lam[None]
    v.nonempty(lam, "eigenvalues")
    b, n, p, sigma, var = noise_inputs(batch_size, n_params, noise_scale, n_data)
    v.broadcast_together(eigenvalues_leading_axes=lam[..., 0], batch_size=b, n_params=p, noise_scale=sigma,
                         n_data=0.0 if n is None else n)
    if np.any(lam.shape[-1] > p):
        raise DomainError(f"eigenvalues must hold at most n_params spikes along the last axis; got "
                          f"{lam.shape[-1]} with n_params {float(np.min(p))!r}")
    s = scaled_noise(b, n, sigma, var, sqrt_of=p)
    top = np.max(_outlier(lam, s[..., None]), axis=-1)
    out = np.maximum(top, 2.0 * s)
    return v.scalar_out(out, raw[..., 0] if raw.ndim else raw, batch_size, n_params, noise_scale,
                        0.0 if n_data is None else n_data)


def max_stable_lr(eigenvalues, batch_size, n_params, noise_scale, n_data=None):
    r"""Largest stable GD learning rate on the minibatch quadratic, :math:`2/\lambda_{\max}(H_B)`.

    A step :math:`\theta_+ = \theta - \mathrm{lr}\,H_B\theta` contracts every
    direction iff :math:`\mathrm{lr} < 2/\lambda_{\max}(H_B)`, with
    :math:`\lambda_{\max}(H_B)` from :func:`batch_hessian_top_eigenvalue`. The
    paper's argument for the batch-size dependence of the maximal learning
    rate; see the module docstring for how it scales in each regime.
    ``inf`` when :math:`\lambda_{\max}(H_B) \le 0` (no noise and no positive
    spike).
    """
    top = np.asarray(batch_hessian_top_eigenvalue(eigenvalues, batch_size, n_params, noise_scale, n_data))
    with np.errstate(divide="ignore"):
        out = np.where(top > 0, 2.0 / np.where(top > 0, top, 1.0), np.inf)
    return float(out) if out.ndim == 0 else out


def lr_batch_scaling(batch_size, ref_batch_size, ref_lr=1.0, optimizer: str = "sgd"):
    r"""The batch-size scaling rules for the learning rate: linear for SGD, square root for Adam.

    .. math::

        \mathrm{lr}(B) = \mathrm{lr}_0\,\frac{B}{B_0}\ \ (\text{SGD}),\qquad
        \mathrm{lr}(B) = \mathrm{lr}_0\,\sqrt{\frac{B}{B_0}}\ \ (\text{Adam and other adaptive methods}).

    The two rules of Granziol, Zohren and Roberts (JMLR 23(173), 2022;
    arXiv:2006.09092) for the regime where the minibatch noise dominates the
    curvature (for Adam: small learning rate and small damping). Both are
    asymptotic and stop holding once :math:`B` is large enough for the
    full-batch curvature to dominate (for SGD, :func:`max_stable_lr` and the
    Marchenko-Pastur bound :math:`2/(c(1+\sqrt{P/B})^2)` show the saturation).

    Parameters
    ----------
    batch_size : array_like
        :math:`B \ge 1`, finite.
    ref_batch_size : array_like
        :math:`B_0 \ge 1`, finite: the batch size at which ``ref_lr`` was tuned.
    ref_lr : array_like
        :math:`\mathrm{lr}_0 > 0`, finite.
    optimizer : {"sgd", "adam"}

    Returns
    -------
    float or ndarray
    """
    v.choice(optimizer, "optimizer", ("sgd", "adam"))
    b = v.as_float(batch_size, "batch_size")
    v.require(b, (b >= 1) & np.isfinite(b), "batch_size", "finite and >= 1")
    b0 = v.as_float(ref_batch_size, "ref_batch_size")
    v.require(b0, (b0 >= 1) & np.isfinite(b0), "ref_batch_size", "finite and >= 1")
    lr0 = v.positive(ref_lr, "ref_lr")
    v.broadcast_together(batch_size=b, ref_batch_size=b0, ref_lr=lr0)
    ratio = b / b0
    out = lr0 * (ratio if optimizer == "sgd" else np.sqrt(ratio))
    return v.scalar_out(out, batch_size, ref_batch_size, ref_lr)


def least_squares_batch_top_eigenvalue(batch_size, n_params, scale=1.0, *, model: str = "mp",
                                       finite_size: bool = False):
    r"""Largest eigenvalue of a least-squares minibatch Hessian :math:`H_B = X_B^\top X_B / B`, isotropic features.

    Rows of :math:`X_B` i.i.d. :math:`\mathcal N(0, cI_P)` (``scale`` :math:`= c`, the
    population Hessian being :math:`cI`).

    - ``model="mp"`` (exact as :math:`P, B\to\infty`): the Marchenko-Pastur edge
      for ratio :math:`q = P/B`, :math:`c(1+\sqrt{P/B})^2`. With
      ``finite_size=True``: the finite-:math:`(B, P)` mean
      :math:`c\,(\mu + \sigma_{\rm TW} E[\mathrm{TW}_1])/B`,
      :math:`\mu = (\sqrt{B-\tfrac12}+\sqrt{P-\tfrac12})^2`,
      :math:`\sigma_{\rm TW} = (\sqrt{B-\tfrac12}+\sqrt{P-\tfrac12})
      \big((B-\tfrac12)^{-1/2}+(P-\tfrac12)^{-1/2}\big)^{1/3}`
      (Johnstone, Ann. Stat. 29 (2001) with the half-integer shifts of
      Z. Ma, Bernoulli 18 (2012), which are symmetric in :math:`B` and
      :math:`P`); against simulation (3000 matrices each, :math:`(B, P)` =
      (400, 100), (100, 400), (800, 100), (50, 200), (100, 25)) it leaves
      :math:`|z| \le 1.1`. Needs :math:`B, P \ge 2`.
    - ``model="wigner"``: the additive-Wigner approximation, :math:`H = cI`
      plus GOE noise with per-sample element scale :math:`\sigma = c` (the
      off-diagonal standard deviation of :math:`x x^\top`):
      :math:`c(1 + 2\sqrt{P/B})`. Agrees with ``"mp"`` to first order in
      :math:`\sqrt{P/B}`; misses :math:`cP/B`.

    The rows need not be independent of a finite data set: a minibatch drawn
    without replacement from i.i.d. Gaussian rows is again i.i.d. Gaussian, so
    this is the law of the minibatch Hessian around the *population* Hessian
    for any :math:`N \ge B`. (The ``n_data`` factor of the Wigner functions
    concerns the deviation from the *empirical* Hessian :math:`X^\top X/N`.)

    Parameters
    ----------
    batch_size : array_like
        :math:`B \ge 1` (finite).
    n_params : array_like
        :math:`P \ge 1`, integer.
    scale : array_like
        Feature variance :math:`c > 0`: the scale of the Hessian's eigenvalue law
        (its eigenvalues are :math:`c` times those at unit variance).

    Returns
    -------
    float or ndarray
    """
    v.choice(model, "model", ("mp", "wigner"))
    finite_size = v.flag(finite_size, "finite_size")
    b, _ = batch_and_data(batch_size, None, allow_inf=False)
    p = v.integer_at_least(n_params, "n_params", 1)
    c = v.positive(scale, "scale")
    v.broadcast_together(batch_size=b, n_params=p, scale=c)
    if model == "wigner":
        if finite_size:
            raise DomainError("finite_size=True is available for model='mp' only")
        out = c * (1.0 + 2.0 * np.sqrt(p / b))
    elif finite_size:
        v.require(b, b >= 2, "batch_size", ">= 2 for finite_size=True")
        v.require(p, p >= 2, "n_params", ">= 2 for finite_size=True")
        rb, rp = np.sqrt(b - 0.5), np.sqrt(p - 0.5)
        mu = (rb + rp) ** 2
        sd = (rb + rp) * (1.0 / rb + 1.0 / rp) ** (1.0 / 3.0)
        out = c * (mu + sd * TW1_MEAN) / b
    else:
        out = c * (1.0 + np.sqrt(p / b)) ** 2
    return v.scalar_out(out, batch_size, n_params, scale)
