"""Convergence, extreme conditions, behaviour reproduction; broken model copies fail named checks."""
import itertools

import numpy as np
import pytest
from conftest import ROOT

from defdip.core.scenario import load_scenario, scenario_from_model
from defdip.validation.checks import load_checks, run_checks
from defdip.validation.validate import (
    annual_values,
    converged,
    convergence,
    extremes,
    fit_statistics,
    reproduction,
    theil,
)

MODEL = ROOT / "models" / "iran_russia.mdl"


def test_theil_components_sum_to_one():
    rng = np.random.default_rng(1)
    a = rng.gamma(2, 10, 12)
    s = 0.7 * a + rng.normal(5, 4, 12)
    stats = theil(s, a)
    assert stats["theil_um"] + stats["theil_us"] + stats["theil_uc"] == pytest.approx(1)
    assert stats["mse"] == pytest.approx(np.mean((s - a) ** 2))


def test_pure_bias_is_all_um_and_perfect_fit_is_zero():
    a = np.array([1.0, 4, 2, 8])
    assert theil(a + 3, a)["theil_um"] == pytest.approx(1)
    stats = fit_statistics(a, a)
    assert stats["mse"] == 0 and stats["mape"] == 0 and stats["r2"] == pytest.approx(1)


def test_mape_skips_zero_observations():
    assert fit_statistics([2.0, 5.0], [1.0, 0.0])["mape"] == pytest.approx(100)


def test_annual_values_of_a_running_total():
    time = np.arange(2010, 2013.01, 0.25)
    assert annual_values(time, 3 * (time - 2010), [2010, 2011, 2012]) == pytest.approx([3, 3, 3])


def test_converged_uses_the_floor_near_zero():
    assert converged(1e-4, 5e-4, 0.01, 1e-3)
    assert not converged(0.5, 0.52, 0.01, 1e-3)
    assert converged(None, None, 0.01, 1e-3) and not converged(None, 1.0, 0.01, 1e-3)


def test_baseline_reproduces_the_record(baseline):
    rows = reproduction(baseline.trajectories)
    assert all(r.passed for r in rows), [r for r in rows if not r.passed]
    assert {r.group for r in rows} == {"reproduction", "events", "held-out"}


def test_history_fit_statistics_by_hand(baseline):
    """r^2 with and without 2016, the totals and the timing, recomputed with numpy from the run and SIPRI."""
    from defdip.validation.validate import history_fit, sipri_series

    f = baseline.trajectories
    fit = history_fit(f)
    observed = sipri_series()
    years = list(observed.index)
    cum = f["Cumulative Transfer Value Russia to Iran"]
    sim = np.array([np.interp(y + 1, cum.index, cum) - np.interp(y, cum.index, cum) for y in years])
    obs = observed.to_numpy(float)
    assert fit["r2"] == pytest.approx(np.corrcoef(sim, obs)[0, 1] ** 2)
    keep = np.array(years) != 2016
    assert fit["r2_without_spike"] == pytest.approx(np.corrcoef(sim[keep], obs[keep])[0, 1] ** 2)
    assert fit["cumulative"] == pytest.approx(sim.sum()) and fit["cumulative_observed"] == 511
    half = next(y for y, c in zip(years, np.cumsum(obs)) if c >= 511 / 2)
    assert half == 2016 and fit["half_total_year_observed"] == 2016
    assert fit["timing_error_years"] == abs(next(y for y, c in zip(years, np.cumsum(sim)) if c >= 511 / 2) - 2016)


def test_held_out_targets_judge_verified_records_and_only_report_the_rest(baseline):
    from defdip.validation.validate import held_out

    rows = {r.name: r for r in held_out(baseline.trajectories)}
    for row in rows.values():
        assert row.numbers["judged"] is row.numbers["status"].startswith("verified")
        if row.numbers["judged"]:
            assert row.passed is row.numbers["inside"]
    # A reported figure never fails the model, whatever its value.
    moved = baseline.trajectories.copy()
    moved["Localised Share of Iranian Designs"] = 0.0
    alabuga = [r for r in held_out(moved) if "Alabuga" in r.name][0]
    assert not alabuga.numbers["inside"] and alabuga.passed


def test_shipped_model_converges():
    rows = convergence(load_scenario(ROOT / "scenarios" / "baseline.yaml"), engine="pysd")
    assert len(rows) >= 18 and all(r.passed for r in rows)


def test_extremes_on_the_shipped_model_batch():
    scenario = load_scenario(ROOT / "scenarios" / "baseline.yaml")
    rows = extremes(scenario, engine="pysd", names=["war start year", "gate steepness", "trust erosion time"])
    labels = [r.name for r in rows]
    assert "war start year=low" in labels and "all high" in labels and "maximum conflict" in labels
    assert all(r.passed for r in rows), [r for r in rows if not r.passed]


SMALL = """{UTF-8}
Stock = INTEG(-drain, 10)
\t~\tWidget [0,?]
\t~\t|
drain = rate * 2 / scale
\t~\tWidget/Year
\t~\t|
rate = 0.5
\t~\tWidget/Year [0,5]
\t~\t|
scale = 1
\t~\tDmnl [0,2]
\t~\t|
share = Stock / 10
\t~\tDmnl [0,1]
\t~\t|
INITIAL TIME = 0
\t~\tYear
\t~\t|
FINAL TIME = 4
\t~\tYear
\t~\t|
TIME STEP = 0.25
\t~\tYear
\t~\t|
SAVEPER = TIME STEP
\t~\tYear
\t~\t|
"""


def test_extremes_catch_negative_stocks_and_failed_runs(tmp_path):
    path = tmp_path / "small.mdl"
    path.write_text(SMALL)
    rows = {r.name: r for r in extremes(scenario_from_model(path), engine="pysd")}
    assert rows["rate=low"].passed and rows["scale=high"].passed
    assert not rows["rate=high"].passed and "Stock" in rows["rate=high"].detail  # rate 5 drains 10 a year from 10
    assert not rows["scale=low"].passed  # division by zero: a failed or non-finite run


# Exponential growth of an indicator the summary reports: Euler's value after n steps of dt is
# exactly x0 (1 + r dt)^n, so the change between runs at dt and dt/2 is known beforehand.
GROWTH = """{{UTF-8}}
Cooperation Depth = INTEG(growth, 1)
\t~\tDmnl [0,?]
\t~\t|
growth = growth rate * Cooperation Depth
\t~\t1/Year
\t~\t|
growth rate = 0.1
\t~\t1/Year [0,1]
\t~\t|
INITIAL TIME = 2010
\t~\tYear
\t~\t|
FINAL TIME = 2035
\t~\tYear
\t~\t|
TIME STEP = {dt}
\t~\tYear
\t~\t|
SAVEPER = 1
\t~\tYear
\t~\t|
"""


def euler_growth(year: float, dt: float, rate: float = 0.1) -> float:
    return (1 + rate * dt) ** round((year - 2010) / dt)


@pytest.mark.parametrize("dt, converges", [(1.0, False), (1 / 32, True)], ids=["dt=1", "dt=1/32"])
def test_convergence_compares_the_indicators_of_each_halving(tmp_path, dt, converges):
    from defdip.validation.validate import CONVERGENCE_FLOOR, CONVERGENCE_TOL

    path = tmp_path / "growth.mdl"
    path.write_text(GROWTH.format(dt=dt))
    rows = {r.name: r for r in convergence(scenario_from_model(path), engine="pysd", halvings=2)}
    years = (2022, 2025, 2030, 2035)
    assert {f"Cooperation Depth@{y}" for y in years} <= set(rows)
    for year in years:
        row = rows[f"Cooperation Depth@{year}"]
        expected = [euler_growth(year, dt / 2 ** k) for k in range(3)]
        assert row.numbers["values"] == pytest.approx(expected, rel=1e-9)
        by_hand = all(abs(a - b) <= max(CONVERGENCE_TOL * abs(b), CONVERGENCE_FLOOR)
                      for a, b in itertools.pairwise(expected))
        assert row.passed is by_hand
    # the 2035 value moves by 5.5% then 2.9% when dt = 1 is halved twice, by 0.19% then 0.10% from 1/32
    assert rows["Cooperation Depth@2035"].passed is converges
    # the rest are indicators this model does not have: nothing to compare, nothing may fail
    others = [r for name, r in rows.items() if not name.startswith("Cooperation Depth@")]
    assert all(r.numbers["values"] == [None, None, None] and r.passed for r in others)


def _broken(tmp_path, old, new):
    """A copy of the model with ``old`` replaced (spaces in ``old`` match any line wrapping)."""
    import re

    text = MODEL.read_text()
    pattern = r"\s+".join(re.escape(word) for word in old.split(" "))
    text, count = re.subn(pattern, lambda _: new, text)
    assert count == 1, old
    path = tmp_path / "broken.mdl"
    path.write_text(text)
    return path


@pytest.mark.parametrize("old, new, failing", [
    # loop R1's sign flipped: reliance on Iran now lowers Russia's willingness to supply
    ("(1 + reliance effect on willingness * Russian Reliance on Iran)",
     "(1 - reliance effect on willingness * Russian Reliance on Iran)", "reliance on Iran buys Russian arms for Iran"),
    # a missing bound: without ABS, Reciprocity leaves [0, 1]
    ("1 - XIDZ(ABS(Arms Transfers Russia to Iran - Arms Transfers Iran to Russia)",
     "1 - XIDZ((Arms Transfers Russia to Iran - Arms Transfers Iran to Russia)", "the indices stay on their 0-1 scales"),
], ids=["R1 sign flipped", "missing bound"])
def test_broken_model_fails_the_named_check(tmp_path, old, new, failing):
    path = _broken(tmp_path, old, new)
    checks = [c for c in load_checks(ROOT / "models" / "iran_russia.checks.yaml", path) if c.name == failing]
    (result,) = run_checks(checks, scenario_from_model(path), engine="pysd")
    assert not result.passed
    (good,) = run_checks(checks, scenario_from_model(MODEL), engine="pysd")
    assert good.passed


# --- the command line end to end ---------------------------------------------------------------

def test_validate_passes_on_the_shipped_model(tmp_path):
    from defdip.cli.main import main

    assert main(["validate", "-o", str(tmp_path / "v")]) == 0


def test_validate_cli_writes_json_and_figure(tmp_path, capsys):
    import json

    from defdip.cli.main import main

    assert main(["validate", "--skip", "extremes", "-o", str(tmp_path / "v")]) == 0
    out = capsys.readouterr().out
    assert "every loop and driver covered" in out and "ALL PASS" in out
    report = json.loads((tmp_path / "v" / "validation" / "validation.json").read_text())
    groups = {r["group"] for r in report["results"]}
    assert report["passed"] and {"checks", "convergence", "reproduction", "events", "units"} <= groups
    assert sum(r["group"] == "checks" for r in report["results"]) >= 16
    assert (tmp_path / "v" / "validation" / "model_vs_data.png").stat().st_size > 0


def test_validate_cli_exits_1_on_a_broken_model(tmp_path):
    from defdip.cli.main import main

    path = _broken(tmp_path, "(1 + reliance effect on willingness * Russian Reliance on Iran)",
                   "(1 - reliance effect on willingness * Russian Reliance on Iran)")
    assert main(["validate", "--model", str(path), "--skip", "extremes,convergence",
                 "-o", str(tmp_path / "v")]) == 1


@pytest.mark.parametrize("args", [["--skip", "extremez"], ["--checks", "nowhere.yaml"],
                                  ["--engine", "warp"], ["nowhere.yaml"]])
def test_validate_cli_bad_input_exits_2(tmp_path, args, capsys):
    from defdip.cli.main import main

    assert main(["validate", *args, "-o", str(tmp_path / "v")]) == 2
    assert "error" in capsys.readouterr().err
    assert not (tmp_path / "v").exists()


def test_calibrate_cli_bad_method_exits_2(tmp_path):
    from defdip.cli.main import main

    assert main(["calibrate", str(ROOT / "scenarios" / "baseline.yaml"), "--method", "magic",
                 "-o", str(tmp_path / "c")]) == 2


@pytest.mark.parametrize("values, ok, words", [
    ([1.0, 1.001, 1.0015], True, "at most 0.10% per halving, within 1%"),
    ([0.001, 0.0013, 0.0011], True, "within the absolute allowance 0.001 for values near zero (23.08%"),
    ([1.0, 1.1, 1.15], False, "a change of 9.09% (0.1), beyond 1% and 0.001"),
    ([None, None, None], True, "no value at any step"),
])
def test_a_convergence_verdict_names_the_allowance_it_rests_on(values, ok, words):
    """A PASS with a large relative change passed on the absolute floor: the detail says so."""
    from defdip.validation.validate import CONVERGENCE_FLOOR, CONVERGENCE_TOL, convergence_detail, converged

    assert ok is all(converged(a, b, CONVERGENCE_TOL, CONVERGENCE_FLOOR) for a, b in itertools.pairwise(values))
    detail = convergence_detail(values, ok, CONVERGENCE_TOL, CONVERGENCE_FLOOR, 2)
    assert detail.startswith("halving dt to dt/4: ") and words in detail
