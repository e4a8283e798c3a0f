r"""Figures of the escape theory: Kramers times, SGD's diffusion model, minima selection.

Continuous time :math:`d\theta = -\nabla L\,dt + \sqrt{2D}\,dW`, one SGD step of
learning rate :math:`\eta` lasting :math:`dt = \eta`. Curves are the closed forms of
:mod:`theory.kramers` (and its exact 1-D mean first-passage time); points are
Monte Carlo estimates from :func:`theory.simulators.simulate_escape` and
:mod:`theory.learned`, drawn as mean ± 2 standard errors. Trend panels report the
weighted least-squares slope of the points (± its standard error) next to the
predicted slope. Sources: Kramers (1940); Haenggi, Talkner and Borkovec (1990),
Eqs. (4.9) and (4.56); Xie, Sato and Sugiyama (2021), Theorem 3.2.

Each figure is a ``<name>_data(quick, seed)`` function computing its data and
the drawing function registered with it. Simulation sizes: ``quick=True``
computes every escape figure in a few seconds with tiny runs (for tests); the
default sizes take a few minutes in all on two cores, spread over two worker
processes. The docs draw ``escape.learned_landscape`` from its stored full-size
data (``theory figures --store docs/figure_data``).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from .. import kramers
from ..errors import AsymptoticWarning, DomainError
from ..landscapes import DoubleWell, StyblinskiTang
from ..rng import derive
from ..simulators import Langevin, SGDDiffusion, extrapolate_dt, simulate_escape
from ..stats import Estimate, censored_mean, weighted_line
from ..sweep import default_executor as _executor
from .core import figure
from ._style import COLORS, DOUBLE, SIM_LABEL, SINGLE, new_figure, panel_label, sim_points, sizes, style

__all__: list[str] = []

# -- parameters ---------------------------------------------------------------------------------------------

# kramers_accuracy: barriers dL/T of the Monte Carlo points, step dt, walkers (full, quick)
ACCURACY = {"barriers": ((2.5, 0.01, 8000), (3.5, 0.01, 4000), (5.0, 0.01, 2500)),
            "quick": ((2.5, 0.02, 400), (3.5, 0.04, 300))}

# arrhenius: (a) the symmetric well at these dL/T; (b) the tilted well at these 1/T
ARRHENIUS = {"barriers": (2.0, 3.0, 4.0, 5.0, 6.0), "tilt": 0.05, "inv_temps": (8.0, 11.0, 14.0, 17.0, 20.0),
             "dt": 0.02, "n_walkers": 800,
             "quick": {"barriers": (2.0, 3.0, 4.0), "inv_temps": (6.0, 9.0, 12.0), "dt": 0.04, "n_walkers": 200}}

# sgd_trends: 1-D Styblinski-Tang, SGDDiffusion with dt = DT_FACTOR / H_a (H_a the curvature at the minimum)
SGD = {"s": 0.5, "lr": 0.5, "batch_size": 8, "sharpness": 12.0,
       "batch_sizes": (7, 8, 9, 10, 11), "inv_lrs": (2.0, 2.25, 2.5, 2.75, 3.0),
       "sharpnesses": (8.0, 9.0, 10.0, 11.0, 12.0), "dt_factor": 0.05, "n_walkers": 500,
       # the time-step check: the cheapest setting again at dt/4, both with more walkers
       "dt_check": {"batch_size": 7, "ratio": 4, "n_walkers": 1200},
       "quick": {"batch_size": 6, "batch_sizes": (5, 6, 7), "inv_lrs": (1.5, 2.0, 2.5),
                 "sharpnesses": (10.0, 12.0, 14.0), "dt_factor": 0.1, "n_walkers": 150,
                 "dt_check": {"batch_size": 5, "ratio": 4, "n_walkers": 150}}}

# sgld_trends: 10-D Styblinski-Tang, Langevin, exit "valley"; T = lr sigma^2 / (2B) with lr sigma^2 / 2 = NOISE
SGLD = {"dim": 10, "noise": 50.0, "batch_sizes": (5, 6, 7, 8, 9), "batch_size": 7,
        "sharpnesses": (0.5, 1.0, 2.0, 3.0, 4.0), "dt_factor": 0.0125, "burn_in": 10.0, "n_walkers": 700,
        "quick": {"batch_sizes": (5, 6, 7), "batch_size": 6, "sharpnesses": (0.5, 1.0, 2.0), "dt_factor": 0.05,
                  "n_walkers": 150}}

# Exits from the basin are seen at the step times only: a Brownian path that crosses the separatrix
# and comes back within a step is missed. To first order this moves the boundary out by
# 0.5826 sqrt(2 T dt) (Broadie, Glasserman and Kou 1997; Gobet 2000), which lengthens the time to
# the saddle of a 1-D barrier by the factor 1 + 0.5826 * 2 sqrt(dt |H_b| / pi) = 1 + 0.657 sqrt(dt |H_b|).
_MONITOR = 0.5826 * 2.0 / math.sqrt(math.pi)

# selection: two valleys of equal depth sharing a saddle; the flat one has the double well's curvature
SELECTION = {"delta_loss": 0.25, "hess_flat": 2.0, "hess_saddle": 1.0, "ratios": (2.0, 4.0, 8.0), "s": 0.5}


# -- utilities ------------------------------------------------------------------------------------------------

def _quiet(f, *args, **kwargs):
    """Call ``f`` with AsymptoticWarning silenced (the figures show the regime where it fires on purpose)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AsymptoticWarning)
        return f(*args, **kwargs)


def _simulate(jobs, executor):
    """Run :func:`simulate_escape` for every job (a dict of its arguments plus ``cost``); results in order.

    With an executor the jobs are submitted most expensive first, so that two
    processes finish together.
    """
    def call(job):
        kw = {k: v for k, v in job.items() if k not in ("landscape", "dynamics", "cost")}
        return kw

    if executor is None:
        return [simulate_escape(j["landscape"], j["dynamics"], **call(j)) for j in jobs]
    order = sorted(range(len(jobs)), key=lambda i: -jobs[i].get("cost", 0.0))
    futures = {i: executor.submit(simulate_escape, jobs[i]["landscape"], jobs[i]["dynamics"], **call(jobs[i]))
               for i in order}
    return [futures[i].result() for i in range(len(jobs))]


def _max_steps(quick: bool, mean_time: float, dt: float) -> int:
    """Censoring step: none in full runs, three predicted mean times in quick ones (the exponential MLE)."""
    return 10**9 if not quick else int(3.0 * mean_time / dt) + 64


def _values(estimates):
    return (np.array([float(e.value) for e in estimates]), np.array([float(e.stderr) for e in estimates]))


def _annotate(ax, text, *, loc="upper left"):
    x, ha = (0.03, "left") if "left" in loc else (0.97, "right")
    y, va = (0.97, "top") if "upper" in loc else (0.03, "bottom")
    ax.text(x, y, text, transform=ax.transAxes, ha=ha, va=va, fontsize=6.5,
            bbox={"boxstyle": "round,pad=0.3", "fc": "white", "ec": "0.8", "lw": 0.5})


def _headroom(ax, frac=0.5):
    """Extend the y range upwards by ``frac`` of it, room for an annotation above the data."""
    lo, hi = ax.get_ylim()
    ax.set_ylim(lo, hi + frac * (hi - lo))


def _ls_slope(x, y, yerr):
    """The weighted least-squares slope of a curve sampled at the points of a fit (same weights)."""
    return weighted_line(x, y, yerr).slope


def _well_derivatives(well: DoubleWell, x):
    """U'', U''' and U'''' of the double well's quartic at x."""
    c4, c2 = well.height / well.width**4, -2.0 * well.height / well.width**2
    return 12 * c4 * x * x + 2 * c2, 24 * c4 * x, 24 * c4


def _st_route(dim=1, sharpness=1.0):
    land = StyblinskiTang(dim=dim, sharpness=sharpness)
    return land, land.route(0)


def _sgd_model_mfpt(land, route, lr, batch_size, s):
    r"""Exact MFPT from the minimum to the saddle of the simulated SGD model (1-D, Ito, piecewise :math:`D`).

    :math:`D = \frac{\eta}{2B}H_a` where :math:`L - L(a) < s\Delta L`, else
    :math:`\frac{\eta}{2B}|H_b|`: the rule of :class:`~theory.simulators.SGDDiffusion`.
    """
    from scipy.optimize import brentq

    a, b = float(route.minimum.x[0]), float(route.saddle.x[0])
    ua, dl = float(route.minimum.value), float(route.delta_loss)
    ha, hb = route.hess_min_escape, route.hess_saddle_escape

    def u(x):
        return float(land.value(np.array([[x]]))[0])

    level = ua + s * dl
    left = a - 1.0
    while u(left) < level:
        left -= 1.0
    points = [brentq(lambda x: u(x) - level, left, a), brentq(lambda x: u(x) - level, a, b)]

    def profile(x):
        x = np.asarray(x, dtype=float)
        return np.where(land.value(x[..., None]) < level, ha, hb)

    return kramers.mean_first_passage_time(land, a, b, lr / (2 * batch_size), profile, convention="ito",
                                           points=points)


def _residual_rate(run, burn_in: float) -> Estimate:
    """Escape rate of the walkers still inside after ``burn_in`` (continuous time), from their residual times."""
    t = run.times * run.dt
    keep = t > burn_in
    m = censored_mean(t[keep] - burn_in, run.censored[keep])
    return Estimate(1.0 / m.value, m.stderr / m.value**2, m.n)


# -- kramers_accuracy -----------------------------------------------------------------------------------------

def kramers_accuracy_data(quick: bool = False, seed=0) -> dict:
    r"""Exact MFPTs over Kramers' :math:`\tau` on the double well against :math:`\Delta L/T`, and Langevin points.

    ``value`` ± ``stderr`` are the simulated mean times to the next minimum at
    :math:`\Delta L/T` = ``r_mc``; ``exact_mc`` the exact MFPT there and
    ``tau_mc`` Kramers' time.
    """
    well = DoubleWell()
    route = well.route(0)
    a, b, nxt = route.minimum.x[0], route.saddle.x[0], route.next_minimum.x[0]
    dl, ha, hb = route.delta_loss, route.hess_min_escape, route.hess_saddle_escape
    ratio = np.logspace(np.log10(2.5), np.log10(200.0), 50)
    temps = dl / ratio
    tau = _quiet(kramers.sgld_escape_time, dl, ha, hb, temps)
    to_min = np.array([kramers.mean_first_passage_time(well, a, nxt, t).value for t in temps]) / tau
    to_saddle = np.array([kramers.mean_first_passage_time(well, a, b, t).value for t in temps]) / tau
    d2a, d3a, d4a = _well_derivatives(well, a)
    d2b, d3b, d4b = _well_derivatives(well, b)
    factor = kramers.finite_temperature_factor(temps, d2a, d2b, d3a, d4a, d3b, d4b)
    c = float((kramers.finite_temperature_factor(1.0, d2a, d2b, d3a, d4a, d3b, d4b) - 1.0) * dl)  # 0.375

    points = ACCURACY["quick" if quick else "barriers"]
    jobs = [dict(landscape=well, dynamics=Langevin(dl / r, dt), exit="minimum", n_walkers=n,
                 max_steps=_max_steps(quick, kramers.mean_first_passage_time(well, a, nxt, dl / r).value, dt),
                 seed=derive(seed, "escape.kramers_accuracy", i), cost=n * np.exp(r) / dt)
            for i, (r, dt, n) in enumerate(points)]
    with _executor(quick) as ex:
        runs = _simulate(jobs, ex)
    r_mc = np.array([p[0] for p in points])
    value, stderr = _values([run.mean_time() for run in runs])
    return {"ratio": ratio, "to_min": to_min, "to_saddle": to_saddle, "factor": factor, "c": c, "r_mc": r_mc,
            "tau_mc": _quiet(kramers.sgld_escape_time, dl, ha, hb, dl / r_mc), "value": value, "stderr": stderr,
            "exact_mc": np.array([kramers.mean_first_passage_time(well, a, nxt, dl / r).value for r in r_mc])}


@figure("escape.kramers_accuracy",
        title="Exact mean first-passage time over the Kramers time on the double well, against dL/T",
        compute=kramers_accuracy_data, params=lambda quick: {"points": ACCURACY["quick" if quick else "barriers"]})
def kramers_accuracy(data):
    ratio, to_min, c, tau_mc = data["ratio"], data["to_min"], data["c"], data["tau_mc"]
    with style():
        fig, ax = new_figure(SINGLE, 2.9)
        ax.axhline(1.0, color="0.4", lw=0.6, zorder=1)
        ax.axvspan(2.0, 10.0, color="0.93", lw=0, zorder=0)
        ax.text(4.5, 0.91, "AsymptoticWarning\n($\\Delta L/T < 10$)", fontsize=6, color="0.35", ha="center",
                va="bottom")
        ax.plot(ratio, to_min, color=COLORS[0], label=r"$T(a\to$ next min.$)/\tau$ (exact)")
        ax.plot(ratio, 1.0 + c / ratio, color=COLORS[0], ls="--", lw=0.9,
                label=rf"$1 + {c:.3g}\,T/\Delta L$ (first order)")
        ax.plot(ratio, 2.0 * data["to_saddle"], color=COLORS[1],
                label=r"$2\,T(a\to b)/\tau$ (to the saddle, exact)")
        ax.plot(ratio, to_min / data["factor"], color=COLORS[2],
                label=r"$T(a\to$ next min.$)/[\tau(1 + 1.5\,T)]$ (corrected)")
        sim_points(ax, data["r_mc"], data["value"] / tau_mc, data["stderr"] / tau_mc, color="k",
                   label="Langevin simulation, next min.\n(mean $\\pm$ 2 s.e.)")
        ax.set(xscale="log", xlim=(2.0, ratio[-1]), ylim=(0.9, 1.3), xlabel=r"barrier over temperature $\Delta L/T$",
               ylabel=r"mean escape time / Kramers $\tau$",
               title=r"Kramers' $\tau$ on $U = x^4/4 - x^2/2$: an expansion in $T/\Delta L$")
        ax.set_xticks([2.5, 5, 10, 20, 50, 100, 200], labels=["2.5", "5", "10", "20", "50", "100", "200"])
        ax.legend(loc="upper right", fontsize=6)
    return fig


# -- arrhenius ------------------------------------------------------------------------------------------------

def _log_time(runs):
    """log of the mean escape times of ``runs`` and its delta-method standard error."""
    v, se = _values([r.mean_time() for r in runs])
    return np.log(v), se / v


def _arrhenius_runs(p, quick, seed, well, tilted, sym, routes):
    """The Langevin runs of the arrhenius figure: (symmetric well, [deep, shallow] of the tilted one)."""
    dt, n = p["dt"], p["n_walkers"]
    r_pts, beta_pts = np.array(p["barriers"]), np.array(p["inv_temps"])

    def mfpt(land, rt, t):
        return kramers.mean_first_passage_time(land, rt.minimum.x[0], rt.next_minimum.x[0], t).value

    jobs = [dict(landscape=well, dynamics=Langevin(sym.delta_loss / r, dt), exit="minimum", n_walkers=n,
                 max_steps=_max_steps(quick, mfpt(well, sym, sym.delta_loss / r), dt),
                 seed=derive(seed, "escape.arrhenius", "sym", i), cost=np.exp(r))
            for i, r in enumerate(r_pts)]
    for name, rt in routes:
        jobs += [dict(landscape=tilted, dynamics=Langevin(1.0 / beta, dt), route=rt, exit="minimum", n_walkers=n,
                      max_steps=_max_steps(quick, mfpt(tilted, rt, 1.0 / beta), dt),
                      seed=derive(seed, "escape.arrhenius", name, i), cost=np.exp(rt.delta_loss * beta))
                 for i, beta in enumerate(beta_pts)]
    with _executor(quick) as ex:
        runs = _simulate(jobs, ex)
    k = len(r_pts)
    return runs[:k], [runs[k:k + len(beta_pts)], runs[k + len(beta_pts):]]


def arrhenius_data(quick: bool = False, seed=0) -> dict:
    r"""Log mean escape times of Langevin dynamics against :math:`\Delta L/T` (symmetric well) and :math:`1/T` (tilted).

    Each panel entry holds the exact-MFPT and Kramers curves, the points ``y`` ±
    ``ye`` (log mean time), their weighted ``fit`` and ``exact_slope``, the
    least-squares slope of the exact MFPT over the same points with the same
    weights: the slope the fit estimates.
    """
    p = ARRHENIUS["quick"] if quick else ARRHENIUS
    well = DoubleWell()
    tilted = DoubleWell(tilt=ARRHENIUS["tilt"])
    sym = well.route(0)
    routes = [("deep", tilted.route(0)), ("shallow", tilted.route(1))]
    r_pts = np.array(p["barriers"])
    beta_pts = np.array(p["inv_temps"])
    sym_runs, tilted_runs = _arrhenius_runs(p, quick, seed, well, tilted, sym, routes)
    # (a) symmetric well against dL/T
    rt = sym
    a, nxt = rt.minimum.x[0], rt.next_minimum.x[0]
    x = np.linspace(1.0, 10.0, 60)
    y, ye = _log_time(sym_runs)
    ex_pts = np.log([kramers.mean_first_passage_time(well, a, nxt, rt.delta_loss / r).value for r in r_pts])
    panel_a = {"x": x, "points": r_pts, "y": y, "ye": ye, "fit": weighted_line(r_pts, y, ye),
               "exact_slope": _ls_slope(r_pts, ex_pts, ye),
               "exact": np.log([kramers.mean_first_passage_time(well, a, nxt, rt.delta_loss / r).value for r in x]),
               "kramers": _quiet(kramers.sgld_escape_time, rt.delta_loss, rt.hess_min_escape, rt.hess_saddle_escape,
                                 rt.delta_loss / x, log=True)}
    # (b) tilted well: both directions against 1/T
    beta = np.linspace(4.0, 24.0, 60)
    panel_b = []
    for (name, rt), rs in zip(routes, tilted_runs):
        a, nxt = rt.minimum.x[0], rt.next_minimum.x[0]
        y, ye = _log_time(rs)
        ex_pts = np.log([kramers.mean_first_passage_time(tilted, a, nxt, 1.0 / bb).value for bb in beta_pts])
        panel_b.append({
            "name": name, "where": "left" if rt.minimum.x[0] < 0 else "right", "delta_loss": float(rt.delta_loss),
            "exact": np.log([kramers.mean_first_passage_time(tilted, a, nxt, 1.0 / bb).value for bb in beta]),
            "kramers": _quiet(kramers.sgld_escape_time, rt.delta_loss, rt.hess_min_escape, rt.hess_saddle_escape,
                              1.0 / beta, log=True),
            "y": y, "ye": ye, "fit": weighted_line(beta_pts, y, ye), "exact_slope": _ls_slope(beta_pts, ex_pts, ye)})
    return {"tilt": ARRHENIUS["tilt"], "symmetric": panel_a, "beta": beta, "points": beta_pts, "tilted": panel_b}


@figure("escape.arrhenius", title="Arrhenius law: log mean escape time against the barrier, symmetric and tilted well",
        compute=arrhenius_data, params=lambda quick: sizes(ARRHENIUS, quick))
def arrhenius(data):
    sym, beta, beta_pts = data["symmetric"], data["beta"], data["points"]
    with style():
        fig, (ax, bx) = new_figure(DOUBLE, 2.9, ncols=2)
        x, fit = sym["x"], sym["fit"]
        ax.plot(x, sym["exact"], color=COLORS[0], label="exact MFPT to the next minimum")
        ax.plot(x, sym["kramers"], color="k", ls="--", lw=0.9, label=r"Kramers $\tau$")
        sim_points(ax, sym["points"], sym["y"], sym["ye"], color=COLORS[0])
        _annotate(ax, f"slope of the points: {fit.slope:.3f} $\\pm$ {fit.slope_se:.3f}\n"
                      f"exact MFPT at the same points: {sym['exact_slope']:.3f}\n"
                      f"Kramers: 1 (the exponent $\\Delta L/T$)", loc="lower right")
        ax.set(xlabel=r"$\Delta L/T$", ylabel=r"$\log$ mean escape time", xlim=(x[0], x[-1]),
               title=r"Symmetric well: $\Delta L = 1/4$, $H_a = 2$, $|H_b| = 1$")
        ax.legend(loc="upper left")
        texts = []
        for panel, color in zip(data["tilted"], (COLORS[1], COLORS[2])):
            name, dl, fit = panel["name"], panel["delta_loss"], panel["fit"]
            bx.plot(beta, panel["exact"], color=color,
                    label=rf"from the {name} ({panel['where']}) well, $\Delta L = {dl:.3f}$: exact")
            bx.plot(beta, panel["kramers"], color=color, ls="--", lw=0.9)
            sim_points(bx, beta_pts, panel["y"], panel["ye"], color=color, label=None)
            texts.append(f"{name}: slope {fit.slope:.3f} $\\pm$ {fit.slope_se:.3f}, exact MFPT "
                         f"{panel['exact_slope']:.3f}, $\\Delta L$ = {dl:.3f}")
        bx.plot([], [], color="0.3", ls="--", lw=0.9, label=r"Kramers $\tau$")
        bx.errorbar([], [], yerr=[], fmt="o", color="0.3", markerfacecolor="white", markersize=3.2,
                    elinewidth=0.8, label=SIM_LABEL)
        _annotate(bx, "\n".join(texts), loc="lower right")
        bx.set(xlabel=r"inverse temperature $1/T$", ylabel=r"$\log$ mean escape time", xlim=(beta[0], beta[-1]),
               title=rf"Tilted well, $U = (x^2-1)^2/4 - {data['tilt']:g}\,x$")
        bx.legend(loc="upper left")
        panel_label(ax, "a")
        panel_label(bx, "b")
        fig.suptitle(r"Arrhenius law $\log\tau \approx \log(2\pi/\sqrt{H_a|H_b|}) + \Delta L/T$: "
                     r"Langevin dynamics, exit at the next minimum")
    return fig


# -- sgd_trends -----------------------------------------------------------------------------------------------

def _route_cache():
    """``route_of(k)``: the 1-D Styblinski-Tang landscape and route at sharpness ``k``, each built once."""
    routes = {}

    def route_of(k):
        if k not in routes:
            routes[k] = _st_route(1, k)
        return routes[k]

    return route_of


def _sgd_exponent(c, route_of, s):
    """log(tau / prefactor) of sgd_escape_time at setting ``c``: the cost of its simulation."""
    _, rt = route_of(c["sharpness"])
    return float(_quiet(kramers.sgd_escape_time, rt.delta_loss, rt.hess_min_escape, rt.hess_saddle_escape,
                        c["lr"], c["batch_size"], s, log=True, convention="hanggi")
                 - np.log(2 * np.pi / rt.hess_saddle_escape))


def _sgd_formula(c, route_of, s):
    """log(tau / lr) of sgd_escape_time (HK convention, to the next minimum) at an integer batch size."""
    _, rt = route_of(c["sharpness"])
    return float(_quiet(kramers.sgd_escape_time, rt.delta_loss, rt.hess_min_escape, rt.hess_saddle_escape,
                        c["lr"], c["batch_size"], s, log=True, convention="hanggi") - np.log(c["lr"]))


def _sgd_jobs(p, base, settings, route_of, quick, seed):
    """The SGDDiffusion runs: one per setting, then the time-step check at dt and dt/ratio (no censoring)."""
    s = p["s"]
    jobs = []
    for i, key in enumerate(settings):
        c = dict(key)
        land, rt = route_of(c["sharpness"])
        dt = p["dt_factor"] / rt.hess_min_escape
        jobs.append(dict(landscape=land, dynamics=SGDDiffusion(c["lr"], c["batch_size"], dt=dt, s=s), route=rt,
                         exit="saddle", n_walkers=p["n_walkers"],
                         max_steps=_max_steps(quick, _sgd_model_mfpt(land, rt, c["lr"], c["batch_size"], s).value, dt),
                         seed=derive(seed, "escape.sgd_trends", i), cost=np.exp(_sgd_exponent(c, route_of, s))))
    # the time-step check: one setting at dt and dt/ratio, with more walkers (independent seeds)
    chk = dict(base, batch_size=p["dt_check"]["batch_size"])
    land, rt = route_of(chk["sharpness"])
    dt0 = p["dt_factor"] / rt.hess_min_escape
    for j, dt in enumerate((dt0, dt0 / p["dt_check"]["ratio"])):
        jobs.append(dict(landscape=land, dynamics=SGDDiffusion(chk["lr"], chk["batch_size"], dt=dt, s=s), route=rt,
                         exit="saddle", n_walkers=p["dt_check"]["n_walkers"], max_steps=10**9,  # no censoring
                         seed=derive(seed, "escape.sgd_trends", "dt", j),
                         cost=np.exp(_sgd_exponent(chk, route_of, s)) * p["dt_check"]["n_walkers"] / p["n_walkers"]
                         * (1 + 3 * j)))
    return jobs, chk


def _dt_bias(coarse, fine, chk, route_of, s) -> dict:
    r"""The time-step check: the mean time extrapolated to :math:`dt \to 0` (order 1/2) and the coarse run's bias.

    :math:`T_0 = T_f(1 + 1/q) - T_c/q` with :math:`q = r^{1/2} - 1`; the bias
    :math:`T_c/T_0 - 1` and its delta-method standard error. ``model_mfpt`` is
    the exact MFPT of the simulated model at that setting, the limit :math:`T_0` estimates.
    """
    extra = extrapolate_dt(coarse, fine, order=0.5)
    t0 = float(extra.estimate.value)
    (tc, sc), (tf, sf) = ((float(m.value), float(m.stderr)) for m in (coarse.mean_time(), fine.mean_time()))
    q = extra.ratio**extra.order - 1.0
    land, rt = route_of(chk["sharpness"])
    return {"t0": t0, "t0_se": float(extra.estimate.stderr), "bias": tc / t0 - 1.0,
            "bias_se": math.hypot((1.0 / t0 + tc / (q * t0**2)) * sc, tc * (1.0 + 1.0 / q) / t0**2 * sf),
            "coarse": (tc, sc), "fine": (tf, sf),
            "model_mfpt": float(_sgd_model_mfpt(land, rt, chk["lr"], chk["batch_size"], s).value)}


def _sgd_panel(key, cs, base, result, route_of, s, exp_slope) -> dict:
    """One trend panel: points, the three theory lines on a grid, the weighted fit and the lines' slopes there."""
    def neg_log_rate(c):  # -log(gamma per iteration) = log(mean time / lr)
        m = result[tuple(sorted(c.items()))].mean_time()
        return math.log(m.value / c["lr"]), float(m.stderr / m.value)

    def model(c):
        land, rt = route_of(c["sharpness"])
        return math.log(_sgd_model_mfpt(land, rt, c["lr"], c["batch_size"], s).value / c["lr"])

    xof = {"sharpness": lambda c: 1.0 / c["sharpness"], "batch_size": lambda c: float(c["batch_size"]),
           "inv_lr": lambda c: 1.0 / c["lr"]}[key]
    x = np.array([xof(c) for c in cs])
    y, ye = np.array([neg_log_rate(c) for c in cs]).T
    # theory lines on a fine grid of the panel's parameter
    grid = np.linspace(x.min() - 0.08 * np.ptp(x), x.max() + 0.08 * np.ptp(x), 12)
    if key == "sharpness":
        gcs = [dict(base, sharpness=1.0 / g) for g in grid]
    elif key == "batch_size":
        gcs = [dict(base, batch_size=g) for g in grid]  # the formula is linear in B: any real B
    else:
        gcs = [dict(base, lr=1.0 / g) for g in grid]
    f_pts = np.array([_sgd_formula(c, route_of, s) for c in cs])
    m_pts = np.array([model(c) for c in cs])
    return {"key": key, "x": x, "y": y, "ye": ye, "grid": grid,
            "formula": np.array([_formula_any(c, route_of, s) for c in gcs]),
            "ito": np.array([_formula_any(c, route_of, s, "ito") for c in gcs]) - math.log(2.0),
            "model": np.array([_model_any(c, route_of, s) for c in gcs]),
            "fit": weighted_line(x, y, ye), "formula_slope": _ls_slope(x, f_pts, ye),
            "model_slope": _ls_slope(x, m_pts, ye), "exponent_slope": exp_slope(cs[0])}


def sgd_trends_data(quick: bool = False, seed=0) -> dict:
    r"""SGDDiffusion escapes on 1-D Styblinski-Tang: :math:`-\log\gamma` against :math:`1/k`, :math:`B`, :math:`1/\eta`.

    Each panel holds the points, the weighted ``fit`` and, over the same points
    with the same weights, the least-squares slopes of the formula
    (:func:`theory.kramers.sgd_escape_time`) and of the exact MFPT of the
    simulated model (``model_slope``, the slope the fit estimates);
    ``exponent_slope`` is the exponent's coefficient alone
    (Xie, Sato and Sugiyama 2021, Theorem 3.2). ``dt_check`` is the time-step
    check of :func:`_dt_bias`.
    """
    p = dict(SGD, **(SGD["quick"] if quick else {}))
    s = p["s"]
    base = {"lr": p["lr"], "batch_size": p["batch_size"], "sharpness": p["sharpness"]}
    panels = {
        "sharpness": [dict(base, sharpness=k) for k in p["sharpnesses"]],
        "batch_size": [dict(base, batch_size=bsz) for bsz in p["batch_sizes"]],
        "inv_lr": [dict(base, lr=1.0 / il) for il in p["inv_lrs"]],
    }
    settings = list(dict.fromkeys(tuple(sorted(c.items())) for cs in panels.values() for c in cs))
    route_of = _route_cache()
    jobs, chk = _sgd_jobs(p, base, settings, route_of, quick, seed)
    with _executor(quick) as ex:
        runs = _simulate(jobs, ex)
    result = dict(zip(settings, runs[:len(settings)]))
    coarse, fine = runs[len(settings):]
    dt_check = _dt_bias(coarse, fine, chk, route_of, s)
    _, rt1 = route_of(1.0)
    coef = rt1.delta_loss * (s / rt1.hess_min_escape + (1 - s) / rt1.hess_saddle_escape)  # E = 2B coef / (lr k)
    exp_slopes = {"sharpness": lambda c: 2 * c["batch_size"] * coef / c["lr"],
                  "batch_size": lambda c: 2 * coef / (c["lr"] * c["sharpness"]),
                  "inv_lr": lambda c: 2 * c["batch_size"] * coef / c["sharpness"]}
    return {"s": s, "base": base, "dt_factor": p["dt_factor"],
            "dt_check": dict(dt_check, batch_size=p["dt_check"]["batch_size"], ratio=p["dt_check"]["ratio"]),
            "panels": [_sgd_panel(key, cs, base, result, route_of, s, exp_slopes[key])
                       for key, cs in panels.items()]}


@figure("escape.sgd_trends",
        title="SGD diffusion model on 1-D Styblinski-Tang: -log(rate) linear in 1/k, B and 1/lr",
        compute=sgd_trends_data, params=lambda quick: dict(SGD, **(SGD["quick"] if quick else {})))
def sgd_trends(data):
    base, chk = data["base"], data["dt_check"]
    labels = {"sharpness": (r"inverse sharpness $1/k$", rf"$\eta = {base['lr']:g}$, $B = {base['batch_size']}$"),
              "batch_size": (r"batch size $B$", rf"$\eta = {base['lr']:g}$, $k = {base['sharpness']:g}$"),
              "inv_lr": (r"inverse learning rate $1/\eta$",
                         rf"$B = {base['batch_size']}$, $k = {base['sharpness']:g}$")}
    with style():
        fig, axes = new_figure(DOUBLE, 3.4, ncols=3)
        for ax, panel, letter in zip(axes, data["panels"], "abc"):
            key, x, grid, fit = panel["key"], panel["x"], panel["grid"], panel["fit"]
            xlabel, fixed = labels[key]
            ax.plot(grid, panel["formula"], color=COLORS[0],
                    label="formula: sgd_escape_time (HK, to the next minimum)")
            ax.plot(grid, panel["ito"], color=COLORS[2], ls=":",
                    label="formula in Ito's reading, to the saddle ($\\tau/2$)")
            ax.plot(grid, panel["model"], color=COLORS[1], ls="--",
                    label="exact MFPT of the simulated model (Ito, to the saddle)")
            sim_points(ax, x, panel["y"], panel["ye"], color="k",
                       label="simulation, exit at the saddle (mean $\\pm$ 2 s.e.)")
            if key == "batch_size":
                t0 = chk["t0"]
                ax.errorbar([float(chk["batch_size"])], [math.log(t0 / base["lr"])], yerr=[2 * chk["t0_se"] / t0],
                            fmt="D", color=COLORS[2], markersize=3.2, elinewidth=0.8, zorder=4,
                            label=r"extrapolated to $dt \to 0$")
            _annotate(ax, f"slope of the points: {fit.slope:.3g} $\\pm$ {fit.slope_se:.2g}\n"
                          f"formula: {panel['formula_slope']:.3g} (exponent alone {panel['exponent_slope']:.3g})\n"
                          f"exact model: {panel['model_slope']:.3g}", loc="upper left")
            ax.set(xlabel=xlabel, title=fixed)
            ax.set_ylabel(r"$-\log\gamma$ ($\gamma$ per iteration)")
            _headroom(ax, 0.4)
            panel_label(ax, letter)
        handles, labels_ = axes[0].get_legend_handles_labels()
        h_b, l_b = axes[1].get_legend_handles_labels()
        fig.legend(handles + h_b[-1:], labels_ + l_b[-1:], loc="outside lower center", ncols=2, fontsize=6.5)
        dt_txt = (rf"$dt = {data['dt_factor']:g}/H_a$; time-step bias of the mean time at "
                  rf"$B = {chk['batch_size']}$: {100 * chk['bias']:+.0f} $\pm$ {100 * chk['bias_se']:.0f}% "
                  rf"(runs at $dt$ and $dt/{chk['ratio']}$, extrapolated with order 1/2)")
        fig.suptitle("SGD diffusion model $D = (\\eta/2B)\\,H_{\\rm eff}$, $s = 1/2$, on Styblinski-Tang, dim = 1 "
                     "(one escape path): escape over the saddle\n" + dt_txt, fontsize=8)
    return fig


def _formula_any(c, route_of, s, convention="hanggi"):
    """log(tau / lr) of sgd_escape_time for a setting whose batch size may be a real number (a line)."""
    _, rt = route_of(c["sharpness"])
    b = c["batch_size"]
    lo = math.floor(b)
    # linear in B: interpolate between integers
    vals = [float(_quiet(kramers.sgd_escape_time, rt.delta_loss, rt.hess_min_escape, rt.hess_saddle_escape,
                         c["lr"], max(1, bb), s, log=True, convention=convention)) for bb in (lo, lo + 1)]
    return vals[0] + (b - lo) * (vals[1] - vals[0]) - math.log(c["lr"])


def _model_any(c, route_of, s):
    """log(exact model MFPT / lr); the batch size enters only through lr/(2B), so it may be real."""
    land, rt = route_of(c["sharpness"])
    return math.log(_sgd_model_mfpt(land, rt, c["lr"], c["batch_size"], s).value / c["lr"])


# -- sgld_trends ----------------------------------------------------------------------------------------------

def _sgld_rates(p, quick, seed):
    """The Langevin valley exits: ``rate(k, B)`` after the burn-in, per (sharpness, batch size) setting."""
    dim, noise = p["dim"], p["noise"]
    temp_of = {bsz: noise / bsz for bsz in p["batch_sizes"]}
    _, rt1 = _st_route(1, 1.0)
    ha1 = rt1.hess_min_escape
    settings = [(1.0, bsz) for bsz in p["batch_sizes"]]
    settings += [(k, p["batch_size"]) for k in p["sharpnesses"] if k != 1.0]
    lands = {k: StyblinskiTang(dim=dim, sharpness=k) for k in {k for k, _ in settings}}
    jobs = []
    for i, (k, bsz) in enumerate(settings):
        t = temp_of[bsz]
        dt = p["dt_factor"] / (ha1 * k)
        l1, r1 = _st_route(1, k)
        mean = kramers.mean_first_passage_time(l1, r1.minimum.x[0], r1.saddle.x[0], t).value / dim
        jobs.append(dict(landscape=lands[k], dynamics=Langevin(t, dt), exit="valley", n_walkers=p["n_walkers"],
                         max_steps=_max_steps(quick, mean, dt), seed=derive(seed, "escape.sgld_trends", i),
                         cost=np.exp(rt1.delta_loss / t)))
    with _executor(quick) as ex:
        runs = _simulate(jobs, ex)
    res = dict(zip(settings, runs))

    def rate(k, bsz):  # after a burn-in of burn_in relaxation times 1/H_a (H_a = 34.6 k)
        return _residual_rate(res[(k, bsz)], p["burn_in"] / (ha1 * k))

    return rate, temp_of


def sgld_trends_data(quick: bool = False, seed=0) -> dict:
    r"""SGLD valley exits on 10-D Styblinski-Tang: the rate against :math:`k`, :math:`-\log\gamma` against :math:`1/T`.

    Panel ``a``: rates ``g`` ± ``ge`` at sharpnesses ``ks`` with their fit through
    the lines' slopes ``slope_kramers`` (twice the Eyring-Kramers total rate,
    Haenggi, Talkner and Borkovec 1990, Eq. (4.56)) and ``slope_exact`` (the sum
    of the paths' exact 1-D rates), and ``delay``, the discrete-monitoring
    lengthening :math:`1 + 0.657\sqrt{dt\,|H_b|}` of the valley exit.
    Panels ``b``, ``c``: the same points against :math:`1/T` and :math:`B`, each
    with its fit, the predicted slope :math:`\Delta L` (or :math:`\Delta L` over
    :math:`\eta\sigma^2/2`) and ``exact_slope``, the exact MFPT's least-squares
    slope over the points.
    """
    p = dict(SGLD, **(SGLD["quick"] if quick else {}))
    dim, noise = p["dim"], p["noise"]
    _, rt1 = _st_route(1, 1.0)
    ha1 = rt1.hess_min_escape
    rate, temp_of = _sgld_rates(p, quick, seed)

    def kramers_rate(k, t):  # valley exit = first passage to the separatrix: twice the Kramers rate per path
        land = StyblinskiTang(dim=dim, sharpness=k)
        taus = [_quiet(kramers.sgld_escape_time, r.delta_loss, r.minimum.eigvals, r.saddle.eigvals, t)
                for r in land.routes(0)]
        return 2.0 * float(kramers.total_rate([1.0 / tau for tau in taus]))

    def exact_rate(k, t):  # sum over the dim paths of 1 / (exact 1-D MFPT from the minimum to the maximum)
        l1, r1 = _st_route(1, k)
        return dim / kramers.mean_first_passage_time(l1, r1.minimum.x[0], r1.saddle.x[0], t).value

    # (a) rate against k at fixed T
    t_a = temp_of[p["batch_size"]]
    ks = np.array(sorted(p["sharpnesses"]))
    g, ge = _values([rate(k, p["batch_size"]) for k in ks])
    panel_a = {"ks": ks, "g": g, "ge": ge, "kk": np.linspace(0.0, ks.max() * 1.08, 50), "t": t_a,
               "slope_kramers": kramers_rate(1.0, t_a), "slope_exact": exact_rate(1.0, t_a),
               "fit": weighted_line(ks, g, ge),
               "delay": 1.0 + _MONITOR * math.sqrt(p["dt_factor"] * rt1.hess_saddle_escape / ha1)}
    # (b) -log rate against 1/T at k = 1; (c) the same runs against B with T = lr sigma^2 / (2B)
    bs = np.array(sorted(p["batch_sizes"]))
    temps = np.array([temp_of[b_] for b_ in bs])
    g, ge = _values([rate(1.0, b_) for b_ in bs])
    y, ye = -np.log(g), ge / g
    beta = 1.0 / temps
    grid_b = np.linspace(beta.min() - 0.1 * np.ptp(beta), beta.max() + 0.1 * np.ptp(beta), 40)
    x_pts = np.array([-np.log(exact_rate(1.0, t)) for t in temps])
    lines = {"grid": grid_b, "kramers": np.array([-np.log(kramers_rate(1.0, 1.0 / bb)) for bb in grid_b]),
             "exact": np.array([-np.log(exact_rate(1.0, 1.0 / bb)) for bb in grid_b]), "y": y, "ye": ye}
    panels = [{"x": xs, "fit": weighted_line(xs, y, ye), "predicted": rt1.delta_loss * scale,
               "exact_slope": _ls_slope(xs, x_pts, ye)}
              for xs, scale in ((beta, 1.0), (bs.astype(float), 1.0 / noise))]
    return {"dim": dim, "noise": noise, "delta_loss": float(rt1.delta_loss), "ha1": float(ha1),
            "dt_factor": p["dt_factor"], "burn_in": p["burn_in"], "rate_k": panel_a, "lines": lines,
            "against_inv_temp": panels[0], "against_batch_size": panels[1]}


def _sgld_rate_panel(ax, data):
    """Panel (a) of sgld_trends: the rate against the sharpness, through the origin."""
    pa = data["rate_k"]
    kk, fit = pa["kk"], pa["fit"]
    slope_k, slope_x, delay = pa["slope_kramers"], pa["slope_exact"], pa["delay"]
    ax.plot(kk, slope_k * kk, color=COLORS[0],
            label=r"Eyring-Kramers: $\gamma = 2\sum_p 1/\tau_p$ (the separatrix is reached in $\tau/2$)")
    ax.plot(kk, slope_x * kk, color=COLORS[1], ls="--",
            label=r"exact: $\gamma = \sum_p 1/T_p(a\to b)$ (1-D mean first-passage time to the maximum)")
    sim_points(ax, pa["ks"], pa["g"], pa["ge"], color="k", label="simulation, exit from the basin (mean $\\pm$ 2 s.e.)")
    _annotate(ax, f"slope of the points: {fit.slope:.3g} $\\pm$ {fit.slope_se:.2g}\n"
                  f"intercept: {fit.intercept:.1g} $\\pm$ {fit.intercept_se:.1g}\n"
                  f"predicted: {slope_k:.3g} (Kramers), {slope_x:.3g} (exact)\n"
                  f"exact / monitoring delay {delay:.3f}: {slope_x / delay:.3g}", loc="upper left")
    ax.set(xlim=(0, kk[-1]), ylim=(0, None), xlabel=r"sharpness $k$",
           ylabel=r"escape rate $\gamma$ (per unit time)",
           title=rf"$\gamma = O(k)$ at $\Delta L/T = {data['delta_loss'] / pa['t']:.2f}$")
    _headroom(ax, 0.75)


@figure("escape.sgld_trends",
        title="SGLD on 10-D Styblinski-Tang: rate O(k); -log(rate) linear in 1/T and, at T = lr sigma^2/(2B), in B",
        compute=sgld_trends_data, params=lambda quick: dict(SGLD, **(SGLD["quick"] if quick else {})))
def sgld_trends(data):
    dim, noise, dl, lines = data["dim"], data["noise"], data["delta_loss"], data["lines"]
    with style():
        fig, (ax, bx, cx) = new_figure(DOUBLE, 3.3, ncols=3)
        _sgld_rate_panel(ax, data)
        for axis, panel, grid, xlabel in (
                (bx, data["against_inv_temp"], lines["grid"], r"inverse temperature $1/T$"),
                (cx, data["against_batch_size"], lines["grid"] * noise,
                 rf"batch size $B$ ($T = \eta\sigma^2/2B$, $\eta\sigma^2/2 = {noise:g}$)")):
            fit = panel["fit"]
            axis.plot(grid, lines["kramers"], color=COLORS[0])
            axis.plot(grid, lines["exact"], color=COLORS[1], ls="--")
            sim_points(axis, panel["x"], lines["y"], lines["ye"], color="k", label=None)
            _annotate(axis, f"slope of the points: {fit.slope:.3g} $\\pm$ {fit.slope_se:.2g}\n"
                            f"predicted: {panel['predicted']:.3g} ($\\Delta L$"
                            + ("" if axis is bx else rf"$/{noise:g}$") + ")\n"
                            f"exact MFPT at the points: {panel['exact_slope']:.3g}", loc="upper left")
            axis.set(xlabel=xlabel, ylabel=r"$-\log\gamma$")
            _headroom(axis, 0.45)
        bx.set_title(r"against $1/T$ ($k = 1$)")
        cx.set_title(r"the same runs against $B$")
        fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=2, fontsize=6.5)
        for axis, letter in zip((ax, bx, cx), "abc"):
            panel_label(axis, letter)
        fig.suptitle(rf"SGLD ($D = T$) on Styblinski-Tang, dim = {dim}: leaving the basin through any of the "
                     rf"{dim} saddles ($\Delta L = {dl:.2f}$, $H_a = {data['ha1']:.1f}\,k$)" + "\n"
                     rf"$dt = {data['dt_factor']:g}/H_a$; rates of the walkers still inside after a burn-in of "
                     rf"${data['burn_in']:g}/H_a$", fontsize=8)
    return fig


# -- learned_landscape ----------------------------------------------------------------------------------------

# learned_landscape, quick: the fast half of each scan (more escapes in few iterations), five settings in one scan
LEARNED_QUICK = {"n_walkers": 32, "max_steps": 800}


def _learned_params(quick: bool) -> dict:
    from .. import learned

    return dict(learned.DEFAULTS, **(LEARNED_QUICK if quick else {}))


def _learned_scans(quick: bool, seed):
    """(model, trained minimum, [(lr, B, -log rate, s.e.) of the B scan and of the 1/lr scan], walkers, burn-in)."""
    from .. import learned

    d = learned.DEFAULTS
    if quick:
        model, trained = learned.default_model()
        lr0, b0 = d["lr"], d["batch_size"]
        by_b_set = [(lr0, b) for b in d["batch_sizes"] if b <= b0][-3:]
        by_lr_set = [(a, b0) for a in d["lrs"] if a >= lr0][:3]
        settings = list(dict.fromkeys(by_b_set + by_lr_set))
        n_walkers = LEARNED_QUICK["n_walkers"]
        scan = learned.escape_scan(model, trained.theta, lr=[a for a, _ in settings],
                                   batch_size=[b for _, b in settings], threshold=d["threshold"],
                                   n_walkers=n_walkers, max_steps=LEARNED_QUICK["max_steps"], burn_in=d["burn_in"],
                                   seed=derive(seed, "escape.learned_landscape", 0))
        panels = [_scan_subset(scan, [settings.index(c) for c in chosen]) for chosen in (by_b_set, by_lr_set)]
        return model, trained, panels, n_walkers, scan.burn_in
    with _executor(quick) as ex:
        model, trained, by_b, by_lr = learned.default_scans(
            seed=derive(seed, "escape.learned_landscape", 0), executor=ex)
    panels = [_scan_subset(sc, range(sc.lr.size)) for sc in (by_b, by_lr)]
    return model, trained, panels, by_b.results[0].n_walkers, by_b.burn_in


def learned_landscape_data(quick: bool = False, seed=0) -> dict:
    r"""Real minibatch SGD on the model of :data:`theory.learned.DEFAULTS`: :math:`-\log\gamma` against B, 1/lr.

    Each panel holds the settings with escapes after the burn-in (``x``, ``y`` ±
    ``ye``), the weighted ``fit``, and the quadratic-valley slopes
    (:func:`theory.learned.quadratic_escape_exponent`: :math:`A/\eta` against
    :math:`B`, :math:`AB` against :math:`1/\eta`) with the exact noise covariance
    (``predicted``) and with :math:`C = H` (``predicted_hessian``); ``xc``, ``yc``
    is the points' weighted mean, through which the predicted lines are drawn.
    """
    from .. import learned

    d = learned.DEFAULTS
    model, trained, scans, n_walkers, burn_in = _learned_scans(quick, seed)
    a_exact = learned.quadratic_escape_exponent(model, trained.theta, d["threshold"])
    a_hess = learned.quadratic_escape_exponent(model, trained.theta, d["threshold"], noise="hessian")
    panels = []
    for (lrs, bs, y, ye), key in zip(scans, ("batch_size", "inv_lr")):
        x = bs.astype(float) if key == "batch_size" else 1.0 / lrs
        ok = np.isfinite(y) & np.isfinite(ye)  # a setting where nobody escaped after the burn-in has no rate
        x, y, ye = x[ok], y[ok], ye[ok]
        if np.unique(x).size < 2:  # (tiny runs only) too few settings with escapes after the burn-in
            raise DomainError("too few settings with escapes after the burn-in to fit a line; "
                              "run with more walkers or iterations")
        other = float(lrs[0]) if key == "batch_size" else float(bs[0])
        pred, pred_h = ((a_exact / other, a_hess / other) if key == "batch_size"
                        else (a_exact * other, a_hess * other))
        w = 1.0 / ye**2
        panels.append({"key": key, "x": x, "y": y, "ye": ye, "fit": weighted_line(x, y, ye), "other": other,
                       "predicted": float(pred), "predicted_hessian": float(pred_h),
                       "xc": float(np.sum(w * x) / np.sum(w)), "yc": float(np.sum(w * y) / np.sum(w))})
    return {"n_hidden": d["n_hidden"], "threshold": d["threshold"], "n_walkers": int(n_walkers),
            "burn_in": int(burn_in), "panels": panels}


@figure("escape.learned_landscape",
        title="SGD with real minibatches on a learned landscape: -log(rate) against B and 1/lr",
        compute=learned_landscape_data, params=_learned_params, stored=True)
def learned_landscape(data):
    with style():
        fig, axes = new_figure(DOUBLE, 3.1, ncols=2)
        for ax, panel, letter in zip(axes, data["panels"], "ab"):
            key, x, y, ye, fit = panel["key"], panel["x"], panel["y"], panel["ye"], panel["fit"]
            other, pred, pred_h, xc, yc = (panel[k] for k in ("other", "predicted", "predicted_hessian", "xc", "yc"))
            grid = np.linspace(x.min() - 0.06 * np.ptp(x), x.max() + 0.06 * np.ptp(x), 10)
            ax.plot(grid, fit.intercept + fit.slope * grid, color=COLORS[0], label="weighted fit")
            ax.plot(grid, yc + pred * (grid - xc), color=COLORS[1], ls="--",
                    label="quadratic valley, exact noise $C$")
            ax.plot(grid, yc + pred_h * (grid - xc), color=COLORS[2], ls=":",
                    label="quadratic valley, $C = H$ (theory's assumption)")
            sim_points(ax, x, y, ye, color="k", label="SGD with real minibatches (mean $\\pm$ 2 s.e.)")
            chi2 = f" ($\\chi^2$ = {fit.chi2:.1f} on {fit.dof})" if fit.dof > 0 else ""
            _annotate(ax, f"slope of the points: {fit.slope:.3g} $\\pm$ {fit.slope_se:.2g}{chi2}\n"
                          f"predicted: {pred:.3g} (exact $C$), {pred_h:.3g} ($C = H$)", loc="lower right")
            if key == "batch_size":
                ax.set(xlabel=r"batch size $B$", title=rf"against $B$ at $\eta = {other:g}$")
            else:
                ax.set(xlabel=r"inverse learning rate $1/\eta$", title=rf"against $1/\eta$ at $B = {other:g}$")
            ax.set_ylabel(r"$-\log\gamma$ ($\gamma$ per unit time $t = k\eta$)")
            panel_label(ax, letter)
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=4, fontsize=6.5)
        fig.suptitle(f"Tanh MLP ({data['n_hidden']} units) on the diabetes data: escape of real minibatch SGD above "
                     f"$L^* + {data['threshold']:g}$ ({data['n_walkers']} walkers per point, rate after "
                     f"{data['burn_in']} iterations);\n"
                     "predicted lines through the points' weighted mean (the theory gives the slope, not the "
                     "intercept)", fontsize=8)
    return fig


def _scan_subset(scan, indices):
    """(lr, batch_size, -log rate, its standard error) of some settings of an EscapeScan."""
    i = np.asarray(list(indices), dtype=int)
    return (scan.lr[i], scan.batch_size[i], np.asarray(scan.neg_log_rate.value)[i],
            np.asarray(scan.neg_log_rate.stderr)[i])


# -- selection ------------------------------------------------------------------------------------------------

def selection_data(quick: bool = False, seed=0) -> dict:
    r"""Closed-form selection between two equally deep valleys (Xie, Sato and Sugiyama 2021).

    The occupation of a valley is :math:`P_a = \tau_a/\sum_v\tau_v`.

    Per sharpness ratio: :math:`P(\mathrm{flat})` and the log odds
    :math:`\log(\tau_{\rm flat}/\tau_{\rm sharp})` for SGD (:math:`\eta/(2B) =
    \varepsilon`, i.e. :math:`D = \varepsilon H`) and SGLD (:math:`T =
    \varepsilon`) against :math:`x = \Delta L/\varepsilon`, and the SGD log odds'
    slope in :math:`x`.
    """
    p = SELECTION
    dl, h_flat, hb, s = p["delta_loss"], p["hess_flat"], p["hess_saddle"], p["s"]
    x = np.logspace(0.0, np.log10(60.0), 200)  # dL / eps
    eps = dl / x
    out = {"x": x, "p_sgd": [], "p_sgld": [], "odds_sgd": [], "odds_sgld": [], "slope_sgd": []}
    for ratio in p["ratios"]:
        h_sharp = ratio * h_flat
        # SGLD with T = eps; SGD with lr/(2B) = eps, i.e. D = eps H
        t_flat = _quiet(kramers.sgld_escape_time, dl, h_flat, hb, eps, log=True)
        t_sharp = _quiet(kramers.sgld_escape_time, dl, h_sharp, hb, eps, log=True)
        lr, bsz = 2.0 * eps, 1  # lr/(2B) = eps
        u_flat = _quiet(kramers.sgd_escape_time, dl, h_flat, hb, lr, bsz, s, log=True, convention="hanggi")
        u_sharp = _quiet(kramers.sgd_escape_time, dl, h_sharp, hb, lr, bsz, s, log=True, convention="hanggi")
        out["p_sgld"].append(kramers.selection_probability(np.stack([t_flat, t_sharp], -1), log=True)[..., 0])
        out["p_sgd"].append(kramers.selection_probability(np.stack([u_flat, u_sharp], -1), log=True)[..., 0])
        out["odds_sgd"].append(u_flat - u_sharp)
        out["odds_sgld"].append(t_flat - t_sharp)
        out["slope_sgd"].append(s * dl * (1 / h_flat - 1 / h_sharp) / dl)
    return {k: np.array(v) for k, v in out.items()}


@figure("escape.selection", title="Probability of the flatter of two equally deep valleys: SGD against SGLD",
        compute=selection_data, params=lambda quick: SELECTION)
def selection(data):
    p = SELECTION
    dl, h_flat, hb, s = p["delta_loss"], p["hess_flat"], p["hess_saddle"], p["s"]
    x = data["x"]
    with style():
        fig, (ax, bx) = new_figure(DOUBLE, 2.8, ncols=2)
        for i, (ratio, color) in enumerate(zip(p["ratios"], COLORS)):
            ax.plot(x, data["p_sgd"][i], color=color, label=rf"SGD, $H_{{\rm sharp}}/H_{{\rm flat}} = {ratio:g}$")
            ax.plot(x, data["p_sgld"][i], color=color, ls="--", lw=0.9)
            bx.plot(x, data["odds_sgd"][i], color=color, label=rf"SGD, ratio ${ratio:g}$: slope "
                    rf"${data['slope_sgd'][i]:.3g}$")
            bx.plot(x, data["odds_sgld"][i], color=color, ls="--", lw=0.9)
        ax.plot([], [], color="0.3", ls="--", lw=0.9, label=r"SGLD (Kramers): $\sqrt{H_{\rm sharp}}/"
                r"(\sqrt{H_{\rm flat}} + \sqrt{H_{\rm sharp}})$")
        ax.axhline(0.5, color="0.6", lw=0.5, zorder=0)
        ax.set(xscale="log", xlim=(x[0], x[-1]), ylim=(0.45, 1.005), xlabel=r"$\Delta L/\varepsilon$",
               ylabel=r"$P(\mathrm{flat}) = \tau_{\rm flat}/(\tau_{\rm flat} + \tau_{\rm sharp})$",
               title="Probability of the flat valley")
        ax.set_xticks([1, 2, 5, 10, 20, 50], labels=["1", "2", "5", "10", "20", "50"])
        ax.legend(loc="upper left", fontsize=6)
        bx.plot([], [], color="0.3", ls="--", lw=0.9,
                label=r"SGLD: constant $\frac{1}{2}\log(H_{\rm sharp}/H_{\rm flat})$")
        bx.set(xlim=(0, x[-1]), xlabel=r"$\Delta L/\varepsilon$", ylabel=r"$\log(\tau_{\rm flat}/\tau_{\rm sharp})$",
               title=r"Log odds: linear in $B/\eta$ for SGD, flat for SGLD")
        bx.legend(loc="upper left", fontsize=6)
        panel_label(ax, "a")
        panel_label(bx, "b")
        fig.suptitle(rf"Two valleys of equal depth $\Delta L = {dl:g}$ sharing a saddle ($|H_b| = {hb:g}$), "
                     rf"$H_{{\rm flat}} = {h_flat:g}$; noise scale $\varepsilon$: $T$ for SGLD, "
                     rf"$\eta/2B$ for SGD ($D = \varepsilon H$, $s = {s:g}$)", fontsize=8)
    return fig


# -- naive_sgd_diffusion --------------------------------------------------------------------------------------

def naive_sgd_diffusion_data(quick: bool = False, seed=0) -> dict:
    r"""The double well, the naive :math:`D \propto U''` and the piecewise SGD diffusion, and their barriers.

    :math:`\Phi = \int U'/D\,dx` from the minimum, in units of :math:`2B/\eta`:
    naive :math:`(x^2-1)/6 - \frac19\log(|3x^2-1|/2)` (infinite at
    :math:`-1/\sqrt3`), piecewise :math:`\min(\Delta U, s\Delta L)/H_a +
    \max(\Delta U - s\Delta L, 0)/|H_b|`.
    """
    well = DoubleWell()
    rt = well.route(0)
    dl, ha, hb, s = rt.delta_loss, rt.hess_min_escape, rt.hess_saddle_escape, 0.5
    x_inf = 1.0 / math.sqrt(3.0)
    x = np.linspace(-1.6, 0.8, 900)
    u = well.potential(x)
    left = x < -x_inf
    with np.errstate(divide="ignore"):
        phi_naive = np.where(left, (x * x - 1) / 6 - np.log(np.abs(3 * x * x - 1) / 2) / 9, np.nan)
    du = u - rt.minimum.value
    climb = x <= rt.saddle.x[0]
    phi_pw = np.minimum(du, s * dl) / ha + np.maximum(du - s * dl, 0.0) / hb
    return {"x": x, "u": u, "upp": 3 * x * x - 1, "h_eff": np.where(du < s * dl, ha, hb),
            "phi_naive": phi_naive, "phi_piecewise": np.where(climb, phi_pw, np.nan), "s": s, "delta_loss": dl,
            "x_inflection": x_inf, "saddle": float(rt.saddle.x[0]), "top": dl * (s / ha + (1 - s) / hb)}


@figure("escape.naive_sgd_diffusion",
        title="Why D proportional to L'' fails and the piecewise SGD model works, on the double well",
        compute=naive_sgd_diffusion_data)
def naive_sgd_diffusion(data):
    x, s, dl, x_inf, top = data["x"], data["s"], data["delta_loss"], data["x_inflection"], data["top"]
    with style():
        fig, (ax, bx, cx) = new_figure(DOUBLE, 2.7, ncols=3)
        ax.plot(x, data["u"], color="k", label=r"$U(x)$")
        ax.axhline(s * dl, color=COLORS[4], lw=0.8, ls=":", label=rf"switch level $s\Delta L$, $s = {s:g}$")
        for xv in (-x_inf, x_inf):
            ax.axvline(xv, color="0.6", lw=0.6, ls="--")
        ax.text(-x_inf, 0.3, r"$-1/\sqrt{3}$ ", fontsize=6.5, color="0.35", ha="right")
        ax.text(x_inf, 0.3, r" $1/\sqrt{3}$", fontsize=6.5, color="0.35", ha="left")
        ax.set(xlim=(x[0], x[-1]), ylim=(-0.02, 0.5), xlabel=r"$x$", ylabel=r"$U(x) = (x^2-1)^2/4$",
               title="The double well")
        ax.legend(loc="upper right", fontsize=6)
        bx.plot(x, data["upp"], color=COLORS[1], label=r"naive: $U''(x)$")
        bx.plot(x, data["h_eff"], color=COLORS[0], label=r"piecewise: $H_a$ or $|H_b|$")
        bx.axhline(0.0, color="0.4", lw=0.6)
        bx.fill_between(x, -2.0, 0, where=np.abs(x) < x_inf, color=COLORS[1], alpha=0.12, lw=0)
        bx.text(0.0, -1.55, "$U'' < 0$: no diffusion", fontsize=6, color=COLORS[1], ha="center", va="center")
        for xv in (-x_inf, x_inf):
            bx.axvline(xv, color="0.6", lw=0.6, ls="--")
        bx.set(xlim=(x[0], x[-1]), ylim=(-2.0, 6.8), xlabel=r"$x$", ylabel=r"$D\,/\,(\eta/2B)$",
               title=r"Noise: $D = (\eta/2B)\times$ curvature")
        bx.legend(loc="upper right", fontsize=6)
        cx.plot(x, data["phi_naive"], color=COLORS[1], label=r"naive $D \propto U''$: $\to\infty$ at $-1/\sqrt{3}$")
        cx.plot(x, data["phi_piecewise"], color=COLORS[0], label="piecewise model: finite")
        cx.axhline(top, color=COLORS[0], lw=0.6, ls=":")
        cx.text(0.0, top + 0.03, r"$\Delta L(s/H_a + (1-s)/|H_b|)$" + "\n" + rf"$= {top:g}$", fontsize=6.5,
                color=COLORS[0], va="bottom", ha="center")
        cx.plot([data["saddle"]], [top], "o", color=COLORS[0], ms=3)
        cx.axvline(-x_inf, color="0.6", lw=0.6, ls="--")
        cx.set(xlim=(x[0], 0.5), ylim=(0, 0.5), xlabel=r"$x$",
               ylabel=r"$(\eta/2B)\,[\Phi(x) - \Phi(a)]$",
               title=r"Barrier $\Phi = \int U'/D\,dx$")
        cx.legend(loc="upper right", fontsize=6)
        for axis, letter in zip((ax, bx, cx), "abc"):
            panel_label(axis, letter)
        fig.suptitle(r"The mean escape time grows like $e^{\Phi(b) - \Phi(a)}$: with $D \propto U''$ the "
                     r"barrier is infinite (escape impossible); the piecewise model of SGD keeps it finite",
                     fontsize=8)
    return fig
