"""The two-partner model's shipped scenarios: when does the Iran element turn strategic?

Each scenario changes the future only (through mid-2026 every stock equals the baseline's); the
conditions under which Iran turns strategic are those docs/partners.md states, and each alone is
not enough.
"""
import numpy as np
import pytest

from defdip.analysis.phases import element_phases, transition_year
from defdip.core.model import model_info
from defdip.core.resources import SCENARIO_DIR
from defdip.core.scenario import load_scenario
from defdip.engines.simulate import simulate

STEMS = ("partners_baseline", "partners_iran_needed", "partners_need_only", "partners_third_iran_war",
         "partners_ceasefire_2027", "partners_futures")


@pytest.fixture(scope="module")
def runs():
    out = {}
    for stem in STEMS:
        scenario = load_scenario(SCENARIO_DIR / "partners" / f"{stem}.yaml")
        assert scenario.name == stem and len(scenario.description) > 80
        assert scenario.model.name == "russia_partners.mdl"
        out[stem] = simulate(scenario, "ensemble").trajectories
    return out


def verdicts(frame):
    return {p: transition_year(frame.index.to_numpy(float), phase, 2.0) for p, phase in element_phases(frame).items()}


@pytest.mark.parametrize("stem", STEMS[1:])
def test_partner_scenarios_change_only_the_future(stem, runs):
    info = model_info(load_scenario(SCENARIO_DIR / "partners" / f"{stem}.yaml").model)
    stocks = [c for v in info.variables.values() if v.kind == "stock" for c in v.columns]
    here, there = runs[stem].loc[:2026.5, stocks], runs["partners_baseline"].loc[:2026.5, stocks]
    assert np.abs(here.to_numpy() - there.to_numpy()).max() < 1e-9


def test_iran_turns_strategic_when_russia_needs_it_and_its_other_ties_stop_binding(runs):
    assert verdicts(runs["partners_baseline"]) == {"Iran": None, "DPRK": 2025.0}
    needed = verdicts(runs["partners_iran_needed"])["Iran"]
    assert needed is not None and 2028 <= needed <= 2033
    # need alone is not enough: Iran's supplies and Russia's reliance rise, commitment stays below
    need_only = runs["partners_need_only"]
    assert verdicts(need_only)["Iran"] is None
    base = runs["partners_baseline"]
    assert need_only.loc[2030.0, "Russian Reliance on Partner[Iran]"] > 1.5 * base.loc[2030.0, "Russian Reliance on Partner[Iran]"]
    assert need_only["Strategic Commitment[Iran]"].max() < 0.7


def test_a_third_war_on_iran_gets_no_materiel_help(runs):
    war = runs["partners_third_iran_war"]
    assert verdicts(war)["Iran"] is None
    assert war.loc[2028.0:2029.0, "Strategic Commitment[Iran]"].max() < 0.6  # below materiel help


def test_after_a_ceasefire_russias_need_and_its_alliance_fade(runs):
    cease, base = runs["partners_ceasefire_2027"], runs["partners_baseline"]
    assert cease.loc[2035.0, "Russian Reliance on Partner[DPRK]"] < 0.05
    assert cease.loc[2035.0, "Strategic Commitment[DPRK]"] < base.loc[2035.0, "Strategic Commitment[DPRK]"] - 0.2


def test_no_run_of_the_prior_delivers_more_than_105_a_year_to_iran_in_2010():
    """An equilibrium start under the stated prior: SIPRI's 2008-2009 deliveries were about 35 a
    year; no draw of the baseline's uncertainties delivers three times that in 2010."""
    from defdip.engines.simulate import simulate_batch
    from defdip.sweep.sampling import build_problem, sample

    scenario = load_scenario(SCENARIO_DIR / "partners" / "partners_baseline.yaml")
    draws = sample(build_problem(scenario), "mc", 1000, seed=5)
    name = "Cumulative Arms Russia to Partner[Iran]"
    ds = simulate_batch(scenario, draws, outputs=[name], engine="ensemble")
    time, total = np.asarray(ds["time"], float), np.asarray(ds[name].values, float)
    in_2010 = total[:, np.searchsorted(time, 2011.0)] - total[:, 0]
    assert in_2010.max() <= 105, in_2010.max()


def test_loop_dominance_runs_per_partner_and_every_named_loop_resolves(tmp_path):
    import json

    from defdip.cli.main import main

    assert main(["dominance", "partners_baseline", "-o", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "partners_baseline" / "summary.json").read_text(encoding="utf-8"))
    assert summary["named_loops_not_found"] == {}
    named = {label.split("[")[0] for label in summary["named_loops"]}
    header = {"R1 reciprocity", "R2 shared isolation", "R3 commitment", "R4 crisis solidarity",
              "R5 institutional deepening", "R6 need", "R7 alliance", "R8 need to commitment",
              "B1 sanctions gate", "B2 Russian balancing", "B3 localisation"}
    assert named == header  # loops through a second dimension (munition, channel) included
    # the two partners side by side in the two years before the first transition (DPRK's)
    contrast = summary["elements"]
    start, end = contrast["window"]
    assert 2024.0 <= end <= 2025.5 and end - start == 2.0
    loops = contrast["loops"]
    assert set(loops) == header and all(set(by) == {"Iran", "DPRK"} for by in loops.values())
    assert loops["R3 commitment"]["DPRK"]["mean_abs_relative"] > loops["R3 commitment"]["Iran"]["mean_abs_relative"]
    table = (tmp_path / "partners_baseline" / "elements.csv").read_text(encoding="utf-8").splitlines()
    assert table[0] == "loop,element,variant,start,end,mean_abs_relative,mean_loop_score,share_dominant"


def test_dt_convergence_of_the_partner_model_compares_each_partners_outcomes():
    """`defdip validate partners_baseline`'s convergence part judges each element's verdict
    outcomes (not the single-partner model's indicators, which this model does not have)."""
    from defdip.validation.validate import convergence

    scenario = load_scenario(SCENARIO_DIR / "partners" / "partners_baseline.yaml")
    rows = {r.name: r for r in convergence(scenario, engine="ensemble", halvings=1)}
    assert {"transition year[Iran]", "transition year[DPRK]", "Strategic Commitment[Iran]@2030",
            "Strategic Commitment[DPRK]@2030", "strategic by 2030[DPRK]"} <= set(rows)
    dprk = rows["transition year[DPRK]"].numbers["values"]
    assert all(v is not None for v in dprk)  # the DPRK element turns strategic at dt and at dt/2
    assert rows["transition year[Iran]"].numbers["values"] == [None, None]
    assert all(r.passed for r in rows.values()), [r.name for r in rows.values() if not r.passed]
