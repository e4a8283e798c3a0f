"""Checks of the stability theory of GD and VGD on quadratics (``stability.*``).

Each check simulates with :func:`theory.simulators.simulate_vgd` and compares
with the closed forms in :mod:`theory.quadratic` and :mod:`theory.vgd`. The
configuration is embedded below (``CONFIG``) so that ``theory verify`` runs
the same experiment everywhere; only the seed changes it.
"""

from __future__ import annotations

import numpy as np

from .. import quadratic, vgd
from ..simulators import simulate_vgd
from .core import Comparison, register

SOURCE = "Ghosh et al. (2025), arXiv:2506.12903, Sec. 3"

CONFIG = {
    # Directions below, near and above their VGD thresholds (about 10.9, 17.0, 12.5, 8.9).
    "one_step": {"eigvals": [0.5, 5.0, 12.0, 19.0], "grad_proj": [0.3, 1.0, -0.4, 0.2],
                 "lr": 0.1, "sigma": 0.05, "n_samples": 4, "n_runs": 200_000},
    # dof = 10: the loss change is quadratic in e, so its variance needs E[e^4] and
    # the variance of the standard error needs E[e^8]: finite for dof > 8. "scale" is
    # the t law's (scipy's) scale; the standard deviation sigma is scale * sqrt(dof / (dof - 2)).
    "student_t": {"eigvals": [0.5, 5.0, 12.0, 19.0], "grad_proj": [0.3, 1.0, -0.4, 0.2],
                  "lr": 0.1, "scale": 0.05, "n_samples": 4, "dof": 10.0, "n_runs": 200_000},
    # z = Ns g^2 / sigma^2 = 100 and lr = 0.1: VF = 1/2, threshold 10 (the cubic's root 10).
    "sign_change": {"grad_proj": 1.0, "lr": 0.1, "sigma": 0.1, "n_samples": 1, "rel_step": 0.02,
                    "n_runs": 200_000},
    # GD from random starts N(0, I), eigenvalues 2/lr * (0.05, 0.9, 1.05): the last diverges.
    "gd_divergence": {"eigvals": [1.0, 18.0, 21.0], "lr": 0.1, "n_steps": 12, "n_runs": 1_000_000},
    "trajectory": {"eigvals": [1.0, 8.0, 15.0], "mean0": [1.0, 0.5, 0.2], "lr": 0.1, "sigma": 0.2,
                   "n_samples": 2, "n_steps": 60, "at_steps": [1, 5, 20, 60], "n_runs": 50_000},
    "full_matrix": {"size": 5, "matrix_seed": 20260101, "lr": 0.05, "sigma": 0.1, "n_samples": 3,
                    "n_runs": 200_000},
}


def _rows(label_fmt, values, est, formula, **kw):
    return [Comparison(label_fmt.format(x), float(f), float(e), float(s), **kw)
            for x, f, e, s in zip(values, formula, est.value, est.stderr)]


@register("stability.expected_loss_change", stream="vgd.expected_loss_change", title="One VGD step: expected loss change in every eigen-direction",
          formula="theory.quadratic.expected_loss_change", simulator="simulate_vgd", source=SOURCE,
          tests=("theory.quadratic.expected_loss_change",), mutation=0.01)
def expected_loss_change(ctx):
    c = CONFIG["one_step"]
    lam, g = np.array(c["eigvals"]), np.array(c["grad_proj"])
    run = simulate_vgd(lam, g / lam, lr=c["lr"], sigma=c["sigma"], n_samples=c["n_samples"], n_steps=1,
                       n_runs=c["n_runs"], seed=ctx.seed, **ctx.sim())
    f = quadratic.expected_loss_change(lam, g, c["lr"], c["sigma"], c["n_samples"])
    return _rows("lambda={:g}", lam, run.change_by_direction[1], f)


@register("stability.student_t", stream="vgd.student_t", title="One VGD step with Student-t perturbations (dof 10): expected loss change",
          formula="theory.quadratic.expected_loss_change(dof=...)", simulator="simulate_vgd(dof=...)",
          source=SOURCE, tests=("theory.quadratic.expected_loss_change",), mutation=0.01)
def student_t(ctx):
    c = CONFIG["student_t"]
    lam, g = np.array(c["eigvals"]), np.array(c["grad_proj"])
    sigma = float(np.sqrt(vgd.perturbation_variance(c["scale"], c["dof"])))
    run = simulate_vgd(lam, g / lam, lr=c["lr"], sigma=sigma, n_samples=c["n_samples"], dof=c["dof"],
                       n_steps=1, n_runs=c["n_runs"], seed=ctx.seed, **ctx.sim())
    f = quadratic.expected_loss_change(lam, g, c["lr"], sigma, c["n_samples"], dof=c["dof"])
    return _rows("lambda={:g}", lam, run.change_by_direction[1], f)


@register("stability.threshold_sign_change", stream="vgd.threshold_sign_change", title="The expected change vanishes at the VGD threshold and changes sign there",
          formula="theory.vgd.vgd_threshold", simulator="simulate_vgd", source=SOURCE,
          tests=("theory.vgd.vgd_threshold",), mutation=0.01)
def threshold_sign_change(ctx):
    r"""Simulate one step at :math:`\lambda^*(1-d)`, :math:`\lambda^*`, :math:`\lambda^*(1+d)`; test :math:`\lambda^*` alone.

    No other formula enters: the rows compare the simulation with 0 and with
    :math:`\lambda^*`.

    - below and above: the simulated change is negative, then positive (sign only);
    - at :math:`\lambda^*`: the simulated change is 0 (a threshold off by a
      relative :math:`\epsilon` leaves :math:`\epsilon\lambda^* f'(\lambda^*)`, with the
      slope :math:`f'` estimated from the two outer points: the row's sensitivity);
    - the zero crossing of the parabola through the three simulated points,
      against :math:`\lambda^*`. The expected change is a cubic in
      :math:`\lambda` (one step on a quadratic), so the parabola's error at the
      crossing :math:`r` is :math:`f^{(3)}(r-x_0)(r-x_1)(r-x_2)/6`, with
      :math:`x_1 = \lambda^*` within a few standard errors of :math:`r`: below
      :math:`10^{-3}` standard errors here, and the row's bias is 0. Its
      standard error is the delta method's, :math:`\partial r/\partial f_i =
      -L_i(r)/p'(r)` (:math:`L_i` the Lagrange basis, :math:`p` the parabola).
    """
    c = CONFIG["sign_change"]
    g, lr, sigma, ns, d = c["grad_proj"], c["lr"], c["sigma"], c["n_samples"], c["rel_step"]
    star = float(vgd.vgd_threshold(lr, sigma, g * g, ns))
    lams = star * np.array([1 - d, 1.0, 1 + d])
    val, se = np.empty(3), np.empty(3)
    for i, lam in enumerate(lams):
        run = simulate_vgd(np.array([lam]), np.array([g / lam]), lr=lr, sigma=sigma, n_samples=ns, n_steps=1,
                           n_runs=c["n_runs"], seed=ctx.child(i), **ctx.sim())
        est = run.change_by_direction[1, 0]
        val[i], se[i] = float(est.value), float(est.stderr)
    slope = (val[2] - val[0]) / (lams[2] - lams[0])
    root, root_se = _parabola_root(lams, val, se)
    return [
        Comparison(f"-E[change] at lambda*(1-{d:g})", 0.0, float(-val[0]), float(se[0]), kind="positive",
                   note="negative below the threshold"),
        Comparison(f"E[change] at lambda*(1+{d:g})", 0.0, float(val[2]), float(se[2]), kind="positive",
                   note="positive above it"),
        Comparison("E[change] at lambda* (zero)", 0.0, float(val[1]), float(se[1]), sensitivity=float(slope * star),
                   note=f"sensitivity lambda* x slope = {slope * star:.3g} (slope from the outer points)"),
        Comparison("zero crossing (parabola, 3 points)", star, root, root_se,
                   note="root of the parabola through the simulated points; bias below 1e-3 s.e."),
    ]


def _parabola_root(x, y, se):
    """The root inside ``[x0, x2]`` of the parabola through three points, and its delta-method standard error."""
    coef = np.polyfit(x, y, 2)
    roots = np.roots(coef)
    roots = roots[(np.abs(roots.imag) < 1e-12) & (roots.real >= x[0]) & (roots.real <= x[2])].real
    if roots.size != 1:
        return float("nan"), float("nan")
    r = float(roots[0])
    basis = np.array([np.prod([(r - x[j]) / (x[i] - x[j]) for j in range(3) if j != i]) for i in range(3)])
    deriv = float(np.polyval(np.polyder(coef), r))
    return r, float(np.sqrt(np.sum((basis * se) ** 2)) / abs(deriv))


@register("stability.gd_divergence", stream="quadratic.gd_divergence", title="GD from random starts: loss falls below 2/lr and diverges above it",
          formula="theory.quadratic.expected_loss", simulator="simulate_vgd(sigma=0)",
          source="Edge of stability: lambda < 2/lr (Cohen et al., ICLR 2021)",
          tests=("theory.quadratic.expected_loss",), mutation=0.01)
def gd_divergence(ctx):
    c = CONFIG["gd_divergence"]
    lam, lr, t = np.array(c["eigvals"]), c["lr"], c["n_steps"]
    run = simulate_vgd(lam, np.zeros_like(lam), lr=lr, n_steps=t, init_std=1.0, n_runs=c["n_runs"],
                       seed=ctx.seed, **ctx.sim())
    f_loss = quadratic.expected_loss(lam, 0.0, lr, t, init_var=1.0)
    f_change = f_loss - quadratic.expected_loss(lam, 0.0, lr, 0, init_var=1.0)
    rows = _rows("E[loss_%d] lambda={:g}" % t, lam, run.loss_by_direction[t], f_loss)
    rows += _rows("E[loss_%d - loss_0] lambda={:g}" % t, lam, run.change_by_direction[t], f_change, sign=True)
    return rows


@register("stability.loss_trajectory", stream="vgd.loss_trajectory", title="VGD over many steps: expected loss and its noise floor",
          formula="theory.quadratic.expected_loss, stationary_loss", simulator="simulate_vgd", quick=False,
          source=SOURCE, tests=("theory.quadratic.expected_loss",), mutation=0.01)
def loss_trajectory(ctx):
    c = CONFIG["trajectory"]
    lam, m0 = np.array(c["eigvals"]), np.array(c["mean0"])
    run = simulate_vgd(lam, m0, lr=c["lr"], sigma=c["sigma"], n_samples=c["n_samples"], n_steps=c["n_steps"],
                       n_runs=c["n_runs"], seed=ctx.seed, **ctx.sim())
    rows = []
    for t in c["at_steps"]:
        f = quadratic.expected_loss(lam, m0, c["lr"], t, c["sigma"], c["n_samples"])
        rows += _rows(f"t={t} lambda={{:g}}", lam, run.loss_by_direction[t], f)
    return rows


@register("stability.full_matrix", stream="quadratic.full_matrix", title="Non-diagonal Q simulated in its own basis vs analyse_step (diagonalised)",
          formula="theory.quadratic.analyse_step", simulator="simulate_vgd(hessian=2-D)", source=SOURCE,
          tests=("theory.quadratic.analyse_step",), mutation=0.01)
def full_matrix(ctx):
    c = CONFIG["full_matrix"]
    gen = np.random.default_rng(c["matrix_seed"])  # the fixed test matrix, not a Monte Carlo stream
    a = gen.normal(size=(c["size"], c["size"]))
    q = a @ a.T / c["size"] + np.diag(np.linspace(0.5, 3.0, c["size"]))
    m = gen.normal(size=c["size"])
    res = quadratic.analyse_step(q, m, c["lr"], c["sigma"], c["n_samples"])
    run = simulate_vgd(q, m, lr=c["lr"], sigma=c["sigma"], n_samples=c["n_samples"], n_steps=1,
                       n_runs=c["n_runs"], seed=ctx.seed, **ctx.sim())
    rows = _rows("lambda={:.4g}", res.eigvals, run.change_by_direction[1], res.change)
    total = run.loss[1]
    rows.append(Comparison("total loss after one step", float(run.loss.value[0] + res.total_change),
                           float(total.value), float(total.stderr)))
    return rows
