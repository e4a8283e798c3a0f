"""theory.simulators.gradient_noise and theory.hessian_models: noise covariance, tails, Gaussianity, exact Hessians.

Statistical tests use a fixed seed and a stated false-alarm rate: ALPHA per
test, Bonferroni over its comparisons through ``z_critical``.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theory import DomainError
from theory.backend import available_backends
from theory.hessian_models import (LinearLeastSquares, LogisticRegression, TwoLayerNetwork, gaussian_mixture,
                                   trained_spectrum)
from theory.simulators.gradient_noise import (gaussianity, gaussianity_scan, least_squares_problem,
                                              logistic_problem, minibatch_noise, noise_tail_index)
from theory.stats import Estimate, z_critical

ALPHA = 1e-6
SPEC = np.linspace(0.5, 3.0, 8)


def assert_consistent(estimate, expected, n_tests=None):
    z = np.atleast_1d(estimate.z(expected))
    crit = z_critical(ALPHA, n_tests or z.size)
    assert np.all(np.abs(z) <= crit), (estimate, expected, z, crit)


def fd_jacobian(f, theta, h=1e-6):
    """Central differences of a scalar- or vector-valued f, one column per coordinate."""
    cols = [(np.asarray(f(theta + h * e)) - np.asarray(f(theta - h * e))) / (2 * h) for e in np.eye(theta.size)]
    return np.stack(cols, axis=-1)


# ------------------------------------------------------------ exact Hessians

def _check_derivatives(model, theta, tol):
    g = model.gradient(theta)
    assert np.allclose(g, fd_jacobian(model.loss, theta), atol=tol)
    assert np.allclose(model.per_sample_gradients(theta).mean(axis=0), g, atol=1e-13)
    h = model.hessian(theta)
    assert np.allclose(h, h.T, atol=1e-13)
    assert np.allclose(h, fd_jacobian(model.gradient, theta), atol=tol)


def test_least_squares_and_logistic_derivatives_match_finite_differences():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 5))
    y = x @ rng.normal(size=5) + rng.normal(size=60)
    theta = rng.normal(size=5)
    ls = LinearLeastSquares(x, y)
    _check_derivatives(ls, theta, 1e-7)
    assert np.allclose(ls.hessian(theta), x.T @ x / 60)
    assert np.allclose(ls.gradient(ls.minimum()), 0, atol=1e-12)
    labels = (rng.random(60) < 0.4).astype(float)
    for l2 in (0.0, 0.3):
        lr = LogisticRegression(x, labels, l2=l2)
        _check_derivatives(lr, theta, 1e-7)
        p = 1 / (1 + np.exp(-x @ theta))
        assert np.allclose(lr.hessian(theta), (x * (p * (1 - p))[:, None]).T @ x / 60 + l2 * np.eye(5))
    lr = LogisticRegression(x, labels, l2=0.1)
    assert np.linalg.norm(lr.gradient(lr.minimum())) < 1e-10


@pytest.mark.parametrize("n_out, hidden", [(1, 4), (3, 5)])
def test_two_layer_network_hessian_matches_finite_differences(n_out, hidden):
    x, y = gaussian_mixture(40, 4, 3, seed=1)
    y = y[:, :n_out]
    net = TwoLayerNetwork(x, y, hidden)
    theta = net.initial(seed=2, scale=0.8)
    _check_derivatives(net, theta, 1e-6)
    assert np.allclose(net.jacobian(theta)[:, :, 0], fd_jacobian(lambda t: np.tanh(x @ net.unpack(t)[1].T)
                                                                  @ net.unpack(t)[0].T, theta)[:, :, 0], atol=1e-7)
    g = net.gauss_newton(theta)
    assert np.linalg.eigvalsh(g).min() > -1e-12
    assert np.allclose(g + net.residual_hessian(theta), net.hessian(theta))


def test_network_hessian_is_gauss_newton_when_the_residuals_vanish():
    x, _ = gaussian_mixture(30, 3, 2, seed=3)
    teacher = TwoLayerNetwork(x, np.zeros((30, 2)), 4)
    theta = teacher.initial(seed=4)
    a, w = teacher.unpack(theta)
    net = TwoLayerNetwork(x, np.tanh(x @ w.T) @ a.T, 4)  # targets made by the same network
    assert net.loss(theta) == 0.0
    assert np.abs(net.residual_hessian(theta)).max() == 0.0
    assert np.allclose(net.hessian(theta), net.gauss_newton(theta))


def test_trained_network_hessian_has_a_bulk_and_class_outliers():
    """4 Gaussian classes: the Hessian at the minimum has 16 = C^2 outliers (4-fold degenerate groups, from
    the k = 4 copies of the output-layer block) above a bulk, separated by a gap (Papyan 2019)."""
    x, y = gaussian_mixture(400, 10, 4, separation=3.0, seed=1)
    net = TwoLayerNetwork(x, y, 8)
    res = trained_spectrum(net, seed=1, max_iter=3000)
    assert res.converged and res.gradient_norm < 1e-6
    e = res.eigenvalues[::-1]
    assert e[-1] > -1e-8  # a minimum: no negative curvature beyond rounding
    pos = e[e > 1e-8]
    gaps = pos[:-1] / pos[1:]
    assert int(np.argmax(gaps[:30])) + 1 == 16
    assert gaps[15] > 3.0
    assert np.allclose(e[:16].reshape(4, 4), e[:16:4, None], rtol=1e-3)  # four groups of four
    # at a small-residual minimum the Hessian is close to its Gauss-Newton part
    assert np.allclose(res.gauss_newton_eigenvalues[-16:], res.eigenvalues[-16:], rtol=0.05)


# ------------------------------------------------------------ minibatch noise covariance

def test_minibatch_noise_is_chunk_invariant():
    pr = least_squares_problem(300, SPEC, noise=0.5, seed=1)
    w = pr.minimum()
    base = minibatch_noise(pr, w, 16, 3000, seed=2)
    for chunk in (1, 1024, 2500, 10**6):
        other = minibatch_noise(pr, w, 16, 3000, seed=2, chunk_batches=chunk)
        assert np.array_equal(base.samples, other.samples)
        assert np.array_equal(base.covariance, other.covariance)
        assert base.trace.value == other.trace.value and base.trace.stderr == other.trace.stderr
        assert np.array_equal(base.directional_variance.value, other.directional_variance.value)
    again = minibatch_noise(pr, w, 16, 3000, seed=base.entropy)
    assert np.array_equal(base.samples, again.samples)
    assert not np.array_equal(base.samples, minibatch_noise(pr, w, 16, 3000, seed=3).samples)


@pytest.mark.parametrize("replace", [False, True])
def test_noise_covariance_matches_the_sampling_theory(replace):
    """Cov(g_B) = C/B with replacement, (N - B)/(B (N - 1)) C without: trace and top directions."""
    pr = least_squares_problem(400, SPEC, noise=0.7, seed=4)
    for w in (pr.minimum(), pr.w_star + 0.5):  # at the minimum and away from it
        res = minibatch_noise(pr, w, 50, 20_000, replace=replace, seed=5)
        expected = 1 / 50 if replace else (400 - 50) / (50 * 399)
        assert res.factor == pytest.approx(expected, rel=1e-15)
        assert_consistent(res.trace, res.theory_trace, 8)
        assert_consistent(res.directional_variance, res.theory_directional, 8)
        assert np.allclose(res.theory_covariance, expected * pr.gradient_covariance(w))


def test_missing_finite_population_correction_is_detected():
    pr = least_squares_problem(200, SPEC, noise=0.7, seed=6)
    res = minibatch_noise(pr, pr.minimum(), 100, 5000, seed=7)
    naive = np.trace(pr.gradient_covariance(pr.minimum())) / 100  # C/B: twice the truth at B = N/2
    assert abs(res.trace.z(naive)) > z_critical(ALPHA)
    assert_consistent(res.trace, res.theory_trace)


def test_full_batch_without_replacement_has_no_noise():
    pr = least_squares_problem(50, SPEC, seed=8)
    res = minibatch_noise(pr, pr.w_star, 50, 10, seed=9)
    assert res.factor == 0.0 and res.theory_trace == 0.0
    assert np.abs(res.samples).max() < 1e-12


def test_gradient_covariance_matches_the_population_formula():
    """C_pop(w) = (s^2 + d'Sd) S + S d d'S for Gaussian data (Isserlis); at w* it is s^2 times the
    population Hessian S. The data-set C is a mean of N i.i.d. terms (times (N-1)/N): tested on its trace
    and on two quadratic forms with standard errors over the examples."""
    noise = 0.6
    pr = least_squares_problem(40_000, SPEC, noise=noise, seed=10)
    n = pr.n_data
    rng = np.random.default_rng(11)
    for delta in (np.zeros(SPEC.size), rng.normal(size=SPEC.size) * 0.4):
        w = pr.w_star + delta
        cpop = pr.population_gradient_covariance(w)
        if not delta.any():
            assert np.allclose(cpop, noise**2 * pr.population_hessian())
        g = pr.per_sample_gradients(w)
        u1, u2 = np.eye(SPEC.size)[-1], (delta if delta.any() else np.ones(SPEC.size)) / np.linalg.norm(
            delta if delta.any() else np.ones(SPEC.size))
        gbar = g.mean(axis=0)
        # uncentred second moments (mean known under the model: S delta), each an i.i.d. mean
        mu = SPEC * delta
        d = g - mu
        terms = np.stack([np.sum(d * d, axis=1), (d @ u1) ** 2, (d @ u2) ** 2], axis=1)
        est = Estimate(terms.mean(axis=0), terms.std(axis=0, ddof=1) / np.sqrt(n), n)
        expected = np.array([np.trace(cpop), u1 @ cpop @ u1, u2 @ cpop @ u2])
        assert_consistent(est, expected, 6)
        # and the data-set covariance is that second moment minus the (small) mean correction
        c = pr.gradient_covariance(w)
        dm = gbar - mu
        assert np.isclose(np.trace(c), terms[:, 0].mean() - dm @ dm, rtol=1e-10)


def test_least_squares_noise_is_noise_variance_times_hessian_over_b():
    """At the empirical minimum C ~ s^2 (1 - D/N) H (fitted residuals are smaller by the D fitted
    parameters) and the noise covariance is aligned with H."""
    noise, n = 0.8, 4000
    pr = least_squares_problem(n, SPEC, noise=noise, seed=12)
    res = minibatch_noise(pr, pr.minimum(), 32, 20_000, replace=True, seed=13)
    # exact, given the data: tr C / tr H over the data set; the Monte Carlo estimate matches it
    assert_consistent(res.hessian_scale, np.trace(res.gradient_covariance) / np.trace(res.hessian))
    # and it is s^2 (1 - D/N) up to the data set's own fluctuation, O(N^-1/2) relative (~2% here)
    assert abs(float(res.hessian_scale.value) / (noise**2 * (1 - SPEC.size / n)) - 1) < 0.1
    assert res.hessian_cosine > 0.98


def test_logistic_gradient_covariance_is_the_hessian_at_the_true_parameter():
    """E[(p - y)^2 | x] = p (1 - p): the per-example second moment is an unbiased estimate of H(w*)."""
    pr = logistic_problem(30_000, SPEC, w_star=np.full(SPEC.size, 0.3), seed=14)
    w = pr.w_star
    p = 1 / (1 + np.exp(-pr.x @ w))
    sq = np.sum(pr.x**2, axis=1)
    terms = (p - pr.y) ** 2 * sq
    est = Estimate(terms.mean(), terms.std(ddof=1) / np.sqrt(terms.size), terms.size)
    assert_consistent(est, np.trace(pr.hessian(w)))
    g = pr.gradient(w)
    assert np.isclose(np.trace(pr.gradient_covariance(w)), terms.mean() - g @ g, rtol=1e-10)
    res = minibatch_noise(pr, w, 64, 5000, seed=15)
    assert res.hessian_cosine > 0.98


# ------------------------------------------------------------ tails

def _symmetric_stable(rng, alpha, size):
    """Chambers-Mallows-Stuck for a symmetric alpha-stable law (alpha != 1)."""
    u = rng.uniform(-np.pi / 2, np.pi / 2, size)
    e = rng.exponential(size=size)
    return np.sin(alpha * u) / np.cos(u) ** (1 / alpha) * (np.cos((1 - alpha) * u) / e) ** ((1 - alpha) / alpha)


def test_hill_estimator_is_unbiased_on_a_pareto_tail():
    """For a Pareto tail the k log-spacings are i.i.d. exponential: xi_hat has mean 1/alpha, se xi/sqrt(k)."""
    rng = np.random.default_rng(16)
    zs = []
    for alpha in (0.8, 1.5, 3.0):
        t = noise_tail_index(rng.pareto(alpha, 50_000) + 1.0, k=2000)
        zs.append(float(t.xi_estimate().z(1 / alpha)))
    assert np.all(np.abs(zs) <= z_critical(ALPHA, 3)), zs


def test_mohammadi_estimator_is_unbiased_for_stable_laws():
    """Y = sum of K1 stable draws = K1^(1/alpha) X in law, so the estimator of 1/alpha is unbiased;
    a Gaussian is stable with alpha = 2."""
    rng = np.random.default_rng(17)
    zs = []
    for alpha in (1.2, 1.7):
        t = noise_tail_index(_symmetric_stable(rng, alpha, 40_000), method="mohammadi")
        zs.append(float(t.xi_estimate().z(1 / alpha)))
    t = noise_tail_index(rng.normal(size=(20_000, 3)), method="mohammadi")
    zs.append(float(t.xi_estimate().z(0.5)))
    assert np.all(np.abs(zs) <= z_critical(ALPHA, 3)), zs


def test_tail_index_of_gradient_noise_gaussian_vs_heavy_features():
    """The B = 1 noise law is the data set's law of g_i - g. Gaussian features: every moment is finite
    (tail index infinite), Hill's estimate is large; Student-t features with dof 1.5: the per-example
    gradient eps x has tail index 1.5 (Breiman's lemma: a Gaussian factor keeps the index). The second-order
    term of the t tail is relatively O(x^-2), so Hill's bias is O((k/n)^(2/1.5)) ~ 0.2% at k/n = 1%,
    far below its standard error (3%)."""
    crit = z_critical(ALPHA, 2)
    light = least_squares_problem(100_000, SPEC, noise=0.5, seed=18)
    heavy = least_squares_problem(100_000, SPEC, noise=0.5, feature_dof=1.5, seed=18)
    g_light = light.per_sample_gradients(light.w_star)
    g_heavy = heavy.per_sample_gradients(heavy.w_star)
    t_light = noise_tail_index(g_light - g_light.mean(axis=0), k=1000)
    t_heavy = noise_tail_index(g_heavy - g_heavy.mean(axis=0), k=1000)
    assert t_light.alpha - crit * t_light.alpha_stderr > 4.0
    assert abs(float(t_heavy.xi_estimate().z(1 / 1.5))) <= crit
    # minibatch draws at B = 1 take their values from the same N vectors
    res = minibatch_noise(heavy, heavy.w_star, 1, 1000, replace=True, seed=19)
    col = np.sort(g_heavy[:, 0] - g_heavy[:, 0].mean())
    pos = np.clip(np.searchsorted(col, res.samples[:, 0]), 1, col.size - 1)
    nearest = np.minimum(np.abs(col[pos] - res.samples[:, 0]), np.abs(col[pos - 1] - res.samples[:, 0]))
    assert np.all(nearest <= 1e-12 * np.abs(col).max())


# ------------------------------------------------------------ Gaussianity

def test_anderson_darling_p_values_are_calibrated():
    """Under normality the p-values are uniform: the rejection rate at 5% over 300 samples is
    Binomial(300, 0.05), and rejections of t(3) samples are near certain."""
    rng = np.random.default_rng(20)
    p = np.array([gaussianity(rng.normal(size=200)).p_value for _ in range(300)])
    rate = np.mean(p < 0.05)
    assert abs(rate - 0.05) <= z_critical(ALPHA) * np.sqrt(0.05 * 0.95 / 300)
    assert gaussianity(rng.standard_t(3, size=5000)).p_value < 1e-6
    test = gaussianity(rng.normal(size=20_000))
    assert_consistent(test.excess_kurtosis, 0.0, 2)
    assert_consistent(test.skewness, 0.0, 2)


def test_minibatch_kurtosis_falls_like_one_over_b():
    """With replacement the minibatch mean of B i.i.d. draws has excess kurtosis k1/B exactly, k1 that of
    one example's projected gradient over the data set (the CLT at work)."""
    pr = least_squares_problem(2000, SPEC, noise=0.7, seed=21)
    w = pr.minimum()
    u = np.linalg.eigh(pr.gradient_covariance(w))[1][:, -1]
    proj = (pr.per_sample_gradients(w) - pr.gradient(w)) @ u
    k1 = np.mean(proj**4) / np.mean(proj**2) ** 2 - 3
    kurt = []
    for b in (1, 4, 16):
        res = minibatch_noise(pr, w, b, 20_000, replace=True, seed=22)
        kurt.append(gaussianity(res.samples @ u).excess_kurtosis)
    for b, k in zip((1, 4, 16), kurt):
        assert_consistent(k, k1 / b, 3)


@pytest.mark.slow
def test_gaussianity_scan_finds_an_onset_for_gaussian_but_not_for_infinite_variance_features():
    sizes = [1, 2, 4, 8, 16, 32, 64, 128, 256]
    light = least_squares_problem(2000, SPEC, noise=0.7, seed=23)
    scan = gaussianity_scan(light, light.minimum(), sizes, 3000, alpha=1e-3, seed=24)
    assert scan.onset is not None and scan.onset <= 128
    assert scan.p_values[0] < 1e-3  # B = 1: a product of Gaussians, not Gaussian
    heavy = least_squares_problem(2000, SPEC, noise=0.7, feature_dof=1.5, seed=23)
    scan = gaussianity_scan(heavy, heavy.minimum(), sizes, 3000, alpha=1e-3, seed=24)
    assert scan.onset is None


@pytest.mark.gpu
@pytest.mark.skipif("cupy" not in available_backends(), reason="needs CuPy and a CUDA device")
@pytest.mark.parametrize("replace", [False, True])
def test_cupy_backend_matches_the_sampling_theory(replace):
    pr = least_squares_problem(400, SPEC, noise=0.7, seed=4)
    w = pr.minimum()
    res = minibatch_noise(pr, w, 50, 200_000, replace=replace, seed=5, backend="cupy")
    assert res.backend == "cupy"
    assert_consistent(res.trace, res.theory_trace, 4)
    assert_consistent(res.directional_variance, res.theory_directional, 4)
    again = minibatch_noise(pr, w, 50, 200_000, replace=replace, seed=5, backend="cupy", chunk_batches=1)
    assert np.allclose(res.samples, again.samples, rtol=1e-12, atol=1e-15)


# ------------------------------------------------------------ bad input

def test_bad_input_names_the_parameter():
    pr = least_squares_problem(20, SPEC, seed=0)
    w = pr.w_star
    cases = [
        (lambda: minibatch_noise(pr, w, 21, 10), "batch_size"),
        (lambda: minibatch_noise(pr, w, 0, 10), "batch_size"),
        (lambda: minibatch_noise(pr, w, 5, 1), "n_batches"),
        (lambda: minibatch_noise(pr, np.ones(3), 5, 10), "w"),
        (lambda: least_squares_problem(1, SPEC), "n_data"),
        (lambda: least_squares_problem(10, [1.0, -1.0]), "spectrum"),
        (lambda: least_squares_problem(10, SPEC, noise=-1.0), "noise"),
        (lambda: least_squares_problem(10, SPEC, feature_dof=0.0), "feature_dof"),
        (lambda: least_squares_problem(10, SPEC, w_star=np.ones(3)), "w_star"),
        (lambda: logistic_problem(10, SPEC, l2=-1.0), "l2"),
        (lambda: noise_tail_index(np.ones(3)), "samples"),
        (lambda: noise_tail_index(np.ones(100), k=100), "k"),
        (lambda: noise_tail_index(np.ones(100), method="pickands"), "method"),
        (lambda: noise_tail_index(np.ones(100), method="mohammadi", group_size=1), "group_size"),
        (lambda: gaussianity(np.ones(50)), "samples"),
        (lambda: gaussianity(np.ones((100, 2)), direction=[1.0]), "direction"),
        (lambda: gaussianity_scan(pr, w, [2], 100, alpha=2.0), "alpha"),
        (lambda: LinearLeastSquares(np.ones(3), np.ones(3)), "x"),
        (lambda: LinearLeastSquares(np.ones((3, 2)), np.ones(4)), "y"),
        (lambda: LogisticRegression(np.ones((3, 2)), np.array([0.0, 1.0, 2.0])), "y"),
        (lambda: TwoLayerNetwork(np.ones((3, 2)), np.ones(3), 0), "n_hidden"),
        (lambda: gaussian_mixture(10, 2, 3), "n_classes"),
        (lambda: pr.population_hessian() if False else logistic_problem(10, SPEC).population_hessian(),
         "population_hessian"),
    ]
    for call, name in cases:
        with pytest.raises(DomainError, match=rf"^{name} must|^{name} is"):
            call()
    heavy = least_squares_problem(10, SPEC, feature_dof=3.0, seed=0)
    with pytest.raises(DomainError, match="^population_gradient_covariance needs"):
        heavy.population_gradient_covariance(w)


@settings(max_examples=20, deadline=None)
@given(n=st.integers(2, 30), b=st.integers(1, 30), replace=st.booleans(), seed=st.integers(0, 2**32))
def test_noise_has_the_right_shape_and_zero_mean_structure(n, b, replace, seed):
    pr = least_squares_problem(n, SPEC[:3], seed=seed)
    if not replace and b > n:
        with pytest.raises(DomainError, match="^batch_size must"):
            minibatch_noise(pr, pr.w_star, b, 4, seed=seed)
        return
    res = minibatch_noise(pr, pr.w_star, b, 4, replace=replace, seed=seed)
    assert res.samples.shape == (4, 3)
    # each sample is a mean of B per-example gradients minus the full gradient
    g = pr.per_sample_gradients(pr.w_star)
    lo, hi = (g - g.mean(axis=0)).min(axis=0), (g - g.mean(axis=0)).max(axis=0)
    assert np.all(res.samples >= lo - 1e-12) and np.all(res.samples <= hi + 1e-12)
    assert np.all(np.linalg.eigvalsh(res.theory_covariance) >= -1e-12)


def test_a_model_without_per_sample_gradients_is_refused_by_name():
    class LossAndGradientOnly:  # the minimal protocol only
        def __init__(self, model):
            self.n_params, self.n_data = model.n_params, model.n_data
            self.loss, self.gradient, self.hvp = model.loss, model.gradient, model.hvp

    pr = least_squares_problem(30, SPEC, seed=1)
    with pytest.raises(TypeError, match="'per_sample_gradients'.*minibatch_noise"):
        minibatch_noise(LossAndGradientOnly(pr.model), pr.w_star, 5, 10)
    with pytest.raises(TypeError, match="'per_sample_gradients'.*gaussianity_scan"):
        gaussianity_scan(LossAndGradientOnly(pr.model), pr.w_star, [2], 100)


def test_gaussianity_scan_direction_of_any_magnitude_is_normalised():
    import numpy as np

    from theory.simulators import gaussianity_scan, least_squares_problem
    p = least_squares_problem(50, [1.0, 2.0], seed=0)
    ref = gaussianity_scan(p, p.w_star, [1, 2], 100, direction=np.array([0.0, 1.0]), seed=1)
    tiny = gaussianity_scan(p, p.w_star, [1, 2], 100, direction=np.array([0.0, 2.2251e-308]), seed=1)
    assert np.array_equal(tiny.p_values, ref.p_values)  # NaN samples ("samples must be a number") before
    huge = gaussianity_scan(p, p.w_star, [1, 2], 100, direction=np.array([1e300, 3e300]), seed=1)
    unit = gaussianity_scan(p, p.w_star, [1, 2], 100, direction=np.array([1.0, 3.0]), seed=1)
    assert np.allclose(huge.p_values, unit.p_values, rtol=1e-12)


def test_problems_refuse_overflowing_noise_or_features_by_name():
    import numpy as np

    from theory.simulators import least_squares_problem, logistic_problem
    with pytest.raises(DomainError, match="^noise "):
        least_squares_problem(10, [301.0, 0.5], noise=1.7976931348623157e308, feature_dof=3.0, noise_dof=5.0)
    with pytest.raises(DomainError, match="^feature_dof "):
        logistic_problem(14, [465.0, 0.33, 0.037], l2=1e-300, feature_dof=5e-324)
    with pytest.raises(TypeError, match="^feature_dof must be a scalar"):
        least_squares_problem(10, [1.0], feature_dof=np.ones(2))
    p = least_squares_problem(10, [1.0, 2.0])
    with pytest.raises(DomainError, match="^w must have shape"):
        p.loss(np.zeros(1))
