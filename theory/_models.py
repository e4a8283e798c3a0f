"""The optional part of the :class:`~theory.hessian_models.LossModel` protocol, with fallbacks (private).

Consumers of a model (training, gradient noise, escape, spectra) need only
its minimal part, ``loss``, ``gradient``, ``hvp``, ``n_params``, ``n_data``;
these helpers call an optional method when the model has it, compute it from
the minimal part where that is exact (the dense Hessian from ``P``
Hessian-vector products), and otherwise raise a TypeError that names the
missing method and what needed it.
"""

from __future__ import annotations

import numpy as np

from . import _validate as v
from .errors import DomainError

MINIMAL = ("loss", "gradient", "hvp", "n_params", "n_data")


def missing_method(model, method, purpose: str) -> TypeError:
    """The TypeError for a model without ``method`` (a name, or a tuple of alternatives), saying what needed it."""
    names = " or ".join(repr(m) for m in ((method,) if isinstance(method, str) else method))
    return TypeError(f"model {type(model).__name__} has no method {names}, which {purpose} needs "
                     f"(the optional part of the LossModel protocol; see theory.hessian_models.LossModel)")


def require_minimal(model, name: str = "model") -> None:
    """TypeError naming every member of the minimal protocol that ``model`` lacks."""
    absent = [m for m in MINIMAL if not hasattr(model, m)]
    if absent:
        raise TypeError(f"{name} must provide {', '.join(MINIMAL)} (theory.hessian_models.MinimalLossModel); "
                        f"{type(model).__name__} has no {', '.join(absent)}")


def as_theta(model, theta, name: str = "theta") -> np.ndarray:
    """``theta`` as a finite float64 vector of shape ``(model.n_params,)``; DomainError otherwise."""
    theta = v.finite(theta, name)
    if theta.shape != (model.n_params,):
        raise DomainError(f"{name} must have shape ({model.n_params},); got {theta.shape}")
    return theta


def as_batch(batch, n_data: int):
    """None, or ``batch`` as a 1-D int64 array of example indices in [0, n_data) (a scalar is a batch of one)."""
    if batch is None:
        return None
    arr = np.asarray(batch)
    if arr.size == 0:
        raise DomainError("batch must hold at least one example index; got an empty array")
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"batch must be an array of integer example indices; got dtype {arr.dtype}")
    arr = np.atleast_1d(arr)
    if arr.ndim != 1:
        raise DomainError(f"batch must be a 1-D array of example indices; got shape {arr.shape}")
    v.require(arr, (arr >= 0) & (arr < n_data), "batch", f"indices in [0, {n_data})")
    return arr.astype(np.int64, copy=False)


def finite_result(model, result: np.ndarray, method: str, theta) -> np.ndarray:
    """``result`` unless it holds NaN or inf: then a DomainError naming the model's ``method`` and ``theta``.

    A consumer (an eigensolver, a linear solve) cannot use a non-finite
    Hessian; without this check ARPACK or LAPACK fail with messages about
    their own internals.
    """
    if not np.all(np.isfinite(result)):
        bad = int(np.size(result) - np.count_nonzero(np.isfinite(result)))
        norm = float(np.max(np.abs(np.asarray(theta, dtype=np.float64)), initial=0.0))
        raise DomainError(f"model {type(model).__name__}.{method} is not finite at theta (max |theta| = {norm:.3g}; "
                          f"{bad} of {np.size(result)} entries NaN or inf): the Hessian there cannot be used; "
                          "the model, or the parameters reached (a diverging run), are at fault")
    return result


def hvp(model, theta, vec) -> np.ndarray:
    """``model.hvp(theta, vec)``, else ``model.hessian(theta) @ vec``; DomainError when not finite."""
    if hasattr(model, "hvp"):
        return finite_result(model, np.asarray(model.hvp(theta, vec), dtype=np.float64), "hvp", theta)
    if hasattr(model, "hessian"):
        return finite_result(model, model.hessian(theta) @ vec, "hessian", theta)
    raise missing_method(model, "hvp", "a Hessian-vector product")


def dense_hessian(model, theta) -> np.ndarray:
    """``model.hessian(theta)``, else the columns ``hvp(theta, e_j)``; float64, not symmetrised, finite."""
    if hasattr(model, "hessian"):
        return finite_result(model, np.asarray(model.hessian(theta), dtype=np.float64), "hessian", theta)
    return np.asarray(np.column_stack([hvp(model, theta, e) for e in np.eye(model.n_params)]), dtype=np.float64)


def has_fisher(model) -> bool:
    """Whether the diagonal Fisher can be formed: ``fisher_diagonal`` or ``per_sample_gradients``."""
    return hasattr(model, "fisher_diagonal") or hasattr(model, "per_sample_gradients")


def fisher_diagonal(model, theta, purpose: str = "the diagonal Fisher") -> np.ndarray:
    r"""``model.fisher_diagonal(theta)``, else :math:`\frac1N\sum_i g_i^2` from ``per_sample_gradients``."""
    if hasattr(model, "fisher_diagonal"):
        return np.asarray(model.fisher_diagonal(theta), dtype=np.float64)
    if hasattr(model, "per_sample_gradients"):
        g = model.per_sample_gradients(theta)
        return np.mean(g * g, axis=0)
    raise missing_method(model, ("fisher_diagonal", "per_sample_gradients"), purpose)


def per_sample_gradients(model, theta, purpose: str) -> np.ndarray:
    """``model.per_sample_gradients(theta)`` as float64, shape (N, P); TypeError naming it when absent."""
    if not hasattr(model, "per_sample_gradients"):
        raise missing_method(model, "per_sample_gradients", purpose)
    return np.asarray(model.per_sample_gradients(theta), dtype=np.float64)


def gradient_covariance(model, theta, purpose: str) -> np.ndarray:
    r"""``model.gradient_covariance(theta)``, else :math:`\frac1N\sum_i (g_i - g)(g_i - g)^\top` from the rows."""
    if hasattr(model, "gradient_covariance"):
        return np.asarray(model.gradient_covariance(theta), dtype=np.float64)
    g = per_sample_gradients(model, theta, purpose)
    d = g - g.mean(axis=0)
    return d.T @ d / g.shape[0]
