r"""Checks of the random-matrix theory of the Hessian (``spectra.*``).

Eigenvalues of one matrix are not independent (they repel, and a sample
spectrum is far more regular than a Poisson scatter), so every statistic is
computed per matrix and its standard error taken across independent matrices.
The Marchenko-Pastur law is the limit :math:`N, P \to \infty`; at finite size a
linear spectral statistic :math:`\frac1P\sum_i f(\lambda_i)` of a real Wishart
matrix has mean :math:`\int f\,d\mu_{MP} + c_f/P + O(P^{-2})` (the
:math:`1/P` term is nonzero for real matrices, :math:`\beta = 1`), and an
outlier eigenvalue has a bias of order :math:`1/N`. Rather than hoping that
this bias is small against the standard error, the checks remove it: each
statistic is estimated at size :math:`P` and :math:`2P` (same ratio) and
extrapolated, :math:`2\bar m_{2P} - \bar m_P`, with the standard error of that
combination; what remains is :math:`O(P^{-2})`, far below it. An outlier's
mean is taken with the quadratic form along its spike direction as a control
variate (exact mean, most of the outlier's variance). Tracy-Widom edge
statistics (the bulk's top eigenvalue) do not have a :math:`1/P` expansion and
are compared with the finite-size centring of Johnstone (2001) and Ma (2012)
instead.
"""

from __future__ import annotations

import numpy as np

from dataclasses import dataclass

from .. import batch_size, curvature, digits, marchenko_pastur as mp
from ..simulators import least_squares_problem, minibatch_noise, sample_wishart_eigenvalues
from ..simulators.batch_hessian import simulate_least_squares_batch_top
from ..simulators.training import GD, train
from ..stats import Estimate, Moments, control_variate
from .core import Comparison, register

SOURCE = "Marchenko and Pastur (1967); Baik, Ben Arous and Peche (2005); Paul (2007); Bai and Silverstein (2010), Ch. 3"

CONFIG = {
    # Wishart sizes: (P, N) and (2P, 2N); matrices per size
    "cdf": {"cases": ((0.5, 2.0, 200), (2.5, 1.0, 250)), "probabilities": (0.1, 0.3, 0.5, 0.7, 0.9),
            "n_matrices": 200},
    "neff": {"ratio": 0.5, "scale": 2.0, "n_params": 200, "alphas": (0.03, 0.3, 3.0), "n_matrices": 200},
        # one spike per matrix; P = 50 and 100, the outliers' means with control variates
    "spikes": {"ratio": 0.5, "n_params": 50, "spikes": (3.0, 5.0), "additive": 2.0, "n_matrices": 3000},
    # minibatch noise on least squares: per-example gradient covariance C, noise (N-B)/(B(N-1)) C
    "noise": {"n_data": 2000, "spectrum": (4.0, 2.0, 1.0, 0.5, 0.25, 0.125), "noise": 0.7,
              "batch_sizes": (4, 32, 256), "n_batches": 160_000, "n_datasets": 900},
    # top eigenvalue of a least-squares minibatch Hessian X_B^T X_B / B
    "batch": {"n_params": 100, "batch_sizes": (50, 400), "n_data": 10_000, "n_matrices": 300},
    # the trained digits network: Lanczos top-k (2 per class), SLQ probes and steps
    "outliers": {"top_k": 20, "n_probes": 40, "n_steps": 80},
    # minibatch noise at the trained digits minimum: batch sizes, minibatches each, C's top directions
    "digits_noise": {"batch_sizes": (10, 100), "n_batches": 120_000, "n_directions": 3, "n_hessian": 10},
}
# the trained minimum of theory.digits.digits_network: GD from the seeded start
DIGITS = {"n_data": 1000, "hidden": 32, "loss": "mse", "seed": 0, "lr": 0.05, "n_steps": 3000}


def _extrapolated(ctx, key, ratio, n_params, n_matrices, statistic, *, controlled=False, **kw) -> Estimate:
    """``2 m(2P) - m(P)`` of a per-matrix statistic, with its standard error across matrices.

    ``controlled``: each mean is taken with the matrices' quadratic forms along
    the spike directions as control variates (exact means; WishartSample.forms).
    """
    parts = []
    for k, p in enumerate((n_params, 2 * n_params)):
        n = int(round(p / ratio))
        sample = sample_wishart_eigenvalues(n, p, n_matrices, seed=ctx.child(key, k), backend=ctx.backend, **kw)
        y = np.asarray(statistic(sample))
        if controlled:  # the form along the (one) spike direction, as a column when y holds several statistics
            form = sample.forms[:, 0] if y.ndim == 1 else sample.forms[:, :1]
            parts.append(control_variate(y, form, sample.form_means[0]))
        else:
            parts.append(Moments.of(y, axis=0).estimate())
    small, large = parts
    return Estimate(2 * large.value - small.value, np.hypot(2 * large.stderr, small.stderr), n_matrices)


def _rows(label, formula, estimate, note=""):
    value, err = np.atleast_1d(estimate.value), np.atleast_1d(estimate.stderr)
    return [Comparison(lab, float(f), float(e), float(s), note=note)
            for lab, f, e, s in zip(label, np.atleast_1d(formula), value, err)]


@register("spectra.mp_cdf", stream="mp.cdf", title="Wishart spectra vs the Marchenko-Pastur cdf at its deciles, finite-P bias extrapolated",
          formula="theory.marchenko_pastur.MarchenkoPastur.cdf",
          simulator="sample_wishart_eigenvalues (sizes P and 2P)", quick=False, source=SOURCE,
          tests=("theory.marchenko_pastur.MarchenkoPastur.cdf",), mutation=0.01)
def mp_cdf(ctx):
    c = CONFIG["cdf"]
    rows = []
    for ratio, scale, p in c["cases"]:
        law = mp.MarchenkoPastur(ratio, scale)
        # points at probabilities of the continuous part, so each sits inside the bulk
        probs = law.atom + (1 - law.atom) * np.asarray(c["probabilities"])
        x = law.ppf(probs)
        est = _extrapolated(ctx, f"cdf q={ratio:g}", ratio, p, c["n_matrices"],
                            lambda s: (s.eigenvalues[:, :, None] <= x).mean(axis=1), scale=scale)
        labels = [f"q={ratio:g}, F({xi:.4g})" for xi in x]
        rows += _rows(labels, law.cdf(x), est, note=f"P={p}, {2 * p}; atom {law.atom:.3g} included")
    return rows


@register("spectra.effective_number", stream="mp.effective_number", title="N_eff(alpha) = P(1 - alpha m(-alpha)) vs eigenvalue sums of Wishart samples",
          formula="theory.marchenko_pastur.mp_effective_number",
          simulator="sample_wishart_eigenvalues, theory.sharpness.effective_number", source=SOURCE,
          tests=("theory.marchenko_pastur.mp_effective_number",), mutation=0.01)
def mp_effective_number(ctx):
    from ..sharpness import effective_number

    c = CONFIG["neff"]
    alphas = np.asarray(c["alphas"])
    est = _extrapolated(ctx, "neff", c["ratio"], c["n_params"], c["n_matrices"],
                        lambda s: effective_number(s.eigenvalues[:, None, :], alphas) / s.n_params,
                        scale=c["scale"])
    formula = mp.mp_effective_number(alphas, c["ratio"], 1, c["scale"])
    return _rows([f"N_eff/P at alpha={a:g}" for a in alphas], formula, est,
                 note=f"q={c['ratio']:g}, s2={c['scale']:g}")


@register("spectra.spikes", stream="mp.spikes", title="Outliers of spiked Wishart matrices: BBP location and eigenvector overlap; additive spike",
          formula="theory.marchenko_pastur.spike_eigenvalue, spike_overlap, additive_spike_eigenvalue",
          simulator="sample_wishart_eigenvalues(spikes=..., additive_spikes=...)", quick=False, source=SOURCE,
          tests=("theory.marchenko_pastur.spike_eigenvalue", "theory.marchenko_pastur.spike_overlap",
                 "theory.marchenko_pastur.additive_spike_eigenvalue"), mutation=(0.01, 0.01, 0.01))
def mp_spikes(ctx):
    r"""One spike per matrix (two spikes in one matrix interact at order :math:`1/N`), the outlier's mean
    taken with the quadratic form :math:`v^\top W v` (exact mean :math:`\ell`, or :math:`1 + \theta`) as a
    control variate: it carries most of the outlier's fluctuation (the fraction
    :math:`1 - q/(\ell - 1)^2` of its variance, Paul 2007, Thm. 3)."""
    c = CONFIG["spikes"]
    q, p, m = c["ratio"], c["n_params"], c["n_matrices"]
    rows = []
    for ell in c["spikes"]:
        est = _extrapolated(ctx, f"bbp {ell:g}", q, p, m,
                            lambda s: np.stack([s.eigenvalues[:, -1], s.overlaps[:, 0, 0]], axis=1),
                            controlled=True, spikes=[ell])
        rows += _rows([f"top eigenvalue, spike {ell:g}"], mp.spike_eigenvalue(ell, q), est[:1],
                      note=f"q={q:g}, threshold {float(mp.bbp_threshold(q)):.4g}")
        rows += _rows([f"squared overlap, spike {ell:g}"], mp.spike_overlap(ell, q), est[1:])
    theta = c["additive"]
    add = _extrapolated(ctx, "additive", q, p, m, lambda s: s.eigenvalues[:, -1], controlled=True,
                        additive_spikes=[theta])
    rows += _rows([f"additive spike {theta:g}: outlier"], mp.additive_spike_eigenvalue(theta, q), add,
                  note=f"threshold {float(mp.additive_spike_threshold(q)):.4g}")
    return rows


def minibatch_noise_factor(n_data, batch_size):
    r"""The finite-population factor of a minibatch mean drawn without replacement.

    .. math::

        \mathrm{Cov}(g_B) = \frac{N - B}{B(N - 1)}\,C

    with :math:`C` the per-example gradient covariance (Cochran, *Sampling
    Techniques*, 1977, Thm. 2.2).
    """
    return (n_data - batch_size) / (batch_size * (n_data - 1))


def truth_gradient_covariance(noise, n_data, curvature):
    r"""Expected per-example gradient covariance at the true parameter of least squares.

    .. math::

        \mathbb E\,C(w^*) = \sigma^2\,(1 - 1/N)\,\mathbb E H

    (label noise of variance :math:`\sigma^2`; the :math:`1 - 1/N` from centring
    by the sample mean).
    """
    return noise**2 * (1 - 1 / n_data) * np.asarray(curvature, dtype=float)


@register("spectra.noise_covariance", stream="noise.covariance", title="Minibatch gradient noise: covariance (N-B)/(B(N-1)) C, and C = sigma^2 H",
          formula="finite-population covariance of a minibatch mean; E C(w*) = sigma^2 (1 - 1/N) E H",
          simulator="minibatch_noise on least squares; exact C over independent data sets", source=SOURCE,
          tests=("theory.checks.spectra.minibatch_noise_factor", "theory.checks.spectra.truth_gradient_covariance"),
          mutation=(0.01, 0.01))
def noise_covariance(ctx):
    c = CONFIG["noise"]
    spec = np.asarray(c["spectrum"])
    rows = []
    prob = least_squares_problem(c["n_data"], spec, noise=c["noise"], seed=ctx.child("data"))
    w = prob.minimum()
    for b in c["batch_sizes"]:
        run = minibatch_noise(prob, w, b, c["n_batches"], seed=ctx.child("noise", b), backend=ctx.backend,
                              keep_samples=False, n_directions=1)
        factor = minibatch_noise_factor(c["n_data"], b)
        rows.append(Comparison(f"B={b}: tr Cov(g_B)", float(factor * np.trace(run.gradient_covariance)),
                               float(run.trace.value), float(run.trace.stderr), note="without replacement"))
        top = float(np.linalg.eigvalsh(run.gradient_covariance)[-1])
        rows.append(Comparison(f"B={b}: variance along the top direction", float(factor * top),
                               float(run.directional_variance.value[0]), float(run.directional_variance.stderr[0])))
    # C ~ sigma^2 H: at the true parameter, over data sets, E C = sigma^2 (1 - 1/N) Sigma and E H = Sigma
    expected = truth_gradient_covariance(c["noise"], c["n_data"], spec)
    tr, top = [], []
    for k in range(c["n_datasets"]):
        d = least_squares_problem(c["n_data"], spec, noise=c["noise"], seed=ctx.child("datasets", k))
        cov = d.gradient_covariance(d.w_star)
        tr.append(np.trace(cov))
        top.append(cov[0, 0])  # Sigma is diagonal, largest first: its top eigenvector is e_0
    for label, vals, formula in (("E tr C(w*)", tr, expected.sum()), ("E e1'C(w*)e1", top, expected[0])):
        est = Moments.of(np.asarray(vals)).estimate()
        rows.append(Comparison(label, formula, float(est.value), float(est.stderr),
                               note=f"= sigma^2 (1 - 1/N) x E H; {c['n_datasets']} data sets"))
    return rows


@register("spectra.batch_hessian_top", stream="batch.hessian_top", title="Top eigenvalue of a least-squares minibatch Hessian vs the finite-size MP edge",
          formula="theory.batch_size.least_squares_batch_top_eigenvalue(finite_size=True)",
          simulator="simulate_least_squares_batch_top", quick=False, source="Johnstone (2001); Ma (2012); Granziol et al. (2022)",
          tests=("theory.batch_size.least_squares_batch_top_eigenvalue",), mutation=0.01)
def batch_hessian_top(ctx):
    c = CONFIG["batch"]
    rows = []
    for b in c["batch_sizes"]:
        est = simulate_least_squares_batch_top(b, c["n_params"], c["n_data"], n_matrices=c["n_matrices"],
                                               seed=ctx.child("batch", b))
        formula = batch_size.least_squares_batch_top_eigenvalue(b, c["n_params"], finite_size=True)
        rows.append(Comparison(f"B={b}, P={c['n_params']}: lambda_max(H_B)", float(formula), float(est.value),
                               float(est.stderr), note="Tracy-Widom centring; asymptotic edge "
                               f"{float(batch_size.least_squares_batch_top_eigenvalue(b, c['n_params'])):.4g}"))
    return rows


# -- the trained digits network -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class DigitsMinimum:
    """The digits network after GD, with its dense Hessian spectrum and per-example gradients.

    Attributes
    ----------
    model : JaxModel
        :func:`theory.digits.digits_network`; call it inside :func:`theory.digits.x64_mode`.
    theta : ndarray, shape (P,)
        The parameters after ``n_steps`` GD steps.
    loss, gradient_norm : float
    eigenvalues : ndarray, shape (P,)
        Dense Hessian eigenvalues, largest first.
    eigenvectors : ndarray, shape (P, k)
        The eigenvectors of the ``k`` largest (``keep`` of :func:`digits_minimum`).
    hessian_trace : float
    per_sample : ndarray, shape (N, P)
        Per-example gradients :math:`g_i`.
    hessian : ndarray, shape (P, P)
        The dense Hessian (symmetrised).
    """

    model: object
    theta: np.ndarray
    loss: float
    gradient_norm: float
    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    hessian_trace: float
    per_sample: np.ndarray
    hessian: np.ndarray

    @property
    def gradient_covariance(self) -> np.ndarray:
        r""":math:`C = \\frac1N\\sum_i (g_i - g)(g_i - g)^\\top`, shape (P, P)."""
        d = self.per_sample - self.per_sample.mean(axis=0)
        return d.T @ d / d.shape[0]


def digits_minimum(n_data=DIGITS["n_data"], hidden=DIGITS["hidden"], *, lr=DIGITS["lr"],
                   n_steps=DIGITS["n_steps"], seed=DIGITS["seed"], keep=40) -> DigitsMinimum:
    """GD on :func:`theory.digits.digits_network` (squared error) from its seeded start, and the dense spectrum.

    Must be called inside :func:`theory.digits.x64_mode` (the model's kernels
    compute in float64 only there).
    """
    model = digits.digits_network(n_data, hidden, DIGITS["loss"], seed=seed)
    run = train(model, GD(), lr=lr, n_steps=n_steps, theta0=model.start, seed=seed, track=(), track_every=n_steps)
    theta = np.asarray(run.final_theta)
    hess = model.hessian(theta)
    lam, vec = np.linalg.eigh(hess)
    keep = min(keep, lam.size)
    return DigitsMinimum(model, theta, float(model.loss(theta)), float(np.linalg.norm(model.gradient(theta))),
                         lam[::-1].copy(), vec[:, ::-1][:, :keep].copy(), float(lam.sum()),
                         model.per_sample_gradients(theta), hess)


def hessian_outlier_count(n_classes, loss="mse") -> float:
    r"""The number of Hessian outliers a trained classifier with ``n_classes`` outputs is predicted to show.

    Near a minimum :math:`H \\approx G = \\frac1N\\sum_i J_i^\\top A_i J_i`
    (:math:`J_i` the :math:`C\\times P` Jacobian of the outputs, :math:`A_i`
    the Hessian of the loss in the outputs), and the outliers are the
    eigenvalues carried by the class means of the :math:`J_i` (Sagun et al.
    2017, arXiv:1706.04454; Papyan 2019, arXiv:1901.08244; Papyan 2020, JMLR 21).
    For squared error :math:`A_i = I_C` has rank :math:`C`: :math:`C` outliers.
    For softmax cross-entropy :math:`A_i = \\mathrm{diag}(p_i) - p_ip_i^\\top`
    annihilates :math:`\\mathbf 1` (a shift of all logits changes nothing), so
    the same argument gives :math:`C - 1`.
    """
    c = int(n_classes)
    if c < 2 or c != n_classes:
        raise ValueError(f"n_classes must be an integer >= 2; got {n_classes!r}")
    if loss not in ("mse", "cross_entropy"):
        raise ValueError(f"loss must be 'mse' or 'cross_entropy'; got {loss!r}")
    return float(c if loss == "mse" else c - 1)


def outliers_by_gap(values, n_max) -> int:
    r"""The outlier count as the position of the largest ratio :math:`\\lambda_i/\\lambda_{i+1}` among the top ``n_max``.

    Only positive eigenvalues count (a ratio across zero is no gap).
    """
    lam = np.asarray(values, dtype=float)[:n_max + 1]
    lam = lam[lam > 0]
    return int(np.argmax(lam[:-1] / lam[1:]) + 1)


@register("spectra.digits_outliers", title="Hessian outliers of the trained 64-32-10 digits network: one per class "
          "(squared error), from HVPs and the dense spectrum",
          formula="theory.checks.spectra.hessian_outlier_count (C outliers for squared error with C outputs)",
          simulator="GD on digits_network; curvature.top_eigenpairs, spectral_density (HVPs); dense eigvalsh",
          quick=False, source="Sagun et al. (2017); Papyan (2019, 2020)",
          tests=("theory.checks.spectra.hessian_outlier_count",), mutation=-0.1)
def digits_outliers(ctx):
    r"""Counts compared exactly: an integer count is right or wrong, so its rows are ``"numerical"`` with
    error 0. The level sits in the largest eigenvalue ratio among the top :math:`2C` Ritz values (the
    gap); SLQ's count above that level is statistical (Hutchinson's error across probes)."""
    c = CONFIG["outliers"]
    with digits.x64_mode():
        m = digits_minimum()
        op = m.model.hvp_operator(m.theta)
        top = curvature.top_eigenpairs(op, c["top_k"], n=m.model.n_params, seed=ctx.child("lanczos"))
        slq = curvature.spectral_density(op, n=m.model.n_params, n_probes=c["n_probes"], n_steps=c["n_steps"],
                                         seed=ctx.child("slq"))
    expected = hessian_outlier_count(digits.N_CLASSES, DIGITS["loss"])
    k = outliers_by_gap(top.values, c["top_k"])
    level = float(np.sqrt(top.values[k - 1] * top.values[k]))  # the gap's geometric middle
    lam = m.eigenvalues
    dense_k = int(np.sum(lam > level))
    note = f"level {level:.3g}: lambda_{k} = {top.values[k - 1]:.4g}, lambda_{k + 1} = {top.values[k]:.4g}"
    slq_count = slq.count_above(level)
    rows = [Comparison("Lanczos: Ritz values above the largest gap", expected, float(k), 0.0, kind="numerical",
                       note=f"{note}; {top.n_hvps} HVPs"),
            Comparison("dense eigvalsh: eigenvalues above the level", expected, float(dense_k), 0.0,
                       kind="numerical", note=f"P = {lam.size}; largest ratio at {outliers_by_gap(lam, c['top_k'])}"),
            Comparison("SLQ count_above(level)", expected, float(slq_count.value), float(slq_count.stderr),
                       note=f"{c['n_probes']} probes x {c['n_steps']} steps")]
    # Lanczos against the dense reference on both sides of the gap: Ritz residual + rounding of eigh
    for i in (k - 1, k):
        err = float(top.residuals[i]) + 1e-9 * float(lam[0])
        rows.append(Comparison(f"lambda_{i + 1}: Lanczos vs dense", float(lam[i]), float(top.values[i]), err,
                               kind="numerical", note="error: Ritz residual + 1e-9 lambda_1"))
    return rows


def squared_error_noise_scale(loss, n_outputs) -> float:
    r"""The constant :math:`c` of :math:`C \approx c\,H` near a minimum of the half squared error.

    With :math:`\ell_i = \frac12\lVert r_i\rVert^2`, :math:`g_i = J_i^\top r_i`;
    residuals uncorrelated with the Jacobians and isotropic over the
    :math:`k` outputs, :math:`E\,r_ir_i^\top = \sigma_r^2 I_k`, give
    :math:`C \approx \sigma_r^2 G`, and :math:`H \approx G` once the residual
    term :math:`\frac1N\sum_i\sum_o r_{io}\nabla^2 f_o` is small:

    .. math::

        C \approx \sigma_r^2 H, \qquad \sigma_r^2 = \frac{1}{Nk}\sum_i\lVert r_i\rVert^2 = \frac{2L}{k}

    (Xie, Sato and Sugiyama 2021, ICLR, Eq. 7, :math:`C \approx \frac{L}{B}H`
    up to the loss's normalisation). An approximation, without a bound.
    """
    return 2.0 * float(loss) / float(n_outputs)


class _RowSpaceModel:
    """Per-example gradients in an orthonormal basis ``w`` of their deviations' row space (exact noise norms).

    The minibatch noise :math:`\\xi = g_B - g` lies in the span of the
    deviations :math:`g_i - g`, so its norm and its components along any
    direction of that span are those of :math:`w^\\top\\xi`.
    """

    def __init__(self, per_sample, w, hessian):
        self._rows = per_sample @ w
        self._hessian = w.T @ hessian @ w
        self.n_data, self.n_params = self._rows.shape

    def loss(self, theta, batch=None):
        return 0.0

    def gradient(self, theta, batch=None):
        return self._rows.mean(axis=0) if batch is None else self._rows[batch].mean(axis=0)

    def per_sample_gradients(self, theta):
        return self._rows

    def hessian(self, theta):
        return self._hessian

    def hvp(self, theta, vec):
        return self._hessian @ vec


def _row_space(per_sample):
    """Orthonormal basis (P, r) of the deviations' row space and the eigenvalues of C, largest first."""
    d = per_sample - per_sample.mean(axis=0)
    _, s, wt = np.linalg.svd(d, full_matrices=False)
    r = int(np.sum(s > 1e-12 * s[0]))
    return wt[:r].T, s[:r] ** 2 / d.shape[0]


@register("spectra.digits_noise", title="Minibatch noise at the trained digits minimum: Cov(g_B) = (N-B)/(B(N-1)) C; "
          "C against H reported", formula="theory.checks.spectra.minibatch_noise_factor",
          simulator="GD on digits_network; minibatch_noise on its exact per-example gradients", quick=False,
          source="Cochran (1977), Thm. 2.2; Xie, Sato and Sugiyama (ICLR 2021)",
          tests=("theory.checks.spectra.minibatch_noise_factor",), mutation=0.01)
def digits_noise(ctx):
    r"""(a) statistical rows: :math:`\mathrm{tr}\,\mathrm{Cov}(g_B)` and the variance along the top
    eigenvectors of :math:`C`, sampled minibatches against the finite-population factor times the exact
    :math:`C`. (b) :math:`C` against :math:`H` (:func:`squared_error_noise_scale`) is an approximation
    without a bound: its numbers are reported in the notes, with no verdict."""
    c = CONFIG["digits_noise"]
    with digits.x64_mode():
        m = digits_minimum()
    w, c_eig = _row_space(m.per_sample)
    proxy = _RowSpaceModel(m.per_sample, w, m.hessian)
    n = m.per_sample.shape[0]
    ratio, scale = float(c_eig.sum()) / m.hessian_trace, squared_error_noise_scale(m.loss, digits.N_CLASSES)
    cov = m.gradient_covariance
    v = m.eigenvectors[:, :c["n_hessian"]]
    along = np.einsum("pi,pq,qi->i", v, cov, v) / m.eigenvalues[:c["n_hessian"]]
    reported = (f"tr C/tr H = {ratio:.4g}, v'Cv/lambda over the top {c['n_hessian']} of H: "
                f"{along.min():.3g}..{along.max():.3g}; C ~ (2L/k) H predicts {scale:.4g}")
    rows = []
    for b in c["batch_sizes"]:
        run = minibatch_noise(proxy, np.zeros(proxy.n_params), b, c["n_batches"], seed=ctx.child("noise", b),
                              backend=ctx.backend, keep_samples=False, n_directions=c["n_directions"])
        factor = minibatch_noise_factor(n, b)
        rows.append(Comparison(f"B={b}: tr Cov(g_B)", float(factor * c_eig.sum()), float(run.trace.value),
                               float(run.trace.stderr), note=reported))
        for j in range(c["n_directions"]):
            rows.append(Comparison(f"B={b}: variance along C's eigenvector {j + 1}", float(factor * c_eig[j]),
                                   float(run.directional_variance.value[j]),
                                   float(run.directional_variance.stderr[j])))
    return rows
