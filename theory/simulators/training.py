r"""One training loop for GD, SGD, VGD, IVON, SAM/USAM and G-TRACER on a :class:`~theory.hessian_models.LossModel`.

:func:`train` runs ``n_steps`` updates of one optimizer from one start and
returns a :class:`Trajectory`: the full-batch training loss at every step and,
at tracked steps, the quantities the flat-minima theory makes predictions
about (sharpness against :math:`2/\eta`, :math:`\eta` = ``lr``, the VGD threshold
:math:`(2/\eta)\,\mathrm{VF}(z)` of :mod:`theory.vgd`, IVON's
preconditioned sharpness, counts above a level, :math:`N_{\rm eff}(\alpha)`,
:math:`\mathrm{Tr}(G^{-1}H)`, a held-out loss).

Optimizers
----------
Each is a small frozen dataclass holding (and validating) its hyper-parameters;
``g(x)`` below is the gradient of the step's batch (the full data set unless a
``batch_size`` is set) at ``x``:

- :class:`GD`: :math:`\theta \leftarrow \theta - \eta\, g(\theta)`.
- :class:`SGD`: GD on minibatches of ``batch_size`` examples, drawn without
  replacement within an epoch (a fresh permutation per epoch, an incomplete last
  batch dropped) or with replacement.
- :class:`VGD`: :math:`\theta \leftarrow \theta - \eta\,\frac1{N_s}\sum_k g(\theta + e_k)`,
  the :math:`e_k` Gaussian of variance :math:`\sigma^2` per coordinate, or
  Student-t with ``dof`` :math:`\nu > 2` scaled to the same variance
  (:math:`e = \sigma\sqrt{(\nu-2)/\nu}\; Z/\sqrt{2\Gamma/\nu}`, drawn as in
  :mod:`theory.simulators.quadratic`: normals first, then the gammas); ``sigma``
  is the standard deviation for every ``dof``, as there and in :mod:`theory.vgd`,
  so the VF threshold uses it directly.
- :class:`IVON`: one :func:`theory.ivon.ivon_step` per step; the gradients are
  taken at :math:`m + \sigma\odot\epsilon_k`, :math:`\sigma = 1/\sqrt{\lambda(h+\delta)}`.
- :class:`SAM`: :math:`\theta \leftarrow \theta - \eta\, g(\theta + \epsilon)`,
  :math:`\epsilon = \rho\, g/\|g\|` (``normalized=True``, Foret et al. 2021) or
  :math:`\epsilon = \rho\, g` (USAM, ``normalized=False``).
- :class:`GTracer`: see its docstring.

Randomness
----------
Step ``t`` draws its perturbations from ``derive(seed, "training.noise", t)``
(on the array backend), its with-replacement batch from
``derive(seed, "training.batch", t)`` and epoch ``e``'s permutation from
``derive(seed, "training.epoch", e)``, so a trajectory depends only on the
seed, never on what else was drawn; the same seed gives the same trajectory
bit for bit. Models are NumPy; perturbations and batch indices are drawn on
the backend and copied to the host. On NumPy the streams are PCG64 (``integers``
for a batch, ``permutation`` for an epoch); on CuPy they are CuPy's generator,
and an epoch's permutation is the argsort of uniform keys, so the two
backends give different (equally distributed) trajectories for one seed.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from .. import _models
from .. import _validate as v
from .. import sharpness as _sharp
from ..curvature import spectral_density, top_eigenpairs
from .._progress import Progress
from ..backend import get_backend, single_threaded_blas
from ..errors import DomainError, TheoryWarning
from ..rng import derive, seed_sequence
from ..vgd import vgd_threshold

__all__ = ["train", "Trajectory", "GD", "SGD", "VGD", "IVON", "SAM", "GTracer", "TRACKABLE", "flatness_comparison",
           "Flatness", "FLATNESS_MEASURES"]

TRACKABLE = ("sharpness", "threshold", "adaptive_sharpness", "count_above", "effective_number", "trace_ratio",
             "test_loss", "test_metric")
# Dense eigh of the Hessian up to this many parameters; Lanczos on model.hvp above, to this relative residual
# (the eigenvalue's error is about its square over the gap: rounding level)
_DENSE_MAX = 600
_LANCZOS_TOL = 1e-10
# N_eff above _DENSE_MAX: stochastic Lanczos quadrature with these probes and steps
_SLQ_PROBES, _SLQ_STEPS = 10, 80
# Damping of the diagonal Fisher in Tr(G^{-1}H) for optimizers without a metric of their own.
_FISHER_DAMPING = 1e-8
# Hutchinson probes for Tr(G^{-1}H) when the Hessian is not formed.
_PROBES = 64
# A step whose parameters leave this range (or whose loss is not finite) ends the run as diverged.
_BLOWUP = 1e100


# ---------------------------------------------------------------- model access (optional methods have fallbacks)

def _gradient(model, theta, batch):
    """Gradient of the mean loss over ``batch`` (None: all examples)."""
    g = model.gradient(theta) if batch is None else model.gradient(theta, batch)
    return np.asarray(g, dtype=np.float64)


def _hvp(model, theta, vec):
    return _models.hvp(model, theta, vec)


def _loss_and_gradient_at(model, theta, fused: bool):
    """The full-batch loss at theta and, where the model computes both in one pass
    (``value_and_gradient``) and the step needs it, the gradient there too (else None)."""
    if fused:
        loss, g = model.value_and_gradient(theta)
        return float(loss), np.asarray(g, dtype=np.float64)
    return model.loss(theta), None


def _gradient_reusing(model, batch, theta, g):
    """The step's gradient function, returning ``g`` (a copy) when asked at ``theta`` itself."""
    if g is None or batch is not None:
        return lambda x: _gradient(model, x, batch)
    return lambda x: g.copy() if x is theta else _gradient(model, x, batch)


def _dense_hessian(model, theta):
    h = _models.dense_hessian(model, theta)
    return 0.5 * (h + h.T)


def _fisher_diagonal(model, theta, purpose="the diagonal Fisher"):
    """The model's diagonal Fisher, else the empirical one, mean of squared per-sample gradients."""
    return _models.fisher_diagonal(model, theta, purpose)


def _n_data(model) -> int:
    return int(getattr(model, "n_data", 1))


# ---------------------------------------------------------------- optimizers

class Optimizer:
    """Base class: ``_init`` builds the state, ``_step`` advances one step, ``_geometry`` feeds tracking."""

    batch_size = None
    replace = False

    def _init(self, theta, ctx) -> dict:
        return {}

    def _first_gradient_at_theta(self) -> bool:
        """Whether a full-batch step starts with the gradient at theta itself (it can share the loss's pass)."""
        return self.batch_size is None and not isinstance(self, VGD | IVON) or (
            isinstance(self, VGD) and self.sigma == 0 and self.batch_size is None)

    def _step(self, theta, state, grad, ctx, t):
        raise NotImplementedError

    def _geometry(self, state, ctx) -> dict:
        """Optional: ``noise`` (lr_eff, sigma, n_samples, precond) for the VF threshold, ``precond``, ``metric``."""
        return {}

    def _check_batch(self):
        object.__setattr__(self, "replace", v.flag(self.replace, "replace"))
        if self.batch_size is not None:
            object.__setattr__(self, "batch_size", v.as_int(self.batch_size, "batch_size", 1))


def _set(obj, **values):
    for k, val in values.items():
        object.__setattr__(obj, k, val)


@dataclass(frozen=True)
class GD(Optimizer):
    """Full-batch gradient descent (``batch_size`` makes it :class:`SGD`)."""

    batch_size: int | None = None
    replace: bool = False

    def __post_init__(self):
        self._check_batch()

    def _step(self, theta, state, grad, ctx, t):
        return theta - ctx.lr * grad(theta)


@dataclass(frozen=True)
class SGD(GD):
    """Minibatch SGD: ``batch_size`` examples per step, without replacement per epoch unless ``replace``."""

    batch_size: int
    replace: bool = False


@dataclass(frozen=True)
class VGD(Optimizer):
    r"""Variational GD: the gradient averaged over ``n_samples`` points :math:`\theta + e_k`.

    ``sigma`` is the standard deviation of each coordinate of :math:`e_k`
    (Gaussian, or Student-t with ``dof`` > 2 scaled to variance ``sigma**2``;
    ``dof=None`` or ``inf`` is Gaussian). ``sigma = 0`` is GD.
    """

    sigma: float
    n_samples: int = 1
    dof: float | None = None
    batch_size: int | None = None
    replace: bool = False

    def __post_init__(self):
        _set(self, sigma=float(v.nonnegative(self.sigma, "sigma", allow_inf=False)),
             n_samples=v.as_int(self.n_samples, "n_samples", 1),
             dof=math.inf if self.dof is None else float(v.student_dof(self.dof)))
        self._check_batch()

    def _step(self, theta, state, grad, ctx, t):
        if self.sigma == 0:
            return theta - ctx.lr * grad(theta)
        e = ctx.perturbations(t, (self.n_samples, theta.size), dof=self.dof) * self.sigma
        gsum = sum(grad(theta + e[k]) for k in range(self.n_samples))
        return theta - ctx.lr * (gsum / self.n_samples)

    def _geometry(self, state, ctx):
        return {"noise": (ctx.lr, self.sigma, self.n_samples, None)}


@dataclass(frozen=True)
class IVON(Optimizer):
    r"""IVON (Shen et al., ICML 2024, arXiv:2402.17641, Algorithm 1): :func:`theory.ivon.ivon_step` each step.

    The posterior is :math:`N(m, \sigma^2)`, :math:`\sigma = 1/\sqrt{\lambda(h+\delta)}`; the
    trajectory's parameters are the mean :math:`m`, and the gradients are taken at
    the ``n_samples`` draws :math:`m + \sigma\odot\epsilon_k`. Hyper-parameters
    (the paper's names, defaults of the reference implementation ``ivon-opt``):
    ``ess`` :math:`\lambda` (default: the number of training examples),
    ``beta1`` = 0.9, ``beta2`` = 0.99999, ``weight_decay`` :math:`\delta` = 1e-4,
    ``h0`` = 1.0 (the initial Hessian estimate), ``clip_radius`` = inf. ``lr``
    of :func:`train` is the :math:`\alpha` actually used: ``ivon-opt`` by default
    multiplies its ``lr`` by ``h0 + weight_decay`` (``rescale_lr``), which
    ``rescale_lr=True`` here reproduces.
    """

    ess: float | None = None
    beta1: float = 0.9
    beta2: float = 0.99999
    weight_decay: float = 1e-4
    h0: float = 1.0
    n_samples: int = 1
    clip_radius: float = math.inf
    rescale_lr: bool = False
    batch_size: int | None = None
    replace: bool = False

    def __post_init__(self):
        if self.ess is not None:
            _set(self, ess=float(v.positive(self.ess, "ess")))
        for name, top in (("beta1", "1)"), ("beta2", "1]")):
            b = float(v.as_float(getattr(self, name), name))
            if not (0 <= b < 1 or (b == 1 and top == "1]")):
                raise DomainError(f"{name} must be in [0, {top}; got {b!r}")
            _set(self, **{name: b})
        _set(self, weight_decay=float(v.nonnegative(self.weight_decay, "weight_decay", allow_inf=False)),
             h0=float(v.positive(self.h0, "h0")), n_samples=v.as_int(self.n_samples, "n_samples", 1),
             clip_radius=float(v.positive(self.clip_radius, "clip_radius", allow_inf=True)),
             rescale_lr=v.flag(self.rescale_lr, "rescale_lr"))
        self._check_batch()

    def _ess(self, ctx):
        return self.ess if self.ess is not None else float(_n_data(ctx.model))

    def _lr(self, ctx):
        return ctx.lr * (self.h0 + self.weight_decay) if self.rescale_lr else ctx.lr

    def _init(self, theta, ctx):
        from ..ivon import ivon_init
        return {"ivon": ivon_init(theta, self.h0)}

    def _step(self, theta, state, grad, ctx, t):
        from ..ivon import ivon_step, posterior_std
        st = state["ivon"]
        eps = ctx.perturbations(t, (self.n_samples, theta.size))
        sigma = np.asarray(posterior_std(st.hess, self.weight_decay, self._ess(ctx)))
        grads = np.stack([grad(theta + sigma * eps[k]) for k in range(self.n_samples)])
        state["ivon"] = ivon_step(st._replace(mean=theta), grads, eps, lr=self._lr(ctx), ess=self._ess(ctx),
                                  beta1=self.beta1, beta2=self.beta2, weight_decay=self.weight_decay,
                                  clip_radius=self.clip_radius)
        return state["ivon"].mean

    def _geometry(self, state, ctx):
        from ..ivon import adaptive_threshold, preconditioner
        p = np.asarray(preconditioner(state["ivon"].hess, self.weight_decay))
        # In y = diag(p)^{1/2} theta the mean update is GD with EMA momentum on diag(p)^{-1/2} H diag(p)^{-1/2},
        # and the weight noise sigma = 1/sqrt(ess p) is isotropic of variance 1/ess. The momentum moves the
        # noise-free edge from 2/lr to adaptive_threshold(lr, beta1): the VF formula is applied with that edge.
        lr_eff = 2.0 / float(adaptive_threshold(self._lr(ctx), self.beta1))
        return {"precond": p, "noise": (lr_eff, 1.0 / math.sqrt(self._ess(ctx)), self.n_samples, p)}


@dataclass(frozen=True)
class SAM(Optimizer):
    r"""Sharpness-aware minimisation, radius ``rho``: normalized (SAM) or unnormalized (USAM) ascent step."""

    rho: float
    normalized: bool = True
    batch_size: int | None = None
    replace: bool = False

    def __post_init__(self):
        _set(self, rho=float(v.nonnegative(self.rho, "rho", allow_inf=False)),
             normalized=v.flag(self.normalized, "normalized"))
        self._check_batch()

    def _step(self, theta, state, grad, ctx, t):
        g = grad(theta)
        if self.rho == 0:
            return theta - ctx.lr * g
        scale = self.rho
        if self.normalized:
            norm = float(np.linalg.norm(g))
            scale = self.rho / norm if norm > 0 else 0.0
        return theta - ctx.lr * grad(theta + scale * g)


def _third_diagonal(model, theta, weights):
    r""":math:`\sum_i w_i\,\nabla_\theta H_{ii}(\theta)`, the gradient of :math:`\mathrm{Tr}(\mathrm{diag}(w)H)`.

    By the symmetry of third derivatives, :math:`\partial_k H_{ii} = \partial_i (He_i)_k`:
    term :math:`i` is the derivative of the Hessian-vector product :math:`He_i`
    along :math:`e_i`, taken by a central difference with step
    :math:`h_i = \epsilon^{1/3}\max(1, |\theta_i|)` (error :math:`O(h^2)` plus
    rounding :math:`O(\epsilon/h)`: about :math:`10^{-10}` relative). ``P``
    pairs of Hessian-vector products of the full training loss.
    """
    out = np.zeros(theta.size)
    for i in np.flatnonzero(weights):
        e = np.zeros(theta.size)
        e[i] = 1.0
        h = _CBRT_EPS * max(1.0, abs(theta[i]))
        up, down = theta.copy(), theta.copy()
        up[i] += h
        down[i] -= h
        out += weights[i] * (_hvp(model, up, e) - _hvp(model, down, e)) / (up[i] - down[i])
    return out


_CBRT_EPS = float(np.finfo(np.float64).eps) ** (1.0 / 3.0)


@dataclass(frozen=True)
class GTracer(Optimizer):
    r"""G-TRACER: gradient descent on :math:`L(\theta) + \rho\,\mathrm{Tr}(G^{-1}H(\theta))`.

    The objective and the metric are those of G-TRACER (M. Williams and
    S. Roberts 2023, arXiv:2306.13914, as stated in Roberts' talk "Instability
    is all you need"): the training loss :math:`L` plus ``rho`` (:math:`\rho \ge 0`)
    times the trace of the Hessian :math:`H` of the full training loss in the
    metric :math:`G`, a running average of the diagonal Fisher
    :math:`F(\theta) = \frac1N\sum_i g_i^2` (the model's ``fisher_diagonal``,
    else the mean squared row of ``per_sample_gradients``):

    .. math:: G_0 = F(\theta_0), \qquad G_t = (1-\beta)\,G_{t-1} + \beta\,F(\theta_t)\quad (t \ge 1),

    ``beta`` :math:`\beta \in (0, 1]`, used damped, :math:`G_t + \delta`
    (``damping`` :math:`\delta > 0`), and held fixed within a step. ``g`` below
    is the step's (mini)batch gradient, :math:`\eta` the learning rate.
    ``estimator`` chooses how the gradient of the trace term is estimated:

    ``"exact"``: the gradient of the trace term itself,

    .. math:: \theta \leftarrow \theta - \eta\Big(g(\theta) + \rho\sum_i
              \frac{\nabla_\theta H_{ii}(\theta)}{G_i + \delta}\Big),

    :math:`\nabla_\theta H_{ii}` by central differences of Hessian-vector
    products (:math:`\partial_k H_{ii} = \partial_i (He_i)_k`; ``P`` pairs per
    step, about 10 correct digits). On a quadratic loss the term vanishes and
    the update is GD's.

    ``"perturbed"`` (default): one extra gradient, at a point displaced along
    the natural gradient,

    .. math:: \theta \leftarrow \theta - \eta\, g(\theta + \epsilon),\qquad
              \epsilon = \sqrt{2\rho}\,(G + \delta)^{-1} g(\theta).

    With :math:`\epsilon` held fixed (as in SAM),
    :math:`g(\theta+\epsilon) = g + H\epsilon + \tfrac12\nabla_\theta(\epsilon^\top H\epsilon)
    + O(\epsilon^3)` and :math:`\tfrac12\epsilon^\top H\epsilon = \rho\, g^\top G^{-1}HG^{-1}g`,
    whose mean over gradient noise with second moment :math:`E[gg^\top] = G`
    (exact when :math:`E[gg^\top]` is diagonal) is :math:`\rho\,\mathrm{Tr}(G^{-1}H)`:
    to leading order in :math:`\rho` it is a stochastic estimate of the
    gradient of the objective plus SAM's ascent term :math:`H\epsilon`, which
    vanishes at a stationary point of the mean loss. Where the Fisher
    vanishes (a zero-residual minimum) :math:`\epsilon \sim \sqrt{2\rho}/g`
    grows as :math:`g \to 0` until :math:`\delta` caps it: choose the damping
    with the model.

    Both estimators are derived here from the objective; ``rho = 0`` is GD.
    """

    rho: float
    beta: float = 0.1
    damping: float = 1e-8
    batch_size: int | None = None
    replace: bool = False
    estimator: str = "perturbed"

    def __post_init__(self):
        _set(self, rho=float(v.nonnegative(self.rho, "rho", allow_inf=False)),
             damping=float(v.positive(self.damping, "damping")))
        beta = float(v.positive(self.beta, "beta"))
        if beta > 1:
            raise DomainError(f"beta must be in (0, 1]; got {beta!r}")
        if self.estimator not in ("perturbed", "exact"):
            raise DomainError(f"estimator must be 'perturbed' or 'exact'; got {self.estimator!r}")
        _set(self, beta=beta)
        self._check_batch()

    def _init(self, theta, ctx):
        return {"G": _fisher_diagonal(ctx.model, theta, "GTracer's metric G")}

    def _step(self, theta, state, grad, ctx, t):
        if t > 0:
            state["G"] = (1.0 - self.beta) * state["G"] + self.beta * _fisher_diagonal(ctx.model, theta)
        g = grad(theta)
        if self.rho == 0:
            return theta - ctx.lr * g
        metric = state["G"] + self.damping
        if self.estimator == "exact":
            return theta - ctx.lr * (g + self.rho * _third_diagonal(ctx.model, theta, 1.0 / metric))
        return theta - ctx.lr * grad(theta + math.sqrt(2.0 * self.rho) * g / metric)

    def _geometry(self, state, ctx):
        return {"metric": state["G"] + self.damping}


# ---------------------------------------------------------------- the loop

@dataclass
class _Context:
    model: object
    lr: float
    root: np.random.SeedSequence
    xb: object

    def perturbations(self, t, shape, dof=math.inf):
        """Standard draws of step ``t`` on the backend, unit variance (Student-t rescaled), as NumPy."""
        gen = self.xb.generator(derive(self.root, "training.noise", t))
        z = self.xb.xp.empty(shape)
        self.xb.fill_normal(gen, z)
        if math.isfinite(dof):  # Z / sqrt(2 Gamma(nu/2) / nu), times sqrt((nu - 2)/nu): unit variance
            gam = self.xb.xp.empty(shape)
            self.xb.fill_gamma(gen, dof / 2.0, gam)
            z = z * math.sqrt((dof - 2.0) / 2.0) / self.xb.xp.sqrt(gam)
        return self.xb.to_numpy(z)


def _permutation(xb, gen, n):
    """A uniform random permutation of range(n) from the backend generator ``gen``, as NumPy.

    NumPy's Generator has ``permutation``; CuPy's Generator does not, so there
    the permutation is the argsort of n uniform keys (CuPy's argsort is stable,
    so ties, of probability about n^2 2^-54, are broken by position).
    """
    permute = getattr(gen, "permutation", None)
    perm = permute(n) if permute is not None else xb.xp.argsort(gen.random(n))
    return xb.to_numpy(perm)


class _Batches:
    """Index arrays (NumPy) of the examples of each step (None: the full data set), drawn on the backend ``xb``."""

    def __init__(self, opt, n, root, xb):
        self.b, self.n, self.root, self.replace, self.xb = opt.batch_size, n, root, opt.replace, xb
        if self.b is not None and not self.replace and self.b > n:
            raise DomainError(f"batch_size must be <= the number of examples {n} without replacement; got {self.b}")
        self.perm, self.epoch = None, -1

    def __call__(self, t):
        if self.b is None or (self.b >= self.n and not self.replace):
            return None
        if self.replace:
            gen = self.xb.generator(derive(self.root, "training.batch", t))
            return self.xb.to_numpy(gen.integers(0, self.n, self.b))
        per_epoch = self.n // self.b
        epoch, j = divmod(t, per_epoch)
        if epoch != self.epoch:
            gen = self.xb.generator(derive(self.root, "training.epoch", epoch))
            self.perm, self.epoch = _permutation(self.xb, gen, self.n), epoch
        return self.perm[j * self.b:(j + 1) * self.b]


@dataclass(frozen=True)
class Trajectory:
    r"""Result of :func:`train`.

    ``loss[t]`` is the full-batch training loss at :math:`\theta_t`, t = 0..n_steps
    (NaN after a divergence). Every other array has one entry per tracked step
    (``tracked_steps``; every ``track_every`` steps and the last one), None when
    not tracked or not applicable:

    - ``top_eigenvalues`` (m, top_k), descending; ``sharpness`` its first column;
    - ``threshold``: for VGD and IVON, the gradient-based threshold
      :math:`(2/\eta)\,\mathrm{VF}(N_s (u^\top\nabla L)^2/\sigma^2)` along the
      top eigenvector :math:`u` (for IVON in the preconditioned coordinates
      :math:`y = \mathrm{diag}(p)^{1/2}\theta`, where its noise is isotropic of
      variance :math:`1/\lambda`, compared with ``adaptive_sharpness``, and
      with :math:`2/\eta` replaced by IVON's momentum edge ``adaptive_edge``);
    - ``adaptive_sharpness``: IVON's :math:`\lambda_{\max}(\mathrm{diag}(h+\delta)^{-1}H)`;
    - ``count_above``: eigenvalues above ``level`` (default :math:`2/\eta`; with
      Lanczos only the top_k computed are counted);
    - ``effective_number``: :math:`N_{\rm eff}(\alpha)` of the dense spectrum
      (needs ``alpha``; negative eigenvalues clipped to 0); above 600
      parameters an estimate by stochastic Lanczos quadrature on the HVPs (10
      probes, 80 steps; :func:`theory.curvature.spectral_density`), with its
      standard error in ``effective_number_stderr``;
    - ``trace_ratio``: :math:`\mathrm{Tr}(G^{-1}H)`, G-TRACER's metric, else the
      diagonal Fisher damped by 1e-8 (Hutchinson with 64 probes when the
      Hessian is not formed);
    - ``test_loss``: the held-out loss on ``test_data`` (or the model's own ``test_loss``);
    - ``test_metric``: ``test_metric(theta)`` (e.g. a held-out accuracy), with ``test_metric`` given;
    - ``lanczos_hvps``: above 600 parameters, the Hessian-vector products each
      tracked step's Lanczos spent (:func:`theory.curvature.top_eigenpairs`,
      warm-started from the previous tracked step's eigenvectors); None when
      the Hessian is formed.
    """

    optimizer: Optimizer
    lr: float
    steps: np.ndarray
    loss: np.ndarray
    tracked_steps: np.ndarray
    theta: np.ndarray
    final_theta: np.ndarray
    top_eigenvalues: np.ndarray | None = None
    threshold: np.ndarray | None = None
    adaptive_sharpness: np.ndarray | None = None
    adaptive_edge: float | None = None
    count_above: np.ndarray | None = None
    level: float | None = None
    effective_number: np.ndarray | None = None
    alpha: float | None = None
    effective_number_stderr: np.ndarray | None = None
    trace_ratio: np.ndarray | None = None
    test_loss: np.ndarray | None = None
    test_metric: np.ndarray | None = None
    diverged_at: int | None = None
    lanczos_hvps: np.ndarray | None = None
    seconds: float = 0.0
    entropy: int = field(default=0, repr=False)

    @property
    def sharpness(self):
        return None if self.top_eigenvalues is None else self.top_eigenvalues[:, 0]

    @property
    def edge(self) -> float:
        r"""The GD edge of stability :math:`2/\eta`."""
        return 2.0 / self.lr

    @property
    def diverged(self) -> bool:
        return self.diverged_at is not None


def _spectrum(model, theta, k, seed, warm=None):
    """(eigenvalues, descending: all when dense, else the top k; top eigenvector; dense H or None; the Lanczos
    result or None). Above _DENSE_MAX parameters: Lanczos on the HVPs, warm-started from ``warm``."""
    p = theta.size
    if p <= _DENSE_MAX:
        h = _dense_hessian(model, theta)
        lam, vec = np.linalg.eigh(h)
        return lam[::-1], vec[:, -1], h, None
    res = top_eigenpairs(lambda x: _hvp(model, theta, x), k=min(k, p - 1), n=p, tol=_LANCZOS_TOL, start=warm,
                         seed=seed)
    return res.values, res.vectors[:, 0], None, res


def _trace_ratio(model, theta, metric, h, seed):
    if h is not None:
        return _sharp.trace_ratio(metric, h)
    z = np.random.Generator(np.random.PCG64(seed)).choice([-1.0, 1.0], size=(_PROBES, theta.size))
    d = 1.0 / np.sqrt(metric)
    return float(np.mean([(d * zi) @ _hvp(model, theta, d * zi) for zi in z]))


class _Tracker:
    def __init__(self, names, opt, top_k, level, alpha, test_loss, test_metric=None):
        self.names, self.opt, self.k, self.level, self.alpha = names, opt, top_k, level, alpha
        self.test_loss, self.test_metric = test_loss, test_metric
        self.rows = {name: [] for name in names}
        self.theta = []
        self.warm, self.hvps = None, []  # the last tracked step's Lanczos result: the next one starts from it

    def record(self, ctx, theta, state, t):
        model, names = ctx.model, self.names
        self.theta.append(theta.copy())
        geo = self.opt._geometry(state, ctx)
        seed = derive(ctx.root, "training.track", t)
        need_spec = names & {"sharpness", "threshold", "count_above", "effective_number"} or (
            "trace_ratio" in names and theta.size <= _DENSE_MAX)
        lam = u = h = None
        if need_spec:
            lam, u, h, res = _spectrum(model, theta, self.k, seed, self.warm)
            if res is not None:
                self.warm = res
                self.hvps.append(res.n_hvps)
        if "sharpness" in names:
            top = np.full(self.k, np.nan)
            top[:min(self.k, lam.size)] = lam[:self.k]
            self.rows["sharpness"].append(top)
        if "count_above" in names:
            self.rows["count_above"].append(_sharp.count_above(lam, self.level))
        if "effective_number" in names:  # the whole spectrum, or its quadrature from HVPs above _DENSE_MAX
            if h is not None:
                self.rows["effective_number"].append(_sharp.effective_number(lam, self.alpha, negative="clip"))
            else:
                est = spectral_density(lambda x: _hvp(model, theta, x), n=theta.size, n_probes=_SLQ_PROBES,
                                       n_steps=min(_SLQ_STEPS, theta.size), seed=seed).effective_number(self.alpha, negative="clip")
                self.rows["effective_number"].append(float(est.value))
                self.rows.setdefault("effective_number_stderr", []).append(float(est.stderr))
        if "adaptive_sharpness" in names and "precond" in geo:
            op = h if h is not None else (lambda x: _hvp(model, theta, x))
            self.rows["adaptive_sharpness"].append(
                _sharp.adaptive_sharpness(op, geo["precond"], n=theta.size, seed=0))
        if "threshold" in names and "noise" in geo:
            self.rows["threshold"].append(self._vf(model, theta, geo["noise"], lam, u, h))
        if "trace_ratio" in names:
            metric = geo.get("metric")
            if metric is None:
                metric = _fisher_diagonal(model, theta) + _FISHER_DAMPING
            self.rows["trace_ratio"].append(_trace_ratio(model, theta, metric, h, seed))
        if "test_loss" in names:
            self.rows["test_loss"].append(float(self.test_loss(theta)))
        if "test_metric" in names:
            self.rows["test_metric"].append(float(self.test_metric(theta)))

    def _vf(self, model, theta, noise, lam, u, h):
        lr_eff, sigma, n_samples, precond = noise
        grad = _gradient(model, theta, None)
        if precond is not None:  # the top eigenvector of diag(p)^{-1/2} H diag(p)^{-1/2}, the gradient in y
            d = 1.0 / np.sqrt(precond)
            if h is not None:
                u = np.linalg.eigh(d[:, None] * h * d[None, :])[1][:, -1]
            else:
                u = top_eigenpairs(lambda x: d * _hvp(model, theta, d * x), k=1, n=theta.size, tol=_LANCZOS_TOL,
                                   seed=0).vectors[:, 0]
            grad = d * grad
        return float(vgd_threshold(lr_eff, sigma, float(u @ grad) ** 2, n_samples))

    def arrays(self):
        out = {"hvps": np.asarray(self.hvps, dtype=np.int64)} if self.hvps else {}
        for name, rows in self.rows.items():
            if rows:
                out[name] = np.asarray(rows, dtype=np.int64 if name == "count_above" else np.float64)
        return out, np.asarray(self.theta)


def _tracked_names(model, optimizer, track, alpha, has_test_loss, has_metric=False) -> set:
    """The names of :data:`TRACKABLE` that ``train`` records: ``track`` (default all) that apply."""
    # Tr(G^{-1}H) needs a metric: the optimizer's own (G-TRACER) or the model's diagonal Fisher
    fisher = isinstance(optimizer, GTracer) or _models.has_fisher(model)
    applicable = {"sharpness", "count_above"} | ({"trace_ratio"} if fisher else set())
    applicable |= {"effective_number"} if alpha is not None else set()
    applicable |= {"test_loss"} if has_test_loss else set()
    applicable |= {"test_metric"} if has_metric else set()
    applicable |= {"threshold"} if isinstance(optimizer, (VGD, IVON)) else set()
    applicable |= {"adaptive_sharpness"} if isinstance(optimizer, IVON) else set()
    if track is None:
        if not fisher:
            warnings.warn(_NO_FISHER.format(type(model).__name__), TheoryWarning, stacklevel=3)
        return applicable
    if isinstance(track, str) or not all(isinstance(name, str) for name in track):
        raise TypeError(f"track must be a sequence of names from {TRACKABLE}; got {track!r}")
    names = set(track) - {"loss"}
    unknown = names - set(TRACKABLE)
    if unknown:
        raise DomainError(f"track must hold names from {TRACKABLE}; got {sorted(unknown)}")
    if "effective_number" in names and alpha is None:
        raise DomainError("alpha must be given to track effective_number")
    if "trace_ratio" in names and not fisher:
        raise _models.missing_method(model, ("fisher_diagonal", "per_sample_gradients"), "tracking trace_ratio")
    return names & applicable


_NO_FISHER = ("model {} has neither fisher_diagonal nor per_sample_gradients: trace_ratio, Tr(G^-1 H) with G the "
              "diagonal Fisher, is not tracked")


def train(model, optimizer, *, lr, n_steps, theta0=None, seed=0, track_every=None, track=None, top_k=1,
          level=None, alpha=None, test_data=None, test_metric=None, backend=None, progress=False) -> Trajectory:
    r"""Train ``model`` with ``optimizer`` for ``n_steps`` steps of learning rate :math:`\eta` = ``lr``.

    Parameters
    ----------
    model : MinimalLossModel
        Needs the minimal protocol (:class:`theory.hessian_models.MinimalLossModel`):
        ``loss``, ``gradient(theta, batch=None)``, ``hvp(theta, vec)`` (or
        ``hessian``), ``n_params``, ``n_data``. Optional methods are used when
        present: ``hessian`` (else assembled from ``hvp``), ``initial(seed)``
        (else the start is zeros), ``fisher_diagonal`` or
        ``per_sample_gradients`` (else ``trace_ratio`` is skipped with a
        :class:`~theory.TheoryWarning`, a TypeError when asked for by ``track``,
        and :class:`GTracer` raises TypeError), ``with_data(x, y)`` (needed for
        ``test_data``), ``test_loss(theta)``, ``value_and_gradient(theta)``
        (the full-batch loss and gradient in one pass: a full-batch step that
        starts at :math:`\theta` shares the pass that records the loss).
    optimizer : GD, SGD, VGD, IVON, SAM or GTracer
    lr : float
        Learning rate :math:`\eta > 0`.
    n_steps : int
        Number of updates (>= 0).
    theta0 : array_like, optional
        Start; default ``model.initial(seed)``, else zeros. Shape errors come from the model.
    seed : int or SeedSequence
        Root of every random draw (batches, perturbations, the start, Lanczos start vectors).
    track_every : int, optional
        Track every this many steps (default about 50 points over the run);
        step 0 and the last step are always tracked.
    track : iterable of str, optional
        Names from :data:`TRACKABLE`; default all that apply to the optimizer
        and model (``effective_number`` only with ``alpha``).
    top_k : int
        Number of top eigenvalues recorded, at most ``n_params`` (``n_params - 1``
        above 600 parameters, where Lanczos computes them).
    level : float, optional
        Level for ``count_above`` (default :math:`2/\eta`).
    alpha : float, optional
        :math:`\alpha` of :math:`N_{\rm eff}(\alpha)`.
    test_data : (x, y), optional
        Held-out examples; ``test_loss`` is ``model.with_data(x, y).loss`` at tracked steps.
    test_metric : callable, optional
        ``test_metric(theta) -> float`` recorded at tracked steps as
        ``test_metric`` (e.g. a held-out accuracy: :func:`theory.digits.accuracy`).
    backend : {"numpy", "cupy"} or None
        Array backend of the random draws (perturbations and batch indices).
    progress : bool
        Print a progress bar on stderr.

    Returns
    -------
    Trajectory

    A run stops early, with ``diverged_at`` set, when the loss stops being
    finite or a parameter exceeds 1e100 in magnitude. A Hessian-vector
    product or Hessian that is not finite at a tracked step raises
    DomainError naming the model's method.
    """
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be one of GD, SGD, VGD, IVON, SAM, GTracer; got {type(optimizer).__name__}")
    absent = [m for m in ("loss", "gradient", "n_params") if not hasattr(model, m)]
    absent += [] if hasattr(model, "hvp") or hasattr(model, "hessian") else ["hvp"]
    if absent:
        raise TypeError(f"model must provide loss, gradient, hvp (or hessian), n_params, n_data "
                        f"(theory.hessian_models.MinimalLossModel); {type(model).__name__} has no {', '.join(absent)}")
    lr = float(v.positive(v.scalar(lr, "lr"), "lr"))
    n_steps = v.as_int(n_steps, "n_steps", 0)
    top_k = v.as_int(top_k, "top_k", 1)
    n_params = v.as_int(model.n_params, "model.n_params", 1)
    most = n_params if n_params <= _DENSE_MAX else n_params - 1  # Lanczos finds at most P - 1
    if top_k > most:
        raise DomainError(f"top_k must be an integer in [1, {most}] for a model with n_params = {n_params}"
                          f"{'' if most == n_params else ' (Lanczos above ' + str(_DENSE_MAX) + ' parameters)'}; "
                          f"got {top_k}")
    progress = v.flag(progress, "progress")
    every = max(1, n_steps // 50) if track_every is None else v.as_int(track_every, "track_every", 1)
    level = 2.0 / lr if level is None else v.scalar(level, "level")
    if alpha is not None:
        alpha = float(v.nonnegative(v.scalar(alpha, "alpha"), "alpha", allow_inf=False))
    root = seed_sequence(seed)
    xb = get_backend(backend)
    if theta0 is None:
        theta = model.initial(root) if hasattr(model, "initial") else np.zeros(model.n_params)
    else:
        theta = _models.as_theta(model, theta0, "theta0")
    theta = np.array(theta, dtype=np.float64)
    model.loss(theta)  # the model validates the start (shape, finiteness)

    test_loss = getattr(model, "test_loss", None)
    if test_data is not None:
        if not hasattr(model, "with_data"):
            raise _models.missing_method(model, "with_data", "test_data")
        test_loss = model.with_data(*test_data).loss
    if test_metric is not None and not callable(test_metric):
        raise TypeError(f"test_metric must be a callable test_metric(theta) -> float; got {type(test_metric).__name__}")
    names = _tracked_names(model, optimizer, track, alpha, test_loss is not None, test_metric is not None)

    ctx = _Context(model, lr, root, xb)
    batches = _Batches(optimizer, _n_data(model), root, xb)
    state = optimizer._init(theta, ctx)
    tracker = _Tracker(names, optimizer, top_k, level, alpha, test_loss, test_metric)
    loss = np.full(n_steps + 1, np.nan)
    tracked, diverged_at = [], None
    bar = Progress(20, enabled=progress)
    start = time.perf_counter()
    # small dense problems: threaded BLAS only spin-waits (see theory.backend.single_threaded_blas)
    fused = hasattr(model, "value_and_gradient") and optimizer._first_gradient_at_theta()
    with np.errstate(over="ignore", invalid="ignore"), single_threaded_blas():
        for t in range(n_steps + 1):
            if not np.all(np.abs(theta) < _BLOWUP):
                diverged_at = t
                break
            loss_t, g_t = _loss_and_gradient_at(model, theta, fused and t < n_steps)
            if not np.isfinite(loss_t):
                diverged_at = t
                break
            loss[t] = loss_t
            if t % every == 0 or t == n_steps:
                tracker.record(ctx, theta, state, t)
                tracked.append(t)
            if t == n_steps:
                break
            batch = batches(t)
            theta = optimizer._step(theta, state, _gradient_reusing(model, batch, theta, g_t), ctx, t)
            if progress and (t + 1) * 20 // max(n_steps, 1) > bar.done:
                bar.step(f"step {t + 1}/{n_steps}")
                bar.advance()
    bar.close()
    rows, thetas = tracker.arrays()
    adaptive_edge = None
    if isinstance(optimizer, IVON):
        from ..ivon import adaptive_threshold
        adaptive_edge = float(adaptive_threshold(optimizer._lr(ctx), optimizer.beta1))
    return Trajectory(
        optimizer=optimizer, lr=lr, steps=np.arange(n_steps + 1), loss=loss, tracked_steps=np.asarray(tracked),
        theta=thetas, final_theta=theta, top_eigenvalues=rows.get("sharpness"), threshold=rows.get("threshold"),
        adaptive_sharpness=rows.get("adaptive_sharpness"), adaptive_edge=adaptive_edge,
        count_above=rows.get("count_above"), level=level if "count_above" in names else None,
        effective_number=rows.get("effective_number"), alpha=alpha,
        effective_number_stderr=rows.get("effective_number_stderr"), trace_ratio=rows.get("trace_ratio"),
        test_loss=rows.get("test_loss"), test_metric=rows.get("test_metric"), diverged_at=diverged_at, lanczos_hvps=rows.get("hvps"),
        seconds=time.perf_counter() - start,
        entropy=root.entropy)


# ---------------------------------------------------------------- comparing the minima optimizers reach

# The measures of flatness_comparison, in table order; "train_loss" is Trajectory.loss at the last step.
FLATNESS_MEASURES = ("sharpness", "count_above", "effective_number", "trace_ratio", "train_loss", "test_loss",
                     "test_metric")


@dataclass(frozen=True)
class Flatness:
    r"""One row of :func:`flatness_comparison`: an optimizer's measures at its final point, over the seeds.

    ``values[m]`` holds one entry per seed for each measure ``m`` of
    :data:`FLATNESS_MEASURES` that was tracked (NaN for a run that diverged);
    ``mean[m]`` and ``stderr[m]`` are the mean over the runs that did not
    diverge and its standard error across them (NaN with fewer than two).
    ``trajectories`` are the runs themselves (tracked at the first and last step).
    """

    name: str
    optimizer: Optimizer
    trajectories: tuple
    level: float
    alpha: float | None

    @property
    def values(self) -> dict[str, np.ndarray]:
        def final(tr, m):
            series = tr.loss if m == "train_loss" else getattr(tr, m)
            return np.nan if tr.diverged else float(series[-1])

        first = self.trajectories[0]
        present = [m for m in FLATNESS_MEASURES if m == "train_loss" or getattr(first, m) is not None]
        return {m: np.array([final(tr, m) for tr in self.trajectories]) for m in present}

    @property
    def diverged(self) -> int:
        return sum(tr.diverged for tr in self.trajectories)

    def estimate(self, measure: str):
        """:class:`~theory.stats.Estimate` of ``measure``: mean ± s.e. across the seeds that did not diverge."""
        from ..stats import Estimate, Moments
        x = self.values[measure]
        x = x[np.isfinite(x)]
        if x.size < 2:
            return Estimate(np.float64(x[0] if x.size else np.nan), np.float64(np.nan), int(x.size))
        return Moments.of(x).estimate()

    @property
    def mean(self) -> dict[str, float]:
        return {m: float(self.estimate(m).value) for m in self.values}

    @property
    def stderr(self) -> dict[str, float]:
        return {m: float(self.estimate(m).stderr) for m in self.values}


def flatness_comparison(model, optimizers: dict, *, lr, n_steps, seed=0, level=None, alpha=None, test_data=None,
                        test_metric=None, seeds=1, theta0=None, backend=None) -> list[Flatness]:
    r"""Train each optimizer from the same start and compare the flatness of the points they reach.

    For each of ``seeds`` runs ``s``, every optimizer is trained by :func:`train`
    with ``lr`` for ``n_steps`` steps from one start and with one seed,
    ``derive(seed, "training.flatness", s)`` (so, e.g., ``VGD(0)`` reproduces
    ``GD`` bit for bit), and at the final point are recorded: the sharpness
    :math:`\lambda_{\max}`, the number of Hessian eigenvalues above ``level``,
    :math:`N_{\rm eff}(\alpha)` (with ``alpha``), :math:`\mathrm{Tr}(G^{-1}H)`
    (the diagonal Fisher; G-TRACER's own running metric for :class:`GTracer`),
    the training loss and the held-out loss (with ``test_data`` or a model
    ``test_loss``). See :class:`Trajectory` for each measure.

    Parameters
    ----------
    model : LossModel
    optimizers : dict of name -> Optimizer
        The rows, in order.
    lr, n_steps, alpha, test_data, test_metric, backend
        As in :func:`train` (one ``lr`` for all).
    seed : int or SeedSequence
    level : float, optional
        Level of the count; default :math:`1/\eta`, half the GD edge :math:`2/\eta`
        (below which every point that GD can settle at lies).
    seeds : int
        Independent runs per optimizer (starts and noise); with two or more
        the rows give mean ± s.e. across them.
    theta0 : array_like or callable, optional
        The start: one array for every run, or ``theta0(run_seed)`` per run;
        default ``model.initial(run_seed)``.

    Returns
    -------
    list of Flatness
        One row per optimizer, in the order given.
    """
    if not optimizers:
        raise DomainError("optimizers must name at least one optimizer")
    lr = float(v.positive(v.scalar(lr, "lr"), "lr"))
    seeds = v.as_int(seeds, "seeds", 1)
    level = 1.0 / lr if level is None else v.scalar(level, "level")
    track = ("sharpness", "count_above", "trace_ratio", "test_loss") + (() if alpha is None else ("effective_number",))
    track += () if test_metric is None else ("test_metric",)
    if not _models.has_fisher(model):
        warnings.warn(_NO_FISHER.format(type(model).__name__), TheoryWarning, stacklevel=2)
        track = tuple(m for m in track if m != "trace_ratio")
    runs = {name: [] for name in optimizers}
    for s in range(seeds):
        run_seed = derive(seed, "training.flatness", s)
        start = theta0(run_seed) if callable(theta0) else theta0
        for name, opt in optimizers.items():
            runs[name].append(train(model, opt, lr=lr, n_steps=n_steps, theta0=start, seed=run_seed,
                                    track_every=max(n_steps, 1), track=track, level=level, alpha=alpha,
                                    test_data=test_data, test_metric=test_metric, backend=backend))
    return [Flatness(name, optimizers[name], tuple(trs), level, alpha) for name, trs in runs.items()]
