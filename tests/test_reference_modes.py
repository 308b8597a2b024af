"""The baseline reproduces the reference modes RM1-RM6 of the model spec, from mechanisms.

Years are calendar years: an annual Russia->Iran value is the change of the cumulative
stock over the year, comparable with SIPRI's yearly TIV (series.csv).
"""
import dataclasses

import numpy as np
import pytest

from defdip.analysis.phases import summarise, transition_year
from defdip.engines.simulate import simulate

RI, IR = "Arms Transfers Russia to Iran", "Arms Transfers Iran to Russia"
CUM = "Cumulative Transfer Value Russia to Iran"


def annual(frame, year):
    t = frame.index.to_numpy(float)
    c = frame[CUM].to_numpy(float)
    return float(np.interp(year + 1, t, c) - np.interp(year, t, c))


def mean_over(frame, column, start, end):
    window = frame[(frame.index >= start) & (frame.index < end)]
    return float(window[column].mean())


def phases(frame, start, end):
    window = frame[(frame.index >= start) & (frame.index < end)]
    return set(window["Partnership Phase"].round().astype(int))


def test_rm1_low_and_falling_transfers_no_iranian_supply_phase_1(baseline):
    f = baseline.trajectories
    ri = [annual(f, y) for y in range(2010, 2016)]
    assert ri[0] == pytest.approx(35, abs=10)          # SIPRI 2010: 35
    assert all(v < 40 for v in ri)                     # SIPRI 35, 29, 11, 4, 4, 4
    assert ri[0] > ri[1] and ri[0] > ri[3]             # falling after the cancellation
    assert f.loc[:2021.99, IR].abs().max() == 0.0      # Iran->Russia zero until the war
    assert phases(f, 2010, 2016) == {1}


def test_rm2_s300_spike_in_2016_then_near_zero(baseline):
    f = baseline.trajectories
    ri = {y: annual(f, y) for y in range(2010, 2022)}
    assert max(ri, key=ri.get) == 2016
    assert ri[2016] > 250                              # SIPRI 2016: 413
    assert all(ri[y] < ri[2016] / 4 for y in ri if y != 2016)
    assert all(ri[y] < 10 for y in range(2018, 2022))  # SIPRI 3, 3, 2, 0
    assert phases(f, 2016, 2022) == {1}


def test_rm3_depth_after_us_exit_below_2016_2017(baseline):
    f = baseline.trajectories
    assert mean_over(f, "Cooperation Depth", 2018.5, 2022) < mean_over(f, "Cooperation Depth", 2016, 2018)
    assert phases(f, 2018, 2022) == {1}


def test_rm4_war_turns_the_flows_two_sided(baseline):
    f = baseline.trajectories
    assert mean_over(f, IR, 2023, 2025) > mean_over(f, RI, 2023, 2025) > 0
    assert f.loc[2024.0, IR] > 50 * max(f.loc[2021.0, IR], 1e-3)
    for channel in ("Training and Exercises", "Technical and Industrial Exchange"):
        assert f.loc[2024.0, channel] > 1.5 * f.loc[2021.0, channel]
    changes = summarise(f, "baseline")["phase_changes"]
    first_two_sided = min(c["year"] for c in changes if c["to"] == 2)
    assert 2022 <= first_two_sided < 2024


def test_rm5_cumulative_value_within_15_percent_of_481(baseline):
    value = summarise(baseline.trajectories, "baseline")["cumulative_ri_value_2010_2024"]
    assert abs(value - 481) <= 0.15 * 481


def test_rm6_strategic_phase_in_the_medium_term(baseline):
    f = baseline.trajectories
    year = transition_year(f.index.to_numpy(), f["Partnership Phase"].to_numpy(),
                           float(f["transition persistence"].iloc[0]))
    assert year is not None and 2027 <= year <= 2032


def test_no_war_means_no_two_sided_phase_before_2030_and_no_strategic_phase(run_scenario):
    f = run_scenario("baseline", **{"war start year": 2100}).trajectories
    assert 2 not in phases(f, 2010, 2030)
    assert 3 not in phases(f, 2010, 2035.01)


def test_no_war_scenario_file_agrees(run_scenario):
    assert summarise(run_scenario("no_war").trajectories, "no_war")["transition_year"] is None


def test_ceasefire_in_2025_delays_or_prevents_the_transition(run_scenario, baseline):
    base = summarise(baseline.trajectories, "baseline")["transition_year"]
    cease = summarise(run_scenario("ceasefire_2025").trajectories, "c")["transition_year"]
    assert cease is None or cease > base


def _indicators(result):
    return summarise(result.trajectories, result.scenario.name,
                     indicators=result.scenario.outputs)["indicators"]


def test_halving_the_time_step_moves_no_baseline_indicator_by_1_percent(baseline):
    s = baseline.scenario
    half = simulate(dataclasses.replace(s, time=dataclasses.replace(s.time, dt=s.time.dt / 2)))
    coarse, fine = _indicators(baseline), _indicators(half)
    for name, by_year in coarse.items():
        for year, value in by_year.items():
            assert fine[name][year] == pytest.approx(value, rel=0.01), (name, year)
    a = summarise(baseline.trajectories, "b")
    b = summarise(half.trajectories, "b")
    assert b["cumulative_ri_value_2010_2024"] == pytest.approx(a["cumulative_ri_value_2010_2024"], rel=0.01)
    assert b["transition_year"] == a["transition_year"]
