r"""Monte Carlo twins of :mod:`theory.batch_size`: top eigenvalues of minibatch Hessians.

:func:`simulate_batch_hessian_top` draws the model :math:`H + E(B)` (a
finite-rank Hessian plus GOE noise of the batch-size-dependent strength);
:func:`simulate_least_squares_batch_top` draws real minibatch Hessians
:math:`X_B^\top X_B/B` of a least-squares problem. Statistics are taken
across independent matrices.

Both run on :mod:`theory.backend`: matrix ``j`` draws from
``backend.generator(child j)``. On NumPy that generator is the PCG64 of
``numpy.random.default_rng``, so the numbers are those of earlier versions
bit for bit, and the top eigenvalue comes from LAPACK ``syevr`` (top one
only). On CuPy the matrices are drawn and diagonalised on the device (its
own generator: other numbers, same distribution), and the minibatch of
:func:`simulate_least_squares_batch_top` is the ``B`` smallest of ``N``
uniform keys (a uniform random subset, as ``Generator.choice`` gives on NumPy).
"""

from __future__ import annotations

import numpy as np
from scipy import linalg as sla

from .. import _validate as v
from .. import rng as _rng
from ..backend import get_backend, single_threaded_blas
from .._batch_noise import noise_inputs, scaled_noise
from ..errors import DomainError
from ..stats import Estimate, Moments

__all__ = ["simulate_batch_hessian_top", "simulate_least_squares_batch_top"]


def _top_symmetric(xb, m) -> float:
    if xb.xp is not np:  # on the device: the full spectrum (no subset driver there), its last value
        return float(xb.to_numpy(xb.xp.linalg.eigvalsh(m)[-1]))
    n = m.shape[0]
    return float(sla.eigh(m, eigvals_only=True, subset_by_index=[n - 1, n - 1], driver="evr")[0])


def _subset(xb, gen, n: int, b: int):
    """``b`` distinct indices of ``range(n)``, uniformly: ``Generator.choice`` on NumPy (as before)."""
    if xb.xp is np:
        return gen.choice(n, size=b, replace=False)
    keys = xb.xp.empty(n)
    keys[...] = gen.random(size=n, dtype=xb.xp.float64)
    return xb.xp.argsort(keys)[:b]


def _scalar(x, name):
    if np.ndim(x) != 0:
        raise DomainError(f"{name} must be a scalar for a simulation; got shape {np.shape(x)}")
    return float(x)


def simulate_batch_hessian_top(eigenvalues, batch_size, n_params, noise_scale, n_data=None, *,
                               n_matrices: int = 200, seed=0, backend=None) -> Estimate:
    r"""Monte Carlo twin of :func:`batch_hessian_top_eigenvalue`: mean of :math:`\lambda_{\max}(H + E)` over draws of E.

    :math:`H = \mathrm{diag}(\lambda_1, \dots, \lambda_k, 0, \dots, 0)` (no loss of
    generality: the GOE is orthogonally invariant) and
    :math:`E = \sqrt{v/2}\,(A + A^\top)`, :math:`A_{ij}` i.i.d. standard normal,
    so that :math:`E` has off-diagonal variance :math:`v = \sigma^2(1/B - 1/N)`
    and diagonal variance :math:`2v`. One dense :math:`P\times P` eigenproblem
    per matrix (LAPACK ``syevr``, top eigenvalue only): keep :math:`P` in the
    hundreds.

    Parameters
    ----------
    eigenvalues : array_like, shape (k,)
        Spikes of :math:`H`, :math:`k \le P`.
    batch_size, n_params, noise_scale, n_data
        Scalars, as in :func:`noise_strength`.
    n_matrices : int
        Independent matrices, :math:`\ge 2`.
    seed : int or SeedSequence
        Matrix :math:`j` draws from child ``j`` of the seed's
        ``"batch_size.wigner"`` stream (:mod:`theory.rng`).
    backend : {"numpy", "cupy"}, a Backend, or None
        Array backend (:mod:`theory.backend`); None is NumPy unless
        ``eigenvalues`` is a CuPy array.

    Returns
    -------
    Estimate
        Mean top eigenvalue and its standard error (sample sd / sqrt(n)).
    """
    xb = get_backend(backend, eigenvalues)
    lam = np.atleast_1d(v.finite(xb.to_numpy(eigenvalues), "eigenvalues"))
    if lam.ndim != 1:
        raise DomainError(f"eigenvalues must be 1-D for a simulation; got shape {lam.shape}")
    b, n, p_arr, sigma, var = noise_inputs(batch_size, n_params, noise_scale, n_data)
    p = int(_scalar(p_arr, "n_params"))
    amp = _scalar(scaled_noise(b, n, sigma, var, sqrt_of=0.5), "batch_size/noise_scale/n_data")
    if lam.size > p:
        raise DomainError(f"eigenvalues must hold at most n_params = {p} spikes; got {lam.size}")
    m = v.as_int(n_matrices, "n_matrices", 2)
    root = _rng.derive(seed, "batch_size.wigner")
    tops = np.empty(m)
    xp = xb.xp
    spikes = xb.asarray(lam)
    diag = xp.arange(lam.size)
    a = xp.empty((p, p))
    with single_threaded_blas():
        for j, child in enumerate(root.spawn(m)):
            xb.fill_normal(xb.generator(child), a)
            h = amp * (a + a.T)
            h[diag, diag] += spikes
            tops[j] = _top_symmetric(xb, h)
    return Moments.of(tops).estimate()


def simulate_least_squares_batch_top(batch_size, n_params, n_data, *, scale=1.0, n_matrices: int = 200,
                                     seed=0, backend=None) -> Estimate:
    r"""Monte Carlo: top eigenvalue of a real minibatch Hessian of least squares.

    Each replicate draws a data set :math:`X` (:math:`N\times P`, entries
    :math:`\mathcal N(0, c)`), a minibatch of :math:`B` distinct rows (without
    replacement), and returns :math:`\lambda_{\max}(X_B^\top X_B/B)`, the
    Hessian of :math:`\frac1{2B}\sum_{i\in\mathcal B}(x_i^\top w - y_i)^2`. The
    reference is :func:`least_squares_batch_top_eigenvalue`. With
    :math:`B = N` it is the full-batch (empirical) Hessian.

    Parameters
    ----------
    batch_size, n_params, n_data : int
        :math:`1 \le B \le N`, :math:`P \ge 1`.
    scale : float
        Feature variance :math:`c > 0`: the scale of the Hessian's eigenvalue law
        (its eigenvalues are :math:`c` times those at unit variance).
    n_matrices : int
        Replicates, :math:`\ge 2`.
    seed : int or SeedSequence
        Replicate :math:`j` draws from child ``j`` of the seed's
        ``"batch_size.least_squares"`` stream.
    backend : {"numpy", "cupy"}, a Backend, or None
        Array backend (:mod:`theory.backend`); None is NumPy.

    Returns
    -------
    Estimate
    """
    b = v.as_int(batch_size, "batch_size", 1)
    p = v.as_int(n_params, "n_params", 1)
    n = v.as_int(n_data, "n_data", 1)
    if b > n:
        raise DomainError(f"batch_size must be <= n_data; got batch_size {b} > n_data {n}")
    c = _scalar(v.positive(scale, "scale"), "scale")
    # a scale far from 1 multiplies the eigenvalue at the end (the law is scale-equivariant), so the
    # rows never over- or underflow
    c_rows, c_after = (c, 1.0) if 2.0**-500 <= c <= 2.0**500 else (1.0, c)
    m = v.as_int(n_matrices, "n_matrices", 2)
    xb = get_backend(backend)
    root = _rng.derive(seed, "batch_size.least_squares")
    tops = np.empty(m)
    x = xb.xp.empty((n, p))
    with single_threaded_blas():
        for j, child in enumerate(root.spawn(m)):
            g = xb.generator(child)
            xb.fill_normal(g, x)
            rows = np.sqrt(c_rows) * x[_subset(xb, g, n, b)]
            gram = (rows.T @ rows) / b if p <= b else (rows @ rows.T) / b  # same nonzero spectrum, smaller matrix
            tops[j] = _top_symmetric(xb, gram) * c_after
    return Moments.of(tops).estimate()
