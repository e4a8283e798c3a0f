"""The figure registry: data and drawing apart, the science of each figure's data, stored data, the CLI.

Every registered figure is enumerated from the registry. Its quick data is
computed once (seed ``SEED``) and shared by the tests: it must survive the
JSON round trip bit for bit, draw a labelled figure, and render from a stored
file to the same PNG as from memory. Figures whose data holds a fit (a
:class:`~theory.stats.LineFit`) or a bias correction have a science check in
``SCIENCE`` comparing the data with the theory at family-wise false-alarm rate
``ALPHA``; the same checks run on the stored full-size data the docs draw.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import pkgutil
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure as MplFigure  # noqa: E402

from theory import cli, figures  # noqa: E402
from theory.stats import LineFit, z_critical  # noqa: E402

SEED = 1
ALPHA = 1e-3  # family-wise false-alarm rate of each figure's science check
DATA_DIR = Path(__file__).resolve().parents[1] / "docs" / "figure_data"
DOCS_SEED = 0  # the seed the docs draw with (docs/conf.py FIGURE_SEED)
NAMES = sorted(figures.registry())
STORED = sorted(n for n, f in figures.registry().items() if f.stored)


@functools.cache
def quick_data(name: str):
    return figures.registry()[name].compute(quick=True, seed=SEED)


def _png(mpl_fig) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    mpl_fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    plt.close(mpl_fig)
    return buf.getvalue()


def _walk(tree, path=""):
    """(path, value) of every node of a data tree."""
    yield path, tree
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from _walk(v, f"{path}.{k}")
    elif isinstance(tree, (list, tuple)):
        for i, v in enumerate(tree):
            yield from _walk(v, f"{path}[{i}]")


def _holds_fit_or_bias(data) -> bool:
    return any(isinstance(v, LineFit) or p.rsplit(".", 1)[-1] == "bias" for p, v in _walk(data))


# -- the science of each figure's data --------------------------------------------------------------------------

def _agree(checks, alpha=ALPHA):
    """Assert |value - expected| <= z* stderr for every (label, value, stderr, expected), Bonferroni over them."""
    z_star = z_critical(alpha, len(checks))
    bad = [f"{label}: {value:.5g} ± {se:.2g} against {expected:.5g} (z = {(value - expected) / se:+.2f})"
           for label, value, se, expected in checks if not abs(value - expected) <= z_star * se]
    assert not bad, f"beyond |z| = {z_star:.2f} (false-alarm rate {alpha:g}): " + "; ".join(bad)


def _points(label, value, stderr, expected):
    return [(f"{label}[{i}]", float(v), float(s), float(e))
            for i, (v, s, e) in enumerate(zip(np.ravel(value), np.ravel(stderr), np.ravel(expected)))]


def _slope(label, fit: LineFit, expected):
    return (f"{label} slope", fit.slope, fit.slope_se, float(expected))


def science_kramers_accuracy(d):
    # Langevin mean times to the next minimum against the exact MFPT (Haenggi et al. 1990, Eq. (4.9))
    _agree(_points("mean time", d["value"], d["stderr"], d["exact_mc"]))


def science_arrhenius(d):
    # the fitted slope estimates the exact MFPT's least-squares slope over the same points
    _agree([_slope("symmetric", d["symmetric"]["fit"], d["symmetric"]["exact_slope"])]
           + [_slope(p["name"], p["fit"], p["exact_slope"]) for p in d["tilted"]])


def science_sgd_trends(d):
    # slopes against the exact MFPT of the simulated model; the dt -> 0 extrapolation against that MFPT itself
    chk = d["dt_check"]
    _agree([_slope(p["key"], p["fit"], p["model_slope"]) for p in d["panels"]]
           + [("extrapolated mean time", chk["t0"], chk["t0_se"], chk["model_mfpt"])])


def science_sgld_trends(d):
    # (a) rate linear in k through the origin, slope the exact rate over the monitoring delay; (b), (c) exact slopes
    a = d["rate_k"]
    _agree([_slope("rate against k", a["fit"], a["slope_exact"] / a["delay"]),
            ("rate against k intercept", a["fit"].intercept, a["fit"].intercept_se, 0.0)]
           + [_slope(k, d[k]["fit"], d[k]["exact_slope"]) for k in ("against_inv_temp", "against_batch_size")])


def science_learned_landscape(d):
    # linear (chi^2 within its law) with the quadratic-valley slope of the exact noise covariance
    panels = d["panels"]
    for p in panels:
        if p["fit"].dof > 0:
            assert p["fit"].p_value >= ALPHA / (2 * len(panels)), f"{p['key']}: not linear ({p['fit']})"
    _agree([_slope(p["key"], p["fit"], p["predicted"]) for p in panels], ALPHA / 2)


def science_loss_change(d):
    _agree([c for i, k in enumerate(d["kinds"]) for c in _points(f"kind {i}", k["value"], k["stderr"], k["exact"])])


def science_loss_trajectory(d):
    _agree(_points("loss", d["value"], d["stderr"], d["curve"][d["at"]]))


def science_noise_covariance(d):
    # E tr Cov(xi) = tr C / B with replacement, tr C (N - B) / (B (N - 1)) without (Cochran 1977, Thm 2.2)
    b, n, tr_c = d["batch_sizes"], d["n_data"], d["tr_c"]
    expected = {True: tr_c / b, False: tr_c * (n - b) / (b * (n - 1))}
    checks = []
    for tr in d["trace"]:
        keep = tr["stderr"] > 0  # B = N without replacement: no noise at all
        checks += _points(f"trace (replace={tr['replace']})", tr["value"][keep], tr["stderr"][keep],
                          expected[tr["replace"]][keep])
    _agree(checks)


def science_digits_edge(d):
    # GD on the digits network never settles above its edge: the second half's median is at most 2/lr
    # plus the band of dynamics.digits_gd_edge (2%); a short quick run may still be rising below it
    for run in d["runs"]:
        s = np.asarray(run["sharpness"])
        assert np.median(s[s.size // 2:]) <= 1.02 * run["edge"], f"lr={run['lr']}: above the edge"


SCIENCE = {"escape.kramers_accuracy": science_kramers_accuracy, "escape.arrhenius": science_arrhenius,
           "escape.sgd_trends": science_sgd_trends, "escape.sgld_trends": science_sgld_trends,
           "escape.learned_landscape": science_learned_landscape, "stability.loss_change": science_loss_change,
           "stability.loss_trajectory": science_loss_trajectory,
           "spectra.noise_covariance": science_noise_covariance, "dynamics.digits_edge": science_digits_edge}


def caption_learned_landscape(d):
    # "far steeper than C = H predicts": each slope above the C = H slope, one-sided
    z_star = z_critical(ALPHA, len(d["panels"]), two_sided=False)
    for p in d["panels"]:
        z = (p["fit"].slope - p["predicted_hessian"]) / p["fit"].slope_se
        assert z > z_star, f"{p['key']}: slope {p['fit'].slope:.3g} not above C = H's {p['predicted_hessian']:.3g}"


def caption_digits_edge(d):
    # "then hovers at 2/lr": the full run's second-half median within the check's 2% band
    for run in d["runs"]:
        s = np.asarray(run["sharpness"])
        assert abs(np.median(s[s.size // 2:]) - run["edge"]) <= 0.02 * run["edge"], f"lr={run['lr']}"


# Claims of a stored figure's caption that its quick data is too small to support.
CAPTION = {"escape.learned_landscape": caption_learned_landscape, "dynamics.digits_edge": caption_digits_edge}


# -- registry ---------------------------------------------------------------------------------------------------

def test_every_theory_module_registers_its_figures_under_its_name():
    import theory.figures as package

    from theory.bodies import BODIES

    modules = {m.name for m in pkgutil.iter_modules(package.__path__) if not m.name.startswith("_")} - {"core"}
    assert modules == set(BODIES)
    assert modules
    for name, f in figures.registry().items():
        theory_name = name.split(".", 1)[0]
        assert theory_name in modules and f.name == name and f.title
        assert f.compute.__module__ == f"theory.figures.{theory_name}"
    assert {n.split(".", 1)[0] for n in NAMES} == modules


def test_registering_a_name_twice_is_refused():
    name = NAMES[0]
    with pytest.raises(ValueError, match="twice"):
        figures.figure(name, title="again", compute=figures.registry()[name].compute)(lambda data: None)
    with pytest.raises(TypeError, match="compute"):
        figures.figure("stability.not_registered", title="t", compute=None)


@pytest.mark.parametrize("name", NAMES)
def test_data_round_trips_through_json_bit_for_bit(name, tmp_path):
    data = quick_data(name)
    path = figures.save_data(figures.registry()[name], data, tmp_path, seed=SEED, quick=True)
    json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    back = figures.read_data(path)["data"]
    assert figures.same(back, data)
    assert figures.schema(back) == figures.schema(data)


@pytest.mark.parametrize("name", NAMES)
def test_draw_returns_figure_with_labelled_axes(name):
    fig = figures.registry()[name].draw(quick_data(name))
    try:
        assert isinstance(fig, MplFigure)
        axes = fig.get_axes()
        assert axes
        assert any(ax.get_xlabel() for ax in axes)
        assert all(ax.get_ylabel() or ax.get_shared_y_axes().get_siblings(ax) != [ax] for ax in axes)
        assert any(ax.get_title() for ax in axes) or fig.get_suptitle()
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)


@pytest.mark.parametrize("name", NAMES)
def test_render_from_stored_data_draws_what_memory_draws(name, tmp_path):
    fig = figures.registry()[name]
    data = quick_data(name)
    path = figures.save_data(fig, data, tmp_path / "data", seed=SEED, quick=True)
    assert path == tmp_path / "data" / f"{name}.json"

    def no_compute(**kw):
        raise AssertionError("render computed although current stored data was given")

    stored_only = dataclasses.replace(fig, compute=no_compute)
    paths = figures.render(stored_only, tmp_path, quick=True, seed=SEED, data_dir=tmp_path / "data")
    assert sorted(p.suffix for p in paths) == [".pdf", ".png"]
    for p in paths:
        assert p.parent == tmp_path and p.name.startswith(name) and p.stat().st_size > 1000
    assert (tmp_path / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / f"{name}.pdf").read_bytes()[:5] == b"%PDF-"
    assert _png(fig.draw(figures.load_data(fig, tmp_path / "data", seed=SEED))) == _png(fig.draw(data))


def test_stale_or_foreign_stored_data_is_not_drawn(tmp_path):
    fig = figures.registry()["stability.loss_change"]
    data = quick_data(fig.name)
    assert figures.load_data(fig, tmp_path, seed=SEED) is None  # no file
    figures.save_data(fig, data, tmp_path, seed=SEED, quick=True)
    assert figures.same(figures.load_data(fig, tmp_path, seed=SEED), data)
    assert figures.load_data(fig, tmp_path, seed=SEED + 1) is None  # another seed
    changed = dataclasses.replace(fig, params=lambda quick: {"n_runs": 7})
    assert figures.load_data(changed, tmp_path, seed=SEED) is None  # parameters changed since
    record = figures.read_data(tmp_path / f"{fig.name}.json")
    assert record["figure"] == fig.name and record["seed"] == SEED and record["quick"] is True
    assert record["params"] == fig.params(True)
    with pytest.raises(ValueError, match="seed"):
        figures.save_data(fig, data, tmp_path, seed=None)
    (tmp_path / "bad.json").write_text('{"format": 99}')
    with pytest.raises(ValueError, match="format"):
        figures.read_data(tmp_path / "bad.json")


def test_data_that_cannot_be_stored_is_refused(tmp_path):
    fig = figures.registry()["stability.variational_factor"]
    with pytest.raises(TypeError, match=r"data\['x'\]"):
        figures.save_data(fig, {"x": object()}, tmp_path)
    with pytest.raises(TypeError, match="keys"):
        figures.save_data(fig, {1: 2.0}, tmp_path)
    with pytest.raises(TypeError, match="dtype"):
        figures.save_data(fig, {"x": np.array([1 + 2j])}, tmp_path)


def test_schema_ignores_sizes_but_not_structure():
    a = {"x": np.zeros(3), "n": 1, "fits": [LineFit(1, 1, 1, 1, 1, 1, 1, 1, 1, 3)]}
    b = {"x": np.ones(30), "n": 5, "fits": [LineFit(2, 1, 1, 1, 1, 1, 1, 1, 1, 3)] * 2}
    assert figures.schema(a) == figures.schema(b)
    assert figures.schema(a) != figures.schema({**a, "x": np.zeros((3, 1))})
    assert figures.schema(a) != figures.schema({**a, "n": 1.0})
    assert not figures.same(a, b) and figures.same(a, a) and figures.same(np.float64(np.nan), float("nan"))
    assert not figures.same(0.0, -0.0) and not figures.same(np.zeros(2), np.zeros(2, dtype=np.float32))


def test_draw_with_quick_and_seed_is_deprecated_but_works():
    fig = figures.registry()["stability.variational_factor"]
    with pytest.warns(DeprecationWarning, match="draw"):
        old = fig.draw(quick=True, seed=0)
    assert _png(old) == _png(fig.draw(fig.compute(quick=True, seed=0)))
    with pytest.raises(TypeError, match="compute"):
        fig.draw(fig.compute(), quick=True)


def test_compute_is_a_function_of_quick_and_seed():
    fig = figures.registry()["stability.loss_change"]
    assert figures.same(fig.compute(quick=True, seed=SEED), quick_data(fig.name))
    assert not figures.same(fig.compute(quick=True, seed=SEED + 1), quick_data(fig.name))


def test_draw_leaves_global_style_alone():
    before = dict(matplotlib.rcParams)
    figures.registry()["stability.variational_factor"].draw(quick_data("stability.variational_factor"))
    assert dict(matplotlib.rcParams) == before


# -- science ----------------------------------------------------------------------------------------------------

def test_science_checks_name_registered_figures():
    assert set(SCIENCE) <= set(NAMES) and set(CAPTION) <= set(STORED)


@pytest.mark.parametrize("name", NAMES)
def test_every_fit_or_bias_correction_has_a_science_check(name):
    if _holds_fit_or_bias(quick_data(name)):
        assert name in SCIENCE, f"{name}'s data holds a fit or a bias correction but has no science check"


@pytest.mark.parametrize("name", sorted(SCIENCE))
def test_quick_data_agrees_with_the_theory(name):
    SCIENCE[name](quick_data(name))


def test_a_science_check_can_fail():
    d = quick_data("escape.arrhenius")
    fit = d["symmetric"]["fit"]
    wrong = {**d, "symmetric": {**d["symmetric"], "exact_slope": fit.slope + 10 * fit.slope_se}}
    with pytest.raises(AssertionError, match="symmetric slope"):
        science_arrhenius(wrong)


# -- stored full-size data --------------------------------------------------------------------------------------

def test_every_stored_file_belongs_to_a_stored_figure():
    files = sorted(p.stem for p in DATA_DIR.glob("*.json"))
    assert files == STORED


@pytest.mark.parametrize("name", STORED)
def test_stored_data_is_current_and_supports_the_theory(name):
    fig = figures.registry()[name]
    record = figures.read_data(DATA_DIR / f"{name}.json")
    assert record["figure"] == name and record["seed"] == DOCS_SEED and record["quick"] is False
    data = figures.load_data(fig, DATA_DIR, seed=DOCS_SEED)
    assert data is not None, f"{name}: stored data is stale; run `theory figures --store docs/figure_data`"
    assert figures.schema(data) == figures.schema(quick_data(name))
    assert name in SCIENCE
    SCIENCE[name](data)
    if name in CAPTION:
        CAPTION[name](data)


# -- command line -----------------------------------------------------------------------------------------------

def test_cli_list(capsys):
    assert cli.main(["figures", "--list"]) == 0
    out = capsys.readouterr().out
    for name in NAMES:
        assert name in out


def test_cli_only_quick(tmp_path, capsys):
    out_dir = tmp_path / "figs"
    rc = cli.main(["figures", "--out", str(out_dir), "--quick", "--no-progress",
                   "--only", "stability.variational_factor"])
    assert rc == 0
    written = sorted(p.name for p in out_dir.iterdir())
    assert written == ["stability.variational_factor.pdf", "stability.variational_factor.png"]
    assert all((out_dir / n).stat().st_size > 0 for n in written)
    assert "stability.variational_factor.png" in capsys.readouterr().out


def test_cli_writes_every_documented_format_svg_included(tmp_path, capsys):
    # the SVG writer refuses the PDF metadata keys ("Unknown metadata key(s) passed to SVG writer: Producer")
    out_dir = tmp_path / "figs"
    rc = cli.main(["figures", "--out", str(out_dir), "--no-progress", "--format", "svg", "png", "pdf",
                   "--only", "stability.variational_factor"])
    assert rc == 0
    written = sorted(p.name for p in out_dir.iterdir())
    assert written == [f"stability.variational_factor.{x}" for x in ("pdf", "png", "svg")]
    svg = (out_dir / "stability.variational_factor.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "Matplotlib v" not in svg  # no version stamp


def test_cli_default_is_quick_and_full_is_a_flag(tmp_path, monkeypatch):
    seen = []
    real = figures.render

    def spy(fig, out_dir, **kw):
        seen.append(kw["quick"])
        return real(fig, out_dir, **kw)

    monkeypatch.setattr(figures, "render", spy)
    args = ["figures", "--out", str(tmp_path), "--no-progress", "--only", "stability.variational_factor"]
    assert cli.main(args) == 0 and cli.main(args + ["--full"]) == 0
    assert seen == [True, False]


def test_cli_store_writes_full_size_data_of_stored_figures_and_draws_from_it(tmp_path, monkeypatch, capsys):
    reg = figures.registry()
    cheap = dataclasses.replace(reg["stability.variational_factor"], stored=True)
    monkeypatch.setattr(figures, "select", lambda only=None: [cheap, reg["stability.vgd_threshold"]])
    store, out = tmp_path / "data", tmp_path / "figs"
    assert cli.main(["figures", "--store", str(store), "--no-progress"]) == 0
    assert sorted(p.name for p in store.iterdir()) == ["stability.variational_factor.json"]  # stored ones only
    assert figures.read_data(store / "stability.variational_factor.json")["quick"] is False
    assert not out.exists()
    capsys.readouterr()
    assert cli.main(["figures", "--out", str(out), "--data", str(store), "--no-progress", "--format", "png"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["stability.variational_factor.png", "stability.vgd_threshold.png"]


def test_cli_needs_an_output(capsys):
    assert cli.main(["figures", "--only", "stability.variational_factor"]) == 2
    assert "--out DIR is required" in capsys.readouterr().err


def test_cli_no_match(tmp_path, capsys):
    assert cli.main(["figures", "--out", str(tmp_path), "--only", "no-such-figure"]) == 2
    assert "no figure matches" in capsys.readouterr().err


def test_no_warning_from_drawing_stored_data(tmp_path):
    fig = figures.registry()["stability.variational_factor"]
    figures.save_data(fig, quick_data(fig.name), tmp_path, seed=SEED, quick=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        figures.render(fig, tmp_path / "out", formats=("png",), quick=True, seed=SEED, data_dir=tmp_path)


def test_the_loss_change_caption_quotes_the_figure_data():
    import re

    caption = " ".join((DATA_DIR.parent / "stability.md").read_text().split("stability.loss_change.png", 1)[1]
                       .split("```", 1)[0].split())
    sigma, gauss, student = re.search(r"= ([\d.]+)\$ \(solid\).*?threshold \(dashed\) from ([\d.]+) to ([\d.]+)",
                                      caption).groups()
    kinds = quick_data("stability.loss_change")["kinds"]
    assert kinds[0]["dof"] == np.inf and np.isfinite(kinds[1]["dof"])
    assert f"{kinds[1]['sigma']:.3g}" == sigma
    assert (f"{kinds[0]['threshold']:.3g}", f"{kinds[1]['threshold']:.3g}") == (gauss, student)
