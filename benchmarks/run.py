"""Benchmarks, reported as ratios measured in one run against baselines on the same machine.

    python benchmarks/run.py            # full sizes, writes docs/benchmarks_table.md
    python benchmarks/run.py --quick    # about a minute
    python benchmarks/run.py --no-write # print only

Baselines: the naive NumPy closed form (speed and accuracy of the formulas),
the backend's raw normal-number rate (a simulator cannot draw its noise faster
than that), a naive per-run Python loop, and peer libraries (the PyPI package
``kramers`` for exact first-passage times; ``pip install "theory[bench]"``).
Each theory's rows come from ``bench_<theory>.py`` beside this file.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
from pathlib import Path

import mpmath as mp
import numpy as np

from theory.backend import available_backends, get_backend
from theory.quadratic import expected_loss_change
from theory.simulators import simulate_vgd
from theory.vgd import variational_factor

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import best_time  # noqa: E402

SUITES = ["bench_kramers", "bench_escape", "bench_fused", "bench_spectra", "bench_sweep", "bench_jax", "bench_curvature"]


def ulps(got, exact) -> float:
    ref = float(exact)
    return float(abs(mp.mpf(got) - exact) / mp.mpf(np.spacing(abs(ref)))) if ref != 0 else 0.0


# ----------------------------------------------------------------------------- formulas

def bench_variational_factor(quick: bool):
    n = 10**5 if quick else 10**6
    rng = np.random.default_rng(0)
    z = 10.0 ** rng.uniform(-8, 8, n)
    lr = 10.0 ** rng.uniform(-3, 1, n)

    def naive(z, lr):
        return lr * np.sqrt(z / 3) * np.sinh(np.arcsinh((3 / lr) * np.sqrt(3 / z)) / 3)

    t_ours = best_time(lambda: variational_factor(z, lr))
    t_naive = best_time(lambda: naive(z, lr))
    # accuracy on a sample, against the 60-digit closed form
    k = 400 if quick else 2000
    zs, ls = 10.0 ** rng.uniform(-300, 300, k), 10.0 ** rng.uniform(-6, 2, k)
    with mp.workdps(60):
        ref = [2 * mp.sqrt(w / 3) * mp.sinh(mp.asinh(3 * mp.sqrt(3) / (2 * mp.sqrt(w))) / 3)
               for w in (mp.mpf(a) * mp.mpf(b) ** 2 / 4 for a, b in zip(zs, ls))]
    ours = variational_factor(zs, ls)
    with np.errstate(all="ignore"):
        nv = naive(zs, ls)
    err_ours = max(ulps(g, r) for g, r in zip(ours, ref))
    err_naive = max(ulps(g, r) if np.isfinite(g) else np.inf for g, r in zip(nv, ref))
    return [
        ("variational_factor, 1e6 points" if not quick else "variational_factor, 1e5 points",
         f"{n / t_ours / 1e6:.1f} M/s", f"naive closed form {n / t_naive / 1e6:.1f} M/s",
         f"{t_naive / t_ours:.2f}x", f"max error {err_ours:.2f} ulp vs naive {err_naive:.3g} ulp "
         f"(z in [1e-300, 1e300], lr in [1e-6, 1e2])"),
    ]


def bench_expected_change(quick: bool):
    n = 10**5 if quick else 10**6
    rng = np.random.default_rng(1)
    lam = rng.uniform(0.1, 20, n)
    g = rng.normal(size=n)
    t_ours = best_time(lambda: expected_loss_change(lam, g, 0.1, 0.05, 4))
    t_naive = best_time(lambda: 0.05 * (g * g * (0.1 * lam - 2) + 0.1 * lam**3 * 0.0025 / 4))
    return [(f"expected_loss_change, {n:.0e} directions", f"{n / t_ours / 1e6:.1f} M/s",
             f"naive NumPy {n / t_naive / 1e6:.0f} M/s", f"{t_naive / t_ours:.2f}x",
             "exactly rounded (double-double, exact fallback); naive loses all digits at the threshold")]


# ----------------------------------------------------------------------------- simulator

def bench_simulator(quick: bool, backend: str):
    xb = get_backend(backend)
    xp = xb.xp
    p, ns, steps = 8, 4, 20
    runs = 20_000 if quick else 200_000
    lam = np.linspace(0.5, 15, p)
    m0 = np.ones(p)
    draws = runs * ns * p * steps  # normal numbers the simulation needs

    def sim():
        simulate_vgd(lam, m0, lr=0.1, sigma=0.1, n_samples=ns, n_steps=steps, n_runs=runs, seed=0, backend=xb)
        xb.synchronize()

    buf = xp.empty((runs, ns, p))
    gen = xb.generator(np.random.SeedSequence(0))

    def raw():  # the same number of normals, drawn into a preallocated buffer: the floor
        for _ in range(steps):
            xb.fill_normal(gen, buf)
        xb.synchronize()

    t_sim, t_raw = best_time(sim, 3), best_time(raw, 3)
    rows = [(f"simulate_vgd ({backend}), {runs} runs x {steps} steps, P={p}, Ns={ns}",
             f"{draws / t_sim / 1e6:.0f} M normals/s", f"raw normal rate {draws / t_raw / 1e6:.0f} M/s",
             f"{t_raw / t_sim:.2f} of raw", "literal VGD: Ns gradients per step, per-block statistics")]
    if backend == "numpy":
        naive_runs = 200 if quick else 1000

        def naive():  # one run at a time, one sample at a time
            rng = np.random.default_rng(0)
            for _ in range(naive_runs):
                theta = m0.copy()
                for _ in range(steps):
                    grad = np.zeros(p)
                    for _ in range(ns):
                        grad += lam * (theta + 0.1 * rng.standard_normal(p))
                    theta -= 0.1 * grad / ns
                    0.5 * np.sum(lam * theta * theta)

        t_naive = best_time(naive, 1) * runs / naive_runs
        rows.append(("simulate_vgd vs a per-run Python loop", f"{runs / t_sim:.3g} runs/s",
                     f"naive loop {runs / t_naive:.3g} runs/s", f"{t_naive / t_sim:.0f}x", "same work per run"))
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-write", action="store_true", help="print only; do not write docs/benchmarks_table.md")
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks_table.md"))
    args = parser.parse_args(argv)

    rows = []
    rows += bench_variational_factor(args.quick)
    rows += bench_expected_change(args.quick)
    for backend in available_backends():
        rows += bench_simulator(args.quick, backend)
    # one module per theory beside this file, each with rows(quick)
    for name in SUITES:
        rows += importlib.import_module(name).rows(args.quick)

    header = ("benchmark", "measured", "baseline (same run)", "ratio", "notes")
    machine = (f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
               f"NumPy {np.__version__}; {'quick' if args.quick else 'full'} sizes; "
               f"backends: {', '.join(available_backends())}")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    table = "\n".join(lines) + f"\n\nMachine: {machine}.\n"
    print(table)
    if not args.no_write:
        Path(args.out).write_text(table)
        print(f"written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
