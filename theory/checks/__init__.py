"""The registry of checks: each pairs a closed-form result with the simulation that tests it.

``theory verify`` runs them. The machinery (rows, verdicts, registration) is in
:mod:`theory.checks.core`; the checks of each body of theory are in the module
named after it (:mod:`~theory.checks.stability`, :mod:`~theory.checks.escape`,
:mod:`~theory.checks.spectra`, :mod:`~theory.checks.dynamics`), and their names
carry the body as a prefix (``stability.expected_loss_change``).
"""

from __future__ import annotations

from .core import (
    ALLOWANCE_KINDS,
    DEFAULT_ALPHA,
    KINDS,
    Check,
    CheckResult,
    Comparison,
    Context,
    register,
    registry,
    run,
    select,
)

# Modules that register checks (imported for their side effect).
from . import dynamics, escape, spectra, stability  # noqa: E402,F401

__all__ = ["Check", "Comparison", "CheckResult", "Context", "register", "registry", "select", "run",
           "DEFAULT_ALPHA", "KINDS", "ALLOWANCE_KINDS"]
