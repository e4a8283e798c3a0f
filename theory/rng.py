"""Random streams: every random number the package draws starts here.

A seed (an int, a :class:`numpy.random.SeedSequence`, or ``None`` for fresh
entropy) becomes a root ``SeedSequence``. Work is cut into fixed *blocks* of
runs; block ``b`` of a task draws only from the child sequence at spawn key
``(..., b)``. The numbers a run receives therefore depend on the seed, the
task's key and the run's index, never on how blocks are grouped into chunks
or spread over workers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

__all__ = ["seed_sequence", "derive", "blocks"]


def seed_sequence(seed=None) -> np.random.SeedSequence:
    """A root ``SeedSequence`` from ``seed``: int >= 0, sequence of ints, SeedSequence, or None (fresh entropy)."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, (np.random.Generator, np.random.RandomState, np.random.BitGenerator)):
        raise TypeError("seed must be an int, a sequence of ints or a numpy.random.SeedSequence; "
                        "a Generator's stream cannot be split reproducibly across chunks and workers")
    refusal = f"seed must be an int >= 0, a sequence of ints or a SeedSequence; got {seed!r}"
    if isinstance(seed, (bool, np.bool_, float, complex, str, bytes)):
        raise TypeError(refusal)
    if seed is not None:
        arr = np.asarray(seed) if not isinstance(seed, (int, np.integer)) else None
        if arr is not None and arr.size and not (
                np.issubdtype(arr.dtype, np.integer) or arr.dtype == object and all(
                    isinstance(e, (int, np.integer)) and not isinstance(e, bool) for e in arr.ravel())):
            raise TypeError(refusal)
        if np.any(np.asarray(seed) < 0):
            raise ValueError(f"seed must be non-negative; got {seed!r}")
    try:
        return np.random.SeedSequence(seed)
    except (TypeError, ValueError):
        raise TypeError(refusal) from None


def _key(part) -> int:
    if isinstance(part, str):  # a stable 64-bit key (Python's hash() is salted per process)
        return int.from_bytes(hashlib.blake2b(part.encode(), digest_size=8).digest(), "little")
    return int(part)


def derive(seed, *path: int | str) -> np.random.SeedSequence:
    """The child of ``seed`` at spawn-key ``path`` (ints, or strings hashed stably).

    ``derive(s, "vgd.threshold", 3)`` is the same sequence in every process,
    whatever else was derived before it, unlike ``SeedSequence.spawn``.
    """
    root = seed_sequence(seed)
    return np.random.SeedSequence(root.entropy, spawn_key=tuple(root.spawn_key) + tuple(_key(p) for p in path),
                                  pool_size=root.pool_size)


def blocks(n_items: int, block_size: int) -> Sequence[tuple[int, int]]:
    """``[(start, stop), ...]`` cutting ``range(n_items)`` into blocks of ``block_size`` (last may be short)."""
    from ._validate import as_int
    n_items, block_size = as_int(n_items, "n_items", 0), as_int(block_size, "block_size", 1)
    return [(s, min(s + block_size, n_items)) for s in range(0, n_items, block_size)]
