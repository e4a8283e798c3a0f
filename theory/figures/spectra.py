r"""Figures of the random-matrix theory of the Hessian spectrum.

Conventions of :mod:`theory.marchenko_pastur`: :math:`W = X^\top X/N` with :math:`X`
of size :math:`N\times P`, i.i.d. entries of variance :math:`s^2`, ratio
:math:`q = P/N`.
Curves are closed forms: the Marchenko-Pastur law and BBP spike limits of
:mod:`theory.marchenko_pastur`, the exact minibatch noise covariance of
:mod:`theory.simulators.gradient_noise` and the batch-size formulas of
:mod:`theory.batch_size`. Points are Monte Carlo estimates drawn as mean ± 2
standard errors, the error taken *across independent matrices* (or minibatches),
never across the correlated eigenvalues of one matrix:

- ``spectra.mp_densities``: MP densities and cdfs, the atom :math:`1 - 1/q` at 0 for :math:`q > 1`.
- ``spectra.wishart_histogram``: sampled spectra (:func:`~theory.simulators.sample_wishart_eigenvalues`)
  binned per matrix, band ± 2 s.e. over matrices, over the MP density; the atom's sampled mass.
- ``spectra.bbp_outlier``: top eigenvalue and its eigenvector's squared overlap with a spike.
- ``spectra.effective_number``: :math:`N_{\rm eff}(\alpha)/P = 1 - \alpha m(-\alpha)` against
  per-matrix sums :math:`\sum_i\lambda_i/(\lambda_i+\alpha)` (:func:`theory.sharpness.effective_number`).
- ``spectra.noise_covariance``: minibatch gradient noise at a least-squares minimum against
  :math:`C/B` (with the finite-population factor :math:`(N-B)/(B(N-1))` without replacement)
  and the approximation :math:`\sigma^2 H/B`.
- ``spectra.trained_hessian``: exact Hessian eigenvalues of a small trained tanh network
  (:func:`theory.hessian_models.trained_spectrum`) with an MP law fitted to the bulk by moments.
- ``spectra.batch_size``: top eigenvalue of a least-squares minibatch Hessian and the largest stable
  learning rate :math:`2/\lambda_{\max}` against the batch size.

Each figure is a ``<name>_data(quick, seed)`` function computing its data and
the drawing function registered with it. Sizes: ``quick=True`` computes each
figure in about a second; the default sizes take a few seconds to about half a
minute each on two cores.
"""

from __future__ import annotations


import matplotlib.ticker as mticker
import numpy as np

from .. import batch_size as bsz
from .. import hessian_models as hm
from .. import marchenko_pastur as mp
from .. import sharpness
from ..rng import derive
from ..backend import single_threaded_blas
from ..simulators.batch_hessian import simulate_least_squares_batch_top
from ..simulators.gradient_noise import least_squares_problem, minibatch_noise
from ..simulators.wishart import empirical_spectral_density, sample_wishart_eigenvalues
from ..stats import Moments
from .core import figure
from ._style import COLORS, SIM_LABEL, SINGLE, new_figure, panel_pair, sim_points, sizes, style

__all__: list[str] = []

# -- parameters (full sizes; "quick" overrides them) ------------------------------------------------------------

DENSITIES = {"ratios": (0.1, 0.25, 0.5, 1.0, 2.5), "xmax": 7.0}

# wishart_histogram: P and the ratios q = P/N of the two panels, matrices, bins
HISTOGRAM = {"n_params": 400, "ratios": (0.5, 2.0), "n_matrices": 200, "bins": 40,
             "quick": {"n_params": 100, "n_matrices": 8, "bins": 20}}

# bbp_outlier: one multiplicative spike ell at ratio q, P x P matrices
BBP = {"ratio": 0.5, "n_params": 300, "n_matrices": 100, "ells": tuple(np.round(np.arange(1.25, 4.01, 0.25), 2)),
       "quick": {"n_params": 80, "n_matrices": 8, "ells": (1.5, 2.5, 3.5)}}

# effective_number: N_eff(alpha)/P for these ratios, points at these alphas
EFFECTIVE = {"ratios": (0.25, 1.0, 4.0), "n_params": 200, "n_matrices": 50, "alphas": tuple(np.logspace(-3, 2, 11)),
             "quick": {"n_params": 40, "n_matrices": 6, "alphas": tuple(np.logspace(-3, 2, 4))}}

# noise_covariance: least squares, feature variances geometric in `spectrum`, noise sd `noise`
NOISE = {"n_data": 1000, "dim": 20, "spectrum": (0.05, 5.0), "noise": 0.5, "n_batches": 20000,
         "batch_sizes": (1, 3, 10, 30, 100, 300, 800), "scatter_batch_sizes": (1, 10, 100),
         "quick": {"n_data": 200, "dim": 8, "n_batches": 400, "batch_sizes": (1, 10, 100),
                   "scatter_batch_sizes": (1, 10)}}

# trained_hessian: x from a Gaussian mixture, y = tanh(W* x) + noise (W* orthonormal rows: identical units)
NETWORK = {"n_data": 2000, "n_features": 100, "n_classes": 3, "n_hidden": 4, "separation": 3.0, "noise": 0.3,
           "bins": 60, "quick": {"n_data": 600, "n_features": 60, "n_hidden": 3, "bins": 30}}

# batch_size: P features of variance c, data set of N rows, minibatches of B distinct rows
BATCH = {"n_params": 100, "n_data": 2000, "scale": 1.0, "n_matrices": 200,
         "batch_sizes": (5, 10, 20, 50, 100, 200, 500, 1000, 2000),
         "quick": {"n_params": 30, "n_data": 300, "n_matrices": 8, "batch_sizes": (5, 30, 100, 300)}}


# -- helpers ------------------------------------------------------------------------------------------------------

def _wishart(p, ratio, seed, name, index, **kw):
    """``p["n_matrices"]`` sampled Wishart spectra of size ``p["n_params"]`` at ratio q = P/N."""
    return sample_wishart_eigenvalues(round(p["n_params"] / ratio), p["n_params"], p["n_matrices"],
                                      seed=derive(seed, name, index), **kw)


def _values(estimates):
    """(values, stderrs) arrays from a list of Estimates."""
    return np.array([float(e.value) for e in estimates]), np.array([float(e.stderr) for e in estimates])


def _support_grid(law: mp.MarchenkoPastur, n: int = 600) -> np.ndarray:
    """Points on the support, dense at both edges (where the density has square-root behaviour)."""
    lo, hi = law.support()
    return lo + (hi - lo) * 0.5 * (1.0 - np.cos(np.linspace(0.0, np.pi, n)))


def _mass_axis(ax, label="atom mass at 0"):
    """A right-hand axis for point masses (0 to 1), beside a density axis."""
    twin = ax.twinx()
    twin.spines["right"].set_visible(True)
    twin.set(ylim=(0.0, 1.05), ylabel=label)
    return twin


def _stem(ax, x, mass, color, label=None, **kw):
    """A point mass: a vertical stem topped by a marker."""
    ax.vlines(x, 0.0, mass, color=color, lw=kw.pop("lw", 1.6), alpha=kw.pop("alpha", 1.0))
    ax.plot([x], [mass], kw.pop("marker", "D"), color=color, ms=4, label=label, clip_on=False, **kw)


def _sim_proxy(ax, color="0.3", label=SIM_LABEL):
    """A legend entry for simulation points without drawing any."""
    ax.errorbar([], [], yerr=[], fmt="o", color=color, markerfacecolor="white", markersize=3.2, elinewidth=0.8,
                label=label)


# -- figures ------------------------------------------------------------------------------------------------------

def mp_densities_data(quick: bool = False, seed=0) -> dict:
    r"""Marchenko-Pastur densities and cdfs (atom :math:`1 - 1/q` at 0 when :math:`q > 1`) for several ratios."""
    p = DENSITIES
    laws = []
    for q in p["ratios"]:
        law = mp.MarchenkoPastur(q, 1.0)
        lo, hi = law.support()
        x = _support_grid(law)
        # cdf: 0 left of 0, then (atom +) the continuous part; a jump at 0 when q > 1
        xr = np.concatenate([[0.0], x[x > 0], [p["xmax"]]])
        laws.append({"q": q, "support": (float(lo), float(hi)), "x": x, "pdf": law.pdf(x), "xr": xr,
                     "cdf": law.cdf(xr), "atom": max(0.0, 1.0 - 1.0 / q)})
    return {"xmax": p["xmax"], "laws": laws}


@figure("spectra.mp_densities", title="Marchenko-Pastur densities and cdfs for several ratios q, with the atom at 0",
        compute=mp_densities_data, params=lambda quick: DENSITIES)
def mp_densities(data):
    xmax = data["xmax"]
    with style():
        fig, (a, b) = panel_pair(r"Marchenko-Pastur law of $W = X^\top X/N$, $q = P/N$, $s^2 = 1$")
        mass = _mass_axis(a)
        for color, law in zip(COLORS, data["laws"]):
            q, (lo, hi), atom = law["q"], law["support"], law["atom"]
            a.plot(law["x"], law["pdf"], color=color, label=rf"$q = {q:g}$")
            a.plot([lo, hi], [0.0, 0.0], "|", color=color, ms=8, mew=1.2, clip_on=False, zorder=4)
            b.plot([-0.5, 0.0], [0.0, 0.0], color=color)
            b.plot(law["xr"], law["cdf"], color=color, label=rf"$q = {q:g}$")
            if atom > 0:
                _stem(mass, 0.0, atom, color, marker="D")
                mass.annotate(rf"atom at 0 ($q = {q:g}$)" "\n" rf"of mass $1 - 1/q = {atom:.2g}$", (0.0, atom),
                              xytext=(0.07, 0.96), textcoords="axes fraction", va="top", fontsize=6.5, color=color,
                              arrowprops=dict(arrowstyle="->", color=color, lw=0.7, shrinkB=4))
                b.plot([0.0], [0.0], "o", color=color, mfc="white", ms=3.5, zorder=4)
                b.plot([0.0], [atom], "o", color=color, ms=3.5, zorder=4)
                b.annotate(rf"jump of $1 - 1/q = {atom:.2g}$ at 0", (0.0, 0.3), xytext=(0.3, 0.3),
                           textcoords=("axes fraction", "data"), va="center", fontsize=6.5, color=color,
                           arrowprops=dict(arrowstyle="->", color=color, lw=0.7, shrinkB=3))
        a.plot([], [], "|", color="0.3", ms=8, mew=1.2, label=r"support edges $(1\pm\sqrt{q})^2$")
        a.set(xlim=(-0.3, xmax), ylim=(0.0, 1.3), xlabel=r"eigenvalue $\lambda$",
              ylabel=r"density $p(\lambda)$ (continuous part)", title=r"density; atom on the right axis")
        a.legend(loc="upper right")
        b.set(xlim=(-0.3, xmax), ylim=(0.0, 1.02), xlabel=r"eigenvalue $\lambda$",
              ylabel=r"$F(\lambda) = P(\lambda_i \leq \lambda)$", title="distribution function (atom included)")
        b.legend(loc="lower right")
    return fig


def wishart_histogram_data(quick: bool = False, seed=0) -> dict:
    r"""Sampled Wishart spectra binned per matrix (mean ± s.e. across matrices) and the MP density, per ratio.

    For :math:`q > 1`, ``atom`` is the sampled fraction of zero eigenvalues ±
    its standard error across matrices, against :math:`1 - 1/q`.
    """
    p = sizes(HISTOGRAM, quick)
    panels = []
    for i, q in enumerate(p["ratios"]):
        law = mp.MarchenkoPastur(q, 1.0)
        sample = _wishart(p, q, seed, "spectra.wishart_histogram", i)
        lo, hi = law.support()
        pad = 0.12 * (hi - lo)
        sd = empirical_spectral_density(sample, p["bins"], range=(max(lo - pad, 0.5 * lo), hi + pad))
        x = _support_grid(law)
        panel = {"q": q, "n_data": round(p["n_params"] / q), "edges": sd.edges, "density": sd.density,
                 "stderr": sd.stderr, "x": x, "pdf": law.pdf(x), "hi": float(hi), "atom": None}
        if q > 1:  # the P - N zero eigenvalues: the atom's sampled mass against 1 - 1/q
            tol = 1e-9 * float(sample.eigenvalues.max())
            est = Moments.of(np.mean(np.abs(sample.eigenvalues) < tol, axis=1)).estimate()
            panel["atom"] = {"value": float(est.value), "stderr": float(est.stderr), "expected": 1.0 - 1.0 / q}
        panels.append(panel)
    return {"n_params": p["n_params"], "n_matrices": p["n_matrices"], "panels": panels}


@figure("spectra.wishart_histogram", title="Sampled Wishart spectra over the Marchenko-Pastur density, q < 1 and q > 1",
        compute=wishart_histogram_data, params=lambda quick: sizes(HISTOGRAM, quick))
def wishart_histogram(data):
    with style():
        fig, axes = panel_pair(rf"Wishart spectra, $P = {data['n_params']}$, {data['n_matrices']} matrices, "
                               r"$s^2 = 1$: histogram $\pm$ 2 s.e. across matrices")
        for ax, panel, color in zip(axes, data["panels"], COLORS):
            q, edges, density, stderr = panel["q"], panel["edges"], panel["density"], panel["stderr"]
            ax.stairs(density + 2 * stderr, edges, baseline=density - 2 * stderr, fill=True,
                      color=color, alpha=0.35, lw=0, label=r"$\pm$ 2 s.e. band")
            ax.stairs(density, edges, color=color, lw=0.9, label="histogram (mean over matrices)")
            ax.plot(panel["x"], panel["pdf"], color="k", lw=1.0, label="Marchenko-Pastur density")
            ax.set(xlabel=r"eigenvalue $\lambda$", ylabel=r"density", ylim=(0.0, None),
                   title=rf"$q = P/N = {q:g}$ ($N = {panel['n_data']}$)")
            if panel["atom"] is not None:
                atom = panel["atom"]
                mass = _mass_axis(ax)
                _stem(mass, 0.0, 1.0 - 1.0 / q, "k", label=rf"atom: $1 - 1/q = {1 - 1 / q:g}$", mfc="white")
                sim_points(mass, [0.0], [atom["value"]], [atom["stderr"]], color=color, marker="s",
                           label=rf"sampled: {atom['value']:.3f} $\pm$ {2 * atom['stderr']:.2g}")
                mass.legend(loc="center right", handlelength=1.0)
                ax.set_xlim(-0.15 * panel["hi"], None)
            ax.legend(loc="upper right")
    return fig


def bbp_outlier_data(quick: bool = False, seed=0) -> dict:
    r"""Top eigenvalue and its eigenvector's squared overlap with a rank-one spike :math:`\ell`: limits and samples.

    Limits: :math:`\ell(1 + q/(\ell-1))` and :math:`(1 - q/(\ell-1)^2)/(1 + q/(\ell-1))`
    above the threshold :math:`1 + \sqrt q` (Baik, Ben Arous and Péché 2005; Paul 2007).
    """
    p = sizes(BBP, quick)
    q = p["ratio"]
    ells = np.asarray(p["ells"], float)
    runs = [_wishart(p, q, seed, "spectra.bbp_outlier", i, spikes=[ell]) for i, ell in enumerate(ells)]
    grid = np.linspace(1.0, ells.max() + 0.25, 500)
    top, top_se = _values([r.top_eigenvalue() for r in runs])
    overlap, overlap_se = _values([r.overlap() for r in runs])
    return {"q": q, "n_params": p["n_params"], "n_matrices": p["n_matrices"], "ells": ells, "grid": grid,
            "threshold": float(mp.bbp_threshold(q)), "eigenvalue_limit": mp.spike_eigenvalue(grid, q),
            "overlap_limit": mp.spike_overlap(grid, q), "top": top, "top_se": top_se, "overlap": overlap,
            "overlap_se": overlap_se}


@figure("spectra.bbp_outlier", title="BBP transition: top eigenvalue and eigenvector overlap against the spike",
        compute=bbp_outlier_data, params=lambda quick: sizes(BBP, quick))
def bbp_outlier(data):
    q, grid, thr = data["q"], data["grid"], data["threshold"]
    with style():
        fig, (a, b) = panel_pair(rf"Rank-one spike $\ell$ (population covariance "
                                 rf"$s^2\,\mathrm{{diag}}(\ell, 1, \dots)$), $q = {q:g}$, $P = {data['n_params']}$, "
                                 rf"{data['n_matrices']} matrices")
        a.plot(grid, data["eigenvalue_limit"], color=COLORS[0], label="BBP limit")
        a.axhline((1 + np.sqrt(q)) ** 2, color="0.4", ls="--", lw=0.8, label=r"bulk edge $(1+\sqrt{q})^2$")
        b.plot(grid, data["overlap_limit"], color=COLORS[0], label="limit (Paul 2007)")
        for ax, key in ((a, "top"), (b, "overlap")):
            ax.axvline(thr, color="k", ls=":", lw=0.9, label=rf"threshold $1+\sqrt{{q}} = {thr:.3g}$")
            sim_points(ax, data["ells"], data[key], data[key + "_se"], color=COLORS[1])
            ax.set(xlim=(grid[0], grid[-1]), xlabel=r"spike strength $\ell$")
        a.set(ylabel=r"top eigenvalue $\lambda_{\max}/s^2$", title=r"$\lambda_{\max} \to \ell(1 + q/(\ell-1))$")
        b.set(ylabel=r"squared overlap $\langle u_1, v\rangle^2$", ylim=(-0.03, 1.0),
              title=r"$\langle u_1, v\rangle^2 \to (1 - q/(\ell-1)^2)/(1 + q/(\ell-1))$")
        a.legend(loc="upper left")
        b.legend(loc="lower right")
    return fig


def effective_number_data(quick: bool = False, seed=0) -> dict:
    r""":math:`N_{\rm eff}(\alpha)/P = 1 - \alpha m(-\alpha)` of MP laws, and per-matrix sums over sampled spectra.

    The sums are :math:`\sum_i\lambda_i/(\lambda_i+\alpha)/P` of each sampled
    matrix (:func:`theory.sharpness.effective_number`), mean ± s.e. across matrices.
    """
    p = sizes(EFFECTIVE, quick)
    alphas = np.asarray(p["alphas"], float)
    grid = np.logspace(np.log10(alphas[0]) - 0.5, np.log10(alphas[-1]) + 0.5, 300)
    n_params = p["n_params"]
    laws = []
    for i, q in enumerate(p["ratios"]):
        eig = _wishart(p, q, seed, "spectra.effective_number", i).eigenvalues
        per_matrix = sharpness.effective_number(eig[:, None, :], alphas, negative="clip") / n_params
        est = Moments.of(per_matrix, axis=0).estimate()
        laws.append({"q": q, "curve": mp.mp_effective_number(grid, q, 1.0), "limit": min(1.0, 1.0 / q),
                     "value": np.asarray(est.value), "stderr": np.asarray(est.stderr)})
    return {"n_params": n_params, "alphas": alphas, "grid": grid, "laws": laws}


@figure("spectra.effective_number", title="Effective number of parameters N_eff(alpha)/P of MP spectra",
        compute=effective_number_data, params=lambda quick: sizes(EFFECTIVE, quick))
def effective_number(data):
    grid, alphas = data["grid"], data["alphas"]
    with style():
        fig, ax = new_figure(SINGLE, 2.7)
        for law, color in zip(data["laws"], COLORS):
            ax.plot(grid, law["curve"], color=color, label=rf"$q = {law['q']:g}$")
            ax.axhline(law["limit"], color=color, ls="--", lw=0.7)
            sim_points(ax, alphas, law["value"], law["stderr"], color=color, label=None)
        ax.plot([], [], color="0.3", ls="--", lw=0.7, label=r"$\alpha \to 0$: $\min(1, 1/q)$")
        _sim_proxy(ax, label=SIM_LABEL.replace("simulation ", f"sums, $P = {data['n_params']}$\n"))
        ax.set(xscale="log", xlim=(grid[0], grid[-1]), ylim=(0.0, 1.05),
               xlabel=r"prior precision (weight decay) $\alpha$ [units of $s^2$]",
               ylabel=r"$N_{\rm eff}(\alpha)/P$",
               title=r"$N_{\rm eff} = \sum_i \frac{\lambda_i}{\lambda_i + \alpha} = P\,(1 - \alpha\, m(-\alpha))$")
        ax.legend(loc="center left", bbox_to_anchor=(0.0, 0.55))
    return fig


def noise_covariance_data(quick: bool = False, seed=0) -> dict:
    r"""Minibatch gradient noise at a least-squares minimum: :math:`B\,\mathrm{tr}\,\mathrm{Cov}(\xi)` and its spectrum.

    ``trace``: per sampling scheme (with, without replacement) the simulated
    :math:`\mathrm{tr}\,\mathrm{Cov}(\xi)` ± s.e. at ``batch_sizes``, against
    :math:`\mathrm{tr}\,C/B` (times :math:`(N-B)/(N-1)` without replacement,
    Cochran 1977, Thm 2.2). ``scatter``: the variance along each eigenvector
    :math:`u_i` of :math:`H` against :math:`\sigma^2\lambda_i/B`.
    """
    p = sizes(NOISE, quick)
    name = "spectra.noise_covariance"
    n, sigma = p["n_data"], p["noise"]
    problem = least_squares_problem(n, np.geomspace(*p["spectrum"], p["dim"]), noise=sigma,
                                    seed=derive(seed, name, "problem"))
    w = problem.minimum()
    hess = problem.hessian()
    lam, vec = np.linalg.eigh(hess)
    tr_c = float(np.trace(problem.gradient_covariance(w)))

    def noise(b, replace, key, keep=False):
        return minibatch_noise(problem, w, b, p["n_batches"], replace=replace, n_directions=1, keep_samples=keep,
                               seed=derive(seed, name, key, b, int(replace)))

    b_sizes = np.asarray(p["batch_sizes"])
    with single_threaded_blas():
        trace = [dict(zip(("value", "stderr"), _values([noise(b, replace, "trace").trace for b in b_sizes])),
                      replace=replace) for replace in (True, False)]
        scatter = []
        for b in p["scatter_batch_sizes"]:
            proj = noise(b, True, "scatter", keep=True).samples @ vec  # along each eigenvector of H
            est = Moments.of(proj * proj, axis=0).estimate()
            scatter.append({"batch_size": b, "x": sigma**2 * lam / b, "value": np.asarray(est.value),
                            "stderr": np.asarray(est.stderr)})
    return {"n_data": n, "dim": p["dim"], "sigma": sigma, "n_batches": p["n_batches"], "tr_c": tr_c,
            "sigma2_tr_h": sigma**2 * float(np.trace(hess)), "batch_sizes": b_sizes, "b_grid": np.geomspace(1, n, 300),
            "trace": trace, "scatter": scatter, "eigenvalues": lam}


@figure("spectra.noise_covariance",
        title="Minibatch gradient noise covariance at a least-squares minimum vs C/B and H/B",
        compute=noise_covariance_data, params=lambda quick: sizes(NOISE, quick))
def noise_covariance(data):
    n, sigma, tr_c, b_grid, b_sizes = data["n_data"], data["sigma"], data["tr_c"], data["b_grid"], data["batch_sizes"]
    lam = data["eigenvalues"]
    with style():
        fig, (a, s) = panel_pair(rf"Minibatch gradient noise $\xi = g_B - g$ at the least-squares minimum: "
                                 rf"$N = {n}$, $D = {data['dim']}$, $\sigma = {sigma:g}$, "
                                 rf"{data['n_batches']} minibatches")
        a.axhline(tr_c, color=COLORS[0], label=r"with replacement: $\mathrm{tr}\,C$")
        a.plot(b_grid, tr_c * (n - b_grid) / (n - 1), color=COLORS[1],
               label=r"without: $\mathrm{tr}\,C\,(N-B)/(N-1)$")
        a.axhline(data["sigma2_tr_h"], color="k", ls=":", lw=1.0,
                  label=r"$\sigma^2\,\mathrm{tr}\,H$ ($H/B$ approximation)")
        for tr, color, marker in zip(data["trace"], (COLORS[0], COLORS[1]), ("o", "s")):
            sim_points(a, b_sizes, b_sizes * tr["value"], b_sizes * tr["stderr"], color=color, marker=marker,
                       label=None)
        _sim_proxy(a)
        a.set(xscale="log", xlim=(0.8, 1.25 * n), ylim=(0.0, None), xlabel=r"batch size $B$",
              ylabel=r"$B\cdot\mathrm{tr}\,\mathrm{Cov}(\xi)$", title=r"total noise variance, times $B$")
        a.legend(loc="lower left")
        for color, sc in zip(COLORS, data["scatter"]):
            sim_points(s, sc["x"], sc["value"], sc["stderr"], color=color, label=rf"$B = {sc['batch_size']}$")
        ends = np.array([sigma**2 * lam.min() / max(sc["batch_size"] for sc in data["scatter"]),
                         sigma**2 * lam.max()])
        ends = ends * np.array([0.5, 2.0])
        s.plot(ends, ends, color="k", lw=0.9, label=r"$\sigma^2\lambda_i/B$ (from $\sigma^2 H/B$)")
        s.set(xscale="log", yscale="log", xlim=ends, ylim=ends, xlabel=r"$\sigma^2\lambda_i/B$",
              ylabel=r"$\mathrm{Var}(u_i^\top\xi)$, $u_i$ eigenvectors of $H$",
              title=r"along each eigenvector of $H$ (with replacement)")
        s.legend(loc="upper left")
    return fig


def _teacher_data(p, seed):
    """x from the Gaussian mixture; y = tanh(W* x) + noise with W* orthonormal rows (one output per unit)."""
    x, _ = hm.gaussian_mixture(p["n_data"], p["n_features"], p["n_classes"], separation=p["separation"],
                               seed=derive(seed, "data"))
    g = np.random.Generator(np.random.PCG64(derive(seed, "teacher")))
    w_star = np.linalg.qr(g.standard_normal((p["n_features"], p["n_hidden"])))[0].T
    y = np.tanh(x @ w_star.T) + p["noise"] * g.standard_normal((p["n_data"], p["n_hidden"]))
    return x, y


def _fit_bulk(eig, margin=0.1, max_iter=50):
    """MP law fitted by moments (scale = mean, ratio = var/mean^2) to the eigenvalues inside its own support.

    Starting from all eigenvalues, refits on those within ``margin`` support-widths of the fitted support
    until the set stops changing. Returns (law, bulk mask).
    """
    keep = np.ones(eig.size, bool)
    for _ in range(max_iter):
        mean = eig[keep].mean()
        law = mp.MarchenkoPastur(eig[keep].var() / mean**2, mean)
        lo, hi = law.support()
        pad = margin * (hi - lo)
        new = (eig >= lo - pad) & (eig <= hi + pad)
        if np.array_equal(new, keep):
            break
        keep = new
    return law, keep


def trained_hessian_data(quick: bool = False, seed=0) -> dict:
    """Exact Hessian eigenvalues of a trained two-layer tanh network and an MP law fitted to the bulk by moments."""
    p = sizes(NETWORK, quick)
    x, y = _teacher_data(p, derive(seed, "spectra.trained_hessian"))
    net = hm.TwoLayerNetwork(x, y, p["n_hidden"])
    with single_threaded_blas():
        res = hm.trained_spectrum(net, seed=derive(seed, "spectra.trained_hessian", "init"), gtol=1e-7)
    eig = res.eigenvalues
    law, bulk = _fit_bulk(eig)
    xs = _support_grid(law)
    return {"eigenvalues": eig, "bulk": bulk, "mp_scale": float(law.scale), "mp_ratio": float(law.ratio), "x": xs,
            "bulk_pdf": bulk.mean() * law.pdf(xs), "gradient_norm": float(res.gradient_norm),
            "n_params": net.n_params, "bins": p["bins"], "n_hidden": p["n_hidden"], "n_features": p["n_features"],
            "n_data": p["n_data"]}


@figure("spectra.trained_hessian", title="Hessian spectrum of a trained two-layer network: MP bulk and outliers",
        compute=trained_hessian_data, params=lambda quick: sizes(NETWORK, quick))
def trained_hessian(data):
    eig = data["eigenvalues"]
    out = eig[~data["bulk"]]
    with style():
        fig, ax = new_figure(SINGLE, 2.7)
        edges = np.linspace(min(0.0, eig.min()), 1.04 * eig.max(), data["bins"] + 1)
        ax.hist(eig, edges, weights=np.full(eig.size, 1.0 / (eig.size * np.diff(edges)[0])), color=COLORS[5],
                alpha=0.7, label=f"Hessian eigenvalues ($P = {data['n_params']}$)")
        ax.plot(data["x"], data["bulk_pdf"], color="k", lw=1.0,
                label=rf"MP fit to the bulk: $s^2 = {data['mp_scale']:.3g}$, $q = {data['mp_ratio']:.3g}$")
        ax.plot(out, np.zeros_like(out), "|", color=COLORS[1], ms=10, mew=1.0, clip_on=False, zorder=4,
                label=f"{out.size} outliers")
        mant, expo = f"{data['gradient_norm']:.0e}".split("e")
        ax.set(xlabel=r"Hessian eigenvalue $\lambda$", ylabel=r"density", ylim=(0.0, None),
               title=rf"Trained $A\,\tanh(Wx)$: $h = {data['n_hidden']}$, $d = {data['n_features']}$, "
                     rf"$N = {data['n_data']}$, $|\nabla L| = {mant}\times 10^{{{int(expo)}}}$")
        ax.legend(loc="upper right")
    return fig


def batch_size_data(quick: bool = False, seed=0) -> dict:
    r"""Top eigenvalue of the least-squares minibatch Hessian :math:`X_B^\top X_B/B` against B: samples, limits.

    ``curves``: the MP edge :math:`c(1+\sqrt{P/B})^2`, the edge plus the
    Tracy-Widom mean, and the Wigner approximation :math:`c(1+2\sqrt{P/B})` on
    ``grid`` (:func:`theory.batch_size.least_squares_batch_top_eigenvalue`);
    ``rules``: the linear and square-root learning-rate rules from the smallest
    batch size's :math:`2/\lambda_{\max}`.
    """
    p = sizes(BATCH, quick)
    n_params, c = p["n_params"], p["scale"]
    b = np.asarray(p["batch_sizes"])
    with single_threaded_blas():
        est = [simulate_least_squares_batch_top(int(bb), n_params, p["n_data"], scale=c,
                                                n_matrices=p["n_matrices"],
                                                seed=derive(seed, "spectra.batch_size", i))
               for i, bb in enumerate(b)]
    top, err = _values(est)
    grid = np.geomspace(b[0] / 1.5, b[-1] * 1.5, 300)
    curves = []
    for kw in ({}, {"finite_size": True}, {"model": "wigner"}):
        g = grid[grid >= 2] if kw.get("finite_size") else grid
        curves.append({"grid": g, "top": bsz.least_squares_batch_top_eigenvalue(g, n_params, c, **kw)})
    lr0 = 2.0 / top[0]
    rules = {rule: bsz.lr_batch_scaling(grid, b[0], lr0, rule) for rule in ("sgd", "adam")}
    return {"n_params": n_params, "scale": c, "n_data": p["n_data"], "n_matrices": p["n_matrices"],
            "batch_sizes": b, "top": top, "top_se": err, "grid": grid, "curves": curves, "rules": rules}


@figure("spectra.batch_size", title="Top eigenvalue of the least-squares minibatch Hessian and the max stable lr vs B",
        compute=batch_size_data, params=lambda quick: sizes(BATCH, quick))
def batch_size(data):
    n_params, c, b, top, err, grid = (data[k] for k in ("n_params", "scale", "batch_sizes", "top", "top_se", "grid"))
    styles = ((COLORS[0], "-", r"MP edge $c(1+\sqrt{P/B})^2$", r"$2/$MP edge"),
              (COLORS[0], "--", "MP edge + Tracy-Widom mean", None),
              (COLORS[2], ":", r"Wigner approx. $c(1+2\sqrt{P/B})$", r"$2/$Wigner approx."))
    with style():
        fig, (a, r) = panel_pair(rf"Least-squares minibatch Hessian $H_B = X_B^\top X_B/B$: $P = {n_params}$, "
                                 rf"$N = {data['n_data']}$, features of variance $c = {c:g}$, "
                                 rf"{data['n_matrices']} draws")
        for (color, ls, label_a, label_b), curve in zip(styles, data["curves"]):
            g, y = curve["grid"], curve["top"]
            a.plot(g, y, color=color, ls=ls, label=label_a)
            r.plot(g, 2.0 / y, color=color, ls=ls, label=label_b)
        for ax, y, va in ((a, 0.06, "bottom"), (r, 0.99, "top")):
            ax.axvline(n_params, color="0.6", lw=0.6, ls="-.")
            ax.text(n_params, y, " $B = P$", transform=ax.get_xaxis_transform(), va=va, fontsize=6.5, color="0.4")
        a.axhline(c, color="0.4", lw=0.7, ls="--", label=r"full-population $\lambda_{\max}(H) = c$")
        sim_points(a, b, top, err, color=COLORS[1])
        # 2/lambda: delta-method standard error 2 se / lambda^2
        sim_points(r, b, 2.0 / top, 2.0 * err / top**2, color=COLORS[1])
        lr0 = 2.0 / top[0]
        for rule, ls in (("sgd", (0, (5, 2))), ("adam", (0, (1, 1.5)))):
            r.plot(grid, data["rules"][rule], color="0.45", lw=0.8, ls=ls,
                   label=("linear" if rule == "sgd" else "square-root") + rf" rule from $B = {b[0]}$")
        a.set(xscale="log", yscale="log", xlabel=r"batch size $B$", ylabel=r"$\lambda_{\max}(H_B)$",
              title="sharpness of the minibatch Hessian")
        r.set(xscale="log", yscale="log", ylim=(0.5 * lr0, 4.0 / c), xlabel=r"batch size $B$",
              ylabel=r"max stable lr $2/\lambda_{\max}(H_B)$", title="largest stable learning rate")
        for ax in (a, r):
            ax.yaxis.set_major_locator(mticker.LogLocator(subs=(1.0, 2.0, 5.0)))
            ax.yaxis.set_major_formatter(mticker.FormatStrFormatter("%g"))
            ax.yaxis.set_minor_formatter(mticker.NullFormatter())
        a.legend(loc="upper right")
        r.legend(loc="lower right")
    return fig
