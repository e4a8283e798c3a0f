r"""Figures of training dynamics: the edge of stability of GD, VGD, IVON and SAM, and the minima they reach.

Every trajectory is a literal run of :func:`theory.simulators.training.train`; the
learning rate is written :math:`\eta`. Unless stated otherwise the model is one
fixed small problem (``NETWORK`` below): a :class:`~theory.hessian_models.TwoLayerNetwork`
:math:`A\tanh(Wx)` with :math:`h = 12` hidden units on :math:`d = 7` inputs
(:math:`P = 96`), trained on 60 of 80 examples of
:func:`~theory.hessian_models.synthetic_regression` (targets times 3; the other 20
are the held-out set), started from :math:`N(0, 0.3^2)` weights (starting
sharpness 3.08). The figure ``seed`` drives the optimizers' noise (and, in the
comparison, the starts); the problem itself is fixed so that the numbers quoted
in the docs can be reproduced.

- ``dynamics.gd_edge_of_stability``: sharpness :math:`\lambda_{\max}` of GD at several
  :math:`\eta` against the iteration, each with its edge :math:`2/\eta` (dashed):
  progressive sharpening, then hovering at :math:`2/\eta` where that is reached;
  beside it the training loss (not monotone at the edge).
- ``dynamics.digits_edge``: the same on real data, GD on the 64-32-10 tanh
  network of :func:`theory.digits.digits_network` (JAX, :math:`P = 2410`, the
  first 1000 digits, half the squared error summed over the ten outputs) at two
  :math:`\eta` (``DIGITS_EDGE``): the sharpness falls in the first steps, rises
  and then stays at :math:`2/\eta`; beside it the loss, not monotone at the edge.
- ``dynamics.digits_vgd``: VGD (:math:`N_s = 1`) at several :math:`\sigma` on the
  same digits network at GD's edge step size (``DIGITS_VGD``): (a) sharpness
  against the iteration, GD's and each VGD run's, with each run's VF threshold
  :math:`(2/\eta)\,\mathrm{VF}(z_t)` (running median, dashed) and :math:`2/\eta`;
  (b) the plateau (median over the second half) against :math:`\sigma` over the
  same statistic of the threshold.
- ``dynamics.vgd_sharpness``: VGD at several :math:`\sigma`, fixed :math:`\eta`:
  sharpness and the trajectory's own VF threshold :math:`(2/\eta)\,\mathrm{VF}(z_t)`
  (a running median of ``Trajectory.threshold``); then the plateau sharpness (the
  median over the second half of each run; points: mean ± 2 s.e. across seeds)
  against :math:`\sigma` over the VF prediction (the same statistic of the
  threshold, line with a ± 2 s.e. band).
- ``dynamics.ivon_adaptive``: IVON's preconditioned ("adaptive") sharpness
  :math:`\lambda_{\max}(\mathrm{diag}(h+\delta)^{-1}H)` with its momentum edge
  ``adaptive_edge`` :math:`= (2+2\beta_1)/((1-\beta_1)\eta)` (:math:`2/\eta` at
  :math:`\beta_1 = 0`) and the VF threshold of its weight noise; and the loss.
- ``dynamics.sam_threshold``: (a) on a quadratic, the USAM threshold and the
  SAM-edge at several gradient norms against :math:`\rho` (closed forms of
  :mod:`theory.sam`), with points located by bisection on the literal iterations
  (:func:`theory.sam.locate_threshold`: USAM on :math:`\frac12\lambda\theta^2`, SAM
  with a flat linear direction holding :math:`\|g\|` fixed); (b) on the network,
  SAM's sharpness against the SAM-edge at its current gradient norm (running
  median) and USAM's against its constant threshold.
- ``dynamics.scalar_landscape``: GD on :math:`L = \frac12(uv-1)^2`
  (:class:`~theory.hessian_models.ScalarProduct`) over the loss contours, with the
  minimum manifold :math:`uv = 1`, the level set :math:`u^2+v^2 = 2/\eta` of the
  sharpness on it and the gradient-flow path :math:`u^2 - v^2 =` const: a small
  :math:`\eta` follows gradient flow, a large one catapults to a flatter minimum.
- ``dynamics.flatness_comparison``: the flatness measures of
  :func:`theory.simulators.training.flatness_comparison` reached by GD, SGD, SAM,
  VGD, IVON and G-TRACER from the same starts (small dots: seeds; points: mean ± 2
  s.e. across seeds).

Each figure is a ``<name>_data(quick, seed)`` function computing its data and
the drawing function registered with it. Sizes: ``quick=True`` computes each
figure in a few seconds (shorter runs, fewer seeds and grid points); the
default sizes take from under a second to about half a minute each on two cores.
"""

from __future__ import annotations

import matplotlib.ticker as mticker
import numpy as np

from .. import digits
from .. import hessian_models as hm
from .. import sam
from ..rng import derive
from ..stats import Moments
from ..simulators import training as tr
from .core import figure
from ._style import COLORS, DOUBLE, new_figure, panel_pair, sim_points, sizes, style

__all__: list[str] = []

# -- parameters (full sizes; "quick" overrides them) ------------------------------------------------------------

# The fixed problem: synthetic_regression(n_data, n_features, n_hidden=teacher_hidden, noise) with seed `seed`,
# split into train/test (test_fraction), targets times target_scale; student width n_hidden; start N(0, init^2).
NETWORK = {"n_data": 80, "n_features": 7, "teacher_hidden": 4, "noise": 0.1, "test_fraction": 0.25,
           "target_scale": 3.0, "n_hidden": 12, "init_scale": 0.3, "seed": 1}

GD_EOS = {"lrs": (0.1, 0.3, 0.6, 1.0), "n_steps": 4000, "track_every": 10,
          "quick": {"n_steps": 1200, "track_every": 20}}

# digits_edge: the network of theory.digits.digits_network (start seed `net_seed`), GD at lrs; the loss kept every
# loss_every steps (its spikes at the edge last tens of steps, and the stored data stays small)
DIGITS_EDGE = {"n_data": 1000, "hidden": 32, "loss": "mse", "net_seed": 0, "lrs": (0.085, 0.095), "n_steps": 8000,
               "track_every": 100, "loss_every": 5, "quick": {"n_steps": 600, "track_every": 50, "loss_every": 1}}

# digits_vgd: GD and VGD (N_s = 1) at sigmas on the digits_edge network at lr; running-median window of the threshold
DIGITS_VGD = {"n_data": 1000, "hidden": 32, "loss": "mse", "net_seed": 0, "lr": 0.085, "sigmas": (0.01, 0.02, 0.05),
              "n_steps": 4000, "track_every": 50, "window": 9, "quick": {"n_steps": 600, "window": 3}}

# vgd_sharpness: sigmas of panel (b) (panel (a) shows `shown`, seed 0), seeds per sigma
VGD_RUNS = {"lr": 0.6, "sigmas": (0.001, 0.003, 0.01, 0.02, 0.03, 0.05), "shown": (0.003, 0.01, 0.03),
            "seeds": 3, "n_steps": 3000, "track_every": 20, "window": 25,
            "quick": {"sigmas": (0.003, 0.03), "shown": (0.003, 0.03), "seeds": 2, "n_steps": 800, "window": 11}}

# ivon_adaptive: (beta1, lr, ess) per run; weight decay and beta2 are IVON's defaults
IVON_RUNS = {"runs": ((0.0, 0.3, 1e4), (0.5, 1.0, 3e4), (0.0, 0.6, 1e4)), "n_steps": 3000, "track_every": 20,
             "window": 25, "quick": {"n_steps": 800, "window": 11}}

# sam_threshold: (a) closed forms on a quadratic at lr, SAM-edge at grad_norms, points at `rhos` (bisection with
# `steps` iterations); (b) runs on the network: (label, rho, normalized)
SAM_RUNS = {"lr": 0.3, "grad_norms": (0.01, 0.1, 10.0), "rhos": tuple(np.logspace(-3, 1, 9)), "steps": 300,
            "runs": ((0.01, True), (0.05, True), (0.05, False)), "n_steps": 4000, "track_every": 20, "window": 11,
            "quick": {"rhos": tuple(np.logspace(-3, 1, 3)), "steps": 100, "n_steps": 1000}}

# scalar_landscape: start, a small and a large lr, steps
SCALAR = {"start": (2.8, 0.1), "lrs": (0.05, 0.3), "n_steps": 300}

# flatness_comparison: one lr for all; level of the count 1/lr (default); alpha of N_eff
FLATNESS = {"lr": 0.3, "n_steps": 4000, "seeds": 3, "alpha": 0.1, "batch_size": 10, "sam_rho": 0.05,
            "vgd_sigma": 0.01, "ivon_ess": 1e4, "gtracer_rho": 1e-3,
            "quick": {"n_steps": 400, "seeds": 2}}


# -- helpers ------------------------------------------------------------------------------------------------------

def _network(p=NETWORK):
    """(model, start, held-out data) of the fixed problem."""
    return hm.teacher_network(p["n_data"], p["n_features"], p["n_hidden"], target_scale=p["target_scale"],
                              init_scale=p["init_scale"], teacher_hidden=p["teacher_hidden"], noise=p["noise"],
                              test_fraction=p["test_fraction"], seed=p["seed"])


_NET_TEXT = r"two-layer tanh network, $P = 96$, $N = 60$"


def _running_median(x, window):
    """Median over a centred window of ``window`` (odd) points, narrowed at the ends to the points there are."""
    half = window // 2
    return np.array([np.median(x[max(0, i - half):i + half + 1]) for i in range(len(x))])


def _sci(x):
    """``x`` as TeX ``m\\times 10^{e}`` (``10^{e}`` when the mantissa is 1)."""
    mant, expo = f"{x:.0e}".split("e")
    return (r"10^{%d}" if mant == "1" else mant + r"\times 10^{%d}") % int(expo)


def _second_half(run, series):
    """Median of ``series`` (one entry per tracked step of ``run``) over the second half of the run."""
    return float(np.median(series[run.tracked_steps >= run.tracked_steps[-1] / 2]))


def _edge(ax, y, color, **kw):
    ax.axhline(y, color=color, ls=kw.pop("ls", "--"), lw=kw.pop("lw", 0.8), **kw)


def _proxy(ax, label, ls="--", color="0.3", lw=0.8):
    """A legend entry for a line style drawn in several colours."""
    ax.plot([], [], color=color, ls=ls, lw=lw, label=label)


def _log_sharpness_axis(ax, ticks, lim):
    ax.set_yscale("log")
    ax.set_yticks(ticks, labels=[f"{t:g}" for t in ticks])
    ax.set_yticks([], minor=True)
    ax.set_ylim(*lim)


def _loss_panel(ax, runs, colors, labels=None):
    """Training loss against the iteration, log scale (``runs``: dicts with ``steps`` and ``loss``)."""
    for i, (run, color) in enumerate(zip(runs, colors)):
        ax.plot(run["steps"], run["loss"], color=color, lw=0.7, label=None if labels is None else labels[i])
    ax.set(yscale="log", xlim=(0, runs[0]["steps"][-1]), xlabel="iteration $t$", ylabel=r"training loss $L(\theta_t)$",
           title="training loss")


# -- figures ------------------------------------------------------------------------------------------------------

def _series(run, *names) -> dict:
    """The arrays ``names`` of a Trajectory (``tracked_steps``, ``sharpness``, ...), with its lr and edge."""
    return {"lr": float(run.lr), "edge": float(run.edge), **{k: np.asarray(getattr(run, k)) for k in names}}


def gd_edge_of_stability_data(quick: bool = False, seed=0) -> dict:
    r"""GD at several :math:`\eta` on the fixed network: sharpness and loss against the iteration."""
    p = sizes(GD_EOS, quick)
    net, theta0, _ = _network()
    runs = [tr.train(net, tr.GD(), lr=lr, n_steps=p["n_steps"], theta0=theta0, track_every=p["track_every"],
                     track=("sharpness",)) for lr in p["lrs"]]
    return {"lrs": p["lrs"], "n_steps": p["n_steps"],
            "runs": [_series(r, "tracked_steps", "sharpness", "steps", "loss") for r in runs]}


@figure("dynamics.gd_edge_of_stability",
        title="GD on a small network: progressive sharpening to the edge of stability 2/lr, and the loss",
        compute=gd_edge_of_stability_data, params=lambda quick: sizes(GD_EOS, quick))
def gd_edge_of_stability(data):
    runs = data["runs"]
    with style():
        fig, (a, b) = panel_pair(rf"GD on a {_NET_TEXT}: sharpness rises until it meets $2/\eta$, then hovers there")
        for run, color in zip(runs, COLORS):
            a.plot(run["tracked_steps"], run["sharpness"], color=color,
                   label=rf"$\eta = {run['lr']:g}$: $2/\eta = {run['edge']:.3g}$")
            _edge(a, run["edge"], color)
        _proxy(a, r"edge of stability $2/\eta$")
        _log_sharpness_axis(a, (2, 3, 4, 6, 10, 20), (1.7, 25))
        a.set(xlim=(0, data["n_steps"]), xlabel="iteration $t$", ylabel=r"sharpness $\lambda_{\max}(\nabla^2 L)$",
              title=r"sharpness and $2/\eta$ (dashed)")
        a.legend(loc="upper right", ncols=2, columnspacing=1.0)
        _loss_panel(b, runs, COLORS, [rf"$\eta = {lr:g}$" for lr in data["lrs"]])
        b.legend(loc="lower left")
    return fig


def digits_edge_data(quick: bool = False, seed=0) -> dict:
    r"""GD at two :math:`\eta` on the digits network: sharpness (Lanczos) and loss against the iteration."""
    p = sizes(DIGITS_EDGE, quick)
    with digits.x64_mode():  # JAX's 64-bit mode for these runs only
        net = digits.digits_network(p["n_data"], p["hidden"], p["loss"], seed=p["net_seed"])
        runs = [tr.train(net, tr.GD(), lr=lr, n_steps=p["n_steps"], theta0=net.start, seed=seed,
                         track_every=p["track_every"], track=("sharpness",), top_k=1) for lr in p["lrs"]]
    keep = slice(None, None, p["loss_every"])
    return {"lrs": p["lrs"], "n_steps": p["n_steps"], "n_data": p["n_data"], "hidden": p["hidden"],
            "n_params": int(net.n_params),
            "runs": [{**_series(r, "tracked_steps", "sharpness"), "steps": r.steps[keep], "loss": r.loss[keep]}
                     for r in runs]}


@figure("dynamics.digits_edge",
        title="GD on a 64-32-10 tanh network on real digits: sharpness rises to 2/lr and stays there; the loss",
        compute=digits_edge_data, params=lambda quick: sizes(DIGITS_EDGE, quick), stored=True)
def digits_edge(data):
    runs = data["runs"]
    net = rf"64-{data['hidden']}-10 tanh network on {data['n_data']} digits ($P = {data['n_params']}$)"
    with style():
        fig, (a, b) = panel_pair(rf"GD on a {net}: sharpness rises to $2/\eta$ and stays there")
        for run, color in zip(runs, COLORS):
            a.plot(run["tracked_steps"], run["sharpness"], color=color,
                   label=rf"$\eta = {run['lr']:g}$: $2/\eta = {run['edge']:.4g}$")
            _edge(a, run["edge"], color)
        _proxy(a, r"edge of stability $2/\eta$")
        top = max(max(r["edge"] for r in runs), max(float(np.max(r["sharpness"])) for r in runs))
        a.set(xlim=(0, data["n_steps"]), ylim=(0.75 * min(float(np.min(r["sharpness"])) for r in runs), 1.08 * top),
              xlabel="iteration $t$", ylabel=r"sharpness $\lambda_{\max}(\nabla^2 L)$",
              title=r"sharpness and $2/\eta$ (dashed)")
        a.legend(loc="lower right")
        _loss_panel(b, runs, COLORS, [rf"$\eta = {lr:g}$" for lr in data["lrs"]])
        b.legend(loc="upper right")
    return fig


def digits_vgd_data(quick: bool = False, seed=0) -> dict:
    r"""GD and VGD at each :math:`\sigma` on the digits network: sharpness and VF threshold against the iteration."""
    p = sizes(DIGITS_VGD, quick)
    kw = dict(lr=p["lr"], n_steps=p["n_steps"], track_every=p["track_every"], top_k=1)
    with digits.x64_mode():  # JAX's 64-bit mode for these runs only
        net = digits.digits_network(p["n_data"], p["hidden"], p["loss"], seed=p["net_seed"])
        gd = tr.train(net, tr.GD(), theta0=net.start, seed=seed, track=("sharpness",), **kw)
        runs = [tr.train(net, tr.VGD(s), theta0=net.start, seed=derive(seed, "dynamics.digits_vgd", i),
                         track=("sharpness", "threshold"), **kw) for i, s in enumerate(p["sigmas"])]
    return {"lr": p["lr"], "sigmas": np.asarray(p["sigmas"]), "n_steps": p["n_steps"], "window": p["window"],
            "n_data": p["n_data"], "hidden": p["hidden"], "n_params": int(net.n_params),
            "gd": _series(gd, "tracked_steps", "sharpness"),
            "runs": [_series(r, "tracked_steps", "sharpness", "threshold") for r in runs],
            "plateau": np.array([_second_half(r, r.sharpness) for r in runs]),
            "predicted": np.array([_second_half(r, r.threshold) for r in runs])}


@figure("dynamics.digits_vgd",
        title="VGD on a 64-32-10 tanh network on real digits: sharpness settles below 2/lr, above its VF threshold",
        compute=digits_vgd_data, params=lambda quick: sizes(DIGITS_VGD, quick))
def digits_vgd(data):
    lr, sigmas, w = data["lr"], data["sigmas"], data["window"]
    net = rf"64-{data['hidden']}-10 tanh network on {data['n_data']} digits ($P = {data['n_params']}$)"
    with style():
        fig, (a, b) = panel_pair(rf"VGD ($N_s = 1$) on a {net}, $\eta = {lr:g}$ ($2/\eta = {2 / lr:.3g}$)")
        a.plot(data["gd"]["tracked_steps"], data["gd"]["sharpness"], color="0.5", lw=1.1, label=r"GD ($\sigma = 0$)")
        for run, sigma, color in zip(data["runs"], sigmas, COLORS):
            a.plot(run["tracked_steps"], run["sharpness"], color=color, lw=1.1, label=rf"$\sigma = {sigma:g}$")
            a.plot(run["tracked_steps"], _running_median(run["threshold"], w), color=color, ls="--", lw=1.0)
        _edge(a, 2 / lr, "k", lw=0.9, ls=":")
        _proxy(a, r"VF threshold $(2/\eta)\,\mathrm{VF}(z_t)$ (running median)", lw=1.0)
        _proxy(a, r"$2/\eta$", ls=":", color="k", lw=0.9)
        # headroom above 2/lr for the legend: GD's sharpness hovers at the edge
        a.set(xlim=(0, data["n_steps"]), ylim=(0, 2 / lr * 1.6), xlabel="iteration $t$",
              ylabel=r"sharpness $\lambda_{\max}(\nabla^2 L)$", title="sharpness and VF threshold")
        a.legend(loc="upper right", ncols=3, columnspacing=0.8, fontsize="x-small")
        b.plot(sigmas, data["predicted"], color=COLORS[0], marker=".", label=r"VF threshold (median, 2nd half)")
        b.plot(sigmas, data["plateau"], color=COLORS[1], marker="o", ls="none", markerfacecolor="white",
               label="plateau sharpness (median, 2nd half)")
        _edge(b, 2 / lr, "k", lw=0.9, ls=":", label=r"GD edge $2/\eta$")
        b.set(xscale="log", xticks=sigmas, xticklabels=[f"{x:g}" for x in sigmas], ylim=(0, 2 / lr * 1.1),
              xlabel=r"perturbation scale $\sigma$", ylabel=r"median $\lambda_{\max}$ over the second half",
              title="plateau against the VF threshold")
        b.set_xticks([], minor=True)
        b.legend(loc="upper right", fontsize="small")
    return fig


def vgd_sharpness_data(quick: bool = False, seed=0) -> dict:
    r"""VGD at several :math:`\sigma` on the fixed network: shown trajectories, plateau sharpness and VF threshold.

    ``plateau`` and ``predicted`` (shape ``(len(sigmas), seeds)``) are the
    medians over the second half of each run of the sharpness and of the
    trajectory's VF threshold :math:`(2/\eta)\,\mathrm{VF}(z_t)`.
    """
    p = sizes(VGD_RUNS, quick)
    lr, sigmas = p["lr"], np.asarray(p["sigmas"])
    net, theta0, _ = _network()
    kw = dict(lr=lr, n_steps=p["n_steps"], theta0=theta0, track_every=p["track_every"],
              track=("sharpness", "threshold"))
    runs = [[tr.train(net, tr.VGD(s), seed=derive(seed, "dynamics.vgd_sharpness", i, k), **kw)
             for k in range(p["seeds"])] for i, s in enumerate(sigmas)]
    gd = tr.train(net, tr.GD(), **kw)
    shown = [dict(_series(runs[int(np.flatnonzero(np.isclose(sigmas, s))[0])][0], "tracked_steps", "sharpness",
                          "threshold"), sigma=s) for s in p["shown"]]
    return {"lr": lr, "sigmas": sigmas, "seeds": p["seeds"], "n_steps": p["n_steps"], "window": p["window"],
            "gd": _series(gd, "tracked_steps", "sharpness"), "shown": shown,
            "plateau": np.array([[_second_half(r, r.sharpness) for r in row] for row in runs]),
            "predicted": np.array([[_second_half(r, r.threshold) for r in row] for row in runs])}


@figure("dynamics.vgd_sharpness",
        title="VGD on a small network: sharpness settles below 2/lr, at or above its VF threshold",
        compute=vgd_sharpness_data, params=lambda quick: sizes(VGD_RUNS, quick))
def vgd_sharpness(data):
    lr, sigmas, n_seeds = data["lr"], data["sigmas"], data["seeds"]
    with style():
        fig, (a, b) = panel_pair(rf"VGD ($N_s = 1$) on a {_NET_TEXT}, $\eta = {lr:g}$ ($2/\eta = {2 / lr:.3g}$)")
        w = data["window"]
        shown = [(r"GD ($\sigma = 0$)", "0.5", data["gd"])] + [
            (rf"$\sigma = {run['sigma']:g}$", color, run) for color, run in zip(COLORS, data["shown"])]
        for label, color, run in shown:
            a.plot(run["tracked_steps"], run["sharpness"], color=color, lw=0.5, alpha=0.4)
            a.plot(run["tracked_steps"], _running_median(run["sharpness"], w), color=color, lw=1.2, label=label)
            if "threshold" in run:
                a.plot(run["tracked_steps"], _running_median(run["threshold"], w), color=color, ls="--", lw=1.1)
        _edge(a, 2 / lr, "k", lw=0.9, ls=":")
        _proxy(a, r"VF threshold $(2/\eta)\,\mathrm{VF}(z_t)$", lw=1.1)
        a.plot([], [], color="0.3", lw=0.5, alpha=0.4, label="thin: raw sharpness")
        _proxy(a, r"$2/\eta$", ls=":", color="k", lw=0.9)
        a.set(xlim=(0, data["n_steps"]), ylim=(0.8, 2 / lr * 1.1), xlabel="iteration $t$",
              ylabel=r"sharpness $\lambda_{\max}(\nabla^2 L)$",
              title="sharpness, VF threshold: running medians")
        a.legend(loc="lower center", ncols=2, columnspacing=1.0)

        plateau, predicted = data["plateau"], data["predicted"]
        se = np.std(predicted, axis=1, ddof=1) / np.sqrt(n_seeds)
        mean = predicted.mean(axis=1)
        b.fill_between(sigmas, mean - 2 * se, mean + 2 * se, color=COLORS[0], alpha=0.25, lw=0)
        b.plot(sigmas, mean, color=COLORS[0], marker=".", label=r"VF prediction $(2/\eta)\,\mathrm{VF}$ ($\pm$ 2 s.e.)")
        _edge(b, 2 / lr, "k", lw=0.9, ls=":", label=r"GD edge $2/\eta$")
        sim_points(b, sigmas, plateau.mean(axis=1), np.std(plateau, axis=1, ddof=1) / np.sqrt(n_seeds),
                   color=COLORS[1], label=rf"plateau sharpness ({n_seeds} seeds, mean $\pm$ 2 s.e.)")
        b.set(xscale="log", xticks=sigmas, xticklabels=[f"{x:g}" for x in sigmas],
              xlabel=r"perturbation scale $\sigma$",
              ylabel=r"median $\lambda_{\max}$ over the second half",
              title="plateau sharpness against the VF threshold")
        b.set_xticks([], minor=True)
        b.legend(loc="lower left")
    return fig


def ivon_adaptive_data(quick: bool = False, seed=0) -> dict:
    r"""IVON runs on the fixed network: adaptive sharpness, its momentum edge, the VF threshold, the loss."""
    p = sizes(IVON_RUNS, quick)
    net, theta0, _ = _network()
    runs = [tr.train(net, tr.IVON(ess=ess, beta1=b1), lr=lr, n_steps=p["n_steps"], theta0=theta0,
                     seed=derive(seed, "dynamics.ivon_adaptive", i), track_every=p["track_every"],
                     track=("adaptive_sharpness", "threshold"))
            for i, (b1, lr, ess) in enumerate(p["runs"])]
    return {"settings": p["runs"], "n_steps": p["n_steps"], "window": p["window"],
            "runs": [dict(_series(r, "tracked_steps", "adaptive_sharpness", "threshold", "steps", "loss"),
                          adaptive_edge=float(r.adaptive_edge)) for r in runs]}


@figure("dynamics.ivon_adaptive",
        title="IVON on a small network: adaptive sharpness against its momentum edge and VF threshold",
        compute=ivon_adaptive_data, params=lambda quick: sizes(IVON_RUNS, quick))
def ivon_adaptive(data):
    runs, window = data["runs"], data["window"]
    labels = [rf"$\beta_1 = {b1:g}$, $\eta = {lr:g}$, ess$\,= {_sci(ess)}$" for b1, lr, ess in data["settings"]]
    with style():
        fig, (a, b) = panel_pair(rf"IVON on a {_NET_TEXT} (weight decay $10^{{-4}}$, $h_0 = 1$, "
                                 r"$\beta_2 = 0.99999$)")
        for run, color in zip(runs, COLORS):
            a.plot(run["tracked_steps"], run["adaptive_sharpness"], color=color, lw=1.1)
            a.plot(run["tracked_steps"], _running_median(run["threshold"], window), color=color, ls=":", lw=1.1)
            _edge(a, run["adaptive_edge"], color)
        _proxy(a, "adaptive sharpness", ls="-", lw=1.1)
        _proxy(a, r"edge $(2+2\beta_1)/((1-\beta_1)\eta)$ ($2/\eta$ at $\beta_1 = 0$)")
        _proxy(a, rf"VF threshold of the weight noise (running median of {window})", ls=":", lw=1.1)
        a.set(xlim=(0, data["n_steps"]), ylim=(0, None), xlabel="iteration $t$",
              ylabel=r"$\lambda_{\max}(\mathrm{diag}(h+\delta)^{-1}H)$",
              title="adaptive sharpness, its edge and VF threshold")
        a.legend(loc="lower right")
        _loss_panel(b, runs, COLORS, labels)
        b.legend(loc="upper right")
    return fig


def _located(p):
    """Thresholds located by bisection on the literal USAM / SAM iterations at rhos (and each grad norm)."""
    lr, rhos = p["lr"], np.asarray(p["rhos"])
    r = rhos[:, None]

    usam = sam.usam_threshold(lr, rhos)
    found = {"USAM": sam.locate_threshold(sam.usam_quadratic_map(lr, r), 0.5 * usam, 2.0 * usam, [1.0],
                                          steps=p["steps"], rtol=1e-12)}
    for b in p["grad_norms"]:
        edge = sam.sam_threshold(lr, rhos, b)
        found[b] = sam.locate_threshold(sam.sam_quadratic_map(lr, r, b), 0.8 * edge, 1.25 * edge, [0.0, 1e-250],
                                        steps=p["steps"], size=lambda s: np.abs(s[:, 1]), rtol=1e-12)
    return found


def sam_threshold_data(quick: bool = False, seed=0) -> dict:
    r"""SAM and USAM thresholds against :math:`\rho`: closed forms, bisection on the iterations, runs on the network.

    ``worst`` is the largest relative deviation of a located threshold from its
    closed form. Each run holds its sharpness and ``edge``: the SAM-edge at the
    run's gradient norm per tracked step (normalized SAM) or the constant USAM
    threshold.
    """
    p = sizes(SAM_RUNS, quick)
    lr, rhos = p["lr"], np.asarray(p["rhos"])
    grid = np.logspace(np.log10(rhos[0]) - 0.3, np.log10(rhos[-1]) + 0.3, 300)
    found = _located(p)
    net, theta0, _ = _network()
    runs = [tr.train(net, tr.SAM(rho, normalized=norm), lr=lr, n_steps=p["n_steps"], theta0=theta0,
                     track_every=p["track_every"], track=("sharpness",)) for rho, norm in p["runs"]]
    worst = max(np.max(np.abs(found[k] / (sam.usam_threshold(lr, rhos) if k == "USAM" else
                                          sam.sam_threshold(lr, rhos, k)) - 1)) for k in found)
    out_runs = []
    for run, (rho, norm) in zip(runs, p["runs"]):
        if norm:
            gnorm = np.array([np.linalg.norm(net.gradient(th)) for th in run.theta])
            edge = sam.sam_threshold(lr, rho, gnorm)
        else:
            edge = sam.usam_threshold(lr, rho)
        out_runs.append({"rho": rho, "normalized": norm, "tracked_steps": run.tracked_steps,
                         "sharpness": run.sharpness, "edge": edge})
    return {"lr": lr, "rhos": rhos, "grid": grid, "grad_norms": p["grad_norms"], "n_steps": p["n_steps"],
            "window": p["window"], "usam_curve": sam.usam_threshold(lr, grid),
            "sam_curves": np.array([sam.sam_threshold(lr, grid, g) for g in p["grad_norms"]]),
            "usam_located": found["USAM"], "sam_located": np.array([found[g] for g in p["grad_norms"]]),
            "worst": float(worst), "runs": out_runs}


@figure("dynamics.sam_threshold",
        title="SAM/USAM stability thresholds against rho (quadratic, located by bisection) and on a small network",
        compute=sam_threshold_data, params=lambda quick: sizes(SAM_RUNS, quick))
def sam_threshold(data):
    lr, rhos, grid = data["lr"], data["rhos"], data["grid"]
    with style():
        fig, (a, b) = panel_pair(rf"Sharpness-aware minimisation at $\eta = {lr:g}$ ($2/\eta = {2 / lr:.3g}$)")
        a.plot(grid, data["usam_curve"], color="k",
               label=r"USAM: $\eta\lambda(1+\rho\lambda) = 2$ (SAM-edge at $\|g\| = 1$)")
        a.plot(rhos, data["usam_located"], "o", color="k", mfc="white", ms=3.5, mew=0.8)
        for color, g, curve, located in zip(COLORS, data["grad_norms"], data["sam_curves"], data["sam_located"]):
            a.plot(grid, curve, color=color, label=rf"SAM-edge, $\|g\| = {g:g}$")
            a.plot(rhos, located, "s", color=color, mfc="white", ms=3.2, mew=0.8)
        _edge(a, 2 / lr, "0.4", label=r"GD: $2/\eta$")
        a.plot([], [], "o", color="0.3", mfc="white", ms=3.5, mew=0.8,
               label=f"located by bisection on the iteration\n(max. rel. deviation {data['worst']:.0e})")
        a.set(xscale="log", yscale="log", xlim=(grid[0], grid[-1]), xlabel=r"perturbation radius $\rho$",
              ylabel=r"largest stable eigenvalue $\lambda^*$",
              title=r"on a quadratic $\frac{1}{2}\lambda\theta^2$")
        a.legend(loc="lower left")

        for color, run in zip(COLORS[4:], data["runs"]):
            rho, norm = run["rho"], run["normalized"]
            name = "SAM" if norm else "USAM"
            b.plot(run["tracked_steps"], run["sharpness"], color=color, lw=0.9, label=rf"{name}, $\rho = {rho:g}$")
            if norm:
                b.plot(run["tracked_steps"], _running_median(run["edge"], data["window"]),
                       color=color, ls="--", lw=1.0)
            else:
                _edge(b, run["edge"], color, lw=1.0)
        _edge(b, 2 / lr, "0.4", label=r"GD: $2/\eta$")
        _proxy(b, r"dashed: SAM-edge at $\|g_t\|$, USAM threshold")
        b.set(xlim=(0, data["n_steps"]), ylim=(0, 2 / lr * 1.08), xlabel="iteration $t$",
              ylabel=r"sharpness $\lambda_{\max}(\nabla^2 L)$", title=f"on a {_NET_TEXT}")
        b.legend(loc="lower center", ncols=2, columnspacing=1.0)
    return fig


def scalar_landscape_data(quick: bool = False, seed=0) -> dict:
    r"""GD on :math:`L = \frac12(uv-1)^2` from one start at a small and a large :math:`\eta`: iterates, sharpness."""
    p = SCALAR
    model = hm.ScalarProduct()
    start = np.array(p["start"])
    runs = [tr.train(model, tr.GD(), lr=lr, n_steps=p["n_steps"], theta0=start, track_every=1, track=("sharpness",))
            for lr in p["lrs"]]
    return {"start": start, "n_steps": p["n_steps"], "gradient_flow_sharpness": model.gradient_flow_sharpness(start),
            "runs": [dict(_series(r, "theta", "final_theta", "tracked_steps", "sharpness")) for r in runs]}


@figure("dynamics.scalar_landscape",
        title="GD on L = (uv - 1)^2/2: gradient flow at small lr, a catapult to a flatter minimum at large lr",
        compute=scalar_landscape_data, params=lambda quick: SCALAR)
def scalar_landscape(data):
    start, runs, gf = data["start"], data["runs"], data["gradient_flow_sharpness"]
    with style():
        fig, (a, b) = panel_pair(r"GD on $L(u, v) = \frac{1}{2}(uv - 1)^2$ from $(u_0, v_0) = "
                                 rf"({start[0]:g}, {start[1]:g})$; on the minima $uv = 1$ the sharpness is $u^2 + v^2$",
                                 height=3.0)
        xlim, ylim = (1.2, 3.3), (-0.45, 2.05)
        uu, vv = np.meshgrid(np.linspace(*xlim, 300), np.linspace(*ylim, 300))
        loss = 0.5 * (uu * vv - 1) ** 2
        a.contourf(uu, vv, np.log10(loss + 1e-4), levels=np.linspace(-3, 1, 17), cmap="Greys", alpha=0.35,
                   extend="both")
        levels = (0.05, 0.2, 0.5, 1.0, 2.0)
        a.contour(uu, vv, loss, levels=levels, colors="0.55", linewidths=0.4)
        a.plot([], [], color="0.55", lw=0.4, label=f"contours $L = {', '.join(f'{x:g}' for x in levels)}$")
        u = np.linspace(1 / ylim[1], xlim[1], 300)
        a.plot(u, 1 / u, color="k", lw=1.1, label=r"minima $uv = 1$")
        c0 = start @ (start * [1, -1])
        v = np.linspace(0, np.sqrt(max(xlim[1] ** 2 - c0, 0)), 200)
        a.plot(np.sqrt(c0 + v * v), v, color="0.3", ls=":", lw=1.0,
               label=rf"gradient flow: $u^2 - v^2 = {c0:.3g}$")
        phi = np.linspace(-np.pi / 2, np.pi / 2, 400)
        for run, color in zip(runs, COLORS):
            r = np.sqrt(run["edge"])
            if r < xlim[1] * 1.4:
                a.plot(r * np.cos(phi), r * np.sin(phi), color=color, ls="--", lw=0.9,
                       label=rf"$u^2 + v^2 = 2/\eta = {run['edge']:.3g}$")
            a.plot(run["theta"][:, 0], run["theta"][:, 1], "-o", color=color, lw=0.5, ms=1.8, mew=0,
                   label=rf"GD iterates, $\eta = {run['lr']:g}$ (end: $\diamond$)")
            a.plot(*run["final_theta"], "D", color=color, ms=4.5, mec="k", mew=0.5, zorder=5)
        a.plot(*start, "k*", ms=7, zorder=5, label="start")
        a.set(xlim=xlim, ylim=ylim, xlabel="$u$", ylabel="$v$", title="iterates over the loss")
        a.legend(loc="upper right", fontsize=6, frameon=True, facecolor="white", edgecolor="none", framealpha=0.9)

        for run, color in zip(runs, COLORS):
            b.plot(run["tracked_steps"], run["sharpness"], color=color, lw=0.9,
                   label=rf"$\eta = {run['lr']:g}$: ends at {run['sharpness'][-1]:.3g}")
            if run["edge"] < 30:
                _edge(b, run["edge"], color, label=rf"$2/\eta = {run['edge']:.3g}$")
        _edge(b, gf, "0.3", ls=":", lw=1.0, label=rf"gradient-flow minimum: {gf:.3g}")
        b.set(xscale="symlog", xlim=(0, data["n_steps"]), ylim=(0, None), xlabel="iteration $t$",
              ylabel=r"sharpness $\lambda_{\max}(\nabla^2 L)$", title="sharpness")
        b.legend(loc="lower left")
    return fig


def _flatness_rows(p, seed):
    net, _, test = _network()
    optimizers = {"GD": tr.GD(), f"SGD ($B = {p['batch_size']}$)": tr.SGD(p["batch_size"]),
                  rf"SAM ($\rho = {p['sam_rho']:g}$)": tr.SAM(p["sam_rho"]),
                  rf"VGD ($\sigma = {p['vgd_sigma']:g}$)": tr.VGD(p["vgd_sigma"]),
                  rf"IVON ($\beta_1 = 0$, ess$\,= {_sci(p['ivon_ess'])}$)":
                      tr.IVON(ess=p["ivon_ess"], beta1=0.0),
                  rf"G-TRACER ($\rho = {p['gtracer_rho']:g}$)": tr.GTracer(p["gtracer_rho"]),
                  rf"G-TRACER, exact ($\rho = {p['gtracer_rho']:g}$)":
                      tr.GTracer(p["gtracer_rho"], estimator="exact")}
    return tr.flatness_comparison(net, optimizers, lr=p["lr"], n_steps=p["n_steps"], alpha=p["alpha"],
                                  test_data=test, seeds=p["seeds"], seed=derive(seed, "dynamics.flatness_comparison"),
                                  theta0=lambda s: net.initial(s, scale=NETWORK["init_scale"]))


# flatness_comparison: (measure, axis label or None for one built from the data, log axis when all are positive)
_FLATNESS_PANELS = (("sharpness", r"sharpness $\lambda_{\max}$", False), ("count_above", None, False),
                    ("effective_number", None, False),
                    ("trace_ratio", r"$\mathrm{Tr}(G^{-1}H)$, $G$ = diag. Fisher", True),
                    ("train_loss", "training loss", True), ("test_loss", "held-out loss (20 examples)", True))


def flatness_comparison_data(quick: bool = False, seed=0) -> dict:
    """Flatness measures of the minima reached by each optimizer from the same starts.

    Per measure: each row's values over the starts and its mean ± s.e. across
    them, of the values or, on a log axis (every value positive), of their
    ``log10`` (a geometric mean).
    """
    p = sizes(FLATNESS, quick)
    rows = _flatness_rows(p, seed)
    panels = []
    for key, _, log in _FLATNESS_PANELS:
        log = log and all(np.all(r.values[key] > 0) for r in rows)  # else linear (Tr(G^-1 H) can be < 0)
        est = [row.estimate(key) if not log else Moments.of(np.log10(row.values[key])).estimate() for row in rows]
        panels.append({"key": key, "log": bool(log), "values": [np.asarray(row.values[key]) for row in rows],
                       "mean": np.array([float(e.value) for e in est]),
                       "stderr": np.array([float(e.stderr) for e in est])})
    return {"lr": p["lr"], "alpha": p["alpha"], "n_steps": p["n_steps"], "seeds": p["seeds"],
            "level": float(rows[0].level), "names": [r.name for r in rows], "panels": panels}


@figure("dynamics.flatness_comparison",
        title="Flatness of the minima reached by GD, SGD, SAM, VGD, IVON and G-TRACER (both estimators) on a small "
              "network", compute=flatness_comparison_data, params=lambda quick: sizes(FLATNESS, quick))
def flatness_comparison(data):
    names, level = data["names"], data["level"]
    labels = {"count_above": rf"eigenvalues above $1/\eta = {level:.3g}$",
              "effective_number": rf"$N_{{\rm eff}}(\alpha = {data['alpha']:g})$"}
    y = np.arange(len(names))[::-1]
    with style():
        fig, axes = new_figure(DOUBLE, 3.6, nrows=2, ncols=3, sharey=True)
        for ax, (key, label, _), panel in zip(axes.flat, _FLATNESS_PANELS, data["panels"]):
            log = panel["log"]
            for i, (yi, color) in enumerate(zip(y, COLORS + COLORS)):
                vals = panel["values"][i]
                ax.plot(vals, np.full(vals.size, yi) + 0.22, "|", color=color, ms=4, mew=0.7, alpha=0.8)
                # log-scale measures: geometric mean, the bar +- 2 s.e. of log10 across starts
                mid, err = float(panel["mean"][i]), 2 * np.nan_to_num(float(panel["stderr"][i]))
                lo, hi = (mid - err, mid + err) if not log else (10 ** (mid - err), 10 ** (mid + err))
                mid = mid if not log else 10**mid
                ax.errorbar(mid, yi, xerr=[[mid - lo], [hi - mid]], fmt="o", color=color, mfc="white", ms=3.5,
                            mew=0.9, elinewidth=0.9, zorder=3)
            ax.set(xscale="log" if log else "linear", xlabel=label or labels[key], ylim=(-0.6, len(names) - 0.4))
            ax.grid(axis="y", color="0.9", lw=0.5, zorder=0)
            ax.xaxis.set_minor_formatter(mticker.NullFormatter())
        for ax in axes[:, 0]:
            ax.set_yticks(y, labels=names)
        axes[0, 0].set_ylabel("optimizer")
        axes[1, 0].set_ylabel("optimizer")
        fig.suptitle(rf"Minima reached on a {_NET_TEXT}: $\eta = {data['lr']:g}$, {data['n_steps']} steps, "
                     rf"{data['seeds']} starts" "\n"
                     r"points: mean $\pm$ 2 s.e. across starts (log axes: geometric mean, $\pm$ 2 s.e. of the log); "
                     "ticks: each start")
    return fig
