"""The ensemble engine gives PySD's numbers: single runs, every shipped scenario, random ensembles.

Agreement is held to 1e-9 relative (with an absolute floor of 1e-12 for values at zero);
in practice the two engines agree bit for bit, because the compiled expressions keep
PySD's operations in PySD's order.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, SCENARIOS

from defdip.cli.main import main
from defdip.core.errors import InputError
from defdip.core.scenario import load_scenario, scenario_from_model
from defdip.engines.ensemble import EnsembleModel, Timing
from defdip.engines.ensemble_build import Unsupported
from defdip.engines.simulate import simulate, simulate_batch

RTOL, ATOL = 1e-9, 1e-12
FEATURES = ROOT / "tests" / "models" / "ensemble_features.mdl"
SHIPPED = sorted(p.stem for p in SCENARIOS.glob("*.yaml"))


def assert_same(pysd_frame: pd.DataFrame, ensemble_frame: pd.DataFrame) -> None:
    assert list(pysd_frame.columns) == list(ensemble_frame.columns)
    np.testing.assert_array_equal(pysd_frame.index.to_numpy(), ensemble_frame.index.to_numpy())
    np.testing.assert_allclose(ensemble_frame.to_numpy(float), pysd_frame.to_numpy(float), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("stem", SHIPPED)
def test_every_shipped_scenario_matches_pysd(stem, run_scenario):
    reference = run_scenario(stem)
    ours = simulate(reference.scenario, engine="ensemble")
    assert ours.engine == "ensemble"
    assert_same(reference.trajectories, ours.trajectories)


def test_thousand_random_parameter_sets_match_pysd():
    scenario = load_scenario(SCENARIOS / "baseline.yaml")
    rng = np.random.default_rng(20261125)
    samples = pd.DataFrame({name: u.ppf(rng.random(1000)) for name, u in scenario.uncertainties.items()})
    ours = simulate_batch(scenario, samples, engine="ensemble")
    theirs = simulate_batch(scenario, samples, engine="pysd")
    assert ours.sizes == theirs.sizes == {"run": 1000, "time": 101}
    for name in theirs.data_vars:
        np.testing.assert_allclose(ours[name].values, theirs[name].values, rtol=RTOL, atol=ATOL, err_msg=name)
    # the ensemble really varies: not every member takes the baseline's path
    assert np.ptp(ours["Strategic Partnership Index"].values[:, -1]) > 0.1


def test_language_features_match_pysd():
    """SMOOTH/DELAY families, INITIAL, lookups, PULSE TRAIN, RAMP, XIDZ/ZIDZ, logic."""
    scenario = scenario_from_model(FEATURES)
    assert_same(simulate(scenario).trajectories, simulate(scenario, engine="ensemble").trajectories)


def test_language_features_ensemble_matches_each_pysd_run():
    scenario = scenario_from_model(FEATURES)
    samples = pd.DataFrame({"Delay Time": [0.5, 2.0, 7.5], "Drain Time": [1.0, 4.0, 9.0]})
    ours = simulate_batch(scenario, samples, outputs=["Stock", "Delay N Out", "Smooth3", "Gate"],
                          engine="ensemble")
    theirs = simulate_batch(scenario, samples, outputs=["Stock", "Delay N Out", "Smooth3", "Gate"])
    for name in theirs.data_vars:
        np.testing.assert_allclose(ours[name].values, theirs[name].values, rtol=RTOL, atol=ATOL, err_msg=name)


def test_start_time_and_step_from_the_scenario(tmp_path):
    scenario = load_scenario(SCENARIOS / "baseline.yaml")
    shifted = scenario.time.__class__(start=2012, end=2020, dt=0.0625, saveper=0.5)
    from dataclasses import replace
    scenario = replace(scenario, time=shifted)
    assert_same(simulate(scenario).trajectories, simulate(scenario, engine="ensemble").trajectories)


def test_time_series_input_matches_pysd(run_scenario):
    reference = run_scenario("maximum_pressure")
    assert reference.scenario.series, "maximum_pressure is the shipped scenario with a time series"
    assert_same(reference.trajectories, simulate(reference.scenario, engine="ensemble").trajectories)


def write_model(tmp_path: Path, equation: str, name: str = "m.mdl") -> Path:
    path = tmp_path / name
    path.write_text("{UTF-8}\nX=\n\t" + equation + "\n\t~\tDmnl\n\t~\t\t|\n\n"
                    "S= INTEG (X, 0)\n\t~\tDmnl\n\t~\t\t|\n\n"
                    "FINAL TIME = 10\n\t~\tMonth\n\t~\t\t|\n\nINITIAL TIME = 0\n\t~\tMonth\n\t~\t\t|\n\n"
                    "SAVEPER = 1\n\t~\tMonth\n\t~\t\t|\n\nTIME STEP = 0.5\n\t~\tMonth\n\t~\t\t|\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("equation, named", [
    ("RANDOM UNIFORM(0, 1, 3)", "RANDOM_UNIFORM"),
    ("DELAY FIXED(Time, 2, 0)", "DelayFixed"),
    ("TREND(Time, 2, 0)", "Trend"),
])
def test_unsupported_construct_is_refused_by_name(tmp_path, equation, named):
    with pytest.raises(Unsupported) as caught:
        EnsembleModel.load(write_model(tmp_path, equation))
    message = str(caught.value)
    assert named in message and "--engine pysd" in message and "m.mdl" in message


def test_cli_refusal_exits_2_and_writes_nothing(tmp_path, capsys):
    model = write_model(tmp_path, "RANDOM UNIFORM(0, 1, 3)")
    code = main(["run", "--model", str(model), "--engine", "ensemble", "-o", str(tmp_path / "out")])
    assert code == 2
    assert "RANDOM_UNIFORM" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    assert main(["run", "--model", str(model), "-o", str(tmp_path / "out2")]) == 0  # PySD runs it


def test_cli_run_with_ensemble_engine(tmp_path):
    assert main(["run", "--engine", "ensemble", "-o", str(tmp_path)]) == 0
    frame = pd.read_csv(tmp_path / "baseline" / "trajectories.csv", index_col="time")
    manifest = (tmp_path / "baseline" / "manifest.json").read_text()
    assert '"engine": "ensemble"' in manifest
    assert frame["Partnership Phase"].max() == 3
    assert '"transition_year": 2027.75' in (tmp_path / "baseline" / "summary.json").read_text()


def test_sample_outside_declared_range_is_refused():
    scenario = load_scenario(SCENARIOS / "baseline.yaml")
    with pytest.raises(InputError, match="war start year.*outside its declared range"):
        simulate_batch(scenario, pd.DataFrame({"war start year": [2022.0, 1990.0]}), engine="ensemble")


def test_structural_constant_cannot_vary():
    model = EnsembleModel.load(FEATURES)
    with pytest.raises(Unsupported, match="Fixed Order"):
        model.run(Timing(0, 20, 0.125, 0.5), {"Fixed Order": np.array([2.0, 3.0])})


def test_members_are_independent():
    """Member k of an ensemble equals a run of that parameter set alone."""
    model = EnsembleModel.load(FEATURES)
    timing = Timing(0, 20, 0.125, 0.5)
    _, together = model.run(timing, {"Drain Time": np.array([1.5, 6.0])}, outputs=["Stock"])
    _, alone = model.run(timing, {"Drain Time": 6.0}, outputs=["Stock"])
    np.testing.assert_array_equal(together["Stock"][1], alone["Stock"][0])
