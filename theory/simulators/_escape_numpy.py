r"""The NumPy engine of :func:`theory.simulators.escape.simulate_escape`: many walkers advanced by array steps.

One Euler-Maruyama step of every row (walker) of the working set, in place,

.. math:: y_{n+1} = y_n (A y_n^2 + B y_n + C) + E + s(y_n)\,\xi_n
          \quad\text{(coordinate-wise cubic gradient, internal units)},\qquad
          x_{n+1} = x_n - \Delta t\,\nabla L(x_n) + \sqrt{2\Delta t}\,D(x_n)^{1/2}\xi_n ,

:math:`D` taken at the step's start (Ito), then the exit test. The pieces:

- :class:`WorkingSet`: the rows in use, grouped by block; every :data:`COMPACT`
  steps exits are recorded, finished walkers and expired blocks dropped, and
  the next blocks join (:func:`compact`);
- :class:`NoiseSchedule`: which block draws the step's normals, and when
  (a block with at most half its rows left draws :data:`POOL_K` steps at once);
- :class:`PolyDrift`, :class:`GradientDrift`, :class:`RegimeNoise`,
  :class:`ScaledNoise`: the step;
- :class:`PlaneExit` (with the Brownian-bridge test, :func:`bridge_log_survival`),
  :class:`BoxExit` (leaving a basin that is a box bounded by coordinate planes, the
  same test face by face) and :class:`ValleyExit` (any other basin:
  ``landscape.basin`` after each step, no bridge): the exit events.

Bridge test (Gobet, *Weak approximation of killed diffusion using Euler
schemes*, Stoch. Proc. Appl. 87, 2000): a step from signed distance
:math:`d_n` to :math:`d_{n+1}` (negative inside) crosses the plane in between
with probability :math:`p = \exp(-2 d_n d_{n+1}/v)`, :math:`v` the step's
variance along the normal. The successive tests of a walker are one test of
its accumulated hazard :math:`\sum_j -\log(1-p_j)` against an Exp(1)
threshold drawn when its block joins:
:math:`P(\text{no exit by step } k) = \prod_j (1-p_j) = P(E > \sum_j h_j)`.

A block draws only from its own stream, ``derive(root, b)``, and joins or
changes its drawing mode only at multiples of :data:`COMPACT` steps of its own
clock, so what a walker receives depends on the seed and its index alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import numpy as np

from ..backend import Backend
from ..errors import DomainError
from ..rng import derive
from ._escape_common import BAND, Q_MIN, EscapePlan

__all__ = ["COMPACT", "POOL_K", "POOL_K_GPU", "Task", "run_task", "WorkingSet", "NoiseSchedule", "PolyDrift",
           "GradientDrift", "RegimeNoise", "ScaledNoise", "make_noise", "PlaneExit", "BoxExit", "ValleyExit",
           "bridge_log_survival", "first_exits", "block_starts", "is_pooled", "compact"]

# Finished walkers are dropped, and new blocks join, every COMPACT steps (of every
# block's clock: a rule local to each block, so chunking cannot change the draws).
COMPACT = 64
# Blocks with at most block_size/2 rows draw this many steps' normals per call
# (a divisor of COMPACT; on a GPU 8, to bound the pool's memory).
POOL_K = 64
POOL_K_GPU = 8


@dataclass(frozen=True)
class Task:
    """Blocks [block0, block1) of a run, advanced ``chunk_blocks`` blocks at a time."""

    plan: EscapePlan
    entropy: object
    spawn_key: tuple
    backend: object  # a theory.backend.Backend (pickled by class)
    n_walkers: int
    block0: int
    block1: int
    chunk_blocks: int


def _on_device(xb, a):
    """A plan constant on the backend: floats stay floats (cheaper in-place arithmetic)."""
    return a if isinstance(a, float) else xb.asarray(a)


def is_pooled(rows: int, block_size: int) -> bool:
    """Whether a block with ``rows`` rows left draws its normals pooled (POOL_K steps per call)."""
    return rows <= block_size // 2


def block_starts(rows) -> np.ndarray:
    """The first row of each block, blocks laid out in order with ``rows`` rows each."""
    sizes = np.array(rows, dtype=np.int64)
    return np.cumsum(sizes) - sizes


def first_exits(rows_list, steps_list):
    """(rows, steps) of the first exit of each row that has one, from a period's exits listed in step order."""
    if not rows_list:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    rows, ts = np.concatenate(rows_list), np.concatenate(steps_list)
    rows, first = np.unique(rows, return_index=True)
    return rows, ts[first]


def bridge_log_survival(d_old, d_new, neg_scale):
    r""":math:`\log(1 - p)`, :math:`p = \min(1, e^{q})`, :math:`q = -2 d_n d_{n+1}/v`, per tested step.

    Parameters
    ----------
    d_old, d_new : ndarray
        Signed distances past the plane at the step's start and end (negative inside).
    neg_scale : float or ndarray
        :math:`-2/v`, :math:`v` the step's variance along the plane's normal.

    Returns
    -------
    ndarray
        :math:`\log(1-p) = -h`, the negated hazard: ``-inf`` for a step that ends past the plane
        (or starts there), ``-0.0`` where :math:`q < Q_{\min}` (the probability is dropped). Past the
        plane ``exp`` may overflow and ``log1p(-1)`` divides by zero: call under ``np.errstate``.
    """
    q = np.multiply(d_old, d_new)  # negative when the step stays inside
    q *= neg_scale
    q[q < Q_MIN] = -np.inf
    np.exp(q, out=q)  # p, > 1 past the plane
    np.minimum(q, 1.0, out=q)
    np.negative(q, out=q)
    np.log1p(q, out=q)
    return q


# ----------------------------------------------------------------------------- the step

class PolyDrift:
    """``out <- x (A x^2 + B x + C) + E + z`` in place, internal units (a coordinate-wise cubic gradient)."""

    def __init__(self, plan: EscapePlan, xb):
        self.xp = xb.xp
        self.A, self.B, self.C, self.E = (_on_device(xb, a) for a in plan.poly)
        self.has_b = not (isinstance(self.B, float) and self.B == 0.0)
        self.has_e = not (isinstance(self.E, float) and self.E == 0.0)

    def __call__(self, x, out, z):
        if self.has_b:
            self.xp.multiply(x, self.A, out=out)
            out += self.B
            out *= x
        else:
            self.xp.multiply(x, x, out=out)
            out *= self.A
        out += self.C
        out *= x
        out += z
        if self.has_e:
            out += self.E


class GradientDrift:
    """``out <- x - dt grad L(x) + z``, physical units, the gradient written into a preallocated buffer."""

    def __init__(self, plan: EscapePlan, xp, cap: int):
        self.xp, self.landscape, self.minus_dt, self.d = xp, plan.landscape, -plan.dt, plan.dim
        self.gradient = getattr(plan.landscape, "_step_gradient", plan.landscape.gradient)
        self.grad = xp.empty((cap, plan.dim))

    def __call__(self, x, out, z):
        d = self.d
        g = self.gradient(x if d > 1 else x[:, None], out=self.grad[:x.shape[0]])
        self.xp.multiply(g if d > 1 else g[:, 0], self.minus_dt, out=out)
        out += x
        out += z


class ScaledNoise:
    """``z <- sigma z``: isotropic noise of one scale (Langevin on the generic path)."""

    def __init__(self, sigma: float):
        self.sigma = sigma

    def __call__(self, x, z):
        z *= self.sigma


class RegimeNoise:
    r"""``z <- sqrt(2 dt) D(x)^(1/2) z``, :math:`D` switching from :math:`D_a` to :math:`D_b` where the loss reaches a level.

    :math:`D` is taken at the step's start ``x`` (Ito). After a call, ``reg[:n]``
    says which rows were in regime a (loss below ``plan.level``); the bridge test
    reads it for the step's variance.
    """

    def __init__(self, plan: EscapePlan, xb, cap: int, shape: tuple):
        xp = self.xp = xb.xp
        self.plan, self.d = plan, plan.dim
        self.reg = xp.empty(cap, dtype=bool)
        self.lbuf = xp.empty(shape)
        self.lsum = xp.empty(cap) if plan.dim > 1 else None
        if plan.diag:
            self.s_a, self.s_b = _on_device(xb, plan.s_a), _on_device(xb, plan.s_b)
            self.sbuf = xp.empty(shape)
        else:
            self.s_at, self.s_bt = xb.asarray(plan.s_a.T), xb.asarray(plan.s_b.T)
            self.za, self.zb = xp.empty(shape), xp.empty(shape)
        if plan.quartic is not None:
            self.quartic = tuple(_on_device(xb, a) for a in plan.quartic)

    def below_level(self, x):
        """``reg[:n]`` <- whether the loss at each row of ``x`` is below the level; returns that view."""
        xp, n = self.xp, x.shape[0]
        r = self.reg[:n]
        if self.plan.quartic is not None:  # L - L(0) = sum_i q_i(x_i), q_i = ((a4 x + a3) x + a2) x + a1) x
            q4, q3, q2, q1 = self.quartic
            loss = self.lbuf[:n]
            xp.multiply(x, q4, out=loss)
            loss += q3
            loss *= x
            loss += q2
            loss *= x
            loss += q1
            loss *= x
            if self.d > 1:
                loss = xp.sum(loss, axis=1, out=self.lsum[:n])
        else:
            loss = self.plan.landscape.value(x if self.d > 1 else x[:, None])
        xp.less(loss, self.plan.level, out=r)
        return r

    def __call__(self, x, z):
        xp, n = self.xp, x.shape[0]
        r = self.below_level(x)
        rr = r if self.d == 1 else r[:, None]
        if self.plan.diag:
            sc = self.sbuf[:n]
            sc[...] = self.s_b
            xp.copyto(sc, self.s_a, where=rr)
            z *= sc
        else:
            wa, wb = self.za[:n], self.zb[:n]
            xp.matmul(z, self.s_at, out=wa)
            xp.matmul(z, self.s_bt, out=wb)
            xp.copyto(wb, wa, where=rr)
            z[...] = wb


def make_noise(plan: EscapePlan, xb, cap: int, shape: tuple):
    """The noise step of a plan: RegimeNoise, ScaledNoise, or None (the normals are the increments)."""
    if plan.noise == "regime":
        return RegimeNoise(plan, xb, cap, shape)
    if plan.sigma != 1.0:
        return ScaledNoise(plan.sigma)
    return None


# ----------------------------------------------------------------------------- exits

class _Exits:
    """A period's exits (rows, steps), and parking: an exited row waits at the start until it is dropped."""

    def __init__(self, ws):
        self.xb, self.on_cpu, self.start = ws.xb, ws.on_cpu, ws.start
        self.rows, self.steps = [], []
        self.prev = np.empty(0, dtype=np.int64)  # the rows to test at the next step whatever their position

    def dev(self, idx):
        return idx if self.on_cpu else self.xb.asarray(idx, dtype=np.int64)

    def flagged(self, mk):
        """Rows to test this step, on the host: those the mask ``mk`` flags and those carried from the last step."""
        if self.prev.size:
            mk[self.dev(self.prev)] = True
        idx = mk.nonzero()[0]
        return idx if self.on_cpu else self.xb.to_numpy(idx)

    def exit_rows(self, c_new, idx, t):
        """Rows ``idx`` exited at step ``t``: log them and park them at the start."""
        self.rows.append(idx)
        self.steps.append(np.full(idx.size, t))
        c_new[self.dev(idx)] = self.start

    def take(self):
        """(rows, steps) of this period's first exits; the log starts afresh."""
        out = first_exits(self.rows, self.steps)
        self.rows, self.steps = [], []
        return out

    def remap(self, keep, newpos):
        """Follow the rows carried to the next step through a new layout (``newpos``: old row -> new row)."""
        if self.prev.size:
            alive = keep[self.prev] if keep is not None else np.ones(self.prev.size, dtype=bool)
            self.prev = newpos[self.prev[alive]]


class ValleyExit(_Exits):
    """Exit when ``landscape.basin(x)`` differs from the start's label (a basin that is not a box; no bridge)."""

    def __init__(self, plan: EscapePlan, ws):
        super().__init__(ws)
        self.xp, self.landscape, self.label0, self.d = ws.xp, plan.landscape, plan.label0, plan.dim
        self.basin = getattr(plan.landscape, "_step_basin", plan.landscape.basin)

    def detect(self, c_old, c_new, mk, t):
        labels = self.basin(c_new if self.d > 1 else c_new[:, None])
        self.xp.not_equal(labels, self.label0, out=mk)
        idx = mk.nonzero()[0]
        if idx.size:
            idx = self.xb.to_numpy(idx) if not self.on_cpu else idx
            self.exit_rows(c_new, idx, t)


class _BridgeExits(_Exits):
    """The bridge's bookkeeping: candidates add their steps' hazard, and exit past their Exp(1) thresholds."""

    def __init__(self, ws, regime):
        super().__init__(ws)
        self.regime = regime
        self.thresh, self.hazard = ws.thresh, ws.hazard

    def step_scale(self, di, neg_a, neg_b):
        """:math:`-2/v` of the candidates ``di`` (device rows): ``neg_a``, or per row by the step's regime."""
        if self.regime is None:
            return neg_a
        reg = self.xb.to_numpy(self.regime[di])
        return np.where(reg if np.ndim(neg_a) == 0 else reg[:, None], neg_a, neg_b)

    def add_hazard(self, c_new, idx, log_surv, near, t):
        """Rows ``idx`` add ``-log_surv``; those past their thresholds exit, those ``near`` the faces are
        tested again at the next step."""
        h = self.hazard[idx]
        h -= log_surv
        self.hazard[idx] = h
        hit = h > self.thresh[idx]
        self.prev = idx[np.greater(near, hit)]  # near now and inside
        if hit.any():
            self.exit_rows(c_new, idx[hit], t)


class PlaneExit(_BridgeExits):
    """Exit at the plane ``sign (e . y - offset) = 0``; with the bridge, also between steps.

    Candidates at each step: rows within ``band`` of the plane after the step,
    or before it (``prev``). Without the bridge the band is 0 and a candidate has
    crossed. With it, every candidate adds :math:`h = -\\log(1-p)` to its row's
    hazard and exits when the hazard exceeds its Exp(1) threshold
    (``ws.thresh``, ``ws.hazard``).
    """

    def __init__(self, plan: EscapePlan, ws, regime=None):
        super().__init__(ws, regime)
        xp = self.xp = ws.xp
        self.d, self.bridge = plan.dim, plan.bridge
        self.band, self.off, self.sg, self.ax = plan.band, plan.offset, plan.sign, plan.axis
        if plan.dim > 1 and plan.axis is None:
            self.e_vec = ws.xb.asarray(plan.normal)
            self.pbuf = xp.empty(ws.cap)
        self.thr, self.cmp = (self.off - self.band, xp.greater) if self.sg > 0 else (self.off + self.band, xp.less)
        self.neg_a, self.neg_b = -(2.0 / plan.var[0]), -(2.0 / plan.var[1])

    def project(self, x):
        """The coordinate along the normal: the array itself in 1-D, a view for an axis normal."""
        if self.d == 1:
            return x
        if self.ax is not None:
            return x[:, self.ax]
        return self.xp.matmul(x, self.e_vec, out=self.pbuf[:x.shape[0]])

    def beyond(self, x, rows):
        """Signed distance past the plane of some rows (host; negative inside)."""
        ax = self.ax
        p = x[rows] if self.d == 1 else (x[rows, ax] if ax is not None else x[rows] @ self.e_vec)
        if not self.on_cpu:
            p = self.xb.to_numpy(p)
        if self.off:
            p -= self.off
        return p if self.sg > 0 else -p

    def detect(self, c_old, c_new, mk, t):
        self.cmp(self.project(c_new), self.thr, out=mk)
        idx = self.flagged(mk)
        if not idx.size:
            return
        if not self.bridge:  # the mask is the crossing itself
            self.exit_rows(c_new, idx, t)
            return
        di = self.dev(idx)
        s_new = self.beyond(c_new, di)
        log_surv = bridge_log_survival(self.beyond(c_old, di), s_new, self.step_scale(di, self.neg_a, self.neg_b))
        self.add_hazard(c_new, idx, log_surv, s_new > -self.band, t)


class BoxExit(_BridgeExits):
    r"""Exit from the open box ``lo < y < hi`` (the start's basin on a separable landscape); with the
    bridge, also between steps, face by face.

    Each finite face is a plane normal to a coordinate axis, tested as :class:`PlaneExit` tests its
    plane: candidates are the rows within ``band_i`` (:data:`BAND` step widths of coordinate
    :math:`i`) of a face after the step, or before it (``prev``); a candidate adds
    :math:`-\sum_{\rm faces}\log(1-p_f)`, :math:`p_f = \exp(-2 d_n d_{n+1}/v_i)` with :math:`v_i` the
    step's variance along its axis, to its hazard. Without the bridge a candidate has left the box.
    """

    def __init__(self, plan: EscapePlan, ws, regime=None):
        super().__init__(ws, regime)
        xp = self.xp = ws.xp
        self.d, self.bridge = plan.dim, plan.bridge
        lo, hi = (np.asarray(a, dtype=np.float64) for a in plan.box)
        var_a, var_b = (np.asarray(a, dtype=np.float64) for a in plan.box_var)
        band = BAND * np.sqrt(np.maximum(var_a, var_b)) if plan.bridge else np.zeros(plan.dim)
        self.ax_lo, self.ax_hi = np.flatnonzero(np.isfinite(lo)), np.flatnonzero(np.isfinite(hi))
        self.lo, self.hi = lo, hi
        # near a face: y_i < lo_i + band_i or y_i > hi_i - band_i (inf where there is no face)
        self.in_lo_host, self.in_hi_host = lo + band, hi - band
        self.in_lo = ws.xb.asarray(lo + band) if self.ax_lo.size else None
        self.in_hi = ws.xb.asarray(hi - band) if self.ax_hi.size else None
        self.buf = xp.empty((ws.cap, plan.dim), dtype=bool)
        self.buf2 = xp.empty((ws.cap, plan.dim), dtype=bool) if self.ax_lo.size and self.ax_hi.size else None
        with np.errstate(divide="ignore"):  # a coordinate without noise: -inf, no crossing between steps
            self.neg_a, self.neg_b = -2.0 / var_a, -2.0 / var_b

    def near(self, x, out):
        """``out`` <- whether each row of ``x`` (shape (n, dim)) lies within the band of a face."""
        n = x.shape[0]
        b = self.buf[:n]
        if self.in_lo is None and self.in_hi is None:
            out[...] = False
            return out
        if self.in_lo is not None:
            self.xp.less(x, self.in_lo, out=b)
        if self.in_hi is not None:
            if self.in_lo is not None:
                self.xp.greater(x, self.in_hi, out=self.buf2[:n])
                b |= self.buf2[:n]
            else:
                self.xp.greater(x, self.in_hi, out=b)
        return self.xp.any(b, axis=1, out=out)

    def detect(self, c_old, c_new, mk, t):
        x_new = c_new if self.d > 1 else c_new[:, None]
        self.near(x_new, mk)
        idx = self.flagged(mk)
        if not idx.size:
            return
        if not self.bridge:  # the mask is the exit itself
            self.exit_rows(c_new, idx, t)
            return
        di = self.dev(idx)
        y0 = self.xb.to_numpy((c_old if self.d > 1 else c_old[:, None])[di])
        y1 = self.xb.to_numpy(x_new[di])
        neg = self.step_scale(di, self.neg_a, self.neg_b)
        neg = np.broadcast_to(neg, y0.shape)
        log_surv = np.zeros(idx.size)
        for axes, face, sg in ((self.ax_lo, self.lo, -1.0), (self.ax_hi, self.hi, 1.0)):
            if axes.size:  # signed distances past the faces, negative inside
                f = face[axes]
                ls = bridge_log_survival(sg * (y0[:, axes] - f), sg * (y1[:, axes] - f), neg[:, axes])
                log_surv += ls.sum(axis=1)
        near = np.any((y1 < self.in_lo_host) | (y1 > self.in_hi_host), axis=1)
        self.add_hazard(c_new, idx, log_surv, near, t)


# ----------------------------------------------------------------------------- the working set

class NoiseSchedule:
    """The step's normals: who draws them, and when.

    Rows are grouped by block: first the blocks with more than block_size/2
    rows, each filling its segment of ``z`` every step ("direct"), then the
    smaller ones ("pooled"), each drawing ``pool_k`` steps' normals in one call
    every ``pool_k`` steps into its columns of a ``(pool_k, rows)`` pool whose
    row for the step is copied into ``z``. Either way a block's stream serves
    its own rows in row order.
    """

    def __init__(self, xb, cap: int, shape: tuple, block_size: int, d: int):
        on_cpu = xb.xp is np
        self.xb, self.bs, self.d, self.tail = xb, block_size, d, shape[1:]
        self.fast_fill = on_cpu and type(xb).fill_normal is Backend.fill_normal
        self.pool_k = POOL_K if on_cpu else POOL_K_GPU
        self.pool = xb.xp.empty((self.pool_k,) + shape)
        self.scratch = xb.xp.empty(self.pool_k * (block_size // 2) * d)
        self.direct, self.pooled, self.p0 = [], [], 0

    def _filler(self, g):
        return g.standard_normal if self.fast_fill else partial(self.xb.fill_normal, g)

    def assign(self, gens, rows, starts, z):
        """Plan the draws for a layout: block j (generator ``gens[j]``) holds rows[j] rows from ``starts[j]`` of z."""
        n = z.shape[0]
        direct, pooled, p0 = [], [], n
        for j, (s, m) in enumerate(zip(starts.tolist(), rows)):
            if is_pooled(m, self.bs):
                p0 = min(p0, s)
                pooled.append((self._filler(gens[j]), s, m))
            else:
                direct.append((self._filler(gens[j]), z[s:s + m]))
        self.direct, self.pooled, self.p0 = direct, [(f, s - p0, m) for f, s, m in pooled], p0

    def draw(self, phase: int, z):
        """The step's normals at ``phase`` (steps since the layout's compaction): in ``z``, or a pool row."""
        for fill, out in self.direct:
            fill(out=out)
        if self.pooled:
            k = self.pool_k
            r = phase % k
            if r == 0:
                for fill, a, m in self.pooled:
                    part = self.scratch[:k * m * self.d]
                    fill(out=part)
                    self.pool[:, a:a + m] = part.reshape((k, m) + self.tail)
            n, p0 = z.shape[0], self.p0
            if p0:
                z[p0:] = self.pool[r, :n - p0]
            else:  # all pooled: the pool's row is the noise
                z = self.pool[r, :n]
        return z


class WorkingSet:
    """The walkers of a task advanced together: rows grouped by block, refilled from the task's next blocks.

    Device: positions ``cur``/``new`` (double-buffered: the step's start stays
    available for the bridge), noise ``z``, the exit ``mask``. Host: the walker
    index of each row (``ids``), with the bridge its Exp(1) threshold
    (``thresh``) and accumulated hazard (``hazard``); per block in the set, in
    row order, its generator, the step it joined and its row count.
    """

    def __init__(self, task: Task, bridge: bool):
        xb, plan = task.backend, task.plan
        xp = xb.xp
        self.xb, self.xp, self.on_cpu = xb, xp, xp is np
        self.bs, self.d, self.max_steps, self.bridge = xb.block_size, plan.dim, plan.max_steps, bridge
        self.root = np.random.SeedSequence(task.entropy, spawn_key=task.spawn_key)
        self.pending = list(range(task.block0, task.block1))
        self.first_walker, self.n_walkers = task.block0 * self.bs, task.n_walkers
        self.out_times = np.full(min(task.block1 * self.bs, task.n_walkers) - self.first_walker, -1, dtype=np.int64)
        cap = self.cap = min(task.chunk_blocks, len(self.pending)) * self.bs
        self.shape = (cap,) if plan.dim == 1 else (cap, plan.dim)
        self.cur, self.new, self.z = xp.empty(self.shape), xp.empty(self.shape), xp.empty(self.shape)
        self.mask = xp.empty(cap, dtype=bool)
        self.start = xb.asarray(plan.start if plan.dim > 1 else plan.start[0])
        self.ids, self.ids_tmp = np.empty(cap, dtype=np.int64), np.empty(cap, dtype=np.int64)
        self.thr_tmp, self.haz_tmp = np.empty(cap), np.empty(cap)
        self.thresh, self.hazard = (np.empty(cap), np.empty(cap)) if bridge else (None, None)
        self.gens, self.t0s, self.rows = [], [], []
        self.n = 0
        self.starts = np.zeros(0, dtype=np.int64)

    def retire(self, t: int, exits):
        """Record the period's exits, then mark the rows to drop: exited walkers, blocks whose clock ran out.

        Returns ``(keep, left)``: the row mask (None: keep all) and the rows left per block.
        """
        keep, n = None, self.n
        if n:
            if not math.isfinite(float(self.xp.sum(self.cur[:n]))):
                raise DomainError("walkers diverged (non-finite positions): the Euler step is unstable "
                                  "far from the minimum; reduce dt")
            rows, steps = exits.take()
            t0 = np.array(self.t0s, dtype=np.int64)
            if rows.size:
                steps -= t0[self.starts.searchsorted(rows, side="right") - 1]
                ok = steps <= self.max_steps  # exits after max_steps (before this drop): censored
                self.out_times[self.ids[rows[ok]]] = steps[ok]
                keep = np.ones(n, dtype=bool)
                keep[rows] = False
            expired = np.flatnonzero(t0 + self.max_steps <= t)
            if expired.size:
                keep = np.ones(n, dtype=bool) if keep is None else keep
                for j in expired.tolist():
                    keep[self.starts[j]:self.starts[j] + self.rows[j]] = False
        left = (np.array(self.rows, dtype=np.int64) if keep is None
                else np.add.reduceat(keep, self.starts, dtype=np.int64))
        return keep, left

    def admit(self, t: int, n_kept: int):
        """The next blocks that fit beside ``n_kept`` rows: ``([(generator, t, first index, rows)], n_kept)``."""
        joining = []
        while self.pending and n_kept + self.bs <= self.cap:
            b = self.pending.pop(0)
            s0 = b * self.bs - self.first_walker
            s1 = min((b + 1) * self.bs, self.n_walkers) - self.first_walker
            joining.append((self.xb.generator(derive(self.root, b)), t, s0, s1 - s0))
            n_kept += s1 - s0
        return joining, n_kept

    def _move_rows(self, src, at: int, newpos):
        """Kept rows ``src`` (in order) to rows ``at ..`` of the new layout."""
        m = src.size
        self.xp.take(self.cur, src if self.on_cpu else self.xb.asarray(src, dtype=np.int64), axis=0,
                     out=self.new[at:at + m])
        np.take(self.ids, src, out=self.ids_tmp[at:at + m])
        if self.bridge:
            np.take(self.thresh, src, out=self.thr_tmp[at:at + m])
            np.take(self.hazard, src, out=self.haz_tmp[at:at + m])
        newpos[src] = np.arange(at, at + m)

    def _new_rows(self, g, s0: int, m: int, at: int):
        """A joining block's walkers s0 .. s0 + m - 1 at the start, rows ``at ..``; the bridge thresholds first."""
        self.new[at:at + m] = self.start
        self.ids_tmp[at:at + m] = np.arange(s0, s0 + m)
        if self.bridge:  # the walkers' Exp(1) thresholds, first from the block's stream
            if self.on_cpu:
                self.xb.fill_gamma(g, 1.0, self.thr_tmp[at:at + m])
            else:
                e_dev = self.xp.empty(m)
                self.xb.fill_gamma(g, 1.0, e_dev)
                self.thr_tmp[at:at + m] = self.xb.to_numpy(e_dev)
            self.haz_tmp[at:at + m] = 0.0

    def relayout(self, keep, left, joining):
        """The new layout: blocks with many rows (kept, then joining), then the pooled ones (kept, then joining).

        Returns ``newpos``, the new row of each old row that is kept.
        """
        n, bs = self.n, self.bs
        kept = np.flatnonzero(keep) if keep is not None else np.arange(n)
        first_kept = np.cumsum(left) - left
        old = [j for j in range(left.size) if left[j]]
        groups = ([j for j in old if not is_pooled(int(left[j]), bs)],
                  [k for k in range(len(joining)) if not is_pooled(joining[k][3], bs)],
                  [j for j in old if is_pooled(int(left[j]), bs)],
                  [k for k in range(len(joining)) if is_pooled(joining[k][3], bs)])
        gens, t0s, sizes = [], [], []
        newpos = np.empty(n, dtype=np.int64)
        at = 0
        for g_i, group in enumerate(groups):
            if g_i % 2 == 0 and group:  # kept blocks: their rows, gathered at once
                src = np.concatenate([kept[first_kept[j]:first_kept[j] + left[j]] for j in group])
                self._move_rows(src, at, newpos)
                at += src.size
                for j in group:
                    gens.append(self.gens[j])
                    t0s.append(self.t0s[j])
                    sizes.append(int(left[j]))
            elif group:  # joining blocks start at the start point
                for k in group:
                    g, tj, s0, m = joining[k]
                    self._new_rows(g, s0, m, at)
                    gens.append(g)
                    t0s.append(tj)
                    sizes.append(m)
                    at += m
        self.ids[:at] = self.ids_tmp[:at]
        if self.bridge:
            self.thresh[:at], self.hazard[:at] = self.thr_tmp[:at], self.haz_tmp[:at]
        self.cur, self.new = self.new, self.cur
        self.gens, self.t0s, self.rows = gens, t0s, sizes
        self.n = at
        return newpos


def compact(ws: WorkingSet, exits, t: int) -> bool:
    """Every COMPACT steps: record exits, drop finished rows, admit blocks, re-lay out; False when nothing is left."""
    keep, left = ws.retire(t, exits)
    joining, n_kept = ws.admit(t, int(left.sum()))
    if n_kept == 0:
        return False
    turned = any(is_pooled(int(m), ws.bs) and not is_pooled(r, ws.bs) for m, r in zip(left, ws.rows) if m)
    if keep is not None or joining or turned:
        exits.remap(keep, ws.relayout(keep, left, joining))
    ws.starts = block_starts(ws.rows)
    return True


# ----------------------------------------------------------------------------- the loop

def run_task(task: Task) -> np.ndarray:
    """Advance the walkers of blocks [block0, block1); return their exit steps (-1: censored).

    The working set (at most ``chunk_blocks`` blocks' walkers) is advanced
    together. Blocks join only at a compaction, so every block's clock (steps
    since it joined) is a multiple of COMPACT at each drop, and what a block
    draws from its stream depends on its own walkers alone.
    """
    plan, xb = task.plan, task.backend
    plane, box = plan.exit != "valley", plan.exit == "valley" and plan.box is not None
    ws = WorkingSet(task, bridge=(plane or box) and plan.bridge)
    drift = PolyDrift(plan, xb) if plan.poly is not None else GradientDrift(plan, xb.xp, ws.cap)
    noise = make_noise(plan, xb, ws.cap, ws.shape)
    regime = noise.reg if isinstance(noise, RegimeNoise) else None
    exits = (PlaneExit(plan, ws, regime) if plane else BoxExit(plan, ws, regime) if box
             else ValleyExit(plan, ws))
    draws = NoiseSchedule(xb, ws.cap, ws.shape, ws.bs, plan.dim)
    t = 0
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        while True:
            if t % COMPACT == 0:
                if not compact(ws, exits, t):
                    break
                n = ws.n
                draws.assign(ws.gens, ws.rows, ws.starts, ws.z[:n])
                c_old, c_new, z, mk = ws.cur[:n], ws.new[:n], ws.z[:n], ws.mask[:n]
            zz = draws.draw(t % COMPACT, z)
            t += 1
            if noise is not None:
                noise(c_old, zz)
            drift(c_old, c_new, zz)
            exits.detect(c_old, c_new, mk, t)
            c_old, c_new = c_new, c_old
            ws.cur, ws.new = ws.new, ws.cur
    return ws.out_times
