r"""Fused CPU kernels (numba) of :func:`~theory.simulators.occupation.simulate_occupation`.

SGLD walkers on a landscape whose gradient is, coordinate by coordinate, the
cubic :math:`\partial_i L = c_3 x_i^3 + c_2 x_i^2 + c_1 x_i + c_0`, stepped by
Euler-Maruyama in the folded form

.. math:: x_{n+1} = x_n\,(A x_n^2 + B x_n + C) + E + s\,z_n ,
          \qquad A = -\Delta t\,c_3,\ B = -\Delta t\,c_2,\ C = 1 - \Delta t\,c_1,\
          E = -\Delta t\,c_0,\ s = \sqrt{2T\Delta t},

with the basin read every ``every`` steps after ``burn`` steps as
:math:`\sum_i 2^i\,[x_i > m_i]` (:math:`m_i` the barrier top of coordinate
:math:`i`). One pass draws, steps and counts; walkers come in blocks of
:data:`~theory.simulators._rng_kernels.BLOCK`, each block with its own
xoshiro256++ stream (:func:`~theory.simulators._rng_kernels.block_states`), one
thread per block: counts are bitwise identical for any thread count and any
split of the blocks into calls. Within a block the walkers go four at a time
(lanes), their draws interleaved, so that four independent steps hide the
latency of one.

Only the record steps matter: the steps after the last record are not taken.
Needs numba (``pip install "theory[numba]"``).
"""

from __future__ import annotations

import math

import numpy as np

from ._rng_kernels import BLOCK, block_states, normal

try:
    from numba import njit, prange
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("engine='numba' needs numba, an optional extra: pip install 'theory[numba]' "
                      "(or pip install 'numba>=0.60'); engine='numpy' needs nothing more") from exc

__all__ = ["BLOCK", "MAX_DIM", "occupation_counts"]

# Coordinates whose basins the n-D kernel counts: one count per walker and label, 2**dim labels.
MAX_DIM = 10


@njit(inline="always", fastmath={"contract"})
def _step(x, s0, s1, s2, s3, A, B, C, E, s):
    """One Euler-Maruyama step of one coordinate: (new x, new state)."""
    z, s0, s1, s2, s3 = normal(s0, s1, s2, s3)
    return x * ((A * x + B) * x + C) + (E + s * z), s0, s1, s2, s3


@njit(parallel=True, cache=True, fastmath={"contract"})
def _counts_1d(states, n, A, B, C, E, s, x0, cut, burn, records, every, right, bad):
    """Per walker of blocks [0, len(states)), the records with x > cut, into ``right``; ``bad[b]``: a
    non-finite position at a record step of block b."""
    for b in prange(states.shape[0]):
        s0, s1, s2, s3 = states[b, 0], states[b, 1], states[b, 2], states[b, 3]
        w1 = min((b + 1) * BLOCK, n)
        for w in range(b * BLOCK, w1, 4):
            vb, vc, vd = w + 1 < w1, w + 2 < w1, w + 3 < w1
            xa = xb = xc = xd = x0
            ca = cb = cc = cd = 0
            for k in range(burn + 1):  # the burn-in and the first recorded step
                xa, s0, s1, s2, s3 = _step(xa, s0, s1, s2, s3, A, B, C, E, s)
                xb, s0, s1, s2, s3 = _step(xb, s0, s1, s2, s3, A, B, C, E, s)
                xc, s0, s1, s2, s3 = _step(xc, s0, s1, s2, s3, A, B, C, E, s)
                xd, s0, s1, s2, s3 = _step(xd, s0, s1, s2, s3, A, B, C, E, s)
            for r in range(records):
                if r > 0:
                    for k in range(every):
                        xa, s0, s1, s2, s3 = _step(xa, s0, s1, s2, s3, A, B, C, E, s)
                        xb, s0, s1, s2, s3 = _step(xb, s0, s1, s2, s3, A, B, C, E, s)
                        xc, s0, s1, s2, s3 = _step(xc, s0, s1, s2, s3, A, B, C, E, s)
                        xd, s0, s1, s2, s3 = _step(xd, s0, s1, s2, s3, A, B, C, E, s)
                # lanes past the block's end still draw (a walker's numbers must not depend on how many
                # follow it) but are not tested
                tot = xa + (xb if vb else 0.0) + (xc if vc else 0.0) + (xd if vd else 0.0)
                if not math.isfinite(tot):
                    bad[b] = True
                    break
                ca += xa > cut
                cb += xb > cut
                cc += xc > cut
                cd += xd > cut
            right[w] = ca
            if vb:
                right[w + 1] = cb
            if vc:
                right[w + 2] = cc
            if vd:
                right[w + 3] = cd


@njit(parallel=True, cache=True, fastmath={"contract"})
def _counts_nd(states, n, A, B, C, E, s, x0, cut, burn, records, every, counts, bad):
    """Per walker of blocks [0, len(states)) and label, the records in that basin, into ``counts``
    (n, 2**dim); ``bad`` as in :func:`_counts_1d`. One walker at a time, its coordinates in turn."""
    d = x0.size
    for b in prange(states.shape[0]):
        s0, s1, s2, s3 = states[b, 0], states[b, 1], states[b, 2], states[b, 3]
        x = np.empty(d)
        for w in range(b * BLOCK, min((b + 1) * BLOCK, n)):
            for i in range(d):
                x[i] = x0[i]
            for r in range(records):
                for k in range((burn + 1) if r == 0 else every):
                    for i in range(d):
                        x[i], s0, s1, s2, s3 = _step(x[i], s0, s1, s2, s3, A[i], B[i], C[i], E[i], s)
                label = 0
                total = 0.0
                for i in range(d):
                    total += x[i]
                    label |= np.int64(x[i] > cut[i]) << i
                if not math.isfinite(total):
                    bad[b] = True
                    break
                counts[w, label] += 1


def occupation_counts(root, n_walkers: int, *, poly, scale: float, x0, cut, burn: int, records: int, every: int,
                      block0: int, block1: int):
    """Record counts per walker and label for the walkers of blocks [block0, block1) of ``root``.

    ``poly``: (A, B, C, E), each shape (dim,), of the folded step; ``scale``: :math:`\\sqrt{2T\\Delta t}`;
    ``x0``, ``cut``: shape (dim,). Returns ``(counts, diverged)``: int64 counts of shape (walkers, 2**dim),
    column ``label``; ``diverged`` is True if a walker reached a non-finite position at a record step.
    """
    states = block_states(root, block1 - block0, block0)
    first = block0 * BLOCK
    n = min(block1 * BLOCK, n_walkers) - first
    A, B, C, E = (np.ascontiguousarray(a, dtype=np.float64) for a in poly)
    x0 = np.ascontiguousarray(x0, dtype=np.float64)
    cut = np.ascontiguousarray(cut, dtype=np.float64)
    bad = np.zeros(block1 - block0, dtype=np.bool_)
    if x0.size == 1:
        right = np.zeros(n, dtype=np.int64)
        _counts_1d(states, n, A[0], B[0], C[0], E[0], float(scale), x0[0], cut[0], burn, records, every, right, bad)
        counts = np.stack([records - right, right], axis=1)
    else:
        counts = np.zeros((n, 1 << x0.size), dtype=np.int64)
        _counts_nd(states, n, A, B, C, E, float(scale), x0, cut, burn, records, every, counts, bad)
    return counts, bool(bad.any())
