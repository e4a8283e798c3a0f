"""Validation and entry variance of the minibatch-Hessian noise model, shared by the formulas and the simulator.

The noise matrix of :mod:`theory.batch_size` has off-diagonal variance
:math:`v = \\sigma^2(1/B - 1/N)` (:math:`\\sigma^2/B` for :math:`N = \\infty`).
"""

from __future__ import annotations

import numpy as np

from . import _validate as v
from .errors import DomainError

__all__ = ["batch_and_data", "entry_variance", "noise_inputs", "scaled_noise"]

_TINY = np.finfo(float).tiny


def batch_and_data(batch_size, n_data, *, allow_inf: bool):
    """``(B, N)`` as float arrays, ``N = None`` for an infinite data set; ``1 <= B <= N``."""
    b = v.as_float(batch_size, "batch_size")
    v.require(b, b >= 1, "batch_size", ">= 1")
    if n_data is None:
        if not allow_inf:
            v.require(b, np.isfinite(b), "batch_size", "finite")
        return b, None
    n = v.integer_at_least(n_data, "n_data", 1)
    v.require(b, np.isfinite(b), "batch_size", "finite when n_data is given")
    v.broadcast_together(batch_size=b, n_data=n)
    b_, n_ = np.broadcast_arrays(b, n)
    if np.any(b_ > n_):
        i = np.argmax(b_ > n_)
        raise DomainError(f"batch_size must be <= n_data; got batch_size {float(b_.flat[i])!r} > "
                          f"n_data {float(n_.flat[i])!r}")
    return b, n


def entry_variance(b, n, sigma):
    """sigma**2 (1/B - 1/N), formed as sigma**2 (N - B) / (B N) (no cancellation); sigma**2/B for N = inf."""
    # out of the float range only where scaled_noise takes over
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        if n is None:
            return sigma * sigma / b  # B = inf gives 0
        return sigma * sigma * ((n - b) / (b * n))


def _in_range(*xs):
    """True where every intermediate is a finite normal number (so the direct formula kept its accuracy)."""
    ok = True
    for x in xs:
        ax = np.abs(x)
        ok = ok & np.isfinite(ax) & (ax >= _TINY)
    return ok


def scaled_noise(b, n, sigma, var, factor=None, *, sqrt_of=None):
    r"""``sqrt(var * sqrt_of) * factor``, i.e. :math:`\sigma\sqrt{w(1/B - 1/N)}\,c`, at every scale.

    The direct form ``sqrt(sqrt_of * var) * factor`` (``var`` from
    :func:`entry_variance`) is used wherever all its intermediates are normal
    floats; elsewhere (``B N`` or :math:`\sigma^2` overflowing, the variance
    underflowing) the magnitudes are factored out,

    .. math:: \sigma\Big(\sqrt w\,\frac{\sqrt{(N - B)/N}}{\sqrt B}\,c\Big),

    whose bracket has no intermediate outside the float range, so the result
    over- or underflows only where the exact value does. ``sqrt_of`` is
    :math:`w` (default 1), ``factor`` is :math:`c` (default 1).
    """
    w = 1.0 if sqrt_of is None else sqrt_of
    c = 1.0 if factor is None else factor
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        direct = np.sqrt(w * var) if sqrt_of is not None else np.sqrt(var)
        if factor is not None:
            direct = direct * c
        ss = sigma * sigma
        if n is None:
            ok = _in_range(ss, var, w * var, direct)
            frac = 1.0
        else:
            exact_zero = n == b  # B = N: no noise, also where sigma**2 overflows (inf * 0)
            direct = np.where(exact_zero, 0.0, direct)
            ok = _in_range(ss, b * n, (n - b) / (b * n), var, w * var, direct) | exact_zero
            frac = (n - b) / n
        if np.all(ok):
            return direct
        scaled = sigma * (np.sqrt(w) * (np.sqrt(frac) / np.sqrt(b)) * c)
    return np.where(ok, direct, scaled)


def noise_inputs(batch_size, n_params, noise_scale, n_data):
    """Validated ``(B, N, P, sigma, v)``: batch size, data size (None: infinite), parameters, noise scale, variance."""
    b, n = batch_and_data(batch_size, n_data, allow_inf=True)
    p = v.integer_at_least(n_params, "n_params", 1)
    sigma = v.positive(noise_scale, "noise_scale")
    v.broadcast_together(batch_size=b, n_params=p, noise_scale=sigma, n_data=0.0 if n is None else n)
    var = entry_variance(b, n, sigma)
    return b, n, p, sigma, var
