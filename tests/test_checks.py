"""The checks registry and ``theory verify``."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from theory import checks
from theory.checks import Comparison, Context, stability
from theory.cli import main


def test_registry_names_carry_their_body():
    from theory.bodies import BODIES

    names = list(checks.registry())
    assert names, "no checks are registered"
    assert all(n.split(".")[0] in BODIES for n in names), names
    assert all(n.count(".") == 1 for n in names)
    first = names[0]
    with pytest.raises(ValueError, match="registered twice"):
        checks.register(first, title="", formula="", simulator="")(lambda ctx: [])


def test_a_renamed_check_keeps_its_stream_and_answers_to_its_former_name():
    renamed = [c for c in checks.registry().values() if c.stream]
    assert renamed
    for c in renamed:
        assert c.stream_key == c.stream != c.name
        assert c in checks.select(only=c.stream)
    c = checks.registry()["stability.expected_loss_change"]
    assert c.stream == "vgd.expected_loss_change"
    # the stream is derived from the stream key, not from the new name
    seen = []
    probe = checks.Check("stability.probe", "", lambda ctx: seen.append(ctx.seed.generate_state(2).tolist()) or [],
                         "", "", stream="vgd.probe")
    checks.run(probe, seed=5)
    from theory.rng import derive
    assert seen == [derive(5, "vgd.probe").generate_state(2).tolist()]


def test_select():
    assert all(c.quick for c in checks.select(quick=True))
    assert [c.name for c in checks.select(only="sign")] == ["stability.threshold_sign_change"]
    assert {c.name for c in checks.select(only="stability.*divergence,stability.full*")} == {
        "stability.gd_divergence", "stability.full_matrix"}
    assert {c.name for c in checks.select(only="sign, stability.gd")} == {"stability.threshold_sign_change",
                                                                          "stability.gd_divergence"}
    # former names still select
    assert {c.name for c in checks.select(only="quadratic.*")} == {"stability.gd_divergence", "stability.full_matrix"}


def test_every_quick_check_passes_with_the_default_seed_at_quick_sizes():
    # at full sizes, every check (and its power) is tested in test_mutation.py
    for c in checks.select(quick=True):
        result = checks.run(c, seed=0, quick=True)
        assert result.passed, (c.name, result.error, [(r.label, r.z) for r in result.rows])


def test_detectable_error_of_each_row_kind():
    crit = 4.0
    assert Comparison("s", 2.0, 2.0, 0.01).detectable(crit) == pytest.approx(0.02)
    assert Comparison("n", -2.0, -2.0, 0.01, kind="numerical").detectable(crit) == pytest.approx(0.005)
    assert Comparison("b", 2.0, 2.0, allowance=0.1, kind="band").detectable(crit) == pytest.approx(0.05)
    # a bound's power is its slack: the shift of the formula that makes it fail
    assert Comparison("m", 2.0, 1.5, allowance=0.1, kind="at_most").detectable(crit) == pytest.approx(0.3)
    assert Comparison("l", 2.0, 2.5, allowance=0.1, kind="at_least").detectable(crit) == pytest.approx(0.3)
    assert Comparison("p", 0.0, 1.0, 0.1, kind="positive").detectable(crit) == np.inf
    # a zero the simulation must hit states how fast it moves with the formula
    assert Comparison("z", 0.0, 0.0, 0.01, sensitivity=-2.0).detectable(crit) == pytest.approx(0.02)
    assert Comparison("z", 0.0, 0.0, 0.01).detectable(crit) == np.inf


def test_register_refuses_bad_declarations():
    with pytest.raises(ValueError, match="tests"):
        checks.register("stability.bad1", title="", formula="", simulator="", tests=("quadratic.f",))
    with pytest.raises(ValueError, match="mutation"):
        checks.register("stability.bad2", title="", formula="", simulator="", tests=("theory.a.b",), mutation=0)
    with pytest.raises(ValueError, match="one value per formula"):
        checks.register("stability.bad3", title="", formula="", simulator="", tests=("theory.a.b",),
                        mutation=(0.01, 0.02))
    assert "stability.bad1" not in checks.registry()


def test_the_sign_change_check_tests_the_threshold_alone(monkeypatch):
    # expected_loss_change is not used: a wrong one changes nothing; a threshold off by 1% fails
    c = checks.registry()["stability.threshold_sign_change"]
    assert c.tests == ("theory.vgd.vgd_threshold",)
    ref = checks.run(c, seed=0)
    monkeypatch.setattr(stability.quadratic, "expected_loss_change", lambda *a, **k: 1 / 0)
    same = checks.run(c, seed=0)
    assert same.passed and [r.estimate for r in same.rows] == [r.estimate for r in ref.rows]
    right = stability.vgd.vgd_threshold
    monkeypatch.setattr(stability.vgd, "vgd_threshold", lambda *a, **k: right(*a, **k) * 1.005)
    assert not checks.run(c, seed=0).passed


def test_verify_states_what_a_row_detects(capsys):
    assert main(["verify", "--quick", "--only", "stability.threshold_sign_change", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "detects" in out and "this quick run resolves" in out and "0.32%" in out


def test_a_check_fails_when_its_formula_is_wrong(monkeypatch):
    # the same check, with the noise term's 1/N_s forgotten: it must fail
    right = stability.quadratic.expected_loss_change
    monkeypatch.setattr(stability.quadratic, "expected_loss_change",
                        lambda lam, g, lr, sigma, ns=1, **kw: right(lam, g, lr, sigma, 1, **kw))
    result = checks.run(checks.registry()["stability.expected_loss_change"], seed=0)
    assert not result.passed


def test_spectral_check_fails_when_its_formula_is_wrong(monkeypatch):
    # N_eff off by a relative 0.01 alpha/(1 + alpha): at most 0.75% at the alphas checked
    from theory.checks import spectra

    right = spectra.mp.mp_effective_number
    monkeypatch.setattr(spectra.mp, "mp_effective_number",
                        lambda a, q, p, s=1.0: right(a, q, p, s) * (1 + 0.01 * np.asarray(a) / (1 + np.asarray(a))))
    assert not checks.run(checks.registry()["spectra.effective_number"], seed=0).passed


def test_sam_check_fails_when_the_edge_forgets_rho(monkeypatch):
    from theory.checks import dynamics

    monkeypatch.setattr(dynamics.sam, "usam_threshold", lambda lr, rho: 2.0 / lr)
    assert not checks.run(checks.registry()["dynamics.sam_threshold"], seed=0).passed


def test_bound_band_and_positive_rows():
    fake = checks.Check("dynamics.fake", "", lambda ctx: [
        Comparison("band in", 2.0, 2.05, allowance=0.1, kind="band"),
        Comparison("band out", 2.0, 2.2, allowance=0.1, kind="band"),
        Comparison("at most", 2.0, 2.05, allowance=0.1, kind="at_most"),
        Comparison("at most, far below", 2.0, -50.0, allowance=0.1, kind="at_most"),
        Comparison("at most, above", 2.0, 2.2, allowance=0.1, kind="at_most"),
        Comparison("at least", 2.0, 1.95, allowance=0.1, kind="at_least"),
        Comparison("at least, below", 2.0, 1.8, allowance=0.1, kind="at_least"),
        Comparison("positive", 0.0, 1.0, 0.1, kind="positive"),
        Comparison("unresolved", 0.0, 0.1, 0.1, kind="positive"),
    ], "", "")
    assert checks.run(fake).row_passed == [True, False, True, True, False, True, False, True, False]


def test_a_row_keeps_stderr_and_allowance_apart():
    with pytest.raises(ValueError, match="allowance"):
        Comparison("band", 2.0, 2.05, 0.1, kind="band")
    with pytest.raises(ValueError, match="stderr"):
        Comparison("stat", 2.0, 2.05, 0.1, allowance=0.1)
    with pytest.raises(ValueError, match="kind"):
        Comparison("odd", 2.0, 2.05, 0.1, kind="bandwidth")
    assert Comparison("band", 2.0, 2.05, allowance=0.1, kind="band").spread == 0.1
    assert Comparison("stat", 2.0, 2.05, 0.2).spread == 0.2
    # every registered check's rows obey the rule (dataclass validation), and the allowance kinds state one
    for result in (checks.run(c, seed=0) for c in checks.select(quick=True, only="dynamics.")):
        for row in result.rows:
            assert (row.kind in checks.ALLOWANCE_KINDS) or row.allowance == 0.0


def test_decision_rule():
    ctx = Context(seed=np.random.SeedSequence(0))
    fake = checks.Check("stability.fake", "", lambda ctx: [
        Comparison("ok", 1.0, 1.0 + 3e-3, 1e-3),
        Comparison("unresolved sign", 1.0, 2e-3, 1e-3, sign=True),
    ], "", "")
    result = checks.run(fake)
    assert result.row_passed == [True, False] and not result.passed
    crash = checks.run(checks.Check("stability.crash", "", lambda ctx: 1 / 0, "", ""))
    assert not crash.passed and "ZeroDivisionError" in crash.error
    assert ctx.child(1).entropy == ctx.seed.entropy


def test_verify_cli_prints_a_table_and_exit_status(capsys):
    assert main(["verify", "--only", "stability.expected_loss_change", "--no-progress", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "stability.expected_loss_change" in out and "lambda=12" in out and "pass" in out
    assert "1/1 checks passed" in out and "detects" in out
    assert main(["verify", "--list"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in checks.registry())
    assert main(["verify", "--only", "no-such-check"]) == 2


def test_verify_exits_nonzero_when_a_check_fails(monkeypatch, capsys):
    monkeypatch.setattr(stability.quadratic, "expected_loss_change",
                        lambda *a, **k: np.zeros(4))
    assert main(["verify", "--only", "stability.expected_loss_change", "--no-progress"]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_python_dash_m_entry_point():
    out = subprocess.run([sys.executable, "-m", "theory", "verify", "--list"], capture_output=True, text=True)
    assert out.returncode == 0 and "stability.threshold_sign_change" in out.stdout


def test_the_numbers_quoted_in_the_gd_plateau_docstring_are_current():
    # the docstring argues the 5% band from the oscillation it quotes: recompute what it quotes
    import re

    from theory.checks import dynamics
    from theory.simulators.training import GD

    doc = " ".join(dynamics.__doc__.split())
    low, high = (float(x) for x in re.search(r"between (-[\d.]+)% and \+([\d.]+)% of the edge", doc).groups())
    below = float(re.search(r"still (\d+)% below", doc).group(1))
    halves = []
    for lr in dynamics.CONFIG["gd"]["lrs"]:
        s = np.asarray(dynamics._run(GD(), lr=lr, n_steps=dynamics.CONFIG["gd"]["n_steps"]).sharpness) * lr / 2
        halves.append(s[s.size // 2:])
    h = np.concatenate(halves)
    assert (round(100 * (h.min() - 1), 1), round(100 * (h.max() - 1), 1)) == (low, high)
    assert max(abs(low), high) <= 100 * dynamics.CONFIG["gd"]["band"]
    slow = np.asarray(dynamics._run(GD(), lr=0.1, n_steps=dynamics.CONFIG["gd"]["n_steps"]).sharpness) * 0.1 / 2
    assert round(100 * (1 - slow[-1])) == below


def test_verify_table_gives_no_z_for_an_allowance_row(capsys):
    # a band states an allowance, not a standard error: its z would be a division by zero
    assert main(["verify", "--only", "dynamics.gd_plateau", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "(band)" in out and "inf" not in out.split("checks passed")[0]


def test_the_multipath_checks_stored_kramers_error_is_current():
    # the row's bias is (r - 1) x the Kramers value with r stored, so the check never calls the formula it tests
    from theory.checks.escape import SIM, multipath_exact_time
    exact, kramers_value = multipath_exact_time()
    assert SIM["multipath"]["exact_over_kramers"] == pytest.approx(exact / kramers_value, rel=1e-6)


@pytest.mark.slow
def test_the_numbers_quoted_in_the_digits_gd_edge_docstring_are_current():
    # the 2% band is argued from the oscillation, the trough and the slow run it quotes: recompute them
    import re

    from theory.checks import dynamics

    doc = " ".join(dynamics.__doc__.split())
    doc = doc[doc.index("(``dynamics.digits_gd_edge``)"):doc.index("(``dynamics.vgd_plateau``)")]
    low, high = (float(x) for x in re.search(r"between (-[\d.]+)% and \+([\d.]+)% of the edge", doc).groups())
    below = float(re.search(r"still (\d+)% below", doc).group(1))
    start = float(re.search(r"seeded start \(([\d.]+), above", doc).group(1))
    trough = tuple(float(x) for x in re.search(r"to ([\d.]+)-([\d.]+) at both", doc).groups())
    band = dynamics.DIGITS["band"]
    runs = dynamics.digits_runs()
    halves = [np.asarray(r.sharpness) * r.lr / 2 for r in runs]
    h = np.concatenate([s[s.size // 2:] for s in halves])
    assert (round(100 * (h.min() - 1), 2), round(100 * (h.max() - 1), 2)) == (low, high)
    assert max(abs(low), high) <= 100 * band / 2  # the band at least twice the oscillation
    assert {round(float(r.sharpness[0]), 1) for r in runs} == {start} and start > 2 / max(dynamics.DIGITS["lrs"])
    troughs = [dynamics._trough(r.sharpness) for r in runs]
    assert (round(min(troughs), 1), round(max(troughs), 1)) == trough
    (slow,) = dynamics.digits_runs(lrs=(0.05,), track_every=dynamics.DIGITS["n_steps"])
    assert round(100 * (1 - slow.sharpness[-1] * 0.05 / 2)) == below and below > 100 * band
