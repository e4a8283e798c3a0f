"""Marchenko-Pastur law: theory.marchenko_pastur against scikit-rmt's MarchenkoPasturDistribution.

Both are compared in one run: time for the density and the distribution
function on 10^6 points across the support (10^5 with ``quick``) and for
10^6 samples, and the largest relative error against a 50-digit mpmath
reference on 200 points from edge to edge (within 1e-12 of each edge
included). The reference density is the closed form; the reference cdf is the
arctan closed form of the cdf (checked against quadrature in
tests/test_marchenko_pastur.py), both at 50 digits from the exact float inputs.

Parameter mapping: scikit-rmt's ``ratio`` is p/n, our ``ratio`` P/N, and its
``beta * sigma**2`` is our ``scale`` (its edges are
``beta sigma^2 (1 -+ sqrt(ratio))^2``), so ``MarchenkoPasturDistribution(ratio=q,
beta=1, sigma=sqrt(scale))`` is ``MarchenkoPastur(q, scale)``; the benchmark
checks that the two densities agree inside the support before comparing.

scikit-rmt is an optional benchmark dependency (``pip install "theory[bench]"``).
It pins old numpy/scipy (numpy<=1.26.4, scipy<=1.12.0) and imports
``scipy.misc.derivative``, removed in scipy 1.15: with a newer scipy it does
not import, and only our rows are printed (as without it).
"""

from __future__ import annotations


import mpmath as mp
import numpy as np

from _timing import best_time

from theory.marchenko_pastur import MarchenkoPastur

SCALE = 2.0


def _peer():
    try:
        from skrmt.ensemble.spectral_law import MarchenkoPasturDistribution
    except ImportError as exc:  # optional peer; also fails with scipy >= 1.15 (scipy.misc.derivative)
        return None, f"scikit-rmt not importable ({type(exc).__name__})"
    import logging
    logging.getLogger("skrmt").setLevel(logging.ERROR)  # its warning for ratio >= 1
    return MarchenkoPasturDistribution, ""


def _reference(q, s2, xs):
    """50-digit pdf and cdf (atom included) at the float points ``xs``."""
    with mp.workdps(50):
        q, s2 = mp.mpf(q), mp.mpf(s2)
        a, b = s2 * (1 - mp.sqrt(q)) ** 2, s2 * (1 + mp.sqrt(q)) ** 2
        atom = 1 - 1 / q if q > 1 else mp.mpf(0)
        r = mp.sqrt(a * b)
        pdf, cdf = [], []
        for x in xs:
            x = mp.mpf(x)
            pdf.append(mp.sqrt((b - x) * (x - a)) / (2 * mp.pi * s2 * q * x))
            body = (mp.sqrt((b - x) * (x - a)) - (a + b) / 2 * mp.acos((2 * x - a - b) / (b - a))
                    + 2 * r * mp.atan(mp.sqrt(a / b) * mp.sqrt((b - x) / (x - a))) + mp.pi / 2 * (a + b - 2 * r))
            cdf.append(atom + body / (2 * mp.pi * s2 * q))
    return pdf, cdf


def _speed(t_peer, t_ours):
    r = t_peer / t_ours
    return f"{r:.1f}x faster" if r >= 1 else f"{1 / r:.1f}x slower"


def _max_rel(got, ref):
    worst = 0.0
    for g, r in zip(np.asarray(got, dtype=float), ref):
        if not np.isfinite(g):
            return float("nan") if np.isnan(g) else float("inf")
        worst = max(worst, float(abs(mp.mpf(g) - r) / abs(r)))
    return worst


def _sample_points(d, k):
    a, b = d.support()
    w = b - a
    u = np.concatenate([np.linspace(0, 1, k - 40)[1:-1], 10.0 ** np.linspace(-12, -1, 21),
                        1 - 10.0 ** np.linspace(-12, -1, 21)])
    xs = a + w * u
    xs = np.concatenate([xs, [a * (1 + 1e-12), b * (1 - 1e-12)]])
    return xs[(xs > a) & (xs < b)]


def rows(quick: bool):
    Peer, why_not = _peer()
    repeat = 3 if quick else 5
    n = 10**5 if quick else 10**6
    out = []
    for q in (0.5, 2.5):
        ours = MarchenkoPastur(q, SCALE)
        a, b = ours.support()
        x = np.linspace(0.0, b * 1.05, n)
        xs = _sample_points(ours, 200)
        ref_pdf, ref_cdf = _reference(q, SCALE, xs)
        err = {"pdf": _max_rel(ours.pdf(xs), ref_pdf), "cdf": _max_rel(ours.cdf(xs), ref_cdf)}
        t_ours = {"pdf": best_time(lambda: ours.pdf(x), repeat), "cdf": best_time(lambda: ours.cdf(x), repeat)}
        peer = None
        if Peer is not None:
            peer = Peer(ratio=q, beta=1, sigma=float(np.sqrt(SCALE)))
            inside = xs[(xs > a * 1.001) & (xs < b * 0.999)]
            mapping = float(np.max(np.abs(peer.pdf(inside) / ours.pdf(inside) - 1)))
        for what in ("pdf", "cdf"):
            label = f"MarchenkoPastur.{what}, ratio {q:g}, {n:.0e} points"
            measured = f"{n / t_ours[what] / 1e6:.1f} M/s"
            note = f"max rel. error vs mpmath (200 pts, to 1e-12 of the edges): ours {err[what]:.1e}"
            baseline, ratio = f"scikit-rmt: {why_not}" if peer is None else "", "-"
            if peer is not None:
                func = getattr(peer, what)
                t_peer = best_time(lambda: func(x), repeat)  # noqa: B023
                baseline = f"scikit-rmt {n / t_peer / 1e6:.1f} M/s"
                ratio = _speed(t_peer, t_ours[what])
                with np.errstate(all="ignore"):
                    e_peer = _max_rel(func(xs), ref_pdf if what == "pdf" else ref_cdf)
                note += f", scikit-rmt {e_peer:.1e}"
                if what == "pdf":
                    note += f"; densities agree to {mapping:.0e} inside (mapping ratio=q, sigma=sqrt(scale))"
                    if q > 1:
                        with np.errstate(all="ignore"):
                            note += f"; pdf(0): ours {ours.pdf(0.0):g}, scikit-rmt {float(peer.pdf(0.0)):g}"
                else:
                    if q > 1:
                        mid = 0.5 * a
                        note += (f"; atom 1-1/q={ours.atom:g} at 0: cdf(l-/2) ours {ours.cdf(mid):.3g}, "
                                 f"scikit-rmt {float(peer.cdf(mid)):.3g}; cdf(l-) ours {ours.cdf(a):.3g}, "
                                 f"scikit-rmt {float(peer.cdf(a)):.3g}")
            out.append((label, measured, baseline, ratio, note))
        # sampling: inverse of the closed-form cdf vs scikit-rmt's 1000-point grid inversion
        t_rvs = best_time(lambda: ours.rvs(n, rng=1), 1 if quick else 2)
        u = np.random.default_rng(5).random(2000)
        u = u[u > ours.atom]
        e_ours = float(np.max(np.abs(ours.cdf(ours.ppf(u)) - u)))
        measured = f"{n / t_rvs / 1e6:.2f} M/s"
        note = f"max |F(sample(u)) - u|: ours {e_ours:.1e}"
        baseline, ratio = f"scikit-rmt: {why_not}" if peer is None else "", "-"
        if peer is not None:
            t_peer = best_time(lambda: peer.rvs(size=n, random_state=1), 1 if quick else 2)  # noqa: B023
            baseline, ratio = f"scikit-rmt {n / t_peer / 1e6:.2f} M/s", _speed(t_peer, t_rvs)
            # its sampler maps uniforms through the grid inverse of the continuous part only
            v = (u - ours.atom) / (1 - ours.atom)
            e_peer = float(np.max(np.abs((ours.cdf(peer._inv_cdf(v)) - ours.atom) / (1 - ours.atom) - v)))
            same_seed = np.array_equal(peer.rvs(size=5, random_state=1), peer.rvs(size=5, random_state=1))
            note += (f", scikit-rmt {e_peer:.1e} (continuous part); same seed, same samples: ours "
                     f"{np.array_equal(ours.rvs(5, rng=1), ours.rvs(5, rng=1))}, scikit-rmt {same_seed}")
            if q > 1:
                zeros = float(np.mean(peer.rvs(size=10**4, random_state=1) == 0))
                note += f"; fraction of exact zeros (atom {ours.atom:g}): scikit-rmt {zeros:g}"
        out.append((f"MarchenkoPastur.rvs, ratio {q:g}, {n:.0e} samples", measured, baseline, ratio, note))
    return out


if __name__ == "__main__":
    for row in rows(quick=False):
        print(" | ".join(str(c) for c in row))
