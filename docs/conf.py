"""Sphinx configuration for the documentation of the ``theory`` package.

Build with::

    sphinx-build -W --keep-going -b html docs docs/_build/html

At ``builder-inited`` the build generates, under ``docs/_generated/``:

- ``figures/<name>.png``: every registered figure (``theory.figures``), drawn
  with ``quick=True`` and seed 0, or, for a figure marked ``stored``, from its
  full-size data in ``docs/figure_data/`` (``theory figures --store
  docs/figure_data``; missing or stale data is a warning). A figure that fails
  to draw fails the build.
- ``checks_table.md``: the table of registered checks (``theory.checks``).
- ``tables/<name>.md``: the tables of numbers quoted on the pages
  (``docs/doc_tables.py``), computed now or read from ``docs/data/``.

and copies ``notebooks/*.ipynb`` to ``docs/notebooks/``, where MyST-NB executes
them (cached under ``docs/_build/.jupyter_cache``, cleared whenever the
package's source changes) and renders code, output and figures together. A
cell that raises fails the build.

MathJax is served from the site itself (``_static/mathjax``, from
sphinx-mathjax-offline), so the pages render their mathematics without a
network connection; at ``build-finished`` the build fails if a page loads
MathJax from anywhere else.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import sys
import time
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))  # the package, even when it is not installed
sys.path.insert(0, str(DOCS))  # doc_tables.py

os.environ.setdefault("MPLBACKEND", "Agg")
# mathtext reports at INFO level each glyph it borrows from another font
# (e.g. \mathbb{E} under the DejaVu math fonts): not build output.
logging.getLogger("matplotlib.mathtext").setLevel(logging.WARNING)

import theory  # noqa: E402

# -- Project ------------------------------------------------------------------

project = "theory"
author = "the theory authors"
copyright = "2025, the theory authors"
release = theory.__version__
version = release

# -- General ------------------------------------------------------------------

extensions = [
    "myst_nb",  # the MyST parser for the pages, and the notebooks
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # a copy of MathJax 3 in _static/mathjax
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"
# _generated/ and benchmarks_table.md are pulled into pages with {include};
# they are not pages of their own.
exclude_patterns = ["_build", "_generated", "data", "figure_data", "benchmarks_table.md", "Thumbs.db", ".DS_Store"]
nitpicky = False

# -- Math ---------------------------------------------------------------------

MATHJAX_LOCAL = "mathjax/tex-chtml.js"  # under _static/, copied there by sphinx-mathjax-offline
mathjax_path = MATHJAX_LOCAL

# -- Notebooks (MyST-NB) --------------------------------------------------------

NOTEBOOK_SOURCES = ROOT / "notebooks"
NOTEBOOKS = DOCS / "notebooks"  # copies of NOTEBOOK_SOURCES/*.ipynb, made at builder-inited
NB_CACHE = DOCS / "_build" / ".jupyter_cache"

nb_execution_mode = "cache"
nb_execution_cache_path = str(NB_CACHE)
nb_execution_timeout = 600  # seconds per cell
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True

myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3
myst_dmath_double_inline = True

autodoc_member_order = "bysource"
autodoc_typehints = "description"
# Types from annotations go next to parameters the docstring documents; the
# dataclasses document their fields as attributes, not as parameters.
autodoc_typehints_description_target = "documented_params"
autodoc_preserve_defaults = True
# Signatures come from the code.
autodoc_docstring_signature = False

napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
# Module docstrings open with a "Conventions" section: render it as a rubric
# (a section title inside a docstring would otherwise be an error).
napoleon_custom_sections = ["Conventions"]

# -- HTML ---------------------------------------------------------------------

html_theme = "furo"
html_title = f"theory {release}"
html_static_path: list[str] = []

# -- Generated content --------------------------------------------------------

GENERATED = DOCS / "_generated"
FIGURES = GENERATED / "figures"
FIGURE_DATA = DOCS / "figure_data"  # full-size data of the figures marked `stored` (theory figures --store)
FIGURE_SEED = 0


def _write_if_changed(path: Path, text: str) -> None:
    """Write ``text`` unless ``path`` already holds it (keeps incremental builds incremental)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def checks_table() -> str:
    """The registered checks as a Markdown table."""
    from theory import checks

    lines = [
        "| Check | What is compared | Formula | Simulator | Suite | False-alarm rate |",
        "|---|---|---|---|---|---|",
    ]
    for c in checks.registry().values():
        lines.append(
            f"| `{_cell(c.name)}` | {_cell(c.title)} | `{_cell(c.formula)}` | `{_cell(c.simulator)}` "
            f"| {'quick' if c.quick else 'full'} | {c.alpha:g} |"
        )
    n = len(checks.registry())
    n_quick = sum(c.quick for c in checks.registry().values())
    lines += ["", f"{n} checks are registered; `theory verify --quick` runs the {n_quick} marked *quick*.", ""]
    return "\n".join(lines)


def render_figures(logger) -> list[Path]:
    """Draw every registered figure (quick, seed 0; stored ones from their data) as PNG into _generated/figures/.

    Any exception propagates, so a figure that cannot be drawn fails the build.
    """
    from theory import figures

    registered = figures.registry()
    if not registered:
        raise RuntimeError("theory.figures.registry() is empty: there are no figures to put in the docs")
    if FIGURES.exists():
        shutil.rmtree(FIGURES)  # no stale figures from a previous registry
    paths = []
    for fig in registered.values():
        start = time.perf_counter()
        from_data = fig.stored and figures.load_data(fig, FIGURE_DATA, seed=FIGURE_SEED) is not None
        if fig.stored and not from_data:
            logger.warning(f"[theory] figure {fig.name} is drawn from stored full-size data, but "
                           f"docs/{FIGURE_DATA.name}/{fig.name}.json is missing or stale: run "
                           f"`theory figures --store docs/{FIGURE_DATA.name}`; drawn with quick=True instead")
        try:
            paths += figures.render(fig, FIGURES, formats=("png",), quick=True, seed=FIGURE_SEED, data_dir=FIGURE_DATA)
        except Exception as exc:
            raise RuntimeError(f"figure {fig.name!r} could not be drawn: {type(exc).__name__}: {exc}") from exc
        how = "from stored data" if from_data else "quick"
        logger.info(f"[theory] figure {fig.name} drawn ({how}) in {time.perf_counter() - start:.1f} s")
    return paths


def package_fingerprint() -> str:
    """SHA-256 of the package's source files (names and contents)."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "theory").rglob("*.py")):
        digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def kernel_for_notebooks() -> None:
    """A 'python3' kernelspec that runs this interpreter on this checkout, first on JUPYTER_PATH."""
    spec_dir = GENERATED / "jupyter" / "kernels" / "python3"
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")])),
           "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 (theory docs)", "language": "python", "env": env}
    _write_if_changed(spec_dir / "kernel.json", json.dumps(spec, indent=1))
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        filter(None, [str(GENERATED / "jupyter"), os.environ.get("JUPYTER_PATH", "")]))


def copy_notebooks(logger) -> None:
    """Copy the notebooks into the source tree; a changed package invalidates their executed outputs."""
    stamp = NB_CACHE / "theory-source.sha256"
    fingerprint = package_fingerprint()
    stale = not stamp.exists() or stamp.read_text(encoding="utf-8").strip() != fingerprint
    if stale and NB_CACHE.exists():
        logger.info("[theory] the package changed: the notebooks are executed again")
        shutil.rmtree(NB_CACHE)
    NOTEBOOKS.mkdir(parents=True, exist_ok=True)
    sources = sorted(NOTEBOOK_SOURCES.glob("*.ipynb"))
    if not sources:
        raise RuntimeError(f"no notebooks in {NOTEBOOK_SOURCES}")
    for old in NOTEBOOKS.glob("*.ipynb"):
        if not (NOTEBOOK_SOURCES / old.name).exists():
            old.unlink()
    for src in sources:
        dst = NOTEBOOKS / src.name
        # rewriting a copy (new mtime) makes Sphinx read, and so execute, it again
        if stale or not dst.exists() or dst.read_bytes() != src.read_bytes():
            shutil.copyfile(src, dst)
    NB_CACHE.mkdir(parents=True, exist_ok=True)
    stamp.write_text(fingerprint + "\n", encoding="utf-8")


def write_tables(logger) -> None:
    """The tables quoted on the pages: the cheap ones computed now, the training runs' from docs/data/."""
    import doc_tables

    start = time.perf_counter()
    tables = {**doc_tables.build_time_tables(), **doc_tables.stored_tables()}
    for name, text in tables.items():
        _write_if_changed(GENERATED / "tables" / f"{name}.md", text)
    logger.info(f"[theory] {len(tables)} tables written in {time.perf_counter() - start:.1f} s")


def bodies_table() -> str:
    """Where each body of theory lives (:data:`theory.bodies.BODIES`), as a Markdown table."""
    from theory.bodies import BODIES

    def mods(names):
        return ", ".join(f"{{mod}}`{n}`" for n in names) or "–"

    lines = ["| Body | Formulas | Models | Simulators | Checks | Figures |", "|---|---|---|---|---|---|"]
    for b in BODIES.values():
        page = Path(b.page).stem
        lines.append(f"| {{doc}}`{b.name} <{page}>` | {mods(b.formulas)} | {mods(b.models)} | {mods(b.simulators)} "
                     f"| {len(b.checks())} `{b.prefix}*` | {len(b.figures())} `{b.prefix}*` |")
    return "\n".join(lines) + "\n"


def generate(app) -> None:
    from sphinx.util import logging as sphinx_logging

    logger = sphinx_logging.getLogger(__name__)
    GENERATED.mkdir(parents=True, exist_ok=True)
    _write_if_changed(GENERATED / "checks_table.md", checks_table())
    _write_if_changed(GENERATED / "bodies_table.md", bodies_table())
    write_tables(logger)
    render_figures(logger)
    kernel_for_notebooks()
    copy_notebooks(logger)


# -- Offline math ---------------------------------------------------------------

_SCRIPT_SRC = re.compile(r"<script\b[^>]*\bsrc=[\"']([^\"']+)[\"']", re.IGNORECASE)
_REMOTE_MATHJAX = re.compile(r"(?:https?:)?//[^\"'\s>]*mathjax", re.IGNORECASE)


def offline_math_problems(outdir) -> list[str]:
    """What keeps the HTML pages under ``outdir`` from rendering their math offline (empty when nothing).

    Every page must load MathJax, if at all, from the local copy
    ``_static/mathjax/tex-chtml.js`` (which must exist), by a relative path,
    and no page may name a remote MathJax URL. Pages holding math must load it.
    """
    outdir = Path(outdir)
    local = (outdir / "_static" / MATHJAX_LOCAL).resolve()
    problems = [] if local.is_file() else [f"{local} is missing"]
    n_math = 0
    for page in sorted(outdir.rglob("*.html")):
        html = page.read_text(encoding="utf-8", errors="replace")
        name = page.relative_to(outdir).as_posix()
        problems += [f"{name}: remote MathJax {url}" for url in _REMOTE_MATHJAX.findall(html)]
        sources = [src for src in _SCRIPT_SRC.findall(html) if "mathjax" in src.lower()]
        for src in sources:
            target = (page.parent / src.split("?", 1)[0]).resolve()
            if "://" in src or src.startswith("//") or target != local:
                problems.append(f"{name}: MathJax loaded from {src}, not from _static/{MATHJAX_LOCAL}")
        if 'class="math' in html:
            n_math += 1
            if not sources:
                problems.append(f"{name}: has math but loads no MathJax")
    if n_math == 0:
        problems.append(f"no page under {outdir} holds math: the check looked at the wrong place")
    return problems


def check_offline_math(app, exc) -> None:
    if exc is not None or app.builder.format != "html":
        return
    from sphinx.errors import ExtensionError

    problems = offline_math_problems(app.outdir)
    if problems:
        raise ExtensionError("the pages would not render math offline:\n  " + "\n  ".join(problems))


def setup(app):
    app.connect("builder-inited", generate)
    # after sphinx-mathjax-offline's copy (priority 500)
    app.connect("build-finished", check_offline_math, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
