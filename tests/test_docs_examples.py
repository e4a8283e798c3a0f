"""The examples in the README, on the front page and in docstrings run and print what they show;
the numbers quoted on the documentation pages are current; the built pages render math offline."""

from __future__ import annotations

import doctest
from pathlib import Path

import numpy as np
import pytest

import theory.batch_size
import theory.ivon
import theory.kramers
import theory.marchenko_pastur
import theory.quadratic
import theory.sam
import theory.sharpness
import theory.vgd

MODULES = [theory.vgd, theory.quadratic, theory.kramers, theory.marchenko_pastur, theory.sharpness,
           theory.batch_size, theory.sam, theory.ivon]

ROOT = Path(__file__).resolve().parents[1]
FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS


@pytest.mark.parametrize("path", ["README.md", "docs/index.md"])
def test_readme_and_front_page_examples(path):
    result = doctest.testfile(str(ROOT / path), module_relative=False, optionflags=FLAGS)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("module", MODULES, ids=[m.__name__ for m in MODULES])
def test_docstring_examples(module):
    assert doctest.testmod(module, optionflags=FLAGS).failed == 0


# ---------------------------------------------------------------- numbers quoted on the pages

DOCS = ROOT / "docs"


def _load(name, path):
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def doc_tables():
    return _load("theory_doc_tables", DOCS / "doc_tables.py")


@pytest.fixture(scope="module")
def stored(doc_tables):
    import json

    return json.loads(doc_tables.MEASURED.read_text(encoding="utf-8"))


def test_pages_include_their_generated_tables_and_no_hand_copy(doc_tables):
    rendered = {**doc_tables.build_time_tables(), **doc_tables.stored_tables()}
    for page, names in doc_tables.PAGES.items():
        text = (DOCS / page).read_text(encoding="utf-8")
        for name in names:
            assert f"```{{include}} _generated/tables/{name}.md\n```" in text, (page, name)
            body = rendered[name].splitlines()[2:]
            assert body and not any(row in text for row in body), f"{page} holds a hand copy of {name}"


def test_stored_tables_were_measured_with_the_current_settings(doc_tables, stored):
    import json

    from theory.figures import dynamics as fd

    settings = json.loads(json.dumps(doc_tables.SETTINGS))
    settings["flatness"].update(figure=json.loads(json.dumps(fd.FLATNESS)), network=json.loads(json.dumps(fd.NETWORK)))
    assert stored["settings"] == settings, f"settings changed: rerun `{doc_tables.COMMAND}`"
    s = doc_tables.SETTINGS
    assert [r["lr"] for r in stored["gd_plateau"]] == list(s["gd_plateau"]["lrs"])
    assert [(r["lr"], r["sigma"]) for r in stored["vgd_plateau"]] == [
        (lr, sigma) for lr in s["vgd_plateau"]["lrs"] for sigma in s["vgd_plateau"]["sigmas"]]
    assert all(len(r["plateaus"]) == s["vgd_plateau"]["seeds"] for r in stored["vgd_plateau"])
    names = list(doc_tables.flatness_problem()[2])
    assert [r["name"] for r in stored["flatness"]] == names


@pytest.mark.slow
def test_stored_measurements_are_what_the_package_computes_now(doc_tables, stored):
    """Rerun the GD table, one VGD row and the GD row of the flatness table; compare the printed digits."""
    t = doc_tables
    assert t.gd_plateau_table(t.measure_gd_plateau()) == t.gd_plateau_table(stored["gd_plateau"])
    row = stored["vgd_plateau"][1]
    again = t.measure_vgd_plateau(lrs=(row["lr"],), sigmas=(row["sigma"],))
    assert t.vgd_plateau_table(again) == t.vgd_plateau_table([row])
    assert t.flatness_table(t.measure_flatness(names=["GD"])) == t.flatness_table(stored["flatness"][:1])


def test_the_prose_of_the_dynamics_page_holds_for_the_stored_numbers(doc_tables, stored):
    from theory.checks import dynamics

    mean_se = doc_tables.mean_se
    band = doc_tables.SETTINGS["gd_plateau"]["band"]
    for r in stored["gd_plateau"]:
        edge = 2.0 / r["lr"]
        at_edge = abs(r["plateau"] / edge - 1) <= band
        assert at_edge == (r["lr"] >= 0.45), r  # the edge is reached from lr = 0.45 on
        if r["lr"] in dynamics.CONFIG["gd"]["lrs"]:  # the check's runs oscillate inside its band
            assert abs(r["low"] / edge - 1) <= band and abs(r["high"] / edge - 1) <= band, r
        assert (r["start"] < edge) == (r["lr"] < 1.0), r  # below every edge but that of lr = 1
    for lr in {r["lr"] for r in stored["vgd_plateau"]}:
        rows = [r for r in stored["vgd_plateau"] if r["lr"] == lr]
        plateau = [np.mean(r["plateaus"]) for r in rows]
        ratio = [np.mean(r["plateaus"]) / np.mean(r["thresholds"]) for r in rows]
        assert all(np.diff(plateau) < 0), lr  # falls as sigma grows
        assert 1 < ratio[0] < 1.02 and all(1.1 <= x <= 1.2 for r, x in zip(rows, ratio) if r["sigma"] >= 0.02), lr
        assert max(plateau) < 2.0 / lr * (1 + band)
    rows = {r["name"]: {k: np.mean(v) for k, v in r.items() if k != "name"} for r in stored["flatness"]}
    gd = rows.pop("GD")
    for name, r in rows.items():
        if "exact" in name:
            continue
        assert r["sharpness"] < gd["sharpness"] and r["effective_number"] < gd["effective_number"], name
        assert r["count_above"] <= gd["count_above"], name
        assert (r["trace_ratio"] < gd["trace_ratio"]) == (not name.startswith("SGD")), name
    for r in stored["flatness"][1:]:  # only G-TRACER's (perturbed) test loss is resolved from GD's, above it
        (m1, s1), (m0, s0) = (mean_se(r["test_loss"]), mean_se(stored["flatness"][0]["test_loss"]))
        gtracer = r["name"].startswith("G-TRACER (")
        assert (abs(m1 - m0) > 2 * np.hypot(s1, s0)) == gtracer and (m1 > m0 or not gtracer), r["name"]
    perturbed, exact = (rows[n] for n in rows if n.startswith("G-TRACER"))
    assert perturbed["sharpness"] == min(r["sharpness"] for r in rows.values())
    assert exact["trace_ratio"] < 0 and exact["train_loss"] > perturbed["train_loss"] > 10 * gd["train_loss"]


def test_escape_page_percentages_follow_the_validity_map():
    import re

    from theory.kramers import VALIDITY

    text = " ".join((DOCS / "escape.md").read_text(encoding="utf-8").split())
    ratios = dict(zip(VALIDITY["barrier_over_temperature"], VALIDITY["exact_over_kramers"]))
    off = int(re.search(r"(\d+)% off at \$\\Delta L/T = 2\.5\$", text).group(1))
    assert off == round(100 * (ratios[2.5] - 1))
    at_ten = int(re.search(r"exponent is below 10 \(about (\d+)% error\)", text).group(1))
    assert at_ten == round(100 * (ratios[10.0] - 1))


def test_learned_landscape_caption_quotes_the_stored_figure_data():
    import json
    import re

    stored = json.loads((DOCS / "figure_data" / "escape.learned_landscape.json").read_text(encoding="utf-8"))
    text = " ".join((DOCS / "escape.md").read_text(encoding="utf-8").split())
    caption = text[text.index("This figure is drawn from its stored full-size run"):]
    quoted = re.search(r"\$([\d.]+)\\pm([\d.]+)\$ against \$B\$ \(\$\\chi\^2 = ([\d.]+)\$ on 3; predicted ([\d.]+) "
                       r"with the exact \$C\$, ([\d.]+) with \$C = H\$\) and \$([\d.]+)\\pm([\d.]+)\$ against "
                       r"\$1/\\eta\$ \(\$\\chi\^2 = ([\d.]+)\$ on 3; predicted ([\d.]+) and ([\d.]+)\)", caption).groups()
    printed = []
    for panel in stored["data"]["panels"]:
        fit = panel["fit"]["fields"]
        printed.append((fit["slope"], fit["slope_se"], fit["chi2"], panel["predicted"], panel["predicted_hessian"]))
    (b, b_se, b_chi2, b_pred, b_hess), (e, e_se, e_chi2, e_pred, e_hess) = printed
    values = [b, b_se, b_chi2, b_pred, b_hess, e, e_se, e_chi2, e_pred, e_hess]
    for q, v in zip(quoted, values):
        decimals = len(q.split(".")[1]) if "." in q else 0
        assert f"{v:.{decimals}f}" == q, (q, v)


def test_stability_spot_values_are_the_references_and_the_package_rounds_them():
    import re

    import mpmath

    from theory.vgd import variational_factor

    def number(tex):
        tex = tex.strip("$ ")
        m = re.fullmatch(r"(?:([\d.]+)\\times)?10\^\{?(-?\d+)\}?", tex)
        return float(m.group(1) or 1) * 10.0 ** int(m.group(2)) if m else float(tex)

    text = (DOCS / "stability.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (\$[\d^{}-]+\$) \| (\$[\d.]+\$) \| \$[^|]+\$ \| \$([^$]+)\$( exactly)?", text, re.M)
    assert len(rows) == 4
    with mpmath.workdps(60):
        for z_tex, eta_tex, printed, exactly in rows:
            z, eta = number(z_tex), number(eta_tex)
            # the float inputs, or, for a value stated as exact, the decimal ones
            zz, ee = (mpmath.mpf(z_tex.strip("$")), mpmath.mpf(eta_tex.strip("$"))) if exactly else (z, eta)
            w = mpmath.mpf(zz) * mpmath.mpf(ee) ** 2 / 4
            # the real root of x^3 + w x - w (Cardano, hyperbolic form), checked by its residual
            root = 2 * mpmath.sqrt(w / 3) * mpmath.sinh(mpmath.asinh(1.5 * mpmath.sqrt(3 / w)) / 3)
            assert abs(root**3 + w * root - w) <= mpmath.mpf(10) ** -50 * w
            mant = printed.replace("\\times10^{", "e").rstrip("}")
            digits = len(mant.split("e")[0].replace(".", "").lstrip("0"))
            assert mpmath.nstr(root, digits) == mpmath.nstr(mpmath.mpf(mant), digits), (z_tex, eta_tex)
            assert variational_factor(z, eta) == float(root)


def test_offline_math_check_accepts_the_local_copy_and_refuses_anything_else(tmp_path):
    conf = _load("theory_docs_conf", DOCS / "conf.py")
    static = tmp_path / "_static" / "mathjax"
    static.mkdir(parents=True)
    (static / "tex-chtml.js").write_text("// MathJax")
    good = '<script defer="defer" src="{}_static/mathjax/tex-chtml.js"></script><span class="math">\\(x\\)</span>'
    (tmp_path / "index.html").write_text(good.format(""))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "page.html").write_text(good.format("../"))
    (tmp_path / "plain.html").write_text("<p>no math here</p>")
    assert conf.offline_math_problems(tmp_path) == []

    (tmp_path / "cdn.html").write_text(
        '<script src="https://cdn.jsdelivr.net/npm/mathjax@4/tex-mml-chtml.js"></script><span class="math">x</span>')
    (tmp_path / "none.html").write_text('<span class="math">x</span>')
    (tmp_path / "sub" / "wrong.html").write_text(good.format(""))  # resolves to sub/_static: missing
    problems = conf.offline_math_problems(tmp_path)
    assert any(p.startswith("cdn.html: remote MathJax") for p in problems)
    assert "none.html: has math but loads no MathJax" in problems
    assert any(p.startswith("sub/wrong.html: MathJax loaded from") for p in problems)
    (static / "tex-chtml.js").unlink()
    assert any(p.endswith("is missing") for p in conf.offline_math_problems(tmp_path))


def test_built_site_renders_math_offline():
    """After `sphinx-build ... docs docs/_build/html`: the built pages pass the same check."""
    html = DOCS / "_build" / "html"
    if not (html / "index.html").exists():
        pytest.skip("the documentation is not built")
    conf = _load("theory_docs_conf", DOCS / "conf.py")
    assert conf.offline_math_problems(html) == []
