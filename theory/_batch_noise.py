"""Validation and entry variance of the minibatch-Hessian noise model, shared by the formulas and the simulator.

The noise matrix of :mod:`theory.batch_size` has off-diagonal variance
:math:`v = \\sigma^2(1/B - 1/N)` (:math:`\\sigma^2/B` for :math:`N = \\infty`).
"""

from __future__ import annotations

import numpy as np

from . import _validate as v
from .errors import DomainError

__all__ = ["batch_and_data", "entry_variance", "noise_inputs"]


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
    b_, n_ = np.broadcast_arrays(b, n)
    if np.any(b_ > n_):
        i = np.argmax(b_ > n_)
        raise DomainError(f"batch_size must be <= n_data; got batch_size {float(b_.flat[i])!r} > "
                          f"n_data {float(n_.flat[i])!r}")
    return b, n


def entry_variance(b, n, sigma):
    """sigma**2 (1/B - 1/N), formed as sigma**2 (N - B) / (B N) (no cancellation); sigma**2/B for N = inf."""
    if n is None:
        return sigma * sigma / b  # B = inf gives 0
    return sigma * sigma * ((n - b) / (b * n))


def noise_inputs(batch_size, n_params, noise_scale, n_data):
    """Validated ``(B, N, P, sigma, v)``: batch size, data size (None: infinite), parameters, noise scale, variance."""
    b, n = batch_and_data(batch_size, n_data, allow_inf=True)
    p = v.integer_at_least(n_params, "n_params", 1)
    sigma = v.positive(noise_scale, "noise_scale")
    var = entry_variance(b, n, sigma)
    return b, n, p, sigma, var
