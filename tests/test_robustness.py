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
    FLOORS,
    INDEX_AGGREGATION,
    PERSISTENCE,
    PHASE,
    RECIPROCITY_FLOOR,
    STRATEGIC_THRESHOLD,
)
from defdip.core.model import model_info
from defdip.core.scenario import load_scenario
from defdip.engines.simulate import simulate

SPI_COMPONENTS = ("Cooperation Depth", "Reciprocity", "Mutual Trust", "Institutionalisation")
GROUNDS = ("Institutionalisation", "Sustained Reciprocity", "Mutual Trust", "Shared Isolation")
GROUND_WEIGHTS = ("cw institutions", "cw reciprocity", "cw trust", "cw isolation")
RI, IR = "Arms Transfers Russia to Iran", "Arms Transfers Iran to Russia"
SMALL = 1e-6  # XIDZ's "denominator is zero" test in PySD (functions.xidz: abs(y) < 1e-6)
# Settings (within their declared ranges) under which commitment rises above the low end of
# the strategic threshold's range, so that transitions exist to compare: Russia's other
# interests hold nothing back (divergence effect 0) and shared isolation, the ground the war
# raises most, counts five times. The baseline itself never reaches phase 3.
COMMITTED = {"divergence effect": 0, "cw isolation": 5}


def reciprocity_oracle(t: pd.DataFrame, floor: float) -> np.ndarray:
    """The model file's Reciprocity, in numpy on the run's own two flows [Million/Year]:
    (1 - |RI - IR| / (RI + IR)) * MIN(1, MIN(RI, IR) / floor), XIDZ giving 1 for a zero divisor."""
    ri, ir = t[RI].to_numpy(), t[IR].to_numpy()
    total = ri + ir
    balance = 1 - np.where(np.abs(total) < SMALL, 1.0, np.abs(ri - ir) / np.where(total == 0, 1, total))
    volume = 1.0 if floor < SMALL else np.minimum(1, np.minimum(ri, ir) / floor)
    return balance * volume


def test_new_constants_default_to_the_model_spec_definition():
    """Oracle: the model file's declarations (index aggregation = 1, Dmnl [1,3];
    reciprocity volume floor = 15, Million/Year [0,100])."""
    info = model_info()
    aggregation, floor = info.variables[INDEX_AGGREGATION], info.variables[RECIPROCITY_FLOOR]
    assert aggregation.value == 1 and (aggregation.low, aggregation.high) == (1, 3)
    assert floor.value == 15 and (floor.low, floor.high) == (0, 100)
    assert aggregation.units == "Dmnl" and floor.units == "Million/Year"
    for var in (aggregation, floor):
        assert "Assumption" in var.comment


def test_default_index_is_the_weighted_mean_of_its_components(baseline):
    """Oracle: the model-file formulas, in numpy, on the run's own component columns."""
    t = baseline.trajectories
    mean = t[list(SPI_COMPONENTS)].mean(axis=1)  # every spi weight is 1
    np.testing.assert_allclose(t["Strategic Partnership Index"], mean, rtol=0, atol=1e-12)
    grounds = t[list(GROUNDS)].mean(axis=1)  # index aggregation 1 and every cw weight 1
    np.testing.assert_allclose(t["commitment grounds"], grounds, rtol=0, atol=1e-12)
    np.testing.assert_allclose(t["Reciprocity"], reciprocity_oracle(t, 15.0), rtol=0, atol=1e-12)


@pytest.mark.parametrize("sets, formula", [
    ({INDEX_AGGREGATION: 2, "cw trust": 2}, "geometric"),
    ({INDEX_AGGREGATION: 3}, "minimum"),
    ({INDEX_AGGREGATION: 3, "cw institutions": 3}, "minimum"),  # a positive weight does not move the minimum
    ({INDEX_AGGREGATION: 3, "cw institutions": 0}, "minimum"),  # a ground weighted 0 is left out
    ({INDEX_AGGREGATION: 2, "cw institutions": 0}, "geometric"),
])
def test_aggregation_switch_gives_the_named_mean(run_scenario, sets, formula):
    """Oracle: the named mean of the four grounds of commitment, in numpy, on the run's own columns."""
    t = run_scenario("baseline", **sets).trajectories
    info = model_info()
    weights = np.array([sets.get(w, info.variables[w].value) for w in GROUND_WEIGHTS], float)
    values = t[list(GROUNDS)].to_numpy()
    if formula == "geometric":
        expected = np.prod(values ** (weights / weights.sum()), axis=1)
    else:
        expected = np.min(np.where(weights > 0, values, 1.0), axis=1)
    np.testing.assert_allclose(t["commitment grounds"], expected, rtol=1e-12, atol=1e-12)
    arithmetic = values @ weights / weights.sum()
    assert not np.allclose(expected, arithmetic)  # the switch changes the definition on this run


def test_volume_floor_scales_reciprocity_by_the_smaller_flow(run_scenario):
    floors = {}
    for floor in FLOORS:  # 0 and 30 [Million/Year]
        t = run_scenario("baseline", **{RECIPROCITY_FLOOR: floor}).trajectories
        np.testing.assert_allclose(t["Reciprocity"], reciprocity_oracle(t, floor), rtol=0, atol=1e-12)
        floors[floor] = t
    ri, ir = floors[30.0][RI].to_numpy(), floors[30.0][IR].to_numpy()
    assert (np.minimum(ri, ir) > SMALL).any() and (np.minimum(ri, ir) < 30).any()  # the floor has flows to bite on
    assert not np.allclose(floors[30.0]["Reciprocity"], floors[0.0]["Reciprocity"])  # it bites


def test_definitions_cover_every_family_and_mark_the_scenarios_own():
    scenario = load_scenario(SCENARIOS / "baseline.yaml")
    compared = definitions(scenario, threshold_step=0.05)
    families = {d.family for d in compared}
    assert families == {STRATEGIC_THRESHOLD, INDEX_AGGREGATION, PERSISTENCE, RECIPROCITY_FLOOR}
    thresholds = [d.value for d in compared if d.family == STRATEGIC_THRESHOLD]
    # the declared range [0.5, 0.9] every 0.05
    assert thresholds[0] == 0.5 and thresholds[-1] == 0.9 and len(thresholds) == 9
    assert sorted(d.value for d in compared if d.family == PERSISTENCE) == [1, 2, 3, 4]
    # case.FLOORS (0 and 30) and the model's own 15
    assert sorted(d.value for d in compared if d.family == RECIPROCITY_FLOOR) == [0, 15, 30]
    own = {d.family: d.value for d in compared if d.reference}
    assert own == {STRATEGIC_THRESHOLD: 0.7, INDEX_AGGREGATION: 1, PERSISTENCE: 2, RECIPROCITY_FLOOR: 15}
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
    scenario = load_scenario(SCENARIOS / "baseline.yaml").with_overrides(COMMITTED)
    picked = [d for d in definitions(scenario, 0.01)
              if (d.family == STRATEGIC_THRESHOLD and d.label in ("0.50", "0.55", "0.60", "0.70"))
              or d.family in (INDEX_AGGREGATION, PERSISTENCE, RECIPROCITY_FLOOR)]
    table = evaluate_definitions(scenario, picked, engine="ensemble")
    for definition, (_, row) in zip(picked, table.iterrows()):
        run = simulate(scenario.with_overrides({definition.constant: definition.value}), "pysd").trajectories
        persistence = definition.value if definition.family == PERSISTENCE else 2.0
        expected = transition_year(run.index.to_numpy(), run[PHASE].to_numpy(), persistence, 2035)
        got = None if np.isnan(row["transition_year"]) else row["transition_year"]
        assert got == expected, definition
        assert row["p_strategic_by_2030"] == float(expected is not None and expected <= 2030)
    years = table[table["family"] == STRATEGIC_THRESHOLD].set_index("value")["transition_year"]
    # the comparison has both outcomes: the low bars are passed, the scenario's own 0.7 is not
    assert np.isfinite(years[0.5]) and np.isnan(years[0.7])
    # the threshold is read by the phase alone, so a higher bar is never passed sooner
    filled = years.sort_index().fillna(np.inf).to_numpy()
    assert (filled[1:] >= filled[:-1]).all()


@pytest.mark.slow
def test_sweep_reference_rows_reproduce_the_sweeps_own_outcomes(tmp_path):
    from defdip.io.sweep_folder import run_sweep
    from defdip.sweep.plan import plan_sweep

    # the baseline's uncertainties, with commitment raised (COMMITTED) and the threshold sampled too,
    # so that runs differ in their verdict and the threshold family has no reference row
    path = tmp_path / "committed.yaml"
    sets = "\n".join(f"  {k}: {v}" for k, v in COMMITTED.items())
    path.write_text(f"name: committed\ndescription: test\nextends: {SCENARIOS / 'baseline.yaml'}\n"
                    f"constants:\n{sets}\n"
                    f"uncertainties:\n  {STRATEGIC_THRESHOLD}: {{dist: uniform, low: 0.5, high: 0.6}}\n")
    scenario = load_scenario(path)
    assert STRATEGIC_THRESHOLD in scenario.uncertainties and len(scenario.uncertainties) > 1
    plan = plan_sweep(scenario, "lhs", 60, seed=3, engine="ensemble")
    folder = run_sweep(plan, tmp_path / "sweeps", progress=False, figures=False)
    assert main(["robustness", str(folder), "--threshold-step", "0.05", "-o", str(tmp_path / "out")]) == 0
    result = tmp_path / "out" / f"{folder.name}-robustness"
    table = pd.read_csv(result / "robustness.csv")
    own = verdict(pd.read_csv(folder / "outcomes.csv")["transition year"].to_numpy(float))
    assert 0 < own["share_without_transition"] < 1  # the runs disagree, so the comparison can tell rows apart
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
    assert thresholds["p_strategic_by_2035"].iloc[0] > thresholds["p_strategic_by_2035"].iloc[-1]


def test_cli_refuses_a_bad_target_with_exit_2(tmp_path, capsys):
    assert main(["robustness", str(tmp_path / "nothing.yaml")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    (tmp_path / "notes.txt").write_text("x")
    assert main(["robustness", str(tmp_path / "notes.txt")]) == 2
    assert "give a scenario file (.yaml)" in capsys.readouterr().err
    assert main(["robustness", str(tmp_path)]) == 2  # a folder that is not a sweep
    assert "no samples.csv" in capsys.readouterr().err


def test_a_subscripted_phase_gets_a_verdict_per_element_under_every_definition(tmp_path):
    """The two-partner model: one row per definition and partner; the families the model has
    (it has no index aggregation or reciprocity floor); easier definitions can only help."""
    from defdip.analysis.robustness import definitions, evaluate_definitions
    from defdip.core.resources import SCENARIO_DIR
    from defdip.core.scenario import load_scenario

    scenario = load_scenario(SCENARIO_DIR / "partners" / "partners_baseline.yaml")
    compared = definitions(scenario, 0.05)
    assert {d.family for d in compared} == {"strategic threshold", "transition persistence"}
    table = evaluate_definitions(scenario, compared)
    assert len(table) == 2 * len(compared) and set(table["element"]) == {"Iran", "DPRK"}
    own = table[table["reference"]].drop_duplicates("element").set_index("element")["transition_year"]
    assert own["DPRK"] == 2025.0 and np.isnan(own["Iran"])
    dprk = table[(table["element"] == "DPRK") & (table["family"] == "strategic threshold")]
    years = dprk.sort_values("value")["transition_year"].fillna(np.inf).to_numpy()
    assert (np.diff(years) >= 0).all()  # a higher threshold never brings the transition forward
