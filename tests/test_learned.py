"""theory.learned (theory.datasets, .networks, .valley_escape, .simulators.minibatch_escape, .experiments):
exact derivatives of the network, minibatch noise, and SGD escape with real minibatches.

Statistical tests state their false-alarm rate; all use fixed seeds, so they are
deterministic, and the rate says how unlikely a failure would be for a correct
implementation with a fresh seed.
"""

from __future__ import annotations

import pickle
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from scipy import linalg

from theory import DomainError
from theory.backend import available_backends, get_backend
from theory.landscapes import Landscape
from theory.learned import (
    DEFAULTS,
    EscapeResult,
    MLPLandscape,
    default_model,
    escape_scan,
    load_dataset,
    minibatch_noise_covariance,
    quadratic_escape_exponent,
    sgd_escape,
    weighted_line,
)
from theory.rng import derive
from theory.stats import z_critical

# A fast escape setting on the default model (mean escape about 1e2 iterations).
FAST = dict(lr=0.3, batch_size=8, threshold=0.1)


@pytest.fixture(scope="module")
def trained():
    return default_model()


@pytest.fixture(scope="module")
def classifier():
    return MLPLandscape.from_dataset("breast_cancer", n_hidden=3, weight_decay=0.01)


def random_point(model, seed, scale=0.3):
    rng = np.random.default_rng(seed)
    return model.initial(seed) + scale * rng.standard_normal(model.n_params)


# ------------------------------------------------------------------ data and model

def test_datasets_are_standardised():
    X, y, loss = load_dataset("diabetes")
    assert X.shape == (442, 10) and y.shape == (442,) and loss == "mse"
    np.testing.assert_allclose(X.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(X.std(axis=0), 1, rtol=1e-12)
    assert abs(y.mean()) < 1e-12 and abs(y.std() - 1) < 1e-12
    X, y, loss = load_dataset("breast_cancer")
    assert X.shape == (569, 30) and loss == "logistic" and set(np.unique(y)) == {0.0, 1.0}
    with pytest.raises(DomainError, match="dataset"):
        load_dataset("mnist")


def test_model_is_a_landscape_with_the_documented_layout(trained):
    model, _ = trained
    assert isinstance(model, Landscape)
    h, d = model.n_hidden, model.n_in
    assert model.n_params == model.dim == h * (d + 2) + 1 and model.n_data == 442
    theta = random_point(model, 1)
    W1, b1, w2, b2 = model.unpack(theta)
    assert W1.shape == (h, d) and b1.shape == (h,) and w2.shape == (h,) and b2.shape == ()
    np.testing.assert_array_equal(model.pack(W1, b1, w2, b2), theta)
    # the loss from the blocks, written out independently
    f = np.tanh(model.x @ W1.T + b1) @ w2 + b2
    expected = 0.5 * np.mean((f - model.y) ** 2) + 0.5 * model.weight_decay * theta @ theta
    assert model.value(theta) == pytest.approx(expected, rel=1e-13)
    assert model.loss(theta) == float(model.value(theta))
    with pytest.raises(NotImplementedError, match="train"):
        model.critical_points()


@pytest.mark.parametrize("which", ["regression", "classification"])
def test_gradient_matches_central_differences(trained, classifier, which):
    model = trained[0] if which == "regression" else classifier
    theta = random_point(model, 2)
    eps = 1e-6
    fd = np.array([(model.value(theta + eps * e) - model.value(theta - eps * e)) / (2 * eps)
                   for e in np.eye(model.n_params)])
    g = model.gradient(theta)
    # central differences: truncation ~eps^2, rounding ~1e-16/eps
    assert np.abs(g - fd).max() < 1e-8 * max(1.0, np.abs(g).max())
    out = np.empty(model.n_params)
    assert model.gradient(theta, out=out) is out
    np.testing.assert_array_equal(out, g)


@pytest.mark.parametrize("which", ["regression", "classification"])
def test_complex_step_hessian_matches_differences_of_the_gradient(trained, classifier, which):
    model = trained[0] if which == "regression" else classifier
    theta = random_point(model, 3)
    H = model.hessian(theta)
    eps = 1e-6
    fd = np.array([(model.gradient(theta + eps * e) - model.gradient(theta - eps * e)) / (2 * eps)
                   for e in np.eye(model.n_params)])
    assert H.shape == (model.n_params, model.n_params)
    np.testing.assert_array_equal(H, H.T)
    assert np.abs(H - fd).max() < 1e-8 * max(1.0, np.abs(H).max())
    # vectorised over leading axes, like value and gradient
    stack = np.stack([theta, random_point(model, 4)])
    np.testing.assert_allclose(model.hessian(stack)[0], H, rtol=0, atol=1e-15 * np.abs(H).max())
    assert model.value(stack[None]).shape == (1, 2) and model.gradient(stack[None]).shape == (1, 2, model.dim)


def test_complex_step_is_accurate_beyond_finite_differences(trained):
    """Richardson-extrapolated differences agree with the complex step to ~1e-11: far below
    what a plain difference reaches, as the complex step has no cancellation."""
    model, _ = trained
    theta = random_point(model, 5)
    H = model.hessian(theta)
    j = 7
    e = np.eye(model.n_params)[j]

    def central(eps):
        return (model.gradient(theta + eps * e) - model.gradient(theta - eps * e)) / (2 * eps)

    rich = (4 * central(1e-4) - central(2e-4)) / 3
    assert np.abs(rich - H[:, j]).max() < 1e-10 * max(1.0, np.abs(H).max())


def test_batched_minibatch_gradients_equal_the_per_walker_loop(trained):
    model, _ = trained
    rng = np.random.default_rng(6)
    W, B = 7, 5
    theta = np.stack([random_point(model, 10 + w) for w in range(W)])
    idx = rng.integers(0, model.n_data, size=(W, B))
    idx[0, 1] = idx[0, 0]  # a repeated example counts twice
    batched = model.minibatch_gradient(theta, idx)
    for w in range(W):
        one = model.minibatch_gradient(theta[w][None], idx[w][None])[0]
        np.testing.assert_allclose(batched[w], one, rtol=1e-14, atol=1e-15)
        by_sample = model.per_sample_gradients(theta[w], idx[w]).mean(axis=0)  # weight decay in every row
        np.testing.assert_allclose(batched[w], by_sample, rtol=1e-12, atol=1e-14)
        np.testing.assert_array_equal(model.gradient(theta[w], idx[w]), one)


def test_minibatch_of_all_examples_is_the_full_gradient(trained, classifier):
    for model in (trained[0], classifier):
        theta = random_point(model, 7)
        idx = np.random.default_rng(8).permutation(model.n_data)[None]  # B = N, all distinct
        g = model.minibatch_gradient(theta[None], idx)[0]
        np.testing.assert_allclose(g, model.gradient(theta), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(model.per_sample_gradients(theta).mean(axis=0), model.gradient(theta),
                                   rtol=1e-12, atol=1e-14)


def test_model_pickles_for_worker_processes(trained):
    model, _ = trained
    theta = random_point(model, 9)
    clone = pickle.loads(pickle.dumps(model))
    assert clone.value(theta) == model.value(theta)


@pytest.mark.gpu
@pytest.mark.skipif("cupy" not in available_backends(), reason="needs CuPy and a CUDA device")
def test_cupy_arrays_give_the_numpy_values(trained):
    import cupy as cp

    model, _ = trained
    theta = np.stack([random_point(model, 20), random_point(model, 21)])
    on_gpu = cp.asarray(theta)
    np.testing.assert_allclose(cp.asnumpy(model.value(on_gpu)), model.value(theta), rtol=1e-12)
    np.testing.assert_allclose(cp.asnumpy(model.gradient(on_gpu)), model.gradient(theta), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(cp.asnumpy(model.hessian(on_gpu)), model.hessian(theta), rtol=1e-10, atol=1e-13)


def test_bad_model_input_is_rejected():
    X, y, _ = load_dataset("diabetes")
    with pytest.raises(DomainError, match="y must have shape"):
        MLPLandscape(X, y[:-1])
    with pytest.raises(DomainError, match="loss"):
        MLPLandscape(X, y, loss="hinge")
    with pytest.raises(DomainError, match="0/1 labels"):
        MLPLandscape(X, y, loss="logistic")
    with pytest.raises(DomainError, match="weight_decay"):
        MLPLandscape(X, y, weight_decay=-1.0)
    with pytest.raises(DomainError, match="n_hidden"):
        MLPLandscape(X, y, n_hidden=0)
    with pytest.raises(DomainError, match="x must have shape"):
        MLPLandscape(X[:, 0], y)
    with pytest.raises(TypeError, match="'y'"):
        MLPLandscape(X)
    with pytest.raises(TypeError, match="unexpected keyword argument 'hiden'"):
        MLPLandscape(X, y, hiden=3)


# ------------------------------------------------------------------ training

def test_train_reaches_a_strict_minimum_and_reports_the_spectrum(trained):
    model, res = trained
    assert res.grad_norm < 1e-12
    assert np.linalg.norm(model.gradient(res.theta)) == pytest.approx(res.grad_norm, rel=1e-12, abs=1e-15)
    assert res.loss == pytest.approx(float(model.value(res.theta)), rel=1e-15)
    np.testing.assert_allclose(res.eigvals, np.linalg.eigvalsh(model.hessian(res.theta)), rtol=1e-12, atol=1e-15)
    assert np.all(np.diff(res.eigvals) >= 0)
    assert res.is_strict_minimum and res.eigvals[0] > 0
    assert res.newton_steps >= 1  # L-BFGS is polished by Newton steps
    assert res.condition_number == pytest.approx(res.eigvals[-1] / res.eigvals[0])
    # the documented default minimum
    assert res.loss == pytest.approx(0.23541290, abs=1e-7)


def test_default_minimum_does_not_depend_on_the_training_seed(trained):
    model, res = trained
    other = model.train(seed=1)
    assert other.loss == pytest.approx(res.loss, rel=1e-12)
    np.testing.assert_allclose(other.eigvals, res.eigvals, rtol=1e-8, atol=1e-12)


def test_classifier_trains_to_a_strict_minimum(classifier):
    res = classifier.train(seed=0)
    assert res.grad_norm < 1e-10 and res.is_strict_minimum


# ------------------------------------------------------------------ minibatch noise

def test_noise_covariance_matches_sampled_minibatch_gradients(trained):
    """Unbiased per-sample statistics with known mean (the full gradient): the trace and four
    entries of Cov[g_B]; family-wise false-alarm rate 1e-3 (Bonferroni over 5 two-sided z-tests).

    Power: at B = 40 sampling without replacement would scale the covariance by
    (N - B)/(N - 1) = 0.91; the trace is estimated to ~0.7%, so that error would give z ~ 13.
    """
    model, res = trained
    theta, B, M = res.theta, 40, 12_000
    cov = minibatch_noise_covariance(model, theta, B)
    np.testing.assert_allclose(cov * B, minibatch_noise_covariance(model, theta, 1), rtol=1e-15)
    gen = np.random.Generator(np.random.PCG64(derive(2024, "test.noise")))
    full = model.gradient(theta)
    g = np.concatenate([
        model.minibatch_gradient(np.tile(theta, (3000, 1)), gen.integers(0, model.n_data, size=(3000, B))) - full
        for _ in range(M // 3000)])
    diag = np.diag(cov)
    i, j = np.unravel_index(np.argmax(np.abs(cov - np.diag(diag))), cov.shape)
    picks = [(None, None), (int(np.argmax(diag)), int(np.argmax(diag))), (int(i), int(j)), (3, 17), (40, 48)]
    crit = z_critical(1e-3, len(picks))
    for a, b in picks:
        q = (g * g).sum(axis=1) if a is None else g[:, a] * g[:, b]
        expected = np.trace(cov) if a is None else cov[a, b]
        z = (q.mean() - expected) / (q.std(ddof=1) / np.sqrt(M))
        assert abs(z) < crit, (a, b, z)
    q = (g * g).sum(axis=1)
    without = np.trace(cov) * (model.n_data - B) / (model.n_data - 1)
    z_without = (q.mean() - without) / (q.std(ddof=1) / np.sqrt(M))
    assert abs(z_without) > crit  # the test can tell the two sampling schemes apart


def test_noise_covariance_is_the_population_covariance_of_example_gradients(trained):
    model, res = trained
    g = model.per_sample_gradients(res.theta)
    brute = sum(np.outer(x, x) for x in g - g.mean(axis=0)) / model.n_data
    np.testing.assert_allclose(minibatch_noise_covariance(model, res.theta, 1), brute, rtol=1e-12, atol=1e-17)
    w = np.linalg.eigvalsh(minibatch_noise_covariance(model, res.theta, 3))
    assert w[0] > -1e-15  # positive semi-definite


def test_quadratic_escape_exponent(trained):
    model, res = trained
    delta = 0.1
    assert quadratic_escape_exponent(model, res.theta, delta, noise="hessian") == pytest.approx(
        2 * delta / res.eigvals[-1], rel=1e-12)
    H = model.hessian(res.theta)
    C = minibatch_noise_covariance(model, res.theta, 1)
    sigma1 = linalg.solve_continuous_lyapunov(H, C)
    np.testing.assert_allclose(H @ sigma1 + sigma1 @ H, C, atol=1e-12)
    pencil = linalg.eigh(np.linalg.inv(0.5 * (sigma1 + sigma1.T)), H, eigvals_only=True)
    assert quadratic_escape_exponent(model, res.theta, delta) == pytest.approx(delta * pencil[0], rel=1e-6)
    with pytest.raises(DomainError, match="noise"):
        quadratic_escape_exponent(model, res.theta, delta, noise="white")
    with pytest.raises(DomainError, match="threshold"):
        quadratic_escape_exponent(model, res.theta, 0.0)


# ------------------------------------------------------------------ SGD escape

def test_escape_is_reproducible_and_independent_of_chunking(trained):
    model, res = trained
    kw = dict(FAST, n_walkers=130, max_steps=150, seed=11)  # blocks of 64, 64 and 2 walkers
    a = sgd_escape(model, res.theta, **kw)
    b = sgd_escape(model, res.theta, **kw)
    c = sgd_escape(model, res.theta, chunk_walkers=64, **kw)
    with ThreadPoolExecutor(2) as ex:
        d = sgd_escape(model, res.theta, chunk_walkers=1, executor=ex, **kw)
    for other in (b, c, d):
        np.testing.assert_array_equal(other.times, a.times)
        np.testing.assert_array_equal(other.censored, a.censored)
    assert 0 < a.n_escaped < a.n_walkers  # both outcomes occur, so the comparison means something
    e = sgd_escape(model, res.theta, **dict(kw, seed=12))
    assert not np.array_equal(e.times, a.times)


def test_numpy_backend_equals_the_default_bit_for_bit(trained):
    model, res = trained
    kw = dict(FAST, n_walkers=130, max_steps=150, seed=11)
    a = sgd_escape(model, res.theta, **kw)
    assert a.backend == "numpy"
    with ThreadPoolExecutor(2) as ex:
        others = [sgd_escape(model, res.theta, backend="numpy", **kw),
                  sgd_escape(model, res.theta, backend=get_backend("numpy"), chunk_walkers=64, executor=ex, **kw)]
    for other in others:
        assert other.backend == "numpy"
        np.testing.assert_array_equal(other.times, a.times)
        np.testing.assert_array_equal(other.censored, a.censored)
    assert 0 < a.n_escaped < a.n_walkers


@pytest.mark.gpu
@pytest.mark.skipif("cupy" not in available_backends(), reason="needs CuPy and a CUDA device")
def test_cupy_escape_is_reproducible_chunk_invariant_and_agrees_with_numpy(trained):
    model, res = trained
    kw = dict(FAST, n_walkers=512, max_steps=2000, seed=11)
    gpu = sgd_escape(model, res.theta, backend="cupy", **kw)
    assert gpu.backend == "cupy" and isinstance(gpu.times, np.ndarray)
    again = sgd_escape(model, res.theta, backend="cupy", chunk_walkers=64, **kw)
    np.testing.assert_array_equal(again.times, gpu.times)
    # other random streams, same law: the two -log(gamma) estimates agree within their standard errors
    cpu = sgd_escape(model, res.theta, **kw)
    a, b = gpu.neg_log_rate, cpu.neg_log_rate
    assert abs(float(a.value) - float(b.value)) <= z_critical(1e-6) * np.hypot(float(a.stderr), float(b.stderr))


def test_first_escape_iteration_is_exact_with_check_every_1(trained):
    """Replay walker 0 by hand from the documented random stream (block 0, rows of shape (64, B))."""
    model, res = trained
    seed, B, level = 5, FAST["batch_size"], res.loss + FAST["threshold"]
    out = sgd_escape(model, res.theta, n_walkers=64, max_steps=400, seed=seed, **FAST)
    gen = np.random.Generator(np.random.PCG64(derive(seed, 0)))
    theta = res.theta.copy()
    for k in range(1, 401):
        idx = gen.integers(0, model.n_data, size=(64, B))[0]
        theta = theta - FAST["lr"] * model.minibatch_gradient(theta[None], idx[None])[0]
        if model.value(theta) > level:
            break
    assert not out.censored[0]
    assert out.times[0] == k


def test_check_every_only_delays_detection(trained):
    model, res = trained
    kw = dict(FAST, n_walkers=64, max_steps=203, seed=3)
    exact = sgd_escape(model, res.theta, **kw)
    coarse = sgd_escape(model, res.theta, check_every=10, **kw)
    seen = coarse.times[~coarse.censored]
    assert np.all((seen % 10 == 0) | (seen == 203))
    # the same trajectories, looked at less often: never earlier
    assert np.all(coarse.times >= exact.times)
    assert np.all(coarse.censored >= exact.censored)


def test_censoring_uses_the_exponential_mle(trained):
    model, res = trained
    out = sgd_escape(model, res.theta, n_walkers=64, max_steps=40, seed=4, **FAST)
    n_esc = out.n_escaped
    assert 0 < n_esc < 64
    assert np.all(out.times[out.censored] == 40) and np.all(out.times[~out.censored] <= 40)
    tau = out.times.sum() / n_esc
    assert float(out.mean_steps().value) == pytest.approx(tau, rel=1e-15)
    assert float(out.mean_steps().stderr) == pytest.approx(tau / np.sqrt(n_esc), rel=1e-15)
    nl = out.neg_log_rate
    assert float(nl.value) == pytest.approx(np.log(tau * FAST["lr"]))
    assert float(nl.stderr) == pytest.approx(1 / np.sqrt(n_esc))
    t = out.mean_time()
    assert float(t.value) == pytest.approx(tau * FAST["lr"]) and out.dt == FAST["lr"]
    assert out.n_censored == 64 - n_esc
    g = out.rate()
    assert float(g.value) == pytest.approx(1 / (tau * FAST["lr"]), rel=1e-15)
    assert float(g.stderr) == pytest.approx(float(t.stderr) / float(t.value) ** 2, rel=1e-15)
    # survival at continuous times t = k lr, NaN from the censoring time on
    s = out.survival(np.array([0, 10, 40]) * FAST["lr"])
    assert float(s.value[1]) == pytest.approx(np.mean(out.times > 10)) and np.isnan(s.value[2])
    assert s.value[0] == 1.0


def test_uncensored_runs_use_the_plain_mean(trained):
    model, res = trained
    out = sgd_escape(model, res.theta, n_walkers=32, max_steps=5000, seed=5, lr=0.4, batch_size=4, threshold=0.1)
    assert out.n_escaped == 32
    x = out.times.astype(float)
    assert float(out.mean_steps().value) == pytest.approx(x.mean())
    assert float(out.mean_steps().stderr) == pytest.approx(x.std(ddof=1) / np.sqrt(32))
    assert out.mean_residual(0) == out.mean_steps()
    s = out.survival(0.4 * np.array([0, 5, 50, 5000])).value
    assert s[0] == 1.0 and s[-1] == 0.0 and np.all(np.diff(s) <= 0)
    assert s[2] == pytest.approx(np.mean(out.times > 50))


def test_no_escape_has_no_mean_estimate(trained):
    model, res = trained
    out = sgd_escape(model, res.theta, n_walkers=4, max_steps=3, seed=0, lr=0.01, batch_size=64, threshold=0.5)
    assert out.n_escaped == 0 and np.all(out.censored) and np.all(out.times == 3)
    with pytest.raises(DomainError, match="no walker escaped"):
        out.mean_steps()


@pytest.mark.slow
def test_larger_batch_escapes_more_slowly(trained):
    """One-sided z-test on log mean escape time, false-alarm rate 1e-3 (z > 3.09).

    Power: at lr = 0.3, threshold 0.1 the mean escape is ~1e2 iterations at B = 8 and
    ~2e3 at B = 11 (measured), a difference of ~3 in the log against standard errors
    ~0.15 and ~0.3 with these sample sizes: z ~ 9.
    """
    model, res = trained
    kw = dict(lr=0.3, threshold=0.1, n_walkers=64, max_steps=600, seed=6)
    small = sgd_escape(model, res.theta, batch_size=8, **kw)
    large = sgd_escape(model, res.theta, batch_size=11, **kw)
    a, b = small.neg_log_rate, large.neg_log_rate
    z = (float(b.value) - float(a.value)) / np.hypot(float(a.stderr), float(b.stderr))
    assert z > z_critical(1e-3, two_sided=False), z


@pytest.mark.parametrize("bad, name", [
    (dict(lr=0.0), "lr"),
    (dict(lr=-0.1), "lr"),
    (dict(batch_size=0), "batch_size"),
    (dict(batch_size=443), "batch_size"),
    (dict(threshold=0.0), "threshold"),
    (dict(threshold=-1.0), "threshold"),
    (dict(n_walkers=1), "n_walkers"),
    (dict(max_steps=0), "max_steps"),
    (dict(check_every=0), "check_every"),
])
def test_bad_escape_input_names_the_parameter(trained, bad, name):
    model, res = trained
    kw = dict(FAST, n_walkers=4, max_steps=10, seed=0)
    kw.update(bad)
    with pytest.raises(DomainError, match=name):
        sgd_escape(model, res.theta, **kw)


def test_bad_theta_star_is_rejected(trained):
    model, res = trained
    with pytest.raises(DomainError, match="theta_star"):
        sgd_escape(model, res.theta[:-1], n_walkers=4, max_steps=10, **FAST)
    with pytest.raises(TypeError, match="MinimalLossModel.*no loss, gradient, hvp, n_params, n_data"):
        sgd_escape(object(), res.theta, n_walkers=4, max_steps=10, **FAST)


# ------------------------------------------------------------------ trends

def test_weighted_line_exact_and_standard_errors():
    x = np.array([1.0, 2.0, 3.0, 4.0, 6.0])
    fit = weighted_line(x, 2.0 + 0.5 * x, np.full(5, 0.1))
    assert fit.slope == pytest.approx(0.5) and fit.intercept == pytest.approx(2.0)
    assert fit.chi2 == pytest.approx(0.0, abs=1e-20) and fit.dof == 3 and fit.p_value == pytest.approx(1.0)
    assert fit.slope_se == pytest.approx(0.1 / np.sqrt(np.sum((x - x.mean()) ** 2)))
    assert fit.curvature == pytest.approx(0.0, abs=1e-12)
    bent = weighted_line(x, x**2, np.full(5, 0.01))
    assert bent.curvature == pytest.approx(1.0) and bent.p_value < 1e-6
    with pytest.raises(DomainError, match="yerr"):
        weighted_line(x, x, np.zeros(5))
    with pytest.raises(DomainError, match="distinct"):
        weighted_line([1.0, 1.0], [1.0, 2.0], [1.0, 1.0])


def test_weighted_line_slope_errors_are_calibrated():
    """Over 400 noisy lines the slope z-scores have variance 1: the chi-square(400) statistic of
    sum z^2 lies within its central 99.9% range (false-alarm rate 1e-3)."""
    from scipy import stats

    rng = np.random.default_rng(13)
    x = np.array([0.0, 1.0, 2.5, 3.0, 5.0])
    err = np.array([0.1, 0.3, 0.2, 0.1, 0.4])
    z = []
    for _ in range(400):
        fit = weighted_line(x, 1.0 - 2.0 * x + err * rng.standard_normal(5), err)
        z.append((fit.slope + 2.0) / fit.slope_se)
    s = float(np.sum(np.square(z)))
    lo, hi = stats.chi2.ppf([5e-4, 1 - 5e-4], 400)
    assert lo < s < hi


def test_escape_scan_settings_are_independent_of_each_other(trained):
    model, res = trained
    kw = dict(threshold=0.1, n_walkers=16, max_steps=60, seed=8)
    one = escape_scan(model, res.theta, lr=0.3, batch_size=[8], **kw)
    two = escape_scan(model, res.theta, lr=[0.3, 0.35], batch_size=[8, 6], **kw)
    with ThreadPoolExecutor(2) as ex:
        par = escape_scan(model, res.theta, lr=[0.3, 0.35], batch_size=[8, 6], executor=ex, **kw)
    np.testing.assert_array_equal(one.results[0].times, two.results[0].times)
    for r, s in zip(two.results, par.results):
        np.testing.assert_array_equal(r.times, s.times)
    assert isinstance(two.results[1], EscapeResult) and two.batch_size.tolist() == [8, 6]
    np.testing.assert_array_equal(two.neg_log_rate.value,
                                  [float(r.neg_log_rate.value) for r in two.results])
    with pytest.raises(DomainError, match="against"):
        two.fit("temperature")


@pytest.mark.slow
def test_neg_log_rate_grows_linearly_with_batch_size(trained):
    """A reduced version of the default batch-size scan: the slope of -log(rate) against B is
    positive at false-alarm rate 1e-3 (one-sided z-test), and the line fits (chi-square p > 1e-3)."""
    model, res = trained
    d = DEFAULTS
    scan = escape_scan(model, res.theta, lr=d["lr"], batch_size=[9, 11, 13], threshold=d["threshold"],
                       n_walkers=48, max_steps=2500, seed=9, burn_in=d["burn_in"])
    fit = scan.fit("batch_size")
    assert fit.slope / fit.slope_se > z_critical(1e-3, two_sided=False), fit
    assert fit.p_value > 1e-3, fit


# ------------------------------------------------------------------ the numbers the docs quote

def test_the_default_minimum_has_the_documented_spectrum_and_noise(trained):
    """The escape docs page quotes these properties of the default minimum; they are deterministic
    (training and exact linear algebra), so they are checked to the digits quoted."""
    model, res = trained
    theta = res.theta
    W1, b1, w2, b2 = model.unpack(theta)
    r = np.tanh(model.x @ W1.T + b1) @ w2 + b2 - model.y
    assert round(float(np.mean(r * r)), 2) == 0.43  # mean squared residual
    assert (round(float(res.eigvals[0]), 4), round(float(res.eigvals[-1]), 2)) == (0.0026, 2.63)
    assert round(2 / float(res.eigvals[-1]), 2) == 0.76  # lr below this is stable
    H, C = model.hessian(theta), minibatch_noise_covariance(model, theta, 1)
    assert round(float(np.trace(C) / np.trace(H)), 2) == 0.38
    vecs = np.linalg.eigh(H)[1][:, ::-1][:, :3]
    ratios = [float(u @ C @ u / (u @ H @ u)) for u in vecs.T]
    assert 0.355 <= min(ratios) and max(ratios) < 0.445  # 0.36-0.44
    assert round(quadratic_escape_exponent(model, theta, 0.1), 3) == 0.198
    assert round(quadratic_escape_exponent(model, theta, 0.1, noise="hessian"), 3) == 0.076


# ------------------------------------------------------------------ any model of the protocol

class MinimalLeastSquares:
    """A user-written model (no base class) with only the minimal protocol: L = 1/(2N) |X theta - y|^2."""

    def __init__(self, x, y):
        self.x, self.y = x, y
        self.n_params, self.n_data = x.shape[1], x.shape[0]

    def loss(self, theta, batch=None):
        x, y = (self.x, self.y) if batch is None else (self.x[batch], self.y[batch])
        return 0.5 * float(np.mean((x @ theta - y) ** 2))

    def gradient(self, theta, batch=None):
        x, y = (self.x, self.y) if batch is None else (self.x[batch], self.y[batch])
        return x.T @ (x @ theta - y) / x.shape[0]

    def hvp(self, theta, vec, batch=None):
        return self.x.T @ (self.x @ vec) / self.n_data


def test_escape_of_a_minimal_model_follows_the_documented_stream():
    """Walker 0 replayed by hand from block 0's stream; formulas needing per-sample gradients name them."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 3))
    model = MinimalLeastSquares(x, x @ np.array([1.0, -1.0, 0.5]) + 0.5 * rng.standard_normal(40))
    theta_star = np.linalg.lstsq(x, model.y, rcond=None)[0]
    lr, B, delta = 0.5, 2, 0.05
    out = sgd_escape(model, theta_star, lr=lr, batch_size=B, threshold=delta, n_walkers=8, max_steps=300, seed=2)
    assert 0 < out.n_escaped
    gen = np.random.Generator(np.random.PCG64(derive(2, 0)))
    theta, level = theta_star.copy(), model.loss(theta_star) + delta
    for k in range(1, 301):
        idx = gen.integers(0, model.n_data, size=(8, B))[0]
        theta = theta - lr * model.gradient(theta, idx)
        if model.loss(theta) > level:
            break
    assert out.times[0] == k and out.censored[0] == (k == 300 and model.loss(theta) <= level)
    # the Hessian from hvp columns; the exact noise needs per_sample_gradients
    assert quadratic_escape_exponent(model, theta_star, delta, noise="hessian") == pytest.approx(
        2 * delta / np.linalg.eigvalsh(x.T @ x / 40)[-1], rel=1e-12)
    with pytest.raises(TypeError, match="per_sample_gradients"):
        quadratic_escape_exponent(model, theta_star, delta)
    with pytest.raises(TypeError, match="per_sample_gradients"):
        minibatch_noise_covariance(model, theta_star, 4)
    with pytest.raises(DomainError, match="backend"):
        sgd_escape(model, theta_star, lr=lr, batch_size=B, threshold=delta, n_walkers=2, backend=FakeBackend())


class FakeBackend(type(get_backend("numpy"))):
    """The NumPy backend under another name: what a device backend looks like to the escape code."""

    name = "device"


# ------------------------------------------------------------------ deprecated names

def test_old_names_still_work_with_a_deprecation_warning(trained):
    import theory.learned as learned_module

    model, res = trained
    theta = res.theta
    old = {"X": "x", "hidden": "n_hidden", "n_samples": "n_data", "n_features": "n_in"}
    for a, b in old.items():
        with pytest.warns(DeprecationWarning, match=f"{a} is deprecated; use MLPLandscape.{b}"):
            assert np.array_equal(getattr(model, a), getattr(model, b))
    with pytest.warns(DeprecationWarning, match="init_params"):
        np.testing.assert_array_equal(model.init_params(3, 0.5), model.initial(3, 0.5))
    with pytest.warns(DeprecationWarning, match="sample_gradients"):
        no_decay = model.sample_gradients(theta)
    np.testing.assert_allclose(no_decay + model.weight_decay * theta, model.per_sample_gradients(theta), rtol=1e-13)
    with pytest.warns(DeprecationWarning, match="'X' is deprecated"), \
            pytest.warns(DeprecationWarning, match="'hidden' is deprecated"):
        again = MLPLandscape(X=model.x, y=model.y, hidden=4, weight_decay=model.weight_decay)
    assert again.value(theta) == model.value(theta)
    with pytest.warns(DeprecationWarning, match="'hidden' is deprecated; use 'n_hidden'"):
        assert MLPLandscape.from_dataset(hidden=2).n_hidden == 2
    with pytest.warns(DeprecationWarning, match="'hidden'"):
        assert learned_module.DEFAULTS["hidden"] == learned_module.DEFAULTS["n_hidden"]
    with pytest.warns(DeprecationWarning, match="'max_iters'"):
        assert learned_module.DEFAULTS["max_iters"] == learned_module.DEFAULTS["max_steps"]
    with pytest.warns(DeprecationWarning, match="'max_iters' is deprecated; use 'max_steps'"):
        out = sgd_escape(model, theta, n_walkers=4, max_iters=30, seed=1, **FAST)
    assert out.max_steps == 30
    for a, b in (("iterations", out.times), ("max_iters", out.max_steps), ("mean_iterations", out.mean_steps())):
        with pytest.warns(DeprecationWarning, match=a):
            assert np.array_equal(getattr(out, a), b) if a != "mean_iterations" else getattr(out, a) == b
    with pytest.warns(DeprecationWarning, match="mean_time"):  # the old property form reads as an Estimate
        assert float(out.mean_time.value) == float(out.mean_time().value)


def test_the_network_trains_through_the_shared_training_loop(trained):
    """MLPLandscape is a LossModel: theory.simulators.training.train runs on it with default tracking,
    and one SGD step is theta - lr * (minibatch gradient) on the documented batch."""
    from theory.simulators.training import SGD, train

    model, res = trained
    tr = train(model, SGD(16, replace=True), lr=0.1, n_steps=1, seed=3, theta0=res.theta, track_every=1,
               test_data=(model.x[:20], model.y[:20]))
    batch = np.random.Generator(np.random.PCG64(derive(3, "training.batch", 0))).integers(0, model.n_data, 16)
    np.testing.assert_array_equal(tr.final_theta, res.theta - 0.1 * model.gradient(res.theta, batch))
    assert tr.trace_ratio.shape == (2,) and tr.test_loss[0] == model.loss_on(res.theta, model.x[:20], model.y[:20])
    assert tr.sharpness[0] == pytest.approx(res.eigvals[-1], rel=1e-12)


# ---------------------------------------------------------------- saturated units, wrong lengths

@pytest.mark.parametrize("dataset", ["breast_cancer", "diabetes"])
def test_hessian_is_finite_where_units_saturate(dataset):
    # exp of a complex pre-activation with real part > 709 is inf + inf i and 1/(1 + that) is NaN: the Hessian
    # was NaN where value and gradient are finite, and training failed in eigvalsh ("did not converge")
    model = MLPLandscape.from_dataset(dataset, n_hidden=3)
    for scale in (50.0, 200.0, 1e4):
        theta = model.initial(1) * scale
        assert np.isfinite(model.value(theta)) and np.all(np.isfinite(model.gradient(theta)))
        h = model.hessian(theta)
        assert np.all(np.isfinite(h))
        eps = 1e-6 * max(1.0, np.max(np.abs(theta)))
        for j in range(0, model.n_params, 7):  # columns against central differences of the exact gradient
            e = np.zeros(model.n_params)
            e[j] = eps
            fd = (model.gradient(theta + e) - model.gradient(theta - e)) / (2 * eps)
            assert np.max(np.abs(fd - h[:, j])) <= 1e-5 * max(1.0, np.max(np.abs(h)))
        assert np.all(np.isfinite(model.hvp(theta, np.ones(model.n_params))))


def test_hessian_in_the_unsaturated_range_keeps_its_bits():
    model = MLPLandscape.from_dataset("diabetes", n_hidden=2)
    theta = model.initial(0)
    eye = np.eye(model.n_params) * (1j * 1e-30)
    g = model._grad(theta[None, :] + eye, None)
    ref = g.imag * (1.0 / 1e-30)
    assert np.array_equal(model.hessian(theta), 0.5 * (ref + ref.T))


def test_value_refuses_a_parameter_vector_of_the_wrong_length():
    model = MLPLandscape.from_dataset("diabetes", n_hidden=2)
    p = model.n_params
    with pytest.raises(DomainError, match=rf"^x must have shape \({p},\)"):  # numpy's reshape error before
        model.value(np.zeros(5))
    with pytest.raises(DomainError, match=rf"^x must have shape .*\(\.\.\., {p}\)"):
        model.value(np.zeros((3, 5)))
    with pytest.raises(DomainError, match="^x must be a number, not NaN"):
        model.value(np.full(p, np.nan))
    with pytest.raises(TypeError, match="^x must"):
        model.value(np.array(["a"] * p))
    with pytest.raises(DomainError, match="^theta must have shape"):
        model.gradient(np.zeros(p + 1))
    walkers = np.zeros((2, p))
    walkers[1, 0] = np.inf  # a diverged walker in a stack keeps its loss, not an error
    assert model.value(walkers).shape == (2,)


def test_a_walker_that_diverges_between_checks_has_escaped():
    from theory.hessian_models import TwoLayerNetwork, synthetic_regression

    x, y = synthetic_regression(10, 2, seed=0)
    net = TwoLayerNetwork(x, y, 3)
    # lr = 1e300: the first step overflows; the gradient at a non-finite point was refused ("theta must be a number")
    r = sgd_escape(net, net.initial(0), lr=1e300, batch_size=2, threshold=0.5, n_walkers=8, max_steps=2, seed=1,
                   check_every=2)
    assert np.all(r.times == 2) and not r.censored.any()
    mlp = MLPLandscape.from_dataset("diabetes", n_hidden=2)
    r = sgd_escape(mlp, mlp.initial(0), lr=1e300, batch_size=2, threshold=0.5, n_walkers=8, max_steps=4, seed=1,
                   check_every=2)
    assert not r.censored.any()  # a NaN loss counts as above the level, not as still in the valley


def test_scalar_hyperparameters_refuse_arrays_by_name():
    x, y, _ = load_dataset("diabetes")
    with pytest.raises(TypeError, match="^weight_decay must be a scalar"):
        MLPLandscape(x, y, n_hidden=2, weight_decay=np.ones(3))
    with pytest.raises(DomainError, match="^loss must be one of"):
        MLPLandscape(x, y, n_hidden=2, loss=np.array([1.0, 2.0]))
    with pytest.raises(TypeError, match="^name must be a data set name"):
        load_dataset(["diabetes"])
    model = MLPLandscape(x, y, n_hidden=2)
    with pytest.raises(TypeError, match="^zero_tol must be a scalar"):
        model.train(0, zero_tol=np.ones(3))
    with pytest.raises(DomainError, match="^theta must have shape"):
        model.unpack(np.zeros(1))
    with pytest.raises(DomainError, match="^W1 must have shape"):
        model.pack(0.0, 0.0, 0.0, 0.0)
    with pytest.raises(TypeError, match="^idx must be an array of integer"):
        model.minibatch_gradient(np.zeros((1, model.n_params)), np.zeros((1, 2)))
    with pytest.raises(DomainError, match="^idx must be indices in"):
        model.minibatch_gradient(np.zeros((1, model.n_params)), np.full((1, 2), model.n_data))
    with pytest.raises(DomainError, match="^idx must have shape"):
        model.minibatch_gradient(np.zeros((2, model.n_params)), np.zeros((3, 2), dtype=int))
