"""Every shipped scenario loads, says what it assumes, runs, and stays in bounds."""
import pytest
from conftest import SCENARIOS

from defdip.core.scenario import load_scenario

STEMS = sorted(p.stem for p in SCENARIOS.glob("*.yaml"))
INDICES = ("Cooperation Depth", "Reciprocity", "Strategic Partnership Index", "Mutual Trust",
           "Institutionalisation", "Sanctions Pressure", "JCPOA Status", "Ukraine War Intensity",
           "Strategic Commitment", "Russian Crisis Support", "Iran Defence Industrial Capacity")
# The model spec's list: history through 2026 in the baseline, then the futures analysts argue about.
REQUIRED = {"baseline", "no_war", "ceasefire_2027", "protracted_war", "russia_west_settlement",
            "nuclear_deal_restored", "third_iran_war", "tehran_transition", "north_korea_displaces_iran",
            "advanced_arms"}
HISTORY = {"ceasefire_2025", "ceasefire_2026", "renewed_israel_iran_war"}  # now history, not scenarios


def test_the_spec_scenarios_are_shipped():
    assert REQUIRED <= set(STEMS)
    assert not HISTORY & set(STEMS)


# Two scenarios change the past by design: no_war is the counterfactual of 2022, and advanced_arms
# treats the leaked contract of Oct 2025 (an unverified claim) as a firm order from then.
PAST_COUNTERFACTUALS = {"no_war", "advanced_arms"}


def test_past_counterfactuals_do_change_the_past(run_scenario, baseline):
    for stem in PAST_COUNTERFACTUALS:
        here = run_scenario(stem).trajectories.loc[:2026.0, "Arms Transfers Russia to Iran"]
        there = baseline.trajectories.loc[:2026.0, "Arms Transfers Russia to Iran"]
        assert (here - there).abs().max() > 1e-6, stem


@pytest.mark.parametrize("stem", sorted(set(STEMS) - {"baseline"} - PAST_COUNTERFACTUALS))
def test_every_scenario_starts_from_the_record(stem, run_scenario, baseline):
    """Scenarios change the future only: through 2026.0 every stock and flow equals the baseline's."""
    from defdip.core.model import model_info
    dynamic = [v.name for v in model_info().variables.values() if v.kind in ("stock", "auxiliary")]
    here = run_scenario(stem).trajectories.loc[:2026.0, dynamic]
    there = baseline.trajectories.loc[:2026.0, dynamic]
    assert (here - there).abs().max().max() < 1e-9, stem


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
    pytest.param("nuclear_deal_restored", "Sanctions Pressure", 2030, -1, id="deal-relieves-sanctions"),
    pytest.param("maximum_pressure", "Sanctions Pressure", 2029, +1, id="pressure-raises-sanctions"),
    pytest.param("protracted_war", "Ukraine War Intensity", 2029, +1, id="no-fatigue-before-2030"),
    pytest.param("third_iran_war", "Iran Threat Perception", 2029, +1, id="third-war-raises-threat"),
    pytest.param("russia_west_settlement", "Russia West Relations", 2030, +1, id="settlement-restores-relations"),
    pytest.param("ceasefire_2027", "Ukraine War Intensity", 2029, -1, id="ceasefire-ends-the-war"),
    pytest.param("tehran_transition", "Iran Need for Russia", 2030, -1, id="transition-lowers-need"),
    pytest.param("north_korea_displaces_iran", "North Korean Supply to Russia", 2028.5, +1, id="north-korea-supplies-more"),
])
def test_scenario_moves_its_lever(stem, column, year, direction, run_scenario, baseline):
    here = run_scenario(stem).trajectories.loc[year, column]
    there = baseline.trajectories.loc[year, column]
    assert (here - there) * direction > 1e-6
