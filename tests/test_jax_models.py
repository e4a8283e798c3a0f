"""The JAX adapter: a user's JAX loss as a model of the package (theory.hessian_models.from_jax).

The references are the package's own closed-form models: least squares and
logistic regression written in JAX must give the same loss, gradient, HVP,
per-example gradients and Hessian as :class:`LinearLeastSquares` and
:class:`LogisticRegression` to rounding. A network written here (not shipped
with the package) trains with every optimizer.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

jax = pytest.importorskip("jax")  # its 64-bit mode is on for the session (conftest.py)
jnp = jax.numpy

from theory import DomainError  # noqa: E402
from theory.hessian_models import LinearLeastSquares, LogisticRegression, from_jax  # noqa: E402
from theory.rng import seed_sequence  # noqa: E402
from theory.simulators import GD, IVON, SAM, SGD, VGD, GTracer, train  # noqa: E402

RNG = np.random.default_rng(seed_sequence(13))
X = RNG.normal(size=(40, 5))
Y = X @ RNG.normal(size=5) + 0.3 * RNG.normal(size=40)
LABELS = (X @ RNG.normal(size=5) + RNG.normal(size=40) > 0).astype(float)


def _least_squares(p, batch):
    x, y = batch
    return 0.5 * jnp.mean((x @ p["w"] - y) ** 2)


def _logistic(p, batch):
    x, y = batch
    z = x @ p["w"]
    return jnp.mean(jnp.logaddexp(0.0, z) - y * z)


def _close(a, b, rel=1e-13):
    a, b = np.asarray(a), np.asarray(b)
    scale = max(float(np.max(np.abs(b))), 1e-300)
    assert float(np.max(np.abs(a - b))) <= rel * scale, (a, b)


@pytest.mark.parametrize(("loss", "ref"), [(_least_squares, LinearLeastSquares(X, Y)),
                                           (_logistic, LogisticRegression(X, LABELS))])
def test_the_adapter_equals_the_closed_form_models(loss, ref):
    y = Y if ref.__class__ is LinearLeastSquares else LABELS
    model = from_jax(loss, {"w": jnp.zeros(5)}, (X, y))
    assert (model.n_params, model.n_data) == (ref.n_params, ref.n_data)
    theta, vec = RNG.normal(size=5), RNG.normal(size=5)
    batch = np.array([3, 3, 7, 11, 0])
    for b in (None, batch):
        _close(model.loss(theta, b), ref.loss(theta, b))
        _close(model.gradient(theta, b), ref.gradient(theta, b))
        _close(model.hvp(theta, vec, b), ref.hvp(theta, vec, b))
        _close(model.per_sample_gradients(theta, b), ref.per_sample_gradients(theta, b))
        _close(model.hessian(theta, b), ref.hessian(theta, b))
        _close(model.fisher_diagonal(theta, b), ref.fisher_diagonal(theta, b))
        _close(model.fisher_vp(theta, vec, b), ref.fisher(theta, b) @ vec)
        _close(model.gradient_covariance(theta, b), ref.gradient_covariance(theta, b))
    assert isinstance(model.gradient(theta), np.ndarray) and model.gradient(theta).dtype == np.float64


def _mlp(p, batch):
    x, y = batch
    h = jnp.tanh(x @ p["layers"][0]["w"] + p["layers"][0]["b"])
    return 0.5 * jnp.mean((h @ p["layers"][1]["w"] - y) ** 2)


def _mlp_params(key):
    k1, k2 = jax.random.split(key)
    return {"layers": [{"w": jax.random.normal(k1, (5, 4)) / 3, "b": jnp.zeros(4)},
                       {"w": jax.random.normal(k2, (4,)) / 2}]}


MLP = from_jax(_mlp, _mlp_params(jax.random.key(0)), (X, Y), init=_mlp_params)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_hvp_is_symmetric_and_the_directional_derivative_of_the_gradient(seed):
    rng = np.random.default_rng(seed)
    theta, u, w = (rng.normal(size=MLP.n_params) for _ in range(3))
    hu, hw = MLP.hvp(theta, u), MLP.hvp(theta, w)
    assert abs(u @ hw - w @ hu) <= 1e-12 * (abs(u @ hw) + np.linalg.norm(u) * np.linalg.norm(hw))
    # against the dense Hessian of the same loss (reverse-over-reverse)
    _close(hu, MLP.hessian(theta) @ u, rel=1e-12)
    # a central difference of the gradient agrees to its own truncation error, O(h^2)
    h = 1e-5
    fd = (MLP.gradient(theta + h * u) - MLP.gradient(theta - h * u)) / (2 * h)
    assert np.max(np.abs(fd - hu)) <= 1e-6 * (1 + np.max(np.abs(hu)))


def test_flat_order_is_ravel_pytree_and_params_of_inverts_it():
    params = _mlp_params(jax.random.key(3))
    flat = np.asarray(jax.flatten_util.ravel_pytree(params)[0])
    back = MLP.params_of(flat)
    assert jax.tree_util.tree_structure(back) == jax.tree_util.tree_structure(params)
    for a, b in zip(jax.tree_util.tree_leaves(back), jax.tree_util.tree_leaves(params)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_batches_select_rows_and_seeded_starts_repeat():
    theta = MLP.initial(5)
    np.testing.assert_array_equal(theta, MLP.initial(5))
    assert not np.array_equal(theta, MLP.initial(6))
    batch = np.array([1, 4, 4, 9])
    sub = from_jax(_mlp, _mlp_params(jax.random.key(0)), (X[batch], Y[batch]))
    _close(MLP.loss(theta, batch), sub.loss(theta), rel=1e-14)
    _close(MLP.gradient(theta, batch), sub.gradient(theta), rel=1e-14)
    held = MLP.with_data(X[:7], Y[:7])
    assert held.n_data == 7 and held.n_params == MLP.n_params
    # without init, the start is the given params for every seed
    plain = from_jax(_mlp, _mlp_params(jax.random.key(0)), (X, Y))
    np.testing.assert_array_equal(plain.initial(0), plain.initial(9))


@pytest.mark.parametrize("opt", [GD(), SGD(8), VGD(0.05, n_samples=2), IVON(ess=40.0), SAM(0.05),
                                 GTracer(1e-3)])
def test_a_users_jax_network_trains_with_every_optimizer(opt):
    run = train(MLP, opt, lr=0.05, n_steps=30, seed=1, track_every=10, top_k=2, alpha=0.1, test_data=(X[:10], Y[:10]))
    assert run.diverged_at is None and np.all(np.isfinite(run.loss))
    assert np.all(np.isfinite(run.top_eigenvalues)) and run.top_eigenvalues.shape == (4, 2)
    for name in ("effective_number", "trace_ratio", "test_loss"):
        assert np.all(np.isfinite(getattr(run, name))), name
    dense = np.linalg.eigvalsh(MLP.hessian(run.final_theta))[::-1][:2]
    _close(run.top_eigenvalues[-1], dense, rel=1e-8)


def test_refusals_name_what_is_wrong():
    start = {"w": jnp.zeros(5)}
    with pytest.raises(TypeError, match="loss"):
        from_jax("not a function", start, (X, Y))
    with pytest.raises(TypeError, match="params"):
        from_jax(_least_squares, {"w": jnp.zeros(5, dtype=jnp.int32)}, (X, Y))
    with pytest.raises(ValueError, match="data"):
        from_jax(_least_squares, start, (X, Y[:-1]))
    with pytest.raises(TypeError, match="data"):
        from_jax(_least_squares, start, X)
    with pytest.raises(ValueError, match="loss"):
        from_jax(lambda p, b: _least_squares(p, b).astype(jnp.float32), start, (X, Y))
    with pytest.raises(ValueError, match="loss"):
        from_jax(lambda p, b: jnp.mean(b[0] @ p["w"]) * jnp.ones(2), start, (X, Y))
    model = from_jax(_least_squares, start, (X, Y))
    with pytest.raises(ValueError, match="theta"):
        model.gradient(np.zeros(4))
    with pytest.raises(ValueError, match="vec"):
        model.hvp(np.zeros(5), np.full(5, np.nan))
    with pytest.raises(ValueError, match="batch"):
        model.loss(np.zeros(5), [40])


def test_float32_mode_is_refused_with_the_way_to_enable_float64():
    jax.config.update("jax_enable_x64", False)
    try:
        with pytest.raises(ValueError, match="jax_enable_x64"):
            from_jax(_least_squares, {"w": np.zeros(5)}, (X, Y))
    finally:
        jax.config.update("jax_enable_x64", True)


def test_tracking_above_600_parameters_is_warm_started_lanczos_on_the_hvps():
    from theory.digits import digits_network
    model = digits_network(n_data=200, hidden=8)  # P = 610: the Hessian is not formed
    run = train(model, GD(), lr=0.05, n_steps=40, track_every=10, track=("sharpness",), top_k=3,
                theta0=model.start)
    assert model.n_params > 600 and run.lanczos_hvps.shape == (5,)
    # warm starts from the previous tracked step's eigenvectors spend fewer HVPs than the cold first step
    assert np.all(run.lanczos_hvps[1:] < run.lanczos_hvps[0])
    dense = np.linalg.eigvalsh(model.hessian(run.final_theta))[::-1][:3]
    _close(run.top_eigenvalues[-1], dense, rel=1e-10)


def test_the_effective_number_above_600_parameters_is_a_quadrature_with_its_error():
    from theory.digits import digits_network
    from theory.sharpness import effective_number
    from theory.stats import z_critical
    model = digits_network(n_data=200, hidden=8)
    run = train(model, GD(), lr=0.05, n_steps=10, track_every=10, track=("effective_number",), alpha=0.5,
                theta0=model.start)
    exact = [effective_number(np.linalg.eigvalsh(model.hessian(th)), 0.5, negative="clip") for th in run.theta]
    z = (run.effective_number - exact) / run.effective_number_stderr
    assert np.all(np.abs(z) < z_critical(1e-4, z.size)), z


def test_a_held_out_metric_is_tracked_and_compared_across_optimizers():
    from theory.digits import accuracy, digits_network, held_out
    from theory.simulators import flatness_comparison
    model = digits_network(n_data=300, hidden=8)
    x, onehot, labels = held_out(300)
    acc = accuracy(model, x, labels)
    # against the plain forward pass in NumPy
    p = model.params_of(model.start)
    (w1, b1), (w2, b2) = [(np.asarray(a), np.asarray(b)) for a, b in p]
    out = np.tanh(x @ w1 + b1) @ w2 + b2
    assert acc(model.start) == np.mean(np.argmax(out, axis=1) == labels)
    rows = flatness_comparison(model, {"GD": GD(), "SAM": SAM(0.05)}, lr=0.1, n_steps=20, seeds=2,
                               test_data=(x, onehot), test_metric=acc, theta0=lambda s: model.initial(s))
    for r in rows:
        est = r.estimate("test_metric")
        assert 0 <= float(est.value) <= 1 and est.n == 2
    with pytest.raises(TypeError, match="test_metric"):
        train(model, GD(), lr=0.1, n_steps=1, test_metric=3.0)
    with pytest.raises(ValueError, match="n_data"):
        held_out(1797)
