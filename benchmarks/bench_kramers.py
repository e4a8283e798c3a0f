"""Exact 1-D mean first-passage times: theory.kramers against the PyPI package ``kramers``.

Both are compared in one run on the same problems, for accuracy against an
mpmath reference (the Ornstein-Uhlenbeck potential, whose inner integral is an
erf, so the reference is a single 30-digit quadrature) and for time per call
(also on the quartic double well). ``kramers`` is an optional benchmark
dependency (``pip install "theory[bench]"``); without it only our rows are
printed.
"""

from __future__ import annotations


import mpmath as mp
import numpy as np

from _timing import best_time

from theory.kramers import mean_first_passage_time


def _ou_log_reference(temperature, x1):
    with mp.workdps(30):
        t = mp.mpf(temperature)
        f = lambda y: mp.exp(y**2 / (2 * t)) * mp.sqrt(mp.pi * t / 2) * mp.erfc(-y / mp.sqrt(2 * t))  # noqa: E731
        return float(mp.log(mp.quad(f, [0, mp.mpf(x1)]) / t))


def rows(quick: bool):
    try:
        from kramers import FirstPassage1D
    except ImportError:  # optional peer
        FirstPassage1D = None
    repeat = 3 if quick else 10
    out = []
    temperature = 0.01
    for barrier in (5.0, 50.0, 500.0):
        x1 = float(np.sqrt(2 * temperature * barrier))
        ref = _ou_log_reference(temperature, x1)
        ours = lambda: mean_first_passage_time(lambda x: 0.5 * x * x, 0.0, x1, temperature, log=True,
                                               require_barrier=False)  # noqa: E731
        err_ours = abs(ours().value - ref)
        t_ours = best_time(ours, repeat)
        note = f"|relative error| ours {err_ours:.1e}"
        measured, baseline, ratio = f"{t_ours * 1e3:.1f} ms", "kramers not installed", "-"
        if FirstPassage1D is not None:
            def peer():
                fp = FirstPassage1D(lambda x: 0.5 * x * x / temperature, D=temperature, domain=(-np.inf, x1),
                                    left="natural", right="absorbing")
                return fp.mean_time(0.0)
            err_peer = abs(float(np.log(float(peer().value))) - ref)
            t_peer = best_time(peer, repeat)
            baseline, ratio = f"kramers {t_peer * 1e3:.1f} ms", f"{t_peer / t_ours:.1f}x faster"
            note += f", kramers {err_peer:.1e}"
        out.append((f"mean_first_passage_time, OU barrier {barrier:g} T", measured, baseline, ratio, note))
    # the quartic double well U = x^4/4 - x^2/2, D = 0.1 and dU/D = 500, start -1, end +1
    for d in (0.1, 0.25 / 500):
        def ours():
            return mean_first_passage_time(lambda x: x**4 / 4 - x**2 / 2, -1.0, 1.0, d, log=True)
        t_ours = best_time(ours, repeat)
        measured, baseline, ratio, note = f"{t_ours * 1e3:.1f} ms", "kramers not installed", "-", ""
        if FirstPassage1D is not None:
            def peer():
                fp = FirstPassage1D(lambda x: (x**4 / 4 - x**2 / 2) / d, D=d, domain=(-np.inf, 1.0),
                                    left="natural", right="absorbing")
                return fp.mean_time(-1.0)
            t_peer = best_time(peer, repeat)
            diff = abs(ours().value - float(np.log(float(peer().value))))
            baseline, ratio = f"kramers {t_peer * 1e3:.1f} ms", f"{t_peer / t_ours:.1f}x faster"
            note = f"results differ by {diff:.1e} (relative)"
        out.append((f"mean_first_passage_time, double well dU/D = {0.25 / d:g}", measured, baseline, ratio, note))
    return out


if __name__ == "__main__":
    for row in rows(quick=False):
        print(" | ".join(str(c) for c in row))
