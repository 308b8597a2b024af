"""Calibration recovers constants from data the model itself generated; the scenario it writes runs."""
import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import ROOT

from defdip.core.scenario import load_scenario
from defdip.engines.simulate import simulate
from defdip.validation.calibrate import calibrate, calibrated_scenario, residuals
from defdip.validation.validate import annual_values, default_engine

NAMES = ["ri preparation time", "initial ri backlog"]
TRUTH = {"ri preparation time": 0.7, "initial ri backlog": 550.0}
HOLD_END = 2010.44  # unscr 1929 year in the model file


@pytest.fixture(scope="module")
def synthetic():
    scenario = load_scenario(ROOT / "scenarios" / "baseline.yaml")
    frame = simulate(scenario.with_overrides(TRUTH), default_engine()).trajectories
    cum = frame["Cumulative Transfer Value Russia to Iran"]
    years = list(range(2010, 2022))
    noise = np.random.default_rng(3).normal(0, 2.0, len(years))
    observed = pd.Series(annual_values(cum.index, cum, years) + noise, index=years)
    flow = frame["Arms Transfers Russia to Iran"]
    hold = float(flow[flow.index < HOLD_END].mean())  # the truth's own rate before the resolution
    return scenario, observed, hold


@pytest.fixture(scope="module")
def fit(synthetic):
    scenario, observed, hold = synthetic
    return calibrate(scenario, NAMES, seed=1, bootstrap=6, max_nfev=15, observed=observed, hold=hold)


def test_recovers_known_constants_inside_the_intervals(fit):
    for name, value, (low, high) in zip(fit.names, fit.fitted, fit.interval):
        assert value == pytest.approx(TRUTH[name], rel=0.05), name
        assert low <= TRUTH[name] <= high, (name, low, high)
    assert fit.after["cost"] < fit.before["cost"]


def test_calibrated_scenario_extends_the_input_and_runs(fit, synthetic, tmp_path):
    scenario = synthetic[0]
    content = calibrated_scenario(fit, scenario, tmp_path)
    (tmp_path / "calibrated.yaml").write_text(yaml.safe_dump(content))
    loaded = load_scenario(tmp_path / "calibrated.yaml")
    assert loaded.constants["initial ri backlog"] == pytest.approx(fit.fitted[1], rel=1e-5)
    assert "fitted" in loaded.description
    assert np.isfinite(simulate(loaded).trajectories.to_numpy()).all()


def test_residuals_are_zero_for_the_generating_run(synthetic):
    scenario, observed, hold = synthetic
    frame = simulate(scenario.with_overrides(TRUTH), default_engine()).trajectories
    r = residuals(frame, observed, HOLD_END, hold)
    assert len(r) == 9 + 1  # the year-end totals 2010-2018 and the hold
    assert np.abs(r[:9]).max() < 0.5 and abs(r[9]) < 1e-9
