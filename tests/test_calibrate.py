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


def test_bootstrap_refits_in_lock_step_take_the_steps_of_fits_run_alone(synthetic):
    """The refits' runs go to the engine together; each refit's result is the one it has alone."""
    from defdip.validation.calibrate import _bootstrap, _fit_local, _Objective, parameters

    scenario, observed, hold = synthetic
    names, x0, low, high = parameters(scenario, NAMES)
    obj = _Objective(scenario, names, observed, default_engine(), hold)
    calls, runs = [], obj.simulate
    obj.simulate = lambda X: calls.append(len(X)) or runs(X)
    together = _bootstrap(obj, x0, low, high, observed, 4, 7, 4)
    assert max(calls) > len(names) + 1  # more than one refit's Jacobian in a call
    # alone, one after another, on the same records (drawn as _bootstrap draws them)
    rng = np.random.default_rng(7)
    frame = simulate(scenario.with_overrides(dict(zip(names, x0)), where="t"), default_engine())
    years = [y for y in observed.index if 2010 <= y <= 2018]
    sim = annual_values(frame.trajectories.index, frame.trajectories["Cumulative Transfer Value Russia to Iran"],
                        years)
    errors = observed.loc[years].to_numpy(float) - sim
    records = [pd.Series(np.maximum(0.0, sim + rng.choice(errors, size=len(errors))), index=years) for _ in range(4)]
    alone = [_fit_local(obj.with_observed(r), x0, low, high, max_nfev=4) for r in records]
    np.testing.assert_array_equal(together, np.percentile(np.asarray(alone), [2.5, 97.5], axis=0).T)
