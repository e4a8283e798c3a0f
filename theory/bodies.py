"""Where everything is: the four bodies of theory, and the layers of the package.

Each body of theory has closed-form formulas, the models it is stated on, the
Monte Carlo twins that check it, registered checks and figures (named
``<body>.<what>``), a docs page and a notebook. :data:`BODIES` lists them, so a
reader finds everything of one body from one place::

    >>> from theory.bodies import BODIES
    >>> BODIES["escape"].formulas
    ('theory.kramers',)

The package is layered; a module imports only from its own layer or the layers
below it (:data:`LAYERS`, lowest first), and there is no import cycle:

``core``
    errors, validation, the array backend, random streams, statistics,
    exact arithmetic, parameter sweeps.
``formulas``
    pure closed forms, one module per result family.
``models``
    the landscapes and loss models that several bodies share.
``simulators``
    the Monte Carlo twins, in :mod:`theory.simulators`.
``registries``
    the checks and figures that pair formulas with simulations, and the
    experiments built on them.
``front``
    the command line and this map.

The test suite holds the code to this map: every module belongs to one layer,
every import points down or sideways without a cycle, and every check and
figure name starts with a body listed here.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

__all__ = ["Body", "BODIES", "LAYERS", "layer_of"]


@dataclass(frozen=True)
class Body:
    """One body of theory: its modules, its checks' and figures' prefix, its page and notebook."""

    name: str
    title: str
    formulas: tuple[str, ...]
    models: tuple[str, ...]
    simulators: tuple[str, ...]
    page: str
    notebook: str

    @property
    def prefix(self) -> str:
        """The prefix of the names of this body's checks and figures."""
        return f"{self.name}."

    def checks(self) -> list[str]:
        """Names of this body's registered checks."""
        from . import checks

        return [n for n in checks.registry() if n.startswith(self.prefix)]

    def figures(self) -> list[str]:
        """Names of this body's registered figures."""
        from . import figures

        return [n for n in figures.registry() if n.startswith(self.prefix)]


BODIES: dict[str, Body] = {b.name: b for b in (
    Body("stability", "Stability of GD and variational GD on quadratics",
         formulas=("theory.vgd", "theory.quadratic", "theory.symbolic"),
         models=(),
         simulators=("theory.simulators.quadratic",),
         page="docs/stability.md", notebook="notebooks/stability.py"),
    Body("escape", "Escape from minima: diffusion theory",
         formulas=("theory.kramers", "theory.valley_escape"),
         models=("theory.landscapes", "theory.networks", "theory.datasets"),
         simulators=("theory.simulators.escape", "theory.simulators.occupation",
                     "theory.simulators.minibatch_escape"),
         page="docs/escape.md", notebook="notebooks/escape.py"),
    Body("spectra", "The random-matrix view of the Hessian",
         formulas=("theory.marchenko_pastur", "theory.sharpness", "theory.batch_size", "theory.curvature"),
         models=("theory.hessian_models", "theory.jax_models"),
         simulators=("theory.simulators.wishart", "theory.simulators.gradient_noise",
                     "theory.simulators.batch_hessian"),
         page="docs/spectra.md", notebook="notebooks/spectra.py"),
    Body("dynamics", "Edge-of-stability dynamics: GD, VGD, IVON, SAM and G-TRACER trajectories",
         formulas=("theory.sam", "theory.ivon", "theory.sharpness", "theory.curvature"),
         models=("theory.hessian_models", "theory.jax_models", "theory.digits"),
         simulators=("theory.simulators.training",),
         page="docs/dynamics.md", notebook="notebooks/dynamics.py"),
)}

#: the layers, lowest first, each a tuple of module-name patterns (fnmatch)
LAYERS: dict[str, tuple[str, ...]] = {
    "core": ("theory.errors", "theory.backend", "theory.rng", "theory.stats", "theory.sweep", "theory._[a-z]*"),
    "formulas": ("theory.vgd", "theory.quadratic", "theory.symbolic", "theory.sam", "theory.ivon",
                 "theory.kramers", "theory.marchenko_pastur", "theory.sharpness", "theory.batch_size",
                 "theory.valley_escape", "theory.curvature"),
    "models": ("theory.landscapes", "theory.hessian_models", "theory.datasets", "theory.networks",
               "theory.jax_models", "theory.digits"),
    "simulators": ("theory.simulators", "theory.simulators.*"),
    "registries": ("theory.checks", "theory.checks.*", "theory.figures", "theory.figures.*",
                   "theory.learned", "theory.experiments"),
    "front": ("theory", "theory.__main__", "theory.cli", "theory.bodies", "theory.diagnosis"),
}


def layer_of(module: str) -> str:
    """The layer a module of the package belongs to (``KeyError`` for a module in none)."""
    for name, patterns in LAYERS.items():
        if any(fnmatch.fnmatchcase(module, p) for p in patterns):
            return name
    raise KeyError(f"module {module!r} belongs to no layer of theory.bodies.LAYERS")
