r"""SGD with real minibatches escaping from a trained minimum: first passage of the loss to a level set.

The diffusion theory of escape (Z. Xie, I. Sato, M. Sugiyama, ICLR 2021)
predicts that :math:`-\log\gamma`, :math:`\gamma` the escape rate, is linear in
the batch size :math:`B` and in :math:`1/\eta`, :math:`-\log\gamma \approx c + AB/\eta`
(:func:`theory.valley_escape.quadratic_escape_exponent` gives :math:`A` in the
quadratic limit of the valley). This module measures :math:`\gamma` with the
real algorithm: many SGD walkers of learning rate :math:`\eta` start at a
minimum :math:`\theta^*` and run

.. math::  \theta_{k+1} = \theta_k - \eta\, \hat g_k, \qquad
           \hat g_k = \frac1B \sum_{b=1}^{B} \nabla\ell_{i_{k,b}}(\theta_k) \;(+\,\lambda\theta_k),

with the indices :math:`i_{k,b}` drawn uniformly **with replacement** from the
:math:`N` training examples, independently across steps and walkers, until the
full-batch loss first exceeds :math:`L(\theta^*) + \Delta`. Steps are counted
as integers :math:`k`; the continuous time of the diffusion is :math:`t = k\eta`
(``dt`` = :math:`\eta`), so a rate per unit time is
:math:`\gamma = 1/(\eta\,\mathbb E[k_{\rm esc}])` and
:math:`-\log\gamma = \log(\eta\,\mathbb E[k_{\rm esc}])`.

:func:`sgd_escape` runs one setting and returns an :class:`EscapeResult` (the
names and call forms of :class:`theory.simulators.escape.EscapeRun`);
:func:`escape_scan` runs several settings and fits the trends
(:class:`EscapeScan`). Any model of the protocol
(:class:`theory.hessian_models.MinimalLossModel`) can be used; an
:class:`~theory.networks.MLPLandscape` is advanced for all walkers at once, on
NumPy or CuPy.
"""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np

from .. import _deprecate, _models
from .. import _validate as v
from .._deprecate import renamed_keywords
from ..backend import Backend, get_backend
from ..errors import DomainError
from ..networks import MLPLandscape
from ..rng import blocks, derive, seed_sequence
from ..stats import Estimate, LineFit, censored_mean, weighted_line
from ._escape_common import EscapeTimes

__all__ = ["EscapeResult", "sgd_escape", "EscapeScan", "escape_scan"]

# Escape experiments draw their minibatch indices in fixed blocks of walkers:
# block b of a run uses only derive(seed, b), so results do not depend on how
# the blocks are grouped into chunks or spread over workers.
_BLOCK_WALKERS = 64


class _MeanTime(Estimate):
    """:attr:`EscapeResult.mean_time`: call it, ``mean_time()``, as on EscapeRun (read as an Estimate: deprecated)."""

    def __call__(self) -> Estimate:
        get = object.__getattribute__
        return Estimate(get(self, "value"), get(self, "stderr"), get(self, "n"))

    def __getattribute__(self, name):
        if name in ("value", "stderr", "n", "z"):
            _deprecate.warn_renamed("EscapeResult.mean_time (a property)", "EscapeResult.mean_time() (a method)")
        return object.__getattribute__(self, name)

    def __float__(self) -> float:
        return float(self.value)

    def __repr__(self) -> str:
        return repr(self())


@dataclass(frozen=True)
class EscapeResult(EscapeTimes):
    r"""Result of :func:`sgd_escape`, with the names of :class:`theory.simulators.escape.EscapeRun`.

    Attributes
    ----------
    times : ndarray of int64, shape (n_walkers,)
        Per walker, the SGD step :math:`k` at which the full-batch loss was
        first seen above :math:`L(\theta^*) + \Delta`, or ``max_steps`` for a
        censored walker. The continuous escape time is ``times * dt``.
    censored : ndarray of bool, shape (n_walkers,)
        True for walkers not seen escaping by ``max_steps``.
    lr, batch_size, threshold, max_steps, check_every :
        The run's settings (:math:`\eta`, :math:`B`, :math:`\Delta`, ...).
    loss_star : float
        :math:`L(\theta^*)`.
    entropy : int
        Root entropy of the seed.
    backend : str
        Name of the array backend the walkers ran on.

    Derived: ``dt`` (:math:`\eta`: one step lasts :math:`dt = \eta`),
    ``n_walkers``, ``n_escaped``, ``n_censored``, :meth:`mean_steps`,
    :meth:`mean_time`, :meth:`rate`, :meth:`survival`, :attr:`neg_log_rate`,
    :meth:`mean_residual` and :meth:`neg_log_rate_after` (the rate after a
    burn-in). Deprecated aliases: ``iterations`` (``times``), ``max_iters``
    (``max_steps``), ``mean_iterations`` (``mean_steps()``).
    """

    times: np.ndarray
    censored: np.ndarray
    lr: float
    batch_size: int
    threshold: float
    max_steps: int
    check_every: int
    loss_star: float
    entropy: object
    backend: str = "numpy"

    iterations = _deprecate.renamed_attribute("iterations", "times")
    max_iters = _deprecate.renamed_attribute("max_iters", "max_steps")

    @property
    def dt(self) -> float:
        r"""Duration of one step in the diffusion's time, :math:`dt = \eta`."""
        return self.lr

    @property
    def n_walkers(self) -> int:
        return int(self.times.size)

    @property
    def n_escaped(self) -> int:
        return int(self.times.size - np.count_nonzero(self.censored))

    @property
    def mean_iterations(self) -> Estimate:
        """Deprecated alias of :meth:`mean_steps`."""
        _deprecate.warn_renamed("EscapeResult.mean_iterations", "EscapeResult.mean_steps()")
        return self.mean_steps()

    @property
    def mean_time(self) -> _MeanTime:
        r"""Mean escape time in the diffusion's units, :math:`t = k\eta`: call it, ``mean_time()``."""
        m = self.mean_steps()
        return _MeanTime(m.value * self.lr, m.stderr * self.lr, m.n)

    @property
    def neg_log_rate(self) -> Estimate:
        r""":math:`-\log\gamma = \log(\eta\,\hat\tau)` from :meth:`mean_steps` (see :meth:`neg_log_rate_after`)."""
        return self.neg_log_rate_after(0)

    def mean_residual(self, burn_in: int = 0) -> Estimate:
        r"""Mean further steps to escape for the walkers still in the valley at step ``burn_in``.

        The same estimator as :meth:`mean_steps` (plain mean, or exponential
        maximum likelihood under censoring) applied to :math:`k_w - k_0` over
        the walkers with :math:`k_w > k_0`. For a Poisson escape (constant
        hazard) it equals the mean escape step whatever :math:`k_0`; a value
        that grows with :math:`k_0` reveals a hazard that falls with time
        (escapes concentrated in an early transient, walkers drifting into
        safer parts of the valley). A large ``burn_in`` isolates the
        quasi-stationary rate of Kramers' theory. ``n`` of the result is the
        number of walkers still there.
        """
        burn_in = v.as_int(burn_in, "burn_in", 0)
        alive = self.times > burn_in
        if np.count_nonzero(alive) < 2:
            raise DomainError(f"burn_in must leave at least 2 walkers in the valley; {np.count_nonzero(alive)} "
                              f"are left at burn_in={burn_in}")
        return censored_mean(self.times[alive] - burn_in, self.censored[alive])

    def neg_log_rate_after(self, burn_in: int = 0) -> Estimate:
        r""":math:`-\log\gamma = \log(\eta\,\hat\tau)` with standard error :math:`\mathrm{se}(\hat\tau)/\hat\tau`.

        :math:`\hat\tau` is :meth:`mean_residual` after ``burn_in`` steps (0:
        all walkers, from :math:`\theta^*`), so :math:`\gamma` is a rate per
        unit of continuous time :math:`t = k\eta`. The standard error is the
        delta method's (:math:`1/\sqrt{n_{\rm esc}}` under censoring);
        DomainError when no walker escaped.
        """
        m = self.mean_residual(burn_in)
        value = float(m.value)
        return Estimate(np.log(value * self.lr), float(m.stderr) / value, m.n)


@dataclass(frozen=True)
class _EscapeTask:
    model: object
    theta_star: np.ndarray
    level: float
    lr: float
    batch_size: int
    max_steps: int
    check_every: int
    entropy: object
    spawn_key: tuple
    block_ranges: tuple  # ((block index, start, stop), ...), consecutive
    xb: Backend  # pickles by class (theory.backend.Backend.__reduce__)


@renamed_keywords(max_iters="max_steps")
def sgd_escape(model, theta_star, *, lr, batch_size, threshold, n_walkers=256, max_steps=100_000, seed=0,
               check_every: int = 1, chunk_walkers=None, executor: Executor | None = None, loss_star=None,
               backend=None) -> EscapeResult:
    r"""Escape steps of many independent SGD runs from a minimum, with real minibatches.

    Every walker starts at :math:`\theta^*` and runs
    :math:`\theta_{k+1} = \theta_k - \eta\,\nabla L_{B_k}(\theta_k)` with its
    own indices :math:`B_k`, :math:`B` of them drawn uniformly **with
    replacement** from the :math:`N` examples (so the minibatch noise
    covariance is exactly :func:`theory.valley_escape.minibatch_noise_covariance`).
    A walker has left the valley at the first step :math:`k` at which the
    **full-batch** training loss exceeds :math:`L(\theta^*) + \Delta`; it then stops.

    The full-batch loss costs :math:`N/B` minibatch gradients, so it may be
    evaluated only every ``check_every`` steps (and at ``max_steps``). The
    step recorded is then the first *checked* one above the level: with
    ``check_every=1`` it is exactly the first-passage step; otherwise it is
    never earlier, and it is at most ``check_every - 1`` steps later
    **provided the walker is still above the level at the next check**. A
    walker that crosses and falls back between two checks is counted at a
    later crossing, so the delay is unbounded when excursions above the level
    are shorter than ``check_every`` (in a valley whose stiff directions
    relax within a step or two, they are): ``check_every > 1`` then measures
    how often the loss is above the level at a random time, not the first
    passage.

    Walkers not seen escaping by ``max_steps`` are censored; the mean escape
    step then comes from the exponential maximum-likelihood estimate
    (:meth:`EscapeResult.mean_steps`), exact when escape is a Poisson process
    (a constant hazard, as for Kramers escape after the valley has
    equilibrated). :meth:`EscapeResult.mean_residual` tests that assumption
    and gives the rate after a burn-in.

    Parameters
    ----------
    model : MinimalLossModel
        ``loss(theta)`` and ``gradient(theta, batch)`` are all that is used.
        An :class:`~theory.networks.MLPLandscape` advances all walkers at once
        (its ``minibatch_gradient`` and vectorised ``value``) on the backend;
        any other model one walker at a time, on NumPy only.
    theta_star : array_like, shape (P,)
        The minimum (e.g. ``model.train().theta``).
    lr : float
        Learning rate :math:`\eta > 0`.
    batch_size : int
        :math:`1 \le B \le N`.
    threshold : float
        :math:`\Delta > 0`, the loss rise that counts as leaving the valley.
    n_walkers : int, default 256
        Independent runs, at least 2.
    max_steps : int, default 100000
        Steps after which a walker is censored (``max_iters=`` is a deprecated name).
    seed : int, SeedSequence or None
        Root of the random streams: walkers are cut into fixed blocks of 64;
        block ``b`` draws its indices, step by step, from
        ``theory.rng.derive(seed, b)`` (shape ``(walkers in block, B)`` per
        step), so results are identical whatever ``chunk_walkers`` or
        ``executor``. The stream is the backend's generator (PCG64 on NumPy,
        CuPy's on a GPU): the two backends give different, equally
        distributed, results for one seed.
    check_every : int, default 1
        Steps between full-batch loss evaluations.
    chunk_walkers : int, optional
        Walkers advanced together (rounded up to whole blocks); default all.
        Does not change the result.
    executor : concurrent.futures.Executor, optional
        Runs chunks in parallel. Does not change the result.
    loss_star : float, optional
        :math:`L(\theta^*)`; computed when not given.
    backend : {"numpy", "cupy"} or None
        Array backend of the walkers (parameters, gradients, minibatch
        indices and their random draws); default NumPy.

    Returns
    -------
    EscapeResult

    Notes
    -----
    The walkers' arrays live on the backend and an MLPLandscape evaluates
    them there (its data are copied to the device once); only the per-walker
    escape flags come back to the host at each check. Walkers that have
    escaped are dropped from the arrays, so the cost follows the number
    still in the valley.
    """
    _models.require_minimal(model)
    _require_executor(executor)
    theta_star = np.array(_models.as_theta(model, theta_star, "theta_star"), dtype=np.float64)
    lr = float(v.positive(v.scalar(lr, "lr"), "lr"))
    batch_size = v.as_int(batch_size, "batch_size", 1)
    if batch_size > model.n_data:
        raise DomainError(f"batch_size must be an integer in [1, {model.n_data}] (the number of examples); "
                          f"got {batch_size}")
    threshold = float(v.positive(v.scalar(threshold, "threshold"), "threshold"))
    n_walkers = v.as_int(n_walkers, "n_walkers", 2)
    max_steps = v.as_int(max_steps, "max_steps", 1)
    check_every = v.as_int(check_every, "check_every", 1)
    loss_star = float(model.loss(theta_star)) if loss_star is None else float(v.finite(v.scalar(loss_star, "loss_star"), "loss_star"))
    root = seed_sequence(seed)
    xb = get_backend(backend)
    if xb.name != "numpy" and not isinstance(model, MLPLandscape):
        raise DomainError(f"backend must be 'numpy' for {type(model).__name__}, which is not vectorised over "
                          f"walkers (an MLPLandscape is); got {xb.name!r}")

    indexed = [(b, s, e) for b, (s, e) in enumerate(blocks(n_walkers, _BLOCK_WALKERS))]
    if chunk_walkers is None:
        per_chunk = len(indexed)
    else:
        per_chunk = -(-v.as_int(chunk_walkers, "chunk_walkers", 1) // _BLOCK_WALKERS)
    tasks = [_EscapeTask(model, theta_star, loss_star + threshold, lr, batch_size, max_steps, check_every,
                         root.entropy, tuple(root.spawn_key), tuple(indexed[i:i + per_chunk]), xb)
             for i in range(0, len(indexed), per_chunk)]
    results = executor.map(_escape_chunk, tasks) if executor is not None else map(_escape_chunk, tasks)
    times = np.empty(n_walkers, dtype=np.int64)
    censored = np.empty(n_walkers, dtype=bool)
    for task, (steps, cens) in zip(tasks, results):
        start, stop = task.block_ranges[0][1], task.block_ranges[-1][2]
        times[start:stop] = steps
        censored[start:stop] = cens
    return EscapeResult(times=times, censored=censored, lr=lr, batch_size=batch_size, threshold=threshold,
                        max_steps=max_steps, check_every=check_every, loss_star=loss_star, entropy=root.entropy,
                        backend=xb.name)


def _require_executor(executor) -> None:
    """TypeError naming ``executor`` unless it is None or has ``map`` (a concurrent.futures.Executor)."""
    if executor is not None and not callable(getattr(executor, "map", None)):
        raise TypeError(f"executor must be None or a concurrent.futures.Executor (with a map method); "
                        f"got {type(executor).__name__}")


class _BatchedWalkers:
    """The SGD step and the level test of an MLPLandscape, for all walkers at once on the backend."""

    def __init__(self, task):
        self.model, self.xb, self.lr, self.level = task.model, task.xb, task.lr, task.level

    def step(self, theta, idx, grad):
        """theta <- theta - lr * (minibatch gradient), in place; ``grad`` is scratch of theta's shape."""
        with np.errstate(over="ignore", invalid="ignore"):  # a walker may overflow: it then escapes
            self.model.minibatch_gradient(theta, idx, out=grad)
            grad *= self.lr
            theta -= grad

    def above(self, theta) -> np.ndarray:
        """Per walker: is the full-batch loss above the level (NumPy bools); a NaN loss (a walker that
        diverged between checks) counts as above: it has left the valley."""
        with np.errstate(over="ignore", invalid="ignore"):
            return self.xb.to_numpy(~(self.model.value(theta) <= self.level))


class _LoopedWalkers(_BatchedWalkers):
    """The same for any model of the protocol: ``gradient(theta, batch)`` and ``loss(theta)``, walker by walker."""

    def step(self, theta, idx, grad):
        with np.errstate(over="ignore", invalid="ignore"):  # a walker may overflow: it then escapes
            for w in range(theta.shape[0]):
                if np.all(np.isfinite(theta[w])):  # a diverged walker waits for the next check, which removes it
                    theta[w] -= self.lr * np.asarray(self.model.gradient(theta[w], idx[w]), dtype=np.float64)

    def above(self, theta) -> np.ndarray:
        return np.array([not (np.all(np.isfinite(t)) and self.model.loss(t) <= self.level) for t in theta],
                        dtype=bool)


def _escape_chunk(task: _EscapeTask):
    """Run the walkers of consecutive blocks on the task's backend; return (steps, censored) as NumPy."""
    xb = task.xb
    xp = xb.xp
    walkers = (_BatchedWalkers if isinstance(task.model, MLPLandscape) else _LoopedWalkers)(task)
    start, stop = task.block_ranges[0][1], task.block_ranges[-1][2]
    n = stop - start
    root = np.random.SeedSequence(task.entropy, spawn_key=task.spawn_key)
    gens = [xb.generator(derive(root, b)) for b, _, _ in task.block_ranges]
    bounds = [(s - start, e - start) for _, s, e in task.block_ranges]
    block_of = np.repeat(np.arange(len(bounds)), [e - s for s, e in bounds])

    # bookkeeping on the host; walker arrays on the backend
    steps = np.full(n, task.max_steps, dtype=np.int64)
    censored = np.ones(n, dtype=bool)
    alive = np.arange(n)  # walkers still in the valley, by position in the chunk
    alive_x = xb.asarray(alive, dtype=np.int64)  # the same, on the backend (NumPy: the same array)
    theta = xp.tile(xb.asarray(task.theta_star), (n, 1))
    grad = xp.empty_like(theta)
    idx_all = xp.empty((n, task.batch_size), dtype=np.int64)
    live_blocks = np.ones(len(bounds), dtype=bool)
    n_data = task.model.n_data
    for k in range(1, task.max_steps + 1):
        for j, (s, e) in enumerate(bounds):
            if live_blocks[j]:  # a block draws its full shape every step while any of its walkers runs
                idx_all[s:e] = gens[j].integers(0, n_data, size=(e - s, task.batch_size))
        walkers.step(theta, idx_all[alive_x], grad)
        if k % task.check_every == 0 or k == task.max_steps:
            out = walkers.above(theta)
            if out.any():
                gone = alive[out]
                steps[gone] = k
                censored[gone] = False
                keep = ~out
                alive, theta = alive[keep], theta[xb.asarray(keep, dtype=bool)]
                alive_x = xb.asarray(alive, dtype=np.int64)
                grad = xp.empty_like(theta)
                if alive.size == 0:
                    break
                live_blocks[:] = False
                live_blocks[np.unique(block_of[alive])] = True
    return steps, censored


# ----------------------------------------------------- trends and scans

@dataclass(frozen=True)
class EscapeScan:
    r"""Result of :func:`escape_scan`: one :class:`EscapeResult` per (lr, batch_size) setting.

    Attributes
    ----------
    lr : ndarray, shape (n,)
    batch_size : ndarray of int, shape (n,)
    results : tuple of EscapeResult
    burn_in : int
        Steps discarded before the rate is estimated (0: from :math:`\theta^*`).
    neg_log_rate : Estimate, shape (n,)
        :math:`-\log\gamma` per setting (:meth:`EscapeResult.neg_log_rate_after`),
        infinite where no walker escaped after the burn-in.
    """

    lr: np.ndarray
    batch_size: np.ndarray
    results: tuple
    burn_in: int
    neg_log_rate: Estimate

    @classmethod
    def from_results(cls, results, burn_in: int) -> "EscapeScan":
        """The scan of some :class:`EscapeResult` s, their rates estimated after ``burn_in`` steps."""

        def rate(r):  # a setting where nobody escaped has no estimate: infinite, left out of fits
            if not (r.times[~r.censored] > burn_in).any():
                return Estimate(np.inf, np.inf, r.n_walkers)
            return r.neg_log_rate_after(burn_in)

        results = tuple(results)
        rates = [rate(r) for r in results]
        nl = Estimate(np.array([float(e.value) for e in rates]), np.array([float(e.stderr) for e in rates]),
                      int(min(r.n_walkers for r in results)))
        return cls(lr=np.array([r.lr for r in results]), batch_size=np.array([r.batch_size for r in results]),
                   results=results, burn_in=burn_in, neg_log_rate=nl)

    def fit(self, against: str = "batch_size") -> LineFit:
        r"""Weighted line of :math:`-\log\gamma` against ``"batch_size"`` (:math:`B`) or ``"inv_lr"`` (:math:`1/\eta`).

        Settings where no walker escaped (infinite :math:`-\log\gamma`) are left out.
        """
        if against == "batch_size":
            x = self.batch_size.astype(np.float64)
        elif against == "inv_lr":
            x = 1.0 / self.lr
        else:
            raise DomainError(f"against must be 'batch_size' or 'inv_lr'; got {against!r}")
        y, err = np.asarray(self.neg_log_rate.value), np.asarray(self.neg_log_rate.stderr)
        ok = np.isfinite(y) & np.isfinite(err)
        return weighted_line(x[ok], y[ok], err[ok])


def _scan_one(args):
    model, theta_star, lr, batch_size, kwargs = args
    return sgd_escape(model, theta_star, lr=lr, batch_size=batch_size, **kwargs)


@renamed_keywords(max_iters="max_steps")
def escape_scan(model, theta_star, *, lr, batch_size, threshold, n_walkers=256, max_steps=100_000,
                check_every: int = 1, seed=0, burn_in: int = 0, executor: Executor | None = None,
                backend=None) -> EscapeScan:
    r""":func:`sgd_escape` at several learning rates and batch sizes, for the trends of :math:`-\log\gamma`.

    ``lr`` and ``batch_size`` (scalars or 1-D) are broadcast together; setting
    ``(lr, B)`` draws from ``theory.rng.derive(seed, "learned.escape_scan",
    f"lr={lr!r},B={B}")``, so a setting's result does not depend on which
    other settings are in the scan. ``executor`` runs settings in parallel.
    The other arguments are :func:`sgd_escape`'s (``max_iters=`` is a
    deprecated name of ``max_steps``); ``burn_in`` chooses the rate estimate
    (:meth:`EscapeResult.neg_log_rate_after`).

    Diffusion theory (Xie, Sato and Sugiyama, ICLR 2021) predicts
    :math:`-\log\gamma \approx c + A B/\eta`: linear in :math:`B` with slope
    :math:`A/\eta` and in :math:`1/\eta` with slope :math:`A B`
    (:func:`theory.valley_escape.quadratic_escape_exponent` gives :math:`A` in
    the quadratic limit). :meth:`EscapeScan.fit` measures the slopes.

    Returns
    -------
    EscapeScan
    """
    _models.require_minimal(model)
    _require_executor(executor)
    lrs, bs = np.broadcast_arrays(np.atleast_1d(v.positive(lr, "lr")), np.atleast_1d(np.asarray(batch_size)))
    if lrs.ndim != 1:
        raise DomainError(f"lr and batch_size must be scalars or 1-D; got shape {lrs.shape}")
    bs = np.array([v.as_int(b, "batch_size", 1) for b in bs], dtype=np.int64)
    burn_in = v.as_int(burn_in, "burn_in", 0)
    theta_star = np.array(_models.as_theta(model, theta_star, "theta_star"), dtype=np.float64)
    loss_star = float(model.loss(theta_star))
    root = seed_sequence(seed)
    jobs = [(model, theta_star, float(a), int(b),
             dict(threshold=threshold, n_walkers=n_walkers, max_steps=max_steps, check_every=check_every,
                  loss_star=loss_star, backend=backend,
                  seed=derive(root, "learned.escape_scan", f"lr={float(a)!r},B={int(b)}")))
            for a, b in zip(lrs, bs)]
    if executor is None:
        results = tuple(map(_scan_one, jobs))
    else:  # slowest settings (largest B / lr) first, for load balance; results back in input order
        order = sorted(range(len(jobs)), key=lambda i: -jobs[i][3] / jobs[i][2])
        done = dict(zip(order, executor.map(_scan_one, [jobs[i] for i in order])))
        results = tuple(done[i] for i in range(len(jobs)))
    return EscapeScan.from_results(results, burn_in)
