r"""Where a model and a step size stand against every theory of the package, in one call.

:func:`diagnose` reads a model (any object with the model protocol, e.g. a
network written in JAX through :func:`theory.hessian_models.from_jax`) at one
point and compares what it measures with each theory's prediction:

- **Stability edges.** The top eigenvalues :math:`\lambda_1 \ge \dots \ge
  \lambda_k` of the Hessian (Lanczos on Hessian-vector products,
  :func:`theory.curvature.top_eigenpairs`) against GD's edge :math:`2/\eta`
  (Cohen et al. 2021), the SAM edge at radius :math:`\rho`
  (:func:`theory.sam.sam_threshold`, with the gradient norm; USAM's
  :func:`theory.sam.usam_threshold`), the VF threshold of VGD at
  :math:`\sigma, N_s` along each eigenvector,
  :math:`(2/\eta)\,\mathrm{VF}(N_s (u_i^\top g)^2/\sigma^2)`
  (:func:`theory.vgd.vgd_threshold`; Ghosh et al. 2025), and IVON's adaptive
  edge :math:`(2 + 2\beta_1)/((1-\beta_1)\eta)` (:func:`theory.ivon.adaptive_threshold`).
- **Curvature.** :math:`\mathrm{tr}\,H` (Hutch++), and with ``alpha`` the
  effective number :math:`N_{\rm eff}(\alpha) = \sum_i \lambda_i/(\lambda_i+\alpha)`
  (stochastic Lanczos quadrature), each with its standard error.
- **Gradient noise.** With per-example gradients: the per-example gradient
  covariance :math:`C` along each eigenvector, :math:`u_i^\top C u_i`, against
  :math:`\lambda_i` (the theory of Xie et al. 2021 has :math:`C \propto H`
  near a minimum, so the ratios agree across directions), :math:`\mathrm{tr}\,C/\mathrm{tr}\,H`,
  and the minibatch noise :math:`\frac{N-B}{B(N-1)}C` at the batch size.
- **Escape.** The loss along the sharpest direction, :math:`L(\theta + t u_1)`,
  scanned on both sides for its first maximum: the barrier :math:`\Delta L`
  and the curvature there give SGD's escape time
  :func:`theory.kramers.sgd_escape_time` at :math:`\eta, B` (Xie et al. 2021,
  Thm. 3.2). It is an estimate along one line: a barrier elsewhere is lower
  or higher.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import _models
from . import _validate as v
from .curvature import spectral_density, top_eigenpairs, trace
from .errors import DomainError
from .ivon import adaptive_threshold
from .kramers import sgd_escape_time
from .quadratic import gd_threshold
from .sam import sam_threshold, usam_threshold
from .stats import Estimate
from .vgd import vgd_threshold

__all__ = ["Diagnosis", "diagnose"]

#: Lanczos tolerance (relative residual) of the top eigenpairs; Lanczos steps per probe of the quadrature
_TOL = 1e-10
_SLQ_STEPS = 80


@dataclass(frozen=True)
class Diagnosis:
    """Result of :func:`diagnose`: what was measured at ``theta`` and each theory's prediction.

    Attributes
    ----------
    lr, batch_size : float, int or None
    loss, grad_norm : float
        The full-batch loss and gradient norm at ``theta``.
    eigenvalues : ndarray, shape (k,)
        The top eigenvalues, descending.
    edges : dict
        Name -> the edge each theory puts on the sharpness (``"GD 2/lr"``,
        ``"SAM"``/``"USAM"`` with ``rho``, ``"IVON adaptive"`` with ``beta1``);
        ``vf_thresholds`` holds VGD's, per eigenvector.
    vf_thresholds : ndarray or None
        VGD's VF threshold along each eigenvector (with ``sigma``).
    trace : Estimate
        :math:`\\mathrm{tr}\\,H` (Hutch++).
    effective_number : Estimate or None
        :math:`N_{\\rm eff}(\\alpha)` (SLQ), with ``alpha``.
    noise_along : ndarray or None
        :math:`u_i^\\top C u_i` per eigenvector (per-example gradient covariance).
    noise_trace : float or None
        :math:`\\mathrm{tr}\\,C`.
    minibatch_factor : float or None
        :math:`(N-B)/(B(N-1))`: the minibatch noise covariance is this times :math:`C`.
    barrier : float or None
        :math:`\\Delta L` along the sharpest direction (None: no maximum within the scan).
    log_escape_time : float or None
        The logarithm of SGD's escape time over that barrier at ``lr`` and
        ``batch_size`` (continuous time; divide the time by ``lr`` for steps).
    hvps : int
        Hessian-vector products spent.
    """

    lr: float
    batch_size: int | None
    loss: float
    grad_norm: float
    eigenvalues: np.ndarray
    edges: dict
    vf_thresholds: np.ndarray | None
    trace: Estimate
    effective_number: Estimate | None
    alpha: float | None
    noise_along: np.ndarray | None
    noise_trace: float | None
    minibatch_factor: float | None
    barrier: float | None
    log_escape_time: float | None
    hvps: int
    notes: list = field(default_factory=list)

    def table(self) -> str:
        """The measurements beside the predictions, one line each."""
        lam = self.eigenvalues
        lines = [f"loss {self.loss:.6g}, |grad| {self.grad_norm:.3g}, lr {self.lr:g}"
                 + (f", batch size {self.batch_size}" if self.batch_size else ""),
                 "top eigenvalues: " + ", ".join(f"{x:.4g}" for x in lam)]
        for name, edge in self.edges.items():
            lines.append(f"{name:>14}: edge {edge:.4g}; lambda_1 / edge = {lam[0] / edge:.4g} "
                         f"({'above' if lam[0] > edge else 'below'})")
        if self.vf_thresholds is not None:
            lines.append("  VGD VF edge: " + ", ".join(f"{t:.4g}" for t in self.vf_thresholds)
                         + f" along u_1..u_{lam.size}; lambda_1 / edge = {lam[0] / self.vf_thresholds[0]:.4g}")
        lines.append(f"tr H = {float(self.trace.value):.5g} +- {float(self.trace.stderr):.2g}")
        if self.effective_number is not None:
            lines.append(f"N_eff(alpha={self.alpha:g}) = {float(self.effective_number.value):.4g} "
                         f"+- {float(self.effective_number.stderr):.2g}")
        if self.noise_along is not None:
            ratio = self.noise_along / lam
            lines.append("u'Cu / lambda: " + ", ".join(f"{r:.3g}" for r in ratio)
                         + f"; tr C / tr H = {self.noise_trace / float(self.trace.value):.3g} (C ~ H: equal ratios)")
        if self.barrier is not None:
            lines.append(f"barrier along u_1: {self.barrier:.4g}" + ("" if self.log_escape_time is None else
                         f"; SGD escape time e^{self.log_escape_time:.4g} (e^{self.log_escape_time - np.log(self.lr):.4g}"
                         f" steps) at B = {self.batch_size}"))
        return "\n".join(lines + self.notes)

    def __str__(self) -> str:
        return self.table()

    def plot(self, ax=None):
        """The top eigenvalues against the edges (log scale); returns the matplotlib Axes."""
        import matplotlib.pyplot as plt

        ax = ax if ax is not None else plt.subplots(figsize=(6.4, 3.2))[1]
        lam = self.eigenvalues
        ax.scatter(np.arange(1, lam.size + 1), lam, color="k", zorder=3, label="top eigenvalues")
        for (name, edge), color in zip(self.edges.items(), ("C0", "C1", "C2", "C3")):
            ax.axhline(edge, color=color, ls="--", lw=1.2, label=name)
        if self.vf_thresholds is not None:
            ax.plot(np.arange(1, lam.size + 1), self.vf_thresholds, "v", color="C4", label="VGD VF edge")
        ax.set_yscale("log")
        ax.set_xlabel("eigenvalue index $i$")
        ax.set_ylabel(r"$\lambda_i$")
        ax.legend(fontsize=8, frameon=False)
        return ax


def _edges(optimizer, lr, grad_norm):
    """The optimizer-specific edges (and VGD's sigma, n_samples or None)."""
    from .simulators.training import IVON, SAM, VGD, Optimizer

    if optimizer is not None and not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be one of GD, SGD, VGD, IVON, SAM, GTracer or None; "
                        f"got {type(optimizer).__name__}")
    edges = {"GD 2/lr": float(gd_threshold(lr))}
    vgd = None
    if isinstance(optimizer, SAM) and optimizer.rho > 0:
        edges["SAM" if optimizer.normalized else "USAM"] = float(
            sam_threshold(lr, optimizer.rho, grad_norm) if optimizer.normalized else usam_threshold(lr, optimizer.rho))
    elif isinstance(optimizer, IVON):
        edges["IVON adaptive"] = float(adaptive_threshold(lr, optimizer.beta1))
    elif isinstance(optimizer, VGD) and optimizer.sigma > 0:
        vgd = (optimizer.sigma, optimizer.n_samples, np.inf if optimizer.dof is None else optimizer.dof)
    return edges, vgd


def _barrier(model, theta, u, lam1, loss0):
    r"""(Delta L, curvature at the maximum) of L(theta + t u) on the side with the lower first maximum, or None.

    The first maximum on a geometric grid of 241 points from :math:`10^{-3}` to
    :math:`10^3` length scales :math:`s = \max(\sqrt{2L/\lambda_1}, 1/\sqrt{\lambda_1})`
    (the distance at which the quadratic model's loss doubles, or the
    curvature's own scale at a zero loss), refined by a bounded scalar search;
    the curvature there by a central difference.
    """
    from scipy.optimize import minimize_scalar

    width = max(np.sqrt(2.0 * abs(loss0) / lam1), 1.0 / np.sqrt(lam1)) if lam1 > 0 else 1.0
    ts = width * np.geomspace(1e-3, 1e3, 241)
    best = None
    for sign in (1.0, -1.0):
        def along(t, sign=sign):
            return float(model.loss(theta + (sign * t) * u))

        vals = np.array([along(t) for t in ts])
        peaks = np.flatnonzero((vals[1:-1] > vals[:-2]) & (vals[1:-1] >= vals[2:])) + 1
        if not peaks.size:
            continue
        j = int(peaks[0])
        top = minimize_scalar(lambda t: -along(t), bounds=(ts[j - 1], ts[j + 1]), method="bounded",
                              options={"xatol": 1e-10 * ts[j]})
        t_max, h = float(top.x), 1e-4 * float(top.x)
        curv = (along(t_max + h) - 2 * along(t_max) + along(t_max - h)) / (h * h)
        height = along(t_max) - loss0
        if best is None or height < best[0]:
            best = (float(height), float(curv))
    return best


def _noise(model, theta, vectors, batch_size, n_data):
    """(u_i' C u_i per eigenvector, tr C, minibatch factor) from per-example gradients, or Nones."""
    if not hasattr(model, "per_sample_gradients"):
        return None, None, None
    g = np.asarray(_models.per_sample_gradients(model, theta, "the gradient-noise covariance"))
    d = g - g.mean(axis=0)
    along = np.mean((d @ vectors) ** 2, axis=0)
    factor = None
    if batch_size is not None:
        factor = (n_data - batch_size) / (batch_size * (n_data - 1)) if n_data > 1 else 0.0
    return along, float(np.mean(np.sum(d * d, axis=1))), factor


def diagnose(model, *, lr, optimizer=None, theta=None, batch_size=None, alpha=None, k=5, n_probes=30,
             seed=0) -> Diagnosis:
    r"""Where ``model`` at ``theta`` and step size :math:`\eta` = ``lr`` stand against each theory.

    Parameters
    ----------
    model : MinimalLossModel
        Any model of the package (``loss``, ``gradient``, ``hvp``, ``n_params``,
        ``n_data``); ``per_sample_gradients`` adds the gradient-noise rows.
    lr : float
        Learning rate :math:`\eta > 0`.
    optimizer : GD, SGD, VGD, IVON, SAM or GTracer, optional
        Adds its own edge (SAM's at its ``rho``, VGD's VF threshold at its
        ``sigma`` and ``n_samples``, IVON's adaptive edge at its ``beta1``).
    theta : array_like, shape (P,), optional
        The point; default ``model.initial(seed)``.
    batch_size : int, optional
        :math:`B` for the minibatch noise and the escape time; default the
        optimizer's ``batch_size``.
    alpha : float, optional
        :math:`\alpha > 0` of :math:`N_{\rm eff}(\alpha)` (skipped without it:
        no choice of :math:`\alpha` is implied by the theory).
    k : int
        Top eigenpairs computed (at most ``n_params``).
    n_probes : int
        Probes of Hutch++ and of the stochastic Lanczos quadrature.
    seed : int or SeedSequence

    Returns
    -------
    Diagnosis
        ``print(d)`` shows the table; ``d.plot()`` the eigenvalues against the edges.
    """
    _models.require_minimal(model)
    lr = float(v.positive(v.scalar(lr, "lr"), "lr", allow_inf=False))
    k = v.as_int(k, "k", 1)
    if k > model.n_params:
        raise DomainError(f"k must be at most n_params = {model.n_params}; got {k}")
    theta = _models.as_theta(model, model.initial(seed) if theta is None else theta)
    if batch_size is None and optimizer is not None:
        batch_size = getattr(optimizer, "batch_size", None)
    batch_size = None if batch_size is None else v.as_int(batch_size, "batch_size", 1)
    alpha = None if alpha is None else float(v.positive(v.scalar(alpha, "alpha"), "alpha", allow_inf=False))
    loss0 = float(model.loss(theta))
    grad = np.asarray(model.gradient(theta), dtype=np.float64)
    grad_norm = float(np.linalg.norm(grad))
    edges, vgd = _edges(optimizer, lr, grad_norm)

    def op(x):
        return _models.hvp(model, theta, x)

    top = top_eigenpairs(op, k=k, n=model.n_params, tol=_TOL, seed=seed)
    tr = trace(op, n=model.n_params, n_probes=n_probes, seed=seed)
    neff = None
    if alpha is not None:
        neff = spectral_density(op, n=model.n_params, n_probes=n_probes, n_steps=min(_SLQ_STEPS, model.n_params),
                                seed=seed).effective_number(alpha)
    vf = None
    if vgd is not None:
        sigma, n_samples, dof = vgd
        vf = np.asarray(vgd_threshold(lr, sigma, (top.vectors.T @ grad) ** 2, n_samples, dof=dof), dtype=float)
    along, tr_c, factor = _noise(model, theta, top.vectors, batch_size, model.n_data)
    notes, barrier, escape = [], None, None
    found = _barrier(model, theta, top.vectors[:, 0], float(top.values[0]), loss0)
    if found is None:
        notes.append("no maximum of the loss along u_1 within 1000 length scales: no barrier estimate")
    elif batch_size is not None and top.values[0] > 0 and found[1] < 0:
        barrier = found[0]
        escape = float(sgd_escape_time(barrier, float(top.values[0]), found[1], lr, batch_size, log=True))
    return Diagnosis(lr, batch_size, loss0, grad_norm, top.values, edges, vf, tr, neff, alpha, along, tr_c,
                     factor, barrier if barrier is not None else (found[0] if found else None), escape,
                     int(top.n_hvps + n_probes + (n_probes * min(_SLQ_STEPS, model.n_params) if alpha else 0)), notes)
