"""Curvature from Hessian-vector products: theory.curvature's Lanczos (cold and warm) against power iteration.

    python benchmarks/bench_curvature.py            # n = 2000, 20 tracked matrices
    python benchmarks/bench_curvature.py --quick    # n = 800, 8 tracked matrices

The operator has the shape of a trained network's Hessian: a Marchenko-Pastur
bulk :math:`X^\\top X/N` (``P = n``, ``N = 2n``, unit variance, edges
:math:`(1 \\pm 1/\\sqrt 2)^2`) plus 10 outliers :math:`\\sum_i s_i u_i u_i^\\top`
with :math:`s_i` geometric from 5 to 60 along random orthonormal :math:`u_i`.
Cost is counted in HVPs (one ``H @ v`` each) and seconds.

(a) One matrix: cold Lanczos (``top_eigenpairs``, ``tol=1e-8``) for ``k = 1``
and ``k = 10``, and PyHessian's power iteration for the top eigenvalue, at
equal accuracy: its tolerance is lowered (1e-4, 1e-5, ...) until its
eigenvalue error against ``numpy.linalg.eigvalsh`` is no larger than
Lanczos's (or 1e-12 relative).
(b) Tracking: 20 matrices :math:`H_{t+1} = H_t + \\delta E_t` (:math:`E_t`
symmetric Gaussian with unit spectral radius scale, :math:`\\delta = 10^{-3}`
of :math:`\\lambda_{\\max}`); cold Lanczos, warm Lanczos (``start=`` the previous
result) and warm power iteration (from the previous vector); total HVPs and
seconds over the sequence, worst eigenvalue error.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from theory.curvature import power_iteration, top_eigenpairs

TOL = 1e-8


def network_like(n: int, seed: int = 0) -> np.ndarray:
    """Marchenko-Pastur bulk (ratio 1/2) plus 10 outliers from 5 to 60."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2 * n, n))
    h = x.T @ x / (2 * n)
    u, _ = np.linalg.qr(rng.standard_normal((n, 10)))
    s = np.geomspace(5.0, 60.0, 10)
    h += (u * s) @ u.T
    return 0.5 * (h + h.T)


def _perturbation(n: int, rng) -> np.ndarray:
    e = rng.standard_normal((n, n))
    return (e + e.T) / (2 * np.sqrt(2 * n))  # spectral radius about 1


def _timed(func):
    t = time.perf_counter()
    out = func()
    return time.perf_counter() - t, out


def _power_equal_accuracy(h, target, exact, start=None):
    """Power iteration with the largest tolerance (from 1e-4 down) whose eigenvalue error <= target."""
    for tol in 10.0 ** -np.arange(4, 16):
        t, r = _timed(lambda: power_iteration(h, tol=tol, max_hvps=20000, start=start))
        err = abs(r.values[0] - exact) / exact
        if err <= target:
            return t, r, err, tol
    return t, r, err, tol


def _single(h, exact):
    rows = []
    for k in (1, 10):
        t, r = _timed(lambda: top_eigenpairs(h, k, tol=TOL))
        err = float(np.max(np.abs(r.values - exact[:k]) / exact[0]))
        rows.append((f"cold Lanczos, k={k}", r.n_hvps, t, err, bool(r.converged)))
        if k == 1:
            lanczos_err = err
    t, r, err, tol = _power_equal_accuracy(h, max(lanczos_err, 1e-12), exact[0])
    rows.append((f"power iteration (tol {tol:.0e}), k=1", r.n_hvps, t, err, bool(r.converged)))
    return rows


def _tracking(h0, steps: int, k: int, rng):
    n = h0.shape[0]
    h, mats = h0, []
    delta = 1e-3 * np.linalg.eigvalsh(h0)[-1]
    for _ in range(steps):
        mats.append(h)
        h = h + delta * _perturbation(n, rng)
    exact = [np.linalg.eigvalsh(m)[::-1][:k] for m in mats]
    out = []
    totals = {"cold": [0, 0.0, 0.0], "warm": [0, 0.0, 0.0]}
    prev = None
    for m, ex in zip(mats, exact):
        for name, start in (("cold", None), ("warm", prev)):
            t, r = _timed(lambda: top_eigenpairs(m, k, tol=TOL, start=start))
            tot = totals[name]
            tot[0] += r.n_hvps
            tot[1] += t
            tot[2] = max(tot[2], float(np.max(np.abs(r.values - ex) / ex[0])))
            if name == "warm":
                prev = r
    for name, (hv, t, err) in totals.items():
        out.append((f"{name} Lanczos, k={k}, {steps} matrices", hv, t, err, True))
    if k == 1:
        hv, t_all, err_all, prev = 0, 0.0, 0.0, None
        for m, ex in zip(mats, exact):
            t, r, err, _ = _power_equal_accuracy(m, max(totals["warm"][2], 1e-12), ex[0], start=prev)
            hv, t_all, err_all, prev = hv + r.n_hvps, t_all + t, max(err_all, err), r
        out.append((f"warm power iteration, k=1, {steps} matrices", hv, t_all, err_all, True))
    return out


def rows(quick: bool):
    """Benchmark rows: (case, HVPs, seconds, ratio of HVPs to the first row of its group, notes)."""
    n, steps = (800, 8) if quick else (2000, 20)
    h = network_like(n)
    exact = np.linalg.eigvalsh(h)[::-1]
    rng = np.random.default_rng(1)
    groups = [("(a) one matrix", _single(h, exact))]
    for k in (1, 10):
        groups.append((f"(b) tracking, k={k}", _tracking(h, steps, k, rng)))
    out = []
    for title, group in groups:
        base = group[0][1]
        for name, hv, t, err, conv in group:
            out.append((f"{title}: {name}, n={n}", f"{hv} HVPs", f"{t:.3f} s", f"{hv / base:.2f}x HVPs",
                        f"max rel. eigenvalue error {err:.1e}" + ("" if conv else " (not converged)")))
    return out


if __name__ == "__main__":
    for row in rows(quick="--quick" in sys.argv[1:]):
        print(" | ".join(str(c) for c in row))
