"""Phase and transition logic on synthetic series with known answers."""
import numpy as np
import pandas as pd
import pytest

from defdip.analysis.phases import (
    phase_by_year,
    phase_changes,
    summarise,
    transition_year,
    value_at,
)

T = np.arange(2010, 2035.001, 0.25)


def phases(*spans):
    """Phase series from (start, end, phase) spans over T; default 1."""
    p = np.ones_like(T)
    for start, end, value in spans:
        p[(T >= start) & (T < end)] = value
    return p


@pytest.mark.parametrize("spans, persistence, expected", [
    pytest.param([], 2, None, id="never-strategic"),
    pytest.param([(2028, 2040, 3)], 2, 2028.0, id="holds-to-the-end"),
    pytest.param([(2026, 2027, 3), (2029, 2040, 3)], 2, 2029.0, id="short-spell-ignored"),
    pytest.param([(2026, 2027.5, 3)], 1, 2026.0, id="shorter-persistence-counts"),
    pytest.param([(2034, 2040, 3)], 2, None, id="too-late-to-hold"),
    pytest.param([(2033, 2040, 3)], 2, 2033.0, id="exactly-two-years-before-end"),
    pytest.param([(2027, 2040, 3), (2028, 2028.25, 2)], 2, 2028.25, id="one-step-break-restarts"),
])
def test_transition_year(spans, persistence, expected):
    assert transition_year(T, phases(*spans), persistence) == expected


def test_phase_by_year_is_the_mid_year_value():
    p = phases((2022.5, 2023.0, 2), (2023.0, 2040, 3))
    years = phase_by_year(T, p)
    assert years[2021] == 1 and years[2022] == 2 and years[2023] == 3
    assert min(years) == 2010 and max(years) == 2034


def test_phase_changes_record_each_switch():
    p = phases((2022.5, 2025, 2), (2025, 2040, 3))
    assert phase_changes(T, p) == [{"year": 2022.5, "from": 1, "to": 2}, {"year": 2025.0, "from": 2, "to": 3}]


def test_value_at_interpolates_and_refuses_outside():
    frame = pd.DataFrame({"x": T - 2010}, index=pd.Index(T, name="time"))
    assert value_at(frame, "x", 2012.1) == pytest.approx(2.1)
    assert value_at(frame, "x", 2040) is None


def test_summary_has_the_contract_keys():
    frame = pd.DataFrame({"Partnership Phase": phases((2028, 2040, 3)),
                          "Cumulative Transfer Value Russia to Iran": (T - 2010) * 10.0,
                          "Reciprocity": np.linspace(0, 1, len(T))}, index=pd.Index(T, name="time"))
    s = summarise(frame, "synthetic", indicators=("Reciprocity",))
    assert set(s) >= {"scenario", "phase_by_year", "phase_changes", "transition_year",
                      "cumulative_ri_value_2010_2024", "indicators"}
    assert s["transition_year"] == 2028.0
    assert s["cumulative_ri_value_2010_2024"] == pytest.approx(150.0)
    assert s["indicators"]["Reciprocity"]["2035"] == pytest.approx(1.0)
