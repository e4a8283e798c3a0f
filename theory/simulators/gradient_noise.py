r"""Minibatch SGD gradient noise on synthetic problems: its covariance against theory, its tails, its Gaussianity.

The diffusion theory of SGD (docs: the escape page) replaces the minibatch gradient
by the full-batch gradient plus a noise whose covariance is about
:math:`H/B` near a minimum. This module measures that noise on problems whose
exact gradients, Hessians and per-sample gradient covariances are known.

Problems
--------
:func:`least_squares_problem`: :math:`y = Xw^* + \varepsilon`, rows of
:math:`X` with covariance :math:`\Sigma = \mathrm{diag}(\text{spectrum})`,
:math:`\varepsilon` of variance ``noise``:math:`^2`; loss
:math:`L = \frac1{2N}\sum_i (x_i^\top w - y_i)^2`, :math:`H = X^\top X/N`.
:func:`logistic_problem`: labels :math:`y \sim \mathrm{Bernoulli}(\sigma(x^\top w^*))`,
mean cross-entropy (plus an optional ridge). Features (and the regression
noise) are Gaussian, or Student-t with ``feature_dof`` (``noise_dof``)
degrees of freedom, independent across coordinates and scaled to the stated
variance when dof > 2 (to unit scale when dof <= 2, where the variance is
infinite), so that per-sample gradients can be made heavy-tailed.

Noise covariance: theory
------------------------
Let :math:`g_i` be the per-example gradients at :math:`w`, :math:`g` their
mean and :math:`C = \frac1N\sum_i (g_i - g)(g_i - g)^\top` their covariance
over the data set (divisor :math:`N`: the data set is the population). The
minibatch gradient :math:`g_B` (mean over :math:`B` examples) has
:math:`E g_B = g` and

- with replacement: :math:`\mathrm{Cov}(g_B) = C/B`;
- without replacement: :math:`\mathrm{Cov}(g_B) = \frac{N - B}{B(N - 1)}\,C`,
  the finite-population correction of sampling without replacement
  (Cochran, *Sampling Techniques*, 3rd ed. 1977, Thm 2.2); it vanishes at
  :math:`B = N`.

Both are exact for every :math:`w`. Relation to the Hessian: for a negative
log-likelihood loss at the true parameter the per-sample gradient covariance
is the Fisher information, which equals the population Hessian, so
:math:`C \approx H` and the noise covariance is :math:`\approx H/B`
(Jastrzebski et al. 2017, "Three factors influencing minima in SGD";
Zhu et al. 2019, "The anisotropic noise in stochastic gradient descent";
Xie, Sato, Sugiyama 2021, "A diffusion theory for deep learning dynamics",
Sec. 3). For the squared loss with Gaussian noise of variance
:math:`\sigma^2` the loss is :math:`\sigma^2` times the negative
log-likelihood, so at the minimum :math:`C \approx \sigma^2 H`. Exactly, for
Gaussian features and noise at :math:`w = w^* + \delta` (Isserlis' theorem),

.. math::  C_{\rm pop}(w) = (\sigma^2 + \delta^\top\Sigma\delta)\,\Sigma + \Sigma\delta\delta^\top\Sigma
           = 2L_{\rm pop}(w)\,\Sigma + g_{\rm pop} g_{\rm pop}^\top ,

so away from the minimum :math:`C` gains the isotropic-in-:math:`\Sigma` term
:math:`(\delta^\top\Sigma\delta)\Sigma` from the nonzero mean residual and the
rank-one term :math:`gg^\top` (:meth:`NoiseProblem.population_gradient_covariance`).
At the empirical minimum the fitted residuals are smaller,
:math:`E\,\frac1N|r|^2 = \sigma^2(1 - D/N)`, so :math:`\mathrm{tr}\,C/\mathrm{tr}\,H`
is near :math:`\sigma^2(1 - D/N)`. For logistic regression without a ridge
:math:`H = X^\top\mathrm{diag}(p(1-p))X/N` is the model Fisher at every
:math:`w` and :math:`C \approx H` at :math:`w^*`.

Tails and Gaussianity
---------------------
:func:`noise_tail_index` estimates a tail index by Hill's estimator or by the
estimator of Mohammadi, Mohammadpour and Ogata (2015) used by Simsekli,
Sagun and Gurbuzbalaban (2019, "A tail-index analysis of stochastic gradient
noise"); :func:`gaussianity` tests a one-dimensional projection for normality
(Anderson-Darling, skewness, excess kurtosis); :func:`gaussianity_scan`
scans batch sizes for the onset of Gaussian behaviour. Gaussian features give
per-sample gradients with all moments finite, so the minibatch noise becomes
Gaussian by the central limit theorem: its excess kurtosis is
:math:`\kappa_1/B` with replacement (:math:`\kappa_1` that of one example),
and a sample of ``n_batches`` draws detects it while
:math:`\kappa_1/B \gtrsim 3\sqrt{24/n}`, so the onset moves up slowly with
``n_batches`` (the noise is never exactly Gaussian). Student-t features with
dof :math:`< 2` give infinite-variance gradients: the minibatch mean is then
attracted to an :math:`\alpha`-stable law with :math:`\alpha` = dof and never
becomes Gaussian.

Reproducibility: minibatches are cut into blocks of ``backend.block_size``
(capped so that one block fits a memory budget fixed by the problem's size);
block ``b`` draws from ``theory.rng.derive(seed, b)``; statistics are kept
per block and merged in block order, so ``chunk_batches`` never changes a
number. Problems draw their data from ``derive(seed, "problem")``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import special

from .. import _models
from .. import _validate as v
from ..backend import get_backend
from ..errors import DomainError
from ..hessian_models import LinearLeastSquares, LogisticRegression, LossModel
from ..rng import blocks, derive, seed_sequence
from ..stats import Estimate, Moments

__all__ = ["NoiseProblem", "least_squares_problem", "logistic_problem", "minibatch_noise", "MinibatchNoise",
           "noise_tail_index", "TailIndex", "gaussianity", "GaussianityTest", "gaussianity_scan",
           "GaussianityScan"]

_CHUNK_BYTES = 64 * 2**20


# ----------------------------------------------------------------- problems

@dataclass(frozen=True)
class NoiseProblem:
    r"""A synthetic training problem with exact gradients, Hessian and gradient covariance.

    Attributes
    ----------
    kind : {"least_squares", "logistic"}
    model : theory.hessian_models.LossModel
        The loss on the drawn data (``model.x``, ``model.y``).
    w_star : ndarray, shape (D,)
        The true parameter.
    spectrum : ndarray, shape (D,)
        Diagonal of the feature covariance :math:`\Sigma` (of the scale
        matrix when ``feature_dof`` <= 2).
    noise : float
        Standard deviation of :math:`\varepsilon` (least squares; 0 for logistic).
    feature_dof, noise_dof : float
        Student-t degrees of freedom of the features and of the noise
        (``inf``: Gaussian).
    """

    kind: str
    model: LossModel
    w_star: np.ndarray
    spectrum: np.ndarray
    noise: float
    feature_dof: float
    noise_dof: float
    entropy: int = field(repr=False, default=0)

    @property
    def x(self) -> np.ndarray:
        return self.model.x

    @property
    def y(self) -> np.ndarray:
        return self.model.y

    @property
    def n_data(self) -> int:
        return self.model.n_data

    @property
    def dim(self) -> int:
        return self.model.n_params

    def _w(self, w) -> np.ndarray:
        return _models.as_theta(self.model, w, "w")

    def loss(self, w) -> float:
        return self.model.loss(self._w(w))

    def gradient(self, w) -> np.ndarray:
        """Exact full-batch gradient."""
        return self.model.gradient(self._w(w))

    def hessian(self, w=None) -> np.ndarray:
        """Exact Hessian of the training loss (independent of ``w`` for least squares)."""
        return self.model.hessian(self.w_star if w is None else self._w(w))

    def per_sample_gradients(self, w) -> np.ndarray:
        return self.model.per_sample_gradients(self._w(w))

    def gradient_covariance(self, w) -> np.ndarray:
        r""":math:`C(w) = \frac1N\sum_i (g_i - g)(g_i - g)^\top` over the data set (exact)."""
        return self.model.gradient_covariance(self._w(w))

    def minimum(self) -> np.ndarray:
        """The minimiser of the training loss."""
        return self.model.minimum()

    def population_hessian(self) -> np.ndarray:
        r""":math:`\Sigma` for least squares (needs ``feature_dof`` > 2)."""
        if self.kind != "least_squares":
            raise DomainError("population_hessian is available for kind 'least_squares' only")
        if not self.feature_dof > 2:
            raise DomainError("feature_dof must be > 2 for the features to have a covariance")
        return np.diag(self.spectrum)

    def population_gradient_covariance(self, w) -> np.ndarray:
        r""":math:`C_{\rm pop}(w) = (\sigma^2 + \delta^\top\Sigma\delta)\Sigma + \Sigma\delta\delta^\top\Sigma`,
        :math:`\delta = w - w^*`: the per-example gradient covariance for Gaussian features and noise
        (least squares only)."""
        if self.kind != "least_squares" or np.isfinite(self.feature_dof) or np.isfinite(self.noise_dof):
            raise DomainError("population_gradient_covariance needs kind 'least_squares' with Gaussian features "
                              "and noise (feature_dof = noise_dof = inf)")
        delta = _models.as_theta(self.model, w, "w") - self.w_star
        sd = self.spectrum * delta
        return (self.noise**2 + delta @ sd) * np.diag(self.spectrum) + np.outer(sd, sd)


def _common(n_data, spectrum, w_star, feature_dof, seed):
    n = v.as_int(n_data, "n_data", 2)
    spec = v.positive(spectrum, "spectrum").ravel()
    if spec.size == 0:
        raise DomainError("spectrum must hold at least one eigenvalue")
    fdof = float(v.positive(v.scalar(feature_dof, "feature_dof"), "feature_dof", allow_inf=True))
    root = seed_sequence(seed)
    g = np.random.Generator(np.random.PCG64(derive(root, "problem")))
    if w_star is None:
        w = g.standard_normal(spec.size) / np.sqrt(spec.size)
    else:
        w = v.finite(w_star, "w_star").ravel()
        if w.size != spec.size:
            raise DomainError(f"w_star must have shape ({spec.size},) to match spectrum; got {w.shape}")
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # refused below
        x = _student(g, (n, spec.size), fdof) * np.sqrt(spec)
    if not np.all(np.isfinite(x)):
        raise DomainError(f"feature_dof (here {fdof!r}) and spectrum must give finite features; the Student-t "
                          "draws overflow")
    return n, spec, fdof, root, g, w, x


def _student(g, shape, dof):
    """Standard normal (dof = inf), unit-variance Student-t (dof > 2), unit-scale Student-t (dof <= 2)."""
    if not np.isfinite(dof):
        return g.standard_normal(shape)
    t = g.standard_normal(shape) / np.sqrt(g.standard_gamma(dof / 2.0, shape) / (dof / 2.0))
    return t * np.sqrt((dof - 2.0) / dof) if dof > 2 else t


def least_squares_problem(n_data, spectrum, *, noise=1.0, w_star=None, feature_dof=np.inf, noise_dof=np.inf,
                          seed=0) -> NoiseProblem:
    r"""Draw :math:`y = Xw^* + \varepsilon` with ``n_data`` rows, feature covariance ``diag(spectrum)``.

    ``w_star`` defaults to a seeded :math:`N(0, I/D)` vector; ``noise`` is the
    standard deviation of :math:`\varepsilon` (Student-t with ``noise_dof`` if
    finite, scaled to that standard deviation when dof > 2).
    """
    n, spec, fdof, root, g, w, x = _common(n_data, spectrum, w_star, feature_dof, seed)
    sigma = float(v.nonnegative(v.scalar(noise, "noise"), "noise", allow_inf=False))
    ndof = float(v.positive(v.scalar(noise_dof, "noise_dof"), "noise_dof", allow_inf=True))
    with np.errstate(over="ignore", invalid="ignore"):  # refused below
        y = x @ w + sigma * _student(g, n, ndof)
    if not np.all(np.isfinite(y)):
        raise DomainError(f"noise (here {sigma!r}), spectrum and w_star must keep the targets y = Xw* + noise "
                          "finite; they overflow")
    return NoiseProblem("least_squares", LinearLeastSquares(x, y), w, spec, sigma, fdof, ndof, root.entropy)


def logistic_problem(n_data, spectrum, *, w_star=None, l2=0.0, feature_dof=np.inf, seed=0) -> NoiseProblem:
    r"""Draw features with covariance ``diag(spectrum)``, labels :math:`y \sim \mathrm{Bernoulli}(\sigma(x^\top w^*))`.

    ``l2`` adds :math:`\frac{l2}2|w|^2` to the loss (guarantees a minimum).
    """
    l2 = float(v.nonnegative(v.scalar(l2, "l2"), "l2", allow_inf=False))
    n, spec, fdof, root, g, w, x = _common(n_data, spectrum, w_star, feature_dof, seed)
    y = (g.random(n) < special.expit(x @ w)).astype(np.float64)
    return NoiseProblem("logistic", LogisticRegression(x, y, l2=l2), w, spec, 0.0, fdof, np.inf, root.entropy)


# ----------------------------------------------------------------- minibatch noise

@dataclass(frozen=True)
class MinibatchNoise:
    r"""Result of :func:`minibatch_noise`: the noise :math:`\xi = g_B - g` against its exact covariance.

    Attributes
    ----------
    batch_size, n_batches, n_data : int
    replace : bool
    factor : float
        :math:`1/B` with replacement, :math:`(N - B)/(B(N - 1))` without:
        the exact covariance is ``factor * gradient_covariance``.
    gradient_covariance : ndarray, shape (D, D)
        :math:`C(w)` over the data set.
    theory_covariance : ndarray, shape (D, D)
        ``factor * gradient_covariance``.
    covariance : ndarray, shape (D, D)
        Empirical :math:`\frac1n\sum\xi\xi^\top` (the mean of :math:`\xi` is
        exactly 0, so it is not estimated): unbiased.
    trace : Estimate
        :math:`\mathrm{tr}` of the noise covariance, mean of :math:`|\xi|^2`
        over the independent minibatches with its standard error.
    theory_trace : float
    directions : ndarray, shape (k, D)
        Top eigenvectors of ``theory_covariance`` (rows), fixed before sampling.
    directional_variance : Estimate, shape (k,)
        Mean of :math:`(u_j^\top\xi)^2`: the noise variance along each, with
        standard error.
    theory_directional : ndarray, shape (k,)
        The corresponding eigenvalues of ``theory_covariance``.
    hessian : ndarray, shape (D, D)
        Exact Hessian at ``w``.
    hessian_scale : Estimate
        :math:`\mathrm{tr}\,\widehat{\mathrm{Cov}}/(\text{factor}\cdot\mathrm{tr}\,H)`: the
        constant :math:`c` in :math:`C \approx cH` on the trace, with standard
        error (:math:`\approx\sigma^2` at a least-squares minimum, 1 for a
        likelihood at its true parameter).
    hessian_cosine : float
        :math:`\langle\widehat{\mathrm{Cov}}, H\rangle_F/(\|\widehat{\mathrm{Cov}}\|_F\|H\|_F)`:
        1 when the noise covariance is proportional to :math:`H` (the
        alignment measure of Zhu et al. 2019).
    samples : ndarray, shape (n_batches, D) or None
        The noise draws (``keep_samples``).
    """

    batch_size: int
    n_batches: int
    n_data: int
    replace: bool
    factor: float
    gradient_covariance: np.ndarray
    theory_covariance: np.ndarray
    covariance: np.ndarray
    trace: Estimate
    theory_trace: float
    directions: np.ndarray
    directional_variance: Estimate
    theory_directional: np.ndarray
    hessian: np.ndarray
    hessian_scale: Estimate
    hessian_cosine: float
    samples: np.ndarray | None
    entropy: int
    backend: str

    def trace_z(self) -> float:
        """(trace - theory_trace) / stderr."""
        return float(self.trace.z(self.theory_trace))


def _draw_indices(xb, gen, n_rows, n_data, batch, replace, keys):
    """Indices (n_rows, batch) of one block's minibatches, from the backend's gamma stream only.

    Uniforms are U = exp(-E), E ~ Gamma(1) = Exp(1), uniform on (0, 1]. With
    replacement each index is floor(U N); without, a partial Fisher-Yates
    shuffle (B swaps per row, the j-th with a uniform position in [j, N))
    gives a uniformly random B-subset in random order.
    """
    xp = xb.xp
    xb.fill_gamma(gen, 1.0, keys[:n_rows])
    u = xp.exp(-keys[:n_rows])
    if replace:
        return xp.minimum((u * n_data).astype(xp.int64), n_data - 1)
    perm = xp.empty((n_rows, n_data), dtype=xp.int64)
    perm[...] = xp.arange(n_data)
    rows = xp.arange(n_rows)
    for j in range(min(batch, n_data - 1)):
        r = xp.minimum(j + (u[:, j] * (n_data - j)).astype(xp.int64), n_data - 1)
        a = perm[:, j].copy()
        perm[:, j] = perm[rows, r]
        perm[rows, r] = a
    return perm[:, :batch]


def minibatch_noise(problem: NoiseProblem, w, batch_size, n_batches, *, replace=False, n_directions=3,
                    keep_samples=True, seed=0, backend=None, chunk_batches=None) -> MinibatchNoise:
    r"""Draw ``n_batches`` independent minibatches at ``w`` and compare the noise :math:`g_B - g` with theory.

    Parameters
    ----------
    problem : NoiseProblem or theory.hessian_models.LossModel
        A model of the protocol with ``per_sample_gradients(w)`` (TypeError naming it otherwise); its
        ``hessian(w)``, or without it the Hessian assembled from ``hvp``.
    w : array_like, shape (D,)
    batch_size : int
        :math:`1 \le B \le N` (without replacement), :math:`B \ge 1` with.
    n_batches : int
        Independent minibatches, >= 2.
    replace : bool, default False
        Draw each minibatch's examples with replacement (else a uniformly
        random subset of size B). Minibatches are independent of each other
        either way (not the disjoint batches of one epoch).
    n_directions : int, default 3
        Top eigendirections of the theory covariance along which the noise
        variance is estimated.
    keep_samples : bool, default True
    seed, backend, chunk_batches
        As in the other simulators; ``chunk_batches`` (rounded up to whole
        blocks) does not change the result.

    Returns
    -------
    MinibatchNoise
    """
    xb = get_backend(backend)
    xp = xb.xp
    model = problem.model if isinstance(problem, NoiseProblem) else problem
    _models.require_minimal(model, "problem")
    w = _models.as_theta(model, w, "w")
    grads = _models.per_sample_gradients(model, w, "minibatch_noise")
    n, d = grads.shape
    bsz = v.as_int(batch_size, "batch_size", 1)
    if not replace and bsz > n:
        raise DomainError(f"batch_size must be <= the data set size {n} when sampling without replacement; got {bsz}")
    nb = v.as_int(n_batches, "n_batches", 2)
    k = min(v.as_int(n_directions, "n_directions", 0), d)
    root = seed_sequence(seed)

    g_mean = grads.mean(axis=0)
    dev = grads - g_mean
    cmat = dev.T @ dev / n
    factor = 1.0 / bsz if replace else (n - bsz) / (bsz * (n - 1)) if n > 1 else 0.0
    theory = factor * cmat
    lam, vec = np.linalg.eigh(theory)
    dirs = vec[:, ::-1][:, :k].T.copy()
    theory_dir = lam[::-1][:k].copy()
    hess = _models.dense_hessian(model, w)

    per_batch = 8 * ((n if not replace else 0) + 2 * bsz + bsz * d + 2 * d)
    block = max(1, min(xb.block_size, _CHUNK_BYTES // per_batch))
    all_blocks = list(enumerate(blocks(nb, block)))
    if chunk_batches is None:
        per_chunk = max(1, _CHUNK_BYTES // (per_batch * block))
    else:
        per_chunk = -(-v.as_int(chunk_batches, "chunk_batches", 1) // block)

    g_dev = xb.asarray(grads)
    g_bar = xb.asarray(g_mean)
    u_dev = xb.asarray(dirs)
    stats = None
    cov = np.zeros((d, d))
    samples = np.empty((nb, d)) if keep_samples else None
    keys = xp.empty((block, bsz))
    for c0 in range(0, len(all_blocks), per_chunk):
        group = all_blocks[c0:c0 + per_chunk]
        lo, hi = group[0][1][0], group[-1][1][1]
        idx = xp.empty((hi - lo, bsz), dtype=xp.int64)
        for b, (s, e) in group:
            idx[s - lo:e - lo] = _draw_indices(xb, xb.generator(derive(root, b)), e - s, n, bsz, replace, keys)
        xi = g_dev[idx].sum(axis=1)  # sum over the batch axis, in index order for each minibatch
        xi *= 1.0 / bsz
        xi -= g_bar
        q = xp.concatenate([xp.sum(xi * xi, axis=1)[:, None], xp.sum(xi[:, None, :] * u_dev, axis=2) ** 2], axis=1)
        q, xi_np = xb.to_numpy(q), xb.to_numpy(xi)
        for _, (s, e) in group:  # merge block by block, in block order
            part = Moments.of(q[s - lo:e - lo], axis=0)
            stats = part if stats is None else stats.merge(part)
            blk = xi_np[s - lo:e - lo]
            cov += blk.T @ blk
        if samples is not None:
            samples[lo:hi] = xi_np
    cov /= nb
    est = stats.estimate()
    trace = est[0]
    tr_h = float(np.trace(hess))
    scale_den = factor * tr_h
    if scale_den > 0:
        h_scale = Estimate(trace.value / scale_den, trace.stderr / scale_den, nb)
    else:
        h_scale = Estimate(np.float64(np.nan), np.float64(np.nan), nb)
    norm = np.linalg.norm(cov) * np.linalg.norm(hess)
    cosine = float(np.sum(cov * hess) / norm) if norm > 0 else float("nan")
    return MinibatchNoise(bsz, nb, n, bool(replace), float(factor), cmat, theory, cov, trace,
                          float(np.trace(theory)), dirs, est[1:], theory_dir, hess, h_scale, cosine, samples,
                          root.entropy, xb.name)


# ----------------------------------------------------------------- tails

@dataclass(frozen=True)
class TailIndex:
    r"""A tail-index estimate: :math:`\alpha` with :math:`P(|X| > x) \sim x^{-\alpha}`.

    ``xi`` = :math:`1/\alpha` is what both estimators average (unbiased for an
    exact Pareto tail under Hill, for an exactly stable law under
    Mohammadi's), with standard error ``xi_stderr``; ``alpha_stderr`` is the
    delta-method :math:`\alpha^2\,\mathrm{se}(\xi)`. ``k``: order statistics
    used (Hill) or group size :math:`K_1` (Mohammadi).
    """

    alpha: float
    alpha_stderr: float
    xi: float
    xi_stderr: float
    method: str
    k: int
    n: int

    def xi_estimate(self) -> Estimate:
        return Estimate(np.float64(self.xi), np.float64(self.xi_stderr), self.n)


def noise_tail_index(samples, *, method="hill", k=None, group_size=None) -> TailIndex:
    r"""Tail index of noise samples.

    Parameters
    ----------
    samples : array_like, shape (n,) or (n, D)
        Independent draws (rows). Hill uses :math:`|x|` (rows: Euclidean
        norms); Mohammadi uses the values (rows: every coordinate, averaged
        within a group of rows).
    method : {"hill", "mohammadi"}
        ``"hill"``: Hill (1975), :math:`\hat\xi = \frac1k\sum_{i\le k}\log(X_{(i)}/X_{(k+1)})`
        on the order statistics :math:`X_{(1)} \ge X_{(2)} \ge \dots`, standard
        error :math:`\hat\xi/\sqrt k` (the log-spacings of a Pareto tail are
        i.i.d. exponential). It estimates any tail index, including
        :math:`\alpha > 2`; for a light (e.g. Gaussian) tail the index is
        infinite and :math:`\hat\alpha` is large and grows with :math:`n/k`.
        Its bias depends on the second-order tail behaviour and on ``k``
        (default :math:`\lfloor\sqrt n\rfloor`).
        ``"mohammadi"``: Mohammadi, Mohammadpour and Ogata (2015), as used by
        Simsekli et al. (2019): with :math:`n = K_1K_2`, sums :math:`Y_j` of
        :math:`K_1` consecutive draws,
        :math:`\hat\xi = \frac1{\log K_1}\big(\frac1{K_2}\sum_j\log|Y_j| - \frac1n\sum_i\log|X_i|\big)`.
        For a symmetric :math:`\alpha`-stable law :math:`Y \overset{d}{=} K_1^{1/\alpha}X`, so
        :math:`\hat\xi` is unbiased for :math:`1/\alpha`; for any finite-variance
        law it tends to 1/2 (:math:`\alpha = 2`), so it measures the stable
        index in :math:`(0, 2]`, not tails beyond 2. Standard error from the
        spread of the :math:`K_2` independent group terms. ``group_size``
        :math:`K_1` defaults to :math:`\lfloor\sqrt n\rfloor`. For laws that are
        only in a stable domain of attraction (not exactly stable) it is biased
        at finite :math:`K_1`, since the group sums of :math:`K_1` draws are not
        yet stable: compare it with Hill's estimator there.
    """
    x = v.finite(samples, "samples")
    if x.ndim not in (1, 2) or x.shape[0] < 4:
        raise DomainError(f"samples must have shape (n,) or (n, D) with n >= 4; got {x.shape}")
    n = x.shape[0]
    method = v.choice(method, "method", ("hill", "mohammadi"))
    if method == "hill":
        a = np.abs(x) if x.ndim == 1 else np.linalg.norm(x, axis=1)
        kk = int(np.sqrt(n)) if k is None else v.as_int(k, "k", 2)
        if kk >= n:
            raise DomainError(f"k must be < the number of samples {n}; got {kk}")
        top = -np.sort(-a)[:kk + 1]
        if top[kk] <= 0:
            raise DomainError("samples must have more than k nonzero magnitudes")
        logs = np.log(top[:kk] / top[kk])
        xi = float(logs.mean())
        xi_se = xi / np.sqrt(kk)
        used = kk
    elif method == "mohammadi":
        k1 = int(np.sqrt(n)) if group_size is None else v.as_int(group_size, "group_size", 2)
        k2 = n // k1
        if k1 < 2 or k2 < 2:
            raise DomainError(f"group_size must be in [2, n/2] for n = {n} samples; got {k1}")
        xs = x[:k1 * k2].reshape(k2, k1, -1)
        if np.any(xs == 0):
            raise DomainError("samples must be nonzero for the log-moment estimator")
        ys = xs.sum(axis=1)
        if np.any(ys == 0):
            raise DomainError("group sums must be nonzero for the log-moment estimator")
        terms = (np.log(np.abs(ys)) - np.log(np.abs(xs)).mean(axis=1)).mean(axis=1) / np.log(k1)
        xi = float(terms.mean())
        xi_se = float(terms.std(ddof=1) / np.sqrt(k2))
        used = k1
    else:
        raise DomainError(f"method must be 'hill' or 'mohammadi'; got {method!r}")
    alpha = 1.0 / xi if xi > 0 else float("inf")
    return TailIndex(alpha, alpha * alpha * xi_se if np.isfinite(alpha) else float("nan"), xi, float(xi_se),
                     method, used, n)


# ----------------------------------------------------------------- Gaussianity

@dataclass(frozen=True)
class GaussianityTest:
    r"""Normality of a one-dimensional sample.

    ``anderson_darling`` is :math:`A^2` with mean and variance estimated
    (Stephens' case 3), ``p_value`` from the modified statistic
    :math:`A^{*2} = A^2(1 + 0.75/n + 2.25/n^2)` by D'Agostino and Stephens
    (1986, *Goodness-of-Fit Techniques*, Table 4.9). ``skewness`` and
    ``excess_kurtosis`` (0 for a normal law) carry delete-a-group jackknife
    standard errors over 20 groups (meaningless when the eighth moment is
    infinite: judge heavy tails by the p-value and the tail index).
    """

    n: int
    anderson_darling: float
    p_value: float
    skewness: Estimate
    excess_kurtosis: Estimate

    def gaussian(self, alpha=0.01) -> bool:
        """Normality is not rejected at level ``alpha``."""
        return self.p_value >= alpha


def _ad_p_value(a2, n):
    a = a2 * (1 + 0.75 / n + 2.25 / n**2)
    if a >= 150:  # the fitted formula is < 1e-180 there and turns back up beyond a = 153
        return 0.0
    if a >= 0.6:
        return float(np.exp(1.2937 - 5.709 * a + 0.0186 * a * a))
    if a >= 0.34:
        return float(np.exp(0.9177 - 4.279 * a - 1.38 * a * a))
    if a >= 0.2:
        return float(1 - np.exp(-8.318 + 42.796 * a - 59.938 * a * a))
    return float(1 - np.exp(-13.436 + 101.14 * a - 223.73 * a * a))


def _shape_moments(x):
    c = x - x.mean()
    m2 = np.mean(c * c)
    return np.mean(c**3) / m2**1.5, np.mean(c**4) / m2**2 - 3.0


def gaussianity(samples, direction=None, *, groups=20) -> GaussianityTest:
    """Test a sample (shape (n,), or rows projected on ``direction``) for normality.

    ``direction`` (shape (D,), normalised here) must be chosen independently
    of the samples; for rows it defaults to the normalised all-ones vector.
    """
    x = v.finite(samples, "samples")
    if x.ndim == 2:
        u = np.ones(x.shape[1]) if direction is None else v.finite(direction, "direction").ravel()
        if u.size != x.shape[1] or not np.any(u):
            raise DomainError(f"direction must be a nonzero vector of length {x.shape[1]}")
        x = x @ (u / np.linalg.norm(u))
    elif x.ndim != 1:
        raise DomainError(f"samples must have shape (n,) or (n, D); got {x.shape}")
    n = x.size
    ng = v.as_int(groups, "groups", 2)
    if n < 4 * ng:
        raise DomainError(f"samples must hold at least {4 * ng} draws (4 per jackknife group); got {n}")
    if np.ptp(x) == 0:
        raise DomainError("samples must not all be equal")
    z = np.sort((x - x.mean()) / x.std(ddof=1))
    logcdf = special.log_ndtr(z)
    logsf = special.log_ndtr(-z)
    i = np.arange(1, n + 1)
    a2 = float(-n - np.mean((2 * i - 1) * (logcdf + logsf[::-1])))
    full = np.array(_shape_moments(x))
    parts = np.array_split(np.arange(n), ng)
    loo = np.array([_shape_moments(np.delete(x, p)) for p in parts])
    jack = ng * full - (ng - 1) * loo.mean(axis=0)
    se = np.sqrt((ng - 1) / ng * np.sum((loo - loo.mean(axis=0)) ** 2, axis=0))
    return GaussianityTest(n, a2, _ad_p_value(a2, n), Estimate(np.float64(jack[0]), np.float64(se[0]), n),
                           Estimate(np.float64(jack[1]), np.float64(se[1]), n))


@dataclass(frozen=True)
class GaussianityScan:
    """Result of :func:`gaussianity_scan`.

    ``onset`` is the smallest scanned batch size from which on (that size
    and every larger one scanned) normality is not rejected at level
    ``alpha``; None if the largest is rejected. It depends on ``n_batches``:
    more draws detect smaller departures.
    """

    batch_sizes: np.ndarray
    tests: tuple
    direction: np.ndarray
    alpha: float
    n_batches: int
    onset: int | None

    @property
    def p_values(self) -> np.ndarray:
        return np.array([t.p_value for t in self.tests])

    @property
    def excess_kurtosis(self) -> Estimate:
        return Estimate(np.array([float(t.excess_kurtosis.value) for t in self.tests]),
                        np.array([float(t.excess_kurtosis.stderr) for t in self.tests]), self.n_batches)


def gaussianity_scan(problem, w, batch_sizes, n_batches, *, alpha=0.01, direction=None, replace=False, seed=0,
                     backend=None) -> GaussianityScan:
    r"""Test the minibatch noise along a fixed direction for normality at each batch size.

    ``direction`` defaults to the top eigenvector of :math:`C(w)` (fixed by
    the data set, not by the noise draws). Batch size ``B`` draws from
    ``derive(seed, "scan", B)``.
    """
    model = problem.model if isinstance(problem, NoiseProblem) else problem
    _models.require_minimal(model, "problem")
    w = _models.as_theta(model, w, "w")
    sizes = np.unique(np.array([v.as_int(b, "batch_sizes", 1) for b in np.atleast_1d(batch_sizes)]))
    a = float(v.finite(alpha, "alpha"))
    if not 0 < a < 1:
        raise DomainError(f"alpha must be in (0, 1); got {a!r}")
    if direction is None:
        vals, vecs = np.linalg.eigh(_models.gradient_covariance(model, w, "gaussianity_scan's default direction"))
        u = vecs[:, -1]
    else:
        u = v.finite(direction, "direction").ravel()
        if u.size != model.n_params or not np.any(u):
            raise DomainError(f"direction must be a nonzero vector of length {model.n_params}")
        with np.errstate(over="ignore", under="ignore"):
            norm = np.linalg.norm(u)
        if not (np.isfinite(norm) and norm > 1e-150):  # the norm would over- or underflow: factor out max |u|
            u = u / np.max(np.abs(u))
            norm = np.linalg.norm(u)
        u = u / norm
    root = seed_sequence(seed)
    tests = []
    for b in sizes.tolist():
        res = minibatch_noise(model, w, b, n_batches, replace=replace, n_directions=0, seed=derive(root, "scan", b),
                              backend=backend)
        tests.append(gaussianity(res.samples @ u))
    ok = [t.p_value >= a for t in tests]
    onset = None
    for i in range(len(ok) - 1, -1, -1):
        if not ok[i]:
            break
        onset = int(sizes[i])
    return GaussianityScan(sizes, tuple(tests), u, a, int(n_batches), onset)
