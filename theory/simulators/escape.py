r"""Monte Carlo twin of the Kramers and first-passage formulas: escape from a minimum.

Independent walkers start at a minimum of a :class:`theory.landscapes.Landscape`
and follow the overdamped diffusion

.. math:: d\theta = -\nabla L(\theta)\,dt + \sqrt{2 D(\theta)}\,dW ,

in time units where one SGD step of learning rate :math:`\eta` lasts
``dt = lr``. Noise models: :class:`Langevin` (SGLD, :math:`D = T I`),
:class:`SGDDiffusion` (:math:`D = \frac{\eta}{2B} H_{\rm eff}`, Xie, Sato and
Sugiyama, ICLR 2021) and :class:`Mixed` (both). Euler-Maruyama steps,

.. math:: \theta_{n+1} = \theta_n - \nabla L(\theta_n)\,\Delta t + \sqrt{2\Delta t}\,D(\theta_n)^{1/2}\xi_n,
          \qquad \xi_n \sim \mathcal N(0, I),

with :math:`D` taken at the step's start (the **Ito** SDE), until the walker
exits (``exit=``):

``"saddle"``
    first crossing of the hyperplane through the saddle normal to the escape
    direction: the mean first-passage time (MFPT) to the saddle, about half of
    Kramers' :math:`\tau` at low temperature;
``"minimum"``
    the projection on the line from the saddle to the next minimum reaches
    that minimum: what Kramers' :math:`\tau` describes;
``"valley"``
    the basin label ``landscape.basin(x)`` differs from the start's. On a
    separable landscape whose gradient is a cubic of each coordinate (e.g.
    :class:`~theory.landscapes.StyblinskiTang`, :class:`~theory.landscapes.DoubleWell`)
    each coordinate flows on its own, and the basin is the box
    :math:`\prod_i (l_i, u_i)` between the local maxima of the coordinates'
    losses that enclose the start (:math:`\pm\infty` where there is none),
    checked against ``landscape.basin``: the walker exits when a coordinate
    first leaves its interval, each finite face a plane exit of its own. Any
    other basin is tested with ``landscape.basin`` after each step (NumPy
    engine only, no bridge: an :math:`O(\sqrt{\Delta t})` bias).

Plane exits, and the faces of a box basin, are monitored between steps too
(``bridge=True``): a step from signed distance :math:`d_n` to :math:`d_{n+1}`
crosses with the Brownian-bridge probability

.. math:: p = \exp\!\Big(-\frac{2\,d_n d_{n+1}}{2\sigma_e^2\,\Delta t}\Big),
          \qquad \sigma_e^2 = e^\top D(\theta_n)\, e ,

(for a box, per face, :math:`e` the face's axis; the walker survives a step with
probability :math:`\prod_{\rm faces}(1-p_f)`), which removes the
:math:`O(\sqrt{\Delta t})` bias of watching the path only at the step times
(Gobet, *Weak approximation of killed diffusion using Euler schemes*, Stoch.
Proc. Appl. 87, 2000). The remaining :math:`O(\Delta t)`
Euler bias (:math:`O(\sqrt{\Delta t})` where the piecewise :math:`D` jumps) is
removed by Richardson extrapolation over two step sizes (:func:`extrapolate_dt`).

Walkers are cut into blocks; block ``b`` draws only from
``theory.rng.derive(seed, b)``, so results are bitwise identical for any
``chunk_walkers`` or ``executor``. Engines: ``"numpy"`` (the array loop of
:mod:`theory.simulators._escape_numpy`, any backend) and ``"numba"`` (the fused
kernels of :mod:`theory.simulators._fused`).
"""

from __future__ import annotations

import math
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np

from .. import _validate as v
from ..backend import get_backend
from ..errors import DomainError
from ..rng import blocks, seed_sequence
from ..stats import Estimate
from ._escape_common import BAND, EscapePlan, EscapeTimes, separable_cubic
from ._escape_numpy import Task, run_task

__all__ = [
    "Langevin",
    "SGDDiffusion",
    "Mixed",
    "simulate_escape",
    "EscapeRun",
    "extrapolate_dt",
    "DtExtrapolation",
]

_EXITS = ("saddle", "minimum", "valley")
_MAX_WALKERS = 10**9
_MAX_STEPS = 2**62

# Walker-coordinates per chunk (the working set) on the CPU: large enough to amortise
# the per-step Python overhead, small enough to keep the three working arrays in cache.
_CHUNK_CPU = 2**15
# On a GPU one kernel launch covers a chunk: make chunks large.
_CHUNK_GPU = 2**21
# With an executor, each task holds this many chunks (one advanced at a time, refilled).
_TASK_CHUNKS = 4


# ----------------------------------------------------------------------------- dynamics

def _positive(x, name):
    return float(v.positive(v.scalar(x, name), name))


@dataclass(frozen=True)
class Langevin:
    r"""Overdamped Langevin dynamics (SGLD): :math:`D = T I`.

    .. math:: d\theta = -\nabla L\,dt + \sqrt{2T}\,dW, \qquad
              \theta_{n+1} = \theta_n - \Delta t\,\nabla L(\theta_n) + \sqrt{2T\Delta t}\,\xi_n .

    With ``dt = lr`` this is SGLD with learning rate ``lr`` and temperature
    ``T``. Its escape time obeys the Kramers / Eyring-Kramers law
    (:mod:`theory.kramers`).

    Parameters
    ----------
    temperature : float
        :math:`T > 0`, the diffusion coefficient.
    dt : float
        Euler-Maruyama step :math:`\Delta t > 0`.
    """

    temperature: float
    dt: float

    def __post_init__(self):
        object.__setattr__(self, "temperature", _positive(self.temperature, "temperature"))
        object.__setattr__(self, "dt", _positive(self.dt, "dt"))


def _check_sgd(obj):
    object.__setattr__(obj, "lr", _positive(obj.lr, "lr"))
    b = obj.batch_size
    if isinstance(b, (float, np.floating)) and np.isfinite(b) and b < 1:
        raise DomainError(f"batch_size must be an integer >= 1; got {b!r}")
    object.__setattr__(obj, "batch_size", v.as_int(b, "batch_size", 1))
    s = float(v.finite(v.scalar(obj.s, "s"), "s"))
    if not 0.0 < s < 1.0:
        raise DomainError(f"s must be in (0, 1); got {s!r}")
    object.__setattr__(obj, "s", s)


@dataclass(frozen=True)
class SGDDiffusion:
    r"""The diffusion theory's model of SGD: :math:`D(\theta) = \frac{\eta}{2B} H_{\rm eff}(\theta)`.

    .. math:: d\theta = -\nabla L\,dt + \sqrt{2D(\theta)}\,dW, \qquad
              H_{\rm eff} = \begin{cases} H_a & L(\theta) - L(a) < s\,\Delta L \\
                                          |H_b| & \text{otherwise,} \end{cases}

    :math:`H_a` the Hessian at the minimum :math:`a`, :math:`|H_b|` the saddle's
    Hessian with its eigenvalues replaced by their absolute values (both as
    matrices), :math:`\Delta L = L(b) - L(a)`, :math:`\eta` the learning rate
    and :math:`B` the batch size. The increment is
    :math:`\sqrt{2\Delta t}\,D^{1/2}\xi` with the two matrix square roots
    precomputed (scalars in 1-D). :math:`D` is taken at the start of each step,
    so the scheme is the Ito SDE.

    Xie, Sato and Sugiyama, *A Diffusion Theory for Deep Learning Dynamics:
    Stochastic Gradient Descent Exponentially Favors Flat Minima*, ICLR 2021,
    approximate the SGD gradient-noise covariance by :math:`H/B` near critical
    points and find the escape time
    :math:`\tau = \frac{2\pi}{|H_{be}|}\exp[\frac{2B\Delta L}{\eta}(\frac{s}{H_{ae}} + \frac{1-s}{|H_{be}|})]`;
    ``s`` is their path-dependent constant, here the fraction of the barrier
    climbed with the minimum's Hessian. A literal :math:`D \propto L''(\theta)`
    would not do: it vanishes at the inflection points between the minimum and
    the saddle and is negative between them (near the saddle), where no
    diffusion, hence no escape, exists. The piecewise model keeps the two
    Hessians the theory uses, each where it applies.

    With ``dt = lr`` (the default) one step *is* an SGD step,
    :math:`\theta_{n+1} = \theta_n - \eta(\nabla L + \zeta_n)` with Gaussian
    gradient noise :math:`\zeta_n \sim \mathcal N(0, H_{\rm eff}/B)`. On stiff
    landscapes, where :math:`\eta H > 2`, that discrete SGD is unstable (the
    step overshoots the minimum) while the SDE with the same :math:`D` is
    perfectly well behaved: pass a smaller ``dt`` to integrate the SDE.

    Parameters
    ----------
    lr : float
        Learning rate :math:`\eta > 0`.
    batch_size : int
        :math:`B \ge 1`.
    dt : float, optional
        Euler-Maruyama step; defaults to ``lr``.
    s : float, default 0.5
        In (0, 1): the loss level, as a fraction of :math:`\Delta L` above the
        minimum, where the diffusion switches from :math:`H_a` to :math:`|H_b|`.
    """

    lr: float
    batch_size: int
    dt: float | None = None
    s: float = 0.5

    def __post_init__(self):
        _check_sgd(self)
        object.__setattr__(self, "dt", self.lr if self.dt is None else _positive(self.dt, "dt"))


@dataclass(frozen=True)
class Mixed:
    r"""SGLD noise on top of the SGD diffusion: :math:`D = T I + \frac{\eta}{2B} H_{\rm eff}(\theta)`.

    .. math:: d\theta = -\nabla L\,dt + \sqrt{2D(\theta)}\,dW ,

    :math:`H_{\rm eff}` the piecewise Hessian of :class:`SGDDiffusion` (source:
    Xie, Sato, Sugiyama, ICLR 2021, who compare SGLD and SGD escape). Ito
    convention, as there.

    Parameters
    ----------
    temperature : float
        :math:`T > 0`.
    lr : float
        :math:`\eta > 0`.
    batch_size : int
        :math:`B \ge 1`.
    dt : float
        Euler-Maruyama step, > 0.
    s : float, default 0.5
        In (0, 1), as in :class:`SGDDiffusion`.
    """

    temperature: float
    lr: float
    batch_size: int
    dt: float
    s: float = 0.5

    def __post_init__(self):
        object.__setattr__(self, "temperature", _positive(self.temperature, "temperature"))
        _check_sgd(self)
        object.__setattr__(self, "dt", _positive(self.dt, "dt"))


# ----------------------------------------------------------------------------- results

@dataclass(frozen=True)
class EscapeRun(EscapeTimes):
    r"""Result of :func:`simulate_escape`.

    Attributes
    ----------
    times : ndarray of int64, shape (n_walkers,)
        Per walker, the step at which it exited (``max_steps`` if censored).
        The continuous escape time is ``times * dt``.
    censored : ndarray of bool, shape (n_walkers,)
        True for walkers still inside after ``max_steps`` steps.
    dt : float
    n_walkers, n_escaped, max_steps : int
    exit : str
        ``"saddle"``, ``"minimum"`` or ``"valley"``.
    dynamics : Langevin, SGDDiffusion or Mixed
    entropy : int
        Root entropy of the seed, enough to reproduce the run.
    backend : str

    Derived (:class:`~theory.simulators._escape_common.EscapeTimes`): ``n_censored``,
    :meth:`mean_steps`, :meth:`mean_time`, :meth:`rate`, :meth:`survival`.
    """

    times: np.ndarray
    censored: np.ndarray
    dt: float
    n_walkers: int
    n_escaped: int
    max_steps: int
    exit: str
    dynamics: object
    entropy: int
    backend: str


@dataclass(frozen=True)
class DtExtrapolation:
    """Result of :func:`extrapolate_dt`.

    Attributes
    ----------
    estimate : Estimate
        The mean escape time extrapolated to ``dt -> 0``.
    bias : Estimate
        The estimated time-step bias of the finer run (its mean minus the extrapolation).
    ratio : float
        ``dt_coarse / dt_fine``.
    order : float
        The weak order assumed.
    """

    estimate: Estimate
    bias: Estimate
    ratio: float
    order: float


def extrapolate_dt(run_dt: EscapeRun, run_dt_half: EscapeRun, *, order: float = 1.0) -> DtExtrapolation:
    r"""Richardson extrapolation of the mean escape time to ``dt -> 0`` from two step sizes.

    With the weak error :math:`T(h) = T_0 + c\,h^{p} + o(h^p)` (``order`` p = 1
    for Euler-Maruyama with the bridge correction and a smooth :math:`D`;
    p = 1/2 for the piecewise-constant :math:`D` of :class:`SGDDiffusion` and
    :class:`Mixed`, whose jump the Euler step straddles, and for plane exits
    without the bridge), runs at :math:`h` and
    :math:`h/r` give :math:`T_0 \approx (r^p T(h/r) - T(h))/(r^p - 1)`; the
    finer run's bias is :math:`(T(h) - T(h/r))/(r^p-1)`. Standard errors
    assume independent runs: use different seeds (with the same seed they are
    correlated, usually positively, and the errors quoted are conservative).

    Parameters
    ----------
    run_dt, run_dt_half : EscapeRun
        The coarse and the fine run (any ratio r > 1; typically 2), same exit.
    order : float, default 1
        The weak order p > 0.

    Returns
    -------
    DtExtrapolation
    """
    for name, run in (("run_dt", run_dt), ("run_dt_half", run_dt_half)):
        if not isinstance(run, EscapeRun):
            raise TypeError(f"{name} must be an EscapeRun (from simulate_escape); got {type(run).__name__}")
    coarse, fine = run_dt, run_dt_half
    if coarse.exit != fine.exit:
        raise DomainError(f"both runs must use the same exit; got {coarse.exit!r} and {fine.exit!r}")
    if not coarse.dt > fine.dt:
        raise DomainError(f"run_dt must have the larger dt; got dt={coarse.dt!r} and {fine.dt!r}")
    order = float(v.positive(v.scalar(order, "order"), "order"))
    with np.errstate(all="ignore"):
        k = float(np.float64(coarse.dt / fine.dt) ** order - 1.0)
    c, f = coarse.mean_time(), fine.mean_time()
    with np.errstate(all="ignore"):
        value = f.value + (f.value - c.value) / np.float64(k)
        se = np.sqrt(((k + 1) * np.float64(f.stderr)) ** 2 + c.stderr**2) / k
        bias = (c.value - f.value) / np.float64(k)
        bias_se = np.sqrt(np.float64(c.stderr)**2 + f.stderr**2) / k
    if not (np.isfinite(k) and k > 0 and np.isfinite([value, se, bias, bias_se]).all()):
        raise DomainError(f"order must give a finite (dt ratio)**order - 1 > 0 and a finite extrapolation "
                          f"(typically 1 or 1/2); got order={order!r} with dt ratio {coarse.dt / fine.dt!r}")
    value, se, bias, bias_se = float(value), float(se), float(bias), float(bias_se)
    n = min(c.n, f.n)
    return DtExtrapolation(Estimate(np.float64(value), np.float64(se), n),
                           Estimate(np.float64(bias), np.float64(bias_se), n), coarse.dt / fine.dt, order)


# ----------------------------------------------------------------------------- set-up

def _sqrt_psd(m):
    """The symmetric square root of a positive semi-definite matrix (negative rounding of eigenvalues clipped)."""
    w, vecs = np.linalg.eigh(m)
    return (vecs * np.sqrt(np.maximum(w, 0.0))) @ vecs.T




def _cp(route, which):
    c = {"minimum": route.minimum, "saddle": route.saddle, "next": route.next_minimum}[which]
    return np.asarray(c.x, dtype=np.float64).reshape(-1)


def _same_or_vector(a):
    """A per-coordinate vector -> a float when all coordinates agree (cheaper array arithmetic)."""
    a = np.asarray(a, dtype=np.float64)
    return float(a.flat[0]) if np.all(a == a.flat[0]) else a


def _check_call(engine, dynamics, exit, backend, start):
    """Validate ``engine``, ``dynamics`` and ``exit``; return the backend (the CPU for ``engine="numba"``)."""
    if not isinstance(engine, str) or engine not in ("numpy", "numba"):
        raise DomainError(f"engine must be 'numpy' or 'numba'; got {engine!r}")
    if not isinstance(dynamics, (Langevin, SGDDiffusion, Mixed)):
        raise TypeError(f"dynamics must be Langevin, SGDDiffusion or Mixed; got {type(dynamics).__name__}")
    if not isinstance(exit, str) or exit not in _EXITS:
        raise DomainError(f"exit must be one of {', '.join(map(repr, _EXITS))}; got {exit!r}")
    xb = get_backend(backend, *(() if start is None else (start,)))
    if engine == "numba" and xb.xp is not np:
        raise DomainError(f"engine='numba' runs on the CPU; got backend {xb.name!r} (use engine='numpy' there)")
    return xb


def _start_point(route, start, xb, d):
    """The walkers' start as a host vector of shape (d,): ``start``, or the route's minimum."""
    start = _cp(route, "minimum").copy() if start is None else v.finite(xb.to_numpy(start), "start").reshape(-1).copy()
    if start.shape != (d,):
        raise DomainError(f"start must have shape ({d},) to match the landscape; got {start.shape}")
    return start


def _diffusion(landscape, dynamics, route, dt):
    r"""``(T, D_a, D_b)``: :math:`D = T I + \frac{\eta}{2B} H` at the minimum and beyond the switch (None: Langevin).

    :math:`H_b` is the saddle's Hessian with its eigenvalues replaced by their
    absolute values (kept diagonal when the Hessian is). Checks
    :math:`\Delta t\,\lambda_{\max}(H_a) < 2`, the stability of the Euler step at the minimum.
    """
    d = int(landscape.dim)
    temp = getattr(dynamics, "temperature", 0.0)
    h_a = np.asarray(landscape.hessian(_cp(route, "minimum")), dtype=np.float64).reshape(d, d)
    d_a = d_b = None
    sgd = isinstance(dynamics, (SGDDiffusion, Mixed))
    if sgd:
        sad = route.saddle
        h_b = (sad.eigvecs * np.abs(sad.eigvals)) @ sad.eigvecs.T
        hb_raw = np.asarray(landscape.hessian(_cp(route, "saddle")), dtype=np.float64).reshape(d, d)
        if np.count_nonzero(hb_raw - np.diag(np.diag(hb_raw))) == 0:
            h_b = np.diag(np.abs(np.diag(hb_raw)))
        c = dynamics.lr / (2 * dynamics.batch_size)
        d_a = temp * np.eye(d) + c * h_a
        d_b = temp * np.eye(d) + c * h_b
    top = float(np.linalg.eigvalsh(h_a)[-1])
    if dt * top >= 2.0:
        hint = (" (discrete SGD with lr * H > 2 is unstable: pass a smaller dt to integrate the SDE)" if sgd
                else "")
        raise DomainError(f"dt must be < 2 / (largest Hessian eigenvalue at the minimum) = {2 / top:.6g} for a "
                          f"stable Euler step; got {dt!r}{hint}")
    return temp, d_a, d_b


def _exit_geometry(landscape, route, start, exit, dynamics, dt, diffusion) -> dict:
    r"""The exit event: the plane's unit ``normal`` (``axis``/``sign`` when it is :math:`\pm` a unit vector),
    ``offset_x`` (:math:`e\cdot p`, or :math:`p_{\rm axis}`, for the plane's point :math:`p`) and the per-step
    variances :math:`2\Delta t\, e^\top D e` of the two regimes; or, for ``exit="valley"``, the start's ``label0``.
    """
    geo = dict(normal=None, axis=None, sign=1.0, offset_x=0.0, var=(1.0, 1.0), label0=0)
    if exit == "valley":
        basin = getattr(landscape, "basin", None)
        if not callable(basin):
            raise DomainError(f"exit='valley' needs a landscape with basin(x); {type(landscape).__name__} has none")
        try:
            geo["label0"] = int(np.asarray(basin(start[None]))[0])
        except NotImplementedError:
            raise DomainError(f"exit='valley' needs a landscape with basin(x); "
                              f"{type(landscape).__name__} does not implement it") from None
        return geo
    if exit == "saddle":
        point = _cp(route, "saddle")
        normal = np.asarray(route.direction, dtype=np.float64).reshape(-1)
    else:
        if route.next_minimum is None:
            raise DomainError("exit='minimum' needs a route with a next minimum")
        point = _cp(route, "next")
        u = point - _cp(route, "saddle")
        normal = u / np.linalg.norm(u)
    normal = normal / np.linalg.norm(normal)
    if float(normal @ (start - point)) >= 0:
        raise DomainError(f"start must lie on the minimum's side of the exit plane (exit={exit!r})")
    geo["normal"] = normal
    nz = np.flatnonzero(normal)
    if nz.size == 1:
        geo.update(axis=int(nz[0]), sign=float(np.sign(normal[nz[0]])), offset_x=float(point[int(nz[0])]))
    else:
        geo["offset_x"] = float(normal @ point)
    temp, d_a, d_b = diffusion
    if isinstance(dynamics, Langevin):
        geo["var"] = (2 * temp * dt,) * 2
    else:
        geo["var"] = (2 * dt * float(normal @ d_a @ normal), 2 * dt * float(normal @ d_b @ normal))
    return geo


def _coordinate_maxima(c):
    r"""The local maxima of one coordinate's loss, ascending: the simple roots of its gradient
    :math:`g(x) = c_3x^3 + c_2x^2 + c_1x + c_0` where :math:`g' < 0`; None if a real root is
    (nearly) double, where the flow's basins are not bounded by maxima alone.
    """
    nz = np.flatnonzero(c != 0)
    if nz.size == 0 or nz[0] == 3:  # a constant gradient: no critical point
        return np.empty(0)
    roots = np.roots(c[nz[0]:])
    roots = np.sort(roots.real[np.abs(roots.imag) <= 1e-9 * (1.0 + np.abs(roots.real))])
    dc = np.polyder(c)
    for _ in range(4):  # Newton polish; a vanishing slope keeps the estimate
        slope = np.polyval(dc, roots)
        roots = roots - np.divide(np.polyval(c, roots), slope, out=np.zeros_like(roots), where=slope != 0)
    slope = np.polyval(dc, roots)
    size = np.abs(3 * c[0] * roots**2) + np.abs(2 * c[1] * roots) + np.abs(c[2])
    if np.any(np.abs(slope) <= 1e-9 * size) or np.any(np.diff(roots) <= 1e-9 * (1.0 + np.abs(roots[1:]))):
        return None
    return roots[slope < 0]


def _valley_box(landscape, coef, start, label0):
    r"""The start's basin as a box :math:`\prod_i (l_i, u_i)`, or None when it is not one.

    On a separable landscape (gradient :math:`\partial_i L = g_i(x_i)`, coefficients ``coef``
    from :func:`separable_cubic`) each coordinate flows on its own, so the basin of the
    start's minimum is the product of the intervals between the local maxima of the
    coordinates' losses that enclose the start (:math:`\pm\infty` where there is none). The box
    is kept only if ``landscape.basin`` agrees (:func:`_box_is_basin`). Returns ``(lo, hi)``, shape (dim,).
    """
    d = start.size
    lo, hi = np.full(d, -np.inf), np.full(d, np.inf)
    for i in range(d):
        m = _coordinate_maxima(np.array([coef[0][i], coef[1][i], coef[2][i], coef[3][i]], dtype=np.float64))
        if m is None or np.any(np.abs(m - start[i]) <= 1e-9 * (1.0 + np.abs(m))):
            return None  # a degenerate coordinate, or a start on a boundary
        below, above = m[m < start[i]], m[m > start[i]]
        lo[i] = below[-1] if below.size else -np.inf
        hi[i] = above[0] if above.size else np.inf
    return (lo, hi) if _box_is_basin(landscape, lo, hi, start, label0) else None


def _box_is_basin(landscape, lo, hi, start, label0) -> bool:
    """Whether ``landscape.basin`` gives ``label0`` just inside each face of the box, far out on its open
    sides, at its inner corner and at random points inside, and another label just outside each face."""
    d = start.size
    fin = np.concatenate([lo[np.isfinite(lo)], hi[np.isfinite(hi)], start])
    reach = 10.0 * (1.0 + float(np.max(np.abs(fin))))  # "far out" on an open side
    eps = 1e-9 * (1.0 + np.abs(np.where(np.isfinite(lo), lo, 0.0)) + np.abs(np.where(np.isfinite(hi), hi, 0.0)))
    inside, outside = [], []
    for i in range(d):
        for face, step in ((lo[i], 1.0), (hi[i], -1.0)):
            p = start.copy()
            if np.isfinite(face):
                p[i] = face + step * eps[i]
                inside.append(p.copy())
                p[i] = face - step * eps[i]
                outside.append(p)
            else:
                p[i] = start[i] - step * reach
                inside.append(p)
    corner = np.where(np.isfinite(hi), hi - eps, np.where(np.isfinite(lo), lo + eps, start))
    a, b = np.maximum(lo, start - reach), np.minimum(hi, start + reach)
    rand = a + (b - a) * np.random.default_rng(20261204).uniform(0.0, 1.0, (32, d))
    inside = np.vstack([np.array(inside).reshape(-1, d), corner[None], rand])
    try:
        lab_in = np.asarray(landscape.basin(inside)).reshape(-1)
        lab_out = np.asarray(landscape.basin(np.array(outside).reshape(-1, d))).reshape(-1)
    except Exception:  # a basin that cannot be probed this way: not known to be the box
        return False
    return bool(np.all(lab_in == label0) and np.all(lab_out != label0))


def _box_variances(dynamics, diffusion, dt, d):
    r"""Per coordinate, the step's variance :math:`2\Delta t\,D_{ii}` in the two regimes (shape (dim,) each)."""
    temp, d_a, d_b = diffusion
    if isinstance(dynamics, Langevin):
        return (np.full(d, 2 * temp * dt),) * 2
    return 2 * dt * np.diag(d_a).astype(np.float64), 2 * dt * np.diag(d_b).astype(np.float64)


def _folded_poly(coef, dt, scale):
    r"""``(A, B, C, E)`` of the step :math:`y \leftarrow y(Ay^2 + By + C) + E` in units :math:`y = x/s`.

    From :math:`\partial_i L = c_3 x_i^3 + c_2 x_i^2 + c_1 x_i + c_0`:
    :math:`A = -\Delta t\,c_3 s^2`, :math:`B = -\Delta t\,c_2 s`, :math:`C = 1 - \Delta t\,c_1`,
    :math:`E = -\Delta t\,c_0/s`.
    """
    c3, c2, c1, c0 = coef
    return (_same_or_vector(-dt * c3 * scale**2), _same_or_vector(-dt * c2 * scale), _same_or_vector(1.0 - dt * c1),
            _same_or_vector(-dt * c0 / scale))


def _noise_plan(landscape, dynamics, route, coef, scale, dt, diffusion) -> dict:
    r"""The plan's noise fields, in internal units.

    Langevin: one scale :math:`\sqrt{2T\Delta t}/|s|`. Otherwise the two increments'
    square roots :math:`(2\Delta t D_{a,b})^{1/2}/s` (diagonal or full), the switch
    ``level`` :math:`L(a) + s_{\rm frac}\,\Delta L`, and on the polynomial path the
    per-coordinate loss polynomial :math:`L - L(0) = \sum_i q_i(x_i)`,
    :math:`q_i(x) = \tfrac{c_3}{4}x^4 + \tfrac{c_2}{3}x^3 + \tfrac{c_1}{2}x^2 + c_0 x`, in units of ``scale``.
    """
    temp, d_a, d_b = diffusion
    if isinstance(dynamics, Langevin):
        return dict(noise="iso", sigma=abs(math.sqrt(2 * temp * dt) / scale))
    diag = (np.count_nonzero(d_a - np.diag(np.diag(d_a))) == 0
            and np.count_nonzero(d_b - np.diag(np.diag(d_b))) == 0)
    if diag:
        s_a = _same_or_vector(np.sqrt(2 * dt * np.diag(d_a)))
        s_b = _same_or_vector(np.sqrt(2 * dt * np.diag(d_b)))
    else:
        s_a, s_b = _sqrt_psd(2 * dt * d_a), _sqrt_psd(2 * dt * d_b)
    level = float(route.minimum.value) + dynamics.s * float(route.delta_loss)
    quartic = None
    if coef is not None:  # compare sum_i q_i(scale y_i) with level - L(0)
        c3, c2, c1, c0 = coef
        quartic = (_same_or_vector(c3 / 4 * scale**4), _same_or_vector(c2 / 3 * scale**3),
                   _same_or_vector(c1 / 2 * scale**2), _same_or_vector(c0 * scale))
        level -= float(np.asarray(landscape.value(np.zeros((1, int(landscape.dim))))).reshape(-1)[0])
    return dict(noise="regime", sigma=1.0, s_a=s_a / scale, s_b=s_b / scale, diag=diag, quartic=quartic,
                level=level)


def _build_plan(landscape, dynamics, route, start, exit, bridge, max_steps) -> EscapePlan:
    """The run's plan: diffusion, exit geometry, drift and noise, in the walkers' internal units.

    On the polynomial path walkers move in units ``y = x / scale``: the step's noise
    scale for Langevin, and a sign that turns an axis normal pointing to -x into +y
    (so the exit test is ``y > offset``).
    """
    d, dt = int(landscape.dim), float(dynamics.dt)
    diffusion = _diffusion(landscape, dynamics, route, dt)
    geo = _exit_geometry(landscape, route, start, exit, dynamics, dt, diffusion)
    pts = np.stack([_cp(route, "minimum"), _cp(route, "saddle")]
                   + ([_cp(route, "next")] if route.next_minimum is not None else []))
    coef = separable_cubic(landscape, pts)
    scale, plane_sign = 1.0, geo["sign"]
    if coef is not None and exit != "valley":
        scale = math.sqrt(2 * diffusion[0] * dt) if isinstance(dynamics, Langevin) else 1.0
        if geo["axis"] is not None:
            scale, plane_sign = scale * geo["sign"], 1.0
    poly = None if coef is None else _folded_poly(coef, dt, scale)
    var = geo["var"]
    band = BAND * math.sqrt(max(var)) / abs(scale) if bridge else 0.0
    box = box_var = None
    if exit == "valley" and coef is not None:  # valley exits keep scale 1: the box is in physical units
        box = _valley_box(landscape, coef, start, geo["label0"])
        box_var = _box_variances(dynamics, diffusion, dt, d) if box is not None else None
    return EscapePlan(
        dim=d, dt=dt, scale=scale, poly=poly, landscape=landscape, exit=exit, normal=geo["normal"],
        axis=geo["axis"], sign=plane_sign, offset=geo["offset_x"] / scale, var=(var[0] / scale**2, var[1] / scale**2),
        band=band, bridge=bool(bridge), label0=geo["label0"], box=box, box_var=box_var, start=start / scale,
        max_steps=max_steps, **_noise_plan(landscape, dynamics, route, coef, scale, dt, diffusion))


def _numba_times(plan, root, n_walkers, chunk_walkers, executor) -> np.ndarray:
    """Exit steps (-1: censored) from the fused kernels."""
    from . import _fused  # numba is imported only here

    if chunk_walkers is not None:
        chunk_walkers = v.as_int(chunk_walkers, "chunk_walkers", 1)
    return _fused.escape_times(plan, root, n_walkers, chunk_walkers=chunk_walkers, executor=executor)


def _numpy_times(plan, root, n_walkers, xb, chunk_walkers, executor) -> np.ndarray:
    """Exit steps (-1: censored) from the array loop: one task without an executor; with one, tasks of
    ``_TASK_CHUNKS`` chunks (a task's working set is one chunk, refilled with its next blocks)."""
    n_blocks = len(blocks(n_walkers, xb.block_size))
    if chunk_walkers is None:
        chunk_walkers = max(xb.block_size, (_CHUNK_CPU if xb.xp is np else _CHUNK_GPU) // plan.dim)
    per_chunk = -(-v.as_int(chunk_walkers, "chunk_walkers", 1) // xb.block_size)
    per_task = n_blocks if executor is None else _TASK_CHUNKS * per_chunk
    tasks = [Task(plan, root.entropy, tuple(root.spawn_key), xb, n_walkers, b0, min(b0 + per_task, n_blocks),
                  per_chunk) for b0 in range(0, n_blocks, per_task)]
    results = executor.map(run_task, tasks) if executor is not None else map(run_task, tasks)
    return np.concatenate(list(results))


def simulate_escape(landscape, dynamics, *, route=None, start=None, exit="saddle", n_walkers=10_000,
                    max_steps=10**6, bridge=True, seed=0, backend=None, chunk_walkers=None,
                    executor: Executor | None = None, engine: str = "numpy") -> EscapeRun:
    r"""Simulate escape from a minimum for many independent walkers; return their exit times.

    Parameters
    ----------
    landscape : theory.landscapes.Landscape
    dynamics : Langevin, SGDDiffusion or Mixed
        The noise model and the step ``dt``.
    route : theory.landscapes.Route, optional
        Minimum, saddle and next minimum; default ``landscape.route(0)``.
    start : array_like, shape (dim,), optional
        Where every walker starts; default the route's minimum.
    exit : {"saddle", "minimum", "valley"}
        The exit event (module docstring): crossing the saddle's plane, reaching the
        next minimum, or leaving the start's basin (``landscape.basin``). On a
        separable polynomial landscape the basin is a box bounded by coordinate
        planes (one per coordinate's local maximum beside the start), and
        ``"valley"`` is the first exit through any of its faces, each tested as a
        plane exit (with the bridge); elsewhere ``basin(x)`` is tested after each step.
    n_walkers : int, default 10000
        Independent walkers (at least 2).
    max_steps : int, default 10**6
        Walkers still inside after this many steps are censored.
    bridge : bool, default True
        Brownian-bridge test for crossings between steps (plane exits and the
        faces of a box basin), which removes the :math:`O(\sqrt{\Delta t})`
        discrete-monitoring bias.
    seed : int, SeedSequence or None
        Root of the random streams (None: fresh entropy, recorded in the result).
    backend : {"numpy", "cupy"}, a Backend, or None
        Array backend; None chooses from ``start`` (NumPy unless a CuPy array).
    chunk_walkers : int, optional
        Walkers advanced together (rounded up to whole blocks); the default
        keeps the working arrays in cache. Does not change the result.
    executor : concurrent.futures.Executor, optional
        Runs chunks in parallel (e.g. a ProcessPoolExecutor). Does not change the result.
    engine : {"numpy", "numba"}, default "numpy"
        ``"numpy"``: the array loop (:mod:`theory.simulators._escape_numpy`), on
        ``backend`` (the reference). ``"numba"``: fused compiled kernels on the CPU
        (:mod:`theory.simulators._fused`; the optional extra ``theory[numba]``) that
        draw the noise and take the step in one pass, in parallel over blocks of
        walkers on ``numba.get_num_threads()`` threads, each block with its own
        xoshiro256++ stream (results independent of the thread count,
        ``chunk_walkers`` and ``executor``; different numbers from the NumPy engine,
        the same law). Polynomial landscapes only (e.g.
        :class:`~theory.landscapes.DoubleWell`, :class:`~theory.landscapes.StyblinskiTang`),
        plane exits normal to a coordinate axis and ``exit="valley"`` where the
        basin is a box (any noise model with a diagonal diffusion matrix);
        DomainError otherwise (it names ``engine='numpy'``, which runs them) and on
        a GPU backend. The result's ``backend`` is ``"numba"``.

    Returns
    -------
    EscapeRun
    """
    for method in ("gradient", "hessian", "value", "route"):
        if not callable(getattr(landscape, method, None)):
            raise TypeError(f"landscape must be a theory.landscapes.Landscape (with dim, value, gradient, hessian "
                            f"and route); got {type(landscape).__name__}")
    xb = _check_call(engine, dynamics, exit, backend, start)
    d = v.as_int(getattr(landscape, "dim", None), "landscape.dim", 1)
    n_walkers = v.as_int(n_walkers, "n_walkers", 2)
    if n_walkers > _MAX_WALKERS:
        raise DomainError(f"n_walkers must be at most {_MAX_WALKERS} (one exit time is stored per walker); "
                          f"got {n_walkers}")
    max_steps = v.as_int(max_steps, "max_steps", 1)
    if max_steps > _MAX_STEPS:
        raise DomainError(f"max_steps must be at most 2**62 (exit steps are int64); got {max_steps}")
    bridge = v.flag(bridge, "bridge")
    if route is None:
        route = landscape.route(0)
    elif not all(hasattr(route, a) for a in ("minimum", "saddle", "direction")):
        raise TypeError(f"route must be a theory.landscapes.Route (e.g. landscape.route(0)); got "
                        f"{type(route).__name__}")
    start = _start_point(route, start, xb, d)
    root = seed_sequence(seed)
    plan = _build_plan(landscape, dynamics, route, start, exit, bridge, max_steps)
    if engine == "numba":
        times = _numba_times(plan, root, n_walkers, chunk_walkers, executor)
    else:
        times = _numpy_times(plan, root, n_walkers, xb, chunk_walkers, executor)
    censored = times < 0
    times[censored] = max_steps
    return EscapeRun(times=times, censored=censored, dt=plan.dt, n_walkers=n_walkers,
                     n_escaped=int(n_walkers - np.count_nonzero(censored)), max_steps=max_steps, exit=exit,
                     dynamics=dynamics, entropy=root.entropy, backend="numba" if engine == "numba" else xb.name)
