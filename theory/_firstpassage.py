r"""Exact 1-D mean first-passage times by adaptive Gauss-Legendre panels, in log space.

For :math:`dx = -U'(x)\,dt + \sqrt{2D(x)}\,dW` with a reflecting boundary at
:math:`-\infty` and an absorbing one at :math:`x_1 > x_0`,

.. math:: T(x_0\to x_1) = \int_{x_0}^{x_1} w_{\rm out}(y)\int_{-\infty}^{y} w_{\rm in}(z)\,dz\,dy,

with, writing :math:`\Phi(x) = \int^x U'(u)/D(u)\,du`,

* Ito: :math:`w_{\rm out} = e^{\Phi}`, :math:`w_{\rm in} = e^{-\Phi}/D`;
* Haenggi-Klimontovich: :math:`w_{\rm out} = e^{\Phi}/D`, :math:`w_{\rm in} = e^{-\Phi}`;

and for constant :math:`D` both reduce to :math:`\frac1D\int e^{U/D}\int e^{-U/D}`.

The mesh is refined until, on every panel, the log-weights vary by at most
``_RANGE`` and their Legendre coefficients have decayed to rounding level, so
the exponentials are resolved to full precision by ``_N``-point rules. The inner
integral is accumulated at every outer node with a spectral integration
matrix, and all sums are done on logarithms, so barriers of hundreds of
:math:`D` neither overflow nor lose digits.
"""

from __future__ import annotations

import numpy as np
from numpy.polynomial import legendre as _leg

from .errors import DomainError

_N = 20                  # Gauss-Legendre nodes per panel
_RANGE = 5.0             # largest variation of a log-weight over one panel
_MAX_PANELS = 20_000
_TAIL = 80.0             # the inner integral's left tail is cut e^-80 below its peak

_T, _W = _leg.leggauss(_N)
_V = _leg.legvander(_T, _N - 1)                      # V[k, j] = P_j(t_k)
_COEF = (np.arange(_N) + 0.5)[:, None] * (_V * _W[:, None]).T  # values -> Legendre coefficients
# cumulative integration on [-1, 1]: (S f)_k ~ int_{-1}^{t_k} p_f
_VP = _leg.legvander(_T, _N)
_A = np.empty((_N, _N))
_A[:, 0] = _T + 1.0
for _j in range(1, _N):
    _A[:, _j] = (_VP[:, _j + 1] - _VP[:, _j - 1]) / (2 * _j + 1)
_S = _A @ _COEF
# rounding of the two highest coefficients: each is a 20-term dot product with these weights
_TAIL_ABS = np.abs(_COEF[-1]) + np.abs(_COEF[-2])


def _logsumexp(a, axis=None):
    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
    return np.squeeze(out, axis=axis) if axis is not None else out.item()


class _Problem:
    """Log-weights of the MFPT integrand for one potential, temperature and convention."""

    def __init__(self, potential, temperature, diffusion, gradient, convention, sign):
        self.U, self.T, self.d, self.dU = potential, temperature, diffusion, gradient
        self.convention, self.sign = convention, sign  # sign = -1 mirrors x -> -x

    def _eval(self, f, x):
        with np.errstate(over="ignore", invalid="ignore"):  # non-finite values are refused by name below
            out = np.asarray(f(self.sign * x), dtype=np.float64)
        if out.shape != x.shape:
            out = np.broadcast_to(out, x.shape).copy()
        return out

    def phi_integrand(self, x):
        """U'(x)/D(x) in mirrored coordinates (variable diffusion only)."""
        d = self._eval(self.d, x)
        if not np.all(d > 0) or not np.all(np.isfinite(d)):
            raise DomainError("diffusion must be finite and > 0 on the whole path from the reflecting side "
                              "to end (a D(x) that vanishes or changes sign, e.g. D proportional to L''(x), "
                              "makes escape impossible)")
        return self.sign * self._eval(self.dU, x) / (self.T * d)

    def potential_over_t(self, x):
        u = self._eval(self.U, x)
        if not np.all(np.isfinite(u)):
            raise DomainError("potential must be finite on the integration path (from the reflecting side of "
                              "start to end); is start or end so far out that U overflows there?")
        with np.errstate(over="ignore"):
            out = u / self.T
        if not np.all(np.isfinite(out)):
            top = float(np.abs(u).max())
            raise DomainError(f"temperature must exceed about {top / np.finfo(float).max:.3g} here (U up to "
                              f"{top:.3g} on the path, and U/temperature must not overflow); got {self.T!r}")
        return out


class _Mesh:
    def __init__(self, edges):
        self.edges = np.asarray(edges, dtype=np.float64)

    @property
    def a(self):
        return self.edges[:-1]

    @property
    def h(self):
        return np.diff(self.edges)

    def nodes(self):
        mid, half = 0.5 * (self.edges[:-1] + self.edges[1:]), 0.5 * self.h
        return mid[:, None] + half[:, None] * _T[None, :]

    def split(self, bad):
        mids = 0.5 * (self.edges[:-1] + self.edges[1:])[bad]
        return _Mesh(np.sort(np.concatenate([self.edges, mids])))

    def halved(self):
        return self.split(np.ones(self.edges.size - 1, dtype=bool))


def _panel_logs(prob: _Problem, mesh: _Mesh, phi0: float):
    """log w_in, log w_out at the nodes of every panel (shape (panels, _N)), and the smoothness data."""
    x = mesh.nodes()
    if prob.d is None:
        u = prob.potential_over_t(x)
        phi = u - phi0
        # Smoothness is judged on the unshifted values: a shift changes only the constant
        # Legendre coefficient, and the subtraction would add its own rounding noise.
        rough = (u, np.abs(u) @ _TAIL_ABS)
        log_d = np.log(prob.T)
        log_in, log_out = -phi - log_d, phi
    else:
        g = prob.phi_integrand(x)
        half = 0.5 * mesh.h[:, None]
        panel_int = half[:, 0] * (g @ _W)
        start = np.concatenate([[0.0], np.cumsum(panel_int)[:-1]])
        phi = start[:, None] + half * (g @ _S.T)
        gh = g * mesh.h[:, None]  # Phi's integrand, scaled to the panel: its tail must vanish
        rough = (gh, np.abs(gh) @ _TAIL_ABS)
        log_d = np.log(prob.T * prob._eval(prob.d, x))
        if prob.convention == "ito":
            log_in, log_out = -phi - log_d, phi
        else:
            log_in, log_out = -phi, phi - log_d
    return x, log_in, log_out, rough


def _tail(values):
    """Size of the two highest Legendre coefficients per panel (the truncation error of the node rule)."""
    c = values @ _COEF.T
    return np.abs(c[:, -1]) + np.abs(c[:, -2])


def _rough_tol(scale):
    """What rounding alone leaves in the tail coefficients: ``scale`` is sum_k |C_jk| |f_k| over them.

    A dot product of N terms is exact to N eps times the sum of the absolute
    terms whatever the summation order (the a-priori bound), so a tail below
    that cannot be told from rounding: the BLAS kernel in use decides where in
    the band the noise falls (measured up to 1.2 eps * scale with one kernel).
    """
    return 1e-13 + _N * np.finfo(float).eps * scale


def _integrate(prob: _Problem, mesh: _Mesh, n_outer0: int, phi0: float):
    """log T on a fixed mesh, plus the per-panel flags of where the mesh is too coarse."""
    x, log_in, log_out, rough = _panel_logs(prob, mesh, phi0)
    half = 0.5 * mesh.h
    # inner: cumulative integral of w_in at every node, in logs
    m = log_in.max(axis=1)
    scaled = np.exp(log_in - m[:, None])
    with np.errstate(divide="ignore", invalid="ignore"):
        log_panel = np.log(half * (scaled @ _W)) + m
        partial = np.log(np.maximum(half[:, None] * (scaled @ _S.T), 0.0)) + m[:, None]
    before = np.concatenate([[-np.inf], np.logaddexp.accumulate(log_panel)[:-1]])
    log_inner = np.logaddexp(before[:, None], partial)
    # outer, over the panels of [x0, x1]
    outer = slice(n_outer0, None)
    log_f = log_out[outer] + log_inner[outer]
    log_t = _logsumexp(log_f + np.log(half[outer, None] * _W[None, :]))
    # Resolution: every log-weight varies by at most _RANGE over a panel and is
    # smooth to rounding. A panel is left alone when its contribution is
    # negligible both to the inner integral and to the outer one.
    bad_in = np.ptp(log_in, axis=1) > _RANGE
    bad_rough = _tail(rough[0]) > _rough_tol(rough[1])
    bad_out = np.zeros_like(bad_in)
    bad_out[outer] = (np.ptp(log_f, axis=1) > _RANGE) | (np.ptp(log_out[outer], axis=1) > _RANGE)
    negligible = log_panel < _logsumexp(log_panel) - 90.0
    contrib_out = np.full(bad_in.shape, -np.inf)
    contrib_out[outer] = _logsumexp(log_f + np.log(half[outer, None] * _W[None, :]), axis=1)
    negligible_out = contrib_out < log_t - 90.0
    bad = (bad_in & ~negligible) | (bad_out & ~negligible_out) | (bad_rough & ~(negligible & negligible_out))
    # below this width the nodes are no longer distinct floats: refining further cannot help
    bad &= mesh.h > 1e4 * np.finfo(float).eps * (1.0 + np.abs(mesh.a))
    return log_t, bad


def _left_cut(prob: _Problem, x0: float, x1: float, phi0: float) -> float:
    """A point left of x0 beyond which w_in is negligible (e^-_TAIL below its maximum and falling).

    The search doubles its step until the point leaves the floating-point
    range, so a potential that rises slowly against a large temperature is
    followed as far as its values stay finite.
    """
    span = max(abs(x1 - x0), 1e-3 * max(1.0, abs(x0)))
    step, left = span, x0
    peak = -np.inf
    rising = False
    while True:
        new_left = left - step
        if not np.isfinite(new_left) or not np.isfinite(x1 - new_left):
            break
        mesh = _Mesh(np.linspace(new_left, x1, 64))
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                _, log_in, _, _ = _panel_logs(prob, mesh, phi0)
        except DomainError:
            if prob.d is not None or left == x0:
                raise
            break  # the potential stopped being finite before its tail was cut
        peak = max(peak, float(log_in.max()))
        first = log_in[0]
        if first[0] < peak - _TAIL and first[0] < first[-1]:
            return new_left
        rising = bool(first[0] < first[-1])
        left, step = new_left, 2 * step
    if rising and prob.d is None and left != x0:
        # the potential rises, but not by _TAIL temperatures while it is finite
        with np.errstate(all="ignore"):
            u = prob._eval(prob.U, _Mesh(np.linspace(left, x1, 64)).nodes())
        u = u[np.isfinite(u)]
        bound = (float(u.max()) - float(u.min())) / _TAIL
        raise DomainError(f"temperature must be below about {bound:.3g} for this potential (the rise of U within "
                          f"the floating-point range divided by {_TAIL:g}, so that e^(-U/T) falls e^-{_TAIL:g} "
                          f"below its peak on the reflecting side); got {prob.T!r}")
    raise DomainError("potential must rise without bound on the reflecting side of start (away from end); "
                      "otherwise the walker is lost there and the first-passage time is infinite")


def mfpt(potential, start, end, temperature, diffusion, gradient, convention, points):
    """(log T, error estimate of log T, number of panels) for the problem; see kramers.mean_first_passage_time."""
    sign = 1.0 if end > start else -1.0
    prob = _Problem(potential, temperature, diffusion, gradient, convention, sign)
    x0, x1 = sign * start, sign * end
    phi0 = float(prob.potential_over_t(np.array([x0]))[0]) if diffusion is None else 0.0
    left = _left_cut(prob, x0, x1, phi0)
    extra = [sign * p for p in points if min(left, x1) < sign * p < x1 and sign * p != x0]
    edges = np.unique(np.concatenate([np.linspace(left, x0, 9), np.linspace(x0, x1, 17), extra]))
    mesh = _Mesh(edges)
    for _ in range(60):
        n_outer0 = int(np.searchsorted(mesh.edges, x0))
        log_t, bad = _integrate(prob, mesh, n_outer0, phi0)
        if not bad.any():
            break
        mesh = mesh.split(bad)
        if mesh.edges.size > _MAX_PANELS:
            raise DomainError("the integrand could not be resolved: is the potential smooth and the "
                              "temperature > 0? (panel limit reached)")
    fine = mesh.halved()
    log_fine, _ = _integrate(prob, fine, int(np.searchsorted(fine.edges, x0)), phi0)
    # phi0 (= U(start)/T) cancels in w_out(y) w_in(z); it only keeps the exponents small
    return log_fine, abs(log_fine - log_t), mesh.edges.size - 1
