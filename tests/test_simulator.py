"""theory.simulators.quadratic: statistics against the closed forms, reproducibility, backends.

Statistical tests compare a simulation with a formula through the simulation's
own standard error. Each test uses a fixed seed and a stated false-alarm rate
(ALPHA per test, Bonferroni over its comparisons): with the formula right, it
fails by chance with probability at most ALPHA.
"""

from __future__ import annotations


import numpy as np

from theory.sweep import process_pool
import pytest

from theory import DomainError
from theory.backend import Backend, available_backends
from theory.quadratic import expected_loss, expected_loss_change
from theory.simulators import simulate_vgd
from theory.stats import z_critical

ALPHA = 1e-6


def assert_consistent(estimate, formula):
    z = np.atleast_1d(estimate.z(formula))
    crit = z_critical(ALPHA, z.size)
    assert np.all(np.abs(z) <= crit), (z, crit)


LAM = np.array([0.5, 5.0, 12.0, 19.0])
G = np.array([0.3, 1.0, -0.4, 0.2])


@pytest.mark.parametrize("sigma, ns, dof", [(0.05, 4, np.inf), (0.1, 1, np.inf), (0.05, 3, 12.0), (0.0, 1, np.inf)])
def test_one_step_change_matches_formula(sigma, ns, dof):
    run = simulate_vgd(LAM, G / LAM, lr=0.1, sigma=sigma, n_samples=ns, dof=dof, n_runs=40_000, seed=11)
    f = expected_loss_change(LAM, G, 0.1, sigma, ns, dof=dof)
    if sigma == 0:  # GD from a fixed start is deterministic: exact up to rounding
        assert np.allclose(run.change_by_direction.value[1], f, rtol=1e-13, atol=1e-16)
        assert np.all(run.change_by_direction.stderr[1] <= 1e-15 * np.abs(f))  # rounding only
    else:
        assert_consistent(run.change_by_direction[1], f)


def test_many_steps_match_expected_loss_with_random_starts():
    run = simulate_vgd(np.array([1.0, 8.0, 15.0]), np.array([1.0, 0.5, 0.2]), lr=0.1, sigma=0.2, n_samples=2,
                       n_steps=30, init_std=0.3, n_runs=20_000, seed=3)
    steps = np.array([1, 3, 10, 30])
    f = expected_loss([1.0, 8.0, 15.0], [1.0, 0.5, 0.2], 0.1, steps[:, None], 0.2, 2, init_var=0.09)
    assert_consistent(run.loss_by_direction[steps], f)
    assert_consistent(run.loss[steps], f.sum(axis=1))


def test_full_hessian_is_simulated_in_its_own_basis():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4, 4))
    q = a @ a.T / 4 + np.eye(4)
    m = rng.normal(size=4)
    run = simulate_vgd(q, m, lr=0.1, sigma=0.2, n_samples=2, n_steps=3, n_runs=30_000, seed=8)
    w, vecs = np.linalg.eigh(q)
    f = expected_loss(w, vecs.T @ m, 0.1, np.arange(4)[:, None], 0.2, 2)
    assert_consistent(run.loss_by_direction[1:], f[1:])
    assert np.allclose(run.eigvals, w)


def test_the_z_scores_are_standard_normal():
    """The standard error is honest: z over independent seeds has mean 0 and variance 1.

    With 200 seeds, |mean z| <= 5/sqrt(200) and |var z - 1| <= 5 * sqrt(2/199)
    fail by chance with probability below 1e-6 each.
    """
    f = expected_loss_change(LAM[1], G[1], 0.1, 0.05, 4)
    zs = np.array([
        float(simulate_vgd(LAM[1:2], G[1:2] / LAM[1:2], lr=0.1, sigma=0.05, n_samples=4, n_runs=2_000,
                           seed=s).change_by_direction[1, 0].z(f))
        for s in range(200)
    ])
    assert abs(zs.mean()) <= 5 / np.sqrt(200)
    assert abs(zs.var(ddof=1) - 1) <= 5 * np.sqrt(2 / 199)


def test_wrong_formula_is_detected():
    # dropping the 1/N_s of the noise term is a 4x error in it: far outside the error bars
    run = simulate_vgd(LAM, G / LAM, lr=0.1, sigma=0.05, n_samples=4, n_runs=40_000, seed=11)
    wrong = expected_loss_change(LAM, G, 0.1, 0.05, 1)
    z = run.change_by_direction[1].z(wrong)
    assert np.max(np.abs(z)) > z_critical(ALPHA, 4)


# ------------------------------------------------------------ reproducibility

KW = dict(lr=0.1, sigma=0.05, n_samples=3, dof=7.0, n_steps=4, n_runs=5_000, init_std=0.1, seed=42)


def _same(a, b):
    for name in ("loss", "loss_by_direction", "change_by_direction"):
        ea, eb = getattr(a, name), getattr(b, name)
        assert np.array_equal(ea.value, eb.value) and np.array_equal(ea.stderr, eb.stderr)


def test_same_seed_same_numbers_whatever_the_chunking():
    base = simulate_vgd(LAM, G / LAM, **KW)
    for chunk in (1, 1024, 3000, 10**6):
        _same(base, simulate_vgd(LAM, G / LAM, chunk_runs=chunk, **KW))


def test_same_numbers_with_worker_processes():
    base = simulate_vgd(LAM, G / LAM, **KW)
    with process_pool(2) as ex:
        _same(base, simulate_vgd(LAM, G / LAM, chunk_runs=1024, executor=ex, **KW))


def test_default_seed_is_zero():
    kw = {k: v for k, v in KW.items() if k != "seed"}
    _same(simulate_vgd(LAM, G / LAM, **kw), simulate_vgd(LAM, G / LAM, **kw, seed=0))


def test_different_seeds_differ_and_entropy_reproduces():
    a = simulate_vgd(LAM, G / LAM, **{**KW, "seed": None})
    b = simulate_vgd(LAM, G / LAM, **{**KW, "seed": a.entropy})
    _same(a, b)
    c = simulate_vgd(LAM, G / LAM, **{**KW, "seed": 43})
    assert not np.array_equal(a.loss.value, c.loss.value)


class _SmallBlocks(Backend):
    """A backend with another generator and block size: the simulator must use the backend's."""

    name = "philox-small-blocks"
    block_size = 100

    def generator(self, seed_seq):
        return np.random.Generator(np.random.Philox(seed_seq))


def test_simulator_uses_the_backend_it_is_given():
    be = _SmallBlocks()
    run = simulate_vgd(LAM, G / LAM, lr=0.1, sigma=0.05, n_samples=4, n_runs=30_000, seed=5, backend=be)
    assert run.backend == be.name
    assert_consistent(run.change_by_direction[1], expected_loss_change(LAM, G, 0.1, 0.05, 4))
    other = simulate_vgd(LAM, G / LAM, lr=0.1, sigma=0.05, n_samples=4, n_runs=30_000, seed=5)
    assert not np.array_equal(run.loss.value, other.loss.value)
    again = simulate_vgd(LAM, G / LAM, lr=0.1, sigma=0.05, n_samples=4, n_runs=30_000, seed=5, backend=be,
                         chunk_runs=700)
    _same(run, again)


@pytest.mark.gpu
@pytest.mark.skipif("cupy" not in available_backends(), reason="needs CuPy and a CUDA device")
def test_cupy_backend_matches_formula_and_is_chunk_invariant():
    import cupy as cp

    run = simulate_vgd(cp.asarray(LAM), cp.asarray(G / LAM), lr=0.1, sigma=0.05, n_samples=4, n_runs=200_000,
                       seed=1)
    assert run.backend == "cupy"
    assert_consistent(run.change_by_direction[1], expected_loss_change(LAM, G, 0.1, 0.05, 4))
    again = simulate_vgd(LAM, G / LAM, lr=0.1, sigma=0.05, n_samples=4, n_runs=200_000, seed=1, backend="cupy",
                         chunk_runs=1 << 16)
    _same(run, again)
    t = simulate_vgd(LAM, G / LAM, lr=0.1, sigma=0.05, n_samples=4, dof=10.0, n_runs=200_000, seed=2,
                     backend="cupy")
    assert_consistent(t.change_by_direction[1], expected_loss_change(LAM, G, 0.1, 0.05, 4, dof=10.0))


# ------------------------------------------------------------ bad input

@pytest.mark.parametrize("kw, name", [
    (dict(lr=0.0), "lr"), (dict(sigma=-1.0), "sigma"), (dict(n_samples=0), "n_samples"),
    (dict(dof=2.0), "dof"), (dict(n_runs=1), "n_runs"), (dict(n_steps=-1), "n_steps"),
    (dict(init_std=np.inf), "init_std"), (dict(sigma=np.inf), "sigma"),
])
def test_bad_input(kw, name):
    args = dict(lr=0.1, sigma=0.1, n_runs=10)
    args.update(kw)
    with pytest.raises(DomainError, match=rf"^{name} must be"):
        simulate_vgd(LAM, G / LAM, **args)


def test_bad_shapes():
    with pytest.raises(DomainError, match="mean0 must have shape"):
        simulate_vgd(LAM, np.ones(3), lr=0.1)
    with pytest.raises(DomainError, match="hessian must have shape"):
        simulate_vgd(np.ones((2, 3)), np.ones(2), lr=0.1)
    with pytest.raises(DomainError, match="hessian must be symmetric"):
        simulate_vgd(np.array([[1.0, 1.0], [0.0, 1.0]]), np.ones(2), lr=0.1)
    with pytest.raises(TypeError, match="n_samples must be an integer"):
        simulate_vgd(LAM, G / LAM, lr=0.1, n_samples=2.5)


@pytest.mark.parametrize("engine", ["numpy", "numba"])
def test_an_overflowing_run_reports_an_infinite_loss_not_nan(engine):
    """Issue 12: the loss turned from inf to NaN at step 90 (inf - inf inside the iterate)."""
    if engine == "numba":
        pytest.importorskip("numba")
    run = simulate_vgd([1, 3], [1, 1], lr=1e3, sigma=0.3, n_steps=200, n_runs=100, seed=0, engine=engine)
    for est in (run.loss, run.loss_by_direction, run.change_by_direction):
        assert not np.isnan(est.value).any() and not np.isnan(est.stderr).any()
        # once infinite, the mean stays infinite and its standard error says so
        assert np.isinf(est.stderr[np.isinf(est.value)]).all()
    assert np.isinf(run.loss.value[90:]).all() and (run.loss.value[90:] > 0).all()
    # the merge of blocks without overflow is unchanged: a stable run is bitwise as before the overflow handling
    stable = simulate_vgd([1, 3], [1, 1], lr=0.1, sigma=0.3, n_steps=5, n_runs=100, seed=0, engine=engine)
    assert np.isfinite(stable.loss.value).all()


def test_simulate_vgd_names_the_parameter_that_must_be_a_scalar():
    with pytest.raises(TypeError, match="^lr must be a scalar"):
        simulate_vgd([1.0, 3.0], [1.0, 1.0], lr=np.array([0.1, 0.2]))
    with pytest.raises(TypeError, match="^sigma must be a scalar"):
        simulate_vgd([1.0, 3.0], [1.0, 1.0], lr=0.1, sigma=np.array([0.1, 0.2]))
    with pytest.raises(TypeError, match="^lr must be a real number, not a bool"):
        simulate_vgd([1.0, 3.0], [1.0, 1.0], lr=True)
    with pytest.raises(DomainError, match="^hessian must not be empty"):
        simulate_vgd([], [], lr=0.1)
    with pytest.raises(DomainError, match="^engine must be"):
        simulate_vgd([1.0], [1.0], lr=0.1, engine=np.array(["numpy", "numba"]))
    with pytest.raises(DomainError, match="^n_samples must be at most"):
        simulate_vgd([1.0], [1.0], lr=0.1, sigma=1.0, n_samples=10**15)
    with pytest.raises(DomainError, match="^mean0 and init_std must keep the initial loss"):
        simulate_vgd([1.0], [1.0], lr=0.1, init_std=1e300)


def test_runs_overflowing_along_eigenvalues_of_both_signs_are_refused_by_name():
    """+inf plus -inf has no limit: a named refusal instead of a NaN total."""
    with pytest.raises(DomainError, match="^hessian has eigenvalues of both signs"):
        simulate_vgd([1.0, -3.0], [1.0, 1.0], lr=1e3, sigma=0.3, n_steps=200, n_runs=10, seed=0)


def test_simulate_vgd_refuses_an_executor_without_map():
    with pytest.raises(TypeError, match="^executor must be None or a concurrent.futures.Executor"):
        simulate_vgd([1.0], [1.0], lr=0.1, executor=object())
