r"""Fused CPU kernels (numba) of the simulators: escape in 1-D and n-D, and VGD on a quadratic.

Each kernel draws the noise and takes the step in one pass, one thread per
block of :data:`~theory.simulators._rng_kernels.BLOCK` walkers (runs), each
block with its own xoshiro256++ stream (:mod:`theory.simulators._rng_kernels`):
results are bitwise identical for any number of threads, ``chunk_walkers`` /
``chunk_runs`` and executor, and agree in distribution with the NumPy engine.
Needs numba (``pip install "theory[numba]"``).

Escape (:func:`escape_times`, for
:func:`~theory.simulators.escape.simulate_escape`): per coordinate, in the
internal units of the plan,

.. math:: y_{n+1} = y_n (A y_n^2 + B y_n + C) + E + s(y_n)\,z_n ,

:math:`s` the noise scale of the regime at the step's start (Ito), until the
walker crosses the exit plane (normal to a coordinate axis) or reaches
``max_steps``. Brownian-bridge correction (Gobet, Stoch. Proc. Appl. 87, 2000):
a walker exits when its survival product :math:`\prod_j (1 - p_j)`,
:math:`p_j = \exp(-2 d_j d_{j+1}/v)`, falls below its uniform threshold, the
law of the NumPy engine's Exp(1) threshold against the hazard
:math:`-\sum_j \log(1-p_j)`. ``exit="valley"`` where the start's basin is a
box :math:`l_i < y_i < u_i` (:func:`_escape_box`): the same test for every
finite face, the product over coordinates and steps, :math:`v` the variance of
the face's coordinate in the step's regime. Landscapes outside this form, and
valleys that are not boxes, raise DomainError.

VGD (:func:`vgd_block_moments`): :math:`\theta \leftarrow \theta - \eta\,
\frac{1}{N_s}\sum_k \Lambda(\theta + \epsilon_k)` in the eigenbasis of the
quadratic, Gaussian or Student-t :math:`\epsilon_k`; per-step moments per block.

A process that has run a parallel kernel under GNU OpenMP must not ``fork``:
give a ``ProcessPoolExecutor`` a "spawn" or "forkserver" context.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import DomainError
from ._escape_common import BAND, Q_MIN
from ._rng_kernels import (BLOCK, block_states, gamma, normal, set_threads, standard_exponential, standard_gamma,
                           standard_normal, uniform)

try:
    from numba import njit, prange
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("engine='numba' needs numba, an optional extra: pip install 'theory[numba]' "
                      "(or pip install 'numba>=0.60'); engine='numpy' needs nothing more") from exc

__all__ = ["BLOCK", "Q_MIN", "block_states", "escape_times", "regime_split", "vgd_block_moments", "standard_normal",
           "standard_exponential", "standard_gamma", "set_threads"]

# ----------------------------------------------------------------------------- escape


@njit(inline="always", fastmath={"contract"})
def _advance(x, s0, s1, s2, s3, A, B, C, E, mode, s_out, ds, lo, hi, q4, q3, q2, q1, level):
    """One Euler step of a 1-D walker: (new x, m, state); m = 1.0 inside the regime of ``s_out + ds``, else 0.0.

    mode 0: one noise scale; 1: inside means lo < x < hi; 2: inside means loss(x) < level.
    """
    z, s0, s1, s2, s3 = normal(s0, s1, s2, s3)
    if mode == 0:
        return x * ((A * x + B) * x + C) + E + z * s_out, 1.0, s0, s1, s2, s3
    if mode == 1:
        m = np.float64((x > lo) & (x < hi))
    else:
        m = np.float64((((q4 * x + q3) * x + q2) * x + q1) * x < level)
    z *= s_out + ds * m  # arithmetic, not a branch: the regime changes often near its boundary
    return x * ((A * x + B) * x + C) + E + z, m, s0, s1, s2, s3


@njit(inline="always", fastmath={"contract"})
def _survive(S, x, xn, m, sign, offset, sc_out, dsc, sc_in, sc_exact):
    """The survival product after a step from x to xn tested against the plane: S (1 - p), p = exp(q) (0 if crossed)."""
    sc = (sc_out + dsc * m) if sc_exact else (sc_in if m != 0.0 else sc_out)
    q = sc * (sign * (x - offset)) * (sign * (xn - offset))  # -2 d_n d_{n+1} / var
    if not q < 0.0:  # crossed (or on the plane)
        return 0.0
    if q > Q_MIN:
        return S * -math.expm1(q)  # 1 - p to full relative precision
    return S


@njit(inline="always", fastmath={"contract"})
def _tested(e, near, S, x, xn, m, thr, bridge, sign, offset, sc_out, dsc, sc_in, sc_exact):
    """(survival product, done) after a step; tested only within the band at either end (band 0: the crossing)."""
    if not (e | near):
        return S, False
    if not bridge:
        return S, True
    S = _survive(S, x, xn, m, sign, offset, sc_out, dsc, sc_in, sc_exact)
    return S, S < thr


@njit(inline="always", fastmath={"contract"})
def _four_lanes(lx, ly, lh, lt, lnear, lthr, ldone, lm, s0, s1, s2, s3, step, test, max_steps):
    """Four busy lanes, one step of each in turn, their state in registers, until one is done or the
    oldest reaches max_steps; the lanes' state back to the arrays (ly, ldone, lm: the last step's
    end, done flag, end within the band). Returns the stream's state.

    ``step``: (A, B, C, E, mode, s_out, ds, lo, hi, q4, q3, q2, q1, level) of :func:`_advance`; ``test``: (edge, bridge, sign, offset, sc_out, dsc, sc_in, sc_exact).
    """
    A, B, C, E, mode, s_out, ds, lo, hi, q4, q3, q2, q1, level = step
    edge, bridge, sign, offset, sc_out, dsc, sc_in, sc_exact = test
    xa, xb, xc, xd = lx[0], lx[1], lx[2], lx[3]
    ha, hb, hc, hd = lh[0], lh[1], lh[2], lh[3]
    ta, tb, tc, td = lt[0], lt[1], lt[2], lt[3]
    na, nb, nc, nd = lnear[0], lnear[1], lnear[2], lnear[3]
    ra, rb, rc, rd = lthr[0], lthr[1], lthr[2], lthr[3]
    left = max_steps - max(ta, tb, tc, td)  # rounds until the oldest walker reaches max_steps
    while True:
        ya, ma, s0, s1, s2, s3 = _advance(xa, s0, s1, s2, s3, A, B, C, E, mode, s_out, ds, lo, hi, q4, q3, q2,
                                          q1, level)
        yb, mb, s0, s1, s2, s3 = _advance(xb, s0, s1, s2, s3, A, B, C, E, mode, s_out, ds, lo, hi, q4, q3, q2,
                                          q1, level)
        yc, mc, s0, s1, s2, s3 = _advance(xc, s0, s1, s2, s3, A, B, C, E, mode, s_out, ds, lo, hi, q4, q3, q2,
                                          q1, level)
        yd, md, s0, s1, s2, s3 = _advance(xd, s0, s1, s2, s3, A, B, C, E, mode, s_out, ds, lo, hi, q4, q3, q2,
                                          q1, level)
        left -= 1
        ea = sign * ya > edge
        eb = sign * yb > edge
        ec = sign * yc > edge
        ed = sign * yd > edge
        ha, da = _tested(ea, na, ha, xa, ya, ma, ra, bridge, sign, offset, sc_out, dsc, sc_in, sc_exact)
        hb, db = _tested(eb, nb, hb, xb, yb, mb, rb, bridge, sign, offset, sc_out, dsc, sc_in, sc_exact)
        hc, dc = _tested(ec, nc, hc, xc, yc, mc, rc, bridge, sign, offset, sc_out, dsc, sc_in, sc_exact)
        hd, dd = _tested(ed, nd, hd, xd, yd, md, rd, bridge, sign, offset, sc_out, dsc, sc_in, sc_exact)
        if da | db | dc | dd | (left == 0):
            break
        xa, xb, xc, xd = ya, yb, yc, yd
        na, nb, nc, nd = ea, eb, ec, ed
    steps = max_steps - max(ta, tb, tc, td) - left  # rounds taken, the last one included
    lx[0], lx[1], lx[2], lx[3] = xa, xb, xc, xd
    ly[0], ly[1], ly[2], ly[3] = ya, yb, yc, yd
    lh[0], lh[1], lh[2], lh[3] = ha, hb, hc, hd
    lt[0], lt[1], lt[2], lt[3] = ta + steps, tb + steps, tc + steps, td + steps
    ldone[0], ldone[1], ldone[2], ldone[3] = da, db, dc, dd
    lm[0], lm[1], lm[2], lm[3] = ea, eb, ec, ed
    return s0, s1, s2, s3


@njit(inline="always", fastmath={"contract"})
def _turn_lanes(lw, lx, ly, lh, lt, lnear, lthr, ldone, lm, nxt, w1, bridge, x0, near0, max_steps, out, s0, s1, s2,
                s3):
    """After :func:`_four_lanes`: finished lanes record their walker's exit step (-1: censored) and take the
    block's next walker (its uniform threshold drawn first); the others move on to the step's end. Once no
    walker is left to take, the busy lanes are compacted to the front.

    Returns (next walker, whether all four lanes are still busy, whether a finished walker diverged, state).
    """
    busy = True
    bad = False
    for l in range(4):
        if ldone[l] or lt[l] == max_steps:
            out[lw[l]] = lt[l] if ldone[l] else -1
            if not math.isfinite(ly[l]):
                bad = True
            if nxt < w1:
                if bridge:
                    u, s0, s1, s2, s3 = uniform(s0, s1, s2, s3)
                    lthr[l] = 1.0 - u
                lw[l] = nxt
                nxt += 1
            else:
                lw[l] = -1
                busy = False
            lx[l] = x0
            lh[l] = 1.0
            lnear[l] = near0
            lt[l] = 0
        else:
            lx[l] = ly[l]
            lnear[l] = lm[l]
    if not busy:  # the tail: compact the busy lanes to the front
        k = 0
        for l in range(4):
            if lw[l] >= 0:
                lw[k], lx[k], lh[k], lthr[k], lnear[k], lt[k] = lw[l], lx[l], lh[l], lthr[l], lnear[l], lt[l]
                k += 1
        for l in range(k, 4):
            lw[l] = -1
    return nxt, busy, bad, s0, s1, s2, s3


@njit(inline="always", fastmath={"contract"})
def _walk_alone(x, h, near, t, thr, s0, s1, s2, s3, step, test, max_steps):
    """One walker from step t (position x, survival product h) to its exit or max_steps (``step``, ``test``:
    as in :func:`_four_lanes`). Returns (exit step or -1, the last position, state).
    """
    A, B, C, E, mode, s_out, ds, lo, hi, q4, q3, q2, q1, level = step
    edge, bridge, sign, offset, sc_out, dsc, sc_in, sc_exact = test
    while True:
        y, m, s0, s1, s2, s3 = _advance(x, s0, s1, s2, s3, A, B, C, E, mode, s_out, ds, lo, hi, q4, q3, q2, q1,
                                        level)
        t += 1
        e = sign * y > edge
        h, done = _tested(e, near, h, x, y, m, thr, bridge, sign, offset, sc_out, dsc, sc_in, sc_exact)
        if done or t == max_steps:
            return (t if done else -1), y, s0, s1, s2, s3
        x, near = y, e


@njit(cache=True, fastmath={"contract"})
def _walk_1d(w0, w1, s0, s1, s2, s3, A, B, C, E, mode, s_out, s_in, lo, hi, q4, q3, q2, q1, level, sign, offset,
             band, bridge, sc_out, sc_in, x0, max_steps, out):
    """Walkers w0 .. w1 - 1 (indices into out) from one stream; True if any diverged.

    Four walkers advance side by side (:func:`_four_lanes`); a lane whose walker
    exits or reaches max_steps takes the block's next walker (:func:`_turn_lanes`).
    The last three walkers finish one at a time (:func:`_walk_alone`).
    """
    ds = s_in - s_out
    sc_exact = math.isfinite(sc_in) and math.isfinite(sc_out)  # a * 0 + b == b exactly for finite a, b
    dsc = (sc_in - sc_out) if sc_exact else 0.0
    near0 = sign * (x0 - offset) > -band
    edge = sign * offset - band  # within the band: sign * x > edge
    lw = np.full(4, -1, dtype=np.int64)  # the lane's walker, -1: idle
    lx = np.full(4, x0)
    lh = np.ones(4)  # survival products
    lthr = np.zeros(4)
    lnear = np.full(4, near0)
    lt = np.zeros(4, dtype=np.int64)
    ly = np.empty(4)
    ldone = np.zeros(4, dtype=np.bool_)
    lm = np.zeros(4, dtype=np.bool_)
    nxt = w0
    for l in range(4):
        if nxt < w1:
            if bridge:  # the walker's threshold for the survival product
                u, s0, s1, s2, s3 = uniform(s0, s1, s2, s3)
                lthr[l] = 1.0 - u
            lw[l] = nxt
            nxt += 1
    bad = False
    step = (A, B, C, E, mode, s_out, ds, lo, hi, q4, q3, q2, q1, level)
    test = (edge, bridge, sign, offset, sc_out, dsc, sc_in, sc_exact)
    busy = lw[3] >= 0  # lanes are filled in order
    while busy:
        s0, s1, s2, s3 = _four_lanes(lx, ly, lh, lt, lnear, lthr, ldone, lm, s0, s1, s2, s3, step, test, max_steps)
        nxt, busy, diverged, s0, s1, s2, s3 = _turn_lanes(lw, lx, ly, lh, lt, lnear, lthr, ldone, lm, nxt, w1,
                                                          bridge, x0, near0, max_steps, out, s0, s1, s2, s3)
        if diverged:
            bad = True
    for l in range(3):  # at most three walkers left, one at a time
        if lw[l] < 0:
            continue
        t_exit, y, s0, s1, s2, s3 = _walk_alone(lx[l], lh[l], lnear[l], lt[l], lthr[l], s0, s1, s2, s3, step, test,
                                                max_steps)
        out[lw[l]] = t_exit
        if not math.isfinite(y):
            bad = True
    return bad


@njit(parallel=True, cache=True)
def _escape_1d(states, first_walker, n_walkers, bs, A, B, C, E, mode, s_out, s_in, lo, hi, q4, q3, q2, q1, level,
               sign, offset, band, bridge, sc_out, sc_in, x0, max_steps, out, bad):
    """1-D walkers of blocks [0, len(states)) (walker indices from ``first_walker``); exit step or -1 into out."""
    nb = states.shape[0]
    for b in prange(nb):
        w0 = b * bs
        w1 = min(first_walker + w0 + bs, n_walkers) - first_walker
        bad[b] = _walk_1d(w0, w1, states[b, 0], states[b, 1], states[b, 2], states[b, 3], A, B, C, E, mode, s_out,
                          s_in, lo, hi, q4, q3, q2, q1, level, sign, offset, band, bridge, sc_out, sc_in, x0,
                          max_steps, out)


@njit(parallel=True, cache=True)
def _escape_nd(states, first_walker, n_walkers, bs, A, B, C, E, regime, sigma, s_a, s_b, q4, q3, q2, q1, level,
               axis, sign, offset, band, bridge, sc_a, sc_b, x0, max_steps, out, bad):
    """n-D separable walkers, exit plane normal to coordinate ``axis``; as :func:`_escape_1d`."""
    nb = states.shape[0]
    d = x0.size
    for b in prange(nb):
        s0, s1, s2, s3 = states[b, 0], states[b, 1], states[b, 2], states[b, 3]
        x = np.empty(d)
        w0 = first_walker + b * bs
        w1 = min(w0 + bs, n_walkers)
        for w in range(w0, w1):
            thr = 1.0
            if bridge:
                u, s0, s1, s2, s3 = uniform(s0, s1, s2, s3)
                thr = 1.0 - u
            for i in range(d):
                x[i] = x0[i]
            h = 1.0  # the survival product
            near = sign * (x[axis] - offset) > -band
            t_exit = -1
            side_a = True
            for t in range(1, max_steps + 1):
                if regime:
                    loss = 0.0
                    for i in range(d):
                        xi = x[i]
                        loss += (((q4[i] * xi + q3[i]) * xi + q2[i]) * xi + q1[i]) * xi
                    side_a = loss < level
                xo = x[axis]
                for i in range(d):
                    z, s0, s1, s2, s3 = normal(s0, s1, s2, s3)
                    if regime:
                        z *= s_a[i] if side_a else s_b[i]
                    else:
                        z *= sigma
                    xi = x[i]
                    x[i] = xi * ((A[i] * xi + B[i]) * xi + C[i]) + E[i] + z
                bn = sign * (x[axis] - offset)
                if bn > -band or near:
                    if not bridge:
                        t_exit = t
                        break
                    q = (sc_a if side_a else sc_b) * (sign * (xo - offset)) * bn
                    if not q < 0.0:
                        h = 0.0
                    elif q > Q_MIN:
                        h *= -math.expm1(q)
                    if h < thr:
                        t_exit = t
                        break
                near = bn > -band
            out[w - first_walker] = t_exit
            for i in range(d):
                if not math.isfinite(x[i]):
                    bad[b] = True


@njit(inline="always", fastmath={"contract"})
def _faces(h, qa, qb):
    """The survival product after a step tested against a coordinate's two faces: h (1 - p_a)(1 - p_b),
    p = e^q, q = -2 d_n d_{n+1} / v (0 if a face is crossed; a factor with q <= Q_MIN dropped)."""
    if not (qa < 0.0 and qb < 0.0):  # crossed (or on a face, or not finite)
        return 0.0
    if qa > Q_MIN:
        h *= -math.expm1(qa)
    if qb > Q_MIN:
        h *= -math.expm1(qb)
    return h


@njit(inline="always", fastmath={"contract"})
def _box_walk(x, thr, s0, s1, s2, s3, A, B, C, E, regime, sigma, s_a, s_b, q4, q3, q2, q1, level, lo, hi, bridge,
              sc_a, sc_b, max_steps):
    """One walker from ``x`` (updated in place) until it leaves the box lo < x < hi or reaches max_steps.

    Every coordinate's step is tested against both of its faces (the bridge's survival product, or
    without the bridge the step's end). Returns (exit step or -1, state).
    """
    d = x.size
    h = 1.0  # the survival product (without the bridge: 1 inside, 0 once out)
    side_a = True
    for t in range(1, max_steps + 1):
        if regime:
            loss = 0.0
            for i in range(d):
                xi = x[i]
                loss += (((q4[i] * xi + q3[i]) * xi + q2[i]) * xi + q1[i]) * xi
            side_a = loss < level
        for i in range(d):
            z, s0, s1, s2, s3 = normal(s0, s1, s2, s3)
            if regime:
                z *= s_a[i] if side_a else s_b[i]
                sc = sc_a[i] if side_a else sc_b[i]
            else:
                z *= sigma
                sc = sc_a[i]
            xi = x[i]
            xn = xi * ((A[i] * xi + B[i]) * xi + C[i]) + E[i] + z
            x[i] = xn
            if bridge:  # a face at infinity gives q = -inf
                qa = sc * (xi - lo[i]) * (xn - lo[i])
                qb = sc * (xi - hi[i]) * (xn - hi[i])
                if not (qa <= Q_MIN and qb <= Q_MIN):  # rare: a step near a face (or across it)
                    h = _faces(h, qa, qb)
            elif not ((xn > lo[i]) & (xn < hi[i])):
                h = 0.0
        if h < thr:
            return t, s0, s1, s2, s3
    return -1, s0, s1, s2, s3


@njit(parallel=True, cache=True)
def _escape_box(states, first_walker, n_walkers, bs, A, B, C, E, regime, sigma, s_a, s_b, q4, q3, q2, q1, level,
                lo, hi, bridge, sc_a, sc_b, x0, max_steps, out, bad):
    """n-D separable walkers leaving the box lo < x < hi (exit="valley"); as :func:`_escape_nd`."""
    nb = states.shape[0]
    d = x0.size
    for b in prange(nb):
        s0, s1, s2, s3 = states[b, 0], states[b, 1], states[b, 2], states[b, 3]
        x = np.empty(d)
        w0 = first_walker + b * bs
        w1 = min(w0 + bs, n_walkers)
        for w in range(w0, w1):
            thr = 1.0
            if bridge:  # the walker's threshold for the survival product, first from the stream
                u, s0, s1, s2, s3 = uniform(s0, s1, s2, s3)
                thr = 1.0 - u
            for i in range(d):
                x[i] = x0[i]
            t_exit, s0, s1, s2, s3 = _box_walk(x, thr, s0, s1, s2, s3, A, B, C, E, regime, sigma, s_a, s_b, q4, q3,
                                               q2, q1, level, lo, hi, bridge, sc_a, sc_b, max_steps)
            out[w - first_walker] = t_exit
            for i in range(d):
                if not math.isfinite(x[i]):
                    bad[b] = True


def _vec(a, d):
    """A float or per-coordinate vector as a contiguous float64 vector of length d."""
    return np.ascontiguousarray(np.broadcast_to(np.asarray(a, dtype=np.float64), (d,)))


def _escape_args(plan):
    """Check that the plan is the kernels' form; return its parameters as kernel arguments."""
    if plan.exit == "valley" and plan.box is None:
        raise DomainError("engine='numba' supports exit='valley' where the start's basin is a box bounded by "
                          "coordinate planes (a landscape whose gradient is, coordinate by coordinate, a cubic "
                          "polynomial of that coordinate, e.g. DoubleWell, StyblinskiTang); use engine='numpy' "
                          "for exit='valley' here")
    if plan.poly is None:
        raise DomainError("engine='numba' needs a landscape whose gradient is, coordinate by coordinate, a cubic "
                          "polynomial of that coordinate (e.g. DoubleWell, StyblinskiTang); use engine='numpy'")
    if plan.exit != "valley" and plan.axis is None:
        raise DomainError("engine='numba' needs an exit plane normal to a coordinate axis; use engine='numpy'")
    if plan.noise == "regime" and (not plan.diag or plan.quartic is None):
        raise DomainError("engine='numba' needs a diagonal diffusion matrix; use engine='numpy'")
    d = plan.dim
    regime = plan.noise == "regime"
    A, B, C, E = (_vec(a, d) for a in plan.poly)
    if regime:
        s_a, s_b = _vec(plan.s_a, d), _vec(plan.s_b, d)
        q4, q3, q2, q1 = (_vec(a, d) for a in plan.quartic)
    else:
        s_a = s_b = q4 = q3 = q2 = q1 = np.zeros(d)
    if plan.exit == "valley":
        return _box_args(plan, A, B, C, E, regime, s_a, s_b, q4, q3, q2, q1)
    sc_a = -2.0 / plan.var[0]
    sc_b = -2.0 / plan.var[1]
    args = dict(d=d, A=A, B=B, C=C, E=E, regime=regime, sigma=float(plan.sigma), s_a=s_a, s_b=s_b, q4=q4, q3=q3,
                q2=q2, q1=q1, level=float(plan.level), axis=int(plan.axis), sign=float(plan.sign),
                offset=float(plan.offset), band=float(plan.band), bridge=bool(plan.bridge), sc_a=sc_a, sc_b=sc_b,
                x0=_vec(plan.start, d), max_steps=int(plan.max_steps))
    if d == 1:
        args.update(regime_split(args))
    return args


def _box_args(plan, A, B, C, E, regime, s_a, s_b, q4, q3, q2, q1) -> dict:
    """The box kernel's arguments: the faces and, per coordinate, -2 / (the step's variance) in each regime."""
    d = plan.dim
    with np.errstate(divide="ignore"):  # a coordinate without noise: -inf, no crossing between steps
        sc_a, sc_b = (-2.0 / _vec(var, d) for var in plan.box_var)
    return dict(d=d, box=True, A=A, B=B, C=C, E=E, regime=regime, sigma=float(plan.sigma), s_a=s_a, s_b=s_b, q4=q4,
                q3=q3, q2=q2, q1=q1, level=float(plan.level), lo=_vec(plan.box[0], d), hi=_vec(plan.box[1], d),
                bridge=bool(plan.bridge), sc_a=sc_a, sc_b=sc_b, x0=_vec(plan.start, d), max_steps=int(plan.max_steps))


def regime_split(args) -> dict:
    """The 1-D kernel's regime test: one noise scale, an interval, or the loss polynomial.

    Walkers live on the start's side of the exit plane (a step that crosses it
    ends the walk), so only the roots of ``loss(x) = level`` on that side
    matter. Where they split that side into at most three pieces alternating
    between the regimes (one regime, or ``lo < x < hi`` inside and the other
    outside), the test is the interval's two comparisons; the roots are
    polished to the last bit by Newton's method, so the interval and the
    polynomial disagree only within rounding of a root. Otherwise (more roots)
    the kernel evaluates the polynomial. Returns ``mode`` (0 one scale, 1
    interval, 2 polynomial), ``s_in``/``s_out``, ``sc_in``/``sc_out``,
    ``lo``/``hi``, and the ``band`` of :func:`_narrow_band`.
    """
    if not args["regime"]:
        return dict(mode=0, s_in=args["sigma"], s_out=args["sigma"], sc_in=args["sc_a"], sc_out=args["sc_a"],
                    lo=-math.inf, hi=math.inf, band=args["band"])
    a = dict(s_in=float(args["s_a"][0]), s_out=float(args["s_b"][0]), sc_in=args["sc_a"], sc_out=args["sc_b"])
    c = np.array([args["q4"][0], args["q3"][0], args["q2"][0], args["q1"][0], -args["level"]])

    def below(x):  # the polynomial as the kernel (and the NumPy path) computes it
        x = np.asarray(x, dtype=np.float64)
        return (((c[0] * x + c[1]) * x + c[2]) * x + c[3]) * x < args["level"]

    sign, off = args["sign"], args["offset"]
    nz = np.flatnonzero(c[:4] != 0)
    roots = np.roots(c[nz[0]:]) if nz.size else np.empty(0)
    roots = np.sort(roots.real[np.abs(roots.imag) <= 1e-9 * (1.0 + np.abs(roots.real))])
    dp = np.polyder(c)
    for _ in range(4):  # Newton polish; a vanishing slope (a double root) keeps the estimate
        slope = np.polyval(dp, roots)
        step = np.divide(np.polyval(c, roots), slope, out=np.zeros_like(roots), where=slope != 0)
        roots = roots - step
    roots = np.sort(roots[sign * (roots - off) < 0])
    lo_side, hi_side = (-math.inf, off) if sign > 0 else (off, math.inf)
    edges = np.concatenate([[lo_side], roots, [hi_side]])
    probes = []
    for e0, e1 in zip(edges[:-1], edges[1:]):
        probes.append(e1 - 1.0 - abs(e1) if not np.isfinite(e0) else e0 + 1.0 + abs(e0) if not np.isfinite(e1)
                      else 0.5 * (e0 + e1))
    pieces = [bool(b) for b in below(probes)]
    cuts = [float(edges[i + 1]) for i in range(len(pieces) - 1) if pieces[i] != pieces[i + 1]]
    runs = [pieces[0]] + [pieces[i + 1] for i in range(len(pieces) - 1) if pieces[i] != pieces[i + 1]]
    if len(runs) == 1:  # one regime on this side
        s = a["s_in"] if runs[0] else a["s_out"]
        sc = a["sc_in"] if runs[0] else a["sc_out"]
        return dict(mode=0, s_in=s, s_out=s, sc_in=sc, sc_out=sc, lo=-math.inf, hi=math.inf,
                    band=_narrow_band(args["band"], sc, sc, math.inf))
    if len(runs) > 3:
        return dict(mode=2, lo=-math.inf, hi=math.inf, band=args["band"], **a)
    # inside (lo, hi): the regime of the piece that touches neither end (3 runs) or the right one (2 runs)
    if len(runs) == 3:
        lo, hi, inside = cuts[0], cuts[1], runs[1]
    else:
        lo, hi, inside = cuts[0], math.inf, runs[1]
    if not inside:  # swap so that "in" is the regime inside the interval
        a = dict(s_in=a["s_out"], s_out=a["s_in"], sc_in=a["sc_out"], sc_out=a["sc_in"])
    # the regime in force at the plane, and how far the other one stays from it
    if (hi >= off) if sign > 0 else (lo <= off):
        sc_p, sc_o, far = a["sc_in"], a["sc_out"], (off - lo) if sign > 0 else (hi - off)
    else:
        sc_p, sc_o, far = a["sc_out"], a["sc_in"], (off - hi) if sign > 0 else (lo - off)
    return dict(mode=1, lo=lo, hi=hi, band=_narrow_band(args["band"], sc_p, sc_o, far), **a)


def _narrow_band(band, sc_p, sc_o, far):
    r"""The band of step widths of the regime in force at the plane, where that drops no tested step.

    A tested step adds to the hazard only when :math:`q = -2 d_n d_{n+1}/v > Q_{\min} = -2\cdot 3^2`.
    With both ends beyond :math:`3\sqrt{v_p}` (:math:`v_p` the variance of the regime at the plane),
    a step of that regime has :math:`q < Q_{\min}`; a step from the other regime, which starts at
    least ``far`` from the plane, has too when ``far`` :math:`\ge 3 v_o/\sqrt{v_p}`. Then the
    narrower band tests exactly the steps that count; otherwise the plan's band is kept.
    """
    if not (math.isfinite(sc_p) and math.isfinite(sc_o) and sc_p < 0 and sc_o < 0):
        return band
    v_p, v_o = -2.0 / sc_p, -2.0 / sc_o
    if far >= BAND * v_o / math.sqrt(v_p):
        return min(band, BAND * math.sqrt(v_p))
    return band


def _escape_chunk(args, entropy, spawn_key, n_walkers, block0, block1):
    """Exit steps (-1: censored) of the walkers of blocks [block0, block1)."""
    root = np.random.SeedSequence(entropy, spawn_key=spawn_key)
    states = block_states(root, block1 - block0, block0)
    w0 = block0 * BLOCK
    out = np.empty(min(block1 * BLOCK, n_walkers) - w0, dtype=np.int64)
    bad = np.zeros(block1 - block0, dtype=np.bool_)
    a = args
    if a.get("box"):
        _escape_box(states, w0, n_walkers, BLOCK, a["A"], a["B"], a["C"], a["E"], a["regime"], a["sigma"], a["s_a"],
                    a["s_b"], a["q4"], a["q3"], a["q2"], a["q1"], a["level"], a["lo"], a["hi"], a["bridge"], a["sc_a"],
                    a["sc_b"], a["x0"], a["max_steps"], out, bad)
    elif a["d"] == 1:
        _escape_1d(states, w0, n_walkers, BLOCK, a["A"][0], a["B"][0], a["C"][0], a["E"][0], a["mode"],
                   a["s_out"], a["s_in"], a["lo"], a["hi"], a["q4"][0], a["q3"][0], a["q2"][0], a["q1"][0],
                   a["level"], a["sign"], a["offset"], a["band"], a["bridge"], a["sc_out"], a["sc_in"], a["x0"][0],
                   a["max_steps"], out, bad)
    else:
        _escape_nd(states, w0, n_walkers, BLOCK, a["A"], a["B"], a["C"], a["E"], a["regime"], a["sigma"], a["s_a"],
                   a["s_b"], a["q4"], a["q3"], a["q2"], a["q1"], a["level"], a["axis"], a["sign"], a["offset"],
                   a["band"], a["bridge"], a["sc_a"], a["sc_b"], a["x0"], a["max_steps"], out, bad)
    if bad.any():
        raise DomainError("walkers diverged (non-finite positions): the Euler step is unstable far from the "
                          "minimum; reduce dt")
    return out


def escape_times(plan, root, n_walkers: int, *, chunk_walkers=None, executor=None) -> np.ndarray:
    """Per walker, the step of its exit (-1: censored), for :func:`~theory.simulators.escape.simulate_escape`."""
    args = _escape_args(plan)
    n_blocks = -(-n_walkers // BLOCK)
    if chunk_walkers is None:
        per = n_blocks
    else:
        per = max(1, -(-int(chunk_walkers) // BLOCK))
    spans = [(b0, min(b0 + per, n_blocks)) for b0 in range(0, n_blocks, per)]
    ent, key = root.entropy, tuple(root.spawn_key)
    if executor is None:
        parts = [_escape_chunk(args, ent, key, n_walkers, b0, b1) for b0, b1 in spans]
    else:
        futures = [executor.submit(_escape_chunk, args, ent, key, n_walkers, b0, b1) for b0, b1 in spans]
        parts = [f.result() for f in futures]
    return np.concatenate(parts)


# ----------------------------------------------------------------------------- VGD

@njit(parallel=True, cache=True)
def _vgd(states, first_run, n_runs, bs, lam, mean0, lr, sigma, n_samples, dof, init_std, n_steps, means, m2s):
    """Runs of blocks [0, len(states)) from ``first_run``; per-block two-pass moments into means/m2s.

    means, m2s: (2, n_blocks, n_steps + 1, P + 1); quantity 0 the loss per direction (and total,
    the last column), 1 its change since step 0.
    """
    nb = states.shape[0]
    p = lam.size
    student = math.isfinite(dof)
    shape = dof / 2.0
    t_scale = sigma * math.sqrt(dof / 2.0) if student else sigma
    inv_ns = 1.0 / n_samples
    for b in prange(nb):
        s0, s1, s2, s3 = states[b, 0], states[b, 1], states[b, 2], states[b, 3]
        r0 = first_run + b * bs
        m = min(bs, n_runs - r0)
        theta = np.empty((m, p))
        cur = np.empty((m, p + 1))
        l0 = np.empty((m, p + 1))
        acc = np.empty(p)
        for r in range(m):
            for i in range(p):
                theta[r, i] = mean0[i]
        if init_std > 0.0:
            for r in range(m):
                for i in range(p):
                    z, s0, s1, s2, s3 = normal(s0, s1, s2, s3)
                    theta[r, i] += init_std * z
        for t in range(n_steps + 1):
            if t > 0:
                for r in range(m):
                    if sigma > 0.0:  # the gradient at each perturbed point m + e_k, then their average
                        for i in range(p):
                            acc[i] = 0.0
                        for k in range(n_samples):
                            for i in range(p):
                                z, s0, s1, s2, s3 = normal(s0, s1, s2, s3)
                                if student:  # e = sigma Z / sqrt(2G/nu), G ~ Gamma(nu/2)
                                    g, s0, s1, s2, s3 = gamma(shape, s0, s1, s2, s3)
                                    e = t_scale * z / math.sqrt(g)
                                else:
                                    e = t_scale * z
                                acc[i] += lam[i] * (theta[r, i] + e)
                        for i in range(p):
                            theta[r, i] -= lr * (acc[i] * inv_ns)
                    else:
                        for i in range(p):
                            theta[r, i] -= lr * (lam[i] * theta[r, i])
            for r in range(m):
                tot = 0.0
                for i in range(p):
                    li = 0.5 * lam[i] * theta[r, i] * theta[r, i]
                    if li != li:  # an overflowed run (inf - inf): the loss is its limit
                        li = 0.0 if lam[i] == 0.0 else math.copysign(math.inf, lam[i])
                    cur[r, i] = li
                    tot += li
                cur[r, p] = tot
                if t == 0:
                    for j in range(p + 1):
                        l0[r, j] = cur[r, j]
            for j in range(p + 1):  # two passes over the block's runs
                s_l = 0.0
                s_c = 0.0
                for r in range(m):
                    s_l += cur[r, j]
                    s_c += cur[r, j] - l0[r, j]
                mu_l = s_l / m
                mu_c = s_c / m
                q_l = 0.0
                q_c = 0.0
                for r in range(m):
                    a = cur[r, j] - mu_l
                    c = (cur[r, j] - l0[r, j]) - mu_c
                    q_l += a * a
                    q_c += c * c
                means[0, b, t, j] = mu_l
                means[1, b, t, j] = mu_c
                m2s[0, b, t, j] = q_l
                m2s[1, b, t, j] = q_c


def _vgd_chunk(lam, mean0, lr, sigma, n_samples, dof, init_std, n_steps, entropy, spawn_key, n_runs, block0, block1):
    root = np.random.SeedSequence(entropy, spawn_key=spawn_key)
    nb = block1 - block0
    states = block_states(root, nb, block0)
    means = np.empty((2, nb, n_steps + 1, lam.size + 1))
    m2s = np.empty_like(means)
    _vgd(states, block0 * BLOCK, n_runs, BLOCK, lam, mean0, float(lr), float(sigma), int(n_samples), float(dof),
         float(init_std), int(n_steps), means, m2s)
    return means, m2s


def vgd_block_moments(eigvals, mean_proj, *, lr, sigma, n_samples, dof, n_steps, n_runs, init_std, root,
                      chunk_runs=None, executor=None):
    """[(loss Moments, change Moments) per block, in block order] for :func:`~theory.simulators.simulate_vgd`.

    ``eigvals``, ``mean_proj``: the loss in its eigenbasis (diagonal Q).
    """
    from ..stats import Moments

    lam = np.ascontiguousarray(eigvals, dtype=np.float64)
    mean0 = np.ascontiguousarray(mean_proj, dtype=np.float64)
    n_blocks = -(-n_runs // BLOCK)
    per = n_blocks if chunk_runs is None else max(1, -(-int(chunk_runs) // BLOCK))
    spans = [(b0, min(b0 + per, n_blocks)) for b0 in range(0, n_blocks, per)]
    common = (lam, mean0, lr, sigma, n_samples, dof, init_std, n_steps, root.entropy, tuple(root.spawn_key), n_runs)
    if executor is None:
        parts = [_vgd_chunk(*common, b0, b1) for b0, b1 in spans]
    else:
        futures = [executor.submit(_vgd_chunk, *common, b0, b1) for b0, b1 in spans]
        parts = [f.result() for f in futures]
    out = []
    for (b0, b1), (means, m2s) in zip(spans, parts):
        for j in range(b1 - b0):
            n = min((b0 + j + 1) * BLOCK, n_runs) - (b0 + j) * BLOCK
            out.append((Moments(n, means[0, j], m2s[0, j]), Moments(n, means[1, j], m2s[1, j])))
    return out
