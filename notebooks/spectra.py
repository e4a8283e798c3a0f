# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The Hessian spectrum: Marchenko-Pastur, outliers, gradient noise
#
# This notebook walks through the random-matrix theory in
# `theory.marchenko_pastur`, `theory.sharpness`, `theory.batch_size` and
# `theory.hessian_models`, with the simulators of `theory.simulators` as the
# Monte Carlo twins. Conventions (the docs page *The Hessian spectrum*
# derives everything): $X$ is $N\times P$ with entries of variance $s^2$,
# $W = X^\top X/N$, $q = P/N$.

# %%
# %matplotlib inline
import numpy as np

from theory import batch_size, marchenko_pastur as mp, sharpness
from theory.figures import registry
from theory.hessian_models import TwoLayerNetwork, gaussian_mixture, trained_spectrum
from theory.simulators import (least_squares_problem, minibatch_noise, sample_wishart_eigenvalues,
                               gaussianity_scan)

SEED = 2025  # every random number below derives from this seed

# %% [markdown]
# ## The law as a distribution object
#
# `MarchenkoPastur(ratio, scale)` behaves like a frozen `scipy.stats`
# distribution. For $q > 1$ the atom $1 - 1/q$ at zero is part of the cdf,
# the quantiles, the samples and the moments.

# %%
for q in (0.5, 2.5):
    law = mp.MarchenkoPastur(q, scale=2.0)
    print(law, "support", law.support(), "atom", law.atom)
    print("  mean", law.mean(), "var", law.var(), "E[x^3]", law.moment(3))
    print("  cdf(0) =", law.cdf(0.0), " ppf(0.5) =", law.ppf(0.5), " pdf(0) =", law.pdf(0.0))

# %% [markdown]
# The Stieltjes transform solves $s^2 q z m^2 + (z - s^2(1-q))m + 1 = 0$ on the
# branch with $\operatorname{Im} m > 0$ above the real axis.

# %%
law = mp.MarchenkoPastur(0.5, scale=2.0)
z = np.array([1.0 + 0.5j, -3.0 + 0j, 10.0 + 1e-9j])
m = law.stieltjes(z)
print(m)
print("residual of the quadratic:", abs(2.0 * 0.5 * z * m**2 + (z - 2.0 * 0.5) * m + 1))

# %% [markdown]
# ## Sampled spectra against the law
#
# Eigenvalues of one matrix repel each other, so statistics are taken per
# matrix and compared across independent matrices. The empirical cdf at the
# median of the law, at two sizes, shows the $1/P$ finite-size bias that the
# check `mp.cdf` removes by extrapolation.

# %%
x_med = law.ppf(0.5)
for p in (100, 200, 400):
    s = sample_wishart_eigenvalues(2 * p, p, 100, scale=2.0, seed=[SEED, p])
    est = s.linear_statistic(lambda lam: lam <= x_med)
    print(f"P={p}: mean empirical cdf at the median {float(est.value):.5f} ± {float(est.stderr):.5f}")

# %% [markdown]
# ## The effective number of parameters
#
# $N_{\rm eff}(\alpha) = \sum\lambda/(\lambda+\alpha) = P(1 - \alpha m(-\alpha))$:
# for $q = 1/2$, $s^2 = 2$, $\alpha = 0.3$ and $P = 1000$ it is exactly 800.

# %%
print(mp.mp_effective_number(0.3, ratio=0.5, n_params=1000, scale=2.0))
s = sample_wishart_eigenvalues(2000, 1000, 4, scale=2.0, seed=SEED)
print(sharpness.effective_number(s.eigenvalues, 0.3))  # per matrix

# %% [markdown]
# ## Outliers: the BBP transition
#
# A population spike $\ell$ separates from the bulk when $\ell > 1 + \sqrt q$.

# %%
q = 0.5
print("threshold", mp.bbp_threshold(q))
for ell in (1.5, 3.0, 5.0):
    s = sample_wishart_eigenvalues(800, 400, 20, spikes=[ell], seed=[SEED, int(10 * ell)])
    top, ov = s.top_eigenvalue(), s.overlap()
    print(f"ell={ell}: top {float(top.value):.3f} ± {float(top.stderr):.3f} (formula {mp.spike_eigenvalue(ell, q):.3f}), "
          f"overlap {float(ov.value):.3f} ± {float(ov.stderr):.3f} (formula {mp.spike_overlap(ell, q):.3f})")

# %% [markdown]
# Below the threshold ($\ell = 1.5$) the top eigenvalue sits at the bulk edge
# $(1+\sqrt q)^2 = 2.914$, a little below it at finite size (Tracy-Widom), and
# the overlap is small.
#
# ## Minibatch gradient noise
#
# On least squares, the covariance of the minibatch gradient is exactly
# $\frac{N-B}{B(N-1)}C$ (sampling without replacement), and $C\approx\sigma^2 H$.

# %%
prob = least_squares_problem(2000, [4.0, 2.0, 1.0, 0.5], noise=0.7, seed=SEED)
w = prob.minimum()
for b in (4, 32, 256):
    run = minibatch_noise(prob, w, b, 5000, seed=[SEED, b], keep_samples=False)
    print(f"B={b}: tr Cov = {float(run.trace.value):.5f} ± {float(run.trace.stderr):.5f}, "
          f"theory {run.theory_trace:.5f}; tr C / tr H = {float(run.hessian_scale.value):.4f} "
          f"(sigma^2 = {0.7**2}); cosine with H {run.hessian_cosine:.4f}")

# %% [markdown]
# Is the noise Gaussian? With Gaussian features the Anderson-Darling test stops
# rejecting at a moderate batch size; with heavy-tailed features (Student-t,
# 1.5 degrees of freedom: infinite variance) it never does.

# %%
for dof in (np.inf, 1.5):
    p2 = least_squares_problem(4000, [1.0, 1.0, 1.0], noise=0.5, feature_dof=dof, seed=SEED)
    scan = gaussianity_scan(p2, p2.minimum(), [4, 16, 64, 256], 2000, replace=True, seed=SEED)
    print(f"feature dof {dof}: onset of Gaussianity at B = {scan.onset}")

# %% [markdown]
# ## The minibatch Hessian and the learning rate
#
# For least squares the minibatch Hessian $X_B^\top X_B/B$ is a Wishart matrix
# of ratio $P/B$: its top eigenvalue is the Marchenko-Pastur edge, and the
# largest stable learning rate $2/\lambda_{\max}$ grows about linearly with $B$
# while $B \ll P$.

# %%
for b in (10, 50, 200, 1000):
    top = batch_size.least_squares_batch_top_eigenvalue(b, 100)
    print(f"B={b}: lambda_max = {top:.3f}, max stable lr = {2 / top:.4f}")

# %% [markdown]
# ## A trained network: bulk plus outliers
#
# The exact Hessian of a small two-layer network trained on four Gaussian
# classes: the eigenvalues that stand out of the bulk come from the class
# structure.

# %%
x, y = gaussian_mixture(400, 10, 4, seed=SEED)
res = trained_spectrum(TwoLayerNetwork(x, y, 8), seed=SEED)
lam = res.eigenvalues
print("converged", res.converged, "gradient norm", res.gradient_norm)
print("largest eigenvalues", np.round(lam[-20:][::-1], 3))
print("N_eff at alpha = 0.01:", sharpness.effective_number(lam, 0.01, negative="clip"), "of", lam.size)

# %% [markdown]
# ## Figures
#
# Every figure of this theory, drawn small (`theory figures --only spectra`
# draws them at full size).

# %%
for name, fig in registry().items():
    if name.startswith("spectra."):
        fig.draw(fig.compute(quick=True, seed=SEED))
