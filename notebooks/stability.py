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
# # Stability of GD and variational GD on a quadratic
#
# This notebook walks through the stability theory implemented in
# `theory.quadratic` and `theory.vgd`: the edge of stability of gradient descent
# (GD), the shifted threshold of variational GD (VGD), and what Student-t
# perturbations change. Every formula is checked against a Monte Carlo
# simulation (`theory.simulators.simulate_vgd`) through its standard error.
#
# Throughout, the loss is $\ell(\theta) = \frac12 \theta^\top Q \theta$ with
# $Q = \sum_i \lambda_i v_i v_i^\top$, and $\eta$ (`lr`) is the learning rate.

# %%
# %matplotlib inline
import numpy as np

from theory import quadratic, vgd
from theory.rng import derive
from theory.simulators import simulate_vgd

SEED = 2025  # every random number below derives from this seed

# %% [markdown]
# ## 1. GD: the edge of stability $2/\eta$
#
# A GD step $\theta_+ = \theta - \eta Q\theta$ multiplies the coordinate along
# $v_i$ by $1 - \eta\lambda_i$, so the loss along $v_i$ is multiplied by
# $(1-\eta\lambda_i)^2$. GD is stable iff every $\lambda_i < 2/\eta$: this is
# the *edge of stability*.

# %%
lr = 0.1
print("edge of stability 2/lr =", quadratic.gd_threshold(lr))
eigvals = np.array([1.0, 19.0, 20.0, 21.0])
print("per-step loss factor (1 - lr*lambda)^2:", quadratic.gd_loss_factor(eigvals, lr))

# %% [markdown]
# ## 2. VGD: the threshold $(2/\eta)\,\mathrm{VF}(z)$
#
# VGD moves the mean $m$ of a Gaussian $\mathcal N(m, \sigma^2 I)$ with the
# gradient averaged over $N_s$ perturbed points,
# $m_+ = m - \eta\,\frac1{N_s}\sum_k \nabla\ell(m + e_k)$,
# $e_k\sim\mathcal N(0,\sigma^2 I)$. On the quadratic the expected one-step
# change of the loss splits over eigen-directions; with $g_i = v_i^\top\nabla\ell(m)$,
#
# $$\mathbb E[\ell(m_+)] - \ell(m) = \sum_i \frac{\eta}{2}\Big[g_i^2(\eta\lambda_i - 2)
#   + \frac{\eta\lambda_i^3\sigma^2}{N_s}\Big].$$
#
# Term $i$ is negative iff $\lambda_i < (2/\eta)\,\mathrm{VF}(z_i)$ with the
# signal-to-noise ratio $z_i = N_s g_i^2/\sigma^2$ and the *variational factor*
#
# $$\mathrm{VF}(z) = \eta\sqrt{z/3}\,\sinh\Big(\tfrac13\operatorname{arcsinh}\big(\tfrac3\eta\sqrt{3/z}\big)\Big)
#   \in (0, 1).$$
#
# The noise lowers the threshold below the GD edge: VGD refuses sharp
# directions that GD would still descend. VF $\to 1$ as $z\to\infty$ (no noise:
# GD) and VF $\approx (z\eta^2/4)^{1/3}$ as $z\to 0$.
#
# The worked example: $g = 1$, $\eta = 0.1$, $\sigma = 0.1$, $N_s = 1$ gives
# $z = 100$, VF $= 1/2$ and the threshold $\lambda^* = 10$, half the GD edge.

# %%
g, sigma, n_samples = 1.0, 0.1, 1
z = vgd.signal_to_noise(g**2, sigma, n_samples)
print(f"z = {z:.6g}, VF = {vgd.variational_factor(z, lr):.6g}, threshold = {vgd.vgd_threshold(lr, sigma, g**2, n_samples):.6g}")
for lam in (5.0, 10.0, 15.0):
    print(f"lambda = {lam:4g}: expected one-step change {quadratic.expected_loss_change(lam, g, lr, sigma, n_samples):+.5f}")

# %% [markdown]
# The threshold can be inverted: the largest $\sigma$, or the smallest $N_s$,
# for which a direction still descends.

# %%
lam = 15.0
print("max sigma at lambda = 15:", vgd.max_sigma(lam, g**2, lr, n_samples))
print("min N_s at lambda = 15, sigma = 0.1:", int(vgd.min_n_samples(lam, g**2, lr, sigma)))

# %% [markdown]
# ## 3. Formula against simulation
#
# `simulate_vgd` takes VGD steps literally (draws the perturbations, evaluates
# the gradient at each perturbed point) over many independent runs and returns
# Monte Carlo means with standard errors. The z-score
# (simulation $-$ formula) / standard error should look like a standard normal
# draw: $|z| < 3$ almost always when the formula is right.

# %%
lams = np.array([5.0, 9.0, 11.0, 18.0])
print(" lambda   formula      simulation ± s.e.       z")
for j, lam in enumerate(lams):
    run = simulate_vgd(np.array([lam]), np.array([g / lam]), lr=lr, sigma=sigma, n_samples=n_samples,
                       n_steps=1, n_runs=100_000, seed=derive(SEED, "one step", j))
    est = run.change_by_direction[1, 0]
    exact = quadratic.expected_loss_change(lam, g, lr, sigma, n_samples)
    print(f"{lam:7g}  {exact:+.6f}   {est.value:+.6f} ± {est.stderr:.1e}   {est.z(exact):+.2f}")

# %% [markdown]
# Over many steps, each stable direction settles at a noise floor
# $\eta\lambda^2\sigma^2 / (2N_s(2-\eta\lambda))$ (`stationary_loss`), and a
# direction above $2/\eta$ diverges even in expectation.

# %%
eig = np.array([1.0, 5.0, 19.0])
mean0 = np.ones(3)
n_steps = 30
run = simulate_vgd(eig, mean0, lr=lr, sigma=0.2, n_samples=2, n_steps=n_steps, n_runs=20_000,
                   seed=derive(SEED, "trajectory"))
exact = quadratic.expected_loss(eig, mean0, lr, n_steps, 0.2, 2)
est = run.loss_by_direction[n_steps]
print("formula    :", exact)
print("simulation :", est.value, "± s.e.", est.stderr)
print("z-scores   :", np.round(est.z(exact), 2))
print("noise floor:", quadratic.stationary_loss(eig, lr, 0.2, 2))

# %% [markdown]
# ## 4. Student-t perturbations
#
# `sigma` is the standard deviation of the perturbation for every `dof`: a
# Student-t perturbation with $\nu > 2$ degrees of freedom is drawn at the
# scale $s = \sigma\sqrt{(\nu-2)/\nu}$, whose variance $s^2\nu/(\nu-2)$ is
# $\sigma^2$. On a quadratic only the second moment of the perturbation enters
# the expected loss, so at equal $\sigma$ the Student-t threshold is the
# Gaussian one. (For $\nu\le 2$ the variance is infinite and `dof` is
# refused.) The heavier tails show in the spread of the loss, hence in the
# larger standard errors of the simulation.

# %%
dof = 10.0
scale = vgd.perturbation_scale(sigma, dof)
print("scale of the t law:", scale, " its variance:", vgd.perturbation_variance(scale, dof), "=", sigma**2)
print("threshold Student-t:", vgd.vgd_threshold(lr, sigma, g**2, n_samples, dof=dof), " Gaussian: 10")
lam = 12.0
run = simulate_vgd(np.array([lam]), np.array([g / lam]), lr=lr, sigma=sigma, n_samples=n_samples, dof=dof,
                   n_steps=1, n_runs=100_000, seed=derive(SEED, "student-t"))
est = run.change_by_direction[1, 0]
exact = quadratic.expected_loss_change(lam, g, lr, sigma, n_samples, dof=dof)
print(f"lambda = 12: formula {exact:+.6f}, simulation {est.value:+.6f} ± {est.stderr:.1e}, z = {est.z(exact):+.2f}")

# %% [markdown]
# ## 5. Figures
#
# The package registers its figures; `theory figures --out DIR` writes them
# all as PNG and PDF. Here they are drawn with `quick=True` (small
# simulations, wider error bars). Error bars are $\pm 2$ standard errors.

# %%
from theory.figures import registry

figures = registry()
for name, fig in figures.items():
    print(f"{name:32s} {fig.title}")

# %%
figures["stability.variational_factor"].draw(figures["stability.variational_factor"].compute(quick=True, seed=SEED))

# %%
figures["stability.vgd_threshold"].draw(figures["stability.vgd_threshold"].compute(quick=True, seed=SEED))

# %%
figures["stability.loss_change"].draw(figures["stability.loss_change"].compute(quick=True, seed=SEED))

# %%
figures["stability.edge_of_stability"].draw(figures["stability.edge_of_stability"].compute(quick=True, seed=SEED))

# %%
figures["stability.loss_trajectory"].draw(figures["stability.loss_trajectory"].compute(quick=True, seed=SEED))
