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

Engines: ``"numpy"`` (the array loop, any backend and any landscape with a
``basin``) and ``"numba"`` (the fused kernel of
:mod:`theory.simulators._occupation_kernel`: draw, step and count in one pass,
one xoshiro256++ stream per block of walkers, parallel over blocks, the same
numbers for any thread count and ``chunk_walkers``). The compiled engine takes
landscapes whose gradient is, coordinate by coordinate, a cubic with two minima
(:class:`~theory.landscapes.DoubleWell`, :class:`~theory.landscapes.StyblinskiTang`)
and whose basins are cut at each coordinate's barrier top,
:math:`\sum_i 2^i [x_i > m_i]`; :math:`m_i` is found from the cubic's middle
root, then pinned to the last bit by bisection on ``landscape.basin`` and the
rule checked against it, so both engines label a point alike.
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
from ._escape_common import separable_cubic

__all__ = ["simulate_occupation", "OccupationRun"]

_CHUNK_WALKERS = 8192
_MAX_STEPS = 1e9
_ENGINES = ("numpy", "numba")
# The compiled engine's default chunk: its counts (walkers x 2**dim labels, int64) within 64 MiB.
_NUMBA_CHUNK_BYTES = 1 << 26


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
                        record_every=10, seed=0, backend=None, chunk_walkers=None, engine="numpy") -> OccupationRun:
    r"""Fraction of time spent in each basin by SGLD walkers after a burn-in.

    Each walker follows :math:`x \leftarrow x - \nabla L(x)\,\Delta t + \sqrt{2T\Delta t}\,\xi`,
    :math:`\xi \sim \mathcal N(0, I)`; after ``burn_in`` its basin is read every
    ``record_every`` steps, and its fraction of records in each basin is one sample.

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
    engine : {"numpy", "numba"}, default "numpy"
        ``"numpy"``: the array loop on ``backend`` (the reference). ``"numba"``:
        the fused compiled kernel on the CPU (:mod:`theory.simulators._occupation_kernel`,
        the optional extra ``theory[numba]``), parallel over blocks of walkers on
        ``numba.get_num_threads()`` threads; results independent of the thread
        count and ``chunk_walkers``, different numbers from the NumPy engine, the
        same law. Coordinate-wise cubic gradients with two minima per coordinate
        and at most :data:`~theory.simulators._occupation_kernel.MAX_DIM`
        coordinates (module notes); DomainError otherwise and on a GPU backend.

    Returns
    -------
    OccupationRun
    """
    engine = v.choice(engine, "engine", _ENGINES)
    xb = get_backend(backend)
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
    root = seed_sequence(seed)
    chunk = None if chunk_walkers is None else (v.as_int(chunk_walkers, "chunk_walkers", 0) or None)
    if engine == "numba":
        if xb.xp is not np:
            raise DomainError(f"engine='numba' runs on the CPU; got backend {xb.name!r} (use engine='numpy' there)")
        counts = _numba_counts(landscape, x0, t, dt, burn, steps, every, root, n_walkers, chunk)
    else:
        counts = _numpy_counts(landscape, xb, x0, t, dt, burn, steps, every, root, n_walkers,
                               _CHUNK_WALKERS if chunk is None else chunk)
    labels = np.array(sorted(counts))
    records = len(range(0, steps, every))
    fractions = np.stack([counts[k] / records for k in labels], axis=1)
    mean = fractions.mean(axis=0)
    se = fractions.std(axis=0, ddof=1) / np.sqrt(n_walkers)
    return OccupationRun(labels, fractions, Estimate(mean, se, n_walkers), n_walkers, steps, burn, every,
                         root.entropy)


def _diverged(dt):
    return DomainError(f"walkers diverged (non-finite positions): the Euler step is unstable; reduce dt (got {dt!r})")


def _numpy_counts(landscape, xb, x0, t, dt, burn, steps, every, root, n_walkers, chunk) -> dict:
    """{label: records in that basin per walker (int64, n_walkers)} from the array loop."""
    xp = xb.xp
    d = landscape.dim
    gradient = getattr(landscape, "_step_gradient", landscape.gradient)
    basin = getattr(landscape, "_step_basin", landscape.basin)
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
                        raise _diverged(dt)
                    lab = xb.to_numpy(basin(x))
                    for value in np.unique(lab).tolist():
                        acc = seen.setdefault(value, np.zeros(n, dtype=np.int64))
                        acc += lab == value
        for value, acc in seen.items():
            counts.setdefault(value, np.zeros(n_walkers, dtype=np.int64))[lo:hi] = acc
    return counts


def _numba_counts(landscape, x0, t, dt, burn, steps, every, root, n_walkers, chunk) -> dict:
    """{label: records in that basin per walker} from the fused kernel (labels never seen left out)."""
    from . import _occupation_kernel as kern  # numba is imported only here

    d = int(landscape.dim)
    if d > kern.MAX_DIM:
        raise DomainError(f"engine='numba' counts the basins of at most {kern.MAX_DIM} coordinates "
                          f"(2**dim labels per walker); got dim={d}; use engine='numpy'")
    coef = separable_cubic(landscape, x0)
    if coef is None:
        raise DomainError("engine='numba' needs a landscape whose gradient is, coordinate by coordinate, a cubic "
                          "polynomial of that coordinate (e.g. DoubleWell, StyblinskiTang); use engine='numpy'")
    cut = _basin_cuts(landscape, coef, x0)
    c3, c2, c1, c0 = coef
    poly = (-dt * c3, -dt * c2, 1.0 - dt * c1, -dt * c0)
    scale = float(np.sqrt(2 * t * dt))
    records = len(range(0, steps, every))
    n_blocks = -(-n_walkers // kern.BLOCK)
    per = (max(1, _NUMBA_CHUNK_BYTES // (8 * kern.BLOCK << d)) if chunk is None else -(-chunk // kern.BLOCK))
    counts = {}
    for b0 in range(0, n_blocks, per):
        b1 = min(b0 + per, n_blocks)
        part, bad = kern.occupation_counts(root, n_walkers, poly=poly, scale=scale, x0=x0, cut=cut, burn=burn,
                                           records=records, every=every, block0=b0, block1=b1)
        if bad:
            raise _diverged(dt)
        lo = b0 * kern.BLOCK
        for label in np.flatnonzero(part.any(axis=0)).tolist():
            counts.setdefault(label, np.zeros(n_walkers, dtype=np.int64))[lo:lo + part.shape[0]] = part[:, label]
    return counts


def _cubic_roots(coef):
    """Per coordinate the three real roots ascending, shape (dim, 3), Newton-polished; None unless every
    coordinate's cubic rises (c3 > 0) through three distinct real roots (two minima and a barrier top)."""
    out = []
    for c in coef.T:
        if not c[0] > 0:
            return None
        r = np.roots(c)
        if np.any(np.abs(r.imag) > 1e-9 * (1.0 + np.abs(r.real))):
            return None
        r = np.sort(r.real)
        for _ in range(4):  # Newton polish; a vanishing slope keeps the estimate
            slope = np.polyval(np.polyder(c), r)
            r = r - np.divide(np.polyval(c, r), slope, out=np.zeros(3), where=slope != 0)
        r = np.sort(r)
        if not (r[0] < r[1] < r[2]):
            return None
        out.append(r)
    return np.array(out)


def _basin_cuts(landscape, coef, x0):
    r"""The barrier top :math:`m_i` of every coordinate, such that ``landscape.basin`` is :math:`\sum_i 2^i [x_i > m_i]`.

    The cubic's middle root, then pinned by bisection on ``landscape.basin`` (one
    coordinate moved at a time from ``x0``) to the largest float on the left
    side; the rule is then checked against ``landscape.basin`` at random points
    around the roots and next to each cut. DomainError (use engine='numpy') otherwise.
    """
    refusal = ("engine='numba' needs basins cut at each coordinate's barrier top, landscape.basin(x) = "
               "sum_i 2**i [x_i > m_i] (e.g. DoubleWell, StyblinskiTang); use engine='numpy'")
    roots = _cubic_roots(coef)
    if roots is None:
        raise DomainError("engine='numba' needs every coordinate's gradient cubic to have two minima and a barrier "
                          "top between them (e.g. DoubleWell, StyblinskiTang); use engine='numpy'")
    d = roots.shape[0]
    eye = np.arange(d)

    def along(vals):  # label of x0 with coordinate i set to vals[i], for every i
        pts = np.tile(x0, (d, 1))
        pts[eye, eye] = vals
        return np.asarray(landscape.basin(pts)).reshape(d)

    width = 0.5 * np.minimum(roots[:, 1] - roots[:, 0], roots[:, 2] - roots[:, 1])
    lo, hi = roots[:, 1] - width, roots[:, 1] + width
    left = along(lo)
    if np.any(along(hi) == left):
        raise DomainError(refusal)
    for _ in range(2100):  # bisection on floats: ends within one ulp (at most ~2100 halvings from any width)
        mid = lo + 0.5 * (hi - lo)
        open_ = (mid != lo) & (mid != hi)
        if not open_.any():
            break
        is_left = along(mid) == left
        lo = np.where(open_ & is_left, mid, lo)
        hi = np.where(open_ & ~is_left, mid, hi)
    span = roots[:, 2] - roots[:, 0]
    pts = np.random.default_rng(20210408).uniform(roots[:, 0] - span, roots[:, 2] + span, (256, d))
    near = np.repeat(x0[None], 2 * d, axis=0)
    near[eye, eye] = lo
    near[d + eye, eye] = hi
    pts = np.concatenate([pts, near])
    rule = (pts > lo).astype(np.int64) @ np.left_shift(np.int64(1), np.arange(d, dtype=np.int64))
    if not np.array_equal(np.asarray(landscape.basin(pts)).reshape(-1), rule):
        raise DomainError(refusal)
    return lo
