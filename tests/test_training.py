"""theory.simulators.training: exact reductions between optimizers, reproducibility, tracking, edge of stability."""

from __future__ import annotations

import numpy as np
import pytest

from theory import DomainError, TheoryWarning
from theory.backend import available_backends, get_backend
from theory.hessian_models import LinearLeastSquares, ScalarProduct, TwoLayerNetwork, synthetic_regression
from theory.ivon import ivon_init, ivon_step, posterior_std
from theory.rng import derive
from theory.sharpness import effective_number
from theory.simulators import training
from theory.simulators.training import GD, IVON, SAM, SGD, VGD, GTracer, train
from theory.vgd import vgd_threshold


@pytest.fixture(scope="module")
def quadratic():
    """L = 1/2 theta^T H theta with H = X^T X / N (least squares with y = 0), P = 5, N = 12."""
    x = np.random.default_rng(0).standard_normal((12, 5))
    return LinearLeastSquares(x, np.zeros(12))


@pytest.fixture(scope="module")
def network():
    x, y = synthetic_regression(24, 3, 1, n_hidden=3, noise=0.1, seed=1)
    return TwoLayerNetwork(x, 3 * y, 5)  # P = 5 + 15 = 20


THETA0 = np.array([1.0, -0.5, 0.3, 0.8, -1.2])


# ---------------------------------------------------------------- exact reductions

def test_gd_on_a_quadratic_is_the_matrix_power(quadratic):
    h, lr, n = quadratic.hessian(), 0.15, 40
    tr = train(quadratic, GD(), lr=lr, n_steps=n, theta0=THETA0, track_every=1, track=())
    step = np.eye(5) - lr * h
    expected = np.stack([np.linalg.matrix_power(step, t) @ THETA0 for t in range(n + 1)])
    np.testing.assert_allclose(tr.theta, expected, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(tr.loss, 0.5 * np.einsum("ti,ij,tj->t", expected, h, expected), rtol=1e-12)
    assert tr.tracked_steps.tolist() == list(range(n + 1)) and not tr.diverged


@pytest.mark.parametrize("other", [VGD(0.0), VGD(0.0, n_samples=3, dof=5), SGD(12), SAM(0.0), SAM(0.0, False),
                                   GTracer(0.0), GTracer(0.0, estimator="exact"), GTracer(0.5, estimator="exact")])
def test_degenerate_optimizers_are_gd_bit_for_bit(quadratic, other):
    # sigma = 0, a batch of all N examples (without replacement), radius 0: the update is GD's, to the bit;
    # so is exact G-TRACER at any rho on a quadratic, whose Hessian does not move (the HVP differences are 0)
    kw = dict(lr=0.2, n_steps=25, theta0=THETA0, seed=3, track_every=5, track=("sharpness",))
    gd, tr = train(quadratic, GD(), **kw), train(quadratic, other, **kw)
    np.testing.assert_array_equal(tr.loss, gd.loss)
    np.testing.assert_array_equal(tr.theta, gd.theta)


def test_ivon_without_noise_or_momentum_is_preconditioned_gd(quadratic):
    # beta2 = 1 freezes h = h0, beta1 = 0 removes momentum, weight_decay = 0, and ess = 1e30 makes the weight
    # noise sigma = 1/sqrt(ess h0) ~ 1e-15: the mean update is m <- m - lr H m / h0
    h, lr, h0 = quadratic.hessian(), 0.3, 2.0
    opt = IVON(ess=1e30, beta1=0.0, beta2=1.0, weight_decay=0.0, h0=h0)
    tr = train(quadratic, opt, lr=lr, n_steps=30, theta0=THETA0, track_every=10, track=("adaptive_sharpness",))
    step = np.eye(5) - (lr / h0) * h
    expected = [np.linalg.matrix_power(step, t) @ THETA0 for t in tr.tracked_steps]
    np.testing.assert_allclose(tr.theta, expected, rtol=1e-9, atol=1e-12)
    # adaptive sharpness lambda_max(diag(h0)^{-1} H) and the momentum-free edge 2/lr
    np.testing.assert_allclose(tr.adaptive_sharpness, np.linalg.eigvalsh(h)[-1] / h0, rtol=1e-12)
    assert tr.adaptive_edge == pytest.approx(2 / lr)


def test_ivon_steps_are_ivon_step_on_the_documented_draws(network):
    # the module documents that step t's normal draws come from derive(seed, "training.noise", t) on the
    # backend: replaying them through theory.ivon.ivon_step reproduces the trajectory exactly
    opt, lr, seed, n = IVON(n_samples=2), 0.05, 11, 4
    theta0 = network.initial(0)
    tr = train(network, opt, lr=lr, n_steps=n, theta0=theta0, seed=seed, track_every=1, track=())
    xb, ess = get_backend("numpy"), float(network.n_data)
    state = ivon_init(theta0, opt.h0)
    for t in range(n):
        eps = np.empty((2, network.n_params))
        xb.fill_normal(xb.generator(derive(seed, "training.noise", t)), eps)
        sigma = posterior_std(state.hess, opt.weight_decay, ess)
        grads = np.stack([network.gradient(state.mean + sigma * e) for e in eps])
        state = ivon_step(state, grads, eps, lr=lr, ess=ess, beta1=opt.beta1, beta2=opt.beta2,
                          weight_decay=opt.weight_decay)
        np.testing.assert_array_equal(tr.theta[t + 1], state.mean)


# ---------------------------------------------------------------- randomness

@pytest.mark.parametrize("opt", [VGD(0.05, n_samples=2), VGD(0.05, dof=4), SGD(3), SGD(3, replace=True),
                                 IVON(), GTracer(1e-4, batch_size=4)])
def test_same_seed_same_trajectory_other_seed_another(quadratic, opt):
    kw = dict(lr=0.1, n_steps=15, theta0=THETA0, track=())
    a, b, c = (train(quadratic, opt, seed=s, **kw) for s in (5, 5, 6))
    np.testing.assert_array_equal(a.loss, b.loss)
    np.testing.assert_array_equal(a.final_theta, b.final_theta)
    assert not np.array_equal(a.final_theta, c.final_theta)


def test_sgd_without_replacement_visits_every_example_once_per_epoch():
    # x_i = e_i (one example per coordinate, y = 0): with lr = B (the batch mean's 1/B undone) a step zeroes
    # exactly the coordinates of its batch, so after one epoch (N/B steps) theta = 0 -- and not before
    n, b = 12, 3
    model = LinearLeastSquares(np.eye(n), np.zeros(n))
    tr = train(model, SGD(b), lr=float(b), n_steps=n // b, theta0=np.ones(n), seed=2, track_every=1, track=())
    zeros = [(row == 0).sum() for row in tr.theta]
    assert zeros == [0, 3, 6, 9, 12]


@pytest.mark.parametrize("opt", [SGD(3), SGD(3, replace=True), GTracer(1e-4, batch_size=4), VGD(0.05, n_samples=2)])
def test_numpy_backend_equals_the_default_bit_for_bit(quadratic, opt):
    kw = dict(lr=0.1, n_steps=15, theta0=THETA0, track=(), seed=5)
    a = train(quadratic, opt, **kw)
    for backend in ("numpy", get_backend("numpy")):
        b = train(quadratic, opt, backend=backend, **kw)
        np.testing.assert_array_equal(a.theta, b.theta)
        np.testing.assert_array_equal(a.loss, b.loss)


def test_batches_follow_the_documented_streams():
    root, n, b = np.random.SeedSequence(3), 12, 3
    xb = get_backend("numpy")
    with_repl = training._Batches(SGD(b, replace=True), n, root, xb)
    gen = np.random.Generator(np.random.PCG64(derive(root, "training.batch", 4)))
    np.testing.assert_array_equal(with_repl(4), gen.integers(0, n, b))
    without = training._Batches(SGD(b), n, root, xb)
    perm = np.random.Generator(np.random.PCG64(derive(root, "training.epoch", 1))).permutation(n)
    np.testing.assert_array_equal(np.concatenate([without(t) for t in range(4, 8)]), perm)


def test_permutation_without_a_permutation_method_argsorts_uniform_keys():
    # CuPy's Generator has no permutation(): the fallback, run here on NumPy through a generator that hides it
    class KeysOnly:
        def __init__(self, gen):
            self.random = gen.random

    xb = get_backend("numpy")
    perm = training._permutation(xb, KeysOnly(np.random.default_rng(1)), 50)
    assert isinstance(perm, np.ndarray) and sorted(perm.tolist()) == list(range(50))
    np.testing.assert_array_equal(perm, np.argsort(np.random.default_rng(1).random(50)))


@pytest.mark.gpu
@pytest.mark.skipif("cupy" not in available_backends(), reason="needs CuPy and a CUDA device")
def test_cupy_batches_are_reproducible_and_cover_each_epoch(quadratic):
    for opt in (SGD(3), SGD(3, replace=True)):
        a, b = (train(quadratic, opt, lr=0.1, n_steps=15, theta0=THETA0, track=(), seed=5, backend="cupy")
                for _ in range(2))
        np.testing.assert_array_equal(a.theta, b.theta)
    n, bs = 12, 3  # as in test_sgd_without_replacement_visits_every_example_once_per_epoch, on the GPU's streams
    model = LinearLeastSquares(np.eye(n), np.zeros(n))
    tr = train(model, SGD(bs), lr=float(bs), n_steps=n // bs, theta0=np.ones(n), seed=2, track_every=1, track=(),
               backend="cupy")
    assert [(row == 0).sum() for row in tr.theta] == [0, 3, 6, 9, 12]


def test_student_t_perturbations_have_variance_sigma_squared():
    # On L = 1/2 (uv - 1)^2 at (u, v) = (1, 0) the u-gradient at (1 + e1, e2) is e2^2 + e1 e2^2 - e2, whose
    # mean is Var(e2): one VGD step with lr = 1 moves u to 1 - mean. dof = 5 scaled to variance sigma^2
    # (a unit-scale t would give 5/3 sigma^2). Var(e^2) = 8 sigma^4 for t_5 (kurtosis 9): with 20000 samples
    # the standard error of the mean is 0.02 sigma^2; the tolerance is 5 standard errors.
    sigma, ns = 0.1, 20000
    tr = train(ScalarProduct(), VGD(sigma, n_samples=ns, dof=5), lr=1.0, n_steps=1, theta0=np.array([1.0, 0.0]),
               seed=4, track=())
    assert (1 - tr.final_theta[0]) / sigma**2 == pytest.approx(1.0, abs=0.1)


# ---------------------------------------------------------------- tracking

def test_tracked_spectrum_matches_the_dense_hessian(network):
    tr = train(network, GD(), lr=0.1, n_steps=60, seed=0, track_every=20, top_k=3, alpha=0.5)
    for t, theta in enumerate(tr.theta):
        lam = np.linalg.eigvalsh(network.hessian(theta))
        np.testing.assert_allclose(tr.top_eigenvalues[t], lam[::-1][:3], rtol=1e-10, atol=1e-12)
        assert tr.count_above[t] == np.count_nonzero(lam > 2 / 0.1)
        assert tr.effective_number[t] == pytest.approx(effective_number(np.maximum(lam, 0), 0.5), rel=1e-12)
        g = network.fisher_diagonal(theta) + 1e-8
        assert tr.trace_ratio[t] == pytest.approx(np.sum(np.diag(network.hessian(theta)) / g), rel=1e-10)


def test_lanczos_path_matches_dense(network, monkeypatch):
    monkeypatch.setattr(training, "_DENSE_MAX", 0)  # force Lanczos on model.hvp (and Hutchinson for the trace)
    tr = train(network, GD(), lr=0.1, n_steps=10, seed=0, track_every=10, top_k=2,
               track=("sharpness", "count_above", "trace_ratio"))
    for t, theta in enumerate(tr.theta):
        h = network.hessian(theta)
        lam = np.linalg.eigvalsh(h)[::-1]
        np.testing.assert_allclose(tr.top_eigenvalues[t], lam[:2], rtol=1e-8)
        assert tr.count_above[t] == np.count_nonzero(lam[:2] > 2 / 0.1)  # only the top_k computed are counted
        # Hutchinson with 64 Rademacher probes of M = G^{-1/2} H G^{-1/2}: variance 2 sum_{i != j} M_ij^2 / 64
        d = 1 / np.sqrt(network.fisher_diagonal(theta) + 1e-8)
        m = d[:, None] * h * d[None, :]
        se = np.sqrt(2 * (np.sum(m * m) - np.sum(np.diag(m) ** 2)) / 64)
        assert abs(tr.trace_ratio[t] - np.trace(m)) < 5 * se


def test_vgd_threshold_is_the_vf_formula_along_the_top_eigenvector(quadratic):
    lr, sigma, ns = 0.2, 0.05, 3
    tr = train(quadratic, VGD(sigma, n_samples=ns), lr=lr, n_steps=20, theta0=THETA0, seed=1, track_every=10)
    lam, vec = np.linalg.eigh(quadratic.hessian())
    for t, theta in enumerate(tr.theta):
        c = float(vec[:, -1] @ quadratic.gradient(theta)) ** 2
        assert tr.threshold[t] == pytest.approx(vgd_threshold(lr, sigma, c, ns), rel=1e-10)
    assert train(quadratic, VGD(0.0), lr=lr, n_steps=2, theta0=THETA0).threshold.tolist() == [2 / lr] * 3


def test_test_loss_is_the_held_out_loss(quadratic):
    x, y = np.random.default_rng(9).standard_normal((4, 5)), np.ones(4)
    tr = train(quadratic, GD(), lr=0.1, n_steps=10, theta0=THETA0, track_every=5, test_data=(x, y))
    held_out = LinearLeastSquares(x, y)
    assert tr.test_loss.tolist() == [held_out.loss(th) for th in tr.theta]


def test_gtracer_lowers_the_trace_ratio_it_penalises(network):
    # G-TRACER descends (to first order) on L + rho Tr(G^{-1} H): from the same start it must end with a
    # smaller Tr(G^{-1} H) than GD, which does not see that term
    kw = dict(lr=0.3, n_steps=300, theta0=network.initial(0), track_every=300, track=("trace_ratio",))
    gd, gt = train(network, GD(), **kw), train(network, GTracer(1e-3), **kw)
    assert gt.trace_ratio[-1] < 0.5 * gd.trace_ratio[-1]


def test_gtracer_exact_term_is_the_gradient_of_the_weighted_trace(network):
    # sum_i w_i grad H_ii against a central difference of f(theta) = sum_i w_i H_ii(theta) (dense Hessians)
    # along random directions; the step 1e-4 leaves an O(1e-8) relative truncation error
    rng = np.random.default_rng(4)
    theta = network.initial(2)
    w = 1.0 / (training._fisher_diagonal(network, theta) + 1e-3)
    grad_f = training._third_diagonal(network, theta, w)

    def f(th):
        return float(w @ np.diag(network.hessian(th)))

    for _ in range(3):
        d = rng.standard_normal(theta.size)
        eps = 1e-4
        fd = (f(theta + eps * d) - f(theta - eps * d)) / (2 * eps)
        assert float(d @ grad_f) == pytest.approx(fd, rel=1e-6)


def test_gtracer_exact_lowers_the_trace_ratio_it_penalises(network):
    kw = dict(lr=0.3, n_steps=300, theta0=network.initial(0), track_every=300, track=("trace_ratio",))
    gd, gt = train(network, GD(), **kw), train(network, GTracer(1e-3, estimator="exact"), **kw)
    assert gt.trace_ratio[-1] < 0.5 * gd.trace_ratio[-1]


# ---------------------------------------------------------------- edge of stability on L = 1/2 (uv - 1)^2

def gradient_flow_sharpness(u, v):
    """Sharpness u^2 + v^2 of the minimum gradient flow reaches: u^2 - v^2 is conserved and uv = 1 there."""
    d = u * u - v * v
    return float(np.sqrt(d * d + 4.0))


def test_scalar_product_small_lr_converges_below_the_edge():
    # Sharpness at the start (u^2 + v^2 = 2.34) is below 2/lr = 4. On the minimum manifold uv = 1 the Hessian
    # is (v, u)^T (v, u), eigenvalues 0 and u^2 + v^2; GD can converge to a minimum only if it is linearly
    # stable there, |1 - lr (u^2 + v^2)| <= 1, i.e. u^2 + v^2 <= 2/lr. Margin: 1e-9 (rounding).
    lr, theta0 = 0.5, np.array([1.5, 0.3])
    tr = train(ScalarProduct(), GD(), lr=lr, n_steps=400, theta0=theta0, track_every=400)
    u, v = tr.final_theta
    assert tr.loss[-1] < 1e-20 and abs(u * v - 1) < 1e-10
    assert tr.sharpness[-1] == pytest.approx(u * u + v * v, rel=1e-12)
    assert u * u + v * v <= 2 / lr + 1e-9
    # small steps stay close to the gradient-flow solution (2.94): well below the edge, nothing to correct
    assert u * u + v * v == pytest.approx(gradient_flow_sharpness(*theta0), abs=0.2)


@pytest.mark.parametrize("lr, theta0", [(0.4, (2.5, 0.2)), (0.3, (3.0, 0.05))])
def test_scalar_product_large_lr_catapults_to_a_flatter_minimum(lr, theta0):
    # The start is sharper than 2/lr (6.29 > 5, 9.0 > 6.67), and so is the minimum gradient flow would reach
    # (6.52, 9.0): GD cannot converge there (linearly unstable). It oscillates across the valley, the
    # oscillation drives u^2 - v^2 down (Kreisler et al. 2023: GD decreases the sharpness of the
    # gradient-flow solution), and it settles on the manifold where u^2 + v^2 <= 2/lr (margin 1e-9).
    theta0 = np.array(theta0)
    tr = train(ScalarProduct(), GD(), lr=lr, n_steps=2000, theta0=theta0, track_every=2000)
    u, v = tr.final_theta
    assert theta0 @ theta0 > 2 / lr and gradient_flow_sharpness(*theta0) > 2 / lr
    assert not tr.diverged and tr.loss[-1] < 1e-20 and abs(u * v - 1) < 1e-10
    assert u * u + v * v <= 2 / lr + 1e-9
    assert tr.sharpness[-1] < gradient_flow_sharpness(*theta0)


def test_divergence_is_reported():
    # far too large a step: |1 - lr s| > 1 everywhere the iterates go, and they blow up
    tr = train(ScalarProduct(), GD(), lr=0.5, n_steps=200, theta0=np.array([3.0, 0.05]), track=())
    assert tr.diverged and np.isnan(tr.loss[tr.diverged_at:]).all()


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("make, name", [
    (lambda: VGD(-0.1), "sigma"),
    (lambda: VGD(0.1, dof=2), "dof"),
    (lambda: VGD(0.1, n_samples=0), "n_samples"),
    (lambda: SAM(-0.01), "rho"),
    (lambda: GTracer(-1.0), "rho"),
    (lambda: GTracer(0.1, beta=0.0), "beta"),
    (lambda: GTracer(0.1, damping=0.0), "damping"),
    (lambda: GTracer(0.1, estimator="sam"), "estimator"),
    (lambda: IVON(beta1=1.0), "beta1"),
    (lambda: IVON(ess=-1.0), "ess"),
    (lambda: IVON(h0=0.0), "h0"),
    (lambda: SGD(0), "batch_size"),
])
def test_optimizer_hyperparameters_are_validated(make, name):
    with pytest.raises(DomainError, match=name):
        make()


@pytest.mark.parametrize("kw, name", [
    (dict(lr=0.0), "lr"),
    (dict(lr=-1.0), "lr"),
    (dict(n_steps=-1), "n_steps"),
    (dict(top_k=0), "top_k"),
    (dict(theta0=np.zeros(4)), "theta"),
    (dict(track=("sharpnes",)), "track"),
    (dict(track=("effective_number",)), "alpha"),
])
def test_train_arguments_are_validated(quadratic, kw, name):
    args = dict(lr=0.1, n_steps=2, theta0=THETA0) | kw
    with pytest.raises(DomainError, match=name):
        train(quadratic, GD(), **args)


def test_batch_larger_than_the_data_set(quadratic):
    with pytest.raises(DomainError, match="batch_size"):
        train(quadratic, SGD(13), lr=0.1, n_steps=1, theta0=THETA0)
    train(quadratic, SGD(13, replace=True), lr=0.1, n_steps=1, theta0=THETA0)  # fine with replacement
    with pytest.raises(TypeError, match="optimizer"):
        train(quadratic, "gd", lr=0.1, n_steps=1)


# ---------------------------------------------------------------- flatness_comparison

def test_flatness_comparison_reports_each_optimizers_final_point(network):
    # every row starts from the same point with the same seed: VGD(0) is GD to the bit; each row's values are
    # the final tracked quantities of train() with that seed, and mean/stderr are across the seeds
    opts = {"GD": GD(), "SAM": SAM(0.05), "VGD(0)": VGD(0.0)}
    x_test, y_test = synthetic_regression(10, 3, 1, n_hidden=3, noise=0.1, seed=2)
    kw = dict(lr=0.3, n_steps=40, alpha=0.1, test_data=(x_test, 3 * y_test))
    rows = training.flatness_comparison(network, opts, seeds=2, seed=7, **kw)
    assert [r.name for r in rows] == list(opts) and all(r.diverged == 0 for r in rows)
    gd, sam, vgd0 = rows
    assert set(gd.values) == set(training.FLATNESS_MEASURES) - {"test_metric"}  # no test_metric given
    for m in gd.values:
        np.testing.assert_array_equal(vgd0.values[m], gd.values[m])
        assert gd.mean[m] == pytest.approx(np.mean(gd.values[m]), rel=1e-12)
        assert gd.stderr[m] == pytest.approx(np.std(gd.values[m], ddof=1) / np.sqrt(2), rel=1e-12, abs=1e-15)
    assert not np.array_equal(sam.values["sharpness"], gd.values["sharpness"])
    s1 = derive(7, "training.flatness", 1)
    tr = train(network, SAM(0.05), seed=s1, level=1 / 0.3, **kw)
    assert sam.trajectories[1].theta[0].tolist() == network.initial(s1).tolist()
    assert sam.values["sharpness"][1] == tr.sharpness[-1] and sam.values["trace_ratio"][1] == tr.trace_ratio[-1]
    assert sam.values["count_above"][1] == tr.count_above[-1] and sam.values["train_loss"][1] == tr.loss[-1]
    assert sam.values["test_loss"][1] == tr.test_loss[-1]
    assert sam.values["effective_number"][1] == tr.effective_number[-1] and sam.level == pytest.approx(1 / 0.3)
    # one seed: a value without a standard error; a shared start; no alpha: no N_eff
    one = training.flatness_comparison(network, {"GD": GD()}, lr=0.3, n_steps=5, theta0=network.initial(1))[0]
    assert np.isnan(one.stderr["sharpness"]) and "effective_number" not in one.values
    assert one.trajectories[0].theta[0].tolist() == network.initial(1).tolist()
    with pytest.raises(DomainError, match="optimizers"):
        training.flatness_comparison(network, {}, lr=0.3, n_steps=5)


# ---------------------------------------------------------------- models with only the minimal protocol

class MinimalView:
    """A user-written model class (no base class) with only loss, gradient, hvp, n_params, n_data:
    here a view of a full model, so that the results can be compared with the full model's."""

    def __init__(self, model, *extra):
        self._m = model
        self.n_params, self.n_data = model.n_params, model.n_data
        for name in extra:  # optional methods passed through on request
            setattr(self, name, getattr(model, name))

    def loss(self, theta, batch=None):
        return self._m.loss(theta, batch)

    def gradient(self, theta, batch=None):
        return self._m.gradient(theta, batch)

    def hvp(self, theta, vec, batch=None):
        return self._m.hvp(theta, vec, batch)


def test_a_minimal_model_trains_with_default_tracking(network):
    # the same updates as the full model, to the bit; the spectrum from the Hessian assembled from hvp columns;
    # Tr(G^-1 H) skipped (no Fisher) with a warning; the start is zeros without initial()
    theta0 = network.initial(0)
    with pytest.warns(TheoryWarning, match="trace_ratio"):
        tr = train(MinimalView(network), GD(), lr=0.1, n_steps=20, theta0=theta0, track_every=10)
    full = train(network, GD(), lr=0.1, n_steps=20, theta0=theta0, track_every=10)
    np.testing.assert_array_equal(tr.theta, full.theta)
    np.testing.assert_array_equal(tr.loss, full.loss)
    np.testing.assert_allclose(tr.sharpness, full.sharpness, rtol=1e-12)
    np.testing.assert_array_equal(tr.count_above, full.count_above)
    assert tr.trace_ratio is None and full.trace_ratio is not None
    with pytest.warns(TheoryWarning):
        start = train(MinimalView(network), SGD(4), lr=0.1, n_steps=3, seed=1)
    assert np.array_equal(start.theta[0], np.zeros(network.n_params)) and start.loss.shape == (4,)


def test_a_model_with_per_sample_gradients_tracks_the_trace_ratio_from_them(network):
    theta0 = network.initial(1)
    kw = dict(lr=0.1, n_steps=10, theta0=theta0, track_every=5, track=("trace_ratio",))
    tr = train(MinimalView(network, "per_sample_gradients"), GD(), **kw)
    np.testing.assert_allclose(tr.trace_ratio, train(network, GD(), **kw).trace_ratio, rtol=1e-10)


def test_optional_methods_a_minimal_model_lacks_are_named(network):
    plain = MinimalView(network)
    kw = dict(lr=0.1, n_steps=2, theta0=network.initial(0))
    with pytest.raises(TypeError, match="fisher_diagonal.*per_sample_gradients.*trace_ratio"):
        train(plain, GD(), track=("trace_ratio",), **kw)
    with pytest.raises(TypeError, match="fisher_diagonal.*GTracer"):
        train(plain, GTracer(1e-3), track=(), **kw)
    with pytest.raises(TypeError, match="with_data.*test_data"):
        train(plain, GD(), track=(), test_data=(network.x, network.y), **kw)
    with pytest.raises(TypeError, match="no gradient, hvp"):
        train(type("LossOnly", (), {"loss": None, "n_params": 2})(), GD(), lr=0.1, n_steps=1)
    with pytest.warns(TheoryWarning, match="trace_ratio"):
        rows = training.flatness_comparison(plain, {"GD": GD(), "SAM": SAM(0.05)}, lr=0.1, n_steps=5,
                                            theta0=network.initial(0))
    assert "trace_ratio" not in rows[0].values and "sharpness" in rows[1].values


# ---------------------------------------------------------------- refusals named at the call

class _NaNCurvature:
    """A minimal model whose loss and gradient are fine but whose Hessian-vector product is NaN."""

    def __init__(self, p):
        self.n_params, self.n_data = p, 1

    def loss(self, theta, batch=None):
        return 0.5 * float(np.dot(theta, theta))

    def gradient(self, theta, batch=None):
        return np.asarray(theta, dtype=float)

    def hvp(self, theta, vec, batch=None):
        return np.full(self.n_params, np.nan)


@pytest.mark.parametrize("p", [5, 601])  # dense eigh, and ARPACK (Lanczos) above 600 parameters
def test_a_non_finite_hvp_is_refused_naming_the_model_method(p, capfd):
    with pytest.raises(DomainError, match=r"_NaNCurvature\.hvp is not finite at theta"):
        train(_NaNCurvature(p), GD(), lr=0.1, n_steps=1, track=("sharpness",))
    assert "LAPACK" not in capfd.readouterr().err  # no solver noise on stderr


@pytest.mark.parametrize("top_k", [17, 21, 1000])
def test_top_k_above_the_number_of_parameters_is_refused(top_k):
    x, y = synthetic_regression(20, 3, seed=0)
    model = TwoLayerNetwork(x, y, 4)  # P = 16; NaN-padded rows before
    with pytest.raises(DomainError, match=r"^top_k must be an integer in \[1, 16\].*n_params = 16"):
        train(model, GD(), lr=0.1, n_steps=2, top_k=top_k)
    assert train(model, GD(), lr=0.1, n_steps=2, top_k=16).top_eigenvalues.shape == (3, 16)


@pytest.mark.parametrize("make, name", [
    (lambda: SAM(0.1, normalized="yes"), "normalized"),
    (lambda: SAM(0.1, normalized=1), "normalized"),
    (lambda: GD(replace="x"), "replace"),
    (lambda: SGD(4, replace=1), "replace"),
    (lambda: VGD(0.1, replace="no"), "replace"),
    (lambda: IVON(rescale_lr="true"), "rescale_lr"),
    (lambda: GTracer(0.1, replace=None), "replace"),
])
def test_flags_accept_only_true_or_false(make, name):
    with pytest.raises(TypeError, match=rf"^{name} must be True or False"):
        make()


def test_a_model_that_is_not_a_model_is_a_named_type_error(quadratic):
    with pytest.raises(TypeError, match=r"^model must provide loss, gradient.*MinimalLossModel.*NoneType"):
        train(None, GD(), lr=0.1, n_steps=2)
    with pytest.raises(TypeError, match="^progress must be True or False"):
        train(quadratic, GD(), lr=0.1, n_steps=2, theta0=THETA0, progress="yes")


def test_track_must_hold_names(quadratic):
    for bad in ([1.0, "a"], "sharpness"):
        with pytest.raises(TypeError, match="^track must be a sequence of names"):
            train(quadratic, GD(), lr=0.1, n_steps=2, theta0=THETA0, track=bad)
    with pytest.raises(DomainError, match="^theta0 must have shape"):
        train(quadratic, GD(), lr=0.1, n_steps=2, theta0=np.zeros(0))


class _Counting:
    """LinearLeastSquares with value_and_gradient, counting the passes of each kind."""

    def __init__(self, fused):
        from theory.hessian_models import LinearLeastSquares
        rng = np.random.default_rng(4)
        self.inner = LinearLeastSquares(rng.normal(size=(30, 4)), rng.normal(size=30))
        self.n_params, self.n_data, self.calls = 4, 30, {"loss": 0, "gradient": 0, "both": 0}
        if fused:
            self.value_and_gradient = self._both

    def loss(self, theta, batch=None):
        self.calls["loss"] += 1
        return self.inner.loss(theta, batch)

    def gradient(self, theta, batch=None):
        self.calls["gradient"] += 1
        return self.inner.gradient(theta, batch)

    def hvp(self, theta, vec, batch=None):
        return self.inner.hvp(theta, vec, batch)

    def _both(self, theta, batch=None):
        self.calls["both"] += 1
        return self.inner.loss(theta, batch), self.inner.gradient(theta, batch)


@pytest.mark.parametrize("opt", [GD(), SAM(0.1), VGD(0.0), SGD(5), VGD(0.1)])
def test_a_full_batch_step_shares_the_loss_pass_where_the_model_offers_one(opt):
    plain, fused = _Counting(False), _Counting(True)
    a = train(plain, opt, lr=0.1, n_steps=12, seed=3, track=("sharpness",))
    b = train(fused, opt, lr=0.1, n_steps=12, seed=3, track=("sharpness",))
    np.testing.assert_array_equal(a.loss, b.loss)
    np.testing.assert_array_equal(a.final_theta, b.final_theta)
    shares = isinstance(opt, GD | SAM) and not isinstance(opt, SGD) or (isinstance(opt, VGD) and opt.sigma == 0)
    # one pass per step for the gradient at theta when shared; the loss of the last step alone
    assert fused.calls["both"] == (12 if shares else 0)
    assert fused.calls["gradient"] == plain.calls["gradient"] - (12 if shares else 0)
