"""The verdict under its definitions: the model's new switches, the definitions compared, the command."""
import json

import numpy as np
import pandas as pd
import pytest
from conftest import SCENARIOS

from defdip.analysis.phases import transition_year
from defdip.analysis.robustness import definitions, evaluate_definitions, verdict
from defdip.cli.main import main
from defdip.core.case import (
    INDEX_AGGREGATION,
    PERSISTENCE,
    PHASE,
    RECIPROCITY_FLOOR,
    STRATEGIC_THRESHOLD,
)
from defdip.core.model import model_info
from defdip.core.scenario import load_scenario
from defdip.engines.simulate import simulate

COMPONENTS = ("Cooperation Depth", "Reciprocity", "Mutual Trust", "Institutionalisation")
WEIGHTS = ("spi weight depth", "spi weight reciprocity", "spi weight trust", "spi weight institutions")


def test_new_constants_default_to_the_model_spec_definition():
    info = model_info()
    assert info.variables[INDEX_AGGREGATION].value == 1 and info.variables[RECIPROCITY_FLOOR].value == 0
    for name in (INDEX_AGGREGATION, RECIPROCITY_FLOOR):
        var = info.variables[name]
        assert var.units == "Dmnl" and var.low is not None and var.high is not None and "Assumption" in var.comment


def test_default_index_is_the_weighted_mean_of_its_components(baseline):
    """Oracle: the model-spec formulas, in numpy, on the run's own component columns."""
    t = baseline.trajectories
    mean = t[list(COMPONENTS)].mean(axis=1)  # every weight is 1
    np.testing.assert_allclose(t["Strategic Partnership Index"], mean, rtol=0, atol=1e-12)
    ri, ir = t["Russia to Iran Transfer Index"], t["Iran to Russia Transfer Index"]
    total = (ri + ir).to_numpy()
    ratio = 1 - np.abs(ri - ir).to_numpy() / np.where(total < 1e-6, 1, total)
    np.testing.assert_allclose(t["Reciprocity"], np.where(total < 1e-6, 0, ratio), rtol=0, atol=1e-12)


@pytest.mark.parametrize("sets, formula", [
    ({INDEX_AGGREGATION: 2, "spi weight trust": 2}, "geometric"),
    ({INDEX_AGGREGATION: 3}, "minimum"),
    ({INDEX_AGGREGATION: 3, "spi weight depth": 0}, "minimum"),
])
def test_aggregation_switch_gives_the_named_mean(run_scenario, sets, formula):
    t = run_scenario("baseline", **sets).trajectories
    info = model_info()
    weights = np.array([sets.get(w, info.variables[w].value) for w in WEIGHTS], float)
    values = t[list(COMPONENTS)].to_numpy()
    if formula == "geometric":
        expected = np.prod(values ** (weights / weights.sum()), axis=1)
    else:
        expected = np.min(np.where(weights > 0, values, 1.0), axis=1)
    np.testing.assert_allclose(t["Strategic Partnership Index"], expected, rtol=1e-12, atol=1e-12)


def test_volume_floor_scales_reciprocity_by_the_smaller_flow(run_scenario, baseline):
    floor = 0.5
    with_floor = run_scenario("baseline", **{RECIPROCITY_FLOOR: floor}).trajectories
    ri, ir = with_floor["Russia to Iran Transfer Index"], with_floor["Iran to Russia Transfer Index"]
    total = (ri + ir).to_numpy()
    ratio = np.where(total < 1e-6, 0, 1 - np.abs(ri - ir).to_numpy() / np.where(total < 1e-6, 1, total))
    expected = ratio * np.minimum(1, np.minimum(ri, ir).to_numpy() / floor)
    np.testing.assert_allclose(with_floor["Reciprocity"], expected, rtol=0, atol=1e-12)
    assert not np.allclose(with_floor["Reciprocity"], baseline.trajectories["Reciprocity"])  # it bites


def test_definitions_cover_every_family_and_mark_the_scenarios_own():
    scenario = load_scenario(SCENARIOS / "baseline.yaml")
    compared = definitions(scenario, threshold_step=0.05)
    families = {d.family for d in compared}
    assert families == {STRATEGIC_THRESHOLD, INDEX_AGGREGATION, PERSISTENCE, RECIPROCITY_FLOOR}
    thresholds = [d.value for d in compared if d.family == STRATEGIC_THRESHOLD]
    assert thresholds[0] == 0 and thresholds[-1] == 1 and len(thresholds) == 21  # the declared range [0, 1]
    assert sorted(d.value for d in compared if d.family == PERSISTENCE) == [1, 2, 3, 4]
    own = {d.family: d.value for d in compared if d.reference}
    assert own == {STRATEGIC_THRESHOLD: 0.7, INDEX_AGGREGATION: 1, PERSISTENCE: 2, RECIPROCITY_FLOOR: 0}
    with pytest.raises(Exception, match="threshold-step"):
        definitions(scenario, threshold_step=0)


def test_verdict_counts_no_transition_as_later_than_any_year():
    out = verdict(np.array([2027.0, 2031.0, np.nan, np.nan]))
    assert out["share_without_transition"] == 0.5
    assert out["p_strategic_by_2030"] == 0.25 and out["p_strategic_by_2035"] == 0.5
    assert np.isnan(out["transition_year"])  # the median run has none
    assert verdict(np.array([2027.0, 2028.0, 2029.0]))["transition_year"] == 2028.0


@pytest.mark.slow
def test_scenario_verdicts_match_pysd_runs_of_the_same_settings():
    """Oracle: PySD run once per definition with --set, read by the phase analysis."""
    scenario = load_scenario(SCENARIOS / "baseline.yaml")
    picked = [d for d in definitions(scenario, 0.01)
              if (d.family == STRATEGIC_THRESHOLD and d.label in ("0.65", "0.70", "0.74", "0.75"))
              or d.family in (INDEX_AGGREGATION, PERSISTENCE, RECIPROCITY_FLOOR)]
    table = evaluate_definitions(scenario, picked, engine="ensemble")
    for definition, (_, row) in zip(picked, table.iterrows()):
        run = simulate(scenario.with_overrides({definition.constant: definition.value}), "pysd").trajectories
        persistence = definition.value if definition.family == PERSISTENCE else 2.0
        expected = transition_year(run.index.to_numpy(), run[PHASE].to_numpy(), persistence, 2035)
        got = None if np.isnan(row["transition_year"]) else row["transition_year"]
        assert got == expected, definition
        assert row["p_strategic_by_2030"] == float(expected is not None and expected <= 2030)
    years = table.set_index("definition")["transition_year"]
    # the measurements on the baseline run
    assert years["0.65"] == 2026.5 and years["0.74"] == 2029.25 and np.isnan(years["0.75"])
    assert np.isnan(years["minimum"])


@pytest.mark.slow
def test_sweep_reference_rows_reproduce_the_sweeps_own_outcomes(tmp_path):
    from defdip.io.sweep_folder import run_sweep
    from defdip.sweep.plan import plan_sweep

    scenario = load_scenario(SCENARIOS / "baseline.yaml")
    plan = plan_sweep(scenario, "lhs", 60, seed=3, engine="ensemble")
    folder = run_sweep(plan, tmp_path / "sweeps", progress=False, figures=False)
    assert main(["robustness", str(folder), "--threshold-step", "0.05", "-o", str(tmp_path / "out")]) == 0
    result = tmp_path / "out" / f"{folder.name}-robustness"
    table = pd.read_csv(result / "robustness.csv")
    own = verdict(pd.read_csv(folder / "outcomes.csv")["transition year"].to_numpy(float))
    reference = table[table["reference"] & (table["family"] != STRATEGIC_THRESHOLD)]
    assert len(reference) == 3  # aggregation, persistence and floor each hold the sweep's definition
    for _, row in reference.iterrows():
        assert row["runs"] == 60
        for key, value in own.items():
            assert row[key] == pytest.approx(value, nan_ok=True), key
    # the sweep samples the threshold, so no threshold row is its definition, and the note says so
    assert not table[table["family"] == STRATEGIC_THRESHOLD]["reference"].any()
    summary = json.loads((result / "summary.json").read_text())
    assert any("samples 'strategic threshold'" in n for n in summary["notes"])
    assert (result / "robustness.png").is_file()
    thresholds = table[table["family"] == STRATEGIC_THRESHOLD]
    assert thresholds["p_strategic_by_2035"].is_monotonic_decreasing  # a higher bar is never passed sooner


def test_cli_refuses_a_bad_target_with_exit_2(tmp_path, capsys):
    assert main(["robustness", str(tmp_path / "nothing.yaml")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    (tmp_path / "notes.txt").write_text("x")
    assert main(["robustness", str(tmp_path / "notes.txt")]) == 2
    assert "give a scenario file (.yaml)" in capsys.readouterr().err
    assert main(["robustness", str(tmp_path)]) == 2  # a folder that is not a sweep
    assert "no samples.csv" in capsys.readouterr().err
