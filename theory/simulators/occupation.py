r"""Monte Carlo twin of the minima-selection law: long-run occupation of each basin under SGLD.

The selection law says that, over long times, the dynamics is found in valley
:math:`a` with probability :math:`P_a = \tau_a / \sum_v \tau_v`
(:func:`theory.kramers.selection_probability`). Here many independent walkers
follow overdamped Langevin dynamics (Euler-Maruyama,
:math:`x \leftarrow x - \nabla L\,dt + \sqrt{2T\,dt}\,\xi`) for a long time, and
each walker's fraction of time spent in every basin (``landscape.basin``)
after a burn-in is one sample; the estimate is their mean with its standard
error (walkers are independent).

Reproducibility as in the other simulators: walkers in fixed blocks, block
``b`` draws from ``theory.rng.derive(seed, b)``, so chunking never changes a
number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import _validate as v
from ..backend import get_backend
from ..errors import DomainError
from ..rng import blocks, derive, seed_sequence
from ..stats import Estimate

__all__ = ["simulate_occupation", "OccupationRun"]

_CHUNK_WALKERS = 8192
_MAX_STEPS = 1e9


@dataclass(frozen=True)
class OccupationRun:
    """Result of :func:`simulate_occupation`.

    Attributes
    ----------
    labels : ndarray of int
        The basin labels seen (sorted).
    fractions : ndarray, shape (n_walkers, n_labels)
        Each walker's fraction of recorded steps spent in each basin.
    occupation : Estimate, shape (n_labels,)
        Mean fraction over walkers, with standard error.
    """

    labels: np.ndarray
    fractions: np.ndarray
    occupation: Estimate
    n_walkers: int
    steps: int
    burn_in_steps: int
    record_every: int
    entropy: int

    def probability(self, label) -> Estimate:
        """Occupation of the basin with this label (0 with no error if it was never visited)."""
        hit = np.flatnonzero(self.labels == label)
        if hit.size == 0:
            return Estimate(np.float64(0.0), np.float64(0.0), self.n_walkers)
        return self.occupation[int(hit[0])]


def simulate_occupation(landscape, *, temperature, dt, t_total, burn_in=0.0, start=None, n_walkers=1000,
                        record_every=10, seed=0, backend=None, chunk_walkers=None) -> OccupationRun:
    r"""Fraction of time spent in each basin by SGLD walkers after a burn-in.

    Parameters
    ----------
    landscape : theory.landscapes.Landscape
        Must implement ``basin``.
    temperature : float
        :math:`T > 0`.
    dt : float
        Euler-Maruyama step, > 0.
    t_total : float
        Simulated time after the burn-in (steps = round(t_total / dt)).
    burn_in : float, default 0
        Time discarded first, so that the start is forgotten.
    start : array_like, shape (dim,), optional
        Common starting point; default the lowest minimum.
    n_walkers : int, default 1000
    record_every : int, default 10
        Basins are read every this many steps (an unbiased sample of the
        time fraction, at a tenth of the cost).
    seed, backend, chunk_walkers
        As in :func:`theory.simulators.simulate_vgd`; chunking does not change the result.
    """
    xb = get_backend(backend)
    xp = xb.xp
    t = float(v.positive(v.scalar(temperature, "temperature"), "temperature"))
    dt = float(v.positive(v.scalar(dt, "dt"), "dt"))
    t_total = float(v.positive(v.scalar(t_total, "t_total"), "t_total"))
    burn_in = float(v.nonnegative(v.scalar(burn_in, "burn_in"), "burn_in", allow_inf=False))
    if t_total / dt > _MAX_STEPS or burn_in / dt > _MAX_STEPS:
        raise DomainError(f"t_total/dt and burn_in/dt must be at most {_MAX_STEPS:.0e} steps; got t_total={t_total!r}, "
                          f"burn_in={burn_in!r}, dt={dt!r}")
    steps = max(1, int(round(t_total / dt)))
    burn = int(round(burn_in / dt))
    n_walkers = v.as_int(n_walkers, "n_walkers", 2)
    if n_walkers > 10**9:
        raise DomainError(f"n_walkers must be at most 10**9; got {n_walkers}")
    every = v.as_int(record_every, "record_every", 1)
    for method in ("gradient", "basin", "minima"):
        if not callable(getattr(landscape, method, None)):
            raise TypeError(f"landscape must be a theory.landscapes.Landscape with {method}(); got "
                            f"{type(landscape).__name__}")
    d = landscape.dim
    x0 = np.asarray(landscape.minima()[0].x if start is None else v.finite(start, "start"), dtype=np.float64)
    if x0.shape != (d,):
        raise DomainError(f"start must have shape ({d},) to match the landscape; got {x0.shape}")
    gradient = getattr(landscape, "_step_gradient", landscape.gradient)
    basin = getattr(landscape, "_step_basin", landscape.basin)
    root = seed_sequence(seed)
    chunk = _CHUNK_WALKERS if chunk_walkers is None else (v.as_int(chunk_walkers, "chunk_walkers", 0) or _CHUNK_WALKERS)
    per_chunk = -(-chunk // xb.block_size)
    all_blocks = list(enumerate(blocks(n_walkers, xb.block_size)))
    scale = np.sqrt(2 * t * dt)

    counts = {}
    for c0 in range(0, len(all_blocks), per_chunk):
        group = all_blocks[c0:c0 + per_chunk]
        lo, hi = group[0][1][0], group[-1][1][1]
        n = hi - lo
        gens = [(xb.generator(derive(root, b)), s - lo, e - lo) for b, (s, e) in group]
        x = xp.empty((n, d))
        x[...] = xb.asarray(x0)
        z = xp.empty((n, d))
        g = xp.empty((n, d))
        seen = {}
        # a diverging walker is refused at the next record step, not warned about at each overflow
        with np.errstate(over="ignore", invalid="ignore"):
            for k in range(burn + steps):
                for gen, s, e in gens:
                    xb.fill_normal(gen, z[s:e])
                gradient(x, out=g)
                g *= dt
                x -= g
                z *= scale
                x += z
                if k >= burn and (k - burn) % every == 0:
                    if not math.isfinite(float(xp.sum(x))):
                        raise DomainError("walkers diverged (non-finite positions): the Euler step is unstable; "
                                          f"reduce dt (got {dt!r})")
                    lab = xb.to_numpy(basin(x))
                    for value in np.unique(lab).tolist():
                        acc = seen.setdefault(value, np.zeros(n, dtype=np.int64))
                        acc += lab == value
        for value, acc in seen.items():
            counts.setdefault(value, np.zeros(n_walkers, dtype=np.int64))[lo:hi] = acc
    labels = np.array(sorted(counts))
    records = len(range(0, steps, every))
    fractions = np.stack([counts[k] / records for k in labels], axis=1)
    mean = fractions.mean(axis=0)
    se = fractions.std(axis=0, ddof=1) / np.sqrt(n_walkers)
    return OccupationRun(labels, fractions, Estimate(mean, se, n_walkers), n_walkers, steps, burn, every,
                         root.entropy)
