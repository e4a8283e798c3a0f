"""The JAX adapter: what a user's model costs through the package, against JAX alone.

The model is a user's network written in JAX, the 64-32-10 tanh MLP with
squared error on 1,000 of scikit-learn's digits (P = 2,410), written here as a
user would, not taken from the package. Rows, each a ratio in one run:

- a Hessian-vector product (forward-over-reverse) against a gradient, both
  through the adapter (the goal: at most 3x);
- the adapter's gradient against the same jitted ``jax.grad`` called
  directly (the price of NumPy in and out, and of validation);
- ``train(GD)`` against a hand-written loop of a jitted GD step that also
  records the loss every step (``jax.value_and_grad``), with no other tracking
  on either side (the goal: at most 1.3x);
- the HVPs per tracked step of the top eigenvalue along a GD trajectory:
  Lanczos warm-started from the previous tracked step (what ``train`` does),
  Lanczos from a random start, and power iteration (PyHessian's method) from
  the previous eigenvector, each to the same accuracy (Lanczos to a relative
  residual of 1e-10, about 1e-15 in the eigenvalue; power iteration until its
  eigenvalue is as close to Lanczos's as 1e-10 relative).

    python benchmarks/bench_jax.py [--quick]
"""

from __future__ import annotations

import sys
import time

import numpy as np
from _timing import best_time


def _digits_problem(n_data=1000, hidden=32):
    import jax
    import jax.numpy as jnp
    from sklearn.datasets import load_digits

    jax.config.update("jax_enable_x64", True)
    digits = load_digits()
    x = digits.data[:n_data] / 16.0
    y = np.eye(10)[digits.target[:n_data]]

    def loss(p, batch):
        xb, yb = batch
        out = jnp.tanh(xb @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"]
        return 0.5 * jnp.mean(jnp.sum((out - yb) ** 2, axis=1))

    k1, k2 = jax.random.split(jax.random.key(0))
    params = {"w1": jax.random.normal(k1, (64, hidden)) / 8.0, "b1": jnp.zeros(hidden),
              "w2": jax.random.normal(k2, (hidden, 10)) / np.sqrt(hidden), "b2": jnp.zeros(10)}
    return loss, params, (jnp.asarray(x), jnp.asarray(y))


def _hand_loop(loss, params, lr):
    """The baseline: ``run(data, n_steps)``, a jitted GD step on the flat vector in a Python loop, recording the
    loss each step (compiled once, on the first call).

    The flat form (``ravel_pytree`` outside, ``unravel`` inside the step) ran
    faster here than the same step on the pytree, so it is the baseline.
    """
    import jax
    import jax.flatten_util

    flat0, unravel = jax.flatten_util.ravel_pytree(params)

    @jax.jit
    def step(theta, batch):  # the data as an argument, not a closure constant
        value, g = jax.value_and_grad(lambda t: loss(unravel(t), batch))(theta)
        return theta - lr * g, value

    def run(data, n_steps):
        flat, losses = flat0, []
        for _ in range(n_steps):
            flat, value = step(flat, data)
            losses.append(value)
        return jax.block_until_ready(flat), float(losses[-1])

    return run


def rows(quick: bool):
    try:
        import jax
        from theory.hessian_models import from_jax
        from theory.simulators import GD, train
    except ImportError:
        return [("JAX adapter", "not installed", "-", "-", "pip install 'theory[jax]'")]
    loss, params, data = _digits_problem()
    model = from_jax(loss, params, data)
    theta = model.start
    vec = np.random.default_rng(0).normal(size=model.n_params)
    reps = 20 if quick else 100
    t_grad = best_time(lambda: [model.gradient(theta) for _ in range(reps)]) / reps
    t_hvp = best_time(lambda: [model.hvp(theta, vec) for _ in range(reps)]) / reps
    raw = jax.jit(jax.grad(loss))
    jax.block_until_ready(raw(params, data))
    t_raw = best_time(lambda: [jax.block_until_ready(raw(params, data)) for _ in range(reps)]) / reps
    n_steps, lr = (200, 0.05) if quick else (1000, 0.05)
    loop = _hand_loop(loss, params, lr)
    loop(data, 5)  # compile outside the timing
    train(model, GD(), lr=lr, n_steps=5, track=(), track_every=10**9)
    start = time.perf_counter()
    loop(data, n_steps)
    t_loop = time.perf_counter() - start
    start = time.perf_counter()
    train(model, GD(), lr=lr, n_steps=n_steps, track=(), track_every=10**9)
    t_train = time.perf_counter() - start
    setting = f"digits 64-32-10 tanh MLP, MSE, N=1000, P={model.n_params}"
    return _rows_timing(t_hvp, t_grad, t_raw, t_train, t_loop, n_steps, setting) + _rows_tracking(model, quick, setting)


def _rows_tracking(model, quick, setting):
    from theory.curvature import power_iteration, top_eigenpairs
    from theory.simulators import GD, train

    n_steps, every = (200, 40) if quick else (1000, 50)
    run = train(model, GD(), lr=0.085, n_steps=n_steps, theta0=model.start, track_every=every, track=("sharpness",))
    cold, power, prev = [], [], None
    for theta, lam in zip(run.theta, run.sharpness):
        op = model.hvp_operator(theta)
        cold.append(top_eigenpairs(op, n=model.n_params, tol=1e-10, seed=1).n_hvps)
        # power iteration from the previous eigenvector, run until it is as accurate as Lanczos
        res = power_iteration(op, n=model.n_params, tol=1e-13, max_hvps=5000, start=prev)
        power.append(res.n_hvps if abs(res.values[0] - lam) <= 1e-10 * lam else np.nan)
        prev = top_eigenpairs(op, n=model.n_params, tol=1e-10, seed=1).vectors
    warm = np.asarray(run.lanczos_hvps[1:], dtype=float)
    return [(f"top eigenvalue along GD (lr=0.085, {len(warm)} tracked steps), {setting}",
             f"warm Lanczos {np.mean(warm):.1f} HVPs/step", f"cold Lanczos {np.mean(cold[1:]):.1f}",
             f"{np.mean(cold[1:]) / np.mean(warm):.2f}x fewer",
             f"power iteration from the previous vector {np.nanmean(power[1:]):.1f} HVPs/step "
             f"({np.nanmean(power[1:]) / np.mean(warm):.2f}x warm Lanczos) to the same eigenvalue")]


def _rows_timing(t_hvp, t_grad, t_raw, t_train, t_loop, n_steps, setting):
    return [
        (f"JAX adapter hvp vs gradient, {setting}", f"{t_hvp * 1e3:.3g} ms/HVP", f"gradient {t_grad * 1e3:.3g} ms",
         f"{t_hvp / t_grad:.2f}x", "forward-over-reverse (jax.jvp of jax.grad); goal <= 3x"),
        (f"JAX adapter gradient vs jitted jax.grad, {setting}", f"{t_grad * 1e3:.3g} ms", f"{t_raw * 1e3:.3g} ms",
         f"{t_grad / t_raw:.2f}x", "NumPy in and out, validation of theta"),
        (f"train(GD) on the adapter vs a hand-written jitted JAX loop, {n_steps} steps, {setting}",
         f"{t_train / n_steps * 1e3:.3g} ms/step", f"{t_loop / n_steps * 1e3:.3g} ms/step", f"{t_train / t_loop:.2f}x",
         "loss recorded every step on both sides, no other tracking; goal <= 1.3x"),
    ]


if __name__ == "__main__":
    for row in rows("--quick" in sys.argv):
        print(" | ".join(str(c) for c in row))
