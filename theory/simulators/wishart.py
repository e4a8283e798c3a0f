r"""Monte Carlo twin of the Marchenko-Pastur and BBP laws: sample Wishart spectra, densities, KS distances.

Conventions, as in :mod:`theory.marchenko_pastur`: :math:`X` is :math:`N\times P`
with i.i.d. :math:`N(0, s^2)` entries (``scale`` = :math:`s^2`, the scale of
the eigenvalue law), :math:`W = X^\top X/N` (:math:`P\times P`), ratio
:math:`q = P/N`. ``n_data`` is :math:`N` (rows, observations), ``n_params`` is
:math:`P`.

Spikes
------
*Multiplicative* (``spikes`` = :math:`\ell_1, \dots, \ell_k`): the rows of
:math:`X` have population covariance
:math:`s^2 (I + \sum_j (\ell_j - 1) v_j v_j^\top)`, i.e.
:math:`X = s Z \Sigma^{1/2}` with :math:`\Sigma^{1/2} = I + \sum_j (\sqrt{\ell_j} - 1) v_j v_j^\top`.
Baik-Ben Arous-Péché: above :math:`\ell > 1 + \sqrt q` the top sample eigenvalue
tends to :math:`s^2\ell(1 + q/(\ell - 1))` and its eigenvector's squared overlap
with :math:`v` to :math:`(1 - q/(\ell-1)^2)/(1 + q/(\ell - 1))`.

*Additive* (``additive_spikes`` = :math:`\theta_1, \dots, \theta_m`): the matrix
is :math:`W + \sum_i \theta_i u_i u_i^\top`; for :math:`s^2 = 1` an outlier sits
at :math:`\theta + \theta/(\theta - q)` iff :math:`\theta > q + \sqrt q`.

All spike directions are orthonormal and fixed across matrices: the first
:math:`k + m` coordinate axes by default (multiplicative spikes first, then
additive), or a seeded random orthonormal frame (``directions="random"``), or
given. Because the Gaussian ensemble is rotation invariant, axes and random
directions give the same law.

Reproducibility: matrix ``i`` draws its :math:`X` from
``theory.rng.derive(seed, i)`` (the random frame from
``derive(seed, "directions")``, drawn and orthonormalised on the same array
backend and returned as NumPy rows in :attr:`WishartSample.directions`);
matrices are processed in chunks that fit a memory budget, and every matrix
is computed by the same operations whatever the chunk, so the eigenvalues do
not depend on ``chunk_matrices``.

Finite-:math:`P` statistics
---------------------------
The eigenvalues of one matrix are strongly correlated (they repel: rigidity),
so a histogram's error bar or a KS test that treats the :math:`P` eigenvalues
as independent draws is wrong (far too wide for the bulk). Here every
statistic is computed per matrix and its standard error is taken across the
independent matrices.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from .. import _validate as v
from .._deprecate import renamed_keywords
from ..backend import get_backend, single_threaded_blas
from ..errors import DomainError
from ..rng import derive, seed_sequence
from ..stats import Estimate, Moments, z_critical

__all__ = ["sample_wishart_eigenvalues", "WishartSample", "empirical_spectral_density", "SpectralDensity",
           "empirical_cdf", "ks_distance"]

# Default memory budget for one chunk's X, W and eigenvector stacks.
_CHUNK_BYTES = 64 * 2**20


@dataclass(frozen=True)
class WishartSample:
    r"""Result of :func:`sample_wishart_eigenvalues`.

    Attributes
    ----------
    eigenvalues : ndarray, shape (n_matrices, P)
        Each matrix's eigenvalues in ascending order.
    overlaps : ndarray, shape (n_matrices, K, K) or None
        With :math:`K` spikes in all (multiplicative first, then additive):
        ``overlaps[m, r, j]`` :math:`= (u_r^\top v_j)^2`, the squared overlap of
        the sample eigenvector of the :math:`r`-th largest eigenvalue
        (:math:`r = 0` the top) with spike direction :math:`j`. None without
        spikes or when not asked for.
    directions : ndarray, shape (K, P)
        The orthonormal spike directions (rows).
    n_data, n_params : int
        :math:`N` and :math:`P` (``n_samples``: a deprecated alias of ``n_data``).
    scale : float
        :math:`s^2`.
    spikes, additive_spikes : ndarray
    entropy : int
        Root entropy of the seed, enough to reproduce the sample.
    backend : str
    forms : ndarray, shape (n_matrices, K) or None
        ``forms[m, j]`` :math:`= v_j^\top W v_j`, each matrix's quadratic form
        along spike direction :math:`j`, whose exact mean is :attr:`form_means`:
        a control variate for the outliers (:func:`theory.stats.control_variate`),
        strongly correlated with them. None without spikes.
    """

    eigenvalues: np.ndarray
    overlaps: np.ndarray | None
    directions: np.ndarray
    n_data: int
    n_params: int
    scale: float
    spikes: np.ndarray
    additive_spikes: np.ndarray
    entropy: int
    backend: str
    forms: np.ndarray | None = None

    @property
    def form_means(self) -> np.ndarray:
        r"""Exact :math:`\mathbb E\,v_j^\top W v_j`: :math:`s^2 \ell_j` (multiplicative), :math:`s^2 + \theta_j` (additive)."""
        return np.concatenate([self.scale * self.spikes, self.scale + self.additive_spikes])

    @property
    def ratio(self) -> float:
        """:math:`q = P/N`."""
        return self.n_params / self.n_data

    @property
    def n_samples(self) -> int:
        """Deprecated alias of :attr:`n_data` (:math:`N`, the rows of :math:`X`)."""
        warnings.warn("WishartSample.n_samples is deprecated; use n_data", DeprecationWarning, stacklevel=2)
        return self.n_data

    @property
    def n_matrices(self) -> int:
        return self.eigenvalues.shape[0]

    def _across(self, per_matrix: np.ndarray) -> Estimate:
        if self.n_matrices < 2:
            raise DomainError("n_matrices must be >= 2 for a standard error across matrices; got "
                              f"{self.n_matrices}")
        return Moments.of(per_matrix, axis=0).estimate()

    def linear_statistic(self, f) -> Estimate:
        r"""Mean over matrices of :math:`\frac1P\sum_i f(\lambda_i)`, standard error across matrices.

        ``f`` maps an array of eigenvalues to an array of the same shape.
        """
        return self._across(np.mean(f(self.eigenvalues), axis=1))

    def mean_eigenvalue(self) -> Estimate:
        r""":math:`\operatorname{tr} W / P` averaged over matrices; its expectation is exactly
        :math:`s^2(1 + \sum_j(\ell_j - 1)/P) + \sum_i\theta_i/P`."""
        return self.linear_statistic(lambda x: x)

    def top_eigenvalue(self, rank: int = 0) -> Estimate:
        """The ``rank``-th largest eigenvalue (0: the largest), averaged over matrices."""
        rank = v.as_int(rank, "rank", 0)
        if rank >= self.n_params:
            raise DomainError(f"rank must be < n_params = {self.n_params}; got {rank}")
        return self._across(self.eigenvalues[:, -1 - rank])

    def overlap(self, rank: int = 0, spike: int = 0) -> Estimate:
        """Squared overlap of the ``rank``-th top eigenvector with spike direction ``spike``, over matrices."""
        if self.overlaps is None:
            raise DomainError("overlaps were not computed: sample with spikes and return_overlaps=True")
        k = self.overlaps.shape[1]
        rank, spike = v.as_int(rank, "rank", 0), v.as_int(spike, "spike", 0)
        if rank >= k:
            raise DomainError(f"rank must be < the number of spikes {k}; got {rank}")
        if spike >= k:
            raise DomainError(f"spike must be < the number of spikes {k}; got {spike}")
        return self._across(self.overlaps[:, rank, spike])


def _spike_values(x, name, low):
    if x is None:
        return np.zeros(0)
    arr = v.finite(x, name).ravel()
    return v.require(arr, arr > low, name, f"> {low:g}") if arr.size else arr


def _orthonormal_rows(d, k, p, root, xb):
    """The (k, p) spike frame as NumPy rows; a random one is drawn and orthonormalised on the backend ``xb``."""
    if k == 0:
        return np.zeros((0, p))
    if d is None or (isinstance(d, str) and d == "axes"):
        return np.eye(k, p)
    if isinstance(d, str):
        if d != "random":
            raise DomainError(f"directions must be 'axes', 'random' or an array of shape ({k}, {p}); got {d!r}")
        xp = xb.xp
        z = xp.empty((p, k))
        xb.fill_normal(xb.generator(derive(root, "directions")), z)
        q, r = xp.linalg.qr(z)
        return np.ascontiguousarray(xb.to_numpy((q * xp.sign(xp.diag(r))).T))
    arr = v.finite(d, "directions")
    if arr.shape != (k, p):
        raise DomainError(f"directions must have shape ({k}, {p}) (one row per spike); got {arr.shape}")
    if not np.allclose(arr @ arr.T, np.eye(k), atol=1e-10):
        raise DomainError("directions must be orthonormal rows")
    return arr


@renamed_keywords(n_samples="n_data")
def sample_wishart_eigenvalues(n_data, n_params, n_matrices=1, *, scale=1.0, spikes=None,
                               additive_spikes=None, directions=None, return_overlaps=None, seed=0,
                               backend=None, chunk_matrices=None) -> WishartSample:
    r"""Eigenvalues of ``n_matrices`` independent (spiked) sample covariance matrices :math:`W = X^\top X/N`.

    Parameters
    ----------
    n_data : int
        :math:`N \ge 1`, rows of :math:`X` (``n_samples=``, its former name, is
        accepted with a DeprecationWarning).
    n_params : int
        :math:`P \ge 1`, columns of :math:`X` (size of :math:`W`).
    n_matrices : int, default 1
        Independent matrices (at least 2 for the standard errors of
        :class:`WishartSample`).
    scale : float, default 1
        Variance :math:`s^2 > 0` of the entries of :math:`X`: the scale of the
        eigenvalue law (the eigenvalues at unit variance times :math:`s^2`).
    spikes : array_like, optional
        Multiplicative population spikes :math:`\ell_j > 0` (population
        covariance :math:`s^2\,\mathrm{diag}(\ell_1, .., \ell_k, 1, .., 1)` in
        the spike frame).
    additive_spikes : array_like, optional
        :math:`\theta_i` added as :math:`\theta_i u_i u_i^\top`, each finite
        (negative allowed).
    directions : {"axes", "random"} or array_like, shape (K, P), optional
        Spike directions (multiplicative first, then additive): coordinate
        axes (default), a random orthonormal frame drawn from the seed, or
        given orthonormal rows.
    return_overlaps : bool, optional
        Compute eigenvectors and the squared overlaps (needs ``eigh`` rather
        than ``eigvalsh``); default: whenever there are spikes.
    seed : int, SeedSequence or None, default 0
        Root of the random streams (None: fresh entropy, recorded in the result).
    backend : {"numpy", "cupy"} or None
    chunk_matrices : int, optional
        Matrices diagonalised together in one batched call; the default keeps
        a chunk near 64 MiB. Does not change the result.

    Returns
    -------
    WishartSample
    """
    xb = get_backend(backend)
    xp = xb.xp
    n = v.as_int(n_data, "n_data", 1)
    p = v.as_int(n_params, "n_params", 1)
    m = v.as_int(n_matrices, "n_matrices", 1)
    s2 = float(v.scalar(v.positive(scale, "scale"), "scale"))
    # a scale far from 1 is applied as a power of 4 taken out of W (and of the additive spikes) and put
    # back on the eigenvalues, exactly: W itself then never over- or underflows
    _, e2 = np.frexp(s2)
    shift = int(e2 - e2 % 2) if abs(s2) > 2.0**500 or s2 < 2.0**-500 else 0
    s2_w = float(np.ldexp(s2, -shift))
    ell = _spike_values(spikes, "spikes", 0.0)
    theta = _spike_values(additive_spikes, "additive_spikes", -np.inf)
    k = ell.size + theta.size
    if k > p:
        raise DomainError(f"the number of spikes must be <= n_params = {p}; got {k}")
    root = seed_sequence(seed)
    vecs = _orthonormal_rows(directions, k, p, root, xb)
    want_vectors = k > 0 if return_overlaps is None else bool(return_overlaps) and k > 0
    per_matrix = 8 * (n * p + (3 if want_vectors else 2) * p * p)
    if chunk_matrices is None:
        chunk = max(1, _CHUNK_BYTES // per_matrix)
    else:
        chunk = v.as_int(chunk_matrices, "chunk_matrices", 1)

    v_ell = xb.asarray(vecs[:ell.size])
    v_theta = xb.asarray(vecs[ell.size:])
    root_ell = xb.asarray(np.sqrt(ell) - 1.0)
    v_all = xb.asarray(vecs)
    eig = np.empty((m, p))
    ovl = np.empty((m, k, k)) if want_vectors else None
    forms = np.empty((m, k)) if k else None
    with single_threaded_blas():  # many small eigenproblems: threads only contend
        for c0 in range(0, m, chunk):
            c1 = min(m, c0 + chunk)
            x = xp.empty((c1 - c0, n, p))
            for i in range(c0, c1):
                xb.fill_normal(xb.generator(derive(root, i)), x[i - c0])
            if ell.size:  # X <- X Sigma^{1/2} = X + sum_j (sqrt(l_j) - 1) (X v_j) v_j^T
                proj = xp.einsum("cnp,kp->cnk", x, v_ell)
                x += xp.einsum("cnk,k,kp->cnp", proj, root_ell, v_ell)
            w = xp.empty((c1 - c0, p, p))
            for i in range(c1 - c0):  # one gemm per matrix: the same operations whatever the chunk
                w[i] = x[i].T @ x[i]
            del x
            w *= s2_w / n
            if theta.size:
                w += xp.einsum("k,kp,kr->pr", xb.asarray(np.ldexp(theta, -shift)), v_theta, v_theta)[None]
            if k:
                forms[c0:c1] = xb.to_numpy(xp.einsum("cpr,kp,kr->ck", w, v_all, v_all))
            lam = xp.linalg.eigvalsh(w)
            if want_vectors:
                top = _top_eigenvectors(xp, w, lam, k)
                ovl[c0:c1] = xb.to_numpy(xp.einsum("crp,kp->crk", top, v_all) ** 2)
            eig[c0:c1] = xb.to_numpy(lam)
            if shift:  # exact: a power of 4
                with np.errstate(over="ignore", under="ignore"):
                    eig[c0:c1] = np.ldexp(eig[c0:c1], shift)
                    if k:
                        forms[c0:c1] = np.ldexp(forms[c0:c1], shift)
    return WishartSample(eig, ovl, vecs, n, p, s2, ell, theta, root.entropy, xb.name, forms)


def _top_eigenvectors(xp, w, lam, k, iterations=2):
    """Unit eigenvectors of the k largest eigenvalues, shape (c, k, P), by shifted inverse iteration.

    A full ``eigh`` costs about ten times ``eigvalsh``; with the eigenvalue
    known to rounding, two linear solves with the shift just above it give
    the eigenvector to rounding (the error contracts by the ratio of the shift
    error, ~1e-13 of the spectrum's width, to the gap to the next eigenvalue).
    """
    c, p, _ = w.shape
    width = lam[:, -1] - lam[:, 0] + xp.abs(lam[:, -1])
    out = xp.empty((c, k, p))
    eye = xp.eye(p)
    for r in range(k):
        mu = lam[:, -1 - r] + 1e-13 * width
        a = w - mu[:, None, None] * eye
        x = xp.ones((c, p, 1)) / np.sqrt(p)
        for _ in range(iterations):
            x = xp.linalg.solve(a, x)
            x /= xp.sqrt(xp.sum(x * x, axis=1, keepdims=True))
        out[:, r] = x[:, :, 0]
    return out


def _eigenvalue_array(eigenvalues, name: str = "eigenvalues") -> np.ndarray:
    if isinstance(eigenvalues, WishartSample):
        eigenvalues = eigenvalues.eigenvalues
    arr = v.finite(eigenvalues, name)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] == 0 or arr.shape[0] == 0:
        raise DomainError(f"{name} must have shape (n_matrices, P) or (P,) with n_matrices, P >= 1; "
                          f"got {arr.shape}")
    return arr


@dataclass(frozen=True)
class SpectralDensity:
    r"""Histogram density of eigenvalues, pooled over matrices, with bands from their spread.

    ``density[j]`` is the mean over matrices of (eigenvalues in bin j) /
    (P times the bin width), so it integrates to the fraction of eigenvalues
    inside ``edges``. ``stderr`` is the standard deviation over matrices
    divided by sqrt(n_matrices) (NaN with one matrix); ``lower``/``upper`` are
    pointwise bands ``density -+ z stderr`` at the stated confidence.
    """

    edges: np.ndarray
    centres: np.ndarray
    density: np.ndarray
    stderr: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    confidence: float
    n_matrices: int


def empirical_spectral_density(eigenvalues, bins=50, *, range=None, confidence=0.95) -> SpectralDensity:
    """Histogram density of ``eigenvalues`` (shape (n_matrices, P), or a WishartSample) with bands.

    The matrices are independent but the eigenvalues within one are not, so
    the standard error is computed across matrices, never from Poisson counts.

    Parameters
    ----------
    eigenvalues : array_like or WishartSample
    bins : int or array_like
        Number of equal bins over ``range`` (default: the pooled min to max),
        or increasing bin edges.
    range : (float, float), optional
    confidence : float, default 0.95
        Two-sided pointwise confidence of the bands, in (0, 1).
    """
    lam = _eigenvalue_array(eigenvalues)
    conf = float(v.finite(confidence, "confidence"))
    if not 0 < conf < 1:
        raise DomainError(f"confidence must be in (0, 1); got {conf!r}")
    if np.ndim(bins) == 0:
        nb = v.as_int(bins, "bins", 1)
        if range is None:
            lo, hi = float(lam.min()), float(lam.max())
            if hi == lo:
                lo, hi = lo - 0.5, hi + 0.5
        else:
            lo, hi = (float(r) for r in v.finite(range, "range").ravel()[:2])
            if not hi > lo:
                raise DomainError(f"range must be (low, high) with low < high; got {range!r}")
        edges = np.linspace(lo, hi, nb + 1)
    else:
        edges = v.finite(bins, "bins").ravel()
        if edges.size < 2 or not np.all(np.diff(edges) > 0):
            raise DomainError("bins must be an int >= 1 or at least 2 strictly increasing edges")
    widths = np.diff(edges)
    m, p = lam.shape
    # bin index of each eigenvalue: half-open bins, the last one closed (as numpy.histogram)
    idx = np.searchsorted(edges, lam, side="right") - 1
    idx[lam == edges[-1]] = edges.size - 2
    inside = (idx >= 0) & (idx < edges.size - 1)
    counts = np.zeros((m, edges.size - 1))
    rows = np.broadcast_to(np.arange(m)[:, None], lam.shape)
    np.add.at(counts, (rows[inside], idx[inside]), 1.0)
    dens = counts / (p * widths)
    mean = dens.mean(axis=0)
    if m >= 2:
        se = dens.std(axis=0, ddof=1) / np.sqrt(m)
    else:
        se = np.full_like(mean, np.nan)
    z = z_critical(1 - conf)
    return SpectralDensity(edges, 0.5 * (edges[1:] + edges[:-1]), mean, se, mean - z * se, mean + z * se, conf, m)


def empirical_cdf(eigenvalues, x) -> Estimate:
    r"""The empirical spectral distribution :math:`F_P(x) = \#\{\lambda_i \le x\}/P`, averaged over matrices.

    Returns an Estimate with the shape of ``x``; its standard error is taken
    across matrices (NaN with a single matrix).
    """
    lam = np.sort(_eigenvalue_array(eigenvalues), axis=1)
    x = v.as_float(x, "x")
    m, p = lam.shape
    f = np.stack([np.searchsorted(row, x, side="right") / p for row in lam])
    if m >= 2:
        return Moments.of(f, axis=0).estimate()
    return Estimate(f[0], np.full(np.shape(x), np.nan), 1)


def ks_distance(eigenvalues_per_matrix, cdf) -> np.ndarray:
    r"""Per-matrix Kolmogorov-Smirnov distance :math:`D = \sup_x |F_P(x) - F(x)|` to a limiting cdf.

    Parameters
    ----------
    eigenvalues_per_matrix : array_like, shape (n_matrices, P) or (P,), or WishartSample
    cdf : callable
        Vectorised limiting distribution function :math:`F` (continuous at
        the eigenvalues, e.g. the Marchenko-Pastur cdf for :math:`q \le 1`).

    Returns
    -------
    ndarray, shape (n_matrices,)
        Exact sup over x (attained at the jumps of :math:`F_P`).

    Notes
    -----
    **Allowance.** The classical :math:`\sqrt n` Kolmogorov law does not
    apply: the :math:`P` eigenvalues of one matrix are not independent but
    rigid, each within about :math:`1/P` (in the bulk; :math:`P^{-2/3}` at a
    soft edge, where the density vanishes like a square root, which again
    moves :math:`F` by :math:`O(1/P)`) of its classical location. So for the
    correct limit :math:`D = O(\log P / P)` per matrix, the finite-:math:`P`
    bias of :math:`E F_P` being :math:`O(1/P)` as well, whereas an i.i.d. sample
    of :math:`P` points would have :math:`D \approx 0.87/\sqrt P`. A wrong
    limit gives :math:`D` of order one that does not shrink with :math:`P`.
    An honest check therefore compares :math:`P D` (bounded, up to a
    logarithm, when the limit is right) across matrix sizes, or the mean of
    :math:`D` across independent matrices with its spread across them; this
    function only returns the distances and leaves the decision to the check.
    """
    lam = np.sort(_eigenvalue_array(eigenvalues_per_matrix, "eigenvalues_per_matrix"), axis=1)
    if not callable(cdf):
        raise TypeError(f"cdf must be a callable (a vectorised distribution function); got {type(cdf).__name__}")
    m, p = lam.shape
    f = np.asarray(cdf(lam), dtype=np.float64)
    if f.shape != lam.shape:
        raise DomainError(f"cdf must return an array of the shape of its input {lam.shape}; got {f.shape}")
    # ties: F_P jumps once at a repeated value, to the count of values <= it
    right = np.stack([np.searchsorted(row, row, side="right") for row in lam]) / p
    left = np.stack([np.searchsorted(row, row, side="left") for row in lam]) / p
    return np.maximum(np.abs(right - f), np.abs(f - left)).max(axis=1)
