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
# # Your own model: a JAX network on real data, against every theory
#
# A network written here in JAX (not one shipped with the package), trained on
# 1,000 of scikit-learn's bundled handwritten digits, becomes a model of the
# package with `from_jax`; then every tool applies: training with tracked
# sharpness, curvature from Hessian-vector products alone, and `theory.diagnose`,
# which sets what it measures beside each theory's prediction. The docs page
# *Your own model* gives the conventions.

# %%
# %matplotlib inline
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits

jax.config.update("jax_enable_x64", True)  # once, before any array: the package needs float64

import theory
from theory.curvature import spectral_density
from theory.hessian_models import from_jax
from theory.simulators import GD, SAM, VGD, train

# %% [markdown]
# ## The model: a 64-32-10 tanh network with squared error

# %%
digits = load_digits()
x = digits.data[:1000] / 16.0
y = np.eye(10)[digits.target[:1000]]


def loss(params, batch):
    """Half the squared error summed over the 10 outputs, averaged over the batch."""
    xb, yb = batch
    hidden = jnp.tanh(xb @ params["w1"] + params["b1"])
    return 0.5 * jnp.mean(jnp.sum((hidden @ params["w2"] + params["b2"] - yb) ** 2, axis=1))


k1, k2 = jax.random.split(jax.random.key(0))
params = {"w1": jax.random.normal(k1, (64, 32)) / 8.0, "b1": jnp.zeros(32),
          "w2": jax.random.normal(k2, (32, 10)) / np.sqrt(32), "b2": jnp.zeros(10)}
model = from_jax(loss, params, (x, y))
model.n_params, model.n_data

# %% [markdown]
# ## Gradient descent at the edge of stability
#
# GD at $\eta = 0.085$: the sharpness (tracked by Lanczos on the network's
# Hessian-vector products, warm-started from the previous tracked step) rises
# until it meets $2/\eta$, then stays there while the loss keeps falling.

# %%
lr = 0.085
run = train(model, GD(), lr=lr, n_steps=3000, theta0=model.start, track_every=50, track=("sharpness",))
fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.2))
a.plot(run.tracked_steps, run.sharpness, color="k")
a.axhline(2 / lr, color="C3", ls="--", label=r"$2/\eta$")
a.set(xlabel="step", ylabel=r"$\lambda_{\max}$")
a.legend(frameon=False)
b.semilogy(run.steps, run.loss, color="k", lw=0.8)
b.set(xlabel="step", ylabel="training loss")
fig.tight_layout()
print(f"final sharpness {run.sharpness[-1]:.4g} against 2/lr = {2 / lr:.4g}; "
      f"HVPs per tracked step: {run.lanczos_hvps[0]} cold, then {int(np.median(run.lanczos_hvps[1:]))}")

# %% [markdown]
# ## Where it stands: `theory.diagnose`
#
# At the end of the run: the top eigenvalues against GD's edge and VGD's VF
# threshold at $\sigma = 0.02$ (it depends on the gradient's projection on each
# eigenvector: near a minimum the projections are small and VGD's edge
# collapses), the trace and $N_{\rm eff}(\alpha)$, the per-example gradient
# covariance $C$ against $H$ along the top eigenvectors (the theory of SGD's
# noise has $C \propto H$ near a minimum: equal ratios), and SGD's escape time
# over the first barrier along the sharpest direction at $B = 32$. Along that
# direction a tanh network's loss saturates far out, so the first maximum is
# high and the predicted time astronomically long: SGD does not leave this
# minimum along its sharpest direction.

# %%
d = theory.diagnose(model, lr=lr, optimizer=VGD(0.02), theta=run.final_theta, batch_size=32, alpha=1.0)
print(d)
print("SAM edge at rho = 0.05:", theory.diagnose(model, lr=lr, optimizer=SAM(0.05), theta=run.final_theta,
                                                  k=1).edges)
d.plot();

# %% [markdown]
# ## The spectrum from Hessian-vector products alone
#
# Stochastic Lanczos quadrature gives the spectral density without forming the
# $2410 \times 2410$ Hessian; the Gauss weights are the squared first components
# of each tridiagonal's eigenvectors. A bulk near zero and a few outliers, about
# as many as the classes, sit apart; `count_above` estimates how many lie above
# a level, with the standard error of the probes.

# %%
slq = spectral_density(model.hvp_operator(run.final_theta), n=model.n_params, n_probes=8, n_steps=80)
grid = np.linspace(-1, 26, 600)
plt.figure(figsize=(6.4, 3))
plt.semilogy(grid, np.maximum(slq.density(grid, 0.15), 1e-8), color="k")
plt.xlabel(r"$\lambda$")
plt.ylabel("density")
above = slq.count_above(5.0)
print(f"eigenvalues above 5: {float(above.value):.3g} +- {float(above.stderr):.2g}")
