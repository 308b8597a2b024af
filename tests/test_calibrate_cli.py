"""`defdip calibrate` end to end, local and global, on a small budget (seconds, so not marked slow).

The oracle is the record itself: the written ``calibrated.yaml`` is run again with PySD and its
fit to SIPRI (``data/series.csv``, read here with the csv module) is computed by hand, so the
statistics in ``calibration.json`` must be those of the scenario the command wrote.
"""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import yaml
from conftest import ROOT, SCENARIOS

from defdip.cli.main import main
from defdip.core.case import CUMULATIVE_RI, SIPRI_SERIES, SIPRI_YEARS
from defdip.core.scenario import load_scenario
from defdip.engines.simulate import simulate

BASELINE = SCENARIOS / "baseline.yaml"
PARAMS = ["ri preparation time", "initial ri backlog"]
BUDGET = ["--bootstrap", "2", "--max-iterations", "3"]  # a few model runs per fit: the wiring, not the optimum


def sipri_record() -> dict[int, float]:
    with (ROOT / "data" / "series.csv").open(newline="") as handle:
        return {int(r["year"]): float(r["value"]) for r in csv.DictReader(handle)
                if r["series"] == SIPRI_SERIES and int(r["year"]) in SIPRI_YEARS}


def mape_by_hand(scenario_file) -> float:
    """MAPE [%] of the annual Russia->Iran deliveries of a PySD run against SIPRI, zero years skipped."""
    frame = simulate(load_scenario(scenario_file), "pysd").trajectories
    time, cumulative = frame.index.to_numpy(float), frame[CUMULATIVE_RI].to_numpy(float)
    errors = []
    for year, observed in sipri_record().items():
        delivered = np.interp(year + 1, time, cumulative) - np.interp(year, time, cumulative)
        if observed != 0:
            errors.append(abs(delivered - observed) / observed)
    return 100 * float(np.mean(errors))


def check_folder(out, method: str) -> dict:
    """What every calibration folder holds; returns calibration.json."""
    report = json.loads((out / "calibration.json").read_text())
    assert report["method"] == method and report["bootstrap"] == 2 and report["evaluations"] > 0
    assert list(report["parameters"]) == PARAMS
    for name, p in report["parameters"].items():
        assert p["low"] <= p["fitted"] <= p["high"], name
        low, high = p["interval_95"]
        assert p["low"] <= low <= high <= p["high"], name
    assert report["after"]["cost"] <= report["before"]["cost"] + 1e-12  # the fit starts from or beats the start
    content = yaml.safe_load((out / "calibrated.yaml").read_text())
    assert content["name"] == "baseline_calibrated" and "extends" in content
    scenario = load_scenario(out / "calibrated.yaml")
    for name, p in report["parameters"].items():
        assert scenario.constants[name] == pytest.approx(p["fitted"], rel=1e-5), name  # written to 6 digits
    assert mape_by_hand(out / "calibrated.yaml") == pytest.approx(report["after"]["mape"], rel=1e-3)
    assert (out / "calibration.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return report


def test_calibrate_local_writes_the_fit_it_reports(tmp_path, capsys):
    out = tmp_path / "calibration"  # -o is the parent folder; calibrate names its own
    assert main(["calibrate", str(BASELINE), "--params", *PARAMS, *BUDGET, "--seed", "1", "-o", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert all(name in printed for name in PARAMS) and "model runs" in printed
    report = check_folder(out, "local")
    # said before it starts: the most runs it may do, which it keeps to
    from defdip.validation.calibrate import run_budget

    budget = run_budget(len(PARAMS), "local", 2, 3, 30)
    assert printed.splitlines()[0].endswith(f"at most {budget:,} model runs on the ensemble engine")
    assert 0 < report["evaluations"] <= budget
    assert "differential evolution" not in load_scenario(out / "calibrated.yaml").description
    # the start is the baseline's own values, whose fit is the baseline's
    assert mape_by_hand(BASELINE) == pytest.approx(report["before"]["mape"], rel=1e-9)


def test_calibrate_global_is_seeded_and_searches_a_population(tmp_path):
    args = ["calibrate", str(BASELINE), "--method", "global", "--generations", "1", "--params", *PARAMS,
            *BUDGET, "--seed", "4"]
    assert main([*args, "-o", str(tmp_path / "a")]) == 0
    report = check_folder(tmp_path / "a" / "calibration", "global")
    assert "differential evolution" in load_scenario(tmp_path / "a" / "calibration" / "calibrated.yaml").description
    # differential evolution evaluates its population (8 x 2 constants) twice before the local fit
    assert report["evaluations"] >= 2 * 8 * len(PARAMS)
    assert main([*args, "-o", str(tmp_path / "b")]) == 0  # same seed: the same search, the same numbers
    again = json.loads((tmp_path / "b" / "calibration" / "calibration.json").read_text())
    assert again["parameters"] == report["parameters"] and again["evaluations"] == report["evaluations"]


@pytest.mark.parametrize("option, value", [("--max-iterations", "0"), ("--generations", "-1")])
def test_calibrate_budget_options_are_checked(tmp_path, capsys, option, value):
    assert main(["calibrate", str(BASELINE), option, value, "-o", str(tmp_path / "c")]) == 2
    assert f"{option}: must be at least 1, got {value}" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()
