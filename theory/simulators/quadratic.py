r"""Monte Carlo twin of :mod:`theory.quadratic` and :mod:`theory.vgd`: GD and VGD on a quadratic.

Many independent runs advance together, vectorised over runs. Each VGD step is
taken literally: ``n_samples`` perturbations :math:`e_k` are drawn, the
gradient :math:`Q(m + e_k)` is evaluated at each perturbed point, and the mean
moves by ``-lr`` times their average, so the simulation does not rely on the
algebra (the reduction to :math:`\bar e`) that the formulas use.

``sigma`` is the standard deviation of each coordinate of a perturbation for
every ``dof``: a Student-t perturbation is drawn as
:math:`e = s\,Z/\sqrt{2G/\nu}`, :math:`Z` standard normal, :math:`G \sim \Gamma(\nu/2)`,
with the scale :math:`s = \sigma\sqrt{(\nu-2)/\nu}`
(:func:`theory.vgd.perturbation_scale`), so its variance is :math:`\sigma^2`.

Reproducibility: runs are cut into blocks of ``backend.block_size``; block
``b`` draws from ``theory.rng.derive(seed, b)`` (initial points first, then,
step by step, the normal and, for Student-t, the gamma variates). Statistics
are kept per block and merged in block order, so results are bitwise
identical whatever ``chunk_runs`` or ``executor``.
"""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np

from .. import _validate as v
from ..backend import get_backend
from ..vgd import perturbation_scale
from ..errors import DomainError
from ..rng import blocks, derive, seed_sequence
from ..stats import Estimate, Moments

__all__ = ["simulate_vgd", "VGDRun"]

# Default size of one chunk's perturbation buffer: small enough that the passes
# over it stay in cache (measured best near 1 MiB on a 2-core x86-64 machine).
_CHUNK_BYTES = 2**20
# Refuse sizes whose arrays could not be allocated (a named error instead of numpy's).
_MAX_BYTES = 2**34


@dataclass(frozen=True)
class VGDRun:
    r"""Result of :func:`simulate_vgd`.

    Attributes
    ----------
    steps : ndarray, shape (T + 1,)
        Step indices 0..T.
    eigvals : ndarray, shape (P,)
        Eigenvalues of the Hessian (the directions losses are split along).
    loss : Estimate, shape (T + 1,)
        Mean loss over runs at each step, with standard error.
    loss_by_direction : Estimate, shape (T + 1, P)
        :math:`\tfrac12\lambda_i (v_i^\top\theta_t)^2` averaged over runs.
    change_by_direction : Estimate, shape (T + 1, P)
        Per-run change since step 0, :math:`\ell_{t,i} - \ell_{0,i}`, averaged.
        With random initial points its standard error is smaller than that of
        the difference of two ``loss_by_direction`` entries.
    n_runs : int
    entropy : int
        Root entropy of the seed, enough to reproduce the run.
    backend : str
    """

    steps: np.ndarray
    eigvals: np.ndarray
    loss: Estimate
    loss_by_direction: Estimate
    change_by_direction: Estimate
    n_runs: int
    entropy: int
    backend: str


@dataclass(frozen=True)
class _Task:
    eigvals: np.ndarray
    eigvecs: np.ndarray | None  # None: the loss is given in its eigenbasis (diagonal)
    mean0: np.ndarray
    lr: float
    scale: float  # of the perturbation's law: sigma for the Gaussian, sigma sqrt((dof - 2)/dof) for Student-t
    n_samples: int
    dof: float
    n_steps: int
    init_std: float
    entropy: object
    spawn_key: tuple
    backend: object  # a theory.backend.Backend (pickled by class)
    block_ranges: tuple  # ((block index, start, stop), ...), consecutive


def simulate_vgd(hessian, mean0, *, lr, sigma=0.0, n_samples=1, dof=np.inf, n_steps=1, n_runs=10_000,
                 init_std=0.0, seed=0, backend=None, chunk_runs=None,
                 executor: Executor | None = None, engine: str = "numpy") -> VGDRun:
    r"""Simulate VGD (GD when ``sigma = 0``) on :math:`\ell(\theta) = \tfrac12\theta^\top Q\theta`.

    Parameters
    ----------
    hessian : array_like, shape (P,) or (P, P)
        1-D: the eigenvalues of Q, the loss written in its eigenbasis
        (diagonal Q). 2-D: a symmetric Q, simulated in the given basis.
    mean0 : array_like, shape (P,)
        Initial mean :math:`m_0` (in the same basis as ``hessian``).
    lr : float
        Learning rate :math:`\eta`, > 0.
    sigma : float, default 0
        Standard deviation of each coordinate of a perturbation, for every
        ``dof`` (a Student-t perturbation is drawn at scale
        ``sigma * sqrt((dof - 2) / dof)``).
    n_samples : int, default 1
        Perturbations averaged per step.
    dof : float, default inf
        Student-t degrees of freedom (> 2) of each coordinate of the
        perturbation; ``inf`` is Gaussian. ``dof <= 2`` (infinite variance)
        raises DomainError.
    n_steps : int, default 1
    n_runs : int, default 10000
        Independent runs (at least 2, for a standard error).
    init_std : float, default 0
        Each run starts at ``mean0 + init_std * N(0, I)``.
    seed : int, SeedSequence or None, default 0
        Root of the random streams (None: fresh entropy, recorded in the result).
    backend : {"numpy", "cupy"} or None
        Array backend; None chooses from the inputs (NumPy unless CuPy arrays).
    chunk_runs : int, optional
        Runs advanced together (rounded up to whole blocks); the default keeps
        the perturbation buffer near 1 MiB, in cache. Does not change the result.
    executor : concurrent.futures.Executor, optional
        Runs chunks in parallel (e.g. a ProcessPoolExecutor). Does not change
        the result.
    engine : {"numpy", "numba"}, default "numpy"
        ``"numpy"``: the array code on ``backend`` (the reference). ``"numba"``:
        a fused compiled kernel on the CPU (:mod:`theory.simulators._fused`; the
        optional extra ``theory[numba]``) that draws the perturbations and takes
        the step in one pass, in parallel over blocks of runs on
        ``numba.get_num_threads()`` threads, each block with its own xoshiro256++
        stream (results independent of the thread count, ``chunk_runs`` and
        ``executor``; different numbers from the NumPy engine, the same law).
        A full ``hessian`` is simulated in its eigenbasis (Gaussian
        perturbations only; Student-t with a full Q raises DomainError, as does
        a GPU backend). The result's ``backend`` is ``"numba"``.

    Returns
    -------
    VGDRun
        A run that diverges past the float range has loss ``+inf`` (``-inf``
        along negative eigenvalues) from then on, and an estimate with an
        infinite mean has an infinite standard error (with a full
        ``hessian`` the split of an overflowed run over directions is lost:
        each reports ``+-inf`` by the sign of its eigenvalue). Runs that overflow
        along eigenvalues of both signs (an indefinite ``hessian``) have no
        total loss and raise DomainError, as do a ``mean0``/``init_std``
        whose initial loss overflows.
    """
    if executor is not None and not callable(getattr(executor, "map", None)):
        raise TypeError(f"executor must be None or a concurrent.futures.Executor (with a map method); "
                        f"got {type(executor).__name__}")
    if not isinstance(engine, str) or engine not in ("numpy", "numba"):
        raise DomainError(f"engine must be 'numpy' or 'numba'; got {engine!r}")
    xb = get_backend(backend, hessian, mean0)
    if engine == "numba" and xb.xp is not np:
        raise DomainError(f"engine='numba' runs on the CPU; got backend {xb.name!r} (use engine='numpy' there)")
    hessian = v.finite(xb.to_numpy(hessian), "hessian")
    mean0 = v.finite(xb.to_numpy(mean0), "mean0")
    if hessian.ndim == 1:
        eigvals, eigvecs = hessian, None
    elif hessian.ndim == 2 and hessian.shape[0] == hessian.shape[1]:
        if np.abs(hessian - hessian.T).max(initial=0.0) > 1e-12 * np.abs(hessian).max(initial=0.0):
            raise DomainError("hessian must be symmetric")
        eigvals, eigvecs = np.linalg.eigh(hessian)
    else:
        raise DomainError(f"hessian must have shape (P,) or (P, P); got {hessian.shape}")
    v.nonempty(eigvals, "hessian")
    if mean0.shape != (eigvals.size,):
        raise DomainError(f"mean0 must have shape ({eigvals.size},) to match hessian; got {mean0.shape}")
    lr = float(v.positive(v.scalar(lr, "lr"), "lr"))
    sigma = float(v.nonnegative(v.scalar(sigma, "sigma"), "sigma", allow_inf=False))
    dof = float(v.student_dof(v.scalar(dof, "dof")))
    scale = float(perturbation_scale(sigma, dof))
    init_std = float(v.nonnegative(v.scalar(init_std, "init_std"), "init_std", allow_inf=False))
    n_samples = v.as_int(n_samples, "n_samples", 1)
    n_steps = v.as_int(n_steps, "n_steps", 0)
    n_runs = v.as_int(n_runs, "n_runs", 2)
    # the per-block statistics and one block's perturbation buffer must fit in memory
    if 16 * (n_steps + 1) * (eigvals.size + 1) > _MAX_BYTES:
        raise DomainError(f"n_steps must be at most {_MAX_BYTES // (16 * (eigvals.size + 1)) - 1} for "
                          f"{eigvals.size} directions (the per-step statistics would not fit in memory); got {n_steps}")
    if 8 * n_samples * eigvals.size > _MAX_BYTES // 1024:
        raise DomainError(f"n_samples must be at most {_MAX_BYTES // 1024 // (8 * eigvals.size)} for "
                          f"{eigvals.size} directions (one run's perturbations would not fit in memory); "
                          f"got {n_samples}")
    with np.errstate(over="ignore"):
        start = 0.5 * np.abs(eigvals).max() * (np.abs(mean0).max() + 64.0 * init_std) ** 2
    if not np.isfinite(start):
        raise DomainError("mean0 and init_std must keep the initial loss within the float range (its change "
                          f"since step 0 is otherwise undefined); got max|mean0| = {np.abs(mean0).max():g}, "
                          f"init_std = {init_std:g}")
    root = seed_sequence(seed)
    if engine == "numba":
        return _simulate_vgd_numba(hessian, eigvals, eigvecs, mean0, lr, scale, n_samples, dof, n_steps, n_runs,
                                   init_std, root, chunk_runs, executor)

    all_blocks = blocks(n_runs, xb.block_size)
    if chunk_runs is None:
        chunk_runs = max(xb.block_size, _CHUNK_BYTES // (8 * n_samples * eigvals.size))
    per_chunk = -(-v.as_int(chunk_runs, "chunk_runs", 1) // xb.block_size)
    indexed = [(b, s, e) for b, (s, e) in enumerate(all_blocks)]
    tasks = [
        _Task(eigvals, eigvecs if hessian.ndim == 2 else None, mean0, lr, scale, n_samples, dof, n_steps,
              init_std, root.entropy, tuple(root.spawn_key), xb, tuple(indexed[i:i + per_chunk]))
        for i in range(0, len(indexed), per_chunk)
    ]
    results = executor.map(_run_chunk, tasks) if executor is not None else map(_run_chunk, tasks)

    loss_est, change_est = _merge_blocks(pair for chunk in results for pair in chunk)
    return VGDRun(
        steps=np.arange(n_steps + 1),
        eigvals=eigvals,
        loss=loss_est[:, -1],
        loss_by_direction=loss_est[:, :-1],
        change_by_direction=change_est[:, :-1],
        n_runs=n_runs,
        entropy=root.entropy,
        backend=xb.name,
    )


def _simulate_vgd_numba(hessian, eigvals, eigvecs, mean0, lr, scale, n_samples, dof, n_steps, n_runs, init_std, root,
                        chunk_runs, executor) -> VGDRun:
    """engine="numba": the fused kernel of :mod:`theory.simulators._fused` in the eigenbasis of Q.

    The kernel's ``sigma`` is the scale of the perturbation's law (``scale`` here).
    """
    if hessian.ndim == 2 and np.isfinite(dof) and scale > 0:
        raise DomainError("engine='numba' with a full hessian needs Gaussian perturbations (dof=inf): Student-t "
                          "coordinates are not rotation invariant; pass the eigenvalues (diagonal Q) or use "
                          "engine='numpy'")
    from . import _fused  # numba is imported only here

    mean_proj = mean0 if hessian.ndim == 1 else eigvecs.T @ mean0
    if chunk_runs is not None:
        chunk_runs = v.as_int(chunk_runs, "chunk_runs", 1)
    per_block = _fused.vgd_block_moments(eigvals, mean_proj, lr=lr, sigma=scale, n_samples=n_samples, dof=dof,
                                         n_steps=n_steps, n_runs=n_runs, init_std=init_std, root=root,
                                         chunk_runs=chunk_runs, executor=executor)
    loss_est, change_est = _merge_blocks(per_block)
    return VGDRun(steps=np.arange(n_steps + 1), eigvals=eigvals, loss=loss_est[:, -1],
                  loss_by_direction=loss_est[:, :-1], change_by_direction=change_est[:, :-1], n_runs=n_runs,
                  entropy=root.entropy, backend="numba")


def _merge_blocks(per_block):
    """Merge per-block (loss, change) Moments in block order into two Estimates.

    A block whose mean is infinite (runs that overflowed: their loss is the
    limit ``+-inf``) makes the merged mean that infinity and its standard error
    ``inf``; the finite blocks are merged as usual, so a run set without
    overflow gives exactly the plain merge.
    """
    merged = [None, None]
    signs = [None, None]
    for pair in per_block:
        for k, block in enumerate(pair):
            mean = np.asarray(block.mean, dtype=float)
            ok = np.isfinite(mean)
            if not ok.all():
                block = Moments(block.n, np.where(ok, mean, 0.0), np.where(ok, block.m2, 0.0))
            flags = np.stack([mean == np.inf, mean == -np.inf, np.isnan(mean)])
            signs[k] = flags if signs[k] is None else signs[k] | flags
            merged[k] = block if merged[k] is None else merged[k].merge(block)
    if any(f.any() for f in signs[0][2:]) or (signs[0][0] & signs[0][1]).any():
        raise DomainError("hessian has eigenvalues of both signs along which runs overflowed, so the total loss "
                          "(+inf plus -inf) is undefined; lower lr, sigma or n_steps")
    out = []
    for moments, (pos, neg, nan) in zip(merged, signs):
        est = moments.estimate()
        if not (pos | neg | nan).any():
            out.append(est)
            continue
        value = np.where(nan | (pos & neg), np.nan, np.where(pos, np.inf, np.where(neg, -np.inf, est.value)))
        stderr = np.where(np.isfinite(value), est.stderr, np.where(np.isnan(value), np.nan, np.inf))
        out.append(Estimate(value, stderr, est.n))
    return out


def _overflowed(cur, lam, p):
    """Per-run losses of runs whose iterate overflowed: NaN (from inf - inf) becomes the limit +-inf."""
    bad = np.isnan(cur[:, :p])
    limit = np.broadcast_to(np.where(lam == 0, 0.0, np.copysign(np.inf, lam)), bad.shape)
    cur[:, :p][bad] = limit[bad]
    with np.errstate(invalid="ignore"):
        cur[:, p] = cur[:, :p].sum(axis=1)


def _run_chunk(task: _Task):
    """Advance the runs of consecutive blocks; return per-block (loss, change) Moments.

    Runs that diverge overflow to inf (their loss is then the limit inf): not an error.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        return _advance_chunk(task)


def _advance_chunk(task: _Task):
    xb = task.backend
    xp = xb.xp
    start, stop = task.block_ranges[0][1], task.block_ranges[-1][2]
    runs, p, ns = stop - start, task.eigvals.size, task.n_samples
    root = np.random.SeedSequence(task.entropy, spawn_key=task.spawn_key)
    gens = [(xb.generator(derive(root, b)), s - start, e - start) for b, s, e in task.block_ranges]

    lam = xb.asarray(task.eigvals)
    vecs = None if task.eigvecs is None else xb.asarray(task.eigvecs)
    q = None if vecs is None else xb.asarray((task.eigvecs * task.eigvals) @ task.eigvecs.T)

    theta = xp.empty((runs, p))
    theta[...] = xb.asarray(task.mean0)
    if task.init_std > 0:
        noise0 = xp.empty((runs, p))
        for gen, s, e in gens:
            xb.fill_normal(gen, noise0[s:e])
        theta += task.init_std * noise0
    noisy = task.scale > 0
    pert = xp.empty((runs, ns, p)) if noisy else None
    gam = xp.empty((runs, ns, p)) if noisy and np.isfinite(task.dof) else None
    t_scale = task.scale * np.sqrt(task.dof / 2.0) if gam is not None else task.scale

    def gradient_mean(points, out):
        """out <- mean over k of Q points[:, k]: one gradient per perturbed point, then their average.

        Elementwise per run (so chunking cannot change a run's numbers); a full Q is
        applied block by block so that every block meets the same matrix shapes (BLAS path).
        """
        if q is None:
            points *= lam
        else:
            for _, s, e in gens:
                points[s:e] = points[s:e] @ q
        out[...] = points[:, 0]
        for k in range(1, ns):  # a sum over a short axis: adds beat a strided reduction
            out += points[:, k]
        out *= 1.0 / ns

    def losses(x, out):
        proj = x if vecs is None else x @ vecs
        xp.multiply(proj, proj, out=out[:, :p])
        out[:, :p] *= 0.5 * lam
        out[:, p] = out[:, :p].sum(axis=1)
        return out

    # Per-block moments on the device: [quantity (loss, change), block, step, direction + total].
    # Only the last block of the whole run set can be short, so blocks [0, full) share one shape.
    bs, nb = xb.block_size, len(gens)
    full = sum(1 for _, s, e in gens if e - s == bs)
    means = xp.empty((2, nb, task.n_steps + 1, p + 1))
    m2s = xp.empty_like(means)

    def record(k, t, x):
        parts = [(slice(0, full), x[:full * bs].reshape(full, bs, p + 1))] if full else []
        if full < nb:
            parts.append((slice(full, nb), x[full * bs:][None]))
        for sel, xr in parts:
            mu = xr.mean(axis=1)
            dev = xr - mu[:, None, :]
            means[k, sel, t] = mu
            m2s[k, sel, t] = xp.einsum("bij,bij->bj", dev, dev)

    grad = xp.empty((runs, p))
    cur = xp.empty((runs, p + 1))
    l0 = xp.empty((runs, p + 1))
    for t in range(task.n_steps + 1):
        if t > 0:
            if noisy:
                for gen, s, e in gens:
                    xb.fill_normal(gen, pert[s:e])
                    if gam is not None:
                        xb.fill_gamma(gen, task.dof / 2.0, gam[s:e])
                if gam is not None:  # e = scale * Z / sqrt(2G/nu), G ~ Gamma(nu/2)
                    xp.sqrt(gam, out=gam)
                    pert /= gam
                pert *= t_scale
                pert += theta[:, None, :]  # the perturbed points m + e_k
                gradient_mean(pert, grad)
            else:
                grad[...] = theta if q is None else 0.0
                if q is None:
                    grad *= lam
                else:
                    for _, s, e in gens:
                        grad[s:e] = theta[s:e] @ q
            grad *= task.lr
            theta -= grad
        losses(theta, cur)
        if not bool(xp.isfinite(cur[:, p]).all()):  # a run overflowed
            host = xb.to_numpy(cur).copy()
            _overflowed(host, task.eigvals, p)
            cur[...] = xb.asarray(host)
        if t == 0:
            l0[...] = cur
        record(0, t, cur)
        record(1, t, cur - l0)
    means, m2s = xb.to_numpy(means), xb.to_numpy(m2s)
    return [(Moments(e - s, means[0, j], m2s[0, j]), Moments(e - s, means[1, j], m2s[1, j]))
            for j, (_, s, e) in enumerate(gens)]
