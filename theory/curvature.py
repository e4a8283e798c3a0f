r"""Curvature of a network from Hessian-vector products: top eigenpairs, trace, spectral density, block sharpness.

Every function takes the Hessian either as a dense symmetric array of shape
``(n, n)`` or as a callable ``hvp(v) -> H v`` on vectors of length ``n`` (then
``n=`` is required), and reports how many Hessian-vector products (HVPs) it
spent: for a network with :math:`P = 10^3 \ldots 10^6` parameters an HVP costs
about two backward passes and is the unit of cost. An ``hvp`` that returns a
non-finite value, or a vector of the wrong shape, raises
:class:`~theory.DomainError` naming ``hvp``.

- :func:`top_eigenpairs`: Lanczos with full reorthogonalisation and thick
  restart, the ``k`` largest algebraic eigenvalues and their vectors, with a
  warm start from a previous result (tracking along a trajectory).
- :func:`power_iteration`: the baseline of PyHessian (Yao et al. 2020, Alg. 1).
- :func:`trace`: Hutchinson and Hutch++ estimates of :math:`\mathrm{tr}\,H`.
- :func:`spectral_density`: stochastic Lanczos quadrature, giving the
  smoothed eigenvalue density and estimates of :math:`\mathrm{tr} f(H)`.
- :func:`block_sharpness`: :math:`\lambda_{\max}(P_b H P_b)` per block of
  parameters (e.g. per layer).

Random probes and start vectors come from streams derived from ``seed`` by
:func:`theory.rng.derive`, one per probe, so a result depends on the seed and
the inputs alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import special

from . import _validate as v
from .errors import DomainError
from .rng import derive
from .stats import Estimate

__all__ = ["TopEigen", "SpectralQuadrature", "BlockSharpness", "top_eigenpairs", "power_iteration", "trace",
           "spectral_density", "block_sharpness"]

# Largest relative norm of the random part added to a warm start (see top_eigenpairs).
_WARM_RANDOM_MAX = 0.1
_DEFAULT_MAX_HVPS = 5000


class _Operator:
    """``x -> H x`` with its shape and finiteness checked and the HVPs counted."""

    def __init__(self, hessian, n, name: str = "hvp"):
        self.name = name
        self.n_hvps = 0
        if callable(hessian) and not isinstance(hessian, np.ndarray):
            if n is None:
                raise DomainError(f"n (the dimension) is required when {name} is a Hessian-vector-product callable")
            self.n = v.as_int(n, "n", 1)
            self.matrix, self.func = None, hessian
            return
        h = v.finite(hessian, name)
        if h.ndim != 2 or h.shape[0] != h.shape[1] or h.shape[0] == 0:
            raise DomainError(f"{name} must be a square matrix of shape (n, n) or a callable; got shape {h.shape}")
        scale = np.abs(h).max(initial=0.0)
        if np.abs(h - h.T).max(initial=0.0) > 1e-10 * scale:
            raise DomainError(f"{name} must be symmetric (to 1e-10 relative)")
        if n is not None and v.as_int(n, "n", 1) != h.shape[0]:
            raise DomainError(f"n must equal the matrix dimension {h.shape[0]}; got {n}")
        self.n, self.matrix, self.func = h.shape[0], h, None

    def _check(self, out, shape) -> np.ndarray:
        out = np.asarray(out)
        if out.dtype == object or not np.issubdtype(out.dtype, np.number) or np.iscomplexobj(out):
            raise TypeError(f"{self.name} must return real numbers; got dtype {out.dtype}")
        out = out.astype(np.float64, copy=False)
        if out.size != int(np.prod(shape)):
            raise DomainError(f"{self.name} must return a vector of length n = {self.n}; got shape {out.shape}")
        if not np.isfinite(out).all():
            bad = out.ravel()[~np.isfinite(out.ravel())][0]
            raise DomainError(f"{self.name} returned a non-finite value ({bad!r}); the Hessian-vector product "
                              f"must be finite")
        return out.reshape(shape)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``H x`` for a vector ``x`` (one HVP) or the columns of a matrix ``x`` (one HVP each)."""
        if x.ndim == 2:
            if self.matrix is not None:
                self.n_hvps += x.shape[1]
                return self.matrix @ x
            return np.column_stack([self(x[:, i]) for i in range(x.shape[1])]) if x.shape[1] else x.copy()
        self.n_hvps += 1
        if self.matrix is not None:
            return self.matrix @ x
        return self._check(self.func(x.copy()), (self.n,))


@dataclass(frozen=True)
class TopEigen:
    """Top eigenpairs of a symmetric operator.

    Attributes
    ----------
    values : ndarray, shape (k,)
        Ritz values :math:`\\theta_1 \\ge \\dots \\ge \\theta_k`.
    vectors : ndarray, shape (n, k)
        Orthonormal Ritz vectors :math:`u_i` (column ``i`` goes with ``values[i]``).
    residuals : ndarray, shape (k,)
        :math:`\\|H u_i - \\theta_i u_i\\|` (from the Lanczos relation; equal to
        the explicit residual to rounding, the basis being reorthogonalised).
    n_hvps : int
        Hessian-vector products spent.
    converged : bool
        Whether every residual reached the requested tolerance.
    """

    values: np.ndarray
    vectors: np.ndarray
    residuals: np.ndarray
    n_hvps: int
    converged: bool


@dataclass(frozen=True)
class BlockSharpness:
    """Top eigenvalue of each diagonal block :math:`P_b H P_b` (arrays of length n_blocks).

    Attributes
    ----------
    values, residuals : ndarray
        :math:`\\lambda_{\\max}` of each block and its Ritz residual.
    n_hvps : ndarray of int
        HVPs spent on each block (each is one HVP of the full operator).
    converged : ndarray of bool
    """

    values: np.ndarray
    residuals: np.ndarray
    n_hvps: np.ndarray
    converged: np.ndarray


def _tolerance(tol) -> float:
    tol = v.scalar(tol, "tol")
    v.require(tol, np.isfinite(tol) and tol > 0, "tol", "finite and > 0")
    return tol


def _rademacher(n: int, seed, key: str, index: int) -> np.ndarray:
    """Probe ``index`` of stream ``key``: i.i.d. signs, one stream per probe."""
    rng = np.random.default_rng(derive(seed, key, index))
    return rng.integers(0, 2, n).astype(np.float64) * 2.0 - 1.0


def _orthogonalise(basis: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``w`` minus its projection on the orthonormal columns of ``basis`` (classical Gram-Schmidt twice)."""
    h = basis.T @ w
    w = w - basis @ h
    h2 = basis.T @ w
    return w - basis @ h2, h + h2


def _start_vector(start, n: int, seed, tol: float) -> np.ndarray:
    """A unit start vector: random, or a previous result's vectors combined plus a small random part."""
    rng = np.random.default_rng(derive(seed, "curvature.start"))
    r = rng.standard_normal(n)
    r /= np.linalg.norm(r)
    if start is None:
        return r
    u = start.vectors if isinstance(start, TopEigen) else v.finite(start, "start")
    if u.ndim == 1:
        u = u[:, None]
    if u.ndim != 2 or u.shape[0] != n or u.shape[1] == 0:
        raise DomainError(f"start must be a TopEigen or an array of shape (n,) or (n, j) with n = {n}; "
                          f"got shape {u.shape}")
    norms = np.linalg.norm(u, axis=0)
    v.require(norms, norms > 0, "start", "made of nonzero vectors")
    x = (u / norms).sum(axis=1)
    x /= max(np.linalg.norm(x), np.finfo(float).tiny)
    x = x + min(_WARM_RANDOM_MAX, np.sqrt(tol)) * r
    return x / np.linalg.norm(x)


def _ritz(t: np.ndarray, k: int, beta: float):
    """Top ``k`` eigenpairs of the projected matrix ``t`` (descending) and their Lanczos residuals."""
    theta, z = np.linalg.eigh(t)
    order = np.argsort(-theta, kind="stable")[:k]
    return theta[order], z[:, order], np.abs(beta * z[-1, order])


def _restart(basis: np.ndarray, t: np.ndarray, keep: int, m: int) -> int:
    """Thick restart (Wu and Simon 2000): keep the top ``keep`` Ritz vectors, then the last Lanczos vector.

    ``basis[:, m]`` holds the next Lanczos vector; on return ``basis[:, :keep]``
    are the kept Ritz vectors and ``basis[:, keep]`` that vector, and ``t`` is
    ``diag(theta)`` (its coupling row is filled by the next expansion, whose
    projection coefficients are exactly ``beta z_m``).
    """
    theta, z = np.linalg.eigh(t[:m, :m])
    order = np.argsort(-theta, kind="stable")[:keep]
    basis[:, :keep] = basis[:, :m] @ z[:, order]
    basis[:, keep] = basis[:, m]
    t[:] = 0.0
    t[np.arange(keep), np.arange(keep)] = theta[order]
    return keep


def _basis_size(n: int, k: int) -> int:
    return min(n, max(2 * k + 10, 20))


def _lanczos(op: _Operator, k: int, tol: float, x0: np.ndarray, max_hvps: int, seed) -> TopEigen:
    """Thick-restart Lanczos with full reorthogonalisation from the unit vector ``x0``."""
    n, m = op.n, _basis_size(op.n, k)
    keep = min(m - 1, max(k, (m + k) // 2))
    basis = np.zeros((n, m + 1), order="F")  # contiguous columns: the basis is sliced by columns
    t = np.zeros((m + 1, m + 1))
    basis[:, 0] = x0
    j, fresh = 0, 0
    while True:
        w, h = _orthogonalise(basis[:, :j + 1], op(basis[:, j]))
        t[:j + 1, j] = h
        t[j, :j + 1] = h
        beta = float(np.linalg.norm(w))
        size = j + 1
        theta, z, res = _ritz(t[:size, :size], min(k, size), 0.0 if size == n else beta)
        scale = float(np.abs(theta).max())
        if size >= k and np.all(res <= tol * scale):
            return TopEigen(theta, basis[:, :size] @ z, res, op.n_hvps, True)
        if op.n_hvps >= max_hvps or size == n:
            return TopEigen(theta, basis[:, :size] @ z, res, op.n_hvps, bool(np.all(res <= tol * scale)))
        if beta <= 1e-13 * max(scale, np.abs(h).max()):
            # an invariant subspace: continue from a fresh random direction (the coupling is zero)
            fresh += 1
            w, _ = _orthogonalise(basis[:, :size], np.random.default_rng(
                derive(seed, "curvature.breakdown", fresh)).standard_normal(n))
            w, _ = _orthogonalise(basis[:, :size], w)
            beta = float(np.linalg.norm(w))
        basis[:, size] = w / beta
        j = _restart(basis, t, keep, m) if size == m else size


def top_eigenpairs(hvp, k: int = 1, *, n=None, tol: float = 1e-8, start=None, max_hvps=None, seed=0) -> TopEigen:
    r"""The ``k`` largest algebraic eigenvalues of a symmetric operator and their eigenvectors.

    Lanczos with full reorthogonalisation (Golub and Van Loan 2013, Alg. 10.1.1,
    with every new vector orthogonalised twice against the whole basis, so the
    Ritz vectors stay orthonormal and no spurious copies appear) on a basis of
    at most :math:`m = \max(2k + 10, 20)` vectors. When the basis is full it is
    thick-restarted (Wu and Simon 2000; Saad 2011, Sec. 5.3): the
    :math:`\lceil (m+k)/2 \rceil` best Ritz vectors are kept together with the
    last Lanczos vector, which keeps the Lanczos relation

    .. math:: H V_j = V_j T_j + \beta_j v_{j+1} e_j^\top,

    so the residual of a Ritz pair :math:`(\theta, u = V_j z)` is
    :math:`\|H u - \theta u\| = |\beta_j z_j|` without another HVP. The
    iteration stops when every one of the ``k`` residuals is at most
    ``tol`` :math:`\cdot |\theta_1|`.

    A single-vector Krylov space holds one direction of each eigenspace, so
    further copies of an exactly repeated eigenvalue enter it only through
    rounding and restarts and may be missed (as with ARPACK): every returned
    pair is an eigenpair to the tolerance, but ``k`` copies of one eigenvalue
    are not guaranteed. Clustered (nearly equal) eigenvalues are found.

    Parameters
    ----------
    hvp : callable or array_like, shape (n, n)
        ``hvp(v) -> H v`` (vectors of length ``n``), or a dense symmetric matrix.
    k : int
        How many eigenpairs, ``1 <= k <= n``.
    n : int, optional
        Dimension; required for a callable.
    tol : float
        Relative residual tolerance, > 0.
    start : TopEigen or array_like of shape (n,) or (n, j), optional
        A previous result (or its vectors) to warm-start from. The start
        vector is the normalised sum of the given (normalised) vectors plus a
        random part of relative norm
        :math:`\epsilon = \min(0.1, \sqrt{\mathrm{tol}})`. A single start
        vector inside (or near) an invariant subspace of dimension :math:`j` makes the Krylov
        space of dimension :math:`j` equal (or close) to that subspace, so the
        Lanczos process resolves the previous top-``k`` directions in about
        ``k`` HVPs and spends the rest reducing the small error left by the
        change of the operator. Seeding the basis with the ``k`` vectors as a
        block instead spends the same ``k`` HVPs on that subspace but breaks
        the single-vector Lanczos relation (the residuals of its Ritz pairs are
        no longer parallel, and would cost explicit HVPs to check). The
        random part keeps every eigendirection in the Krylov space, so an
        eigenvalue that has risen into the top ``k`` since the previous
        result is still found: its first Krylov step leaves a residual of
        order :math:`\epsilon\|H\| \gg \mathrm{tol}\,|\theta_1|`, so the
        stopping rule cannot fire before that part has been explored (with
        no random part, an old eigenvector that is still exact would stop the
        iteration at once and miss a new larger eigenvalue). A smaller
        :math:`\epsilon` saves only a few HVPs on a slowly changing operator
        (on the ``--quick`` tracking sequence of
        ``benchmarks/bench_curvature.py``, k = 1: 65 against 69 HVPs over 8
        matrices at :math:`\epsilon = 10^{-4}` against
        :math:`10^{-3}`, 81 at 0.1).
    max_hvps : int, optional
        Budget of HVPs (default 5000); when reached, the current Ritz pairs
        are returned with ``converged=False``.
    seed : int
        Seed of the random start vector.

    Returns
    -------
    TopEigen

    References
    ----------
    G. H. Golub and C. F. Van Loan, *Matrix Computations*, 4th ed. (2013),
    Sec. 10.1; B. N. Parlett, *The Symmetric Eigenvalue Problem* (1998);
    K. Wu and H. Simon, *Thick-restart Lanczos method for large symmetric
    eigenvalue problems*, SIAM J. Matrix Anal. Appl. 22, 602 (2000); Y. Saad,
    *Numerical Methods for Large Eigenvalue Problems*, 2nd ed. (2011).
    """
    op = _Operator(hvp, n)
    k = v.as_int(k, "k", 1)
    if k > op.n:
        raise DomainError(f"k must be <= n = {op.n}; got {k}")
    tol = _tolerance(tol)
    max_hvps = _DEFAULT_MAX_HVPS if max_hvps is None else v.as_int(max_hvps, "max_hvps", 1)
    return _lanczos(op, k, tol, _start_vector(start, op.n, seed, tol), max_hvps, seed)


def power_iteration(hvp, *, n=None, tol: float = 1e-8, max_hvps: int = 1000, seed=0, start=None) -> TopEigen:
    r"""Power iteration as in PyHessian (Yao et al. 2020, Alg. 1): the baseline for :func:`top_eigenpairs`.

    .. math::

        v \leftarrow \frac{Hv}{\|Hv\|}, \qquad \lambda = v^\top H v, \qquad
        \text{stop when } \frac{|\lambda - \lambda_{\rm prev}|}{|\lambda_{\rm prev}| + 10^{-6}} < \mathrm{tol}.

    It converges to the eigenvalue of largest **magnitude** (not the largest
    algebraic one when a negative eigenvalue is larger in magnitude), at the
    rate :math:`|\lambda_2/\lambda_1|` per HVP, and its stopping rule bounds the
    change of the Rayleigh quotient, not the residual: an eigenvalue error of
    about ``tol`` can leave a residual of order :math:`\sqrt{\mathrm{tol}}`.
    The reported residual is :math:`\|Hv - \lambda v\|` of the last iterate.

    Parameters
    ----------
    hvp, n, seed
        As in :func:`top_eigenpairs`.
    tol : float
        Relative change of the Rayleigh quotient at which it stops, > 0.
    max_hvps : int
        Budget of HVPs.
    start : TopEigen or array_like, optional
        Start vector (the first column is used).

    Returns
    -------
    TopEigen
        With ``k = 1``; ``converged`` says whether the stopping rule was met.

    References
    ----------
    Z. Yao, A. Gholami, K. Keutzer and M. W. Mahoney, *PyHessian: Neural
    Networks Through the Lens of the Hessian*, IEEE BigData 2020
    (arXiv:1912.07145), Alg. 1.
    """
    op = _Operator(hvp, n)
    tol = _tolerance(tol)
    max_hvps = v.as_int(max_hvps, "max_hvps", 1)
    if start is not None:
        u = start.vectors if isinstance(start, TopEigen) else v.finite(start, "start")
        start = u[:, 0] if u.ndim == 2 else u
    x = _start_vector(start, op.n, seed, tol)
    lam_prev, converged = None, False
    while True:
        hx = op(x)
        lam = float(x @ hx)
        res = float(np.linalg.norm(hx - lam * x))
        if lam_prev is not None and abs(lam - lam_prev) / (abs(lam_prev) + 1e-6) < tol:
            converged = True
        norm = np.linalg.norm(hx)
        if converged or op.n_hvps >= max_hvps or norm == 0:
            return TopEigen(np.array([lam]), x[:, None], np.array([res]), op.n_hvps, converged or norm == 0)
        x, lam_prev = hx / norm, lam


def _hutchinson_terms(op: _Operator, count: int, seed, key: str, project=None) -> np.ndarray:
    """``z_i' A z_i`` for Rademacher ``z_i``, with ``A = (I - QQ') H (I - QQ')`` when ``project`` is ``Q``."""
    z = np.column_stack([_rademacher(op.n, seed, key, i) for i in range(count)])
    if project is not None:
        z = z - project @ (project.T @ z)
    return np.einsum("ij,ij->j", z, op(z))


def trace(hvp, *, n=None, n_probes: int = 30, method: str = "hutch++", seed=0) -> Estimate:
    r"""Stochastic estimate of :math:`\mathrm{tr}\,H` from ``n_probes`` HVPs.

    ``"hutchinson"``: :math:`\hat t = \frac1m \sum_{i=1}^m z_i^\top H z_i` with
    Rademacher :math:`z_i` (unbiased, :math:`\mathrm{Var}\,z^\top H z =
    2\sum_{i\ne j} H_{ij}^2`); ``stderr`` is the sample standard deviation of
    the :math:`m` terms over :math:`\sqrt m`.

    ``"hutch++"`` (Meyer, Musco, Musco and Woodruff 2021, Alg. 1): with
    :math:`s = \lfloor m/3 \rfloor` sketch probes :math:`S` and the
    :math:`g = m - 2s` others :math:`G`, :math:`Q = \mathrm{orth}(HS)` and

    .. math::

        \hat t = \mathrm{tr}(Q^\top H Q) + \frac1g\,\mathrm{tr}\big(G^\top (I-QQ^\top) H (I-QQ^\top) G\big),

    exact on the top of the spectrum that :math:`Q` captures and Hutchinson on
    the rest: its variance is far below Hutchinson's when a few large
    eigenvalues carry the trace. ``stderr`` is the standard error of the
    residual Hutchinson part (the spread of its :math:`g` terms over
    :math:`\sqrt g`): it covers the probes :math:`G` given the sketch
    :math:`Q`, not the variation of :math:`Q` itself; the estimator is
    unbiased over both.

    Parameters
    ----------
    hvp, n, seed
        As in :func:`top_eigenpairs`.
    n_probes : int
        Total HVPs :math:`m`: >= 2 for Hutchinson, >= 4 for Hutch++.
    method : {"hutch++", "hutchinson"}

    Returns
    -------
    Estimate
        ``n`` is the number of probes behind the standard error (:math:`m` or :math:`g`).

    References
    ----------
    M. F. Hutchinson, Commun. Stat. Simul. Comput. 19, 433 (1990); R. A. Meyer,
    C. Musco, C. Musco and D. P. Woodruff, *Hutch++: Optimal Stochastic Trace
    Estimation*, SOSA 2021 (arXiv:2010.09649), Alg. 1.
    """
    op = _Operator(hvp, n)
    v.choice(method, "method", ("hutch++", "hutchinson"))
    m = v.as_int(n_probes, "n_probes", 2 if method == "hutchinson" else 4)
    if method == "hutchinson":
        terms = _hutchinson_terms(op, m, seed, "curvature.hutchinson")
        return Estimate(float(terms.mean()), float(terms.std(ddof=1) / np.sqrt(m)), m)
    s = min(m // 3, op.n)
    g = m - 2 * s
    sketch = np.column_stack([_rademacher(op.n, seed, "curvature.hutch++.sketch", i) for i in range(s)])
    q, _ = np.linalg.qr(op(sketch))
    top = float(np.einsum("ij,ij->", q, op(q)))
    terms = _hutchinson_terms(op, g, seed, "curvature.hutch++.residual", project=q)
    return Estimate(top + float(terms.mean()), float(terms.std(ddof=1) / np.sqrt(g)), g)


@dataclass(frozen=True)
class SpectralQuadrature:
    r"""Gauss quadrature rules of the spectral measure, one per probe (stochastic Lanczos quadrature).

    For probe :math:`v_i`, :math:`\sum_j w_{ij} f(\theta_{ij}) \approx v_i^\top f(H) v_i / v_i^\top v_i`,
    exact for polynomials of degree below :math:`2\,\mathrm{n\_steps}`. The field
    ``n`` is the dimension of the operator.

    Attributes
    ----------
    nodes, weights : ndarray, shape (n_probes, n_steps)
        Nodes :math:`\theta_{ij}` and weights :math:`w_{ij} \ge 0` (each row sums
        to 1). A probe whose Krylov space closed early (an invariant subspace)
        has fewer nodes: its remaining entries have weight 0 and repeat its
        last node.
    n_hvps : int
        HVPs spent (``n_probes * n_steps`` at most).
    """

    nodes: np.ndarray
    weights: np.ndarray
    n: int
    n_hvps: int

    def density(self, grid, width):
        r"""Gaussian-smoothed spectral density :math:`\phi(t) = \frac{1}{n_v}\sum_{ij} w_{ij}\,
        \mathcal N(t; \theta_{ij}, \mathrm{width}^2)` at the points ``grid``; it integrates to 1 over the line."""
        t = v.finite(grid, "grid")
        s = float(v.positive(width, "width"))
        z = (t[..., None, None] - self.nodes) / s
        return np.sum(self.weights * np.exp(-0.5 * z * z), axis=(-2, -1)) / (
            self.nodes.shape[0] * s * np.sqrt(2 * np.pi))

    def expect(self, f: Callable) -> Estimate:
        r"""Estimate of :math:`\frac1n \mathrm{tr} f(H)`: the mean over probes of
        :math:`\sum_j w_{ij} f(\theta_{ij})`, with its standard error across probes.

        ``f`` is applied elementwise to the array of nodes and must return
        finite values there. With a single probe the standard error is
        undefined and is NaN.
        """
        if not callable(f):
            raise TypeError(f"f must be a callable applied to an array of nodes; got {type(f).__name__}")
        with np.errstate(all="ignore"):  # a non-finite value is refused below, naming f
            vals = v.finite(f(self.nodes.copy()), "f(nodes)")
        if vals.shape != self.nodes.shape:
            raise DomainError(f"f must return an array of the nodes' shape {self.nodes.shape}; got {vals.shape}")
        per_probe = np.sum(self.weights * vals, axis=1)
        m = per_probe.size
        err = float(per_probe.std(ddof=1) / np.sqrt(m)) if m > 1 else float("nan")
        return Estimate(float(per_probe.mean()), err, m)

    def _scaled(self, f) -> Estimate:
        est = self.expect(f)
        return Estimate(est.value * self.n, est.stderr * self.n, est.n)

    def effective_number(self, alpha, *, negative: str = "raise") -> Estimate:
        r"""Estimate of :math:`N_{\rm eff}(\alpha) = \sum_i \lambda_i/(\lambda_i+\alpha)`
        (:func:`theory.sharpness.effective_number` from the quadrature), :math:`\alpha \ge 0`.

        ``negative="raise"``: every node must satisfy :math:`\theta + \alpha > 0`
        (the term is singular at :math:`\theta = -\alpha`); the Gauss rule
        integrates the smooth :math:`\lambda/(\lambda+\alpha)` with an error that
        falls geometrically with ``n_steps``. ``negative="clip"``: negative
        nodes count as 0, as :func:`theory.sharpness.effective_number` clips
        negative eigenvalues (away from a minimum); the integrand then has a
        kink at 0, and the rule's error falls only algebraically there.
        """
        a = float(v.nonnegative(v.scalar(alpha, "alpha"), "alpha", allow_inf=False))
        negative = v.choice(negative, "negative", ("raise", "clip"))
        if negative == "clip":
            return self._scaled(lambda x: np.maximum(x, 0.0) / (np.maximum(x, 0.0) + a) if a > 0
                                else (x > 0).astype(float))
        if np.any(self.nodes + a <= 0):
            raise DomainError(f"alpha must exceed -(smallest node) = {-float(self.nodes.min())!r} so that "
                              f"lambda + alpha > 0 at every node, or negative='clip'; got {a!r}")
        return self._scaled(lambda x: x / (x + a))

    def count_above(self, level, width: float = 0.0) -> Estimate:
        r"""Estimate of the number of eigenvalues above ``level``,
        :math:`n \cdot \frac1n \mathrm{tr}\,\mathbb 1[H > \ell]`.

        With ``width = 0`` each node counts its whole weight when above the
        level. The quadrature puts the mass of the spectrum near a node on it,
        so eigenvalues within about one node spacing of the level (the bulk
        width over ``n_steps``) are counted all or nothing: the estimate is
        unbiased for a level inside a gap of the spectrum (e.g. between a bulk
        and its outliers, once the outliers' nodes have converged) and biased
        by up to the bulk mass of one node when the level cuts through the
        bulk. ``width > 0`` replaces the step by the Gaussian CDF
        :math:`\Phi((\theta - \ell)/\mathrm{width})` (the count of
        :meth:`density` above the level), which trades that jitter for a bias
        toward the density smoothed over ``width``.
        """
        lev = v.scalar(level, "level")
        s = float(v.nonnegative(v.scalar(width, "width"), "width", allow_inf=False))
        if s == 0:
            return self._scaled(lambda x: (x > lev).astype(np.float64))
        return self._scaled(lambda x: special.ndtr((x - lev) / s))


def _quadrature(op: _Operator, probe: np.ndarray, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Lanczos (full reorthogonalisation) from ``probe``: nodes and Gauss weights of its tridiagonal matrix."""
    basis = np.zeros((op.n, steps), order="F")
    alpha, beta = np.zeros(steps), np.zeros(steps)
    basis[:, 0] = probe / np.linalg.norm(probe)
    size = steps
    for j in range(steps):
        w, h = _orthogonalise(basis[:, :j + 1], op(basis[:, j]))
        alpha[j] = h[j]
        beta[j] = np.linalg.norm(w)
        if j + 1 == steps:
            break
        if beta[j] <= 1e-13 * max(np.abs(alpha[:j + 1]).max(), beta[:j].max(initial=0.0)):
            size = j + 1  # an invariant subspace: the rule is exact for every polynomial
            break
        basis[:, j + 1] = w / beta[j]
    t = np.diag(alpha[:size]) + np.diag(beta[:size - 1], 1) + np.diag(beta[:size - 1], -1)
    theta, z = np.linalg.eigh(t)
    nodes, weights = np.full(steps, theta[-1]), np.zeros(steps)
    nodes[:size], weights[:size] = theta, z[0] ** 2
    return nodes, weights


def spectral_density(hvp, *, n=None, n_probes: int = 10, n_steps: int = 80, seed=0,
                     probes=None) -> SpectralQuadrature:
    r"""Stochastic Lanczos quadrature of the spectral measure :math:`\frac1n\sum_i \delta(t - \lambda_i)`.

    For each probe :math:`v` (Rademacher, or a column of ``probes``)
    ``n_steps`` Lanczos steps with full reorthogonalisation give the
    tridiagonal :math:`T = Y \Theta Y^\top`. The Gauss quadrature rule of the
    measure :math:`\mu_v = \sum_i (u_i^\top v)^2/\|v\|^2\,\delta_{\lambda_i}` has

    .. math::

        \text{nodes } \theta_j \text{ (eigenvalues of } T), \qquad
        \text{weights } w_j = (e_1^\top y_j)^2 = Y_{1j}^2,

    the **squared first components** of the eigenvectors of :math:`T` (not the
    first components themselves, and not a uniform weight per node), so
    that :math:`\sum_j w_j \theta_j^p = v^\top H^p v / v^\top v` exactly for
    :math:`p < 2\,\mathrm{n\_steps}` and :math:`\sum_j w_j = 1`. Averaged over
    Rademacher probes :math:`E[v^\top f(H) v / v^\top v] = \frac1n \mathrm{tr}
    f(H)` (:math:`v^\top v = n`).

    Memory: the Lanczos basis of one probe, ``n * n_steps`` floats (640 MB
    for :math:`n = 10^6` and 80 steps), is kept for the reorthogonalisation;
    :func:`top_eigenpairs` keeps :math:`n (m + 1)` floats.

    Parameters
    ----------
    hvp, n, seed
        As in :func:`top_eigenpairs`.
    n_probes : int
        Number of Rademacher probes (>= 1; >= 2 for standard errors).
    n_steps : int
        Lanczos steps per probe, ``1 <= n_steps`` (capped at ``n``).
    probes : array_like, shape (n, n_probes), optional
        Probe vectors to use instead of Rademacher ones (then ``n_probes`` is
        their number).

    Returns
    -------
    SpectralQuadrature

    References
    ----------
    S. Ubaru, J. Chen and Y. Saad, *Fast estimation of tr(f(A)) via stochastic
    Lanczos quadrature*, SIAM J. Matrix Anal. Appl. 38, 1075 (2017);
    B. Ghorbani, S. Krishnan and Y. Xiao, *An investigation into neural net
    optimization via Hessian eigenvalue density*, ICML 2019; G. H. Golub and
    J. H. Welsch, Math. Comp. 23, 221 (1969).
    """
    op = _Operator(hvp, n)
    steps = min(v.as_int(n_steps, "n_steps", 1), op.n)
    if probes is None:
        count = v.as_int(n_probes, "n_probes", 1)
        vecs = [_rademacher(op.n, seed, "curvature.slq", i) for i in range(count)]
    else:
        arr = v.finite(probes, "probes")
        if arr.ndim != 2 or arr.shape[0] != op.n or arr.shape[1] == 0:
            raise DomainError(f"probes must have shape (n, n_probes) with n = {op.n}; got {arr.shape}")
        norms = np.linalg.norm(arr, axis=0)
        v.require(norms, norms > 0, "probes", "nonzero vectors")
        vecs = list(arr.T)
    rules = [_quadrature(op, p, steps) for p in vecs]
    return SpectralQuadrature(np.array([r[0] for r in rules]), np.array([r[1] for r in rules]), op.n, op.n_hvps)


def _block_indices(block, n: int, i: int) -> np.ndarray:
    name = f"blocks[{i}]"
    if isinstance(block, slice):
        idx = np.arange(n)[block]
    else:
        raw = np.asarray(block)
        if raw.dtype == bool or not np.issubdtype(raw.dtype, np.integer):
            raise TypeError(f"{name} must be a slice or an array of integer indices; got dtype {raw.dtype}")
        idx = raw.ravel()
        v.require(idx, (idx >= 0) & (idx < n), name, f"indices in [0, {n})")
        if np.unique(idx).size != idx.size:
            raise DomainError(f"{name} must not repeat an index")
    if idx.size == 0:
        raise DomainError(f"{name} must select at least one index")
    return idx


def block_sharpness(hvp, blocks, *, n=None, tol: float = 1e-8, seed=0) -> BlockSharpness:
    r"""Top eigenvalue of each diagonal block :math:`P_b H P_b` (e.g. one block per layer).

    :math:`P_b` is the coordinate projection on the indices of block
    :math:`b`, and :math:`\lambda_{\max}(P_b H P_b)` restricted to its range is
    the top eigenvalue of the submatrix :math:`H_{bb}`, found by
    :func:`top_eigenpairs` with ``k = 1`` on :math:`x \mapsto (H\,P_b x)_b`
    (one HVP of the full operator each). By Cauchy interlacing
    :math:`\lambda_{\min}(H) \le \lambda_{\max}(H_{bb}) \le \lambda_{\max}(H)`.

    Parameters
    ----------
    hvp, n, tol, seed
        As in :func:`top_eigenpairs`.
    blocks : sequence of slices or integer index arrays
        The blocks (they may overlap; each is taken on its own).

    Returns
    -------
    BlockSharpness
    """
    op = _Operator(hvp, n)
    tol = _tolerance(tol)
    if isinstance(blocks, (slice, np.ndarray)) or not hasattr(blocks, "__iter__"):
        raise TypeError("blocks must be a list of slices or integer index arrays")
    blocks = list(blocks)
    if not blocks:
        raise DomainError("blocks must hold at least one block")
    results = []
    for i, block in enumerate(blocks):
        idx = _block_indices(block, op.n, i)
        if op.matrix is not None:
            sub = op.matrix[np.ix_(idx, idx)]
            results.append(top_eigenpairs(sub, 1, tol=tol, seed=derive(seed, "curvature.block", i)))
            continue

        def restricted(x, idx=idx):
            full = np.zeros(op.n)
            full[idx] = x
            return op(full)[idx]

        results.append(top_eigenpairs(restricted, 1, n=idx.size, tol=tol, seed=derive(seed, "curvature.block", i)))
    return BlockSharpness(np.array([r.values[0] for r in results]), np.array([r.residuals[0] for r in results]),
                          np.array([r.n_hvps for r in results], dtype=np.int64),
                          np.array([r.converged for r in results]))
