"""Test configuration: hypothesis profiles, and ``tests/`` on the import path for ``reference``.

``HYPOTHESIS_PROFILE=explore python -m pytest`` draws fresh random examples
(and more of them); the default profile is derandomized so that a run on a
clean checkout always tests the same cases.

The test modules import the shared reference layer as ``from reference import
...`` (``tests/reference.py``); the path is added here so that this also holds
under ``--import-mode=importlib``.
"""

import os
import sys
from pathlib import Path

import pytest
from hypothesis import settings

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

settings.register_profile("default", derandomize=True)
settings.register_profile("explore", max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

# JAX models need JAX's 64-bit mode, switched on once before any array is made, as a user's program
# does; on for the whole session, so no test's outcome depends on which test module imported JAX first
try:
    import jax
except ImportError:  # pragma: no cover - the jax extra is part of the test extra
    jax = None
else:
    jax.config.update("jax_enable_x64", True)


def pytest_terminal_summary(terminalreporter):
    """Report how many calls the API-wide property test (tests/test_api.py) made in this run."""
    module = sys.modules.get("test_api")
    if module is not None and module.CALLS["n"]:
        terminalreporter.write_line(
            f"test_api: {module.CALLS['n']} calls of {len(module.CALLABLES)} public callables")


@pytest.fixture
def threads():
    """Set numba's thread count inside a test (numba's set_num_threads); restored afterwards."""
    numba = pytest.importorskip("numba")
    old = numba.get_num_threads()
    yield numba.set_num_threads
    numba.set_num_threads(old)
