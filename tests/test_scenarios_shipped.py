"""Every shipped scenario loads, says what it assumes, runs, and stays in bounds."""
import pytest
from conftest import SCENARIOS

from defdip.core.scenario import load_scenario

STEMS = sorted(p.stem for p in SCENARIOS.glob("*.yaml"))
INDICES = ("Cooperation Depth", "Reciprocity", "Strategic Partnership Index", "Mutual Trust",
           "Institutionalisation", "Sanctions Pressure", "JCPOA Status", "Ukraine War Intensity")
REQUIRED = {"baseline", "no_war", "ceasefire_2025", "protracted_war", "nuclear_deal_restored",
            "maximum_pressure", "russia_west_detente", "advanced_arms", "renewed_israel_iran_war"}


def test_the_spec_scenarios_are_shipped():
    assert REQUIRED <= set(STEMS)


@pytest.mark.parametrize("stem", STEMS)
def test_scenario_runs_within_bounds(stem, run_scenario):
    scenario = load_scenario(SCENARIOS / f"{stem}.yaml")
    assert scenario.name == stem and len(scenario.description) > 80
    f = run_scenario(stem).trajectories
    assert f.notna().all().all()
    for name in INDICES:
        assert f[name].between(-1e-9, 1 + 1e-9).all(), name
    assert set(f["Partnership Phase"].round().astype(int)) <= {1, 2, 3}


@pytest.mark.parametrize("stem, column, year, direction", [
    pytest.param("advanced_arms", "Cumulative Transfer Value Russia to Iran", 2035, +1, id="su35-adds-deliveries"),
    pytest.param("nuclear_deal_restored", "Sanctions Pressure", 2028, -1, id="deal-relieves-sanctions"),
    pytest.param("maximum_pressure", "Sanctions Pressure", 2027, +1, id="pressure-raises-sanctions"),
    pytest.param("protracted_war", "Ukraine War Intensity", 2029, +1, id="no-fatigue-before-2030"),
    pytest.param("renewed_israel_iran_war", "Iran Threat Perception", 2027, +1, id="second-war-raises-threat"),
    pytest.param("russia_west_detente", "Russia West Relations", 2030, +1, id="detente-restores-relations"),
])
def test_scenario_moves_its_lever(stem, column, year, direction, run_scenario, baseline):
    here = run_scenario(stem).trajectories.loc[year, column]
    there = baseline.trajectories.loc[year, column]
    assert (here - there) * direction > 1e-6
