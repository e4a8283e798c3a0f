r"""Flatness measures computed from a Hessian: effective number of parameters, top and preconditioned eigenvalues.

Conventions
-----------
``eigenvalues`` are Hessian eigenvalues :math:`\lambda_i` along the **last
axis** of an array; every leading axis is a batch axis, and the other
arguments broadcast against the leading shape (a scalar ``alpha`` applies to
every spectrum, an array of shape ``eigenvalues.shape[:-1]`` gives one per
spectrum). Matrices are ``(..., n, n)`` and symmetric. A Hessian may instead be
given as a Hessian-vector-product callable ``hvp(v) -> H v`` on vectors of
length ``n``.

Sharpness is the top *algebraic* eigenvalue :math:`\lambda_{\max}(H)` (the
quantity the GD stability bound :math:`\lambda_{\max} < 2/\mathrm{lr}` refers
to), not the largest magnitude, unless ``which="LM"`` is asked for.

What is here and what is not
----------------------------
- :func:`effective_number`: MacKay's :math:`\gamma`, Moody's
  :math:`p_{\rm eff}`, :math:`N_{\rm eff}(\alpha) = \sum_i \lambda_i/(\lambda_i+\alpha)`.
- :func:`count_above`: the number of eigenvalues above a level.
- :func:`top_eigenvalues`, :func:`top_eigenvalue`: dense ``eigvalsh`` or
  Lanczos (``scipy.sparse.linalg.eigsh`` on a ``LinearOperator``).
- :func:`adaptive_sharpness`: :math:`\lambda_{\max}(\mathrm{diag}(p)^{-1}H)`.
- :func:`trace_ratio`: :math:`\mathrm{Tr}(G^{-1}H)`.
- **No** ``sane_alpha``. SANE ("Sharpness Adjusted Number of Effective
  parameters", arXiv:2305.18490, 2023) is an effective number of parameters
  adjusted for the local sharpness; its choice of the regulariser
  :math:`\alpha` (and how it is tied to the learning rate) is not
  implemented here. With :math:`\alpha` given, :func:`effective_number`
  evaluates the sum.

The Marchenko-Pastur limit of :func:`effective_number` is
:func:`theory.marchenko_pastur.mp_effective_number` (arguments ``alpha, ratio,
n_params, scale``: a law, not eigenvalues).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.sparse import linalg as splinalg

from . import _validate as v
from .errors import DomainError

__all__ = [
    "effective_number",
    "count_above",
    "top_eigenvalues",
    "top_eigenvalue",
    "adaptive_sharpness",
    "trace_ratio",
]

# Dense eigvalsh below this dimension (or when k is close to n); Lanczos above.
_DENSE_MAX = 600
_NEGATIVE_MODES = ("raise", "clip", "abs")


def _spectra(eigenvalues, name: str = "eigenvalues") -> np.ndarray:
    lam = v.finite(eigenvalues, name)
    if lam.ndim == 0:
        lam = lam[None]
    if lam.shape[-1] == 0:
        raise DomainError(f"{name} must hold at least one eigenvalue along its last axis")
    return lam


def _ratio(lam: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    r"""``lam / (lam + alpha)`` for ``lam + alpha > 0`` (or both 0, giving 0), ``alpha`` possibly inf.

    Both are scaled by the same power of two (exact unless the smaller one
    underflows, in which case the ratio is below the float range anyway), so
    ``lam + alpha`` cannot overflow and the result has two roundings: a
    relative error below eps, i.e. within two ulp of the exact ratio (also for
    subnormal results).
    """
    inf = np.isinf(alpha)
    a = np.where(inf, 0.0, alpha)
    big = np.maximum(np.abs(lam), np.abs(a))
    zero = big == 0
    _, e = np.frexp(np.where(zero, 1.0, big))
    ls, as_ = np.ldexp(lam, -e), np.ldexp(a, -e)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = ls / (ls + as_)
    return np.where(inf | zero, 0.0, out)


def effective_number(eigenvalues, alpha, *, negative: str = "raise"):
    r"""Effective number of parameters :math:`N_{\rm eff}(\alpha) = \sum_i \lambda_i/(\lambda_i + \alpha)`.

    MacKay's :math:`\gamma` (the number of well-determined parameters of a
    Gaussian posterior with prior precision :math:`\alpha`) and Moody's
    :math:`p_{\rm eff}`: each direction counts :math:`\approx 1` when its
    curvature dominates the prior (:math:`\lambda_i \gg \alpha`) and
    :math:`\approx 0` when it is flat (:math:`\lambda_i \ll \alpha`). For a
    Marchenko-Pastur spectrum it equals :math:`P(1 - \alpha\,m(-\alpha))`,
    :math:`m` the Stieltjes transform
    (:func:`theory.marchenko_pastur.mp_effective_number`).

    Parameters
    ----------
    eigenvalues : array_like, shape (..., n)
        Finite Hessian eigenvalues along the last axis (a scalar is one
        eigenvalue).
    alpha : array_like
        :math:`\alpha \ge 0`, ``inf`` allowed (giving 0); broadcasts against
        ``eigenvalues.shape[:-1]``.
    negative : {"raise", "clip", "abs"}
        Away from a minimum a Hessian has negative eigenvalues, and
        :math:`\lambda/(\lambda+\alpha)` is singular at :math:`\lambda = -\alpha`
        and negative, or greater than 1, around it. ``"raise"`` (default)
        accepts a negative :math:`\lambda` only where :math:`\lambda + \alpha > 0`
        (the term is then negative, and the Stieltjes identity above still
        holds) and raises :class:`~theory.DomainError` where
        :math:`\lambda + \alpha \le 0`. ``"clip"`` replaces negative
        eigenvalues by 0 (counting positive curvature only); ``"abs"`` uses
        :math:`|\lambda|` (the saddle-free convention).

    Returns
    -------
    float or ndarray
        Shape ``broadcast(eigenvalues.shape[:-1], alpha.shape)``; a float when
        ``eigenvalues`` is 1-D (or scalar) and ``alpha`` scalar.

    Notes
    -----
    Limits: :math:`\alpha = \infty` gives 0; :math:`\alpha = 0` gives the number
    of nonzero eigenvalues (a zero eigenvalue contributes its
    :math:`\alpha\to 0^+` limit, 0). Each term is formed after scaling
    :math:`\lambda` and :math:`\alpha` by a common power of two, so nothing
    overflows for any finite inputs and each term is within two ulp; the sum
    adds pairwise-summation error (``numpy.sum``).

    References
    ----------
    D. J. C. MacKay, *Bayesian interpolation*, Neural Computation 4, 415 (1992),
    Eq. (4.12) (:math:`\gamma`); J. E. Moody, *The effective number of
    parameters*, NeurIPS 4 (1992).
    """
    v.choice(negative, "negative", _NEGATIVE_MODES)
    raw = np.asarray(eigenvalues)
    lam = _spectra(eigenvalues)
    a = v.nonnegative(alpha, "alpha")
    v.broadcast_together(eigenvalues_leading_axes=lam[..., 0], alpha=a)
    if negative == "clip":
        lam = np.maximum(lam, 0.0)
    elif negative == "abs":
        lam = np.abs(lam)
    a_full = a[..., None]
    if negative == "raise":
        ok = (lam > -a_full) | ((lam == 0) & (a_full == 0))  # lam + alpha > 0 without forming the sum
        if not np.all(ok):
            shape = np.broadcast_shapes(lam.shape, a_full.shape)
            lam_b, a_b = np.broadcast_to(lam, shape), np.broadcast_to(a_full, shape)
            bad = ~np.broadcast_to(ok, shape)
            raise DomainError(
                f"eigenvalues must satisfy eigenvalue + alpha > 0 (lambda/(lambda + alpha) is singular at "
                f"lambda = -alpha); got eigenvalue {float(lam_b[bad][0])!r} with alpha {float(a_b[bad][0])!r} "
                f"({int(bad.sum())} such). Pass negative='clip' or negative='abs' to treat negative "
                f"curvature explicitly")
    out = np.sum(_ratio(lam, a_full), axis=-1)
    return v.scalar_out(out, raw[..., 0] if raw.ndim else raw, a)


def count_above(eigenvalues, level):
    r"""Number of eigenvalues strictly above ``level``: :math:`\#\{i : \lambda_i > \ell\}`.

    With ``level = 2/lr`` it counts the directions in which GD with learning
    rate ``lr`` is unstable; with ``level = alpha`` it is the hard-threshold
    version of :func:`effective_number`.

    Parameters
    ----------
    eigenvalues : array_like, shape (..., n)
    level : array_like
        Any real (``±inf`` allowed); broadcasts against ``eigenvalues.shape[:-1]``.

    Returns
    -------
    int or ndarray of int64
    """
    raw = np.asarray(eigenvalues)
    lam = _spectra(eigenvalues)
    lev = v.as_float(level, "level")
    v.broadcast_together(eigenvalues_leading_axes=lam[..., 0], level=lev)
    out = np.count_nonzero(lam > lev[..., None], axis=-1)
    if raw.ndim <= 1 and lev.ndim == 0:
        return int(out)
    return np.asarray(out, dtype=np.int64)


def _as_operator(hessian, n, name: str = "hessian"):
    """(dense matrix stack or None, matvec callable or None, n)."""
    if callable(hessian) and not isinstance(hessian, np.ndarray):
        n = v.as_int(n, "n", 1) if n is not None else None
        if n is None:
            raise DomainError(f"n (the dimension) is required when {name} is a Hessian-vector-product callable")
        return None, hessian, n
    h = v.finite(hessian, name)
    if h.ndim < 2 or h.shape[-1] != h.shape[-2]:
        raise DomainError(f"{name} must be a square matrix (or a stack of them, shape (..., n, n)); "
                          f"got shape {h.shape}")
    scale = np.abs(h).max(initial=0.0)
    if np.abs(h - np.swapaxes(h, -1, -2)).max(initial=0.0) > 1e-10 * scale:
        raise DomainError(f"{name} must be symmetric")
    if n is not None and v.as_int(n, "n", 1) != h.shape[-1]:
        raise DomainError(f"n must equal the matrix dimension {h.shape[-1]}; got {n}")
    return h, None, h.shape[-1]


def _lanczos(matvec: Callable, n: int, k: int, which: str, tol: float, seed) -> np.ndarray:
    op = splinalg.LinearOperator((n, n), matvec=lambda x: np.asarray(matvec(np.ravel(x)), dtype=np.float64),
                                 dtype=np.float64)
    v0 = np.random.default_rng(seed).standard_normal(n)
    vals = splinalg.eigsh(op, k=k, which=which, v0=v0, tol=tol, return_eigenvectors=False)
    return vals


def top_eigenvalues(hessian, k: int = 1, *, n=None, which: str = "LA", method: str = "auto", tol: float = 0.0,
                    seed=0):
    r"""The ``k`` largest eigenvalues of a symmetric matrix or Hessian-vector-product operator, descending.

    Parameters
    ----------
    hessian : array_like, shape (..., n, n), or callable
        A symmetric matrix (or a stack of them; checked to 1e-10 relative), or
        ``hvp(v) -> H v`` taking and returning vectors of length ``n``.
    k : int
        How many, ``1 <= k <= n``.
    n : int, optional
        Dimension; required for a callable.
    which : {"LA", "LM"}
        Largest algebraic (sharpness, the default) or largest magnitude
        (sorted by magnitude, descending, sign kept).
    method : {"auto", "dense", "lanczos"}
        ``"dense"``: ``numpy.linalg.eigvalsh`` (matrices only; exact to
        rounding). ``"lanczos"``: ``scipy.sparse.linalg.eigsh`` (implicitly
        restarted Lanczos, ARPACK) on a ``LinearOperator``; needs ``k < n``.
        ``"auto"``: Lanczos for a callable or for ``n > 600`` with
        ``k < n - 1``, dense otherwise.
    tol : float
        Lanczos relative accuracy (0: machine precision).
    seed : int
        Seed of the Lanczos start vector (for reproducibility).

    Returns
    -------
    ndarray, shape (..., k)
    """
    k = v.as_int(k, "k", 1)
    v.choice(which, "which", ("LA", "LM"))
    v.choice(method, "method", ("auto", "dense", "lanczos"))
    tol = v.scalar(tol, "tol")
    v.require(tol, tol >= 0, "tol", ">= 0 (0: machine precision)")
    h, matvec, dim = _as_operator(hessian, n)
    if k > dim:
        raise DomainError(f"k must be <= n = {dim}; got {k}")
    if method == "auto":
        method = "lanczos" if (h is None or (dim > _DENSE_MAX and k < dim - 1)) else "dense"
    if method == "dense":
        if h is None:
            raise DomainError("method='dense' needs a matrix, not a callable")
        lam = np.linalg.eigvalsh(h)
        if which == "LM":
            order = np.argsort(-np.abs(lam), axis=-1, kind="stable")
            return np.take_along_axis(lam, order, axis=-1)[..., :k]
        return lam[..., ::-1][..., :k]
    if k >= dim:
        raise DomainError(f"k must be < n = {dim} for method='lanczos'; got {k}")
    if h is not None:
        stack = h.reshape(-1, dim, dim)
        vals = np.stack([_lanczos(lambda x, m=m: m @ x, dim, k, which, tol, seed) for m in stack])
        vals = vals.reshape(h.shape[:-2] + (k,))
    else:
        vals = _lanczos(matvec, dim, k, which, tol, seed)
    key = -np.abs(vals) if which == "LM" else -vals
    return np.take_along_axis(vals, np.argsort(key, axis=-1, kind="stable"), axis=-1)


def top_eigenvalue(hessian, *, n=None, which: str = "LA", method: str = "auto", tol: float = 0.0, seed=0):
    r"""Sharpness :math:`\lambda_{\max}(H)`: :func:`top_eigenvalues` with ``k = 1``.

    Returns a float for a single matrix or callable, an array of shape
    ``hessian.shape[:-2]`` for a stack.
    """
    out = top_eigenvalues(hessian, 1, n=n, which=which, method=method, tol=tol, seed=seed)[..., 0]
    return float(out) if np.ndim(out) == 0 else out


def adaptive_sharpness(hessian, precond, *, k: int = 1, n=None, method: str = "auto", tol: float = 0.0, seed=0):
    r"""Preconditioned ("adaptive") sharpness :math:`\lambda_{\max}(\mathrm{diag}(p)^{-1} H)`.

    .. math::

        \lambda_{\max}\big(D^{-1}H\big) = \lambda_{\max}\big(D^{-1/2} H D^{-1/2}\big),
        \qquad D = \mathrm{diag}(p),\ p_i > 0,

    the two matrices being similar (:math:`D^{-1}H = D^{-1/2}(D^{-1/2}HD^{-1/2})D^{1/2}`),
    so the eigenvalues of the non-symmetric product are real and are computed
    from the symmetric form (dense ``eigvalsh`` or Lanczos on
    :math:`v \mapsto D^{-1/2} H (D^{-1/2} v)`). For a preconditioned update
    :math:`\theta_+ = \theta - \eta D^{-1}\nabla L` on a quadratic the step is
    stable iff every eigenvalue of :math:`D^{-1}H` is below :math:`2/\eta`.

    Parameters
    ----------
    hessian : array_like (..., n, n) or callable
        As in :func:`top_eigenvalues`.
    precond : array_like, shape (..., n)
        The diagonal :math:`p > 0` (finite), e.g. Adam's
        :math:`\sqrt{\hat v} + \epsilon` or IVON's :math:`h + \delta`.
    k : int
        Number of top eigenvalues (returns shape (..., k) when k > 1).

    Returns
    -------
    float or ndarray

    References
    ----------
    J. M. Cohen et al., *Adaptive Gradient Methods at the Edge of Stability*
    (2022, arXiv:2207.14484): "preconditioned sharpness"
    :math:`\lambda_{\max}(P^{-1}H)`; used with IVON's preconditioner in
    Y. Shen et al., *Variational Learning is Effective for Large Deep
    Networks*, ICML 2024 (arXiv:2402.17641). (The formula is the definition
    above; the IVON paper's own notation was not checked here.)
    """
    p = v.positive(precond, "precond")
    d = 1.0 / np.sqrt(p)
    h, matvec, dim = _as_operator(hessian, n)
    if p.shape[-1:] != (dim,) and p.ndim > 0:
        raise DomainError(f"precond must have length n = {dim} along its last axis; got shape {p.shape}")
    if h is not None:
        d = np.broadcast_to(d, h.shape[:-1])
        s = d[..., :, None] * h * d[..., None, :]
        s = 0.5 * (s + np.swapaxes(s, -1, -2))
        out = top_eigenvalues(s, k, method=method, tol=tol, seed=seed)
    else:
        if d.ndim > 1:
            raise DomainError("precond must be 1-D when hessian is a callable")
        d = np.broadcast_to(d, (dim,))
        out = top_eigenvalues(lambda x: d * np.asarray(matvec(d * x)), k, n=dim, method=method, tol=tol, seed=seed)
    if k == 1:
        out = out[..., 0]
        return float(out) if np.ndim(out) == 0 else out
    return out


def _quotients(num, den):
    """``num / den`` as ``(m, e)`` with ``m * 2**e`` the quotient, ``|m|`` in (1/2, 2) or 0 (no overflow)."""
    mn, en = np.frexp(num)
    md, ed = np.frexp(den)
    return mn / md, en.astype(np.int64) - ed


def _scaled_sum(mq, eq):
    """``sum(mq * 2**eq, axis=-1)``, formed at the largest exponent of its row and scaled back last.

    So the sum over- or underflows only where the exact sum does (no
    intermediate inf, no ``inf - inf``).
    """
    top = np.max(np.where(mq != 0, eq, np.iinfo(np.int64).min // 2), axis=-1, keepdims=True)
    top = np.where(top < -(2**40), 0, top)  # an all-zero row
    rel = np.maximum(eq - top, -1100)
    total = np.sum(np.ldexp(mq, rel.astype(np.int32)), axis=-1)
    with np.errstate(over="ignore"):
        return np.ldexp(total, top[..., 0].astype(np.int32))


def trace_ratio(G, H):
    r"""Trace ratio :math:`\mathrm{Tr}(G^{-1}H)` of a curvature matrix :math:`H` against a metric :math:`G`.

    .. math:: \mathrm{Tr}(G^{-1}H) = \sum_{ij} (G^{-1})_{ij} H_{ji},

    computed by a linear solve (never forming :math:`G^{-1}`), with
    :math:`G` checked to be symmetric positive definite by its Cholesky
    factorisation. A diagonal metric may be given as a vector :math:`g`, in which
    case the result is :math:`\sum_i H_{ii}/g_i`. It is the sum of the
    eigenvalues of :math:`G^{-1}H` (real when :math:`H` is symmetric): the
    sharpness of :math:`H` measured in the geometry of :math:`G`, invariant
    under reparametrisations :math:`\theta \mapsto A\theta` that transform both
    as :math:`A^{-\top}(\cdot)A^{-1}`.

    Parameters
    ----------
    G : array_like, shape (..., n, n) or (..., n)
        Symmetric positive definite matrix, or the positive diagonal. A 2-D
        ``G`` of shape (n, n) is always a matrix (never n diagonals).
    H : array_like, shape (..., n, n)
        Square (need not be symmetric or definite). Leading axes broadcast.

    Returns
    -------
    float or ndarray

    References
    ----------
    J. Williams and S. Roberts, *G-TRACER: Expected Sharpness Optimization*
    (2023, arXiv:2306.13914): the "Geometric TRACE Ratio" regulariser, the trace
    of :math:`G^{-1}H` with :math:`G` a Fisher (natural-gradient) metric. Any
    weighting of it in an objective (a scale factor, a prior term in the
    metric) is left to the caller.
    """
    h = v.finite(H, "H")
    if h.ndim < 2 or h.shape[-1] != h.shape[-2]:
        raise DomainError(f"H must be square, shape (..., n, n); got {h.shape}")
    g = v.finite(G, "G")
    n = h.shape[-1]
    if g.ndim >= 1 and g.shape[-1] == n and (g.ndim == 1 or g.shape[-2:] != (n, n)):
        v.require(g, g > 0, "G", "positive (a diagonal metric)")
        diag = np.diagonal(h, axis1=-2, axis2=-1)
        v.broadcast_together(G=g, H_diagonal=diag)
        with np.errstate(over="ignore", invalid="ignore"):
            out = np.sum(diag / g, axis=-1)
        # a quotient beyond the float range (or inf - inf): the sum with magnitudes factored out
        redo = ~np.isfinite(out)
        if np.any(redo):
            d_b, g_b = np.broadcast_arrays(diag, g)
            out = np.where(redo, _scaled_sum(*_quotients(d_b, g_b)), out)
        return float(out) if np.ndim(out) == 0 else out
    if g.ndim < 2 or g.shape[-2:] != (n, n):
        raise DomainError(f"G must be (..., {n}, {n}) or (..., {n}) to match H; got shape {g.shape}")
    scale = np.abs(g).max(initial=0.0)
    if np.abs(g - np.swapaxes(g, -1, -2)).max(initial=0.0) > 1e-10 * scale:
        raise DomainError("G must be symmetric")
    try:
        np.linalg.cholesky(g)
    except np.linalg.LinAlgError:
        raise DomainError("G must be positive definite (its Cholesky factorisation failed)") from None
    shape = v.broadcast_together(G_stack=g[..., 0, 0], H_stack=h[..., 0, 0]) if n else \
        np.broadcast_shapes(g.shape[:-2], h.shape[:-2])
    with np.errstate(over="ignore", invalid="ignore"):
        x = np.linalg.solve(np.broadcast_to(g, shape + (n, n)), np.broadcast_to(h, shape + (n, n)))
        out = np.trace(x, axis1=-2, axis2=-1)
    redo = ~np.isfinite(out)
    if np.any(redo):
        # Tr(G^-1 H) = 2**(b - a) Tr((G 2**-a)^-1 (H 2**-b)): powers of two taken out of each matrix
        # (exactly), the trace summed with magnitudes factored out
        _, a = np.frexp(np.abs(g).max(axis=(-2, -1), keepdims=True))
        _, b = np.frexp(np.abs(h).max(axis=(-2, -1), keepdims=True))
        gs, hs = np.ldexp(g, -a), np.ldexp(h, -b)
        xs = np.linalg.solve(np.broadcast_to(gs, shape + (n, n)), np.broadcast_to(hs, shape + (n, n)))
        m, e = np.frexp(np.diagonal(xs, axis1=-2, axis2=-1))
        redone = _scaled_sum(m, e.astype(np.int64) + (b - a)[..., 0].astype(np.int64))
        out = np.where(redo, redone, out)
    return float(out) if np.ndim(out) == 0 else out
