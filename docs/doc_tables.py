"""The tables of numbers quoted on the documentation pages.

Two kinds:

- computed at build time (``docs/conf.py`` calls :func:`build_time_tables`):
  the Kramers validity map (:data:`theory.kramers.VALIDITY`) and the accuracy of
  the models' derivatives, a few seconds;
- measured on training runs (a few minutes), written by one command,

  .. code-block:: bash

     python docs/doc_tables.py            # writes docs/data/measured.json

  and rendered from that file at build time (:func:`stored_tables`).
  ``tests/test_docs_examples.py`` recomputes part of the stored numbers with
  the package as it is, so a change of the code that moves them fails there
  until the command is rerun.

Each table is written to ``docs/_generated/tables/<name>.md`` and pulled into
its page with ``{include}``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
MEASURED = DOCS / "data" / "measured.json"
COMMAND = "python docs/doc_tables.py"

#: the pages and the tables each includes
PAGES = {
    "escape.md": ("kramers_validity",),
    "dynamics.md": ("model_accuracy", "gd_plateau", "vgd_plateau", "flatness"),
}

#: what the stored tables measure (the network and runs of theory.checks.dynamics; the
#: flatness comparison on the problem of the dynamics.flatness_comparison figure)
SETTINGS = {
    "gd_plateau": {"lrs": (0.1, 0.3, 0.45, 0.6, 0.8, 1.0), "n_steps": 4000, "band": 0.05},
    "vgd_plateau": {"lrs": (0.6, 0.8), "sigmas": (0.003, 0.01, 0.02, 0.03), "n_steps": 4000, "seeds": 6,
                    "seed": 0},
    "flatness": {"seed": 0},
}


# -- formatting ----------------------------------------------------------------------------------------------------

def _table(header, rows) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _pm(mean, se, fmt=".3f") -> str:
    return f"{mean:{fmt}} ± {se:{fmt}}"


def _sci(x, digits=1) -> str:
    """``x`` as TeX ``m\\times10^{e}`` with ``digits`` significant digits."""
    mant, expo = f"{x:.{digits - 1}e}".split("e")
    return f"${mant}\\times10^{{{int(expo)}}}$"


def mean_se(values):
    values = np.asarray(values, dtype=float)
    se = values.std(ddof=1) / np.sqrt(values.size) if values.size > 1 else 0.0
    return float(values.mean()), float(se)


# -- computed at build time ----------------------------------------------------------------------------------------

def kramers_validity() -> str:
    """The stored validity map of the Kramers time, as one table row per quantity."""
    from theory.kramers import VALIDITY

    ratios = VALIDITY["barrier_over_temperature"]
    header = ["$\\Delta L/T$", *(f"{r:g}" for r in ratios)]
    row = ["$T(a\\to\\text{next min.})/\\tau$", *(f"{v:.6f}" for v in VALIDITY["exact_over_kramers"])]
    return _table(header, [row])


def _accuracy_models():
    from theory import hessian_models as hm
    from theory.checks import dynamics

    net, _ = dynamics.network()
    xa, ya = hm.synthetic_attention_task(seed=0)
    return {"ScalarProduct": hm.ScalarProduct(), "TwoLayerNetwork": net,
            "SoftmaxAttention": hm.SoftmaxAttention(xa, ya, 4)}


def _rel(a, b) -> float:
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def model_accuracy(n_points: int = 5, fd_step: float = 1e-5) -> str:
    """Worst relative errors (max norm) of each model's derivatives over ``n_points`` seeded points.

    The gradient against the complex step of the loss, the HVP against the
    dense Hessian on a random vector, the dense Hessian against central
    differences of the gradient with step ``fd_step`` (whose own error is most
    of that column).
    """
    from theory.hessian_models import HVP_STEP

    rows = []
    for name, m in _accuracy_models().items():
        worst = np.zeros(3)
        for k in range(n_points):
            rng = np.random.default_rng([k, 2025])
            theta = rng.normal(size=m.n_params)
            eye = np.eye(m.n_params)
            grad = m.gradient(theta)
            cs = np.array([np.imag(m._loss(theta + 1j * HVP_STEP * e, None)) / HVP_STEP for e in eye])
            h = m.hessian(theta)
            vec = rng.normal(size=m.n_params)
            fd = np.stack([(m.gradient(theta + fd_step * e) - m.gradient(theta - fd_step * e)) / (2 * fd_step)
                           for e in eye], axis=1)
            worst = np.maximum(worst, [_rel(grad, cs), _rel(m.hvp(theta, vec), h @ vec), _rel(h, fd)])
        rows.append([f"`{name}` ($P = {m.n_params}$)", *(_sci(w) for w in worst)])
    header = ["model", "gradient vs complex-step loss", "HVP vs dense Hessian", "Hessian vs finite differences"]
    return _table(header, rows)


def build_time_tables() -> dict[str, str]:
    """The tables computed at build time, by name."""
    return {"kramers_validity": kramers_validity(), "model_accuracy": model_accuracy()}


# -- measured on training runs (stored) ------------------------------------------------------------------------------

def _plateau(values) -> float:
    """Median over the second half of the tracked points (the statistic of the dynamics checks)."""
    values = np.asarray(values)
    return float(np.median(values[values.size // 2:]))


def _train_on_check_network(optimizer, lr, n_steps, seed=0, track=("sharpness",)):
    from theory.backend import single_threaded_blas
    from theory.checks import dynamics
    from theory.simulators.training import train

    model, theta0 = dynamics.network()
    with single_threaded_blas():
        return train(model, optimizer, lr=lr, n_steps=n_steps, theta0=theta0, seed=seed, track=track,
                     track_every=max(1, n_steps // 100))


def measure_gd_plateau(lrs=SETTINGS["gd_plateau"]["lrs"], n_steps=SETTINGS["gd_plateau"]["n_steps"]) -> list[dict]:
    """GD on the network of the dynamics checks: start, plateau and range over the second half, per lr."""
    from theory.simulators.training import GD

    rows = []
    for lr in lrs:
        s = np.asarray(_train_on_check_network(GD(), lr, n_steps).sharpness, dtype=float)
        half = s[s.size // 2:]
        rows.append({"lr": lr, "start": float(s[0]), "plateau": _plateau(s), "low": float(half.min()),
                     "high": float(half.max())})
    return rows


def measure_vgd_plateau(lrs=SETTINGS["vgd_plateau"]["lrs"], sigmas=SETTINGS["vgd_plateau"]["sigmas"],
                        n_steps=SETTINGS["vgd_plateau"]["n_steps"], seeds=SETTINGS["vgd_plateau"]["seeds"],
                        seed=SETTINGS["vgd_plateau"]["seed"]) -> list[dict]:
    """VGD (Gaussian, one sample): plateau and VF threshold (same statistic) per run, per (lr, sigma)."""
    from theory.rng import derive
    from theory.simulators.training import VGD

    rows = []
    for lr in lrs:
        for sigma in sigmas:
            plateaus, thresholds = [], []
            for k in range(seeds):
                run = _train_on_check_network(VGD(sigma), lr, n_steps, seed=derive(seed, "docs.vgd_plateau", f"{lr:g}",
                                                                                  f"{sigma:g}", k),
                                              track=("sharpness", "threshold"))
                plateaus.append(_plateau(run.sharpness))
                thresholds.append(_plateau(run.threshold))
            rows.append({"lr": lr, "sigma": sigma, "plateaus": plateaus, "thresholds": thresholds})
    return rows


def flatness_problem():
    """The optimizers, model, start and settings of the ``dynamics.flatness_comparison`` figure at full size."""
    from theory import hessian_models as hm
    from theory.figures import dynamics as fd
    from theory.simulators import training as tr

    p, net_p = fd.FLATNESS, fd.NETWORK
    net, _, test = hm.teacher_network(net_p["n_data"], net_p["n_features"], net_p["n_hidden"],
                                      target_scale=net_p["target_scale"], init_scale=net_p["init_scale"],
                                      teacher_hidden=net_p["teacher_hidden"], noise=net_p["noise"],
                                      test_fraction=net_p["test_fraction"], seed=net_p["seed"])
    optimizers = {
        "GD": tr.GD(),
        f"SGD ($B = {p['batch_size']}$)": tr.SGD(p["batch_size"]),
        f"SAM ($\\rho = {_power_of_ten(p['sam_rho'])}$)": tr.SAM(p["sam_rho"]),
        f"VGD ($\\sigma = {p['vgd_sigma']:g}$)": tr.VGD(p["vgd_sigma"]),
        f"IVON ($\\beta_1 = 0$, ess ${_power_of_ten(p['ivon_ess'])}$)": tr.IVON(ess=p["ivon_ess"], beta1=0.0),
        f"G-TRACER ($\\rho = {_power_of_ten(p['gtracer_rho'])}$)": tr.GTracer(p["gtracer_rho"]),
        f"G-TRACER, exact ($\\rho = {_power_of_ten(p['gtracer_rho'])}$)": tr.GTracer(p["gtracer_rho"],
                                                                                      estimator="exact"),
    }
    return net, test, optimizers, p, net_p


def measure_flatness(names=None, seed=SETTINGS["flatness"]["seed"]) -> list[dict]:
    """The final-point flatness measures of each optimizer (all, or those in ``names``), per start."""
    from theory.rng import derive
    from theory.simulators.training import flatness_comparison

    net, test, optimizers, p, net_p = flatness_problem()
    if names is not None:
        optimizers = {k: optimizers[k] for k in names}
    rows = flatness_comparison(net, optimizers, lr=p["lr"], n_steps=p["n_steps"], alpha=p["alpha"],
                               test_data=test, seeds=p["seeds"], seed=derive(seed, "dynamics.flatness_comparison"),
                               theta0=lambda s: net.initial(s, scale=net_p["init_scale"]))
    keys = ("sharpness", "count_above", "effective_number", "trace_ratio", "train_loss", "test_loss")
    return [{"name": r.name, **{k: [float(x) for x in np.asarray(r.values[k])] for k in keys}} for r in rows]


def measure() -> dict:
    """Every stored table, with the settings and the package version that produced them."""
    import theory
    from theory.figures import dynamics as fd

    start = time.perf_counter()
    out = {"command": COMMAND, "theory_version": theory.__version__,
           "settings": {**SETTINGS, "flatness": {**SETTINGS["flatness"], "figure": dict(fd.FLATNESS),
                                                 "network": dict(fd.NETWORK)}},
           "gd_plateau": measure_gd_plateau(), "vgd_plateau": measure_vgd_plateau(), "flatness": measure_flatness()}
    out["seconds"] = round(time.perf_counter() - start, 1)
    return out


# -- rendering of the stored tables ----------------------------------------------------------------------------------

def gd_plateau_table(rows, band=SETTINGS["gd_plateau"]["band"]) -> str:
    out = []
    for r in rows:
        edge = 2.0 / r["lr"]
        off = r["plateau"] / edge - 1.0
        state = f"at the edge ({100 * off:+.1f}%)" if abs(off) <= band else f"below the edge ({100 * off:+.0f}%)"
        if r["start"] > edge:
            state += f"; starts above it ({r['start']:.3g}) and first flattens"
        out.append([f"{r['lr']:g}", f"{edge:.3g}", f"{r['plateau']:.3f}", f"{r['low']:.2f}-{r['high']:.2f}", state])
    return _table(["lr", "$2/\\eta$", "plateau", "range, 2nd half", "state"], out)


def vgd_plateau_table(rows) -> str:
    out = []
    for r in rows:
        p, t = mean_se(r["plateaus"]), mean_se(r["thresholds"])
        out.append([f"{r['lr']:g}", f"{r['sigma']:g}", f"{2.0 / r['lr']:.4g}", _pm(*p), _pm(*t), f"{p[0] / t[0]:.3f}"])
    return _table(["lr", "$\\sigma$", "$2/\\eta$", "plateau", "VF threshold", "plateau / threshold"], out)


def _e(x) -> str:
    """``x`` with two significant digits as ``1.3e5``."""
    mant, expo = f"{x:.1e}".split("e")
    return f"{mant}e{int(expo)}"


def _auto(mean, se) -> str:
    """``mean ± se``: the error to two significant digits and the mean to the same decimals;
    ``1.3e5 ± 2.1e4`` below 1e-2 and from 1e4; the mean alone (three digits) when ``se`` is 0."""
    if mean == 0 and se == 0:
        return "0"
    if abs(mean) >= 1e4 or abs(mean) < 1e-2:
        return _e(mean) if se == 0 else f"{_e(mean)} ± {_e(se)}"
    if se == 0:
        return f"{mean:.3g}"
    decimals = 1 - int(np.floor(np.log10(se)))
    shown = max(decimals, 0)
    return f"{round(mean, shown):.{shown}f} ± {round(se, decimals):.{shown}f}"


def _power_of_ten(x) -> str:
    """``x`` in TeX: ``10^{4}`` for a power of ten, else ``%g``."""
    e = int(round(np.log10(x)))
    return f"10^{{{e}}}" if x == 10.0**e and abs(e) >= 3 else f"{x:g}"


def flatness_table(rows) -> str:
    def cell(key, fmt=None):
        m, se = mean_se(r[key])
        if fmt is None:
            return _auto(m, se)
        return ("0" if m == 0 else f"{m:{fmt}}") if se == 0 else f"{m:{fmt}} ± {se:{fmt}}"

    out = []
    for r in rows:
        train = mean_se(r["train_loss"])[0]
        out.append([r["name"], cell("sharpness", ".2f"), cell("count_above", ".1f"), cell("effective_number", ".1f"),
                    cell("trace_ratio"), _e(train) if train < 1e-2 else f"{train:.2g}", cell("test_loss")])
    header = ["optimizer", "$\\lambda_{\\max}$", "# above $1/\\eta$", "$N_{\\rm eff}(0.1)$", "$\\mathrm{Tr}(G^{-1}H)$",
              "train loss", "test loss"]
    return _table(header, out)


def stored_tables(path: Path = MEASURED) -> dict[str, str]:
    """The tables rendered from the stored measurements, by name."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return {"gd_plateau": gd_plateau_table(data["gd_plateau"]), "vgd_plateau": vgd_plateau_table(data["vgd_plateau"]),
            "flatness": flatness_table(data["flatness"])}


def main() -> int:
    sys.path.insert(0, str(ROOT))
    data = measure()
    MEASURED.parent.mkdir(parents=True, exist_ok=True)
    MEASURED.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {MEASURED.relative_to(ROOT)} in {data['seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
