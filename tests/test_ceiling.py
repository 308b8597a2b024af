"""The ceiling check (defdip.validation.ceiling): can the model say "strategic" at all?"""
import numpy as np
import pytest

from defdip.core.resources import SCENARIO_DIR
from defdip.core.scenario import load_scenario
from defdip.validation.ceiling import ceilings, lever_ranges, sustained_maximum

TIME = np.arange(2010, 2035.001, 0.25)


def test_sustained_maximum_is_the_highest_level_held_for_the_whole_window():
    """By hand: a one-quarter spike to 0.9 does not count; a plateau of 0.75 held 2 years does."""
    values = np.full((1, len(TIME)), 0.2)
    values[0, TIME == 2020.0] = 0.9
    values[0, (TIME >= 2026) & (TIME <= 2028)] = 0.75
    assert sustained_maximum(TIME, values, 2.0)[0] == 0.75
    assert sustained_maximum(TIME, values, 2.25)[0] == 0.2  # held 2 years, not 2.25
    assert sustained_maximum(TIME, values, 0.0)[0] == 0.9


@pytest.fixture(scope="module")
def partners():
    scenario = load_scenario(SCENARIO_DIR / "partners" / "partners_baseline.yaml")
    return scenario, {(c.element, c.settings): c for c in ceilings(scenario)}


def test_levers_are_the_models_scenario_inputs(partners):
    from defdip.core.model import model_info

    scenario, _ = partners
    levers = lever_ranges(model_info(scenario.model), scenario)
    assert {"war end year", "supply stop year[DPRK]", "ties loss[Iran]", "localisation loss"} <= set(levers)
    assert not any(name.startswith(("deal ", "attack year", "strategic threshold")) for name in levers)


def test_each_partner_can_reach_the_threshold_and_the_check_says_how(partners):
    """The verdict is not a restatement of the defaults: Iran reaches the threshold with future
    levers alone once Russia's ties with its neighbours stop binding and Russia needs Iran's
    supplies again; the DPRK is above it already."""
    _, found = partners
    iran, dprk = found["Iran", "levers"], found["DPRK", "levers"]
    assert iran.reaches and iran.maximum < 0.95
    assert {"ties loss[Iran]", "ties loss year[Iran]"} <= set(iran.conditions)
    assert dprk.reaches
    for partner in ("Iran", "DPRK"):
        assert found[partner, "levers and uncertainties"].maximum >= found[partner, "levers"].maximum - 1e-9
