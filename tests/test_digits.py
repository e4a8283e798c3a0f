"""The digits data set and the 64-h-10 tanh network on it (theory.datasets, theory.digits).

The network's losses are checked against their formulas written out in NumPy
(and against exact values at zero weights), its start against the stated
LeCun-normal law, and its refusals by the parameter they name.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theory.datasets import DATASETS, load_dataset
from theory.networks import MLPLandscape

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)

from theory.digits import DIGITS_LOSSES, digits_network, x64_mode  # noqa: E402


def test_digits_are_scikit_learns_images_scaled_to_the_unit_interval():
    from sklearn.datasets import load_digits

    x, y, loss = load_dataset("digits")
    assert DATASETS["digits"] == loss == "cross_entropy"
    assert x.shape == (1797, 64) and x.dtype == np.float64 and y.shape == (1797,) and y.dtype == np.int64
    ref = load_digits()
    np.testing.assert_array_equal(x * 16, ref.data)  # the grey levels 0..16, divided by 16, in the same order
    np.testing.assert_array_equal(y, ref.target)
    assert x.min() == 0.0 and x.max() == 1.0 and set(np.unique(y)) == set(range(10))


def test_the_one_output_network_refuses_the_ten_classes_by_their_loss():
    with pytest.raises(ValueError, match="loss"):
        MLPLandscape.from_dataset("digits")


def _numpy_loss(model, theta, kind):
    (w1, b1), (w2, b2) = (tuple(np.asarray(a) for a in layer) for layer in model.params_of(theta))
    x, target = (np.asarray(a) for a in model.data)
    out = np.tanh(x @ w1 + b1) @ w2 + b2
    if kind == "mse":
        return 0.5 * np.mean(np.sum((out - target) ** 2, axis=1))
    top = out.max(axis=1, keepdims=True)
    log_z = np.log(np.sum(np.exp(out - top), axis=1)) + top[:, 0]
    return np.mean(log_z - out[np.arange(out.shape[0]), target.argmax(axis=1)])


@settings(max_examples=6, deadline=None)
@given(st.integers(1, 1797), st.integers(1, 5), st.sampled_from(DIGITS_LOSSES), st.integers(0, 2**31 - 1))
def test_the_loss_is_the_stated_formula_on_the_first_images(n_data, hidden, kind, seed):
    model = digits_network(n_data, hidden, kind, seed=seed)
    assert (model.n_data, model.n_params) == (n_data, 75 * hidden + 10)
    x, labels, _ = load_dataset("digits")
    np.testing.assert_array_equal(np.asarray(model.data[0]), x[:n_data])
    np.testing.assert_array_equal(np.asarray(model.data[1]).argmax(axis=1), labels[:n_data])
    theta = model.start + 0.3 * np.random.default_rng(seed).normal(size=model.n_params)
    assert model.loss(theta) == pytest.approx(_numpy_loss(model, theta, kind), rel=1e-12)


def test_zero_weights_give_the_exact_losses_of_constant_outputs():
    # f = 0: half the squared distance to a one-hot vector is 1/2; the softmax is uniform, cross-entropy log 10
    assert digits_network(50, 3, "mse").loss(np.zeros(235)) == pytest.approx(0.5, rel=1e-15)
    assert digits_network(50, 3, "cross_entropy").loss(np.zeros(235)) == pytest.approx(np.log(10), rel=1e-15)


def test_the_start_is_lecun_normal_with_zero_biases_and_seeded():
    model = digits_network(hidden=32, seed=4)
    (w1, b1), (w2, b2) = (tuple(np.asarray(a) for a in layer) for layer in model.params_of(model.start))
    assert w1.shape == (64, 32) and w2.shape == (32, 10)
    assert not np.any(b1) and not np.any(b2)
    # the sample standard deviation of n normals is within 5 / sqrt(2 n) of sigma (relative) but for ~1e-6 of draws
    for w, fan_in in ((w1, 64), (w2, 32)):
        assert abs(w.std() * np.sqrt(fan_in) - 1) < 5 / np.sqrt(2 * w.size)
    np.testing.assert_array_equal(model.initial(4), model.start)
    np.testing.assert_array_equal(digits_network(hidden=32, seed=4).start, model.start)
    assert not np.array_equal(digits_network(hidden=32, seed=5).start, model.start)


def test_refusals_name_the_parameter():
    for kwargs, name in (({"n_data": 0}, "n_data"), ({"n_data": 1798}, "n_data"), ({"hidden": 0}, "hidden"),
                         ({"loss": "hinge"}, "loss"), ({"seed": -1}, "seed")):
        with pytest.raises(ValueError, match=name):
            digits_network(**kwargs)
    with pytest.raises(TypeError, match="n_data"):
        digits_network(n_data=10.5)


def test_32_bit_mode_is_refused_and_x64_mode_enables_it_for_a_block_only():
    with jax.enable_x64(False):
        with pytest.raises(ValueError, match="jax_enable_x64"):
            digits_network(20, 2)
        with x64_mode():
            model = digits_network(20, 2)
            assert model.gradient(model.start).dtype == np.float64
        assert jax.numpy.zeros(()).dtype == np.float32


def test_importing_the_package_imports_no_jax():
    code = ("import sys, theory, theory.digits, theory.checks.dynamics, theory.figures.dynamics; "
            "print('jax' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
