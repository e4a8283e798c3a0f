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


def test_importing_the_package_does_not_import_cupy_sympy_matplotlib_or_jax():
    code = ("import sys, theory, theory.vgd, theory.quadratic, theory.simulators, theory.checks, "
            "theory.hessian_models, theory.jax_models;"
            "print([m for m in ('cupy', 'sympy', 'matplotlib', 'jax') if m in sys.modules])")
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


def test_cli_refuses_an_unavailable_backend_once_before_running_anything(capsys, monkeypatch):
    from theory import checks
    from theory.cli import main

    if "cupy" in available_backends():
        pytest.skip("CuPy and a GPU are present")
    ran = []
    monkeypatch.setattr(checks, "run", lambda *a, **k: ran.append(a))
    assert main(["verify", "--backend", "cupy", "--no-progress"]) == 2  # a usage error, like a bad option
    out, err = capsys.readouterr()
    assert ran == [] and out == ""
    assert err.count("\n") == 1 and "--backend cupy" in err and "pip install 'theory[cupy]'" in err


# ---------------------------------------------------------------- theory.stats

def test_z_critical_validates_and_keeps_its_accuracy_where_the_tail_underflows():
    from scipy import special

    from theory.stats import z_critical
    assert z_critical(0.05) == float(-special.ndtri(0.025))  # unchanged where it worked
    assert z_critical(0.05, 4, two_sided=False) == float(-special.ndtri(0.0125))
    for n_tests in (-1, 0):  # NaN and ZeroDivisionError before
        with pytest.raises(DomainError, match="n_tests must be an integer >= 1"):
            z_critical(0.05, n_tests)
    for bad, name in (((0.05, True), "n_tests"), ((0.05, 2.5), "n_tests"), ((np.array([0.05]),), "alpha"),
                      ((True,), "alpha")):
        with pytest.raises(TypeError, match=name):
            z_critical(*bad)
    with pytest.raises(TypeError, match="two_sided"):
        z_critical(0.05, 2, two_sided="yes")
    # alpha / n_tests underflows: the quantile of exp(log alpha - log n - log 2), not inf
    z = z_critical(5e-324, 10)
    assert np.isfinite(z) and abs(z - float(-special.ndtri_exp(np.log(5e-324) - np.log(20)))) < 1e-12
    assert np.isfinite(z_critical(0.05, 10**400))


@given(st.floats(1e-300, 0.999), st.integers(1, 10**30), st.booleans())
def test_z_critical_is_finite_and_decreasing_in_alpha(alpha, n_tests, two_sided):
    from theory.stats import z_critical
    z = z_critical(alpha, n_tests, two_sided=two_sided)
    assert np.isfinite(z) and z >= z_critical(min(0.999, alpha * 2), n_tests, two_sided=two_sided) - 1e-12


def test_censored_mean_refuses_mismatched_negative_or_empty_times_by_name():
    from theory.stats import censored_mean
    with pytest.raises(DomainError, match="times and censored must have the same length"):
        censored_mean([1.0, 2.0, 3.0], [False, True])
    with pytest.raises(DomainError, match="times must be finite and >= 0"):
        censored_mean([-1.0, 2.0, 3.0], [False, False, False])
    with pytest.raises(DomainError, match="times must not be empty"):
        censored_mean([], [])
    with pytest.raises(DomainError, match="times must hold at least 2"):
        censored_mean([1.0], [False])
    with pytest.raises(TypeError, match="censored"):
        censored_mean([1.0, 2.0], [0, 1])
    e = censored_mean([1.0, 2.0, 3.0], [False, True, False])
    assert e.value == 3.0 and e.stderr == 3.0 / np.sqrt(2)


@given(st.floats(-300, 300), st.lists(st.floats(0.5, 2.0), min_size=2, max_size=6), st.booleans())
def test_censored_mean_is_scale_equivariant_over_the_float_range(log_scale, base, censor_first):
    from theory.stats import censored_mean
    base = np.array(base)
    censored = np.zeros(base.size, dtype=bool)
    censored[0] = censor_first
    ref = censored_mean(base, censored)
    scale = 10.0 ** log_scale
    e = censored_mean(base * scale, censored)
    assert np.isclose(e.value, ref.value * scale, rtol=1e-12, atol=0)
    assert np.isclose(e.stderr, ref.stderr * scale, rtol=1e-9, atol=0)


def test_weighted_line_with_uncentred_huge_or_tiny_values():
    from theory.stats import weighted_line
    x = np.arange(10.0)
    y = 2.0 * x + 1.0 + np.sin(x) * 0.1
    ref = weighted_line(x, y, np.full(10, 0.1))
    # x far from 0 (LinAlgError before: the normal equations of 1, x are singular to rounding)
    shifted = weighted_line(x + 1e9, y - 2e9, np.full(10, 0.1))
    assert np.isclose(shifted.slope, ref.slope, rtol=1e-6) and np.isclose(shifted.chi2, ref.chi2, rtol=1e-4)
    for s in (1e200, 1e-200):  # LinAlgError and NaN before
        fit = weighted_line(x * s, y * s, np.full(10, 0.1) * s)
        assert np.isclose(fit.slope, ref.slope, rtol=1e-12) and np.isclose(fit.intercept / s, ref.intercept)
        assert np.isclose(fit.chi2, ref.chi2, rtol=1e-10) and np.isclose(fit.slope_se, ref.slope_se, rtol=1e-12)
        assert np.isclose(fit.curvature * s, ref.curvature, rtol=1e-8)


@given(st.floats(-290, 290), st.floats(-150, 150), st.floats(-100, 100), st.floats(-1e3, 1e3))
def test_weighted_line_is_equivariant_under_scaling_x_and_y(lx, ly, le, shift):
    from hypothesis import assume

    from theory.stats import weighted_line
    assume(abs(ly - lx) < 290 and abs(ly + le - lx) < 290)  # the slope and its error within the float range
    x = np.array([0.0, 1.0, 2.5, 3.0, 4.5])
    y = np.array([0.3, 1.1, 2.9, 2.7, 4.6])
    e = np.array([0.2, 0.1, 0.3, 0.2, 0.25])
    ref = weighted_line(x + shift, y, e)
    sx, sy, se = 10.0 ** lx, 10.0 ** ly, 10.0 ** le
    fit = weighted_line((x + shift) * sx, y * sy, e * sy * se)
    assert np.isclose(fit.slope, ref.slope * sy / sx, rtol=1e-8)
    assert np.isclose(fit.slope_se, ref.slope_se * se * sy / sx, rtol=1e-8)
    assert np.isclose(fit.chi2, ref.chi2 / se**2, rtol=1e-8)
    assert all(np.isfinite([fit.slope, fit.intercept, fit.slope_se, fit.intercept_se]))
    assert np.isclose(fit.curvature, ref.curvature * sy / sx / sx, rtol=1e-6) or (
        not np.isfinite(fit.curvature) and abs(ref.curvature * sy / sx) / sx > 1e300)


def test_z_score_names_the_arguments_that_do_not_broadcast():
    from theory.stats import z_score
    with pytest.raises(DomainError, match=r"stderr \(shape \(0,\)\) and expected \(shape \(2, 2\)\)"):
        z_score(-2e-10, np.array([]), np.ones((2, 2)))
    with pytest.raises(TypeError, match="^value must be real"):
        z_score(1 + 1j, 1.0, 0.0)
    assert z_score(1.0, 0.5, 0.0) == 2.0 and z_score(1.0, 0.0, 1.0) == 0.0


def test_control_variate_removes_the_explained_variance_and_keeps_the_mean():
    from theory.stats import Moments, control_variate, z_critical
    rng = np.random.default_rng(seed_sequence(3))
    c = rng.normal(size=20_000)
    y = 5.0 + 2.0 * c + 0.1 * rng.normal(size=c.size)
    cv, plain = control_variate(y, c, 0.0), Moments.of(y).estimate()
    # residual sd 0.1 against the plain sd sqrt(4.01): the standard error falls by about 20
    assert float(cv.stderr) == pytest.approx(0.1 / np.sqrt(c.size), rel=0.05)
    assert float(plain.stderr) / float(cv.stderr) > 15
    assert abs(float(cv.z(5.0))) < z_critical(1e-4)
    # several statistics at once, one control column shared; the control given as the wrong axis is refused
    both = control_variate(np.c_[y, -y], c[:, None], 0.0)
    np.testing.assert_allclose(both.value, [float(cv.value), -float(cv.value)], rtol=1e-12)
    with pytest.raises(DomainError, match="control"):
        control_variate(y, c[:, None], 0.0)
    with pytest.raises(DomainError, match="samples"):
        control_variate(y[:2], c[:2], 0.0)
    with pytest.raises(ValueError, match="control_mean"):
        control_variate(y, c, np.nan)


@given(st.floats(-250, 250), st.floats(-250, 250))
def test_control_variate_is_scale_equivariant_over_the_float_range(log_y, log_c):
    from theory.stats import control_variate
    rng = np.random.default_rng(seed_sequence(4))
    c = rng.normal(size=50)
    y = 1.0 + c + rng.normal(size=50)
    ref = control_variate(y, c, 0.0)
    sy, sc = 10.0**log_y, 10.0**log_c
    got = control_variate(y * sy, c * sc, 0.0)
    np.testing.assert_allclose([float(got.value) / sy, float(got.stderr) / sy],
                               [float(ref.value), float(ref.stderr)], rtol=1e-12)
