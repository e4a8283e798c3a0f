r"""Random numbers inside numba kernels: xoshiro256++, ziggurat normals, exponential and gamma variates, streams.

Generator: **xoshiro256++** (Blackman and Vigna, *Scrambled linear
pseudorandom number generators*, ACM TOMS 47, 2021), 256 bits of state held in
four ``uint64`` that every draw takes and returns (the kernels keep them in
registers). Variates:

- standard normals by the 256-layer **ziggurat** of Marsaglia and Tsang (*The
  ziggurat method for generating random variables*, J. Stat. Softw. 5, 2000)
  in the 52-bit form of NumPy's ``Generator.standard_normal``: one 64-bit draw
  (8 bits pick the layer, 1 the sign, 52 the abscissa); the wedges use one
  uniform and an ``exp``, the tail beyond :math:`r = 3.654\ldots` Marsaglia's
  exponential rejection;
- :math:`U \sim \mathcal U[0, 1)` with 53 random bits; Exp(1) as :math:`-\log(1-U)`;
- Gamma(shape >= 1, 1) by Marsaglia and Tsang's squeeze method (ACM TOMS 26, 2000).

Streams: work is cut into blocks of :data:`BLOCK` walkers (runs); block ``b``
of a root ``SeedSequence`` starts from
``theory.rng.derive(root, "numba", b).generate_state(4, numpy.uint64)``
(:func:`block_states`), so what a walker receives depends on the seed, its
block and its place in the block alone.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import DomainError
from ..rng import derive, seed_sequence

try:
    import numba
    from numba import njit, prange
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("engine='numba' needs numba, an optional extra: pip install 'theory[numba]' "
                      "(or pip install 'numba>=0.60'); engine='numpy' needs nothing more") from exc

__all__ = ["BLOCK", "ZIG_R", "next_u64", "uniform", "normal", "gamma", "block_states", "set_threads",
           "standard_normal", "standard_exponential", "standard_gamma"]

# Walkers (runs) per random stream. Fixed: results depend on it (never on threads or chunks).
BLOCK = 1024

# ----------------------------------------------------------------------------- ziggurat tables

ZIG_R = 3.6541528853610088  # right edge of the base layer (256 layers)
_ZIG_V = 0.00492867323399  # area of every layer under exp(-x^2/2)


def _ziggurat_tables():
    """ki (int64), wi, fi for 256 layers and a 52-bit abscissa, as in Marsaglia and Tsang (2000)."""
    m = 2.0**52
    ki = np.zeros(256, dtype=np.int64)
    wi = np.zeros(256)
    fi = np.zeros(256)
    dn = tn = ZIG_R
    q = _ZIG_V / math.exp(-0.5 * dn * dn)
    ki[0] = int(dn / q * m)
    ki[1] = 0
    wi[0] = q / m
    wi[255] = dn / m
    fi[0] = 1.0
    fi[255] = math.exp(-0.5 * dn * dn)
    for i in range(254, 0, -1):
        dn = math.sqrt(-2.0 * math.log(_ZIG_V / dn + math.exp(-0.5 * dn * dn)))
        ki[i + 1] = int(dn / tn * m)
        tn = dn
        fi[i] = math.exp(-0.5 * dn * dn)
        wi[i] = dn / m
    return ki, wi, fi


_KI, _WI, _FI = _ziggurat_tables()
_WI2 = np.concatenate([_WI, -_WI])  # index + 256: the negative half

_U9 = np.uint64(9)
_U11 = np.uint64(11)
_U17 = np.uint64(17)
_MASK9 = np.uint64(0x1FF)
_MASK52 = np.uint64(0x000FFFFFFFFFFFFF)
_R23L, _R23R = np.uint64(23), np.uint64(64 - 23)
_R45L, _R45R = np.uint64(45), np.uint64(64 - 45)
_TWO_M53 = 2.0**-53
_INV_R = 1.0 / ZIG_R

# ----------------------------------------------------------------------------- generator (inlined)


@njit(inline="always")
def next_u64(s0, s1, s2, s3):
    """xoshiro256++: (output, new state)."""
    a = s0 + s3
    r = ((a << _R23L) | (a >> _R23R)) + s0
    t = s1 << _U17
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = (s3 << _R45L) | (s3 >> _R45R)
    return r, s0, s1, s2, s3


@njit(inline="always")
def uniform(s0, s1, s2, s3):
    """U on [0, 1), 53 random bits: (u, new state)."""
    r, s0, s1, s2, s3 = next_u64(s0, s1, s2, s3)
    return np.float64(r >> _U11) * _TWO_M53, s0, s1, s2, s3


@njit(inline="always")
def _layer(r):
    """A 64-bit draw to the ziggurat's candidate: (x, layer, whether x lies inside the layer's rectangle).

    Bits 0-7 pick the layer, bit 8 the sign (folded into the table: no branch),
    bits 9-60 the abscissa (an int64, converted to float in one instruction).
    """
    j = np.intp(r & _MASK9)
    rabs = np.int64((r >> _U9) & _MASK52)
    idx = j & 0xFF
    return np.float64(rabs) * _WI2[j], idx, rabs < _KI[idx]


@njit
def _normal_slow(idx, x, s0, s1, s2, s3):
    """The ziggurat's rare branches (about 1 % of draws): wedge test, tail, or a fresh draw."""
    while True:
        if idx == 0:  # the tail beyond r: Marsaglia's exponential rejection
            while True:
                u1, s0, s1, s2, s3 = uniform(s0, s1, s2, s3)
                u2, s0, s1, s2, s3 = uniform(s0, s1, s2, s3)
                xx = -_INV_R * math.log1p(-u1)
                yy = -math.log1p(-u2)
                if yy + yy > xx * xx:
                    return (-(ZIG_R + xx) if x < 0 else ZIG_R + xx), s0, s1, s2, s3
        u, s0, s1, s2, s3 = uniform(s0, s1, s2, s3)
        if (_FI[idx - 1] - _FI[idx]) * u + _FI[idx] < math.exp(-0.5 * x * x):
            return x, s0, s1, s2, s3
        # rejected: a fresh draw
        r, s0, s1, s2, s3 = next_u64(s0, s1, s2, s3)
        x, idx, inside = _layer(r)
        if inside:
            return x, s0, s1, s2, s3


@njit(inline="always")
def normal(s0, s1, s2, s3):
    """A standard normal by the ziggurat, (z, new state): one 64-bit draw and a table look-up about 99 % of the time."""
    r, s0, s1, s2, s3 = next_u64(s0, s1, s2, s3)
    x, idx, inside = _layer(r)
    if inside:
        return x, s0, s1, s2, s3
    return _normal_slow(idx, x, s0, s1, s2, s3)


@njit(inline="always")
def gamma(shape, s0, s1, s2, s3):
    """Gamma(shape, 1), shape >= 1, (g, new state): Marsaglia and Tsang's squeeze method."""
    d = shape - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        v = -1.0
        x = 0.0
        while v <= 0.0:
            x, s0, s1, s2, s3 = normal(s0, s1, s2, s3)
            v = 1.0 + c * x
        v = v * v * v
        u, s0, s1, s2, s3 = uniform(s0, s1, s2, s3)
        u = 1.0 - u  # on (0, 1]
        if u < 1.0 - 0.0331 * (x * x) * (x * x):
            return d * v, s0, s1, s2, s3
        if math.log(u) < 0.5 * x * x + d * (1.0 - v + math.log(v)):
            return d * v, s0, s1, s2, s3


# ----------------------------------------------------------------------------- streams

def block_states(root, n_blocks: int, first: int = 0) -> np.ndarray:
    """(n_blocks, 4) uint64: the xoshiro256++ state of blocks ``first .. first + n_blocks - 1`` of ``root``."""
    out = np.empty((n_blocks, 4), dtype=np.uint64)
    for j in range(n_blocks):
        out[j] = derive(root, "numba", first + j).generate_state(4, np.uint64)
        if not out[j].any():  # the one forbidden state (probability 2**-256)
            out[j, 0] = 1
    return out


def set_threads(n: int | None) -> int:
    """``numba.set_num_threads(n)`` (None: all); returns the previous count. Results do not depend on it."""
    old = numba.get_num_threads()
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS if n is None else int(n))
    return old


@njit(parallel=True, cache=True)
def _fill(states, per_block, kind, shape, out):
    nb = states.shape[0]
    n = out.size
    for b in prange(nb):
        s0, s1, s2, s3 = states[b, 0], states[b, 1], states[b, 2], states[b, 3]
        for i in range(b * per_block, min((b + 1) * per_block, n)):
            if kind == 0:
                v, s0, s1, s2, s3 = normal(s0, s1, s2, s3)
            elif kind == 1:
                u, s0, s1, s2, s3 = uniform(s0, s1, s2, s3)
                v = -math.log1p(-u)
            else:
                v, s0, s1, s2, s3 = gamma(shape, s0, s1, s2, s3)
            out[i] = v


def _draw(kind, shape, n, seed, per_block):
    n = int(n)
    nb = max(1, -(-n // per_block))
    out = np.empty(n)
    _fill(block_states(seed_sequence(seed), nb), per_block, kind, float(shape), out)
    return out


def standard_normal(n: int, seed=0, *, per_block: int = 1 << 20) -> np.ndarray:
    """``n`` standard normals from the kernels' generator, ``per_block`` from each block's stream."""
    return _draw(0, 1.0, n, seed, per_block)


def standard_exponential(n: int, seed=0, *, per_block: int = 1 << 20) -> np.ndarray:
    """``n`` Exp(1) variates from the kernels' generator."""
    return _draw(1, 1.0, n, seed, per_block)


def standard_gamma(shape: float, n: int, seed=0, *, per_block: int = 1 << 20) -> np.ndarray:
    """``n`` Gamma(shape, 1) variates (shape >= 1) from the kernels' generator."""
    if not shape >= 1.0:
        raise DomainError(f"shape must be >= 1; got {shape!r}")
    return _draw(2, shape, n, seed, per_block)
