"""SGD escape on a learned landscape: one import for the pieces, which live by role in their own modules.

- :func:`load_dataset`: :mod:`theory.datasets`;
- :class:`MLPLandscape`, :class:`TrainResult`: :mod:`theory.networks`;
- :func:`minibatch_noise_covariance`, :func:`quadratic_escape_exponent`
  (formulas): :mod:`theory.valley_escape`;
- :func:`sgd_escape`, :class:`EscapeResult`, :func:`escape_scan`,
  :class:`EscapeScan` (the simulator): :mod:`theory.simulators.minibatch_escape`;
- :data:`DEFAULTS`, :func:`default_model`, :func:`default_scans` (the
  experiment): :mod:`theory.experiments`.

``from theory.learned import X`` keeps working for each of these names.
"""

from __future__ import annotations

from .datasets import load_dataset
from .experiments import DEFAULTS, default_model, default_scans
from .networks import MLPLandscape, TrainResult
from .simulators.minibatch_escape import EscapeResult, EscapeScan, escape_scan, sgd_escape
from .stats import weighted_line
from .valley_escape import minibatch_noise_covariance, quadratic_escape_exponent

__all__ = [
    "DEFAULTS",
    "load_dataset",
    "MLPLandscape",
    "TrainResult",
    "EscapeResult",
    "sgd_escape",
    "minibatch_noise_covariance",
    "quadratic_escape_exponent",
    "escape_scan",
    "EscapeScan",
    "default_model",
    "default_scans",
]
