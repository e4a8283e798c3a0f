"""``theory verify`` and ``theory figures``: the package's command line (also ``python -m theory``)."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time

import numpy as np

from . import __version__


def _fmt(x: float) -> str:
    return f"{x:.6g}" if np.isfinite(x) else str(x)


def _list_or_refuse(chosen, args, noun: str, describe) -> int | None:
    """Handle --list and an empty selection; None means: go on and run ``chosen``."""
    if args.list:
        for item in chosen:
            print(describe(item))
        return 0
    if not chosen:
        print(f"no {noun} matches {args.only!r}; see 'theory {args.command} --list'", file=sys.stderr)
        return 2
    return None


def _open_executor(args, stack: contextlib.ExitStack):
    """The executor asked for by --workers/--dask, entered on ``stack`` (None: serial, or not asked).

    Returns ``(executor, None)``, or ``(None, exit code)`` after printing why
    the executor could not be had (dask missing, scheduler unreachable).
    """
    from . import sweep

    if getattr(args, "dask", None):
        try:
            return stack.enter_context(sweep.dask_executor(args.dask)), None
        except ImportError:
            print(f"theory {args.command}: --dask needs the 'dask' extra. {sweep.DASK_HINT}", file=sys.stderr)
            return None, 2
        except (OSError, TimeoutError, ValueError) as exc:
            print(f"theory {args.command}: cannot reach the Dask scheduler at {args.dask!r}: {exc}", file=sys.stderr)
            return None, 2
    if args.workers is not None and args.workers < 1:
        print(f"theory {args.command}: --workers must be >= 1; got {args.workers}", file=sys.stderr)
        return None, 2
    if args.workers and args.workers > 1:
        return stack.enter_context(sweep.process_pool(args.workers)), None
    return None, None


def _refuse_backend(args) -> int | None:
    """Exit status 2, with the reason and the install hint, when ``--backend`` names one this machine lacks.

    Checked once before anything runs (otherwise every check would crash on
    its own with the same ImportError); None when the backend is usable.
    """
    name = getattr(args, "backend", None)
    if name in (None, "numpy"):
        return None
    from .backend import available_backends, get_backend

    try:
        get_backend(name)
    except ImportError as exc:
        print(f"theory {args.command}: --backend {name}: {exc}", file=sys.stderr)
        return 2
    if name not in available_backends():
        print(f"theory {args.command}: --backend {name}: CuPy is installed but finds no CUDA device on this "
              "machine (pip install 'theory[cupy]' on a machine with an NVIDIA GPU)", file=sys.stderr)
        return 2
    return None


def _pct(x: float) -> str:
    return "-" if not np.isfinite(x) else f"{100 * x:.2g}%"


_MARK = {"numerical": " (num.)", "band": " (band)", "at_most": " (bound)", "at_least": " (bound)"}


def _verify(args) -> int:
    from . import checks

    chosen = checks.select(quick=args.quick, only=args.only)
    done = _list_or_refuse(chosen, args, "check",
                           lambda c: f"{c.name:34s} {'quick' if c.quick else 'full ':5s}  {c.title}")
    if done is not None:
        return done
    refused = _refuse_backend(args)
    if refused is not None:
        return refused
    from ._progress import Progress
    from .sweep import use_executor

    start = time.perf_counter()
    results = []
    with contextlib.ExitStack() as stack:
        executor, code = _open_executor(args, stack)
        if code is not None:
            return code
        if executor is not None:  # also for sweeps inside the checks
            stack.enter_context(use_executor(executor))
        bar = Progress(len(chosen), enabled=not args.no_progress)
        try:
            for c in chosen:
                bar.step(c.name)
                results.append(checks.run(c, args.seed, backend=args.backend, executor=executor, quick=args.quick))
                bar.advance()
        finally:
            bar.close()

    header = ("check", "case", "formula", "simulation ± s.e.", "z", "detects", "verdict")
    lines = []
    for r in results:
        if r.error:
            lines.append((r.check.name, "(crashed)", "", r.error, "", "", "FAIL"))
            continue
        for i, (row, ok, det) in enumerate(zip(r.rows, r.row_passed, r.detectable)):
            sim = f"{_fmt(row.estimate)} ± {row.spread:.2g}" + _MARK.get(row.kind, "")
            if row.bias:
                sim += f" (bias {row.bias:.2g})"
            formula = "> 0" if row.kind == "positive" else (
                {"at_most": "<= ", "at_least": ">= "}.get(row.kind, "") + _fmt(row.formula))
            z = (f"{row.estimate / row.stderr:+.2f}" if row.kind == "positive"
                 else "" if row.kind in ("band", "at_most", "at_least") else f"{row.z:+.2f}")  # an allowance, no z
            lines.append((r.check.name if i == 0 else "", row.label, formula, sim, z, _pct(det),
                          ("pass" if ok else "FAIL") + ("*" if row.sign else "")))
    widths = [max(len(str(x[i])) for x in [header, *lines]) for i in range(len(header))]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for line in lines:
        print("  ".join(str(x).ljust(w) for x, w in zip(line, widths)).rstrip())
    n_fail = sum(not r.passed for r in results)
    statistical = [r for r in results if any(row.kind in ("statistical", "positive") for row in r.rows)]
    print()
    print(f"{len(results) - n_fail}/{len(results)} checks passed in {time.perf_counter() - start:.1f} s "
          f"(seed {args.seed}, backend {args.backend or 'numpy'}).")
    if statistical:
        alpha = max(r.check.alpha for r in statistical)
        print(f"Each statistical check fails by chance with probability <= {alpha:g} when its formula is right "
              f"(Bonferroni over its rows); for these {len(statistical)}, <= {alpha * len(statistical):.2g}.")
    resolved = [r.resolves for r in results if not r.error and np.isfinite(r.resolves)]
    if resolved:
        print(f"detects: the smallest relative error of the formula a row catches half the time at its check's "
              f"false-alarm rate (z_crit x s.e./|formula|); this {'quick ' if args.quick else ''}run resolves "
              f"{_pct(min(resolved))} to {_pct(max(resolved))}, check by check (best row of each).")
    print("* the row must also resolve the sign of the formula value (one-sided, same level); "
          "a row '> 0' must resolve a positive value.")
    kinds = {row.kind for r in results for row in r.rows}
    if "numerical" in kinds:
        print("(num.) a deterministic computation with its own error estimate: passes when |z| <= 1.")
    if kinds & {"band", "at_most", "at_least"}:
        print("(band), (bound) a trajectory statistic against a prediction, with the check's stated allowance "
              "after the ±: passes inside the band, or on the stated side of the bound.")
    return 1 if n_fail else 0


def _figures(args) -> int:
    from . import figures

    chosen = figures.select(args.only)
    if args.store is not None:  # only the figures the docs draw from stored full-size data
        chosen = [f for f in chosen if f.stored]
    done = _list_or_refuse(chosen, args, "figure", lambda f: f"{f.name:40s} {f.title}")
    if done is not None:
        return done
    if args.out is None and args.store is None:
        print("theory figures: --out DIR is required (or --store DIR)", file=sys.stderr)
        return 2
    data_dir = args.store if args.store is not None else args.data
    from ._progress import Progress
    from .sweep import use_executor

    with contextlib.ExitStack() as stack:
        executor, code = _open_executor(args, stack)
        if code is not None:
            return code
        if args.dask or args.workers is not None:
            # figure code reads it through theory.sweep.default_executor() / current_executor()
            stack.enter_context(use_executor(executor))
        bar = Progress(len(chosen), enabled=not args.no_progress)
        try:
            for f in chosen:
                bar.step(f.name)
                if args.store is not None:
                    print(figures.store(f, args.store, seed=args.seed))
                if args.out is not None:
                    for path in figures.render(f, args.out, formats=args.format, quick=not args.full,
                                               seed=args.seed, data_dir=data_dir):
                        print(path)
                bar.advance()
        finally:
            bar.close()
    return 0


def _add_executor_options(p, default_workers, workers_help) -> None:
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=default_workers, metavar="N", help=workers_help)
    where.add_argument("--dask", metavar="ADDRESS",
                       help="run the simulations on the Dask cluster whose scheduler is at ADDRESS "
                            "(e.g. tcp://10.0.0.5:8786; needs the 'dask' extra); same numbers as --workers")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="theory", description="Closed forms and Monte Carlo checks of "
                                     "why training finds flat minima.")
    parser.add_argument("--version", action="version", version=f"theory {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("verify", help="run the registered checks and print a table")
    p.add_argument("--quick", action="store_true", help="run only the fast subset")
    p.add_argument("--seed", type=int, default=0, help="root seed (default 0)")
    p.add_argument("--list", action="store_true", help="list the registered checks and exit")
    p.add_argument("--only", metavar="PATTERN",
                   help="run checks whose names contain PATTERN (or match a glob); several separated by commas")
    p.add_argument("--backend", choices=["numpy", "cupy"], default=None, help="array backend (default numpy)")
    _add_executor_options(p, 1, "processes for the simulations (same numbers any count)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(func=_verify)

    p = sub.add_parser("figures", help="draw the theory figures")
    p.add_argument("--out", metavar="DIR", help="output folder")
    p.add_argument("--format", nargs="+", default=["png", "pdf"], choices=["png", "pdf", "svg"])
    p.add_argument("--only", metavar="PATTERN",
                   help="draw figures whose names contain PATTERN (or match a glob); several separated by commas")
    p.add_argument("--list", action="store_true", help="list the figures and exit")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--full", action="store_true",
                      help="full-size simulations: publication error bars (minutes); default small and fast")
    size.add_argument("--quick", action="store_true", help="small simulations (the default)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", metavar="DIR",
                   help="draw each figure from its stored data DIR/<name>.json when that is current (same seed, "
                        "the figure's present parameters); else compute it")
    p.add_argument("--store", metavar="DIR",
                   help="recompute at full size the figures the docs draw from stored data and write "
                        "DIR/<name>.json (with --out, draw them from it too)")
    _add_executor_options(p, None, "processes for the simulations (default: each figure's own choice, two "
                                   "for full-size escape figures; 1: none); same numbers any count")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_figures)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
