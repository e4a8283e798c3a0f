"""theory: closed forms and Monte Carlo checks of why training finds flat minima.

Four bodies of theory, each with formulas, the models it is stated on, Monte
Carlo twins, registered checks and figures (``<body>.<what>``), a docs page and
a notebook; :mod:`theory.bodies` lists where each piece lives:

- ``stability``: GD and variational GD on quadratics (:mod:`theory.vgd`,
  :mod:`theory.quadratic`);
- ``escape``: escape from minima (:mod:`theory.kramers`, :mod:`theory.landscapes`);
- ``spectra``: the random-matrix view of the Hessian (:mod:`theory.marchenko_pastur`,
  :mod:`theory.sharpness`, :mod:`theory.batch_size`);
- ``dynamics``: edge-of-stability trajectories (:mod:`theory.sam`, :mod:`theory.ivon`,
  :mod:`theory.simulators.training`).

The simulators are in :mod:`theory.simulators`; ``theory verify`` runs the
checks (:mod:`theory.checks`) and ``theory figures`` draws the plots
(:mod:`theory.figures`). Vocabulary: ``lr`` the learning rate η, ``sigma`` a
perturbation's standard deviation, ``n_samples`` the number of perturbations per
step, ``n_data`` the number of examples, ``seed`` (default 0) an int or a
``numpy.random.SeedSequence``. :func:`theory.diagnose` tells where a model
and a step size stand against every theory at once. Bad input raises :class:`DomainError` (a
``ValueError``) naming the parameter.
"""

from .errors import AsymptoticWarning, DomainError, TheoryWarning

__version__ = "0.2.0"

__all__ = ["DomainError", "TheoryWarning", "AsymptoticWarning", "diagnose", "__version__"]


def __getattr__(name):
    # theory.diagnose is imported on first use, so that importing the package stays light
    if name == "diagnose":
        from .diagnosis import diagnose

        return diagnose
    raise AttributeError(f"module 'theory' has no attribute {name!r}")
