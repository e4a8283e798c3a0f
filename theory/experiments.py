r"""The learned-landscape escape experiment: its settings, its trained model and its two scans.

:data:`DEFAULTS` fixes the experiment of the escape docs page: a tanh network
(:class:`~theory.networks.MLPLandscape`) on the diabetes data, trained to a
strict minimum :math:`\theta^*`, and SGD with real minibatches escaping from it
(:func:`~theory.simulators.minibatch_escape.escape_scan`) at several batch
sizes :math:`B` and learning rates :math:`\eta`, to measure the slopes of
:math:`-\log\gamma` against :math:`B` and against :math:`1/\eta` and compare
them with :func:`~theory.valley_escape.quadratic_escape_exponent` (Xie, Sato
and Sugiyama, ICLR 2021). :func:`default_model` and :func:`default_scans` run it.
"""

from __future__ import annotations

from concurrent.futures import Executor

from . import _deprecate
from ._deprecate import renamed_keywords
from .networks import MLPLandscape
from .simulators.minibatch_escape import EscapeScan, escape_scan

__all__ = ["DEFAULTS", "default_model", "default_scans"]

#: Settings of the escape experiment. ``dataset``, ``n_hidden``, ``weight_decay``,
#: ``train_seed``: the model and its training (:meth:`MLPLandscape.train`);
#: ``threshold``: the loss rise :math:`\Delta` that counts as escape; ``lr`` and
#: ``batch_sizes``: the scan against :math:`B`; ``batch_size`` and ``lrs``: the
#: scan against :math:`1/\eta`; ``n_walkers``, ``max_steps``, ``check_every``,
#: ``burn_in`` (steps discarded before the rate is estimated), ``seed``: the
#: escape runs. The old keys ``"hidden"`` and ``"max_iters"`` still answer,
#: with a DeprecationWarning.
DEFAULTS = _deprecate.RenamedKeys({
    "dataset": "diabetes",
    "n_hidden": 4,
    "weight_decay": 0.01,
    "train_seed": 0,
    "threshold": 0.1,
    "lr": 0.3,  # learning rate of the batch-size scan
    "batch_sizes": (9, 10, 11, 12, 13),
    "batch_size": 11,  # batch size of the learning-rate scan
    "lrs": (0.26, 0.28, 0.3, 0.33, 0.36),
    "n_walkers": 96,
    "max_steps": 6_000,
    "check_every": 1,
    "burn_in": 100,
    "seed": 0,
}, {"hidden": "n_hidden", "max_iters": "max_steps"})


def default_model():
    """The model and trained minimum of :data:`DEFAULTS`: ``(MLPLandscape, TrainResult)``."""
    model = MLPLandscape.from_dataset(DEFAULTS["dataset"], n_hidden=DEFAULTS["n_hidden"],
                                      weight_decay=DEFAULTS["weight_decay"])
    return model, model.train(DEFAULTS["train_seed"])


@renamed_keywords(max_iters="max_steps")
def default_scans(*, seed=0, n_walkers=None, max_steps=None, burn_in=None, executor: Executor | None = None):
    r"""The two scans of :data:`DEFAULTS`: :math:`-\log\gamma` against :math:`B` and against :math:`1/\eta`.

    The settings of both scans are run in one batch (the shared one once).
    Returns ``(model, train_result, scan_batch_size, scan_lr)``; ``seed``,
    ``n_walkers``, ``max_steps`` (deprecated name ``max_iters``) and
    ``burn_in`` replace the defaults when given.
    """
    d = DEFAULTS
    model, trained = default_model()
    burn_in = d["burn_in"] if burn_in is None else burn_in
    by_b = [(d["lr"], b) for b in d["batch_sizes"]]
    by_lr = [(a, d["batch_size"]) for a in d["lrs"]]
    settings = list(dict.fromkeys(by_b + by_lr))
    scan = escape_scan(model, trained.theta, lr=[a for a, _ in settings], batch_size=[b for _, b in settings],
                       threshold=d["threshold"], n_walkers=n_walkers or d["n_walkers"],
                       max_steps=max_steps or d["max_steps"], check_every=d["check_every"],
                       seed=d["seed"] if seed is None else seed, burn_in=burn_in, executor=executor)
    found = dict(zip(settings, scan.results))
    return (model, trained, EscapeScan.from_results(tuple(found[k] for k in by_b), burn_in),
            EscapeScan.from_results(tuple(found[k] for k in by_lr), burn_in))
