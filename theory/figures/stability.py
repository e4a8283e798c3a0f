r"""Figures of the stability theory of GD and VGD on a quadratic.

GD with learning rate :math:`\eta` is stable along an eigen-direction iff
:math:`\lambda < 2/\eta`; one VGD step lowers the expected loss along it iff
:math:`\lambda < (2/\eta)\,\mathrm{VF}(z)`, :math:`z = N_s g^2/\sigma^2`
(Ghosh et al. 2025, *Variational Learning Finds Flatter Solutions at the Edge
of Stability*, Section 3). Curves are the closed forms of :mod:`theory.vgd` and
:mod:`theory.quadratic`; points are Monte Carlo estimates from
:func:`theory.simulators.simulate_vgd` with error bars of ± 2 standard errors.
Each figure is a ``<name>_data(quick, seed)`` function computing its data and
the drawing function registered with it.
"""

from __future__ import annotations

import numpy as np

from .. import quadratic, vgd
from ..rng import derive
from ..simulators import simulate_vgd
from .core import figure
from ._style import COLORS, DOUBLE, SIM_LABEL, SINGLE, new_figure, panel_label, residual_axes, sim_points, style

__all__: list[str] = []

# The worked example: g = 1, lr = 0.1, sigma = 0.1, Ns = 1 gives z = 100, VF = 1/2, threshold 10.
LR = 0.1
G = 1.0
SIGMA = 0.1
N_SAMPLES = 1
DOF = 10.0  # Student-t: the s.e. of a loss change needs E[e^8] < inf, i.e. dof > 8


def _n_runs(quick: bool, full: int) -> int:
    return 2_000 if quick else full


def _runs_params(full: int):
    return lambda quick: {"n_runs": _n_runs(quick, full)}


# -- variational_factor -------------------------------------------------------------------------------------

def variational_factor_data(quick: bool = False, seed=0) -> dict:
    r""":math:`\mathrm{VF}(z)` at several :math:`\eta` and its small-:math:`z` asymptote :math:`(z\eta^2/4)^{1/3}`."""
    z = np.logspace(-4, 6, 400)
    lrs = (0.01, 0.1, 1.0, 2.0)
    return {"z": z, "lrs": lrs, "vf": np.array([vgd.variational_factor(z, lr) for lr in lrs]),
            "asymptote": np.array([(z * lr**2 / 4.0) ** (1.0 / 3.0) for lr in lrs])}


@figure("stability.variational_factor", title="The variational factor VF(z) and its asymptotes",
        compute=variational_factor_data)
def variational_factor(data):
    z = data["z"]
    with style():
        fig, ax = new_figure(SINGLE, 2.6)
        for color, lr, vf, asym in zip(COLORS, data["lrs"], data["vf"], data["asymptote"]):
            ax.plot(z, vf, color=color, label=rf"$\eta = {lr:g}$")
            keep = asym < 1.6
            ax.plot(z[keep], asym[keep], color=color, ls=":", lw=0.9)
        ax.axhline(1.0, color="k", ls="--", lw=0.8)
        ax.plot([], [], color="0.3", ls=":", lw=0.9, label=r"$(z\eta^2/4)^{1/3}$, small $z$")
        ax.plot([], [], color="k", ls="--", lw=0.8, label=r"VF $\to 1$ (GD), large $z$")
        ax.plot([100.0], [0.5], "o", color="k", ms=3.5, zorder=4,
                label=r"$\mathrm{VF}(100) = 1/2$ at $\eta = 0.1$")
        ax.set(xscale="log", yscale="log", xlim=(z[0], z[-1]), ylim=(1e-3, 2.0),
               xlabel=r"$z = N_s g^2/\sigma^2$", ylabel=r"$\mathrm{VF}(z)$",
               title="Variational factor")
        ax.legend(loc="lower right", ncols=1)
    return fig


# -- vgd_threshold ------------------------------------------------------------------------------------------

def vgd_threshold_data(quick: bool = False, seed=0) -> dict:
    r"""The VGD threshold :math:`(2/\eta)\,\mathrm{VF}` against :math:`\sigma` (several :math:`N_s`) and :math:`N_s`."""
    sigma = np.logspace(-3, 1, 300)
    ns = np.unique(np.round(np.logspace(0, 4, 300)))
    n_list, s_list = (1, 4, 16, 64, 256), (0.03, 0.1, 0.3, 1.0, 3.0)
    return {"gd": float(quadratic.gd_threshold(LR)), "sigma": sigma, "ns": ns, "n_list": n_list, "s_list": s_list,
            "by_sigma": np.array([vgd.vgd_threshold(LR, sigma, G**2, n) for n in n_list]),
            "by_ns": np.array([vgd.vgd_threshold(LR, s, G**2, ns) for s in s_list]),
            "star": float(vgd.vgd_threshold(LR, SIGMA, G**2, N_SAMPLES))}  # = 10: VF = 1/2


@figure("stability.vgd_threshold", title="The VGD threshold (2/lr) VF against sigma and n_samples",
        compute=vgd_threshold_data)
def vgd_threshold(data):
    gd, sigma, ns, star = data["gd"], data["sigma"], data["ns"], data["star"]
    with style():
        fig, (a, b) = new_figure(DOUBLE, 2.6, ncols=2, sharey=True)
        for color, n, y in zip(COLORS, data["n_list"], data["by_sigma"]):
            a.plot(sigma, y, color=color, label=rf"$N_s = {n}$")
        for color, s, y in zip(COLORS, data["s_list"], data["by_ns"]):
            b.plot(ns, y, color=color, label=rf"$\sigma = {s:g}$")
        for ax, x0 in ((a, SIGMA), (b, N_SAMPLES)):
            ax.axhline(gd, color="k", ls="--", lw=0.8, label=r"GD: $2/\eta$")
            ax.plot([x0], [star], "o", color="k", ms=3.5, zorder=4,
                    label=rf"$\mathrm{{VF}} = 1/2$ ($\sigma = {SIGMA:g}$, $N_s = {N_SAMPLES}$)")
        a.set(xscale="log", yscale="log", xlim=(sigma[0], sigma[-1]), ylim=(0.22, 30),
              xlabel=r"perturbation scale $\sigma$", ylabel=r"threshold $(2/\eta)\,\mathrm{VF}$ on $\lambda$",
              title=r"against $\sigma$")
        a.set_yticks([0.5, 1, 2, 5, 10, 20], labels=["0.5", "1", "2", "5", "10", "20"])
        a.set_yticks([], minor=True)
        b.set(xscale="log", xlim=(0.8, 1.25e4), xlabel=r"number of perturbations $N_s$",
              title=r"against $N_s$")
        b.tick_params(labelleft=True)
        a.legend(loc="lower left")
        b.legend(loc="lower right")
        panel_label(a, "a")
        panel_label(b, "b")
        fig.suptitle(rf"VGD threshold, $\eta = {LR:g}$, $g^2 = {G**2:g}$: directions with smaller "
                     r"$\lambda$ descend")
    return fig


# -- loss_change --------------------------------------------------------------------------------------------

def loss_change_data(quick: bool = False, seed=0) -> dict:
    r"""One VGD step's expected loss change against :math:`\lambda`: closed form and simulation.

    ``kinds`` holds, per perturbation law (Gaussian, Student-t), the closed form on
    ``lam``, the threshold, and at ``lam_sim`` the simulated change (``value`` ±
    ``stderr``) with the closed form ``exact`` there.
    """
    n_runs = _n_runs(quick, 100_000)
    lam = np.linspace(0.05, 22.0, 300)
    kinds = []
    # the Student-t law at the Gaussian's scale: heavier tails, so a larger standard deviation
    t_sigma = float(np.sqrt(vgd.perturbation_variance(SIGMA, DOF)))
    laws = ((np.inf, SIGMA, np.arange(1.0, 22.0, 2.0)), (DOF, t_sigma, np.arange(2.0, 22.0, 2.0)))
    for i, (dof, sigma, lam_sim) in enumerate(laws):
        est = [simulate_vgd(np.array([l]), np.array([G / l]), lr=LR, sigma=sigma, n_samples=N_SAMPLES,
                            dof=dof, n_steps=1, n_runs=n_runs,
                            seed=derive(seed, "stability.loss_change", i, j)).change_by_direction[1, 0]
               for j, l in enumerate(lam_sim)]
        kinds.append({"dof": dof, "sigma": sigma,
                      "curve": quadratic.expected_loss_change(lam, G, LR, sigma, N_SAMPLES, dof=dof),
                      "threshold": float(vgd.vgd_threshold(LR, sigma, G**2, N_SAMPLES, dof=dof)),
                      "lam_sim": lam_sim, "value": np.array([e.value for e in est]),
                      "stderr": np.array([e.stderr for e in est]),
                      "exact": quadratic.expected_loss_change(lam_sim, G, LR, sigma, N_SAMPLES, dof=dof)})
    return {"lam": lam, "gd_curve": quadratic.expected_loss_change(lam, G, LR),
            "gd": float(quadratic.gd_threshold(LR)), "kinds": kinds}


@figure("stability.loss_change", title="Expected one-step loss change against lambda: formula and simulation",
        compute=loss_change_data, params=_runs_params(100_000))
def loss_change(data):
    lam, gd = data["lam"], data["gd"]
    t_sigma = data["kinds"][1]["sigma"]
    styles = (("Gaussian", COLORS[0], "o"),
              (rf"Student-t, $\nu = {DOF:g}$, same scale ($\sigma = {t_sigma:.3g}$)", COLORS[1], "s"))
    with style():
        fig, (ax, res) = new_figure(SINGLE, 3.5, nrows=2, sharex=True, height_ratios=(3, 1.2))
        ax.axhline(0.0, color="0.4", lw=0.6, zorder=1)
        ax.plot(lam, data["gd_curve"], color="k", ls=":", lw=1.0, label=r"GD ($\sigma = 0$)")
        for ax_ in (ax, res):
            ax_.axvline(gd, color="k", ls="--", lw=0.8)
        ax.text(gd, 0.63, r"$2/\eta$ ", ha="right", va="top", fontsize=7)
        for i, ((name, color, marker), k) in enumerate(zip(styles, data["kinds"])):
            ax.plot(lam, k["curve"], color=color, label=name)
            thr = k["threshold"]
            for ax_ in (ax, res):
                ax_.axvline(thr, color=color, ls="--", lw=0.8)
            ax.text(thr, -0.135, f" {thr:.3g}" if i == 0 else f"{thr:.3g} ", ha="left" if i == 0 else "right",
                    va="bottom", fontsize=6.5, color=color)
            sim_points(ax, k["lam_sim"], k["value"], k["stderr"], color=color, marker=marker, label=None)
            sim_points(res, k["lam_sim"], k["value"] - k["exact"], k["stderr"], color=color, marker=marker,
                       label=None)
        ax.plot([], [], color="0.3", ls="--", lw=0.8, label=r"threshold $(2/\eta)\,\mathrm{VF}$")
        ax.errorbar([], [], yerr=[], fmt="o", color="0.3", markerfacecolor="white", markersize=3.2,
                    elinewidth=0.8, label=SIM_LABEL.replace("simulation ", "simulation\n"))
        ax.set(ylim=(-0.15, 0.65), ylabel=r"$\mathbb{E}[\ell(m_+)] - \ell(m)$",
               title=rf"One VGD step: $g = {G:g}$, $\eta = {LR:g}$, $\sigma = {SIGMA:g}$, $N_s = {N_SAMPLES}$")
        ax.legend(loc="upper left")
        residual_axes(res)
        res.ticklabel_format(axis="y", style="sci", scilimits=(-2, 2), useMathText=True)
        res.set(xlabel=r"eigenvalue $\lambda$", xlim=(0.0, 22.0))
        fig.align_ylabels((ax, res))
    return fig


# -- edge_of_stability --------------------------------------------------------------------------------------

def edge_of_stability_data(quick: bool = False, seed=0) -> dict:
    r"""GD on :math:`\mathrm{diag}(20, 1)` at three :math:`\eta` about :math:`2/20`: closed-form loss and iterates."""
    eig = np.array([20.0, 1.0])
    theta0 = np.array([0.4, 1.0])
    n_steps = 60
    steps = np.arange(n_steps + 1)
    runs = []
    for lr, what in ((0.095, "converges"), (0.1, "edge"), (0.105, "diverges")):
        it = [theta0]
        for _ in range(n_steps):
            it.append(it[-1] - lr * eig * it[-1])
        it = np.array(it)
        loss = quadratic.expected_loss(eig, theta0, lr, steps[:, None]).sum(axis=-1)
        runs.append({"lr": lr, "what": what, "loss": loss,
                     "iterates": it, "iterate_loss": (0.5 * eig * it**2).sum(axis=1)})
    return {"eig": eig, "theta0": theta0, "steps": steps, "runs": runs}


@figure("stability.edge_of_stability", title="GD on diag(20, 1) either side of the edge of stability lr = 2/20",
        compute=edge_of_stability_data)
def edge_of_stability(data):
    eig, theta0, steps = data["eig"], data["theta0"], data["steps"]
    n_steps = int(steps[-1])
    colors = {"converges": COLORS[0], "edge": "0.45", "diverges": COLORS[1]}
    with style():
        fig, (a, b) = new_figure(DOUBLE, 2.7, ncols=2, width_ratios=(1.1, 1))
        for run in data["runs"]:
            lr, what, it = run["lr"], run["what"], run["iterates"]
            color = colors[what]
            a.plot(steps, run["loss"], color=color, ls="--" if what == "edge" else "-",
                   label=rf"$\eta = {lr:g}$, $\eta\lambda_1 = {lr * eig[0]:.2g}$: {what}")
            a.plot(steps[::4], run["iterate_loss"][::4], "o", color=color, ms=2.4, mew=0)
            if what != "edge":
                k = 13
                b.plot(it[:k, 0], it[:k, 1], "-o", color=color, ms=2.6, lw=0.8, label=rf"$\eta = {lr:g}$")
        a.plot([], [], "o", color="0.3", ms=2.4, mew=0, label="direct iteration (every 4th step)")
        a.set(yscale="log", xlim=(0, n_steps), xlabel="iteration $t$", ylabel=r"loss $\ell(\theta_t)$",
              title=r"Loss: stable iff $\eta < 2/\lambda_1 = 0.1$")
        a.legend(loc="upper left")
        x = np.linspace(-1.6, 1.6, 301)
        y = np.linspace(-0.15, 1.1, 201)
        xx, yy = np.meshgrid(x, y)
        levels = np.array([0.02, 0.1, 0.3, 0.8, 2.1, 5.0, 10.0, 20.0])
        cs = b.contour(xx, yy, 0.5 * (eig[0] * xx**2 + eig[1] * yy**2), levels=levels, colors="0.6",
                       linewidths=0.5)
        b.clabel(cs, [5.0, 10.0, 20.0], fontsize=5.5, fmt="%g")
        b.plot(*theta0, "k*", ms=6, zorder=4, label=r"start $\theta_0$")
        b.plot(0, 0, "k+", ms=6, mew=0.8)
        b.set(xlim=(x[0], x[-1]), ylim=(y[0], y[-1]), xlabel=r"$\theta_1$ (along $\lambda_1 = 20$)",
              ylabel=r"$\theta_2$ (along $\lambda_2 = 1$)", title="First 12 iterates over the loss contours")
        b.legend(loc="lower right")
        panel_label(a, "a")
        panel_label(b, "b")
        fig.suptitle(r"GD on $\ell(\theta) = \frac{1}{2}\theta^\top Q\,\theta$, $Q = \mathrm{diag}(20, 1)$: "
                     r"the edge of stability $\eta = 2/\lambda_{\max}$")
    return fig


# -- loss_trajectory ----------------------------------------------------------------------------------------

def loss_trajectory_data(quick: bool = False, seed=0) -> dict:
    r"""VGD's loss per eigen-direction over 40 steps: closed form ``curve``, floors, simulation at steps ``at``."""
    eig = np.array([1.0, 5.0, 19.0, 21.0])
    mean0 = np.array([1.0, 1.0, 1.0, 0.05])
    lr, sigma, ns, n_steps = 0.1, 0.2, 2, 40
    n_runs = _n_runs(quick, 100_000)
    steps = np.arange(n_steps + 1)
    at = np.arange(4, n_steps + 1, 4)
    run = simulate_vgd(eig, mean0, lr=lr, sigma=sigma, n_samples=ns, n_steps=n_steps, n_runs=n_runs,
                       seed=derive(seed, "stability.loss_trajectory", 0))
    est = run.loss_by_direction[at]
    return {"eig": eig, "lr": lr, "sigma": sigma, "n_samples": ns, "steps": steps, "at": at,
            "curve": quadratic.expected_loss(eig, mean0, lr, steps[:, None], sigma, ns),
            "floor": np.array([quadratic.stationary_loss(lam, lr, sigma, ns) if lam < 2.0 / lr else np.nan
                               for lam in eig]),
            "value": np.asarray(est.value), "stderr": np.asarray(est.stderr)}


@figure("stability.loss_trajectory", title="VGD loss per eigen-direction over many steps: formula and simulation",
        compute=loss_trajectory_data, params=_runs_params(100_000))
def loss_trajectory(data):
    eig, lr, sigma, ns = data["eig"], data["lr"], data["sigma"], data["n_samples"]
    steps, at, curve = data["steps"], data["at"], data["curve"]
    n_steps = int(steps[-1])
    with style():
        fig, (ax, res) = new_figure(SINGLE, 3.7, nrows=2, sharex=True, height_ratios=(3, 1.2))
        for i, (lam, color) in enumerate(zip(eig, COLORS)):
            stable = lam < 2.0 / lr
            ax.plot(steps, curve[:, i], color=color,
                    label=rf"$\lambda = {lam:g}$" if stable else rf"$\lambda = {lam:g} > 2/\eta$")
            if stable:
                ax.axhline(data["floor"][i], color=color, ls="--", lw=0.8)
            value, stderr = data["value"][:, i], data["stderr"][:, i]
            dx = (i - 1.5) * 0.35
            sim_points(ax, at + dx, value, stderr, color=color, label=None)
            rel = curve[at, i]
            sim_points(res, at + dx, value / rel - 1.0, stderr / rel, color=color, label=None)
        ax.plot([], [], color="0.3", ls="--", lw=0.8, label="noise floor")
        ax.errorbar([], [], yerr=[], fmt="o", color="0.3", markerfacecolor="white", markersize=3.2,
                    elinewidth=0.8, label=SIM_LABEL.replace("simulation ", "simulation\n"))
        ax.set(yscale="log", ylabel=r"loss along $v_i$: $\mathbb{E}[\lambda_i (v_i^\top m_t)^2]\,/\,2$",
               title=rf"VGD: $\eta = {lr:g}$, $\sigma = {sigma:g}$, $N_s = {ns}$ ($2/\eta = {2 / lr:g}$)")
        ax.legend(loc="upper left", ncols=2, columnspacing=1.0)
        ax.set_ylim(2e-4, 1e6)
        residual_axes(res, "sim./formula $-$ 1")
        res.set(xlabel="step $t$", xlim=(-0.5, n_steps + 1))
        fig.align_ylabels((ax, res))
    return fig
