r"""Checks of edge-of-stability dynamics (``dynamics.*``): trajectories beyond quadratics, and the SAM/IVON edges.

The plateau checks train the small tanh network of :data:`NETWORK` (exact
Hessians, :mod:`theory.hessian_models`) with :func:`theory.simulators.training.train`
and compare the sharpness a trajectory settles at with the closed-form
thresholds. A trajectory at the edge of stability does not converge to a
number: its sharpness oscillates about the edge (self-stabilisation, Damian,
Nichani and Lee, ICLR 2023). The statistic is therefore the median sharpness
over the second half of the run, and each row states its allowance and why:

- GD (``dynamics.gd_plateau``): within 5% of :math:`2/\eta`. Over the second
  half the sharpness oscillates between -2.2% and +3.4% of the edge on this
  network at the configured step sizes (the band covers it); a run that has not
  reached the edge misses it by far (at η = 0.1 the same network is still 83%
  below :math:`2/\eta` after 4000 steps). ``tests/test_checks.py`` recomputes
  these numbers.
- GD on real data (``dynamics.digits_gd_edge``): the 64-32-10 tanh network of
  :func:`theory.digits.digits_network` (JAX, :math:`P = 2410`) on the first
  1000 digits with the half squared error summed over the ten outputs, at
  :math:`\eta = 0.085` and :math:`0.095` (:data:`DIGITS`), plateau within 2% of
  :math:`2/\eta`. Over the second half of 8000 steps the sharpness stays between
  -0.53% and +0.32% of the edge at both step sizes (the band covers it with
  room); a run that has not reached the edge misses it by far (at η = 0.05 the
  sharpness is still 31% below :math:`2/\eta` after 8000 steps). The start row
  is the trough of the first quarter, where progressive sharpening starts: GD's
  first steps lower the sharpness from its seeded start (22.5, above
  :math:`2/0.095`) to 19.4-21.0 at both step sizes. An error in :math:`2/\eta`
  beyond :math:`(2\% + 0.53\%)/(1 - 2\%) = 2.6\%` moves the band off a
  plateau; the check declares 5%. ``tests/test_checks.py`` recomputes these
  numbers.
- VGD (``dynamics.vgd_plateau``): between the VF threshold
  :math:`(2/\eta)\,\mathrm{VF}(N_s(u^\top\nabla L)^2/\sigma^2)` evaluated on the
  trajectory's own gradients (below it a VGD step lowers the expected loss
  along the top direction, so the sharpness keeps rising) and GD's band top
  :math:`1.05\cdot 2/\eta`; and decreasing in :math:`\sigma`, a
  statistical comparison across independent seeds.
- VGD on real data (``dynamics.digits_vgd``): VGD on the digits network of
  ``dynamics.digits_gd_edge`` at GD's edge step size :math:`\eta = 0.085`
  (:data:`DIGITS_VGD`), plateau at least the VF threshold of its own
  trajectory and at most GD's band top :math:`1.05\cdot 2/\eta`, falling with
  :math:`\sigma`. Over the second half of 4000 steps: the median sharpness against the
  median threshold is 16.1 against 13.7 at :math:`\sigma = 0.01`, 10.4 against
  7.77 at 0.02, 3.52 against 3.25 at 0.05 and 3.56 against 3.33 at 0.05 with
  :math:`N_s = 4`, all below :math:`2/\eta = 23.5`.
  The closest plateau sits 6.9% above its threshold, so a VF threshold
  too high by more than that fails a row; the check declares 12%. The
  decrease rows take as standard error the spread (standard deviation) of the
  two second halves, more than a median's error. IVON at :math:`\beta_1 = 0`
  with :math:`\lambda = 10^6` (weight noise about 0.001) reaches its edge
  :math:`2/\eta`: over the second half its preconditioned sharpness
  has median 23.39 and maximum 23.81 against 23.53; the row bounds the maximum by the edge plus
  2% (the GD band on this network), so an edge too low by more than
  0.8% fails it; the check declares 5%. With :math:`\lambda = 10^4`
  (weight noise 0.01) the noise holds IVON below its edge, as it does VGD:
  median 16.18 against 23.53. ``tests/test_digits_dynamics.py`` recomputes these numbers.
- IVON (``dynamics.ivon_adaptive``): the preconditioned sharpness at most the
  adaptive edge :math:`(2 + 2\beta_1)/((1-\beta_1)\,\eta)` (Cohen et al.
  2022), 5% allowance as for GD; with :math:`\beta_1 = 0` that edge is
  :math:`2/\eta`.

``dynamics.sam_threshold`` and ``dynamics.ivon_momentum_edge`` are numerical: the edges located
by bisection on the literal iterations on a quadratic against the closed
forms, the bisection's bracket as the error.
"""

from __future__ import annotations

import numpy as np

from .. import digits, ivon, quadratic, sam
from ..backend import single_threaded_blas
from ..hessian_models import teacher_network
from ..rng import derive
from ..simulators.training import GD, IVON, VGD, train
from ..stats import Moments
from .core import Comparison, register

SOURCE = ("Cohen et al. (ICLR 2021; arXiv:2207.14484); Damian, Nichani and Lee (ICLR 2023); "
          "Long and Bartlett (arXiv:2309.12488); Shen et al. (ICML 2024)")

# the network: 60 examples, 5 inputs, 16 tanh units (P = 96), targets x3, start at scale 0.3
NETWORK = {"n_data": 60, "n_features": 5, "n_hidden": 16, "target_scale": 3.0, "init_scale": 0.3, "seed": 0}
# the digits network (theory.digits.digits_network) and its GD runs: Lanczos top eigenvalue every track_every steps
DIGITS = {"n_data": 1000, "hidden": 32, "loss": "mse", "seed": 0, "lrs": (0.085, 0.095), "n_steps": 8000,
          "track_every": 100, "band": 0.02}
# VGD and IVON on the same network at GD's edge step size: (sigma, n_samples) per VGD run; IVON at beta1 = 0
DIGITS_VGD = {"lr": 0.085, "vgd": ((0.01, 1), (0.02, 1), (0.05, 1), (0.05, 4)), "n_steps": 4000, "track_every": 50,
              "ivon": {"ess": 1e6, "beta1": 0.0, "allowance": 0.02}}
CONFIG = {
    "gd": {"lrs": (0.6, 0.8), "n_steps": 4000, "band": 0.05},
    "vgd": {"lr": 0.6, "sigmas": (0.01, 0.03), "n_steps": 4000, "seeds": 6},
    "ivon": {"lr": 0.3, "beta1": (0.0, 0.9), "ess": 1e4, "n_steps": 4000, "allowance": 0.05},
    # quadratic edges: (lr, rho) for USAM, (lr, rho, |g|) for SAM, (lr, beta1) for the momentum edge
    "sam": {"usam": ((0.1, 0.05), (0.01, 1.0)), "sam": ((0.1, 0.05, 1.0), (0.5, 2.0, 1e-3)), "rtol": 1e-12},
    "momentum": {"lr": 0.1, "beta1": (0.0, 0.5, 0.9), "rtol": 1e-9},
}


def network():
    """The small regression network of :data:`NETWORK` and its seeded start."""
    c = NETWORK
    model, theta0, _ = teacher_network(c["n_data"], c["n_features"], c["n_hidden"], target_scale=c["target_scale"],
                                       init_scale=c["init_scale"], seed=c["seed"])
    return model, theta0


def _plateau(values):
    """Median over the second half of the tracked points."""
    values = np.asarray(values)
    return float(np.median(values[values.size // 2:]))


def _run(optimizer, *, lr, n_steps, seed=0, track=("sharpness",)):
    model, theta0 = network()
    with single_threaded_blas():
        return train(model, optimizer, lr=lr, n_steps=n_steps, theta0=theta0, seed=seed, track=track,
                     track_every=max(1, n_steps // 100))


@register("dynamics.gd_plateau", stream="eos.gd_plateau", title="GD on a tanh network: sharpness rises, then hovers at 2/lr (edge of stability)",
          formula="theory.quadratic.gd_threshold (2/lr)", simulator="training.train(GD) on TwoLayerNetwork",
          quick=False, source=SOURCE, tests=("theory.quadratic.gd_threshold",), mutation=0.1)
def gd_plateau(ctx):
    c = CONFIG["gd"]
    rows = []
    for lr in c["lrs"]:
        run = _run(GD(), lr=lr, n_steps=c["n_steps"])
        edge = float(quadratic.gd_threshold(lr))
        rows.append(Comparison(f"lr={lr:g}: start", edge, float(run.sharpness[0]), kind="at_most",
                               note="progressive sharpening starts below the edge"))
        rows.append(Comparison(f"lr={lr:g}: plateau (median, 2nd half)", edge, _plateau(run.sharpness),
                               allowance=c["band"] * edge, kind="band", note="band 5% of 2/lr"))
    return rows


def digits_runs(lrs=DIGITS["lrs"], n_steps=DIGITS["n_steps"], track_every=DIGITS["track_every"]):
    """GD on the digits network of :data:`DIGITS` from its seeded start, one Trajectory per step size.

    Built and trained inside :func:`theory.digits.x64_mode`: JAX's 64-bit mode
    is on for these runs only.
    """
    c = DIGITS
    with digits.x64_mode():
        model = digits.digits_network(c["n_data"], c["hidden"], c["loss"], seed=c["seed"])
        return [train(model, GD(), lr=lr, n_steps=n_steps, theta0=model.start, seed=c["seed"], track=("sharpness",),
                      track_every=track_every, top_k=1) for lr in lrs]


def _trough(values):
    """Minimum over the first quarter of the tracked points: where progressive sharpening starts."""
    values = np.asarray(values)
    return float(np.min(values[:max(1, values.size // 4)]))


@register("dynamics.digits_gd_edge", title="GD on a 64-32-10 tanh network on 1000 digits: sharpness rises to 2/lr "
          "and stays (edge of stability on real data)", formula="theory.quadratic.gd_threshold (2/lr)",
          simulator="training.train(GD) on digits_network (JAX, P = 2410)", quick=False, source=SOURCE,
          tests=("theory.quadratic.gd_threshold",), mutation=0.05)
def digits_gd_edge(ctx):
    c = DIGITS
    rows = []
    for lr, run in zip(c["lrs"], digits_runs()):
        edge = float(quadratic.gd_threshold(lr))
        rows.append(Comparison(f"lr={lr:g}: start (trough, 1st quarter)", edge, _trough(run.sharpness), kind="at_most",
                               note="progressive sharpening starts below the edge"))
        rows.append(Comparison(f"lr={lr:g}: plateau (median, 2nd half)", edge, _plateau(run.sharpness),
                               allowance=c["band"] * edge, kind="band", note="band 2% of 2/lr"))
    return rows


def digits_vgd_runs(seed=0, vgd=DIGITS_VGD["vgd"], ivon_ess=DIGITS_VGD["ivon"]["ess"]):
    """VGD at each (sigma, n_samples) of :data:`DIGITS_VGD` and IVON on the digits network, from its seeded start.

    Returns ``(vgd_runs, ivon_run)``; run ``k`` of VGD draws its noise from
    ``derive(seed, "digits_vgd", k)``, IVON from ``derive(seed, "digits_ivon")``.
    Inside :func:`theory.digits.x64_mode`, as :func:`digits_runs`.
    """
    c, d = DIGITS_VGD, DIGITS
    kw = dict(lr=c["lr"], n_steps=c["n_steps"], track_every=c["track_every"], top_k=1)
    with digits.x64_mode():
        model = digits.digits_network(d["n_data"], d["hidden"], d["loss"], seed=d["seed"])
        runs = [train(model, VGD(sigma, n), theta0=model.start, seed=derive(seed, "digits_vgd", k),
                      track=("sharpness", "threshold"), **kw) for k, (sigma, n) in enumerate(vgd)]
        ivon_run = None if ivon_ess is None else train(
            model, IVON(ess=ivon_ess, beta1=c["ivon"]["beta1"]), theta0=model.start, seed=derive(seed, "digits_ivon"),
            track=("adaptive_sharpness",), **kw)
    return runs, ivon_run


def _second_half(values):
    values = np.asarray(values).ravel()
    return values[values.size // 2:]


@register("dynamics.digits_vgd", title="VGD and IVON on a 64-32-10 tanh network on 1000 digits: VGD settles between "
          "its VF threshold and 2/lr, lower for larger sigma; IVON at most its edge",
          formula="theory.vgd.vgd_threshold on the trajectory's gradients; theory.ivon.adaptive_threshold",
          simulator="training.train(VGD, IVON) on digits_network (JAX, P = 2410)", quick=False, source=SOURCE,
          tests=("theory.vgd.vgd_threshold", "theory.ivon.adaptive_threshold"), mutation=(0.12, -0.05))
def digits_vgd(ctx):
    c = DIGITS_VGD
    edge = 2.0 / c["lr"]
    runs, ivon_run = digits_vgd_runs(ctx.child("digits_vgd"))
    rows, halves = [], []
    for (sigma, n), run in zip(c["vgd"], runs):
        s, t = _plateau(run.sharpness), _plateau(run.threshold)
        halves.append(_second_half(run.sharpness))
        label = f"sigma={sigma:g}, N_s={n}"
        rows.append(Comparison(f"{label}: plateau >= VF threshold", t, s, kind="at_least", note="medians, 2nd half"))
        rows.append(Comparison(f"{label}: plateau <= GD band top", edge, s, allowance=CONFIG["gd"]["band"] * edge,
                               kind="at_most"))
    # the plateau falls as sigma grows (N_s = 1 runs): the spread of the second halves as a generous error
    single = [i for i, (_, n) in enumerate(c["vgd"]) if n == 1]
    for i, j in zip(single, single[1:]):
        diff = float(np.median(halves[i]) - np.median(halves[j]))
        spread = float(np.hypot(np.std(halves[i], ddof=1), np.std(halves[j], ddof=1)))
        predicted = _plateau(runs[i].threshold) - _plateau(runs[j].threshold)
        rows.append(Comparison(f"plateau(sigma={c['vgd'][i][0]:g}) - plateau(sigma={c['vgd'][j][0]:g})", predicted,
                               diff, spread, kind="positive", note=f"threshold difference {predicted:.3g}"))
    ivon_edge = float(ivon.adaptive_threshold(c["lr"], c["ivon"]["beta1"]))
    peak = float(np.max(_second_half(ivon_run.adaptive_sharpness)))
    rows.append(Comparison(f"IVON ess={c['ivon']['ess']:g}: max preconditioned sharpness, 2nd half", ivon_edge, peak,
                           allowance=c["ivon"]["allowance"] * ivon_edge, kind="at_most", note="allowance 2%"))
    return rows


@register("dynamics.vgd_plateau", stream="eos.vgd_plateau",
          title="VGD on a tanh network: sharpness settles between its VF threshold and 2/lr, lower for larger sigma",
          formula="theory.vgd.vgd_threshold on the trajectory's gradients",
          simulator="training.train(VGD) on TwoLayerNetwork, independent seeds", quick=False, source=SOURCE,
          tests=("theory.vgd.vgd_threshold",), mutation=0.06)
def vgd_plateau(ctx):
    c = CONFIG["vgd"]
    lr, edge = c["lr"], 2.0 / c["lr"]
    rows, plateaus, thresholds = [], [], []
    for sigma in c["sigmas"]:
        sharp, thresh = [], []
        for k in range(c["seeds"]):
            run = _run(VGD(sigma), lr=lr, n_steps=c["n_steps"], seed=ctx.child("vgd", f"{sigma:g}", k),
                       track=("sharpness", "threshold"))
            sharp.append(_plateau(run.sharpness))
            thresh.append(_plateau(run.threshold))
        plateaus.append(np.asarray(sharp))
        thresholds.append(np.asarray(thresh))
        s, t = float(np.mean(sharp)), float(np.mean(thresh))
        rows.append(Comparison(f"sigma={sigma:g}: plateau >= VF threshold", t, s, kind="at_least",
                               note=f"{c['seeds']} seeds"))
        rows.append(Comparison(f"sigma={sigma:g}: plateau <= GD band top", edge, s,
                               allowance=CONFIG["gd"]["band"] * edge, kind="at_most"))
    # the plateau falls as sigma grows, as the VF threshold does (differences paired by seed index;
    # the runs are independent either way). Only the sign is predicted: the plateau sits above its
    # threshold by an amount that itself grows with sigma.
    for i in range(len(c["sigmas"]) - 1):
        diff = Moments.of(plateaus[i] - plateaus[i + 1]).estimate()
        predicted = float(np.mean(thresholds[i] - thresholds[i + 1]))
        rows.append(Comparison(f"plateau(sigma={c['sigmas'][i]:g}) - plateau(sigma={c['sigmas'][i + 1]:g})",
                               predicted, float(diff.value), float(diff.stderr), kind="positive",
                               note=f"threshold difference {predicted:.3g}"))
    return rows


@register("dynamics.ivon_adaptive", stream="eos.ivon_adaptive",
          title="IVON on a tanh network: preconditioned sharpness stays below the adaptive edge (2+2b1)/((1-b1) lr)",
          formula="theory.ivon.adaptive_threshold", simulator="training.train(IVON) on TwoLayerNetwork",
          quick=False, source=SOURCE, tests=("theory.ivon.adaptive_threshold",), mutation=-0.5)
def ivon_adaptive(ctx):
    c = CONFIG["ivon"]
    rows = []
    for beta1 in c["beta1"]:
        run = _run(IVON(ess=c["ess"], beta1=beta1), lr=c["lr"], n_steps=c["n_steps"], seed=ctx.child("ivon", f"{beta1:g}"),
                   track=("adaptive_sharpness",))
        edge = float(ivon.adaptive_threshold(c["lr"], beta1))
        peak = float(np.max(run.adaptive_sharpness[run.adaptive_sharpness.size // 2:]))
        rows.append(Comparison(f"beta1={beta1:g}: max preconditioned sharpness, 2nd half", edge, peak,
                               allowance=c["allowance"] * edge, kind="at_most", note=f"2/lr = {2 / c['lr']:g}"))
    return rows


def _ema_map(lr, beta1):
    # preconditioned (p = 1) EMA-momentum recursion: g <- b g + (1 - b) lam m; m <- m - lr g
    def step(lam, state, t):
        m, g = state[:, :1], state[:, 1:]
        g = beta1 * g + (1 - beta1) * lam * m
        return np.concatenate([m - lr * g, g], axis=1)
    return step


def _located(label, edge, step, state0, rtol, size=None):
    found = float(np.atleast_1d(sam.locate_threshold(step, 0.5 * edge, 2.0 * edge, state0, steps=400, size=size,
                                                      rtol=rtol))[0])
    return Comparison(label, edge, found, rtol * edge, kind="numerical", note="bisection on the literal iteration")


@register("dynamics.sam_threshold", stream="sam.threshold", title="SAM and USAM on a quadratic: divergence sets in exactly at the closed-form edge",
          formula="theory.sam.usam_threshold, sam_threshold", simulator="literal (U)SAM iterations, bisection",
          source=SOURCE, tests=("theory.sam.usam_threshold", "theory.sam.sam_threshold"), mutation=0.01)
def sam_threshold(ctx):
    c = CONFIG["sam"]
    rows = [_located(f"USAM lr={lr:g} rho={rho:g}", float(sam.usam_threshold(lr, rho)), sam.usam_quadratic_map(lr, rho), [1.0],
                     c["rtol"]) for lr, rho in c["usam"]]
    rows += [_located(f"SAM lr={lr:g} rho={rho:g} |g|={g:g}", float(sam.sam_threshold(lr, rho, g)),
                      sam.sam_quadratic_map(lr, rho, g), [0.0, 1e-250], c["rtol"], size=lambda s: np.abs(s[:, 1]))
             for lr, rho, g in c["sam"]]
    return rows


@register("dynamics.ivon_momentum_edge", stream="ivon.momentum_edge",
          title="Preconditioned EMA momentum on a quadratic: the edge is (2+2b1)/((1-b1) lr), not 2/lr",
          formula="theory.ivon.adaptive_threshold", simulator="literal momentum recursion, bisection", source=SOURCE,
          tests=("theory.ivon.adaptive_threshold",), mutation=0.01)
def momentum_edge(ctx):
    c = CONFIG["momentum"]
    return [_located(f"beta1={b:g}, lr={c['lr']:g}", float(ivon.adaptive_threshold(c["lr"], b)), _ema_map(c["lr"], b),
                     [1.0, 0.0], c["rtol"], size=lambda s: np.abs(s[:, 0])) for b in c["beta1"]]
