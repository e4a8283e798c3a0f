"""theory.hessian_models: the model protocol (minimal and optional parts), ScalarProduct, SoftmaxAttention, MLP."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theory import DomainError
from theory.hessian_models import (HVP_STEP, LinearLeastSquares, LogisticRegression, LossModel, MinimalLossModel,
                                   ScalarProduct, SoftmaxAttention, TwoLayerNetwork, synthetic_attention_task,
                                   synthetic_regression, train_test_split, trained_spectrum)
from theory.networks import MLPLandscape
from theory.sharpness import top_eigenvalue


def _models():
    x, y = synthetic_regression(30, 4, 2, seed=0)
    xa, ya = synthetic_attention_task(12, 5, 4, 3, 2, seed=0)
    rng = np.random.default_rng(0)
    xs = rng.normal(size=7)
    return {
        "scalar": ScalarProduct(xs, 0.8 * xs + 0.3 * rng.normal(size=7)),
        "network": TwoLayerNetwork(x, y, 5),
        "attention": SoftmaxAttention(xa, ya, 3),
        "least_squares": LinearLeastSquares(x, y[:, 0]),
        "logistic": LogisticRegression(x, (y[:, 0] > 0).astype(float), l2=0.1),
        "mlp": MLPLandscape(x, y[:, 0], n_hidden=3, weight_decay=0.05),
    }


MODELS = _models()
# models whose gradient code is complex-analytic (the complex step of the loss gives the exact gradient)
ANALYTIC = ["scalar", "network", "attention", "least_squares", "mlp"]


def _theta(model, seed=1):
    # away from the minimum and from the origin: residuals and curvature both O(1)
    return model.initial(seed, scale=None if not isinstance(model, ScalarProduct) else 1.0) * 1.5


def _rel(a, b):
    return np.max(np.abs(a - b)) / np.max(np.abs(b))


def _fd(f, theta, h):
    return np.stack([(np.asarray(f(theta + h * e)) - np.asarray(f(theta - h * e))) / (2 * h)
                     for e in np.eye(theta.size)], axis=-1)


# ---------------------------------------------------------------- derivatives

@pytest.mark.parametrize("name", list(MODELS))
def test_gradient_matches_central_finite_differences(name):
    m = MODELS[name]
    theta = _theta(m)
    assert _rel(m.gradient(theta), _fd(m.loss, theta, 1e-6)) < 1e-7


@pytest.mark.parametrize("name", ANALYTIC)
def test_gradient_matches_the_complex_step_of_the_loss_to_rounding(name):
    """An independent exact check of the hand-derived gradient: dL/dθ_j = Im L(θ + i h e_j)/h."""
    m = MODELS[name]
    theta = _theta(m)
    cs = np.array([np.imag(m._loss(theta + 1j * HVP_STEP * e, None)) / HVP_STEP for e in np.eye(m.n_params)])
    assert _rel(m.gradient(theta), cs) < 1e-13


@pytest.mark.parametrize("name", list(MODELS))
def test_hessian_is_symmetric_and_matches_finite_differences_of_the_gradient(name):
    m = MODELS[name]
    theta = _theta(m)
    h = m.hessian(theta)
    assert h.shape == (m.n_params, m.n_params)
    assert np.max(np.abs(h - h.T)) <= 1e-13 * np.max(np.abs(h))
    assert _rel(h, _fd(m.gradient, theta, 1e-6)) < 1e-7


@pytest.mark.parametrize("name", list(MODELS))
def test_hvp_matches_the_dense_hessian(name):
    m = MODELS[name]
    theta = _theta(m)
    h = m.hessian(theta)
    rng = np.random.default_rng(2)
    for _ in range(3):
        vec = rng.normal(size=m.n_params)
        assert _rel(m.hvp(theta, vec), h @ vec) < 1e-12
    assert np.array_equal(m.hvp(theta, np.zeros(m.n_params)), np.zeros(m.n_params))


@pytest.mark.parametrize("name", ["network", "attention"])
def test_hvp_columns_are_symmetric_before_symmetrisation_and_scale_free(name):
    m = MODELS[name]
    theta = _theta(m)
    cols = np.stack([m.hvp(theta, e) for e in np.eye(m.n_params)], axis=1)
    assert np.max(np.abs(cols - cols.T)) <= 1e-13 * np.max(np.abs(cols))
    vec = np.random.default_rng(3).normal(size=m.n_params)
    hv = m.hvp(theta, vec)
    for s in (1e-200, 1e200):  # the complex step is rescaled: no underflow, no overflow
        assert _rel(m.hvp(theta, s * vec) / s, hv) < 1e-14


@pytest.mark.parametrize("name", ["scalar", "attention", "mlp"])
def test_complex_step_hvp_is_linear_in_vec_up_to_the_largest_doubles(name):
    # vec entries of 1e300 gave NaN: h/|vec| underflowed to 0 and |vec|/h overflowed to inf
    m = MODELS[name]
    theta = _theta(m)
    vec = np.random.default_rng(4).uniform(-1.0, 1.0, m.n_params)
    hv = m.hvp(theta, vec)
    for s in (1e278, 1e280, 1e300, 1e-280):
        out = m.hvp(theta, s * vec)
        assert np.all(np.isfinite(out)) and _rel(out / s, hv) < 1e-14, s
    big = m.hvp(theta, np.full(m.n_params, 1e300))
    assert np.all(np.isfinite(big)) and _rel(big / 1e300, m.hvp(theta, np.ones(m.n_params))) < 1e-14


@settings(max_examples=30, deadline=None)
@given(st.floats(-320, 307))
def test_complex_step_hvp_scales_exactly_over_the_float_range(log_scale):
    m = MODELS["scalar"]
    theta = _theta(m)
    vec = np.array([0.6, -0.8])
    s = 10.0 ** log_scale
    exact = m.hessian(theta) @ vec
    out = m.hvp(theta, vec * s)
    if np.all(np.isfinite(exact * s)) and np.all(np.abs(exact * s) > 1e-300):
        assert _rel(out / s, exact) < 1e-13


def test_initial_refuses_a_nan_negative_infinite_or_array_scale():
    m = MODELS["network"]
    for bad in (np.nan, -1.0, np.inf):  # NaN or inf parameters before; -1 silently flipped the signs
        with pytest.raises(DomainError, match="^scale "):
            m.initial(0, scale=bad)
    for bad in (True, [1.0, 2.0]):
        with pytest.raises(TypeError, match="^scale "):
            m.initial(0, scale=bad)
    assert np.array_equal(m.initial(0, scale=0.5), 0.5 * m.initial(0, scale=1.0))
    from theory.hessian_models import teacher_network
    with pytest.raises(DomainError, match="^init_scale "):
        teacher_network(20, 3, 2, init_scale=-1)
    with pytest.raises(DomainError, match="^target_scale "):
        teacher_network(20, 3, 2, target_scale=np.inf)


def test_logistic_minimum_refuses_separable_data_and_dependent_columns():
    x = np.array([[1.0], [2.0], [-1.0], [-2.0]])
    y = np.array([1.0, 1.0, 0.0, 0.0])
    m = LogisticRegression(x, y)
    assert m.separating_direction() is not None
    with pytest.raises(DomainError, match="separable.*l2 > 0"):  # a finite point (27.8) before
        m.minimum()
    quasi = LogisticRegression(np.array([[1.0], [0.0], [0.0], [-1.0]]), y)  # quasi-complete separation
    with pytest.raises(DomainError, match="separable"):
        quasi.minimum()
    assert np.all(np.isfinite(LogisticRegression(x, y, l2=0.1).minimum()))
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(200, 3))
    ys = (rng.random(200) < 1 / (1 + np.exp(-xs @ [1.0, 2.0, -1.0]))).astype(float)
    overlap = LogisticRegression(xs, ys)
    assert overlap.separating_direction() is None
    assert np.linalg.norm(overlap.gradient(overlap.minimum())) < 1e-10
    with pytest.raises(DomainError, match="rank 3 < 4"):
        LogisticRegression(np.c_[xs, xs[:, 0]], ys).minimum()


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10**6), st.integers(2, 40))
def test_logistic_minimum_exists_exactly_when_no_separating_direction_does(seed, n):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    y = (rng.random(n) < 0.5).astype(float)
    m = LogisticRegression(x, y)
    if m.separating_direction() is None:
        theta = m.minimum()
        assert np.linalg.norm(m.gradient(theta)) < 1e-9
    else:
        d = m.separating_direction()
        s = (2 * y - 1) * (x @ d)
        assert np.all(s >= -1e-9 * np.max(np.abs(s))) and np.max(s) > 0
        with pytest.raises(DomainError, match="separable"):
            m.minimum()


def test_network_complex_step_hvp_agrees_with_the_closed_form_hessian_far_from_a_minimum():
    m = MODELS["network"]
    theta = m.initial(5, scale=2.0)
    assert np.linalg.norm(m.gradient(theta)) > 0.1
    h = m.hessian(theta)  # closed form G + R
    vec = np.random.default_rng(4).normal(size=m.n_params)
    assert _rel(m.hvp(theta, vec), h @ vec) < 1e-13


def test_hand_written_and_batched_paths_agree_with_the_generic_complex_step():
    """Network: the hand-written forward-over-reverse HVP vs the base class's complex step."""
    net, att = MODELS["network"], MODELS["attention"]
    theta = _theta(net)
    vec = np.random.default_rng(7).normal(size=net.n_params)
    assert _rel(net.hvp(theta, vec), LossModel._hvp(net, theta, vec, None)) < 1e-13
    assert _rel(net.hvp(theta, vec, [2, 4]), LossModel._hvp(net, theta, vec, np.array([2, 4]))) < 1e-13
    # attention's kernels broadcast over a stack of parameter vectors (used by nothing public yet: checked here)
    stack = np.stack([att.initial(s) for s in range(3)])
    assert np.allclose(att._grad(stack, None), [att.gradient(t) for t in stack], rtol=1e-13, atol=1e-15)


# ---------------------------------------------------------------- minibatches and Fisher

@pytest.mark.parametrize("name", list(MODELS))
def test_minibatch_gradient_loss_and_hvp_are_means_over_the_batch(name):
    m = MODELS[name]
    theta = _theta(m)
    batch = np.array([3, 0, 3, 5])  # repeats count twice
    rows = m.per_sample_gradients(theta)
    assert rows.shape == (m.n_data, m.n_params)
    assert np.allclose(rows.mean(axis=0), m.gradient(theta), rtol=1e-12, atol=1e-14)
    assert np.allclose(m.gradient(theta, batch), rows[batch].mean(axis=0), rtol=1e-12, atol=1e-14)
    assert np.allclose(m.per_sample_gradients(theta, batch), rows[batch], rtol=1e-12, atol=1e-14)
    assert np.isclose(m.loss(theta, batch), np.mean([m.loss(theta, [i]) for i in batch]), rtol=1e-13)
    assert np.isclose(m.loss(theta, np.arange(m.n_data)), m.loss(theta), rtol=1e-13)
    vec = np.random.default_rng(5).normal(size=m.n_params)
    hvs = np.mean([m.hvp(theta, vec, [i]) for i in batch], axis=0)
    assert _rel(m.hvp(theta, vec, batch), hvs) < 1e-12
    assert _rel(m.hessian(theta, batch) @ vec, hvs) < 1e-12
    assert np.allclose(m.gradient(theta, np.int64(5)), rows[5], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ["network", "attention", "logistic", "mlp"])
def test_fisher_is_the_uncentred_second_moment_of_per_sample_gradients(name):
    m = MODELS[name]
    theta = _theta(m)
    rows = m.per_sample_gradients(theta)
    f = m.fisher(theta)
    assert np.allclose(f, np.einsum("ip,iq->pq", rows, rows) / m.n_data, rtol=1e-12, atol=1e-15)
    assert np.allclose(m.fisher_diagonal(theta), np.diag(f), rtol=1e-12, atol=1e-15)
    g = m.gradient(theta)
    assert np.allclose(m.gradient_covariance(theta), f - np.outer(g, g), rtol=1e-10, atol=1e-13)
    assert np.allclose(m.fisher_diagonal(theta, [1, 2]), (rows[[1, 2]] ** 2).mean(axis=0), rtol=1e-12)


# ---------------------------------------------------------------- sharpness

@pytest.mark.parametrize("name", ["network", "attention", "least_squares"])
def test_lanczos_top_eigenvalue_on_the_hvp_equals_the_dense_one(name):
    m = MODELS[name]
    theta = _theta(m)
    dense = np.linalg.eigvalsh(m.hessian(theta))[-1]
    lanczos = top_eigenvalue(lambda w: m.hvp(theta, w), n=m.n_params, method="lanczos")
    assert abs(lanczos - dense) <= 1e-10 * abs(dense)
    assert abs(top_eigenvalue(m.hvp_operator(theta), n=m.n_params, method="lanczos") - dense) <= 1e-10 * abs(dense)


@settings(max_examples=40, deadline=None)
@given(st.floats(0.05, 20.0), st.sampled_from([-1.0, 1.0]))
def test_scalar_product_sharpness_on_the_minimum_manifold_is_u2_plus_v2(u, sign):
    m = ScalarProduct()  # L = (uv - 1)^2 / 2
    theta = m.point_on_minimum(sign * u)
    assert np.isclose(theta[0] * theta[1], 1.0, rtol=1e-15)
    assert m.loss(theta) < 1e-28 and np.allclose(m.gradient(theta), 0, atol=1e-13 * (u + 1 / u))
    lam = np.linalg.eigvalsh(m.hessian(theta))
    expected = u * u + 1 / (u * u)
    assert np.isclose(lam[-1], expected, rtol=1e-12)
    assert abs(lam[0]) <= 1e-12 * expected  # flat along the manifold
    assert np.isclose(m.minimum_sharpness(sign * u), expected, rtol=1e-14)
    vec = np.array([0.3, -1.1])
    assert _rel(m.hvp(theta, vec), m.hessian(theta) @ vec) < 1e-13


@settings(max_examples=20, deadline=None)
@given(st.floats(0.2, 5.0))
def test_scalar_product_with_data_sharpness_is_mean_x2_times_u2_plus_v2(u):
    m = MODELS["scalar"]
    theta = m.point_on_minimum(u)
    assert np.allclose(m.gradient(theta), 0, atol=1e-12 * (u + 1 / u))
    top = np.linalg.eigvalsh(m.hessian(theta))[-1]
    assert np.isclose(top, np.mean(m.x ** 2) * (theta @ theta), rtol=1e-12)
    assert np.isclose(top, m.minimum_sharpness(u), rtol=1e-12)


def test_scalar_product_default_loss_and_gradient():
    m = ScalarProduct()
    assert (m.n_params, m.n_data) == (2, 1)
    assert m.loss([2.0, 3.0]) == 0.5 * 25
    assert np.array_equal(m.gradient([2.0, 3.0]), [15.0, 10.0])
    assert np.array_equal(m.hessian([2.0, 3.0]), [[9.0, 11.0], [11.0, 4.0]])


# ---------------------------------------------------------------- attention specifics

def test_attention_weights_are_row_stochastic_and_predictions_reproduce_the_residuals():
    m = MODELS["attention"]
    theta = _theta(m)
    a = m.attention_weights(theta)
    assert a.shape == (m.n_data, m.seq_len, m.seq_len)
    assert np.all(a > 0) and np.allclose(a.sum(axis=-1), 1.0, rtol=1e-14)
    yhat = m.predict(theta)
    assert np.isclose(m.loss(theta), 0.5 * np.sum((yhat - m.y) ** 2) / m.n_data, rtol=1e-13)
    # large logits: the shifted softmax stays finite and the HVP exact
    big = 30.0 * theta
    assert np.isfinite(m.loss(big))
    vec = np.random.default_rng(6).normal(size=m.n_params)
    assert np.all(np.isfinite(m.hvp(big, vec)))


def test_attention_teacher_reaches_the_noise_floor_and_other_lengths_work():
    x, y = synthetic_attention_task(200, 6, 4, 2, 3, noise=0.0, seed=3)
    x_noisy, y_noisy = synthetic_attention_task(200, 6, 4, 2, 3, noise=0.5, seed=3)
    assert np.array_equal(x, x_noisy)
    resid = y_noisy - y
    assert np.isclose(np.std(resid), 0.5, rtol=0.05)
    m = SoftmaxAttention(x, y, 2)
    assert m.n_params == 2 * 4 * 2 + 4 * 3
    x_long = np.random.default_rng(0).normal(size=(3, 9, 4))
    assert m.predict(m.initial(0), x_long).shape == (3, 9, 3)


# ---------------------------------------------------------------- initial, data, splits

@pytest.mark.parametrize("name", list(MODELS))
def test_initial_is_seeded_and_reproducible(name):
    m = MODELS[name]
    a, b, c = m.initial(7), m.initial(7), m.initial(8)
    assert a.shape == (m.n_params,)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.allclose(m.initial(7, scale=2.0), 2.0 * m.initial(7, scale=1.0), rtol=1e-15)


def test_initial_scales():
    m = MODELS["attention"]
    theta = SoftmaxAttention(*synthetic_attention_task(4, 3, 40, 40, 40, seed=1), 40).initial(2)
    assert np.isclose(np.std(theta), 1 / np.sqrt(40), rtol=0.02)
    assert np.isclose(np.std(ScalarProduct().initial(seed=3, scale=1.0)), np.std(ScalarProduct().initial(3)))
    assert m.initial(0, scale=0.0).tolist() == [0.0] * m.n_params


def test_synthetic_regression_split_and_held_out_loss():
    x, y = synthetic_regression(50, 3, 2, noise=0.2, seed=4)
    assert x.shape == (50, 3) and y.shape == (50, 2)
    x2, y2 = synthetic_regression(50, 3, 2, noise=0.2, seed=4)
    assert np.array_equal(x, x2) and np.array_equal(y, y2)
    xtr, ytr, xte, yte = train_test_split(x, y, 0.2, seed=1)
    assert (len(xtr), len(xte)) == (40, 10)
    rows = {tuple(r) for r in x}
    assert {tuple(r) for r in xtr} | {tuple(r) for r in xte} == rows
    assert not {tuple(r) for r in xtr} & {tuple(r) for r in xte}
    net = TwoLayerNetwork(xtr, ytr, 4)
    theta = net.initial(0)
    assert np.isclose(net.loss_on(theta, xte, yte), TwoLayerNetwork(xte, yte, 4).loss(theta))
    assert np.isclose(net.loss_on(theta, xtr, ytr), net.loss(theta))
    with pytest.raises(DomainError, match="^x and y must have 3 features"):
        net.with_data(np.ones((4, 2)), np.ones((4, 2)))


# ---------------------------------------------------------------- validation

@pytest.mark.parametrize("name", list(MODELS))
def test_domain_errors_name_theta_vec_and_batch(name):
    m = MODELS[name]
    theta = _theta(m)
    p = m.n_params
    with pytest.raises(DomainError, match="^theta must have shape"):
        m.gradient(np.ones(p + 1))
    with pytest.raises(DomainError, match="^theta must be finite"):
        m.loss(np.full(p, np.inf))
    with pytest.raises(DomainError, match="^theta must be a number"):
        m.hvp(np.full(p, np.nan), np.ones(p))
    with pytest.raises(TypeError, match="^theta must be real"):
        m.gradient(theta + 0j)
    with pytest.raises(DomainError, match="^vec must have shape"):
        m.hvp(theta, np.ones((p, 1)))
    with pytest.raises(DomainError, match="^vec must be finite"):
        m.hvp_operator(theta)(np.full(p, np.inf))
    with pytest.raises(DomainError, match=rf"^batch must be indices in \[0, {m.n_data}\); got {float(m.n_data)!r}"):
        m.gradient(theta, [0, m.n_data])
    with pytest.raises(DomainError, match="^batch must be indices"):
        m.loss(theta, [-1])
    with pytest.raises(DomainError, match="^batch must hold at least one"):
        m.hvp(theta, np.ones(p), [])
    with pytest.raises(DomainError, match="^batch must be a 1-D"):
        m.hessian(theta, [[0, 1]])
    with pytest.raises(TypeError, match="^batch must be an array of integer"):
        m.per_sample_gradients(theta, [0.0, 1.0])
    with pytest.raises(TypeError, match="^batch must be an array of integer"):
        m.fisher(theta, np.ones(m.n_data, dtype=bool))


@pytest.mark.parametrize("make, name", [
    (lambda: ScalarProduct(np.ones((2, 2)), np.ones((2, 2))), "x"),
    (lambda: ScalarProduct(np.ones(3), np.ones(2)), "y"),
    (lambda: ScalarProduct(0.0, 1.0).minimum_product(), "x"),
    (lambda: ScalarProduct().point_on_minimum(0.0), "u"),
    (lambda: SoftmaxAttention(np.ones((3, 4)), np.ones((3, 4)), 2), "x"),
    (lambda: SoftmaxAttention(np.ones((3, 4, 2)), np.ones((3, 5, 2)), 2), "y"),
    (lambda: SoftmaxAttention(np.ones((3, 4, 2)), np.ones((3, 4, 2)), 0), "d_k"),
    (lambda: MODELS["attention"].with_data(np.ones((2, 3, 5)), np.ones((2, 3, 2))), "x"),
    (lambda: synthetic_regression(0, 2), "n_data"),
    (lambda: synthetic_regression(5, 2, noise=-1.0), "noise"),
    (lambda: synthetic_attention_task(5, 0), "seq_len"),
    (lambda: synthetic_attention_task(5, 3, teacher_scale=np.nan), "teacher_scale"),
    (lambda: train_test_split(np.ones(5), np.ones(4)), "x"),
    (lambda: train_test_split(np.ones(5), np.ones(5), 1.0), "test_fraction"),
    (lambda: train_test_split(np.ones(1), np.ones(1)), "x"),
    (lambda: ScalarProduct().initial(0, -1.0), "scale"),
])
def test_constructor_and_helper_errors_name_the_parameter(make, name):
    with pytest.raises(DomainError, match=rf"^{name} "):
        make()


def test_scalar_product_gradient_flow_sharpness_and_gd_at_the_edge_of_stability():
    m = MODELS["scalar"]
    theta = np.array([2.0, 0.4])
    gfs = m.gradient_flow_sharpness(theta)
    th = theta.copy()
    for _ in range(20000):  # gradient flow by tiny GD steps: u^2 - v^2 drifts by O(lr)
        th = th - 1e-3 * m._grad(th, None)
    assert np.allclose(m.gradient(th), 0, atol=1e-10)
    assert np.isclose(np.linalg.eigvalsh(m.hessian(th))[-1], gfs, rtol=1e-2)
    # GD with 2/lr below the gradient-flow sharpness ends flatter, below 2/lr (the docstring's example)
    m1 = ScalarProduct()
    theta = np.array([2.5, 0.45])
    assert np.isclose(m1.gradient_flow_sharpness(theta), 6.37, atol=5e-3)
    for lr, low in ((0.35, 4.5), (0.4, 3.0)):
        th = theta.copy()
        for _ in range(3000):
            th = th - lr * m1._grad(th, None)
        assert m1.loss(th) < 1e-20
        assert low < np.linalg.eigvalsh(m1.hessian(th))[-1] < 2 / lr


# ---------------------------------------------------------------- the protocol's minimal part

class QuadraticOnly:
    """A user-written model with only the minimal part, not subclassing anything:
    L = 1/(2N) sum_i (x_i . theta - y_i)^2, written out by hand."""

    def __init__(self, x, y):
        self.x, self.y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        self.n_params, self.n_data = self.x.shape[1], self.x.shape[0]

    def _rows(self, batch):
        return (self.x, self.y) if batch is None else (self.x[batch], self.y[batch])

    def loss(self, theta, batch=None):
        x, y = self._rows(batch)
        r = x @ theta - y
        return 0.5 * float(np.mean(r * r))

    def gradient(self, theta, batch=None):
        x, y = self._rows(batch)
        return x.T @ (x @ theta - y) / x.shape[0]

    def hvp(self, theta, vec, batch=None):
        x, _ = self._rows(batch)
        return x.T @ (x @ vec) / x.shape[0]


def _quadratic_pair(seed=0):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(20, 4)), rng.normal(size=20)
    return QuadraticOnly(x, y), LinearLeastSquares(x, y)


def test_every_model_satisfies_the_minimal_protocol_and_a_plain_class_does_too():
    for m in MODELS.values():
        assert isinstance(m, MinimalLossModel) and isinstance(m, LossModel)
    plain, _ = _quadratic_pair()
    assert isinstance(plain, MinimalLossModel) and not isinstance(plain, LossModel)
    assert not isinstance(object(), MinimalLossModel)


def test_trained_spectrum_assembles_the_hessian_from_hvps_without_a_hessian_method():
    plain, full = _quadratic_pair(1)
    theta0 = np.ones(4)
    a, b = trained_spectrum(plain, theta0), trained_spectrum(full, theta0)
    np.testing.assert_allclose(a.eigenvalues, b.eigenvalues, rtol=1e-12)
    np.testing.assert_allclose(a.eigenvalues, np.linalg.eigvalsh(full.hessian()), rtol=1e-12)
    assert a.gauss_newton_eigenvalues is None
    with pytest.raises(TypeError, match="'initial'.*theta0"):
        trained_spectrum(plain)


@pytest.mark.parametrize("make, name, exc", [
    (lambda: synthetic_regression(14, 3, noise=1.7976931348623157e308), "noise", DomainError),
    (lambda: synthetic_regression(14, 3, noise=()), "noise", TypeError),
    (lambda: synthetic_attention_task(4, 2, 2, 2, 2, noise=1e308), "noise", DomainError),
    (lambda: train_test_split(np.ones((5, 2)), np.ones(5), np.array([])), "test_fraction", TypeError),
    (lambda: trained_spectrum(5e-324), "model", TypeError),
    (lambda: trained_spectrum(MODELS["scalar"], np.nan), "theta0", DomainError),
])
def test_helpers_refuse_by_the_parameter_name(make, name, exc):
    with pytest.raises(exc, match=rf"^{name} "):
        make()
    from theory.hessian_models import teacher_network
    with pytest.raises(DomainError, match="^n_data must be >= 2"):
        teacher_network(1, 1, 1, test_fraction=0.5)
