"""Validation messages, random streams, array backends, the progress bar."""

from __future__ import annotations

import subprocess
import sys

import io

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from theory import DomainError
from theory import _validate as v
from theory._progress import Progress
from theory.backend import available_backends, get_backend
from theory.rng import blocks, derive, seed_sequence


# ---------------------------------------------------------------- validation

def test_messages_name_parameter_range_and_value():
    with pytest.raises(DomainError) as err:
        v.positive(np.array([1.0, -2.0, -3.0]), "lr")
    assert str(err.value) == "lr must be finite and > 0; got -2.0 (and 1 more)"
    with pytest.raises(DomainError, match="must be a number, not NaN"):
        v.nonnegative([1.0, np.nan], "sigma")
    with pytest.raises(TypeError, match="sigma must be a real number"):
        v.nonnegative("0.1", "sigma")
    with pytest.raises(TypeError, match="n_runs must be an integer"):
        v.as_int(2.5, "n_runs")
    with pytest.raises(TypeError):
        v.as_int(True, "n_runs")
    assert v.as_int(4.0, "n_runs") == 4
    with pytest.raises(DomainError, match="n_runs must be an integer >= 2; got 1"):
        v.as_int(1, "n_runs", 2)


def test_scalar_out():
    assert isinstance(v.scalar_out(np.float64(1.0), 1.0, np.float64(2.0)), float)
    assert isinstance(v.scalar_out(np.ones(2), 1.0, [1.0, 2.0]), np.ndarray)


# ---------------------------------------------------------------- streams

def test_derive_is_stable_across_processes():
    here = derive(7, "vgd.threshold_sign_change", 3).generate_state(4).tolist()
    code = ("from theory.rng import derive;"
            "print(derive(7, 'vgd.threshold_sign_change', 3).generate_state(4).tolist())")
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert there.strip() == str(here)


def test_derive_children_differ_and_do_not_depend_on_order():
    a = derive(1, "x", 0).generate_state(2).tolist()
    derive(1, "y")  # deriving something else first changes nothing
    assert derive(1, "x", 0).generate_state(2).tolist() == a
    assert derive(1, "x", 1).generate_state(2).tolist() != a
    assert derive(2, "x", 0).generate_state(2).tolist() != a


def test_seed_sequence_inputs():
    ss = np.random.SeedSequence(5)
    assert seed_sequence(ss) is ss
    assert seed_sequence(5).entropy == 5
    assert seed_sequence(None).entropy is not None
    with pytest.raises(TypeError, match="cannot be split reproducibly"):
        seed_sequence(np.random.default_rng(0))
    with pytest.raises(ValueError):
        seed_sequence(-1)
    with pytest.raises(TypeError):
        seed_sequence(1.5)


def test_blocks():
    assert blocks(5, 2) == [(0, 2), (2, 4), (4, 5)]
    assert blocks(4, 4) == [(0, 4)]


# ---------------------------------------------------------------- backends

def test_numpy_is_the_default_and_names_are_checked():
    assert get_backend().name == "numpy"
    assert get_backend(None, np.ones(3)).name == "numpy"
    assert get_backend("numpy") is get_backend("numpy")
    with pytest.raises(ValueError, match="backend must be one of"):
        get_backend("torch")
    assert "numpy" in available_backends()


def test_cupy_absence_is_a_clear_import_error():
    pytest.importorskip("numpy")
    try:
        import cupy  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match=r"pip install 'theory\[cupy\]'"):
            get_backend("cupy")
    else:
        pytest.skip("CuPy is installed")


def test_importing_the_package_does_not_import_cupy_sympy_or_matplotlib():
    code = ("import sys, theory, theory.vgd, theory.quadratic, theory.simulators, theory.checks;"
            "print([m for m in ('cupy', 'sympy', 'matplotlib') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# ---------------------------------------------------------------- progress bar

def _last_frame(text: str) -> str:
    """What a terminal shows last: the text after the final carriage return."""
    return text.rstrip("\n").rsplit("\r", 1)[-1]


@given(st.integers(1, 30), st.data())
def test_progress_counts_and_draws_on_tqdm(total, data):
    n_done = data.draw(st.integers(0, total))
    stream = io.StringIO()
    bar = Progress(total, stream=stream)
    for i in range(n_done):
        bar.step(f"item-{i}")
        bar.advance()
    assert bar.done == n_done
    bar.close()
    last = _last_frame(stream.getvalue())
    assert f"{n_done}/{total}" in last and f"{100 * n_done / total:3.0f}%" in last
    if n_done:
        assert f"item-{n_done - 1}" in last
    assert stream.getvalue().endswith("\n")  # the finished bar keeps its line


def test_progress_writes_to_stderr_only_and_nothing_when_disabled(capsys):
    bar = Progress(2)
    bar.step("first")
    bar.advance()
    bar.close()
    out, err = capsys.readouterr()
    assert out == "" and "1/2" in err and "first" in err

    bar = Progress(2, enabled=False)
    bar.step("first")
    bar.advance()
    bar.done = 2
    bar.close()
    assert bar.done == 2  # still counts, so callers may read it
    assert capsys.readouterr() == ("", "")


def test_progress_resumes_part_way():
    stream = io.StringIO()
    bar = Progress(5, stream=stream)
    bar.done = 3  # rows loaded from a results file
    bar.step("next")
    bar.advance()
    bar.close()
    assert bar.done == 4 and "4/5" in _last_frame(stream.getvalue())


def test_cli_progress_goes_to_stderr_and_no_progress_silences_it(capsys):
    from theory import checks
    from theory.cli import main

    names = [c.name for c in checks.select(only="expected_loss_change")]
    args = ["verify", "--only", "expected_loss_change", "--seed", "3"]
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert names and all(name in err for name in names)
    assert f"{len(names)}/{len(names)}" in _last_frame(err)
    assert "\r" not in out and "checks passed" in out
    assert main([*args, "--no-progress"]) == 0
    out_quiet, err_quiet = capsys.readouterr()
    assert err_quiet == ""

    def untimed(text):
        return [line for line in text.splitlines() if "checks passed in" not in line]

    assert untimed(out_quiet) == untimed(out)  # the bar changes nothing on stdout
