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
# # Edge-of-stability dynamics: GD, VGD, IVON and SAM
#
# Whole trajectories on non-quadratic losses, with the sharpness (top Hessian
# eigenvalue, by Lanczos on exact Hessian-vector products) tracked against the
# thresholds of the package: $2/\eta$ for GD, the VF threshold for VGD,
# the adaptive edge $(2+2\beta_1)/((1-\beta_1)\eta)$ for IVON, and the
# SAM edge. The docs page *Edge-of-stability dynamics* derives them.

# %%
# %matplotlib inline
import numpy as np

from theory import ivon, sam
from theory.backend import single_threaded_blas
from theory.checks.dynamics import network
from theory.figures import registry
from theory.hessian_models import ScalarProduct
from theory.simulators.training import GD, IVON, SAM, VGD, train

SEED = 2025

# %% [markdown]
# ## The two-parameter model
#
# $L = \frac12(uv - 1)^2$: on the minimum manifold $uv = 1$ the sharpness is
# $u^2 + v^2$. Gradient flow conserves $u^2 - v^2$; GD with a step whose edge
# $2/\eta$ lies below the sharpness gradient flow would reach lands
# somewhere flatter (a "catapult").

# %%
model = ScalarProduct()
theta0 = np.array([2.5, 0.2])
print("gradient flow would end at sharpness", model.gradient_flow_sharpness(theta0))
for lr in (0.05, 0.3, 0.4):
    run = train(model, GD(), lr=lr, n_steps=3000, theta0=theta0, track=("sharpness",))
    print(f"lr={lr}: 2/lr = {2 / lr:.3g}, final sharpness {run.sharpness[-1]:.4g}, final loss {run.loss[-1]:.2e}")

# %% [markdown]
# ## GD on a small network: progressive sharpening, then the edge
#
# The network of the checks: 60 examples, 16 tanh units ($P = 96$).

# %%
net, start = network()
with single_threaded_blas():
    for lr in (0.1, 0.6, 0.8):
        run = train(net, GD(), lr=lr, n_steps=2000, theta0=start, track=("sharpness",), track_every=40)
        s = run.sharpness
        print(f"lr={lr}: 2/lr = {2 / lr:.3g}; sharpness {s[0]:.3g} -> median of the 2nd half {np.median(s[s.size // 2:]):.4g}")

# %% [markdown]
# ## VGD hovers below 2/lr, lower for larger sigma
#
# The prediction is the VF threshold evaluated on the trajectory's own
# gradient along the top eigenvector, recorded as `threshold`.

# %%
with single_threaded_blas():
    for sigma in (0.01, 0.03):
        run = train(net, VGD(sigma), lr=0.6, n_steps=2000, theta0=start, seed=SEED,
                    track=("sharpness", "threshold"), track_every=40)
        h = run.sharpness.size // 2
        print(f"sigma={sigma}: plateau {np.median(run.sharpness[h:]):.4g}, VF threshold {np.median(run.threshold[h:]):.4g}, "
              f"2/lr = {2 / 0.6:.4g}")

# %% [markdown]
# ## IVON: the preconditioned sharpness and its edge
#
# With momentum $\beta_1$ the edge is $(2 + 2\beta_1)/((1-\beta_1)\eta)$:
# $2/\eta$ only at $\beta_1 = 0$.

# %%
for beta1 in (0.0, 0.9):
    print(f"beta1={beta1}: adaptive edge at lr=0.3 = {ivon.adaptive_threshold(0.3, beta1):.4g}")
with single_threaded_blas():
    run = train(net, IVON(ess=1e4, beta1=0.0), lr=0.3, n_steps=2000, theta0=start, seed=SEED,
                track=("adaptive_sharpness",), track_every=40)
print("max preconditioned sharpness in the 2nd half:", run.adaptive_sharpness[run.adaptive_sharpness.size // 2:].max())

# %% [markdown]
# ## SAM's edge on a quadratic
#
# USAM multiplies the component along $\lambda$ by $1 - \eta\lambda(1 + \rho\lambda)$;
# normalized SAM replaces $\rho$ by $\rho/\lVert g\rVert$.

# %%
lr = 0.1
for rho in (0.0, 0.05, 0.5):
    print(f"rho={rho}: USAM edge {sam.usam_threshold(lr, rho):.5g}, SAM edge at |g|=1: {sam.sam_threshold(lr, rho, 1.0):.5g}")
with single_threaded_blas():
    run = train(net, SAM(0.05), lr=0.6, n_steps=2000, theta0=start, track=("sharpness",), track_every=40)
print("SAM on the network: final sharpness", run.sharpness[-1], "(GD's edge", 2 / 0.6, ")")

# %% [markdown]
# ## Figures

# %%
for name, fig in registry().items():
    if name.startswith("dynamics."):
        fig.draw(fig.compute(quick=True, seed=SEED))
