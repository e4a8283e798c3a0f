"""The numbers quoted in the ``dynamics.digits_vgd`` docstring, recomputed from the check's own runs."""

from __future__ import annotations

import re

import numpy as np
import pytest

from theory import checks
from theory.checks import dynamics


def _quoted():
    doc = " ".join(dynamics.__doc__.split())
    return doc[doc.index("(``dynamics.digits_vgd``)"):doc.index("(``dynamics.ivon_adaptive``)")]


def test_the_docstring_quotes_a_pair_for_each_vgd_run():
    pairs = re.findall(r"([\d.]+) against ([\d.]+) at", _quoted())
    assert len(pairs) == len(dynamics.DIGITS_VGD["vgd"])


@pytest.mark.slow
def test_the_numbers_quoted_in_the_digits_vgd_docstring_are_current(monkeypatch):
    doc, kept = _quoted(), {}
    original = dynamics.digits_vgd_runs

    def keep(*args, **kwargs):
        kept["runs"] = original(*args, **kwargs)
        return kept["runs"]

    monkeypatch.setattr(dynamics, "digits_vgd_runs", keep)
    result = checks.run(checks.registry()["dynamics.digits_vgd"], seed=0)
    assert result.passed, [(r.label, r.z) for r in result.rows]
    runs, ivon_run = kept["runs"]
    pairs = [(float(a), float(b)) for a, b in re.findall(r"([\d.]+) against ([\d.]+) at", doc)]
    got = [(dynamics._plateau(r.sharpness), dynamics._plateau(r.threshold)) for r in runs]
    assert [(float(f"{s:.3g}"), float(f"{t:.3g}")) for s, t in got] == pairs
    # the declared 12% exceeds the closest plateau/threshold margin, which the docstring quotes
    margin = min(s / t - 1 for s, t in got)
    assert f"{100 * margin:.1f}" == re.search(r"sits ([\d.]+)% above", doc).group(1)
    assert margin < checks.registry()["dynamics.digits_vgd"].mutations()["theory.vgd.vgd_threshold"]
    half = dynamics._second_half(ivon_run.adaptive_sharpness)
    med, peak, edge = (float(x) for x in re.search(r"has median ([\d.]+) and maximum ([\d.]+) against ([\d.]+)",
                                                    doc).groups())
    assert (round(float(np.median(half)), 2), round(float(half.max()), 2), round(ivon_run.adaptive_edge, 2)) == (
        med, peak, edge)
    slack = 100 * (1 - half.max() / (ivon_run.adaptive_edge * (1 + dynamics.DIGITS_VGD["ivon"]["allowance"])))
    assert f"{slack:.1f}" == re.search(r"more than ([\d.]+)% fails it", doc).group(1) and slack < 5
    _, low = original(seed=0, vgd=(), ivon_ess=1e4)
    quoted_low = float(re.search(r"as it does VGD: median ([\d.]+)", doc).group(1))
    assert round(float(np.median(dynamics._second_half(low.adaptive_sharpness))), 2) == quoted_low
